"""Kendall's tau-b and its p-value the O(n²) way: every pair of units compared, as R's cor does.

This is the workbench's computation before Knight's algorithm replaced it (analysis._kendall at
eb5d56b), kept here as an independent reference for tests and benchmarks, not in the package:
it shares no code with the fast one (the exact null distribution is copied too). Memory grows
as n² (≈ 250 MB at 3,000 units).
"""

from __future__ import annotations

import math

import numpy as np


def exact_cdf(n: int) -> np.ndarray:
    """P(T <= k), k = 0 … n(n−1)/2, for T the concordant pairs of n untied pairs under
    independence: the inversions of a random permutation, built one element at a time."""
    prob = np.ones(1)
    for i in range(2, n + 1):
        nxt = np.zeros(len(prob) + i - 1)
        for j in range(i):
            nxt[j : j + len(prob)] += prob
        prob = nxt / i
    return np.cumsum(prob)


def kendall(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Tau-b and R cor.test's default two-sided p-value of complete pairs (a, b): exact below
    50 pairs without ties, else normal with the tie-corrected variance."""
    n = len(a)
    iu = np.triu_indices(n, 1)
    sa = np.sign(np.subtract.outer(a, a)[iu])
    sb = np.sign(np.subtract.outer(b, b)[iu])
    s = float((sa * sb).sum())  # concordant − discordant pairs
    pairs_a, pairs_b = float(np.count_nonzero(sa)), float(np.count_nonzero(sb))
    if pairs_a == 0 or pairs_b == 0:
        return math.nan, math.nan
    tau = s / math.sqrt(pairs_a * pairs_b)
    ties_a = np.unique(a, return_counts=True)[1]
    ties_b = np.unique(b, return_counts=True)[1]
    tied = (ties_a > 1).any() or (ties_b > 1).any()
    if n < 50 and not tied:
        q = round((tau + 1) * n * (n - 1) / 4)  # concordant pairs
        cdf = exact_cdf(n)
        p = 1 - cdf[q - 1] if q > n * (n - 1) / 4 else cdf[q]
        return tau, min(2 * float(p), 1.0)
    ta, tb = ties_a[ties_a > 1].astype(float), ties_b[ties_b > 1].astype(float)
    var = (
        (n * (n - 1) * (2 * n + 5) - (ta * (ta - 1) * (2 * ta + 5)).sum())
        - (tb * (tb - 1) * (2 * tb + 5)).sum()
    ) / 18
    var += (ta * (ta - 1)).sum() * (tb * (tb - 1)).sum() / (2 * n * (n - 1))
    if n > 2:
        var += (
            (ta * (ta - 1) * (ta - 2)).sum()
            * (tb * (tb - 1) * (tb - 2)).sum()
            / (9 * n * (n - 1) * (n - 2))
        )
    if var <= 0:
        return tau, math.nan
    return tau, math.erfc(abs(s) / math.sqrt(var) / math.sqrt(2))


def pair(x: np.ndarray, y: np.ndarray) -> tuple[float, int, float]:
    """Tau-b, complete pairs and p-value of two columns on their complete cases, as
    analysis._pair does for Kendall."""
    ok = ~(np.isnan(x) | np.isnan(y))
    n = int(ok.sum())
    if n < 2:
        return math.nan, n, math.nan
    tau, p = kendall(x[ok], y[ok])
    return tau, n, p
