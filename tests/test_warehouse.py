"""The warehouse's read path: column projection, dtypes, and the `_current` rows; and its
schema upgrades: a file an earlier version wrote, opened by a version whose contracts and result
tables have more columns.

Which rows are current is decided when rows are written (`Warehouse.refresh_current` marks the
`_live` flag); every test here holds what is read to the definition — the window ranking of
`ranked_view_ddl`, and an independent pandas ranking over random histories of submissions,
corrections and deletions: same rows, same values, newest version of a record wins, orphaned
rows dropped.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from workbench.commands.status import status_lines
from workbench.contracts import LEDGERS, Field, Ledger
from workbench.declarations import load_set
from workbench.demo import generate_city
from workbench.measures import ledger_columns
from workbench.results import evaluate
from workbench.warehouse import (
    LIVE,
    META_COLUMNS,
    RESULT_TABLES,
    UPGRADES,
    Column,
    Warehouse,
    coerce_frame_types,
    file_columns,
    ranked_view_ddl,
    schema_fingerprint,
)

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
    wh.con.execute(
        "INSERT INTO submissions (submission_id, county_code, period, ingested_at, "
        "status) VALUES (?, ?, ?, ?, '有效')",
        [submission, county, period, pd.Timestamp(at)],
    )


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
        _insert(wh, "cases", first.assign(status="已撤销", fine_amount=123.0), "s_later", "2025-10")
        # An earlier period that arrives late must not override September.
        _submit(wh, "s_late_old", "990101", "2025-03", "2025-12-01")
        _insert(wh, "cases", second.assign(status="核查中"), "s_late_old", "2025-03")
        # Two submissions of the same period: the later ingest wins.
        _submit(wh, "s_same_early", "990101", "2025-11", "2025-12-01")
        _submit(wh, "s_same_late", "990101", "2025-11", "2025-12-02")
        _insert(wh, "cases", third.assign(fine_amount=1.0), "s_same_early", "2025-11")
        _insert(wh, "cases", third.assign(fine_amount=2.0), "s_same_late", "2025-11")
        # A row whose submission is gone never shows.
        _insert(
            wh,
            "complaints",
            city.frames["complaints"].iloc[[0]].assign(complaint_id="ORPHAN"),
            "s_missing",
            PERIOD,
        )
        wh.refresh_current()
    return path


def _view(wh: Warehouse, name: str, cols: list[str]) -> pd.DataFrame:
    """The definition's rows (a window ranking every row at read time) through the pre-Arrow
    path (DuckDB .df() + coerce_frame_types)."""
    sql = (
        f"SELECT {', '.join(chr(34) + c + chr(34) for c in cols)} "
        f"FROM ({ranked_view_ddl(LEDGERS[name])})"
    )
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
    assert (
        cur.at[ids[2], "fine_amount"] == 2.0 and cur.at[ids[2], "_submission_id"] == "s_same_late"
    )
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
    assert list(df.columns[-len(META_COLUMNS) :]) == list(META_COLUMNS)
    assert set(df["_submission_id"]) == {"s_all"}


def test_one_countys_rows(warehouse: Path) -> None:
    """`county=` gives exactly the whole read's rows of that county (the dashboard's
    per-county load); a code with no rows gives an empty frame of the same columns."""
    with Warehouse(warehouse, read_only=True) as wh:
        whole = wh.read_ledger("cases")
        county = whole["county_code"].dropna().iloc[0]
        one = wh.read_ledger("cases", county=county)
        none = wh.read_ledger("cases", county="000000")
    want = whole[whole["county_code"] == county].reset_index(drop=True)
    assert 0 < len(one) < len(whole)
    pd.testing.assert_frame_equal(one, want)
    assert none.empty and list(none.columns) == list(whole.columns)


def test_drill_after_the_warehouse_handle_is_closed(warehouse: Path) -> None:
    with Warehouse(warehouse, read_only=True) as wh:
        ev = evaluate(wh, PERIOD, "campaign_2025", uncertainty_samples=0)
    county = ev.county_names.index[0]
    rows = ev.drill(county, "fund_recovery_rate").numerator_rows
    assert "案件编号" in rows.columns or "case_id" in rows.columns


def test_latest_complete_period_reads_little_and_agrees(
    warehouse: Path, tmp_path: Path, city
) -> None:
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


# ---------------------------------------------------------------------------------------------
# `_live` over random histories, against an independent pandas ranking
# ---------------------------------------------------------------------------------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_OPS = st.lists(
    st.one_of(
        # (kind, county, period, day of ingest, case ids)
        st.tuples(
            st.just("submit"),
            st.sampled_from(["990101", "990102"]),
            st.sampled_from(["2025-01", "2025-02", "2025-03"]),
            st.integers(1, 28),
            st.lists(st.sampled_from([f"C{i}" for i in range(6)]), min_size=0, max_size=5),
        ),
        st.tuples(st.just("delete"), st.integers(0, 20)),  # drop a submission's rows
        st.tuples(st.just("forget"), st.integers(0, 20)),  # drop the submission, keep its rows
    ),
    min_size=1,
    max_size=12,
)


def _expected(rows: pd.DataFrame, subs: pd.DataFrame) -> set[tuple]:
    """Per case_id the row of the latest period, then latest ingest, then latest source row,
    then latest insert; rows whose submission is gone never count."""
    live = rows.merge(subs, left_on="_submission_id", right_on="submission_id")
    live = live.sort_values(
        ["_period", "ingested_at", "_source_row", "seq"], ascending=False, kind="stable"
    )
    first = live.drop_duplicates("case_id")
    return set(zip(first["case_id"], first["_submission_id"], first["_source_row"]))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(ops=_OPS)
def test_live_rows_follow_any_history(tmp_path: Path, ops: list) -> None:
    path = tmp_path / f"h{abs(hash(repr(ops)))}.duckdb"
    path.unlink(missing_ok=True)
    rows = pd.DataFrame(columns=["case_id", "_submission_id", "_period", "_source_row", "seq"])
    subs = pd.DataFrame(columns=["submission_id", "ingested_at"])
    seq = 0
    made: list[str] = []
    with Warehouse(path) as wh:
        for op in ops:
            if op[0] == "submit":
                _kind, county, period, day, ids = op
                sid = f"s{len(made)}"
                made.append(sid)
                at = pd.Timestamp(f"2025-06-{day:02d}")
                _submit(wh, sid, county, period, str(at))
                subs.loc[len(subs)] = [sid, at]
                if ids:
                    frame = pd.DataFrame({"case_id": ids, "county_code": county})
                    _insert(wh, "cases", frame, sid, period)
                    for i, cid in enumerate(ids):
                        rows.loc[len(rows)] = [cid, sid, period, i + 2, seq]
                        seq += 1
            elif made:
                sid = made[op[1] % len(made)]
                if op[0] == "delete":
                    wh.con.execute("DELETE FROM cases WHERE _submission_id = ?", [sid])
                    rows = rows[rows["_submission_id"] != sid].reset_index(drop=True)
                else:
                    wh.con.execute("DELETE FROM submissions WHERE submission_id = ?", [sid])
                    subs = subs[subs["submission_id"] != sid].reset_index(drop=True)
            wh.refresh_current(["cases"])
            got = wh.con.execute(
                f"SELECT case_id, _submission_id, _source_row FROM cases WHERE {LIVE}"
            ).fetchall()
            assert len(got) == len(set(got))
            assert set(got) == _expected(rows, subs)
            assert set(got) == set(
                wh.con.execute(
                    f"SELECT case_id, _submission_id, _source_row FROM "
                    f"({ranked_view_ddl(LEDGERS['cases'])})"
                ).fetchall()
            )


def test_a_file_from_before_the_flag(tmp_path: Path, city) -> None:
    """A warehouse written before rows carried `_live`: read-only it still reads the current
    rows (its view ranks at read time); opened for writing it gains the flag, marked."""
    path = tmp_path / "old.duckdb"
    with Warehouse(path) as wh:
        _submit(wh, "s1", "990101", "2025-08", "2025-09-05")
        _submit(wh, "s2", "990101", "2025-09", "2025-10-05")
        _insert(wh, "cases", city.frames["cases"], "s1", "2025-08")
        _insert(wh, "cases", city.frames["cases"].iloc[:5].assign(status="已撤销"), "s2", "2025-09")
        for lg in LEDGERS.values():  # back to the old shape: no flag, a ranking view
            wh.con.execute(f'DROP VIEW "{lg.name}_current"')
            wh.con.execute(f'ALTER TABLE "{lg.name}" DROP COLUMN {LIVE}')
            wh.con.execute(f'CREATE VIEW "{lg.name}_current" AS {ranked_view_ddl(lg)}')
    n_cases = len(city.frames["cases"])
    with Warehouse(path, read_only=True) as wh:
        assert not wh.has_live("cases")
        old = wh.read_ledger("cases")
    assert len(old) == n_cases and (old["status"] == "已撤销").sum() >= 5
    with Warehouse(path) as wh:
        assert wh.has_live("cases")
        assert wh.con.execute(f"SELECT count(*) FROM cases WHERE NOT {LIVE}").fetchall()[0][0] == 5
        new = wh.read_ledger("cases")
    _assert_same_values(_sorted(new, ["case_id"]), _sorted(old, ["case_id"]))


# ----------------------------------------------------------------------------- schema upgrades
# A newer version of the package, as a test can make one: a field added to a ledger contract, a
# new ledger, a column added to a result table. The migration knows none of them by name.
NEW_FIELD = Field("prosecution_date", "提起公诉日期", "date")
NEW_LEDGER = Ledger(
    name="hotline_calls",
    title="热线来电台账",
    key=("call_id",),
    fields=(
        Field("call_id", "来电编号", required=True),
        Field("county_code", "区划代码", "code6", required=True),
    ),
)
NEW_RESULT_COLUMN = Column("decimals", "BIGINT")
NEW_ITEMS = {"+hotline_calls", "+cases.prosecution_date DATE", "+indicator_values.decimals BIGINT"}

PROBE_SET = """\
kind: indicator_set
code: upgrade_probe
name: 升级探针
source: 测试
default_span: month
measures:
  cases_found:
    name: 发现案件数
    ledger: cases
    agg: count
    date: found_date
  cases_with_prosecution_date:
    name: 已填提起公诉日期的案件数
    ledger: cases
    agg: count
    date: found_date
    where:
      - {field: prosecution_date, op: not_null}
indicators:
  prosecution_date_share:
    type: ratio
    name: 已填提起公诉日期的案件占比
    unit: "%"
    direction: 1
    numerator: cases_with_prosecution_date
    denominator: cases_found
"""


def _newer_version(monkeypatch: pytest.MonkeyPatch) -> None:
    cases = LEDGERS["cases"]
    monkeypatch.setitem(
        LEDGERS, "cases", dataclasses.replace(cases, fields=(*cases.fields, NEW_FIELD))
    )
    monkeypatch.setitem(LEDGERS, NEW_LEDGER.name, NEW_LEDGER)
    kpi = RESULT_TABLES["indicator_values"]
    monkeypatch.setitem(RESULT_TABLES, "indicator_values", (*kpi, NEW_RESULT_COLUMN))


@pytest.fixture(scope="module")
def old_file(tmp_path_factory, city) -> tuple[Path, str, pd.DataFrame]:
    """A warehouse as this version writes it (ledgers and saved results): the "earlier
    version" of the tests below. Returns its path, its schema fingerprint and its KPIs."""
    path = tmp_path_factory.mktemp("old") / "wh.duckdb"
    with Warehouse(path) as wh:
        wh.load_frames(city.frames, submission_id="s1", period=PERIOD)
    ev = evaluate(path, PERIOD, "campaign_2025", uncertainty_samples=0)
    ev.save(path, uncertainty=False)
    return path, schema_fingerprint(), ev.kpis_all


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "wh.duckdb"
    shutil.copy(src, dst)
    return dst


def _probe_set(tmp_path: Path):
    folder = tmp_path / "sets"
    folder.mkdir()
    (folder / "upgrade_probe.yaml").write_text(PROBE_SET, encoding="utf-8")
    return load_set("upgrade_probe", [folder])


def test_a_file_written_before_a_field_existed_is_upgraded(
    old_file, city, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, old_fp, _ = old_file
    path = _copy(src, tmp_path)
    with Warehouse(path, read_only=True) as wh:
        before = {n: wh.read_ledger(n, with_meta=True) for n in LEDGERS}
        n_kpis = wh.con.execute("SELECT count(*) FROM indicator_values").fetchone()[0]
    _newer_version(monkeypatch)
    new_fp = schema_fingerprint()
    assert new_fp != old_fp

    with Warehouse(path) as wh:
        assert {item.strip() for item in wh.schema_gap.describe().split(";")} == NEW_ITEMS
        have = file_columns(wh.con)
        upgrades = wh.table(f"SELECT * FROM {UPGRADES} ORDER BY upgraded_at")
        after = {n: wh.read_ledger(n, with_meta=True) for n in before}
        cases = wh.read_ledger("cases")
        hotline = wh.read_ledger(NEW_LEDGER.name)
        kpis = wh.con.execute("SELECT count(*), count(decimals) FROM indicator_values").fetchone()
    assert "prosecution_date" in have["cases"] and "decimals" in have["indicator_values"]
    assert set(have[NEW_LEDGER.name]) >= {"call_id", "county_code", LIVE}
    # Recorded: created by the earlier version, then upgraded from its schema to this one.
    assert list(upgrades["action"]) == ["create", "upgrade"]
    assert pd.isna(upgrades["from_schema"].iloc[0]) and upgrades["to_schema"].iloc[0] == old_fp
    assert (upgrades["from_schema"].iloc[1], upgrades["to_schema"].iloc[1]) == (old_fp, new_fp)
    assert {s.strip() for s in upgrades["changes"].iloc[1].split(";")} == NEW_ITEMS
    # Data intact: every row and value as before; the new column empty on earlier rows.
    for name, df in before.items():
        pd.testing.assert_frame_equal(after[name][df.columns], df)
    assert len(cases) == len(before["cases"]) and cases["prosecution_date"].isna().all()
    assert hotline.empty and list(hotline.columns) == ["call_id", "county_code"]
    assert kpis == (n_kpis, 0)

    with Warehouse(path) as wh:  # a second open has nothing to do and records nothing
        assert not wh.schema_gap
        assert wh.con.execute(f"SELECT count(*) FROM {UPGRADES}").fetchone()[0] == 2


def test_the_new_field_can_be_filled_and_computed_on(
    old_file, city, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the upgrade a later submission fills the field, and an indicator declared on it
    counts exactly the rows that have it (counted here by hand from the submitted frame)."""
    path = _copy(old_file[0], tmp_path)
    _newer_version(monkeypatch)
    cases = city.frames["cases"].copy()
    found = pd.to_datetime(cases["found_date"])
    in_period = found.dt.strftime("%Y-%m") == PERIOD
    county = cases.loc[in_period, "county_code"].value_counts().index[0]
    mine = in_period & (cases["county_code"] == county)
    filled = cases.index[mine][::2]  # every other case of that county and month
    assert 0 < len(filled) < mine.sum()
    cases["prosecution_date"] = pd.NaT
    cases.loc[filled, "prosecution_date"] = found[filled] + pd.Timedelta(days=3)
    with Warehouse(path) as wh:
        wh.load_frames({"cases": cases}, submission_id="s2", period="2025-10")
        back = wh.con.execute(
            "SELECT count(*) FROM cases_current WHERE prosecution_date IS NOT NULL"
        ).fetchone()[0]
    assert back == len(filled)

    ev = evaluate(path, PERIOD, _probe_set(tmp_path), span="month", uncertainty_samples=0)
    row = ev.kpis.set_index("county_code").loc[county]
    assert row["numerator"] == len(filled) and row["denominator"] == mine.sum()
    assert row["value"] == pytest.approx(len(filled) / mine.sum())
    others = ev.kpis[ev.kpis["county_code"] != county]
    assert (others["numerator"].fillna(0) == 0).all()


def test_a_read_only_open_of_an_old_file_reads_what_it_lacks_as_null(
    old_file, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Dashboards open read-only: an old file must not fail them. It reads as if upgraded
    (new columns NULL, new tables empty), says once that it needs upgrading, and is left as
    it was for the next writable open to upgrade."""
    src, old_fp, old_kpis = old_file
    path = _copy(src, tmp_path)
    _newer_version(monkeypatch)
    caplog.set_level(logging.WARNING, logger="workbench.warehouse")
    for _ in range(2):
        with Warehouse(path, read_only=True) as wh:
            assert {i.strip() for i in wh.schema_gap.describe().split(";")} == NEW_ITEMS
            cases = wh.read_ledger("cases")
            hotline = wh.read_ledger(NEW_LEDGER.name)
            decimals = wh.con.execute("SELECT count(decimals) FROM indicator_values").fetchone()
            lines = status_lines(wh)
    assert len(cases) and cases["prosecution_date"].isna().all()
    assert hotline.empty and decimals == (0,)
    assert any(NEW_LEDGER.title in line for line in lines)
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1

    # Computing from it works and gives what the earlier version gave; the probe is 0.
    ev = evaluate(path, PERIOD, "campaign_2025", uncertainty_samples=0)
    pd.testing.assert_frame_equal(ev.kpis_all, old_kpis)
    probe = evaluate(path, PERIOD, _probe_set(tmp_path), span="month", uncertainty_samples=0)
    counted = probe.kpis[probe.kpis["denominator"] > 0]
    assert len(counted) and (counted["value"] == 0).all()

    con = duckdb.connect(str(path), read_only=True)  # the file itself untouched
    try:
        assert "prosecution_date" not in file_columns(con)["cases"]
        assert con.execute(f"SELECT to_schema FROM {UPGRADES}").fetchall() == [(old_fp,)]
    finally:
        con.close()


def test_result_tables_are_declared_as_the_engine_writes_them(city, tmp_path: Path) -> None:
    """`RESULT_TABLES` and the frames `Evaluation.save` writes stay one schema: the same columns
    in the same order, and every value fits its declared type (saved into tables made from the
    declarations, it reads back the same)."""
    ev = evaluate(city.frames, PERIOD, "campaign_2025", uncertainty_samples=5)
    frames = {"compute_runs": ev.run_row("r"), **ev.tables(uncertainty=True)}
    assert set(frames) == set(RESULT_TABLES)
    for name, df in frames.items():
        written = list(df.columns) if name == "compute_runs" else ["run_id", *df.columns]
        assert written == [c.name for c in RESULT_TABLES[name]], name
    path = tmp_path / "wh.duckdb"
    run_id = ev.save(path)
    with Warehouse(path, read_only=True) as wh:
        for name, cols in RESULT_TABLES.items():
            types = wh.con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = ? ORDER BY ordinal_position",
                [name],
            ).fetchall()
            assert types == [(c.name, c.type) for c in cols], name
        kpis = wh.table("SELECT * FROM indicator_values WHERE run_id = ?", [run_id])
        milestones = wh.table("SELECT * FROM milestones WHERE run_id = ?", [run_id])
    want = frames["indicator_values"]
    assert len(kpis) == len(want)
    np.testing.assert_allclose(kpis["value"].to_numpy(float), want["value"].to_numpy(float))
    decimals = frames["milestones"]["decimals"]
    assert list(milestones["decimals"].astype("Int64")) == list(decimals.astype("Int64"))
