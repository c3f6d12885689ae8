"""Declarations: the shipped YAML is complete and valid; broken files are reported with stable
codes, file and line, all issues in one pass; nothing in a declaration is ever executed."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from workbench.declarations import (
    DeclarationError,
    available_sets,
    eval_expr,
    load_set,
    load_sets,
    parse_expr,
    validate,
)

FIXTURES = Path(__file__).parent / "fixtures" / "indicators"
ROOT = Path(__file__).resolve().parent.parent

# indicators.md §A: every campaign KPI
SECTION_A = (
    "case_detection_rate",
    "fund_recovery_rate",
    "violation_recovery_rate",
    "case_count_yoy",
    "repeat_gang_share_change",
    "rectification_completion",
    "inspection_coverage",
    "record_sampling_rate",
    "lead_check_completion",
    "police_referral_rate",
    "key_monitored_quarterly",
    "complaint_handling_rate",
    "monthly_exposure",
    "report_reward",
)


def codes(issues) -> list[tuple[str, int | None]]:
    return [(i.code, i.line) for i in issues]


# --------------------------------------------------------------------------- shipped files


def test_shipped_declarations_have_no_issues() -> None:
    assert validate() == []
    assert {"campaign_2025", "no_fraud_city"} <= set(available_sets())


def test_campaign_set_has_every_section_a_kpi_with_target_and_source() -> None:
    s = load_set("campaign_2025")
    assert set(SECTION_A) <= set(s.indicators)
    for code in SECTION_A:
        ind = s.indicators[code]
        assert ind.name and ind.description, code
        if code == "report_reward":
            assert ind.target is None  # §A: no target ("—")
            continue
        assert ind.target is not None and ind.target.source, code
        assert ind.target.source.startswith(("002", "004", "000")), code
    # targets as in indicators.md §A
    t = {c: s.indicators[c].target for c in SECTION_A if s.indicators[c].target}
    assert (t["fund_recovery_rate"].op, t["fund_recovery_rate"].value) == (">=", 0.90)
    assert t["violation_recovery_rate"].value == 0.95
    assert str(t["violation_recovery_rate"].deadline) == "2025-11-30"
    assert (t["case_count_yoy"].op, t["case_count_yoy"].value) == ("<=", -0.30)
    assert t["repeat_gang_share_change"].value == -0.15
    assert t["rectification_completion"].value == 1.0
    assert t["inspection_coverage"].value == 0.30
    assert t["record_sampling_rate"].value == 0.05
    rel = t["case_detection_rate"]
    assert rel.is_relative and rel.relative == 0.20 and rel.baseline.key == "year:2024"
    assert s.indicators["key_monitored_quarterly"].span == "quarter"
    # parameters live in YAML
    assert s.param("police_referral_threshold") == 5000
    assert (s.param("reward_rate"), s.param("reward_cap")) == (0.02, 100000)
    # the workbench's own formulas are flagged; the one 002 spells out is not
    assert s.indicators["case_detection_rate"].workbench_definition
    assert not s.indicators["record_sampling_rate"].workbench_definition


def test_calendar_phases_and_milestones() -> None:
    cal = load_set("campaign_2025").calendar
    assert cal is not None
    assert [(p.name, str(p.start), str(p.end)) for p in cal.phases] == [
        ("动员部署", "2025-03-01", "2025-03-31"),
        ("自查自纠", "2025-04-01", "2025-05-31"),
        ("交叉检查", "2025-06-01", "2025-08-31"),
        ("重点抽查", "2025-09-01", "2025-10-31"),
        ("总结提升", "2025-11-01", "2025-12-31"),
    ]
    ms = {m.code: m for m in cal.milestones}
    # milestones without op/value/deadline take them from the indicator's target
    assert (ms["rectification_100"].value, str(ms["rectification_100"].deadline)) == (
        1.0,
        "2025-11-30",
    )
    assert (ms["data_sharing_12"].value, str(ms["data_sharing_12"].deadline)) == (
        12.0,
        "2025-06-30",
    )
    assert ms["violation_recovery_95"].value == 0.95


def test_no_fraud_city_has_two_hierarchies_over_shared_indicators() -> None:
    s = load_set("no_fraud_city")
    assert set(s.hierarchies) == {"by_subject", "by_pillar"}
    subj, pill = s.hierarchies["by_subject"], s.hierarchies["by_pillar"]
    dims = lambda h: [n.name for n in h.nodes if n.level == 2]  # noqa: E731
    assert dims(subj) == ["定点医药机构", "参保个人", "用人单位", "经办机构"]
    assert dims(pill) == ["依法严管", "智能协管", "部门联管", "行业自管", "社会督管", "信用促管"]
    assert subj.weights == pill.weights == "equal"
    assert set(subj.indicators) & set(pill.indicators)  # shared indicators
    # the campaign's definitions are included, not copied
    assert "inspection_coverage" in s.indicators and "police_referral_rate" in s.indicators


def test_objects_are_frozen() -> None:
    s = load_set("campaign_2025")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.indicators["fund_recovery_rate"].name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.indicators["x"] = None  # type: ignore[index]


# --------------------------------------------------------------------------- broken files


@pytest.mark.parametrize(
    "fixture, expected",
    [
        ("bad_indent.yaml", [("E_YAML_SYNTAX", 9)]),
        ("unknown_ledger.yaml", [("E_UNKNOWN_LEDGER", 8)]),
        ("unknown_field.yaml", [("E_UNKNOWN_FIELD", 12), ("E_VALUE_NOT_IN_ENUM", 13)]),
        ("ratio_no_denominator.yaml", [("E_NO_DENOMINATOR", 12)]),
        ("derived_cycle.yaml", [("E_CYCLE", 16)]),
        ("weights_missing.yaml", [("E_WEIGHT_MISSING", 28)]),
    ],
)
def test_broken_fixture_reported_with_code_and_line(fixture, expected) -> None:
    path = FIXTURES / fixture
    with pytest.raises(DeclarationError) as err:
        load_set(path)
    got = codes(err.value.issues)
    assert sorted(got) == sorted(expected)
    assert all(i.file.endswith(fixture) for i in err.value.issues)
    assert all(i.message and i.level == "error" for i in err.value.issues)


def test_every_issue_collected_in_one_pass() -> None:
    with pytest.raises(DeclarationError) as err:
        load_set(FIXTURES / "many_errors.yaml")
    got = set(codes(err.value.issues))
    assert got == {
        ("E_BAD_AGG", 14),
        ("E_UNKNOWN_PARAMETER", 19),
        ("E_BAD_EXPR", 23),
        ("E_UNKNOWN_MEASURE", 28),
        ("E_BAD_TARGET_OP", 33),
        ("W_UNKNOWN_KEY", 34),
    }
    levels = {i.code: i.level for i in err.value.issues}
    assert levels["W_UNKNOWN_KEY"] == "warning"
    assert all(i.fix for i in err.value.issues if i.level == "error")


def test_include_cycle() -> None:
    with pytest.raises(DeclarationError) as err:
        load_set("fixture_include_a", [FIXTURES])
    (issue,) = err.value.issues
    assert (issue.code, issue.line) == ("E_INCLUDE_CYCLE", 5)
    assert issue.file.endswith("include_cycle_b.yaml")


def test_validate_whole_fixture_folder_reports_each_file() -> None:
    issues = validate(dirs=[FIXTURES])
    files = {Path(i.file).name for i in issues if i.level == "error"}
    assert {
        "bad_indent.yaml",
        "unknown_ledger.yaml",
        "unknown_field.yaml",
        "ratio_no_denominator.yaml",
        "derived_cycle.yaml",
        "weights_missing.yaml",
        "many_errors.yaml",
        "include_cycle_b.yaml",
    } <= files


def test_several_sets_read_each_file_once(monkeypatch) -> None:
    """`load_sets` gives what `load_set` gives for each, parsing every file of the folder
    once (the second set includes the first and shares its calendar)."""
    import workbench.declarations.loader as decl

    names = ["campaign_2025", "no_fraud_city"]
    one_by_one = [load_set(n) for n in names]
    parsed: list[str] = []
    real = decl.parse_yaml
    monkeypatch.setattr(
        decl,
        "parse_yaml",
        lambda text, file, issues: parsed.append(file) or real(text, file, issues),
    )
    together = load_sets(names)
    assert together == one_by_one
    assert sorted(Path(f).name for f in parsed) == sorted(
        p.name for p in (ROOT / "indicators").glob("*.yaml")
    )
    # A broken set is still reported with its own file and line when loaded with others.
    with pytest.raises(DeclarationError) as err:
        load_sets(["fixture_include_a", "campaign_2025"], [FIXTURES, ROOT / "indicators"])
    assert [(i.code, i.line) for i in err.value.issues] == [("E_INCLUDE_CYCLE", 5)]


def test_unknown_set_lists_the_known_ones() -> None:
    with pytest.raises(DeclarationError) as err:
        load_set("no_such_set")
    assert [i.code for i in err.value.issues] == ["E_UNKNOWN_SET"]


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "x.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_duplicate_key_and_empty_file(tmp_path: Path) -> None:
    p = _write(tmp_path, "kind: indicator_set\ncode: dup\nname: a\nname: b\n")
    with pytest.raises(DeclarationError) as err:
        load_set(p, [tmp_path])
    assert codes(err.value.issues) == [("E_DUPLICATE_KEY", 4)]
    p.write_text("", encoding="utf-8")
    with pytest.raises(DeclarationError) as err:
        load_set(p, [tmp_path])
    assert [i.code for i in err.value.issues] == ["E_FILE_EMPTY"]


def test_yaml_tags_are_not_executed(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "kind: indicator_set\ncode: evil\nname: !!python/object/apply:os.system ['echo pwned']\n",
    )
    with pytest.raises(DeclarationError) as err:
        load_set(p, [tmp_path])
    assert codes(err.value.issues) == [("E_YAML_TAG", 3)]


def test_change_of_unknown_indicator_and_milestone_incomplete(tmp_path: Path) -> None:
    (tmp_path / "cal.yaml").write_text(
        "kind: calendar\ncode: cal_t\ncampaign: {start: 2025-03-01, end: 2025-12-31}\n"
        "milestones:\n  - {code: m1, indicator: leads}\n",
        encoding="utf-8",
    )
    p = _write(
        tmp_path,
        "kind: indicator_set\ncode: t\nname: t\ncalendar: cal_t\n"
        "measures:\n  n:\n    ledger: leads\n    agg: count\n"
        "indicators:\n  leads:\n    type: count\n    name: 线索\n    numerator: n\n"
        "  growth:\n    type: change\n    name: 增长\n    of: leadz\n"
        "    baseline: previous_year\n",
    )
    with pytest.raises(DeclarationError) as err:
        load_set(p, [tmp_path])
    got = {(i.code, Path(i.file).name, i.line) for i in err.value.issues}
    # line 17: `of: leadz`; the milestone (cal.yaml line 5) has no op/value/deadline and
    # `leads` has no target to take them from
    assert got == {("E_UNKNOWN_INDICATOR", "x.yaml", 17), ("E_MILESTONE_INCOMPLETE", "cal.yaml", 5)}


def test_milestone_span_may_name_a_phase_of_its_calendar(tmp_path: Path) -> None:
    cal = (
        "kind: calendar\ncode: cal_t\ncampaign: {start: 2025-03-01, end: 2025-12-31}\n"
        "phases:\n  - {code: p1, name: 阶段一, start: 2025-06-01, end: 2025-08-31}\n"
        "milestones:\n"
        "  - {code: m1, indicator: leads, op: '>=', value: 1, deadline: 2025-08-31, "
        "span: phase:p1}\n"
        "  - {code: m2, indicator: leads, op: '>=', value: 1, deadline: 2025-08-31, "
        "span: phase:p2}\n"
    )
    (tmp_path / "cal.yaml").write_text(cal, encoding="utf-8")
    p = _write(
        tmp_path,
        "kind: indicator_set\ncode: t\nname: t\ncalendar: cal_t\n"
        "measures:\n  n:\n    ledger: leads\n    agg: count\n"
        "indicators:\n  leads:\n    type: count\n    name: 线索\n    numerator: n\n",
    )
    with pytest.raises(DeclarationError) as err:
        load_set(p, [tmp_path])
    (issue,) = err.value.issues  # only m2: p2 is no phase of this calendar
    assert (issue.code, Path(issue.file).name, issue.line) == ("E_BAD_SPAN", "cal.yaml", 8)
    assert "phase:p2" in issue.message and "phase:p1（阶段一阶段）" in issue.fix


def test_city_distinct_only_for_dated_distinct_counts(tmp_path: Path) -> None:
    """A dated distinct count's city figure counts each value once by default (`distinct`);
    `city: sum` may ask for the counties' sum; `distinct` on a plain count is refused."""
    p = _write(
        tmp_path,
        "kind: indicator_set\ncode: t\nname: t\n"
        "measures:\n"
        "  seen:\n    ledger: inspections\n    agg: distinct_count\n"
        "    field: institution_id\n"
        "  seen_sum:\n    ledger: inspections\n    agg: distinct_count\n"
        "    field: institution_id\n    city: sum\n"
        "  n:\n    ledger: inspections\n    agg: count\n    city: distinct\n"
        "indicators:\n  c:\n    type: count\n    name: 检查\n    numerator: seen\n",
    )
    with pytest.raises(DeclarationError) as err:
        load_set(p, [tmp_path])
    assert [(i.code, i.line) for i in err.value.issues] == [("E_BAD_ROLLUP", 17)]  # city:
    p.write_text(
        p.read_text(encoding="utf-8").replace("    city: distinct\n", ""), encoding="utf-8"
    )
    got = load_set(p, [tmp_path]).measures
    assert (got["seen"].city, got["seen_sum"].city, got["n"].city) == ("distinct", "sum", "sum")


def test_done_by_needs_a_dated_count_or_sum_and_a_date_field(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "kind: indicator_set\ncode: t\nname: t\n"
        "measures:\n"
        "  ok:\n    ledger: rectifications\n    agg: count\n    date: deadline\n"
        "    done_by: closed_date\n"
        "  not_date:\n    ledger: rectifications\n    agg: count\n"
        "    done_by: status\n"
        "  distinct:\n    ledger: inspections\n    agg: distinct_count\n"
        "    field: institution_id\n    done_by: inspection_date\n"
        "  unknown:\n    ledger: complaints\n    agg: count\n    done_by: closed_at\n"
        "indicators:\n  c:\n    type: count\n    name: 整改\n    numerator: ok\n",
    )
    with pytest.raises(DeclarationError) as err:
        load_set(p, [tmp_path])
    assert sorted((i.code, i.line) for i in err.value.issues) == [
        ("E_DONE_BY", 18),
        ("E_DONE_BY_FIELD", 13),
        ("E_UNKNOWN_FIELD", 22),
    ]  # done_by: lines


def test_within_days_and_not_done_by_are_checked(tmp_path: Path) -> None:
    """`within_days` names a second date field and a whole number of days (a parameter may give
    it); `not_done_by` mirrors `done_by` and may not stand beside it."""
    p = _write(
        tmp_path,
        "kind: indicator_set\ncode: t\nname: t\n"
        "parameters:\n  days: {value: 15}\n"
        "measures:\n"
        "  ok:\n    ledger: leads\n    agg: count\n    date: due_date\n"
        "    where:\n      - {field: checked_date, op: within_days, value: [due_date, $days]}\n"
        "  open:\n    ledger: cases\n    agg: count\n    date: due_date\n"
        "    not_done_by: closed_date\n"
        "  text_field:\n    ledger: leads\n    agg: count\n"
        "    where:\n      - {field: checked_date, op: within_days, value: [lead_id, 0]}\n"
        "  negative:\n    ledger: leads\n    agg: count\n"
        "    where:\n      - {field: checked_date, op: within_days, value: [due_date, -1]}\n"
        "  one_value:\n    ledger: leads\n    agg: count\n"
        "    where:\n      - {field: checked_date, op: within_days, value: due_date}\n"
        "  both:\n    ledger: cases\n    agg: count\n    date: due_date\n"
        "    done_by: closed_date\n    not_done_by: closed_date\n"
        "indicators:\n  c:\n    type: count\n    name: 按期\n    numerator: ok\n"
        "  o:\n    type: count\n    name: 超期\n    numerator: open\n",
    )
    with pytest.raises(DeclarationError) as err:
        load_set(p, [tmp_path])
    assert sorted((i.code, i.line) for i in err.value.issues) == [
        ("E_DONE_BY", 38),  # not_done_by beside done_by
        ("E_WITHIN_DAYS", 22),  # lead_id is text
        ("E_WITHIN_DAYS", 27),  # −1 days
        ("E_WITHIN_DAYS", 32),  # no [field, days] pair
    ]
    text = p.read_text(encoding="utf-8")
    p.write_text(text[: text.index("  text_field:")] + text[text.index("indicators:") :])
    got = load_set(p, [tmp_path]).measures
    assert got["ok"].where[0].value == ("due_date", 15)  # the parameter, in days
    assert got["open"].not_done and got["open"].done_by == "closed_date"
    assert not got["ok"].not_done


def test_date_offset_days_and_to_date_are_checked(tmp_path: Path) -> None:
    """`date_offset_days` shifts a day date of a dated count or sum by 0–366 days; `span:
    to_date` is an indicator's own span on monthly data, not a set's default."""
    p = _write(
        tmp_path,
        "kind: indicator_set\ncode: t\nname: t\n"
        "measures:\n"
        "  overdue:\n    ledger: cases\n    agg: count\n    date: due_date\n"
        "    date_offset_days: 1\n    not_done_by: closed_date\n"
        "  month_field:\n    ledger: leads\n    agg: count\n    date: data_period\n"
        "    date_offset_days: 1\n"
        "  no_date:\n    ledger: institutions\n    agg: count\n    date_offset_days: 1\n"
        "  too_far:\n    ledger: cases\n    agg: count\n    date: due_date\n"
        "    date_offset_days: 400\n"
        "indicators:\n  o:\n    type: count\n    name: 超期\n    numerator: overdue\n"
        "    span: to_date\n",
    )
    with pytest.raises(DeclarationError) as err:
        load_set(p, [tmp_path])
    assert sorted((i.code, i.line) for i in err.value.issues) == [
        ("E_DATE_OFFSET", 15),  # data_period is a month, not a day
        ("E_DATE_OFFSET", 19),  # no date
        ("E_OUT_OF_RANGE", 24),  # 400 days
    ]
    text = p.read_text(encoding="utf-8")
    p.write_text(text[: text.index("  month_field:")] + text[text.index("indicators:") :])
    got = load_set(p, [tmp_path])
    m = got.measures["overdue"]
    assert (m.date_offset_days, m.dating, m.not_done) == (1, "due_date+1d", True)
    assert got.indicators["o"].span == "to_date"
    p.write_text(
        p.read_text(encoding="utf-8").replace("name: t\n", "name: t\ndefault_span: to_date\n", 1)
    )
    with pytest.raises(DeclarationError) as err:
        load_set(p, [tmp_path])
    assert [i.code for i in err.value.issues] == ["E_SPAN_FREQUENCY"]


# --------------------------------------------------------------------------- expressions


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "a.b",
        "a[0]",
        "lambda: 1",
        "a if b else c",
        "open('f')",
        "a ** 2",
        "min(a, key=b)",
        "'text'",
    ],
)
def test_expression_rejects_anything_but_arithmetic(text: str) -> None:
    with pytest.raises(ValueError):
        parse_expr(text)


def test_expression_arithmetic_divides_safely() -> None:
    e = parse_expr("max(a - b, 0) / c + -1")
    assert e.names == frozenset({"a", "b", "c"})
    out = eval_expr(
        e,
        {
            "a": np.array([5.0, 1.0, 3.0]),
            "b": np.array([1.0, 2.0, 1.0]),
            "c": np.array([2.0, 4.0, 0.0]),
        },
    )
    # (5 − 1) / 2 − 1 = 1; max(−1, 0) / 4 − 1 = −1; anything / 0 → missing
    assert out[0] == 1.0 and out[1] == -1.0 and np.isnan(out[2])


def test_percent_text_and_parameters_in_targets(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "kind: indicator_set\ncode: pct\nname: p\n"
        "parameters:\n  goal: {value: 0.8}\n"
        "measures:\n  n:\n    ledger: leads\n    agg: count\n"
        "indicators:\n  a:\n    type: ratio\n    name: a\n    numerator: n\n"
        "    denominator: n\n    target: {op: '>=', value: 95%}\n"
        "  b:\n    type: ratio\n    name: b\n    numerator: n\n"
        "    denominator: n\n    target: {op: '>=', value: $goal}\n",
    )
    s = load_set(p, [tmp_path])
    assert s.indicators["a"].target.value == pytest.approx(0.95)
    assert s.indicators["b"].target.value == 0.8


def test_docs_describe_the_schema() -> None:
    doc = (ROOT / "docs" / "indicators.md").read_text(encoding="utf-8")
    for word in (
        "kind: indicator_set",
        "measures:",
        "indicators:",
        "hierarchies:",
        "calendar",
        "workbench compute --check",
        "where:",
        "target:",
    ):
        assert word in doc, word


def test_what_users_read_carries_no_identifiers() -> None:
    """Names and descriptions appear in cockpit tooltips and reports: no parameter or measure
    codes (police_referral_threshold…) in them."""
    import re

    for name in ("campaign_2025", "no_fraud_city"):
        iset = load_set(name)
        codes = set(iset.parameters) | set(iset.measures) | set(iset.indicators)
        for ind in iset.indicators.values():
            words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]+", f"{ind.name} {ind.description}"))
            assert not words & codes, (ind.code, words & codes)


# --------------------------------------------------------------------------- display keys


@pytest.mark.parametrize(
    "unit, type_, expected",
    [
        ("%", "ratio", 1),  # 87.3%
        ("%", "change", 1),
        ("件/万人", "ratio", 2),  # a rate per something, often below 1: 0.46件/万人
        ("元/万元", "ratio", 2),
        ("件", "count", 0),  # counted things are whole: 12件
        ("次", "count", 0),
        ("个", "count", 0),
        ("", "count", 0),  # a count without a unit is still a count
        ("元", "ratio", 1),  # money in 万元/亿元: 1,234.5万元
        ("万元", "count", 1),
        ("score", "derived", 1),  # 76.3分
        ("", "derived", 2),
    ],
)
def test_default_decimals_rule(unit: str, type_: str, expected: int) -> None:
    from workbench import fmt
    from workbench.declarations import default_decimals

    assert default_decimals(unit, type_) == expected
    # one rule: what the formatter writes for a number in this unit without a declaration
    if type_ != "count" or unit:
        assert default_decimals(unit, type_) == fmt.default_decimals(unit)


def test_shipped_indicators_have_decimals_and_card_titles() -> None:
    from workbench.declarations.vocabulary import SHORT_NAME_MAX

    camp, nfc = load_sets(["campaign_2025", "no_fraud_city"])
    for iset in (camp, nfc):
        for ind in iset.indicators.values():
            assert 0 <= ind.decimals <= 6, ind.code
            assert ind.short_name and len(ind.short_name) <= SHORT_NAME_MAX, ind.code
    # defaults from the unit and type; a declared value wins
    assert camp.indicators["fund_recovery_rate"].decimals == 1  # %
    assert camp.indicators["case_count"].decimals == 0  # 件, count
    assert nfc.indicators["insured_case_rate"].decimals == 2  # declared: values near 1
    assert nfc.indicators["institution_case_rate"].decimals == 2  # 件/百家, not declared
    # the short name defaults to the name
    assert camp.indicators["case_detection_rate"].short_name == "案件查处率"
    assert camp.indicators["case_count_yoy"].short_name == "案件数量同比"
    assert camp.indicators["case_count_yoy"].name == "欺诈骗保案件数量同比"


def test_presentation_says_what_the_cockpit_hard_coded() -> None:
    """The shipped sets declare what dashboard.py decided in code before (its FUNNEL_SOURCES,
    RECOVERY_SOURCE, RECTIFICATION_SOURCE, `no_fraud_city` sorted last, indices ordered by the
    substrings subject/pillar), and cards grouped as 002's 两升两降一规范."""
    from workbench.declarations import indices_in_order, sets_in_order

    sets = load_sets(["no_fraud_city", "campaign_2025"])
    camp, nfc = sets[1], sets[0]
    for iset in (camp, nfc):
        p = iset.presentation
        assert [(f.stage, f.indicator, f.part) for f in p.funnel] == [
            ("leads", "case_detection_rate", "denominator"),
            ("filed", "case_count", "numerator"),
            ("closed", "case_detection_rate", "numerator"),
            ("rectified", "rectification_completion", "numerator"),  # linked to the cases
        ]
        assert [f.label for f in p.funnel] == ["线索", "立案", "结案", "整改"]
        assert (p.recovery, p.rectification) == ("fund_recovery_rate", "rectification_completion")
        # every card the cockpit showed (the set's own indicators, in file order), once
        own = [c for c, i in iset.indicators.items() if Path(i.file).stem == iset.code]
        assert [c for g in p.card_groups for c in g.indicators] == own
    groups = {g.name: g.indicators for g in camp.presentation.card_groups}
    assert list(groups) == ["两升", "两降", "一规范"]
    # 002 一、工作目标: 两升 = 案件查处率, 基金追回率; 两降 = 案件数量同比, 重复团伙作案占比
    assert {"case_detection_rate", "fund_recovery_rate"} <= set(groups["两升"])
    assert {"case_count_yoy", "repeat_gang_share_change"} <= set(groups["两降"])
    assert [s.code for s in sets_in_order(sets)] == ["campaign_2025", "no_fraud_city"]
    assert indices_in_order(sets) == [
        ("no_fraud_city", "by_subject"),
        ("no_fraud_city", "by_pillar"),
        ("campaign_2025", "campaign_progress"),
    ]
    assert camp.presentation.default_index == "campaign_progress"
    assert nfc.indices()[0] == "by_subject"


PRESENTATION_BASE = """\
kind: indicator_set
code: t
name: t
measures:
  n: {ledger: leads, agg: count}
  d: {ledger: complaints, agg: count}
indicators:
  leads:
    type: count
    name: 线索
    numerator: n
  rate:
    type: ratio
    name: 比率
    numerator: n
    denominator: d
hierarchies:
  idx:
    name: 指数
    tree:
      - code: all
        name: 全部
        children: [{indicator: leads}, {indicator: rate}]
"""


def test_a_set_without_presentation_gets_the_defaults(tmp_path: Path) -> None:
    s = load_set(_write(tmp_path, PRESENTATION_BASE), [tmp_path])
    p = s.presentation
    assert (p.order, p.index_rank, p.default_index, p.card_groups, p.funnel) == (0, 0, None, (), ())
    assert (p.recovery, p.rectification) == (None, None)
    assert s.indices() == ["idx"]
    assert s.indicators["rate"].short_name == "比率"


def test_presentation_problems_reported_with_line(tmp_path: Path) -> None:
    more_indicators = (
        "  leads2:\n"  # line 17
        "    type: count\n"
        "    name: 线索二\n"
        "    numerator: n\n"
        "    decimals: two\n"  # 21
        "  rate2:\n"
        "    type: ratio\n"
        "    name: 比率二\n"
        "    numerator: n\n"
        "    denominator: d\n"
        "    decimals: 7\n"  # 27
        "hierarchies:\n"
    )
    shape_problems = (
        "presentation:\n"  # line 35
        "  order: first\n"  # 36
        "  colour: red\n"  # 37
        "  funnel:\n"
        "    - {stage: b, label: 乙, indicator: rate, part: whole}\n"  # 39
        "    - {stage: c, label: 丙, indicator: rate, part: numerator, colour: red}\n"  # 40
        "    - {stage: d, indicator: rate, part: numerator}\n"  # 41: no label
        "  rectification: {indicator: rate, label: 整改}\n"  # 42
        "  card_groups: {name: 一组}\n"  # 43: not a list
    )
    text = PRESENTATION_BASE.replace("hierarchies:\n", more_indicators, 1) + shape_problems
    p = _write(tmp_path, text)
    lines = text.splitlines()
    assert (lines[16], lines[34], lines[42][:13]) == ("  leads2:", "presentation:", "  card_groups")
    with pytest.raises(DeclarationError) as err:
        load_set(p, [tmp_path])
    got = sorted((i.code, i.line) for i in err.value.issues)
    assert got == sorted(
        [
            ("E_TYPE", 21),  # decimals: two
            ("E_OUT_OF_RANGE", 27),  # decimals: 7
            ("E_TYPE", 36),  # order: first
            ("E_UNKNOWN_KEY", 37),  # colour: is refused, not only warned about
            ("E_BAD_PART", 39),
            ("E_UNKNOWN_KEY", 40),  # colour: inside a stage
            ("E_MISSING_KEY", 41),  # label
            ("E_UNKNOWN_KEY", 42),  # label: under rectification
            ("E_TYPE", 43),  # card_groups
        ]
    )
    assert all(i.level == "error" and Path(i.file).name == "x.yaml" for i in err.value.issues)

    references = PRESENTATION_BASE.replace(
        "    name: 比率\n", "    name: 比率\n    short_name: 一个很长的卡片标题\n"
    ) + (
        "presentation:\n"  # line 25
        "  default_index: no_such_index\n"  # 26
        "  card_groups:\n"
        "    - name: 一组\n"
        "      indicators: [leads, rate, nope]\n"  # 29
        "    - {name: 二组, indicators: [leads]}\n"  # 30
        "  funnel:\n"
        "    - {stage: a, label: 甲, indicator: leads, part: denominator}\n"  # 32
        "    - {stage: a, label: 乙, indicator: rate, part: numerator}\n"  # 33
        "  recovery: {indicator: leads}\n"  # 34
    )
    p.write_text(references, encoding="utf-8")
    assert references.splitlines()[24] == "presentation:"
    with pytest.raises(DeclarationError) as err:
        load_set(p, [tmp_path])
    got = sorted((i.code, i.line) for i in err.value.issues)
    assert got == sorted(
        [
            ("W_SHORT_NAME_LONG", 15),  # 9 characters, a warning
            ("E_UNKNOWN_HIERARCHY", 26),
            ("E_UNKNOWN_INDICATOR", 29),  # nope
            ("E_DUPLICATE_CARD", 30),  # leads on two cards
            ("E_FUNNEL_PART", 32),  # a count has no denominator
            ("E_DUPLICATE_STAGE", 33),
            ("E_NOT_A_RATE", 34),  # the 追回 bar needs a ratio
        ]
    )
    fixed = (
        references.replace("no_such_index", "idx")
        .replace(", nope]", "]")
        .replace("    - {name: 二组, indicators: [leads]}\n", "")
        .replace("indicator: leads, part: denominator", "indicator: leads, part: numerator")
        .replace("stage: a, label: 乙", "stage: b, label: 乙")
        .replace("recovery: {indicator: leads}", "recovery: {indicator: rate}")
        .replace("一个很长的卡片标题", "比率卡")
    )
    p.write_text(fixed, encoding="utf-8")
    s = load_set(p, [tmp_path])
    assert s.warnings == ()
    assert s.indicators["rate"].short_name == "比率卡" and s.indicators["rate"].name == "比率"
    pres = s.presentation
    assert (pres.default_index, pres.recovery, pres.rectification) == ("idx", "rate", None)
    assert [(g.name, g.indicators) for g in pres.card_groups] == [("一组", ("leads", "rate"))]
    assert [(f.stage, f.label, f.indicator, f.part) for f in pres.funnel] == [
        ("a", "甲", "leads", "numerator"),
        ("b", "乙", "rate", "numerator"),
    ]


# --------------------------------------------------------------------------- hostile files


@pytest.mark.timeout(120)
def test_alias_expansion_is_bounded(tmp_path: Path) -> None:
    """A "billion laughs" file (nine levels of ten aliases: 10⁹ nodes once expanded) is
    refused at the alias that blows past the limit, without filling memory."""
    levels = ["  a: &a [" + ", ".join(["lol"] * 10) + "]"]
    for prev, cur in zip("abcdefgh", "bcdefghi"):
        levels.append(f"  {cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]")
    text = "kind: indicator_set\ncode: laughs\nname: t\nparameters:\n" + "\n".join(levels) + "\n"
    p = _write(tmp_path, text)
    # a: 11 nodes, b: 111, c: 1,111, d: 11,111, e: 111,111 — f (line 10) would add 1,111,111
    assert text.splitlines()[9].startswith("  f: &f [*e")
    issues = validate([p], dirs=[tmp_path])
    assert [(i.code, Path(i.file).name, i.line) for i in issues] == [
        ("E_YAML_ALIASES", "x.yaml", 10)
    ]
    # merge keys (<<: [*a, *a, …]) at nine levels stay small: merged keys are not repeated
    merges = ["  a: &a {" + ", ".join(f"k{i}: 1" for i in range(10)) + "}"]
    for prev, cur in zip("abcdefgh", "bcdefghi"):
        merges.append(f"  {cur}: &{cur} {{<<: [" + ", ".join([f"*{prev}"] * 10) + "]}")
    p.write_text(text.split("parameters:")[0] + "parameters:\n" + "\n".join(merges) + "\n")
    issues = validate([p], dirs=[tmp_path])
    errors = [i.code for i in issues if i.level == "error"]
    assert errors == ["E_MISSING_KEY"] * 9  # parameters a…i have no value:
    assert len(issues) == 9 + 9 * 10  # and ten unknown keys each (k0…k9), not 10⁹
    # an ordinary alias is still allowed
    ok = (
        "kind: indicator_set\ncode: t\nname: t\n"
        "measures:\n  n: &count {ledger: leads, agg: count}\n  m: *count\n"
    )
    assert load_set(_write(tmp_path, ok), [tmp_path]).measures["m"].ledger == "leads"


def test_deep_nesting_and_huge_files_are_refused(tmp_path: Path, monkeypatch) -> None:
    import workbench.declarations.loading as loading

    p = _write(tmp_path, "kind: indicator_set\ncode: t\nname: " + "[" * 100 + "]" * 100 + "\n")
    assert [(i.code, i.line) for i in validate([p], dirs=[tmp_path])] == [("E_YAML_TOO_DEEP", 3)]
    monkeypatch.setattr(loading, "MAX_FILE_BYTES", 100)
    p.write_text("kind: indicator_set\ncode: t\nname: t\n# " + "x" * 200 + "\n", encoding="utf-8")
    (issue,) = validate([p], dirs=[tmp_path])
    assert (issue.code, issue.line, Path(issue.file).name) == ("E_FILE_TOO_LARGE", None, "x.yaml")


@pytest.mark.parametrize(
    "expr, code",
    [
        (" + ".join(["a"] * 100_000), "E_EXPR_TOO_LONG"),  # 100,000 terms, 400 K characters
        ("+".join(["a"] * 300), "E_EXPR_TOO_DEEP"),  # 599 characters, 299 levels of +
        ("abs(" * 90 + "a" + ")" * 90, "E_EXPR_TOO_DEEP"),  # calls within calls
        ("max(" + ",".join(["a"] * 600) + ")", "E_EXPR_TOO_MANY_TERMS"),  # shallow, wide
    ],
)
def test_expression_size_and_depth_are_bounded(expr: str, code: str, tmp_path: Path) -> None:
    from workbench.declarations import ExprLimitError

    with pytest.raises(ExprLimitError) as err:
        parse_expr(expr)
    assert err.value.code == code
    p = _write(
        tmp_path,
        "kind: indicator_set\ncode: t\nname: t\n"
        f"measures:\n  big:\n    ledger: cases\n    agg: sum\n    expr: {expr}\n"
        "indicators:\n  d:\n    type: derived\n    name: 派生\n"
        f"    expr: {expr}\n",
    )
    issues = validate([p], dirs=[tmp_path])
    assert sorted((i.code, i.line) for i in issues) == [(code, 8), (code, 13)]
    assert all(len(i.message) < 200 for i in issues)  # the expression is not echoed whole


def test_expressions_within_the_limits_still_work() -> None:
    e = parse_expr("+".join(["a"] * 60))  # 60 terms: 59 levels, under the depth limit
    assert eval_expr(e, {"a": np.array([1.0, 2.0])}).tolist() == [60.0, 120.0]


# --------------------------------------------------------------------------- trees, bands, includes

FLAT = """\
kind: indicator_set
code: flat_set
name: 扁平指标集
measures:
  rec: {ledger: cases, agg: sum, field: amount_recovered}
  due: {ledger: cases, agg: sum, field: amount_due}
  n: {ledger: cases, agg: count}
indicators:
  recovery_per_dollar: {type: ratio, name: 追回率, unit: "%", numerator: rec, denominator: due}
  case_n: {type: count, name: 案件数, unit: 件, numerator: n}
hierarchies:
  flat:
    name: 扁平指数
    tree:
      - indicator: recovery_per_dollar
      - indicator: case_n
"""


@pytest.fixture(scope="module")
def small_city() -> dict:
    from workbench.demo import generate_city

    return generate_city(6, end="2025-09").frames


def test_a_flat_tree_is_refused_by_check_with_the_fix(tmp_path: Path, capsys, small_city) -> None:
    """Indicators straight under `tree:` passed `--check` and then failed `compute` with
    "计算失败：'recovery_per_dollar'"; now `--check` refuses them and says what to write."""
    from workbench.cli import main
    from workbench.results import evaluate

    (tmp_path / "flat.yaml").write_text(FLAT, encoding="utf-8")
    assert main(["compute", "--indicators-dir", str(tmp_path), "--check"]) == 1
    err = capsys.readouterr()
    assert "E_HIERARCHY_FLAT" in err.out + err.err and "children" in err.out + err.err
    (issue,) = validate(dirs=[tmp_path])
    assert (issue.code, issue.line, issue.level) == ("E_HIERARCHY_FLAT", 14, "error")  # tree:
    # the fix the message gives: one dimension around the indicators
    fixed = FLAT.replace(
        "    tree:\n      - indicator: recovery_per_dollar\n      - indicator: case_n\n",
        "    tree:\n      - code: overall\n        name: 总体\n        children:\n"
        "          - indicator: recovery_per_dollar\n          - indicator: case_n\n",
    )
    (tmp_path / "flat.yaml").write_text(fixed, encoding="utf-8")
    assert validate(dirs=[tmp_path]) == []
    iset = load_set("flat_set", [tmp_path])
    ev = evaluate(small_city, "2025-09", iset, uncertainty_samples=0)
    summary = ev.index["flat"].summary()
    assert len(summary) == 6 and summary["score"].notna().all()
    # one dimension: the index is that dimension's score
    assert np.allclose(summary["score"], summary["overall"])


def test_grade_bands_apply_only_when_declared(tmp_path: Path, small_city) -> None:
    from workbench import scoring
    from workbench.results import evaluate

    head = "kind: indicator_set\ncode: banded\nname: t\n"
    body = FLAT.split("hierarchies:")[0].split("name: 扁平指标集\n")[1] + (
        "hierarchies:\n"
        "  plain:\n    name: 无等级\n    tree:\n"
        "      - {code: all, name: 全部, children: [{indicator: recovery_per_dollar}]}\n"
        "  own:\n    name: 自带等级\n"
        "    grade_bands: [{min: 50, grade: 上}, {min: -inf, grade: 下}]\n"
        "    tree:\n"
        "      - {code: all2, name: 全部, children: [{indicator: recovery_per_dollar}]}\n"
    )
    iset = load_set(_write(tmp_path, head + body), [tmp_path])
    assert scoring.config(iset, "plain").grade_bands == ()
    assert scoring.config(iset, "own").grade_bands == ((50.0, "上"), (-math.inf, "下"))
    ev = evaluate(small_city, "2025-09", iset, uncertainty_samples=0)
    assert ev.index["plain"].summary()["grade"].isna().all()  # no 优秀/良好/合格/不合格
    scores = ev.index["own"].summary()
    assert set(scores["grade"]) <= {"上", "下"}
    assert (scores["grade"] == np.where(scores["score"] >= 50, "上", "下")).all()
    # a set-wide default applies to hierarchies without their own
    with_default = head + "grade_bands: [{min: 0, grade: 有}]\n" + body
    iset = load_set(_write(tmp_path, with_default), [tmp_path])
    assert scoring.config(iset, "plain").grade_bands == ((0.0, "有"),)
    assert scoring.config(iset, "own").grade_bands == ((50.0, "上"), (-math.inf, "下"))
    # the shipped sets declare theirs, so their grades are as before
    for code in ("campaign_2025", "no_fraud_city"):
        shipped = load_set(code)
        for h in shipped.hierarchies:
            assert scoring.config(shipped, h).grade_bands == (
                (90.0, "优秀"),
                (80.0, "良好"),
                (60.0, "合格"),
                (-math.inf, "不合格"),
            )


def test_include_carries_hierarchies(tmp_path: Path) -> None:
    shipped = ROOT / "indicators"
    for p in shipped.glob("*.yaml"):
        (tmp_path / p.name).write_text(p.read_text(encoding="utf-8"), encoding="utf-8")
    head = "kind: indicator_set\ncode: mine\nname: 我的\n"
    mine = tmp_path / "mine.yaml"
    mine.write_text(head + "include: [campaign_2025]\n", encoding="utf-8")
    s = load_set("mine", [tmp_path])
    assert list(s.hierarchies) == ["campaign_progress"]  # the composite comes along
    assert s.hierarchies["campaign_progress"].grade_bands  # with its set's grade bands
    assert s.hierarchies["campaign_progress"].file.endswith("campaign_2025.yaml")
    # the set's own definition of the same code wins, and says so
    mine.write_text(
        head
        + "include: [campaign_2025]\nhierarchies:\n  campaign_progress:\n    name: 我的评分\n"
        + "    tree:\n      - {code: a, name: 甲, children: [{indicator: fund_recovery_rate}]}\n",
        encoding="utf-8",
    )
    s = load_set("mine", [tmp_path])
    assert s.hierarchies["campaign_progress"].name == "我的评分"
    assert [(w.code, w.line) for w in s.warnings] == [("W_OVERRIDE", 6)]
    # no_fraud_city includes the campaign set for its measures and indicators only
    assert list(load_set("no_fraud_city", [tmp_path]).hierarchies) == ["by_subject", "by_pillar"]
    # include: mine → no_fraud_city → campaign_2025 (hierarchies: []) carries no_fraud_city's
    mine.write_text(head + "include: [no_fraud_city]\n", encoding="utf-8")
    assert list(load_set("mine", [tmp_path]).hierarchies) == ["by_subject", "by_pillar"]
    mine.write_text(
        head
        + "include:\n  - {set: no_fraud_city, hierarchies: [by_pillar]}\n"
        + "presentation: {default_index: by_pillar}\n",
        encoding="utf-8",
    )
    s = load_set("mine", [tmp_path])
    assert list(s.hierarchies) == ["by_pillar"] and s.indices() == ["by_pillar"]
    # a hierarchy the included set does not have, a misspelt key
    mine.write_text(
        head
        + "include:\n"
        + "  - {set: no_fraud_city, hierarchies: [by_colour]}\n"  # line 5
        + "  - {set: campaign_2025, hierarchy: []}\n",  # line 6
        encoding="utf-8",
    )
    with pytest.raises(DeclarationError) as err:
        load_set("mine", [tmp_path])
    assert sorted((i.code, i.line) for i in err.value.issues) == [
        ("E_UNKNOWN_HIERARCHY", 5),
        ("E_UNKNOWN_KEY", 6),
    ]


def test_method_block_reports_every_problem(tmp_path: Path) -> None:
    """Every bad key of a hierarchy's method: at its line, in one pass (checked against the
    composite catalogue); a non-number for uncertainty_samples is an issue, not a ValueError."""
    text = FLAT.replace(
        "    tree:\n      - indicator: recovery_per_dollar\n      - indicator: case_n\n",
        "    method:\n"
        "      normalise: min_max\n"  # line 15
        "      aggregate: average\n"  # 16
        "      uncertainty_samples: many\n"  # 17
        "      colour: red\n"  # 18
        "    tree:\n      - code: all\n        name: 全部\n"
        "        children: [{indicator: recovery_per_dollar}, {indicator: case_n}]\n",
    )
    assert text.splitlines()[14] == "      normalise: min_max"
    with pytest.raises(DeclarationError) as err:
        load_set(_write(tmp_path, text), [tmp_path])
    assert sorted((i.code, i.line) for i in err.value.issues) == [
        ("E_BAD_METHOD_VALUE", 15),
        ("E_BAD_METHOD_VALUE", 16),
        ("E_TYPE", 17),
        ("E_UNKNOWN_METHOD_KEY", 18),
    ]
