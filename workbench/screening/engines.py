"""Engines that run the declared rules: DuckDB (default, in-process) and Spark (a cluster).

Both see the same logical tables under the contract's names — `settlements` and `fee_details`
without reversed settlements (退费结算) and their fee lines, `insured`, `acct_credits`,
`death_list`, `custody_list`, `drug_inventory` and the `institutions` roster — so a rule's SQL
runs unchanged. DuckDB reads the warehouse (or Parquet files in place); Spark reads Parquet
(written by `export_parquet`, or a bureau's own extract in the contract's layout) and gets the
SQL transpiled from DuckDB's dialect by sqlglot.

An engine returns each rule's hits as an Arrow table with the columns of `EVIDENCE_COLUMNS`,
typed alike on both engines, so the outputs (evidence, leads, lists) never know which ran.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from workbench.screening.rules import ROSTER, ROSTER_COLUMNS, Rule, View, Window
from workbench.screening.tables import TABLES

log = logging.getLogger(__name__)

EVIDENCE_SCHEMA = pa.schema(
    [
        ("setl_id", pa.string()),
        ("subject_key", pa.string()),
        ("person_no", pa.string()),
        ("institution_id", pa.string()),
        ("county_code", pa.string()),
        ("month", pa.string()),
        ("amount", pa.decimal128(18, 2)),
        ("detail", pa.string()),
    ]
)
EVIDENCE_COLUMNS = tuple(EVIDENCE_SCHEMA.names)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def has_detail(sql: str) -> bool:
    import sqlglot

    return "detail" in sqlglot.parse_one(sql, read="duckdb").named_selects


def standard_sql(rule_sql: str, window: Window, detail: bool) -> str:
    """The rule's query wrapped to the evidence columns and types, inside the window."""
    det = "CAST(q.detail AS VARCHAR)" if detail else "CAST(NULL AS VARCHAR)"
    return (
        "SELECT CAST(q.setl_id AS VARCHAR) AS setl_id, "
        "CAST(q.subject_key AS VARCHAR) AS subject_key, "
        "CAST(q.person_no AS VARCHAR) AS person_no, "
        "CAST(q.institution_id AS VARCHAR) AS institution_id, "
        "CAST(q.county_code AS VARCHAR) AS county_code, "
        "CAST(q.month AS VARCHAR) AS month, "
        "CAST(q.amount AS DECIMAL(18, 2)) AS amount, "
        f"{det} AS detail "
        f"FROM ({rule_sql}) q "
        f"WHERE q.month >= '{window.from_month}' AND q.month <= '{window.to_month}'"
    )


@dataclass
class Timings:
    views: dict[str, float] = field(default_factory=dict)
    rules: dict[str, float] = field(default_factory=dict)
    prepare: float = 0.0


class Engine(Protocol):
    name: str
    timings: Timings

    def prepare(self, window: Window) -> None: ...
    def materialise(self, view: View, window: Window) -> None: ...
    def run(self, rule: Rule, window: Window, overrides: Mapping[str, Any] | None) -> pa.Table: ...
    def close(self) -> None: ...


# ---------------------------------------------------------------- DuckDB


REVERSED = "_reversed_setl_ids"


def reversed_sql(source: str, con: duckdb.DuckDBPyConnection | None = None) -> str:
    """The ids of reversed settlements (退费结算), materialised first as `REVERSED`."""
    settlements = _relations(source, con)("settlements")
    return f"SELECT setl_id FROM {settlements} WHERE refd_setl_flag"


def _relations(source: str, con: duckdb.DuckDBPyConnection | None):
    db = _q(con.execute("SELECT current_database()").fetchone()[0]) if con is not None else ""
    home = f"{db}.main." if db else ""

    def rel(name: str) -> str:
        if source == "warehouse":
            return home + _q(TABLES[name].storage)
        base = Path(source)
        files = (
            str(base / name / "*.parquet")
            if (base / name).is_dir()
            else str(base / f"{name}.parquet")
        )
        return f"read_parquet('{files.replace(chr(39), chr(39) * 2)}')"

    return rel


def logical_sql(source: str, con: duckdb.DuckDBPyConnection | None = None) -> dict[str, str]:
    """SQL of each logical table over the warehouse (`source == "warehouse"`) or over Parquet
    files under a folder (`<folder>/<table>/*.parquet` or `<folder>/<table>.parquet`).
    `fee_details` reads the `REVERSED` table (`reversed_sql`), which must exist first."""
    db = _q(con.execute("SELECT current_database()").fetchone()[0]) if con is not None else ""
    home = f"{db}.main." if db else ""
    rel = _relations(source, con)
    out = {}
    for name in TABLES:
        out[name] = f"SELECT * FROM {rel(name)}"
    out["settlements"] = (
        f"SELECT * FROM {rel('settlements')} WHERE NOT coalesce(refd_setl_flag, false)"
    )
    # Against the small materialised set of reversed ids (`REVERSED`, made by the engine before
    # these views): from a filter on a boolean column DuckDB estimates a fifth of the
    # settlements, so against a subquery it built its hash table on the (much larger) other
    # side — every drug line at 10 M settlements, spilling under `memory_limit`.
    out["fee_details"] = (
        f"SELECT f.* FROM {rel('fee_details')} f ANTI JOIN {REVERSED} r ON r.setl_id = f.setl_id"
    )
    cols = ", ".join(ROSTER_COLUMNS)
    if source == "warehouse":
        out[ROSTER] = f'SELECT {cols} FROM {home}"institutions" WHERE "_live"'
    else:
        base = Path(source)
        out[ROSTER] = f"SELECT {cols} FROM read_parquet('{base / ROSTER}.parquet')"
    return out


class DuckDBEngine:
    """Rules on the warehouse's DuckDB connection. The logical tables are temp views (found
    before the warehouse's own tables, so `institutions` is the roster's current rows) and the
    shared views temp tables, all dropped when the run closes; nothing is written, so a
    read-only warehouse works too."""

    name = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection, source: str = "warehouse") -> None:
        self.con = con
        self.source = source
        self.timings = Timings()
        self._views: list[str] = []
        self._tables: list[str] = []

    def prepare(self, window: Window) -> None:
        t0 = time.perf_counter()
        sql = reversed_sql(self.source, self.con)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {REVERSED} AS {sql}")
        self._tables.append(REVERSED)
        for name, sql in logical_sql(self.source, self.con).items():
            self.con.execute(f"CREATE OR REPLACE TEMP VIEW {_q(name)} AS {sql}")
            self._views.append(name)
        self.timings.prepare = time.perf_counter() - t0

    def materialise(self, view: View, window: Window) -> None:
        t0 = time.perf_counter()
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {_q(view.code)} AS {view.render(window)}")
        self._tables.append(view.code)
        self.timings.views[view.code] = time.perf_counter() - t0

    def run(
        self, rule: Rule, window: Window, overrides: Mapping[str, Any] | None = None
    ) -> pa.Table:
        t0 = time.perf_counter()
        rendered = rule.render(window, overrides)
        rel = self.con.sql(standard_sql(rendered, window, has_detail(rendered)))
        table = rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.arrow()
        self.timings.rules[rule.code] = time.perf_counter() - t0
        return table.cast(EVIDENCE_SCHEMA)

    def close(self) -> None:
        for name in self._tables:
            self.con.execute(f"DROP TABLE IF EXISTS temp.{_q(name)}")
        for name in self._views:
            self.con.execute(f"DROP VIEW IF EXISTS temp.{_q(name)}")
        self._tables, self._views = [], []


# ---------------------------------------------------------------- Spark


def to_spark_sql(sql: str) -> str:
    import sqlglot

    return sqlglot.transpile(sql, read="duckdb", write="spark", unsupported_level="raise")[0]


def spark_session(master: str | None = None, app: str = "workbench-screening") -> Any:
    """A Spark session: `master` a cluster URL (spark://…, yarn, k8s://…) or local mode."""
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.appName(app)
        .master(master or "local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.sql.legacy.timeParserPolicy", "CORRECTED")
        .config("spark.ui.showConsoleProgress", "false")
    )
    if not master or master.startswith("local"):
        builder = builder.config("spark.sql.shuffle.partitions", "4").config(
            "spark.driver.memory", "2g"
        )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


class SparkEngine:
    """Rules on Spark over Parquet files in the contract's layout (`export_parquet` writes
    them; a bureau may point at its own). Transpiled from the DuckDB dialect by sqlglot."""

    name = "spark"

    def __init__(self, parquet_dir: str | Path, master: str | None = None, spark: Any = None):
        self.dir = Path(parquet_dir) if "://" not in str(parquet_dir) else parquet_dir
        self.spark = spark or spark_session(master)
        self.own = spark is None
        self.timings = Timings()
        self._cached: list[Any] = []

    def _path(self, name: str) -> str:
        base = str(self.dir)
        if isinstance(self.dir, Path) and (self.dir / name).is_dir():
            return str(self.dir / name)
        return f"{base}/{name}.parquet" if not base.endswith("/") else f"{base}{name}.parquet"

    def prepare(self, window: Window) -> None:
        t0 = time.perf_counter()
        for name in TABLES:
            self.spark.read.parquet(self._path(name)).createOrReplaceTempView(f"raw_{name}")
        self.spark.read.parquet(self._path(ROSTER)).createOrReplaceTempView(ROSTER)
        for name in TABLES:
            self.spark.sql(f"SELECT * FROM raw_{name}").createOrReplaceTempView(name)
        self.spark.sql(
            "SELECT * FROM raw_settlements WHERE NOT coalesce(refd_setl_flag, false)"
        ).createOrReplaceTempView("settlements")
        self.spark.sql(
            "SELECT f.* FROM raw_fee_details f LEFT ANTI JOIN "
            "(SELECT setl_id FROM raw_settlements WHERE refd_setl_flag) r "
            "ON r.setl_id = f.setl_id"
        ).createOrReplaceTempView("fee_details")
        self.timings.prepare = time.perf_counter() - t0

    def materialise(self, view: View, window: Window) -> None:
        t0 = time.perf_counter()
        df = self.spark.sql(to_spark_sql(view.render(window))).cache()
        df.count()
        df.createOrReplaceTempView(view.code)
        self._cached.append(df)
        self.timings.views[view.code] = time.perf_counter() - t0

    def run(
        self, rule: Rule, window: Window, overrides: Mapping[str, Any] | None = None
    ) -> pa.Table:
        t0 = time.perf_counter()
        rendered = rule.render(window, overrides)
        sql = standard_sql(rendered, window, has_detail(rendered))
        rows = self.spark.sql(to_spark_sql(sql)).collect()
        cols = {c: [r[c] for r in rows] for c in EVIDENCE_COLUMNS}
        table = pa.table(cols, schema=EVIDENCE_SCHEMA)
        self.timings.rules[rule.code] = time.perf_counter() - t0
        return table

    def close(self) -> None:
        for df in self._cached:
            df.unpersist()
        if self.own:
            self.spark.stop()


# ---------------------------------------------------------------- Parquet export


def export_parquet(con: duckdb.DuckDBPyConnection, out: Path) -> list[Path]:
    """The warehouse's screening tables and the roster as Parquet in the contract's layout,
    for Spark (`<out>/<table>.parquet`). ID numbers leave only as their salted hashes."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, tb in TABLES.items():
        cols = ", ".join(_q(c.name) for c in tb.columns)
        target = out / f"{name}.parquet"
        con.execute(f"COPY (SELECT {cols} FROM {_q(tb.storage)}) TO '{target}' (FORMAT parquet)")
        paths.append(target)
    cols = ", ".join(f"CAST({_q(k)} AS {v}) AS {_q(k)}" for k, v in ROSTER_COLUMNS.items())
    target = out / f"{ROSTER}.parquet"
    con.execute(
        f'COPY (SELECT {cols} FROM main."institutions" WHERE "_live") TO \'{target}\' '
        "(FORMAT parquet)"
    )
    paths.append(target)
    return paths


ENGINES = {"duckdb": DuckDBEngine, "spark": SparkEngine}
