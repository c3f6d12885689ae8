"""Screening speed and memory over a city-year, as ratios against same-run baselines.

Rules:  A = every shipped rule over the whole year (the DuckDB engine: shared views, then the ten
        queries, evidence fetched), B = one aggregate scan of the same tables: settlements joined
        to fee_details, GROUP BY month. Order B A B; the ratio uses B's median.
        Bars: A ≤ 5× B, A < 3 min, peak memory < 8 GB.
Load:   A = `workbench screen load` of the extract's CSVs (type, validate, hash, quarantine,
        write), B = a plain DuckDB `CREATE TABLE … AS SELECT * FROM read_csv(…)` of the same
        files (auto-detected types). Bar: A ≤ 3× B.
Scale:  the rules run at 1×, 2× and 4× a base size (same generator) to show cost grows
        linearly in rows.

Each phase runs in its own process so its peak resident memory (ru_maxrss) is its own. DuckDB
gets `memory_limit` (default 6 GB; it spills beyond that) and all cores.

    .venv/bin/python -m benchmarks.bench_screening [--settlements 10000000] [--scale-base 1000000]
        [--memory-limit 6GB] [--keep DIR] [--skip-scaling] [--write-results]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SECTION = "## Screening"
COUNTIES = 60
BASELINE_SQL = (
    "SELECT strftime(s.setl_time, '%Y-%m') AS month, count(*) AS n, "
    "sum(f.det_item_fee_sumamt) AS amount, sum(s.fund_pay_sumamt) AS fund "
    "FROM scr_settlements s JOIN scr_fee_details f ON f.setl_id = s.setl_id GROUP BY 1"
)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _phase(name: str, **kw: object) -> dict:
    """Run one phase in a child process; its JSON result (with peak memory) comes back."""
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.bench_screening",
        "--phase",
        name,
        "--args",
        json.dumps(kw),
    ]
    out = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT))
    )
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"phase {name} failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _scale_for(settlements: int) -> object:
    """A Scale whose background comes to about `settlements` a year over COUNTIES counties."""
    from workbench.screening.demo_extract import Scale

    visit_rate, inpatient = 0.8, 0.06
    per_person = (1 - inpatient) * visit_rate * 12 + inpatient
    persons = max(50, round(settlements / (COUNTIES * per_person)))
    return Scale(
        persons_per_county=persons, visit_rate=visit_rate, inpatient_share=inpatient, fee_lines=4.0
    )


# ---------------------------------------------------------------- phases (child processes)


def phase_generate(out: str, settlements: int) -> dict:
    """The demo generator's city-year as field-code CSV files, plus the roster as Parquet."""
    import pandas as pd

    from workbench import demo
    from workbench.screening import demo_extract as de

    t0 = time.perf_counter()
    city = demo.generate_city(n_counties=COUNTIES, seed=11)
    months = [str(p) for p in pd.period_range("2025-01", "2025-12", freq="M")]
    extract = de.generate_extract(
        city.frames["institutions"], months, _scale_for(settlements), seed=11
    )
    paths = de.write_extract(extract, out, fmt="csv")
    frames = {k: city.frames[k] for k in ("counties", "institutions")}
    pd.to_pickle(frames, Path(out) / "roster.pkl")
    rows = {}
    for p in paths:
        if p.suffix == ".csv":
            table = p.stem.rsplit("_", 1)[0] if p.stem[-3] == "-" else p.stem
            with p.open("rb") as fh:
                rows[table] = rows.get(table, 0) + sum(1 for _ in fh) - 1
    size = sum(p.stat().st_size for p in paths)
    return {"seconds": time.perf_counter() - t0, "rows": rows, "bytes": size, "peak_mb": _peak_mb()}


def _csvs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.csv"))


def phase_load(folder: str, warehouse: str, memory_limit: str) -> dict:
    import pandas as pd

    from workbench.screening.load import load_paths
    from workbench.screening.salt import Salt
    from workbench.warehouse import Warehouse

    with Warehouse(warehouse) as wh:
        wh.con.execute(f"SET memory_limit = '{memory_limit}'")
        wh.con.execute("SET enable_progress_bar = false")
        wh.load_frames(pd.read_pickle(Path(folder) / "roster.pkl"))
        t0 = time.perf_counter()
        report = load_paths(wh.con, _csvs(Path(folder)), Salt("bench-salt-0123456789", "env"))
        seconds = time.perf_counter() - t0
    assert report.rows_in == report.accepted + report.quarantined
    return {
        "seconds": seconds,
        "rows": report.rows_in,
        "quarantined": report.quarantined,
        "peak_mb": _peak_mb(),
    }


def phase_read_csv(folder: str, memory_limit: str) -> dict:
    """The plain reader: each table's files into a table by DuckDB's own read_csv."""
    import duckdb

    files: dict[str, list[str]] = {}
    for p in _csvs(Path(folder)):
        table = p.stem.rsplit("_", 1)[0] if p.stem[-3] == "-" else p.stem
        files.setdefault(table, []).append(str(p))
    db = Path(folder) / "plain.duckdb"
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute("SET enable_progress_bar = false")
    t0 = time.perf_counter()
    for table, paths in files.items():
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_csv({paths!r})")
    seconds = time.perf_counter() - t0
    con.close()
    db.unlink(missing_ok=True)
    return {"seconds": seconds, "peak_mb": _peak_mb()}


def phase_baseline(warehouse: str, memory_limit: str) -> dict:
    import duckdb

    con = duckdb.connect(warehouse, read_only=True)
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute("SET enable_progress_bar = false")
    t0 = time.perf_counter()
    rows = con.execute(BASELINE_SQL).fetchall()
    seconds = time.perf_counter() - t0
    con.close()
    return {"seconds": seconds, "months": len(rows), "peak_mb": _peak_mb()}


def phase_rules(warehouse: str, memory_limit: str, params: str) -> dict:
    from workbench.screening.engines import DuckDBEngine
    from workbench.screening.rules import Window, load_parameters, load_rules
    from workbench.screening.run import run_rules
    from workbench.warehouse import Warehouse

    ruleset = load_rules()
    overrides = load_parameters(Path(params), ruleset)
    with Warehouse(warehouse, read_only=True) as wh:
        wh.con.execute(f"SET memory_limit = '{memory_limit}'")
        wh.con.execute("SET enable_progress_bar = false")
        engine = DuckDBEngine(wh.con)
        t0 = time.perf_counter()
        hits = run_rules(
            engine,
            list(ruleset.rules.values()),
            list(ruleset.views.values()),
            Window("2025-01", "2025-12"),
            overrides,
        )
        seconds = time.perf_counter() - t0
        settlements = wh.con.execute("SELECT count(*) FROM scr_settlements").fetchone()[0]
        fees = wh.con.execute("SELECT count(*) FROM scr_fee_details").fetchone()[0]
    return {
        "seconds": seconds,
        "views": engine.timings.views,
        "rules": engine.timings.rules,
        "hits": {k: v.num_rows for k, v in hits.items()},
        "settlements": settlements,
        "fee_details": fees,
        "peak_mb": _peak_mb(),
    }


PHASES = {
    "generate": phase_generate,
    "load": phase_load,
    "read_csv": phase_read_csv,
    "baseline": phase_baseline,
    "rules": phase_rules,
}


# ---------------------------------------------------------------- orchestration


def city_year(
    work: Path, settlements: int, memory_limit: str, load_pair: bool, pairs: int = 1
) -> dict:
    """Generate, load (B A B against the plain reader), then B A B … for the rules."""
    data = work / f"extract_{settlements}"
    data.mkdir(parents=True, exist_ok=True)
    wh = work / f"wh_{settlements}.duckdb"
    print(f"[{settlements:,}] generating …", flush=True)
    gen = _phase("generate", out=str(data), settlements=settlements)
    print(f"  {gen['rows']} in {gen['seconds']:.0f} s", flush=True)
    out: dict = {"generate": gen}
    if load_pair:  # B A B: the plain reader on both sides of the load
        reads = [_phase("read_csv", folder=str(data), memory_limit=memory_limit)]
    out["load"] = _phase("load", folder=str(data), warehouse=str(wh), memory_limit=memory_limit)
    print(
        f"  screen load {out['load']['seconds']:.1f} s, peak {out['load']['peak_mb']:.0f} MB",
        flush=True,
    )
    if load_pair:
        reads.append(_phase("read_csv", folder=str(data), memory_limit=memory_limit))
        out["read_csv"] = reads
        out["load_ratio"] = out["load"]["seconds"] / statistics.median(r["seconds"] for r in reads)
        print(
            f"  plain read_csv {[round(r['seconds'], 1) for r in reads]} s → "
            f"{out['load_ratio']:.2f}×",
            flush=True,
        )
    params = str(data / "筛查参数.yaml")
    base, rules = [], []
    for _i in range(pairs):  # B A B A … B
        base.append(_phase("baseline", warehouse=str(wh), memory_limit=memory_limit))
        rules.append(_phase("rules", warehouse=str(wh), memory_limit=memory_limit, params=params))
    base.append(_phase("baseline", warehouse=str(wh), memory_limit=memory_limit))
    b = statistics.median(x["seconds"] for x in base)
    a = min(rules, key=lambda r: abs(r["seconds"] - statistics.median(x["seconds"] for x in rules)))
    out.update(
        baseline=base,
        rules=a,
        rules_all=[r["seconds"] for r in rules],
        ratio=statistics.median(x["seconds"] for x in rules) / b,
    )
    print(
        f"  rules {[round(r['seconds'], 1) for r in rules]} s vs scan "
        f"{[round(x['seconds'], 2) for x in base]} s → {out['ratio']:.2f}×, peak "
        f"{max(r['peak_mb'] for r in rules):.0f} MB",
        flush=True,
    )
    out["rules_peak_mb"] = max(r["peak_mb"] for r in rules)
    shutil.rmtree(data, ignore_errors=True)
    wh.unlink(missing_ok=True)
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--phase")
    ap.add_argument("--args")
    ap.add_argument("--settlements", type=int, default=10_000_000)
    ap.add_argument("--scale-base", type=int, default=1_000_000)
    ap.add_argument("--memory-limit", default="6GB")
    ap.add_argument("--pairs", type=int, default=2, help="rule runs at full size (B A B A B)")
    ap.add_argument("--keep")
    ap.add_argument("--skip-scaling", action="store_true")
    ap.add_argument("--write-results", action="store_true")
    args = ap.parse_args(argv)
    if args.phase:
        print(json.dumps(PHASES[args.phase](**json.loads(args.args))), flush=True)
        return {}
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-screening-"))
    started = time.strftime("%Y-%m-%d %H:%M")
    load_before = os.getloadavg()
    try:
        result = {"big": city_year(work, args.settlements, args.memory_limit, True, args.pairs)}
        if not args.skip_scaling:
            result["scaling"] = {
                k: city_year(work, k * args.scale_base, args.memory_limit, False) for k in (1, 2, 4)
            }
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    result["meta"] = {
        "started": started,
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "machine": f"{platform.node()} ({os.cpu_count()} cores, Python "
        f"{platform.python_version()})",
        "memory_limit": args.memory_limit,
    }
    print(json.dumps(result, ensure_ascii=False, indent=1, default=str))
    if args.write_results:
        write_results(result)
    return result


def write_results(result: dict) -> None:
    big, meta = result["big"], result["meta"]
    rules, gen = big["rules"], big["generate"]
    b = statistics.median(x["seconds"] for x in big["baseline"])
    a = statistics.median(big["rules_all"])
    load_ratio = big["load_ratio"]
    reads = statistics.median(r["seconds"] for r in big["read_csv"])
    b_list = ", ".join(f"{x['seconds']:.1f}" for x in big["baseline"])
    a_list = ", ".join(f"{x:.1f}" for x in big["rules_all"])
    r_list = ", ".join(f"{r['seconds']:.0f}" for r in big["read_csv"])
    lines = [
        SECTION,
        "",
        "Command: `.venv/bin/python -m benchmarks.bench_screening --write-results` (the demo "
        f"generator's city-year: {COUNTIES} counties, 12 months, "
        f"{rules['settlements']:,} settlements and {rules['fee_details']:,} fee lines as "
        f"field-code CSV, {gen['bytes'] / 1e9:.1f} GB). DuckDB `memory_limit` "
        f"{meta['memory_limit']}; each phase in its own process (peak = its max RSS). "
        f"Machine: {meta['machine']}, {meta['started']}; load average "
        f"{meta['load_before'][0]:.1f} before / {meta['load_after'][0]:.1f} after (shared "
        "machine: the ratios are side by side, the seconds are noisy).",
        "",
        "| what | A | B | A/B | bar |",
        "|---|---:|---:|---:|---|",
        f"| all 10 rules over the year vs one aggregate scan (settlements ⋈ fee_details, "
        f"GROUP BY month); medians of {len(big['rules_all'])} A and {len(big['baseline'])} B, "
        f"alternated (A: {a_list} s; B: {b_list} s) | {a:.1f} s | "
        f"{b:.2f} s | **{big['ratio']:.2f}** | ≤ 5× — {'met' if big['ratio'] <= 5 else 'NOT met'}; "
        f"< 3 min — {'met' if a < 180 else 'NOT met'} |",
        f"| peak memory of the rules phase | {big['rules_peak_mb'] / 1024:.2f} GB | | | < 8 GB — "
        f"{'met' if big['rules_peak_mb'] < 8192 else 'NOT met'} |",
        f"| `screen load` of the CSVs vs plain DuckDB `read_csv` into tables (B A B: "
        f"{r_list} s) | "
        f"{big['load']['seconds']:.1f} s | {reads:.1f} s | "
        f"**{load_ratio:.2f}** | ≤ 3× — {'met' if load_ratio <= 3 else 'NOT met'} |",
        f"| peak memory of the load phase | {big['load']['peak_mb'] / 1024:.2f} GB | | | |",
        "",
        "What each rule cost (seconds, same run; shared views are computed once for the rules "
        "that read them):",
        "",
        "| rule / view | s | evidence rows |",
        "|---|---:|---:|",
    ]
    for name, s in rules["views"].items():
        lines.append(f"| view `{name}` | {s:.2f} | |")
    for code, s in rules["rules"].items():
        lines.append(f"| {code} | {s:.2f} | {rules['hits'][code]:,} |")
    if "scaling" in result:
        lines += [
            "",
            "Linearity (same generator, smaller sizes to keep the shared machine free; each size "
            "B A B):",
            "",
            "| settlements | fee lines | rules A | scan B | A/B | A per M settlements |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for _k, r in sorted(result["scaling"].items()):
            rr = r["rules"]
            bb = statistics.median(x["seconds"] for x in r["baseline"])
            lines.append(
                f"| {rr['settlements']:,} | {rr['fee_details']:,} | {rr['seconds']:.1f} s | "
                f"{bb:.2f} s | {r['ratio']:.2f} | {rr['seconds'] / rr['settlements'] * 1e6:.2f} s |"
            )
    lines.append("")
    text = RESULTS.read_text(encoding="utf-8")
    if SECTION in text:
        start = text.index(SECTION)
        nxt = text.find("\n## ", start + len(SECTION))
        text = text[:start] + "\n".join(lines) + (text[nxt:] if nxt != -1 else "\n")
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n"
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
