"""The cockpit in daily use, in a real browser against `workbench serve`: the drill round trip
keeps month, set, index and indicator; a copied address reopens the same view; downloads open in
openpyxl with real number formats; printing gives the whole page on A4 landscape."""

from __future__ import annotations

import io
import re
import unicodedata
from urllib.parse import parse_qs, urlsplit

import openpyxl

from tests.browser.conftest import ARTIFACTS, COCKPIT_PARTS, COUNTY_PARTS
from workbench import dashboard, results

# every part of the cockpit waits for one view; the county page's too
JS_VIEW = """([parts, want]) => {
  const els = [...document.querySelectorAll('[data-part]')];
  const names = new Set(els.map(e => e.dataset.part));
  if (!parts.every(p => names.has(p))) return false;
  if (!els.every(e => (e.dataset.key || '') === want)) return false;
  return [...document.querySelectorAll('.wb-chart, .wb-map')].every(e => e.dataset.live === '1');
}"""


def _params(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _wait_view(page, parts, key: str) -> None:
    page.page.wait_for_function(JS_VIEW, arg=[list(parts), key], timeout=180_000, polling=100)


def _latest(demo_warehouse) -> str:
    return dashboard._capped(
        results.latest_complete_period(demo_warehouse), results.load_ledgers(demo_warehouse)
    )


def test_drill_round_trip_keeps_the_view(open_page, demo_warehouse):
    page = open_page()
    page.open("voila/render/cockpit.ipynb", COCKPIT_PARTS)
    periods = page.page.eval_on_selector_all(".wb-sel-period option", "os => os.map(o => o.value)")
    period = periods[3]  # not the latest month
    assert period != _latest(demo_warehouse)
    page.select(".wb-sel-period", value=period)
    hierarchies = page.page.eval_on_selector_all(
        ".wb-sel-hierarchy option", "os => os.map(o => o.value)"
    )
    current = page.key().split("|")[4]
    index = next(h for h in hierarchies if h != current)  # not the set's default index
    page.select(".wb-sel-hierarchy", value=index)
    focus = page.page.eval_on_selector(".wb-sel-focus select", "s => s.options[2].value")
    page.select(".wb-sel-focus", value=focus)
    county = page.page.eval_on_selector_all(
        ".wb-map path[data-county]", "ps => ps.map(p => p.dataset.county)"
    )[2]
    _, key = page.change(lambda: page.page.locator(f".wb-map path[data-county='{county}']").click())
    iset = key.split("|")[0]
    assert key == f"{iset}|{period}|{county}|{focus}|{index}"
    # the address bar holds the view: a copied link reopens it
    assert _params(page.page.url) == {
        "set": iset,
        "period": period,
        "county": county,
        "index": index,
        "indicator": focus,
    }
    copied = page.page.url
    other = open_page()
    other.page.goto(copied, wait_until="commit")
    _wait_view(other, COCKPIT_PARTS, key)
    # the lagging list and the ranking table link in the same context
    for href in page.page.eval_on_selector_all(
        "[data-part=lagging] a[href], [data-part=table] a[href]",
        "as => as.map(a => a.getAttribute('href'))",
    ):
        got = _params("x?" + href.split("?", 1)[1])
        assert (got["set"], got["period"], got["index"], got["indicator"]) == (
            iset,
            period,
            index,
            focus,
        ), href
    # 查看××详情 → opens the county in that month, set, index and indicator …
    page.page.locator("a.wb-open").click()
    page.page.wait_for_url(re.compile(r"county\.ipynb\?"), timeout=60_000)
    _wait_view(page, COUNTY_PARTS, key)
    # the county page drills the indicator the cockpit was looking at
    assert page.page.locator(f"[data-part=drill][data-indicator='{focus}']").count() == 1
    ev = results.evaluate(demo_warehouse, period=period, indicator_set=iset)
    name = str(ev.county_names.get(county))
    assert name in page.page.inner_text("[data-part=header]")
    assert dashboard.fmt.month_label(period) in page.page.inner_text("[data-part=header]")
    page.screenshot("county-in-context")
    # … and ← 返回驾驶舱 comes back to the same view
    page.page.locator("a.wb-back").click()
    page.page.wait_for_url(re.compile(r"cockpit\.ipynb\?"), timeout=60_000)
    _wait_view(page, COCKPIT_PARTS, key)
    assert page.errors == [] and other.errors == []


def _download(page, part: str, fmt: str):
    with page.page.expect_download(timeout=60_000) as dl:
        page.page.locator(f"[data-export='{part}'] button[data-format='{fmt}']").first.click()
    path = ARTIFACTS / f"download-{part}.{fmt}"
    dl.value.save_as(str(path))
    return dl.value.suggested_filename, path


def test_downloads_open_with_number_formats(open_page, demo_warehouse):
    page = open_page()
    page.open("voila/render/cockpit.ipynb", COCKPIT_PARTS)
    period = page.key().split("|")[1]
    ev = results.evaluate(demo_warehouse, period=period, indicator_set="campaign_2025")
    name, path = _download(page, "kpis", "xlsx")
    assert name.endswith(".xlsx") and dashboard.fmt.month_label(period) in name
    ws = openpyxl.load_workbook(path).active
    header = [c.value for c in ws[1]]
    rows = {r[header.index("指标")].value: r for r in ws.iter_rows(min_row=2)}
    city = ev.city_kpis.set_index("indicator")
    for code, indicator_name in zip(city.index, city["indicator_name"]):
        cell = rows[indicator_name][header.index("指标值")]
        unit = city.loc[code, "unit"]
        value = city.loc[code, "value"]
        if cell.value is None:
            assert value is None or value != value, code
            continue
        if dashboard.fmt.unit_kind(unit) == "percent":
            assert cell.number_format.endswith("%"), (code, cell.number_format)
            assert abs(cell.value - float(value)) < 0.0005 + 1e-9, (code, cell.value, value)
        else:
            assert cell.number_format != "General", (code, cell.number_format)
    # the ranking: every county, ranks as whole numbers, scores with one decimal
    _, path = _download(page, "ranking", "xlsx")
    ws = openpyxl.load_workbook(path).active
    header = [c.value for c in ws[1]]
    ranked = [r for r in ws.iter_rows(min_row=2) if isinstance(r[0].value, int)]
    assert len(ranked) == len(ev.county_names)
    assert ranked[0][0].number_format == "#,##0"
    assert ranked[0][header.index("得分")].number_format == "#,##0.0"
    # CSV and pictures
    _, path = _download(page, "lagging", "csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    for part in ("trend", "map", "ranking"):
        _, path = _download(page, part, "png")
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", part
    assert page.errors == []


# simplified forms that extract as CJK radicals (NFKC leaves these alone)
_RADICALS = str.maketrans(
    "⻔⻓⻢⻅⻛⻜⻋⻉⻚⻄⻘⻬⻰⻩⻨⻥⻦⻮⻆", "门长马见风飞车贝页西青齐龙黄麦鱼鸟齿角"
)


def _norm(text: str) -> str:
    """Noto CJK's glyphs extract as radicals (⾦, ⻔) and dashes vary (‒ –): compare the
    characters (金, 门, -)."""
    text = unicodedata.normalize("NFKC", text).translate(_RADICALS)
    return re.sub("[\u2010-\u2015]", "-", text)


def _pdf_pages(data: bytes) -> list[str]:
    from pypdf import PdfReader

    return [_norm(p.extract_text() or "") for p in PdfReader(io.BytesIO(data)).pages]


def test_print_gives_the_whole_cockpit_on_a4_landscape(open_page, demo_warehouse):
    page = open_page()
    page.open("voila/render/cockpit.ipynb", COCKPIT_PARTS)
    period = page.key().split("|")[1]
    # the 打印/导出PDF action prints the page
    page.page.evaluate("() => { window.__printed = 0; window.print = () => window.__printed++; }")
    page.page.locator("button[data-print]").click()
    assert page.page.evaluate("() => window.__printed") == 1
    # what chromium prints (A4 landscape from the print stylesheet's @page)
    pdf = page.page.pdf(prefer_css_page_size=True, print_background=True)
    (ARTIFACTS / "cockpit-print.pdf").write_bytes(pdf)
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    box = reader.pages[0].mediabox
    assert float(box.width) > float(box.height)  # landscape
    assert abs(float(box.width) - 841.9) < 2 and abs(float(box.height) - 595.3) < 2  # A4
    pages = _pdf_pages(pdf)
    assert 2 <= len(pages) <= 8, len(pages)
    text = "\n".join(pages)
    for title in (
        "医保基金监管 领导驾驶舱",
        "综合指数排名",
        "区县分布",
        "月度走势与目标",
        "问题整改进度",
        "专项整治工作日历",
        "区县约谈名单与督促名单",
        "综合指数排名表",
        "排名区间（5%–95%）：",
    ):
        assert _norm(title) in text, title
    ev = results.evaluate(demo_warehouse, period=period, indicator_set="campaign_2025")
    # every KPI card, every county on the map (on the map's own page: not cut), every county
    # on the lagging list (below the first screen)
    from workbench.presentation import kpis as pk

    for code in ev.city_kpis["indicator"]:
        assert _norm(pk.display_of(ev.indicator_set, code).short_name) in text, code
    map_page = next(p for p in pages if _norm("区县分布") in p)
    for name in ev.county_names.values:
        assert _norm(str(name)) in map_page, name
    lagging_page = next(p for p in pages if _norm("区县约谈名单与督促名单") in p)
    for code in ev.lagging["county_code"]:
        assert _norm(str(ev.county_names.get(code))) in lagging_page, code
    # nothing wider than the paper: the printed layout keeps every panel inside the page
    page.page.emulate_media(media="print")
    overflow = page.page.evaluate("""() => {
        const root = document.querySelector('.wb-root').getBoundingClientRect();
        return [...document.querySelectorAll('.wb-panel, .wb-map svg, .wb-chart')]
          .map(e => e.getBoundingClientRect())
          .filter(r => r.width && (r.right > root.right + 1 || r.left < root.left - 1)).length;
    }""")
    assert overflow == 0
    page.page.emulate_media(media="screen")
    assert page.errors == []
