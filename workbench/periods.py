"""Periods of a declared frequency: months, quarters, calendar years and fiscal years.

The engine counts in months (index = year × 12 + month − 1). A period of any frequency is the
run of months it covers and is named by its last month, so a fiscal year that starts in July
is the twelve months July…June, placed at June, and a window over it is one row per unit. This
module says which month ends a period, how a period is written ("2023财年", "2025年第3季度") and
read back ("FY2023", "2022-23", "2025Q3", 2023), which spans a frequency offers, and which period
is the newest complete one. Pure: numbers and text in, numbers and text out.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from workbench.messages import t

MONTH, QUARTER, YEAR, FISCAL_YEAR = "month", "quarter", "year", "fiscal_year"
FREQUENCIES = (MONTH, QUARTER, YEAR, FISCAL_YEAR)
NAMED_BY = ("end", "start")  # the calendar year a fiscal year is named after
_MONTHS = {MONTH: 1, QUARTER: 3, YEAR: 12, FISCAL_YEAR: 12}
MIN_YEAR, MAX_YEAR = 1900, 2200

# The spans each frequency offers. Monthly data (the ledgers) keep the five spans the workbench
# always had; coarser data offer spans made of whole periods only.
MONTH_SPANS = ("month", "quarter", "ytd", "ctd", "r12")
PERIOD_SPANS = ("year", "fiscal_year")
# every month up to the period: for a stock such as the cases still open past their 时限 at
# its end, whenever they fell due (an indicator's own `span:`, never computed for every KPI)
TO_DATE = "to_date"
ALL_SPANS = MONTH_SPANS + PERIOD_SPANS + (TO_DATE,)
_SPANS = {
    MONTH: MONTH_SPANS,
    QUARTER: ("quarter", "ytd", "r12"),
    YEAR: ("year",),
    FISCAL_YEAR: ("fiscal_year",),
}


def month_index(year: int, month: int) -> int:
    return year * 12 + month - 1


def month_text(idx: int) -> str:
    return f"{idx // 12:04d}-{idx % 12 + 1:02d}"


@dataclass(frozen=True)
class Frequency:
    """How often a table has a row per unit. `start_month` is the first month of a fiscal year
    (1 for calendar frequencies); `named_by` says whether fiscal year 2023 is the one that ends
    in 2023 (the default, as in "2023财年" for July 2022 – June 2023) or starts in it."""

    kind: str = MONTH
    start_month: int = 1
    named_by: str = "end"

    def __post_init__(self) -> None:
        if self.kind not in FREQUENCIES:
            raise ValueError(f"unknown frequency {self.kind!r}")
        if not 1 <= self.start_month <= 12:
            raise ValueError(f"start month {self.start_month} is not 1–12")
        if self.kind != FISCAL_YEAR and self.start_month != 1:
            object.__setattr__(self, "start_month", 1)

    # -- the shape of a period ------------------------------------------------------------
    @property
    def months(self) -> int:
        """Months in one period."""
        return _MONTHS[self.kind]

    @property
    def is_monthly(self) -> bool:
        return self.kind == MONTH

    def _offset(self, m: int) -> int:
        return (m % 12 - (self.start_month - 1)) % self.months

    def end_of(self, m: int) -> int:
        """The last month of the period containing month `m`."""
        return m - self._offset(m) + self.months - 1

    def start_of(self, end: int) -> int:
        return end - self.months + 1

    def is_end(self, m: int) -> bool:
        return self.end_of(m) == m

    def ends(self, lo: int, hi: int) -> list[int]:
        """Period ends from month lo to month hi, in order."""
        first = self.end_of(lo)
        return list(range(first, hi + 1, self.months))

    def aligns_with(self, coarser: Frequency) -> bool:
        """Whether every period of `coarser` is made of whole periods of this frequency (a
        quarter fits a fiscal year starting in July, a calendar year does not)."""
        return coarser.months % self.months == 0 and self._offset(coarser.start_month - 1) == 0

    # -- spans ----------------------------------------------------------------------------
    @property
    def spans(self) -> tuple[str, ...]:
        return _SPANS[self.kind]

    @property
    def natural_span(self) -> str:
        """The span of one whole period (what a set over this data shows by default)."""
        return {MONTH: "ytd", QUARTER: "quarter", YEAR: "year", FISCAL_YEAR: "fiscal_year"}[
            self.kind
        ]

    def span_start(self, span: str, end: int) -> int | None:
        """First month of a span of whole periods ending at `end` (None: not such a span)."""
        if span == "year":
            return end - end % 12
        if span == "fiscal_year":
            return end - (end % 12 - (self.start_month - 1)) % 12
        return None

    # -- names ----------------------------------------------------------------------------
    def year_of(self, end: int) -> int:
        """The year a period is named after: a fiscal year's by `named_by`, else its end's."""
        if self.kind == FISCAL_YEAR and self.named_by == "start":
            return self.start_of(end) // 12
        return end // 12

    def label(self, end: int) -> str:
        """The period ending at month `end` as users read it: 2025-09, 2025年第3季度, 2025年,
        2023财年."""
        if self.kind == MONTH:
            return month_text(end)
        if self.kind == QUARTER:
            return t("periods.quarter", year=end // 12, q=end % 12 // 3 + 1)
        if self.kind == YEAR:
            return t("periods.year", year=end // 12)
        return t("periods.fiscal_year", year=self.year_of(end))

    def describe(self) -> str:
        """The frequency in words: 月度, 季度, 年度, 财年（7月至次年6月）."""
        if self.kind != FISCAL_YEAR:
            return t(f"periods.freq.{self.kind}")
        last = (self.start_month - 2) % 12 + 1
        key = "periods.freq.fiscal_year" if self.start_month > 1 else "periods.freq.year"
        return t(key, start=self.start_month, end=last)

    def _named_end(self, year: int) -> int:
        """The last month of the fiscal (or calendar) year named `year`."""
        if self.kind != FISCAL_YEAR or self.start_month == 1:
            return month_index(year, 12)
        if self.named_by == "start":
            return month_index(year, self.start_month) + 11
        return month_index(year, self.start_month) - 1

    def parse(self, value: object) -> int | None:
        """A period as written → its last month, or None when it is not one of this frequency.

        Months: 2025-09, 2025/9, 2025年9月, 202509, a date. Quarters: 2025Q3, 2025-Q3,
        2025年第3季度, or a month (its quarter). Years: 2023, 2023年, 2023年度, or a month (its
        year). Fiscal years: 2023, 2023财年, FY2023, 2023年度, 2022-23, 2022/2023 (the fiscal year
        spanning both), or a month (the fiscal year containing it)."""
        if value is None:
            return None
        if isinstance(value, bool):
            return None
        if isinstance(value, (dt.date, dt.datetime)):
            return self.end_of(month_index(value.year, value.month))
        if isinstance(value, float):
            if value != value or not value.is_integer():
                return None
            value = int(value)
        if isinstance(value, int):
            return self._from_year(value) if self.kind in (YEAR, FISCAL_YEAR) else None
        s = _norm(str(value))
        if not s:
            return None
        if self.kind == MONTH:
            m = _month_of(s)
            return m
        if self.kind == QUARTER:
            for pattern in _QUARTER_RES:
                if mt := pattern.fullmatch(s):
                    y, q = int(mt.group(1)), int(mt.group(2))
                    return month_index(y, q * 3) if _year_ok(y) and 1 <= q <= 4 else None
            m = _month_of(s)
            return None if m is None else self.end_of(m)
        if mt := _YEAR_RE.fullmatch(s):
            return self._from_year(int(mt.group(1)))
        if self.kind == FISCAL_YEAR:
            if mt := _FY_RE.fullmatch(s):
                return self._from_year(int(mt.group(1)))
            if (mt := _SPAN_RE.fullmatch(s)) and self.start_month > 1:
                a, b = int(mt.group(1)), mt.group(2)
                b_year = int(b) if len(b) == 4 else a // 100 * 100 + int(b)
                if b_year == a + 1 and _year_ok(a):
                    return self._from_year(b_year if self.named_by == "end" else a)
            m = _month_of(s)
            return None if m is None else self.end_of(m)
        if self.kind == YEAR:  # a month: the year containing it (a resolved period is one)
            m = _month_of(s)
            return None if m is None else self.end_of(m)
        return None

    def _from_year(self, year: int) -> int | None:
        return self._named_end(year) if _year_ok(year) else None


_QUARTER_RES = (re.compile(r"(\d{4})-?Q(\d)"), re.compile(r"(\d{4})年?第?(\d)季度?"))
_YEAR_RE = re.compile(r"(\d{4})(?:年度?|年)?")
_FY_RE = re.compile(r"(?:FY)?(\d{4})(?:财年|财政年度|年度)?")
_SPAN_RE = re.compile(r"(\d{4})[-/～~至—](\d{2}|\d{4})(?:财年|年度)?")
_MONTH_RE = re.compile(r"(\d{4})(?:[-/.年])?(\d{1,2})月?")


def _norm(s: str) -> str:
    """Upper case, full-width digits and spaces folded (ＦＹ２０２３ → FY2023)."""
    s = s.strip().upper().translate(_FULL)
    return re.sub(r"\s+", "", s)


_FULL = str.maketrans({chr(0xFF10 + i): str(i) for i in range(10)} | {"Ｆ": "F", "Ｙ": "Y"})


def _year_ok(y: int) -> bool:
    return MIN_YEAR <= y <= MAX_YEAR


def _month_of(s: str) -> int | None:
    """A month written YYYY-MM (or 2025/9, 2025年9月, 202509, an ISO date) → month index."""
    if len(s) >= 10 and s[4] == "-" and s[7] == "-":
        try:
            d = dt.date.fromisoformat(s[:10])
        except ValueError:
            return None
        return month_index(d.year, d.month)
    mt = _MONTH_RE.fullmatch(s)
    if not mt:
        return None
    y, m = int(mt.group(1)), int(mt.group(2))
    if not (_year_ok(y) and 1 <= m <= 12):
        return None
    if len(mt.group(2)) == 1 and not re.search(r"[-/.年]", s):
        return None  # 20259 is not a month
    return month_index(y, m)


def coarsest(frequencies: Iterable[Frequency]) -> Frequency:
    """The frequency of a set reading these tables: the one with the longest periods (ties: the
    first); monthly when there are none."""
    out = Frequency()
    for f in frequencies:
        if f.months > out.months:
            out = f
    return out


def complete_periods(units_by_end: Mapping[int, set[str]]) -> list[int]:
    """Period ends (ascending) whose data are complete: every unit that reported the period
    before reported this one too (a period whose predecessor has no rows is complete). The
    newest of them is what `latest` means for a declared table."""
    ends = sorted(units_by_end)
    out: list[int] = []
    for i, end in enumerate(ends):
        before = units_by_end[ends[i - 1]] if i else set()
        if before <= units_by_end[end]:
            out.append(end)
    return out
