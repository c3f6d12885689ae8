"""What one cockpit kernel holds (not a test): a fresh process per run, step by step.

    .venv/bin/python benchmarks/profile_kernel_memory.py --cache benchmarks/_work/viewers/cache-3000 \
        --geojson benchmarks/_work/viewers/city-3000/counties.geojson [--code OTHER_CHECKOUT]

Reads an existing dashboard cache entry (`loading._read_cache`, no engine run), builds the
cockpit (first view) and clicks through views (every set; its last three months; two counties;
four foci; back to the city). After each step: private memory (USS) and PSS of the process,
split into anonymous memory and the memory-mapped KPI array's pages (file pages, shared by
every kernel that maps them). Also each frame's `memory_usage(deep=True)`. `--code` measures
another checkout's `workbench` (before/after on the same data); `--runs` repeats, alternating.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import gc, json, os, re, sys, time
import psutil
P = psutil.Process()

def mb():
    anon = cube = 0
    name = None
    for line in open("/proc/self/smaps"):
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            parts = line.split()
            name = parts[5] if len(parts) > 5 else ""
        elif line.startswith(("Private_Clean", "Private_Dirty")):
            kb = int(line.split()[1])
            if name.endswith(".npy"):
                cube += kb
            elif not name.startswith("/") or name == "[heap]":
                anon += kb
    i = P.memory_full_info()
    return {"uss": i.uss / 2**20, "pss": i.pss / 2**20, "anon": anon / 1024, "cube": cube / 1024}

out = {"steps": []}
import workbench
out["code"] = workbench.__file__
def step(label, t0):
    gc.collect()
    out["steps"].append({"step": label, "s": time.perf_counter() - t0, **mb()})

t0 = time.perf_counter()
from workbench import dashboard
from workbench.dashboard import loading
step("imports", t0)
folder, key, geo = sys.argv[1], sys.argv[2], sys.argv[3]
t0 = time.perf_counter()
data = loading._read_cache(__import__("pathlib").Path(folder), key)
step("cached data", t0)
out["frames"] = {
    f: round(getattr(data, f).memory_usage(deep=True).sum() / 2**20, 2) for f in loading.FRAMES
}
t0 = time.perf_counter()
page = dashboard.Cockpit(data, geojson=geo)
step("first view", t0)
t0 = time.perf_counter()
counties = list(data.counties["county_code"].astype(str))
for iset in data.indicator_sets:
    page.set_view(indicator_set=iset)
    for p in data.periods[-3:]:
        page.set_view(period=p)
    page.set_view(county=counties[min(5, len(counties) - 1)])
    page.set_view(county=counties[len(counties) // 2])
    for f in [v for _, v in page._focus_options(iset)][:4]:
        page.set_view(focus=f)
    page.set_view(county="")
step("after clicking through views", t0)
print(json.dumps(out))
"""


def run(code: Path, cache: Path, key: str, geojson: Path) -> dict:
    """One fresh process importing `code`'s workbench (run as a script from `code`, so no
    other checkout's package is found first)."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "kernel_memory_child.py"
        script.write_text(CHILD, encoding="utf-8")
        got = subprocess.run(
            [sys.executable, str(script), str(cache.resolve()), key, str(geojson.resolve())],
            env=env,
            cwd=str(code),
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(got.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, required=True, help="folder holding entry-dashboard-*")
    ap.add_argument("--key", help="the entry's key (default: the folder's only entry)")
    ap.add_argument("--geojson", type=Path, required=True)
    ap.add_argument("--code", type=Path, action="append", default=[], help="other checkouts")
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args(argv)
    key = args.key
    if key is None:
        (entry,) = args.cache.glob("entry-dashboard-*")
        key = entry.name.removeprefix("entry-dashboard-")
    codes = [ROOT, *args.code]
    print("| code | step | s | USS MB | PSS MB | anonymous MB | KPI array pages MB |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for _ in range(args.runs):
        for code in codes:
            res = run(code, args.cache, key, args.geojson)
            for s in res["steps"]:
                print(
                    f"| {code} | {s['step']} | {s['s']:.2f} | {s['uss']:.0f} | {s['pss']:.0f} "
                    f"| {s['anon']:.0f} | {s['cube']:.0f} |"
                )
            assert res["code"].startswith(str(code)), res["code"]
            print(f"| {code} | frames (deep) MB: {res['frames']} | | | | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
