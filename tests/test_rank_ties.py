"""Ranks follow the printed score: counties printed with the same score share a rank (并列: 1, 1, 3)
on every face, while the analytic ranks (`CompositeResult.ranks`, COINr parity) stay on the
unrounded scores.

The city here has three units whose index scores are their own values (goalposts [0, 100]):
甲 80.04 and 乙 79.96 (both printed 80.0分) and 丙 79.94 (printed 79.9分). By hand: published
ranks 1, 1, 3; analytic ranks 1, 2, 3; 甲 and 乙 are 并列第1; 丙 is last (末1名).
"""

from __future__ import annotations

import csv
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench import composite, fmt
from workbench.composite import CompositeConfig, Hierarchy, Node, build_composite
from workbench.presentation import ranks as prank

SCORES = {"T1": 80.04, "T2": 79.96, "T3": 79.94}
NAMES = {"T1": "甲单位", "T2": "乙单位", "T3": "丙单位"}
PUBLISHED = {"T1": 1, "T2": 1, "T3": 3}  # by hand: 80.0, 80.0, 79.9
ANALYTIC = {"T1": 1, "T2": 2, "T3": 3}  # by hand: 80.04 > 79.96 > 79.94


# ---------------------------------------------------------------------------------------------
# The engine: one place decides the published rank
# ---------------------------------------------------------------------------------------------
def _tree() -> Hierarchy:
    return Hierarchy(
        (
            Node("x", "ALL", 1, goalposts=(0.0, 100.0)),
            Node("ALL", "IDX", 2),
            Node("IDX", None, 3),
        )
    )


def _built() -> composite.CompositeResult:
    data = pd.DataFrame({"x": list(SCORES.values())}, index=list(SCORES))
    return build_composite(data, _tree(), CompositeConfig(normalise="goalposts"))


def test_published_ranks_tie_equal_printed_scores_and_analytic_ranks_do_not() -> None:
    res = _built()
    np.testing.assert_allclose(res.scores["IDX"], list(SCORES.values()))
    assert res.ranks["IDX"].to_dict() == ANALYTIC  # what COINr gives (unrounded)
    assert res.published_ranks["IDX"].to_dict() == PUBLISHED
    table = res.table()
    root = table[table["node"] == "IDX"].set_index("unit")["rank"]
    assert root.to_dict() == PUBLISHED  # the table every face reads publishes
    assert "80.0" in res._repr_html_() and "80.04" not in res._repr_html_()


def test_published_rank_by_hand_with_missing_and_half_up() -> None:
    # 80.05 is printed 80.1 (half up, as a reader rounds), so it is first alone
    s = pd.Series([80.04, np.nan, 79.96, 80.05, 79.94], index=list("abcde"))
    got = composite.published_rank(s)
    assert got.tolist()[:1] + got.tolist()[2:] == [2, 2, 1, 4]
    assert got.isna().tolist() == [False, True, False, False, False]
    frame = composite.published_rank(pd.DataFrame({"p": s, "q": s[::-1].to_numpy()}))
    assert frame["p"].tolist()[2:] == [2, 1, 4] and frame["q"].tolist()[:2] == [4, 1]


def test_ties_top_and_bottom_by_hand() -> None:
    ranks = [1, 1, 3, 4, 4, None]
    assert composite.shares_rank(ranks).tolist() == [True, True, False, True, True, False]
    # 居前3位: ranks ≤ 3 (1, 1, 3); 居前1位 takes both 1sts
    assert composite.within_top(ranks, 3).tolist() == [True, True, True, False, False, False]
    assert composite.within_top(ranks, 1).tolist() == [True, True, False, False, False, False]
    # 末1名: both 4ths (nobody behind either), never the unranked
    assert composite.within_bottom(ranks, 1).tolist() == [False, False, False, True, True, False]
    # 末3名: 3rd (two behind) and both 4ths
    assert composite.within_bottom(ranks, 3).tolist() == [False, False, True, True, True, False]
    assert composite.within_bottom([], 1).tolist() == []


def test_rank_words_by_hand() -> None:
    assert prank.place_text(1, tied=True) == "并列第1名"
    assert prank.place_text(3) == "第3名"
    assert prank.place_text(None) == "—"
    assert [prank.median_text(v) for v in (2.0, 2.5, 10, None, float("nan"))] == [
        "2",
        "2.5",
        "10",
        "—",
        "—",
    ]
    assert fmt.score_text(80.05) == "80.1" and fmt.score_text(79.94) == "79.9"
    assert fmt.score_text(None) == "—"


printed_scores = st.lists(
    st.one_of(st.none(), st.floats(min_value=0, max_value=100, allow_nan=False)),
    min_size=1,
    max_size=30,
)


@given(printed_scores)
def test_published_rank_is_monotone_in_the_printed_score(values: list[float | None]) -> None:
    scores = pd.Series([np.nan if v is None else v for v in values], dtype="float64")
    ranks = composite.published_rank(scores)
    printed = fmt.published_score(scores.to_numpy())
    for i in range(len(values)):
        if np.isnan(printed[i]):
            assert pd.isna(ranks[i])
            continue
        # the rank a reader can count: one more than the units printed strictly higher
        assert ranks[i] == 1 + int(np.nansum(printed > printed[i]))
        for j in range(len(values)):
            if np.isnan(printed[j]):
                continue
            if printed[i] == printed[j]:
                assert ranks[i] == ranks[j]
            elif printed[i] > printed[j]:
                assert ranks[i] < ranks[j]
    # and it never ranks a unit below its analytic rank (rounding only merges neighbours)
    analytic = composite.rank_desc(scores)
    ok = ~np.isnan(printed)
    assert (ranks[ok].astype(int) <= analytic[ok].astype(int)).all()


@given(st.lists(st.integers(min_value=1, max_value=8), max_size=20), st.integers(1, 5))
def test_top_and_bottom_keep_ties_whole(ranks: list[int], k: int) -> None:
    r = np.array(ranks)
    top, bottom = composite.within_top(r, k), composite.within_bottom(r, k)
    for i in range(len(r)):
        same = r == r[i]
        assert top[same].all() == top[i] and bottom[same].all() == bottom[i]  # ties whole
        assert bottom[i] == (int((r > r[i]).sum()) < k)


def test_the_interval_holds_the_published_rank() -> None:
    from workbench.uncertainty import rank_uncertainty

    data = pd.DataFrame({"x": list(SCORES.values())}, index=list(SCORES))
    res = rank_uncertainty(
        data, _tree(), CompositeConfig(normalise="goalposts"), n_samples=20, alternatives={}
    )
    s = res.summary.set_index("unit")
    for unit, rank in PUBLISHED.items():
        assert s.loc[unit, "q05"] <= rank <= s.loc[unit, "q95"], unit
    assert s["nominal_rank"].to_dict() == ANALYTIC  # the analysis itself stays raw


def test_bottom_n_takes_a_tie_at_the_boundary_whole() -> None:
    from workbench.indicators import TalkCriteria, _talk_bottom

    scores = pd.DataFrame(
        {
            "county_code": ["A", "B", "C", "D"],
            "county_name": ["甲县", "乙县", "丙县", "丁县"],
            "score": [90.0, 85.0, 70.04, 69.96],
            "rank": [1, 2, 3, 3],
            "grade": ["优秀"] * 4,
            "index_name": ["综合指数"] * 4,
        }
    )
    got = _talk_bottom(None, None, scores, TalkCriteria(bottom_n=1))
    # `rank > n − k` (3 > 3) would name nobody; both printed 70.0 are last together
    assert got["county_code"].tolist() == ["C", "D"]
    assert got["reason"].tolist() == ["综合指数排名并列末位（并列第3名，共4个区县）"] * 2
    alone = _talk_bottom(None, None, scores.assign(rank=[1, 2, 3, 4]), TalkCriteria(bottom_n=1))
    assert alone["reason"].tolist() == ["综合指数排名末位（第4名，共4个区县）"]


# ---------------------------------------------------------------------------------------------
# Every face, on a set of the user's own table
# ---------------------------------------------------------------------------------------------
TABLE_YAML = """\
kind: table
code: tie_stats
name: 考评得分
unit:
  field: unit_code
  header: 单位代码
  name_field: unit_name
  name_header: 单位名称
  noun: 单位
period:
  field: year
  header: 年度
  frequency: year
fields:
  points: {header: 考评分, type: number, required: true}
"""

SET_YAML = """\
kind: indicator_set
code: tie_set
name: 考评
parameters:
  talk_bottom_n: {value: 1, name: 约谈情形：综合排名末位名次数}
measures:
  points: {table: tie_stats, agg: sum, field: points}
indicators:
  points:
    type: count
    name: 考评分
    unit: 分
    decimals: 2
    numerator: points
grade_bands:
  - {min: 80, grade: 良好}
  - {min: -inf, grade: 一般}
hierarchies:
  tie_index:
    name: 考评指数
    method: {normalise: goalposts, aggregate: arithmetic}
    tree:
      - code: all
        name: 总体
        children:
          - {indicator: points, goalposts: [0, 100]}
presentation:
  unit_noun: 单位
  whole_name: 全部单位
  issuer: 考评办公室
"""


@pytest.fixture(scope="module")
def own(tmp_path_factory) -> dict:
    from workbench.declarations import load_table
    from workbench.tables import ingest_table

    tmp = tmp_path_factory.mktemp("rank_ties")
    folder = tmp / "indicators"
    folder.mkdir()
    (folder / "tie_stats.yaml").write_text(TABLE_YAML, encoding="utf-8")
    (folder / "tie_set.yaml").write_text(SET_YAML, encoding="utf-8")
    path = tmp / "考评.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["单位代码", "单位名称", "年度", "考评分"])
        for code, score in SCORES.items():
            w.writerow([code, NAMES[code], "2023", f"{score:.2f}"])
    ingest_table(load_table("tie_stats", [folder]), [path], tmp / "wh.duckdb", tmp / "reports")
    return {"wh": tmp / "wh.duckdb", "folder": folder, "tmp": tmp}


@pytest.fixture()
def own_env(own, monkeypatch) -> dict:
    monkeypatch.setenv("WORKBENCH_INDICATORS_DIR", str(own["folder"]))
    monkeypatch.setenv("WORKBENCH_SETS", "tie_set")
    return own


def _names(frame: pd.DataFrame, col: str, noun: str = "单位") -> dict[str, object]:
    by_name = {v: k for k, v in NAMES.items()}
    return {by_name[n]: r for n, r in zip(frame[noun], frame[col], strict=True)}


def test_the_engine_tables_and_the_cli_export_publish_1_1_3(own_env, capsys) -> None:
    from workbench.cli import main
    from workbench.declarations import load_set
    from workbench.results import evaluate

    ev = evaluate(own_env["wh"], "2023", load_set("tie_set", [own_env["folder"]]))
    root = ev.index_table[ev.index_table["node"] == "tie_index"]
    assert dict(zip(root["county_code"], root["rank"].astype(int))) == PUBLISHED
    assert dict(zip(root["county_code"], root["grade"])) == {
        "T1": "良好",
        "T2": "良好",  # 79.96 printed 80.0: graded 良好, ranked with 甲
        "T3": "一般",
    }
    summary = ev.index["tie_index"].summary()
    assert dict(zip(summary["county_code"], summary["rank"].astype(int))) == PUBLISHED
    assert ev.index["tie_index"].ranks["tie_index"].to_dict() == ANALYTIC
    # the 约谈 list names the last (丙, alone at 3rd) and says so
    lag = ev.lagging
    assert lag["county_code"].tolist() == ["T3"]
    assert re.search("考评指数排名末位（第3名，共3个[^）]*）", str(lag.iloc[0].to_dict()))
    # compute writes the warehouse table the faces read, and the Excel export
    out = own_env["tmp"] / "out"
    argv = ["compute", "--set", "tie_set", "--period", "2023", "--out", str(out)]
    assert main([*argv, "--warehouse", str(own_env["wh"]), "--uncertainty", "10"]) == 0
    said = capsys.readouterr().out
    assert "80.0" in said and "80.04" not in said
    from workbench.warehouse import Warehouse

    with Warehouse(own_env["wh"], read_only=True) as wh:
        got = wh.table(
            "SELECT county_code, rank FROM index_scores WHERE node = 'tie_index' "
            "AND run_id = (SELECT max(run_id) FROM index_scores)"
        )
    assert dict(zip(got["county_code"], got["rank"].astype(int))) == PUBLISHED
    import openpyxl

    book = openpyxl.load_workbook(next(out.glob("*.xlsx")), read_only=True)
    found = []
    for sheet in book.worksheets:
        rows = [list(r) for r in sheet.iter_rows(values_only=True)]
        for i, head in enumerate(rows):
            if head and "排名" in head and "节点代码" in head:
                col = {h: j for j, h in enumerate(head)}
                for r in rows[i + 1 :]:
                    if r[col["节点代码"]] == "tie_index":
                        found.append((r[col["单位代码"]], r[col["排名"]]))
                break
            if head and "名义排名" in head:  # the rank intervals' sheet names the same rank
                col = {h: j for j, h in enumerate(head)}
                nominal = {r[col["单位代码"]]: r[col["名义排名"]] for r in rows[i + 1 :]}
                assert nominal == PUBLISHED
                for r in rows[i + 1 :]:
                    assert r[col["排名5%分位"]] <= nominal[r[col["单位代码"]]]
                break
    assert dict(found) == PUBLISHED, found


def test_the_reports_and_the_bulletin_publish_1_1_3(own_env) -> None:
    from workbench import report
    from workbench.documents import options as dopt
    from workbench.documents import produce

    city = report.city_report("latest", str(own_env["wh"]), "tie_set")
    frame = city.ranking_frame()
    assert _names(frame, "排名") == PUBLISHED
    assert _names(frame, "综合得分") == {"T1": "80.0", "T2": "80.0", "T3": "79.9"}
    assert city.leaders(1) == (["甲单位", "乙单位"], ["丙单位"])
    assert city.leaders(3) == (["甲单位", "乙单位", "丙单位"], ["丙单位", "乙单位", "甲单位"])
    a = report.county_report("T1", "latest", str(own_env["wh"]), "tie_set").narrative_text()
    b = report.county_report("T2", "latest", str(own_env["wh"]), "tie_set").narrative_text()
    c = report.county_report("T3", "latest", str(own_env["wh"]), "tie_set").narrative_text()
    assert "综合得分80.0分，排名并列第1位" in a and "综合得分80.0分，排名并列第1位" in b
    assert "综合得分79.9分，排名第3位" in c and "并列" not in c
    chart = report.county_report("T2", "latest", str(own_env["wh"]), "tie_set").ranking_chart()
    drawn = [t for t in chart.spec["data"] if t.get("y")]
    assert sorted(drawn[0]["y"]) == [1.0, 1.0, 3.0]
    doc, _notes = produce.build(
        "bulletin", "", city, dopt.DocOptions(), city.data.period, lambda p: city
    )
    tables = [
        blk.frame
        for att in doc.attachments
        for blk in att.blocks
        if hasattr(blk, "frame") and "排名" in blk.frame.columns
    ]
    assert tables and _names(tables[0], "排名") == PUBLISHED
    text = "".join(getattr(b, "text", "") for b in doc.blocks)
    assert "得分居前三位的是甲单位、乙单位、丙单位" in text


def test_the_cockpit_publishes_1_1_3_and_says_bing_lie(own_env) -> None:
    from workbench import dashboard as d
    from workbench.dashboard import exports
    from workbench.dashboard.loading import from_engine
    from workbench.dashboard.map import _map_colours

    data = from_engine(own_env["wh"], uncertainty_samples=10)
    period = data.periods[-1]
    view = d.View("tie_set", period)
    rows = d.ranking_rows(data, view)
    assert {r["county_code"]: int(r["rank"]) for r in rows} == PUBLISHED
    table = d.ranking_table_html(data, view)
    shown = re.findall(r'data-county="(T\d)"><td class="wb-num">(\d+)</td>', table)
    assert {c: int(r) for c, r in shown} == PUBLISHED
    assert "80.0" in table and "80.04" not in table
    # 中位排名: whole ranks are printed whole (never 2.0)
    medians = re.findall(r'<td class="wb-num">([^<]*)</td></tr>', table)
    assert medians and all(re.fullmatch(r"\d+(\.5)?", m) for m in medians), medians
    bars = d.ranking_bars_html(data, view)
    assert re.findall(r'wb-bar-label">(\d)\. ', bars) == ["1", "1", "3"]
    assert "排名区间（1–3" in bars  # three ranked units, though no unit is 2nd
    for code, place in (
        ("T1", "并列第1名 / 共3个"),
        ("T2", "并列第1名 / 共3个"),
        ("T3", "第3名 / 共3个"),
    ):
        summary = d.rank_summary_html(data, d.View("tie_set", period, code))
        assert re.search(r"data-rank>([^<]*)<", summary).group(1) == place
    _fills, tips, _legend = _map_colours(data, view)
    assert tips["T1"].endswith("并列第1名") and tips["T2"].endswith("并列第1名")
    assert tips["T3"].endswith("，第3名") and "79.9" in tips["T3"]
    sheet = exports.ranking_table(data, view)[0].frame
    assert dict(zip(sheet["county_code"], sheet["rank"].astype(int))) == PUBLISHED


def test_the_faces_agree_with_each_other(own_env) -> None:
    """The same county's rank read off the report, the cockpit and the engine table."""
    from workbench import dashboard as d
    from workbench import report
    from workbench.dashboard.loading import from_engine

    city = report.city_report("latest", str(own_env["wh"]), "tie_set")
    from_report = _names(city.ranking_frame(), "排名")
    data = from_engine(own_env["wh"], uncertainty_samples=0)
    rows = d.ranking_rows(data, d.View("tie_set", data.periods[-1]))
    from_cockpit = {r["county_code"]: int(r["rank"]) for r in rows}
    assert from_report == from_cockpit == PUBLISHED
