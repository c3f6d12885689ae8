"""The screening figures every face prints, side by side on a small hand-made extract: the 通报,
the summaries and the cockpit give 疑点数据覆盖率 with its span (「2025年12月」, 「2025年1—12月」)
and the same value for the same months — a value computed here by hand — and 死亡、服刑疑点追回
counts the cases of screening leads only, never a county's own lead tagged with an SJBD code."""

from __future__ import annotations

import html
import re
from types import SimpleNamespace

import pandas as pd
import pytest

from workbench import dashboard as d
from workbench import fmt, results
from workbench.declarations import load_table
from workbench.demo import generate_city
from workbench.documents import bulletin, summaries
from workbench.presentation import counts as pc
from workbench.screening.run import COVERAGE_TABLE, ensure_run_schema
from workbench.screening.summary import (
    cross_match_rules,
    digest_inputs,
    period_digest,
    window_digest,
)
from workbench.tables import ingest_table
from workbench.warehouse import Warehouse

PERIOD = "2025-12"
SET = "screening_2025"

# (county index, month, settlements, screened): county 0 screened in November and December (60
# of December's 300 quarantined, so not screened), never in January; county 1 screened in
# December only, June never screened.
COVERAGE = [
    (0, "2025-01", 100, 0),
    (0, "2025-11", 200, 200),
    (0, "2025-12", 300, 240),
    (1, "2025-06", 50, 0),
    (1, "2025-12", 100, 100),
]
# by hand — December: (240 + 100) ÷ (300 + 100); January–December: (200 + 240 + 100) ÷ 750
DECEMBER = 340 / 400
YEAR = 540 / 750
# the 2025 case made from the one screening SJBD lead: what 死亡、服刑疑点追回 must count
SCREENING_CASE_DUE, SCREENING_CASE_RECOVERED = 12_000.0, 9_000.0


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    """The demo's ledgers for four counties (their own leads tagged SJBD-01…03, many linked to
    2025 cases) plus one screening lead with its case, two screened months of leads and the
    coverage table as `workbench screen run` writes it."""
    demo = generate_city(4, seed=7)
    codes = [c for c, _ in demo.counties]
    frames = {k: v.copy() for k, v in demo.frames.items()}
    cases, leads = frames["cases"], frames["leads"]
    own_sjbd = leads["rule_code"].astype(str).str.startswith("SJBD") & leads["case_id"].notna()
    assert own_sjbd.any() and leads["data_period"].isna().all()  # the trap the fix avoids
    case = cases.iloc[[0]].copy()
    case["case_id"] = "AJ-SCREEN-0001"
    case["county_code"] = codes[0]
    case["status"] = "已结案"
    case["found_date"] = pd.Timestamp("2025-12-20")
    case["filed_date"] = pd.Timestamp("2025-12-22")
    case["amount_due"] = SCREENING_CASE_DUE
    case["amount_recovered"] = SCREENING_CASE_RECOVERED
    frames["cases"] = pd.concat([cases, case], ignore_index=True)
    lead = leads.iloc[[0]].copy()
    for k, v in {
        "lead_id": "YD-SJBD01-TEST-202512",
        "county_code": codes[0],
        "lead_source": "数据比对",
        "complaint_id": None,
        "inspection_id": None,
        "rule_code": "SJBD-01",
        "received_date": pd.Timestamp("2025-12-31"),
        "check_status": "属实",
        "checked_date": pd.Timestamp("2025-12-31"),
        "case_id": "AJ-SCREEN-0001",
        "data_period": "2025-12",
    }.items():
        lead[k] = v
    frames["leads"] = pd.concat([leads, lead], ignore_index=True)

    path = tmp_path_factory.mktemp("scrfaces") / "w.duckdb"
    csv = path.parent / "疑点数据覆盖.csv"
    pd.DataFrame(
        [(codes[i], m, n, s) for i, m, n, s in COVERAGE],
        columns=["区县代码", "结算月份", "结算笔数", "已筛查笔数"],
    ).to_csv(csv, index=False, encoding="utf-8")
    with Warehouse(path) as wh:
        wh.load_frames(frames, period=PERIOD)
        ensure_run_schema(wh.con)
        for lead_id, month, county in (
            ("YD-ZNJK01-TEST-202511", "2025-11", codes[0]),
            ("YD-SJBD01-TEST-202512", "2025-12", codes[0]),
        ):
            wh.con.execute(
                "INSERT INTO scr_leads VALUES (?, ?, 'x', ?, ?, 1, 100, '已下发', 'r', NULL)",
                [lead_id, lead_id[3:10], county, month],
            )
        wh.con.execute("INSERT INTO scr_coverage VALUES (?, '2025-12', 300, 240, 'r')", [codes[0]])
        done = ingest_table(load_table(COVERAGE_TABLE), [csv], wh)
        assert done.accepted == len(COVERAGE) and not done.quarantined
        inputs = digest_inputs(wh)
    return {"path": path, "frames": frames, "inputs": inputs, "codes": codes}


def _digests(built: dict) -> tuple[dict, dict, dict]:
    inp, frames = built["inputs"], built["frames"]
    args = (inp["scr_leads"], frames["leads"], inp["coverage"], inp["rule_names"])
    cross = cross_match_rules()
    month = period_digest(*args, PERIOD, cross, frames["cases"])
    year = window_digest(*args, "2025-01", PERIOD, cross, frames["cases"])
    one = window_digest(*args, PERIOD, PERIOD, cross, frames["cases"])
    return month, year, one


def _bulletin_text(digest: dict) -> str:
    """The 通报's §二 as printed, for facts of December (only what the section reads)."""
    f = SimpleNamespace(
        period=PERIOD,
        month_label=lambda: "2025年12月",
        month_end_label=lambda: "2025年12月31日",
        ytd_label=lambda: "1—12月",
    )
    return "".join(b.text for b in bulletin.screening_blocks(f, digest, 5))


def _card(data, county: str = "") -> tuple[str, str]:
    """The cockpit's 疑点数据覆盖率 card: (value shown, the ⓘ panel's scope sentence)."""
    page = d.kpi_cards_html(data, d.View(SET, PERIOD, county))
    card = re.search(
        r'data-indicator="screening_coverage_rate".*?data-kpi-value>([^<]*)<(.*?)wb-kpi-meta',
        page,
        re.S,
    )
    assert card, "the cockpit shows a 疑点数据覆盖率 card"
    scope = re.search(r"以上为[^<]*?数据", page)
    return html.unescape(card.group(1)), html.unescape(scope.group(0) if scope else "")


def test_coverage_is_one_value_per_span_on_every_face(built: dict) -> None:
    month, year, one = _digests(built)
    # the 通报: December's rate and the year's, each with its months
    assert month["month"].iloc[0]["coverage_rate"] == pytest.approx(DECEMBER)
    assert month["ytd"].iloc[0]["coverage_rate"] == pytest.approx(YEAR)
    text = _bulletin_text(month)
    assert "疑点数据覆盖率（2025年12月）85.0%" in text
    assert "2025年1—12月累计疑点数据覆盖率72.0%" in text
    # the summaries: a window of January–December (two months screened) and of December alone
    assert year["window"].iloc[0]["coverage_rate"] == pytest.approx(YEAR)
    assert one["window"].iloc[0]["coverage_rate"] == pytest.approx(DECEMBER)
    para = summaries.screening_para(year, pc.Window("2025-01", PERIOD), 3)[0].text
    assert "疑点数据覆盖率（2025年1—12月，未开展筛查月份的结算计入分母）72.0%" in para
    para_one = summaries.screening_para(one, pc.Window(PERIOD, PERIOD), 3)[0].text
    assert "疑点数据覆盖率（2025年12月）85.0%" in para_one
    # the cockpit: the KPI of the year to date on its card, the months said in its ⓘ panel
    for span, want in (("ytd", YEAR), ("month", DECEMBER)):
        ev = results.evaluate(built["path"], PERIOD, SET, span=span)
        kpi = ev.city_kpis.set_index("indicator")
        assert float(kpi.loc["screening_coverage_rate", "value"]) == pytest.approx(want)
    data = d.from_engine(built["path"], periods=[PERIOD], uncertainty_samples=0)
    shown, scope = _card(data)
    assert shown == fmt.percent(YEAR) == "72.0%"
    assert "2025年1—12月" in scope
    # a county: county 0's year is (200 + 240) ÷ 600 on the card and in the digest
    c0 = built["codes"][0]
    shown0, _ = _card(data, c0)
    assert shown0 == fmt.percent(440 / 600)


def test_death_and_custody_recovery_counts_screening_leads_only(built: dict) -> None:
    """The county ledgers' own leads carry SJBD codes and link to 2025 cases, yet the 通报, the
    summary and the cockpit's KPI count the one case made from a screening lead."""
    month, year, _ = _digests(built)
    for digest in (month, year):
        cm = digest["cross_match"].iloc[0]
        assert (cm["cases"], cm["amount_due"], cm["recovered"]) == (
            1,
            SCREENING_CASE_DUE,
            SCREENING_CASE_RECOVERED,
        )
    text = _bulletin_text(month)
    assert "筛查线索中的死亡、服刑在押人员比对线索转立案件1件" in text
    assert "应追回1.2万元，已追回9,000元，追回率75.0%" in text
    ev = results.evaluate(built["path"], PERIOD, SET, span="ytd")
    kpi = ev.city_kpis.set_index("indicator")
    assert float(kpi.loc["death_custody_recovered", "value"]) == SCREENING_CASE_RECOVERED
    assert float(kpi.loc["death_custody_recovery_rate", "value"]) == pytest.approx(0.75)
    # no screening in 2024: nothing recovered from screening leads there (the card's 同比 is —)
    ly = results.evaluate(built["path"], "2024-12", SET, span="ytd").city_kpis
    ly = ly.set_index("indicator")
    assert float(ly.loc["death_custody_recovered", "value"]) == 0.0


def test_window_labels() -> None:
    assert pc.Window("2025-12", "2025-12").label == "2025年12月"
    assert pc.Window("2025-03", "2025-12").label == "2025年3—12月"
    assert pc.Window("2024-11", "2025-02").label == "2024年11月至2025年2月"
    assert pc.span_window("ytd", "2025-09") == pc.Window("2025-01", "2025-09")
    assert pc.span_window("quarter", "2025-08") == pc.Window("2025-07", "2025-08")
    assert pc.span_window("r12", "2025-03") == pc.Window("2024-04", "2025-03")
    assert pc.span_window("ctd", "2025-03") is None and pc.span_window("ytd", "2023") is None


def test_one_money_scale_per_column() -> None:
    """The cockpit's screening tables print amounts in the 万元 their header names — one scale
    for the column, not 3.6万元 above 1,600元 above 140元."""
    from tests.test_dashboard import sample_data, view
    from workbench.dashboard.screening import screening_html

    assert [fmt.wan(v) for v in (36_000, 1_600, 140, None)] == ["3.60", "0.16", "0.01", "—"]
    part = screening_html(sample_data(), view(period="2025-09"))
    assert part.count("涉及金额（万元）") == 2  # the rules' table and the counties'
    cells = re.findall(r'<td class="wb-num">([^<]*)</td>', part)
    assert cells and not [c for c in cells if c.endswith("元")]
