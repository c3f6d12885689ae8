"""Tables for taking away: one writer of .xlsx and CSV for every face (compute's export, the
cockpit's and the county page's download buttons, drill-through rows).

A `Table` is a frame plus what each column is (`Column.kind`): the writer turns that into real
spreadsheet number formats — a rate is a fraction shown as a percentage, money is yuan with two
decimals (or 万元, said in the header), a count a whole number, a date an Excel date — instead of
General cells with float noise (2010136.039999999). A column of indicator values, whose unit
differs from row to row, takes each row's unit and decimals from two other columns (`by_unit`)
and gets one format per cell, with the unit written in the format (`#,##0"件"`). Headers are the
Chinese headers given; every text cell and header is neutralised against formula injection
(`privacy.excel_safe`). CSV gets the same numbers rounded the same way, as plain numbers (a rate
in percent, its header saying so), UTF-8 with a BOM so that Excel reads it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from workbench import fmt
from workbench.privacy import excel_safe

TEXT = "text"
INTEGER = "integer"  # whole numbers: 1,548
NUMBER = "number"  # decimals as declared (default: as many as needed, at most 2)
PERCENT = "percent"  # a fraction, shown as 87.3%
YUAN = "yuan"  # money in yuan, two decimals; the header says (元)
WAN_YUAN = "wan_yuan"  # money given in yuan, written in 万元; the header says (万元)
DATE = "date"
BOOL = "bool"  # 是 / 否
BY_UNIT = "by_unit"  # each row's unit (and decimals) from other columns: indicator values
PLACE = "place"  # a rank's place: 2 when whole, 2.5 for a median between two places
KINDS = (TEXT, INTEGER, NUMBER, PERCENT, YUAN, WAN_YUAN, DATE, BOOL, BY_UNIT, PLACE)

_HEADER_UNIT = {YUAN: "元", WAN_YUAN: "万元"}
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


@dataclass(frozen=True)
class Column:
    """One column of a table: the frame's column `key`, its Chinese `header`, what it holds."""

    key: str
    header: str
    kind: str = TEXT
    decimals: int | None = None
    unit_column: str | None = None  # BY_UNIT: the frame column holding each row's unit
    decimals_column: str | None = None  # BY_UNIT: … and each row's decimals

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}")

    @property
    def title(self) -> str:
        """The header as written: money says its unit, a CSV rate its percent."""
        unit = _HEADER_UNIT.get(self.kind)
        if unit and unit not in self.header:
            return f"{self.header}（{unit}）"
        return self.header


@dataclass(frozen=True)
class Table:
    """A sheet: a name (≤ 31 characters in Excel), its rows and columns, an optional note
    written under the rows (what the table counts, where it comes from)."""

    name: str
    frame: pd.DataFrame
    columns: tuple[Column, ...]
    note: str = ""
    widths: Mapping[str, float] = field(default_factory=dict)


def infer_columns(
    frame: pd.DataFrame,
    headers: Mapping[str, str] | None = None,
    kinds: Mapping[str, str | Column] | None = None,
    skip: Iterable[str] = (),
) -> tuple[Column, ...]:
    """Columns for every column of `frame` (except `skip` and names starting with `_`): a kind
    from `kinds` (a kind name or a whole Column), else from the data (dates, booleans, whole
    numbers, other numbers, text)."""
    headers = dict(headers or {})
    kinds = dict(kinds or {})
    skip = set(skip)
    out = []
    for key in frame.columns:
        name = str(key)
        if name in skip or name.startswith("_"):
            continue
        given = kinds.get(name)
        if isinstance(given, Column):
            out.append(given)
            continue
        out.append(Column(name, headers.get(name, name), given or _infer_kind(frame[key])))
    return tuple(out)


def _infer_kind(s: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(s):
        return BOOL
    if pd.api.types.is_datetime64_any_dtype(s):
        return DATE
    if pd.api.types.is_integer_dtype(s):
        return INTEGER
    if pd.api.types.is_float_dtype(s):
        vals = s.dropna()
        if len(vals) and (vals == vals.round()).all() and (vals.abs() < 1e15).all():
            return INTEGER
        return NUMBER
    vals = s.dropna()
    if len(vals) and all(isinstance(v, (dt.date, pd.Timestamp)) for v in vals):
        return DATE
    if len(vals) and all(isinstance(v, bool) for v in vals):
        return BOOL
    return TEXT


# -- one cell ---------------------------------------------------------------------------------
def _round(x: float, digits: int) -> float:
    """Half up, as the formatter rounds what a reader sees (76.25 → 76.3), so a cell and the
    cockpit's text agree."""
    return fmt._round(x, digits)


def _number(v: object) -> float | None:
    x = fmt.finite(v)
    return None if x is None or isinstance(v, bool) else x


def _date(v: object) -> dt.datetime | None:
    if fmt.missing(v) or v is pd.NaT or (isinstance(v, str) and not v.strip()):
        return None
    try:
        ts = pd.Timestamp(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if ts is pd.NaT or pd.isna(ts):
        return None
    return ts.to_pydatetime().replace(tzinfo=None)


def _decimals(col: Column, row: Mapping[str, Any] | None, unit: str) -> int:
    if col.decimals_column and row is not None:
        d = row.get(col.decimals_column)
        if not fmt.missing(d) and fmt.finite(d) is not None:
            return max(0, min(int(float(d)), 6))  # type: ignore[arg-type]
    if col.decimals is not None:
        return col.decimals
    return fmt.default_decimals(unit)


def _quoted(unit: str) -> str:
    return '"' + unit.replace('"', "") + '"' if unit else ""


def _digits_format(d: int, suffix: str = "") -> str:
    return ("#,##0" + ("." + "0" * d if d else "")) + suffix


def cell(col: Column, value: object, row: Mapping[str, Any] | None = None) -> tuple[Any, str]:
    """(value to write, Excel number format) of one cell; text and blanks get format ""."""
    kind = col.kind
    if kind == BY_UNIT:
        unit = "" if row is None else str(row.get(col.unit_column or "", "") or "").strip()
        if fmt.missing(unit) or unit == "nan":
            unit = ""
        x = _number(value)
        if x is None:
            return None, ""
        d = _decimals(col, row, unit)
        u = fmt.unit_kind(unit)
        if u == fmt.PERCENT:
            return _round(x, d + 2), "0" + ("." + "0" * d if d else "") + "%"
        if u == fmt.SCORE:
            return _round(x, d), "0" + ("." + "0" * d if d else "")
        if u == fmt.MONEY and unit in ("元", "yuan"):
            return _round(x, 2), _digits_format(2, _quoted("元"))
        return _round(x, d), _digits_format(d, _quoted(unit))
    if kind in (INTEGER, NUMBER, PERCENT, YUAN, WAN_YUAN, PLACE):
        x = _number(value)
        if x is None:
            return None, ""
        if kind == PLACE:  # as `presentation.ranks.median_text` writes it on the pages
            d = fmt.place_decimals(x)
            return _round(x, d), _digits_format(d)
        if kind == INTEGER:
            return int(_round(x, 0)), "#,##0"
        if kind == PERCENT:
            d = 1 if col.decimals is None else col.decimals
            return _round(x, d + 2), "0" + ("." + "0" * d if d else "") + "%"
        if kind == YUAN:
            return _round(x, 2), "#,##0.00"
        if kind == WAN_YUAN:
            d = 2 if col.decimals is None else col.decimals
            return _round(x / 1e4, d), _digits_format(d)
        d = col.decimals
        if d is None:
            d = 0 if float(x).is_integer() else 2
        return _round(x, d), _digits_format(d)
    if kind == DATE:
        return _date(value), "yyyy-mm-dd"
    if kind == BOOL:
        if fmt.missing(value) or value is pd.NA:
            return None, ""
        return ("是" if bool(value) else "否"), ""
    if fmt.missing(value) or value is pd.NaT:
        return None, ""
    return excel_safe(str(value)), ""


def csv_value(col: Column, value: object, row: Mapping[str, Any] | None = None) -> object:
    """The cell as CSV writes it: the rounded number (a rate in percent), an ISO date, 是/否."""
    v, number_format = cell(col, value, row)
    if v is None:
        return ""
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time() else v.isoformat(sep=" ")
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        places = _places(number_format)
        return f"{v * 100:.{places}f}" if number_format.endswith("%") else f"{v:.{places}f}"
    return v


def _places(number_format: str) -> int:
    """Decimals an Excel number format shows (`#,##0.00"元"` → 2, `0.0%` → 1)."""
    m = re.search(r"\.(0+)", number_format.split('"')[0])
    return len(m.group(1)) if m else 0


def csv_header(col: Column) -> str:
    title = col.title
    if col.kind == PERCENT and "%" not in title:
        title = f"{title}（%）"
    return str(excel_safe(title))


# -- writers ----------------------------------------------------------------------------------
def sheet_name(name: str, taken: Iterable[str] = ()) -> str:
    """An Excel sheet name: no []:*?/\\, at most 31 characters, unique among `taken`."""
    base = _SHEET_BAD.sub("_", str(name)).strip("'") or "Sheet"
    base = base[:31]
    taken = set(taken)
    out, i = base, 2
    while out in taken:
        tail = f"_{i}"
        out = base[: 31 - len(tail)] + tail
        i += 1
    return out


def _width(text: object) -> float:
    s = "" if text is None else str(text)
    return sum(2.0 if ord(ch) > 0x2E80 else 1.1 for ch in s)


def write_xlsx(tables: Sequence[Table], target: str | Path | io.BytesIO | None = None) -> Any:
    """Write the tables, one sheet each, to `target` (a path or a buffer); without a target
    return the workbook's bytes. Header row frozen and filterable, columns sized to fit."""
    import xlsxwriter

    buffer = io.BytesIO() if target is None else None
    out: Any = buffer if buffer is not None else target
    if isinstance(out, (str, Path)):
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        out = str(out)
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False})
    formats: dict[str, Any] = {}

    def fmt_of(num_format: str, bold: bool = False) -> Any:
        key = f"{num_format}|{bold}"
        if key not in formats:
            spec: dict[str, Any] = {"font_name": "等线", "valign": "top"}
            if num_format:
                spec["num_format"] = num_format
            if bold:
                spec.update(bold=True, bg_color="#DDEBF7", border=1, text_wrap=True)
            formats[key] = book.add_format(spec)
        return formats[key]

    taken: list[str] = []
    for table in tables:
        name = sheet_name(table.name, taken)
        taken.append(name)
        ws = book.add_worksheet(name)
        cols = table.columns
        widths = [_width(c.title) for c in cols]
        for j, c in enumerate(cols):
            ws.write_string(0, j, str(excel_safe(c.title)), fmt_of("", bold=True))
        records = table.frame.to_dict("records")
        for i, rec in enumerate(records, start=1):
            for j, c in enumerate(cols):
                v, number_format = cell(c, rec.get(c.key), rec)
                if v is None:
                    continue
                if isinstance(v, dt.datetime):
                    ws.write_datetime(i, j, v, fmt_of(number_format))
                    shown = 10
                elif isinstance(v, (int, float)) and not isinstance(v, bool):
                    ws.write_number(i, j, v, fmt_of(number_format))
                    unit = number_format.split('"')[1] if '"' in number_format else ""
                    shown = _width(f"{v:,.{_places(number_format)}f}{unit}") + 1
                else:
                    ws.write_string(i, j, str(v), fmt_of(""))
                    shown = _width(v)
                widths[j] = max(widths[j], shown)
        for j, c in enumerate(cols):
            ws.set_column(j, j, min(max(table.widths.get(c.key, widths[j]) + 2, 6), 60))
        ws.freeze_panes(1, 0)
        if records and cols:
            ws.autofilter(0, 0, len(records), len(cols) - 1)
        if table.note:
            ws.write_string(len(records) + 2, 0, str(excel_safe(table.note)), fmt_of(""))
    book.close()
    return buffer.getvalue() if buffer is not None else Path(str(target))


def write_csv(table: Table, target: str | Path | None = None) -> Any:
    """One table as CSV (UTF-8 with BOM); without a target return its bytes."""
    text = io.StringIO()
    w = csv.writer(text, lineterminator="\r\n")
    w.writerow([csv_header(c) for c in table.columns])
    for rec in table.frame.to_dict("records"):
        w.writerow([csv_value(c, rec.get(c.key), rec) for c in table.columns])
    data = ("\ufeff" + text.getvalue()).encode("utf-8")
    if target is None:
        return data
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    Path(target).write_bytes(data)
    return Path(target)
