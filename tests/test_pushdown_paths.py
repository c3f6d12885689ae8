"""The warehouse engine's shortcuts against hand counts and against the numpy engine.

`pushdown.WarehouseEngine` takes three shortcuts that must not change a number:

- a joined flow whose conditions are false without a joined match (`_matched_only`) gets a
  statement of its own with inner joins, so the rows without a match never reach DuckDB's
  aggregation — and that statement must not narrow the months the ledger's grid covers;
- in a `done_by` statement the month a row was done is grouped as its own month when it is
  not later (the windows that count a row always hold its month);
- a statement of `not_done_by` measures alone drops the rows done by their own month.

Each is checked by hand on a few cases, and with hypothesis on random little ledgers against
`measures.MeasureEngine` (rows in memory, none of the shortcuts), both through `prepare` (the
measures of a set sharing statements) and one measure at a time.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.declarations import AllOf, AnyOf, Clause, Join, Measure
from workbench.measures import MeasureEngine, Window, month_index
from workbench.pushdown import WarehouseEngine, _matched_only
from workbench.results import load_ledgers
from workbench.warehouse import Warehouse


def _c(field: str, op: str, value: object = None) -> Clause:
    return Clause(field, op, value)


REWARDS = Join("complaints", "case_id")
MEASURES = {
    # closed cases with a reward paid: counts only rows with a complaint → inner join
    "reward_sum": Measure(
        "reward_sum",
        "sum",
        "cases",
        field="complaints.reward_paid",
        date="closed_date",
        join=REWARDS,
        where=(_c("complaints.reward_paid", ">", 0.0),),
    ),
    "reward_on_time": Measure(
        "reward_on_time",
        "count",
        "cases",
        date="closed_date",
        join=REWARDS,
        where=(
            _c("status", "==", "已结案"),
            _c("complaints.reward_paid_date", "within_days", ("closed_date", 30)),
        ),
    ),
    # a blank joined field counts: every row joined (left)
    "no_complaint": Measure(
        "no_complaint",
        "count",
        "cases",
        date="closed_date",
        join=REWARDS,
        where=(_c("complaints.complaint_id", "is_null"),),
    ),
    "closed": Measure(
        "closed", "count", "cases", date="closed_date", where=(_c("status", "==", "已结案"),)
    ),
    # still open at the window's end, alone on its date (rows done by their month dropped)
    "open_past_due": Measure(
        "open_past_due", "count", "cases", date="due_date", done_by="closed_date", not_done=True
    ),
    # on the complaints' due date: done by the window's end, and still open, side by side
    "complaints_done": Measure(
        "complaints_done", "count", "complaints", date="due_date", done_by="closed_date"
    ),
    "complaints_open": Measure(
        "complaints_open",
        "count",
        "complaints",
        date="due_date",
        done_by="closed_date",
        not_done=True,
    ),
    "complaints_due": Measure("complaints_due", "count", "complaints", date="due_date"),
}


def _warehouse(path: Path, frames: dict[str, pd.DataFrame]) -> Path:
    with Warehouse(path) as wh:
        wh.load_frames(frames, period="2025-09")
    return path


def _m(label: str) -> int:
    return month_index(label)


def _win(a: str, b: str | None = None) -> Window:
    return Window(_m(a), _m(b or a))


def _prepared(path: Path, measures: dict[str, Measure]) -> WarehouseEngine:
    """An engine whose measures were aggregated together, as for an indicator set (`prepare`
    reads only a set's parameters and measures)."""
    eng = WarehouseEngine(path)
    eng.prepare([SimpleNamespace(parameters={}, measures=measures)])  # type: ignore[list-item]
    return eng


def _hand_frames() -> dict[str, pd.DataFrame]:
    d = pd.Timestamp
    cases = pd.DataFrame(
        {
            "case_id": ["a", "b", "c", "d", "e", "f"],
            "county_code": ["990101", "990101", "990101", "990102", "990102", "990102"],
            "found_date": [d("2024-11-01")] * 6,
            "status": ["已结案", "已结案", "核查中", "已结案", "已结案", "已结案"],
            "closed_date": [
                d("2025-01-15"),
                d("2025-03-02"),
                None,
                d("2025-02-05"),
                d("2024-12-20"),
                d("2025-02-01"),
            ],
            "due_date": [
                d("2025-01-20"),
                d("2025-01-31"),
                d("2025-02-10"),
                d("2025-01-10"),
                d("2025-01-05"),
                None,
            ],
        }
    )
    complaints = pd.DataFrame(
        {
            "complaint_id": ["k1", "k2", "k3", "k4", "k5"],
            "county_code": ["990101", "990101", "990102", "990102", "990102"],
            "received_date": [d("2024-12-01")] * 5,
            "case_id": ["a", "b", "d", None, "zz"],
            "reward_paid": [100.0, 0.0, 50.0, 999.0, 7.0],
            "reward_paid_date": [d("2025-01-20"), None, d("2025-04-01"), None, None],
            "due_date": [d("2025-01-10"), d("2025-01-20"), d("2025-02-10"), None, None],
            "closed_date": [d("2025-01-05"), d("2025-02-03"), None, None, None],
        }
    )
    return {"cases": cases, "complaints": complaints}


@pytest.mark.parametrize("prepared", [False, True])
def test_hand_counted(tmp_path: Path, prepared: bool) -> None:
    path = _warehouse(tmp_path / "hand.duckdb", _hand_frames())
    eng = _prepared(path, MEASURES) if prepared else WarehouseEngine(path)
    dec, jan, feb, mar = (_win(m) for m in ("2024-12", "2025-01", "2025-02", "2025-03"))
    jan_feb, q1 = _win("2025-01", "2025-02"), _win("2025-01", "2025-03")
    # Rewards (joined, matched rows only): a's 100 closed in January (990101), d's 50 in
    # February (990102); b's complaint paid 0 and k4/k5 name no case of the ledger.
    np.testing.assert_array_equal(
        eng.windows(MEASURES["reward_sum"], [jan, feb, mar, q1]),
        [[100, 0, 0, 100], [0, 50, 0, 50]],
    )
    # Paid within 30 days of the closure: a (Jan 20 ≤ Jan 15 + 30); d's Apr 1 is past Mar 7.
    np.testing.assert_array_equal(
        eng.windows(MEASURES["reward_on_time"], [jan, feb, q1]), [[1, 0, 1], [0, 0, 0]]
    )
    # Cases with no complaint, by closing month: e (Dec, 990102), f (Feb, 990102).
    np.testing.assert_array_equal(
        eng.windows(MEASURES["no_complaint"], [dec, jan, feb, mar]),
        [[0, 0, 0, 0], [1, 0, 1, 0]],
    )
    # Computed after the rewards (each its own statement without `prepare`): December is
    # still in the ledger's months although no rewarded case closed then — e counts.
    np.testing.assert_array_equal(
        eng.windows(MEASURES["closed"], [dec, jan, feb, mar]),
        [[0, 1, 0, 1], [1, 0, 2, 0]],
    )
    # Still open at the window's end, by due month. January: b (closed in March) and d
    # (closed in February) — a and e were closed by their due month; February: c (never);
    # January–February, at February's end: b and c, not d; the quarter, at March's end: c.
    np.testing.assert_array_equal(
        eng.windows(MEASURES["open_past_due"], [jan, feb, mar, jan_feb, q1]),
        [[1, 1, 0, 2, 1], [1, 0, 0, 0, 0]],
    )
    # Complaints due: k1 (Jan, closed Jan 5), k2 (Jan, closed Feb 3), k3 (990102, Feb, no
    # closing date). Done by the end: k1 in January, k1 and k2 by February's end; a blank
    # date counts as done at an unknown time (`done_by`), as still open (`not_done_by`).
    np.testing.assert_array_equal(
        eng.windows(MEASURES["complaints_done"], [jan, feb, jan_feb]), [[1, 0, 2], [0, 1, 1]]
    )
    np.testing.assert_array_equal(
        eng.windows(MEASURES["complaints_open"], [jan, feb, jan_feb]), [[1, 0, 0], [0, 1, 1]]
    )
    np.testing.assert_array_equal(
        eng.windows(MEASURES["complaints_due"], [jan, feb, jan_feb]), [[2, 0, 2], [0, 1, 1]]
    )


def test_a_condition_every_measure_shares_filters_rows_not_months(tmp_path: Path) -> None:
    """Measures of one statement that all count 核查中 cases drop the other rows before
    grouping; the ledger's months stay those of all its rows, so a measure asked later on
    the same date still sees a month holding only other rows."""
    d = pd.Timestamp
    cases = pd.DataFrame(
        {
            "case_id": ["a", "b", "c", "d"],
            "county_code": ["990101", "990101", "990101", "990102"],
            "status": ["核查中", "核查中", "已结案", "核查中"],
            "filed_date": [d("2025-01-03"), d("2025-01-20"), d("2024-12-05"), d("2025-02-01")],
            "due_date": [d("2025-03-01"), None, d("2025-01-01"), d("2025-03-01")],
        }
    )
    path = _warehouse(tmp_path / "shared.duckdb", {"cases": cases})
    open_cases = Measure(
        "open", "count", "cases", date="filed_date", where=(_c("status", "==", "核查中"),)
    )
    open_due = Measure(
        "open_due",
        "count",
        "cases",
        date="filed_date",
        where=(_c("status", "==", "核查中"), _c("due_date", "not_null")),
    )
    every = Measure("every", "count", "cases", date="filed_date")
    eng = _prepared(path, {"open": open_cases, "open_due": open_due})
    dec, jan, feb = (_win(m) for m in ("2024-12", "2025-01", "2025-02"))
    np.testing.assert_array_equal(eng.windows(open_cases, [dec, jan, feb]), [[0, 2, 0], [0, 0, 1]])
    np.testing.assert_array_equal(eng.windows(open_due, [dec, jan, feb]), [[0, 1, 0], [0, 0, 1]])
    # c, filed in December, is in no prepared statement's rows: it still counts
    np.testing.assert_array_equal(eng.windows(every, [dec, jan, feb]), [[1, 2, 0], [0, 0, 1]])


def test_joined_distinct_counts_build_the_join_from_the_rows_they_read(tmp_path: Path) -> None:
    """Distinct counts whose joined conditions are read on the grouped (county, value) pairs
    join only the right rows some condition keeps — unless a condition holds for a value
    without a match (blank grade), which must then still count."""
    d = pd.Timestamp
    institutions = pd.DataFrame(
        {
            "institution_id": ["H1", "H2", "H3", "H4"],
            "county_code": ["990101", "990101", "990101", "990102"],
            "key_monitored": [True, False, None, True],
            "credit_grade": ["A", None, "C", "B"],
        }
    )
    inspections = pd.DataFrame(
        {
            "inspection_id": ["i1", "i2", "i3", "i4", "i5", "i6"],
            "county_code": ["990101", "990101", "990101", "990101", "990102", "990102"],
            "institution_id": ["H1", "H1", "H2", "H3", "H4", "H9"],
            "inspection_date": [d("2025-01-05")] * 2 + [d("2025-02-05")] * 4,
        }
    )
    path = _warehouse(
        tmp_path / "pairs.duckdb", {"institutions": institutions, "inspections": inspections}
    )
    join = Join("institutions", "institution_id")

    def m(code: str, *where: object) -> Measure:
        return Measure(
            code,
            "distinct_count",
            "inspections",
            field="institution_id",
            date="inspection_date",
            join=join,
            where=where,
        )

    key = m("key", _c("institutions.key_monitored", "==", True))
    good = m("good", _c("institutions.credit_grade", "in", ("A", "B")))
    ungraded = m("ungraded", _c("institutions.credit_grade", "is_null"))
    every = Measure(
        "every", "distinct_count", "inspections", field="institution_id", date="inspection_date"
    )
    jan, feb, both = _win("2025-01"), _win("2025-02"), _win("2025-01", "2025-02")
    rows = MeasureEngine(load_ledgers(path))
    for batch in ({"key": key, "good": good, "every": every}, {"key": key, "ungraded": ungraded}):
        eng = _prepared(path, batch)
        for measure in batch.values():
            np.testing.assert_array_equal(
                eng.windows(measure, [jan, feb, both]),
                rows.windows(measure, [jan, feb, both]),
                err_msg=measure.code,
            )
    # by hand: key H1 (Jan), H4 (Feb); graded A/B H1, H4; blank grade H2 and H9 (no match)
    eng = _prepared(path, {"key": key, "good": good, "ungraded": ungraded})
    np.testing.assert_array_equal(eng.windows(key, [jan, feb, both]), [[1, 0, 1], [0, 1, 1]])
    np.testing.assert_array_equal(eng.windows(good, [jan, feb, both]), [[1, 0, 1], [0, 1, 1]])
    np.testing.assert_array_equal(eng.windows(ungraded, [jan, feb, both]), [[0, 1, 1], [0, 1, 1]])


def test_blank_text_is_null_or_spaces(tmp_path: Path) -> None:
    """`is_null` on text: NULL, empty, or spaces only (ASCII or ideographic) — whatever the
    string starts with; text with a printable character anywhere is filled."""
    values = [None, "", " ", "\u3000", "  \u3000 ", " 已反馈", "已反馈", "\u3000x", "x ", "!"]
    cases = pd.DataFrame(
        {
            "case_id": [f"c{i}" for i in range(len(values))],
            "county_code": "990101",
            "found_date": pd.Timestamp("2025-01-10"),
            "police_feedback": values,
        }
    )
    path = _warehouse(tmp_path / "blank.duckdb", {"cases": cases})
    blank = Measure(
        "blank", "count", "cases", date="found_date", where=(_c("police_feedback", "is_null"),)
    )
    filled = Measure(
        "filled", "count", "cases", date="found_date", where=(_c("police_feedback", "not_null"),)
    )
    jan = [_win("2025-01")]
    rows = MeasureEngine(load_ledgers(path))
    for eng in (_prepared(path, {"blank": blank, "filled": filled}), WarehouseEngine(path)):
        np.testing.assert_array_equal(eng.windows(blank, jan), [[5]])
        np.testing.assert_array_equal(eng.windows(filled, jan), [[5]])
    np.testing.assert_array_equal(rows.windows(blank, jan), [[5]])


def test_which_joined_measures_count_matched_rows_only() -> None:
    def m(*where: object) -> Measure:
        return Measure("x", "count", "cases", date="closed_date", join=REWARDS, where=where)

    assert _matched_only(m(_c("complaints.reward_paid", ">", 0.0)))
    assert _matched_only(m(_c("complaints.complaint_id", "not_null")))
    assert _matched_only(m(_c("complaints.reward_paid_date", "within_days", ("closed_date", 3))))
    assert _matched_only(m(_c("status", "==", "已结案"), _c("complaints.channel", "!=", "x")))
    assert _matched_only(
        m(AnyOf((_c("complaints.reward_paid", ">", 0.0), _c("complaints.verified", "==", True))))
    )
    assert _matched_only(m(AllOf((_c("status", "==", "a"), _c("complaints.verified", "==", 1)))))
    # a blank joined field matches, a condition on the row alone, or an either-or with one
    assert not _matched_only(m(_c("complaints.complaint_id", "is_null")))
    assert not _matched_only(m(_c("status", "==", "已结案")))
    assert not _matched_only(
        m(AnyOf((_c("complaints.reward_paid", ">", 0.0), _c("status", "==", "已结案"))))
    )
    assert not _matched_only(m())
    assert not _matched_only(
        Measure("y", "count", "cases", date="closed_date", where=(_c("status", "==", "a"),))
    )


# ---------------------------------------------------------------------------------------------
# Random little ledgers: the shortcuts equal the numpy engine
# ---------------------------------------------------------------------------------------------
_MONTHS = pd.date_range("2024-11-01", "2025-04-30", freq="9D")
_dates = st.one_of(st.none(), st.sampled_from(list(_MONTHS)))


@st.composite
def _ledgers(draw: st.DrawFn) -> dict[str, pd.DataFrame]:
    n = draw(st.integers(1, 12))
    case = st.fixed_dictionaries(
        {
            "county_code": st.sampled_from(["990101", "990102"]),
            "status": st.sampled_from(["已结案", "核查中"]),
            "closed_date": _dates,
            "due_date": _dates,
        }
    )
    cases = pd.DataFrame(draw(st.lists(case, min_size=n, max_size=n)))
    cases.insert(0, "case_id", [f"c{i}" for i in range(n)])
    cases["found_date"] = pd.Timestamp("2024-11-01")
    k = draw(st.integers(0, 10))
    complaint = st.fixed_dictionaries(
        {
            "county_code": st.sampled_from(["990101", "990102"]),
            "case_id": st.one_of(st.none(), st.sampled_from([*cases["case_id"], "zz"])),
            "reward_paid": st.sampled_from([None, 0.0, 10.0, 25.5]),
            "reward_paid_date": _dates,
            "due_date": _dates,
            "closed_date": _dates,
        }
    )
    cols = ["county_code", "case_id", "reward_paid", "reward_paid_date", "due_date", "closed_date"]
    complaints = pd.DataFrame(draw(st.lists(complaint, min_size=k, max_size=k)), columns=cols)
    complaints.insert(0, "complaint_id", [f"k{i}" for i in range(k)])
    complaints["received_date"] = pd.Timestamp("2024-11-01")
    return {"cases": cases, "complaints": complaints}


def _windows() -> list[Window]:
    lo, hi = _m("2024-10"), _m("2025-06")
    out = [Window(m, m) for m in range(lo, hi + 1)]
    out += [Window(m, m + 2) for m in range(lo, hi)]
    return out + [Window(lo, hi), Window(0, hi + 60), Window(5, 4)]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(frames=_ledgers())
def test_shortcuts_equal_the_numpy_engine(tmp_path: Path, frames: dict) -> None:
    path = tmp_path / "random.duckdb"
    if path.exists():
        path.unlink()
    _warehouse(path, frames)
    rows = MeasureEngine(load_ledgers(path))
    wins = _windows()
    for eng in (_prepared(path, MEASURES), WarehouseEngine(path)):
        assert list(eng.counties) == list(rows.counties)
        for code, m in MEASURES.items():
            np.testing.assert_allclose(
                eng.windows(m, wins),
                rows.windows(m, wins),
                rtol=1e-12,
                atol=1e-12,
                equal_nan=True,
                err_msg=code,
            )
