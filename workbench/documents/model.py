"""What an official document is made of, independent of Word: the 版头 facts, the body as
blocks (headings by level, paragraphs, tables), attachments and the 版记. Content modules
build a `Document`; `gongwen.render` lays it out by GB/T 9704-2012. Tests read the model and
the .docx alike."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class Heading:
    """Level 1 `一、` (黑体), 2 `（一）` (楷体), 3 `1.` (仿宋 bold). The number is part of text."""

    level: int
    text: str


@dataclass(frozen=True)
class Para:
    """A body paragraph (仿宋 三号, first line indented two characters). `lead` is printed
    first in the level's heading font, as in “（一）两升指标。正文……”."""

    text: str
    lead: str = ""
    lead_level: int = 2
    indent: bool = True
    align: str = "justify"  # justify | center | right | left


@dataclass(frozen=True)
class Table:
    """A table with its caption (表1 …) and an optional note below; `bold` marks cells
    (row, column) printed bold (e.g. KPIs not met)."""

    frame: pd.DataFrame
    caption: str = ""
    note: str = ""
    bold: frozenset[tuple[int, int]] = frozenset()
    numeric: tuple[str, ...] = ()  # columns aligned right


@dataclass(frozen=True)
class PageBreak:
    pass


Block = Heading | Para | Table | PageBreak


@dataclass(frozen=True)
class Attachment:
    """附件N: its title (centred, 小标宋) and blocks, on a new page after the body."""

    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Header:
    """The 版头 and 版记 facts of one document, all chosen by the analyst (workbench.toml,
    CLI flags); `date` is the 成文日期."""

    issuer: str  # 发文机关署名
    mark: str  # 发文机关标志 (红头), e.g. 演示市医疗保障局文件
    number: str  # 发文字号, e.g. 演医保〔2026〕3号
    recipients: tuple[str, ...]  # 主送机关
    cc: tuple[str, ...]  # 抄送机关
    printer: str  # 印发机关
    date: dt.date  # 成文日期
    print_date: dt.date  # 印发日期


@dataclass(frozen=True)
class Document:
    kind: str  # bulletin | phase_summary | campaign_summary | case_digest
    title: str
    header: Header
    blocks: tuple[Block, ...]
    attachments: tuple[Attachment, ...] = ()
    note: str = ""  # 附注, e.g. （演示数据，非真实情况）
    red_header: bool = True  # 版头 with the red 发文机关标志 and separator line
    meta: dict = field(default_factory=dict)  # document properties (run id …)
