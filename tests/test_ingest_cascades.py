"""Rows refused because of another row say so; rosters with a wrong number do not take their
county's rows down; merged key cells and 合计 rows are handled as a clerk means them."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from tests.ingest_corpus import CASE_HEADERS, F, case_row, write_cases, write_city
from workbench.ingest import ingest_paths
from workbench.warehouse import Warehouse

LEAD_HEADERS = ["线索编号", "区划代码", "线索来源", "接收日期", "核查状态", "关联案件编号"]


@pytest.fixture()
def wh_path(tmp_path: Path) -> Path:
    city = tmp_path / "city"
    city.mkdir()
    write_city(city)
    path = tmp_path / "wh.duckdb"
    assert ingest_paths([city], path).ok
    return path


def _count(wh_path: Path, sql: str) -> int:
    with Warehouse(wh_path, read_only=True) as wh:
        return wh.con.execute(sql).fetchone()[0]


def test_a_lead_pointing_at_a_refused_case_says_so(wh_path: Path, tmp_path: Path) -> None:
    """The case two rows above was refused: the lead is not told the case does not exist but
    that it waits for the case's correction, with its own code and the case's row."""
    path = tmp_path / F
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "案件台账"
    ws.append(CASE_HEADERS)
    ws.append(case_row(案件编号="AJ2025001", **{"应追回金额(元)": "待定"}))  # refused, row 2
    ws.append(case_row(案件编号="AJ2025002"))
    leads = wb.create_sheet("疑点线索台账")
    leads.append(LEAD_HEADERS)
    leads.append(["XS1", "990101", "智能监控", "2025-03-01", "属实", "AJ2025001"])
    leads.append(["XS2", "990101", "智能监控", "2025-03-01", "属实", "AJ2025002"])
    leads.append(["XS3", "990101", "智能监控", "2025-03-01", "属实", "AJ9999999"])
    wb.save(path)
    report = ingest_paths([path], wh_path, report_dir=tmp_path / "r")
    got = {(r.sheet, r.row, r.code) for r in report.errors.itertuples()}
    assert got == {
        ("案件台账", 2, "E_NOT_NUMBER"),
        ("疑点线索台账", 2, "E_REF_REFUSED"),
        ("疑点线索台账", 4, "E_UNKNOWN_CASE"),  # really unknown: told as before
    }
    msg = report.errors.set_index("code").loc["E_REF_REFUSED", "message"]
    assert "关联的案件「AJ2025001」本身未通过校验" in msg and "工作表「案件台账」第2行" in msg
    assert "不存在" not in msg and "文件「" + F + "」工作表「疑点线索台账」第2行" in msg
    assert report.accepted == {"cases": 1, "leads": 1}
    with Warehouse(wh_path, read_only=True) as wh:
        codes = wh.con.execute(
            "SELECT codes FROM quarantine WHERE ledger = 'leads' ORDER BY row_number"
        ).fetchall()
    assert codes == [("E_REF_REFUSED",), ("E_UNKNOWN_CASE",)]


def test_a_roster_row_with_a_wrong_number_keeps_its_county_known(
    wh_path: Path, tmp_path: Path
) -> None:
    """990103's roster row has more employers enrolled than due: that row waits for its
    correction, but the county code is sound, so its cases and institutions go in."""
    folder = tmp_path / "in"
    folder.mkdir()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "区县名录"
    ws.append(["区划代码", "区县名称", "所属地市", "年度", "应参保用人单位数", "已参保用人单位数"])
    ws.append(["990103", "南湖区", "演示市", 2025, 100, 120])
    inst = wb.create_sheet("定点医药机构名录")
    inst.append(["机构编码", "机构名称", "区划代码", "机构类型"])
    inst.append(["H003", "南湖医院", "990103", "公立医疗机构"])
    cases = wb.create_sheet("案件台账")
    cases.append(CASE_HEADERS)
    for i in range(3):
        cases.append(case_row(案件编号=f"N{i}", 区划代码="990103", 机构编码="H003"))
    wb.save(folder / "990103_南湖区_2025-09.xlsx")
    report = ingest_paths([folder], wh_path)
    assert list(report.errors["code"]) == ["E_ENROLLED_GT_DUE"]
    assert report.accepted == {"counties": 0, "institutions": 1, "cases": 3}
    assert report.quarantined == {"counties": 1, "institutions": 0, "cases": 0}


def test_a_county_code_that_is_itself_wrong_still_refuses_its_rows(
    wh_path: Path, tmp_path: Path
) -> None:
    """Only a sound code is known: a roster row whose code is the mistake does not vouch."""
    folder = tmp_path / "in"
    folder.mkdir()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "区县名录"
    ws.append(["区划代码", "区县名称", "所属地市", "年度"])
    ws.append(["99010X", "南湖区", "演示市", 2025])
    cases = wb.create_sheet("案件台账")
    cases.append(CASE_HEADERS)
    cases.append(case_row(案件编号="N1", 区划代码="99010X"))
    wb.save(folder / "990100_演示市_2025-09.xlsx")
    report = ingest_paths([folder], wh_path)
    assert {(r.sheet, r.code) for r in report.errors.itertuples()} >= {
        ("区县名录", "E_CODE6"),
        ("案件台账", "E_CODE6"),
    }
    assert report.accepted.get("cases", 0) == 0


def test_merged_county_cells_are_filled_down_with_a_warning(wh_path: Path, tmp_path: Path) -> None:
    """区划代码 merged over rows 2–4 looks filled in Excel; the file holds it once."""
    path = tmp_path / F
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "案件台账"
    ws.append(CASE_HEADERS)
    for i in range(3):
        ws.append(case_row(案件编号=f"M{i}", 区划代码="990101" if i == 0 else None))
    col = openpyxl.utils.get_column_letter(CASE_HEADERS.index("区划代码") + 1)
    ws.merge_cells(f"{col}2:{col}4")
    wb.save(path)
    report = ingest_paths([path], wh_path)
    assert report.ok and report.accepted == {"cases": 3}
    warnings = report.issues[report.issues["code"] == "W_MERGED_FILLED"]
    assert list(zip(warnings["row"], warnings["column"], warnings["value"])) == [
        (2, "区划代码", "990101")
    ]
    assert "第2至4行" in warnings["message"].iloc[0]
    assert _count(wh_path, "SELECT count(*) FROM cases WHERE county_code = '990101'") == 3


def _write_csv(path: Path, rows: list[list[object]]) -> Path:
    lines = [",".join(CASE_HEADERS)] + [
        ",".join("" if v is None else str(v) for v in r) for r in rows
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_total_rows_are_skipped_with_a_warning_never_counted(
    kind: str, wh_path: Path, tmp_path: Path
) -> None:
    total = [None] * len(CASE_HEADERS)
    total[0] = "合计"
    total[CASE_HEADERS.index("涉案金额(元)")] = 24000
    spaced = [None] * len(CASE_HEADERS)
    spaced[0] = "3"  # a 序号-like number first: the first *text* cell decides
    spaced[1] = "总 计："
    rows = [case_row(案件编号="T1"), case_row(案件编号="T2"), total, spaced]
    if kind == "xlsx":
        path = write_cases(tmp_path / F, rows)
    else:
        path = _write_csv(tmp_path / "990101_东湖区_2025-09.csv", rows)
    report = ingest_paths([path], wh_path)
    assert report.ok, report.errors
    assert report.rows_in == {"cases": 2} and report.quarantined == {"cases": 0}
    skipped = report.issues[report.issues["code"] == "W_TOTAL_ROW"]
    assert list(skipped["row"]) == [4, 5]
    assert _count(wh_path, "SELECT count(*) FROM quarantine") == 0
