"""Reading submitted files into raw text tables: find each ledger's sheet and header row.

Everything read here is text (or None): typing and validation happen later, in one place
(`validate.py`). Row numbers are kept as the user sees them in Excel (1-based, header included).
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import functools
import io
import json
import logging
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from workbench.contracts import LEDGERS, normalise_header

log = logging.getLogger(__name__)

HEADER_SCAN_ROWS = 30
MIN_HEADER_MATCHES = 3
IGNORED_SHEETS = {"填表说明", "说明", "选项", "readme", "instructions"}
SUPPORTED_SUFFIXES = {".xlsx", ".xlsm", ".csv", ".txt"}


@dataclass
class Issue:
    """One finding, pointing at a cell as the user sees it. `code` is stable; text comes later."""

    code: str
    file: str
    sheet: str = ""
    row: int | None = None
    column: str = ""
    value: object = None
    severity: str = "error"
    params: dict = field(default_factory=dict)


@dataclass
class CsvSource:
    """A CSV body that DuckDB reads directly (UTF-8; other encodings are transcoded first)."""

    path: Path
    sep: str
    skip: int  # physical lines before the first data row
    ncols: int
    temporary: bool = False

    def relation(self) -> str:
        cols = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(self.ncols)) + "}"
        path = str(self.path).replace("'", "''")
        sep = self.sep.replace("'", "''")
        return (
            f"read_csv('{path}', header=false, skip={self.skip}, delim='{sep}', quote='\"', "
            f"escape='\"', columns={cols}, auto_detect=false, null_padding=true, "
            f"strict_mode=false)"
        )


@dataclass
class RawSheet:
    """A ledger's rows as text, not yet in the database. `load` puts them in temp table
    `t_raw(_row, _extra, <field>…)`: `_row` as Excel numbers it, `_extra` JSON of unknown
    columns, one VARCHAR column per contract field found (trimmed, blank → NULL)."""

    file: str
    sheet: str
    ledger: str
    header_row: int
    headers: dict[str, str]  # field name → header as written in the file
    columns: dict[str, int]  # field name → column position in the file
    extra: list[tuple[int, str]]  # (position, header) of unknown columns
    missing: list[str]
    frame: pd.DataFrame | None = None  # body cells as text, columns numbered by position
    source: CsvSource | None = None
    hidden: bool = False

    def normalised_frame(self, sheet_id: int) -> pd.DataFrame:
        """Body as (_sheet, _row, _extra, _keep, <field>…), ready to stack with other sheets."""
        body = self.frame
        out = pd.DataFrame({name: body[f"c{i}"] for name, i in self.columns.items()})
        out.insert(0, "_sheet", sheet_id)
        out.insert(1, "_row", range(self.header_row + 1, self.header_row + 1 + len(body)))
        if self.extra:
            ex = body[[f"c{i}" for i, _ in self.extra]]
            labels = [h for _, h in self.extra]
            out.insert(
                2,
                "_extra",
                [
                    json.dumps(
                        {k: v for k, v in zip(labels, rec) if v is not None}, ensure_ascii=False
                    )
                    if any(v is not None for v in rec)
                    else None
                    for rec in ex.itertuples(index=False, name=None)
                ],
            )
        else:
            out.insert(2, "_extra", None)
        out["_keep"] = ~body.isna().all(axis=1).to_numpy()  # cells are stripped, "" → None
        return out

    def stage_csv(self, con, sheet_id: int, fields: list[str]) -> str:
        """Read the CSV body into temp table `t_csv_<id>` (DuckDB, in parallel, file order kept)
        and return SQL over it: (_sheet, _row, _extra, <fields>) as trimmed text, blank → NULL,
        blank rows dropped, fields absent from this file NULL. `_row` comes from the table's
        rowid, which follows file order, so no window function is needed."""
        table = f"t_csv_{sheet_id}"
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM {self.source.relation()}"
        )
        cell = {i: f"nullif(trim(c{i}), '')" for i in range(self.source.ncols)}
        if self.extra:
            pairs = ", ".join(f"{_sql_str(h)}, {cell[i]}" for i, h in self.extra)
            extra = f"CAST(json_object({pairs}) AS VARCHAR)"
        else:
            extra = "CAST(NULL AS VARCHAR)"
        null = "CAST(NULL AS VARCHAR)"
        cols = "".join(
            f', {cell[self.columns[n]] if n in self.columns else null} AS "{n}"' for n in fields
        )
        any_cell = " OR ".join(f"{c} IS NOT NULL" for c in cell.values()) or "false"
        low, high, n = con.execute(
            f"SELECT min(rowid), max(rowid), count(*) FROM {table}"
        ).fetchone()
        if n and high - low + 1 == n:
            # rowids follow file order; inside a transaction they may start at an offset
            row = f"CAST({self.header_row + 1 - low} + rowid AS BIGINT)"
        else:  # not contiguous: number rows explicitly (slower, single-threaded)
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT row_number() OVER () "
                f"AS _n, * FROM {self.source.relation()}"
            )
            row = f"CAST({self.header_row} + _n AS BIGINT)"
        return (
            f"SELECT CAST({sheet_id} AS INTEGER) AS _sheet, {row} AS _row, "
            f"{extra} AS _extra{cols} FROM {table} WHERE {any_cell}"
        )

    def column_values(self, name: str) -> pd.Series:
        """One field's non-blank text values (for working out who sent a file)."""
        if name not in self.columns:
            return pd.Series([], dtype=object)
        if self.frame is not None:
            return self.frame[f"c{self.columns[name]}"].dropna()
        import duckdb

        with duckdb.connect() as con:
            return (
                con.execute(
                    f"SELECT DISTINCT nullif(trim(c{self.columns[name]}), '') AS v "
                    f"FROM {self.source.relation()}"
                )
                .df()["v"]
                .dropna()
            )

    def cleanup(self) -> None:
        if self.source is not None and self.source.temporary:
            self.source.path.unlink(missing_ok=True)


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


@dataclass
class ReadResult:
    path: Path
    sheets: list[RawSheet]
    issues: list[Issue]


# ---------------------------------------------------------------- cell values → text


def cell_text(v: object) -> str | None:
    """Excel cell value → the text a clerk meant. Integral floats lose `.0` (codes, counts)."""
    if v is None:
        return None
    if isinstance(v, str):
        s = v.strip()
        return s or None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if v != v:
            return None
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d") if v.time() == dt.time() else v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, dt.date):
        return v.strftime("%Y-%m-%d")
    if isinstance(v, dt.time):
        return v.strftime("%H:%M:%S")
    if isinstance(v, dt.timedelta):
        return str(v)
    return str(v).strip() or None


# ---------------------------------------------------------------- header detection


@dataclass
class HeaderMatch:
    ledger: str
    row_index: int  # 0-based index of the (last) header row in the rows list
    span: int  # 1 or 2 header rows
    columns: list[str | None]  # per column: field name or None
    labels: list[str]  # per column: header text as written
    score: float


MAX_HEADER_LEN = 40  # longer cells are data, not headers: skip normalising them


@functools.cache
def _header_owners() -> dict[str, tuple[tuple[str, str], ...]]:
    """Normalised header → every (ledger, field) it can name."""
    owners: dict[str, list[tuple[str, str]]] = {}
    for name, lg in LEDGERS.items():
        for key, field_name in lg.header_index().items():
            owners.setdefault(key, []).append((name, field_name))
    return {k: tuple(v) for k, v in owners.items()}


def _keys(labels: list[str]) -> list[str]:
    return [normalise_header(lab) if lab and len(lab) <= MAX_HEADER_LEN else "" for lab in labels]


def _two_row_labels(top: list[str], bottom: list[str]) -> list[str]:
    """Merged group headers: the top label carries right over blanks (merged cells)."""
    carried: list[str] = []
    last = ""
    for t in top:
        last = t or last
        carried.append(last)
    return [b or c for b, c in zip(bottom, carried)]


def _score_candidate(
    labels: list[str], keys: list[str], span: int, row_index: int, best: HeaderMatch | None
) -> HeaderMatch | None:
    owners = _header_owners()
    per_ledger: dict[str, list[str | None]] = {}
    for pos, key in enumerate(keys):
        for ledger_name, field_name in owners.get(key, ()):
            cols = per_ledger.setdefault(ledger_name, [None] * len(keys))
            if field_name not in cols:
                cols[pos] = field_name
    for ledger_name, cols in per_ledger.items():
        lg = LEDGERS[ledger_name]
        required = {f.name for f in lg.fields if f.required}
        hits = {c for c in cols if c}
        if len(hits) < min(MIN_HEADER_MATCHES, len(lg.fields)) or 2 * len(hits & required) < len(
            required
        ):
            continue
        # favour covering the ledger and its required fields; tie → fewer header rows
        score = len(hits) / len(lg.fields) + len(hits & required) / max(len(required), 1)
        score -= 0.001 * span
        if best is None or score > best.score:
            best = HeaderMatch(ledger_name, row_index, span, cols, labels, score)
    return best


def detect_header(rows: list[list[str | None]]) -> HeaderMatch | None:
    """Best (ledger, header row) among the first rows; two-row headers are tried too."""
    best: HeaderMatch | None = None
    scan = rows[:HEADER_SCAN_ROWS]
    width = max((len(r) for r in scan), default=0)
    padded = [[(c or "") for c in r] + [""] * (width - len(r)) for r in scan]
    keys = [_keys(r) for r in padded]
    for i, labels in enumerate(padded):
        best = _score_candidate(labels, keys[i], 1, i, best)
        if i > 0 and any(keys[i - 1]):
            two = _two_row_labels(padded[i - 1], labels)
            best = _score_candidate(two, _keys(two), 2, i, best)
    return best


def closest_header(missing_header: str, candidates: list[str]) -> str | None:
    got = difflib.get_close_matches(missing_header, candidates, n=1, cutoff=0.5)
    return got[0] if got else None


def rows_to_sheet(
    file: str, sheet: str, rows: list[list[str | None]], hidden: bool, issues: list[Issue]
) -> RawSheet | None:
    """Turn a sheet's text rows into a RawSheet, or record why it holds no ledger."""
    non_empty = [r for r in rows if any(c for c in r)]
    if not non_empty:
        issues.append(Issue("W_EMPTY_SHEET", file, sheet, severity="warning"))
        return None
    match = detect_header(rows)
    if match is None:
        if sheet.strip().lower() not in IGNORED_SHEETS:
            issues.append(Issue("W_SHEET_UNRECOGNISED", file, sheet, severity="warning"))
        return None
    if hidden:
        issues.append(
            Issue(
                "W_HIDDEN_SHEET",
                file,
                sheet,
                severity="warning",
                params={"ledger": LEDGERS[match.ledger].title},
            )
        )
    width = len(match.columns)
    body = pd.DataFrame(
        [(r + [None] * (width - len(r)))[:width] for r in rows[match.row_index + 1 :]],
        columns=[f"c{i}" for i in range(width)],
        dtype=object,
    )
    raw = _frame_to_sheet(file, sheet, match, body, issues)
    raw.hidden = hidden
    return raw


# ---------------------------------------------------------------- xlsx

_CELL_F_RE = re.compile(rb'<c r="([A-Z]+)(\d+)"[^>]*?>\s*<f[ >/]')


def _col_index(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ch - 64)
    return n - 1


def formula_cells(path: Path) -> dict[str, set[tuple[int, int]]]:
    """Sheet name → {(excel_row, col_index)} of cells holding formulas (values are cached)."""
    out: dict[str, set[tuple[int, int]]] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            wb = zf.read("xl/workbook.xml").decode("utf-8", "replace")
            rels = zf.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
            targets = dict(re.findall(r'Id="([^"]+)"[^>]*Target="([^"]+)"', rels))
            targets.update(
                {k: v for v, k in re.findall(r'Target="([^"]+)"[^>]*Id="([^"]+)"', rels)}
            )
            for name, rid in re.findall(r'<sheet [^>]*name="([^"]+)"[^>]*r:id="([^"]+)"', wb):
                target = targets.get(rid, "")
                member = target.lstrip("/") if target.startswith("/") else "xl/" + target
                if member not in zf.namelist():
                    continue
                xml = zf.read(member)
                if b"<f" not in xml:
                    continue
                cells = {(int(r), _col_index(c)) for c, r in _CELL_F_RE.findall(xml)}
                if cells:
                    import html

                    out[html.unescape(name)] = cells
    except (KeyError, zipfile.BadZipFile):
        pass
    return out


def read_xlsx(path: Path, display: str) -> ReadResult:
    from python_calamine import CalamineWorkbook

    issues: list[Issue] = []
    try:
        wb = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types for non-workbooks
        issues.append(Issue("E_NOT_WORKBOOK", display, params={"detail": str(exc)[:200]}))
        return ReadResult(path, [], issues)
    formulas = formula_cells(path)
    sheets: list[RawSheet] = []
    for meta in wb.sheets_metadata:
        name = meta.name
        hidden = str(meta.visible).lower().endswith(("hidden", "veryhidden"))
        try:
            sheet = wb.get_sheet_by_name(name)
            rows = sheet.to_python(skip_empty_area=False)
        except Exception as exc:
            issues.append(
                Issue("E_SHEET_UNREADABLE", display, name, params={"detail": str(exc)[:200]})
            )
            continue
        text_rows = [[cell_text(v) for v in r] for r in rows]
        raw = rows_to_sheet(display, name, text_rows, hidden, issues)
        if raw is None:
            continue
        if name in formulas:
            _note_formulas(raw, formulas[name], issues)
        sheets.append(raw)
    return ReadResult(path, sheets, issues)


def _note_formulas(raw: RawSheet, cells: set[tuple[int, int]], issues: list[Issue]) -> None:
    blank = raw.frame.isna().all(axis=1).to_numpy()
    rows_present = {raw.header_row + 1 + i for i in range(len(raw.frame)) if not blank[i]}
    for r, _c in sorted(cells):
        if r in rows_present:
            issues.append(
                Issue(
                    "W_FORMULA_CELL",
                    raw.file,
                    raw.sheet,
                    row=r,
                    column=_excel_col(_c),
                    severity="warning",
                )
            )


def _excel_col(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, rem = divmod(i - 1, 26)
        s = chr(65 + rem) + s
    return s + "列"


# ---------------------------------------------------------------- csv

ENCODINGS = ("utf-8-sig", "gb18030")


def decode_bytes(data: bytes) -> tuple[str, str]:
    """UTF-8 (with or without BOM), else GB18030 (a superset of GBK/GB2312)."""
    for enc in ENCODINGS:
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError:
            continue
    return data.decode("gb18030", errors="replace"), "gb18030?"


def read_csv(path: Path, display: str) -> ReadResult:
    issues: list[Issue] = []
    data = path.read_bytes()
    if b"\x00" in data[:4096] or data[:2] == b"PK":
        issues.append(Issue("E_NOT_WORKBOOK", display, params={"detail": "binary"}))
        return ReadResult(path, [], issues)
    text, enc = decode_bytes(data)
    if enc.endswith("?"):
        issues.append(Issue("W_ENCODING", display, severity="warning"))
    head_lines = text[:200_000].splitlines()[:HEADER_SCAN_ROWS]
    try:
        dialect = csv.Sniffer().sniff("\n".join(head_lines[:5]), delimiters=",\t;|")
        sep = dialect.delimiter
    except csv.Error:
        sep = ","
    head = list(csv.reader(io.StringIO("\n".join(head_lines)), delimiter=sep))
    head_rows = [[cell_text(c) for c in r] for r in head]
    match = detect_header(head_rows)
    if match is None:
        if any(any(c for c in r) for r in head_rows):
            issues.append(Issue("W_SHEET_UNRECOGNISED", display, "CSV", severity="warning"))
        else:
            issues.append(Issue("W_EMPTY_SHEET", display, "CSV", severity="warning"))
        return ReadResult(path, [], issues)
    skip = match.row_index + 1
    body_text = text.split("\n", skip)[-1] if skip else text
    if re.search(r"\n[ \t\r]*\n", body_text) or "\r" in body_text.replace("\r\n", ""):
        # blank lines or bare CR: DuckDB would renumber rows; pandas keeps Excel's numbering
        body = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            header=None,
            dtype=str,
            skiprows=skip,
            keep_default_na=False,
            na_values=[],
            skip_blank_lines=False,
            names=range(len(match.columns)),
            engine="python",
            index_col=False,
        )
        body.columns = [f"c{i}" for i in range(len(body.columns))]
        body = body.astype(object).map(cell_text)
        raw = _frame_to_sheet(display, "CSV", match, body, issues)
        return ReadResult(path, [raw], issues)
    if enc == "utf-8-sig":
        source = CsvSource(path, sep, skip, len(match.columns))
    else:
        import tempfile

        fd, tmp = tempfile.mkstemp(suffix=".csv", prefix="workbench-")
        with open(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        source = CsvSource(Path(tmp), sep, skip, len(match.columns), temporary=True)
    raw = _frame_to_sheet(display, "CSV", match, None, issues)
    raw.source = source
    return ReadResult(path, [raw], issues)


def _frame_to_sheet(
    file: str, sheet: str, match: HeaderMatch, body: pd.DataFrame | None, issues: list[Issue]
) -> RawSheet:
    """Record the sheet's structure and its findings about columns; rows load later."""
    lg = LEDGERS[match.ledger]
    header_row = match.row_index + 1
    if match.span == 2:
        issues.append(Issue("W_TWO_ROW_HEADER", file, sheet, row=header_row, severity="warning"))
    found = {c: i for i, c in enumerate(match.columns) if c}
    extra = [
        (i, lab) for i, (c, lab) in enumerate(zip(match.columns, match.labels)) if not c and lab
    ]
    missing = [f.name for f in lg.fields if f.name not in found]
    extra_labels = [lab for _, lab in extra]
    for _, lab in extra:
        issues.append(
            Issue("W_EXTRA_COLUMN", file, sheet, row=header_row, column=lab, severity="warning")
        )
    for name in missing:
        f = lg.field(name)
        hint = closest_header(f.header, extra_labels)
        issues.append(
            Issue(
                "E_MISSING_COLUMN" if f.required else "W_MISSING_COLUMN",
                file,
                sheet,
                row=header_row,
                column=f.header,
                severity="error" if f.required else "warning",
                params={"hint": hint or ""},
            )
        )
    headers = {name: match.labels[i] for name, i in found.items()}
    return RawSheet(file, sheet, lg.name, header_row, headers, found, extra, missing, frame=body)


# ---------------------------------------------------------------- dispatch

_OLD_SHEETS = (".xls", ".et", ".ods")  # old Excel, WPS, OpenDocument: to be saved as .xlsx


def list_inputs(paths: list[str | Path]) -> tuple[list[Path], list[Issue]]:
    """Files named, or found in folders (recursively), skipping Office lock files."""
    files: list[Path] = []
    issues: list[Issue] = []
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if not f.is_file() or f.name.startswith(("~$", ".")):
                    continue
                if f.suffix.lower() in SUPPORTED_SUFFIXES:
                    files.append(f)
                elif f.suffix.lower() in _OLD_SHEETS:  # a spreadsheet we cannot read: say so
                    issues.append(Issue("E_XLS_UNSUPPORTED", f.name))
        elif p.is_file():
            files.append(p)
        else:
            issues.append(Issue("E_FILE_NOT_FOUND", str(p)))
    return files, issues


def read_file(path: Path, display: str | None = None) -> ReadResult:
    display = display or path.name
    suffix = path.suffix.lower()
    head = path.read_bytes()[:8]
    if suffix in (".xlsx", ".xlsm") or head.startswith(b"PK"):
        if not head.startswith(b"PK"):
            return ReadResult(
                path, [], [Issue("E_NOT_WORKBOOK", display, params={"detail": "not a zip"})]
            )
        return read_xlsx(path, display)
    if suffix in (".csv", ".txt"):
        return read_csv(path, display)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return ReadResult(path, [], [Issue("E_XLS_UNSUPPORTED", display)])
    return ReadResult(path, [], [Issue("E_NOT_WORKBOOK", display, params={"detail": suffix})])
