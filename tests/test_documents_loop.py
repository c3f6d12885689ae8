"""The documents' newer parts: the 通报's 疑点数据筛查 section (figures equal direct SQL on the
screened warehouse, a check dated after the month does not count, money by hand), the
supervision-loop lists in the 通报 and the county report (counts equal direct queries on the
demo ledgers), 文号 and 成文日期 per document, and the 版记 at the foot of a page that also
carries text (rendered with LibreOffice; skipped with the reason when absent)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from workbench.contracts import CASE_OPEN_STATUSES, TALK_COUNTY_TARGET
from workbench.screening.demo_extract import PARAMS_FILE
from workbench.screening.engines import DuckDBEngine
from workbench.screening.rules import Window, load_parameters, load_rules
from workbench.screening.run import screen
from workbench.screening.summary import (
    cross_match_rules,
    digest_inputs,
    period_digest,
)
from workbench.warehouse import Warehouse

PERIOD = "2025-12"
END = "2025-12-31"
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


# ----------------------------------------------------------------------------- screening
@pytest.fixture(scope="module")
def screened(loaded: Path, extract, extract_dir: Path, tmp_path_factory) -> dict:
    """The demo extract screened for its last month; leads received on the month's last day."""
    path = tmp_path_factory.mktemp("scr") / "wh.duckdb"
    shutil.copy(loaded, path)
    ruleset = load_rules()
    overrides = load_parameters(extract_dir / PARAMS_FILE, ruleset)
    with Warehouse(path) as wh:
        wh.con.execute("SET enable_progress_bar = false")
        screen(
            wh,
            ruleset,
            Window.of(extract.period),
            DuckDBEngine(wh.con),
            None,
            overrides,
            dt.date(2025, 12, 31),
        )
        inputs = digest_inputs(wh)
        leads = wh.read_ledger("leads")
    return {"path": path, "inputs": inputs, "leads": leads, "period": extract.period}


def _checked(leads: pd.DataFrame) -> pd.DataFrame:
    """Three screening leads checked: 属实 in the month (linked to a case), 不属实 in the
    month, 属实 only after the month's end (must not count at the month's end)."""
    out = leads.copy()
    ids = out.loc[out["data_period"].notna(), "lead_id"].sort_values().tolist()
    rows = {i: out.index[out["lead_id"] == i][0] for i in ids[:3]}
    a, b, c = (rows[i] for i in ids[:3])
    out.loc[a, ["check_status", "checked_date", "case_id"]] = ["属实", pd.Timestamp(END), "AJX1"]
    out.loc[b, ["check_status", "checked_date"]] = ["不属实", pd.Timestamp("2025-12-30")]
    out.loc[c, ["check_status", "checked_date"]] = ["属实", pd.Timestamp("2026-01-05")]
    return out


def test_digest_equals_direct_sql_on_the_warehouse(screened: dict) -> None:
    inp, period = screened["inputs"], screened["period"]
    assert inp is not None and set(inp["cross_match"]) == {"SJBD-01", "SJBD-02", "SJBD-03"}
    leads = _checked(screened["leads"])
    d = period_digest(
        inp["scr_leads"], leads, inp["coverage"], inp["rule_names"], period, inp["cross_match"]
    )
    con = duckdb.connect()
    con.execute(f"ATTACH '{screened['path']}' AS w (READ_ONLY)")
    con.register("leads_now", leads)
    month = d["month"].iloc[0]
    hits, issued, amount = con.execute(
        "SELECT sum(hit_count), count(*) FILTER (WHERE status = '已下发'), sum(amount) "
        f"FROM w.scr_leads WHERE month = '{period}'"
    ).fetchone()
    assert (month["hits"], month["leads"]) == (hits, issued)
    assert month["amount"] == pytest.approx(float(amount))
    settl, scr = con.execute(
        f"SELECT sum(settlements), sum(screened) FROM w.scr_coverage WHERE month = '{period}'"
    ).fetchone()
    assert month["coverage_rate"] == pytest.approx(scr / settl)
    checked, confirmed, converted = con.execute(
        f"""SELECT count(*) FILTER (WHERE l.check_status IN ('属实', '不属实')),
                  count(*) FILTER (WHERE l.check_status = '属实'),
                  count(*) FILTER (WHERE l.case_id IS NOT NULL)
           FROM w.scr_leads s JOIN leads_now l USING (lead_id)
           WHERE s.status = '已下发' AND s.month BETWEEN '{period[:4]}-01' AND '{period}'
             AND (l.checked_date IS NULL OR l.checked_date <= DATE '{END}')"""
    ).fetchone()
    ytd = d["ytd"].iloc[0]
    assert (ytd["leads"], ytd["checked"], ytd["confirmed"], ytd["converted"]) == (
        issued,
        checked,
        confirmed,
        converted,
    )
    # by hand: the check dated in January is not there yet; one of two checked is 属实
    assert (ytd["checked"], ytd["confirmed"], ytd["converted"]) == (2, 1, 1)
    assert ytd["confirmed_rate"] == pytest.approx(0.5)
    by_rule = d["by_rule"]
    assert len(by_rule) == 10 and by_rule["leads"].sum() == issued
    per = con.execute(
        f"SELECT rule_code, sum(hit_count) FROM w.scr_leads WHERE month = '{period}' GROUP BY 1"
    ).fetchall()
    assert dict(zip(by_rule["rule_code"], by_rule["hits"])) == {
        **dict.fromkeys(by_rule["rule_code"], 0),
        **{r: int(n) for r, n in per},
    }
    assert list(by_rule["leads"]) == sorted(by_rule["leads"], reverse=True)


def test_no_section_before_any_screening_of_the_month(screened: dict) -> None:
    inp = screened["inputs"]
    assert set(inp["scr_leads"]["month"]) == {screened["period"]}
    for month in ("2025-06", "2024-12"):
        got = period_digest(
            inp["scr_leads"], screened["leads"], inp["coverage"], inp["rule_names"], month
        )
        assert got is None


def test_death_and_custody_recovery_by_hand() -> None:
    scr = pd.DataFrame(
        {
            "lead_id": ["L1"],
            "rule_code": ["SJBD-01"],
            "county_code": ["990101"],
            "month": ["2025-12"],
            "hit_count": [1],
            "amount": [100.0],
            "status": ["已下发"],
        }
    )
    leads = pd.DataFrame(
        {
            "lead_id": ["L1", "K1", "K2", "K3", "K4", "XS5"],
            "rule_code": ["SJBD-01", "SJBD-02", "SJBD-03", "ZNJK-01", "SJBD-01", "SJBD-02"],
            "check_status": ["待核查", "属实", "属实", "属实", "属实", "属实"],
            "checked_date": [pd.NaT] * 6,
            "case_id": [None, "C1", "C2", "C3", "C4", "C5"],
            "received_date": [pd.Timestamp("2025-12-31")] * 6,
            "due_date": [pd.Timestamp("2026-01-30")] * 6,
            "county_code": ["990101"] * 6,
            # XS5: a county's own lead tagged with an SJBD code, no 数据期间: not screening's
            "data_period": ["2025-12", "2025-02", "2025-03", "2025-04", "2024-12", None],
        }
    )
    cases = pd.DataFrame(
        {
            "case_id": ["C1", "C2", "C3", "C4", "C5"],
            "status": ["已结案", "已撤销", "已结案", "调查中", "已结案"],
            "found_date": pd.to_datetime(
                ["2025-03-01", "2025-04-01", "2025-05-01", "2024-12-20", "2025-06-01"]
            ),
            "amount_due": [1000.0, 500.0, 700.0, 900.0, 5000.0],
            "amount_recovered": [800.0, 500.0, 700.0, 0.0, 5000.0],
        }
    )
    d = period_digest(
        scr,
        leads,
        pd.DataFrame(columns=["county_code", "month", "settlements", "screened"]),
        {"SJBD-01": "死亡后发生结算"},
        "2025-12",
        ("SJBD-01", "SJBD-02", "SJBD-03"),
        cases,
    )
    cm = d["cross_match"].iloc[0]
    # C1 only: C2 withdrawn, C3 from a 智能监控 rule, C4 found last year, C5 from a county's
    # own lead (no 数据期间) that merely carries an SJBD code
    assert (cm["cases"], cm["amount_due"], cm["recovered"]) == (1, 1000.0, 800.0)
    assert cm["recovery_rate"] == pytest.approx(0.8)
    assert pd.isna(d["month"].iloc[0]["coverage_rate"])  # no coverage rows: missing, not 0


def test_cross_match_rules_are_those_with_a_county_list() -> None:
    codes = cross_match_rules()
    rules = load_rules().rules
    assert codes and all(rules[c].list_name for c in codes)
    assert all(not r.list_name for c, r in rules.items() if c not in codes)


# ----------------------------------------------------------------------------- the 通报
@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from workbench import report
    from workbench.demo import generate_city

    city = generate_city(4, seed=20251)
    path = tmp_path_factory.mktemp("wh") / "demo.duckdb"
    with Warehouse(path) as wh:
        wh.load_frames(city.frames, period=PERIOD)
    rep = report.city_report(PERIOD, str(path))
    return {"path": path, "frames": city.frames, "city": rep, "ledgers": rep.data.ledgers}


def _text(doc) -> str:
    parts = [p.text for p in doc.paragraphs]
    for tb in doc.tables:
        parts += [c.text for row in tb.rows for c in row.cells]
    return "\n".join(parts)


def _bulletin(demo: dict, digest=None):
    from docx import Document

    from workbench.documents import bulletin as bl
    from workbench.documents import gongwen
    from workbench.documents import options as dopt

    head, _ = dopt.header(dopt.DocOptions(number="12"), demo["city"].city_name(), PERIOD)
    model = bl.build(demo["city"], head, screening=digest)
    import io

    return model, Document(io.BytesIO(gongwen.render(model)))


def test_screening_section_only_with_results(demo: dict, screened: dict) -> None:
    _model, doc = _bulletin(demo)
    plain = _text(doc)
    assert "疑点数据筛查" not in plain
    assert "附件6" not in plain and "见附件3" in plain  # numbering unchanged without it
    inp = screened["inputs"]
    digest = period_digest(
        inp["scr_leads"],
        _checked(screened["leads"]),
        inp["coverage"],
        inp["rule_names"],
        screened["period"],
        inp["cross_match"],
    )
    _model, doc = _bulletin(demo, digest)
    text = _text(doc)
    heads = [p.text for p in doc.paragraphs if re.match("^[一二三四五六七八九十]+、", p.text)]
    assert heads[1] == "二、疑点数据筛查情况"
    m, y = digest["month"].iloc[0], digest["ytd"].iloc[0]
    assert f"生成疑点线索{int(m['leads'])}条" in text
    assert f"命中疑点结算（划拨）{int(m['hits'])}笔" in text
    assert f"已核查{int(y['checked'])}条" in text and "属实率50.0%" in text
    # its attachment and the definitions; the body points at the right 附件
    att = re.search(r"(\d)．\d{4}年\d{1,2}月疑点数据筛查分规则情况", text)
    assert att and f"分规则情况见附件{att.group(1)}" in text
    assert "疑点数据筛查口径" in text and "疑点数据覆盖率" in text
    # the screening terms cite the campaign's plan by title, never by the seed's number
    assert "目标100%（依据：《2025年开展打击欺诈骗保专项整治行动工作方案》三（一））" in text
    assert not re.search(r"依据：00\d", text)
    defs = re.search(r"(\d)．指标说明（工作口径）", text).group(1)
    assert f"计算方法见附件{defs}" in text


def test_loop_lists_in_the_bulletin_equal_direct_queries(demo: dict) -> None:
    _model, doc = _bulletin(demo)
    text = _text(doc)
    L = demo["ledgers"]
    con = duckdb.connect()
    for name in ("cases", "leads", "complaints", "talks"):
        con.register(name, L[name])
    open_st = ", ".join(f"'{s}'" for s in CASE_OPEN_STATUSES)
    n_cases = con.execute(
        f"""SELECT count(*) FROM cases WHERE found_date <= DATE '{END}'
            AND (closed_date IS NULL OR closed_date > DATE '{END}') AND status <> '已撤销'
            AND (status IN ({open_st}) OR closed_date > DATE '{END}')
            AND due_date < DATE '{END}'"""
    ).fetchone()[0]
    n_leads = con.execute(
        f"""SELECT count(*) FROM leads WHERE received_date <= DATE '{END}'
            AND NOT (check_status IN ('属实', '不属实')
                     AND (checked_date IS NULL OR checked_date <= DATE '{END}'))
            AND due_date < DATE '{END}'"""
    ).fetchone()[0]
    n_comp = con.execute(
        f"""SELECT count(*) FROM complaints WHERE received_date <= DATE '{END}'
            AND (closed_date IS NULL OR closed_date > DATE '{END}') AND due_date < DATE '{END}'"""
    ).fetchone()[0]
    for n, words in (
        (n_cases, "件在办案件超过办案时限"),
        (n_leads, "条线索超过核查时限"),
        (n_comp, "件投诉举报超过办理时限"),
    ):
        if n:
            assert f"有{n}{words}" in text, words
        else:
            assert words not in text
    # the 约谈名单: every county summoned (not those only on the 督促名单), how many were
    # talked to this year, and how many of those a 复查 recorded 整改到位 on or before the month
    # their listing evidence stands at (so they are to be talked to again)
    lag = demo["city"].data.lagging
    lag = lag[lag["list_level"] == "talk"]
    latest = con.execute(
        f"""SELECT county_code, arg_max(review_result, talk_date), arg_max(review_date, talk_date)
            FROM talks WHERE target_type = '{TALK_COUNTY_TARGET}'
            AND talk_date BETWEEN DATE '2025-01-01' AND DATE '{END}' GROUP BY 1"""
    ).fetchall()
    listed = dict(zip(lag["county"].astype(str), lag["as_of"]))
    n_held = len({c for c, _r, _d in latest} & set(listed))
    n_again = sum(
        1
        for c, result, on in latest
        if c in listed
        and result == "整改到位"
        and on is not None
        and pd.Timestamp(on) <= pd.Period(listed[c], freq="M").end_time
    )
    if len(lag):
        assert f"{len(lag)}个区县列入约谈名单" in text
        again = f"（其中约谈后复查仍未达标、需再次约谈{n_again}个）" if n_again else ""
        assert f"已约谈{n_held}个{again}，尚未约谈{len(lag) - n_held}个" in text
        assert "约谈名单" in text and "督办情况" in text


def test_county_report_loop_sections(demo: dict) -> None:
    from workbench.presentation import lists
    from workbench.report import CountyReport

    data = demo["city"].data
    L = demo["ledgers"]
    for code in data.counties["county"].astype(str):
        r = CountyReport(data, code)
        cases = L["cases"][L["cases"]["county_code"].astype(str) == code]
        closed = pd.to_datetime(cases["closed_date"])
        end = pd.Timestamp(END)
        open_ = (
            (pd.to_datetime(cases["found_date"]) <= end)
            & (closed.isna() | (closed > end))
            & (cases["status"] != "已撤销")
            & (cases["status"].isin(CASE_OPEN_STATUSES) | (closed > end))
        )
        direct = cases[open_ & (pd.to_datetime(cases["due_date"]) < end)]
        frame = r.overdue_cases_frame()
        assert len(frame) == len(direct)
        assert list(frame["超期天数"]) == sorted(frame["超期天数"], reverse=True)
        talks = lists.talk_followups(L, PERIOD, code)
        assert len(r.talks_frame()) == len(talks)
        st = r.talk_status()
        listed = code in set(data.lagging["county"].astype(str))
        assert (st is not None) == listed
        html = str(r.talks()) + str(r.overdue_items())
        for name in cases["person_name"].dropna().astype(str):
            assert len(name) < 2 or name not in html
        steps = r.next_steps_list()
        if len(direct):
            assert any(f"{len(direct)}件在办案件已超过办案时限" in s for s in steps)
        assert any("约谈名单" in s for s in steps) == listed


# ----------------------------------------------------------------------------- 文号 per document
def test_numbers_and_dates_per_document() -> None:
    from workbench.documents import options as dopt

    opts = dopt.DocOptions.from_mapping(
        {"numbers": {"案例汇编": "6"}, "issue_dates": {"阶段总结": "2025-07-08"}}
    ).override(number=["3", "工作总结=演医保发〔2026〕4号"], issue_date=["2026-01-08"])
    heads = {k: dopt.header(opts, "演示市", "2025-12", kind=k)[0] for k in dopt.KINDS}
    assert heads["bulletin"].number == "演医保发〔2026〕3号"
    assert heads["campaign_summary"].number == "演医保发〔2026〕4号"
    assert heads["case_digest"].number == "演医保发〔2026〕6号"
    assert heads["phase_summary"].number == "演医保发〔2025〕　　号"  # left for the clerk
    assert heads["phase_summary"].date == dt.date(2025, 7, 8)
    assert heads["bulletin"].date == heads["case_digest"].date == dt.date(2026, 1, 8)
    assert dopt.DocOptions.from_json(opts.to_json()) == opts  # a resumed run writes the same
    with pytest.raises(ValueError, match="通报、阶段总结、工作总结、案例汇编"):
        dopt.DocOptions().override(number=["总结=3"])


def test_write_all_puts_each_documents_own_number(demo: dict, tmp_path: Path) -> None:
    from docx import Document

    from workbench import report
    from workbench.documents import options as dopt
    from workbench.documents import produce

    opts = dopt.DocOptions().override(
        number=["5", "工作总结=7"], issue_date=["2026-01-08", "案例汇编=2026-01-20"]
    )
    said: list[str] = []
    docs = produce.write_all(
        demo["city"],
        opts,
        tmp_path / "city",
        lambda p: report.city_report(p, str(demo["path"])),
        pdf=False,
        echo=said.append,
    )
    got = {d["kind"]: _text(Document(str(tmp_path / d["docx"]))) for d in docs}
    assert "演医保发〔2026〕5号" in got["bulletin"] and "2026年1月8日" in got["bulletin"]
    assert "演医保发〔2026〕7号" in got["campaign_summary"]
    assert "2026年1月20日" in got["case_digest"] and "2026年1月8日" not in got["case_digest"]
    assert any("案例汇编文号序号未指定" in s for s in said)
    assert not any("工作总结文号序号未指定" in s for s in said)


# ----------------------------------------------------------------------------- the 版记
def _header():
    from workbench.documents.model import Header

    return Header(
        "甲市医疗保障局",
        "甲市医疗保障局文件",
        "甲医保发〔2026〕1号",
        ("各区县医疗保障局",),
        ("乙局", "丙局"),
        "甲市医疗保障局办公室",
        dt.date(2026, 1, 10),
        dt.date(2026, 1, 10),
    )


def _doc(lines: int):
    from workbench.documents.model import Attachment, Document, Para

    att = Attachment("附件标题", tuple(Para(f"第{i}段，一行。") for i in range(lines)))
    return Document("bulletin", "关于测试的通报", _header(), (Para("正文。"),), (att,))


def test_colophon_frames_end_on_the_text_areas_bottom() -> None:
    import io

    from docx import Document

    from workbench.documents import gongwen as gw

    doc = Document(io.BytesIO(gw.render(_doc(3))))
    assert len(doc.sections) == 1  # no page of its own
    paras = doc.paragraphs
    framed = [i for i, p in enumerate(paras) if p._p.find(f"{W}pPr/{W}framePr") is not None]
    assert len(framed) == 2 and framed == [len(paras) - 3, len(paras) - 2]
    frames = [paras[i]._p.find(f"{W}pPr/{W}framePr") for i in framed]
    ys = [int(f.get(f"{W}y")) for f in frames]
    hs = [int(f.get(f"{W}h")) for f in frames]
    text_height = round(gw.TEXT_HEIGHT_MM * gw.PT_PER_MM * 20)
    assert ys[0] + hs[0] == pytest.approx(ys[1], abs=2)  # the bands touch
    assert ys[1] + hs[1] == pytest.approx(text_height, abs=3)  # last rule on the bottom edge
    assert paras[framed[0] - 1].paragraph_format.keep_with_next  # text goes with it
    assert "抄送：乙局，丙局。" in paras[framed[0]].text
    assert "印发" in paras[framed[1]].text
    assert paras[framed[1]]._p.find(f"{W}pPr/{W}pBdr/{W}bottom") is not None


def _tools() -> str | None:
    from workbench.documents import pdf as dpdf

    if dpdf.soffice_path() is None:
        return "LibreOffice (soffice) not installed: python3 dev.py test installs it as root"
    if shutil.which("pdftotext") is None:
        return "poppler-utils not installed: python3 dev.py test installs it as root"
    return None


@pytest.mark.skipif(_tools() is not None, reason=str(_tools()))
def test_colophon_never_stands_alone_on_a_page(tmp_path: Path) -> None:
    """Around the point where the attachment fills its page, the last page always carries
    text above the 版记, and the 版记's last line sits at the foot of the 版心."""
    from workbench.documents import gongwen as gw
    from workbench.documents import pdf as dpdf

    mm = 72 / 25.4
    bottom = (297 - 35) * mm  # the 版心's bottom edge
    seen_pages = set()
    for lines in range(12, 20):
        path = tmp_path / f"d{lines}.docx"
        path.write_bytes(gw.render(_doc(lines)))
        pdf = dpdf.docx_to_pdf(path, path.with_suffix(".pdf"))
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
        pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
        seen_pages.add(pages)
        last = subprocess.run(
            ["pdftotext", "-f", str(pages), "-l", str(pages), "-bbox", str(pdf), "-"],
            capture_output=True,
            text=True,
        ).stdout
        words = re.findall(r'yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)<', last)
        texts = [w for _a, _b, w in words]
        assert any(w.startswith("第") for w in texts), (lines, texts)  # body text on it
        printed = [float(b) for _a, b, w in words if "印发" in w]
        assert printed and bottom - 12 * mm < printed[0] <= bottom + 1, (lines, printed)
    assert len(seen_pages) == 2  # the range crossed a page boundary


def test_bulletin_says_no_yoy_where_the_cards_say_the_base_is_too_thin(demo: dict) -> None:
    """The cockpit card reads 同比 基线不足 for a KPI whose last-year base is below the set's
    `min_baseline` (常态化数据共享部门数: 9 departments < 20); the 通报 once wrote 同比增长33.3%
    for the same number. Where a card shows a change, the 通报 writes that same change."""
    from workbench.documents import bulletin as bl
    from workbench.messages import t
    from workbench.presentation import counts as pc
    from workbench.presentation import groups as pg

    data = demo["city"].data
    f = bl.gather(data)
    rows = data.city_kpis.to_dict("records")
    thin = [r for r in rows if r["change_text"] == t("pres.change.thin")]
    assert thin, "the demo has a KPI on a thin base (data_sharing_departments)"
    for r in rows:
        kind = f.iset.indicators[r["indicator"]].type
        text = bl.kpi_sentence(r, f, pg.failing_counties(data.kpis, r["indicator"]), 4)
        head = text.split("个区县")[0]  # the city's part, before the counties that fail
        if r in thin:
            assert "同比" not in head, text
        elif kind != "change" and any(ch in "123456789" for ch in r["change_text"]):
            assert pc.change_phrase(r["change_text"]) in head, (r["change_text"], text)


# ----------------------------------------------------------------------------- the summaries
def _window_sql(screened: dict, leads: pd.DataFrame, since: str, through: str) -> dict:
    """The screening of months since–through counted straight from the warehouse: hits, issued
    leads and amount of those months; coverage; the year's issued leads checked and 属实 as the
    ledger stood at `through`'s end; per rule, checked and 属实."""
    con = duckdb.connect()
    con.execute(f"ATTACH '{screened['path']}' AS w (READ_ONLY)")
    con.register("leads_now", leads)
    end = pd.Period(through, freq="M").end_time.date().isoformat()
    hits, issued, amount, months = con.execute(
        "SELECT sum(hit_count), count(*) FILTER (WHERE status = '已下发'), sum(amount), "
        f"count(DISTINCT month) FROM w.scr_leads WHERE month BETWEEN '{since}' AND '{through}'"
    ).fetchone()
    # 疑点数据覆盖率 over every month of the window, as the screening set's KPI reads it (the
    # declared table holds the months never screened too); the run's own table without it
    declared = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'w' "
        "AND table_name = 'screening_coverage'"
    ).fetchone()[0]
    source = "w.screening_coverage WHERE _live AND" if declared else "w.scr_coverage WHERE"
    settl, scr = con.execute(
        f"SELECT sum(settlements), sum(screened) FROM {source} "
        f"month BETWEEN '{since}' AND '{through}'"
    ).fetchone()
    per_rule = con.execute(
        f"""SELECT s.rule_code,
                  count(*) FILTER (WHERE l.check_status IN ('属实', '不属实')) AS checked,
                  count(*) FILTER (WHERE l.check_status = '属实') AS confirmed
           FROM w.scr_leads s JOIN leads_now l USING (lead_id)
           WHERE s.status = '已下发' AND s.month BETWEEN '{through[:4]}-01' AND '{through}'
             AND (l.checked_date IS NULL OR l.checked_date <= DATE '{end}')
           GROUP BY 1"""
    ).df()
    year_leads = con.execute(
        "SELECT count(*) FROM w.scr_leads WHERE status = '已下发' "
        f"AND month BETWEEN '{through[:4]}-01' AND '{through}'"
    ).fetchone()[0]
    return dict(
        hits=hits,
        leads=issued,
        amount=float(amount),
        months=months,
        coverage=scr / settl,
        year_leads=year_leads,
        per_rule=per_rule,
    )


def test_window_digest_equals_direct_sql(screened: dict) -> None:
    from workbench.screening.summary import window_digest

    inp, period = screened["inputs"], screened["period"]
    leads = _checked(screened["leads"])
    args = (inp["scr_leads"], leads, inp["coverage"], inp["rule_names"])
    d = window_digest(*args, "2025-03", period, inp["cross_match"])
    want = _window_sql(screened, leads, "2025-03", period)
    w, c = d["window"].iloc[0], d["checks"].iloc[0]
    assert (w["hits"], w["leads"], w["months"]) == (want["hits"], want["leads"], want["months"])
    assert w["amount"] == pytest.approx(want["amount"])
    assert w["coverage_rate"] == pytest.approx(want["coverage"])
    pr = want["per_rule"]
    assert (c["leads"], c["checked"], c["confirmed"]) == (
        want["year_leads"],
        int(pr["checked"].sum()),
        int(pr["confirmed"].sum()),
    )
    # by hand (`_checked`): the check dated in January is not there yet; 1 of 2 is 属实
    assert (c["checked"], c["confirmed"]) == (2, 1) and c["confirmed_rate"] == pytest.approx(0.5)
    # the same numbers as the 通报's digest of the month (one way of counting)
    m = period_digest(*args, period, inp["cross_match"])
    assert (w["hits"], w["leads"]) == (m["month"].iloc[0]["hits"], m["month"].iloc[0]["leads"])
    assert c["checked"] == m["ytd"].iloc[0]["checked"]
    # no month of the window screened: no digest
    assert window_digest(*args, "2025-03", "2025-05") is None
    assert window_digest(*args, "2025-03", "2025-11") is None


def _summary_text(demo: dict, digest, kind: str) -> str:
    import io

    from docx import Document

    from workbench.documents import gongwen
    from workbench.documents import options as dopt
    from workbench.documents import summaries

    head, _ = dopt.header(dopt.DocOptions(), demo["city"].city_name(), PERIOD, kind=kind)
    if kind == "campaign_summary":
        model = summaries.build_campaign_summary(demo["city"], head, screening=digest)
    else:
        model = summaries.build_phase_summary(
            demo["city"], demo["city"], "summary", head, screening=digest
        )
    return _text(Document(io.BytesIO(gongwen.render(model))))


def test_summaries_carry_the_screening_paragraph(demo: dict, screened: dict) -> None:
    """The 专项整治工作总结 and the 阶段总结 say what screening found in their months, with the
    numbers a direct SQL count gives; nothing about screening when nothing was screened."""
    from workbench.screening.summary import window_digest

    inp, period = screened["inputs"], screened["period"]
    leads = _checked(screened["leads"])
    rules = dict(inp["rule_names"])
    for kind, since in (("campaign_summary", "2025-03"), ("phase_summary", "2025-11")):
        assert "疑点数据筛查" not in _summary_text(demo, None, kind)
        digest = window_digest(
            inp["scr_leads"], leads, inp["coverage"], rules, since, period, inp["cross_match"]
        )
        text = _summary_text(demo, digest, kind)
        want = _window_sql(screened, leads, since, period)
        assert re.search(r"（[二三]）疑点数据筛查。", text), kind
        assert "对其中1个月的医保结算数据开展疑点筛查" in text
        assert f"命中疑点结算（划拨）{want['hits']:,}笔" in text
        assert f"下发疑点线索{want['leads']:,}条" in text
        assert f"筛查线索累计{want['year_leads']:,}条，已核查2条，其中属实1条，属实率50.0%" in text
        pr = want["per_rule"][want["per_rule"]["checked"] > 0]
        if len(pr) > 1:  # the rule with the lowest 属实率 is named
            low = pr.assign(rate=pr["confirmed"] / pr["checked"]).sort_values(["rate", "rule_code"])
            assert f"属实率最低的是“{rules[low['rule_code'].iloc[0]]}”" in text
        assert "死亡、服刑在押人员比对线索" in text


def test_window_digest_by_hand() -> None:
    """Two rules over 2025-10 and 2025-11, a third month outside the window: the window's hits,
    leads and coverage, the year's checks at November's end, the weakest rule, the recovery."""
    scr = pd.DataFrame(
        {
            "lead_id": ["L1", "L2", "L3", "L4", "L5", "L6"],
            "rule_code": ["SJBD-01", "SJBD-01", "ZNJK-01", "ZNJK-01", "ZNJK-01", "SJBD-01"],
            "county_code": ["990101"] * 6,
            "month": ["2025-10", "2025-11", "2025-10", "2025-11", "2025-11", "2025-12"],
            "hit_count": [2, 3, 10, 20, 5, 7],
            "amount": [100.0, 200.0, 1000.0, 2000.0, 300.0, 9999.0],
            "status": ["已下发", "已下发", "已下发", "已下发", "已抑制", "已下发"],
        }
    )
    day = pd.Timestamp
    leads = pd.DataFrame(
        {
            "lead_id": ["L1", "L2", "L3", "L4", "L6"],
            "rule_code": ["SJBD-01", "SJBD-01", "ZNJK-01", "ZNJK-01", "SJBD-01"],
            "check_status": ["属实", "属实", "不属实", "属实", "不属实"],
            "checked_date": [
                day("2025-11-10"),
                day("2025-12-05"),
                day("2025-11-20"),
                pd.NaT,
                day("2025-11-01"),
            ],
            "case_id": ["C1", None, None, None, None],
            "county_code": ["990101"] * 5,
            "data_period": ["2025-10", "2025-11", "2025-10", "2025-11", "2025-12"],
        }
    )
    cases = pd.DataFrame(
        {
            "case_id": ["C1"],
            "status": ["调查中"],
            "found_date": pd.to_datetime(["2025-11-15"]),
            "amount_due": [1000.0],
            "amount_recovered": [400.0],
        }
    )
    coverage = pd.DataFrame(
        {
            "county_code": ["990101"] * 3,
            "month": ["2025-10", "2025-11", "2025-12"],
            "settlements": [100, 300, 1000],
            "screened": [100, 200, 1000],
        }
    )
    from workbench.screening.summary import window_digest

    names = {"SJBD-01": "死亡后发生结算", "ZNJK-01": "超量开药"}
    d = window_digest(scr, leads, coverage, names, "2025-10", "2025-11", ("SJBD-01",), cases)
    w, c, cm = (d[k].iloc[0] for k in ("window", "checks", "cross_match"))
    # window 10–11: hits 2+3+10+20+5 = 40, issued L1–L4 = 4 (L5 suppressed), amount 3,600
    assert (w["months"], w["hits"], w["leads"], w["suppressed"]) == (2, 40, 4, 1)
    assert w["amount"] == pytest.approx(3600.0)
    assert w["coverage_rate"] == pytest.approx(300 / 400)
    # the year's issued leads to November: L1–L4; at Nov 30 checked L1 (属实), L3 (不属实), L4
    # (属实, no date: counts as done); L2's check is dated December
    assert (c["leads"], c["checked"], c["confirmed"], c["converted"]) == (4, 3, 2, 1)
    assert c["confirmed_rate"] == pytest.approx(2 / 3)
    low = pd.DataFrame(d["by_rule"]).set_index("rule_code")
    # SJBD-01: 1 of 1 属实; ZNJK-01: 1 of 2 → the weakest
    assert low.loc["ZNJK-01", "confirmed_rate"] == pytest.approx(0.5)
    assert (cm["cases"], cm["recovered"]) == (1, 400.0)
    from workbench.documents import summaries
    from workbench.presentation.counts import Window as CWindow

    para = summaries.screening_para(d, CWindow("2025-10", "2025-11"), 3)[0]
    assert para.lead == "（三）疑点数据筛查。"
    assert para.text == (
        "2025年10—11月，对其中2个月的医保结算数据开展疑点筛查，筛查结算300笔，"
        "疑点数据覆盖率（2025年10—11月）75.0%，命中疑点结算（划拨）40笔、金额3,600元，"
        "生成并下发疑点线索4条。"
        "截至2025年11月30日，2025年1—11月筛查线索累计4条，已核查3条，其中属实2条，属实率66.7%。"
        "各规则中属实率最低的是“超量开药”（50.0%，已核查2条），需结合核查结果调整规则参数。"
        "筛查线索中的死亡、服刑在押人员比对线索转立案件1件（2025年1—11月发现），已追回400元。"
    )


def test_screening_attachment_cites_each_rules_source(demo: dict, screened: dict) -> None:
    """The 通报's screening attachment lists 规则依据: every declared rule with its source by
    the document's title (the digest as the batch builds it, `produce.screening_digest`)."""
    from workbench.documents import produce

    digest = produce.screening_digest(demo["city"], screened["inputs"], screened["period"])
    assert digest is not None
    _model, doc = _bulletin(demo, digest)
    paras = [p.text for p in doc.paragraphs]
    start = paras.index("规则依据：")
    lines = paras[start + 1 : start + 11]
    assert [ln.split(" ")[0] for ln in lines] == [
        "SJBD-01",
        "SJBD-02",
        "SJBD-03",
        *(f"ZNJK-0{i}" for i in range(1, 8)),
    ]
    plan = "《2025年开展打击欺诈骗保专项整治行动工作方案》"
    assert lines[3] == f"ZNJK-01 同一参保人月就诊次数≥15次：依据{plan}三（一）"
    assert lines[7] == "ZNJK-05 住院时间重叠：工作口径"
    # a county's plan is not this city's basis: 参照, with its issuer and number
    assert lines[0] == (
        f"SJBD-01 死亡后发生结算：依据{plan}三（一）；参照华容县人民政府办公室"
        "《华容县开展打击欺诈骗保套保挪用贪占医保基金集中整治实施方案》（华政办函〔2021〕18号）二（六）"
    )
    assert not any(re.search(r"：00\d|；00\d", ln) for ln in lines)
