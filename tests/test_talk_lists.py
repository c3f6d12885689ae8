"""The 约谈名单 and the 督促名单 say what is true, the same on every face.

- who is summoned (约谈) and who is only named and given a date (督促) follows the declared
  line (`talk_min_milestones`, `talk_milestone_shortfall` in campaign_2025.yaml), worked out by
  hand below;
- a 复查 that recorded 整改到位 before the evidence that lists the county now reads 需再次约谈,
  never 已整改到位 beside a listing;
- the bottom of the ranking is one phrase, the cockpit's 复查情况 says — when nobody was talked
  to, and the ranking table's column means the list a county is on, not 进度滞后;
- on the demo city the 通报, its 附件, the 全市概览, the county reports and the cockpit all say
  the same for every listed county, and no county praised among the top three is summoned
  for a near miss.
"""

from __future__ import annotations

import dataclasses
import html
import io
import re

import pandas as pd
import pytest

from tests.test_measures import A, B, make_ledgers
from workbench.indicators import (
    LAGGING_COLUMNS,
    TalkCriteria,
    bottom_place_text,
    lagging_frame,
    milestone_shortfall,
)
from workbench.messages import t
from workbench.presentation import lists

C, D, E, F = "330403", "330404", "330405", "330406"


def _ms(county: str, status: str, current: float, projected: float, **kw) -> dict:
    row = dict(
        county_code=county,
        county_name=f"{county}县",
        milestone=kw.get("code", "m1"),
        milestone_name=kw.get("name", "问题整改完成率达100%"),
        indicator="rectification_completion",
        indicator_name="整改完成率",
        unit="%",
        decimals=1,
        op=kw.get("op", ">="),
        target=kw.get("target", 1.0),
        deadline="2025-11-30",
        span="ctd",
        as_of=kw.get("as_of", "2025-11"),
        basis="",
        current_value=current,
        projected_value=projected,
        status=status,
    )
    return row


# ----------------------------------------------------------------------------- by hand
def test_shortfall_is_the_deciding_value_against_the_target() -> None:
    ms = pd.DataFrame(
        [
            _ms(A, "missed", 0.977, 0.99),  # after the deadline: the value then, 1 − 0.977
            _ms(B, "lagging", 0.5, 0.85),  # before: the projection, 1 − 0.85
            _ms(C, "missed", -0.2, -0.2, op="<=", target=-0.3),  # (−0.2 − −0.3) / 0.3
            _ms(D, "met", 1.0, 1.0),  # not short
            _ms(E, "missed", 2.0, 2.0, target=0.0, op="<="),  # a zero target missed
        ]
    )
    got = milestone_shortfall(ms)
    assert got[:4] == pytest.approx([0.023, 0.15, 1 / 3, 0.0])
    assert got[4] == float("inf")


def test_the_declared_line_between_talk_and_remind() -> None:
    ms = pd.DataFrame(
        [
            # A: one milestone, 2.3% short → 督促 (under 2 milestones and under 20%)
            _ms(A, "missed", 0.977, 0.977),
            # B: two milestones, each a little short → 约谈 (2 ≥ 2)
            _ms(B, "missed", 0.97, 0.97),
            _ms(
                B, "lagging", 0.9, 0.95, code="m2", name="违规资金追回率达95%以上", as_of="2025-09"
            ),
            # C: one milestone, 50% short → 约谈 (0.5 ≥ 0.2)
            _ms(C, "missed", 0.5, 0.5),
            # D: one milestone projected 15% short → 督促 (the projection decides while lagging)
            _ms(D, "lagging", 0.4, 0.85, as_of="2025-09"),
            # E: a little short, but graded 不合格 → 约谈 (the grade is serious on its own)
            _ms(E, "missed", 0.99, 0.99),
            _ms(F, "met", 1.0, 1.0),
        ]
    )
    scores = pd.DataFrame(
        dict(
            county_code=[A, B, C, D, E, F],
            county_name=[f"{c}县" for c in (A, B, C, D, E, F)],
            score=[85.0, 70.0, 66.0, 75.0, 55.0, 90.0],
            rank=[2, 4, 5, 3, 6, 1],
            grade=["良好", "合格", "合格", "合格", "不合格", "优秀"],
            index_name=["指数"] * 6,
        )
    )
    crit = TalkCriteria(grades=("不合格",), period="2025-12", min_milestones=2)
    crit = dataclasses.replace(crit, milestone_shortfall=0.2)
    out = lagging_frame(ms, None, scores, crit)
    assert list(out.columns) == LAGGING_COLUMNS
    level = dict(zip(out["county_code"], out["list_level"]))
    assert level == {A: "remind", B: "talk", C: "talk", D: "remind", E: "talk"}
    # 约谈 first, then 督促; within each, most criteria, then most milestones
    assert list(out["county_code"]) == [E, B, C, A, D]
    # the newest month the listing evidence stands at: B's two milestones, 2025-11 and 2025-09
    assert dict(zip(out["county_code"], out["as_of"]))[B] == "2025-11"
    assert dict(zip(out["county_code"], out["as_of"]))[E] == "2025-12"  # the grade: the period
    # 1 milestone and no share (the defaults): everyone lagging is summoned, as before
    old = dataclasses.replace(crit, min_milestones=1, milestone_shortfall=0.0)
    assert set(lagging_frame(ms, None, scores, old)["list_level"]) == {"talk"}


def test_the_bottom_place_is_one_phrase() -> None:
    assert bottom_place_text(10, 10, 1) == "末位（第10名，共10个区县）"
    assert bottom_place_text(9, 10, 1, tied=True) == "并列末位（并列第9名，共10个区县）"
    assert bottom_place_text(9, 10, 3) == "第9名（共10个区县），居后3位"
    scores = pd.DataFrame(
        dict(
            county_code=[A, B],
            county_name=["甲县", "乙县"],
            score=[80.0, 53.8],
            rank=[1, 2],
            grade=["良好", "不合格"],
            index_name=["综合评分"] * 2,
        )
    )
    out = lagging_frame(pd.DataFrame(), None, scores, TalkCriteria(bottom_n=1))
    assert out["reasons"].tolist() == ["综合评分排名末位（第2名，共2个区县）"]
    assert "位列末" not in out["reasons"].iloc[0]


def _talk(tid: str, county: str, date: str, **kw) -> dict:
    return dict(talk_id=tid, county_code=county, talk_date=date, target_type="区县医保部门", **kw)


def test_followup_of_each_listed_county_by_hand() -> None:
    talk_list = pd.DataFrame(
        dict(
            county_code=[A, B, C, D, E, F],
            county_name=["甲县", "乙县", "丙县", "丁县", "戊县", "己县"],
            criteria=["进度滞后"] * 6,
            reasons=["…"] * 6,
            list_level=["talk", "remind", "talk", "talk", "talk", "remind"],
            as_of=["2025-11"] * 6,
        )
    )
    talks = [
        # B: on the 督促名单, never talked to: no 约谈 is due
        # C: reviewed 整改到位 on 24 October, before the November evidence: talk again
        _talk("t1", C, "2025-08-20", review_due="2025-10-31", review_date="2025-10-24",
              review_result="整改到位"),
        # D: reviewed 整改到位 on 5 December, after the November evidence: it stands
        _talk("t2", D, "2025-09-01", review_due="2025-12-31", review_date="2025-12-05",
              review_result="整改到位"),
        # E: talked to in November, 复查 due in January: pending
        _talk("t3", E, "2025-11-18", review_due="2026-01-15"),
        # F: on the 督促名单, reviewed 整改到位 before the evidence: 督促, not 再次约谈
        _talk("t4", F, "2025-06-01", review_due="2025-07-31", review_date="2025-07-20",
              review_result="整改到位"),
    ]  # fmt: skip
    out = lists.talk_list_followup(talk_list, make_ledgers(talks=talks), "2025-12")
    got = {r["county_code"]: r for r in out.to_dict("records")}
    assert {c: r["followup"] for c, r in got.items()} == {
        A: "not_held",
        B: "not_required",
        C: "relisted",
        D: "rectified",
        E: "pending",
        F: "relisted",
    }
    said = {c: lists.talk_list_state(r) for c, r in got.items()}
    assert said == {
        A: "尚未约谈",
        B: "不约谈，督促整改",
        C: "2025年8月20日已约谈，2025年10月24日复查记为整改到位，但此后仍未达标，需再次约谈",
        D: "2025年9月1日已约谈，2025年12月5日复查，已整改到位",
        E: "2025年11月18日已约谈，复查时限2026年1月15日，复查待办",
        F: "2025年6月1日已约谈，2025年7月20日复查记为整改到位，但此后仍未达标，督促整改",
    }
    # the cockpit's 复查情况: nothing to say when nobody was talked to
    review = {c: lists.review_text(r) for c, r in got.items()}
    assert review[A] == review[B] == "—"
    assert review[E] == "复查时限2026年1月15日，复查待办"
    # an older run's list has no list_level: every county on it is summoned
    old = lists.talk_list_followup(talk_list.drop(columns="list_level"), make_ledgers(), "2025-12")
    assert set(old["list_level"]) == {"talk"} and set(old["followup"]) == {"not_held"}


# ----------------------------------------------------------------------------- the demo's faces
PERIOD = "2025-12"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from workbench import dashboard as d
    from workbench import report
    from workbench.demo import generate_city
    from workbench.warehouse import Warehouse

    city = generate_city()
    path = tmp_path_factory.mktemp("talks") / "w.duckdb"
    with Warehouse(path) as wh:
        wh.load_frames(city.frames, period=PERIOD)
    rep = report.city_report(PERIOD, str(path))
    cockpit = d.from_engine(path, periods=[PERIOD], uncertainty_samples=10)
    return {"city": city, "report": rep, "cockpit": cockpit, "path": path}


def _bulletin_text(rep) -> str:
    from docx import Document

    from workbench.documents import bulletin as bl
    from workbench.documents import gongwen
    from workbench.documents import options as dopt

    head, _ = dopt.header(dopt.DocOptions(number="12"), rep.city_name(), PERIOD)
    doc = Document(io.BytesIO(gongwen.render(bl.build(rep, head))))
    parts = [p.text for p in doc.paragraphs]
    rows = [[c.text for c in row.cells] for tb in doc.tables for row in tb.rows]
    return "\n".join(parts), rows


def test_the_demo_lists_follow_the_declared_line(demo) -> None:
    data = demo["report"].data
    ms = data.milestones
    bad = ms[ms["status"].isin(("lagging", "missed"))]
    # by hand from the milestones: the value deciding each, its shortfall against the target
    value = bad["current_value"].where(bad["status"] == "missed", bad["projected_value"])
    share = (bad["target"] - value) / bad["target"].abs()
    per = pd.DataFrame({"county": bad["county"], "share": share}).groupby("county")["share"]
    serious_ms = {c for c, s in per if len(s) >= 2 or (s >= 0.2).any()}
    lag = data.lagging.set_index("county")
    index_listed = {
        c for c, crit in lag["criteria"].items() if "综合评分等级" in crit or "综合排名末位" in crit
    }
    expected_talk = serious_ms | index_listed
    expected_remind = set(per.groups) - expected_talk
    assert set(lag.index[lag["list_level"] == "talk"]) == expected_talk
    assert set(lag.index[lag["list_level"] == "remind"]) == expected_remind
    # the demo has both: the two laggards (4 milestones each) and the last (不合格) summoned;
    # counties a point or two short of 整改完成率 100% only reminded
    assert set(demo["city"].lagging) <= expected_talk and expected_remind


def test_no_county_praised_in_the_top_three_is_summoned_for_a_near_miss(demo) -> None:
    rep = demo["report"]
    top, _bottom = rep.leaders()
    levels = rep.data.levels()
    names = {rep.data.name(c): c for c in levels}
    lag = rep.data.lagging.set_index("county")
    for name in top:
        code = names.get(name)
        if code is None or levels[code] != "talk":
            continue
        row = lag.loc[code]
        assert row["n_milestones"] >= 2 or "综合" in row["criteria"], name
    text, _rows = _bulletin_text(rep)
    summoned = re.search(r"列入约谈名单：(.*?)。已约谈", text)
    assert summoned is not None
    for name in top:
        if levels.get(names.get(name)) == "remind":
            assert name not in summoned.group(1)


def test_every_face_says_the_same_for_each_listed_county(demo) -> None:
    from workbench import dashboard as d
    from workbench.report import CountyReport

    rep = demo["report"]
    data = rep.data
    follow = {r["county_code"]: r for r in _follow(data).to_dict("records")}
    again = [c for c, r in follow.items() if r["followup"] == "relisted"]
    # the demo's August 约谈 of 白沙县 was reviewed 整改到位 in October; it still missed the
    # milestones due on 30 November
    assert [data.name(c) for c in again] == ["白沙县"]
    assert lists.talk_list_state(follow[again[0]]) == (
        "2025年8月20日已约谈，2025年10月24日复查记为整改到位，但此后仍未达标，需再次约谈"
    )
    text, rows = _bulletin_text(rep)
    overview = rep.lagging_frame().set_index(data.words.unit_noun)
    table = {r[0]: r for r in rows if r and r[0] in {data.name(c) for c in follow}}
    page = d.lagging_html(demo["cockpit"], d.View("campaign_2025", PERIOD, ""))
    cockpit = {
        m.group(1): [html.unescape(re.sub("<[^>]+>", "", x)) for x in re.findall(
            r"<td[^>]*>(.*?)</td>", m.group(2))]
        for m in re.finditer(r'<tr[^>]*data-county="([^"]+)">(.*?)</tr>', page)
    }  # fmt: skip
    for code, r in follow.items():
        name = data.name(code)
        state = lists.talk_list_state(r)
        listed = t(f"talk.level.{r['list_level']}")
        # 通报: 约谈 counties in the 约谈 sentence with their state; 督促 ones in the 督促 sentence
        if r["list_level"] == "talk":
            assert f"{name}（{r['criteria']}；{state}）" in text
        else:
            assert re.search(rf"列入督促名单，不约谈、限期整改：[^。]*{name}（", text), name
            # the milestone's name says the goal (问题整改完成率达100%): bare in brackets after
            # the county it read as if the county had reached it
            lagging = data.lagging.set_index("county").loc[code, "milestones"]
            assert f"{name}（“{lagging}”进度滞后）" in text, name
        # 附件 and 全市概览: the same list and the same state
        assert table[name][1] == listed and table[name][-1] == state
        assert overview.loc[name, "名单"] == listed and overview.loc[name, "约谈及复查"] == state
        # the county report
        head = str(CountyReport(data, code).talks())
        list_name = t(f"talk.list.{r['list_level']}")
        assert f"列入本期{list_name}" in head and html.escape(state) in head
        # the cockpit: county, list, reasons, 是否约谈, 复查情况 (— when nobody was talked to)
        cells = cockpit[code]
        assert cells[1] == listed
        assert cells[4] == lists.review_text(r)
        if not r["held"]:
            assert cells[4] == "—" and cells[3] != cells[4]
    # the ranking table's column is the list a county is on, not 进度滞后
    ranking = rep.ranking_frame()
    assert "进度滞后" not in ranking.columns
    shown = dict(zip(ranking[data.words.unit_noun], ranking["列入名单"]))
    for code, r in follow.items():
        assert shown[data.name(code)] == t(f"talk.list.{r['list_level']}")
    assert sum(1 for v in shown.values() if v) == len(follow)


def _follow(data) -> pd.DataFrame:
    lag = data.lagging.rename(columns={"county": "county_code"})
    lag = lag.assign(county_name=[data.name(c) for c in lag["county_code"]])
    return lists.talk_list_followup(lag, data.ledgers, PERIOD)
