"""KPI cards: value, target, gap, traffic light and year-on-year, as `presentation.kpis` decides."""

from __future__ import annotations

from workbench import fmt
from workbench.dashboard.data import DashboardData, _float, _missing
from workbench.dashboard.definitions import card_definition, card_info_html
from workbench.dashboard.markup import STATUS_LIGHTS, _esc, _part, display, span_text
from workbench.dashboard.style import STATUS_ICONS
from workbench.dashboard.view import CITY, View
from workbench.messages import t
from workbench.presentation import kpis as pk


def card_order(data: DashboardData, indicator_set: str) -> list[tuple[dict, str]]:
    """The set's cards in the order shown, each with the name of its group: the declared
    `card_groups` (then any own indicator they leave out), else the set's own indicators in
    file order, each under its own `group`."""
    own = {str(m["indicator"]): m for m in data.meta_records(indicator_set)}

    def group_of(m: dict) -> str:
        return "" if _missing(m.get("group")) else str(m.get("group") or "")

    out: list[tuple[dict, str]] = []
    for g in data.presentation_of(indicator_set)["card_groups"]:
        for code in g["indicators"]:
            m = own.pop(code, None) or _meta_elsewhere(data, code)
            if m is not None and all(str(x["indicator"]) != code for x, _ in out):
                out.append((m, str(g["name"])))
    return out + [(m, group_of(m)) for m in own.values()]


def _meta_elsewhere(data: DashboardData, code: str) -> dict | None:
    """An indicator a set shows but another set declares (through `include`)."""
    for s in data.indicator_sets:
        for m in data.meta_records(s):
            if str(m["indicator"]) == code:
                return m
    return None


def kpi_cards_html(data: DashboardData, view: View) -> str:
    """The KPI cards: value, target, gap, traffic light (colour + icon + word), year-on-year,
    and each card's 指标说明 panel (`dashboard.definitions`)."""
    cards = []
    scope = t(
        "dash.def.scope",
        unit=data.county_name(view.county),
        span=span_text(data.span, view.period),
        period=data.period_label(view.period),
    )
    for m, group_name in card_order(data, view.indicator_set):
        ind = str(m["indicator"])
        r = data.kpi(ind, view.period, view.county, view.indicator_set)
        d = display(m)
        shown = pk.present_one(d, r, view.period)
        st = STATUS_LIGHTS[shown["status"]]
        fv = _float(r.get("value"))
        meta_bits = [t("dash.kpi.target", target=shown["target_text"])]
        if shown["gap_text"] != "—":
            meta_bits.append(shown["gap_text"])
        meta_bits.append(t("dash.kpi.yoy", yoy=shown["change_text"]))
        if view.county:
            city = data.kpi(ind, view.period, CITY, view.indicator_set)
            city_text = fmt.value_text(city.get("value"), d.unit, d.decimals)
            meta_bits.append(t("dash.kpi.city", value=city_text, **data.words(view.indicator_set)))
        group = f'<span class="wb-kpi-group">{_esc(group_name)}</span>' if group_name else ""
        about = "" if _missing(m.get("description")) else str(m.get("description") or "")
        tip = f"{d.name}：{about}" if about and about != d.name else d.name
        texts = card_definition(
            data, view.indicator_set, ind, view.period, r, shown, whole=not view.county
        )
        info = card_info_html(texts, scope) if texts is not None else ""
        cards.append(
            f'<div class="wb-kpi wb-st-{st}" data-indicator="{_esc(ind)}" '
            f'data-value="{"" if fv is None else repr(fv)}" data-status="{st}" '
            f'title="{_esc(tip)}">'
            # the card's title is the short name; the full name is its tooltip
            f'<div class="wb-kpi-name">{group}<span class="wb-kpi-title" '
            f'title="{_esc(d.name)}">{_esc(d.short_name)}</span>{info}</div>'
            f'<div class="wb-kpi-row"><span class="wb-kpi-value" data-kpi-value>'
            f"{_esc(shown['value_text'])}</span>"
            f'<span class="wb-kpi-light"><span class="wb-icon">{STATUS_ICONS[st]}</span>'
            f"{_esc(shown['status_label'])}</span></div>"
            f'<div class="wb-kpi-meta">{" · ".join(_esc(b) for b in meta_bits)}</div></div>'
        )
    if not cards:
        cards.append(f'<div class="wb-empty">{_esc(t("dash.empty.kpis"))}</div>')
    return _part("kpis", view.key, "".join(cards), "wb-kpis")
