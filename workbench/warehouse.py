"""The warehouse: one DuckDB file holding submissions, ledgers, quarantine, runs and results.

Each ledger has a table `<ledger>` with every accepted row of every live submission, and a view
`<ledger>_current` holding, per business key, the row from the newest submission (latest period,
then latest ingest, then latest row). Which row that is gets decided when rows are written, not
when they are read: every writer (ingest, `load_frames`) ends with `refresh_current`, which
marks each row's `_live` flag, so the view — and `read_ledger`, which fetches its rows through
Arrow so text never becomes millions of Python objects — is a plain filtered scan.

Every table is declared here (`declared_tables`: the bookkeeping tables, one table per ledger
contract, the result tables). A file an earlier version wrote is brought up to the declarations
when it is opened writable — missing tables created, missing columns added, the change recorded
in `schema_upgrades` — and read with NULL for what it lacks when opened read-only. No code per
field: a field added to a contract is a column added to every older file.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from workbench import __version__
from workbench.config import warehouse_path
from workbench.contracts import LEDGERS, Ledger
from workbench.files import atomic_write
from workbench.messages import t

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


@dataclass(frozen=True)
class Column:
    """One declared column of a warehouse table. `default` is what existing rows get when an
    upgrade adds the column (NULL when None); `constraint` only applies when the table is
    created (DuckDB cannot add a key to an existing table). A `derived` column is computed from
    the data when an upgrade adds it (see `DERIVED`), so a read-only open never fakes it."""

    name: str
    type: str
    default: str | None = None
    constraint: str = ""
    derived: bool = False

    def ddl(self, create: bool = True) -> str:
        out = f'"{self.name}" {self.type}'
        if create and self.constraint:
            out += f" {self.constraint}"
        if self.default is not None:
            out += f" DEFAULT {self.default}"
        return out


def _cols(spec: str) -> tuple[Column, ...]:
    """`name TYPE [constraint…], …` → columns (a compact way to declare the fixed tables)."""
    out = []
    for item in (part.strip() for part in spec.split(",")):
        name, kind, *rest = item.split()
        out.append(Column(name, kind, constraint=" ".join(rest)))
    return tuple(out)


# The warehouse's own tables (positional INSERTs elsewhere rely on this column order).
BOOKKEEPING: dict[str, tuple[Column, ...]] = {
    # submission_id: sha256 of the file bytes; status: 有效 | 已被替换 | …; ingested_at: when
    # the file was loaded (audit); received_at: when the bureau received it, as declared at
    # ingest (`--received-on`), NULL when not declared (see `freshness.received_time`)
    "submissions": _cols(
        "submission_id VARCHAR PRIMARY KEY, file_name VARCHAR, county_code VARCHAR, "
        "period VARCHAR, ingested_at TIMESTAMP, size_bytes BIGINT, content BLOB, "
        "rows_total BIGINT, rows_accepted BIGINT, rows_quarantined BIGINT, status VARCHAR, "
        "replaced_by VARCHAR, received_at TIMESTAMP"
    ),
    "replacements": _cols(
        "old_submission_id VARCHAR, new_submission_id VARCHAR, county_code VARCHAR, "
        "period VARCHAR, replaced_at TIMESTAMP, rows_removed BIGINT"
    ),
    "quarantine": _cols(
        "submission_id VARCHAR, ledger VARCHAR, file VARCHAR, sheet VARCHAR, row_number BIGINT, "
        "reasons VARCHAR, codes VARCHAR, raw VARCHAR"
    ),
    "ingest_issues": _cols(
        "submission_id VARCHAR, severity VARCHAR, file VARCHAR, sheet VARCHAR, "
        "row_number BIGINT, column_header VARCHAR, value VARCHAR, code VARCHAR, message VARCHAR"
    ),
}

# Every schema change the file went through: when, from which schema to which (fingerprints of
# the declared tables, see `schema_fingerprint`), by which workbench version, and what changed.
UPGRADES = "schema_upgrades"
UPGRADES_COLUMNS = _cols(
    "upgraded_at TIMESTAMP, action VARCHAR, from_schema VARCHAR, to_schema VARCHAR, "
    "workbench_version VARCHAR, changes VARCHAR"
)

# What `results.Evaluation.save` writes (each row but compute_runs' carries the run id). The
# columns are the engine's tables' (`indicators.KPI_COLUMNS`, …); tests/test_warehouse.py holds
# the two together, so a column added to a result frame is declared here too.
_KPI = (
    "run_id VARCHAR, county_code VARCHAR, county_name VARCHAR, period VARCHAR, span VARCHAR, "
    "window_start VARCHAR, window_end VARCHAR, indicator VARCHAR, indicator_name VARCHAR, "
    "unit VARCHAR, direction BIGINT, numerator DOUBLE, denominator DOUBLE, value DOUBLE, "
    "prev_value DOUBLE, yoy DOUBLE, baseline_size DOUBLE, target_op VARCHAR, target DOUBLE, "
    "gap DOUBLE, "
    "shortfall DOUBLE, met BOOLEAN, deadline VARCHAR, target_source VARCHAR, "
    "workbench_definition BOOLEAN"
)
RESULT_TABLES: dict[str, tuple[Column, ...]] = {
    "compute_runs": _cols(
        "run_id VARCHAR, computed_at TIMESTAMP, indicator_set VARCHAR, period VARCHAR, "
        "span VARCHAR, n_counties BIGINT, files VARCHAR"
    ),
    "indicator_values": _cols(_KPI),
    "city_indicator_values": _cols(_KPI),
    "index_scores": _cols(
        "run_id VARCHAR, hierarchy VARCHAR, hierarchy_name VARCHAR, county_code VARCHAR, "
        "county_name VARCHAR, node VARCHAR, node_name VARCHAR, level BIGINT, score DOUBLE, "
        "rank BIGINT, grade VARCHAR"
    ),
    "rank_uncertainty": _cols(
        "run_id VARCHAR, hierarchy VARCHAR, county_code VARCHAR, county_name VARCHAR, "
        "nominal_rank BIGINT, median_rank DOUBLE, q05 DOUBLE, q95 DOUBLE, nominal_score DOUBLE, "
        "mean_rank DOUBLE"
    ),
    "milestones": _cols(
        "run_id VARCHAR, county_code VARCHAR, county_name VARCHAR, milestone VARCHAR, "
        "milestone_name VARCHAR, indicator VARCHAR, indicator_name VARCHAR, unit VARCHAR, "
        "decimals BIGINT, op VARCHAR, target DOUBLE, deadline VARCHAR, span VARCHAR, "
        "as_of VARCHAR, basis VARCHAR, current_value DOUBLE, projected_value DOUBLE, "
        "status VARCHAR, status_label VARCHAR, months_left BIGINT, source VARCHAR"
    ),
    "lagging": _cols(
        "run_id VARCHAR, county_code VARCHAR, county_name VARCHAR, n_milestones BIGINT, "
        "milestones VARCHAR, reasons VARCHAR, n_missed_targets BIGINT, missed_targets VARCHAR, "
        "criteria VARCHAR, list_level VARCHAR, as_of VARCHAR"
    ),
}


def ledger_table_columns(lg: Ledger) -> tuple[Column, ...]:
    """A ledger's table: its contract's fields, then where each row came from, then `_live`."""
    return (
        *(Column(f.name, SQL_TYPES[f.type]) for f in lg.fields),
        *_cols(
            "_submission_id VARCHAR, _period VARCHAR, _file VARCHAR, _sheet VARCHAR, "
            "_source_row BIGINT, _extra VARCHAR"
        ),
        Column(LIVE, "BOOLEAN", default="true", derived=True),
    )


def declared_tables() -> dict[str, tuple[Column, ...]]:
    """Every table the warehouse should hold, with its columns, as this version declares them:
    the bookkeeping tables, one per ledger contract, and the result tables."""
    return {
        **BOOKKEEPING,
        UPGRADES: UPGRADES_COLUMNS,
        **{lg.name: ledger_table_columns(lg) for lg in LEDGERS.values()},
        **RESULT_TABLES,
    }


def schema_fingerprint() -> str:
    """A short hash of the declared tables, columns and types and of the `_current` views: the
    schema's version, which changes by itself when a contract gains a field (no number bumped
    by hand)."""
    tables = declared_tables()
    lines = sorted(f"{t}.{c.name} {c.type}" for t, cols in tables.items() for c in cols)
    lines += [current_view_ddl(lg) for lg in LEDGERS.values()]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:12]


def create_table_ddl(name: str, columns: Sequence[Column], temp: bool = False) -> str:
    kind = "TEMP TABLE" if temp else "TABLE"
    return f'CREATE {kind} IF NOT EXISTS "{name}" ({", ".join(c.ddl() for c in columns)});'


def ledger_ddl(lg: Ledger) -> str:
    return create_table_ddl(lg.name, ledger_table_columns(lg))


def current_view_ddl(lg: Ledger, temp: bool = False) -> str:
    kind = "TEMP VIEW" if temp else "VIEW"
    return (
        f'CREATE OR REPLACE {kind} "{lg.name}_current" AS '
        f'SELECT * EXCLUDE ("{LIVE}") FROM "{lg.name}" WHERE "{LIVE}";'
    )


@dataclass(frozen=True)
class SchemaGap:
    """What a file lacks against this version's declarations."""

    tables: tuple[str, ...]  # declared tables the file does not have
    columns: tuple[tuple[str, Column], ...]  # (table, column) missing from tables it has

    def __bool__(self) -> bool:
        return bool(self.tables or self.columns)

    def describe(self) -> str:
        """`table` / `table.column TYPE` items, as recorded in `schema_upgrades.changes`."""
        items = [f"+{t}" for t in self.tables]
        items += [f"+{t}.{c.name} {c.type}" for t, c in self.columns]
        return "; ".join(items)


def file_columns(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    """The columns of every base table in the file (views and temp objects left out)."""
    rows = con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE NOT internal "
        "AND schema_name = 'main' AND database_name = current_database() "
        "AND table_oid IN (SELECT table_oid FROM duckdb_tables())"
    ).fetchall()
    out: dict[str, set[str]] = {}
    for table, column in rows:
        out.setdefault(table, set()).add(column)
    return out


def schema_gap(
    con: duckdb.DuckDBPyConnection, have: Mapping[str, set[str]] | None = None
) -> SchemaGap:
    """Compare the file's tables and columns with the declarations (names only: a column
    whose type changed is not migrated; a column no longer declared is kept, unused)."""
    have = file_columns(con) if have is None else have
    tables, columns = [], []
    for name, cols in declared_tables().items():
        if name not in have:
            tables.append(name)
            continue
        columns += [(name, c) for c in cols if c.name not in have[name]]
    return SchemaGap(tuple(tables), tuple(columns))


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
_WARNED: set[tuple[str, str]] = set()  # (file, gap) said once per process
_GAPS: dict[tuple, SchemaGap] = {}  # (file, its and its WAL's size and mtime, schema) → gap


def _cached_gap(wh: Warehouse) -> SchemaGap:
    """`schema_gap` of a file opened read-only, remembered while neither the file nor its
    write-ahead log changes (any committed write touches one of them): dashboards open the
    file once per read and most files lack nothing."""

    def stat(p: Path) -> tuple[int, int] | None:
        try:
            st = p.stat()
        except OSError:
            return None
        return st.st_size, st.st_mtime_ns

    path = wh.path.resolve()
    key = (str(path), stat(path), stat(path.with_name(path.name + ".wal")), schema_fingerprint())
    if key not in _GAPS:
        if len(_GAPS) > 64:
            _GAPS.clear()
        _GAPS[key] = schema_gap(wh.con)
    return _GAPS[key]


class Warehouse:
    """A handle on the DuckDB file. Use as a context manager or call `close()`."""

    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        self.path = Path(path)
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(str(self.path), read_only=read_only)
        self.read_only = read_only
        self._live: dict[str, bool] = {}  # ledger → whether its table carries `_live`
        self.closed = False
        # What this version declares and the file lacks: added by a writable open (and
        # recorded in `schema_upgrades`); read as empty / NULL by a read-only one.
        self.schema_gap = SchemaGap((), ())
        _OPEN[str(self.path.resolve())] = self
        try:
            if read_only:
                self._read_missing_as_null()
            else:
                self.ensure_schema()
        except BaseException:
            self.close()
            raise

    def ensure_schema(self) -> SchemaGap:
        """Bring the file up to this version's declarations, all or nothing: create missing
        tables, add missing columns (a field added to a ledger contract, a column added to a
        result table; earlier rows get the column's default, else NULL), derive what is
        derived (`_live`, marked from the data), and record the change in `schema_upgrades`.
        Runs on every writable open, which DuckDB's file lock makes the only writer."""
        have = file_columns(self.con)
        gap = schema_gap(self.con, have)
        new_file = not (set(have) & set(declared_tables()))
        fingerprint = schema_fingerprint()
        if not gap and self._recorded_schema() == fingerprint:
            return gap  # written by this schema: nothing to do
        with self.transaction() as con:
            for name in gap.tables:
                con.execute(create_table_ddl(name, declared_tables()[name]))
            for table, col in gap.columns:
                con.execute(f'ALTER TABLE "{table}" ADD COLUMN {col.ddl(create=False)}')
            for table, col in gap.columns:
                if col.derived:
                    DERIVED[col.name](self, table)
            for lg in LEDGERS.values():
                con.execute(current_view_ddl(lg))
            last = self._recorded_schema()
            if gap or last != fingerprint:
                con.execute(
                    f'INSERT INTO "{UPGRADES}" VALUES (now(), ?, ?, ?, ?, ?)',
                    [
                        "create" if new_file else "upgrade",
                        last,
                        fingerprint,
                        __version__,
                        "" if new_file else gap.describe(),
                    ],
                )
        if gap and not new_file:
            log.info(t("warehouse.upgraded", path=self.path, changes=gap.describe()))
        self._live.clear()
        self.schema_gap = SchemaGap((), ()) if new_file else gap
        return self.schema_gap

    def _recorded_schema(self) -> str | None:
        """The schema the file was last brought to (None: never recorded)."""
        row = self.con.execute(
            f'SELECT to_schema FROM "{UPGRADES}" ORDER BY upgraded_at DESC, rowid DESC LIMIT 1'
        ).fetchone()
        return None if row is None else row[0]

    def _read_missing_as_null(self) -> None:
        """A read-only open of a file an earlier version wrote: what it lacks is read as empty
        (a missing table) or NULL (a missing column) through temporary views of the same
        names, for this connection only; the file itself is upgraded by the next writable
        open. A derived column (`_live`) is left missing: readers then rank at read time."""
        gap = _cached_gap(self)
        self.schema_gap = gap
        if not gap:
            return
        declared = declared_tables()
        db = self.con.execute("SELECT current_database()").fetchone()[0]
        for name in gap.tables:
            cols = [f'CAST(NULL AS {c.type}) AS "{c.name}"' for c in declared[name]]
            if name in LEDGERS:
                cols.append("CAST(NULL AS BIGINT) AS rowid")
            self.con.execute(f'CREATE TEMP VIEW "{name}" AS SELECT {", ".join(cols)} WHERE false')
            if name in LEDGERS:
                self.con.execute(current_view_ddl(LEDGERS[name], temp=True))
        added: dict[str, list[Column]] = {}
        for table, col in gap.columns:
            if not col.derived:
                added.setdefault(table, []).append(col)
        for table, cols in added.items():
            extra = ", ".join(f'CAST(NULL AS {c.type}) AS "{c.name}"' for c in cols)
            rowid = "rowid AS rowid, " if table in LEDGERS else ""  # kept for write-order reads
            self.con.execute(
                f'CREATE TEMP VIEW "{table}" AS SELECT *, {rowid}{extra} FROM "{db}".main."{table}"'
            )
        for table in sorted({name for name, c in gap.columns if c.name == LIVE}):
            self.con.execute(  # no flag yet: the current rows are ranked at read time
                f'CREATE TEMP VIEW "{table}_current" AS {ranked_view_ddl(LEDGERS[table])}'
            )
        key = (str(self.path.resolve()), gap.describe())
        if key not in _WARNED:
            _WARNED.add(key)
            log.warning(t("warehouse.needs_upgrade", path=self.path, changes=gap.describe()))

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

    def refresh_current(
        self, names: Sequence[str] | None = None, ledgers: Mapping[str, Ledger] | None = None
    ) -> dict[str, int]:
        """Mark which rows are current (`_live`), after rows were written or deleted.

        Almost every key has one row, and a row whose key is unique is current by definition;
        so only the rows of keys that repeat (found by a 64-bit hash of the key, a superset)
        are ranked as `ranked_view_ddl` ranks them, and only rows whose flag changes are
        updated. Rows of a submission that no longer exists are never current. Returns the
        number of rows not current per ledger. `ledgers` defines tables that are not a ledger
        contract (a declared table, `tables.py`), keyed by their business key the same way."""
        stale: dict[str, int] = {}
        defined = ledgers or LEDGERS
        for name in names or list(defined):
            key = ", ".join(f'"{k}"' for k in defined[name].key)
            l_key = ", ".join(f'l."{k}"' for k in defined[name].key)
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
            atomic_write(target, data)
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
        ledger: Ledger | None = None,
    ) -> pd.DataFrame:
        """Accepted rows of one ledger (the `_current` rows unless `current=False`), typed:
        dates datetime64[ns], money float64, booleans `boolean`, integers `Int64`, text as
        pandas strings (missing: NaN; None where pandas keeps text as objects).

        `columns` (ledger fields or meta columns, in the order given) reads only those: the
        rows and values are exactly the full read's, so callers that know what they use (the
        indicator engine) skip the rest of the table. `county` keeps that county's rows only.
        `ledger` reads a table that is not a ledger contract (a declared table) by its own.
        """
        lg = ledger or LEDGERS[name]
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
                "'有效', NULL, NULL)",
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


# Columns an upgrade computes from the data rather than filling with their default.
DERIVED: dict[str, Callable[[Warehouse, str], object]] = {
    LIVE: lambda wh, table: wh.refresh_current([table]),
}


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
    return Warehouse(warehouse_path(path), read_only=read_only)
