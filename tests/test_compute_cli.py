"""`workbench compute`: warehouse tables with a run id, CSV/XLSX exports, the summary, errors."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from tests.test_indicators import _milestone_ledgers
from tests.test_measures import A, B, make_ledgers
from workbench.cli import main
from workbench.contracts import LEDGERS
from workbench.declarations import load_set
from workbench.warehouse import Warehouse

FIXTURES = Path(__file__).parent / "fixtures" / "indicators"
EVIL = "=1+2"


def build_warehouse(path: Path) -> Path:
    """Insert hand-made ledgers straight into a warehouse file, under live submissions."""
    ledgers = _milestone_ledgers()
    counties = ledgers["counties"].copy()
    counties.loc[counties["county_code"] == B, "county_name"] = EVIL  # formula injection probe
    ledgers["counties"] = counties
    subs = pd.DataFrame(
        {
            "submission_id": ["sA9", "sB9", "sA10"],
            "file_name": ["a.xlsx", "b.xlsx", "a10.xlsx"],
            "county_code": [A, B, A],
            "period": ["2025-09", "2025-09", "2025-10"],
            "ingested_at": pd.Timestamp("2025-10-05"),
            "status": "有效",
        }
    )
    with Warehouse(path) as wh:
        wh.con.register("subs", subs)
        wh.con.execute("INSERT INTO submissions BY NAME SELECT * FROM subs")
        wh.con.unregister("subs")
        for name, df in ledgers.items():
            if not len(df):
                continue
            d = df.copy()
            d["_submission_id"] = "sA9"
            d["_period"] = "2025-09"
            d["_source_row"] = range(2, len(d) + 2)
            wh.con.register("rows", d)
            wh.con.execute(f'INSERT INTO "{name}" BY NAME SELECT * FROM rows')
            wh.con.unregister("rows")
        wh.refresh_current()
    return path


@pytest.fixture(scope="module")
def computed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("compute")
    wh = build_warehouse(tmp / "wh.duckdb")
    out = tmp / "out"
    rc = main(
        [
            "compute",
            "--warehouse",
            str(wh),
            "--period",
            "2025-09",
            "--out",
            str(out),
            "--uncertainty",
            "10",
        ]
    )
    return rc, wh, out


def test_exit_code_and_summary(computed, capsys) -> None:
    rc, wh, out = computed
    assert rc == 0
    rc2 = main(
        [
            "compute",
            "--warehouse",
            str(wh),
            "--period",
            "2025-09",
            "--no-save",
            "--uncertainty",
            "0",
        ]
    )
    text = capsys.readouterr().out
    assert rc2 == 0
    assert "2025-09" in text and "专项整治" in text
    assert "甲县" in text  # on the lagging list (rectification trend)


def test_warehouse_tables_carry_a_run_id(computed) -> None:
    _, wh, _ = computed
    iset = load_set("campaign_2025")
    with Warehouse(wh, read_only=True) as w:
        runs = w.table("SELECT * FROM compute_runs")
        assert len(runs) == 1
        run = runs["run_id"].iloc[0]
        assert (runs["period"].iloc[0], runs["indicator_set"].iloc[0]) == (
            "2025-09",
            "campaign_2025",
        )
        vals = w.table("SELECT * FROM indicator_values WHERE run_id = ?", [run])
        # 2 counties × every indicator × 5 spans
        assert len(vals) == 2 * len(iset.indicators) * 5
        row = vals[
            (vals["county_code"] == A)
            & (vals["span"] == "ctd")
            & (vals["indicator"] == "rectification_completion")
        ].iloc[0]
        # A's March–September completion: 42 / 70 = 0.6 (see test_indicators)
        assert (row["numerator"], row["denominator"]) == (42, 70)
        assert row["value"] == pytest.approx(0.6)
        assert bool(row["met"]) is False
        for table in (
            "city_indicator_values",
            "index_scores",
            "milestones",
            "lagging",
            "rank_uncertainty",
        ):
            n = w.table(f"SELECT count(*) AS n FROM {table} WHERE run_id = ?", [run])["n"][0]
            assert n > 0, table
        lag = w.table("SELECT county_code FROM lagging WHERE run_id = ?", [run])
        assert set(lag["county_code"]) == {A, B}


def test_csv_has_bom_chinese_headers_and_no_formulas(computed) -> None:
    _, _, out = computed
    path = out / "2025年打击欺诈骗保专项整治“两升两降一规范”指标_2025-09_区县指标.csv"
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    assert header[:3] == ["区划代码", "区县", "统计月份"]
    names = {r[1] for r in rows[1:]}
    assert "'" + EVIL in names and EVIL not in names
    assert not any(
        cell.startswith(("=", "+", "@")) for r in rows[1:] for cell in r if not _is_number(cell)
    )
    # the city's rows say 全市, not the engine's internal code
    with (out / "2025年打击欺诈骗保专项整治“两升两降一规范”指标_2025-09_全市指标.csv").open(
        encoding="utf-8-sig"
    ) as fh:
        city = list(csv.reader(fh))
    assert {r[0] for r in city[1:]} == {"全市"}


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def test_xlsx_sheets_and_headers(computed) -> None:
    _, _, out = computed
    wb = openpyxl.load_workbook(out / "2025年打击欺诈骗保专项整治“两升两降一规范”指标_2025-09.xlsx")
    assert {"区县指标", "全市指标", "综合评价", "里程碑进度", "约谈与督促名单", "排名区间"} <= set(
        wb.sheetnames
    )
    ws = wb["区县指标"]
    header = [c.value for c in ws[1]]
    assert "指标名称" in header and "是否达标" in header
    values = [c.value for row in ws.iter_rows(min_row=2) for c in row if isinstance(c.value, str)]
    assert "'" + EVIL in values
    assert not any(v.startswith("=") for v in values)


def test_second_run_appends(tmp_path: Path) -> None:
    wh = build_warehouse(tmp_path / "wh.duckdb")
    for _ in range(2):
        assert (
            main(["compute", "--warehouse", str(wh), "--period", "2025-09", "--uncertainty", "0"])
            == 0
        )
    with Warehouse(wh, read_only=True) as w:
        runs = w.table("SELECT run_id FROM compute_runs")
        assert runs["run_id"].nunique() == 2
        per = w.table("SELECT run_id, count(*) AS n FROM indicator_values GROUP BY run_id")
        assert per["n"].nunique() == 1


def test_latest_period_from_submissions(tmp_path: Path, capsys) -> None:
    wh = build_warehouse(tmp_path / "wh.duckdb")
    rc = main(
        [
            "compute",
            "--warehouse",
            str(wh),
            "--period",
            "latest",
            "--uncertainty",
            "0",
            "--set",
            "campaign_2025,no_fraud_city",
        ]
    )
    assert rc == 0
    err = capsys.readouterr().err
    assert "2025-09" in err  # October is in for A only
    with Warehouse(wh, read_only=True) as w:
        runs = w.table("SELECT period, indicator_set FROM compute_runs ORDER BY indicator_set")
    assert runs.values.tolist() == [["2025-09", "campaign_2025"], ["2025-09", "no_fraud_city"]]


def test_check_declarations(capsys) -> None:
    assert main(["compute", "--check"]) == 0
    assert main(["compute", "--check", "--indicators-dir", str(FIXTURES)]) == 1
    err = capsys.readouterr().err
    assert "E_UNKNOWN_LEDGER" in err and "unknown_ledger.yaml" in err and "第 8 行" in err


def test_bad_arguments(tmp_path: Path, capsys) -> None:
    assert (
        main(["compute", "--warehouse", str(tmp_path / "none.duckdb"), "--period", "2025-09"]) == 2
    )
    wh = build_warehouse(tmp_path / "wh.duckdb")
    assert main(["compute", "--warehouse", str(wh), "--period", "2025-13"]) == 2
    assert (
        main(["compute", "--warehouse", str(wh), "--period", "2025-09", "--set", "no_such_set"])
        == 1
    )
    assert "E_UNKNOWN_SET" in capsys.readouterr().err


def test_contract_columns_are_what_the_warehouse_holds(tmp_path: Path) -> None:
    """The hand-made ledgers round-trip through the warehouse's _current views."""
    wh = build_warehouse(tmp_path / "wh.duckdb")
    with Warehouse(wh, read_only=True) as w:
        back = w.read_ledgers()
    assert set(back) == set(LEDGERS)
    assert len(back["rectifications"]) == 140  # 2 counties × 7 months × 10 items


def test_a_month_after_the_data_or_malformed_is_refused(tmp_path: Path, capsys) -> None:
    """2052-09 for 2025-09 would rank every county at 0: refused, as is 2025-13, before any
    work; `workbench run` refuses them the same way."""
    from workbench.cli import main

    path = tmp_path / "wh.duckdb"
    with Warehouse(path) as wh:
        wh.load_frames(
            make_ledgers(cases=[dict(case_id="c1", county_code=A, found_date="2025-08-03")]),
            period="2025-09",
        )
    for bad, words in (("2052-09", "晚于仓库中最新的报送期 2025-09"), ("2025-13", "不是月份")):
        for argv in (
            ["compute", "--warehouse", str(path), "--period", bad, "--no-save"],
            [
                "run",
                "--warehouse",
                str(path),
                "--period",
                bad,
                "--runs-dir",
                str(tmp_path / "runs"),
                "--no-progress",
            ],
        ):
            assert main(argv) == 2 and words in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_check_of_an_empty_folder_and_a_bad_span_say_what_is_wrong(tmp_path: Path, capsys) -> None:
    assert main(["compute", "--indicators-dir", str(tmp_path), "--check"]) == 2
    assert "没有指标声明文件" in capsys.readouterr().err
    assert main(["compute", "--span", "weekly"]) == 2
    err = capsys.readouterr().err
    assert "weekly" in err and "ytd（年初至今）" in err
    assert main(["compute", "--set", "no_such_set", "--no-save"]) == 1
    err = capsys.readouterr().err
    assert "E_UNKNOWN_SET" in err and "?" not in err  # no "第 ? 行" when there is no line


def test_chinese_headers_are_unique() -> None:
    """Two result columns with one Chinese header break every export (it happened)."""
    from workbench.messages import catalogue

    headers = [v for k, v in catalogue().items() if k.startswith("ind.col.")]
    assert len(headers) == len(set(headers)), sorted(h for h in headers if headers.count(h) > 1)


def test_a_result_table_from_an_older_version_gains_new_columns(tmp_path: Path) -> None:
    from workbench.results import write_table

    with Warehouse(tmp_path / "w.duckdb") as wh:
        with wh.transaction() as con:
            write_table(con, "milestones", pd.DataFrame({"run_id": ["r1"], "status": ["met"]}))
            write_table(
                con,
                "milestones",
                pd.DataFrame(
                    {
                        "run_id": ["r2"],
                        "status": ["missed"],
                        "basis": ["活动开始至今（截至2025-11）"],
                        "current_value": [0.5],
                    }
                ),
            )
        got = wh.table("SELECT * FROM milestones ORDER BY run_id")
    assert list(got["basis"].fillna("")) == ["", "活动开始至今（截至2025-11）"]
    assert got["current_value"].tolist()[1] == 0.5


def test_export_cites_documents_by_title_and_standing(computed) -> None:
    """The export's 目标来源 and 来源 columns go through `citations`: no sheet carries a bare
    catalogue code before a clause (「002 一、工作目标」), a county-summary collection is 参考 with
    the target 工作口径, another city's plan 参照 (expected words written by hand)."""
    import re

    _, _, out = computed
    (xlsx,) = sorted(out.glob("*.xlsx"))
    wb = openpyxl.load_workbook(xlsx, read_only=True)
    bare = re.compile(r"\b00\d\s|\b00\d_[0-9a-f]+\.txt")
    by_name: dict[str, str] = {}
    for ws in wb.worksheets:
        rows = list(ws.iter_rows(values_only=True))
        for row in rows:
            for v in row:
                if isinstance(v, str):
                    assert not bare.search(v), (ws.title, v)
                    assert "工作台定义" not in v, (ws.title, v)
        if ws.title == "区县指标":
            head = list(rows[0])
            name, source = head.index("指标名称"), head.index("目标来源")
            by_name = {r[name]: r[source] for r in rows[1:] if r[source]}
    plan = "《2025年开展打击欺诈骗保专项整治行动工作方案》"
    assert by_name["基金追回率"] == f"依据{plan}一、工作目标：基金追回率提升至90%以上"
    assert by_name["典型案例月度报送率"] == (
        "工作口径，参考《打击医保骗保工作总结十篇》篇2：各县（市、区）医疗保障部门每月要向市局"
        "报送一例需在媒体上曝光的典型案例（工作做法）"
    )
    assert by_name["投诉举报查处率"] == (
        "工作口径，参照嘉兴市人民政府办公室《嘉兴市打造医保“无骗保城市”实施意见》"
        "三（一）2：投诉举报查处率100%"
    )
