"""Unit tests of the workbench.dashboard package: builders, formatting, geometry, state keys, cache.

A small hand-built `DashboardData` (three counties, three months) keeps these independent of the
engine; tests/test_dashboard_engine.py checks the same builders against the real engine.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
import re

import pandas as pd
import plotly.graph_objects as go
import pytest

from workbench import dashboard as d
from workbench.messages import catalogue

COUNTIES = [("990101", "青山区"), ("990102", "绿水县"), ("990103", "白石县")]
PERIODS = ["2025-07", "2025-08", "2025-09"]


# What the sample set declares in its `presentation:` block (as `loading.declared_presentation`
# gives it): no card groups, so the cards keep the file's order.
SHOWN = {
    "default_index": "by_subject",
    "funnel": [
        {
            "stage": "leads",
            "label": "线索",
            "indicator": "case_detection_rate",
            "part": "denominator",
        },
        {"stage": "filed", "label": "立案", "indicator": "case_count", "part": "numerator"},
        {
            "stage": "closed",
            "label": "结案",
            "indicator": "case_detection_rate",
            "part": "numerator",
        },
    ],
    "recovery": "fund_recovery_rate",
    "rectification": "rectification_completion",
    "screening": True,
}


def sample_data(n_counties: int = 3) -> d.DashboardData:
    """Three months of two indicators and one index for a few counties, values chosen by hand."""
    counties = (
        COUNTIES
        if n_counties <= 3
        else [(f"99{i // 99 + 1:02d}{i % 99 + 1:02d}", f"演示{i}县") for i in range(n_counties)]
    )
    meta = pd.DataFrame(
        [
            {
                "indicator_set": "campaign_2025",
                "indicator": "fund_recovery_rate",
                "name": "基金追回率",
                "unit": "%",
                "direction": 1,
                "deadline": None,
                "description": "追回÷应追回",
                "group": "",
            },
            {
                "indicator_set": "campaign_2025",
                "indicator": "rectification_completion",
                "name": "整改完成率",
                "unit": "%",
                "direction": 1,
                "deadline": "2025-11-30",
                "description": "",
                "group": "",
            },
            {
                "indicator_set": "campaign_2025",
                "indicator": "case_count",
                "name": "欺诈骗保立案数",
                "unit": "件",
                "direction": -1,
                "deadline": None,
                "description": "",
                "group": "",
            },
            {
                "indicator_set": "campaign_2025",
                "indicator": "case_detection_rate",
                "name": "案件查处率",
                "unit": "%",
                "direction": 1,
                "deadline": None,
                "description": "",
                "group": "",
            },
        ]
    )
    # the comparison each target is held to, as `_indicator_meta` gives it from the YAML
    meta["op"] = meta["indicator"].map(
        {"fund_recovery_rate": ">=", "rectification_completion": ">=", "case_detection_rate": ">="}
    )
    rows = []
    for pi, p in enumerate(PERIODS):
        for ci, (code, _) in enumerate([("", "全市")] + counties):
            rec = 0.80 + 0.05 * pi + 0.01 * ci
            rows += [
                {
                    "indicator": "fund_recovery_rate",
                    "value": rec,
                    "numerator": rec * 1e6,
                    "denominator": 1e6,
                    "target": 0.9,
                    "gap": rec - 0.9,
                    "met": rec >= 0.9,
                    "yoy": 0.05,
                },
                {
                    "indicator": "rectification_completion",
                    "value": 0.5 + 0.1 * pi,
                    "numerator": 5 + pi,
                    "denominator": 10,
                    "target": 1.0,
                    "gap": 0.5 + 0.1 * pi - 1,
                    "met": False,
                    "yoy": None,
                },
                {
                    "indicator": "case_count",
                    "value": 12 + ci,
                    "numerator": 12 + ci,
                    "denominator": None,
                    "target": None,
                    "gap": None,
                    "met": None,
                    "yoy": -0.2,
                },
                {
                    "indicator": "case_detection_rate",
                    "value": 0.4,
                    "numerator": 40,
                    "denominator": 100,
                    "target": 0.3,
                    "gap": 0.1,
                    "met": True,
                    "yoy": 0.1,
                },
            ]
            for r in rows[-4:]:
                r.update(indicator_set="campaign_2025", period=p, county_code=code)
    kpis = pd.DataFrame(rows)
    kpis["met"] = kpis["met"].astype("boolean")
    # the engine gives last year's value beside the relative change
    kpis["prev_value"] = kpis["value"] / (1 + pd.to_numeric(kpis["yoy"]))
    idx, unc, lag, ms = [], [], [], []
    n = len(counties)
    for p in PERIODS:
        for i, (code, _) in enumerate(counties):
            score = 92.0 - 9 * i
            idx.append(
                {
                    "period": p,
                    "hierarchy": "by_subject",
                    "county_code": code,
                    "score": score,
                    "rank": i + 1,
                    "grade": "优秀" if score >= 90 else "良好" if score >= 80 else "合格",
                }
            )
            unc.append(
                {
                    "period": p,
                    "hierarchy": "by_subject",
                    "county_code": code,
                    "nominal_rank": i + 1,
                    "median_rank": i + 1.0,
                    "q05": max(1, i),
                    "q95": min(n, i + 2),
                }
            )
        lag.append(
            {
                "indicator_set": "campaign_2025",
                "period": p,
                "county_code": counties[-1][0],
                "reasons": "问题整改完成率达100%：预计到期 80.0%；"
                "违规资金追回率达95%以上：当前 60.0%",
            }
        )
        for code in [""] + [c for c, _ in counties]:
            ms.append(
                {
                    "indicator_set": "campaign_2025",
                    "period": p,
                    "county_code": code,
                    "milestone": "rectification_100",
                    "name": "问题整改完成率达100%",
                    "deadline": "2025-11-30",
                    "status": "lagging" if code == counties[-1][0] else "on_track",
                    "status_label": None,
                    "detail": "",
                }
            )
    # the declared funnel as the presentation layer counts it (one cohort per county and month)
    funnel = []
    for pi, p in enumerate(PERIODS):
        for ci, (code, _) in enumerate([("", "全市")] + counties):
            base = {"indicator_set": "campaign_2025", "period": p, "county_code": code}
            base.update(window_start="2025-01", window_end=p)
            for stage, label, n in (
                ("leads", "线索", 100),
                ("filed", "立案", 30),
                ("closed", "结案", 20),
            ):
                funnel.append({**base, "stage": stage, "label": label, "count": n + pi - ci})
            funnel.append(
                {
                    **base,
                    "stage": "recovered",
                    "label": "追回",
                    "count": None,
                    "amount_recovered": 9e5,
                    "amount_due": 1e6,
                }
            )
    phases = pd.DataFrame(
        [
            ("动员部署", "2025-03-01", "2025-03-31"),
            ("自查自纠", "2025-04-01", "2025-05-31"),
            ("交叉检查", "2025-06-01", "2025-08-31"),
            ("重点抽查", "2025-09-01", "2025-10-31"),
            ("总结提升", "2025-11-01", "2025-12-31"),
        ],
        columns=["name", "start", "end"],
    )
    # screening results as `screening.summary.screening_tables` gives them: two rules, a third
    # rule of the catalogue with no hit; August and September
    scr = pd.DataFrame(
        [
            ("SJBD-01", "死亡后发生结算", "990101", "2025-08", 2, 0, 3, 300.0),
            ("SJBD-01", "死亡后发生结算", "990102", "2025-09", 1, 0, 1, 120.0),
            ("ZNJK-01", "月就诊次数异常", "990101", "2025-09", 3, 1, 40, 5000.0),
            ("ZNJK-01", "月就诊次数异常", "990103", "2025-10", 9, 0, 90, 9000.0),
        ],
        columns=[
            "rule_code",
            "rule_name",
            "county_code",
            "month",
            "leads",
            "suppressed",
            "hits",
            "amount",
        ],
    )
    # checks as the ledger stood at September's end (`screening.summary.check_counts`): every
    # rule's catalogue row, then per county
    precision = pd.DataFrame(
        [
            ("2025-09", "SJBD-01", "死亡后发生结算", None, 0, 0, 0, 0),
            ("2025-09", "ZNJK-01", "月就诊次数异常", None, 0, 0, 0, 0),
            ("2025-09", "ZNJK-02", "单病种费用超均值", None, 0, 0, 0, 0),
            ("2025-09", "SJBD-01", "死亡后发生结算", "990101", 2, 2, 2, 1),
            ("2025-09", "SJBD-01", "死亡后发生结算", "990102", 1, 0, 0, 0),
            ("2025-09", "ZNJK-01", "月就诊次数异常", "990101", 12, 4, 1, 0),
        ],
        columns=[
            "as_of",
            "rule_code",
            "rule_name",
            "county_code",
            "leads",
            "checked",
            "confirmed",
            "converted",
        ],
    )
    return d.DashboardData(
        screening_counts=scr,
        screening_precision=precision,
        city_name="演示市",
        periods=PERIODS,
        indicator_sets={"campaign_2025": "专项整治"},
        counties=pd.DataFrame(counties, columns=["county_code", "county_name"]),
        indicators=meta,
        kpis=kpis,
        index=pd.DataFrame(idx),
        uncertainty=pd.DataFrame(unc),
        lagging=pd.DataFrame(lag),
        milestones=pd.DataFrame(ms),
        phases=phases,
        funnel=pd.DataFrame(funnel),
        hierarchies={"by_subject": "无骗保城市指数（按主体）"},
        presentation={"campaign_2025": copy.deepcopy(SHOWN)},
        demo=True,
    )


@pytest.fixture()
def data() -> d.DashboardData:
    return sample_data()


def view(**kw) -> d.View:
    base = {
        "indicator_set": "campaign_2025",
        "period": "2025-09",
        "county": d.CITY,
        "focus": d.INDEX,
        "hierarchy": "by_subject",
    }
    base.update(kw)
    return d.View(**base)


# ── formatting ──────────────────────────────────────────────────────────────────────────────


# The formatter and the status rules are the presentation layer's: tests/test_presentation.py.


def test_lights_are_colour_blind_safe_and_carry_icons():
    assert set(d.STATUS_COLOURS) == set(d.STATUS_ICONS)
    assert (
        d.STATUS_ICONS["met"] == "✓"
        and d.STATUS_ICONS["risk"] == "!"
        and d.STATUS_ICONS["miss"] == "✗"
    )
    # Okabe–Ito blue / orange / vermillion / grey: no red–green pair
    assert d.STATUS_COLOURS["met"].upper() == "#0072B2"


# ── KPI cards ───────────────────────────────────────────────────────────────────────────────


def _cards(html: str) -> dict[str, dict]:
    out = {}
    for m in re.finditer(
        r'data-indicator="([^"]+)" data-value="([^"]*)" data-status="(\w+)"'
        r".*?data-kpi-value>([^<]*)<",
        html,
        re.S,
    ):
        out[m.group(1)] = {"value": m.group(2), "status": m.group(3), "text": m.group(4)}
    return out


def test_kpi_cards_show_the_engine_values(data):
    v = view()
    html = d.kpi_cards_html(data, v)
    assert f'data-key="{v.key}"' in html and 'data-part="kpis"' in html
    cards = _cards(html)
    assert list(cards) == [
        "fund_recovery_rate",
        "rectification_completion",
        "case_count",
        "case_detection_rate",
    ]
    city = data.kpi("fund_recovery_rate", "2025-09", d.CITY)
    assert float(cards["fund_recovery_rate"]["value"]) == city["value"]
    assert cards["fund_recovery_rate"]["text"] == f"{city['value'] * 100:.1f}%"
    assert cards["fund_recovery_rate"]["status"] == "met"
    assert cards["rectification_completion"]["status"] == "risk"  # deadline 2025-11-30 ahead
    assert cards["case_count"]["status"] == "none"
    # yoy +5% relative on a rate: shown as the change in points, value − value / 1.05
    points = city["value"] - city["value"] / 1.05
    assert "目标 ≥90.0%" in html and f"同比 +{points * 100:.1f}个百分点" in html


def test_kpi_cards_for_a_county_compare_with_the_city(data):
    html = d.kpi_cards_html(data, view(county="990102"))
    cards = _cards(html)
    assert float(cards["case_count"]["value"]) == 14.0
    assert "全市 " in html


def test_kpi_cards_escape_text(data):
    data.indicators.loc[0, "name"] = "<script>x</script>"
    html = d.kpi_cards_html(data, view())
    assert "<script>x" not in html and "&lt;script&gt;" in html


# ── ranking, table, map ─────────────────────────────────────────────────────────────────────


def test_ranking_bars_with_grades_and_rank_bands(data):
    html = d.ranking_bars_html(data, view(county="990102"))
    rows = re.findall(r'class="wb-bar-row( wb-row-selected)?" data-pick="(\d+)"', html)
    assert [c for _, c in rows] == ["990101", "990102", "990103"]
    assert [bool(s) for s, _ in rows] == [False, True, False]  # the picked county is outlined
    assert "width:100.0%" in html and "92.0 优秀" in html
    assert html.count('class="wb-band"') == 3 and "第1–2名" in html
    assert "综合得分（无骗保城市指数（按主体））" in html  # which index the bars rank by


def test_ranking_keeps_top_bottom_and_pick_for_large_cities():
    big = sample_data(120)
    v = view(county=big.counties["county_code"].iloc[60])
    html = d.ranking_bars_html(big, v)
    assert len(re.findall(r'data-pick="', html)) == d.MAX_BARS + 1
    assert f'data-pick="{v.county}"' in html and "共 120 个区县" in html
    html = d.ranking_table_html(big, v)
    assert len(re.findall(r"<tr[^>]*data-county=", html)) == d.MAX_TABLE_ROWS + 1
    assert "共 120 个区县" in html


def test_ranking_table_has_grades_bands_and_links(data):
    html = d.ranking_table_html(data, view(county="990101"))
    # the link opens the county in the same set, month and index
    assert (
        'href="county.ipynb?set=campaign_2025&amp;period=2025-09&amp;county=990102'
        '&amp;index=by_subject"' in html
    )
    assert "wb-row-selected" in html and "wb-band" in html and "第1–2名" in html


def test_map_colours_by_grade_and_by_light(data):
    fills, tips, legend = d.map_colours(data, view())
    assert fills["990101"] == d.GRADE_COLOURS["优秀"]
    assert "青山区" in tips["990101"] and "优秀" in legend
    fills, tips, legend = d.map_colours(data, view(focus="fund_recovery_rate"))
    assert set(fills.values()) <= set(d.STATUS_COLOURS.values())
    assert "✓" in legend
    fills, _, legend = d.map_colours(data, view(focus="case_count"))  # no target: quintiles
    assert set(fills.values()) <= set(d.SEQUENTIAL)
    assert fills["990101"] == d.SEQUENTIAL[-1]  # fewest cases is best (direction −1)


def test_shapes_from_geojson_and_tiles_for_the_rest(tmp_path, data):
    gj = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"county_code": "990101", "county_name": "青山区"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[120, 30], [121, 30], [121, 31], [120, 31], [120, 30]]],
                },
            },
            {
                "type": "Feature",
                "properties": {"county_code": "990102"},
                "geometry": {
                    "type": "MultiPolygon",
                    "coordinates": [[[[121, 30], [122, 30], [122, 31], [121, 30]]]],
                },
            },
        ],
    }
    path = tmp_path / "b.geojson"
    path.write_text(json.dumps(gj), encoding="utf-8")
    shapes = d.load_shapes(path, data.counties)
    codes = [s["code"] for s in shapes["shapes"]]
    assert codes == ["990101", "990102", "990103"] and shapes["missing"] == 1
    assert shapes["shapes"][0]["d"].startswith("M0.0,")
    assert shapes["shapes"][2]["d"].endswith("Z") and "h" in shapes["shapes"][2]["d"]
    none = d.load_shapes(tmp_path / "missing.geojson", data.counties)
    assert none["missing"] == 3


def test_geojson_path_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv(d.ENV_GEOJSON, raising=False)
    monkeypatch.setenv("WORKBENCH_CONFIG", str(tmp_path / "none.toml"))
    assert d.geojson_path() == d.DEMO_GEOJSON
    monkeypatch.setenv(d.ENV_GEOJSON, "/x/y.geojson")
    assert str(d.geojson_path()) == "/x/y.geojson"
    assert str(d.geojson_path("/a.geojson")) == "/a.geojson"
    monkeypatch.delenv(d.ENV_GEOJSON)
    cfg = tmp_path / "workbench.toml"
    cfg.write_text('[dashboard]\ngeojson = "maps/city.geojson"\n', encoding="utf-8")
    monkeypatch.setenv("WORKBENCH_CONFIG", str(cfg))
    assert d.geojson_path() == tmp_path / "maps" / "city.geojson"


# ── trend, funnel, rectification, calendar, lagging ─────────────────────────────────────────


def test_trend_follows_months_up_to_the_period(data):
    fig = d.trend_figure(data, view(focus="fund_recovery_rate", period="2025-08"))
    go.Figure(fig)
    actual = fig["data"][0]
    assert actual["x"] == ["7月", "8月"]
    assert actual["y"] == pytest.approx([0.80, 0.85])
    assert fig["data"][1]["y"] == [0.9, 0.9]  # target
    fig = d.trend_figure(data, view(focus="fund_recovery_rate", county="990101"))
    assert [t["name"] for t in fig["data"]][:2] == ["青山区", "目标"] or fig["data"][0][
        "name"
    ] == "青山区"
    assert any(t["name"] == "演示市" for t in fig["data"])


def test_funnel_draws_the_cohort_and_says_what_it_counts(data):
    stages = d.funnel_stages(data, view())
    assert [s["stage"] for s in stages] == ["leads", "filed", "closed", "recovered"]
    leads, filed, closed, rec = (s["count"] for s in stages)
    assert (leads, filed, closed) == (102, 32, 22)  # the city's cohort in 2025-09
    assert rec == pytest.approx(22 * 0.9)  # the last stage × the cohort's 900,000 / 1,000,000
    fig = d.funnel_figure(data, view())
    go.Figure(fig)
    assert fig["data"][0]["y"] == ["线索", "立案", "结案", "追回"]  # the declared labels
    hover = fig["data"][0]["customdata"][-1]
    assert "基金追回率 90.0%" in hover and "90.0万元" in hover and "100.0万元" in hover
    title = d.funnel_title_html(data, view())
    assert ">线索 → 立案 → 结案 → 追回</h3>" in title
    # the sentence that says which batch was counted: found 2025-01 … 2025-09, as of 2025-09
    assert "2025年1月至2025年9月" in title and "同一批" in title
    county = d.funnel_stages(data, view(county="990102"))  # the county's own cohort
    assert [s["count"] for s in county[:3]] == [100, 30, 20]


def test_funnel_draws_full_recovery_and_the_linked_stage_after_it(data):
    """When the cohort counts the cases recovered in full, 追回's bar is that count (not a
    rate-scaled guess) and the stage linked to the cases (整改) follows it, in the rows' order."""
    f = data.funnel
    rec = f["stage"] == "recovered"
    f = f.assign(count=f["count"].where(~rec, 15))
    rect = f[rec].assign(stage="rectified", label="整改", count=6)
    rect = rect.assign(amount_recovered=None, amount_due=None)
    rect.index = rect.index + 0.5  # right after each 追回 row
    data.funnel = pd.concat([f, rect]).sort_index().reset_index(drop=True)
    stages = d.funnel_stages(data, view())
    assert [(s["label"], s["count"]) for s in stages] == [
        ("线索", 102),
        ("立案", 32),
        ("结案", 22),
        ("追回", 15),
        ("整改", 6),
    ]
    assert stages[3]["text"] == "全额追回 15 件（追回率 90.0%）"
    assert "全额追回 15 件" in stages[3]["hover"] and "90.0万元" in stages[3]["hover"]
    assert ">线索 → 立案 → 结案 → 追回 → 整改</h3>" in d.funnel_title_html(data, view())
    title = d.funnel_title_html(data, view())
    assert "全额追回" in title and "整改为" in title  # the caption says what the bars count


def test_funnel_shows_what_the_set_declares(data):
    """Another declaration, another funnel: stages, labels and parts come from the YAML."""
    data.presentation["campaign_2025"] = {
        "funnel": [
            {
                "stage": "due",
                "label": "应整改",
                "indicator": "rectification_completion",
                "part": "denominator",
            },
            {
                "stage": "done",
                "label": "已整改",
                "indicator": "rectification_completion",
                "part": "numerator",
            },
        ],
    }
    f = data.funnel
    data.funnel = pd.concat(
        [
            f[f["stage"] == "leads"].assign(stage="due", label="应整改", count=10),
            f[f["stage"] == "filed"].assign(stage="done", label="已整改", count=7),
        ]
    ).sort_values(["period", "county_code"], kind="stable")
    stages = d.funnel_stages(data, view())
    assert [(s["label"], s["count"]) for s in stages] == [("应整改", 10), ("已整改", 7)]
    assert d.funnel_figure(data, view())["data"][0]["y"] == ["应整改", "已整改"]  # no 追回
    assert ">应整改 → 已整改</h3>" in d.funnel_title_html(data, view())
    assert d.rectification_figure(data, view())["data"] == []  # no rectification declared


def test_a_set_without_a_presentation_block_has_no_funnel(data):
    data.presentation = {}
    assert d.funnel_stages(data, view()) == []
    assert d.funnel_figure(data, view())["data"] == []
    assert d.rectification_figure(data, view())["data"] == []
    pytest.importorskip("anywidget")
    parts = d.Cockpit(data, geojson="/nonexistent.geojson").widget.parts
    assert parts["funnel"]["hidden"] and parts["rectification"]["hidden"]
    assert not parts["trend"].get("hidden")


def test_cards_follow_the_declared_groups(data):
    data.presentation["campaign_2025"]["card_groups"] = [
        {"name": "两降", "indicators": ["case_count"]},
        {"name": "两升", "indicators": ["case_detection_rate", "fund_recovery_rate"]},
    ]
    html = d.kpi_cards_html(data, view())
    # grouped cards first, in the declared order; an indicator no group names comes last
    assert list(_cards(html)) == [
        "case_count",
        "case_detection_rate",
        "fund_recovery_rate",
        "rectification_completion",
    ]
    chips = re.findall(r'<span class="wb-kpi-group">([^<]*)</span>', html)
    assert chips == ["两降", "两升", "两升"]


def test_rectification_progress(data):
    fig = d.rectification_figure(data, view())
    go.Figure(fig)
    assert [t["x"][0] for t in fig["data"]] == [7, 3]
    assert "70.0%" in fig["layout"]["annotations"][0]["text"]


def test_calendar_marks_current_phase_and_milestones(data):
    html = d.calendar_html(data, view(period="2025-09"))
    assert re.search(r'wb-current"[^>]*>重点抽查', html)
    assert "当前阶段：重点抽查" in html and "2025年11月30日" in html
    html = d.calendar_html(data, view(county="990103"))
    assert 'data-status="lagging"' in html


def test_lagging_list_with_reasons(data):
    html = d.lagging_html(data, view(county="990103"))
    assert "白石县" in html and "wb-row-selected" in html
    # the list is the 约谈名单 (进度滞后 or 问题突出): its count does not call every county 滞后
    assert "列入约谈名单" in html and "进度滞后，" not in html and "个区县进度滞后" not in html
    assert html.count("<li>") == 2


def test_empty_parts_say_so_in_chinese(data):
    v = view(period="2025-01")
    assert "暂无" in d.ranking_table_html(data, v) and "暂无" in d.ranking_bars_html(data, v)
    assert "本月没有列入约谈名单或督促名单的区县" in d.lagging_html(data, v)
    assert d.funnel_figure(data, v)["data"] == []


# ── state and parts ─────────────────────────────────────────────────────────────────────────


def test_every_html_part_carries_the_view_key(data):
    v = view(county="990102", focus="fund_recovery_rate")
    for builder in (
        d.kpi_cards_html,
        d.ranking_table_html,
        d.calendar_html,
        d.lagging_html,
        d.ranking_bars_html,
    ):
        html = builder(data, v)
        assert f'data-key="{v.key}"' in html
    assert v.key == "campaign_2025|2025-09|990102|fund_recovery_rate|by_subject"


def test_part_lookup_is_a_slice_of_one_sorted_table(data):
    a = data.part("kpis", "campaign_2025", "2025-09", "990101")
    assert len(a) == 4 and set(a["county_code"]) == {"990101"}
    assert data.part("kpis", "campaign_2025", "1999-01", "990101").empty
    assert len(data.part("index", "2025-09", "by_subject")) == 3


def test_pages_build_and_update_in_place(data):
    pytest.importorskip("anywidget")
    cp = d.Cockpit(data, geojson="/nonexistent.geojson")
    board = cp.widget
    assert set(board.parts) | set(board.big_parts) == {*d.Cockpit.parts, "map_selection", "words"}
    assert 'data-control="period"' in board.skeleton and 'data-slot="map"' in board.skeleton
    assert board.options["period"][0] == ["2025年9月", "2025-09"]
    revs = {k: p["rev"] for k, p in board.parts.items()}
    cp.on_select("period", "2025-08")  # what the browser sends when a month is picked
    assert cp.view.period == "2025-08" and board.key == cp.view.key
    assert board.values["period"] == "2025-08"
    assert 'data-key="' + cp.view.key in board.parts["kpis"]["html"]
    assert board.parts["kpis"]["rev"] == revs["kpis"] + 1
    cp.on_click("990102")  # a click on the map or a ranking bar picks the county
    assert cp.view.county == "990102" and board.values["county"] == "990102"
    assert board.parts["map_selection"]["selected"] == "990102"
    assert "&amp;county=990102&amp;" in board.parts["header"]["html"]
    before = board.parts["calendar"]["rev"]
    cp.on_select("hierarchy", "by_subject")  # unchanged view: nothing redrawn
    assert board.parts["calendar"]["rev"] == before
    cp.on_select("period", "1999-01")  # not an option: ignored
    assert cp.view.period == "2025-08"
    assert cp.last_update_ms < 1000
    page = d.CountyPage(data, county="990103", ledgers=lambda c: {})
    assert page.view.county == "990103" and "白石县" in page.widget.parts["header"]["html"]
    page.on_select("county", "990101")
    assert "青山区" in page.widget.parts["header"]["html"]
    assert page.widget.parts["history"]["figure"]["data"]
    page.open_county("123456")
    assert "123456" in page.widget.parts["notice"]["html"] and page.view.county == "990101"


def test_each_set_ranks_by_its_own_default_index(data):
    pytest.importorskip("anywidget")
    data.indicator_sets["other_set"] = "另一指标集"
    data.hierarchies = {"by_subject": "按主体", "progress": "进度"}
    data.presentation["other_set"] = {"default_index": "progress"}
    assert data.default_hierarchy("campaign_2025") == "by_subject"
    assert data.default_hierarchy("other_set") == "progress"
    assert data.default_hierarchy("undeclared") == "by_subject"  # the first index listed
    cp = d.Cockpit(data, indicator_set="other_set", geojson="/nonexistent.geojson")
    assert cp.view.hierarchy == "progress"
    cp.on_select("indicator_set", "campaign_2025")  # another set: its own index
    assert cp.view.hierarchy == "by_subject"
    cp.on_select("hierarchy", "progress")  # a pick stays while the set stays
    cp.on_select("period", "2025-08")
    assert cp.view.hierarchy == "progress"


def test_a_set_that_declares_nothing_gets_the_defaults():
    """Plain values (the cache keeps them as JSON); no block: no groups, no funnel, no bars, and
    the set's first index."""
    from workbench.declarations import Presentation, load_set

    iset = dataclasses.replace(load_set("no_fraud_city"), presentation=Presentation())
    got = d.declared_presentation(iset)
    # a set on the ledgers that names no words speaks of 区县 and 全市, as the workbench does
    from workbench.presentation.words import ledger_words, words_record

    words = words_record(ledger_words())
    assert (words["unit_noun"], words["whole"], words["on_ledgers"]) == ("区县", "全市", True)
    first = next(iter(iset.hierarchies))
    assert got == {**d.NO_PRESENTATION, "default_index": first, "words": words}
    declared = d.declared_presentation(load_set("no_fraud_city"))
    json.dumps(declared)
    assert declared["recovery"] and declared["funnel"] and declared["card_groups"]


def test_county_from_query(monkeypatch):
    monkeypatch.setenv("VOILA_PREHEAT", "False")
    monkeypatch.setenv("QUERY_STRING", "county=990102&x=1")
    assert d.county_from_query() == "990102"
    monkeypatch.setenv("QUERY_STRING", "")
    assert d.county_from_query("990101") == "990101"


# ── drill-down helpers ──────────────────────────────────────────────────────────────────────


def test_overdue_items_and_masked_tables():
    rect = pd.DataFrame(
        {
            "issue_id": ["A", "B", "C"],
            "county_code": ["990101"] * 3,
            "source": ["审计"] * 3,
            "responsible_unit": ["某医院"] * 3,
            "description": ["患者张三丰 身份证 110101199003071234 重复收费", "x", "y"],
            "found_date": pd.to_datetime(["2025-03-01", "2025-03-01", "2025-03-01"]),
            "deadline": pd.to_datetime(["2025-06-30", "2025-12-31", "2025-05-31"]),
            "status": ["整改中", "未整改", "已销号"],
            "closed_date": pd.to_datetime([None, None, "2025-05-20"]),
            "amount_involved": [1000.0, 2000.0, 3000.0],
            "amount_recovered": [0.0, 0.0, 3000.0],
        }
    )
    items = d.overdue_items({"rectifications": rect}, "990101", "2025-09")
    assert list(items["issue_id"]) == ["A"] and items["days_overdue"].iloc[0] == 92
    html = d.table_html(items)
    assert "110101199003071234" not in html and "1101**********1234" in html
    assert "整改时限" in html and "逾期天数" in html
    # the rectification ledger's own headers, money with its unit in the cell only
    assert "整改状态" in html and "案件状态" not in html
    assert "涉及金额</th>" in html and "(元)" not in html and "1,000.00元" in html
    # dates the Chinese way, an empty date as —, never NaT
    assert "2025年6月30日" in html and "NaT" not in html


def test_catalogue_has_every_dashboard_key():
    from workbench import serve
    from workbench.commands import serve as serve_cmd

    from pathlib import Path

    files = [*Path(d.__file__).parent.glob("*.py"), Path(serve.__file__), Path(serve_cmd.__file__)]
    text = "".join(f.read_text(encoding="utf-8") for f in files)
    assert "dash.kpi.target" in text  # the package's modules are read, not only its __init__
    used = {k for k in re.findall(r't\("(dash\.[\w.]+)"', text) if not k.endswith(".")}
    used |= {f"dash.status.{s}" for s in d.STATUS_COLOURS}
    used |= {f"dash.milestone.{s}" for s in d.MILESTONE_LIGHTS}
    used |= {f"dash.drill.{r}" for r in ("numerator", "denominator")}
    used |= {"dash.funnel.recovered"}
    missing = sorted(k for k in used if k not in catalogue())
    assert not missing, missing


# ── cache ───────────────────────────────────────────────────────────────────────────────────


def test_data_pickles_with_its_lookups(data):
    data.part("kpis", "campaign_2025", "2025-09")
    again = pickle.loads(pickle.dumps(data))
    assert set(again._slices) == set(data._slices)
    assert len(again.part("kpis", "campaign_2025", "2025-09")) == 16


def test_cache_key_changes_with_the_warehouse(tmp_path):
    wh = tmp_path / "w.duckdb"
    wh.write_bytes(b"x")
    k1 = d.cache_key(wh)
    wh.write_bytes(b"xy")
    assert d.cache_key(wh) != k1


def test_cache_key_changes_with_the_screening_rules(tmp_path, monkeypatch):
    """A rule's name or `source:` edited: the cockpit's cached rule table is not reused."""
    from workbench.screening import rules

    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "r.yaml").write_text("kind: screening_rules\n", "utf-8")
    monkeypatch.setattr(rules, "default_dir", lambda: folder)
    wh = tmp_path / "w.duckdb"
    wh.write_bytes(b"x")
    k1 = d.cache_key(wh)
    assert d.cache_key(wh) == k1
    (folder / "r.yaml").write_text("kind: screening_rules\ncode: x\n", "utf-8")
    assert d.cache_key(wh) != k1


def test_the_dashboard_knows_no_declared_code():
    """What a part shows comes from the YAML: no indicator, index or set code declared in
    indicators/ appears in the dashboard's code or its JavaScript."""
    from pathlib import Path

    from workbench.declarations import available_sets, load_sets

    codes = set()
    for iset in load_sets(available_sets()):
        codes |= {iset.code, *iset.indicators, *iset.hierarchies}
    assert "fund_recovery_rate" in codes and "by_subject" in codes  # the shipped sets were read
    files = [*Path(d.__file__).parent.glob("*.py"), d.ASSETS / "board.js"]
    found = {
        (f.name, c)
        for f in files
        for c in codes
        if re.search(rf"(?<!\w){re.escape(c)}(?!\w)", f.read_text(encoding="utf-8"))
    }
    assert not found, sorted(found)


def test_sets_and_cache_key_follow_the_configured_indicators_folder(tmp_path, monkeypatch):
    """`--indicators-dir` reaches kernels as $WORKBENCH_INDICATORS_DIR: the cockpit lists that
    folder's sets, and a change to its files is a new cache key."""
    from workbench.config import ENV_INDICATORS

    wh = tmp_path / "w.duckdb"
    wh.write_bytes(b"x")
    folder = tmp_path / "sets"
    folder.mkdir()
    (folder / "a.yaml").write_text("kind: indicator_set\ncode: own_set\n", encoding="utf-8")
    (folder / "b.yaml").write_text("kind: calendar\ncode: cal\n", encoding="utf-8")
    monkeypatch.setenv(ENV_INDICATORS, str(folder))
    assert d.indicator_set_codes() == ["own_set"]
    before = d.cache_key(wh)
    (folder / "a.yaml").write_text("kind: indicator_set\ncode: own_set\nname: 改\n", "utf-8")
    assert d.cache_key(wh) != before
