"""`workbench compute`: indicators, milestones, lagging list and indices for one period.

Writes the results into the warehouse under a compute run id, optionally exports CSV (UTF-8 with
BOM) and .xlsx with Chinese headers, and prints a Chinese summary. `--check` only validates the
declaration files. Exit codes: 0 done, 1 declarations invalid or computation failed, 2 bad
arguments or no data.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from workbench.errors import describe
from workbench.cliargs import month_or_latest, whole
from workbench.messages import t

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compute", help=t("ind.cli.help"), description=t("ind.cli.help"))
    p.add_argument("--period", default="latest", type=month_or_latest, help=t("ind.cli.period"))
    p.add_argument("--warehouse", default=None, help=t("ind.cli.warehouse"))
    p.add_argument("--set", dest="sets", action="append", default=None, help=t("ind.cli.set"))
    p.add_argument("--span", default=None, help=t("ind.cli.span"))
    p.add_argument("--out", default=None, help=t("ind.cli.out"))
    p.add_argument("--indicators-dir", default=None, help=t("ind.cli.indicators_dir"))
    p.add_argument("--uncertainty", type=whole(0), default=200, help=t("ind.cli.uncertainty"))
    p.add_argument("--check", action="store_true", help=t("ind.cli.check"))
    p.add_argument("--no-save", action="store_true", help=t("ind.cli.no_save"))
    p.set_defaults(func=run)


def _sets(args: argparse.Namespace, dirs: list[Path] | None) -> list[str]:
    from workbench.declarations import available_sets

    raw = [s.strip() for item in (args.sets or ["campaign_2025"]) for s in item.split(",")]
    if "all" in raw:
        return available_sets(dirs)
    return [s for s in raw if s]


def _check(dirs: list[Path] | None) -> int:
    from workbench.declarations import default_dir, validate

    folder = dirs[0] if dirs else default_dir()
    n_files = len(list(folder.glob("*.yaml"))) + len(list(folder.glob("*.yml")))
    if not n_files:
        print(t("ind.cli.no_indicator_files", path=folder), file=sys.stderr)
        return 2
    print(t("ind.cli.checking", n=n_files), file=sys.stderr)
    issues = validate(dirs=dirs)
    for issue in issues:
        print(str(issue), file=sys.stderr)
    errors = sum(1 for i in issues if i.level == "error")
    warnings = len(issues) - errors
    if errors:
        print(t("ind.cli.check_failed", errors=errors, warnings=warnings), file=sys.stderr)
        return 1
    print(t("ind.cli.check_ok", warnings=warnings))
    return 0


def _summary(ev, run_id: str) -> list[str]:
    lines = [
        t(
            "ind.cli.summary_head",
            set=ev.indicator_set.name,
            period=ev.period,
            span=t(f"ind.span.{ev.span}"),
            run_id=run_id,
        )
    ]
    if ev.phase:
        lines.append(t("ind.cli.summary_phase", phase=ev.phase))
    counts = ev.summary_counts()
    lines.append(t("ind.cli.summary_city", **{k: counts[k] for k in ("met", "missed", "na")}))
    c = ev.presented(city=True)
    missed = c[c["status"].isin(["not_met", "at_risk"])]
    if len(missed):
        items = "；".join(
            f"{r.indicator_name} {r.value_text}（{r.target_text}，{r.status_label}）"
            for r in missed.itertuples()
        )
        lines.append(t("ind.cli.summary_missed", items=items))
    for res in ev.index.values():
        s = res.summary().dropna(subset=["score"])
        if len(s):
            lines.append(
                t(
                    "ind.cli.summary_index",
                    name=res.name,
                    top=s.iloc[0]["county_name"],
                    score=f"{s.iloc[0]['score']:.1f}",
                    bottom=s.iloc[-1]["county_name"],
                    bottom_score=f"{s.iloc[-1]['score']:.1f}",
                )
            )
    lag = ev.lagging
    if len(lag):
        names = "、".join(lag["county_name"].astype(str).head(20))
        if len(lag) > 20:
            names += "…"
        lines.append(t("ind.cli.summary_lagging", n=len(lag), names=names))
    else:
        lines.append(t("ind.cli.summary_no_lagging"))
    return lines


def run(args: argparse.Namespace) -> int:
    from workbench.config import warehouse_path
    from workbench.declarations import DeclarationError, load_sets
    from workbench.indicators import SPANS
    from workbench.results import Evaluation, check_period, resolve_period
    from workbench.warehouse import Warehouse

    dirs = [Path(args.indicators_dir)] if args.indicators_dir else None
    if args.check:
        return _check(dirs)
    if args.span is not None and args.span not in SPANS:
        print(
            t("ind.E_BAD_SPAN", span=args.span)
            + t(
                "ind.fix.E_BAD_SPAN",
                allowed="、".join(f"{s}（{t(f'ind.span.{s}')}）" for s in SPANS),
            ),
            file=sys.stderr,
        )
        return 2
    names = _sets(args, dirs)
    try:
        sets = load_sets(names, dirs)
    except DeclarationError as exc:
        for issue in exc.issues:
            print(str(issue), file=sys.stderr)
        return 1
    path = warehouse_path(args.warehouse)
    if not Path(path).is_file():
        print(t("ind.cli.no_warehouse", path=path), file=sys.stderr)
        return 2
    from workbench.pushdown import WarehouseEngine

    period = args.period
    try:
        if period != "latest":  # checked before any work
            check_period(period, path)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    engine = WarehouseEngine(path, sets)  # every set's measures in one scan per ledger
    ledgers = engine.ledgers
    if period == "latest":
        try:
            period = resolve_period(period, path)
        except ValueError as exc:
            print(str(exc), file=sys.stderr)
            return 2
        print(t("ind.cli.latest", period=period), file=sys.stderr)
    exported: list[Path] = []
    for iset in sets:
        try:
            ev = Evaluation(ledgers, iset, period, args.span, args.uncertainty, engine=engine)
            with_unc = args.uncertainty > 0
            run_id = ev.new_run_id()
            if not args.no_save:
                with Warehouse(path) as wh:
                    ev.save(wh, run_id, uncertainty=with_unc)
            if args.out:
                exported += ev.export(args.out, uncertainty=with_unc)
            for line in _summary(ev, run_id):
                print(line)
            if not args.no_save:
                print(t("ind.cli.saved", path=path, run_id=run_id))
        except Exception as exc:  # noqa: BLE001 - report in Chinese, keep the traceback in -v
            log.debug("compute failed", exc_info=True)
            print(t("ind.cli.failed", error=describe(exc) or exc), file=sys.stderr)
            return 1
    if exported:
        print(t("ind.cli.exported", n=len(exported), path=args.out))
    return 0
