"""`workbench ledger-docs`: regenerate docs/ledgers.md from the contracts."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.config import project_root
from workbench.messages import t


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ledger-docs", help=t("cmd.ledger_docs.help"), description=t("cmd.ledger_docs.help")
    )
    p.add_argument(
        "--out", default=str(project_root() / "docs" / "ledgers.md"), help=t("cmd.ledger_docs.out")
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.ledger_docs import render_markdown

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_markdown(), encoding="utf-8")
    print(t("cmd.ledger_docs.done", path=out))
    return 0
