"""The enforcement funnel as one cohort: what was found in the window and what became of it.

The set declares its funnel's stages (`presentation: funnel:`, each a label and one part of one
indicator, e.g. 线索 = 案件查处率's denominator, 立案 = 立案数, 结案 = 案件查处率's numerator)
and the 追回 indicator (`recovery:`). Each indicator counts its own rows in the window — cases
closed in September include cases filed in 2024 — so stacked side by side the bars widen
(线索 5,708 → 立案 1,548 → 结案 1,637). Here every stage counts the same cohort instead:

- the cohort: the declared first stage's items received in the window (the leads, complaints,
  inspection findings the indicator counts) and the cases *found* in the window (the ledger of
  the later stages, dated by its own entry date, e.g. 发现日期; rows the second stage's filters
  refuse, such as withdrawn cases, are not cases);
- 线索: the first stage's items, plus every cohort case no first-stage row of its county links
  to (a case found without a recorded lead is itself a lead) — so each case below is counted
  here once, through its lead or as itself;
- each later stage on the cases' ledger: the cohort cases its measures select whose own date
  (立案日期, 结案日期) falls by the window's end, and that passed every stage before it;
- 追回 (`recovery:`): the money recovered and due on the cohort's cases (the declared
  indicator's measures), and as a count the cases that passed the case stages with nothing
  left to recover (recovered ≥ due, case by case);
- a stage on another ledger (整改: the rectification items) is a *linked* stage: a case passes
  it when it passed every stage before it (追回 included), at least one row of that ledger links
  to it and every linked row known by the window's end (its own date by then) is one the
  stage's measures count, done by the window's end (the measure's `done_by` date, else its
  date). Rows link to a case through the contracts' references: directly (整改.关联案件编号 →
  案件编号) or through a dated ledger both name (整改.来源检查编号 and 案件.来源检查编号 → the
  same inspection), within the same county.

So no stage exceeds the one before, by construction (tests/test_funnel.py checks it with
hypothesis over random ledgers), and `caption` says what was counted.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench import fmt
from workbench.contracts import LEDGERS
from workbench.declarations import IndicatorSet, Measure
from workbench.indicators import span_window
from workbench.measures import MeasureEngine, Window, month_index, month_label
from workbench.messages import t

log = logging.getLogger(__name__)

CITY = ""  # the county code of the city's rows
RECOVERY = "recovered"  # the stage name of the 追回 row
FUNNEL_COLUMNS = [
    "county_code",
    "stage",
    "label",
    "count",
    "amount_recovered",
    "amount_due",
    "window_start",
    "window_end",
]


@dataclass(frozen=True)
class _Stage:
    stage: str
    label: str
    measures: tuple[Measure, ...]

    @property
    def ledger(self) -> str | None:
        names = {m.ledger for m in self.measures}
        return names.pop() if len(names) == 1 else None


def _stages(iset: IndicatorSet) -> list[_Stage]:
    out = []
    for st in iset.presentation.funnel:
        ind = iset.indicators.get(st.indicator)
        if ind is None:
            continue
        codes = ind.numerator if st.part == "numerator" else ind.denominator
        measures = tuple(iset.measures[c] for c in codes if c in iset.measures)
        if measures:
            out.append(_Stage(st.stage, st.label, measures))
    return out


def cohort_window(iset: IndicatorSet, period: str, span: str | None = None) -> Window:
    """The window the funnel's cohort is found in: the set's span ending at `period`, the one
    its KPI cards are computed on."""
    return span_window(span or iset.default_span, month_index(period), iset.calendar)


def _in(months: np.ndarray, w: Window) -> np.ndarray:
    return (months >= w.start) & (months <= w.end)


def _done_by(engine: MeasureEngine, m: Measure, end: int) -> np.ndarray:
    """Rows whose own date (and `done_by` date) falls by the window's end; blank dates never."""
    dated = engine.month_idx(m.ledger, m.date)  # type: ignore[arg-type]
    ok = (dated >= 0) & (dated <= end)
    if m.done_by is not None:
        done = engine.month_idx(m.ledger, m.done_by)
        ok &= done <= end  # a blank done date counts as done, as in the engine
    return ok


def cohort_counts(
    engine: MeasureEngine, iset: IndicatorSet, period: str, span: str | None = None
) -> pd.DataFrame:
    """The declared funnel of `iset` at `period` as one cohort, for every county and the city
    (county_code ""): one row per stage (stage, label, count) in the order shown — the first
    stage, the case stages, a `recovered` row with the cohort's money recovered and due (and,
    as its count, the cases recovered in full), then the linked stages (FUNNEL_COLUMNS). Empty
    when the set declares no funnel."""
    stages = _stages(iset)
    if not stages:
        return pd.DataFrame(columns=FUNNEL_COLUMNS)
    w = cohort_window(iset, period, span)
    params = {k: p.value for k, p in iset.parameters.items()}
    n = engine.n
    first, later = stages[0], stages[1:]
    clues = np.zeros(n)
    for m in first.measures:
        got = engine.windows(m, [w], params)[:, 0]
        clues += np.nan_to_num(np.asarray(got, dtype=float))
    # (stage, label, counts, recovered, due) in the order shown
    bars: list[tuple[str, str, np.ndarray, np.ndarray | None, np.ndarray | None]] = []
    case_stages, linked = _split(later)
    case_ledger = _case_ledger(case_stages)
    if case_ledger is None:
        bars.append((first.stage, first.label, clues, None, None))
    else:
        county = engine.county_idx(case_ledger)
        entry = engine.month_idx(case_ledger, LEDGERS[case_ledger].date_field)
        cohort = _in(entry, w) & (county >= 0)
        cohort &= np.logical_or.reduce([engine.mask(m) for m in case_stages[0].measures])
        untraced = cohort & ~_traced(engine, first.measures, case_ledger, w)
        bars.append(
            (first.stage, first.label, clues + _per_county(county, untraced, n), None, None)
        )
        reached = cohort
        for st in case_stages:
            hit = np.logical_or.reduce(
                [engine.mask(m) & _done_by(engine, m, w.end) for m in st.measures]
            )
            reached = reached & hit
            bars.append((st.stage, st.label, _per_county(county, reached, n), None, None))
        rec = iset.presentation.recovery
        ind = iset.indicators.get(rec) if rec else None
        if ind is not None:
            recovered = _money(engine, iset, ind.numerator, case_ledger, cohort, county, w, params)
            due = _money(engine, iset, ind.denominator, case_ledger, cohort, county, w, params)
            full = _recovered_in_full(engine, iset, ind.numerator, ind.denominator, case_ledger)
            if full is None:
                count = np.full(n, np.nan)
            else:
                reached = reached & full
                count = _per_county(county, reached, n)
            bars.append((RECOVERY, t("pres.funnel.recovered"), count, recovered, due))
        for st in linked:
            reached = reached & _linked_done(engine, st, case_ledger, w)
            bars.append((st.stage, st.label, _per_county(county, reached, n), None, None))
    codes = [str(c) for c in engine.counties]
    rows = []
    for code, pos in [(CITY, None), *((c, i) for i, c in enumerate(codes))]:
        for stage, label, arr, got, due in bars:
            rows.append((code, stage, label, _at(arr, pos), _at(got, pos), _at(due, pos)))
    out = pd.DataFrame(rows, columns=FUNNEL_COLUMNS[:6])
    out["window_start"] = month_label(w.start)
    out["window_end"] = month_label(w.end)
    return out


def _at(arr: np.ndarray | None, pos: int | None) -> float:
    """A county's value (`pos`) or the city's sum (None); NaN when there is none."""
    if arr is None:
        return np.nan
    return float(arr.sum()) if pos is None else float(arr[pos])


def _split(later: Sequence[_Stage]) -> tuple[list[_Stage], list[_Stage]]:
    """The case stages (the leading run of stages on the second stage's ledger) and the linked
    stages after them (each on another ledger)."""
    if not later:
        return [], []
    ledger = later[0].ledger
    k = 0
    while k < len(later) and later[k].ledger == ledger:
        k += 1
    linked = []
    for st in later[k:]:
        if st.ledger is None or st.ledger == ledger or st.ledger not in LEDGERS:
            log.warning(t("funnel.log.unlinkable", stage=st.label))
            break
        linked.append(st)
    return list(later[:k]), linked


def _case_ledger(later: Sequence[_Stage]) -> str | None:
    """The one dated ledger the later stages count (the cases); None when they do not share one
    (then the funnel has its first stage only, rather than bars of different things)."""
    ledgers = {m.ledger for st in later for m in st.measures}
    if len(ledgers) != 1:
        if later:
            log.warning(t("funnel.log.mixed_ledgers", ledgers="、".join(sorted(map(str, ledgers)))))
        return None
    ledger = ledgers.pop()
    if ledger not in LEDGERS or not LEDGERS[ledger].date_field:
        return None
    if any(m.date is None or m.agg != "count" for st in later for m in st.measures):
        log.warning(t("funnel.log.undated"))
        return None
    return ledger


def _traced(
    engine: MeasureEngine, clue_measures: Sequence[Measure], case_ledger: str, w: Window
) -> np.ndarray:
    """Case rows a counted first-stage row of the same county links to (a contract reference,
    e.g. 疑点线索.关联案件编号 → 案件编号)."""
    cases = engine.ledgers[case_ledger]
    traced = np.zeros(len(cases), dtype=bool)
    for m in clue_measures:
        if m.agg != "count" or m.ledger not in LEDGERS or m.date is None:
            continue
        for ref in LEDGERS[m.ledger].references:
            if ref.target != case_ledger or ref.target_field not in cases.columns:
                continue
            rows = engine.rows(m, None, w)
            if not len(rows) or ref.field not in rows.columns:
                continue
            linked = rows[ref.field].notna()
            links = _keys(rows.loc[linked, "county_code"], rows.loc[linked, ref.field])
            traced |= np.asarray(_case_keys(engine, case_ledger, ref.target_field).isin(links))
    return traced


def _keys(county: pd.Series, key: pd.Series) -> pd.MultiIndex:
    return pd.MultiIndex.from_arrays(
        [county.astype(str).str.strip().to_numpy(), key.astype(str).str.strip().to_numpy()]
    )


_CASE_KEYS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _case_keys(engine: MeasureEngine, ledger: str, field: str) -> pd.MultiIndex:
    """(county, key) of every case row, built once per engine (every month reuses it)."""
    memo = _CASE_KEYS.setdefault(engine, {})
    if (ledger, field) not in memo:
        df = engine.ledgers[ledger]
        memo[(ledger, field)] = _keys(df["county_code"], df[field])
    return memo[(ledger, field)]


def _per_county(county: np.ndarray, sel: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(county[sel], minlength=n)[:n].astype(float)


def _money(
    engine: MeasureEngine,
    iset: IndicatorSet,
    codes: Sequence[str],
    case_ledger: str,
    cohort: np.ndarray,
    county: np.ndarray,
    w: Window,
    params: dict,
) -> np.ndarray:
    """A money measure summed over the cohort's cases (or, for a measure on another ledger, its
    value in the window, as the KPI card has it)."""
    n = engine.n
    out = np.zeros(n)
    for code in codes:
        m = iset.measures.get(code)
        if m is None:
            continue
        if m.ledger == case_ledger and m.agg == "sum" and m.field:
            vals = pd.to_numeric(engine.ledgers[case_ledger][m.field], errors="coerce")
            vals = np.nan_to_num(vals.to_numpy(dtype=float, na_value=np.nan))
            sel = cohort & engine.mask(m)
            out += np.bincount(county[sel], weights=vals[sel], minlength=n)[:n]
        else:
            out += np.nan_to_num(np.asarray(engine.windows(m, [w], params)[:, 0], dtype=float))
    return out


def _case_values(
    engine: MeasureEngine, iset: IndicatorSet, codes: Sequence[str], case_ledger: str
) -> np.ndarray | None:
    """Per case row, the sum of the money measures `codes` (0 where a measure's filters refuse
    the row); None when one is not a sum of a field of the cases' ledger."""
    out = np.zeros(len(engine.ledgers[case_ledger]))
    for code in codes:
        m = iset.measures.get(code)
        if m is None or m.ledger != case_ledger or m.agg != "sum" or not m.field:
            return None
        vals = pd.to_numeric(engine.ledgers[case_ledger][m.field], errors="coerce")
        vals = np.nan_to_num(vals.to_numpy(dtype=float, na_value=np.nan))
        out += np.where(engine.mask(m), vals, 0.0)
    return out


def _recovered_in_full(
    engine: MeasureEngine,
    iset: IndicatorSet,
    numerator: Sequence[str],
    denominator: Sequence[str],
    case_ledger: str,
) -> np.ndarray | None:
    """Case rows with nothing left to recover: recovered ≥ due (to the fen; no money due counts
    as recovered). None when the recovery indicator is not money summed over the cases."""
    got = _case_values(engine, iset, numerator, case_ledger)
    due = _case_values(engine, iset, denominator, case_ledger)
    if got is None or due is None:
        return None
    return got >= due - 0.005


_LINKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _links(engine: MeasureEngine, ledger: str, case_ledger: str) -> pd.DataFrame:
    """(row, case) pairs: rows of `ledger` and the case rows they link to through the contracts'
    references — naming the case itself, or naming the same row of a dated ledger the case
    names (an inspection) — in the same county. Built once per engine (no window in it)."""
    memo = _LINKS.setdefault(engine, {})
    if (ledger, case_ledger) not in memo:
        memo[(ledger, case_ledger)] = _build_links(engine, ledger, case_ledger)
    return memo[(ledger, case_ledger)]


def _build_links(engine: MeasureEngine, ledger: str, case_ledger: str) -> pd.DataFrame:
    df, cases = engine.ledgers[ledger], engine.ledgers[case_ledger]
    pairs = []
    for ref in LEDGERS[ledger].references:
        if ref.field not in df.columns:
            continue
        if ref.target == case_ledger:
            via = [ref.target_field]
        elif LEDGERS.get(ref.target) is not None and LEDGERS[ref.target].date_field:
            via = [r.field for r in LEDGERS[case_ledger].references if r.target == ref.target]
        else:
            continue  # a register (counties, institutions) links everything: not a link
        named = df[ref.field].notna().to_numpy()
        if not named.any():
            continue
        keys = _keys(df["county_code"], df[ref.field])[named]
        left = pd.DataFrame(
            {
                "row": np.flatnonzero(named),
                "c": keys.get_level_values(0),
                "k": keys.get_level_values(1),
            }
        )
        for field in via:
            if field not in cases.columns:
                continue
            keys = _case_keys(engine, case_ledger, field)
            right = pd.DataFrame(
                {
                    "case": np.arange(len(cases)),
                    "c": keys.get_level_values(0),
                    "k": keys.get_level_values(1),
                }
            )
            right = right[cases[field].notna().to_numpy()]
            pairs.append(left.merge(right, on=["c", "k"])[["row", "case"]])
    if not pairs:
        return pd.DataFrame({"row": [], "case": []}, dtype="int64")
    return pd.concat(pairs, ignore_index=True).drop_duplicates()


def _linked_done(engine: MeasureEngine, st: _Stage, case_ledger: str, w: Window) -> np.ndarray:
    """Case rows at least one row of the linked stage's ledger links to, every linked row known
    by the window's end (its own date by then) being counted by the stage's measures and done
    by the window's end."""
    ledger = st.ledger
    cases = np.zeros(len(engine.ledgers[case_ledger]), dtype=bool)
    if ledger is None or not len(engine.ledgers[ledger]):
        return cases
    n_rows = len(engine.ledgers[ledger])
    known = np.ones(n_rows, dtype=bool)
    if LEDGERS[ledger].date_field:
        own = engine.month_idx(ledger, LEDGERS[ledger].date_field)
        known = (own >= 0) & (own <= w.end)
    done = np.zeros(n_rows, dtype=bool)
    for m in st.measures:
        if not (m.done_by or m.date):
            continue
        when = engine.month_idx(ledger, m.done_by or m.date)  # type: ignore[arg-type]
        # a blank `done_by` date counts as done, as in the engine; a blank own date never
        ok = when <= w.end if m.done_by else (when >= 0) & (when <= w.end)
        done |= engine.mask(m) & ok
    pairs = _links(engine, ledger, case_ledger)
    pairs = pairs[known[pairs["row"].to_numpy(dtype=np.int64)]]
    if not len(pairs):
        return cases
    ok = (
        pd.Series(done[pairs["row"].to_numpy(dtype=np.int64)])
        .groupby(pairs["case"].to_numpy(dtype=np.int64))
        .all()
    )
    cases[ok.index[ok.to_numpy()]] = True
    return cases


def caption(window_start: object, window_end: object, rows: Sequence[dict] = ()) -> str:
    """What the funnel counts, in one sentence for the reader; `rows` (the funnel's records)
    add what 追回 and the linked stages after it counted."""
    start, end = fmt.month_label(window_start), fmt.month_label(window_end)
    if start == "—":
        return ""
    text = t("pres.funnel.caption", start=start, end=end)
    stages = [str(r["stage"]) for r in rows]
    if RECOVERY in stages:
        rec = rows[stages.index(RECOVERY)]
        if fmt.finite(rec.get("count")) is not None:
            text += t("pres.funnel.caption_recovered_full")
        after = [str(r["label"]) for r in rows[stages.index(RECOVERY) + 1 :]]
        if after:
            text += t("pres.funnel.caption_linked", stages="、".join(after), end=end)
    return text
