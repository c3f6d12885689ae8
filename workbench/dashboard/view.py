"""What a page shows: the indicator set, the month, the county and the focus.

A `View` is the whole state of a page; its `key` is stamped on every drawn part, which is how
browser tests and the benchmark know that all charts show the new view.
"""

from __future__ import annotations

from dataclasses import dataclass


CITY = ""  # the county code that stands for the whole city
INDEX = "__index__"  # the focus value that stands for the composite index


@dataclass(frozen=True)
class View:
    """What a page shows: the set, the month, the county ("" = whole city) and the focus."""

    indicator_set: str
    period: str
    county: str = CITY
    focus: str = INDEX
    hierarchy: str | None = None

    @property
    def key(self) -> str:
        return "|".join(
            (
                self.indicator_set,
                self.period,
                self.county or "city",
                self.focus,
                self.hierarchy or "",
            )
        )
