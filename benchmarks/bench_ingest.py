"""Ingest speed, as ratios against plain readers of the same file measured in the same run.

A: `ingest_paths` (read + type + validate every rule + write warehouse + quarantine + report)
B: pandas `read_csv(dtype=str)` of the same CSV   (bar: A ≤ 3× B)
B': python-calamine reading every cell of the same .xlsx (the fastest plain xlsx reader)

Pairs alternate A B A B … so drift of a shared machine hits both sides alike.

    .venv/bin/python -m benchmarks.bench_ingest [--rows 1000000] [--xlsx-rows 100000] [--reps 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
import xlsxwriter

from workbench.demo import write_cases_csv
from workbench.ingest import ingest_paths


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
    for _ in range(reps):
        x = _timed(a)
        y = _timed(b)
        ta.append(x)
        tb.append(y)
        ratios.append(x / y)
    res = {
        "what": label,
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


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--xlsx-rows", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        csv_path = write_cases_csv(work / "990101_演示_2025-09.csv", args.rows)
        master = write_master(csv_path, work)
        base = work / "base.duckdb"
        ingest_paths([master], base)
        xlsx = csv_to_xlsx(csv_path, work / "990101_演示_2025-10.xlsx", args.xlsx_rows)

        def ingest(path: Path):
            def run():
                target = work / "wh.duckdb"
                shutil.copy(base, target)
                report = ingest_paths([path], target)
                assert sum(report.rows_in.values()) == sum(report.accepted.values()) + sum(
                    report.quarantined.values()
                )

            return run

        def read_csv():
            pd.read_csv(csv_path, dtype=str)

        def calamine():
            from python_calamine import CalamineWorkbook

            CalamineWorkbook.from_path(str(xlsx)).get_sheet_by_index(0).to_python()

        results = [
            pair_runs(
                f"CSV {args.rows:,} rows: ingest vs pandas read_csv",
                ingest(csv_path),
                read_csv,
                args.reps,
            ),
            pair_runs(
                f"XLSX {args.xlsx_rows:,} rows: ingest vs calamine read",
                ingest(xlsx),
                calamine,
                args.reps,
            ),
        ]
        return results
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
