"""Issue lists and exports: one cell treatment for CSV and Excel, whole row numbers, any
length (split at Excel's limit, long kinds summarised fairly), personal data masked in every
string — file and sheet names included."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import openpyxl
import pytest

from tests.ingest_corpus import CASE_HEADERS, case_row, write_cases, write_city
from workbench.ingest import ingest_paths
from workbench.issue_list import ListWriter, write_issue_list
from workbench.privacy import safe_cell
from workbench.warehouse import Warehouse

ID = "110105194912310021"  # a checksum-valid ID number
ID_RE = re.compile(r"[1-9]\d{16}[\dXx]")
INJECTIONS = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(A1)", "-2+3"]


@pytest.fixture()
def wh_path(tmp_path: Path) -> Path:
    city = tmp_path / "city"
    city.mkdir()
    write_city(city)
    path = tmp_path / "wh.duckdb"
    assert ingest_paths([city], path).ok
    return path


def _csv_rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def _xlsx_rows(path: Path, sheet: int = 0) -> list[list[object]]:
    wb = openpyxl.load_workbook(path, read_only=True)
    ws = wb.worksheets[sheet]
    return [["" if v is None else v for v in r] for r in ws.iter_rows(values_only=True)]


def test_injected_formulas_are_neutralised_alike_in_csv_and_excel(
    wh_path: Path, tmp_path: Path
) -> None:
    """A file name starting with =, and values that Excel would run, arrive in both lists as
    text with a leading apostrophe; row numbers are whole numbers."""
    folder = tmp_path / "in"
    folder.mkdir()
    name = "=1+1_990101_东湖区_2025-09.csv"
    rows = [case_row(案件编号=f"C{i}", **{"应追回金额(元)": v}) for i, v in enumerate(INJECTIONS)]
    lines = [",".join(CASE_HEADERS)] + [
        ",".join('"' + str(v).replace('"', '""') + '"' for v in r) for r in rows
    ]
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = ingest_paths([folder], wh_path, report_dir=tmp_path / "r")
    xlsx, csv_path = report.report_paths
    from_csv = _csv_rows(csv_path)
    from_xlsx = _xlsx_rows(xlsx)
    assert (
        from_csv[0]
        == from_xlsx[0]
        == ["级别", "文件", "工作表", "行号", "列", "值", "问题类型", "规则编码", "说明"]
    )
    body_csv = [r for r in from_csv[1:] if r[0] == "错误"]  # the missing columns warn too
    body_xlsx = [r for r in from_xlsx[1:] if r[0] == "错误"]
    assert len(body_csv) == len(INJECTIONS)
    assert [r[3] for r in body_csv] == ["2", "3", "4", "5"]  # never 2.0
    assert [r[3] for r in body_xlsx] == [2, 3, 4, 5]
    for a, b in zip(body_csv, body_xlsx):
        assert a[:3] + a[4:] == [str(v) for v in b[:3] + b[4:]]  # the same treatment
        assert a[1] == "'" + name
        for cell in a:
            assert not cell.startswith(("=", "+", "-", "@")), cell
    assert [r[5] for r in body_csv] == ["'" + v for v in INJECTIONS]


def test_safe_cell_is_the_one_treatment(tmp_path: Path) -> None:
    """Hand-worked: what each kind of cell becomes, in both formats."""
    cases = {
        "=A1": "'=A1",
        "+1": "+1",  # a plain signed figure cannot run: left as it is
        "-1,200.5": "-1,200.5",
        "-1+1": "'-1+1",
        "@x": "'@x",
        "\tx": "'\tx",
        "正常": "正常",
        f"身份证{ID}": "身份证1101**********0021",
        f"={ID}": "'=1101**********0021",
        7: 7,
        None: None,
    }
    for given, expected in cases.items():
        assert safe_cell(given) == expected
    base = tmp_path / "t"
    with ListWriter(base, ["a"], sheet="s") as w:
        for given in cases:
            w.write([given])
    csv_cells = [r[0] for r in _csv_rows(base.with_suffix(".csv"))[1:]]
    xlsx_cells = [r[0] if r else "" for r in _xlsx_rows(base.with_suffix(".xlsx"))[1:]]
    expected = ["" if v is None else v for v in cases.values()]
    assert xlsx_cells == expected
    assert csv_cells == [str(v) for v in expected]


def test_a_list_longer_than_a_sheet_continues_on_more_sheets_and_files(tmp_path: Path) -> None:
    rows = [[i, f"第{i}行"] for i in range(12)]
    with ListWriter(tmp_path / "清单", ["号", "说明"], sheet="问题清单", rows_per_part=5) as w:
        for r in rows:
            w.write(r)
    xlsx, *csvs = w.paths
    assert [p.name for p in csvs] == ["清单.csv", "清单_2.csv", "清单_3.csv"]
    wb = openpyxl.load_workbook(xlsx, read_only=True)
    assert wb.sheetnames == ["问题清单", "问题清单2", "问题清单3"]
    per_sheet = [_xlsx_rows(xlsx, i) for i in range(3)]
    per_file = [_csv_rows(p) for p in csvs]
    assert [len(s) - 1 for s in per_sheet] == [len(f) - 1 for f in per_file] == [5, 5, 2]
    assert all(s[0] == ["号", "说明"] for s in per_sheet)
    assert [r for s in per_sheet for r in s[1:]] == rows
    assert [r for f in per_file for r in f[1:]] == [[str(a), b] for a, b in rows]
    assert not list(tmp_path.glob("*.part"))


def _full_cases(path: Path, changes: list[dict]) -> Path:
    """A cases workbook with every column of the contract (no missing-column warnings), rows
    from the corpus' valid case with references the city fixture knows."""
    from tests.ingest_corpus import VALID_ROWS
    from workbench.contracts import LEDGERS

    lg = LEDGERS["cases"]
    base = {**VALID_ROWS["cases"], "institution_id": "H001", "inspection_id": None}
    rows = [[{**base, **c}.get(f.name) for f in lg.fields] for c in changes]
    return write_cases(path, rows, headers=[f.header for f in lg.fields])


def test_long_kinds_are_cut_fairly_and_summarised(wh_path: Path, tmp_path: Path) -> None:
    """30 rows with a bad amount and 3 with a bad case type, at most 10 listed: the small kind
    whole, the large one cut at 7 (7 + 3 = 10; 8 would make 11) and summarised in one line."""
    changes = [{"case_id": f"A{i}", "amount_due": "x"} for i in range(30)]
    changes += [{"case_id": f"B{i}", "violation_type": "乱收费"} for i in range(3)]
    path = _full_cases(tmp_path / "990101_东湖区_2025-09.xlsx", changes)
    report = ingest_paths([path], wh_path)
    assert report.error_count == 33 and report.warning_count == 0, report.issues
    with Warehouse(wh_path) as wh:
        sid = wh.con.execute(
            "SELECT submission_id FROM submissions WHERE file_name = ?", [path.name]
        ).fetchone()[0]
        paths = write_issue_list(wh.con, tmp_path / "r", [sid], limit=10)
    body = _csv_rows(paths[1])[1:]
    assert len(body) == 11
    money = [r for r in body if r[4] == "应追回金额(元)" and r[3]]
    enum = [r for r in body if r[7] == "E_ENUM"]  # 问题类型 (r[6]) before the code
    assert [int(r[3]) for r in money] == list(range(2, 9))
    assert [int(r[3]) for r in enum] == [32, 33, 34]
    assert {r[6] for r in enum} == {"不在可选范围内"}
    summary = [r for r in body if not r[3]]
    assert len(summary) == 1 and summary[0][7] == "E_NOT_NUMBER" and summary[0][6] == "不是数字"
    assert "共 30 行" in summary[0][8] and "第2行至第31行" in summary[0][8]
    assert "前 7 行" in summary[0][8] and "另有 23 行" in summary[0][8]


def test_id_numbers_in_file_and_sheet_names_never_leave_the_program(
    wh_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from workbench.cli import main

    folder = tmp_path / "in"
    folder.mkdir()
    name = f"990101_东湖区_{ID}_2025-09.xlsx"
    write_cases(
        folder / name,
        [case_row(), case_row(案件编号="C2", 违规类型=ID)],
        headers=[*CASE_HEADERS, f"备注{ID}"],
        sheet=f"案件台账{ID}",
    )
    rc = main(["ingest", str(folder), "--warehouse", str(wh_path), "--report-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0
    assert main(["quarantine", "--warehouse", str(wh_path), "--out", str(tmp_path / "q.xlsx")]) == 0
    out += capsys.readouterr().out
    texts = [out]
    for p in tmp_path.glob("入库问题清单_*"):
        texts.append(
            p.read_text(encoding="utf-8-sig") if p.suffix == ".csv" else str(_xlsx_rows(p))
        )
    texts.append(str(_xlsx_rows(tmp_path / "q.xlsx")))
    with Warehouse(wh_path, read_only=True) as wh:
        for sql in (
            "SELECT file_name FROM submissions",
            "SELECT file, sheet, column_header, value, message FROM ingest_issues",
            "SELECT file, sheet, reasons FROM quarantine",
            "SELECT _file, _sheet FROM cases",
        ):
            texts.append(str(wh.con.execute(sql).fetchall()))
    assert "1101**********0021" in texts[0]
    leaked = [t for t in texts if ID in t]
    assert not leaked


def test_the_quarantine_export_reads_rows_stored_before_and_after(
    wh_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Refused rows are kept as a positional array now; rows quarantined by an earlier version
    (a JSON object keyed by header) export the same way."""
    import json

    from workbench.cli import main

    path = write_cases(
        tmp_path / "990101_东湖区_2025-09.xlsx", [case_row(**{"应追回金额(元)": 'a"b\\c\n'})]
    )
    ingest_paths([path], wh_path)
    with Warehouse(wh_path) as wh:
        wh.con.execute(
            "INSERT INTO quarantine SELECT submission_id, 'cases', file, sheet, 99, '旧原因', "
            "'E_OLD', ? FROM quarantine",
            [json.dumps({"案件编号": "OLD1", "区划代码": "990101"}, ensure_ascii=False)],
        )
    out = tmp_path / "q.csv"
    assert main(["quarantine", "--warehouse", str(wh_path), "--out", str(out)]) == 0
    capsys.readouterr()
    rows = {r["行号"]: r for r in csv.DictReader(open(out, encoding="utf-8-sig"))}
    assert rows["2"]["应追回金额(元)"] == 'a"b\\c'  # trimmed like every cell
    assert rows["2"]["当事人身份证号"].startswith("1101") and "*" in rows["2"]["当事人身份证号"]
    assert rows["99"]["案件编号"] == "OLD1" and rows["99"]["原因"] == "旧原因"
