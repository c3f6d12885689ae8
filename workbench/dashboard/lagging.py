"""Counties behind schedule (进度滞后 / 约谈名单) with their reasons."""

from __future__ import annotations

from workbench.dashboard.data import DashboardData, _missing
from workbench.dashboard.markup import _esc, _part, county_link
from workbench.dashboard.view import View
from workbench.messages import t


MAX_LAGGING_ROWS = 60


def lagging_html(data: DashboardData, view: View) -> str:
    """Counties behind schedule (进度滞后 / 约谈名单) with each county's reasons."""
    recs = list(data.first_part("lagging", view.indicator_set, view.period))
    words = data.words(view.indicator_set)
    if not recs:
        body = f'<div class="wb-empty">{_esc(t("dash.empty.lagging", **words))}</div>'
        return _part("lagging", view.key, body)
    rows = []
    recs.sort(key=lambda r: (r["county_code"] != view.county, str(r["county_code"])))
    for r in recs[:MAX_LAGGING_ROWS]:
        reasons = r.get("reasons")
        if isinstance(reasons, str):
            reasons = [x for x in reasons.replace("；", ";").split(";") if x.strip()]
        reasons = list(reasons) if reasons is not None and not _missing(reasons) else []
        sel = ' class="wb-row-selected"' if r["county_code"] == view.county else ""
        items = "".join(f"<li>{_esc(x)}</li>" for x in reasons) or "<li>—</li>"
        rows.append(
            f'<tr{sel} data-county="{_esc(r["county_code"])}"><td>'
            f"{county_link(r['county_code'], data.county_name(r['county_code']), view)}</td>"
            f'<td><ul class="wb-lag-reasons">{items}</ul></td></tr>'
        )
    note = ""
    if len(recs) > MAX_LAGGING_ROWS:
        more = t("dash.lagging.more", n=len(recs) - MAX_LAGGING_ROWS, **words)
        note = f'<div class="wb-note">{_esc(more)}</div>'
    unit_col, reasons_col = t("dash.col.county", **words), t("dash.col.reasons")
    head = f"<tr><th>{_esc(unit_col)}</th><th>{_esc(reasons_col)}</th></tr>"
    body = (
        f'<div class="wb-note">{_esc(t("dash.lagging.count", n=len(recs), **words))}</div>'
        f'<div class="wb-scroll"><table class="wb-table"><thead>{head}</thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>{note}"
    )
    return _part("lagging", view.key, body)
