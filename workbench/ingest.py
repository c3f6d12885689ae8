"""Ingest: submitted files → validated ledger rows in the warehouse, or quarantine with reasons.

One call is one transaction: files are read first (outside it), then every ledger is validated
and written in dependency order (counties before cases before leads), so cross-ledger rules see
rows from the same batch. Any failure rolls the warehouse back to how it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from workbench.contracts import LEDGERS, Ledger, feedback_list_of
from workbench.messages import t
from workbench.privacy import excel_safe_frame, mask_id_card, mask_name
from workbench.readers import Issue, RawSheet, ReadResult, list_inputs, read_file
from workbench.validate import ACCEPTED_SQL, Validated, validate_ledger
from workbench.warehouse import Warehouse

log = logging.getLogger(__name__)

_COUNTY_RE = re.compile(r"(?<![0-9])([0-9]{6})(?![0-9])")
_MONTH_RE = re.compile(r"(?<![0-9])(20[0-9]{2})[-_.年]?(0[1-9]|1[0-2])(?:月)?(?![0-9])")
_YEAR_RE = re.compile(r"(?<![0-9])(20[0-9]{2})(?![0-9])")
ISSUE_COLUMNS = ["severity", "file", "sheet", "row", "column", "value", "code", "message"]


@dataclass
class FileOutcome:
    file: str
    submission_id: str
    county_code: str
    period: str
    status: str  # code: new | duplicate | unreadable | replaced_earlier
    ledgers: list[str] = field(default_factory=list)
    rows_in: int = 0
    accepted: int = 0
    quarantined: int = 0
    replaced: list[str] = field(default_factory=list)


@dataclass
class IngestReport:
    files: list[FileOutcome]
    issues: pd.DataFrame
    counts: pd.DataFrame  # ledger, county_code, rows_in, accepted, quarantined
    report_paths: list[Path] = field(default_factory=list)

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
        return self.errors.empty


# ---------------------------------------------------------------- submission identity


def submission_identity(
    name: str, sheets: list[RawSheet], period: str | None = None
) -> tuple[str, str]:
    """(county, period) of a file: from its name (`330402_某县_2025-09.xlsx`), else its rows."""
    county = ""
    if m := _COUNTY_RE.search(name):
        county = m.group(1)
    else:
        codes: set[str] = set()
        for s in sheets:
            codes.update(s.column_values("county_code").astype(str).unique().tolist())
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
        if lg.date_field and lg.date_field in s.columns:
            vals = pd.to_datetime(s.column_values(lg.date_field), errors="coerce", format="mixed")
            if vals.notna().any():
                months.append(vals.max().strftime("%Y-%m"))
    return county, max(months) if months else dt.date.today().strftime("%Y-%m")


# ---------------------------------------------------------------- messages


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
    return {
        "severity": issue.severity,
        "file": issue.file,
        "sheet": issue.sheet,
        "row": issue.row,
        "column": issue.column,
        "value": value,
        "code": issue.code,
        "message": issue_message(
            issue.code, issue.file, issue.sheet, issue.row, issue.column, value, **params
        ),
    }


def _raw_rows(con, keys: pd.DataFrame) -> pd.DataFrame:
    """The text of some rows of t_raw, indexed by (_sheet, _row)."""
    con.register(
        "v_keys",
        keys[["_sheet", "_row"]].drop_duplicates().astype({"_sheet": "int32", "_row": "int64"}),
    )
    try:
        return (
            con.execute("SELECT r.* FROM t_raw r SEMI JOIN v_keys USING (_sheet, _row)")
            .df()
            .set_index(["_sheet", "_row"])
        )
    finally:
        con.unregister("v_keys")


def finding_rows(
    con,
    sheets: dict[int, RawSheet],
    lg: Ledger,
    v: Validated,
    sheet_county: Mapping[int, str] | None = None,
) -> pd.DataFrame:
    """Findings (sheet, row, field, code) → issue rows with the header as written in the file,
    the value (personal data masked) and the Chinese message. Carries `_sheet` along;
    `sheet_county` is each sheet's county (from its file name), for E_COUNTY_MISMATCH."""
    sheet_county = sheet_county or {}
    f = v.findings
    if f.empty:
        return pd.DataFrame(columns=[*ISSUE_COLUMNS, "_sheet"])
    raw = _raw_rows(con, f)
    values = raw.to_dict("index")
    out = []
    for rec in f.itertuples(index=False):
        sheet = sheets[rec._0]
        row = int(rec._1)
        cells = values.get((rec._0, row), {})
        header = sheet.headers.get(rec.field) or lg.field(rec.field).header
        shown = _display_value(lg, rec.field, cells.get(rec.field))
        params: dict[str, object] = {}
        if rec.code == "E_DUPLICATE_KEY":
            params["first_row"] = rec.other
        elif rec.code == "E_COUNTY_MISMATCH":
            params["expected"] = sheet_county.get(rec._0, "")
        elif isinstance(rec.other, str) and rec.other:
            params.update(
                other=sheet.headers.get(rec.other) or lg.field(rec.other).header,
                other_value=_display_value(lg, rec.other, cells.get(rec.other)),
            )
        if rec.code == "E_ENUM":
            params["allowed"] = "、".join(lg.field(rec.field).enum)
        elif rec.code == "E_MISSING_COLUMN":
            params["hint"] = ""  # the sheet-level finding already suggests a similar header
        out.append(
            {
                "severity": rec.severity,
                "file": sheet.file,
                "sheet": sheet.sheet,
                "row": row,
                "column": header,
                "value": shown,
                "code": rec.code,
                "message": issue_message(
                    rec.code, sheet.file, sheet.sheet, row, header, shown, **params
                ),
                "_sheet": rec._0,
            }
        )
    return pd.DataFrame(out, columns=[*ISSUE_COLUMNS, "_sheet"])


# ---------------------------------------------------------------- the ingest


def _sha256(path: Path) -> tuple[str, bytes]:
    data = path.read_bytes()
    return hashlib.sha256(data).hexdigest(), data


def ingest_paths(
    paths: list[str | Path],
    warehouse_path: str | Path | None = None,
    period: str | None = None,
    report_dir: str | Path | None = None,
    warehouse: Warehouse | None = None,
) -> IngestReport:
    """Ingest files and folders into the warehouse in one transaction."""
    from workbench.config import warehouse_path as resolve

    own = warehouse is None
    wh = warehouse or Warehouse(resolve(warehouse_path))
    try:
        report = _ingest(wh, paths, period)
    finally:
        if own:
            wh.close()
    if report_dir is not None:
        report.report_paths = write_issue_report(report, Path(report_dir))
    return report


def _ingest(wh: Warehouse, paths: list[str | Path], period: str | None) -> IngestReport:
    files, list_issues = list_inputs(paths)
    issue_rows: list[dict] = [reader_issue_row(i) for i in list_issues]
    outcomes: list[FileOutcome] = []
    pending: list[tuple[FileOutcome, ReadResult, bytes]] = []
    known = set(
        wh.con.execute("SELECT submission_id FROM submissions")
        .fetchnumpy()["submission_id"]
        .tolist()
    )
    retry: list[str] = []  # files seen before that kept nothing: checked again
    for path in files:
        sha, data = _sha256(path)
        if sha in known:
            row = wh.con.execute(
                "SELECT county_code, period, status, rows_accepted FROM "
                "submissions WHERE submission_id = ?",
                [sha],
            ).fetchone()
            # Unreadable last time, or every row refused (e.g. the rosters were missing): the
            # same bytes may pass now, so they are checked again; anything kept is not.
            if row is None or not (row[2] == "无法识别" or (row[2] == "有效" and row[3] == 0)):
                outcomes.append(
                    FileOutcome(
                        path.name, sha, row[0] if row else "", row[1] if row else "", "duplicate"
                    )
                )
                continue
            retry.append(sha)
        known.add(sha)
        result = read_file(path, path.name)
        county, per = submission_identity(path.name, result.sheets, period)
        if title := feedback_list_of(path.name):
            # a returned screening list updates leads; tagging its period keeps it out of the
            # county's monthly replacement group (see contracts.LEAD_FEEDBACK_LISTS)
            per = f"{per}·{title}"
        out = FileOutcome(
            path.name,
            sha,
            county,
            per,
            "new" if result.sheets else "unreadable",
            ledgers=sorted({s.ledger for s in result.sheets}, key=list(LEDGERS).index),
        )
        outcomes.append(out)
        pending.append((out, result, data))
        if not result.sheets and not any(i.severity == "error" for i in result.issues):
            result.issues.append(Issue("E_NO_LEDGER", path.name))
        issue_rows.extend(reader_issue_row(i) for i in result.issues)

    try:
        issues, counts = _write_all(wh, pending, outcomes, issue_rows, retry)
    finally:
        for _out, result, _data in pending:
            for raw in result.sheets:
                raw.cleanup()

    count_frame = pd.DataFrame(
        counts, columns=["ledger", "county_code", "rows_in", "accepted", "quarantined"]
    )
    if not count_frame.empty:
        count_frame = count_frame.groupby(
            ["ledger", "county_code"], as_index=False, sort=False
        ).sum()
    return IngestReport(outcomes, issues, count_frame)


def _write_all(
    wh: Warehouse,
    pending: list,
    outcomes: list[FileOutcome],
    issue_rows: list[dict],
    retry: Sequence[str] = (),
) -> tuple[pd.DataFrame, list[dict]]:
    """The transaction: validate and write every ledger in dependency order, each ledger's
    sheets from every file of the batch together. `retry`: earlier submissions of the same
    bytes that kept nothing, whose records this attempt replaces."""
    counts: list[dict] = []
    now = dt.datetime.now().replace(microsecond=0)
    with wh.transaction() as con:
        for sid in retry:
            for table in ("quarantine", "ingest_issues", "submissions"):
                con.execute(f"DELETE FROM {table} WHERE submission_id = ?", [sid])
        for out, _result, data in pending:
            content = wh.archive_file(out.submission_id, out.file, data)
            con.execute(
                "INSERT INTO submissions VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, 0, ?, NULL)",
                [
                    out.submission_id,
                    out.file,
                    out.county_code,
                    out.period,
                    now,
                    len(data),
                    content,
                    "有效" if out.status == "new" else "无法识别",
                ],
            )
        refs = {
            f"{lg.name}.{f}": f'SELECT "{f}" AS k FROM "{lg.name}"'
            for lg in LEDGERS.values()
            for f in lg.key
            if len(lg.key) == 1 or f == lg.key[0]
        }
        sheet_id = 0
        written: list[str] = []
        for lg in LEDGERS.values():
            batch: list[tuple[int, RawSheet]] = []
            owner: dict[int, tuple[int, FileOutcome]] = {}  # sheet id → (file order, outcome)
            for order, (out, result, _data) in enumerate(pending):
                for raw in (s for s in result.sheets if s.ledger == lg.name):
                    sheet_id += 1
                    batch.append((sheet_id, raw))
                    owner[sheet_id] = (order, out)
            if not batch:
                continue
            v = validate_ledger(
                con, lg, batch, refs, {sid: out.county_code for sid, (_o, out) in owner.items()}
            )
            _register_sheets(con, owner, dict(batch))
            _write_accepted(con, lg)
            issue_frame = finding_rows(
                con, dict(batch), lg, v, {sid: out.county_code for sid, (_o, out) in owner.items()}
            )
            issue_rows.extend(issue_frame.drop(columns="_sheet").to_dict("records"))
            _write_quarantine(con, lg, issue_frame)
            counts.extend(_county_counts(con, lg))
            _tally(con, owner)
            _replace_earlier(con, lg, owner, now)
            written.append(lg.name)
        wh.refresh_current(written)  # which rows are current, decided once, here
        for out, _result, _data in pending:
            con.execute(
                "UPDATE submissions SET rows_total = ?, rows_accepted = ?, "
                "rows_quarantined = ? WHERE submission_id = ?",
                [out.rows_in, out.accepted, out.quarantined, out.submission_id],
            )
        issues = pd.DataFrame(issue_rows, columns=ISSUE_COLUMNS)
        if not issues.empty:
            sub_of = {o.file: o.submission_id for o in outcomes}
            frame = issues.assign(submission_id=issues["file"].map(sub_of))
            frame["row"] = frame["row"].astype("Int64")
            con.register("v_issues", frame)
            con.execute(
                "INSERT INTO ingest_issues SELECT submission_id, severity, file, sheet, "
                'row, "column", value, code, message FROM v_issues'
            )
            con.unregister("v_issues")
        con.execute(
            "DROP VIEW IF EXISTS t_raw; DROP TABLE IF EXISTS t_typed; "
            "DROP TABLE IF EXISTS t_bad; DROP TABLE IF EXISTS t_sheets"
        )
    return issues, counts


def _register_sheets(
    con, owner: dict[int, tuple[int, FileOutcome]], sheets: dict[int, RawSheet]
) -> None:
    frame = pd.DataFrame(
        [
            {
                "_sheet": sid,
                "_order": order,
                "submission_id": out.submission_id,
                "county_code": out.county_code,
                "period": out.period,
                "file": sheets[sid].file,
                "sheet": sheets[sid].sheet,
            }
            for sid, (order, out) in owner.items()
        ]
    )
    con.register("v_sheets", frame.astype({"_sheet": "int32", "_order": "int64"}))
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE t_sheets AS SELECT * FROM v_sheets")
    finally:
        con.unregister("v_sheets")


def _write_accepted(con, lg: Ledger) -> None:
    cols = ", ".join(f'"{f}"' for f in lg.field_names)
    a_cols = ", ".join(f'a."{f}"' for f in lg.field_names)
    con.execute(
        f'INSERT INTO "{lg.name}" ({cols}, _submission_id, _period, _file, _sheet, _source_row, '
        f"_extra) SELECT {a_cols}, s.submission_id, s.period, s.file, s.sheet, a._row, a._extra "
        f"FROM ({ACCEPTED_SQL}) a JOIN t_sheets s USING (_sheet)"
    )


def _write_quarantine(con, lg: Ledger, issues: pd.DataFrame) -> None:
    """Rejected rows, with their raw text and every reason, into the quarantine table."""
    bad = con.execute("SELECT _sheet, _row FROM t_bad").df()
    if bad.empty:
        return
    errs = issues[issues["severity"] == "error"]
    by_row = errs.groupby(["_sheet", "row"])
    reasons = by_row["message"].agg("；".join)
    codes = by_row["code"].agg(lambda s: ",".join(sorted(set(s))))
    sheets = (
        con.execute("SELECT _sheet, submission_id, file, sheet FROM t_sheets")
        .df()
        .set_index("_sheet")
    )
    rows = _raw_rows(con, bad).reset_index()
    cols = [c for c in rows.columns if c not in ("_sheet", "_row", "_extra")]
    headers = {f.name: f.header for f in lg.fields}
    raw_json = [
        json.dumps(
            {
                headers.get(c, c): val
                for c, val in rec.items()
                if val is not None and not (isinstance(val, float) and pd.isna(val))
            },
            ensure_ascii=False,
        )
        for rec in rows[cols].to_dict("records")
    ]
    keys = list(zip(rows["_sheet"], rows["_row"]))
    frame = pd.DataFrame(
        {
            "submission_id": rows["_sheet"].map(sheets["submission_id"]).to_numpy(),
            "ledger": lg.name,
            "file": rows["_sheet"].map(sheets["file"]).to_numpy(),
            "sheet": rows["_sheet"].map(sheets["sheet"]).to_numpy(),
            "row_number": rows["_row"].to_numpy(),
            "reasons": [reasons.get(k, "") for k in keys],
            "codes": [codes.get(k, "") for k in keys],
            "raw": raw_json,
        }
    )
    con.register("v_quarantine", frame)
    try:
        con.execute("INSERT INTO quarantine SELECT * FROM v_quarantine")
    finally:
        con.unregister("v_quarantine")


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
                ).fetchone()[0]
                for other in LEDGERS
            )
            con.execute(
                "UPDATE submissions SET status = ?, replaced_by = ? WHERE submission_id = ?",
                ["已被替换" if left == 0 else "部分替换", winner, old],
            )
            if old not in outcomes[winner].replaced:
                outcomes[winner].replaced.append(old)


# ---------------------------------------------------------------- the error report

ISSUE_HEADERS = {
    "severity": "级别",
    "file": "文件",
    "sheet": "工作表",
    "row": "行号",
    "column": "列",
    "value": "值",
    "code": "规则编码",
    "message": "说明",
}


def write_issue_report(report: IngestReport, out_dir: Path) -> list[Path]:
    """The full error report as .xlsx and .csv (UTF-8 with BOM so Excel reads it)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = stamp
    n = 1
    while (out_dir / f"入库问题清单_{stamp}.xlsx").exists() or (
        out_dir / f"入库问题清单_{stamp}.csv"
    ).exists():  # two ingests in one second
        n += 1
        stamp = f"{base}-{n}"
    frame = report.issues.copy()
    frame["severity"] = frame["severity"].map({"error": "错误", "warning": "警告"})
    frame = frame.rename(columns=ISSUE_HEADERS)
    csv_path = out_dir / f"入库问题清单_{stamp}.csv"
    xlsx_path = out_dir / f"入库问题清单_{stamp}.xlsx"
    frame.to_csv(csv_path, index=False, encoding="utf-8-sig")
    safe = excel_safe_frame(frame)
    with pd.ExcelWriter(xlsx_path, engine="xlsxwriter") as xw:
        safe.to_excel(xw, sheet_name="问题清单", index=False)
        sheet = xw.sheets["问题清单"]
        sheet.freeze_panes(1, 0)
        sheet.autofilter(0, 0, max(len(safe), 1), len(safe.columns) - 1)
        for i, width in enumerate((6, 28, 14, 6, 18, 18, 22, 80)[: len(safe.columns)]):
            sheet.set_column(i, i, width)
    return [xlsx_path, csv_path]
