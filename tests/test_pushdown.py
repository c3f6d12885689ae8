"""The warehouse engine (DuckDB aggregates) against the numpy engine (rows in memory).

Two independent implementations of the same declarations: `pushdown.WarehouseEngine` translates
measures into SQL over the warehouse's current rows, `measures.MeasureEngine` bins rows read into
pandas. Every test computes the same measures at the same windows both ways and requires the same
numbers — on the demo city (every measure of the shipped sets), on demo ledgers with blanks,
junk and duplicates sprinkled in by a seeded generator (every filter form, joins, expressions,
rollups, stocks), and on a warehouse holding superseded versions of records.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.declarations import (
    AllOf,
    AnyOf,
    Clause,
    Join,
    Measure,
    load_set,
    parse_expr,
)
from workbench.demo import generate_city
from workbench.measures import MeasureEngine, Window, month_index
from workbench.pushdown import WarehouseEngine
from workbench.results import evaluate, load_ledgers
from workbench.warehouse import Warehouse

SETS = ("campaign_2025", "no_fraud_city")


def _windows() -> list[Window]:
    """Months, quarters, years and odd spans over and beyond the data, and an empty one."""
    lo, hi = month_index("2023-10"), month_index("2026-03")
    out = [Window(m, m) for m in range(lo, hi + 1)]
    out += [Window(m, m + 2) for m in range(lo, hi, 3)]
    out += [Window(m, m + 11) for m in range(lo, hi, 5)]
    out += [
        Window(month_index("2000-01"), month_index("2030-12")),
        Window(5, 4),
        Window(0, month_index("2030-12")),
    ]  # from year 0: blank dates must stay out
    return out


def _assert_engines_agree(
    path: Path, measures: dict[str, Measure], params: dict | None = None
) -> None:
    pushed = WarehouseEngine(path)
    rows = MeasureEngine(load_ledgers(path))
    assert list(pushed.counties) == list(rows.counties)
    wins = _windows()
    for code, m in measures.items():
        a = pushed.windows(m, wins, params or {})
        b = rows.windows(m, wins, params or {})
        assert a.shape == b.shape, code
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True, err_msg=code)
        if m.city == "distinct":
            np.testing.assert_array_equal(
                pushed.city_distinct(m, wins, params or {}),
                rows.city_distinct(m, wins, params or {}),
                err_msg=f"{code} (city)",
            )


def _warehouse(path: Path, frames: dict[str, pd.DataFrame]) -> Path:
    with Warehouse(path) as wh:
        wh.load_frames(frames, period="2025-09")
    return path


@pytest.fixture(scope="module")
def demo_city():
    return generate_city(6, end="2025-09")


def test_every_shipped_measure_agrees_on_the_demo_city(tmp_path: Path, demo_city) -> None:
    path = _warehouse(tmp_path / "demo.duckdb", demo_city.frames)
    for name in SETS:
        iset = load_set(name)
        _assert_engines_agree(
            path, dict(iset.measures), {k: p.value for k, p in iset.parameters.items()}
        )


# ---------------------------------------------------------------------------------------------
# Every filter form, on ledgers with blanks and junk
# ---------------------------------------------------------------------------------------------
def _c(field: str, op: str, value: object = None) -> Clause:
    return Clause(field, op, value)


D = dt.date(2025, 3, 15)
MEASURES: dict[str, Measure] = {
    "all_cases": Measure("all_cases", "count", "cases", date="found_date"),
    "status_in": Measure(
        "status_in",
        "count",
        "cases",
        date="found_date",
        where=(_c("status", "in", ("已结案", "已立案")),),
    ),
    "status_not_in": Measure(
        "status_not_in",
        "count",
        "cases",
        date="found_date",
        where=(_c("status", "not_in", ("已结案",)),),
    ),
    "status_eq": Measure(
        "status_eq", "count", "cases", date="closed_date", where=(_c("status", "==", "已结案"),)
    ),
    "source_ne": Measure(
        "source_ne",
        "count",
        "cases",
        date="found_date",
        where=(_c("lead_source", "!=", "举报投诉"),),
    ),
    "big_fines": Measure(
        "big_fines", "count", "cases", date="found_date", where=(_c("fine_amount", ">", 1000.0),)
    ),
    "fines_range": Measure(
        "fines_range",
        "sum",
        "cases",
        field="fine_amount",
        date="found_date",
        where=(_c("fine_amount", ">=", 100.0), _c("fine_amount", "<", 50000.0)),
    ),
    "amount_in": Measure(
        "amount_in",
        "count",
        "cases",
        date="found_date",
        where=(_c("amount_involved", "in", (0.0, 1000.0)),),
    ),
    "police_sum": Measure(
        "police_sum",
        "sum",
        "cases",
        field="amount_recovered",
        date="closed_date",
        where=(_c("referred_police", "==", True),),
    ),
    "not_police": Measure(
        "not_police",
        "count",
        "cases",
        date="found_date",
        where=(_c("referred_police", "in", (False,)),),
    ),
    "closed_blank": Measure(
        "closed_blank", "count", "cases", date="found_date", where=(_c("closed_date", "is_null"),)
    ),
    "inst_blank": Measure(
        "inst_blank", "count", "cases", date="found_date", where=(_c("institution_id", "is_null"),)
    ),
    "inst_given": Measure(
        "inst_given", "any", "cases", date="found_date", where=(_c("institution_id", "not_null"),)
    ),
    "late_close": Measure(
        "late_close", "count", "cases", date="found_date", where=(_c("closed_date", ">=", D),)
    ),
    "early_found": Measure(
        "early_found", "count", "cases", date="closed_date", where=(_c("found_date", "<=", D),)
    ),
    "any_of": Measure(
        "any_of",
        "count",
        "cases",
        date="found_date",
        where=(
            AnyOf(
                (
                    _c("gang_case", "==", True),
                    AllOf((_c("repeat_offender", "==", True), _c("amount_involved", ">", 5000.0))),
                )
            ),
        ),
    ),
    "reward": Measure(
        "reward",
        "sum",
        "cases",
        date="closed_date",
        expr=parse_expr("min(amount_recovered * rate, cap)"),
    ),
    "ratio_expr": Measure(
        "ratio_expr",
        "sum",
        "cases",
        date="found_date",
        expr=parse_expr("amount_recovered / fine_amount"),
    ),
    "neg_abs": Measure(
        "neg_abs",
        "sum",
        "cases",
        date="found_date",
        expr=parse_expr("abs(-amount_due + max(fine_amount, 10))"),
    ),
    "constant": Measure("constant", "sum", "cases", date="found_date", expr=parse_expr("cap / 2")),
    "sampled": Measure(
        "sampled",
        "sum",
        "inspections",
        field="records_sampled",
        date="inspection_date",
        where=(_c("records_total", ">", 0.0),),
    ),
    "inspected": Measure(
        "inspected", "distinct_count", "inspections", field="institution_id", date="inspection_date"
    ),
    "key_inspected": Measure(
        "key_inspected",
        "distinct_count",
        "inspections",
        field="institution_id",
        date="inspection_date",
        join=Join("institutions", "institution_id"),
        where=(_c("institutions.key_monitored", "==", True),),
    ),
    # Joined on the counted field, a row condition beside a joined one: the joined condition
    # is read after grouping; mixed inside one any_of, or joined on another field: per row.
    "key_sampled": Measure(
        "key_sampled",
        "distinct_count",
        "inspections",
        field="institution_id",
        date="inspection_date",
        join=Join("institutions", "institution_id"),
        where=(_c("records_total", ">", 0.0), _c("institutions.credit_grade", "in", ("A", "B"))),
    ),
    "key_or_sampled": Measure(
        "key_or_sampled",
        "distinct_count",
        "inspections",
        field="institution_id",
        date="inspection_date",
        join=Join("institutions", "institution_id"),
        where=(
            AnyOf((_c("records_total", ">", 100.0), _c("institutions.key_monitored", "==", True))),
        ),
    ),
    "key_methods": Measure(
        "key_methods",
        "distinct_count",
        "inspections",
        field="method",
        date="inspection_date",
        join=Join("institutions", "institution_id"),
        where=(_c("institutions.key_monitored", "==", True),),
    ),
    "grade_c": Measure(
        "grade_c",
        "count",
        "inspections",
        date="inspection_date",
        join=Join("institutions", "institution_id"),
        where=(_c("institutions.credit_grade", "in", ("C", "D")),),
    ),
    # Joined on a field that is not the right ledger's key: the latest current row per value.
    "by_county_roster": Measure(
        "by_county_roster",
        "count",
        "cases",
        date="found_date",
        join=Join("institutions", "county_code"),
        where=(_c("institutions.credit_grade", "in", ("A", "B")),),
    ),
    # Counted in a window only once done by its end (closed after it, or never: not there).
    "closed_by_end": Measure(
        "closed_by_end",
        "count",
        "rectifications",
        date="deadline",
        done_by="closed_date",
        where=(_c("status", "==", "已销号"),),
    ),
    "recovered_by_end": Measure(
        "recovered_by_end",
        "sum",
        "rectifications",
        field="amount_recovered",
        date="found_date",
        done_by="closed_date",
    ),
    "complaints_done": Measure(
        "complaints_done", "count", "complaints", date="received_date", done_by="closed_date"
    ),
    # …and its mirror: counted while still not done at the window's end (a blank date: open),
    # beside the done_by measures of the same ledger and date
    "rect_open_at_end": Measure(
        "rect_open_at_end",
        "count",
        "rectifications",
        date="deadline",
        done_by="closed_date",
        not_done=True,
    ),
    # two dates of a row compared (blank either side: no match), own and through a join
    "checked_on_time": Measure(
        "checked_on_time",
        "count",
        "leads",
        date="received_date",
        where=(_c("checked_date", "within_days", ("received_date", 10)),),
    ),
    "reward_within": Measure(
        "reward_within",
        "count",
        "cases",
        date="closed_date",
        join=Join("complaints", "case_id"),
        where=(_c("complaints.reward_paid_date", "within_days", ("closed_date", 30)),),
    ),
    # beside them, on the same ledger and date: plain measures (an `any` among them, whose
    # groups now repeat per month done) and a second done_by field (its own statement)
    "any_due": Measure("any_due", "any", "rectifications", date="deadline"),
    "due": Measure("due", "count", "rectifications", date="deadline"),
    "found_by_deadline": Measure(
        "found_by_deadline", "count", "rectifications", date="found_date", done_by="deadline"
    ),
    "activity_max": Measure(
        "activity_max", "sum", "activities", field="count", date="month", rollup="max"
    ),
    "activity_last": Measure(
        "activity_last",
        "sum",
        "activities",
        field="count",
        date="month",
        rollup="last",
        where=(_c("month", ">=", "2024-06"),),
    ),
    "insured": Measure("insured", "sum", "counties", field="insured_persons"),
    "hospitals": Measure(
        "hospitals",
        "sum",
        "counties",
        field="designated_hospitals",
        where=(_c("year", "==", 2025.0),),
    ),
    "key_insts": Measure(
        "key_insts", "count", "institutions", where=(_c("key_monitored", "==", True),)
    ),
    "grades": Measure("grades", "distinct_count", "institutions", field="credit_grade"),
    "any_public": Measure(
        "any_public", "any", "institutions", where=(_c("institution_type", "==", "公立医疗机构"),)
    ),
}
PARAMS = {"rate": 0.1, "cap": 5000.0}


def _spoil(frames: dict[str, pd.DataFrame], seed: int) -> dict[str, pd.DataFrame]:
    """Blank about a tenth of the cells of every column but the keys, put junk where the
    warehouse types allow it (zeros, dates a century off — with odd seeds also inspection
    dates, which sends distinct counts down the engine's by-rows path)."""
    rng = np.random.default_rng(seed)
    keys = {
        "case_id",
        "inspection_id",
        "institution_id",
        "county_code",
        "year",
        "month",
        "activity",
    }
    out = {}
    for name, df in frames.items():
        df = df.copy()
        for col in df.columns:
            blank = rng.random(len(df)) < 0.1
            if col in keys and col != "county_code" or not blank.any():
                continue
            if col == "county_code":
                blank = rng.random(len(df)) < 0.02
            df[col] = df[col].astype(object).where(~blank, None)
            if df[col].dropna().map(type).isin([float, int]).all() and rng.random() < 0.5:
                zero = rng.random(len(df)) < 0.05
                df.loc[zero & df[col].notna().to_numpy(), col] = 0
        if name == "inspections":  # a team of another county inspects some institutions:
            codes = df["county_code"].dropna().unique()  # their value is in two counties
            moved = rng.random(len(df)) < 0.05
            df.loc[moved, "county_code"] = rng.choice(codes, int(moved.sum()))
        for col in ("found_date", "closed_date", *(("inspection_date",) if seed % 2 else ())):
            if col in df.columns:
                far = rng.random(len(df)) < 0.003
                df.loc[far, col] = pd.Timestamp("1925-01-01")
        out[name] = df
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_filter_form_agrees_on_spoilt_ledgers(tmp_path: Path, demo_city, seed: int) -> None:
    frames = _spoil(demo_city.frames, seed)
    path = _warehouse(tmp_path / f"spoilt{seed}.duckdb", frames)
    _assert_engines_agree(path, MEASURES, PARAMS)


def test_hand_checked_values(tmp_path: Path) -> None:
    """Small enough to count by hand: two counties, five cases, two institutions."""
    cases = pd.DataFrame(
        {
            "case_id": ["a", "b", "c", "d", "e"],
            "county_code": ["990101", "990101", "990102", "990102", None],
            "found_date": pd.to_datetime(
                ["2025-01-10", "2025-02-01", "2025-01-31", None, "2025-01-05"]
            ),
            "status": ["已结案", "核查中", "已结案", "已结案", "已结案"],
            "amount_recovered": [100.0, None, 50.0, 7.0, 1.0],
            "fine_amount": [0.0, 10.0, 25.0, 1.0, 1.0],
        }
    )
    inspections = pd.DataFrame(
        {
            "inspection_id": ["i1", "i2", "i3", "i4"],
            "county_code": ["990101", "990101", "990101", "990102"],
            "institution_id": ["H1", "H1", "H2", "H1"],
            "inspection_date": pd.to_datetime(
                ["2025-01-03", "2025-02-03", "2025-02-04", "2025-02-05"]
            ),
        }
    )
    institutions = pd.DataFrame(
        {
            "institution_id": ["H1", "H2"],
            "county_code": ["990101", "990101"],
            "key_monitored": [True, False],
        }
    )
    path = _warehouse(
        tmp_path / "hand.duckdb",
        {"cases": cases, "inspections": inspections, "institutions": institutions},
    )
    eng = WarehouseEngine(path)
    assert list(eng.counties) == ["990101", "990102"]
    jan, feb, q1 = (
        Window(month_index("2025-01"), month_index("2025-01")),
        Window(month_index("2025-02"), month_index("2025-02")),
        Window(month_index("2025-01"), month_index("2025-03")),
    )
    closed = eng.windows(
        Measure(
            "closed", "count", "cases", date="found_date", where=(_c("status", "==", "已结案"),)
        ),
        [jan, feb, q1],
    )
    # 990101: a (Jan); 990102: c (Jan); d has no date, e no county.
    np.testing.assert_array_equal(closed, [[1, 0, 1], [1, 0, 1]])
    ratio = eng.windows(MEASURES["ratio_expr"], [jan, q1])
    # a: 100/0 → missing (no contribution); b: blank/10 → missing; c: 50/25 = 2.
    np.testing.assert_array_equal(ratio, [[0, 0], [2, 2]])
    inspected = eng.windows(MEASURES["inspected"], [jan, feb, q1])
    # 990101: H1 in Jan and Feb, H2 in Feb → 1, 2, and 2 over the quarter (not 3).
    np.testing.assert_array_equal(inspected, [[1, 2, 2], [0, 1, 1]])
    key = eng.windows(MEASURES["key_inspected"], [jan, feb, q1])
    np.testing.assert_array_equal(key, [[1, 1, 1], [0, 1, 1]])
    # The city counts H1 once although both counties inspected it in February: Jan {H1},
    # Feb {H1, H2}, quarter {H1, H2} — not the counties' sums 1, 3, 3; key-monitored: {H1}.
    rows = MeasureEngine(load_ledgers(path))
    for engine in (eng, rows):
        np.testing.assert_array_equal(
            engine.city_distinct(MEASURES["inspected"], [jan, feb, q1]), [1, 2, 2]
        )
        np.testing.assert_array_equal(
            engine.city_distinct(MEASURES["key_inspected"], [jan, feb, q1]), [1, 1, 1]
        )


# ---------------------------------------------------------------------------------------------
# Superseded rows, the facade and the CLI path
# ---------------------------------------------------------------------------------------------
def test_only_current_rows_count(tmp_path: Path, demo_city) -> None:
    """A later period re-reports a case as withdrawn and a late, older file must not win: the
    aggregates see the same current rows the row reader does."""
    path = tmp_path / "versions.duckdb"
    cases = demo_city.frames["cases"]
    with Warehouse(path) as wh:
        wh.load_frames(demo_city.frames, submission_id="s1", period="2025-09")
        wh.load_frames(
            {"cases": cases.iloc[:20].assign(status="已撤销", fine_amount=1.0)},
            submission_id="s2",
            period="2025-10",
        )
        wh.load_frames(
            {"cases": cases.iloc[20:40].assign(status="核查中")},
            submission_id="s0",
            period="2025-03",
        )
    measures = {
        k: MEASURES[k]
        for k in ("all_cases", "status_in", "status_not_in", "fines_range", "big_fines")
    }
    _assert_engines_agree(path, measures)
    # Expected from the frames: the first 20 cases withdrawn, the March file ignored.
    current = cases.copy()
    current.loc[current.index[:20], "status"] = "已撤销"
    dated = current["found_date"].notna() & current["county_code"].notna()
    eng = WarehouseEngine(path)
    for status in ("已撤销", "核查中"):
        m = Measure(
            status, "count", "cases", date="found_date", where=(_c("status", "==", status),)
        )
        got = eng.windows(m, [Window(0, 10**6)]).sum()
        assert got == ((current["status"] == status) & dated).sum(), status


def test_evaluate_reads_no_flow_ledger_rows(tmp_path: Path, demo_city) -> None:
    """From a warehouse, `evaluate` aggregates in DuckDB: only the rosters are read as rows,
    and the results equal the in-memory evaluation's."""
    path = _warehouse(tmp_path / "facade.duckdb", demo_city.frames)
    ev = evaluate(path, "2025-09", "no_fraud_city", uncertainty_samples=0)
    ref = evaluate(load_ledgers(path), "2025-09", "no_fraud_city", uncertainty_samples=0)
    pd.testing.assert_frame_equal(ev.kpis_all, ref.kpis_all, rtol=1e-9)
    pd.testing.assert_frame_equal(ev.index_table, ref.index_table, rtol=1e-9)
    assert set(ev.ledgers.loaded) <= {"counties", "institutions"}
