"""docs/indicators.md documents every YAML key the declarations accept, with its default.

The keys come from the validator's own vocabulary (`declarations.vocabulary.KNOWN_KEYS`) and the
method catalogue (`composite_methods.OPTIONS`), so a key added to the code without a line in the
guide fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from workbench.composite_methods import OPTIONS
from workbench.declarations.vocabulary import KNOWN_KEYS

DOC = (Path(__file__).resolve().parents[1] / "docs" / "indicators.md").read_text(encoding="utf-8")
ROWS = [line for line in DOC.splitlines() if line.startswith("|")]
# sections whose guide is a `| key | what | default | … |` table: the key's row names a default
TABLED = {
    "table_unit": "unit.",
    "table_period": "period.",
    "table_field": "fields.<name>.",
    "presentation": "",
}


def _mentioned(key: str) -> bool:
    """`key`, `a.key`, `key: …` in backticks, or the key written in a YAML example."""
    backticked = rf"`(?:[\w<>*.]+\.)?{key}(?:[:=][^`\n]*)?`"
    yaml = rf"(?m)^\s*(?:- )?{key}:|[{{,]\s*{key}:"
    return bool(re.search(backticked, DOC) or re.search(yaml, DOC))


def _keys() -> list[tuple[str, str]]:
    return sorted((s, k) for s, keys in KNOWN_KEYS.items() if s != "method" for k in keys)


@pytest.mark.parametrize(("section", "key"), _keys())
def test_every_declaration_key_is_in_the_guide(section: str, key: str) -> None:
    assert _mentioned(key), f"{section}.{key} is accepted but not documented in docs/indicators.md"


@pytest.mark.parametrize(("section", "key"), [(s, k) for s, k in _keys() if s in TABLED])
def test_tabled_keys_have_a_row_with_their_default(section: str, key: str) -> None:
    prefix = re.escape(TABLED[section])
    row = next((r for r in ROWS if re.search(rf"`(?:{prefix})?{key}`", r) or f".{key}`" in r), None)
    assert row is not None, f"{section}.{key}: no row in a key | what | default table"
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert len(cells) >= 3 and cells[2], f"{section}.{key}: the row names no default: {row}"


def _default_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_default_text(v) for v in value) + "]"
    return str(value)


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_every_method_option_is_documented_with_its_default(name: str) -> None:
    opt = OPTIONS[name]
    assert re.search(rf"\b{name}\b", DOC), f"method option {name} is not documented"
    if opt.default is None:
        return  # no fixed default (the method's own, or none): named only
    default = _default_text(opt.default)
    near = rf"\b{name}\b`?\s*(?:\(|=|:)?\s*`?{re.escape(default)}(?![\w.])"
    assert re.search(near, DOC), f"method option {name}: its default {default} is not given"
