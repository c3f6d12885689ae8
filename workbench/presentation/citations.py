"""A declared `source:` as a citation a reader understands, and what the cited document is to
the bureau.

Declarations cite policy by the short code of a catalogued document ("002 三（三）2：……", or the
seed's file name "002_b1a03073658be3d4.txt"); an official document prints the document's title
instead, with its issuer and document number when catalogued (`kind: sources`,
`IndicatorSet.documents`). A text citing no catalogued code (a bureau's own wording, 工作口径,
医保发〔2021〕49号) is shown as written. Every face that shows a source or a definition (the 通报
and summaries, county reports, the cockpit's 指标说明, exports, the screening lists) goes
through `cite`, so they all print the same words.

The grammar (the clause syntax is `declarations.sources`'s, which checks the codes):
- a *citation* is a code where a clause of the text starts (start, after ；（。、，： or a space)
  followed by a clause reference or nothing ("002 三（一）", "004 二、主要目标", "002");
- a *mention* is a code followed by a space and words ("另：004 要求……"): the title replaces
  the code and the sentence says the rest.
A citation that opens a clause of the text (its start, after ；, （ or 。) is led by what the
document is to this bureau (`standing`): 依据《…》 for a policy document of the bureau's
jurisdiction, its province or one that names none (national, or a campaign plan without an
issuer); 参照 another jurisdiction's policy document (嘉兴市人民政府办公室《…》 for 演示市);
参考《…》……（工作做法） reference material (a collection of work summaries). Which
jurisdictions are the bureau's: workbench.toml `[bureau]` city and province, and the place its
`[documents]` issuer names (`home`); with none configured, every document an issuer of a named
place issued is cited as 参照 — never claimed as the bureau's basis.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from workbench.declarations.sources import CLAUSE_END as _AFTER
from workbench.declarations.sources import CLAUSE_START as _BEFORE
from workbench.declarations.sources import SEED_FILE
from workbench.messages import t

BASIS, PEER, REFERENCE = "basis", "peer", "reference"  # lead words: pres.cite.lead.<standing>
# the place an issuer names: 嘉兴市人民政府办公室 → 嘉兴市, 广东省医疗保障局 → 广东省;
# 国家医疗保障局, 国务院办公厅 name none (national)
_ISSUER_PLACE = re.compile(
    r"^(?P<place>[^\s，,、]{1,12}?(?:自治区|自治州|自治县|省|市|县|区|州|盟|旗))"
    r"(?:人民政府|医疗保障局|医保局|卫生健康委|财政局|公安局|市场监督管理局|委员会|办公室|党委)"
)
_NATIONAL = {"全国", "国家", "中央"}
# where a citation opens a clause of the text, so it is led by 依据/参照/参考
_LEADS_AFTER = "；;（(。"
# what may follow a cited code: a clause reference (三（一）, 篇2, 第五条) or nothing before a
# separator; anything else after a space is a mention
_CLAUSE_REF = re.compile(r"[一二三四五六七八九十篇第（(；;，,、：:。）)]|$")


def title_of(doc: Any) -> str:
    """A catalogued document as a reader knows it: issuer, 《title》, （document number）."""
    number = str(getattr(doc, "number", "") or "")
    return t(
        "pres.cite.document",
        issuer=str(getattr(doc, "issuer", "") or ""),
        title=str(doc.title),
        number=t("pres.cite.number", number=number) if number else "",
    )


def jurisdiction(doc: Any) -> str:
    """Whose document it is: the catalogue's `jurisdiction`, else the place its issuer names;
    "" for a national document or one whose issuer names no place (or is not catalogued)."""
    place = str(getattr(doc, "jurisdiction", "") or "").strip()
    if not place:
        m = _ISSUER_PLACE.match(str(getattr(doc, "issuer", "") or "").strip())
        place = m.group("place") if m else ""
    return "" if place in _NATIONAL else place


@lru_cache(maxsize=8)
def _home_of(city: str, province: str, issuer: str) -> frozenset[str]:
    places = {str(city).strip(), str(province).strip()}
    m = _ISSUER_PLACE.match(str(issuer).strip())
    if m:
        places.add(m.group("place"))
    return frozenset(p for p in places if p)


def home() -> frozenset[str]:
    """The bureau's jurisdictions (its city, its province, the place its issuer names), from
    workbench.toml `[bureau]` and `[documents] issuer`; empty when none is configured."""
    from workbench.config import bureau_config, documents_config

    b, d = bureau_config(), documents_config()
    return _home_of(
        str(b.get("city") or ""), str(b.get("province") or ""), str(d.get("issuer") or "")
    )


def standing(doc: Any, places: frozenset[str] | None = None) -> str:
    """What a catalogued document is to the bureau: REFERENCE (material, not policy), BASIS (a
    policy of its own jurisdiction, its province, or national) or PEER (another jurisdiction's
    policy, cited as 参照). `places`: the bureau's jurisdictions (default `home()`)."""
    if str(getattr(doc, "kind", "policy") or "policy") == REFERENCE:
        return REFERENCE
    place = jurisdiction(doc)
    if not place:
        return BASIS
    return BASIS if place in (home() if places is None else places) else PEER


@lru_cache(maxsize=64)
def _pattern(codes: tuple[str, ...]) -> re.Pattern[str]:
    alt = "|".join(re.escape(c) for c in sorted(codes, key=len, reverse=True))
    # the code, or the seed's file name (code_<id>.txt); then the spaces before the clause
    return re.compile(rf"{_BEFORE}(?P<code>{alt}){SEED_FILE}(?P<gap>[ \t\u3000]+|{_AFTER})")


def _cite_clause(
    clause: str, documents: Mapping[str, Any], places: frozenset[str], found: list[str]
) -> str:
    """One clause (text between ；) with its codes as titles; `found` gets each citation's
    standing. A reference cited where the clause leads ends the clause with （工作做法）."""
    pattern = _pattern(tuple(documents))
    suffix = ""

    def one(m: re.Match[str]) -> str:
        nonlocal suffix
        doc = documents[m.group("code")]
        rest = clause[m.end() :]
        if m.group("gap") and not _CLAUSE_REF.match(rest):
            return title_of(doc)  # a mention: 「004 要求……」
        kind = standing(doc, places)
        found.append(kind)
        leads = m.start() == 0 or clause[m.start() - 1] in _LEADS_AFTER
        if not leads:
            return title_of(doc)
        if kind == REFERENCE:
            suffix = t("pres.cite.practice")
        return t(f"pres.cite.lead.{kind}") + title_of(doc)

    out = pattern.sub(one, clause)
    return out + suffix if suffix and not out.endswith(suffix) else out


def _cite(
    source: object, documents: Mapping[str, Any] | None, places: frozenset[str] | None
) -> tuple[str, list[str]]:
    text = "" if source is None else str(source).strip()
    if not text or not documents:
        return text, []
    here = home() if places is None else places
    found: list[str] = []
    parts = re.split(r"([；;])", text)
    cited = "".join(
        p if i % 2 else _cite_clause(p, documents, here, found) for i, p in enumerate(parts)
    )
    return cited, found


def cite(
    source: object,
    documents: Mapping[str, Any] | None,
    places: frozenset[str] | None = None,
) -> str:
    """`source` with each catalogued code replaced by the document's title (`title_of`), led by
    依据/参照/参考 where a citation opens a clause (module docstring); anything else kept as
    written. None or blank gives "". `places`: the bureau's jurisdictions (default `home()`)."""
    return _cite(source, documents, places)[0]


def target_source(
    source: object,
    documents: Mapping[str, Any] | None,
    places: frozenset[str] | None = None,
) -> str:
    """A target's `source:` as every face prints it beside the target: `cite`, and marked
    工作口径 when it cites documents none of which is the bureau's basis (reference material,
    another jurisdiction's plan): the value is then the bureau's own choice."""
    text, found = _cite(source, documents, places)
    if found and BASIS not in found:
        return t("pres.cite.own_target", source=text)
    return text
