"""The words the shipped declarations give readers (names, card names, descriptions, sources)
are Chinese prose: no YAML fold spaces between Chinese characters, no code or YAML syntax.

They are printed as written in the 通报's 指标说明, the county reports and the cockpit's ⓘ
panels; `min(追回金额 × 2%, 10万元)` and `goalposts: [下限, 上限]` once were.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from workbench.declarations import available_sets, load_set
from workbench.declarations.issues import Issues
from workbench.declarations.loader import parse_yaml

CJK = r"\u3000-\u303f\u3400-\u9fff\uff00-\uffef\u2018\u2019\u201c\u201d"
FOLD_SPACE = re.compile(rf"[{CJK}] [{CJK}]")
RULE_CODE = re.compile(r"\b[A-Z]{4}-\d{2}\b")  # a screening rule's code, e.g. SJBD-01


def _texts() -> Iterator[tuple[str, str, str]]:
    for code in available_sets():
        iset = load_set(code)
        for ic, ind in iset.indicators.items():
            yield f"{code}.{ic}.name", "name", ind.name
            yield f"{code}.{ic}.short_name", "short_name", getattr(ind, "short_name", "") or ""
            yield f"{code}.{ic}.description", "description", ind.description or ""
            if ind.target is not None:
                yield f"{code}.{ic}.source", "source", getattr(ind.target, "source", "") or ""
        for mc, m in (getattr(iset, "measures", None) or {}).items():
            yield f"{code}.measure.{mc}", "description", getattr(m, "description", "") or ""
        for hc, h in iset.hierarchies.items():
            yield f"{code}.{hc}.description", "description", h.description or ""


TEXTS = list(_texts())


def test_there_are_texts_to_check() -> None:
    assert len(TEXTS) > 100
    assert any(w == "description" and "÷" in s for _p, w, s in TEXTS)


@pytest.mark.parametrize(("where", "what", "text"), TEXTS, ids=[p for p, _w, _t in TEXTS])
def test_declared_text_reads_as_prose(where: str, what: str, text: str) -> None:
    assert not FOLD_SPACE.search(text), f"{where}: a fold space between Chinese: {text}"
    # a card's short name has no room for a rule's code; elsewhere the code may stand beside
    # the rule's Chinese name; single letters are grades (A、B级)
    latin = re.findall(r"[A-Za-z_]{2,}", text if what == "short_name" else RULE_CODE.sub("", text))
    assert not latin, f"{where}: code or YAML words {latin} in what readers see: {text}"


def test_a_folded_chinese_paragraph_joins_without_spaces() -> None:
    issues = Issues()
    data = parse_yaml(
        "description: >-\n  已发放的奖励 ÷ 应发奖励\n  （每案计一次）。\n"
        "  文件未设目标值，约 5\n  万元。\n",
        "t.yaml",
        issues,
    )
    assert data is not None
    # the folds between Chinese go; the spaces around ÷ and after a number stay
    assert (
        data["description"] == "已发放的奖励 ÷ 应发奖励（每案计一次）。文件未设目标值，约 5 万元。"
    )


def test_a_one_line_scalar_is_left_as_written() -> None:
    issues = Issues()
    data = parse_yaml("name: 甲 乙\n", "t.yaml", issues)
    assert data is not None and data["name"] == "甲 乙"
