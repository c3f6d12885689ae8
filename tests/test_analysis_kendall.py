"""Kendall's tau-b by Knight's algorithm against the O(n²) pair-by-pair reference.

The reference (tests/kendall_reference.py) is the workbench's former computation, which matches
R's cor.test (tests/test_analysis.py holds both to COINr and R). Here the fast one must give the
same tau-b, number of pairs and p-value on columns full of ties, missing values, constants and
infinities, and the hand-worked examples below.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tests import kendall_reference as reference
from workbench import analysis

TOL = 1e-12
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NAN = st.just(math.nan)
FEW_LEVELS = st.integers(-2, 2).map(float)  # five values: ties everywhere
MANY_LEVELS = st.integers(0, 40).map(float)
REALS = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, allow_subnormal=False)
INFINITE = st.sampled_from([math.inf, -math.inf])


@st.composite
def column(draw: st.DrawFn, n: int) -> np.ndarray:
    """A column of n values: few or many tied levels, distinct reals, a constant, or a mix;
    sometimes missing values, rarely infinities."""
    kind = draw(st.sampled_from(["few", "many", "reals", "constant", "mixed"]))
    if kind == "constant":
        value = draw(REALS)
        values = st.one_of(st.just(value), NAN) if draw(st.booleans()) else st.just(value)
    else:
        base = {"few": FEW_LEVELS, "many": MANY_LEVELS, "reals": REALS}.get(
            kind, st.one_of(FEW_LEVELS, REALS)
        )
        extras = []
        if draw(st.booleans()):
            extras.append(NAN)
        if draw(st.integers(0, 9)) == 0:
            extras.append(INFINITE)
        values = st.one_of(base, *extras) if extras else base
    return draw(arrays(np.float64, n, elements=values))


@st.composite
def pair_of_columns(draw: st.DrawFn, max_n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(2, max_n))
    return draw(column(n)), draw(column(n))


def same(got: float, want: float) -> bool:
    if math.isnan(want):
        return math.isnan(got)
    return abs(got - want) <= TOL


def reference_pair(x: np.ndarray, y: np.ndarray) -> tuple[float, int, float]:
    with np.errstate(invalid="ignore"):  # ∞ − ∞ in the pairwise differences
        return reference.pair(x, y)


@PROPS
@given(pair_of_columns())
def test_tau_b_and_p_value_equal_the_pairwise_reference(columns) -> None:
    x, y = columns
    got = analysis.correlate(pd.DataFrame({"x": x, "y": y}), [("x", "y")], "kendall").iloc[0]
    tau, n, p = reference_pair(x, y)
    assert got["n"] == n
    assert same(got["correlation"], tau), (got["correlation"], tau)
    assert same(got["p_value"], p), (got["p_value"], p)


@PROPS
@given(pair_of_columns(max_n=49))
def test_the_exact_branch_equals_the_reference(columns) -> None:
    """Below 50 complete pairs without ties, R's exact null distribution: the fast count's
    concordant pairs must index it as the reference's did."""
    x, y = columns
    x = np.argsort(x, kind="stable").astype(float)  # distinct values, in a drawn order
    y = np.argsort(y, kind="stable").astype(float)
    got = analysis.correlate(pd.DataFrame({"x": x, "y": y}), [("x", "y")], "kendall").iloc[0]
    tau, _, p = reference_pair(x, y)
    assert same(got["correlation"], tau) and same(got["p_value"], p)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(2, 60).flatmap(lambda n: st.lists(column(n), min_size=2, max_size=4)))
def test_the_p_value_matrix_equals_the_reference(cols) -> None:
    data = pd.DataFrame({f"c{i}": c for i, c in enumerate(cols)})
    got = analysis.pvalues(data, method="kendall").to_numpy()
    for i, a in enumerate(data.columns):
        for j, b in enumerate(data.columns):
            want = 0.0 if i == j else reference_pair(data[a].to_numpy(), data[b].to_numpy())[2]
            assert same(got[i, j], want), (a, b, got[i, j], want)


@PROPS
@given(st.lists(st.integers(-3, 6), min_size=0, max_size=120))
def test_discordant_pairs_are_the_strict_inversions(ranks) -> None:
    want = sum(ranks[i] > ranks[j] for i in range(len(ranks)) for j in range(i + 1, len(ranks)))
    assert analysis._discordant_pairs(np.array(ranks, dtype=np.int64)) == want


def kendall(x: list[float], y: list[float]) -> pd.Series:
    frame = pd.DataFrame({"x": x, "y": y}, dtype=float)
    return analysis.correlate(frame, [("x", "y")], "kendall").iloc[0]


def test_a_small_example_with_ties_by_hand() -> None:
    # x = 1 2 2 3 4, y = 1 3 2 2 5 (the NaN row is dropped). Of the 10 pairs, (2,3) [units 2,3]
    # is tied in x, (3,4) tied in y, (2,4) discordant (x up, y down), the other 7 concordant:
    # S = 7 − 1 = 6, tau-b = 6 / sqrt((10 − 1)(10 − 1)) = 2/3.
    # Ties → normal approximation: var = (5·4·15 − 2·1·9 − 2·1·9)/18 + (2·2)/(2·5·4) + 0
    # = 264/18 + 1/10 = 443/30; z = 6 / sqrt(443/30) = 1.5614 (R: z = 1.5614, p = 0.1184).
    got = kendall([1, 2, 2, 3, math.nan, 4], [1, 3, 2, 2, 7, 5])
    assert got["n"] == 5
    assert got["correlation"] == pytest.approx(2 / 3, abs=TOL)
    assert got["p_value"] == pytest.approx(math.erfc(6 / math.sqrt(443 / 30) / math.sqrt(2)))
    assert got["p_value"] == pytest.approx(0.1184, abs=5e-5)


def test_a_small_exact_example_by_hand() -> None:
    # y = 1 3 2 4 against 1 2 3 4: 5 concordant, 1 discordant, tau = 4/6. Under independence
    # the concordant pairs of 4 are the inversions of a permutation of 4 (counts 1 3 5 6 5 3 1
    # of 24): P(T >= 5) = 4/24, two-sided 1/3 (R: cor.test(1:4, c(1, 3, 2, 4), "kendall")).
    got = kendall([1, 2, 3, 4], [1, 3, 2, 4])
    assert got["correlation"] == pytest.approx(2 / 3, abs=TOL)
    assert got["p_value"] == pytest.approx(1 / 3, abs=TOL)


def test_a_constant_column_or_too_few_pairs_give_no_correlation() -> None:
    constant = kendall([5, 5, 5, 5], [1, 2, 3, 4])
    assert constant["n"] == 4 and math.isnan(constant["correlation"])
    assert math.isnan(constant["p_value"])
    one = kendall([1, math.nan, 3], [2, 4, math.nan])
    assert one["n"] == 1 and math.isnan(one["correlation"]) and math.isnan(one["p_value"])


def test_a_perfectly_discordant_column_with_ties_in_both() -> None:
    # x = 1 1 2 2, y = 2 2 1 1: the 4 pairs across the groups are discordant, the 2 within are
    # tied in both: tau-b = −4 / sqrt((6 − 2)(6 − 2)) = −1.
    got = kendall([1, 1, 2, 2], [2, 2, 1, 1])
    assert got["correlation"] == pytest.approx(-1.0, abs=TOL)
