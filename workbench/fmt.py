"""Numbers and dates the Chinese way, for reports and dashboards: 万元/亿元, 87.3%, 2025年9月."""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd


def is_month(text: object) -> bool:
    """`2025-09` (a month as the workbench writes it), not `2025-13` or `2025-9`."""
    return re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", str(text)) is not None


def missing(x: object) -> bool:
    """None, pandas' NA or NaT, or a float NaN: what every face shows as —."""
    return x is None or x is pd.NA or x is pd.NaT or (isinstance(x, float) and math.isnan(x))


def money(yuan: object, digits: int = 1) -> str:
    """Yuan → `3.20亿元`, `1,234.5万元` or `860元`; missing → `—` (`value_text` in 元: one
    rule for every amount shown)."""
    return value_text(yuan, "元", digits)


def wan(yuan: object, digits: int = 2) -> str:
    """Yuan as a number of 万元 without the unit, for a table column whose header names 万元:
    one scale for the whole column (3.60, 0.16, 0.01), never 3.6万元 above 1,600元; missing → —."""
    v = finite(yuan)
    return "—" if v is None else value_text(v / 1e4, "", digits)


def rule_percent(ratio: float) -> str:
    """A declared rate in a rule's wording: 20% when whole, 12.5% otherwise (0.07 × 100 is
    7.000000000000001 in floating point and still reads 7%)."""
    pct = ratio * 100
    return value_text(ratio, "%", 0 if abs(pct - round(pct)) < 1e-9 else 1)


def percent(ratio: object, digits: int = 1, signed: bool = False) -> str:
    """0.873 → `87.3%`; `signed` gives `+2.1%` for changes."""
    if missing(ratio):
        return "—"
    v = float(ratio) * 100  # type: ignore[arg-type]
    return f"{v:+.{digits}f}%" if signed else f"{v:.{digits}f}%"


def points(diff: object, digits: int = 1) -> str:
    """A gap between two ratios in percentage points: -0.027 → `2.7个百分点`."""
    if missing(diff):
        return "—"
    return f"{abs(float(diff)) * 100:.{digits}f}个百分点"  # type: ignore[arg-type]


def number(x: object, digits: int = 0) -> str:
    if missing(x):
        return "—"
    return f"{float(x):,.{digits}f}"  # type: ignore[arg-type]


def month_label(period: object) -> str:
    """`2025-09` (or a date) → `2025年9月`."""
    if missing(period):
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


CN_DIGITS = "一二三四五六七八九十"


def quarter_label(period: object) -> str:
    """`2025-12` (or a date) → `2025年第四季度`: the quarter a month falls in, named, never
    本季度 (a document dated in January reports the quarter before its own)."""
    if missing(period):
        return "—"
    ts = pd.Timestamp(str(period)[:7] + "-01") if not isinstance(period, date) else period
    return f"{ts.year}年第{CN_DIGITS[(ts.month - 1) // 3]}季度"


def quarter_end(period: object) -> date:
    """The last day of the quarter a month falls in."""
    ts = pd.Timestamp(str(period)[:7] + "-01") if not isinstance(period, date) else period
    q_end = pd.Timestamp(ts.year, 3 * ((ts.month - 1) // 3) + 3, 1) + pd.offsets.MonthEnd(0)
    return q_end.date()


def cn_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 23 → 二十三: a section's number in a Chinese heading."""
    if n < 1 or n > 99:
        return str(n)
    if n <= 10:
        return CN_DIGITS[n - 1]
    tens, ones = divmod(n, 10)
    return (CN_DIGITS[tens - 1] if tens > 1 else "") + "十" + (CN_DIGITS[ones - 1] if ones else "")


def date_label(d: object) -> str:
    """A date → `2025年11月30日`."""
    if missing(d):
        return "—"
    ts = pd.Timestamp(d)  # type: ignore[arg-type]
    return f"{ts.year}年{ts.month}月{ts.day}日"


# ---------------------------------------------------------------------------------------------
# The one formatter of indicator numbers. Every face (cockpit, county page, reports, 通报, CLI,
# exports) writes a value, a target, a gap or a change through these functions, with the unit
# and decimals declared for the indicator in YAML; none formats an indicator number itself.
# ---------------------------------------------------------------------------------------------
PERCENT = "percent"
MONEY = "money"
COUNT = "count"
SCORE = "score"
NUMBER = "number"

_PERCENT_UNITS = {"%", "percent", "ratio", "share", "rate", "百分比", "比例", "change", "pct"}
# money units and the yuan in one of them
_MONEY_UNITS = {"元": 1.0, "yuan": 1.0, "万元": 1e4, "亿元": 1e8}
# units of things counted one by one: whole numbers unless the YAML says otherwise
COUNT_UNITS = frozenset(
    {"件", "个", "次", "家", "人", "起", "个月", "项", "例", "家次", "人次", "名", "条", "份", "天"}
    | {"区县·月"}  # months summed over counties (a measure's `city_unit`)
)
_SCORE_UNITS = {"score", "分"}


def unit_kind(unit: object) -> str:
    """`percent` (values are fractions), `money` (values in the unit's yuan), `count`,
    `score` or `number` (any other unit, e.g. 件/万人, shown with its unit)."""
    u = "" if missing(unit) else str(unit).strip()
    if u.lower() in _PERCENT_UNITS:
        return PERCENT
    if u.lower() in _MONEY_UNITS:
        return MONEY
    if u in COUNT_UNITS:
        return COUNT
    if u.lower() in _SCORE_UNITS:
        return SCORE
    return NUMBER


def default_decimals(unit: object) -> int:
    """Decimals when an indicator declares none: 87.3%, 1,234.5万元, 12件, 0.46件/万人, 76.3分."""
    return {PERCENT: 1, MONEY: 1, COUNT: 0, SCORE: 1}.get(unit_kind(unit), 2)


def _digits(unit: object, decimals: object) -> int:
    if missing(decimals):
        return default_decimals(unit)
    return max(0, min(int(decimals), 6))  # type: ignore[call-overload]


def finite(x: object) -> float | None:
    """A finite float, or None (missing, not a number, infinite)."""
    if missing(x):
        return None
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _round(v: float, digits: int) -> float:
    """Half up, as a reader rounds the decimal they see (76.25 → 76.3; round() would give 76.2)."""
    q = Decimal(1).scaleb(-digits)
    return float(Decimal(repr(v)).quantize(q, rounding=ROUND_HALF_UP))


def rounded(values: object, digits: int) -> np.ndarray:
    """`_round` over an array (NaN stays NaN): numpy for every value not within a hair of a
    half, `_round` itself for those, so the result is the number a face prints."""
    x = np.asarray(values, dtype="float64")
    scale = 10.0**digits
    y = x * scale
    out = np.floor(y + 0.5) / scale
    with np.errstate(invalid="ignore"):
        near_half = np.abs(y - np.floor(y) - 0.5) < 1e-6
    for i in np.flatnonzero(near_half):
        out[i] = _round(float(x[i]), digits)
    return out


def place_decimals(rank: float) -> int:
    """Decimals a rank's place is written with: none when it is whole (ranks are whole
    numbers), one for a median between two places (2.5). Every face's median rank reads it."""
    return 0 if _round(rank, 1) == round(rank) else 1


def published_score(values: object) -> np.ndarray:
    """Scores as every face prints them (`default_decimals` of 分, half up): what a grade band
    is read against, so 79.958 printed as 80.0 is graded as 80.0."""
    return rounded(values, default_decimals(SCORE))


def score_text(score: object) -> str:
    """A composite score as every face prints it (`published_score`'s rounding: 80.05 → `80.1`,
    where `number(80.05, 1)` would give 80.0); missing → `—`. Grades and ranks are read on it."""
    return value_text(score, SCORE)


def _sign(v: float, signed: bool) -> str:
    if v < 0:
        return "-"
    return "+" if signed and v > 0 else ""


def _money_text(yuan: float, digits: int, signed: bool) -> str:
    """Yuan → 元 below 1万, 万元 below 1亿, else 亿元 (at least two decimals); a value that rounds
    up to the next scale is written in it (9,999.96元 → 1.0万元, not 10,000元)."""
    v = abs(yuan)
    sign = _sign(_round(yuan, max(digits, 2)), signed)
    small = _round(v, 0)
    if small < 1e4:
        return f"{sign}{small:,.0f}元"
    wan_digits = digits
    wan = _round(v / 1e4, wan_digits)
    if wan < 1e4:
        return f"{sign}{wan:,.{wan_digits}f}万元"
    yi_digits = max(digits, 2)
    return f"{sign}{_round(v / 1e8, yi_digits):,.{yi_digits}f}亿元"


def value_text(value: object, unit: object, decimals: object = None, signed: bool = False) -> str:
    """An indicator value with its unit: 87.3%, 1,234.5万元, 12件, 0.46件/万人; missing → —."""
    v = finite(value)
    if v is None:
        return "—"
    kind, d = unit_kind(unit), _digits(unit, decimals)
    if kind == PERCENT:
        p = _round(v * 100, d)
        return f"{_sign(p, signed)}{abs(p):.{d}f}%"
    if kind == MONEY:
        return _money_text(v * _MONEY_UNITS[str(unit).strip().lower()], d, signed)
    r = _round(v, d)
    suffix = "" if kind == SCORE else str(unit).strip()
    return f"{_sign(r, signed)}{abs(r):,.{d}f}{suffix}"


OP_SIGNS = {">=": "≥", "<=": "≤", "==": "=", ">": "＞", "<": "＜"}


def op_sign(op: object) -> str:
    return OP_SIGNS.get(str(op), str(op))


def target_text(op: object, target: object, unit: object, decimals: object = None) -> str:
    """`≥90.0%`, `≤0.30件/万人`; no target → —."""
    if finite(target) is None or not op:
        return "—"
    return f"{op_sign(op)}{value_text(target, unit, decimals)}"


def gap_text(gap: object, unit: object, decimals: object = None) -> str:
    """The size of a distance to a target, unsigned: `2.7个百分点`, `12件`, `3.5万元`."""
    v = finite(gap)
    if v is None:
        return "—"
    if unit_kind(unit) == PERCENT:
        d = _digits(unit, decimals)
        return f"{abs(_round(v * 100, d)):.{d}f}个百分点"
    return value_text(abs(v), unit, decimals)


def change_text(value: object, previous: object, unit: object, decimals: object = None) -> str:
    """Change against an earlier value, with one meaning per kind of unit: a rate changes in
    percentage points (34.3% → 68.6% is `+34.3个百分点`), a count or money relatively
    (`+12.5%`); an earlier value of zero has no relative change (—)."""
    v, p = finite(value), finite(previous)
    if v is None or p is None:
        return "—"
    if unit_kind(unit) == PERCENT:
        d = _digits(unit, decimals)
        diff = _round((v - p) * 100, d)
        return f"{_sign(diff, True)}{abs(diff):.{d}f}个百分点"
    if p == 0:
        return "—"
    rel = _round((v - p) / abs(p) * 100, 1)
    return f"{_sign(rel, True)}{abs(rel):.1f}%"


def count_text(n: object, noun: str = "") -> str:
    """A count of things with its measure word: `12个`, `1,548件`."""
    v = finite(n)
    return "—" if v is None else f"{v:,.0f}{noun}"
