"""`workbench screen …`: settlement data → 疑点 leads (load, check, run, lists, export, status)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from pathlib import Path

from workbench.cliargs import month, month_or_latest
from workbench.messages import t

SHOW_ISSUES = 10


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("screen", help=t("screen.help"), description=t("screen.description"))
    inner = p.add_subparsers(dest="screen_command", metavar="<操作>", title=t("screen.actions"))

    ld = inner.add_parser("load", help=t("screen.load.help"), description=t("screen.load.help"))
    ld.add_argument("paths", nargs="+", help=t("screen.load.paths"))
    ld.add_argument("--warehouse", help=t("cmd.warehouse"))
    ld.add_argument("--report-dir", help=t("screen.load.report_dir"))
    ld.set_defaults(func=run_load)

    ck = inner.add_parser("check", help=t("screen.check.help"), description=t("screen.check.help"))
    ck.add_argument("--rules", action="append", help=t("screen.rules"))
    ck.set_defaults(func=run_check)

    rn = inner.add_parser("run", help=t("screen.run.help"), description=t("screen.run.help"))
    rn.add_argument("--period", default="latest", help=t("screen.run.period"))
    rn.add_argument("--to", type=month, help=t("screen.run.to"))
    rn.add_argument("--warehouse", help=t("cmd.warehouse"))
    rn.add_argument("--rules", action="append", help=t("screen.rules"))
    rn.add_argument("--rule", action="append", help=t("screen.run.rule"))
    rn.add_argument("--params", help=t("screen.run.params"))
    rn.add_argument(
        "--engine", choices=("duckdb", "spark"), default="duckdb", help=t("screen.run.engine")
    )
    rn.add_argument("--spark-master", help=t("screen.run.spark_master"))
    rn.add_argument("--parquet", help=t("screen.run.parquet"))
    rn.add_argument("--lists-out", help=t("screen.run.lists_out"))
    rn.add_argument("--received", help=t("screen.run.received"))
    rn.set_defaults(func=run_run)

    ls = inner.add_parser("lists", help=t("screen.lists.help"), description=t("screen.lists.help"))
    ls.add_argument("--period", required=True, type=month_or_latest, help=t("screen.run.period"))
    ls.add_argument("--warehouse", help=t("cmd.warehouse"))
    ls.add_argument("--rules", action="append", help=t("screen.rules"))
    ls.add_argument("--out", help=t("screen.run.lists_out"))
    ls.set_defaults(func=run_lists)

    ex = inner.add_parser(
        "export", help=t("screen.export.help"), description=t("screen.export.help")
    )
    ex.add_argument("--out", required=True, help=t("screen.export.out"))
    ex.add_argument("--warehouse", help=t("cmd.warehouse"))
    ex.set_defaults(func=run_export)

    st = inner.add_parser(
        "status", help=t("screen.status.help"), description=t("screen.status.help")
    )
    st.add_argument("--warehouse", help=t("cmd.warehouse"))
    st.set_defaults(func=run_status)
    p.set_defaults(func=lambda _a: (p.print_help(), 2)[1])


# ---------------------------------------------------------------- load


def run_load(args: argparse.Namespace) -> int:
    from workbench.config import warehouse_path
    from workbench.screening.load import issue_rows, load_paths
    from workbench.screening.salt import SaltError, resolve_salt
    from workbench.warehouse import Warehouse

    path = warehouse_path(args.warehouse)
    try:
        salt = resolve_salt(path)
    except SaltError as exc:
        print(t("cli.error", message=str(exc)), file=sys.stderr)
        return 2
    with Warehouse(path) as wh:
        wh.con.execute("SET enable_progress_bar = false")
        try:
            report = load_paths(wh.con, args.paths, salt)
        except SaltError as exc:
            print(t("cli.error", message=str(exc)), file=sys.stderr)
            return 2
        new = [f.load_id for f in report.files if f.status == "new"]
        issues = issue_rows(wh.con, new)
    print(t("screen.load.title", path=path))
    for f in report.files:
        key = {"new": "screen.load.file_new", "duplicate": "screen.load.file_duplicate"}.get(
            f.status, "screen.load.file_refused"
        )
        print(
            t(
                key,
                file=f.file,
                table=_table_title(f.table),
                rows=f"{f.rows_in:,}",
                accepted=f"{f.accepted:,}",
                quarantined=f"{f.quarantined:,}",
            )
        )
    for i in report.file_issues:
        print("  - " + i.message)
    print(
        t(
            "screen.load.totals",
            rows=f"{report.rows_in:,}",
            accepted=f"{report.accepted:,}",
            quarantined=f"{report.quarantined:,}",
        )
    )
    if len(issues):
        print(t("screen.load.first_issues", n=min(SHOW_ISSUES, len(issues))))
        for msg in issues["message"].head(SHOW_ISSUES):
            print("  - " + msg)
        out = Path(args.report_dir) if args.report_dir else path.parent / "reports"
        print(t("screen.load.report", path=_write_issue_report(issues, out)))
    return 0 if report.ok and report.files else 1


def _table_title(name: str) -> str:
    from workbench.screening.tables import TABLES

    return TABLES[name].title if name in TABLES else "—"


def _write_issue_report(issues, out: Path) -> Path:
    from workbench.privacy import excel_safe_frame

    out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = out / f"结算数据入库问题清单_{stamp}.xlsx"
    frame = issues.rename(
        columns={
            "file": "文件",
            "row": "行号",
            "column": "列",
            "value": "值",
            "code": "规则编码",
            "message": "说明",
        }
    )
    excel_safe_frame(frame).to_excel(path, index=False, sheet_name="问题清单")
    return path


# ---------------------------------------------------------------- check


def run_check(args: argparse.Namespace) -> int:
    from workbench.screening.rules import check_rules

    dirs = [Path(d) for d in args.rules] if args.rules else None
    issues = check_rules(dirs)
    for i in issues:
        print(str(i))
    errors = [i for i in issues if i.level == "error"]
    print(t("screen.check.ok") if not errors else t("screen.check.failed", n=len(errors)))
    return 1 if errors else 0


# ---------------------------------------------------------------- run


def latest_month(con) -> str | None:
    row = con.execute("SELECT strftime(max(setl_time), '%Y-%m') FROM scr_settlements").fetchone()
    return row[0] if row else None


def run_run(args: argparse.Namespace) -> int:
    from workbench.config import warehouse_path
    from workbench.declarations import DeclarationError
    from workbench.screening.engines import DuckDBEngine, SparkEngine, export_parquet
    from workbench.screening.lists import write_lists
    from workbench.screening.load import ensure_schema
    from workbench.screening.rules import Window, load_parameters, load_rules
    from workbench.screening.run import screen
    from workbench.warehouse import Warehouse

    path = warehouse_path(args.warehouse)
    if not path.exists():
        print(t("cmd.no_such_warehouse", path=path), file=sys.stderr)
        return 2
    try:
        ruleset = load_rules([Path(d) for d in args.rules] if args.rules else None)
        overrides = load_parameters(Path(args.params), ruleset) if args.params else {}
    except DeclarationError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    unknown = [c for c in args.rule or [] if c not in ruleset.rules]
    if unknown:
        print(
            t("screen.run.unknown_rule", codes="、".join(unknown), known="、".join(ruleset.rules)),
            file=sys.stderr,
        )
        return 2
    received = dt.date.fromisoformat(args.received) if args.received else None
    with Warehouse(path) as wh:
        wh.con.execute("SET enable_progress_bar = false")
        ensure_schema(wh.con)
        first = latest_month(wh.con) if args.period == "latest" else month(args.period)
        if first is None:
            print(t("screen.run.no_data"), file=sys.stderr)
            return 1
        window = Window(first, args.to or first)
        if window.to_month < window.from_month:
            print(
                t("screen.run.bad_window", first=window.from_month, last=window.to_month),
                file=sys.stderr,
            )
            return 2
        print(
            t(
                "screen.run.title",
                first=window.from_month,
                last=window.to_month,
                engine=args.engine,
                n=len(args.rule or ruleset.rules),
            )
        )
        tmp = None
        if args.engine == "spark":
            parquet = args.parquet
            if parquet is None:
                tmp = tempfile.TemporaryDirectory(prefix="workbench-spark-")
                export_parquet(wh.con, Path(tmp.name))
                parquet = tmp.name
            engine = SparkEngine(parquet, master=args.spark_master)
        else:
            engine = DuckDBEngine(wh.con)
        try:
            result = screen(wh, ruleset, window, engine, args.rule, overrides, received)
        finally:
            if tmp is not None:
                tmp.cleanup()
        for code, n in result.hits.items():
            rule = ruleset.rules[code]
            print(
                t(
                    "screen.run.rule_line",
                    code=code,
                    name=rule.name,
                    hits=f"{n:,}",
                    seconds=f"{result.timings['rules'].get(code, 0):.2f}",
                )
            )
        print(
            t(
                "screen.run.totals",
                screened=f"{result.settlements_screened:,}",
                hits=f"{result.total_hits:,}",
                new=len(result.leads_new),
                existing=result.leads_existing,
                suppressed=result.leads_suppressed,
                seconds=f"{result.timings['total']:.1f}",
            )
        )
        if result.coverage_rows:
            print(t("screen.run.coverage", n=result.coverage_rows, table="screening_coverage"))
        out = Path(args.lists_out) if args.lists_out else path.parent / "疑点清单"
        files = []
        for m in window.months:
            files += write_lists(wh, ruleset, m, out / m)
        print(t("screen.run.lists", n=len(files), path=out))
    return 0


def run_lists(args: argparse.Namespace) -> int:
    from workbench.config import warehouse_path
    from workbench.screening.lists import write_lists
    from workbench.screening.rules import load_rules
    from workbench.screening.run import ensure_run_schema
    from workbench.warehouse import Warehouse

    path = warehouse_path(args.warehouse)
    ruleset = load_rules([Path(d) for d in args.rules] if args.rules else None)
    with Warehouse(path) as wh:
        ensure_run_schema(wh.con)
        period = latest_month(wh.con) if args.period == "latest" else args.period
        if period is None:
            print(t("screen.run.no_data"), file=sys.stderr)
            return 1
        out = Path(args.out) if args.out else path.parent / "疑点清单" / period
        files = write_lists(wh, ruleset, period, out)
    print(t("screen.run.lists", n=len(files), path=out))
    return 0


def run_export(args: argparse.Namespace) -> int:
    from workbench.config import warehouse_path
    from workbench.screening.engines import export_parquet
    from workbench.screening.load import ensure_schema
    from workbench.warehouse import Warehouse

    path = warehouse_path(args.warehouse)
    with Warehouse(path) as wh:
        ensure_schema(wh.con)
        files = export_parquet(wh.con, Path(args.out))
    print(t("screen.export.done", n=len(files), path=args.out))
    return 0


def run_status(args: argparse.Namespace) -> int:
    from workbench.config import warehouse_path
    from workbench.screening.run import ensure_run_schema
    from workbench.screening.tables import TABLES
    from workbench.warehouse import Warehouse

    path = warehouse_path(args.warehouse)
    if not path.exists():
        print(t("cmd.no_such_warehouse", path=path), file=sys.stderr)
        return 2
    with Warehouse(path) as wh:
        ensure_run_schema(wh.con)
        print(t("screen.status.title", path=path))
        for tb in TABLES.values():
            n = wh.con.execute(f'SELECT count(*) FROM "{tb.storage}"').fetchone()[0]
            files = wh.con.execute(
                "SELECT count(*) FROM scr_loads WHERE table_name = ? AND status = '已入库'",
                [tb.name],
            ).fetchone()[0]
            print(t("screen.status.table", title=tb.title, rows=f"{n:,}", files=files))
        q = wh.con.execute("SELECT count(*) FROM scr_quarantine").fetchone()[0]
        print(t("screen.status.quarantine", n=f"{q:,}"))
        for run_id, first, last, engine, hits, new in wh.con.execute(
            "SELECT run_id, from_month, to_month, engine, hits, leads_new FROM scr_runs "
            "ORDER BY started_at DESC LIMIT 5"
        ).fetchall():
            print(
                t(
                    "screen.status.run",
                    run=run_id,
                    first=first,
                    last=last,
                    engine=engine,
                    hits=hits,
                    new=new,
                )
            )
    return 0
