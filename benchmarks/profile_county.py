"""Where a county report's own time goes: the county notebook's code cells, per cell.

    .venv/bin/python benchmarks/profile_county.py [--counties 100] [--profile]

Builds the demo city (`workbench.demo.generate_city(N)`), warms one in-process IPython shell as
the batch runner warms a kernel (`report.warm`), then runs the notebook's code cells for every
county in a fresh namespace and prints each cell's median wall and CPU time (the first county
left out), with the displayed objects formatted as the kernel formats them. Without the
kernel's messaging (≈ 3–5 ms per cell) and the runner's publishing: it measures the report's
code only. `--profile` adds cProfile's top functions. Not a test: it never fails on a timing.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["WORKBENCH_BATCH"] = "1"

from benchmarks.bench_batch import PERIOD, build_warehouse  # noqa: E402

NOTEBOOK = ROOT / "notebooks" / "county_assessment.ipynb"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counties", type=int, default=100)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args(argv)

    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    from workbench import report

    wh = Path(tempfile.mkdtemp(prefix="profile-county-")) / "demo.duckdb"
    codes = build_warehouse(wh, args.counties)
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"][1:]
    t0 = time.perf_counter()
    report.warm(warehouse=str(wh), period=PERIOD)
    print(f"warm-up: {time.perf_counter() - t0:.2f}s")

    shell = InteractiveShell.instance()
    wall: list[list[float]] = [[] for _ in cells]
    cpu: list[list[float]] = [[] for _ in cells]
    prof = cProfile.Profile() if args.profile else None
    for k, county in enumerate(codes):
        shell.reset(new_session=False)
        shell.run_cell(f"county, period, warehouse = {county!r}, {PERIOD!r}, {str(wh)!r}")
        shell.run_cell("indicator_set = 'campaign_2025'")
        for i, code in enumerate(cells):
            a, b = time.perf_counter(), time.process_time()
            if prof is not None and k:
                prof.enable()
            with capture_output():
                res = shell.run_cell(code, store_history=False)
                if res.result is not None:  # what the kernel's display hook would send
                    shell.display_formatter.format(res.result)
            if prof is not None and k:
                prof.disable()
            wall[i].append(time.perf_counter() - a)
            cpu[i].append(time.process_time() - b)
            if res.error_in_exec is not None:
                raise res.error_in_exec
    total = 0.0
    for i, code in enumerate(cells):
        w, c = (statistics.median(x[1:] or x) * 1000 for x in (wall[i], cpu[i]))
        total += c
        print(f"cell {i + 2:2d}  wall {w:6.1f} ms  cpu {c:6.1f} ms  {code.splitlines()[-1][:48]}")
    print(f"report code per county (sum of cell medians, CPU): {total:.1f} ms")
    print(f"load {os.getloadavg()[0]:.1f}")
    if prof is not None:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
    return 0


if __name__ == "__main__":
    sys.exit(main())
