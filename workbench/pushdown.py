"""Measures aggregated inside the warehouse: DuckDB scans, Python gets small grids.

`WarehouseEngine` is a `MeasureEngine` over a warehouse file. Instead of reading millions of
ledger rows into pandas and binning them, it asks DuckDB for what the numpy engine would compute
from them:

- flows (count, sum, any): one GROUP BY county × month per ledger and dating field, every
  measure of that ledger a filtered aggregate (`count(*) FILTER (WHERE …)`, `fsum(…) FILTER
  (WHERE …)`) — one scan however many measures; the windows, roll-ups and the city are then
  computed from the county × month grid exactly as before;
- distinct counts: one row per (county, value) pair with the months it occurs in as a bit
  mask, which the engine turns into per-window counts (a quarter's distinct count is not the
  sum of its months);
- stocks (undated rosters: counties, institutions): one GROUP BY county (× year) per roster;
- drill-through and county names: the ledger's current rows, read (only the columns the
  declarations use) the first time something needs them.

Filters, expressions and joins are translated from the declarations into SQL with the numpy
engine's semantics — a comparison with a blank cell is false, x/0 is missing, min/max of a
missing value is missing, a joined field is the right ledger's latest current row for the key —
and `tests/test_pushdown.py` holds the two engines to the same numbers on the demo city, on
random ledgers and on every filter form.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from workbench.contracts import LEDGERS, Ledger
from workbench.declarations import (
    AllOf,
    AnyOf,
    Clause,
    Condition,
    IndicatorSet,
    WITHIN_DAYS,
    Measure,
    clauses_of,
    dating_parts,
    unit_field,
)
from workbench.measures import (
    MeasureEngine,
    Window,
    ledger_columns,
    measure_key,
    tables_of,
    unit_sources,
)
from workbench.warehouse import SQL_TYPES, file_columns, reading

log = logging.getLogger(__name__)

_MAX_WORDS = 16  # 1,024 months of dates in one ledger: beyond, distinct counts go by rows
_TEXT_TYPES = ("text", "code6", "enum", "id_card", "month")
_TRUE = ("是", "y", "yes", "true", "1", "t")
_FALSE = ("否", "n", "no", "false", "0", "f")


# ---------------------------------------------------------------------------------------------
# Declarations → SQL
# ---------------------------------------------------------------------------------------------
def _lit(v: object) -> str:
    """A SQL literal for a declared (already type-coerced) value."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float, np.integer, np.floating)):
        x = float(v)
        return f"CAST('{x!r}' AS DOUBLE)" if not np.isfinite(x) else repr(x)
    if isinstance(v, (dt.datetime, pd.Timestamp)):
        return f"TIMESTAMP '{pd.Timestamp(v).isoformat(sep=' ')}'"
    if isinstance(v, dt.date):
        return f"TIMESTAMP '{v.isoformat()} 00:00:00'"
    return "'" + str(v).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _Sql:
    """Column references and types for one measure's ledger (and its join)."""

    def __init__(
        self,
        measure: Measure,
        join_alias: str | None,
        shared: dict[str, str] | None = None,
        sources: Mapping[str, Ledger] = LEDGERS,
    ) -> None:
        self.measure = measure
        self.join_alias = join_alias
        self.shared = shared  # SQL of a clause or value → its column in an inner SELECT
        self.sources = sources  # the ledgers and declared tables, by name

    def _named(self, sql: str, prefix: str) -> str:
        """With `shared`, a clause or value used by several aggregates becomes one column of
        the inner SELECT, computed once per row (DuckDB does not share it between FILTERs)."""
        if self.shared is None:
            return sql
        if sql not in self.shared:
            self.shared[sql] = f"_{prefix}{len(self.shared)}"
        return self.shared[sql]

    def col(self, name: str) -> tuple[str, str]:
        """(SQL reference, contract type) of a field or a joined `ledger.field`."""
        if "." in name:
            ledger, fld = name.split(".", 1)
            return f"{self.join_alias}.{_ident(fld)}", self.sources[ledger].field(fld).type
        lg = self.sources[self.measure.ledger]  # type: ignore[index]
        ftype = lg.field(name).type if name in lg.field_names else "text"
        return f"l.{_ident(name)}", ftype

    # -- filters ----------------------------------------------------------------------------
    def condition(self, cond: Condition) -> str:
        if isinstance(cond, AnyOf):
            return (
                "(" + " OR ".join(self.condition(c) for c in cond.clauses) + ")"
                if cond.clauses
                else "false"
            )
        if isinstance(cond, AllOf):
            return (
                "(" + " AND ".join(self.condition(c) for c in cond.clauses) + ")"
                if cond.clauses
                else "true"
            )
        return self._named(self.clause(cond), "p")

    def where(self, conds: Iterable[Condition]) -> str:
        parts = [self.condition(c) for c in conds]
        return " AND ".join(parts) if parts else "true"

    def filter(self) -> str:
        """` FILTER (WHERE …)` for an aggregate over the measure's rows ('' when unfiltered)."""
        where = self.where(self.measure.where)
        return "" if where == "true" else f" FILTER (WHERE {where})"

    def clause(self, c: Clause) -> str:
        ref, ftype = self.col(c.field)
        if c.op in ("is_null", "not_null"):
            # Text: blank when NULL or only spaces. A value starting with a printable ASCII
            # character (every code, id, name in practice) is not blank — DuckDB's trim strips
            # no such character —, so only the rest are trimmed (trim copies each string).
            v = f"CAST({ref} AS VARCHAR)"
            blank = (
                f"(CASE WHEN {ref} IS NULL THEN true WHEN {v} < '!' OR {v} >= chr(128) "
                f"THEN trim({v}) = '' ELSE false END)"
                if ftype in _TEXT_TYPES
                else f"({ref} IS NULL)"
            )
            return blank if c.op == "is_null" else f"(NOT {blank})"
        if c.op == WITHIN_DAYS:  # NULL on either side: no match, as in the numpy engine
            other, days = c.value
            b, btype = self.col(other)
            if ftype == btype == "date":  # two DATE columns: day arithmetic, no casts
                return f"({ref} <= {b} + CAST({int(days)} AS INTEGER))"
            return (
                f"(TRY_CAST({ref} AS TIMESTAMP) <= "
                f"TRY_CAST({b} AS TIMESTAMP) + to_days(CAST({int(days)} AS INTEGER)))"
            )
        values = c.value if isinstance(c.value, tuple) else (c.value,)
        if all(isinstance(v, str) for v in values):
            x = ref if ftype in _TEXT_TYPES else f"CAST({ref} AS VARCHAR)"
        elif all(isinstance(v, bool) for v in values):
            x = (
                ref
                if ftype == "bool"
                else (
                    f"(CASE WHEN lower(trim(CAST({ref} AS VARCHAR))) IN "
                    f"({', '.join(map(_lit, _TRUE))}) THEN true WHEN lower(trim(CAST({ref} AS "
                    f"VARCHAR))) IN ({', '.join(map(_lit, _FALSE))}) THEN false END)"
                )
            )
        elif any(isinstance(v, (dt.date, pd.Timestamp)) for v in values):
            x = f"TRY_CAST({ref} AS TIMESTAMP)"
        else:
            x = f"TRY_CAST({ref} AS DOUBLE)"
        lits = ", ".join(_lit(v) for v in values)
        # NULL IN / NOT IN / compare is NULL, which a FILTER or WHERE treats as false: a blank
        # cell never matches, whatever the operator (the numpy engine's rule).
        if c.op in ("in", "=="):
            return f"({x} IN ({lits}))"
        if c.op in ("not_in", "!="):
            return f"({x} NOT IN ({lits}))"
        return f"({x} {c.op} {_lit(values[0])})"

    # -- values -----------------------------------------------------------------------------
    def expr(self, node: tuple, params: Mapping[str, object]) -> str:
        kind = node[0]
        if kind == "num":
            return _lit(float(node[1]))
        if kind == "name":
            if node[1] in params:
                return _lit(float(params[node[1]]))  # type: ignore[arg-type]
            return f"TRY_CAST({self.col(node[1])[0]} AS DOUBLE)"
        if kind == "neg":
            return f"(-{self.expr(node[1], params)})"
        if kind == "bin":
            a, b = self.expr(node[2], params), self.expr(node[3], params)
            if node[1] == "/":
                return f"({a} / nullif({b}, 0))"  # x/0 is missing, never inf
            return f"({a} {node[1]} {b})"
        if kind == "call":
            args = [self.expr(a, params) for a in node[2]]
            if node[1] == "abs":
                return f"abs({args[0]})"
            fn = "least" if node[1] == "min" else "greatest"
            out = args[0]
            for a in args[1:]:  # numpy's minimum/maximum: a missing value stays missing
                out = (
                    f"(CASE WHEN {out} IS NULL OR {a} IS NULL THEN NULL ELSE {fn}({out}, {a}) END)"
                )
            return out
        raise ValueError(kind)

    def value(self, params: Mapping[str, object]) -> str:
        """The number each row contributes to a sum (blank, non-numeric or non-finite: none)."""
        m = self.measure
        v = (
            self.expr(m.expr.tree, params)
            if m.expr is not None
            else f"TRY_CAST({self.col(m.field)[0]} AS DOUBLE)"
        )  # type: ignore[arg-type]
        return self._named(f"(CASE WHEN isfinite({v}) THEN {v} END)", "x")

    def month(self, date: str) -> str:
        """Month index of a date field or a `Measure.dating` (`due_date+1d`)."""
        name, days = dating_parts(date)
        return _month_sql(*self.col(name), days)


def _month_sql(ref: str, ftype: str, days: int = 0) -> str:
    """Month index (year × 12 + month − 1) of a date or YYYY-MM column (`days` later); NULL
    when blank."""
    d = f"try_strptime({ref}, '%Y-%m')" if ftype == "month" else f"TRY_CAST({ref} AS DATE)"
    if days:  # a DATE plus whole days is a DATE (no TIMESTAMP and back, ≈ 1/3 of a statement)
        d = (
            f"CAST({d} + INTERVAL ({int(days)}) DAY AS DATE)"
            if ftype == "month"
            else f"({d} + CAST({int(days)} AS INTEGER))"
        )
    return f"(year({d}) * 12 + month({d}) - 1)"


# ---------------------------------------------------------------------------------------------
# Lazily read ledgers
# ---------------------------------------------------------------------------------------------
class _LazyLedgers(Mapping[str, pd.DataFrame]):
    """Ledger name → current rows, read from the warehouse the first time they are asked for
    (only `columns[name]` when given)."""

    def __init__(
        self, engine: WarehouseEngine, columns: Mapping[str, Sequence[str]] | None
    ) -> None:
        self._engine = engine
        self._columns = dict(columns or {})
        self._frames: dict[str, pd.DataFrame] = {}

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._engine.sources:
            raise KeyError(name)
        if name not in self._frames:
            with self._engine.connect() as wh:
                self.preload(wh, [name])
        return self._frames[name]

    def preload(self, wh: Any, names: Iterable[str]) -> None:
        """Read these ledgers (or declared tables) now, through an open warehouse; a declared
        table not ingested yet reads empty."""
        for name in names:
            if name in self._frames:
                continue
            lg = self._engine.sources[name]
            cols = self._columns.get(name)
            if name in LEDGERS:
                self._frames[name] = wh.read_ledger(name, columns=cols)
            elif self._engine.has_table(wh, name):
                self._frames[name] = wh.read_ledger(name, columns=cols, ledger=lg)
            else:
                keep = lg.field_names if cols is None else cols
                self._frames[name] = pd.DataFrame({c: pd.Series(dtype=object) for c in keep})

    def __iter__(self) -> Iterator[str]:
        return iter(self._engine.sources)

    def __len__(self) -> int:
        return len(self._engine.sources)

    @property
    def loaded(self) -> list[str]:
        """The ledgers read so far."""
        return list(self._frames)


# ---------------------------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------------------------
class WarehouseEngine(MeasureEngine):
    """A `MeasureEngine` whose flows, distinct counts and roster levels are aggregated by DuckDB.

    `source` is a warehouse path or an open `Warehouse`; `sets` are the indicator sets about
    to be computed — their measures are aggregated together (one scan per ledger and dating
    field); a measure of any other set still works, at the cost of its own scan. Nothing is
    kept open between calls: each batch of statements opens the file read-only and closes it.
    """

    def __init__(
        self, source: Any, sets: Iterable[IndicatorSet] = (), counties: Sequence[str] | None = None
    ) -> None:
        sets = list(sets)
        super().__init__({}, counties, tables_of(sets), unit_sources(sets))
        self.source = source
        self._tables_in_file: set[str] | None = None
        self.ledgers = _LazyLedgers(self, ledger_columns(sets) if sets else None)  # type: ignore
        self._flow_store: dict[tuple, tuple[_Groups, np.ndarray]] = {}  # key → groups, values
        self._range_store: dict[tuple[str, str], tuple[int, int] | None] = {}
        # key → (first month, month bit masks per pair, pair's county, pair's group: the
        # value's number among values reported by several counties, else -1); None when the
        # dates span too many months for masks (the numpy engine counts from the rows then)
        self._distinct_store: dict[
            tuple, tuple[int, np.ndarray, np.ndarray, np.ndarray] | None
        ] = {}
        self._stock_store: dict[tuple, tuple[np.ndarray, np.ndarray, np.ndarray, bool] | None] = {}
        # key → (county, month, month done, value) per group, for `done_by` flows
        self._done_store: dict[tuple, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        if sets:
            self.prepare(sets)

    def connect(self) -> contextlib.AbstractContextManager[Any]:
        """The warehouse to query (see `warehouse.reading`)."""
        return reading(self.source)

    def has_table(self, wh: Any, name: str) -> bool:
        """Whether the file holds this source's table (a ledger's always reads, a declared
        table's only once something was ingested into it)."""
        if name in LEDGERS:
            return True
        if self._tables_in_file is None:
            self._tables_in_file = set(file_columns(wh.con))
        return name in self._tables_in_file

    def _rel(self, wh: Any, name: str) -> str:
        """SQL for the current rows of a ledger or declared table (a declared table not
        ingested yet: no rows, with its declared columns)."""
        if self.has_table(wh, name):
            return wh.current_relation(name)
        cols = ", ".join(
            f"CAST(NULL AS {SQL_TYPES[f.type]}) AS {_ident(f.name)}"
            for f in self.sources[name].fields
        )
        return f"(SELECT {cols} WHERE false)"

    # -- the county universe --------------------------------------------------------------
    @property
    def counties(self) -> pd.Index:
        if self._universe is None:
            with self.connect() as wh:
                self._read_universe(wh)
        return self._universe  # type: ignore[return-value]

    def _read_universe(self, wh: Any) -> None:
        """The county universe, through an open warehouse (a batch of statements reads it
        while the file is open rather than opening it once more)."""
        parts = " UNION ".join(
            f"SELECT DISTINCT {_ident(unit_field(self.sources[name]))} AS county_code "
            f"FROM {self._rel(wh, name)}"
            for name in self.units_from
        )
        codes = wh.con.execute(
            f"SELECT county_code FROM ({parts}) WHERE county_code IS NOT NULL ORDER BY county_code"
        ).fetchnumpy()["county_code"]
        self._universe = pd.Index(
            np.asarray(codes, dtype=object), dtype="object", name="county_code"
        )

    @contextlib.contextmanager
    def _universe_table(self, wh: Any) -> Iterator[str]:
        """The county universe as a relation (code, pos) for the statements to join, so county
        codes come back as positions and never as millions of Python strings."""
        import pyarrow as pa

        if self._universe is None:
            self._read_universe(wh)
        codes = self.counties
        wh.con.register(
            "_wb_universe",
            pa.table(
                {
                    "code": pa.array(codes.to_numpy(dtype=object), pa.string()),
                    "pos": pa.array(np.arange(len(codes), dtype=np.int64)),
                }
            ),
        )
        try:
            yield "_wb_universe"
        finally:
            wh.con.unregister("_wb_universe")

    @contextlib.contextmanager
    def _session(self) -> Iterator[Any]:
        """The open warehouse with the county universe registered, for a batch of statements."""
        with self.connect() as wh, self._universe_table(wh):
            yield wh

    # -- batching -------------------------------------------------------------------------
    def prepare(self, sets: Iterable[IndicatorSet]) -> None:
        """Aggregate every measure of these sets that is not done yet, in one visit to the
        file: one statement per ledger and dating field for the flows, one per ledger, date and
        counted field for the distinct counts, one per roster for the levels."""
        flows: dict[tuple[str, str, bool], dict[tuple, Measure]] = {}
        distinct: dict[tuple, dict[tuple, Measure]] = {}
        stocks: dict[str, dict[tuple, Measure]] = {}
        for iset in sets:
            params = {k: p.value for k, p in iset.parameters.items()}
            for m in iset.measures.values():
                if m.ledger is None or m.agg == "months":
                    continue
                key = measure_key(m, params)
                if m.is_stock:
                    if key not in self._stock_store:
                        stocks.setdefault(m.ledger, {})[key] = m
                elif m.agg == "distinct_count":
                    if key not in self._distinct_store:
                        distinct.setdefault((m.ledger, m.dating, m.field), {})[key] = m
                elif key not in self._flow_store and key not in self._done_store:
                    # measures counting only rows with a joined match: a statement of
                    # their own, inner-joined (see `_matched_only`)
                    flows.setdefault((m.ledger, m.dating, _matched_only(m)), {})[key] = m  # type: ignore[index]
        if not flows and not distinct and not stocks:
            return
        with self._session() as wh:
            for (ledger, date, inner), measures in flows.items():
                self._run_flows(wh, ledger, date, measures, inner=inner)
            # the distinct counts' month ranges, in one statement per ledger while open
            self._fill_ranges(wh, [(lg, d) for lg, d, _f in distinct])
            for measures in distinct.values():
                self._run_distinct(wh, measures)
            for ledger, measures in stocks.items():
                self._run_stocks(wh, ledger, measures)
            self.ledgers.preload(wh, ["counties"])  # county names, while the file is open

    def _from(
        self,
        wh: Any,
        ledger: str,
        joins: Sequence[tuple[str, str, list[str]]],
        inner: bool = False,
    ) -> str:
        """`FROM <current rows> l [LEFT JOIN <right ledger's latest row per key> jN …]` (an
        inner JOIN with `inner`)."""
        return f"FROM {self._rel(wh, ledger)} l" + self._join_sql(
            wh, joins, lambda on: f"l.{_ident(on)}", inner
        )

    def _join_sql(
        self,
        wh: Any,
        joins: Sequence[tuple[str, str, list[str]]],
        left: Any,
        inner: bool = False,
        wanted: Mapping[str, str] | None = None,
    ) -> str:
        """` LEFT JOIN <right ledger's latest current row per key> jN ON <left(on)> = jN._k`
        for each join (` JOIN` with `inner`); `left` gives the left side's reference to the key
        field; `wanted` maps an alias to a condition on its fields that keeps only the right
        rows anything reads (the others then join as no match)."""
        sql = ""
        for alias, (right, on, fields) in zip(_aliases(joins), joins):
            latest = self.has_table(wh, right) and wh.has_live(right)
            if latest and self.sources[right].key == (on,):
                # Joined on the right ledger's business key: one current row per key.
                cols = "".join(f", {_ident(f)}" for f in fields)
                side = f'(SELECT {_ident(on)} AS _k{cols} FROM "{right}" WHERE "_live")'
            else:
                # The latest written current row per key (the numpy engine's "last row"); a
                # file from before the `_live` flag has no stable row order: any row.
                picks = "".join(
                    (
                        f", arg_max_null({_ident(f)}, _rid) AS {_ident(f)}"
                        if latest
                        else f", any_value({_ident(f)}) AS {_ident(f)}"
                    )
                    for f in fields
                )
                rel = (
                    f'(SELECT *, rowid AS _rid FROM "{right}" WHERE "_live")'
                    if latest
                    else self._rel(wh, right)
                )
                # (a blank key matches nothing: its rows are not grouped)
                side = (
                    f"(SELECT {_ident(on)} AS _k{picks} FROM {rel} "
                    f"WHERE {_ident(on)} IS NOT NULL GROUP BY 1)"
                )
            if wanted and alias in wanted:  # the latest row per key first, then the filter
                side = f"(SELECT * FROM {side} {alias} WHERE {wanted[alias]})"
            sql += f" {'' if inner else 'LEFT '}JOIN {side} {alias} ON {left(on)} = {alias}._k"
        return sql

    @staticmethod
    def _joins(
        measures: Iterable[Measure],
    ) -> tuple[list[tuple[str, str, list[str]]], dict[Measure, str | None]]:
        """The joins these measures need — (right ledger, key, the right fields they read)
        — and each measure's join alias."""
        joins: dict[tuple[str, str], set[str]] = {}
        for m in measures:
            if m.join is None:
                continue
            names = [
                m.field,
                *(m.expr.names if m.expr else ()),
                *(f for c in clauses_of(m.where) for f in c.fields),
            ]
            joins.setdefault((m.join.ledger, m.join.on), set()).update(
                n.split(".", 1)[1] for n in names if n and "." in n
            )
        spec = [(r, on, sorted(f)) for (r, on), f in joins.items()]
        alias_of = {(r, on): a for a, (r, on, _f) in zip(_aliases(spec), spec)}
        return spec, {
            m: (alias_of[(m.join.ledger, m.join.on)] if m.join else None) for m in measures
        }

    def _run_flows(
        self,
        wh: Any,
        ledger: str,
        date: str,
        measures: Mapping[tuple, Measure],
        done_by: str | None = None,
        inner: bool = False,
    ) -> None:
        """One GROUP BY county × month of `date` for these measures — and × the month a row
        was done (`d`, -1 when blank) when some of them count rows only once done (`done_by`):
        those keep the groups (`_done_by_groups`), the others add them up over `d`. With
        `inner`, every measure counts only rows with a joined match (`_matched_only`): the
        joins are inner, so the rows without one are dropped before anything is computed."""
        if done_by is None:
            fields = sorted({m.done_by for m in measures.values() if m.done_by})
            for extra in fields[1:]:  # a second done_by field: a statement of its own (rare)
                self._run_flows(
                    wh,
                    ledger,
                    date,
                    {k: m for k, m in measures.items() if m.done_by == extra},
                    extra,
                    inner,
                )
            measures = {k: m for k, m in measures.items() if m.done_by in (None, *fields[:1])}
            done_by = fields[0] if fields else None
        joins, alias = self._joins(measures.values())
        # A condition every measure has (cases not 已撤销 …) filters the rows once, before
        # grouping, instead of being a term of every aggregate's filter.
        plain = {
            k: [_Sql(m, alias[m], None, self.sources).condition(c) for c in m.where]
            for k, m in measures.items()
        }
        first_conds = next(iter(plain.values()))
        common = [c for c in dict.fromkeys(first_conds) if all(c in v for v in plain.values())]
        aggs = []
        shared: dict[str, str] = {}
        for i, (key, m) in enumerate(measures.items()):
            q = _Sql(m, alias[m], shared, self.sources)
            where = q.where([c for c, sql in zip(m.where, plain[key]) if sql not in common])
            if m.agg == "sum":
                # fsum: compensated, so the total does not depend on DuckDB's row order.
                filt = "" if where == "true" else f" FILTER (WHERE {where})"
                aggs.append(f"coalesce(fsum({q.value(dict(key[-1]))}){filt}, 0) AS v{i}")
            else:  # count, any (count_if: cheaper than a FILTER by ≈ 10 %; NULL
                # when every row gives NULL, hence the coalesce)
                aggs.append(
                    f"count(*) AS v{i}"
                    if where == "true"
                    else f"coalesce(count_if({where}), 0) AS v{i}"
                )
        first = next(iter(measures.values()))
        month = _Sql(first, None, None, self.sources).month(date)
        unit = _ident(unit_field(self.sources[ledger]))
        cols = "".join(f", {sql} AS {name}" for sql, name in shared.items())
        done, row_where = "", list(common)
        if done_by is not None:
            d = _Sql(first, None, None, self.sources).month(done_by)
            # The month done matters only against the ends of windows holding the row's own
            # month (`_done_by_windows`): done by then (or before) is "done by its month",
            # which keeps the groups few; blank: done at an unknown time (-1).
            done = f", coalesce(CASE WHEN {d} <= {month} THEN {month} ELSE {d} END, -1) AS d"
            if all(m.not_done for m in measures.values()):
                # Counting only what is still open: rows done by their own month never count.
                row_where.append(f"({d} IS NULL OR NOT ({d} <= {month}))")
        where = f" WHERE {' AND '.join(row_where)}" if row_where else ""
        # Rows with every clause and value computed once; grouped by the code; the few
        # thousand groups joined to the universe.
        sql = (
            f"SELECT coalesce(u.pos, -1) AS c, g.* EXCLUDE (c) FROM ("
            f"SELECT c, m{', d' if done else ''}, {', '.join(aggs)} FROM ("
            f"SELECT l.{unit} AS c, {month} AS m{done}{cols} "
            f"{self._from(wh, ledger, joins, inner)}{where}) GROUP BY ALL) g "
            f"LEFT JOIN _wb_universe u ON u.code = g.c"
        )
        out = wh.con.execute(sql).fetchnumpy()
        m_arr = _floats(out["m"])
        ok_m = np.isfinite(m_arr)
        if not inner and not where:
            self._range_store[(ledger, date)] = (
                (int(m_arr[ok_m].min()), int(m_arr[ok_m].max())) if ok_m.any() else None
            )
        else:  # the rows grouped are not all of the ledger's: the date's own least and greatest
            self._fill_ranges(wh, [(ledger, date)])
        cidx = np.asarray(out["c"], dtype=np.int64)
        keep = ok_m & (cidx >= 0)
        months = m_arr[keep].astype(np.int64)
        groups = _Groups(cidx[keep], months)  # with `d`, one (county, month) may repeat
        d_arr = _floats(out["d"])[keep].astype(np.int64) if done else None
        for i, (key, m) in enumerate(measures.items()):
            vals = _floats(out[f"v{i}"])[keep]
            if m.done_by is not None:
                self._done_store[key] = (cidx[keep], months, d_arr, vals)
            else:  # `any` is made 0/1 once the groups are added up (`_full`)
                self._flow_store[key] = (groups, vals)

    def _run_distinct(self, wh: Any, measures: Mapping[tuple, Measure]) -> None:
        """Distinct counts of one field of one ledger by one date, each with its own filter:
        one row per (county, value) pair with, per measure, the set of months it occurs in as
        a bit mask (64 months a word) — no value ever comes back to Python, and a window's
        count is the number of pairs whose mask meets the window's."""
        first = next(iter(measures.values()))
        rng = self._data_range(first.ledger, first.dating)  # type: ignore[arg-type]
        if rng is None:
            for key in measures:
                self._distinct_store[key] = (
                    0,
                    np.zeros((0, 0), np.uint64),
                    np.zeros(0, np.int64),
                    np.zeros(0, np.int64),
                )
            return
        n_words = (rng[1] - rng[0]) // 64 + 1
        if n_words > _MAX_WORDS:  # stray dates decades apart: the numpy engine's way (rows)
            for key in measures:
                self._distinct_store[key] = None
            return
        # Measures whose joined fields depend on the counted value alone (joined on it) read
        # them after grouping — a few hundred thousand pairs instead of every row; the rest
        # join every row first.
        late = {k: _late_join(m) for k, m in measures.items()}
        for batch in (
            {k: m for k, m in measures.items() if late[k] is not None},
            {k: m for k, m in measures.items() if late[k] is None},
        ):
            if batch:
                self._distinct_statement(wh, batch, rng[0], n_words, {k: late[k] for k in batch})

    def _distinct_statement(
        self,
        wh: Any,
        measures: Mapping[tuple, Measure],
        lo: int,
        n_words: int,
        late: Mapping[tuple, tuple[list, list] | None],
    ) -> None:
        """One statement for `_run_distinct`: with `late` splits for every measure, the
        joined conditions are applied to the grouped pairs, else to the rows."""
        joins, alias = self._joins(measures.values())
        first = next(iter(measures.values()))
        ref = _Sql(first, None, None, self.sources).col(first.field)[0]  # type: ignore[arg-type]
        month = _Sql(first, None, None, self.sources).month(first.dating)  # type: ignore[arg-type]
        unit = _ident(unit_field(self.sources[first.ledger]))  # type: ignore[index]
        grouped = all(v is not None for v in late.values())
        aggs: dict[str, str] = {}  # aggregate SQL → its column (measures may share one)
        cols = []
        for i, (key, m) in enumerate(measures.items()):
            q = _Sql(m, alias[m], None, self.sources)
            if grouped:
                row_where, pair_where = (q.where(part) for part in late[key])  # type: ignore
                filt = "" if row_where == "true" else f" FILTER (WHERE {row_where})"
            else:
                filt, pair_where = q.filter(), "true"
            for k in range(n_words):
                bit = (
                    f"(1::UBIGINT << ({month} - {lo}))"
                    if n_words == 1
                    else f"(CASE WHEN ({month} - {lo}) // 64 = {k} "
                    f"THEN 1::UBIGINT << (({month} - {lo}) % 64) END)"
                )
                name = aggs.setdefault(
                    f"coalesce(bit_or({bit}){filt}, 0::UBIGINT)", f"a{len(aggs)}"
                )
                cols.append(
                    f"g.{name} AS b{i}_{k}"
                    if pair_where == "true"
                    else f"CASE WHEN {pair_where} THEN g.{name} ELSE 0::UBIGINT END AS b{i}_{k}"
                )
        agg_sql = ", ".join(f"{sql} AS {name}" for sql, name in aggs.items())
        rows = (
            f"FROM {self._rel(wh, first.ledger)} l"  # type: ignore[arg-type]
            if grouped
            else self._from(wh, first.ledger, joins)
        )  # type: ignore[arg-type]
        pairs = (
            self._join_sql(
                wh,
                joins,
                lambda on: "g._v",
                wanted=_pair_filter(measures, late, alias, self.sources),
            )
            if grouped
            else ""
        )
        # For the city's count, which values more than one county reports: usually none,
        # which a 64-bit hash of each pair's value proves cheaply (equal values hash equally,
        # so all-different hashes mean all-different values); when some hashes repeat, the
        # statement runs again numbering exactly the values several counties report.
        group = (
            f"SELECT l.{unit} AS c, {ref} AS _v, {agg_sql} {rows} "
            f"WHERE {ref} IS NOT NULL AND {month} IS NOT NULL GROUP BY 1, 2"
        )
        out = wh.con.execute(
            f"SELECT u.pos AS c, hash(g._v) AS _h, {', '.join(cols)} FROM ({group}) g{pairs} "
            f"JOIN _wb_universe u ON u.code = g.c"
        ).fetchnumpy()
        pair_group = np.full(len(out["c"]), -1, dtype=np.int64)
        if pd.Series(np.asarray(out["_h"])).duplicated().any():
            out = wh.con.execute(
                f"WITH g AS MATERIALIZED ({group}), multi AS (SELECT _v, row_number() OVER () "
                f"AS gid FROM g GROUP BY _v HAVING count(*) > 1) "
                f"SELECT u.pos AS c, coalesce(mu.gid, 0) - 1 AS _gid, {', '.join(cols)} "
                f"FROM g{pairs} LEFT JOIN multi mu ON mu._v = g._v "
                f"JOIN _wb_universe u ON u.code = g.c"
            ).fetchnumpy()
            pair_group = np.asarray(out["_gid"], dtype=np.int64)
        pair_county = np.asarray(out["c"], dtype=np.int64)
        for i, key in enumerate(measures):
            masks = np.stack(
                [np.asarray(out[f"b{i}_{k}"], dtype=np.uint64) for k in range(n_words)], axis=1
            )
            self._distinct_store[key] = (lo, masks, pair_county, pair_group)

    def _run_stocks(self, wh: Any, ledger: str, measures: Mapping[tuple, Measure]) -> None:
        """Levels of an undated ledger per county (and year, for yearly rosters): each
        measure's value and whether the county has a matching row (with a number, for a sum)."""
        joins, alias = self._joins(measures.values())
        yearly = "year" in self.sources[ledger].field_names
        unit = _ident(unit_field(self.sources[ledger]))
        cols = []
        for i, (key, m) in enumerate(measures.items()):
            q = _Sql(m, alias[m], None, self.sources)
            filt = q.filter()
            if m.agg == "sum":
                val = q.value(dict(key[-1]))
                cols += [f"coalesce(fsum({val}){filt}, 0) AS v{i}", f"count({val}){filt} AS s{i}"]
            elif m.agg == "distinct_count":
                ref = q.col(m.field)[0]  # type: ignore[arg-type]
                cols += [f"count(DISTINCT {ref}){filt} AS v{i}", f"count(*){filt} AS s{i}"]
            else:  # count, any
                cols += [f"count(*){filt} AS v{i}", f"count(*){filt} AS s{i}"]
        year = "CAST(l.year AS BIGINT)" if yearly else "0"
        sql = (
            f"SELECT u.pos AS c, {year} AS y, {', '.join(cols)} "
            f"{self._from(wh, ledger, joins)} JOIN _wb_universe u ON u.code = l.{unit} "
            + ("WHERE l.year IS NOT NULL " if yearly else "")
            + "GROUP BY ALL"
        )
        out = wh.con.execute(sql).fetchnumpy()
        cidx = np.asarray(out["c"], dtype=np.int64)
        y = np.asarray(out["y"], dtype=np.int64)
        years = np.unique(y) if yearly else np.array([0], dtype=np.int64)
        size = self.n * len(years)
        cell = cidx * len(years) + np.searchsorted(years, y)
        for i, (key, m) in enumerate(measures.items()):
            if yearly and not len(years):
                self._stock_store[key] = None
                continue
            flat = np.zeros(size)
            seen = np.zeros(size, dtype=bool)
            vals = _floats(out[f"v{i}"])
            flat[cell] = (vals > 0).astype("float64") if m.agg == "any" else vals
            seen[cell] = _floats(out[f"s{i}"]) > 0
            self._stock_store[key] = (years, flat, seen, yearly)

    # -- the numpy engine's hooks -------------------------------------------------------------
    def _data_range(self, ledger: str, date: str) -> tuple[int, int] | None:
        if (ledger, date) not in self._range_store:
            with self.connect() as wh:
                self._fill_ranges(wh, [(ledger, date)])
        return self._range_store[(ledger, date)]

    def _fill_ranges(self, wh: Any, pairs: Iterable[tuple[str, str]]) -> None:
        """First and last month of each (ledger, date) not known yet: one statement per
        ledger. A date's months rise with it, so a date field's range is the months of its
        least and greatest date (a cheap min/max of the column); YYYY-MM text is parsed."""
        todo: dict[str, list[str]] = {}
        for ledger, date in sorted(set(pairs)):
            if (ledger, date) not in self._range_store:
                todo.setdefault(ledger, []).append(date)
        for ledger, dates in todo.items():
            cols = []
            for d in dates:  # a field, or a `Measure.dating` (`due_date+1d`)
                name, days = dating_parts(d)
                ftype = self.sources[ledger].field(name).type
                ref = f"l.{_ident(name)}"
                if ftype == "date":
                    cols += [
                        _month_sql(f"{fn}(TRY_CAST({ref} AS DATE))", ftype, days)
                        for fn in ("min", "max")
                    ]
                else:
                    m = _month_sql(ref, ftype, days)
                    cols += [f"min({m})", f"max({m})"]
            row = wh.con.execute(
                f"SELECT {', '.join(cols)} FROM {self._rel(wh, ledger)} l"
            ).fetchall()[0]
            for i, d in enumerate(dates):
                lo, hi = row[2 * i], row[2 * i + 1]
                self._range_store[(ledger, d)] = None if lo is None else (int(lo), int(hi))

    def _full(
        self, measure: Measure, params: Mapping[str, object], grid: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        key = measure_key(measure, params)
        cache = ("full", key)
        cur = self._monthly.get(cache)
        if cur is None or cur[0] != grid:
            if key not in self._flow_store:
                with self._session() as wh:
                    self._run_flows(
                        wh,
                        measure.ledger,
                        measure.dating,  # type: ignore[arg-type]
                        {key: measure},
                        inner=_matched_only(measure),
                    )
            groups, vals = self._flow_store[key]
            n_m = grid[1] - grid[0] + 1
            inside, cells = groups.cells(grid)
            mat = np.bincount(
                cells, weights=vals if inside is None else vals[inside], minlength=self.n * n_m
            ).reshape(self.n, n_m)
            if measure.agg == "any":
                mat = (mat > 0).astype("float64")
            cs = np.zeros((self.n, n_m + 1))
            np.cumsum(mat, axis=1, out=cs[:, 1:])
            cur = (grid, mat, cs)
            self._monthly[cache] = cur
        return cur[1], cur[2]

    def _done_by_groups(
        self, measure: Measure, params: Mapping[str, object]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        key = measure_key(measure, params)
        if key not in self._done_store:
            with self._session() as wh:
                self._run_flows(
                    wh,
                    measure.ledger,
                    measure.dating,  # type: ignore[arg-type]
                    {key: measure},
                    measure.done_by,
                    _matched_only(measure),
                )
        return self._done_store[key]

    def _distinct_windows(
        self, measure: Measure, windows: Sequence[Window]
    ) -> tuple[np.ndarray, np.ndarray]:
        key = measure_key(measure, {})
        if key not in self._distinct_store:
            with self._session() as wh:
                self._run_distinct(wh, {key: measure})
        stored = self._distinct_store[key]
        if stored is None:
            return super()._distinct_windows(measure, windows)
        lo, masks, pair_county, pair_group = stored
        shared = pair_group >= 0  # pairs whose value another county reports too
        if (
            masks.shape[1] == 1
            and not shared.any()
            and (not len(masks) or int(masks[:, 0].max()).bit_length() <= 53)
        ):
            return self._distinct_by_end(masks[:, 0], lo, pair_county, windows)
        out = np.zeros((self.n, len(windows)))
        city = np.zeros(len(windows))
        for j, w in enumerate(windows):
            if w.empty:
                out[:, j] = city[j] = np.nan
                continue
            s, e = max(w.start - lo, 0), min(w.end - lo, 64 * masks.shape[1] - 1)
            if s > e or not len(masks):
                continue
            hit = np.zeros(len(masks), dtype=bool)
            for k in range(masks.shape[1]):
                a, b = max(s, 64 * k), min(e, 64 * k + 63)
                if a > b:
                    continue
                width = b - a + 1
                bits = (
                    np.uint64(0xFFFFFFFFFFFFFFFF)
                    if width == 64
                    else np.uint64(((1 << width) - 1) << (a - 64 * k))
                )
                hit |= (masks[:, k] & bits) != 0
            out[:, j] = np.bincount(pair_county[hit], minlength=self.n)[: self.n]
            # the city: every hit pair, less the repeats of a value several counties report
            groups = pair_group[hit & shared]
            city[j] = hit.sum() - (len(groups) - len(np.unique(groups)))
        return out, city

    def _distinct_by_end(
        self, mask: np.ndarray, lo: int, pair_county: np.ndarray, windows: Sequence[Window]
    ) -> tuple[np.ndarray, np.ndarray]:
        """`_distinct_windows` in the usual case — months in one 53-bit word, no value in two
        counties — one pass per window end instead of per window: a pair meets [s, e] when
        its last month up to e is s or later, so one county × month table of those last
        months, summed from the right, answers every start (the spans of a point share their
        end). The city is then the counties' sum."""
        out = np.zeros((self.n, len(windows)))
        city = np.zeros(len(windows))
        by_end: dict[int, list[int]] = {}
        for j, w in enumerate(windows):
            if w.empty:
                out[:, j] = city[j] = np.nan
            else:
                by_end.setdefault(w.end, []).append(j)
        for end, js in by_end.items():
            e = min(end - lo, 63)
            if e < 0:
                continue  # before the first month with data: nothing
            cut = mask & np.uint64((1 << (e + 1)) - 1)
            has = cut > 0
            # the highest bit: exact through float64 below 2**53 (checked by the caller)
            last = np.floor(np.log2(cut[has].astype(np.float64))).astype(np.int64)
            table = np.bincount(pair_county[has] * (e + 1) + last, minlength=self.n * (e + 1))[
                : self.n * (e + 1)
            ]
            tail = np.cumsum(table.reshape(self.n, e + 1)[:, ::-1], axis=1)[:, ::-1]
            for j in js:
                start = max(windows[j].start - lo, 0)
                if start <= e:
                    out[:, j] = tail[:, start]
                    city[j] = tail[:, start].sum()
        return out, city

    def _stock_levels(
        self, measure: Measure, params: Mapping[str, object]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool] | None:
        key = measure_key(measure, params)
        if key not in self._stock_store:
            with self._session() as wh:
                self._run_stocks(wh, measure.ledger, {key: measure})  # type: ignore[arg-type]
        return self._stock_store[key]


class _Groups:
    """The (county, month) groups of one aggregate statement, shared by its measures: their
    flat cell numbers in a county × month grid are computed once per grid."""

    def __init__(self, cidx: np.ndarray, months: np.ndarray) -> None:
        self.cidx, self.months = cidx, months
        self._cells: dict[tuple[int, int], tuple[np.ndarray | None, np.ndarray]] = {}

    def cells(self, grid: tuple[int, int]) -> tuple[np.ndarray | None, np.ndarray]:
        """(rows inside the grid — None for all —, their cell numbers)."""
        if grid not in self._cells:
            glo, ghi = grid
            inside = (self.months >= glo) & (self.months <= ghi)
            if inside.all():
                self._cells[grid] = (None, self.cidx * (ghi - glo + 1) + self.months - glo)
            else:
                self._cells[grid] = (
                    inside,
                    self.cidx[inside] * (ghi - glo + 1) + self.months[inside] - glo,
                )
        return self._cells[grid]


def _floats(col: Any) -> np.ndarray:
    """A fetched column as float64 with NULL as NaN (DuckDB hands NULLs in integer columns
    over as a masked array, whose data under the mask is 0 — a month index of 0 is 0000-01)."""
    arr = np.asarray(np.ma.getdata(col), dtype="float64")
    mask = np.ma.getmaskarray(col)
    if mask.any():
        arr = arr.copy()
        arr[mask] = np.nan
    return arr


def _matched_only(m: Measure) -> bool:
    """Whether a joined measure counts only rows with a match in the joined ledger: some
    condition every row must meet is false when the joined fields are blank (any clause on a
    joined field but `is_null` — a blank cell never matches a comparison). Its statement can
    then inner-join, which DuckDB turns into a filter on the scan (the few keys of the right
    side), instead of joining every row of the ledger."""
    return m.join is not None and any(_rejects_blank_join(c) for c in m.where)


def _rejects_blank_join(cond: Condition) -> bool:
    """The condition is false for a row whose joined fields are all blank."""
    if isinstance(cond, AllOf):
        return any(_rejects_blank_join(c) for c in cond.clauses)
    if isinstance(cond, AnyOf):
        return bool(cond.clauses) and all(_rejects_blank_join(c) for c in cond.clauses)
    return cond.op != "is_null" and any("." in f for f in cond.fields)


def _pair_filter(
    measures: Mapping[tuple, Measure],
    late: Mapping[tuple, tuple[list, list] | None],
    alias: Mapping[Measure, str | None],
    sources: Mapping[str, Ledger],
) -> dict[str, str] | None:
    """For distinct counts reading joined conditions on their grouped pairs (`_late_join`),
    the one condition on the joined ledger's rows that keeps every row some measure can count
    — the OR of their joined conditions — when each of them is false without a match (then a
    filtered-out row and no row are alike). The join is then built from those rows only (a
    tenth of the institutions for 重点监控). None when that does not hold or there are several
    joins."""
    conds: list[str] = []
    aliases: set[str | None] = set()
    for key, m in measures.items():
        joined = late[key][1] if late[key] is not None else []
        if not joined:
            continue  # reads nothing joined
        if not any(_rejects_blank_join(c) for c in joined):
            return None
        aliases.add(alias[m])
        conds.append(_Sql(m, alias[m], None, sources).where(joined))
    if len(aliases) != 1 or None in aliases:
        return None
    (name,) = aliases
    return {name: "(" + " OR ".join(dict.fromkeys(conds)) + ")"}  # type: ignore[dict-item]


def _late_join(m: Measure) -> tuple[list[Condition], list[Condition]] | None:
    """A distinct count's conditions split into those on its own ledger's row and those on
    joined fields, when the joined fields are a function of the counted value (the join is on
    the counted field) and no condition mixes the two; else None."""
    if m.join is None:
        return list(m.where), []
    if m.join.on != m.field:
        return None
    own: list[Condition] = []
    joined: list[Condition] = []
    for cond in m.where:
        sides = {"." in f for c in clauses_of([cond]) for f in c.fields}
        if len(sides) > 1:
            return None
        (joined if True in sides else own).append(cond)
    return own, joined


def _aliases(joins: Sequence[object]) -> list[str]:
    return [f"j{i}" for i in range(len(joins))]
