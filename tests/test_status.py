"""`workbench status` and `workbench.freshness`: last load time and each county's submission for a
month — on time, late (after the calendar's due day), missing, or with rows in quarantine."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from workbench import freshness
from workbench.cli import main as cli


def _subs(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["submission_id", "county_code", "period", "ingested_at", "status"]
    ).assign(ingested_at=lambda d: pd.to_datetime(d["ingested_at"], format="ISO8601"))


ROSTER = pd.DataFrame(
    {
        "county_code": ["990101", "990102", "990103", "990104", "990105"],
        "county_name": ["甲县", "乙县", "丙县", "丁县", "戊县"],
    }
)


def test_due_day_is_inclusive_of_the_fifth_of_the_next_month():
    # 2025-09 with report_due_day 5: on time through 2025-10-05, late from 2025-10-06 00:00
    assert freshness.due_at("2025-09", 5) == pd.Timestamp("2025-10-06 00:00")
    assert freshness.due_at("2025-12", 5) == pd.Timestamp("2026-01-06 00:00")
    assert freshness.due_at("2025-02", 1) == pd.Timestamp("2025-03-02 00:00")
    assert freshness.due_at("2025-09", None) is None


def test_each_county_state_by_hand():
    subs = _subs(
        [
            # 甲: on time, with 3 rows in quarantine
            ("a", "990101", "2025-09", "2025-10-03 09:00", "有效"),
            # 乙: first file on time (later replaced by a late correction): on time
            ("b1", "990102", "2025-09", "2025-10-02 10:00", "已被替换"),
            ("b2", "990102", "2025-09", "2025-10-09 10:00", "有效"),
            # 丙: the last minute of the 5th is still on time
            ("c", "990103", "2025-09", "2025-10-05 23:59:59", "有效"),
            # 丁: midnight of the 6th is late; its quarantine rows belong to a replaced file
            ("d0", "990104", "2025-09", "2025-10-06 00:00", "已被替换"),
            ("d1", "990104", "2025-09", "2025-10-07 08:00", "有效"),
            # 戊: only last month's file, and an unreadable one this month: missing
            ("e0", "990105", "2025-08", "2025-09-03 08:00", "有效"),
            ("e1", "990105", "2025-09", "2025-10-01 08:00", "无法识别"),
        ]
    )
    quarantine = pd.DataFrame({"submission_id": ["a", "d0"], "rows": [3, 7]})
    got = freshness.submission_states(ROSTER, subs, quarantine, "2025-09", 5)
    assert list(got["county_code"]) == list(ROSTER["county_code"])
    assert list(got["state"]) == ["on_time", "on_time", "on_time", "late", "missing"]
    assert list(got["state_label"]) == ["按时报送", "按时报送", "按时报送", "逾期报送", "未报送"]
    assert list(got["quarantined"]) == [3, 0, 0, 0, 0]
    assert list(got["submissions"]) == [1, 2, 1, 2, 0]
    assert got.loc[1, "first_at"] == pd.Timestamp("2025-10-02 10:00")
    assert got.loc[1, "last_at"] == pd.Timestamp("2025-10-09 10:00")
    assert freshness.summary(got) == {"on_time": 3, "late": 1, "missing": 1, "quarantined": 1}
    # without a declared due day nothing is late
    none = freshness.submission_states(ROSTER, subs, quarantine, "2025-09", None)
    assert list(none["state"]) == ["on_time"] * 4 + ["missing"]


def test_shipped_calendar_declares_the_fifth():
    assert freshness.report_due_day() == 5


def test_a_due_day_out_of_range_is_refused_with_file_and_line(tmp_path):
    from workbench.declarations.issues import Issues
    from workbench.declarations.loading import read_files

    src = Path(__file__).resolve().parents[1] / "indicators" / "calendar_2025.yaml"
    text = src.read_text(encoding="utf-8").replace("report_due_day: 5", "report_due_day: 40")
    bad = tmp_path / "calendar_2025.yaml"
    bad.write_text(text, encoding="utf-8")
    issues = Issues()
    files = read_files([bad], issues)
    found = [i for i in issues.items if i.code == "E_OUT_OF_RANGE"]
    assert found and found[0].line == text.splitlines().index("report_due_day: 40") + 1
    assert files["calendar_2025"].calendar.report_due_day is None


@pytest.fixture()
def warehouse(tmp_path: Path) -> Path:
    """Three counties; 990101 and 990102 submitted 2025-09 (990102 late, with quarantined
    rows), 990103 only 2025-08."""
    from workbench.demo import generate_city
    from workbench.warehouse import Warehouse

    city = generate_city(3)
    codes = sorted({c for c, _ in city.counties})
    wh_path = tmp_path / "w.duckdb"
    with Warehouse(wh_path) as wh:
        for code, period in ((codes[0], "2025-09"), (codes[1], "2025-09"), (codes[2], "2025-08")):
            frames = {
                name: df[df["county_code"].astype(str) == code]
                for name, df in city.frames.items()
                if "county_code" in df
            }
            wh.load_frames(frames, submission_id=f"s{code}", period=period, county_code=code)
        wh.con.execute(
            "UPDATE submissions SET ingested_at = CASE county_code "
            f"WHEN '{codes[0]}' THEN TIMESTAMP '2025-10-04 09:30' "
            f"WHEN '{codes[1]}' THEN TIMESTAMP '2025-10-08 16:05' "
            "ELSE TIMESTAMP '2025-09-02 11:00' END"
        )
        wh.con.execute(
            "INSERT INTO quarantine VALUES "
            "(?, 'cases', 'f.xlsx', '案件台账', 5, 'x', 'E_X', '{}'), "
            "(?, 'cases', 'f.xlsx', '案件台账', 6, 'x', 'E_X', '{}')",
            [f"s{codes[1]}", f"s{codes[1]}"],
        )
    return wh_path


def test_status_shows_a_county_without_a_submission_as_missing(warehouse, capsys):
    from workbench.demo import generate_city

    names = dict(generate_city(3).counties)
    codes = sorted(names)
    assert cli(["status", "--warehouse", str(warehouse), "--period", "2025-09"]) == 0
    out = capsys.readouterr().out
    assert "数据最近入库：2025年10月8日 16:05" in out
    assert "2025年9月报送：按时 1 个区县、逾期 1 个" in out
    assert f"未报送 1 个（{names[codes[2]]}）" in out
    assert "1 个区县有隔离待更正的行" in out
    assert "截止：2025年10月5日（次月5日）前" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("  99")}
    assert rows[codes[2]][1:3] == [names[codes[2]], "未报送"]
    assert rows[codes[1]][1:3] == [names[codes[1]], "逾期报送"]
    assert rows[codes[1]][-1] == "2"  # quarantined rows
    assert rows[codes[0]][1:3] == [names[codes[0]], "按时报送"]
    # missing counties come first: whom to chase is at the top
    order = [line.split()[0] for line in out.splitlines() if line.startswith("  99")]
    assert order[0] == codes[2]


def test_status_defaults_to_the_latest_month_and_refuses_a_bad_period(warehouse, capsys):
    assert cli(["status", "--warehouse", str(warehouse)]) == 0
    assert "2025年9月报送" in capsys.readouterr().out
    assert cli(["status", "--warehouse", str(warehouse), "--period", "2025-9"]) == 2
    assert "2025-9" in capsys.readouterr().err


def test_freshness_as_json(warehouse):
    fr = freshness.freshness(warehouse, period="2025-09")
    js = fr.as_json()
    assert js["loaded_at"] == "2025-10-08T16:05:00"
    assert js["counts"] == {"on_time": 1, "late": 1, "missing": 1, "quarantined": 1}
    assert js["line"].startswith("数据最近入库：2025年10月8日 16:05；")
