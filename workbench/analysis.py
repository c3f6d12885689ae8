"""The analyst's toolkit: what an analyst shows before a leader signs a framework.

Indicator statistics (COINr `get_stats`), correlations within a parent, with the parent, across
levels and with every ancestor, with p-values (COINr `get_corr`, `get_pvals`), Cronbach's alpha
per node (COINr `get_cronbach`) and PCA per node with the variance each component explains and
PCA-derived weights (COINr `get_PCA`). Each reproduces COINr 1.1.14 on its ASEM example
(tests/test_analysis.py, against COINr's own output). Pure: tables in, tables out; `Tables` saves
itself as Excel or CSV with Chinese headers.

Data: one row per unit, one column per node code. `node_data(result, stage)` gives it for a
built index: the indicators at a pipeline stage (raw, …, normalised) beside every aggregate.
"""

from __future__ import annotations

import html
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench import fmt
from workbench.composite import CompositeResult, Hierarchy
from workbench.composite_methods import issue, raise_issues
from workbench.messages import t
from workbench.privacy import excel_safe_frame

logger = logging.getLogger(__name__)

CORRELATION_METHODS = ("pearson", "spearman", "kendall")


def node_data(result: CompositeResult, stage: str = "normalised") -> pd.DataFrame:
    """Every node of a built index as columns: indicators at `stage`, aggregates' scores."""
    if stage not in result.stages:
        raise_issues(
            [
                issue(
                    "E_BAD_CHOICE",
                    None,
                    field="stage",
                    value=stage,
                    choices="、".join(result.stages),
                )
            ]
        )
    indicators = result.stages[stage]
    aggregated = result.stages["aggregated"]
    aggregates = [c for c in aggregated.columns if c not in indicators.columns]
    return pd.concat([indicators, aggregated.loc[indicators.index, aggregates]], axis=1)


# --------------------------------------------------------------------------- statistics


def _skew(x: np.ndarray) -> float:
    """Bias-corrected sample skewness (COINr skew, from e1071): needs 3 points."""
    n = len(x)
    if n < 3:
        return math.nan
    d = x - x.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        g = math.sqrt(n) * (d**3).sum() / (d**2).sum() ** 1.5
    return float(g * math.sqrt(n * (n - 1)) / (n - 2))


def _kurt(x: np.ndarray) -> float:
    """Bias-corrected excess kurtosis (COINr kurt, from e1071): needs 4 points."""
    n = len(x)
    if n < 4:
        return math.nan
    d = x - x.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        r = n * (d**4).sum() / (d**2).sum() ** 2
    return float(((n + 1) * (r - 3) + 6) * (n - 1) / ((n - 2) * (n - 3)))


def indicator_stats(
    data: pd.DataFrame,
    t_skew: float = 2.0,
    t_kurt: float = 3.5,
    t_avail: float = 0.65,
    t_zero: float = 0.5,
    t_unq: float = 0.5,
) -> pd.DataFrame:
    """One row per column, as COINr get_stats: min, max, mean, median, sd, skew, kurt, counts
    and shares of available, non-zero, unique and most-repeated values, and flags: availability,
    non-zeros and uniqueness "LOW" below their thresholds (as shares of all units), "OUT" when
    |skew| > t_skew and kurtosis > t_kurt (an outlier-prone indicator)."""
    n = len(data)
    rows = []
    for code in data.columns:
        x = pd.to_numeric(data[code], errors="coerce").to_numpy(dtype=float)
        x = x[~np.isnan(x)]
        n_avail = len(x)
        sk, kt = _skew(x), _kurt(x)
        nonzero = int((x != 0).sum())
        unique = len(np.unique(x))
        same = int(pd.Series(x).value_counts().max()) if n_avail else 0
        with np.errstate(invalid="ignore", divide="ignore"):
            rows.append(
                {
                    "code": code,
                    "min": x.min() if n_avail else math.nan,
                    "max": x.max() if n_avail else math.nan,
                    "mean": x.mean() if n_avail else math.nan,
                    "median": float(np.median(x)) if n_avail else math.nan,
                    "sd": x.std(ddof=1) if n_avail > 1 else math.nan,
                    "skew": sk,
                    "kurt": kt,
                    "n_avail": n_avail,
                    "n_nonzero": nonzero,
                    "n_unique": unique,
                    "n_same": same,
                    "frc_avail": n_avail / n if n else math.nan,
                    "frc_nonzero": nonzero / n_avail if n_avail else math.nan,
                    "frc_unique": unique / n_avail if n_avail else math.nan,
                    "frc_same": same / n_avail if n_avail else math.nan,
                    "flag_avail": "ok" if n and n_avail / n >= t_avail else "LOW",
                    "flag_nonzero": "ok" if n and nonzero / n >= t_zero else "LOW",
                    "flag_unique": "ok" if n and unique / n >= t_unq else "LOW",
                    "flag_skew_kurt": "OUT" if abs(sk) > t_skew and kt > t_kurt else "ok",
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- correlations


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, eps = 1e-300, 1e-16
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    front = math.exp(lbeta + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def correlation_pvalue(r: float, n: int) -> float:
    """Two-sided p-value of a correlation r over n pairs: Student's t with n − 2 degrees of
    freedom (R's cor.test for Pearson)."""
    if n < 3 or not math.isfinite(r):
        return math.nan
    if abs(r) >= 1:
        return 0.0
    df = n - 2
    tt = r * math.sqrt(df / (1 - r * r))
    return _betainc(df / 2, 0.5, df / (df + tt * tt))


def _kendall_exact_cdf(n: int) -> np.ndarray:
    """P(T <= k), k = 0 … n(n−1)/2, for T the concordant pairs of n untied pairs under
    independence: T is distributed as the inversions of a random permutation, built one
    element at a time (the i-th element adds 0 … i−1 inversions, each equally likely)."""
    prob = np.ones(1)
    for i in range(2, n + 1):
        nxt = np.zeros(len(prob) + i - 1)
        for j in range(i):
            nxt[j : j + len(prob)] += prob
        prob = nxt / i
    return np.cumsum(prob)


def _discordant_pairs(ranks: np.ndarray) -> int:
    """Pairs i < j with ranks[i] > ranks[j] (integers; ties are not discordant): a bottom-up
    merge sort whose merges are stable sorts of (block, rank) keys. A left-half element that lands
    q places into its merged block, having been i places into its own half, has q − i right-half
    elements before it: exactly the smaller ones. O(n log n) time (each stable sort merges sorted
    runs), O(n) memory."""
    n = len(ranks)
    if n < 2:
        return 0
    ranks = ranks.astype(np.int64) - int(ranks.min())
    span = int(ranks.max()) + 1  # keys block · span + rank keep blocks apart
    position = np.arange(n)
    discordant = 0
    width = 1
    while width < n:
        block = position // (2 * width)
        order = np.argsort(block * span + ranks, kind="stable")
        from_left = (order // width) % 2 == 0
        discordant += int((position - order)[from_left].sum())
        ranks = ranks[order]
        width *= 2
    return discordant


def _tied_pairs(counts: np.ndarray) -> int:
    """Pairs within groups of tied values, from the groups' sizes."""
    return int((counts * (counts - 1) // 2).sum())


def _kendall(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Kendall's tau-b (R's cor(method = "kendall")) and its two-sided p-value as R's
    cor.test gives it by default: exact below 50 pairs without ties, else the normal
    approximation with the variance corrected for ties (no continuity correction).

    Knight's algorithm: sorted by a (ties by b), the discordant pairs are the inversions of b;
    concordant − discordant then follows from the pairs tied in a, in b and in both."""
    n = len(a)
    if _repeats_infinity(a) or _repeats_infinity(b):
        return math.nan, math.nan  # ∞ − ∞ is undefined: R's cor gives NaN, and so do we
    _, rank_a, ties_a = np.unique(a, return_inverse=True, return_counts=True)
    _, rank_b, ties_b = np.unique(b, return_inverse=True, return_counts=True)
    joint = np.sort(rank_a.astype(np.int64) * n + rank_b)
    ties_ab = np.diff(np.flatnonzero(np.r_[True, joint[1:] != joint[:-1], True]))
    total = n * (n - 1) // 2
    untied_a, untied_b = total - _tied_pairs(ties_a), total - _tied_pairs(ties_b)
    if untied_a == 0 or untied_b == 0:
        return math.nan, math.nan
    discordant = _discordant_pairs(joint % n)
    s = untied_a + untied_b - total + _tied_pairs(ties_ab) - 2 * discordant
    tau = float(s) / math.sqrt(float(untied_a) * float(untied_b))
    tied = (ties_a > 1).any() or (ties_b > 1).any()
    if n < 50 and not tied:
        q = (total + s) // 2  # concordant pairs
        cdf = _kendall_exact_cdf(n)
        p = 1 - cdf[q - 1] if q > total / 2 else cdf[q]
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


def _repeats_infinity(x: np.ndarray) -> bool:
    """Whether +∞ or −∞ occurs twice: their pair has no sign, so R's tau is NaN."""
    return int(np.count_nonzero(x == math.inf)) > 1 or int(np.count_nonzero(x == -math.inf)) > 1


# Best & Roberts (1975), algorithm AS 89: an Edgeworth series for the upper tail of Spearman's S
_AS89 = (0.2274, 0.2531, 0.1745, 0.0758, 0.1033, 0.3932, 0.0879, 0.0151, 0.0072, 0.0831, 0.0131)
_AS89_LAST = 4.6e-4
_SPEARMAN_EXACT_N = 9  # up to this many pairs every permutation is counted


def _spearman_upper(n: int, s: float) -> float:
    """P(S >= s) for S = Σ (rank differences)² of n untied pairs under independence: exact by
    counting permutations for small n, else AS 89's Edgeworth series (what R's cor.test uses)."""
    if s <= 0:
        return 1.0
    if s > n * (n * n - 1) / 3:
        return 0.0
    js = math.ceil(s)
    js += js % 2  # S is always even
    if n <= _SPEARMAN_EXACT_N:
        import itertools

        perms = np.array(list(itertools.permutations(range(n))))
        stats = ((perms - np.arange(n)) ** 2).sum(axis=1)
        return float((stats >= js).mean())
    c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11 = _AS89
    b = 1.0 / n
    x = (6.0 * (js - 1) * b / (n * n - 1.0) - 1.0) * math.sqrt(n - 1.0)
    y = x * x
    u = (
        x
        * b
        * (
            c1
            + b * (c2 + c3 * b)
            + y
            * (
                -c4
                + b * (c5 + c6 * b)
                - y * b * (c7 + c8 * b - y * (c9 - c10 * b + y * b * (c11 - _AS89_LAST * y)))
            )
        )
    )
    upper = u / math.exp(y / 2) + 0.5 * math.erfc(x / math.sqrt(2))
    return min(max(upper, 0.0), 1.0)


def _spearman_p(r: float, n: int, tied: bool) -> float:
    """Two-sided p-value of Spearman's rho as R's cor.test gives it by default: from S's own
    distribution (`_spearman_upper`) without ties, else Student's t like Pearson's."""
    if tied or n > 1290 or not math.isfinite(r):
        return correlation_pvalue(r, n)
    q = (n**3 - n) * (1 - r) / 6
    half = (n**3 - n) / 6
    qr = round(q)
    # lower tail P(S <= q) = 1 − P(S >= q + 2) (S even); upper tail P(S >= q)
    p = _spearman_upper(n, qr) if q > half else 1.0 - _spearman_upper(n, qr + 2)
    return min(2 * p, 1.0)


def _pair(x: np.ndarray, y: np.ndarray, method: str) -> tuple[float, int, float]:
    """Correlation, complete pairs and two-sided p-value of one pair of columns."""
    ok = ~(np.isnan(x) | np.isnan(y))
    n = int(ok.sum())
    if n < 2:
        return math.nan, n, math.nan
    a, b = x[ok], y[ok]
    if method == "kendall":
        tau, p = _kendall(a, b)
        return tau, n, p
    tied = False
    if method == "spearman":
        tied = len(np.unique(a)) < n or len(np.unique(b)) < n
        a = pd.Series(a).rank().to_numpy()
        b = pd.Series(b).rank().to_numpy()
    a, b = a - a.mean(), b - b.mean()
    den = math.sqrt((a * a).sum() * (b * b).sum())
    r = float((a * b).sum() / den) if den > 0 else math.nan
    if method == "spearman":
        return r, n, _spearman_p(r, n, tied)
    return r, n, correlation_pvalue(r, n)


def _check_method(method: str) -> None:
    if method not in CORRELATION_METHODS:
        raise_issues(
            [
                issue(
                    "E_BAD_CHOICE",
                    None,
                    field="method",
                    value=method,
                    choices="、".join(CORRELATION_METHODS),
                )
            ]
        )


def correlate(
    data: pd.DataFrame, pairs: Sequence[tuple[str, str]], method: str = "pearson"
) -> pd.DataFrame:
    """Correlation, p-value and number of complete pairs for each (var1, var2), each pair on
    its complete cases (R's use = "pairwise.complete.obs")."""
    _check_method(method)
    rows = []
    for a, b in pairs:
        r, n, p = _pair(data[a].to_numpy(dtype=float), data[b].to_numpy(dtype=float), method)
        rows.append({"var1": a, "var2": b, "correlation": r, "p_value": p, "n": n})
    return pd.DataFrame(rows, columns=["var1", "var2", "correlation", "p_value", "n"])


def pvalues(data: pd.DataFrame, method: str = "pearson") -> pd.DataFrame:
    """Matrix of two-sided p-values (COINr get_pvals), zero on the diagonal."""
    codes = list(data.columns)
    table = correlate(data, [(a, b) for a in codes for b in codes], method)
    matrix = table.pivot(index="var1", columns="var2", values="p_value").loc[codes, codes]
    values = matrix.to_numpy(dtype=float, copy=True)
    np.fill_diagonal(values, 0.0)
    return pd.DataFrame(values, index=codes, columns=codes)


def _at_level(hierarchy: Hierarchy, level: int) -> list[str]:
    return [n.code for n in hierarchy.nodes if n.level == level]


def _ancestor(hierarchy: Hierarchy, code: str, level: int) -> str | None:
    node = hierarchy.node(code)
    while node.level < level and node.parent is not None:
        node = hierarchy.node(node.parent)
    return node.code if node.level == level else None


def corr_within(
    data: pd.DataFrame,
    hierarchy: Hierarchy,
    level: int = 1,
    group_level: int | None = None,
    method: str = "pearson",
) -> pd.DataFrame:
    """Every ordered pair of nodes at `level` under the same ancestor at `group_level` (default
    the next level up), self-pairs included, as COINr get_corr(Levels = level, grouplev)."""
    group_level = group_level or level + 1
    groups: dict[str, list[str]] = {}
    for code in _at_level(hierarchy, level):
        parent = _ancestor(hierarchy, code, group_level)
        if parent is not None:
            groups.setdefault(parent, []).append(code)
    parts = []
    for parent, codes in groups.items():
        part = correlate(data, [(a, b) for a in codes for b in codes], method)
        part.insert(0, "group", parent)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def corr_with_parent(
    data: pd.DataFrame, hierarchy: Hierarchy, level: int = 1, method: str = "pearson"
) -> pd.DataFrame:
    """Each node at `level` with its own parent (COINr get_corr(withparent = TRUE)): var1 is
    the parent, var2 the node."""
    pairs = [
        (hierarchy.node(c).parent, c)
        for c in _at_level(hierarchy, level)
        if hierarchy.node(c).parent is not None
    ]
    return correlate(data, pairs, method)


def corr_across(
    data: pd.DataFrame,
    hierarchy: Hierarchy,
    level: int,
    other_level: int,
    method: str = "pearson",
) -> pd.DataFrame:
    """Every node at `level` with every node at `other_level` (var1 from the higher level)."""
    high, low = max(level, other_level), min(level, other_level)
    pairs = [(a, b) for b in _at_level(hierarchy, low) for a in _at_level(hierarchy, high)]
    return correlate(data, pairs, method)


def corr_family(
    data: pd.DataFrame, hierarchy: Hierarchy, level: int = 1, method: str = "pearson"
) -> pd.DataFrame:
    """Each node at `level` with its ancestor at every higher level (COINr get_corr(withparent =
    "family")); `ancestor_level` says which."""
    parts = []
    for up in (lv for lv in hierarchy.levels if lv > level):
        pairs = []
        for code in _at_level(hierarchy, level):
            anc = _ancestor(hierarchy, code, up)
            if anc is not None:
                pairs.append((anc, code))
        part = correlate(data, pairs, method)
        part.insert(0, "ancestor_level", up)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------- Cronbach's alpha


def _descendants(hierarchy: Hierarchy, code: str, level: int) -> list[str]:
    return [
        c
        for c in _at_level(hierarchy, level)
        if _ancestor(hierarchy, c, hierarchy.node(code).level) == code
    ]


def cronbach_alpha(
    data: pd.DataFrame,
    hierarchy: Hierarchy,
    nodes: Sequence[str] | None = None,
    item_level: int | None = None,
) -> pd.DataFrame:
    """Cronbach's alpha of each aggregate node over its descendants at `item_level` (default its
    children's level), as COINr get_cronbach: k²·(mean off-diagonal covariance) / (sum of all
    covariances), covariances on pairwise complete cases."""
    rows = []
    for code in nodes or hierarchy.aggregates:
        level = item_level or hierarchy.node(code).level - 1
        items = _descendants(hierarchy, code, level)
        k = len(items)
        cov = data[items].astype(float).cov().to_numpy()
        total = np.nansum(cov)
        alpha = math.nan
        if k > 1 and total != 0:
            mean_off = (total - np.nansum(np.diag(cov))) / (k * (k - 1))
            alpha = float(k * k * mean_off / total)
        rows.append(
            {
                "node": code,
                "level": hierarchy.node(code).level,
                "item_level": level,
                "n_items": k,
                "alpha": alpha,
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- PCA


@dataclass(frozen=True, eq=False)
class PCAResult:
    """PCA of each group of nodes (the children of one parent): variance explained per
    component, loadings, and the first component's loadings as weights."""

    variance: pd.DataFrame  # group, component, sdev, var_explained, cumulative, n_units
    loadings: pd.DataFrame  # group, component, code, loading
    level: int

    def weights(self, form: str = "loadings") -> pd.Series:
        """PCA-derived weights per node: "loadings", COINr's (the first component's loadings,
        each group oriented so its loadings sum to a non-negative number; COINr leaves the sign
        as the eigen-solver gives it); "squared", the squared loadings, which are non-negative
        and sum to 1 within each group (each node's share of the first component)."""
        if form not in ("loadings", "squared"):
            raise_issues(
                [issue("E_BAD_CHOICE", None, field="form", value=form, choices="loadings、squared")]
            )
        first = self.loadings[self.loadings["component"] == 1].set_index("code")["loading"]
        out = first if form == "loadings" else first**2
        return out.rename("weight")


def _pca_block(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, int]:
    """prcomp(center = TRUE, scale = TRUE) on the complete rows: sdev and loadings (columns)."""
    complete = frame.dropna()
    x = complete.to_numpy(dtype=float)
    n, k = x.shape
    sd = x.std(axis=0, ddof=1) if n > 1 else np.zeros(k)
    if n < 2 or k < 1 or (sd == 0).any():
        # nothing to decompose (too few complete units, or a constant column): no components
        return np.full(k, np.nan), np.full((k, k), np.nan), n
    z = (x - x.mean(axis=0)) / sd
    _, s, vt = np.linalg.svd(z, full_matrices=False)
    sdev = s / math.sqrt(n - 1)
    loadings = vt.T
    signs = np.where(loadings.sum(axis=0) < 0, -1.0, 1.0)
    return sdev, loadings * signs, n


def pca(
    data: pd.DataFrame, hierarchy: Hierarchy, level: int = 1, by_group: bool = True
) -> PCAResult:
    """PCA of the nodes at `level`, one per parent (COINr get_PCA(by_groups = TRUE)) or all at
    once; units with a missing value are left out of that group's PCA, as COINr does."""
    codes = _at_level(hierarchy, level)
    groups: dict[str, list[str]] = {}
    for code in codes:
        key = hierarchy.node(code).parent if by_group else "all"
        groups.setdefault(key or "all", []).append(code)
    var_rows, load_rows = [], []
    for group, members in groups.items():
        frame = data[members]
        dropped = int(frame.isna().any(axis=1).sum())
        if dropped:
            logger.info("PCA %s: %d units with missing values left out", group, dropped)
        sdev, loadings, n = _pca_block(frame)
        share = sdev**2 / (sdev**2).sum()
        for k in range(len(sdev)):
            var_rows.append(
                {
                    "group": group,
                    "component": k + 1,
                    "sdev": sdev[k],
                    "var_explained": share[k],
                    "cumulative": share[: k + 1].sum(),
                    "n_units": n,
                }
            )
            for code, value in zip(members, loadings[:, k], strict=True):
                load_rows.append(
                    {"group": group, "component": k + 1, "code": code, "loading": value}
                )
    return PCAResult(pd.DataFrame(var_rows), pd.DataFrame(load_rows), level)


def pca_weights(
    data: pd.DataFrame, hierarchy: Hierarchy, level: int = 1, form: str = "squared"
) -> dict[str, float]:
    """Weights for `CompositeConfig(weights=…)` from a PCA per parent at `level` (default the
    non-negative squared loadings; see PCAResult.weights). A group without components (too few
    complete units, or a constant member) keeps equal weights."""
    found = pca(data, hierarchy, level)
    weights = found.weights(form)
    groups = found.loadings.drop_duplicates("code").set_index("code")["group"]
    for group in groups.unique():
        members = groups.index[groups == group]
        if weights[members].isna().any():
            name = hierarchy.node(group).name or group
            logger.warning(t("analysis.pca_equal_weights", group=name))
            weights[members] = 1.0 / len(members)
    return weights.to_dict()


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True, eq=False)
class Tables:
    """Named analysis tables that render in a notebook and save themselves with Chinese
    headers (Excel: one sheet each; CSV: one UTF-8-with-BOM file each, readable by Excel).

    `names` (node code → the set's declared name) names the indicators and aggregates: a
    `code` column gets 指标名称 beside it (the code stays: it is what `weights` takes), and
    the columns that hold nodes (group, var1, var2, node) show names. In a notebook a missing
    value reads —, as on every other face."""

    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)

    def labelled(self, name: str) -> pd.DataFrame:
        frame = self.tables[name].copy()
        for col in frame.columns:  # text columns are `object` or, in pandas 3, `str`
            if not pd.api.types.is_numeric_dtype(frame[col]):
                frame[col] = frame[col].map(lambda v: t(f"analysis.flag.{v}") if v in _FLAGS else v)
        if self.names:
            for col in _NODE_COLUMNS:
                if col in frame.columns:
                    frame[col] = frame[col].map(lambda v: self.names.get(v, v))
            if "code" in frame.columns:
                where = list(frame.columns).index("code")
                frame.insert(where, "name", frame["code"].map(lambda v: self.names.get(v, v)))
        return frame.rename(columns={c: t(f"analysis.col.{c}") for c in frame.columns})

    def show(self, *names: str) -> Tables:
        """The named tables (all when none is named), to display in a notebook."""
        picked = names or tuple(self.tables)
        return Tables({n: self.tables[n] for n in picked}, self.names)

    def with_tables(self, **frames: pd.DataFrame) -> Tables:
        """These tables with some added or replaced (e.g. PCA loadings with their weights)."""
        return Tables({**self.tables, **frames}, self.names)

    def to_excel(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with pd.ExcelWriter(path, engine="xlsxwriter") as xw:
            for name in self.tables:
                sheet = t(f"analysis.table.{name}")[:31]
                excel_safe_frame(self.labelled(name)).to_excel(xw, sheet_name=sheet, index=False)
        return path

    def to_csv(self, folder: str | Path) -> list[Path]:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        out = []
        for name in self.tables:
            path = folder / f"{t(f'analysis.table.{name}')}.csv"
            excel_safe_frame(self.labelled(name)).to_csv(path, index=False, encoding="utf-8-sig")
            out.append(path)
        return out

    def display_frame(self, name: str) -> pd.DataFrame:
        """The labelled table as text: numbers to three decimals (counts whole), missing —."""
        frame = self.labelled(name)
        for col in frame.columns:
            kind = frame[col].dtype
            if pd.api.types.is_bool_dtype(kind) or not pd.api.types.is_numeric_dtype(kind):
                frame[col] = frame[col].map(lambda v: "—" if fmt.missing(v) else str(v))
            elif pd.api.types.is_integer_dtype(kind):
                frame[col] = frame[col].map(lambda v: fmt.number(v))
            else:
                frame[col] = frame[col].map(lambda v: fmt.number(v, 3))
        return frame

    def _repr_html_(self) -> str:
        parts = []
        for name in self.tables:
            title = html.escape(t(f"analysis.table.{name}"))
            body = self.display_frame(name).to_html(index=False)
            parts.append(f"<h4>{title}</h4>{body}")
        return "<div>" + "".join(parts) + "</div>"


_FLAGS = ("ok", "LOW", "OUT")
_NODE_COLUMNS = ("group", "var1", "var2", "node")


def toolkit(
    result: CompositeResult,
    stage: str = "normalised",
    method: str = "pearson",
    stats_stage: str = "raw",
    **stats_thresholds: Any,
) -> Tables:
    """Every table of the toolkit for a built index, ready to show or save: statistics of the
    indicators at `stats_stage` (their own units), the rest on `stage` beside the aggregates."""
    tree = result.hierarchy
    data = node_data(result, stage)
    levels = [lv for lv in tree.levels if lv > 1]
    tables = {
        "stats": indicator_stats(result.stages[stats_stage], **stats_thresholds),
        "corr_within": corr_within(data, tree, 1, method=method),
        "corr_parent": corr_family(data, tree, 1, method=method),
        "cronbach": cronbach_alpha(data, tree),
    }
    if len(levels) > 1:
        tables["corr_levels"] = corr_across(data, tree, levels[0], levels[1], method=method)
    found = pca(data, tree, 1)
    tables["pca_variance"] = found.variance
    tables["pca_loadings"] = found.loadings
    names = {n.code: n.name or n.code for n in tree.nodes}
    return Tables(tables, names)
