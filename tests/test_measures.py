"""Measures: counts, sums and distinct counts per county × month / window, from tiny ledgers.

Every expectation is worked out by hand in a comment next to it. The helpers `frame` and
`make_ledgers` build typed DataFrames with the contract's columns; other test modules import them.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.contracts import LEDGERS
from workbench.declarations import AnyOf, Clause, Join, Measure, parse_expr
from workbench.measures import MeasureEngine, Window, measure_table, month_index, month_label
from workbench.warehouse import coerce_frame_types

A, B = "330401", "330402"


def frame(ledger: str, rows: list[dict]) -> pd.DataFrame:
    """A ledger DataFrame typed like Warehouse.read_ledger (missing fields are blank)."""
    cols = LEDGERS[ledger].field_names
    df = pd.DataFrame([{c: r.get(c) for c in cols} for r in rows], columns=cols)
    return coerce_frame_types(df, LEDGERS[ledger])


def make_ledgers(**tables: list[dict]) -> dict[str, pd.DataFrame]:
    """Every ledger present (empty unless given); counties default to A and B in 2024–2025."""
    tables.setdefault(
        "counties",
        [
            {"county_code": c, "county_name": n, "city": "测试市", "year": y}
            for c, n in ((A, "甲县"), (B, "乙县"))
            for y in (2024, 2025)
        ],
    )
    return {name: frame(name, tables.get(name, [])) for name in LEDGERS}


def M(i: str) -> int:
    return month_index(i)


def W(start: str, end: str | None = None) -> Window:
    return Window(M(start), M(end or start))


def values(engine: MeasureEngine, measure: Measure, *windows: Window) -> dict[str, list[float]]:
    mat = engine.windows(measure, list(windows))
    return {c: mat[i].tolist() for i, c in enumerate(engine.counties)}


# --------------------------------------------------------------------------- months


def test_month_index_round_trip() -> None:
    # 2025 × 12 + (9 − 1) = 24308
    assert month_index("2025-09") == 24308
    assert month_label(24308) == "2025-09"
    assert month_index(pd.Timestamp("2024-01-31")) == 2024 * 12
    with pytest.raises(ValueError):
        month_index("2025-13")


# --------------------------------------------------------------------------- count + filters


CASES_ROWS = [
    # county, found, status, outcome, amount_involved, referred_police, gang, repeat
    dict(
        case_id="c1",
        county_code=A,
        found_date="2025-01-05",
        status="已结案",
        outcome="责令整改",
        amount_involved=6000.0,
        referred_police=True,
        gang_case=False,
        repeat_offender=True,
    ),
    dict(
        case_id="c2",
        county_code=A,
        found_date="2025-01-20",
        status="已撤销",
        outcome="不予处理",
        amount_involved=100.0,
        referred_police=False,
        gang_case=True,
        repeat_offender=False,
    ),
    dict(
        case_id="c3",
        county_code=A,
        found_date="2025-02-03",
        status="调查中",
        outcome=None,
        amount_involved=None,
        referred_police=None,
        gang_case=None,
        repeat_offender=None,
    ),
    dict(
        case_id="c4",
        county_code=B,
        found_date="2025-02-28",
        status="已结案",
        outcome="移送公安",
        amount_involved=5000.0,
        referred_police=False,
        gang_case=True,
        repeat_offender=True,
    ),
    dict(
        case_id="c5",
        county_code=B,
        found_date="2024-02-10",
        status="已结案",
        outcome="约谈",
        amount_involved=9000.0,
        referred_police=True,
        gang_case=False,
        repeat_offender=False,
    ),
]


def cases_measure(*where, agg: str = "count", **kw) -> Measure:
    return Measure("m", agg, "cases", where=tuple(where), date=kw.pop("date", "found_date"), **kw)


def test_count_by_county_and_month() -> None:
    eng = MeasureEngine(make_ledgers(cases=CASES_ROWS))
    m = cases_measure()
    # Jan 2025: A has c1, c2 → 2; B none. Feb 2025: A c3, B c4 → 1, 1. Feb 2024: B c5.
    mon = eng.monthly(m, M("2025-01"), M("2025-02"))
    assert mon.tolist() == [[2.0, 1.0], [0.0, 1.0]]
    assert values(eng, m, W("2024-02"))[B] == [1.0]


@pytest.mark.parametrize(
    "clause, expect_a, expect_b",
    [
        # status == 已结案 → A: c1; B: c4 (2025 window only)
        (Clause("status", "==", "已结案"), 1, 1),
        # status != 已撤销 → A: c1, c3; B: c4
        (Clause("status", "!=", "已撤销"), 2, 1),
        # outcome != 不予处理 → A: c1 only (c3's outcome is blank: a blank never matches); B: c4
        (Clause("outcome", "!=", "不予处理"), 1, 1),
        # outcome in (约谈, 移送公安) → A: none; B: c4 (c5 is 2024)
        (Clause("outcome", "in", ("约谈", "移送公安")), 0, 1),
        # outcome not_in (责令整改,) → A: c2 (c3 blank excluded); B: c4
        (Clause("outcome", "not_in", ("责令整改",)), 1, 1),
        # amount_involved > 5000 → A: c1 (6000); B: none (c4 is exactly 5000)
        (Clause("amount_involved", ">", 5000.0), 1, 0),
        # amount_involved >= 5000 → A: c1; B: c4
        (Clause("amount_involved", ">=", 5000.0), 1, 1),
        # amount_involved < 5000 → A: c2 (100); blank c3 excluded; B: none
        (Clause("amount_involved", "<", 5000.0), 1, 0),
        # outcome is_null → A: c3; not_null → A: c1, c2; B: c4
        (Clause("outcome", "is_null"), 1, 0),
        (Clause("outcome", "not_null"), 2, 1),
        # referred_police == true → A: c1; B: none in 2025 (c4 False)
        (Clause("referred_police", "==", True), 1, 0),
        # found_date >= 2025-02-01 → A: c3; B: c4
        (Clause("found_date", ">=", pd.Timestamp("2025-02-01").date()), 1, 1),
    ],
)
def test_filters(clause, expect_a, expect_b) -> None:
    eng = MeasureEngine(make_ledgers(cases=CASES_ROWS))
    got = values(eng, cases_measure(clause), W("2025-01", "2025-12"))
    assert got == {A: [float(expect_a)], B: [float(expect_b)]}


def test_any_of_is_or_and_clauses_are_and() -> None:
    eng = MeasureEngine(make_ledgers(cases=CASES_ROWS))
    either = AnyOf((Clause("gang_case", "==", True), Clause("repeat_offender", "==", True)))
    # 2025, status != 已撤销 AND (gang OR repeat): A: c1 (repeat) — c2 is gang but 已撤销;
    # B: c4 (both) → 1 each
    got = values(
        eng, cases_measure(Clause("status", "!=", "已撤销"), either), W("2025-01", "2025-12")
    )
    assert got == {A: [1.0], B: [1.0]}


def test_text_filter_values_work_on_plain_object_columns() -> None:
    """Hand-built frames without the warehouse's dtypes (Python bools, 是/否 text) still filter."""
    raw = pd.DataFrame(
        {
            "case_id": ["x", "y", "z"],
            "county_code": [A, A, A],
            "found_date": pd.to_datetime(["2025-03-01"] * 3),
            "referred_police": ["是", "否", None],
            "status": ["已结案"] * 3,
        }
    )
    eng = MeasureEngine({"cases": raw})
    got = values(eng, cases_measure(Clause("referred_police", "==", True)), W("2025-03"))
    assert got == {A: [1.0]}  # only x says 是


# --------------------------------------------------------------------------- sums, expressions


def test_sum_ignores_blank_values() -> None:
    rows = [
        dict(case_id="a", county_code=A, found_date="2025-03-01", amount_due=100.5),
        dict(case_id="b", county_code=A, found_date="2025-03-09", amount_due=None),
        dict(case_id="c", county_code=A, found_date="2025-04-01", amount_due=50.0),
    ]
    eng = MeasureEngine(make_ledgers(cases=rows))
    m = cases_measure(agg="sum", field="amount_due")
    # March: 100.5 + blank → 100.5; April 50; Mar–Apr 150.5; B has no rows → 0
    assert values(eng, m, W("2025-03"), W("2025-04"), W("2025-03", "2025-04")) == {
        A: [100.5, 50.0, 150.5],
        B: [0.0, 0.0, 0.0],
    }


def test_sum_of_row_expression_with_parameters() -> None:
    rows = [
        dict(case_id="a", county_code=A, found_date="2025-03-01", amount_recovered=10_000.0),
        dict(case_id="b", county_code=A, found_date="2025-03-02", amount_recovered=10_000_000.0),
        dict(case_id="c", county_code=A, found_date="2025-03-03", amount_recovered=None),
    ]
    eng = MeasureEngine(make_ledgers(cases=rows))
    m = Measure(
        "reward",
        "sum",
        "cases",
        expr=parse_expr("min(amount_recovered * rate, cap)"),
        date="found_date",
    )
    mat = eng.windows(m, [W("2025-03")], {"rate": 0.02, "cap": 100_000})
    # min(10,000 × 2%, 100,000) = 200; min(10,000,000 × 2%, 100,000) = 100,000; blank → 0
    assert mat[0, 0] == pytest.approx(100_200.0)


# --------------------------------------------------------------------------- distinct counts


INSPECTIONS = [
    dict(
        inspection_id="i1",
        county_code=A,
        institution_id="H1",
        method="日常巡查",
        inspection_date="2025-07-03",
    ),
    dict(
        inspection_id="i2",
        county_code=A,
        institution_id="H1",
        method="日常巡查",
        inspection_date="2025-08-10",
    ),
    dict(
        inspection_id="i3",
        county_code=A,
        institution_id="H2",
        method="专项检查",
        inspection_date="2025-08-11",
    ),
    dict(
        inspection_id="i4",
        county_code=A,
        institution_id="H2",
        method="专项检查",
        inspection_date="2025-08-20",
    ),
    dict(
        inspection_id="i5",
        county_code=B,
        institution_id="H9",
        method="飞行检查",
        inspection_date="2025-09-01",
    ),
]
INSTITUTIONS = [
    dict(
        institution_id="H1",
        institution_name="一院",
        county_code=A,
        institution_type="公立医疗机构",
        key_monitored=True,
    ),
    dict(
        institution_id="H2",
        institution_name="二院",
        county_code=A,
        institution_type="民营医疗机构",
        key_monitored=False,
    ),
    dict(
        institution_id="H3",
        institution_name="三店",
        county_code=A,
        institution_type="定点零售药店",
        key_monitored=True,
        credit_grade="A",
    ),
    dict(
        institution_id="H9",
        institution_name="九院",
        county_code=B,
        institution_type="公立医疗机构",
        key_monitored=True,
    ),
]


def test_distinct_count_is_recomputed_per_window_not_summed() -> None:
    eng = MeasureEngine(make_ledgers(inspections=INSPECTIONS, institutions=INSTITUTIONS))
    m = Measure(
        "inspected", "distinct_count", "inspections", field="institution_id", date="inspection_date"
    )
    got = values(eng, m, W("2025-07"), W("2025-08"), W("2025-09"), W("2025-07", "2025-09"))
    # A: Jul {H1} = 1; Aug {H1, H2} = 2 (H2 twice counts once); Sep {} = 0;
    # quarter {H1, H2} = 2, not 1 + 2 + 0 = 3.  B: Sep {H9}.
    assert got[A] == [1.0, 2.0, 0.0, 2.0]
    assert got[B] == [0.0, 0.0, 1.0, 1.0]


def test_join_filter_on_looked_up_field() -> None:
    eng = MeasureEngine(make_ledgers(inspections=INSPECTIONS, institutions=INSTITUTIONS))
    m = Measure(
        "key",
        "distinct_count",
        "inspections",
        field="institution_id",
        where=(Clause("institutions.key_monitored", "==", True),),
        date="inspection_date",
        join=Join("institutions", "institution_id"),
    )
    # key-monitored: H1, H3 (A), H9 (B). Inspected in Q3: A {H1} → 1; B {H9} → 1
    assert values(eng, m, W("2025-07", "2025-09")) == {A: [1.0], B: [1.0]}


# --------------------------------------------------------------------------- stocks


def test_roster_stock_is_the_same_in_every_window() -> None:
    eng = MeasureEngine(make_ledgers(institutions=INSTITUTIONS))
    m = Measure("n", "count", "institutions", date=None)
    km = Measure(
        "k", "count", "institutions", date=None, where=(Clause("key_monitored", "==", True),)
    )
    rated = Measure(
        "r", "count", "institutions", date=None, where=(Clause("credit_grade", "not_null"),)
    )
    # A has H1, H2, H3 → 3; B has H9 → 1. Key-monitored: A H1, H3 → 2; B → 1. Rated: A H3 → 1.
    assert values(eng, m, W("2024-01"), W("2025-09")) == {A: [3.0, 3.0], B: [1.0, 1.0]}
    assert values(eng, km, W("2025-09")) == {A: [2.0], B: [1.0]}
    assert values(eng, rated, W("2025-09")) == {A: [1.0], B: [0.0]}


def test_yearly_stock_uses_the_window_end_year_else_nearest_earlier() -> None:
    counties = [
        dict(county_code=A, county_name="甲县", city="测试市", year=2024, insured_persons=1000),
        dict(county_code=A, county_name="甲县", city="测试市", year=2025, insured_persons=1200),
        dict(county_code=B, county_name="乙县", city="测试市", year=2025, insured_persons=None),
    ]
    eng = MeasureEngine(make_ledgers(counties=counties))
    m = Measure("ins", "sum", "counties", field="insured_persons", date=None)
    got = values(eng, m, W("2024-06"), W("2025-09"), W("2026-03"))
    # A: 2024 → 1000; 2025 → 1200; 2026 has no row → latest earlier (2025) → 1200.
    # B: its only row is blank → no level (missing), never zero.
    assert got[A] == [1000.0, 1200.0, 1200.0]
    assert all(math.isnan(v) for v in got[B])


# --------------------------------------------------------------------------- activities


ACTS = [
    dict(county_code=A, month="2025-03", activity="数据共享部门", count=5),
    dict(county_code=A, month="2025-04", activity="数据共享部门", count=8),
    dict(county_code=A, month="2025-05", activity="数据共享部门", count=7),
    dict(county_code=A, month="2025-03", activity="典型案例报送", count=1),
    dict(county_code=A, month="2025-04", activity="典型案例报送", count=0),
    dict(county_code=A, month="2025-05", activity="典型案例报送", count=2),
]


def test_month_field_any_and_max_rollup() -> None:
    eng = MeasureEngine(make_ledgers(activities=ACTS))
    sharing = Measure(
        "s",
        "sum",
        "activities",
        field="count",
        date="month",
        rollup="max",
        where=(Clause("activity", "==", "数据共享部门"),),
    )
    exposure = Measure(
        "e",
        "any",
        "activities",
        date="month",
        where=(Clause("activity", "==", "典型案例报送"), Clause("count", ">=", 1)),
    )
    months = Measure("n", "months")
    win = W("2025-03", "2025-05")
    # max(5, 8, 7) = 8, not the sum 20
    assert values(eng, sharing, win)[A] == [8.0]
    # months with ≥ 1 case reported: March (1) and May (2); April's 0 does not count → 2
    assert values(eng, exposure, win)[A] == [2.0]
    # months in the window: 3, for every county
    assert values(eng, months, win) == {A: [3.0], B: [3.0]}


def test_empty_window_is_missing_and_unknown_ledger_rows_are_zero() -> None:
    eng = MeasureEngine(make_ledgers())
    m = cases_measure()
    got = values(eng, m, Window(M("2025-05"), M("2025-04")), W("2025-05"))
    assert math.isnan(got[A][0]) and got[A][1] == 0.0


def test_measure_table_long_format() -> None:
    from workbench.declarations import load_set

    iset = load_set("campaign_2025")
    eng = MeasureEngine(make_ledgers(cases=CASES_ROWS))
    tab = measure_table(eng, iset, "2025-01", "2025-02", ["cases_found"])
    # cases_found excludes 已撤销: A Jan c1 → 1 (c2 withdrawn); A Feb c3 → 1; B Feb c4 → 1
    got = tab.set_index(["county_code", "period"])["value"].to_dict()
    assert got == {
        (A, "2025-01"): 1.0,
        (A, "2025-02"): 1.0,
        (B, "2025-01"): 0.0,
        (B, "2025-02"): 1.0,
    }


# --------------------------------------------------------------------------- properties


@st.composite
def _case_rows(draw):
    n = draw(st.integers(0, 40))
    rows = []
    for i in range(n):
        rows.append(
            dict(
                case_id=f"p{i}",
                county_code=draw(st.sampled_from([A, B])),
                found_date=(
                    pd.Timestamp("2024-11-01") + pd.Timedelta(days=draw(st.integers(0, 240)))
                )
                .date()
                .isoformat(),
                amount_due=draw(st.one_of(st.none(), st.floats(0, 1e6))),
                institution_id=draw(st.sampled_from(["H1", "H2", "H3", None])),
                status=draw(st.sampled_from(["已结案", "已撤销", "调查中"])),
            )
        )
    return rows


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_case_rows(), st.integers(0, 7), st.integers(0, 7))
def test_window_equals_sum_of_its_months(rows, a, b) -> None:
    lo, hi = M("2024-11") + min(a, b), M("2024-11") + max(a, b)
    eng = MeasureEngine(make_ledgers(cases=rows))
    for m in (
        cases_measure(Clause("status", "!=", "已撤销")),
        cases_measure(agg="sum", field="amount_due"),
    ):
        window = eng.windows(m, [Window(lo, hi)])[:, 0]
        months = eng.windows(m, [Window(k, k) for k in range(lo, hi + 1)]).sum(axis=1)
        assert np.allclose(window, months)
    distinct = cases_measure(agg="distinct_count", field="institution_id")
    window = eng.windows(distinct, [Window(lo, hi)])[:, 0]
    months = eng.windows(distinct, [Window(k, k) for k in range(lo, hi + 1)])
    # a distinct count over the window is at most the sum of monthly ones and at least their max
    assert np.all(window <= months.sum(axis=1)) and np.all(window >= months.max(axis=1))
    # and never more than the 3 institutions there are
    assert np.all(window <= 3)


def test_cache_does_not_grow_with_the_number_of_periods_asked() -> None:
    rows = [
        dict(case_id=f"c{i}", county_code=A, found_date=f"2024-{i % 12 + 1:02d}-03")
        for i in range(24)
    ]
    rows.append(dict(case_id="typo", county_code=A, found_date="1925-05-05"))  # a stray date
    eng = MeasureEngine(make_ledgers(cases=rows))
    m = cases_measure()
    sizes = []
    for end in range(M("2024-01"), M("2025-12") + 1):
        got = eng.windows(m, [Window(end - 11, end)])
        sizes.append(len(eng._monthly))
    # the rolling 12 months to December 2024 hold all 24 rows of 2024; the 1925 typo is far
    # outside every window asked and does not count
    assert got[0, 0] == 0.0  # 2025 has no rows
    assert eng.windows(m, [Window(M("2024-01"), M("2024-12"))])[0, 0] == 24.0
    assert len(set(sizes)) == 1  # one grid reused for every period
    grid = eng._monthly[("grid", "cases", "found_date")]
    assert grid[0] > M("1925-05")  # the grid is not stretched back to 1925
