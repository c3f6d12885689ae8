"""A workbook checked before anything parses it: its zip directory (each part's unzipped size,
the total, the compression ratio) and every sheet's XML read as a stream for the cells it
really holds, against the declared limits.
"""

from __future__ import annotations

import functools
import html
import os
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.privacy import mask_text
from workbench.readers.headers import HEADER_SCAN_ROWS
from workbench.readers.sheets import CHUNK, MB, Issue, Limits, size_text


FORMULA_CELLS_LISTED = 1000  # per sheet; beyond that one summary warning


# ---------------------------------------------------------------- xlsx: checks before parsing

# Cells are found by their literal start (`<c r="`, the order every writer uses), fast enough
# to read every cell of a sheet once: a regular expression with a variable prefix costs 25 times
# as much. A file that writes its attributes in another order escapes this check, not the
# child's memory cap.
_PREFIX_RE = re.compile(rb"<(\w+:)?sheetData\b")
_DIM_RE = re.compile(rb'<(?:\w+:)?dimension\b[^>]*?\bref="([A-Z0-9:]+)"')


@functools.cache
def _cell_patterns(prefix: bytes) -> tuple[re.Pattern, re.Pattern, re.Pattern, re.Pattern]:
    """Row numbers; cells in a column of two or more letters (AA…); cells on a row ≥ 1,000,000
    (rare in a ledger, and the only ones that can make a sheet's span large); formula cells."""
    p = re.escape(prefix)
    return (
        re.compile(rb"<" + p + rb'row r="(\d+)"'),
        re.compile(rb"<" + p + rb'c r="([A-Z]{2,3})(\d+)"'),
        re.compile(rb"<" + p + rb'c r="([A-Z]{1,3})(\d{7,})"'),
        re.compile(rb"<" + p + rb'c r="([A-Z]{1,3})(\d+)"[^>]*>\s*<' + p + rb"f[ >/]"),
    )


def _col_index(letters: bytes | str) -> int:
    n = 0
    for ch in letters.encode() if isinstance(letters, str) else letters:
        n = n * 26 + (ch - 64)
    return n - 1


def excel_col(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, rem = divmod(i - 1, 26)
        s = chr(65 + rem) + s
    return s


@dataclass
class SheetScan:
    """What a sheet's XML holds, read as a stream: its real span and its formula cells."""

    unzipped: int = 0
    max_row: int = 0  # 1-based
    max_col: int = 26  # 1-based; one-letter columns are never counted
    formulas: set[tuple[int, int]] = field(default_factory=set)  # (excel row, col index)
    formula_count: int = 0
    dimension: str = ""

    @property
    def span(self) -> int:
        return self.max_row * self.max_col


def scan_sheet_xml(stream: Any) -> SheetScan:
    """One pass over a sheet's XML: bytes, the largest row and column any cell claims, and the
    formula cells (values are cached in the file; the ingest reports that it used them)."""
    out = SheetScan()
    tail = b""
    rows = wide = far = formula = None
    while chunk := stream.read(CHUNK):
        out.unzipped += len(chunk)
        buf = tail + chunk
        if rows is None:
            if m := _DIM_RE.search(buf, 0, 4096):
                out.dimension = m.group(1).decode()
            m = _PREFIX_RE.search(buf)
            rows, wide, far, formula = _cell_patterns(m.group(1) or b"" if m else b"")
        if found := rows.findall(buf):
            out.max_row = max(out.max_row, max(map(int, found)))
        for col, row in wide.findall(buf) + far.findall(buf):
            out.max_col = max(out.max_col, _col_index(col) + 1)
            out.max_row = max(out.max_row, int(row))
        if b"<f" in buf or b":f" in buf:
            for col, row in formula.findall(buf):
                cell = (int(row), _col_index(col))
                if cell not in out.formulas:
                    out.formula_count += 1
                    if len(out.formulas) < FORMULA_CELLS_LISTED:
                        out.formulas.add(cell)
        cut = buf.rfind(b"<", max(0, len(buf) - 512))
        tail = buf[cut:] if cut >= 0 else b""
    return out


def _sheet_members(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → zip member holding its XML."""
    wb = zf.read("xl/workbook.xml").decode("utf-8", "replace")
    rels = zf.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
    targets = dict(re.findall(r'Id="([^"]+)"[^>]*Target="([^"]+)"', rels))
    targets.update({k: v for v, k in re.findall(r'Target="([^"]+)"[^>]*Id="([^"]+)"', rels)})
    out: dict[str, str] = {}
    names = set(zf.namelist())
    for name, rid in re.findall(r'<(?:\w+:)?sheet [^>]*name="([^"]+)"[^>]*r:id="([^"]+)"', wb):
        target = targets.get(rid, "")
        member = target.lstrip("/") if target.startswith("/") else "xl/" + target
        member = os.path.normpath(member).replace(os.sep, "/")
        if member in names:
            out[html.unescape(name)] = member
    return out


def inspect_workbook(
    path: Path, display: str, limits: Limits
) -> tuple[dict[str, SheetScan], list[Issue]]:
    """Check a workbook before any parser sees it: its zip directory (each part's unzipped size
    and compression ratio, the total), then each sheet's XML as a stream (its real span: the
    parser allocates rows × columns of it at once). A refused file has an error and no scans;
    a refused sheet has an error and is left out of the scans."""
    issues: list[Issue] = []
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        return {}, [Issue("E_NOT_WORKBOOK", display, params={"detail": str(exc)[:200]})]
    with zf:
        infos = zf.infolist()
        total = sum(i.file_size for i in infos)
        if total > limits.bytes("workbook_mb"):
            return {}, [
                Issue(
                    "E_WORKBOOK_TOO_LARGE",
                    display,
                    params={
                        "size": size_text(total),
                        "limit": size_text(limits.bytes("workbook_mb")),
                    },
                )
            ]
        for info in infos:
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > limits.bytes("sheet_mb"):
                return {}, [
                    Issue(
                        "E_PART_TOO_LARGE",
                        display,
                        params={
                            "part": info.filename,
                            "size": size_text(info.file_size),
                            "limit": size_text(limits.bytes("sheet_mb")),
                        },
                    )
                ]
            if info.file_size > MB and ratio > limits.zip_ratio:
                return {}, [
                    Issue(
                        "E_ZIP_RATIO",
                        display,
                        params={
                            "part": info.filename,
                            "ratio": int(ratio),
                            "limit": limits.zip_ratio,
                        },
                    )
                ]
        try:
            members = _sheet_members(zf)
        except (KeyError, zipfile.BadZipFile, OSError) as exc:
            return {}, [Issue("E_NOT_WORKBOOK", display, params={"detail": str(exc)[:200]})]
        scans: dict[str, SheetScan] = {}
        for name, member in members.items():
            try:
                with zf.open(member) as stream:
                    scan = scan_sheet_xml(stream)
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:  # sizes that lie
                return {}, [Issue("E_WORKBOOK_DAMAGED", display, params={"detail": str(exc)[:200]})]
            shown = mask_text(name)
            if scan.span > limits.cells or scan.max_row > limits.rows + HEADER_SCAN_ROWS:
                issues.append(
                    Issue(
                        "E_SHEET_TOO_LARGE",
                        display,
                        shown,
                        params={
                            "range": f"A1:{excel_col(scan.max_col - 1)}{scan.max_row}",
                            "cells": f"{scan.span:,}",
                            "limit": f"{limits.cells:,}",
                        },
                    )
                )
                continue
            scans[name] = scan
    return scans, issues
