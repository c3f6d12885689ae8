"""GB/T 9704-2012 (党政机关公文格式) layout with python-docx: `render(document) -> bytes`.

A4, 天头 37 mm, 地脚 35 mm, 订口 28 mm, 切口 26 mm (版心 156 × 225 mm, 22 lines); 版头 with the
red 发文机关标志, 发文字号 and red separator; title 二号 方正小标宋简体; 主送机关; body 三号
仿宋_GB2312 with headings 黑体 / 楷体_GB2312 / 仿宋 bold by level; 附件说明; 发文机关署名 centred
over the 成文日期 (右空四字, room for the seal); attachments on new pages; the 版记 (抄送,
印发机关和印发日期 between thick and thin rules) at the foot of the last page; page numbers
"— 1 —" in 四号 宋体, odd pages right, even pages left. Fonts are named as bureau PCs have them;
a machine without them substitutes (see `documents.pdf` for the free fonts used here).
Tables: widths from their content, header rows repeated on every page, rows never split.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import math
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import pandas as pd

from workbench.documents.model import (
    Attachment,
    Block,
    Document,
    Header,
    Heading,
    PageBreak,
    Para,
    Table,
)
from workbench.messages import t

# ----------------------------------------------------------------------------- the standard
PAGE_MM = (210.0, 297.0)
MARGINS_MM = {"top": 37.0, "bottom": 35.0, "left": 28.0, "right": 26.0}
TEXT_WIDTH_MM = PAGE_MM[0] - MARGINS_MM["left"] - MARGINS_MM["right"]  # 156
TEXT_HEIGHT_MM = PAGE_MM[1] - MARGINS_MM["top"] - MARGINS_MM["bottom"]  # 225
LINES_PER_PAGE = 22
CHARS_PER_LINE = 28  # GB/T 9704 7.1: 每面排22行，每行排28个字，并撑满版心
FOOTER_DISTANCE_MM = 21.0  # 一字线 about 7 mm below the 版心

FONT_TITLE = "方正小标宋简体"
FONT_BODY = "仿宋_GB2312"
FONT_H1 = "黑体"
FONT_H2 = "楷体_GB2312"
FONT_PAGE = "宋体"
FONT_LATIN = "Times New Roman"

SIZE_2 = 22.0  # 二号
SIZE_3 = 16.0  # 三号
SIZE_4 = 14.0  # 四号
SIZE_S4 = 12.0  # 小四
SIZE_5 = 10.5  # 五号
TABLE_SIZES = (SIZE_S4, SIZE_5, 9.0)

RED = "E60012"
PT_PER_MM = 72 / 25.4
# ≈ 28.95 pt: 22 lines to the page, rounded down to the twip Word stores (rounded up, 22 lines
# overrun the 版心 by a hair and every page holds 21, leaving gaps above moved paragraphs)
LINE_PT = math.floor(TEXT_HEIGHT_MM * PT_PER_MM * 20 / LINES_PER_PAGE) / 20
CELL_PAD_PT = 2.8  # left and right padding of a table cell
KEEP_ROWS = 3  # a table's last rows that stay on one page
# a table no taller than this share of the 版心 is never split: moved whole to the next page it
# leaves at most half a page empty (and an attachment's title still has room for it below)
KEEP_WHOLE_SHARE = 0.5
TITLE_LINE_CHARS = 20  # 二号 characters that fit the 版心 width with a margin
# 28 三号 characters (16 pt) are 158 mm, 2 mm more than the 版心: each character gives up a
# hair (−0.25 pt, Word's 字符间距 紧缩, in the twentieths of a point Word stores) so that 28 fit.
# With 27 a line, every line kept 0.6 character of slack and a justified line spread it
# between its characters on top of what a pushed word left (pdftotext read 百 分 点).
CHAR_SPACING_TWIPS = math.floor(20 * (TEXT_WIDTH_MM * PT_PER_MM / CHARS_PER_LINE - SIZE_3))


# ----------------------------------------------------------------------------- text widths
def char_width(ch: str) -> int:
    """Half-width units: 2 for CJK and full-width characters, 1 otherwise."""
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def text_width(text: str) -> int:
    return sum(char_width(c) for c in str(text))


_LATIN_RUN = re.compile(r"[A-Za-z0-9.,:%+\-–/()\[\]_·]+")
_NUMBER_CELL = re.compile(r"^[-+]?[0-9][0-9,.]*\s*[%‰]?[^\s0-9]{0,3}$")


def min_cell_width(text: str, header: bool = False) -> int:
    """The narrowest a cell may be without breaking a word: a number with its unit, a Latin
    run, and short Chinese names (≤ 6 characters) stay whole; longer Chinese wraps but keeps
    at least four characters a line. A header breaks before its “（unit）” and may wrap a long
    name in two lines."""
    s = str(text).strip()
    if not s:
        return 2
    if header:
        widths = []
        for part in (p for p in re.split(r"(?=[（(])", s) if p):
            w = text_width(part)
            if part[:1] in "（(" or w <= 8:
                widths.append(w)
            else:  # a long name wraps in two balanced lines
                widths.append(max(8, 2 * math.ceil(len(part) / 2)))
        return max(widths)
    w = text_width(s)
    if _NUMBER_CELL.match(s) or w <= 12:
        return w
    latin = max((text_width(m.group()) for m in _LATIN_RUN.finditer(s)), default=0)
    return max(latin, min(w, 8))


_CLOSING = "、，。；：！？）》」』”’%‰"
_TOKEN = re.compile(r"[A-Za-z0-9.,:%+\-–/()\[\]_·≥≤<>=]+|.", re.S)


def wrap_count(text: str, units: float) -> int:
    """How many lines `text` takes in `units` half-width units, wrapped as a renderer does:
    between Chinese characters, never inside a Latin or number run, never before a closing
    mark."""
    tokens: list[int] = []
    for m in _TOKEN.finditer(str(text).strip()):
        w = text_width(m.group())
        if tokens and m.group()[0] in _CLOSING:
            tokens[-1] += w
        else:
            tokens.append(w)
    lines, used = 1, 0
    for w in tokens:
        if used and used + w > units:
            lines, used = lines + 1, 0
        used += w
    return lines


def _balanced(part: str, units: float) -> list[str]:
    """A header's name in as few lines as `units` allow, the lines of equal length (检查率 /
    never a lone 率); a “（unit）” part stays whole."""
    if text_width(part) <= units or part[:1] in "（(":
        return [part]
    k = max(2, math.ceil(text_width(part) / max(units, 1)))
    per = math.ceil(len(part) / k)
    return [part[i : i + per] for i in range(0, len(part), per)]


def header_lines(text: str, units: float) -> list[str]:
    """The lines a column header is printed in at `units` half-width units: whole when it
    fits, else its name and its “（unit）” each on lines of their own (检查 / （家次）, never
    检查（家 / 次）), a long name in balanced lines."""
    s = str(text).strip()
    if text_width(s) <= units:
        return [s]
    parts = [p for p in re.split(r"(?=[（(])", s) if p]
    return [line for part in parts for line in _balanced(part, units)]


def _need(text: str, lines: int, header: bool) -> int:
    """The narrowest width (half-width units) at which a cell takes at most `lines` lines."""
    s = str(text).strip()
    w = min_cell_width(s, header=header)
    full = text_width(s)
    while w < full:
        taken = len(header_lines(s, w)) if header else wrap_count(s, w)
        if taken <= lines:
            return w
        w += 1
    return max(w, full)


def column_widths(frame: pd.DataFrame, total_pt: float) -> tuple[list[float], float]:
    """Column widths in points from the content, and the font size that fits them. The
    largest size (小四, 五号, 9 pt) at which every cell fits on one line, else in two lines
    (a header breaks before its “（unit）”); the room left goes where it saves the most lines
    (`_share`). A table that fits neither way: each column at least its narrowest word, extra
    room shared by how much more each would use."""
    heads = [str(c) for c in frame.columns]
    cells = [[str(v) for v in frame[c]] for c in frame.columns]
    n = len(heads)

    def needs(lines: int) -> list[int]:
        # one half-width unit of slack: renderers need a hair more than the glyphs
        return [
            max([_need(h, lines, True)] + [_need(v, lines, False) for v in col]) + 1
            for h, col in zip(heads, cells)
        ]

    one, two = needs(1), needs(2)
    for size in TABLE_SIZES:
        avail = (total_pt - 2 * CELL_PAD_PT * n) / (size / 2)
        for need in (one, two):
            if sum(need) <= avail:
                units = _share(heads, cells, [float(u) for u in need], one, avail)
                return _points(units, size, total_pt), size
    return _fallback_widths(heads, cells, total_pt)


def _share(
    heads: list[str], cells: list[list[str]], units: list[float], one: list[int], avail: float
) -> list[float]:
    """Spend the room left where it saves the most printed lines a unit: step by step, the
    column whose next width (where one more of its cells fits on fewer lines) takes the most
    lines off the table for the room it costs; what remains widens the columns whose cells
    are on one line."""
    n = len(heads)
    rows = list(zip(*cells)) if cells and cells[0] else []

    def lines_of(j: int, w: float) -> list[int]:
        return [wrap_count(v, w - 1) for v in cells[j]]

    def table_lines(cols: list[list[int]]) -> int:
        return sum(max(col[i] for col in cols) for i in range(len(rows)))

    cols = [lines_of(j, units[j]) for j in range(n)]
    spare = avail - sum(units)
    while spare > 0:
        best = None
        now = table_lines(cols)
        for j in range(n):
            steps = sorted({_need(v, k, False) + 1 for v in cells[j] for k in (1, 2, 3)})
            for w in (w for w in steps if units[j] < w <= units[j] + spare):
                trial = cols[:j] + [lines_of(j, w)] + cols[j + 1 :]
                gain = (now - table_lines(trial)) / (w - units[j])
                if gain > 0 and (best is None or gain > best[0]):
                    best = (gain, j, w)
        if best is None:
            break
        _gain, j, w = best
        spare -= w - units[j]
        units[j] = float(w)
        cols[j] = lines_of(j, w)
    # a column whose cells are on one line takes more room harmlessly (its header's breaks are
    # explicit); widening a wrapped one would only move its break (a lone 率 below)
    whole = [j for j in range(n) if max(cols[j], default=1) == 1] or list(range(n))
    base = sum(units[j] for j in whole)
    for j in whole:
        units[j] += spare * units[j] / base
    return units


def _points(units: list[float], size: float, total_pt: float) -> list[float]:
    widths = [u * size / 2 + 2 * CELL_PAD_PT for u in units]
    scale = total_pt / sum(widths)
    return [w * scale for w in widths]


def _fallback_widths(
    heads: list[str], cells: list[list[str]], total_pt: float
) -> tuple[list[float], float]:
    natural = [max([text_width(h)] + [text_width(v) for v in col]) for h, col in zip(heads, cells)]
    minimum = [
        max([min_cell_width(h, header=True)] + [min_cell_width(v) for v in col]) + 1
        for h, col in zip(heads, cells)
    ]
    n = len(heads)
    size = TABLE_SIZES[-1]
    for size in TABLE_SIZES:
        avail = (total_pt - 2 * CELL_PAD_PT * n) / (size / 2)
        if sum(minimum) <= avail:
            break
    avail = (total_pt - 2 * CELL_PAD_PT * n) / (size / 2)
    if sum(natural) <= avail:
        extra = avail - sum(natural)
        units = [w + extra * w / sum(natural) for w in natural]
    else:
        spare = max(avail - sum(minimum), 0.0)
        want = [max(a - b, 0) for a, b in zip(natural, minimum)]
        units = [m + (spare * w / sum(want) if sum(want) else 0) for m, w in zip(minimum, want)]
    return _points(units, size, total_pt), size


def table_height(rows: list[list[str]], widths: list[float], size: float) -> float:
    """About how tall a table is in points: each row as many lines as its most wrapped cell
    (the header's lines as `header_lines` breaks them), a line 1.3 × the size, cell padding."""
    units = [(w - 2 * CELL_PAD_PT) / (size / 2) - 1 for w in widths]
    total = 0.0
    for i, values in enumerate(rows):
        lines = [
            len(header_lines(v, u)) if i == 0 else wrap_count(v, u) for v, u in zip(values, units)
        ]
        total += max(lines, default=1) * size * 1.3 + 2
    return total


def split_title(title: str, per_line: int = TITLE_LINE_CHARS) -> list[str]:
    """A long title in balanced lines (梯形), broken after 关于/的/、/年/月 or before 工作/情况
    or a “（…）” where possible, never mid-word by choice."""
    s = str(title)
    n = len(s)
    if n <= per_line:
        return [s]
    lines_needed = math.ceil(n / per_line)
    breaks = [i + 1 for i, c in enumerate(s[:-1]) if c in "于的、年月和及"]
    breaks += [
        m.start() for m in re.finditer("工作|情况|通报|总结|汇编|专项|（", s) if m.start() > 0
    ]
    out, rest = [], s
    for k in range(lines_needed - 1, 0, -1):
        target = len(rest) / (k + 1)
        offset = n - len(rest)
        cands = [b - offset for b in breaks if 0 < b - offset < len(rest)]
        cands = [c for c in cands if c <= per_line and len(rest) - c <= per_line * k]
        cut = min(cands, key=lambda c: (abs(c - target), c)) if cands else min(per_line, len(rest))
        out.append(rest[:cut])
        rest = rest[cut:]
    out.append(rest)
    return out


def date_text(day: dt.date) -> str:
    """成文日期 in Arabic numerals, months and days without a leading zero: 2026年1月10日."""
    return f"{day.year}年{day.month}月{day.day}日"


# ----------------------------------------------------------------------------- docx helpers
def _oxml() -> tuple[Any, Any]:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    return OxmlElement, qn


PPR_ORDER = (
    "pStyle keepNext keepLines pageBreakBefore framePr widowControl numPr suppressLineNumbers "
    "pBdr shd tabs suppressAutoHyphens kinsoku wordWrap overflowPunct topLinePunct autoSpaceDE "
    "autoSpaceDN bidi adjustRightInd snapToGrid spacing ind contextualSpacing mirrorIndents "
    "suppressOverlap jc textDirection textAlignment textboxTightWrap outlineLvl divId cnfStyle "
    "rPr sectPr pPrChange"
).split()
SECTPR_ORDER = (
    "headerReference footerReference footnotePr endnotePr type pgSz pgMar paperSrc pgBorders "
    "lnNumType pgNumType cols formProt vAlign noEndnote titlePg textDirection bidi rtlGutter "
    "docGrid printerSettings sectPrChange"
).split()
RPR_ORDER = (
    "rStyle rFonts b bCs i iCs caps smallCaps strike dstrike outline shadow emboss imprint "
    "noProof snapToGrid vanish webHidden color spacing w kern position sz szCs highlight u "
    "effect bdr shd fitText vertAlign rtl cs em lang eastAsianLayout specVanish oMath"
).split()
TBLPR_ORDER = (
    "tblStyle tblpPr tblOverlap bidiVisual tblStyleRowBandSize tblStyleColBandSize tblW jc "
    "tblCellSpacing tblInd tblBorders shd tblLayout tblCellMar tblLook tblCaption tblDescription"
).split()


def put(parent: Any, child: Any, order: Sequence[str]) -> Any:
    """Insert `child` where the schema wants it (Word refuses elements out of order),
    replacing an element of the same name."""
    _, qn = _oxml()
    name = child.tag.split("}")[-1]
    for old in parent.findall(qn(f"w:{name}")):
        parent.remove(old)
    later = order[order.index(name) + 1 :]
    for i, el in enumerate(parent):
        if el.tag.split("}")[-1] in later:
            parent.insert(i, child)
            return child
    parent.append(child)
    return child


def set_run_font(run: Any, east: str, size: float, bold: bool = False, latin: str = "") -> None:
    """A run's fonts by name: East Asian text in `east`, digits and Latin in `latin`."""
    from docx.shared import Pt

    OxmlElement, qn = _oxml()
    run.font.size = Pt(size)
    run.font.bold = bold
    rpr = run._element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    lat = latin or east
    for attr, name in (("w:ascii", lat), ("w:hAnsi", lat), ("w:eastAsia", east), ("w:cs", lat)):
        fonts.set(qn(attr), name)


def _color(run: Any, hex_rgb: str) -> None:
    from docx.shared import RGBColor

    run.font.color.rgb = RGBColor.from_string(hex_rgb)


def _spacing(
    p: Any,
    before: float = 0.0,
    after: float = 0.0,
    line: float | None = LINE_PT,
) -> None:
    from docx.enum.text import WD_LINE_SPACING
    from docx.shared import Pt

    pf = p.paragraph_format
    pf.space_before = Pt(before)
    pf.space_after = Pt(after)
    if line is None:
        pf.line_spacing_rule = WD_LINE_SPACING.SINGLE
    else:
        pf.line_spacing = Pt(line)
        pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY


def _align(p: Any, how: str) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    p.alignment = {
        "center": WD_ALIGN_PARAGRAPH.CENTER,
        "right": WD_ALIGN_PARAGRAPH.RIGHT,
        "left": WD_ALIGN_PARAGRAPH.LEFT,
        "justify": WD_ALIGN_PARAGRAPH.JUSTIFY,
    }[how]


def _border(p: Any, side: str, size_eighths: int, color: str, space: int = 1) -> None:
    OxmlElement, qn = _oxml()
    ppr = p._p.get_or_add_pPr()
    bdr = ppr.find(qn("w:pBdr"))
    if bdr is None:
        bdr = put(ppr, OxmlElement("w:pBdr"), PPR_ORDER)
    el = OxmlElement(f"w:{side}")
    el.set(qn("w:val"), "single")
    el.set(qn("w:sz"), str(size_eighths))
    el.set(qn("w:space"), str(space))
    el.set(qn("w:color"), color)
    bdr.append(el)


def add_field(paragraph: Any, instr: str, placeholder: str = "1") -> Any:
    """A complex field (PAGE …) in its own run: begin, instruction, separate, result, end."""
    OxmlElement, qn = _oxml()
    run = paragraph.add_run()
    for kind, text in (("begin", None), ("instr", instr), ("separate", None)):
        if kind == "instr":
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = f" {text} "
        else:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        run._r.append(el)
    res = OxmlElement("w:t")
    res.text = placeholder
    run._r.append(res)
    end = OxmlElement("w:fldChar")
    end.set(qn("w:fldCharType"), "end")
    run._r.append(end)
    return run


# ----------------------------------------------------------------------------- the renderer
class Gongwen:
    """One document being laid out; `render()` is the entry point."""

    def __init__(self) -> None:
        from docx import Document as new_document

        self.doc = new_document()
        self._setup_page()
        self._setup_styles()
        self._page_numbers()
        self.tables = 0

    # -- page, styles, footer
    def _setup_page(self) -> None:
        from docx.shared import Mm

        sec = self.doc.sections[0]
        sec.page_width, sec.page_height = Mm(PAGE_MM[0]), Mm(PAGE_MM[1])
        sec.top_margin, sec.bottom_margin = Mm(MARGINS_MM["top"]), Mm(MARGINS_MM["bottom"])
        sec.left_margin, sec.right_margin = Mm(MARGINS_MM["left"]), Mm(MARGINS_MM["right"])
        sec.header_distance = Mm(15)
        sec.footer_distance = Mm(FOOTER_DISTANCE_MM)
        sec.gutter = Mm(0)

    def _setup_styles(self) -> None:
        from docx.shared import Pt

        OxmlElement, qn = _oxml()
        normal = self.doc.styles["Normal"]
        normal.font.size = Pt(SIZE_3)
        rpr = normal.element.get_or_add_rPr()
        fonts = rpr.find(qn("w:rFonts"))
        if fonts is None:
            fonts = OxmlElement("w:rFonts")
            rpr.insert(0, fonts)
        for attr, name in (
            ("w:ascii", FONT_LATIN),
            ("w:hAnsi", FONT_LATIN),
            ("w:eastAsia", FONT_BODY),
            ("w:cs", FONT_LATIN),
        ):
            fonts.set(qn(attr), name)
        lang = OxmlElement("w:lang")
        lang.set(qn("w:val"), "en-US")
        lang.set(qn("w:eastAsia"), "zh-CN")
        rpr.append(lang)
        pf = normal.paragraph_format
        pf.space_before = Pt(0)
        pf.space_after = Pt(0)
        pf.widow_control = True
        # punctuation may overflow the 版心 (Word's default, 允许标点溢出边界): Word hangs a
        # line-final 、，。 in the margin, LibreOffice moves it down with the character before
        # it. Turned off (w:val="0"), LibreOffice 7.4 still hangs it in a justified line but
        # never draws it: the PDF lost every line-final 、，。；：.
        hang = OxmlElement("w:overflowPunct")
        hang.set(qn("w:val"), "1")
        put(normal.element.get_or_add_pPr(), hang, PPR_ORDER)
        condense = OxmlElement("w:spacing")
        condense.set(qn("w:val"), str(CHAR_SPACING_TWIPS))
        put(rpr, condense, RPR_ORDER)
        self.doc.settings.odd_and_even_pages_header_footer = True

    def _page_numbers(self) -> None:
        """“— 1 —”: 四号 宋体 half-width digits between 一字线; odd pages 居右空一字, even pages
        居左空一字."""
        from docx.shared import Pt

        sec = self.doc.sections[0]
        for footer, side in ((sec.footer, "right"), (sec.even_page_footer, "left")):
            footer.is_linked_to_previous = False
            p = footer.paragraphs[0]
            _align(p, side)
            _spacing(p, line=None)
            if side == "right":
                p.paragraph_format.right_indent = Pt(SIZE_4)
            else:
                p.paragraph_format.left_indent = Pt(SIZE_4)
            for piece in ("— ", None, " —"):
                run = add_field(p, "PAGE") if piece is None else p.add_run(piece)
                set_run_font(run, FONT_PAGE, SIZE_4, latin=FONT_PAGE)

    # -- blocks
    def para(
        self,
        text: str = "",
        font: str = FONT_BODY,
        size: float = SIZE_3,
        bold: bool = False,
        align: str = "justify",
        indent_chars: float = 2.0,
        before: float = 0.0,
        line: float | None = LINE_PT,
        keep_next: bool = False,
        latin: str = FONT_LATIN,
    ) -> Any:
        from docx.shared import Pt

        p = self.doc.add_paragraph()
        _align(p, align)
        _spacing(p, before=before, line=line)
        if indent_chars:
            p.paragraph_format.first_line_indent = Pt(indent_chars * size)
        p.paragraph_format.keep_with_next = keep_next
        if text:
            set_run_font(p.add_run(text), font, size, bold, latin=latin)
        return p

    def blank(self, lines: int = 1) -> None:
        for _ in range(lines):
            self.para("", indent_chars=0)

    def heading(self, h: Heading) -> None:
        font, bold = {1: (FONT_H1, False), 2: (FONT_H2, False)}.get(h.level, (FONT_BODY, True))
        self.para(h.text, font=font, bold=bold, keep_next=True, latin=font)

    def body_para(self, b: Para) -> None:
        p = self.para("", align=b.align, indent_chars=2.0 if b.indent else 0.0, keep_next=False)
        if b.lead:
            font, bold = {1: (FONT_H1, False), 2: (FONT_H2, False)}.get(
                b.lead_level, (FONT_BODY, True)
            )
            set_run_font(p.add_run(b.lead), font, SIZE_3, bold, latin=font)
        if b.text:
            set_run_font(p.add_run(b.text), FONT_BODY, SIZE_3, latin=FONT_LATIN)

    def table(self, tb: Table) -> None:
        from docx.enum.table import WD_TABLE_ALIGNMENT
        from docx.shared import Pt

        OxmlElement, qn = _oxml()
        df = tb.frame
        if tb.caption:
            self.para(
                tb.caption,
                font=FONT_H1,
                size=SIZE_4,
                align="center",
                indent_chars=0,
                before=LINE_PT / 3,
                line=None,
                keep_next=True,
                latin=FONT_H1,
            )
        if df is None or not len(df.columns):
            return
        widths, size = column_widths(df, TEXT_WIDTH_MM * PT_PER_MM)
        table = self.doc.add_table(rows=1, cols=len(df.columns))
        table.style = "Table Grid"
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        table.autofit = False
        tbl_pr = table._tbl.tblPr
        layout = OxmlElement("w:tblLayout")
        layout.set(qn("w:type"), "fixed")
        put(tbl_pr, layout, TBLPR_ORDER)
        tbl_w = OxmlElement("w:tblW")
        put(tbl_pr, tbl_w, TBLPR_ORDER)
        tbl_w.set(qn("w:type"), "dxa")
        tbl_w.set(qn("w:w"), str(int(round(sum(widths) * 20))))
        margins = OxmlElement("w:tblCellMar")
        for side in ("left", "right"):
            el = OxmlElement(f"w:{side}")
            el.set(qn("w:w"), str(int(CELL_PAD_PT * 20)))
            el.set(qn("w:type"), "dxa")
            margins.append(el)
        put(tbl_pr, margins, TBLPR_ORDER)
        for col, w in zip(table.columns, widths):
            col.width = Pt(w)
        numeric = set(tb.numeric)
        heads = [str(c) for c in df.columns]
        rows = [heads] + [["" if _blank(v) else str(v) for v in r] for r in df.itertuples(False)]
        whole = table_height(rows, widths, size) <= KEEP_WHOLE_SHARE * TEXT_HEIGHT_MM * PT_PER_MM
        for i, values in enumerate(rows):
            row = table.rows[0] if i == 0 else table.add_row()
            tr_pr = row._tr.get_or_add_trPr()
            tr_pr.append(OxmlElement("w:cantSplit"))
            if i == 0:
                tr_pr.append(OxmlElement("w:tblHeader"))
            for j, (cell, text) in enumerate(zip(row.cells, values)):
                cell.width = Pt(widths[j])
                p = cell.paragraphs[0]
                _spacing(p, line=None)
                p.paragraph_format.first_line_indent = Pt(0)
                if i == 0:
                    _align(p, "center")
                    units = (widths[j] - 2 * CELL_PAD_PT) / (size / 2) - 1
                    for k, line in enumerate(header_lines(text, units)):
                        run = p.add_run(line)
                        if k:
                            run._r.insert(0, OxmlElement("w:br"))
                        set_run_font(run, FONT_H1, size, latin=FONT_H1)
                else:
                    _align(p, "right" if heads[j] in numeric else "left")
                    bold = (i - 1, j) in tb.bold
                    set_run_font(p.add_run(text), FONT_BODY, size, bold, latin=FONT_LATIN)
                if i == 0:
                    _cell_shade(cell)
                elif tb.note and i == len(rows) - 1:
                    # the last row goes with the note (Word and LibreOffice move it along)
                    p.paragraph_format.keep_with_next = True
                elif i < len(rows) - 1 and (whole or i > len(rows) - 1 - KEEP_ROWS):
                    # a short table stays on one page; a long one never leaves its last rows
                    # (全市, 目标) alone on the next
                    p.paragraph_format.keep_with_next = True
        if tb.note:
            self._note_row(table, tb.note)
        self.para("", size=SIZE_S4, indent_chars=0, line=None)

    def _note_row(self, table: Any, note: str) -> None:
        """A table's note (说明：…) as its last row: one borderless cell across the columns.
        A paragraph after the table opened the next page on its own whenever the table ended
        at the foot of a page (LibreOffice ignores keep-with-next from a table to the
        paragraph after it); a row is laid out with the table, and the last data row keeps
        with it, so the note comes after at least one row of its table on any page."""
        from docx.shared import Pt

        OxmlElement, _qn = _oxml()
        row = table.add_row()
        row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))
        cell = row.cells[0].merge(row.cells[-1]) if len(row.cells) > 1 else row.cells[0]
        _cell_borders(cell, "4", None)
        p = cell.paragraphs[0]
        _spacing(p, before=2, line=None)
        _align(p, "left")
        p.paragraph_format.first_line_indent = Pt(0)
        set_run_font(p.add_run(note), FONT_BODY, SIZE_S4, latin=FONT_LATIN)

    def page_break(self) -> None:
        from docx.enum.text import WD_BREAK

        p = self.doc.add_paragraph()
        _spacing(p, line=None)
        p.add_run().add_break(WD_BREAK.PAGE)

    def blocks(self, blocks: Sequence[Block]) -> None:
        for b in blocks:
            if isinstance(b, Heading):
                self.heading(b)
            elif isinstance(b, Para):
                self.body_para(b)
            elif isinstance(b, Table):
                self.table(b)
            elif isinstance(b, PageBreak):
                self.page_break()

    # -- the parts of a 公文
    def red_header(self, h: Header) -> None:
        """版头: the red 发文机关标志 35 mm below the top of the 版心, the 发文字号 two lines
        below, and the red rule 4 mm under the number."""
        n = max(len(h.mark), 1)
        size = min(36.0, TEXT_WIDTH_MM * PT_PER_MM * 0.96 / n)
        p = self.para(
            h.mark,
            font=FONT_TITLE,
            size=size,
            align="center",
            indent_chars=0,
            before=35 * PT_PER_MM - size * 0.4,
            line=None,
            latin=FONT_TITLE,
        )
        for run in p.runs:
            _color(run, RED)
        p = self.para(h.number or " ", align="center", indent_chars=0, before=2 * LINE_PT)
        _border(p, "bottom", 18, RED, space=11)

    def title(self, title: str, before_lines: float = 2.0) -> None:
        from docx.enum.text import WD_BREAK

        p = self.para(
            "",
            align="center",
            indent_chars=0,
            before=before_lines * LINE_PT,
            line=SIZE_2 * 1.5,
            keep_next=True,
        )
        for i, line in enumerate(split_title(title)):
            run = p.add_run(line)
            set_run_font(run, FONT_TITLE, SIZE_2, latin=FONT_TITLE)
            if i < len(split_title(title)) - 1:
                run.add_break(WD_BREAK.LINE)

    def recipients(self, names: Sequence[str]) -> None:
        if names:
            self.para("、".join(names) + "：", indent_chars=0, before=LINE_PT, align="left")

    def attachment_note(self, attachments: Sequence[Attachment]) -> None:
        """附件说明: 正文下空一行左空二字 “附件：1．…”, later items aligned under the first."""
        from docx.shared import Pt

        if not attachments:
            return
        label = t("doc.attach.label_colon")
        hang = text_width(label) / 2 * SIZE_3
        many = len(attachments) > 1
        for i, a in enumerate(attachments, 1):
            name = f"{i}．{a.title}" if many else a.title
            p = self.para(
                ("" if i > 1 else label) + name,
                indent_chars=0,
                before=LINE_PT if i == 1 else 0.0,
                align="left",
            )
            p.paragraph_format.keep_with_next = True
            p.paragraph_format.left_indent = Pt(2 * SIZE_3 + hang)
            p.paragraph_format.first_line_indent = Pt(-hang if i == 1 else 0)
            if many and i == 1:  # a wrapped name lines up after its number
                pass

    def signature(self, h: Header, note: str = "") -> None:
        """发文机关署名 centred over the 成文日期, which sits 右空四字; room above for the seal."""
        from docx.shared import Pt

        date = date_text(h.date)
        date_pt = text_width(date) / 2 * SIZE_3
        sig_pt = text_width(h.issuer) / 2 * SIZE_3
        right = 4 * SIZE_3
        p = self.para(h.issuer, align="right", indent_chars=0, before=2 * LINE_PT, keep_next=True)
        p.paragraph_format.right_indent = Pt(max(right + (date_pt - sig_pt) / 2, 0))
        p = self.para(date, align="right", indent_chars=0, keep_next=bool(note))
        p.paragraph_format.right_indent = Pt(right)
        if note:
            self.para(f"（{note}）", indent_chars=2, align="left")

    def attachment(self, i: int, n: int, a: Attachment) -> None:
        # the label starts a page by itself (page break before), never by a break paragraph: one
        # that fell onto a new page when the page before was full left that page blank
        label = t("doc.attach.label_n", n=i) if n > 1 else t("doc.attach.label")
        p = self.para(label, font=FONT_H1, indent_chars=0, align="left", latin=FONT_H1)
        p.paragraph_format.page_break_before = True
        self.title(a.title, before_lines=1.0)
        self.blank()
        tables = [b for b in a.blocks if isinstance(b, Table)]
        if len(tables) == 1:  # the title names its one table: no caption repeating it
            a = Attachment(a.title, tuple(_uncaptioned(b) for b in a.blocks))
        self.blocks(a.blocks)
        if i < n:  # the spacer after a closing table would open a blank page when it spills
            self._drop_trailing_spacer()

    def _drop_trailing_spacer(self) -> None:
        """Remove the body's last element when it is the empty paragraph `table` leaves after a
        table without a note (the next attachment starts on a page of its own anyway)."""
        body = self.doc.element.body
        last = body[-1] if len(body) else None
        if last is not None and last.tag.endswith("}sectPr"):
            last = last.getprevious()
        if last is None or not last.tag.endswith("}p") or "".join(last.itertext()).strip():
            return
        prev = last.getprevious()
        if prev is not None and prev.tag.endswith("}tbl"):
            body.remove(last)

    def colophon(self, h: Header) -> None:
        """版记 at the foot of the last page, its last rule on the 版心's bottom edge: thick rule,
        抄送 (四号 仿宋, 左右各空一字, 回行与冒号后首字对齐, 句号结尾), thin rule, 印发机关
        (左空一字) and 印发日期 (右空一字) + 印发, thick rule (GB/T 9704 7.4).

        Each line group is a paragraph frame of exact height placed from the top of the text
        area so the last one ends on its bottom edge, on the page where the frames' anchor
        falls: the 版记 shares the last page with the text above it, and the paragraph before
        it is kept with it, so when that page is full the 版记 takes the last lines of text
        along and never stands alone. (One frame per rule style: LibreOffice drops a frame
        whose paragraphs' borders differ, and lays a floating table inline.)"""
        from docx.shared import Pt

        OxmlElement, qn = _oxml()
        one = SIZE_4
        line = one * 1.5
        pad = 6.0  # above and below the text inside each ruled band
        width = TEXT_WIDTH_MM * PT_PER_MM
        self.doc.paragraphs[-1].paragraph_format.keep_with_next = True
        label = t("doc.colophon.cc")
        hang = text_width(label) / 2 * one
        bands: list[tuple[str, int, str, str | None]] = []  # text, lines, top rule, bottom rule
        if h.cc:
            cc_text = label + "，".join(h.cc) + "。"
            per_line = (width - 2 * one - hang) / one
            n = max(1, math.ceil((text_width(cc_text) / 2 - text_width(label) / 2) / per_line))
            bands.append((cc_text, n, "10", None))
        printed = f"{h.printer}\t{t('doc.colophon.printed', date=date_text(h.print_date))}"
        bands.append((printed, 1, "10" if not h.cc else "4", "10"))
        heights = [n * line + 2 * pad for _text, n, _top, _bottom in bands]
        top = TEXT_HEIGHT_MM * PT_PER_MM - sum(heights)
        for k, ((text, _n, rule_top, rule_bottom), height) in enumerate(zip(bands, heights)):
            p = self.doc.add_paragraph()
            _spacing(p, before=pad, after=0, line=line)
            pf = p.paragraph_format
            pf.keep_with_next = True
            pf.keep_together = True
            pf.right_indent = Pt(one)
            if k == 0 and h.cc:
                pf.left_indent = Pt(one + hang)
                pf.first_line_indent = Pt(-hang)
            else:
                pf.left_indent = Pt(one)
                pf.tab_stops.add_tab_stop(Pt(width - one), _right_tab())
            set_run_font(p.add_run(text), FONT_BODY, one, latin=FONT_LATIN)
            frame = OxmlElement("w:framePr")
            for attr, value in (
                ("w:w", str(int(width * 20))),
                ("w:h", str(int(height * 20))),
                ("w:hRule", "exact"),
                ("w:hSpace", "0"),
                ("w:vSpace", "0"),
                ("w:wrap", "around"),
                ("w:hAnchor", "margin"),
                ("w:vAnchor", "margin"),
                ("w:xAlign", "center"),
                ("w:y", str(int(round(top * 20)))),
            ):
                frame.set(qn(attr), value)
            put(p._p.get_or_add_pPr(), frame, PPR_ORDER)
            _border(p, "top", int(rule_top), "000000", space=0)
            if rule_bottom:
                _border(p, "bottom", int(rule_bottom), "000000", space=0)
            top += height
        # the frames' anchor ends the document (LibreOffice makes frames of framed paragraphs
        # only when a paragraph follows them)
        end = self.doc.add_paragraph()
        _spacing(end, line=1.0)

    # -- whole document
    def render(self, d: Document) -> bytes:
        h = d.header
        if d.red_header:
            self.red_header(h)
            self.title(d.title)
        else:
            self.title(d.title, before_lines=0)
        self.recipients(h.recipients)
        self.blocks(d.blocks)
        # the signature never opens a page on its own: the last lines of the body (and the
        # 附件说明) go with it
        self.doc.paragraphs[-1].paragraph_format.keep_with_next = True
        self.attachment_note(d.attachments)
        self.signature(h, d.note)
        for i, a in enumerate(d.attachments, 1):
            self.attachment(i, len(d.attachments), a)
        self.colophon(h)
        self._properties(d)
        buf = io.BytesIO()
        self.doc.save(buf)
        return buf.getvalue()

    def _properties(self, d: Document) -> None:
        props = self.doc.core_properties  # python-docx's template says python-docx, 2013, en-US
        props.title = d.title
        props.author = props.last_modified_by = d.header.issuer
        props.comments = str(d.meta.get("run_id", ""))
        props.language = "zh-CN"
        stamp = dt.datetime.combine(d.header.date, dt.time(9, 0))
        props.created = props.modified = stamp
        props.keywords = props.subject = props.category = ""
        props.revision = 1


def _uncaptioned(b: Block) -> Block:
    return dataclasses.replace(b, caption="") if isinstance(b, Table) else b


def _blank(v: object) -> bool:
    return v is None or (isinstance(v, float) and v != v) or v is pd.NA


def _right_tab() -> Any:
    from docx.enum.text import WD_TAB_ALIGNMENT

    return WD_TAB_ALIGNMENT.RIGHT


def _cell_borders(cell: Any, top: str | None, bottom: str | None) -> None:
    """Only horizontal rules (the 版记 has no side borders)."""
    OxmlElement, qn = _oxml()
    tc_pr = cell._tc.get_or_add_tcPr()
    borders = OxmlElement("w:tcBorders")
    for side, size in (("top", top), ("left", None), ("bottom", bottom), ("right", None)):
        el = OxmlElement(f"w:{side}")
        if size is None:
            el.set(qn("w:val"), "nil")
        else:
            el.set(qn("w:val"), "single")
            el.set(qn("w:sz"), size)
            el.set(qn("w:color"), "000000")
            el.set(qn("w:space"), "0")
        borders.append(el)
    tc_pr.append(borders)


def _cell_shade(cell: Any) -> None:
    OxmlElement, qn = _oxml()
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), "F2F2F2")
    cell._tc.get_or_add_tcPr().append(shd)


def render(document: Document) -> bytes:
    """The .docx bytes of a document laid out by GB/T 9704-2012."""
    return Gongwen().render(document)
