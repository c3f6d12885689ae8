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


def test_contract_texts_cite_policy_documents_by_title() -> None:
    """A ledger's description and a field's help cite policy by the document's title in the
    template's 填表说明 and docs/ledgers.md (the contracts write the catalogue's short codes)."""
    import re

    from workbench import ledger_docs
    from workbench.contracts import LEDGERS
    from workbench.template import field_notes, ledger_description

    md = ledger_docs.render_markdown()
    assert "（依据《2025年开展打击欺诈骗保专项整治行动工作方案》四（二））" in md
    assert not re.search(r"(?<![0-9,.])00[0-4] ?[一二三四五六七八九十]", md)
    for lg in LEDGERS.values():
        texts = [ledger_description(lg)] + [n for f in lg.fields for n in field_notes(lg, f)]
        assert not any(re.search(r"（00[0-4] ", x) for x in texts), lg.name
