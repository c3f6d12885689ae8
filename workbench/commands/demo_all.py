"""`workbench demo-all`: the whole monthly job on the embedded demo city, step by step.

demo workbooks → ingest (with a county's mistakes quarantined, then its correction) → status →
screening of the demo's settlement extract (leads into the ledger, lists) → indicators and
index → per-county reports and the city 通报 → the leader cockpit.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from workbench.cliargs import whole
from workbench.messages import t


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo-all", help=t("demo_all.help"), description=t("demo_all.help"))
    p.add_argument("--out", default="demo_city", help=t("demo_all.out"))
    p.add_argument("--warehouse", default=None, help=t("cmd.warehouse"))
    p.add_argument("--counties", type=whole(1), default=10, help=t("demo_all.counties"))
    p.add_argument("--jobs", type=whole(1), default=2, help=t("demo_all.jobs"))
    p.add_argument("--no-serve", action="store_true", help=t("demo_all.no_serve"))
    p.add_argument("--port", type=whole(0, 65535), default=8866, help=t("demo_all.port"))
    p.set_defaults(func=run)


def _step(n: int, key: str) -> None:
    print(
        "\n" + "═" * 60 + "\n" + t("demo_all.step", n=n, title=t(key)) + "\n" + "═" * 60, flush=True
    )


def run(args: argparse.Namespace) -> int:
    from workbench.config import warehouse_path

    cli = args.run_cli  # `workbench.cli.main`, handed over by the parser (see `build_parser`)
    out = Path(args.out)
    wh = warehouse_path(args.warehouse)
    kept = _not_demo(wh)
    if kept:  # the configured warehouse holds a bureau's own data: never delete it
        print(t("demo_all.refuse_warehouse", path=wh, why=kept), file=sys.stderr)
        return 2
    if out.exists() and not _demo_folder(out):
        print(t("demo_all.refuse_out", path=out), file=sys.stderr)
        return 2
    if out.exists():
        shutil.rmtree(out)
    if wh.exists():
        wh.unlink()  # the demo always starts from an empty warehouse
    common = ["--warehouse", str(wh)]

    _step(1, "demo_all.s_demo")
    if cli(["demo", "--out", str(out), "--counties", str(args.counties)]) != 0:
        return 1
    _step(2, "demo_all.s_ingest")
    firsts = sorted(p for p in out.iterdir() if p.is_file() and p.suffix == ".xlsx")
    received = _receipt_dates(out)
    _ingest(firsts, wh, received)
    corrections = out / "corrections"
    if corrections.is_dir():
        _step(3, "demo_all.s_correct")
        _ingest([corrections], wh, received)
    _step(4, "demo_all.s_status")
    cli(["status", *common])
    _step(5, "demo_all.s_screen")
    if screen_demo(cli, out, common) != 0:
        print(t("demo_all.failed", step=t("demo_all.s_screen")), file=sys.stderr)
        return 1
    _step(6, "demo_all.s_compute")
    if cli(["compute", "--period", "latest", *common]) != 0:
        print(t("demo_all.failed", step=t("demo_all.s_compute")), file=sys.stderr)
        return 1
    _step(7, "demo_all.s_run")
    rc = cli(["run", "--period", "latest", "--jobs", str(args.jobs), *common])
    if rc != 0:
        print(t("demo_all.failed", step=t("demo_all.s_run")), file=sys.stderr)
    _step(8, "demo_all.s_serve")
    if args.no_serve:
        print(t("demo_all.serve_hint", port=args.port, warehouse=wh))
        return rc
    return cli(["serve", "--port", str(args.port), *common]) or rc


def _receipt_dates(out: Path) -> dict:
    """When each demo county sent each file (`demo.receipt_dates`): the demo loads two years of
    ledgers today, as a bureau back-loading them would, and declares when they were received
    (`workbench ingest --received-on`), so 按时/逾期 says something about the counties."""
    from workbench import demo, freshness

    return demo.receipt_dates(demo.read_manifest(out), freshness.report_due_day())


def _ingest(paths: list[Path], wh: Path, received: dict) -> int:
    """`workbench ingest PATH…` with each file's receipt date by name (one date per file,
    which the command line's `--received-on`, one date for a batch, cannot say)."""
    from workbench.commands.ingest import ingest_files

    return ingest_files([str(p) for p in paths], wh, wh.parent / "reports", received_on=received)


def _not_demo(wh: Path) -> str | None:
    """Why the file at `wh` is not a demo warehouse (then demo-all must not delete it), or None.

    Demo division codes start with 99, which is no real province: a warehouse whose tables
    hold any other county code, or a file that is no DuckDB warehouse, is somebody's data."""
    import duckdb

    if not wh.exists():
        return None
    try:
        con = duckdb.connect(str(wh), read_only=True)
    except duckdb.Error:
        return t("demo_all.not_a_warehouse")
    try:
        tables = [
            name
            for (name,) in con.execute(
                "SELECT c.table_name FROM information_schema.columns c "
                "JOIN information_schema.tables USING (table_schema, table_name) "
                "WHERE column_name = 'county_code' AND table_type = 'BASE TABLE'"
            ).fetchall()
        ]
        for name in tables:
            quoted = '"' + name.replace('"', '""') + '"'
            row = con.execute(
                f"SELECT county_code FROM {quoted} WHERE county_code IS NOT NULL "
                "AND NOT starts_with(CAST(county_code AS VARCHAR), '99') LIMIT 1"
            ).fetchone()
            if row:
                return t("demo_all.real_county", table=name, code=row[0])
    finally:
        con.close()
    return None


def _demo_folder(out: Path) -> bool:
    """True when every file under `out` is one the demo writes (its workbooks are named by a
    99… division code; its settlement extract and corrections live in its own folders)."""
    if not out.is_dir():
        return False
    for path in out.rglob("*"):
        if path.is_file() and not (
            path.name[:2] == "99"
            or path.name == "manifest.json"
            or _DEMO_SUBDIRS & set(path.relative_to(out).parts)
        ):
            return False
    return True


_DEMO_SUBDIRS = {"结算数据", "corrections", "疑点清单", "疑点清单反馈"}


def screen_demo(cli, out: Path, common: list[str]) -> int:
    """Load the demo's settlement extract and screen its last months one by one, as a city
    does each month (each month's leads dated its last day, so that month's indicators count
    them); then the counties' returned lists of the earlier months — answered by
    `screening.demo_returns` — go back through `workbench ingest` like any county's return."""
    import json

    from workbench.commands.demo import EXTRACT_DIR
    from workbench.screening.demo_extract import PARAMS_FILE

    extract = out / EXTRACT_DIR
    if not extract.is_dir():
        return 0
    manifest = json.loads((extract / "manifest.json").read_text(encoding="utf-8"))
    period = manifest["period"]
    earlier = sorted({e["month"] for e in manifest.get("history", [])} - {period})
    if cli(["screen", "load", str(extract), *common]) != 0:
        return 1
    lists = out / LISTS_DIR
    for month in [*earlier, period]:
        rc = cli(
            [
                "screen",
                "run",
                "--period",
                month,
                "--params",
                str(extract / PARAMS_FILE),
                "--received",
                str(_month_end(month)),
                "--lists-out",
                str(lists),
                *common,
            ]
        )
        if rc != 0:
            return rc
    if not earlier:
        return 0
    return _return_lists(cli, lists, out / RETURNS_DIR, earlier, _month_end(period), common)


LISTS_DIR = "疑点清单"  # the lists screening writes for the counties, one folder a month
RETURNS_DIR = "疑点清单反馈"  # the counties' returns of those lists (核查结果 filled)


def _month_end(month: str):
    import calendar
    import datetime as dt

    year, m = map(int, month.split("-"))
    return dt.date(year, m, calendar.monthrange(year, m)[1])


def _return_lists(
    cli, lists: Path, returns: Path, months: list[str], as_of, common: list[str]
) -> int:
    """The counties' answers to the lists of `months`, checked by `as_of`, ingested."""
    from workbench.screening.demo_returns import fill_returns

    files = []
    for month in months:
        files += fill_returns(lists / month, returns / month, as_of)
    print(t("demo_all.returns", n=len(files), months="、".join(months), path=returns), flush=True)
    if not files:
        return 0
    # returned by the as-of date: declared, so the load time (today) is not taken for it
    return cli(["ingest", str(returns), "--received-on", str(as_of), *common])
