"""`workbench run` (the monthly county batch) and `workbench runs` (run history)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from workbench.cliargs import period_or_latest, seconds, whole
from workbench.errors import describe
from workbench.messages import t

DEFAULT_TIMEOUT = 600.0


def _default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "run",
        help=t("batch.cli.run_help"),
        description=t("batch.cli.run_description"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--period", default="latest", type=period_or_latest, help=t("batch.cli.period"))
    p.add_argument("--counties", nargs="+", metavar="区县", help=t("batch.cli.counties"))
    p.add_argument("--jobs", "-j", type=whole(1), default=_default_jobs(), help=t("batch.cli.jobs"))
    p.add_argument("--timeout", type=seconds, default=None, help=t("batch.cli.timeout"))
    p.add_argument("--resume", help=t("batch.cli.resume"))
    p.add_argument(
        "--executor", choices=("local", "dask"), default="local", help=t("batch.cli.executor")
    )
    p.add_argument("--scheduler", help=t("batch.cli.scheduler"))
    p.add_argument("--warehouse", help=t("batch.cli.warehouse"))
    p.add_argument("--runs-dir", default=None, help=t("batch.cli.runs_dir"))
    p.add_argument("--run-id", help=t("batch.cli.run_id"))
    p.add_argument(
        "--set",
        "--indicator-set",
        dest="indicator_set",
        default="campaign_2025",
        help=t("batch.cli.indicator_set"),
    )
    p.add_argument("--notebook", default=None, help=t("batch.cli.notebook"))
    p.add_argument("--no-city", action="store_true", help=t("batch.cli.no_city"))
    p.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        metavar=("名称", "值"),
        default=[],
        help=t("batch.cli.parameter"),
    )
    p.add_argument(
        "--pdf", choices=("none", "city", "all"), default="city", help=t("batch.cli.pdf")
    )
    p.add_argument("--no-docx", action="store_true", help=t("batch.cli.no_docx"))
    doc = p.add_argument_group(t("doc.cli.group"))
    doc.add_argument("--doc-number", metavar="文号", action="append", help=t("doc.cli.doc_number"))
    doc.add_argument("--issue-date", metavar="日期", action="append", help=t("doc.cli.issue_date"))
    doc.add_argument("--print-date", metavar="日期", help=t("doc.cli.print_date"))
    doc.add_argument("--issuer", metavar="机关", help=t("doc.cli.issuer"))
    doc.add_argument("--recipients", metavar="主送", help=t("doc.cli.recipients"))
    doc.add_argument("--cc", metavar="抄送", help=t("doc.cli.cc"))
    doc.add_argument("--printer", metavar="印发机关", help=t("doc.cli.printer"))
    p.add_argument("--fresh-kernels", action="store_true", help=t("batch.cli.fresh_kernels"))
    p.add_argument("--no-progress", action="store_true", help=t("batch.cli.no_progress"))
    p.add_argument("--indicators-dir", default=None, help=t("ind.cli.indicators_dir"))
    p.set_defaults(func=cmd_run_with_sets)

    r = subparsers.add_parser(
        "runs", help=t("batch.cli.runs_help"), description=t("batch.cli.runs_help")
    )
    r.add_argument("--runs-dir", default=None, help=t("batch.cli.runs_dir"))
    r.add_argument("--json", action="store_true", help=t("batch.cli.json"))
    r.set_defaults(func=cmd_runs)


def runs_dir(flag: str | None) -> str:
    """`--runs-dir`, then $WORKBENCH_RUNS, then workbench.toml [batch] runs_dir, then ./runs."""
    if flag:
        return flag
    if env := os.environ.get("WORKBENCH_RUNS"):
        return env
    from workbench.config import configured_path

    configured = configured_path("batch", "runs_dir")  # relative to workbench.toml, like every path
    return str(configured) if configured else "runs"


def _parse_value(text: str) -> object:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _counties(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [c.strip() for v in values for c in v.replace("，", ",").split(",") if c.strip()]


def cmd_run(args: argparse.Namespace) -> int:
    from workbench import batch, report

    root = runs_dir(args.runs_dir)
    try:
        resume = args.resume
        if resume == "auto":  # the period is all it takes to find an interrupted run
            resume = batch.find_resumable(root, batch.run_period(args.period, args.warehouse))
            if resume:
                print(t("batch.cli.auto_resume", run_id=resume), file=sys.stderr)
        if resume:
            cfg = batch.load_run(root, resume)
            cfg.runs_dir = root
            cfg.jobs = args.jobs
            if args.timeout is not None:
                cfg.timeout = args.timeout
            cfg.progress = not args.no_progress
            cfg.executor, cfg.scheduler = args.executor, args.scheduler
        else:
            cfg = _plan(args, root)
        if args.executor == "dask" and args.jobs < 1:
            raise ValueError(t("batch.cli.bad_jobs"))
        labels = report.set_labels(cfg.indicator_set, cfg.period)
        print(
            t(
                "batch.cli.starting",
                run_id=cfg.run_id,
                period=labels[1],
                n=len(cfg.counties),
                noun=labels[0].unit_noun,
                jobs=cfg.jobs,
                executor=cfg.executor,
            ),
            file=sys.stderr,
        )
        result = batch.Runner(cfg, resume=bool(resume)).run()
    except (FileNotFoundError, ValueError, batch.RunLocked) as exc:
        print(t("batch.cli.error", error=describe(exc) or str(exc)), file=sys.stderr)
        return 2
    print(str(result.run_dir / "index.html"))
    if result.interrupted:
        print(t("batch.cli.interrupted", run_id=cfg.run_id), file=sys.stderr)
        return result.exit_code
    print(batch.failure_summary(result, cfg), file=sys.stderr)
    return result.exit_code


def _plan(args: argparse.Namespace, root: str) -> object:
    from workbench import batch

    if args.notebook and not Path(args.notebook).is_file():
        raise FileNotFoundError(t("batch.err.no_notebook", path=args.notebook))
    if args.run_id and (Path(root) / args.run_id).exists():
        raise ValueError(
            t("batch.err.run_exists", run_id=args.run_id, path=Path(root) / args.run_id)
        )

    options = dict(
        documents=_documents(args),
        jobs=args.jobs,
        timeout=args.timeout or DEFAULT_TIMEOUT,
        executor=args.executor,
        scheduler=args.scheduler,
        indicator_set=args.indicator_set,
        parameters={k: _parse_value(v) for k, v in args.parameter},
        pdf=args.pdf,
        docx=not args.no_docx,
        reuse_kernels=not args.fresh_kernels,
        progress=not args.no_progress,
    )
    if args.notebook:
        options["notebook"] = args.notebook
    if args.no_city:
        options["city_notebook"] = None
        options["docx"] = False
    return batch.plan_run(
        args.period, args.warehouse, _counties(args.counties), root, run_id=args.run_id, **options
    )


def _documents(args: argparse.Namespace) -> dict:
    """workbench.toml [documents], overridden by the flags; saved in run.json for --resume."""
    from workbench.config import documents_config
    from workbench.documents.options import DocOptions

    opts = DocOptions.from_mapping(documents_config()).override(
        number=args.doc_number,
        issue_date=args.issue_date,
        print_date=args.print_date,
        issuer=args.issuer,
        recipients=args.recipients,
        cc=args.cc,
        printer=args.printer,
    )
    return opts.to_json()


def cmd_runs(args: argparse.Namespace) -> int:
    import json

    from workbench import batch

    rows = batch.list_runs(runs_dir(args.runs_dir))
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    if not rows:
        print(t("batch.cli.no_runs", runs_dir=runs_dir(args.runs_dir)))
        return 0
    status = {
        "complete": t("batch.state.done"),
        "running": t("batch.state.running"),
        "interrupted": t("batch.state.interrupted"),
    }
    print(t("batch.cli.runs_header"))
    for r in rows:
        label = status.get(r["status"], r["status"])
        if r["status"] == "complete" and r["failed"]:  # finished is not the same as succeeded
            label = t("batch.state.all_failed" if not r["ok"] else "batch.state.done_with_failures")
        print(
            t(
                "batch.cli.runs_row",
                run_id=r["run_id"],
                period=r["period"],
                status=label,
                ok=r["ok"],
                failed=r["failed"],
                total=r["total"],
                created=(r["created"] or "")[:19].replace("T", " "),
            )
        )
    return 0


def cmd_run_with_sets(args: argparse.Namespace) -> int:
    """The command with `--indicators-dir` handed to its kernels first."""
    from workbench.config import use_indicators_dir

    use_indicators_dir(args.indicators_dir)
    return cmd_run(args)
