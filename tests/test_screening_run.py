"""Screening the demo extract on DuckDB: exactly the injected cases, none of the near-misses,
amounts computed by hand, stable leads, suppression, lists that come back through ingest."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from workbench.ingest import ingest_paths
from workbench.screening.demo_extract import PARAMS_FILE
from workbench.screening.engines import DuckDBEngine
from workbench.screening.lists import write_lists
from workbench.screening.rules import Window, load_parameters, load_rules
from workbench.screening.run import lead_id, screen
from workbench.screening.summary import check_counts, checks_at, read_inputs, screening_tables
from workbench.warehouse import Warehouse

ID_RE = re.compile(r"(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9])")
RECEIVED = dt.date(2025, 12, 31)


def _screen(path: Path, extract_dir: Path, period: str, ruleset=None, received=RECEIVED):
    ruleset = ruleset or load_rules()
    overrides = load_parameters(extract_dir / PARAMS_FILE, ruleset)
    with Warehouse(path) as wh:
        wh.con.execute("SET enable_progress_bar = false")
        return screen(
            wh, ruleset, Window.of(period), DuckDBEngine(wh.con), None, overrides, received
        )


@pytest.fixture(scope="module")
def screened(loaded: Path, extract, extract_dir: Path, tmp_path_factory) -> tuple[Path, object]:
    path = tmp_path_factory.mktemp("run") / "wh.duckdb"
    path.write_bytes(loaded.read_bytes())
    return path, _screen(path, extract_dir, extract.period)


def _leads(path: Path) -> pd.DataFrame:
    with Warehouse(path, read_only=True) as wh:
        return wh.read_ledger("leads")


def test_exactly_the_injected_cases_are_found(screened, extract) -> None:
    path, result = screened
    ev = result.evidence
    got = {
        (r, s, c, m): sorted(x for x in g if isinstance(x, str))
        for (r, s, c, m), g in ev.groupby(["rule_code", "subject_key", "county_code", "month"])[
            "setl_id"
        ]
    }
    expected = {
        (e.rule, e.subject_key, e.county, e.month): sorted(e.setl_ids) for e in extract.expected
    }
    assert set(got) == set(expected)
    for key, setls in expected.items():
        if setls:  # SJBD-02's evidence is account credits, not settlements
            assert got[key] == setls, key
    assert {e.rule for e in extract.expected} == {
        "SJBD-01",
        "SJBD-02",
        "SJBD-03",
        "ZNJK-01",
        "ZNJK-02",
        "ZNJK-03",
        "ZNJK-04",
        "ZNJK-05",
        "ZNJK-06",
        "ZNJK-07",
    }


def test_no_near_miss_is_a_hit(screened, extract) -> None:
    _path, result = screened
    hits = set(zip(result.evidence["rule_code"], result.evidence["subject_key"]))
    expected = {(e.rule, e.subject_key) for e in extract.expected}
    notes = {n.note for n in extract.near_misses}
    assert {
        "当月就诊恰好14次",
        "死亡当日入院的住院",
        "在监狱内设医疗机构就诊",
        "用量增长49%",
        "15次中有1次已退费（冲正）",
    } <= notes
    for n in extract.near_misses:
        if (n.rule, n.subject_key) in expected:  # same institution as a hit (ZNJK-06)
            continue
        assert (n.rule, n.subject_key) not in hits, n.note


def test_amounts_and_counts_by_hand(screened, extract) -> None:
    path, _result = screened
    leads = _leads(path).set_index("rule_code")
    amount = leads.groupby(level=0)["suspect_amount"].apply(sorted).to_dict()
    count = leads.groupby(level=0)["hit_count"].apply(sorted).to_dict()
    fund = lambda cost: round(cost * 0.7, 2)  # noqa: E731 - the generator pays 70 %
    assert amount["SJBD-01"] == [fund(200), fund(200)]
    assert amount["SJBD-02"] == [200.0, 600.0]  # one credit after death; three
    assert count["SJBD-02"] == [1, 4]  # 3 credits + 'still insured' vs 1 credit
    assert amount["ZNJK-01"] == [15 * fund(200), 16 * fund(200)]
    peer = (200 * 10000 + 12 * 15000 + 9 * 20000) / 221
    assert amount["ZNJK-02"] == [pytest.approx(12 * round(15000 - peer, 2), abs=0.001)]
    assert count["ZNJK-02"] == [12]
    assert amount["ZNJK-03"] == [160 * 80.0]
    assert amount["ZNJK-05"] == [fund(7000)]  # the later stay's fund payment
    assert amount["ZNJK-06"] == [fund(5000)]
    assert amount["ZNJK-07"] == [130 * 30.0]
    assert set(leads["check_status"]) == {"待核查"}
    assert set(leads["lead_source"]) == {"数据比对", "智能监控"}
    assert (leads["due_date"] == pd.Timestamp(RECEIVED + dt.timedelta(days=30))).all()
    assert set(leads["data_period"]) == {extract.period}


def test_leads_say_who_without_an_id_number(screened) -> None:
    path, _ = screened
    leads = _leads(path).set_index("rule_code")
    assert set(leads.loc[["ZNJK-02", "ZNJK-03", "ZNJK-06"], "subject_type"]) == {"定点医疗机构"}
    assert set(leads.loc[["ZNJK-07"], "subject_type"]) == {"定点零售药店"}
    assert set(leads.loc[["SJBD-02"], "subject_type"]) == {"经办机构"}
    persons = leads.loc[["SJBD-01", "ZNJK-01", "ZNJK-04"]]
    assert persons["person_id"].str.fullmatch(r"\d{4}\*{10}[\dX]{4}").all()
    assert leads.loc[["ZNJK-02"], "person_id"].isna().all()
    for col in leads.columns:
        assert not leads[col].astype(str).str.contains(ID_RE).any(), col


def test_rerunning_the_month_adds_nothing(screened, extract, extract_dir: Path) -> None:
    path, first = screened
    before = _leads(path)
    again = _screen(path, extract_dir, extract.period)
    after = _leads(path)
    assert again.leads_new == [] and again.leads_existing == len(first.leads_new) == 13
    assert len(after) == len(before)
    with Warehouse(path, read_only=True) as wh:
        n_ev = wh.con.execute("SELECT count(*) FROM scr_evidence").fetchone()[0]
    assert n_ev == len(first.evidence)
    assert lead_id("R-1", "x", "990101", "2025-12") == lead_id("R-1", "x", "990101", "2025-12")


def test_coverage_counts_every_settlement_of_the_month(screened, extract) -> None:
    path, result = screened
    with Warehouse(path, read_only=True) as wh:
        n = wh.con.execute(
            "SELECT count(*) FROM scr_settlements WHERE strftime(setl_time, '%Y-%m') = ?",
            [extract.period],
        ).fetchone()[0]
        per_month = dict(
            wh.con.execute(
                "SELECT strftime(setl_time, '%Y-%m'), count(*) FROM scr_settlements GROUP BY 1"
            ).fetchall()
        )
        i = read_inputs(wh)
        tables = screening_tables(i["scr_leads"], i["coverage"], i["rule_names"])
    assert result.settlements_screened == n
    cov = tables["coverage"]
    this = cov[cov["month"].astype(str) == extract.period]
    assert this["settlements"].sum() == n and (this["rate"] == 1.0).all()
    # the other months of the extract are there too, never screened (what 疑点数据覆盖率 counts)
    others = cov[cov["month"].astype(str) != extract.period]
    assert len(others) and (others["screened"] == 0).all()
    got = others.groupby(others["month"].astype(str))["settlements"].sum().to_dict()
    assert got == {m: c for m, c in per_month.items() if m != extract.period}


def test_coverage_rate_is_a_yaml_indicator_with_refused_settlements_counted(
    wh_copy: Path, extract, extract_dir: Path, tmp_path: Path
) -> None:
    """Two settlements of the screened month refused on load (text in a money cell) stay in
    the denominator of 疑点数据覆盖率, not in the numerator; the rate comes out of the indicator
    engine from the declared table `screening_coverage` the run writes."""
    month = extract.period
    src = extract_dir / f"settlements_{month}.csv"
    head, *rows = src.read_text(encoding="utf-8").splitlines()
    cols = head.replace('"', "").split(",")
    county = rows[0].split(",")[cols.index("insu_admdvs")].strip('"')
    bad = []
    for i, line in enumerate([r for r in rows if f'"{county}"' in r][:2]):
        cells = line.split(",")
        cells[cols.index("setl_id")] = f'"SBAD{i}"'
        cells[cols.index("medfee_sumamt")] = "十元"
        bad.append(",".join(cells))
    extra = tmp_path / "extra" / f"settlements_{month}.csv"
    extra.parent.mkdir()
    extra.write_text("\n".join([head, *bad]) + "\n", encoding="utf-8")
    with Warehouse(wh_copy) as wh:
        from tests.screening_support import SALT
        from workbench.screening.load import load_paths

        report = load_paths(wh.con, [extra], SALT)
        assert (report.accepted, report.quarantined) == (0, 2)
        by_month = wh.con.execute(
            "SELECT insu_admdvs, strftime(setl_time, '%Y-%m') AS m, count(*) FROM scr_settlements "
            "GROUP BY 1, 2"
        ).fetchall()
    loaded = {c: n for c, m, n in by_month if m == month}
    year = {}  # January to the screened month: the other months were never screened
    for c, m, n in by_month:
        if month[:4] + "-01" <= m <= month:
            year[c] = year.get(c, 0) + n
    result = _screen(wh_copy, extract_dir, month)
    assert result.coverage_rows == len(by_month)

    from workbench.results import evaluate

    k = evaluate(wh_copy, month, "screening_2025", span="month").kpis
    rate = k[k["indicator"] == "screening_coverage_rate"].set_index("county_code")["value"]
    assert rate[county] == pytest.approx(loaded[county] / (loaded[county] + 2))
    others = [c for c in loaded if c != county]
    assert others and (rate[others] == 1.0).all()
    k = evaluate(wh_copy, month, "screening_2025", span="ytd").kpis
    rate = k[k["indicator"] == "screening_coverage_rate"].set_index("county_code")["value"]
    assert rate[county] == pytest.approx(loaded[county] / (year[county] + 2))
    assert rate[others[0]] == pytest.approx(loaded[others[0]] / year[others[0]])


def _fill(list_file: Path, out: Path, results: dict[int, str], when: str) -> Path:
    """A county's returned list: 核查结果 filled on the given data rows."""
    wb = openpyxl.load_workbook(list_file)
    ws = wb.worksheets[0]
    head = [c.value for c in ws[1]]
    for row, value in results.items():
        ws.cell(row, head.index("核查结果") + 1, value)
        ws.cell(row, head.index("核查完成日期") + 1, dt.date.fromisoformat(when))
        ws.cell(row, head.index("处理措施") + 1, "追回基金" if value == "属实" else "无")
    out.mkdir(parents=True, exist_ok=True)
    wb.save(out / list_file.name)
    return out / list_file.name


def test_lists_are_masked_per_county_and_come_back_as_lead_updates(
    wh_copy: Path, extract, extract_dir: Path, city, tmp_path: Path
) -> None:
    _screen(wh_copy, extract_dir, extract.period)
    with Warehouse(wh_copy) as wh:
        files = write_lists(wh, load_rules(), extract.period, tmp_path / "lists")
    names = sorted(p.name for p in files)
    assert len(names) == 4
    assert all(
        n.endswith(("死亡人员医保待遇未停及结算疑点清单.xlsx", "服刑在押人员结算疑点清单.xlsx"))
        for n in names
    )
    for f in files:
        wb = openpyxl.load_workbook(f)
        for ws in wb.worksheets:
            for row in ws.iter_rows(values_only=True):
                for v in row:
                    assert not (isinstance(v, str) and ID_RE.search(v)), (f.name, v)
        head = [c.value for c in wb.worksheets[0][1]]
        assert {"核查结果", "处理措施", "核查完成日期"} <= set(head)
        col = head.index("核查结果")
        assert all(r[col] is None for r in wb.worksheets[0].iter_rows(min_row=2, values_only=True))
        # the county fills and returns the file; the bureau ingests it: no command for them
        told = " ".join(str(r[0]) for r in wb["说明"].iter_rows(values_only=True) if r and r[0])
        assert "按原文件名" in told and "workbench" not in told, told
        # 说明 names the list's rules with their sources, by the documents' titles
        notes = [r[0] for r in wb["说明"].iter_rows(values_only=True) if r and r[0]]
        basis = [n for n in notes if re.match(r"SJBD-0\d ", str(n))]
        if "死亡人员" in f.name:
            assert basis[0] == (
                "SJBD-01 死亡后发生结算：依据《2025年开展打击欺诈骗保专项整治行动工作方案》"
                "三（一）；参照华容县人民政府办公室《华容县开展打击欺诈骗保套保挪用贪占医保基金集中整治实施方案》"
                "（华政办函〔2021〕18号）二（六）"
            )
        assert basis and not any(re.search(r"：00\d", b) for b in basis)
    # the county's own monthly leads workbook for the same month stays as it is
    county = next(n for n in names if "死亡人员" in n).split("_")[0]
    own = city.frames["leads"]
    own = own[own["county_code"] == county].head(3).assign(received_date=pd.Timestamp("2025-12-05"))
    with Warehouse(wh_copy) as wh:
        wh.load_frames(
            {"leads": own}, submission_id="own", period=extract.period, county_code=county
        )
    death_list = next(f for f in files if f.name.startswith(county) and "死亡人员" in f.name)
    returned = _fill(death_list, tmp_path / "back", {2: "属实"}, "2026-01-10")
    report = ingest_paths([returned], wh_copy)
    outcome = report.files[0]
    assert outcome.period.endswith("死亡人员医保待遇未停及结算疑点清单") and not outcome.replaced
    leads = _leads(wh_copy).set_index("lead_id")
    first_id = openpyxl.load_workbook(death_list).worksheets[0].cell(2, 1).value
    assert leads.loc[first_id, "check_status"] == "属实"
    assert leads.loc[first_id, "action"] == "追回基金"
    assert leads.loc[first_id, "rule_name"]  # the rest of the row came back too
    assert set(own["lead_id"]) <= set(leads.index)  # not replaced by the returned list


def test_a_subject_checked_false_stays_suppressed_unless_its_amount_grows(
    wh_copy: Path, extract, extract_dir: Path, tmp_path: Path
) -> None:
    """SJBD-02's first case (death three months before the period, credits every month): in
    the month before, two credits after death (400 元); checked 不属实; in the period three
    (600 元) — exactly 1.5 × 400, which re-issues it at the default factor; at factor 2 it
    stays suppressed."""
    prev = str(pd.Period(extract.period, "M") - 1)
    case = next(e for e in extract.expected if e.rule == "SJBD-02" and "3个月" in e.note)
    nov = _screen(wh_copy, extract_dir, prev)
    nov_id = lead_id("SJBD-02", case.subject_key, case.county, prev)
    assert nov_id in nov.leads_new
    with Warehouse(wh_copy) as wh:
        files = write_lists(wh, load_rules(), prev, tmp_path / "lists")
    f = next(p for p in files if p.name.startswith(case.county) and "死亡人员" in p.name)
    rows = [r.row for r in openpyxl.load_workbook(f).worksheets[0]["A"] if r.value == nov_id]
    ingest_paths([_fill(f, tmp_path / "back", {rows[0]: "不属实"}, "2026-01-10")], wh_copy)
    assert _leads(wh_copy).set_index("lead_id").loc[nov_id, "suspect_amount"] == 400.0
    strict = load_rules()
    strict = dataclasses.replace(strict, settings={**strict.settings, "regrowth_factor": 2.0})
    copy = tmp_path / "strict.duckdb"
    copy.write_bytes(wh_copy.read_bytes())
    dec_strict = _screen(copy, extract_dir, extract.period, strict)
    dec_id = lead_id("SJBD-02", case.subject_key, case.county, extract.period)
    assert dec_id not in dec_strict.leads_new and dec_strict.leads_suppressed == 1
    with Warehouse(copy, read_only=True) as wh:
        assert (
            wh.con.execute("SELECT status FROM scr_leads WHERE lead_id = ?", [dec_id]).fetchone()[0]
            == "已抑制"
        )
        assert (
            wh.con.execute(
                "SELECT count(*) FROM scr_evidence WHERE lead_id = ?", [dec_id]
            ).fetchone()[0]
            == 4
        )  # still in the evidence
    dec = _screen(wh_copy, extract_dir, extract.period)
    assert dec_id in dec.leads_new and dec.leads_suppressed == 0


def test_face_tables_show_precision_per_rule(wh_copy: Path, extract, extract_dir: Path) -> None:
    _screen(wh_copy, extract_dir, extract.period)
    with Warehouse(wh_copy) as wh:
        inputs = read_inputs(wh)
    leads = inputs["leads"].copy()
    znjk01 = leads["lead_id"].str.startswith("YD-ZNJK01")
    first, second = leads.index[znjk01][:2]
    leads.loc[first, "check_status"] = "属实"
    leads.loc[second, "check_status"] = "不属实"
    leads.loc[first, "case_id"] = "AJ1"
    tables = screening_tables(inputs["scr_leads"], inputs["coverage"], inputs["rule_names"])
    counts = check_counts(inputs["scr_leads"], leads, inputs["rule_names"], [extract.period])
    p = checks_at(counts, extract.period).set_index("rule_code")
    assert (p.loc["ZNJK-01", "checked"], p.loc["ZNJK-01", "confirmed"]) == (2, 1)
    assert p.loc["ZNJK-01", "confirmed_rate"] == 0.5
    assert p.loc["ZNJK-01", "conversion_rate"] == 0.5
    assert pd.isna(p.loc["ZNJK-02", "confirmed_rate"])  # nothing checked: missing, not 0
    assert len(p) == 10
    by = tables["by_rule_county"]
    assert by["leads"].sum() == 13 and set(tables["trend"]["month"]) == {extract.period}
