"""Indicators: measures → values, roll-ups, targets, milestones and the lagging list.

Ratios are recomputed from summed numerators and denominators for every span (a quarter's rate
is Σ numerator ÷ Σ denominator, never the mean of monthly rates); a zero denominator gives a
missing value. All arithmetic is on county × point matrices, so 3,000 counties cost about what
one county does. Pure: ledgers (DataFrames) in, DataFrames out; the calendar and every target
come from the validated declarations.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from workbench import fmt
from workbench.composite import shares_rank, within_bottom
from workbench.contracts import LEDGERS
from workbench.declarations import SPANS as SPANS  # re-exported: the spans the KPI tables use
from workbench.declarations import PHASE_SPAN, Calendar, Indicator, IndicatorSet, Phase, eval_expr
from workbench.measures import MeasureEngine, Window, measure_key, month_index, month_label
from workbench.messages import t
from workbench.periods import PERIOD_SPANS, TO_DATE, Frequency, complete_periods

log = logging.getLogger(__name__)

CURRENT, PREVIOUS_YEAR = "current", "previous_year"

# Milestone statuses (stable codes; Chinese labels in the catalogue)
MET, ON_TRACK, LAGGING, MISSED, NO_DATA = "met", "on_track", "lagging", "missed", "no_data"
LAGGING_STATUSES = (LAGGING, MISSED)


# ---------------------------------------------------------------------------------------------
# Windows
# ---------------------------------------------------------------------------------------------
def span_window(
    span: str,
    end: int,
    calendar: Calendar | None = None,
    role: str = CURRENT,
    frequency: Frequency | None = None,
) -> Window:
    """The months a span covers when it ends at month `end`, shifted for a baseline role.

    month: the month; quarter: quarter-to-date; ytd: January to date; ctd: campaign start to
    date (capped at the campaign's end); r12: the 12 months to date; `phase:<code>`: the
    calendar phase's start to date (capped at the phase's end; empty before it starts); year:
    the calendar year to date; fiscal_year: the fiscal year (of `frequency`) to date; to_date:
    every month up to `end`.
    `previous_year` shifts by 12 months, `year:2024` to the same months of the period named
    2024 (a fiscal year by the year it is named after).
    """
    freq = frequency or Frequency()
    if span in PERIOD_SPANS:
        start = freq.span_start(span, end)
    elif span == "month":
        start = end
    elif span == "quarter":
        start = end - (end % 12) % 3
    elif span == "ytd":
        start = end - end % 12
    elif span == "r12":
        start = end - 11
    elif span == TO_DATE:
        start = 0  # the engines start at the first dated row
    elif span == "ctd":
        if calendar is None:
            start = end - end % 12  # no campaign: fall back to the calendar year
        else:
            start = month_index(pd.Timestamp(calendar.start))
            end = min(end, month_index(pd.Timestamp(calendar.end)))
    elif span.startswith(PHASE_SPAN):
        phase = _phase(span, calendar)
        start = month_index(pd.Timestamp(phase.start))
        end = min(end, month_index(pd.Timestamp(phase.end)))
    else:
        raise ValueError(f"unknown span {span!r}")
    shift = 0
    if role == PREVIOUS_YEAR:
        shift = 12
    elif role.startswith("year:"):
        shift = (freq.year_of(end) - int(role[5:])) * 12
    return Window(start - shift, end - shift)  # type: ignore[operator]


def _phase(span: str, calendar: Calendar | None) -> Phase:
    code = span[len(PHASE_SPAN) :]
    for phase in calendar.phases if calendar is not None else ():
        if phase.code == code:
            return phase
    raise ValueError(f"unknown span {span!r}")


def span_label(span: str, calendar: Calendar | None = None) -> str:
    """A span as users read it: 年初至今, 活动开始至今, 交叉检查阶段…"""
    if span.startswith(PHASE_SPAN):
        try:
            return t("ind.span.phase", name=_phase(span, calendar).name)
        except ValueError:
            return span
    return t(f"ind.span.{span}")


def _roles(iset: IndicatorSet, codes: Iterable[str]) -> list[str]:
    roles = [CURRENT, PREVIOUS_YEAR]
    for code in codes:
        ind = iset.indicators[code]
        for b in (ind.baseline, ind.target.baseline if ind.target else None):
            if b is not None and b.key not in roles:
                roles.append(b.key)
    return roles


def _closure(iset: IndicatorSet, codes: Iterable[str] | None) -> list[str]:
    """The codes asked for plus everything they are computed from, in dependency order."""
    if codes is None:
        return iset.order()
    want: set[str] = set()
    stack = list(codes)
    while stack:
        c = stack.pop()
        if c in want:
            continue
        if c not in iset.indicators:
            raise KeyError(t("ind.unknown_indicator", name=c))
        want.add(c)
        stack.extend(iset.indicators[c].depends_on)
    return [c for c in iset.order() if c in want]


# ---------------------------------------------------------------------------------------------
# Core arithmetic
# ---------------------------------------------------------------------------------------------
def safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num ÷ den with a zero or missing denominator giving NaN (never inf, never an error)."""
    num = np.asarray(num, dtype="float64")
    den = np.asarray(den, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = num / np.where(den == 0, np.nan, den)
    return np.where(np.isfinite(out), out, np.nan)


@dataclass
class Values:
    """Indicator arrays at evaluation points (span, end month) for counties and the city.

    `arrays[code][role]` is (numerator, denominator, value), each counties × points; `city` the
    same with one row. `windows[code][i]` is the current window of point i for that indicator.
    """

    points: list[tuple[str, int]]
    counties: pd.Index
    roles: list[str]
    arrays: dict[str, dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]]
    city: dict[str, dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]]
    windows: dict[str, list[Window]] = field(default_factory=dict)

    def get(
        self, code: str, role: str = CURRENT, city: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        src = self.city if city else self.arrays
        return src[code][role]


def compute_points(
    engine: MeasureEngine,
    iset: IndicatorSet,
    points: Sequence[tuple[str, int]],
    codes: Iterable[str] | None = None,
) -> Values:
    """Every wanted indicator (and its inputs) at each point, for all roles and the city.

    A point is (span, end month index). An indicator with its own `span` (e.g. a quarterly
    check rate) uses that span whatever the point asks for.
    """
    order = _closure(iset, codes)
    roles = _roles(iset, order)
    params = {k: p.value for k, p in iset.parameters.items()}
    cal = iset.calendar
    n_p = len(points)

    def eff_span(ind: Indicator, span: str) -> str:
        return ind.span or span

    # 0. Indicators another set already computed on this engine, alike in every respect
    #    (measures, windows, points, roles, calendar), are taken as they are.
    keys = _indicator_keys(iset, order, params, tuple(points), tuple(roles))
    memo = engine.indicator_memo
    fresh = [c for c in order if keys[c] not in memo]

    # 1. Every window any basic indicator needs, computed once per measure.
    win_key: dict[tuple[str, int, str], int] = {}
    win_list: list[Window] = []
    for code in fresh:
        ind = iset.indicators[code]
        if ind.type not in ("ratio", "share", "count"):
            continue
        for span, end in points:
            for role in roles:
                k = (eff_span(ind, span), end, role)
                if k not in win_key:
                    win_key[k] = len(win_list)
                    win_list.append(span_window(k[0], end, cal, role, iset.frequency))
    needed = sorted(
        {m for c in fresh for m in (*iset.indicators[c].numerator, *iset.indicators[c].denominator)}
    )
    mats: dict[str, np.ndarray] = {}
    city_mats: dict[str, np.ndarray] = {}
    for mcode in needed:
        measure = iset.measures[mcode]
        mat = engine.windows(measure, win_list, params)
        mats[mcode] = mat
        city_mats[mcode] = (
            engine.city_distinct(measure, win_list, params)[None, :]
            if measure.city == "distinct"
            else _city_rollup(mat, measure.city)
        )

    # 2. Indicators in dependency order, for counties and the city alike.
    arrays: dict[str, dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    city: dict[str, dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    windows: dict[str, list[Window]] = {}
    for code in order:
        if keys[code] in memo:
            arrays[code], city[code], windows[code] = memo[keys[code]]
            continue
        ind = iset.indicators[code]
        for target, source, nrows in ((arrays, mats, engine.n), (city, city_mats, 1)):
            target[code] = _indicator_roles(
                ind, points, roles, source, win_key, target, nrows, n_p, eff_span
            )
            _without_baseline(target[code], points, iset.frequency)
        if ind.type in ("ratio", "share", "count"):
            windows[code] = [win_list[win_key[(eff_span(ind, s), e, CURRENT)]] for s, e in points]
        elif ind.depends_on and ind.depends_on[0] in windows:
            windows[code] = windows[ind.depends_on[0]]
        else:
            windows[code] = [span_window(s, e, cal, CURRENT, iset.frequency) for s, e in points]
        engine.remember_indicator(keys[code], (arrays[code], city[code], windows[code]))
    return Values(list(points), engine.counties, roles, arrays, city, windows)


def _indicator_keys(
    iset: IndicatorSet,
    order: Sequence[str],
    params: Mapping[str, object],
    points: tuple,
    roles: tuple,
) -> dict[str, tuple]:
    """What each indicator's arrays depend on, whatever set declared it: its arithmetic, its
    measures as computed (not their names), the indicators it is made from, the points,
    roles and calendar. `order` lists inputs before the indicators made from them."""
    keys: dict[str, tuple] = {}
    for code in order:
        ind = iset.indicators[code]
        measures = tuple(
            (measure_key(m, params), m.rollup, m.since, m.city)
            for m in (iset.measures[c] for c in (*ind.numerator, *ind.denominator))
        )
        keys[code] = (
            ind.type,
            ind.scale,
            ind.span,
            ind.baseline,
            ind.expr.text if ind.expr else None,
            len(ind.numerator),
            measures,
            tuple(keys[d] for d in ind.depends_on),
            points,
            roles,
            iset.calendar,
            iset.frequency,
        )
    return keys


def _city_rollup(mat: np.ndarray, how: str) -> np.ndarray:
    """The city's value of a measure: the counties' sum (or, for levels such as the number of
    departments sharing data, their maximum); missing only when every county is missing."""
    if not len(mat):
        return np.full((1, mat.shape[1]), np.nan)
    gaps = np.isnan(mat)
    if not gaps.any():  # the usual case: nothing missing
        return (mat.max(axis=0) if how == "max" else mat.sum(axis=0))[None, :]
    allnan = np.all(gaps, axis=0)
    filled = np.where(np.isnan(mat), 0.0, mat)
    out = filled.max(axis=0) if how == "max" else filled.sum(axis=0)
    return np.where(allnan, np.nan, out)[None, :]


def _total(mats: Mapping[str, np.ndarray], codes: Sequence[str], cols: list[int]) -> np.ndarray:
    """The sum of these measures' windows `cols` (a new array)."""
    out = mats[codes[0]][:, cols]
    for m in codes[1:]:
        out += mats[m][:, cols]
    return out


def _without_baseline(
    roles: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    points: Sequence[tuple[str, int]],
    frequency: Frequency | None,
) -> None:
    """Blank a `year:Y` baseline at the points of year Y itself and before (in place).

    A baseline year is what later periods are compared with: 2024's months compared with
    "the same months of 2024" are compared with themselves (a change of exactly 0, a target of
    the value × 1.2), and 2023's with months still to come. Neither is a comparison, so at
    those points the baseline — and with it a `change` and a relative target — is missing,
    and every face shows 「—」 instead of 0 % or a target line that moves with the value."""
    freq = frequency or Frequency()
    for role, arrs in list(roles.items()):
        if not role.startswith("year:"):
            continue
        year = int(role[5:])
        cols = [i for i, (_, end) in enumerate(points) if freq.year_of(end) <= year]
        if not cols:
            continue
        blank = []
        for a in arrs:
            a = np.array(a, dtype="float64", copy=True)
            a[:, cols] = np.nan
            blank.append(a)
        roles[role] = (blank[0], blank[1], blank[2])


def _indicator_roles(
    ind: Indicator,
    points: Sequence[tuple[str, int]],
    roles: list[str],
    mats: Mapping[str, np.ndarray],
    win_key: Mapping,
    done: Mapping,
    nrows: int,
    n_p: int,
    eff_span,
) -> dict:
    nan = np.full((nrows, n_p), np.nan)
    out: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    if ind.type in ("ratio", "share", "count"):
        for role in roles:
            cols = [win_key[(eff_span(ind, s), e, role)] for s, e in points]
            num = _total(mats, ind.numerator, cols)
            if ind.type == "count":
                out[role] = (num, nan, num * ind.scale)
            else:
                den = _total(mats, ind.denominator, cols)
                out[role] = (num, den, safe_ratio(num, den) * ind.scale)
        return out
    if ind.type == "change":
        base = done[ind.of]
        now = base[CURRENT][2]
        then = base[ind.baseline.key][2]  # type: ignore[union-attr]
        out[CURRENT] = (now, then, safe_ratio(now - then, then) * ind.scale)
        for role in roles[1:]:
            out[role] = (nan, nan, nan)
        return out
    # derived
    for role in roles:
        env = {name: done[name][role][2] for name in ind.expr.names}  # type: ignore[union-attr]
        val = np.asarray(eval_expr(ind.expr, env), dtype="float64") * ind.scale  # type: ignore
        val = np.broadcast_to(val, (nrows, n_p)).copy()
        out[role] = (nan, nan, np.where(np.isfinite(val), val, np.nan))
    return out


# ---------------------------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------------------------
def target_values(ind: Indicator, values: Values, city: bool = False) -> np.ndarray:
    """The target each unit is held to: a fixed value, or its own baseline × (1 + relative),
    kept within the indicator's declared `bounds` (a 查处率 of 100% last December cannot be
    asked to rise to 120%: the target is the bound)."""
    shape = values.get(ind.code, city=city)[2].shape
    tg = ind.target
    if tg is None:
        return np.full(shape, np.nan)
    if tg.is_relative:
        base = values.get(ind.code, tg.baseline.key, city)[2]  # type: ignore[union-attr]
        target = base * (1.0 + tg.relative)  # type: ignore[operator]
        lo, hi = relative_bounds(ind)
        return np.clip(target, lo, hi) if np.isfinite([lo, hi]).any() else target
    return np.full(shape, float(tg.value))  # type: ignore[arg-type]


def relative_bounds(ind: Indicator) -> tuple[float, float]:
    """The range a relative target is kept within: the indicator's declared `bounds`
    (-inf/inf where open or undeclared)."""
    lo, hi = ind.bounds if ind.bounds is not None else (None, None)
    return (-np.inf if lo is None else float(lo), np.inf if hi is None else float(hi))


def baseline_size(iset: IndicatorSet, ind: Indicator, values: Values, city: bool) -> np.ndarray:
    """How much data the comparison base of a KPI rests on — for a rate the smaller of its
    numerator and denominator, for a count the count — of the baseline a relative target or a
    change compares with, else of the same span last year. The presentation layer refuses to
    judge on too thin a base (`min_baseline`)."""

    def size(code: str, role: str) -> np.ndarray:
        num, den, _ = values.get(code, role, city)
        base = iset.indicators[code]
        # a rate rests on its rarer part: 1 closed case in 370 leads is one event, not 370
        return np.fmin(num, den) if base.type in ("ratio", "share") else num

    try:
        if ind.type == "change" and ind.of in iset.indicators and ind.baseline is not None:
            return size(ind.of, ind.baseline.key)
        if ind.target is not None and ind.target.is_relative and ind.target.baseline is not None:
            return size(ind.code, ind.target.baseline.key)
        if ind.type in ("ratio", "share", "count"):
            return size(ind.code, PREVIOUS_YEAR)
    except KeyError:  # a role the set did not compute
        pass
    return np.full_like(values.get(ind.code, CURRENT, city)[2], np.nan)


def compare(value: np.ndarray, op: str, target: np.ndarray | float) -> np.ndarray:
    """Met? as a float array: 1.0 / 0.0, NaN where value or target is missing."""
    value = np.asarray(value, dtype="float64")
    target = np.broadcast_to(np.asarray(target, dtype="float64"), value.shape)
    # A tolerance of a few ulps so 0.1 + 0.2 ≥ 0.3 holds as a clerk expects.
    tol = 1e-9 * np.maximum(1.0, np.abs(target))
    with np.errstate(invalid="ignore"):
        if op == ">=":
            ok = value >= target - tol
        elif op == ">":
            ok = value > target + tol
        elif op == "<=":
            ok = value <= target + tol
        elif op == "<":
            ok = value < target - tol
        else:
            ok = np.abs(value - target) <= tol
    out = ok.astype("float64")
    out[np.isnan(value) | np.isnan(target)] = np.nan
    return out


def shortfall(value: np.ndarray, op: str, target: np.ndarray) -> np.ndarray:
    """How far from the target in the indicator's own unit (0 when met)."""
    with np.errstate(invalid="ignore"):
        if op in (">=", ">"):
            return np.maximum(target - value, 0.0)
        if op in ("<=", "<"):
            return np.maximum(value - target, 0.0)
        return np.abs(value - target)


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------
KPI_COLUMNS = [
    "county_code",
    "county_name",
    "period",
    "span",
    "window_start",
    "window_end",
    "indicator",
    "indicator_name",
    "unit",
    "direction",
    "numerator",
    "denominator",
    "value",
    "prev_value",
    "yoy",
    "baseline_size",
    "target_op",
    "target",
    "gap",
    "shortfall",
    "met",
    "deadline",
    "target_source",
    "workbench_definition",
]


def _text(values: np.ndarray) -> pd.Series:
    """Object column without pandas' (slow, per-cell) string-dtype inference."""
    return pd.Series(values, dtype=object, copy=False)


def kpi_frame(
    values: Values,
    iset: IndicatorSet,
    names: pd.Series | None = None,
    codes: Iterable[str] | None = None,
    city: bool = False,
    city_name: str = "",
    spans: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Long table, one row per point × indicator × unit, in that order (see KPI_COLUMNS);
    `spans` keeps only the points of those spans. Each point's rows are one contiguous block,
    so a table over several points slices into the single-point tables."""
    codes = [c for c in (codes or values.arrays) if c in values.arrays]
    keep = [i for i, (s, _) in enumerate(values.points) if spans is None or s in set(spans)]
    points = [values.points[i] for i in keep]
    if city:
        units = np.array(["city"], dtype=object)
        unit_names = np.array([city_name or t("ind.city")], dtype=object)
    else:
        units = values.counties.to_numpy(dtype=object)
        unit_names = (
            names.reindex(values.counties)
            .fillna(pd.Series(values.counties, index=values.counties))
            .to_numpy(dtype=object)
            if names is not None
            else units
        )
    n_u, n_p, n_i = len(units), len(points), len(codes)
    if not n_i or not n_p:
        return pd.DataFrame(columns=KPI_COLUMNS)
    # Numbers go straight into their place in point × indicator × unit order.
    num_cols: dict[str, np.ndarray] = {
        k: np.empty((n_p, n_i, n_u))
        for k in (
            "numerator",
            "denominator",
            "value",
            "prev_value",
            "yoy",
            "baseline_size",
            "target",
            "gap",
            "shortfall",
            "met",
        )
    }
    per_ind: dict[str, list[object]] = {
        k: []
        for k in (
            "indicator",
            "indicator_name",
            "unit",
            "direction",
            "target_op",
            "deadline",
            "target_source",
            "workbench_definition",
        )
    }
    win_start: list[list[object]] = []
    win_end: list[list[object]] = []
    for ii, code in enumerate(codes):
        ind = iset.indicators[code]
        num, den, val = (a[:, keep] for a in values.get(code, CURRENT, city))
        prev = values.get(code, PREVIOUS_YEAR, city)[2][:, keep]
        yoy = safe_ratio(val - prev, prev) if ind.type != "change" else np.full_like(val, np.nan)
        tgt = target_values(ind, values, city)[:, keep]
        op = ind.target.op if ind.target else ""
        nan = np.full(val.shape, np.nan)
        for k, arr in (
            ("numerator", num),
            ("denominator", den),
            ("value", val),
            ("prev_value", prev),
            ("yoy", yoy),
            ("baseline_size", baseline_size(iset, ind, values, city)[:, keep]),
            ("target", tgt),
            ("gap", val - tgt),
            ("shortfall", shortfall(val, op, tgt) if ind.target else nan),
            ("met", compare(val, op, tgt) if ind.target else nan),
        ):
            num_cols[k][:, ii, :] = arr.T
        for k, v in (
            ("indicator", code),
            ("indicator_name", ind.name),
            ("unit", ind.unit),
            ("direction", ind.direction),
            ("target_op", op),
            (
                "deadline",
                ind.target.deadline.isoformat() if ind.target and ind.target.deadline else None,
            ),
            ("target_source", ind.target.source if ind.target else ""),
            ("workbench_definition", ind.workbench_definition),
        ):
            per_ind[k].append(v)
        wins = [values.windows[code][i] for i in keep]
        # a window of every month up to the period (`to_date`) has no first month: blank
        win_start.append([None if w.empty or w.start <= 0 else month_label(w.start) for w in wins])
        win_end.append([None if w.empty else month_label(w.end) for w in wins])

    def rows(per_indicator: Sequence[object], dtype: object = object) -> np.ndarray:
        """An indicator-level value on every row: point × indicator × unit."""
        return np.tile(np.repeat(np.asarray(per_indicator, dtype=dtype), n_u), n_p)

    def by_point_indicator(grid: list[list[object]]) -> np.ndarray:
        return np.repeat(np.asarray(grid, dtype=object).T.reshape(-1), n_u)

    met = num_cols["met"].reshape(-1)
    met_arr = pd.arrays.BooleanArray(met == 1.0, np.isnan(met))
    cols: dict[str, object] = {
        "county_code": _text(np.tile(units, n_p * n_i)),
        "county_name": _text(np.tile(unit_names, n_p * n_i)),
        "period": _text(
            np.repeat(np.array([month_label(e) for _, e in points], dtype=object), n_i * n_u)
        ),
        "span": _text(np.repeat(np.array([s for s, _ in points], dtype=object), n_i * n_u)),
        "window_start": _text(by_point_indicator(win_start)),
        "window_end": _text(by_point_indicator(win_end)),
        "direction": pd.arrays.IntegerArray(
            rows(per_ind["direction"], np.int64), np.zeros(n_p * n_i * n_u, dtype=bool)
        ),
        "met": met_arr,
        "workbench_definition": rows(per_ind["workbench_definition"], bool),
    }
    for k in ("indicator", "indicator_name", "unit", "target_op", "deadline", "target_source"):
        cols[k] = _text(rows(per_ind[k]))
    for k in (
        "numerator",
        "denominator",
        "value",
        "prev_value",
        "yoy",
        "baseline_size",
        "target",
        "gap",
        "shortfall",
    ):
        cols[k] = num_cols[k].reshape(-1)
    return pd.DataFrame({k: cols[k] for k in KPI_COLUMNS}, copy=False)


def compute_kpis(
    ledgers: Mapping[str, pd.DataFrame] | MeasureEngine,
    iset: IndicatorSet,
    period: str,
    spans: Sequence[str] = ("ytd",),
    codes: Iterable[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(county table, city table) for `period` and each span; see KPI_COLUMNS."""
    engine = ledgers if isinstance(ledgers, MeasureEngine) else MeasureEngine(ledgers)
    end = month_index(period)
    values = compute_points(engine, iset, [(s, end) for s in spans], codes)
    names = engine.county_names(end // 12)
    wanted = list(codes) if codes is not None else None
    return (
        kpi_frame(values, iset, names, wanted),
        kpi_frame(values, iset, codes=wanted, city=True, city_name=engine.city_name()),
    )


@dataclass(frozen=True)
class TrendArrays:
    """One indicator's monthly series: each array is (counties + the city) × months, the
    counties in `counties` order and the city last."""

    periods: list[str]
    counties: pd.Index
    numerator: np.ndarray
    denominator: np.ndarray
    value: np.ndarray
    target: np.ndarray
    met: np.ndarray  # 1.0 / 0.0, NaN where value or target is missing


def trend_arrays(
    ledgers: Mapping[str, pd.DataFrame] | MeasureEngine,
    iset: IndicatorSet,
    indicator: str,
    start: str,
    end: str,
    span: str = "month",
) -> TrendArrays:
    """The series of one indicator for every county and the city, as arrays: one point a
    month, or one a period for a set of coarser frequency (labelled 2023财年 …)."""
    engine = ledgers if isinstance(ledgers, MeasureEngine) else MeasureEngine(ledgers)
    lo, hi = month_index(start), month_index(end)
    freq = iset.frequency
    ends = list(range(lo, hi + 1)) if freq.is_monthly else freq.ends(lo, hi)
    if not freq.is_monthly and span not in freq.spans:
        span = freq.natural_span
    values = compute_points(engine, iset, [(span, m) for m in ends], [indicator])
    ind = iset.indicators[indicator]
    rows: dict[str, list[np.ndarray]] = {
        k: [] for k in ("numerator", "denominator", "value", "target", "met")
    }
    for city in (False, True):
        num, den, val = values.get(indicator, CURRENT, city)
        tgt = target_values(ind, values, city)
        met = compare(val, ind.target.op, tgt) if ind.target else np.full_like(val, np.nan)
        for k, arr in zip(rows, (num, den, val, tgt, met)):
            rows[k].append(arr)
    labels = month_range_labels(lo, hi) if freq.is_monthly else [freq.label(e) for e in ends]
    return TrendArrays(labels, engine.counties, **{k: np.vstack(v) for k, v in rows.items()})


def trend_table(
    ledgers: Mapping[str, pd.DataFrame] | MeasureEngine,
    iset: IndicatorSet,
    indicator: str,
    start: str,
    end: str,
    span: str = "month",
) -> pd.DataFrame:
    """Monthly series of one indicator for every county and the city (county_code "city"):
    one row per unit × month (county_code, period, span, numerator, denominator, value,
    target, met), counties in code order then the city, months in order."""
    a = trend_arrays(ledgers, iset, indicator, start, end, span)
    codes = np.append(a.counties.to_numpy(dtype=object), np.array(["city"], dtype=object))
    met = a.met.reshape(-1)
    return pd.DataFrame(
        {
            "county_code": np.repeat(codes, len(a.periods)),
            "period": np.tile(np.array(a.periods, dtype=object), len(codes)),
            "span": span,
            "numerator": a.numerator.reshape(-1),
            "denominator": a.denominator.reshape(-1),
            "value": a.value.reshape(-1),
            "target": a.target.reshape(-1),
            "met": pd.arrays.BooleanArray(met == 1.0, np.isnan(met)),
        }
    )


def trend(
    ledgers: Mapping[str, pd.DataFrame] | MeasureEngine,
    iset: IndicatorSet,
    indicator: str,
    start: str,
    end: str,
    span: str = "month",
    county: str | None = None,
) -> pd.DataFrame:
    """Monthly series (period, span, numerator, denominator, value, target, met) for one
    county or, with `county=None`, the city (see `trend_table`)."""
    engine = ledgers if isinstance(ledgers, MeasureEngine) else MeasureEngine(ledgers)
    if county is not None and str(county) not in set(engine.counties):
        raise KeyError(t("ind.unknown_county", county=county))
    table = trend_table(engine, iset, indicator, start, end, span)
    mine = table["county_code"] == ("city" if county is None else str(county))
    return table[mine].drop(columns="county_code").reset_index(drop=True)


def month_range_labels(lo: int, hi: int) -> list[str]:
    return [month_label(m) for m in range(lo, hi + 1)]


# ---------------------------------------------------------------------------------------------
# Milestones and the lagging list
# ---------------------------------------------------------------------------------------------
MILESTONE_COLUMNS = [
    "county_code",
    "county_name",
    "milestone",
    "milestone_name",
    "indicator",
    "indicator_name",
    "unit",
    "decimals",
    "op",
    "target",
    "deadline",
    "span",
    "as_of",
    "basis",
    "current_value",
    "projected_value",
    "status",
    "status_label",
    "months_left",
    "source",
]


def project_linear(series: np.ndarray, x: np.ndarray, at: float, min_points: int = 2) -> np.ndarray:
    """Per row, least-squares line through the non-missing points, evaluated at `at`.

    Rows with fewer than `min_points` points keep their last value (flat); rows with none
    stay missing. Vectorised over rows.
    """
    y = np.asarray(series, dtype="float64")
    if y.ndim != 2 or not y.shape[1]:  # no points yet (before the campaign starts)
        return np.full(y.shape[0] if y.ndim else 0, np.nan)
    ok = np.isfinite(y)
    xs = np.broadcast_to(np.asarray(x, dtype="float64"), y.shape)
    n = ok.sum(axis=1)
    y0 = np.where(ok, y, 0.0)
    x0 = np.where(ok, xs, 0.0)
    sx, sy = x0.sum(axis=1), y0.sum(axis=1)
    sxx, sxy = (x0 * x0).sum(axis=1), (x0 * y0).sum(axis=1)
    denom = n * sxx - sx * sx
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(denom > 0, (n * sxy - sx * sy) / denom, 0.0)
        intercept = np.where(n > 0, (sy - slope * sx) / np.maximum(n, 1), np.nan)
    fitted = intercept + slope * at
    # last observed value for rows too short to fit
    last_idx = np.where(ok, np.arange(y.shape[1])[None, :], -1).max(axis=1)
    last = np.where(last_idx >= 0, y[np.arange(y.shape[0]), np.maximum(last_idx, 0)], np.nan)
    out = np.where(n >= max(min_points, 2), fitted, last)
    return np.where(n == 0, np.nan, out)


def milestone_frame(
    engine: MeasureEngine, iset: IndicatorSet, period: str, city: bool = False
) -> pd.DataFrame:
    """Each county's (or the city's) status on every calendar milestone at `period`.

    Before the deadline the cumulative value's linear trend (months since the campaign start)
    is projected to the deadline month: a projected miss is 进度滞后. After the deadline the
    value at the deadline month decides 已达标 / 逾期未达标.
    """
    cal = iset.calendar
    if cal is None or not cal.milestones:
        return pd.DataFrame(columns=MILESTONE_COLUMNS)
    now = month_index(period)
    names = engine.county_names(now // 12)
    parts = []
    for ms in cal.milestones:
        if ms.indicator not in iset.indicators:
            continue
        ind = iset.indicators[ms.indicator]
        # the trajectory runs from the campaign's start, or the phase's for a phase span
        start = month_index(
            pd.Timestamp(
                _phase(ms.span, cal).start if ms.span.startswith(PHASE_SPAN) else cal.start
            )
        )
        deadline = month_index(pd.Timestamp(ms.deadline))
        last = min(now, deadline)
        if last < start:
            points: list[tuple[str, int]] = []
        else:
            points = [(ms.span, m) for m in range(start, last + 1)]
        if points:
            vals = compute_points(engine, iset, points, [ms.indicator])
            series = vals.get(ms.indicator, CURRENT, city)[2]
        else:
            series = np.full((1 if city else engine.n, 0), np.nan)
        rows = series.shape[0]
        current = series[:, -1] if series.shape[1] else np.full(rows, np.nan)
        if now >= deadline:
            projected = current.copy()
        else:
            x = np.arange(start, last + 1, dtype="float64")
            projected = project_linear(series, x, float(deadline), cal.projection_min_points)
            if ind.bounds is not None:
                lo, hi = ind.bounds
                projected = np.clip(
                    projected, -np.inf if lo is None else lo, np.inf if hi is None else hi
                )
        met_now = compare(current, ms.op, ms.value)
        met_proj = compare(projected, ms.op, ms.value)
        status = np.full(rows, NO_DATA, dtype=object)
        if now >= deadline:
            status[met_now == 1.0] = MET
            status[met_now == 0.0] = MISSED
        else:
            status[met_proj == 0.0] = LAGGING
            status[met_proj == 1.0] = ON_TRACK
            status[met_now == 1.0] = MET
        if city:
            codes = np.array(["city"], dtype=object)
            unit_names = np.array([engine.city_name() or t("ind.city")], dtype=object)
        else:
            codes = engine.counties.to_numpy(dtype=object)
            unit_names = names.reindex(engine.counties).to_numpy(dtype=object)
        parts.append(
            pd.DataFrame(
                {
                    "county_code": codes,
                    "county_name": unit_names,
                    "milestone": ms.code,
                    "milestone_name": ms.name,
                    "indicator": ind.code,
                    "indicator_name": ind.name,
                    "unit": ind.unit,
                    "decimals": getattr(ind, "decimals", None),
                    "op": ms.op,
                    "target": ms.value,
                    "deadline": ms.deadline.isoformat(),
                    "span": ms.span,
                    "as_of": month_label(last) if last >= start else None,
                    "basis": t(
                        "ind.milestone_basis",
                        span=span_label(ms.span, cal),
                        as_of=fmt.month_label(month_label(last)),
                    )
                    if last >= start
                    else "",
                    "current_value": current,
                    "projected_value": projected,
                    "status": status,
                    "status_label": [t(f"ind.status.{s}") for s in status],
                    "months_left": max(deadline - now, 0),
                    "source": ms.source,
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=MILESTONE_COLUMNS)
    return pd.concat(parts, ignore_index=True)[MILESTONE_COLUMNS]


def op_label(op: object) -> str:
    return fmt.op_sign(op)


def milestone_reason(row: Mapping[str, object]) -> str:
    unit, dec = str(row["unit"]), row.get("decimals")
    values = dict(
        name=row["milestone_name"],
        indicator=row["indicator_name"],
        basis=row.get("basis") or "",
        current=fmt.value_text(row["current_value"], unit, dec),
        projected=fmt.value_text(row["projected_value"], unit, dec),
        op=op_label(row["op"]),
        target=fmt.value_text(row["target"], unit, dec),
        deadline=fmt.date_label(row["deadline"]),
    )
    return t(f"ind.reason.{row['status']}", **values)


LAGGING_COLUMNS = [
    "county_code",
    "county_name",
    "n_milestones",
    "milestones",
    "reasons",
    "n_missed_targets",
    "missed_targets",
    "criteria",
    "list_level",
    "as_of",
]

# The two lists a county can be on (`list_level`): 约谈 (summoned: 002 四（二） “对进度
# 滞后、问题突出的地区……约谈相关负责人”) and 督促 (named in the 通报 and told to put it right
# by a date: the same clause's “通报各地进展”, for a milestone missed by a little). Labels
# `talk.level.<code>`, `talk.list.<code>`.
TALK_LEVEL, REMIND_LEVEL = "talk", "remind"
TALK_LEVELS = (TALK_LEVEL, REMIND_LEVEL)


# ---------------------------------------------------------------------------------------------
# 约谈名单: 002 四（二）“对进度滞后、问题突出的地区……约谈”, by the criteria the set declares
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TalkCriteria:
    """What puts a county on the 约谈 list, from the set's `talk_*` parameters: milestones
    projected to miss or missed (进度滞后); the default index's grade in `grades`, a rank in
    the last `bottom_n`, or at least `unmet_kpis` targets not met (问题突出). Zero or empty
    turns a situation off; a set that declares none keeps the milestones alone. A target whose
    deadline falls after `period` is not yet unmet (the presentation layer's 未达标（时限未到）).
    Before the campaign of the set's calendar starts nobody is listed (002 四（二） is a rule of
    the campaign).

    进度滞后 summons a county (约谈) when it lags on at least `min_milestones` milestones, or on
    one short of its target by at least `milestone_shortfall` of the target (0: off); a county
    lagging less than that goes on the lesser 督促 list instead. 约谈 is the leading group
    calling in a county's 负责人 (002 四（二）; 000: “对基金监管工作落实不力……的地区，要约谈
    部门主要负责人”), not the answer to one target missed by a point: with both thresholds at
    their defaults (1, 0) every lagging county is summoned, as before they were declared."""

    milestones: bool = True
    grades: tuple[str, ...] = ()
    bottom_n: int = 0
    unmet_kpis: int = 0
    period: str | None = None
    active: bool = True  # false before the campaign the set's calendar runs: no 约谈 then
    min_milestones: int = 1
    milestone_shortfall: float = 0.0

    @property
    def uses_index(self) -> bool:
        return bool(self.grades) or self.bottom_n > 0


def talk_criteria(iset: IndicatorSet, period: str | None = None) -> TalkCriteria:
    """The set's declared 约谈 criteria (parameters `talk_on_milestones`, `talk_min_milestones`,
    `talk_milestone_shortfall`, `talk_grade`, `talk_bottom_n`, `talk_unmet_kpis`)."""
    params = iset.parameters

    def value(code: str, default: object) -> object:
        return params[code].value if code in params else default

    grades = str(value("talk_grade", "") or "")
    cal = iset.calendar
    active = (
        cal is None or period is None or month_index(period) >= month_index(pd.Timestamp(cal.start))
    )
    return TalkCriteria(
        milestones=bool(float(value("talk_on_milestones", 1) or 0)),
        grades=tuple(g for g in re.split(r"[、,，;；\s]+", grades) if g),
        bottom_n=int(float(value("talk_bottom_n", 0) or 0)),
        unmet_kpis=int(float(value("talk_unmet_kpis", 0) or 0)),
        period=period,
        active=active,
        min_milestones=max(int(float(value("talk_min_milestones", 1) or 1)), 1),
        milestone_shortfall=max(float(value("talk_milestone_shortfall", 0) or 0), 0.0),
    )


def has_lagging_list(iset: IndicatorSet) -> bool:
    """Whether a set can put a unit on the 进度滞后 list at all: it has milestones (a calendar)
    to miss, or declares another 约谈 criterion (a grade, the bottom n, unmet targets)."""
    crit = talk_criteria(iset)
    by_milestones = crit.milestones and iset.calendar is not None
    return by_milestones or bool(crit.grades or crit.bottom_n or crit.unmet_kpis)


INDEX_ROOT_COLUMNS = ["county_code", "county_name", "score", "rank", "grade", "index_name"]


def index_root(index_table: pd.DataFrame, hierarchy: str) -> pd.DataFrame:
    """Each county's overall score, rank and grade on one hierarchy (its root node), from the
    long table `Evaluation.index_table` gives."""
    if index_table is None or not len(index_table):
        return pd.DataFrame(columns=INDEX_ROOT_COLUMNS)
    root = index_table[(index_table["hierarchy"] == hierarchy) & (index_table["node"] == hierarchy)]
    return root.rename(columns={"hierarchy_name": "index_name"})[INDEX_ROOT_COLUMNS].reset_index(
        drop=True
    )


_TALK_COLUMNS = ["county_code", "county_name", "reason", "serious", "as_of"]


def milestone_shortfall(milestones: pd.DataFrame) -> np.ndarray:
    """How far each milestone row falls short of its target, as a share of the target: the
    value that decides its status (the projection while 进度滞后, the value at the deadline
    once 逾期未达标) against the target, in the direction of its comparison; 0 when not short,
    +inf when the target is 0 and missed."""
    if not len(milestones):
        return np.zeros(0)
    missed = milestones["status"].astype(str).eq(MISSED).to_numpy()
    current = pd.to_numeric(milestones["current_value"], errors="coerce").to_numpy(dtype=float)
    projected = pd.to_numeric(milestones["projected_value"], errors="coerce").to_numpy(dtype=float)
    value = np.where(missed, current, projected)
    target = pd.to_numeric(milestones["target"], errors="coerce").to_numpy(dtype=float)
    below = milestones["op"].astype(str).isin(("<=", "<")).to_numpy()
    gap = np.where(below, value - target, target - value)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(target != 0, gap / np.abs(target), np.where(gap > 0, np.inf, 0.0))
    return np.nan_to_num(np.clip(share, 0.0, None), nan=0.0, posinf=np.inf)


def _talk_milestones(milestones, kpis, scores, crit) -> pd.DataFrame:
    if not crit.milestones or not len(milestones):
        return pd.DataFrame(columns=_TALK_COLUMNS)
    bad = milestones[milestones["status"].isin(LAGGING_STATUSES)]
    codes = bad["county_code"].astype(str)
    many = codes.map(codes.value_counts()).to_numpy() >= crit.min_milestones
    far = (
        milestone_shortfall(bad) >= crit.milestone_shortfall
        if crit.milestone_shortfall > 0
        else np.zeros(len(bad), dtype=bool)
    )
    serious = pd.Series(many | far, index=bad.index).groupby(codes).transform("any")
    return pd.DataFrame(
        {
            "county_code": bad["county_code"].to_numpy(dtype=object),
            "county_name": bad["county_name"].to_numpy(dtype=object),
            "reason": [milestone_reason(r) for r in bad.to_dict("records")],
            "serious": serious.to_numpy(dtype=bool),
            "as_of": bad["as_of"].to_numpy(dtype=object),
        }
    )


def _talk_grade(milestones, kpis, scores, crit) -> pd.DataFrame:
    if not crit.grades or scores is None or not len(scores):
        return pd.DataFrame(columns=_TALK_COLUMNS)
    hit = scores[scores["grade"].isin(crit.grades)]
    reasons = [
        t(
            "talk.reason.grade",
            index=r["index_name"],
            score=fmt.value_text(r["score"], "score"),
            grade=r["grade"],
        )
        for r in hit.to_dict("records")
    ]
    return hit.assign(reason=reasons, serious=True, as_of=crit.period)[_TALK_COLUMNS]


def bottom_place_text(rank: object, n: int, k: int, tied: bool = False) -> str:
    """Where a rank among the last `k` of `n` stands, in one phrase (every face reads the 约谈
    reason built from it): `末位（第10名，共10个区县）` for the last place, `并列末位（并列第9名，
    共10个区县）` when it is shared, `第9名（共10个区县），居后3位` for the last k > 1."""
    tie = t("pres.rank.tied") if tied else ""
    key = "talk.place.last" if k <= 1 else "talk.place.bottom"
    return t(key, tie=tie, rank=int(float(rank)), n=int(n), k=int(k))


def _talk_bottom(milestones, kpis, scores, crit) -> pd.DataFrame:
    if crit.bottom_n <= 0 or scores is None or not len(scores):
        return pd.DataFrame(columns=_TALK_COLUMNS)
    rank = pd.to_numeric(scores["rank"], errors="coerce")
    ranked = int(rank.notna().sum())
    # published ranks 并列 equal printed scores: a tie at the boundary is on the list whole
    bottom = within_bottom(rank, crit.bottom_n)
    hit = scores[bottom]
    tied = shares_rank(rank)[bottom]
    reasons = [
        t(
            "talk.reason.bottom",
            index=r["index_name"],
            place=bottom_place_text(r["rank"], ranked, crit.bottom_n, bool(shared)),
        )
        for r, shared in zip(hit.to_dict("records"), tied, strict=True)
    ]
    return hit.assign(reason=reasons, serious=True, as_of=crit.period)[_TALK_COLUMNS]


def _talk_unmet(milestones, kpis, scores, crit) -> pd.DataFrame:
    if crit.unmet_kpis <= 0 or kpis is None or not len(kpis):
        return pd.DataFrame(columns=_TALK_COLUMNS)
    unmet = kpis["met"].eq(False).fillna(False).to_numpy(dtype=bool)
    if crit.period:
        end = pd.Period(str(crit.period)[:7], freq="M").end_time.normalize()
        ahead = pd.to_datetime(kpis["deadline"], errors="coerce") > end
        unmet = unmet & ~ahead.to_numpy(dtype=bool)
    per = (
        kpis[unmet]
        .groupby("county_code", sort=True)
        .agg(
            county_name=("county_name", "first"),
            n=("indicator", "size"),
            names=("indicator_name", "、".join),
        )
        .reset_index()
    )
    hit = per[per["n"] >= crit.unmet_kpis]
    reasons = [
        t("talk.reason.unmet", n=int(r["n"]), names=r["names"]) for r in hit.to_dict("records")
    ]
    return hit.assign(reason=reasons, serious=True, as_of=crit.period)[_TALK_COLUMNS]


# criterion code → who it puts on the list, with a reason each; the code's label is
# `talk.criterion.<code>` in the catalogue (进度滞后 / 综合评分等级 / 综合排名末位 / 多项指标未达标)
TALK_RULES = {
    "milestones": _talk_milestones,
    "grade": _talk_grade,
    "bottom": _talk_bottom,
    "unmet_kpis": _talk_unmet,
}


def lagging_frame(
    milestones: pd.DataFrame,
    kpis: pd.DataFrame | None = None,
    scores: pd.DataFrame | None = None,
    criteria: TalkCriteria | None = None,
) -> pd.DataFrame:
    """约谈名单 and 督促名单: every county one of the declared criteria puts on a list, with the
    criteria (`criteria`, Chinese labels), a reason for each (`reasons`), its list (`list_level`:
    `talk` when any criterion is serious — grade, rank, unmet targets, or 进度滞后 past the
    declared count or shortfall, see `TalkCriteria` — else `remind`) and the newest month its
    evidence stands at (`as_of`, YYYY-MM: a 复查 after it cannot have seen it); the milestones
    it lags on and the KPI targets it missed this period are listed alongside. `scores`: the
    default index's root (`index_root`), for the grade and ranking criteria. 约谈 first, then
    most criteria, most milestones, most missed targets."""
    crit = criteria or TalkCriteria()
    if not crit.active:
        return pd.DataFrame(columns=LAGGING_COLUMNS)
    found = [
        rule(milestones, kpis, scores, crit).assign(criterion=code)
        for code, rule in TALK_RULES.items()
    ]
    found = [f for f in found if len(f)]
    if not found:
        return pd.DataFrame(columns=LAGGING_COLUMNS)
    hits = pd.concat(found, ignore_index=True)
    hits["label"] = [t(f"talk.criterion.{c}") for c in hits["criterion"]]
    grouped = (
        hits.groupby("county_code", sort=True)
        .agg(
            county_name=("county_name", "first"),
            reasons=("reason", "；".join),
            criteria=("label", lambda s: "、".join(dict.fromkeys(s))),
            n_criteria=("criterion", "nunique"),
            serious=("serious", "any"),
            as_of=("as_of", lambda s: max((str(x) for x in s if isinstance(x, str)), default=None)),
        )
        .reset_index()
    )
    grouped["list_level"] = np.where(grouped["serious"].astype(bool), TALK_LEVEL, REMIND_LEVEL)
    lag = milestones[milestones["status"].isin(LAGGING_STATUSES)] if len(milestones) else None
    if lag is not None and len(lag):
        per_ms = lag.groupby("county_code").agg(
            n_milestones=("milestone", "size"), milestones=("milestone_name", "、".join)
        )
        grouped = grouped.join(per_ms, on="county_code")
    else:
        grouped["n_milestones"] = 0
        grouped["milestones"] = ""
    if kpis is not None and len(kpis):
        missed = kpis[kpis["met"].eq(False).fillna(False).to_numpy(dtype=bool)]
        per = missed.groupby("county_code").agg(
            n_missed_targets=("indicator", "size"), missed_targets=("indicator_name", "、".join)
        )
        grouped = grouped.join(per, on="county_code")
    else:
        grouped["n_missed_targets"] = 0
        grouped["missed_targets"] = ""
    for col in ("n_milestones", "n_missed_targets"):
        grouped[col] = grouped[col].fillna(0).astype("Int64")
    for col in ("milestones", "missed_targets"):
        grouped[col] = grouped[col].fillna("")
    grouped = grouped.sort_values(
        ["serious", "n_criteria", "n_milestones", "n_missed_targets", "county_code"],
        ascending=[False, False, False, False, True],
        ignore_index=True,
    )
    return grouped[LAGGING_COLUMNS]


# ---------------------------------------------------------------------------------------------
# Periods
# ---------------------------------------------------------------------------------------------
def latest_complete_period(
    ledgers: Mapping[str, pd.DataFrame], submissions: pd.DataFrame | None = None
) -> str | None:
    """The newest month that can be reported on.

    With the warehouse's submissions table: the newest period every county has submitted (live
    submissions only). Otherwise from the ledgers' dates: the month of the latest date when that
    date is the month's last day, else the month before; a YYYY-MM `activities` month counts as
    complete once a later dated row exists.
    """
    if submissions is not None and len(submissions) and "period" in submissions.columns:
        subs = submissions
        if "status" in subs.columns:
            subs = subs[subs["status"].fillna("有效") != "已被替换"]
        counties = ledgers.get("counties")
        expected = (
            set(counties["county_code"].dropna().astype(str))
            if counties is not None and len(counties)
            else None
        )
        per = (
            subs.dropna(subset=["period"])
            .groupby("period")["county_code"]
            .agg(lambda s: set(s.dropna().astype(str)))
        )
        if expected:
            complete = [p for p, got in per.items() if expected <= got]
        else:
            complete = list(per.index)
        complete = [p for p in complete if _is_month(p)]
        if complete:
            return max(complete)
    latest: pd.Timestamp | None = None
    for name, lg in LEDGERS.items():
        df = ledgers.get(name)
        if df is None or not len(df) or lg.date_field is None or lg.date_field not in df:
            continue
        if lg.field(lg.date_field).type == "month":
            continue
        # Only the date that places a row in a month: deadlines lie in the future by nature.
        v = pd.to_datetime(df[lg.date_field], errors="coerce").max()
        if pd.notna(v) and (latest is None or v > latest):
            latest = v
    if latest is None:
        acts = ledgers.get("activities")
        if acts is not None and len(acts) and "month" in acts:
            months = [m for m in acts["month"].dropna().astype(str) if _is_month(m)]
            return max(months) if months else None
        return None
    idx = latest.year * 12 + latest.month - 1
    if latest.day != latest.days_in_month:
        idx -= 1
    return month_label(idx)


def units_by_period(df: pd.DataFrame, unit: str, date: str) -> dict[int, set[str]]:
    """Period end (month index) → the units with a row there, from a table's current rows
    (`date` is its `PERIOD_END` column, YYYY-MM)."""
    if df is None or not len(df) or unit not in df.columns or date not in df.columns:
        return {}
    d = pd.DataFrame({"u": df[unit], "m": df[date]}).dropna()
    out: dict[int, set[str]] = {}
    for m, units in d.groupby("m")["u"]:
        if _is_month(m):
            out[month_index(str(m))] = set(units.astype(str))
    return out


def latest_set_period(
    frequency: Frequency,
    table_periods: Mapping[str, Mapping[int, set[str]]],
    ledger_month: str | None,
) -> str | None:
    """The newest complete period of a set's own data: for each declared table it reads, its
    newest complete period (`periods.complete_periods`: every unit that reported the period
    before reported it too); the set's period is the newest one of its frequency that ends by
    all of them (and by the ledgers' newest complete month when it reads ledgers too). A table
    without any rows yet does not hold back a set that reads ledgers too (screening's coverage
    table before the first run): its indicators are missing, the ledgers' are not."""
    caps = []
    for by_end in table_periods.values():
        if not by_end and ledger_month is not None:
            continue
        done = complete_periods(by_end)
        if not done:
            return None
        caps.append(done[-1])
    if ledger_month is not None:
        caps.append(month_index(ledger_month))
    if not caps:
        return None
    cap = min(caps)
    end = frequency.end_of(cap)
    if end > cap:
        end -= frequency.months
    return month_label(end)


def _is_month(p: object) -> bool:
    try:
        month_index(str(p))
        return True
    except (ValueError, IndexError):
        return False


def phase_at(iset: IndicatorSet, period: str) -> str:
    """Name of the campaign phase the period's last day falls in ('' outside the campaign)."""
    if iset.calendar is None:
        return ""
    day = (pd.Period(period, freq="M").end_time).date()
    ph = iset.calendar.phase_of(dt.date(day.year, day.month, day.day))
    return ph.name if ph else ""
