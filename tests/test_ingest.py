"""Ingest: the bad-input corpus, nothing lost, idempotence, replacement, atomicity."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.ingest_corpus import CASE_HEADERS, CASES, F, case_row, write_cases, write_city
from workbench.contracts import LEDGERS, normalise_header
from workbench.ingest import ingest_paths
from workbench.warehouse import Warehouse

ID_RE = re.compile(r"[1-9]\d{16}[\dXx]")


@pytest.fixture()
def wh_path(tmp_path: Path) -> Path:
    """A warehouse that already holds the city's counties and institutions."""
    city = tmp_path / "city"
    city.mkdir()
    write_city(city)
    path = tmp_path / "wh.duckdb"
    report = ingest_paths([city], path)
    assert report.ok, report.errors
    return path


def _tuples(report) -> set[tuple]:
    rows = report.issues
    return {
        (r.file, r.sheet, None if pd.isna(r.row) else int(r.row), r.column, r.code)
        for r in rows.itertuples(index=False)
    }


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_corpus(case, wh_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    case.build(folder)
    report = ingest_paths([folder], wh_path, report_dir=tmp_path / "reports")
    got = _tuples(report)
    assert case.expect <= got, f"missing findings: {case.expect - got}; got {got}"
    # nothing lost: rows in = accepted + quarantined, and both are really in the warehouse
    rows_in = sum(report.rows_in.values())
    assert rows_in == case.rows_in
    if case.accepted is not None:
        assert sum(report.accepted.values()) == case.accepted
    with Warehouse(wh_path, read_only=True) as wh:
        stored = sum(  # the ledgers a case writes (the city's counties and institutions aside)
            wh.con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
            for name in LEDGERS
            if name not in ("counties", "institutions")
        )
        quarantined = wh.con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
    assert stored + quarantined == rows_in
    # every error message is Chinese and names the file; no unmasked ID number anywhere
    for msg in report.issues["message"]:
        assert re.search(r"[\u4e00-\u9fff]", msg) and "文件「" in msg
        assert not ID_RE.search(msg)
        assert "{" not in msg and "}" not in msg, msg  # every placeholder filled
    xlsx, csv = report.report_paths
    text = csv.read_text(encoding="utf-8-sig")
    assert not ID_RE.search(text)
    if case.expect:
        exported = pd.read_excel(xlsx, engine="calamine")
        assert {"文件", "工作表", "行号", "列", "值", "规则编码", "说明"} <= set(exported.columns)
        assert set(exported["规则编码"]) >= {e[4] for e in case.expect}


def test_every_error_code_has_a_message() -> None:
    from workbench.messages import catalogue

    codes = set()
    for lg in LEDGERS.values():
        codes |= {c.code for c in lg.compares} | {r.code for r in lg.required_when}
        codes |= {r.code for r in lg.references}
    codes |= {
        "E_REQUIRED",
        "E_CODE6",
        "E_NOT_NUMBER",
        "E_NOT_INTEGER",
        "E_NEGATIVE",
        "E_NEGATIVE_MONEY",
        "E_DATE",
        "E_MONTH",
        "E_BOOL",
        "E_ENUM",
        "E_ID_FORMAT",
        "E_ID_CHECKSUM",
        "E_DUPLICATE_KEY",
        "E_MISSING_COLUMN",
        "E_NOT_WORKBOOK",
        "E_MONEY_TOO_LARGE",
        "E_COUNTY_MISMATCH",
        "E_XLS_UNSUPPORTED",
    }
    missing = {c for c in codes if f"ingest.code.{c}" not in catalogue()}
    assert not missing


def test_every_rule_code_has_a_chinese_name() -> None:
    """The issue list goes to counties: each code is named in Chinese (问题类型) beside it."""
    from workbench.messages import catalogue

    cat = catalogue()
    codes = {k.removeprefix("ingest.code.") for k in cat if k.startswith("ingest.code.")}
    missing = {
        c for c in codes if not re.search(r"[\u4e00-\u9fff]", cat.get(f"ingest.rule.{c}", ""))
    }
    assert not missing


def test_an_unknown_county_code_is_one_mistake_counted_once(wh_path: Path, tmp_path: Path) -> None:
    """990199 in 东湖区's file is in no registry and does not start with 990101: one cell, one
    mistake — E_UNKNOWN_COUNTY alone (it was also E_COUNTY_MISMATCH, so the list counted 2 where
    the demo planted 1), and the list names the rule in Chinese before its code."""
    folder = tmp_path / "in"
    folder.mkdir()
    write_cases(folder / F, [case_row(案件编号="U1", 区划代码="990199"), case_row(案件编号="U2")])
    report = ingest_paths([folder], wh_path, report_dir=tmp_path / "reports")
    errors = report.issues[report.issues["severity"] == "error"]
    assert list(zip(errors["row"], errors["code"])) == [(2, "E_UNKNOWN_COUNTY")]
    assert report.error_count == 1
    listed = pd.read_csv(report.report_paths[1], encoding="utf-8-sig", dtype=str)
    mine = listed[listed["级别"] == "错误"]
    assert len(mine) == 1
    header = list(listed.columns)
    assert header[header.index("规则编码") - 1] == "问题类型"
    assert (mine["问题类型"].iloc[0], mine["规则编码"].iloc[0]) == (
        "区划代码不在名录中",
        "E_UNKNOWN_COUNTY",
    )


def test_dates_in_every_form_become_the_same_day(wh_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    next(c for c in CASES if c.name == "dates_every_form").build(folder)
    ingest_paths([folder], wh_path)
    with Warehouse(wh_path, read_only=True) as wh:
        cases = wh.read_ledger("cases").set_index("case_id")
    assert set(cases.index) == {"C1", "C2", "C3", "C4"}
    assert (cases["found_date"] == pd.Timestamp("2025-03-01")).all()
    assert (cases["filed_date"] == pd.Timestamp("2025-03-05")).all()


def test_money_with_separators_and_bools(wh_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write_cases(
        folder / F,
        [
            case_row(**{"涉案金额(元)": "1,234,567.891", "是否移送公安": "是"}),
            case_row(案件编号="C2", 是否移送公安="N"),
        ],
    )
    report = ingest_paths([folder], wh_path)
    assert report.ok
    with Warehouse(wh_path, read_only=True) as wh:
        cases = wh.read_ledger("cases").set_index("case_id")
    assert cases.at["C001", "amount_involved"] == pytest.approx(1234567.89)
    assert bool(cases.at["C001", "referred_police"]) is True
    assert bool(cases.at["C2", "referred_police"]) is False


def test_same_bytes_twice_changes_nothing(wh_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write_cases(folder / F, [case_row(), case_row(案件编号="C2", **{"应追回金额(元)": "x"})])
    ingest_paths([folder], wh_path)

    def snapshot() -> tuple:
        with Warehouse(wh_path, read_only=True) as wh:
            return tuple(
                wh.con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
                for t in ["submissions", "quarantine", "ingest_issues", *LEDGERS]
            )

    before = snapshot()
    report = ingest_paths([folder], wh_path)
    assert [f.status for f in report.files] == ["duplicate"]
    assert snapshot() == before


def test_corrected_resubmission_replaces_and_is_recorded(wh_path: Path, tmp_path: Path) -> None:
    first = tmp_path / "first"
    first.mkdir()
    write_cases(
        first / F,
        [
            case_row(),
            case_row(案件编号="C2"),
            case_row(案件编号="C3", **{"已追回金额(元)": "99999"}),
        ],
    )
    r1 = ingest_paths([first], wh_path)
    assert sum(r1.accepted.values()) == 2 and sum(r1.quarantined.values()) == 1
    fixed = tmp_path / "fixed"
    fixed.mkdir()
    # the correction drops C2, fixes C3 and changes C001's recovered amount
    write_cases(
        fixed / "990101_东湖区_2025-09_更正.xlsx",
        [case_row(**{"已追回金额(元)": "9000"}), case_row(案件编号="C3")],
    )
    r2 = ingest_paths([fixed], wh_path)
    assert r2.files[0].replaced == [r1.files[0].submission_id]
    with Warehouse(wh_path, read_only=True) as wh:
        cases = wh.read_ledger("cases").set_index("case_id")
        assert sorted(cases.index) == ["C001", "C3"]
        assert cases.at["C001", "amount_recovered"] == 9000
        assert wh.con.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 0
        rep = wh.con.execute(
            "SELECT old_submission_id, new_submission_id, rows_removed FROM replacements"
        ).fetchall()
        assert rep == [(r1.files[0].submission_id, r2.files[0].submission_id, 2)]
        status = wh.con.execute(
            "SELECT status FROM submissions WHERE submission_id = ?", [r1.files[0].submission_id]
        ).fetchone()[0]
        assert status == "已被替换"


def test_later_period_updates_a_case(wh_path: Path, tmp_path: Path) -> None:
    """A case first reported open in March and closed in the September file: September wins."""
    a = tmp_path / "a"
    a.mkdir()
    write_cases(a / "990101_东湖区_2025-03.xlsx", [case_row(案件状态="调查中", 结案日期=None)])
    b = tmp_path / "b"
    b.mkdir()
    write_cases(b / F, [case_row()])
    ingest_paths([b], wh_path)
    ingest_paths([a], wh_path)  # arrives late: must not override the newer period
    with Warehouse(wh_path, read_only=True) as wh:
        cur = wh.read_ledger("cases")
        every = wh.read_ledger("cases", current=False)
    assert len(every) == 2 and len(cur) == 1
    assert cur.iloc[0]["status"] == "已结案"


def test_failure_midway_leaves_warehouse_unchanged(
    wh_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write_cases(folder / F, [case_row()])
    import workbench.ingest as ing

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ing, "_write_findings", boom)
    write_cases(
        folder / "990102_青山县_2025-09.xlsx",
        [case_row(案件编号="X", 区划代码="990102", 机构编码="H002", **{"应追回金额(元)": "y"})],
    )
    with Warehouse(wh_path, read_only=True) as wh:
        before = wh.con.execute("SELECT count(*) FROM submissions").fetchone()[0]
    with pytest.raises(RuntimeError):
        ingest_paths([folder], wh_path)
    with Warehouse(wh_path, read_only=True) as wh:
        assert wh.con.execute("SELECT count(*) FROM submissions").fetchone()[0] == before
        assert wh.con.execute("SELECT count(*) FROM cases").fetchone()[0] == 0


@pytest.mark.parametrize("inline_max", [None, 0], ids=["in-database", "archive-folder"])
def test_original_bytes_are_archived(
    wh_path: Path, tmp_path: Path, inline_max, monkeypatch: pytest.MonkeyPatch
) -> None:
    import workbench.warehouse as warehouse

    if inline_max is not None:
        monkeypatch.setattr(warehouse, "INLINE_ARCHIVE_MAX", inline_max)
    folder = tmp_path / "in"
    folder.mkdir()
    path = write_cases(folder / F, [case_row()])
    report = ingest_paths([folder], wh_path)
    sid = report.files[0].submission_id
    with Warehouse(wh_path, read_only=True) as wh:
        assert wh.archived_bytes(sid) == path.read_bytes()
        county, period, size = wh.con.execute(
            "SELECT county_code, period, size_bytes FROM submissions WHERE submission_id = ?", [sid]
        ).fetchone()
        in_db = wh.con.execute(
            "SELECT content IS NOT NULL FROM submissions WHERE submission_id = ?", [sid]
        ).fetchone()[0]
    assert (county, period, size) == ("990101", "2025-09", len(path.read_bytes()))
    assert in_db is (inline_max is None)


def test_unknown_extra_columns_are_kept(wh_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write_cases(folder / F, [case_row() + ["某备注"]], headers=[*CASE_HEADERS, "经办人备注"])
    report = ingest_paths([folder], wh_path)
    assert "W_EXTRA_COLUMN" in set(report.issues["code"])
    with Warehouse(wh_path, read_only=True) as wh:
        extra = wh.con.execute("SELECT _extra FROM cases").fetchone()[0]
    assert "经办人备注" in extra and "某备注" in extra


def test_folder_copy_is_the_same_as_files(wh_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    path = write_cases(folder / F, [case_row()])
    other = tmp_path / "copy.duckdb"
    shutil.copy(wh_path, other)
    a = ingest_paths([folder], wh_path)
    b = ingest_paths([path], other)
    assert a.accepted == b.accepted == {"cases": 1}
    # an old .xls beside it is named in the report, not silently skipped; other files are
    (folder / "990102_青山县_2025-09.xls").write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 60)
    (folder / "说明.docx").write_bytes(b"PK")
    c = ingest_paths([folder], wh_path)
    assert list(c.errors["code"]) == ["E_XLS_UNSUPPORTED"]
    assert "990102_青山县_2025-09.xls" in c.errors["message"].iloc[0]


def test_row_numbers_in_a_large_csv_match_excel(wh_path: Path, tmp_path: Path) -> None:
    """Errors deep in a big file point at the line Excel shows (header on line 1)."""
    folder = tmp_path / "in"
    folder.mkdir()
    n = 60_000
    bad = {12_345, 59_998}  # 0-based data indices → Excel rows index + 2
    lines = [",".join(CASE_HEADERS)]
    for i in range(n):
        row = case_row(案件编号=f"C{i:06d}", **({"应追回金额(元)": "坏"} if i in bad else {}))
        lines.append(",".join(str(v) for v in row))
    (folder / "990101_东湖区_2025-09.csv").write_text("\n".join(lines), encoding="utf-8")
    report = ingest_paths([folder], wh_path)
    errs = report.errors
    assert set(errs["row"]) == {i + 2 for i in bad}
    assert set(errs["code"]) == {"E_NOT_NUMBER"}
    assert sum(report.accepted.values()) == n - len(bad)


def test_english_headers_are_accepted(wh_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    index = LEDGERS["cases"].header_index()
    names = [index[normalise_header(h)] for h in CASE_HEADERS]
    assert names[0] == "case_id" and names[-1] == "closed_date"
    write_cases(folder / F, [case_row()], headers=names)
    report = ingest_paths([folder], wh_path)
    assert report.ok and report.accepted == {"cases": 1}


def test_a_file_without_any_ledger_is_an_error(wh_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "990101_东湖区_2025-09.csv").write_text("姓名,电话\n张三,123\n", encoding="utf-8")
    report = ingest_paths([folder], wh_path)
    assert ("990101_东湖区_2025-09.csv", "E_NO_LEDGER") in {
        (r.file, r.code) for r in report.errors.itertuples()
    }
    assert not ID_RE.search(" ".join(report.issues["message"]))


def test_cli_prints_chinese_summary_and_status(wh_path: Path, tmp_path: Path, capsys) -> None:
    from workbench.cli import main

    folder = tmp_path / "in"
    folder.mkdir()
    write_cases(folder / F, [case_row(), case_row(案件编号="C2", 区划代码="990199")])
    assert (
        main(
            [
                "ingest",
                str(folder),
                "--warehouse",
                str(wh_path),
                "--report-dir",
                str(tmp_path / "r"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "入库 1 行" in out and "隔离 1 行" in out and "990199" in out
    assert main(["status", "--warehouse", str(wh_path)]) == 0
    out = capsys.readouterr().out
    assert "案件台账" in out and "隔离区：1 行" in out
    # a file that is no workbook at all fails the command; a bad --period is refused
    (tmp_path / "notes.xlsx").write_text("不是工作簿", encoding="utf-8")
    assert (
        main(
            [
                "ingest",
                str(tmp_path / "notes.xlsx"),
                "--warehouse",
                str(wh_path),
                "--report-dir",
                str(tmp_path / "r"),
            ]
        )
        == 1
    )
    capsys.readouterr()
    for bad in ("abc", "2025-13", "2025-9"):
        assert main(["ingest", str(folder), "--warehouse", str(wh_path), "--period", bad]) == 2
        assert "参数 --period" in capsys.readouterr().err


def test_original_and_correction_in_one_batch(wh_path: Path, tmp_path: Path) -> None:
    """Both files in one call: the later file (the correction) is the one that stays."""
    first = tmp_path / "a" / F
    first.parent.mkdir()
    write_cases(first, [case_row(), case_row(案件编号="C2", **{"已追回金额(元)": "99999"})])
    fixed = tmp_path / "b" / "990101_东湖区_2025-09_更正.xlsx"
    fixed.parent.mkdir()
    write_cases(fixed, [case_row(), case_row(案件编号="C2")])
    report = ingest_paths([first, fixed], wh_path)
    assert report.files[1].replaced == [report.files[0].submission_id]
    with Warehouse(wh_path, read_only=True) as wh:
        assert sorted(wh.read_ledger("cases")["case_id"]) == ["C001", "C2"]
        assert wh.con.execute("SELECT count(*) FROM cases").fetchone()[0] == 2
        assert wh.con.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 0


def test_quarantine_export_masks_and_explains(wh_path: Path, tmp_path: Path, capsys) -> None:
    from workbench.cli import main

    folder = tmp_path / "in"
    folder.mkdir()
    write_cases(folder / F, [case_row(), case_row(案件编号="C2", **{"已追回金额(元)": "99999"})])
    ingest_paths([folder], wh_path)
    out = tmp_path / "q.xlsx"
    assert main(["quarantine", "--warehouse", str(wh_path), "--out", str(out)]) == 0
    assert "隔离区共 1 行" in capsys.readouterr().out
    df = pd.read_excel(out, dtype=str, engine="calamine")
    assert list(df["行号"]) == ["3"] and "E_RECOVERED_GT_DUE" in df["规则编码"].iloc[0]
    assert df["案件编号"].iloc[0] == "C2"
    assert not ID_RE.search(df.to_csv())
    assert df["当事人身份证号"].iloc[0].startswith("1101") and "*" in df["当事人身份证号"].iloc[0]


def test_malformed_id_numbers_are_masked_everywhere(wh_path: Path, tmp_path: Path, capsys) -> None:
    """A mistyped ID number (14 digits, 19 digits, a full-width last digit) is still personal
    data: masked in the messages, the issue report, the console and the quarantine export."""
    from workbench.cli import main

    bad = ["33040219800101", "3304021980010112361", "33040219800101123６"]
    folder = tmp_path / "in"
    folder.mkdir()
    write_cases(
        folder / F,
        [case_row(案件编号=f"C{i}", 当事人身份证号=v) for i, v in enumerate(bad)]
        + [case_row(案件编号="M1", **{"涉案金额(元)": "330402198001011236"})],
    )
    report = ingest_paths([folder], wh_path, report_dir=tmp_path / "reports")
    # an ID number pasted into a money column is refused as an absurd amount, and masked
    assert {c for c in report.issues["code"]} >= {"E_ID_FORMAT", "E_MONEY_TOO_LARGE"}
    bad.append("330402198001011236")
    out = tmp_path / "q.xlsx"
    assert main(["quarantine", "--warehouse", str(wh_path), "--out", str(out)]) == 0
    texts = [
        *report.issues["message"],
        *report.issues["value"],
        report.report_paths[1].read_text(encoding="utf-8-sig"),
        pd.read_excel(out, dtype=str, engine="calamine").to_csv(),
        capsys.readouterr().out,
    ]
    for raw in bad:
        assert not [t for t in texts if raw in str(t)], raw


def test_quarantine_export_with_a_leads_rule_code_and_by_name(
    wh_path: Path, tmp_path: Path, capsys
) -> None:
    """The leads ledger has its own 规则编码 column: the export keeps both (it crashed); a
    county may be named; .csv gives CSV; an unknown county or a mistyped warehouse path is an
    error, not an empty result."""
    from workbench.cli import main

    folder = tmp_path / "in"
    folder.mkdir()
    write_cases(
        folder / F,
        [["L1", "990101", "智能监控", "R-001", "2025-09-01", "乱写的状态"]],
        headers=["线索编号", "区划代码", "线索来源", "规则编码", "接收日期", "核查状态"],
        sheet="疑点线索台账",
    )
    ingest_paths([folder], wh_path)
    out = tmp_path / "q.xlsx"
    assert main(["quarantine", "--warehouse", str(wh_path), "--out", str(out)]) == 0
    df = pd.read_excel(out, dtype=str, engine="calamine")
    assert "E_ENUM" in df["规则编码"].iloc[0] and df["规则编码（台账列）"].iloc[0] == "R-001"
    csv = tmp_path / "q.csv"
    assert (
        main(["quarantine", "--warehouse", str(wh_path), "--county", "东湖区", "--out", str(csv)])
        == 0
    )
    assert pd.read_csv(csv, dtype=str, encoding="utf-8-sig")["行号"].tolist() == ["2"]
    capsys.readouterr()
    assert main(["quarantine", "--warehouse", str(wh_path), "--county", "999999"]) == 2
    assert "999999" in capsys.readouterr().err
    assert main(["status", "--warehouse", str(tmp_path / "typo.duckdb")]) == 2
    assert "找不到仓库文件" in capsys.readouterr().err


def test_two_reports_in_one_second_keep_both(wh_path: Path, tmp_path: Path) -> None:
    from workbench.ingest import issue_list_for

    folder = tmp_path / "in"
    folder.mkdir()
    write_cases(folder / F, [case_row(案件编号="C9", **{"应追回金额(元)": "x"})])
    report = ingest_paths([folder], wh_path)
    with Warehouse(wh_path) as wh:
        first = issue_list_for(wh, report.new_ids, tmp_path / "r")
        second = issue_list_for(wh, report.new_ids, tmp_path / "r")
    assert len({*first, *second}) == 4 and all(p.exists() for p in (*first, *second))


def _count(wh_path: Path, sql: str) -> int:
    with Warehouse(wh_path, read_only=True) as wh:
        return wh.con.execute(sql).fetchone()[0]


def test_a_file_under_another_countys_name_keeps_nothing_and_loses_nothing(
    wh_path: Path, tmp_path: Path
) -> None:
    """东湖区's file saved under 青山县's name: its rows do not belong to 青山县, so none is
    kept and 青山县's month stays as it was; the same bytes under the right name then go in."""
    good = tmp_path / "good"
    good.mkdir()
    write_cases(good / "990102_青山县_2025-09.xlsx", [case_row(案件编号="Q1", 区划代码="990102")])
    ingest_paths([good], wh_path)
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    write_cases(wrong / F, [case_row(案件编号="D1"), case_row(案件编号="D2")])  # 990101 rows
    misnamed = wrong / "990102_青山县_2025-09_更正.xlsx"
    (wrong / F).rename(misnamed)
    report = ingest_paths([misnamed], wh_path)
    assert set(report.errors["code"]) == {"E_COUNTY_MISMATCH"}
    assert "990102" in report.errors["message"].iloc[0]
    assert sum(report.accepted.values()) == 0
    assert _count(wh_path, "SELECT count(*) FROM cases_current WHERE county_code = '990102'") == 1
    right = tmp_path / "right"
    right.mkdir()
    shutil.copy(misnamed, right / F)  # the very same bytes, named for 东湖区
    report = ingest_paths([right / F], wh_path)
    assert [f.status for f in report.files] == ["new"] and sum(report.accepted.values()) == 2
    assert _count(wh_path, "SELECT count(*) FROM cases_current WHERE county_code = '990101'") == 2
    assert _count(wh_path, "SELECT count(*) FROM cases_current WHERE county_code = '990102'") == 1


def test_a_blank_or_wholly_refused_file_replaces_nothing(wh_path: Path, tmp_path: Path) -> None:
    first = tmp_path / "first"
    first.mkdir()
    write_cases(first / F, [case_row(), case_row(案件编号="C2")])
    ingest_paths([first], wh_path)
    blank = tmp_path / "blank"
    blank.mkdir()
    write_cases(blank / F, [])  # the template, sent back empty
    report = ingest_paths([blank], wh_path)
    assert not report.files[0].replaced
    refused = tmp_path / "refused"
    refused.mkdir()
    write_cases(refused / F, [case_row(**{"应追回金额(元)": "x"})])
    report = ingest_paths([refused], wh_path)
    assert sum(report.accepted.values()) == 0 and not report.files[0].replaced
    assert _count(wh_path, "SELECT count(*) FROM cases_current") == 2


def test_a_file_refused_for_want_of_rosters_goes_in_once_they_arrive(tmp_path: Path) -> None:
    path = tmp_path / "wh.duckdb"
    cases = tmp_path / "cases"
    cases.mkdir()
    write_cases(cases / F, [case_row()])
    first = ingest_paths([cases], path)
    assert sum(first.accepted.values()) == 0  # no county or institution roster yet
    city = tmp_path / "city"
    city.mkdir()
    write_city(city)
    ingest_paths([city], path)
    again = ingest_paths([cases], path)  # the same bytes: checked again, not skipped
    assert [f.status for f in again.files] == ["new"] and sum(again.accepted.values()) == 1
    assert (
        _count(path, "SELECT count(*) FROM submissions WHERE file_name = ?".replace("?", f"'{F}'"))
        == 1
    )
    assert _count(path, "SELECT count(*) FROM quarantine") == 0
    # once kept, the same bytes are a duplicate again
    assert [f.status for f in ingest_paths([cases], path).files] == ["duplicate"]
