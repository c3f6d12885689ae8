"""Measures: ledger rows → counts, sums and distinct counts per county × month (or window).

Everything is vectorised over counties: rows are binned once into a dense county × month grid
(`np.bincount`), windows are prefix-sum differences, and distinct counts are recomputed per window
from de-duplicated (county, value, month) triples, because a distinct count over a quarter is not
the sum of its months. Filters are evaluated from cached per-column codes so a clause shared by
several measures costs one pass. Pure: DataFrames in, arrays/DataFrames out.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench.contracts import LEDGERS, Ledger
from workbench.messages import t
from workbench.declarations import (
    PERIOD_END,
    AllOf,
    AnyOf,
    Clause,
    Condition,
    IndicatorSet,
    WITHIN_DAYS,
    Measure,
    dating_parts,
    eval_expr,
    unit_field,
)

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# Months as integers: index = year * 12 + (month - 1)
# ---------------------------------------------------------------------------------------------
def month_index(period: str | pd.Timestamp | pd.Period) -> int:
    """`2025-09` → 24308; also accepts timestamps and periods."""
    if isinstance(period, (pd.Timestamp, pd.Period)):
        return int(period.year) * 12 + int(period.month) - 1
    s = str(period).strip()
    y, m = int(s[:4]), int(s[5:7])
    if not 1 <= m <= 12 or len(s) != 7 or s[4] != "-":
        raise ValueError(f"not a month YYYY-MM: {period!r}")
    return y * 12 + m - 1


def month_label(idx: int) -> str:
    return f"{idx // 12:04d}-{idx % 12 + 1:02d}"


def month_range(start: int, end: int) -> list[str]:
    return [month_label(i) for i in range(start, end + 1)]


@dataclass(frozen=True)
class Window:
    """Inclusive month range; `start > end` is an empty window (its values are missing)."""

    start: int
    end: int

    @property
    def empty(self) -> bool:
        return self.start > self.end

    @property
    def label(self) -> str:
        if self.empty:
            return "—"
        if self.start == self.end:
            return month_label(self.start)
        if self.start <= 0:  # every month up to the end (`to_date`)
            return t("ind.window.to_date", end=month_label(self.end))
        return f"{month_label(self.start)}~{month_label(self.end)}"


_EPOCH = 1970 * 12
_WINDOW_CACHE_BYTES = 64 * 2**20  # computed county × window matrices kept per engine
_INDICATOR_MEMO_MAX = 4096  # indicator × points entries kept for other sets
_GRID_MARGIN = 120  # months of slack around the asked months in the cached grid (a cache size)


def _months_of(values: pd.Series, ftype: str) -> np.ndarray:
    """Month index per row (-1 when blank) for a date or YYYY-MM column.

    Dates go through whole days and a small day → month lookup table, which is several times
    faster than numpy's calendar-aware datetime64[M] cast on millions of rows.
    """
    if ftype == "month":
        codes, uniques = pd.factorize(values)
        codes = np.asarray(codes)
        months = pd.to_datetime(
            pd.Index(np.asarray(uniques, dtype=object)), format="%Y-%m", errors="coerce"
        )
        u = np.asarray(months, dtype="datetime64[ns]")
        parsed = np.where(
            codes >= 0,
            u[np.maximum(codes, 0)] if len(u) else np.datetime64("NaT"),
            np.datetime64("NaT"),
        )
    else:
        parsed = pd.to_datetime(values, errors="coerce")
    arr = np.asarray(parsed, dtype="datetime64[ns]")
    nat = np.isnat(arr)
    if nat.all():
        return np.full(len(arr), -1, dtype=np.int64)
    days = arr.view("int64") // 86_400_000_000_000
    ok = days[~nat] if nat.any() else days
    lo, hi = int(ok.min()), int(ok.max())
    table = (
        np.arange(lo, hi + 1).astype("datetime64[D]").astype("datetime64[M]").astype("int64")
        + _EPOCH
    )
    if not nat.any():
        return table[days - lo]
    out = np.full(len(arr), -1, dtype=np.int64)
    out[~nat] = table[ok - lo]
    return out


def _is_text(series: pd.Series) -> bool:
    return (
        series.dtype == object
        or pd.api.types.is_string_dtype(series)
        or isinstance(series.dtype, pd.CategoricalDtype)
    )


def _empty_ledger(lg: Ledger) -> pd.DataFrame:
    return pd.DataFrame({f: pd.Series(dtype="object") for f in lg.field_names})


def tables_of(sets: Iterable[IndicatorSet]) -> dict[str, Ledger]:
    """The declared tables these sets read, as the ledgers the engine reads."""
    return {code: tb.ledger for iset in sets for code, tb in iset.tables.items()}


def unit_sources(sets: Iterable[IndicatorSet]) -> list[str] | None:
    """Where the units of an engine for these sets come from: None (every ledger's county
    codes and the tables' units, as always) when a set reads a ledger; else the declared
    tables' own units, so a table of regions is not joined by the counties of the ledgers."""
    sets = list(sets)
    if not sets or any(s.reads_ledgers() or not s.tables for s in sets):
        return None
    return sorted(tables_of(sets))


def ledger_columns(sets: Iterable[IndicatorSet]) -> dict[str, list[str]]:
    """Per ledger (and declared table), the columns the engine reads to compute these
    indicator sets: every ledger's county code (the county universe) and dating field (the
    latest complete month), the counties' names, city and year, a table's unit, unit name and
    period, and whatever each measure filters, sums or dates by. Reading only these from the
    warehouse gives the same results as reading everything (drill-through, which shows whole
    rows, reads its rows itself)."""
    sets = list(sets)
    sources: dict[str, Ledger] = {**LEDGERS, **tables_of(sets)}
    want: dict[str, set[str]] = {
        name: {unit_field(lg), *([lg.date_field] if lg.date_field else [])}
        for name, lg in sources.items()
    }
    want["counties"] |= {"county_name", "city", "year"}
    for name, lg in sources.items():
        want[name].update(
            f for f in (getattr(lg, "name_field", None), getattr(lg, "period_field", None)) if f
        )
    for iset in sets:
        for measure in iset.measures.values():
            for ledger, names in measure.fields_used().items():
                want.setdefault(ledger, set()).update(names)
    return {
        name: [f for f in lg.field_names if f in want.get(name, ())] for name, lg in sources.items()
    }


def measure_key(m: Measure, params: Mapping[str, object]) -> tuple:
    """What makes two measures the same aggregate of the same rows, whatever set or file
    declared them (the parameter values its expression uses included)."""
    used = tuple(sorted((n, params[n]) for n in (m.expr.names if m.expr else ()) if n in params))
    return (
        m.ledger,
        m.dating,
        m.agg,
        m.field,
        m.expr.text if m.expr else None,
        m.where,
        m.join,
        m.done_by,
        m.not_done,
        used,
    )  # `used` last: the warehouse engine reads it as key[-1]


# ---------------------------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------------------------
class MeasureEngine:
    """Prepared ledgers; computes any measure for many windows at once.

    `counties` is the universe of county codes (rows of every result), sorted: the counties
    ledger's codes plus any code seen in another ledger. `tables` are the declared tables the
    engine may read besides the ledgers (`tables_of`); `units_from` names the sources whose
    unit codes are the universe (`unit_sources`; None: all of them).
    """

    def __init__(
        self,
        ledgers: Mapping[str, pd.DataFrame],
        counties: Sequence[str] | None = None,
        tables: Mapping[str, Ledger] | None = None,
        units_from: Sequence[str] | None = None,
    ) -> None:
        self.sources: dict[str, Ledger] = {**LEDGERS, **(tables or {})}
        self.units_from = list(units_from) if units_from is not None else list(self.sources)
        self.ledgers: dict[str, pd.DataFrame] = {}
        for name, lg in self.sources.items():
            df = ledgers.get(name)
            self.ledgers[name] = _empty_ledger(lg) if df is None else df
        self._universe = (
            None
            if counties is None
            else pd.Index([str(c) for c in counties], dtype="object", name="county_code")
        )
        self._ccodes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._cidx: dict[str, np.ndarray] = {}
        self._midx: dict[tuple[str, str], np.ndarray] = {}
        self._codes: dict[tuple, tuple[np.ndarray, pd.Index]] = {}
        self._cols: dict[tuple, pd.Series] = {}
        self._masks: dict[tuple, np.ndarray] = {}
        self._pairs: dict[Measure, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._monthly: dict[tuple, Any] = {}
        self._window_cache: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._window_bytes = 0
        self._names: dict[int | None, pd.Series] = {}
        self._city_distinct: dict[tuple, np.ndarray] = {}  # window key → city's counts
        # indicator key → (county arrays, city arrays, windows), shared by the sets evaluated
        # on this engine (`indicators.compute_points`)
        self.indicator_memo: dict[tuple, tuple] = {}

    @property
    def counties(self) -> pd.Index:
        """Sorted county codes: the counties ledger's plus any code seen in another ledger."""
        if self._universe is None:
            codes: set[str] = set()
            for name in self.units_from:
                codes.update(str(u) for u in self._county_codes(name)[1])
            self._universe = pd.Index(sorted(codes), dtype="object", name="county_code")
        return self._universe

    @property
    def n(self) -> int:
        return len(self.counties)

    # -- per-ledger caches --------------------------------------------------------------------
    def _county_codes(self, ledger: str) -> tuple[np.ndarray, np.ndarray]:
        if ledger not in self._ccodes:
            df = self.ledgers[ledger]
            unit = unit_field(self.sources[ledger])
            if unit not in df.columns or not len(df):
                self._ccodes[ledger] = (
                    np.full(len(df), -1, dtype=np.int64),
                    np.array([], dtype=object),
                )
            else:
                codes, uniques = pd.factorize(df[unit])
                self._ccodes[ledger] = (np.asarray(codes), np.asarray(uniques, dtype=object))
        return self._ccodes[ledger]

    def county_idx(self, ledger: str) -> np.ndarray:
        """Row → position in `counties` (-1 for a blank or unknown code)."""
        if ledger not in self._cidx:
            codes, uniques = self._county_codes(ledger)
            pos = self.counties.get_indexer(pd.Index([str(u) for u in uniques], dtype=object))
            lookup = np.append(pos, -1).astype(np.int64)
            self._cidx[ledger] = lookup[codes]  # factorize's -1 picks the appended -1
        return self._cidx[ledger]

    def month_idx(self, ledger: str, date_field: str) -> np.ndarray:
        """Month index per row (-1 when blank) of a date field, or of a `Measure.dating`
        (`due_date+1d`: the month of the day after)."""
        key = (ledger, date_field)
        if key not in self._midx:
            df = self.ledgers[ledger]
            name, days = dating_parts(date_field)
            if name not in df.columns or not len(df):
                self._midx[key] = np.full(len(df), -1, dtype=np.int64)
            else:
                ftype = self.sources[ledger].field(name).type
                values = df[name]
                if days:
                    values = pd.to_datetime(values, errors="coerce") + pd.Timedelta(days=days)
                self._midx[key] = _months_of(values, ftype)
        return self._midx[key]

    @staticmethod
    def _key(measure: Measure, name: str) -> tuple:
        """Cache key of a column: joined fields depend on the join, plain ones do not."""
        return (measure.ledger, measure.join if "." in name else None, name)

    def column(self, measure: Measure, name: str) -> pd.Series:
        """A column of the measure's ledger, or `ledger.field` looked up through its join."""
        key = self._key(measure, name)
        if key in self._cols:
            return self._cols[key]
        df = self.ledgers[measure.ledger]  # type: ignore[index]
        if "." in name:
            right_name, fld = name.split(".", 1)
            right = self.ledgers[right_name]
            on = measure.join.on  # type: ignore[union-attr]
            if len(right) and on in right.columns and fld in right.columns and on in df.columns:
                # Look up each distinct key once (the right side's last row per key), then
                # spread by the key's codes: one factorisation of both sides' keys together.
                codes, uniques = self._factorised(measure, on)
                left_keys, right_keys = pd.Index(uniques), pd.Index(right[on])
                if left_keys.dtype != right_keys.dtype:
                    left_keys, right_keys = left_keys.astype(object), right_keys.astype(object)
                both, _ = pd.factorize(left_keys.append(right_keys))
                left_code, right_code = both[: len(uniques)], both[len(uniques) :]
                last_row = np.full(int(both.max(initial=-1)) + 1, -1, dtype=np.int64)
                ok = right_code >= 0
                np.maximum.at(last_row, right_code[ok], np.flatnonzero(ok))
                pos_u = np.where(left_code >= 0, last_row[np.maximum(left_code, 0)], -1)
                pos = np.append(pos_u, -1)[codes]
                vals = right[fld].reset_index(drop=True)
                col = vals.reindex(pos).reset_index(drop=True)  # -1 → missing
                col.index = df.index
            else:
                col = pd.Series([None] * len(df), index=df.index, dtype="object")
        elif name in df.columns:
            col = df[name]
        else:
            col = pd.Series([None] * len(df), index=df.index, dtype="object")
        self._cols[key] = col
        return col

    def _factorised(self, measure: Measure, name: str) -> tuple[np.ndarray, pd.Index]:
        key = self._key(measure, name)
        if key not in self._codes:
            col = self.column(measure, name)
            codes, uniques = pd.factorize(col, use_na_sentinel=True)  # categoricals: free
            self._codes[key] = (np.asarray(codes), pd.Index(uniques))
        return self._codes[key]

    # -- filters ------------------------------------------------------------------------------
    def mask(self, measure: Measure) -> np.ndarray:
        """Rows passing the measure's filters (all clauses, SQL-style: blank never matches)."""
        n = len(self.ledgers[measure.ledger])  # type: ignore[index]
        out = np.ones(n, dtype=bool)
        for cond in measure.where:
            out &= self._condition(measure, cond)
        return out

    def _condition(self, measure: Measure, cond: Condition) -> np.ndarray:
        joined = any("." in c.field for c in _flatten([cond]))
        key = (measure.ledger, measure.join if joined else None, cond)
        if key in self._masks:
            return self._masks[key]
        n = len(self.ledgers[measure.ledger])  # type: ignore[index]
        if isinstance(cond, AnyOf):
            res = np.zeros(n, dtype=bool)
            for c in cond.clauses:
                res |= self._condition(measure, c)
        elif isinstance(cond, AllOf):
            res = np.ones(n, dtype=bool)
            for c in cond.clauses:
                res &= self._condition(measure, c)
        else:
            res = self._clause(measure, cond)
        self._masks[key] = res
        return res

    def _clause(self, measure: Measure, c: Clause) -> np.ndarray:
        col = self.column(measure, c.field)
        if not len(col):
            return np.zeros(0, dtype=bool)
        if c.op in ("is_null", "not_null"):
            blank = np.asarray(col.isna(), dtype=bool)
            if _is_text(col):
                codes, uniques = self._factorised(measure, c.field)
                empty = np.asarray([str(u).strip() == "" for u in uniques], dtype=bool)
                blank = (codes < 0) | np.append(empty, False)[codes]
            return blank if c.op == "is_null" else ~blank
        if c.op == WITHIN_DAYS:  # date ≤ other date + n days, both filled
            other, days = c.value
            a = pd.to_datetime(col, errors="coerce")
            b = pd.to_datetime(self.column(measure, other), errors="coerce")
            ok = a.notna() & b.notna() & (a <= b + pd.Timedelta(days=int(days)))
            return np.asarray(ok, dtype=bool)
        values = c.value if isinstance(c.value, tuple) else (c.value,)
        if all(isinstance(v, str) for v in values):
            # Text (and YYYY-MM) compares on the few distinct values, then maps back to rows.
            codes, uniques = self._factorised(measure, c.field)
            u = pd.Series(uniques.astype(str), dtype="object")
            if c.op in ("in", "not_in", "==", "!="):
                wanted = u.isin(list(values)).to_numpy(dtype=bool)
                if c.op in ("not_in", "!="):
                    wanted = ~wanted
            else:
                wanted = _compare(u, c.op, values[0]).to_numpy(dtype=bool)
            return np.append(wanted, False)[codes]
        if all(isinstance(v, bool) for v in values):
            arr = _as_boolean(col)
        elif _is_dateish(c.value):
            arr = pd.to_datetime(col, errors="coerce")
            values = tuple(pd.Timestamp(v) for v in values)
        else:
            arr = pd.to_numeric(col, errors="coerce")
        na = np.asarray(arr.isna(), dtype=bool)
        if c.op in ("in", "not_in"):
            hit = np.asarray(arr.isin(list(values)), dtype=bool)
            return (hit if c.op == "in" else ~hit) & ~na
        res = _compare(arr, c.op, values[0])
        return np.asarray(pd.Series(res).astype("boolean").fillna(False), dtype=bool) & ~na

    # -- per-row weights ----------------------------------------------------------------------
    def _row_values(self, measure: Measure, params: Mapping[str, object]) -> np.ndarray:
        """The number each row contributes to a `sum` (blank → NaN)."""
        if measure.expr is not None:
            env: dict[str, object] = {}
            for name in measure.expr.names:
                if name in params:
                    env[name] = float(params[name])  # type: ignore[arg-type]
                else:
                    env[name] = pd.to_numeric(self.column(measure, name), errors="coerce").to_numpy(
                        dtype="float64", na_value=np.nan
                    )
            vals = np.asarray(eval_expr(measure.expr, env), dtype="float64")
            vals = np.broadcast_to(vals, (len(self.ledgers[measure.ledger]),))  # type: ignore
        else:
            vals = pd.to_numeric(self.column(measure, measure.field), errors="coerce").to_numpy(
                dtype="float64", na_value=np.nan
            )  # type: ignore[arg-type]
        return np.where(np.isfinite(vals), vals, np.nan)

    # -- flows --------------------------------------------------------------------------------
    def _data_range(self, ledger: str, date: str) -> tuple[int, int] | None:
        """First and last month with a dated row (None for no rows)."""
        key = ("range", ledger, date)
        if key not in self._monthly:
            midx = self.month_idx(ledger, date)
            ok = midx[midx >= 0]
            self._monthly[key] = (int(ok.min()), int(ok.max())) if len(ok) else None
        return self._monthly[key]

    def _grid(self, ledger: str, date: str, lo: int, hi: int) -> tuple[int, int] | None:
        """The month range the ledger's grid covers: the data's own range, trimmed to a margin
        around what has been asked so far (a stray 1925 date cannot blow the grid up), and
        only ever grown — so evaluating period after period reuses one grid and memory stays
        flat. None when the asked months hold no rows."""
        rng = self._data_range(ledger, date)
        if rng is None:
            return None
        dlo, dhi = rng
        lo, hi = max(lo, dlo), min(hi, dhi)
        if lo > hi:
            return None
        key = ("grid", ledger, date)
        cur = self._monthly.get(key)
        if cur is not None and cur[0] <= lo and hi <= cur[1]:
            return cur
        if cur is not None:
            lo, hi = min(lo, cur[0]), max(hi, cur[1])
        grid = (max(dlo, lo - _GRID_MARGIN), min(dhi, hi + _GRID_MARGIN))
        self._monthly[key] = grid
        return grid

    def _cells(
        self, ledger: str, date: str, grid: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows inside the county × month grid and each row's flat cell number (shared by every
        measure on the same ledger and date)."""
        key = ("cells", ledger, date)
        cur = self._monthly.get(key)
        if cur is None or cur[0] != grid:
            glo, ghi = grid
            cidx = self.county_idx(ledger)
            midx = self.month_idx(ledger, date)
            in_grid = (cidx >= 0) & (midx >= glo) & (midx <= ghi)
            cells = cidx * (ghi - glo + 1) + (midx - glo)
            cur = (grid, in_grid, cells)
            self._monthly[key] = cur
        return cur[1], cur[2]

    def _full(
        self, measure: Measure, params: Mapping[str, object], grid: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """County × month matrix over the grid, with its prefix sums (cached per measure)."""
        used = tuple(
            sorted(
                (n, params[n]) for n in (measure.expr.names if measure.expr else ()) if n in params
            )
        )
        key = ("full", measure, used)
        cur = self._monthly.get(key)
        if cur is None or cur[0] != grid:
            glo, ghi = grid
            in_grid, cells = self._cells(measure.ledger, measure.dating, grid)  # type: ignore
            n_m = ghi - glo + 1
            sel = self.mask(measure) & in_grid
            cell = cells[sel]
            if measure.agg == "sum":
                w = np.nan_to_num(self._row_values(measure, params)[sel], nan=0.0)
                flat = np.bincount(cell, weights=w, minlength=self.n * n_m)
            else:  # count, any
                flat = np.bincount(cell, minlength=self.n * n_m).astype("float64")
                if measure.agg == "any":
                    flat = (flat > 0).astype("float64")
            mat = flat[: self.n * n_m].reshape(self.n, n_m)
            cs = np.concatenate([np.zeros((self.n, 1)), np.cumsum(mat, axis=1)], axis=1)
            cur = (grid, mat, cs)
            self._monthly[key] = cur
        return cur[1], cur[2]

    def monthly(
        self, measure: Measure, lo: int, hi: int, params: Mapping[str, object] = {}
    ) -> np.ndarray:
        """County × month matrix over months lo..hi (months without rows are 0)."""
        return self.windows(measure, [Window(m, m) for m in range(lo, hi + 1)], params)

    def _flow_windows(
        self, measure: Measure, windows: Sequence[Window], params: Mapping[str, object]
    ) -> np.ndarray:
        out = np.zeros((self.n, len(windows)))
        if measure.agg == "months":
            since = month_index(measure.since) if measure.since else None
            for j, w in enumerate(windows):
                start = w.start if since is None else max(w.start, since)
                out[:, j] = np.nan if w.empty else max(w.end - start + 1, 0)
            return out
        if measure.done_by is not None:
            return self._done_by_windows(measure, windows, params)
        live = [w for w in windows if not w.empty]
        grid = (
            self._grid(
                measure.ledger,
                measure.dating,  # type: ignore[arg-type]
                min(w.start for w in live),
                max(w.end for w in live),
            )
            if live
            else None
        )
        if grid is not None:
            mat, cs = self._full(measure, params, grid)
        for j, w in enumerate(windows):
            if w.empty:
                out[:, j] = np.nan
                continue
            if grid is None:
                continue  # no dated rows in these months: zero
            glo, ghi = grid
            s, e = max(w.start, glo), min(w.end, ghi)
            if measure.rollup == "sum":
                if s <= e:
                    out[:, j] = cs[:, e - glo + 1] - cs[:, s - glo]
            elif measure.rollup == "max":
                if s <= e:
                    out[:, j] = np.maximum(mat[:, s - glo : e - glo + 1].max(axis=1), 0.0)
            elif glo <= w.end <= ghi:  # last
                out[:, j] = mat[:, w.end - glo]
        return out

    def _done_by_windows(
        self, measure: Measure, windows: Sequence[Window], params: Mapping[str, object]
    ) -> np.ndarray:
        """A flow whose rows count in a window only once done (`done_by` date) by the window's
        last month — a closure after it does not count there; a row without the date counts
        as done (its date is unknown: a `where` on the field says when blank means not done)."""
        cidx, mon, done, weight = self._done_by_groups(measure, params)
        out = np.zeros((self.n, len(windows)))
        by_end: dict[int, list[int]] = {}
        for j, w in enumerate(windows):
            if w.empty:
                out[:, j] = np.nan
            else:
                by_end.setdefault(w.end, []).append(j)
        # Windows ending in the same month (the spans of one point) share one county × month
        # grid of what was done by that month; each is then a difference of running totals.
        first = int(mon.min()) if len(mon) else 0
        for end, js in by_end.items():
            # a window reaching back before the first dated row (`to_date`) starts there
            lo = max(min(windows[j].start for j in js), min(first, end))
            counted = done <= end  # a blank date (-1) counts as done …
            if measure.not_done:  # … except when counting what is still not done
                counted = ~((done >= 0) & counted)
            sel = counted & (mon >= lo) & (mon <= end)
            n_m = end - lo + 1
            grid = np.bincount(
                cidx[sel] * n_m + (mon[sel] - lo), weights=weight[sel], minlength=self.n * n_m
            )[: self.n * n_m].reshape(self.n, n_m)
            run = np.zeros((self.n, n_m + 1))
            np.cumsum(grid, axis=1, out=run[:, 1:])
            for j in js:
                out[:, j] = run[:, n_m] - run[:, max(windows[j].start - lo, 0)]
        return out

    def _done_by_groups(
        self, measure: Measure, params: Mapping[str, object]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(county, month, month done — -1 when blank —, value) of every matching row (a
        `WarehouseEngine` gives the same per group of rows)."""
        ledger = measure.ledger
        cidx = self.county_idx(ledger)  # type: ignore[arg-type]
        mon = self.month_idx(ledger, measure.dating)  # type: ignore[arg-type]
        done = self.month_idx(ledger, measure.done_by)  # type: ignore[arg-type]
        sel = self.mask(measure) & (cidx >= 0) & (mon >= 0)
        weight = (
            np.nan_to_num(self._row_values(measure, params)[sel], nan=0.0)
            if measure.agg == "sum"
            else np.ones(int(sel.sum()))
        )
        return cidx[sel], mon[sel], done[sel], weight

    def _distinct_windows(
        self, measure: Measure, windows: Sequence[Window]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Distinct values per county in each window, and across the city (a value counted
        once however many counties report it): rows are coded once as dense (county, value)
        pair ids; a window marks the pairs it contains and counts them."""
        pair, mon, pair_county, pair_value = self._distinct_pairs(measure)
        out = np.zeros((self.n, len(windows)))
        city = np.zeros(len(windows))
        present = np.zeros(len(pair_county), dtype=bool)
        seen = np.zeros(int(pair_value.max()) + 1 if len(pair_value) else 0, dtype=bool)
        for j, w in enumerate(windows):
            if w.empty:
                out[:, j] = city[j] = np.nan
                continue
            lo, hi = np.searchsorted(mon, [w.start, w.end + 1])
            present[:] = False
            present[pair[lo:hi]] = True
            out[:, j] = np.bincount(pair_county[present], minlength=self.n)[: self.n]
            seen[:] = False
            seen[pair_value[present]] = True
            city[j] = seen.sum()
        return out, city

    def _distinct_pairs(
        self, measure: Measure
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(pair id per matching row sorted by month, its month, each pair's county, each
        pair's value code)."""
        if measure not in self._pairs:
            ledger = measure.ledger
            cidx = self.county_idx(ledger)  # type: ignore[arg-type]
            midx = self.month_idx(ledger, measure.dating)  # type: ignore[arg-type]
            codes, uniques = self._factorised(measure, measure.field)  # type: ignore[arg-type]
            sel = self.mask(measure) & (cidx >= 0) & (midx >= 0) & (codes >= 0)
            n_v = max(len(uniques), 1)
            pair, first = pd.factorize(cidx[sel] * n_v + codes[sel].astype(np.int64))
            first = np.asarray(first, dtype=np.int64)
            mon = midx[sel]
            order = np.argsort(mon, kind="stable")  # a window is then a slice
            self._pairs[measure] = (
                pair.astype(np.int64)[order],
                mon[order],
                first // n_v,
                first % n_v,
            )
        return self._pairs[measure]

    # -- stocks -------------------------------------------------------------------------------
    def _stock_levels(
        self, measure: Measure, params: Mapping[str, object]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool] | None:
        """(years, value per county × year flattened, seen per county × year, yearly?) of an
        undated ledger's measure; `years` are the years of the matching rows ([0] for a ledger
        without years); a county is seen in a year when a matching row (with a number, for a
        sum) exists there. None when no row has a year."""
        ledger = measure.ledger
        df = self.ledgers[ledger]  # type: ignore[index]
        cidx = self.county_idx(ledger)  # type: ignore[arg-type]
        sel = self.mask(measure) & (cidx >= 0)
        yearly = "year" in self.sources[ledger].field_names and "year" in df.columns  # type: ignore
        if yearly:
            years_col = pd.to_numeric(df["year"], errors="coerce").to_numpy(
                dtype="float64", na_value=np.nan
            )
            sel &= np.isfinite(years_col)
            years = np.unique(years_col[sel]).astype(np.int64)
        else:
            years = np.array([0], dtype=np.int64)
        if not len(years):
            return None
        y_pos = (
            np.searchsorted(years, years_col[sel].astype(np.int64))
            if yearly
            else np.zeros(int(sel.sum()), dtype=np.int64)
        )
        cell = cidx[sel] * len(years) + y_pos
        size = self.n * len(years)
        seen_rows = np.ones(len(cell), dtype=bool)
        if measure.agg == "sum":
            raw = self._row_values(measure, params)[sel]
            seen_rows = np.isfinite(raw)
            flat = np.bincount(cell, weights=np.nan_to_num(raw, nan=0.0), minlength=size)
        elif measure.agg == "distinct_count":
            codes, _ = self._factorised(measure, measure.field)  # type: ignore[arg-type]
            v = codes[sel]
            ok = v >= 0
            base = int(v.max(initial=0)) + 1
            pairs = np.unique(cell[ok].astype(np.int64) * base + v[ok])
            flat = np.bincount(pairs // base, minlength=size).astype("float64")
        else:
            flat = np.bincount(cell, minlength=size).astype("float64")
            if measure.agg == "any":
                flat = (flat > 0).astype("float64")
        seen = np.bincount(cell[seen_rows], minlength=size) > 0
        return years, flat[:size], seen[:size], yearly

    def _stock_windows(
        self, measure: Measure, windows: Sequence[Window], params: Mapping[str, object]
    ) -> np.ndarray:
        """Levels from undated ledgers; yearly ledgers (counties) use the window's end year,
        else the nearest earlier year, else the earliest later one."""
        levels = self._stock_levels(measure, params)
        if levels is None:
            return np.full((self.n, len(windows)), np.nan)
        years, flat, seen, yearly = levels
        # A county with no row in a year has no level for that year (not zero).
        mat = np.where(seen, flat, np.nan).reshape(self.n, len(years))
        if yearly:
            mat = pd.DataFrame(mat).ffill(axis=1).bfill(axis=1).to_numpy()
        elif measure.agg in ("count", "distinct_count", "any"):
            mat = np.where(np.isnan(mat), 0.0, mat)  # a roster with no matching row: zero
        out = np.empty((self.n, len(windows)))
        for j, w in enumerate(windows):
            if w.empty:
                out[:, j] = np.nan
                continue
            if yearly:
                pos = max(int(np.searchsorted(years, w.end // 12, side="right")) - 1, 0)
                out[:, j] = mat[:, pos]
            else:
                out[:, j] = mat[:, 0]
        return out

    # -- the one entry point --------------------------------------------------------------------
    def windows(
        self, measure: Measure, windows: Sequence[Window], params: Mapping[str, object] = {}
    ) -> np.ndarray:
        """County × window matrix of the measure (rolled up by its `rollup` rule), read-only.

        Results are kept (up to `_WINDOW_CACHE_BYTES`, oldest dropped first), keyed by what the
        measure computes rather than where it was declared: several indicator sets declaring
        the same measure, evaluated at the same period, compute it once."""
        if not windows:
            return np.zeros((self.n, 0))
        key = (measure_key(measure, params), measure.rollup, measure.since, tuple(windows))
        hit = self._window_cache.get(key)
        if hit is not None:
            self._window_cache.move_to_end(key)
            return hit
        if measure.is_stock:
            out = self._stock_windows(measure, windows, params)
        elif measure.agg == "distinct_count":
            out, city = self._distinct_windows(measure, windows)
            city.flags.writeable = False
            self._city_distinct[key] = city
        else:
            out = self._flow_windows(measure, windows, params)
        out.flags.writeable = False
        self._window_cache[key] = out
        self._window_bytes += out.nbytes
        while self._window_bytes > _WINDOW_CACHE_BYTES and len(self._window_cache) > 1:
            _k, old = self._window_cache.popitem(last=False)
            self._window_bytes -= old.nbytes
        return out

    def remember_indicator(self, key: tuple, value: tuple) -> None:
        """Keep an indicator's computed arrays (read-only from now on) for other sets."""
        if len(self.indicator_memo) >= _INDICATOR_MEMO_MAX:  # many periods in a long session
            self.indicator_memo.clear()
        for roles in value[:2]:
            for arrays in roles.values():
                for arr in arrays:
                    arr.flags.writeable = False
        self.indicator_memo[key] = value

    def city_distinct(
        self, measure: Measure, windows: Sequence[Window], params: Mapping[str, object] = {}
    ) -> np.ndarray:
        """A dated distinct count across the whole city in each window (each value once,
        however many counties report it), read-only."""
        if not windows:
            return np.zeros(0)
        key = (measure_key(measure, params), measure.rollup, measure.since, tuple(windows))
        if key not in self._city_distinct:  # computed together with the counties' counts
            dropped = self._window_cache.pop(key, None)
            if dropped is not None:
                self._window_bytes -= dropped.nbytes
            self.windows(measure, windows, params)
        return self._city_distinct[key]

    def rows(
        self, measure: Measure, county: str | None, window: Window | None, year: int | None = None
    ) -> pd.DataFrame:
        """The ledger rows behind a measure's value (for drill-through)."""
        if measure.agg == "months" or measure.ledger is None:
            return pd.DataFrame()
        df = self.ledgers[measure.ledger]
        sel = self.mask(measure)
        if county is not None:
            pos = self.counties.get_indexer([str(county)])[0]
            sel &= self.county_idx(measure.ledger) == pos
        if measure.is_stock:
            if "year" in df.columns and year is not None and sel.any():
                yrs = pd.to_numeric(df["year"], errors="coerce").to_numpy(
                    dtype="float64", na_value=np.nan
                )
                avail = np.unique(yrs[sel & np.isfinite(yrs)])
                if len(avail):
                    le = avail[avail <= year]
                    chosen = le.max() if len(le) else avail.min()
                    sel &= yrs == chosen
        elif window is not None:
            midx = self.month_idx(measure.ledger, measure.dating)  # type: ignore[arg-type]
            sel &= (midx >= window.start) & (midx <= window.end)
            if measure.done_by is not None:  # only the rows done by the window's end
                done = self.month_idx(measure.ledger, measure.done_by)  # type: ignore
                by_end = done <= window.end  # a blank date (-1) counts as done
                sel &= ~((done >= 0) & by_end) if measure.not_done else by_end
        out = df[sel]
        if measure.join is not None:
            extra = {}
            for cond in _flatten(measure.where):
                if "." in cond.field:
                    extra[cond.field] = self.column(measure, cond.field)[sel].to_numpy()
            for k, v in extra.items():
                out = out.assign(**{k: v})
        return out

    def county_names(self, year: int | None = None) -> pd.Series:
        """Code → name from the counties ledger (and a declared table's unit names): the latest
        row up to `year`, else the earliest later one; codes without a row keep the code as
        name."""
        if year not in self._names:  # every set evaluated on this engine asks the same
            self._names[year] = self._county_names(year)
        return self._names[year].copy()

    def _county_names(self, year: int | None) -> pd.Series:
        names = pd.Series(self.counties.to_numpy(), index=self.counties, dtype="object")
        for lg in self.sources.values():
            if lg.name != "counties" and getattr(lg, "name_field", None) is None:
                continue
            got = self._names_in(lg, year)
            if got is not None:
                names.update(got.reindex(names.index).dropna())
        return names

    def _names_in(self, lg: Ledger, year: int | None) -> pd.Series | None:
        """Unit code → name from one source: the counties ledger by `year`, a declared table by
        its period's year (`PERIOD_END`)."""
        df = self.ledgers[lg.name]
        unit = unit_field(lg)
        name = "county_name" if lg.name == "counties" else getattr(lg, "name_field", None)
        if not len(df) or name not in df.columns or unit not in df.columns:
            return None
        d = pd.DataFrame({"code": df[unit].astype("object"), "name": df[name]}).dropna()
        d["code"] = d["code"].astype(str)
        if "year" in df.columns or PERIOD_END in df.columns:
            col = df["year"] if "year" in df.columns else df[PERIOD_END].astype(str).str[:4]
            y = pd.to_numeric(col, errors="coerce").reindex(d.index).fillna(0)
            ref = year if year is not None else float(y.max())
            d["_key"] = np.where(y <= ref, y, -y)  # earlier years rank by recency, later last
            d = d.sort_values("_key", kind="stable")
        return d.drop_duplicates("code", keep="last").set_index("code")["name"]

    def city_name(self) -> str:
        df = self.ledgers["counties"]
        if len(df) and "city" in df.columns and df["city"].notna().any():
            return str(df["city"].dropna().astype(str).mode().iloc[0])
        return ""


def _compare(arr: pd.Series, op: str, v: object) -> pd.Series:
    if op == "==":
        return arr == v
    if op == "!=":
        return arr != v
    if op == ">":
        return arr > v
    if op == ">=":
        return arr >= v
    if op == "<":
        return arr < v
    return arr <= v


_TRUE = {"是", "y", "yes", "true", "1", "t"}
_FALSE = {"否", "n", "no", "false", "0", "f"}


def _as_boolean(col: pd.Series) -> pd.Series:
    """Booleans whatever the frame holds (boolean dtype, Python bools, 是/否 text)."""
    if pd.api.types.is_bool_dtype(col):
        return col.astype("boolean")

    def conv(x: object) -> object:
        if x is None or x is pd.NA or (isinstance(x, float) and np.isnan(x)):
            return pd.NA
        if isinstance(x, (bool, np.bool_)):
            return bool(x)
        s = str(x).strip().lower()
        return True if s in _TRUE else False if s in _FALSE else pd.NA

    return col.map(conv).astype("boolean")


def _is_dateish(v: object) -> bool:
    import datetime as dt

    vals = v if isinstance(v, tuple) else (v,)
    return any(isinstance(x, (dt.date, pd.Timestamp)) for x in vals)


def _flatten(conds: Iterable[Condition]) -> list[Clause]:
    out: list[Clause] = []
    for c in conds:
        if isinstance(c, Clause):
            out.append(c)
        else:
            out.extend(_flatten(c.clauses))
    return out


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------
def measure_table(
    ledgers: Mapping[str, pd.DataFrame] | MeasureEngine,
    iset: IndicatorSet,
    start: str,
    end: str,
    codes: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Long table (county_code, period, measure, value): every measure for each month."""
    engine = ledgers if isinstance(ledgers, MeasureEngine) else MeasureEngine(ledgers)
    lo, hi = month_index(start), month_index(end)
    months = [Window(m, m) for m in range(lo, hi + 1)]
    params = {k: p.value for k, p in iset.parameters.items()}
    parts = []
    for code in codes or iset.measures:
        mat = engine.windows(iset.measures[code], months, params)
        parts.append(
            pd.DataFrame(
                {
                    "county_code": np.repeat(engine.counties.to_numpy(), len(months)),
                    "period": np.tile(np.array(month_range(lo, hi), dtype=object), engine.n),
                    "measure": code,
                    "value": mat.reshape(-1),
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=["county_code", "period", "measure", "value"])
    return pd.concat(parts, ignore_index=True)
