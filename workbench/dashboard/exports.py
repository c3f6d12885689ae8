"""What each part of a page downloads: its table (.xlsx with real number formats, or CSV) and,
for charts, the data behind the picture.

A builder takes the page's data and view (and, on the county page, its ledgers) and returns
`workbench.excel.Table`s: every number is the one the part shows, typed (an indicator value in
its unit and decimals, a rank as a whole number, money in yuan, a date as a date), every text the
presentation layer's (status, gap, change, rank interval). Tables are whole — the ranking of
every county, every ledger row behind a number (masked), not the top of a list a part shows.
The page writes them with `workbench.excel`; pictures (PNG) are drawn in the browser.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from workbench import excel, fmt
from workbench.dashboard.cards import card_order
from workbench.dashboard.calendar import current_phase
from workbench.dashboard.data import DashboardData, _float, _missing
from workbench.dashboard.funnel import funnel_caption, funnel_stages
from workbench.dashboard.markup import display, focus_meta
from workbench.dashboard.ranking import ranking_rows
from workbench.dashboard.trend import _trend_series
from workbench.dashboard.view import CITY, INDEX, View
from workbench.messages import t
from workbench.presentation import cells, lists, ranks
from workbench.presentation import kpis as pk
from workbench.privacy import mask_frame

Ledgers = Mapping[str, pd.DataFrame] | None


def _by_unit(key: str, header: str) -> excel.Column:
    return excel.Column(key, header, excel.BY_UNIT, None, "_unit", "_decimals")


def kpi_table(data: DashboardData, view: View) -> list[excel.Table]:
    """The KPI cards as rows: value, target, status, gap and change as the cards show them."""
    rows = []
    for m, group in card_order(data, view.indicator_set):
        code = str(m["indicator"])
        d = display(m)
        r = data.kpi(code, view.period, view.county, view.indicator_set)
        shown = pk.present_one(d, r, view.period)
        row = {
            "group": group,
            "name": d.name,
            "value": r.get("value"),
            "value_text": shown["value_text"],
            "target": r.get("target"),
            "target_text": shown["target_text"],
            "status": shown["status_label"],
            "gap": shown["gap_text"],
            "change": shown["change_text"],
            "numerator": r.get("numerator"),
            "denominator": r.get("denominator"),
            "unit": d.unit,
            "_unit": d.unit,
            "_decimals": d.decimals,
        }
        if view.county:
            row["city"] = data.kpi(code, view.period, CITY, view.indicator_set).get("value")
        rows.append(row)
    cols = [
        excel.Column("group", t("dash.xcol.group")),
        excel.Column("name", t("dash.xcol.indicator")),
        _by_unit("value", t("dash.xcol.value")),
        excel.Column("unit", t("dash.xcol.unit")),
        _by_unit("target", t("dash.xcol.target")),
        excel.Column("target_text", t("dash.xcol.target_text")),
        excel.Column("status", t("dash.xcol.status")),
        excel.Column("gap", t("dash.xcol.gap")),
        excel.Column("change", t("dash.xcol.change")),
        excel.Column("numerator", t("dash.xcol.numerator"), excel.NUMBER),
        excel.Column("denominator", t("dash.xcol.denominator"), excel.NUMBER),
    ]
    if view.county:
        cols.insert(3, _by_unit("city", t("dash.xcol.city_value", city=data.city_name)))
    note = t("dash.export.kpi_note", span=t("dash.export.span_ytd"))
    return [excel.Table(t("dash.export.kpis"), pd.DataFrame(rows), tuple(cols), note)]


def ranking_table(data: DashboardData, view: View) -> list[excel.Table]:
    """Every county's rank, score, grade and rank interval (not the top and bottom shown)."""
    rows = [
        {
            "rank": r["rank"],
            "county_name": r["county_name"],
            "county_code": r["county_code"],
            "score": r["score"],
            "grade": "" if _missing(r["grade"]) else r["grade"],
            "interval": ranks.interval_text(r["q05"], r["q95"]),
            "q05": r["q05"],
            "q95": r["q95"],
            "median_rank": r["median_rank"],
        }
        for r in ranking_rows(data, view)
    ]
    hier = view.hierarchy or data.default_hierarchy(view.indicator_set)
    cols = (
        excel.Column("rank", t("dash.col.rank"), excel.INTEGER),
        excel.Column("county_name", t("dash.col.county", **data.words(view.indicator_set))),
        excel.Column("county_code", t("dash.xcol.code", **data.words(view.indicator_set))),
        excel.Column("score", t("dash.col.score"), excel.NUMBER, 1),
        excel.Column("grade", t("dash.col.grade")),
        excel.Column("interval", t("dash.col.interval")),
        excel.Column("q05", t("dash.xcol.q05"), excel.INTEGER),
        excel.Column("q95", t("dash.xcol.q95"), excel.INTEGER),
        excel.Column("median_rank", t("dash.col.median_rank"), excel.PLACE),
    )
    note = f"{data.hierarchies.get(hier, hier)}。{ranks.interval_explanation()}"
    return [excel.Table(t("dash.panel.ranking"), pd.DataFrame(rows), cols, note)]


def map_table(data: DashboardData, view: View) -> list[excel.Table]:
    """The map's numbers: every county's value of the focus (or index score), with its status."""
    if view.focus == INDEX:
        return ranking_table(data, view)
    meta = focus_meta(data, view)
    d = display(meta)
    rows = []
    for code, name in zip(
        data.counties["county_code"].astype(str), data.counties["county_name"].astype(str)
    ):
        r = data.kpi(view.focus, view.period, code, view.indicator_set)
        shown = pk.present_one(d, r, view.period)
        rows.append(
            {
                "county_name": name,
                "county_code": code,
                "value": r.get("value"),
                "status": shown["status_label"],
                "gap": shown["gap_text"],
                "_unit": d.unit,
                "_decimals": d.decimals,
            }
        )
    cols = (
        excel.Column("county_name", t("dash.col.county", **data.words(view.indicator_set))),
        excel.Column("county_code", t("dash.xcol.code", **data.words(view.indicator_set))),
        _by_unit("value", d.name),
        excel.Column("status", t("dash.xcol.status")),
        excel.Column("gap", t("dash.xcol.gap")),
    )
    return [
        excel.Table(t("dash.panel.map", **data.words(view.indicator_set)), pd.DataFrame(rows), cols)
    ]


def trend_table(data: DashboardData, view: View) -> list[excel.Table]:
    """Month by month, the focus for the county (and the city) and its target."""
    meta = focus_meta(data, view)
    unit = meta.get("unit") if view.focus != INDEX else "score"
    decimals = meta.get("decimals") if view.focus != INDEX else 1
    frame = _trend_series(data, view, view.county)
    out = pd.DataFrame({"month": [data.period_label(m) for m in frame.get("month", [])]})
    out["value"] = list(frame.get("value", []))
    cols = [
        excel.Column("month", t("dash.xcol.month")),
        _by_unit("value", data.county_name(view.county)),
    ]
    if view.county:
        city = _trend_series(
            data, View(view.indicator_set, view.period, CITY, view.focus, view.hierarchy), CITY
        )
        out["city"] = list(city.get("value", [None] * len(out)))[: len(out)]
        cols.append(_by_unit("city", data.city_name))
    if "target" in frame and frame["target"].notna().any():
        out["target"] = list(frame["target"])
        cols.append(_by_unit("target", t("dash.legend.target")))
    out["_unit"], out["_decimals"] = unit, decimals
    name = meta.get("name") or view.focus
    return [
        excel.Table(
            t("dash.panel.trend", **data.words(view.indicator_set)), out, tuple(cols), str(name)
        )
    ]


def funnel_table(data: DashboardData, view: View) -> list[excel.Table]:
    """The funnel's cohort: every stage the cockpit draws (追回 included, with the cases
    recovered in full as its count when the cohort counts them — blank when its bar is only the
    rate's sketch — and the bar's words), then the money recovered and due."""
    stages = funnel_stages(data, view)
    rows = data.records("funnel", view.indicator_set, view.period, view.county)
    rec = next((r for r in rows if str(r["stage"]) == "recovered"), None)
    out = [
        {
            "stage": s["label"],
            "count": _float(rec.get("count")) if s.get("recovery") and rec else s["count"],
            "text": s["text"] if s.get("recovery") else None,
        }
        for s in stages
    ]
    table = pd.DataFrame(out, columns=["stage", "count", "text"])
    cols = [
        excel.Column("stage", t("dash.xcol.stage")),
        excel.Column("count", t("dash.xcol.count"), excel.INTEGER),
        excel.Column("text", t("dash.xcol.stage_text")),
    ]
    tables = [excel.Table(t("dash.export.funnel"), table, tuple(cols), funnel_caption(data, view))]
    if rec is not None:
        got, due = _float(rec["amount_recovered"]), _float(rec["amount_due"])
        money = pd.DataFrame(
            [
                {
                    "recovered": got,
                    "due": due,
                    "rate": (got / due) if got is not None and due else None,
                }
            ]
        )
        tables.append(
            excel.Table(
                t("dash.funnel.recovered"),
                money,
                (
                    excel.Column("recovered", t("dash.xcol.recovered"), excel.YUAN),
                    excel.Column("due", t("dash.xcol.due"), excel.YUAN),
                    excel.Column("rate", t("dash.xcol.recovery_rate"), excel.PERCENT),
                ),
            )
        )
    return tables


def rectification_table(data: DashboardData, view: View) -> list[excel.Table]:
    code = data.presentation_of(view.indicator_set)["rectification"]
    if not code:
        return []
    r = data.kpi(code, view.period, view.county, view.indicator_set)
    done, due = _float(r.get("numerator")), _float(r.get("denominator"))
    frame = pd.DataFrame(
        [
            {
                "due": due,
                "done": done,
                "open": None if due is None or done is None else max(due - done, 0.0),
                "rate": r.get("value"),
            }
        ]
    )
    cols = (
        excel.Column("due", t("dash.xcol.rect_due"), excel.INTEGER),
        excel.Column("done", t("dash.rect.closed"), excel.INTEGER),
        excel.Column("open", t("dash.rect.open"), excel.INTEGER),
        excel.Column(
            "rate",
            focus_meta(data, View(view.indicator_set, view.period, view.county, code)).get("name")
            or code,
            excel.PERCENT,
        ),
    )
    return [excel.Table(t("dash.panel.rectification"), frame, cols)]


def calendar_table(data: DashboardData, view: View) -> list[excel.Table]:
    ms = data.first_part("milestones", view.indicator_set, view.period, view.county)
    rows = [
        {
            "name": r.get("name"),
            "deadline": r.get("deadline"),
            "status": r.get("status_label")
            if not _missing(r.get("status_label"))
            else t("dash.milestone." + str(r.get("status") or "none")),
            "detail": "" if _missing(r.get("detail")) else r.get("detail"),
        }
        for r in sorted(ms, key=lambda r: str(r.get("deadline") or ""))
    ]
    cols = (
        excel.Column("name", t("dash.xcol.milestone")),
        excel.Column("deadline", t("dash.xcol.deadline"), excel.DATE),
        excel.Column("status", t("dash.xcol.status")),
        excel.Column("detail", t("dash.xcol.detail")),
    )
    cur = current_phase(data.phases, view.period)
    note = t("dash.calendar.current", phase=cur) if cur else t("dash.calendar.outside")
    return [excel.Table(t("dash.panel.calendar"), pd.DataFrame(rows), cols, note)]


def lagging_table(data: DashboardData, view: View) -> list[excel.Table]:
    """Every county on the 约谈名单 with its criteria and reasons (all of them, not the first 60
    shown) and, from the 约谈督办台账, whether it was talked to and its 复查."""
    from workbench.dashboard.lagging import list_level, reason_list, talk_records

    rows = []
    for r in talk_records(data, view):
        reasons = reason_list(r.get("reasons"))
        row = {
            "county_name": data.county_name(r["county_code"]),
            "county_code": r["county_code"],
            "level": t(f"talk.level.{list_level(r)}"),
            "criteria": "" if _missing(r.get("criteria")) else r.get("criteria"),
            "n": len(reasons),
            "reasons": "；".join(reasons),
        }
        if "held" in r:
            row.update(
                held=bool(r.get("held")),
                talk_date=r.get("talk_date"),
                review_due=r.get("review_due"),
                review_date=r.get("review_date"),
                review_result=r.get("review_result"),
                # what is known of the 复查: nothing when no 约谈 was held (not 尚未约谈 twice)
                followup=r.get("followup_label") if r.get("held") else "—",
            )
        rows.append(row)
    frame = pd.DataFrame(rows)
    cols = [
        excel.Column("county_name", t("dash.col.county", **data.words(view.indicator_set))),
        excel.Column("county_code", t("dash.xcol.code", **data.words(view.indicator_set))),
        excel.Column("level", t("dash.col.level")),
        excel.Column("criteria", t("dash.xcol.criteria")),
        excel.Column("n", t("dash.xcol.n_reasons"), excel.INTEGER),
        excel.Column("reasons", t("dash.col.reasons")),
    ]
    if "held" in frame:
        cols += [
            excel.Column("held", t("dash.col.talk"), excel.BOOL),
            excel.Column("talk_date", t("dash.xcol.talk_date"), excel.DATE),
            excel.Column("review_due", t("dash.xcol.review_due"), excel.DATE),
            excel.Column("review_date", t("dash.xcol.review_date"), excel.DATE),
            excel.Column("review_result", t("dash.xcol.review_result")),
            excel.Column("followup", t("dash.col.review")),
        ]
    return [
        excel.Table(t("dash.export.lagging", **data.words(view.indicator_set)), frame, tuple(cols))
    ]


def overdue_cases_table(data: DashboardData, view: View) -> list[excel.Table]:
    """Every open case past its 办案时限 (not the first rows shown), masked."""
    from workbench.dashboard.lagging import OVERDUE_CASE_HEADERS, overdue_case_rows

    rows = mask_frame(overdue_case_rows(data, view))
    words = data.words(view.indicator_set)
    headers = {k: t(v, **words) for k, v in OVERDUE_CASE_HEADERS.items()}
    return [excel.Table(t("dash.export.overdue_cases"), rows, cells.ledger_columns(rows, headers))]


def screening_tables(data: DashboardData, view: View) -> list[excel.Table]:
    """The screening part's numbers: by rule (with 属实率), by county, month by month."""
    from workbench.dashboard.screening import rule_sources, screening_shown
    from workbench.dashboard.screening import screening_tables as tables

    if not screening_shown(data, view):
        return []
    tb = tables(data, view)
    sources = rule_sources(data)
    by_rule = tb["by_rule"].assign(
        source=[sources.get(str(c), "") for c in tb["by_rule"]["rule_code"]]
    )
    hits = excel.Column("hits", t("dash.scr.col.hits"), excel.INTEGER)
    leads = excel.Column("leads", t("dash.scr.col.leads"), excel.INTEGER)
    amount = excel.Column("amount", t("dash.xcol.amount"), excel.YUAN)
    by_county = tb["by_county"].copy()
    by_county.insert(0, "county_name", by_county["county_code"].map(data.county_name))
    trend = tb["trend"].assign(month=[fmt.month_label(m) for m in tb["trend"]["month"]])
    note = t(
        "dash.export.screening_note",
        unit=data.county_name(view.county),
        period=fmt.month_label(view.period),
    )
    return [
        excel.Table(
            t("dash.scr.by_rule"),
            by_rule,
            (
                excel.Column("rule_code", t("dash.xcol.rule_code")),
                excel.Column("rule_name", t("dash.xcol.rule_name")),
                hits,
                leads,
                excel.Column("suppressed", t("dash.xcol.suppressed"), excel.INTEGER),
                amount,
                excel.Column("checked", t("dash.scr.col.checked"), excel.INTEGER),
                excel.Column("confirmed", t("dash.scr.col.confirmed"), excel.INTEGER),
                excel.Column("confirmed_rate", t("dash.scr.col.rate"), excel.PERCENT),
                excel.Column("converted", t("dash.xcol.converted"), excel.INTEGER),
                excel.Column("conversion_rate", t("dash.xcol.conversion_rate"), excel.PERCENT),
                excel.Column("source", t("dash.xcol.rule_source")),
            ),
            note + t("dash.scr.rate_note"),
        ),
        excel.Table(
            t("dash.scr.by_county"),
            by_county,
            (
                excel.Column("county_name", t("dash.col.county", **data.words(view.indicator_set))),
                excel.Column("county_code", t("dash.xcol.code", **data.words(view.indicator_set))),
                hits,
                leads,
                amount,
            ),
            note,
        ),
        excel.Table(
            t("dash.scr.trend"),
            trend,
            (excel.Column("month", t("dash.xcol.month")), hits, leads, amount),
            note,
        ),
    ]


def rank_summary_table(data: DashboardData, view: View) -> list[excel.Table]:
    """The county's place in every index."""
    rows = []
    for hier, title in data.hierarchies.items():
        ranking = data.ranking(view.period, hier)
        hit = next((r for r in ranking if r["county_code"] == view.county), None)
        if hit is None:
            continue
        rows.append(
            {
                "hierarchy": title,
                "rank": hit["rank"],
                "n": len(ranking),
                "score": hit["score"],
                "grade": "" if _missing(hit["grade"]) else hit["grade"],
                "interval": ranks.interval_text(hit["q05"], hit["q95"]),
            }
        )
    cols = (
        excel.Column("hierarchy", t("dash.col.hierarchy")),
        excel.Column("rank", t("dash.col.rank"), excel.INTEGER),
        excel.Column("n", t("dash.xcol.n_ranked", **data.words(view.indicator_set)), excel.INTEGER),
        excel.Column("score", t("dash.col.score"), excel.NUMBER, 1),
        excel.Column("grade", t("dash.col.grade")),
        excel.Column("interval", t("dash.col.interval")),
    )
    return [
        excel.Table(
            t("dash.panel.rank", **data.words(view.indicator_set)),
            pd.DataFrame(rows),
            cols,
            ranks.interval_explanation(),
        )
    ]


def history_table(data: DashboardData, view: View) -> list[excel.Table]:
    """Every indicator's months for the county (and the city), the data of the small charts."""
    rows = []
    for m in data.meta_records(view.indicator_set):
        code = str(m["indicator"])
        d = display(m)
        sub = View(view.indicator_set, view.period, view.county, code, view.hierarchy)
        own = _trend_series(data, sub, view.county)
        city = _trend_series(data, sub, CITY)
        cities = dict(zip(city.get("month", []), city.get("value", [])))
        for rec in own.to_dict("records"):
            rows.append(
                {
                    "name": d.name,
                    "month": data.period_label(rec["month"]),
                    "value": rec["value"],
                    "city": cities.get(rec["month"]),
                    "target": rec.get("target"),
                    "_unit": d.unit,
                    "_decimals": d.decimals,
                }
            )
    cols = (
        excel.Column("name", t("dash.xcol.indicator")),
        excel.Column("month", t("dash.xcol.month")),
        _by_unit("value", data.county_name(view.county)),
        _by_unit("city", data.city_name),
        _by_unit("target", t("dash.legend.target")),
    )
    return [excel.Table(t("dash.panel.history"), pd.DataFrame(rows), cols)]


def overdue_table(ledgers: Ledgers, view: View) -> list[excel.Table]:
    if ledgers is None:
        return []
    items = mask_frame(lists.overdue_rectifications(ledgers, view.period, view.county or None))
    return [excel.Table(t("dash.panel.overdue"), items, cells.ledger_columns(items))]


def drill_tables(parts: list[tuple[str, str, pd.DataFrame]]) -> list[excel.Table]:
    """Every ledger row behind a number, masked, one sheet per measure of the numerator and
    the denominator (`role`), its title (measure, ledger, rows, value) written under the rows."""
    out = []
    for i, (role, title, rows) in enumerate(parts, 1):
        masked = mask_frame(rows)  # the engine masked them; a second pass costs little
        sheet = f"{i}_{t('dash.drill.' + role)}"
        out.append(excel.Table(sheet, masked, cells.ledger_columns(masked), title))
    return out


# part → builder of (data, view); the county page adds its ledger-backed parts
COCKPIT: dict[str, Callable[[DashboardData, View], list[excel.Table]]] = {
    "kpis": kpi_table,
    "ranking": ranking_table,
    "table": ranking_table,
    "map": map_table,
    "trend": trend_table,
    "funnel": funnel_table,
    "rectification": rectification_table,
    "calendar": calendar_table,
    "lagging": lagging_table,
    "overdue_cases": overdue_cases_table,
    "screening": screening_tables,
}
COUNTY: dict[str, Callable[[DashboardData, View], list[excel.Table]]] = {
    "kpis": kpi_table,
    "rank": rank_summary_table,
    "ranking": ranking_table,
    "history": history_table,
}
LABELS = {
    "kpis": "dash.export.kpis",
    "ranking": "dash.panel.ranking",
    "table": "dash.panel.table",
    "map": "dash.panel.map",
    "trend": "dash.panel.trend",
    "funnel": "dash.export.funnel",
    "rectification": "dash.panel.rectification",
    "calendar": "dash.panel.calendar",
    "lagging": "dash.export.lagging",
    "overdue_cases": "dash.export.overdue_cases",
    "screening": "dash.export.screening",
    "rank": "dash.panel.rank",
    "history": "dash.panel.history",
    "overdue": "dash.panel.overdue",
    "drill": "dash.panel.drill",
}
MIME = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv;charset=utf-8",
    "png": "image/png",
}


def file_name(data: DashboardData, view: View, part: str, ext: str, extra: str = "") -> str:
    """`综合指数排名_演示市_2025年9月.xlsx`: what, where, when (no personal data)."""
    words = data.words(view.indicator_set)
    bits = [t(LABELS.get(part, "dash.export.kpis"), **words), data.county_name(view.county)]
    if extra:
        bits.append(extra)
    bits.append(data.period_label(view.period))
    name = "_".join(str(b) for b in bits if b)
    for bad in '\\/:*?"<>|':
        name = name.replace(bad, "_")
    return f"{name}.{ext}"


def file_bytes(tables: list[excel.Table], ext: str) -> bytes:
    """The tables as one workbook (a sheet each), or as one CSV: several tables are stacked,
    a first column naming the table each row comes from."""
    if ext != "csv":
        return excel.write_xlsx(tables)
    return excel.write_csv(_stacked(tables))


def _stacked(tables: list[excel.Table]) -> excel.Table:
    if len(tables) == 1:
        return tables[0]
    cols: dict[str, excel.Column] = {}
    frames = []
    for tb in tables:
        for c in tb.columns:
            cols.setdefault(c.key, c)
        frames.append(tb.frame.assign(_table=tb.name))
    frame = pd.concat(frames, ignore_index=True, sort=False) if frames else pd.DataFrame()
    first = excel.Column("_table", t("dash.xcol.table"))
    name = tables[0].name if tables else ""
    return excel.Table(name, frame, (first, *cols.values()))


def names(data: DashboardData, view: View, parts: Any) -> dict[str, str]:
    """File names (without extension) of every part's downloads, for the browser's pictures."""
    return {p: file_name(data, view, p, "x")[:-2] for p in parts}


def ranking_figure(data: DashboardData, view: View) -> dict:
    """The ranking as a picture: every county's score as a bar coloured by grade, its rank and
    rank interval in the label (drawn by the browser's plotly.js into a PNG)."""
    from workbench.dashboard.style import _grade_colour, base_layout

    rows = ranking_rows(data, view)
    hier = view.hierarchy or data.default_hierarchy(view.indicator_set)
    grades = data.grades(view.period, hier)
    labels = [f"{fmt.number(r['rank'])}. {r['county_name']}" for r in rows]
    text = [
        f"{fmt.score_text(r['score'])} {'' if _missing(r['grade']) else r['grade']}　"
        f"{ranks.interval_text(r['q05'], r['q95'])}"
        for r in rows
    ]
    height = 80 + 26 * max(len(rows), 1)
    top = max((_float(r["score"]) or 0.0 for r in rows), default=0.0) or 100.0
    title = (
        f"{data.hierarchies.get(hier, hier)} · {data.county_name(CITY)} · "
        f"{fmt.month_label(view.period)}"
    )
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "y": labels,
                "x": [_float(r["score"]) for r in rows],
                "text": text,
                "textposition": "outside",
                "cliponaxis": False,
                "marker": {"color": [_grade_colour(r["grade"], grades) for r in rows]},
            }
        ],
        "layout": base_layout(
            height,
            title={"text": title, "x": 0, "font": {"size": 15}},
            yaxis={"autorange": "reversed", "automargin": True},
            xaxis={"title": {"text": t("dash.col.score")}, "range": [0, top * 1.35]},
            margin={"l": 10, "r": 20, "t": 40, "b": 40},
            paper_bgcolor="#ffffff",
            width=900,
        ),
    }
