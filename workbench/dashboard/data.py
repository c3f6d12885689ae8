"""The dashboards' data model: `DashboardData` (plain frames), `KpiCube` (every KPI in one array).

A click reads numbers from here by key or integer position, never by running the engine or
scanning a long table; `loading` builds and caches these objects.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench import fmt
from workbench.dashboard.view import CITY
from workbench.presentation import ranks
from workbench.presentation.words import face_values, words_from


KPI_FIELDS = (
    "value",
    "numerator",
    "denominator",
    "target",
    "gap",
    "yoy",
    "met",
    "prev_value",
    "baseline_size",
)


class KpiCube:
    """Every KPI as one float array [set, period, county, indicator, field] (city = county 0).

    Built once per data load. A click then reads numbers by integer position instead of
    filtering a million-row table: the cards, the trend, the funnel and the map for a
    3,000-county city cost a few array slices."""

    def __init__(
        self,
        kpis: pd.DataFrame,
        sets: Sequence[str],
        periods: Sequence[str],
        counties: Sequence[str],
        indicators: Mapping[str, Sequence[str]],
    ) -> None:
        self.sets = {s: i for i, s in enumerate(sets)}
        self.periods = {p: i for i, p in enumerate(periods)}
        self.counties = {c: i for i, c in enumerate([CITY, *counties])}
        self.indicators = {
            s: {ind: i for i, ind in enumerate(inds)} for s, inds in indicators.items()
        }
        width = max((len(v) for v in self.indicators.values()), default=0)
        self.arr = np.full(
            (len(self.sets), len(self.periods), len(self.counties), width, len(KPI_FIELDS)), np.nan
        )
        if not len(kpis):
            return
        sets_col = kpis["indicator_set"].astype(str)
        si = sets_col.map(self.sets)
        pi = kpis["period"].astype(str).map(self.periods)
        ci = kpis["county_code"].astype(str).map(self.counties)
        ii = pd.Series(
            [
                self.indicators.get(s, {}).get(i)
                for s, i in zip(sets_col, kpis["indicator"].astype(str))
            ],
            index=kpis.index,
            dtype="float64",
        )
        ok = (si.notna() & pi.notna() & ci.notna() & ii.notna()).to_numpy()
        idx = tuple(np.asarray(x.to_numpy()[ok], dtype=int) for x in (si, pi, ci, ii))
        for f, name in enumerate(KPI_FIELDS):
            if name not in kpis:  # e.g. tables built before prev_value was kept: stays NaN
                continue
            col = kpis[name]
            if name == "met":
                col = col.astype("object").map(lambda v: np.nan if _missing(v) else float(bool(v)))
            self.arr[idx + (f,)] = pd.to_numeric(col, errors="coerce").to_numpy(float)[ok]

    @classmethod
    def from_saved(cls, meta: Mapping[str, Any], arr: Any) -> KpiCube:
        """A cube from `_write_cache`'s lists of keys and its array."""
        cube = cls.__new__(cls)
        cube.sets = {s: i for i, s in enumerate(meta["sets"])}
        cube.periods = {p: i for i, p in enumerate(meta["periods"])}
        cube.counties = {c: i for i, c in enumerate(meta["counties"])}
        cube.indicators = {
            s: {ind: i for i, ind in enumerate(v)} for s, v in meta["indicators"].items()
        }
        cube.arr = arr
        return cube

    def get(self, indicator_set: str, period: str, county: str, indicator: str) -> dict | None:
        try:
            vec = self.arr[
                self.sets[indicator_set],
                self.periods[period],
                self.counties[county],
                self.indicators[indicator_set][indicator],
            ]
        except KeyError:
            return None
        return dict(zip(KPI_FIELDS, vec.tolist()))

    def across_counties(self, indicator_set: str, period: str, indicator: str) -> Any:
        """[county, field] for every county (not the city), in `counties` order."""
        return self.arr[
            self.sets[indicator_set],
            self.periods[period],
            1:,
            self.indicators[indicator_set][indicator],
        ]


# An indicator set's `presentation:` block as plain values (`loading.declared_presentation` reads it
# from the declarations): funnel stages are {stage, label, indicator, part}, card groups
# {name, indicators}; `recovery` and `rectification` are indicator codes.
NO_PRESENTATION: dict[str, Any] = {
    "order": 0,
    "index_order": 0,
    "default_index": None,
    "card_groups": [],
    "funnel": [],
    "recovery": None,
    "rectification": None,
    "calendar": True,  # the campaign calendar (False: the set has no calendar)
    "lagging": True,  # the 约谈/lagging list (indicators.has_lagging_list)
    "ledger_lists": True,  # lists of ledger rows, e.g. overdue cases (the units are counties)
    "words": None,  # `presentation.words.words_record` of the set (None: the ledgers' own words)
    "screening": False,  # the screening part (shown when the warehouse has screening results)
}


@dataclass
class DashboardData:
    """Everything the dashboards show, for every period and indicator set, as plain frames.

    The city is county `""` in every table. Columns (see docs/dashboard.md, "数据接口"):

    - counties: county_code, county_name
    - indicators: indicator_set, indicator, name, unit, direction, deadline, description, group
    - kpis: indicator_set, period, county_code, indicator, value, numerator, denominator,
      target, gap, met, yoy — the engine's values for the span ending at `period`
    - index: period, hierarchy, county_code, score, rank, grade (`hierarchy` is unique across
      indicator sets; `hierarchies` gives its Chinese name)
    - uncertainty: period, hierarchy, county_code, nominal_rank, median_rank, q05, q95
    - lagging: indicator_set, period, county_code, reasons
    - milestones: indicator_set, period, county_code, milestone, name, deadline, status,
      status_label, detail
    - phases: name, start, end
    - funnel: indicator_set, period, county_code, stage, label, count, amount_recovered,
      amount_due, window_start, window_end — the declared funnel counted as one cohort
      (`workbench.presentation.funnel.cohort_counts`)
    - definitions: indicator_set + `presentation.definitions.FACT_COLUMNS` — what each
      indicator's definition declares (the card's 指标说明 writes it with this period's numbers)
    - methods: hierarchy + the keys of `presentation.definitions.method_text` (the composite's
      method, weights and dimensions in words)
    - talks: indicator_set, period + `presentation.lists.TALK_LIST_COLUMNS` — the 约谈名单 beside
      the 约谈督办台账 (held? its 复查 as it stood at the month's end)
    - overdue_cases: period + the columns of `presentation.lists.overdue_cases` the cockpit keeps
      (open cases past their 办案时限 at the month's end, every county)
    - screening_counts: `screening.summary.screening_tables`' by_rule_county;
      screening_precision: `screening.summary.check_counts` (checks as the ledger stood at
      each month's end); screening_rules: `screening.summary.rule_table` (each rule's cited
      `source:`) — all empty when the warehouse holds no screening results

    `presentation` is what each set declares about how it is shown (its YAML `presentation:`
    block, as plain values so the cache stores it as JSON): see `NO_PRESENTATION` for the keys.
    `indicator_sets` and `hierarchies` are in the order pickers list them.
    """

    city_name: str
    periods: list[str]
    indicator_sets: dict[str, str]
    counties: pd.DataFrame
    indicators: pd.DataFrame
    kpis: pd.DataFrame
    index: pd.DataFrame
    uncertainty: pd.DataFrame
    lagging: pd.DataFrame
    milestones: pd.DataFrame
    phases: pd.DataFrame
    funnel: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=FUNNEL_KEYS))
    definitions: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["indicator_set", "indicator"])
    )
    methods: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["hierarchy"]))
    talks: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["indicator_set", "period", "county_code"])
    )
    overdue_cases: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["period", "county_code"])
    )
    screening_counts: pd.DataFrame = field(default_factory=pd.DataFrame)
    screening_precision: pd.DataFrame = field(default_factory=pd.DataFrame)
    screening_rules: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["rule_code", "rule_name", "source", "line"])
    )
    hierarchies: dict[str, str] = field(default_factory=dict)
    presentation: dict[str, dict[str, Any]] = field(default_factory=dict)
    span: str = "ytd"
    demo: bool = False
    source: str = ""
    built_at: float = field(default_factory=time.time)
    # a period's label when the sets' data are not monthly (2023财年); months show as 2025年9月
    period_labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # table → its frame sorted by its key; (table, leading key) → the rows of each value of
        # the next key column within that key's rows (built for the keys a click asks for)
        self._slices: dict[str, pd.DataFrame] = {}
        self._ranges: dict[tuple, dict[object, tuple[int, int]]] = {}
        self._county_names = dict(
            zip(self.counties["county_code"].astype(str), self.counties["county_name"].astype(str))
        )
        self._cube: KpiCube | None = None
        self._rankings: dict[tuple[str, str | None], list[dict]] = {}
        self._records: dict[tuple, list[dict]] = {}
        self._memo: dict[tuple, Any] = {}
        self._big: dict[tuple, Any] = {}

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_rankings"], state["_records"], state["_memo"] = {}, {}, {}  # per kernel
        state["_big"] = {}
        if state.get("_cube") is not None:
            # the cube holds every KPI: the long table need not travel to every kernel too
            state["kpis"] = self.kpis.iloc[0:0]
            state["_slices"] = {k: v for k, v in self._slices.items() if k != "kpis"}
            state["_ranges"] = {k: v for k, v in self._ranges.items() if k[0] != "kpis"}
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_cube", None)
        self.__dict__.setdefault("_ranges", {})
        self.__dict__.setdefault("_big", {})
        self.__dict__.setdefault("_rankings", {})
        self.__dict__.setdefault("_records", {})
        self.__dict__.setdefault("_memo", {})

    def period_label(self, period: str) -> str:
        """A period as the picker and the header show it: 2025年9月, or the label of a yearly
        or fiscal-year period (2023财年)."""
        return self.period_labels.get(period) or fmt.month_label(period)

    def memo(self, key: tuple, compute: Callable[[], Any], big: bool = False) -> Any:
        """A per-kernel cache for things a click would otherwise recompute for every county
        (map colours of a month, a ranking's grades, the index's monthly mean).

        `big` entries (one value per county: a map's colours and tooltips, ≈ 1 MB for 3,000
        counties) are kept for the last `BIG_VIEWS` only, so a kernel does not grow with every
        view a leader opens."""
        if big:
            return _lru(self._big, key, compute, BIG_VIEWS)
        if key not in self._memo:
            if len(self._memo) > 256:
                self._memo.clear()
            self._memo[key] = compute()
        return self._memo[key]

    def grades(self, period: str, hierarchy: str | None) -> list[str]:
        """The grades present in a ranking, best first (their order fixes their colours)."""
        return self.memo(
            ("grades", period, hierarchy),
            lambda: list(
                dict.fromkeys(
                    str(r["grade"])
                    for r in self.ranking(period, hierarchy)
                    if not _missing(r["grade"])
                )
            ),
        )

    def records(self, table: str, *key: object) -> list[dict]:
        """`part(table, *key)` as a list of dicts, cached: builders iterate these on a click."""
        k = (table, *key)
        if k not in self._records:
            if len(self._records) > 512:
                self._records.clear()
            self._records[k] = self.part(table, *key).to_dict("records")
        return self._records[k]

    @property
    def cube(self) -> KpiCube:
        if self._cube is None:
            meta = self.indicators
            order = {
                s: [str(i) for i in meta.loc[meta["indicator_set"].astype(str) == s, "indicator"]]
                for s in self.indicator_sets
            }
            self._cube = KpiCube(
                self.kpis,
                list(self.indicator_sets),
                self.periods,
                list(self.counties["county_code"].astype(str)),
                order,
            )
        return self._cube

    def scores(self, period: str, hierarchy: str | None) -> dict[str, float | None]:
        """{county: score} of one month's index, in ranking order (cached per kernel): the
        trend reads a score for every month of the year without building each month's
        ranking records."""

        def compute() -> dict[str, float | None]:
            if (period, hierarchy) in self._rankings:
                rows = self._rankings[(period, hierarchy)]
                return {r["county_code"]: _float(r["score"]) for r in rows}
            idx = self.part("index", period, hierarchy)
            order = pd.DataFrame(
                {
                    "county_code": idx["county_code"].astype(str).to_numpy(),
                    "rank": pd.to_numeric(idx["rank"], errors="coerce").to_numpy(),
                    "score": idx["score"].to_numpy(),
                }
            ).sort_values(["rank", "county_code"], kind="stable")
            return {c: _float(v) for c, v in zip(order["county_code"], order["score"].tolist())}

        return self.memo(("scores", period, hierarchy), compute)

    def ranking(self, period: str, hierarchy: str | None) -> list[dict]:
        """The index ranking of one month as records sorted by rank (cached per kernel, for
        the last `BIG_VIEWS` months and indices asked for)."""
        key = (period, hierarchy)
        return _lru(self._rankings, key, lambda: self._ranking(*key), BIG_VIEWS)

    def _ranking(self, period: str, hierarchy: str | None) -> list[dict]:
        idx = self.part("index", period, hierarchy)
        cols = ["county_code", "score", "rank", "grade"]
        out = idx[cols].copy() if len(idx) else pd.DataFrame(columns=cols)
        unc = self.part("uncertainty", period, hierarchy)
        extra = ["nominal_rank", "median_rank", "q05", "q95"]
        if len(unc) and len(out):
            u = unc[["county_code", *extra]].copy()
            u["county_code"] = u["county_code"].astype(str)
            out["county_code"] = out["county_code"].astype(str)
            out = out.merge(u, on="county_code", how="left")
        else:
            for c in extra:
                out[c] = float("nan")
        out["county_code"] = out["county_code"].astype(str)
        out["county_name"] = out["county_code"].map(self.county_name)
        out["rank"] = pd.to_numeric(out["rank"], errors="coerce")
        out["tied"] = ranks.shares_rank(out["rank"])  # 并列: equal printed scores
        out = out.sort_values(["rank", "county_code"], kind="stable")
        return out.to_dict("records")

    def warm(self) -> DashboardData:
        """Sort every table by its key and build the KPI cube now (before caching, so kernels
        need not)."""
        for table in _GROUP_KEYS:
            if table == "kpis":  # the cube serves the KPIs; this table is not cached
                continue
            self._sorted(table)
        _ = self.cube
        return self

    def _sorted(self, table: str) -> pd.DataFrame:
        """`table` sorted once by its full key (so by every prefix of it too)."""
        if table not in self._slices:
            df: pd.DataFrame = getattr(self, table)
            if not getattr(df, "attrs", {}).get("_wb_sorted"):
                df = df.sort_values(list(_GROUP_KEYS[table]), kind="stable").reset_index(drop=True)
                df.attrs["_wb_sorted"] = True
                setattr(self, table, df)
            self._slices[table] = df
        return self._slices[table]

    def part(self, table: str, *key: object) -> pd.DataFrame:
        """Rows of `table` whose leading key columns equal `key`.

        The table is sorted once by its full key; each key column's row ranges are found
        within the rows of the key before it, the first time a click asks for them, and kept:
        a look-up is a few dict accesses and a slice, not a scan. A kernel holds each table
        once, and the ranges of the (set, month) blocks it has shown, not of all 100,000
        (set, month, county) keys of a 3,000-county city."""
        cols = _GROUP_KEYS[table][: len(key)]
        df = self._sorted(table)
        lo, hi = (0, 0) if not cols else (0, len(df))
        for depth, col in enumerate(cols):
            leading = (table, *key[:depth])
            ranges = self._ranges.get(leading)
            if ranges is None:
                ranges = self._ranges[leading] = _value_ranges(df[col], lo, hi)
            lo, hi = ranges.get(key[depth], (0, 0))
            if lo == hi:
                break
        return df.iloc[lo:hi]

    def county_name(self, code: str) -> str:
        if not code:
            return self.city_name
        return self._county_names.get(str(code), str(code))

    def indicator_meta(self, indicator_set: str) -> pd.DataFrame:
        return self.part("indicators", indicator_set)

    def meta_records(self, indicator_set: str) -> list[dict]:
        return self.records("indicators", indicator_set)

    def presentation_of(self, indicator_set: str) -> dict[str, Any]:
        """What `indicator_set` declares about how it is shown; nothing declared is
        `NO_PRESENTATION` (cards in declaration order, no funnel, no rectification bar)."""
        return {**NO_PRESENTATION, **self.presentation.get(indicator_set, {})}

    def words(self, indicator_set: str) -> dict[str, str]:
        """The set's words for a face's messages (`presentation.words.face_values`): {noun}
        区县/地区/机构, {whole} 全市/全省/全部地区, {whole_choice}, {code_label}."""
        return self.memo(
            ("words", indicator_set),
            lambda: face_values(words_from(self.presentation_of(indicator_set)["words"])),
        )

    def default_hierarchy(self, indicator_set: str | None = None) -> str | None:
        """The index a page ranks by until one is picked: the set's declared `default_index`,
        else the first index listed."""
        if indicator_set is not None:
            declared = self.presentation_of(indicator_set)["default_index"]
            if declared in self.hierarchies:
                return declared
        return next(iter(self.hierarchies), None)

    def first_part(self, table: str, indicator_set: str, *key: object) -> list[dict]:
        """`records` for the indicator set, else for the first other set that has rows."""
        for s in [indicator_set] + [s for s in self.indicator_sets if s != indicator_set]:
            rows = self.records(table, s, *key)
            if rows:
                return rows
        return []

    def kpi(
        self, indicator: str, period: str, county: str, indicator_set: str | None = None
    ) -> dict:
        """One KPI's fields as a dict (NaN where absent), from `indicator_set` or any set that
        has the indicator."""
        sets = [indicator_set] if indicator_set else []
        sets += [s for s in self.indicator_sets if s not in sets]
        for s in sets:
            if indicator in self.cube.indicators.get(s, {}):
                return self.cube.get(s, period, county, indicator) or {}
        return {}


def plain(df: pd.DataFrame) -> pd.DataFrame:
    """`df` with its categorical columns (`loading.TEXT_CATEGORIES`, kept so to save a kernel's
    memory) as plain columns of their values, for a part that works on the frame itself."""
    cats = [c for c in df.columns if isinstance(df[c].dtype, pd.CategoricalDtype)]
    if not cats:
        return df
    out = df.copy()
    for c in cats:
        out[c] = out[c].astype(out[c].cat.categories.dtype)
    return out


def _value_ranges(col: pd.Series, lo: int, hi: int) -> dict[object, tuple[int, int]]:
    """{value: (first row, end row)} of `col` in rows lo–hi, where it is sorted, found
    without a Python loop over the rows (a 3,000-county city has about a million KPI rows)."""
    if hi <= lo:
        return {}
    block = col.iloc[lo:hi]
    codes = (
        block.cat.codes.to_numpy()
        if isinstance(block.dtype, pd.CategoricalDtype)
        else pd.factorize(block, use_na_sentinel=False)[0]
    )
    starts = np.concatenate([[0], np.flatnonzero(codes[1:] != codes[:-1]) + 1])
    ends = np.append(starts[1:], hi - lo)
    values = block.iloc[starts].tolist()
    return {v: (lo + int(a), lo + int(b)) for v, a, b in zip(values, starts, ends)}


BIG_VIEWS = 12  # views whose per-county tables (ranking records, map colours) a kernel keeps


def _lru(cache: dict, key: tuple, compute: Callable[[], Any], size: int) -> Any:
    """`cache[key]`, computed when absent; the least recently used entry goes beyond `size`."""
    if key in cache:
        cache[key] = cache.pop(key)  # now the most recent
        return cache[key]
    value = compute()
    cache[key] = value
    while len(cache) > size:
        del cache[next(iter(cache))]
    return value


_GROUP_KEYS: dict[str, tuple[str, ...]] = {
    "kpis": ("indicator_set", "period", "county_code"),
    "index": ("period", "hierarchy"),
    "uncertainty": ("period", "hierarchy"),
    "lagging": ("indicator_set", "period"),
    "milestones": ("indicator_set", "period", "county_code"),
    "indicators": ("indicator_set",),
    "funnel": ("indicator_set", "period", "county_code"),
    "definitions": ("indicator_set",),
    "talks": ("indicator_set", "period"),
    "overdue_cases": ("period",),
}
FUNNEL_KEYS = ["indicator_set", "period", "county_code", "stage", "label", "count"]


_missing = fmt.missing  # the formatter's notion of a missing value, shared by every part
_float = fmt.finite
