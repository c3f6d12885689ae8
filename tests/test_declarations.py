"""Declarations: the shipped YAML is complete and valid; broken files are reported with stable
codes, file and line, all issues in one pass; nothing in a declaration is ever executed."""

from __future__ import annotations

import dataclasses
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
