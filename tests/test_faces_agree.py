"""Every face shows the same text for the same KPI: the cockpit card (city and county pages use
one builder), the county report card, the city report's and 通报's table and the exported
tables — for every KPI, every county and the city, at a baseline-year month, a campaign month
and the latest month — and a few of them equal a value computed here by hand from the ledgers."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd
import pytest

from workbench import dashboard as d
from workbench import report, results
from workbench.demo import generate_city
from workbench.warehouse import Warehouse

PERIODS = ["2024-06", "2025-06", "2025-12"]
SET = "campaign_2025"


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    demo = generate_city(4, seed=7)
    path = tmp_path_factory.mktemp("faces") / "w.duckdb"
    with Warehouse(path) as wh:
        wh.load_frames(demo.frames, period="2025-12")
    return {"path": path, "frames": demo.frames, "codes": [c for c, _ in demo.counties]}


@pytest.fixture(scope="module")
def cockpit(city):
    return d.from_engine(city["path"], periods=PERIODS, uncertainty_samples=10)


def cockpit_texts(data, period, county):
    out = {}
    page = d.kpi_cards_html(data, d.View(SET, period, county))
    for m in re.finditer(
        r'data-indicator="([^"]+)".*?data-kpi-value>([^<]*)<.*?wb-kpi-meta">([^<]*)<', page, re.S
    ):
        out[m.group(1)] = (html.unescape(m.group(2)), html.unescape(m.group(3)))
    return out


def report_texts(page):
    out = {}
    for m in re.finditer(
        r'data-indicator="([^"]+)">.*?<div class="v">([^<]*)</div>.*?目标：([^ ]*) ', page, re.S
    ):
        out[m.group(1)] = (html.unescape(m.group(2)), html.unescape(m.group(3)))
    return out


def export_texts(ev, tmp: Path):
    from workbench.indicators import span_label

    shown_span = span_label(ev.span, ev.indicator_set.calendar)
    paths = ev.export(tmp, formats=("csv",), uncertainty=False)
    out = {}
    for p in paths:
        if p.name.endswith(("_区县指标.csv", "_全市指标.csv")):
            df = pd.read_csv(p, dtype=str, keep_default_na=False)
            for r in df.to_dict("records"):
                if r["统计口径"] != shown_span:
                    continue
                county = "" if r["区划代码"] == "全市" else r["区划代码"]
                out[(county, r["指标代码"])] = (r["指标值（显示）"], r["目标（显示）"])
    return out


@pytest.mark.parametrize("period", PERIODS)
def test_every_face_shows_the_same_text(city, cockpit, period, tmp_path):
    ev = results.evaluate(city["path"], period=period, indicator_set=SET, uncertainty_samples=10)
    exported = export_texts(ev, tmp_path)
    presented = {
        ("" if r["county_code"] == "city" else r["county_code"], r["indicator"]): r
        for r in pd.concat([ev.presented(), ev.presented(city=True)]).to_dict("records")
    }
    assert len(presented) == len(ev.indicator_set.indicators) * (len(city["codes"]) + 1)
    city_rep = report.city_report(period, str(city["path"]), SET)
    table = city_rep.kpi_frame()
    by_name = dict(zip(table["指标"], zip(table["当前值"], table["目标"])))
    checked = 0
    for county in ["", *city["codes"]]:
        cards = cockpit_texts(cockpit, period, county)
        rep = (
            report_texts(report.kpi_cards(city_rep.city_kpi_rows())._repr_html_())
            if not county
            else report_texts(
                report.county_report(county, period, str(city["path"]), SET)
                .kpi_cards()
                ._repr_html_()
            )
        )
        for code, ind in ev.indicator_set.indicators.items():
            row = presented[(county, code)]
            want_value, want_target = row["value_text"], row["target_text"]
            if code in cards:  # the cockpit shows the set's own cards
                value, meta = cards[code]
                assert value == want_value, (county, code)
                if want_target != "—":
                    assert f"目标 {want_target}" in meta, (county, code)
            assert rep[code] == (want_value, want_target), (county, code)
            assert exported[(county, code)] == (want_value, want_target), (county, code)
            if not county:
                assert by_name[ind.name] == (want_value, want_target), code
            checked += 1
    assert checked == len(presented)


def test_some_texts_equal_a_hand_computation(city):
    """立案数 and 基金追回率 for the first county and the city, year to date 2025-06, from the
    ledger rows by the catalogue's definitions (status not 已撤销; filed / found in the window)."""
    cases = city["frames"]["cases"].copy()
    cases = cases[cases["status"] != "已撤销"]
    lo, hi = pd.Timestamp("2025-01-01"), pd.Timestamp("2025-06-30")
    filed = pd.to_datetime(cases["filed_date"])
    found = pd.to_datetime(cases["found_date"])
    ev = results.evaluate(city["path"], period="2025-06", indicator_set=SET, uncertainty_samples=10)
    rows = {
        (r["county_code"], r["indicator"]): r
        for r in pd.concat([ev.presented(), ev.presented(city=True)]).to_dict("records")
    }
    first = city["codes"][0]
    for unit, mask in (
        (first, cases["county_code"].astype(str) == first),
        ("city", pd.Series(True, index=cases.index)),
    ):
        n_filed = int((mask & (filed >= lo) & (filed <= hi)).sum())
        assert rows[(unit, "case_count")]["value_text"] == f"{n_filed:,}件"
        in_window = mask & (found >= lo) & (found <= hi)
        rate = (
            cases.loc[in_window, "amount_recovered"].sum()
            / cases.loc[in_window, "amount_due"].sum()
        )
        # one decimal of a percentage, half up, as the report writes it
        want = f"{float(pd.Series([rate * 100]).round(1).iloc[0]):.1f}%"
        assert rows[(unit, "fund_recovery_rate")]["value_text"] == want


@pytest.mark.parametrize("period", PERIODS)
def test_overdue_card_equals_the_list_beside_it(city, cockpit, period):
    """超期未结案件数 on the cockpit's card is the number of rows of its 超过办案时限未结案件 list
    (and of the 通报's and county reports' list, `presentation.lists.overdue_cases`), for the
    city and every county."""
    from workbench.dashboard.lagging import overdue_cases_html
    from workbench.presentation import lists

    for county in ["", *city["codes"]]:
        view = d.View(SET, period, county)
        card = cockpit.kpi("overdue_open_cases", period, county, SET)
        note = re.search(r"仍未结案(\d+)件", overdue_cases_html(cockpit, view))
        listed = lists.overdue_cases(city["frames"], period, county or None)
        assert card["value"] == int(note.group(1)) == len(listed), (period, county)


def test_overdue_count_equals_the_list_at_every_demo_month():
    """On the shipped demo city (10 counties, 2024-01…2025-12): every county's and the city's
    超期未结案件数 equals the overdue list's length at every month."""
    from workbench.declarations import load_set
    from workbench.presentation import lists

    frames = generate_city().frames
    ev = results.evaluate(frames, "2025-12", load_set(SET), uncertainty_samples=0)
    trends = ev.trends("overdue_open_cases")
    months = sorted(set(trends["period"].astype(str)))
    assert months[0] <= "2024-01" and months[-1] == "2025-12"
    for period in months:
        listed = lists.overdue_cases(frames, period)
        per = lists.count_by_county(listed)
        at = trends[trends["period"].astype(str) == period]
        for code, value in zip(at["county_code"].astype(str), at["value"]):
            want = len(listed) if code in ("", "city") else int(per.get(code, 0))
            assert value == want, (period, code)
    assert len(lists.overdue_cases(frames, "2025-12")) > 0
