"""The warehouse's read path: column projection, dtypes, and the `_current` rows.

`Warehouse.read_ledger` computes the `_current` rows without the view's window (see its
docstring); every test here holds it to the view: same rows, same values, newest version of a
record wins, orphaned rows dropped.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.contracts import LEDGERS
from workbench.declarations import load_set
from workbench.demo import generate_city
from workbench.measures import ledger_columns
from workbench.results import evaluate
from workbench.warehouse import META_COLUMNS, Warehouse, coerce_frame_types

PERIOD = "2025-09"


def _insert(wh: Warehouse, name: str, df: pd.DataFrame, submission: str, period: str) -> None:
    d = df.copy()
    d["_submission_id"] = submission
    d["_period"] = period
    d["_source_row"] = np.arange(2, len(d) + 2)
    wh.con.register("rows_in", d)
    wh.con.execute(f'INSERT INTO "{name}" BY NAME SELECT * FROM rows_in')
    wh.con.unregister("rows_in")


def _submit(wh: Warehouse, submission: str, county: str, period: str, at: str) -> None:
    wh.con.execute("INSERT INTO submissions (submission_id, county_code, period, ingested_at, "
                   "status) VALUES (?, ?, ?, ?, '有效')", [submission, county, period,
                                                         pd.Timestamp(at)])


@pytest.fixture(scope="module")
def city():
    return generate_city(3, end=PERIOD)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory, city) -> Path:
    """The demo city's ledgers under one submission, plus versions of case records."""
    path = tmp_path_factory.mktemp("wh") / "wh.duckdb"
    cases = city.frames["cases"]
    with Warehouse(path) as wh:
        _submit(wh, "s_all", "990101", PERIOD, "2025-10-05")
        for name, df in city.frames.items():
            _insert(wh, name, df, "s_all", PERIOD)
        first, second, third = (cases.iloc[[i]].copy() for i in range(3))
        # A later period re-reports the first case, closed: it wins over the September row.
        _submit(wh, "s_later", "990101", "2025-10", "2025-11-05")
        _insert(wh, "cases", first.assign(status="已撤销", fine_amount=123.0), "s_later",
                "2025-10")
        # An earlier period that arrives late must not override September.
        _submit(wh, "s_late_old", "990101", "2025-03", "2025-12-01")
        _insert(wh, "cases", second.assign(status="核查中"), "s_late_old", "2025-03")
        # Two submissions of the same period: the later ingest wins.
        _submit(wh, "s_same_early", "990101", "2025-11", "2025-12-01")
        _submit(wh, "s_same_late", "990101", "2025-11", "2025-12-02")
        _insert(wh, "cases", third.assign(fine_amount=1.0), "s_same_early", "2025-11")
        _insert(wh, "cases", third.assign(fine_amount=2.0), "s_same_late", "2025-11")
        # A row whose submission is gone never shows.
        _insert(wh, "complaints", city.frames["complaints"].iloc[[0]].assign(
            complaint_id="ORPHAN"), "s_missing", PERIOD)
    return path


def _view(wh: Warehouse, name: str, cols: list[str]) -> pd.DataFrame:
    """The view's rows through the pre-Arrow path (DuckDB .df() + coerce_frame_types)."""
    sql = f"SELECT {', '.join(chr(34) + c + chr(34) for c in cols)} FROM \"{name}_current\""
    return coerce_frame_types(wh.con.execute(sql).df(), LEDGERS[name])


def _sorted(df: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    return df.sort_values(key, kind="stable").reset_index(drop=True)


def _assert_same_values(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Equal cell by cell, text compared as Python objects (missing = missing)."""
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    for c in a.columns:
        x, y = a[c].astype(object), b[c].astype(object)
        same = (x.isna() & y.isna()) | (x == y).fillna(False).astype(bool)
        assert bool(same.all()), c


@pytest.mark.parametrize("name", list(LEDGERS))
def test_read_matches_the_current_view(warehouse: Path, name: str) -> None:
    lg = LEDGERS[name]
    with Warehouse(warehouse, read_only=True) as wh:
        got = wh.read_ledger(name)
        want = _view(wh, name, lg.field_names)
    assert list(got.columns) == lg.field_names
    _assert_same_values(_sorted(got, list(lg.key)), _sorted(want, list(lg.key)))


def test_newest_version_of_a_record_wins(warehouse: Path, city) -> None:
    ids = city.frames["cases"]["case_id"].iloc[:3].tolist()
    with Warehouse(warehouse, read_only=True) as wh:
        cur = wh.read_ledger("cases", with_meta=True).set_index("case_id")
        every = wh.read_ledger("cases", current=False)
        n_view = wh.con.execute("SELECT count(*) FROM cases_current").fetchall()[0][0]
    assert len(cur) == len(city.frames["cases"]) == n_view
    assert len(every) == len(city.frames["cases"]) + 4
    assert cur.at[ids[0], "status"] == "已撤销" and cur.at[ids[0], "_period"] == "2025-10"
    assert cur.at[ids[1], "_period"] == PERIOD  # the late-arriving March row lost
    assert cur.at[ids[1], "status"] == city.frames["cases"]["status"].iloc[1]
    assert cur.at[ids[2], "fine_amount"] == 2.0 and cur.at[ids[2], "_submission_id"] == \
        "s_same_late"
    assert cur.index.is_unique


def test_rows_of_a_missing_submission_are_dropped(warehouse: Path, city) -> None:
    with Warehouse(warehouse, read_only=True) as wh:
        cur = wh.read_ledger("complaints")
        every = wh.read_ledger("complaints", current=False)
    assert "ORPHAN" not in set(cur["complaint_id"]) and "ORPHAN" in set(every["complaint_id"])
    assert len(cur) == len(city.frames["complaints"])


@pytest.mark.parametrize("current", [True, False])
@pytest.mark.parametrize("name", ["cases", "counties", "institutions", "activities"])
def test_column_projection_is_the_full_read(warehouse: Path, name: str, current: bool) -> None:
    lg = LEDGERS[name]
    cols = [f.name for f in lg.fields][::-2] + ["_period"]  # any subset, any order, meta too
    with Warehouse(warehouse, read_only=True) as wh:
        full = wh.read_ledger(name, current=current, with_meta=True)
        part = wh.read_ledger(name, current=current, columns=cols)
    assert list(part.columns) == cols
    pd.testing.assert_frame_equal(part, full[cols])


def test_dtypes_as_documented(warehouse: Path) -> None:
    with Warehouse(warehouse, read_only=True) as wh:
        frames = wh.read_ledgers()
    for name, lg in LEDGERS.items():
        df = frames[name]
        for f in lg.fields:
            col = df[f.name]
            if f.type == "date":
                assert col.dtype == "datetime64[ns]", (name, f.name)
            elif f.type == "yuan":
                assert col.dtype == "float64", (name, f.name)
            elif f.type == "bool":
                assert col.dtype == "boolean", (name, f.name)
            elif f.type == "int":
                assert col.dtype == "Int64", (name, f.name)
            else:
                assert col.dtype == object or pd.api.types.is_string_dtype(col), (name, f.name)
                assert all(isinstance(v, str) for v in col.dropna()), (name, f.name)
    cases = frames["cases"]
    blank = cases["institution_id"].isna() | cases["closed_date"].isna()
    assert blank.any()  # the demo has blanks: they read as missing, never as "None" or ""
    assert not cases["institution_id"].isin(["None", "nan", ""]).any()


def test_unknown_or_no_columns(warehouse: Path) -> None:
    with Warehouse(warehouse, read_only=True) as wh:
        with pytest.raises(KeyError):
            wh.read_ledger("cases", columns=["case_id", "no_such_field"])
        none = wh.read_ledger("cases", columns=[])
        n = wh.con.execute("SELECT count(*) FROM cases_current").fetchall()[0][0]
    assert none.shape == (n, 0)


def test_ledger_columns_cover_what_the_engine_reads() -> None:
    cols = ledger_columns([load_set("campaign_2025")])
    for name, lg in LEDGERS.items():
        assert "county_code" in cols[name]
        if lg.date_field:
            assert lg.date_field in cols[name]
    assert {"county_name", "city", "year"} <= set(cols["counties"])
    # key_monitored_inspected: inspections joined to institutions on institution_id
    assert "institution_id" in cols["inspections"]
    assert {"institution_id", "key_monitored"} <= set(cols["institutions"])
    assert "person_name" not in cols["cases"]  # never read for indicators


def test_evaluate_from_the_file_equals_evaluate_from_whole_ledgers(warehouse: Path) -> None:
    with Warehouse(warehouse, read_only=True) as wh:
        whole = wh.read_ledgers()
    from_file = evaluate(warehouse, PERIOD, "campaign_2025", uncertainty_samples=0)
    from_dict = evaluate(whole, PERIOD, "campaign_2025", uncertainty_samples=0)
    assert set(from_file.ledgers["cases"].columns) < set(whole["cases"].columns)
    pd.testing.assert_frame_equal(from_file.kpis_all, from_dict.kpis_all)
    pd.testing.assert_frame_equal(from_file.index_table, from_dict.index_table)
    # Drill-through still shows whole rows (read from the file when first asked).
    county = from_dict.county_names.index[0]
    a = from_file.drill(county, "fund_recovery_rate")
    b = from_dict.drill(county, "fund_recovery_rate")
    assert a.numerator and len(a.numerator[0].rows.columns) == len(b.numerator[0].rows.columns)
    pd.testing.assert_frame_equal(a.numerator_rows, b.numerator_rows)
    pd.testing.assert_frame_equal(a.denominator_rows, b.denominator_rows)


def test_meta_columns_stay_readable(warehouse: Path) -> None:
    with Warehouse(warehouse, read_only=True) as wh:
        df = wh.read_ledger("leads", with_meta=True)
    assert list(df.columns[-len(META_COLUMNS):]) == list(META_COLUMNS)
    assert set(df["_submission_id"]) == {"s_all"}


def test_drill_after_the_warehouse_handle_is_closed(warehouse: Path) -> None:
    with Warehouse(warehouse, read_only=True) as wh:
        ev = evaluate(wh, PERIOD, "campaign_2025", uncertainty_samples=0)
    county = ev.county_names.index[0]
    rows = ev.drill(county, "fund_recovery_rate").numerator_rows
    assert "案件编号" in rows.columns or "case_id" in rows.columns


def test_latest_complete_period_reads_little_and_agrees(warehouse: Path, tmp_path: Path,
                                                        city) -> None:
    from workbench.indicators import latest_complete_period as from_ledgers
    from workbench.results import latest_complete_period

    with Warehouse(warehouse, read_only=True) as wh:
        whole = wh.read_ledgers()
        subs = wh.table("SELECT county_code, period, status FROM submissions")
    # Only one county has submitted: no complete period by submissions → the ledgers' dates.
    assert latest_complete_period(warehouse) == from_ledgers(whole, subs) is not None
    # Every county in for 2025-08: the submissions decide.
    path = tmp_path / "all_in.duckdb"
    with Warehouse(path) as wh:
        _insert(wh, "counties", city.frames["counties"], "s0", "2025-08")
        for i, code in enumerate(city.frames["counties"]["county_code"].unique()):
            _submit(wh, f"s{i}", code, "2025-08", "2025-09-05")
    assert latest_complete_period(path) == "2025-08"
