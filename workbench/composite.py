"""Composite-index engine: indicator table in, scores, ranks and grades out, every step recorded.

The method follows COINr and the OECD/JRC Handbook (design/indicators.md §C) so that a result can
be checked against COINr's own ASEM example (reference/coinr_asem). Pure: DataFrames in,
DataFrames out; no files, no printing.

Pipeline: raw → denominate → screen → impute → treat → normalise → aggregate → rank → grade.

Normalisers (x' = x·direction is applied first; [l, u] = [norm_low, norm_high]):

================== ======================================================== ===============
method             formula                                                   output
================== ======================================================== ===============
minmax             (x' − min x') / (max x' − min x')                         scaled to [l, u]
zscore             m + s·(x' − mean x') / sd x'  (sd with n − 1)             (m, s) = zscore_mean_sd
dist_max           1 − (max x' − x') / (max x' − min x')  (COINr; = minmax)   scaled to [l, u]
fraction_max       x / max x  (direction −1: min x / x); positive data        scaled to [l, u]
percentile_rank    (rank_min(x') − 1) / (n − 1)                              scaled to [l, u]
rank               rank_min(x')  (1 = worst)                                  raw
borda              rank_min(x') − 1                                           raw
dist_target        target_mode "ratio": x / t  (direction −1: t / x)          scaled to [l, u]
                   target_mode "min":   (x' − min x') / (t' − min x')  (COINr)
dist_target_capped as dist_target, capped at 1 (达标 = full marks)            scaled to [l, u]
goalposts          (x − g_lo) / (g_hi − g_lo)  (direction −1: (g_hi − x)/…),  scaled to [l, u]
                   truncated to [0, 1]  (COINr n_goalposts)
================== ======================================================== ===============

"Scaled to [l, u]" means l + (u − l)·y. The ratio-type methods (fraction_max, dist_target in
"ratio" mode) invert the ratio for direction −1 instead of negating, because a ratio of negated
values has no meaning. A constant indicator cannot be min-max/z-scored: its scores are missing
(as in COINr) and its weight passes to its siblings; the step records it.

Aggregators, per level (weights re-normalised over a unit's non-missing children):
arithmetic Σwx/Σw; geometric exp(Σw·ln x/Σw); harmonic Σw/Σ(w/x); genmean (Σw·xᵖ/Σw)^(1/p);
copeland COINr's outranking sum: Σ_v [Σ_k w_k·1(x_uk > x_vk) + ½Σ_k w_k·1(x_uk = x_vk)] with w
scaled to sum 1 (comparisons with a missing value count for neither unit). Geometric, harmonic
and genmean need positive inputs: `nonpositive="error"` (default, like COINr) stops with a hint;
`"shift"` moves each child column with a value ≤ 0 up by −min + 1% of its range (the COIN Tool
log convention) before aggregating; the uncertainty analysis uses "shift".

Panels for carry-forward imputation: `panel` is either a mapping period → DataFrame laid out like
`data`, or one DataFrame with a `period` column and unit codes as index. Every panel period is
taken to be earlier than `data`; a missing value takes the unit's latest non-missing value. When
`denominate` is on, panel values are denominated too, with the panel's own denominator columns
if it has them, else with `denominators`.
"""

from __future__ import annotations

import dataclasses
import html
import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from workbench.messages import t

logger = logging.getLogger(__name__)

NORMALISERS = (
    "minmax",
    "zscore",
    "dist_target",
    "dist_target_capped",
    "goalposts",
    "rank",
    "percentile_rank",
    "borda",
    "fraction_max",
    "dist_max",
)
AGGREGATORS = ("arithmetic", "geometric", "harmonic", "genmean", "copeland")
IMPUTERS = ("none", "mean", "median", "group_mean", "group_median", "carry_forward")
TARGET_MODES = ("ratio", "min")
NONPOSITIVE_POLICIES = ("error", "shift")
STAGES = ("raw", "denominated", "screened", "imputed", "treated", "normalised", "aggregated")
POSITIVE_ONLY = ("geometric", "harmonic", "genmean")
_SCALED = (
    "minmax",
    "dist_max",
    "fraction_max",
    "percentile_rank",
    "dist_target",
    "dist_target_capped",
    "goalposts",
)
_LOG_OFFSET_SHARE = 0.01  # COINr log_CT and COIN Tool: log(x − min + 1% of the range)
_COPELAND_CHUNK = 2_000_000  # max elements of one pairwise comparison block


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class Issue:
    """One validation finding: a stable code (a locale key), the node it concerns, the message."""

    code: str
    node: str | None
    message: str


class CompositeError(ValueError):
    """Raised with every issue found, not just the first, so a config can be fixed in one pass."""

    def __init__(self, issues: Sequence[Issue]):
        self.issues = tuple(issues)
        super().__init__("\n".join(issue.message for issue in self.issues))


def _issue(key: str, node: str | None = None, **values: object) -> Issue:
    code = f"composite.{key}"
    return Issue(code, node, t(code, **values))


def _raise(issues: Sequence[Issue]) -> None:
    if issues:
        raise CompositeError(issues)


# --------------------------------------------------------------------------- hierarchy


@dataclass(frozen=True)
class Node:
    """One node of the index tree: an indicator (level 1) or an aggregate."""

    code: str
    parent: str | None
    level: int
    weight: float = 1.0
    direction: int = 1
    name: str = ""
    target: float | None = None
    goalposts: tuple[float, float] | None = None


_HIERARCHY_ALIASES = {
    "icode": "code",
    "iname": "name",
    "goalpost_lo": "goalpost_low",
    "goalpost_hi": "goalpost_high",
}


def _blank(value: object) -> bool:
    if value is None or value is pd.NA:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


@dataclass(frozen=True)
class Hierarchy:
    """The index tree, validated on construction so the engine only ever sees a sound tree."""

    nodes: tuple[Node, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", tuple(self.nodes))
        _raise(_validate_nodes(self.nodes))

    @classmethod
    def from_frame(cls, df: pd.DataFrame) -> Hierarchy:
        """Read code, parent, level[, weight, direction, name, target, goalpost_low/high].

        Column names are matched case-insensitively and COINr's iMeta names (iCode, iName,
        Parent, Level, Weight, Direction, Target) work as is; rows whose `Type` is not
        Indicator/Aggregate (COINr denominators, groups) are skipped.
        """
        renamed = {
            c: _HIERARCHY_ALIASES.get(str(c).strip().lower(), str(c).strip().lower())
            for c in df.columns
        }
        frame = df.rename(columns=renamed)
        missing = [c for c in ("code", "parent", "level") if c not in frame.columns]
        if missing:
            _raise([_issue("E_HIERARCHY_COLUMNS", None, columns="、".join(missing))])
        if "type" in frame.columns:
            kind = frame["type"].astype("string").str.strip().str.lower()
            frame = frame[kind.isin(["indicator", "aggregate"]).fillna(False).to_numpy()]
        issues: list[Issue] = []
        nodes: list[Node] = []
        for row in frame.to_dict("records"):
            code = str(row["code"]).strip()
            level = row["level"]
            try:
                level_int = int(level)
                if level_int != float(level):
                    raise ValueError
            except (TypeError, ValueError):
                issues.append(_issue("E_BAD_LEVEL", code, code=code, level=level))
                continue
            goal_lo, goal_hi = row.get("goalpost_low"), row.get("goalpost_high")
            goalposts = None
            if not _blank(goal_lo) and not _blank(goal_hi):
                goalposts = (float(goal_lo), float(goal_hi))
            nodes.append(
                Node(
                    code=code,
                    parent=None if _blank(row["parent"]) else str(row["parent"]).strip(),
                    level=level_int,
                    weight=1.0 if _blank(row.get("weight")) else float(row["weight"]),
                    direction=1 if _blank(row.get("direction")) else int(float(row["direction"])),
                    name="" if _blank(row.get("name")) else str(row["name"]),
                    target=None if _blank(row.get("target")) else float(row["target"]),
                    goalposts=goalposts,
                )
            )
        _raise(issues)
        return cls(tuple(nodes))

    def to_frame(self) -> pd.DataFrame:
        """The tree as a table (the inverse of `from_frame`), e.g. for reports."""
        rows = [dataclasses.asdict(n) for n in self.nodes]
        frame = pd.DataFrame(rows, columns=[f.name for f in dataclasses.fields(Node)])
        gp = frame.pop("goalposts")
        frame["goalpost_low"] = [g[0] if g else np.nan for g in gp]
        frame["goalpost_high"] = [g[1] if g else np.nan for g in gp]
        return frame

    @cached_property
    def by_code(self) -> dict[str, Node]:
        return {n.code: n for n in self.nodes}

    def node(self, code: str) -> Node:
        return self.by_code[code]

    @cached_property
    def indicators(self) -> tuple[str, ...]:
        return tuple(n.code for n in self.nodes if n.level == 1)

    @cached_property
    def aggregates(self) -> tuple[str, ...]:
        """Aggregate codes, lowest level first, so children are always computed before parents."""
        aggs = [n for n in self.nodes if n.level > 1]
        return tuple(n.code for n in sorted(aggs, key=lambda n: n.level))

    @cached_property
    def _children(self) -> dict[str, tuple[str, ...]]:
        out: dict[str, list[str]] = {n.code: [] for n in self.nodes}
        for n in self.nodes:
            if n.parent is not None:
                out[n.parent].append(n.code)
        return {k: tuple(v) for k, v in out.items()}

    def children(self, code: str) -> tuple[str, ...]:
        return self._children[code]

    @cached_property
    def top(self) -> str:
        return next(n.code for n in self.nodes if n.parent is None)

    @cached_property
    def levels(self) -> tuple[int, ...]:
        return tuple(sorted({n.level for n in self.nodes}))

    def with_weights(self, weights: Mapping[str, float] | None) -> Hierarchy:
        """A copy with some node weights replaced (manual weights override the tree's)."""
        if not weights:
            return self
        unknown = sorted(set(weights) - set(self.by_code))
        _raise([_issue("E_UNKNOWN_WEIGHT_NODE", None, codes="、".join(unknown))] if unknown else [])
        return Hierarchy(
            tuple(
                dataclasses.replace(n, weight=float(weights[n.code])) if n.code in weights else n
                for n in self.nodes
            )
        )

    def effective_weights(self) -> pd.Series:
        """Each node's share of the top index: its weight over its siblings', times its parent's."""
        eff: dict[str, float] = {self.top: 1.0}
        for code in reversed(self.aggregates):
            kids = self.children(code)
            total = sum(self.node(k).weight for k in kids)
            for k in kids:
                eff[k] = eff[code] * self.node(k).weight / total if total > 0 else np.nan
        return pd.Series(
            [eff[n.code] for n in self.nodes],
            index=[n.code for n in self.nodes],
            name="effective_weight",
            dtype=float,
        )


def _validate_nodes(nodes: Sequence[Node]) -> list[Issue]:
    issues: list[Issue] = []
    if not any(n.level == 1 for n in nodes):
        issues.append(_issue("E_EMPTY_HIERARCHY"))
    seen: dict[str, Node] = {}
    for n in nodes:
        if n.code in seen:
            issues.append(_issue("E_DUPLICATE_CODE", n.code, code=n.code))
        seen[n.code] = n
        if not isinstance(n.level, (int, np.integer)) or n.level < 1:
            issues.append(_issue("E_BAD_LEVEL", n.code, code=n.code, level=n.level))
        if n.direction not in (1, -1):
            issues.append(_issue("E_BAD_DIRECTION", n.code, code=n.code, direction=n.direction))
        if not (math.isfinite(n.weight) and n.weight >= 0):
            issues.append(_issue("E_BAD_WEIGHT", n.code, code=n.code, weight=n.weight))
        if n.goalposts is not None and (len(n.goalposts) != 2 or n.goalposts[0] == n.goalposts[1]):
            issues.append(_issue("E_BAD_GOALPOSTS", n.code, code=n.code, goalposts=n.goalposts))
    tops = [n for n in nodes if n.parent is None]
    max_level = max((n.level for n in nodes), default=0)
    if not tops and nodes:
        issues.append(_issue("E_NO_TOP"))
    elif len(tops) > 1:
        issues.append(_issue("E_MULTIPLE_TOPS", None, codes="、".join(n.code for n in tops)))
    elif tops and tops[0].level != max_level:
        issues.append(
            _issue(
                "E_TOP_NOT_MAX_LEVEL",
                tops[0].code,
                code=tops[0].code,
                level=tops[0].level,
                max_level=max_level,
            )
        )
    has_children = {n.parent for n in nodes if n.parent is not None}
    for n in nodes:
        if n.parent is not None:
            parent = seen.get(n.parent)
            if parent is None:
                issues.append(_issue("E_UNKNOWN_PARENT", n.code, code=n.code, parent=n.parent))
            elif parent.level <= n.level:
                issues.append(
                    _issue(
                        "E_PARENT_LEVEL",
                        n.code,
                        code=n.code,
                        level=n.level,
                        parent=n.parent,
                        parent_level=parent.level,
                    )
                )
        if isinstance(n.level, (int, np.integer)) and n.level > 1 and n.code not in has_children:
            issues.append(_issue("E_NO_CHILDREN", n.code, code=n.code, level=n.level))
    return issues


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class CompositeConfig:
    """How to build the index. Defaults are COINr's; thresholds, targets and weights are policy
    and belong in YAML, not here."""

    denominate: bool = False
    screen_min_coverage: float = 0.0
    impute: str = "none"
    treat: bool = False
    winsor_max_points: int = 5
    skew_threshold: float = 2.0
    kurt_threshold: float = 3.5
    log_fallback: bool = True
    normalise: str = "minmax"
    norm_low: float = 0.0
    norm_high: float = 100.0
    aggregate: str | Mapping[int, str] = "arithmetic"
    genmean_p: float = 2.0
    weights: Mapping[str, float] | None = None
    grade_bands: tuple[tuple[float, str], ...] = (
        (90, "优秀"),
        (80, "良好"),
        (60, "合格"),
        (float("-inf"), "不合格"),
    )
    target_mode: str = "ratio"
    zscore_mean_sd: tuple[float, float] = (0.0, 1.0)
    nonpositive: str = "error"

    def __post_init__(self) -> None:
        issues: list[Issue] = []

        def choice(name: str, value: object, choices: Sequence[str]) -> None:
            if value not in choices:
                issues.append(
                    _issue(
                        "E_BAD_CHOICE", None, field=name, value=value, choices="、".join(choices)
                    )
                )

        def bound(name: str, ok: bool, rule: str) -> None:
            if not ok:
                issues.append(
                    _issue("E_BAD_RANGE", None, field=name, value=getattr(self, name), rule=rule)
                )

        choice("impute", self.impute, IMPUTERS)
        choice("normalise", self.normalise, NORMALISERS)
        choice("target_mode", self.target_mode, TARGET_MODES)
        choice("nonpositive", self.nonpositive, NONPOSITIVE_POLICIES)
        if isinstance(self.aggregate, str):
            choice("aggregate", self.aggregate, AGGREGATORS)
        else:
            for level, method in self.aggregate.items():
                choice(f"aggregate[{level}]", method, AGGREGATORS)
        bound("screen_min_coverage", 0 <= self.screen_min_coverage <= 1, "0–1")
        bound("winsor_max_points", self.winsor_max_points >= 0, "≥ 0")
        bound("norm_high", self.norm_high > self.norm_low, "> norm_low")
        bound(
            "zscore_mean_sd",
            len(self.zscore_mean_sd) == 2 and self.zscore_mean_sd[1] > 0,
            "(mean, sd), sd > 0",
        )
        bound("skew_threshold", self.skew_threshold > 0, "> 0")
        bound("genmean_p", math.isfinite(self.genmean_p), "finite")
        _raise(issues)

    def level_methods(self, hierarchy: Hierarchy) -> dict[int, str]:
        """Aggregation method for every aggregate level; levels not named use arithmetic."""
        agg_levels = [lv for lv in hierarchy.levels if lv > 1]
        if isinstance(self.aggregate, str):
            return {lv: self.aggregate for lv in agg_levels}
        unknown = sorted(set(int(k) for k in self.aggregate) - set(agg_levels))
        _raise(
            [_issue("E_UNKNOWN_LEVEL", None, levels=unknown, available=agg_levels)]
            if unknown
            else []
        )
        named = {int(k): v for k, v in self.aggregate.items()}
        return {lv: named.get(lv, "arithmetic") for lv in agg_levels}

    def sorted_bands(self) -> tuple[tuple[float, str], ...]:
        return tuple(sorted(self.grade_bands, key=lambda band: band[0], reverse=True))


# --------------------------------------------------------------------------- steps


def _step(step: str, method: str | None = None, **params: object) -> dict[str, Any]:
    return {"step": step, "method": method, **params}


def _check_data(data: pd.DataFrame, hierarchy: Hierarchy) -> pd.DataFrame:
    issues: list[Issue] = []
    missing = [c for c in hierarchy.indicators if c not in data.columns]
    if missing:
        issues.append(_issue("E_DATA_MISSING_INDICATORS", None, codes="、".join(missing)))
    dups = data.index[data.index.duplicated()].unique().tolist()
    if dups:
        issues.append(_issue("E_DATA_DUPLICATE_UNITS", None, units="、".join(map(str, dups))))
    _raise(issues)
    cols = list(hierarchy.indicators)
    if all(data[c].dtype == np.float64 for c in cols):  # the usual case: nothing to convert
        return data[cols].copy()
    out = {}
    for code in cols:
        try:
            out[code] = pd.to_numeric(data[code], errors="raise").astype(float)
        except (TypeError, ValueError):
            issues.append(_issue("E_DATA_NOT_NUMERIC", code, code=code))
    _raise(issues)
    return pd.DataFrame(out, index=data.index)


def _safe_divide(num: pd.Series, den: pd.Series) -> pd.Series:
    """A zero or missing denominator gives a missing value, never infinity."""
    den = den.where(den != 0)
    return num / den


def denominate(
    data: pd.DataFrame,
    denominators: pd.DataFrame | None,
    denominator_map: Mapping[str, str] | None,
    indicators: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Divide each mapped indicator by its denominator column (e.g. per 10,000 insured)."""
    if denominators is None or not denominator_map:
        _raise([_issue("E_NO_DENOMINATORS")])
    issues = []
    for code, den in denominator_map.items():
        if indicators is not None and code not in indicators:
            issues.append(_issue("E_DENOMINATED_NOT_INDICATOR", code, code=code))
        elif den not in denominators.columns:
            issues.append(_issue("E_UNKNOWN_DENOMINATOR", code, code=code, denominator=den))
    _raise(issues)
    dens = denominators.reindex(data.index)
    out = data.copy()
    for code, den in denominator_map.items():
        if code in out.columns:
            out[code] = _safe_divide(out[code], pd.to_numeric(dens[den]).astype(float))
    return out


def screen(data: pd.DataFrame, min_coverage: float) -> tuple[pd.DataFrame, list[str]]:
    """Drop units whose share of available indicators is below `min_coverage`."""
    coverage = data.notna().mean(axis=1)
    keep = coverage >= min_coverage
    return data.loc[keep], [str(u) for u in data.index[~keep]]


def _panel_frames(panel: pd.DataFrame | Mapping[Any, pd.DataFrame]) -> list[pd.DataFrame]:
    if isinstance(panel, Mapping):
        return [panel[k] for k in sorted(panel)]
    if isinstance(panel, pd.DataFrame) and "period" in panel.columns:
        return [g.drop(columns="period") for _, g in panel.groupby("period", sort=True)]
    _raise([_issue("E_BAD_PANEL")])
    return []


def _latest_panel_values(
    panel: pd.DataFrame | Mapping[Any, pd.DataFrame],
    columns: Sequence[str],
    denominators: pd.DataFrame | None,
    denominator_map: Mapping[str, str] | None,
) -> pd.DataFrame:
    latest: pd.DataFrame | None = None
    for frame in _panel_frames(panel):
        values = frame.reindex(columns=list(columns)).apply(pd.to_numeric, errors="coerce")
        if denominator_map:
            own = [d for d in denominator_map.values() if d in frame.columns]
            dens = frame[own] if len(own) == len(set(denominator_map.values())) else denominators
            values = denominate(values, dens, denominator_map)
        latest = values if latest is None else values.combine_first(latest)
    return latest if latest is not None else pd.DataFrame(columns=list(columns))


def impute(
    data: pd.DataFrame,
    method: str,
    groups: pd.Series | None = None,
    panel: pd.DataFrame | Mapping[Any, pd.DataFrame] | None = None,
    denominators: pd.DataFrame | None = None,
    denominator_map: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Fill missing values; group means need `groups`, carry-forward needs `panel`."""
    if method == "none":
        return data.copy()
    if method == "mean":
        return data.fillna(data.mean())
    if method == "median":
        return data.fillna(data.median())
    if method in ("group_mean", "group_median"):
        if groups is None:
            _raise([_issue("E_NO_GROUPS")])
        keys = groups.reindex(data.index)
        stat = "mean" if method == "group_mean" else "median"
        return data.fillna(data.groupby(keys, dropna=True).transform(stat))
    if method == "carry_forward":
        if panel is None:
            _raise([_issue("E_NO_PANEL")])
        latest = _latest_panel_values(panel, data.columns, denominators, denominator_map)
        return data.fillna(latest.reindex(index=data.index, columns=data.columns))
    raise AssertionError(method)


def _skew_kurt(values: np.ndarray) -> tuple[float, float]:
    s = pd.Series(values)
    return float(s.skew()), float(s.kurt())


def _passes(skew: float, kurt: float, cfg: CompositeConfig) -> bool:
    """COINr check_SkewKurt: pass if |skew| < threshold OR kurtosis < threshold.

    An undefined skew (constant column) passes: there is nothing to treat."""
    if math.isnan(skew) or math.isnan(kurt):
        return True
    return abs(skew) < cfg.skew_threshold or kurt < cfg.kurt_threshold


def _treat_column(x: pd.Series, cfg: CompositeConfig) -> tuple[pd.Series, dict[str, Any]]:
    """COINr Treat(): winsorise one extreme (with its ties) at a time, then fall back to log."""
    present = x.dropna()
    detail: dict[str, Any] = {
        "pass_before": None,
        "skew_before": np.nan,
        "kurt_before": np.nan,
        "treatment": "none",
        "n_winsorised": 0,
        "winsorised_units": "",
        "pass_after": None,
        "skew_after": np.nan,
        "kurt_after": np.nan,
    }
    if len(present) < 4:
        detail["treatment"] = "insufficient_data"
        return x, detail
    orig = present.to_numpy(dtype=float)
    skew, kurt = _skew_kurt(orig)
    passing = _passes(skew, kurt, cfg)
    detail.update(pass_before=passing, skew_before=skew, kurt_before=kurt)
    if passing:
        return x, detail
    values = orig.copy()
    hi = lo = np.array([], dtype=int)
    n_win = 0
    while not passing and n_win < cfg.winsor_max_points:
        if _skew_kurt(values)[0] >= 0:
            hit = np.flatnonzero(values == values.max())
            if hit.size == values.size:
                break
            values[hit] = np.delete(values, hit).max()
            hi = hit
        else:
            hit = np.flatnonzero(values == values.min())
            if hit.size == values.size:
                break
            values[hit] = np.delete(values, hit).min()
            lo = hit
        n_win = hi.size + lo.size
        skew, kurt = _skew_kurt(values)
        passing = _passes(skew, kurt, cfg)
    treated = values
    treatment = "winsorise" if n_win else "none"
    if not passing and cfg.log_fallback:
        span = orig.max() - orig.min()
        treated = np.log(orig - orig.min() + _LOG_OFFSET_SHARE * span)
        skew, kurt = _skew_kurt(treated)
        passing = _passes(skew, kurt, cfg)
        treatment = "log"
    units = present.index[np.union1d(hi, lo)] if treatment == "winsorise" else present.index[:0]
    detail.update(
        treatment=treatment,
        n_winsorised=int(n_win),
        winsorised_units=",".join(map(str, units)),
        pass_after=passing,
        skew_after=skew,
        kurt_after=kurt,
    )
    out = x.copy()
    out.loc[present.index] = treated
    return out, detail


def treat(data: pd.DataFrame, cfg: CompositeConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Outlier treatment per indicator; returns the treated data and what happened to each."""
    out, details = {}, {}
    for code in data.columns:
        out[code], details[code] = _treat_column(data[code], cfg)
    frame = pd.DataFrame(details).T
    frame.index.name = "indicator"
    for col in ("skew_before", "kurt_before", "skew_after", "kurt_after"):
        frame[col] = frame[col].astype(float)
    frame["n_winsorised"] = frame["n_winsorised"].astype(int)
    return pd.DataFrame(out, index=data.index), frame


def _rank_min(x: pd.Series) -> pd.Series:
    return x.rank(method="min", ascending=True, na_option="keep")


def _normalise_column(x: pd.Series, node: Node, cfg: CompositeConfig) -> pd.Series:
    d = node.direction
    xd = x * d
    lo, hi = cfg.norm_low, cfg.norm_high
    method = cfg.normalise
    with np.errstate(divide="ignore", invalid="ignore"):
        if method in ("minmax", "dist_max"):
            span = xd.max() - xd.min()
            y = (xd - xd.min()) / span if span > 0 else xd * np.nan
        elif method == "zscore":
            sd = xd.std(ddof=1)
            m, s = cfg.zscore_mean_sd
            return m + s * (xd - xd.mean()) / sd if sd > 0 else xd * np.nan
        elif method == "fraction_max":
            y = (
                _safe_divide(x, pd.Series(x.max(), index=x.index))
                if d == 1
                else _safe_divide(pd.Series(x.min(), index=x.index), x)
            )
        elif method == "percentile_rank":
            n = x.notna().sum()
            y = (_rank_min(xd) - 1) / (n - 1) if n > 1 else xd * np.nan
        elif method == "rank":
            return _rank_min(xd)
        elif method == "borda":
            return _rank_min(xd) - 1
        elif method in ("dist_target", "dist_target_capped"):
            target = float(node.target)  # presence checked by normalise()
            capped = method == "dist_target_capped"
            if cfg.target_mode == "ratio":
                ratio = (
                    _safe_divide(x, pd.Series(target, index=x.index))
                    if d == 1
                    else _safe_divide(pd.Series(target, index=x.index), x)
                )
                y = ratio.mask(xd >= target * d, 1.0) if capped else ratio
            else:
                span = target * d - xd.min()
                y = (xd - xd.min()) / span if span != 0 else xd * np.nan
            if capped:
                y = y.clip(upper=1.0)
        elif method == "goalposts":
            g_lo, g_hi = node.goalposts  # presence checked by normalise()
            y = (x - g_lo) / (g_hi - g_lo) if d == 1 else (g_hi - x) / (g_hi - g_lo)
            y = y.clip(lower=0.0, upper=1.0)
        else:  # pragma: no cover - config validation rejects unknown methods
            raise AssertionError(method)
    return lo + (hi - lo) * y


def _normalise_frame(
    data: pd.DataFrame, hierarchy: Hierarchy, cfg: CompositeConfig
) -> pd.DataFrame | None:
    """min-max, distance to max and goalposts for every column at once — cell by cell the
    same arithmetic as `_normalise_column`, without a dozen pandas calls per indicator; None
    for the other methods."""
    method = cfg.normalise
    if method not in ("minmax", "dist_max", "goalposts") or 0 in data.shape:
        return None  # nothing to reduce over: the per-indicator rule copes
    x = data.to_numpy(dtype="float64")
    nodes = [hierarchy.node(c) for c in data.columns]
    d = np.array([n.direction for n in nodes], dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "goalposts":
            g_lo, g_hi = np.array([n.goalposts for n in nodes], dtype="float64").T
            y = np.where(d == 1, (x - g_lo) / (g_hi - g_lo), (g_hi - x) / (g_hi - g_lo))
            y = np.clip(y, 0.0, 1.0)
        else:
            xd = x * d
            lo_x, hi_x = np.fmin.reduce(xd, axis=0), np.fmax.reduce(xd, axis=0)  # NaN skipped
            y = (xd - lo_x) / (hi_x - lo_x)  # a constant column: 0 / 0, missing
    lo, hi = cfg.norm_low, cfg.norm_high
    return pd.DataFrame(lo + (hi - lo) * y, index=data.index, columns=data.columns)


def normalise(
    data: pd.DataFrame, hierarchy: Hierarchy, cfg: CompositeConfig
) -> tuple[pd.DataFrame, list[str]]:
    """Normalise every indicator; returns the frame and the indicators left without scores."""
    issues = []
    if cfg.normalise in ("dist_target", "dist_target_capped"):
        lacking = [c for c in data.columns if hierarchy.node(c).target is None]
        if lacking:
            issues.append(_issue("E_NO_TARGET", None, codes="、".join(lacking)))
    if cfg.normalise == "goalposts":
        lacking = [c for c in data.columns if hierarchy.node(c).goalposts is None]
        if lacking:
            issues.append(_issue("E_NO_GOALPOSTS", None, codes="、".join(lacking)))
    _raise(issues)
    frame = _normalise_frame(data, hierarchy, cfg)
    if frame is None:
        out = {c: _normalise_column(data[c], hierarchy.node(c), cfg) for c in data.columns}
        frame = pd.DataFrame(out, index=data.index).astype(float)
    lost = frame.isna().all() & data.notna().any()
    blank = [c for c in frame.columns if lost[c]]
    return frame, blank


# --------------------------------------------------------------------------- aggregation core


@dataclass(frozen=True, eq=False)
class _Plan:
    """The tree flattened into index arrays so aggregation is plain numpy (shared with the
    uncertainty analysis, which aggregates thousands of weight draws at once)."""

    codes: tuple[str, ...]
    n_indicators: int
    aggregates: tuple[str, ...]
    agg_levels: tuple[int, ...]
    children_idx: tuple[np.ndarray, ...]
    weights: np.ndarray

    @classmethod
    def of(cls, hierarchy: Hierarchy) -> _Plan:
        codes = hierarchy.indicators + hierarchy.aggregates
        pos = {c: i for i, c in enumerate(codes)}
        return cls(
            codes=codes,
            n_indicators=len(hierarchy.indicators),
            aggregates=hierarchy.aggregates,
            agg_levels=tuple(hierarchy.node(c).level for c in hierarchy.aggregates),
            children_idx=tuple(
                np.array([pos[k] for k in hierarchy.children(c)]) for c in hierarchy.aggregates
            ),
            weights=np.array([hierarchy.node(c).weight for c in codes], dtype=float),
        )


def _shift_positive(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Move each child column with a value ≤ 0 to start at 1% of its range above zero."""
    col_min = np.where(mask, x, np.inf).min(axis=1, keepdims=True)
    col_max = np.where(mask, x, -np.inf).max(axis=1, keepdims=True)
    span = col_max - col_min
    shift = np.where(span > 0, -col_min + _LOG_OFFSET_SHARE * span, -col_min + 1.0)
    return np.where(col_min <= 0, x + shift, x)


def _copeland(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """COINr a_copeland, blocked so that memory stays bounded for many units or samples."""
    n_s, n_u, n_c = x.shape
    wn = w / w.sum(axis=-1, keepdims=True)
    out = np.empty((n_s, n_u))
    block_u = max(1, min(n_u, _COPELAND_CHUNK // max(1, n_u * n_c)))
    step_s = max(1, _COPELAND_CHUNK // max(1, block_u * n_u * n_c))
    for s0 in range(0, n_s, step_s):
        xs = x[s0 : s0 + step_s]
        ws = wn[s0 : s0 + step_s, None, None, :]
        for u0 in range(0, n_u, block_u):
            a = xs[:, u0 : u0 + block_u, None, :]
            wins = ((a > xs[:, None, :, :]) + 0.5 * (a == xs[:, None, :, :])) * ws
            orm = wins.sum(axis=-1)
            own = np.arange(orm.shape[1])
            orm[:, own, u0 + own] = 0.0
            out[s0 : s0 + step_s, u0 : u0 + block_u] = orm.sum(axis=-1)
    out[np.isnan(x).all(axis=-1)] = np.nan
    return out


def _combine(
    x: np.ndarray, w: np.ndarray, method: str, p: float, nonpositive: str, code: str
) -> np.ndarray:
    """Aggregate children `x` (samples × units × children) with weights `w` (samples × children),
    re-normalising weights over each unit's non-missing children."""
    if method == "copeland":
        return _copeland(x, w)
    mask = ~np.isnan(x)
    wm = np.where(mask, w[:, None, :], 0.0)
    den = wm.sum(axis=-1)
    if method in POSITIVE_ONLY:
        if (mask & (x <= 0) & (wm > 0)).any():
            if nonpositive == "error":
                _raise([_issue("E_NONPOSITIVE", code, code=code, method=method)])
            x = _shift_positive(x, mask)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if method == "arithmetic":
            res = (np.where(mask, x, 0.0) * wm).sum(axis=-1) / den
        elif method == "geometric" or (method == "genmean" and p == 0):
            res = np.exp((np.log(np.where(mask, x, 1.0)) * wm).sum(axis=-1) / den)
        elif method == "harmonic":
            res = den / (wm / np.where(mask, x, 1.0)).sum(axis=-1)
        elif method == "genmean":
            res = ((np.where(mask, x, 1.0) ** p * wm).sum(axis=-1) / den) ** (1.0 / p)
        else:  # pragma: no cover
            raise AssertionError(method)
    return np.where(den > 0, res, np.nan)


def _aggregate_arrays(
    norm: np.ndarray,
    plan: _Plan,
    weights: np.ndarray,
    methods: Mapping[int, str],
    p: float,
    nonpositive: str,
) -> np.ndarray:
    """Scores of every node for each weight draw: (samples, units, nodes) from (units, indicators)
    and (samples, nodes)."""
    n_s = weights.shape[0]
    n_u = norm.shape[0]
    values = np.empty((n_s, n_u, len(plan.codes)))
    values[:, :, : plan.n_indicators] = norm[None, :, :]
    for a, (code, level, idx) in enumerate(
        zip(plan.aggregates, plan.agg_levels, plan.children_idx, strict=True)
    ):
        values[:, :, plan.n_indicators + a] = _combine(
            values[:, :, idx], weights[:, idx], methods[level], p, nonpositive, code
        )
    return values


def rank_desc(scores: pd.DataFrame | pd.Series) -> pd.DataFrame | pd.Series:
    """Rank 1 = highest score; ties share the lowest (best) rank; missing stays missing."""
    return scores.rank(ascending=False, method="min", na_option="keep").astype("Int64")


def grade(scores: pd.Series, bands: Sequence[tuple[float, str]]) -> pd.Series:
    """The first band (highest threshold first) whose threshold the score reaches."""
    ordered = sorted(bands, key=lambda band: band[0], reverse=True)
    x = pd.to_numeric(scores).to_numpy(dtype="float64", na_value=np.nan)
    out = np.full(len(x), pd.NA, dtype=object)
    with np.errstate(invalid="ignore"):
        for threshold, label in reversed(ordered):
            out[x >= threshold] = label
    return pd.Series(out, index=scores.index, dtype="object")


# --------------------------------------------------------------------------- result


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        if math.isnan(value):
            return None
        return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if obj is pd.NA or obj is None:
        return None
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    return obj


def _frame_records(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    return {str(idx): _jsonable(row) for idx, row in frame.to_dict("index").items()}


@dataclass(frozen=True, eq=False)
class CompositeResult:
    """Everything a build produced, so any score can be re-derived and shown."""

    stages: dict[str, pd.DataFrame]
    scores: pd.DataFrame
    ranks: pd.DataFrame
    index_code: str
    grades: pd.Series
    effective_weights: pd.Series
    treat_details: pd.DataFrame
    steps: list[dict[str, Any]]
    config: CompositeConfig = field(default_factory=CompositeConfig)
    hierarchy: Hierarchy | None = None

    @property
    def index_scores(self) -> pd.Series:
        return self.scores[self.index_code]

    def table(self) -> pd.DataFrame:
        """Long table (unit, node, level, score, rank, grade): indicators' normalised scores and
        every aggregate, e.g. for dashboards and the warehouse."""
        aggregated = self.stages["aggregated"]
        ranks = rank_desc(aggregated)
        bands = self.config.grade_bands
        levels = (
            {n.code: n.level for n in self.hierarchy.nodes}
            if self.hierarchy
            else {c: np.nan for c in aggregated.columns}
        )
        order = sorted(aggregated.columns, key=lambda c: -levels.get(c, 0))
        parts = []
        for code in order:
            score = aggregated[code]
            parts.append(
                pd.DataFrame(
                    {
                        "unit": aggregated.index,
                        "node": code,
                        "level": levels.get(code),
                        "score": score.to_numpy(),
                        "rank": ranks[code].to_numpy(),
                        "grade": grade(score, bands).to_numpy(),
                    }
                )
            )
        return pd.concat(parts, ignore_index=True)

    def to_dict(self) -> dict[str, Any]:
        cfg = {f.name: getattr(self.config, f.name) for f in dataclasses.fields(self.config)}
        return _jsonable(
            {
                "index_code": self.index_code,
                "config": cfg,
                "steps": self.steps,
                "scores": _frame_records(self.scores),
                "ranks": _frame_records(self.ranks.astype(float)),
                "grades": {str(k): v for k, v in self.grades.items()},
                "effective_weights": self.effective_weights.to_dict(),
                "treat_details": _frame_records(self.treat_details),
            }
        )

    def to_json(self, **kwargs: Any) -> str:
        kwargs.setdefault("ensure_ascii", False)
        return json.dumps(self.to_dict(), **kwargs)

    def _repr_html_(self, max_rows: int = 60) -> str:
        top = self.index_code
        sub = [
            c
            for c in (self.hierarchy.children(top) if self.hierarchy else ())
            if c in self.scores.columns
        ]
        view = pd.DataFrame(
            {
                t("composite.label.rank"): self.ranks[top],
                t("composite.label.unit"): self.scores.index.astype(str),
                top: self.scores[top].round(2),
                t("composite.label.grade"): self.grades,
            }
        )
        for code in sub:
            view[code] = self.scores[code].round(2)
        view = view.sort_values(t("composite.label.rank"), na_position="last")
        note = ""
        if len(view) > max_rows:
            more = t("composite.label.more_units", shown=max_rows, total=len(view))
            note = f"<p>{html.escape(more)}</p>"
            view = view.head(max_rows)
        steps = pd.DataFrame(
            {
                t("composite.label.step"): [t(f"composite.step.{s['step']}") for s in self.steps],
                t("composite.label.method"): [s.get("method") or "" for s in self.steps],
                t("composite.label.params"): [
                    json.dumps(
                        _jsonable({k: v for k, v in s.items() if k not in ("step", "method")}),
                        ensure_ascii=False,
                    )[:160]
                    for s in self.steps
                ],
            }
        )
        title = html.escape(t("composite.label.title", index=top))
        return (
            f"<div><h4>{title}</h4>{view.to_html(index=False, na_rep='—')}{note}"
            f"<h5>{html.escape(t('composite.label.steps'))}</h5>"
            f"{steps.to_html(index=False)}</div>"
        )


# --------------------------------------------------------------------------- build


@dataclass(frozen=True, eq=False)
class _Prepared:
    stages: dict[str, pd.DataFrame]
    steps: list[dict[str, Any]]
    treat_details: pd.DataFrame


def _prepare(
    data: pd.DataFrame,
    hierarchy: Hierarchy,
    config: CompositeConfig,
    groups: pd.Series | None,
    denominators: pd.DataFrame | None,
    denominator_map: Mapping[str, str] | None,
    panel: pd.DataFrame | Mapping[Any, pd.DataFrame] | None,
) -> _Prepared:
    """Everything up to the normalised indicators (the part aggregation alternatives share)."""
    raw = _check_data(data, hierarchy)
    stages: dict[str, pd.DataFrame] = {"raw": raw}
    steps: list[dict[str, Any]] = [
        _step(
            "raw",
            None,
            units=len(raw),
            indicators=raw.shape[1],
            missing=int(raw.isna().sum().sum()),
        )
    ]

    if config.denominate:
        den = denominate(raw, denominators, denominator_map, hierarchy.indicators)
        steps.append(_step("denominate", "ratio", denominators=dict(denominator_map or {})))
    else:
        den = raw.copy()
        steps.append(_step("denominate", "none"))
    stages["denominated"] = den

    screened, dropped = screen(den, config.screen_min_coverage)
    if dropped:
        note = t(
            "composite.W_UNITS_SCREENED",
            threshold=f"{config.screen_min_coverage:.0%}",
            n=len(dropped),
            units="、".join(dropped),
        )
        logger.warning(note)
    steps.append(
        _step(
            "screen", "min_coverage", min_coverage=config.screen_min_coverage, dropped_units=dropped
        )
    )
    stages["screened"] = screened

    imputed = impute(
        screened,
        config.impute,
        groups,
        panel,
        denominators,
        denominator_map if config.denominate else None,
    )
    n_filled = int(screened.isna().sum().sum() - imputed.isna().sum().sum())
    still = int(imputed.isna().sum().sum())
    steps.append(_step("impute", config.impute, imputed_values=n_filled, still_missing=still))
    stages["imputed"] = imputed

    if config.treat:
        treated, details = treat(imputed, config)
        steps.append(
            _step(
                "treat",
                "winsorise_then_log" if config.log_fallback else "winsorise",
                winsor_max_points=config.winsor_max_points,
                skew_threshold=config.skew_threshold,
                kurt_threshold=config.kurt_threshold,
                treated={
                    c: details.at[c, "treatment"]
                    for c in details.index
                    if details.at[c, "treatment"] not in ("none", "insufficient_data")
                },
            )
        )
    else:
        treated, details = imputed.copy(), _empty_treat_details(imputed.columns)
        steps.append(_step("treat", "none"))
    stages["treated"] = treated

    normalised, blank = normalise(treated, hierarchy, config)
    params: dict[str, Any] = {
        "directions": {c: hierarchy.node(c).direction for c in hierarchy.indicators}
    }
    if config.normalise in _SCALED:
        params["range"] = [config.norm_low, config.norm_high]
    if config.normalise == "zscore":
        params["mean_sd"] = list(config.zscore_mean_sd)
    if config.normalise.startswith("dist_target"):
        params["target_mode"] = config.target_mode
        params["targets"] = {c: hierarchy.node(c).target for c in hierarchy.indicators}
    if config.normalise == "goalposts":
        params["goalposts"] = {c: hierarchy.node(c).goalposts for c in hierarchy.indicators}
    if blank:
        note = t("composite.W_CONSTANT_INDICATOR", codes="、".join(blank), method=config.normalise)
        logger.warning(note)
        params["unscored_indicators"] = blank
    steps.append(_step("normalise", config.normalise, **params))
    stages["normalised"] = normalised
    return _Prepared(stages, steps, details)


def _empty_treat_details(columns: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "pass_before": None,
            "skew_before": np.nan,
            "kurt_before": np.nan,
            "treatment": "none",
            "n_winsorised": 0,
            "winsorised_units": "",
            "pass_after": None,
            "skew_after": np.nan,
            "kurt_after": np.nan,
        },
        index=pd.Index(list(columns), name="indicator"),
    )
    return frame


def build_composite(
    data: pd.DataFrame,
    hierarchy: Hierarchy,
    config: CompositeConfig = CompositeConfig(),
    groups: pd.Series | None = None,
    denominators: pd.DataFrame | None = None,
    denominator_map: Mapping[str, str] | None = None,
    panel: pd.DataFrame | Mapping[Any, pd.DataFrame] | None = None,
) -> CompositeResult:
    """Build the index for every unit (row of `data`) and record each step's method."""
    tree = hierarchy.with_weights(config.weights)
    methods = config.level_methods(tree)
    prepared = _prepare(data, tree, config, groups, denominators, denominator_map, panel)
    stages, steps = dict(prepared.stages), list(prepared.steps)
    normalised = stages["normalised"]

    plan = _Plan.of(tree)
    eff = tree.effective_weights()
    steps.append(
        _step(
            "weight",
            "manual" if config.weights else "hierarchy",
            weights={c: tree.node(c).weight for c in plan.codes},
            effective_weights=eff.to_dict(),
        )
    )
    values = _aggregate_arrays(
        normalised.to_numpy(dtype=float),
        plan,
        plan.weights[None, :],
        methods,
        config.genmean_p,
        config.nonpositive,
    )[0]
    aggregated = pd.DataFrame(values, index=normalised.index, columns=list(plan.codes))
    stages["aggregated"] = aggregated
    agg_params: dict[str, Any] = {
        "methods": {str(k): v for k, v in methods.items()},
        "missing": "weights re-normalised over available children",
    }
    if "genmean" in methods.values():
        agg_params["genmean_p"] = config.genmean_p
    if any(m in POSITIVE_ONLY for m in methods.values()):
        agg_params["nonpositive"] = config.nonpositive
    distinct = set(methods.values())
    steps.append(
        _step("aggregate", distinct.pop() if len(distinct) == 1 else "per_level", **agg_params)
    )

    scores = aggregated[sorted(tree.aggregates, key=lambda c: -tree.node(c).level)]
    ranks = rank_desc(scores)
    steps.append(_step("rank", "descending_min_ties"))
    grades = grade(scores[tree.top], config.grade_bands).rename("grade")
    steps.append(_step("grade", "bands", bands=[list(b) for b in config.sorted_bands()]))
    return CompositeResult(
        stages=stages,
        scores=scores,
        ranks=ranks,
        index_code=tree.top,
        grades=grades,
        effective_weights=eff,
        treat_details=prepared.treat_details,
        steps=steps,
        config=config,
        hierarchy=tree,
    )
