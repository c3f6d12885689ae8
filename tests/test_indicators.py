"""Indicators: every campaign KPI on tiny hand-made ledgers, roll-ups, YoY, targets, milestones,
the lagging list and the facade. Expected values are worked out by hand in the comments."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_measures import A, B, make_ledgers
from workbench.declarations import load_set
from workbench.indicators import (
    LAGGING,
    MET,
    MISSED,
    NO_DATA,
    compare,
    compute_kpis,
    lagging_frame,
    latest_complete_period,
    milestone_frame,
    project_linear,
    safe_ratio,
    span_window,
    trend,
)
from workbench.measures import MeasureEngine, month_index, month_label
from workbench.indicators import SPANS
from workbench.results import evaluate


@pytest.fixture(scope="module")
def campaign():
    return load_set("campaign_2025")


def kpi(ledgers, iset, indicator, period="2025-09", span="ytd", county=A) -> dict:
    counties, city = compute_kpis(ledgers, iset, period, (span,), [indicator])
    src = city if county is None else counties[counties["county_code"] == county]
    row = src[src["indicator"] == indicator]
    assert len(row) == 1
    return row.iloc[0].to_dict()


def nan(x) -> bool:
    return x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x))


# --------------------------------------------------------------------------- windows


def test_span_windows(campaign) -> None:
    cal = campaign.calendar
    end = month_index("2025-09")

    def lab(w):
        return month_label(w.start), month_label(w.end)

    assert lab(span_window("month", end, cal)) == ("2025-09", "2025-09")
    assert lab(span_window("quarter", end, cal)) == ("2025-07", "2025-09")
    assert lab(span_window("quarter", month_index("2025-08"), cal)) == ("2025-07", "2025-08")
    assert lab(span_window("ytd", end, cal)) == ("2025-01", "2025-09")
    # campaign starts 2025-03-01 (calendar_2025.yaml)
    assert lab(span_window("ctd", end, cal)) == ("2025-03", "2025-09")
    # after the campaign's end (2025-12-31) the campaign-to-date window stops at December
    assert lab(span_window("ctd", month_index("2026-02"), cal)) == ("2025-03", "2025-12")
    assert lab(span_window("r12", end, cal)) == ("2024-10", "2025-09")
    assert lab(span_window("ytd", end, cal, "previous_year")) == ("2024-01", "2024-09")
    assert lab(span_window("r12", end, cal, "year:2023")) == ("2022-10", "2023-09")
    assert span_window("ctd", month_index("2025-02"), cal).empty
    # a calendar phase (交叉检查 2025-06-01…08-31): from its start, capped at its end, empty
    # before it starts
    assert lab(span_window("phase:cross_check", month_index("2025-07"), cal)) == (
        "2025-06",
        "2025-07",
    )
    assert lab(span_window("phase:cross_check", end, cal)) == ("2025-06", "2025-08")
    assert span_window("phase:cross_check", month_index("2025-05"), cal).empty
    assert lab(span_window("phase:cross_check", end, cal, "previous_year")) == (
        "2024-06",
        "2024-08",
    )
    with pytest.raises(ValueError):
        span_window("phase:nosuch", end, cal)


# --------------------------------------------------------------------------- every KPI


def test_institution_case_rate_uses_each_years_roster() -> None:
    """no_fraud_city 定点医药机构违规发案率: cases against institutions per 100 designated
    institutions of that year (counties roster: hospitals + pharmacies), so the year-ago rate
    divides by the year-ago count. A: 2024 8 + 2 = 10 institutions, 2 cases Jan–Sep 2024;
    2025 15 + 5 = 20, 3 cases Jan–Sep 2025 → 15 vs 20 per 100, change 15/20 − 1 = −25 %."""
    nfc = load_set("no_fraud_city")
    counties = [
        dict(
            county_code=A,
            county_name="甲县",
            city="测试市",
            year=2024,
            designated_hospitals=8,
            designated_pharmacies=2,
        ),
        dict(
            county_code=A,
            county_name="甲县",
            city="测试市",
            year=2025,
            designated_hospitals=15,
            designated_pharmacies=5,
        ),
    ]
    cases = [
        dict(
            case_id=f"c{i}",
            county_code=A,
            found_date=d,
            subject_type="定点医疗机构",
            status="已结案",
        )
        for i, d in enumerate(
            [
                "2024-02-01",
                "2024-08-01",
                "2024-11-01",  # Nov: outside
                "2025-01-05",
                "2025-03-05",
                "2025-09-30",
            ]
        )
    ]
    # an institutions roster of another size must not matter
    inst = [dict(institution_id=f"H{i}", county_code=A) for i in range(50)]
    ledgers = make_ledgers(counties=counties, cases=cases, institutions=inst)
    rate = kpi(ledgers, nfc, "institution_case_rate")
    assert (rate["numerator"], rate["denominator"]) == (3, 20)
    assert rate["value"] == pytest.approx(15.0)
    change = kpi(ledgers, nfc, "institution_case_rate_change")
    assert change["value"] == pytest.approx(15.0 / 20.0 - 1)


def test_case_detection_rate_relative_target_and_change(campaign) -> None:
    cases = [
        # 2025: one confirmed conclusion (counted by closed_date), one 不予处理, one open,
        # one concluded in Dec 2024 (outside 2025 YTD)
        dict(
            case_id="a",
            county_code=A,
            found_date="2025-01-02",
            filed_date="2025-01-03",
            status="已结案",
            outcome="责令整改",
            closed_date="2025-03-10",
        ),
        dict(
            case_id="b",
            county_code=A,
            found_date="2025-01-02",
            status="已结案",
            outcome="不予处理",
            closed_date="2025-04-10",
        ),
        dict(case_id="c", county_code=A, found_date="2025-01-02", status="调查中"),
        dict(
            case_id="d",
            county_code=A,
            found_date="2024-11-02",
            status="已结案",
            outcome="约谈",
            closed_date="2024-12-30",
        ),
        # 2024 Jan–Sep: one confirmed conclusion
        dict(
            case_id="e",
            county_code=A,
            found_date="2024-04-02",
            status="已结案",
            outcome="拒付追回",
            closed_date="2024-05-06",
        ),
    ]
    leads = (
        [
            dict(lead_id=f"l{i}", county_code=A, received_date="2025-02-01", check_status="待核查")
            for i in range(2)
        ]
        + [dict(lead_id="l9", county_code=A, received_date="2025-10-01", check_status="待核查")]
        + [
            dict(lead_id=f"m{i}", county_code=A, received_date="2024-03-01", check_status="属实")
            for i in range(9)
        ]
    )
    complaints = [dict(complaint_id="j1", county_code=A, received_date="2025-05-05")]
    inspections = [
        dict(
            inspection_id="i1",
            county_code=A,
            institution_id="H1",
            method="日常巡查",
            inspection_date="2025-02-02",
            problems_found=2,
        ),
        dict(
            inspection_id="i2",
            county_code=A,
            institution_id="H1",
            method="日常巡查",
            inspection_date="2024-05-02",
            problems_found=1,
        ),
    ]
    led = make_ledgers(cases=cases, leads=leads, complaints=complaints, inspections=inspections)
    r = kpi(led, campaign, "case_detection_rate")
    # 2025 YTD: numerator = case a → 1; denominator = leads 2 (l9 is October) + complaints 1
    # + problems found 2 = 5 → 1 / 5 = 0.2
    assert (r["numerator"], r["denominator"]) == (1, 5)
    assert r["value"] == pytest.approx(0.2)
    # baseline 2024 Jan–Sep: 1 / (9 + 0 + 1) = 0.1 → target 0.1 × (1 + 20%) = 0.12; met
    assert r["prev_value"] == pytest.approx(0.1)
    assert r["target"] == pytest.approx(0.12)
    assert r["gap"] == pytest.approx(0.08)
    assert bool(r["met"])
    assert r["yoy"] == pytest.approx(1.0)  # 0.2 / 0.1 − 1
    c = kpi(led, campaign, "case_detection_rate_change")
    # 0.2 / 0.1 − 1 = +100% ≥ +20%
    assert c["value"] == pytest.approx(1.0) and bool(c["met"])
    assert c["numerator"] == pytest.approx(0.2) and c["denominator"] == pytest.approx(0.1)
    # In the baseline year itself (2024-09) and before it, "the same months of 2024" are not a
    # comparison: 2024 Jan–Sep compared with itself would read +0 % and hold the rate to
    # 0.1 × 1.2 of itself; 2023 would be compared with months still to come. No baseline
    # there: the change and the relative target are missing, the rate itself is not.
    r24 = kpi(led, campaign, "case_detection_rate", period="2024-09")
    assert r24["value"] == pytest.approx(0.1)  # 1 / (9 + 1), as above
    assert nan(r24["target"]) and nan(r24["gap"])
    c24 = kpi(led, campaign, "case_detection_rate_change", period="2024-09")
    assert nan(c24["value"]) and nan(c24["denominator"])
    c23 = kpi(led, campaign, "case_detection_rate_change", period="2023-09")
    assert nan(c23["value"])
    # the first month after the baseline year compares again: 2025-01 YTD has no closed case
    # (a closes in March) over 0 leads … → undefined rate; 2025-03: 1 / (2 + 0 + 2) = 0.25 vs
    # 2024 Jan–Mar 0 / 9 = 0 → a change from 0 is undefined, the target 0 × 1.2 = 0
    r25 = kpi(led, campaign, "case_detection_rate", period="2025-03")
    assert r25["value"] == pytest.approx(0.25) and r25["target"] == pytest.approx(0.0)


def test_fund_recovery_rate(campaign) -> None:
    cases = [
        dict(
            case_id="a",
            county_code=A,
            found_date="2025-02-01",
            status="已结案",
            amount_due=1000.0,
            amount_recovered=900.0,
        ),
        dict(
            case_id="b",
            county_code=A,
            found_date="2025-03-01",
            status="调查中",
            amount_due=2000.0,
            amount_recovered=1500.0,
        ),
        dict(
            case_id="c",
            county_code=A,
            found_date="2025-03-01",
            status="已撤销",
            amount_due=5000.0,
            amount_recovered=0.0,
        ),
        dict(case_id="d", county_code=A, found_date="2025-03-01", status="调查中"),
    ]
    r = kpi(make_ledgers(cases=cases), campaign, "fund_recovery_rate")
    # (900 + 1500) / (1000 + 2000) = 0.8 (withdrawn c and blank d left out) < 90%
    assert (r["numerator"], r["denominator"]) == (2400, 3000)
    assert r["value"] == pytest.approx(0.8)
    assert not r["met"] and r["shortfall"] == pytest.approx(0.1)


def test_violation_recovery_rate(campaign) -> None:
    rect = [
        dict(
            issue_id="q1",
            county_code=A,
            found_date="2025-04-01",
            status="已整改",
            amount_involved=1000.0,
            amount_recovered=950.0,
        ),
        dict(
            issue_id="q2",
            county_code=A,
            found_date="2025-04-01",
            status="已整改",
            amount_involved=0.0,
            amount_recovered=0.0,
        ),
        dict(
            issue_id="q3",
            county_code=A,
            found_date="2025-05-01",
            status="已销号",
            amount_involved=3000.0,
            amount_recovered=3000.0,
        ),
    ]
    r = kpi(make_ledgers(rectifications=rect), campaign, "violation_recovery_rate")
    # items with money: (950 + 3000) / (1000 + 3000) = 0.9875 ≥ 95%
    assert r["value"] == pytest.approx(3950 / 4000) and bool(r["met"])
    assert r["deadline"] == "2025-11-30"


def test_case_count_yoy(campaign) -> None:
    filed_2025 = [
        dict(
            case_id=f"n{i}",
            county_code=A,
            found_date="2025-02-01",
            filed_date="2025-02-03",
            status="已立案",
        )
        for i in range(6)
    ]
    withdrawn = [
        dict(
            case_id="w",
            county_code=A,
            found_date="2025-02-01",
            filed_date="2025-02-03",
            status="已撤销",
        )
    ]
    filed_2024 = [
        dict(
            case_id=f"o{i}",
            county_code=A,
            found_date="2024-02-01",
            filed_date="2024-02-03",
            status="已结案",
        )
        for i in range(10)
    ]
    unfiled = [dict(case_id="u", county_code=A, found_date="2025-02-01", status="核查中")]
    r = kpi(
        make_ledgers(cases=filed_2025 + withdrawn + filed_2024 + unfiled),
        campaign,
        "case_count_yoy",
    )
    # 6 filed (withdrawn and not-yet-filed left out) vs 10 a year earlier: 6 / 10 − 1 = −40%
    assert r["value"] == pytest.approx(-0.4)
    assert (r["numerator"], r["denominator"]) == (6, 10)
    assert bool(r["met"])  # −40% ≤ −30%
    count = kpi(make_ledgers(cases=filed_2025 + filed_2024), campaign, "case_count")
    assert count["value"] == 6 and count["yoy"] == pytest.approx(-0.4)


def test_repeat_gang_share_change(campaign) -> None:
    now = [
        dict(
            case_id=f"n{i}",
            county_code=A,
            found_date="2025-03-01",
            status="调查中",
            repeat_offender=r,
            gang_case=g,
        )
        for i, (r, g) in enumerate(
            [(True, False), (True, True), (False, False), (False, False), (False, None)]
        )
    ]
    base = [
        dict(
            case_id=f"b{i}",
            county_code=A,
            found_date="2024-03-01",
            status="已结案",
            repeat_offender=False,
            gang_case=g,
        )
        for i, g in enumerate([True, True, False, False])
    ]
    led = make_ledgers(cases=now + base)
    share = kpi(led, campaign, "repeat_gang_share")
    # 2025: repeat or gang in 2 of 5 = 0.4; baseline 2024: 2 of 4 = 0.5
    assert share["value"] == pytest.approx(0.4) and share["prev_value"] == pytest.approx(0.5)
    r = kpi(led, campaign, "repeat_gang_share_change")
    # 0.4 / 0.5 − 1 = −20% ≤ −15%
    assert r["value"] == pytest.approx(-0.2) and bool(r["met"])


def test_rectification_completion(campaign) -> None:
    closed = ["2025-02-20", "2025-03-10", "2025-10-05", None]
    rect = [
        dict(
            issue_id=f"q{i}",
            county_code=A,
            found_date="2025-01-05",
            deadline=f"2025-0{i + 2}-15",
            status=s,
            closed_date=c,
        )
        for i, (s, c) in enumerate(zip(["已销号", "已销号", "已销号", "整改中"], closed))
    ]
    rect.append(
        dict(
            issue_id="late",
            county_code=A,
            found_date="2025-01-05",
            deadline="2025-12-15",
            status="未整改",
        )
    )
    # 已销号 without a date (ingest refuses it; another system's extract may not): done at an
    # unknown time, so counted
    rect.append(
        dict(
            issue_id="nodate",
            county_code=A,
            found_date="2025-01-05",
            deadline="2025-05-20",
            status="已销号",
        )
    )
    led = make_ledgers(rectifications=rect)
    r = kpi(led, campaign, "rectification_completion")
    # due by September: 5 items (the December one is not due yet); 4 are 已销号 today, but q2
    # was closed on 10-05, after September: done by the end of September q0, q1, nodate → 3/5
    assert (r["numerator"], r["denominator"]) == (3, 5) and r["value"] == pytest.approx(0.6)
    assert not r["met"]
    # a month later q2 counts: 4 of 5
    r = kpi(led, campaign, "rectification_completion", period="2025-10")
    assert (r["numerator"], r["denominator"]) == (4, 5) and r["value"] == pytest.approx(0.8)
    # the rows behind September's numerator are the three done by then
    ev = evaluate(led, "2025-09", campaign, uncertainty_samples=0)
    rows = ev.drill(A, "rectification_completion").numerator_rows
    assert sorted(rows.iloc[:, 0].astype(str)) == ["nodate", "q0", "q1"]


def test_inspection_coverage_and_record_sampling(campaign) -> None:
    inst = [
        dict(
            institution_id=f"H{i}",
            institution_name="院",
            county_code=A,
            institution_type="公立医疗机构",
        )
        for i in range(1, 5)
    ]
    insp = [
        dict(
            inspection_id="i1",
            county_code=A,
            institution_id="H1",
            method="日常巡查",
            inspection_date="2025-02-01",
            records_sampled=5,
            records_total=100,
        ),
        dict(
            inspection_id="i2",
            county_code=A,
            institution_id="H1",
            method="专项检查",
            inspection_date="2025-03-01",
            records_sampled=3,
            records_total=60,
        ),
        dict(
            inspection_id="i3",
            county_code=A,
            institution_id="H2",
            method="专项检查",
            inspection_date="2025-03-05",
        ),
        dict(
            inspection_id="i4",
            county_code=A,
            institution_id="H3",
            method="专项检查",
            inspection_date="2024-03-05",
            records_sampled=1,
            records_total=1,
        ),
    ]
    led = make_ledgers(institutions=inst, inspections=insp)
    cov = kpi(led, campaign, "inspection_coverage")
    # distinct inspected in 2025: H1, H2 → 2 of 4 institutions = 50% ≥ 30%
    assert (cov["numerator"], cov["denominator"]) == (2, 4) and bool(cov["met"])
    rec = kpi(led, campaign, "record_sampling_rate")
    # (5 + 3) / (100 + 60) = 0.05 → exactly the 5% target, which counts as met
    assert rec["value"] == pytest.approx(0.05) and bool(rec["met"])


def test_lead_check_completion_and_zero_denominator(campaign) -> None:
    leads = [
        dict(lead_id=f"l{i}", county_code=A, received_date="2025-06-01", check_status=s)
        for i, s in enumerate(["属实", "不属实", "核查中", "待核查"])
    ]
    led = make_ledgers(leads=leads)
    r = kpi(led, campaign, "lead_check_completion")
    assert r["value"] == pytest.approx(0.5)  # 2 checked of 4
    # County B received no leads: 0 / 0 is missing — not 0, not infinity, not an error
    b = kpi(led, campaign, "lead_check_completion", county=B)
    assert b["numerator"] == 0 and b["denominator"] == 0
    assert nan(b["value"]) and nan(b["met"])


def test_police_referral_rate_uses_the_threshold_parameter(campaign) -> None:
    assert campaign.param("police_referral_threshold") == 5000
    cases = [
        dict(
            case_id="a",
            county_code=A,
            found_date="2025-02-01",
            status="已结案",
            amount_involved=6000.0,
            referred_police=True,
        ),
        dict(
            case_id="b",
            county_code=A,
            found_date="2025-02-01",
            status="已结案",
            amount_involved=8000.0,
            referred_police=False,
            outcome="移送公安",
        ),
        dict(
            case_id="c",
            county_code=A,
            found_date="2025-02-01",
            status="已结案",
            amount_involved=5000.0,
            referred_police=False,
        ),
        dict(
            case_id="d",
            county_code=A,
            found_date="2025-02-01",
            status="调查中",
            amount_involved=9000.0,
            violation_type="假病人",
            referred_police=False,
        ),
        dict(
            case_id="e",
            county_code=A,
            found_date="2025-02-01",
            status="调查中",
            amount_involved=9000.0,
            violation_type="超标准收费",
            referred_police=False,
        ),
    ]
    r = kpi(make_ledgers(cases=cases), campaign, "police_referral_rate")
    # 涉嫌犯罪: a, b (referred, by flag or outcome) and d (no flag, above 5,000, a typically
    # criminal type); not c (exactly 5,000) nor e (a billing violation) → 3; referred a, b → 2/3
    assert (r["numerator"], r["denominator"]) == (2, 3)
    assert r["value"] == pytest.approx(2 / 3)


def test_key_monitored_quarterly_always_uses_the_quarter(campaign) -> None:
    inst = [
        dict(
            institution_id="K1",
            institution_name="甲",
            county_code=A,
            institution_type="公立医疗机构",
            key_monitored=True,
        ),
        dict(
            institution_id="K2",
            institution_name="乙",
            county_code=A,
            institution_type="公立医疗机构",
            key_monitored=True,
        ),
        dict(
            institution_id="H3",
            institution_name="丙",
            county_code=A,
            institution_type="定点零售药店",
            key_monitored=False,
        ),
    ]
    insp = [
        dict(
            inspection_id="i1",
            county_code=A,
            institution_id="K1",
            method="日常巡查",
            inspection_date="2025-08-01",
        ),
        dict(
            inspection_id="i2",
            county_code=A,
            institution_id="K1",
            method="日常巡查",
            inspection_date="2025-09-01",
        ),
        dict(
            inspection_id="i3",
            county_code=A,
            institution_id="H3",
            method="日常巡查",
            inspection_date="2025-08-01",
        ),
        dict(
            inspection_id="i4",
            county_code=A,
            institution_id="K2",
            method="日常巡查",
            inspection_date="2025-06-01",
        ),
    ]
    r = kpi(
        make_ledgers(institutions=inst, inspections=insp),
        campaign,
        "key_monitored_quarterly",
        span="ytd",
    )
    # Q3 (Jul–Sep) even though the span asked is YTD: K1 inspected, K2 only in June → 1 / 2
    assert (r["window_start"], r["window_end"]) == ("2025-07", "2025-09")
    assert r["value"] == pytest.approx(0.5)


def test_complaint_handling_and_quarter_rollup_sums_not_averages(campaign) -> None:
    complaints = [
        dict(
            complaint_id="j1", county_code=A, received_date="2025-07-02", closed_date="2025-07-20"
        ),
        dict(
            complaint_id="j2", county_code=A, received_date="2025-08-02", closed_date="2025-08-03"
        ),
        dict(complaint_id="j3", county_code=A, received_date="2025-08-05"),
        dict(complaint_id="j4", county_code=A, received_date="2025-08-06"),
    ]
    led = make_ledgers(complaints=complaints)
    jul = kpi(led, campaign, "complaint_handling_rate", "2025-07", "month")
    aug = kpi(led, campaign, "complaint_handling_rate", "2025-08", "month")
    sep = kpi(led, campaign, "complaint_handling_rate", "2025-09", "month")
    q3 = kpi(led, campaign, "complaint_handling_rate", "2025-09", "quarter")
    # July 1/1 = 1.0; August 1/3; September 0/0 → missing
    assert jul["value"] == pytest.approx(1.0) and aug["value"] == pytest.approx(1 / 3)
    assert nan(sep["value"])
    # The quarter is (1 + 1) / (1 + 3) = 0.5, not the mean of monthly rates (0.667)
    assert (q3["numerator"], q3["denominator"]) == (2, 4) and q3["value"] == pytest.approx(0.5)


def test_monthly_exposure(campaign) -> None:
    acts = [
        dict(
            county_code=A, month=f"2025-{m:02d}", activity="典型案例报送", count=0 if m == 4 else 1
        )
        for m in range(1, 8)
    ]
    r = kpi(make_ledgers(activities=acts), campaign, "monthly_exposure")
    # Jan–Sep has 9 months; reported with ≥ 1 case in Jan–Mar, May–Jul → 6 / 9
    assert (r["numerator"], r["denominator"]) == (6, 9)
    assert r["value"] == pytest.approx(6 / 9)


def test_report_reward_rule_from_parameters(campaign) -> None:
    assert (campaign.param("reward_rate"), campaign.param("reward_cap")) == (0.02, 100000)
    cases = [
        dict(
            case_id="a",
            county_code=A,
            found_date="2025-01-02",
            status="已结案",
            lead_source="举报投诉",
            closed_date="2025-03-01",
            amount_recovered=10_000.0,
        ),
        dict(
            case_id="b",
            county_code=A,
            found_date="2025-01-02",
            status="已结案",
            lead_source="举报投诉",
            closed_date="2025-04-01",
            amount_recovered=10_000_000.0,
        ),
        dict(
            case_id="c",
            county_code=A,
            found_date="2025-01-02",
            status="已结案",
            lead_source="智能监控",
            closed_date="2025-04-01",
            amount_recovered=50_000.0,
        ),
    ]
    complaints = [
        dict(
            complaint_id="j1",
            county_code=A,
            received_date="2025-01-01",
            closed_date="2025-03-05",
            reward_paid=200.0,
            case_id="a",
        ),
        dict(
            complaint_id="j2",
            county_code=A,
            received_date="2025-01-01",
            closed_date="2025-05-05",
            reward_paid=50_000.0,
            case_id="b",
        ),
        dict(  # a reward on a complaint that names no case: nothing to compare it with
            complaint_id="j3",
            county_code=A,
            received_date="2025-01-01",
            closed_date="2025-05-05",
            reward_paid=300.0,
        ),
    ]
    r = kpi(make_ledgers(cases=cases, complaints=complaints), campaign, "report_reward")
    # both sides on the cases a complaint names (a ← j1, b ← j2):
    # due: min(10,000 × 2%, 100,000) + min(10,000,000 × 2%, 100,000) = 200 + 100,000;
    # case c has no complaint, no reward; j3 names no case. paid: 200 + 50,000.
    assert r["denominator"] == pytest.approx(100_200)
    assert r["numerator"] == pytest.approx(50_200)
    assert r["value"] == pytest.approx(50_200 / 100_200)
    assert nan(r["target"])  # 002 sets no target for this one


def test_data_sharing_departments_takes_the_maximum(campaign) -> None:
    acts = [
        dict(county_code=A, month=m, activity="数据共享部门", count=c)
        for m, c in (("2025-03", 5), ("2025-04", 8), ("2025-05", 7), ("2025-06", 12))
    ]
    r = kpi(make_ledgers(activities=acts), campaign, "data_sharing_departments")
    assert r["value"] == 12 and bool(r["met"])  # max(5, 8, 7, 12) = 12 ≥ 12, not the sum 32


def test_empty_period_gives_zero_counts_and_missing_ratios(campaign) -> None:
    counties, city = compute_kpis(make_ledgers(), campaign, "2023-01", ("month",))
    assert len(counties) == 2 * len(campaign.indicators)
    by = counties[counties["county_code"] == A].set_index("indicator")
    assert by.loc["case_count", "value"] == 0
    assert nan(by.loc["fund_recovery_rate", "value"])
    assert nan(by.loc["case_count_yoy", "value"])  # 0 / 0 − 1 is missing too
    assert not np.isinf(counties["value"].astype(float)).any()


def test_city_ratio_is_ratio_of_sums(campaign) -> None:
    complaints = [
        dict(
            complaint_id=f"a{i}",
            county_code=A,
            received_date="2025-03-01",
            closed_date="2025-03-02" if i < 1 else None,
        )
        for i in range(2)
    ] + [
        dict(
            complaint_id=f"b{i}",
            county_code=B,
            received_date="2025-03-01",
            closed_date="2025-03-02",
        )
        for i in range(8)
    ]
    led = make_ledgers(complaints=complaints)
    city = kpi(led, campaign, "complaint_handling_rate", county=None)
    # A: 1/2 = 0.5, B: 8/8 = 1.0; city (1 + 8) / (2 + 8) = 0.9, not the mean 0.75
    assert city["value"] == pytest.approx(0.9)
    assert city["county_name"] == "测试市"


def test_trend_is_monthly(campaign) -> None:
    complaints = [
        dict(
            complaint_id="j1", county_code=A, received_date="2025-07-02", closed_date="2025-07-20"
        ),
        dict(complaint_id="j2", county_code=A, received_date="2025-08-02"),
    ]
    tr = trend(
        make_ledgers(complaints=complaints),
        campaign,
        "complaint_handling_rate",
        "2025-07",
        "2025-09",
        county=A,
    )
    assert tr["period"].tolist() == ["2025-07", "2025-08", "2025-09"]
    assert tr["value"].iloc[0] == pytest.approx(1.0) and tr["value"].iloc[1] == 0.0
    assert nan(tr["value"].iloc[2])


# --------------------------------------------------------------------------- targets


def test_compare_and_safe_ratio() -> None:
    v = np.array([0.9, 0.3 - 1e-12, np.nan, 1.0])
    assert compare(v, ">=", 0.3).tolist()[:2] == [1.0, 1.0]  # float noise tolerated
    assert math.isnan(compare(v, ">=", 0.3)[2])
    assert compare(np.array([-0.4, -0.2]), "<=", -0.3).tolist() == [1.0, 0.0]
    assert compare(np.array([0.0, 1.0]), "<", 0.0).tolist() == [0.0, 0.0]
    out = safe_ratio(np.array([1.0, 0.0, 5.0]), np.array([0.0, 0.0, 2.0]))
    assert math.isnan(out[0]) and math.isnan(out[1]) and out[2] == 2.5


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.floats(-1e9, 1e9), st.just(math.nan)),
            st.one_of(st.floats(-1e9, 1e9), st.just(0.0), st.just(math.nan)),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_safe_ratio_never_infinite(pairs) -> None:
    num, den = (np.array(x, dtype=float) for x in zip(*pairs))
    out = safe_ratio(num, den)
    assert not np.isinf(out).any()
    assert np.isnan(out[den == 0]).all()


# --------------------------------------------------------------------------- milestones


def test_project_linear() -> None:
    y = np.array(
        [
            [0.30, 0.35, 0.40, 0.45, 0.50, 0.55, 0.60],
            [0.50, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan],
            [np.nan] * 7,
            [1.0, np.nan, 0.8, np.nan, 0.6, np.nan, 0.4],
        ]
    )
    got = project_linear(y, np.arange(7.0), 8.0)
    # row 0: +0.05 a month → 0.60 + 2 × 0.05 = 0.70; row 1: one point → flat 0.5;
    # row 2: nothing → missing; row 3: −0.1 a month on the points present → 0.4 − 0.2 = 0.2
    assert got[0] == pytest.approx(0.70) and got[1] == pytest.approx(0.5)
    assert math.isnan(got[2]) and got[3] == pytest.approx(0.2)
    # No points at all (a period before the campaign starts): missing, not an IndexError.
    assert np.isnan(project_linear(np.zeros((3, 0)), np.arange(0.0), 8.0)).all()


def test_milestones_before_the_campaign_have_no_data(campaign) -> None:
    """January 2025 lies before the campaign (March): every milestone is 暂无 (no data), no
    county is on the lagging list, and nothing raises."""
    ev = evaluate(_milestone_ledgers(), "2025-01", campaign, uncertainty_samples=0)
    assert len(ev.milestones) and set(ev.milestones["status"]) == {"no_data"}
    assert ev.milestones["as_of"].isna().all()
    assert ev.lagging.empty


def _milestone_ledgers():
    # Rectification items, 10 due each month March–September 2025 (the campaign starts in
    # March). County A closes 3, 4, 5, …, 9 of each month's 10, so the cumulative completion is
    # 3/10, 7/20, 12/30, 18/40, 25/50, 33/60, 42/70 = 0.30, 0.35, …, 0.60 (+0.05 a month).
    # County B closes everything.
    rect = []
    for k, month in enumerate(range(3, 10)):
        for i in range(10):
            rect.append(
                dict(
                    issue_id=f"a{month}-{i}",
                    county_code=A,
                    found_date="2025-03-01",
                    deadline=f"2025-{month:02d}-15",
                    status="已销号" if i < 3 + k else "整改中",
                )
            )
            rect.append(
                dict(
                    issue_id=f"b{month}-{i}",
                    county_code=B,
                    found_date="2025-03-01",
                    deadline=f"2025-{month:02d}-15",
                    status="已销号",
                )
            )
    # Data sharing: A reaches 12 departments in June; B reports nothing.
    acts = [
        dict(county_code=A, month="2025-05", activity="数据共享部门", count=9),
        dict(county_code=A, month="2025-06", activity="数据共享部门", count=12),
    ]
    return make_ledgers(rectifications=rect, activities=acts)


def test_milestone_status_and_projection(campaign) -> None:
    eng = MeasureEngine(_milestone_ledgers())
    ms = milestone_frame(eng, campaign, "2025-09").set_index(["county_code", "milestone"])
    a = ms.loc[(A, "rectification_100")]
    # A's cumulative completion at September is 0.60; the trend of +0.05 a month projects
    # 0.60 + 2 × 0.05 = 0.70 at November (the 2025-11-30 deadline) → short of 100%: lagging
    assert a["current_value"] == pytest.approx(0.60)
    assert a["projected_value"] == pytest.approx(0.70)
    assert a["status"] == LAGGING and a["months_left"] == 2
    assert ms.loc[(B, "rectification_100"), "status"] == MET
    # The June deadline has passed: A had 12 departments → met; B reported none (0) → missed
    assert ms.loc[(A, "data_sharing_12"), "status"] == MET
    assert ms.loc[(B, "data_sharing_12"), "status"] == MISSED
    assert ms.loc[(B, "data_sharing_12"), "as_of"] == "2025-06"
    # Nobody has rectification money: violation recovery cannot be judged
    assert ms.loc[(A, "violation_recovery_95"), "status"] == NO_DATA


def test_coverage_milestone_counts_the_cross_check_phase_only(campaign) -> None:
    """002: 交叉检查（2025年6-8月）……检查覆盖率不低于30%. Ten institutions in A; four inspected
    in April–May (before the phase) and two in July: the phase's coverage is 2/10 = 20 %
    (missed at the August deadline), not the campaign's 6/10."""
    inst = [
        dict(institution_id=f"H{i}", county_code=A, institution_name=f"医院{i}") for i in range(10)
    ]
    insp = [
        dict(inspection_id=f"x{i}", county_code=A, institution_id=f"H{i}", inspection_date=d)
        for i, d in enumerate(
            ["2025-04-10", "2025-04-20", "2025-05-05", "2025-05-25", "2025-07-01", "2025-07-15"]
        )
    ]
    eng = MeasureEngine(make_ledgers(institutions=inst, inspections=insp))
    ms = milestone_frame(eng, campaign, "2025-09").set_index(["county_code", "milestone"])
    row = ms.loc[(A, "inspection_coverage_30")]
    assert row["span"] == "phase:cross_check" and row["as_of"] == "2025-08"
    # what the value covers, said so, with the month as every document writes one
    assert row["basis"] == "交叉检查阶段（截至2025年8月）"
    assert row["current_value"] == pytest.approx(0.2)
    assert row["status"] == MISSED
    # before the phase there is nothing to judge yet; in July, 2/10 so far
    early = milestone_frame(eng, campaign, "2025-05").set_index(["county_code", "milestone"])
    assert early.loc[(A, "inspection_coverage_30"), "status"] == NO_DATA
    july = milestone_frame(eng, campaign, "2025-07").set_index(["county_code", "milestone"])
    assert july.loc[(A, "inspection_coverage_30"), "current_value"] == pytest.approx(0.2)


def test_milestone_projection_can_be_on_track(campaign) -> None:
    # Completion 0.80, 0.90 in Aug, Sep? Build: 10 due in August (8 closed), 10 due in
    # September (all closed): cumulative Aug 8/10 = 0.8, Sep 18/20 = 0.9 (+0.1 a month);
    # the months before August have nothing due (missing), so the trend uses two points:
    # 0.9 + 2 × 0.1 = 1.1, capped by the indicator's bounds at 1.0 → on track.
    rect = [
        dict(
            issue_id=f"x{i}",
            county_code=A,
            found_date="2025-03-01",
            deadline="2025-08-15",
            status="已销号" if i < 8 else "整改中",
        )
        for i in range(10)
    ]
    rect += [
        dict(
            issue_id=f"y{i}",
            county_code=A,
            found_date="2025-03-01",
            deadline="2025-09-15",
            status="已销号",
        )
        for i in range(10)
    ]
    ms = milestone_frame(MeasureEngine(make_ledgers(rectifications=rect)), campaign, "2025-09")
    row = ms.set_index(["county_code", "milestone"]).loc[(A, "rectification_100")]
    assert row["current_value"] == pytest.approx(0.9)
    assert row["projected_value"] == pytest.approx(1.0)
    assert row["status"] == "on_track"


def test_lagging_list_reasons(campaign) -> None:
    eng = MeasureEngine(_milestone_ledgers())
    ms = milestone_frame(eng, campaign, "2025-09")
    counties, _ = compute_kpis(eng, campaign, "2025-09", ("ytd",))
    lag = lagging_frame(ms, counties)
    assert set(lag["county_code"]) == {A, B}
    a = lag.set_index("county_code").loc[A]
    b = lag.set_index("county_code").loc[B]
    # A lags on rectification only (data sharing met); B missed the data-sharing milestone
    assert a["n_milestones"] == 1 and b["n_milestones"] == 1
    assert "问题整改完成率达100%" in a["milestones"]
    assert "与12个部门常态化数据交换" in b["milestones"]
    # the reasons carry the numbers: current 60.0%, projected 70.0%
    assert "60.0%" in a["reasons"] and "70.0%" in a["reasons"]
    assert "活动开始至今（截至2025年9月）为60.0%" in a["reasons"]  # not a bare 当前
    # the target as every face writes it (fmt.target_text), no space after ≥
    assert "“问题整改完成率达100%”（≥100.0%）" in a["reasons"]
    assert a["county_name"] == "甲县"
    assert a["n_missed_targets"] >= 1


# --------------------------------------------------------------------------- periods, facade


def test_latest_complete_period_from_dates() -> None:
    led = make_ledgers(
        leads=[dict(lead_id="l", county_code=A, received_date="2025-09-30", check_status="属实")]
    )
    assert latest_complete_period(led) == "2025-09"  # 30 September is the month's last day
    led = make_ledgers(
        leads=[dict(lead_id="l", county_code=A, received_date="2025-10-12", check_status="属实")]
    )
    assert latest_complete_period(led) == "2025-09"  # October is still open
    assert latest_complete_period(make_ledgers()) is None
    # Deadlines lie in the future by nature: they never make a month complete.
    led = make_ledgers(
        rectifications=[
            dict(
                issue_id="r",
                county_code=A,
                found_date="2025-09-30",
                deadline="2026-03-31",
                status="整改中",
            )
        ]
    )
    assert latest_complete_period(led) == "2025-09"


def test_latest_complete_period_from_submissions() -> None:
    subs = pd.DataFrame(
        {
            "county_code": [A, B, A, A, B],
            "period": ["2025-08", "2025-08", "2025-09", "2025-10", "2025-10"],
            "status": ["有效", "有效", "有效", "有效", "已被替换"],
        }
    )
    # September lacks B; October's B file was replaced (not live) → August is the newest
    # month every county has in
    assert latest_complete_period(make_ledgers(), subs) == "2025-08"


def test_evaluate_facade(campaign) -> None:
    ev = evaluate(_milestone_ledgers(), "2025-09", campaign, uncertainty_samples=20)
    assert set(ev.kpis["span"]) == {"ytd"}
    assert set(ev.kpis_all["span"]) == {"month", "quarter", "ytd", "ctd", "r12"}
    assert set(ev.kpis["county_code"]) == {A, B}
    assert list(ev.city_kpis["county_code"].unique()) == ["city"]
    assert set(ev.index) == set(campaign.hierarchies)
    assert set(ev.lagging["county_code"]) == {A, B}
    assert ev.phase == "重点抽查"  # 2025-09-30 falls in the key-check phase (Sep–Oct)
    html = ev._repr_html_()
    assert "进度滞后" in html and "甲县" in html
    tr = ev.trend("rectification_completion", A, start="2025-03")
    assert tr["period"].iloc[0] == "2025-03" and tr["period"].iloc[-1] == "2025-09"
    assert ev.plot_kpi("rectification_completion").data
    assert ev.plot_trend("rectification_completion").data
    assert ev.plot_milestones() is not None
    wide = ev.kpi_wide()
    assert wide.loc[A, "rectification_completion"] == pytest.approx(0.6)


@pytest.mark.parametrize("city", [False, True])
def test_all_spans_table_is_the_per_span_tables(campaign, city: bool) -> None:
    """The five-span table (built in one go) and each span's own table agree row for row, in
    either order of asking; each row's span and window match the span it belongs to."""
    ledgers = _milestone_ledgers()
    first = evaluate(ledgers, "2025-09", campaign, uncertainty_samples=0)
    every = first.city_kpis_all if city else first.kpis_all
    second = evaluate(ledgers, "2025-09", campaign, uncertainty_samples=0)
    alone = [second.kpis_for(s, city=city) for s in SPANS]  # built span by span
    pd.testing.assert_frame_equal(every, pd.concat(alone, ignore_index=True))
    for s in SPANS:
        pd.testing.assert_frame_equal(first.kpis_for(s, city=city), second.kpis_for(s, city=city))
        part = every[every["span"] == s]
        assert len(part) == len(every) // len(SPANS)
    quarter = every[(every["span"] == "quarter") & (every["indicator"] == "case_count")]
    assert set(quarter["window_start"]) == {"2025-07"} and set(quarter["window_end"]) == {"2025-09"}


def test_index_matrix_from_arrays_is_the_pivoted_table() -> None:
    """The composite's input taken straight from the indicator arrays equals the documented
    way: filter the long KPI table to the hierarchy's span and pivot it."""
    from workbench import scoring

    for name in ("campaign_2025", "no_fraud_city"):
        iset = load_set(name)
        ev = evaluate(_milestone_ledgers(), "2025-09", iset, uncertainty_samples=0)
        for code in iset.hierarchies:
            want = scoring.data_matrix(ev.kpis_all, iset, code)
            pd.testing.assert_frame_equal(ev._index_data(code), want)


def test_no_policy_numbers_in_python() -> None:
    """Thresholds and targets come from YAML: the KPI code must not hard-code them."""
    import inspect

    import workbench.indicators as mod_ind
    import workbench.measures as mod_meas
    import workbench.scoring as mod_score

    for mod in (mod_ind, mod_meas, mod_score):
        src = inspect.getsource(mod)
        for literal in ("5000", "0.95", "0.9,", "100000", "0.02", "2025-11-30", "0.30"):
            assert literal not in src, (mod.__name__, literal)


def test_demo_city_lagging_counties_are_on_the_list(campaign) -> None:
    """End to end on the demo city, whose generator makes some counties lag on purpose."""
    from workbench import demo

    city = demo.generate_city(seed=1)
    ev = evaluate(city.frames, "latest", campaign, uncertainty_samples=0)
    assert ev.period == "2025-12"  # the demo's ledgers run to December 2025
    flagged = set(ev.lagging["county_code"])
    assert set(city.lagging) <= flagged
    # the generator makes them miss every milestone it plants (recovery, rectification,
    # cross-check coverage, data sharing)
    per = ev.milestones[ev.milestones["county_code"].isin(city.lagging)]
    assert set(per["status"]) <= {"lagging", "missed"}


def test_trends_for_all_counties_match_each_county_and_the_city(campaign) -> None:
    """The all-counties table holds each county's own series and the city's, month by month;
    an unknown county is an error, never an empty series."""
    ev = evaluate(_milestone_ledgers(), "2025-09", campaign, uncertainty_samples=0)
    tab = ev.trends("rectification_completion", start="2025-03")
    assert list(dict.fromkeys(tab["county_code"])) == [A, B, "city"]
    for code in (A, B, None):
        own = ev.trend("rectification_completion", code, start="2025-03")
        part = tab[tab["county_code"] == (code or "city")].drop(columns="county_code")
        pd.testing.assert_frame_equal(part.reset_index(drop=True), own)
    # County A closes 3, 4, …, 9 of each month's 10 items (see _milestone_ledgers): month by
    # month 0.3 … 0.9; campaign to date 3/10, 7/20, …, 42/70 = 0.30, 0.35, …, 0.60.
    a = tab[(tab["county_code"] == A)]
    assert a["period"].tolist() == [f"2025-{m:02d}" for m in range(3, 10)]
    assert a["value"].tolist() == pytest.approx([0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    # The same numbers as arrays: counties in order, the city last.
    arr = ev.trend_arrays("rectification_completion", start="2025-03")
    assert list(arr.counties) == [A, B] and arr.periods == a["period"].tolist()
    assert arr.value[0].tolist() == pytest.approx([0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    for col in ("numerator", "denominator", "value", "target"):
        np.testing.assert_array_equal(getattr(arr, col).reshape(-1), tab[col].to_numpy(float))
    ctd = ev.trends("rectification_completion", span="ctd", start="2025-03")
    assert ctd[ctd["county_code"] == A]["value"].tolist() == pytest.approx(
        [0.30, 0.35, 0.40, 0.45, 0.50, 0.55, 0.60]
    )
    with pytest.raises(KeyError):
        ev.trend("rectification_completion", "999999")


def test_sets_on_one_engine_share_only_indicators_computed_alike() -> None:
    """no_fraud_city includes campaign_2025: on one engine its copies of the campaign's
    indicators are the campaign's own arrays, and every number equals a fresh engine's; a set
    that changes a measure behind an indicator of the same code gets its own numbers."""
    import dataclasses

    from workbench.demo import generate_city
    from workbench.indicators import CURRENT, compute_points

    city = generate_city(4, end="2025-09")
    camp, nfc = load_set("campaign_2025"), load_set("no_fraud_city")
    end = month_index("2025-09")
    pts = [(s, end) for s in SPANS]
    eng = MeasureEngine(city.frames)
    first, second = compute_points(eng, camp, pts), compute_points(eng, nfc, pts)
    alone = compute_points(MeasureEngine(city.frames), nfc, pts)
    for code in nfc.indicators:
        for role in second.roles:
            for got, want in zip(second.arrays[code][role], alone.arrays[code][role]):
                np.testing.assert_array_equal(got, want, err_msg=code)
            for got, want in zip(second.city[code][role], alone.city[code][role]):
                np.testing.assert_array_equal(got, want, err_msg=code)
    assert all(second.arrays[c][CURRENT][2] is first.arrays[c][CURRENT][2] for c in camp.indicators)
    # the same code over a measure without its filter: not taken from the memo
    ind = camp.indicators["case_detection_rate"]
    num = camp.measures[ind.numerator[0]]
    looser = dataclasses.replace(
        camp, measures={**camp.measures, num.code: dataclasses.replace(num, where=())}
    )
    third = compute_points(eng, looser, pts)
    fresh = compute_points(MeasureEngine(city.frames), looser, pts)
    np.testing.assert_array_equal(
        third.arrays["case_detection_rate"][CURRENT][0],
        fresh.arrays["case_detection_rate"][CURRENT][0],
    )
    assert not np.array_equal(
        third.arrays["case_detection_rate"][CURRENT][0],
        first.arrays["case_detection_rate"][CURRENT][0],
    )


def test_a_relative_target_stays_within_the_declared_bounds() -> None:
    """案件查处率 is held to its base-year value × 1.2, but a 查处率 is at most 100% (declared
    `bounds: [0, 1]`): 东湖区's December 2024 was 11/11 = 100%, so December 2025's target is
    100%, not 120%; 云台县's 12/10 = 120% (cases closed from earlier months' leads) also asks
    for 100%, not 144%; a base of 50% asks for 60% as before; no base, no target. The ⓘ text
    says the target was capped instead of back-computing a base of 83.3%."""
    from workbench.indicators import CURRENT, Values, target_values
    from workbench.presentation.definitions import derivation_text, facts

    iset = load_set("campaign_2025")
    ind = iset.indicators["case_detection_rate"]
    role = ind.target.baseline.key
    base = np.array([[1.0], [1.2], [0.5], [np.nan]])
    now = np.full_like(base, 0.3)
    values = Values(
        points=[("month", 0)],
        counties=pd.Index(["990101", "990106", "990107", "990108"]),
        roles=[CURRENT, role],
        arrays={ind.code: {CURRENT: (now, now, now), role: (base, base, base)}},
        city={},
    )
    got = target_values(ind, values)
    assert got[:3, 0].tolist() == pytest.approx([1.0, 1.0, 0.6])
    assert math.isnan(got[3, 0])
    fact = facts(iset).set_index("indicator").loc["case_detection_rate"].to_dict()
    capped = derivation_text(fact, {"target": 1.0, "period": "2025-12"})
    assert capped == "相对目标：2024年同期值×（1＋20.0%）超出指标可能的范围，以100.0%为限。"
    plain = derivation_text(fact, {"target": 0.6, "period": "2025-12"})
    assert plain == "相对目标：2024年同期值50.0%×（1＋20.0%）＝60.0%。"
