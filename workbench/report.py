"""What the county and city notebooks display: KPI cards, narrative, charts, masked tables.

Notebooks stay thin: they call `county_report(...)` / `city_report(...)` and display what the
methods return. Every displayed object renders itself (`_repr_html_` / `_repr_mimebundle_`), so the
same calls work in JupyterLab, under the batch runner and in the HTML export.

The numbers come from the indicator engine's facade (`workbench.results.evaluate`); the
evaluation and the ledgers are cached per process, so a batch kernel that runs many counties loads
the warehouse and computes the evaluation once.
"""
from __future__ import annotations

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

from workbench import fmt
from workbench.messages import t
from workbench.privacy import mask_frame

log = logging.getLogger(__name__)

BATCH_ENV = "WORKBENCH_BATCH"
SUMMARY_MIME = "application/vnd.workbench.summary+json"
FONT = "Noto Sans CJK SC, Source Han Sans SC, Microsoft YaHei, PingFang SC, sans-serif"
OPEN_CASE_STATUSES = ("核查中", "已立案", "调查中")
DONE_RECT_STATUSES = ("已整改", "已销号")
PERCENT_UNITS = {"%", "percent", "ratio", "share", "rate", "比例", "百分比", "change", "pct"}

_CACHE: dict[tuple, Any] = {}
_CACHE_LOCK = threading.Lock()


# ----------------------------------------------------------------------------- loading, caching
def _file_key(path: Path) -> tuple:
    st = path.stat()
    return (str(path.resolve()), st.st_mtime_ns, st.st_size)


def load_ledgers(warehouse: str | os.PathLike | None = None) -> dict[str, pd.DataFrame]:
    """All current ledgers, read once per warehouse file version and cached in this process."""
    from workbench.config import warehouse_path
    from workbench.warehouse import Warehouse

    path = warehouse_path(warehouse)
    key = ("ledgers", *_file_key(path))
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
    with Warehouse(path, read_only=True) as wh:
        ledgers = wh.read_ledgers()
    with _CACHE_LOCK:
        for old in [k for k in _CACHE if k[0] == "ledgers" and k[1] == key[1]]:
            _CACHE.pop(old)
        _CACHE[key] = ledgers
    return ledgers


def resolve_period(period: str | None, ledgers: dict[str, pd.DataFrame]) -> str:
    """`latest` (or empty) → the newest complete month, as the engine defines it."""
    if period and str(period).lower() != "latest":
        return str(period)
    try:
        from workbench.results import latest_complete_period
    except ImportError:
        return _fallback_latest_period(ledgers)
    return str(latest_complete_period(ledgers))


def _fallback_latest_period(ledgers: dict[str, pd.DataFrame]) -> str:
    """Without the engine: the month before the newest dated ledger row."""
    newest = None
    for name, col in (("cases", "found_date"), ("leads", "received_date"),
                      ("inspections", "inspection_date"), ("complaints", "received_date")):
        df = ledgers.get(name)
        if df is not None and col in df and df[col].notna().any():
            m = pd.Timestamp(df[col].max())
            newest = m if newest is None or m > newest else newest
    if newest is None:
        raise ValueError(t("batch.no_data_period"))
    last = newest.to_period("M")
    if newest.day < newest.days_in_month:
        last -= 1
    return str(last)


def evaluation(warehouse: str | os.PathLike | None = None, period: str = "latest",
               indicator_set: str = "campaign_2025", span: str = "ytd") -> Any:
    """The engine's Evaluation for the whole city, cached per (warehouse version, parameters)."""
    from workbench.config import warehouse_path

    path = warehouse_path(warehouse)
    ledgers = load_ledgers(path)
    period = resolve_period(period, ledgers)
    key = ("evaluation", *_file_key(path), period, indicator_set, span)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
    ev = _evaluate(ledgers, period, indicator_set, span)
    with _CACHE_LOCK:
        _CACHE[key] = ev
    return ev


def _evaluate(ledgers: dict[str, pd.DataFrame], period: str, indicator_set: str,
              span: str) -> Any:
    try:
        from workbench.results import evaluate
    except ImportError:  # engine not installed yet: a minimal stand-in (removed when it lands)
        return _ProvisionalEvaluation(ledgers, period)
    return evaluate(ledgers, period=period, indicator_set=indicator_set, span=span)


class _ProvisionalEvaluation:
    """Three KPIs computed directly from the ledgers, for developing the notebooks only."""

    TARGETS = {"fund_recovery_rate": ("基金追回率", 0.9), "rectification_completion":
               ("整改完成率", 1.0), "lead_check_completion": ("疑点核查完成率", 1.0)}

    def __init__(self, ledgers: dict[str, pd.DataFrame], period: str) -> None:
        end = pd.Period(period, "M").end_time
        start = pd.Timestamp(f"{period[:4]}-01-01")
        cases, rect, leads = ledgers["cases"], ledgers["rectifications"], ledgers["leads"]
        c = cases[(cases.found_date >= start) & (cases.found_date <= end)]
        r = rect[(rect.deadline <= end)]
        ld = leads[(leads.received_date >= start) & (leads.received_date <= end)]
        num = {"fund_recovery_rate": c.groupby("county_code").amount_recovered.sum(),
               "rectification_completion": r[r.status == "已销号"].groupby("county_code").size(),
               "lead_check_completion": ld[ld.check_status.isin(["属实", "不属实"])]
               .groupby("county_code").size()}
        den = {"fund_recovery_rate": c.groupby("county_code").amount_due.sum(),
               "rectification_completion": r.groupby("county_code").size(),
               "lead_check_completion": ld.groupby("county_code").size()}
        rows = []
        for code in ledgers["counties"].county_code.unique():
            for ind, (name, target) in self.TARGETS.items():
                n, d = float(num[ind].get(code, 0)), float(den[ind].get(code, 0))
                v = n / d if d else None
                rows.append(dict(county=code, indicator=ind, name=name, unit="%", value=v,
                                 numerator=n, denominator=d, target=target,
                                 gap=None if v is None else v - target,
                                 met=None if v is None else v >= target, yoy=None))
        self.kpis = pd.DataFrame(rows)
        att = self.kpis.assign(a=(self.kpis.value / self.kpis.target).clip(upper=1))
        score = (att.groupby("county").a.mean() * 100).rename("score").reset_index()
        score["rank"] = score.score.rank(ascending=False, method="min").astype(int)
        score["grade"] = pd.cut(score.score, [-1, 60, 80, 90, 101],
                                labels=["不合格", "合格", "良好", "优秀"], right=False).astype(str)
        self.index = {"by_subject": score}
        self.uncertainty = score.rename(columns={"county": "unit", "rank": "nominal_rank"}).assign(
            median_rank=score["rank"], q05=(score["rank"] - 1).clip(lower=1), q95=score["rank"] + 1)
        self.lagging = score[score.score < 80][["county"]].assign(reasons="综合得分低于80分")
        g = self.kpis.groupby("indicator")
        self.city_kpis = pd.DataFrame({"numerator": g.numerator.sum(),
                                       "denominator": g.denominator.sum()}).reset_index()
        self.city_kpis["value"] = self.city_kpis.numerator / self.city_kpis.denominator
        self.city_kpis["name"] = self.city_kpis.indicator.map(lambda i: self.TARGETS[i][0])
        self.city_kpis["target"] = self.city_kpis.indicator.map(lambda i: self.TARGETS[i][1])
        self.city_kpis["unit"] = "%"
        self.city_kpis["met"] = self.city_kpis.value >= self.city_kpis.target
        self.milestones = pd.DataFrame(columns=["county", "milestone", "deadline", "status"])
        self._period = period

    def trend(self, indicator: str, county: str | None = None) -> pd.DataFrame:
        months = pd.period_range(f"{self._period[:4]}-01", self._period, freq="M")
        base = self.kpis[(self.kpis.indicator == indicator)
                         & ((self.kpis.county == county) if county else True)].value.mean()
        return pd.DataFrame({"period": months.astype(str),
                             "value": [base * (0.6 + 0.4 * (i + 1) / len(months))
                                       for i in range(len(months))],
                             "target": self.TARGETS[indicator][1]})


def warm(warehouse: str | os.PathLike | None = None, period: str = "latest",
         indicator_set: str = "campaign_2025", span: str = "ytd") -> None:
    """Load and evaluate ahead of need (the batch runner calls this when a kernel starts)."""
    import plotly.graph_objects  # noqa: F401

    evaluation(warehouse, period, indicator_set, span)


# ----------------------------------------------------------------------------- small helpers
def _missing(x: object) -> bool:
    return x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x))


def _col(df: pd.DataFrame, *names: str) -> str | None:
    for n in names:
        if n in df.columns:
            return n
    return None


def _is_percent(unit: object) -> bool:
    return str(unit or "").strip().lower() in PERCENT_UNITS


def format_value(value: object, unit: object) -> str:
    if _missing(value):
        return "—"
    if _is_percent(unit):
        return fmt.percent(value)
    u = str(unit or "")
    if u in {"元", "yuan"}:
        return fmt.money(value)
    digits = 0 if float(value) == int(float(value)) else 1  # type: ignore[arg-type]
    return fmt.number(value, digits) + ("" if u in {"", "count", "n", "个"} else u)


def format_target(value: object, unit: object) -> str:
    """Targets read as written in policy: 90%, not 90.0%."""
    if not _missing(value) and _is_percent(unit):
        v = float(value) * 100  # type: ignore[arg-type]
        return f"{v:.0f}%" if abs(v - round(v)) < 1e-9 else f"{v:.1f}%"
    return format_value(value, unit)


def format_gap(gap: object, unit: object) -> str:
    if _missing(gap):
        return "—"
    if _is_percent(unit):
        return fmt.points(gap)
    return format_value(abs(float(gap)), unit)  # type: ignore[arg-type]


def _esc(x: object) -> str:
    return html.escape("—" if _missing(x) else str(x))


class HTML:
    """A fragment of trusted HTML that notebooks display as-is."""

    def __init__(self, markup: str) -> None:
        self.markup = markup

    def _repr_html_(self) -> str:
        return self.markup

    def __str__(self) -> str:
        return self.markup


def batch_mode() -> bool:
    return os.environ.get(BATCH_ENV) == "1"


class Chart:
    """A plotly figure that renders offline: a div plus a script calling the page's Plotly.

    In batch mode only `text/html` is emitted (the report page loads one shared plotly.js);
    interactively the figure's own renderer is used as well so JupyterLab shows it live.
    """

    def __init__(self, figure: Any, height: int = 360) -> None:
        self.figure = figure
        self.height = height

    def to_html(self) -> str:
        return self.figure.to_html(
            include_plotlyjs=False, full_html=False, default_height=f"{self.height}px",
            config={"displaylogo": False, "responsive": True})

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict:
        bundle = {"text/html": self.to_html(), "text/plain": t("batch.report.chart_plain")}
        if not batch_mode():
            bundle["application/vnd.plotly.v1+json"] = self.figure.to_plotly_json()
        return bundle


def _layout(title: str, **kw: Any) -> dict:
    return dict(title=dict(text=title, x=0.01, font=dict(size=15)), font=dict(family=FONT),
                template="plotly_white", margin=dict(l=50, r=20, t=50, b=40),
                legend=dict(orientation="h", y=-0.15), **kw)


def table_html(df: pd.DataFrame, empty: str, max_rows: int = 200) -> HTML:
    """A plain, styled table (already formatted strings), or a note when there are no rows."""
    if df is None or df.empty:
        return HTML(f'<p class="wb-empty">{html.escape(empty)}</p>')
    shown = df.head(max_rows)
    body = shown.to_html(index=False, escape=True, na_rep="—", classes="wb-table", border=0)
    more = ""
    if len(df) > max_rows:
        more = f'<p class="wb-note">{html.escape(t("batch.report.more_rows", n=len(df) - max_rows))}</p>'
    return HTML(body + more)


CARD_CSS = """
<style>
.wb-cards{display:flex;flex-wrap:wrap;gap:10px;margin:6px 0 14px}
.wb-card{border:1px solid #dfe3ea;border-radius:8px;padding:10px 12px;width:210px;
 background:#fff;border-top:4px solid #9aa5b1}
.wb-card.met{border-top-color:#2e8b57}.wb-card.unmet{border-top-color:#d9534f}
.wb-card h4{margin:0 0 4px;font-size:13px;color:#444;font-weight:600}
.wb-card .v{font-size:22px;font-weight:700;color:#1f2d3d}
.wb-card .s{font-size:12px;color:#555;line-height:1.6}
.wb-card .bad{color:#c0392b}.wb-card .good{color:#2e7d32}
.wb-table{border-collapse:collapse;font-size:13px;margin:4px 0 12px}
.wb-table th{background:#f0f3f7;text-align:left}
.wb-table th,.wb-table td{border:1px solid #dfe3ea;padding:4px 8px}
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
    counties: pd.DataFrame            # county, county_name, city
    kpis: pd.DataFrame                # county, indicator, name, unit, value, target, gap, met, yoy
    city_kpis: pd.DataFrame           # indicator, name, unit, value, target, gap, met, yoy
    scores: pd.DataFrame              # county, score, rank, grade
    uncertainty: pd.DataFrame         # county, nominal_rank, median_rank, q05, q95
    lagging: pd.DataFrame             # county, reasons
    milestones: pd.DataFrame          # county, milestone, deadline, status, note...
    ledgers: dict[str, pd.DataFrame]
    evaluation: Any = None
    hierarchy: str | None = None
    demo: bool = False
    _names: dict[str, str] = field(default_factory=dict)

    def name(self, county: str) -> str:
        return self._names.get(str(county), str(county))

    def rank_bands(self) -> pd.DataFrame:
        """county, median_rank, q05, q95 (empty columns when the engine gave none)."""
        u = self.uncertainty
        cols = ["county", "median_rank", "q05", "q95"]
        if u.empty or "county" not in u:
            return pd.DataFrame(columns=cols)
        return u[[c for c in cols if c in u.columns]].drop_duplicates("county")

    def trend(self, indicator: str, county: str | None = None) -> pd.DataFrame:
        if self.evaluation is None or not hasattr(self.evaluation, "trend"):
            return pd.DataFrame(columns=["period", "value", "target"])
        try:
            df = self.evaluation.trend(indicator, county=county)
        except (KeyError, ValueError, TypeError) as exc:
            log.debug("no trend for %s/%s: %s", indicator, county, exc)
            return pd.DataFrame(columns=["period", "value", "target"])
        return df if isinstance(df, pd.DataFrame) else pd.DataFrame(df)


def _county_table(ledgers: dict[str, pd.DataFrame], period: str) -> pd.DataFrame:
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


def _norm_county(df: pd.DataFrame, names_to_code: dict[str, str]) -> pd.DataFrame:
    """Make `county` the 6-digit code, whatever the engine called it."""
    df = df.copy()
    c = _col(df, "county", "county_code", "unit", "unit_code")
    if c is None:
        return df
    if c != "county":
        df = df.rename(columns={c: "county"})
    df["county"] = df["county"].astype(str).map(lambda x: names_to_code.get(x, x))
    return df


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


def _pick_scores(index: Any) -> tuple[pd.DataFrame, str | None]:
    """One hierarchy's unit scores (county, score, rank, grade) out of the engine's `.index`."""
    if isinstance(index, dict) and index:
        name = next((k for k in index if "subject" in str(k)), None) or next(iter(index))
        return _scores_frame(index[name]), str(name)
    df = _frame(index)
    h = _col(df, "hierarchy")
    if h and not df.empty:
        name = df[h].iloc[0]
        df = df[df[h] == name]
        return _scores_frame(df), str(name)
    return _scores_frame(df), None


def _scores_frame(obj: Any) -> pd.DataFrame:
    if hasattr(obj, "scores") and not isinstance(obj, pd.DataFrame):
        scores = _frame(obj.scores)
        for attr in ("ranks", "grades"):
            extra = _frame(getattr(obj, attr, None))
            if not extra.empty:
                key = _col(extra, "county", "unit", "county_code")
                skey = _col(scores, "county", "unit", "county_code")
                if key and skey:
                    scores = scores.merge(extra, left_on=skey, right_on=key, how="left",
                                          suffixes=("", f"_{attr}"))
        obj = scores
    df = _frame(obj)
    node = _col(df, "node", "level_node")
    if node and not df.empty:
        top = df[node].value_counts().index
        root = next((n for n in df[node].unique() if str(n) in {"index", "root", "total"}), None)
        df = df[df[node] == (root if root is not None else top[0])]
    ren = {}
    for std, cands in {"score": ("score", "value", "index_score"), "rank": ("rank", "ranks"),
                       "grade": ("grade", "grades", "band")}.items():
        c = _col(df, *cands)
        if c and c != std:
            ren[c] = std
    return df.rename(columns=ren)


def city_data(warehouse: str | os.PathLike | None = None, period: str = "latest",
              indicator_set: str = "campaign_2025", span: str = "ytd") -> CityData:
    """Evaluation + ledgers reshaped for the reports; cached with the evaluation."""
    from workbench.config import warehouse_path

    path = warehouse_path(warehouse)
    ledgers = load_ledgers(path)
    period = resolve_period(period, ledgers)
    key = ("city_data", *_file_key(path), period, indicator_set, span)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
    ev = evaluation(path, period, indicator_set, span)
    counties = _county_table(ledgers, period)
    names = dict(zip(counties["county"], counties["county_name"]))
    to_code = {v: k for k, v in names.items()}
    kpis = _norm_county(_frame(getattr(ev, "kpis", None)), to_code)
    scores, hierarchy = _pick_scores(getattr(ev, "index", None))
    scores = _norm_county(scores, to_code)
    unc = _norm_county(_frame(getattr(ev, "uncertainty", None)), to_code)
    if hierarchy and _col(unc, "hierarchy"):
        unc = unc[unc["hierarchy"] == hierarchy]
    lag = _norm_county(_frame(getattr(ev, "lagging", None)), to_code)
    ms = _norm_county(_frame(getattr(ev, "milestones", None)), to_code)
    demo = bool(counties["city"].astype(str).str.contains("演示").any()) if len(counties) else False
    data = CityData(period=period, indicator_set=indicator_set, counties=counties, kpis=kpis,
                    city_kpis=_frame(getattr(ev, "city_kpis", None)), scores=scores,
                    uncertainty=unc, lagging=lag, milestones=ms, ledgers=ledgers, evaluation=ev,
                    hierarchy=hierarchy, demo=demo, _names=names)
    with _CACHE_LOCK:
        _CACHE[key] = data
    return data


# ----------------------------------------------------------------------------- KPI rows
@dataclass(frozen=True)
class Kpi:
    indicator: str
    name: str
    unit: str
    value: float | None
    target: float | None
    gap: float | None
    met: bool | None
    yoy: float | None
    direction: str  # the target's comparison: ">=", "<=", …
    target_text: str

    @classmethod
    def from_row(cls, row: pd.Series) -> Kpi:
        def num(*names: str) -> float | None:
            for n in names:
                if n in row and not _missing(row[n]):
                    try:
                        return float(row[n])
                    except (TypeError, ValueError):
                        return None
            return None

        met = row.get("met")
        met = None if _missing(met) else bool(met)
        unit = str(row.get("unit") or "")
        op = str(row.get("target_op") or row.get("op") or "")
        if not op:
            d = row.get("direction")
            lower = str(d).strip() in {"-1", "lower", "down", "min"}
            op = "<=" if lower else ">="
        target = num("target", "target_value")
        target_text = str(row.get("target_text") or row.get("target_label") or "")
        if not target_text and target is not None:
            sign = {">=": "≥", ">": "＞", "<=": "≤", "<": "＜"}.get(op, "=")
            target_text = f"{sign}{format_target(target, unit)}"
        name = row.get("indicator_name") or row.get("name") or row.get("indicator")
        return cls(indicator=str(row.get("indicator")), name=str(name), unit=unit,
                   value=num("value"), target=target, gap=num("gap"), met=met,
                   yoy=num("yoy", "yoy_change"), direction=op, target_text=target_text)

    @property
    def lower_is_better(self) -> bool:
        """Whether the target is a ceiling (≤): then a value above it is a shortfall."""
        return self.direction in ("<=", "<")

    def shortfall(self) -> float | None:
        """Signed distance to the target: positive = short of it, negative = beyond it."""
        if self.value is None or self.target is None:
            return None
        return (self.value - self.target) if self.lower_is_better else (self.target - self.value)


def _kpi_rows(df: pd.DataFrame) -> list[Kpi]:
    return [Kpi.from_row(r) for _, r in df.iterrows()]


def kpi_cards(kpis: Iterable[Kpi]) -> HTML:
    cards = []
    for k in kpis:
        cls = "" if k.met is None else ("met" if k.met else "unmet")
        status = "" if k.met is None else (
            f'<span class="good">{t("batch.report.met")}</span>' if k.met
            else f'<span class="bad">{t("batch.report.unmet")}</span>')
        short = k.shortfall()
        gap = "—" if short is None else format_gap(abs(short), k.unit)
        gap_label = t("batch.report.gap_short") if short and short > 0 else t("batch.report.gap_over")
        yoy = "—"
        if k.yoy is not None:
            yoy = fmt.percent(k.yoy, signed=True)
        cards.append(
            f'<div class="wb-card {cls}"><h4>{_esc(k.name)}</h4>'
            f'<div class="v">{_esc(format_value(k.value, k.unit))}</div>'
            f'<div class="s">{t("batch.report.target")}：{_esc(k.target_text or "—")} {status}<br>'
            f'{gap_label}：{_esc(gap)}　{t("batch.report.yoy")}：{_esc(yoy)}</div></div>')
    return HTML(CARD_CSS + '<div class="wb-cards">' + "".join(cards) + "</div>")


def kpi_sentence(k: Kpi, subject: str | None = None) -> str | None:
    """One clause of the narrative, e.g. 基金追回率为87.3%，低于90%的目标2.7个百分点."""
    if k.value is None:
        return t("batch.narr.no_value", name=k.name)
    value = format_value(k.value, k.unit)
    if k.target is None:
        return t("batch.narr.value_only", name=k.name, value=value)
    target = format_target(k.target, k.unit)
    short = k.shortfall() or 0.0
    gap = format_gap(abs(short), k.unit)
    if k.met is False or (k.met is None and short > 0):
        key = "batch.narr.above_bad" if k.lower_is_better else "batch.narr.below"
    elif abs(short) < 1e-12:
        key = "batch.narr.at_target"
    else:
        key = "batch.narr.better_low" if k.lower_is_better else "batch.narr.above"
    subject = t("batch.narr.subject_county") if subject is None else subject
    return t(key, subject=subject, name=k.name, value=value, target=target, gap=gap)


def milestone_requirement(r: Any) -> str:
    """What must happen by the deadline, from the numbers: the gap and the pace per month."""
    cur, target = r.get("current_value", r.get("value")), r.get("target")
    status = str(r.get("status") or "")
    if status == "met":
        return t("batch.ms.done")
    if _missing(cur) or _missing(target):
        return t("batch.ms.no_data")
    unit = r.get("unit", "")
    op = str(r.get("op") or ">=")
    gap = (float(target) - float(cur)) if op in (">=", ">") else (float(cur) - float(target))
    if gap <= 0:
        return t("batch.ms.keep")
    months = r.get("months_left")
    months = 0 if _missing(months) else int(months)
    key = "batch.ms.raise" if op in (">=", ">") else "batch.ms.lower"
    if months <= 0:
        return t(key + "_overdue", gap=format_gap(gap, unit))
    return t(key, gap=format_gap(gap, unit), months=months,
             pace=format_gap(gap / months, unit))


# ----------------------------------------------------------------------------- county report
class CountyReport:
    """Everything the county notebook shows for one county, built from the cached CityData."""

    def __init__(self, data: CityData, county: str) -> None:
        county = str(county)
        if county not in set(data.counties["county"]):
            by_name = data.counties[data.counties["county_name"] == county]
            if by_name.empty:
                raise KeyError(t("batch.report.unknown_county", county=county))
            county = str(by_name["county"].iloc[0])
        self.data = data
        self.county = county
        self.name = data.name(county)
        self.kpis = _kpi_rows(data.kpis[data.kpis["county"] == county]) if "county" in \
            data.kpis else []

    # -- the pieces
    def header(self) -> HTML:
        demo = f'<span class="wb-demo">{t("batch.report.demo_badge")}</span>' if self.data.demo \
            else ""
        return HTML(CARD_CSS + f'<div class="wb-head"><h1>{_esc(self.name)}'
                    f'{t("batch.report.county_title")}{demo}</h1>'
                    f'<p>{t("batch.report.subtitle", period=fmt.month_label(self.data.period), code=self.county)}</p></div>')

    def kpi_cards(self) -> HTML:
        return kpi_cards(self.kpis)

    def score(self) -> dict[str, Any]:
        s = self.data.scores
        row = s[s["county"] == self.county] if "county" in s else s.iloc[0:0]
        out: dict[str, Any] = {"score": None, "rank": None, "grade": None, "n": len(s)}
        if not row.empty:
            r = row.iloc[0]
            out.update(score=None if _missing(r.get("score")) else float(r["score"]),
                       rank=None if _missing(r.get("rank")) else int(r["rank"]),
                       grade=None if _missing(r.get("grade")) else str(r["grade"]))
        u = self.data.uncertainty
        urow = u[u["county"] == self.county] if "county" in u else u.iloc[0:0]
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
        rows = lag[lag["county"] == self.county]
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

    def narrative_text(self) -> str:
        parts = [t("batch.narr.opening", period=fmt.month_label(self.data.period))]
        clauses = [c for c in (kpi_sentence(k) for k in self.kpis) if c]
        parts.append("；".join(clauses) + "。" if clauses else t("batch.narr.no_kpis"))
        sc = self.score()
        if sc["score"] is not None:
            band = ""
            if sc.get("q05") is not None and sc.get("q95") is not None:
                band = t("batch.narr.rank_band", lo=int(round(sc["q05"])), hi=int(round(sc["q95"])))
            parts.append(t("batch.narr.rank", n=sc["n"], score=f"{sc['score']:.1f}",
                           rank=sc["rank"] or "—", band=band, grade=sc["grade"] or "—"))
        met = [k for k in self.kpis if k.met]
        unmet = [k for k in self.kpis if k.met is False]
        if unmet:
            parts.append(t("batch.narr.count_unmet", met=len(met), unmet=len(unmet),
                           names="、".join(k.name for k in unmet[:4])))
        elif met:
            parts.append(t("batch.narr.all_met", met=len(met)))
        reasons = self.lagging_reasons()
        if reasons:
            parts.append(t("batch.narr.lagging", reasons="；".join(reasons)))
        overdue = len(self.overdue_frame())
        if overdue:
            parts.append(t("batch.narr.overdue", n=overdue))
        return "".join(parts)

    def trend_chart(self, indicator: str | None = None) -> Chart | HTML:
        import plotly.graph_objects as go

        kpi = next((k for k in self.kpis if k.indicator == indicator), None) if indicator \
            else next((k for k in self.kpis if k.met is False), self.kpis[0] if self.kpis else None)
        if kpi is None:
            return HTML(f'<p class="wb-empty">{t("batch.report.no_trend")}</p>')
        df = self.data.trend(kpi.indicator, county=self.county)
        pc = _col(df, "period", "month")
        vc = _col(df, "value")
        if df.empty or pc is None or vc is None:
            return HTML(f'<p class="wb-empty">{t("batch.report.no_trend")}</p>')
        x = df[pc].astype(str).tolist()
        pct = _is_percent(kpi.unit)
        scale = 100.0 if pct else 1.0
        y = [None if _missing(v) else float(v) * scale for v in df[vc]]
        fig = go.Figure(go.Scatter(x=x, y=y, mode="lines+markers", name=self.name,
                                   line=dict(color="#1f77b4", width=2)))
        tc = _col(df, "target")
        target = kpi.target
        if tc is not None and df[tc].notna().any():
            fig.add_trace(go.Scatter(x=x, y=[None if _missing(v) else float(v) * scale
                                             for v in df[tc]], mode="lines", name=t(
                "batch.report.target"), line=dict(color="#d9534f", dash="dash")))
        elif target is not None:
            fig.add_trace(go.Scatter(x=[x[0], x[-1]], y=[target * scale] * 2, mode="lines",
                                     name=t("batch.report.target"),
                                     line=dict(color="#d9534f", dash="dash")))
        fig.update_layout(**_layout(t("batch.report.trend_title", name=kpi.name)),
                          yaxis=dict(ticksuffix="%" if pct else ""))
        return Chart(fig, height=320)

    def trend_charts(self, limit: int = 4) -> list[Chart | HTML]:
        """Trends of the KPIs most in need of attention: unmet first, then the rest."""
        order = sorted(self.kpis, key=lambda k: (k.met is not False, k.met is None))
        charts = [self.trend_chart(k.indicator) for k in order[:limit]]
        shown = [c for c in charts if isinstance(c, Chart)]
        return shown or charts[:1] or [HTML(f'<p class="wb-empty">{t("batch.report.no_trend")}</p>')]

    def ranking_chart(self) -> Chart | HTML:
        import plotly.graph_objects as go

        s = self.data.scores
        if s.empty or "rank" not in s:
            return HTML(f'<p class="wb-empty">{t("batch.report.no_ranking")}</p>')
        df = s.merge(self.data.rank_bands(), on="county", how="left")
        df = df.sort_values("rank")
        names = [self.data.name(c) for c in df["county"]]
        colors = ["#d9534f" if c == self.county else "#9aa5b1" for c in df["county"]]
        err = None
        if {"q05", "q95"} <= set(df.columns):
            err = dict(type="data", symmetric=False, color="#555",
                       array=(df["q95"] - df["rank"]).clip(lower=0).tolist(),
                       arrayminus=(df["rank"] - df["q05"]).clip(lower=0).tolist())
        fig = go.Figure(go.Scatter(x=names, y=df["rank"].tolist(), mode="markers",
                                   marker=dict(size=11, color=colors), error_y=err,
                                   name=t("batch.report.rank")))
        fig.update_layout(**_layout(t("batch.report.ranking_title")),
                          yaxis=dict(autorange="reversed", title=t("batch.report.rank"),
                                     dtick=1 if len(df) <= 30 else None),
                          showlegend=False)
        return Chart(fig, height=320 if len(df) <= 30 else 420)

    def milestones_frame(self) -> pd.DataFrame:
        """Each milestone: where the county stands, the projection, and what must still happen."""
        ms = self.data.milestones
        if ms.empty:
            return pd.DataFrame()
        if "county" in ms:
            ms = ms[ms["county"] == self.county]
        rows = []
        for _, r in ms.iterrows():
            unit = r.get("unit", "")
            op = str(r.get("op") or ">=")
            sign = {">=": "≥", ">": "＞", "<=": "≤", "<": "＜"}.get(op, "=")
            rows.append({
                "节点": r.get("milestone_name") or r.get("milestone") or "—",
                "指标": r.get("indicator_name") or r.get("indicator") or "—",
                "目标": f"{sign}{format_target(r.get('target'), unit)}",
                "截止日期": fmt.date_label(r.get("deadline")),
                "当前值": format_value(r.get("current_value", r.get("value")), unit),
                "按当前进度预计": format_value(r.get("projected_value"), unit),
                "状态": r.get("status_label") or r.get("status") or "—",
                "还需做到": milestone_requirement(r),
            })
        return pd.DataFrame(rows)

    def milestones(self) -> HTML:
        return table_html(self.milestones_frame(), t("batch.report.no_milestones"))

    def overdue_frame(self) -> pd.DataFrame:
        rect = self.data.ledgers.get("rectifications", pd.DataFrame())
        if rect.empty:
            return rect
        asof = pd.Period(self.data.period, "M").end_time.normalize()
        m = ((rect["county_code"] == self.county) & ~rect["status"].isin(DONE_RECT_STATUSES)
             & rect["deadline"].notna() & (rect["deadline"] < asof) & (rect["found_date"] <= asof))
        df = rect[m].sort_values("deadline")
        days = (asof - df["deadline"]).dt.days
        return pd.DataFrame({
            "问题编号": df["issue_id"], "问题来源": df["source"],
            "责任单位": df["responsible_unit"], "问题描述": df["description"],
            "整改时限": df["deadline"].map(fmt.date_label), "逾期天数": days.astype("Int64"),
            "整改状态": df["status"], "涉及金额": df["amount_involved"].map(fmt.money),
        })

    def overdue_rectifications(self) -> HTML:
        return table_html(mask_frame(self.overdue_frame()), t("batch.report.no_overdue"))

    def open_cases_frame(self) -> pd.DataFrame:
        cases = self.data.ledgers.get("cases", pd.DataFrame())
        if cases.empty:
            return cases
        asof = pd.Period(self.data.period, "M").end_time.normalize()
        m = ((cases["county_code"] == self.county) & cases["status"].isin(OPEN_CASE_STATUSES)
             & (cases["found_date"] <= asof))
        df = cases[m].sort_values("found_date")
        return pd.DataFrame({
            "案件编号": df["case_id"], "发现日期": df["found_date"].map(fmt.date_label),
            "违规主体": df["subject_type"], "当事人姓名": df["person_name"],
            "当事人身份证号": df["person_id"], "违规类型": df["violation_type"],
            "涉案金额": df["amount_involved"].map(fmt.money), "案件状态": df["status"],
        })

    def open_cases(self) -> HTML:
        return table_html(mask_frame(self.open_cases_frame()), t("batch.report.no_open_cases"))

    def summary(self) -> dict[str, Any]:
        sc = self.score()
        return {"county": self.county, "county_name": self.name, "period": self.data.period,
                "score": sc["score"], "rank": sc["rank"], "grade": sc["grade"],
                "kpis_met": sum(1 for k in self.kpis if k.met),
                "kpis_unmet": sum(1 for k in self.kpis if k.met is False),
                "lagging": bool(self.lagging_reasons())}

    def record(self) -> SummaryRecord:
        """The county's headline numbers for the batch index (invisible in the report)."""
        return SummaryRecord(self.summary())


class SummaryRecord:
    """Displayed last in the county notebook; the runner reads it into index.html."""

    def __init__(self, data: dict) -> None:
        self.data = data

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict:
        return {SUMMARY_MIME: self.data, "text/plain": ""}


def county_report(county: str, period: str = "latest", warehouse: str | None = None,
                  indicator_set: str = "campaign_2025", span: str = "ytd") -> CountyReport:
    return CountyReport(city_data(warehouse, period, indicator_set, span), county)


# ----------------------------------------------------------------------------- city report
class CityReport:
    """The city overview: ranking with grades, distribution, lagging list, city KPIs, 通报 text."""

    def __init__(self, data: CityData) -> None:
        self.data = data

    def header(self) -> HTML:
        demo = f'<span class="wb-demo">{t("batch.report.demo_badge")}</span>' if self.data.demo \
            else ""
        city = self.city_name()
        return HTML(CARD_CSS + f'<div class="wb-head"><h1>{_esc(city)}'
                    f'{t("batch.report.city_title")}{demo}</h1><p>'
                    f'{t("batch.report.city_subtitle", period=fmt.month_label(self.data.period), n=len(self.data.counties))}'
                    f"</p></div>")

    def city_name(self) -> str:
        c = self.data.counties
        return str(c["city"].mode().iloc[0]) if len(c) else ""

    def ranking_frame(self) -> pd.DataFrame:
        s = self.data.scores
        if s.empty or "county" not in s:
            return pd.DataFrame()
        df = s.merge(self.data.rank_bands(), on="county", how="left")
        df = df.sort_values("rank")
        lag = set(self.data.lagging["county"]) if "county" in self.data.lagging else set()
        out = pd.DataFrame({
            "排名": df["rank"].astype("Int64"),
            "区县": [self.data.name(c) for c in df["county"]],
            "综合得分": df["score"].map(lambda v: fmt.number(v, 1)),
            "等级": df.get("grade", pd.Series(["—"] * len(df), index=df.index)),
        })
        if {"q05", "q95"} <= set(df.columns):
            out["排名区间(5%–95%)"] = [
                "—" if _missing(a) else f"{int(round(a))}–{int(round(b))}"
                for a, b in zip(df["q05"], df["q95"])]
        out["进度滞后"] = ["是" if c in lag else "" for c in df["county"]]
        return out

    def ranking_table(self) -> HTML:
        return table_html(self.ranking_frame(), t("batch.report.no_ranking"), max_rows=5000)

    def distribution_chart(self) -> Chart | HTML:
        import plotly.graph_objects as go

        s = self.data.scores
        if s.empty or "score" not in s:
            return HTML(f'<p class="wb-empty">{t("batch.report.no_ranking")}</p>')
        fig = go.Figure(go.Histogram(x=s["score"].dropna().tolist(), nbinsx=20,
                                     marker_color="#1f77b4"))
        fig.update_layout(**_layout(t("batch.report.distribution_title")),
                          xaxis=dict(title=t("batch.report.score")),
                          yaxis=dict(title=t("batch.report.county_count")), bargap=0.05)
        return Chart(fig, height=300)

    def lagging_frame(self) -> pd.DataFrame:
        lag = self.data.lagging
        if lag.empty or "county" not in lag:
            return pd.DataFrame()
        col = _col(lag, "reasons", "reason")
        reasons = lag[col].map(lambda v: "；".join(map(str, v)) if isinstance(v, (list, tuple))
                               else ("" if _missing(v) else str(v))) if col else ""
        return pd.DataFrame({"区县": [self.data.name(c) for c in lag["county"]],
                             "滞后原因": reasons})

    def lagging_table(self) -> HTML:
        return table_html(self.lagging_frame(), t("batch.report.no_lagging"))

    def city_kpi_rows(self) -> list[Kpi]:
        return _kpi_rows(self.data.city_kpis) if not self.data.city_kpis.empty else []

    def kpi_cards(self) -> HTML:
        return kpi_cards(self.city_kpi_rows())

    def kpi_frame(self) -> pd.DataFrame:
        rows = self.city_kpi_rows()
        return pd.DataFrame({
            "指标": [k.name for k in rows],
            "当前值": [format_value(k.value, k.unit) for k in rows],
            "目标": [k.target_text or "—" for k in rows],
            "差距": ["—" if k.shortfall() is None else
                     (("差" if k.shortfall() > 0 else "超") + format_gap(abs(k.shortfall()), k.unit))
                     for k in rows],
            "是否达标": ["—" if k.met is None else ("达标" if k.met else "未达标") for k in rows],
        })

    def bulletin_paragraphs(self) -> list[str]:
        """The draft 通报, paragraph by paragraph, generated from the numbers."""
        d = self.data
        period = fmt.month_label(d.period)
        rows = self.city_kpi_rows()
        paras = [t("batch.bulletin.intro", city=self.city_name(), period=period,
                   n=len(d.counties))]
        clauses = [c for c in (kpi_sentence(k, subject="") for k in rows) if c]
        if clauses:
            paras.append(t("batch.bulletin.kpis", text="；".join(clauses)))
        rank = self.ranking_frame()
        if not rank.empty:
            top = "、".join(rank["区县"].head(3))
            bottom = "、".join(rank["区县"].tail(3)[::-1])
            paras.append(t("batch.bulletin.ranking", top=top, bottom=bottom))
        lag = self.lagging_frame()
        if not lag.empty:
            paras.append(t("batch.bulletin.lagging", n=len(lag), names="、".join(lag["区县"])))
        else:
            paras.append(t("batch.bulletin.no_lagging"))
        paras.append(t("batch.bulletin.closing"))
        return paras

    def bulletin(self) -> HTML:
        body = "".join(f'<p class="wb-narrative">{html.escape(p)}</p>'
                       for p in self.bulletin_paragraphs())
        return HTML(CARD_CSS + body)


def city_report(period: str = "latest", warehouse: str | None = None,
                indicator_set: str = "campaign_2025", span: str = "ytd") -> CityReport:
    return CityReport(city_data(warehouse, period, indicator_set, span))


def to_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, default=str)


def as_path(p: str | os.PathLike) -> Path:
    return Path(p).expanduser().resolve()
