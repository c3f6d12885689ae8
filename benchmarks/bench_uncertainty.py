"""Time rank_uncertainty on a county-sized problem: 1,000 samples, 10 units × 25 indicators.

Not a test (timings depend on the machine); run `python benchmarks/bench_uncertainty.py`.
The brief's budget is 10 s.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from workbench.composite import CompositeConfig, Hierarchy, Node
from workbench.uncertainty import rank_uncertainty

N_UNITS, N_PILLARS, PER_PILLAR, N_SAMPLES = 10, 5, 5, 1000


def problem(seed: int = 1) -> tuple[pd.DataFrame, Hierarchy]:
    rng = np.random.default_rng(seed)
    nodes = [Node("INDEX", None, 3)]
    nodes += [Node(f"P{p}", "INDEX", 2) for p in range(N_PILLARS)]
    codes = []
    for p in range(N_PILLARS):
        for i in range(PER_PILLAR):
            code = f"I{p}{i}"
            codes.append(code)
            nodes.append(Node(code, f"P{p}", 1, direction=1 if i % 4 else -1))
    data = pd.DataFrame(rng.lognormal(3, 0.6, size=(N_UNITS, len(codes))), columns=codes,
                        index=[f"{330100 + k:06d}" for k in range(N_UNITS)])
    data = data.mask(rng.random(data.shape) < 0.04)
    return data, Hierarchy(tuple(nodes))


def main() -> None:
    data, tree = problem()
    config = CompositeConfig(impute="median", treat=True)
    rank_uncertainty(data, tree, config, n_samples=10)  # warm-up (imports, caches)
    start = time.perf_counter()
    result = rank_uncertainty(data, tree, config, n_samples=N_SAMPLES)
    elapsed = time.perf_counter() - start
    print(f"rank_uncertainty: {N_SAMPLES} samples, {N_UNITS} units × {len(tree.indicators)} "
          f"indicators: {elapsed:.2f} s")
    print(result.sensitivity.to_string(index=False))


if __name__ == "__main__":
    main()
