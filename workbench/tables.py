"""Declared tables: a user's own input (`kind: table`) → validated rows in the warehouse.

A declared table (`declarations.TableDecl`) names its unit column, its period column and
frequency, and its typed fields with Chinese headers. This module takes files of it (CSV in
UTF-8 or GBK, .xlsx) or a DataFrame from a notebook through the ledgers' discipline:

- the header row is found among a sheet's first rows by the declared headers (as the ledgers'
  reader compares them: `contracts.normalise_header`); a column the declaration does not know
  is kept aside (`_extra`) with a warning, a missing one is named;
- every cell is typed in DuckDB by the ledgers' own typing (`validate.typed_expr`,
  `validate.type_error_code`), every period read by the table's frequency (`periods`);
- every row is accepted or quarantined, each finding with file, sheet, row, column, value,
  code and a Chinese message (`ingest.issue_message`), in one transaction;
- the warehouse keeps one table per declared table (its columns, then the row's origin, then
  `_live`), created and upgraded from the declaration like the ledgers' (`ensure_table`);
  per unit and period the newest submission's row is current.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from workbench import __version__
from workbench.contracts import normalise_header
from workbench.declarations import PERIOD_END, TableDecl, TableField
from workbench.ingest import issue_message, reader_issue_row
from workbench.issue_list import rule_name
from workbench.messages import t
from workbench.privacy import excel_safe_frame, mask_id_card
from workbench.readers import Issue, cell_text
from workbench.validate import type_error_code, typed_expr
from workbench.warehouse import (
    META_COLUMNS,
    UPGRADES,
    Warehouse,
    arrow_frame,
    create_table_ddl,
    current_view_ddl,
    file_columns,
    ledger_table_columns,
    reading,
    schema_fingerprint,
)

log = logging.getLogger(__name__)

HEADER_SCAN_ROWS = 30
ISSUE_COLUMNS = ["severity", "file", "sheet", "row", "column", "value", "code", "message"]
ISSUE_HEADERS = {
    "severity": "级别",
    "file": "文件",
    "sheet": "工作表",
    "row": "行号",
    "column": "列",
    "value": "值",
    "rule": "问题类型",
    "code": "规则编码",
    "message": "说明",
}
TOTAL_WORDS = ("合计", "总计", "小计")
SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm")
# A declared field's type → the typing the ledgers use for it (`validate.typed_expr`); `number`
# is a signed decimal, typed here.
_LEDGER_TYPE = {"int": "int", "money": "yuan", "date": "date"}


# ---------------------------------------------------------------------------------------------
# Reading files
# ---------------------------------------------------------------------------------------------
@dataclass
class TableSheet:
    """One sheet (or CSV) of a declared table: its header and its data rows as text."""

    file: str
    sheet: str
    header_row: int  # as Excel numbers it (1-based)
    columns: dict[str, int]  # field name → position
    headers: dict[str, str]  # field name → header as written
    extra: list[tuple[int, str]]  # (position, header) of columns the declaration lacks
    rows: list[list[str | None]]


def _header_keys(table: TableDecl) -> dict[str, str]:
    """Normalised header (the header, its aliases, the field name) → field name."""
    out: dict[str, str] = {}
    for f in table.columns:
        for h in (f.header, f.name, *f.aliases):
            out.setdefault(normalise_header(h), f.name)
    return out


def find_header(
    table: TableDecl, rows: Sequence[Sequence[str | None]]
) -> tuple[int, dict[str, int], list[str]] | None:
    """(row index, field → column, labels) of the row among the first ones that names the most
    declared columns, the unit and the period among them; None when no row does."""
    keys = _header_keys(table)
    best: tuple[int, int, dict[str, int], list[str]] | None = None
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        labels = [(c or "").strip() for c in row]
        found: dict[str, int] = {}
        for pos, lab in enumerate(labels):
            name = keys.get(normalise_header(lab)) if lab else None
            if name is not None and name not in found:
                found[name] = pos
        if table.unit.name not in found or table.period.name not in found:
            continue
        if best is None or len(found) > best[1]:
            best = (i, len(found), found, labels)
    return None if best is None else (best[0], best[2], best[3])


def _sheet(
    table: TableDecl, file: str, sheet: str, rows: list[list[str | None]], issues: list[Issue]
) -> TableSheet | None:
    match = find_header(table, rows)
    if match is None:
        return None
    at, columns, labels = match
    header_row = at + 1
    known = set(columns.values())
    extra = [(i, lab) for i, lab in enumerate(labels) if lab and i not in known]
    for _i, lab in extra:
        issues.append(
            Issue("W_EXTRA_COLUMN", file, sheet, row=header_row, column=lab, severity="warning")
        )
    for f in table.columns:
        if f.name not in columns:
            issues.append(
                Issue(
                    "E_MISSING_COLUMN" if f.required else "W_MISSING_COLUMN",
                    file,
                    sheet,
                    row=header_row,
                    column=f.header,
                    severity="error" if f.required else "warning",
                    params={"hint": ""},
                )
            )
    headers = {name: labels[pos] for name, pos in columns.items()}
    return TableSheet(file, sheet, header_row, columns, headers, extra, rows[at + 1 :])


def _decode(data: bytes) -> str | None:
    """UTF-8 (with or without BOM), else GB18030 (a superset of GBK); None for binary data."""
    if b"\x00" in data[:4096]:
        return None
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    return None


def read_table_file(
    table: TableDecl, path: Path, display: str | None = None
) -> tuple[list[TableSheet], list[Issue]]:
    """The sheets of one file that hold the table (a workbook's other sheets are skipped), and
    what was found reading it (an unreadable file, a sheet without the table's header)."""
    display = display or path.name
    issues: list[Issue] = []
    suffix = path.suffix.lower()
    if not path.is_file():
        return [], [Issue("E_FILE_NOT_FOUND", display)]
    if suffix == ".xls":
        return [], [Issue("E_XLS_UNSUPPORTED", display)]
    if suffix not in SUFFIXES:
        return [], [Issue("E_NOT_WORKBOOK", display)]
    found: list[TableSheet] = []
    if suffix in (".csv", ".txt"):
        text = _decode(path.read_bytes())
        if text is None:
            return [], [Issue("E_NOT_WORKBOOK", display)]
        try:
            sep = csv.Sniffer().sniff("\n".join(text.splitlines()[:5]), ",\t;|").delimiter
        except csv.Error:
            sep = ","
        rows = [[cell_text(c) for c in r] for r in csv.reader(io.StringIO(text), delimiter=sep)]
        got = _sheet(table, display, "CSV", rows, issues)
        if got is not None:
            found.append(got)
    else:
        from python_calamine import CalamineWorkbook

        try:
            wb = CalamineWorkbook.from_path(str(path))
        except Exception:  # noqa: BLE001 - calamine raises its own error types
            return [], [Issue("E_NOT_WORKBOOK", display)]
        for meta in wb.sheets_metadata:
            try:
                raw = wb.get_sheet_by_name(meta.name).to_python(skip_empty_area=False)
            except Exception:  # noqa: BLE001
                issues.append(Issue("E_SHEET_UNREADABLE", display, meta.name))
                continue
            rows = [[cell_text(v) for v in r] for r in raw]
            got = _sheet(table, display, meta.name, rows, issues)
            if got is not None:
                found.append(got)
    if not found:
        issues.append(
            Issue(
                "E_TABLE_NOT_FOUND", display, params={"table": table.name, "headers": _heads(table)}
            )
        )
    return found, issues


def _heads(table: TableDecl) -> str:
    return "、".join(f.header for f in (table.unit, table.period))


# ---------------------------------------------------------------------------------------------
# Typing and checking rows (DuckDB)
# ---------------------------------------------------------------------------------------------
def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _typed(f: TableField, v: str) -> tuple[str, str]:
    """(SQL of the typed value, SQL of the error code when a present value does not type)."""
    if f.type in _LEDGER_TYPE:
        ftype = _LEDGER_TYPE[f.type]
        typed = typed_expr(ftype, v)
        return typed, type_error_code(ftype, v, typed)
    if f.type == "number":
        d = f"TRY_CAST(regexp_replace({v}, '[,，\\s]', '', 'g') AS DOUBLE)"
        typed = f"CASE WHEN isfinite({d}) THEN {d} END"
        return typed, f"CASE WHEN {typed} IS NULL THEN 'E_NOT_NUMBER' END"
    return v, "NULL"


def _period_map(table: TableDecl, values: Iterable[object]) -> pd.DataFrame:
    """Each distinct period text → its label (2023财年) and last month (YYYY-MM), or blanks."""
    freq = table.frequency
    rows = []
    for v in values:
        end = freq.parse(v)
        rows.append(
            {
                "raw": v,
                "label": None if end is None else freq.label(end),
                "end": None if end is None else f"{end // 12:04d}-{end % 12 + 1:02d}",
            }
        )
    return pd.DataFrame(rows, columns=["raw", "label", "end"], dtype=object)


def _findings_sql(table: TableDecl) -> str:
    """One row per finding of `t_tab`: (_sheet, _row, field, code, first_row)."""
    unit = _q(table.unit.name)
    parts = [
        "SELECT _sheet, _row, NULL AS field, 'E_TABLE_TOTAL_ROW' AS code, NULL AS first_row "
        "FROM t_tab WHERE _total"
    ]
    for f in table.columns:
        raw = _q(f.name + "__raw")
        if f.required:
            parts.append(
                f"SELECT _sheet, _row, {_lit(f.name)}, 'E_REQUIRED', NULL FROM t_tab "
                f"WHERE NOT _total AND {raw} IS NULL"
            )
        if f.name == table.period.name:
            parts.append(
                f"SELECT _sheet, _row, {_lit(f.name)}, 'E_TABLE_PERIOD', NULL FROM t_tab "
                f"WHERE NOT _total AND {raw} IS NOT NULL AND {_q(PERIOD_END)} IS NULL"
            )
        elif f.type != "text":
            parts.append(
                f"SELECT _sheet, _row, {_lit(f.name)}, {_q(f.name + '__err')}, NULL FROM t_tab "
                f"WHERE NOT _total AND {raw} IS NOT NULL AND {_q(f.name + '__err')} IS NOT NULL"
            )
    parts.append(
        f"SELECT _sheet, _row, {_lit(table.unit.name)}, 'E_TABLE_DUPLICATE', first_row FROM ("
        f"SELECT _sheet, _row, first_value(_row) OVER w AS first_row, row_number() OVER w AS n "
        f"FROM t_tab WHERE NOT _total AND {unit} IS NOT NULL AND {_q(PERIOD_END)} IS NOT NULL "
        f"WINDOW w AS (PARTITION BY {unit}, {_q(PERIOD_END)} ORDER BY _sheet, _row)) "
        f"WHERE n > 1"
    )
    return " UNION ALL ".join(f"({p})" for p in parts)


def check_rows(con, table: TableDecl, body: pd.DataFrame) -> pd.DataFrame:
    """Type and check every row of `body` (text: `_sheet`, `_row`, `_extra` and one column per
    declared field) in DuckDB. Leaves `t_tab` (typed values, `<field>__raw` text, period label
    and last month) and `t_tab_bad` (refused rows) in the connection; returns the findings
    (_sheet, _row, field, code, first_row)."""
    names = [f.name for f in table.columns]
    frame = body.copy()
    for n in names:
        if n not in frame.columns:
            frame[n] = None
        frame[n] = frame[n].map(_text)
    frame = frame[["_sheet", "_row", "_extra", *names]].astype(
        {"_sheet": "int64", "_row": "int64", **dict.fromkeys(["_extra", *names], object)}
    )
    periods = _period_map(table, frame[table.period.name].dropna().unique())
    con.register("v_tab_body", frame)
    con.register("v_tab_periods", periods)
    try:
        cols = []
        for f in table.columns:
            v = f"b.{_q(f.name)}"
            if f.name == table.period.name:
                cols.append(f"p.label AS {_q(f.name)}")
            else:
                typed, err = _typed(f, v)
                cols.append(f"{typed} AS {_q(f.name)}")
                if f.type != "text":
                    cols.append(f"{err} AS {_q(f.name + '__err')}")
            cols.append(f"{v} AS {_q(f.name + '__raw')}")
        unit = f"regexp_replace(coalesce(b.{_q(table.unit.name)}, ''), '[\\s\u3000:：]', '', 'g')"
        total = f"{unit} IN ({', '.join(map(_lit, TOTAL_WORDS))})"
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE t_tab AS SELECT b._sheet, b._row, b._extra, "
            f"{', '.join(cols)}, p.end AS {_q(PERIOD_END)}, {total} AS _total "
            f"FROM v_tab_body b LEFT JOIN v_tab_periods p ON p.raw = b.{_q(table.period.name)}"
        )
    finally:
        con.unregister("v_tab_body")
        con.unregister("v_tab_periods")
    findings = con.execute(
        f"SELECT * FROM ({_findings_sql(table)}) ORDER BY _sheet, _row, code"
    ).df()
    con.execute(
        "CREATE OR REPLACE TEMP TABLE t_tab_bad AS SELECT DISTINCT _sheet, _row FROM "
        f"({_findings_sql(table)})"
    )
    return findings


def _text(v: object) -> str | None:
    """A cell as text; blank, None and NaN as None (a missing value)."""
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    s = str(v).strip()
    return s or None


def _shown(v: object) -> str:
    """A value as an issue list shows it (ID-card numbers starred wherever they appear)."""
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return ""
    return str(mask_id_card(v))


def issue_rows(
    con, table: TableDecl, findings: pd.DataFrame, sheets: Mapping[int, TableSheet | None]
) -> pd.DataFrame:
    """Findings → issue rows: the header as written in the file, the value, the code and the
    Chinese message naming file, sheet, row and column (with `_sheet` carried along)."""
    if findings.empty:
        return pd.DataFrame(columns=[*ISSUE_COLUMNS, "_sheet"])
    raw = con.execute(
        "SELECT t.* FROM t_tab t SEMI JOIN (SELECT DISTINCT _sheet, _row FROM t_tab_bad) b "
        "USING (_sheet, _row)"
    ).df()
    cells_of = {(int(r["_sheet"]), int(r["_row"])): r for r in raw.to_dict("records")}
    out = []
    for rec in findings.to_dict("records"):
        sid, row = int(rec["_sheet"]), int(rec["_row"])
        sh = sheets.get(sid)
        file, sheet = (sh.file, sh.sheet) if sh is not None else ("DataFrame", "")
        total = rec["code"] == "E_TABLE_TOTAL_ROW"
        fname = rec["field"] if isinstance(rec["field"], str) else table.unit.name
        header = (sh.headers.get(fname) if sh is not None else None) or table.column(fname).header
        cells = cells_of.get((sid, row), {})
        value = _shown(cells.get(fname + "__raw"))
        params: dict[str, object] = {}
        if rec["code"] == "E_TABLE_DUPLICATE":
            params["first_row"] = int(rec["first_row"])
            params["period"] = _shown(cells.get(table.period.name))
        elif rec["code"] == "E_TABLE_PERIOD":
            freq = table.frequency
            params["frequency"] = freq.describe()
            params["example"] = freq.label(freq.end_of(dt.date.today().year * 12 - 12))
        column = "" if total else header
        out.append(
            {
                "severity": "error",
                "file": file,
                "sheet": sheet,
                "row": row,
                "column": column,
                "value": value,
                "code": rec["code"],
                "message": issue_message(rec["code"], file, sheet, row, column, value, **params),
                "_sheet": sid,
            }
        )
    return pd.DataFrame(out, columns=[*ISSUE_COLUMNS, "_sheet"])


# ---------------------------------------------------------------------------------------------
# The warehouse's table for a declared table
# ---------------------------------------------------------------------------------------------
def ensure_table(wh: Warehouse, table: TableDecl) -> str:
    """Create the table's warehouse table, or add the columns its declaration gained since (as
    a ledger's table is upgraded: earlier rows read NULL there), define its `_current` view,
    and record any change in `schema_upgrades`. Returns the change ('' when none)."""
    lg = table.ledger
    cols = ledger_table_columns(lg)
    have = file_columns(wh.con).get(lg.name)
    changes = []
    if have is None:
        wh.con.execute(create_table_ddl(lg.name, cols))
        changes.append(f"+{lg.name}")
    else:
        for c in cols:
            if c.name not in have:
                wh.con.execute(f'ALTER TABLE "{lg.name}" ADD COLUMN {c.ddl(create=False)}')
                changes.append(f"+{lg.name}.{c.name} {c.type}")
    wh.con.execute(current_view_ddl(lg))
    if changes:  # the warehouse's own schema is unchanged: from and to stay its fingerprint
        schema = schema_fingerprint()
        wh.con.execute(
            f'INSERT INTO "{UPGRADES}" VALUES (now(), ?, ?, ?, ?, ?)',
            ["table", schema, schema, __version__, "; ".join(changes)],
        )
    return "; ".join(changes)


def table_exists(wh: Warehouse, code: str) -> bool:
    return code in file_columns(wh.con) or bool(
        wh.con.execute(
            "SELECT count(*) FROM duckdb_views() WHERE view_name = ? AND temporary", [code]
        ).fetchone()[0]
    )


def read_table(
    source: Warehouse | str | Path, table: TableDecl, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """The current rows of a declared table (every column, or `columns`), typed as a ledger's
    are; empty when nothing was ingested yet."""
    lg = table.ledger
    cols = list(columns) if columns is not None else lg.field_names
    with reading(source) as wh:
        if not table_exists(wh, lg.name):
            return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
        return wh.read_ledger(lg.name, columns=cols, ledger=lg)


# ---------------------------------------------------------------------------------------------
# Ingest
# ---------------------------------------------------------------------------------------------
@dataclass
class TableFile:
    file: str
    submission_id: str
    status: str  # new | duplicate | unreadable
    rows_in: int = 0
    accepted: int = 0
    quarantined: int = 0
    periods: list[str] = field(default_factory=list)


@dataclass
class TableIngest:
    """What `ingest_table` did: per file, the issues (every finding) and the lists written."""

    table: TableDecl
    files: list[TableFile]
    issues: pd.DataFrame
    report_paths: list[Path] = field(default_factory=list)

    @property
    def errors(self) -> pd.DataFrame:
        return self.issues[self.issues["severity"] == "error"]

    @property
    def rows_in(self) -> int:
        return sum(f.rows_in for f in self.files)

    @property
    def accepted(self) -> int:
        return sum(f.accepted for f in self.files)

    @property
    def quarantined(self) -> int:
        return sum(f.quarantined for f in self.files)


def _inputs(paths: Iterable[str | Path]) -> tuple[list[Path], list[Issue]]:
    files: list[Path] = []
    issues: list[Issue] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in SUFFIXES)
        elif p.exists():
            files.append(p)
        else:
            issues.append(Issue("E_FILE_NOT_FOUND", p.name))
    return files, issues


def _body(sheets: Sequence[tuple[int, TableSheet]], table: TableDecl) -> pd.DataFrame:
    """Every sheet's data rows as text: _sheet, _row (as Excel numbers it), _extra, fields."""
    names = [f.name for f in table.columns]
    records: list[dict] = []
    for sid, sh in sheets:
        for i, row in enumerate(sh.rows):
            if not any(c is not None and str(c).strip() for c in row):
                continue
            rec: dict[str, object] = {"_sheet": sid, "_row": sh.header_row + 1 + i}
            for n in names:
                pos = sh.columns.get(n)
                rec[n] = row[pos] if pos is not None and pos < len(row) else None
            extra = {lab: row[pos] for pos, lab in sh.extra if pos < len(row) and row[pos]}
            rec["_extra"] = json.dumps(extra, ensure_ascii=False) if extra else None
            records.append(rec)
    return pd.DataFrame(records, columns=["_sheet", "_row", "_extra", *names])


def ingest_table(
    table: TableDecl,
    paths: Sequence[str | Path],
    warehouse: str | Path | Warehouse,
    report_dir: str | Path | None = None,
) -> TableIngest:
    """Files of one declared table → the warehouse, in one transaction: each row accepted (and,
    per unit and period, the newest submission's row current) or quarantined with its reasons;
    a file already ingested byte for byte is skipped. The issue list (Excel and CSV) goes to
    `report_dir` when given."""
    own = not isinstance(warehouse, Warehouse)
    wh = Warehouse(warehouse) if own else warehouse
    try:
        result = _ingest(wh, table, paths)
    finally:
        if own:
            wh.close()
    if report_dir is not None and len(result.issues):
        result.report_paths = write_issue_list(result.issues, Path(report_dir), table.code)
    return result


def _ingest(wh: Warehouse, table: TableDecl, paths: Sequence[str | Path]) -> TableIngest:
    lg = table.ledger
    files, found = _inputs(paths)
    issue_list = [reader_issue_row(i) for i in found]
    outcomes: list[TableFile] = []
    pending: list[tuple[TableFile, list[TableSheet], bytes]] = []
    known = set(
        wh.con.execute("SELECT submission_id FROM submissions").fetchnumpy()["submission_id"]
    )
    for path in files:
        data = path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        if sha in known:
            outcomes.append(TableFile(path.name, sha, "duplicate"))
            continue
        known.add(sha)
        sheets, issues = read_table_file(table, path, path.name)
        issue_list += [reader_issue_row(i) for i in issues]
        out = TableFile(path.name, sha, "new" if sheets else "unreadable")
        outcomes.append(out)
        if sheets:
            pending.append((out, sheets, data))
    numbered = [(i + 1, sh, out) for i, (out, sh) in enumerate(_flat(pending))]
    sheet_of = {sid: sh for sid, sh, _o in numbered}
    owner = {sid: out for sid, _sh, out in numbered}
    now = dt.datetime.now().replace(microsecond=0)
    with wh.transaction() as con:
        ensure_table(wh, table)
        if numbered:
            findings = check_rows(con, table, _body([(s, sh) for s, sh, _o in numbered], table))
            rows = issue_rows(con, table, findings, sheet_of)
            issue_list += rows.drop(columns="_sheet").to_dict("records")
            counts = con.execute(
                "SELECT _sheet, count(*), count(*) FILTER (WHERE b._row IS NULL), "
                f"list(DISTINCT t.{_q(table.period.name)}) FROM t_tab t "
                "LEFT JOIN t_tab_bad b USING (_sheet, _row) GROUP BY 1"
            ).fetchall()
            for sid, n, ok, labels in counts:
                out = owner[int(sid)]
                out.rows_in += n
                out.accepted += ok
                out.quarantined += n - ok
                out.periods = sorted({*out.periods, *(x for x in labels if x)})
            for out, _sheets, data in pending:
                content = wh.archive_file(out.submission_id, out.file, data)
                con.execute(
                    "INSERT INTO submissions VALUES "
                    "(?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, '有效', NULL, NULL)",
                    [
                        out.submission_id,
                        out.file,
                        out.periods[-1] if out.periods else "",
                        now,
                        len(data),
                        content,
                        out.rows_in,
                        out.accepted,
                        out.quarantined,
                    ],
                )
            _write_rows(con, table, numbered)
            _write_quarantine(con, table, rows, numbered)
            wh.refresh_current([lg.name], {lg.name: lg})
            con.execute("DROP TABLE IF EXISTS t_tab; DROP TABLE IF EXISTS t_tab_bad")
        frame = pd.DataFrame(issue_list, columns=ISSUE_COLUMNS)
        if len(frame):
            sub_of = {o.file: o.submission_id for o in outcomes}
            rec = frame.assign(submission_id=frame["file"].map(sub_of))
            rec["row"] = rec["row"].astype("Int64")
            con.register("v_tab_issues", rec)
            try:
                con.execute(
                    "INSERT INTO ingest_issues SELECT submission_id, severity, file, sheet, "
                    'row, "column", value, code, message FROM v_tab_issues'
                )
            finally:
                con.unregister("v_tab_issues")
    return TableIngest(table, outcomes, frame)


def _flat(pending: Sequence[tuple[TableFile, list[TableSheet], bytes]]):
    for out, sheets, _data in pending:
        for sh in sheets:
            yield out, sh


def _write_rows(con, table: TableDecl, numbered: Sequence[tuple[int, TableSheet, TableFile]]):
    """Accepted rows into the table, each with its origin (submission, period, file, sheet,
    row as Excel numbers it, unknown columns)."""
    lg = table.ledger
    origin = pd.DataFrame(
        [
            {"_sheet": sid, "submission_id": out.submission_id, "file": sh.file, "sheet": sh.sheet}
            for sid, sh, out in numbered
        ]
    ).astype({"_sheet": "int64"})
    con.register("v_tab_origin", origin)
    try:
        cols = ", ".join(_q(f) for f in lg.field_names)
        picked = ", ".join(f"t.{_q(f)}" for f in lg.field_names)
        con.execute(
            f'INSERT INTO "{lg.name}" ({cols}, {", ".join(META_COLUMNS)}) '
            f"SELECT {picked}, o.submission_id, t.{_q(table.period.name)}, o.file, o.sheet, "
            f"t._row, t._extra FROM t_tab t JOIN v_tab_origin o USING (_sheet) "
            f"ANTI JOIN t_tab_bad b USING (_sheet, _row)"
        )
    finally:
        con.unregister("v_tab_origin")


def _write_quarantine(
    con, table: TableDecl, rows: pd.DataFrame, numbered: Sequence[tuple[int, TableSheet, TableFile]]
) -> None:
    """Refused rows, with their text (by header) and every reason, into `quarantine`."""
    bad = con.execute(
        "SELECT t.* FROM t_tab t SEMI JOIN t_tab_bad b USING (_sheet, _row) ORDER BY _sheet, _row"
    ).df()
    if bad.empty:
        return
    by_row = rows.groupby(["_sheet", "row"])
    reasons = by_row["message"].agg("；".join)
    codes = by_row["code"].agg(lambda s: ",".join(sorted(set(s))))
    info = {sid: (out.submission_id, sh.file, sh.sheet) for sid, sh, out in numbered}
    records = []
    for rec in bad.to_dict("records"):
        key = (int(rec["_sheet"]), int(rec["_row"]))
        sub, file, sheet = info[key[0]]
        text = {
            f.header: _shown(rec[f.name + "__raw"])
            for f in table.columns
            if rec.get(f.name + "__raw") is not None
        }
        records.append(
            {
                "submission_id": sub,
                "ledger": table.code,
                "file": file,
                "sheet": sheet,
                "row_number": key[1],
                "reasons": reasons.get(key, ""),
                "codes": codes.get(key, ""),
                "raw": json.dumps(text, ensure_ascii=False),
            }
        )
    con.register("v_tab_quarantine", pd.DataFrame(records))
    try:
        con.execute("INSERT INTO quarantine SELECT * FROM v_tab_quarantine")
    finally:
        con.unregister("v_tab_quarantine")


def write_issue_list(issues: pd.DataFrame, out_dir: Path, code: str) -> list[Path]:
    """The issue list as .xlsx and .csv (UTF-8 with BOM), Chinese headers, cells neutralised."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base, n = stamp, 1
    while (out_dir / f"入库问题清单_{code}_{stamp}.xlsx").exists():
        n += 1
        stamp = f"{base}-{n}"
    frame = issues[ISSUE_COLUMNS].copy()
    frame["severity"] = frame["severity"].map({"error": "错误", "warning": "警告"})
    frame.insert(frame.columns.get_loc("code"), "rule", frame["code"].map(rule_name))
    frame = excel_safe_frame(frame.rename(columns=ISSUE_HEADERS))
    xlsx = out_dir / f"入库问题清单_{code}_{stamp}.xlsx"
    csv_path = out_dir / f"入库问题清单_{code}_{stamp}.csv"
    frame.to_csv(csv_path, index=False, encoding="utf-8-sig")
    with pd.ExcelWriter(xlsx, engine="xlsxwriter") as xw:
        frame.to_excel(xw, sheet_name="问题清单", index=False)
    return [xlsx, csv_path]


# ---------------------------------------------------------------------------------------------
# A DataFrame from a notebook
# ---------------------------------------------------------------------------------------------
def table_frame(table: TableDecl, df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A DataFrame of a declared table (columns by field name or by Chinese header) → (the
    accepted rows typed as the warehouse holds them, with `PERIOD_END`; the issue rows of
    those refused), by the same checks as a file. Row numbers count from 1 over the frame."""
    import duckdb

    keys = _header_keys(table)
    rename = {}
    for c in df.columns:
        name = keys.get(normalise_header(str(c)))
        if name is not None and name not in rename.values():
            rename[c] = name
    data = df.rename(columns=rename)
    body = pd.DataFrame({"_sheet": 0, "_row": range(1, len(data) + 1), "_extra": None})
    for f in table.columns:
        col = data[f.name] if f.name in data.columns else pd.Series([None] * len(data))
        body[f.name] = [cell_text(_plain(v)) for v in col.tolist()]
    con = duckdb.connect()
    try:
        findings = check_rows(con, table, body)
        issues = issue_rows(con, table, findings, {0: None}).drop(columns="_sheet")
        lg = table.ledger
        picked = ", ".join(f"t.{_q(f)}" for f in lg.field_names)
        rel = con.sql(
            f"SELECT {picked} FROM t_tab t ANTI JOIN t_tab_bad b USING (_sheet, _row) "
            "ORDER BY t._row"
        )
        arrow = rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.arrow()
        accepted = arrow_frame(arrow, lg)
    finally:
        con.close()
    return accepted, issues


def _plain(v: object) -> object:
    """numpy / pandas scalars as the Python values `cell_text` knows."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        try:
            return v.item()
        except (ValueError, TypeError):
            return v
    return v


# ---------------------------------------------------------------------------------------------
# `workbench ingest --table CODE FILE…`
# ---------------------------------------------------------------------------------------------
SHOW_ERRORS = 10


def ingest_command(
    code: str,
    paths: Sequence[str],
    warehouse: str | Path | None = None,
    report_dir: str | Path | None = None,
    indicators_dir: str | Path | None = None,
    out=None,
) -> int:
    """The `--table` form of `workbench ingest`: 0 when every file was read (rows refused are
    the issue list's business), 1 when a file could not be read, 2 for an unknown table."""
    import sys

    from workbench.config import indicators_dir as resolve_dir
    from workbench.config import warehouse_path
    from workbench.declarations import DeclarationError, load_table

    out = out or sys.stdout
    try:
        table = load_table(code, [resolve_dir(indicators_dir)])
    except DeclarationError as exc:
        for issue in exc.issues:
            print(str(issue), file=sys.stderr)
        return 2
    wh = warehouse_path(warehouse)
    reports = Path(report_dir) if report_dir else wh.parent / "reports"
    result = ingest_table(table, paths, wh, reports)
    print_summary(result, wh, out)
    unread = any(f.status == "unreadable" for f in result.files) or bool(
        result.errors["code"].isin(["E_FILE_NOT_FOUND", "E_NOT_WORKBOOK"]).any()
    )
    return 1 if unread or not result.files else 0


def print_summary(result: TableIngest, wh: Path, out) -> None:
    """The ingest's summary in Chinese: per file what was kept, the totals, the first errors
    and where the issue list is."""
    print(t("tables.summary.title", table=result.table.name, path=wh), file=out)
    if not result.files:
        print(t("ingest.summary.no_files"), file=out)
    for f in result.files:
        if f.status == "duplicate":
            print(t("ingest.summary.file_duplicate", file=f.file), file=out)
        elif f.status == "unreadable":
            print(t("tables.summary.file_unreadable", file=f.file), file=out)
        else:
            periods = (
                "、".join(f.periods) if len(f.periods) <= 4 else (f"{f.periods[0]}–{f.periods[-1]}")
            )
            print(
                t(
                    "tables.summary.file_new",
                    file=f.file,
                    periods=periods or "—",
                    rows=f.rows_in,
                    accepted=f.accepted,
                    quarantined=f.quarantined,
                ),
                file=out,
            )
    errors = result.errors
    print(
        t(
            "ingest.summary.totals",
            rows=result.rows_in,
            accepted=result.accepted,
            quarantined=result.quarantined,
            errors=len(errors),
            warnings=len(result.issues) - len(errors),
        ),
        file=out,
    )
    if len(errors):
        print(t("ingest.summary.first_errors", n=min(SHOW_ERRORS, len(errors))), file=out)
        for msg in errors["message"].head(SHOW_ERRORS):
            print("  - " + msg, file=out)
    if result.report_paths:
        print(
            t("ingest.summary.report", xlsx=result.report_paths[0], csv=result.report_paths[1]),
            file=out,
        )


def status_lines(wh: Warehouse, dirs: Sequence[Path] | None = None) -> list[str]:
    """`workbench status` lines for the declared tables of the indicators folder that this
    warehouse holds: rows, current rows, units and the periods covered."""
    from workbench.declarations import DeclarationError, available_tables, load_table

    present = file_columns(wh.con)
    out = []
    for code in available_tables(dirs):
        if code not in present:
            continue
        try:
            table = load_table(code, dirs)
        except DeclarationError:
            continue
        lg = table.ledger
        unit = _q(lg.unit_field)
        rows, current, units, first, last = wh.con.execute(
            f'SELECT (SELECT count(*) FROM "{code}"), count(*), count(DISTINCT {unit}), '
            f'min("{PERIOD_END}"), max("{PERIOD_END}") FROM {wh.current_relation(code)}'
        ).fetchone()
        freq = table.frequency
        span = [freq.label(int(m[:4]) * 12 + int(m[5:7]) - 1) if m else "—" for m in (first, last)]
        out.append(
            t(
                "tables.status_line",
                title=table.name,
                rows=rows,
                current=current,
                units=units,
                noun=table.noun or t("tables.noun.default"),
                first=span[0],
                last=span[1],
            )
        )
    return out
