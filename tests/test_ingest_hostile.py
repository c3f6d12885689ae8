"""Hostile input: every probe ends with a Chinese message naming the file, no traceback, and
the other files of the batch still go in. The hostile files are built in the test (a few KB
on disk) with the limits they must trip lowered where a real one would be large."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.ingest_corpus import (
    CASE_HEADERS,
    F,
    case_row,
    cases_csv_lines,
    far_cell_xlsx,
    lying_zip_xlsx,
    mixed_encoding_csv,
    nul_csv,
    write_cases,
    write_city,
    zip_bomb_xlsx,
)
from workbench.ingest import ingest_paths
from workbench.readers import Limits
from workbench.warehouse import Warehouse

GOOD = "990102_青山县_2025-09.xlsx"


@pytest.fixture()
def wh_path(tmp_path: Path) -> Path:
    city = tmp_path / "city"
    city.mkdir()
    write_city(city)
    path = tmp_path / "wh.duckdb"
    assert ingest_paths([city], path).ok
    return path


def _good(folder: Path) -> Path:
    """A correct file of another county, sent in the same batch as the hostile one."""
    return write_cases(folder / GOOD, [case_row(案件编号="Q1", 区划代码="990102", 机构编码="H002")])


def _assert_refused(report, code: str, file: str, good_too: bool = True) -> str:
    """The hostile file has exactly this error, in Chinese, naming it; the good file went in."""
    errors = report.errors
    hit = errors[(errors["code"] == code) & (errors["file"] == file)]
    assert len(hit) == 1, list(zip(errors["file"], errors["code"]))
    msg = hit["message"].iloc[0]
    assert re.search(r"[\u4e00-\u9fff]", msg) and f"文件「{file}」" in msg
    assert "Traceback" not in msg and "{" not in msg
    if good_too:
        good = next(f for f in report.files if f.file == GOOD)
        assert good.status == "new" and good.accepted == 1
    return msg


def _ingest(folder: Path, wh: Path, tmp_path: Path, **limits):
    return ingest_paths(
        [folder], wh, report_dir=tmp_path / "reports", limits=Limits(**limits) if limits else None
    )


@pytest.mark.parametrize("corner", ["XFD1048576", "CV1048576"])
def test_a_sheet_claiming_a_huge_range_is_refused_before_parsing(
    corner: str, wh_path: Path, tmp_path: Path
) -> None:
    """2 KB workbooks whose sheet spans A1:XFD1048576 (17 billion cells: the reader aborted
    the process) or A1:CV1048576 (5 GB, then a MemoryError)."""
    folder = tmp_path / "in"
    folder.mkdir()
    hostile = far_cell_xlsx(folder / F, corner)
    assert hostile.stat().st_size < 10_000
    _good(folder)
    report = _ingest(folder, wh_path, tmp_path)
    msg = _assert_refused(report, "E_SHEET_TOO_LARGE", F)
    assert f"A1:{corner}" in msg and "12,000,000" in msg


def test_a_reader_that_dies_takes_only_its_own_file(wh_path: Path, tmp_path: Path) -> None:
    """With the span check out of the way (a limit set absurdly high), the parser really does
    try to allocate 17 billion cells: its child process dies, the batch goes on."""
    folder = tmp_path / "in"
    folder.mkdir()
    far_cell_xlsx(folder / F)
    _good(folder)
    report = _ingest(folder, wh_path, tmp_path, cells=10**12, reader_memory_mb=512)
    msg = _assert_refused(report, "E_READER_CRASHED", F)
    assert "512 MB" in msg


def test_a_zip_bomb_is_refused_by_its_ratio_and_its_size(wh_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    bomb = zip_bomb_xlsx(folder / F, 20)  # 20 MB of sheet XML in ~25 KB
    assert bomb.stat().st_size < 100_000
    _good(folder)
    msg = _assert_refused(_ingest(folder, wh_path, tmp_path), "E_ZIP_RATIO", F)
    assert "200" in msg
    # a bomb under the ratio limit is still held to the unzipped size per part
    msg = _assert_refused(
        _ingest(folder, wh_path, tmp_path, zip_ratio=10**6, sheet_mb=8),
        "E_PART_TOO_LARGE",
        F,
        False,
    )
    assert "8 MB" in msg and "20 MB" in msg


def test_a_zip_whose_directory_lies_about_sizes_is_refused(wh_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    lying_zip_xlsx(folder / F)
    _good(folder)
    _assert_refused(_ingest(folder, wh_path, tmp_path), "E_WORKBOOK_DAMAGED", F)


def test_a_nul_byte_after_the_first_4_kb_is_an_error_with_its_line(
    wh_path: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    name = "990101_东湖区_2025-09.csv"
    path = nul_csv(folder / name)
    data = path.read_bytes()
    line = data[: data.index(b"\x00")].count(b"\n") + 1
    assert data.index(b"\x00") > 4096
    _good(folder)
    report = _ingest(folder, wh_path, tmp_path)
    _assert_refused(report, "E_NUL_BYTE", name)
    assert int(report.errors.set_index("code").loc["E_NUL_BYTE", "row"]) == line
    with Warehouse(wh_path, read_only=True) as wh:  # nothing of it stored, NUL or not
        assert (
            wh.con.execute("SELECT count(*) FROM cases WHERE county_code = '990101'").fetchone()[0]
            == 0
        )


@pytest.mark.parametrize(
    ("first", "then", "said"), [("utf-8", "gbk", "GBK"), ("gbk", "utf-8", "UTF-8")]
)
def test_two_encodings_in_one_file_are_named_as_such(
    first: str, then: str, said: str, wh_path: Path, tmp_path: Path
) -> None:
    """A UTF-8 header with a GBK body was refused as 表头与模板不符; now the message says the
    file mixes encodings, from which line."""
    folder = tmp_path / "in"
    folder.mkdir()
    name = "990101_东湖区_2025-09.csv"
    mixed_encoding_csv(folder / name, first, then)
    _good(folder)
    report = _ingest(folder, wh_path, tmp_path)
    msg = _assert_refused(report, "E_MIXED_ENCODING", name)
    assert "第4行" in msg and said in msg and "表头" not in msg


def test_a_file_over_the_size_limit_is_hashed_but_never_read_or_kept(
    wh_path: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    name = "990101_东湖区_2025-09.csv"
    big = folder / name
    big.write_text("\n".join(cases_csv_lines(12_000)), encoding="utf-8")
    assert big.stat().st_size > 1 << 20
    _good(folder)
    report = _ingest(folder, wh_path, tmp_path, file_mb=1)
    msg = _assert_refused(report, "E_FILE_TOO_LARGE", name)
    assert "1 MB" in msg
    import hashlib

    sid = hashlib.sha256(big.read_bytes()).hexdigest()
    with Warehouse(wh_path, read_only=True) as wh:
        size, content, status = wh.con.execute(
            "SELECT size_bytes, content, status FROM submissions WHERE submission_id = ?", [sid]
        ).fetchone()
        archive = wh.archive_path(sid, name)
    assert (size, content, status) == (big.stat().st_size, None, "无法识别")
    assert not archive.exists()


def test_row_limit_refuses_a_csv_before_reading_it(wh_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    name = "990101_东湖区_2025-09.csv"
    (folder / name).write_text("\n".join(cases_csv_lines(100)), encoding="utf-8")
    _good(folder)
    _assert_refused(_ingest(folder, wh_path, tmp_path, rows=10), "E_TOO_MANY_ROWS", name)


def test_a_csv_is_read_as_a_stream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scanning a CSV holds a chunk at a time, never the whole file."""
    import tracemalloc

    import workbench.readers.text as readers

    monkeypatch.setattr(readers, "CHUNK", 64 << 10)
    monkeypatch.setattr(readers, "HEAD_BYTES", 16 << 10)
    path = tmp_path / "big.csv"
    path.write_text("\n".join(cases_csv_lines(40_000)), encoding="gbk")  # transcoded as it goes
    size = path.stat().st_size
    assert size > 5 << 20
    tracemalloc.start()
    scan = readers.scan_text(path, path.name, Limits(), tmp_path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert scan.issue is None and scan.encoding == "gb18030" and scan.lines == 40_001
    assert peak < 1 << 20, (peak, size)  # a few chunks, whatever the file's size


def test_symlinks_in_a_folder_are_refused_unless_allowed(wh_path: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = write_cases(outside / F, [case_row()])
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / F).symlink_to(target)
    (folder / "linked_dir").symlink_to(outside, target_is_directory=True)
    _good(folder)
    report = _ingest(folder, wh_path, tmp_path)
    refused = report.errors[report.errors["code"] == "E_SYMLINK"]
    assert set(refused["file"]) == {F, "linked_dir"}
    assert all("--allow-symlinks" in m for m in refused["message"])
    assert [f.file for f in report.files] == [GOOD]  # the link's target was not read or kept
    with Warehouse(wh_path, read_only=True) as wh:
        assert (
            wh.con.execute("SELECT count(*) FROM submissions WHERE file_name = ?", [F]).fetchone()[
                0
            ]
            == 0
        )
    allowed = ingest_paths([folder], wh_path, allow_symlinks=True)
    assert F in [f.file for f in allowed.files if f.status == "new"]


def test_every_probe_in_one_batch_ends_in_chinese_and_the_good_file_goes_in(
    wh_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Through the command, as an operator runs it: each hostile file one Chinese line, exit
    code 1 (files were not read), no traceback, the good file in."""
    from workbench.cli import main

    folder = tmp_path / "in"
    folder.mkdir()
    far_cell_xlsx(folder / "990101_东湖区_2025-09_a.xlsx")
    far_cell_xlsx(folder / "990101_东湖区_2025-09_b.xlsx", "CV1048576")
    zip_bomb_xlsx(folder / "990101_东湖区_2025-09_c.xlsx", 4)
    lying_zip_xlsx(folder / "990101_东湖区_2025-09_d.xlsx")
    nul_csv(folder / "990101_东湖区_2025-09_e.csv")
    mixed_encoding_csv(folder / "990101_东湖区_2025-09_f.csv")
    (folder / "990101_东湖区_2025-09_g.xlsx").write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    _good(folder)
    rc = main(["ingest", str(folder), "--warehouse", str(wh_path), "--report-dir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert rc == 1
    assert "Traceback" not in out + err
    assert out.count("无法识别") == 7 and "新入库  " + GOOD in out
    with Warehouse(wh_path, read_only=True) as wh:
        assert wh.con.execute("SELECT count(*) FROM cases").fetchone()[0] == 1


def test_an_unknown_or_bad_limit_in_the_config_is_ignored_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = tmp_path / "workbench.toml"
    cfg.write_text('[ingest]\nfile_mb = 5\nrows = -3\ncolour = "red"\n', encoding="utf-8")
    monkeypatch.setenv("WORKBENCH_CONFIG", str(cfg))
    limits = Limits.load()
    assert limits.file_mb == 5 and limits.rows == Limits().rows
    assert any("colour" in r.getMessage() for r in caplog.records)
    assert any("rows" in r.getMessage() for r in caplog.records)


def test_headers_and_rows_still_read_when_the_sheet_starts_off_origin(
    wh_path: Path, tmp_path: Path
) -> None:
    """The reader starts rows at the top but columns at the first one used: a table placed at
    B3 keeps Excel's row numbers."""
    import openpyxl

    folder = tmp_path / "in"
    folder.mkdir()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "案件台账"
    for i, h in enumerate(CASE_HEADERS):
        ws.cell(row=3, column=2 + i, value=h)
    for i, v in enumerate(case_row(**{"应追回金额(元)": "坏"})):
        ws.cell(row=4, column=2 + i, value=v)
    wb.save(folder / F)
    report = ingest_paths([folder], wh_path)
    assert list(zip(report.errors["row"], report.errors["column"], report.errors["code"])) == [
        (4, "应追回金额(元)", "E_NOT_NUMBER")
    ]
