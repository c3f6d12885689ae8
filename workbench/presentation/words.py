"""A set's own words: what its units are called, its reports' title, who signs, the total row.

Decided once here from the set's `presentation:` block (`unit_noun`, `whole_name`,
`report_title`, `issuer`, `total_name`), so reports, the 通报, the cockpit and the CLI say the
same. When a set declares nothing: a set on the county ledgers keeps the workbench's own words
(区县, 全市, 医保基金监管评估报告, <city>医疗保障局, the city's name); a set on its own declared
tables gets neutral ones (单位 or its table's noun, 全部<noun>, 评估报告, no signature).

`on_ledgers` says whether the set's units are the counties of the ledgers, so the faces show the
campaign's ledger parts (workload figures, overdue and open lists, the submission check) only
where they can be filled.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from workbench.declarations import IndicatorSet
from workbench.messages import t


@dataclass(frozen=True)
class SetWords:
    unit_noun: str  # 区县, 地区, 机构 …
    report_title: str  # after a unit's name: 东湖区 + 执法绩效评估报告
    issuer: str  # who signs the 通报 ('' when nobody is named)
    total_name: str  # the row of all units together: 全市, 全省合计 …
    code_label: str = ""  # what a unit's code is called: 区划代码, a table's unit header
    scope: str = ""  # where the units are, in a sentence: 全市 (在全市10个区县中); '' for a table
    whole: str = (
        ""  # all units as one place: 全市, 全省, 全部地区 (全市层面, 在全市的位置, total rows)
    )
    on_ledgers: bool = True  # the units are the ledgers' counties (the ledger parts can be filled)
    period_noun: str = ""  # what a period is called in pickers: 月份, or 期间 for other frequencies
    trend_kind: str = ""  # what a trend runs over: 月度, or 历期 for other frequencies


def set_words(iset: IndicatorSet, city: str = "") -> SetWords:
    """The words of one set; `city` is the counties ledger's city name, when there is one."""
    p = iset.presentation
    on_ledgers = iset.reads_ledgers() or not iset.tables
    noun = iset.unit_noun()
    if p.total_name:
        total = p.total_name
    elif on_ledgers:
        total = city or t("ind.city")
    else:
        total = t("tables.total", noun=noun)
    if p.report_title:
        title = p.report_title
    else:
        title = t("batch.report.county_title") if on_ledgers else t("tables.report_title")
    if p.issuer:
        issuer = p.issuer
    else:
        issuer = t("batch.bulletin.issuer", city=city) if on_ledgers and city else ""
    headers = {tb.unit.header for tb in iset.tables.values()}
    if on_ledgers:
        code_label = t("tables.code_label.county")
    else:
        code_label = headers.pop() if len(headers) == 1 else t("tables.code_label.default")
    scope = t("ind.city") if on_ledgers else ""
    if p.whole_name:
        whole = p.whole_name
    elif on_ledgers:
        whole = t("ind.city")
    else:
        whole = t("tables.total", noun=noun)
    kind = "month" if iset.frequency.is_monthly else "other"
    return SetWords(
        noun,
        title,
        issuer,
        total,
        code_label,
        scope,
        whole,
        on_ledgers,
        t(f"words.period.{kind}"),
        t(f"words.trend.{kind}"),
    )


def ledger_words(city: str = "") -> SetWords:
    """The workbench's own words, for a face that has no set at hand (a set on the ledgers
    that declares nothing says the same)."""
    return SetWords(
        t("tables.noun.county"),
        t("batch.report.county_title"),
        t("batch.bulletin.issuer", city=city) if city else "",
        city or t("ind.city"),
        t("tables.code_label.county"),
        t("ind.city"),
        t("ind.city"),
        True,
        t("words.period.month"),
        t("words.trend.month"),
    )


def words_record(w: SetWords) -> dict[str, object]:
    """The words as plain values (the cockpit's cache keeps them as JSON)."""
    return dataclasses.asdict(w)


def words_from(record: dict[str, object] | None) -> SetWords:
    """Words back from `words_record` (the workbench's own words when there are none)."""
    if not record:
        return ledger_words()
    known = {f.name for f in dataclasses.fields(SetWords)}
    return SetWords(**{k: v for k, v in record.items() if k in known})  # type: ignore[arg-type]


def face_values(w: SetWords) -> dict[str, str]:
    """The words a face's messages take: {noun}, {whole}, {whole_choice} (the picker's entry
    for all units: 全市（全部区县）, or just 全部地区 when the whole is named by its units) and
    {code_label}, {period_noun} and {place} (what the cockpit's title names for a set on its
    own units: its whole; '' for the ledgers' counties, whose city the cockpit knows)."""
    plain = w.whole == t("tables.total", noun=w.unit_noun)
    choice = w.whole if plain else t("words.whole_choice", whole=w.whole, noun=w.unit_noun)
    return {
        "noun": w.unit_noun,
        "whole": w.whole,
        "whole_choice": choice,
        # every unit of the whole: 全市区县, 全省地区, or just 全部机构 (not 全部机构机构)
        "whole_units": w.whole
        if plain
        else t("words.whole_units", whole=w.whole, noun=w.unit_noun),
        "code_label": w.code_label,
        "period_noun": w.period_noun or t("words.period.month"),
        "trend_kind": w.trend_kind or t("words.trend.month"),
        "place": "" if w.on_ledgers else w.whole,
    }


def campaign_name(iset: object) -> str:
    """What the campaign is called wherever a document or a draft names it (根据…工作安排): its
    calendar's name, else the set's."""
    cal = getattr(iset, "calendar", None)
    return str(cal.name if cal is not None else getattr(iset, "name", ""))


def rules_hit_text(n_rules: int, n_hit: int, noun: str = "筛查规则") -> str:
    """10条筛查规则均有命中 / 10条筛查规则中7条有命中 / 均无命中 (never 10条中10条)."""
    key = "all" if n_hit >= n_rules > 0 else "none" if n_hit <= 0 else "some"
    return t(f"pres.rules_hit.{key}", n=n_rules, m=n_hit, noun=noun)


def name_list(names: object) -> str:
    """Names as a Chinese enumeration, 甲、乙、丙. A name with a 、 of its own is quoted, so
    「达成4项（“重复作案、团伙作案占比变化”、检查覆盖率…）」 still reads as four, not five."""
    sep = t("pres.list_sep")
    items = [str(n) for n in names]  # type: ignore[attr-defined]
    return sep.join(t("pres.quoted", name=n) if sep in n else n for n in items)
