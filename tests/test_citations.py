"""Declared sources cite documents by title: the `kind: sources` catalogue is validated like any
declaration (code, file, line), and `presentation.citations.cite` turns "002 三（三）2：……" into
"《2025年开展打击欺诈骗保专项整治行动工作方案》三（三）2：……" (expected texts written by hand)."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.declarations import DeclarationError, load_set, validate
from workbench.declarations.model import SourceDocument
from workbench.presentation.citations import cite

ROOT = Path(__file__).resolve().parent.parent
# the seeds are at ../shared (beside the checkout; a worktree's is one folder further up)
SEEDS = next(
    (p / "shared" / "seeds" for p in (ROOT.parent, ROOT.parent.parent) if (p / "shared").is_dir()),
    ROOT.parent / "shared" / "seeds",
)
PLAN = "《2025年开展打击欺诈骗保专项整治行动工作方案》"
HUARONG = (
    "华容县人民政府办公室《华容县开展打击欺诈骗保套保挪用贪占医保基金集中整治实施方案》"
    "（华政办函〔2021〕18号）"
)
JIAXING = "嘉兴市人民政府办公室《嘉兴市打造医保“无骗保城市”实施意见》"

DOCS = {
    "002": SourceDocument("002", "2025年开展打击欺诈骗保专项整治行动工作方案"),
    "001": SourceDocument(
        "001",
        "华容县开展打击欺诈骗保套保挪用贪占医保基金集中整治实施方案",
        issuer="华容县人民政府办公室",
        number="华政办函〔2021〕18号",
    ),
    "004": SourceDocument(
        "004", "嘉兴市打造医保“无骗保城市”实施意见", issuer="嘉兴市人民政府办公室"
    ),
    "000": SourceDocument("000", "打击医保骗保工作总结十篇"),
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "002 三（三）2：对涉案金额超过5000元……",
            PLAN + "三（三）2：对涉案金额超过5000元……",
        ),
        ("002_b1a03073658be3d4.txt", PLAN),  # a set's source: the seed's file name
        ("002", PLAN),
        ("002三（一）", PLAN + "三（一）"),
        ("002 三（一）；001 二（六）", PLAN + "三（一）；" + HUARONG + "二（六）"),
        ("工作台定义（002 三（一））", "工作台定义（" + PLAN + "三（一））"),
        (
            "002 三（二）2：交叉检查……确保检查覆盖率不低于30%；004 三（一）2：三年内检查率100%",
            PLAN
            + "三（二）2：交叉检查……确保检查覆盖率不低于30%；"
            + JIAXING
            + "三（一）2：三年内检查率100%",
        ),
        ("000 篇2：每月报送一例典型案例", "《打击医保骗保工作总结十篇》篇2：每月报送一例典型案例"),
        # not catalogued: shown as written
        ("医保发〔2021〕49号：应移尽移", "医保发〔2021〕49号：应移尽移"),
        ("005 三（一）", "005 三（一）"),
        ("本局自定口径", "本局自定口径"),
        # a number inside a sentence is not a code
        ("第20220326号提案", "第20220326号提案"),
        ("抽取1002份病历", "抽取1002份病历"),
        ("", ""),
        (None, ""),
    ],
)
def test_cite_by_hand(source, expected) -> None:
    assert cite(source, DOCS) == expected


def test_without_a_catalogue_a_source_is_shown_as_written() -> None:
    assert cite("002 三（一）", {}) == "002 三（一）"
    assert cite("002 三（一）", None) == "002 三（一）"


def test_shipped_catalogue_names_the_seeds_as_their_headings_say() -> None:
    docs = load_set("campaign_2025").documents
    assert sorted(docs) == ["000", "001", "002", "003", "004"]
    assert cite("002 一、工作目标", docs) == PLAN + "一、工作目标"
    assert cite("001 二（六）", docs) == HUARONG + "二（六）"
    assert cite("004 二（一）", docs) == JIAXING + "二（一）"
    assert cite("003", docs) == (
        "《广东省医疗保障局关于省政协第十二届五次会议第20220326号提案答复的函》"
    )
    if not SEEDS.is_dir():
        pytest.skip(f"{SEEDS} not here: the titles are checked against the seeds where they are")
    # each title as the seed writes it (002 is in traditional characters)
    written = {"002": "2025年開展打擊欺詐騙保專項整治行動工作方案"}
    for code, doc in docs.items():
        text = (SEEDS / doc.file).read_text(encoding="utf-8", errors="replace")
        assert written.get(code, doc.title) in text, code
        if doc.number:
            assert doc.number in text, code


def test_every_shipped_source_with_a_seed_number_is_catalogued() -> None:
    """A declared source starting with a seed number always becomes a title (no 00x left)."""
    import re

    from workbench.declarations import load_sets

    bare = re.compile(r"(?<![0-9,.])00\d(?: |_[0-9a-f]+\.txt|[一二三四五六七八九十])")
    for iset in load_sets(["campaign_2025", "no_fraud_city", "screening_2025"]):
        texts = [iset.source]
        texts += [i.target.source for i in iset.indicators.values() if i.target is not None]
        cal = iset.calendar
        if cal is not None:
            texts += [p.source for p in cal.phases] + [m.source for m in cal.milestones]
        for text in texts:
            assert not bare.search(cite(text, iset.documents)), text


# ------------------------------------------------------------------------------- the catalogue
def _catalogue(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "sources.yaml"
    p.write_text("kind: sources\ncode: policy_sources\nname: 依据文件目录\n" + body, "utf-8")
    return p


def test_catalogue_mistakes_are_reported_with_file_and_line(tmp_path: Path) -> None:
    p = _catalogue(
        tmp_path,
        "documents:\n"
        '  "002":\n'
        "    title: 《2025年开展打击欺诈骗保专项整治行动工作方案》\n"  # line 6: 书名号
        '  "0 1":\n'  # line 7: a space in the code
        "    title: 华容县方案\n"
        '  "003":\n'
        "    titel: 答复的函\n"  # line 10: a typo, refused (the title would be lost)
        '  "004":\n'
        "    issuer: 嘉兴市人民政府办公室\n",  # line 11: no title
    )
    got = sorted((i.code, i.line) for i in validate([p], [tmp_path]))
    assert got == [
        ("E_BAD_SOURCE_CODE", 7),
        ("E_MISSING_KEY", 11),
        ("E_SOURCE_TITLE_QUOTED", 6),
        ("E_UNKNOWN_KEY", 10),
    ]
    assert all(i.file == str(p) for i in validate([p], [tmp_path]))


def test_an_empty_catalogue_is_reported(tmp_path: Path) -> None:
    p = _catalogue(tmp_path, "documents: {}\n")
    assert [(i.code, i.line) for i in validate([p], [tmp_path])] == [("E_SOURCES_EMPTY", 4)]


def test_a_set_loads_its_folders_catalogue_and_reports_a_code_given_twice(
    tmp_path: Path,
) -> None:
    set_text = (
        "kind: indicator_set\ncode: mini\nname: 小集\nmeasures:\n"
        "  n: {ledger: cases, agg: count, date: found_date, name: 案件数}\n"
        "indicators:\n  cases_n:\n    type: count\n    name: 案件数\n    numerator: n\n"
        '    target: {op: ">=", value: 1, source: "002 三（一）：至少1件"}\n'
    )
    (tmp_path / "mini.yaml").write_text(set_text, "utf-8")
    _catalogue(tmp_path, 'documents:\n  "002": {title: 专项整治行动工作方案}\n')
    iset = load_set("mini", [tmp_path])
    assert cite(iset.indicators["cases_n"].target.source, iset.documents) == (
        "《专项整治行动工作方案》三（一）：至少1件"
    )
    assert str(tmp_path / "sources.yaml") in iset.files  # a changed catalogue renews the cache
    (tmp_path / "more.yaml").write_text(
        "kind: sources\ncode: more_sources\nname: 另一目录\n"
        'documents:\n  "002": {title: 另一个方案}\n',
        "utf-8",
    )
    with pytest.raises(DeclarationError) as err:
        load_set("mini", [tmp_path])
    assert [(i.code, i.file, i.line) for i in err.value.issues] == [
        ("E_DUPLICATE_SOURCE", str(tmp_path / "sources.yaml"), 5)
    ]


# --------------------------------------------------------- a source citing an uncatalogued code
MINI = (
    "kind: indicator_set\ncode: mini\nname: 小集\nsource: {set_source}\nmeasures:\n"  # line 4
    "  n: {{ledger: cases, agg: count, date: found_date, name: 案件数}}\n"
    "indicators:\n  cases_n:\n    type: count\n    name: 案件数\n    numerator: n\n"
    '    target: {{op: ">=", value: 1, source: "{target_source}"}}\n'  # line 12
    "parameters:\n  days:\n    value: 30\n"
    '    source: "{param_source}"\n'  # line 16
)


def _mini(tmp_path: Path, **sources: str) -> Path:
    texts = {"set_source": "工作台定义", "target_source": "002 三（一）", "param_source": ""}
    texts.update(sources)
    path = tmp_path / "mini.yaml"
    path.write_text(MINI.format(**texts), "utf-8")
    return path


def test_an_uncatalogued_seed_code_is_a_warning_with_file_and_line(tmp_path: Path) -> None:
    """「005 三（一）」 and 「工作台定义（009 二）」 cite codes the catalogue lacks: reported where
    they are written; the set still loads (printed as written is allowed, see
    declarations.sources)."""
    _catalogue(tmp_path, 'documents:\n  "002": {title: 专项整治行动工作方案}\n')
    path = _mini(
        tmp_path,
        set_source="002_b1a03073658be3d4.txt",
        target_source="002 三（一）；005 三（一）",
        param_source="工作台定义（009 二）",
    )
    want = [
        ("W_UNKNOWN_SOURCE_CODE", str(path), 12),
        ("W_UNKNOWN_SOURCE_CODE", str(path), 16),
    ]
    got = [(i.code, i.file, i.line) for i in validate(dirs=[tmp_path]) if i.level == "warning"]
    assert got == want
    iset = load_set("mini", [tmp_path])
    assert [(i.code, i.file, i.line) for i in iset.warnings] == want
    assert "005" in iset.warnings[0].message and "002" in iset.warnings[0].fix
    # given by path, the same
    assert [(i.code, i.line) for i in load_set(path, [tmp_path]).warnings] == [
        ("W_UNKNOWN_SOURCE_CODE", 12),
        ("W_UNKNOWN_SOURCE_CODE", 16),
    ]


def test_other_sources_are_not_warned_about(tmp_path: Path) -> None:
    """A bureau's wording, a document number, a number inside a sentence, a catalogued code:
    no warning; a folder with no catalogue at all is not checked."""
    _mini(
        tmp_path,
        set_source="医保发〔2021〕49号",
        target_source="第20220326号提案答复；2025年工作要点",
        param_source="工作台定义（002 三（一））",
    )
    assert [i.code for i in validate(dirs=[tmp_path])] == []
    _catalogue(tmp_path, 'documents:\n  "002": {title: 专项整治行动工作方案}\n')
    assert [i.code for i in validate(dirs=[tmp_path])] == []
    (tmp_path / "sources.yaml").unlink()
    _mini(tmp_path, target_source="005 三（一）")
    assert [i.code for i in validate(dirs=[tmp_path])] == []
