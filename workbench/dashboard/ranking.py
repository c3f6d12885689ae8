"""The composite index ranking: bars with rank intervals, a table with grades, a county's ranks."""

from __future__ import annotations

from workbench import fmt
from workbench.dashboard.data import DashboardData, _float, _missing
from workbench.dashboard.definitions import method_info_html
from workbench.dashboard.markup import _esc, _part, county_link
from workbench.dashboard.style import _grade_colour, _ink
from workbench.dashboard.view import View
from workbench.indicators import REMIND_LEVEL
from workbench.messages import t
from workbench.presentation import ranks


MAX_BARS = 20  # beyond this many counties the ranking shows the top and bottom 10 and the pick
MAX_TABLE_ROWS = 40


def ranking_rows(data: DashboardData, view: View) -> list[dict]:
    """Index ranking for the view, best first: county_code, county_name, score, rank, grade,
    nominal_rank, median_rank, q05, q95."""
    return data.ranking(view.period, view.hierarchy or data.default_hierarchy(view.indicator_set))


def _shortlist(rows: list[dict], county: str, limit: int) -> list[int]:
    """Positions to show: all when few, else the top and bottom halves of `limit` and the pick."""
    if len(rows) <= limit:
        return list(range(len(rows)))
    half = limit // 2
    keep = set(range(half)) | set(range(len(rows) - half, len(rows)))
    if county:
        keep |= {i for i, r in enumerate(rows) if r["county_code"] == county}
    return sorted(keep)


def _band_html(q05: object, q95: object, rank: object, n: int) -> str:
    lo, hi, r = _float(q05), _float(q95), _float(rank)
    if lo is None or hi is None or n <= 1:
        return ""
    span = max(n - 1, 1)
    left = (lo - 1) / span * 100
    width = max((hi - lo) / span * 100, 2.0)
    mark = "" if r is None else f'<b style="left:calc({(r - 1) / span * 100:.1f}% - 1px)"></b>'
    return (
        f'<span class="wb-band" aria-hidden="true"><span style="left:{left:.1f}%;'
        f'width:{width:.1f}%"></span>{mark}</span>'
    )


def ranking_table_html(data: DashboardData, view: View) -> str:
    """Ranking table with grades and 5–95% rank intervals; long lists keep top, bottom, pick."""
    rows = ranking_rows(data, view)
    n = len(rows)
    if not n:
        return _part(
            "table", view.key, f'<div class="wb-empty">{_esc(t("dash.empty.index"))}</div>'
        )
    shown = _shortlist(rows, view.county, MAX_TABLE_ROWS)
    note = ""
    if len(shown) < n:
        cut = t("dash.table.truncated", n=n, shown=len(shown), **data.words(view.indicator_set))
        note = f'<div class="wb-note">{_esc(cut)}</div>'
    grades = data.grades(view.period, view.hierarchy or data.default_hierarchy(view.indicator_set))
    words = data.words(view.indicator_set)
    graded = any(not _missing(rows[i]["grade"]) and rows[i]["grade"] != "" for i in shown)
    cols = (
        ("dash.col.rank", "wb-num"),
        ("dash.col.county", ""),
        ("dash.col.score", "wb-num"),
        *((("dash.col.grade", ""),) if graded else ()),  # no 等级 without declared bands
        ("dash.col.interval", ""),
        ("dash.col.median_rank", "wb-num"),
    )
    head = "".join(f'<th class="{c}">{_esc(t(k, **words))}</th>' for k, c in cols)
    body = []
    prev = None
    for i in shown:
        r = rows[i]
        if prev is not None and i != prev + 1:
            body.append(f'<tr><td colspan="{len(cols)}" class="wb-empty">⋯</td></tr>')
        prev = i
        sel = ' class="wb-row-selected"' if r["county_code"] == view.county else ""
        interval = ranks.interval_text(r["q05"], r["q95"])
        colour = _grade_colour(r["grade"], grades)
        grade = (
            f'<td><span class="wb-grade" style="background:{colour};'
            f'color:{_ink(colour)}">{_esc(r["grade"])}</span></td>'
            if graded
            else ""
        )
        body.append(
            f'<tr{sel} data-county="{_esc(r["county_code"])}">'
            f'<td class="wb-num">{_esc(fmt.number(r["rank"]))}</td>'
            f"<td>{county_link(r['county_code'], r['county_name'], view)}</td>"
            f'<td class="wb-num">{_esc(fmt.score_text(r["score"]))}</td>'
            f"{grade}<td>{_band_html(r['q05'], r['q95'], r['rank'], n)}{_esc(interval)}</td>"
            f'<td class="wb-num">{_esc(ranks.median_text(r["median_rank"]))}</td></tr>'
        )
    table = (
        f'<div class="wb-scroll"><table class="wb-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>{note}{explain_html()}"
    )
    return _part("table", view.key, table)


def ranking_bars_html(data: DashboardData, view: View) -> str:
    """Index scores as bars coloured by grade, each beside its 5–95% rank interval (the band)
    and nominal rank (the mark). Plain HTML: a click redraws it in a few milliseconds, where a
    plotly chart of the same took ten times longer. A row click picks the county."""
    every = ranking_rows(data, view)
    if not every:
        return _part(
            "ranking", view.key, f'<div class="wb-empty">{_esc(t("dash.empty.index"))}</div>'
        )
    hier = view.hierarchy or data.default_hierarchy(view.indicator_set)
    hier_name = data.hierarchies.get(hier, hier)  # which index: the county page has no picker
    grades = data.grades(view.period, hier)
    n = data.memo(  # the ranked units (1, 1, 3, 3 is four, though no rank is 4)
        ("n_ranked", view.period, hier),
        lambda: sum(_float(r["rank"]) is not None for r in every) or len(every),
    )
    top = (
        data.memo(
            ("score_max", view.period, hier),
            lambda: max((_float(r["score"]) or 0.0 for r in every), default=0.0),
        )
        or 1.0
    )
    shown = _shortlist(every, view.county, MAX_BARS)
    rows = []
    prev = None
    for i in shown:
        r = every[i]
        if prev is not None and i != prev + 1:
            rows.append('<div class="wb-bar-gap">⋯</div>')
        prev = i
        score = _float(r["score"])
        colour = _grade_colour(r["grade"], grades)
        width = 0.0 if score is None else max(0.0, min(100.0, score / top * 100))
        grade = "" if _missing(r["grade"]) else str(r["grade"])
        lo, hi, rank = _float(r["q05"]), _float(r["q95"]), _float(r["rank"])
        interval = ranks.interval_text(lo, hi)
        tip = (
            t(
                "dash.map.tip_index",
                name=r["county_name"],
                score=fmt.score_text(score),
                grade=grade,
                tie=ranks.tie_word(r.get("tied")),
                rank=fmt.number(rank),
            )
            + f"；{t('dash.hover.interval')} {interval}"
        )
        sel = " wb-row-selected" if r["county_code"] == view.county else ""
        rows.append(
            f'<div class="wb-bar-row{sel}" data-pick="{_esc(r["county_code"])}" '
            f'data-county="{_esc(r["county_code"])}" title="{_esc(tip)}">'
            f'<span class="wb-bar-label">{_esc(fmt.number(rank))}. {_esc(r["county_name"])}</span>'
            + _bar_html(width, colour, f"{fmt.score_text(score)} {grade}")
            + f'<span class="wb-bar-band">{_band_html(lo, hi, rank, n)}</span></div>'
        )
    head = (
        f'<div class="wb-bar-row wb-bar-head"><span class="wb-bar-label"></span>'
        f'<span class="wb-bar-track">{_esc(t("dash.axis.score_of", name=hier_name))}</span>'
        f'<span class="wb-bar-band">{_esc(t("dash.axis.rank_band", n=n))}</span></div>'
    )
    cut = t(
        "dash.table.truncated", n=len(every), shown=len(shown), **data.words(view.indicator_set)
    )
    note = f'<div class="wb-note">{_esc(cut)}</div>' if len(shown) < len(every) else ""
    method = method_info_html(data, hier)
    body = f'{method}<div class="wb-bars">{head}{"".join(rows)}</div>{note}{explain_html()}'
    return _part("ranking", view.key, body)


def _bar_html(width: float, colour: str, label: str) -> str:
    """A bar with its label inside; a short bar's label goes after it, so it is never cut."""
    if width >= 25:
        return (
            f'<span class="wb-bar-track"><span class="wb-bar" style="width:{width:.1f}%;'
            f'background:{colour};color:{_ink(colour)}">{_esc(label)}</span></span>'
        )
    return (
        f'<span class="wb-bar-track"><span class="wb-bar" style="width:{width:.1f}%;'
        f'background:{colour}"></span><span class="wb-bar-out">{_esc(label)}</span></span>'
    )


def explain_html() -> str:
    """The one line beside every rank interval that says what it is."""
    return f'<div class="wb-note wb-explain">{_esc(ranks.interval_explanation())}</div>'


def rank_summary_html(data: DashboardData, view: View) -> str:
    """The county's place in every index hierarchy: rank of n, score, grade, rank interval."""
    rows = []
    for hier in data.hierarchies:
        ranking = data.ranking(view.period, hier)
        h = next((r for r in ranking if r["county_code"] == view.county), None)
        if h is None:
            continue
        lo, hi = _float(h["q05"]), _float(h["q95"])
        interval = ranks.interval_text(lo, hi)
        tie = ranks.tie_word(h.get("tied"))
        place = t("dash.rank.of", tie=tie, rank=fmt.number(h["rank"]), n=len(ranking))
        colour = _grade_colour(h["grade"])
        rows.append(
            f'<tr data-hierarchy="{_esc(hier)}"><td>{_esc(data.hierarchies.get(hier, hier))}</td>'
            f'<td class="wb-num" data-rank>'
            f"{_esc(place)}</td>"
            f'<td class="wb-num">{_esc(fmt.score_text(h["score"]))}</td>'
            f'<td><span class="wb-grade" style="background:{colour};color:{_ink(colour)}">'
            f"{_esc(h['grade'])}</span></td>"
            f"<td>{_band_html(lo, hi, h['rank'], len(ranking))}{_esc(interval)}</td></tr>"
        )
    if not rows:
        return _part("rank", view.key, f'<div class="wb-empty">{_esc(t("dash.empty.index"))}</div>')
    head = "".join(
        f"<th>{_esc(t(k))}</th>"
        for k in (
            "dash.col.hierarchy",
            "dash.col.rank",
            "dash.col.score",
            "dash.col.grade",
            "dash.col.interval",
        )
    )
    lag = [
        r
        for r in data.first_part("lagging", view.indicator_set, view.period)
        if r["county_code"] == view.county
    ]
    note = ""
    if lag:
        key = (
            "dash.county.remind"
            if lag[0].get("list_level") == REMIND_LEVEL
            else "dash.county.lagging"
        )
        note = (
            f'<div class="wb-note wb-st-risk"><span class="wb-icon wb-st-risk">!</span>'
            f"{_esc(t(key, **data.words(view.indicator_set)))}</div>"
        )
    return _part(
        "rank",
        view.key,
        f'<table class="wb-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>{note}",
    )
