"""The shipped own-data example (docs/分析自有数据.md) in a real browser: `workbench serve --set
enforcement --indicators-dir …` against a warehouse that holds only the example's table. The
cockpit offers that one set over its fiscal years, ranks by the set's own index, shows none of
the campaign's parts (funnel, 整改进度, calendar, lagging list) and says 地区/全省, never
区县/全市."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tests.browser.conftest import ARTIFACTS, ROOT, Page, Serve, _require_browser

EXAMPLE = ROOT / "data_samples" / "自有数据示例"
FOLDER = EXAMPLE / "indicators"
# the parts the page builds for every set (the campaign's come too, hidden)
PARTS = ("header", "kpis", "ranking", "map", "trend", "table", "funnel", "calendar", "lagging")


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _require_browser()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    work = tmp_path_factory.mktemp("own_data")
    wh = work / "wh.duckdb"
    csv = EXAMPLE / "执法统计_2019-2024财年.csv"
    cmd = [sys.executable, "-m", "workbench.cli", "ingest", "--table", "enforcement_stats"]
    cmd += [str(csv), "--indicators-dir", str(FOLDER), "--warehouse", str(wh)]
    rc = subprocess.call(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert rc in (0, 1) and wh.is_file()  # 1: the example's one bad row was quarantined
    args = ["--warehouse", str(wh), "--set", "enforcement", "--indicators-dir", str(FOLDER)]
    args += ["--pool-size", "1", "--cull-idle", "600"]
    srv = Serve(
        args, {"WORKBENCH_DASHBOARD_CACHE": str(work / "cache")}, ARTIFACTS / "serve-own.log"
    )
    try:
        srv.wait()
        with urllib.request.urlopen(srv.url, timeout=60) as r:
            assert r.status == 200
        time.sleep(3)
        yield srv.url
    finally:
        srv.stop()


def _visible(page: Page, css: str) -> bool:
    return bool(
        page.page.evaluate(
            """(css) => [...document.querySelectorAll(css)].some(
                 e => e.offsetParent !== null && getComputedStyle(e).display !== 'none')""",
            css,
        )
    )


def test_the_example_set_stands_on_its_own_in_the_cockpit(browser: object, own_server: str):
    page = Page(browser, own_server)
    try:
        page.open("voila/render/cockpit.ipynb", PARTS)
        sets = page.page.eval_on_selector_all(
            ".wb-sel-indicator-set option", "os => os.map(o => o.value)"
        )
        assert sets == ["enforcement"]
        periods = page.page.eval_on_selector_all(
            ".wb-sel-period option", "os => os.map(o => o.textContent.trim())"
        )
        # 2024财年 is not complete (two regions missing): the newest is 2023财年, first in the list
        assert periods[0] == "2023财年" and all(p.endswith("财年") for p in periods)
        hier = page.page.eval_on_selector(".wb-sel-hierarchy select", "s => s.value")
        assert hier == "performance"  # the set's own (declared default) index
        units = page.page.eval_on_selector_all(
            ".wb-sel-county option", "os => os.map(o => o.textContent.trim())"
        )
        assert units[0] == "全省（全部地区）" and len(units) == 9
        # none of the campaign's parts: the set declares no funnel, progress bar or calendar
        for part in ("funnel", "rectification", "calendar", "lagging"):
            assert not _visible(page, f"[data-part={part}]"), part
        text = page.page.evaluate("() => document.body.innerText")
        assert "地区分布" in text and "执法绩效指数" in text
        assert not re.search("区县|全市", text), re.findall(".{0,12}(?:区县|全市).{0,12}", text)
        # the ranking table: the best region by the example's numbers (白沙县 63.3 in 2023财年)
        first = page.page.eval_on_selector(
            "[data-part=table] tbody tr", "r => r.innerText.replace(/\\s+/g, ' ')"
        )
        assert "白沙县" in first and "63.3" in first
        page.screenshot("cockpit-own-data")
        assert not page.errors, page.errors
    finally:
        page.close()


def test_the_example_region_page_speaks_of_regions(browser: object, own_server: str):
    page = Page(browser, own_server)
    try:
        page.open("voila/render/county.ipynb?county=R07", ("header", "kpis", "rank"))
        text = page.page.evaluate("() => document.body.innerText")
        assert "白沙县 · 地区详情" in text and "在全省的位置" in text
        assert not re.search("区县|全市", text), re.findall(".{0,12}(?:区县|全市).{0,12}", text)
        assert not page.errors, page.errors
    finally:
        page.close()


@pytest.fixture(scope="module")
def two_sets_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The example table under two sets that call its units differently: the shipped one
    (地区, 全省) and a copy that calls them 机构 (全部机构), served on one cockpit."""
    import shutil

    _require_browser()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    work = tmp_path_factory.mktemp("two_sets")
    folder = work / "indicators"
    shutil.copytree(FOLDER, folder)
    text = (FOLDER / "执法绩效.yaml").read_text(encoding="utf-8")
    head, _, presentation = text.partition("\nhierarchies:\n")
    copy = head.replace("code: enforcement\n", "code: enforcement_units\n").replace(
        "name: 医保基金执法绩效（示例）", "name: 执法统计（按机构）"
    )
    copy += "\npresentation:\n  unit_noun: 机构\n  whole_name: 全部机构\n"
    copy += "  total_name: 全部机构合计\n"
    assert "code: enforcement_units" in copy and presentation
    (folder / "按机构.yaml").write_text(copy, encoding="utf-8")
    wh = work / "wh.duckdb"
    csv = EXAMPLE / "执法统计_2019-2024财年.csv"
    cmd = [sys.executable, "-m", "workbench.cli", "ingest", "--table", "enforcement_stats"]
    cmd += [str(csv), "--indicators-dir", str(folder), "--warehouse", str(wh)]
    rc = subprocess.call(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert rc in (0, 1) and wh.is_file()
    args = ["--warehouse", str(wh), "--indicators-dir", str(folder)]
    args += ["--set", "enforcement", "--set", "enforcement_units"]
    args += ["--pool-size", "1", "--cull-idle", "600"]
    srv = Serve(
        args, {"WORKBENCH_DASHBOARD_CACHE": str(work / "cache")}, ARTIFACTS / "serve-two-sets.log"
    )
    try:
        srv.wait()
        time.sleep(3)
        yield srv.url
    finally:
        srv.stop()


def _titles(page: Page) -> str:
    """The skeleton's titles and labels (panel headings, selector labels), as the viewer sees."""
    return page.page.evaluate(
        """() => [...document.querySelectorAll('.wb-panel h3, .wb-sel > span')]
                 .map(e => e.innerText.trim()).join(' | ')"""
    )


def test_picking_a_set_rewrites_the_titles_in_its_words(browser: object, two_sets_server: str):
    """The page's skeleton is drawn once; picking the 机构 set rewrites 地区分布 → 机构分布 and
    the unit picker's label in the browser (the `words` part), and picking back restores them."""
    page = Page(browser, two_sets_server)
    try:
        page.open("voila/render/cockpit.ipynb?set=enforcement", PARTS)
        first = _titles(page)
        assert "地区分布" in first and "机构" not in first, first
        page.select(".wb-sel-indicator-set", value="enforcement_units")
        page.page.wait_for_function(
            "() => document.body.innerText.includes('机构分布')", timeout=30_000
        )
        second = _titles(page)
        assert "机构分布" in second and "地区" not in second, second
        units = page.page.eval_on_selector_all(
            ".wb-sel-county option", "os => os.map(o => o.textContent.trim())"
        )
        assert units[0].startswith("全部机构"), units[:2]
        page.screenshot("cockpit-two-sets-units")
        page.select(".wb-sel-indicator-set", value="enforcement")
        page.page.wait_for_function(
            "() => document.body.innerText.includes('地区分布')", timeout=30_000
        )
        assert _titles(page) == first
        assert not page.errors, page.errors
    finally:
        page.close()
