"""The warehouse: one DuckDB file holding submissions, ledgers, quarantine, runs and results.

Each ledger has a table `<ledger>` with every accepted row of every live submission, and a view
`<ledger>_current` holding, per business key, the row from the newest submission (latest period,
then latest ingest, then latest row). Which row that is gets decided when rows are written, not
when they are read: every writer (ingest, `load_frames`) ends with `refresh_current`, which
marks each row's `_live` flag, so the view — and `read_ledger`, which fetches its rows through
Arrow so text never becomes millions of Python objects — is a plain filtered scan.
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from workbench.contracts import LEDGERS, Ledger

log = logging.getLogger(__name__)

SQL_TYPES = {
    "text": "VARCHAR",
    "code6": "VARCHAR",
    "enum": "VARCHAR",
    "id_card": "VARCHAR",
    "month": "VARCHAR",
    "int": "BIGINT",
    "yuan": "DOUBLE",
    "date": "DATE",
    "bool": "BOOLEAN",
}
INLINE_ARCHIVE_MAX = 16 * 1024 * 1024  # bigger submitted files are archived beside the database
META_COLUMNS = ("_submission_id", "_period", "_file", "_sheet", "_source_row", "_extra")
LIVE = "_live"  # true on the rows of `<ledger>_current` (kept by `refresh_current`)

SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    submission_id VARCHAR PRIMARY KEY,   -- sha256 of the file bytes
    file_name VARCHAR, county_code VARCHAR, period VARCHAR,
    ingested_at TIMESTAMP, size_bytes BIGINT, content BLOB,
    rows_total BIGINT, rows_accepted BIGINT, rows_quarantined BIGINT,
    status VARCHAR,                      -- 有效 | 已被替换
    replaced_by VARCHAR
);
CREATE TABLE IF NOT EXISTS replacements (
    old_submission_id VARCHAR, new_submission_id VARCHAR, county_code VARCHAR, period VARCHAR,
    replaced_at TIMESTAMP, rows_removed BIGINT
);
CREATE TABLE IF NOT EXISTS quarantine (
    submission_id VARCHAR, ledger VARCHAR, file VARCHAR, sheet VARCHAR, row_number BIGINT,
    reasons VARCHAR, codes VARCHAR, raw VARCHAR
);
CREATE TABLE IF NOT EXISTS ingest_issues (
    submission_id VARCHAR, severity VARCHAR, file VARCHAR, sheet VARCHAR, row_number BIGINT,
    column_header VARCHAR, value VARCHAR, code VARCHAR, message VARCHAR
);
"""


def ledger_ddl(lg: Ledger) -> str:
    cols = [f'"{f.name}" {SQL_TYPES[f.type]}' for f in lg.fields]
    cols += [
        '"_submission_id" VARCHAR',
        '"_period" VARCHAR',
        '"_file" VARCHAR',
        '"_sheet" VARCHAR',
        '"_source_row" BIGINT',
        '"_extra" VARCHAR',
        f'"{LIVE}" BOOLEAN DEFAULT true',
    ]
    return f'CREATE TABLE IF NOT EXISTS "{lg.name}" ({", ".join(cols)});'


def current_view_ddl(lg: Ledger) -> str:
    return (
        f'CREATE OR REPLACE VIEW "{lg.name}_current" AS '
        f'SELECT * EXCLUDE ("{LIVE}") FROM "{lg.name}" WHERE "{LIVE}";'
    )


def ranked_view_ddl(lg: Ledger) -> str:
    """What `<ledger>_current` is, by definition: per business key, the row of the newest
    submission (latest period, then latest ingest, then latest row), rows of a submission that
    no longer exists left out. `refresh_current` materialises this as the `_live` flag."""
    key = ", ".join(f'"{k}"' for k in lg.key)
    return (
        f"SELECT t.* EXCLUDE (_ingested_at, _rid) FROM ("
        f'SELECT l.*, l.rowid AS _rid, s.ingested_at AS _ingested_at FROM "{lg.name}" l '
        f"JOIN submissions s ON s.submission_id = l._submission_id) t "
        f"QUALIFY row_number() OVER (PARTITION BY {key} "
        f"ORDER BY t._period DESC, t._ingested_at DESC, t._source_row DESC, t._rid DESC) = 1"
    )


_OPEN: weakref.WeakValueDictionary[str, Warehouse] = weakref.WeakValueDictionary()


class Warehouse:
    """A handle on the DuckDB file. Use as a context manager or call `close()`."""

    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        self.path = Path(path)
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(str(self.path), read_only=read_only)
        self._live: dict[str, bool] = {}  # ledger → whether its table carries `_live`
        self.closed = False
        _OPEN[str(self.path.resolve())] = self
        if not read_only:
            self.ensure_schema()

    def ensure_schema(self) -> None:
        """Create what is missing; a file written before rows carried `_live` gains the column,
        marked from the data."""
        self.con.execute(SCHEMA)
        for lg in LEDGERS.values():
            self.con.execute(ledger_ddl(lg))
        have = self._live_ledgers()
        for lg in LEDGERS.values():
            if lg.name not in have:
                self.con.execute(
                    f'ALTER TABLE "{lg.name}" ADD COLUMN "{LIVE}" BOOLEAN DEFAULT true'
                )
                self.refresh_current([lg.name])
            self.con.execute(current_view_ddl(lg))
        self._live.clear()

    def _live_ledgers(self) -> set[str]:
        rows = self.con.execute(
            "SELECT table_name FROM duckdb_columns() WHERE column_name = ? AND NOT internal", [LIVE]
        ).fetchall()
        return {r[0] for r in rows}

    def has_live(self, name: str) -> bool:
        """Whether the ledger's table carries the `_live` flag (files from before it may not,
        when opened read-only: their `_current` view still ranks at read time)."""
        if name not in self._live:
            try:  # one cheap probe per ledger (the catalog views are slow on a cold file)
                self.con.execute(f'SELECT "{LIVE}" FROM "{name}" LIMIT 0').fetchall()
                self._live[name] = True
            except duckdb.Error:
                self._live[name] = False
        return self._live[name]

    def refresh_current(self, names: Sequence[str] | None = None) -> dict[str, int]:
        """Mark which rows are current (`_live`), after rows were written or deleted.

        Almost every key has one row, and a row whose key is unique is current by definition;
        so only the rows of keys that repeat (found by a 64-bit hash of the key, a superset)
        are ranked as `ranked_view_ddl` ranks them, and only rows whose flag changes are
        updated. Rows of a submission that no longer exists are never current. Returns the
        number of rows not current per ledger."""
        stale: dict[str, int] = {}
        for name in names or list(LEDGERS):
            key = ", ".join(f'"{k}"' for k in LEDGERS[name].key)
            l_key = ", ".join(f'l."{k}"' for k in LEDGERS[name].key)
            # Stale: rows of a vanished submission, and every row of a repeated key but the
            # newest (ranked among rows whose submission exists).
            self.con.execute(f"""
                CREATE OR REPLACE TEMP TABLE _wb_stale AS
                WITH rep AS (SELECT hash({key}) AS h FROM "{name}" GROUP BY 1
                             HAVING count(*) > 1),
                     cand AS (SELECT l.rowid AS rid, {l_key}, l._period, l._source_row,
                                     s.ingested_at
                              FROM "{name}" l
                              JOIN submissions s ON s.submission_id = l._submission_id
                              WHERE hash({l_key}) IN (SELECT h FROM rep))
                SELECT l.rowid AS rid FROM "{name}" l ANTI JOIN submissions s
                    ON s.submission_id = l._submission_id
                UNION
                SELECT rid FROM cand
                QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY _period DESC,
                        ingested_at DESC, _source_row DESC, rid DESC) > 1""")
            self.con.execute(
                f'UPDATE "{name}" SET "{LIVE}" = false WHERE rowid IN '
                f'(SELECT rid FROM _wb_stale) AND "{LIVE}" IS DISTINCT FROM false'
            )
            self.con.execute(
                f'UPDATE "{name}" SET "{LIVE}" = true WHERE "{LIVE}" IS DISTINCT '
                f"FROM true AND rowid NOT IN (SELECT rid FROM _wb_stale)"
            )
            stale[name] = self.con.execute("SELECT count(*) FROM _wb_stale").fetchall()[0][0]
            self.con.execute("DROP TABLE _wb_stale")
        return stale

    def close(self) -> None:
        self.con.close()
        self.closed = True
        key = str(self.path.resolve())
        if _OPEN.get(key) is self:
            del _OPEN[key]

    @staticmethod
    def open_in_process(path: str | Path) -> Warehouse | None:
        """This process's open handle on the file, if any: DuckDB refuses a second connection
        to a file with a different configuration (read-only beside read-write), so readers
        that open the file on demand use this one when it exists."""
        wh = _OPEN.get(str(Path(path).resolve()))
        return wh if wh is not None and not wh.closed else None

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All or nothing: on any exception the warehouse is left as it was."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        else:
            self.con.execute("COMMIT")

    @property
    def archive_dir(self) -> Path:
        """Where files too big to keep inside the database are archived, by content hash."""
        return self.path.parent / f"{self.path.stem}_archive"

    def archive_path(self, submission_id: str, file_name: str) -> Path:
        return self.archive_dir / submission_id[:2] / (submission_id + Path(file_name).suffix)

    def archive_file(self, submission_id: str, file_name: str, data: bytes) -> bytes | None:
        """Archive a submitted file's bytes: small files go in `submissions.content` (returned,
        for the caller's INSERT); big ones to `archive_dir`, written atomically (returns None)."""
        if len(data) <= INLINE_ARCHIVE_MAX:
            return data
        target = self.archive_path(submission_id, file_name)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(target.suffix + ".part")
            tmp.write_bytes(data)
            tmp.replace(target)
        return None

    def archived_bytes(self, submission_id: str) -> bytes:
        """The original bytes of a submitted file, wherever they were archived."""
        content, name = self.con.execute(
            "SELECT content, file_name FROM submissions WHERE submission_id = ?", [submission_id]
        ).fetchone()
        if content is not None:
            return bytes(content)
        return self.archive_path(submission_id, name).read_bytes()

    def read_ledger(
        self,
        name: str,
        current: bool = True,
        with_meta: bool = False,
        columns: Sequence[str] | None = None,
        county: str | None = None,
    ) -> pd.DataFrame:
        """Accepted rows of one ledger (the `_current` rows unless `current=False`), typed:
        dates datetime64[ns], money float64, booleans `boolean`, integers `Int64`, text as
        pandas strings (missing: NaN; None where pandas keeps text as objects).

        `columns` (ledger fields or meta columns, in the order given) reads only those: the
        rows and values are exactly the full read's, so callers that know what they use (the
        indicator engine) skip the rest of the table. `county` keeps that county's rows only.
        """
        lg = LEDGERS[name]
        cols = _columns(lg, columns, with_meta)
        fetch = cols or [lg.key[0]]  # no columns asked: still the right number of rows
        rel = self.current_relation(name) if current else f'"{name}"'
        where = "" if county is None else " WHERE county_code = ?"
        table = self._arrow(
            f"SELECT {_quoted(fetch)} FROM {rel}{where}", None if county is None else [str(county)]
        )
        return arrow_frame(table.select(cols), lg)

    def load_frames(
        self,
        frames: Mapping[str, pd.DataFrame],
        submission_id: str = "frames",
        period: str = "2025-12",
        county_code: str | None = None,
    ) -> None:
        """Load ledgers already in memory and known to be valid (a demo city, another system's
        extract) as one live submission, in one transaction. Skips validation: use `ingest`
        for anything a person typed."""
        with self.transaction() as con:
            con.execute(
                "INSERT INTO submissions VALUES (?, ?, ?, ?, now(), 0, NULL, 0, 0, 0, "
                "'有效', NULL)",
                [submission_id, submission_id, county_code, period],
            )
            for name, df in frames.items():
                lg = LEDGERS[name]
                full = pd.DataFrame({f: (df[f] if f in df else None) for f in lg.field_names})
                full = full.assign(
                    _submission_id=submission_id,
                    _period=period,
                    _file=submission_id,
                    _sheet=lg.title,
                    _source_row=range(2, len(full) + 2),
                    _extra=None,
                )
                con.register("v_frame_in", full[lg.field_names + list(META_COLUMNS)])
                try:
                    con.execute(f'INSERT INTO "{name}" BY NAME SELECT * FROM v_frame_in')
                finally:
                    con.unregister("v_frame_in")
            self.refresh_current(list(frames))

    def read_ledgers(
        self, columns: Mapping[str, Sequence[str]] | None = None
    ) -> dict[str, pd.DataFrame]:
        """Every ledger's current rows; `columns` maps a ledger to the columns to read (ledgers
        left out are read whole)."""
        columns = columns or {}
        return {name: self.read_ledger(name, columns=columns.get(name)) for name in LEDGERS}

    def _arrow(self, sql: str, params: list | None = None) -> pa.Table:
        rel = self.con.sql(sql, params=params)
        return rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.arrow()

    def current_relation(self, name: str) -> str:
        """SQL for the current rows of a ledger: the table filtered on `_live`, or — in a file
        from before the flag, opened read-only — its `_current` view, which ranks at read time."""
        if self.has_live(name):
            return f'(SELECT * EXCLUDE ("{LIVE}") FROM "{name}" WHERE "{LIVE}")'
        return f'"{name}_current"'

    def table(self, sql: str, params: list | None = None) -> pd.DataFrame:
        return self.con.execute(sql, params or []).df()


def _columns(lg: Ledger, columns: Sequence[str] | None, with_meta: bool) -> list[str]:
    if columns is None:
        return lg.field_names + (list(META_COLUMNS) if with_meta else [])
    known = set(lg.field_names) | set(META_COLUMNS)
    unknown = [c for c in columns if c not in known]
    if unknown:
        raise KeyError(f"{lg.name}: no such column(s) {unknown}")
    return list(dict.fromkeys(columns))


def _quoted(cols: Sequence[str]) -> str:
    return ", ".join(f'"{c}"' for c in cols)


def _bool_or_int(t: pa.DataType) -> object:
    if pa.types.is_boolean(t):
        return pd.BooleanDtype()
    if pa.types.is_integer(t):
        return pd.Int64Dtype()
    return None


def arrow_frame(table: pa.Table, lg: Ledger) -> pd.DataFrame:
    """An Arrow table of ledger columns → the pandas dtypes `coerce_frame_types` gives, without
    going through Python objects (text stays Arrow-backed under pandas' string dtype)."""
    types = {f.name: f.type for f in lg.fields}
    for i, name in enumerate(table.column_names):
        if types.get(name) == "date":
            table = table.set_column(i, name, table.column(i).cast(pa.timestamp("ns")))
        elif types.get(name) == "yuan":
            table = table.set_column(i, name, table.column(i).cast(pa.float64()))
    return table.to_pandas(types_mapper=_bool_or_int)


def coerce_frame_types(df: pd.DataFrame, lg: Ledger) -> pd.DataFrame:
    """Give ledger columns stable pandas dtypes, whatever DuckDB returned."""
    for f in lg.fields:
        if f.name not in df.columns:
            continue
        col = df[f.name]
        if f.type == "date":
            df[f.name] = pd.to_datetime(col).astype("datetime64[ns]")
        elif f.type == "bool":
            df[f.name] = col.astype("boolean")
        elif f.type == "int":
            df[f.name] = col.astype("Int64")
        elif f.type == "yuan":
            df[f.name] = col.astype("float64")
        else:
            df[f.name] = col.astype("object").where(col.notna(), None)
    return df


@contextlib.contextmanager
def reading(source: Warehouse | str | Path) -> Iterator[Warehouse]:
    """A warehouse to read from: `source` itself if it is a `Warehouse` still open, else this
    process's open handle on the file (see `Warehouse.open_in_process`), else the file opened
    read-only for the duration of the block."""
    if isinstance(source, Warehouse):
        if not source.closed:
            yield source
            return
        source = source.path
    shared = Warehouse.open_in_process(source)
    if shared is not None:
        yield shared
        return
    with Warehouse(Path(source), read_only=True) as wh:
        yield wh


def open_warehouse(path: str | Path | None = None, read_only: bool = False) -> Warehouse:
    from workbench.config import warehouse_path

    return Warehouse(warehouse_path(path), read_only=read_only)
