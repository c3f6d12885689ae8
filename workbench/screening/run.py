"""A screening run: rules → evidence → leads in the leads ledger, with the run's record.

Order of one run over a window of months:
1. the engine materialises the shared views, then runs every rule (timed one by one);
2. the hits become the evidence table `scr_evidence` (which settlements made each hit), the
   window's earlier evidence of the same rules replaced;
3. hits are grouped into one lead per (rule, subject, county, month) with a stable id (a hash
   of those four), so re-running a month finds the same ids and adds nothing;
4. a subject whose last lead under the rule was checked 不属实 is suppressed (kept in the
   evidence, not sent again) unless its amount reached `regrowth_factor` × that lead's;
5. new leads are written to the leads ledger as one submission (county-less, so no county's
   monthly file ever replaces it), with rule name, subject, institution, masked person, data
   period, hit count, suspect amount and due date; `scr_leads` keeps every lead's subject key;
6. coverage (settlements screened ÷ settlements, per county and month) is recorded in
   `scr_coverage` and, when the indicators folder declares the table `screening_coverage`
   (`indicators/screening_coverage.yaml`, `kind: table`), ingested into it like any declared
   table's file, so 疑点数据覆盖率 is a YAML indicator (`screening_2025.yaml`) like the others.

Nothing personal leaves: the person on a lead is the platform's person number and the ID
number as stored, masked (`3304**********1234`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import tempfile
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from workbench.contracts import LEDGERS
from workbench.messages import t
from workbench.screening.engines import EVIDENCE_COLUMNS, Engine
from workbench.screening.load import ensure_schema
from workbench.screening.rules import Rule, RuleSet, Window
from workbench.warehouse import META_COLUMNS, Warehouse

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS scr_runs (
    run_id VARCHAR PRIMARY KEY, started_at TIMESTAMP, finished_at TIMESTAMP, engine VARCHAR,
    from_month VARCHAR, to_month VARCHAR, rules VARCHAR,   -- JSON: rule → params hash
    settlements_screened BIGINT, hits BIGINT, leads_new BIGINT, leads_existing BIGINT,
    leads_suppressed BIGINT, timings VARCHAR               -- JSON: seconds per view and rule
);
CREATE TABLE IF NOT EXISTS scr_evidence (
    run_id VARCHAR, rule_code VARCHAR, params_hash VARCHAR, lead_id VARCHAR,
    setl_id VARCHAR, subject_key VARCHAR, person_no VARCHAR, institution_id VARCHAR,
    county_code VARCHAR, month VARCHAR, amount DECIMAL(18,2), detail VARCHAR
);
CREATE TABLE IF NOT EXISTS scr_leads (
    lead_id VARCHAR PRIMARY KEY, rule_code VARCHAR, subject_key VARCHAR, county_code VARCHAR,
    month VARCHAR, hit_count BIGINT, amount DECIMAL(18,2),
    status VARCHAR,                                        -- 已下发 | 已抑制
    run_id VARCHAR, created_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS scr_coverage (
    county_code VARCHAR, month VARCHAR, settlements BIGINT, screened BIGINT, run_id VARCHAR
);
"""
COVERAGE_TABLE = "screening_coverage"  # the declared table 疑点数据覆盖率 is computed from
ISSUED, SUPPRESSED = "已下发", "已抑制"
REFUTED = "不属实"
PHARMACY = "定点零售药店"


@dataclass
class RunResult:
    run_id: str
    window: Window
    engine: str
    hits: dict[str, int] = field(default_factory=dict)  # rule → evidence rows
    leads_new: list[str] = field(default_factory=list)
    leads_existing: int = 0
    leads_suppressed: int = 0
    settlements_screened: int = 0
    coverage_rows: int | None = None  # rows into `screening_coverage`; None: not declared
    timings: dict[str, Any] = field(default_factory=dict)
    evidence: pd.DataFrame | None = None

    @property
    def total_hits(self) -> int:
        return sum(self.hits.values())


def ensure_run_schema(con: duckdb.DuckDBPyConnection) -> None:
    ensure_schema(con)
    con.execute(SCHEMA)


def lead_id(rule_code: str, subject_key: str, county: str, month: str) -> str:
    """Stable: the same (rule, subject, county, month) always gives the same id, and the
    subject (a person number) is hashed, not shown."""
    h = hashlib.sha256(f"{rule_code}|{subject_key}|{county}|{month}".encode()).hexdigest()[:10]
    return f"YD-{rule_code.replace('-', '')}-{county}-{month.replace('-', '')}-{h}"


def run_rules(
    engine: Engine,
    rules: Sequence[Rule],
    views: Sequence[Any],
    window: Window,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, pa.Table]:
    """Every rule's hits (evidence rows), shared views materialised first."""
    overrides = overrides or {}
    engine.prepare(window)
    try:
        for view in views:
            engine.materialise(view, window)
        return {r.code: engine.run(r, window, overrides.get(r.code)) for r in rules}
    finally:
        engine.close()


def _needed_views(rules: Sequence[Rule], views: Mapping[str, Any]) -> list[Any]:
    return [v for code, v in views.items() if any(code in r.sql for r in rules)]


def screen(
    wh: Warehouse,
    ruleset: RuleSet,
    window: Window,
    engine: Engine,
    codes: Sequence[str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    received: dt.date | None = None,
    indicators_dirs: Iterable[str | Path] | None = None,
) -> RunResult:
    """Run the rules over the window and write evidence, leads and coverage to the warehouse
    (coverage also into the declared table `screening_coverage` when `indicators_dirs`, by
    default the configured indicators folder, declare it)."""
    con = wh.con
    ensure_run_schema(con)
    rules = ruleset.select(codes)
    started = dt.datetime.now().replace(microsecond=0)
    run_id = started.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    t0 = time.perf_counter()
    hits = run_rules(engine, rules, _needed_views(rules, ruleset.views), window, overrides)
    elapsed = time.perf_counter() - t0
    received = received or dt.date.today()
    result = RunResult(run_id, window, engine.name)
    result.timings = {
        "prepare": engine.timings.prepare,
        "views": engine.timings.views,
        "rules": engine.timings.rules,
        "total": elapsed,
    }
    evidence = _evidence_frame(hits, rules, overrides or {}, run_id)
    result.hits = {r.code: int((evidence["rule_code"] == r.code).sum()) for r in rules}
    result.evidence = evidence
    with wh.transaction():
        _write_evidence(con, evidence, [r.code for r in rules], window)
        _upsert_leads(wh, evidence, {r.code: r for r in rules}, ruleset, received, result)
        result.settlements_screened = _record_coverage(con, window, run_id)
        con.execute(
            "INSERT INTO scr_runs VALUES (?, ?, now(), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                started,
                engine.name,
                window.from_month,
                window.to_month,
                json.dumps({r.code: r.params_hash((overrides or {}).get(r.code)) for r in rules}),
                result.settlements_screened,
                result.total_hits,
                len(result.leads_new),
                result.leads_existing,
                result.leads_suppressed,
                json.dumps(result.timings, ensure_ascii=False),
            ],
        )
    result.coverage_rows = publish_coverage(wh, run_id, window, indicators_dirs)
    return result


def publish_coverage(
    wh: Warehouse, run_id: str, window: Window, dirs: Iterable[str | Path] | None = None
) -> int | None:
    """The run's coverage rows into the declared table `screening_coverage` through the
    declared tables' own ingest (a CSV with its headers, checked, archived as a submission; per
    county and month the newest run's row is current). Returns the rows accepted, or None when
    the indicators folder does not declare the table (the run's own `scr_coverage` is still
    written)."""
    from workbench.declarations import DeclarationError, load_table
    from workbench.tables import ingest_table, table_exists

    try:
        table = load_table(COVERAGE_TABLE, dirs)
    except DeclarationError:
        log.info("no declared table %s: coverage kept in scr_coverage only", COVERAGE_TABLE)
        return None
    # this run's months, and every other month of the extract not reported yet with nothing
    # screened: a month never screened counts in the period's settlements, not in the screened
    known = (
        f"SELECT county_code, month FROM {wh.current_relation(table.code)}"
        if table_exists(wh, table.code)
        else "SELECT NULL::VARCHAR AS county_code, NULL::VARCHAR AS month WHERE false"
    )
    frame = wh.con.execute(
        f"""SELECT county_code, month, settlements, screened FROM scr_coverage WHERE run_id = ?
            UNION ALL
            SELECT a.county_code, a.month, a.settlements, 0 FROM ({SETTLEMENTS_BY_MONTH}) a
            WHERE (a.month < ? OR a.month > ?)
              AND NOT EXISTS (SELECT 1 FROM ({known}) k
                              WHERE k.county_code = a.county_code AND k.month = a.month)
            ORDER BY 1, 2""",
        [run_id, window.from_month, window.to_month],
    ).df()
    frame = frame[frame["county_code"].notna() & frame["month"].notna()]
    if frame.empty:
        return 0
    headers = {f.name: f.header for f in table.columns}
    with tempfile.TemporaryDirectory(prefix="workbench-coverage-") as tmp:
        name = f"疑点数据覆盖_{window.from_month}_{window.to_month}_{run_id}.csv"
        path = Path(tmp) / name
        frame.rename(columns=headers).to_csv(path, index=False, encoding="utf-8")
        done = ingest_table(table, [path], wh)
    if done.quarantined:
        log.warning(t("screen.run.coverage_refused", n=done.quarantined, table=COVERAGE_TABLE))
    return done.accepted


def _evidence_frame(
    hits: Mapping[str, pa.Table],
    rules: Sequence[Rule],
    overrides: Mapping[str, Mapping[str, Any]],
    run_id: str,
) -> pd.DataFrame:
    frames = []
    for r in rules:
        df = hits[r.code].to_pandas()
        if df.empty:
            continue
        df.insert(0, "rule_code", r.code)
        df.insert(1, "params_hash", r.params_hash(overrides.get(r.code)))
        frames.append(df)
    cols = ["rule_code", "params_hash", *EVIDENCE_COLUMNS]
    if not frames:
        out = pd.DataFrame(columns=cols)
    else:
        out = pd.concat(frames, ignore_index=True)[cols]
    out = out[out["subject_key"].notna() & out["county_code"].notna() & out["month"].notna()]
    out = out.copy()
    out["lead_id"] = [
        lead_id(r, s, c, m)
        for r, s, c, m in zip(
            out["rule_code"], out["subject_key"], out["county_code"], out["month"]
        )
    ]
    out["run_id"] = run_id
    return out


def _write_evidence(
    con: duckdb.DuckDBPyConnection, evidence: pd.DataFrame, codes: list[str], window: Window
) -> None:
    """The window's evidence of these rules, replaced by this run's."""
    marks = ", ".join("?" for _ in codes)
    con.execute(
        f"DELETE FROM scr_evidence WHERE rule_code IN ({marks}) AND month >= ? AND month <= ?",
        [*codes, window.from_month, window.to_month],
    )
    if evidence.empty:
        return
    frame = evidence.assign(amount=evidence["amount"].astype("float64"))
    con.register("v_evidence", frame)
    try:
        con.execute(
            "INSERT INTO scr_evidence SELECT run_id, rule_code, params_hash, lead_id, setl_id, "
            "subject_key, person_no, institution_id, county_code, month, "
            "CAST(round(amount, 2) AS DECIMAL(18,2)), detail FROM v_evidence"
        )
    finally:
        con.unregister("v_evidence")


def lead_candidates(evidence: pd.DataFrame) -> pd.DataFrame:
    """One row per lead: hit count, suspect amount, the institution most of the amount went to,
    and the person when the subject is one person."""
    if evidence.empty:
        return pd.DataFrame(
            columns=[
                "lead_id",
                "rule_code",
                "subject_key",
                "county_code",
                "month",
                "hit_count",
                "amount",
                "institution_id",
                "person_no",
            ]
        )
    ev = evidence.assign(amount=evidence["amount"].astype("float64"))
    ev = ev.sort_values(["lead_id", "amount", "institution_id"], ascending=[True, False, True])
    grouped = ev.groupby("lead_id", sort=True)
    out = grouped.agg(
        rule_code=("rule_code", "first"),
        subject_key=("subject_key", "first"),
        county_code=("county_code", "first"),
        month=("month", "first"),
        hit_count=("rule_code", "size"),
        amount=("amount", "sum"),
        institution_id=("institution_id", "first"),
        persons=("person_no", "nunique"),
        person_no=("person_no", "first"),
    ).reset_index()
    out.loc[out["persons"] != 1, "person_no"] = None
    out["amount"] = out["amount"].round(2)
    for col in ("institution_id", "person_no"):
        out[col] = pd.Series(
            [x if isinstance(x, str) else None for x in out[col]], index=out.index, dtype=object
        )
    return out.drop(columns="persons")


def _upsert_leads(
    wh: Warehouse,
    evidence: pd.DataFrame,
    rules: Mapping[str, Rule],
    ruleset: RuleSet,
    received: dt.date,
    result: RunResult,
) -> None:
    con = wh.con
    cand = lead_candidates(evidence)
    if cand.empty:
        return
    known = con.execute("SELECT lead_id, status FROM scr_leads").df()
    status = dict(zip(known["lead_id"], known["status"]))
    in_ledger = set(
        con.execute("SELECT DISTINCT lead_id FROM leads").fetchnumpy()["lead_id"].tolist()
    )
    factor = float(ruleset.settings["regrowth_factor"])
    refuted = _refuted_amounts(wh)
    scr_rows, issued = [], []
    for rec in cand.itertuples(index=False):
        if rec.lead_id in in_ledger or status.get(rec.lead_id) == ISSUED:
            result.leads_existing += 1
            continue
        prior = refuted.get((rec.rule_code, rec.subject_key, rec.county_code))
        if prior is not None and prior[0] < rec.month:
            grew = rec.amount >= factor * prior[1] and rec.amount > prior[1]
            if not grew:
                result.leads_suppressed += 1
                scr_rows.append((rec, SUPPRESSED))
                continue
        scr_rows.append((rec, ISSUED))
        issued.append(rec)
    if scr_rows:
        frame = pd.DataFrame(
            [
                {
                    "lead_id": r.lead_id,
                    "rule_code": r.rule_code,
                    "subject_key": r.subject_key,
                    "county_code": r.county_code,
                    "month": r.month,
                    "hit_count": int(r.hit_count),
                    "amount": float(r.amount),
                    "status": st,
                    "run_id": result.run_id,
                }
                for r, st in scr_rows
            ]
        )
        con.register("v_scr_leads", frame)
        try:
            con.execute("DELETE FROM scr_leads WHERE lead_id IN (SELECT lead_id FROM v_scr_leads)")
            con.execute(
                "INSERT INTO scr_leads SELECT lead_id, rule_code, subject_key, county_code, "
                "month, hit_count, CAST(round(amount, 2) AS DECIMAL(18,2)), status, run_id, "
                "now() FROM v_scr_leads"
            )
        finally:
            con.unregister("v_scr_leads")
    if not issued:
        return
    due = received + dt.timedelta(days=int(ruleset.settings["due_days"]))
    masks = _person_masks(con, [r.person_no for r in issued if isinstance(r.person_no, str)])
    kinds = _institution_kinds(wh)
    rows = []
    for r in issued:
        rule = rules[r.rule_code]
        if rule.subject == "institution":
            subject_type = PHARMACY if kinds.get(r.institution_id) == PHARMACY else "定点医疗机构"
        else:
            subject_type = rule.subject_label
        rows.append(
            {
                "lead_id": r.lead_id,
                "county_code": r.county_code,
                "lead_source": rule.lead_source,
                "rule_code": rule.code,
                "received_date": pd.Timestamp(received),
                "check_status": "待核查",
                "checked_date": pd.NaT,
                "case_id": None,
                "rule_name": rule.name,
                "subject_type": subject_type,
                "institution_id": r.institution_id if rule.subject != "agency" else None,
                "person_no": r.person_no if rule.subject != "institution" else None,
                "person_id": masks.get(r.person_no) if rule.subject != "institution" else None,
                "data_period": r.month,
                "hit_count": int(r.hit_count),
                "suspect_amount": float(r.amount),
                "due_date": pd.Timestamp(due),
                "action": None,
            }
        )
    _write_leads(wh, pd.DataFrame(rows), result)
    result.leads_new = [r["lead_id"] for r in rows]


def _write_leads(wh: Warehouse, frame: pd.DataFrame, result: RunResult) -> None:
    """New leads as one live, county-less submission of the leads ledger."""
    lg = LEDGERS["leads"]
    con = wh.con
    sub = f"screening-{result.run_id}"
    con.execute(
        "INSERT INTO submissions VALUES "
        "(?, ?, NULL, ?, now(), 0, NULL, ?, ?, 0, '有效', NULL, NULL)",
        [
            sub,
            t(
                "screening.submission_name",
                first=result.window.from_month,
                last=result.window.to_month,
            ),
            result.window.to_month,
            len(frame),
            len(frame),
        ],
    )
    full = pd.DataFrame({f: frame[f] if f in frame else None for f in lg.field_names})
    full = full.assign(
        _submission_id=sub,
        _period=frame["data_period"],
        _file=t("screening.submission_file"),
        _sheet=frame["rule_code"],
        _source_row=range(1, len(frame) + 1),
        _extra=None,
    )
    con.register("v_new_leads", full[lg.field_names + list(META_COLUMNS)])
    try:
        con.execute('INSERT INTO "leads" BY NAME SELECT * FROM v_new_leads')
    finally:
        con.unregister("v_new_leads")
    wh.refresh_current(["leads"])


def _refuted_amounts(wh: Warehouse) -> dict[tuple[str, str, str], tuple[str, float]]:
    """(rule, subject, county) → (month, amount) of the subject's latest lead checked 不属实."""
    rows = wh.con.execute(
        f"""SELECT s.rule_code, s.subject_key, s.county_code, s.month, CAST(s.amount AS DOUBLE)
            FROM scr_leads s JOIN {wh.current_relation("leads")} l ON l.lead_id = s.lead_id
            WHERE l.check_status = ? ORDER BY s.month""",
        [REFUTED],
    ).fetchall()
    return {(r, s, c): (m, a) for r, s, c, m, a in rows}


def _person_masks(con: duckdb.DuckDBPyConnection, persons: list[str]) -> dict[str, str]:
    """Person number → the masked ID number stored on load (insured first, else settlements)."""
    if not persons:
        return {}
    con.register("v_persons", pd.DataFrame({"psn_no": sorted(set(persons))}))
    try:
        rows = con.execute(
            """SELECT p.psn_no, coalesce(
                   (SELECT any_value(i.certno_mask) FROM scr_insured i WHERE i.psn_no = p.psn_no),
                   (SELECT any_value(s.certno_mask) FROM scr_settlements s
                    WHERE s.psn_no = p.psn_no))
               FROM v_persons p"""
        ).fetchall()
    finally:
        con.unregister("v_persons")
    return {p: m for p, m in rows if m}


def _institution_kinds(wh: Warehouse) -> dict[str, str]:
    rows = wh.con.execute(
        f"SELECT institution_id, institution_type FROM {wh.current_relation('institutions')}"
    ).fetchall()
    return dict(rows)


# Settlements per county (参保地) and month: loaded, and loaded + quarantined (counted by the
# county and month their text gives).
SETTLEMENTS_BY_MONTH = """
    WITH ok AS (
        SELECT insu_admdvs AS county_code, strftime(setl_time, '%Y-%m') AS month, count(*) AS n
        FROM scr_settlements GROUP BY 1, 2),
    bad AS (
        SELECT json_extract_string(raw, '$."参保地医保区划"') AS county_code,
               left(json_extract_string(raw, '$."结算时间"'), 7) AS month, count(*) AS n
        FROM scr_quarantine WHERE table_name = 'settlements' GROUP BY 1, 2)
    SELECT coalesce(ok.county_code, bad.county_code) AS county_code,
           coalesce(ok.month, bad.month) AS month,
           coalesce(ok.n, 0) + coalesce(bad.n, 0) AS settlements, coalesce(ok.n, 0) AS loaded
    FROM ok FULL JOIN bad USING (county_code, month)"""


def _record_coverage(con: duckdb.DuckDBPyConnection, window: Window, run_id: str) -> int:
    """Settlements screened ÷ settlements per county and month of the window: accepted rows
    were screened; quarantined ones (counted by the county and month their text gives) were
    not."""
    con.execute(
        "DELETE FROM scr_coverage WHERE month >= ? AND month <= ?",
        [window.from_month, window.to_month],
    )
    con.execute(
        f"""INSERT INTO scr_coverage
           SELECT county_code, month, settlements, loaded, ? FROM ({SETTLEMENTS_BY_MONTH})
           WHERE month >= ? AND month <= ?""",
        [run_id, window.from_month, window.to_month],
    )
    return int(
        con.execute(
            "SELECT coalesce(sum(screened), 0) FROM scr_coverage WHERE run_id = ?", [run_id]
        ).fetchone()[0]
    )
