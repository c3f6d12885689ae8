"""Rank uncertainty: how far a unit's rank moves when defensible method choices change.

Monte Carlo over the choices the OECD/JRC Handbook asks to test (design/indicators.md §C step 7):
each sample multiplies every node weight by an independent U(1 − noise, 1 + noise) factor and
draws one value per alternative factor (defaults: normalise ∈ {minmax, zscore, rank}, aggregate
∈ {arithmetic, geometric}, impute ∈ {config.impute, mean, median}). `alternatives=None` means the
defaults; `{}` means no alternatives (weights only). Keys are CompositeConfig field names.

Speed: the expensive part (impute → treat → normalise) runs once per distinct combination of
pre-aggregation choices; the weight draws of all samples sharing a combination are aggregated in
one numpy batch. Draws that aggregate geometrically use nonpositive="shift" (see composite.py)
unless `nonpositive` is itself a factor, because min-max and z-scores contain zeros/negatives.
Which config fields act only after normalisation (so a change reuses the normalised data) is read
from the method catalogue: the aggregators' options, plus the aggregation choice and weights.

Sensitivity is one-at-a-time around the nominal build: for each factor alone (weights: the same
weight draws; a discrete factor: each of its values once), the mean absolute rank shift from the
nominal rank and the rank variance (averaged over units); `variance_share` is a factor's variance
over the sum across factors — a plain "which choice moves ranks most", not a Sobol index.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench.composite import (
    CompositeConfig,
    CompositeResult,
    Hierarchy,
    _aggregate_arrays,
    _Plan,
    _prepare,
    build_composite,
)
from workbench.composite_methods import AGGREGATORS
from workbench.composite_methods import issue as _issue
from workbench.composite_methods import raise_issues as _raise
from workbench.messages import t

logger = logging.getLogger(__name__)

DEFAULT_NORMALISERS = ("minmax", "zscore", "rank")
DEFAULT_AGGREGATORS = ("arithmetic", "geometric")
# Config fields that act only after normalisation: changing them reuses the normalised data.
AGGREGATION_FIELDS = frozenset(
    {"aggregate", "weights", "grade_bands"}
    | {option for entry in AGGREGATORS.values() for option in entry.options}
)


def default_alternatives(config: CompositeConfig) -> dict[str, tuple[Any, ...]]:
    """The Handbook's usual suspects, each factor with the nominal choice kept as one option
    (a ranking by goalposts must be among the draws, or its interval can miss its own rank)."""
    return {
        "normalise": _with_nominal(config.normalise, DEFAULT_NORMALISERS),
        "aggregate": _with_nominal(config.aggregate, DEFAULT_AGGREGATORS),
        "impute": _with_nominal(config.impute, ("mean", "median")),
    }


def _with_nominal(nominal: Any, options: Sequence[Any]) -> tuple[Any, ...]:
    return (nominal, *(o for o in options if o != nominal))


def _resolve_alternatives(
    alternatives: Mapping[str, Sequence] | None, config: CompositeConfig
) -> dict[str, tuple[Any, ...]]:
    factors = (
        default_alternatives(config)
        if alternatives is None
        else {name: tuple(values) for name, values in alternatives.items()}
    )
    fields = [f.name for f in dataclasses.fields(CompositeConfig)]
    issues = []
    for name, values in factors.items():
        if name not in fields:
            issues.append(_issue("E_UNKNOWN_FACTOR", None, factor=name, choices="、".join(fields)))
        elif not values:
            issues.append(_issue("E_EMPTY_FACTOR", None, factor=name))
    _raise(issues)
    for name, values in factors.items():
        for value in values:
            dataclasses.replace(config, **{name: value})  # validates the choice up front
    return factors


def _key(cfg: CompositeConfig, names: Sequence[str]) -> str:
    return repr(tuple((n, getattr(cfg, n)) for n in names))


@dataclass(frozen=True, eq=False)
class UncertaintyResult:
    """Rank intervals per unit, the raw draws, and which factor moves ranks most."""

    summary: pd.DataFrame
    samples: pd.DataFrame
    sensitivity: pd.DataFrame
    draws: pd.DataFrame
    nominal: CompositeResult
    weight_noise: float
    seed: int

    @property
    def n_samples(self) -> int:
        return len(self.samples)

    def figure(self) -> Any:
        """Plotly chart: each unit's median rank with its 5–95% interval and nominal rank."""
        import plotly.graph_objects as go

        s = self.summary.sort_values("nominal_rank", na_position="last")
        units = s["unit"].astype(str).tolist()
        median = s["median_rank"].to_numpy(dtype=float)
        fig = go.Figure()
        fig.add_trace(
            go.Scatter(
                x=median,
                y=units,
                mode="markers",
                name=t("composite.uncertainty.median_rank"),
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": s["q95"].to_numpy(dtype=float) - median,
                    "arrayminus": median - s["q05"].to_numpy(dtype=float),
                },
                hovertemplate="%{y}: %{x}<extra></extra>",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=s["nominal_rank"].astype(float).to_numpy(),
                y=units,
                mode="markers",
                marker={"symbol": "diamond-open", "size": 9},
                name=t("composite.uncertainty.nominal_rank"),
            )
        )
        fig.update_layout(
            title=t("composite.uncertainty.title", n=self.n_samples),
            xaxis_title=t("composite.label.rank"),
            yaxis={"autorange": "reversed", "title": t("composite.label.unit")},
            height=max(300, 22 * len(units) + 120),
            legend={"orientation": "h"},
        )
        return fig

    def _repr_html_(self) -> str:
        summary = self.summary.rename(
            columns={
                "unit": t("composite.label.unit"),
                "nominal_rank": t("composite.uncertainty.nominal_rank"),
                "median_rank": t("composite.uncertainty.median_rank"),
            }
        )
        sens = self.sensitivity.assign(
            factor=[t(f"composite.factor.{f}") for f in self.sensitivity["factor"]]
        ).rename(
            columns={
                "factor": t("composite.uncertainty.factor"),
                "mean_abs_rank_shift": t("composite.uncertainty.mean_abs_rank_shift"),
                "variance_share": t("composite.uncertainty.variance_share"),
            }
        )
        title = html.escape(t("composite.uncertainty.title", n=self.n_samples))
        return (
            f"<div><h4>{title}</h4>"
            f"{summary.to_html(index=False, float_format=lambda v: f'{v:.1f}', na_rep='—')}"
            f"<h5>{html.escape(t('composite.uncertainty.sensitivity'))}</h5>"
            f"{sens.to_html(index=False, float_format=lambda v: f'{v:.3f}')}</div>"
        )


def _rank_rows(scores: np.ndarray) -> np.ndarray:
    """Rank each row (sample) descending, ties → lowest rank, like composite.rank_desc."""
    return (
        pd.DataFrame(scores)
        .rank(axis=1, ascending=False, method="min", na_option="keep")
        .to_numpy(dtype=float)
    )


def rank_interval(ranks: np.ndarray, nominal_rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 5–95 % rank interval of each unit (columns of `ranks`, one row per draw), widened to
    hold the unit's nominal rank.

    The bounds are ranks some draw gave (the inverted-CDF quantile, so never 9.55 for a rank),
    and the interval always contains the rank the unit is published with: when the nominal
    build is itself unusual among the draws (it is one choice of many), the interval reaching
    it says so, instead of printing "ranked 10th, interval 7–9"."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo = np.nanquantile(ranks, 0.05, axis=0, method="inverted_cdf")
        hi = np.nanquantile(ranks, 0.95, axis=0, method="inverted_cdf")
    nominal = np.asarray(nominal_rank, dtype=float)
    return np.fmin(lo, nominal), np.fmax(hi, nominal)


def rank_uncertainty(
    data: pd.DataFrame,
    hierarchy: Hierarchy,
    config: CompositeConfig | None = None,
    n_samples: int = 1000,
    weight_noise: float = 0.25,
    alternatives: Mapping[str, Sequence] | None = None,
    seed: int = 0,
    groups: pd.Series | None = None,
    *,
    denominators: pd.DataFrame | None = None,
    denominator_map: Mapping[str, str] | None = None,
    panel: pd.DataFrame | Mapping[Any, pd.DataFrame] | None = None,
) -> UncertaintyResult:
    """Monte Carlo rank intervals for the top index (see module docstring for the design)."""
    config = config if config is not None else CompositeConfig()
    issues = []
    if n_samples < 1:
        issues.append(_issue("E_BAD_RANGE", None, field="n_samples", value=n_samples, rule="≥ 1"))
    if not 0 <= weight_noise <= 1:
        issues.append(
            _issue("E_BAD_RANGE", None, field="weight_noise", value=weight_noise, rule="0–1")
        )
    _raise(issues)
    factors = _resolve_alternatives(alternatives, config)
    nominal = build_composite(data, hierarchy, config, groups, denominators, denominator_map, panel)
    units = nominal.scores.index
    nominal_rank = nominal.ranks[nominal.index_code].astype(float).to_numpy()
    tree = hierarchy.with_weights(config.weights)
    plan = _Plan.of(tree)
    top_pos = plan.codes.index(tree.top)
    shift_draws = "nonpositive" not in factors
    pre_fields = [
        f.name for f in dataclasses.fields(CompositeConfig) if f.name not in AGGREGATION_FIELDS
    ]
    norm_cache: dict[str, np.ndarray] = {}
    weight_cache: dict[str, np.ndarray] = {}

    def normalised(cfg: CompositeConfig) -> np.ndarray:
        key = _key(cfg, pre_fields)
        if key not in norm_cache:
            prepared = _prepare(data, tree, cfg, groups, denominators, denominator_map, panel)
            frame = prepared.stages["normalised"].reindex(units)
            norm_cache[key] = frame[list(tree.indicators)].to_numpy(dtype=float)
        return norm_cache[key]

    def base_weights(cfg: CompositeConfig) -> np.ndarray:
        key = repr(cfg.weights)
        if key not in weight_cache:
            weight_cache[key] = _Plan.of(hierarchy.with_weights(cfg.weights)).weights
        return weight_cache[key]

    def top_scores(cfg: CompositeConfig, multipliers: np.ndarray) -> np.ndarray:
        if shift_draws:
            cfg = dataclasses.replace(cfg, nonpositive="shift")
        weights = base_weights(cfg)[None, :] * multipliers
        values = _aggregate_arrays(normalised(cfg), plan, weights, cfg.level_methods(tree), cfg)
        return values[:, :, top_pos]

    rng = np.random.default_rng(seed)
    names = list(factors)
    choices = (
        np.column_stack([rng.integers(len(factors[n]), size=n_samples) for n in names])
        if names
        else np.zeros((n_samples, 0), dtype=int)
    )
    n_nodes = len(plan.codes)
    multipliers = (
        rng.uniform(1 - weight_noise, 1 + weight_noise, size=(n_samples, n_nodes))
        if weight_noise > 0
        else np.ones((n_samples, n_nodes))
    )

    scores = np.full((n_samples, len(units)), np.nan)
    combos, inverse = np.unique(choices, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).reshape(-1)
    for c, combo in enumerate(combos):
        idx = np.flatnonzero(inverse == c)
        cfg = dataclasses.replace(
            config, **{n: factors[n][i] for n, i in zip(names, combo, strict=True)}
        )
        scores[idx] = top_scores(cfg, multipliers[idx])
    ranks = _rank_rows(scores)
    logger.info("rank uncertainty: %d samples, %d method combinations", n_samples, len(combos))

    samples = pd.DataFrame(ranks, columns=units, index=pd.RangeIndex(n_samples, name="sample"))
    q05, q95 = rank_interval(ranks, nominal_rank)
    # the draws stay raw (analysis); the interval also holds the rank the unit is published
    # with (composite.published_rank: equal printed scores 并列), which is never worse than
    # `nominal_rank`, so no face prints "第1名" beside an interval 第2–3名
    published = nominal.published_ranks[nominal.index_code].astype(float).to_numpy()
    q05 = np.fmin(q05, published)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        summary = pd.DataFrame(
            {
                "unit": units,
                "nominal_rank": nominal.ranks[nominal.index_code].to_numpy(),
                "median_rank": np.nanmedian(ranks, axis=0),
                "q05": q05,
                "q95": q95,
                "nominal_score": nominal.scores[nominal.index_code].to_numpy(),
                "mean_rank": np.nanmean(ranks, axis=0),
            }
        )
    summary = summary.sort_values(["nominal_rank", "unit"], na_position="last", ignore_index=True)
    draws = pd.DataFrame(
        {n: [_label(factors[n][i]) for i in choices[:, j]] for j, n in enumerate(names)},
        index=samples.index,
    )

    sensitivity = _sensitivity(config, factors, multipliers, weight_noise, nominal_rank, top_scores)
    return UncertaintyResult(
        summary=summary,
        samples=samples,
        sensitivity=sensitivity,
        draws=draws,
        nominal=nominal,
        weight_noise=weight_noise,
        seed=seed,
    )


def _label(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def _sensitivity(
    config: CompositeConfig,
    factors: Mapping[str, tuple[Any, ...]],
    multipliers: np.ndarray,
    weight_noise: float,
    nominal_rank: np.ndarray,
    top_scores: Any,
) -> pd.DataFrame:
    """One-at-a-time: each factor varied alone around the nominal build."""
    rows = []

    def row(factor: str, ranks: np.ndarray) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            shift = float(np.nanmean(np.abs(ranks - nominal_rank[None, :])))
            variance = float(np.nanmean(np.nanvar(ranks, axis=0)))
        rows.append(
            {
                "factor": factor,
                "n_options": len(ranks),
                "mean_abs_rank_shift": shift,
                "rank_variance": variance,
            }
        )

    if weight_noise > 0:
        row("weights", _rank_rows(top_scores(config, multipliers)))
    ones = np.ones((1, multipliers.shape[1]))
    for name, values in factors.items():
        per_value = [
            _rank_rows(top_scores(dataclasses.replace(config, **{name: v}), ones))[0]
            for v in values
        ]
        row(name, np.vstack(per_value))
    frame = pd.DataFrame(
        rows, columns=["factor", "n_options", "mean_abs_rank_shift", "rank_variance"]
    )
    total = frame["rank_variance"].sum()
    frame["variance_share"] = frame["rank_variance"] / total if total > 0 else 0.0
    return frame.sort_values("variance_share", ascending=False, ignore_index=True)
