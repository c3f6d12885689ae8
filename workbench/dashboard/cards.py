"""KPI cards: value, target, gap, traffic light and year-on-year, as `presentation.kpis` decides."""

from __future__ import annotations

from workbench import fmt
from workbench.dashboard.data import DashboardData, _float, _missing
from workbench.dashboard.markup import STATUS_LIGHTS, _esc, _part, display
from workbench.dashboard.style import STATUS_ICONS
from workbench.dashboard.view import CITY, View
from workbench.messages import t
from workbench.presentation import kpis as pk


def kpi_cards_html(data: DashboardData, view: View) -> str:
    """The KPI cards: value, target, gap, traffic light (colour + icon + word), year-on-year."""
    cube = data.cube
    cards = []
    for m in data.meta_records(view.indicator_set):
        ind = str(m["indicator"])
        r = cube.get(view.indicator_set, view.period, view.county, ind) or {}
        d = display(m)
        shown = pk.present_one(d, r, view.period)
        st = STATUS_LIGHTS[shown["status"]]
        fv = _float(r.get("value"))
        meta_bits = [t("dash.kpi.target", target=shown["target_text"])]
        if shown["gap_text"] != "—":
            meta_bits.append(shown["gap_text"])
        meta_bits.append(t("dash.kpi.yoy", yoy=shown["change_text"]))
        if view.county:
            city = cube.get(view.indicator_set, view.period, CITY, ind) or {}
            city_text = fmt.value_text(city.get("value"), d.unit, d.decimals)
            meta_bits.append(t("dash.kpi.city", value=city_text))
        group = (
            f'<span class="wb-kpi-group">{_esc(m["group"])}</span>'
            if not _missing(m.get("group")) and m.get("group")
            else ""
        )
        cards.append(
            f'<div class="wb-kpi wb-st-{st}" data-indicator="{_esc(ind)}" '
            f'data-value="{"" if fv is None else repr(fv)}" data-status="{st}" '
            f'title="{_esc(m.get("description") or m.get("name"))}">'
            f'<div class="wb-kpi-name">{group}{_esc(d.short_name)}</div>'
            f'<div class="wb-kpi-row"><span class="wb-kpi-value" data-kpi-value>'
            f"{_esc(shown['value_text'])}</span>"
            f'<span class="wb-kpi-light"><span class="wb-icon">{STATUS_ICONS[st]}</span>'
            f"{_esc(shown['status_label'])}</span></div>"
            f'<div class="wb-kpi-meta">{" · ".join(_esc(b) for b in meta_bits)}</div></div>'
        )
    if not cards:
        cards.append(f'<div class="wb-empty">{_esc(t("dash.empty.kpis"))}</div>')
    return _part("kpis", view.key, "".join(cards), "wb-kpis")
