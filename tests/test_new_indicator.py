"""An indicator with a new unit, added only in YAML, shows correctly on every face: the engine's
presented rows, the county report card, the export, and the cockpit card — with no code change."""

from __future__ import annotations

import html
import re
import shutil
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import pytest

from workbench import dashboard as d
from workbench import report, results
from workbench.config import ENV_INDICATORS, project_root
from workbench.demo import generate_city
from workbench.warehouse import Warehouse

NEW = """
  recovered_per_case:
    type: ratio
    name: 件均追回金额
    short_name: 件均追回
    unit: 元/件
    decimals: 1
    direction: 1
    numerator: case_amount_recovered
    denominator: cases_filed
    description: 统计期内发现案件的已追回金额 ÷ 同期立案数（测试用指标）。
    target:
      op: ">="
      value: 1000
      source: 测试
"""


@pytest.fixture()
def own_sets(tmp_path, monkeypatch):
    folder = tmp_path / "indicators"
    shutil.copytree(project_root() / "indicators", folder)
    path = folder / "campaign_2025.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("\nindicators:\n", "\nindicators:" + NEW, 1)
    text = text.replace(
        "        - data_sharing_departments\n",
        "        - data_sharing_departments\n        - recovered_per_case\n",
        1,
    )
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv(ENV_INDICATORS, str(folder))
    return folder


def test_new_unit_everywhere(tmp_path, own_sets):
    demo = generate_city(3, seed=11)
    wh = tmp_path / "w.duckdb"
    with Warehouse(wh) as w:
        w.load_frames(demo.frames, period="2025-12")
    period, county = "2025-06", demo.counties[0][0]
    # by hand: recovered amounts of cases found Jan–Jun (not withdrawn) ÷ cases filed Jan–Jun
    cases = demo.frames["cases"]
    cases = cases[(cases["status"] != "已撤销") & (cases["county_code"].astype(str) == county)]
    lo, hi = pd.Timestamp("2025-01-01"), pd.Timestamp("2025-06-30")
    found = pd.to_datetime(cases["found_date"]).between(lo, hi)
    filed = pd.to_datetime(cases["filed_date"]).between(lo, hi)
    value = cases.loc[found, "amount_recovered"].sum() / filed.sum()
    shown = Decimal(repr(float(value))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    want = f"{shown:,}元/件"

    ev = results.evaluate(wh, period=period, indicator_set="campaign_2025", uncertainty_samples=5)
    row = ev.presented().set_index(["county_code", "indicator"]).loc[(county, "recovered_per_case")]
    assert row["value_text"] == want
    assert row["target_text"] == "≥1,000.0元/件"
    assert row["short_name"] == "件均追回"

    rep = report.county_report(county, period, str(wh), "campaign_2025").kpi_cards()._repr_html_()
    card = re.search(r'data-indicator="recovered_per_case">(.*?)</div></div>', rep, re.S)
    assert card and f'<div class="v">{want}</div>' in card.group(1)

    paths = ev.export(tmp_path / "out", formats=("csv",), uncertainty=False)
    table = next(p for p in paths if p.name.endswith("_区县指标.csv"))
    exported = pd.read_csv(table, dtype=str, keep_default_na=False)
    assert want in set(exported.loc[exported["指标代码"] == "recovered_per_case", "指标值（显示）"])

    data = d.from_engine(wh, periods=[period], uncertainty_samples=5)
    page = d.kpi_cards_html(data, d.View("campaign_2025", period, county))
    m = re.search(r'data-indicator="recovered_per_case".*?data-kpi-value>([^<]*)<', page, re.S)
    assert m and html.unescape(m.group(1)) == want
