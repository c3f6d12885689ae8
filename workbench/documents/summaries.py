"""Documents the campaign calendar calls for: a 阶段总结 in the month after a phase ends (its
last month's ledgers are in by then), and at the campaign's last month the 专项整治工作总结
(a verdict per target, the year's trend, each phase's work, the time-node tasks) and the
典型案例汇编 from the cases marked exposed (personal data masked, institutions named).

`due(iset, period)` says which are due; `build_*` arrange the presentation layer's texts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pandas as pd

from workbench import fmt
from workbench.contracts import LEAD_SOURCES, VIOLATION_TYPES
from workbench.documents import bulletin as bl
from workbench.documents.model import Attachment, Block, Document, Header, Heading, Para, Table
from workbench.messages import t
from workbench.presentation import counts as pc
from workbench.presentation.citations import cite
from workbench.presentation import groups as pg
from workbench.presentation import kpis as pk
from workbench.presentation import lists
from workbench.presentation import words as pw
from workbench.privacy import mask_name

CASE_DIGEST_SIZE = 20  # cases in the 典型案例汇编, largest amount first


def _month(d: dt.date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def due(iset: Any, period: str) -> list[tuple[str, str]]:
    """[(kind, phase code or '')] due at `period`, besides the monthly 通报: a phase summary
    in the month after each phase but the last ends; at the campaign's last month the campaign
    summary and the case digest."""
    cal = getattr(iset, "calendar", None)
    if cal is None:
        return []
    out: list[tuple[str, str]] = []
    prev = str(pd.Period(period, freq="M") - 1)
    for ph in cal.phases[:-1] if len(cal.phases) > 1 else ():
        if _month(ph.end) == prev:
            out.append(("phase_summary", ph.code))
    if _month(cal.end) == period:
        out += [("campaign_summary", ""), ("case_digest", "")]
    return out


def _window_sentences(frame: pd.DataFrame) -> list[str]:
    """Figures of a window as the 通报's short sentences, the change on last year's same
    months beside the figure it is about."""
    fig = frame.set_index("key")
    out = []
    for kind, keys in bl.FIGURE_SENTENCES:
        vals = {k: fig.loc[k, "value_text"] for k in keys}
        key = bl.CHANGE_OF.get(kind)
        if key is not None:
            ch = pc.change_phrase(fig.loc[key, "change_text"])
            if ch:
                vals[key] += t("doc.fig.change_ytd", yoy=ch)
        out.append(t(f"doc.fig.{kind}", **vals) + "。")
    return out


def _window_table(f: bl.Facts, window: pc.Window, caption: str) -> Table:
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
    long = pc.values(f.ledgers, {"w": window}, keys, by_county=True)
    wide = long.pivot_table(index="county_code", columns="key", values="value", aggfunc="sum")
    wide = wide.reindex(index=f.counties, columns=list(keys)).fillna(0.0)
    frame = {f.words.unit_noun: [f.county_names.get(c, c) for c in f.counties]}
    for k in keys:
        head = t("doc.col.fig", label=t(f"doc.short.{k}"), unit=pc.COUNTS[k].unit)
        frame[head] = [pc.number_text(k, wide.loc[c, k]) for c in f.counties]
    df = pd.DataFrame(frame)
    city = pc.window_figures(f.ledgers, window, keys=keys).set_index("key")
    total = {f.words.unit_noun: f.words.whole}
    for k, head in zip(keys, list(df.columns)[1:]):
        total[head] = pc.number_text(k, city.loc[k, "value"])
    df = pd.concat([df, pd.DataFrame([total])], ignore_index=True)
    return Table(
        df,
        caption=caption,
        numeric=tuple(df.columns[1:]),
        bold=frozenset((len(df) - 1, j) for j in range(len(df.columns))),
    )


def _campaign_name(f: bl.Facts) -> str:
    return pw.campaign_name(f.iset)


def _cited(f: bl.Facts, source: object, key: str) -> str:
    """A phase's `source:` as the summary prints it (依据《…》…, `citations.cite`) in its
    brackets, or nothing when it has none."""
    text = cite(source, getattr(f.iset, "documents", None))
    return t(key, source=text) if text else ""


def screening_para(
    digest: Mapping[str, pd.DataFrame] | None, window: pc.Window, n: int
) -> list[Block]:
    """The summaries' screening paragraph (numbered `n` among the section's leads) from
    `screening.summary.window_digest` — settlements screened, hits, leads issued, the year's
    checks and 属实率 at the window's end, the weakest rule, the death and custody matches'
    recovery; nothing when no month of the window was screened (`digest` None)."""
    if digest is None:
        return []
    w, c, cm = (digest[k].iloc[0] for k in ("window", "checks", "cross_match"))
    end = lists.period_end(window.end)
    span_months = (pd.Period(window.end, freq="M") - pd.Period(window.start, freq="M")).n + 1
    coverage = bl.coverage_clause(w, window, unscreened=int(w["months"]) < span_months)
    parts = [
        t(
            "doc.sum.scr_window",
            window=window.label,
            months=int(w["months"]),
            coverage=coverage,
            hits=fmt.count_text(w["hits"], "笔"),
            amount=fmt.value_text(w["amount"], "元", 1),
            leads=fmt.count_text(w["leads"], "条"),
        )
    ]
    m = int(window.end[5:7])
    ytd = t("doc.ytd_label", m=m) if m > 1 else fmt.month_label(window.end)
    if int(c["checked"]):
        parts.append(
            t(
                "doc.sum.scr_checks",
                date=fmt.date_label(end),
                year=window.end[:4],
                ytd=ytd,
                leads=fmt.count_text(c["leads"], "条"),
                checked=fmt.count_text(c["checked"], "条"),
                confirmed=fmt.count_text(c["confirmed"], "条"),
                rate=fmt.value_text(c["confirmed_rate"], "%"),
            )
        )
        low = bl.weakest_sentence(digest["by_rule"])
        if low:
            parts.append(low)
    else:
        parts.append(
            t(
                "doc.sum.scr_unchecked",
                date=fmt.date_label(end),
                year=window.end[:4],
                ytd=ytd,
                leads=fmt.count_text(c["leads"], "条"),
            )
        )
    parts.append(
        t(
            "doc.sum.scr_recovery",
            cases=fmt.count_text(cm["cases"], "件"),
            year=window.end[:4],
            ytd=ytd,
            recovered=fmt.value_text(cm["recovered"], "元", 1),
        )
        if int(cm["cases"])
        else t("doc.sum.scr_no_recovery")
    )
    return [Para("".join(parts), lead=t("doc.sum.lead_screening", n=bl.cn(n)), lead_level=2)]


# ----------------------------------------------------------------------------- 阶段总结
def build_phase_summary(
    city: Any,
    phase_city: Any,
    code: str,
    header: Header,
    run_id: str = "",
    screening: Mapping[str, pd.DataFrame] | None = None,
) -> Document:
    """阶段总结 for phase `code`: `phase_city` is the city report at the phase's last month
    (its KPIs, milestones and lists as of then), `city` the current one (for the next phase);
    `screening` the phase's `screening.summary.window_digest` (None: nothing screened)."""
    f = bl.gather(phase_city.data)
    cal = f.iset.calendar
    phases = list(cal.phases)
    ph = next(p for p in phases if p.code == code)
    nxt = phases[phases.index(ph) + 1] if phases.index(ph) + 1 < len(phases) else None
    window = pc.Window(_month(ph.start), _month(ph.end))
    figs = pc.window_figures(f.ledgers, window)
    label = window.label
    blocks: list[Block] = [
        Para(
            t(
                "doc.phase.intro",
                campaign=_campaign_name(f),
                phase=ph.name,
                window=label,
                source=_cited(f, ph.source, "doc.phase.source"),
            )
        ),
        Heading(1, t("doc.phase.h_work", n=bl.cn(1))),
        Para(
            "".join(_window_sentences(figs)),
            lead=t("doc.phase.lead_figures", window=label),
            lead_level=2,
        ),
    ]
    bd = bl.breakdown_sentences(f, window)
    if bd:
        blocks.append(Para("".join(bd), lead=t("doc.phase.lead_breakdown"), lead_level=2))
    blocks += screening_para(screening, window, 3 if bd else 2)
    blocks.append(Heading(1, t("doc.phase.h_targets", n=bl.cn(2), end=fmt.month_label(f.period))))
    ms = phase_city.data.evaluation.city_milestones
    in_phase = (
        ms[pd.to_datetime(ms["deadline"]).dt.date.between(ph.start, ph.end)] if len(ms) else ms
    )
    if len(in_phase):
        rows = pg.milestone_rows(in_phase)
        for r in rows.to_dict("records"):
            blocks.append(Para(t("doc.phase.milestone", **r)))
    else:
        blocks.append(Para(t("doc.phase.no_milestone", phase=ph.name)))
    blocks += bl.kpi_blocks(f, phase_city.data.city_kpis, phase_city.data.kpis)
    problems = bl.problem_items(f)
    blocks.append(Heading(1, t("doc.h.problems", n=bl.cn(3))))
    blocks.append(Para(bl.lagging_sentence(f), lead=bl.lagging_lead(f), lead_level=2))
    for i, (kind, sentence, _rows) in enumerate(problems, 2):
        blocks.append(Para(sentence, lead=t(f"doc.prob.{kind}_lead", n=bl.cn(i)), lead_level=2))
    blocks.append(Heading(1, t("doc.phase.h_next", n=bl.cn(4))))
    if nxt is not None:
        blocks.append(
            Para(
                t(
                    "doc.phase.next",
                    name=nxt.name,
                    start=fmt.date_label(nxt.start),
                    end=fmt.date_label(nxt.end),
                    source=_cited(f, nxt.source, "doc.phase.next_source"),
                )
            )
        )
    blocks += bl.requirement_blocks(
        f,
        phase_city.data.city_kpis,
        phase_city.data.kpis,
        problems,
        header.date + dt.timedelta(days=20),
    )
    title = t("doc.phase.title", city=f.city, campaign=_campaign_name(f), phase=ph.name)
    return Document(
        kind="phase_summary",
        title=title,
        header=header,
        blocks=tuple(blocks),
        attachments=(
            Attachment(
                t("doc.phase.att_figures", phase=ph.name),
                (_window_table(f, window, t("doc.phase.table", window=label)),),
            ),
            Attachment(
                t("doc.att.definitions"), tuple(bl.definition_blocks(f, phase_city.data.city_kpis))
            ),
        ),
        note=t("doc.demo_note") if f.data.demo else "",
        meta={"run_id": run_id},
    )


# ----------------------------------------------------------------------------- 工作总结
def verdict_table(f: bl.Facts, kpis: pd.DataFrame) -> tuple[Table, list[dict[str, Any]]]:
    """Each KPI with a target: target, value, verdict (达成/未达成) and by how much."""
    rows = []
    for group, codes in pg.kpi_groups(f.iset):
        for r in kpis[kpis["indicator"].isin(codes)].to_dict("records"):
            if r["status"] in (pk.NO_TARGET, pk.NO_DATA):
                continue
            rows.append({**r, "group": group})
    frame = pd.DataFrame(
        {
            t("doc.col.group"): [r["group"] for r in rows],
            t("doc.col.indicator"): [r["indicator_name"] for r in rows],
            t("doc.col.target"): [r["target_text"] for r in rows],
            t("doc.col.value"): [r["value_text"] for r in rows],
            t("doc.col.verdict"): [
                t("doc.verdict.met")
                if r["status"] == pk.MET
                else (
                    t("doc.verdict.no_base")
                    if r["status"] == pk.BASELINE_INSUFFICIENT
                    else t("doc.verdict.not_met")
                )
                for r in rows
            ],
            t("doc.col.gap"): [r["gap_text"] for r in rows],
        }
    )
    bold = frozenset((i, 4) for i, r in enumerate(rows) if r["status"] in pg.FAILING)
    return Table(
        frame, caption=t("doc.sum.verdict_table"), bold=bold, numeric=(t("doc.col.value"),)
    ), rows


def build_campaign_summary(
    city: Any,
    header: Header,
    run_id: str = "",
    screening: Mapping[str, pd.DataFrame] | None = None,
) -> Document:
    """专项整治工作总结 at the campaign's end; `screening` the campaign months'
    `screening.summary.window_digest` (None: nothing screened)."""
    f = bl.gather(city.data)
    cal = f.iset.calendar
    data = city.data
    window = pc.Window(_month(cal.start), _month(cal.end))
    label = window.label
    figs = pc.window_figures(f.ledgers, window)
    kpis = data.city_kpis
    table, rows = verdict_table(f, kpis)
    met = [r for r in rows if r["status"] == pk.MET]
    missed = [r for r in rows if r["status"] in pg.FAILING]
    blocks: list[Block] = [
        Para(
            t(
                "doc.sum.intro",
                city=f.city,
                campaign=_campaign_name(f),
                window=label,
                n=len(f.counties),
            )
        ),
        Heading(1, t("doc.sum.h_basic", n=bl.cn(1))),
        Para(
            "".join(_window_sentences(figs)),
            lead=t("doc.sum.lead_figures", window=label),
            lead_level=2,
        ),
    ]
    bd = bl.breakdown_sentences(f, window)
    if bd:
        blocks.append(Para("".join(bd), lead=t("doc.phase.lead_breakdown"), lead_level=2))
    blocks += screening_para(screening, window, 3 if bd else 2)
    blocks.append(Heading(1, t("doc.sum.h_targets", n=bl.cn(2), ytd=f.ytd_label())))
    blocks.append(
        Para(
            t(
                "doc.sum.verdict",
                total=len(rows),
                met=len(met),
                missed=len(missed),
                met_names=pw.name_list(r["indicator_name"] for r in met) or t("doc.none"),
                missed_names=pw.name_list(r["indicator_name"] for r in missed) or t("doc.none"),
            )
        )
    )
    for r in rows:
        trend = data.trend(r["indicator"])
        q = pg.quarter_points(trend, r.get("unit") or "", r.get("decimals"), f.period[:4])
        verdict = (
            t("doc.sum.kpi_met", target=r["target_text"])
            if r["status"] == pk.MET
            else t("doc.sum.kpi_missed", target=r["target_text"], gap=r["gap_text"])
        )
        text = t("doc.sum.kpi", name=r["indicator_name"], value=r["value_text"], verdict=verdict)
        if q and any(x != "—" for x in q):
            text += t("doc.sum.trend", q1=q[0], q2=q[1], q3=q[2], q4=q[3])
        fail = pg.failing_counties(data.kpis, r["indicator"])
        text += bl.county_clause(fail, len(f.counties), f.words.unit_noun)
        blocks.append(Para(text))
    blocks.append(Heading(1, t("doc.sum.h_phases", n=bl.cn(3))))
    for i, ph in enumerate(cal.phases, 1):
        w = pc.Window(_month(ph.start), _month(ph.end))
        pf = pc.window_figures(
            f.ledgers, w, keys=("inspections", "cases_filed", "recovered", "referred_police")
        ).set_index("key")
        blocks.append(
            Para(
                t(
                    "doc.sum.phase",
                    window=w.label,
                    inspections=pf.loc["inspections", "value_text"],
                    cases=pf.loc["cases_filed", "value_text"],
                    recovered=pf.loc["recovered", "value_text"],
                    police=pf.loc["referred_police", "value_text"],
                ),
                lead=t("doc.sum.phase_lead", n=bl.cn(i), name=ph.name),
                lead_level=2,
            )
        )
    ms = pg.milestone_rows(data.evaluation.city_milestones)
    if len(ms):
        blocks.append(Heading(1, t("doc.sum.h_milestones", n=bl.cn(4))))
        for r in ms.to_dict("records"):
            blocks.append(Para(t("doc.phase.milestone", **r)))
        blocks.append(Para(t("doc.sum.reconcile", ytd=f.ytd_label())))
    problems = bl.problem_items(f)
    n = 5 if len(ms) else 4
    blocks.append(Heading(1, t("doc.h.problems", n=bl.cn(n))))
    blocks.append(Para(bl.lagging_sentence(f), lead=bl.lagging_lead(f), lead_level=2))
    for i, (kind, sentence, _rows) in enumerate(problems, 2):
        blocks.append(Para(sentence, lead=t(f"doc.prob.{kind}_lead", n=bl.cn(i)), lead_level=2))
    blocks.append(Heading(1, t("doc.sum.h_next", n=bl.cn(n + 1))))
    blocks += bl.requirement_blocks(
        f, kpis, data.kpis, problems, header.date + dt.timedelta(days=20)
    )
    blocks.append(Para(t("doc.sum.long_term")))
    return Document(
        kind="campaign_summary",
        title=t("doc.sum.title", city=f.city, campaign=_campaign_name(f)),
        header=header,
        blocks=tuple(blocks),
        attachments=(
            Attachment(t("doc.sum.att_verdict"), (table,)),
            Attachment(
                t("doc.sum.att_figures", window=label),
                (_window_table(f, window, t("doc.phase.table", window=label)),),
            ),
            Attachment(t("doc.att.definitions"), tuple(bl.definition_blocks(f, kpis))),
        ),
        note=t("doc.demo_note") if data.demo else "",
        meta={"run_id": run_id},
    )


# ----------------------------------------------------------------------------- 案例汇编
def _positive(v: object) -> bool:
    return not fmt.missing(v) and float(v) > 0  # type: ignore[arg-type]


def build_case_digest(
    city: Any, header: Header, run_id: str = "", size: int = CASE_DIGEST_SIZE
) -> Document:
    """典型案例汇编: the largest exposed cases of the campaign, one short paragraph each;
    institutions by name, persons masked."""
    f = bl.gather(city.data)
    cal = f.iset.calendar
    window = pc.Window(_month(cal.start), _month(cal.end))
    total = pc.count(f.ledgers, "exposed", window)
    cases = pc.exposed_cases(f.ledgers, window, limit=size)
    blocks: list[Block] = [
        Para(
            t(
                "doc.cases.intro",
                window=window.label,
                total=pc.number_text("exposed", total),
                n=len(cases),
            )
        ),
    ]
    for i, r in enumerate(cases.to_dict("records"), 1):
        county = f.county_names.get(str(r["county_code"]), str(r["county_code"]))
        inst = r.get("institution_name")
        person = r.get("person_name")
        who = (
            str(inst)
            if isinstance(inst, str) and inst
            else t(
                "doc.cases.person",
                subject=r.get("subject_type") or "",
                name=mask_name(person) or "",
            )
            if not fmt.missing(person) and str(person).strip()
            else t("doc.cases.unnamed", subject=r.get("subject_type") or "")
        )
        violation = str(r.get("violation_type") or "")
        if violation in ("", VIOLATION_TYPES[-1]):  # 其他 reads 某用人单位其他违规案
            violation = t("doc.cases.other")
        head = t(
            "doc.cases.head",
            n=i,
            county="" if county in who else county,  # not 白沙县白沙县观澜医院
            who=who,
            violation=violation,
        )
        source = str(r.get("lead_source") or "")
        found = dict(
            date=fmt.date_label(r.get("found_date")),
            county=county,
            who=who,
            violation=violation,
            amount=r["amount_involved_text"],
        )
        parts = [
            # a source named 其他 is no way of finding anything (通过其他发现)
            t("doc.cases.found", source=source, **found)
            if source and source != LEAD_SOURCES[-1]
            else t("doc.cases.found_plain", **found)
        ]
        money = "".join(
            t(key, amount=r[f"{col}_text"])
            for key, col in (
                ("doc.cases.recovered", "amount_recovered"),
                ("doc.cases.fined", "fine_amount"),
            )
            if _positive(r.get(col))  # no 罚款0元 for a case without a fine
        )
        parts.append(
            t(
                "doc.cases.outcome",
                outcome=r.get("outcome") or "—",
                money=money,
                closed=fmt.date_label(r.get("closed_date")),
            )
        )
        if bool(r.get("referred_police")) is True:
            parts.append(t("doc.cases.police"))
        blocks.append(Heading(3, head))
        blocks.append(Para("".join(parts)))
    return Document(
        kind="case_digest",
        title=t("doc.cases.title", city=f.city, campaign=_campaign_name(f)),
        header=header,
        blocks=tuple(blocks),
        note=t("doc.demo_note") if f.data.demo else "",
        meta={"run_id": run_id},
    )
