"""Numbers and dates the Chinese way, for reports and dashboards: 万元/亿元, 87.3%, 2025年9月."""

from __future__ import annotations

import math
import re
from datetime import date, datetime

import pandas as pd


def is_month(text: object) -> bool:
    """`2025-09` (a month as the workbench writes it), not `2025-13` or `2025-9`."""
    return re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", str(text)) is not None


def _missing(x: object) -> bool:
    return x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x))


def money(yuan: object, digits: int = 1) -> str:
    """Yuan → `3.2亿元`, `1,234.5万元` or `860元`; missing → `—`."""
    if _missing(yuan):
        return "—"
    v = float(yuan)  # type: ignore[arg-type]
    sign = "-" if v < 0 else ""
    v = abs(v)
    if v >= 1e8:
        return f"{sign}{v / 1e8:,.{max(digits, 2)}f}亿元"
    if v >= 1e4:
        return f"{sign}{v / 1e4:,.{digits}f}万元"
    return f"{sign}{v:,.0f}元"


def percent(ratio: object, digits: int = 1, signed: bool = False) -> str:
    """0.873 → `87.3%`; `signed` gives `+2.1%` for changes."""
    if _missing(ratio):
        return "—"
    v = float(ratio) * 100  # type: ignore[arg-type]
    return f"{v:+.{digits}f}%" if signed else f"{v:.{digits}f}%"


def points(diff: object, digits: int = 1) -> str:
    """A gap between two ratios in percentage points: -0.027 → `2.7个百分点`."""
    if _missing(diff):
        return "—"
    return f"{abs(float(diff)) * 100:.{digits}f}个百分点"  # type: ignore[arg-type]


def year_on_year(value: object, yoy: object, unit: object, digits: int = 1) -> str:
    """A year-on-year change as a Chinese reader expects it: a rate (unit %) in percentage
    points — 34.3% → 68.6% is `+34.3个百分点`, not `+100.0%` — anything else relative."""
    if _missing(yoy):
        return "—"
    r = float(yoy)  # type: ignore[arg-type]
    if str(unit) == "%" and not _missing(value) and r != -1:
        v = float(value)  # type: ignore[arg-type]
        diff = v - v / (1 + r)  # value − last year's value, from the relative change
        sign = "+" if diff > 0 else "-" if diff < 0 else ""
        return f"{sign}{abs(diff) * 100:.{digits}f}个百分点"
    return percent(r, digits, signed=True)


def number(x: object, digits: int = 0) -> str:
    if _missing(x):
        return "—"
    return f"{float(x):,.{digits}f}"  # type: ignore[arg-type]


def month_label(period: object) -> str:
    """`2025-09` (or a date) → `2025年9月`."""
    if _missing(period):
        return "—"
    if isinstance(period, (date, datetime, pd.Timestamp)):
        return f"{period.year}年{period.month}月"
    s = str(period)
    if len(s) >= 7 and s[4] == "-":
        return f"{int(s[:4])}年{int(s[5:7])}月"
    if "-Q" in s:
        y, q = s.split("-Q")
        return f"{int(y)}年第{int(q)}季度"
    return s


def date_label(d: object) -> str:
    """A date → `2025年11月30日`."""
    if _missing(d):
        return "—"
    ts = pd.Timestamp(d)  # type: ignore[arg-type]
    return f"{ts.year}年{ts.month}月{ts.day}日"
