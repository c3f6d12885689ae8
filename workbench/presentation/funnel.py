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
- each later stage: the cohort cases its measures select whose own date (立案日期, 结案日期)
  falls by the window's end, and that passed every stage before it;
- 追回: the money recovered and due on the cohort's cases (the declared indicator's measures).

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
    (county_code ""): one row per stage (stage, label, count) and a `recovered` row with the
    cohort's money recovered and due (FUNNEL_COLUMNS). Empty when the set declares no funnel."""
    stages = _stages(iset)
    if not stages:
        return pd.DataFrame(columns=FUNNEL_COLUMNS)
    w = cohort_window(iset, period, span)
    params = {k: p.value for k, p in iset.parameters.items()}
    n = engine.n
    counts: list[np.ndarray] = []
    first, later = stages[0], stages[1:]
    clues = np.zeros(n)
    for m in first.measures:
        got = engine.windows(m, [w], params)[:, 0]
        clues += np.nan_to_num(np.asarray(got, dtype=float))
    recovered = due = None
    case_ledger = _case_ledger(later)
    if case_ledger is None:
        counts.append(clues)
    else:
        county = engine.county_idx(case_ledger)
        entry = engine.month_idx(case_ledger, LEDGERS[case_ledger].date_field)
        cohort = _in(entry, w) & (county >= 0)
        cohort &= np.logical_or.reduce([engine.mask(m) for m in later[0].measures])
        untraced = cohort & ~_traced(engine, first.measures, case_ledger, w)
        counts.append(clues + _per_county(county, untraced, n))
        reached = cohort
        for st in later:
            hit = np.logical_or.reduce(
                [engine.mask(m) & _done_by(engine, m, w.end) for m in st.measures]
            )
            reached = reached & hit
            counts.append(_per_county(county, reached, n))
        rec = iset.presentation.recovery
        ind = iset.indicators.get(rec) if rec else None
        if ind is not None:
            recovered = _money(engine, iset, ind.numerator, case_ledger, cohort, county, w, params)
            due = _money(engine, iset, ind.denominator, case_ledger, cohort, county, w, params)
    codes = [str(c) for c in engine.counties]
    rows = []
    for code, pos in [(CITY, None), *((c, i) for i, c in enumerate(codes))]:
        for st, arr in zip(stages, counts):
            value = float(arr.sum()) if pos is None else float(arr[pos])
            rows.append((code, st.stage, st.label, value, np.nan, np.nan))
        if recovered is not None and due is not None:
            r = float(recovered.sum()) if pos is None else float(recovered[pos])
            d = float(due.sum()) if pos is None else float(due[pos])
            rows.append((code, RECOVERY, t("pres.funnel.recovered"), np.nan, r, d))
    out = pd.DataFrame(rows, columns=FUNNEL_COLUMNS[:6])
    out["window_start"] = month_label(w.start)
    out["window_end"] = month_label(w.end)
    return out


def _case_ledger(later: Sequence[_Stage]) -> str | None:
    """The one dated ledger the later stages count (the cases); None when they do not share one
    (then the funnel has its first stage only, rather than bars of different things)."""
    ledgers = {m.ledger for st in later for m in st.measures}
    if len(ledgers) != 1:
        if later:
            log.warning("funnel stages count different ledgers %s; shown as one bar", ledgers)
        return None
    ledger = ledgers.pop()
    if ledger not in LEDGERS or not LEDGERS[ledger].date_field:
        return None
    if any(m.date is None or m.agg != "count" for st in later for m in st.measures):
        log.warning("funnel stages after the first must count dated rows; shown as one bar")
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


def caption(window_start: object, window_end: object) -> str:
    """What the funnel counts, in one sentence for the reader."""
    start, end = fmt.month_label(window_start), fmt.month_label(window_end)
    if start == "—":
        return ""
    return t("pres.funnel.caption", start=start, end=end)
