"""Loading a settlement extract: CSV / Parquet files → typed, validated screening tables.

These are not spreadsheets: a city-year is tens of millions of rows in files split by month, so
nothing here goes through pandas. Files of one table with the same layout are read by DuckDB in
one statement (in parallel, in file order), and each row is typed and checked in that same pass:
every check is a SQL expression generated from `tables.py`, and a row's failures are collected
into one text column (`column:CODE;…`). Keys, duplicates and references are then checked against
the batch and the warehouse with joins. Good rows go to `scr_<table>`; every other row goes to
`scr_quarantine` with its file, row, column and code — nothing is lost. ID-card numbers are
hashed with the salt (`salt.py`) inside that first pass, so a clear number is never stored.

One table group is one transaction: a failure leaves the warehouse as it was.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import json
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from workbench.contracts import normalise_header
from workbench.messages import t
from workbench.privacy import mask_id_card
from workbench.screening.salt import Salt, SaltError
from workbench.screening.tables import SQL_TYPES, TABLES, Column, Table
from workbench.validate import typed_expr

log = logging.getLogger(__name__)

SUFFIXES = {".csv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet"}
DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y%m%d%H%M%S",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
)
MIN_MATCHES = 3
# The salted hash of an ID number, its hex digits spelt as the letters g–p: 128 bits that can
# never look like an ID number to a scanner or a masker.
HASH_SQL = "translate(left(sha256($salt || {value}), 32), '0123456789', 'ghijklmnop')"
SNIFF_BYTES = 1 << 20
TYPE_CODES = {
    "code6": "E_CODE6",
    "enum": "E_ENUM",
    "datetime": "E_DATETIME",
    "date": "E_DATE",
    "month": "E_MONTH",
    "yuan": "E_NOT_NUMBER",
    "decimal": "E_NOT_NUMBER",
    "bool": "E_BOOL",
}
# Codes some provinces' extracts carry instead of the dictionary's words (接口规范 字典).
ENUM_CODES: dict[str, dict[str, str]] = {
    "insutype": {"310": "职工基本医疗保险", "390": "城乡居民基本医疗保险"},
    "med_type": {"11": "普通门诊", "14": "门诊慢特病", "21": "住院", "41": "定点药店购药"},
    "mdtrt_cert_type": {"01": "医保电子凭证", "02": "居民身份证", "03": "社会保障卡"},
    "psn_insu_stas": {"1": "正常参保", "2": "暂停参保", "4": "终止参保"},
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS scr_meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS scr_loads (
    load_id VARCHAR PRIMARY KEY,          -- sha256 of the file bytes
    file_name VARCHAR, table_name VARCHAR, loaded_at TIMESTAMP, size_bytes BIGINT,
    rows_in BIGINT, rows_accepted BIGINT, rows_quarantined BIGINT,
    status VARCHAR,                       -- 已入库 | 未入库
    headers VARCHAR                       -- JSON: column → header as written in the file
);
CREATE TABLE IF NOT EXISTS scr_quarantine (
    load_id VARCHAR, table_name VARCHAR, file VARCHAR, row_number BIGINT,
    codes VARCHAR,                        -- column:CODE;column:CODE
    raw VARCHAR                           -- the row's cells (ID numbers masked), JSON
);
CREATE TABLE IF NOT EXISTS scr_file_issues (
    load_id VARCHAR, file VARCHAR, severity VARCHAR, column_header VARCHAR, code VARCHAR
);
"""


def table_ddl(tb: Table) -> str:
    cols = []
    for c in tb.columns:
        cols.append(f'"{c.name}" {SQL_TYPES[c.type]}')
        if c.personal:
            cols.append(f'"{c.name}_mask" VARCHAR')
    cols += ['"_load_id" VARCHAR', '"_row" BIGINT']
    return f'CREATE TABLE IF NOT EXISTS "{tb.storage}" ({", ".join(cols)});'


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the screening tables; a file from before a contract column existed gains it
    (empty for earlier rows)."""
    con.execute(SCHEMA)
    for tb in TABLES.values():
        con.execute(table_ddl(tb))
        have = {
            r[0]
            for r in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = ? "
                "AND database_name = current_database() AND schema_name = 'main'",
                [tb.storage],
            ).fetchall()
        }
        wanted = []
        for c in tb.columns:
            wanted.append((c.name, SQL_TYPES[c.type]))
            if c.personal:
                wanted.append((f"{c.name}_mask", "VARCHAR"))
        wanted += [("_load_id", "VARCHAR"), ("_row", "BIGINT")]
        for name, sql_type in wanted:
            if name not in have:
                con.execute(f'ALTER TABLE "{tb.storage}" ADD COLUMN "{name}" {sql_type}')


def stored_columns(tb: Table) -> list[str]:
    out: list[str] = []
    for c in tb.columns:
        out.append(c.name)
        if c.personal:
            out.append(f"{c.name}_mask")
    return out


# ---------------------------------------------------------------- results


@dataclass
class FileResult:
    file: str
    load_id: str
    table: str = ""
    status: str = "new"  # new | duplicate | refused
    rows_in: int = 0
    accepted: int = 0
    quarantined: int = 0


@dataclass
class FileIssue:
    file: str
    code: str
    column: str = ""
    severity: str = "error"
    params: dict = field(default_factory=dict)

    @property
    def message(self) -> str:
        where = t("screening.where.file", file=self.file)
        if self.column:
            where += t("screening.where.column", column=self.column)
        return where + "：" + t(f"screening.code.{self.code}", column=self.column, **self.params)


@dataclass
class LoadReport:
    files: list[FileResult]
    file_issues: list[FileIssue]

    @property
    def rows_in(self) -> int:
        return sum(f.rows_in for f in self.files)

    @property
    def accepted(self) -> int:
        return sum(f.accepted for f in self.files)

    @property
    def quarantined(self) -> int:
        return sum(f.quarantined for f in self.files)

    @property
    def ok(self) -> bool:
        return not any(i.severity == "error" for i in self.file_issues) and all(
            f.status != "refused" for f in self.files
        )


# ---------------------------------------------------------------- reading file layouts


@dataclass
class Layout:
    """What one input file holds and where: its table, and each column's source."""

    path: Path
    display: str
    kind: str  # csv | parquet
    table: str
    sources: dict[str, str]  # column name → source column (c<i> for CSV, the name in Parquet)
    headers: dict[str, str]  # column name → header as written
    delim: str = ","
    encoding: str = "utf-8"
    ncols: int = 0
    load_id: str = ""
    size: int = 0

    @property
    def signature(self) -> tuple:
        """Files with equal signatures are read by one statement."""
        return (
            self.table,
            self.kind,
            tuple(sorted(self.sources.items())),
            self.delim,
            self.encoding,
            self.ncols,
        )


def list_files(paths: Sequence[str | Path]) -> tuple[list[Path], list[FileIssue]]:
    files: list[Path] = []
    issues: list[FileIssue] = []
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and not f.name.startswith((".", "~$")):
                    if f.suffix.lower() in SUFFIXES:
                        files.append(f)
        elif p.is_file():
            if p.suffix.lower() in SUFFIXES:
                files.append(p)
            else:
                issues.append(FileIssue(p.name, "E_FILE_KIND", params={"suffix": p.suffix}))
        else:
            issues.append(FileIssue(str(p), "E_FILE_NOT_FOUND"))
    return files, issues


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(8 << 20):
            h.update(chunk)
    return h.hexdigest()


def match_table(labels: Sequence[str]) -> tuple[Table | None, dict[str, int]]:
    """The table whose columns the headers name best, and each column's position."""
    keys = [normalise_header(x) for x in labels]
    best: tuple[float, Table, dict[str, int]] | None = None
    for tb in TABLES.values():
        index = tb.header_index
        found: dict[str, int] = {}
        for pos, k in enumerate(keys):
            name = index.get(k)
            if name and name not in found:
                found[name] = pos
        required = {c.name for c in tb.columns if c.required}
        if len(found) < min(MIN_MATCHES, len(tb.columns)) or not set(tb.key) <= set(found):
            continue
        score = len(found) / len(tb.columns) + len(required & set(found)) / len(required)
        if best is None or score > best[0]:
            best = (score, tb, found)
    return (best[1], best[2]) if best else (None, {})


def _csv_head(path: Path) -> tuple[str, str, list[str]]:
    """(encoding, delimiter, header cells) from the start of a CSV file."""
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    try:
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
        enc = "utf-8"
    except UnicodeDecodeError:
        text = head.decode("gb18030", errors="replace")
        enc = "gb18030"
    first = text.split("\n", 1)[0].rstrip("\r")
    delim = max(",\t;|", key=first.count) if first else ","
    cells = next(csv.reader(io.StringIO(first), delimiter=delim), [])
    return enc, delim, [c.strip() for c in cells]


def read_layout(
    path: Path, con: duckdb.DuckDBPyConnection
) -> tuple[Layout | None, list[FileIssue]]:
    kind = SUFFIXES[path.suffix.lower()]
    issues: list[FileIssue] = []
    if kind == "csv":
        with path.open("rb") as fh:
            magic = fh.read(4)
        if magic.startswith(b"PK") or b"\x00" in magic:
            return None, [FileIssue(path.name, "E_NOT_CSV")]
        enc, delim, labels = _csv_head(path)
    else:
        try:
            labels = [
                r[0]
                for r in con.execute(
                    "SELECT name FROM parquet_schema(?) WHERE num_children IS NULL", [str(path)]
                ).fetchall()
            ]
        except duckdb.Error as exc:
            return None, [FileIssue(path.name, "E_NOT_PARQUET", params={"detail": str(exc)[:120]})]
        enc, delim = "", ""
    tb, found = match_table(labels)
    if tb is None:
        return None, [FileIssue(path.name, "E_NO_TABLE")]
    missing = [c for c in tb.columns if c.name not in found]
    for c in missing:
        issues.append(
            FileIssue(
                path.name,
                "E_MISSING_COLUMN" if c.required else "W_MISSING_COLUMN",
                c.header,
                "error" if c.required else "warning",
            )
        )
    used = set(found.values())
    for pos, lab in enumerate(labels):
        if pos not in used and lab:
            issues.append(FileIssue(path.name, "W_EXTRA_COLUMN", lab, "warning"))
    sources = {name: (f"c{pos}" if kind == "csv" else labels[pos]) for name, pos in found.items()}
    headers = {name: labels[pos] for name, pos in found.items()}
    layout = Layout(path, path.name, kind, tb.name, sources, headers, delim, enc, len(labels))
    return layout, issues


# ---------------------------------------------------------------- SQL for one table


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def typed_sql(c: Column, v: str) -> str:
    """SQL giving the typed value of text `v` (NULL when it does not parse)."""
    if c.type in ("yuan", "decimal"):
        target = SQL_TYPES[c.type]
        clean = f"regexp_replace({v}, '[,，\\s元¥￥]', '', 'g')"
        num = f"COALESCE(TRY_CAST({v} AS {target}), TRY_CAST({clean} AS {target}))"
        return num
    if c.type == "datetime":
        day = typed_expr("date", v)
        fmts = "[" + ", ".join(map(_lit, DATETIME_FORMATS)) + "]"
        return (
            f"COALESCE(TRY_CAST({v} AS TIMESTAMP), try_strptime({v}, {fmts}), "
            f"CAST({day} AS TIMESTAMP))"
        )
    if c.type == "enum":
        codes = ENUM_CODES.get(c.name, {})
        words = typed_expr("enum", v, c.enum)
        if not codes:
            return words
        whens = " ".join(f"WHEN {_lit(k)} THEN {_lit(w)}" for k, w in codes.items())
        return f"COALESCE({words}, CASE {v} {whens} END)"
    return typed_expr(c.type, v, c.enum)


ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_sql(upper: str, first17: str) -> str:
    """A valid 18-character ID number (GB 11643 check character), else NULL; from the
    upper-cased text and its first 17 digits as an integer (columns computed once)."""
    digits = " + ".join(
        f"(({first17} // {10 ** (16 - i)}) % 10) * {w}" for i, w in enumerate(ID_WEIGHTS)
    )
    return (
        f"CASE WHEN regexp_full_match({upper}, '[0-9]{{17}}[0-9X]') AND "
        f"substr('10X98765432', CAST(({digits}) % 11 AS INTEGER) + 1, 1) = right({upper}, 1) "
        f"THEN {upper} END"
    )


def row_checks(tb: Table) -> list[tuple[str, str]]:
    """Every check of a row as (SQL condition over the raw `r_` and typed `t_` columns,
    `column:CODE`). A row's failures are one integer, a bit per check: strings are built only
    for the rows that fail (`decode_sql`)."""
    out: list[tuple[str, str]] = []
    for c in tb.columns:
        raw, typed = _q("r_" + c.name), _q("t_" + c.name)
        if c.required:
            out.append((f"{raw} IS NULL", c.name + ":E_REQUIRED"))
        bad = f"{raw} IS NOT NULL AND {typed} IS NULL"
        if c.type == "id_card":
            shape = f"regexp_full_match({_q('u_' + c.name)}, '[0-9]{{17}}[0-9X]')"
            out.append((f"{bad} AND {shape}", c.name + ":E_ID_CHECKSUM"))
            out.append((f"{bad} AND NOT {shape}", c.name + ":E_ID_FORMAT"))
        elif c.type in TYPE_CODES:
            out.append((bad, c.name + ":" + TYPE_CODES[c.type]))
    for rr in tb.rules:
        op = {">=": "<", "<=": ">"}[rr.op]
        out.append((f"{_q('t_' + rr.left)} {op} {_q('t_' + rr.right)}", rr.left + ":" + rr.code))
    for rw in tb.required_when:
        vals = ", ".join(map(_lit, rw.values))
        out.append(
            (
                f"{_q('t_' + rw.when)} IN ({vals}) AND {_q('r_' + rw.column)} IS NULL",
                rw.column + ":" + rw.code,
            )
        )
    if len(out) > 62:
        raise ValueError(f"{tb.name}: more row checks than bits in a BIGINT")
    return out


def decode_sql(tb: Table, err: str) -> str:
    """The `column:CODE;…` text of a failure bitmask."""
    parts = [
        f"CASE WHEN ({err} & {1 << i}) <> 0 THEN {_lit(label)} END"
        for i, (_cond, label) in enumerate(row_checks(tb))
    ]
    return f"concat_ws(';', {', '.join(parts)})" if parts else "''"


def mask_sql(v: str) -> str:
    """An ID number as every output shows it (privacy.mask_id_card): first and last four kept."""
    return (
        f"CASE WHEN {v} IS NULL THEN NULL WHEN length({v}) >= 10 THEN left({v}, 4) || "
        f"repeat('*', length({v}) - 8) || right({v}, 4) ELSE repeat('*', length({v})) END"
    )


def stage_sql(tb: Table, layout: Layout, index: int, numbered: bool = False) -> str:
    """One SELECT reading one file: (_f, _n, typed columns, hashed IDs, _err, _raw). `_f` is
    the file's position in its group; `_n` its row as the user sees it when known here (Parquet;
    CSV read with `numbered`) — otherwise CSV rows are numbered from the staged table's rowid,
    which follows file order."""
    first = layout
    path = _lit(str(layout.path))
    if first.kind == "csv":
        cols = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(first.ncols)) + "}"
        delim = first.delim.replace("'", "''")
        source = (
            f"read_csv({path}, header=false, skip=1, delim='{delim}', quote='\"', "
            f"escape='\"', columns={cols}, auto_detect=false, null_padding=true, "
            f"strict_mode=false)"
        )
        n = "row_number() OVER () + 1" if numbered else "CAST(NULL AS BIGINT)"
    else:
        source = f"read_parquet({path}, file_row_number=true)"
        n = "file_row_number + 1"
    raw_cols = []
    for c in tb.columns:
        src = first.sources.get(c.name)
        expr = f"nullif(trim(CAST({_q(src)} AS VARCHAR)), '')" if src else "CAST(NULL AS VARCHAR)"
        raw_cols.append(f"{expr} AS {_q('r_' + c.name)}")
    level1 = f"SELECT {index} AS _f, {n} AS _n, {', '.join(raw_cols)} FROM {source}"
    ids = [c for c in tb.columns if c.personal]
    if ids:  # an ID number's upper-cased text and first 17 digits, computed once
        helpers = ", ".join(
            f"upper({_q('r_' + c.name)}) AS {_q('u_' + c.name)}, "
            f"TRY_CAST(left({_q('r_' + c.name)}, 17) AS BIGINT) AS {_q('n_' + c.name)}"
            for c in ids
        )
        level1 = f"SELECT *, {helpers} FROM ({level1}) l0"
    typed = [
        (
            id_sql(_q("u_" + c.name), _q("n_" + c.name))
            if c.personal
            else typed_sql(c, _q("r_" + c.name))
        )
        + f" AS {_q('t_' + c.name)}"
        for c in tb.columns
    ]
    level2 = f"SELECT *, {', '.join(typed)} FROM ({level1}) l1"
    checks = row_checks(tb)
    err = (
        " + ".join(
            f"(CASE WHEN {cond} THEN {1 << i} ELSE 0 END)" for i, (cond, _l) in enumerate(checks)
        )
        if checks
        else "0"
    )
    err = f"CAST({err} AS BIGINT)"
    out = ["_f", "_n"]
    for c in tb.columns:
        tcol = _q("t_" + c.name)
        if c.personal:
            out.append(f"{HASH_SQL.format(value=tcol)} AS {_q(c.name)}")
            out.append(f"{mask_sql(tcol)} AS {_q(c.name + '_mask')}")
        else:
            out.append(f"{tcol} AS {_q(c.name)}")
    pairs = ", ".join(
        f"{_lit(c.header)}, " + (mask_sql(_q("r_" + c.name)) if c.personal else _q("r_" + c.name))
        for c in tb.columns
    )
    out.append("_err")
    out.append(f"CASE WHEN _err <> 0 THEN CAST(json_object({pairs}) AS VARCHAR) END AS _raw")
    return f"SELECT {', '.join(out)} FROM (SELECT *, {err} AS _err FROM ({level2}) l2) l3"


# ---------------------------------------------------------------- the load


def _roster_sql(con: duckdb.DuckDBPyConnection) -> str | None:
    """The institution keys in the warehouse's roster (current rows), None when it is empty."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE table_name = 'institutions' "
        "AND column_name = '_live' AND NOT internal"
    ).fetchone()[0]
    if not exists:
        return None
    n = con.execute('SELECT count(*) FROM "institutions" WHERE "_live"').fetchone()[0]
    if not n:
        return None
    return 'SELECT institution_id AS k FROM "institutions" WHERE "_live"'


def check_salt(con: duckdb.DuckDBPyConnection, salt: Salt) -> None:
    """Refuse a salt other than the one the warehouse's hashes were made with."""
    row = con.execute("SELECT value FROM scr_meta WHERE key = 'salt_fingerprint'").fetchone()
    if row is None:
        con.execute("INSERT INTO scr_meta VALUES ('salt_fingerprint', ?)", [salt.fingerprint])
    elif row[0] != salt.fingerprint:
        raise SaltError("mismatch")


def load_paths(
    con: duckdb.DuckDBPyConnection, paths: Sequence[str | Path], salt: Salt
) -> LoadReport:
    """Load every CSV/Parquet file named or found in folders. Files already loaded (same bytes)
    are skipped; each table's files are loaded in dependency order (settlements before their
    fee lines), one transaction per group of same-layout files."""
    ensure_schema(con)
    check_salt(con, salt)
    files, issues = list_files(paths)
    results: list[FileResult] = []
    known = {
        r[0]
        for r in con.execute("SELECT load_id FROM scr_loads WHERE status = '已入库'").fetchall()
    }
    layouts: list[Layout] = []
    seen: set[str] = set()
    for path in files:
        sha = _sha256(path)
        if sha in known or sha in seen:
            results.append(FileResult(path.name, sha, status="duplicate"))
            continue
        seen.add(sha)
        layout, file_issues = read_layout(path, con)
        issues.extend(file_issues)
        if layout is None or any(
            i.severity == "error" and i.file == path.name for i in file_issues
        ):
            results.append(
                FileResult(path.name, sha, layout.table if layout else "", status="refused")
            )
            _record_refused(con, path, sha, layout, file_issues)
            continue
        layout.load_id, layout.size = sha, path.stat().st_size
        layouts.append(layout)
    order = list(TABLES)
    groups: dict[tuple, list[Layout]] = {}
    for lay in sorted(layouts, key=lambda x: (order.index(x.table), str(x.path))):
        groups.setdefault(lay.signature, []).append(lay)
    for group in groups.values():
        try:
            results.extend(_load_group(con, TABLES[group[0].table], group, salt, issues))
        except duckdb.Error as exc:  # a file DuckDB cannot parse (say, an unclosed quote)
            detail = str(mask_id_card(str(exc).strip().splitlines()[0]))[:200]
            for g in group:
                issues.append(FileIssue(g.display, "E_FILE_UNREADABLE", params={"detail": detail}))
                results.append(FileResult(g.display, g.load_id, g.table, status="refused"))
                _record_refused(con, g.path, g.load_id, g, [issues[-1]])
    return LoadReport(results, issues)


def _record_refused(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    sha: str,
    layout: Layout | None,
    file_issues: list[FileIssue],
) -> None:
    con.execute("DELETE FROM scr_loads WHERE load_id = ?", [sha])
    con.execute("DELETE FROM scr_file_issues WHERE load_id = ?", [sha])
    con.execute(
        "INSERT INTO scr_loads VALUES (?, ?, ?, now(), ?, 0, 0, 0, '未入库', NULL)",
        [sha, path.name, layout.table if layout else None, path.stat().st_size],
    )
    for i in file_issues:
        con.execute(
            "INSERT INTO scr_file_issues VALUES (?, ?, ?, ?, ?)",
            [sha, i.file, i.severity, i.column, i.code],
        )


def _transcode(path: Path) -> Path:
    """A UTF-8 copy of a GBK/GB18030 file, streamed (files can be gigabytes)."""
    fd, tmp = tempfile.mkstemp(suffix=".csv", prefix="workbench-scr-")
    with (
        open(fd, "w", encoding="utf-8", newline="") as out,
        path.open("r", encoding="gb18030", errors="replace", newline="") as src,
    ):
        while chunk := src.read(4 << 20):
            out.write(chunk)
    return Path(tmp)


def _stage(
    con: duckdb.DuckDBPyConnection, tb: Table, group: list[Layout], salt: Salt
) -> list[Path]:
    """Stage the group's files, one statement each, into temp table `scr_stg`; returns
    temporary copies to delete. A CSV that says UTF-8 at its start but is not (a GBK file with
    an ASCII head) is transcoded and read again; a CSV whose rows did not land in file order
    is read again with explicit (slower, single-threaded) row numbers."""
    temps: list[Path] = []
    params = {"salt": salt.value} if any(c.personal for c in tb.columns) else None
    con.execute("DROP TABLE IF EXISTS scr_stg")
    for i, g in enumerate(group):
        if g.kind == "csv" and g.encoding == "gb18030":
            g.path = _transcode(g.path)
            temps.append(g.path)

        def put(numbered: bool = False) -> None:
            select = stage_sql(tb, g, i, numbered)  # noqa: B023 - used at once
            exists = con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'scr_stg' AND temporary"
            ).fetchone()[0]
            if exists:
                con.execute(f"INSERT INTO scr_stg {select}", params)
            else:
                con.execute(f"CREATE TEMP TABLE scr_stg AS {select}", params)

        try:
            put()
        except duckdb.InvalidInputException as exc:
            if g.kind != "csv" or g.encoding == "gb18030" or "unicode" not in str(exc).lower():
                raise
            g.encoding = "gb18030"
            g.path = _transcode(g.path)
            temps.append(g.path)
            put()
        if g.kind == "csv":
            lo, hi, n = con.execute(
                "SELECT min(rowid), max(rowid), count(*) FROM scr_stg WHERE _f = ?", [i]
            ).fetchone()
            if n and hi - lo + 1 != n:
                con.execute("DELETE FROM scr_stg WHERE _f = ?", [i])
                put(numbered=True)
    return temps


def _load_group(
    con: duckdb.DuckDBPyConnection,
    tb: Table,
    group: list[Layout],
    salt: Salt,
    issues: list[FileIssue],
) -> list[FileResult]:
    originals = [(g.path, g.display) for g in group]
    temps: list[Path] = []
    con.execute("BEGIN TRANSACTION")
    try:
        temps = _stage(con, tb, group, salt)
        _check_keys_and_refs(con, tb, issues, group)
        counts = _write(con, tb, group)
        now = dt.datetime.now().replace(microsecond=0)
        out = []
        for i, (g, (_path, display)) in enumerate(zip(group, originals)):
            n, good = counts.get(i, (0, 0))
            con.execute("DELETE FROM scr_loads WHERE load_id = ?", [g.load_id])
            con.execute(
                "INSERT INTO scr_loads VALUES (?, ?, ?, ?, ?, ?, ?, ?, '已入库', ?)",
                [
                    g.load_id,
                    display,
                    tb.name,
                    now,
                    g.size,
                    n,
                    good,
                    n - good,
                    json.dumps(g.headers, ensure_ascii=False),
                ],
            )
            out.append(FileResult(display, g.load_id, tb.name, "new", n, good, n - good))
        con.execute("DROP TABLE IF EXISTS scr_stg; DROP TABLE IF EXISTS scr_stg_bad")
        con.execute("COMMIT")
        return out
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        for p in temps:
            p.unlink(missing_ok=True)
        for g, (path, _display) in zip(group, originals):
            g.path = path


def _check_keys_and_refs(
    con: duckdb.DuckDBPyConnection, tb: Table, issues: list[FileIssue], group: list[Layout]
) -> None:
    """Rows that typed fine but repeat a key (in the batch or the warehouse) or point at
    nothing: temp table `scr_stg_bad(rid, code)`."""
    key = ", ".join(_q(k) for k in tb.key)
    s_key = ", ".join("s." + _q(k) for k in tb.key)
    nonnull = " AND ".join(f"{_q(k)} IS NOT NULL" for k in tb.key)
    # Keys are compared through their 64-bit hashes first (integers: a fraction of the cost of
    # tens of millions of strings), then exactly, on the few rows whose hash repeats or exists.
    parts = [
        # a key seen twice in the batch: every row but the first
        f"""SELECT rid, {_lit(tb.key[0] + ":E_DUPLICATE_KEY")} AS code FROM (
              SELECT s.rowid AS rid, row_number() OVER (PARTITION BY {s_key}
                     ORDER BY s.rowid) AS rn
              FROM scr_stg s
              WHERE s._err = 0 AND hash({s_key}) IN (
                  SELECT h FROM (SELECT hash({key}) AS h FROM scr_stg
                                 WHERE _err = 0 AND {nonnull})
                  GROUP BY h HAVING count(*) > 1)) WHERE rn > 1""",
    ]
    if con.execute(f'SELECT count(*) > 0 FROM "{tb.storage}"').fetchone()[0]:
        parts.append(
            f"""SELECT c.rid, {_lit(tb.key[0] + ":E_KEY_EXISTS")} FROM (
                  SELECT s.rowid AS rid, {s_key} FROM scr_stg s
                  WHERE s._err = 0 AND hash({s_key}) IN (
                      SELECT hash({key}) FROM "{tb.storage}")) c
                JOIN "{tb.storage}" w USING ({key})"""
        )
    for ref in tb.refs:
        if ref.target == "institutions":
            rel = _roster_sql(con)
            if rel is None:
                for g in group:
                    issues.append(FileIssue(g.display, "W_NO_ROSTER", severity="warning"))
                continue
        else:
            target = TABLES[ref.target]
            rel = f'SELECT {_q(target.key[0])} AS k FROM "{target.storage}"'
        # a hash not found is a key not found (exact); a key whose 64-bit hash equals an
        # existing other key's would pass — about 10⁻¹² per orphan for ten million keys
        parts.append(
            f"SELECT s.rowid, {_lit(ref.column + ':' + ref.code)} FROM scr_stg s "
            f"WHERE s._err = 0 AND s.{_q(ref.column)} IS NOT NULL "
            f"AND hash(s.{_q(ref.column)}) NOT IN (SELECT hash(k) FROM ({rel}) r "
            f"WHERE k IS NOT NULL)"
        )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE scr_stg_bad AS SELECT rid, string_agg(code, ';') AS code "
        f"FROM ({' UNION ALL '.join(parts)}) GROUP BY rid"
    )


def _write(
    con: duckdb.DuckDBPyConnection, tb: Table, group: list[Layout]
) -> dict[int, tuple[int, int]]:
    """Accepted rows into the table, the rest into quarantine. Returns file → (rows, accepted)."""
    spans = con.execute(
        "SELECT _f, min(rowid), max(rowid), count(*) FROM scr_stg WHERE _n IS NULL GROUP BY _f"
    ).fetchall()
    for _f, lo, hi, n in spans:
        if hi - lo + 1 != n:  # _stage made sure of it
            raise RuntimeError("staged rows are not contiguous; cannot number rows")
    offset = " ".join(f"WHEN {f} THEN {lo}" for f, lo, _hi, _n in spans) or "WHEN -1 THEN 0"
    row = f"coalesce(s._n, s.rowid - CASE s._f {offset} END + 2)"
    load_id = " ".join(f"WHEN {i} THEN {_lit(g.load_id)}" for i, g in enumerate(group))
    files = " ".join(f"WHEN {i} THEN {_lit(g.display)}" for i, g in enumerate(group))
    cols = stored_columns(tb)
    col_list = ", ".join(_q(c) for c in cols)
    has_bad = con.execute("SELECT count(*) > 0 FROM scr_stg_bad").fetchone()[0]
    good = "s._err = 0" + (" AND s.rowid NOT IN (SELECT rid FROM scr_stg_bad)" if has_bad else "")
    con.execute(
        f'INSERT INTO "{tb.storage}" ({col_list}, _load_id, _row) '
        f"SELECT {', '.join('s.' + _q(c) for c in cols)}, CASE s._f {load_id} END, {row} "
        f"FROM scr_stg s WHERE {good}"
    )
    typed_json = ", ".join(
        f"{_lit(c.header)}, CAST(s.{_q(c.name + '_mask' if c.personal else c.name)} AS VARCHAR)"
        for c in tb.columns
    )
    bad_join = "LEFT JOIN scr_stg_bad b ON b.rid = s.rowid" if has_bad else ""
    bad_code = "b.code" if has_bad else "NULL"
    bad_where = "s._err <> 0 OR b.rid IS NOT NULL" if has_bad else "s._err <> 0"
    con.execute(
        f"INSERT INTO scr_quarantine SELECT CASE s._f {load_id} END, {_lit(tb.name)}, "
        f"CASE s._f {files} END, {row}, "
        f"concat_ws(';', nullif({decode_sql(tb, 's._err')}, ''), {bad_code}), "
        f"coalesce(s._raw, CAST(json_object({typed_json}) AS VARCHAR)) "
        f"FROM scr_stg s {bad_join} WHERE {bad_where}"
    )
    totals = dict(con.execute("SELECT _f, count(*) FROM scr_stg GROUP BY _f").fetchall())
    marks = ", ".join("?" for _ in group)
    kept = dict(
        con.execute(
            f"SELECT load_id, count(*) FROM scr_quarantine WHERE load_id IN ({marks}) "
            "GROUP BY load_id",
            [g.load_id for g in group],
        ).fetchall()
    )
    return {
        i: (totals.get(i, 0), totals.get(i, 0) - kept.get(g.load_id, 0))
        for i, g in enumerate(group)
    }


# ---------------------------------------------------------------- issue lists


def issue_rows(
    con: duckdb.DuckDBPyConnection, load_ids: Sequence[str] | None = None, limit: int = 100_000
) -> pd.DataFrame:
    """Quarantined rows as one issue per (file, row, column, code), with the header as written
    in the file, the value (ID numbers masked) and the Chinese message."""
    where = ""
    params: list = []
    if load_ids is not None:
        if not load_ids:
            return pd.DataFrame(columns=ISSUE_COLUMNS)
        where = f"WHERE q.load_id IN ({', '.join('?' for _ in load_ids)})"
        params = list(load_ids)
    df = con.execute(
        f"""SELECT q.file, q.table_name, q.row_number, split_part(c, ':', 1) AS col,
                   split_part(c, ':', 2) AS code, q.raw, l.headers
            FROM scr_quarantine q LEFT JOIN scr_loads l USING (load_id),
                 unnest(string_split(q.codes, ';')) AS u(c)
            {where} ORDER BY q.file, q.row_number LIMIT {int(limit)}""",
        params,
    ).df()
    out = []
    for rec in df.itertuples(index=False):
        tb = TABLES[rec.table_name]
        column = tb.column(rec.col) if rec.col in tb.names else None
        headers = json.loads(rec.headers) if isinstance(rec.headers, str) else {}
        header = headers.get(rec.col) or (column.header if column else rec.col)
        raw = json.loads(rec.raw) if isinstance(rec.raw, str) else {}
        value = "" if column is None else str(raw.get(column.header) or "")
        params_ = {"value": value}
        if rec.code == "E_ENUM" and column is not None:
            params_["allowed"] = "、".join(column.enum)
        where_ = (
            t("screening.where.file", file=rec.file)
            + t("screening.where.row", row=int(rec.row_number))
            + t("screening.where.column", column=header)
        )
        out.append(
            {
                "file": rec.file,
                "row": int(rec.row_number),
                "column": header,
                "value": value,
                "code": rec.code,
                "message": where_
                + "："
                + t(f"screening.code.{rec.code}", column=header, **params_),
            }
        )
    return pd.DataFrame(out, columns=ISSUE_COLUMNS)


ISSUE_COLUMNS = ["file", "row", "column", "value", "code", "message"]
