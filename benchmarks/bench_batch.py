"""Benchmark: the monthly county batch against the naive way and against the floor.

    .venv/bin/python benchmarks/bench_batch.py [--counties 100] [--sample 3] [--jobs 2]

Measured side by side in one run on the demo city (`workbench.demo.generate_city(N)`, inserted
straight into a warehouse):

* naive  — per county, the `papermill` CLI then `jupyter nbconvert --to html`, one process each;
* floor  — per county, start a kernel, run the same notebook code (imports, evaluation, report),
           export HTML in-process with nbconvert, shut the kernel down;
* levers — the real runner (`workbench.batch.Runner`) with each lever switched on in turn:
    L0 one long-lived runner, a fresh kernel per county, stock nbconvert exporter;
    L1 + kernels started ahead of need, warmed (evaluation cached) and reused;
    L2 + the tuned in-process exporter;
    L3 = L2 with 2 workers (the projection for 2,850 counties).
Naive and floor are alternated (A/B, then B/A) and interleaved with the runner's runs, so all
see the same machine load. Per-county figures for the runner are wall time ÷ counties, start-up
included. Not a test: it never fails on a timing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench import batch, publish  # noqa: E402
from workbench.warehouse import Warehouse  # noqa: E402

NOTEBOOK = ROOT / "notebooks" / "county_assessment.ipynb"
PERIOD = "2025-09"
BIN = Path(sys.executable).parent


def build_warehouse(path: Path, n: int) -> list[str]:
    from workbench.demo import generate_city

    city = generate_city(n)
    with Warehouse(path) as wh:
        wh.load_frames(city.frames, submission_id="bench")
    return [c for c, _ in city.counties]


def naive(county: str, wh: Path, out: Path) -> float:
    """papermill CLI, then jupyter nbconvert --to html: one process each."""
    out.mkdir(parents=True, exist_ok=True)
    nb = out / f"{county}.ipynb"
    t0 = time.perf_counter()
    subprocess.run(
        [
            str(BIN / "papermill"),
            str(NOTEBOOK),
            str(nb),
            "-p",
            "county",
            county,
            "-p",
            "period",
            PERIOD,
            "-p",
            "warehouse",
            str(wh),
            "--no-progress-bar",
            "--log-level",
            "ERROR",
        ],
        check=True,
        capture_output=True,
        cwd=out,
    )
    subprocess.run(
        [str(BIN / "jupyter"), "nbconvert", "--to", "html", str(nb)],
        check=True,
        capture_output=True,
        cwd=out,
    )
    return time.perf_counter() - t0


def floor(county: str, wh: Path, out: Path) -> float:
    """Start a kernel, run the same notebook code, export HTML in-process, shut down."""
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    slot = batch.KernelSlot("floor", env={"WORKBENCH_BATCH": "1"}, start_retries=0)
    try:
        slot.start()
        job = batch.Job(
            county,
            county,
            str(NOTEBOOK),
            {"county": county, "period": PERIOD, "warehouse": str(wh)},
            f"counties/{county}",
            600,
        )
        nb = batch.prepare_notebook(job)
        error = slot.run_notebook(nb, time.monotonic() + 600)
        assert error is None, error
        body = publish.report_body(nb, fast=False)
        (out / f"{county}.html").write_text(body, encoding="utf-8")
    finally:
        slot.close()
    return time.perf_counter() - t0


def run_batch(
    wh: Path, counties: list[str], runs: Path, label: str, jobs: int, reuse: bool, fast_export: bool
) -> dict:
    cfg = batch.plan_run(
        PERIOD,
        str(wh),
        counties,
        str(runs),
        run_id=label,
        jobs=jobs,
        city_notebook=None,
        docx=False,
        pdf="none",
        progress=False,
        reuse_kernels=reuse,
        fast_export=fast_export,
    )
    t0 = time.perf_counter()
    result = batch.Runner(cfg, echo=lambda _m: None).run()
    wall = time.perf_counter() - t0
    assert not result.failed, result.failed
    states = batch.load_states(runs / label)
    secs = [s["seconds"] for s in states.values()]
    return {
        "label": label,
        "counties": len(counties),
        "jobs": jobs,
        "wall": wall,
        "per_county": wall / len(counties),
        "median_unit": statistics.median(secs),
        "publish_mean": statistics.mean(s["publish_seconds"] for s in states.values()),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counties", type=int, default=100)
    ap.add_argument("--sample", type=int, default=3, help="counties for naive and floor")
    ap.add_argument("--fresh-sample", type=int, default=20, help="counties for lever L0")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    work = args.out or Path(tempfile.mkdtemp(prefix="bench-batch-"))
    work.mkdir(parents=True, exist_ok=True)
    wh = work / "demo.duckdb"
    if wh.exists():
        wh.unlink()
    t0 = time.perf_counter()
    codes = build_warehouse(wh, args.counties)
    print(f"warehouse: {args.counties} counties in {time.perf_counter() - t0:.1f}s → {wh}")

    sample = codes[: args.sample]
    naive_t: list[float] = []
    floor_t: list[float] = []

    def baseline_pair(i: int) -> None:
        """One naive and one floor county, alternating which goes first."""
        county = sample[i % len(sample)]
        order = (
            (("naive", naive), ("floor", floor))
            if i % 2 == 0
            else (("floor", floor), ("naive", naive))
        )
        for name, fn in order:
            dt = fn(county, wh, work / name)
            (naive_t if name == "naive" else floor_t).append(dt)
            print(f"  {name:5s} {county}: {dt:6.2f}s  (load {os.getloadavg()[0]:.1f})")

    runs = work / "runs"
    fresh = codes[: args.fresh_sample]
    plan = [
        ("L2_reuse_fastexport_j1", codes, 1, True, True),
        ("L1_reuse_stockexport_j1", codes, 1, True, False),
        ("L0_fresh_kernel_j1", fresh, 1, False, False),
        (f"L3_reuse_fastexport_j{args.jobs}", codes, args.jobs, True, True),
        ("L2b_reuse_fastexport_j1_repeat", codes, 1, True, True),
    ]
    levers = []
    # Baselines are interleaved with the runner's runs, so both see the same machine load.
    for i, (label, units, jobs, reuse, fast) in enumerate(plan):
        if i < args.sample:
            baseline_pair(i)
        r = run_batch(wh, units, runs, label, jobs, reuse, fast)
        print(f"  {label}: {r['per_county']:.3f}s/county  (load {os.getloadavg()[0]:.1f})")
        levers.append(r)
    for i in range(len(plan), args.sample):
        baseline_pair(i)
    n_naive, n_floor = statistics.median(naive_t), statistics.median(floor_t)

    print()
    print(
        f"machine: {platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}"
        f", load {os.getloadavg()[0]:.1f}; {time.strftime('%Y-%m-%d %H:%M')}"
    )
    print(
        f"naive  (papermill CLI + nbconvert CLI, per county): {n_naive:6.2f}s  "
        f"(samples {', '.join(f'{x:.2f}' for x in naive_t)})"
    )
    print(
        f"floor  (kernel start + same code + in-process export): {n_floor:6.2f}s  "
        f"(samples {', '.join(f'{x:.2f}' for x in floor_t)})"
    )
    print(
        f"{'run':34s} {'n':>4s} {'jobs':>4s} {'wall s':>8s} {'s/county':>9s} "
        f"{'median unit':>11s} {'publish':>8s} {'naive/x':>8s} {'x/floor':>8s}"
    )
    for r in levers:
        print(
            f"{r['label']:34s} {r['counties']:4d} {r['jobs']:4d} {r['wall']:8.1f} "
            f"{r['per_county']:9.3f} {r['median_unit']:11.3f} {r['publish_mean']:8.3f} "
            f"{n_naive / r['per_county']:8.1f} {r['per_county'] / n_floor:8.2f}"
        )
    par = levers[3]
    fixed = max(0.0, par["wall"] - par["median_unit"] * par["counties"] / par["jobs"])
    projection = par["per_county"] * 2850
    print(
        f"projection for 2,850 counties with {par['jobs']} workers: "
        f"{projection / 60:.1f} min (per-county wall {par['per_county']:.3f}s incl. start-up;"
        f" goal ≤ 30 min)"
    )
    summary = {
        "naive": naive_t,
        "floor": floor_t,
        "levers": levers,
        "projection_minutes": projection / 60,
        "fixed_overhead_s": fixed,
        "counties": args.counties,
        "load": os.getloadavg(),
    }
    (work / "bench_batch.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    print(f"details: {work / 'bench_batch.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
