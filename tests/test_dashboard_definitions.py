"""The cockpit's 指标说明 panels, 约谈督办 and overdue-case lists against the real engine on a small
demo city: the numbers a panel shows are counted again here straight from the ledger rows, and
the texts are the ones the 通报's attachment prints (`presentation.definitions`)."""

from __future__ import annotations

import html
import re

import pandas as pd
import pytest

from workbench import dashboard as d
from workbench.contracts import TALK_COUNTY_TARGET
from workbench.dashboard import exports
from workbench.dashboard.lagging import lagging_html, overdue_cases_html
from workbench.declarations import load_sets
from workbench.demo import generate_city
from workbench.messages import t
from workbench.presentation import definitions as pdef

PERIOD = "2025-09"
END = pd.Timestamp("2025-09-30")
START = pd.Timestamp("2025-01-01")


@pytest.fixture(scope="module")
def city():
    return generate_city(4)


@pytest.fixture(scope="module")
def data(city) -> d.DashboardData:
    return d.from_engine(city.frames, periods=["2025-08", PERIOD], uncertainty_samples=20)


def _panel(cards: str, indicator: str) -> dict[str, str]:
    """The fields of one card's 指标说明 panel, as text."""
    m = re.search(
        rf'<details class="wb-def wb-def-card" data-def="{indicator}">(.*?)</details>', cards
    )
    assert m, indicator
    fields = re.findall(r'data-def-field="(\w+)">([^<]*)<', m.group(1))
    return {k: html.unescape(v) for k, v in fields}


def _county(data: d.DashboardData) -> str:
    return str(data.counties["county_code"].iloc[1])


def test_panel_counts_equal_the_ledger_rows(data, city):
    """投诉举报查处率 of one county, Jan–Sep: complaints received in the window, and those of them
    closed by the month's end (a complaint closed in October was still open then)."""
    county = _county(data)
    cards = d.kpi_cards_html(data, d.View("campaign_2025", PERIOD, county))
    panel = _panel(cards, "complaint_handling_rate")
    c = city.frames["complaints"]
    c = c[c["county_code"].astype(str) == county]
    received = pd.to_datetime(c["received_date"])
    closed = pd.to_datetime(c["closed_date"])
    mine = (received >= START) & (received <= END)
    done = mine & closed.notna() & (closed <= END)
    assert 0 < done.sum() < mine.sum()  # the demo has open complaints: the test can tell
    assert panel["numerator"] == f"已办结投诉举报数{int(done.sum()):,}件"
    assert panel["denominator"] == f"受理投诉举报数{int(mine.sum()):,}件"
    assert panel["value"] == f"{done.sum() / mine.sum() * 100:.1f}%"
    # a working definition is tagged with the one term; its target cites another city's plan,
    # so it is 参照 and the target the bureau's own (工作口径), never 依据
    assert panel["formula"] == "统计期内受理的投诉举报中已办结的比例。（工作口径）"
    assert panel["source"] == (
        "工作口径，参照嘉兴市人民政府办公室《嘉兴市打造医保“无骗保城市”实施意见》"
        "三（一）2：投诉举报查处率100%"
    )
    scope = re.search(r'class="wb-def-scope">([^<]*)<', cards).group(1)
    assert data.county_name(county) in scope and "2025年9月" in scope


def test_panel_texts_are_the_bulletins(data):
    """The city's panels say what `presentation.definitions.definitions` (the 通报's 指标说明)
    says for the same month."""
    iset = load_sets(["campaign_2025"])[0]
    cards = d.kpi_cards_html(data, d.View("campaign_2025", PERIOD))
    rows = []
    for code in iset.indicators:
        r = data.kpi(code, PERIOD, "", "campaign_2025")
        if r:
            rows.append({"indicator": code, "period": PERIOD, **r, "county_code": "city"})
    defs = pdef.definitions(iset, pd.DataFrame(rows)).set_index("indicator")
    shown = [m["indicator"] for m in data.meta_records("campaign_2025")]
    assert len(shown) > 10
    for code in shown:
        panel = _panel(cards, code)
        assert panel.get("numerator", "—") == defs.loc[code, "numerator_text"], code
        assert panel.get("denominator", "—") == defs.loc[code, "denominator_text"], code
        assert panel.get("derivation", "") == defs.loc[code, "derivation"], code
        assert panel["source"] == defs.loc[code, "target_source"], code


def test_a_relative_target_says_how_it_was_derived(data):
    cards = d.kpi_cards_html(data, d.View("campaign_2025", PERIOD))
    r = data.kpi("case_detection_rate", PERIOD, "", "campaign_2025")
    panel = _panel(cards, "case_detection_rate")
    # target = 2024 same-period rate × 1.2, written with the rate's one decimal
    base = r["target"] / 1.2 * 100
    assert panel["derivation"] == (
        f"相对目标：2024年同期值{base:.1f}%×（1＋20.0%）＝{r['target'] * 100:.1f}%。"
    )
    assert panel["target"] == f"≥{r['target'] * 100:.1f}%"


def test_the_index_panel_explains_method_weights_and_rank_intervals(data):
    iset = load_sets(["campaign_2025"])[0]
    bars = d.ranking_bars_html(
        data, d.View("campaign_2025", PERIOD, "", d.INDEX, "campaign_progress")
    )
    text = html.unescape(bars)
    m = pdef.method_text(iset, "campaign_progress")
    assert pdef.method_sentence(m) in text
    assert t("doc.defs.composite", **m) in text  # the 通报 attachment's sentence
    assert "维度之间等权、维度内各指标等权" in text  # the weights, in words
    assert t("pres.rank.explain") in text
    assert '<summary class="wb-def-open"' in bars  # a keyboard control


def test_talk_list_says_whether_each_county_was_talked_to(data, city):
    """held ⇔ the 约谈督办台账 has a 约谈 of that county's 医保部门 from January to the month's end;
    the 复查 column shows the register's date for one that was reviewed by then."""
    talks = city.frames["talks"]
    when = pd.to_datetime(talks["talk_date"])
    county_talks = talks[
        (talks["target_type"] == TALK_COUNTY_TARGET) & (when >= START) & (when <= END)
    ]
    recs = data.records("talks", "campaign_2025", PERIOD)
    assert recs, "the demo has counties on the 约谈名单"
    lag = data.records("lagging", "campaign_2025", PERIOD)
    assert {r["county_code"] for r in recs} == {r["county_code"] for r in lag}
    talked = set(county_talks["county_code"].astype(str))
    for r in recs:
        assert bool(r["held"]) == (r["county_code"] in talked), r["county_code"]
    page = lagging_html(data, d.View("campaign_2025", PERIOD))
    held = sum(bool(r["held"]) for r in recs)
    assert page.count('data-held="1"') == held and page.count('data-held="0"') == len(recs) - held
    book = exports.lagging_table(data, d.View("campaign_2025", PERIOD))[0]
    assert list(book.frame["held"]) == [bool(r["held"]) for r in recs]


def test_overdue_cases_are_open_past_their_time_limit(data, city):
    rows = data.part("overdue_cases", PERIOD)
    cases = city.frames["cases"].set_index("case_id")
    assert len(rows)
    for r in rows.to_dict("records"):
        case = cases.loc[r["case_id"]]
        due = pd.Timestamp(case["due_date"])
        assert due < END
        assert pd.isna(case["closed_date"]) or pd.Timestamp(case["closed_date"]) > END
        assert r["days_overdue"] == (END - due).days
    assert list(rows["days_overdue"]) == sorted(rows["days_overdue"], reverse=True)
    assert "person_id" not in rows and "person_name" not in rows
    county = str(rows["county_code"].iloc[0])
    part = overdue_cases_html(data, d.View("campaign_2025", PERIOD, county))
    n = int((rows["county_code"].astype(str) == county).sum())
    assert f"仍未结案{n}件" in part


def test_overdue_cases_and_talks_download_with_real_formats(data):
    import io

    import openpyxl

    v = d.View("campaign_2025", PERIOD)
    book = openpyxl.load_workbook(
        io.BytesIO(exports.file_bytes(exports.overdue_cases_table(data, v), "xlsx"))
    )
    ws = book.active
    header = [c.value for c in ws[1]]
    assert header[0] == "区县" and "逾期天数" in header and "办案时限" in header
    rows = list(ws.iter_rows(min_row=2, max_row=1 + len(data.part("overdue_cases", PERIOD))))
    assert len(rows) == len(data.part("overdue_cases", PERIOD))  # every row, not the 30 shown
    due = rows[0][header.index("办案时限")]
    assert due.is_date and rows[0][header.index("逾期天数")].value == int(
        data.part("overdue_cases", PERIOD)["days_overdue"].iloc[0]
    )
    talks = openpyxl.load_workbook(
        io.BytesIO(exports.file_bytes(exports.lagging_table(data, v), "xlsx"))
    ).active
    head = [c.value for c in talks[1]]
    assert {"列入情形", "是否约谈", "约谈日期", "复查情况"} <= set(head)


def test_panel_of_another_set_writes_its_counts_with_units(data, city):
    """结案案件曝光率 (no_fraud_city): its numerator and denominator are counts of cases with 件,
    counted again from the cases ledger (closed Jan–Sep, status 已结案)."""
    if "no_fraud_city" not in data.indicator_sets:
        pytest.skip("no_fraud_city is not among the configured sets")
    county = _county(data)
    cards = d.kpi_cards_html(data, d.View("no_fraud_city", PERIOD, county))
    panel = _panel(cards, "exposed_case_share")
    c = city.frames["cases"]
    c = c[c["county_code"].astype(str) == county]
    closed = pd.to_datetime(c["closed_date"])
    done = (c["status"] == "已结案") & (closed >= START) & (closed <= END)
    exposed = done & (c["exposed"].astype("boolean").fillna(False))
    assert panel["denominator"] == f"结案案件数{int(done.sum()):,}件"
    assert panel["numerator"] == f"其中公开曝光的案件数{int(exposed.sum()):,}件"


def test_months_summed_over_the_counties_are_county_months() -> None:
    """典型案例月度报送: a county's denominator is 12 个月; the city's is its ten counties' months
    summed, 120 — 区县·月 (declared `city_unit`), not 「120 个月」."""
    from workbench.declarations import load_set
    from workbench.presentation import definitions as pdef

    iset = load_set("campaign_2025")
    fact = pdef.facts(iset).set_index("indicator").loc["monthly_exposure"].to_dict()
    fact["indicator"] = "monthly_exposure"
    county = pdef.texts(fact, {"numerator": 11, "denominator": 12, "county_code": "990101"})
    city = pdef.texts(fact, {"numerator": 104, "denominator": 120, "county_code": "city"})
    card = pdef.texts(fact, {"numerator": 104, "denominator": 120, "whole": True})
    assert county["denominator_text"] == "统计期月数12个月"
    assert county["numerator_text"] == "报送典型案例的月数11个月"
    assert city["denominator_text"] == card["denominator_text"] == "统计期月数120区县·月"
    assert city["numerator_text"] == "报送典型案例的月数104区县·月"
