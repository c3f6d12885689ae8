"""The message catalogue holds every key the code asks for, and what documents print is prose.

`t()` returns an unknown key itself (so nothing is hidden), which is how `doc.col.county` once
reached a 通报's table head: the key was renamed in the catalogue and one call kept the old name.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from workbench.messages import catalogue

PACKAGE = Path(__file__).resolve().parents[1] / "workbench"
# `t("area.key"…)` with a literal key (keys built at run time are checked where they are built)
LITERAL_KEY = re.compile(r"""\bt\(\s*["']([A-Za-z_]\w*(?:\.\w+)+)["']""")


def _literal_keys() -> list[tuple[str, int, str]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for m in LITERAL_KEY.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            found.append((str(path.relative_to(PACKAGE.parent)), line, m.group(1)))
    return found


def test_the_scan_sees_the_code() -> None:
    keys = {k for _f, _l, k in _literal_keys()}
    assert len(keys) > 500  # the scan really reads the package
    assert "doc.bulletin.title" in keys


def test_every_literal_key_is_in_the_catalogue() -> None:
    messages = catalogue()
    missing = [f"{f}:{line} {key}" for f, line, key in _literal_keys() if key not in messages]
    assert not missing, "keys asked for but not in workbench/locale/*.yaml: " + "; ".join(missing)


# operator notes and file names of the documents' area: they may name options and programs
OPERATOR = ("doc.note.", "doc.pdf.", "doc.file.", "doc.cli.")


@pytest.mark.parametrize(
    "key",
    sorted(k for k in catalogue() if k.startswith("doc.") and not k.startswith(OPERATOR)),
)
def test_document_text_names_no_files_or_code(key: str) -> None:
    """What a 通报 prints is for a county bureau: no folder, file or program names."""
    text = re.sub(r"\{[^}]*\}", "", catalogue()[key])
    assert not re.search(r"[A-Za-z]{2,}|/", text), f"{key}: {catalogue()[key]}"


def test_the_bulletins_blank_number_note_asks_for_a_plain_serial() -> None:
    from workbench.documents import options as dopt

    notes = {k: dopt.header(dopt.DocOptions(), "演示市", "2025-12", kind=k)[1] for k in dopt.KINDS}
    bulletin = next(n for n in notes["bulletin"] if "文号" in n)
    assert "通报=" not in bulletin and "--doc-number 3" in bulletin
    summary = next(n for n in notes["campaign_summary"] if "文号" in n)
    assert "工作总结=" in summary


def test_a_key_written_twice_in_one_file_is_refused() -> None:
    """Plain YAML keeps the last of two equal keys silently: two edits that both add a key
    (as 列入情形 / 列入名单情形 did in one merge) would leave one wording unseen."""
    import yaml

    from workbench import messages

    text = 'a.one: "甲"\na.two: "乙"\na.one: "丙"\n'
    with pytest.raises(ValueError, match=r"a\.one.*line 3"):
        yaml.load(text, Loader=messages._UniqueKeys)  # noqa: S506
    assert yaml.load('a.one: "甲"\n', Loader=messages._UniqueKeys) == {"a.one": "甲"}  # noqa: S506
    messages.catalogue.cache_clear()
    assert messages.catalogue()  # the shipped catalogue has no key twice
