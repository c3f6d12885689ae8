"""`workbench template`: write the Excel fill-in template counties use for their ledgers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench.errors import describe
from workbench.cliargs import month
from workbench.messages import t


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "template", help=t("template.cli_help"), description=t("template.cli_help")
    )
    p.add_argument("--out", help=t("template.cli_out"))
    p.add_argument("--county", metavar="990101", help=t("template.cli_county"))
    p.add_argument("--county-name", metavar="名称", help=t("template.cli_county_name"))
    p.add_argument("--period", metavar="YYYY-MM", type=month, help=t("template.cli_period"))
    p.add_argument("--ledgers", metavar="cases,leads", help=t("template.cli_ledgers"))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the template and say where; a bad argument prints a Chinese error and returns 2."""
    from workbench.template import select_ledgers, suggested_filename, write_template

    names = [n for n in (args.ledgers or "").replace("，", ",").split(",") if n.strip()] or None
    out = Path(args.out) if args.out else Path(t("template.default_filename"))
    if out.is_dir() or (args.out and args.out.endswith(("/", "\\")) and not out.suffix):
        out = out / t("template.default_filename")  # a folder: the template goes inside
    try:
        chosen = select_ledgers(names)
        path = write_template(
            out, names, county_code=args.county, county_name=args.county_name, period=args.period
        )
    except (ValueError, OSError) as exc:
        print(t("template.cli_error", error=describe(exc) or exc), file=sys.stderr)
        return 2
    print(
        t(
            "template.cli_done",
            path=path.resolve(),
            count=len(chosen),
            titles="、".join(lg.title for lg in chosen),
        )
    )
    if args.county:
        print(
            t(
                "template.cli_suggest",
                name=suggested_filename(args.county.strip(), args.county_name, args.period),
            )
        )
    return 0
