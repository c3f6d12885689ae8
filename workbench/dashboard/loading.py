"""Engine → `DashboardData`, once per warehouse, cached in memory and on disk.

`load` is what `workbench serve` and every Voilà kernel call: this kernel's memory, else the
presentation layer's disk cache (Parquet, a memory-mapped .npy cube, JSON), else the engine.
The engine's modules (results, warehouse, declarations, measures) are imported inside the
functions that run it: a kernel that reads the cache never pays for them (≈ 0.8 s here).
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from workbench.config import chosen_sets, indicators_dir, warehouse_path
from workbench.contracts import LEDGERS
from workbench.dashboard.data import DashboardData, KpiCube, _float
from workbench.dashboard.markup import format_value
from workbench.indicators import has_lagging_list
from workbench.presentation.lists import TALK_LIST_COLUMNS
from workbench.dashboard.view import CITY
from workbench.messages import t
from workbench.presentation import cache as pcache
from workbench.presentation import definitions as pdef
from workbench.presentation import funnel as pfunnel
from workbench.presentation import kpis as pk
from workbench.presentation.citations import cite
from workbench.presentation.words import set_words, words_record

if TYPE_CHECKING:
    from workbench.declarations import IndicatorSet

log = logging.getLogger(__name__)


ENV_CACHE_DIR = "WORKBENCH_DASHBOARD_CACHE"
_MEMORY: dict[str, DashboardData] = {}


def _county_col(df: pd.DataFrame) -> pd.DataFrame:
    """The engine names the city `city`; the dashboards use `""`."""
    if len(df) and "county_code" in df.columns:
        df = df.copy()
        codes = df["county_code"].astype("object")
        df["county_code"] = codes.map(lambda c: CITY if c is None or str(c) == "city" else str(c))
    return df


def _frame(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    out = df.copy()
    for c in columns:
        if c not in out.columns:
            out[c] = None
    return out[list(columns)]


KPI_COLUMNS = [
    "indicator_set",
    "period",
    "county_code",
    "indicator",
    "value",
    "numerator",
    "denominator",
    "target",
    "gap",
    "met",
    "yoy",
    "prev_value",
    "baseline_size",
]
INDEX_COLUMNS = ["period", "hierarchy", "county_code", "score", "rank", "grade"]
UNCERTAINTY_COLUMNS = [
    "period",
    "hierarchy",
    "county_code",
    "nominal_rank",
    "median_rank",
    "q05",
    "q95",
]
LAGGING_COLUMNS = ["indicator_set", "period", "county_code", "reasons", "list_level"]
FUNNEL_COLUMNS = ["indicator_set", "period", *pfunnel.FUNNEL_COLUMNS]
MILESTONE_COLUMNS = [
    "indicator_set",
    "period",
    "county_code",
    "milestone",
    "name",
    "deadline",
    "status",
    "status_label",
    "detail",
]
METHOD_KEYS = ["name", "description", "normalise", "aggregate", "weights", "dimensions"]
TALK_COLUMNS = ["indicator_set", "period", *TALK_LIST_COLUMNS]
# what the cockpit keeps of `presentation.lists.overdue_cases` (no personal fields)
OVERDUE_CASE_COLUMNS = [
    "county_code",
    "case_id",
    "institution_name",
    "subject_type",
    "violation_type",
    "amount_involved",
    "filed_date",
    "due_date",
    "days_open",
    "days_overdue",
    "status",
]
INDICATOR_COLUMNS = [
    "indicator_set",
    "indicator",
    "name",
    "unit",
    "direction",
    "op",
    "deadline",
    "description",
    "group",
    "short_name",
    "decimals",
    "relative",
    "kind",
    "min_baseline",
]


def _compact(
    df: pd.DataFrame, categorical: Sequence[str], floats: Sequence[str] = ()
) -> pd.DataFrame:
    """Small dtypes: a kernel holds every period of a 3,000-county city."""
    for c in categorical:
        if c in df.columns:
            df[c] = df[c].astype("object").where(df[c].notna(), None).astype("category")
    for c in floats:
        if c in df.columns:
            df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
    return df


# Text columns a kernel keeps as categories (a code per row and each distinct text once): a
# 3,000-county city repeats the same counties, cases, reasons and months over ~100,000 rows of
# these tables. They are read back as records or plain columns (`data.plain`), so no part
# sees a categorical.
TEXT_CATEGORIES: dict[str, tuple[str, ...]] = {
    "index": ("grade",),
    "lagging": ("reasons", "list_level"),
    "funnel": ("window_start", "window_end"),
    "talks": (
        "indicator_set",
        "period",
        "county_code",
        "county_name",
        "criteria",
        "reasons",
        "talk_id",
        "review_result",
        "list_level",
        "followup",
        "followup_label",
    ),
    "overdue_cases": (
        "period",
        "county_code",
        "case_id",
        "institution_name",
        "subject_type",
        "violation_type",
        "status",
    ),
}


def _text_categories(data: DashboardData) -> DashboardData:
    """`TEXT_CATEGORIES` as categories (in place; a cache entry written before is converted
    when read), then the memory the reading took back to the system."""
    for name, cols in TEXT_CATEGORIES.items():
        df = getattr(data, name)
        todo = [
            c for c in cols if c in df.columns and not isinstance(df[c].dtype, pd.CategoricalDtype)
        ]
        if todo and len(df):
            _compact(df, todo)
    _release_arrow_memory()
    return data


def _release_arrow_memory() -> None:
    """Arrow's allocator keeps what reading Parquet freed for later reads; a kernel reads once."""
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except (ImportError, AttributeError):  # pragma: no cover - an older pyarrow
        pass


@contextlib.contextmanager
def _system_arrow_memory() -> Iterator[None]:
    """Read the cache with Arrow's buffers from the C library's allocator: Arrow's own
    (mimalloc) keeps ≈ 65 MB of a 3,000-county city's read after the tables are built, in every
    kernel; the C allocator gives it back. Buffers keep the pool they came from, so the
    previous default returns afterwards."""
    try:
        import pyarrow as pa

        before = pa.default_memory_pool()
        pa.set_memory_pool(pa.system_memory_pool())
    except (ImportError, AttributeError):  # pragma: no cover - an older pyarrow
        yield
        return
    try:
        yield
    finally:
        pa.set_memory_pool(before)


def indicator_set_codes() -> list[str]:
    """Indicator sets in the configured folder (`config.indicators_dir`: `--indicators-dir`,
    $WORKBENCH_INDICATORS_DIR, workbench.toml, else indicators/), by code; the pages list them
    in their declared `presentation.order` (`from_engine`). `workbench serve --set` chooses
    some of them (`config.chosen_sets`)."""
    chosen = chosen_sets()
    if chosen:
        return chosen
    out = []
    for path in sorted(indicators_dir().glob("*.yaml")):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(doc, dict) and doc.get("kind") == "indicator_set" and doc.get("code"):
            out.append(str(doc["code"]))
    return sorted(out)


def report_periods(ledgers: Mapping[str, pd.DataFrame], latest: str | None = None) -> list[str]:
    """January to the latest complete month of that year: the months a leader can pick."""
    if latest is None:
        from workbench.indicators import latest_complete_period

        latest = latest_complete_period(ledgers)
    if not latest:
        return []
    year, month = int(latest[:4]), int(latest[5:7])
    return [f"{year}-{m:02d}" for m in range(1, month + 1)]


def from_engine(
    source: str | os.PathLike | Mapping[str, pd.DataFrame] | None = None,
    *,
    indicator_sets: Sequence[str] | None = None,
    periods: Sequence[str] | None = None,
    span: str | None = None,
    uncertainty_samples: int = 200,
    progress: Callable[[str], None] | None = None,
) -> DashboardData:
    """Run the engine (`workbench.results`) for every indicator set × month and keep what the
    dashboards show. One `MeasureEngine` is shared by all evaluations, so the ledgers are binned
    once; each hierarchy is scored once even when sets include one another."""
    from workbench import results

    if isinstance(source, Mapping):
        ledgers, latest = dict(source), None
    else:
        path = warehouse_path(source)
        if not Path(path).is_file():
            raise FileNotFoundError(t("dash.E_NO_WAREHOUSE", path=path))
        from workbench.warehouse import Warehouse

        with Warehouse(path, read_only=True) as wh:
            ledgers = results.load_ledgers(wh)
            latest = results.latest_complete_period(wh)
    from workbench.declarations import load_sets

    sets = load_sets(indicator_sets or indicator_set_codes())
    labels: dict[str, str] = {}
    if not isinstance(source, Mapping):  # declared tables the sets read, beside the ledgers
        ledgers = _with_tables(path, sets, ledgers)
    if _on_own_tables(sets) and not isinstance(source, Mapping):
        ledgers, months, labels = _own_periods(path, sets, ledgers, periods)
        span = span or sets[0].default_span
    else:
        months = list(periods or report_periods(ledgers, _capped(latest, ledgers)))
    if not months:
        raise ValueError(t("dash.E_NO_PERIODS"))
    with _quiet_engine():
        data = _evaluate_all(
            ledgers,
            months,
            indicator_sets,
            span,
            uncertainty_samples,
            progress,
            "" if isinstance(source, Mapping) else str(source or ""),
            sets,
        )
    data.period_labels = labels
    if not isinstance(source, Mapping):
        shown = _optional(lambda: screening_frames(path, data.periods), "screening")
        for name, frame in (shown or {}).items():
            setattr(data, name, frame)
    return _text_categories(data)


def screening_frames(
    path: str | os.PathLike, months: Sequence[str] = ()
) -> dict[str, pd.DataFrame]:
    """The screening part's tables from a warehouse: `screening_counts` (hits and leads,
    `screening.summary.screening_tables`' by_rule_county) and `screening_precision` (checks as
    the ledger stood at the end of each of `months` and each screened month,
    `screening.summary.check_counts` — the 通报 counts by the same rule) and `screening_rules`
    (each rule's cited source, `screening.summary.rule_table`); none when it holds no
    screening results (the part is then not shown)."""
    from workbench.screening.summary import (
        check_counts,
        read_inputs,
        rule_table,
        screening_tables,
    )
    from workbench.warehouse import Warehouse

    with Warehouse(path, read_only=True) as wh:
        inputs = read_inputs(wh)
    scr = inputs["scr_leads"]
    if not len(scr):
        return {}
    tables = screening_tables(scr, inputs["coverage"], inputs["rule_names"])
    every = {*map(str, months), *scr["month"].astype(str)}
    return {
        "screening_counts": tables["by_rule_county"].reset_index(drop=True),
        "screening_precision": check_counts(scr, inputs["leads"], inputs["rule_names"], every),
        "screening_rules": rule_table(inputs["rule_names"], inputs["rule_sources"]),
    }


OWN_PERIODS = 6  # periods of a set's own yearly (or quarterly) table the cockpit offers


def _on_own_tables(sets: Sequence[IndicatorSet]) -> bool:
    """Every set offered reads only its own declared tables (no ledger)."""
    return bool(sets) and all(s.tables and not s.reads_ledgers() for s in sets)


def _with_tables(path: Path, sets: Sequence[IndicatorSet], ledgers: dict) -> dict:
    """The ledgers and every declared table a set reads (a mixed set reads both)."""
    from workbench.tables import read_table

    frames = dict(ledgers)
    for iset in sets:
        for code, tb in iset.tables.items():
            if code not in frames:
                frames[code] = read_table(path, tb)
    return frames


def _own_periods(
    path: Path, sets: Sequence[IndicatorSet], ledgers: dict, periods: Sequence[str] | None
) -> tuple[dict, list[str], dict[str, str]]:
    """For sets on their own tables: the tables' rows beside the ledgers, the last periods of
    their frequency up to the newest complete one (the last month of each), and each period's
    label (2023财年)."""
    from workbench import results
    from workbench.declarations import PERIOD_END

    frames = _with_tables(path, sets, ledgers)
    latest = [results.latest_complete_period(path, iset) for iset in sets]
    freq = max((s.frequency for s in sets), key=lambda f: f.months)
    if periods:
        months = list(periods)
    elif None in latest:
        months = []
    else:
        end = min(int(p[:4]) * 12 + int(p[5:7]) - 1 for p in latest)
        first = min(
            (str(frames[c][PERIOD_END].dropna().min()) for s in sets for c in s.tables),
            default="",
        )  # no period before the data's first
        ends = [end - i * freq.months for i in range(OWN_PERIODS)][::-1]
        months = [m for m in (f"{e // 12:04d}-{e % 12 + 1:02d}" for e in ends) if m >= first]
    labels = {m: sets[0].period_label(m) for m in months}
    return frames, months, labels


@contextlib.contextmanager
def _quiet_engine() -> Iterator[None]:
    """The engine's warnings (e.g. a constant indicator) belong in reports, not on a leader's
    screen: while precomputing, only errors from `workbench.*` loggers pass."""
    logger = logging.getLogger("workbench")
    level = logger.level
    logger.setLevel(max(level, logging.ERROR))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _capped(latest: str | None, ledgers: Mapping[str, pd.DataFrame]) -> str | None:
    """The engine's latest complete month, but never past the last month with events (dated
    by each ledger's own date field: a future 整改时限 is not data)."""
    last = None
    for name, lg in LEDGERS.items():
        df = ledgers.get(name)
        if df is None or not len(df) or not lg.date_field or lg.date_field not in df.columns:
            continue
        col = df[lg.date_field]
        month = (
            col.dropna().astype(str).max()[:7]
            if lg.field(lg.date_field).type == "month"
            else str(pd.to_datetime(col, errors="coerce").max())[:7]
        )
        if month and month[:4].isdigit() and (last is None or month > last):
            last = month
    if latest and last:
        return min(latest, last)
    return latest or last


def _evaluate_all(
    ledgers: dict[str, pd.DataFrame],
    months: list[str],
    indicator_sets: Sequence[str] | None,
    span: str | None,
    uncertainty_samples: int,
    progress: Callable[[str], None] | None,
    source: str,
    loaded: Sequence[IndicatorSet] | None = None,
) -> DashboardData:
    from workbench import results
    from workbench.declarations import indices_in_order, load_sets, sets_in_order
    from workbench.measures import MeasureEngine, tables_of, unit_sources
    from workbench.presentation import lists as plists

    sets = (
        list(loaded) if loaded is not None else load_sets(indicator_sets or indicator_set_codes())
    )
    engine = MeasureEngine(ledgers, tables=tables_of(sets), units_from=unit_sources(sets))
    if _on_own_tables(sets):  # the units are the tables' own, named there
        names = engine.county_names(int(months[-1][:4]))
        counties = pd.DataFrame(
            {"county_code": names.index.astype(str), "county_name": names.astype(str).to_numpy()}
        )
    else:
        counties = _county_table(ledgers, months[-1])
    kpis, index, unc, lag, ms, meta, funnels = [], [], [], [], [], [], []
    facts, methods, talks, overdue = [], [], [], {}
    set_titles: dict[str, str] = {}
    hier_titles: dict[str, str] = {}
    phases = pd.DataFrame(columns=["name", "start", "end"])
    city_name = ""
    if not indicator_sets:  # in the order given, else as the sets declare
        sets = sets_in_order(sets)
    for iset in sets:
        code = iset.code
        set_titles[code] = iset.name
        own = _own_indicators(iset)
        meta.append(_indicator_meta(iset, own))
        facts.append(pdef.facts(iset).assign(indicator_set=code))
        fresh = [h for h in iset.hierarchies if h not in hier_titles]
        if phases.empty and iset.calendar is not None:
            phases = pd.DataFrame(
                [(p.name, p.start.isoformat(), p.end.isoformat()) for p in iset.calendar.phases],
                columns=["name", "start", "end"],
            )
        for period in months:
            if progress:
                progress(f"{iset.name} {period}")
            ev = results.Evaluation(ledgers, iset, period, span, uncertainty_samples, engine=engine)
            city_name = city_name or ev.city_name
            k = pd.concat([ev.kpis, ev.city_kpis], ignore_index=True)
            k = _county_col(k[k["indicator"].isin(own)])
            kpis.append(_frame(k.assign(indicator_set=code, period=period), KPI_COLUMNS))
            for hier in fresh:
                res = ev.index[hier]
                if hier not in hier_titles:
                    methods.append({"hierarchy": hier, **pdef.method_text(iset, hier)})
                hier_titles[hier] = res.name
                index.append(
                    _frame(res.summary().assign(period=period, hierarchy=hier), INDEX_COLUMNS)
                )
            if fresh and ev.uncertainty:
                u = ev.uncertainty_table
                unc.append(
                    _frame(u[u["hierarchy"].isin(fresh)].assign(period=period), UNCERTAINTY_COLUMNS)
                )
            fn = _optional(
                lambda iset=iset, period=period: pfunnel.cohort_counts(engine, iset, period, span),
                f"funnel {code} {period}",
            )
            if fn is not None and len(fn):
                funnels.append(_frame(fn.assign(indicator_set=code, period=period), FUNNEL_COLUMNS))
            lg = _optional(lambda ev=ev: ev.lagging, f"lagging {code} {period}")
            if lg is not None and len(lg):
                lag.append(_frame(lg.assign(indicator_set=code, period=period), LAGGING_COLUMNS))
                tk = _optional(
                    lambda lg=lg, period=period: plists.talk_list_followup(lg, ledgers, period),
                    f"talks {code} {period}",
                )
                if tk is not None and len(tk):
                    talks.append(_county_col(tk.assign(indicator_set=code, period=period)))
            if period not in overdue and "cases" in ledgers and iset.reads_ledgers():
                oc = _optional(
                    lambda period=period: plists.overdue_cases(ledgers, period),
                    f"overdue cases {period}",
                )
                overdue[period] = None if oc is None else _frame(oc, OVERDUE_CASE_COLUMNS)
            m = _optional(
                lambda ev=ev: pd.concat([ev.milestones, ev.city_milestones], ignore_index=True),
                f"milestones {code} {period}",
            )
            m = _county_col(m) if m is not None else pd.DataFrame()
            if len(m):
                m = m.rename(columns={"milestone_name": "name"})
                m["detail"] = [_milestone_detail(r) for r in m.to_dict("records")]
                ms.append(_frame(m.assign(indicator_set=code, period=period), MILESTONE_COLUMNS))
    kp = _compact(
        pd.concat(kpis, ignore_index=True),
        ("indicator_set", "period", "county_code", "indicator"),
        (
            "value",
            "numerator",
            "denominator",
            "target",
            "gap",
            "yoy",
            "prev_value",
            "baseline_size",
        ),
    )
    kp["met"] = kp["met"].astype("boolean")
    return DashboardData(
        city_name=city_name or _city_name(ledgers),
        periods=months,
        indicator_sets=set_titles,
        counties=counties,
        indicators=pd.concat(meta, ignore_index=True),
        kpis=kp,
        index=_compact(
            _concat(index, INDEX_COLUMNS), ("period", "hierarchy", "county_code"), ("score", "rank")
        ),
        uncertainty=_compact(
            _concat(unc, UNCERTAINTY_COLUMNS),
            ("period", "hierarchy", "county_code"),
            ("nominal_rank", "median_rank", "q05", "q95"),
        ),
        lagging=_compact(_concat(lag, LAGGING_COLUMNS), ("indicator_set", "period", "county_code")),
        milestones=_compact(
            _concat(ms, MILESTONE_COLUMNS),
            (
                "indicator_set",
                "period",
                "county_code",
                "milestone",
                "name",
                "deadline",
                "status",
                "status_label",
                "detail",
            ),
        ),
        phases=phases,
        funnel=_compact(
            _concat(funnels, FUNNEL_COLUMNS),
            ("indicator_set", "period", "county_code", "stage", "label"),
            ("count", "amount_recovered", "amount_due"),
        ),
        hierarchies={h: hier_titles[h] for _, h in indices_in_order(sets) if h in hier_titles},
        presentation={iset.code: declared_presentation(iset, city_name) for iset in sets},
        definitions=_concat(facts, ["indicator_set", *pdef.FACT_COLUMNS]),
        methods=pd.DataFrame(methods, columns=["hierarchy", *METHOD_KEYS]),
        talks=_concat(talks, TALK_COLUMNS),
        overdue_cases=_concat(
            [f.assign(period=p) for p, f in overdue.items() if f is not None and len(f)],
            ["period", *OVERDUE_CASE_COLUMNS],
        ),
        span=span or "ytd",
        demo=_is_demo(ledgers),
        source=source,
    )


def _optional(compute: Callable[[], pd.DataFrame], what: str) -> pd.DataFrame | None:
    """A secondary table (milestones, lagging list) that fails for one month must not take the
    whole cockpit down: the failure is logged and that month shows 暂无."""
    try:
        return compute()
    except Exception as exc:
        logging.getLogger(__name__).error(
            "dashboard: %s could not be computed: %s: %s", what, type(exc).__name__, exc
        )
        log.debug("details", exc_info=True)
        return None


def _own_indicators(iset: Any) -> list[str]:
    """The indicators a set declares itself (an `include`d set's own cards stay with it)."""
    own = [c for c, ind in iset.indicators.items() if Path(ind.file or "").stem == iset.code]
    return own or list(iset.indicators)


def _indicator_meta(iset: Any, codes: Sequence[str]) -> pd.DataFrame:
    rows = []
    for c in codes:
        ind = iset.indicators[c]
        d = pk.display_of(iset, c)
        rows.append(
            {
                "indicator_set": iset.code,
                "indicator": c,
                "name": ind.name,
                "unit": ind.unit,
                "direction": ind.direction,
                "op": d.op or None,
                "deadline": d.deadline,
                "description": cite(ind.description, iset.documents),  # 「另：004 要求」: a title
                "group": ind.group,
                "short_name": d.short_name,
                "decimals": d.decimals,
                "relative": d.relative,
                "kind": d.kind,
                "min_baseline": d.min_baseline,
            }
        )
    return _frame(pd.DataFrame(rows), INDICATOR_COLUMNS)


def _county_table(ledgers: Mapping[str, pd.DataFrame], period: str) -> pd.DataFrame:
    c = ledgers["counties"].copy()
    c["county_code"] = c["county_code"].astype(str)
    year = pd.to_numeric(c.get("year"), errors="coerce")
    c = c.assign(_late=(year <= int(period[:4])).astype(int), _year=year.fillna(0))
    c = c.sort_values(["_late", "_year"]).drop_duplicates("county_code", keep="last")
    return (
        c[["county_code", "county_name"]]
        .astype(str)
        .sort_values("county_code")
        .reset_index(drop=True)
    )


def _concat(parts: list[pd.DataFrame], columns: Sequence[str]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(columns))


def declared_presentation(iset: IndicatorSet, city: str = "") -> dict[str, Any]:
    """A set's `presentation:` block as plain values (`data.NO_PRESENTATION`'s keys), so the
    cache keeps it as JSON; `default_index` is the declared one, else the set's first index."""
    p = iset.presentation
    return {
        "order": p.order,
        "index_order": p.index_rank,
        "default_index": next(iter(iset.indices()), None),
        "card_groups": [{"name": g.name, "indicators": list(g.indicators)} for g in p.card_groups],
        "funnel": [
            {"stage": st.stage, "label": st.label, "indicator": st.indicator, "part": st.part}
            for st in p.funnel
        ],
        "recovery": p.recovery,
        "rectification": p.rectification,
        "calendar": iset.calendar is not None,
        "lagging": has_lagging_list(iset),  # the same rule the reports and the 通报 follow
        "ledger_lists": set_words(iset, city).on_ledgers,  # cases etc. are the set's units'
        "words": words_record(set_words(iset, city)),
        "screening": bool(getattr(p, "screening", False)),
    }


def _milestone_detail(r: Mapping[str, Any]) -> str:
    unit = r.get("unit")
    cur, proj = r.get("current_value"), r.get("projected_value")
    bits = []
    if _float(cur) is not None:
        bits.append(
            t(
                "dash.milestone.current",
                value=format_value(cur, unit, decimals=r.get("decimals")),
                basis=r.get("basis") or t("dash.milestone.basis_unknown"),
            )
        )
    if _float(proj) is not None and str(r.get("status")) in ("on_track", "lagging"):
        proj_text = format_value(proj, unit, decimals=r.get("decimals"))
        bits.append(t("dash.milestone.projected", value=proj_text))
    return "，".join(bits)


def _city_name(ledgers: Mapping[str, pd.DataFrame]) -> str:
    c = ledgers.get("counties")
    if c is not None and len(c) and "city" in c.columns:
        names = c["city"].dropna().astype(str)
        if len(names):
            return names.mode().iloc[0]
    return t("dash.city")


def _is_demo(ledgers: Mapping[str, pd.DataFrame]) -> bool:
    c = ledgers.get("counties")
    return bool(
        c is not None and len(c) and c["county_code"].astype(str).str.startswith("99").all()
    )


def read_ledgers(
    path: str | os.PathLike | None = None, county: str | None = None
) -> dict[str, pd.DataFrame]:
    """Current ledger rows from the warehouse, opened read-only and closed at once (so an
    ingest is never blocked for long); with `county`, only that county's rows."""
    from workbench.warehouse import Warehouse

    wh_path = warehouse_path(path)
    if not Path(wh_path).is_file():
        raise FileNotFoundError(t("dash.E_NO_WAREHOUSE", path=wh_path))
    with Warehouse(wh_path, read_only=True) as wh:
        out = {name: wh.read_ledger(name, county=county) for name in LEDGERS}
    return _own_rows(wh_path, out, county)


def _own_rows(
    path: Path, ledgers: dict[str, pd.DataFrame], county: str | None
) -> dict[str, pd.DataFrame]:
    """The ledgers and the declared tables the offered sets read (a unit's rows only, with
    `county`), so a drill finds a table's rows as it finds a ledger's."""
    from workbench.declarations import DeclarationError, load_sets, unit_field

    try:
        sets = load_sets(indicator_set_codes())
    except DeclarationError:  # the cockpit reports a broken declaration elsewhere
        return ledgers
    out = _with_tables(path, sets, ledgers)
    if county is not None:
        for iset in sets:
            for code, tb in iset.tables.items():
                df = out[code]
                key = unit_field(tb.ledger)
                if key in df.columns and code not in ledgers:
                    out[code] = df[df[key].astype(str) == str(county)]
    return out


def cache_dir(warehouse: str | os.PathLike | None = None) -> Path | None:
    """$WORKBENCH_DASHBOARD_CACHE, else the presentation cache's default folder (private to the
    user; None when no safe folder exists — then nothing is cached on disk)."""
    if env := os.environ.get(ENV_CACHE_DIR):
        return pcache.private_dir(Path(env))
    return pcache.default_dir(Path(warehouse_path(warehouse)))


def cache_key(warehouse: Path, extra: str = "") -> str:
    """Changes when the warehouse, the declarations (of the configured folder), the screening
    rule files (their names and cited sources are shown) or the package's code change."""
    from workbench.screening.rules import default_dir as rules_dir

    return pcache.key(
        *pcache.results_fingerprint(warehouse),
        pcache.files_fingerprint(rules_dir().glob("*.yaml")),
        ",".join(chosen_sets() or []),
        extra,
    )


FRAMES = (
    "counties",
    "indicators",
    "kpis",
    "index",
    "uncertainty",
    "lagging",
    "milestones",
    "phases",
    "funnel",
    "definitions",
    "methods",
    "talks",
    "overdue_cases",
    "screening_counts",
    "screening_precision",
    "screening_rules",
)


def load(
    warehouse: str | os.PathLike | None = None,
    *,
    refresh: bool = False,
    progress: Callable[[str], None] | None = None,
) -> DashboardData:
    """The dashboards' data for a warehouse: from this kernel's memory, else the disk cache,
    else the engine (then cached). `workbench serve` calls it once before Voilà starts."""
    wh = Path(warehouse_path(warehouse))
    if not wh.is_file():
        raise FileNotFoundError(t("dash.E_NO_WAREHOUSE", path=wh))
    key = cache_key(wh)
    if not refresh and key in _MEMORY:
        return _MEMORY[key]
    folder = cache_dir(wh)
    data: DashboardData | None = None
    if not refresh and folder is not None:
        data = _read_cache(folder, key)
    if data is None:
        data = from_engine(wh, progress=progress).warm()
        if folder is not None:
            _write_cache(folder, key, data)
    _MEMORY.clear()
    _MEMORY[key] = data
    return data


def _write_cache(folder: Path, key: str, data: DashboardData) -> None:
    """Tables as Parquet, the KPI cube as a .npy file (kernels memory-map it, so every kernel
    of the server shares one copy in the page cache), scalars as JSON: nothing executable."""
    cube = data._cube
    frames = {f: getattr(data, f) for f in FRAMES}
    arrays = {}
    meta: dict[str, Any] = {
        f: getattr(data, f)
        for f in (
            "city_name",
            "periods",
            "indicator_sets",
            "hierarchies",
            "presentation",
            "span",
            "demo",
            "source",
            "built_at",
            "period_labels",
        )
    }
    if cube is not None:
        frames["kpis"] = data.kpis.iloc[0:0]  # the cube carries every KPI
        arrays["cube"] = cube.arr
        meta["cube"] = {
            "sets": list(cube.sets),
            "periods": list(cube.periods),
            "counties": list(cube.counties),
            "indicators": {s: list(v) for s, v in cube.indicators.items()},
        }
    if pcache.save(folder, f"dashboard-{key}", frames, arrays, meta) is not None:
        pcache.prune(folder, f"dashboard-{key}", "dashboard-")


def _read_cache(folder: Path, key: str) -> DashboardData | None:
    with _system_arrow_memory():
        return _read_entry(folder, key)


def _read_entry(folder: Path, key: str) -> DashboardData | None:
    got = pcache.load(folder, f"dashboard-{key}")
    if got is None:
        return None
    frames, arrays, meta = got
    cube_meta = meta.pop("cube", None)
    try:
        data = DashboardData(**{f: frames[f] for f in FRAMES}, **meta)
    except (KeyError, TypeError) as exc:
        log.warning(t("dash.log.cache_incomplete", error=exc))
        return None
    if cube_meta is not None and "cube" in arrays:
        data._cube = KpiCube.from_saved(cube_meta, arrays["cube"])
    return _text_categories(data)
