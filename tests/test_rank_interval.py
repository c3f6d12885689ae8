"""Every published rank interval contains the published rank (hypothesis), and reads as ranks."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.composite import CompositeConfig, Hierarchy, Node
from workbench.uncertainty import rank_interval, rank_uncertainty

PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _tree(n_ind: int) -> Hierarchy:
    half = max(1, n_ind // 2)
    nodes = [Node("IDX", None, 3), Node("P1", "IDX", 2), Node("P2", "IDX", 2, weight=2.0)]
    nodes += [
        Node(f"i{k}", "P1" if k < half else "P2", 1, direction=-1 if k % 3 == 2 else 1)
        for k in range(n_ind)
    ]
    if half >= n_ind:
        nodes.append(Node("extra", "P2", 1))
    return Hierarchy(tuple(nodes))


@st.composite
def problems(draw):
    n_units = draw(st.integers(3, 12))
    n_ind = draw(st.integers(2, 5))
    tree = _tree(n_ind)
    codes = [n.code for n in tree.nodes if n.level == 1]
    values = draw(
        st.lists(
            st.one_of(st.none(), st.floats(0.01, 1000, allow_nan=False)),
            min_size=n_units * len(codes),
            max_size=n_units * len(codes),
        )
    )
    arr = np.array([np.nan if v is None else v for v in values]).reshape(n_units, len(codes))
    for j in range(len(codes)):  # every indicator observed at least twice
        arr[:2, j] = np.where(np.isnan(arr[:2, j]), [1.0, 2.0], arr[:2, j])
    data = pd.DataFrame(arr, columns=codes, index=[f"99{k:04d}" for k in range(n_units)])
    cfg = CompositeConfig(
        normalise=draw(st.sampled_from(["minmax", "zscore", "rank"])),
        aggregate=draw(st.sampled_from(["arithmetic", "geometric"])),
        nonpositive="shift",  # min-max gives zeros, which a geometric mean refuses
    )
    return data, tree, cfg, draw(st.integers(0, 10_000)), draw(st.floats(0.0, 0.9))


@PROPS
@given(problems(), st.integers(5, 60))
def test_every_interval_contains_the_nominal_rank(problem, n_samples):
    data, tree, cfg, seed, noise = problem
    res = rank_uncertainty(data, tree, cfg, n_samples=n_samples, weight_noise=noise, seed=seed)
    s = res.summary.dropna(subset=["nominal_rank"])
    n = len(data)
    assert (s["q05"] <= s["nominal_rank"]).all(), s
    assert (s["nominal_rank"] <= s["q95"]).all(), s
    assert (s["q05"] <= s["median_rank"]).all() and (s["median_rank"] <= s["q95"]).all()
    # bounds are ranks a draw (or the nominal build) gave: whole numbers within 1…n
    for col in ("q05", "q95"):
        assert (s[col] == s[col].round()).all() and s[col].between(1, n).all()


def test_an_unusual_nominal_build_widens_the_interval_by_hand():
    """Ten draws rank a unit 7th or 8th, the nominal build 10th: the 5–95 % interval of the
    draws alone (7–8) would exclude the published rank, so it reaches to 10."""
    ranks = np.array([[7.0]] * 5 + [[8.0]] * 5)
    lo, hi = rank_interval(ranks, np.array([10.0]))
    assert (lo[0], hi[0]) == (7.0, 10.0)
    lo, hi = rank_interval(ranks, np.array([1.0]))
    assert (lo[0], hi[0]) == (1.0, 8.0)
    # inverted CDF: 20 draws, one of them 1 — the 5 % bound is a rank some draw gave (1), the
    # 95 % bound the 19th of 20 sorted (9), never an interpolated 9.55
    ranks = np.array([[1.0]] + [[5.0]] * 17 + [[9.0], [10.0]])
    lo, hi = rank_interval(ranks, np.array([5.0]))
    assert (lo[0], hi[0]) == (1.0, 9.0)
