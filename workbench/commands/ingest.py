"""`workbench ingest PATH…`: files → warehouse, with a Chinese summary and an issue report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench.config import warehouse_path
from workbench.contracts import LEDGERS
from workbench.ingest import IngestReport, ingest_paths
from workbench.cliargs import month
from workbench.messages import t

SHOW_ERRORS = 10
FILE_NOT_READ = ("E_FILE_NOT_FOUND", "E_XLS_UNSUPPORTED", "E_NOT_WORKBOOK", "E_NO_LEDGER")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help=t("cmd.ingest.help"), description=t("cmd.ingest.help"))
    p.add_argument("paths", nargs="+", help=t("cmd.ingest.paths"))
    p.add_argument("--warehouse", help=t("cmd.warehouse"))
    p.add_argument("--period", type=month, help=t("cmd.ingest.period"))
    p.add_argument("--report-dir", help=t("cmd.ingest.report"))
    p.add_argument("--table", metavar="数据表", help=t("cmd.ingest.table"))
    p.add_argument("--indicators-dir", help=t("ind.cli.indicators_dir"))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.table:  # a declared table (kind: table): workbench/tables.py
        from workbench.tables import ingest_command

        return ingest_command(
            args.table, args.paths, args.warehouse, args.report_dir, args.indicators_dir
        )
    wh = warehouse_path(args.warehouse)
    report_dir = Path(args.report_dir) if args.report_dir else wh.parent / "reports"
    report = ingest_paths(args.paths, wh, period=args.period, report_dir=report_dir)
    print_summary(report, wh)
    # rows refused are the report's business; a file not read at all, or none, is a failure
    unread = report.errors["code"].isin(FILE_NOT_READ).any() if len(report.errors) else False
    return (
        0
        if report.files and not unread and all(f.status != "unreadable" for f in report.files)
        else 1
    )


def print_summary(report: IngestReport, wh: Path, out=None) -> None:
    out = out or sys.stdout
    print(t("ingest.summary.title", path=wh), file=out)
    if not report.files:
        print(t("ingest.summary.no_files"), file=out)
    for f in report.files:
        if f.status == "duplicate":
            print(t("ingest.summary.file_duplicate", file=f.file), file=out)
        elif f.status == "unreadable":
            print(t("ingest.summary.file_unreadable", file=f.file), file=out)
        else:
            print(
                t(
                    "ingest.summary.file_new",
                    file=f.file,
                    county=f.county_code,
                    period=f.period,
                    rows=f.rows_in,
                    accepted=f.accepted,
                    quarantined=f.quarantined,
                ),
                file=out,
            )
            if f.replaced:
                print(t("ingest.summary.file_replaced", n=len(f.replaced)), file=out)
            if f.accepted == 0:
                print(t("ingest.summary.file_kept_nothing"), file=out)
    counts = report.counts
    if not counts.empty:
        print(t("ingest.summary.table_header"), file=out)
        table = counts.assign(ledger=counts["ledger"].map(lambda n: LEDGERS[n].title))
        table = table.rename(
            columns={
                "ledger": t("ingest.col.ledger"),
                "county_code": t("ingest.col.county"),
                "rows_in": t("ingest.col.rows_in"),
                "accepted": t("ingest.col.accepted"),
                "quarantined": t("ingest.col.quarantined"),
            }
        )
        print(table.to_string(index=False), file=out)
    errors = report.errors
    warnings = report.issues[report.issues["severity"] == "warning"]
    print(
        t(
            "ingest.summary.totals",
            rows=int(counts["rows_in"].sum()) if len(counts) else 0,
            accepted=int(counts["accepted"].sum()) if len(counts) else 0,
            quarantined=int(counts["quarantined"].sum()) if len(counts) else 0,
            errors=len(errors),
            warnings=len(warnings),
        ),
        file=out,
    )
    if len(errors):
        print(t("ingest.summary.first_errors", n=min(SHOW_ERRORS, len(errors))), file=out)
        for msg in errors["message"].head(SHOW_ERRORS):
            print("  - " + msg, file=out)
    if report.report_paths:
        print(
            t("ingest.summary.report", xlsx=report.report_paths[0], csv=report.report_paths[1]),
            file=out,
        )
