"""Masking of personal data (ID-card numbers, names) for every output."""
from __future__ import annotations

import re

import pandas as pd

from workbench.contracts import personal_fields

_ID_RE = re.compile(r"(?<![0-9])([1-9][0-9]{3})[0-9]{10}([0-9]{3}[0-9Xx])(?![0-9])")
_NAME_HINTS = ("姓名", "name")


def mask_id_card(value: object) -> object:
    """`330402199001011234` → `3304**********1234`; anything else is scanned for embedded IDs."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return value
    s = str(value)
    return _ID_RE.sub(lambda m: m.group(1) + "*" * 10 + m.group(2), s)


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
    return any(h in low for h in _NAME_HINTS) and "机构" not in low and "institution" not in low \
        and "county" not in low and "区县" not in low


def mask_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy with personal columns masked and ID numbers scrubbed from text columns."""
    out = df.copy()
    personal = personal_fields()
    for col in out.columns:
        name = str(col)
        if (name in personal and "id" in name) or "身份证" in name:
            out[col] = out[col].map(mask_id_card)
        elif name in personal or is_name_column(name):
            out[col] = out[col].map(mask_name)
        elif out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(mask_id_card)
    return out


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def excel_safe(value: object) -> object:
    """Neutralise spreadsheet formula injection: text starting with = + - @ gets a leading '."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
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
