"""The cockpit's screening part (疑点数据筛查): counts by hand on the sample data, counts against a
direct SQL count of the evidence table after screening the demo extract, and no part at all
where a set does not declare it or the warehouse has no screening results."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.test_dashboard import sample_data, view
from tests.test_screening_run import _screen
from workbench import dashboard as d
from workbench.dashboard import exports
from workbench.dashboard.loading import screening_frames
from workbench.dashboard.screening import screening_figure, screening_html, screening_shown
from workbench.screening.summary import check_counts, read_inputs, screening_tables
from workbench.warehouse import Warehouse


def _rules(part: str) -> dict[str, tuple[int, int]]:
    return {
        code: (int(hits), int(leads))
        for code, hits, leads in re.findall(
            r'data-rule="([^"]+)" data-hits="(\d+)" data-leads="(\d+)"', part
        )
    }


def _counties(part: str) -> dict[str, int]:
    return {c: int(n) for c, n in re.findall(r'<tr data-county="(\d+)" data-leads="(\d+)">', part)}


def test_counts_by_hand_up_to_the_month():
    """Jan–Sep: October's row is not counted; a catalogue rule with no hit stays listed."""
    data = sample_data()
    part = screening_html(data, view(period="2025-09"))
    assert _rules(part) == {"SJBD-01": (4, 3), "ZNJK-01": (40, 3), "ZNJK-02": (0, 0)}
    assert _counties(part) == {"990101": 5, "990102": 1}
    assert "规则命中结算44笔，生成疑点线索6条（按“不属实”抑制1条），涉及金额5,420元" in part
    assert "3条规则中2条有命中" in part
    # 属实率 per rule: checked 2 of which 2 属实 → 100.0%; 1 of 4 → 25.0%; none checked says so
    rates = dict(re.findall(r'data-rule="([^"]+)".*?data-rate="([^"]*)"', part))
    assert rates == {"SJBD-01": "1.0", "ZNJK-01": "0.25", "ZNJK-02": ""}
    assert "100.0%" in part and "25.0%" in part and "尚无核查" in part
    one = screening_html(data, view(period="2025-09", county="990102"))
    assert _rules(one)["SJBD-01"] == (1, 1) and _counties(one) == {"990102": 1}
    # checks of the picked county only: 990102's one SJBD-01 lead is unchecked
    one_rates = dict(re.findall(r'data-rule="([^"]+)".*?data-rate="([^"]*)"', one))
    assert set(one_rates.values()) == {""}
    # a month the check counts do not hold (October) shows nothing checked, not September's
    oct_rates = re.findall(r'data-rate="([^"]*)"', screening_html(data, view(period="2025-10")))
    assert set(oct_rates) == {""}
    fig = screening_figure(data, view(period="2025-09"))
    assert fig["data"][0]["y"] == [2, 4] and fig["data"][1]["y"] == [3, 41]


def test_workbook_of_the_part():
    data = sample_data()
    tables = exports.screening_tables(data, view(period="2025-09"))
    by_rule = tables[0].frame.set_index("rule_code")
    assert by_rule.loc["ZNJK-01", "hits"] == 40 and by_rule.loc["ZNJK-01", "confirmed_rate"] == 0.25
    assert [c.kind for c in tables[0].columns if c.key == "confirmed_rate"] == ["percent"]
    assert list(tables[2].frame["month"]) == ["2025年8月", "2025年9月"]


def test_no_part_without_results_or_declaration():
    data = sample_data()
    assert screening_shown(data, view())
    data.presentation["campaign_2025"]["screening"] = False
    assert not screening_shown(data, view()) and exports.screening_tables(data, view()) == []
    data = sample_data()
    data.screening_counts = data.screening_counts.iloc[0:0]
    assert not screening_shown(data, view())
    assert 'data-part="screening"' in screening_html(data, view())  # the key, no content
    assert "按规则" not in screening_html(data, view())


def test_the_cockpit_hides_the_part_and_its_box():
    pytest.importorskip("anywidget")
    data = sample_data()
    data.screening_counts = data.screening_counts.iloc[0:0]
    cp = d.Cockpit(data, geojson="/nonexistent.geojson")
    assert cp.widget.parts["screening"]["hidden"] and cp.widget.parts["screening_trend"]["hidden"]
    assert 'data-parts="screening screening_trend"' in cp.widget.skeleton
    shown = d.Cockpit(sample_data(), geojson="/nonexistent.geojson")
    assert not shown.widget.parts["screening"]["hidden"]


def test_a_warehouse_without_screening_gives_no_tables(tmp_path: Path, city):
    path = tmp_path / "wh.duckdb"
    with Warehouse(path) as wh:
        wh.load_frames({k: city.frames[k] for k in ("counties", "institutions", "leads")})
    assert screening_frames(path) == {}


def test_counts_equal_the_evidence_table(wh_copy: Path, extract, extract_dir: Path):
    """After screening the demo extract: each rule's settlements hit and leads, and each
    county's leads, are what a plain SQL count of the evidence table gives."""
    _screen(wh_copy, extract_dir, extract.period)
    frames = screening_frames(wh_copy)
    data = sample_data()
    data.screening_counts = frames["screening_counts"]
    data.screening_precision = frames["screening_precision"]
    with Warehouse(wh_copy, read_only=True) as wh:
        per_rule = wh.con.execute(
            "SELECT rule_code, count(*), count(DISTINCT lead_id) FROM scr_evidence "
            "GROUP BY rule_code"
        ).fetchall()
        per_county = wh.con.execute(
            "SELECT county_code, count(DISTINCT lead_id) FROM scr_evidence GROUP BY county_code"
        ).fetchall()
        total = wh.con.execute("SELECT count(*) FROM scr_evidence").fetchone()[0]
    part = screening_html(data, view(period=extract.period))
    rules = _rules(part)
    assert {k: v for k, v in rules.items() if v != (0, 0)} == {
        r: (int(h), int(n)) for r, h, n in per_rule
    }
    assert _counties(part) == {str(c): int(n) for c, n in per_county}
    assert f"规则命中结算{total:,}笔" in part
    assert len(rules) == 10  # every shipped rule, hit or not
    # the warehouse's frames carry every rule's source, cited by title (no bare seed number)
    src = frames["screening_rules"].set_index("rule_code")["source"]
    assert len(src) == 10 and src["ZNJK-05"] == "工作口径"
    assert src["ZNJK-02"] == "依据《2025年开展打击欺诈骗保专项整治行动工作方案》三（一）"


def test_precision_comes_from_the_leads_ledger(wh_copy: Path, extract, extract_dir: Path):
    """Two checked ZNJK-01 leads, one 属实: the part shows 50.0% for that rule only."""
    _screen(wh_copy, extract_dir, extract.period)
    with Warehouse(wh_copy, read_only=True) as wh:
        inputs = read_inputs(wh)
    leads = inputs["leads"].copy()
    mine = leads.index[leads["lead_id"].str.startswith("YD-ZNJK01")][:2]
    leads.loc[mine, "check_status"] = ["属实", "不属实"]
    tables = screening_tables(inputs["scr_leads"], inputs["coverage"], inputs["rule_names"])
    data = sample_data()
    data.screening_counts = tables["by_rule_county"]
    data.screening_precision = check_counts(
        inputs["scr_leads"], leads, inputs["rule_names"], [extract.period]
    )
    part = screening_html(data, view(period=extract.period))
    rates = dict(re.findall(r'data-rule="([^"]+)".*?data-rate="([^"]*)"', part))
    assert rates["ZNJK-01"] == "0.5"
    assert {k for k, v in rates.items() if v} == {"ZNJK-01"}


def test_every_face_counts_checks_as_they_stood_at_the_months_end(
    wh_copy: Path, extract, extract_dir: Path, tmp_path: Path
):
    """Every returned list filled: per rule, the first lead 属实 on the month's last day, the
    second 不属实 and the third 属实 ten days later. At the month's end the cockpit, the 通报 and
    the screening_2025 set's KPI cards (属实率 per rule, for the city and for one county) all
    show only the first (100.0%), and a hand-written SQL count over the ledger and the
    screening leads gives the same; the current state (66.7% where three came back) differs."""
    import datetime as dt

    import openpyxl
    import pandas as pd

    from workbench.ingest import ingest_paths
    from workbench.presentation.lists import period_end
    from workbench.screening.lists import write_lists
    from workbench.screening.rules import load_rules
    from workbench.screening.summary import cross_match_rules, period_digest

    period = extract.period
    end = period_end(period).date()
    later = end + dt.timedelta(days=10)
    _screen(wh_copy, extract_dir, period, received=end)
    with Warehouse(wh_copy) as wh:
        files = write_lists(wh, load_rules(), period, tmp_path / "lists")
    back = tmp_path / "back"
    back.mkdir()
    plan = [("属实", end), ("不属实", later), ("属实", later)]
    for f in files:
        wb = openpyxl.load_workbook(f)
        ws = wb.worksheets[0]
        head = [c.value for c in ws[1]]
        seen: dict[str, int] = {}
        for row in range(2, ws.max_row + 1):
            rule = ws.cell(row, head.index("规则编码") + 1).value
            k = seen.get(rule, 0)
            seen[rule] = k + 1
            if k < len(plan):
                result, when = plan[k]
                ws.cell(row, head.index("核查结果") + 1, result)
                ws.cell(row, head.index("核查完成日期") + 1, when)
                ws.cell(row, head.index("处理措施") + 1, "追回基金" if result == "属实" else "无")
        wb.save(back / f.name)
    assert ingest_paths(sorted(back.iterdir()), wh_copy).files

    with Warehouse(wh_copy, read_only=True) as wh:
        rel = wh.current_relation("leads")
        sql = wh.con.execute(
            f"""SELECT s.rule_code,
                   count(*) FILTER (WHERE l.check_status IN ('属实', '不属实')
                                    AND l.checked_date <= DATE '{end}'),
                   count(*) FILTER (WHERE l.check_status = '属实'
                                    AND l.checked_date <= DATE '{end}'),
                   count(*) FILTER (WHERE l.check_status IN ('属实', '不属实')),
                   count(*) FILTER (WHERE l.check_status = '属实')
                FROM scr_leads s JOIN {rel} l ON l.lead_id = s.lead_id
                WHERE s.status = '已下发' AND s.month BETWEEN '{period[:4]}-01' AND '{period}'
                GROUP BY s.rule_code"""
        ).fetchall()
        inputs = read_inputs(wh)
        ledger = wh.read_ledger("leads")
    expected = {r: c / n for r, n, c, _, _ in sql if n}
    now = {r: c / n for r, _, _, n, c in sql if n}
    assert expected and any(expected[r] != now[r] for r in expected)  # the test can tell

    data = sample_data()
    frames = screening_frames(wh_copy, [period])
    data.screening_counts = frames["screening_counts"]
    data.screening_precision = frames["screening_precision"]
    part = screening_html(data, view(period=period))
    cockpit = {
        r: float(v) for r, v in re.findall(r'data-rule="([^"]+)".*?data-rate="([^"]*)"', part) if v
    }
    digest = period_digest(
        inputs["scr_leads"],
        ledger,
        inputs["coverage"],
        inputs["rule_names"],
        period,
        cross_match_rules(),
    )
    rows = digest["by_rule"].dropna(subset=["confirmed_rate"])
    bulletin = dict(zip(rows["rule_code"], rows["confirmed_rate"].astype(float), strict=True))
    assert cockpit == pytest.approx(expected) and bulletin == pytest.approx(expected)
    assert set(cockpit) == set(expected) == set(bulletin)
    assert all(pd.notna(v) for v in expected.values())

    # The YAML set's cards: the same counts, city-wide and per county (the cockpit's county view)
    from workbench.results import evaluate

    ev = evaluate(wh_copy, period, "screening_2025")
    city = ev.city_kpis.set_index("indicator")["value"]
    cards = {
        r: float(city[f"confirmed_rate_{r.replace('-', '').lower()}"])
        for r in expected
        if f"confirmed_rate_{r.replace('-', '').lower()}" in city.index
    }
    assert cards == pytest.approx(expected) and set(cards) == {
        r for r in expected if r.startswith(("SJBD", "ZNJK"))
    }
    # all rules together: checked and 属实 at the month's end; 转案率 over the year's issued leads
    # (none linked to a case yet)
    parts = ev.city_kpis.set_index("indicator")[["numerator", "denominator"]].astype(float)
    checked, confirmed = (sum(r[i] for r in sql) for i in (1, 2))
    assert tuple(parts.loc["screening_confirmed_rate"]) == (confirmed, checked)
    counts = frames["screening_counts"]
    year = counts["month"].astype(str).between(f"{period[:4]}-01", period)
    assert tuple(parts.loc["screening_case_conversion_rate"]) == (0, counts[year]["leads"].sum())
    county = str(frames["screening_counts"].query("leads > 0")["county_code"].iloc[0])
    one = screening_html(data, view(period=period, county=county))
    one_rates = {
        r: float(v) for r, v in re.findall(r'data-rule="([^"]+)".*?data-rate="([^"]*)"', one) if v
    }
    kpis = ev.kpis[ev.kpis["county_code"].astype(str) == county].set_index("indicator")["value"]
    one_cards = {
        r: float(kpis[f"confirmed_rate_{r.replace('-', '').lower()}"])
        for r in one_rates
        if pd.notna(kpis.get(f"confirmed_rate_{r.replace('-', '').lower()}"))
    }
    assert one_rates and one_cards == pytest.approx(one_rates)


def test_the_summaries_coverage_is_the_kpis(wh_copy: Path, extract, extract_dir: Path):
    """One month of a year's extract screened: the summaries' window paragraph says 疑点数据覆盖率
    as the screening set's KPI does — settlements screened ÷ every settlement of the window's
    months, the months never screened included — not 100 % of the screened month alone."""
    from workbench.results import evaluate
    from workbench.screening.summary import window_digest

    month = extract.period
    _screen(wh_copy, extract_dir, month)
    with Warehouse(wh_copy, read_only=True) as wh:
        inputs = read_inputs(wh)
        by_month = dict(
            wh.con.execute(
                "SELECT strftime(setl_time, '%Y-%m'), count(*) FROM scr_settlements GROUP BY 1"
            ).fetchall()
        )
        leads = wh.read_ledger("leads")
    year = sum(n for m, n in by_month.items() if f"{month[:4]}-01" <= m <= month)
    assert year > by_month[month]  # the test can tell the two rates apart
    d = window_digest(
        inputs["scr_leads"],
        leads,
        inputs["coverage"],
        inputs["rule_names"],
        f"{month[:4]}-01",
        month,
    )
    w = d["window"].iloc[0]
    assert w["months"] == 1 and w["screened"] == by_month[month]
    assert w["coverage_rate"] == pytest.approx(by_month[month] / year)
    kpi = evaluate(wh_copy, month, "screening_2025", span="ytd").city_kpis.set_index("indicator")
    assert w["coverage_rate"] == pytest.approx(float(kpi.loc["screening_coverage_rate", "value"]))


def test_each_rule_shows_its_source_by_document_title():
    """The rule table and its workbook carry each rule's cited source (`rule_table`)."""
    from workbench.screening.summary import rule_table

    data = sample_data()
    title = "依据《2025年开展打击欺诈骗保专项整治行动工作方案》三（一）"
    data.screening_rules = rule_table(
        {"SJBD-01": "死亡后发生结算", "ZNJK-01": "频繁就诊", "ZNJK-02": "超均值"},
        {"SJBD-01": title, "ZNJK-01": "工作口径"},
    )
    part = screening_html(data, view(period="2025-09"))
    rows = re.findall(r'<tr data-rule="([^"]+)"(.*?)</tr>', part)
    cited = {
        code: re.findall(r'<div class="wb-scr-source" data-source>([^<]*)<', row)
        for code, row in rows
    }
    assert cited == {
        "SJBD-01": [title],  # the cited source says 依据 itself (`citations.cite`)
        "ZNJK-01": ["工作口径"],
        "ZNJK-02": [],  # no source declared: nothing printed, not an empty 依据
    }
    by_rule = exports.screening_tables(data, view(period="2025-09"))[0]
    frame = by_rule.frame.set_index("rule_code")
    assert frame.loc["SJBD-01", "source"] == title and frame.loc["ZNJK-02", "source"] == ""
    assert "规则依据" in [c.header for c in by_rule.columns]
