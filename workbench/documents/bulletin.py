"""The monthly 通报 as the seeds write it: figures first (检查X家次, 立案X件, 追回X万元 …) for the
month and the year to date with their changes; breakdowns; the 两升/两降/一规范 targets, each
with the counties that fail it; ranking; problems with their lists; requirements derived from
what fails; attachments with the county tables, the ranking and the working definitions.

Every number, status, gap and list comes from the presentation layer (`presentation.counts`,
`presentation.groups`, `presentation.lists`, `presentation.definitions`, `presentation.kpis`
through `report.CityData`); this module only arranges its texts into sentences."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from workbench import fmt, freshness
from workbench.documents.model import (
    Attachment,
    Block,
    Document,
    Header,
    Heading,
    Para,
    Table,
)
from workbench.indicators import (
    REMIND_LEVEL,
    TALK_LEVEL,
    TALK_LEVELS,
    has_lagging_list,
    talk_criteria,
)
from workbench.messages import t
from workbench.presentation import counts as pc
from workbench.presentation.citations import cite
from workbench.presentation import definitions as pdef
from workbench.presentation import groups as pg
from workbench.presentation import kpis as pk
from workbench.presentation import lists
from workbench.presentation import words as pw
from workbench.screening import summary as scr_summary

CN_NUM = "一二三四五六七八九十"
# the screening section's terms explained in 附件 指标说明 (texts in locale/documents.yaml)
SCREENING_TERMS = ("coverage", "hits", "leads", "checked", "confirmed", "recovery")
TOP = 3  # categories named in a breakdown sentence
MAX_KPI_COLUMNS = 5  # KPI columns per attachment table (A4 portrait)


def cn(n: int) -> str:
    """1 → 一 … 10 → 十, 11 → 十一, 20 → 二十 … 99 (heading numbers)."""
    if not 1 <= n <= 99:
        return str(n)
    if n <= 10:
        return CN_NUM[n - 1]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else CN_NUM[tens - 1]) + "十" + (CN_NUM[ones - 1] if ones else "")


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

    def month_end_label(self) -> str:
        return fmt.date_label(lists.period_end(self.period))

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
                t(
                    "doc.prob.key_monitored",
                    date=f.month_end_label(),
                    quarter=fmt.quarter_label(f.period),
                    n=len(keym),
                    counties=_county_counts(f, keym),
                ),
                keym,
            )
        )
    out += loop_items(f, end)
    if f.submissions is not None:
        out += reporting_items(f)
    return out


def due_day(f: Facts) -> int | None:
    """The report due day the set's calendar declares (None: lateness is not judged)."""
    return getattr(getattr(f.iset, "calendar", None), "report_due_day", None)


def reporting_items(f: Facts) -> list[tuple[str, str, pd.DataFrame]]:
    """台账未按时报送: the counties that sent nothing for the month, and those whose first file
    was received after the due day, decided by `freshness.submission_states` (the status line's
    rule, on the receipt date declared at ingest where there is one). Rows: county_code,
    county_name, state, first_at."""
    roster = f.data.counties.rename(columns={"county": "county_code"})
    states = freshness.submission_states(roster, f.submissions, None, f.period, due_day(f))
    miss = states[states["state"] == freshness.MISSING]
    late = states[states["state"] == freshness.LATE]
    if not len(miss) and not len(late):
        return []
    parts = []
    if len(miss):
        parts.append(t("doc.prob.not_submitted", n=len(miss), names="、".join(miss["county_name"])))
    if len(late):
        due = freshness.due_at(f.period, due_day(f))
        names = "、".join(
            t("doc.prob.late_county", name=r.county_name, date=fmt.date_label(r.first_at))
            for r in late.itertuples(index=False)
        )
        parts.append(
            t(
                "doc.prob.late",
                n=len(late),
                due=fmt.date_label(due - pd.Timedelta(days=1)),
                names=names,
            )
        )
    rows = pd.concat([miss, late], ignore_index=True)
    return [("not_submitted", "".join(parts), rows[["county_code", "county_name", "state"]])]


OVERDUE_KINDS = ("cases", "leads", "complaints")  # 办案, 核查, 办理时限; labels in the catalogue


def loop_items(f: Facts, end: str) -> list[tuple[str, str, pd.DataFrame]]:
    """The supervision loop's as-of lists (`presentation.lists`): open cases past their 办案时限,
    leads past their 核查时限 and complaints past their 办理时限 (one item, a sentence each),
    and 约谈 whose 复查 is overdue or found the problem not put right."""
    out = []
    found = {
        "cases": lists.overdue_cases(f.ledgers, f.period),
        "leads": lists.overdue_leads(f.ledgers, f.period),
        "complaints": lists.overdue_complaints(f.ledgers, f.period),
    }
    parts, frames = [], []
    for kind in OVERDUE_KINDS:
        rows = found[kind]
        if not len(rows):
            continue
        parts.append(
            t(
                f"doc.prob.overdue_{kind}",
                n=len(rows),
                longest=int(rows["days_overdue"].max()),
                counties=_county_counts(f, rows, limit=TOP),
            )
        )
        frames.append(rows[["county_code", "days_overdue"]].assign(item=kind))
    if parts:
        rows = pd.concat(frames, ignore_index=True)
        out.append(("overdue_items", t("doc.prob.overdue_items", date=end) + "".join(parts), rows))
    talks = lists.talk_followups(f.ledgers, f.period)
    talks = talks[talks["followup"].isin(("overdue", "not_rectified"))]
    if len(talks):
        n_late = int((talks["followup"] == "overdue").sum())
        out.append(
            (
                "talks",
                t(
                    "doc.prob.talks",
                    date=end,
                    n=len(talks),
                    detail="，".join(
                        t(f"doc.prob.talks_{k}", n=v)
                        for k, v in (("late", n_late), ("wrong", len(talks) - n_late))
                        if v
                    ),
                    counties=_county_counts(f, talks, limit=TOP),
                ),
                talks,
            )
        )
    return out


def talk_list(f: Facts) -> pd.DataFrame:
    """The 约谈名单 (the evaluation's lagging list, from the declared criteria) beside the
    约谈督办台账: held or not, the latest 约谈 and its 复查 at the month's end. Worked out once
    per document (its sentence, lead, table and attachment title all read it)."""
    if "talk_list" not in f.extra:
        f.extra["talk_list"] = _talk_list(f)
    return f.extra["talk_list"]


def _talk_list(f: Facts) -> pd.DataFrame:
    lag = f.data.lagging
    if lag.empty or "county" not in lag:
        return lists.talk_list_followup(pd.DataFrame(), f.ledgers, f.period)
    lag = lag.rename(columns={"county": "county_code"})
    if "county_name" not in lag:
        lag = lag.assign(county_name=lag["county_code"].map(f.county_names))
    for col in ("criteria", "reasons"):
        if col not in lag:
            lag = lag.assign(**{col: ""})
    return lists.talk_list_followup(lag, f.ledgers, f.period)


def talk_state(r: dict[str, Any]) -> str:
    """A listed county's 约谈 and 复查 in one phrase (`lists.talk_list_state`)."""
    return lists.talk_list_state(r)


def _reminded(tl: pd.DataFrame) -> pd.Series:
    """Which rows of the list are on the 督促名单 (the declared `level`), not the 约谈名单."""
    return (
        tl["list_level"].eq(REMIND_LEVEL)
        if "list_level" in tl
        else pd.Series(False, index=tl.index)
    )


def talk_table(f: Facts) -> Table:
    """约谈名单及督办情况: county, why it is on the list, the 约谈 and its 复查; with a 督促名单
    beside it, a column says which list each county is on (约谈 first)."""
    tl = talk_list(f)
    columns = {f.words.unit_noun: tl["county_name"].astype(str)}
    remind = _reminded(tl)
    if remind.any():
        columns[t("doc.col.level")] = [t(f"talk.level.{lv}") for lv in tl["list_level"]]
    columns |= {
        t("doc.col.criteria"): tl["criteria"].fillna("").astype(str),
        t("doc.col.reasons"): tl["reasons"].fillna("").astype(str),
        t("doc.col.followup"): [talk_state(r) for r in tl.to_dict("records")],
    }
    key = "doc.table.talks_remind" if remind.any() else "doc.table.talks"
    return Table(pd.DataFrame(columns), caption=t(key, date=f.month_end_label()))


def talk_attachment_title(f: Facts) -> str:
    """附件 约谈名单及督办情况（截至…）, or 约谈名单、督促名单及督办情况（截至…） when a 督促名单 is
    in it: the attachment's one table goes without a caption, so the title carries the date."""
    key = "doc.att.talks_remind" if _reminded(talk_list(f)).any() else "doc.att.talks"
    return t(key, date=f.month_end_label())


def _county_counts(f: Facts, rows: pd.DataFrame, limit: int = 0) -> str:
    """白沙县31、石门县13…: each county's count, most first (the first `limit`, then 等)."""
    per = lists.count_by_county(rows).sort_values(ascending=False, kind="stable")
    items = [
        t("doc.prob.county_n", name=f.county_names.get(c, c), n=int(n)) for c, n in per.items()
    ]
    return names_text(items, limit)


def remind_rule(f: Facts) -> str:
    """The declared line between 约谈 and 督促 for 进度滞后 (`indicators.TalkCriteria`), e.g.
    进度滞后的里程碑达2个，或单个里程碑差距达目标值的20%."""
    crit = talk_criteria(f.iset, f.period)
    text = t("doc.remind.rule_count", k=crit.min_milestones)
    if crit.milestone_shortfall > 0:
        text += t("doc.remind.rule_share", share=fmt.rule_percent(crit.milestone_shortfall))
    return text


def lagging_lead(f: Facts) -> str:
    """（一）约谈名单。, or （一）约谈名单和督促名单。 when a 督促名单 follows in the same item."""
    return t("doc.prob.lag_lead_remind" if _reminded(talk_list(f)).any() else "doc.prob.lag_lead")


def lagging_sentence(f: Facts) -> str:
    """约谈名单: each county with the criteria that put it there and where its 约谈 stands;
    then the 督促名单 (进度滞后 short of the declared 约谈 line), each with its milestones."""
    tl = talk_list(f)
    remind = _reminded(tl)
    summoned, reminded = tl[~remind], tl[remind]
    if not len(summoned):
        text = t("doc.prob.no_lagging", noun=f.words.unit_noun)
    else:
        items = [
            t("doc.prob.lag_item", name=r["county_name"], what=r["criteria"], held=talk_state(r))
            for r in summoned.to_dict("records")
        ]
        n_held = int(summoned["held"].sum())
        again = list(summoned.loc[summoned["followup"].eq("relisted"), "county_name"])
        text = t(
            "doc.prob.lagging",
            n=len(items),
            noun=f.words.unit_noun,
            items="；".join(items),
            held=n_held,
            again=t("doc.prob.lagging_again", n=len(again)) if again else "",
            not_held=len(items) - n_held,
        )
    if len(reminded):
        lag = f.data.lagging
        ms = (
            dict(zip(lag["county"].astype(str), lag["milestones"].fillna("")))
            if "milestones" in lag and "county" in lag
            else {}
        )
        items = [
            t(
                "doc.prob.remind_item",
                name=r["county_name"],
                # the milestone's name says what should be reached (「问题整改完成率达100%」):
                # quoted and called 进度滞后, or it reads as if the county had reached it
                what=t("doc.prob.remind_milestones", names=ms[str(r["county_code"])])
                if ms.get(str(r["county_code"]))
                else r["criteria"],
            )
            for r in reminded.to_dict("records")
        ]
        text += t(
            "doc.prob.remind",
            n=len(items),
            noun=f.words.unit_noun,
            items="、".join(items),
            rule=remind_rule(f),
        )
    return text


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
                    names=pw.name_list(r["indicator_name"] for r in rows),
                    counties=names_text(worst, 3),
                ),
            )
        )
    for kind, _sentence, rows in problems:
        per = rows["item"].value_counts() if "item" in rows else pd.Series(dtype=int)
        extra = {k: int(per.get(k, 0)) for k in OVERDUE_KINDS}
        if kind == "overdue_items":
            text = t(
                "doc.req.overdue_items",
                items="、".join(t(f"doc.req.overdue_{k}", n=n) for k, n in extra.items() if n),
                due=fmt.date_label(due),
            )
        elif kind == "not_submitted":
            text = reporting_requirement(f, rows, due)
        elif kind == "key_monitored":
            # the period's quarter, by its end when that is still ahead of the general due
            # date (a 通报 of November), else by that date (one of December, dated January)
            text = t(
                "doc.req.key_monitored",
                quarter=fmt.quarter_label(f.period),
                n=len(rows),
                due=fmt.date_label(max(fmt.quarter_end(f.period), due)),
            )
        else:
            text = t(f"doc.req.{kind}", n=len(rows), due=fmt.date_label(due), **extra)
        items.append((t(f"doc.req.{kind}_head"), text))
    tl = talk_list(f)
    remind = _reminded(tl)
    summoned = tl[~remind]
    if len(summoned):
        names = list(summoned["county_name"].astype(str))
        waiting = list(summoned.loc[~summoned["held"].astype(bool), "county_name"].astype(str))
        again = list(summoned.loc[summoned["followup"].eq("relisted"), "county_name"].astype(str))
        text = t("doc.req.lagging", names="、".join(names), due=fmt.date_label(due))
        if waiting:
            text += t("doc.req.lagging_talk", n=len(waiting), names="、".join(waiting))
        if again:
            text += t("doc.req.lagging_again", names="、".join(again))
        items.append((t("doc.req.lagging_head"), text))
    if remind.any():
        names = list(tl.loc[remind, "county_name"].astype(str))
        text = t("doc.req.remind", names="、".join(names), due=fmt.date_label(due))
        items.append((t("doc.req.remind_head"), text))
    blocks: list[Block] = []
    for i, (head, text) in enumerate(items, 1):
        blocks.append(Para(text, lead=t("doc.req.item", n=cn(i), head=head), lead_level=2))
    if not items:
        blocks.append(Para(t("doc.req.none")))
    return blocks


def reporting_requirement(f: Facts, rows: pd.DataFrame, due: dt.date) -> str:
    """按时报送台账: the missing counties report by `due`; the late ones explain and keep the
    due day from now on."""
    n_missing = int((rows["state"] == freshness.MISSING).sum())
    late = rows.loc[rows["state"] == freshness.LATE, "county_name"].astype(str)
    text = t("doc.req.not_submitted", n=n_missing, due=fmt.date_label(due)) if n_missing else ""
    if len(late):
        text += t("doc.req.late", names="、".join(late), day=due_day(f))
    return text


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
    facts = {r["indicator"]: r for r in pdef.facts(f.iset).to_dict("records")}
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
            for j, code in enumerate(part, 1):
                total[names[code]] = city["value_text"].get(code, "—")
                # a relative target is each row's own: the row states the rule, not the city's value
                target[names[code]] = pdef.target_rule_text(facts.get(code, {})) or city[
                    "target_text"
                ].get(code, "—")
                if city["status"].get(code) in pg.FAILING:
                    bold.add((len(f.counties), j))
            frame_df = pd.concat([frame_df, pd.DataFrame([total, target])], ignore_index=True)
            blocks.append(
                Table(
                    frame_df,
                    caption=t("doc.table.kpis", n=n, group=group),
                    bold=frozenset(bold),
                    numeric=tuple(frame_df.columns[1:]),
                )
            )
    note = t("doc.table.kpis_note", ytd=f.ytd_label(), att=_att(f), **_kpi_note_words(f))
    return with_note(blocks, note)


def _kpi_note_words(f: Facts) -> dict[str, str]:
    """What the KPI tables' note says of the bold 全市 row and of relative targets' rules."""
    relative = any(pdef.target_rule_text(r) for r in pdef.facts(f.iset).to_dict("records"))
    rule = t("doc.table.kpis_note_relative", noun=f.words.unit_noun) if relative else ""
    return {"whole": f.words.whole, "relative": rule}


def with_note(blocks: list[Block], note: str) -> list[Block]:
    """`blocks` with `note` under the last table (rendered inside the table, so it never opens
    a page on its own; `gongwen.Gongwen.table`), or as a paragraph when there is no table."""
    if blocks and isinstance(blocks[-1], Table):
        return [*blocks[:-1], dataclasses.replace(blocks[-1], note=note)]
    return [*blocks, Para(note, indent=True)]


def _att(f: Facts, key: str = "definitions") -> int:
    """Which 附件 a part is in (the 通报 numbers its attachments as it builds them)."""
    return int(f.extra.get("att", {}).get(key, 4))


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
            note=t("doc.table.ranking_note", att=_att(f)),
        )
    )
    return blocks


def definition_blocks(f: Facts, city_kpis: pd.DataFrame, screening: bool = False) -> list[Block]:
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
                formula_label=r["formula_label"],
                formula=r["formula"],
                num=r["numerator_text"],
                den=r["denominator_text"],
                value=r["value_text"],
                target=r["target_text"],
                source=r["target_source"],
            )
            if r["derivation"]:
                text += r["derivation"]
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
    if screening:
        blocks.append(Heading(2, t("doc.defs.screening_head", n=cn(n_head))))
        n_head += 1
        for j, key in enumerate(SCREENING_TERMS, 1):
            blocks.append(
                Para(
                    cite(t(f"doc.defs.scr.{key}"), getattr(f.iset, "documents", None)),
                    lead=t("doc.defs.kpi_lead", n=j, name=t(f"doc.defs.scr.{key}_name")),
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


# ----------------------------------------------------------------------------- screening
def _wan(yuan: float) -> str:
    return fmt.value_text(yuan, "元", 1)


def weakest_sentence(by_rule: pd.DataFrame) -> str:
    """「各规则中属实率最低的是…」 for `screening.summary.weakest_rule`, or ""."""
    low = scr_summary.weakest_rule(by_rule)
    if low is None:
        return ""
    return t(
        "doc.scr.weakest",
        rule=low["rule_name"],
        rate=fmt.value_text(low["confirmed_rate"], "%"),
        checked=fmt.count_text(low["checked"], "条"),
    )


def coverage_clause(row: Any, window: pc.Window, unscreened: bool = False) -> str:
    """「，筛查结算N笔，疑点数据覆盖率（2025年12月）X%」 — the rate says its span (`window.label`),
    and, when some months of it were never screened (`unscreened`), that their settlements
    count in the denominator — when the row counts settlements, else nothing."""
    if not fmt.finite(row["settlements"]):
        return ""
    return t(
        "doc.scr.coverage_unscreened" if unscreened else "doc.scr.coverage",
        screened=fmt.count_text(row["screened"], "笔"),
        span=window.label,
        rate=fmt.value_text(row["coverage_rate"], "%"),
    )


def ytd_coverage_sentence(f: Facts, ytd: Any) -> str:
    """「2025年1—12月累计疑点数据覆盖率X%（…）。」 — the figure the cockpit's card gives for the
    year to date — when the month is not January and the year's coverage is known."""
    window = pc.standard_windows(f.period)["ytd"]
    if window.start == window.end or fmt.finite(ytd.get("coverage_rate")) is None:
        return ""
    return t(
        "doc.scr.coverage_ytd",
        span=window.label,
        rate=fmt.value_text(ytd["coverage_rate"], "%"),
    )


def screening_blocks(f: Facts, digest: dict[str, pd.DataFrame], att: int) -> list[Block]:
    """疑点数据筛查: the month's screening (coverage, hits, leads, amount, leading rules), the
    year's checks as of the month's end (核查, 属实率, 转案, 超期), and the money recovered on
    death and custody matches — figures first, short sentences (`screening.summary`)."""
    m = digest["month"].iloc[0]
    by_rule = digest["by_rule"]
    y = digest["ytd"].iloc[0]
    cm = digest["cross_match"].iloc[0]
    cov = coverage_clause(m, pc.standard_windows(f.period)["month"])
    top = by_rule[by_rule["leads"] > 0].head(TOP)
    month = [
        t(
            "doc.scr.month",
            period=f.month_label(),
            coverage=cov,
            rules_hit=pw.rules_hit_text(len(by_rule), int(m["rules_hit"])),
            hits=fmt.count_text(m["hits"], "笔"),
            amount=_wan(m["amount"]),
            leads=fmt.count_text(m["leads"], "条"),
        )
    ]
    month.append(ytd_coverage_sentence(f, y))
    if int(m["suppressed"]):
        month.append(t("doc.scr.suppressed", n=int(m["suppressed"])))
    if len(top):
        items = [
            t("doc.bd.pair", cat=r.rule_name, n=fmt.count_text(r.leads, "条"))
            for r in top.itertuples()
        ]
        month.append(t("doc.scr.top", items="、".join(items), att=att))
    checks = [
        t(
            "doc.scr.checks",
            date=f.month_end_label(),
            ytd=f.ytd_label(),
            leads=fmt.count_text(y["leads"], "条"),
            checked=fmt.count_text(y["checked"], "条"),
            rate=fmt.value_text(y["checked_rate"], "%"),
        )
    ]
    if int(y["checked"]):
        checks.append(
            t(
                "doc.scr.confirmed",
                confirmed=fmt.count_text(y["confirmed"], "条"),
                rate=fmt.value_text(y["confirmed_rate"], "%"),
                converted=fmt.count_text(y["converted"], "条"),
            )
        )
        low = weakest_sentence(by_rule)
        if low:
            checks.append(low)
    checks.append(
        t("doc.scr.overdue", n=int(y["overdue"])) if int(y["overdue"]) else t("doc.scr.no_overdue")
    )
    blocks: list[Block] = [
        Para("".join(month), lead=t("doc.scr.lead_month", period=f.month_label()), lead_level=2),
        Para("".join(checks), lead=t("doc.scr.lead_checks"), lead_level=2),
    ]
    if int(cm["cases"]):
        blocks.append(
            Para(
                t(
                    "doc.scr.recovery",
                    ytd=f.ytd_label(),
                    cases=fmt.count_text(cm["cases"], "件"),
                    due=_wan(cm["amount_due"]),
                    recovered=_wan(cm["recovered"]),
                    rate=fmt.value_text(cm["recovery_rate"], "%"),
                ),
                lead=t("doc.scr.lead_recovery"),
                lead_level=2,
            )
        )
    return blocks


def screening_table(f: Facts, digest: dict[str, pd.DataFrame]) -> Table:
    """Per rule: the month's hits, leads and amount; the year's leads, checks and 属实率."""
    r = digest["by_rule"]
    frame = pd.DataFrame(
        {
            t("doc.col.rule"): r["rule_name"].astype(str),
            t("doc.col.scr_hits"): [fmt.count_text(v) for v in r["hits"]],
            t("doc.col.scr_leads"): [fmt.count_text(v) for v in r["leads"]],
            t("doc.col.scr_amount"): [fmt.wan(v) for v in r["amount"]],
            t("doc.col.scr_leads_ytd"): [fmt.count_text(v) for v in r["leads_ytd"]],
            t("doc.col.scr_checked"): [fmt.count_text(v) for v in r["checked"]],
            t("doc.col.scr_confirmed"): [fmt.count_text(v) for v in r["confirmed"]],
            t("doc.col.scr_rate"): [fmt.value_text(v, "%") for v in r["confirmed_rate"]],
        }
    )
    m, y = digest["month"].iloc[0], digest["ytd"].iloc[0]
    total = {
        t("doc.col.rule"): f.words.whole,
        t("doc.col.scr_hits"): fmt.count_text(m["hits"]),
        t("doc.col.scr_leads"): fmt.count_text(m["leads"]),
        t("doc.col.scr_amount"): fmt.wan(m["amount"]),
        t("doc.col.scr_leads_ytd"): fmt.count_text(y["leads"]),
        t("doc.col.scr_checked"): fmt.count_text(y["checked"]),
        t("doc.col.scr_confirmed"): fmt.count_text(y["confirmed"]),
        t("doc.col.scr_rate"): fmt.value_text(y["confirmed_rate"], "%"),
    }
    frame = pd.concat([frame, pd.DataFrame([total])], ignore_index=True)
    return Table(
        frame,
        caption=t("doc.table.screening", period=f.month_label()),
        numeric=tuple(frame.columns[1:]),
        bold=frozenset((len(frame) - 1, j) for j in range(len(frame.columns))),
        note=t("doc.table.screening_note", ytd=f.ytd_label(), date=f.month_end_label()),
    )


def rule_source_blocks(digest: dict[str, pd.DataFrame]) -> list[Block]:
    """规则依据 under the attachment's table: each declared rule with its source cited by
    document title (`screening.summary.rule_table`, the words the cockpit and lists show)."""
    rules = digest.get("rules")
    if rules is None or not len(rules):
        return []
    out: list[Block] = [Para(t("screening.rule.sources_head"), indent=False)]
    out += [Para(str(line)) for line in rules["line"]]
    return out


# ----------------------------------------------------------------------------- the 通报
def build(
    city: Any,
    header: Header,
    submissions: pd.DataFrame | None = None,
    run_id: str = "",
    screening: dict[str, pd.DataFrame] | None = None,
) -> Document:
    """The monthly 通报 for `city` (report.CityReport). `screening` is the month's
    `screening.summary.period_digest` (None: no screening result, no section)."""
    f = gather(city.data, submissions)
    if not f.words.on_ledgers:
        return build_own(city, header, f, run_id)
    data = city.data
    kpis = data.city_kpis
    county_kpis = data.kpis
    windows = pc.standard_windows(f.period)
    due = header.date + dt.timedelta(days=20)
    campaign = pw.campaign_name(f.iset)
    phase = getattr(data.evaluation, "phase", "")
    # attachments first, so the body can say which one to read
    talks = talk_list(f)
    parts: list[tuple[str, Attachment]] = [
        (
            "figures",
            Attachment(
                t("doc.att.figures", period=f.month_label()),
                (figures_table(f, "month"), figures_table(f, "ytd")),
            ),
        ),
        ("kpis", Attachment(t("doc.att.kpis"), ())),
        ("ranking", Attachment(t("doc.att.ranking", noun=f.words.unit_noun), ())),
    ]
    if len(talks):
        parts.append(("talks", Attachment(talk_attachment_title(f), (talk_table(f),))))
    if screening is not None:
        parts.append(
            (
                "screening",
                Attachment(
                    t("doc.att.screening", period=f.month_label()),
                    (screening_table(f, screening), *rule_source_blocks(screening)),
                ),
            )
        )
    parts.append(("definitions", Attachment(t("doc.att.definitions"), ())))
    att = {key: i for i, (key, _a) in enumerate(parts, 1)}
    f.extra["att"] = att
    filled = {
        "kpis": tuple(kpi_tables(f, county_kpis, kpis)),
        "ranking": tuple(ranking_blocks(f, city)),
        "definitions": tuple(definition_blocks(f, kpis, screening is not None)),
    }
    attachments = tuple(
        Attachment(a.title, filled[key]) if key in filled else a for key, a in parts
    )

    n = iter(range(1, 20))
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
        Heading(1, t("doc.h.overall", n=cn(next(n)))),
        Para(
            "".join(figure_sentences(f, "month")),
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
    if screening is not None:
        blocks.append(Heading(1, t("doc.h.screening", n=cn(next(n)))))
        blocks += screening_blocks(f, screening, att["screening"])
    blocks.append(Heading(1, t("doc.h.targets", n=cn(next(n)), ytd=f.ytd_label())))
    blocks += kpi_blocks(f, kpis, county_kpis)
    blocks.append(Heading(1, t("doc.h.ranking", n=cn(next(n)))))
    blocks.append(Para(ranking_sentence(f, city)))
    problems = problem_items(f)
    if screening is not None and int(screening["ytd"].iloc[0]["leads"]):
        y = screening["ytd"].iloc[0]
        waiting = int(y["leads"]) - int(y["checked"])
        if waiting:
            problems.append(("screening", "", pd.DataFrame(index=range(waiting))))
    blocks.append(Heading(1, t("doc.h.problems", n=cn(next(n)))))
    lag = lagging_sentence(f) + (t("doc.prob.lag_att", att=att["talks"]) if len(talks) else "")
    blocks.append(Para(lag, lead=lagging_lead(f), lead_level=2))
    for i, (kind, sentence, _rows) in enumerate([p for p in problems if p[1]], 2):
        blocks.append(Para(sentence, lead=t(f"doc.prob.{kind}_lead", n=cn(i)), lead_level=2))
    blocks.append(Heading(1, t("doc.h.requirements", n=cn(next(n)))))
    blocks += requirement_blocks(f, kpis, county_kpis, problems, due)
    blocks.append(Para(t("doc.bulletin.closing", due=fmt.date_label(due))))
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
    keys = ["kpis", *(["ranking"] if data.hierarchy else []), "definitions"]
    f.extra["att"] = {key: i for i, key in enumerate(keys, 1)}  # 附件 numbers, as built
    blocks += kpi_blocks(f, kpis, county_kpis)
    n = 2
    if data.hierarchy:
        blocks.append(Heading(1, t("doc.h.ranking", n=cn(n))))
        blocks.append(Para(ranking_sentence(f, city)))
        n += 1
    if has_lagging_list(f.iset):  # the set's own criteria; no 约谈督办台账 to follow them up
        levels = data.levels()  # the declared list each unit is on: 约谈 or 督促
        named = {
            lv: [f.county_names.get(c, c) for c, x in levels.items() if x == lv]
            for lv in TALK_LEVELS
        }
        summoned, reminded = named[TALK_LEVEL], named[REMIND_LEVEL]
        text = (
            t("doc.own.lagging", n=len(summoned), noun=w.unit_noun, names="、".join(summoned))
            if summoned
            else t("doc.own.no_lagging", noun=w.unit_noun)
        )
        if reminded:
            text += t(
                "doc.own.remind", n=len(reminded), noun=w.unit_noun, names="、".join(reminded)
            )
        blocks.append(Heading(1, t("doc.own.h.lagging", n=cn(n))))
        blocks.append(Para(text))
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
    note = t("doc.own.kpis_note", period=f.data.period_label, n=_att(f), **_kpi_note_words(f))
    if blocks and isinstance(blocks[-1], Para):  # no table: drop the ledgers' note paragraph
        blocks = blocks[:-1]
    return with_note(blocks, note)  # the last table's note is this set's own


def ranking_sentence(f: Facts, city: Any) -> str:
    rank = city.ranking_frame()
    if rank.empty:
        return t("batch.report.no_ranking")
    noun = f.words.unit_noun
    top, bottom = city.leaders()
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
        top="、".join(top),
        bottom="、".join(bottom),
        grades=gtext,
        noun=noun,
        att=f.extra.get("att", {}).get("ranking", 3),
    )
