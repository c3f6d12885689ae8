"""What the cockpit's and the county page's download buttons give: whole tables with real number
formats, every masked ledger row behind a number, and the same texts as the page."""

from __future__ import annotations

import io
import re

import openpyxl
import pandas as pd
import pytest

from tests.test_dashboard import sample_data, view
from workbench import dashboard as d
from workbench.dashboard import exports

pytest.importorskip("anywidget")
ID_NUMBER = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")


def _book(tables) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(exports.file_bytes(tables, "xlsx")))


def test_every_cockpit_part_downloads_a_workbook():
    data = sample_data()
    for part, build in exports.COCKPIT.items():
        tables = build(data, view())
        assert tables, part
        wb = _book(tables)
        assert wb.sheetnames, part
        raw = exports.file_bytes(tables, "csv")
        assert raw.startswith(b"\xef\xbb\xbf"), part


def test_kpi_table_has_numbers_and_the_cards_texts():
    data = sample_data()
    html = d.kpi_cards_html(data, view())
    ws = _book(exports.kpi_table(data, view())).active
    header = [c.value for c in ws[1]]
    rows = {r[header.index("指标")].value: r for r in ws.iter_rows(min_row=2)}
    rec = rows["基金追回率"]
    value = rec[header.index("指标值")]
    assert value.value == 0.9 and value.number_format == "0.0%"  # the city: 0.80 + 0.05 × 2
    assert rec[header.index("目标")].value == "≥90.0%"
    assert rec[header.index("状态")].value == "达标" and "达标" in html
    count = rows["欺诈骗保立案数"][header.index("指标值")]
    assert count.value == 12 and count.number_format == '#,##0"件"'


def test_ranking_download_is_the_whole_ranking():
    data = sample_data(45)  # more than the bars and the table show
    shown = d.ranking_table_html(data, view())
    assert shown.count("<tr data-county=") < 45
    ws = _book(exports.ranking_table(data, view())).active
    header = [c.value for c in ws[1]]
    assert header[:3] == ["排名", "区县", "区划代码"]
    ranks = [r[0].value for r in ws.iter_rows(min_row=2) if isinstance(r[0].value, int)]
    assert ranks == list(range(1, 46))
    lo = ws.cell(row=2, column=header.index("排名区间下限") + 1)
    assert lo.number_format == "#,##0"
    # the explanation of the interval travels with the numbers
    assert any("排名区间" in str(c.value or "") for c in ws["A"][45:])


def test_funnel_download_says_what_it_counts():
    data = sample_data()
    tables = exports.funnel_table(data, view())
    wb = _book(tables)
    stages = wb.worksheets[0]
    assert [c.value for c in stages["A"][1:5]] == ["线索", "立案", "结案", "追回"]
    # 追回 has no count of its own here (its bar is 结案 × the rate): blank, the rate in words
    assert [c.value for c in stages["B"][1:5]] == [102, 32, 22, None]
    assert stages["C"][4].value == "追回率 90.0%"
    assert "同一批" in str(stages["A"][6].value)
    money = wb.worksheets[1]
    assert [c.value for c in money[1]] == ["已追回金额（元）", "应追回金额（元）", "追回率"]
    assert money["A2"].value == 900000 and money["A2"].number_format == "#,##0.00"
    assert money["C2"].value == 0.9 and money["C2"].number_format == "0.0%"


def test_funnel_download_has_every_stage_the_cockpit_draws():
    """With the cases recovered in full counted and 整改 after 追回, the workbook's stages are
    the cockpit's five bars with the same counts (15 recovered in full, 6 rectified), read
    back with openpyxl, and the money table still follows."""
    data = sample_data()
    f = data.funnel
    rec = f["stage"] == "recovered"
    f = f.assign(count=f["count"].where(~rec, 15))
    rect = f[rec].assign(stage="rectified", label="整改", count=6)
    rect = rect.assign(amount_recovered=None, amount_due=None)
    rect.index = rect.index + 0.5
    data.funnel = pd.concat([f, rect]).sort_index().reset_index(drop=True)
    wb = _book(exports.funnel_table(data, view()))
    ws = wb.worksheets[0]
    got = [(r[0].value, r[1].value) for r in ws.iter_rows(min_row=2, max_row=6)]
    assert got == [("线索", 102), ("立案", 32), ("结案", 22), ("追回", 15), ("整改", 6)]
    shown = [(s["label"], s["count"]) for s in d.funnel_stages(data, view())]
    assert got == shown
    assert ws["C5"].value == "全额追回 15 件（追回率 90.0%）"
    assert [c.value for c in wb.worksheets[1][2]] == [900000, 1000000, 0.9]


def test_cockpit_sends_the_file_to_the_browser(monkeypatch):
    cp = d.Cockpit(sample_data(), geojson="/nonexistent.geojson")
    sent = []
    monkeypatch.setattr(
        cp.board, "send", lambda content, buffers=None: sent.append((content, buffers))
    )
    cp.on_export("lagging", "xlsx")
    content, buffers = sent[-1]
    assert content["event"] == "download" and content["filename"].endswith(".xlsx")
    assert content["filename"].startswith("约谈名单与督促名单_演示市_2025年9月")
    ws = openpyxl.load_workbook(io.BytesIO(buffers[0])).active
    assert ws["A2"].value == "白石县"
    cp.on_export("ranking", "png")  # an HTML chart: a figure the browser draws
    content, _ = sent[-1]
    assert content["event"] == "figure" and content["figure"]["data"][0]["type"] == "bar"
    cp.on_export("nothing", "xlsx")
    assert sent[-1][0]["event"] == "notice"


@pytest.fixture(scope="module")
def city():
    from workbench.demo import generate_city

    return generate_city(3)


def test_drill_download_has_every_masked_row(city, monkeypatch):
    from workbench.drill import drill

    data = d.from_engine(city.frames, periods=["2025-09"], uncertainty_samples=10)
    county = str(data.counties["county_code"].iloc[0])

    def ledgers(code):
        return {
            k: (v[v["county_code"].astype(str) == code] if "county_code" in v else v)
            for k, v in city.frames.items()
        }

    page = d.CountyPage(data, county=county, ledgers=ledgers)
    page.open_query(f"county={county}&period=2025-09&indicator=fund_recovery_rate")
    monkeypatch.setattr(d.drill, "MAX_DRILL_ROWS", 5)  # the page shows a few rows …
    page.refresh()
    assert "页面显示前 5 行" in page.widget.parts["drill"]["html"]
    sent = []
    monkeypatch.setattr(
        page.board, "send", lambda content, buffers=None: sent.append((content, buffers))
    )
    page.on_export("drill", "xlsx")  # … the download every row
    content, buffers = sent[-1]
    assert content["event"] == "download"
    wb = openpyxl.load_workbook(io.BytesIO(buffers[0]))
    truth = drill(city.frames, county, "2025-09", "fund_recovery_rate", "campaign_2025")
    assert len(wb.worksheets) == len(truth.parts)
    for ws, part in zip(wb.worksheets, truth.parts):
        n_rows = sum(
            1 for r in ws.iter_rows(min_row=2) if r[0].value and str(r[0].value).startswith("AJ")
        )
        assert n_rows == part.total_rows > 5
        header = [c.value for c in ws[1]]
        found = ws.cell(row=2, column=header.index("发现日期") + 1)
        assert found.number_format == "yyyy-mm-dd"
        due = ws.cell(row=2, column=header.index("应追回金额(元)") + 1)
        assert due.number_format == "#,##0.00"
    text = " ".join(str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row)
    assert not ID_NUMBER.search(text)
    page.on_export("drill", "csv")
    csv_text = sent[-1][1][0].decode("utf-8-sig")
    assert not ID_NUMBER.search(csv_text) and "NaT" not in csv_text
    assert csv_text.splitlines()[0].startswith("所属表,")
