"""The fill-in template (`workbench template`): structure, validations, guide, round trips."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from openpyxl.utils import get_column_letter
from openpyxl.workbook.workbook import Workbook as OpenpyxlWorkbook
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from workbench import template
from workbench.cli import main
from workbench.contracts import LEDGERS, Field, Ledger
from workbench.messages import t
from workbench.template import DATA_ROWS, write_template

from tests.ingest_corpus import VALID_ROWS

GUIDE = "填表说明"
OPTIONS = "选项"


@pytest.fixture(scope="module")
def template_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_template(tmp_path_factory.mktemp("tpl") / "template.xlsx")


@pytest.fixture(scope="module")
def wb(template_path: Path) -> OpenpyxlWorkbook:
    return openpyxl.load_workbook(template_path)


def _validation_for(ws: Worksheet, col: int) -> DataValidation | None:
    letter = get_column_letter(col)
    for dv in ws.data_validations.dataValidation:
        if f"{letter}2" in dv.sqref and f"{letter}{DATA_ROWS + 1}" in dv.sqref:
            return dv
    return None


def _list_values(wb: OpenpyxlWorkbook, dv: DataValidation) -> list[str]:
    """Values of a list validation: inline `"a,b"` or a defined name on the hidden sheet."""
    formula = dv.formula1.lstrip("=")
    if formula.startswith('"'):
        return formula.strip('"').split(",")
    values: list[str] = []
    for sheet, coord in wb.defined_names[formula].destinations:
        for row in wb[sheet][coord.replace("$", "")]:
            values.extend(str(c.value) for c in row if c.value is not None)
    return values


def _column_format(ws: Worksheet, col: int) -> str:
    """Number format of column `col` (xlsxwriter groups equal adjacent columns into one range)."""
    for dim in ws.column_dimensions.values():
        if dim.min is not None and dim.min <= col <= dim.max:
            return dim.number_format
    return "General"


def _column_width(ws: Worksheet, col: int) -> float:
    for dim in ws.column_dimensions.values():
        if dim.min is not None and dim.min <= col <= dim.max:
            return dim.width
    return 0.0


def _fields(lg: Ledger, typ: str) -> list[tuple[int, Field]]:
    return [(i, f) for i, f in enumerate(lg.fields, start=1) if f.type == typ]


def test_sheet_order_and_headers(wb: OpenpyxlWorkbook) -> None:
    titles = [lg.title for lg in LEDGERS.values()]
    assert wb.sheetnames == [GUIDE, *titles, OPTIONS]
    assert wb[OPTIONS].sheet_state == "hidden"
    for lg in LEDGERS.values():
        ws = wb[lg.title]
        assert [c.value for c in ws[1]] == [f.header for f in lg.fields]
        assert ws.freeze_panes == "A2"
        assert ws.auto_filter.ref == f"A1:{get_column_letter(len(lg.fields))}{DATA_ROWS + 1}"
        assert all(c.value is None for row in ws.iter_rows(min_row=2) for c in row)


def test_required_headers_marked(wb: OpenpyxlWorkbook) -> None:
    for lg in LEDGERS.values():
        ws = wb[lg.title]
        for i, field in enumerate(lg.fields, start=1):
            cell = ws.cell(1, i)
            assert cell.font.b
            assert cell.alignment.wrap_text
            assert cell.comment is not None
            is_red = cell.font.color is not None and str(cell.font.color.rgb).endswith("C00000")
            assert is_red == field.required, field.name
            assert ("必填" in cell.comment.text.split("\n")[0]) == field.required
            assert _column_width(ws, i) >= 8


@pytest.mark.parametrize("inline_limit", [255, 0], ids=["inline", "named-range"])
def test_enum_dropdowns_equal_contract(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inline_limit: int
) -> None:
    monkeypatch.setattr(template, "INLINE_LIST_LIMIT", inline_limit)
    book = openpyxl.load_workbook(write_template(tmp_path / "t.xlsx"))
    checked = 0
    for lg in LEDGERS.values():
        ws = book[lg.title]
        for col, field in _fields(lg, "enum"):
            dv = _validation_for(ws, col)
            assert dv is not None and dv.type == "list", (lg.name, field.name)
            if inline_limit == 0:
                assert dv.formula1.lstrip("=") == template.option_range_name(lg, field)
            assert _list_values(book, dv) == list(field.enum), (lg.name, field.name)
            assert dv.showErrorMessage and dv.errorStyle in (None, "stop") and dv.error
            assert dv.showInputMessage and dv.prompt
            checked += 1
    assert checked == sum(len(_fields(lg, "enum")) for lg in LEDGERS.values()) > 0


def test_bool_dropdowns(wb: OpenpyxlWorkbook) -> None:
    for lg in LEDGERS.values():
        for col, field in _fields(lg, "bool"):
            dv = _validation_for(wb[lg.title], col)
            assert dv is not None and dv.type == "list", field.name
            assert _list_values(wb, dv) == ["是", "否"]


def test_typed_validations_and_formats(wb: OpenpyxlWorkbook) -> None:
    expected = {
        "date": ("date", "yyyy-mm-dd"),
        "yuan": ("decimal", "#,##0.00"),
        "int": ("whole", "0"),
        "code6": ("textLength", "@"),
        "id_card": ("textLength", "@"),
        "month": ("custom", "@"),
    }
    seen: set[str] = set()
    for lg in LEDGERS.values():
        ws = wb[lg.title]
        for col, field in enumerate(lg.fields, start=1):
            if field.type not in expected:
                continue
            dv_type, num_format = expected[field.type]
            dv = _validation_for(ws, col)
            assert dv is not None and dv.type == dv_type, (lg.name, field.name)
            assert _column_format(ws, col) == num_format, (lg.name, field.name)
            if field.type in ("yuan", "int"):
                assert dv.operator == "greaterThanOrEqual" and float(dv.formula1) == 0
            if field.type in ("code6", "id_card"):
                assert int(dv.formula1) == (6 if field.type == "code6" else 18)
            assert dv.error and dv.errorTitle == t("template.error_title")
            assert field.header == dv.promptTitle
            seen.add(field.type)
    assert seen == set(expected)


def test_input_messages_carry_help(wb: OpenpyxlWorkbook) -> None:
    for lg in LEDGERS.values():
        for col, field in enumerate(lg.fields, start=1):
            dv = _validation_for(wb[lg.title], col)
            assert dv is not None and dv.prompt, (lg.name, field.name)
            assert len(dv.prompt) <= 255
            for note in template.field_notes(lg, field):
                assert note[:20] in dv.prompt or len(dv.prompt) > 240


def _guide_rows(book: OpenpyxlWorkbook) -> list[tuple]:
    return [
        tuple("" if v is None else str(v) for v in row)
        for row in book[GUIDE].iter_rows(values_only=True)
    ]


def test_guide_lists_every_field(wb: OpenpyxlWorkbook) -> None:
    rows = _guide_rows(wb)
    firsts = [r[0] for r in rows]
    for lg in LEDGERS.values():
        start = next(i for i, v in enumerate(firsts) if lg.title in v and v[:1].isdigit())
        head = start + 2
        assert rows[head][:5] == ("表头", "类型", "是否必填", "可选值", "说明")
        table = rows[head + 1 : head + 1 + len(lg.fields)]
        assert [r[0] for r in table] == [f.header for f in lg.fields]
        for row, field in zip(table, lg.fields):
            assert row[1] == template.type_label(field) != f"template.type.{field.type}"
            assert row[2] == ("必填" if field.required else "选填")
            if field.type == "enum":
                assert row[3].split("、") == list(field.enum)
    text = "\n".join("\t".join(r) for r in rows)
    assert "立案日期 不得早于 发现日期" in text
    assert "案件状态 为 已结案 时必填" in text
    assert "须在“区县名录”的 区划代码 中存在" in text
    assert "{区划代码}_{区县名称}_{YYYY-MM}.xlsx" in text
    assert "个人信息" in text and "身份证号" in text


def test_type_labels_are_chinese() -> None:
    labels = {
        typ: t(f"template.type.{typ}")
        for typ in ("text", "code6", "int", "yuan", "date", "bool", "enum", "month", "id_card")
    }
    assert labels == {
        "text": "文本",
        "code6": "6位区划代码",
        "int": "整数",
        "yuan": "金额(元)",
        "date": "日期",
        "bool": "是/否",
        "enum": "下拉选择",
        "month": "月份(YYYY-MM)",
        "id_card": "身份证号",
    }


def test_county_goes_to_guide_not_data(tmp_path: Path) -> None:
    path = write_template(tmp_path, county_code="990101", county_name="测试县", period="2025-09")
    assert path == tmp_path / "台账填报模板.xlsx"
    book = openpyxl.load_workbook(path)
    text = "\n".join("\t".join(r) for r in _guide_rows(book))
    assert "990101_测试县_2025-09.xlsx" in text
    for lg in LEDGERS.values():
        ws = book[lg.title]
        assert all(c.value is None for row in ws.iter_rows(min_row=2) for c in row)
    assert template.suggested_filename("990101") == "990101_{区县名称}_{YYYY-MM}.xlsx"


def test_subset_in_contract_order(tmp_path: Path) -> None:
    book = openpyxl.load_workbook(write_template(tmp_path / "t.xlsx", ["leads", "cases"]))
    assert book.sheetnames == [GUIDE, "案件台账", "疑点线索台账", OPTIONS]


@pytest.mark.parametrize(
    "kwargs", [{"ledgers": ["nope"]}, {"county_code": "99010"}, {"period": "2025-13"}]
)
def test_bad_arguments(tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        write_template(tmp_path / "t.xlsx", **kwargs)


def _fill(template_file: Path, out: Path, ledgers: list[str]) -> Path:
    """Write one VALID_ROWS row per ledger into the template's cells, like a county would."""
    book = openpyxl.load_workbook(template_file)
    for name in ledgers:
        lg = LEDGERS[name]
        ws = book[lg.title]
        for col, field in enumerate(lg.fields, start=1):
            ws.cell(2, col, VALID_ROWS[name][field.name])
    book.save(out)
    return out


@pytest.mark.parametrize("engine", ["openpyxl", "calamine"])
def test_filled_template_reads_back_with_pandas(
    template_path: Path, tmp_path: Path, engine: str
) -> None:
    assert set(VALID_ROWS) == set(LEDGERS)
    for name, row in VALID_ROWS.items():
        assert list(row) == LEDGERS[name].field_names
    filled = _fill(template_path, tmp_path / "990101_测试县_2025-09.xlsx", list(LEDGERS))
    for name, lg in LEDGERS.items():
        df = pd.read_excel(filled, sheet_name=lg.title, header=0, dtype=object, engine=engine)
        assert list(df.columns) == [f.header for f in lg.fields]
        assert len(df) == 1
        got = df.iloc[0]
        for field in lg.fields:
            want = VALID_ROWS[name][field.name]
            value = got[field.header]
            if field.type == "date":
                assert pd.Timestamp(value).date() == want
            elif field.type in ("int", "yuan"):
                assert float(value) == float(want)
            else:
                assert str(value) == str(want)


def test_cli_writes_template(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x" / "模板.xlsx"
    assert (
        main(["template", "--out", str(out), "--county", "990101", "--ledgers", "cases,leads"]) == 0
    )
    printed = capsys.readouterr().out
    assert str(out.resolve()) in printed and "990101_" in printed
    assert openpyxl.load_workbook(out).sheetnames == [GUIDE, "案件台账", "疑点线索台账", OPTIONS]
    assert main(["template", "--out", str(out), "--ledgers", "bogus"]) == 2
    assert "bogus" in capsys.readouterr().err
    # ledgers by their Chinese titles; --out a folder (as the README writes it): inside it
    folder = tmp_path / "模板"
    assert main(["template", "--out", f"{folder}/", "--ledgers", "案件台账，疑点线索台账"]) == 0
    inside = folder / "台账填报模板.xlsx"
    assert openpyxl.load_workbook(inside).sheetnames == [GUIDE, "案件台账", "疑点线索台账", OPTIONS]


def test_cli_default_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["template"]) == 0
    assert (tmp_path / "台账填报模板.xlsx").is_file()
    assert "台账填报模板.xlsx" in capsys.readouterr().out


def test_ingest_round_trip(template_path: Path, tmp_path: Path) -> None:
    ingest = pytest.importorskip("workbench.ingest")
    if not hasattr(ingest, "ingest_paths"):
        pytest.skip("workbench.ingest.ingest_paths not available yet")
    names = list(LEDGERS)  # counties, institutions, cases, … : every ledger, one row each
    filled = _fill(template_path, tmp_path / "990101_测试县_2025-09.xlsx", names)
    report = ingest.ingest_paths([filled], tmp_path / "wh.duckdb")
    for name in names:
        assert report.accepted.get(name) == 1, (name, report)
        assert not report.quarantined.get(name), (name, report)
    assert sum(report.quarantined.values()) == 0
