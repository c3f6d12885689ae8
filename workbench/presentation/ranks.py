"""Ranks as every face writes them: a place (第3名, 并列第1名 when the printed scores are equal),
rank intervals (第7–10名, 第9名 when the bounds meet) and the one line that says what the
interval is, and a median rank (2, 2.5). The published ranks themselves are decided by
`composite.published_rank` (on the printed score, ties share the best rank)."""

from __future__ import annotations

from workbench import fmt
from workbench.composite import shares_rank
from workbench.messages import t

__all__ = [
    "interval_explanation",
    "interval_header",
    "interval_text",
    "median_text",
    "place_text",
    "shares_rank",
    "tie_word",
]


def tie_word(tied: object) -> str:
    """`并列` for a rank another unit shares (equal printed scores), else nothing."""
    return t("pres.rank.tied") if bool(tied) else ""


def place_text(rank: object, tied: object = False) -> str:
    """`第3名`, `并列第1名`; missing → `—`."""
    r = fmt.finite(rank)
    if r is None:
        return "—"
    return t("pres.rank.place", tie=tie_word(tied), rank=round(r))


def median_text(rank: object) -> str:
    """A median rank: `2` when whole (ranks are whole numbers), `2.5` for the median of an even
    number of draws between two ranks; missing → `—`."""
    r = fmt.finite(rank)
    if r is None:
        return "—"
    return fmt.number(r, fmt.place_decimals(r))


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
