"""The presentation layer: the one formatter, the status rules and the as-of lists.

Expected texts are written by hand from the rules a Chinese reader expects (a rate in %, money
in 万元/亿元 with the unit's own scale, counts whole, a rate's change in percentage points)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench import fmt
from workbench.presentation import kpis as pk
from workbench.presentation import lists

NAN = float("nan")


@pytest.mark.parametrize(
    ("value", "unit", "decimals", "text"),
    [
        (0.4567, "件/万人", None, "0.46件/万人"),  # ratios of counts: two decimals by default
        (0.4567, "件/万人", 1, "0.5件/万人"),  # … unless the YAML says otherwise
        (2.5, "次", 1, "2.5次"),
        (2.5, "次", None, "3次"),  # counts are whole by default (half up)
        (12, "件", None, "12件"),
        (1548, "件", None, "1,548件"),
        (0.8734, "%", None, "87.3%"),
        (0.8734, "%", 0, "87%"),
        (-0.2073, "%", None, "-20.7%"),
        (0.00045, "%", 2, "0.05%"),  # half up, not to even
        (76.25, "score", None, "76.3"),
        # money: 元 below 1万, 万元 below 1亿, else 亿元 with two decimals
        (860, "元", None, "860元"),
        (9_999.4, "元", None, "9,999元"),
        (9_999.6, "元", None, "1.0万元"),  # rounds up into the next scale
        (56_000, "元", None, "5.6万元"),
        (99_999_999.99, "元", None, "1.00亿元"),
        (123_456_789, "元", None, "1.23亿元"),
        (-56_000, "元", None, "-5.6万元"),
        # a value already in 万元 is not read as yuan (the cockpit once showed 1,234元)
        (1234.5, "万元", None, "1,234.5万元"),
        (12_345.6, "万元", None, "1.23亿元"),
        (2.5, "亿元", None, "2.50亿元"),
        (None, "%", None, "—"),
        (NAN, "元", None, "—"),
        (math.inf, "件", None, "—"),
        ("x", "件", None, "—"),
    ],
)
def test_value_text(value, unit, decimals, text):
    assert fmt.value_text(value, unit, decimals) == text


def test_money_is_value_text_in_yuan():
    """`fmt.money` (amounts in ledger tables) follows the one money rule of `value_text`."""
    assert fmt.money(860.4) == "860元"
    assert fmt.money(9_999.96) == "1.0万元"  # rounds into the next scale, not 10,000元
    assert fmt.money(-12_345) == "-1.2万元"
    assert fmt.money(123_456_789) == "1.23亿元"
    assert fmt.money(56_789, digits=2) == "5.68万元"
    assert fmt.money(None) == "—" and fmt.money(float("nan")) == "—"


def test_signed_values_targets_and_gaps():
    assert fmt.value_text(0.021, "%", signed=True) == "+2.1%"
    assert fmt.value_text(0.0, "%", signed=True) == "0.0%"
    assert fmt.value_text(-0.0004, "%", signed=True) == "0.0%"  # no '-0.0%'
    assert fmt.target_text(">=", 0.9, "%") == "≥90.0%"
    assert fmt.target_text("<=", -0.3, "%") == "≤-30.0%"
    assert fmt.target_text("<=", 0.3, "件/万人") == "≤0.30件/万人"
    assert fmt.target_text("", 0.9, "%") == "—"
    assert fmt.target_text(">=", None, "%") == "—"
    assert fmt.gap_text(-0.027, "%") == "2.7个百分点"
    assert fmt.gap_text(0.012, "%") == "1.2个百分点"
    assert fmt.gap_text(-35_000, "元") == "3.5万元"
    assert fmt.gap_text(-3, "件") == "3件"


def test_change_has_one_meaning_per_kind_of_unit():
    # a rate changes in percentage points: 34.3% → 68.6% is +34.3 points, not +100%
    assert fmt.change_text(0.686, 0.343, "%") == "+34.3个百分点"
    assert fmt.change_text(0.287, 0.362, "%") == "-7.5个百分点"
    assert fmt.change_text(0.5, 0.5, "%") == "0.0个百分点"
    # counts and money change relatively; no relative change from zero
    assert fmt.change_text(127, 212, "件") == "-40.1%"
    assert fmt.change_text(120, 100, "万元") == "+20.0%"
    assert fmt.change_text(5, 0, "件") == "—"
    assert fmt.change_text(0.5, None, "%") == "—"


@given(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False), st.integers(0, 4))
def test_money_text_reads_back_to_the_value(yuan, decimals):
    """Whatever the scale chosen, the text read back is the value to within its rounding."""
    text = fmt.value_text(yuan, "元", decimals)
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("-").replace(",", "")
    for suffix, scale, d in (
        ("亿元", 1e8, max(decimals, 2)),
        ("万元", 1e4, decimals),
        ("元", 1, 0),
    ):
        if body.endswith(suffix):
            shown = float(body[: -len(suffix)]) * scale * sign
            assert abs(shown - yuan) <= 0.5 * scale * 10**-d + 1e-6 * abs(yuan)
            # the smallest scale that holds the rounded value
            assert scale == 1 or abs(shown) >= scale * (1 - 1e-12)
            break
    else:
        pytest.fail(text)


def _display(**kw) -> pk.Display:
    base = dict(name="案件查处率", short_name="查处率", unit="%", op=">=")
    base.update(kw)
    return pk.Display(**base)


@pytest.mark.parametrize(
    ("row", "display", "period", "status"),
    [
        ({"value": 0.95, "target": 0.9, "met": True}, {}, "2025-09", pk.MET),
        (
            {"value": 0.5, "target": 0.9, "met": False},
            {"deadline": "2025-11-30"},
            "2025-09",
            pk.AT_RISK,
        ),
        (
            {"value": 0.5, "target": 0.9, "met": False},
            {"deadline": "2025-11-30"},
            "2025-11",
            pk.NOT_MET,
        ),
        ({"value": 0.5, "target": 0.9, "met": False}, {}, "2025-09", pk.NOT_MET),
        ({"value": None, "target": 0.9, "met": None}, {}, "2025-09", pk.NO_DATA),
        ({"value": 3, "target": None, "met": pd.NA}, {"op": ""}, "2025-09", pk.NO_TARGET),
        # a relative target whose baseline is missing: not judged
        (
            {"value": 0.5, "target": NAN, "met": NAN},
            {"relative": True},
            "2025-09",
            pk.BASELINE_INSUFFICIENT,
        ),
    ],
)
def test_status(row, display, period, status):
    assert pk.present_one(_display(**display), row, period)["status"] == status


def test_gap_sentences_are_signed_by_status():
    d = _display()
    short = pk.present_one(d, {"value": 0.87, "target": 0.9, "gap": -0.03, "met": False}, "2025-12")
    assert short["gap_text"] == "差3.0个百分点"
    better = pk.present_one(d, {"value": 0.95, "target": 0.9, "gap": 0.05, "met": True}, "2025-12")
    assert better["gap_text"] == "优于目标5.0个百分点"
    ceiling = _display(op="<=", unit="件/万人")
    row = {"value": 0.2, "target": 0.3, "gap": -0.1, "met": True}
    assert pk.present_one(ceiling, row, "2025-12")["gap_text"] == "优于目标0.10件/万人"


def test_present_frame_equals_present_one_row_by_row():
    """The frame path (reports, exports) and the single-row path (cockpit) agree."""
    displays = {
        "a": _display(),
        "b": _display(unit="件", op="", short_name="立案数"),
        "c": _display(unit="元", op=">=", deadline="2025-12-31", decimals=2),
    }
    frame = pd.DataFrame(
        {
            "indicator": ["a", "b", "c", "a"],
            "unit": ["%", "件", "元", "%"],
            "period": ["2025-09"] * 4,
            "value": [0.5, 12.0, 56_000.0, np.nan],
            "prev_value": [0.4, 10.0, 0.0, 0.3],
            "target": [0.9, np.nan, 100_000.0, 0.9],
            "gap": [-0.4, np.nan, -44_000.0, np.nan],
            "met": pd.array([False, pd.NA, False, pd.NA], dtype="boolean"),
            "target_op": [">=", "", ">=", ">="],
        }
    )
    out = pk.present(frame, displays)
    for rec in out.to_dict("records"):
        one = pk.present_one(displays[rec["indicator"]], rec, rec["period"])
        for k in ("status", "status_label", "value_text", "target_text", "gap_text", "change_text"):
            assert rec[k] == one[k]
    assert list(out["status"]) == [pk.NOT_MET, pk.NO_TARGET, pk.AT_RISK, pk.NO_DATA]
    assert list(out["value_text"]) == ["50.0%", "12件", "5.60万元", "—"]
    assert list(out["change_text"]) == ["+10.0个百分点", "+20.0%", "—", "—"]


# ── as-of lists ──────────────────────────────────────────────────────────────────────────────


def _ts(s):
    return pd.Timestamp(s) if s else pd.NaT


def test_overdue_is_judged_as_of_the_period():
    """An item due 2025-05-31 and closed 2025-08-15 is overdue when looking at June, not at
    August (the county page and the report once disagreed on exactly this)."""
    rect = pd.DataFrame(
        {
            "issue_id": ["R1", "R2", "R3", "R4"],
            "county_code": ["990101"] * 4,
            "source": ["审计", "巡视巡察", "举报", "举报"],
            "responsible_unit": ["x"] * 4,
            "description": ["d"] * 4,
            "found_date": [_ts("2025-03-01")] * 3 + [_ts("2025-07-01")],
            "deadline": [
                _ts("2025-05-31"),
                _ts("2025-06-10"),
                _ts("2025-04-30"),
                _ts("2025-05-01"),
            ],
            "status": ["已销号", "整改中", "整改中", "整改中"],
            "closed_date": [_ts("2025-08-15"), pd.NaT, pd.NaT, pd.NaT],
            "amount_involved": [1.0, 2.0, 3.0, 4.0],
        }
    )
    june = lists.overdue_rectifications({"rectifications": rect}, "2025-06")
    # R4 was found after June; R2 is due 2025-06-10 < 06-30. 巡视巡察 first, then 审计, then days
    assert list(june["issue_id"]) == ["R2", "R1", "R3"]
    assert list(june["days_overdue"]) == [20, 30, 61]
    august = lists.overdue_rectifications({"rectifications": rect}, "2025-08")
    assert "R1" not in set(august["issue_id"])
    assert set(august["issue_id"]) == {"R2", "R3", "R4"}


def test_open_cases_as_of_the_period_largest_first():
    cases = pd.DataFrame(
        {
            "case_id": ["C1", "C2", "C3", "C4"],
            "county_code": ["990101"] * 4,
            "found_date": [
                _ts("2025-01-10"),
                _ts("2025-02-01"),
                _ts("2025-03-01"),
                _ts("2025-07-01"),
            ],
            "filed_date": [_ts("2025-01-20"), pd.NaT, _ts("2025-03-05"), pd.NaT],
            "institution_id": ["H1", None, "H2", None],
            "amount_involved": [100.0, 9_000.0, 500.0, 1.0],
            "status": ["已结案", "调查中", "已撤销", "核查中"],
            "closed_date": [_ts("2025-08-01"), pd.NaT, pd.NaT, pd.NaT],
        }
    )
    inst = pd.DataFrame({"institution_id": ["H1", "H2"], "institution_name": ["甲医院", "乙医院"]})
    got = lists.open_cases({"cases": cases, "institutions": inst}, "2025-06")
    # C1 closed in August was open at June's end; C3 withdrawn; C4 found after June
    assert list(got["case_id"]) == ["C2", "C1"]
    assert list(got["days_open"]) == [149, 161]  # from discovery (no filing), from filing
    assert list(got["institution_name"].fillna("")) == ["", "甲医院"]
    # C1's status as June's end saw it, not today's 已结案 (a list of open cases must not say
    # 已结案); C2's own status stays
    assert list(got["status"]) == ["调查中", "期末未结（2025年8月1日结案）"]


def test_unreferred_and_not_inspected_and_not_submitted():
    cases = pd.DataFrame(
        {
            "case_id": ["C1", "C2", "C3", "C4"],
            "county_code": ["990101"] * 4,
            "found_date": [
                _ts("2025-02-01"),
                _ts("2025-03-01"),
                _ts("2025-04-01"),
                _ts("2024-12-01"),
            ],
            "institution_id": [None] * 4,
            "amount_involved": [5_000.0, 5_000.01, 80_000.0, 90_000.0],
            "referred_police": pd.array([False, False, True, False], dtype="boolean"),
        }
    )
    got = lists.unreferred_over_threshold({"cases": cases}, "2025-06", 5000)
    assert list(got["case_id"]) == ["C2"]  # over (not at) the threshold, this year, unreferred

    inst = pd.DataFrame(
        {
            "institution_id": ["H1", "H2", "H3"],
            "institution_name": ["甲", "乙", "丙"],
            "county_code": ["990101"] * 3,
            "key_monitored": pd.array([True, True, False], dtype="boolean"),
        }
    )
    insp = pd.DataFrame(
        {
            "institution_id": ["H1", "H2", "H3"],
            "inspection_date": [_ts("2025-04-02"), _ts("2025-03-30"), _ts("2025-05-01")],
        }
    )
    miss = lists.key_monitored_not_inspected({"institutions": inst, "inspections": insp}, "2025-05")
    assert list(miss["institution_id"]) == ["H2"]  # inspected in Q1 only
    assert miss["last_inspection"].iloc[0] == pd.Timestamp("2025-03-30")

    roster = pd.DataFrame({"county_code": ["990101", "990102"], "county_name": ["甲县", "乙县"]})
    subs = pd.DataFrame(
        {
            "county_code": ["990101", "990102"],
            "period": ["2025-05", "2025-05"],
            "status": ["有效", "已被替换"],
        }
    )
    assert list(lists.not_submitted(subs, roster, "2025-05")["county_code"]) == ["990102"]
    assert list(lists.not_submitted(subs, roster, "2025-06")["county_code"]) == ["990101", "990102"]


# ── the cache ────────────────────────────────────────────────────────────────────────────────


def test_cache_round_trip_and_no_pickle(tmp_path):
    from workbench.presentation import cache

    folder = cache.private_dir(tmp_path / "c")
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", None]})
    cache.save(folder, "k1", {"t": frame}, {"arr": np.arange(6.0).reshape(2, 3)}, {"n": 3})
    frames, arrays, meta = cache.load(folder, "k1")
    pd.testing.assert_frame_equal(frames["t"], frame)
    assert arrays["arr"].tolist() == [[0, 1, 2], [3, 4, 5]] and meta == {"n": 3}
    # an object array (which only a pickle can hold) planted in an entry is refused, not run
    planted = folder / "entry-k2"
    planted.mkdir()
    np.save(planted / "x.npy", np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    (planted / "meta.json").write_text("{}")
    assert cache.load(folder, "k2") is None


def test_cache_folder_must_be_private(tmp_path):
    from workbench.presentation import cache

    open_dir = tmp_path / "open"
    open_dir.mkdir(mode=0o777)
    open_dir.chmod(0o777)
    assert cache.private_dir(open_dir) == open_dir  # ours: closed to others before use
    assert open_dir.stat().st_mode & 0o077 == 0
    link = tmp_path / "link"
    link.symlink_to(open_dir)
    assert cache.private_dir(link) is None  # a symlink planted in place of the folder


def test_cache_key_follows_content_not_a_version_number(tmp_path):
    from workbench.presentation import cache

    wh = tmp_path / "w.duckdb"
    wh.write_bytes(b"1")
    k1 = cache.warehouse_fingerprint(wh)
    wh.write_bytes(b"22")
    assert cache.warehouse_fingerprint(wh) != k1
    y = tmp_path / "a.yaml"
    y.write_text("x: 1")
    f1 = cache.files_fingerprint([y])
    y.write_text("x: 2")
    assert cache.files_fingerprint([y]) != f1
    assert len(cache.code_fingerprint()) == 64


def test_exports_keep_signed_figures_but_neutralise_formulas():
    from workbench.privacy import excel_safe

    for shown in ("-18.0%", "+34.3个百分点", "-5.6万元", "-2,000.5元", "-1"):
        assert excel_safe(shown) == shown
    for hostile in (
        "-1+cmd|' /C calc'!A0",
        '=HYPERLINK("http://x","y")',
        "+1-1",
        "@SUM(A1)",
        "-1万元+1",
        "-1e3",
    ):
        assert excel_safe(hostile) == "'" + hostile


def test_a_thin_baseline_is_not_judged():
    """A relative target or a change resting on fewer than `min_baseline` events shows 基线不足
    instead of a verdict (January 2025 against 1 closed case in January 2024 once read
    '19422.1% ✓达标'); a base at the minimum is judged."""
    rel = _display(relative=True, min_baseline=20.0)
    row = {"value": 0.521, "target": 0.003, "gap": 0.518, "met": True, "prev_value": 0.0027}
    thin = pk.present_one(rel, {**row, "baseline_size": 1.0}, "2025-01")
    assert thin["status"] == pk.BASELINE_INSUFFICIENT and thin["status_label"] == "基线不足"
    assert thin["change_text"] == "基线不足" and thin["gap_text"] == "—"
    enough = pk.present_one(rel, {**row, "baseline_size": 20.0}, "2025-01")
    assert enough["status"] == pk.MET and enough["change_text"] == "+51.8个百分点"
    # a fixed target does not rest on the baseline: judged, only its change is withheld
    fixed = _display(min_baseline=20.0)
    plain = pk.present_one(fixed, {**row, "baseline_size": 3.0}, "2025-01")
    assert plain["status"] == pk.MET and plain["change_text"] == "基线不足"
    # no minimum declared: judged as before
    assert (
        pk.present_one(_display(relative=True), {**row, "baseline_size": 1.0}, "2025-01")["status"]
        == pk.MET
    )


def test_min_baseline_is_declared_in_yaml(tmp_path):
    from workbench.declarations import load_set

    iset = load_set("campaign_2025")
    assert iset.presentation.min_baseline == 20
    assert pk.display_of(iset, "case_detection_rate_change").min_baseline == 20.0


def test_a_name_with_its_own_enumeration_comma_is_quoted_in_a_list() -> None:
    """「达成4项（重复作案、团伙作案占比变化、检查覆盖率、病历抽查比例、常态化数据共享部门数）」
    read as five: a name holding a 、 is quoted wherever names are listed."""
    from workbench.declarations import load_set
    from workbench.presentation import definitions as pdef
    from workbench.presentation.words import name_list

    assert name_list(["检查覆盖率", "病历抽查比例"]) == "检查覆盖率、病历抽查比例"
    assert name_list(["案件数量同比", "重复作案、团伙作案占比变化", "检查覆盖率"]) == (
        "案件数量同比、“重复作案、团伙作案占比变化”、检查覆盖率"
    )
    assert name_list([]) == ""
    method = pdef.method_text(load_set("campaign_2025"), "campaign_progress")
    assert "（欺诈骗保案件数量同比、“重复作案、团伙作案占比变化”）" in "".join(method.values())


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
            # exact halves at the printed digit, where float error decides the naive way
            st.integers(-(10**6), 10**6).map(lambda k: k / 10 + 0.05),
            st.integers(-(10**6), 10**6).map(lambda k: k / 100 + 0.005),
        ),
        min_size=1,
        max_size=20,
    ),
    st.integers(0, 3),
)
def test_array_rounding_is_the_printed_rounding(values: list[float], digits: int) -> None:
    """`fmt.rounded` (grades read scores through it) gives, value by value, the number a face
    prints (`fmt._round`: half up on the decimal a reader sees)."""
    got = fmt.rounded(values, digits)
    assert got.tolist() == [fmt._round(v, digits) for v in values]
    assert np.isnan(fmt.rounded([np.nan], 1)[0])


# ── every county's lists at once ─────────────────────────────────────────────────────────────


@pytest.fixture(scope="module")
def demo_wh(tmp_path_factory):
    from workbench.demo import generate_city
    from workbench.warehouse import Warehouse

    path = tmp_path_factory.mktemp("lists") / "demo.duckdb"
    with Warehouse(path) as wh:
        wh.load_frames(generate_city(6, seed=20251).frames, period="2025-09")
    return path


def test_county_lists_equal_each_list_called_per_county(demo_wh):
    """Peer results: a list judged once for the city and sliced by county gives each county
    the very rows, columns and order the list function gives when asked for that county."""
    from workbench import report
    from workbench.presentation import counts as pc

    data = report.city_data(demo_wh, "2025-09")
    iset = data.evaluation.indicator_set
    at_once = lists.CountyLists(data.ledgers, "2025-09", iset, pc.referral_threshold(iset))
    assert set(at_once.lists) == {*lists.COUNTY_LISTS, "unreferred_cases"}
    one = {
        **lists.COUNTY_LISTS,
        "unreferred_cases": lambda lg, p, c: lists.unreferred_cases(
            lg, iset, p, c, pc.referral_threshold(iset)
        ),
    }
    seen = {}
    for county in [*data.counties["county"], "000000"]:  # and a code no ledger has
        for name, fn in one.items():
            alone = fn(data.ledgers, "2025-09", county)
            sliced = at_once.get(name, county)
            seen[name] = seen.get(name, 0) + len(alone)
            if len(alone):
                pd.testing.assert_frame_equal(sliced, alone)
            else:  # no rows either way (the empty frame may carry other columns)
                assert sliced.empty
    # the demo city has rows on every list, so the comparison is not vacuous
    assert all(seen.values()), seen
    total = sum(len(at_once.get("open_cases", c)) for c in data.counties["county"])
    assert total == len(lists.open_cases(data.ledgers, "2025-09"))


def test_talk_list_row_equals_the_one_row_call(demo_wh):
    """The county report's place on the 约谈名单 (`CityData.talk_list`, judged for the whole
    list once) equals `talk_list_followup` called with that county's row alone."""
    from workbench import report

    data = report.city_data(demo_wh, "2025-09")
    lag = data.lagging.rename(columns={"county": "county_code"})
    assert len(lag), "the demo city lists counties for 约谈"
    for county in data.counties["county"]:
        mine = lag[lag["county_code"] == county]
        got = data.talk_list(county)
        if mine.empty:
            assert got is None
            continue
        alone = lists.talk_list_followup(
            mine.assign(county_name=data.name(county)), data.ledgers, "2025-09"
        ).iloc[0]
        assert got is not None and set(got) == set(alone.index)
        for k, v in alone.items():
            assert (pd.isna(v) and pd.isna(got[k])) or got[k] == v, (county, k)
