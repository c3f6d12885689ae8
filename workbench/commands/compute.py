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

from workbench import fmt
from workbench.errors import describe
from workbench.cliargs import period_or_latest, whole
from workbench.messages import t

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compute", help=t("ind.cli.help"), description=t("ind.cli.help"))
    p.add_argument("--period", default="latest", type=period_or_latest, help=t("ind.cli.period"))
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
            period=ev.period_label,
            span=t(f"ind.span.{ev.span}"),
            run_id=run_id,
        )
    ]
    if ev.phase:
        lines.append(t("ind.cli.summary_phase", phase=ev.phase))
    counts = ev.summary_counts()
    lines.append(
        t(
            "ind.cli.summary_city",
            city=ev.city_name,
            **{k: counts[k] for k in ("met", "missed", "na")},
        )
    )
    c = ev.presented(city=True)
    missed = c[c["status"].isin(["not_met", "at_risk"])]
    if len(missed):
        items = "；".join(
            f"{r.indicator_name} {r.value_text}（{r.target_text}，{r.status_label}）"
            for r in missed.itertuples()
        )
        lines.append(t("ind.cli.summary_missed", items=items, whole=ev.words.whole))
    for res in ev.index.values():
        s = res.summary().dropna(subset=["score"])
        if len(s):
            lines.append(
                t(
                    "ind.cli.summary_index",
                    name=res.name,
                    top=s.iloc[0]["county_name"],
                    score=fmt.score_text(s.iloc[0]["score"]),
                    bottom=s.iloc[-1]["county_name"],
                    bottom_score=fmt.score_text(s.iloc[-1]["score"]),
                )
            )
    from workbench.indicators import REMIND_LEVEL, has_lagging_list

    if not has_lagging_list(ev.indicator_set):  # no milestones, no 约谈 criterion: no list
        return lines
    lag = ev.lagging
    if not len(lag):
        lines.append(t("ind.cli.summary_no_lagging", noun=ev.unit_noun))
        return lines
    remind = lag["list_level"].eq(REMIND_LEVEL)
    for key, part in (
        ("ind.cli.summary_lagging", lag[~remind]),
        ("ind.cli.summary_remind", lag[remind]),
    ):
        if len(part):
            names = "、".join(part["county_name"].astype(str).head(20))
            if len(part) > 20:
                names += "…"
            lines.append(t(key, n=len(part), names=names, noun=ev.unit_noun))
    return lines


def run(args: argparse.Namespace) -> int:
    from workbench.config import warehouse_path
    from workbench.declarations import ALL_SPANS, DeclarationError, load_sets
    from workbench.results import Evaluation, resolve_period
    from workbench.warehouse import Warehouse

    dirs = [Path(args.indicators_dir)] if args.indicators_dir else None
    if args.check:
        return _check(dirs)
    if args.span is not None and args.span not in ALL_SPANS:
        print(
            t("ind.E_BAD_SPAN", span=args.span)
            + t(
                "ind.fix.E_BAD_SPAN",
                allowed="、".join(f"{s}（{t(f'ind.span.{s}')}）" for s in ALL_SPANS),
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
    bad_span = [s for s in sets if args.span is not None and args.span not in s.spans]
    if bad_span:
        iset = bad_span[0]
        print(
            t(
                "ind.E_SPAN_FREQUENCY",
                span=args.span,
                frequency=iset.frequency.describe(),
            )
            + t("ind.fix.E_SPAN_FREQUENCY", allowed="、".join(iset.spans)),
            file=sys.stderr,
        )
        return 2
    periods: dict[str, str] = {}
    try:  # every set's period is resolved (and checked) before any work
        for iset in sets:
            periods[iset.code] = resolve_period(args.period, path, iset)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if args.period == "latest":
        for line in dict.fromkeys(_latest_line(s, periods[s.code]) for s in sets):
            print(line, file=sys.stderr)
    exported: list[Path] = []
    for group in _engine_groups(sets):
        engine = _engine(path, group)  # the group's measures in one scan per ledger
        for iset in group:
            try:
                ev = Evaluation(
                    engine.ledgers,
                    iset,
                    periods[iset.code],
                    args.span,
                    args.uncertainty,
                    engine=engine,
                )
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


def _latest_line(iset, period: str) -> str:
    """`latest` resolved: per set on its own tables, once for the sets on the ledgers."""
    if iset.tables:
        return t("tables.cli.latest", set=iset.name, period=iset.period_label(period))
    return t("ind.cli.latest", period=period)


def _engine_groups(sets: list) -> list[list]:
    """Sets that can share one engine (the same units: the ledgers' counties, or the same
    declared tables' own units), in the order given."""
    from workbench.measures import unit_sources

    groups: dict[tuple, list] = {}
    for iset in sets:
        key = tuple(unit_sources([iset]) or ())
        groups.setdefault(key, []).append(iset)
    return list(groups.values())


def _engine(path: Path, sets: list):
    from workbench.pushdown import WarehouseEngine

    return WarehouseEngine(path, sets)
