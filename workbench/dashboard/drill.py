"""The county page's ledger panels: overdue rectifications and the rows behind a number.

Every table is masked (`workbench.privacy`) before it becomes HTML.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd

from workbench import excel
from workbench.dashboard.markup import _esc, _part
from workbench.dashboard.view import View
from workbench.messages import t
from workbench.presentation import cells, lists
from workbench.privacy import mask_frame

log = logging.getLogger(__name__)


MAX_DRILL_ROWS = 100
FIT_WRAP_CHARS = 6  # in a table that fits its panel, text longer than this may wrap
LedgerSource = Callable[[str], Mapping[str, pd.DataFrame]]


def overdue_items(ledgers: Mapping[str, pd.DataFrame], county: str, period: str) -> pd.DataFrame:
    """Rectification items overdue at the end of `period` (`presentation.lists`)."""
    items = lists.overdue_rectifications(ledgers, period, county or None)
    # what a leader reads first (what, who, how late) on the left
    cols = [
        "description",
        "responsible_unit",
        "days_overdue",
        "deadline",
        "source",
        "status",
        "amount_involved",
        "found_date",
        "issue_id",
    ]
    return items[[c for c in cols if c in items.columns]]


def table_html(
    df: pd.DataFrame,
    headers: Mapping[str, str] | None = None,
    limit: int | None = None,
    total: int | None = None,
    fit: bool = False,
) -> str:
    """A masked, Chinese-headed HTML table of ledger rows (personal data never unmasked); each
    cell written as the presentation layer writes that kind of field (20,054.18元, 2025年9月30日,
    — for an empty date). A `fit` table wraps its cells to its panel's width (a half-width
    panel at 1366 px shows every column); otherwise cells stay on one line and it scrolls."""
    if df is None or df.empty:
        return f'<div class="wb-empty">{_esc(t("dash.empty.rows"))}</div>'
    shown = mask_frame(
        df.head(MAX_DRILL_ROWS if limit is None else limit)
    )  # the engine masks too; masking twice is harmless
    cols = cells.ledger_columns(shown, headers)
    records = shown.to_dict("records")
    texts = [[cells.cell_text(c, rec.get(c.key)) for c in cols] for rec in records]
    # cells stay on one line (the table scrolls sideways); long free text wraps in a wide column.
    # A table that fits its panel wraps every longer text (names, codes); dates stay whole.
    longest = [max((len(row[j]) for row in texts), default=0) for j in range(len(cols))]
    wide = [
        n > FIT_WRAP_CHARS and c.kind == excel.TEXT if fit else n > 16
        for n, c in zip(longest, cols)
    ]
    css = ["wb-num" if _numeric(c) else ("wb-wrap" if w else "") for c, w in zip(cols, wide)]
    head = "".join(f'<th class="{k}">{_esc(cells.header_text(c))}</th>' for c, k in zip(cols, css))
    body = [
        "<tr>" + "".join(f'<td class="{k}">{_esc(x)}</td>' for x, k in zip(row, css)) + "</tr>"
        for row in texts
    ]
    more = ""
    total = len(df) if total is None else total
    if total > len(shown):
        text = t("dash.rows.more_export", n=total, shown=len(shown))
        more = f'<div class="wb-note">{_esc(text)}</div>'
    return (
        f'<div class="wb-scroll"><table class="wb-table wb-ledger{" wb-fit" if fit else ""}">'
        f"<thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>{more}"
    )


def _numeric(col: excel.Column) -> bool:
    return col.kind in (excel.YUAN, excel.INTEGER, excel.NUMBER, excel.PERCENT)


def overdue_html(ledgers: Mapping[str, pd.DataFrame] | None, view: View) -> str:
    if ledgers is None:
        return _part(
            "overdue", view.key, f'<div class="wb-empty">{_esc(t("dash.empty.ledgers"))}</div>'
        )
    items = overdue_items(ledgers, view.county, view.period)
    note = f'<div class="wb-note">{_esc(t("dash.overdue.count", n=len(items)))}</div>'
    return _part("overdue", view.key, note + table_html(items, fit=True))


def drill_html(
    ledgers: Mapping[str, pd.DataFrame] | None, view: View, indicator: str, span: str | None = None
) -> str:
    """The ledger rows behind one indicator's numerator and denominator (masked)."""

    def part(body: str) -> str:
        return (
            f'<div class="wb-part wb-drill" data-part="drill" data-key="{_esc(view.key)}" '
            f'data-indicator="{_esc(indicator)}">{body}</div>'
        )

    if ledgers is None or not indicator:
        return part(f'<div class="wb-empty">{_esc(t("dash.empty.ledgers"))}</div>')
    try:
        result = run_drill(ledgers, view.county, view.period, indicator, view.indicator_set, span)
    except Exception as exc:  # the drill is an aid; a failure must not take the page down
        log.exception("drill failed")
        return part(f'<div class="wb-empty">{_esc(t("dash.drill.error", error=exc))}</div>')
    blocks = [f'<div class="wb-note">{_esc(result.title)}</div>'] if result.title else []
    for role, frames in (("numerator", result.numerator), ("denominator", result.denominator)):
        if not frames:
            continue
        blocks.append(f'<h4 data-role="{role}">{_esc(t("dash.drill." + role))}</h4>')
        for title, rows, total in frames:
            blocks.append(
                f'<div class="wb-note">{_esc(title)}</div>' + table_html(rows, total=total)
            )
    if result.note:
        blocks.append(f'<div class="wb-note">{_esc(result.note)}</div>')
    return part("".join(blocks))


@dataclass
class DrillView:
    """What the drill panel shows: per role, [(title, masked rows, total row count)]."""

    title: str
    numerator: list[tuple[str, pd.DataFrame, int]]
    denominator: list[tuple[str, pd.DataFrame, int]]
    note: str = ""


def run_drill(
    ledgers: Mapping[str, pd.DataFrame],
    county: str,
    period: str,
    indicator: str,
    indicator_set: str,
    span: str | None = None,
) -> DrillView:
    """The engine's drill-through (`workbench.drill.drill`), reshaped for the panel."""
    from workbench.drill import drill  # the engine, only when a county page drills

    res = drill(ledgers, county, period, indicator, indicator_set, span, max_rows=MAX_DRILL_ROWS)
    out = DrillView(res.title, [], [], res.note)
    for p in res.parts:
        getattr(out, p.role).append((p.title, p.rows, p.total_rows))
    return out
