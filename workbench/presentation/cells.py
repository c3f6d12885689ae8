"""Ledger rows as a reader sees them: what each column holds, from its contract field (money,
date, count, yes/no), and the text of a cell through the one formatter.

The drill-through tables on the county page and their downloads read these, so a table never
shows "NaT" for an empty date or 1636040058.36 for a sum of money, and the .xlsx of the same
rows gets real number formats (`workbench.excel`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import pandas as pd

from workbench import excel, fmt
from workbench.contracts import LEDGERS
from workbench.messages import t

# contract field type → table column kind
_FIELD_KINDS = {"yuan": excel.YUAN, "date": excel.DATE, "int": excel.INTEGER, "bool": excel.BOOL}
# columns the as-of lists add (presentation.lists)
_COMPUTED = {
    "days_overdue": excel.INTEGER,
    "days_open": excel.INTEGER,
    "last_inspection": excel.DATE,
}


@functools.cache
def field_kinds() -> dict[str, str]:
    """Column name → kind for every ledger field, by its name, its Chinese header and, for
    joined columns, `ledger.field` and `台账·表头` (as `drill.chinese_headers` names them)."""
    out: dict[str, str] = {}
    for lg in LEDGERS.values():
        for f in lg.fields:
            kind = _FIELD_KINDS.get(f.type, excel.TEXT)
            for name in (f.name, f.header, f"{lg.name}.{f.name}", f"{lg.title}·{f.header}"):
                out.setdefault(name, kind)
    out.update(_COMPUTED)
    return out


def ledger_columns(
    frame: pd.DataFrame, headers: Mapping[str, str] | None = None
) -> tuple[excel.Column, ...]:
    """Columns of ledger rows (machine or Chinese names), each with its kind; `headers` names
    machine columns (else the ledgers' own headers, then the column itself)."""
    kinds = field_kinds()
    names = dict(headers or {})
    own = [lg for lg in LEDGERS.values() if all(k in frame.columns for k in lg.key)]
    for lg in [*own[:1], *LEDGERS.values()]:  # the rows' own ledger names its columns first
        for f in lg.fields:
            names.setdefault(f.name, f.header)
    names.setdefault("days_overdue", t("pres.col.days_overdue"))
    names.setdefault("days_open", t("pres.col.days_open"))
    names.setdefault("last_inspection", t("pres.col.last_inspection"))
    names.setdefault("institution_name", t("pres.col.institution_name"))
    return tuple(
        excel.Column(str(c), names.get(str(c), str(c)), kinds.get(str(c), _guess(frame[c])))
        for c in frame.columns
        if not str(c).startswith("_")
    )


def _guess(s: pd.Series) -> str:
    if pd.api.types.is_datetime64_any_dtype(s):
        return excel.DATE
    if pd.api.types.is_bool_dtype(s):
        return excel.BOOL
    return excel.TEXT


def header_text(col: excel.Column) -> str:
    """A column's header on screen: money carries its unit in every cell, so not in the head."""
    if col.kind == excel.YUAN:
        return col.header.replace("(元)", "").replace("（元）", "")
    return col.header


def _blank(v: object) -> bool:
    if v is None or v is pd.NaT or fmt.missing(v):
        return True
    try:
        return bool(pd.isna(v))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def yuan_text(value: object) -> str:
    """A ledger row's amount as entered, to the fen: 121,608.74元 (a list of rows shows each
    row's own money this way on every face; totals and narratives use `fmt.money`)."""
    v = None if _blank(value) else fmt.finite(value)
    return "—" if v is None else f"{fmt.number(v, 2)}元"


def cell_text(col: excel.Column, value: object) -> str:
    """One cell as text: 20,054.18元, 2025年9月30日, 1,548, 是/否; a blank is —."""
    if _blank(value):
        return "—"
    kind = col.kind
    if kind == excel.YUAN:
        return yuan_text(value)
    if kind == excel.WAN_YUAN:
        return fmt.money(value)
    if kind == excel.DATE:
        try:
            return fmt.date_label(pd.Timestamp(value))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return str(value)
    if kind == excel.INTEGER:
        return fmt.number(value)
    if kind == excel.NUMBER:
        v = fmt.finite(value)
        return "—" if v is None else fmt.number(v, 0 if float(v).is_integer() else 2)
    if kind == excel.PERCENT:
        return fmt.percent(value)
    if kind == excel.BOOL:
        return t("pres.yes") if bool(value) else t("pres.no")
    return str(value)
