"""What a reader of the demo city's documents sees (10 counties, as `workbench demo` makes it,
December 2025): policy is cited by the document's title, never by the seed's internal number,
in the 通报, the summaries and the cockpit alike; and in the PDF no page opens with a table's
note (说明：…) alone or is blank but for its page number, every 、，。；： of the .docx is there,
no line is letter-spaced, tables are not cramped nor split to leave two rows alone
(LibreOffice + poppler; skipped with the reason when absent). Also the wording a reader
tripped over: the quarter of the report, the campaign's one name, rates named as rates."""

from __future__ import annotations

import datetime as dt
import html
import io
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from workbench.warehouse import Warehouse

PERIOD = "2025-12"
PLAN = "《2025年开展打击欺诈骗保专项整治行动工作方案》"
# a seed's number where a citation should be: "002 三（一）", "002三", "002_b1a….txt", "依据：002"
BARE = re.compile(
    r"依据：00\d|(?<![0-9,.])00[0-4](?: [一二三四五六七八九十篇]|[一二三四五六七八九十]|_\w+\.txt)"
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from workbench import report
    from workbench.demo import generate_city

    city = generate_city(seed=20251)  # the demo's ten counties
    path = tmp_path_factory.mktemp("wh") / "demo.duckdb"
    with Warehouse(path) as wh:
        wh.load_frames(city.frames, period=PERIOD)
    reports = {PERIOD: report.city_report(PERIOD, str(path))}

    def city_at(period: str):
        if period not in reports:
            reports[period] = report.city_report(period, str(path))
        return reports[period]

    return {"path": path, "frames": city.frames, "city": reports[PERIOD], "city_at": city_at}


def _docx_text(data: bytes) -> str:
    from docx import Document

    doc = Document(io.BytesIO(data))
    parts = [p.text for p in doc.paragraphs]
    for tb in doc.tables:
        parts += [c.text for row in tb.rows for c in row.cells]
    return "\n".join(parts)


@pytest.fixture(scope="module")
def documents(demo: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The 通报 and the summaries the demo's December and its phases call for, built and laid
    out as `workbench run` does (models, .docx bytes, .docx path of the 通报)."""
    from workbench.documents import gongwen, produce
    from workbench.documents import options as dopt

    opts = dopt.DocOptions(number="12")
    out = {}
    for kind, code in (
        ("bulletin", ""),
        ("campaign_summary", ""),
        ("phase_summary", "key_check"),  # cites its phase and the next one
        ("phase_summary", "summary"),
    ):
        model, _notes = produce.build(kind, code, demo["city"], opts, PERIOD, demo["city_at"])
        out[f"{kind}:{code}"] = {"model": model, "docx": gongwen.render(model)}
    path = tmp_path_factory.mktemp("doc") / "通报.docx"
    path.write_bytes(out["bulletin:"]["docx"])
    out["bulletin_path"] = path
    return out


def test_no_document_cites_a_seed_by_its_number(documents: dict) -> None:
    seen = 0
    for key, d in documents.items():
        if key == "bulletin_path":
            continue
        text = _docx_text(d["docx"])
        assert not BARE.search(text), (
            key,
            BARE.search(text) and text[BARE.search(text).start() - 40 :][:120],
        )
        seen += text.count("依据" + PLAN)
    # the test can tell: the citations are there, by title (通报 附件, both phase summaries)
    assert seen >= 3
    phase = _docx_text(documents["phase_summary:key_check"]["docx"])
    assert f"重点抽查阶段（依据{PLAN}三（二）3：重点抽查（2025年9-10月））" in phase
    assert f"，依据{PLAN}四（三）：总结提升阶段（2025年11-12月）" in phase


def test_the_bulletins_attachment_cites_the_plan_by_title(documents: dict) -> None:
    text = _docx_text(documents["bulletin:"]["docx"])
    # 行刑衔接移送率: two documents in one source, one catalogued, one cited by its own number
    assert (
        f"（依据{PLAN}三（三）2：对涉案金额超过5000元（医保）的案件，及时移送公安机关；"
        "医保发〔2021〕49号：应移尽移）"
    ) in text


def _definitions_attachment(model) -> str:
    from workbench.documents.model import Para

    att = next(a for a in model.attachments if "指标说明" in a.title)
    return "\n".join(b.lead + b.text for b in att.blocks if isinstance(b, Para))


def test_cockpit_panels_cite_as_the_bulletins_attachment(demo: dict, documents: dict) -> None:
    from workbench import dashboard as d

    data = d.from_engine(demo["frames"], periods=[PERIOD], uncertainty_samples=20)
    cards = d.kpi_cards_html(data, d.View("campaign_2025", PERIOD))
    attachment = _definitions_attachment(documents["bulletin:"]["model"])
    shown = [m["indicator"] for m in data.meta_records("campaign_2025")]
    assert len(shown) > 10
    cited = 0
    for code in shown:
        m = re.search(
            rf'<details class="wb-def wb-def-card" data-def="{code}">(.*?)</details>', cards
        )
        assert m, code
        fields = dict(re.findall(r'data-def-field="(\w+)">([^<]*)<', m.group(1)))
        source = html.unescape(fields["source"])
        assert not BARE.search(source), (code, source)
        if source.startswith("依据《"):
            cited += 1
            assert f"（{source}）" in attachment, code
    assert cited > 5
    panel = re.search(r'data-def="violation_recovery_rate">(.*?)</details>', cards).group(1)
    assert html.unescape(re.search(r'data-def-field="source">([^<]*)<', panel).group(1)) == (
        f"依据{PLAN}三（四）1：2025年11月底前……违规资金追回率需达95%以上"
    )


# ----------------------------------------------------------------------------- the PDF
def _tools() -> str | None:
    from workbench.documents import pdf as dpdf

    if dpdf.soffice_path() is None:
        return "LibreOffice (soffice) not installed: python3 dev.py test installs it as root"
    if shutil.which("pdftotext") is None:
        return "poppler-utils not installed: python3 dev.py test installs it as root"
    return None


def _pages(pdf: Path) -> list[list[str]]:
    """Each page's non-blank lines, as `pdftotext -layout` reads them."""
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    pages = text.split("\f")
    if pages and not pages[-1].strip():
        pages = pages[:-1]
    return [[ln.strip() for ln in pg.splitlines() if ln.strip()] for pg in pages]


def _page_faults(pages: list[list[str]]) -> list[str]:
    faults = []
    for i, lines in enumerate(pages, 1):
        if not lines or all(re.fullmatch(r"—\s*\d+\s*—", ln) for ln in lines):
            faults.append(f"page {i} is blank")
        elif lines[0].startswith("说明"):
            faults.append(f"page {i} opens with its note: {lines[0]}")
        elif re.fullmatch(r"附件\s*\d+", lines[0]) and len(lines) <= 4:
            # 附件N, its title in one or two lines, the page number: the content went over
            faults.append(f"page {i} holds an attachment's title alone: {lines}")
    return faults


@pytest.mark.skipif(_tools() is not None, reason=str(_tools()))
def test_no_page_of_the_bulletin_opens_with_a_note(documents: dict, tmp_path: Path) -> None:
    from workbench.documents import pdf as dpdf

    pdf = dpdf.docx_to_pdf(documents["bulletin_path"], tmp_path / "通报.pdf")
    pages = _pages(pdf)
    assert len(pages) > 10
    assert _page_faults(pages) == []
    # the KPI tables' note is there, under its table
    assert any(ln.startswith("说明：数值为") for lines in pages for ln in lines)


@pytest.mark.skipif(_tools() is not None, reason=str(_tools()))
@pytest.mark.parametrize("note", ["说明：数值为1—12月累计口径，加粗为未达标。", ""])
def test_tables_of_every_length_keep_their_note(note: str, tmp_path: Path) -> None:
    """One attachment per table length, 14 to 33 rows: the lengths where a table ends at the
    foot of a page, one row short of it and one row over, each with or without a note."""
    from workbench.documents import gongwen
    from workbench.documents import pdf as dpdf
    from workbench.documents.model import Attachment, Document, Header, Para, Table

    day = dt.date(2026, 1, 10)
    head = Header(
        "演示市医疗保障局",
        "演示市医疗保障局文件",
        "演医保〔2026〕1号",
        ("各区县医疗保障局",),
        ("市人民政府",),
        "演示市医疗保障局办公室",
        day,
        day,
    )
    atts = []
    for n in range(14, 34):
        df = pd.DataFrame(
            {"区县": [f"区县{i}" for i in range(n)], "数值": [f"{i}.0%" for i in range(n)]}
        )
        atts.append(Attachment(f"{n}行的表", (Table(df, caption=f"表{n}", note=note),)))
    doc = Document("bulletin", "版式试验", head, (Para("正文。"),), tuple(atts))
    (tmp_path / "x.docx").write_bytes(gongwen.render(doc))
    pages = _pages(dpdf.docx_to_pdf(tmp_path / "x.docx", tmp_path / "x.pdf"))
    assert _page_faults(pages) == []
    labels = [ln for lines in pages for ln in lines if re.fullmatch(r"附件\s*\d+", ln)]
    assert len(labels) == 20  # every attachment, each opening its own page
    assert all(
        re.fullmatch(r"附件\s*\d+", lines[0])
        for lines in pages
        if any(re.fullmatch(r"附件\s*\d+", ln) for ln in lines)
    )
    if note:  # every note follows a row of its table on the same page
        for lines in pages:
            for k, ln in enumerate(lines):
                if ln.startswith("说明"):
                    assert k > 0 and re.match(r"区县\s*\d+", lines[k - 1]), lines[: k + 1]


# ----------------------------------------------------------------------------- typesetting
# a justified line letter-spaced: three or more single Chinese characters (or full-width
# punctuation) in a row, each set apart by a space, as `个 百 分 点 。` — pdftotext puts a space
# wherever the gap between two glyphs passes a tenth of the font size
_CJK = r"[\u4e00-\u9fff\u3000-\u303f\uff00-\uffef“”]"
SPACED = re.compile(rf"(?:{_CJK} ){{3,}}{_CJK}")
# a number with its sign or comparison and the mark after it, which no line may split: when
# the next line opens with one wider than two characters, the line above had to keep that
# much room and spread it (the one stretch a justified CJK line cannot avoid)
_UNBROKEN = re.compile(r"^[≤≥<>]?\s?-?[0-9][0-9.,]*\s?[%‰]?\s?[、，。；：）]?")


def _letter_spaced(lines: list[str]) -> list[tuple[str, str]]:
    """Letter-spaced lines, with the line after each, but for those a number forced."""
    from workbench.documents.gongwen import text_width

    out = []
    for k, line in enumerate(lines):
        after = lines[k + 1] if k + 1 < len(lines) else ""
        unit = _UNBROKEN.match(after)
        if SPACED.search(line) and not (unit and text_width(unit.group().replace(" ", "")) > 4):
            out.append((line, after))
    return out


# what LibreOffice dropped at a line's end (it hung them in the margin without drawing them)
LINE_END_MARKS = "、，。；："
_HEAD = dict(
    issuer="演示市医疗保障局",
    mark="演示市医疗保障局文件",
    number="演医保〔2026〕1号",
    recipients=("各区县医疗保障局",),
    cc=(),
    printer="演示市医疗保障局办公室",
    date=dt.date(2026, 1, 10),
    print_date=dt.date(2026, 1, 10),
)


def _docx_text_once(data: bytes) -> str:
    """The .docx's text with a merged cell once (python-docx gives it for every column)."""
    from docx import Document

    doc = Document(io.BytesIO(data))
    parts = [p.text for p in doc.paragraphs]
    for tb in doc.tables:
        for row in tb.rows:
            cells = {id(c._tc): c.text for c in row.cells}
            parts += cells.values()
    return "\n".join(parts)


def _pdf_text(pdf: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout


def _docx_of(tmp_path: Path, paras: list[str]) -> Path:
    from workbench.documents import gongwen
    from workbench.documents.model import Document, Header, Para

    doc = Document("bulletin", "版式试验", Header(**_HEAD), tuple(Para(p) for p in paras))
    path = tmp_path / "t.docx"
    path.write_bytes(gongwen.render(doc))
    return path


@pytest.mark.skipif(_tools() is not None, reason=str(_tools()))
def test_line_final_punctuation_reaches_the_pdf(tmp_path: Path) -> None:
    """A sentence shifted by one character at a time ends a line on every mark once: each
    、，。；： of the .docx is in the PDF (the 通报 lost “北塘区、” at a line's end)."""
    from workbench.documents import pdf as dpdf

    text = "得分居前三位的是北塘区、桃源县、青山县；居后三位的是西岭县，东湖区：白沙县。"
    paras = ["甲" * i + text for i in range(30)]
    docx = _docx_of(tmp_path, paras)
    want = _docx_text_once(docx.read_bytes())
    got = re.sub(r"\s+", "", _pdf_text(dpdf.docx_to_pdf(docx, tmp_path / "t.pdf")))
    assert got.count("得分居前三位") == 30  # every paragraph is there
    for mark in LINE_END_MARKS:
        assert got.count(mark) == want.count(mark) >= 30, mark


@pytest.mark.skipif(_tools() is not None, reason=str(_tools()))
def test_justified_lines_are_not_letter_spaced(tmp_path: Path) -> None:
    """The 工作总结's 全年走势 paragraphs, each shifted by a character at a time: no line of
    the PDF reads as single characters set apart (“差 12.4 个 百 分 点 。 全 年 走 势”) unless
    the next line opens with a number too wide for the room left."""
    from workbench.documents import pdf as dpdf

    texts = (
        "案件查处率提升幅度-19.6%，未达成≥20.0%的目标，差39.6个百分点。全年走势：一季度末"
        "370.9%、二季度末40.6%、三季度末-12.1%、年末-19.6%。",
        "欺诈骗保案件数量同比-17.6%，未达成≤-30.0%的目标，差12.4个百分点。全年走势：一季度"
        "末-2.9%、二季度末-15.5%、三季度末-17.5%、年末-17.6%。",
        "重复作案、团伙作案占比变化-20.2%，达成≤-15.0%的目标。全年走势：一季度末-9.6%、"
        "二季度末-10.2%、三季度末-12.2%、年末-20.2%。",
    )
    paras = ["甲" * i + t for t in texts for i in range(28)]
    pdf = dpdf.docx_to_pdf(_docx_of(tmp_path, paras), tmp_path / "t.pdf")
    lines = [ln.strip() for ln in _pdf_text(pdf).splitlines() if ln.strip()]
    assert "".join(lines).replace(" ", "").count("%。") == len(paras)  # each ends so
    assert not _letter_spaced(lines), _letter_spaced(lines)


@pytest.mark.skipif(_tools() is not None, reason=str(_tools()))
@pytest.mark.parametrize("key", ["bulletin:", "campaign_summary:"])
def test_the_documents_pdf_keeps_every_mark_and_reads_naturally(
    documents: dict, key: str, tmp_path: Path
) -> None:
    """Every page of the 通报 and the 工作总结 as pdftotext reads it: every 、 (and ，。；：) of
    the .docx is there, and no line is letter-spaced."""
    from workbench.documents import pdf as dpdf

    docx = tmp_path / "d.docx"
    docx.write_bytes(documents[key]["docx"])
    text = _docx_text_once(documents[key]["docx"])
    pages = _pages(dpdf.docx_to_pdf(docx, tmp_path / "d.pdf"))
    got = "\n".join(ln for lines in pages for ln in lines)
    assert text.count("、") > 50
    for mark in LINE_END_MARKS:
        assert got.count(mark) == text.count(mark), mark
    spaced = [(i, pair) for i, lines in enumerate(pages, 1) for pair in _letter_spaced(lines)]
    assert not spaced, spaced
    assert _page_faults(pages) == []


# ----------------------------------------------------------------------------- tables
def test_headers_break_before_their_unit_and_names_in_balanced_lines() -> None:
    from workbench.documents.gongwen import header_lines, wrap_count

    assert header_lines("检查（家次）", 12) == ["检查（家次）"]  # 12 half-width units: fits
    assert header_lines("检查（家次）", 9) == ["检查", "（家次）"]  # never 检查（家 / 次）
    assert header_lines("重点监控检查率", 12) == ["重点监控", "检查率"]  # never …检查 / 率
    assert header_lines("暂停协议（家）", 6) == ["暂停", "协议", "（家）"]
    # a number with its unit and a closing mark stays whole; Chinese breaks anywhere
    assert wrap_count("同一参保人月就诊次数≥15次", 26) == 1
    assert wrap_count("同一参保人月就诊次数≥15次", 20) == 2  # 同…数 (20) / ≥15次 (5)
    assert wrap_count("差12.6个百分点。", 8) == 2  # 差12.6个 (8) / 百分点。 (8)
    assert wrap_count("差12.6个百分点。", 7) == 3  # 差12.6 (6) / 个百分 (6) / 点。 (4)


def test_a_rule_table_is_not_cramped() -> None:
    """The 通报's 疑点数据筛查 table: eight columns, rule names up to 13 characters. The rule
    names wrapped to three lines at 小四 while the count columns stood half empty; at 五号 the
    names take at most two lines and each header breaks only before its unit."""
    from workbench.documents import gongwen as gw

    rules = ["同一参保人月就诊次数≥15次", "死亡未停保/个账续划", "短期再入院（分解住院）"]
    rules += ["住院期间门诊/购药结算", "进销存不符", "全市"]
    k = len(rules)
    df = pd.DataFrame(
        {
            "规则": rules,
            "命中（笔）": ["31"] * k,
            "线索（条）": ["2"] * k,
            "疑点金额（万元）": ["0.43"] * k,
            "累计线索（条）": ["130"] * k,
            "已核查（条）": ["93"] * k,
            "属实（条）": ["60"] * k,
            "属实率": ["64.5%"] * k,
        }
    )
    widths, size = gw.column_widths(df, gw.TEXT_WIDTH_MM * gw.PT_PER_MM)
    assert sum(widths) == pytest.approx(gw.TEXT_WIDTH_MM * gw.PT_PER_MM)
    assert size == gw.SIZE_5
    units = [(w - 2 * gw.CELL_PAD_PT) / (size / 2) - 1 for w in widths]
    assert max(gw.wrap_count(r, units[0]) for r in rules) <= 2
    assert sum(gw.wrap_count(r, units[0]) for r in rules) <= len(rules) + 2
    for head, u in zip(df.columns, units):
        lines = gw.header_lines(head, u)
        assert len(lines) <= 2 and all(gw.text_width(x) <= u for x in lines), (head, lines)


def _one_table_document(rows: int, lead_paras: int, caption: str = "表2　测试"):
    from workbench.documents.model import Attachment, Document, Header, Para, Table

    df = pd.DataFrame(
        {
            "区县": [f"区县{i}" for i in range(rows - 2)] + ["全市", "目标"],
            "数值": [f"{i}.0%" for i in range(rows)],
        }
    )
    blocks = tuple(Para("正文" * 13) for _ in range(lead_paras)) + (Table(df, caption=caption),)
    att = Attachment("测试表", (Table(df, caption="测试表"),))
    return Document("bulletin", "版式试验", Header(**_HEAD), blocks, (att,))


def test_an_attachments_one_table_is_not_captioned_with_its_title() -> None:
    from docx import Document as Docx

    from workbench.documents import gongwen

    doc = Docx(io.BytesIO(gongwen.render(_one_table_document(5, 1))))
    texts = [p.text for p in doc.paragraphs]
    assert "附件：测试表" in texts  # the 附件说明
    assert texts.count("测试表") == 1  # the attachment's title, and no caption repeating it
    assert texts.count("表2　测试") == 1  # a table in the body keeps its caption


@pytest.mark.skipif(_tools() is not None, reason=str(_tools()))
def test_a_table_never_leaves_its_last_rows_alone(tmp_path: Path) -> None:
    """A 14-row table after 6 to 22 paragraphs: it starts lower on the page each time and
    never splits (it fits a page); a 40-row table splits with at least three rows after."""
    from workbench.documents import gongwen
    from workbench.documents import pdf as dpdf

    def rows_per_page(rows: int, lead: int) -> list[int]:
        path = tmp_path / f"t{rows}-{lead}.docx"
        path.write_bytes(gongwen.render(_one_table_document(rows, lead)))
        pages = _pages(dpdf.docx_to_pdf(path, path.with_suffix(".pdf")))
        row = re.compile(r"(区县 ?\d+|全市|目标)\s+\d")
        counts = [sum(1 for ln in lines if row.match(ln)) for lines in pages]
        return [c for c in counts if c]

    for lead in (6, 14, 18, 20, 22):
        assert rows_per_page(14, lead) == [14, 14]  # the body's table, the attachment's
    tail = rows_per_page(40, 0)
    assert sum(tail) == 80 and min(tail) >= 3, tail


def test_the_quarter_is_the_reports_not_the_signing_dates(documents: dict) -> None:
    """A 通报 of December dated 2026年1月10日 said “本季度有14家…尚未检查” and “于本季度末前完成
    检查” — a quarter that had ended. It names the report's quarter and a date still ahead."""
    for key in ("bulletin:", "campaign_summary:"):
        model = documents[key]["model"]
        assert model.header.date == dt.date(2026, 1, 10)
        # the body (the definitions attachment may say 本季度 of a formula in general)
        text = "\n".join(
            getattr(b, "lead", "") + b.text for b in model.blocks if hasattr(b, "text")
        )
        assert "本季度" not in text, key
        assert re.search(r"截至2025年12月31日，2025年第四季度有\d+家重点监控机构尚未检查", text)
        # the quarter ended before the date: the general deadline, 20 days after it
        assert re.search(
            r"对2025年第四季度尚未检查的\d+家重点监控机构，于2026年1月30日前完成检查", text
        ), key


def test_quarter_labels_by_hand() -> None:
    from workbench import fmt

    assert fmt.quarter_label("2025-12") == "2025年第四季度"
    assert fmt.quarter_label("2026-01") == "2026年第一季度"
    assert fmt.quarter_label(dt.date(2025, 6, 30)) == "2025年第二季度"
    assert fmt.quarter_end("2025-11") == dt.date(2025, 12, 31)
    assert fmt.quarter_end("2024-02") == dt.date(2024, 3, 31)


def test_the_overviews_draft_names_the_campaign_as_the_bulletin(
    demo: dict, documents: dict
) -> None:
    """全市概览's 通报（草稿） opened “为深入推进医保基金管理突出问题专项整治” while the 通报 said
    “根据2025年打击欺诈骗保专项整治行动工作安排”: one campaign, one name."""
    from workbench.documents.model import Para

    body = documents["bulletin:"]["model"].blocks
    first = next(b.text for b in body if isinstance(b, Para))
    named = re.match(r"根据(.+?)工作安排", first)
    assert named and "专项整治" in named.group(1)
    draft = demo["city"].bulletin_sections()["intro"]
    assert draft.startswith(f"根据{named.group(1)}工作安排，"), draft
    assert "突出问题" not in draft


def test_indicator_names_read_as_rates(documents: dict) -> None:
    """“举报奖励兑现68.8%”, “典型案例月度报送86.7%”: a rate named without 率 in the 通报 and
    the 工作总结; and “10条筛查规则中10条有命中” is 均有命中."""
    from workbench.presentation.words import rules_hit_text

    for key in ("bulletin:", "campaign_summary:"):
        text = _docx_text(documents[key]["docx"])
        assert "举报奖励兑现率" in text and "典型案例月度报送率" in text, key
        assert not re.search(r"(举报奖励兑现|典型案例月度报送)[0-9（）(]", text), key
    assert rules_hit_text(10, 10) == "10条筛查规则均有命中"
    assert rules_hit_text(10, 7) == "10条筛查规则中7条有命中"
    assert rules_hit_text(3, 0) == "3条筛查规则均无命中"
    assert rules_hit_text(3, 2, "规则") == "3条规则中2条有命中"
