"""`workbench status`: what the warehouse holds."""

from __future__ import annotations

import argparse
import sys
import unicodedata

import pandas as pd

from workbench import fmt, freshness
from workbench.config import warehouse_path
from workbench.contracts import LEDGERS
from workbench.tables import status_lines as table_status_lines
from workbench.messages import t
from workbench.warehouse import Warehouse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help=t("cmd.status.help"), description=t("cmd.status.help"))
    p.add_argument("--warehouse", help=t("cmd.warehouse"))
    p.add_argument("--period", metavar="YYYY-MM", help=t("status.cli.period"))
    p.set_defaults(func=run)


def status_lines(wh: Warehouse) -> list[str]:
    lines = [t("status.title", path=wh.path)]
    n, active, replaced, unreadable, last = wh.con.execute(
        "SELECT count(*), count(*) FILTER (WHERE status = '有效'), "
        "count(*) FILTER (WHERE status IN ('已被替换', '部分替换')), "
        "count(*) FILTER (WHERE status = '无法识别'), max(ingested_at) FROM submissions"
    ).fetchone()
    if n == 0:
        return lines + [t("status.empty")]
    lines.append(
        t(
            "status.submissions",
            n=n,
            active=active,
            replaced=replaced,
            unreadable=unreadable,
            last=last,
        )
    )
    for lg in LEDGERS.values():
        rows, counties = wh.con.execute(
            f'SELECT count(*), count(DISTINCT county_code) FROM "{lg.name}"'
        ).fetchone()
        current = wh.con.execute(f'SELECT count(*) FROM "{lg.name}_current"').fetchone()[0]
        first = last_d = "—"
        if lg.date_field and rows:
            first, last_d = wh.con.execute(
                f'SELECT min("{lg.date_field}"), max("{lg.date_field}") FROM "{lg.name}"'
            ).fetchone()
        lines.append(
            t(
                "status.ledger_line",
                title=lg.title,
                rows=rows,
                current=current,
                counties=counties,
                first=first,
                last=last_d,
            )
        )
    lines += table_status_lines(wh)  # declared tables (kind: table) ingested here
    q = wh.con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
    r = wh.con.execute("SELECT count(*) FROM replacements").fetchone()[0]
    lines += [t("status.quarantine", n=q), t("status.replacements", n=r)]
    return lines


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: object, width: int) -> str:
    """Left-aligned in `width` terminal columns (a Chinese character takes two)."""
    s = str(text)
    return s + " " * max(width - _width(s), 0)


def _when(at: object) -> str:
    return "—" if at is None or pd.isna(at) else f"{pd.Timestamp(at):%Y-%m-%d %H:%M}"


def submission_lines(fr: freshness.Freshness) -> list[str]:
    """The freshness line, then each county's state for the period (missing ones first, so
    whom to chase is at the top)."""
    lines = [freshness.line(fr)]
    if fr.period is None:
        return lines + [t("status.subm.none")]
    if not len(fr.states):
        return lines + [t("status.subm.no_roster")]
    due = freshness.due_at(fr.period, fr.due_day)
    period = fmt.month_label(fr.period)
    if due is None:
        lines.append(t("status.subm.title_no_due", period=period))
    else:
        last_day = fmt.date_label(due - pd.Timedelta(days=1))
        lines.append(
            t(
                "status.subm.title",
                period=period,
                due=t("status.due", date=last_day, day=fr.due_day),
            )
        )
    lines.append(t("status.subm.header"))
    order = {freshness.MISSING: 0, freshness.LATE: 1, freshness.ON_TIME: 2}
    rows = fr.states.assign(_o=fr.states["state"].map(order)).sort_values(
        ["_o", "county_code"], kind="stable"
    )
    for r in rows.itertuples(index=False):
        lines.append(
            "  "
            + _pad(r.county_code, 10)
            + _pad(r.county_name, 20)
            + _pad(r.state_label, 12)
            + _pad(_when(r.first_at), 20)
            + f"{r.submissions:>6}  {r.quarantined:>8}"
        )
    return lines


def run(args: argparse.Namespace) -> int:
    if args.period and not fmt.is_month(args.period):
        print(t("status.subm.bad_period", period=args.period), file=sys.stderr)
        return 2
    path = warehouse_path(args.warehouse)
    if not path.exists() and args.warehouse:  # a path given by hand: a typo, say so
        print(t("cmd.no_such_warehouse", path=path), file=sys.stderr)
        return 2
    if not path.exists():
        print(t("status.title", path=path))
        print(t("status.empty"))
        return 0
    with Warehouse(path, read_only=True) as wh:
        lines = status_lines(wh)
    if len(lines) > 2:  # something was ingested
        lines += submission_lines(freshness.freshness(path, period=args.period))
    print("\n".join(lines))
    return 0
