"""Masking of personal data: checked against hand-written expectations."""

from __future__ import annotations

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.privacy import mask_frame, mask_id_card, mask_name


def test_id_card_keeps_region_and_last_four() -> None:
    assert mask_id_card("330402199001011234") == "3304**********1234"
    assert mask_id_card("举报人 33040219900101123X 来电") == "举报人 3304**********123X 来电"
    assert mask_id_card("AJ9901062025120010") == "AJ9901062025120010"  # case number: not an ID
    assert mask_id_card(None) is None


def test_name_keeps_surname() -> None:
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳小明") == "欧***"


def test_frame_masks_personal_columns_whatever_their_header() -> None:
    df = pd.DataFrame(
        {
            "person_id": ["330402199001011234"],
            "当事人姓名": ["李四"],
            "备注": ["身份证 110105194912310021 已核"],
            "机构名称": ["演示医院"],
        }
    )
    out = mask_frame(df)
    assert out.loc[0, "person_id"] == "3304**********1234"
    assert out.loc[0, "当事人姓名"] == "李*"
    assert "110105194912310021" not in out.loc[0, "备注"]
    assert out.loc[0, "机构名称"] == "演示医院"


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.from_regex(r"[1-9][0-9]{16}[0-9X]", fullmatch=True))
def test_no_id_survives_masking(pid: str) -> None:
    masked = mask_id_card(f"x{pid}y")
    assert pid not in masked and masked.count("*") == 10


def test_mistyped_id_numbers_are_masked() -> None:
    # from an ID-card column: whatever the form
    for raw in ("33040219800101", "3304021980010112361", "33040219800101123６", "12345"):
        masked = mask_id_card(raw, whole=True)
        assert raw not in masked and "*" in masked
    assert mask_id_card("33040219800101", whole=True) == "3304******0101"
    # inside a text: 15–19 digit runs, not case numbers glued to letters
    assert mask_id_card("号码3304021980010112361有误") == "号码3304***********2361有误"
    assert mask_id_card("旧证330402800101123") == "旧证3304*******1123"
    assert mask_id_card("AJ9901062025120010") == "AJ9901062025120010"


def test_decimal_numbers_are_never_taken_for_id_numbers() -> None:
    """Chart data in a report page goes through the same scrub: the digits of a decimal must
    survive (a starred 8.4507*******2112 blanked every chart)."""
    data = '{"y":[0.0,8.450704225352112,13.541666666666666,0.12345678901234567,-2.5e-17]}'
    assert mask_id_card(data) == data
    assert mask_id_card("身份证号330402198001011234。") == "身份证号3304**********1234。"
    assert mask_id_card("号码 330402198001011234.") == "号码 3304**********1234."


# ---------------------------------------------------------------- the SQL forms agree

_TEXT = st.text(
    alphabet=st.sampled_from(list('0123456789０１２３X张三 .-,AJ"\\\n\t\u3000')),
    min_size=0,
    max_size=30,
)


_CON: list = []


def _con():
    """One connection for all examples (a new one each costs more than the check)."""
    if not _CON:
        import duckdb

        from workbench.privacy import mask_text

        con = duckdb.connect()
        con.create_function("wb_mask_text", mask_text, ["VARCHAR"], "VARCHAR")
        _CON.append(con)
    return _CON[0]


def _sql(expr: str, value: str | None) -> object:
    sql = f"SELECT {expr} FROM (SELECT CAST(? AS VARCHAR) AS v)"
    return _con().execute(sql, [value]).fetchone()[0]


@settings(deadline=None, max_examples=300)
@given(_TEXT)
def test_sql_masks_agree_with_python(value: str) -> None:
    from workbench.privacy import sql_mask_name, sql_mask_text, sql_mask_whole

    assert _sql(sql_mask_whole("v"), value) == mask_id_card(value, whole=True)
    assert _sql(sql_mask_name("v"), value) == mask_name(value)
    assert _sql(sql_mask_text("v", "wb_mask_text"), value) == mask_id_card(value)


def test_sql_masks_by_hand() -> None:
    from workbench.privacy import sql_mask_name, sql_mask_whole

    assert _sql(sql_mask_whole("v"), " 330402199001011234 ") == "3304**********1234"
    assert _sql(sql_mask_whole("v"), "12345") == "1***5"
    assert _sql(sql_mask_name("v"), "欧阳小明") == "欧***"
    assert _sql(sql_mask_whole("v"), None) is None


@settings(deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(min_size=1, max_size=12)), min_size=4, max_size=4))
def test_refused_cells_round_trip_through_the_database(cells: list) -> None:
    """Any text a cell can hold — quotes, backslashes, control characters, any script — comes
    back from the quarantine's stored form exactly."""
    from workbench.contracts import LEDGERS
    from workbench.ingest import raw_cells, raw_cells_sql

    lg = LEDGERS["activities"]  # four fields
    con = _con()
    cols = ", ".join(f'CAST(? AS VARCHAR) AS "{f.name}"' for f in lg.fields)
    raw = con.execute(f"SELECT {raw_cells_sql(lg)} FROM (SELECT {cols}) r", cells).fetchone()[0]
    expected = {f.header: v for f, v in zip(lg.fields, cells) if v is not None}
    assert raw_cells(lg, raw) == expected
