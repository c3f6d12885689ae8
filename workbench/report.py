"""What the county and city notebooks display: KPI cards, narrative, charts, masked tables.

Notebooks stay thin: they call `county_report(...)` / `city_report(...)` and display what the
methods return. Every displayed object renders itself (`_repr_html_` / `_repr_mimebundle_`), so the
same calls work in JupyterLab, under the batch runner and in the HTML export.

The numbers come from the indicator engine's facade (`workbench.results.evaluate`); the
evaluation and the ledgers are cached per process, so a batch kernel that runs many counties loads
the warehouse and computes the evaluation once.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import logging
import math
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from workbench import composite, fmt
from workbench.composite_methods import AGGREGATORS
from workbench.indicators import TALK_LEVEL
from workbench.messages import t
from workbench.presentation import cache as pcache
from workbench.presentation import cells
from workbench.presentation import kpis as pk
from workbench.presentation import lists
from workbench.presentation import ranks as prank
from workbench.presentation import words as pw
from workbench.presentation.words import SetWords, ledger_words, set_words
from workbench.privacy import mask_frame

log = logging.getLogger(__name__)

BATCH_ENV = "WORKBENCH_BATCH"
SUMMARY_MIME = "application/vnd.workbench.summary+json"
FONT = "Noto Sans CJK SC, Source Han Sans SC, Microsoft YaHei, PingFang SC, sans-serif"

_CACHE: dict[tuple, Any] = {}
_CACHE_LOCK = threading.Lock()


# ----------------------------------------------------------------------------- loading, caching
def _file_key(path: Path) -> tuple:
    """What a cached table depends on: the warehouse's content version, and for computed
    tables the declarations and the code too (`presentation.cache` fingerprints)."""
    return (str(Path(path).resolve()), pcache.warehouse_fingerprint(Path(path)))


def _results_key(path: Path) -> tuple:
    return (str(Path(path).resolve()), *pcache.results_fingerprint(Path(path)))


def load_ledgers(warehouse: str | os.PathLike | None = None) -> dict[str, pd.DataFrame]:
    """All current ledgers (and the declared tables of the indicators folder), read once per
    warehouse file version and folder, and cached in this process."""
    from workbench.config import indicators_dir, warehouse_path
    from workbench.warehouse import Warehouse

    path = warehouse_path(warehouse)
    key = ("ledgers", *_file_key(path), str(indicators_dir()))
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
    with Warehouse(path, read_only=True) as wh:
        ledgers = wh.read_ledgers()
        ledgers.update(_declared_tables(wh))
    with _CACHE_LOCK:
        for old in [k for k in _CACHE if k[0] == "ledgers" and k[1] == key[1]]:
            _CACHE.pop(old)
        _CACHE[key] = ledgers
    return ledgers


def _declared_tables(wh: Any) -> dict[str, pd.DataFrame]:
    """The current rows of every declared table (`kind: table`) of the configured folder, by
    code, so a set on its own data reports like one on the ledgers."""
    from workbench.config import indicators_dir
    from workbench.declarations import DeclarationError, available_tables, load_table
    from workbench.tables import read_table

    out = {}
    for code in available_tables([indicators_dir()]):
        try:
            out[code] = read_table(wh, load_table(code, [indicators_dir()]))
        except DeclarationError:
            continue
    return out


def _set(indicator_set: str | None) -> Any:
    from workbench.config import indicators_dir
    from workbench.declarations import load_set

    return None if indicator_set is None else load_set(indicator_set, [indicators_dir()])


def set_labels(indicator_set: str | None, period: str) -> tuple[SetWords, str]:
    """A set's words (report title, unit noun …) and how it writes `period` (2025年9月,
    2023财年), for what the batch titles itself without an evaluation."""
    from workbench.declarations import DeclarationError

    try:
        iset = _set(indicator_set)
    except DeclarationError:
        iset = None
    if iset is None:
        return ledger_words(), fmt.month_label(period)
    label = fmt.month_label(period) if iset.frequency.is_monthly else iset.period_label(period)
    return set_words(iset), label


def resolve_period(
    period: str | None,
    ledgers: dict[str, pd.DataFrame],
    warehouse: str | os.PathLike | None = None,
    indicator_set: str | None = None,
) -> str:
    """`latest` (or empty) → the newest complete period (`results.resolve_period`: from the
    warehouse's submissions when there are any, else from the ledgers' dates; for a set on its
    own tables, their newest complete period), as its last month. Cached per warehouse
    version, declarations and code for a warehouse (each county of a batch asks again)."""
    from workbench.results import resolve_period as resolve

    if not warehouse:
        return resolve(period, ledgers, _set(indicator_set))
    key = ("period", *_results_key(Path(warehouse)), str(period), indicator_set)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
    found = resolve(period, warehouse, _set(indicator_set))
    with _CACHE_LOCK:
        _CACHE[key] = found
    return found


def evaluation(
    warehouse: str | os.PathLike | None = None,
    period: str = "latest",
    indicator_set: str = "campaign_2025",
    span: str | None = None,
) -> Any:
    """The engine's Evaluation for the whole city, cached per (warehouse version, parameters)."""
    from workbench.config import warehouse_path

    path = warehouse_path(warehouse)
    ledgers = load_ledgers(path)
    period = resolve_period(period, ledgers, path, indicator_set)
    key = ("evaluation", *_results_key(path), period, indicator_set, span)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
    ev = _evaluate(ledgers, period, indicator_set, span)
    with _CACHE_LOCK:
        _CACHE[key] = ev
    return ev


def _evaluate(
    ledgers: dict[str, pd.DataFrame], period: str, indicator_set: str, span: str | None
) -> Any:
    from workbench.results import evaluate

    return evaluate(ledgers, period=period, indicator_set=indicator_set, span=span)


def warm(
    warehouse: str | os.PathLike | None = None,
    period: str = "latest",
    indicator_set: str = "campaign_2025",
    span: str | None = None,
) -> None:
    """Load, evaluate and reshape ahead of need (the batch runner calls this at kernel start),
    so the first county pays no more than the last."""
    data = city_data(warehouse, period, indicator_set, span)
    data.rank_bands()
    first = data.counties["county"].iloc[0] if len(data.counties) else ""
    data.ledger_for("cases", first)
    data.ledger_for("rectifications", first)
    for code in data.kpis["indicator"].unique() if "indicator" in data.kpis else []:
        data.trend(str(code), county=data.counties["county"].iloc[0])


# ----------------------------------------------------------------------------- small helpers
def _missing(x: object) -> bool:
    return x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x))


def _col(df: pd.DataFrame, *names: str) -> str | None:
    for n in names:
        if n in df.columns:
            return n
    return None


def _esc(x: object) -> str:
    return html.escape("—" if _missing(x) else str(x))


class HTML:
    """A fragment of trusted HTML that notebooks display as-is."""

    def __init__(self, markup: str) -> None:
        self.markup = markup

    def _repr_html_(self) -> str:
        return self.markup

    def __repr__(self) -> str:
        return t("batch.report.html_plain")

    def __str__(self) -> str:
        return self.markup


def batch_mode() -> bool:
    return os.environ.get(BATCH_ENV) == "1"


class Chart:
    """A plotly chart that renders offline: a div plus a script calling the page's `Plotly`.

    `spec` is a plain plotly JSON dict (`{"data": [...], "layout": {...}}`), serialised directly
    (a `go.Figure` is accepted too, at plotly's slower validation cost). In batch mode only
    `text/html` is emitted and the report page loads one shared plotly.js; interactively the
    plotly mimetype is added so JupyterLab renders the chart live.
    """

    CONFIG = {"displaylogo": False, "responsive": True, "displayModeBar": False}

    def __init__(self, spec: Any, height: int = 360) -> None:
        if hasattr(spec, "to_plotly_json"):
            spec = spec.to_plotly_json()
        self.spec = spec
        self.height = height

    @property
    def figure(self) -> Any:
        """The chart as a `plotly.graph_objects.Figure`, for analysts who want to tweak it."""
        import plotly.graph_objects as go

        return go.Figure(self.spec)

    def to_html(self) -> str:
        data = _json_js(self.spec.get("data", []))
        layout = _json_js(self.spec.get("layout", {}))
        config = _json_js(self.CONFIG)
        uid = "wb-" + hashlib.sha1((data + layout).encode()).hexdigest()[:12]
        return (
            f'<div id="{uid}" class="plotly-graph-div wb-chart" '
            f'style="height:{self.height}px;width:100%;"></div>'
            f'<script type="text/javascript">if(window.Plotly&&document.getElementById('
            f'"{uid}")){{Plotly.newPlot("{uid}",{data},{layout},{config});}}</script>'
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict:
        bundle = {"text/html": self.to_html(), "text/plain": t("batch.report.chart_plain")}
        if not batch_mode():
            bundle["application/vnd.plotly.v1+json"] = {**self.spec, "config": self.CONFIG}
        return bundle


def _clean(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if x is pd.NA or x is None:
        return None
    if hasattr(x, "item") and not isinstance(x, (str, bytes)):
        return _clean(x.item())
    return x


def _json_js(x: Any) -> str:
    """JSON safe inside a <script>: no NaN, no `</script>` break-out."""
    return json.dumps(_clean(x), ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


def _layout(title: str, **kw: Any) -> dict:
    axis = dict(gridcolor="#e8ecf1", zerolinecolor="#d0d6de", linecolor="#c0c8d2", automargin=True)
    layout: dict[str, Any] = dict(
        title=dict(text=title, x=0.01, font=dict(size=15)),
        font=dict(family=FONT, size=12),
        paper_bgcolor="#ffffff",
        plot_bgcolor="#ffffff",
        margin=dict(l=50, r=20, t=50, b=40),
        # above the plot, right: below it the legend covered the first months' tick labels,
        # which stand on end when a year of months is drawn in a report's width
        legend=dict(orientation="h", x=1, xanchor="right", y=1.02, yanchor="bottom"),
        hovermode="closest",
        colorway=["#1f77b4", "#d9534f", "#2e8b57", "#f0ad4e", "#6f42c1"],
        xaxis=dict(axis),
        yaxis=dict(axis),
    )
    for key, value in kw.items():
        if key in ("xaxis", "yaxis") and isinstance(value, dict):
            layout[key] = {**layout[key], **value}
        else:
            layout[key] = value
    return layout


NOWRAP_CHARS = 14  # a column whose every cell is this short keeps each cell on one line


def table_html(df: pd.DataFrame, empty: str, max_rows: int = 200) -> HTML:
    """A plain, styled table (already formatted strings), or a note when there are no rows."""
    if df is None or df.empty:
        return HTML(f'<p class="wb-empty">{html.escape(empty)}</p>')
    shown = df.head(max_rows)
    by_col: dict[object, list[str]] = {}
    for col in shown.columns:
        texts = ["—" if _missing(v) else str(v) for v in shown[col]]
        short = max((len(x) for x in texts), default=0) <= NOWRAP_CHARS
        by_col[col] = [  # a short column (names, dates, numbers) never breaks inside a word
            f'<span class="wb-nw">{html.escape(x)}</span>' if short else html.escape(x)
            for x in texts
        ]
    heads = [html.escape(str(c)) for c in shown.columns]
    if heads == list(shown.columns) and len(set(heads)) == len(heads):
        body = _table_markup(tuple(heads), list(zip(*by_col.values())))
    else:  # headers that are not text, HTML-escaping changes or repeat: pandas' own way
        rows = list(zip(*by_col.values()))  # by position: the escaped heads are not the keys
        body = pd.DataFrame(rows, columns=heads).to_html(
            index=False, escape=False, classes="wb-table", border=0
        )
    more = ""
    if len(df) > max_rows:
        note = t("batch.report.more_rows", n=len(df) - max_rows)
        more = f'<p class="wb-note">{html.escape(note)}</p>'
    return HTML(body + more)


def _table_markup(heads: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """The markup `DataFrame.to_html(index=False, escape=False, classes="wb-table", border=0)`
    gives for these cells, written directly (pandas' writer took a quarter of a county
    report's time): the table tag and header from pandas itself (`_table_head`), each cell as
    pandas writes it (`_html_cell`). A test compares both writers."""
    head, tail = _table_head(heads)
    body = "".join(
        "    <tr>\n" + "".join(f"      <td>{_html_cell(c)}</td>\n" for c in row) + "    </tr>\n"
        for row in rows
    )
    return head + body + tail


def _html_cell(text: str) -> str:
    """A cell as pandas' HTML writer prints it: tab and line breaks shown escaped (\\t, \\n,
    \\r), the ends stripped, double spaces as &nbsp;&nbsp;."""
    text = text.replace("\t", "\\t").replace("\r", "\\r").replace("\n", "\\n")
    return text.strip().replace("  ", "&nbsp;&nbsp;")


@functools.lru_cache(maxsize=256)
def _table_head_for(heads: tuple[str, ...], options: tuple) -> tuple[str, str]:
    empty = pd.DataFrame(columns=list(heads)).to_html(
        index=False, escape=False, classes="wb-table", border=0
    )
    cut = empty.index("  </tbody>")
    return empty[:cut], empty[cut:]


def _table_head(heads: tuple[str, ...]) -> tuple[str, str]:
    """(everything up to the body's rows, the rest) of pandas' table with these headers and
    no rows, kept per headers and the display options that shape them."""
    options = tuple(
        pd.get_option(o)
        for o in ("display.html.use_mathjax", "display.html.border", "display.colheader_justify")
    )
    return _table_head_for(heads, options)


CARD_CSS = """
<style>
.wb-cards{display:flex;flex-wrap:wrap;gap:10px;margin:6px 0 14px}
.wb-card{border:1px solid #dfe3ea;border-radius:8px;padding:10px 12px;width:210px;
 background:#fff;border-top:4px solid #9aa5b1;break-inside:avoid;page-break-inside:avoid}
.wb-card.met{border-top-color:#2e8b57}.wb-card.unmet{border-top-color:#d9534f}
.wb-card h4{margin:0 0 4px;font-size:13px;color:#444;font-weight:600}
.wb-card .v{font-size:22px;font-weight:700;color:#1f2d3d}
.wb-card .s{font-size:12px;color:#555;line-height:1.6}
.wb-card .bad{color:#c0392b}.wb-card .good{color:#2e7d32}
.wb-table{border-collapse:collapse;font-size:13px;margin:4px 0 12px}
.wb-table th{background:#f0f3f7;text-align:left}
.wb-table th,.wb-table td{border:1px solid #dfe3ea;padding:4px 8px}
.wb-table th,.wb-nw{white-space:nowrap}.wb-table td{min-width:4em}
.wb-table tr{break-inside:avoid;page-break-inside:avoid}
.wb-table thead{display:table-header-group}
.wb-narrative{font-size:15px;line-height:1.9;text-indent:2em;max-width:60em}
.wb-head h1{font-size:22px;margin:0 0 4px}.wb-head p{color:#555;margin:0}
.wb-demo{display:inline-block;background:#fff3cd;color:#8a6d3b;padding:1px 8px;
 border-radius:4px;font-size:12px;margin-left:8px}
.wb-empty,.wb-note{color:#666;font-size:13px}
</style>
"""


# ----------------------------------------------------------------------------- evaluation adapter
@dataclass
class CityData:
    """The evaluation reshaped into the few fixed tables the reports read."""

    period: str
    indicator_set: str
    counties: pd.DataFrame  # county, county_name, city
    kpis: pd.DataFrame  # county, indicator, name, unit, value, target, gap, met, yoy
    city_kpis: pd.DataFrame  # indicator, name, unit, value, target, gap, met, yoy
    scores: pd.DataFrame  # county, score, rank, grade
    uncertainty: pd.DataFrame  # county, nominal_rank, median_rank, q05, q95
    lagging: pd.DataFrame  # county, reasons
    milestones: pd.DataFrame  # county, milestone, deadline, status, note...
    ledgers: dict[str, pd.DataFrame]
    evaluation: Any = None
    hierarchy: str | None = None
    demo: bool = False
    _names: dict[str, str] = field(default_factory=dict)
    _trends: dict[str, Any] = field(default_factory=dict, repr=False)

    def name(self, county: str) -> str:
        return self._names.get(str(county), str(county))

    @property
    def period_label(self) -> str:
        """The period as the set's frequency writes it: 2025年9月, 2023财年, 2025年第3季度."""
        ev = self.evaluation
        if ev is not None and not ev.indicator_set.frequency.is_monthly:
            return ev.period_label
        return fmt.month_label(self.period)

    @property
    def has_calendar(self) -> bool:
        """Whether the set declares a calendar (its milestones are a report's part)."""
        ev = self.evaluation
        return ev is None or ev.indicator_set.calendar is not None

    @property
    def has_lagging(self) -> bool:
        """Whether the set can list units 进度滞后 (`indicators.has_lagging_list`)."""
        from workbench.indicators import has_lagging_list

        return self.evaluation is None or has_lagging_list(self.evaluation.indicator_set)

    @property
    def words(self) -> Any:
        """The set's words (`presentation.words`): unit noun, report title, issuer, total."""
        if self.evaluation is not None:
            return self.evaluation.words
        city = str(self.counties["city"].mode().iloc[0]) if len(self.counties) else ""
        return ledger_words(city)

    def ledger_for(self, ledger: str, county: str) -> pd.DataFrame:
        """One county's rows of a ledger; the ledger is split by county once and cached."""
        key = f"ledger:{ledger}"
        if key not in self._trends:
            df = self.ledgers.get(ledger, pd.DataFrame())
            self._trends[key] = (
                {str(k): v for k, v in df.groupby("county_code", sort=False)}
                if "county_code" in df
                else {},
                df.iloc[0:0],
            )
        groups, empty = self._trends[key]
        return groups.get(str(county), empty)

    def _once(self, key: str, build: Any) -> Any:
        """`build()` computed once per CityData (per kernel in a batch) and kept."""
        if key not in self._trends:
            self._trends[key] = build()
        return self._trends[key]

    @property
    def county_lists(self) -> lists.CountyLists:
        """The as-of lists (`presentation.lists`), judged once for the city, by county."""

        def build() -> lists.CountyLists:
            from workbench.presentation import counts as pc

            ev = self.evaluation
            iset = ev.indicator_set if ev is not None else None
            threshold = pc.referral_threshold(iset) if iset is not None else None
            return lists.CountyLists(self.ledgers, self.period, iset, threshold)

        return self._once("county_lists", build)

    def institution_names(self) -> pd.Series:
        """institution_id → institution_name (`presentation.lists.institution_names`), once."""
        return self._once("institution_names", lambda: lists.institution_names(self.ledgers))

    def levels(self) -> dict[str, str]:
        """county → the list it is on (`indicators.TALK_LEVELS`: 约谈 or 督促), from the declared
        criteria's `level` (an older run without it: every listed county is 约谈)."""

        def build() -> dict[str, str]:
            from workbench.indicators import TALK_LEVELS

            lag = self.lagging
            if lag.empty or "county" not in lag:
                return {}
            level = lag["list_level"] if "list_level" in lag else pd.Series(None, index=lag.index)
            level = level.where(level.isin(TALK_LEVELS), TALK_LEVEL)
            return dict(zip(lag["county"].astype(str), level))

        return self._once("levels", build)

    def talk_list(self, county: str) -> dict[str, Any] | None:
        """A county's row of the 约谈名单 beside the register (`lists.talk_list_followup` of
        the whole list, once): None when the county is not on it."""

        def build() -> dict[str, dict[str, Any]]:
            lag = self.lagging
            if lag.empty or "county" not in lag:
                return {}
            whole = lag.rename(columns={"county": "county_code"})
            whole = whole.assign(county_name=[self.name(c) for c in whole["county_code"]])
            for col in ("criteria", "reasons"):
                if col not in whole:
                    whole = whole.assign(**{col: ""})
            rows = lists.talk_list_followup(whole, self.ledgers, self.period)
            out: dict[str, dict[str, Any]] = {}
            for code, row in zip(whole["county_code"], rows.to_dict("records")):
                out.setdefault(str(code), row)  # a county listed twice: its first row
            return out

        return self._once("talk_list", build).get(str(county))

    def definition_facts(self) -> list[dict[str, Any]]:
        """The set's definition facts (`presentation.definitions.facts`) as records, once."""
        from workbench.presentation import definitions as pdef

        return self._once(
            "definition_facts",
            lambda: pdef.facts(self.evaluation.indicator_set).to_dict("records"),
        )

    def _kpi_groups(self) -> dict[Any, tuple[pd.DataFrame, list[Kpi]]]:
        """Each county's presented KPI rows and their views (`presentation.kpis.views`, row
        by row), from one pass over the city's table."""

        def build() -> dict[Any, tuple[pd.DataFrame, list[Kpi]]]:
            if "county" not in self.kpis:
                return {}
            views = _kpi_rows(self.kpis)
            at = self.kpis.groupby("county", sort=False).indices  # county → row positions
            return {k: (self.kpis.iloc[p], [views[i] for i in p]) for k, p in at.items()}

        return self._once("kpi_groups", build)

    def rows_of(self, table: str, county: str) -> pd.DataFrame:
        """A county's rows of one of the city's tables (`scores`, `uncertainty`, `lagging`,
        `milestones`, which have a `county` column), the table split by county once."""

        def build() -> dict[Any, pd.DataFrame]:
            df = getattr(self, table)
            at = df.groupby("county", sort=False).indices  # county → row positions
            return {k: df.iloc[p] for k, p in at.items()}

        got = self._once(f"rows:{table}", build).get(county)
        return got if got is not None else getattr(self, table).iloc[0:0]

    def kpis_of(self, county: str) -> pd.DataFrame:
        """A county's presented KPI rows (the city's table, split by county once)."""
        got = self._kpi_groups().get(county)
        return got[0] if got is not None else self.kpis.iloc[0:0]

    def kpi_views(self, county: str) -> list[Kpi]:
        """A county's KPI views, in the table's order."""
        got = self._kpi_groups().get(county)
        return list(got[1]) if got is not None else []

    def ranked(self) -> pd.DataFrame:
        """scores with their rank bands, by rank (counties without a rank left out), once."""

        def build() -> pd.DataFrame:
            s = self.scores
            df = s.merge(self.rank_bands(), on="county", how="left").sort_values("rank")
            return df[df["rank"].notna()]

        return self._once("ranked", build)

    def rank_bands(self) -> pd.DataFrame:
        """county, median_rank, q05, q95 (empty columns when the engine gave none)."""
        u = self.uncertainty
        cols = ["county", "median_rank", "q05", "q95"]
        if u.empty or "county" not in u:
            return pd.DataFrame(columns=cols)
        return u[[c for c in cols if c in u.columns]].drop_duplicates("county")

    def trend(self, indicator: str, county: str | None = None) -> pd.DataFrame:
        """Monthly series (period, value, target) of one indicator for a county or the city.

        The series runs from January of the previous year to the evaluation period at the
        evaluation's span (year-to-date by default), so the target line is comparable. All
        counties are computed in one pass per indicator and cached: a batch kernel running
        hundreds of counties pays for each indicator's trend once.
        """
        ev = self.evaluation
        if ev is None:
            return pd.DataFrame(columns=["period", "value", "target"])
        if indicator not in self._trends:
            self._trends[indicator] = _trend_matrix(ev, indicator, self.period)
        mat = self._trends[indicator]
        if mat is None:  # the engine could not give a matrix: ask it for this one series
            try:
                return _frame(ev.trend(indicator, county=county))
            except (KeyError, ValueError, TypeError, AttributeError):
                return pd.DataFrame(columns=["period", "value", "target"])
        periods, counties, values, targets, city_v, city_t = mat
        if county is None:
            return pd.DataFrame({"period": periods, "value": city_v, "target": city_t})
        row = counties.get(str(county))
        if row is None:
            return pd.DataFrame(columns=["period", "value", "target"])
        return pd.DataFrame({"period": periods, "value": values[row], "target": targets[row]})


TREND_PERIODS = 6  # periods a report's trend shows for a set that is not monthly


def _trend_matrix(ev: Any, indicator: str, period: str) -> tuple | None:
    """(periods, {county: row}, values, targets, city values, city targets) or None."""
    try:
        freq = ev.indicator_set.frequency
        if freq.is_monthly:
            start = f"{int(period[:4]) - 1}-01"
        else:  # six periods of a yearly or quarterly set (two fiscal years would say little)
            m = int(period[:4]) * 12 + int(period[5:7]) - 1 - (TREND_PERIODS - 1) * freq.months
            start = f"{m // 12:04d}-{m % 12 + 1:02d}"
        a = ev.trend_arrays(indicator, span=ev.span, start=start, end=period)
        rows = {str(c): i for i, c in enumerate(a.counties)}
        return (a.periods, rows, a.value[:-1], a.target[:-1], a.value[-1], a.target[-1])
    except Exception as exc:  # noqa: BLE001 - fall back to the facade's per-county trend
        log.debug("trend matrix for %s unavailable: %s", indicator, exc)
        return None


def _county_table(ledgers: dict[str, pd.DataFrame], period: str, ev: Any = None) -> pd.DataFrame:
    """county, county_name, city of every unit: the counties ledger's, or — for a set on its
    own declared tables — the evaluation's units with their names and the total row's name."""
    iset = getattr(ev, "indicator_set", None)
    if iset is not None and iset.tables and not iset.reads_ledgers():
        names = ev.county_names
        return pd.DataFrame(
            {
                "county": names.index.astype(str),
                "county_name": names.astype(str).to_numpy(),
                "city": ev.city_name,
            }
        ).reset_index(drop=True)
    df = ledgers.get("counties", pd.DataFrame())
    if df.empty:
        return pd.DataFrame(columns=["county", "county_name", "city"])
    year = int(period[:4]) if period[:4].isdigit() else None
    df = df.sort_values("year")
    if year is not None and (df["year"] <= year).any():
        df = df[df["year"] <= year]
    df = df.drop_duplicates("county_code", keep="last")
    out = df.rename(columns={"county_code": "county"})[["county", "county_name", "city"]]
    return out.sort_values("county").reset_index(drop=True)


def unit_table(
    warehouse: str | os.PathLike | None, period: str, indicator_set: str | None = None
) -> pd.DataFrame:
    """county, county_name, city of the units a set reports on (the batch's list): the
    counties ledger's, or a set's own tables' units (from its evaluation, which the reports
    then reuse from the cache)."""
    from workbench.config import warehouse_path

    path = warehouse_path(warehouse)
    iset = _set(indicator_set)
    ev = None
    if iset is not None and iset.tables and not iset.reads_ledgers():
        ev = evaluation(path, period, indicator_set)
    return _county_table(load_ledgers(path), period, ev)


def _frame(obj: Any) -> pd.DataFrame:
    if obj is None:
        return pd.DataFrame()
    if isinstance(obj, pd.DataFrame):
        return obj.reset_index() if obj.index.name else obj
    if isinstance(obj, pd.Series):
        return obj.reset_index()
    try:
        return pd.DataFrame(obj)
    except (TypeError, ValueError):
        return pd.DataFrame()


def _root_scores(ev: Any) -> tuple[pd.DataFrame, str | None]:
    """The set's own default index (`presentation.default_index`, else its first hierarchy):
    top-level score, rank and grade per county — the ranking the cockpit opens on too."""
    table = ev.index_table
    order = ev.indicator_set.indices()
    if table.empty or not order:
        return pd.DataFrame(columns=["county", "score", "rank", "grade"]), None
    hierarchy = next((h for h in order if (table["hierarchy"] == h).any()), None)
    if hierarchy is None:
        return pd.DataFrame(columns=["county", "score", "rank", "grade"]), None
    table = table[table["hierarchy"] == hierarchy]
    root = table[table["level"] == table["level"].max()]
    out = root[["county_code", "score", "rank", "grade"]].reset_index(drop=True)
    return out.rename(columns={"county_code": "county"}), hierarchy


def city_data(
    warehouse: str | os.PathLike | None = None,
    period: str = "latest",
    indicator_set: str = "campaign_2025",
    span: str | None = None,
) -> CityData:
    """Evaluation + ledgers reshaped for the reports; cached with the evaluation."""
    from workbench.config import warehouse_path

    path = warehouse_path(warehouse)
    ledgers = load_ledgers(path)
    period = resolve_period(period, ledgers, path, indicator_set)
    key = ("city_data", *_results_key(path), period, indicator_set, span)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
    ev = evaluation(path, period, indicator_set, span)
    counties = _county_table(ledgers, period, ev)
    names = dict(zip(counties["county"], counties["county_name"]))
    iset = ev.indicator_set
    by_county = {"county_code": "county"}
    kpis = pk.present(ev.kpis, iset).rename(columns=by_county)
    scores, hierarchy = _root_scores(ev)
    unc = ev.uncertainty_table.rename(columns=by_county)
    if hierarchy and "hierarchy" in unc:
        unc = unc[unc["hierarchy"] == hierarchy]
    lag = ev.lagging.rename(columns=by_county)
    ms = ev.milestones.rename(columns=by_county)
    demo = bool(counties["city"].astype(str).str.contains("演示").any()) if len(counties) else False
    data = CityData(
        period=period,
        indicator_set=indicator_set,
        counties=counties,
        kpis=kpis,
        city_kpis=pk.present(ev.city_kpis, iset),
        scores=scores,
        uncertainty=unc,
        lagging=lag,
        milestones=ms,
        ledgers=ledgers,
        evaluation=ev,
        hierarchy=hierarchy,
        demo=demo,
        _names=names,
    )
    with _CACHE_LOCK:
        _CACHE[key] = data
    return data


# ----------------------------------------------------------------------------- KPI rows
Kpi = pk.KpiView  # one presented KPI (status, gap and texts decided in workbench.presentation)


def _kpi_rows(df: pd.DataFrame) -> list[Kpi]:
    return pk.views(df)


def kpi_cards(kpis: Iterable[Kpi]) -> HTML:
    cards = []
    for k in kpis:
        cls = {pk.MET: "met", pk.NOT_MET: "unmet", pk.AT_RISK: "risk"}.get(k.status, "")
        tone = {"met": "good", "unmet": "bad", "risk": "warn"}.get(cls, "")
        status = f'<span class="{tone}">{_esc(k.status_label)}</span>'
        cards.append(
            f'<div class="wb-card {cls}" data-indicator="{_esc(k.indicator)}">'
            f'<h4 title="{_esc(k.name)}">{_esc(k.short_name)}</h4>'
            f'<div class="v">{_esc(k.value_text)}</div>'
            f'<div class="s">{t("batch.report.target")}：{_esc(k.target_text)} {status}<br>'
            f"{_esc(k.gap_text)}　{t('batch.report.yoy')}：{_esc(k.change_text)}</div></div>"
        )
    return HTML(CARD_CSS + '<div class="wb-cards">' + "".join(cards) + "</div>")


def kpi_sentence(k: Kpi, subject: str | None = None, noun: str | None = None) -> str:
    """One clause of the narrative (see `presentation.kpis.sentence`): about 本<noun> unless a
    `subject` is given."""
    if subject is None:
        subject = t("batch.narr.subject_county", noun=noun or t("tables.noun.county"))
    return pk.sentence(k, subject)


def milestone_requirement(r: Any) -> str:
    """What must happen by the deadline, from the numbers: the gap and the pace per month."""
    cur, target = r.get("current_value", r.get("value")), r.get("target")
    status = str(r.get("status") or "")
    if status == "met":
        return t("batch.ms.done")
    if _missing(cur) or _missing(target):
        return t("batch.ms.no_data")
    unit = r.get("unit", "")
    dec = r.get("decimals")
    op = str(r.get("op") or ">=")
    gap = (float(target) - float(cur)) if op in (">=", ">") else (float(cur) - float(target))
    if gap <= 0:
        return t("batch.ms.keep")
    months = r.get("months_left")
    months = 0 if _missing(months) else int(months)
    key = "batch.ms.raise" if op in (">=", ">") else "batch.ms.lower"
    if months <= 0:
        return t(key + "_overdue", gap=fmt.gap_text(gap, unit, dec))
    pace = fmt.gap_text(gap / months, unit, dec)
    return t(key, gap=fmt.gap_text(gap, unit, dec), months=months, pace=pace)


# ----------------------------------------------------------------------------- county report
class CountyReport:
    """Everything the county notebook shows for one county, built from the cached CityData."""

    def __init__(self, data: CityData, county: str | None) -> None:
        if county is None or str(county).strip() == "":
            if data.counties.empty:
                raise KeyError(t("batch.err.no_counties"))
            county = str(data.counties["county"].iloc[0])
        county = str(county).strip()
        if county not in set(data.counties["county"]):
            by_name = data.counties[data.counties["county_name"] == county]
            if by_name.empty:
                w = data.words
                raise KeyError(
                    t(
                        "batch.report.unknown_county",
                        county=county,
                        noun=w.unit_noun,
                        code_label=w.code_label,
                    )
                )
            county = str(by_name["county"].iloc[0])
        self.data = data
        self.county = county
        self.name = data.name(county)
        self.kpis = data.kpi_views(county)

    def _list(self, name: str) -> pd.DataFrame:
        """This county's rows of an as-of list (`presentation.lists`, judged once per city)."""
        return self.data.county_lists.get(name, self.county)

    # -- the pieces
    def header(self) -> HTML:
        demo = (
            f'<span class="wb-demo">{t("batch.report.demo_badge")}</span>' if self.data.demo else ""
        )
        return HTML(
            CARD_CSS + f'<div class="wb-head"><h1>{_esc(self.name)}'
            f"{_esc(self.data.words.report_title)}{demo}</h1>"
            f"<p>{html.escape(self._subtitle())}</p></div>"
        )

    def _subtitle(self) -> str:
        return t(
            "batch.report.subtitle",
            period=self.data.period_label,
            code=self.county,
            code_label=self.data.words.code_label,
        )

    def kpi_cards(self) -> HTML:
        return kpi_cards(self.kpis)

    def score(self) -> dict[str, Any]:
        s = self.data.scores
        row = self.data.rows_of("scores", self.county) if "county" in s else s.iloc[0:0]
        out: dict[str, Any] = {
            "score": None,
            "rank": None,
            "tied": False,
            "grade": None,
            "n": len(s),
        }
        if not row.empty:
            r = row.iloc[0]
            rank = None if _missing(r.get("rank")) else int(r["rank"])
            ranks = pd.to_numeric(s["rank"], errors="coerce") if "rank" in s else None
            out.update(
                score=None if _missing(r.get("score")) else float(r["score"]),
                rank=rank,
                tied=rank is not None and ranks is not None and int((ranks == rank).sum()) > 1,
                grade=None if _missing(r.get("grade")) else str(r["grade"]),
            )
        u = self.data.uncertainty
        urow = self.data.rows_of("uncertainty", self.county) if "county" in u else u.iloc[0:0]
        if not urow.empty:
            r = urow.iloc[0]
            for k in ("median_rank", "q05", "q95"):
                if k in r and not _missing(r[k]):
                    out[k] = float(r[k])
        return out

    def lagging_reasons(self) -> list[str]:
        lag = self.data.lagging
        if lag.empty or "county" not in lag:
            return []
        rows = self.data.rows_of("lagging", self.county)
        col = _col(rows, "reasons", "reason")
        out: list[str] = []
        for v in rows[col] if col else []:
            if isinstance(v, (list, tuple)):
                out.extend(str(x) for x in v)
            elif not _missing(v):
                out.extend(s for s in str(v).replace("；", ";").split(";") if s.strip())
        return out or ([t("batch.report.lagging_generic")] if len(rows) else [])

    def narrative(self) -> HTML:
        return HTML(CARD_CSS + f'<p class="wb-narrative">{html.escape(self.narrative_text())}</p>')

    def narrative_text(self, detail: int = 5) -> str:
        """The paragraph a report opens with, generated from the numbers only."""
        parts = [t("batch.narr.opening", period=self.data.period_label)]
        targeted = [k for k in self.kpis if k.target is not None]
        unmet = sorted(
            (k for k in targeted if k.met is False),
            key=lambda k: -(abs(k.gap or 0) / (abs(k.target or 0) or 1)),
        )
        met = [k for k in targeted if k.met]
        noun = self.data.words.unit_noun
        clauses = [c for c in (kpi_sentence(k, noun=noun) for k in unmet[:detail]) if c]
        if clauses:
            parts.append("；".join(clauses) + "。")
        if len(unmet) > detail:
            parts.append(
                t(
                    "batch.narr.more_unmet",
                    n=len(unmet) - detail,
                    names=pw.name_list(k.name for k in unmet[detail:]),
                )
            )
        if met:
            parts.append(
                t(
                    "batch.narr.met_list",
                    n=len(met),
                    names=pw.name_list(k.name for k in met[:6]),
                    more=t("batch.narr.etc") if len(met) > 6 else "",
                )
            )
        if not targeted:
            parts.append(t("batch.narr.no_kpis", noun=noun))
        elif not unmet:
            parts.append(t("batch.narr.all_met", met=len(met)))
        sc = self.score()
        if sc["score"] is not None:
            band = ""
            if sc.get("q05") is not None and sc.get("q95") is not None:
                lo, hi = int(round(sc["q05"])), int(round(sc["q95"]))
                band = (
                    t("batch.narr.rank_band", lo=lo, hi=hi)
                    if lo != hi
                    else t("batch.narr.rank_fixed", rank=lo)
                )
            words = self.data.words
            parts.append(
                t(
                    "batch.narr.rank" if sc["grade"] else "batch.narr.rank_no_grade",
                    n=sc["n"],
                    score=fmt.score_text(sc["score"]),
                    tie=prank.tie_word(sc["tied"]),
                    rank=sc["rank"] or "—",
                    band=band,
                    grade=sc["grade"] or "—",
                    scope=words.scope,
                    noun=words.unit_noun,
                )
            )
        reasons = self.lagging_reasons()
        if reasons:
            key = f"batch.narr.listed_{self.data.levels().get(str(self.county), TALK_LEVEL)}"
            parts.append(t(key, reasons="；".join(reasons), noun=noun))
        overdue = len(self.overdue_frame())
        if overdue:
            parts.append(t("batch.narr.overdue", n=overdue))
        return "".join(parts)

    def trend_chart(self, indicator: str | None = None) -> Chart | HTML:
        kpi = (
            next((k for k in self.kpis if k.indicator == indicator), None)
            if indicator
            else next((k for k in self.kpis if k.met is False), self.kpis[0] if self.kpis else None)
        )
        if kpi is None:
            return HTML(f'<p class="wb-empty">{t("batch.report.no_trend")}</p>')
        df = self.data.trend(kpi.indicator, county=self.county)
        pc = _col(df, "period", "month")
        vc = _col(df, "value")
        if df.empty or pc is None or vc is None:
            return HTML(f'<p class="wb-empty">{t("batch.report.no_trend")}</p>')
        x = [fmt.month_label(p) for p in df[pc].astype(str)]
        pct = fmt.unit_kind(kpi.unit) == fmt.PERCENT
        scale = 100.0 if pct else 1.0

        def scaled(values: Iterable[Any]) -> list[float | None]:
            return [None if _missing(v) else float(v) * scale for v in values]

        data: list[dict] = [
            dict(
                type="scatter",
                x=x,
                y=scaled(df[vc]),
                mode="lines+markers",
                name=self.name,
                line=dict(color="#1f77b4", width=2),
            )
        ]
        tc = _col(df, "target")
        name = t("batch.report.target")
        line = dict(color="#d9534f", dash="dash")
        if tc is not None and df[tc].notna().any():
            data.append(
                dict(type="scatter", x=x, y=scaled(df[tc]), mode="lines", name=name, line=line)
            )
        elif kpi.target is not None:
            data.append(
                dict(
                    type="scatter",
                    x=[x[0], x[-1]],
                    y=[kpi.target * scale] * 2,
                    mode="lines",
                    name=name,
                    line=line,
                )
            )
        layout = _layout(
            t("batch.report.trend_title", name=kpi.name, trend_kind=self.data.words.trend_kind),
            xaxis=dict(type="category"),
            yaxis=dict(ticksuffix="%" if pct else "", rangemode="tozero"),
        )
        return Chart({"data": data, "layout": layout}, height=320)

    def trend_charts(self, limit: int = 4) -> list[Chart | HTML]:
        """Trends of the KPIs most in need of attention: unmet first, then the rest."""
        order = sorted(self.kpis, key=lambda k: (k.met is not False, k.met is None))
        charts = [self.trend_chart(k.indicator) for k in order[:limit]]
        shown = [c for c in charts if isinstance(c, Chart)]
        empty = HTML(f'<p class="wb-empty">{t("batch.report.no_trend")}</p>')
        return shown or charts[:1] or [empty]

    def ranking_chart(self, window: int = 15) -> Chart | HTML:
        """The city ranking with 5–95% rank bands; this county highlighted.

        In a large city only the counties within `window` ranks of this one are drawn.
        """
        s = self.data.scores
        if s.empty or "rank" not in s or "county" not in s:
            return HTML(f'<p class="wb-empty">{t("batch.report.no_ranking")}</p>')
        df = self.data.ranked()
        mine = df.loc[df["county"] == self.county, "rank"]
        if len(df) > 2 * window + 1 and len(mine):
            r0 = float(mine.iloc[0])
            df = df[(df["rank"] - r0).abs() <= window]
        names = [self.data.name(c) for c in df["county"]]
        ranks = [float(v) for v in df["rank"]]
        trace: dict[str, Any] = dict(
            type="scatter",
            x=names,
            y=ranks,
            mode="markers",
            name=t("batch.report.rank"),
            marker=dict(
                size=11, color=["#d9534f" if c == self.county else "#9aa5b1" for c in df["county"]]
            ),
        )
        if {"q05", "q95"} <= set(df.columns) and df["q05"].notna().any():
            trace["error_y"] = dict(
                type="data",
                symmetric=False,
                color="#555",
                thickness=1.2,
                array=(df["q95"] - df["rank"]).clip(lower=0).tolist(),
                arrayminus=(df["rank"] - df["q05"]).clip(lower=0).tolist(),
            )
        layout = _layout(
            t(
                "batch.report.ranking_title",
                whole=self.data.words.whole,
                noun=self.data.words.unit_noun,
            ),
            showlegend=False,
            xaxis=dict(type="category", tickangle=-45 if len(df) > 12 else 0),
            yaxis=dict(
                autorange="reversed",
                title=dict(text=t("batch.report.rank")),
                dtick=1 if len(df) <= 20 else None,
            ),
        )
        return Chart({"data": [trace], "layout": layout}, height=340)

    def milestones_frame(self) -> pd.DataFrame:
        """Each milestone: where the county stands, the projection, and what must still happen."""
        ms = self.data.milestones
        if ms.empty:
            return pd.DataFrame()
        if "county" in ms:
            ms = self.data.rows_of("milestones", self.county)
        rows = []
        for _, r in ms.iterrows():
            unit, dec = r.get("unit", ""), r.get("decimals")
            op = str(r.get("op") or ">=")
            rows.append(
                {
                    "节点": r.get("milestone_name") or r.get("milestone") or "—",
                    "指标": r.get("indicator_name") or r.get("indicator") or "—",
                    "目标": fmt.target_text(op, r.get("target"), unit, dec),
                    "截止日期": fmt.date_label(r.get("deadline")),
                    "进度口径": r.get("basis") or "—",
                    "进度值": fmt.value_text(r.get("current_value"), unit, dec),
                    "按当前进度预计": fmt.value_text(r.get("projected_value"), unit, dec),
                    "状态": r.get("status_label") or r.get("status") or "—",
                    "还需做到": milestone_requirement(r),
                }
            )
        return pd.DataFrame(rows)

    def milestones(self) -> HTML | None:
        """None (the section is left out) for a set that declares no calendar."""
        if not self.data.has_calendar:
            return None
        return table_html(self.milestones_frame(), t("batch.report.no_milestones"))

    def overdue_frame(self) -> pd.DataFrame:
        """Overdue rectifications as of the period's end (`presentation.lists`)."""
        if not self.data.words.on_ledgers:
            return pd.DataFrame()
        df = self._list("overdue_rectifications")
        return pd.DataFrame(
            {
                "问题编号": df["issue_id"],
                "问题来源": df["source"],
                "责任单位": df["responsible_unit"],
                "问题描述": df["description"],
                "整改时限": df["deadline"].map(fmt.date_label),
                "逾期天数": df["days_overdue"],
                "整改状态": df["status"],
                "涉及金额": df["amount_involved"].map(cells.yuan_text),
            }
        )

    def overdue_rectifications(self) -> HTML | None:
        if not self.data.words.on_ledgers:
            return None
        return table_html(mask_frame(self.overdue_frame()), t("batch.report.no_overdue"))

    def open_cases_frame(self) -> pd.DataFrame:
        """Cases open at the period's end, largest amount first (`presentation.lists`)."""
        if not self.data.words.on_ledgers:
            return pd.DataFrame()
        df = self._list("open_cases")
        return pd.DataFrame(
            {
                "案件编号": df["case_id"],
                "发现日期": df["found_date"].map(fmt.date_label),
                "立案日期": df["filed_date"].map(fmt.date_label),
                "已办天数": df["days_open"],
                "违规主体": df["subject_type"],
                "机构名称": df["institution_name"].fillna("—"),
                "当事人姓名": df["person_name"],
                "违规类型": df["violation_type"],
                "涉案金额": df["amount_involved"].map(cells.yuan_text),
                "案件状态": df["status"],
            }
        )

    def open_cases(self) -> HTML | None:
        if not self.data.words.on_ledgers:
            return None
        return table_html(mask_frame(self.open_cases_frame()), t("batch.report.no_open_cases"))

    # -- the lists behind the red numbers, what to do next, the definitions
    def unreferred_frame(self) -> pd.DataFrame:
        """Cases this year the 行刑衔接 rate counts as 涉嫌犯罪 and not referred to the police."""
        if not self.data.words.on_ledgers:
            return pd.DataFrame()
        df = self._unreferred_rows()
        if df is None:
            return pd.DataFrame()
        return pd.DataFrame(
            {
                "案件编号": df["case_id"],
                "发现日期": df["found_date"].map(fmt.date_label),
                "机构名称": df["institution_name"].fillna("—"),
                "当事人姓名": df["person_name"],
                "违规类型": df["violation_type"],
                "涉案金额": df["amount_involved"].map(cells.yuan_text),
                "案件状态": df["status"],
            }
        )

    def _unreferred_rows(self) -> pd.DataFrame | None:
        """This county's `lists.unreferred_cases` (with the declared threshold, as
        `CityData.county_lists` passes it); None for a set with neither threshold nor 行刑衔接
        rate."""
        from workbench.presentation import counts as pc

        iset = self.data.evaluation.indicator_set
        if pc.referral_threshold(iset) is None and lists.referral_indicator(iset) is None:
            return None
        return self._list("unreferred_cases")

    def _unreferred_count(self) -> int:
        rows = self._unreferred_rows()
        return 0 if rows is None else len(rows)

    def unreferred(self) -> HTML | None:
        if not self.data.words.on_ledgers:
            return None
        return table_html(mask_frame(self.unreferred_frame()), t("doc.county.no_unreferred"))

    def key_monitored_frame(self) -> pd.DataFrame:
        """Key-monitored institutions with no inspection this quarter."""
        if not self.data.words.on_ledgers:
            return pd.DataFrame()
        df = self._list("key_monitored_not_inspected")
        return pd.DataFrame(
            {
                "机构编码": df["institution_id"],
                "机构名称": df["institution_name"],
                "机构类型": df["institution_type"],
                "上次检查日期": df["last_inspection"].map(fmt.date_label),
            }
        )

    def key_monitored(self) -> HTML | None:
        if not self.data.words.on_ledgers:
            return None
        return table_html(
            self.key_monitored_frame(),
            t("doc.county.no_key_monitored", quarter=fmt.quarter_label(self.data.period)),
        )

    def talk_status(self) -> dict[str, Any] | None:
        """This county on the 约谈名单 (declared criteria), beside the 约谈督办台账: criteria,
        reasons, held or not, the latest 约谈 and its 复查 at the period's end; None when the
        county is not on the list (or the set's units are not the ledgers' counties)."""
        if not self.data.words.on_ledgers:
            return None
        row = self.data.talk_list(self.county)
        return None if row is None else dict(row)

    def talks_frame(self) -> pd.DataFrame:
        """约谈督办: this county's 约谈 not yet closed at the period's end (复查 overdue, not put
        right, or still ahead), worst first (`presentation.lists.talk_followups`)."""
        df = self._list("talk_followups")
        inst = self.data.institution_names()
        return pd.DataFrame(
            {
                "约谈编号": df["talk_id"],
                "约谈日期": df["talk_date"].map(fmt.date_label),
                "约谈对象": [
                    inst.get(i, i) if isinstance(i, str) and i else kind
                    for i, kind in zip(df["institution_id"], df["target_type"])
                ],
                "约谈事由": df["reasons"].fillna("—"),
                "整改承诺": df["commitments"].fillna("—"),
                "复查时限": df["review_due"].map(fmt.date_label),
                "复查结果": df["review_result"].fillna("—"),
                "督办状态": df["followup_label"],
                "逾期天数": df["days_overdue"],
            }
        )

    def talks(self) -> HTML | None:
        """The county's place on the 约谈名单 (why, held, 复查) and its open 约谈 (None, the
        section left out, for a set whose units are not the ledgers' counties)."""
        if not self.data.words.on_ledgers:
            return None
        st = self.talk_status()
        if st is None:
            head = t("doc.county.talk_not_listed", name=self.name)
        else:
            head = t(
                f"doc.county.talk_listed_{st.get('list_level') or TALK_LEVEL}",
                name=self.name,
                criteria=st["criteria"] or "—",
                reasons=st["reasons"] or "—",
                held=lists.talk_list_state(st),
            )
        table = table_html(self.talks_frame(), t("doc.county.no_open_talks"))
        return HTML(CARD_CSS + f'<p class="wb-narrative">{_esc(head)}</p>' + str(table))

    def overdue_cases_frame(self) -> pd.DataFrame:
        """Open cases past their 办案时限 at the period's end, longest overdue first."""
        df = self._list("overdue_cases")
        return pd.DataFrame(
            {
                "案件编号": df["case_id"],
                "立案日期": df["filed_date"].map(fmt.date_label),
                "办案时限": df["due_date"].map(fmt.date_label),
                "超期天数": df["days_overdue"],
                "机构名称": df["institution_name"].fillna("—"),
                "当事人姓名": df["person_name"],
                "违规类型": df["violation_type"],
                "涉案金额": df["amount_involved"].map(cells.yuan_text),
                "案件状态": df["status"],
            }
        )

    def overdue_checks_frame(self) -> pd.DataFrame:
        """Leads past their 核查时限 and complaints past their 办理时限 at the period's end."""
        leads = self._list("overdue_leads")
        comp = self._list("overdue_complaints")
        rows = [
            pd.DataFrame(
                {
                    "类别": t("doc.county.kind_lead"),
                    "编号": leads["lead_id"],
                    "来源": leads["lead_source"].fillna("—"),
                    "接收日期": leads["received_date"].map(fmt.date_label),
                    "时限": leads["due_date"].map(fmt.date_label),
                    "超期天数": leads["days_overdue"],
                }
            ),
            pd.DataFrame(
                {
                    "类别": t("doc.county.kind_complaint"),
                    "编号": comp["complaint_id"],
                    "来源": t("doc.county.kind_complaint"),
                    "接收日期": comp["received_date"].map(fmt.date_label),
                    "时限": comp["due_date"].map(fmt.date_label),
                    "超期天数": comp["days_overdue"],
                }
            ),
        ]
        out = pd.concat([r for r in rows if len(r)] or rows[:1], ignore_index=True)
        return out.sort_values("超期天数", ascending=False, kind="stable").reset_index(drop=True)

    def overdue_items(self) -> HTML | None:
        if not self.data.words.on_ledgers:  # the ledgers' lists: not for a set's own units
            return None
        cases = table_html(mask_frame(self.overdue_cases_frame()), t("doc.county.no_overdue_cases"))
        checks = table_html(self.overdue_checks_frame(), t("doc.county.no_overdue_checks"))
        return HTML(
            f"<h3>{_esc(t('doc.county.h_overdue_cases'))}</h3>{cases}"
            f"<h3>{_esc(t('doc.county.h_overdue_checks'))}</h3>{checks}"
        )

    def next_steps_list(self) -> list[str]:
        """下一步工作要求, derived from this county's failing KPIs and its non-empty lists."""
        out = []
        failing = [k for k in self.kpis if k.met is False]
        for k in failing:
            out.append(
                t(
                    "doc.county.req_kpi",
                    name=k.name,
                    value=k.value_text,
                    target=k.target_text,
                    gap=k.gap_text,
                )
            )
        lists_of = (  # the rows each list shows (counted, not formatted again)
            (lambda: len(self._list("overdue_rectifications")), "doc.county.req_overdue"),
            (self._unreferred_count, "doc.county.req_unreferred"),
            (
                lambda: len(self._list("key_monitored_not_inspected")),
                "doc.county.req_key_monitored",
            ),
            (lambda: len(self._list("overdue_cases")), "doc.county.req_overdue_cases"),
            (
                lambda: len(self._list("overdue_leads")) + len(self._list("overdue_complaints")),
                "doc.county.req_overdue_checks",
            ),
            (self._open_talks, "doc.county.req_talks"),
        )
        for count, key in lists_of if self.data.words.on_ledgers else ():  # the ledgers' lists
            n = count()
            if n:
                out.append(t(key, n=n, quarter=fmt.quarter_label(self.data.period)))
        st = self.talk_status()
        if st is not None:
            out.append(t("doc.county.req_talk_list", criteria=st["criteria"] or "—"))
        none = "doc.county.req_none" if self.data.words.on_ledgers else "doc.county.req_none_own"
        return out or [t(none)]

    def _open_talks(self) -> int:
        """约谈 whose 复查 is overdue or found the problem not put right (not those still ahead)."""
        df = self._list("talk_followups")
        return int(df["followup"].isin(("overdue", "not_rectified")).sum())

    def next_steps(self) -> HTML:
        items = "".join(f"<li>{_esc(s)}</li>" for s in self.next_steps_list())
        return HTML(CARD_CSS + f'<ol class="wb-narrative">{items}</ol>')

    def reconcile_sentences(self) -> list[str]:
        """Where a card (the set's span) and a milestone (its own span) show the same indicator
        with different numbers: one sentence each saying why."""
        ms = self.data.milestones
        if ms.empty or "county" not in ms:
            return []
        ms = self.data.rows_of("milestones", self.county)
        span = t(f"ind.span.{self.data.evaluation.span}")
        out = []
        for r in ms.to_dict("records"):
            card = next((k for k in self.kpis if k.indicator == r.get("indicator")), None)
            if card is None:
                continue
            mval = fmt.value_text(r.get("current_value"), r.get("unit"), r.get("decimals"))
            if mval == card.value_text:
                continue
            out.append(
                t(
                    "doc.county.reconcile",
                    name=card.name,
                    card=card.value_text,
                    span=span,
                    milestone=r.get("milestone_name"),
                    basis=r.get("basis") or "",
                    value=mval,
                )
            )
        return out

    def reconcile(self) -> HTML:
        text = "".join(f"<p>{_esc(s)}</p>" for s in self.reconcile_sentences())
        return HTML(CARD_CSS + f'<div class="wb-narrative">{text}</div>') if text else HTML("")

    def definitions_frame(self) -> pd.DataFrame:
        """Each KPI's working definition, this county's numerator and denominator, target and
        its source (`presentation.definitions`)."""
        from workbench.presentation import definitions as pdef

        d = pdef.definitions(
            self.data.evaluation.indicator_set,
            self.data.kpis_of(self.county),
            self.data.definition_facts(),
        )
        return pd.DataFrame(
            {
                "指标": d["name"],
                t("defs.formula"): d["formula_tagged"],
                "本期分子": d["numerator_text"],
                "本期分母": d["denominator_text"],
                "本期值": d["value_text"],
                "目标": d["target_text"],
                t("defs.target_source"): d["target_source"]
                + d["derivation"].map(lambda x: f"；{x}" if x else ""),
            }
        )

    def definitions(self) -> HTML:
        return table_html(self.definitions_frame(), t("batch.report.no_milestones"))

    def summary(self) -> dict[str, Any]:
        sc = self.score()
        return {
            "county": self.county,
            "county_name": self.name,
            "period": self.data.period,
            "score": sc["score"],
            "rank": sc["rank"],
            "grade": sc["grade"],
            "kpis_met": sum(1 for k in self.kpis if k.met),
            "kpis_unmet": sum(1 for k in self.kpis if k.met is False),
            "lagging": bool(self.lagging_reasons()),
        }

    def record(self) -> SummaryRecord:
        """The county's headline numbers for the batch index (invisible in the report)."""
        return SummaryRecord(self.summary())


class SummaryRecord:
    """Displayed last in the county notebook; the runner reads it into index.html."""

    def __init__(self, data: dict) -> None:
        self.data = data

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict:
        return {SUMMARY_MIME: self.data, "text/plain": ""}


def county_report(
    county: str | None = None,
    period: str = "latest",
    warehouse: str | None = None,
    indicator_set: str = "campaign_2025",
    span: str | None = None,
) -> CountyReport:
    return CountyReport(city_data(warehouse, period, indicator_set, span), county)


# ----------------------------------------------------------------------------- city report
class CityReport:
    """The city overview: ranking with grades, distribution, lagging list, city KPIs, 通报 text."""

    def __init__(self, data: CityData) -> None:
        self.data = data

    def header(self) -> HTML:
        demo = (
            f'<span class="wb-demo">{t("batch.report.demo_badge")}</span>' if self.data.demo else ""
        )
        ev = self.data.evaluation
        own = ev is not None and ev.indicator_set.tables and not ev.indicator_set.reads_ledgers()
        title = (
            t("tables.city_title", title=self.data.words.report_title)
            if own
            else self.city_name() + t("batch.report.city_title")
        )
        return HTML(
            CARD_CSS + f'<div class="wb-head"><h1>{_esc(title)}'
            f"{demo}</h1><p>"
            f"{html.escape(self._subtitle())}</p></div>"
        )

    def _subtitle(self) -> str:
        return t(
            "batch.report.city_subtitle",
            period=self.data.period_label,
            n=len(self.data.counties),
            noun=self.data.words.unit_noun,
        )

    def city_name(self) -> str:
        c = self.data.counties
        return str(c["city"].mode().iloc[0]) if len(c) else ""

    def issuer(self) -> str:
        """Who signs the 通报: the set's `presentation.issuer`, else <city>医疗保障局 for a set on
        the ledgers; nobody for a set on its own tables that names none."""
        return self.data.words.issuer

    def ranking_frame(self) -> pd.DataFrame:
        s = self.data.scores
        if s.empty or "county" not in s:
            return pd.DataFrame()
        df = s.merge(self.data.rank_bands(), on="county", how="left")
        df = df.sort_values(["rank", "county"], na_position="last", kind="stable")
        lag = self.data.levels()
        out = pd.DataFrame(
            {
                "排名": df["rank"].astype("Int64"),
                self.data.words.unit_noun: [self.data.name(c) for c in df["county"]],
                "综合得分": df["score"].map(fmt.score_text),
            }
        )
        grades = df["grade"] if "grade" in df else pd.Series(index=df.index, dtype=object)
        if grades.notna().any():  # a set that declares no grade bands has no 等级 column
            out["等级"] = grades.fillna("—").to_numpy()
        if {"q05", "q95"} <= set(df.columns):
            out[prank.interval_header()] = [
                prank.interval_text(a, b) for a, b in zip(df["q05"], df["q95"])
            ]
        if self.data.has_lagging:  # a set that lists nobody has no such column
            # the list each county is on (the declared level), not "lagging": a county summoned
            # for its grade or rank lags on no milestone
            out[t("batch.col.listed")] = [
                t(f"talk.list.{lag[c]}") if c in lag else "" for c in df["county"].astype(str)
            ]
        return out

    def leaders(self, k: int = 3) -> tuple[list[str], list[str]]:
        """The units 居前k位 (best first) and 居后k位 (worst first) by published rank: a tie at
        the k-th place names every unit of it (ranks 1, 2, 3, 3 → four within the top 3), an
        unranked unit is in neither."""
        frame = self.ranking_frame()
        if frame.empty:
            return [], []
        ranks = frame["排名"]
        names = frame[self.data.words.unit_noun]
        top = list(names[composite.within_top(ranks, k)])
        bottom = list(names[composite.within_bottom(ranks, k)])[::-1]
        return top, bottom

    def ranking_table(self) -> HTML:
        return table_html(self.ranking_frame(), t("batch.report.no_ranking"), max_rows=5000)

    def distribution_chart(self) -> Chart | HTML:
        s = self.data.scores
        if s.empty or "score" not in s:
            return HTML(f'<p class="wb-empty">{t("batch.report.no_ranking")}</p>')
        trace = dict(
            type="histogram",
            x=s["score"].dropna().tolist(),
            nbinsx=20,
            marker=dict(color="#1f77b4"),
        )
        layout = _layout(
            t("batch.report.distribution_title", noun=self.data.words.unit_noun),
            bargap=0.05,
            xaxis=dict(title=dict(text=t("batch.report.score"))),
            yaxis=dict(
                title=dict(text=t("batch.report.county_count", noun=self.data.words.unit_noun))
            ),
        )
        return Chart({"data": [trace], "layout": layout}, height=300)

    def lagging_frame(self) -> pd.DataFrame:
        """The 约谈名单: each county, the declared criteria that put it there, the details, and
        whether the 约谈 was held and its 复查 stood at the period's end."""
        lag = self.data.lagging
        if lag.empty or "county" not in lag:
            return pd.DataFrame()
        col = _col(lag, "reasons", "reason")
        reasons = (
            lag[col].map(
                lambda v: (
                    "；".join(map(str, v))
                    if isinstance(v, (list, tuple))
                    else ("" if _missing(v) else str(v))
                )
            )
            if col
            else pd.Series("", index=lag.index)
        )
        names = [self.data.name(c) for c in lag["county"]]
        frame = pd.DataFrame(
            {
                "county_code": lag["county"].astype(str).to_numpy(),
                "county_name": names,
                "criteria": lag["criteria"].to_numpy() if "criteria" in lag else "",
                "reasons": reasons.to_numpy(),
            }
        )
        for col in ("list_level", "as_of"):  # the list each is on, and when its evidence stands
            if col in lag:
                frame[col] = lag[col].to_numpy()
        follow = lists.talk_list_followup(frame, self.data.ledgers, self.data.period)
        out = {self.data.words.unit_noun: follow["county_name"].astype(str)}
        if follow["list_level"].ne(TALK_LEVEL).any():
            out[t("doc.col.level")] = [t(f"talk.level.{lv}") for lv in follow["list_level"]]
        out |= {
            t("doc.col.criteria"): follow["criteria"].fillna("").astype(str),
            t("doc.col.reasons"): follow["reasons"].fillna("").astype(str),
            t("doc.col.followup"): [lists.talk_list_state(r) for r in follow.to_dict("records")],
        }
        return pd.DataFrame(out)

    def lagging_table(self) -> HTML | None:
        """None (the section is left out) for a set that lists nobody as lagging."""
        if not self.data.has_lagging:
            return None
        return table_html(
            self.lagging_frame(), t("batch.report.no_lagging", noun=self.data.words.unit_noun)
        )

    def city_kpi_rows(self) -> list[Kpi]:
        return _kpi_rows(self.data.city_kpis) if not self.data.city_kpis.empty else []

    def kpi_cards(self) -> HTML:
        return kpi_cards(self.city_kpi_rows())

    def kpi_frame(self) -> pd.DataFrame:
        rows = self.city_kpi_rows()
        return pd.DataFrame(
            {
                "指标": [k.name for k in rows],
                "当前值": [k.value_text for k in rows],
                "目标": [k.target_text for k in rows],
                "差距": [k.gap_text for k in rows],
                "是否达标": [k.status_label for k in rows],
            }
        )

    def bulletin_sections(self) -> dict[str, str]:
        """The draft 通报, section by section, generated from the numbers, in the set's words
        (a set on its own table: no 专项整治 wording, no lagging section without a calendar)."""
        d = self.data
        w = d.words
        rows = self.city_kpi_rows()
        if w.on_ledgers:
            intro = t(
                "batch.bulletin.intro",
                campaign=pw.campaign_name(d.evaluation.indicator_set),
                city=self.city_name(),
                period=fmt.month_label(d.period),
                n=len(d.counties),
            )
        else:
            name = d.evaluation.indicator_set.name
            intro = t(
                "batch.bulletin.intro_own",
                whole=w.whole,
                n=len(d.counties),
                noun=w.unit_noun,
                period=d.period_label,
                name=name,
            )
        out = {"intro": intro}
        unmet = [k for k in rows if k.met is False]
        met = [k for k in rows if k.met]
        clauses = [c for c in (kpi_sentence(k, subject="") for k in unmet) if c]
        text = "；".join(clauses) + "。" if clauses else ""
        if met:
            text += t(
                "batch.narr.met_list", n=len(met), names=pw.name_list(k.name for k in met), more=""
            )
        out["kpis"] = (
            t("batch.bulletin.kpis", text=text, whole=w.whole)
            if text
            else t("batch.narr.no_kpis", noun=w.unit_noun)
        )
        rank = self.ranking_frame()
        if not rank.empty:
            top, bottom = self.leaders()
            out["ranking"] = t(
                "batch.bulletin.ranking", top="、".join(top), bottom="、".join(bottom)
            )
        else:
            out["ranking"] = t("batch.report.no_ranking")
        if d.has_lagging:
            levels = d.levels()
            summoned = [d.name(c) for c, lv in levels.items() if lv == TALK_LEVEL]
            reminded = [d.name(c) for c, lv in levels.items() if lv != TALK_LEVEL]
            out["lagging"] = (
                t(
                    "batch.bulletin.lagging",
                    n=len(summoned),
                    names="、".join(summoned),
                    noun=w.unit_noun,
                )
                if summoned
                else t("batch.bulletin.no_lagging", noun=w.unit_noun)
            )
            if reminded:
                out["lagging"] += t(
                    "batch.bulletin.remind",
                    n=len(reminded),
                    names="、".join(reminded),
                    noun=w.unit_noun,
                )
        out["closing"] = (
            t("batch.bulletin.closing")
            if w.on_ledgers
            else t("batch.bulletin.closing_own", noun=w.unit_noun)
        )
        return out

    def bulletin_paragraphs(self) -> list[str]:
        sec = self.bulletin_sections()
        heads = {
            "kpis": "batch.bulletin.summary",
            "ranking": "batch.bulletin.ranking_head",
            "lagging": "batch.bulletin.lagging_head",
        }
        noun = self.data.words.unit_noun
        body = [(k, key) for k, key in heads.items() if k in sec]
        return [
            sec["intro"],
            *(
                f"{t(key, n=fmt.cn_number(i), noun=noun)}。{sec[k]}"
                for i, (k, key) in enumerate(body, 1)
            ),
            sec["closing"],
        ]

    def bulletin(self) -> HTML:
        body = "".join(
            f'<p class="wb-narrative">{html.escape(p)}</p>' for p in self.bulletin_paragraphs()
        )
        return HTML(CARD_CSS + body)


def city_report(
    period: str = "latest",
    warehouse: str | None = None,
    indicator_set: str = "campaign_2025",
    span: str | None = None,
) -> CityReport:
    return CityReport(city_data(warehouse, period, indicator_set, span))


# ----------------------------------------------------------------------------- sensitivity
class Sensitivity:
    """For analysts: the declared index next to one built with other weights or methods, and
    the Monte Carlo rank intervals under those choices (the engine's own result objects)."""

    def __init__(
        self,
        data: CityData,
        hierarchy: str | None,
        samples: int,
        weights: dict[str, float] | None,
        overrides: dict[str, Any],
    ) -> None:
        from workbench import scoring

        ev = data.evaluation
        self.data = data
        self.hierarchy = hierarchy or data.hierarchy or next(iter(ev.indicator_set.hierarchies))
        self.overrides = {k: v for k, v in overrides.items() if v not in (None, "", {})}
        if weights:
            self.overrides["weights"] = dict(weights)
        agg = AGGREGATORS.get(str(self.overrides.get("aggregate")))
        if agg is not None and "nonpositive" in agg.options:  # needs positive values
            self.overrides.setdefault("nonpositive", "shift")  # as the Monte Carlo draws do
        iset, names = ev.indicator_set, ev.county_names
        data = ev._index_data(self.hierarchy)  # the declared index's own input
        self.nominal = ev.index[self.hierarchy]
        self.alternative = scoring.score(
            None, iset, self.hierarchy, names, data=data, **self.overrides
        )
        self.uncertainty = scoring.uncertainty(
            None, iset, self.hierarchy, samples, names, data=data, **self.overrides
        )

    def header(self) -> HTML:
        choices = "；".join(f"{k}={v}" for k, v in self.overrides.items()) or t(
            "batch.sens.declared"
        )
        sub = t(
            "batch.sens.subtitle",
            period=self.data.period_label,
            hierarchy=self.data.evaluation.indicator_set.hierarchies[self.hierarchy].name
            or self.hierarchy,
            choices=choices,
            n=self.uncertainty.n_samples,
        )
        return HTML(
            CARD_CSS + f'<div class="wb-head"><h1>{t("batch.sens.title")}</h1><p>'
            f"{html.escape(sub)}"
            "</p></div>"
        )

    def compare_frame(self) -> pd.DataFrame:
        a = self.nominal.summary()[["county_code", "county_name", "score", "rank", "grade"]]
        b = self.alternative.summary()[["county_code", "score", "rank", "grade"]]
        u = self.uncertainty.summary.rename(columns={"unit": "county_code"})
        df = a.merge(b, on="county_code", suffixes=("", "_alt")).merge(
            u[["county_code", "median_rank", "q05", "q95"]], on="county_code", how="left"
        )
        shift = df["rank"].astype("Float64") - df["rank_alt"].astype("Float64")
        return pd.DataFrame(
            {
                self.data.words.unit_noun: df["county_name"],
                "原排名": df["rank"],
                "调整后排名": df["rank_alt"],
                "名次变化": shift.map(lambda v: "—" if _missing(v) else f"{int(v):+d}"),
                "原得分": df["score"].map(fmt.score_text),
                "调整后得分": df["score_alt"].map(fmt.score_text),
                "原等级": df["grade"],
                "调整后等级": df["grade_alt"],
                prank.interval_header(): [
                    prank.interval_text(a, b) for a, b in zip(df["q05"], df["q95"])
                ],
            }
        )

    def compare(self) -> HTML:
        return table_html(self.compare_frame(), t("batch.report.no_ranking"), max_rows=5000)

    def drivers(self) -> HTML:
        """Which choice moves ranks most (one at a time around the declared build)."""
        sens = self.uncertainty.sensitivity.copy()
        if sens.empty:
            return HTML(f'<p class="wb-empty">{t("batch.sens.no_drivers")}</p>')
        sens["factor"] = [t(f"composite.factor.{f}") for f in sens["factor"]]
        cols = {
            "factor": "方法选择",
            "n_options": "备选数",
            "mean_abs_rank_shift": "平均名次变动",
            "variance_share": "对排名波动的贡献",
        }
        sens = sens[[c for c in cols if c in sens.columns]].rename(columns=cols)
        for c in ("平均名次变动",):
            if c in sens:
                sens[c] = sens[c].map(lambda v: fmt.number(v, 2))
        if "对排名波动的贡献" in sens:
            sens["对排名波动的贡献"] = sens["对排名波动的贡献"].map(fmt.percent)
        return table_html(sens, t("batch.sens.no_drivers"))

    def interval_chart(self) -> Chart:
        s = self.uncertainty.summary.sort_values("median_rank")
        names = [self.data.name(c) for c in s["unit"]]
        trace = dict(
            type="scatter",
            x=names,
            y=s["median_rank"].tolist(),
            mode="markers",
            name=t("batch.sens.median_rank"),
            marker=dict(size=9, color="#1f77b4"),
            error_y=dict(
                type="data",
                symmetric=False,
                array=(s["q95"] - s["median_rank"]).tolist(),
                arrayminus=(s["median_rank"] - s["q05"]).tolist(),
            ),
        )
        nominal = dict(
            type="scatter",
            x=names,
            # the declared build's rank as published (on the printed score, 并列), as in the
            # comparison table beside it; the draws behind the intervals stay raw
            y=[
                float(v)
                for v in composite.published_rank(s["nominal_score"])
                .astype("Float64")
                .fillna(float("nan"))
            ],
            mode="markers",
            name=t("batch.sens.nominal_rank"),
            marker=dict(size=7, color="#d9534f", symbol="diamond"),
        )
        layout = _layout(
            t("batch.sens.chart_title"),
            xaxis=dict(type="category"),
            yaxis=dict(autorange="reversed", title=dict(text=t("batch.report.rank"))),
        )
        return Chart({"data": [trace, nominal], "layout": layout}, height=420)


def sensitivity(
    period: str = "latest",
    warehouse: str | None = None,
    indicator_set: str = "campaign_2025",
    hierarchy: str | None = None,
    samples: int = 500,
    weights: dict[str, float] | None = None,
    **method: Any,
) -> Sensitivity:
    """Rebuild the index with other `weights` or method choices (`normalise=`, `aggregate=`,
    `impute=` …, any CompositeConfig field) and see how ranks move."""
    return Sensitivity(
        city_data(warehouse, period, indicator_set), hierarchy, samples, weights, method
    )
