"""`workbench ingest PATH…`: files → warehouse, with a Chinese summary and an issue list.
`workbench ingest --report ID…`: write again the issue list of submissions already ingested."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from workbench.cliargs import month, received_on
from workbench.config import warehouse_path
from workbench.contracts import LEDGERS
from workbench.messages import t

log = logging.getLogger(__name__)
SHOW_ERRORS = 10


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help=t("cmd.ingest.help"), description=t("cmd.ingest.help"))
    p.add_argument("paths", nargs="*", help=t("cmd.ingest.paths"))
    p.add_argument("--warehouse", help=t("cmd.warehouse"))
    p.add_argument("--period", type=month, help=t("cmd.ingest.period"))
    p.add_argument(
        "--received-on", type=received_on, metavar="收文日期", help=t("cmd.ingest.received_on")
    )
    p.add_argument("--report-dir", help=t("cmd.ingest.report"))
    p.add_argument("--report", nargs="+", metavar="报送编号", help=t("cmd.ingest.report_id"))
    p.add_argument("--allow-symlinks", action="store_true", help=t("cmd.ingest.allow_symlinks"))
    p.add_argument("--table", metavar="数据表", help=t("cmd.ingest.table"))
    p.add_argument("--indicators-dir", help=t("ind.cli.indicators_dir"))
    p.set_defaults(func=run)


def quiet_broken_pipe() -> None:
    """The reader of our output went away (`workbench ingest … | head`): stop writing, quietly;
    what was done is done. Later writes (and the flush at exit) go nowhere."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def run(args: argparse.Namespace) -> int:
    if args.table:  # a declared table (kind: table): workbench/tables.py
        from workbench.tables import ingest_command

        if args.received_on is not None:
            print(t("cmd.ingest.received_on_table"), file=sys.stderr)
            return 2

        return ingest_command(
            args.table, args.paths, args.warehouse, args.report_dir, args.indicators_dir
        )
    wh = warehouse_path(args.warehouse)
    report_dir = Path(args.report_dir) if args.report_dir else wh.parent / "reports"
    if args.report:
        return _rewrite_lists(wh, args.report, report_dir)
    if not args.paths:
        print(t("ingest.report.none"), file=sys.stderr)
        return 2
    return ingest_files(
        args.paths, wh, report_dir, args.period, args.allow_symlinks, args.received_on
    )


def ingest_files(
    paths: list[str],
    wh: Path,
    report_dir: Path,
    period: str | None = None,
    allow_symlinks: bool = False,
    received_on=None,
) -> int:
    """Ingest, print the Chinese summary, and say how it went as an exit code (also what
    `workbench demo-all` runs, with each demo file's receipt date as `received_on`)."""
    from workbench.errors import describe
    from workbench.ingest import failure_reason, ingest_paths

    try:
        report = ingest_paths(
            paths,
            wh,
            period=period,
            report_dir=report_dir,
            allow_symlinks=allow_symlinks,
            received_on=received_on,
        )
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # the transaction rolled back: say so, in Chinese
        reason = failure_reason(exc) or describe(exc)
        log.debug("ingest failed", exc_info=True)
        if reason is None:
            print(t("ingest.failed_bug", kind=type(exc).__name__), file=sys.stderr)
        else:
            print(t("ingest.failed", reason=reason), file=sys.stderr)
        return 1
    try:
        print_summary(report, wh)
        sys.stdout.flush()
    except BrokenPipeError:
        quiet_broken_pipe()
    if report.report_error:
        ids = " ".join(sid[:12] for sid in report.new_ids)
        print(
            t("ingest.summary.report_failed", reason=report.report_error, ids=ids), file=sys.stderr
        )
        return 1
    # rows refused are the report's business; a file not read at all, or none, is a failure
    return 0 if report.files and not report.unread else 1


def _rewrite_lists(wh: Path, wanted: list[str], out_dir: Path) -> int:
    from workbench.ingest import issue_list_for
    from workbench.warehouse import Warehouse

    if not wh.exists():
        print(t("cmd.no_such_warehouse", path=wh), file=sys.stderr)
        return 2
    with Warehouse(wh) as w:
        ids: list[str] = []
        for sid in wanted:
            sid = sid.strip().lower()
            found = (
                [
                    r[0]
                    for r in w.con.execute(
                        "SELECT submission_id FROM submissions WHERE starts_with(submission_id, ?)",
                        [sid],
                    ).fetchall()
                ]
                if len(sid) >= 6
                else []
            )
            if len(found) != 1:
                key = "ingest.report.ambiguous" if len(found) > 1 else "ingest.report.unknown"
                print(t(key, sid=sid), file=sys.stderr)
                return 2
            ids.append(found[0])
        paths = issue_list_for(w, ids, out_dir)
    xlsx = next(p for p in paths if p.suffix == ".xlsx")
    csvs = "、".join(str(p) for p in paths if p.suffix == ".csv")
    try:
        print(t("ingest.report.written", xlsx=xlsx, csv=csvs))
    except BrokenPipeError:
        quiet_broken_pipe()
    return 0


def print_summary(report, wh: Path, out=None) -> None:
    from workbench.freshness import received_label

    out = out or sys.stdout
    print(t("ingest.summary.title", path=wh), file=out)
    if not report.files:
        print(t("ingest.summary.no_files"), file=out)
    for f in report.files:
        sid = f.submission_id[:12]
        if f.status == "duplicate":
            print(t("ingest.summary.file_duplicate", file=f.file), file=out)
            if f.issue_list:
                key = (
                    "ingest.summary.file_duplicate_rewritten"
                    if f.list_rewritten
                    else "ingest.summary.file_duplicate_list"
                )
                print(t(key, path=f.issue_list[0]), file=out)
        elif f.status == "unreadable":
            print(t("ingest.summary.file_unreadable", file=f.file, sid=sid), file=out)
        else:
            print(
                t(
                    "ingest.summary.file_new",
                    file=f.file,
                    county=f.county_code,
                    period=f.period,
                    sid=sid,
                    rows=f.rows_in,
                    accepted=f.accepted,
                    quarantined=f.quarantined,
                ),
                file=out,
            )
            if f.received_at is not None:
                print(t("ingest.summary.file_received", at=received_label(f.received_at)), file=out)
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
    print(
        t(
            "ingest.summary.totals",
            rows=int(counts["rows_in"].sum()) if len(counts) else 0,
            accepted=int(counts["accepted"].sum()) if len(counts) else 0,
            quarantined=int(counts["quarantined"].sum()) if len(counts) else 0,
            errors=report.error_count,
            warnings=report.warning_count,
        ),
        file=out,
    )
    errors = report.errors
    if len(errors):
        print(t("ingest.summary.first_errors", n=min(SHOW_ERRORS, len(errors))), file=out)
        for msg in errors["message"].head(SHOW_ERRORS):
            print("  - " + msg, file=out)
    if report.report_paths:
        csvs = "、".join(str(p) for p in report.report_paths if p.suffix == ".csv")
        print(t("ingest.summary.report", xlsx=report.report_paths[0], csv=csvs), file=out)
