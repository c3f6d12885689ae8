"""What one cockpit kernel keeps, against the real engine on a small demo city: key look-ups
built on demand equal a plain filter of the table, repeated texts are held as categories yet
every part reads plain values, the trend's monthly scores are the ranking's, and the caches of
per-county tables keep only the last views."""

from __future__ import annotations

import pickle

import pandas as pd
import pytest

from workbench import dashboard as d
from workbench import fmt
from workbench.dashboard import data as ddata
from workbench.dashboard.lagging import overdue_case_rows
from workbench.dashboard.loading import TEXT_CATEGORIES, _read_cache, _write_cache
from workbench.demo import generate_city
from workbench.presentation import lists

PERIOD = "2025-09"


@pytest.fixture(scope="module")
def city():
    return generate_city(4)


@pytest.fixture(scope="module")
def data(city) -> d.DashboardData:
    return d.from_engine(city.frames, periods=["2025-08", PERIOD], uncertainty_samples=20)


def _fresh(data: d.DashboardData) -> d.DashboardData:
    """A copy with empty per-kernel caches (what a kernel holds right after loading)."""
    return pickle.loads(pickle.dumps(data))


def test_part_equals_a_filter_of_the_table_for_every_key(data):
    fresh = _fresh(data)
    for table, key in ddata._GROUP_KEYS.items():
        df = fresh._sorted(table)  # the table as `part` slices it
        if not len(df):
            continue
        for n in range(1, len(key) + 1):
            cols = list(key[:n])
            for values in df[cols].astype(object).drop_duplicates().itertuples(index=False):
                mask = pd.Series(True, index=df.index)
                for c, v in zip(cols, values):
                    mask &= df[c].astype(object) == v
                got = fresh.part(table, *values)
                assert list(got.index) == list(df.index[mask]), (table, values)
        assert fresh.part(table, *(["无此键"] * len(key))).empty
    # a key found at the first column but not at the next is empty, not the first's rows
    assert fresh.part("funnel", "campaign_2025", "1999-01").empty


def test_only_the_blocks_asked_for_get_their_county_ranges(data):
    fresh = _fresh(data)
    fresh.part("funnel", "campaign_2025", PERIOD, "")
    deep = [k for k in fresh._ranges if k[0] == "funnel" and len(k) == 3]
    assert deep == [("funnel", "campaign_2025", PERIOD)]


def test_text_columns_are_categories_and_the_overdue_part_reads_plain_values(data, city):
    for table, cols in TEXT_CATEGORIES.items():
        df = getattr(data, table)
        for c in cols:
            if c in df.columns and len(df):
                assert isinstance(df[c].dtype, pd.CategoricalDtype), (table, c)
    rows = overdue_case_rows(data, d.View("campaign_2025", PERIOD))
    assert not any(isinstance(t, pd.CategoricalDtype) for t in rows.dtypes)
    listed = lists.overdue_cases(city.frames, PERIOD)
    assert len(rows) == len(listed) > 0
    got = sorted(zip(rows["case_id"], rows["status"], rows["days_overdue"]))
    want = sorted(zip(listed["case_id"], listed["status"], listed["days_overdue"]))
    assert got == want
    recs = data.records("talks", "campaign_2025", PERIOD)
    assert recs and all(type(r["county_code"]) is str for r in recs)


def test_a_cache_written_with_plain_texts_reads_back_as_categories(data, tmp_path):
    old = _fresh(data).warm()
    old.talks = ddata.plain(old.talks)  # as a cache entry written before categories
    old.overdue_cases = ddata.plain(old.overdue_cases)
    _write_cache(tmp_path, "k", old)
    again = _read_cache(tmp_path, "k")
    assert isinstance(again.talks["reasons"].dtype, pd.CategoricalDtype)
    assert isinstance(again.overdue_cases["case_id"].dtype, pd.CategoricalDtype)
    v = d.View("campaign_2025", PERIOD)
    assert d.Cockpit(again).widget.parts == d.Cockpit(_fresh(data)).widget.parts
    assert overdue_case_rows(again, v).equals(overdue_case_rows(data, v))


def test_the_trend_scores_are_the_rankings(data):
    fresh = _fresh(data)
    for p in fresh.periods:
        for h in fresh.hierarchies:
            scores = fresh.scores(p, h)  # before any ranking of that month is built
            ranking = fresh.ranking(p, h)
            want = {r["county_code"]: fmt.finite(r["score"]) for r in ranking}
            assert list(scores.items()) == list(want.items()) and scores


def test_the_least_recently_used_view_goes_first():
    cache: dict = {}
    for i in range(20):
        assert ddata._lru(cache, (i,), lambda i=i: i * 10, 12) == i * 10
    assert list(cache) == [(i,) for i in range(8, 20)]
    assert ddata._lru(cache, (8,), lambda: -1, 12) == 80  # kept, now the most recent
    ddata._lru(cache, (20,), lambda: 200, 12)
    assert (9,) not in cache and (8,) in cache and len(cache) == 12


def test_map_colours_and_rankings_are_kept_for_the_last_views_only(data, monkeypatch):
    monkeypatch.setattr(ddata, "BIG_VIEWS", 2)
    fresh = _fresh(data)
    iset = next(iter(fresh.indicator_sets))
    hier = fresh.default_hierarchy(iset)
    for p in fresh.periods:
        for focus in [d.INDEX, *list(fresh.cube.indicators[iset])[:2]]:
            d.map_colours(fresh, d.View(iset, p, "", focus, hier))
    assert len(fresh._big) == 2 and len(fresh._rankings) <= 2
