"""The county page's ledger panels: overdue rectifications and the rows behind a number.

Every table is masked (`workbench.privacy`) before it becomes HTML.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd

from workbench import fmt
from workbench.contracts import LEDGERS
from workbench.dashboard.data import _missing
from workbench.dashboard.markup import _esc, _part
from workbench.dashboard.view import View
from workbench.messages import t
from workbench.presentation import lists
from workbench.privacy import mask_frame

log = logging.getLogger(__name__)


MAX_DRILL_ROWS = 100
LedgerSource = Callable[[str], Mapping[str, pd.DataFrame]]


def overdue_items(ledgers: Mapping[str, pd.DataFrame], county: str, period: str) -> pd.DataFrame:
    """Rectification items overdue at the end of `period` (`presentation.lists`)."""
    items = lists.overdue_rectifications(ledgers, period, county or None)
    cols = [
        "issue_id",
        "source",
        "responsible_unit",
        "description",
        "found_date",
        "deadline",
        "status",
        "amount_involved",
        "days_overdue",
    ]
    return items[[c for c in cols if c in items.columns]]


def table_html(
    df: pd.DataFrame,
    headers: Mapping[str, str] | None = None,
    limit: int = MAX_DRILL_ROWS,
    total: int | None = None,
) -> str:
    """A masked, Chinese-headed HTML table of ledger rows (personal data never unmasked)."""
    if df is None or df.empty:
        return f'<div class="wb-empty">{_esc(t("dash.empty.rows"))}</div>'
    shown = mask_frame(df.head(limit))  # the engine masks too; masking twice is harmless
    names = dict(headers or {})
    # the rows' own ledger names its columns first (a rectification's status is 整改状态, not
    # the cases ledger's 案件状态): the ledger whose key columns the rows carry
    own = [lg for lg in LEDGERS.values() if all(k in df.columns for k in lg.key)]
    for lg in [*own[:1], *LEDGERS.values()]:
        for f in lg.fields:
            # money is shown with its unit (1.6万元): the header drops its own "(元)"
            names.setdefault(
                f.name,
                f.header.replace("(元)", "").replace("（元）", "")
                if f.type == "yuan"
                else f.header,
            )
    names.setdefault("days_overdue", t("dash.col.days_overdue"))
    head = "".join(
        f"<th>{_esc(names.get(str(c), c))}</th>"
        for c in shown.columns
        if not str(c).startswith("_")
    )
    body = []
    for rec in shown.to_dict("records"):
        cells = []
        for c, v in rec.items():
            if str(c).startswith("_"):
                continue
            if isinstance(v, pd.Timestamp):
                text = fmt.date_label(v)
            elif isinstance(v, float) and (
                "amount" in str(c)
                or "fine" in str(c)
                or "reward" in str(c)
                or "expenditure" in str(c)
            ):
                text = fmt.money(v)
            elif isinstance(v, bool):
                text = "是" if v else "否"
            else:
                text = "—" if _missing(v) else str(v)
            cells.append(f"<td>{_esc(text)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    more = ""
    total = len(df) if total is None else total
    if total > len(shown):
        more = f'<div class="wb-note">{_esc(t("dash.rows.more", n=total, shown=len(shown)))}</div>'
    return (
        f'<div class="wb-scroll"><table class="wb-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>{more}"
    )


def overdue_html(ledgers: Mapping[str, pd.DataFrame] | None, view: View) -> str:
    if ledgers is None:
        return _part(
            "overdue", view.key, f'<div class="wb-empty">{_esc(t("dash.empty.ledgers"))}</div>'
        )
    items = overdue_items(ledgers, view.county, view.period)
    note = f'<div class="wb-note">{_esc(t("dash.overdue.count", n=len(items)))}</div>'
    return _part("overdue", view.key, note + table_html(items))


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
