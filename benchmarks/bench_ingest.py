"""Ingest speed and memory, as ratios against plain readers of the same file measured in the
same run, for a file whose every row is accepted and one whose every row is refused.

A: `ingest_paths` (read + type + every rule + write the warehouse + quarantine + issue list)
B: pandas `read_csv(dtype=str)` of the same CSV       (bar: A ≤ 3× B, all-good and all-bad)
B': python-calamine reading every cell of the same .xlsx

Pairs alternate A B, B A … so drift of a shared machine hits both sides alike; every A run
asserts how many rows were accepted and how many quarantined.

Peak memory: each case is ingested once more in a child process, and the resident memory of
its whole process tree (the workbook sandbox included) is sampled every 20 ms. The cases
include the hostile files of issue 14 (`--hostile`): a 2 KB workbook spanning A1:XFD1048576
and one spanning A1:CV1048576, a zip bomb (1.2 GB of sheet XML in a few MB), a 2 GB CSV,
400 k rows with 3 errors each, a NUL after 4 KB, two encodings in one file. Bar: ≤ 2 GB for
any input.

    .venv/bin/python -m benchmarks.bench_ingest [--rows 1000000] [--xlsx-rows 100000]
        [--reps 3] [--hostile] [--no-timing]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import xlsxwriter

from workbench.demo import write_cases_csv
from workbench.ingest import ingest_paths

ROOT = Path(__file__).resolve().parent.parent
BAD_COLUMN = "应追回金额(元)"  # every row of the all-bad file has this cell wrong, and only it
MEMORY_BAR = 2 << 30


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def write_master(cases_csv: Path, out: Path) -> Path:
    """Counties and institutions the cases refer to, so the reference rules really run."""
    df = pd.read_csv(cases_csv, dtype=str, usecols=["区划代码", "机构编码"])
    codes = sorted(df["区划代码"].dropna().unique())
    inst = df.dropna().drop_duplicates("机构编码")
    path = out / "990000_演示市_名录_2025.xlsx"
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("区县名录")
    ws.write_row(0, 0, ["区划代码", "区县名称", "所属地市", "年度"])
    for i, c in enumerate(codes, 1):
        ws.write_row(i, 0, [c, f"演示{c}", "演示市", 2025])
    ws = wb.add_worksheet("定点医药机构名录")
    ws.write_row(0, 0, ["机构编码", "机构名称", "区划代码", "机构类型"])
    for i, (iid, c) in enumerate(zip(inst["机构编码"], inst["区划代码"]), 1):
        ws.write_row(i, 0, [iid, f"机构{iid}", c, "公立医疗机构"])
    wb.close()
    return path


def write_bad(good: Path, bad: Path, errors: int = 1, rows: int | None = None) -> Path:
    """The same rows with `errors` cells each made wrong (the amount first, then dates)."""
    import duckdb

    columns = [BAD_COLUMN, "发现日期", "立案日期"][:errors]
    with duckdb.connect() as con:
        cols = pd.read_csv(good, nrows=0).columns
        select = ", ".join(f"'待核实' AS \"{c}\"" if c in columns else f'"{c}"' for c in cols)
        limit = f" LIMIT {rows}" if rows else ""
        src = str(good).replace("'", "''")
        con.execute(
            f"COPY (SELECT {select} FROM read_csv('{src}', all_varchar=true, header=true){limit}) "
            f"TO '{str(bad).replace(chr(39), chr(39) * 2)}' (HEADER, DELIMITER ',')"
        )
    return bad


def csv_to_xlsx(csv_path: Path, xlsx_path: Path, rows: int) -> Path:
    df = pd.read_csv(csv_path, dtype=str, nrows=rows, keep_default_na=False)
    wb = xlsxwriter.Workbook(str(xlsx_path), {"constant_memory": True})
    ws = wb.add_worksheet("案件台账")
    ws.write_row(0, 0, list(df.columns))
    for i, rec in enumerate(df.itertuples(index=False), 1):
        ws.write_row(i, 0, rec)
    wb.close()
    return xlsx_path


def pair_runs(label: str, a, b, reps: int) -> dict:
    ta, tb, ratios = [], [], []
    for rep in range(reps):
        if rep % 2:
            y, x = _timed(b), _timed(a)
        else:
            x, y = _timed(a), _timed(b)
        ta.append(x)
        tb.append(y)
        ratios.append(x / y)
        print(f"  pair {rep + 1}: A {x:.2f}s B {y:.2f}s ratio {x / y:.2f}", flush=True)
    res = {
        "what": label,
        "A_s": ta,
        "B_s": tb,
        "A_median_s": statistics.median(ta),
        "B_median_s": statistics.median(tb),
        "ratio_median": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
    }
    print(
        f"{label}: A {res['A_median_s']:.2f}s  B {res['B_median_s']:.2f}s  "
        f"A/B median {res['ratio_median']:.2f} (min {res['ratio_min']:.2f}, "
        f"max {res['ratio_max']:.2f})",
        flush=True,
    )
    return res


_CHILD = """
import json, sys
from pathlib import Path
from workbench.ingest import ingest_paths
r = ingest_paths([Path(p) for p in sys.argv[3:]], sys.argv[1], report_dir=sys.argv[2])
print(json.dumps({"accepted": sum(r.accepted.values()), "quarantined": sum(r.quarantined.values()),
                  "errors": r.error_count, "codes": sorted(set(r.issues["code"])),
                  "report_error": r.report_error}))
"""


def peak_memory(label: str, paths: list[Path], base: Path, work: Path) -> dict:
    """Ingest `paths` in a child process; the peak of the summed resident memory of its whole
    process tree (sampled every 20 ms), its time and what it did."""
    import psutil

    target = work / "mem.duckdb"
    for leftover in work.glob("mem.duckdb*"):
        leftover.unlink()
    shutil.copy(base, target)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(target), str(work / "mem-reports"), *map(str, paths)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    top = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            tree = [top, *top.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.02)
    out, err = proc.communicate()
    seconds = time.perf_counter() - t0
    done = json.loads(out.strip().splitlines()[-1]) if proc.returncode == 0 else {"error": err}
    res = {"what": label, "peak_mb": round(peak / (1 << 20)), "seconds": seconds, **done}
    mark = "ok" if peak <= MEMORY_BAR else "OVER"
    print(f"memory {label}: peak {res['peak_mb']} MB ({mark}), {seconds:.1f}s, {done}", flush=True)
    return res


def hostile_cases(work: Path, good: Path) -> list[tuple[str, list[Path]]]:
    """The probes of issue 14, built here (the big ones written as streams)."""
    sys.path.insert(0, str(ROOT))
    from tests.ingest_corpus import far_cell_xlsx, mixed_encoding_csv, nul_csv, zip_bomb_xlsx

    h = work / "hostile"
    h.mkdir(exist_ok=True)
    cases = [
        ("xlsx spanning A1:XFD1048576 (2 KB)", [far_cell_xlsx(h / "990101_a_2025-09.xlsx")]),
        (
            "xlsx spanning A1:CV1048576 (2 KB)",
            [far_cell_xlsx(h / "990101_b_2025-09.xlsx", "CV1048576")],
        ),
        ("zip bomb: 1.2 GB of sheet XML", [zip_bomb_xlsx(h / "990101_c_2025-09.xlsx", 1200)]),
        ("CSV with a NUL after 4 KB", [nul_csv(h / "990101_d_2025-09.csv")]),
        ("CSV: UTF-8 header, GBK body", [mixed_encoding_csv(h / "990101_e_2025-09.csv")]),
    ]
    huge = h / "990000_f_2025-09.csv"
    with open(huge, "wb") as out, open(good, "rb") as src:
        header = src.readline()
        body = src.read()
        out.write(header)
        while out.tell() < (2 << 30):
            out.write(body)
    cases.append((f"CSV of {huge.stat().st_size / (1 << 30):.1f} GB", [huge]))
    three = write_bad(good, h / "990000_g_2025-09.csv", errors=3, rows=400_000)
    cases.append(("400 k rows × 3 errors", [three]))
    return cases


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--xlsx-rows", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--hostile", action="store_true", help="peak memory of the hostile files too")
    ap.add_argument("--no-timing", action="store_true", help="peak memory only")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    results: list[dict] = []
    try:
        # named for the province: every row's county belongs to it, so every row is accepted
        good = write_cases_csv(work / "990000_全省_2025-09.csv", args.rows)
        bad = write_bad(good, work / "990000_全省_2025-10.csv")
        master = write_master(good, work)
        base = work / "base.duckdb"
        ingest_paths([master], base)
        xlsx = csv_to_xlsx(good, work / "990000_全省_2025-11.xlsx", args.xlsx_rows)

        def ingest(path: Path, accepted: int, quarantined: int):
            def run():
                target = work / "wh.duckdb"
                for leftover in work.glob("wh.duckdb*"):
                    leftover.unlink()
                shutil.copy(base, target)
                report = ingest_paths([path], target, report_dir=work / "reports")
                got = (sum(report.accepted.values()), sum(report.quarantined.values()))
                assert got == (accepted, quarantined), (path.name, got)
                assert report.report_paths and not report.report_error

            return run

        def read_csv(path: Path):
            return lambda: pd.read_csv(path, dtype=str)

        def calamine():
            from python_calamine import CalamineWorkbook

            CalamineWorkbook.from_path(str(xlsx)).get_sheet_by_index(0).to_python()

        n, nx = args.rows, args.xlsx_rows
        if not args.no_timing:
            results += [
                pair_runs(
                    f"CSV {n:,} rows, all accepted: ingest vs pandas read_csv",
                    ingest(good, n, 0),
                    read_csv(good),
                    args.reps,
                ),
                pair_runs(
                    f"CSV {n:,} rows, all refused: ingest vs pandas read_csv",
                    ingest(bad, 0, n),
                    read_csv(bad),
                    args.reps,
                ),
                pair_runs(
                    f"XLSX {nx:,} rows: ingest vs calamine read",
                    ingest(xlsx, nx, 0),
                    calamine,
                    args.reps,
                ),
            ]
        cases = [
            (f"CSV {n:,} rows, all accepted", [good]),
            (f"CSV {n:,} rows, all refused", [bad]),
            (f"XLSX {nx:,} rows", [xlsx]),
        ]
        if args.hostile:
            cases += hostile_cases(work, good)
        results += [peak_memory(label, paths, base, work) for label, paths in cases]
        return results
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
