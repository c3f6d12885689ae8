"""Drill-through: the rows behind a value, masked, with Chinese headers."""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
import pytest

from tests.test_measures import A, B, make_ledgers
from workbench.declarations import load_set
from workbench.drill import drill

ID = "330402199001011234"
ID_RE = re.compile(r"[1-9]\d{16}[\dXx]")


@pytest.fixture(scope="module")
def campaign():
    return load_set("campaign_2025")


@pytest.fixture(scope="module")
def ledgers():
    cases = [
        dict(
            case_id="a",
            county_code=A,
            found_date="2025-02-01",
            status="已结案",
            person_id=ID,
            person_name="张三丰",
            amount_due=1000.0,
            amount_recovered=900.0,
            violation_type="冒名就医",
        ),
        dict(
            case_id="b",
            county_code=A,
            found_date="2025-03-01",
            status="调查中",
            person_id="33040219850505123X",
            person_name="李四",
            amount_due=2000.0,
            amount_recovered=1500.0,
        ),
        dict(
            case_id="c",
            county_code=A,
            found_date="2025-03-01",
            status="已撤销",
            amount_due=5000.0,
            amount_recovered=0.0,
        ),
        dict(
            case_id="d",
            county_code=B,
            found_date="2025-03-01",
            status="调查中",
            amount_due=7.0,
            amount_recovered=7.0,
        ),
        dict(
            case_id="e",
            county_code=A,
            found_date="2024-03-01",
            status="已结案",
            filed_date="2024-03-02",
            amount_due=10.0,
            amount_recovered=1.0,
        ),
        dict(
            case_id="f",
            county_code=A,
            found_date="2025-03-01",
            status="已结案",
            filed_date="2025-03-02",
            amount_due=None,
            amount_recovered=None,
        ),
    ]
    return make_ledgers(cases=cases)


def test_rows_behind_numerator_and_denominator(campaign, ledgers) -> None:
    d = drill(ledgers, A, "2025-09", "fund_recovery_rate", campaign, span="ytd")
    # 2025 YTD, not withdrawn: a, b, f → recovered 900 + 1500 = 2400 of 1000 + 2000 = 3000
    assert d.value == pytest.approx(0.8)
    assert (d.numerator_value, d.denominator_value) == (2400, 3000)
    assert [p.measure for p in d.numerator] == ["case_amount_recovered"]
    assert [p.measure for p in d.denominator] == ["case_amount_due"]
    rows = d.numerator_rows
    assert sorted(rows["案件编号"]) == ["a", "b", "f"]  # c withdrawn, d is county B, e is 2024
    assert d.numerator[0].value == pytest.approx(2400)
    assert d.window.label == "2025-01~2025-09"
    assert d.county_name == "甲县"


def test_personal_data_is_masked(campaign, ledgers) -> None:
    d = drill(ledgers, A, "2025-09", "fund_recovery_rate", campaign, span="ytd")
    rows = d.denominator_rows
    assert "当事人身份证号" in rows.columns and "当事人姓名" in rows.columns
    ids = rows.set_index("案件编号")["当事人身份证号"]
    assert ids["a"] == "3304**********1234"
    assert ids["b"] == "3304**********123X"
    names = rows.set_index("案件编号")["当事人姓名"]
    assert names["a"] == "张**"
    html = d._repr_html_()
    assert not ID_RE.search(html) and "张三丰" not in html
    assert "基金追回率" in html


def test_change_indicator_drills_into_current_and_baseline_windows(campaign, ledgers) -> None:
    d = drill(ledgers, A, "2025-09", "case_count_yoy", campaign, span="ytd")
    # filed 2025 YTD: f → 1; filed 2024 Jan–Sep: e → 1; change 1 / 1 − 1 = 0
    assert d.value == pytest.approx(0.0)
    now, then = d.numerator[0], d.denominator[0]
    assert list(now.rows["案件编号"]) == ["f"] and list(then.rows["案件编号"]) == ["e"]
    assert then.window == "2024-01~2024-09"


def test_zero_denominator_and_unknown_county(campaign, ledgers) -> None:
    d = drill(ledgers, B, "2025-09", "lead_check_completion", campaign, span="ytd")
    assert d.denominator_value == 0 and d.value != d.value  # NaN: missing, not an error
    assert d.denominator[0].total_rows == 0
    with pytest.raises(KeyError):
        drill(ledgers, "999999", "2025-09", "lead_check_completion", campaign)


def test_excel_export_masks_and_neutralises(campaign, tmp_path: Path) -> None:
    cases = [
        dict(
            case_id='=HYPERLINK("http://x")',
            county_code=A,
            found_date="2025-02-01",
            status="已结案",
            person_id=ID,
            amount_due=1.0,
            amount_recovered=1.0,
        )
    ]
    d = drill(make_ledgers(cases=cases), A, "2025-09", "fund_recovery_rate", campaign)
    path = d.to_excel(tmp_path / "drill.xlsx")
    wb = openpyxl.load_workbook(path)
    cells = [
        str(c.value)
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for c in row
        if c.value is not None
    ]
    assert not any(ID_RE.search(c) for c in cells)
    assert '\'=HYPERLINK("http://x")' in cells
    assert "案件编号" in cells
