"""The dashboards' data against the real engine, on a small demo city: every number a page shows
is the engine's, what a set shows is its YAML's, and the disk cache round-trips (Parquet, JSON
and a memory-mapped KPI array)."""

from __future__ import annotations

import math
import re

import pytest

from workbench import dashboard as d
from workbench import results
from workbench.demo import generate_city
from workbench.warehouse import Warehouse

PERIODS = ["2025-08", "2025-09"]


@pytest.fixture(scope="module")
def city():
    return generate_city(4)


@pytest.fixture(scope="module")
def data(city) -> d.DashboardData:
    return d.from_engine(city.frames, periods=PERIODS, uncertainty_samples=20)


def _same(a: object, b: object) -> bool:
    fa, fb = d._float(a), d._float(b)
    if fa is None or fb is None:
        return fa is None and fb is None
    return math.isclose(fa, fb, rel_tol=1e-12, abs_tol=1e-12)


def test_shape_of_the_data(data, city):
    assert data.periods == PERIODS
    assert list(data.indicator_sets) == ["campaign_2025", "no_fraud_city", "screening_2025"]
    assert set(data.counties["county_code"]) == {c for c, _ in city.counties}
    assert "by_subject" in data.hierarchies and "campaign_progress" in data.hierarchies
    assert list(data.phases["name"])[:2] == ["动员部署", "自查自纠"]
    # no_fraud_city shows its own indicators; the campaign's stay with the campaign
    own = set(data.indicator_meta("no_fraud_city")["indicator"])
    assert "fund_recovery_rate" not in own and "institution_case_rate" in own


@pytest.mark.parametrize("period", PERIODS)
def test_every_kpi_is_the_engines(data, city, period):
    ev = results.evaluate(
        city.frames, period=period, indicator_set="campaign_2025", uncertainty_samples=20
    )
    for row in ev.kpis.to_dict("records") + ev.city_kpis.to_dict("records"):
        county = "" if row["county_code"] == "city" else row["county_code"]
        got = data.kpi(row["indicator"], period, county, "campaign_2025")
        for field in ("value", "numerator", "denominator", "target", "yoy"):
            assert _same(got[field], row[field]), (row["indicator"], county, field)


def test_cards_show_engine_values_formatted(data, city):
    ev = results.evaluate(
        city.frames, period="2025-09", indicator_set="campaign_2025", uncertainty_samples=20
    )
    html = d.kpi_cards_html(data, d.View("campaign_2025", "2025-09"))
    shown = dict(re.findall(r'data-indicator="(\w+)".*?data-kpi-value>([^<]*)<', html, re.S))
    for row in ev.city_kpis.to_dict("records"):
        assert shown[row["indicator"]] == d.format_value(row["value"], row["unit"])


def test_ranking_and_uncertainty_are_the_engines(data, city):
    ev = results.evaluate(
        city.frames, period="2025-09", indicator_set="no_fraud_city", uncertainty_samples=20
    )
    summary = ev.index["by_subject"].summary()
    ranking = data.ranking("2025-09", "by_subject")
    assert [r["county_code"] for r in ranking] == list(summary["county_code"])
    assert all(_same(r["score"], s) for r, s in zip(ranking, summary["score"]))
    unc = ev.uncertainty_table
    unc = unc[unc["hierarchy"] == "by_subject"].set_index("county_code")
    for r in ranking:
        assert _same(r["q05"], unc.loc[r["county_code"], "q05"])
        # the interval shown beside a rank contains that rank
        assert r["q05"] <= r["rank"] <= r["q95"], r


def test_lagging_list_is_the_engines(data, city):
    ev = results.evaluate(
        city.frames, period="2025-09", indicator_set="campaign_2025", uncertainty_samples=20
    )
    shown = {r["county_code"] for r in data.first_part("lagging", "campaign_2025", "2025-09")}
    assert shown == set(ev.lagging["county_code"].astype(str))
    html = d.lagging_html(data, d.View("campaign_2025", "2025-09"))
    for reasons in ev.lagging["reasons"]:
        for reason in str(reasons).split("；"):
            assert d._esc(reason) in html


def test_pages_build_on_engine_data(data):
    pytest.importorskip("anywidget")
    cp = d.Cockpit(data)
    # the first set (专项整治) ranks by its own index, 无骗保城市 by its index by subject
    assert cp.view.period == "2025-09" and cp.view.hierarchy == "campaign_progress"
    for name in ("kpis", "calendar", "lagging", "table", "ranking"):
        assert 'data-key="' + cp.view.key in cp.board.parts[name]["html"]
    code = str(data.counties["county_code"].iloc[0])
    cp.on_click(code)
    assert cp.view.county == code
    cp.on_select("indicator_set", "no_fraud_city")
    assert cp.view.focus in {d.INDEX} | set(data.indicator_meta("no_fraud_city")["indicator"])
    assert cp.view.hierarchy == "by_subject"


@pytest.mark.parametrize("code", ["campaign_2025", "no_fraud_city"])
def test_what_a_set_shows_is_its_yaml(data, city, code):
    """Funnel, bars, card groups and default index are the set's `presentation:` block, read
    here straight from its file: whatever the shipped YAML declares, the cockpit shows that."""
    import yaml

    from workbench.config import project_root

    path = project_root() / "indicators" / f"{code}.yaml"
    block = yaml.safe_load(path.read_text(encoding="utf-8")).get("presentation") or {}
    funnel = [(st["label"], st["indicator"], st["part"]) for st in block.get("funnel", [])]
    recovery = (block.get("recovery") or {}).get("indicator")
    rectification = (block.get("rectification") or {}).get("indicator")
    groups = [(g["name"], list(g["indicators"])) for g in block.get("card_groups", [])]
    shows = data.presentation_of(code)
    assert [(st["label"], st["indicator"], st["part"]) for st in shows["funnel"]] == funnel
    assert (shows["recovery"], shows["rectification"]) == (recovery, rectification)
    assert [(g["name"], g["indicators"]) for g in shows["card_groups"]] == groups
    if "default_index" in block:
        assert data.default_hierarchy(code) == block["default_index"]
    view = d.View(code, "2025-09")
    cards = re.findall(r'data-indicator="(\w+)"', d.kpi_cards_html(data, view))
    grouped = [c for _, codes in groups for c in codes]
    assert cards[: len(grouped)] == grouped
    stages = d.funnel_stages(data, view)
    # the stages count one cohort (the presentation layer's), so none is wider than the one above
    from workbench.declarations import load_set
    from workbench.measures import MeasureEngine
    from workbench.presentation import funnel as pfunnel

    cohort = pfunnel.cohort_counts(MeasureEngine(city.frames), load_set(code), "2025-09")
    city_rows = cohort[cohort["county_code"] == ""]
    # every declared stage has its number on the demo city, and 追回 is there when declared:
    # after the stages on the cases' ledger, before those linked to the cases (整改)
    labels = [s["label"] for s in stages]
    assert [x for x in labels if x != "追回"] == [f[0] for f in funnel]
    assert labels == list(city_rows["label"]) if recovery else "追回" not in labels
    counts = [s["count"] for s in stages]
    assert counts == list(city_rows["count"])
    assert all(a >= b for a, b in zip(counts, counts[1:])), counts
    if recovery:  # the cohort is the cases found in the window: the 追回 card's own cases
        rec = city_rows.set_index("stage").loc["recovered"]
        kpi = data.kpi(recovery, "2025-09", "", code)
        got, due = rec["amount_recovered"], rec["amount_due"]
        assert math.isclose(got, kpi["numerator"]) and math.isclose(due, kpi["denominator"])
        assert 0 < rec["count"] <= counts[labels.index("追回") - 1]
    pytest.importorskip("anywidget")
    parts = d.Cockpit(data, indicator_set=code).widget.parts
    assert parts["funnel"]["hidden"] is (not funnel)
    assert parts["rectification"]["hidden"] is (not rectification)


def test_cache_round_trip_with_memory_mapped_cube(tmp_path, city, monkeypatch):
    wh = tmp_path / "w.duckdb"
    with Warehouse(wh) as w:
        w.load_frames(city.frames)
    monkeypatch.setenv(d.ENV_CACHE_DIR, str(tmp_path / "cache"))
    d._MEMORY.clear()
    first = d.load(wh)
    (entry,) = (tmp_path / "cache").iterdir()
    files = sorted(p.name for p in entry.iterdir())
    # plain data only: nothing in the cache is a pickle or can execute when read
    assert "cube.npy" in files and "meta.json" in files and "kpis.parquet" in files
    assert all(f.endswith((".npy", ".json", ".parquet")) for f in files)
    assert oct((tmp_path / "cache").stat().st_mode & 0o777) == "0o700"
    d._MEMORY.clear()
    again = d.load(wh)  # from disk this time
    assert again is not first
    assert type(again.cube.arr).__name__ == "memmap"
    p = again.periods[-1]
    for code in ("", str(again.counties["county_code"].iloc[0])):
        a = first.kpi("fund_recovery_rate", p, code)
        b = again.kpi("fund_recovery_rate", p, code)
        assert all(_same(a[k], b[k]) for k in a)
    assert len(again.kpis) == 0  # the long table stays out of the kernels' memory
    assert again.ranking(p, again.default_hierarchy()) == first.ranking(
        p, first.default_hierarchy()
    )
