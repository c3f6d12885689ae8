"""The cockpit and the county page in a real browser, against the real engine on the demo city."""

from __future__ import annotations

import json
import math
import re

import pytest

from tests.browser.conftest import ARTIFACTS, COCKPIT_PARTS, COUNTY_PARTS
from workbench import dashboard, results
from workbench.dashboard import drill

ID_NUMBER = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")


def _period(key: str) -> str:
    return key.split("|")[1]


def _county(key: str) -> str:
    c = key.split("|")[2]
    return "" if c == "city" else c


def _assert_cards_match(cards: dict, expected) -> None:
    """Every KPI card shows the engine's value: the formatted text exactly, the raw number to
    1e-12 (the engine sums ledger rows in the order DuckDB returns them, so two evaluations of
    the same data can differ in the last bit)."""
    assert set(cards) == set(expected["indicator"]), (set(cards), set(expected["indicator"]))
    for row in expected.to_dict("records"):
        card = cards[row["indicator"]]
        value = row["value"]
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        if missing:
            assert card["value"] == "", (row["indicator"], card)
        else:
            assert math.isclose(float(card["value"]), float(value), rel_tol=1e-12, abs_tol=1e-12), (
                row["indicator"],
                card,
                value,
            )
        assert card["text"] == dashboard.format_value(value, row["unit"]), (row["indicator"], card)


def _record(name: str, values: dict) -> None:
    path = ARTIFACTS / "browser-timings.json"
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    data[name] = values
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


def test_cockpit_loads_without_errors_and_shows_engine_kpis(open_page, demo_warehouse):
    page = open_page()
    seconds = page.open("voila/render/cockpit.ipynb", COCKPIT_PARTS)
    key = page.key()
    period = _period(key)
    assert period == dashboard._capped(
        results.latest_complete_period(demo_warehouse), results.load_ledgers(demo_warehouse)
    )
    ev = results.evaluate(demo_warehouse, period=period, indicator_set="campaign_2025")
    _assert_cards_match(page.kpi_cards(), ev.city_kpis)
    text = page.page.inner_text("body")
    assert "领导驾驶舱" in text and "演示数据" in text and "年" in text and "进度滞后" in text
    # the funnel shows the stages the set declares, and is not there when it declares none
    funnel = dashboard.declared_presentation(ev.indicator_set)["funnel"]
    assert all(st["label"] in text for st in funnel)
    shown = page.page.locator("[data-parts='funnel']").is_visible()
    assert shown is bool(funnel)
    assert not page.page.locator(".wb-chart[data-error]").count()
    # readable at 1366×768: nothing wider than the screen
    overflow = page.page.evaluate("""() => {
        const rc = document.querySelector('#rendered_cells');
        return [document.documentElement.scrollWidth, rc.scrollWidth, rc.clientWidth]; }""")
    assert overflow[0] <= 1366 and overflow[1] <= overflow[2] + 1, overflow
    page.page.screenshot(path=str(ARTIFACTS / "cockpit-1366x768.png"))
    page.screenshot("cockpit-full")
    _record("cockpit_first_render_s", {"seconds": round(seconds, 2)})
    assert page.errors == []


def test_changing_period_and_county_updates_every_chart(open_page, demo_warehouse):
    page = open_page()
    page.open("voila/render/cockpit.ipynb", COCKPIT_PARTS)
    before = page.key()
    options = page.page.eval_on_selector_all(".wb-sel-period option", "os => os.map(o => o.text)")
    target = options[min(3, len(options) - 1)]
    ms_period, key = page.select(".wb-sel-period", label=target)
    assert key != before and dashboard.fmt.month_label(_period(key)) == target
    assert set(page.keys()) == set(COCKPIT_PARTS) and set(page.keys().values()) == {key}
    ev = results.evaluate(demo_warehouse, period=_period(key), indicator_set="campaign_2025")
    _assert_cards_match(page.kpi_cards(), ev.city_kpis)

    lagging = ev.lagging["county_code"].tolist() or ev.kpis["county_code"].tolist()
    county = str(lagging[0])
    ms_county, key = page.select(
        ".wb-sel-county",
        value=None,
        label=page.page.eval_on_selector(
            ".wb-sel-county select",
            f"s => [...s.options].find(o => o.text.includes('{county}')).text",
        ),
    )
    assert _county(key) == county and set(page.keys().values()) == {key}
    county_rows = ev.kpis[ev.kpis["county_code"] == county]
    _assert_cards_match(page.kpi_cards(), county_rows)
    assert page.page.locator(f"a.wb-open[data-open-county='{county}']").count() == 1
    assert page.page.locator(f".wb-map path.wb-selected[data-county='{county}']").count() == 1

    other = page.page.eval_on_selector_all(
        ".wb-map path[data-county]", "ps => ps.map(p => p.dataset.county)"
    )
    other = next(c for c in other if c != county)
    ms_map, key = page.change(
        lambda: page.page.locator(f".wb-map path[data-county='{other}']").click()
    )
    assert _county(key) == other and set(page.keys().values()) == {key}

    ms_focus, key = page.select(
        ".wb-sel-focus",
        value=None,
        label=page.page.eval_on_selector(".wb-sel-focus select", "s => s.options[1].text"),
    )
    assert key.split("|")[3] != dashboard.INDEX
    page.screenshot("cockpit-after-changes")
    _record(
        "cockpit_interaction_ms",
        {
            "period": round(ms_period),
            "county": round(ms_county),
            "map_click": round(ms_map),
            "focus": round(ms_focus),
        },
    )
    assert page.errors == []


def test_indicator_set_switch_shows_that_sets_cards(open_page, demo_warehouse):
    page = open_page()
    page.open("voila/render/cockpit.ipynb", COCKPIT_PARTS)
    sets = page.page.eval_on_selector_all(
        ".wb-sel-indicator-set option", "os => os.map(o => o.text)"
    )
    assert len(sets) >= 2
    _, key = page.select(".wb-sel-indicator-set", label=sets[1])
    iset = key.split("|")[0]
    ev = results.evaluate(demo_warehouse, period=_period(key), indicator_set=iset)
    own = dashboard._own_indicators(ev.indicator_set)
    _assert_cards_match(page.kpi_cards(), ev.city_kpis[ev.city_kpis["indicator"].isin(own)])
    assert page.errors == []


def test_drilldown_opens_from_the_cockpit(open_page, demo_warehouse):
    page = open_page()
    page.open("voila/render/cockpit.ipynb", COCKPIT_PARTS)
    county = page.page.eval_on_selector_all(
        ".wb-map path[data-county]", "ps => ps.map(p => p.dataset.county)"
    )[-1]
    page.change(lambda: page.page.locator(f".wb-map path[data-county='{county}']").click())
    page.page.locator("a.wb-open").click()
    page.page.wait_for_url(re.compile(rf"county\.ipynb\?.*county={county}"), timeout=60_000)
    page.page.wait_for_function(
        "([parts, c]) => { const els = [...document.querySelectorAll('[data-part]')];"
        " const names = new Set(els.map(e => e.dataset.part));"
        " return parts.every(p => names.has(p)) && els.every(e => (e.dataset.key || '')"
        ".split('|')[2] === c) && [...document.querySelectorAll('.wb-chart')]"
        ".every(e => e.dataset.live === '1'); }",
        arg=[list(COUNTY_PARTS), county],
        timeout=180_000,
        polling=100,
    )
    key = page.key()
    ev = results.evaluate(demo_warehouse, period=_period(key), indicator_set="campaign_2025")
    name = str(ev.county_names.get(county))
    assert name in page.page.inner_text("[data-part=header]")
    _assert_cards_match(page.kpi_cards(), ev.kpis[ev.kpis["county_code"] == county])
    rank = ev.index["by_subject"].summary() if "by_subject" in ev.index else None
    if rank is None:
        nf = results.evaluate(demo_warehouse, period=_period(key), indicator_set="no_fraud_city")
        rank = nf.index["by_subject"].summary()
    r = int(rank.loc[rank["county_code"] == county, "rank"].iloc[0])
    assert f"第{r}名" in page.page.inner_text("[data-part=rank]")
    # drill-through to ledger rows, personal data masked
    drill = page.page.locator(".wb-sel-drill select")
    drill.select_option(
        value=None,
        label=drill.evaluate("s => [...s.options].find(o => o.text === '基金追回率').text"),
    )
    page.page.wait_for_selector(
        "[data-part=drill][data-indicator=fund_recovery_rate] table", timeout=60_000
    )
    text = page.page.inner_text("body")
    assert "分子台账明细" in text and "案件台账" in text
    assert not ID_NUMBER.search(text), ID_NUMBER.search(text)
    page.screenshot("county-drilldown")
    assert page.errors == []


def test_county_page_unknown_code_says_so(open_page):
    page = open_page()
    page.page.goto(page.base + "voila/render/county.ipynb?county=123456", wait_until="commit")
    page.page.wait_for_selector("[data-part=notice].wb-notice", timeout=180_000)
    assert "123456" in page.page.inner_text("[data-part=notice]")
    assert page.errors == []


def test_wall_display(open_page):
    page = open_page(width=2560, height=1440)
    page.open("voila/render/cockpit.ipynb", COCKPIT_PARTS)
    size = page.page.evaluate(
        "() => parseFloat(getComputedStyle(document.querySelector('.wb-kpi-value')).fontSize)"
    )
    assert size >= 30, size  # the type scales up on a wall display
    page.page.screenshot(path=str(ARTIFACTS / "cockpit-2560x1440.png"))
    assert page.errors == []


@pytest.mark.parametrize("path", ["voila/render/cockpit.ipynb", "voila/render/county.ipynb"])
def test_sources_are_stripped(server, path):
    import urllib.request

    with urllib.request.urlopen(server + path, timeout=180) as r:
        body = r.read().decode("utf-8", "replace")
    assert "dashboard.cockpit(" not in body and "county_page(" not in body
    assert "cdn.jsdelivr.net" not in body


def test_only_dashboards_are_served(server):
    import urllib.error
    import urllib.request

    for path in (
        "voila/files/cockpit.ipynb",
        "voila/render/../workbench/dashboard/page.py",
        "voila/files/../pyproject.toml",
    ):
        try:
            with urllib.request.urlopen(server + path, timeout=60) as r:
                body = r.read().decode("utf-8", "replace")
            assert "import" not in body and "[project]" not in body, path
        except urllib.error.HTTPError as exc:
            assert exc.code in (403, 404), (path, exc.code)


def test_token_is_required_when_set(demo_warehouse, server, browser, cache_env, artifacts):
    """A token-protected server (what `--host 0.0.0.0` requires) refuses pages without it."""
    import urllib.error
    import urllib.request

    from tests.browser.conftest import Page, Serve

    token = "wb-test-token-0123456789"
    srv = Serve(
        ["--warehouse", str(demo_warehouse), "--pool-size", "0", "--no-precompute"],
        {**cache_env, "WORKBENCH_DASHBOARD_TOKEN": token},
        artifacts / "serve-token.log",
    )
    try:
        srv.wait()
        page_url = srv.url + "voila/render/cockpit.ipynb"
        try:
            with urllib.request.urlopen(page_url, timeout=120) as r:
                body = r.read().decode("utf-8", "replace")
            assert "jupyter-config-data" not in body  # a login page, never the cockpit
        except urllib.error.HTTPError as exc:
            assert exc.code in (401, 403)
        page = Page(browser, srv.url)
        try:
            page.open(f"voila/render/cockpit.ipynb?token={token}", COCKPIT_PARTS)
            assert page.errors == []
        finally:
            page.close()
    finally:
        srv.stop()


# The rendered width of a select's longest option in the select's own font, and the room the
# select gives its text (its inner width less padding and chromium's drop-down arrow, ~1.2em).
JS_SELECT_FIT = """s => {
    const cs = getComputedStyle(s);
    const g = document.createElement('canvas').getContext('2d');
    g.font = `${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
    const texts = [...s.options].map(o => o.text);
    const widest = Math.max(...texts.map(x => g.measureText(x).width));
    const room = s.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight)
        - 1.2 * parseFloat(cs.fontSize);
    return {widest, room, title: s.title, selected: s.options[s.selectedIndex].text, texts};
}"""


def _assert_set_name_readable(page) -> None:
    fit = page.page.locator(".wb-sel-indicator-set select").evaluate(JS_SELECT_FIT)
    assert fit["widest"] <= fit["room"], fit  # the whole name shows, not 「…“两升两降一规」
    assert fit["title"] == fit["selected"], fit  # and hovering names it in full


def test_long_names_and_tables_fit_at_1366(open_page, demo_warehouse):
    """At 1366×768 the indicator set's full name shows in its picker (cockpit and county page),
    and the county page's 逾期未整改事项 table shows every column without sideways scrolling."""
    page = open_page()
    page.open("voila/render/cockpit.ipynb", COCKPIT_PARTS)
    page.page.screenshot(path=str(ARTIFACTS / "cockpit-set-name-1366.png"))
    _assert_set_name_readable(page)
    sets = page.page.eval_on_selector_all(
        ".wb-sel-indicator-set option", "os => os.map(o => o.text)"
    )
    page.select(".wb-sel-indicator-set", label=sets[1])
    _assert_set_name_readable(page)  # the title follows the choice

    period = _period(page.key())
    ledgers = results.load_ledgers(demo_warehouse)
    counts = {
        c: len(drill.overdue_items(ledgers, c, period))
        for c in sorted(results.evaluate(demo_warehouse, period=period).county_names.index)
    }
    county = max(counts, key=lambda c: (counts[c], c))
    assert counts[county] > 0, counts
    county_page = open_page()
    county_page.open(f"voila/render/county.ipynb?county={county}", COUNTY_PARTS)
    county_page.screenshot("county-overdue-1366")
    _assert_set_name_readable(county_page)
    box = county_page.page.locator("[data-part=overdue] .wb-scroll").evaluate(
        """d => { const t = d.querySelector('table');
            const ths = [...t.querySelectorAll('th')];
            const last = ths[ths.length - 1].getBoundingClientRect();
            return {table: t.scrollWidth, box: d.clientWidth, scroll: d.scrollWidth,
                    lastRight: last.right, boxRight: d.getBoundingClientRect().right,
                    lastHead: ths[ths.length - 1].textContent}; }"""
    )
    assert box["table"] <= box["box"] and box["scroll"] <= box["box"], box
    assert box["lastRight"] <= box["boxRight"] + 1, box  # 「发现日期」 whole, not 「发现日」
    # the position panel beside it keeps its table within the panel too
    rank = county_page.page.locator("[data-part=rank] table").evaluate(
        "t => [t.scrollWidth, t.parentElement.clientWidth]"
    )
    assert rank[0] <= rank[1], rank
    assert page.errors == [] and county_page.errors == []
