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
from workbench.contracts import Ledger, When
from workbench.readers import RawSheet, stage_table

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
    """Outcome for one ledger across every sheet of a batch. Rows and findings stay in the
    connection's temp tables, keyed by (`_sheet`, `_row`), so large sheets are never copied
    out: `t_typed` (typed values and `<field>__raw` text), `t_raw` (a view of the text),
    `t_findings` (one row per finding: field, code, severity, the values it is about, and for a
    cascade the sheet and row of the refused row it points at), `t_bad` (rows refused)."""

    rows_in: int
    rows_accepted: int
    errors: int
    warnings: int


FINDING_COLUMNS = (
    "_sheet",
    "_row",
    "field",
    "code",
    "other",
    "value",
    "other_value",
    "ref_sheet",
    "ref_row",
)


def ledger_source(lg: Ledger, sheets: list[tuple[int, RawSheet]]) -> str:
    """SQL for every row of one ledger in the batch, as text: (_sheet, _row, _extra,
    <field>…, _total): workbook sheets from the ledger's staging table, each CSV from its own
    table of positional cells."""
    staged = [str(sid) for sid, raw in sheets if not raw.table]
    parts = [f"SELECT * FROM {stage_table(lg.name)} WHERE _sheet IN ({', '.join(staged)})"]
    parts = parts if staged else []
    parts += [raw.rows_sql() for _sid, raw in sheets if raw.table]
    return " UNION ALL ".join(f"({p})" for p in parts)


def _finding(
    sheet: str = "_sheet",
    row: str = "_row",
    field: str = "NULL",
    code: str = "NULL",
    other: str = "NULL",
    value: str = "NULL",
    other_value: str = "NULL",
    ref_sheet: str = "NULL",
    ref_row: str = "NULL",
) -> str:
    return (
        f"{sheet}, {row}, {field}, {code}, {other}, {value}, {other_value}, "
        f"CAST({ref_sheet} AS INTEGER), CAST({ref_row} AS BIGINT)"
    )


def typed_table(lg: Ledger) -> str:
    return f"t_typed_{lg.name}"


def type_ledger(
    con: duckdb.DuckDBPyConnection, lg: Ledger, sheets: list[tuple[int, RawSheet]]
) -> None:
    """Type every row of one ledger in a batch, in one pass over its staged text:
    `t_typed_<ledger>` holds each field typed (NULL where the text does not parse) and its text
    (`<field>__raw`); 合计/总计/小计 rows are set aside in `t_total_<ledger>`. Done before the
    transaction, so the staged text can be dropped (and its memory freed) before any writing."""
    has = {f.name for _sid, raw in sheets for f in lg.fields if f.name in raw.columns}
    typed_cols = ", ".join(
        f"{typed_expr(f.type, _q(f.name), f.enum)} AS {_q(f.name)}" for f in lg.fields
    )
    raw_cols = "".join(
        f", {_q(f.name)} AS {_q(f.name + '__raw')}" for f in lg.fields if f.name in has
    )
    table = typed_table(lg)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT _sheet, _row, _extra, _total, "
        f"{typed_cols}{raw_cols} FROM ({ledger_source(lg, sheets)}) src"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE t_total_{lg.name} AS SELECT _sheet, _row FROM {table} "
        f"WHERE _total"
    )
    if con.execute(f"SELECT count(*) FROM t_total_{lg.name}").fetchall()[0][0]:
        con.execute(f"DELETE FROM {table} WHERE _total")


def validate_ledger(
    con: duckdb.DuckDBPyConnection,
    lg: Ledger,
    sheets: list[tuple[int, RawSheet]],
    reference_sql: dict[str, str],
    county_of: Mapping[int, str] | None = None,
    refused_sql: Mapping[str, str] | None = None,
) -> Validated:
    """Check every row of one ledger in a batch (typed by `type_ledger`), lazily: each rule
    is one predicate over all rows, and every failure becomes a finding (sheet, row, field,
    code). `reference_sql` maps `ledger.field` to a SQL relation listing the keys that exist
    (`k`); `refused_sql` to the keys of rows refused earlier in the batch (`k`, `_sheet`,
    `_row`): a reference to one of those is a cascade (`E_REF_REFUSED`, pointing at that row),
    not an unknown key. `county_of` gives a sheet's county (from its file name), which every
    row's code must belong to: the county itself, or any county of a city (…00) or province
    (…0000) file. A 合计/总计/小计 row is a warning, neither counted nor refused."""
    refused_sql = refused_sql or {}
    has: dict[str, list[int]] = {
        f.name: [sid for sid, raw in sheets if f.name in raw.columns] for f in lg.fields
    }
    all_ids = [sid for sid, _ in sheets]

    def where_present(name: str) -> str:
        ids = has[name]
        if len(ids) == len(all_ids):
            return "true"
        return f"_sheet IN ({', '.join(map(str, ids))})" if ids else "false"

    con.execute(f"CREATE OR REPLACE TEMP VIEW t_typed AS SELECT * FROM {typed_table(lg)}")
    con.execute(f"CREATE OR REPLACE TEMP VIEW t_total AS SELECT * FROM t_total_{lg.name}")
    text_cols = "".join(
        f", {_q(f.name + '__raw')} AS {_q(f.name)}"
        if has[f.name]
        else f", CAST(NULL AS VARCHAR) AS {_q(f.name)}"
        for f in lg.fields
    )
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW t_raw AS SELECT _sheet, _row, _extra{text_cols} FROM t_typed"
    )
    rows_in = con.execute("SELECT count(*) FROM t_typed").fetchall()[0][0]

    def raw(name: str) -> str:
        return _q(name + "__raw") if has.get(name) else "NULL"

    checks: list[str] = [f"SELECT {_finding(code=_lit('W_TOTAL_ROW'))} FROM t_total"]
    for f in lg.fields:
        v = _q(f.name + "__raw")
        typed = _q(f.name)
        name = _lit(f.name)
        if f.required and len(has[f.name]) < len(all_ids):
            checks.append(
                f"SELECT {_finding(field=name, code=_lit('E_MISSING_COLUMN'))} "
                f"FROM t_raw WHERE NOT ({where_present(f.name)})"
            )
        if not has[f.name]:
            continue
        if f.required:
            checks.append(
                f"SELECT {_finding(field=name, code=_lit('E_REQUIRED'))} FROM t_typed "
                f"WHERE {v} IS NULL AND {where_present(f.name)}"
            )
        if f.type != "text":
            code = type_error_code(f.type, v, typed)
            checks.append(
                f"SELECT {_finding(field=name, code=code, value=v)} FROM t_typed "
                f"WHERE {v} IS NOT NULL AND {typed} IS NULL"
            )
        if f.type == "date":
            checks.append(
                f"SELECT {_finding(field=name, code=_lit('W_DATE_RANGE'), value=v)} FROM "
                f"t_typed WHERE year({typed}) < {MIN_YEAR} OR year({typed}) > {MAX_YEAR}"
            )
        if f.type == "yuan":  # an ID number pasted into a money column, say
            checks.append(
                f"SELECT {_finding(field=name, code=_lit('E_MONEY_TOO_LARGE'), value=v)} "
                f"FROM t_typed WHERE {typed} > {MAX_YUAN}"
            )
    for c in lg.compares:
        op = {"<=": ">", ">=": "<"}[c.op]  # the violation
        finding = _finding(
            field=_lit(c.left),
            code=_lit(c.code),
            other=_lit(c.right),
            value=raw(c.left),
            other_value=raw(c.right),
        )
        checks.append(f"SELECT {finding} FROM t_typed WHERE {_q(c.left)} {op} {_q(c.right)}")
    for rw in lg.required_when:
        finding = _finding(
            field=_lit(rw.field),
            code=_lit(rw.code),
            other=_lit(rw.when_field),
            other_value=raw(rw.when_field),
        )
        checks.append(
            f"SELECT {finding} FROM t_typed WHERE {_q(rw.when_field)} IN "
            f"({', '.join(map(_lit, rw.values))}) AND {_q(rw.field)} IS NULL"
        )
    for fb in lg.forbidden:
        finding = _finding(
            field=_lit(fb.field),
            code=_lit(fb.code),
            other=_lit(fb.other),
            value=raw(fb.field),
            other_value=raw(fb.other),
        )
        checks.append(
            f"SELECT {finding} FROM t_typed WHERE {' AND '.join(when_sql(lg, w) for w in fb.when)}"
        )
    for ref in lg.references:
        key = f"{ref.target}.{ref.target_field}"
        rel = reference_sql.get(key)
        if not (rel and has[ref.field]):
            continue
        col = f"t.{_q(ref.field)}"
        gone = refused_sql.get(key)
        if gone:
            join = (
                f"LEFT JOIN (SELECT DISTINCT ON (k) k, _sheet, _row FROM ({gone}) "
                f"ORDER BY k, _sheet, _row) r ON r.k = {col}"
            )
            code = f"CASE WHEN r._sheet IS NULL THEN {_lit(ref.code)} ELSE 'E_REF_REFUSED' END"
            ref_sheet, ref_row = "r._sheet", "r._row"
        else:
            join, code, ref_sheet, ref_row = "", _lit(ref.code), "NULL", "NULL"
        finding = _finding(
            "t._sheet",
            "t._row",
            field=_lit(ref.field),
            code=code,
            other=_lit(ref.target),
            value=f"t.{raw(ref.field)}",
            ref_sheet=ref_sheet,
            ref_row=ref_row,
        )
        checks.append(
            f"SELECT {finding} FROM t_typed t {join} WHERE {col} IS NOT NULL AND "
            f"{col} NOT IN (SELECT k FROM ({rel}) WHERE k IS NOT NULL)"
        )
    prefixes = {
        sid: _county_prefix(code)
        for sid, code in (county_of or {}).items()
        if sid in all_ids and _county_prefix(code)
    }
    if prefixes and "county_code" in has and has["county_code"]:
        cases = " ".join(f"WHEN {sid} THEN {_lit(p)}" for sid, p in prefixes.items())
        finding = _finding(
            field="'county_code'", code="'E_COUNTY_MISMATCH'", value=raw("county_code")
        )
        # A code no registry knows is the reference check's (E_UNKNOWN_COUNTY): one mistake in
        # one cell is one finding, so the list and the summary count it once.
        known = next(
            (
                reference_sql.get(f"{r.target}.{r.target_field}")
                for r in lg.references
                if r.field == "county_code" and reference_sql.get(f"{r.target}.{r.target_field}")
            ),
            None,
        )
        registered = f" AND county_code IN (SELECT k FROM ({known}))" if known else ""
        checks.append(
            f"SELECT {finding} FROM t_typed WHERE county_code IS NOT NULL AND _sheet IN "
            f"({', '.join(map(str, prefixes))}) AND NOT starts_with(county_code, "
            f"CASE _sheet {cases} END){registered}"
        )
    if all(has[k] for k in lg.key):
        key = ", ".join(_q(k) for k in lg.key)
        nonnull = " AND ".join(f"{_q(k)} IS NOT NULL" for k in lg.key)
        finding = _finding(
            field=_lit(lg.key[0]),
            code="'E_DUPLICATE_KEY'",
            other="CAST(first_row AS VARCHAR)",
            value="v",
        )
        checks.append(
            f"SELECT {finding} FROM (SELECT _sheet, _row, {raw(lg.key[0])} AS v, min(_row) "
            f"OVER (PARTITION BY _sheet, {key}) AS first_row FROM t_typed WHERE {nonnull}) "
            f"WHERE _row <> first_row"
        )
    cols = ", ".join(FINDING_COLUMNS)
    sql = " UNION ALL ".join(f"(SELECT * FROM ({c}) AS c({cols}))" for c in checks)
    # a compare's severity comes from the contract, whatever its code prefix
    by_contract = " ".join(f"WHEN {_lit(c.code)} THEN {_lit(c.severity)}" for c in lg.compares)
    severity = (
        f"CASE code {by_contract} ELSE CASE WHEN starts_with(code, 'W_') THEN 'warning' "
        f"ELSE 'error' END END"
        if by_contract
        else "CASE WHEN starts_with(code, 'W_') THEN 'warning' ELSE 'error' END"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE t_findings AS SELECT {cols}, {severity} AS severity "
        f"FROM ({sql}) WHERE code IS NOT NULL"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE t_bad AS SELECT _sheet, _row, count(*) AS n "
        "FROM t_findings WHERE severity = 'error' GROUP BY _sheet, _row"
    )
    errors, warnings = con.execute(
        "SELECT count(*) FILTER (WHERE severity = 'error'), count(*) FILTER (WHERE severity = "
        "'warning') FROM t_findings"
    ).fetchall()[0]
    bad = con.execute("SELECT count(*) FROM t_bad").fetchall()[0][0]
    return Validated(rows_in, rows_in - bad, errors, warnings)


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
