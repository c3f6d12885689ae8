"""Rule declarations: the shipped rules are clean; a broken file is reported in full, with
file and line, and never run."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from workbench.declarations import DeclarationError
from workbench.screening.rules import (
    Window,
    check_rules,
    load_parameters,
    load_rules,
    render_sql,
    sql_literal,
)

SHIPPED = {
    "SJBD-01": ("死亡后发生结算", "person", "数据比对"),
    "SJBD-02": ("死亡未停保/个账续划", "agency", "数据比对"),
    "SJBD-03": ("服刑在押期间结算", "person", "数据比对"),
    "ZNJK-01": ("同一参保人月就诊次数≥15次", "person", "智能监控"),
    "ZNJK-02": ("单病种费用超均值20%", "institution", "智能监控"),
    "ZNJK-03": ("药品使用量异常增长", "institution", "智能监控"),
    "ZNJK-04": ("住院期间门诊/购药结算", "person", "智能监控"),
    "ZNJK-05": ("住院时间重叠", "person", "智能监控"),
    "ZNJK-06": ("短期再入院（分解住院）", "institution", "智能监控"),
    "ZNJK-07": ("进销存不符", "institution", "智能监控"),
}
# The design note's default parameters (../shared/design/screening.md)
DEFAULTS = {
    ("SJBD-01", "grace_days"): 1,
    ("SJBD-02", "lag_months"): 1,
    ("ZNJK-01", "threshold"): 15,
    ("ZNJK-01", "exempt_diagnoses"): ("N18.5", "Z49", "Z51.0", "Z51.1"),
    ("ZNJK-02", "excess"): 0.20,
    ("ZNJK-02", "min_cases"): 10,
    ("ZNJK-03", "window"): 3,
    ("ZNJK-03", "growth"): 0.5,
    ("ZNJK-03", "min_amount"): 1000,
    ("ZNJK-06", "days"): 15,
    ("ZNJK-07", "tolerance"): 0.05,
}


def test_shipped_rules_are_the_design_notes_ten_and_clean() -> None:
    assert check_rules() == []
    rs = load_rules()
    assert {c: (r.name, r.subject, r.lead_source) for c, r in rs.rules.items()} == SHIPPED
    for (code, name), value in DEFAULTS.items():
        assert rs.rules[code].parameters[name].value == value
    assert rs.rules["SJBD-03"].parameters["prison_units"].value == ()
    assert {r.list_name for r in rs.rules.values()} == {
        "",
        "死亡人员医保待遇未停及结算疑点清单",
        "服刑在押人员结算疑点清单",
    }
    # a threshold no seed gives is labelled a workbench definition
    assert rs.rules["ZNJK-03"].workbench_definition
    assert all(r.source for r in rs.rules.values())


def _write(folder: Path, text: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / "r.yaml"
    path.write_text(text, encoding="utf-8")
    return path


BROKEN = """\
kind: screening_rules
code: bad
rules:
  X-01:
    name: 坏规则
    source: 测试
    lead_source: 不存在
    subject: person
    colour: red
    parameters:
      n: {value: 3, name: 阈值}
      unused: {value: 1, name: 未用}
    sql: |
      SELECT setl_id, psn_no AS subject_key
      FROM settlements s JOIN nowhere n ON n.x = s.setl_id
      WHERE s.x > ${n} AND ${missing} = 1
  X-02:
    name: 列错
    source: 测试
    lead_source: 智能监控
    subject: person
    sql: |
      SELECT setl_id, psn_no AS subject_key, psn_no AS person_no,
             fixmedins_code AS institution_id, insu_admdvs AS county_code,
             '2025-06' AS month, no_such_col AS amount FROM settlements
  X-03:
    name: 括号
    source: 测试
    lead_source: 智能监控
    subject: person
    sql: |
      SELECT setl_id
      FROM (SELECT * FROM settlements
  x_04:
    name: 编码
    source: 测试
    lead_source: 智能监控
    subject: nobody
    sql: DELETE FROM settlements
"""


def test_every_issue_of_a_broken_file_with_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "rules", BROKEN)
    got = {(i.level, i.code, i.line) for i in check_rules([path.parent])}
    f = str(path)
    assert all(i.file == f for i in check_rules([path.parent]))
    assert got == {
        ("warning", "W_UNKNOWN_KEY", 9),
        ("error", "E_RULE_ENUM", 7),  # lead_source
        ("error", "E_UNKNOWN_PARAMETER", 13),
        ("warning", "W_UNUSED_PARAMETER", 12),
        ("error", "E_SQL_UNKNOWN_TABLE", 13),
        ("error", "E_SQL_OUTPUT", 13),
        ("error", "E_SQL_INVALID", 22),  # no_such_col, found by the dry run
        ("error", "E_SQL_SYNTAX", 33),  # the unclosed bracket, on its own line of the file
        ("error", "E_RULE_CODE", 34),
        ("error", "E_RULE_ENUM", 38),  # subject
        ("error", "E_SQL_NOT_QUERY", 39),
    }
    with pytest.raises(DeclarationError) as err:
        load_rules([path.parent])
    assert "E_SQL_INVALID" in str(err.value) and "第 22 行" in str(err.value)


def test_yaml_errors_are_issues_not_crashes(tmp_path: Path) -> None:
    path = _write(tmp_path / "r", "kind: screening_rules\nrules:\n  A-1: [unclosed\n")
    assert {i.code for i in check_rules([path.parent])} == {"E_YAML_SYNTAX"}
    path = _write(tmp_path / "t", "kind: screening_rules\nrules: !!python/object:os.system {}\n")
    assert "E_YAML_TAG" in {i.code for i in check_rules([path.parent])}


def test_a_bureau_adds_a_rule_without_python(tmp_path: Path) -> None:
    shipped = Path(__file__).resolve().parents[1] / "screening" / "rules"
    extra = _write(
        tmp_path / "province",
        """\
kind: screening_rules
code: province
rules:
  SHENG-01:
    name: 单次结算金额过高
    source: 省规则库
    lead_source: 智能监控
    subject: person
    parameters:
      limit: {value: 50000, name: 金额上限, unit: 元}
    sql: |
      SELECT setl_id, psn_no AS subject_key, psn_no AS person_no,
             fixmedins_code AS institution_id, insu_admdvs AS county_code,
             strftime(setl_time, '%Y-%m') AS month, fund_pay_sumamt AS amount
      FROM settlements
      WHERE fund_pay_sumamt > ${limit}
        AND setl_time >= ${from_date} AND setl_time < ${to_date}
""",
    )
    rs = load_rules([shipped, extra.parent])
    assert "SHENG-01" in rs.rules and len(rs.rules) == 11
    sql = rs.rules["SHENG-01"].render(Window("2025-06", "2025-07"))
    assert "> 50000" in sql and "DATE '2025-06-01'" in sql and "DATE '2025-08-01'" in sql


def test_parameter_values_render_as_literals_both_engines_read() -> None:
    assert sql_literal(0.2) == "0.2" and sql_literal(True) == "TRUE"
    assert sql_literal("O'Brien") == "'O''Brien'"
    assert sql_literal(dt.date(2025, 6, 1)) == "DATE '2025-06-01'"
    assert sql_literal(("a", "b")) == "(SELECT value FROM (VALUES ('a'), ('b')) AS v(value))"
    assert "WHERE value IS NOT NULL" in sql_literal(())
    assert render_sql("x > ${n}", {"n": 3}) == "x > 3"


def test_window_knows_its_months() -> None:
    w = Window("2025-11", "2026-02")
    assert w.months == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert (w.from_date, w.to_date) == (dt.date(2025, 11, 1), dt.date(2026, 3, 1))


def test_local_parameter_file_is_checked_against_the_rules(tmp_path: Path) -> None:
    rs = load_rules()
    good = tmp_path / "p.yaml"
    good.write_text(
        "kind: screening_parameters\nparameters:\n  SJBD-03:\n    prison_units: [H1, H2]\n"
        "  ZNJK-01:\n    threshold: 20\n",
        encoding="utf-8",
    )
    assert load_parameters(good, rs) == {
        "SJBD-03": {"prison_units": ("H1", "H2")},
        "ZNJK-01": {"threshold": 20},
    }
    bad = tmp_path / "q.yaml"
    bad.write_text(
        "kind: screening_parameters\nparameters:\n  NOPE-1:\n    x: 1\n"
        "  ZNJK-01:\n    threshold: many\n    colour: 3\n",
        encoding="utf-8",
    )
    with pytest.raises(DeclarationError) as err:
        load_parameters(bad, rs)
    assert {(i.code, i.line) for i in err.value.issues} == {
        ("E_PARAMS_RULE", 3),
        ("E_PARAMS_TYPE", 6),
        ("E_PARAMS_NAME", 7),
    }
    ov = load_parameters(good, rs)
    assert rs.rules["ZNJK-01"].params_hash(ov["ZNJK-01"]) != rs.rules["ZNJK-01"].params_hash()


# the seeds' titles as indicators/sources.yaml catalogues them (002 has no issuer or number)
PLAN_002 = "《2025年开展打击欺诈骗保专项整治行动工作方案》"
PLAN_001 = (
    "华容县人民政府办公室《华容县开展打击欺诈骗保套保挪用贪占医保基金集中整治实施方案》"
    "（华政办函〔2021〕18号）"
)


def test_rule_sources_cite_documents_by_title() -> None:
    """A rule's `source:` reads as the documents' titles, led by what each is to a bureau
    configured nowhere (a county's plan: 参照); 工作口径 stays as written."""
    from workbench.screening.rules import rule_sources, source_line

    rs = load_rules()
    cited = rule_sources(rs)
    assert set(cited) == set(SHIPPED)
    assert cited["SJBD-01"] == f"依据{PLAN_002}三（一）；参照{PLAN_001}二（六）"
    assert cited["ZNJK-01"] == f"依据{PLAN_002}三（一）"
    assert cited["ZNJK-05"] == "工作口径"
    assert cited["ZNJK-07"] == f"依据{PLAN_002}二（一）1（容差为工作口径）"
    assert not any(re.search(r"(^|；)00\d", v) for v in cited.values())
    line = source_line("ZNJK-05", "住院时间重叠", cited["ZNJK-05"])
    assert line == "ZNJK-05 住院时间重叠：工作口径"
    # a catalogue given by the caller is the one used
    docs = {"002": type("D", (), {"title": "某方案", "issuer": "", "number": ""})()}
    assert rule_sources(rs, docs)["ZNJK-01"] == "依据《某方案》三（一）"


def test_a_rule_citing_an_uncatalogued_code_is_warned_with_its_line(tmp_path: Path) -> None:
    """The shipped catalogue lists 000–004: 「007 二（一）」 is reported where it is written (a
    warning: the rule still loads and runs, its source printed as written)."""
    path = _write(
        tmp_path / "rules",
        """\
kind: screening_rules
code: province
rules:
  SHENG-01:
    name: 单次结算金额过高
    source: "002 三（一）；007 二（一）"
    lead_source: 智能监控
    subject: person
    parameters:
      limit: {value: 50000, name: 金额上限, unit: 元, source: "工作台定义（008 一）"}
    sql: |
      SELECT setl_id, psn_no AS subject_key, psn_no AS person_no,
             fixmedins_code AS institution_id, insu_admdvs AS county_code,
             strftime(setl_time, '%Y-%m') AS month, fund_pay_sumamt AS amount
      FROM settlements
      WHERE fund_pay_sumamt > ${limit}
        AND setl_time >= ${from_date} AND setl_time < ${to_date}
""",
    )
    got = [(i.level, i.code, i.file, i.line) for i in check_rules([path.parent])]
    assert got == [
        ("warning", "W_UNKNOWN_SOURCE_CODE", str(path), 6),
        ("warning", "W_UNKNOWN_SOURCE_CODE", str(path), 10),
    ]
    assert "SHENG-01" in load_rules([path.parent]).rules
