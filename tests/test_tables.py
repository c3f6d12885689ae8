"""Declared tables (`kind: table`): a user's own units × fiscal years, from a CSV to a ranking.

Every expected number is worked out by hand from the rows written here (three units, fiscal
years starting in July), never read back from the engine.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench import declarations
from workbench.cli import main
from workbench.declarations import DeclarationError, load_set, load_table, validate
from workbench.periods import FISCAL_YEAR, MONTH, QUARTER, YEAR, Frequency, complete_periods
from workbench.results import evaluate, latest_complete_period
from workbench.tables import ingest_table, read_table, table_frame
from workbench.warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data_samples" / "自有数据示例"

TABLE_YAML = """\
kind: table
code: unit_stats
name: 单位统计（财年）
unit:
  field: unit_code
  header: 单位代码
  name_field: unit_name
  name_header: 单位名称
  noun: 机构
period:
  field: fy
  header: 财年
  frequency: fiscal_year
  start_month: 7
fields:
  cases: {header: 办结案件数, type: int, required: true}
  staff: {header: 人员数, type: number}
  recovered: {header: 追回金额（元）, type: money}
  reported_on: {header: 报送日期, type: date}
"""

SET_YAML = """\
kind: indicator_set
code: unit_perf
name: 单位绩效
measures:
  cases: {table: unit_stats, agg: sum, field: cases}
  staff: {table: unit_stats, agg: sum, field: staff}
indicators:
  cases_per_staff:
    type: ratio
    name: 人均办结案件数
    unit: 件/人
    numerator: cases
    denominator: staff
hierarchies:
  perf:
    name: 绩效指数
    method: {normalise: minmax, aggregate: arithmetic}
    tree:
      - code: all
        name: 总体
        children:
          - indicator: cases_per_staff
presentation:
  report_title: 绩效评估报告
"""

HEADER = ["单位代码", "单位名称", "财年", "办结案件数", "人员数", "追回金额（元）", "报送日期"]
# (unit, name, fiscal year, cases, staff, recovered); FY2024 only U1 so far (incomplete)
ROWS = [
    ("U1", "甲单位", "2022财年", "10", "40", "1000", "2022-08-01"),
    ("U2", "乙单位", "FY2022", "5", "10", "2,000", "2022-08-02"),
    ("U3", "丙单位", "2021-22", "8", "16", "3000", "2022-08-03"),
    ("U1", "甲单位", "2023财年", "12", "30", "150000000000.50", "2023/8/1"),
    ("U2", "乙单位", "2023", "9", "12", "0", "2023年8月2日"),
    ("U3", "丙单位", "2023财年", "3", "20", "", ""),
    ("U2", "乙单位", "2021财年", "abc", "10", "5", ""),  # the bad row: text in a count
    ("U1", "甲单位", "2024财年", "1", "2", "", ""),
]


def _declare(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "unit_stats.yaml").write_text(TABLE_YAML, encoding="utf-8")
    (folder / "unit_perf.yaml").write_text(SET_YAML, encoding="utf-8")
    return folder


def _csv(path: Path, rows=ROWS, encoding: str = "gbk") -> Path:
    with path.open("w", newline="", encoding=encoding) as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tables")
    folder = _declare(tmp / "indicators")
    table = load_table("unit_stats", [folder])
    result = ingest_table(table, [_csv(tmp / "单位统计.csv")], tmp / "wh.duckdb", tmp / "reports")
    return tmp, folder, table, result


# ---------------------------------------------------------------------------------------------
# Periods
# ---------------------------------------------------------------------------------------------
def test_a_fiscal_year_starting_in_july_is_named_by_its_end_and_read_in_every_form() -> None:
    fy = Frequency(FISCAL_YEAR, 7)
    june_2023 = 2023 * 12 + 5
    for text in ("2023财年", "FY2023", "fy 2023", "2022-23", "2022/2023", "2023", 2023, "2023-06"):
        assert fy.parse(text) == june_2023, text
    assert fy.parse("2022-07") == june_2023  # a month: the fiscal year containing it
    assert fy.label(june_2023) == "2023财年"
    assert fy.start_of(june_2023) == 2022 * 12 + 6  # July 2022
    assert Frequency(FISCAL_YEAR, 7, "start").label(june_2023) == "2022财年"
    for bad in ("x", "2023-13", "FY20", None, 2023.5):
        assert fy.parse(bad) is None


@pytest.mark.parametrize(
    "freq",
    [
        Frequency(MONTH),
        Frequency(QUARTER),
        Frequency(YEAR),
        Frequency(FISCAL_YEAR, 4),
        Frequency(FISCAL_YEAR, 10, "start"),
    ],
)
@given(month=st.integers(1950 * 12, 2150 * 12))
def test_every_period_is_read_back_from_its_own_label(freq: Frequency, month: int) -> None:
    end = freq.end_of(month)
    assert freq.is_end(end) and freq.start_of(end) <= month <= end
    assert freq.parse(freq.label(end)) == end


def test_a_month_is_read_as_the_period_that_holds_it_in_every_frequency() -> None:
    # `latest` resolves to a period's last month (2023-12), which every face then reads back:
    # a calendar year refused it, so a set on a yearly table had no report or 通报
    dec_2023, sep_2023 = 2023 * 12 + 11, 2023 * 12 + 8
    assert Frequency(YEAR).parse("2023-12") == dec_2023
    assert Frequency(YEAR).parse("2023-09") == dec_2023
    assert Frequency(QUARTER).parse("2023-08") == sep_2023
    assert Frequency(YEAR).parse("2023-13") is None


def test_quarters_fit_a_july_fiscal_year_and_a_calendar_year_does_not() -> None:
    fy = Frequency(FISCAL_YEAR, 7)
    assert Frequency(QUARTER).aligns_with(fy)
    assert Frequency(MONTH).aligns_with(fy)
    assert not Frequency(YEAR).aligns_with(fy)


def test_a_period_is_complete_once_every_unit_of_the_one_before_reported() -> None:
    by_end = {1: {"a", "b"}, 13: {"a", "b", "c"}, 25: {"a"}}
    assert complete_periods(by_end) == [1, 13]


# ---------------------------------------------------------------------------------------------
# Declarations
# ---------------------------------------------------------------------------------------------
def test_the_declared_table_and_a_set_on_it_load(tmp_path: Path) -> None:
    folder = _declare(tmp_path)
    assert [i for i in validate(dirs=[folder]) if i.level == "error"] == []
    iset = load_set("unit_perf", [folder])
    assert list(iset.tables) == ["unit_stats"]
    assert iset.frequency == Frequency(FISCAL_YEAR, 7)
    assert iset.spans == ("fiscal_year",) and iset.default_span == "fiscal_year"
    assert iset.hierarchies["perf"].span == "fiscal_year"
    assert iset.unit_noun() == "机构"  # the table's noun, as the set declares none


def _codes(folder: Path) -> set[tuple[str, int | None]]:
    return {(i.code, i.line) for i in validate(dirs=[folder]) if i.level == "error"}


def test_table_mistakes_are_refused_with_their_line(tmp_path: Path) -> None:
    bad = (
        TABLE_YAML.replace("  start_month: 7\n", "")  # a fiscal year needs its start month
        .replace("type: number}", "type: float}")  # not a field type
        .replace("  noun: 机构\n", "  nuon: 机构\n")  # a typo in a strict section
    )
    (tmp_path / "unit_stats.yaml").write_text(bad, encoding="utf-8")
    codes = _codes(tmp_path)
    assert ("E_FISCAL_NO_START", 13) in codes
    assert ("E_BAD_FIELD_TYPE", 16) in codes
    assert ("E_UNKNOWN_KEY", 9) in codes


def test_a_set_on_a_fiscal_table_refuses_monthly_spans_and_unknown_fields(tmp_path: Path) -> None:
    folder = _declare(tmp_path)
    for text, expected in (
        (
            SET_YAML.replace(
                "  staff: {table: unit_stats, agg: sum, field: staff}",
                "  staff: {table: unit_stats, agg: sum, field: staf}",
            ),
            ("E_UNKNOWN_FIELD", 6),
        ),
        (
            SET_YAML.replace("    unit: 件/人\n", "    unit: 件/人\n    span: ytd\n"),
            ("E_SPAN_FREQUENCY", 12),
        ),
    ):
        (folder / "unit_perf.yaml").write_text(text, encoding="utf-8")
        with pytest.raises(DeclarationError) as err:
            load_set("unit_perf", [folder])
        assert expected in {(i.code, i.line) for i in err.value.issues}


def test_tables_of_two_frequencies_that_do_not_fit_are_refused(tmp_path: Path) -> None:
    folder = _declare(tmp_path)
    yearly = TABLE_YAML.replace("code: unit_stats", "code: yearly_stats").replace(
        "  frequency: fiscal_year\n  start_month: 7\n", "  frequency: year\n"
    )
    (folder / "yearly_stats.yaml").write_text(yearly, encoding="utf-8")
    text = SET_YAML.replace(
        "  staff: {table: unit_stats, agg: sum, field: staff}",
        "  staff: {table: yearly_stats, agg: sum, field: staff}",
    )
    (folder / "unit_perf.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(DeclarationError) as err:
        load_set("unit_perf", [folder])
    assert "E_FREQUENCY_MISMATCH" in {i.code for i in err.value.issues}


def test_a_table_may_not_take_a_ledger_or_warehouse_name(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(
        TABLE_YAML.replace("code: unit_stats", "code: cases"), encoding="utf-8"
    )
    assert ("E_TABLE_CODE_TAKEN", 2) in _codes(tmp_path)


# ---------------------------------------------------------------------------------------------
# Ingest
# ---------------------------------------------------------------------------------------------
def test_every_row_is_accepted_or_quarantined_with_the_cell(ingested) -> None:
    tmp, _folder, table, result = ingested
    (f,) = result.files
    assert (f.status, f.rows_in, f.accepted, f.quarantined) == ("new", 8, 7, 1)
    errors = result.errors
    assert len(errors) == 1
    e = errors.iloc[0]
    # the 7th data row is line 8 of the file (the header is line 1)
    assert (e["file"], e["row"], e["column"], e["value"], e["code"]) == (
        "单位统计.csv",
        8,
        "办结案件数",
        "abc",
        "E_NOT_NUMBER",
    )
    assert "第8行" in e["message"] and "「办结案件数」列" in e["message"]
    with Warehouse(tmp / "wh.duckdb", read_only=True) as wh:
        q = wh.table("SELECT ledger, row_number, codes FROM quarantine")
    assert q.to_dict("records") == [
        {"ledger": "unit_stats", "row_number": 8, "codes": "E_NOT_NUMBER"}
    ]
    assert [p.suffix for p in result.report_paths] == [".xlsx", ".csv"]


def test_stored_rows_are_typed_with_their_period_and_no_money_ceiling(ingested) -> None:
    tmp, _folder, table, _result = ingested
    rows = read_table(tmp / "wh.duckdb", table).set_index(["unit_code", "fy"])
    assert len(rows) == 7
    u1 = rows.loc[("U1", "2023财年")]
    assert u1["_period_end"] == "2023-06"
    assert u1["recovered"] == 150_000_000_000.50  # 1,500亿元: no ceiling beyond a double
    assert u1["reported_on"] == pd.Timestamp("2023-08-01")
    assert rows.loc[("U2", "2022财年")]["recovered"] == 2000.0  # "2,000"
    assert rows.loc[("U3", "2022财年")]["cases"] == 8  # "2021-22" is fiscal 2022


def test_the_same_file_twice_is_skipped_and_a_correction_replaces_its_rows(ingested) -> None:
    tmp, _folder, table, _result = ingested
    again = ingest_table(table, [tmp / "单位统计.csv"], tmp / "wh.duckdb")
    assert [f.status for f in again.files] == ["duplicate"]
    fixed = _csv(tmp / "更正.csv", [("U2", "乙单位", "2021财年", "7", "10", "5", "")], "utf-8-sig")
    ingest_table(table, [fixed], tmp / "wh.duckdb")
    rows = read_table(tmp / "wh.duckdb", table)
    assert rows.loc[(rows.unit_code == "U2") & (rows.fy == "2021财年"), "cases"].tolist() == [7]


def test_other_bad_cells_say_what_is_wrong(tmp_path: Path) -> None:
    table = load_table("unit_stats", [_declare(tmp_path / "ind")])
    rows = [
        ("U1", "甲", "2023财年", "1", "2", "", ""),
        ("U1", "甲", "FY2023", "3", "4", "", ""),  # the same unit and fiscal year again
        ("U2", "乙", "下个财年", "1", "2", "", ""),  # not a period
        ("U3", "丙", "2023财年", "", "x", "-5", "昨天"),  # blank required, text, negative, date
        ("合计", "", "2023财年", "5", "8", "", ""),  # a total row is no unit
    ]
    result = ingest_table(table, [_csv(tmp_path / "b.csv", rows)], tmp_path / "wh.duckdb")
    got = set(zip(result.errors["row"], result.errors["code"]))
    assert got == {
        (3, "E_TABLE_DUPLICATE"),
        (4, "E_TABLE_PERIOD"),
        (5, "E_REQUIRED"),
        (5, "E_NOT_NUMBER"),
        (5, "E_NEGATIVE_MONEY"),
        (5, "E_DATE"),
        (6, "E_TABLE_TOTAL_ROW"),
    }
    assert result.accepted == 1 and result.quarantined == 4


def test_a_file_without_the_tables_header_is_named(tmp_path: Path) -> None:
    table = load_table("unit_stats", [_declare(tmp_path / "ind")])
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n", encoding="utf-8")
    result = ingest_table(table, [other], tmp_path / "wh.duckdb")
    assert result.files[0].status == "unreadable"
    assert result.errors["code"].tolist() == ["E_TABLE_NOT_FOUND"]


# ---------------------------------------------------------------------------------------------
# Computing a set on the table
# ---------------------------------------------------------------------------------------------
# FY2023 (July 2022 – June 2023): cases / staff
HAND = {"U1": 12 / 30, "U2": 9 / 12, "U3": 3 / 20}
HAND_PREV = {"U1": 10 / 40, "U2": 5 / 10, "U3": 8 / 16}
CITY = (12 + 9 + 3) / (30 + 12 + 20)


def _check_evaluation(ev) -> None:
    assert ev.period == "2023-06" and ev.period_label == "2023财年" and ev.span == "fiscal_year"
    k = ev.kpis.set_index("county_code")
    assert list(k.index) == ["U1", "U2", "U3"]  # the table's units, not the ledgers' counties
    for unit, value in HAND.items():
        assert math.isclose(k.loc[unit, "value"], value)
        assert math.isclose(k.loc[unit, "prev_value"], HAND_PREV[unit])
        assert (k.loc[unit, "window_start"], k.loc[unit, "window_end"]) == ("2022-07", "2023-06")
    assert k.loc["U1", "county_name"] == "甲单位"
    assert math.isclose(ev.city_kpis["value"].iloc[0], CITY)
    root = ev.index_table[ev.index_table["node"] == "perf"].set_index("county_code")
    # min-max over 0.15 … 0.75: U2 100, U1 (0.40 − 0.15)/0.60 × 100, U3 0
    assert math.isclose(root.loc["U2", "score"], 100.0)
    assert math.isclose(root.loc["U1", "score"], (0.40 - 0.15) / 0.60 * 100)
    assert math.isclose(root.loc["U3", "score"], 0.0, abs_tol=1e-9)
    assert root["rank"].to_dict() == {"U1": 2, "U2": 1, "U3": 3}
    assert root["grade"].isna().all()  # no grade bands declared, none applied


def test_latest_is_the_newest_complete_fiscal_year(ingested) -> None:
    tmp, folder, _table, _result = ingested
    iset = load_set("unit_perf", [folder])
    # FY2024 has U1 only: U2 and U3, who reported FY2023, have not
    assert latest_complete_period(tmp / "wh.duckdb", iset) == "2023-06"
    ev = evaluate(tmp / "wh.duckdb", "latest", iset, uncertainty_samples=20)
    _check_evaluation(ev)
    assert ev.uncertainty_table["county_code"].nunique() == 3  # rank intervals


def test_the_period_can_be_asked_as_the_user_writes_it(ingested) -> None:
    tmp, folder, _table, _result = ingested
    iset = load_set("unit_perf", [folder])
    for asked in ("2023财年", "FY2023", "2022-23"):
        ev = evaluate(tmp / "wh.duckdb", asked, iset, uncertainty_samples=0)
        assert ev.period == "2023-06"
    with pytest.raises(ValueError, match="2023-13"):
        evaluate(tmp / "wh.duckdb", "2023-13", iset, uncertainty_samples=0)


def test_a_notebooks_dataframe_gives_the_same_numbers(tmp_path: Path) -> None:
    folder = _declare(tmp_path)
    frame = pd.DataFrame(ROWS, columns=HEADER)  # Chinese headers, text cells, one bad row
    ev = evaluate({"unit_stats": frame}, "latest", "unit_perf", indicators_dir=folder)
    _check_evaluation(ev)
    assert ev.input_issues["row"].tolist() == [7] and ev.input_issues["code"].tolist() == [
        "E_NOT_NUMBER"
    ]
    typed = pd.DataFrame(
        {
            "unit_code": ["U1", "U2", "U3"] * 2,
            "unit_name": ["甲单位", "乙单位", "丙单位"] * 2,
            "fy": [2022] * 3 + [2023] * 3,  # field names, numbers as numbers
            "cases": [10, 5, 8, 12, 9, 3],
            "staff": [40.0, 10.0, 16.0, 30.0, 12.0, 20.0],
        }
    )
    accepted, issues = table_frame(load_table("unit_stats", [folder]), typed)
    assert issues.empty and accepted["_period_end"].tolist() == ["2022-06"] * 3 + ["2023-06"] * 3
    _check_evaluation(
        evaluate({"unit_stats": typed}, "2023财年", "unit_perf", indicators_dir=folder)
    )


def test_compute_set_with_indicators_dir_end_to_end(ingested, capsys) -> None:
    tmp, folder, _table, _result = ingested
    out = tmp / "out"
    argv = ["compute", "--set", "unit_perf", "--indicators-dir", str(folder)]
    argv += ["--warehouse", str(tmp / "wh.duckdb"), "--out", str(out), "--uncertainty", "20"]
    assert main(argv) == 0
    cap = capsys.readouterr()
    assert "使用最近的完整期间：2023财年" in cap.err
    assert "【单位绩效】2023财年（财年）计算完成" in cap.out
    exported = pd.read_csv(out / "单位绩效_2023财年_机构指标.csv", encoding="utf-8-sig")
    assert exported.iloc[:, 0].tolist() == ["U1", "U2", "U3"]
    assert set(exported["统计期间"]) == {"2023财年"}
    assert list(exported.columns[:2]) == ["单位代码", "机构名称"]
    with Warehouse(tmp / "wh.duckdb", read_only=True) as wh:
        saved = wh.table(
            "SELECT county_code, value FROM indicator_values WHERE period = '2023-06' "
            "ORDER BY county_code"
        )
    assert [round(v, 9) for v in saved["value"]] == [round(HAND[u], 9) for u in ("U1", "U2", "U3")]
    bad = ["compute", "--set", "unit_perf", "--indicators-dir", str(folder)]
    bad += ["--warehouse", str(tmp / "wh.duckdb"), "--period", "2031财年", "--no-save"]
    assert main(bad) == 2 and "晚于数据表中最新的期间 2024财年" in capsys.readouterr().err


def test_the_reports_title_noun_and_period_come_from_the_set(ingested, monkeypatch) -> None:
    tmp, folder, _table, _result = ingested
    from workbench import report

    monkeypatch.setenv("WORKBENCH_INDICATORS_DIR", str(folder))
    county = report.county_report("U2", "latest", str(tmp / "wh.duckdb"), "unit_perf")
    head = county.header()._repr_html_()
    assert "乙单位绩效评估报告" in head and "截至2023财年" in head and "单位代码：U2" in head
    assert "在3个机构中综合得分100.0分，排名第1位" in county.narrative_text()
    city = report.city_report("latest", str(tmp / "wh.duckdb"), "unit_perf")
    assert "机构数：3" in city.header()._repr_html_()
    assert city.issuer() == ""  # no issuer declared: nobody is named
    assert list(report.unit_table(str(tmp / "wh.duckdb"), "2023-06", "unit_perf")["county"]) == [
        "U1",
        "U2",
        "U3",
    ]


# ---------------------------------------------------------------------------------------------
# The shipped example (docs/分析自有数据.md)
# ---------------------------------------------------------------------------------------------
def _example_rows() -> list[dict[str, str]]:
    with (EXAMPLE / "执法统计_2019-2024财年.csv").open(encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def test_the_shipped_example_runs_as_the_guide_says(tmp_path: Path, capsys) -> None:
    folder = EXAMPLE / "indicators"
    wh = tmp_path / "wh.duckdb"
    csv_path = EXAMPLE / "执法统计_2019-2024财年.csv"
    assert main(["compute", "--check", "--indicators-dir", str(folder)]) == 0
    argv = ["ingest", "--table", "enforcement_stats", str(csv_path)]
    argv += ["--indicators-dir", str(folder), "--warehouse", str(wh)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "提交 46 行，入库 45 行，隔离 1 行" in out
    argv = ["compute", "--set", "enforcement", "--indicators-dir", str(folder)]
    argv += ["--warehouse", str(wh), "--out", str(tmp_path / "out"), "--uncertainty", "50"]
    assert main(argv) == 0
    assert "2023财年" in capsys.readouterr().out
    ev = evaluate(wh, "latest", "enforcement", indicators_dir=folder, uncertainty_samples=0)
    assert ev.period_label == "2023财年"  # 2024财年 is not complete: two regions missing
    # 定罪率 of 东湖区 in 2023财年, straight from the file
    (row,) = [r for r in _example_rows() if r["地区代码"] == "R01" and r["财年"] == "2023财年"]
    k = ev.kpis.set_index(["county_code", "indicator"])
    expected = int(row["定罪数"]) / int(row["移送起诉数"])
    assert math.isclose(k.loc[("R01", "conviction_rate"), "value"], expected)
    assert len(ev.engine.counties) == 8
    assert ev.city_name == "全省合计"


def test_the_guide_names_only_commands_and_files_that_exist() -> None:
    guide = (ROOT / "docs" / "分析自有数据.md").read_text(encoding="utf-8")
    for name in ("执法统计_2019-2024财年.csv", "执法统计表.yaml", "执法绩效.yaml"):
        assert name in guide
        assert list(EXAMPLE.rglob(name)), name
    for command in ("ingest --table enforcement_stats", "compute --set enforcement", "serve --set"):
        assert command in guide


def test_every_new_key_is_documented_with_its_default() -> None:
    doc = (ROOT / "docs" / "indicators.md").read_text(encoding="utf-8")
    for key in (
        "kind: table",
        "name_field",
        "name_header",
        "noun",
        "frequency",
        "start_month",
        "named_by",
        "`table:`",
        "unit_noun",
        "report_title",
        "issuer",
        "total_name",
        "fiscal_year",
    ):
        assert key in doc, key


def test_declarations_api_names_the_new_parts() -> None:
    assert {"TableDecl", "load_table", "available_tables"} <= set(declarations.__all__)


def test_drill_through_shows_the_tables_rows_behind_a_value(ingested) -> None:
    tmp, folder, _table, _result = ingested
    ev = evaluate(
        tmp / "wh.duckdb", "2023财年", load_set("unit_perf", [folder]), uncertainty_samples=0
    )
    d = ev.drill("U2", "cases_per_staff")
    num, den = d.parts
    assert (num.value, den.value, num.total_rows) == (9.0, 12.0, 1)
    row = num.rows.iloc[0]
    assert (row["单位代码"], row["单位名称"], row["财年"], row["办结案件数"]) == (
        "U2",
        "乙单位",
        "2023财年",
        9,
    )


def test_the_cockpit_offers_the_chosen_set_over_its_own_periods(ingested, monkeypatch) -> None:
    tmp, folder, _table, _result = ingested
    from workbench.dashboard.loading import from_engine, indicator_set_codes

    monkeypatch.setenv("WORKBENCH_INDICATORS_DIR", str(folder))
    monkeypatch.setenv("WORKBENCH_SETS", "unit_perf")
    assert indicator_set_codes() == ["unit_perf"]
    data = from_engine(tmp / "wh.duckdb", uncertainty_samples=0)
    # no dated ledger at all: the periods are the table's, up to the newest complete one
    # (2021财年 holds a row once the correction test above has run)
    assert data.periods[-2:] == ["2022-06", "2023-06"] and data.periods[0] >= "2021-06"
    assert [data.period_label(p) for p in data.periods[-2:]] == ["2022财年", "2023财年"]
    assert list(data.indicator_sets) == ["unit_perf"]
    assert data.counties["county_code"].tolist() == ["U1", "U2", "U3"]
    assert data.city_name == "全部机构"
    k = data.kpis
    got = k[(k["period"] == "2023-06") & (k["county_code"] == "U3")]["value"].tolist()
    assert got == [pytest.approx(HAND["U3"])]
    from workbench.dashboard.page import Cockpit

    parts = Cockpit(data).build_parts()
    assert "2023财年" in parts["header"]["html"]
    # no campaign calendar, funnel or progress bar for a set that declares none
    hidden = ("calendar", "lagging", "overdue_cases", "funnel", "rectification", "screening")
    assert all(parts[p]["hidden"] for p in hidden)
    assert parts["trend"]["figure"]["data"][0]["x"][-1] == "2023财年"


def test_the_tables_warehouse_table_is_recorded_and_upgraded_from_its_declaration(
    tmp_path: Path,
) -> None:
    from workbench.warehouse import schema_fingerprint

    folder = _declare(tmp_path / "ind")
    table = load_table("unit_stats", [folder])
    ingest_table(table, [_csv(tmp_path / "a.csv", ROWS[:3])], tmp_path / "wh.duckdb")
    # a newer declaration adds a column: the table gains it, earlier rows read blank
    (folder / "unit_stats.yaml").write_text(
        TABLE_YAML + "  fines: {header: 罚没金额（元）, type: money}\n", encoding="utf-8"
    )
    table = load_table("unit_stats", [folder])
    ingest_table(table, [_csv(tmp_path / "b.csv", ROWS[3:6])], tmp_path / "wh.duckdb")
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        log = wh.table("SELECT action, to_schema, changes FROM schema_upgrades ORDER BY rowid")
        assert log["action"].tolist()[-2:] == ["table", "table"]
        assert log["changes"].tolist()[-2:] == ["+unit_stats", "+unit_stats.fines DOUBLE"]
        assert log["to_schema"].iloc[-1] == schema_fingerprint()  # the warehouse's own schema
        n = len(log)
    with Warehouse(tmp_path / "wh.duckdb") as wh:  # nothing more to record on the next open
        assert wh.table("SELECT count(*) AS n FROM schema_upgrades")["n"].iloc[0] == n
    rows = read_table(tmp_path / "wh.duckdb", table)
    assert len(rows) == 6 and rows["fines"].isna().all()


def test_a_quarterly_table_offers_quarter_year_to_date_and_the_same_quarter_last_year(
    tmp_path: Path,
) -> None:
    (tmp_path / "t.yaml").write_text(
        "kind: table\ncode: qstats\nname: 季度统计\nunit: {field: org, header: 机构代码}\n"
        "period: {field: q, header: 季度, frequency: quarter}\n"
        "fields:\n  n: {header: 件数, type: int}\n  d: {header: 人数, type: number}\n",
        encoding="utf-8",
    )
    (tmp_path / "s.yaml").write_text(
        "kind: indicator_set\ncode: qset\nname: 季度指标\nmeasures:\n"
        "  n: {table: qstats, agg: sum, field: n}\n  d: {table: qstats, agg: sum, field: d}\n"
        "indicators:\n"
        "  rate: {type: ratio, name: 人均件数, unit: 件/人, numerator: n, denominator: d}\n"
        "  rate_ytd: {type: ratio, name: 年内人均件数, unit: 件/人, numerator: n, "
        "denominator: d, span: ytd}\n",
        encoding="utf-8",
    )
    # unit A: 件数 10 + quarter (+1 in 2025), 人数 5; 2025Q4 not reported by B
    rows = [
        ("A" if k == 1 else "B", f"{y}年第{q}季度", 10 * k + q + (y - 2024), 5 * k)
        for y in (2024, 2025)
        for q in (1, 2, 3, 4)
        for k in (1, 2)
        if not (y == 2025 and q == 4 and k == 2)
    ]
    df = pd.DataFrame(rows, columns=["机构代码", "季度", "件数", "人数"])
    ev = evaluate({"qstats": df}, "latest", "qset", indicators_dir=tmp_path, uncertainty_samples=0)
    assert (ev.period, ev.period_label, ev.span) == ("2025-09", "2025年第3季度", "quarter")
    k = ev.kpis.set_index(["county_code", "indicator"])
    assert k.loc[("A", "rate"), "value"] == pytest.approx(14 / 5)  # 2025Q3: 10 + 3 + 1
    assert k.loc[("A", "rate"), "prev_value"] == pytest.approx(13 / 5)  # 2024Q3
    assert k.loc[("A", "rate_ytd"), "value"] == pytest.approx((12 + 13 + 14) / 15)
    assert (k.loc[("A", "rate_ytd"), "window_start"], k.loc[("A", "rate_ytd"), "window_end"]) == (
        "2025-01",
        "2025-09",
    )
