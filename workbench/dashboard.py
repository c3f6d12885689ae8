"""Leader cockpit (领导驾驶舱) and county drill-down for Voilà: data, builders and the page widget.

The flow: the engine (`workbench.results`) runs once for every month × indicator set →
`DashboardData` (plain frames plus a KPI array, cached on disk so every kernel in Voilà's pool
loads instead of recomputing) → pure builders (data + `View` → HTML text or plotly JSON) → one
anywidget per page (`Board`) that redraws in place only the parts whose content changed. A
click costs array look-ups in the kernel and one message, never an engine call.

Every part of a page carries `data-part="<name>"` and, once drawn, `data-key="<view key>"`: the
state it shows. Browser tests and the benchmark wait for every part to show the new key, which is
exactly "all charts updated". KPI cards carry `data-indicator` and `data-value` for the same reason.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import html
import json
import logging
import math
import os
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

import pandas as pd

from workbench import fmt
from workbench.config import ENV_STATIC_PLOTLY  # set by `workbench serve`: the page has plotly.js
from workbench.messages import t
from workbench.presentation import kpis as pk
from workbench.presentation import cache as pcache
from workbench.presentation import lists

log = logging.getLogger(__name__)

ASSETS = Path(__file__).with_name("assets")
THEME_CSS = ASSETS / "theme.css"
DEMO_GEOJSON = ASSETS / "demo_city.geojson"
ENV_GEOJSON = "WORKBENCH_GEOJSON"
ENV_CACHE_DIR = "WORKBENCH_DASHBOARD_CACHE"
CITY = ""  # the county code that stands for the whole city
INDEX = "__index__"  # the focus value that stands for the composite index

# Okabe–Ito colours: distinguishable with every common colour-vision deficiency.
STATUS_COLOURS = {"met": "#0072B2", "risk": "#E69F00", "miss": "#D55E00", "none": "#8C8C8C"}
STATUS_ICONS = {"met": "✓", "risk": "!", "miss": "✗", "none": "—"}
# The engine's milestone statuses (workbench.indicators) → traffic light.
MILESTONE_LIGHTS = {
    "met": "met",
    "on_track": "met",
    "lagging": "risk",
    "missed": "miss",
    "no_data": "none",
}
GRADE_COLOURS = {
    "优秀": "#0072B2",
    "良好": "#56B4E9",
    "合格": "#E69F00",
    "不合格": "#D55E00",
    "较差": "#D55E00",
    "差": "#D55E00",
}
OTHER_GRADE_COLOURS = ("#009E73", "#CC79A7", "#F0E442", "#999999")
SEQUENTIAL = ("#D55E00", "#F0B37E", "#EEEEEE", "#8FBFE0", "#0072B2")  # worse → better
FONT = (
    '"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", '
    '"WenQuanYi Micro Hei", sans-serif'
)
MAX_BARS = 20  # beyond this many counties the ranking shows the top and bottom 10 and the pick
MAX_TABLE_ROWS = 40
MAX_LAGGING_ROWS = 60
MAX_DRILL_ROWS = 100


# ───────────────────────────── data ─────────────────────────────

KPI_FIELDS = ("value", "numerator", "denominator", "target", "gap", "yoy", "met", "prev_value")


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
        import numpy as np

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
    hierarchies: dict[str, str] = field(default_factory=dict)
    span: str = "ytd"
    demo: bool = False
    source: str = ""
    built_at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self._slices: dict[str, tuple[pd.DataFrame, dict[tuple, tuple[int, int]]]] = {}
        self._county_names = dict(
            zip(self.counties["county_code"].astype(str), self.counties["county_name"].astype(str))
        )
        self._cube: KpiCube | None = None
        self._rankings: dict[tuple[str, str | None], list[dict]] = {}
        self._records: dict[tuple, list[dict]] = {}
        self._memo: dict[tuple, Any] = {}

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_rankings"], state["_records"], state["_memo"] = {}, {}, {}  # per kernel
        if state.get("_cube") is not None:
            # the cube holds every KPI: the long table need not travel to every kernel too
            state["kpis"] = self.kpis.iloc[0:0]
            state["_slices"] = {k: v for k, v in self._slices.items() if not k.startswith("kpis:")}
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_cube", None)
        self.__dict__.setdefault("_rankings", {})
        self.__dict__.setdefault("_records", {})
        self.__dict__.setdefault("_memo", {})

    def memo(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """A per-kernel cache for things a click would otherwise recompute for every county
        (map colours of a month, a ranking's grades, the index's monthly mean)."""
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

    def ranking(self, period: str, hierarchy: str | None) -> list[dict]:
        """The index ranking of one month as records sorted by rank (cached per kernel)."""
        key = (period, hierarchy)
        if key not in self._rankings:
            if len(self._rankings) > 64:
                self._rankings.clear()
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
            out = out.sort_values(["rank", "county_code"], kind="stable")
            self._rankings[key] = out.to_dict("records")
        return self._rankings[key]

    def warm(self) -> DashboardData:
        """Sort every table, index its keys and build the KPI cube now (before pickling, so
        kernels need not)."""
        for table, key in _GROUP_KEYS.items():
            if table == "kpis":  # the cube serves the KPIs; this table is not pickled
                continue
            for n in range(1, len(key) + 1):
                self.part(table, *([None] * n))
        _ = self.cube
        return self

    def part(self, table: str, *key: object) -> pd.DataFrame:
        """Rows of `table` whose leading key columns equal `key`.

        The table is sorted once by its full key (so by every prefix of it too) and each key's
        row range is kept: a look-up is a dict access and a slice, not a scan. A click on a
        3,000-county city stays within budget and a kernel holds each table once."""
        full = _GROUP_KEYS[table]
        cols = full[: len(key)]
        cache_key = f"{table}:{len(cols)}"
        if cache_key not in self._slices:
            df: pd.DataFrame = getattr(self, table)
            if not getattr(df, "attrs", {}).get("_wb_sorted"):
                df = df.sort_values(list(full), kind="stable").reset_index(drop=True)
                df.attrs["_wb_sorted"] = True
                setattr(self, table, df)
            self._slices[cache_key] = (df, _key_ranges(df, cols))
        df, ranges = self._slices[cache_key]
        lo, hi = ranges.get(tuple(key), (0, 0))
        return df.iloc[lo:hi]

    def county_name(self, code: str) -> str:
        if not code:
            return self.city_name
        return self._county_names.get(str(code), str(code))

    def indicator_meta(self, indicator_set: str) -> pd.DataFrame:
        return self.part("indicators", indicator_set)

    def meta_records(self, indicator_set: str) -> list[dict]:
        return self.records("indicators", indicator_set)

    def default_hierarchy(self) -> str | None:
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


def _key_ranges(df: pd.DataFrame, cols: Sequence[str]) -> dict[tuple, tuple[int, int]]:
    """{key: (first row, end row)} of a frame sorted by `cols`, found without a Python loop
    over the rows (a 3,000-county city has about a million KPI rows)."""
    import numpy as np

    n = len(df)
    if not n or not cols:
        return {}
    change = np.zeros(n, dtype=bool)
    change[0] = True
    for c in cols:
        codes = (
            df[c].cat.codes.to_numpy()
            if isinstance(df[c].dtype, pd.CategoricalDtype)
            else pd.factorize(df[c], use_na_sentinel=False)[0]
        )
        change[1:] |= codes[1:] != codes[:-1]
    starts = np.flatnonzero(change)
    ends = np.append(starts[1:], n)
    keys = zip(*(df[c].iloc[starts].tolist() for c in cols))
    return {k: (int(a), int(b)) for k, a, b in zip(keys, starts, ends)}


_GROUP_KEYS: dict[str, tuple[str, ...]] = {
    "kpis": ("indicator_set", "period", "county_code"),
    "index": ("period", "hierarchy"),
    "uncertainty": ("period", "hierarchy"),
    "lagging": ("indicator_set", "period"),
    "milestones": ("indicator_set", "period", "county_code"),
    "indicators": ("indicator_set",),
}


# ───────────────────────────── view state ─────────────────────────────


@dataclass(frozen=True)
class View:
    """What a page shows: the set, the month, the county ("" = whole city) and the focus."""

    indicator_set: str
    period: str
    county: str = CITY
    focus: str = INDEX
    hierarchy: str | None = None

    @property
    def key(self) -> str:
        return "|".join(
            (
                self.indicator_set,
                self.period,
                self.county or "city",
                self.focus,
                self.hierarchy or "",
            )
        )


# ───────────────────────────── formatting ─────────────────────────────


def _missing(x: object) -> bool:
    if x is None or x is pd.NA:
        return True
    try:
        return bool(isinstance(x, float) and math.isnan(x))
    except TypeError:
        return False


def _float(x: object) -> float | None:
    if _missing(x):
        return None
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) or math.isinf(v) else v


def value_kind(unit: object) -> str:
    """`percent`, `money` or `number`, from an indicator's declared unit."""
    u = str(unit or "").strip().lower()
    if u in ("%", "percent", "ratio", "share", "rate", "百分比", "比例", "change", "pct"):
        return "percent"
    if u in ("元", "yuan", "万元", "money", "金额"):
        return "money"
    return "number"


def format_value(value: object, unit: object, signed: bool = False, decimals: object = None) -> str:
    """An indicator value as every face writes it (`fmt.value_text`)."""
    return fmt.value_text(value, unit, decimals, signed)


def format_target(target: object, unit: object, op: object, decimals: object = None) -> str:
    """`≥90.0%`; `op` is the target's comparison (`>=`, `<=` …) or, failing that, the
    indicator's direction (−1: lower is better)."""
    if str(op) not in fmt.OP_SIGNS:
        op = "<=" if (_float(op) or 1.0) < 0 else ">="
    return fmt.target_text(op, target, unit, decimals)


def display(meta: Mapping[str, Any]) -> pk.Display:
    """The presentation layer's view of an indicator from the cockpit's indicator table."""
    dec = meta.get("decimals")
    return pk.Display(
        name=str(meta.get("name") or meta.get("indicator")),
        short_name=str(meta.get("short_name") or meta.get("name") or meta.get("indicator")),
        unit="" if _missing(meta.get("unit")) else str(meta.get("unit")),
        decimals=None if _missing(dec) else int(dec),
        op="" if _missing(meta.get("op")) else str(meta.get("op") or ""),
        relative=bool(meta.get("relative")) if not _missing(meta.get("relative")) else False,
        kind="" if _missing(meta.get("kind")) else str(meta.get("kind")),
        deadline=None if _missing(meta.get("deadline")) else str(meta.get("deadline")),
    )


STATUS_LIGHTS = {
    pk.MET: "met",
    pk.AT_RISK: "risk",
    pk.NOT_MET: "miss",
    pk.NO_TARGET: "none",
    pk.BASELINE_INSUFFICIENT: "none",
    pk.NO_DATA: "none",
}


def _esc(x: object) -> str:
    return html.escape("" if _missing(x) else str(x), quote=True)


def county_link(code: str, label: str | None = None) -> str:
    """A link that opens a county's drill-down page in Voilà (relative to the cockpit)."""
    href = f"county.ipynb?county={quote(str(code))}"
    return (
        f'<a href="{_esc(href)}" target="_self" data-county="{_esc(code)}">'
        f"{_esc(label or code)}</a>"
    )


def _part(name: str, key: str, body: str, cls: str = "") -> str:
    return (
        f'<div class="wb-part {cls}" data-part="{_esc(name)}" data-key="{_esc(key)}">{body}</div>'
    )


def months_upto(periods: Sequence[str], period: str) -> list[str]:
    year = period[:4]
    return [p for p in periods if p[:4] == year and p <= period]


# ───────────────────────────── HTML builders ─────────────────────────────


def kpi_cards_html(data: DashboardData, view: View) -> str:
    """The KPI cards: value, target, gap, traffic light (colour + icon + word), year-on-year."""
    cube = data.cube
    cards = []
    for m in data.meta_records(view.indicator_set):
        ind = str(m["indicator"])
        r = cube.get(view.indicator_set, view.period, view.county, ind) or {}
        d = display(m)
        shown = pk.present_one(d, r, view.period)
        st = STATUS_LIGHTS[shown["status"]]
        fv = _float(r.get("value"))
        meta_bits = [t("dash.kpi.target", target=shown["target_text"])]
        if shown["gap_text"] != "—":
            meta_bits.append(shown["gap_text"])
        meta_bits.append(t("dash.kpi.yoy", yoy=shown["change_text"]))
        if view.county:
            city = cube.get(view.indicator_set, view.period, CITY, ind) or {}
            city_text = fmt.value_text(city.get("value"), d.unit, d.decimals)
            meta_bits.append(t("dash.kpi.city", value=city_text))
        group = (
            f'<span class="wb-kpi-group">{_esc(m["group"])}</span>'
            if not _missing(m.get("group")) and m.get("group")
            else ""
        )
        cards.append(
            f'<div class="wb-kpi wb-st-{st}" data-indicator="{_esc(ind)}" '
            f'data-value="{"" if fv is None else repr(fv)}" data-status="{st}" '
            f'title="{_esc(m.get("description") or m.get("name"))}">'
            f'<div class="wb-kpi-name">{group}{_esc(d.short_name)}</div>'
            f'<div class="wb-kpi-row"><span class="wb-kpi-value" data-kpi-value>'
            f"{_esc(shown['value_text'])}</span>"
            f'<span class="wb-kpi-light"><span class="wb-icon">{STATUS_ICONS[st]}</span>'
            f"{_esc(shown['status_label'])}</span></div>"
            f'<div class="wb-kpi-meta">{" · ".join(_esc(b) for b in meta_bits)}</div></div>'
        )
    if not cards:
        cards.append(f'<div class="wb-empty">{_esc(t("dash.empty.kpis"))}</div>')
    return _part("kpis", view.key, "".join(cards), "wb-kpis")


def _grade_colour(grade: object, known: Sequence[str] = ()) -> str:
    g = "" if _missing(grade) else str(grade)
    if g in GRADE_COLOURS:
        return GRADE_COLOURS[g]
    if not g:
        return STATUS_COLOURS["none"]
    pos = list(known).index(g) if g in known else sum(map(ord, g))
    return OTHER_GRADE_COLOURS[pos % len(OTHER_GRADE_COLOURS)]


def _label_width(labels: Sequence[str], size: int) -> int:
    """Left margin for axis labels: CJK characters are about `size` px wide, others half."""
    widest = max(
        (sum(1.0 if ord(ch) > 0x2E80 else 0.6 for ch in str(x)) for x in labels), default=2
    )
    return int(widest * size + 16)


def _ink(colour: str) -> str:
    """Black or white text, whichever reads better on `colour` (WCAG relative luminance)."""
    c = colour.lstrip("#")
    if len(c) != 6:
        return "#111111"
    rgb = [int(c[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    lum = sum(
        w * (v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4)
        for w, v in zip((0.2126, 0.7152, 0.0722), rgb)
    )
    return "#111111" if lum > 0.25 else "#ffffff"


def ranking_rows(data: DashboardData, view: View) -> list[dict]:
    """Index ranking for the view, best first: county_code, county_name, score, rank, grade,
    nominal_rank, median_rank, q05, q95."""
    return data.ranking(view.period, view.hierarchy or data.default_hierarchy())


def _shortlist(rows: list[dict], county: str, limit: int) -> list[int]:
    """Positions to show: all when few, else the top and bottom halves of `limit` and the pick."""
    if len(rows) <= limit:
        return list(range(len(rows)))
    half = limit // 2
    keep = set(range(half)) | set(range(len(rows) - half, len(rows)))
    if county:
        keep |= {i for i, r in enumerate(rows) if r["county_code"] == county}
    return sorted(keep)


def _band_html(q05: object, q95: object, rank: object, n: int) -> str:
    lo, hi, r = _float(q05), _float(q95), _float(rank)
    if lo is None or hi is None or n <= 1:
        return ""
    span = max(n - 1, 1)
    left = (lo - 1) / span * 100
    width = max((hi - lo) / span * 100, 2.0)
    mark = "" if r is None else f'<b style="left:calc({(r - 1) / span * 100:.1f}% - 1px)"></b>'
    return (
        f'<span class="wb-band" aria-hidden="true"><span style="left:{left:.1f}%;'
        f'width:{width:.1f}%"></span>{mark}</span>'
    )


def ranking_table_html(data: DashboardData, view: View) -> str:
    """Ranking table with grades and 5–95% rank intervals; long lists keep top, bottom, pick."""
    rows = ranking_rows(data, view)
    n = len(rows)
    if not n:
        return _part(
            "table", view.key, f'<div class="wb-empty">{_esc(t("dash.empty.index"))}</div>'
        )
    shown = _shortlist(rows, view.county, MAX_TABLE_ROWS)
    note = ""
    if len(shown) < n:
        note = (
            f'<div class="wb-note">{_esc(t("dash.table.truncated", n=n, shown=len(shown)))}</div>'
        )
    grades = data.grades(view.period, view.hierarchy or data.default_hierarchy())
    head = "".join(
        f'<th class="{c}">{_esc(t(k))}</th>'
        for k, c in (
            ("dash.col.rank", "wb-num"),
            ("dash.col.county", ""),
            ("dash.col.score", "wb-num"),
            ("dash.col.grade", ""),
            ("dash.col.interval", ""),
            ("dash.col.median_rank", "wb-num"),
        )
    )
    body = []
    prev = None
    for i in shown:
        r = rows[i]
        if prev is not None and i != prev + 1:
            body.append('<tr><td colspan="6" class="wb-empty">⋯</td></tr>')
        prev = i
        sel = ' class="wb-row-selected"' if r["county_code"] == view.county else ""
        lo, hi = _float(r["q05"]), _float(r["q95"])
        interval = t("dash.rank.interval", lo=f"{lo:.0f}", hi=f"{hi:.0f}") if lo and hi else "—"
        body.append(
            f'<tr{sel} data-county="{_esc(r["county_code"])}">'
            f'<td class="wb-num">{_esc(fmt.number(r["rank"]))}</td>'
            f"<td>{county_link(r['county_code'], r['county_name'])}</td>"
            f'<td class="wb-num">{_esc(fmt.number(r["score"], 1))}</td>'
            f'<td><span class="wb-grade" style="background:{_grade_colour(r["grade"], grades)};'
            f'color:{_ink(_grade_colour(r["grade"], grades))}">{_esc(r["grade"])}</span></td>'
            f"<td>{_band_html(r['q05'], r['q95'], r['rank'], n)}{_esc(interval)}</td>"
            f'<td class="wb-num">{_esc(fmt.number(r["median_rank"], 1))}</td></tr>'
        )
    table = (
        f'<div class="wb-scroll"><table class="wb-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>{note}"
    )
    return _part("table", view.key, table)


def current_phase(phases: pd.DataFrame, period: str) -> str | None:
    for r in phases.to_dict("records"):
        if str(r["start"])[:7] <= period <= str(r["end"])[:7]:
            return str(r["name"])
    return None


def calendar_html(data: DashboardData, view: View) -> str:
    """Campaign phases as a bar (current phase highlighted) and milestones with their status."""
    phases = data.phases
    bar = []
    cur = current_phase(phases, view.period)
    for r in phases.to_dict("records"):
        start, end = str(r["start"])[:7], str(r["end"])[:7]
        months = max(1, (int(end[:4]) - int(start[:4])) * 12 + int(end[5:7]) - int(start[5:7]) + 1)
        cls = "wb-current" if r["name"] == cur else ("wb-past" if end < view.period else "")
        span = (
            fmt.month_label(start)
            if start == end
            else f"{fmt.month_label(start)}–{int(end[5:7])}月"
        )
        bar.append(
            f'<div class="wb-cal-phase {cls}" style="flex:{months}" '
            f'title="{_esc(r["name"])} {_esc(span)}">{_esc(r["name"])}'
            f"<small>{_esc(span)}</small></div>"
        )
    head = t("dash.calendar.current", phase=cur) if cur else t("dash.calendar.outside")
    ms = data.first_part("milestones", view.indicator_set, view.period, view.county)
    items = []
    for r in sorted(ms, key=lambda r: str(r.get("deadline") or "")):
        st = MILESTONE_LIGHTS.get(str(r.get("status") or ""), "none")
        label = r.get("status_label") if not _missing(r.get("status_label")) else None
        label = label or t("dash.milestone." + str(r.get("status") or "none"))
        has_detail = not _missing(r.get("detail")) and r.get("detail")
        detail = f" · {_esc(r['detail'])}" if has_detail else ""
        deadline = t("dash.calendar.deadline", date=fmt.date_label(r.get("deadline")))
        items.append(
            f'<li data-milestone="{_esc(r.get("milestone"))}" '
            f'data-status="{_esc(r.get("status"))}">'
            f'<span class="wb-icon wb-st-{st}">{STATUS_ICONS[st]}</span>{_esc(r.get("name"))}'
            f'<span class="wb-ms-date">{_esc(deadline)} · {_esc(label)}{detail}</span></li>'
        )
    if not items:
        items.append(f'<li class="wb-empty">{_esc(t("dash.empty.milestones"))}</li>')
    body = (
        f'<div class="wb-note">{_esc(head)}</div><div class="wb-cal-bar">{"".join(bar)}</div>'
        f'<ul class="wb-milestones">{"".join(items)}</ul>'
    )
    return _part("calendar", view.key, body)


def lagging_html(data: DashboardData, view: View) -> str:
    """Counties behind schedule (进度滞后 / 约谈名单) with each county's reasons."""
    recs = list(data.first_part("lagging", view.indicator_set, view.period))
    if not recs:
        body = f'<div class="wb-empty">{_esc(t("dash.empty.lagging"))}</div>'
        return _part("lagging", view.key, body)
    rows = []
    recs.sort(key=lambda r: (r["county_code"] != view.county, str(r["county_code"])))
    for r in recs[:MAX_LAGGING_ROWS]:
        reasons = r.get("reasons")
        if isinstance(reasons, str):
            reasons = [x for x in reasons.replace("；", ";").split(";") if x.strip()]
        reasons = list(reasons) if reasons is not None and not _missing(reasons) else []
        sel = ' class="wb-row-selected"' if r["county_code"] == view.county else ""
        items = "".join(f"<li>{_esc(x)}</li>" for x in reasons) or "<li>—</li>"
        rows.append(
            f'<tr{sel} data-county="{_esc(r["county_code"])}"><td>'
            f"{county_link(r['county_code'], data.county_name(r['county_code']))}</td>"
            f'<td><ul class="wb-lag-reasons">{items}</ul></td></tr>'
        )
    note = ""
    if len(recs) > MAX_LAGGING_ROWS:
        more = t("dash.lagging.more", n=len(recs) - MAX_LAGGING_ROWS)
        note = f'<div class="wb-note">{_esc(more)}</div>'
    head = f"<tr><th>{_esc(t('dash.col.county'))}</th><th>{_esc(t('dash.col.reasons'))}</th></tr>"
    body = (
        f'<div class="wb-note">{_esc(t("dash.lagging.count", n=len(recs)))}</div>'
        f'<div class="wb-scroll"><table class="wb-table"><thead>{head}</thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>{note}"
    )
    return _part("lagging", view.key, body)


def header_html(data: DashboardData, view: View, page: str = "cockpit") -> str:
    """Title, data-as-of line, and the link that opens the drill-down (or goes back)."""
    demo = f'<span class="wb-demo-flag">{_esc(t("dash.demo"))}</span>' if data.demo else ""
    if page == "cockpit":
        title = t("dash.cockpit.title")
        link = (
            f'<a class="wb-open" data-open-county="{_esc(view.county)}" '
            f'href="{_esc("county.ipynb?county=" + quote(view.county))}" target="_self">'
            f"{_esc(t('dash.open_county', name=data.county_name(view.county)))}</a>"
            if view.county
            else ""
        )
    else:
        title = t("dash.county.title", name=data.county_name(view.county))
        link = f'<a class="wb-back" href="cockpit.ipynb" target="_self">{_esc(t("dash.back"))}</a>'
    asof = t(
        "dash.asof",
        period=fmt.month_label(view.period),
        set=data.indicator_sets.get(view.indicator_set, view.indicator_set),
    )
    body = (
        f'<span class="wb-title">{_esc(title)}<small>{_esc(data.city_name)}</small>{demo}'
        f'</span><span class="wb-asof">{_esc(asof)}</span>{link}'
    )
    return _part("header", view.key, body)


def panel_title(key: str, note: str = "") -> str:
    small = f"<small>{_esc(note)}</small>" if note else ""
    return f"<h3>{_esc(t(key))}{small}</h3>"


# ───────────────────────────── figures (plotly JSON) ─────────────────────────────


def base_layout(height: int = 320, **extra: Any) -> dict:
    """Shared layout: Chinese font, white background, compact margins, no mode bar clutter."""
    layout = {
        "height": height,
        "autosize": True,
        "margin": {"l": 10, "r": 10, "t": 10, "b": 10, "pad": 2},
        "font": {"family": FONT, "size": 13, "color": "#1f2933"},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "#ffffff",
        "showlegend": False,
        "hoverlabel": {"font": {"family": FONT}},
        "separators": ".,",
    }
    layout.update(extra)
    return layout


def ranking_bars_html(data: DashboardData, view: View) -> str:
    """Index scores as bars coloured by grade, each beside its 5–95% rank interval (the band)
    and nominal rank (the mark). Plain HTML: a click redraws it in a few milliseconds, where a
    plotly chart of the same took ten times longer. A row click picks the county."""
    every = ranking_rows(data, view)
    if not every:
        return _part(
            "ranking", view.key, f'<div class="wb-empty">{_esc(t("dash.empty.index"))}</div>'
        )
    hier = view.hierarchy or data.default_hierarchy()
    hier_name = data.hierarchies.get(hier, hier)  # which index: the county page has no picker
    grades = data.grades(view.period, hier)
    n = data.memo(
        ("n_ranked", view.period, view.hierarchy),
        lambda: int(max((_float(r["rank"]) or 0 for r in every), default=0)) or len(every),
    )
    top = (
        data.memo(
            ("score_max", view.period, view.hierarchy),
            lambda: max((_float(r["score"]) or 0.0 for r in every), default=0.0),
        )
        or 1.0
    )
    shown = _shortlist(every, view.county, MAX_BARS)
    rows = []
    prev = None
    for i in shown:
        r = every[i]
        if prev is not None and i != prev + 1:
            rows.append('<div class="wb-bar-gap">⋯</div>')
        prev = i
        score = _float(r["score"])
        colour = _grade_colour(r["grade"], grades)
        width = 0.0 if score is None else max(0.0, min(100.0, score / top * 100))
        grade = "" if _missing(r["grade"]) else str(r["grade"])
        lo, hi, rank = _float(r["q05"]), _float(r["q95"]), _float(r["rank"])
        interval = (
            t("dash.rank.interval", lo=f"{lo:.0f}", hi=f"{hi:.0f}")
            if lo is not None and hi is not None
            else "—"
        )
        tip = (
            t(
                "dash.map.tip_index",
                name=r["county_name"],
                score=fmt.number(score, 1),
                grade=grade,
                rank=fmt.number(rank),
            )
            + f"；{t('dash.hover.interval')} {interval}"
        )
        sel = " wb-row-selected" if r["county_code"] == view.county else ""
        rows.append(
            f'<div class="wb-bar-row{sel}" data-pick="{_esc(r["county_code"])}" '
            f'data-county="{_esc(r["county_code"])}" title="{_esc(tip)}">'
            f'<span class="wb-bar-label">{_esc(fmt.number(rank))}. {_esc(r["county_name"])}</span>'
            f'<span class="wb-bar-track"><span class="wb-bar" style="width:{width:.1f}%;'
            f'background:{colour};color:{_ink(colour)}">{_esc(fmt.number(score, 1))} '
            f"{_esc(grade)}</span></span>"
            f'<span class="wb-bar-band">{_band_html(lo, hi, rank, n)}</span></div>'
        )
    head = (
        f'<div class="wb-bar-row wb-bar-head"><span class="wb-bar-label"></span>'
        f'<span class="wb-bar-track">{_esc(t("dash.axis.score_of", name=hier_name))}</span>'
        f'<span class="wb-bar-band">{_esc(t("dash.axis.rank_band", n=n))}</span></div>'
    )
    cut = t("dash.table.truncated", n=len(every), shown=len(shown))
    note = f'<div class="wb-note">{_esc(cut)}</div>' if len(shown) < len(every) else ""
    return _part("ranking", view.key, f'<div class="wb-bars">{head}{"".join(rows)}</div>{note}')


def _trend_series(data: DashboardData, view: View, county: str) -> pd.DataFrame:
    """Month by month in the view's year up to its period: the value (for the span, e.g. year
    to date) and the target, read from the precomputed KPIs of each month."""
    months = months_upto(data.periods, view.period)
    vals: list[float | None] = []
    tgts: list[float | None] = []
    if view.focus == INDEX:
        hier = view.hierarchy or data.default_hierarchy()
        for p in months:
            scores = data.memo(
                ("scores", p, hier),
                lambda p=p: {r["county_code"]: _float(r["score"]) for r in data.ranking(p, hier)},
            )
            if county:
                vals.append(scores.get(county))
            else:
                vals.append(
                    data.memo(
                        ("score_mean", p, hier),
                        lambda s=scores: (
                            (
                                sum(v for v in s.values() if v is not None)
                                / max(1, sum(v is not None for v in s.values()))
                            )
                            if s
                            else None
                        ),
                    )
                )
            tgts.append(None)
    else:
        for p in months:
            r = data.kpi(view.focus, p, county, view.indicator_set)
            vals.append(_float(r.get("value")))
            tgts.append(_float(r.get("target")))
    if all(v is None for v in vals):
        return pd.DataFrame(columns=["month", "value", "target"])
    return pd.DataFrame({"month": months, "value": vals, "target": tgts})


def focus_meta(data: DashboardData, view: View) -> dict:
    if view.focus == INDEX:
        return {"name": t("dash.focus.index"), "unit": "score", "direction": 1}
    for s in [view.indicator_set, *(s for s in data.indicator_sets if s != view.indicator_set)]:
        hit = [m for m in data.meta_records(s) if m["indicator"] == view.focus]
        if hit:
            return hit[0]
    return {"name": view.focus, "unit": "", "direction": 1}


def trend_figure(data: DashboardData, view: View) -> dict:
    """Monthly values of the focus indicator against its target; the county beside the city."""
    meta = focus_meta(data, view)
    unit = meta.get("unit")
    city_label = t("dash.trend.county_mean") if view.focus == INDEX else data.city_name
    series = [
        (
            view.county,
            data.county_name(view.county) if view.county else city_label,
            "#0072B2",
            "solid",
            3,
        )
    ]
    if view.county and (view.focus == INDEX or value_kind(unit) == "percent"):
        series.append((CITY, city_label, "#8C8C8C", "dot", 2))  # rates compare; sums do not
    traces: list[dict] = []
    target_done = False
    for code, name, colour, dash, width in series:
        s = _trend_series(data, view, code)
        if s.empty:
            continue
        x = [f"{int(str(m)[5:7])}月" for m in s["month"]]
        y = [_float(v) for v in s["value"]]
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": name,
                "x": x,
                "y": y,
                "line": {"color": colour, "width": width, "dash": dash},
                "marker": {"size": 7 if code == view.county else 5},
                "text": [format_value(v, unit, decimals=meta.get("decimals")) for v in y],
                "hovertemplate": f"{_esc(name)} %{{x}}：%{{text}}<extra></extra>",
            }
        )
        tgt = [_float(v) for v in s.get("target", pd.Series(dtype=float))]
        if not target_done and any(v is not None for v in tgt):
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": t("dash.legend.target"),
                    "x": x,
                    "y": tgt,
                    "line": {"color": "#D55E00", "width": 2, "dash": "dash"},
                    "text": [format_value(v, unit, decimals=meta.get("decimals")) for v in tgt],
                    "hovertemplate": t("dash.legend.target") + " %{x}：%{text}<extra></extra>",
                }
            )
            target_done = True
    if not traces:
        return empty_figure(t("dash.empty.trend"))
    yaxis: dict[str, Any] = {
        "gridcolor": "#eeeeee",
        "fixedrange": True,
        "title": {"text": _axis_unit(unit)},
    }
    if value_kind(unit) == "percent":
        yaxis["tickformat"] = ".0%"
    layout = base_layout(
        300,
        showlegend=True,
        yaxis=yaxis,
        xaxis={"type": "category", "fixedrange": True, "title": {"text": view.period[:4] + "年"}},
        legend={"orientation": "h", "y": 1.12, "x": 0},
        margin={"l": 72, "r": 10, "t": 30, "b": 40},
    )
    return {"data": traces, "layout": layout}


def _axis_unit(unit: object) -> str:
    kind = value_kind(unit)
    if kind == "percent":
        return t("dash.axis.percent")
    if kind == "money":
        return t("dash.axis.yuan")
    if str(unit or "") == "score":
        return t("dash.axis.score")
    return "" if _missing(unit) else str(unit)


# Where the funnel and the rectification bar read their numbers: (indicator, part) in the engine's
# KPI rows, so they agree with the KPI cards by construction. Indicator codes are the ones
# declared in indicators/campaign_2025.yaml; a stage whose indicator is absent is left out.
FUNNEL_SOURCES: dict[str, tuple[str, str]] = {
    "leads": ("case_detection_rate", "denominator"),
    "filed": ("case_count", "numerator"),
    "closed": ("case_detection_rate", "numerator"),
}
RECOVERY_SOURCE = "fund_recovery_rate"
RECTIFICATION_SOURCE = "rectification_completion"


def funnel_stages(data: DashboardData, view: View) -> list[dict]:
    """线索 → 立案 → 结案 → 追回 as [{stage, count, text}] for the county (or city).

    The first three are counts. 追回 is money: its width is 结案 × 基金追回率, i.e. the share of
    the money due that came back, drawn on the same scale, and its label gives the amounts."""
    stages = []
    for stage, (indicator, col) in FUNNEL_SOURCES.items():
        row = data.kpi(indicator, view.period, view.county, view.indicator_set)
        n = _float(row.get(col))
        if n is not None:
            stages.append(
                {"stage": stage, "count": n, "text": t("dash.funnel.count", n=fmt.number(n))}
            )
    rec = data.kpi(RECOVERY_SOURCE, view.period, view.county, view.indicator_set)
    rate = _float(rec.get("value"))
    closed = next((s["count"] for s in stages if s["stage"] == "closed"), None)
    if rate is not None and closed is not None:
        stages.append(
            {
                "stage": "recovered",
                "count": closed * rate,
                "text": t("dash.funnel.recovered_text", rate=fmt.percent(rate)),
                "hover": t(
                    "dash.funnel.recovered_hover",
                    rate=fmt.percent(rate),
                    recovered=fmt.money(rec.get("numerator")),
                    due=fmt.money(rec.get("denominator")),
                ),
            }
        )
    return stages


def funnel_figure(data: DashboardData, view: View) -> dict:
    """The enforcement funnel for the view's county (or the city)."""
    stages = funnel_stages(data, view)
    if not stages:
        return empty_figure(t("dash.empty.funnel"))
    colours = {"leads": "#0b3a66", "filed": "#0072B2", "closed": "#56B4E9", "recovered": "#009E73"}
    trace = {
        "type": "funnel",
        "y": [t(f"dash.funnel.{s['stage']}") for s in stages],
        "x": [s["count"] for s in stages],
        "text": [s["text"] for s in stages],
        "customdata": [s.get("hover", s["text"]) for s in stages],
        "textinfo": "text",
        "textposition": "inside",
        "marker": {"color": [colours[s["stage"]] for s in stages]},
        "connector": {"fillcolor": "#e3e9f0"},
        "hovertemplate": "%{y}：%{customdata}<extra></extra>",
        "textfont": {"color": "#ffffff", "size": 13},
    }
    layout = base_layout(
        230,
        yaxis={"fixedrange": True},
        xaxis={"fixedrange": True},
        margin={"l": _label_width(trace["y"], 13), "r": 10, "t": 5, "b": 5},
    )
    return {"data": [trace], "layout": layout}


def rectification_figure(data: DashboardData, view: View) -> dict:
    """Rectification items due so far: 已销号 against 未销号, with completion and its target."""
    row = data.kpi(RECTIFICATION_SOURCE, view.period, view.county, view.indicator_set)
    done, due = _float(row.get("numerator")), _float(row.get("denominator"))
    if due is None or done is None:
        return empty_figure(t("dash.empty.rectification"))
    open_items = max(due - done, 0.0)
    traces = []
    for label, n, colour, ink in (
        (t("dash.rect.closed"), done, "#0072B2", "#ffffff"),
        (t("dash.rect.open"), open_items, "#E69F00", "#111111"),
    ):
        share = n / due if due else None
        text = f"{label} {fmt.number(n)}（{fmt.percent(share)}）"
        traces.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": text,
                "y": [t("dash.rect.items")],
                "x": [n],
                "marker": {"color": colour},
                "text": [text if share is not None and share >= 0.2 else ""],
                "textposition": "inside",
                "insidetextanchor": "middle",
                "textangle": 0,
                "textfont": {"color": ink},
                "hovertemplate": f"{_esc(text)}<extra></extra>",
            }
        )
    meta = focus_meta(data, dataclasses.replace(view, focus=RECTIFICATION_SOURCE))
    title = t(
        "dash.rect.summary",
        value=fmt.percent(row.get("value")),
        target=format_target(row.get("target"), "%", meta.get("op") or 1),
        deadline=fmt.date_label(meta.get("deadline")) if meta.get("deadline") else "—",
    )
    layout = base_layout(
        150,
        barmode="stack",
        showlegend=True,
        legend={"orientation": "h", "x": 0, "y": -0.05, "yanchor": "top"},
        xaxis={"fixedrange": True, "visible": False},
        yaxis={"visible": False, "fixedrange": True},
        annotations=[
            {
                "text": _esc(title),
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": 0,
                "y": 1.0,
                "xanchor": "left",
                "yanchor": "bottom",
                "font": {"size": 13},
            }
        ],
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    return {"data": traces, "layout": layout}


def empty_figure(message: str) -> dict:
    layout = base_layout(
        180,
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[
            {
                "text": message,
                "showarrow": False,
                "font": {"size": 14, "color": "#5f6b7a"},
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
            }
        ],
    )
    return {"data": [], "layout": layout}


def history_figure(data: DashboardData, view: View) -> dict:
    """Small multiples for the county page: every indicator's months, its target and the city."""
    meta = data.meta_records(view.indicator_set)
    if not meta:
        return empty_figure(t("dash.empty.trend"))
    cols = 4 if len(meta) > 6 else 3
    rows = math.ceil(len(meta) / cols)
    gap_x, gap_y = 0.06, 0.55 / max(rows, 1) / 1.6
    width = (1 - gap_x * (cols - 1)) / cols
    height = (1 - gap_y * (rows - 1)) / rows
    traces: list[dict] = []
    layout = base_layout(
        170 * rows + 40, margin={"l": 56, "r": 10, "t": 30, "b": 10}, annotations=[]
    )
    for i, m in enumerate(meta):
        r, c = divmod(i, cols)
        ax = "" if i == 0 else str(i + 1)
        x0 = c * (width + gap_x)
        y1 = 1 - r * (height + gap_y)
        layout[f"xaxis{ax}"] = {
            "domain": [x0, x0 + width],
            "anchor": f"y{ax}",
            "type": "category",
            "fixedrange": True,
            "tickangle": 0,
            "nticks": 6,
            "tickfont": {"size": 10},
        }
        yax = {
            "domain": [max(0.0, y1 - height), y1],
            "anchor": f"x{ax}",
            "fixedrange": True,
            "gridcolor": "#eeeeee",
            "tickfont": {"size": 10},
        }
        if value_kind(m.get("unit")) == "percent":
            yax["tickformat"] = ".0%"
        layout[f"yaxis{ax}"] = yax
        layout["annotations"].append(
            {
                "text": f"<b>{_esc(m.get('name') or m['indicator'])}</b>",
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": x0,
                "y": y1 + 0.01,
                "xanchor": "left",
                "yanchor": "bottom",
                "font": {"size": 12},
            }
        )
        sub = View(view.indicator_set, view.period, view.county, str(m["indicator"]))
        # the city beside the county only where the two compare: rates, not counts or sums
        lines = [(view.county, "#0072B2", "solid")]
        if value_kind(m.get("unit")) == "percent":
            lines.append((CITY, "#8C8C8C", "dot"))
        for code, colour, dash in lines:
            s = _trend_series(data, sub, code)
            if s.empty:
                continue
            x = [f"{int(str(mo)[5:7])}月" for mo in s["month"]]
            y = [_float(v) for v in s["value"]]
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "x": x,
                    "y": y,
                    "xaxis": f"x{ax}",
                    "yaxis": f"y{ax}",
                    "line": {"color": colour, "dash": dash, "width": 2},
                    "marker": {"size": 4},
                    "name": data.county_name(code),
                    "text": [format_value(v, m.get("unit"), decimals=m.get("decimals")) for v in y],
                    "hovertemplate": f"{_esc(data.county_name(code))} %{{x}}：%{{text}}"
                    "<extra></extra>",
                }
            )
            if code == view.county and "target" in s and s["target"].notna().any():
                tgt = [_float(v) for v in s["target"]]
                traces.append(
                    {
                        "type": "scatter",
                        "mode": "lines",
                        "x": x,
                        "y": tgt,
                        "xaxis": f"x{ax}",
                        "yaxis": f"y{ax}",
                        "hoverinfo": "skip",
                        "line": {"color": "#D55E00", "dash": "dash", "width": 1.5},
                    }
                )
    return {"data": traces, "layout": layout}


# ───────────────────────────── map ─────────────────────────────


def geojson_path(flag: str | os.PathLike | None = None) -> Path:
    """County boundaries: flag, then $WORKBENCH_GEOJSON, then workbench.toml `[dashboard]
    geojson`, then the shipped demo boundaries."""
    if flag:
        return Path(flag)
    if env := os.environ.get(ENV_GEOJSON):
        return Path(env)
    from workbench.config import load_config

    cfg = load_config()
    value = (
        (cfg.get("dashboard") or {}).get("geojson")
        if isinstance(cfg.get("dashboard"), dict)
        else None
    )
    if value:
        p = Path(value)
        return p if p.is_absolute() else Path(cfg["_path"]).parent / p
    return DEMO_GEOJSON


_CODE_KEYS = ("county_code", "code", "adcode", "区划代码", "GB", "gb", "id")
_NAME_KEYS = ("county_name", "name", "区县名称", "NAME")


def _rings(geometry: Mapping[str, Any]) -> list[list[list[float]]]:
    kind = geometry.get("type")
    coords = geometry.get("coordinates") or []
    if kind == "Polygon":
        return [ring for ring in coords]
    if kind == "MultiPolygon":
        return [ring for poly in coords for ring in poly]
    return []


def load_shapes(
    path: str | os.PathLike | None, counties: pd.DataFrame, width: float = 1000.0
) -> dict:
    """GeoJSON → SVG paths in a `0 0 width h` box; counties without a boundary become tiles.

    Returns {"viewbox", "shapes": [{code, name, d, cx, cy}], "missing": n, "source"}."""
    codes = [str(c) for c in counties["county_code"]]
    names = dict(zip(codes, counties["county_name"].astype(str)))
    feats: dict[str, list[list[list[float]]]] = {}
    source = ""
    p = Path(path) if path else None
    if p is not None and p.is_file():
        try:
            gj = json.loads(p.read_text(encoding="utf-8-sig"))
            for feat in gj.get("features", []):
                props = feat.get("properties") or {}
                code = next(
                    (str(props[k]) for k in _CODE_KEYS if props.get(k) not in (None, "")),
                    str(feat.get("id", "")),
                )
                if code in names and feat.get("geometry"):
                    feats.setdefault(code, []).extend(_rings(feat["geometry"]))
            source = str(p)
        except (OSError, ValueError, AttributeError, TypeError) as exc:
            log.warning("GeoJSON %s unreadable: %s", p, exc)
    shapes: list[dict] = []
    height = width * 0.75
    if feats:
        xs = [pt[0] for rings in feats.values() for ring in rings for pt in ring]
        ys = [pt[1] for rings in feats.values() for ring in rings for pt in ring]
        lat0 = math.radians((min(ys) + max(ys)) / 2)
        kx = math.cos(lat0) if abs(lat0) < 1.5 else 1.0
        w0 = max((max(xs) - min(xs)) * kx, 1e-9)
        h0 = max(max(ys) - min(ys), 1e-9)
        scale = width / w0
        height = h0 * scale
        minx, maxy = min(xs), max(ys)

        def proj(pt: Sequence[float]) -> tuple[float, float]:
            return ((pt[0] - minx) * kx * scale, (maxy - pt[1]) * scale)

        digits = 0 if len(feats) > 300 else 1  # a national map: whole units are plenty
        for code in codes:
            if code not in feats:
                continue
            parts = []
            sx = sy = n = 0.0
            for ring in feats[code]:
                pts = [proj(pt) for pt in ring]
                if len(pts) < 3:
                    continue
                parts.append("M" + "L".join(f"{x:.{digits}f},{y:.{digits}f}" for x, y in pts) + "Z")
                for x, y in pts:
                    sx, sy, n = sx + x, sy + y, n + 1
            if parts:
                shapes.append(
                    {
                        "code": code,
                        "name": names[code],
                        "d": "".join(parts),
                        "cx": round(sx / n, 1),
                        "cy": round(sy / n, 1),
                    }
                )
    placed = {s["code"] for s in shapes}
    rest = [c for c in codes if c not in placed]
    if rest:
        cols = max(1, math.ceil(math.sqrt(len(rest) * 1.6)))
        cell = width / cols
        top = (height + cell * 0.5) if shapes else 0.0
        for i, code in enumerate(rest):
            r, c = divmod(i, cols)
            x, y = c * cell, top + r * cell
            s = cell * 0.92
            shapes.append(
                {
                    "code": code,
                    "name": names[code],
                    "d": f"M{x:.1f},{y:.1f}h{s:.1f}v{s:.1f}h{-s:.1f}Z",
                    "cx": round(x + s / 2, 1),
                    "cy": round(y + s / 2, 1),
                }
            )
        height = top + math.ceil(len(rest) / cols) * cell
    if len(shapes) > 60:  # no labels drawn: keep only what the browser needs
        shapes = [{"code": s["code"], "d": s["d"]} for s in shapes]
    return {
        "viewbox": f"0 0 {width:.0f} {max(height, 1):.0f}",
        "shapes": shapes,
        "missing": len(rest),
        "source": source,
    }


def map_colours(data: DashboardData, view: View) -> tuple[dict, dict, str]:
    """Fill colour and tooltip per county, and the legend, for the focus of the view.

    The index is coloured by grade (as the ranking bars); an indicator with a target by its
    traffic light; one without a target by quintile, better values bluer."""
    focus = view.focus if view.focus == INDEX else (view.indicator_set, view.focus)
    return data.memo(("map", view.period, view.hierarchy, focus), lambda: _map_colours(data, view))


def _map_colours(data: DashboardData, view: View) -> tuple[dict, dict, str]:
    fills: dict[str, str] = {}
    tips: dict[str, str] = {}
    legend: list[tuple[str, str]] = []
    if view.focus == INDEX:
        rows = ranking_rows(data, view)
        grades = data.grades(view.period, view.hierarchy or data.default_hierarchy())
        for r in rows:
            code = r["county_code"]
            fills[code] = _grade_colour(r["grade"], grades)
            tips[code] = t(
                "dash.map.tip_index",
                name=r["county_name"],
                score=fmt.number(r["score"], 1),
                grade=r["grade"],
                rank=fmt.number(r["rank"]),
            )
        legend = [(_grade_colour(g, grades), g) for g in grades]
    elif view.focus in data.cube.indicators.get(view.indicator_set, {}):
        import numpy as np

        meta = focus_meta(data, view)
        unit = meta.get("unit")
        block = data.cube.across_counties(view.indicator_set, view.period, view.focus)
        value, target, met = (block[:, KPI_FIELDS.index(f)] for f in ("value", "target", "met"))
        codes = list(data.cube.counties)[1:]
        has_target = bool(np.isfinite(target).any())
        d = display(meta)
        if has_target:
            n = len(value)
            status = pk.decide_status(
                value,
                target,
                met,
                np.full(n, bool(d.op)),
                np.full(n, d.relative),
                np.full(n, pk.deadline_ahead(d, view.period)),
            )
            colour = [STATUS_COLOURS[STATUS_LIGHTS[x]] for x in status]
        else:
            direction = _float(meta.get("direction")) or 1.0
            ranks = pd.Series(value * direction).rank(pct=True).to_numpy()
            colour = [
                SEQUENTIAL[min(4, int((q - 1e-9) * 5))]
                if np.isfinite(q)
                else STATUS_COLOURS["none"]
                for q in ranks
            ]
        name = meta.get("name")
        for code, c, v in zip(codes, colour, value.tolist()):
            fills[code] = c
            tips[code] = t(
                "dash.map.tip_kpi",
                name=data.county_name(code),
                indicator=name,
                value=format_value(v, unit, decimals=d.decimals),
            )
        if has_target:
            legend = [
                (
                    STATUS_COLOURS[STATUS_LIGHTS[s]],
                    f"{STATUS_ICONS[STATUS_LIGHTS[s]]} {pk.status_label(s)}",
                )
                for s in (pk.MET, pk.AT_RISK, pk.NOT_MET, pk.NO_DATA)
            ]
        else:
            legend = [(SEQUENTIAL[0], t("dash.map.worse")), (SEQUENTIAL[4], t("dash.map.better"))]
    legend_html = "".join(
        f'<span><i style="background:{c}"></i>{_esc(label)}</span>' for c, label in legend
    )
    return fills, tips, legend_html


# ───────────────────────────── county drill-down ─────────────────────────────

LedgerSource = Callable[[str], Mapping[str, pd.DataFrame]]


def rank_summary_html(data: DashboardData, view: View) -> str:
    """The county's place in every index hierarchy: rank of n, score, grade, rank interval."""
    rows = []
    for hier in data.hierarchies:
        ranking = data.ranking(view.period, hier)
        h = next((r for r in ranking if r["county_code"] == view.county), None)
        if h is None:
            continue
        lo, hi = _float(h["q05"]), _float(h["q95"])
        interval = t("dash.rank.interval", lo=f"{lo:.0f}", hi=f"{hi:.0f}") if lo and hi else "—"
        colour = _grade_colour(h["grade"])
        rows.append(
            f'<tr data-hierarchy="{_esc(hier)}"><td>{_esc(data.hierarchies.get(hier, hier))}</td>'
            f'<td class="wb-num" data-rank>'
            f"{_esc(t('dash.rank.of', rank=fmt.number(h['rank']), n=len(ranking)))}</td>"
            f'<td class="wb-num">{_esc(fmt.number(h["score"], 1))}</td>'
            f'<td><span class="wb-grade" style="background:{colour};color:{_ink(colour)}">'
            f"{_esc(h['grade'])}</span></td>"
            f"<td>{_band_html(lo, hi, h['rank'], len(ranking))}{_esc(interval)}</td></tr>"
        )
    if not rows:
        return _part("rank", view.key, f'<div class="wb-empty">{_esc(t("dash.empty.index"))}</div>')
    head = "".join(
        f"<th>{_esc(t(k))}</th>"
        for k in (
            "dash.col.hierarchy",
            "dash.col.rank",
            "dash.col.score",
            "dash.col.grade",
            "dash.col.interval",
        )
    )
    lag = [
        r
        for r in data.first_part("lagging", view.indicator_set, view.period)
        if r["county_code"] == view.county
    ]
    note = ""
    if lag:
        note = (
            f'<div class="wb-note wb-st-risk"><span class="wb-icon wb-st-risk">!</span>'
            f"{_esc(t('dash.county.lagging'))}</div>"
        )
    return _part(
        "rank",
        view.key,
        f'<table class="wb-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>{note}",
    )


def overdue_items(ledgers: Mapping[str, pd.DataFrame], county: str, period: str) -> pd.DataFrame:
    """Rectification items overdue at the end of `period` (`presentation.lists`)."""
    items = lists.overdue_rectifications(ledgers, period, county or None)
    cols = [
        "issue_id",
        "source",
        "responsible_unit",
        "description",
        "found_date",
        "deadline",
        "status",
        "amount_involved",
        "days_overdue",
    ]
    return items[[c for c in cols if c in items.columns]]


def table_html(
    df: pd.DataFrame,
    headers: Mapping[str, str] | None = None,
    limit: int = MAX_DRILL_ROWS,
    total: int | None = None,
) -> str:
    """A masked, Chinese-headed HTML table of ledger rows (personal data never unmasked)."""
    from workbench.contracts import LEDGERS
    from workbench.privacy import mask_frame

    if df is None or df.empty:
        return f'<div class="wb-empty">{_esc(t("dash.empty.rows"))}</div>'
    shown = mask_frame(df.head(limit))  # the engine masks too; masking twice is harmless
    names = dict(headers or {})
    # the rows' own ledger names its columns first (a rectification's status is 整改状态, not
    # the cases ledger's 案件状态): the ledger whose key columns the rows carry
    own = [lg for lg in LEDGERS.values() if all(k in df.columns for k in lg.key)]
    for lg in [*own[:1], *LEDGERS.values()]:
        for f in lg.fields:
            # money is shown with its unit (1.6万元): the header drops its own "(元)"
            names.setdefault(
                f.name,
                f.header.replace("(元)", "").replace("（元）", "")
                if f.type == "yuan"
                else f.header,
            )
    names.setdefault("days_overdue", t("dash.col.days_overdue"))
    head = "".join(
        f"<th>{_esc(names.get(str(c), c))}</th>"
        for c in shown.columns
        if not str(c).startswith("_")
    )
    body = []
    for rec in shown.to_dict("records"):
        cells = []
        for c, v in rec.items():
            if str(c).startswith("_"):
                continue
            if isinstance(v, pd.Timestamp):
                text = fmt.date_label(v)
            elif isinstance(v, float) and (
                "amount" in str(c)
                or "fine" in str(c)
                or "reward" in str(c)
                or "expenditure" in str(c)
            ):
                text = fmt.money(v)
            elif isinstance(v, bool):
                text = "是" if v else "否"
            else:
                text = "—" if _missing(v) else str(v)
            cells.append(f"<td>{_esc(text)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    more = ""
    total = len(df) if total is None else total
    if total > len(shown):
        more = f'<div class="wb-note">{_esc(t("dash.rows.more", n=total, shown=len(shown)))}</div>'
    return (
        f'<div class="wb-scroll"><table class="wb-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>{more}"
    )


def overdue_html(ledgers: Mapping[str, pd.DataFrame] | None, view: View) -> str:
    if ledgers is None:
        return _part(
            "overdue", view.key, f'<div class="wb-empty">{_esc(t("dash.empty.ledgers"))}</div>'
        )
    items = overdue_items(ledgers, view.county, view.period)
    note = f'<div class="wb-note">{_esc(t("dash.overdue.count", n=len(items)))}</div>'
    return _part("overdue", view.key, note + table_html(items))


def drill_html(
    ledgers: Mapping[str, pd.DataFrame] | None, view: View, indicator: str, span: str | None = None
) -> str:
    """The ledger rows behind one indicator's numerator and denominator (masked)."""

    def part(body: str) -> str:
        return (
            f'<div class="wb-part wb-drill" data-part="drill" data-key="{_esc(view.key)}" '
            f'data-indicator="{_esc(indicator)}">{body}</div>'
        )

    if ledgers is None or not indicator:
        return part(f'<div class="wb-empty">{_esc(t("dash.empty.ledgers"))}</div>')
    try:
        result = run_drill(ledgers, view.county, view.period, indicator, view.indicator_set, span)
    except Exception as exc:  # the drill is an aid; a failure must not take the page down
        log.exception("drill failed")
        return part(f'<div class="wb-empty">{_esc(t("dash.drill.error", error=exc))}</div>')
    blocks = [f'<div class="wb-note">{_esc(result.title)}</div>'] if result.title else []
    for role, frames in (("numerator", result.numerator), ("denominator", result.denominator)):
        if not frames:
            continue
        blocks.append(f'<h4 data-role="{role}">{_esc(t("dash.drill." + role))}</h4>')
        for title, rows, total in frames:
            blocks.append(
                f'<div class="wb-note">{_esc(title)}</div>' + table_html(rows, total=total)
            )
    if result.note:
        blocks.append(f'<div class="wb-note">{_esc(result.note)}</div>')
    return part("".join(blocks))


@dataclass
class DrillView:
    """What the drill panel shows: per role, [(title, masked rows, total row count)]."""

    title: str
    numerator: list[tuple[str, pd.DataFrame, int]]
    denominator: list[tuple[str, pd.DataFrame, int]]
    note: str = ""


def run_drill(
    ledgers: Mapping[str, pd.DataFrame],
    county: str,
    period: str,
    indicator: str,
    indicator_set: str,
    span: str | None = None,
) -> DrillView:
    """The engine's drill-through (`workbench.drill.drill`), reshaped for the panel."""
    from workbench.drill import drill

    res = drill(ledgers, county, period, indicator, indicator_set, span, max_rows=MAX_DRILL_ROWS)
    out = DrillView(res.title, [], [], res.note)
    for p in res.parts:
        getattr(out, p.role).append((p.title, p.rows, p.total_rows))
    return out


# ───────────────────────────── the board widget ─────────────────────────────

_BOARD_ESM = r"""
const CONFIG = {displayModeBar: false, responsive: true, displaylogo: false, doubleClick: false};
const NS = "http://www.w3.org/2000/svg";
const ORDER = {html: 0, map: 1, mapsel: 2, plot: 3};

function plotly() {
  return new Promise((resolve) => {
    const tick = () => (window.Plotly ? resolve(window.Plotly) : setTimeout(tick, 15));
    tick();
  });
}
function trace(part, what) {
  const t = (window.__wbTrace = window.__wbTrace || []);
  if (t.length > 500) t.splice(0, 250);
  t.push([part, what, performance.now()]);
}
// Wall displays use a larger base font: scale every font size, the margins and the height.
function scaleFig(fig, k) {
  const walk = (o, parent) => {
    if (Array.isArray(o)) return o.length > 64 ? o : o.map((x) => walk(x, parent));
    if (!o || typeof o !== "object") return o;
    const out = {};
    for (const [key, v] of Object.entries(o)) {
      if (typeof v === "number" && ((key === "size" && /font$/i.test(parent || "")) ||
                                    parent === "margin")) out[key] = v * k;
      else out[key] = walk(v, key);
    }
    return out;
  };
  const scaled = walk(fig, "");
  if (scaled.layout && scaled.layout.height) {
    scaled.layout.height = Math.round(scaled.layout.height * k);
  }
  return scaled;
}
function setOptions(sel, options) {
  const frag = document.createDocumentFragment();
  for (const [label, value] of options) {
    const o = document.createElement("option");
    o.value = value; o.textContent = label;
    frag.appendChild(o);
  }
  sel.replaceChildren(frag);
}

export default {
  async render({ model, el }) {
    el.classList.add("wb-board");
    el.innerHTML = model.get("skeleton");
    const slots = {};
    el.querySelectorAll("[data-slot]").forEach((s) => { slots[s.dataset.slot] = s; });
    const selects = {};
    el.querySelectorAll("select[data-control]").forEach((s) => {
      selects[s.dataset.control] = s;
      s.addEventListener("change", () =>
        model.send({ event: "select", name: s.dataset.control, value: s.value }));
    });
    el.addEventListener("click", (ev) => {
      const t = ev.target.closest && ev.target.closest("[data-pick]");
      if (t) model.send({ event: "click", value: t.dataset.pick });
    });
    const P = await plotly();
    const state = {};
    let optionsRev = null;

    const applyControls = () => {
      const options = model.get("options");
      const rev = JSON.stringify(Object.keys(options).map((k) => [k, options[k].length,
        (options[k][0] || [])[1], (options[k][options[k].length - 1] || [])[1]]));
      if (rev !== optionsRev) {
        for (const [name, opts] of Object.entries(options)) {
          if (selects[name]) setOptions(selects[name], opts);
        }
        optionsRev = rev;
      }
      for (const [name, value] of Object.entries(model.get("values"))) {
        const s = selects[name];
        if (!s) continue;
        if (s.value !== value) s.value = value;
        const box = s.closest(".wb-sel");
        if (box) box.style.display = (options[name] || []).length > 1 ? "" : "none";
      }
    };

    const buildMap = (st, slot) => {
      st.el = document.createElement("div");
      st.el.className = "wb-map";
      st.el.dataset.part = "map";
      const svg = document.createElementNS(NS, "svg");
      const vb = model.get("viewbox");
      svg.setAttribute("viewBox", vb);
      svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
      svg.setAttribute("role", "img");
      const shapes = model.get("shapes");
      const size = Math.max(...vb.split(" ").map(Number).slice(2)) / 28;
      const labels = document.createElementNS(NS, "g");
      labels.setAttribute("font-size", String(size));
      st.paths = new Map();
      for (const s of shapes) {
        const p = document.createElementNS(NS, "path");
        p.setAttribute("d", s.d);
        p.dataset.county = s.code;
        p.dataset.pick = s.code;
        p.appendChild(document.createElementNS(NS, "title"));
        svg.appendChild(p);
        st.paths.set(s.code, p);
        if (shapes.length <= 60) {
          const tx = document.createElementNS(NS, "text");
          tx.setAttribute("x", s.cx); tx.setAttribute("y", s.cy);
          tx.setAttribute("text-anchor", "middle");
          tx.setAttribute("dominant-baseline", "middle");
          tx.textContent = s.name;
          labels.appendChild(tx);
        }
      }
      svg.appendChild(labels);
      st.labels = labels;
      st.svg = svg;
      st.legend = document.createElement("div");
      st.legend.className = "wb-map-legend";
      st.el.append(svg, st.legend);
      slot.appendChild(st.el);
    };

    const drawPart = async (name, p, key) => {
      const slot = slots[name];
      if (!slot && p.kind !== "mapsel") return;
      const st = state[name] || (state[name] = { rev: -1 });
      if (p.kind === "html") {
        if (st.rev !== p.rev) { slot.innerHTML = p.html; st.rev = p.rev; }
        const e = slot.querySelector("[data-part]");
        if (e) e.dataset.key = key;
      } else if (p.kind === "map") {
        if (!st.el) buildMap(st, slot);
        if (st.rev !== p.rev) {
          const fills = p.fills, tips = p.tips;
          for (const [code, path] of st.paths) {
            path.setAttribute("fill", fills[code] || "#d9d9d9");
            path.firstChild.textContent = tips[code] || "";
          }
          st.legend.innerHTML = p.legend;
          st.rev = p.rev;
        }
        st.el.dataset.key = key;
      } else if (p.kind === "mapsel") {
        const m = state[p.map];
        if (!m || !m.paths || m.selected === p.selected) return;
        if (m.selected && m.paths.has(m.selected)) {
          m.paths.get(m.selected).classList.remove("wb-selected");
        }
        m.selected = p.selected;
        if (p.selected && m.paths.has(p.selected)) {
          const sel = m.paths.get(p.selected);
          sel.classList.add("wb-selected");
          m.svg.insertBefore(sel, m.labels);
        }
      } else if (p.kind === "plot") {
        if (!st.el) {
          st.el = document.createElement("div");
          st.el.className = "wb-chart";
          st.el.dataset.part = name;
          st.div = document.createElement("div");
          st.div.className = "wb-plot";
          st.el.appendChild(st.div);
          slot.appendChild(st.el);
        }
        if (st.rev !== p.rev) {
          trace(name, "start");
          const k = Math.max(1, (parseFloat(getComputedStyle(st.el).fontSize) || 14) / 14.5);
          const fig = k > 1.05 ? scaleFig(p.figure || {}, k) : (p.figure || {});
          await P.react(st.div, fig.data || [], fig.layout || {}, CONFIG);
          if (!st.wired) {
            st.div.on("plotly_click", (ev) => {
              const pt = ev && ev.points && ev.points[0];
              if (pt && pt.customdata !== undefined && pt.customdata !== null) {
                const v = Array.isArray(pt.customdata) ? pt.customdata[0] : pt.customdata;
                model.send({ event: "click", value: String(v) });
              }
            });
            st.wired = true;
          }
          st.rev = p.rev;
          trace(name, "drawn");
        }
        st.el.dataset.key = key;
      }
    };

    let queue = Promise.resolve();
    const draw = () => {
      queue = queue.then(async () => {
        const key = model.get("key");
        trace("board", "recv");
        applyControls();
        const all = Object.assign({}, model.get("parts"), model.get("big_parts"));
        const parts = Object.entries(all).sort((a, b) => ORDER[a[1].kind] - ORDER[b[1].kind]);
        for (const [name, p] of parts) await drawPart(name, p, key);
        el.dataset.key = key;
        trace("board", "drawn");
      }).catch((err) => { el.dataset.error = String(err); console.error(err); });
      return queue;
    };
    const live = () => el.querySelectorAll(".wb-chart, .wb-map").forEach((e) => {
      e.dataset.live = model.get("live") ? "1" : "0";
    });
    model.on("change:tick", draw);  // one tick per refresh, even when the view key is unchanged
    model.on("change:live", live);
    await draw();
    live();
    const ro = new ResizeObserver(() => {
      for (const st of Object.values(state)) {
        if (st.div && st.div.offsetWidth) P.Plots.resize(st.div);
      }
    });
    ro.observe(el);
    model.send({ event: "ready" });
    return () => ro.disconnect();
  },
};
"""


@functools.cache
def _board_class() -> type:
    """The page widget, built on first use so that importing this module stays cheap."""
    import anywidget
    import traitlets

    class Board(anywidget.AnyWidget):
        """A whole dashboard page as one widget: a static skeleton (panels, titles, selects),
        then per view a dict of parts — HTML, plotly JSON, or map colours — drawn in place.

        One model and one message per click: the browser redraws only parts whose revision
        changed, plotly.js is loaded once by the page (`page_head`) rather than shipped with
        every figure as `go.FigureWidget` does (≈ 5 MB each)."""

        _esm = _BOARD_ESM
        skeleton = traitlets.Unicode("").tag(sync=True)
        options = traitlets.Dict().tag(sync=True)
        values = traitlets.Dict().tag(sync=True)
        parts = traitlets.Dict().tag(sync=True)
        big_parts = traitlets.Dict().tag(sync=True)  # sent only when they change (the map)
        shapes = traitlets.List().tag(sync=True)
        viewbox = traitlets.Unicode("0 0 1000 750").tag(sync=True)
        key = traitlets.Unicode("").tag(sync=True)
        tick = traitlets.Int(0).tag(sync=True)
        live = traitlets.Bool(False).tag(sync=True)

        def __init__(
            self, on_select: Callable[[str, str], None], on_click: Callable[[str], None], **kw: Any
        ) -> None:
            super().__init__(**kw)
            self._on_select = on_select
            self._on_click = on_click
            self.on_msg(self._handle)

        def _handle(self, _w: Any, content: Mapping[str, Any], _b: Any) -> None:
            event = content.get("event")
            if event == "ready":
                self.live = True
            elif event == "select":
                self._on_select(str(content.get("name")), str(content.get("value") or ""))
            elif event == "click":
                self._on_click(str(content.get("value") or ""))

    return Board


@functools.cache
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def page_head() -> Any:
    """The theme CSS and plotly.js, once per page, as one HTML output.

    plotly.js is inlined (no CDN: bureau intranets have no internet) and loaded only if the page
    does not have it yet; `window.PlotlyConfig` keeps MathJax out of it."""
    from IPython.display import HTML

    css = THEME_CSS.read_text(encoding="utf-8")
    if os.environ.get(ENV_STATIC_PLOTLY) == "1":  # `workbench serve`: the template loads it
        return HTML(f"<style>{css}</style>")
    script = (
        "<script type=\"text/javascript\">window.PlotlyConfig = {MathJaxConfig: 'local'};"
        "if (!window.Plotly) {" + _plotly_js() + "}</script>"
    )
    return HTML(f"<style>{css}</style>{script}")


def select_html(
    name: str, label_key: str, options: Sequence[tuple[str, str]] = (), value: str = ""
) -> str:
    """A labelled <select> the board wires to `set_view` (`data-control` names the field).

    The board fills the options from its `options` state, so long lists (3,000 counties)
    travel once."""
    opts = "".join(
        f'<option value="{_esc(v)}"{" selected" if v == value else ""}>{_esc(lab)}</option>'
        for lab, v in options
    )
    css = name.replace("_", "-")
    return (
        f'<label class="wb-sel wb-sel-{css}"><span>{_esc(t(label_key))}</span>'
        f'<select data-control="{_esc(name)}">{opts}</select></label>'
    )


def _panel_html(title_key: str, body: str, note: str = "", cls: str = "") -> str:
    return f'<section class="wb-panel {cls}">{panel_title(title_key, note)}{body}</section>'


def _slot(name: str) -> str:
    return f'<div class="wb-slot" data-slot="{_esc(name)}"></div>'


class _Page:
    """Shared machinery of both pages: the view, the selectors, timed in-place updates."""

    parts: tuple[str, ...] = ()
    controls: dict[str, str] = {}  # select name → View field

    def __init__(self, data: DashboardData, view: View) -> None:
        self.data = data
        self.view = view
        self.last_update_ms = 0.0
        self._sent: dict[str, tuple[int, object]] = {}

    # -- options -------------------------------------------------------------------------
    def _set_options(self) -> list[tuple[str, str]]:
        return [(title, key) for key, title in self.data.indicator_sets.items()]

    def _period_options(self) -> list[tuple[str, str]]:
        return [(fmt.month_label(p), p) for p in reversed(self.data.periods)]

    def _county_options(self, with_city: bool) -> list[tuple[str, str]]:
        counties = self.data.memo(
            ("county_options",),
            lambda: [
                (f"{n}（{c}）", c)
                for c, n in zip(
                    self.data.counties["county_code"].astype(str),
                    self.data.counties["county_name"].astype(str),
                )
            ],
        )
        return ([(t("dash.selector.whole_city"), CITY)] if with_city else []) + counties

    def _focus_options(self, indicator_set: str) -> list[tuple[str, str]]:
        opts = [(t("dash.focus.index"), INDEX)] if self.data.hierarchies else []
        opts += [
            (str(m.get("name") or m["indicator"]), str(m["indicator"]))
            for m in self.data.meta_records(indicator_set)
        ]
        return opts

    def _hierarchy_options(self) -> list[tuple[str, str]]:
        return [(title, key) for key, title in self.data.hierarchies.items()]

    def options(self) -> dict[str, list[tuple[str, str]]]:
        raise NotImplementedError

    def values(self) -> dict[str, str]:
        return {name: str(getattr(self.view, field) or "") for name, field in self.controls.items()}

    def build_parts(self) -> dict[str, dict]:
        raise NotImplementedError

    # -- events --------------------------------------------------------------------------
    def on_select(self, name: str, value: str) -> None:
        field = self.controls.get(name)
        if field is None:
            return
        options = {v for _, v in self._options_payload().get(name, [])}
        if value in options and value != getattr(self.view, field):
            self.set_view(**{field: value})

    def on_click(self, code: str) -> None:
        if code in self.data.cube.counties and code and code != self.view.county:
            self.set_view(county=code)

    def set_view(self, **changes: Any) -> None:
        """Move to a new view and redraw every part in place."""
        view = dataclasses.replace(self.view, **changes)
        if view.indicator_set != self.view.indicator_set:
            focus = [v for _, v in self._focus_options(view.indicator_set)]
            view = dataclasses.replace(
                view, focus=view.focus if view.focus in focus else (focus[0] if focus else "")
            )
        self.view = view
        self._view_changed()
        self.refresh()

    def _view_changed(self) -> None:
        """Hook: settle page state that depends on the view, before the one redraw."""

    # -- drawing -------------------------------------------------------------------------
    def _payload(self, name: str, part: dict) -> dict:
        """Give the part a revision: unchanged content keeps its number, so the browser only
        re-stamps its key instead of redrawing it."""
        body = (
            part.get("html", "").replace(self.view.key, "")
            if part["kind"] == "html"
            else {k: v for k, v in part.items() if k != "kind"}
        )
        rev, before = self._sent.get(name, (0, None))
        if body != before:
            rev += 1
            self._sent[name] = (rev, body)
        return {**part, "rev": rev}

    BIG = ("map",)  # parts large enough to travel only when they changed

    def _options_payload(self) -> dict[str, list[list[str]]]:
        key = self.view.indicator_set
        if getattr(self, "_options_for", (None,))[0] != key:
            self._options_for = (key, {k: [list(o) for o in v] for k, v in self.options().items()})
        return self._options_for[1]

    def refresh(self) -> None:
        started = time.perf_counter()
        parts = {name: self._payload(name, p) for name, p in self.build_parts().items()}
        small = {k: v for k, v in parts.items() if k not in self.BIG}
        big = {k: v for k, v in parts.items() if k in self.BIG}
        options = self._options_payload()
        board = self.board
        with board.hold_sync():
            if options is not board.options:
                board.options = options
            board.values = self.values()
            board.parts = small
            if any(board.big_parts.get(k, {}).get("rev") != v["rev"] for k, v in big.items()):
                board.big_parts = big
            board.key = self.view.key
            board.tick += 1
        self.last_update_ms = (time.perf_counter() - started) * 1000
        log.info("view %s drawn in %.1f ms", self.view.key, self.last_update_ms)

    @property
    def widget(self) -> Any:
        return self.board

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.board)


class Cockpit(_Page):
    """The leader cockpit: one screen, every target, the lagging counties, a click to any county."""

    parts = (
        "header",
        "kpis",
        "ranking",
        "map",
        "trend",
        "funnel",
        "rectification",
        "calendar",
        "lagging",
        "table",
    )
    controls = {
        "indicator_set": "indicator_set",
        "period": "period",
        "county": "county",
        "focus": "focus",
        "hierarchy": "hierarchy",
    }

    def __init__(
        self,
        data: DashboardData,
        indicator_set: str | None = None,
        period: str | None = None,
        county: str = CITY,
        geojson: str | os.PathLike | None = None,
    ) -> None:
        iset = (
            indicator_set
            if indicator_set in data.indicator_sets
            else next(iter(data.indicator_sets))
        )
        per = period if period in data.periods else data.periods[-1]
        county = county if county in set(data.counties["county_code"].astype(str)) else CITY
        super().__init__(data, View(iset, per, county, INDEX, data.default_hierarchy()))
        focus = [v for _, v in self._focus_options(iset)]
        if self.view.focus not in focus:
            self.view = dataclasses.replace(self.view, focus=focus[0] if focus else "")
        shapes = load_shapes(geojson_path(geojson), data.counties)
        self.board = _board_class()(
            self.on_select,
            self.on_click,
            skeleton=self._skeleton(shapes["missing"]),
            shapes=shapes["shapes"],
            viewbox=shapes["viewbox"],
        )
        self.refresh()

    def options(self) -> dict[str, list[tuple[str, str]]]:
        return {
            "indicator_set": self._set_options(),
            "period": self._period_options(),
            "county": self._county_options(True),
            "focus": self._focus_options(self.view.indicator_set),
            "hierarchy": self._hierarchy_options(),
        }

    def _skeleton(self, missing_shapes: int) -> str:
        label = {name: "set" if name == "indicator_set" else name for name in self.controls}
        sel = {name: select_html(name, f"dash.selector.{label[name]}") for name in self.controls}
        map_note = t("dash.map.tiles", n=missing_shapes) if missing_shapes else ""
        return (
            '<div class="wb-root wb-cockpit">'
            f'<header class="wb-header">{_slot("header")}<div class="wb-controls">'
            f"{sel['indicator_set']}{sel['period']}{sel['county']}</div></header>"
            f"{_slot('kpis')}"
            '<div class="wb-grid">'
            + _panel_html(
                "dash.panel.ranking",
                sel["hierarchy"] + _slot("ranking"),
                t("dash.panel.ranking_note"),
            )
            + _panel_html("dash.panel.map", sel["focus"] + _slot("map"), map_note)
            + '</div><div class="wb-grid">'
            + _panel_html("dash.panel.trend", _slot("trend"))
            + _panel_html(
                "dash.panel.funnel",
                _slot("funnel") + panel_title("dash.panel.rectification") + _slot("rectification"),
            )
            + '</div><div class="wb-grid">'
            + _panel_html("dash.panel.calendar", _slot("calendar"))
            + _panel_html("dash.panel.lagging", _slot("lagging"))
            + "</div>"
            + _panel_html("dash.panel.table", _slot("table"))
            + "</div>"
        )

    def build_parts(self) -> dict[str, dict]:
        d, v = self.data, self.view
        fills, tips, legend = map_colours(d, v)
        return {
            "header": {"kind": "html", "html": header_html(d, v, "cockpit")},
            "kpis": {"kind": "html", "html": kpi_cards_html(d, v)},
            "calendar": {"kind": "html", "html": calendar_html(d, v)},
            "lagging": {"kind": "html", "html": lagging_html(d, v)},
            "table": {"kind": "html", "html": ranking_table_html(d, v)},
            "map": {"kind": "map", "fills": fills, "tips": tips, "legend": legend},
            "map_selection": {"kind": "mapsel", "map": "map", "selected": v.county},
            "ranking": {"kind": "html", "html": ranking_bars_html(d, v)},
            "trend": {"kind": "plot", "figure": trend_figure(d, v)},
            "funnel": {"kind": "plot", "figure": funnel_figure(d, v)},
            "rectification": {"kind": "plot", "figure": rectification_figure(d, v)},
        }


class CountyPage(_Page):
    """One county: its indicators with history and targets, its rank, overdue items, and the
    ledger rows behind any number."""

    parts = ("header", "kpis", "rank", "history", "ranking", "overdue", "drill")
    controls = {"indicator_set": "indicator_set", "period": "period", "county": "county"}

    def __init__(
        self,
        data: DashboardData,
        county: str | None = None,
        period: str | None = None,
        indicator_set: str | None = None,
        ledgers: LedgerSource | None = None,
    ) -> None:
        codes = list(data.counties["county_code"].astype(str))
        county = county if county in codes else codes[0]
        iset = (
            indicator_set
            if indicator_set in data.indicator_sets
            else next(iter(data.indicator_sets))
        )
        per = period if period in data.periods else data.periods[-1]
        super().__init__(data, View(iset, per, county, INDEX, data.default_hierarchy()))
        self._ledger_source = ledgers
        self._ledger_cache: dict[str, Mapping[str, pd.DataFrame] | None] = {}
        self.notice = ""
        drill = self._drill_options()
        self.drill_indicator = drill[0][1] if drill else ""
        self.board = _board_class()(self.on_select, self.on_click, skeleton=self._skeleton())
        self.refresh()

    def _drill_options(self) -> list[tuple[str, str]]:
        return [
            (str(m.get("name") or m["indicator"]), str(m["indicator"]))
            for m in self.data.meta_records(self.view.indicator_set)
        ]

    def options(self) -> dict[str, list[tuple[str, str]]]:
        return {
            "indicator_set": self._set_options(),
            "period": self._period_options(),
            "county": self._county_options(False),
            "drill": self._drill_options(),
        }

    def values(self) -> dict[str, str]:
        return {**super().values(), "drill": self.drill_indicator}

    def _skeleton(self) -> str:
        names = {"indicator_set": "set", "period": "period", "county": "county", "drill": "drill"}
        sel = {n: select_html(n, f"dash.selector.{names[n]}") for n in names}
        return (
            '<div class="wb-root wb-county">'
            f'<header class="wb-header">{_slot("header")}<div class="wb-controls">'
            f"{sel['indicator_set']}{sel['period']}{sel['county']}</div></header>"
            f"{_slot('notice')}{_slot('kpis')}"
            '<div class="wb-grid">'
            + _panel_html("dash.panel.rank", _slot("rank") + _slot("ranking"))
            + _panel_html("dash.panel.overdue", _slot("overdue"))
            + "</div>"
            + _panel_html("dash.panel.history", _slot("history"), t("dash.panel.history_note"))
            + _panel_html(
                "dash.panel.drill", sel["drill"] + _slot("drill"), t("dash.panel.drill_note")
            )
            + "</div>"
        )

    def on_select(self, name: str, value: str) -> None:
        if name == "drill":
            if value in {v for _, v in self._drill_options()} and value != self.drill_indicator:
                self.drill_indicator = value
                self.refresh()
            return
        super().on_select(name, value)

    def _view_changed(self) -> None:
        self.notice = ""
        drill = [v for _, v in self._drill_options()]
        if self.drill_indicator not in drill:
            self.drill_indicator = drill[0] if drill else ""

    def open_county(self, code: str | None) -> None:
        """Show `code` (from the URL); an unknown code keeps the page and says so."""
        code = (code or "").strip()
        if not code or code == self.view.county:
            return
        if code in set(self.data.counties["county_code"].astype(str)):
            self.set_view(county=code)
        else:
            self.notice = t("dash.county.unknown", code=code)
            self.refresh()

    def ledgers(self) -> Mapping[str, pd.DataFrame] | None:
        if self._ledger_source is None:
            return None
        if self.view.county not in self._ledger_cache:
            try:
                self._ledger_cache[self.view.county] = self._ledger_source(self.view.county)
            except Exception:
                log.exception("ledgers unavailable")
                self._ledger_cache[self.view.county] = None
        return self._ledger_cache[self.view.county]

    def build_parts(self) -> dict[str, dict]:
        d, v = self.data, self.view
        ledgers = self.ledgers()
        notice = (
            f'<div class="wb-note wb-notice" data-part="notice" data-key="{_esc(v.key)}">'
            f'<span class="wb-icon wb-st-risk">!</span>{_esc(self.notice)}</div>'
            if self.notice
            else f'<div class="wb-part" data-part="notice" data-key="{_esc(v.key)}"></div>'
        )
        return {
            "header": {"kind": "html", "html": header_html(d, v, "county")},
            "notice": {"kind": "html", "html": notice},
            "kpis": {"kind": "html", "html": kpi_cards_html(d, v)},
            "rank": {"kind": "html", "html": rank_summary_html(d, v)},
            "overdue": {"kind": "html", "html": overdue_html(ledgers, v)},
            "drill": {"kind": "html", "html": drill_html(ledgers, v, self.drill_indicator)},
            "ranking": {"kind": "html", "html": ranking_bars_html(d, v)},
            "history": {"kind": "plot", "figure": history_figure(d, v)},
        }


def county_from_query(default: str | None = None) -> str | None:
    """The `county` URL parameter of the Voilà page (`county.ipynb?county=990101`).

    With preheated kernels the request arrives after the notebook started, so this waits for it
    (voila's `get_query_string`); elsewhere it reads $QUERY_STRING."""
    qs = os.environ.get("QUERY_STRING", "")
    if os.environ.get("VOILA_PREHEAT", "False") != "False":
        try:
            from voila.utils import get_query_string

            qs = get_query_string() or qs
        except Exception:  # pragma: no cover - outside Voilà
            log.exception("query string unavailable")
    values = parse_qs(qs).get("county") or []
    return values[0].strip() if values and values[0].strip() else default


# ───────────────────────────── loading: engine → DashboardData, cached ─────────────────────

_MEMORY: dict[str, DashboardData] = {}


def _county_col(df: pd.DataFrame) -> pd.DataFrame:
    """The engine names the city `city`; the dashboards use `""`."""
    if len(df) and "county_code" in df.columns:
        df = df.copy()
        codes = df["county_code"].astype("object")
        df["county_code"] = codes.map(lambda c: CITY if c is None or str(c) == "city" else str(c))
    return df


def _frame(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    out = df.copy()
    for c in columns:
        if c not in out.columns:
            out[c] = None
    return out[list(columns)]


KPI_COLUMNS = [
    "indicator_set",
    "period",
    "county_code",
    "indicator",
    "value",
    "numerator",
    "denominator",
    "target",
    "gap",
    "met",
    "yoy",
    "prev_value",
]
INDEX_COLUMNS = ["period", "hierarchy", "county_code", "score", "rank", "grade"]
UNCERTAINTY_COLUMNS = [
    "period",
    "hierarchy",
    "county_code",
    "nominal_rank",
    "median_rank",
    "q05",
    "q95",
]
LAGGING_COLUMNS = ["indicator_set", "period", "county_code", "reasons"]
MILESTONE_COLUMNS = [
    "indicator_set",
    "period",
    "county_code",
    "milestone",
    "name",
    "deadline",
    "status",
    "status_label",
    "detail",
]
INDICATOR_COLUMNS = [
    "indicator_set",
    "indicator",
    "name",
    "unit",
    "direction",
    "op",
    "deadline",
    "description",
    "group",
    "short_name",
    "decimals",
    "relative",
    "kind",
]


def _compact(
    df: pd.DataFrame, categorical: Sequence[str], floats: Sequence[str] = ()
) -> pd.DataFrame:
    """Small dtypes: a kernel holds every period of a 3,000-county city."""
    for c in categorical:
        if c in df.columns:
            df[c] = df[c].astype("object").where(df[c].notna(), None).astype("category")
    for c in floats:
        if c in df.columns:
            df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
    return df


def indicator_set_codes() -> list[str]:
    """Indicator sets declared in indicators/*.yaml, the 无骗保城市 set last."""
    import yaml

    from workbench.config import project_root

    out = []
    for path in sorted((project_root() / "indicators").glob("*.yaml")):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(doc, dict) and doc.get("kind") == "indicator_set" and doc.get("code"):
            out.append(str(doc["code"]))
    return sorted(out, key=lambda c: (c == "no_fraud_city", c))


def report_periods(ledgers: Mapping[str, pd.DataFrame], latest: str | None = None) -> list[str]:
    """January to the latest complete month of that year: the months a leader can pick."""
    if latest is None:
        from workbench.indicators import latest_complete_period

        latest = latest_complete_period(ledgers)
    if not latest:
        return []
    year, month = int(latest[:4]), int(latest[5:7])
    return [f"{year}-{m:02d}" for m in range(1, month + 1)]


def from_engine(
    source: str | os.PathLike | Mapping[str, pd.DataFrame] | None = None,
    *,
    indicator_sets: Sequence[str] | None = None,
    periods: Sequence[str] | None = None,
    span: str | None = None,
    uncertainty_samples: int = 200,
    progress: Callable[[str], None] | None = None,
) -> DashboardData:
    """Run the engine (`workbench.results`) for every indicator set × month and keep what the
    dashboards show. One `MeasureEngine` is shared by all evaluations, so the ledgers are binned
    once; each hierarchy is scored once even when sets include one another."""
    from workbench import results

    if isinstance(source, Mapping):
        ledgers, latest = dict(source), None
    else:
        from workbench.config import warehouse_path

        path = warehouse_path(source)
        if not Path(path).is_file():
            raise FileNotFoundError(t("dash.E_NO_WAREHOUSE", path=path))
        from workbench.warehouse import Warehouse

        with Warehouse(path, read_only=True) as wh:
            ledgers = results.load_ledgers(wh)
            latest = results.latest_complete_period(wh)
    months = list(periods or report_periods(ledgers, _capped(latest, ledgers)))
    if not months:
        raise ValueError(t("dash.E_NO_PERIODS"))
    with _quiet_engine():
        return _evaluate_all(
            ledgers,
            months,
            indicator_sets,
            span,
            uncertainty_samples,
            progress,
            "" if isinstance(source, Mapping) else str(source or ""),
        )


@contextlib.contextmanager
def _quiet_engine() -> Iterator[None]:
    """The engine's warnings (e.g. a constant indicator) belong in reports, not on a leader's
    screen: while precomputing, only errors from `workbench.*` loggers pass."""
    logger = logging.getLogger("workbench")
    level = logger.level
    logger.setLevel(max(level, logging.ERROR))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _capped(latest: str | None, ledgers: Mapping[str, pd.DataFrame]) -> str | None:
    """The engine's latest complete month, but never past the last month with events (dated
    by each ledger's own date field: a future 整改时限 is not data)."""
    from workbench.contracts import LEDGERS

    last = None
    for name, lg in LEDGERS.items():
        df = ledgers.get(name)
        if df is None or not len(df) or not lg.date_field or lg.date_field not in df.columns:
            continue
        col = df[lg.date_field]
        month = (
            col.dropna().astype(str).max()[:7]
            if lg.field(lg.date_field).type == "month"
            else str(pd.to_datetime(col, errors="coerce").max())[:7]
        )
        if month and month[:4].isdigit() and (last is None or month > last):
            last = month
    if latest and last:
        return min(latest, last)
    return latest or last


def _evaluate_all(
    ledgers: dict[str, pd.DataFrame],
    months: list[str],
    indicator_sets: Sequence[str] | None,
    span: str | None,
    uncertainty_samples: int,
    progress: Callable[[str], None] | None,
    source: str,
) -> DashboardData:
    from workbench import results
    from workbench.declarations import load_set
    from workbench.measures import MeasureEngine

    engine = MeasureEngine(ledgers)
    counties = _county_table(ledgers, months[-1])
    kpis, index, unc, lag, ms, meta = [], [], [], [], [], []
    set_titles: dict[str, str] = {}
    hier_titles: dict[str, str] = {}
    phases = pd.DataFrame(columns=["name", "start", "end"])
    city_name = ""
    for code in indicator_sets or indicator_set_codes():
        iset = load_set(code)
        set_titles[code] = iset.name
        own = _own_indicators(iset)
        meta.append(_indicator_meta(iset, own))
        fresh = [h for h in iset.hierarchies if h not in hier_titles]
        if phases.empty and iset.calendar is not None:
            phases = pd.DataFrame(
                [(p.name, p.start.isoformat(), p.end.isoformat()) for p in iset.calendar.phases],
                columns=["name", "start", "end"],
            )
        for period in months:
            if progress:
                progress(f"{iset.name} {period}")
            ev = results.Evaluation(ledgers, iset, period, span, uncertainty_samples, engine=engine)
            city_name = city_name or ev.city_name
            k = pd.concat([ev.kpis, ev.city_kpis], ignore_index=True)
            k = _county_col(k[k["indicator"].isin(own)])
            kpis.append(_frame(k.assign(indicator_set=code, period=period), KPI_COLUMNS))
            for hier in fresh:
                res = ev.index[hier]
                hier_titles[hier] = res.name
                index.append(
                    _frame(res.summary().assign(period=period, hierarchy=hier), INDEX_COLUMNS)
                )
            if fresh and ev.uncertainty:
                u = ev.uncertainty_table
                unc.append(
                    _frame(u[u["hierarchy"].isin(fresh)].assign(period=period), UNCERTAINTY_COLUMNS)
                )
            lg = _optional(lambda ev=ev: ev.lagging, f"lagging {code} {period}")
            if lg is not None and len(lg):
                lag.append(_frame(lg.assign(indicator_set=code, period=period), LAGGING_COLUMNS))
            m = _optional(
                lambda ev=ev: pd.concat([ev.milestones, ev.city_milestones], ignore_index=True),
                f"milestones {code} {period}",
            )
            m = _county_col(m) if m is not None else pd.DataFrame()
            if len(m):
                m = m.rename(columns={"milestone_name": "name"})
                m["detail"] = [_milestone_detail(r) for r in m.to_dict("records")]
                ms.append(_frame(m.assign(indicator_set=code, period=period), MILESTONE_COLUMNS))
    kp = _compact(
        pd.concat(kpis, ignore_index=True),
        ("indicator_set", "period", "county_code", "indicator"),
        ("value", "numerator", "denominator", "target", "gap", "yoy", "prev_value"),
    )
    kp["met"] = kp["met"].astype("boolean")
    return DashboardData(
        city_name=city_name or _city_name(ledgers),
        periods=months,
        indicator_sets=set_titles,
        counties=counties,
        indicators=pd.concat(meta, ignore_index=True),
        kpis=kp,
        index=_compact(
            _concat(index, INDEX_COLUMNS), ("period", "hierarchy", "county_code"), ("score", "rank")
        ),
        uncertainty=_compact(
            _concat(unc, UNCERTAINTY_COLUMNS),
            ("period", "hierarchy", "county_code"),
            ("nominal_rank", "median_rank", "q05", "q95"),
        ),
        lagging=_compact(_concat(lag, LAGGING_COLUMNS), ("indicator_set", "period", "county_code")),
        milestones=_compact(
            _concat(ms, MILESTONE_COLUMNS),
            (
                "indicator_set",
                "period",
                "county_code",
                "milestone",
                "name",
                "deadline",
                "status",
                "status_label",
                "detail",
            ),
        ),
        phases=phases,
        hierarchies=_order_hierarchies(hier_titles),
        span=span or "ytd",
        demo=_is_demo(ledgers),
        source=source,
    )


def _optional(compute: Callable[[], pd.DataFrame], what: str) -> pd.DataFrame | None:
    """A secondary table (milestones, lagging list) that fails for one month must not take the
    whole cockpit down: the failure is logged and that month shows 暂无."""
    try:
        return compute()
    except Exception as exc:
        logging.getLogger(__name__).error(
            "dashboard: %s could not be computed: %s: %s", what, type(exc).__name__, exc
        )
        log.debug("details", exc_info=True)
        return None


def _own_indicators(iset: Any) -> list[str]:
    """The indicators a set declares itself (an `include`d set's own cards stay with it)."""
    own = [c for c, ind in iset.indicators.items() if Path(ind.file or "").stem == iset.code]
    return own or list(iset.indicators)


def _indicator_meta(iset: Any, codes: Sequence[str]) -> pd.DataFrame:
    rows = []
    for c in codes:
        ind = iset.indicators[c]
        d = pk.display_of(iset, c)
        rows.append(
            {
                "indicator_set": iset.code,
                "indicator": c,
                "name": ind.name,
                "unit": ind.unit,
                "direction": ind.direction,
                "op": d.op or None,
                "deadline": d.deadline,
                "description": ind.description,
                "group": ind.group,
                "short_name": d.short_name,
                "decimals": d.decimals,
                "relative": d.relative,
                "kind": d.kind,
            }
        )
    return _frame(pd.DataFrame(rows), INDICATOR_COLUMNS)


def _county_table(ledgers: Mapping[str, pd.DataFrame], period: str) -> pd.DataFrame:
    c = ledgers["counties"].copy()
    c["county_code"] = c["county_code"].astype(str)
    year = pd.to_numeric(c.get("year"), errors="coerce")
    c = c.assign(_late=(year <= int(period[:4])).astype(int), _year=year.fillna(0))
    c = c.sort_values(["_late", "_year"]).drop_duplicates("county_code", keep="last")
    return (
        c[["county_code", "county_name"]]
        .astype(str)
        .sort_values("county_code")
        .reset_index(drop=True)
    )


def _concat(parts: list[pd.DataFrame], columns: Sequence[str]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(columns))


def _order_hierarchies(titles: dict[str, str]) -> dict[str, str]:
    """The 无骗保城市 index first (the cockpit's default ranking), then the others."""
    keys = sorted(
        titles,
        key=lambda k: (
            0 if "subject" in k else 1 if "pillar" in k else 2 if "无骗保" in titles[k] else 3
        ),
    )
    return {k: titles[k] for k in keys}


def _milestone_detail(r: Mapping[str, Any]) -> str:
    unit = r.get("unit")
    cur, proj = r.get("current_value"), r.get("projected_value")
    bits = []
    if _float(cur) is not None:
        bits.append(
            t(
                "dash.milestone.current",
                value=format_value(cur, unit, decimals=r.get("decimals")),
                basis=r.get("basis") or t("dash.milestone.basis_unknown"),
            )
        )
    if _float(proj) is not None and str(r.get("status")) in ("on_track", "lagging"):
        proj_text = format_value(proj, unit, decimals=r.get("decimals"))
        bits.append(t("dash.milestone.projected", value=proj_text))
    return "，".join(bits)


def _city_name(ledgers: Mapping[str, pd.DataFrame]) -> str:
    c = ledgers.get("counties")
    if c is not None and len(c) and "city" in c.columns:
        names = c["city"].dropna().astype(str)
        if len(names):
            return names.mode().iloc[0]
    return t("dash.city")


def _is_demo(ledgers: Mapping[str, pd.DataFrame]) -> bool:
    c = ledgers.get("counties")
    return bool(
        c is not None and len(c) and c["county_code"].astype(str).str.startswith("99").all()
    )


def read_ledgers(
    path: str | os.PathLike | None = None, county: str | None = None
) -> dict[str, pd.DataFrame]:
    """Current ledger rows from the warehouse, opened read-only and closed at once (so an
    ingest is never blocked for long); with `county`, only that county's rows."""
    from workbench.config import warehouse_path
    from workbench.contracts import LEDGERS
    from workbench.warehouse import Warehouse

    wh_path = warehouse_path(path)
    if not Path(wh_path).is_file():
        raise FileNotFoundError(t("dash.E_NO_WAREHOUSE", path=wh_path))
    with Warehouse(wh_path, read_only=True) as wh:
        return {name: wh.read_ledger(name, county=county) for name in LEDGERS}


def cache_dir(warehouse: str | os.PathLike | None = None) -> Path | None:
    """$WORKBENCH_DASHBOARD_CACHE, else the presentation cache's default folder (private to the
    user; None when no safe folder exists — then nothing is cached on disk)."""
    from workbench.config import warehouse_path

    if env := os.environ.get(ENV_CACHE_DIR):
        return pcache.private_dir(Path(env))
    return pcache.default_dir(Path(warehouse_path(warehouse)))


def cache_key(warehouse: Path, extra: str = "") -> str:
    """Changes when the warehouse, the declarations or the package's code change."""
    from workbench.config import project_root

    return pcache.key(
        pcache.warehouse_fingerprint(warehouse),
        pcache.files_fingerprint((project_root() / "indicators").glob("*.yaml")),
        pcache.code_fingerprint(),
        extra,
    )


FRAMES = (
    "counties",
    "indicators",
    "kpis",
    "index",
    "uncertainty",
    "lagging",
    "milestones",
    "phases",
)


def load(
    warehouse: str | os.PathLike | None = None,
    *,
    refresh: bool = False,
    progress: Callable[[str], None] | None = None,
) -> DashboardData:
    """The dashboards' data for a warehouse: from this kernel's memory, else the disk cache,
    else the engine (then cached). `workbench serve` calls it once before Voilà starts."""
    from workbench.config import warehouse_path

    wh = Path(warehouse_path(warehouse))
    if not wh.is_file():
        raise FileNotFoundError(t("dash.E_NO_WAREHOUSE", path=wh))
    key = cache_key(wh)
    if not refresh and key in _MEMORY:
        return _MEMORY[key]
    folder = cache_dir(wh)
    data: DashboardData | None = None
    if not refresh and folder is not None:
        data = _read_cache(folder, key)
    if data is None:
        data = from_engine(wh, progress=progress).warm()
        if folder is not None:
            _write_cache(folder, key, data)
    _MEMORY.clear()
    _MEMORY[key] = data
    return data


def _write_cache(folder: Path, key: str, data: DashboardData) -> None:
    """Tables as Parquet, the KPI cube as a .npy file (kernels memory-map it, so every kernel
    of the server shares one copy in the page cache), scalars as JSON: nothing executable."""
    cube = data._cube
    frames = {f: getattr(data, f) for f in FRAMES}
    arrays = {}
    meta: dict[str, Any] = {
        f: getattr(data, f)
        for f in (
            "city_name",
            "periods",
            "indicator_sets",
            "hierarchies",
            "span",
            "demo",
            "source",
            "built_at",
        )
    }
    if cube is not None:
        frames["kpis"] = data.kpis.iloc[0:0]  # the cube carries every KPI
        arrays["cube"] = cube.arr
        meta["cube"] = {
            "sets": list(cube.sets),
            "periods": list(cube.periods),
            "counties": list(cube.counties),
            "indicators": {s: list(v) for s, v in cube.indicators.items()},
        }
    if pcache.save(folder, f"dashboard-{key}", frames, arrays, meta) is not None:
        pcache.prune(folder, f"dashboard-{key}", "dashboard-")


def _read_cache(folder: Path, key: str) -> DashboardData | None:
    got = pcache.load(folder, f"dashboard-{key}")
    if got is None:
        return None
    frames, arrays, meta = got
    cube_meta = meta.pop("cube", None)
    try:
        data = DashboardData(**{f: frames[f] for f in FRAMES}, **meta)
    except (KeyError, TypeError) as exc:
        log.warning("dashboard cache entry incomplete (%s); recomputing", exc)
        return None
    if cube_meta is not None and "cube" in arrays:
        data._cube = KpiCube.from_saved(cube_meta, arrays["cube"])
    return data


# ───────────────────────────── notebook entry points ─────────────────────────────


def cockpit(warehouse: str | os.PathLike | None = None, **kw: Any) -> Cockpit:
    """The cockpit for the configured warehouse (what dashboards/cockpit.ipynb displays)."""
    return Cockpit(load(warehouse), **kw)


def county_page(
    county: str | None = None, warehouse: str | os.PathLike | None = None, **kw: Any
) -> CountyPage:
    """A county's drill-down page (what dashboards/county.ipynb displays)."""
    data = load(warehouse)
    return CountyPage(
        data, county=county, ledgers=functools.partial(_county_ledgers, str(warehouse or "")), **kw
    )


@functools.lru_cache(maxsize=8)
def _county_ledgers(warehouse: str, county: str) -> dict[str, pd.DataFrame]:
    return read_ledgers(warehouse or None, county=county)


# Browser-side probe of the data-key protocol above: arms a timer at the user's action and
# records when every part carries one new key. Used by the browser tests and the benchmark.
READY_PROBE_JS = """(parts) => {
  const els = [...document.querySelectorAll('[data-part]')];
  const names = new Set(els.map(e => e.dataset.part));
  if (!parts.every(p => names.has(p))) return false;
  const keys = new Set(els.map(e => e.dataset.key || ''));
  if (keys.size !== 1 || keys.has('')) return false;
  return [...document.querySelectorAll('.wb-chart, .wb-map')].every(e => e.dataset.live === '1');
}"""  # every named part drawn, all of one view, every chart live

INTERACTION_PROBE_JS = """(old) => {
  // t0 is the user's action (change of a select, or a click), seen in the capture phase.
  window.__wbResult = null;
  window.__wbT0 = null;
  const start = () => { if (window.__wbT0 === null) window.__wbT0 = performance.now(); };
  document.addEventListener('change', start, {capture: true, once: true});
  document.addEventListener('click', start, {capture: true, once: true});
  const done = () => {
    const els = [...document.querySelectorAll('[data-part]')];
    const keys = new Set(els.map(e => e.dataset.key || ''));
    return els.length && keys.size === 1 && !keys.has(old) && !keys.has('');
  };
  const obs = new MutationObserver(() => {
    if (window.__wbT0 !== null && done()) {
      obs.disconnect();
      window.__wbResult = {ms: performance.now() - window.__wbT0,
                           key: document.querySelector('[data-part]').dataset.key};
    }
  });
  // the board stamps data-key on every part, and on itself last, once all are drawn
  obs.observe(document.body, {attributes: true, attributeFilter: ['data-key'], subtree: true});
}"""
