"""What reading produces and where it goes: findings (`Issue`), the declared limits, a ledger
sheet found in a file (`RawSheet`) and the batch's staging tables (`ReadContext`), and
the SQL pieces those tables share. Everything here is text (or NULL); typing comes later.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import logging
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.contracts import LEDGERS

log = logging.getLogger(__name__)

CHUNK = 4 << 20  # bytes read at a time from a submitted file
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


def load_sheet(
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
