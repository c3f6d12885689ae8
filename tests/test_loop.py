"""The supervision loop (issue 13): linked ledgers, contradictions refused at the cell, 行刑衔接
as the rules define it, counting each matter once, the 约谈 list by declared criteria and its
follow-up, time limits, the new registers, and old warehouses that predate all of it.

Expected values are worked out by hand in the comments; contract-driven checks build their
expectations from the contract definitions, never from the validator's output."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from tests.ingest_corpus import VALID_ROWS
from tests.test_measures import A, B, make_ledgers
from workbench import demo
from workbench.contracts import LEDGERS, Field, Forbidden, Ledger, When
from workbench.declarations import load_set
from workbench.indicators import (
    LAGGING_COLUMNS,
    TalkCriteria,
    compute_kpis,
    index_root,
    lagging_frame,
    talk_criteria,
)
from workbench.ingest import ingest_paths
from workbench.messages import catalogue, t
from workbench.presentation import lists
from workbench.results import evaluate
from workbench.warehouse import UPGRADES, Warehouse

FILE = "990101_测试县_2025-09.xlsx"


@pytest.fixture(scope="module")
def campaign():
    return load_set("campaign_2025")


def write_book(folder: Path, rows: dict[str, list[dict]]) -> Path:
    """One workbook: every ledger up to the last one named, each with its valid row, then the
    rows given for it (fields left out are blank)."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    last = max(list(LEDGERS).index(n) for n in rows)
    for name, lg in list(LEDGERS.items())[: last + 1]:
        ws = wb.create_sheet(lg.title)
        ws.append([f.header for f in lg.fields])
        ws.append([VALID_ROWS[name][f.name] for f in lg.fields])
        for row in rows.get(name, []):
            ws.append([row.get(f.name) for f in lg.fields])
    path = folder / FILE
    wb.save(path)
    return path


def valid(name: str, n: int, **changes: object) -> dict:
    """The valid row of a ledger with its key made unique (`…-n`), then `changes`."""
    row = dict(VALID_ROWS[name])
    for k in LEDGERS[name].key:
        row[k] = f"{row[k]}-{n}"
    row.update(changes)
    return row


def findings(report) -> set[tuple]:
    return {
        (r.sheet, int(r.row), r.column, r.code, r.severity)
        for r in report.issues.itertuples()
        if r.row == r.row and r.row is not None
    }


# ---------------------------------------------------------------------------------------------
# Contracts: every reference points back, no field twice, rules name real fields


def test_every_reference_points_to_an_earlier_ledger() -> None:
    order = list(LEDGERS)
    for name, lg in LEDGERS.items():
        for ref in lg.references:
            assert order.index(ref.target) < order.index(name), (name, ref.field)
            assert ref.target_field in LEDGERS[ref.target].key


def test_the_loops_links_are_declared() -> None:
    refs = {(n, r.field): r.target for n, lg in LEDGERS.items() for r in lg.references}
    assert refs[("cases", "inspection_id")] == "inspections"
    assert refs[("complaints", "case_id")] == "cases"
    assert refs[("leads", "case_id")] == "cases"
    assert refs[("leads", "complaint_id")] == "complaints"
    assert refs[("leads", "inspection_id")] == "inspections"
    assert refs[("rectifications", "inspection_id")] == "inspections"
    assert refs[("rectifications", "case_id")] == "cases"
    for name in ("self_inspections", "talks", "staff_points", "agency_breaches"):
        assert name in LEDGERS
    # the screening branch's lead due date is the one due date of a lead
    assert [f.name for f in LEDGERS["leads"].fields].count("due_date") == 1


def test_a_field_twice_or_a_rule_on_no_field_is_refused() -> None:
    f = Field("a", "甲")
    with pytest.raises(ValueError, match="twice"):
        Ledger("x", "X", (f, f), key=("a",))
    with pytest.raises(ValueError, match="unknown fields"):
        Ledger(
            "x",
            "X",
            (f,),
            key=("a",),
            forbidden=(Forbidden("a", "b", (When("b", filled=True),), "E_X"),),
        )
    with pytest.raises(ValueError):
        When("a")  # neither values nor filled


# ---------------------------------------------------------------------------------------------
# Contradictions refused at the cell, with the right code


def test_contradictions_are_refused_at_the_cell(tmp_path: Path) -> None:
    rows = [
        # row 3: closed with no action, yet marked referred
        valid("cases", 3, outcome="不予处理", referred_police="是", suspected_crime="否"),
        # row 4: closed with a talk, yet marked referred
        valid("cases", 4, outcome="约谈", referred_police="是", suspected_crime="否"),
        # row 5: referred the day before it was filed (filed 2025-09-03)
        valid("cases", 5, referral_date=dt.date(2025, 9, 2)),
        # row 6: outcome 移送公安 but 是否移送公安 = 否 (and so no referral date or feedback)
        valid(
            "cases",
            6,
            referred_police="否",
            referral_date=None,
            police_feedback=None,
            police_feedback_date=None,
        ),
        # row 7: a police answer on a case never referred
        valid(
            "cases",
            7,
            outcome="拒付追回",
            referred_police="否",
            suspected_crime="否",
            referral_date=None,
        ),
        # row 8: warnings only — 涉嫌犯罪, closed, not referred (accepted, flagged)
        valid(
            "cases",
            8,
            outcome="拒付追回",
            referred_police="否",
            referral_date=None,
            police_feedback=None,
            police_feedback_date=None,
        ),
    ]
    report = ingest_paths([write_book(tmp_path, {"cases": rows})], tmp_path / "wh.duckdb")
    got = findings(report)
    sheet = "案件台账"
    expected = {
        (sheet, 3, "是否移送公安", "E_REFERRED_BUT_NO_ACTION", "error"),
        (sheet, 4, "是否移送公安", "E_REFERRED_BUT_NO_ACTION", "error"),
        (sheet, 5, "移送公安日期", "E_REFERRAL_BEFORE_FILED", "error"),
        (sheet, 6, "是否移送公安", "E_OUTCOME_REFERRED_NOT_MARKED", "error"),
        (sheet, 7, "公安反馈结果", "E_FEEDBACK_NOT_REFERRED", "error"),
        (sheet, 8, "是否涉嫌犯罪", "W_CRIME_NOT_REFERRED", "warning"),
    }
    assert expected <= got, expected - got
    # rows 3–7 quarantined; the valid row and the warning-only row 8 accepted
    assert (report.accepted["cases"], report.quarantined["cases"]) == (2, 5)
    messages = report.issues.loc[report.issues["code"] == "E_REFERRED_BUT_NO_ACTION", "message"]
    assert all("不予处理" in m or "约谈" in m for m in messages)


def _satisfying(lg: Ledger, fb: Forbidden, n: int) -> dict:
    """A copy of the valid row made to meet every condition of `fb` (from the contract)."""
    row = valid(lg.name, n)
    for w in fb.when:
        f = lg.field(w.field)
        if not w.values:
            row[w.field] = VALID_ROWS[lg.name][w.field] if w.filled else None
            continue
        if f.type == "bool":
            truth = bool(w.values[0]) != w.negate
            row[w.field] = "是" if truth else "否"
        elif not w.negate:
            row[w.field] = w.values[0]
        elif f.type in ("int", "yuan"):
            row[w.field] = max(float(v) for v in w.values) + 1
        else:
            row[w.field] = next(v for v in f.enum if v not in w.values)
    return row


@pytest.mark.parametrize("name", [n for n, lg in LEDGERS.items() if lg.forbidden], ids=lambda n: n)
def test_every_forbidden_rule_is_reported_at_its_cell(name: str, tmp_path: Path) -> None:
    """Driven by the contracts: one row per Forbidden rule, meeting all its conditions; the
    rule's code must be reported at that row, in the column of the rule's field."""
    lg = LEDGERS[name]
    rows = [_satisfying(lg, fb, i + 3) for i, fb in enumerate(lg.forbidden)]
    report = ingest_paths([write_book(tmp_path, {name: rows})], tmp_path / "wh.duckdb")
    got = {(s, r, c, code) for s, r, c, code, _sev in findings(report)}
    for i, fb in enumerate(lg.forbidden):
        want = (lg.title, i + 3, lg.field(fb.field).header, fb.code)
        assert want in got, (fb.code, sorted(x for x in got if x[1] == i + 3))
    sev = {code: s for _sh, _r, _c, code, s in findings(report)}
    for fb in lg.forbidden:
        assert sev[fb.code] == fb.severity
    assert all(f"ingest.code.{fb.code}" in catalogue() for fb in lg.forbidden)


# ---------------------------------------------------------------------------------------------
# Links validated as references, in the same file and against what is loaded


def test_links_are_checked_like_references(tmp_path: Path) -> None:
    rows = {
        # the case names an inspection no ledger has (row 3); row 4 names the file's own
        "cases": [
            valid("cases", 3, inspection_id="JC-不存在"),
            valid("cases", 4),
        ],
        # a complaint naming a case of this file (AJ-2025-0001-4, row 4 above) is fine
        "complaints": [
            valid("complaints", 3, case_id="AJ-2025-0001-4"),
            valid("complaints", 4, case_id="AJ-不存在"),
        ],
        "leads": [
            valid("leads", 3, complaint_id="JB-2025-0001-3"),
            valid("leads", 4, complaint_id="JB-不存在", inspection_id="JC-不存在"),
        ],
        "rectifications": [valid("rectifications", 3, case_id="AJ-不存在")],
    }
    report = ingest_paths([write_book(tmp_path, rows)], tmp_path / "wh.duckdb")
    got = {(s, r, c, code) for s, r, c, code, _ in findings(report)}
    assert {
        ("案件台账", 3, "来源检查编号", "E_UNKNOWN_INSPECTION"),
        ("投诉举报台账", 4, "关联案件编号", "E_UNKNOWN_CASE"),
        ("疑点线索台账", 4, "来源举报编号", "E_UNKNOWN_COMPLAINT"),
        ("疑点线索台账", 4, "来源检查编号", "E_UNKNOWN_INSPECTION"),
        ("问题整改台账", 3, "关联案件编号", "E_UNKNOWN_CASE"),
    } <= got
    assert not {x for x in got if x[:2] in {("投诉举报台账", 3), ("疑点线索台账", 3)}}
    assert report.accepted["complaints"] == 2 and report.accepted["leads"] == 2
    messages = set(report.issues["message"])
    assert any("文件「" in m and "第3行" in m and "来源检查编号" in m for m in messages)


# ---------------------------------------------------------------------------------------------
# 行刑衔接: the denominator is 涉嫌犯罪 cases


def _case(cid: str, **kw) -> dict:
    base = dict(case_id=cid, county_code=A, found_date="2025-03-01", status="调查中")
    return {**base, **kw}


REFERRAL_CASES = [
    # counted: flagged 涉嫌犯罪, not referred
    _case("a", suspected_crime=True, amount_involved=1000.0, violation_type="超标准收费"),
    # counted and referred: flagged, referred
    _case("b", suspected_crime=True, referred_police=True, amount_involved=9000.0),
    # counted: no flag, over 5,000, a typically criminal type
    _case("c", amount_involved=8000.0, violation_type="冒名就医"),
    # not counted: no flag, over 5,000, a billing violation
    _case("d", amount_involved=80000.0, violation_type="重复收费"),
    # not counted: no flag, criminal type, not over 5,000
    _case("e", amount_involved=5000.0, violation_type="假病人"),
    # not counted: flagged 否 (the flag decides when filled), though over 5,000 and criminal type
    _case("f", suspected_crime=False, amount_involved=20000.0, violation_type="假票据"),
    # counted and referred: outcome 移送公安 (a referral is treated as 涉嫌犯罪), flag 否
    _case(
        "g", status="已结案", closed_date="2025-04-01", outcome="移送公安", suspected_crime=False
    ),
    # not counted: withdrawn
    _case("h", status="已撤销", suspected_crime=True),
    # not counted: another county
    _case("i", county_code=B, suspected_crime=True),
]


def test_police_referral_rate_counts_suspected_crime_cases(campaign) -> None:
    ledgers = make_ledgers(cases=REFERRAL_CASES)
    counties, _ = compute_kpis(ledgers, campaign, "2025-06", ("ytd",), ["police_referral_rate"])
    row = counties[counties["county_code"] == A].iloc[0]
    # 涉嫌犯罪 in A: a, b, c, g → 4; referred: b, g → 2
    assert (row["numerator"], row["denominator"]) == (2, 4)
    assert row["value"] == pytest.approx(0.5)
    # the list behind the gap is exactly the counted, unreferred cases, longest waiting first
    gap = lists.shortfall_rows(ledgers, campaign, "police_referral_rate", "2025-06", A)
    assert sorted(gap["case_id"]) == ["a", "c"]
    assert (
        gap["days_waiting"] == (pd.Timestamp("2025-06-30") - pd.Timestamp("2025-03-01")).days
    ).all()
    # the lists the faces show: the same cases, with the declared 移送时限 (30 days) passed
    faced = lists.unreferred_cases(ledgers, campaign, "2025-06", A)
    assert sorted(faced["case_id"]) == ["a", "c"] and faced["past_limit"].all()
    assert lists.referral_indicator(campaign) == "police_referral_rate"


def criminal_types(iset) -> set[str]:
    """The violation types the 涉嫌犯罪 measure lists (read from the declarations)."""
    from workbench.declarations import clauses_of

    where = iset.measures["crime_cases"].where
    return set(next(c.value for c in clauses_of(where) if c.field == "violation_type"))


def test_the_criminal_types_are_declared_once(campaign) -> None:
    """The 涉嫌犯罪 measure's type list comes from YAML, and billing types are not in it."""
    types = criminal_types(campaign)
    assert {"假病人", "冒名就医", "虚构医药服务"} <= set(types)
    assert not {"超标准收费", "重复收费", "分解收费", "过度诊疗检查"} & set(types)
    assert campaign.param("police_referral_threshold") == 5000


def test_police_feedback_rate(campaign) -> None:
    cases = [
        _case("a", referred_police=True, police_feedback="立案"),
        _case("b", referred_police=True),
        _case(
            "c",
            outcome="移送公安",
            status="已结案",
            closed_date="2025-04-01",
            police_feedback="退回",
        ),
        _case("d", police_feedback="受理"),  # not referred: not in either count
    ]
    counties, _ = compute_kpis(
        make_ledgers(cases=cases), campaign, "2025-06", ("ytd",), ["police_feedback_rate"]
    )
    row = counties[counties["county_code"] == A].iloc[0]
    assert (row["numerator"], row["denominator"]) == (2, 3)  # a, c of a, b, c


# ---------------------------------------------------------------------------------------------
# Counting each matter once


def test_case_detection_rate_counts_a_lead_from_a_complaint_or_inspection_once(campaign) -> None:
    leads = [
        dict(lead_id="L1", county_code=A, received_date="2025-02-01", check_status="待核查"),
        dict(
            lead_id="L2",
            county_code=A,
            received_date="2025-02-02",
            check_status="待核查",
            complaint_id="J1",
        ),
        dict(
            lead_id="L3",
            county_code=A,
            received_date="2025-02-03",
            check_status="待核查",
            inspection_id="I1",
        ),
    ]
    complaints = [dict(complaint_id="J1", county_code=A, received_date="2025-01-20")]
    inspections = [
        dict(
            inspection_id="I1",
            county_code=A,
            institution_id="H1",
            method="飞行检查",
            inspection_date="2025-01-25",
            problems_found=2,
        )
    ]
    cases = [
        _case("x", status="已结案", closed_date="2025-03-01", outcome="拒付追回"),
    ]
    ledgers = make_ledgers(leads=leads, complaints=complaints, inspections=inspections, cases=cases)
    counties, _ = compute_kpis(ledgers, campaign, "2025-06", ("ytd",), ["case_detection_rate"])
    row = counties[counties["county_code"] == A].iloc[0]
    # matters: L1 (own lead) + J1 (complaint; L2 is that complaint) + 2 problems of I1 (L3 is
    # one of them) = 4, not 3 leads + 1 complaint + 2 problems = 6
    assert (row["numerator"], row["denominator"]) == (1, 4)


# ---------------------------------------------------------------------------------------------
# The 约谈 list by declared criteria


def _milestones(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            dict(
                county_code=c,
                county_name=c,
                milestone="m1",
                milestone_name="里程碑",
                indicator="x",
                indicator_name="某指标",
                unit="%",
                decimals=1,
                op=">=",
                target=1.0,
                deadline="2025-11-30",
                span="ctd",
                as_of="2025-09",
                basis="",
                current_value=0.5,
                projected_value=0.7,
                status=s,
            )
            for c, s in rows
        ]
    )


def _kpis(rows: list[tuple[str, str, bool, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            dict(county_code=c, county_name=c, indicator=i, indicator_name=i, met=m, deadline=d)
            for c, i, m, d in rows
        ]
    )


def test_talk_list_by_declared_criteria() -> None:
    ms = _milestones([("A", "lagging"), ("B", "on_track"), ("C", "met"), ("D", "missed")])
    kpis = _kpis(
        [
            ("B", "k1", False, None),
            ("B", "k2", False, None),
            ("B", "k3", False, "2025-11-30"),  # deadline after September: not yet unmet
            ("C", "k1", False, None),
            ("E", "k1", False, None),
            ("E", "k2", False, None),
        ]
    )
    scores = pd.DataFrame(
        dict(
            county_code=["A", "B", "C", "D", "E"],
            county_name=["A", "B", "C", "D", "E"],
            score=[80.0, 70.0, 54.1, 65.0, 90.0],
            rank=[2, 3, 5, 4, 1],
            grade=["良好", "合格", "不合格", "合格", "优秀"],
            index_name=["指数"] * 5,
        )
    )
    crit = TalkCriteria(grades=("不合格",), bottom_n=2, unmet_kpis=2, period="2025-09")
    out = lagging_frame(ms, kpis, scores, crit)
    assert list(out.columns) == LAGGING_COLUMNS
    by = out.set_index("county_code")
    # A: milestone lagging; D: milestone missed + rank 4 of 5 (last two); C: grade 不合格 + rank
    # 5; B: 2 targets not met (the third's deadline is ahead); E: 2 not met (2 ≥ 2)
    assert set(by.index) == {"A", "B", "C", "D", "E"}
    label = {k: t(f"talk.criterion.{k}") for k in ("milestones", "grade", "bottom", "unmet_kpis")}
    assert by.loc["A", "criteria"] == label["milestones"]
    assert by.loc["C", "criteria"] == f"{label['grade']}、{label['bottom']}"
    assert by.loc["D", "criteria"] == f"{label['milestones']}、{label['bottom']}"
    assert by.loc["B", "criteria"] == label["unmet_kpis"]
    assert "54.1" in by.loc["C", "reasons"] and "不合格" in by.loc["C", "reasons"]
    # most criteria first: C and D (two each, D has a milestone) before the rest
    assert list(out["county_code"][:2]) == ["D", "C"]
    # the milestones alone (what the list used to be): A and D only
    assert set(lagging_frame(ms, kpis)["county_code"]) == {"A", "D"}
    # K = 3: B has only 2 unmet once the deadline-ahead one is left out
    crit3 = dataclasses.replace(crit, unmet_kpis=3, grades=(), bottom_n=0)
    assert set(lagging_frame(ms, kpis, scores, crit3)["county_code"]) == {"A", "D"}
    # before the campaign nobody is listed
    off = dataclasses.replace(crit, active=False)
    assert lagging_frame(ms, kpis, scores, off).empty


def test_talk_criteria_come_from_the_yaml(campaign) -> None:
    crit = talk_criteria(campaign, "2025-12")
    # 约谈 on milestones from 2 lagging, or one short by 20% of its target; else 督促
    assert crit == TalkCriteria(True, ("不合格",), 1, 0, "2025-12", True, 2, 0.2)
    assert not talk_criteria(campaign, "2025-02").active  # the campaign starts in March


@pytest.fixture(scope="module")
def city() -> demo.DemoCity:
    return demo.generate_city()


@pytest.fixture(scope="module")
def city_eval(city, campaign):
    return evaluate(city.frames, "2025-12", campaign, uncertainty_samples=0)


def test_the_demo_county_graded_failing_is_on_the_list_with_its_reason(city, city_eval) -> None:
    root = index_root(city_eval.index_table, "campaign_progress")
    failing = set(root.loc[root["grade"] == "不合格", "county_code"])
    last = set(root.loc[root["rank"] == root["rank"].max(), "county_code"])
    lag = city_eval.lagging.set_index("county_code")
    assert failing and failing | last <= set(lag.index)
    for code in failing:
        assert "不合格" in lag.loc[code, "reasons"]
    assert set(city.lagging) <= set(lag.index)  # the milestone laggards stay on it


def test_the_demo_talks_close_over_the_following_months(city, city_eval) -> None:
    follow = lists.talk_list_followup(city_eval.lagging, city.frames, "2025-12")
    held = follow[follow["held"]].set_index("county_code")
    # the city talked to both lagging counties in August; one was only half done at the
    # October review and was talked to again in November, its review still ahead; the other's
    # October review recorded 整改到位, yet it missed the milestones due on 30 November: that
    # review is contradicted by later evidence, so it reads 需再次约谈, not 已整改到位
    assert set(held.index) == set(city.lagging)
    labels = set(held["followup_label"])
    assert labels == {t("talk.followup.relisted_talk"), t("talk.followup.pending")}
    again = lists.talk_followups(city.frames, "2025-12")
    county_talks = again[again["target_type"] == "区县医保部门"]
    assert list(county_talks["followup"]) == ["pending"]
    assert county_talks["review_due"].iloc[0] == pd.Timestamp("2026-01-15")


# ---------------------------------------------------------------------------------------------
# Time limits and the registers' lists


def test_overdue_lists_judge_at_the_months_end() -> None:
    cases = [
        _case("c1", filed_date="2025-03-02", due_date="2025-05-31"),  # open, overdue 30 days
        _case("c2", filed_date="2025-03-02", due_date="2025-06-30"),  # due on the last day
        _case(
            "c3",
            status="已结案",
            filed_date="2025-03-02",
            closed_date="2025-07-10",
            due_date="2025-05-01",
        ),  # closed after June: still open then, overdue 60 days
        _case(
            "c4",
            status="已结案",
            filed_date="2025-03-02",
            closed_date="2025-06-10",
            due_date="2025-05-01",
        ),  # closed in time for June's list
    ]
    leads = [
        dict(
            lead_id="l1",
            county_code=A,
            received_date="2025-05-01",
            check_status="核查中",
            due_date="2025-05-31",
        ),
        dict(
            lead_id="l2",
            county_code=A,
            received_date="2025-05-01",
            check_status="属实",
            checked_date="2025-07-02",
            due_date="2025-05-31",
        ),  # checked after June
        dict(
            lead_id="l3",
            county_code=A,
            received_date="2025-05-01",
            check_status="属实",
            checked_date="2025-06-02",
            due_date="2025-05-31",
        ),  # checked by June's end
        dict(lead_id="l4", county_code=A, received_date="2025-05-01", check_status="待核查"),
    ]
    complaints = [
        dict(complaint_id="j1", county_code=A, received_date="2025-04-01", due_date="2025-06-29"),
        dict(
            complaint_id="j2",
            county_code=A,
            received_date="2025-04-01",
            due_date="2025-06-29",
            closed_date="2025-06-29",
        ),
    ]
    led = make_ledgers(cases=cases, leads=leads, complaints=complaints)
    oc = lists.overdue_cases(led, "2025-06")
    assert list(oc["case_id"]) == ["c3", "c1"] and list(oc["days_overdue"]) == [60, 30]
    ol = lists.overdue_leads(led, "2025-06")
    assert list(ol["lead_id"]) == ["l1", "l2"] and list(ol["days_overdue"]) == [30, 30]
    assert list(ol["days_open"]) == [60, 60]
    oj = lists.overdue_complaints(led, "2025-06")
    assert list(oj["complaint_id"]) == ["j1"] and list(oj["days_overdue"]) == [1]


def test_talk_followups() -> None:
    talks = [
        # reviewed in time, 整改到位: nothing to follow
        dict(
            talk_id="t1",
            county_code=A,
            talk_date="2025-05-01",
            target_type="区县医保部门",
            review_due="2025-06-15",
            review_date="2025-06-10",
            review_result="整改到位",
        ),
        # no review and the 复查时限 passed: overdue by 20 days at June's end
        dict(
            talk_id="t2",
            county_code=A,
            talk_date="2025-05-01",
            target_type="定点医疗机构",
            institution_id="H1",
            review_due="2025-06-10",
        ),
        # review due later: pending
        dict(
            talk_id="t3",
            county_code=B,
            talk_date="2025-06-20",
            target_type="区县医保部门",
            review_due="2025-08-20",
        ),
        # reviewed, only half done, and no later talk of the same institution: not rectified
        dict(
            talk_id="t4",
            county_code=A,
            talk_date="2025-04-01",
            target_type="定点医疗机构",
            institution_id="H2",
            review_due="2025-05-01",
            review_date="2025-04-28",
            review_result="部分整改",
        ),
        # reviewed half done, then talked to again (t6): the follow-up is t6's
        dict(
            talk_id="t5",
            county_code=B,
            talk_date="2025-03-01",
            target_type="定点零售药店",
            institution_id="P1",
            review_due="2025-04-01",
            review_date="2025-03-30",
            review_result="未整改",
        ),
        dict(
            talk_id="t6",
            county_code=B,
            talk_date="2025-05-01",
            target_type="定点零售药店",
            institution_id="P1",
            review_due="2025-07-31",
        ),
        # reviewed after June: at June's end the 复查时限 (June 1) had passed unreviewed
        dict(
            talk_id="t7",
            county_code=A,
            talk_date="2025-05-01",
            target_type="经办机构",
            review_due="2025-06-01",
            review_date="2025-07-05",
            review_result="整改到位",
        ),
    ]
    out = lists.talk_followups(make_ledgers(talks=talks), "2025-06")
    got = dict(zip(out["talk_id"], out["followup"]))
    assert got == {
        "t2": "overdue",
        "t7": "overdue",
        "t4": "not_rectified",
        "t3": "pending",
        "t6": "pending",
    }
    assert list(out["talk_id"]) == ["t7", "t2", "t4", "t6", "t3"]  # overdue first, by 时限
    assert dict(zip(out["talk_id"], out["days_overdue"]))["t2"] == 20


def test_staff_points_reset_yearly_and_fall_in_declared_bands() -> None:
    nfc = load_set("no_fraud_city")
    limits = tuple(nfc.param(f"staff_points_band_{i}") for i in range(1, 5))
    assert limits == (3, 6, 9, 12)
    rows = [
        ("r1", "S1", "2024-12-01", 9),  # last year: reset
        ("r2", "S1", "2025-02-01", 2),
        ("r3", "S1", "2025-03-01", 2),  # S1: 4 → 4–6分
        ("r4", "S2", "2025-03-01", 3),  # S2: 3 → 1–3分
        ("r5", "S3", "2025-03-01", 12),
        ("r6", "S3", "2025-04-01", 1),  # S3: 13 → beyond 12
        ("r7", "S4", "2025-08-01", 12),  # after June: not yet
    ]
    pts = [
        dict(
            record_id=r,
            county_code=A,
            institution_id="H1",
            staff_code=s,
            staff_name="张三",
            scored_date=d,
            points=p,
        )
        for r, s, d, p in rows
    ]
    out = lists.staff_points_by_band(make_ledgers(staff_points=pts), "2025-06", limits)
    got = {r.staff_code: (r.points, r.records, r.band_label) for r in out.itertuples()}
    assert got == {
        "S3": (13, 2, t("talk.band_over", high="12")),
        "S1": (4, 2, t("talk.band", low="4", high="6")),
        "S2": (3, 1, t("talk.band", low="1", high="3")),
    }


def test_self_check_zero_lists_the_spot_check_targets() -> None:
    si = [
        dict(
            record_id="s1",
            county_code=A,
            institution_id="H1",
            report_date="2025-04-10",
            problems_found=0,
        ),
        dict(
            record_id="s2",
            county_code=A,
            institution_id="H2",
            report_date="2025-04-10",
            problems_found=0,
        ),
        dict(
            record_id="s3",
            county_code=A,
            institution_id="H3",
            report_date="2025-04-10",
            problems_found=2,
        ),
    ]
    ins = [
        dict(
            inspection_id="i1",
            county_code=A,
            institution_id="H2",
            method="飞行检查",
            inspection_date="2025-09-10",
        ),
        dict(
            inspection_id="i0",
            county_code=A,
            institution_id="H1",
            method="日常巡查",
            inspection_date="2025-03-01",
        ),  # before the report: does not count
    ]
    out = lists.self_check_zero(make_ledgers(self_inspections=si, inspections=ins), "2025-10")
    assert list(out["institution_id"]) == ["H1", "H2"]  # not yet inspected first
    assert pd.isna(out["inspected_after"].iloc[0])
    assert out["inspected_after"].iloc[1] == pd.Timestamp("2025-09-10")


# ---------------------------------------------------------------------------------------------
# The demo's links are consistent


def test_demo_links_point_at_rows_that_fit(city) -> None:
    f = city.frames
    cases = f["cases"].set_index("case_id")
    comp = f["complaints"].dropna(subset=["case_id"])
    assert len(comp) > 20
    linked = cases.loc[comp["case_id"]]
    assert (linked["county_code"].to_numpy() == comp["county_code"].to_numpy()).all()
    assert (linked["lead_source"] == "举报投诉").all()
    # a complaint's case is found in its month, on or after it (a month's file never names a
    # later one)
    assert (linked["found_date"].to_numpy() >= comp["received_date"].to_numpy()).all()
    assert (
        linked["found_date"].dt.strftime("%Y-%m").to_numpy()
        == comp["received_date"].dt.strftime("%Y-%m").to_numpy()
    ).all()
    ins = f["inspections"].set_index("inspection_id")
    with_ins = f["cases"].dropna(subset=["inspection_id"])
    assert len(with_ins) > 20
    src = ins.loc[with_ins["inspection_id"]]
    assert (src["institution_id"].to_numpy() == with_ins["institution_id"].to_numpy()).all()
    assert (src["inspection_date"].to_numpy() <= with_ins["found_date"].to_numpy()).all()
    leads = f["leads"].dropna(subset=["complaint_id"])
    src = f["complaints"].set_index("complaint_id").loc[leads["complaint_id"]]
    assert (src["received_date"].to_numpy() <= leads["received_date"].to_numpy()).all()
    # referred cases carry their dates; no closed talk or no-action case is referred
    c = f["cases"]
    referred = c["referred_police"]
    assert c.loc[referred, "referral_date"].notna().all()
    assert not (referred & c["outcome"].isin(["约谈", "不予处理"])).any()
    # every 警示约谈 the activities ledger counts is in the register
    acts = f["activities"]
    n_talks = int(acts.loc[acts["activity"] == "警示约谈", "count"].sum())
    inst_talks = f["talks"]["target_type"] != "区县医保部门"
    assert int(inst_talks.sum()) == n_talks


def test_the_demo_referral_rate_no_longer_counts_billing_violations(city, city_eval) -> None:
    """Peer computation with pandas: the rate's denominator holds no unflagged billing case."""
    c = city.frames["cases"]
    ytd = (c["found_date"] >= "2025-01-01") & (c["found_date"] <= "2025-12-31")
    live = ytd & (c["status"] != "已撤销")
    crime_types = criminal_types(load_set("campaign_2025"))
    referred = c["referred_police"] | (c["outcome"] == "移送公安")
    flag = c["suspected_crime"]
    by_rule = flag.isna() & (c["amount_involved"] > 5000) & c["violation_type"].isin(crime_types)
    counted = live & (flag.fillna(False) | referred | by_rule)
    k = city_eval.kpis_for("ytd", city=True).set_index("indicator").loc["police_referral_rate"]
    assert (k["numerator"], k["denominator"]) == (int((live & referred).sum()), int(counted.sum()))
    billing = ~c["violation_type"].isin(crime_types)
    old_style = live & (c["amount_involved"] > 5000)
    assert int((old_style & billing & ~referred & flag.isna()).sum()) > 0  # what it used to count
    assert int((counted & billing & ~referred & flag.isna()).sum()) == 0


# ---------------------------------------------------------------------------------------------
# A warehouse made before the loop still opens and computes


NEW_LEDGERS = ("self_inspections", "talks", "staff_points", "agency_breaches")
NEW_FIELDS = {
    "cases": (
        "inspection_id",
        "due_date",
        "public_servant",
        "suspected_crime",
        "referral_date",
        "police_feedback",
        "police_feedback_date",
        "discipline_referral_date",
    ),
    "complaints": ("institution_id", "case_id", "due_date", "reward_paid_date"),
    "leads": ("complaint_id", "inspection_id", "confirmed_amount"),
    "rectifications": ("inspection_id", "case_id"),
}


@contextlib.contextmanager
def _before_the_loop() -> Iterator[None]:
    """The contracts as they were: the new ledgers gone, the new fields and their rules too.
    `LEDGERS` is changed in place (modules hold it by reference) and restored in its order."""
    saved = dict(LEDGERS)
    old: dict[str, Ledger] = {}
    for name, lg in saved.items():
        if name in NEW_LEDGERS:
            continue
        gone = set(NEW_FIELDS.get(name, ()))
        old[name] = dataclasses.replace(
            lg,
            fields=tuple(f for f in lg.fields if f.name not in gone),
            compares=tuple(c for c in lg.compares if not {c.left, c.right} & gone),
            required_when=tuple(r for r in lg.required_when if not {r.field, r.when_field} & gone),
            references=tuple(r for r in lg.references if r.field not in gone),
            forbidden=(),
            _by_name={},
        )
    LEDGERS.clear()
    LEDGERS.update(old)
    try:
        yield
    finally:
        LEDGERS.clear()
        LEDGERS.update(saved)


def test_an_old_warehouse_opens_upgrades_and_computes(city, tmp_path: Path, campaign) -> None:
    path = tmp_path / "old.duckdb"
    with _before_the_loop():
        old = {n: city.frames[n][LEDGERS[n].field_names] for n in LEDGERS}
        with Warehouse(path) as wh:
            wh.load_frames(old, submission_id="s1", period="2025-12")
    assert list(LEDGERS)[-4:] == list(NEW_LEDGERS)  # restored, in order
    # this version: the file lacks four tables and many columns
    with Warehouse(path, read_only=True) as wh:
        assert wh.schema_gap  # read as NULL, not upgraded
        cases = wh.read_ledger("cases")
        assert cases["suspected_crime"].isna().all() and len(cases) == len(city.frames["cases"])
        assert wh.read_ledger("talks").empty
    ev = evaluate(path, "2025-12", campaign, uncertainty_samples=0)
    k = ev.kpis_for("ytd", city=True).set_index("indicator")
    # with no flags and no links the rules fall back: 涉嫌犯罪 by amount and type, referral by
    # the old flag; every lead counts in 案件查处率 (no link says otherwise)
    c = city.frames["cases"]
    live = (c["found_date"].dt.year == 2025) & (c["status"] != "已撤销")
    types = criminal_types(campaign)
    referred = c["referred_police"] | (c["outcome"] == "移送公安")
    by_rule = (c["amount_involved"] > 5000) & c["violation_type"].isin(types)
    assert k.loc["police_referral_rate", "denominator"] == int((live & (referred | by_rule)).sum())
    leads = city.frames["leads"]
    n_leads = int((leads["received_date"].dt.year == 2025).sum())
    comp = city.frames["complaints"]
    n_comp = int((comp["received_date"].dt.year == 2025).sum())
    ins = city.frames["inspections"]
    n_prob = int(ins.loc[ins["inspection_date"].dt.year == 2025, "problems_found"].sum())
    assert k.loc["case_detection_rate", "denominator"] == n_leads + n_comp + n_prob
    assert pd.isna(k.loc["talk_rectification_rate", "value"])  # no register yet: no value
    # opened writable, the file is brought up to date and the upgrade recorded
    with Warehouse(path) as wh:
        assert "+talks" in wh.schema_gap.describe()  # what this open brought it up to
        ups = wh.table(f"SELECT action, changes FROM {UPGRADES}")
        assert list(ups["action"]) == ["create", "upgrade"]
        assert (
            "+talks" in ups["changes"].iloc[1]
            and "+cases.suspected_crime" in ups["changes"].iloc[1]
            and "+complaints.reward_paid_date" in ups["changes"].iloc[1]
        )
        wh.load_frames({"talks": city.frames["talks"]}, submission_id="s2", period="2025-12")
    with Warehouse(path) as wh:
        assert not wh.schema_gap  # nothing left to do
    ev = evaluate(path, "2025-12", campaign, uncertainty_samples=0)
    assert (
        ev.kpis_for("ytd", city=True)
        .set_index("indicator")
        .loc["talk_rectification_rate", "denominator"]
        > 0
    )
