"""A declared receipt date (`workbench ingest --received-on`): ledgers loaded long after the
counties sent them (last year back-loaded, a new warehouse, the demo) are judged 按时/逾期 on when
they were received, not on when they were loaded; `ingested_at` stays the load time."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pandas as pd
import pytest

from workbench import freshness
from workbench.cli import main as cli

ROSTER = pd.DataFrame(
    {
        "county_code": ["990101", "990102", "990103", "990104", "990105"],
        "county_name": ["甲县", "乙县", "丙县", "丁县", "戊县"],
    }
)
LOADED = "2026-12-07 10:00"  # every file below was loaded on this day, a year late


def _subs(rows: list[tuple]) -> pd.DataFrame:
    out = pd.DataFrame(
        rows,
        columns=["submission_id", "county_code", "period", "ingested_at", "received_at", "status"],
    )
    for col in ("ingested_at", "received_at"):
        out[col] = pd.to_datetime(out[col], format="ISO8601")
    return out


# ----------------------------------------------------------------------------- the rule


def test_the_receipt_date_decides_and_the_load_time_only_stands_in_for_it():
    # 2025-09, due day 5: on time through 2025-10-05 23:59:59, late from 2025-10-06 00:00
    subs = _subs(
        [
            # 甲: received the due day minus one second, loaded a year later: on time
            ("a", "990101", "2025-09", LOADED, "2025-10-05 23:59:59", "有效"),
            # 乙: received at the due moment itself: late
            ("b", "990102", "2025-09", LOADED, "2025-10-06 00:00:00", "有效"),
            # 丙: no receipt date declared, loaded on the 3rd: the load time stands in, on time
            ("c", "990103", "2025-09", "2025-10-03 09:00", None, "有效"),
            # 丁: no receipt date declared, loaded a year later: late (as before this change)
            ("d", "990104", "2025-09", LOADED, None, "有效"),
            # 戊: received on time, its correction received late: the first file decides
            ("e1", "990105", "2025-09", LOADED, "2025-10-02 08:00", "已被替换"),
            ("e2", "990105", "2025-09", LOADED, "2025-10-09 15:00", "有效"),
        ]
    )
    got = freshness.submission_states(ROSTER, subs, None, "2025-09", 5)
    assert list(got["state"]) == ["on_time", "late", "on_time", "late", "on_time"]
    assert list(got["first_at"]) == [
        pd.Timestamp("2025-10-05 23:59:59"),
        pd.Timestamp("2025-10-06 00:00"),
        pd.Timestamp("2025-10-03 09:00"),
        pd.Timestamp(LOADED),
        pd.Timestamp("2025-10-02 08:00"),
    ]
    assert got.loc[4, "last_at"] == pd.Timestamp("2025-10-09 15:00")
    # the same files without receipt dates: all loaded late, all late
    bare = subs.assign(received_at=pd.NaT)
    bare.loc[bare["submission_id"] == "c", "ingested_at"] = pd.Timestamp("2025-10-03 09:00")
    states = freshness.submission_states(ROSTER, bare, None, "2025-09", 5)["state"]
    assert list(states) == ["late", "late", "on_time", "late", "late"]


def test_a_month_nobody_sent_is_all_missing():
    subs = _subs([("a", "990101", "2025-09", LOADED, "2025-10-01 08:00", "有效")])
    got = freshness.submission_states(ROSTER, subs, None, "2025-10", 5)
    assert list(got["state"]) == ["missing"] * 5
    assert got["first_at"].isna().all() and got["last_at"].isna().all()


def test_received_time_is_the_declared_date_else_the_load():
    subs = _subs(
        [
            ("a", "990101", "2025-09", LOADED, "2025-10-01 08:00", "有效"),
            ("b", "990102", "2025-09", LOADED, None, "有效"),
        ]
    )
    assert list(freshness.received_time(subs)) == [
        pd.Timestamp("2025-10-01 08:00"),
        pd.Timestamp(LOADED),
    ]
    # a reader that has no received_at column reads the loads
    assert (
        list(freshness.received_time(subs.drop(columns="received_at")))
        == [pd.Timestamp(LOADED)] * 2
    )


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-01-05", dt.datetime(2026, 1, 5, 0, 0)),
        ("2026-01-05T16:30", dt.datetime(2026, 1, 5, 16, 30)),
        (" 2026-01-05 16:30 ", dt.datetime(2026, 1, 5, 16, 30)),
        (dt.date(2026, 1, 5), dt.datetime(2026, 1, 5)),
    ],
)
def test_parse_received(text, expected):
    assert freshness.parse_received(text) == expected


@pytest.mark.parametrize("text", ["2026/01/05", "2026-13-01", "5 Jan 2026", "", "2026-01-05T25:00"])
def test_a_malformed_receipt_date_is_refused_in_chinese(text):
    with pytest.raises(freshness.ReceivedDateError) as exc:
        freshness.parse_received(text)
    assert "收文日期" in str(exc.value) and "YYYY-MM-DD" in str(exc.value)


def test_future_and_before_the_period_are_refused_the_period_start_is_allowed():
    now = dt.datetime(2026, 1, 10, 12, 0)
    freshness.check_received(dt.datetime(2026, 1, 10, 12, 0), "f.xlsx", "2025-12", now)
    freshness.check_received(dt.datetime(2025, 12, 1), "f.xlsx", "2025-12", now)
    with pytest.raises(freshness.ReceivedDateError, match="晚于现在"):
        freshness.check_received(dt.datetime(2026, 1, 10, 12, 1), "f.xlsx", "2025-12", now)
    with pytest.raises(freshness.ReceivedDateError, match="f.xlsx.*2025年12月1日"):
        freshness.check_received(dt.datetime(2025, 11, 30, 23, 59), "f.xlsx", "2025-12", now)
    # an annual file starts on 1 January; a returned screening list on its month's first day
    assert freshness.period_start("2025") == dt.datetime(2025, 1, 1)
    assert freshness.period_start("2025-10·死亡人员疑点清单") == dt.datetime(2025, 10, 1)
    assert freshness.period_start("多区县") is None


# ----------------------------------------------------------------------------- the warehouse


OLD_SUBMISSIONS = (  # the table as workbench versions before received_at wrote it
    "CREATE TABLE submissions (submission_id VARCHAR PRIMARY KEY, file_name VARCHAR, "
    "county_code VARCHAR, period VARCHAR, ingested_at TIMESTAMP, size_bytes BIGINT, "
    "content BLOB, rows_total BIGINT, rows_accepted BIGINT, rows_quarantined BIGINT, "
    "status VARCHAR, replaced_by VARCHAR)"
)


def test_a_warehouse_without_the_column_is_read_and_then_upgraded(tmp_path):
    from workbench.warehouse import Warehouse

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute(OLD_SUBMISSIONS)
    con.execute(
        "INSERT INTO submissions VALUES ('s1', 'f.xlsx', '990101', '2025-09', "
        "TIMESTAMP '2025-10-03 09:00', 1, NULL, 1, 1, 0, '有效', NULL)"
    )
    con.close()
    # read-only, as the cockpit opens it: the missing column reads as NULL, the load decides
    _counties, subs, _q = freshness.read(path)
    assert subs["received_at"].isna().all()
    assert freshness.received_time(subs).tolist() == [pd.Timestamp("2025-10-03 09:00")]
    # a writable open adds the column (recorded), keeping the row
    with Warehouse(path) as wh:
        cols = [r[0] for r in wh.con.execute("DESCRIBE submissions").fetchall()]
        assert cols[-1] == "received_at" and len(cols) == 13
        row = wh.con.execute("SELECT submission_id, received_at FROM submissions").fetchall()
        assert row == [("s1", None)]
        changes = wh.con.execute("SELECT changes FROM schema_upgrades").fetchall()
        assert any("+submissions.received_at TIMESTAMP" in c for (c,) in changes)


# ----------------------------------------------------------------------------- the command


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory) -> Path:
    """Three demo counties, November and December 2025 (the city master included)."""
    from workbench.demo import generate_city, write_city

    out = tmp_path_factory.mktemp("demo")
    write_city(generate_city(3, start="2025-01", end="2025-12"), out, months=["2025-11", "2025-12"])
    return out


def _file(demo_files: Path, code: str, month: str) -> Path:
    return next(demo_files.glob(f"{code}_*_{month}.xlsx"))


def _master(demo_files: Path) -> Path:
    return next(demo_files.glob("*_名录_*.xlsx"))


def test_cli_refuses_a_future_date_in_chinese_and_writes_nothing(demo_files, tmp_path, capsys):
    wh = tmp_path / "w.duckdb"
    f = _file(demo_files, "990101", "2025-12")
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    assert cli(["ingest", str(f), "--warehouse", str(wh), "--received-on", tomorrow]) == 1
    err = capsys.readouterr().err
    assert "入库未完成，仓库保持原样" in err and "晚于现在" in err and "--received-on" in err
    assert "Traceback" not in err
    assert not wh.exists()  # refused before the warehouse was opened
    # before the file's period began: refused naming the file, nothing written
    assert cli(["ingest", str(_master(demo_files)), "--warehouse", str(wh)]) == 0
    capsys.readouterr()
    assert cli(["ingest", str(f), "--warehouse", str(wh), "--received-on", "2025-11-30"]) == 1
    err = capsys.readouterr().err
    assert f.name in err and "2025年12月1日" in err and "Traceback" not in err
    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute("SELECT count(*) FROM submissions WHERE period = '2025-12'").fetchone() == (
        0,
    )
    con.close()
    # malformed: argparse's Chinese error, exit 2
    assert cli(["ingest", str(f), "--warehouse", str(wh), "--received-on", "2026/01/05"]) == 2
    err = capsys.readouterr().err
    assert "参数 --received-on" in err and "格式不对" in err and "Traceback" not in err


def test_cli_records_the_receipt_date_and_status_judges_on_it(demo_files, tmp_path, capsys):
    wh = tmp_path / "w.duckdb"
    common = ["--warehouse", str(wh)]
    assert cli(["ingest", str(_master(demo_files)), *common]) == 0
    # 990101 received on the due day (5 January), 990102 the day after, 990103 not declared
    on_time, late = _file(demo_files, "990101", "2025-12"), _file(demo_files, "990102", "2025-12")
    assert cli(["ingest", str(on_time), *common, "--received-on", "2026-01-05T17:30"]) == 0
    assert "收文日期 2026年1月5日 17:30" in capsys.readouterr().out
    assert cli(["ingest", str(late), *common, "--received-on", "2026-01-06"]) == 0
    assert cli(["ingest", str(_file(demo_files, "990103", "2025-12")), *common]) == 0
    before = dt.datetime.now() - dt.timedelta(minutes=5)
    con = duckdb.connect(str(wh), read_only=True)
    rows = dict(
        (code, (ingested, received))
        for code, ingested, received in con.execute(
            "SELECT county_code, ingested_at, received_at FROM submissions WHERE period = '2025-12'"
        ).fetchall()
    )
    con.close()
    assert rows["990101"][1] == dt.datetime(2026, 1, 5, 17, 30)
    assert rows["990102"][1] == dt.datetime(2026, 1, 6)
    assert rows["990103"][1] is None
    assert all(ingested > before for ingested, _r in rows.values())  # the load time, kept
    capsys.readouterr()
    assert cli(["status", *common, "--period", "2025-12"]) == 0
    out = capsys.readouterr().out
    # 990103 was loaded today, long after 5 January: late on its load time
    assert "2025年12月报送：按时 1 个区县、逾期 2 个" in out
    table = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("  99")}
    assert table["990101"][2:5] == ["按时报送", "2026-01-05", "17:30"]
    assert table["990102"][2:5] == ["逾期报送", "2026-01-06", "00:00"]


def test_python_api_takes_one_date_per_file(demo_files, tmp_path):
    from workbench.ingest import ingest_paths

    wh = tmp_path / "w.duckdb"
    ingest_paths([_master(demo_files)], wh)
    nov = [_file(demo_files, c, "2025-11") for c in ("990101", "990102")]
    report = ingest_paths(
        nov,
        wh,
        received_on={nov[0].name: "2025-12-03", nov[1].name: dt.datetime(2025, 12, 8, 9, 15)},
    )
    assert [f.received_at for f in report.files] == [
        dt.datetime(2025, 12, 3),
        dt.datetime(2025, 12, 8, 9, 15),
    ]
    fr = freshness.freshness(wh, period="2025-11", due_day=5)
    states = fr.states.set_index("county_code")["state"].to_dict()
    assert states == {"990101": "on_time", "990102": "late", "990103": "missing"}
    # one bad date in the mapping refuses the batch before anything is read
    with pytest.raises(freshness.ReceivedDateError):
        ingest_paths(
            [_file(demo_files, "990103", "2025-11")], wh, received_on={"x.xlsx": "2099-01-01"}
        )


def test_table_ingest_refuses_received_on(tmp_path, capsys):
    argv = ["ingest", "--table", "enforcement_stats", "x.csv", "--received-on", "2025-01-05"]
    assert cli([*argv, "--warehouse", str(tmp_path / "w.duckdb")]) == 2
    assert "--received-on" in capsys.readouterr().err


# ----------------------------------------------------------------------------- the 通报


def test_the_bulletin_names_late_counties_with_their_receipt_dates():
    from workbench.documents import bulletin

    subs = _subs(
        [
            ("a", "990101", "2025-09", LOADED, "2025-10-05 16:00", "有效"),
            ("b", "990102", "2025-09", LOADED, "2025-10-09 10:00", "有效"),
            ("c", "990103", "2025-09", LOADED, "2025-10-02 10:00", "有效"),
            ("d", "990104", "2025-09", LOADED, "2025-10-01 10:00", "有效"),
        ]
    )
    counties = ROSTER.rename(columns={"county_code": "county"})
    f = bulletin.Facts(
        data=SimpleNamespace(counties=counties),
        city="演示市",
        period="2025-09",
        figures=pd.DataFrame(),
        by_county=pd.DataFrame(),
        iset=SimpleNamespace(calendar=SimpleNamespace(report_due_day=5)),
        county_names=dict(zip(ROSTER["county_code"], ROSTER["county_name"])),
        submissions=subs,
    )
    [(kind, sentence, rows)] = bulletin.reporting_items(f)
    assert kind == "not_submitted"
    assert list(rows["county_name"]) == ["戊县", "乙县"]  # missing first, then late
    assert "戊县" in sentence and "乙县（2025年10月9日收文）" in sentence
    assert "截止2025年10月5日" in sentence and "甲县" not in sentence
    text = bulletin.reporting_requirement(f, rows, dt.date(2025, 10, 30))
    assert "1个未报送" in text and "2025年10月30日前补报" in text
    assert "乙县说明逾期报送的原因" in text and "次月5日前" in text
    # every county received on time and none missing: no item at all
    f.submissions = subs.assign(received_at=pd.Timestamp("2025-10-03"))
    f.data.counties = counties.iloc[:4]
    assert bulletin.reporting_items(f) == []


# ----------------------------------------------------------------------------- the demo


def test_demo_receipt_dates_by_hand():
    from workbench import demo

    due = 5
    for code in ("990101", "990107"):
        for month in ("2025-01", "2025-12"):
            at = demo.receipt_time(20251, code, month, due, lagging=code == "990107")
            nxt = (pd.Period(month, freq="M") + 1).start_time
            assert nxt <= pd.Timestamp(at) < nxt + pd.Timedelta(days=due + demo.MAX_DAYS_LATE)
            assert 8 <= at.hour <= 17
            # deterministic: the same seed gives the same date
            assert at == demo.receipt_time(20251, code, month, due, lagging=code == "990107")


def test_the_demo_status_is_not_all_late():
    """The default demo city's receipt dates for its last month, judged by hand against the
    due moment (2026-01-06 00:00 for 2025-12 with the calendar's day 5): most on time, and
    the same count `freshness` gives."""
    from workbench import demo

    city = demo.generate_city(10)
    files = [demo.file_name(c, n, m) for c, n in city.counties for m in city.months[-2:]]
    manifest = {
        "seed": city.seed,
        "counties": [{"county_code": c, "lagging": c in city.lagging} for c, _n in city.counties],
        "files": files,
    }
    dates = demo.receipt_dates(manifest, freshness.report_due_day())
    due = dt.datetime(2026, 1, 6)
    last = {name[:6]: at for name, at in dates.items() if "_2025-12" in name}
    assert len(last) == 10
    late_by_hand = sum(at >= due for at in last.values())
    assert 0 < late_by_hand < 5  # some late, most on time
    subs = pd.DataFrame(
        {
            "submission_id": list(last),
            "county_code": list(last),
            "period": "2025-12",
            "ingested_at": pd.Timestamp(LOADED),
            "received_at": list(last.values()),
            "status": "有效",
        }
    )
    roster = pd.DataFrame(city.counties, columns=["county_code", "county_name"])
    counts = freshness.summary(freshness.submission_states(roster, subs, None, "2025-12", 5))
    assert counts["late"] == late_by_hand and counts["on_time"] == 10 - late_by_hand
    # a lagging county is late more often over the two years than the others
    all_months = {
        **manifest,
        "files": [demo.file_name(c, n, m) for c, n in city.counties for m in city.months],
    }
    every = demo.receipt_dates(all_months, 5)
    late_share = {}
    for c, _n in city.counties:
        mine = [(n, at) for n, at in every.items() if n.startswith(c)]
        late_share[c] = sum(at >= freshness.due_at(n[-12:-5], 5) for n, at in mine) / len(mine)
    lag = [late_share[c] for c in city.lagging]
    rest = [v for c, v in late_share.items() if c not in city.lagging]
    assert min(lag) > max(rest)


def test_demo_all_ingests_with_receipt_dates(demo_files, tmp_path, monkeypatch):
    """`demo-all`'s ingest step: each file gets its seeded date (the correction later)."""
    from workbench import demo
    from workbench.commands import demo_all

    wh = tmp_path / "w.duckdb"
    firsts = sorted(p for p in demo_files.iterdir() if p.suffix == ".xlsx")
    received = demo_all._receipt_dates(demo_files)
    manifest = json.loads((demo_files / "manifest.json").read_text(encoding="utf-8"))
    assert _master(demo_files).name not in received
    assert demo_all._ingest(firsts, wh, received) == 0
    assert demo_all._ingest([demo_files / "corrections"], wh, received) == 0
    con = duckdb.connect(str(wh), read_only=True)
    got = dict(
        con.execute(
            "SELECT file_name, received_at FROM submissions WHERE county_code <> ''"
        ).fetchall()
    )
    con.close()
    for name, at in received.items():
        assert got[name] == at, name
    lag = {c["county_code"]: c["lagging"] for c in manifest["counties"]}
    assert got[demo.file_name("990101", "东湖区", "2025-12")] == demo.receipt_time(
        manifest["seed"], "990101", "2025-12", 5, lag["990101"]
    )
