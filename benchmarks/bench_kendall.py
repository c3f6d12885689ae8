"""Kendall's tau-b matrix of a province: Knight's algorithm against the O(n²) pair-by-pair way.

Not a test (timings depend on the machine). Run

    .venv/bin/python -m benchmarks.bench_kendall [--units 3000] [--indicators 20] [--no-record]

The data: 3,000 units × 20 indicators sharing a common factor (so the correlations are not
zero), eight continuous, eight counts (0–30, many ties) and four shares rounded to 1 %, 3 % of
the cells missing. The k × k matrix is computed from its k(k+1)/2 distinct pairs, the
diagonal included, through `analysis.correlate(…, "kendall")` (each pair on its complete cases):

- **A**: as the workbench computes it now (`analysis._kendall`, Knight's algorithm);
- **B**: the same call with `analysis._kendall` swapped for the former O(n²) computation
  (`tests/kendall_reference.py`, every pair of units compared).

Order A, B, A in the same run (B is ≈ 0.2 s a pair, so it runs once); both matrices of tau-b
and p-values must be equal to 1e-12. Also timed: A's `analysis.pvalues` (all k² ordered pairs,
as COINr get_pvals) and the peak memory of one pair (tracemalloc). Results replace this
benchmark's section of `benchmarks/RESULTS.md`. Takes about a minute here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable
from unittest import mock

import numpy as np
import pandas as pd

from benchmarks.bench_engine import _cpu, _load, record
from tests import kendall_reference as reference
from workbench import analysis

SECTION = "## Kendall's tau matrix"


def province(units: int, indicators: int, seed: int = 7) -> pd.DataFrame:
    """Units × indicators with a shared factor: continuous, counts and rounded shares."""
    rng = np.random.default_rng(seed)
    factor = rng.normal(size=units)
    columns = {}
    for i in range(indicators):
        signal = factor * rng.uniform(0.2, 1.0) + rng.normal(size=units)
        kind = i % 5
        if kind in (0, 1):
            values = np.exp(signal)
        elif kind in (2, 3):
            values = np.clip(np.round(5 + 4 * signal), 0, 30)
        else:
            values = np.round(100 / (1 + np.exp(-signal)))
        columns[f"I{i + 1:02d}"] = values
    data = pd.DataFrame(columns, index=[f"{100000 + u:06d}" for u in range(units)])
    return data.mask(rng.random(data.shape) < 0.03)


def matrices(data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Tau-b and p-value matrices from the distinct pairs (i ≤ j), mirrored."""
    codes = list(data.columns)
    pairs = [(a, b) for i, a in enumerate(codes) for b in codes[i:]]
    table = analysis.correlate(data, pairs, "kendall")
    k = len(codes)
    tau, p = np.full((k, k), np.nan), np.full((k, k), np.nan)
    where = {c: i for i, c in enumerate(codes)}
    for row in table.itertuples():
        i, j = where[row.var1], where[row.var2]
        tau[i, j] = tau[j, i] = row.correlation
        p[i, j] = p[j, i] = row.p_value
    return tau, p


def pairwise(data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The same matrices with the former O(n²) computation."""
    with mock.patch.object(analysis, "_kendall", reference.kendall):
        return matrices(data)


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    gc.collect()
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def peak_mb(fn: Callable[[np.ndarray, np.ndarray], object], x: np.ndarray, y: np.ndarray) -> float:
    gc.collect()
    tracemalloc.start()
    fn(x, y)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1e6


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_kendall", description=__doc__.splitlines()[0]
    )
    p.add_argument("--units", type=int, default=3000)
    p.add_argument("--indicators", type=int, default=20)
    p.add_argument("--no-record", action="store_true", help="do not update RESULTS.md")
    args = p.parse_args(argv if argv is not None else sys.argv[1:])
    data = province(args.units, args.indicators)
    k = args.indicators
    distinct = k * (k + 1) // 2
    load_start = _load()
    started = dt.datetime.now()
    matrices(data.iloc[:200])  # warm-up (imports, caches)
    pairwise(data.iloc[:200])
    a1, (tau_a, p_a) = timed(lambda: matrices(data))
    print(f"A {a1:.2f} s", flush=True)
    b, (tau_b, p_b) = timed(lambda: pairwise(data))
    print(f"B {b:.2f} s", flush=True)
    a2, _ = timed(lambda: matrices(data))
    print(f"A {a2:.2f} s", flush=True)
    full, _ = timed(lambda: analysis.pvalues(data, method="kendall"))
    for got, want in ((tau_a, tau_b), (p_a, p_b)):
        assert np.array_equal(np.isnan(got), np.isnan(want))
        assert np.nanmax(np.abs(got - want)) <= 1e-12, np.nanmax(np.abs(got - want))
    identical = np.array_equal(tau_a, tau_b, equal_nan=True) and np.array_equal(
        p_a, p_b, equal_nan=True
    )
    x, y = data["I01"].to_numpy(), data["I03"].to_numpy()
    ok = ~(np.isnan(x) | np.isnan(y))
    mem_a = peak_mb(analysis._kendall, x[ok], y[ok])
    mem_b = peak_mb(reference.kendall, x[ok], y[ok])
    a = (a1 + a2) / 2
    ratio = b / a
    table = [
        "| what | s | per pair (ms) | peak memory of one pair |",
        "|---|---:|---:|---:|",
        f"| **A** Knight's algorithm, {distinct} pairs (runs {a1:.3f}, {a2:.3f}) "
        f"| **{a:.3f}** | {1000 * a / distinct:.1f} | {mem_a:.2f} MB |",
        f"| B O(n²), every pair of units, {distinct} pairs | {b:.2f} "
        f"| {1000 * b / distinct:.0f} | {mem_b:.0f} MB |",
        f"| A's `analysis.pvalues` (all {k * k} ordered pairs) | {full:.3f} "
        f"| {1000 * full / (k * k):.1f} | |",
    ]
    verdict = (
        f"A is {ratio:.0f} × faster than B in the same run; the two {k} × {k} matrices of tau-b "
        f"and p-values agree to 1e-12 ({'bit for bit' if identical else 'not bit for bit'})."
    )
    print("\n".join(table[2:] + [verdict]))
    if not args.no_record:
        record(
            "\n".join(
                [
                    SECTION,
                    "",
                    f"Command: `.venv/bin/python -m benchmarks.bench_kendall --units {args.units} "
                    f"--indicators {k}`. {args.units:,} units × {k} indicators with a shared "
                    "factor (continuous, counts 0–30 and shares rounded to 1 %: many ties; 3 % "
                    "missing); the matrix from its distinct pairs, each on its complete cases, "
                    "through `analysis.correlate`. Order A, B, A.",
                    "",
                    f"Machine: {platform.node()} ({_cpu()}, {os.cpu_count()} cores), Python "
                    f"{platform.python_version()}, numpy {np.__version__}; "
                    f"{started:%Y-%m-%d %H:%M}; load average {load_start} at the start, "
                    f"{_load()} at the end (other engineers' work on the same cores).",
                    "",
                    *table,
                    "",
                    verdict,
                    "",
                    "How A stays fast (`analysis._kendall`): Knight's algorithm — units sorted by x "
                    "(ties by y) once, the discordant pairs counted as the inversions of y by a "
                    "merge sort whose merges are stable numpy sorts, and the pairs tied in x, in y "
                    "and in both from the tie counts; O(n log n) time and O(n) memory instead of "
                    "n² differences. The p-values (exact below 50 untied pairs, else normal with "
                    "the tie-corrected variance) use the same S as before.",
                ]
            ),
            section=SECTION,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
