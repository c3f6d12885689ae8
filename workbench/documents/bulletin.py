"""The monthly 通报 as the seeds write it: figures first (检查X家次, 立案X件, 追回X万元 …) for the
month and the year to date with their changes; breakdowns; the 两升/两降/一规范 targets, each
with the counties that fail it; ranking; problems with their lists; requirements derived from
what fails; attachments with the county tables, the ranking and the working definitions.

Every number, status, gap and list comes from the presentation layer (`presentation.counts`,
`presentation.groups`, `presentation.lists`, `presentation.definitions`, `presentation.kpis`
through `report.CityData`); this module only arranges its texts into sentences."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from workbench import fmt
from workbench.documents.model import (
    Attachment,
    Block,
    Document,
    Header,
    Heading,
    Para,
    Table,
)
from workbench.indicators import has_lagging_list
from workbench.messages import t
from workbench.presentation import counts as pc
from workbench.presentation import definitions as pdef
from workbench.presentation import groups as pg
from workbench.presentation import kpis as pk
from workbench.presentation import lists

CN_NUM = "一二三四五六七八九十"
TOP = 3  # categories named in a breakdown sentence
MAX_KPI_COLUMNS = 5  # KPI columns per attachment table (A4 portrait)


def cn(n: int) -> str:
    """1 → 一 … 10 → 十 (heading numbers)."""
    return CN_NUM[n - 1] if 1 <= n <= len(CN_NUM) else str(n)


def names_text(names: Sequence[str], limit: int = 0) -> str:
    shown = list(names if not limit else names[:limit])
    text = "、".join(shown)
    return text + (t("doc.etc") if limit and len(names) > limit else "")


@dataclass
class Facts:
    """What a document about one period reads, gathered once from the presentation layer."""

    data: Any  # report.CityData
    city: str
    period: str
    figures: pd.DataFrame
    by_county: pd.DataFrame
    iset: Any
    county_names: dict[str, str]
    submissions: pd.DataFrame | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ledgers(self) -> dict[str, pd.DataFrame]:
        return self.data.ledgers

    @property
    def counties(self) -> list[str]:
        return list(self.data.counties["county"].astype(str))

    @property
    def words(self) -> Any:
        """The set's words (`presentation.words`): 区县/全市 for the ledgers' counties, the
        set's own (地区, 全省 …) for a set on its own table."""
        return self.data.words

    def fig(self, key: str) -> dict[str, Any]:
        return self.figures.set_index("key").loc[key].to_dict()

    def month_label(self) -> str:
        return fmt.month_label(self.period)

    def ytd_label(self) -> str:
        m = int(self.period[5:7])
        return t("doc.ytd_label", m=m) if m > 1 else fmt.month_label(self.period)


def gather(data: Any, submissions: pd.DataFrame | None = None) -> Facts:
    """Facts for the city's documents at `data.period` (report.CityData)."""
    counties = [str(c) for c in data.counties["county"]]
    names = dict(zip(counties, data.counties["county_name"].astype(str)))
    city = str(data.counties["city"].mode().iloc[0]) if len(data.counties) else ""
    on_ledgers = data.words.on_ledgers  # the ledgers' workload figures are about counties only
    return Facts(
        data=data,
        city=city,
        period=data.period,
        figures=pc.figures(data.ledgers, data.period) if on_ledgers else pd.DataFrame(),
        by_county=(
            pc.figures_by_county(data.ledgers, data.period, counties)
            if on_ledgers
            else pd.DataFrame()
        ),
        iset=data.evaluation.indicator_set,
        county_names=names,
        submissions=submissions,
    )


# ----------------------------------------------------------------------------- figures
FIGURE_SENTENCES = (
    ("inspect", ("inspections", "institutions_inspected")),
    ("cases", ("cases_filed", "cases_closed", "institutions_punished")),
    ("money", ("recovered", "fined")),
    (
        "sanction",
        ("agreements_suspended", "agreements_ended", "referred_police", "referred_discipline"),
    ),
    ("social", ("exposed", "interviews", "complaints", "rewards_count", "rewards_paid")),
)
# which figure's change a sentence quotes
CHANGE_OF = {"inspect": "inspections", "cases": "cases_filed", "money": "recovered"}


def figure_sentences(f: Facts, window: str) -> list[str]:
    """Short sentences, figures first, each change right after the figure it is about:
    检查定点医药机构80家次（环比增长21.2%，同比增长27.0%），涉及77家。"""
    fig = f.figures.set_index("key")
    col = "month_text" if window == "month" else "ytd_text"
    out = []
    for kind, keys in FIGURE_SENTENCES:
        vals = {k: fig.loc[k, col] for k in keys}
        key = CHANGE_OF.get(kind)
        if key is not None:
            if window == "month":
                mom = pc.change_phrase(fig.loc[key, "mom_text"])
                yoy = pc.change_phrase(fig.loc[key, "yoy_text"])
                ch = t("doc.fig.change_month", mom=mom, yoy=yoy) if mom and yoy else ""
            else:
                yoy = pc.change_phrase(fig.loc[key, "ytd_yoy_text"])
                ch = t("doc.fig.change_ytd", yoy=yoy) if yoy else ""
            vals[key] = vals[key] + ch
        out.append(t(f"doc.fig.{kind}", **vals) + "。")
    return out


def breakdown_sentences(f: Facts, window: pc.Window) -> list[str]:
    """从违规主体看…；从违规类型看，“三假”问题X件，占X%…；从线索来源看…；从检查方式看…"""
    out = []
    inst = pc.breakdown(f.ledgers, "institution_type", window)
    if len(inst):
        items = [
            t("doc.bd.item", cat=r.category, n=r.n_text, share=r.share_text)
            for r in inst.head(TOP).itertuples()
        ]
        out.append(t("doc.bd.subject", items="、".join(items)))
    vio = pc.breakdown(f.ledgers, "violation_type", window)
    if len(vio):
        sj = pc.san_jia_total(vio)
        parts = [
            t("doc.bd.pair", cat=r.category, n=r.n_text) for r in vio[vio["san_jia"]].itertuples()
        ]
        top = [
            t("doc.bd.pair", cat=r.category, n=r.n_text)
            for r in vio[~vio["san_jia"]].head(TOP).itertuples()
        ]
        out.append(
            t(
                "doc.bd.violation",
                n=sj["n_text"],
                share=sj["share_text"],
                parts="、".join(parts) or t("doc.none"),
                top="、".join(top),
            )
        )
    src = pc.breakdown(f.ledgers, "lead_source", window)
    if len(src):
        items = [
            t("doc.bd.item", cat=r.category, n=r.n_text, share=r.share_text)
            for r in src.head(TOP).itertuples()
        ]
        out.append(t("doc.bd.source", items="、".join(items)))
    meth = pc.inspections_by_method(f.ledgers, window)
    if len(meth):
        items = [t("doc.bd.pair", cat=r.method, n=r.visits_text) for r in meth.head(4).itertuples()]
        out.append(t("doc.bd.method", items="、".join(items)))
    return out


# ----------------------------------------------------------------------------- KPIs
def kpi_sentence(row: dict[str, Any], f: Facts, failing: pg.Failing, n_units: int) -> str:
    """Two short sentences for one KPI: where the city stands (with “不升反降”/“尚差…”), then
    which counties fail it."""
    status = row["status"]
    name, value = row["indicator_name"], row["value_text"]
    mv = pg.movement_of(row, f.iset)
    ind = f.iset.indicators[row["indicator"]]
    parts = [t("doc.kpi.value", name=name, value=value)]
    if status == pk.MET:
        parts.append(t("doc.kpi.met", target=row["target_text"]))
    elif status == pk.NOT_MET:
        parts.append(t("doc.kpi.short", target=row["target_text"], gap=_gap(row)))
    elif status == pk.AT_RISK:
        parts.append(
            t(
                "doc.kpi.short_ahead",
                target=row["target_text"],
                gap=_gap(row),
                deadline=fmt.date_label(row.get("deadline")),
            )
        )
    elif status == pk.BASELINE_INSUFFICIENT:
        parts.append(t("doc.kpi.no_base"))
    if ind.type == "change":
        if mv.wrong_way:
            parts.append(t("doc.kpi.wrong_up" if ind.direction > 0 else "doc.kpi.wrong_down"))
    elif mv.way:
        phrase = pc.change_phrase(mv.change_text)
        if mv.wrong_way:
            key = "doc.kpi.wrong_up_yoy" if ind.direction > 0 else "doc.kpi.wrong_down_yoy"
            parts.append(t(key, change=phrase))
        elif phrase:
            parts.append(t("doc.kpi.yoy", change=phrase))
    text = "，".join(parts) + "。"
    if status in (pk.MET, pk.NOT_MET, pk.AT_RISK):
        text += county_clause(failing, n_units, f.words.unit_noun)
    return text


def _gap(row: dict[str, Any]) -> str:
    return fmt.gap_text(row.get("gap"), row.get("unit"), row.get("decimals"))


def county_clause(failing: pg.Failing, n_units: int, noun: str) -> str:
    if failing.n == 0:
        return t("doc.kpi.all_counties_met", noun=noun)
    if failing.n == n_units:
        return t("doc.kpi.all_counties_fail", n=failing.n, noun=noun)
    return t("doc.kpi.counties_fail", n=failing.n, names=names_text(failing.names), noun=noun)


def kpi_blocks(f: Facts, kpis: pd.DataFrame, county_kpis: pd.DataFrame) -> list[Block]:
    """Per group (两升/两降/一规范): a paragraph per KPI not met, one for those met."""
    blocks: list[Block] = []
    by = {str(r["indicator"]): r for r in kpis.to_dict("records")}
    n_units = len(f.counties)
    for gi, (group, codes) in enumerate(pg.kpi_groups(f.iset), 1):
        rows = [by[c] for c in codes if c in by]
        if not rows:
            continue
        failing_rows = [r for r in rows if r["status"] in pg.FAILING]
        met = [r for r in rows if r["status"] == pk.MET]
        rest = [r for r in rows if r["status"] not in (*pg.FAILING, pk.MET)]
        head = t("doc.kpi.group_head", n=cn(gi), group=group or t("doc.kpi.other_group"))
        summary = (
            t(
                "doc.kpi.group_summary",
                total=len(rows),
                met=len(met),
                failing=len(failing_rows),
                whole=f.words.whole,
            )
            + (t("doc.kpi.group_monitor", n=len(rest)) if rest else "")
            + "。"
        )
        blocks.append(Para(summary, lead=head, lead_level=2))
        for r in failing_rows + met + rest:
            fail = pg.failing_counties(county_kpis, r["indicator"])
            blocks.append(Para(kpi_sentence(r, f, fail, n_units)))
    return blocks


# ----------------------------------------------------------------------------- problems
def problem_items(f: Facts) -> list[tuple[str, str, pd.DataFrame]]:
    """(kind, sentence, list) for each as-of list that is not empty."""
    out = []
    end = fmt.date_label(lists.period_end(f.period))
    overdue = lists.overdue_rectifications(f.ledgers, f.period)
    if len(overdue):
        prio = overdue["source"].isin(lists.PRIORITY_SOURCES).sum()
        out.append(
            (
                "overdue",
                t(
                    "doc.prob.overdue",
                    date=end,
                    n=len(overdue),
                    prio=int(prio),
                    counties=_county_counts(f, overdue),
                ),
                overdue,
            )
        )
    threshold = pc.referral_threshold(f.iset)
    if threshold is not None:
        unref = lists.unreferred_cases(f.ledgers, f.iset, f.period, None, threshold)
        if len(unref):
            out.append(
                (
                    "unreferred",
                    t(
                        "doc.prob.unreferred",
                        n=len(unref),
                        threshold=fmt.value_text(threshold, "元"),
                        counties=_county_counts(f, unref),
                    ),
                    unref,
                )
            )
    keym = lists.key_monitored_not_inspected(f.ledgers, f.period)
    if len(keym):
        out.append(
            (
                "key_monitored",
                t("doc.prob.key_monitored", n=len(keym), counties=_county_counts(f, keym)),
                keym,
            )
        )
    if f.submissions is not None:
        roster = f.data.counties.rename(columns={"county": "county_code"})
        miss = lists.not_submitted(f.submissions, roster, f.period)
        if len(miss):
            out.append(
                (
                    "not_submitted",
                    t("doc.prob.not_submitted", n=len(miss), names="、".join(miss["county_name"])),
                    miss,
                )
            )
    return out


def _county_counts(f: Facts, rows: pd.DataFrame) -> str:
    per = lists.count_by_county(rows).sort_values(ascending=False, kind="stable")
    return "、".join(
        t("doc.prob.county_n", name=f.county_names.get(c, c), n=int(n)) for c, n in per.items()
    )


def lagging_sentence(f: Facts) -> str:
    lag = f.data.lagging
    if lag.empty or "county" not in lag:
        return t("doc.prob.no_lagging")
    items = []
    col = "milestones" if "milestones" in lag else None
    for r in lag.to_dict("records"):
        name = f.county_names.get(str(r["county"]), str(r["county"]))
        what = str(r.get(col) or "") if col else ""
        items.append(t("doc.prob.lag_item", name=name, what=what) if what else name)
    return t("doc.prob.lagging", n=len(items), items="；".join(items))


def requirement_blocks(
    f: Facts,
    kpis: pd.DataFrame,
    county_kpis: pd.DataFrame,
    problems: list[tuple[str, str, pd.DataFrame]],
    due: dt.date,
) -> list[Block]:
    """下一步工作要求, one item per thing that fails: each group's unmet KPIs (with the counties
    that fail most), then each non-empty list, then the lagging counties."""
    items: list[tuple[str, str]] = []
    for group, codes in pg.kpi_groups(f.iset):
        rows = [
            r
            for r in kpis.to_dict("records")
            if r["indicator"] in codes and r["status"] in pg.FAILING
        ]
        if not rows:
            continue
        fails = pg.failing_matrix(county_kpis, [r["indicator"] for r in rows]).sum(axis=1)
        worst = [
            f.county_names.get(str(c), str(c))
            for c, n in fails.sort_values(ascending=False, kind="stable").items()
            if n > 0
        ]
        items.append(
            (
                t("doc.req.group_head", group=group or t("doc.kpi.other_group")),
                t(
                    "doc.req.group",
                    names="、".join(r["indicator_name"] for r in rows),
                    counties=names_text(worst, 3),
                ),
            )
        )
    for kind, _sentence, rows in problems:
        items.append(
            (t(f"doc.req.{kind}_head"), t(f"doc.req.{kind}", n=len(rows), due=fmt.date_label(due)))
        )
    lag = f.data.lagging
    if not lag.empty and "county" in lag:
        names = [f.county_names.get(str(c), str(c)) for c in lag["county"]]
        items.append(
            (
                t("doc.req.lagging_head"),
                t("doc.req.lagging", names="、".join(names), due=fmt.date_label(due)),
            )
        )
    blocks: list[Block] = []
    for i, (head, text) in enumerate(items, 1):
        blocks.append(Para(text, lead=t("doc.req.item", n=cn(i), head=head), lead_level=2))
    if not items:
        blocks.append(Para(t("doc.req.none")))
    return blocks


# ----------------------------------------------------------------------------- attachments
def figures_table(f: Facts, window: str) -> Table:
    """Counties × the main figures (numbers only; the unit is in the header), city total last."""
    keys = (
        "inspections",
        "cases_filed",
        "cases_closed",
        "recovered",
        "fined",
        "agreements_suspended",
        "referred_police",
        "exposed",
        "interviews",
    )
    col = window
    frame = {f.words.unit_noun: [f.county_names.get(c, c) for c in f.counties]}
    bc = f.by_county.set_index(["county_code", "key"])
    for k in keys:
        spec = pc.COUNTS[k]
        head = t("doc.col.fig", label=t(f"doc.short.{k}"), unit=spec.unit)
        frame[head] = [pc.number_text(k, bc.loc[(c, k), col]) for c in f.counties]
    df = pd.DataFrame(frame)
    fig = f.figures.set_index("key")
    total = {f.words.unit_noun: f.words.whole}
    for k, head in zip(keys, list(df.columns)[1:]):
        total[head] = pc.number_text(k, fig.loc[k, col])
    df = pd.concat([df, pd.DataFrame([total])], ignore_index=True)
    caption = t(
        "doc.table.figures_month" if window == "month" else "doc.table.figures_ytd",
        period=f.month_label(),
        ytd=f.ytd_label(),
    )
    return Table(
        df,
        caption=caption,
        numeric=tuple(df.columns[1:]),
        bold=frozenset((len(df) - 1, j) for j in range(len(df.columns))),
    )


def kpi_tables(f: Facts, county_kpis: pd.DataFrame, city_kpis: pd.DataFrame) -> list[Block]:
    """Per group: counties × KPIs (value texts; bold where the county fails), city row last."""
    blocks: list[Block] = []
    n = 0
    for group, codes in pg.kpi_groups(f.iset):
        codes = [c for c in codes if c in set(county_kpis["indicator"])]
        chunks = max(1, -(-len(codes) // MAX_KPI_COLUMNS))
        size = -(-len(codes) // chunks)
        short = dict(zip(county_kpis["indicator"], county_kpis["short_name"]))
        for start in range(0, len(codes), size):
            part = codes[start : start + size]
            n += 1
            names = {c: str(short.get(c) or f.iset.indicators[c].name) for c in part}
            frame = {f.words.unit_noun: [f.county_names.get(c, c) for c in f.counties]}
            bold = set()
            for j, code in enumerate(part, 1):
                sub = county_kpis[county_kpis["indicator"] == code].set_index("county")
                frame[names[code]] = [sub["value_text"].get(c, "—") for c in f.counties]
                for i, c in enumerate(f.counties):
                    if c in sub.index and sub.loc[c, "status"] in pg.FAILING:
                        bold.add((i, j))
            city = city_kpis.set_index("indicator")
            frame_df = pd.DataFrame(frame)
            total = {f.words.unit_noun: f.words.whole}
            target = {f.words.unit_noun: t("doc.col.target")}
            for code in part:
                total[names[code]] = city["value_text"].get(code, "—")
                target[names[code]] = city["target_text"].get(code, "—")
            frame_df = pd.concat([frame_df, pd.DataFrame([total, target])], ignore_index=True)
            blocks.append(
                Table(
                    frame_df,
                    caption=t("doc.table.kpis", n=n, group=group),
                    bold=frozenset(bold),
                    numeric=tuple(frame_df.columns[1:]),
                )
            )
    blocks.append(Para(t("doc.table.kpis_note", ytd=f.ytd_label()), indent=True))
    return blocks


def ranking_blocks(f: Facts, city: Any) -> list[Block]:
    rank = city.ranking_frame()
    blocks: list[Block] = []
    if rank.empty:
        return [Para(t("batch.report.no_ranking"))]
    blocks.append(
        Table(
            rank,
            caption=t(
                "doc.table.ranking" if "等级" in rank else "doc.table.ranking_no_grade",
                noun=f.words.unit_noun,
            ),
            numeric=("排名", "综合得分"),
            note=t("doc.table.ranking_note", n=4 if f.words.on_ledgers else 3),
        )
    )
    return blocks


def definition_blocks(f: Facts, city_kpis: pd.DataFrame) -> list[Block]:
    """附件 指标说明（工作口径）: per KPI formula, this period's numerator and denominator, target
    and source, relative-target derivation; the figures' counting rules; the composite."""
    defs = pdef.definitions(f.iset, city_kpis)
    w = f.words
    intro = (
        t("doc.defs.intro", ytd=f.ytd_label())
        if w.on_ledgers
        else t("doc.own.defs_intro", period=f.data.period_label, whole=w.whole)
    )
    blocks: list[Block] = [Para(intro)]
    i = 0
    for group, codes in pg.kpi_groups(f.iset):
        blocks.append(
            Heading(
                2,
                t(
                    "doc.defs.group",
                    n=cn(len([b for b in blocks if isinstance(b, Heading)]) + 1),
                    group=group or t("doc.kpi.other_group"),
                ),
            )
        )
        for code in codes:
            r = defs[defs["indicator"] == code]
            if not len(r):
                continue
            r = r.iloc[0]
            i += 1
            text = t(
                "doc.defs.kpi",
                formula=r["formula"],
                num=r["numerator_text"],
                den=r["denominator_text"],
                value=r["value_text"],
                target=r["target_text"],
                source=r["target_source"],
            )
            if r["derivation"]:
                text += r["derivation"]
            if r["workbench_definition"] and "工作台定义" not in r["formula"]:
                text += t("doc.defs.workbench")
            blocks.append(
                Para(
                    text,
                    lead=t("doc.defs.kpi_lead", n=i, name=r["name"]),
                    lead_level=3,
                    align="left",
                )
            )
    n_head = len([b for b in blocks if isinstance(b, Heading)]) + 1
    if w.on_ledgers:  # the workload figures' counting rules: only where the figures are shown
        blocks.append(Heading(2, t("doc.defs.figures_head", n=cn(n_head))))
        n_head += 1
    for j, key in enumerate(pc.COUNTS if w.on_ledgers else (), 1):
        spec = pc.COUNTS[key]
        blocks.append(
            Para(
                pc.basis_text(key),
                lead=t("doc.defs.kpi_lead", n=j, name=f"{spec.label}（{spec.unit}）"),
                lead_level=3,
                align="left",
            )
        )
    hier = f.data.hierarchy
    if hier and hier in f.iset.hierarchies:
        m = pdef.method_text(f.iset, hier)
        blocks.append(Heading(2, t("doc.defs.composite_head", n=cn(n_head))))
        blocks.append(Para(t("doc.defs.composite", **m), align="left"))
        blocks.append(
            Para(
                t(
                    "doc.rank.interval_meaning",
                    n=getattr(f.data.evaluation, "uncertainty_samples", 200),
                    noun=w.unit_noun,
                )
            )
        )
    return blocks


# ----------------------------------------------------------------------------- the 通报
def build(
    city: Any, header: Header, submissions: pd.DataFrame | None = None, run_id: str = ""
) -> Document:
    """The monthly 通报 for `city` (report.CityReport)."""
    f = gather(city.data, submissions)
    if not f.words.on_ledgers:
        return build_own(city, header, f, run_id)
    data = city.data
    kpis = data.city_kpis
    county_kpis = data.kpis
    windows = pc.standard_windows(f.period)
    due = header.date + dt.timedelta(days=20)
    cal = getattr(f.iset, "calendar", None)
    campaign = cal.name if cal is not None else f.iset.name
    phase = getattr(data.evaluation, "phase", "")
    blocks: list[Block] = [
        Para(
            t(
                "doc.bulletin.intro",
                campaign=campaign,
                period=f.month_label(),
                n=len(f.counties),
                phase=t("doc.bulletin.phase", phase=phase) if phase else "",
            )
        ),
        Heading(1, t("doc.h.overall", n=cn(1))),
        Para(
            " ".join([]) + "".join(figure_sentences(f, "month")),
            lead=t("doc.fig.lead_month", period=f.month_label()),
            lead_level=2,
        ),
        Para(
            "".join(figure_sentences(f, "ytd")),
            lead=t("doc.fig.lead_ytd", ytd=f.ytd_label()),
            lead_level=2,
        ),
    ]
    bd = breakdown_sentences(f, windows["ytd"])
    if bd:
        blocks.append(Para("".join(bd), lead=t("doc.bd.lead", ytd=f.ytd_label()), lead_level=2))
    blocks.append(Heading(1, t("doc.h.targets", n=cn(2), ytd=f.ytd_label())))
    blocks += kpi_blocks(f, kpis, county_kpis)
    blocks.append(Heading(1, t("doc.h.ranking", n=cn(3))))
    blocks.append(Para(ranking_sentence(f, city)))
    problems = problem_items(f)
    blocks.append(Heading(1, t("doc.h.problems", n=cn(4))))
    blocks.append(Para(lagging_sentence(f), lead=t("doc.prob.lag_lead"), lead_level=2))
    for i, (kind, sentence, _rows) in enumerate(problems, 2):
        blocks.append(Para(sentence, lead=t(f"doc.prob.{kind}_lead", n=cn(i)), lead_level=2))
    blocks.append(Heading(1, t("doc.h.requirements", n=cn(5))))
    blocks += requirement_blocks(f, kpis, county_kpis, problems, due)
    blocks.append(Para(t("doc.bulletin.closing", due=fmt.date_label(due))))
    attachments = (
        Attachment(
            t("doc.att.figures", period=f.month_label()),
            (figures_table(f, "month"), figures_table(f, "ytd")),
        ),
        Attachment(t("doc.att.kpis"), tuple(kpi_tables(f, county_kpis, kpis))),
        Attachment(t("doc.att.ranking", noun=f.words.unit_noun), tuple(ranking_blocks(f, city))),
        Attachment(t("doc.att.definitions"), tuple(definition_blocks(f, kpis))),
    )
    return Document(
        kind="bulletin",
        title=t("doc.bulletin.title", period=f.month_label()),
        header=header,
        blocks=tuple(blocks),
        attachments=attachments,
        note=t("doc.demo_note") if data.demo else "",
        meta={"run_id": run_id},
    )


def build_own(city: Any, header: Header, f: Facts, run_id: str = "") -> Document:
    """The 通报 of a set on its own table (units that are not the ledgers' counties): its
    indicators against their targets and its ranking, in the set's own words and periods —
    none of the campaign's workload figures, ledger lists or 专项整治 wording."""
    data = city.data
    kpis, county_kpis = data.city_kpis, data.kpis
    w = f.words
    period = data.period_label
    blocks: list[Block] = [
        Para(
            t(
                "doc.own.intro",
                period=period,
                whole=w.whole,
                n=len(f.counties),
                noun=w.unit_noun,
                name=f.iset.name,
            )
        ),
        Heading(1, t("doc.own.h.targets", n=cn(1), period=period)),
    ]
    blocks += kpi_blocks(f, kpis, county_kpis)
    n = 2
    if data.hierarchy:
        blocks.append(Heading(1, t("doc.h.ranking", n=cn(n))))
        blocks.append(Para(ranking_sentence(f, city, attachment=2)))
        n += 1
    if has_lagging_list(f.iset):
        blocks.append(Heading(1, t("doc.own.h.lagging", n=cn(n))))
        blocks.append(Para(lagging_sentence(f)))
    blocks.append(Para(t("doc.own.closing", noun=w.unit_noun)))
    attachments = [Attachment(t("doc.own.att.kpis", noun=w.unit_noun), tuple(own_kpi_tables(f)))]
    if data.hierarchy:
        attachments.append(
            Attachment(t("doc.att.ranking", noun=w.unit_noun), tuple(ranking_blocks(f, city)))
        )
    attachments.append(Attachment(t("doc.att.definitions"), tuple(definition_blocks(f, kpis))))
    return Document(
        kind="bulletin",
        title=t("doc.own.title", period=period, name=f.iset.name),
        header=header,
        blocks=tuple(blocks),
        attachments=tuple(attachments),
        note=t("doc.demo_note") if data.demo else "",
        meta={"run_id": run_id},
    )


def own_kpi_tables(f: Facts) -> list[Block]:
    """The units × indicators tables of a set on its own table (the note names its period)."""
    blocks = kpi_tables(f, f.data.kpis, f.data.city_kpis)
    n = 3 if f.data.hierarchy else 2  # the definitions are the last attachment
    note = t("doc.own.kpis_note", period=f.data.period_label, n=n)
    return [*blocks[:-1], Para(note, indent=True)]


def ranking_sentence(f: Facts, city: Any, attachment: int = 3) -> str:
    rank = city.ranking_frame()
    if rank.empty:
        return t("batch.report.no_ranking")
    noun = f.words.unit_noun
    grades = rank["等级"].value_counts() if "等级" in rank else pd.Series(dtype=int)
    order = [b.grade for b in getattr(f.iset, "grade_bands", ())] or list(grades.index)
    gtext = "、".join(
        t("doc.rank.grade_n", grade=g, n=int(grades[g])) for g in order if g in grades
    )
    hier = f.data.hierarchy
    name = f.iset.hierarchies[hier].name if hier in f.iset.hierarchies else ""
    return t(
        "doc.rank.sentence" if gtext else "doc.rank.sentence_no_grade",
        name=name,
        top="、".join(rank[noun].head(3)),
        bottom="、".join(rank[noun].tail(3)[::-1]),
        grades=gtext,
        noun=noun,
        attachment=attachment,
    )
