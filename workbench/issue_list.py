"""Lists sent back to counties — the ingest issue list and the quarantine export — as Excel and
CSV files of any length.

Every cell goes through one treatment (`privacy.safe_cell`: ID numbers starred, formula
injection neutralised) in both formats. A list longer than an Excel sheet continues on a
second sheet (Excel) and in a second file (CSV, so Excel can open each one whole). Files are
written as `….part` and renamed when complete, so a failure (a full disk) leaves no partial or
empty list behind. The Excel writer streams: memory does not grow with the list.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from workbench.messages import t
from workbench.privacy import safe_cell

EXCEL_ROWS = 1_048_576  # rows of one Excel sheet, header included
MAX_CELL_CHARS = 32_767  # Excel's limit for one cell's text

ISSUE_HEADERS = {
    "severity": "级别",
    "file": "文件",
    "sheet": "工作表",
    "row": "行号",
    "column": "列",
    "value": "值",
    "code": "规则编码",
    "message": "说明",
}
SEVERITY = {"error": "错误", "warning": "警告"}
# The list a county reads: each finding's rule named in Chinese (问题类型) before its code, which
# stays for docs/ledgers.md and the operator's guide.
LIST_HEADERS = (
    *list(ISSUE_HEADERS.values())[:6],
    "问题类型",
    *list(ISSUE_HEADERS.values())[6:],
)
ISSUE_WIDTHS = (6, 28, 14, 6, 18, 18, 20, 22, 80)
_CODE_AT = list(ISSUE_HEADERS).index("code")


def rule_name(code: object) -> str:
    """A rule code's short Chinese name (`ingest.rule.<code>`); '' for a code without one."""
    name = t(f"ingest.rule.{code}")
    return "" if name.startswith("ingest.rule.") else name


def _named(row: Sequence[object]) -> list[object]:
    """An issue row (ISSUE_HEADERS' order) with its rule's name put before the code."""
    return [*row[:_CODE_AT], rule_name(row[_CODE_AT]), *row[_CODE_AT:]]


# ---------------------------------------------------------------- a streamed .xlsx writer

_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_EXCEL_ESCAPE = re.compile("_x(?=[0-9A-Fa-f]{4}_)")  # Excel would read _x0041_ as "A"
_NEEDS_CARE = re.compile("[&<>\x00-\x1f_\ufffe\uffff\ud800-\udfff]")


def _xml_text(s: str) -> str:
    if len(s) > MAX_CELL_CHARS:
        s = s[:MAX_CELL_CHARS]
    if _NEEDS_CARE.search(s):
        s = _ILLEGAL_XML.sub("", s)
        s = _EXCEL_ESCAPE.sub("_x005F_x", s)
        s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return s


def column_letters(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, rem = divmod(i - 1, 26)
        s = chr(65 + rem) + s
    return s


_OOXML = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{_OOXML}.sheet.main+xml"/>'
    f'<Override PartName="/xl/styles.xml" ContentType="{_OOXML}.styles+xml"/>'
    "{sheets}</Types>"
)
_SHEET_TYPE = (
    f'<Override PartName="/xl/worksheets/sheet{{n}}.xml" ContentType="{_OOXML}.worksheet+xml"/>'
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="2"><font><sz val="11"/><name val="宋体"/></font>'
    '<font><b/><sz val="11"/><name val="宋体"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_NS = (
    'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
)


class XlsxStream:
    """The smallest .xlsx Excel, WPS and LibreOffice open: inline strings, a bold header row,
    frozen and filtered, set column widths; one sheet written at a time, as rows arrive."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.zf = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1)
        self.sheets: list[tuple[str, int, int]] = []  # (name, rows, columns)
        self._fh: Any = None
        self._buf: list[str] = []
        self._rows = 0
        self._ncols = 0

    def add_sheet(self, name: str, headers: Sequence[str], widths: Sequence[float]) -> None:
        self._end_sheet()
        n = len(self.sheets) + 1
        self._fh = self.zf.open(f"xl/worksheets/sheet{n}.xml", "w", force_zip64=True)
        self.sheets.append((name, 0, len(headers)))
        self._ncols = len(headers)
        self._letters = [column_letters(i) for i in range(self._ncols)]
        cols = "".join(
            f'<col min="{i + 1}" max="{i + 1}" width="{w}" customWidth="1"/>'
            for i, w in enumerate(widths)
        )
        selected = ' tabSelected="1"' if n == 1 else ""
        self._fh.write(
            (
                f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet {_NS}>'
                f'<sheetViews><sheetView workbookViewId="0"{selected}>'
                '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
                '</sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>'
                f"{'<cols>' + cols + '</cols>' if cols else ''}<sheetData>"
            ).encode()
        )
        self._rows = 0
        self.write_row(headers, style=1)

    def write_row(self, values: Sequence[object], style: int = 0) -> None:
        self._rows += 1
        r = self._rows
        s = f' s="{style}"' if style else ""
        cells = []
        for letter, v in zip(self._letters, values):
            if v is None or v == "":
                continue
            if isinstance(v, str):
                text = _xml_text(v)
                space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
                cells.append(
                    f'<c r="{letter}{r}"{s} t="inlineStr"><is><t{space}>{text}</t></is></c>'
                )
            elif isinstance(v, bool):
                cells.append(f'<c r="{letter}{r}"{s} t="b"><v>{int(v)}</v></c>')
            elif isinstance(v, int):
                cells.append(f'<c r="{letter}{r}"{s}><v>{v}</v></c>')
            elif isinstance(v, float):
                if math.isfinite(v):
                    cells.append(f'<c r="{letter}{r}"{s}><v>{v!r}</v></c>')
            else:
                text = _xml_text(str(v))
                cells.append(f'<c r="{letter}{r}"{s} t="inlineStr"><is><t>{text}</t></is></c>')
        self._buf.append(f'<row r="{r}">{"".join(cells)}</row>')
        if len(self._buf) >= 2000:
            self._flush()

    def _flush(self) -> None:
        if self._buf:
            self._fh.write("".join(self._buf).encode("utf-8", "replace"))
            self._buf.clear()

    def _end_sheet(self) -> None:
        if self._fh is None:
            return
        self._flush()
        last = f"{column_letters(max(self._ncols, 1) - 1)}{max(self._rows, 2)}"
        self._fh.write(f'</sheetData><autoFilter ref="A1:{last}"/></worksheet>'.encode())
        self._fh.close()
        self._fh = None
        name, _, ncols = self.sheets[-1]
        self.sheets[-1] = (name, self._rows, ncols)

    def close(self) -> None:
        self._end_sheet()
        sheets = "".join(
            f'<sheet name="{_xml_text(name)}" sheetId="{i}" r:id="rId{i}"/>'
            for i, (name, _, _) in enumerate(self.sheets, 1)
        )
        names = "".join(
            f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
            f"'{_xml_text(name)}'!$A$1:${column_letters(max(ncols, 1) - 1)}${max(rows, 2)}"
            "</definedName>"
            for i, (name, rows, ncols) in enumerate(self.sheets)
        )
        self.zf.writestr(
            "xl/workbook.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f"<workbook {_NS}><sheets>{sheets}</sheets>"
            f"{'<definedNames>' + names + '</definedNames>' if names else ''}</workbook>",
        )
        rels = "".join(
            f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/'
            f'2006/relationships/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, len(self.sheets) + 1)
        )
        styles_id = len(self.sheets) + 1
        rels += (
            f'<Relationship Id="rId{styles_id}" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/styles" Target="styles.xml"/>'
        )
        self.zf.writestr(
            "xl/_rels/workbook.xml.rels",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships '
            f'xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}'
            "</Relationships>",
        )
        self.zf.writestr("xl/styles.xml", _STYLES)
        self.zf.writestr("_rels/.rels", _ROOT_RELS)
        types = "".join(_SHEET_TYPE.format(n=i) for i in range(1, len(self.sheets) + 1))
        self.zf.writestr("[Content_Types].xml", _CONTENT_TYPES.format(sheets=types))
        self.zf.close()

    def abort(self) -> None:
        try:
            if self._fh is not None:
                self._fh.close()
            self.zf.close()
        except Exception:  # noqa: BLE001 - the file is being thrown away
            pass


# ---------------------------------------------------------------- lists in both formats


class ListWriter:
    """Rows → `<base>.xlsx` and `<base>.csv` (UTF-8 with BOM, so Excel reads it), split at
    Excel's row limit, every cell through `safe_cell`. Use as a context manager: the files
    appear (renamed from `.part`) only when the block ends without an error."""

    def __init__(
        self,
        base: Path,
        headers: Sequence[str],
        widths: Sequence[float] = (),
        sheet: str = "清单",
        formats: Sequence[str] = ("xlsx", "csv"),
        rows_per_part: int = EXCEL_ROWS - 1,
    ) -> None:
        self.base = base
        self.headers = [safe_cell(h) for h in headers]
        self.widths = widths
        self.sheet = sheet
        self.formats = formats
        self.rows_per_part = rows_per_part
        self.rows = 0
        self._parts: list[tuple[Path, Path]] = []  # (.part, final)
        self._xlsx: XlsxStream | None = None
        self._csv: Any = None
        self._csv_fh: Any = None

    def _target(self, suffix: str, n: int) -> Path:
        name = self.base.name + (f"_{n}" if n > 1 else "") + suffix
        final = self.base.with_name(name)
        part = final.with_name(final.name + ".part")
        self._parts.append((part, final))
        return part

    def _next_part(self) -> None:
        n = self.rows // self.rows_per_part + 1
        if "xlsx" in self.formats:
            if self._xlsx is None:
                self._xlsx = XlsxStream(self._target(".xlsx", 1))
            self._xlsx.add_sheet(
                self.sheet if n == 1 else f"{self.sheet}{n}", self.headers, self.widths
            )
        if "csv" in self.formats:
            if self._csv_fh is not None:
                self._csv_fh.close()
            self._csv_fh = open(self._target(".csv", n), "w", encoding="utf-8-sig", newline="")
            self._csv = csv.writer(self._csv_fh)
            self._csv.writerow(self.headers)

    def write(self, row: Sequence[object]) -> None:
        if self.rows % self.rows_per_part == 0 and (self.rows or not self._parts):
            self._next_part()
        cells = [safe_cell(v) for v in row]
        if self._xlsx is not None:
            self._xlsx.write_row(cells)
        if self._csv is not None:
            self._csv.writerow(["" if v is None else v for v in cells])
        self.rows += 1

    def __enter__(self) -> ListWriter:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            try:
                self.close()
                return
            except BaseException:
                self.abort()
                raise
        self.abort()

    def close(self) -> list[Path]:
        if not self._parts:
            self._next_part()  # an empty list still has its header
        if self._xlsx is not None:
            self._xlsx.close()
            self._xlsx = None
        if self._csv_fh is not None:
            self._csv_fh.close()
            self._csv_fh = None
        for part, final in self._parts:
            os.replace(part, final)
        self.paths = [final for _part, final in self._parts]
        return self.paths

    def abort(self) -> None:
        if self._xlsx is not None:
            self._xlsx.abort()
        if self._csv_fh is not None:
            try:
                self._csv_fh.close()
            except OSError:
                pass
        for part, _final in self._parts:
            part.unlink(missing_ok=True)


def write_list(
    rows: Iterable[Sequence[object]],
    base: Path,
    headers: Sequence[str],
    widths: Sequence[float] = (),
    sheet: str = "清单",
    formats: Sequence[str] = ("xlsx", "csv"),
) -> list[Path]:
    with ListWriter(base, headers, widths, sheet, formats) as w:
        for row in rows:
            w.write(row)
    return w.paths


# ---------------------------------------------------------------- the ingest issue list


def _fair_cap(sizes: list[int], limit: int) -> int | None:
    """The most rows of any one kind (file, sheet, column, code) to list one by one so that the
    list holds at most `limit` such rows: small kinds whole, large ones cut alike (None: no cut
    needed)."""
    if sum(sizes) <= limit:
        return None
    lo, hi = 0, max(sizes)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sum(min(n, mid) for n in sizes) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return max(lo, 1)


def stamp_name(out_dir: Path, prefix: str) -> Path:
    """`<prefix>_<YYYYmmdd-HHMMSS>` in `out_dir`, unique even for two lists in one second."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base, n = stamp, 1
    while any(out_dir.glob(f"{prefix}_{stamp}.*")) or any(out_dir.glob(f"{prefix}_{stamp}_*")):
        n += 1
        stamp = f"{base}-{n}"
    return out_dir / f"{prefix}_{stamp}"


def _lit(s: str) -> str:
    return "'" + str(s).replace("'", "''") + "'"


ISSUE_ORDER = "ord, sheet, row_number NULLS FIRST, rid"


def issue_list_rows(
    con: Any, submission_ids: Sequence[str], limit: int
) -> Iterator[tuple[object, ...]]:
    """The rows of the issue list for some submissions (in batch order; within a file by sheet
    and row): every finding while there are at most `limit`; beyond that each kind of finding
    (file, sheet, column, code) is listed up to a fair share — its first rows — and the rest
    summarised in one line per kind. Each kind is cut by a top-N scan, never a sort of all
    findings, so a million refused rows list as fast as a thousand."""
    con.execute("CREATE OR REPLACE TEMP TABLE t_list_subs (submission_id VARCHAR, ord INTEGER)")
    if submission_ids:
        con.executemany(
            "INSERT INTO t_list_subs VALUES (?, ?)", [(s, i) for i, s in enumerate(submission_ids)]
        )
    src = (
        "SELECT i.severity, i.file, coalesce(i.sheet, '') AS sheet, i.row_number, "
        "coalesce(i.column_header, '') AS column_header, i.value, i.code, i.message, l.ord, "
        "i.rowid AS rid FROM ingest_issues i JOIN t_list_subs l USING (submission_id)"
    )
    kinds = con.execute(
        f"SELECT file, sheet, column_header, code, count(*) FROM ({src}) GROUP BY ALL"
    ).fetchall()
    cap = _fair_cap([k[4] for k in kinds], limit)
    sev = "CASE severity WHEN 'error' THEN '错误' WHEN 'warning' THEN '警告' ELSE severity END"
    cols = f"{sev}, file, sheet, row_number, column_header, value, code, message"
    big = [k[:4] for k in kinds if cap is not None and k[4] > cap]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE t_list_big (file VARCHAR, sheet VARCHAR, "
        "column_header VARCHAR, code VARCHAR)"
    )
    if big:
        con.executemany("INSERT INTO t_list_big VALUES (?, ?, ?, ?)", big)
    parts = [f"SELECT * FROM ({src}) ANTI JOIN t_list_big USING (file, sheet, column_header, code)"]
    for file, sheet, column, code in big:
        where = " AND ".join(
            f"{c} = {_lit(v)}"
            for c, v in zip(("file", "sheet", "column_header", "code"), (file, sheet, column, code))
        )
        parts.append(
            f"(SELECT * FROM ({src}) WHERE {where} ORDER BY row_number NULLS FIRST, rid "
            f"LIMIT {cap})"
        )
    cur = con.execute(f"SELECT {cols} FROM ({' UNION ALL '.join(parts)}) ORDER BY {ISSUE_ORDER}")
    while batch := cur.fetchmany(10_000):
        yield from batch
    if not big:
        return
    more = con.execute(
        f"SELECT any_value({sev}), file, sheet, column_header, code, count(*), "
        f"min(row_number), max(row_number) FROM ({src}) "
        f"SEMI JOIN t_list_big USING (file, sheet, column_header, code) "
        f"GROUP BY file, sheet, column_header, code ORDER BY min(ord), sheet, min(rid)"
    ).fetchall()
    for severity, file, sheet, column, code, n, first, last in more:
        where = t("ingest.where.file", file=file)
        if sheet:
            where += t("ingest.where.sheet", sheet=sheet)
        if column:
            where += t("ingest.where.column", column=column)
        text = t("ingest.list.more", more=n - cap, n=n, first=first or "", last=last or "", cap=cap)
        yield (severity, file, sheet, None, column, "", code, f"{where}：{text}")


def write_issue_list(
    con: Any,
    out_dir: Path,
    submission_ids: Sequence[str],
    loose: Sequence[dict] = (),
    limit: int = 20_000,
    rows_per_part: int = EXCEL_ROWS - 1,
) -> list[Path]:
    """The issue list of some submissions as .xlsx and .csv in `out_dir`; `loose`: findings
    that belong to no submission (a file not found, a link refused), listed first."""
    out_dir.mkdir(parents=True, exist_ok=True)
    base = stamp_name(out_dir, t("ingest.list.prefix"))
    with ListWriter(
        base, list(LIST_HEADERS), ISSUE_WIDTHS, t("ingest.list.sheet"), rows_per_part=rows_per_part
    ) as w:
        for row in loose:
            w.write(
                _named(
                    [SEVERITY.get(row["severity"], row["severity"])]
                    + [row[k] for k in list(ISSUE_HEADERS)[1:]]
                )
            )
        for row in issue_list_rows(con, submission_ids, limit):
            w.write(_named(row))
    return w.paths
