"""The cockpit's 指标说明 panels, 约谈督办 list and overdue cases in a real browser at 1366×768:
opened with the keyboard, inside the window, the numbers counted again from the ledgers; and no
screening part on a warehouse without screening results."""

from __future__ import annotations

import pandas as pd

from tests.browser.conftest import ARTIFACTS, COCKPIT_PARTS
from workbench import dashboard

PARTS = COCKPIT_PARTS


def test_card_panel_opens_by_keyboard_with_the_ledgers_numbers(open_page, demo_warehouse):
    ledgers = dashboard.read_ledgers(demo_warehouse)
    county = str(sorted(ledgers["counties"]["county_code"].astype(str).unique())[1])
    period = "2025-09"
    page = open_page()
    page.open(
        f"voila/render/cockpit.ipynb?set=campaign_2025&period={period}&county={county}", PARTS
    )
    p = page.page
    card = p.locator('[data-part=kpis] [data-indicator="complaint_handling_rate"]')
    summary = card.locator("details.wb-def > summary")
    body = card.locator(".wb-def-body")
    assert not body.is_visible()
    summary.focus()
    p.keyboard.press("Enter")
    body.wait_for(state="visible", timeout=5_000)
    # 投诉举报查处率, Jan–Sep: received in the window; of them, closed by the month's end
    c = ledgers["complaints"]
    c = c[c["county_code"].astype(str) == county]
    received, closed = pd.to_datetime(c["received_date"]), pd.to_datetime(c["closed_date"])
    end = pd.Timestamp("2025-09-30")
    mine = (received >= pd.Timestamp("2025-01-01")) & (received <= end)
    done = mine & closed.notna() & (closed <= end)
    num = body.locator('[data-def-field="numerator"]').inner_text().strip()
    den = body.locator('[data-def-field="denominator"]').inner_text().strip()
    assert num == f"已办结投诉举报数{int(done.sum()):,}件"
    assert den == f"受理投诉举报数{int(mine.sum()):,}件"
    assert body.locator('[data-def-field="source"]').inner_text().strip()
    box = body.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 1366
    p.screenshot(path=str(ARTIFACTS / "cockpit-definition-panel.png"))
    p.keyboard.press("Escape")
    body.wait_for(state="hidden", timeout=5_000)
    # the last card's panel stays inside the window too (it opens to the left)
    last = p.locator("[data-part=kpis] details.wb-def > summary").last
    last.click()
    last_body = p.locator("[data-part=kpis] details.wb-def[open] .wb-def-body")
    last_body.wait_for(state="visible", timeout=5_000)
    box = last_body.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 1366, box
    # the index's method panel
    method = p.locator("[data-part=ranking] details.wb-def-method")
    method.locator("summary").click()
    assert "排名区间" in method.inner_text() and "权重" in method.inner_text()
    assert page.errors == []


def test_talk_list_overdue_cases_and_no_empty_screening_part(open_page, demo_warehouse):
    page = open_page()
    page.open("voila/render/cockpit.ipynb?set=campaign_2025&period=2025-09", PARTS)
    p = page.page
    lag = p.locator("[data-part=lagging]")
    assert lag.locator("th", has_text="是否约谈").count() == 1
    held = lag.locator("[data-held]").count()
    assert held == lag.locator("tbody tr").count() > 0
    overdue = p.locator("[data-part=overdue_cases]")
    assert overdue.is_visible() and "超过办案时限" in overdue.inner_text()
    # the browser fixture's warehouse has no screening results: no empty screening panel
    assert not p.locator("[data-parts='screening screening_trend']").is_visible()
    page.screenshot("cockpit-supervision-lists")
    assert page.errors == []
