"""Loading a settlement extract: every bad cell named by file/row/column/code, nothing lost,
ID numbers never stored in clear, the salt kept outside the warehouse."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.screening_support import SALT
from workbench.screening.load import issue_rows, load_paths
from workbench.screening.salt import ENV_SALT, Salt, SaltError, resolve_salt, salt_path
from workbench.screening.tables import TABLES
from workbench.warehouse import Warehouse

ID_RE = re.compile(r"(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9])")
GOOD_ID = "11010519491231002X"  # a valid checksum
GOOD_ID_2 = "110105194912310021"  # same body, wrong check character

HEAD = (
    "setl_id,mdtrt_id,psn_no,certno,insutype,insu_admdvs,mdtrt_admdvs,fixmedins_code,med_type,"
    "begntime,endtime,setl_time,dise_codg,dise_name,drg_dip_code,mdtrt_cert_type,medfee_sumamt,"
    "fund_pay_sumamt,acct_pay,psn_cash_pay,refd_setl_flag"
)


def _row(setl: str, **kw: str) -> str:
    base = {
        "setl_id": setl,
        "mdtrt_id": "M" + setl,
        "psn_no": "P1",
        "certno": GOOD_ID,
        "insutype": "职工基本医疗保险",
        "insu_admdvs": "990101",
        "mdtrt_admdvs": "990101",
        "fixmedins_code": "H1",
        "med_type": "普通门诊",
        "begntime": "2025-06-01 08:00:00",
        "endtime": "",
        "setl_time": "2025-06-01 09:00:00",
        "dise_codg": "J06.9",
        "dise_name": "",
        "drg_dip_code": "",
        "mdtrt_cert_type": "医保电子凭证",
        "medfee_sumamt": "100.50",
        "fund_pay_sumamt": "70",
        "acct_pay": "0",
        "psn_cash_pay": "30.5",
        "refd_setl_flag": "0",
    }
    base.update(kw)
    return ",".join(base[c] for c in HEAD.split(","))


def _con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    return con


def _issues(con) -> set[tuple]:
    df = issue_rows(con)
    return {(r.file, r.row, r.column, r.code) for r in df.itertuples(index=False)}


def _checksum_ok(number: str) -> bool:
    w = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(d) * k for d, k in zip(number[:17], w)) % 11] == number[-1]


def test_fixture_ids_are_what_the_tests_assume() -> None:
    assert _checksum_ok(GOOD_ID) and not _checksum_ok(GOOD_ID_2)


def test_every_bad_cell_is_named_and_nothing_is_lost(tmp_path: Path) -> None:
    rows = [
        _row("S1"),
        _row("S2", certno=GOOD_ID_2),  # checksum
        _row("S3", certno="12345"),  # not an ID number
        _row("S4", insu_admdvs="9901"),  # not a 6-digit code
        _row("S5", med_type="急诊"),  # not in the enum
        _row("S6", begntime="昨天"),  # not a time
        _row("S7", medfee_sumamt="一百"),  # not a number
        _row("S8", med_type="住院"),  # inpatient without discharge time
        _row("S9", med_type="住院", endtime="2025-05-01 00:00:00"),  # discharge before admission
        _row("S1"),  # duplicate of row 2
        _row("", psn_no=""),  # two required cells empty
        _row("S12", refd_setl_flag="也许"),  # not a flag
        _row(
            "S13",
            med_type="21",
            endtime="2025-06-03 10:00:00",  # platform code for 住院
            begntime="20250601080000",
            medfee_sumamt='"1,234.50元"',
        ),
    ]
    (tmp_path / "s.csv").write_text(HEAD + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    con = _con()
    report = load_paths(con, [tmp_path], SALT)
    got = _issues(con)
    expect = {
        ("s.csv", 3, "certno", "E_ID_CHECKSUM"),
        ("s.csv", 4, "certno", "E_ID_FORMAT"),
        ("s.csv", 5, "insu_admdvs", "E_CODE6"),
        ("s.csv", 6, "med_type", "E_ENUM"),
        ("s.csv", 7, "begntime", "E_DATETIME"),
        ("s.csv", 8, "medfee_sumamt", "E_NOT_NUMBER"),
        ("s.csv", 9, "endtime", "E_REQUIRED_WHEN"),
        ("s.csv", 10, "endtime", "E_END_BEFORE_BEGIN"),
        ("s.csv", 11, "setl_id", "E_DUPLICATE_KEY"),
        ("s.csv", 12, "setl_id", "E_REQUIRED"),
        ("s.csv", 12, "psn_no", "E_REQUIRED"),
        ("s.csv", 13, "refd_setl_flag", "E_BOOL"),
    }
    assert got == expect
    assert (report.rows_in, report.accepted, report.quarantined) == (13, 2, 11)
    stored = con.execute("SELECT count(*) FROM scr_settlements").fetchone()[0]
    kept = con.execute("SELECT count(*) FROM scr_quarantine").fetchone()[0]
    assert stored + kept == 13
    s13 = con.execute(
        "SELECT med_type, begntime, medfee_sumamt FROM scr_settlements WHERE setl_id = 'S13'"
    ).fetchone()
    assert s13[0] == "住院" and str(s13[1]) == "2025-06-01 08:00:00" and float(s13[2]) == 1234.5
    msgs = issue_rows(con)["message"]
    assert all("文件「s.csv」第" in m and re.search(r"[\u4e00-\u9fff]", m) for m in msgs)
    assert not any(ID_RE.search(m) for m in msgs)


def test_reload_is_skipped_and_keys_in_the_warehouse_are_refused(tmp_path: Path) -> None:
    a = tmp_path / "a"
    a.mkdir()
    (a / "m1.csv").write_text(HEAD + "\n" + _row("S1") + "\n" + _row("S2") + "\n", "utf-8")
    con = _con()
    load_paths(con, [a], SALT)
    again = load_paths(con, [a], SALT)
    assert [f.status for f in again.files] == ["duplicate"]
    b = tmp_path / "b"
    b.mkdir()
    (b / "m2.csv").write_text(HEAD + "\n" + _row("S2") + "\n" + _row("S3") + "\n", "utf-8")
    report = load_paths(con, [b], SALT)
    assert (report.accepted, report.quarantined) == (1, 1)
    assert _issues(con) == {("m2.csv", 2, "setl_id", "E_KEY_EXISTS")}


def test_fee_lines_must_point_at_a_settlement_and_institutions_at_the_roster(
    tmp_path: Path,
) -> None:
    (tmp_path / "s.csv").write_text(
        HEAD + "\n" + _row("S1") + "\n" + _row("S2", fixmedins_code="H9") + "\n", "utf-8"
    )
    (tmp_path / "f.csv").write_text(
        "feedetl_sn,setl_id,fee_ocur_time,med_list_codg,list_type,cnt,pric,det_item_fee_sumamt\n"
        "F1,S1,2025-06-01,XB1,药品,2,3.5,7\n"
        "F2,S404,2025-06-01,XB1,药品,2,3.5,7\n",
        "utf-8",
    )
    con = _con()
    con.execute("CREATE TABLE institutions (institution_id VARCHAR, _live BOOLEAN)")
    con.execute("INSERT INTO institutions VALUES ('H1', true), ('H9', false)")
    load_paths(con, [tmp_path], SALT)
    assert _issues(con) == {
        ("s.csv", 3, "fixmedins_code", "E_UNKNOWN_INSTITUTION"),  # H9 is not current
        ("f.csv", 3, "setl_id", "E_UNKNOWN_SETTLEMENT"),
    }


def test_gbk_chinese_headers_and_parquet_load_alike(tmp_path: Path) -> None:
    gbk = tmp_path / "死亡人员名单.csv"
    pd.DataFrame(
        {
            "证件号码": [GOOD_ID],
            "死亡日期": ["2025年3月1日"],
            "数据来源": ["民政"],
            "比对批次日期": ["2025/06/01"],
        }
    ).to_csv(gbk, index=False, encoding="gbk")
    pq.write_table(
        pa.table(
            {
                "certno": [GOOD_ID],
                "death_date": ["2025-03-02"],
                "src": ["公安"],
                "batch_date": ["2025-06-01"],
            }
        ),
        tmp_path / "deaths.parquet",
    )
    con = _con()
    report = load_paths(con, [tmp_path], SALT)
    assert report.accepted == 2 and report.quarantined == 0
    rows = con.execute(
        "SELECT certno, certno_mask, death_date, src FROM scr_death_list ORDER BY src"
    ).fetchall()
    assert [str(r[2]) for r in rows] == ["2025-03-02", "2025-03-01"]
    assert rows[0][0] == rows[1][0] and len(rows[0][0]) == 32  # one person, one salted hash
    assert rows[0][1] == "1101**********002X"


def test_a_file_missing_a_required_column_is_refused_whole(tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text(
        HEAD.replace(",certno,", ",zhengjian,") + "\n" + _row("S1") + "\n", "utf-8"
    )
    con = _con()
    report = load_paths(con, [tmp_path], SALT)
    assert [f.status for f in report.files] == ["refused"] and not report.ok
    assert ("E_MISSING_COLUMN", "证件号码") in {(i.code, i.column) for i in report.file_issues}
    assert con.execute("SELECT count(*) FROM scr_settlements").fetchone()[0] == 0


def test_no_clear_id_number_anywhere_in_the_warehouse(loaded: Path, tmp_path: Path) -> None:
    with Warehouse(loaded, read_only=True) as wh:
        tables = [
            r[0]
            for r in wh.con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'scr_%'"
            ).fetchall()
        ]
        for table in tables:
            cols = wh.con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = ? "
                "AND data_type = 'VARCHAR'",
                [table],
            ).fetchall()
            for (col,) in cols:
                n = wh.con.execute(
                    f'SELECT count(*) FROM "{table}" WHERE regexp_matches("{col}", '
                    r"'(^|[^0-9])[1-9][0-9]{16}[0-9Xx]([^0-9]|$)')"
                ).fetchone()[0]
                assert n == 0, f"clear ID number in {table}.{col}"
    assert SALT.value.encode() not in loaded.read_bytes()


def test_salt_lives_beside_the_warehouse_owner_only_and_a_new_one_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_SALT, raising=False)
    wh = tmp_path / "wh.duckdb"
    salt = resolve_salt(wh)
    assert salt.path == salt_path(wh) and stat.S_IMODE(os.stat(salt.path).st_mode) == 0o600
    assert resolve_salt(wh).value == salt.value  # read back, not regenerated
    assert salt.value not in repr(salt)
    (tmp_path / "s.csv").write_text(HEAD + "\n" + _row("S1") + "\n", "utf-8")
    con = _con()
    load_paths(con, [tmp_path / "s.csv"], salt)
    monkeypatch.setenv(ENV_SALT, "another-salt-of-enough-length")
    other = resolve_salt(wh)
    assert other.source == "env"
    with pytest.raises(SaltError) as err:
        load_paths(con, [tmp_path], other)
    assert err.value.code == "mismatch"


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cells=st.lists(
        st.tuples(
            st.sampled_from(["100", "-3.5", "1,000.25", "abc", "", "１２"]),
            st.sampled_from(["2025-06-01", "2025/6/1 8:00", "20250601083000", "x", ""]),
            st.sampled_from(["普通门诊", "住院", "急诊", "11", ""]),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_property_every_row_is_either_stored_or_quarantined(tmp_path: Path, cells) -> None:
    import tempfile

    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    rows = [
        _row(f"S{i}", medfee_sumamt=f'"{m}"', begntime=b, med_type=t, endtime="2025-06-09 00:00:00")
        for i, (m, b, t) in enumerate(cells)
    ]
    (folder / "s.csv").write_text(HEAD + "\n" + "\n".join(rows) + "\n", "utf-8")
    con = _con()
    report = load_paths(con, [folder], SALT)
    stored = con.execute("SELECT count(*) FROM scr_settlements").fetchone()[0]
    kept = con.execute("SELECT count(*) FROM scr_quarantine").fetchone()[0]
    assert report.rows_in == len(cells) == stored + kept
    bad = {
        i
        for i, (m, b, t) in enumerate(cells)
        if m in ("abc", "", "１２") or b in ("x", "") or t in ("急诊", "")
    }
    assert kept == len(bad)


def test_tables_are_the_contract() -> None:
    # the design note's field codes, in its order (../shared/design/screening.md)
    assert TABLES["settlements"].names[:4] == ["setl_id", "mdtrt_id", "psn_no", "certno"]
    assert TABLES["fee_details"].key == ("feedetl_sn",)
    assert {c.name for c in TABLES["death_list"].columns} == {
        "certno",
        "death_date",
        "src",
        "batch_date",
    }


def test_env_salt_must_be_long_enough(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV_SALT, "short")
    with pytest.raises(SaltError):
        resolve_salt(tmp_path / "wh.duckdb")
    assert Salt("x" * 20, "env").fingerprint != Salt("y" * 20, "env").fingerprint


def test_a_file_duckdb_cannot_parse_is_refused_without_showing_an_id(tmp_path: Path) -> None:
    bad = tmp_path / "s.csv"
    bad.write_text(
        HEAD + "\n" + _row("S1") + "\n" + _row("S2", dise_name='"unclosed ' + GOOD_ID) + "\n",
        "utf-8",
    )
    (tmp_path / "ok.csv").write_text(HEAD + "\n" + _row("S9") + "\n", "utf-8")
    con = _con()
    report = load_paths(con, [tmp_path], SALT)
    statuses = {f.file: f.status for f in report.files}
    if statuses["s.csv"] == "refused":  # DuckDB refused the file: said so, masked, nothing half
        issue = next(i for i in report.file_issues if i.code == "E_FILE_UNREADABLE")
        assert not ID_RE.search(issue.message) and "s.csv" in issue.message
    else:  # or read it leniently: every row still accounted for
        assert report.rows_in == report.accepted + report.quarantined
    stored = con.execute("SELECT count(*) FROM scr_settlements").fetchone()[0]
    assert stored == report.accepted


def test_an_older_file_gains_a_new_contract_column() -> None:
    con = _con()
    con.execute("CREATE TABLE scr_death_list (certno VARCHAR, death_date DATE, _load_id VARCHAR)")
    con.execute("INSERT INTO scr_death_list VALUES ('h', DATE '2025-01-01', 'x')")
    from workbench.screening.load import ensure_schema

    ensure_schema(con)
    cols = [r[0] for r in con.execute("DESCRIBE scr_death_list").fetchall()]
    assert {"src", "batch_date", "certno_mask", "_row"} <= set(cols)
    assert con.execute("SELECT count(*), min(src) FROM scr_death_list").fetchone() == (1, None)
