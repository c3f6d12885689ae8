"""Masking of personal data (ID-card numbers, names) for every output."""

from __future__ import annotations

import re

import pandas as pd

from workbench.contracts import personal_fields

# An ID-card number inside any text: the 18-character form wherever it is, and — not glued to
# Latin letters, so case numbers such as AJ9901062025120010 stay readable — any run of 15
# (first-generation cards) to 19 digits, ASCII or full-width, the last one possibly X: a
# mistyped number is as personal as a right one.
_D, _X = "0-9０-９", "XxＸｘ"
# Never the digits of a decimal number (a chart's 8.450704225352112): not after a point, not
# before a point and a digit.
_ID_RE = re.compile(
    rf"(?<![{_D}.])[1-9１-９][{_D}]{{16}}[{_D}{_X}](?![{_D}]|\.[0-9])"
    rf"|(?<![{_D}A-Za-z.])[{_D}]{{14,18}}[{_D}{_X}](?![{_D}A-Za-z]|\.[0-9])"
)
_NAME_HINTS = ("姓名", "name")


def _keep_ends(s: str) -> str:
    """The first and last four characters kept, the rest starred (short values: all but one
    character at each end)."""
    keep = 4 if len(s) >= 10 else max(1, len(s) // 4)
    return s[:keep] + "*" * max(1, len(s) - 2 * keep) + s[-keep:] if len(s) > 2 else "*" * len(s)


def mask_id_card(value: object, whole: bool = False) -> object:
    """`330402199001011234` → `3304**********1234` wherever it appears in a text; with `whole`
    (a value from an ID-card column) the value is masked whatever its form — 14 digits, 19,
    full-width — since a malformed ID number is personal data too."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return value
    s = str(value)
    if whole:
        stripped = s.strip()
        return _keep_ends(stripped) if stripped else s
    return _ID_RE.sub(lambda m: _keep_ends(m.group(0)), s)


def mask_name(value: object) -> object:
    """Keep the surname: `张三丰` → `张**`."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return value
    s = str(value).strip()
    if not s:
        return s
    return s[0] + "*" * max(1, len(s) - 1)


def is_name_column(column: str) -> bool:
    low = str(column).lower()
    return (
        any(h in low for h in _NAME_HINTS)
        and "机构" not in low
        and "institution" not in low
        and "county" not in low
        and "区县" not in low
    )


def mask_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy with personal columns masked and ID numbers scrubbed from text columns."""
    out = df.copy()
    personal = personal_fields()
    for col in out.columns:
        name = str(col)
        if (name in personal and "id" in name) or "身份证" in name:
            out[col] = out[col].map(lambda v: mask_id_card(v, whole=True))
        elif name in personal or is_name_column(name):
            out[col] = out[col].map(mask_name)
        elif out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(mask_id_card)
    return out


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# a signed figure as the presentation layer writes it (-18.0%, +34.3个百分点, -5.6万元): after the
# sign only digits, separators and non-ASCII unit words — nothing a spreadsheet reads as a formula
_SIGNED_FIGURE = re.compile(r"[+-][0-9][0-9,]*(?:\.[0-9]+)?(?:%|[^\x00-\x7f]+)?")


def excel_safe(value: object) -> object:
    """Neutralise spreadsheet formula injection: text starting with = + - @ gets a leading ',
    except a plain signed figure (which a spreadsheet cannot run)."""
    if (
        isinstance(value, str)
        and value.startswith(_FORMULA_START)
        and not _SIGNED_FIGURE.fullmatch(value)
    ):
        return "'" + value
    return value


def excel_safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s):
            out[col] = s.map(excel_safe).astype(object)
    out.columns = [excel_safe(str(c)) for c in out.columns]
    return out
