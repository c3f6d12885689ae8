"""The facade notebooks, dashboards and the CLI use: `evaluate(...) -> Evaluation`.

An `Evaluation` is a computed result that shows itself (`_repr_html_`, plotly figures), saves
itself (warehouse tables with a compute run id; CSV with BOM and .xlsx with Chinese headers and
formula injection neutralised) and can be drilled into. Everything heavy is computed lazily and
cached, so a dashboard that only needs the city table pays only for that.

Stable API (others build on it):

    evaluate(source, period="latest", indicator_set="campaign_2025", span=None,
             indicators_dir=None, uncertainty_samples=200, seed=0) -> Evaluation
    latest_complete_period(source) -> "YYYY-MM" | None
    load_ledgers(source, columns=None) -> dict[str, DataFrame]

    Evaluation.kpis / .city_kpis            long tables at the chosen span (KPI_COLUMNS)
    Evaluation.kpis_all / .city_kpis_all    every span (month, quarter, ytd, ctd, r12)
    Evaluation.kpis_for(span, city=False)
    Evaluation.index                        {hierarchy: scoring.IndexResult}
    Evaluation.index_table                  long (hierarchy, county, node, score, rank, grade)
    Evaluation.uncertainty                  {hierarchy: UncertaintyResult}; .uncertainty_table
    Evaluation.milestones / .city_milestones / .lagging
    Evaluation.trend(indicator, county=None, span="month", start=None) -> DataFrame
    Evaluation.trends(indicator, span="month", start=None) -> every county and the city
    Evaluation.drill(county, indicator, span=None) -> drill.DrillResult
    Evaluation.plot_kpi / plot_trend / plot_index / plot_uncertainty / plot_milestones -> Figure
    Evaluation.tables() -> {name: DataFrame};  .save(warehouse) -> run_id;  .export(dir) -> paths
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench import composite, excel, scoring
from workbench.contracts import LEDGERS
from workbench.declarations import PERIOD_END, IndicatorSet, load_set, unit_field
from workbench.drill import drill as drill_into
from workbench.fmt import OP_SIGNS, is_month
from workbench.indicators import (
    compute_points,
    has_lagging_list,
    kpi_frame,
    index_root,
    lagging_frame,
    talk_criteria,
    milestone_frame,
    phase_at,
    span_label,
    trend,
    TrendArrays,
    trend_arrays,
    trend_table,
    latest_set_period,
    units_by_period,
)
from workbench.indicators import latest_complete_period as _latest_from_ledgers
from workbench.privacy import excel_safe, excel_safe_frame  # noqa: F401  (re-exported)
from workbench.measures import MeasureEngine, month_index, month_label, tables_of, unit_sources
from workbench.messages import t
from workbench.presentation import kpis as presented
from workbench.presentation.citations import cite, target_source
from workbench.presentation.words import SetWords, set_words
from workbench.pushdown import WarehouseEngine
from workbench.tables import read_table, table_frame
from workbench.warehouse import RESULT_TABLES as RESULT_SCHEMAS
from workbench.warehouse import Warehouse, file_columns, reading

log = logging.getLogger(__name__)

# Warehouse tables written by `Evaluation.save` (each row carries the run id), as declared with
# their columns in `warehouse.RESULT_TABLES`.
RESULT_TABLES = tuple(RESULT_SCHEMAS)


# ---------------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------------
def _is_ledgers(source: Any) -> bool:
    return isinstance(source, Mapping)


def load_ledgers(
    source: Any, columns: Mapping[str, Sequence[str]] | None = None
) -> dict[str, pd.DataFrame]:
    """Ledgers from a dict (returned as is), a Warehouse, or a warehouse file path; from a
    warehouse, `columns` (ledger → columns, e.g. `measures.ledger_columns(...)`) reads only
    those columns of those ledgers (the others whole)."""
    if _is_ledgers(source):
        return dict(source)
    if isinstance(source, Warehouse):
        return source.read_ledgers(columns)
    with Warehouse(source, read_only=True) as wh:
        return wh.read_ledgers(columns)


def _period_columns() -> dict[str, list[str]]:
    """What `latest_complete_period` looks at: county codes and each ledger's dating field."""
    return {
        name: ["county_code", *([lg.date_field] if lg.date_field else [])]
        for name, lg in LEDGERS.items()
    }


# what the faces need of the submissions: who sent which month, and when it was received
# (`freshness.received_time`: the declared receipt date, else the load time)
SUBMISSIONS_SQL = (
    "SELECT submission_id, county_code, period, status, ingested_at, received_at FROM submissions"
)


def submissions(source: Any) -> pd.DataFrame | None:
    if _is_ledgers(source):
        return None
    try:
        if isinstance(source, Warehouse):
            return source.table(SUBMISSIONS_SQL)
        with Warehouse(source, read_only=True) as wh:
            return wh.table(SUBMISSIONS_SQL)
    except Exception:  # noqa: BLE001 - an old or foreign file simply has no submissions table
        log.debug("no submissions table in %s", source, exc_info=True)
        return None


def parse_period(period: str, iset: IndicatorSet | None = None) -> str:
    """A period as the user wrote it → the last month of that period (YYYY-MM), by the set's
    frequency: `2025-09` for monthly data; `2023财年`, `FY2023`, `2022-23` or `2023` for a
    fiscal year; `2025Q3` for a quarter. Raises ValueError with the Chinese reason."""
    freq = iset.frequency if iset is not None else None
    if freq is None or freq.is_monthly:
        if not is_month(period):
            raise ValueError(t("cli.arg.not_month", value=period))
        return str(period)
    end = freq.parse(period)
    if end is None:
        example = freq.label(freq.end_of(dt.date.today().year * 12 - 12))
        raise ValueError(
            t("tables.bad_period", period=period, frequency=freq.describe(), example=example)
        )
    return month_label(end)


def check_period(period: str, source: Any = None, iset: IndicatorSet | None = None) -> str:
    """A concrete period the user asked for (the last month of it, YYYY-MM), checked: of the
    set's frequency, and — for a warehouse — not after the newest data (a typo such as 2052-09
    would otherwise rank every county at 0): the newest month any county has submitted, or the
    newest period of the set's own tables. Raises ValueError with the Chinese reason."""
    month = parse_period(period, iset)
    if iset is not None and iset.tables:
        newest = [max(p) for p in _table_periods(source, iset).values() if p]
        if newest and month_index(month) > max(newest):
            raise ValueError(
                t(
                    "tables.after_data",
                    period=iset.period_label(month),
                    latest=iset.frequency.label(max(newest)),
                )
            )
        if not iset.reads_ledgers():
            return month
    subs = None if source is None or _is_ledgers(source) else submissions(source)
    if subs is not None and len(subs):
        months = subs["period"].astype(str)
        months = months[months.str.fullmatch(r"[0-9]{4}-[0-9]{2}")]
        if len(months) and month > months.max():
            raise ValueError(t("ind.after_data", period=period, latest=months.max()))
    return month


def latest_complete_period(source: Any, iset: IndicatorSet | None = None) -> str | None:
    """Newest complete period, as its last month (YYYY-MM). For the ledgers: from the
    submissions (every county in) when reading a warehouse, else from the ledgers' dates (see
    indicators.latest_complete_period). For a set reading declared tables: the newest period of
    its frequency that every table it reads has complete (`indicators.latest_set_period`)."""
    if iset is not None and iset.tables:
        ledger_month = _latest_ledger_month(source) if iset.reads_ledgers() else None
        if iset.reads_ledgers() and ledger_month is None:
            return None
        return latest_set_period(iset.frequency, _table_periods(source, iset), ledger_month)
    return _latest_ledger_month(source)


def _latest_ledger_month(source: Any) -> str | None:
    if _is_ledgers(source):
        return _latest_from_ledgers(source, None)
    subs = submissions(source)
    if subs is not None and len(subs):  # usually decided by the submissions and the roster
        found = _latest_from_ledgers(_read_some(source, {"counties": ["county_code"]}), subs)
        if found is not None:
            return found
    return _latest_from_ledgers(load_ledgers(source, _period_columns()), subs)


def _table_periods(source: Any, iset: IndicatorSet) -> dict[str, dict[int, set[str]]]:
    """Per declared table the set reads: period end → the units with a current row there."""
    out: dict[str, dict[int, set[str]]] = {}
    if source is None:
        return out
    if _is_ledgers(source):
        for code, tb in iset.tables.items():
            out[code] = units_by_period(source.get(code), tb.unit.name, PERIOD_END)
        return out
    with reading(source) as wh:
        present = set(file_columns(wh.con))
        for code, tb in iset.tables.items():
            if code not in present:
                out[code] = {}
                continue
            unit = unit_field(tb.ledger)
            rows = wh.con.execute(
                f'SELECT "{PERIOD_END}", list(DISTINCT CAST("{unit}" AS VARCHAR)) '
                f'FROM {wh.current_relation(code)} WHERE "{unit}" IS NOT NULL GROUP BY 1'
            ).fetchall()
            out[code] = {
                month_index(m): set(units) for m, units in rows if m is not None and is_month(m)
            }
    return out


def resolve_period(period: str | None, source: Any, iset: IndicatorSet | None = None) -> str:
    """The one period resolution every face uses: a period checked against the data (of the
    set's frequency when a set is given), or for `latest` (or nothing) the newest complete one
    — as its last month, YYYY-MM. Raises ValueError with the Chinese reason when there is
    none."""
    if period and str(period).lower() != "latest":
        return check_period(str(period), source, iset)
    found = latest_complete_period(source, iset)
    if not found:
        raise ValueError(_no_period(iset))
    return str(found)


def _no_period(iset: IndicatorSet | None) -> str:
    """Why there is no latest period: no complete month of the ledgers, or no period of the
    set's own tables (not ingested yet)."""
    if iset is not None and iset.tables and not iset.reads_ledgers():
        names = "、".join(f"{tb.name}（{code}）" for code, tb in iset.tables.items())
        return t("tables.no_period", tables=names)
    return t("ind.no_period")


# ---------------------------------------------------------------------------------------------
# Export helpers
# ---------------------------------------------------------------------------------------------


def _column_header(column: object) -> str:
    label = t(f"ind.col.{column}")
    return str(column) if label.startswith("ind.col.") else label


def chinese_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Column names → Chinese headers from the catalogue (`ind.col.<name>`); others kept."""
    return df.rename(columns={c: _column_header(c) for c in df.columns})


# What the exported result columns hold (`workbench.excel` kinds); the rest is read from the data.
# Indicator values take each row's unit and decimals (a rate as 87.3%, 件 as 1,548件).
EXPORT_KINDS = {
    "value": "by_unit",
    "target": "by_unit",
    "gap": "by_unit",
    "shortfall": "by_unit",
    "prev_value": "by_unit",
    "current_value": "by_unit",
    "projected_value": "by_unit",
    "yoy": "percent",
    "numerator": "number",
    "denominator": "number",
    "baseline_size": "number",
    "score": "number",
    "nominal_score": "number",
    "median_rank": "place",
    "mean_rank": "number",
    "rank": "integer",
    "nominal_rank": "integer",
    "q05": "integer",
    "q95": "integer",
    "level": "integer",
    "direction": "integer",
    "decimals": "integer",
    "months_left": "integer",
    "n_milestones": "integer",
    "n_missed_targets": "integer",
    "deadline": "date",
    "as_of": "text",  # a month (2025-06: data through June), written as 统计月份 is
}
EXPORT_DECIMALS = {"score": 1, "nominal_score": 1, "mean_rank": 1, "yoy": 1}


def _display_frame(
    df: pd.DataFrame,
    calendar: Any = None,
    iset: IndicatorSet | None = None,
    whole: str | None = None,
) -> pd.DataFrame:
    """Readable copy for exports: spans (a calendar's phases by name), periods of a coarser
    frequency (2023财年, not its last month), booleans in Chinese and declared sources as the
    documents' titles (`presentation.citations`)."""
    out = df.copy()
    docs = getattr(iset, "documents", None) if iset is not None else None
    for col, write in (("source", cite), ("target_source", target_source)):
        if docs and col in out.columns:  # each distinct text cited once (a table has thousands)
            texts = {v: write(v, docs) for v in out[col].dropna().unique()}
            out[col] = out[col].map(lambda v, texts=texts: texts.get(v, v))
    if iset is not None and not iset.frequency.is_monthly and "period" in out.columns:
        out["period"] = out["period"].map(
            lambda p: iset.period_label(p) if isinstance(p, str) and is_month(p) else p
        )
    if "county_code" in out.columns:  # the city's rows carry the code "city" inside the engine
        out["county_code"] = out["county_code"].replace("city", whole or t("ind.city_row"))
    if "span" in out.columns:
        out["span"] = out["span"].map(
            lambda s: span_label(s, calendar) if isinstance(s, str) else s
        )
    for col in ("target_op", "op"):  # ≥, as the 目标（显示） column and every page write it
        if col in out.columns:
            out[col] = out[col].map(lambda op: OP_SIGNS.get(op, op) if isinstance(op, str) else op)
    if "direction" in out.columns and "direction_label" not in out.columns:
        out.insert(
            out.columns.get_loc("direction") + 1,
            "direction_label",
            out["direction"].map(_direction_word),
        )
    if iset is not None and "hierarchy" in out.columns and "hierarchy_name" not in out.columns:
        names = {code: h.name for code, h in iset.hierarchies.items()}
        out.insert(
            out.columns.get_loc("hierarchy") + 1, "hierarchy_name", out["hierarchy"].map(names)
        )
    if "list_level" in out.columns:  # the list a county is on, in words (约谈名单 / 督促名单)
        out["list_level"] = out["list_level"].map(
            lambda v: t(f"talk.list.{v}") if isinstance(v, str) and v else ""
        )
    for col in ("met", "workbench_definition"):
        if col in out.columns:
            out[col] = out[col].map(
                lambda v: (
                    ""
                    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))
                    else (t("ind.yes") if bool(v) else t("ind.no"))
                )
            )
    return out


def _direction_word(direction: object) -> str:
    """1 → 越高越好, -1 → 越低越好: the code column 方向 keeps the number for machines."""
    try:
        return t(f"ind.direction.{int(direction)}")  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return ""


_FILE_NAME_BAD = re.compile(r'[\\/:*?"<>|\s]+')


def export_stem(set_name: str, period_label: str, sheet: str | None = None) -> str:
    """An exported file's name without its suffix, in the words its reader knows: the set's
    title, the period and the sheet (`…指标_2025-12_区县指标`); characters no file system
    takes become _."""
    parts = [set_name, period_label] + ([sheet] if sheet else [])
    return "_".join(_FILE_NAME_BAD.sub("_", p).strip("_") for p in parts)


# ---------------------------------------------------------------------------------------------
# The evaluation
# ---------------------------------------------------------------------------------------------
class Evaluation:
    """Every result for one indicator set at one period; computed lazily, cached."""

    display_rows = 30  # rows of the lagging list shown in a notebook

    def __init__(
        self,
        ledgers: Mapping[str, pd.DataFrame],
        iset: IndicatorSet,
        period: str,
        span: str | None = None,
        uncertainty_samples: int = 200,
        seed: int = 0,
        engine: MeasureEngine | None = None,
        source: Any = None,
    ) -> None:
        """`source`: the warehouse (path or `Warehouse`) the ledgers were read from when they
        hold only the columns the indicators use; drill-through then reads whole rows there.
        `period` is the last month of the period (YYYY-MM); `span` one of the set's spans."""
        month_index(period)  # validates
        self.ledgers = ledgers
        self.source = source
        self._whole: dict[str, pd.DataFrame] = {}
        self.indicator_set = iset
        self.period = period
        self.spans = iset.spans
        self.span = span or iset.default_span
        if self.span not in self.spans:
            raise ValueError(
                t("ind.E_BAD_SPAN", span=self.span)
                + t("ind.fix.E_BAD_SPAN", allowed="、".join(self.spans))
            )
        self.uncertainty_samples = uncertainty_samples
        self.seed = seed
        self.engine = engine or MeasureEngine(
            ledgers, tables=tables_of([iset]), units_from=unit_sources([iset])
        )
        self.input_issues: pd.DataFrame | None = None  # refused rows of a notebook's frames
        self._kpi_cache: dict[tuple, pd.DataFrame] = {}
        self._matrices: dict[str, pd.DataFrame] = {}
        self.computed_at = dt.datetime.now().replace(microsecond=0)

    # -- basic facts ----------------------------------------------------------------------
    @cached_property
    def county_names(self) -> pd.Series:
        return self.engine.county_names(month_index(self.period) // 12)

    @cached_property
    def city_name(self) -> str:
        """The row of all units together (`presentation.words`): declared `total_name`, else
        the counties ledger's city (全市) for a set on the ledgers, 全部<unit noun> for one on
        its own tables."""
        return self.words.total_name

    @cached_property
    def words(self) -> SetWords:
        """The set's words: unit noun, report title, issuer, total row."""
        return set_words(self.indicator_set, self.engine.city_name())

    @property
    def period_label(self) -> str:
        """The period as the set's frequency writes it: 2025-09, 2023财年, 2025年第3季度."""
        return self.indicator_set.period_label(self.period)

    @property
    def unit_noun(self) -> str:
        """What a unit is called: 区县, 地区, 机构 … (`presentation.words`)."""
        return self.words.unit_noun

    @property
    def phase(self) -> str:
        return phase_at(self.indicator_set, self.period)

    # -- KPI tables -----------------------------------------------------------------------
    @cached_property
    def _values(self):
        end = month_index(self.period)
        return compute_points(self.engine, self.indicator_set, [(s, end) for s in self.spans])

    @cached_property
    def kpis_all(self) -> pd.DataFrame:
        """County × indicator × span (every span of the set's frequency, span by span: the
        five monthly spans for the ledgers, one whole period for a yearly table)."""
        return self._kpi_table(None, False)

    @cached_property
    def city_kpis_all(self) -> pd.DataFrame:
        return self._kpi_table(None, True)

    def kpis_for(self, span: str, city: bool = False) -> pd.DataFrame:
        """The long KPI table of one span (cached; a slice of the all-spans table once that
        exists)."""
        key = (span, city)
        if key not in self._kpi_cache:
            every = self._kpi_cache.get(("*", city))
            if every is not None:
                block = len(every) // len(self.spans)
                at = self.spans.index(span) * block
                self._kpi_cache[key] = every.iloc[at : at + block].reset_index(drop=True)
            else:
                self._kpi_cache[key] = self._kpi_table(span, city)
        return self._kpi_cache[key]

    def _kpi_table(self, span: str | None, city: bool) -> pd.DataFrame:
        table = kpi_frame(
            self._values,
            self.indicator_set,
            None if city else self.county_names,
            city=city,
            city_name=self.city_name,
            spans=None if span is None else [span],
        )
        if span is None:
            self._kpi_cache[("*", city)] = table
        return table

    @cached_property
    def kpis(self) -> pd.DataFrame:
        """County × indicator at the chosen span: value, numerator, denominator, target, gap,
        met, yoy (see indicators.KPI_COLUMNS)."""
        return self.kpis_for(self.span)

    @cached_property
    def city_kpis(self) -> pd.DataFrame:
        return self.kpis_for(self.span, city=True)

    def kpi_wide(self, column: str = "value", span: str | None = None) -> pd.DataFrame:
        """County × indicator matrix of one column (value, met, gap…)."""
        k = self.kpis_for(span or self.span)
        wide = k.pivot(index="county_code", columns="indicator", values=column)
        return wide[[c for c in self.indicator_set.indicators if c in wide.columns]]

    # -- composite ------------------------------------------------------------------------
    @cached_property
    def index(self) -> dict[str, Any]:
        """{hierarchy code: scoring.IndexResult} for every hierarchy of the set."""
        return {
            code: scoring.score(
                None, self.indicator_set, code, self.county_names, data=self._index_data(code)
            )
            for code in self.indicator_set.hierarchies
        }

    def _index_data(self, code: str) -> pd.DataFrame:
        """County × leaf values of a hierarchy, from the computed indicator arrays."""
        if code not in self._matrices:
            self._matrices[code] = scoring.values_matrix(
                self._values, self.indicator_set, code, month_index(self.period)
            )
        return self._matrices[code]

    @cached_property
    def index_table(self) -> pd.DataFrame:
        cols = [
            "hierarchy",
            "hierarchy_name",
            "county_code",
            "county_name",
            "node",
            "node_name",
            "level",
            "score",
            "rank",
            "grade",
        ]
        parts = []
        for res in self.index.values():
            tab = res.table()
            tab.insert(1, "hierarchy_name", res.name)
            parts.append(tab)
        if not parts:
            return pd.DataFrame(columns=cols)
        return pd.concat(parts, ignore_index=True)[cols]

    @cached_property
    def uncertainty(self) -> dict[str, Any]:
        """{hierarchy code: UncertaintyResult}: median rank and 5–95% rank interval per county
        when weights, normalisation, aggregation and imputation vary."""
        out = {}
        for code, decl in self.indicator_set.hierarchies.items():
            n = decl.method.uncertainty_samples or self.uncertainty_samples
            if n <= 0:
                continue
            out[code] = scoring.uncertainty(
                None,
                self.indicator_set,
                code,
                n,
                self.county_names,
                self.seed,
                data=self._index_data(code),
            )
        return out

    @cached_property
    def uncertainty_table(self) -> pd.DataFrame:
        parts = []
        for code, res in self.uncertainty.items():
            s = res.summary.rename(columns={"unit": "county_code"}).copy()
            # published: the declared build's rank as every face prints it (on the printed
            # score, 并列 — composite.published_rank), which the interval already holds; the
            # draws and quantiles stay the analysis' own
            published = self.index[code].result if code in self.index else None
            s["nominal_rank"] = (
                s["county_code"].map(published.published_ranks[published.index_code]).to_numpy()
                if published is not None
                else composite.published_rank(s["nominal_score"]).to_numpy()
            )
            s.insert(0, "hierarchy", code)
            parts.append(s)
        if not parts:
            return pd.DataFrame(
                columns=[
                    "hierarchy",
                    "county_code",
                    "county_name",
                    "nominal_rank",
                    "median_rank",
                    "q05",
                    "q95",
                ]
            )
        return pd.concat(parts, ignore_index=True)

    # -- milestones and lagging -----------------------------------------------------------
    @cached_property
    def milestones(self) -> pd.DataFrame:
        return milestone_frame(self.engine, self.indicator_set, self.period)

    @cached_property
    def city_milestones(self) -> pd.DataFrame:
        return milestone_frame(self.engine, self.indicator_set, self.period, city=True)

    @cached_property
    def lagging(self) -> pd.DataFrame:
        """进度滞后 / 约谈名单 by the criteria the set declares (`talk_*` parameters: milestones,
        the default index's grade and ranking, targets not met), each county's criteria and
        reasons in Chinese."""
        crit = talk_criteria(self.indicator_set, self.period)
        indices = self.indicator_set.indices()
        scores = index_root(self.index_table, indices[0]) if crit.uses_index and indices else None
        return lagging_frame(self.milestones, self.kpis, scores, crit)

    # -- series and drill-through ---------------------------------------------------------
    def trend(
        self,
        indicator: str,
        county: str | None = None,
        span: str = "month",
        start: str | None = None,
        end: str | None = None,
    ) -> pd.DataFrame:
        """Monthly series of one indicator (the city when `county` is None). Default range:
        the 24 months up to the evaluation period."""
        return trend(
            self.engine, self.indicator_set, indicator, *self._trend_range(start, end), span, county
        )

    def trends(
        self, indicator: str, span: str = "month", start: str | None = None, end: str | None = None
    ) -> pd.DataFrame:
        """The monthly series of one indicator for every county and the city (county_code
        "city") in one long table (see `indicators.trend_table`); same default range as
        `trend`."""
        return trend_table(
            self.engine, self.indicator_set, indicator, *self._trend_range(start, end), span
        )

    def trend_arrays(
        self, indicator: str, span: str = "month", start: str | None = None, end: str | None = None
    ) -> TrendArrays:
        """`trends` as arrays (counties + the city) × months (see `indicators.TrendArrays`)."""
        return trend_arrays(
            self.engine, self.indicator_set, indicator, *self._trend_range(start, end), span
        )

    def _trend_range(self, start: str | None, end: str | None) -> tuple[str, str]:
        """The months a trend covers: to `end` (the period), from `start` (24 months back; six
        periods back for coarser data)."""
        end = end or self.period
        back = max(24, 6 * self.indicator_set.frequency.months)
        return start or month_label(month_index(end) - back + 1), end

    def drill(
        self, county: str, indicator: str, span: str | None = None, max_rows: int | None = 200
    ) -> Any:
        return drill_into(
            self._drill_engine(indicator),
            county,
            self.period,
            indicator,
            self.indicator_set,
            span or self.span,
            max_rows=max_rows,
        )

    def _drill_engine(self, indicator: str) -> MeasureEngine:
        """The engine itself, or — when the ledgers are a column projection of a warehouse — one
        over the whole rows of the ledgers behind the indicator (read once, then kept)."""
        if self.source is None:
            return self.engine
        iset = self.indicator_set
        names: set[str] = set()
        stack = [indicator]
        while stack:
            ind = iset.indicators[stack.pop()]
            stack.extend(ind.depends_on)
            for m in (*ind.numerator, *ind.denominator):
                names.update(iset.measures[m].fields_used())
        names.add("counties")  # county names
        names.update(iset.tables)  # a declared table's unit names
        missing = sorted(n for n in names if n not in self._whole)
        if missing:
            self._whole.update(
                _read_some(self.source, {n: None for n in missing if n not in iset.tables})
            )
            for code in (n for n in missing if n in iset.tables):
                self._whole[code] = read_table(self.source, iset.tables[code])
        return MeasureEngine(
            {n: self._whole[n] for n in names},
            counties=self.engine.counties,
            tables=tables_of([iset]),
        )

    # -- figures --------------------------------------------------------------------------
    def plot_kpi(self, indicator: str, span: str | None = None) -> Any:
        """Counties' values of one indicator, sorted, with the target line and the city value."""
        import plotly.graph_objects as go

        ind = self.indicator_set.indicators[indicator]
        span = span or self.span
        k = self.kpis_for(span)
        k = k[k["indicator"] == indicator].sort_values(
            "value", ascending=ind.direction == -1, na_position="last"
        )
        pct = ind.unit == "%"
        scale = 100.0 if pct else 1.0
        colours = np.where(
            k["met"].eq(True).fillna(False),
            "#2e7d32",
            np.where(k["met"].eq(False).fillna(False), "#c62828", "#9e9e9e"),
        )
        fig = go.Figure(
            go.Bar(
                x=k["county_name"],
                y=k["value"] * scale,
                marker_color=colours,
                customdata=np.stack([k["numerator"], k["denominator"]], axis=-1),
                hovertemplate="%{x}: %{y:.2f}<br>"
                + t("ind.col.numerator")
                + " %{customdata[0]:,.0f} / "
                + t("ind.col.denominator")
                + " %{customdata[1]:,.0f}"
                "<extra></extra>",
                name=ind.name,
            )
        )
        city = self.kpis_for(span, city=True)
        city = city[city["indicator"] == indicator]
        if len(city) and pd.notna(city["value"].iloc[0]):
            fig.add_hline(
                y=float(city["value"].iloc[0]) * scale,
                line_dash="dot",
                annotation_text=t("ind.plot.city"),
            )
        if ind.target is not None and ind.target.value is not None:
            fig.add_hline(
                y=ind.target.value * scale,
                line_color="#c62828",
                annotation_text=t("ind.plot.target"),
            )
        fig.update_layout(
            title=t(
                "ind.plot.kpi_title",
                indicator=ind.name,
                span=t(f"ind.span.{span}"),
                period=self.period_label,
            ),
            yaxis_title=ind.unit,
            showlegend=False,
        )
        return fig

    def plot_trend(
        self,
        indicator: str,
        county: str | None = None,
        span: str = "month",
        start: str | None = None,
    ) -> Any:
        import plotly.graph_objects as go

        ind = self.indicator_set.indicators[indicator]
        series = self.trend(indicator, county, span, start)
        scale = 100.0 if ind.unit == "%" else 1.0
        who = self.city_name if county is None else str(self.county_names.get(county, county))
        fig = go.Figure(
            go.Scatter(
                x=series["period"], y=series["value"] * scale, mode="lines+markers", name=who
            )
        )
        if series["target"].notna().any():
            fig.add_trace(
                go.Scatter(
                    x=series["period"],
                    y=series["target"] * scale,
                    mode="lines",
                    line={"dash": "dash"},
                    name=t("ind.plot.target"),
                )
            )
        fig.update_layout(
            title=t("ind.plot.trend_title", indicator=ind.name, unit=who),
            yaxis_title=ind.unit,
            xaxis_title=t("ind.col.period"),
        )
        return fig

    def plot_index(self, hierarchy: str | None = None) -> Any:
        code = hierarchy or next(iter(self.index))
        return self.index[code].figure()

    def plot_uncertainty(self, hierarchy: str | None = None) -> Any:
        code = hierarchy or next(iter(self.uncertainty))
        return self.uncertainty[code].figure()

    def plot_milestones(self) -> Any:
        """Counties per milestone and status (stacked bars)."""
        import plotly.express as px

        m = self.milestones
        counts = (
            (m.groupby(["milestone_name", "status_label"]).size().reset_index(name="n"))
            if len(m)
            else pd.DataFrame(columns=["milestone_name", "status_label", "n"])
        )
        fig = px.bar(
            counts,
            x="milestone_name",
            y="n",
            color="status_label",
            labels={
                "milestone_name": t("ind.col.milestone_name"),
                "n": t("ind.plot.count"),
                "status_label": t("ind.col.status_label"),
            },
            title=t("ind.plot.milestones_title", period=self.period_label),
        )
        return fig

    # -- tables, saving, exporting --------------------------------------------------------
    def presented(self, city: bool = False, span: str | None = None) -> pd.DataFrame:
        """The KPI rows of a span (default: the evaluation's) with status, gap and texts
        decided by the presentation layer — what every face shows."""
        key = ("presented", span or self.span, city)
        if key not in self._kpi_cache:
            rows = self.kpis_for(span or self.span, city)
            self._kpi_cache[key] = presented.present(rows, self.indicator_set)
        return self._kpi_cache[key]

    def tables(self, uncertainty: bool = True) -> dict[str, pd.DataFrame]:
        """Result tables keyed by warehouse table name (machine column names)."""
        out = {
            "indicator_values": self.kpis_all,
            "city_indicator_values": self.city_kpis_all,
            "index_scores": self.index_table,
            "milestones": pd.concat([self.milestones, self.city_milestones], ignore_index=True),
            "lagging": self.lagging,
        }
        if uncertainty:
            out["rank_uncertainty"] = self.uncertainty_table
        return out

    def run_row(self, run_id: str) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "run_id": [run_id],
                "computed_at": [pd.Timestamp(self.computed_at)],
                "indicator_set": [self.indicator_set.code],
                "period": [self.period],
                "span": [self.span],
                "n_counties": [self.engine.n],
                "files": ["; ".join(self.indicator_set.files)],
            }
        )

    def new_run_id(self) -> str:
        return f"{self.computed_at:%Y%m%dT%H%M%S}-{self.indicator_set.code}-{uuid.uuid4().hex[:6]}"

    def save(self, warehouse: Any, run_id: str | None = None, uncertainty: bool = True) -> str:
        """Append every result table to the warehouse (one transaction) under a run id."""
        run_id = run_id or self.new_run_id()
        tables = {"compute_runs": self.run_row(run_id), **self.tables(uncertainty)}
        own = not isinstance(warehouse, Warehouse)
        wh = Warehouse(warehouse) if own else warehouse
        try:
            with wh.transaction() as con:
                for name, df in tables.items():
                    write_table(
                        con,
                        name,
                        df
                        if name == "compute_runs"
                        else df.assign(run_id=run_id)[["run_id", *df.columns]],
                    )
        finally:
            if own:
                wh.close()
        return run_id

    def export(
        self,
        out_dir: str | Path,
        formats: tuple[str, ...] = ("csv", "xlsx"),
        uncertainty: bool = True,
        prefix: str | None = None,
    ) -> list[Path]:
        """CSV (UTF-8 with BOM, for Excel) and one .xlsx workbook with Chinese headers and real
        number formats (rates as percentages, money in yuan, dates as dates), through the one
        table writer `workbench.excel`. Files are named as their readers know them: the set's
        title, the period, and for a CSV its sheet (`export_stem`)."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        prefix = prefix or export_stem(self.indicator_set.name, self.period_label)
        paths: list[Path] = []
        tables = self.tables(uncertainty)
        if self.indicator_set.calendar is None:  # a set with no calendar has no milestones
            tables.pop("milestones", None)
        if not has_lagging_list(self.indicator_set):  # nor, without criteria, a lagging list
            tables.pop("lagging", None)
        for name in ("indicator_values", "city_indicator_values"):
            tables[name] = presented.present(tables[name], self.indicator_set)
        sheets = {name: self._export_table(name, df) for name, df in tables.items()}
        if "csv" in formats:
            for table in sheets.values():
                stem = f"{prefix}_{_FILE_NAME_BAD.sub('_', table.name)}"
                paths.append(excel.write_csv(table, out_dir / f"{stem}.csv"))
        if "xlsx" in formats:
            paths.append(excel.write_xlsx(list(sheets.values()), out_dir / f"{prefix}.xlsx"))
        return paths

    def _export_table(self, name: str, df: pd.DataFrame) -> excel.Table:
        """One result table as a typed sheet: readable values (`_display_frame`), Chinese
        headers (`_header_names`), each column's kind from EXPORT_KINDS or its data."""
        iset = self.indicator_set
        shown = _display_frame(df, iset.calendar, iset, self.words.whole)
        headers = self._header_names(shown.columns)
        kinds = {
            c: (
                excel.Column(c, headers[c], excel.BY_UNIT, None, "unit", "decimals")
                if kind == excel.BY_UNIT
                else excel.Column(c, headers[c], kind, EXPORT_DECIMALS.get(c))
            )
            for c, kind in EXPORT_KINDS.items()
            if c in shown.columns and (kind != excel.BY_UNIT or "unit" in shown.columns)
        }
        sheet = t(f"ind.sheet.{name}", noun=self.words.unit_noun, whole=self.words.whole)
        return excel.Table(
            name if sheet.startswith("ind.sheet.") else sheet,
            shown,
            excel.infer_columns(shown, headers, kinds),
        )

    def _header_names(self, columns: Sequence[object]) -> dict[str, str]:
        """Chinese headers; a period of a coarser frequency is 统计期间, not 统计月份, and the
        units' code and name columns take the set's own words (地区代码 …)."""
        names = {str(c): _column_header(c) for c in columns}
        if self.indicator_set.frequency.is_monthly and not self.indicator_set.tables:
            return names
        words = self.words
        own = {"period": t("tables.col.period")}
        if self.indicator_set.tables and not self.indicator_set.reads_ledgers():
            own["county_code"] = words.code_label
            own["county_name"] = t("tables.col.unit_name", noun=words.unit_noun)
        return {**names, **{k: v for k, v in own.items() if k in names}}

    # -- display --------------------------------------------------------------------------
    def summary_counts(self) -> dict[str, int]:
        c = self.presented(city=True)
        has_target = c["target_op"] != ""
        met = int((c["status"] == presented.MET).sum())
        missed = int(c["status"].isin([presented.NOT_MET, presented.AT_RISK]).sum())
        return {
            "met": met,
            "missed": missed,
            "na": int(len(c) - met - missed),
            "with_target": int(has_target.sum()),
        }

    def _repr_html_(self) -> str:
        iset = self.indicator_set
        title = t(
            "ind.eval.title",
            set=iset.name,
            period=self.period_label,
            span=t(f"ind.span.{self.span}"),
        )
        c = self.presented(city=True)
        view = pd.DataFrame(
            {
                t("ind.col.indicator_name"): c["indicator_name"],
                t("ind.col.value"): c["value_text"],
                t("ind.col.target"): c["target_text"],
                t("ind.col.status_label"): c["status_label"],
                t("ind.col.gap_text"): c["gap_text"],
                t("ind.col.yoy"): c["change_text"],
            }
        )
        counts = self.summary_counts()
        parts = [f"<div><h3>{html.escape(title)}</h3>"]
        if self.phase:
            parts.append(f"<p>{html.escape(t('ind.eval.phase', phase=self.phase))}</p>")
        met_line = t(
            "ind.eval.met_count", met=counts["met"], missed=counts["missed"], na=counts["na"]
        )
        parts.append(
            f"<h4>{html.escape(t('ind.eval.city_kpis'))}</h4>"
            f"<p>{html.escape(met_line)}</p>"
            f"{view.to_html(index=False, escape=True)}"
        )
        lag = self.lagging
        parts.append(f"<h4>{html.escape(t('ind.eval.lagging'))}</h4>")
        if len(lag):
            lv = chinese_columns(
                _display_frame(
                    lag[["county_name", "list_level", "criteria", "reasons", "n_missed_targets"]]
                ).head(self.display_rows)
            )
            parts.append(lv.to_html(index=False, escape=True))
            if len(lag) > self.display_rows:
                more = t("ind.eval.more", shown=self.display_rows, total=len(lag))
                parts.append(f"<p>{html.escape(more)}</p>")
        else:
            parts.append(f"<p>{html.escape(t('ind.eval.no_lagging'))}</p>")
        parts.append("</div>")
        return "".join(parts)


def _read_some(source: Any, columns: Mapping[str, Sequence[str] | None]) -> dict[str, pd.DataFrame]:
    """Current rows of some ledgers (ledger → columns, None for all) from a warehouse path or
    a `Warehouse`."""
    with reading(source) as wh:
        return {n: wh.read_ledger(n, columns=c) for n, c in columns.items()}


def write_table(con: Any, name: str, df: pd.DataFrame) -> None:
    """Create the table from the frame's shape on first use, then append by column name."""
    frame = df.copy()
    for col in frame.columns:
        s = frame[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s):
            frame[col] = s.map(
                lambda v: (
                    None
                    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))
                    else str(v)
                )
            ).astype(object)
    view = f"_wb_{name}"
    con.register(view, frame)
    try:
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
        ).fetchone()[0]
        if not exists:
            casts = []
            for col in frame.columns:
                s = frame[col]
                if s.dtype == object:
                    casts.append(f'CAST("{col}" AS VARCHAR) AS "{col}"')
                else:
                    casts.append(f'"{col}"')
            con.execute(f'CREATE TABLE "{name}" AS SELECT {", ".join(casts)} FROM "{view}" LIMIT 0')
        else:  # a column a newer version adds: the older table gains it (earlier rows blank)
            have = {
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ?",
                    [name],
                ).fetchall()
            }
            for col in frame.columns:
                if col not in have:
                    kind = (
                        "VARCHAR"
                        if frame[col].dtype == object
                        else con.execute(
                            f'SELECT typeof("{col}") FROM "{view}" LIMIT 1'
                        ).fetchone()[0]
                    )
                    con.execute(f'ALTER TABLE "{name}" ADD COLUMN "{col}" {kind}')
        con.execute(f'INSERT INTO "{name}" BY NAME SELECT * FROM "{view}"')
    finally:
        con.unregister(view)


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------
def evaluate(
    source: Any,
    period: str = "latest",
    indicator_set: str | IndicatorSet = "campaign_2025",
    span: str | None = None,
    *,
    indicators_dir: str | Path | None = None,
    uncertainty_samples: int = 200,
    seed: int = 0,
) -> Evaluation:
    """Compute an indicator set for one period.

    `source` is a warehouse path, an open `Warehouse`, or a dict of DataFrames: the ledgers
    (as `Warehouse.read_ledgers()` returns them) and, keyed by its code, any declared table
    the set reads, with columns named by field or by Chinese header — its rows go through the
    same checks as a file (`tables.table_frame`; refused rows are in `Evaluation.input_issues`).
    `period` is a period of the set's frequency (`2025-09`; `2023财年` or `FY2023` for a fiscal
    year) or `latest` (the newest complete one). `span` defaults to the set's `default_span`.
    From a warehouse the measures are aggregated by DuckDB (`pushdown.WarehouseEngine`): only
    rosters are read as rows (the columns the set uses); drill-through reads whole rows of the
    ledgers it shows.
    """
    iset = (
        indicator_set
        if isinstance(indicator_set, IndicatorSet)
        else load_set(indicator_set, [indicators_dir] if indicators_dir else None)
    )
    whole = _is_ledgers(source)
    engine: MeasureEngine | None = None
    issues = None
    if whole:
        ledgers, issues = _with_tables(load_ledgers(source), iset)
        engine = MeasureEngine(ledgers, tables=tables_of([iset]), units_from=unit_sources([iset]))
    else:  # aggregated inside the warehouse; rows read only where needed (rosters, drill)
        engine = WarehouseEngine(source, [iset])
        ledgers = engine.ledgers
    if period == "latest" or not period:
        found = _latest_for(iset, ledgers, source)
        if found is None:
            raise ValueError(_no_period(iset))
        period = found
    else:
        period = parse_period(str(period), iset)
    ev = Evaluation(
        ledgers,
        iset,
        period,
        span,
        uncertainty_samples,
        seed,
        engine=engine,
        source=None if whole else source,
    )
    ev.input_issues = issues
    return ev


def _with_tables(
    frames: dict[str, pd.DataFrame], iset: IndicatorSet
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame | None]:
    """A notebook's dict of frames with each declared table's frame checked and typed as a
    file of it would be (`tables.table_frame`): the accepted rows, and every refused row's
    issues (file "DataFrame", the frame's row from 1)."""
    found = [code for code in iset.tables if code in frames]
    if not found:
        return frames, None
    out = dict(frames)
    issues = []
    for code in found:
        out[code], bad = table_frame(iset.tables[code], frames[code])
        if len(bad):
            log.warning(t("tables.frame_refused", table=code, n=bad["row"].nunique()))
            issues.append(bad.assign(table=code))
    return out, (pd.concat(issues, ignore_index=True) if issues else None)


def _latest_for(iset: IndicatorSet, ledgers: Mapping[str, pd.DataFrame], source: Any) -> str | None:
    """`latest` for one set: the newest complete month of the ledgers (their submissions when
    reading a warehouse), or of its own tables' data (see `latest_complete_period`)."""
    month = None
    if iset.reads_ledgers() or not iset.tables:
        month = _latest_from_ledgers(ledgers, submissions(source))
        if not iset.tables:
            return month
        if month is None:
            return None
    periods = _table_periods(ledgers if _is_ledgers(source) else source, iset)
    return latest_set_period(iset.frequency, periods, month)
