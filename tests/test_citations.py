"""Declared sources cite documents by title: the `kind: sources` catalogue is validated like any
declaration (code, file, line), and `presentation.citations.cite` turns "002 三（三）2：……" into
"《2025年开展打击欺诈骗保专项整治行动工作方案》三（三）2：……" (expected texts written by hand)."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.declarations import DeclarationError, load_set, validate
from workbench.declarations.model import SourceDocument
from workbench.presentation.citations import cite, home, jurisdiction, target_source

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
    "000": SourceDocument("000", "打击医保骗保工作总结十篇", kind="reference"),
}
DEMO = frozenset({"演示市"})  # the bureau's jurisdictions: neither 华容县 nor 嘉兴市


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "002 三（三）2：对涉案金额超过5000元……",
            "依据" + PLAN + "三（三）2：对涉案金额超过5000元……",
        ),
        ("002_b1a03073658be3d4.txt", "依据" + PLAN),  # a set's source: the seed's file name
        ("002", "依据" + PLAN),
        ("002三（一）", "依据" + PLAN + "三（一）"),
        # another jurisdiction's plan is 参照, each clause led by its own document
        ("002 三（一）；001 二（六）", "依据" + PLAN + "三（一）；参照" + HUARONG + "二（六）"),
        ("工作口径（002 三（一））", "工作口径（依据" + PLAN + "三（一））"),
        (
            "002 三（二）2：交叉检查……确保检查覆盖率不低于30%；004 三（一）2：三年内检查率100%",
            "依据"
            + PLAN
            + "三（二）2：交叉检查……确保检查覆盖率不低于30%；参照"
            + JIAXING
            + "三（一）2：三年内检查率100%",
        ),
        # reference material: 参考, and the clause says it is a working practice
        (
            "000 篇2：每月报送一例典型案例",
            "参考《打击医保骗保工作总结十篇》篇2：每月报送一例典型案例（工作做法）",
        ),
        # a code inside a sentence: after 「另：」 or a full stop the title, no lead word
        (
            "检查过的机构数 ÷ 机构数。另：004 要求三年内检查率达到100%。",
            "检查过的机构数 ÷ 机构数。另：" + JIAXING + "要求三年内检查率达到100%。",
        ),
        (
            "主动退回资金合计。002 三（二）1：主动退回的从轻处罚。",
            "主动退回资金合计。依据" + PLAN + "三（二）1：主动退回的从轻处罚。",
        ),
        ("按 002 三（一）执行", "按 " + PLAN + "三（一）执行"),
        ("（依据：002 三（一））", "（依据：" + PLAN + "三（一））"),  # a text saying 依据 itself
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
    assert cite(source, DOCS, DEMO) == expected


@pytest.mark.parametrize(
    ("places", "lead_004"),
    [
        (frozenset({"嘉兴市", "浙江省"}), "依据"),  # the bureau of 嘉兴市: its own city's plan
        (frozenset({"浙江省"}), "参照"),  # a bureau elsewhere in 浙江省 (a city's plan binds none)
        (frozenset({"演示市"}), "参照"),
        (frozenset(), "参照"),  # no bureau configured: never claimed as its basis
    ],
)
def test_whose_document_decides_basis_or_reference(places, lead_004) -> None:
    assert cite("004 二（一）", DOCS, places) == lead_004 + JIAXING + "二（一）"
    # a document naming no place (national, or a plan with no issuer) is everyone's basis
    assert cite("002 二（一）", DOCS, places) == "依据" + PLAN + "二（一）"
    # material stays material, whoever reads it
    assert cite("000 篇2", DOCS, places) == "参考《打击医保骗保工作总结十篇》篇2（工作做法）"


@pytest.mark.parametrize(
    ("doc", "place"),
    [
        (SourceDocument("a", "t", issuer="嘉兴市人民政府办公室"), "嘉兴市"),
        (SourceDocument("a", "t", issuer="广东省医疗保障局"), "广东省"),
        (SourceDocument("a", "t", issuer="华容县人民政府办公室"), "华容县"),
        (SourceDocument("a", "t", issuer="内蒙古自治区医疗保障局"), "内蒙古自治区"),
        (SourceDocument("a", "t", issuer="国家医疗保障局"), ""),
        (SourceDocument("a", "t", issuer="国务院办公厅"), ""),
        (SourceDocument("a", "t"), ""),
        (SourceDocument("a", "t", issuer="国家医疗保障局", jurisdiction="全国"), ""),
        # the catalogue's jurisdiction wins over the issuer's words
        (SourceDocument("a", "t", issuer="市医保局", jurisdiction="嘉兴市"), "嘉兴市"),
    ],
)
def test_jurisdiction_by_hand(doc, place) -> None:
    assert jurisdiction(doc) == place


def test_a_target_no_basis_sets_is_a_working_definition() -> None:
    """Only material or another jurisdiction's plan cited: the target is the bureau's own
    (工作口径); one basis among the clauses is enough to call it founded."""
    ref = target_source("000 篇2：每月报送一例典型案例", DOCS, DEMO)
    assert ref == "工作口径，参考《打击医保骗保工作总结十篇》篇2：每月报送一例典型案例（工作做法）"
    assert target_source("004 三（一）2：投诉举报查处率100%", DOCS, DEMO) == (
        "工作口径，参照" + JIAXING + "三（一）2：投诉举报查处率100%"
    )
    both = target_source("002 三（二）2：不低于30%；004 三（一）2：100%", DOCS, DEMO)
    assert both == "依据" + PLAN + "三（二）2：不低于30%；参照" + JIAXING + "三（一）2：100%"
    # citing no catalogued document: as written, not judged
    assert (
        target_source("医保发〔2021〕49号：应移尽移", DOCS, DEMO) == "医保发〔2021〕49号：应移尽移"
    )
    assert target_source("", DOCS, DEMO) == ""


def test_the_bureau_is_configured_in_workbench_toml(tmp_path: Path, monkeypatch) -> None:
    toml = tmp_path / "workbench.toml"
    monkeypatch.setenv("WORKBENCH_CONFIG", str(toml))
    toml.write_text('[bureau]\ncity = "嘉兴市"\nprovince = "浙江省"\n', "utf-8")
    assert home() == {"嘉兴市", "浙江省"}
    assert cite("004 二（一）", DOCS) == "依据" + JIAXING + "二（一）"
    # the [documents] issuer names the bureau's place too
    toml.write_text('[documents]\nissuer = "华容县医疗保障局"\n', "utf-8")
    assert home() == {"华容县"}
    assert cite("001 二（六）", DOCS) == "依据" + HUARONG + "二（六）"
    assert cite("004 二（一）", DOCS) == "参照" + JIAXING + "二（一）"
    toml.write_text("", "utf-8")
    assert home() == frozenset()


def test_without_a_catalogue_a_source_is_shown_as_written() -> None:
    assert cite("002 三（一）", {}) == "002 三（一）"
    assert cite("002 三（一）", None) == "002 三（一）"


def test_shipped_catalogue_names_the_seeds_as_their_headings_say() -> None:
    docs = load_set("campaign_2025").documents
    assert sorted(docs) == ["000", "001", "002", "003", "004"]
    assert cite("002 一、工作目标", docs, DEMO) == "依据" + PLAN + "一、工作目标"
    assert cite("001 二（六）", docs, DEMO) == "参照" + HUARONG + "二（六）"
    assert cite("004 二（一）", docs, DEMO) == "参照" + JIAXING + "二（一）"
    assert cite("003", docs, DEMO) == (
        "参照《广东省医疗保障局关于省政协第十二届五次会议第20220326号提案答复的函》"
    )
    assert cite("000 篇2", docs, DEMO) == "参考《打击医保骗保工作总结十篇》篇2（工作做法）"
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
        "依据《专项整治行动工作方案》三（一）：至少1件"
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


def test_a_documents_kind_is_policy_or_reference(tmp_path: Path) -> None:
    p = _catalogue(
        tmp_path,
        "documents:\n"
        '  "000":\n'
        "    title: 工作总结十篇\n"
        "    kind: reference\n"
        '  "009":\n'
        "    title: 某方案\n"
        "    kind: 参考\n",  # line 10: neither policy nor reference
    )
    got = [(i.code, i.line) for i in validate([p], [tmp_path])]
    assert got == [("E_BAD_SOURCE_KIND", 10)]


def test_a_description_mentioning_an_uncatalogued_code_is_warned(tmp_path: Path) -> None:
    """A description is cited like a source (「另：004 要求……」 prints the title), so the check
    reads it too: 「另：007 要求……」 with 007 not catalogued is reported at its line."""
    _catalogue(tmp_path, 'documents:\n  "002": {title: 专项整治行动工作方案}\n')
    text = MINI.format(set_source="002", target_source="002 三（一）", param_source="")
    text = text.replace(
        "    numerator: n\n", "    numerator: n\n    description: 案件数。另：007 要求逐月报送。\n"
    )
    path = tmp_path / "mini.yaml"
    path.write_text(text, "utf-8")
    got = [(i.code, i.line) for i in validate(dirs=[tmp_path]) if i.level == "warning"]
    assert got == [("W_UNKNOWN_SOURCE_CODE", 12)]  # the line after numerator (line 11)


def test_every_shipped_text_citing_the_summaries_reads_as_reference() -> None:
    """Every declaration citing 000 (the collection of county work summaries): 参考, never
    依据, and a target resting on it marked 工作口径."""
    from workbench.declarations import load_sets
    from workbench.presentation import definitions as pdef

    hits = 0
    for iset in load_sets(["campaign_2025", "no_fraud_city", "screening_2025"]):
        for row in pdef.facts(iset).to_dict("records"):
            for text in (row["formula"], row["target_source"]):
                if "工作总结十篇" in text:
                    hits += 1
                    assert "依据《打击医保骗保工作总结十篇》" not in text
                    assert "参考《打击医保骗保工作总结十篇》" in text and "（工作做法）" in text
                    if text == row["target_source"]:
                        assert text.startswith("工作口径，")
    assert hits >= 1
