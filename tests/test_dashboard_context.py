"""The view travels in the URL: links between the cockpit and a county page, the address bar."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest

from tests.test_dashboard import sample_data
from workbench import dashboard as d

pytest.importorskip("anywidget")


def _data() -> d.DashboardData:
    data = sample_data()
    data.indicator_sets["other_set"] = "另一指标集"
    data.hierarchies = {"by_subject": "按主体", "progress": "进度"}
    for table in ("index", "uncertainty"):
        frame = getattr(data, table)
        setattr(data, table, pd.concat([frame, frame.assign(hierarchy="progress")]))
    return data


def _params(href: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(unescape(href)).query).items()}


def _hrefs(html: str, cls: str = "") -> list[str]:
    pat = rf'<a class="{cls}"[^>]*href="([^"]+)"' if cls else r'href="([^"]+)"'
    return re.findall(pat, html)


def test_query_round_trip():
    v = d.View("campaign_2025", "2025-08", "990102", "case_count", "progress")
    q = v.query()
    assert _params("x?" + q) == {
        "set": "campaign_2025",
        "period": "2025-08",
        "county": "990102",
        "index": "progress",
        "indicator": "case_count",
    }
    assert d.parse_query(q) == {
        "indicator_set": "campaign_2025",
        "period": "2025-08",
        "county": "990102",
        "hierarchy": "progress",
        "focus": "case_count",
    }
    # the whole city and the index as focus are the defaults: left out of the URL
    city = d.View("campaign_2025", "2025-08", d.CITY, d.INDEX, "progress")
    assert "county" not in _params("x?" + city.query())
    assert "indicator" not in _params("x?" + city.query())
    assert d.parse_query("?token=abc&period=2025-07&x=1") == {"period": "2025-07"}


def test_every_link_to_a_county_page_carries_the_view():
    data = _data()
    cp = d.Cockpit(data, geojson="/nonexistent.geojson")
    cp.open_query("period=2025-08&index=progress&indicator=case_count&county=990103")
    v = cp.view
    assert (v.period, v.hierarchy, v.focus, v.county) == (
        "2025-08",
        "progress",
        "case_count",
        "990103",
    )
    want = {
        "set": "campaign_2025",
        "period": "2025-08",
        "index": "progress",
        "indicator": "case_count",
    }
    header = cp.widget.parts["header"]["html"]
    (open_link,) = _hrefs(header, "wb-open")
    assert open_link.startswith("county.ipynb?") and _params(open_link) == {
        **want,
        "county": "990103",
    }
    # the lagging list and the ranking table link to the county they name, in the same context
    for part in ("lagging", "table"):
        links = _hrefs(cp.widget.parts[part]["html"])
        assert links, part
        for href in links:
            got = _params(href)
            assert got.pop("county") and got == want, (part, href)
    # the address bar follows: the board carries the view's query and may now rewrite the URL
    assert cp.widget.follow_url and d.parse_query(cp.widget.query) == {
        "indicator_set": "campaign_2025",
        "period": "2025-08",
        "county": "990103",
        "hierarchy": "progress",
        "focus": "case_count",
    }
    cp.on_select("period", "2025-07")
    assert _params("x?" + cp.widget.query)["period"] == "2025-07"


def test_the_county_page_opens_in_context_and_leads_back_to_it():
    data = _data()
    page = d.CountyPage(data, ledgers=lambda c: {})
    page.open_query(
        "county=990102&period=2025-08&set=campaign_2025&index=progress&indicator=case_count"
    )
    v = page.view
    assert (v.county, v.period, v.hierarchy, v.focus) == (
        "990102",
        "2025-08",
        "progress",
        "case_count",
    )
    assert page.drill_indicator == "case_count"  # the indicator seen on the cockpit is drilled
    assert page.widget.values["drill"] == "case_count"
    (back,) = _hrefs(page.widget.parts["header"]["html"], "wb-back")
    assert back.startswith("cockpit.ipynb?")
    assert _params(back) == {
        "set": "campaign_2025",
        "period": "2025-08",
        "county": "990102",
        "index": "progress",
        "indicator": "case_count",
    }
    page.on_select("drill", "fund_recovery_rate")  # another indicator travels back too
    (back,) = _hrefs(page.widget.parts["header"]["html"], "wb-back")
    assert _params(back)["indicator"] == "fund_recovery_rate"
    # back on the cockpit, the same view
    cp = d.Cockpit(data, geojson="/nonexistent.geojson")
    cp.open_query(unescape(back).split("?", 1)[1])
    assert cp.view == page.view


def test_values_the_data_does_not_hold_are_ignored():
    data = _data()
    cp = d.Cockpit(data, geojson="/nonexistent.geojson")
    before = cp.view
    cp.open_query("period=2031-01&set=nope&index=nope&indicator=nope&county=123456")
    assert cp.view == before
    page = d.CountyPage(data, county="990101", ledgers=lambda c: {})
    page.open_query("county=123456&period=2025-07")
    assert page.view.county == "990101" and page.view.period == "2025-07"
    assert "123456" in page.widget.parts["notice"]["html"]


def test_query_string_outside_voila(monkeypatch):
    monkeypatch.setenv("VOILA_PREHEAT", "False")
    monkeypatch.setenv("QUERY_STRING", "county=990102&period=2025-08")
    assert d.query_string() == "county=990102&period=2025-08"
    assert d.county_from_query() == "990102"
