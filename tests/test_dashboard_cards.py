"""KPI cards: a zero is a number (not 无数据), titles are short names with the full name on
hover, and a long group label never hides the title."""

from __future__ import annotations

import html as htmlmod
import re

import pandas as pd

from tests.test_dashboard import sample_data, view
from workbench import dashboard as d


def _card(html: str, indicator: str) -> str:
    m = re.search(rf'<div class="wb-kpi [^"]*" data-indicator="{indicator}".*?</div></div>', html)
    assert m, indicator
    return m.group(0)


def test_a_target_or_value_of_zero_is_judged():
    """≤0件 with 459 cases is 未达标, and 0 cases against ≤0件 is 达标 — not 无数据."""
    data = sample_data()
    k = data.kpis
    sel = (k["indicator"] == "case_count") & (k["period"] == "2025-09")
    k.loc[sel, ["target", "gap"]] = [0.0, 459.0]
    k.loc[sel & (k["county_code"] == ""), ["value", "numerator", "gap"]] = [459.0, 459.0, 459.0]
    k.loc[sel & (k["county_code"] == "990101"), ["value", "numerator", "gap"]] = [0.0, 0.0, 0.0]
    k.loc[sel, "met"] = k.loc[sel, "value"] <= 0
    meta = data.indicators
    meta.loc[meta["indicator"] == "case_count", "op"] = "<="
    data = d.DashboardData(
        **{
            f.name: getattr(data, f.name)
            for f in d.DashboardData.__dataclass_fields__.values()
            if f.init
        }
    )
    city = _card(d.kpi_cards_html(data, view()), "case_count")
    assert 'data-status="miss"' in city and "未达标" in city and "≤0件" in city
    county = _card(d.kpi_cards_html(data, view(county="990101")), "case_count")
    assert 'data-status="met"' in county and ">0件<" in county


def test_cards_use_the_short_name_and_show_the_full_name_on_hover():
    data = sample_data()
    meta = data.indicators
    meta["short_name"] = meta["name"]
    meta.loc[meta["indicator"] == "fund_recovery_rate", "short_name"] = "追回率"
    meta.loc[meta["indicator"] == "fund_recovery_rate", "group"] = "定点医药机构"
    data = d.DashboardData(
        **{
            f.name: getattr(data, f.name)
            for f in d.DashboardData.__dataclass_fields__.values()
            if f.init
        }
    )
    card = _card(d.kpi_cards_html(data, view()), "fund_recovery_rate")
    name = re.search(r'<span class="wb-kpi-title"[^>]*title="([^"]*)"[^>]*>([^<]*)</span>', card)
    assert name, card
    assert htmlmod.unescape(name.group(2)) == "追回率"
    assert htmlmod.unescape(name.group(1)) == "基金追回率"  # the full name on hover
    # the card's own tooltip starts with the full name too (then what it measures)
    title = re.search(r'<div class="wb-kpi [^"]*"[^>]*title="([^"]*)"', card).group(1)
    assert htmlmod.unescape(title).startswith("基金追回率")
    # the group label is its own element: the title is never cut to make room for it
    assert '<span class="wb-kpi-group">定点医药机构</span>' in card


def test_the_shipped_short_names_fit_a_card():
    """Every shipped indicator has a short name of at most 8 characters (a card's title line at
    1366×768 holds about 9), or a name that short."""
    from workbench.declarations import available_sets, load_sets
    from workbench.presentation import kpis as pk

    too_long = []
    for iset in load_sets(available_sets()):
        for code in iset.indicators:
            short = pk.display_of(iset, code).short_name
            if len(short) > 8:
                too_long.append((iset.code, code, short))
    assert not too_long, too_long


def test_zero_rows_are_numbers_in_present_one():
    from workbench.presentation import kpis as pk

    disp = pk.Display(name="x", short_name="x", unit="件", op="<=")
    row = {"value": 0.0, "target": 0.0, "met": 1.0, "gap": 0.0}
    assert pk.present_one(disp, row, "2025-09")["status"] == pk.MET
    assert pd.isna(pk._or_nan(None)) and pk._or_nan(0) == 0.0
