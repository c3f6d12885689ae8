"""The 约谈名单 (进度滞后 / 问题突出) with each county's triggering reasons and, from the
约谈督办台账, whether the 约谈 was held and its 复查 result; and the open cases past their 办案时限.

Both lists are decided by `presentation.lists` (`talk_list_followup`, `overdue_cases`) when the
cockpit's data are built; this module only writes them as HTML.
"""

from __future__ import annotations

import pandas as pd

from workbench import excel
from workbench.dashboard.data import DashboardData, _missing, plain
from workbench.dashboard.drill import table_html
from workbench.dashboard.markup import _esc, _part, county_link
from workbench.dashboard.view import View
from workbench.indicators import REMIND_LEVEL, TALK_LEVEL, TALK_LEVELS
from workbench.messages import t
from workbench.presentation import cells
from workbench.presentation import lists as plists

MAX_LAGGING_ROWS = 60
MAX_OVERDUE_CASE_ROWS = 30


def reason_list(reasons: object) -> list[str]:
    """A county's reasons as a list (a list, or one text joined by ；)."""
    if isinstance(reasons, str):
        return [x.strip() for x in reasons.replace("；", ";").split(";") if x.strip()]
    if reasons is None or _missing(reasons):
        return []
    return [str(x) for x in list(reasons)]


def talk_records(data: DashboardData, view: View) -> list[dict]:
    """The 约谈名单 of the view's month with the register's follow-up (`data.talks`), else the
    list alone (`data.lagging`, a cache built before the register was read)."""
    recs = data.first_part("talks", view.indicator_set, view.period)
    return recs or data.first_part("lagging", view.indicator_set, view.period)


_DATE = excel.Column("d", "", excel.DATE)


def _talk_cell(r: dict) -> str:
    if "held" not in r:
        return ""
    if not bool(r.get("held")):
        key = (
            "dash.talk.not_required"
            if r.get("list_level") == REMIND_LEVEL
            else "dash.talk.not_held"
        )
        return f'<td data-held="0">{_esc(t(key))}</td>'
    when = cells.cell_text(_DATE, r.get("talk_date"))
    return f'<td data-held="1">{_esc(t("dash.talk.held", date=when))}</td>'


def _review_cell(r: dict) -> str:
    """What is known of the 复查 (`lists.review_text`): `—` when no 约谈 was held."""
    if "held" not in r:
        return ""
    state = "" if _missing(r.get("followup")) else str(r.get("followup"))
    return f'<td data-followup="{_esc(state)}">{_esc(plists.review_text(r))}</td>'


def list_level(r: dict) -> str:
    """The list a county is on (约谈 / 督促), `indicators.TALK_LEVELS`; an older cache: 约谈."""
    lv = r.get("list_level")
    return str(lv) if lv in TALK_LEVELS else TALK_LEVEL


def lagging_html(data: DashboardData, view: View) -> str:
    """The 约谈名单: each county, the criteria that put it there and their reasons, whether it
    was talked to and the 复查 as it stood at the month's end."""
    recs = list(talk_records(data, view))
    words = data.words(view.indicator_set)
    if not recs:
        body = f'<div class="wb-empty">{_esc(t("dash.empty.lagging", **words))}</div>'
        return _part("lagging", view.key, body)
    followed = "held" in recs[0]
    rows = []
    # the picked county first, then the 约谈名单 before the 督促名单, each in the list's order
    order = {id(r): i for i, r in enumerate(recs)}
    recs.sort(
        key=lambda r: (r["county_code"] != view.county, list_level(r) != TALK_LEVEL, order[id(r)])
    )
    for r in recs[:MAX_LAGGING_ROWS]:
        items = "".join(f"<li>{_esc(x)}</li>" for x in reason_list(r.get("reasons")))
        crit = "" if _missing(r.get("criteria")) else str(r.get("criteria") or "")
        crit_html = f'<div class="wb-lag-criteria">{_esc(crit)}</div>' if crit else ""
        sel = ' class="wb-row-selected"' if r["county_code"] == view.county else ""
        rows.append(
            f'<tr{sel} data-county="{_esc(r["county_code"])}"><td>'
            f"{county_link(r['county_code'], data.county_name(r['county_code']), view)}</td>"
            f'<td data-level="{list_level(r)}">{_esc(t(f"talk.level.{list_level(r)}"))}</td>'
            f'<td>{crit_html}<ul class="wb-lag-reasons">{items or "<li>—</li>"}</ul></td>'
            f"{_talk_cell(r)}{_review_cell(r)}</tr>"
        )
    note = ""
    if len(recs) > MAX_LAGGING_ROWS:
        more = t("dash.lagging.more", n=len(recs) - MAX_LAGGING_ROWS, **words)
        note = f'<div class="wb-note">{_esc(more)}</div>'
    heads = ["dash.col.county", "dash.col.level", "dash.col.reasons"]
    if followed:
        heads += ["dash.col.talk", "dash.col.review"]
    head = "<tr>" + "".join(f"<th>{_esc(t(h, **words))}</th>" for h in heads) + "</tr>"
    summoned = [r for r in recs if list_level(r) == TALK_LEVEL]
    count = t("dash.lagging.count", n=len(summoned), **words)
    if followed and summoned:
        held = sum(bool(r.get("held")) for r in summoned)
        again = sum(r.get("followup") == "relisted" for r in summoned)
        count += t("dash.talk.count", held=held, not_held=len(summoned) - held)
        if again:
            count += t("dash.talk.again", n=again)
    if len(recs) > len(summoned):
        count += t("dash.lagging.remind", n=len(recs) - len(summoned), **words)
    body = (
        f'<div class="wb-note">{_esc(count)}</div>'
        f'<div class="wb-scroll"><table class="wb-table"><thead>{head}</thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>{note}"
    )
    return _part("lagging", view.key, body)


def _overdue_cases(data: DashboardData, view: View) -> pd.DataFrame:
    """The view's month's rows of `data.overdue_cases` (its county's when one is picked)."""
    rows = data.part("overdue_cases", view.period)
    if view.county:
        rows = rows[rows["county_code"].astype(str) == view.county]
    return rows


def overdue_case_rows(data: DashboardData, view: View, limit: int | None = None) -> pd.DataFrame:
    """Open cases past their 办案时限 at the end of the view's month (`data.overdue_cases`),
    the view's county only when one is picked; with the county's name. `limit`: the first
    rows only (the page shows 30 of a city's thousands; a download takes them all)."""
    rows = _overdue_cases(data, view)
    if limit is not None:
        rows = rows.head(limit)
    rows = plain(rows.drop(columns=["period"], errors="ignore")).copy()
    rows.insert(0, "county_name", rows["county_code"].astype(str).map(data.county_name))
    return rows.drop(columns=["county_code"]).reset_index(drop=True)


OVERDUE_CASE_HEADERS = {"county_name": "dash.col.county"}


def overdue_cases_html(data: DashboardData, view: View) -> str:
    """The open cases past their 办案时限: how many, then the longest overdue first."""
    n = len(_overdue_cases(data, view))
    note = t("dash.overdue_cases.count", n=n, unit=data.county_name(view.county))
    words = data.words(view.indicator_set)
    headers = {k: t(v, **words) for k, v in OVERDUE_CASE_HEADERS.items()}
    shown = overdue_case_rows(data, view, MAX_OVERDUE_CASE_ROWS) if n else None
    body = f'<div class="wb-note">{_esc(note)}</div>' + (
        table_html(shown, headers, limit=MAX_OVERDUE_CASE_ROWS, total=n) if n else ""
    )
    return _part("overdue_cases", view.key, body)
