"""A set on its own table speaks in its own words and shows only its own parts, in every face:
the county report, the city overview, the 通报, the batch index, the exports, the CLI.

The shipped example (docs/分析自有数据.md) declares 地区 / 全省 / its title and issuer; none of its
faces may say 区县 or 全市, or show the campaign's ledger lists, milestones or lagging list.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import nbformat
import pytest

from workbench.cli import main
from workbench.declarations import Presentation, load_set
from workbench.presentation.words import face_values, ledger_words, set_words, words_from

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data_samples" / "自有数据示例"
FOLDER = EXAMPLE / "indicators"
CAMPAIGN = re.compile("区县|全市|专项整治")


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wh = tmp_path_factory.mktemp("own_faces") / "wh.duckdb"
    argv = ["ingest", "--table", "enforcement_stats", str(EXAMPLE / "执法统计_2019-2024财年.csv")]
    assert main([*argv, "--indicators-dir", str(FOLDER), "--warehouse", str(wh)]) in (0, 1)
    return wh


def test_the_words_come_from_the_declarations_with_neutral_defaults() -> None:
    declared = set_words(load_set("enforcement", [FOLDER]))
    assert (declared.unit_noun, declared.whole, declared.total_name) == ("地区", "全省", "全省合计")
    assert (declared.period_noun, declared.trend_kind, declared.on_ledgers) == (
        "期间",
        "历期",
        False,
    )
    assert face_values(declared)["whole_choice"] == "全省（全部地区）"
    bare = dataclasses.replace(load_set("enforcement", [FOLDER]), presentation=Presentation())
    w = set_words(bare)  # nothing declared: the table's noun, 全部<noun>, nobody signs
    assert (w.unit_noun, w.whole, w.issuer, w.report_title) == ("地区", "全部地区", "", "评估报告")
    assert face_values(w)["whole_choice"] == "全部地区"
    # all the units of the whole, e.g. the trend's mean line: never 全部地区地区
    assert face_values(declared)["whole_units"] == "全省地区"
    assert face_values(w)["whole_units"] == "全部地区"
    assert face_values(words_from(None))["whole_units"] == "全市区县"
    led = ledger_words("演示市")
    assert (led.unit_noun, led.whole, led.total_name, led.issuer) == (
        "区县",
        "全市",
        "演示市",
        "演示市医疗保障局",
    )


def test_the_reports_say_region_and_leave_out_what_the_set_has_not(example, monkeypatch) -> None:
    from workbench import report

    monkeypatch.setenv("WORKBENCH_INDICATORS_DIR", str(FOLDER))
    county = report.county_report("R07", "latest", str(example), "enforcement")
    for part in ("overdue_rectifications", "open_cases", "unreferred", "key_monitored"):
        assert getattr(county, part)() is None, part  # no ledger: no ledger list
    assert county.milestones() is None  # no calendar: no milestones
    text = county.narrative_text() + "".join(county.next_steps_list())
    assert "在8个地区中综合得分63.3分，排名第1位" in text
    assert not CAMPAIGN.search(text), text
    chart = county.ranking_chart()
    assert chart.spec["layout"]["title"]["text"].startswith("全省综合排名")
    city = report.city_report("latest", str(example), "enforcement")
    assert city.lagging_table() is None
    ranking = city.ranking_frame()
    assert list(ranking.columns) == ["排名", "地区", "综合得分", "排名区间（5%–95%）"]
    assert ranking.iloc[0]["地区"] == "白沙县"
    draft = "".join(city.bulletin_paragraphs())
    assert draft.startswith("现将全省8个地区2023财年医保基金执法绩效（示例）情况通报如下。")
    assert not CAMPAIGN.search(draft), draft


def test_the_bulletin_of_the_example_is_its_own(example, monkeypatch) -> None:
    from workbench import report
    from workbench.documents import options as dopt
    from workbench.documents import produce

    monkeypatch.setenv("WORKBENCH_INDICATORS_DIR", str(FOLDER))
    city = report.city_report("latest", str(example), "enforcement")
    doc, _notes = produce.build(
        "bulletin", "", city, dopt.DocOptions(), city.data.period, lambda p: city
    )
    assert doc.title == "关于2023财年医保基金执法绩效（示例）情况的通报"
    assert doc.header.issuer == "示例省医疗保障局基金监管处"
    assert doc.header.recipients == ("各地区",) and doc.header.cc == ()
    assert doc.header.number.startswith("示医保发〔2023〕")
    text = "".join(getattr(b, "text", "") for b in doc.blocks)
    assert "全省层面达标1项" in text and "各地区得分和排名区间见附件2" in text
    heads = [b.text for b in doc.blocks if type(b).__name__ == "Heading"]
    assert heads == ["一、指标完成情况（2023财年）", "二、综合评分和排名"]
    assert not CAMPAIGN.search(text + "".join(heads)), text
    tables = [blk.frame for att in doc.attachments for blk in att.blocks if hasattr(blk, "frame")]
    first = tables[0]
    assert first.columns[0] == "地区" and first.iloc[-2, 0] == "全省"


def test_a_section_whose_code_showed_nothing_is_left_out_and_the_rest_renumbered() -> None:
    from workbench.publish import _report_view

    def code(shown: bool) -> nbformat.NotebookNode:
        c = nbformat.v4.new_code_cell("x", execution_count=1)
        c.outputs = [nbformat.v4.new_output("display_data", {"text/html": "<p>有</p>"})] * shown
        return c

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("## 一、甲"),
        code(True),
        nbformat.v4.new_markdown_cell("## 二、乙"),
        code(False),
        nbformat.v4.new_markdown_cell("## 三、丙"),
        code(True),
        nbformat.v4.new_markdown_cell("## 附：说明"),
        code(True),
    ]
    heads = [c.source for c in _report_view(nb).cells if c.cell_type == "markdown"]
    assert heads == ["## 一、甲", "## 二、丙", "## 附：说明"]


def test_exports_and_the_cli_summary_in_the_sets_words(example, tmp_path, capsys) -> None:
    import openpyxl

    out = tmp_path / "out"
    argv = ["compute", "--set", "enforcement", "--indicators-dir", str(FOLDER)]
    assert main([*argv, "--warehouse", str(example), "--out", str(out), "--uncertainty", "20"]) == 0
    said = capsys.readouterr().out
    assert "全省合计：1 项达标" in said and not CAMPAIGN.search(said)
    assert "进度滞后" not in said  # no calendar, no 约谈 criterion: no lagging line
    book = openpyxl.load_workbook(next(out.glob("*.xlsx")))
    assert book.sheetnames == ["地区指标", "全省指标", "综合评价", "排名区间"]
    assert book["全省指标"]["A2"].value == "全省"
    assert not list(out.glob("*milestones*")) and not list(out.glob("*lagging*"))


def test_the_cockpit_hides_what_the_reports_leave_out_by_the_same_rule() -> None:
    """The lagging list and the ledger lists: the cockpit reads `indicators.has_lagging_list`
    and the set's `on_ledgers`, as the reports and the 通报 do — not a rule of its own."""
    import dataclasses as dc

    from workbench.dashboard.loading import declared_presentation
    from workbench.declarations.model import Parameter

    own = load_set("enforcement", [FOLDER])
    shown = declared_presentation(own)
    assert (shown["lagging"], shown["ledger_lists"], shown["calendar"]) == (False, False, False)
    campaign = load_set("campaign_2025", [ROOT / "indicators"])
    shown = declared_presentation(campaign)
    assert (shown["lagging"], shown["ledger_lists"], shown["calendar"]) == (True, True, True)
    # a set without a calendar that declares a 约谈 criterion (the bottom 2) has a lagging list
    params = {**own.parameters, "talk_bottom_n": Parameter("talk_bottom_n", 2)}
    with_bottom = dc.replace(own, parameters=params)
    assert declared_presentation(with_bottom)["lagging"] is True


def test_a_multi_set_cockpit_rewrites_its_titles_in_the_picked_sets_words() -> None:
    """The skeleton is drawn once, in the words of the set the page opened on; picking a set
    of 地区 rewrites every worded title and label through the `words` part (and back)."""
    import dataclasses
    import re

    import pandas as pd

    from tests.test_dashboard import sample_data
    from workbench import dashboard as d
    from workbench.presentation.words import SetWords, words_record

    data = sample_data()
    frames = {
        f.name: pd.concat(
            [v, v[v["indicator_set"] == "campaign_2025"].assign(indicator_set="own")],
            ignore_index=True,
        )
        for f in dataclasses.fields(data)
        if isinstance(v := getattr(data, f.name), pd.DataFrame) and "indicator_set" in v.columns
    }
    own = SetWords("地区", "评估报告", "", "全部地区", whole="全部地区", on_ledgers=False)
    two = dataclasses.replace(
        data,
        **frames,
        indicator_sets={**data.indicator_sets, "own": "自有指标"},
        presentation={**data.presentation, "own": {"words": words_record(own)}},
    )
    cp = d.Cockpit(two, geojson="/nonexistent.geojson")
    shown = dict(re.findall(r'data-words="([^"]+)">([^<]*)<', cp.board.skeleton))
    # what the page opened with: the ledgers' 区县, and the part says the same
    assert shown["dash.panel.map"] == "区县分布" and shown["dash.selector.county"] == "区县"
    assert cp.board.parts["words"]["texts"] == shown
    cp.on_select("indicator_set", "own")
    texts = cp.board.parts["words"]["texts"]
    assert set(texts) == set(shown)  # every worded text of the skeleton, no other
    assert texts["dash.panel.map"] == "地区分布"
    assert texts["dash.panel.lagging"] == "地区约谈名单与督促名单"
    assert texts["dash.map.tiles"] == "3 个地区无边界数据，以方块示意"
    assert texts["dash.selector.county"] == "地区"
    assert not any("区县" in v for v in texts.values())
    rev = cp.board.parts["words"]["rev"]
    cp.on_select("indicator_set", "campaign_2025")
    assert cp.board.parts["words"]["texts"] == shown and cp.board.parts["words"]["rev"] > rev
