"""Rank intervals as every face writes them: 第7–10名, 第9名 when the bounds meet, and the one
line that says what the interval is."""

from __future__ import annotations

from workbench import fmt
from workbench.messages import t


def interval_text(lo: object, hi: object) -> str:
    """`第7–10名`; `第9名` when every draw agrees (never `第9–9名`); missing → `—`."""
    a, b = fmt.finite(lo), fmt.finite(hi)
    if a is None or b is None:
        return "—"
    a, b = round(min(a, b)), round(max(a, b))
    if a == b:
        return t("pres.rank.interval_one", rank=a)
    return t("pres.rank.interval", lo=a, hi=b)


def interval_header() -> str:
    """The column that holds `interval_text`, in every table that shows one."""
    return t("pres.rank.column")


def interval_explanation() -> str:
    """What 排名区间(5%–95%) means, in one line for the reader beside the interval."""
    return t("pres.rank.explain")
