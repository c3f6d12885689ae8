"""Official documents: figures equal direct queries on the demo ledgers, the .docx has the
GB/T 9704 structure (A4, margins, fonts, 文号, 主送, PAGE field, attachments, repeated header
rows, 版记), the calendar decides which documents are due, and the PDF renders to PNG pages
with nothing outside the page (LibreOffice + poppler; skipped with the reason when absent)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from workbench.presentation import counts as pc
from workbench.presentation import groups as pg
from workbench.warehouse import Warehouse

PERIOD = "2025-12"
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


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


# ----------------------------------------------------------------------------- figures
def test_windows_by_hand() -> None:
    w = pc.standard_windows("2025-01")
    assert (w["month"].start, w["month"].end) == ("2025-01", "2025-01")
    assert (w["prev_month"].start, w["month_ly"].start) == ("2024-12", "2024-01")
    assert (w["ytd"].start, w["ytd"].end, w["ytd_ly"].end) == ("2025-01", "2025-01", "2024-01")
    assert w["month"].last_day == pd.Timestamp("2025-01-31")


def test_figures_equal_direct_queries(demo: dict) -> None:
    L = demo["ledgers"]
    fig = pc.figures(L, PERIOD).set_index("key")
    insp = L["inspections"].assign(m=pd.to_datetime(L["inspections"]["inspection_date"]))
    dec = insp[insp["m"].dt.strftime("%Y-%m") == PERIOD]
    ytd = insp[insp["m"].dt.year == 2025]
    assert fig.loc["inspections", "month"] == len(dec)
    assert fig.loc["institutions_inspected", "ytd"] == ytd["institution_id"].nunique()
    cases = L["cases"]
    filed = pd.to_datetime(cases["filed_date"])
    live = cases["status"] != "已撤销"
    assert fig.loc["cases_filed", "ytd"] == int((live & (filed.dt.year == 2025)).sum())
    assert fig.loc["cases_filed", "ytd_ly"] == int((live & (filed.dt.year == 2024)).sum())
    closed = pd.to_datetime(cases["closed_date"])
    done = (cases["status"] == "已结案") & (closed.dt.year == 2025)
    assert fig.loc["recovered", "ytd"] == pytest.approx(
        cases.loc[done, "amount_recovered"].sum() / 1e4
    )
    assert fig.loc["fined", "ytd"] == pytest.approx(cases.loc[done, "fine_amount"].sum() / 1e4)
    susp = done & (cases["outcome"] == "暂停协议")
    assert fig.loc["agreements_suspended", "ytd"] == cases.loc[susp, "institution_id"].nunique()
    # a second engine: DuckDB SQL over the same frames
    con = duckdb.connect()
    con.register("cases", cases)
    con.register("activities", L["activities"])
    sql = """select count(*) from cases where status <> '已撤销'
             and (referred_police or outcome = '移送公安')
             and found_date >= '2025-12-01' and found_date < '2026-01-01'"""
    assert fig.loc["referred_police", "month"] == con.execute(sql).fetchone()[0]
    sql = """select coalesce(sum("count"), 0) from activities
             where activity = '警示约谈' and month between '2025-01' and '2025-12'"""
    assert fig.loc["interviews", "ytd"] == con.execute(sql).fetchone()[0]
    # texts: the one formatter, with the unit
    assert fig.loc["inspections", "month_text"] == f"{len(dec):,}家次"


def test_figures_by_county_add_up_to_the_city(demo: dict) -> None:
    L = demo["ledgers"]
    codes = sorted(L["counties"]["county_code"].astype(str).unique())
    by = pc.figures_by_county(L, PERIOD, codes)
    city = pc.figures(L, PERIOD).set_index("key")
    for key in ("inspections", "cases_filed", "recovered", "exposed", "interviews"):
        assert by[by["key"] == key]["ytd"].sum() == pytest.approx(city.loc[key, "ytd"])
    one = pc.figures(L, PERIOD, county=codes[0]).set_index("key")
    mine = by[by["county_code"] == codes[0]].set_index("key")
    assert mine.loc["cases_closed", "month"] == one.loc["cases_closed", "month"]


def test_breakdowns_equal_direct_queries(demo: dict) -> None:
    L = demo["ledgers"]
    w = pc.standard_windows(PERIOD)["ytd"]
    vio = pc.breakdown(L, "violation_type", w)
    cases = L["cases"]
    filed = pd.to_datetime(cases["filed_date"])
    mine = cases[(cases["status"] != "已撤销") & (filed.dt.year == 2025)]
    expect = mine["violation_type"].fillna("其他").value_counts()
    assert dict(zip(vio["category"], vio["n"])) == expect.to_dict()
    assert vio["share"].sum() == pytest.approx(1.0)
    sj = pc.san_jia_total(vio)
    assert sj["n"] == int(mine["violation_type"].isin(["假病人", "假病情", "假票据"]).sum())
    meth = pc.inspections_by_method(L, w)
    insp = L["inspections"][pd.to_datetime(L["inspections"]["inspection_date"]).dt.year == 2025]
    assert meth["visits"].sum() == len(insp)


def test_change_words_and_movement() -> None:
    assert pc.change_phrase("+21.2%") == "增长21.2%"
    assert pc.change_phrase("-3.0个百分点") == "降低3.0个百分点"
    assert pc.change_phrase("0.0%") == "持平"
    assert pc.change_phrase("—") == ""
    # a rate that should rise but fell: 不升反降
    mv = pg.movement(0.287, 0.362, direction=1, kind="ratio", unit="%", decimals=None)
    assert mv.way == pg.DOWN and mv.wrong_way and mv.change_text == "-7.5个百分点"
    # a change indicator's own value is the movement
    mv = pg.movement(-0.207, None, direction=1, kind="change", unit="%", decimals=None)
    assert mv.wrong_way
    mv = pg.movement(-0.207, None, direction=-1, kind="change", unit="%", decimals=None)
    assert not mv.wrong_way and mv.way == pg.DOWN
    assert pg.movement(0.5, 0.5, 1, "ratio", "%", None).way == pg.FLAT


# ----------------------------------------------------------------------------- options
def test_issue_date_defaults_to_the_next_month_never_today() -> None:
    from workbench.documents import options as dopt

    assert dopt.default_issue_date("2025-12") == dt.date(2026, 1, 10)
    assert dopt.default_issue_date("2025-01", day=31) == dt.date(2025, 2, 28)
    head, notes = dopt.header(dopt.DocOptions(), "演示市", "2025-06")
    assert head.date == dt.date(2025, 7, 10) and head.date != dt.date.today()
    assert head.number.startswith("演医保发〔2025〕") and len(notes) == 2
    opts = dopt.DocOptions.from_mapping(
        {"issuer": "甲市医疗保障局", "number_pattern": "甲医保〔{year}〕{no}号", "cc": "乙，丙"}
    ).override(number="7", issue_date="2026-01-05", recipients="各县医保局、市直属单位")
    head, notes = dopt.header(opts, "甲市", "2025-12")
    assert head.number == "甲医保〔2026〕7号" and head.cc == ("乙", "丙")
    assert head.recipients == ("各县医保局", "市直属单位") and notes == []
    with pytest.raises(ValueError):
        dopt.DocOptions().override(issue_date="明天")


def test_title_lines_and_column_widths() -> None:
    from workbench.documents import gongwen as gw

    title = "关于2025年12月医保基金监管专项整治工作进展情况的通报"
    lines = gw.split_title(title)
    assert "".join(lines) == title and all(len(x) <= gw.TITLE_LINE_CHARS for x in lines)
    df = pd.DataFrame({"区县": ["东湖区", "青山县"], "检查（家次）": ["1,310", "4"]})
    widths, size = gw.column_widths(df, 442.0)
    assert sum(widths) == pytest.approx(442.0)
    # the county column fits its longest name on one line at the chosen size
    assert widths[0] >= gw.text_width("东湖区") * size / 2


# ----------------------------------------------------------------------------- the .docx
@pytest.fixture(scope="module")
def bulletin(demo: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from docx import Document

    from workbench.documents import bulletin as bl
    from workbench.documents import gongwen
    from workbench.documents import options as dopt

    head, _ = dopt.header(dopt.DocOptions(number="12"), demo["city"].city_name(), PERIOD)
    model = bl.build(demo["city"], head)
    path = tmp_path_factory.mktemp("doc") / "通报.docx"
    path.write_bytes(gongwen.render(model))
    return {"path": path, "doc": Document(str(path)), "model": model, "head": head}


def _all_text(doc) -> str:
    parts = [p.text for p in doc.paragraphs]
    for tb in doc.tables:
        parts += [c.text for row in tb.rows for c in row.cells]
    return "\n".join(parts)


def test_docx_layout_gbt9704(bulletin: dict) -> None:
    from docx.shared import Mm

    doc = bulletin["doc"]
    for sec in doc.sections:
        assert abs(sec.page_width - Mm(210)) < Mm(0.5) and abs(sec.page_height - Mm(297)) < Mm(0.5)
        for got, want in (
            (sec.top_margin, 37),
            (sec.bottom_margin, 35),
            (sec.left_margin, 28),
            (sec.right_margin, 26),
        ):
            assert abs(got - Mm(want)) < Mm(0.2)
    normal = doc.styles["Normal"].element.rPr.rFonts
    assert normal.get(f"{W}eastAsia") == "仿宋_GB2312"
    assert doc.styles["Normal"].font.size.pt == 16  # 三号
    xml = doc.element.xml
    assert 'w:eastAsia="方正小标宋简体"' in xml and 'w:eastAsia="黑体"' in xml
    assert 'w:eastAsia="楷体_GB2312"' in xml
    title_runs = [r for p in doc.paragraphs for r in p.runs if "通报" in r.text]
    assert title_runs and title_runs[0].font.size.pt == 22  # 二号
    text = _all_text(doc)
    assert "演医保发〔2026〕12号" in text
    assert "各区县医疗保障局：" in [p.text for p in doc.paragraphs]
    assert "2026年1月10日" in text and "2026年1月10日印发" in text and "抄送：" in text
    for label in ("附件：1．", "附件1", "附件4", "指标说明（工作口径）"):
        assert label in text


def test_page_numbers_and_tables(bulletin: dict) -> None:
    doc = bulletin["doc"]
    sec = doc.sections[0]
    for footer in (sec.footer, sec.even_page_footer):
        fxml = footer._element.xml
        assert "PAGE" in fxml and 'w:fldCharType="begin"' in fxml and "— " in fxml
    assert doc.settings.odd_and_even_pages_header_footer
    data_tables = [tb for tb in doc.tables if len(tb.rows) > 2]
    assert data_tables
    for tb in data_tables:
        first = tb.rows[0]._tr
        assert first.find(f"{W}trPr/{W}tblHeader") is not None  # repeats on every page
        for row in tb.rows:
            assert row._tr.find(f"{W}trPr/{W}cantSplit") is not None  # never split
        assert tb._tbl.tblPr.find(f"{W}tblLayout").get(f"{W}type") == "fixed"


def test_bulletin_content_reconciles(demo: dict, bulletin: dict) -> None:
    from workbench.presentation import kpis as pk

    text = _all_text(bulletin["doc"])
    fig = pc.figures(demo["ledgers"], PERIOD).set_index("key")
    assert f"立案{fig.loc['cases_filed', 'ytd_text']}" in text
    assert fig.loc["recovered", "ytd_text"] in text
    data = demo["city"].data
    county = data.kpis
    for code in county["indicator"].unique():
        fail = pg.failing_counties(county, code)
        row = data.city_kpis.set_index("indicator").loc[code]
        if 0 < fail.n < len(data.counties) and row["status"] in (pk.MET, *pg.FAILING):
            assert f"{fail.n}个区县未达标：{'、'.join(fail.names)}" in text
    # short sentences: no paragraph of the body is a 400-character chain
    body = [p.text for p in bulletin["doc"].paragraphs]
    sentences = [s for p in body for s in re.split("[。；]", p)]
    assert max(len(s) for s in sentences) < 200


# ----------------------------------------------------------------------------- calendar
def test_calendar_decides_the_documents(demo: dict) -> None:
    from workbench.documents import summaries

    iset = demo["city"].data.evaluation.indicator_set
    assert summaries.due(iset, "2025-06") == [("phase_summary", "self_check")]
    assert summaries.due(iset, "2025-07") == []
    assert summaries.due(iset, "2025-12") == [("campaign_summary", ""), ("case_digest", "")]


def test_december_writes_the_campaign_summary(demo: dict, tmp_path: Path) -> None:
    from docx import Document

    from workbench import report
    from workbench.documents import options as dopt
    from workbench.documents import produce

    said: list[str] = []
    docs = produce.write_all(
        demo["city"],
        dopt.DocOptions(),
        tmp_path / "city",
        lambda p: report.city_report(p, str(demo["path"])),
        pdf=False,
        echo=said.append,
    )
    kinds = [d["kind"] for d in docs]
    assert kinds == ["bulletin", "campaign_summary", "case_digest"]
    summary = Document(str(tmp_path / docs[1]["docx"]))
    text = _all_text(summary)
    assert "专项整治工作总结" in text and "达成" in text and "未达成" in text
    digest = _all_text(Document(str(tmp_path / docs[2]["docx"])))
    names = demo["frames"]["cases"]["person_name"].dropna().astype(str)
    ids = demo["frames"]["cases"]["person_id"].dropna().astype(str)
    assert not any(n in digest for n in names if len(n) >= 2)
    assert not any(i in digest for i in ids)
    assert any("成文日期未指定" in s for s in said)


# ----------------------------------------------------------------------------- rendering
def _tools() -> str | None:
    from workbench.documents import pdf as dpdf

    if dpdf.soffice_path() is None:
        return "LibreOffice (soffice) not installed: python3 dev.py test installs it as root"
    if shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None:
        return "poppler-utils not installed: python3 dev.py test installs it as root"
    return None


@pytest.mark.skipif(_tools() is not None, reason=str(_tools()))
def test_pdf_renders_on_a4_with_nothing_clipped(bulletin: dict, tmp_path: Path) -> None:
    from workbench.documents import pdf as dpdf

    pdf = dpdf.docx_to_pdf(bulletin["path"], tmp_path / "通报.pdf")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert "595.3" in info and "841.8" in info  # A4 in points
    assert 5 <= pages <= 40
    subprocess.run(["pdftoppm", "-r", "20", "-png", str(pdf), str(tmp_path / "pg")], check=True)
    assert len(list(tmp_path.glob("pg-*.png"))) == pages
    bbox = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True
    ).stdout
    mm = 72 / 25.4
    words = re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)<', bbox
    )
    assert words
    for a, b, c, d, word in words:
        x0, y0, x1, y1 = float(a), float(b), float(c), float(d)
        # a line-end 、，。 keeps its ink in the left half of its em box: allow that box over
        em = 16.0 if word and word[-1] in "、，。；：）”" else 0.0
        assert 27 * mm <= x0 and x1 - em <= (210 - 25) * mm, word  # inside the 版心
        assert 0 <= y0 and y1 <= 297 * mm, word
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "— 1 —" in text or "—1—" in text.replace(" ", "")


def test_glue_minus_joins_only_a_minus_before_a_digit() -> None:
    from workbench.documents.pdf import WORD_JOINER, glue_minus

    xml = '<w:p><w:r><w:t xml:space="preserve">末-15.5%、乙-丙、≤-30.0%</w:t></w:r></w:p>'
    got = glue_minus(xml)
    assert got == xml.replace("末-1", f"末-{WORD_JOINER}1").replace("≤-3", f"≤-{WORD_JOINER}3")
    assert glue_minus('<w:tbl w:val="-1"/>') == '<w:tbl w:val="-1"/>'  # markup is not text


@pytest.mark.skipif(_tools() is not None, reason=str(_tools()))
def test_a_negative_number_is_not_split_at_a_line_end(tmp_path: Path) -> None:
    """`全年走势：…二季度末-15.5%…` wrapped as 二季度末- / 15.5% in the 工作总结's PDF. The same
    paragraph shifted by one character at a time puts every minus at a line's end once."""
    import io

    from docx import Document as Docx

    from workbench.documents import gongwen
    from workbench.documents import pdf as dpdf
    from workbench.documents.model import Document, Header, Para

    text = (
        "欺诈骗保案件数量同比-17.6%，未达成≤-30.0%的目标。全年走势：一季度末-2.9%、二季度末"
        "-15.5%、三季度末-17.5%、年末-17.6%；重复作案占比变化一季度末-9.6%、二季度末-10.2%。"
    )
    day = dt.date(2026, 1, 10)
    head = Header("演示市医疗保障局", "演示市医疗保障局文件", "演医保发〔2026〕1号",
                  ("各区县医疗保障局",), (), "演示市医疗保障局办公室", day, day)  # fmt: skip
    paras = tuple(Para("甲" * i + text) for i in range(24))
    docx = tmp_path / "t.docx"
    docx.write_bytes(gongwen.render(Document("bulletin", "标题", head, paras)))
    body = [p.text for p in Docx(io.BytesIO(docx.read_bytes())).paragraphs]
    assert sum(text in p for p in body) == 24  # the .docx keeps its text as written
    pdf = dpdf.docx_to_pdf(docx, tmp_path / "t.pdf")
    # -layout: plain pdftotext joins a line ending in - with the next (it takes it for a hyphen)
    out = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True)
    lines = [x.strip() for x in out.stdout.splitlines() if x.strip()]
    assert "".join(lines).replace(" ", "").count("全年走势") == 24  # the paragraphs are there
    # the text has no minus but before a digit: a line (or page) ending in one split a number
    ends = [x for x in lines if x.endswith("-")]
    assert not ends, ends


# ----------------------------------------------------------------------------- county reports
def test_county_report_lists_and_next_steps(demo: dict) -> None:
    from workbench.report import CountyReport

    data = demo["city"].data
    code = str(data.counties["county"].iloc[0])
    r = CountyReport(data, code)
    cases = demo["ledgers"]["cases"]
    found = pd.to_datetime(cases["found_date"])
    # 涉嫌犯罪 (flagged; or unflagged, over 5,000 and of a typically criminal type — the
    # campaign's list) and not referred, this year, not withdrawn (issue 13's 行刑衔接)
    from workbench.declarations import clauses_of

    crime = data.evaluation.indicator_set.measures["crime_cases"]
    types = next(c.value for c in clauses_of(crime.where) if c.field == "violation_type")
    flag = cases["suspected_crime"].astype("boolean")
    referred = cases["referred_police"].astype(bool) | (cases["outcome"] == "移送公安")
    by_rule = flag.isna() & (cases["amount_involved"] > 5000) & cases["violation_type"].isin(types)
    direct = cases[
        (cases["county_code"].astype(str) == code)
        & (found.dt.year == 2025)
        & (cases["status"] != "已撤销")
        & (flag.fillna(False) | by_rule)
        & ~referred
    ]
    assert len(r.unreferred_frame()) == len(direct)
    html = str(r.unreferred())
    for name in direct["person_name"].dropna().astype(str):
        assert name not in html or len(name) < 2
    steps = r.next_steps_list()
    failing = [k for k in r.kpis if k.met is False]
    behind = (
        len(r.overdue_frame()),
        len(direct),
        len(r.key_monitored_frame()),
        len(r.overdue_cases_frame()),
        len(r.overdue_checks_frame()),
        r._open_talks(),
        r.talk_status() is not None,  # on the 约谈名单
    )
    lists_nonempty = sum(1 for n in behind if n)
    assert len(steps) == (len(failing) + lists_nonempty or 1)
    assert all(k.name in s for k, s in zip(failing, steps))
    defs = r.definitions_frame()
    assert len(defs) == len(data.evaluation.indicator_set.indicators)


def test_case_digest_headings_name_the_county_once(demo: dict) -> None:
    """案例2：白沙县白沙县观澜中西医结合医院超标准收费案 — an institution named after its county
    took the county again; a case of type 其他 read 某用人单位其他案."""
    from workbench.documents import options as dopt
    from workbench.documents import summaries
    from workbench.documents.model import Heading

    head, _ = dopt.header(dopt.DocOptions(), demo["city"].city_name(), PERIOD, "case_digest")
    model = summaries.build_case_digest(demo["city"], head, size=200)
    heads = [b.text for b in model.blocks if isinstance(b, Heading)]
    counties = set(demo["frames"]["counties"]["county_name"].astype(str))
    assert heads
    # the demo names many institutions after their county: the check has cases to look at
    assert sum(any(f"：{c}" in h and h.count(c) == 1 for c in counties) for h in heads) > 1
    for h in heads:
        assert not any(h.count(c) > 1 for c in counties), h
        assert not h.endswith("其他案"), h


def test_case_digest_reads_as_written_by_hand(demo: dict) -> None:
    """案例8 “通过其他发现”, 案例7 “某用人单位其他违规案 … 存在其他违规问题”, and “罚款0元” in
    almost every case: a source 其他 is left unsaid, a violation 其他 is 违规使用医保基金, and a
    fine (or a recovery) is told only when there is one — as many as the ledger has."""
    from workbench.documents import options as dopt
    from workbench.documents import summaries
    from workbench.documents.model import Heading, Para

    head, _ = dopt.header(dopt.DocOptions(), demo["city"].city_name(), PERIOD, "case_digest")
    model = summaries.build_case_digest(demo["city"], head, size=500)
    heads = [b.text for b in model.blocks if isinstance(b, Heading)]
    paras = [b.text for b in model.blocks if isinstance(b, Para)][1:]  # after the intro
    assert len(heads) == len(paras) > 20
    text = "\n".join(heads + paras)
    for wrong in ("通过其他发现", "其他违规", "罚款0", "追回违规资金0"):
        assert wrong not in text, wrong
    # the ledger's own count: cases closed in the campaign, exposed, with a fine
    cases = demo["frames"]["cases"]
    closed = pd.to_datetime(cases["closed_date"])
    shown = cases[
        cases["exposed"].astype(bool)
        & (closed >= "2025-03-01")
        & (closed <= "2025-12-31")
        & (cases["status"] == "已结案")
    ]
    assert len(shown) == len(paras)  # size 500 takes them all
    assert sum("罚款" in p for p in paras) == int((shown["fine_amount"] > 0).sum()) > 0
    assert sum("追回违规资金" in p for p in paras) == int((shown["amount_recovered"] > 0).sum())
    other = shown["violation_type"] == "其他"
    assert sum(h.endswith("违规使用医保基金案") for h in heads) >= int(other.sum()) > 0
    assert sum("医疗保障局发现" in p for p in paras) == int((shown["lead_source"] == "其他").sum())


# ------------------------------------------------------------------- what a document cites
BARE_CODE = re.compile(r"\b00\d\s|\b00\d_[0-9a-f]+\.txt")


def test_the_bulletin_cites_each_document_as_what_it_is(bulletin: dict) -> None:
    """附件 指标说明: a collection of county work summaries is 参考…（工作做法） and its target
    工作口径; another city's plan 参照, never 依据; a code inside a sentence (「另：004 要求」)
    is a title; every working definition tagged 计算方法（工作口径） and no other (expected words
    by hand, the set's workbench_definition flags read from the YAML)."""
    from workbench.declarations import load_set

    text = _all_text(bulletin["doc"])
    assert not BARE_CODE.search(text), BARE_CODE.search(text)
    assert "工作台定义" not in text
    assert not re.search(r"依据：?(嘉兴|华容|《打击医保骗保工作总结十篇》)", text)
    jiaxing = "嘉兴市人民政府办公室《嘉兴市打造医保“无骗保城市”实施意见》"
    assert (
        "（工作口径，参考《打击医保骗保工作总结十篇》篇2：各县（市、区）医疗保障部门每月要向市局"
        "报送一例需在媒体上曝光的典型案例（工作做法））" in text
    )
    assert f"另：{jiaxing}要求三年行动计划期间对定点医药机构检查率达到100%。" in text
    assert f"；参照{jiaxing}三（一）2：三年内检查率100%）" in text
    # the 指标说明 items: one tag, on exactly the working definitions
    iset = load_set("campaign_2025")
    items = dict(
        re.findall(
            r"\d+．([^。\n]+)。(计算方法(?:（工作口径）)?)：",
            text.split("指标说明（工作口径）")[-1],
        )
    )
    for ind in iset.indicators.values():
        if ind.name in items:
            want = "计算方法（工作口径）" if ind.workbench_definition else "计算方法"
            assert items[ind.name] == want, ind.name
    assert items["案件查处率"] == "计算方法（工作口径）"  # item 1, untagged before
    assert items["病历抽查比例"] == "计算方法"  # the seed defines it


def test_county_report_and_summary_show_no_bare_code(demo: dict, tmp_path: Path) -> None:
    from docx import Document

    from workbench import report
    from workbench.documents import options as dopt
    from workbench.documents import produce
    from workbench.report import CountyReport

    data = demo["city"].data
    r = CountyReport(data, str(data.counties["county"].iloc[0]))
    html = str(r.definitions())
    assert not BARE_CODE.search(html) and "工作台定义" not in html
    assert "目标来源" in html and "（工作口径）" in html
    docs = produce.write_all(
        demo["city"],
        dopt.DocOptions(),
        tmp_path / "city",
        lambda p: report.city_report(p, str(demo["path"])),
        pdf=False,
        echo=lambda _s: None,
    )
    for d in docs:
        text = _all_text(Document(str(tmp_path / d["docx"])))
        assert not BARE_CODE.search(text), (d["kind"], BARE_CODE.search(text))
        assert "工作台定义" not in text, d["kind"]
        assert not re.search(r"依据：?(嘉兴|华容)", text), d["kind"]


def test_kpi_tables_bold_the_city_and_state_relative_targets_as_rules(demo: dict) -> None:
    """附件2's KPI tables: 「加粗为未达标」 holds for the 全市 row too (it was never bold), and a
    relative target is each county's own (its 2024 same-months value × 1.2), so the 目标 row
    states the rule — the city's own value (≥46.3 %) printed there made counties below it
    look met. campaign_2025 declares 案件查处率 relative to 2024, +20 %."""
    from workbench.documents import bulletin as bl
    from workbench.documents.model import Table

    data = demo["city"].data
    f = bl.gather(data)
    tables = [b for b in bl.kpi_tables(f, data.kpis, data.city_kpis) if isinstance(b, Table)]
    assert tables
    city = data.city_kpis.set_index("indicator")
    names = dict(zip(data.kpis["indicator"], data.kpis["short_name"]))
    seen_relative = seen_bold_city = False
    for tb in tables:
        df = tb.frame
        n = len(f.counties)
        assert df.iloc[n, 0] == f.words.whole and df.iloc[n + 1, 0] == "目标"
        for j, col in enumerate(df.columns[1:], 1):
            code = next(c for c, s in names.items() if s == col)
            failing = city.loc[code, "status"] in ("not_met", "at_risk")
            assert ((n, j) in tb.bold) == failing, (col, city.loc[code, "status"])
            seen_bold_city |= failing
            if code == "case_detection_rate":
                assert df.iloc[n + 1, j] == "2024年同期×（1＋20%），最高100%"  # bounds [0, 1]
                seen_relative = True
            elif (
                not f.iset.indicators[code].target or not f.iset.indicators[code].target.is_relative
            ):
                assert (
                    df.iloc[n + 1, j] == (city.loc[code, "target_text"] or "—")
                    or df.iloc[n + 1, j] == "—"
                )
    assert seen_relative


def test_target_rule_text_by_hand() -> None:
    from workbench.presentation import definitions as pdef

    assert pdef.target_rule_text({"relative_rise": 0.2, "baseline_year": 2024}) == (
        "2024年同期×（1＋20%）"
    )
    assert pdef.target_rule_text({"relative_rise": 0.07, "baseline_year": 2023}) == (
        "2023年同期×（1＋7%）"  # 0.07 × 100 is 7.000000000000001 in floating point
    )
    capped = {"relative_rise": 0.2, "baseline_year": 2024, "relative_cap": 1.0, "unit": "%"}
    assert pdef.target_rule_text(capped) == "2024年同期×（1＋20%），最高100%"
    assert pdef.target_rule_text({"relative_rise": 0.125, "baseline_year": None}) == (
        "上年同期×（1＋12.5%）"
    )
    assert pdef.target_rule_text({"relative_rise": None}) == ""
