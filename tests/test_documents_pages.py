"""What a reader of the demo city's documents sees (10 counties, as `workbench demo` makes it,
December 2025): policy is cited by the document's title, never by the seed's internal number,
in the 通报, the summaries and the cockpit alike; and in the PDF no page opens with a table's
note (说明：…) alone or is blank but for its page number (LibreOffice + poppler; skipped with the
reason when absent)."""

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
