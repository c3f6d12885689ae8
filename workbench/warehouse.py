"""The warehouse: one DuckDB file holding submissions, ledgers, quarantine, runs and results.

Each ledger has a table `<ledger>` with every accepted row of every live submission, and a view
`<ledger>_current` holding, per business key, the row from the newest submission (latest period,
then latest ingest). Indicators read those rows through `read_ledger`, which computes the same
rows faster than the view (see `Warehouse.read_ledger`) and fetches them through Arrow, so text
never becomes millions of Python objects.
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from workbench.contracts import LEDGERS, Ledger

log = logging.getLogger(__name__)

SQL_TYPES = {
    "text": "VARCHAR", "code6": "VARCHAR", "enum": "VARCHAR", "id_card": "VARCHAR",
    "month": "VARCHAR", "int": "BIGINT", "yuan": "DOUBLE", "date": "DATE", "bool": "BOOLEAN",
}
INLINE_ARCHIVE_MAX = 16 * 1024 * 1024  # bigger submitted files are archived beside the database
META_COLUMNS = ("_submission_id", "_period", "_file", "_sheet", "_source_row", "_extra")

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
    cols += ['"_submission_id" VARCHAR', '"_period" VARCHAR', '"_file" VARCHAR',
             '"_sheet" VARCHAR', '"_source_row" BIGINT', '"_extra" VARCHAR']
    key = ", ".join(f'"{k}"' for k in lg.key)
    return (
        f'CREATE TABLE IF NOT EXISTS "{lg.name}" ({", ".join(cols)});\n'
        f'CREATE OR REPLACE VIEW "{lg.name}_current" AS SELECT t.* EXCLUDE (_ingested_at) FROM ('
        f'SELECT l.*, s.ingested_at AS _ingested_at FROM "{lg.name}" l '
        f'JOIN submissions s ON s.submission_id = l._submission_id) t '
        f'QUALIFY row_number() OVER (PARTITION BY {key} '
        f'ORDER BY t._period DESC, t._ingested_at DESC, t._source_row DESC) = 1;'
    )


class Warehouse:
    """A handle on the DuckDB file. Use as a context manager or call `close()`."""

    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        self.path = Path(path)
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(str(self.path), read_only=read_only)
        if not read_only:
            self.ensure_schema()

    def ensure_schema(self) -> None:
        self.con.execute(SCHEMA)
        for lg in LEDGERS.values():
            self.con.execute(ledger_ddl(lg))

    def close(self) -> None:
        self.con.close()

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
            "SELECT content, file_name FROM submissions WHERE submission_id = ?",
            [submission_id]).fetchone()
        if content is not None:
            return bytes(content)
        return self.archive_path(submission_id, name).read_bytes()

    def read_ledger(self, name: str, current: bool = True, with_meta: bool = False,
                    columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Accepted rows of one ledger (the `_current` rows unless `current=False`), typed:
        dates datetime64[ns], money float64, booleans `boolean`, integers `Int64`, text as
        pandas strings (missing: NaN; None where pandas keeps text as objects).

        `columns` (ledger fields or meta columns, in the order given) reads only those: the
        rows and values are exactly the full read's, so callers that know what they use (the
        indicator engine) skip the rest of the table.
        """
        lg = LEDGERS[name]
        cols = _columns(lg, columns, with_meta)
        fetch = cols or [lg.key[0]]  # no columns asked: still the right number of rows
        if current:
            table = self._current_rows(lg, fetch)
        else:
            table = self._arrow(f'SELECT {_quoted(fetch)} FROM "{name}"')
        return arrow_frame(table.select(cols), lg)

    def load_frames(self, frames: Mapping[str, pd.DataFrame], submission_id: str = "frames",
                    period: str = "2025-12", county_code: str | None = None) -> None:
        """Load ledgers already in memory and known to be valid (a demo city, another system's
        extract) as one live submission, in one transaction. Skips validation: use `ingest`
        for anything a person typed."""
        with self.transaction() as con:
            con.execute("INSERT INTO submissions VALUES (?, ?, ?, ?, now(), 0, NULL, 0, 0, 0, "
                        "'有效', NULL)", [submission_id, submission_id, county_code, period])
            for name, df in frames.items():
                lg = LEDGERS[name]
                full = pd.DataFrame({f: (df[f] if f in df else None) for f in lg.field_names})
                full = full.assign(_submission_id=submission_id, _period=period,
                                   _file=submission_id, _sheet=lg.title,
                                   _source_row=range(2, len(full) + 2), _extra=None)
                con.register("v_frame_in", full[lg.field_names + list(META_COLUMNS)])
                try:
                    con.execute(f'INSERT INTO "{name}" SELECT * FROM v_frame_in')
                finally:
                    con.unregister("v_frame_in")

    def read_ledgers(self, columns: Mapping[str, Sequence[str]] | None = None
                     ) -> dict[str, pd.DataFrame]:
        """Every ledger's current rows; `columns` maps a ledger to the columns to read (ledgers
        left out are read whole)."""
        columns = columns or {}
        return {name: self.read_ledger(name, columns=columns.get(name)) for name in LEDGERS}

    def _arrow(self, sql: str) -> pa.Table:
        rel = self.con.sql(sql)
        return rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.arrow()

    def _current_rows(self, lg: Ledger, cols: list[str]) -> pa.Table:
        """The rows of `<ledger>_current`, without its window over the whole table.

        The view ranks every row of every key; but almost every key has one row, and a row whose
        key is unique is current by definition. So: one order-preserving scan fetching a 64-bit
        hash of each row's key with the columns; keys whose hash occurs once are done; only the
        rows of repeated hashes (true repeats, or the odd hash collision — resolved by the real
        key) go through the view's ranking, in SQL. Rows of a submission that no longer exists
        (the view's join drops them; ingest never leaves any) send the ledger down the view's
        own path.
        """
        name = f'"{lg.name}"'
        orphans = self.con.execute(
            f"SELECT count(*) FROM {name} l ANTI JOIN submissions s "
            f"ON s.submission_id = l._submission_id").fetchall()[0][0]
        if orphans:
            return self._arrow(f'SELECT {_quoted(cols)} FROM "{lg.name}_current"')
        key = ", ".join(f'"{k}"' for k in lg.key)
        table = self._arrow(f'SELECT hash({key}) AS "{_KEY_HASH}", {_quoted(cols)} FROM {name}')
        hashes = table.column(0).to_numpy()
        table = table.remove_column(0)
        ordered = np.sort(hashes)
        repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
        if not len(repeated):
            return table
        self.con.register("_wb_repeated_keys", pa.table({"h": repeated}))
        try:
            newest = self._arrow(
                f"SELECT {_quoted(cols)} FROM (SELECT l.*, s.ingested_at AS _wb_ingested_at "
                f"FROM {name} l JOIN submissions s ON s.submission_id = l._submission_id "
                f"WHERE hash({key}) IN (SELECT h FROM _wb_repeated_keys)) t "
                f"QUALIFY row_number() OVER (PARTITION BY {key} "
                f"ORDER BY t._period DESC, t._wb_ingested_at DESC, t._source_row DESC) = 1 "
                f"ORDER BY {key}")
        finally:
            self.con.unregister("_wb_repeated_keys")
        unique = table.filter(pa.array(~np.isin(hashes, repeated)))
        return pa.concat_tables([unique, newest.cast(unique.schema)])

    def table(self, sql: str, params: list | None = None) -> pd.DataFrame:
        return self.con.execute(sql, params or []).df()


_KEY_HASH = "_wb_key_hash"


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


def open_warehouse(path: str | Path | None = None, read_only: bool = False) -> Warehouse:
    from workbench.config import warehouse_path

    return Warehouse(warehouse_path(path), read_only=read_only)
