"""The warehouse: one DuckDB file holding submissions, ledgers, quarantine, runs and results.

Each ledger has a table `<ledger>` with every accepted row of every live submission, and a view
`<ledger>_current` holding, per business key, the row from the newest submission (latest period,
then latest ingest). Indicators read the `_current` views through `read_ledger`.
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd

from workbench.contracts import LEDGERS, Ledger

log = logging.getLogger(__name__)

SQL_TYPES = {
    "text": "VARCHAR", "code6": "VARCHAR", "enum": "VARCHAR", "id_card": "VARCHAR",
    "month": "VARCHAR", "int": "BIGINT", "yuan": "DOUBLE", "date": "DATE", "bool": "BOOLEAN",
}
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

    def read_ledger(self, name: str, current: bool = True,
                    with_meta: bool = False) -> pd.DataFrame:
        """Accepted rows of one ledger, typed (DATE → datetime64, BOOLEAN → boolean)."""
        lg = LEDGERS[name]
        rel = f'"{name}_current"' if current else f'"{name}"'
        cols = lg.field_names + (list(META_COLUMNS) if with_meta else [])
        sql = f"SELECT {', '.join(chr(34) + c + chr(34) for c in cols)} FROM {rel}"
        df = self.con.execute(sql).df()
        return coerce_frame_types(df, lg)

    def read_ledgers(self) -> dict[str, pd.DataFrame]:
        return {name: self.read_ledger(name) for name in LEDGERS}

    def table(self, sql: str, params: list | None = None) -> pd.DataFrame:
        return self.con.execute(sql, params or []).df()


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
