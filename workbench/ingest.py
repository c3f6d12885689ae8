"""Ingest: submitted files → validated ledger rows in the warehouse, or quarantine with reasons.

1. Read, outside any transaction: each file is hashed and read into temp tables of the
   warehouse connection (`readers/`), within declared limits; a file that cannot be read —
   too large, hostile, crashing its reader — is an error for that file only.
2. Write, in one transaction: files archived and recorded, every ledger validated and written
   in dependency order (counties before cases before leads), so cross-ledger rules see rows
   from the same batch. Findings become messages, quarantined rows and issue rows inside the
   database, set-based: refusing a million rows costs about what accepting them does. Any
   failure rolls the warehouse back and removes what was archived.
3. After the commit: the issue list is written from the warehouse (so any past submission's
   can be written again: `issue_list_for`) and recorded; only then does a summary name it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import re
import shutil
import string
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from workbench.contracts import LEDGERS, Ledger, feedback_list_of
from workbench.freshness import ReceivedDateError, check_received, parse_received
from workbench.issue_list import ISSUE_HEADERS, ISSUE_ORDER, write_issue_list
from workbench.messages import catalogue, t
from workbench.privacy import mask_id_card, mask_name, mask_text, sql_mask_name
from workbench.privacy import sql_mask_text, sql_mask_whole
from workbench.readers import Issue, Limits, RawSheet, ReadContext, ReadResult, list_inputs
from workbench.readers import read_file, size_text
from workbench.validate import ACCEPTED_SQL, Validated, type_ledger, typed_expr, validate_ledger
from workbench import warehouse as warehouse_module
from workbench.warehouse import Warehouse

log = logging.getLogger(__name__)

_COUNTY_RE = re.compile(r"(?<![0-9])([0-9]{6})(?![0-9])")
_MONTH_RE = re.compile(r"(?<![0-9])(20[0-9]{2})[-_.年]?(0[1-9]|1[0-2])(?:月)?(?![0-9])")
_YEAR_RE = re.compile(r"(?<![0-9])(20[0-9]{2})(?![0-9])")
ISSUE_COLUMNS = list(ISSUE_HEADERS)
# Rosters: a row refused for a wrong number still names a real county or institution, so the
# other ledgers' rows that point at it are accepted against its code, not held hostage to it.
# A refused row of any other ledger (a case) makes the rows pointing at it wait with it
# (`E_REF_REFUSED`), told as such.
ROSTERS = ("counties", "institutions")
MASK_UDF = "wb_mask_text"
REPORT_ISSUES = 2_000  # findings a report object carries (the summary shows ten; lists show all)
ISSUE_LISTS_DDL = """
CREATE TABLE IF NOT EXISTS issue_lists (
    submission_id VARCHAR, xlsx VARCHAR, csv VARCHAR, written_at TIMESTAMP
)"""
# codes any ledger's validation can produce besides its own rules' codes
_COMMON_CODES = (
    "E_REQUIRED",
    "E_MISSING_COLUMN",
    "E_CODE6",
    "E_NOT_NUMBER",
    "E_NOT_INTEGER",
    "E_NEGATIVE",
    "E_NEGATIVE_MONEY",
    "E_DATE",
    "E_MONTH",
    "E_BOOL",
    "E_ENUM",
    "E_ID_FORMAT",
    "E_ID_CHECKSUM",
    "W_DATE_RANGE",
    "E_MONEY_TOO_LARGE",
    "E_DUPLICATE_KEY",
    "E_COUNTY_MISMATCH",
    "E_REF_REFUSED",
    "W_TOTAL_ROW",
)


@dataclass
class FileOutcome:
    file: str  # as shown: personal data in the name masked
    submission_id: str
    county_code: str
    period: str
    status: str  # code: new | duplicate | unreadable
    ledgers: list[str] = field(default_factory=list)
    rows_in: int = 0
    accepted: int = 0
    quarantined: int = 0
    replaced: list[str] = field(default_factory=list)
    issue_list: list[Path] = field(default_factory=list)  # a duplicate's earlier list
    list_rewritten: bool = False  # …written again now (it was missing)
    received_at: dt.datetime | None = None  # the receipt date declared for it (None: not)


@dataclass
class IngestReport:
    files: list[FileOutcome]
    issues: pd.DataFrame  # the first `REPORT_ISSUES` findings (all of them in the warehouse)
    counts: pd.DataFrame  # ledger, county_code, rows_in, accepted, quarantined
    error_count: int = 0
    warning_count: int = 0
    loose: list[dict] = field(default_factory=list)  # findings that belong to no submission
    report_paths: list[Path] = field(default_factory=list)
    report_error: str | None = None  # why the issue list could not be written

    @property
    def accepted(self) -> dict[str, int]:
        return self.counts.groupby("ledger")["accepted"].sum().astype(int).to_dict()

    @property
    def quarantined(self) -> dict[str, int]:
        return self.counts.groupby("ledger")["quarantined"].sum().astype(int).to_dict()

    @property
    def rows_in(self) -> dict[str, int]:
        return self.counts.groupby("ledger")["rows_in"].sum().astype(int).to_dict()

    @property
    def errors(self) -> pd.DataFrame:
        return self.issues[self.issues["severity"] == "error"]

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    @property
    def new_ids(self) -> list[str]:
        return [f.submission_id for f in self.files if f.status != "duplicate"]

    @property
    def unread(self) -> int:
        """Files named but not read: unreadable ones and those refused before reading."""
        loose = sum(1 for r in self.loose if r["severity"] == "error")
        return loose + sum(1 for f in self.files if f.status == "unreadable")


# ---------------------------------------------------------------- submission identity


def submission_identity(
    name: str, sheets: list[RawSheet], period: str | None = None, con=None
) -> tuple[str, str]:
    """(county, period) of a file: from its name (`330402_某县_2025-09.xlsx`), else its rows."""
    if m := _COUNTY_RE.search(name):
        county = m.group(1)
    else:
        codes: set[str] = set()
        for s in sheets:
            codes.update(s.distinct_values(con, "county_code", limit=2))
        county = codes.pop() if len(codes) == 1 else "多区县"
    if period:
        return county, period
    if m := _MONTH_RE.search(name):
        return county, f"{m.group(1)}-{m.group(2)}"
    if m := _YEAR_RE.search(name):
        return county, m.group(1)
    months: list[str] = []
    for s in sheets:
        lg = LEDGERS[s.ledger]
        if lg.date_field and lg.date_field in s.columns and s.sheet_id:
            f = lg.field(lg.date_field)
            typed = typed_expr(f.type, f'"{f.name}"')
            month = typed if f.type == "month" else f"strftime({typed}, '%Y-%m')"
            got = con.execute(f"SELECT max({month}) FROM ({s.rows_sql()})").fetchall()[0][0]
            if got:
                months.append(got)
    return county, max(months) if months else dt.date.today().strftime("%Y-%m")


def _needs_rows(name: str, period: str | None) -> bool:
    """Whether `submission_identity` has to read a file's rows (its name does not say)."""
    named_period = period or _MONTH_RE.search(name) or _YEAR_RE.search(name)
    return not (_COUNTY_RE.search(name) and named_period)


# ---------------------------------------------------------------- messages (Python side)


def _display_value(lg: Ledger | None, field_name: str, value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if lg is not None and field_name in lg.field_names and lg.field(field_name).personal:
        return (
            str(mask_id_card(value, whole=True))
            if lg.field(field_name).type == "id_card"
            else str(mask_name(value))
        )
    return str(mask_id_card(value))


def issue_message(
    code: str, file: str, sheet: str, row: object, column: str, value: str, **params: object
) -> str:
    where = t("ingest.where.file", file=file)
    if sheet:
        where += t("ingest.where.sheet", sheet=sheet)
    if row is not None and not pd.isna(row):
        where += t("ingest.where.row", row=int(row))
    if column:
        where += t("ingest.where.column", column=column)
    body = t(f"ingest.code.{code}", column=column, value=value, **params)
    return f"{where}：{body}"


def reader_issue_row(issue: Issue) -> dict:
    value = _display_value(None, "", issue.value)
    params = dict(issue.params)
    if issue.code.endswith("MISSING_COLUMN"):
        params["hint"] = t("ingest.hint.similar", hint=params["hint"]) if params.get("hint") else ""
    file, sheet, column = mask_text(issue.file), mask_text(issue.sheet), mask_text(issue.column)
    return {
        "severity": issue.severity,
        "file": file,
        "sheet": sheet,
        "row": issue.row,
        "column": column,
        "value": value,
        "code": issue.code,
        "message": mask_text(
            issue_message(issue.code, file, sheet, issue.row, column, value, **params)
        ),
    }


# ---------------------------------------------------------------- messages (database side)


def _lit(s: str) -> str:
    return "'" + str(s).replace("'", "''") + "'"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_template(key: str, args: Mapping[str, str]) -> str:
    """SQL building message `key` of the catalogue from column expressions: the same Chinese
    text `t(key, …)` gives, for a million rows in one statement."""
    template = catalogue().get(key, key)
    parts: list[str] = []
    for literal, name, _spec, _conv in string.Formatter().parse(template):
        if literal:
            parts.append(_lit(literal))
        if name is not None:
            parts.append(args.get(name, "''"))
    return f"concat({', '.join(parts)})" if parts else "''"


def _shown_sql(lg: Ledger, field_col: str, value_col: str) -> str:
    """A value as a message shows it: a personal field's masked whole, ID numbers starred in
    any other text."""
    whens = " ".join(
        f"WHEN {_lit(f.name)} THEN "
        f"{sql_mask_whole(value_col) if f.type == 'id_card' else sql_mask_name(value_col)}"
        for f in lg.fields
        if f.personal
    )
    other = sql_mask_text(value_col, MASK_UDF)
    return f"CASE {field_col} {whens} ELSE {other} END" if whens else other


def _target_noun(title: str) -> str:
    """案件台账 → 案件, 区县名录 → 区县: what a row of that ledger is called in a message."""
    return title.removesuffix("台账").removesuffix("名录")


def _where_sql(file: str, sheet: str, row: str, column: str | None) -> str:
    parts = [
        sql_template("ingest.where.file", {"file": file}),
        f"CASE WHEN {sheet} <> '' THEN {sql_template('ingest.where.sheet', {'sheet': sheet})} END",
        f"CASE WHEN {row} IS NOT NULL THEN {sql_template('ingest.where.row', {'row': row})} END",
    ]
    if column is not None:
        parts.append(
            f"CASE WHEN {column} <> '' THEN "
            f"{sql_template('ingest.where.column', {'column': column})} END"
        )
    return f"concat({', '.join(parts)})"


def _messages_sql(lg: Ledger) -> str:
    """SELECT turning `t_findings` into issue rows: header as written in the file, value as
    shown, the Chinese message (where + what), the short reason kept with a quarantined row,
    and the field's position (for a stable order)."""
    codes = list(
        dict.fromkeys(
            [
                *_COMMON_CODES,
                *(c.code for c in lg.compares),
                *(r.code for r in lg.required_when),
                *(r.code for r in lg.forbidden),
                *(r.code for r in lg.references),
            ]
        )
    )
    enums = " ".join(
        f"WHEN {_lit(f.name)} THEN {_lit('、'.join(f.enum))}" for f in lg.fields if f.enum
    )
    nouns = " ".join(
        f"WHEN {_lit(n)} THEN {_lit(_target_noun(x.title))}" for n, x in LEDGERS.items()
    )
    args = {
        "column": "coalesce(h.header, '')",
        "value": "v_shown",
        "other": "h2.header",
        "other_value": "o_shown",
        "first_row": "f.other",
        "expected": "s.county_code",
        "allowed": f"CASE f.field {enums} END" if enums else "''",
        "hint": "''",
        "target": f"CASE f.other {nouns} END",
        "target_where": "concat(CASE WHEN rs.file IS DISTINCT FROM s.file THEN "
        + sql_template("ingest.where.file", {"file": "rs.file"})
        + " END, "
        + sql_template("ingest.where.sheet", {"sheet": "rs.sheet"})
        + ", "
        + sql_template("ingest.where.row", {"row": "f.ref_row"})
        + ")",
    }
    body = (
        "CASE f.code "
        + " ".join(f"WHEN {_lit(c)} THEN {sql_template(f'ingest.code.{c}', args)}" for c in codes)
        + " ELSE f.code END"
    )
    where = _where_sql("s.file", "s.sheet", "f._row", "coalesce(h.header, '')")
    column_only = sql_template("ingest.where.column", {"column": "h.header"})
    pos = " ".join(f"WHEN {_lit(f.name)} THEN {i}" for i, f in enumerate(lg.fields))
    return f"""
        SELECT f._sheet, f._row, f.field, f.code, f.severity,
               coalesce(h.header, '') AS header, v_shown AS value,
               concat({where}, '：', {body}) AS message,
               concat(CASE WHEN h.header IS NOT NULL THEN concat({column_only}, '：') END,
                      {body}) AS reason,
               CASE f.field {pos} ELSE -1 END AS pos
        FROM (SELECT *, {_shown_sql(lg, "field", "value")} AS v_shown,
                     {_shown_sql(lg, "other", "other_value")} AS o_shown
              FROM t_findings) f
        JOIN t_sheets_all s ON s._sheet = f._sheet
        LEFT JOIN t_headers h ON h._sheet = f._sheet AND h.field = f.field
        LEFT JOIN t_headers h2 ON h2._sheet = f._sheet AND h2.field = f.other
        LEFT JOIN t_sheets_all rs ON rs._sheet = f.ref_sheet"""


def raw_cells_sql(lg: Ledger) -> str:
    """A refused row's own cells as a JSON array in the contract's field order (a blank cell is
    null), built in the database. Keys are left out on purpose: they would triple the bytes a
    refused row costs, and the order is the ledger's."""
    cols = ", ".join(f"r.{_q(f.name)}" for f in lg.fields)
    return f"CAST(json_array({cols}) AS VARCHAR)"


def raw_cells(lg: Ledger, raw: str) -> dict[str, object]:
    """A quarantined row's cells by the template's headers, from what `raw_cells_sql` stored
    (or, for rows quarantined before, a JSON object already keyed by header)."""
    data = json.loads(raw)
    if isinstance(data, dict):
        return data
    return {f.header: v for f, v in zip(lg.fields, data) if v is not None}


# ---------------------------------------------------------------- the ingest


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


# When the files were received: one date for the batch, or one per file name (a bureau's 收文
# register, the demo's receipt dates); dates as `datetime`/`date` or `YYYY-MM-DD[THH:MM]` text.
ReceivedOn = dt.date | str | Mapping[str, dt.date | str] | None


def ingest_paths(
    paths: list[str | Path],
    warehouse_path: str | Path | None = None,
    period: str | None = None,
    report_dir: str | Path | None = None,
    warehouse: Warehouse | None = None,
    limits: Limits | None = None,
    allow_symlinks: bool = False,
    received_on: ReceivedOn = None,
) -> IngestReport:
    """Ingest files and folders into the warehouse in one transaction; with `report_dir`,
    then write the issue list there (a failure to write it is reported, not raised: the data
    is in).

    `received_on`: when the bureau received the files, for files loaded long after (last
    year's ledgers back-loaded): whether a county reported on time is judged on it instead of
    the load time (`freshness.received_time`). A date in the future, before a file's period or
    malformed raises `ReceivedDateError` (a Chinese message) before anything is written. A
    file already in the warehouse keeps the date it was recorded with."""
    from workbench.config import warehouse_path as resolve

    received = _received_dates(received_on)
    limits = limits or Limits.load()
    own = warehouse is None
    wh = warehouse or Warehouse(resolve(warehouse_path))
    try:
        report = _ingest(wh, paths, period, limits, allow_symlinks, received)
        if report_dir is not None:
            publish_issue_lists(wh, report, Path(report_dir), limits)
    finally:
        if own:
            wh.close()
    return report


def _received_dates(
    received_on: ReceivedOn,
) -> dt.datetime | dict[str, dt.datetime] | None:
    """`received_on` parsed (and refused when in the future) once, before any file is read."""
    if received_on is None:
        return None
    now = dt.datetime.now()
    if isinstance(received_on, Mapping):
        out = {str(name): parse_received(at) for name, at in received_on.items()}
        for name, at in out.items():
            check_received(at, mask_text(Path(name).name), "", now)
        return out
    at = parse_received(received_on)
    check_received(at, "", "", now)
    return at


def _received_for(
    received: dt.datetime | dict[str, dt.datetime] | None, path: Path
) -> dt.datetime | None:
    if isinstance(received, dict):
        return received.get(path.name)
    return received


@contextlib.contextmanager
def _reading(wh: Warehouse, limits: Limits) -> Iterator[ReadContext]:
    """A read context for one batch: a private folder beside the warehouse for the copies
    written while reading (removed after), DuckDB held to its memory limit (it spills to
    disk beyond it), the workbook sandbox closed at the end."""
    con = wh.con
    before, order = con.execute(
        "SELECT current_setting('memory_limit'), current_setting('preserve_insertion_order')"
    ).fetchall()[0]
    con.execute(f"SET memory_limit = '{limits.database_mb(reading=True)}MB'")
    workdir = Path(tempfile.mkdtemp(prefix=_workdir_prefix(wh), dir=wh.path.parent))
    ctx = ReadContext(con, limits, workdir)
    try:
        yield ctx
    finally:
        ctx.close_sandbox()
        shutil.rmtree(workdir, ignore_errors=True)
        with contextlib.suppress(Exception):
            ctx.drop_stages()
            for name in ctx.typed:
                con.execute(
                    f"DROP TABLE IF EXISTS t_typed_{name}; DROP TABLE IF EXISTS t_total_{name}"
                )
            con.execute(f"SET memory_limit = '{before}'")
            con.execute(f"SET preserve_insertion_order = {str(order).lower()}")


def _workdir_prefix(wh: Warehouse) -> str:
    """This warehouse's read folders: another warehouse in the same folder has its own."""
    return f".ingest-{wh.path.name}-"


def sweep(wh: Warehouse) -> None:
    """What an interrupted ingest can leave behind, removed once we hold the write lock: read
    folders, `.part` files, and archived files whose submission was never committed."""
    for stale in wh.path.parent.glob(_workdir_prefix(wh) + "*"):
        shutil.rmtree(stale, ignore_errors=True)
    if not wh.archive_dir.is_dir():
        return
    known = {r[0] for r in wh.con.execute("SELECT submission_id FROM submissions").fetchall()}
    for f in list(wh.archive_dir.rglob("*")):
        if f.is_file() and (f.name.endswith(".part") or f.name.split(".")[0] not in known):
            f.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                f.parent.rmdir()


def _ingest(
    wh: Warehouse,
    paths: list[str | Path],
    period: str | None,
    limits: Limits,
    allow_symlinks: bool,
    received: dt.datetime | dict[str, dt.datetime] | None = None,
) -> IngestReport:
    wh.con.execute(ISSUE_LISTS_DDL)
    sweep(wh)
    files, list_issues = list_inputs(paths, allow_symlinks)
    loose = [reader_issue_row(i) for i in list_issues]
    outcomes: list[FileOutcome] = []
    pending: list[tuple[FileOutcome, ReadResult, Path, bool]] = []
    known = set(
        wh.con.execute("SELECT submission_id FROM submissions")
        .fetchnumpy()["submission_id"]
        .tolist()
    )
    retry: list[str] = []  # files seen before that kept nothing: checked again
    with _reading(wh, limits) as ctx:
        for path in files:
            display = mask_text(path.name)
            sha = _sha256(path)
            size = path.stat().st_size
            if sha in known:
                row = wh.con.execute(
                    "SELECT county_code, period, status, rows_accepted FROM "
                    "submissions WHERE submission_id = ?",
                    [sha],
                ).fetchall()
                row = row[0] if row else None
                # Unreadable last time, or every row refused (e.g. the rosters were missing):
                # the same bytes may pass now, so they are checked again; anything kept is not.
                if row is None or not (row[2] == "无法识别" or (row[2] == "有效" and row[3] == 0)):
                    outcomes.append(
                        FileOutcome(
                            display, sha, row[0] if row else "", row[1] if row else "", "duplicate"
                        )
                    )
                    continue
                retry.append(sha)
            known.add(sha)
            keep_bytes = size <= limits.bytes("file_mb")
            if keep_bytes:
                result = read_file(path, display, ctx)
            else:  # refused unread: only its size and hash are recorded
                issue = Issue(
                    "E_FILE_TOO_LARGE",
                    display,
                    params={"size": size_text(size), "limit": size_text(limits.bytes("file_mb"))},
                )
                result = ReadResult(path, [], [issue])
            if _needs_rows(path.name, period):
                ctx.flush()  # who sent it is read from its rows: they must be in the table
            county, per = submission_identity(path.name, result.sheets, period, ctx.con)
            if title := feedback_list_of(path.name):
                # a returned screening list updates leads; tagging its period keeps it out of
                # the county's monthly replacement group (see contracts.LEAD_FEEDBACK_LISTS)
                per = f"{per}·{title}"
            out = FileOutcome(
                display,
                sha,
                county,
                per,
                "new" if result.sheets else "unreadable",
                ledgers=sorted({s.ledger for s in result.sheets}, key=list(LEDGERS).index),
                received_at=_received_for(received, path),
            )
            if out.received_at is not None:  # refused before anything is written
                check_received(out.received_at, display, per)
            outcomes.append(out)
            pending.append((out, result, path, keep_bytes))
            if not result.sheets and not any(i.severity == "error" for i in result.issues):
                result.issues.append(Issue("E_NO_LEDGER", display))
        ctx.flush()
        ctx.close_sandbox()  # its memory is free before the database work starts…
        ctx.con.execute(f"SET memory_limit = '{limits.database_mb(reading=False)}MB'")  # …for it
        # From here no table's row order carries meaning (CSV rows were numbered as loaded):
        # DuckDB may write in parallel.
        ctx.con.execute("SET preserve_insertion_order = false")
        for lg in LEDGERS.values():  # typed before the transaction; the text is then dropped
            sheets = [raw for _out, result, _p, _k in pending for raw in result.sheets]
            mine = [raw for raw in sheets if raw.ledger == lg.name]
            if mine:
                type_ledger(ctx.con, lg, [(raw.sheet_id, raw) for raw in mine])
                ctx.drop_ledger(lg.name, mine)
                ctx.typed.append(lg.name)
        counts = _write_all(wh, pending, retry)
    report = IngestReport(outcomes, pd.DataFrame(columns=ISSUE_COLUMNS), _count_frame(counts))
    report.loose = loose
    _fill_issues(wh, report, REPORT_ISSUES)
    return report


def _count_frame(counts: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(
        counts, columns=["ledger", "county_code", "rows_in", "accepted", "quarantined"]
    )
    if frame.empty:
        return frame
    return frame.groupby(["ledger", "county_code"], as_index=False, sort=False).sum()


def _fill_issues(wh: Warehouse, report: IngestReport, limit: int) -> None:
    """The report's issue frame (loose findings, then the batch's, up to `limit`) and counts."""
    con = wh.con
    ids = report.new_ids
    con.execute("CREATE OR REPLACE TEMP TABLE t_report_subs (submission_id VARCHAR, ord INTEGER)")
    if ids:
        con.executemany(
            "INSERT INTO t_report_subs VALUES (?, ?)", [(s, i) for i, s in enumerate(ids)]
        )
    src = "ingest_issues i JOIN t_report_subs USING (submission_id)"
    rows = con.execute(
        f"SELECT severity, file, sheet, row_number, column_header, value, code, message "
        f"FROM (SELECT i.*, ord, i.rowid AS rid FROM {src}) ORDER BY {ISSUE_ORDER} "
        f"LIMIT {int(limit)}"
    ).fetchall()
    errors, warnings = con.execute(
        f"SELECT count(*) FILTER (WHERE severity = 'error'), "
        f"count(*) FILTER (WHERE severity = 'warning') FROM {src}"
    ).fetchall()[0]
    con.execute("DROP TABLE t_report_subs")
    frame = pd.DataFrame(
        [[r[k] for k in ISSUE_COLUMNS] for r in report.loose] + [list(r) for r in rows],
        columns=ISSUE_COLUMNS,
    )
    frame["row"] = frame["row"].astype("Int64")
    report.issues = frame
    report.error_count = errors + sum(r["severity"] == "error" for r in report.loose)
    report.warning_count = warnings + sum(r["severity"] == "warning" for r in report.loose)


def _archive(wh: Warehouse, out: FileOutcome, path: Path, created: list[Path]) -> bytes | None:
    """A submitted file's bytes kept: small files in `submissions.content` (returned), big
    ones copied beside the database as a stream (`.part`, then renamed)."""
    if path.stat().st_size <= warehouse_module.INLINE_ARCHIVE_MAX:
        return path.read_bytes()
    target = wh.archive_path(out.submission_id, out.file)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + ".part")
        try:
            shutil.copyfile(path, part)
            os.replace(part, target)
        except BaseException:
            part.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                target.parent.rmdir()  # only if this left it empty
            raise
        created.append(target)
    return None


def _write_all(
    wh: Warehouse,
    pending: list[tuple[FileOutcome, ReadResult, Path, bool]],
    retry: Sequence[str] = (),
) -> list[dict]:
    """The transaction: validate and write every ledger in dependency order, each ledger's
    sheets from every file of the batch together. `retry`: earlier submissions of the same
    bytes that kept nothing, whose records this attempt replaces."""
    import duckdb

    created: list[Path] = []  # archived in this attempt: removed again if it fails
    counts: list[dict] = []
    now = dt.datetime.now().replace(microsecond=0)
    sheets: dict[int, RawSheet] = {}
    owner: dict[int, tuple[int, FileOutcome]] = {}  # sheet id → (file order, outcome)
    for order, (out, result, _path, _keep) in enumerate(pending):
        for raw in result.sheets:
            sheets[raw.sheet_id] = raw
            owner[raw.sheet_id] = (order, out)
    con = wh.con
    con.execute("SELECT 1").fetchall()  # a half-read result would block registering the UDF
    with contextlib.suppress(duckdb.Error):
        con.remove_function(MASK_UDF)
    con.create_function(MASK_UDF, mask_text, ["VARCHAR"], "VARCHAR", side_effects=False)
    try:
        with wh.transaction() as con:
            for sid in retry:
                for table in ("quarantine", "ingest_issues", "submissions", "issue_lists"):
                    con.execute(f"DELETE FROM {table} WHERE submission_id = ?", [sid])
            for out, _result, path, keep in pending:
                content = _archive(wh, out, path, created) if keep else None
                con.execute(
                    "INSERT INTO submissions (submission_id, file_name, county_code, period, "
                    "ingested_at, size_bytes, content, rows_total, rows_accepted, "
                    "rows_quarantined, status, replaced_by, received_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, 0, ?, NULL, ?)",
                    [
                        out.submission_id,
                        out.file,
                        out.county_code,
                        out.period,
                        now,
                        path.stat().st_size,
                        content,
                        "有效" if out.status == "new" else "无法识别",
                        out.received_at,
                    ],
                )
            _insert_reader_issues(con, pending)
            _register_sheets(con, owner, sheets)
            con.execute(
                "CREATE OR REPLACE TEMP TABLE t_refused (ledger VARCHAR, field VARCHAR, "
                "k VARCHAR, _sheet INTEGER, _row BIGINT, key_ok BOOLEAN)"
            )
            targets = {(r.target, r.target_field) for lg in LEDGERS.values() for r in lg.references}
            written: list[str] = []
            for lg in LEDGERS.values():
                batch = [(sid, raw) for sid, raw in sheets.items() if raw.ledger == lg.name]
                if not batch:
                    continue
                refs, refused = _reference_sql(lg)
                county_of = {sid: owner[sid][1].county_code for sid, _raw in batch}
                v = validate_ledger(con, lg, batch, refs, county_of, refused)
                con.execute(
                    "CREATE OR REPLACE TEMP TABLE t_sheets AS SELECT * FROM t_sheets_all "
                    "WHERE ledger = ?",
                    [lg.name],
                )
                _write_accepted(con, lg)
                _write_findings(con, lg, dict(batch), v)
                _remember_refused(con, lg, [f for t_, f in targets if t_ == lg.name])
                counts.extend(_county_counts(con, lg))
                _tally(con, {sid: owner[sid] for sid, _raw in batch})
                _replace_earlier(con, lg, {sid: owner[sid] for sid, _raw in batch}, now)
                written.append(lg.name)
            wh.refresh_current(written)  # which rows are current, decided once, here
            for out, _result, _path, _keep in pending:
                con.execute(
                    "UPDATE submissions SET rows_total = ?, rows_accepted = ?, "
                    "rows_quarantined = ? WHERE submission_id = ?",
                    [out.rows_in, out.accepted, out.quarantined, out.submission_id],
                )
            con.execute(
                "DROP VIEW IF EXISTS t_raw; DROP VIEW IF EXISTS t_typed; "
                "DROP TABLE IF EXISTS t_bad; DROP TABLE IF EXISTS t_sheets; "
                "DROP TABLE IF EXISTS t_findings; "
                "DROP VIEW IF EXISTS t_total; DROP TABLE IF EXISTS t_headers; "
                "DROP TABLE IF EXISTS t_refused; DROP TABLE IF EXISTS t_sheets_all"
            )
    except BaseException:
        for f in created:
            f.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                f.parent.rmdir()
        raise
    finally:
        with contextlib.suppress(Exception):
            con.remove_function(MASK_UDF)
    return counts


def _reference_sql(lg: Ledger) -> tuple[dict[str, str], dict[str, str]]:
    """For each reference of `lg`: the keys that exist (accepted rows; for a roster also the
    valid codes of its rows refused in this batch) and the keys of rows refused in it."""
    refs: dict[str, str] = {}
    refused: dict[str, str] = {}
    for ref in lg.references:
        key = f"{ref.target}.{ref.target_field}"
        in_batch = (
            f"FROM t_refused WHERE ledger = {_lit(ref.target)} AND field = {_lit(ref.target_field)}"
        )
        refs[key] = f'SELECT "{ref.target_field}" AS k FROM "{ref.target}"'
        if ref.target in ROSTERS:
            refs[key] += f" UNION ALL SELECT k {in_batch} AND key_ok"
        else:
            refused[key] = f"SELECT k, _sheet, _row {in_batch}"
    return refs, refused


def _insert_reader_issues(con, pending: list) -> None:
    rows = [
        {**reader_issue_row(issue), "submission_id": out.submission_id}
        for out, result, _path, _keep in pending
        for issue in result.issues
    ]
    if not rows:
        return
    frame = pd.DataFrame(rows, columns=["submission_id", *ISSUE_COLUMNS])
    frame["row"] = frame["row"].astype("Int64")
    con.register("v_issues", frame)
    try:
        con.execute(
            "INSERT INTO ingest_issues (submission_id, severity, file, sheet, row_number, "
            "column_header, value, code, message) SELECT submission_id, severity, file, sheet, "
            'row, "column", value, code, message FROM v_issues'
        )
    finally:
        con.unregister("v_issues")


def _register_sheets(
    con, owner: dict[int, tuple[int, FileOutcome]], sheets: dict[int, RawSheet]
) -> None:
    """Every sheet of the batch (`t_sheets_all`) and the header each field has in it
    (`t_headers`; the template's when the sheet lacks the column)."""
    frame = pd.DataFrame(
        [
            {
                "_sheet": sid,
                "_order": order,
                "ledger": sheets[sid].ledger,
                "submission_id": out.submission_id,
                "county_code": out.county_code,
                "period": out.period,
                "file": sheets[sid].file,
                "sheet": mask_text(sheets[sid].sheet),
            }
            for sid, (order, out) in owner.items()
        ],
        columns=["_sheet", "_order", "ledger", "submission_id", "county_code", "period"]
        + ["file", "sheet"],
    )
    headers = pd.DataFrame(
        [
            {"_sheet": sid, "field": f.name, "header": raw.headers.get(f.name) or f.header}
            for sid, raw in sheets.items()
            for f in LEDGERS[raw.ledger].fields
        ],
        columns=["_sheet", "field", "header"],
    )
    con.register("v_sheets", frame.astype({"_sheet": "int32", "_order": "int64"}))
    con.register("v_headers", headers.astype({"_sheet": "int32"}))
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE t_sheets_all AS SELECT * FROM v_sheets")
        con.execute("CREATE OR REPLACE TEMP TABLE t_headers AS SELECT * FROM v_headers")
    finally:
        con.unregister("v_sheets")
        con.unregister("v_headers")


def _write_accepted(con, lg: Ledger) -> None:
    cols = ", ".join(f'"{f}"' for f in lg.field_names)
    a_cols = ", ".join(f'a."{f}"' for f in lg.field_names)
    con.execute(
        f'INSERT INTO "{lg.name}" ({cols}, _submission_id, _period, _file, _sheet, _source_row, '
        f"_extra) SELECT {a_cols}, s.submission_id, s.period, s.file, s.sheet, a._row, a._extra "
        f"FROM ({ACCEPTED_SQL}) a JOIN t_sheets s USING (_sheet)"
    )


def _write_findings(con, lg: Ledger, sheets: dict[int, RawSheet], v: Validated) -> None:
    """Findings → `ingest_issues` (with their Chinese messages), and refused rows with their
    cells and every reason → `quarantine`: a few statements, whatever the number of rows."""
    if not (v.errors or v.warnings):
        return
    msgs = _messages_sql(lg)
    con.execute(
        "INSERT INTO ingest_issues (submission_id, severity, file, sheet, row_number, "
        "column_header, value, code, message) SELECT s.submission_id, m.severity, s.file, "
        f"s.sheet, m._row, m.header, m.value, m.code, m.message FROM ({msgs}) m "
        "JOIN t_sheets s USING (_sheet)"
    )
    if v.rows_accepted == v.rows_in:
        return
    # Most refused rows have one reason: they take it as it is; only rows with several pay for
    # an ordered aggregate. Nothing is materialised on the way.
    errors = f"SELECT * FROM ({msgs}) WHERE severity = 'error'"
    reasons = (
        f"SELECT m._sheet, m._row, m.reason AS reasons, m.code AS codes FROM ({errors}) m "
        f"SEMI JOIN (SELECT _sheet, _row FROM t_bad WHERE n = 1) USING (_sheet, _row) "
        f"UNION ALL "
        f"SELECT _sheet, _row, string_agg(reason, '；' ORDER BY pos, code), "
        f"string_agg(DISTINCT code, ',' ORDER BY code) FROM ({errors}) "
        f"SEMI JOIN (SELECT _sheet, _row FROM t_bad WHERE n > 1) USING (_sheet, _row) "
        f"GROUP BY _sheet, _row"
    )
    con.execute(
        f"""INSERT INTO quarantine (submission_id, ledger, file, sheet, row_number, reasons,
                codes, raw)
            SELECT s.submission_id, {_lit(lg.name)}, s.file, s.sheet, r._row, m.reasons,
                   m.codes, {raw_cells_sql(lg)}
            FROM t_raw r JOIN ({reasons}) m USING (_sheet, _row)
            JOIN t_sheets s USING (_sheet)"""
    )


def _remember_refused(con, lg: Ledger, fields: list[str]) -> None:
    """Keys of this ledger's refused rows that later ledgers refer to, with whether the key
    itself is sound (no error of its own but a duplicate)."""
    for f in fields:
        con.execute(
            f"""INSERT INTO t_refused
                SELECT {_lit(lg.name)}, {_lit(f)}, CAST(t.{_q(f)} AS VARCHAR), t._sheet, t._row,
                       NOT EXISTS (SELECT 1 FROM t_findings x WHERE x._sheet = t._sheet
                                   AND x._row = t._row AND x.field = {_lit(f)}
                                   AND x.severity = 'error' AND x.code <> 'E_DUPLICATE_KEY')
                FROM t_typed t SEMI JOIN t_bad USING (_sheet, _row)
                WHERE t.{_q(f)} IS NOT NULL"""
        )


def _county_counts(con, lg: Ledger) -> list[dict]:
    county = "coalesce(county_code, '（空）')" if "county_code" in lg.field_names else "''"
    rows = con.execute(
        f"SELECT {county}, count(*), count(*) FILTER (WHERE b._row IS NULL) "
        f"FROM t_raw r LEFT JOIN t_bad b USING (_sheet, _row) GROUP BY 1"
    ).fetchall()
    return [
        {"ledger": lg.name, "county_code": c, "rows_in": n, "accepted": a, "quarantined": n - a}
        for c, n, a in rows
    ]


def _tally(con, owner: dict[int, tuple[int, FileOutcome]]) -> None:
    rows = con.execute(
        "SELECT _sheet, count(*), count(*) FILTER (WHERE b._row IS NULL) "
        "FROM t_raw r LEFT JOIN t_bad b USING (_sheet, _row) GROUP BY 1"
    ).fetchall()
    for sid, n, a in rows:
        out = owner[sid][1]
        out.rows_in += n
        out.accepted += a
        out.quarantined += n - a


def _replace_earlier(
    con, lg: Ledger, owner: dict[int, tuple[int, FileOutcome]], now: dt.datetime
) -> None:
    """Per county and period, only the newest submission's rows of this ledger stay: a
    corrected resubmission replaces earlier rows (earlier ingests, or earlier in this batch).
    A submission none of whose rows of this ledger was accepted (a blank template, a file
    whose every row failed) replaces nothing: what is in the warehouse stays until a file
    with rows to keep arrives."""
    rows = con.execute(
        f"""SELECT s.submission_id, s.county_code, s.period, coalesce(o._order, -1) AS ord,
                   (SELECT count(*) FROM "{lg.name}" l WHERE l._submission_id = s.submission_id)
            FROM submissions s
            JOIN (SELECT DISTINCT county_code, period FROM t_sheets) p USING (county_code, period)
            LEFT JOIN (SELECT DISTINCT submission_id, _order FROM t_sheets) o USING (submission_id)
            WHERE s.submission_id IN (SELECT _submission_id FROM "{lg.name}"
                                      UNION SELECT submission_id FROM quarantine WHERE ledger = ?)
               OR o._order IS NOT NULL""",
        [lg.name],
    ).fetchall()
    groups: dict[tuple[str, str], list[tuple]] = {}
    for sid, county, period, order, n in rows:
        groups.setdefault((county, period), []).append((order, sid, n))
    outcomes = {out.submission_id: out for _order, out in owner.values()}
    for (county, period), subs in groups.items():
        subs.sort()
        keeping = [i for i, (_o, _s, n) in enumerate(subs) if n > 0]
        if not keeping:
            continue
        winner = subs[keeping[-1]][1]
        for _order, old, n in subs[: keeping[-1]]:
            con.execute(f'DELETE FROM "{lg.name}" WHERE _submission_id = ?', [old])
            con.execute(
                "DELETE FROM quarantine WHERE submission_id = ? AND ledger = ?", [old, lg.name]
            )
            con.execute(
                "INSERT INTO replacements VALUES (?, ?, ?, ?, ?, ?)",
                [old, winner, county, period, now, n],
            )
            left = sum(
                con.execute(
                    f'SELECT count(*) FROM "{other}" WHERE _submission_id = ?', [old]
                ).fetchall()[0][0]
                for other in LEDGERS
            )
            con.execute(
                "UPDATE submissions SET status = ?, replaced_by = ? WHERE submission_id = ?",
                ["已被替换" if left == 0 else "部分替换", winner, old],
            )
            if winner in outcomes and old not in outcomes[winner].replaced:
                outcomes[winner].replaced.append(old)


# ---------------------------------------------------------------- issue lists


def _record_list(wh: Warehouse, ids: Sequence[str], paths: list[Path]) -> None:
    xlsx = next((str(p.resolve()) for p in paths if p.suffix == ".xlsx"), None)
    csvs = "\n".join(str(p.resolve()) for p in paths if p.suffix == ".csv")
    now = dt.datetime.now().replace(microsecond=0)
    wh.con.executemany(
        "INSERT INTO issue_lists VALUES (?, ?, ?, ?)", [(sid, xlsx, csvs, now) for sid in ids]
    )


def recorded_list(wh: Warehouse, submission_id: str) -> list[Path]:
    """The issue list last written for a submission, if its files are all still there."""
    try:
        row = wh.con.execute(
            "SELECT xlsx, csv FROM issue_lists WHERE submission_id = ? "
            "ORDER BY written_at DESC LIMIT 1",
            [submission_id],
        ).fetchall()
    except Exception:  # noqa: BLE001 - a warehouse from before issue lists were recorded
        return []
    row = row[0] if row else None
    if row is None:
        return []
    paths = [Path(p) for p in [row[0], *(row[1] or "").split("\n")] if p]
    return paths if paths and all(p.exists() for p in paths) else []


def issue_list_for(
    wh: Warehouse, submission_ids: Sequence[str], out_dir: Path, limits: Limits | None = None
) -> list[Path]:
    """Write (again) the issue list of past submissions from what the warehouse recorded."""
    limits = limits or Limits.load()
    wh.con.execute(ISSUE_LISTS_DDL)
    paths = write_issue_list(wh.con, out_dir, submission_ids, (), limits.issue_rows)
    _record_list(wh, submission_ids, paths)
    return paths


def failure_reason(exc: BaseException) -> str | None:
    """A full disk, however it surfaced (an OSError, or DuckDB writing its files)."""
    import errno

    if (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "No space left" in str(exc):
        return t("ingest.reason.disk_full")
    if isinstance(exc, ReceivedDateError):
        return str(exc)
    return None


def publish_issue_lists(wh: Warehouse, report: IngestReport, out_dir: Path, limits: Limits) -> None:
    """After the commit: the batch's issue list, and for each file skipped as already ingested
    the list it had (written again if it is missing — an ingest killed after its commit never
    wrote one). A failure is recorded in `report.report_error` with the way to retry."""
    from workbench.errors import describe

    try:
        if report.new_ids or report.loose:
            report.report_paths = write_issue_list(
                wh.con, out_dir, report.new_ids, report.loose, limits.issue_rows
            )
            if report.new_ids:
                _record_list(wh, report.new_ids, report.report_paths)
        for out in report.files:
            if out.status != "duplicate":
                continue
            out.issue_list = recorded_list(wh, out.submission_id)
            has_issues = wh.con.execute(
                "SELECT count(*) FROM ingest_issues WHERE submission_id = ?", [out.submission_id]
            ).fetchall()[0][0]
            if not out.issue_list and has_issues:
                out.issue_list = issue_list_for(wh, [out.submission_id], out_dir, limits)
                out.list_rewritten = True
    except Exception as exc:  # noqa: BLE001 - the data is committed; say what to do
        log.debug("issue list not written", exc_info=True)
        report.report_error = failure_reason(exc) or describe(exc) or f"{type(exc).__name__}: {exc}"
