"""Typing and validating raw ledger rows, lazily, in DuckDB.

Every check is a SQL predicate generated from the contract, so one scan types a million rows and
every failure becomes a row (row, field, code) — nothing stops at the first error.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass

import duckdb
import pandas as pd

from workbench.contracts import Ledger, When
from workbench.readers import RawSheet

log = logging.getLogger(__name__)

DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%Y年%m月%d日",
    "%Y%m%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y年%m月%d号",
)
MONTH_FORMATS = ("%Y-%m", "%Y/%m", "%Y.%m", "%Y年%m月", "%Y%m")
TRUE_WORDS = ("是", "y", "yes", "1", "true", "t", "√", "有")
FALSE_WORDS = ("否", "n", "no", "0", "false", "f", "×", "无")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
MIN_YEAR, MAX_YEAR = 2000, 2100


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _list(values: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join(_lit(v) for v in values) + "]"


def _serial_date(v: str) -> str:
    return (
        f"CASE WHEN regexp_full_match({v}, '[1-9][0-9]{{4}}(\\.[0-9]+)?') "
        f"THEN DATE '1899-12-30' + CAST(floor(CAST({v} AS DOUBLE)) AS INTEGER) END"
    )


def typed_expr(ftype: str, v: str, enum: tuple[str, ...] = ()) -> str:
    """SQL giving the typed value, NULL when the text does not parse."""
    if ftype == "code6":
        return f"CASE WHEN regexp_full_match({v}, '[0-9]{{6}}') THEN {v} END"
    if ftype == "int":
        d = f"TRY_CAST(replace({v}, ',', '') AS DOUBLE)"
        return f"CASE WHEN {d} = floor({d}) AND {d} >= 0 THEN CAST({d} AS BIGINT) END"
    if ftype == "yuan":
        d = f"TRY_CAST(regexp_replace({v}, '[,，\\s元¥￥]', '', 'g') AS DOUBLE)"
        return f"CASE WHEN {d} >= 0 AND isfinite({d}) THEN round({d}, 2) END"
    if ftype == "date":
        # ISO dates take the cheap cast; only the rest pay for the format list
        return (
            f"COALESCE(TRY_CAST({v} AS DATE), CAST(try_strptime({v}, {_list(DATE_FORMATS)}) "
            f"AS DATE), {_serial_date(v)})"
        )
    if ftype == "month":
        dated = typed_expr("date", v)
        return (
            f"COALESCE(strftime(try_strptime({v}, {_list(MONTH_FORMATS)}), '%Y-%m'), "
            f"strftime({dated}, '%Y-%m'))"
        )
    if ftype == "bool":
        low = f"lower({v})"
        return (
            f"CASE WHEN {low} IN ({', '.join(map(_lit, TRUE_WORDS))}) THEN true "
            f"WHEN {low} IN ({', '.join(map(_lit, FALSE_WORDS))}) THEN false END"
        )
    if ftype == "enum":
        values = ", ".join(map(_lit, enum))
        vv = f"replace(replace({v}, ' ', ''), '\u3000', '')"
        return f"CASE WHEN {v} IN ({values}) THEN {v} WHEN {vv} IN ({values}) THEN {vv} END"
    if ftype == "id_card":
        up = f"upper({v})"
        n = f"TRY_CAST(left({up}, 17) AS BIGINT)"
        digits = " + ".join(
            f"(({n} // {10 ** (16 - i)}) % 10) * {w}" for i, w in enumerate(ID_WEIGHTS)
        )
        return (
            f"CASE WHEN regexp_full_match({up}, '[0-9]{{17}}[0-9X]') AND "
            f"substr('{ID_CHECK}', CAST(({digits}) % 11 AS INTEGER) + 1, 1) = "
            f"right({up}, 1) THEN {up} END"
        )
    return v


def type_error_code(ftype: str, v: str, typed: str) -> str:
    """SQL CASE naming why a present value failed to type (NULL when it typed fine)."""
    if ftype == "int":
        d = f"TRY_CAST(replace({v}, ',', '') AS DOUBLE)"
        return (
            f"CASE WHEN {typed} IS NOT NULL THEN NULL WHEN {d} IS NULL THEN 'E_NOT_NUMBER' "
            f"WHEN {d} < 0 THEN 'E_NEGATIVE' ELSE 'E_NOT_INTEGER' END"
        )
    if ftype == "yuan":
        d = f"TRY_CAST(regexp_replace({v}, '[,，\\s元¥￥]', '', 'g') AS DOUBLE)"
        return (
            f"CASE WHEN {typed} IS NOT NULL THEN NULL WHEN {d} IS NULL OR NOT isfinite({d}) "
            f"THEN 'E_NOT_NUMBER' ELSE 'E_NEGATIVE_MONEY' END"
        )
    if ftype == "id_card":
        return (
            f"CASE WHEN {typed} IS NOT NULL THEN NULL "
            f"WHEN regexp_full_match(upper({v}), '[0-9]{{17}}[0-9X]') THEN 'E_ID_CHECKSUM' "
            f"ELSE 'E_ID_FORMAT' END"
        )
    code = {
        "code6": "E_CODE6",
        "date": "E_DATE",
        "month": "E_MONTH",
        "bool": "E_BOOL",
        "enum": "E_ENUM",
    }.get(ftype)
    return f"CASE WHEN {typed} IS NULL THEN {_lit(code)} END" if code else "NULL"


@dataclass
class Validated:
    """Outcome for one ledger across every sheet of a batch: counts and every finding as a row.
    Rows stay in the connection's temp tables (`t_raw`, `t_typed`, `t_bad`), keyed by
    (`_sheet`, `_row`), so large sheets are never copied out."""

    findings: pd.DataFrame  # _sheet, _row, field, code, other, severity
    rows_in: int
    rows_accepted: int


def ledger_source(
    con: duckdb.DuckDBPyConnection, lg: Ledger, sheets: list[tuple[int, RawSheet]]
) -> str:
    """SQL stacking every sheet of one ledger as text: (_sheet, _row, _extra, <field>…).
    Sheets read into pandas (xlsx) are registered as `v_body`; CSV bodies are read by DuckDB."""
    fields = [f.name for f in lg.fields]
    parts: list[str] = []
    frames = [raw.normalised_frame(sid) for sid, raw in sheets if raw.frame is not None]
    if frames:
        body = pd.concat(frames, ignore_index=True)
        con.register("v_body", body)
        cells = "".join(
            f", nullif(trim(CAST({_q(n)} AS VARCHAR)), '') AS {_q(n)}"
            if n in body.columns
            else f", CAST(NULL AS VARCHAR) AS {_q(n)}"
            for n in fields
        )
        parts.append(
            f"SELECT CAST(_sheet AS INTEGER) AS _sheet, CAST(_row AS BIGINT) AS _row, "
            f"CAST(_extra AS VARCHAR) AS _extra{cells} FROM v_body WHERE _keep"
        )
    parts += [raw.stage_csv(con, sid, fields) for sid, raw in sheets if raw.source is not None]
    return " UNION ALL ".join(f"({p})" for p in parts)


def validate_ledger(
    con: duckdb.DuckDBPyConnection,
    lg: Ledger,
    sheets: list[tuple[int, RawSheet]],
    reference_sql: dict[str, str],
    county_of: Mapping[int, str] | None = None,
) -> Validated:
    """Type and check every row of one ledger in a batch, lazily: each rule is one predicate
    over all rows, and every failure becomes a finding (sheet, row, field, code).
    `reference_sql` maps `ledger.field` to a SQL relation listing the keys that exist;
    `county_of` gives a sheet's county (from its file name), which every row's code must
    belong to: the county itself, or any county of a city (…00) or province (…0000) file."""
    has: dict[str, list[int]] = {
        f.name: [sid for sid, raw in sheets if f.name in raw.columns] for f in lg.fields
    }
    all_ids = [sid for sid, _ in sheets]

    def where_present(name: str) -> str:
        ids = has[name]
        if len(ids) == len(all_ids):
            return "true"
        return f"_sheet IN ({', '.join(map(str, ids))})" if ids else "false"

    present = [f for f in lg.fields if has[f.name]]
    typed_cols = ", ".join(
        f"{typed_expr(f.type, _q(f.name), f.enum)} AS {_q(f.name)}" for f in lg.fields
    )
    raw_cols = "".join(f", {_q(f.name)} AS {_q(f.name + '__raw')}" for f in present)
    # one pass: the stacked text is typed as it is read; t_raw is a view of the text kept in it
    source = ledger_source(con, lg, sheets)
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE t_typed AS SELECT _sheet, _row, _extra, "
            f"{typed_cols}{raw_cols} FROM ({source}) src"
        )
    finally:
        if "v_body" in source:
            con.unregister("v_body")
        for sid, raw in sheets:
            if raw.source is not None:
                con.execute(f"DROP TABLE IF EXISTS t_csv_{sid}")
    text_cols = "".join(
        f", {_q(f.name + '__raw')} AS {_q(f.name)}"
        if has[f.name]
        else f", CAST(NULL AS VARCHAR) AS {_q(f.name)}"
        for f in lg.fields
    )
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW t_raw AS SELECT _sheet, _row, _extra{text_cols} FROM t_typed"
    )
    rows_in = con.execute("SELECT count(*) FROM t_typed").fetchone()[0]

    checks: list[str] = []
    for f in lg.fields:
        v = _q(f.name + "__raw")
        typed = _q(f.name)
        if f.required and len(has[f.name]) < len(all_ids):
            checks.append(
                f"SELECT _sheet, _row, {_lit(f.name)}, 'E_MISSING_COLUMN', NULL "
                f"FROM t_raw WHERE NOT ({where_present(f.name)})"
            )
        if not has[f.name]:
            continue
        if f.required:
            checks.append(
                f"SELECT _sheet, _row, {_lit(f.name)}, 'E_REQUIRED', NULL FROM t_typed "
                f"WHERE {v} IS NULL AND {where_present(f.name)}"
            )
        if f.type != "text":
            code = type_error_code(f.type, v, typed)
            checks.append(
                f"SELECT _sheet, _row, {_lit(f.name)}, {code}, NULL FROM t_typed "
                f"WHERE {v} IS NOT NULL AND {typed} IS NULL"
            )
        if f.type == "date":
            checks.append(
                f"SELECT _sheet, _row, {_lit(f.name)}, 'W_DATE_RANGE', NULL FROM t_typed"
                f" WHERE year({typed}) < {MIN_YEAR} OR year({typed}) > {MAX_YEAR}"
            )
        if f.type == "yuan":  # an ID number pasted into a money column, say
            checks.append(
                f"SELECT _sheet, _row, {_lit(f.name)}, 'E_MONEY_TOO_LARGE', NULL "
                f"FROM t_typed WHERE {typed} > {MAX_YUAN}"
            )
    for c in lg.compares:
        op = {"<=": ">", ">=": "<"}[c.op]  # the violation
        checks.append(
            f"SELECT _sheet, _row, {_lit(c.left)}, {_lit(c.code)}, {_lit(c.right)} "
            f"FROM t_typed WHERE {_q(c.left)} {op} {_q(c.right)}"
        )
    for rw in lg.required_when:
        checks.append(
            f"SELECT _sheet, _row, {_lit(rw.field)}, {_lit(rw.code)}, "
            f"{_lit(rw.when_field)} FROM t_typed WHERE {_q(rw.when_field)} IN "
            f"({', '.join(map(_lit, rw.values))}) AND {_q(rw.field)} IS NULL"
        )
    for fb in lg.forbidden:
        checks.append(
            f"SELECT _sheet, _row, {_lit(fb.field)}, {_lit(fb.code)}, {_lit(fb.other)} "
            f"FROM t_typed WHERE {' AND '.join(when_sql(lg, w) for w in fb.when)}"
        )
    for ref in lg.references:
        rel = reference_sql.get(f"{ref.target}.{ref.target_field}")
        if rel and has[ref.field]:
            checks.append(
                f"SELECT _sheet, _row, {_lit(ref.field)}, {_lit(ref.code)}, NULL "
                f"FROM t_typed t WHERE t.{_q(ref.field)} IS NOT NULL AND "
                f"t.{_q(ref.field)} NOT IN (SELECT k FROM ({rel}) WHERE k IS NOT NULL)"
            )
    prefixes = {
        sid: _county_prefix(code)
        for sid, code in (county_of or {}).items()
        if sid in all_ids and _county_prefix(code)
    }
    if prefixes and "county_code" in has and has["county_code"]:
        cases = " ".join(f"WHEN {sid} THEN {_lit(p)}" for sid, p in prefixes.items())
        checks.append(
            f"SELECT _sheet, _row, 'county_code', 'E_COUNTY_MISMATCH', NULL FROM t_typed "
            f"WHERE county_code IS NOT NULL AND _sheet IN ({', '.join(map(str, prefixes))}) "
            f"AND NOT starts_with(county_code, CASE _sheet {cases} END)"
        )
    if all(has[k] for k in lg.key):
        key = ", ".join(_q(k) for k in lg.key)
        nonnull = " AND ".join(f"{_q(k)} IS NOT NULL" for k in lg.key)
        checks.append(
            f"SELECT _sheet, _row, {_lit(lg.key[0])}, 'E_DUPLICATE_KEY', "
            f"CAST(first_row AS VARCHAR) FROM (SELECT _sheet, _row, min(_row) OVER "
            f"(PARTITION BY _sheet, {key}) AS first_row FROM t_typed WHERE {nonnull}) "
            f"WHERE _row <> first_row"
        )
    sql = " UNION ALL ".join(
        f"(SELECT * FROM ({c}) AS c(_sheet, _row, field, code, other))" for c in checks
    )
    findings = con.execute(
        f"SELECT _sheet, _row, field, code, other FROM ({sql}) "
        f"WHERE code IS NOT NULL ORDER BY _sheet, _row, field"
    ).df()
    findings["severity"] = ["warning" if c.startswith("W_") else "error" for c in findings["code"]]
    # a compare's severity comes from the contract, whatever its code prefix
    sev = {c.code: c.severity for c in lg.compares}
    findings.loc[findings["code"].isin(sev), "severity"] = findings["code"].map(sev)
    bad = findings.loc[findings["severity"] == "error", ["_sheet", "_row"]].drop_duplicates()
    con.register("v_bad", bad.astype({"_sheet": "int32", "_row": "int64"}))
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE t_bad AS SELECT _sheet, _row FROM v_bad")
    finally:
        con.unregister("v_bad")
    return Validated(findings, rows_in, rows_in - len(bad))


def when_sql(lg: Ledger, w: When) -> str:
    """SQL predicate of one condition of a `Forbidden` rule, on the typed columns."""
    col = _q(w.field)
    if not w.values:
        return f"{col} IS {'NOT ' if w.filled else ''}NULL"
    numeric = lg.field(w.field).type in ("int", "yuan", "bool")
    values = ", ".join(str(v).lower() if numeric else _lit(str(v)) for v in w.values)
    return f"({col} IS NULL OR {col} NOT IN ({values}))" if w.negate else f"{col} IN ({values})"


ACCEPTED_SQL = "SELECT * FROM t_typed ANTI JOIN t_bad USING (_sheet, _row)"
MAX_YUAN = 1e11  # 1,000 亿元: no single case, lead or item is larger


def _county_prefix(code: str) -> str:
    """What a row's county code must start with in a file of `code` ('' when no check): a
    county its own code, a city (…00) its first four digits, a province (…0000) its first
    two."""
    if not re.fullmatch(r"[0-9]{6}", code or ""):
        return ""
    if code.endswith("0000"):
        return code[:2]
    return code[:4] if code.endswith("00") else code
