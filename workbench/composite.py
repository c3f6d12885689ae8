"""Composite-index engine: indicator table in, scores, ranks and grades out, every step recorded.

The method follows COINr and the OECD/JRC Handbook (design/indicators.md §C) so that a result can
be checked against COINr's own ASEM example (reference/coinr_asem and tests/fixtures/coinr_asem).
Pure: DataFrames in, DataFrames out; no files, no printing.

Pipeline: raw → denominate → screen ⇄ impute (either order) → treat → normalise → aggregate →
rank → grade.

Which normaliser, aggregator and imputer exist, what each needs and which options it reads is
the catalogue in `workbench.composite_methods` (one entry per method, with its formula); this
module runs the steps. Normalisers apply x' = x·direction first; "scaled" ones map their [0, 1]
result y to [l, u] = [norm_low, norm_high] as l + (u − l)·y, with the method's own default range
when the config leaves it unset. A constant indicator cannot be min-max/z-scored: its scores are
missing (as in COINr) and its weight passes to its siblings; the step records it.

Aggregators work per level, with weights re-normalised over a unit's non-missing children (a
unit whose share of available children is below `aggregate_min_coverage` gets no score, COINr's
`dat_thresh`). Geometric, harmonic and generalised means need positive inputs (genmean with
p > 0: non-negative): `nonpositive="error"` (default, like COINr) stops with a hint; `"shift"`
moves each child column with an offending value up by −min + 1% of its range (the COIN Tool log
convention) before aggregating; the uncertainty analysis uses "shift". Copeland and the
outranking sum compare units pairwise (a unit's score depends on the others).

Panels for carry-forward imputation: `panel` is either a mapping period → DataFrame laid out like
`data`, or one DataFrame with a `period` column and unit codes as index. Every panel period is
taken to be earlier than `data`; a missing value takes the unit's latest non-missing value
(looking back at most `carry_forward_max_periods` periods). When `denominate` is on, panel
values are denominated too, with the panel's own denominator columns if it has them, else with
`denominators`.
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

from workbench import fmt
from workbench.composite_methods import (
    AGGREGATORS,
    IMPUTERS,
    NORMALISERS,
    OPTIONS,
    CompositeError,
    ImputeContext,
    Issue,
    NormContext,
    bounds,
    resolved_options,
)
from workbench.composite_methods import issue as _issue
from workbench.composite_methods import raise_issues as _raise
from workbench.messages import t

logger = logging.getLogger(__name__)

__all__ = [
    "AGGREGATORS",
    "IMPUTERS",
    "NORMALISERS",
    "CompositeConfig",
    "CompositeError",
    "CompositeResult",
    "Hierarchy",
    "Issue",
    "Node",
    "build_composite",
]

NONPOSITIVE_POLICIES = ("error", "shift")
STAGES = ("raw", "denominated", "screened", "imputed", "treated", "normalised", "aggregated")
_LOG_OFFSET_SHARE = 0.01  # COINr log_CT and COIN Tool: log(x − min + 1% of the range)


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


def _finite_or_none(value: object) -> bool:
    return value is None or (isinstance(value, (int, float)) and math.isfinite(value))


@dataclass(frozen=True)
class CompositeConfig:
    """How to build the index. Defaults are COINr's; thresholds, targets and weights are policy
    and belong in YAML, not here. Every field but the step choices is an option of the method
    catalogue (`composite_methods.OPTIONS`), with the same name as its YAML key."""

    denominate: bool = False
    screen_by: str = "na"
    screen_min_coverage: float = 0.0
    screen_min_nonzero: float = 0.05
    screen_before_impute: bool = True
    impute: str = "none"
    impute_group: str | None = None
    impute_level: int = 2
    carry_forward_max_periods: int | None = None
    treat: bool = False
    winsor_max_points: int = 5
    skew_threshold: float = 2.0
    kurt_threshold: float = 3.5
    log_fallback: bool = True
    normalise: str = "minmax"
    norm_low: float | None = None
    norm_high: float | None = None
    zscore_mean_sd: tuple[float, float] = (0.0, 1.0)
    target_mode: str = "ratio"
    cap_max: bool = False
    ties: str = "min"
    goalposts_truncate: bool = True
    reference_unit: str | None = None
    aggregate: str | Mapping[int, str] = "arithmetic"
    genmean_p: float = 2.0
    nonpositive: str = "error"
    aggregate_min_coverage: float = 0.0
    weights: Mapping[str, float] | None = None
    grade_bands: tuple[tuple[float, str], ...] = (
        (90, "优秀"),
        (80, "良好"),
        (60, "合格"),
        (float("-inf"), "不合格"),
    )

    def __post_init__(self) -> None:
        if isinstance(self.zscore_mean_sd, list):
            object.__setattr__(self, "zscore_mean_sd", tuple(self.zscore_mean_sd))
        issues: list[Issue] = []

        def choice(name: str, value: object, choices: Sequence[str]) -> None:
            if not isinstance(value, str) or value not in choices:
                issues.append(
                    _issue(
                        "E_BAD_CHOICE", None, field=name, value=value, choices="、".join(choices)
                    )
                )

        choice("impute", self.impute, IMPUTERS)
        choice("normalise", self.normalise, NORMALISERS)
        if isinstance(self.aggregate, str):
            choice("aggregate", self.aggregate, AGGREGATORS)
        else:
            for level, method in self.aggregate.items():
                choice(f"aggregate[{level}]", method, AGGREGATORS)
        for name, option in OPTIONS.items():
            value = getattr(self, name)
            if option.kind == "number" and isinstance(value, (int, np.integer)):
                value = float(value)
            if not option.valid(value):
                code = "E_BAD_CHOICE" if option.kind == "choice" else "E_BAD_RANGE"
                issues.append(
                    _issue(
                        code,
                        None,
                        field=name,
                        value=value,
                        rule=option.describe_rule(),
                        choices=option.describe_rule(),
                    )
                )
        entry = NORMALISERS.get(self.normalise, NORMALISERS["minmax"])
        if entry.scaled and _finite_or_none(self.norm_low) and _finite_or_none(self.norm_high):
            lo, hi = bounds(entry, self)
            if not hi > lo:
                issues.append(
                    _issue("E_BAD_RANGE", None, field="norm_high", value=hi, rule="> norm_low")
                )
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


def screen(
    data: pd.DataFrame, min_coverage: float, by: str = "na", min_nonzero: float = 0.05
) -> tuple[pd.DataFrame, list[str]]:
    """Drop units with too little data (COINr Screen): by "na", a share of available indicators
    below `min_coverage`; by "zeros", a share of non-zero values among the available ones below
    `min_nonzero`; by "na_and_zeros", either."""
    present = data.notna()
    coverage = present.mean(axis=1)
    n_present = present.sum(axis=1)
    zeros = (data == 0).sum(axis=1)
    nonzero = (1 - zeros / n_present.where(n_present > 0)).fillna(0.0)
    low_data = coverage < min_coverage
    low_nonzero = nonzero < min_nonzero
    drop = {"na": low_data, "zeros": low_nonzero, "na_and_zeros": low_data | low_nonzero}[by]
    return data.loc[~drop], [str(u) for u in data.index[drop]]


def _panel_frames(panel: pd.DataFrame | Mapping[Any, pd.DataFrame]) -> list[pd.DataFrame]:
    if isinstance(panel, Mapping):
        return [panel[k] for k in sorted(panel)]
    if isinstance(panel, pd.DataFrame) and "period" in panel.columns:
        return [g.drop(columns="period") for _, g in panel.groupby("period", sort=True)]
    _raise([_issue("E_BAD_PANEL")])
    return []


def latest_panel_values(
    panel: pd.DataFrame | Mapping[Any, pd.DataFrame],
    columns: Sequence[str],
    denominators: pd.DataFrame | None,
    denominator_map: Mapping[str, str] | None,
    max_periods: int | None = None,
) -> pd.DataFrame:
    """Each unit's latest non-missing value per column over the panel's periods (the newest
    `max_periods` only, when set: COINr impute_panel's max_time)."""
    frames = _panel_frames(panel)
    if max_periods is not None:
        frames = frames[-max_periods:]
    latest: pd.DataFrame | None = None
    for frame in frames:
        values = frame.reindex(columns=list(columns)).apply(pd.to_numeric, errors="coerce")
        if denominator_map:
            own = [d for d in denominator_map.values() if d in frame.columns]
            dens = frame[own] if len(own) == len(set(denominator_map.values())) else denominators
            values = denominate(values, dens, denominator_map)
        latest = values if latest is None else values.combine_first(latest)
    return latest if latest is not None else pd.DataFrame(columns=list(columns))


def _group_series(groups: pd.Series | pd.DataFrame | None, name: str | None) -> pd.Series | None:
    """The grouping a group imputer uses: a Series as given, or the `impute_group` column."""
    if groups is None or isinstance(groups, pd.Series):
        return groups
    if name is None and groups.shape[1] == 1:
        return groups.iloc[:, 0]
    if name not in groups.columns:
        _raise(
            [
                _issue(
                    "E_UNKNOWN_GROUP",
                    None,
                    group=name,
                    available="、".join(map(str, groups.columns)) or "—",
                )
            ]
        )
    return groups[name]


def _columns_by_ancestor(hierarchy: Hierarchy, level: int) -> dict[str, list[str]]:
    """Indicators grouped by their ancestor at `level` (COINr's lineage column)."""
    if level not in hierarchy.levels or level < 2:
        _raise(
            [
                _issue(
                    "E_BAD_RANGE",
                    None,
                    field="impute_level",
                    value=level,
                    rule="、".join(str(lv) for lv in hierarchy.levels if lv > 1),
                )
            ]
        )
    out: dict[str, list[str]] = {}
    for code in hierarchy.indicators:
        node = hierarchy.node(code)
        while node.level < level and node.parent is not None:
            node = hierarchy.node(node.parent)
        out.setdefault(node.code, []).append(code)
    return out


def impute(
    data: pd.DataFrame,
    method: str,
    groups: pd.Series | pd.DataFrame | None = None,
    panel: pd.DataFrame | Mapping[Any, pd.DataFrame] | None = None,
    denominators: pd.DataFrame | None = None,
    denominator_map: Mapping[str, str] | None = None,
    *,
    config: CompositeConfig | None = None,
    hierarchy: Hierarchy | None = None,
) -> pd.DataFrame:
    """Fill missing values with the catalogue's imputer `method`; group imputers need
    `groups`, carry-forward a `panel`, parent_mean the `hierarchy`."""
    cfg = config if config is not None else CompositeConfig(impute=method)
    entry = IMPUTERS[method]
    group = _group_series(groups, cfg.impute_group) if "groups" in entry.needs else None
    if "groups" in entry.needs and group is None:
        _raise([_issue("E_NO_GROUPS")])
    if "panel" in entry.needs and panel is None:
        _raise([_issue("E_NO_PANEL")])
    if "hierarchy" in entry.needs and hierarchy is None:
        _raise([_issue("E_NO_HIERARCHY_FOR_IMPUTE")])
    context = ImputeContext(
        groups=group,
        panel_latest=(
            latest_panel_values(
                panel, data.columns, denominators, denominator_map, cfg.carry_forward_max_periods
            )
            if "panel" in entry.needs
            else None
        ),
        columns_by_group=(
            {
                k: [c for c in v if c in data.columns]
                for k, v in _columns_by_ancestor(hierarchy, cfg.impute_level).items()
            }
            if "hierarchy" in entry.needs
            else None
        ),
        direction=(
            {c: hierarchy.node(c).direction for c in hierarchy.indicators} if hierarchy else {}
        ),
        opts=resolved_options(entry, cfg),
    )
    return entry.fn(data, context)


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


def normalise(
    data: pd.DataFrame, hierarchy: Hierarchy, cfg: CompositeConfig
) -> tuple[pd.DataFrame, list[str]]:
    """Normalise every indicator with the catalogue's normaliser; returns the frame and the
    indicators left without scores."""
    entry = NORMALISERS[cfg.normalise]
    opts = resolved_options(entry, cfg)
    nodes = [hierarchy.node(c) for c in data.columns]
    issues = []
    if "target" in entry.needs:
        lacking = [n.code for n in nodes if n.target is None]
        if lacking:
            issues.append(_issue("E_NO_TARGET", None, codes="、".join(lacking)))
    if "goalposts" in entry.needs:
        lacking = [n.code for n in nodes if n.goalposts is None]
        if lacking:
            issues.append(_issue("E_NO_GOALPOSTS", None, codes="、".join(lacking)))
    if "reference_unit" in entry.needs:
        ref = opts.get("reference_unit")
        if ref is None or ref not in data.index:
            issues.append(_issue("E_NO_REFERENCE_UNIT", None, unit=ref, method=cfg.normalise))
    _raise(issues)
    goal = np.array([n.goalposts or (np.nan, np.nan) for n in nodes], dtype=float).reshape(-1, 2)
    context = NormContext(
        direction=np.array([n.direction for n in nodes], dtype=float),
        target=np.array([np.nan if n.target is None else n.target for n in nodes], dtype=float),
        goal_low=goal[:, 0],
        goal_high=goal[:, 1],
        units=data.index,
        opts=opts,
    )
    y = entry.fn(data.to_numpy(dtype="float64"), context)
    if entry.scaled:
        lo, hi = bounds(entry, cfg)
        y = lo + (hi - lo) * y
    frame = pd.DataFrame(y, index=data.index, columns=data.columns, dtype=float)
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


def _combine(
    x: np.ndarray, w: np.ndarray, method: str, cfg: CompositeConfig, code: str
) -> np.ndarray:
    """Aggregate children `x` (samples × units × children) with weights `w` (samples × children)
    by the catalogue's aggregator, re-normalising weights over each unit's non-missing children."""
    entry = AGGREGATORS[method]
    opts = resolved_options(entry, cfg)
    if entry.pairwise:
        return entry.fn(x, w, opts)
    mask = ~np.isnan(x)
    wm = np.where(mask, w[:, None, :], 0.0)
    domain = entry.domain(opts)
    if domain != "any":
        with np.errstate(invalid="ignore"):
            offending = (x <= 0) if domain == "positive" else (x < 0)
        if (mask & offending & (wm > 0)).any():
            if cfg.nonpositive == "error":
                _raise(
                    [
                        _issue(
                            "E_NONPOSITIVE",
                            code,
                            code=code,
                            method=entry.label,
                            domain=t(f"composite.domain.{domain}"),
                        )
                    ]
                )
            x = _shift_positive(x, mask)
    res = entry.fn(x, w, opts)
    res = np.where(wm.sum(axis=-1) > 0, res, np.nan)
    if cfg.aggregate_min_coverage > 0:
        share = mask.sum(axis=-1) / x.shape[-1]
        res = np.where(share < cfg.aggregate_min_coverage, np.nan, res)
    return res


def _aggregate_arrays(
    norm: np.ndarray,
    plan: _Plan,
    weights: np.ndarray,
    methods: Mapping[int, str],
    cfg: CompositeConfig,
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
            values[:, :, idx], weights[:, idx], methods[level], cfg, code
        )
    return values


def rank_desc(scores: pd.DataFrame | pd.Series) -> pd.DataFrame | pd.Series:
    """Rank 1 = highest score; ties share the lowest (best) rank; missing stays missing.

    The analytic rank, on unrounded scores (COINr's, `CompositeResult.ranks`); what a reader
    sees is `published_rank`."""
    return scores.rank(ascending=False, method="min", na_option="keep").astype("Int64")


def published_rank(scores: pd.DataFrame | pd.Series) -> pd.DataFrame | pd.Series:
    """The rank every face prints: `rank_desc` of the score as printed (`fmt.published_score`,
    one decimal half up), so 80.04 and 79.96 — both printed 80.0分 — share rank 1 and 79.94
    (79.9分) is 3rd (并列: 1, 1, 3). Missing stays missing.

    Where analysis ends and publication starts: `build_composite`'s `ranks` and the uncertainty
    analysis rank unrounded values (COINr parity, rank intervals from raw draws);
    `CompositeResult.table()`/`published_ranks` and everything downstream of them — the
    warehouse's `composite_scores`, reports, documents, cockpit, exports, 约谈 reasons — carry
    this rank."""
    if isinstance(scores, pd.Series):
        x = pd.to_numeric(scores).to_numpy(dtype="float64", na_value=np.nan)
        return rank_desc(pd.Series(fmt.published_score(x), index=scores.index, name=scores.name))
    x = scores.apply(pd.to_numeric).to_numpy(dtype="float64", na_value=np.nan)
    printed = fmt.published_score(x.ravel()).reshape(x.shape)
    return rank_desc(pd.DataFrame(printed, index=scores.index, columns=scores.columns))


def _rank_array(ranks: object) -> np.ndarray:
    return pd.to_numeric(pd.Series(np.asarray(ranks, dtype=object)), errors="coerce").to_numpy(
        dtype="float64", na_value=np.nan
    )


def shares_rank(ranks: object) -> np.ndarray:
    """Whether each unit's rank is shared (并列) with another unit's; missing → False."""
    r = _rank_array(ranks)
    ok = ~np.isnan(r)
    values, counts = np.unique(r[ok], return_counts=True)
    out = np.zeros(len(r), dtype=bool)
    out[ok] = counts[np.searchsorted(values, r[ok])] > 1
    return out


def within_top(ranks: object, k: int) -> np.ndarray:
    """The units among the best `k` (居前k位): min-ranks ≤ k, so a tie at the k-th place takes
    in every unit of it (1, 2, 3, 3 → four units within the top 3); missing → False."""
    r = _rank_array(ranks)
    with np.errstate(invalid="ignore"):
        return (r <= k) & ~np.isnan(r)


def within_bottom(ranks: object, k: int) -> np.ndarray:
    """The units among the last `k` (居后k位, 末k名): fewer than `k` ranked units strictly behind
    them, so a tie at the boundary takes in all of it (1, 2, 3, 3 with k = 1 → both 3rds; the
    test `rank > n − k` would name nobody); missing → False."""
    r = _rank_array(ranks)
    ok = ~np.isnan(r)
    ordered = np.sort(r[ok])
    behind = len(ordered) - np.searchsorted(ordered, r[ok], side="right")
    out = np.zeros(len(r), dtype=bool)
    out[ok] = behind < k
    return out


def grade(scores: pd.Series, bands: Sequence[tuple[float, str]]) -> pd.Series:
    """The first band (highest threshold first) whose threshold the score reaches, the score
    taken as published (`fmt.published_score`: 79.958 is printed 80.0 and graded 80.0 — a
    reader must never see 80.0分 beside a grade that starts at 80 withheld)."""
    ordered = sorted(bands, key=lambda band: band[0], reverse=True)
    x = fmt.published_score(pd.to_numeric(scores).to_numpy(dtype="float64", na_value=np.nan))
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

    @property
    def published_ranks(self) -> pd.DataFrame:
        """`ranks` as published: on the printed scores, equal printed scores 并列
        (`published_rank`). `ranks` stays the analytic (COINr) rank on unrounded scores."""
        return published_rank(self.scores)

    def table(self) -> pd.DataFrame:
        """Long table (unit, node, level, score, rank, grade): indicators' normalised scores and
        every aggregate, e.g. for dashboards and the warehouse. Publication starts here: `rank`
        is `published_rank` (on the printed score), as `grade` is read on it."""
        aggregated = self.stages["aggregated"]
        ranks = published_rank(aggregated)
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
                t("composite.label.rank"): self.published_ranks[top],
                t("composite.label.unit"): self.scores.index.astype(str),
                top: fmt.published_score(self.scores[top].to_numpy(dtype=float)),
                t("composite.label.grade"): self.grades,
            }
        )
        for code in sub:
            view[code] = fmt.published_score(self.scores[code].to_numpy(dtype=float))
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
    groups: pd.Series | pd.DataFrame | None,
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

    def do_screen(frame: pd.DataFrame) -> pd.DataFrame:
        kept, dropped = screen(
            frame, config.screen_min_coverage, config.screen_by, config.screen_min_nonzero
        )
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
                "screen",
                config.screen_by,
                min_coverage=config.screen_min_coverage,
                min_nonzero=config.screen_min_nonzero,
                before_impute=config.screen_before_impute,
                dropped_units=dropped,
            )
        )
        return kept

    def do_impute(frame: pd.DataFrame) -> pd.DataFrame:
        filled = impute(
            frame,
            config.impute,
            groups,
            panel,
            denominators,
            denominator_map if config.denominate else None,
            config=config,
            hierarchy=hierarchy,
        )
        n_filled = int(frame.isna().sum().sum() - filled.isna().sum().sum())
        still = int(filled.isna().sum().sum())
        entry = IMPUTERS[config.impute]
        steps.append(
            _step(
                "impute",
                config.impute,
                **resolved_options(entry, config),
                imputed_values=n_filled,
                still_missing=still,
            )
        )
        return filled

    if config.screen_before_impute:
        screened = do_screen(den)
        imputed = do_impute(screened)
    else:
        imputed = do_impute(den)
        screened = den.loc[imputed.index]
        imputed = do_screen(imputed)
        screened = screened.loc[imputed.index]
    stages["screened"] = screened
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
    entry = NORMALISERS[config.normalise]
    params: dict[str, Any] = {
        "directions": {c: hierarchy.node(c).direction for c in hierarchy.indicators},
        **resolved_options(entry, config),
    }
    if entry.scaled:
        params["norm_low"], params["norm_high"] = bounds(entry, config)
    if "target" in entry.needs:
        params["targets"] = {c: hierarchy.node(c).target for c in hierarchy.indicators}
    if "goalposts" in entry.needs:
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
    groups: pd.Series | pd.DataFrame | None = None,
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
        config,
    )[0]
    aggregated = pd.DataFrame(values, index=normalised.index, columns=list(plan.codes))
    stages["aggregated"] = aggregated
    agg_params: dict[str, Any] = {
        "methods": {str(k): v for k, v in methods.items()},
        "missing": "weights re-normalised over available children",
    }
    for method in set(methods.values()):
        agg_params.update(resolved_options(AGGREGATORS[method], config))
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
