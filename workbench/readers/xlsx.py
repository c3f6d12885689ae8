"""Parsing a workbook, in the sandbox child (`workbench.sandbox`): each ledger sheet's body
handed over in the ledger's layout, small sheets in memory, big ones as a numbered UTF-8 CSV.
Nothing here imports pandas: the child stays small.
"""

from __future__ import annotations

import csv
import itertools
import json
import operator
import tempfile
from pathlib import Path
from typing import Any

from workbench.contracts import LEDGERS
from workbench.privacy import mask_text
from workbench.readers.headers import HEADER_SCAN_ROWS, detect_header, sheet_from_match
from workbench.readers.sheets import (
    SMALL_SHEET_ROWS,
    Issue,
    Limits,
    RawSheet,
    ReadResult,
    SheetSource,
    cell_text,
    first_text,
)
from workbench.readers.xlsx_checks import SheetScan, excel_col, inspect_workbook


IGNORED_SHEETS = {"填表说明", "说明", "选项", "readme", "instructions"}


# ---------------------------------------------------------------- xlsx: parsing (in the child)


def _text_row(r: list) -> list[str | None]:
    return [(v.strip() or None) if v.__class__ is str else cell_text(v) for v in r]


def _merge_plan(
    merges: list | None, header_row0: int, width: int
) -> dict[int, list[tuple[int, int]]]:
    """Merged ranges that span rows below the header: start row → [(column, end row)],
    0-based (a merged cell shows its value over the whole range; the file holds it once)."""
    plan: dict[int, list[tuple[int, int]]] = {}
    for (r0, c0), (r1, _c1) in merges or []:
        if r1 > r0 and r0 > header_row0 and 0 <= c0 < width:
            plan.setdefault(r0, []).append((c0, r1))
    return plan


def read_workbook(path: str, display: str, limits: Limits, workdir: str) -> ReadResult:
    """Parse a workbook (run in the sandbox): each ledger sheet's body is written as a numbered
    UTF-8 CSV in `workdir` (`_row` then one column per header position), text as the clerk
    meant it, blank rows left out, vertically merged cells filled down (with a warning)."""
    from python_calamine import CalamineWorkbook

    scans, issues = inspect_workbook(Path(path), display, limits)
    if any(i.severity == "error" and not i.sheet for i in issues):
        return ReadResult(Path(path), [], issues)
    try:
        wb = CalamineWorkbook.from_path(path)
    except Exception as exc:  # calamine raises its own error types for non-workbooks
        issues.append(Issue("E_NOT_WORKBOOK", display, params={"detail": str(exc)[:200]}))
        return ReadResult(Path(path), [], issues)
    sheets: list[RawSheet] = []
    refused = {i.sheet for i in issues if i.code == "E_SHEET_TOO_LARGE"}
    for meta in wb.sheets_metadata:
        name = meta.name
        shown = mask_text(name)
        if shown in refused:
            continue
        hidden = str(meta.visible).lower().endswith(("hidden", "veryhidden"))
        try:
            sheet = wb.get_sheet_by_name(name)
            raw = _read_sheet(sheet, display, shown, hidden, scans.get(name), limits, workdir)
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - a damaged sheet: say so, read the others
            issues.append(
                Issue("E_SHEET_UNREADABLE", display, shown, params={"detail": str(exc)[:200]})
            )
            continue
        found, sheet_issues = raw
        issues.extend(sheet_issues)
        if found is not None:
            sheets.append(found)
    return ReadResult(Path(path), sheets, issues)


def _read_sheet(
    sheet: Any,
    file: str,
    name: str,
    hidden: bool,
    scan: SheetScan | None,
    limits: Limits,
    workdir: str,
) -> tuple[RawSheet | None, list[Issue]]:
    issues: list[Issue] = []
    if sheet.start is None:
        issues.append(Issue("W_EMPTY_SHEET", file, name, severity="warning"))
        return None, issues
    left = [None] * sheet.start[1]  # iter_rows starts at row 0 but at the first used column
    rows = (
        (left + _text_row(r) for r in sheet.iter_rows())
        if left
        else (_text_row(r) for r in sheet.iter_rows())
    )
    head = list(itertools.islice(rows, HEADER_SCAN_ROWS))
    match = detect_header(head)
    if match is None:
        if not any(any(r) for r in itertools.chain(head, rows)):
            issues.append(Issue("W_EMPTY_SHEET", file, name, severity="warning"))
        elif name.strip().lower() not in IGNORED_SHEETS:
            issues.append(Issue("W_SHEET_UNRECOGNISED", file, name, severity="warning"))
        return None, issues
    raw = sheet_from_match(file, name, match, limits, issues)
    if raw is None:
        return None, issues
    raw.hidden = hidden
    if hidden:
        issues.append(
            Issue(
                "W_HIDDEN_SHEET",
                file,
                name,
                severity="warning",
                params={"ledger": LEDGERS[match.ledger].title},
            )
        )
    width = raw.ncols
    plan = _merge_plan(sheet.merged_cell_ranges, match.row_index, width)
    formulas = sorted(scan.formulas) if scan else []
    formula_rows = {r for r, _c in formulas}
    # each field's cell in one C call: a missing field reads the None appended after the row
    places = [raw.columns.get(f, width) for f in LEDGERS[raw.ledger].field_names]
    pick = operator.itemgetter(*places) if len(places) > 1 else lambda r: (r[places[0]],)
    extra = raw.extra
    kept: list[tuple] = []  # the ledger's layout: row, fields, extra, first text cell
    out = None  # a CSV once the sheet outgrows memory
    filling: dict[int, tuple[str | None, int]] = {}  # column → (value, last row), 0-based
    try:
        body = itertools.chain(head[match.row_index + 1 :], rows)
        for i, full in enumerate(body, start=match.row_index + 1):
            n = len(full)
            cells = full if n == width else full[:width] + [None] * (width - n)
            for c, last in plan.get(i, ()):
                filling[c] = (cells[c], last)
                issues.append(
                    Issue(
                        "W_MERGED_FILLED",
                        file,
                        name,
                        row=i + 1,
                        column=_header_at(raw, c),
                        value=cells[c],
                        severity="warning",
                        params={"first": i + 1, "last": last + 1},
                    )
                )
            for c, (value, last) in list(filling.items()):
                if i > last:
                    del filling[c]
                elif cells[c] is None:
                    cells[c] = value
            if not any(cells):
                continue
            unknown = {lab: cells[j] for j, lab in extra if cells[j] is not None}
            first = first_text(cells)
            cells.append(None)
            kept.append(
                (
                    i + 1,
                    *pick(cells),
                    json.dumps(unknown, ensure_ascii=False) if unknown else None,
                    first,
                )
            )
            if len(kept) >= SMALL_SHEET_ROWS:
                if out is None:
                    fd, out_name = tempfile.mkstemp(suffix=".csv", dir=workdir)
                    out = open(fd, "w", encoding="utf-8", newline="")
                    writer = csv.writer(out, lineterminator="\n")
                writer.writerows(kept)
                kept.clear()
            if i + 1 in formula_rows:
                issues += [
                    Issue(
                        "W_FORMULA_CELL",
                        file,
                        name,
                        row=r,
                        column=excel_col(col) + "列",
                        severity="warning",
                    )
                    for r, col in formulas
                    if r == i + 1 and col < width
                ]
        if out is not None:
            writer.writerows(kept)
            kept.clear()
    finally:
        if out is not None:
            out.close()
    if scan and scan.formula_count > len(formulas):
        issues.append(
            Issue(
                "W_FORMULA_CELLS_MORE",
                file,
                name,
                severity="warning",
                params={"n": scan.formula_count - len(formulas)},
            )
        )
    if out is None:
        raw.rows = kept
    else:
        raw.source = SheetSource(
            Path(out_name), ",", 0, width, numbered=True, temporary=True, ledger=raw.ledger
        )
    return raw, issues


def _header_at(raw: RawSheet, col: int) -> str:
    for name, i in raw.columns.items():
        if i == col:
            return raw.headers[name]
    for i, lab in raw.extra:
        if i == col:
            return lab
    return excel_col(col) + "列"
