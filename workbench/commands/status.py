"""`workbench status`: what the warehouse holds."""

from __future__ import annotations

import argparse
import sys

from workbench.config import warehouse_path
from workbench.contracts import LEDGERS
from workbench.tables import status_lines as table_status_lines
from workbench.messages import t
from workbench.warehouse import Warehouse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help=t("cmd.status.help"), description=t("cmd.status.help"))
    p.add_argument("--warehouse", help=t("cmd.warehouse"))
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


def run(args: argparse.Namespace) -> int:
    path = warehouse_path(args.warehouse)
    if not path.exists() and args.warehouse:  # a path given by hand: a typo, say so
        print(t("cmd.no_such_warehouse", path=path), file=sys.stderr)
        return 2
    if not path.exists():
        print(t("status.title", path=path))
        print(t("status.empty"))
        return 0
    with Warehouse(path, read_only=True) as wh:
        print("\n".join(status_lines(wh)))
    return 0
