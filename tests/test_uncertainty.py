"""Rank uncertainty: shape and ordering of the intervals, collapse without noise, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.composite import CompositeConfig, CompositeError, Hierarchy, Node
from workbench.uncertainty import rank_uncertainty

N_UNITS = 8


@pytest.fixture(scope="module")
def problem() -> tuple[pd.DataFrame, Hierarchy]:
    """8 counties × 6 indicators in two pillars; one indicator lower-is-better; a few gaps."""
    rng = np.random.default_rng(7)
    codes = [f"i{k}" for k in range(6)]
    data = pd.DataFrame(
        rng.lognormal(2, 0.5, size=(N_UNITS, 6)),
        columns=codes,
        index=[f"3301{k:02d}" for k in range(N_UNITS)],
    )
    data.iloc[1, 2] = np.nan
    data.iloc[5, 4] = np.nan
    nodes = [Node("IDX", None, 3), Node("P1", "IDX", 2), Node("P2", "IDX", 2, weight=2.0)]
    nodes += [
        Node(c, "P1" if k < 3 else "P2", 1, direction=-1 if k == 4 else 1)
        for k, c in enumerate(codes)
    ]
    return data, Hierarchy(tuple(nodes))


@pytest.fixture(scope="module")
def result(problem):
    data, tree = problem
    return rank_uncertainty(data, tree, CompositeConfig(), n_samples=300, seed=3)


def test_summary_shape_and_interval_order(result) -> None:
    summary = result.summary
    assert len(summary) == N_UNITS
    assert {"unit", "nominal_rank", "median_rank", "q05", "q95"} <= set(summary.columns)
    assert (summary["q05"] <= summary["median_rank"]).all()
    assert (summary["median_rank"] <= summary["q95"]).all()
    assert summary["nominal_rank"].tolist() == sorted(summary["nominal_rank"].tolist())
    assert result.samples.shape == (300, N_UNITS)
    ranks = result.samples.to_numpy()
    assert ranks.min() >= 1 and ranks.max() <= N_UNITS
    assert set(result.draws.columns) == {"normalise", "aggregate", "impute"}
    # with these defaults something must actually move
    assert (summary["q95"] - summary["q05"]).max() > 0


def test_no_noise_and_no_alternatives_collapse_to_nominal(problem) -> None:
    data, tree = problem
    res = rank_uncertainty(
        data, tree, CompositeConfig(), n_samples=50, weight_noise=0.0, alternatives={}
    )
    s = res.summary
    nominal = s["nominal_rank"].astype(float)
    for col in ("median_rank", "q05", "q95"):
        np.testing.assert_array_equal(s[col].to_numpy(), nominal.to_numpy())
    assert (res.samples.nunique() == 1).all()
    assert res.sensitivity.empty or (res.sensitivity["rank_variance"] == 0).all()


def test_same_seed_same_draws_different_seed_different_draws(problem) -> None:
    data, tree = problem
    a = rank_uncertainty(data, tree, n_samples=60, seed=11)
    b = rank_uncertainty(data, tree, n_samples=60, seed=11)
    c = rank_uncertainty(data, tree, n_samples=60, seed=12)
    pd.testing.assert_frame_equal(a.samples, b.samples)
    pd.testing.assert_frame_equal(a.draws, b.draws)
    assert not a.draws.equals(c.draws)


def test_sensitivity_lists_each_factor(result) -> None:
    sens = result.sensitivity
    assert set(sens["factor"]) == {"weights", "normalise", "aggregate", "impute"}
    assert sens["variance_share"].sum() == pytest.approx(1.0)
    assert (sens["mean_abs_rank_shift"] >= 0).all()
    assert sens["variance_share"].is_monotonic_decreasing


def test_only_weights_vary_when_alternatives_empty(problem) -> None:
    data, tree = problem
    res = rank_uncertainty(data, tree, n_samples=100, weight_noise=0.5, alternatives={})
    assert res.sensitivity["factor"].tolist() == ["weights"]
    assert res.draws.shape == (100, 0)


def test_custom_alternatives_and_validation(problem) -> None:
    data, tree = problem
    res = rank_uncertainty(
        data,
        tree,
        n_samples=40,
        weight_noise=0.0,
        alternatives={
            "normalise": ["minmax", "percentile_rank"],
            "aggregate": ["arithmetic", "copeland"],
        },
    )
    assert set(res.draws["aggregate"]) <= {"arithmetic", "copeland"}
    with pytest.raises(CompositeError) as err:
        rank_uncertainty(data, tree, n_samples=10, alternatives={"colour": ["red"]})
    assert err.value.issues[0].code == "composite.E_UNKNOWN_FACTOR"
    with pytest.raises(CompositeError):
        rank_uncertainty(data, tree, n_samples=10, alternatives={"normalise": ["magic"]})
    with pytest.raises(CompositeError):
        rank_uncertainty(data, tree, n_samples=10, weight_noise=1.5)


def test_figure_and_html(result) -> None:
    fig = result.figure()
    assert len(fig.data) == 2
    assert list(fig.data[0].y) == result.summary["unit"].astype(str).tolist()
    page = result._repr_html_()
    assert "<table" in page and "排名中位数" in page


def test_the_nominal_choice_is_always_among_the_alternatives(problem) -> None:
    """An index scored by goalposts must count goalposts among its draws: with nothing else
    varied, every draw is the nominal build and each interval is the county's own rank (the
    default alternatives used to leave goalposts out, so intervals could miss the rank)."""
    from workbench.uncertainty import default_alternatives

    data, tree = problem
    goal = {c: (0.0, float(data[c].max()) * 1.1) for c in data.columns}
    tree = Hierarchy(
        tuple(
            Node(
                n.code,
                n.parent,
                n.level,
                weight=n.weight,
                direction=n.direction,
                goalposts=goal.get(n.code),
            )
            for n in tree.nodes
        )
    )
    cfg = CompositeConfig(normalise="goalposts", aggregate="geometric", impute="mean")
    alts = default_alternatives(cfg)
    assert alts["normalise"][0] == "goalposts" and "minmax" in alts["normalise"]
    assert alts["aggregate"][0] == "geometric" and alts["impute"][0] == "mean"
    only_nominal = {k: v[:1] for k, v in alts.items()}
    res = rank_uncertainty(
        data, tree, cfg, n_samples=50, weight_noise=0.0, alternatives=only_nominal, seed=1
    )
    s = res.summary
    assert (s["q05"] == s["nominal_rank"]).all() and (s["q95"] == s["nominal_rank"]).all()


def test_aggregation_only_fields_come_from_the_catalogue() -> None:
    """Every aggregator option reuses the normalised data; nothing upstream does."""
    from workbench.composite_methods import AGGREGATORS, NORMALISERS
    from workbench.uncertainty import AGGREGATION_FIELDS

    for entry in AGGREGATORS.values():
        assert set(entry.options) <= AGGREGATION_FIELDS
    upstream = {o for e in NORMALISERS.values() for o in e.options} | {"normalise", "impute"}
    assert not upstream & AGGREGATION_FIELDS


def test_catalogue_names_and_options_as_factors(problem) -> None:
    """COINr names, the new Copeland and catalogue options are valid factors and every draw
    ranks every unit."""
    data, tree = problem
    res = rank_uncertainty(
        data,
        tree,
        CompositeConfig(impute="mean", norm_low=1.0),
        n_samples=60,
        seed=5,
        alternatives={
            "aggregate": ["a_amean", "copeland", "genmean"],
            "genmean_p": [0.5, 2.0],
            "ties": ["min", "average"],
        },
    )
    assert set(res.draws["aggregate"]) <= {"a_amean", "copeland", "genmean"}
    assert set(res.sensitivity["factor"]) >= {"aggregate", "genmean_p", "ties"}
    assert res.samples.notna().all().all()
