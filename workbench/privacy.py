"""Masking of personal data (ID-card numbers, names) for every output.

Two forms of the same rules: Python (`mask_id_card`, `mask_name`, `safe_cell`) for anything
written from Python, and SQL (`sql_mask_whole`, `sql_mask_name`) for messages built inside the
database during ingest; tests check that both forms agree. Nothing here imports pandas at
module level, so the child process that parses workbooks can use it cheaply.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from workbench.contracts import personal_fields

if TYPE_CHECKING:
    import pandas as pd

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
# Cheap pre-test (RE2 has no look-arounds): a text can hold an ID number only if it has 14
# digits in a row. SQL uses it to call the Python masker on those few values only.
ID_CANDIDATE_SQL = "[0-9０-９]{14}"
_CANDIDATE = re.compile(ID_CANDIDATE_SQL)
_NAME_HINTS = ("姓名", "name")
# what counts as blank around a value, the same in both forms
WHITESPACE = " \t\n\r\x0b\x0c\u3000\xa0"


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value) or _is_na(value)


def _is_na(value: object) -> bool:
    return type(value).__name__ == "NAType"  # pandas.NA, without importing pandas


def _keep_ends(s: str) -> str:
    """The first and last four characters kept, the rest starred (short values: all but one
    character at each end)."""
    keep = 4 if len(s) >= 10 else max(1, len(s) // 4)
    return s[:keep] + "*" * max(1, len(s) - 2 * keep) + s[-keep:] if len(s) > 2 else "*" * len(s)


def mask_id_card(value: object, whole: bool = False) -> object:
    """`330402199001011234` → `3304**********1234` wherever it appears in a text; with `whole`
    (a value from an ID-card column) the value is masked whatever its form — 14 digits, 19,
    full-width — since a malformed ID number is personal data too."""
    if _missing(value):
        return value
    s = str(value)
    if whole:
        stripped = s.strip(WHITESPACE)
        return _keep_ends(stripped) if stripped else s
    return _ID_RE.sub(lambda m: _keep_ends(m.group(0)), s)


def mask_text(value: str) -> str:
    """Every ID number in a text starred: for file names, sheet names, headers, messages."""
    if not _CANDIDATE.search(value):  # four times cheaper than the full pattern
        return value
    return _ID_RE.sub(lambda m: _keep_ends(m.group(0)), value)


def mask_name(value: object) -> object:
    """Keep the surname: `张三丰` → `张**`."""
    if _missing(value):
        return value
    s = str(value).strip(WHITESPACE)
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
    import pandas as pd

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


def safe_cell(value: object) -> object:
    """The one treatment of every cell an exported list (CSV or Excel) holds: ID numbers
    starred in any text, then formula injection neutralised. Numbers pass unchanged."""
    if isinstance(value, str):
        return excel_safe(mask_text(value))
    return value


def excel_safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    out = df.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s):
            out[col] = s.map(excel_safe).astype(object)
    out.columns = [excel_safe(str(c)) for c in out.columns]
    return out


# ---------------------------------------------------------------- the same rules in SQL


def _sql_trim(v: str) -> str:
    chars = " || ".join(f"chr({ord(c)})" for c in WHITESPACE)
    return f"trim({v}, {chars})"


def sql_mask_whole(v: str) -> str:
    """SQL for `mask_id_card(v, whole=True)` (an ID-card column's value)."""
    s = _sql_trim(v)
    n = f"length({s})"
    k = f"(CASE WHEN {n} >= 10 THEN 4 ELSE greatest(1, {n} // 4) END)"
    return (
        f"CASE WHEN {v} IS NULL THEN NULL WHEN {s} = '' THEN {v} WHEN {n} > 2 THEN "
        f"left({s}, {k}) || repeat('*', greatest(1, {n} - 2 * {k})) || right({s}, {k}) "
        f"ELSE repeat('*', {n}) END"
    )


def sql_mask_name(v: str) -> str:
    """SQL for `mask_name(v)` (a name column's value)."""
    s = _sql_trim(v)
    return (
        f"CASE WHEN {v} IS NULL THEN NULL WHEN {s} = '' THEN '' "
        f"ELSE left({s}, 1) || repeat('*', greatest(1, length({s}) - 1)) END"
    )


def sql_mask_text(v: str, udf: str) -> str:
    """SQL for `mask_text(v)`: the Python masker (registered as `udf`) runs only on values that
    hold 14 digits in a row, so a million clean values cost one RE2 test each."""
    return f"CASE WHEN regexp_matches({v}, '{ID_CANDIDATE_SQL}') THEN {udf}({v}) ELSE {v} END"
