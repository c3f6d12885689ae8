"""docs/ledgers.md is generated from the contracts; it must be current."""

from __future__ import annotations

from pathlib import Path

from workbench.contracts import LEDGERS
from workbench.ledger_docs import render_markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "ledgers.md"


def test_committed_ledger_doc_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == render_markdown(), (
        "docs/ledgers.md is stale: run `workbench ledger-docs`"
    )


def test_every_field_is_documented() -> None:
    text = render_markdown()
    for lg in LEDGERS.values():
        for f in lg.fields:
            assert f"| {f.header} | `{f.name}` |" in text
