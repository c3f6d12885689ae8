"""A mixed set: indicators on the county ledgers beside a declared table of the same counties.

The demo city's cases ledger and a monthly table of staff per county (written here) feed one
set; compute, the county report, the 通报 and the cockpit all work and agree. Every expected
number is counted from the frames and rows written here with pandas, not read back from the
engine.
"""

from __future__ import annotations

import csv

import pandas as pd
import pytest

from workbench.declarations import load_set, load_table
from workbench.demo import generate_city
from workbench.results import evaluate
from workbench.tables import ingest_table
from workbench.warehouse import Warehouse

PERIOD = "2025-09"
MONTHS = ("2025-07", "2025-08", "2025-09")

TABLE_YAML = """\
kind: table
code: county_staff
name: 区县执法人员（月报）
unit: {field: county_code, header: 区划代码}
period: {field: month, header: 月份, frequency: month}
fields:
  staff: {header: 执法人员数, type: number, required: true}
"""

SET_YAML = """\
kind: indicator_set
code: mixed
name: 台账与自有表混合
default_span: month
measures:
  filed: {ledger: cases, agg: count, date: filed_date}
  staff: {table: county_staff, agg: sum, field: staff}
indicators:
  cases_filed:
    type: count
    name: 立案数
    unit: 件
    numerator: filed
  staff_total:
    type: count
    name: 执法人员数
    unit: 人
    numerator: staff
  cases_per_staff:
    type: ratio
    name: 人均立案数
    unit: 件/人
    numerator: filed
    denominator: staff
hierarchies:
  mixed_index:
    name: 混合指数
    method: {normalise: minmax, aggregate: arithmetic}
    tree:
      - code: all
        name: 总体
        children:
          - indicator: cases_per_staff
          - indicator: staff_total
"""


def _staff(county: str, month: str) -> int:
    """Staff of a county in a month: distinct, so a mix-up of units or months shows."""
    return 10 + int(county[-2:]) * 3 + int(month[-2:])


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("mixed")
    city = generate_city(4, seed=20251)
    wh = tmp / "wh.duckdb"
    with Warehouse(wh) as w:
        w.load_frames(city.frames, period=PERIOD)
    folder = tmp / "indicators"
    folder.mkdir()
    (folder / "county_staff.yaml").write_text(TABLE_YAML, encoding="utf-8")
    (folder / "mixed.yaml").write_text(SET_YAML, encoding="utf-8")
    counties = sorted(city.frames["counties"]["county_code"].astype(str).unique())
    path = tmp / "人员.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["区划代码", "月份", "执法人员数"])
        for m in MONTHS:
            for c in counties:
                out.writerow([c, m, _staff(c, m)])
    result = ingest_table(load_table("county_staff", [folder]), [path], wh, tmp / "reports")
    assert result.accepted == len(MONTHS) * len(counties)
    cases = city.frames["cases"]
    filed = pd.to_datetime(cases["filed_date"], errors="coerce")
    in_month = cases[filed.dt.strftime("%Y-%m") == PERIOD]
    hand_filed = in_month.groupby(in_month["county_code"].astype(str)).size()
    return {
        "tmp": tmp,
        "wh": wh,
        "folder": folder,
        "counties": counties,
        "filed": {c: int(hand_filed.get(c, 0)) for c in counties},
    }


def test_compute_reads_the_ledger_and_the_table_for_the_same_counties(mixed: dict) -> None:
    iset = load_set("mixed", [mixed["folder"]])
    assert iset.reads_ledgers() and "county_staff" in iset.tables
    ev = evaluate(mixed["wh"], PERIOD, iset, uncertainty_samples=0)
    k = ev.kpis.set_index(["county_code", "indicator"])["value"]
    for c in mixed["counties"]:
        staff = _staff(c, PERIOD)
        assert k[(c, "cases_filed")] == mixed["filed"][c]
        assert k[(c, "staff_total")] == staff
        assert k[(c, "cases_per_staff")] == pytest.approx(mixed["filed"][c] / staff)
    ranked = ev.index_table
    assert set(ranked["county_code"]) == set(mixed["counties"])
    # the units are the ledgers' counties: the workbench's own words
    assert (ev.words.unit_noun, ev.words.whole, ev.words.on_ledgers) == ("区县", "全市", True)


def test_the_report_and_the_bulletin_of_a_mixed_set(mixed: dict, monkeypatch) -> None:
    from workbench import report
    from workbench.documents import bulletin as bl
    from workbench.documents import gongwen
    from workbench.documents import options as dopt

    monkeypatch.setenv("WORKBENCH_INDICATORS_DIR", str(mixed["folder"]))
    c = mixed["counties"][1]
    county = report.county_report(c, PERIOD, str(mixed["wh"]), "mixed")
    cards = {k.indicator: k for k in county.kpis}
    assert cards["cases_filed"].value == mixed["filed"][c]
    assert "在全市4个区县中综合得分" in county.narrative_text()
    assert county.milestones() is None  # no calendar declared: no milestones section
    assert county.overdue_rectifications() is not None  # the ledgers' lists stay
    city = report.city_report(PERIOD, str(mixed["wh"]), "mixed")
    head, _ = dopt.header(dopt.DocOptions(number="3"), city.city_name(), PERIOD)
    doc = bl.build(city, head)
    text = "".join(getattr(b, "text", "") for b in doc.blocks)
    assert "人均立案数" in text and "区县" in text
    assert gongwen.render(doc)[:2] == b"PK"  # a Word file (zip)


def test_the_cockpit_shows_the_mixed_set_with_the_same_numbers(mixed: dict, monkeypatch) -> None:
    from workbench.dashboard.loading import from_engine
    from workbench.dashboard.page import Cockpit

    monkeypatch.setenv("WORKBENCH_INDICATORS_DIR", str(mixed["folder"]))
    monkeypatch.setenv("WORKBENCH_SETS", "mixed")
    data = from_engine(mixed["wh"], uncertainty_samples=0)
    assert list(data.indicator_sets) == ["mixed"] and PERIOD in data.periods
    c = mixed["counties"][2]
    got = data.kpi("cases_per_staff", PERIOD, c, "mixed")
    assert got["value"] == pytest.approx(mixed["filed"][c] / _staff(c, PERIOD))
    assert data.words("mixed")["noun"] == "区县"
    cockpit = Cockpit(data, "mixed", PERIOD, c)
    assert cockpit.view.hierarchy == "mixed_index"  # the set's own index
    parts = cockpit.build_parts()
    assert parts["calendar"]["hidden"] and parts["funnel"]["hidden"]
    assert "人均立案数" in parts["kpis"]["html"]
