"""The catalogue of composite methods: one entry per normaliser, aggregator and imputer.

Each entry says what it needs (a target, goalposts, unit groups, a panel, positive values), which
options it reads (`CompositeConfig` fields, also the YAML keys of a hierarchy's `method:`), its
Chinese label (`composite.method.<name>` in locale/composite.yaml) and the COINr function it
reproduces. The engine (composite.py), scoring, the uncertainty analysis and the declarations
validator all read this one catalogue, so a new method is one entry here and one label.

Every entry also answers to its COINr name (`n_minmax`, `a_copeland`, `i_mean_grp`…): the COINr
name gives COINr's own output range (e.g. `n_prank` in [0, 1] where `percentile_rank` scales to
[0, 100]) and COINr's fixed choices (`n_dist2targ` is distance to target with COINr's min-based
formula). Pure: arrays in, arrays out; no files, no printing.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench.messages import t

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


def issue(key: str, node: str | None = None, **values: object) -> Issue:
    code = f"composite.{key}"
    return Issue(code, node, t(code, **values))


def raise_issues(issues: Sequence[Issue]) -> None:
    if issues:
        raise CompositeError(issues)


# --------------------------------------------------------------------------- options


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True)
class Option:
    """One method option: a `CompositeConfig` field and the YAML key of the same name."""

    name: str
    default: Any
    kind: str  # number | integer | bool | choice | pair | text
    choices: tuple[str, ...] = ()
    rule: str = ""  # the valid range, as shown in messages
    check: Callable[[Any], bool] | None = None
    coinr: str = ""  # COINr's name for the same parameter

    def valid(self, value: Any) -> bool:
        """Whether `value` has the option's type, choice and range (None means "default")."""
        if value is None:
            return self.default is None
        ok = {
            "number": _finite(value),
            "integer": isinstance(value, (int, np.integer)) and not isinstance(value, bool),
            "bool": isinstance(value, (bool, np.bool_)),
            "choice": value in self.choices,
            "text": isinstance(value, str) and bool(value.strip()),
            "pair": isinstance(value, (list, tuple))
            and len(value) == 2
            and all(_finite(v) for v in value),
        }[self.kind]
        return ok and (self.check is None or bool(self.check(value)))

    def describe_rule(self) -> str:
        if self.kind == "choice":
            return "、".join(self.choices)
        return self.rule or t(f"composite.kind.{self.kind}")


_OPTION_LIST: tuple[Option, ...] = (
    # screening (COINr Screen)
    Option("screen_by", "na", "choice", ("na", "zeros", "na_and_zeros"), coinr="unit_screen"),
    Option(
        "screen_min_coverage",
        0.0,
        "number",
        rule="0–1",
        check=lambda v: 0 <= v <= 1,
        coinr="dat_thresh",
    ),
    Option(
        "screen_min_nonzero",
        0.05,
        "number",
        rule="0–1",
        check=lambda v: 0 <= v <= 1,
        coinr="nonzero_thresh",
    ),
    Option("screen_before_impute", True, "bool"),
    # imputation
    Option("impute_group", None, "text", coinr="use_group"),
    Option("impute_level", 2, "integer", rule="≥ 2", check=lambda v: v >= 2, coinr="group_level"),
    Option(
        "carry_forward_max_periods",
        None,
        "integer",
        rule="≥ 1",
        check=lambda v: v >= 1,
        coinr="max_time",
    ),
    # treatment (COINr Treat / qTreat)
    Option("winsor_max_points", 5, "integer", rule="≥ 0", check=lambda v: v >= 0, coinr="winmax"),
    Option("skew_threshold", 2.0, "number", rule="> 0", check=lambda v: v > 0, coinr="skew_thresh"),
    Option("kurt_threshold", 3.5, "number", coinr="kurt_thresh"),
    Option("log_fallback", True, "bool", coinr="f2"),
    # normalisation
    Option("norm_low", None, "number", coinr="l_u[1]"),
    Option("norm_high", None, "number", coinr="l_u[2]"),
    Option(
        "zscore_mean_sd",
        (0.0, 1.0),
        "pair",
        rule="[均值, 标准差]，标准差 > 0",
        check=lambda v: v[1] > 0,
        coinr="m_sd",
    ),
    Option("target_mode", "ratio", "choice", ("ratio", "min")),
    Option("cap_max", False, "bool", coinr="cap_max"),
    Option("ties", "min", "choice", ("min", "max", "average", "first"), coinr="ties.method"),
    Option("goalposts_truncate", True, "bool", coinr="trunc2posts"),
    Option("reference_unit", None, "text", coinr="iref"),
    # aggregation
    Option("genmean_p", 2.0, "number", rule="有限数", coinr="p"),
    Option("nonpositive", "error", "choice", ("error", "shift")),
    Option(
        "aggregate_min_coverage",
        0.0,
        "number",
        rule="0–1",
        check=lambda v: 0 <= v <= 1,
        coinr="dat_thresh",
    ),
)
OPTIONS: Mapping[str, Option] = {o.name: o for o in _OPTION_LIST}

# Options of a step rather than of one method: read whichever method the step uses.
STEP_OPTIONS: Mapping[str, tuple[str, ...]] = {
    "screen": ("screen_by", "screen_min_coverage", "screen_min_nonzero", "screen_before_impute"),
    "treat": ("winsor_max_points", "skew_threshold", "kurt_threshold", "log_fallback"),
}


# --------------------------------------------------------------------------- entries


@dataclass(frozen=True)
class Method:
    """What every catalogue entry has."""

    name: str
    options: tuple[str, ...] = ()
    needs: frozenset[str] = frozenset()
    coinr: str | None = None  # the COINr function reproduced
    fixed: Mapping[str, Any] = field(default_factory=dict)  # options this name pins (aliases)
    canonical: str | None = None  # for a COINr alias: the workbench entry it specialises

    @property
    def label(self) -> str:
        return t(f"composite.method.{self.canonical or self.name}")


@dataclass(frozen=True)
class NormContext:
    """What a normaliser may read besides the values: per-column direction, target, goalposts,
    the unit labels (for a reference unit) and the resolved options."""

    direction: np.ndarray
    target: np.ndarray
    goal_low: np.ndarray
    goal_high: np.ndarray
    units: pd.Index
    opts: Mapping[str, Any]


@dataclass(frozen=True)
class Normaliser(Method):
    fn: Callable[[np.ndarray, NormContext], np.ndarray] | None = None
    bounds: tuple[float, float] | None = None  # output scaled to these unless set; None: raw

    @property
    def scaled(self) -> bool:
        return self.bounds is not None


@dataclass(frozen=True)
class Aggregator(Method):
    fn: Callable[[np.ndarray, np.ndarray, Mapping[str, Any]], np.ndarray] | None = None
    domain: Callable[[Mapping[str, Any]], str] = lambda opts: "any"  # positive | nonnegative
    pairwise: bool = False  # a unit's score depends on the other units (outranking methods)


@dataclass(frozen=True)
class ImputeContext:
    groups: pd.Series | None
    panel_latest: pd.DataFrame | None  # each unit's latest earlier value (for carry_forward)
    columns_by_group: Mapping[str, Sequence[str]] | None  # parent at impute_level → indicators
    direction: Mapping[str, int]
    opts: Mapping[str, Any]


@dataclass(frozen=True)
class Imputer(Method):
    fn: Callable[[pd.DataFrame, ImputeContext], pd.DataFrame] | None = None


# --------------------------------------------------------------------------- normalisers


def _nan_reduce(fn: Callable[..., np.ndarray], xd: np.ndarray) -> np.ndarray:
    """Column reduction that skips missing values and gives NaN for an empty column."""
    with np.errstate(all="ignore"):
        present = ~np.isnan(xd)
        if xd.size == 0:
            return np.full(xd.shape[1], np.nan)
        filled = np.where(present, xd, np.nan)
        out = np.full(xd.shape[1], np.nan)
        ok = present.any(axis=0)
        if ok.any():
            out[ok] = fn(filled[:, ok], axis=0)
        return out


def _colmin(xd: np.ndarray) -> np.ndarray:
    return _nan_reduce(np.nanmin, xd)


def _colmax(xd: np.ndarray) -> np.ndarray:
    return _nan_reduce(np.nanmax, xd)


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """A zero denominator gives a missing value, never infinity (design/style: NULL guard)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        den = np.where(den == 0, np.nan, den)
        return num / den


def _rank(xd: np.ndarray, ties: str) -> np.ndarray:
    return pd.DataFrame(xd).rank(method=ties, ascending=True, na_option="keep").to_numpy(float)


def _n_minmax(x: np.ndarray, c: NormContext) -> np.ndarray:
    xd = x * c.direction
    lo, hi = _colmin(xd), _colmax(xd)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (xd - lo) / (hi - lo)  # a constant column: 0/0, missing (as in COINr)


def _n_dist_max(x: np.ndarray, c: NormContext) -> np.ndarray:
    xd = x * c.direction
    lo, hi = _colmin(xd), _colmax(xd)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1 - (hi - xd) / (hi - lo)


def _n_zscore(x: np.ndarray, c: NormContext) -> np.ndarray:
    xd = x * c.direction
    m, s = c.opts["zscore_mean_sd"]
    with np.errstate(all="ignore"):
        n = (~np.isnan(xd)).sum(axis=0)
        mean = _nan_reduce(np.nanmean, xd)
        sd = np.where(n > 1, _nan_reduce(lambda a, axis: np.nanstd(a, axis=axis, ddof=1), xd), 0)
        z = (xd - mean) / np.where(sd > 0, sd, np.nan)
    return m + s * z


def _n_fraction_max(x: np.ndarray, c: NormContext) -> np.ndarray:
    """COINr n_fracmax: x' / max x' with x' = x·direction (a negative direction gives values
    ≥ 1 with the best unit at 1: COINr's arithmetic, kept as is)."""
    xd = x * c.direction
    return _divide(xd, _colmax(xd))


def _n_fraction_of_best(x: np.ndarray, c: NormContext) -> np.ndarray:
    """x / max x for higher-is-better, min x / x for lower-is-better: the best unit scores 1."""
    up = c.direction == 1
    return np.where(up, _divide(x, _colmax(x)), _divide(_colmin(x), x))


def _n_percentile_rank(x: np.ndarray, c: NormContext) -> np.ndarray:
    xd = x * c.direction
    n = (~np.isnan(xd)).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 1, (_rank(xd, c.opts["ties"]) - 1) / (n - 1), np.nan)


def _n_rank(x: np.ndarray, c: NormContext) -> np.ndarray:
    return _rank(x * c.direction, c.opts["ties"])


def _n_borda(x: np.ndarray, c: NormContext) -> np.ndarray:
    return _rank(x * c.direction, c.opts["ties"]) - 1


def _n_dist_target(x: np.ndarray, c: NormContext) -> np.ndarray:
    """ratio mode: x / t (lower-is-better: t / x); min mode (COINr n_dist2targ):
    (x' − min x') / (t' − min x') with x' = x·direction, t' = t·direction."""
    d, target = c.direction, c.target
    xd = x * d
    if c.opts["target_mode"] == "ratio":
        y = np.where(d == 1, _divide(x, target), _divide(np.broadcast_to(target, x.shape), x))
        if c.opts["cap_max"]:
            with np.errstate(invalid="ignore"):
                y = np.where(xd >= target * d, 1.0, y)
    else:
        lo = _colmin(xd)
        y = _divide(xd - lo, target * d - lo)
    if c.opts["cap_max"]:
        with np.errstate(invalid="ignore"):
            y = np.where(y > 1, 1.0, y)
    return y


def _n_dist_ref(x: np.ndarray, c: NormContext) -> np.ndarray:
    """COINr n_dist2ref: 1 − (x'_ref − x') / (x'_ref − min x'), the reference unit scores 1."""
    xd = x * c.direction
    ref = xd[c.units.get_loc(c.opts["reference_unit"])]
    with np.errstate(invalid="ignore", divide="ignore"):
        y = 1 - (ref - xd) / (ref - _colmin(xd))
        if c.opts["cap_max"]:
            y = np.where(y > 1, 1.0, y)
    return y


def _n_goalposts(x: np.ndarray, c: NormContext) -> np.ndarray:
    """(x − low) / (high − low), lower-is-better (high − x) / (high − low); truncated to [0, 1]
    unless goalposts_truncate is off (then it is COINr's n_scaled)."""
    lo, hi = c.goal_low, c.goal_high
    with np.errstate(invalid="ignore", divide="ignore"):
        y = np.where(c.direction == 1, (x - lo) / (hi - lo), (hi - x) / (hi - lo))
        if c.opts["goalposts_truncate"]:
            y = np.clip(y, 0.0, 1.0)
    return y


def _n_none(x: np.ndarray, c: NormContext) -> np.ndarray:
    return x * c.direction


_SCALE = (0.0, 100.0)
_UNIT = (0.0, 1.0)
_RANGE = ("norm_low", "norm_high")

_NORMALISER_LIST: tuple[Normaliser, ...] = (
    Normaliser("minmax", _RANGE, coinr="n_minmax", fn=_n_minmax, bounds=_SCALE),
    Normaliser("zscore", ("zscore_mean_sd",), coinr="n_zscore", fn=_n_zscore),
    Normaliser("dist_max", _RANGE, coinr="n_dist2max", fn=_n_dist_max, bounds=_SCALE),
    Normaliser("fraction_max", _RANGE, coinr="n_fracmax", fn=_n_fraction_max, bounds=_SCALE),
    Normaliser("fraction_of_best", _RANGE, fn=_n_fraction_of_best, bounds=_SCALE),
    Normaliser(
        "percentile_rank",
        (*_RANGE, "ties"),
        coinr="n_prank",
        fn=_n_percentile_rank,
        bounds=_SCALE,
    ),
    Normaliser("rank", ("ties",), coinr="n_rank", fn=_n_rank),
    Normaliser("borda", ("ties",), coinr="n_borda", fn=_n_borda),
    Normaliser(
        "dist_target",
        (*_RANGE, "target_mode", "cap_max"),
        frozenset({"target"}),
        fn=_n_dist_target,
        bounds=_SCALE,
    ),
    Normaliser(
        "dist_target_capped",
        (*_RANGE, "target_mode"),
        frozenset({"target"}),
        fixed={"cap_max": True},
        fn=_n_dist_target,
        bounds=_SCALE,
    ),
    Normaliser(
        "dist_ref",
        (*_RANGE, "reference_unit", "cap_max"),
        frozenset({"reference_unit"}),
        coinr="n_dist2ref",
        fn=_n_dist_ref,
        bounds=_SCALE,
    ),
    Normaliser(
        "goalposts",
        (*_RANGE, "goalposts_truncate"),
        frozenset({"goalposts"}),
        coinr="n_goalposts",
        fn=_n_goalposts,
        bounds=_SCALE,
    ),
    Normaliser("none", (), coinr="none", fn=_n_none),
)

# COINr's names: COINr's output range and COINr's fixed choices.
_COINR_NORMALISERS: tuple[tuple[str, str, tuple[float, float] | None, Mapping[str, Any]], ...] = (
    ("n_minmax", "minmax", _SCALE, {}),
    ("n_zscore", "zscore", None, {}),
    ("n_dist2max", "dist_max", _UNIT, {}),
    ("n_fracmax", "fraction_max", _UNIT, {}),
    ("n_prank", "percentile_rank", _UNIT, {}),
    ("n_rank", "rank", None, {}),
    ("n_borda", "borda", None, {}),
    ("n_dist2targ", "dist_target", _UNIT, {"target_mode": "min"}),
    ("n_dist2ref", "dist_ref", _UNIT, {}),
    ("n_goalposts", "goalposts", _UNIT, {}),
    ("n_scaled", "goalposts", (0.0, 100.0), {"goalposts_truncate": False}),
)


def _alias(entry: Method, name: str, **changes: Any) -> Any:
    fixed = {**entry.fixed, **changes.pop("fixed", {})}
    options = tuple(o for o in entry.options if o not in fixed)
    return type(entry)(
        **{
            **{f: getattr(entry, f) for f in entry.__dataclass_fields__},
            "name": name,
            "options": options,
            "fixed": fixed,
            "canonical": entry.name,
            "coinr": name,
            **changes,
        }
    )


def _with_aliases(entries: Sequence[Method], aliases: Sequence[tuple]) -> dict[str, Any]:
    out = {e.name: e for e in entries}
    for alias in aliases:
        name, canonical, *rest = alias
        base = out[canonical]
        changes: dict[str, Any] = {}
        if rest and isinstance(base, Normaliser):
            changes["bounds"], changes["fixed"] = rest[0], rest[1]
        out[name] = _alias(base, name, **changes)
    return out


NORMALISERS: Mapping[str, Normaliser] = _with_aliases(_NORMALISER_LIST, _COINR_NORMALISERS)


# --------------------------------------------------------------------------- aggregators


def _masked(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mask = ~np.isnan(x)
    wm = np.where(mask, w[:, None, :], 0.0)
    return mask, wm, wm.sum(axis=-1)


def _a_arithmetic(x: np.ndarray, w: np.ndarray, opts: Mapping[str, Any]) -> np.ndarray:
    mask, wm, den = _masked(x, w)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.where(mask, x, 0.0) * wm).sum(axis=-1) / den


def _a_geometric(x: np.ndarray, w: np.ndarray, opts: Mapping[str, Any]) -> np.ndarray:
    mask, wm, den = _masked(x, w)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.exp((np.log(np.where(mask, x, 1.0)) * wm).sum(axis=-1) / den)


def _a_harmonic(x: np.ndarray, w: np.ndarray, opts: Mapping[str, Any]) -> np.ndarray:
    mask, wm, den = _masked(x, w)
    with np.errstate(invalid="ignore", divide="ignore"):
        return den / (wm / np.where(mask, x, 1.0)).sum(axis=-1)


def _a_genmean(x: np.ndarray, w: np.ndarray, opts: Mapping[str, Any]) -> np.ndarray:
    p = float(opts["genmean_p"])
    if p == 0:  # the limit is the geometric mean (COINr refuses p = 0)
        return _a_geometric(x, w, opts)
    mask, wm, den = _masked(x, w)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return ((np.where(mask, x, 1.0) ** p * wm).sum(axis=-1) / den) ** (1.0 / p)


_COPELAND_CHUNK = 2_000_000  # max elements of one pairwise comparison block


def _outranking(xs: np.ndarray, wn: np.ndarray, u0: int, u1: int) -> np.ndarray:
    """Rows u0:u1 of COINr's outranking matrix for samples `xs` (samples × units × children):
    the weight share of children where the row unit beats the column unit, plus half the share
    where they tie; a comparison with a missing value counts for neither."""
    a = xs[:, u0:u1, None, :]
    b = xs[:, None, :, :]
    return (((a > b) + 0.5 * (a == b)) * wn[:, None, None, :]).sum(axis=-1)


def _pairwise(x: np.ndarray, w: np.ndarray, score: Callable[..., None]) -> np.ndarray:
    """Walk the outranking matrix in blocks small enough to keep memory bounded."""
    n_s, n_u, n_c = x.shape
    wn = w / w.sum(axis=-1, keepdims=True)
    out = np.empty((n_s, n_u))
    block_u = max(1, min(n_u, _COPELAND_CHUNK // max(1, n_u * n_c)))
    step_s = max(1, _COPELAND_CHUNK // max(1, block_u * n_u * n_c))
    for s0 in range(0, n_s, step_s):
        score(x[s0 : s0 + step_s], wn[s0 : s0 + step_s], out[s0 : s0 + step_s], block_u)
    out[np.isnan(x).all(axis=-1)] = np.nan
    return out


def _a_outranking_sum(x: np.ndarray, w: np.ndarray, opts: Mapping[str, Any]) -> np.ndarray:
    """Σ over the other units of the outranking share (COINr's outranking matrix row sums)."""

    def score(xs: np.ndarray, wn: np.ndarray, out: np.ndarray, block_u: int) -> None:
        n_u = xs.shape[1]
        for u0 in range(0, n_u, block_u):
            orm = _outranking(xs, wn, u0, u0 + block_u)
            own = np.arange(orm.shape[1])
            orm[:, own, u0 + own] = 0.0
            out[:, u0 : u0 + block_u] = orm.sum(axis=-1)

    return _pairwise(x, w, score)


_TIE = 1e-12  # an outranking share this close to ½ is a tie (weights such as ⅓ + ⅙)


def _a_copeland(x: np.ndarray, w: np.ndarray, opts: Mapping[str, Any]) -> np.ndarray:
    """COINr a_copeland: each pair scores +1 to the unit with more than half the (normalised)
    weight in its favour, −1 to the other, 0 on a tie; a unit's score is its integer sum.
    As in COINr, the lower triangle of the outranking matrix is 1 − the upper one, so with
    missing values a pair's two shares need not add to 1."""

    def score(xs: np.ndarray, wn: np.ndarray, out: np.ndarray, block_u: int) -> None:
        n_u = xs.shape[1]
        upper = np.empty((xs.shape[0], n_u, n_u))
        for u0 in range(0, n_u, block_u):
            upper[:, u0 : u0 + block_u] = _outranking(xs, wn, u0, u0 + block_u)
        i, j = np.triu_indices(n_u, 1)
        orm = np.zeros_like(upper)
        orm[:, i, j] = upper[:, i, j]
        orm[:, j, i] = 1.0 - upper[:, i, j]
        sign = np.where(orm > 0.5 + _TIE, 1.0, np.where(orm < 0.5 - _TIE, -1.0, 0.0))
        sign[:, np.arange(n_u), np.arange(n_u)] = 0.0
        out[:] = sign.sum(axis=-1)

    return _pairwise(x, w, score)


def _genmean_domain(opts: Mapping[str, Any]) -> str:
    return "nonnegative" if float(opts["genmean_p"]) > 0 else "positive"


_ROW_OPTS = ("aggregate_min_coverage",)
_POSITIVE_OPTS = ("nonpositive",)

_AGGREGATOR_LIST: tuple[Aggregator, ...] = (
    Aggregator("arithmetic", _ROW_OPTS, coinr="a_amean", fn=_a_arithmetic),
    Aggregator(
        "geometric",
        (*_ROW_OPTS, *_POSITIVE_OPTS),
        coinr="a_gmean",
        fn=_a_geometric,
        domain=lambda opts: "positive",
    ),
    Aggregator(
        "harmonic",
        (*_ROW_OPTS, *_POSITIVE_OPTS),
        coinr="a_hmean",
        fn=_a_harmonic,
        domain=lambda opts: "positive",
    ),
    Aggregator(
        "genmean",
        (*_ROW_OPTS, "genmean_p", *_POSITIVE_OPTS),
        coinr="a_genmean",
        fn=_a_genmean,
        domain=_genmean_domain,
    ),
    Aggregator("copeland", (), coinr="a_copeland", fn=_a_copeland, pairwise=True),
    Aggregator("outranking_sum", (), fn=_a_outranking_sum, pairwise=True),
)
AGGREGATORS: Mapping[str, Aggregator] = _with_aliases(
    _AGGREGATOR_LIST,
    [
        ("a_amean", "arithmetic"),
        ("a_gmean", "geometric"),
        ("a_hmean", "harmonic"),
        ("a_genmean", "genmean"),
        ("a_copeland", "copeland"),
    ],
)


# --------------------------------------------------------------------------- imputers


def _i_none(data: pd.DataFrame, c: ImputeContext) -> pd.DataFrame:
    return data.copy()


def _i_mean(data: pd.DataFrame, c: ImputeContext) -> pd.DataFrame:
    return data.fillna(data.mean())


def _i_median(data: pd.DataFrame, c: ImputeContext) -> pd.DataFrame:
    return data.fillna(data.median())


def _by_group(stat: str) -> Callable[[pd.DataFrame, ImputeContext], pd.DataFrame]:
    def impute(data: pd.DataFrame, c: ImputeContext) -> pd.DataFrame:
        keys = c.groups.reindex(data.index)  # presence checked by the engine
        return data.fillna(data.groupby(keys, dropna=True).transform(stat))

    return impute


def _i_parent_mean(data: pd.DataFrame, c: ImputeContext) -> pd.DataFrame:
    """COINr impute_by = "row" with i_mean and normalise_first: within each group of indicators
    (the children of one node at `impute_level`), a unit's missing value is the mean of its
    other values on a min-max scale, mapped back to the indicator's own scale."""
    out = data.copy()
    for cols in (c.columns_by_group or {}).values():
        block = data[list(cols)]
        if not block.isna().any().any():
            continue
        d = np.array([c.direction[k] for k in cols], dtype=float)
        xd = block.to_numpy(float) * d
        lo, hi = _colmin(xd), _colmax(xd)
        with np.errstate(invalid="ignore", divide="ignore"):
            scaled = (xd - lo) / (hi - lo)
            row_mean = np.nanmean(np.where(np.isnan(scaled), np.nan, scaled), axis=1)
        filled = np.where(np.isnan(scaled), row_mean[:, None], scaled)
        back = (filled * (hi - lo) + lo) * d
        out[list(cols)] = block.where(block.notna(), pd.DataFrame(back, block.index, block.columns))
    return out


def _i_carry_forward(data: pd.DataFrame, c: ImputeContext) -> pd.DataFrame:
    latest = c.panel_latest  # read by the engine, looking back carry_forward_max_periods
    return data.fillna(latest.reindex(index=data.index, columns=data.columns))


_IMPUTER_LIST: tuple[Imputer, ...] = (
    Imputer("none", coinr="none", fn=_i_none),
    Imputer("mean", coinr="i_mean", fn=_i_mean),
    Imputer("median", coinr="i_median", fn=_i_median),
    Imputer(
        "group_mean",
        ("impute_group",),
        frozenset({"groups"}),
        coinr="i_mean_grp",
        fn=_by_group("mean"),
    ),
    Imputer(
        "group_median",
        ("impute_group",),
        frozenset({"groups"}),
        coinr="i_median_grp",
        fn=_by_group("median"),
    ),
    Imputer("parent_mean", ("impute_level",), frozenset({"hierarchy"}), fn=_i_parent_mean),
    Imputer(
        "carry_forward",
        ("carry_forward_max_periods",),
        frozenset({"panel"}),
        coinr="impute_panel",
        fn=_i_carry_forward,
    ),
)
IMPUTERS: Mapping[str, Imputer] = _with_aliases(
    _IMPUTER_LIST,
    [
        ("i_mean", "mean"),
        ("i_median", "median"),
        ("i_mean_grp", "group_mean"),
        ("i_median_grp", "group_median"),
    ],
)

REGISTRIES: Mapping[str, Mapping[str, Method]] = {
    "normalise": NORMALISERS,
    "aggregate": AGGREGATORS,
    "impute": IMPUTERS,
}


# --------------------------------------------------------------------------- use


def resolved_options(entry: Method, config: Any) -> dict[str, Any]:
    """The entry's options as `config` sets them, with the entry's pinned choices."""
    opts = {name: getattr(config, name) for name in entry.options}
    return {**opts, **entry.fixed}


def bounds(entry: Normaliser, config: Any) -> tuple[float, float]:
    """The output range of a scaled normaliser: the config's, else the entry's own."""
    lo, hi = entry.bounds or _SCALE
    return (
        lo if config.norm_low is None else float(config.norm_low),
        hi if config.norm_high is None else float(config.norm_high),
    )


def method_options(choices: Mapping[str, Any]) -> set[str]:
    """Every option the chosen methods read (choices: step → method name or level map)."""
    used: set[str] = set()
    for step, registry in REGISTRIES.items():
        value = choices.get(step)
        names = value.values() if isinstance(value, Mapping) else [value]
        for name in names:
            if name in registry:
                used.update(registry[name].options)
    if choices.get("normalise") in NORMALISERS and NORMALISERS[choices["normalise"]].scaled:
        used.update(_RANGE)
    if choices.get("treat"):
        used.update(STEP_OPTIONS["treat"])
    used.update(STEP_OPTIONS["screen"])
    return used


@dataclass(frozen=True)
class Problem:
    """A finding about a YAML `method:` block, for the declarations validator to place on a
    file and line: `key` is the offending key, `code` a composite locale key."""

    key: str
    code: str
    values: Mapping[str, Any]


STEP_KEYS = ("normalise", "aggregate", "impute", "treat", "denominate")


def check_method(spec: Mapping[str, Any], extra_keys: Sequence[str] = ()) -> list[Problem]:
    """Every problem of a `method:` mapping: unknown keys (with the nearest known one), bad
    method names, option values of the wrong type or range, and options that no chosen method
    reads (an option that would be silently ignored is refused)."""
    problems: list[Problem] = []
    known = (*STEP_KEYS, *OPTIONS, *extra_keys)
    for key in spec:
        if key not in known:
            near = difflib.get_close_matches(str(key), known, n=1)
            problems.append(
                Problem(
                    key,
                    "E_UNKNOWN_METHOD_KEY",
                    {"name": key, "near": f"（是否应为 {near[0]}？）" if near else ""},
                )
            )
    for step, registry in REGISTRIES.items():
        if step not in spec:
            continue
        value = spec[step]
        names = list(value.values()) if isinstance(value, Mapping) else [value]
        for name in names:
            if not isinstance(name, str) or name not in registry:
                problems.append(
                    Problem(
                        step,
                        "E_BAD_CHOICE",
                        {"field": step, "value": name, "choices": "、".join(registry)},
                    )
                )
    for key, value in spec.items():
        option = OPTIONS.get(key)
        if option is not None and not option.valid(_as_option_value(option, value)):
            rule = option.describe_rule()
            problems.append(
                Problem(
                    key,
                    "E_BAD_CHOICE" if option.kind == "choice" else "E_BAD_RANGE",
                    {"field": key, "value": value, "rule": rule, "choices": rule},
                )
            )
    choices = {s: spec.get(s, _STEP_DEFAULTS[s]) for s in _STEP_DEFAULTS}
    used = method_options(choices)
    for key in spec:
        if key in OPTIONS and key not in used:
            readers = "、".join(n for n in _readers(key)) or "—"
            problems.append(Problem(key, "E_OPTION_NOT_USED", {"name": key, "methods": readers}))
    return problems


_STEP_DEFAULTS: Mapping[str, Any] = {
    "normalise": "minmax",
    "aggregate": "arithmetic",
    "impute": "none",
    "treat": False,
}


def _readers(option: str) -> list[str]:
    out = [
        name
        for registry in REGISTRIES.values()
        for name, entry in registry.items()
        if entry.canonical is None and option in entry.options
    ]
    out += [step for step, opts in STEP_OPTIONS.items() if option in opts]
    return out


def _as_option_value(option: Option, value: Any) -> Any:
    """YAML gives lists for pairs and ints for numbers: accept them as the config does."""
    if option.kind == "pair" and isinstance(value, list):
        return tuple(value)
    if option.kind == "number" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def config_kwargs(spec: Mapping[str, Any]) -> dict[str, Any]:
    """`CompositeConfig` keyword arguments from a checked `method:` mapping."""
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if key in OPTIONS:
            out[key] = _as_option_value(OPTIONS[key], value)
        elif key in ("normalise", "impute"):
            out[key] = str(value)
        elif key == "aggregate":
            out[key] = (
                {int(k): str(v) for k, v in value.items()}
                if isinstance(value, Mapping)
                else str(value)
            )
        elif key == "treat":
            out[key] = bool(value)
    return out


def _default_text(entry: Method, option: str) -> str:
    if option in _RANGE and isinstance(entry, Normaliser) and entry.bounds is not None:
        return f"{entry.bounds[_RANGE.index(option)]:g}"
    return repr(OPTIONS[option].default)


def catalogue(labelled: bool = False) -> pd.DataFrame:
    """The catalogue as a table (step, name, Chinese label, COINr function, needs, options with
    defaults): for the docs and the notebook; `labelled` gives Chinese headers and step names."""
    rows = []
    for step, registry in REGISTRIES.items():
        for name, entry in registry.items():
            opts = [f"{o}={_default_text(entry, o)}" for o in entry.options]
            rows.append(
                {
                    "step": step,
                    "name": name,
                    "label": entry.label,
                    "coinr": entry.coinr or "",
                    "alias_of": entry.canonical or "",
                    "needs": "、".join(sorted(entry.needs)),
                    "options": "; ".join(opts),
                    "fixed": "; ".join(f"{k}={v!r}" for k, v in entry.fixed.items()),
                }
            )
    table = pd.DataFrame(rows)
    if labelled:
        table["step"] = table["step"].map(lambda v: t(f"composite.step.{v}"))
        table = table.rename(columns={c: t(f"composite.catalogue.{c}") for c in table.columns})
    return table
