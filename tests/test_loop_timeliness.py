"""Time limits and reward timeliness on the linked ledgers (issue 13): 疑点线索按期核查率,
投诉举报按期办结率, 超期未结案件数 and 举报奖励按期兑现率 worked out by hand, on both engines (the
numpy engine over frames, the SQL pushdown over a warehouse); the demo's reward dates.

Expected values are counted by hand in the comments."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_measures import A, B, make_ledgers
from workbench.declarations import clauses_of, load_set
from workbench.indicators import compute_kpis
from workbench.presentation import lists
from workbench.results import evaluate
from workbench.warehouse import Warehouse


@pytest.fixture(scope="module")
def campaign():
    return load_set("campaign_2025")


def _kpis(ledgers, iset, period: str, codes: list[str], tmp_path: Path | None = None):
    """County A's (numerator, denominator or value) of `codes`, from the numpy engine and, with
    `tmp_path`, also through a warehouse (the SQL pushdown) — the two must agree."""
    counties, _ = compute_kpis(ledgers, iset, period, ("ytd",), codes)
    got = counties[counties["county_code"] == A].set_index("indicator")
    if tmp_path is not None:
        tmp_path.mkdir(parents=True, exist_ok=True)
        path = tmp_path / "w.duckdb"
        with Warehouse(path) as wh:
            wh.load_frames(ledgers, submission_id="s1", period=period)
        ev = evaluate(path, period, iset, uncertainty_samples=0)
        k = ev.kpis_for("ytd")
        pushed = k[k["county_code"] == A].set_index("indicator")
        for c in codes:
            for col in ("numerator", "denominator"):
                a, b = got.loc[c, col], pushed.loc[c, col]
                assert (pd.isna(a) and pd.isna(b)) or a == pytest.approx(b), (c, col, a, b)
    return got


def _lead(lid: str, due: str, status: str = "属实", checked: str | None = None, **kw) -> dict:
    return dict(
        lead_id=lid,
        county_code=A,
        received_date="2025-01-05",
        due_date=due,
        check_status=status,
        checked_date=checked,
        **kw,
    )


def test_leads_and_complaints_checked_by_their_time_limit(campaign, tmp_path: Path) -> None:
    leads = [
        _lead("L1", "2025-03-10", "属实", "2025-03-10"),  # on the due day: on time
        _lead("L2", "2025-03-10", "不属实", "2025-03-11"),  # a day late
        _lead("L3", "2025-03-20", "核查中"),  # not checked
        _lead("L4", "2025-03-20", "属实"),  # 属实 but no check date: not shown on time
        _lead("L5", "2025-04-05", "属实", "2025-03-01"),  # due after March: not in the window
        _lead("L6", "2025-02-01", "属实", "2025-01-20"),  # early
        _lead("L7", "2025-02-01", "待核查", "2025-01-20"),  # dated but not checked: not counted
        dict(_lead("L8", "2025-02-01", "属实", "2025-01-20"), county_code=B),  # B's
    ]
    complaints = [
        dict(complaint_id=c, county_code=A, received_date="2025-01-10", due_date=d, closed_date=x)
        for c, d, x in (
            ("T1", "2025-03-01", "2025-02-27"),  # on time
            ("T2", "2025-03-01", "2025-03-02"),  # late
            ("T3", "2025-03-15", None),  # open
            ("T4", "2025-05-01", "2025-02-01"),  # due in May: not in the window
        )
    ]
    got = _kpis(
        make_ledgers(leads=leads, complaints=complaints),
        campaign,
        "2025-03",
        ["lead_on_time_check_rate", "complaint_on_time_rate"],
        tmp_path,
    )
    # leads due Jan–Mar in A: L1, L2, L3, L4, L6, L7 → 6; checked by the limit: L1, L6 → 2
    assert tuple(got.loc["lead_on_time_check_rate", ["numerator", "denominator"]]) == (2, 6)
    # complaints due Jan–Mar: T1, T2, T3 → 3; closed by the limit: T1 → 1
    assert tuple(got.loc["complaint_on_time_rate", ["numerator", "denominator"]]) == (1, 3)
    assert got.loc["complaint_on_time_rate", "value"] == pytest.approx(1 / 3)


def _case(cid: str, due: str | None, status: str = "调查中", closed: str | None = None) -> dict:
    return dict(
        case_id=cid,
        county_code=A,
        found_date="2024-11-01",
        due_date=due,
        status=status,
        closed_date=closed,
    )


OVERDUE_CASES = [
    _case("a", "2025-03-01"),  # open since its March limit
    _case("b", "2025-04-01", "已结案", "2025-05-01"),  # late, but closed by June
    _case("c", "2025-05-01", "已结案", "2025-07-10"),  # closed after June: open at June's end
    _case("d", "2025-06-15"),  # due in June, open
    _case("e", "2025-02-01", "已撤销"),  # withdrawn
    _case("f", "2025-08-01"),  # due after July
    _case("g", "2024-12-01"),  # due last year, still open: overdue all the same
    _case("h", None),  # no 办案时限
    _case("i", "2025-06-30"),  # due on June's last day: not yet overdue at June's end
    _case("j", "2025-06-29"),  # one day overdue at June's end
]


def test_open_cases_past_their_time_limit(campaign, tmp_path: Path) -> None:
    """超期未结 at a month's end: 办案时限 before the month's last day (whatever the year), not
    closed by then, not withdrawn — the count and the list behind it are the same cases."""
    ledgers = make_ledgers(cases=OVERDUE_CASES)
    june = _kpis(ledgers, campaign, "2025-06", ["overdue_open_cases"], tmp_path / "june")
    assert june.loc["overdue_open_cases", "value"] == 5  # g, a, c, d, j
    july = _kpis(ledgers, campaign, "2025-07", ["overdue_open_cases"], tmp_path / "july")
    assert july.loc["overdue_open_cases", "value"] == 5  # g, a, d, j, i (c closed on July 10)
    listed = lists.overdue_cases(ledgers, "2025-06", A)
    assert list(listed["case_id"]) == ["g", "a", "c", "d", "j"]  # longest overdue first
    assert list(listed["days_overdue"]) == [211, 121, 60, 15, 1]  # to 2025-06-30
    listed = lists.overdue_cases(ledgers, "2025-07", A)
    assert list(listed["case_id"]) == ["g", "a", "d", "j", "i"]
    assert list(listed["days_overdue"]) == [242, 152, 46, 32, 31]  # to 2025-07-31
    # the stock does not restart in January: g and the rest are still counted a year on
    later = _kpis(ledgers, campaign, "2026-01", ["overdue_open_cases"])
    assert later.loc["overdue_open_cases", "value"] == 6  # g, a, d, f, i, j


def test_reward_paid_within_the_declared_days(campaign, tmp_path: Path) -> None:
    def case(cid: str, closed: str | None, recovered: float, status: str = "已结案") -> dict:
        return dict(
            case_id=cid,
            county_code=A,
            found_date="2025-01-15",
            status=status,
            closed_date=closed,
            amount_due=recovered,
            amount_recovered=recovered,
        )

    def tip(tid: str, cid: str, paid: float | None, on: str | None) -> dict:
        return dict(
            complaint_id=tid,
            county_code=A,
            received_date="2025-01-10",
            verified=True,
            case_id=cid,
            reward_paid=paid,
            reward_paid_date=on,
        )

    cases = [
        case("k1", "2025-03-10", 1000.0),
        case("k2", "2025-03-10", 1000.0),
        case("k3", "2025-04-01", 1000.0),
        case("k4", "2025-04-01", 0.0),  # nothing recovered: no reward due
        case("k5", "2025-04-02", 500.0),  # no complaint names it
        case("k6", None, 800.0, "调查中"),  # not closed
        case("k7", "2025-08-01", 900.0),  # closed after June
    ]
    complaints = [
        tip("T1", "k1", 20.0, "2025-04-09"),  # 30 days after closing: on time
        tip("T2", "k2", 20.0, "2025-04-10"),  # 31 days: late
        tip("T3", "k3", None, None),  # not paid
        tip("T4", "k4", None, None),
        tip("T6", "k6", 16.0, "2025-05-01"),
        tip("T7", "k7", 18.0, "2025-08-05"),
    ]
    got = _kpis(
        make_ledgers(cases=cases, complaints=complaints),
        campaign,
        "2025-06",
        ["reward_on_time_rate"],
        tmp_path,
    )
    # due: closed Jan–Jun, something recovered, a complaint linked: k1, k2, k3 → 3; on time: k1
    assert tuple(got.loc["reward_on_time_rate", ["numerator", "denominator"]]) == (1, 3)
    # the days are the declared parameter (002 names none: a workbench definition)
    assert campaign.param("reward_pay_days") == 30
    where = campaign.measures["reward_cases_paid_on_time"].where
    clause = next(c for c in clauses_of(where) if c.op == "within_days")
    assert clause.value == ("closed_date", 30)
    assert "工作口径" in campaign.parameters["reward_pay_days"].source


def test_the_demo_pays_rewards_after_receipt_and_mostly_on_time() -> None:
    from workbench import demo

    city = demo.generate_city()
    comp = city.frames["complaints"]
    paid = comp[comp["reward_paid"] > 0]
    assert len(paid) > 20 and paid["reward_paid_date"].notna().all()
    assert (paid["reward_paid_date"] >= paid["received_date"]).all()
    assert comp.loc[comp["reward_paid"].fillna(0) == 0, "reward_paid_date"].isna().all()
    closed = paid["case_id"].map(city.frames["cases"].set_index("case_id")["closed_date"])
    days = (paid["reward_paid_date"] - closed).dt.days
    assert (days >= 0).all() and 0.5 < float((days <= 30).mean()) < 1.0  # some are late


# ---------------------------------------------------------------------------------------------
# The registers' indicators (自查自纠, 医师记分) by hand, and every item-3 indicator on the demo


def test_self_check_and_staff_point_indicators_by_hand() -> None:
    nfc = load_set("no_fraud_city")
    si = [
        dict(record_id=r, county_code=c, institution_id=i, report_date=d, problems_found=p,
             amount_returned=m)
        for r, c, i, d, p, m in (
            ("s1", A, "H1", "2025-04-10", 0, None),  # zero problems
            ("s2", A, "H1", "2025-05-10", 0, None),  # the same institution again: counted once
            ("s3", A, "H2", "2025-04-12", 0, 0.0),  # zero problems
            ("s4", A, "H3", "2025-04-15", 3, 12000.0),  # returned 12,000
            ("s5", A, "H4", "2025-05-02", 1, 3500.5),  # returned 3,500.50
            ("s6", A, "H5", "2024-11-02", 0, 900.0),  # last year
            ("s7", B, "H6", "2025-04-20", 0, None),  # B's
        )
    ]  # fmt: skip
    pts = [
        dict(record_id=r, county_code=A, institution_id="H1", staff_code=s, scored_date=d,
             points=p)
        for r, s, d, p in (
            ("p1", "S1", "2025-02-01", 2),
            ("p2", "S1", "2025-03-01", 2),
            ("p3", "S2", "2025-03-01", 10),
            ("p4", "S3", "2024-12-01", 6),  # last year
        )
    ]  # fmt: skip
    ledgers = make_ledgers(self_inspections=si, staff_points=pts)
    codes = ["self_check_zero_share", "self_check_returned", "staff_scored"]
    got = _kpis(ledgers, nfc, "2025-06", codes)
    # zero-problem institutions H1, H2 of reporting H1–H4 (distinct)
    assert tuple(got.loc["self_check_zero_share", ["numerator", "denominator"]]) == (2, 4)
    assert got.loc["self_check_returned", "value"] == pytest.approx(15500.5)
    assert got.loc["staff_scored", "value"] == 3  # p1–p3 this year
    # the bands are the set's parameters, in their order: S1 4 分 → 4–6, S2 10 分 → 10–12
    limits = lists.staff_band_limits(nfc)
    assert limits == (3, 6, 9, 12) and lists.staff_band_limits(load_set("campaign_2025")) == ()
    bands = lists.staff_points_by_band(ledgers, "2025-06", limits)
    assert dict(zip(bands["staff_code"], bands["band"])) == {"S2": 3, "S1": 1}


def test_every_loop_indicator_works_on_the_demo() -> None:
    """Issue 13 item 3 on the demo city: each declared indicator has a city value at 2025-12, and
    the lists behind the counts are there."""
    from workbench import demo

    city = demo.generate_city()
    wanted = {
        "campaign_2025": [
            "police_referral_rate",
            "police_feedback_rate",
            "lead_on_time_check_rate",
            "complaint_on_time_rate",
            "overdue_open_cases",
            "report_reward",
            "reward_on_time_rate",
            "talk_rectification_rate",
        ],
        "no_fraud_city": ["self_check_zero_share", "self_check_returned", "staff_scored"],
    }
    for code, indicators in wanted.items():
        ev = evaluate(city.frames, "2025-12", load_set(code), uncertainty_samples=0)
        k = ev.kpis_for("ytd", city=True).set_index("indicator")
        for ind in indicators:
            v = k.loc[ind, "value"]
            assert pd.notna(v) and v > 0, (code, ind, v)
            if pd.notna(k.loc[ind, "denominator"]):
                assert 0 < k.loc[ind, "numerator"] <= k.loc[ind, "denominator"] or ind in (
                    "report_reward",
                ), (ind, k.loc[ind, ["numerator", "denominator"]])
    f = city.frames
    assert len(lists.overdue_cases(f, "2025-12")) > 0
    assert len(lists.overdue_leads(f, "2025-12")) > 0
    assert len(lists.self_check_zero(f, "2025-12")) > 0
    bands = lists.staff_points_by_band(
        f, "2025-12", lists.staff_band_limits(load_set("no_fraud_city"))
    )
    assert len(bands) > 0 and bands["band"].nunique() > 1


# ---------------------------------------------------------------------------------------------
# 超期未结: the number and the list behind it are one decision (property over valid ledgers)

_DAY0 = pd.Timestamp("2024-01-01")
_OPEN = ("核查中", "已立案", "调查中")


@st.composite
def _case_ledgers(draw) -> list[dict]:
    """Cases as the ingest accepts them: 办案时限 not before discovery, 已结案 with a close date
    not before discovery; open cases with or without a (later) close date; dates often on a
    month's last day (the edge the rule decides)."""
    rows = []
    for i in range(draw(st.integers(0, 14))):
        found = _DAY0 + pd.Timedelta(days=draw(st.integers(0, 700)))
        status = draw(st.sampled_from((*_OPEN, "已结案", "已撤销")))
        due = None
        if draw(st.booleans()) or draw(st.booleans()):
            due = found + pd.Timedelta(days=draw(st.integers(0, 200)))
            if draw(st.booleans()):  # snap to its month's last day
                due = due + pd.offsets.MonthEnd(0)
        closed = None
        if status == "已结案" or draw(st.booleans()):
            closed = found + pd.Timedelta(days=draw(st.integers(0, 300)))
            if due is not None and draw(st.booleans()):
                closed = max(found, due + pd.Timedelta(days=draw(st.integers(-2, 2))))
        rows.append(
            dict(
                case_id=f"c{i}",
                county_code=draw(st.sampled_from((A, B))),
                found_date=found.date().isoformat(),
                due_date=None if due is None else due.date().isoformat(),
                status=status,
                closed_date=None if closed is None else closed.date().isoformat(),
            )
        )
    return rows


_MONTHS = [str(p) for p in pd.period_range("2024-01", "2026-06", freq="M")]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases=_case_ledgers(), period=st.sampled_from(_MONTHS))
def test_overdue_count_is_the_list_length(campaign, cases, period) -> None:
    """For every county and the city, 超期未结案件数 equals the rows of `overdue_cases`."""
    ledgers = make_ledgers(cases=cases)
    counties, city = compute_kpis(ledgers, campaign, period, ("ytd",), ["overdue_open_cases"])
    listed = lists.overdue_cases(ledgers, period)
    per = lists.count_by_county(listed)
    for code, value in zip(counties["county_code"], counties["value"]):
        assert value == int(per.get(str(code), 0)), (period, code)
        assert value == len(lists.overdue_cases(ledgers, period, str(code)))
    assert city["value"].iloc[0] == len(listed)
    # a hand rule, independent of both: due before the last day, open at its end
    end = pd.Period(period, freq="M").end_time.normalize()
    by_hand = sum(
        1
        for c in cases
        if c["due_date"] is not None
        and pd.Timestamp(c["due_date"]) < end
        and c["status"] != "已撤销"
        and (c["closed_date"] is None or pd.Timestamp(c["closed_date"]) > end)
    )
    assert len(listed) == by_hand


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases=_case_ledgers(), period=st.sampled_from(_MONTHS))
def test_overdue_count_through_the_warehouse(campaign, cases, period, tmp_path_factory) -> None:
    """The SQL pushdown counts the same cases (the day after the 办案时限 computed in DuckDB)."""
    path = tmp_path_factory.mktemp("overdue") / "w.duckdb"
    ledgers = make_ledgers(cases=cases)
    with Warehouse(path) as wh:
        wh.load_frames(ledgers, submission_id="s1", period=period)
    ev = evaluate(path, period, campaign, uncertainty_samples=0)
    k = ev.kpis_for("ytd")
    k = k[k["indicator"] == "overdue_open_cases"]
    per = lists.count_by_county(lists.overdue_cases(ledgers, period))
    for code, value in zip(k["county_code"], k["value"]):
        assert value == int(per.get(str(code), 0)), (period, code)
