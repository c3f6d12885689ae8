"""Run every benchmark in turn: `python -m benchmarks [name …]` (names without `bench_`)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    names = sorted(
        m.name
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if m.name.startswith("bench_")
    )
    chosen = [n for n in names if not argv or n.removeprefix("bench_") in argv]
    for name in chosen:
        print(f"\n=== {name} ===", flush=True)
        module = importlib.import_module(f"benchmarks.{name}")
        takes_args = bool(inspect.signature(module.main).parameters)
        module.main([]) if takes_args else module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
