"""The one table writer (workbench.excel): real number formats, dates as dates, Chinese headers,
no formula injection — for the cockpit's downloads and `workbench compute`'s export."""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pandas as pd
import pytest

from workbench import excel, results
from workbench.demo import generate_city

EVIL = '=HYPERLINK("http://x","点我")'


def sample_table() -> excel.Table:
    frame = pd.DataFrame(
        {
            "name": ["甲县", EVIL, "+1 发票"],
            "rate": [0.87345, 0.5, None],
            "amount": [2010136.039999999, 20054.18, None],
            "big": [1636040058.36, 56000.0, 0.0],
            "day": pd.to_datetime(["2025-09-30", None, "2025-01-02"]),
            "flag": [True, False, None],
            "n": [1548, 3, 0],
            "unit": ["%", "件", "元"],
            "decimals": [1, 0, None],
            "value": [0.87345, 1548.0, 2010136.039999999],
        }
    )
    cols = (
        excel.Column("name", "区县"),
        excel.Column("rate", "追回率", excel.PERCENT),
        excel.Column("amount", "涉案金额", excel.YUAN),
        excel.Column("big", "应追回金额", excel.WAN_YUAN),
        excel.Column("day", "结案日期", excel.DATE),
        excel.Column("flag", "是否移送", excel.BOOL),
        excel.Column("n", "件数", excel.INTEGER),
        excel.Column("value", "指标值", excel.BY_UNIT, None, "unit", "decimals"),
    )
    return excel.Table("测试:表/1", frame, cols, note="说明：演示数据")


def test_xlsx_cells_have_real_formats():
    wb = openpyxl.load_workbook(io.BytesIO(excel.write_xlsx([sample_table()])))
    assert wb.sheetnames == ["测试_表_1"]  # Excel refuses : and / in sheet names
    ws = wb.active
    assert [c.value for c in ws[1]] == [
        "区县",
        "追回率",
        "涉案金额（元）",
        "应追回金额（万元）",
        "结案日期",
        "是否移送",
        "件数",
        "指标值",
    ]
    a = {c.column_letter: c for c in ws[2]}
    assert a["B"].value == 0.873 and a["B"].number_format == "0.0%"
    assert a["C"].value == 2010136.04 and a["C"].number_format == "#,##0.00"  # no float noise
    assert a["D"].value == 163604.01 and a["D"].number_format == "#,##0.00"  # in 万元
    assert a["E"].value == dt.datetime(2025, 9, 30) and a["E"].number_format == "yyyy-mm-dd"
    assert a["F"].value == "是" and a["G"].value == 1548 and a["G"].number_format == "#,##0"
    assert a["H"].value == 0.873 and a["H"].number_format == "0.0%"
    b = {c.column_letter: c for c in ws[3]}
    assert b["A"].value == "'" + EVIL  # a formula arrives as text
    assert b["E"].value is None  # no "NaT"
    assert b["H"].value == 1548 and b["H"].number_format == '#,##0"件"'
    c = {c.column_letter: c for c in ws[4]}
    assert c["A"].value == "+1 发票" or c["A"].value == "'+1 发票"
    assert c["H"].value == 2010136.04 and c["H"].number_format == '#,##0.00"元"'
    assert c["B"].value is None and c["F"].value is None
    assert ws["A6"].value == "说明：演示数据"
    assert ws.freeze_panes == "A2"


def test_csv_carries_the_same_numbers():
    raw = excel.write_csv(sample_table())
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][1] == "追回率（%）" and rows[0][2] == "涉案金额（元）"
    assert rows[1][1:8] == ["87.3", "2010136.04", "163604.01", "2025-09-30", "是", "1548", "87.3"]
    assert rows[2][0] == "'" + EVIL and rows[2][4] == "" and rows[2][7] == "1548"
    assert rows[3][7] == "2010136.04"


def test_infer_columns_reads_the_data():
    frame = pd.DataFrame(
        {
            "d": pd.to_datetime(["2025-01-01"]),
            "i": [3.0],
            "f": [2.5],
            "b": [True],
            "s": ["x"],
            "_hidden": [1],
        }
    )
    kinds = {c.key: c.kind for c in excel.infer_columns(frame, {"d": "日期"})}
    assert kinds == {"d": "date", "i": "integer", "f": "number", "b": "bool", "s": "text"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    city = generate_city(3)
    ev = results.evaluate(city.frames, period="2025-09", uncertainty_samples=20)
    out = tmp_path_factory.mktemp("export")
    paths = ev.export(out)
    return ev, out, paths


def test_compute_export_uses_number_formats(exported):
    ev, out, paths = exported
    book = next(p for p in paths if p.suffix == ".xlsx")
    wb = openpyxl.load_workbook(book)
    ws = wb["全市指标"]
    header = [c.value for c in ws[1]]
    col = {h: i for i, h in enumerate(header)}
    units = {}
    for row in ws.iter_rows(min_row=2, values_only=False):
        code = row[col["指标代码"]].value
        span = row[col["统计口径"]].value
        units[(code, span)] = (row[col["单位"]].value, row[col["指标值"]])
    unit, cell = units[("fund_recovery_rate", "年初至今")]
    assert unit == "%" and cell.number_format == "0.0%"
    kpis = ev.kpis_for("ytd", city=True).set_index("indicator")
    assert cell.value == round(float(kpis.loc["fund_recovery_rate", "value"]), 3)
    unit, cell = units[("case_count", "年初至今")]
    assert unit == "件" and cell.number_format == '#,##0"件"' and float(cell.value).is_integer()
    # every number in the value, target and gap columns has a number format, none is General,
    # and none carries float noise beyond its decimals
    for row in ws.iter_rows(min_row=2):
        for name in ("指标值", "目标值", "与目标差距", "分子", "分母"):
            c = row[col[name]]
            if isinstance(c.value, (int, float)):
                assert c.number_format != "General", (name, c.number_format)
                assert c.value == round(c.value, 4), (name, c.value)
    # dates are dates
    ms = wb["里程碑进度"]
    mh = [c.value for c in ms[1]]
    deadline = ms.cell(row=2, column=mh.index("截止日期") + 1)
    assert isinstance(deadline.value, dt.datetime) and deadline.number_format == "yyyy-mm-dd"
    # rank intervals are whole ranks
    ru = wb["排名区间"]
    rh = [c.value for c in ru[1]]
    q05 = ru.cell(row=2, column=rh.index("排名5%分位") + 1)
    assert q05.number_format == "#,##0" and float(q05.value).is_integer()


def test_compute_export_is_named_and_written_for_a_person(exported):
    """What a person opens: file names from the set's title, the period and the sheet (not
    campaign_2025_2025-09_city_indicator_values.csv); every header Chinese (the 约谈 list's
    "criteria" too); ≥ as every page writes it, not ">="; a code column (指标代码, 状态代码,
    节点代码, 指标体系, 方向) with a Chinese column beside it; 数据截至 a month, not a day."""
    _, out, paths = exported
    stem = "2025年打击欺诈骗保专项整治“两升两降一规范”指标_2025-09"
    sheets = ("区县指标", "全市指标", "综合评价", "里程碑进度", "约谈与督促名单", "排名区间")
    assert {p.name for p in paths} == {f"{stem}.xlsx"} | {f"{stem}_{s}.csv" for s in sheets}
    wb = openpyxl.load_workbook(out / f"{stem}.xlsx")
    beside = {
        "指标代码": "指标名称",
        "状态代码": "状态",
        "节点代码": "节点名称",
        "指标体系": "指标体系名称",
        "里程碑代码": "里程碑",
        "方向": "方向说明",
    }
    for ws in wb.worksheets:
        header = [c.value for c in ws[1]]
        assert not [h for h in header if any("a" <= ch.lower() <= "z" for ch in h)], ws.title
        for code, name in beside.items():
            if code in header:
                assert header[header.index(code) + 1] == name, (ws.title, code)
        for op in ("目标比较", "比较"):
            if op in header:
                col = header.index(op) + 1
                seen = {ws.cell(row=i, column=col).value for i in range(2, ws.max_row + 1)}
                assert seen - {None, ""} and seen - {None, ""} <= {"≥", "≤"}, (ws.title, seen)
    assert "列入情形" in [c.value for c in wb["约谈与督促名单"][1]]
    ms = wb["里程碑进度"]
    mh = [c.value for c in ms[1]]
    names = [ms.cell(row=i, column=mh.index("里程碑代码") + 1).value for i in range(2, 99)]
    row = names.index("data_sharing_12") + 2  # due 2025-06-30, the data through June
    assert ms.cell(row=row, column=mh.index("数据截至") + 1).value == "2025-06"
    direction = [c.value for c in wb["区县指标"][1]].index("方向说明") + 1
    words = {wb["区县指标"].cell(row=i, column=direction).value for i in range(2, 200)}
    assert words - {None} == {"越高越好", "越低越好"}


def test_compute_csv_has_rounded_numbers(exported):
    _, out, _ = exported
    with (out / "2025年打击欺诈骗保专项整治“两升两降一规范”指标_2025-09_全市指标.csv").open(
        encoding="utf-8-sig"
    ) as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    i = header.index("指标值")
    for r in rows[1:]:
        if r[i]:
            assert len(r[i].split(".")[-1]) <= 2 or "." not in r[i], r[i]


def test_a_median_place_is_written_as_the_pages_write_it():
    """A median rank is the median of whole places: 2 when whole, 2.5 between two places. The
    cockpit's page writes 2 and 2.5 (`presentation.ranks.median_text`); the Excel cell and the
    CSV must not say 2.0 or 2.50 (the number format shows what the page shows)."""
    from workbench.presentation import ranks

    col = excel.Column("median_rank", "中位排名", excel.PLACE)
    frame = pd.DataFrame({"median_rank": [2.0, 2.5, 10.0, None]})
    ws = openpyxl.load_workbook(
        io.BytesIO(excel.write_xlsx([excel.Table("排名", frame, (col,))]))
    ).active
    got = [(c.value, c.number_format) for (c,) in ws.iter_rows(min_row=2, max_row=5)]
    assert got[:3] == [(2, "#,##0"), (2.5, "#,##0.0"), (10, "#,##0")] and got[3][0] is None
    assert [excel.csv_value(col, v) for v in (2.0, 2.5, 10.0)] == ["2", "2.5", "10"]
    assert [ranks.median_text(v) for v in (2.0, 2.5, 10.0)] == ["2", "2.5", "10"]
    assert results.EXPORT_KINDS["median_rank"] == excel.PLACE
