"""Reading submitted files into text tables in the database: find each ledger's sheet and header
row, within declared limits, without ever holding a whole file in memory.

Everything read here is text (or NULL): typing and validation happen later, in one place
(`validate.py`). Row numbers are kept as the user sees them in Excel (1-based, header included).

- A CSV is scanned once as a stream (encoding, NUL bytes, line count) and then read by DuckDB
  straight from the file (or from a UTF-8 copy written during the scan).
- A workbook is parsed in a child process with a memory cap (`sandbox.py`), after its zip
  directory and its sheets' real extent were checked against the limits; the child writes each
  ledger sheet's body as a numbered UTF-8 CSV that DuckDB then reads.
Nothing here imports pandas: the child that parses workbooks stays small.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import datetime as dt
import difflib
import functools
import html
import io
import itertools
import operator
import json
import logging
import os
import re
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.contracts import LEDGERS, normalise_header
from workbench.privacy import mask_text

log = logging.getLogger(__name__)

HEADER_SCAN_ROWS = 30
MIN_HEADER_MATCHES = 3
IGNORED_SHEETS = {"填表说明", "说明", "选项", "readme", "instructions"}
SUPPORTED_SUFFIXES = {".xlsx", ".xlsm", ".csv", ".txt"}
CHUNK = 4 << 20  # bytes read at a time from a submitted file
HEAD_BYTES = 256 << 10  # text kept from the top of a CSV for finding its header
FORMULA_CELLS_LISTED = 1000  # per sheet; beyond that one summary warning
MB = 1 << 20
PYTHON_RESERVE_MB = 384  # this process's own objects (pandas, the reports' frames) beside DuckDB


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


# ---------------------------------------------------------------- limits


@dataclass(frozen=True)
class Limits:
    """What one submitted file may be, declared in `workbench.toml` under `[ingest]` (same
    names); anything over a limit is refused before it is parsed, with a message naming it."""

    file_mb: int = 1024  # a file's size on disk
    rows: int = 5_000_000  # data rows of one sheet or CSV
    columns: int = 256  # labelled columns of one sheet
    cells: int = 12_000_000  # rows × columns a sheet spans: the parser allocates every one
    sheet_mb: int = 1024  # one part of a workbook, unzipped
    workbook_mb: int = 2048  # every part of a workbook, unzipped
    zip_ratio: int = 200  # unzipped ÷ zipped size of one part (zip bombs reach thousands)
    issue_rows: int = 20_000  # findings listed one by one in an issue list; the rest summarised
    memory_mb: int = 2048  # the whole ingest: this process, its database and the child
    reader_memory_mb: int = 1280  # address space of the child that parses a workbook
    reader_timeout_s: int = 900  # one workbook's parse

    @classmethod
    def load(cls, overrides: dict | None = None) -> Limits:
        """Defaults, then `[ingest]` of workbench.toml, then `overrides`; a value that is not a
        positive whole number is ignored with a warning."""
        from workbench.config import load_config
        from workbench.messages import t

        section = load_config().get("ingest")
        values = dict(section) if isinstance(section, dict) else {}
        values.update(overrides or {})
        known = {f.name for f in dataclasses.fields(cls)}
        kept = {}
        for key, value in values.items():
            if key not in known:
                log.warning(t("ingest.limits.unknown", name=key))
            elif isinstance(value, int) and not isinstance(value, bool) and value > 0:
                kept[key] = value
            else:
                log.warning(t("ingest.limits.bad", name=key, value=value))
        return cls(**kept)

    def bytes(self, name: str) -> int:
        return int(getattr(self, name)) * MB

    def database_mb(self, reading: bool) -> int:
        """DuckDB's share of `memory_mb` (it spills to disk beyond): while files are read the
        workbook child may hold its whole cap, afterwards it is gone."""
        spare = self.memory_mb - PYTHON_RESERVE_MB - (self.reader_memory_mb if reading else 0)
        return max(256, spare)


def size_text(n: int) -> str:
    """Bytes as a clerk reads them: 1.2 GB, 350 MB, 12 KB."""
    if n >= 1 << 30:
        return f"{n / (1 << 30):.1f} GB"
    if n >= MB:
        return f"{n / MB:.0f} MB"
    return f"{max(1, round(n / 1024))} KB"


# ---------------------------------------------------------------- sheets as database tables


@dataclass
class SheetSource:
    """A UTF-8 CSV DuckDB reads: the submitted file itself, or a copy written while reading.
    `numbered`: its first column is the Excel row number (else rows are numbered by order).
    `ledger`: the copy is already in that ledger's layout (`normalised_names`: row, each contract
    field, unknown columns as JSON, the first text cell), else cells are by position."""

    path: Path
    sep: str
    skip: int  # physical lines before the first data row
    ncols: int
    numbered: bool = False
    parallel: bool = True  # False when quoted line breaks may occur
    temporary: bool = False
    ledger: str = ""

    def relation(self) -> str:
        if self.ledger:
            names = ["_row", *LEDGERS[self.ledger].field_names, "_extra", "_first"]
            cols = ", ".join(f"'{n}': '{'BIGINT' if n == '_row' else 'VARCHAR'}'" for n in names)
        else:
            cols = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(self.ncols))
        if self.numbered and not self.ledger:
            cols = "'_row': 'BIGINT', " + cols
        path = str(self.path).replace("'", "''")
        sep = self.sep.replace("'", "''")
        return (
            f"read_csv('{path}', header=false, skip={self.skip}, delim='{sep}', quote='\"', "
            f"escape='\"', columns={{{cols}}}, auto_detect=false, "
            f"null_padding={str(not self.numbered).lower()}, strict_mode=false, "
            f"parallel={str(self.parallel).lower()}, encoding='utf-8')"
        )


@dataclass
class RawSheet:
    """A ledger sheet found in a file: where its header is, which field each column holds.
    Loading it (`ReadContext.load`) appends its rows, as text, to the batch's staging table of
    its ledger, `t_stage_<ledger>(_sheet, _row, _extra, <field>…, _total)`: `_row` as Excel
    numbers it, `_extra` JSON of unknown columns, one trimmed VARCHAR per contract field
    (blank → NULL; a field the sheet lacks NULL), `_total` for a 合计/总计/小计 row."""

    file: str  # as shown (personal data masked)
    sheet: str
    ledger: str
    header_row: int
    headers: dict[str, str]  # field name → header as written in the file
    columns: dict[str, int]  # field name → column position in the file
    extra: list[tuple[int, str]]  # (position, header) of unknown columns
    missing: list[str]
    ncols: int = 0
    source: SheetSource | None = None
    rows: list[tuple] | None = None  # a small sheet's rows in the ledger's layout, in memory
    sheet_id: int = 0  # its rows' `_sheet`, once loaded
    table: str = ""  # a CSV's own table of positional cells (not copied into the stage)
    row_expr: str = "_row"
    hidden: bool = False

    def rows_sql(self) -> str:
        """SQL for this sheet's rows in the staging layout, wherever they were loaded."""
        if self.table:
            return self.select_sql(self.sheet_id, self.table, self.row_expr)
        return f"SELECT * FROM {stage_table(self.ledger)} WHERE _sheet = {self.sheet_id}"

    def select_sql(self, sheet_id: int, source: str, row_expr: str) -> str:
        """The staging table's columns from the sheet's positional cells `c0…cN`."""
        fields = LEDGERS[self.ledger].field_names
        cell = {i: cell_sql(f"c{i}") for i in range(self.ncols)}
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
        return (
            f"SELECT CAST({sheet_id} AS INTEGER) AS _sheet, CAST({row_expr} AS BIGINT) AS _row, "
            f"{extra} AS _extra{cols}, "
            f"{total_row_sql(first_text_sql(list(cell.values())), [f'c{i}' for i in cell])} "
            f"AS _total "
            f"FROM {source} WHERE {any_cell}"
        )

    def distinct_values(self, con: Any, name: str, limit: int = 10_000) -> list[str]:
        """Some of one field's distinct non-blank values (to work out who sent a file)."""
        if name not in self.columns or not self.sheet_id:
            return []
        rows = con.execute(
            f'SELECT DISTINCT "{name}" FROM ({self.rows_sql()}) '
            f'WHERE "{name}" IS NOT NULL LIMIT {limit}'
        ).fetchall()
        return [r[0] for r in rows]


def stage_table(ledger: str) -> str:
    return f"t_stage_{ledger}"


def normalised_names(ledger: str) -> list[str]:
    """A workbook sheet's rows as the child hands them over: row, fields, extra, first text."""
    return ["_row", *LEDGERS[ledger].field_names, "_extra", "_first"]


def _normalised_sql(ledger: str, sheet: int | str, source: str) -> str:
    fields = "".join(f', "{f}"' for f in LEDGERS[ledger].field_names)
    return (
        f"SELECT CAST({sheet} AS INTEGER), CAST(_row AS BIGINT), _extra{fields}, "
        f"{total_row_sql('_first')} FROM {source}"
    )


FLUSH_ROWS = 200_000  # small sheets' rows gathered before one insert
SMALL_SHEET_ROWS = 20_000  # a sheet up to this many rows travels in memory from the child


TOTAL_WORDS = ("合计", "总计", "小计")


TOTAL_COLUMNS = 4  # a 合计 label sits in the first columns (after a 序号, perhaps)


def first_text_sql(cells: list[str]) -> str:
    """SQL for a row's first text cell among its first columns: the first that is not a
    number (a 序号)."""
    cells = cells[:TOTAL_COLUMNS]
    if not cells:
        return "CAST(NULL AS VARCHAR)"
    return (
        "CASE "
        + " ".join(
            f"WHEN {c} IS NOT NULL AND TRY_CAST(replace({c}, ',', '') AS DOUBLE) IS NULL THEN {c}"
            for c in cells
        )
        + " END"
    )


def first_text(cells: list[str | None]) -> str | None:
    """`first_text_sql` for a row already in Python (a workbook's, in the child)."""
    for c in cells[:TOTAL_COLUMNS]:
        if c is None:
            continue
        try:
            float(c.replace(",", ""))
        except ValueError:
            return c
    return None


def total_row_sql(first: str, cells: list[str] | None = None) -> str:
    """SQL true when a row's first text cell is 合计, 总计 or 小计 (spaces and a trailing colon
    allowed): a sum row a clerk added under the data, not a record. With the row's `cells`
    (as read, untrimmed), rows without a 计 in their first columns are ruled out by a plain
    substring test first (a million rows are checked for the one sum row at their end)."""
    words = ", ".join(f"'{w}'" for w in TOTAL_WORDS)
    bare = f"rtrim(replace(replace({first}, ' ', ''), '\u3000', ''), ':：')"
    rule = f"coalesce(length({first}) <= 12 AND {bare} IN ({words}), false)"
    if cells:  # CASE, not AND: only CASE spares the other rows the full rule
        maybe = " OR ".join(f"contains({c}, '计')" for c in cells[:TOTAL_COLUMNS])
        rule = f"CASE WHEN {maybe} THEN {rule} ELSE false END"
    return rule


def cell_sql(c: str) -> str:
    """A CSV cell as text: trimmed, blank → NULL. Most cells have no space at either end and
    skip the trim (it copies the string: a second pass over a million rows' text)."""
    return (
        f"CASE WHEN starts_with({c}, ' ') OR suffix({c}, ' ') THEN nullif(trim({c}), '') "
        f"ELSE nullif({c}, '') END"
    )


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


@dataclass
class ReadResult:
    path: Path
    sheets: list[RawSheet]
    issues: list[Issue]


class ReadContext:
    """What reading a batch needs: the connection the tables go into, the limits, a folder for
    the copies written while reading (removed at the end), and the workbook sandbox."""

    def __init__(self, con: Any, limits: Limits, workdir: Path) -> None:
        self.con = con
        self.limits = limits
        self.workdir = workdir
        self._sandbox: Any = None
        self._ids = itertools.count(1)
        self.stages: list[str] = []  # one per ledger: workbook sheets
        self.tables: list[str] = []  # one per CSV
        self.typed: list[str] = []  # ledgers typed (`validate.type_ledger`) for this batch
        self._pending: dict[str, list[tuple]] = {}

    @property
    def sandbox(self) -> Any:
        if self._sandbox is None:
            from workbench.sandbox import Sandbox

            self._sandbox = Sandbox(
                self.limits.bytes("reader_memory_mb"), self.limits.reader_timeout_s
            )
        return self._sandbox

    def close_sandbox(self) -> None:
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None

    def load(self, raw: RawSheet) -> None:
        """Append the sheet's rows to its ledger's staging table. One table per ledger, not
        per sheet, and small workbook sheets gathered into one insert: a batch of hundreds of
        small workbooks costs a handful of statements, not thousands."""
        import duckdb

        sid = next(self._ids)
        raw.sheet_id = sid
        if raw.rows is not None:
            self._stage(raw.ledger)  # exists even when every sheet of the ledger is blank
            self._pending.setdefault(raw.ledger, []).extend((sid, *r) for r in raw.rows)
            raw.rows = None
            if len(self._pending[raw.ledger]) >= FLUSH_ROWS:
                self.flush()
            return
        rel = raw.source.relation()
        try:
            if raw.source.ledger:
                stage = self._stage(raw.ledger)
                self.con.execute(f"INSERT INTO {stage} {_normalised_sql(raw.ledger, sid, rel)}")
                return
            # a CSV keeps its own table: copying a million rows into the stage costs a pass
            table = f"t_csv_{sid}"
            self.tables.append(table)
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM {rel}")
            low, high, n = self.con.execute(
                f"SELECT min(rowid), max(rowid), count(*) FROM {table}"
            ).fetchall()[0]
            if n and high - low + 1 != n:  # not contiguous: number rows explicitly
                self.con.execute(
                    f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT row_number() OVER () - 1 "
                    f"AS _n, * FROM {rel}"
                )
                raw.row_expr = f"{raw.header_row + 1} + _n"
            else:
                raw.row_expr = f"{raw.header_row + 1 - (low or 0)} + rowid"
            raw.table = table
        except duckdb.Error:
            raw.sheet_id = 0
            raise
        finally:
            if raw.source.temporary:
                raw.source.path.unlink(missing_ok=True)

    def flush(self) -> None:
        """Small sheets gathered so far → their staging tables, one insert per ledger."""
        import pyarrow as pa

        for ledger, rows in self._pending.items():
            if not rows:
                continue
            names = ["_sheet", *normalised_names(ledger)]
            columns = list(zip(*rows))
            table = pa.table(
                {
                    n: pa.array(col, type=pa.int64() if n in ("_sheet", "_row") else pa.string())
                    for n, col in zip(names, columns)
                }
            )
            self.con.register("v_rows", table)
            try:
                self.con.execute(
                    f"INSERT INTO {self._stage(ledger)} "
                    f"{_normalised_sql(ledger, '_sheet', 'v_rows')}"
                )
            finally:
                self.con.unregister("v_rows")
            rows.clear()

    def _stage(self, ledger: str) -> str:
        table = stage_table(ledger)
        if table not in self.stages:
            cols = "".join(f', "{f}" VARCHAR' for f in LEDGERS[ledger].field_names)
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {table} (_sheet INTEGER, _row BIGINT, "
                f"_extra VARCHAR{cols}, _total BOOLEAN)"
            )
            self.stages.append(table)
        return table

    def drop_ledger(self, ledger: str, sheets: list[RawSheet]) -> None:
        """A ledger's staged text, once typed: its memory is free for what follows."""
        for table in [stage_table(ledger), *(raw.table for raw in sheets if raw.table)]:
            self.con.execute(f"DROP TABLE IF EXISTS {table}")
            if table in self.stages:
                self.stages.remove(table)
            if table in self.tables:
                self.tables.remove(table)

    def drop_stages(self) -> None:
        for table in [*self.stages, *self.tables]:
            self.con.execute(f"DROP TABLE IF EXISTS {table}")
        self.stages.clear()
        self.tables.clear()
        self._pending.clear()

    def temp_path(self, suffix: str) -> Path:
        fd, name = tempfile.mkstemp(suffix=suffix, dir=self.workdir)
        os.close(fd)
        return Path(name)


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

    @property
    def width(self) -> int:
        """Columns up to the last one with a header: cells further right have no name."""
        named = [i for i, (c, lab) in enumerate(zip(self.columns, self.labels)) if c or lab]
        return named[-1] + 1 if named else 0


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


def _sheet_from_match(
    file: str, sheet: str, match: HeaderMatch, limits: Limits, issues: list[Issue]
) -> RawSheet | None:
    """Record the sheet's structure and its findings about columns; rows load later."""
    lg = LEDGERS[match.ledger]
    header_row = match.row_index + 1
    width = match.width
    if width > limits.columns:
        issues.append(
            Issue(
                "E_TOO_MANY_COLUMNS",
                file,
                sheet,
                row=header_row,
                params={"n": width, "limit": limits.columns},
            )
        )
        return None
    if match.span == 2:
        issues.append(Issue("W_TWO_ROW_HEADER", file, sheet, row=header_row, severity="warning"))
    found = {c: i for i, c in enumerate(match.columns[:width]) if c}
    labels = [mask_text(lab) for lab in match.labels[:width]]
    extra = [(i, lab) for i, (c, lab) in enumerate(zip(match.columns, labels)) if not c and lab]
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
    headers = {name: labels[i] for name, i in found.items()}
    return RawSheet(file, sheet, lg.name, header_row, headers, found, extra, missing, width)


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


def _excel_col(i: int) -> str:
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
                            "range": f"A1:{_excel_col(scan.max_col - 1)}{scan.max_row}",
                            "cells": f"{scan.span:,}",
                            "limit": f"{limits.cells:,}",
                        },
                    )
                )
                continue
            scans[name] = scan
    return scans, issues


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
    raw = _sheet_from_match(file, name, match, limits, issues)
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
                        column=_excel_col(col) + "列",
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
    return _excel_col(col) + "列"


# ---------------------------------------------------------------- csv


@dataclass
class TextScan:
    """A CSV read once as a stream: its encoding, the text DuckDB will read (the file itself
    or a UTF-8 copy), the first part of the text, and what decides how rows are numbered."""

    encoding: str
    path: Path
    head: str = ""
    lines: int = 0
    blank_lines: bool = False
    bare_cr: bool = False
    quotes: bool = False
    issue: Issue | None = None


class _Restart(Exception):
    """Not UTF-8 after all (and nothing but ASCII before the first non-UTF-8 byte)."""


def _line_of(lines_before: int, data: bytes, pos: int) -> int:
    return lines_before + data[:pos].count(b"\n") + 1


def _first_utf8_line(data: bytes, lines_before: int) -> int | None:
    """The first line of `data` with non-ASCII text that is valid UTF-8 (GBK text never is)."""
    for n, line in enumerate(data.split(b"\n")):
        if not line.isascii():
            try:
                line.decode("utf-8")
                return lines_before + n + 1
            except UnicodeDecodeError:
                pass
    return None


def scan_text(path: Path, display: str, limits: Limits, workdir: Path) -> TextScan:
    """Read a CSV once, in chunks: encoding (UTF-8 with or without BOM, GB18030, UTF-16 with
    BOM), a NUL anywhere, two encodings in one file, the line count against the row limit;
    text that is not UTF-8 is copied to UTF-8 as it goes."""
    with open(path, "rb") as fh:
        start = fh.read(4)
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _scan(path, display, "utf-16", limits, workdir)
    if start.startswith(codecs.BOM_UTF8):
        return _scan(path, display, "utf-8-sig", limits, workdir)
    try:
        return _scan(path, display, "utf-8", limits, workdir)
    except _Restart:
        return _scan(path, display, "gb18030", limits, workdir)


def _scan(path: Path, display: str, enc: str, limits: Limits, workdir: Path) -> TextScan:
    copy = enc not in ("utf-8", "utf-8-sig")
    out_path = Path(tempfile.mkstemp(suffix=".csv", dir=workdir)[1]) if copy else path
    scan = TextScan(enc, out_path)
    decoder = codecs.getincrementaldecoder(enc)("strict")
    non_ascii = False
    prev = b""  # the end of the previous chunk, for patterns across chunks
    max_lines = limits.rows + HEADER_SCAN_ROWS
    out = open(out_path, "w", encoding="utf-8", newline="") if copy else None
    try:
        with open(path, "rb") as fh:
            while True:
                data = fh.read(CHUNK)
                final = not data
                if enc == "gb18030" and not data.isascii():
                    switch = _gbk_then_utf8(data, scan.lines)
                    if switch is not None:
                        scan.issue = _mixed(display, switch, "GBK（GB18030）", "UTF-8")
                        return scan
                try:
                    text = decoder.decode(data, final)
                except UnicodeDecodeError as exc:
                    pos = max(0, min(exc.start, len(data)))
                    if enc == "utf-8" and not non_ascii and data[:pos].isascii():
                        raise _Restart() from None
                    line = _line_of(scan.lines, data, pos)
                    rest = data[data.rfind(b"\n", 0, pos) + 1 :]
                    if enc.startswith("utf-8") and _decodes(rest, "gb18030"):
                        scan.issue = _mixed(display, line, "UTF-8", "GBK（GB18030）")
                    elif enc == "gb18030" and (switch := _first_utf8_line(data, scan.lines)):
                        scan.issue = _mixed(display, switch, "GBK（GB18030）", "UTF-8")
                    else:
                        scan.issue = Issue("E_BAD_BYTES", display, "CSV", row=line)
                    return scan
                non_ascii = non_ascii or not text.isascii()
                # ASCII bytes never occur inside a UTF-8 or GB18030 character, so the checks
                # run on the bytes, cheaper than on the text (UTF-16 is checked as UTF-8)
                body = text.encode("utf-8") if enc == "utf-16" else data
                if (nul := body.find(b"\x00")) >= 0:
                    line = scan.lines + body.count(b"\n", 0, nul) + 1
                    scan.issue = Issue("E_NUL_BYTE", display, "CSV", row=line)
                    return scan
                probe = prev + body
                if (
                    b"\n\n" in probe
                    or b"\n\r\n" in probe
                    or (not prev and body[:1] in (b"\n", b"\r"))
                ):
                    scan.blank_lines = True
                if not scan.bare_cr:
                    edge = probe if final else probe[:-1]
                    scan.bare_cr = edge.count(b"\r") != edge.count(b"\r\n")
                scan.quotes = scan.quotes or b'"' in body
                scan.lines += body.count(b"\n")
                if len(scan.head) < HEAD_BYTES:
                    scan.head += text[: HEAD_BYTES - len(scan.head)]
                if scan.lines > max_lines:
                    scan.issue = Issue(
                        "E_TOO_MANY_ROWS", display, "CSV", params={"limit": f"{limits.rows:,}"}
                    )
                    return scan
                if out is not None:
                    out.write(text)
                prev = body[-2:] if body else prev
                if final:
                    break
        if prev and not prev.endswith(b"\n"):
            scan.lines += 1  # a last line without a line break
        return scan
    finally:
        if out is not None:
            out.close()
            if scan.issue is not None:
                out_path.unlink(missing_ok=True)


def _mixed(display: str, line: int, first: str, then: str) -> Issue:
    return Issue(
        "E_MIXED_ENCODING", display, "CSV", row=line, params={"first": first, "then": then}
    )


def _decodes(data: bytes, enc: str) -> bool:
    cut = data.rfind(b"\n")
    try:
        (data[:cut] if cut > 0 else data).decode(enc)
        return True
    except UnicodeDecodeError:
        return False


def _gbk_then_utf8(data: bytes, lines_before: int) -> int | None:
    """In a GB18030 file: the first line of this chunk written in UTF-8, if its last lines
    with non-ASCII text are UTF-8 (checked on the last such line first: cheap per chunk)."""
    lines = data.split(b"\n")[:-1] or [data]
    for line in reversed(lines[-200:]):
        if not line.isascii():
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return None
            return _first_utf8_line(data, lines_before)
    return None


def _sniff(head_lines: list[str]) -> str:
    try:
        return csv.Sniffer().sniff("\n".join(head_lines[:5]), delimiters=",\t;|").delimiter
    except csv.Error:
        return ","


def read_csv(path: Path, display: str, ctx: ReadContext) -> ReadResult:
    issues: list[Issue] = []
    scan = scan_text(path, display, ctx.limits, ctx.workdir)
    if scan.issue is not None:
        return ReadResult(path, [], [scan.issue])
    try:
        return _read_scanned(path, display, scan, ctx, issues)
    finally:
        if scan.path != path and scan.path.exists():
            scan.path.unlink()


def _read_scanned(
    path: Path, display: str, scan: TextScan, ctx: ReadContext, issues: list[Issue]
) -> ReadResult:
    head = scan.head
    if len(head) >= HEAD_BYTES and "\n" in head:
        head = head[: head.rfind("\n") + 1]  # whole lines only
    head = head.lstrip("\ufeff")
    sep = _sniff(head.splitlines())
    reader = csv.reader(io.StringIO(head, newline=""), delimiter=sep)
    records: list[list[str | None]] = []
    line_ends: list[int] = []
    try:
        for rec in itertools.islice(reader, HEADER_SCAN_ROWS):
            records.append([cell_text(c) for c in rec])
            line_ends.append(reader.line_num)
    except csv.Error:
        pass
    match = detect_header(records)
    if match is None:
        code = "W_SHEET_UNRECOGNISED" if any(any(r) for r in records) else "W_EMPTY_SHEET"
        issues.append(Issue(code, display, "CSV", severity="warning"))
        return ReadResult(path, [], issues)
    raw = _sheet_from_match(display, "CSV", match, ctx.limits, issues)
    if raw is None:
        return ReadResult(path, [], issues)
    if scan.blank_lines or scan.bare_cr:
        # DuckDB would skip blank lines and renumber rows: number them here as Excel does
        try:
            raw.source = _numbered_copy(scan, sep, match.row_index + 1, raw.ncols, ctx)
        except csv.Error as exc:
            issues.append(Issue("E_CSV_MALFORMED", display, "CSV", params={"detail": str(exc)}))
            return ReadResult(path, [], issues)
    else:
        raw.source = SheetSource(
            scan.path, sep, line_ends[match.row_index], raw.ncols, parallel=not scan.quotes
        )
    return _load(path, display, raw, ctx, issues)


def _numbered_copy(
    scan: TextScan, sep: str, header_records: int, ncols: int, ctx: ReadContext
) -> SheetSource:
    """The body as a numbered CSV (row as Excel numbers it, then the cells), streamed."""
    out = ctx.temp_path(".csv")
    csv.field_size_limit(8 * MB)
    enc = "utf-8-sig" if scan.encoding == "utf-8-sig" else "utf-8"  # a copy is plain UTF-8
    with (
        open(scan.path, encoding=enc, newline="") as src,
        open(out, "w", encoding="utf-8", newline="") as dst,
    ):
        reader = csv.reader(src, delimiter=sep)
        writer = csv.writer(dst, lineterminator="\n")
        for n, rec in enumerate(reader, start=1):
            if n <= header_records or not any(c.strip() for c in rec):
                continue
            writer.writerow([n, *(rec[:ncols] + [""] * (ncols - len(rec)))])
    return SheetSource(out, ",", 0, ncols, numbered=True, temporary=True)


def _load(
    path: Path, display: str, raw: RawSheet, ctx: ReadContext, issues: list[Issue]
) -> ReadResult:
    import duckdb

    try:
        ctx.load(raw)
    except duckdb.Error as exc:
        m = re.search(r"Line: (\d+)", str(exc))
        issues.append(
            Issue(
                "E_CSV_MALFORMED" if raw.sheet == "CSV" else "E_SHEET_UNREADABLE",
                display,
                raw.sheet,
                row=int(m.group(1)) if m else None,
                params={"detail": str(exc).splitlines()[0][:200]},
            )
        )
        return ReadResult(path, [], issues)
    return ReadResult(path, [raw], issues)


# ---------------------------------------------------------------- dispatch

_OLD_SHEETS = (".xls", ".et", ".ods")  # old Excel, WPS, OpenDocument: to be saved as .xlsx


def list_inputs(
    paths: list[str | Path], allow_symlinks: bool = False
) -> tuple[list[Path], list[Issue]]:
    """Files named, or found in folders (recursively), skipping Office lock files. A symbolic
    link inside a folder is refused (it may point anywhere) unless `allow_symlinks`."""
    files: list[Path] = []
    issues: list[Issue] = []
    for p in map(Path, paths):
        if p.is_dir():
            found: list[Path] = []
            seen: set[str] = set()
            for root, dirs, names in os.walk(p, followlinks=allow_symlinks):
                real = os.path.realpath(root)
                if real in seen:  # a link back up the tree
                    dirs[:] = []
                    continue
                seen.add(real)
                for d in list(dirs):
                    if os.path.islink(os.path.join(root, d)) and not allow_symlinks:
                        issues.append(Issue("E_SYMLINK", mask_text(d)))
                        dirs.remove(d)
                found += [Path(root) / n for n in names]
            for f in sorted(found):
                if f.name.startswith(("~$", ".")):
                    continue
                if f.is_symlink() and not allow_symlinks:
                    issues.append(Issue("E_SYMLINK", mask_text(f.name)))
                    continue
                if not f.is_file():
                    continue
                if f.suffix.lower() in SUPPORTED_SUFFIXES:
                    files.append(f)
                elif f.suffix.lower() in _OLD_SHEETS:  # a spreadsheet we cannot read: say so
                    issues.append(Issue("E_XLS_UNSUPPORTED", mask_text(f.name)))
        elif p.is_file():
            files.append(p)
        else:
            issues.append(Issue("E_FILE_NOT_FOUND", mask_text(str(p))))
    return files, issues


def read_file(path: Path, display: str, ctx: ReadContext) -> ReadResult:
    """One file → its ledger sheets as tables in `ctx.con`, and every finding about it. A file
    that crashes or exhausts its reader is one error; the batch goes on."""
    from workbench.sandbox import SandboxError

    suffix = path.suffix.lower()
    with open(path, "rb") as fh:
        head = fh.read(8)
    if suffix in (".xlsx", ".xlsm") or head.startswith(b"PK"):
        if not head.startswith(b"PK"):
            return ReadResult(
                path, [], [Issue("E_NOT_WORKBOOK", display, params={"detail": "not a zip"})]
            )
        try:
            result = ctx.sandbox.call(
                read_workbook, str(path), display, ctx.limits, str(ctx.workdir)
            )
        except SandboxError as exc:
            code = "E_READER_TIMEOUT" if exc.reason == "timeout" else "E_READER_CRASHED"
            params = {
                "memory": size_text(ctx.limits.bytes("reader_memory_mb")),
                "seconds": ctx.limits.reader_timeout_s,
            }
            return ReadResult(path, [], [Issue(code, display, params=params)])
        except MemoryError:
            params = {"memory": size_text(ctx.limits.bytes("reader_memory_mb"))}
            return ReadResult(path, [], [Issue("E_READER_CRASHED", display, params=params)])
        sheets = []
        for raw in result.sheets:
            loaded = _load(path, display, raw, ctx, result.issues)
            sheets += loaded.sheets
        return ReadResult(path, sheets, result.issues)
    if suffix in (".csv", ".txt"):
        return read_csv(path, display, ctx)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return ReadResult(path, [], [Issue("E_XLS_UNSUPPORTED", display)])
    return ReadResult(path, [], [Issue("E_NOT_WORKBOOK", display, params={"detail": suffix})])
