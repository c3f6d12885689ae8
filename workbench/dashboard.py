"""Leader cockpit (领导驾驶舱) and county drill-down for Voilà: data, figures and widgets.

The flow: the engine (`workbench.results.evaluate`) runs once for every period and indicator set
→ `DashboardData` (plain frames; pickled to a disk cache so that every kernel in Voilà's pool
loads it instead of recomputing) → pure builders (data + `View` → HTML text or plotly JSON) →
widgets updated in place. Figures are plain plotly JSON drawn by a small anywidget with
`Plotly.react`, so a click costs one diff in the browser and no engine call in the kernel.

Every part of a page carries `data-part="<name>"` and, once drawn, `data-key="<view key>"`: the
state it shows. Browser tests and the benchmark wait for every part to show the new key, which is
exactly "all charts updated". KPI cards carry `data-indicator` and `data-value` for the same reason.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import html
import json
import logging
import math
import os
import pickle
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

import pandas as pd

from workbench import fmt
from workbench.messages import t

log = logging.getLogger(__name__)

ASSETS = Path(__file__).with_name("assets")
THEME_CSS = ASSETS / "theme.css"
DEMO_GEOJSON = ASSETS / "demo_city.geojson"
ENV_GEOJSON = "WORKBENCH_GEOJSON"
ENV_CACHE_DIR = "WORKBENCH_DASHBOARD_CACHE"
CITY = ""  # the county code that stands for the whole city
INDEX = "__index__"  # the focus value that stands for the composite index
CACHE_VERSION = 1

# Okabe–Ito colours: distinguishable with every common colour-vision deficiency.
STATUS_COLOURS = {"met": "#0072B2", "risk": "#E69F00", "miss": "#D55E00", "none": "#8C8C8C"}
STATUS_ICONS = {"met": "✓", "risk": "!", "miss": "✗", "none": "—"}
GRADE_COLOURS = {"优秀": "#0072B2", "良好": "#56B4E9", "合格": "#E69F00", "不合格": "#D55E00",
                 "较差": "#D55E00", "差": "#D55E00"}
OTHER_GRADE_COLOURS = ("#009E73", "#CC79A7", "#F0E442", "#999999")
SEQUENTIAL = ("#D55E00", "#F0B37E", "#EEEEEE", "#8FBFE0", "#0072B2")  # worse → better
RECT_STATUS_COLOURS = {"未整改": "#D55E00", "整改中": "#E69F00", "已整改": "#56B4E9",
                       "已销号": "#0072B2"}
FONT = ('"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", '
        '"WenQuanYi Micro Hei", sans-serif')
MAX_BARS = 30  # beyond this many counties the ranking shows the top and bottom 15 and the pick
MAX_TABLE_ROWS = 40
MAX_LAGGING_ROWS = 60
MAX_DRILL_ROWS = 200


# ───────────────────────────── data ─────────────────────────────

@dataclass
class DashboardData:
    """Everything the dashboards show, for every period and indicator set, as plain frames.

    `kpis` holds one row per indicator set × period × county × indicator, with the city as
    county `""`; the other tables are keyed the same way. Columns are documented in
    docs/dashboard.md ("数据接口"); `from_engine` fills them from the indicator engine.
    """

    city_name: str
    periods: list[str]
    indicator_sets: dict[str, str]
    counties: pd.DataFrame            # county_code, county_name
    indicators: pd.DataFrame          # indicator_set, indicator, name, unit, direction, deadline, description
    kpis: pd.DataFrame                # indicator_set, period, county_code, indicator, value, numerator, denominator, target, gap, met, yoy, status
    index: pd.DataFrame               # indicator_set, period, hierarchy, county_code, score, rank, grade
    uncertainty: pd.DataFrame         # indicator_set, period, hierarchy, county_code, nominal_rank, median_rank, q05, q95
    lagging: pd.DataFrame             # indicator_set, period, county_code, reasons
    milestones: pd.DataFrame          # indicator_set, period, county_code, milestone, name, deadline, status, detail
    phases: pd.DataFrame              # name, start, end  (months YYYY-MM)
    trend: pd.DataFrame               # indicator_set, county_code, indicator, month, value, target
    funnel: pd.DataFrame              # period, county_code, stage, count, amount
    rectification: pd.DataFrame       # period, county_code, status, items
    hierarchies: dict[str, str] = field(default_factory=dict)  # hierarchy id → Chinese title
    demo: bool = False
    source: str = ""
    built_at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self._groups: dict[str, dict[tuple, pd.DataFrame]] = {}
        self._county_names = dict(zip(self.counties["county_code"].astype(str),
                                      self.counties["county_name"].astype(str)))

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_groups", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._groups = {}

    def part(self, table: str, *key: object) -> pd.DataFrame:
        """Rows of `table` for a key on its leading columns, from a per-table group index.

        Grouping once per table turns every later look-up into a dict access, which keeps a click
        on a 3,000-county city within budget."""
        df: pd.DataFrame = getattr(self, table)
        cols = _GROUP_KEYS[table][: len(key)]
        index = self._groups.setdefault(f"{table}:{len(cols)}", {})
        if not index and len(df):
            for k, sub in df.groupby(list(cols), sort=False, dropna=False):
                index[k if isinstance(k, tuple) else (k,)] = sub
        if not index:
            index[("__empty__",)] = df.iloc[0:0]
        return index.get(tuple(key), df.iloc[0:0])

    def county_name(self, code: str) -> str:
        if not code:
            return self.city_name
        return self._county_names.get(str(code), str(code))

    def indicator_meta(self, indicator_set: str) -> pd.DataFrame:
        return self.part("indicators", indicator_set)

    def default_hierarchy(self, indicator_set: str) -> str | None:
        sub = self.part("index", indicator_set, self.periods[-1]) if self.periods else None
        if sub is None or sub.empty:
            sub = self.index[self.index["indicator_set"] == indicator_set]
        if sub.empty:
            return None
        return str(sub["hierarchy"].iloc[0])


_GROUP_KEYS: dict[str, tuple[str, ...]] = {
    "kpis": ("indicator_set", "period", "county_code"),
    "index": ("indicator_set", "period", "hierarchy"),
    "uncertainty": ("indicator_set", "period", "hierarchy"),
    "lagging": ("indicator_set", "period"),
    "milestones": ("indicator_set", "period", "county_code"),
    "trend": ("indicator_set", "indicator", "county_code"),
    "funnel": ("period", "county_code"),
    "rectification": ("period", "county_code"),
    "indicators": ("indicator_set",),
}


# ───────────────────────────── view state ─────────────────────────────

@dataclass(frozen=True)
class View:
    """What a page shows: the set, the month, the county ("" = whole city) and the focus."""

    indicator_set: str
    period: str
    county: str = CITY
    focus: str = INDEX
    hierarchy: str | None = None

    @property
    def key(self) -> str:
        return "|".join((self.indicator_set, self.period, self.county or "city", self.focus,
                         self.hierarchy or ""))


def view_key(view: View) -> str:
    return view.key


# ───────────────────────────── formatting ─────────────────────────────

def _missing(x: object) -> bool:
    if x is None or x is pd.NA:
        return True
    try:
        return bool(isinstance(x, float) and math.isnan(x))
    except TypeError:
        return False


def _float(x: object) -> float | None:
    if _missing(x):
        return None
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) or math.isinf(v) else v


def value_kind(unit: object) -> str:
    """`percent`, `money` or `number`, from an indicator's declared unit."""
    u = str(unit or "").strip().lower()
    if u in ("%", "percent", "ratio", "share", "rate", "百分比", "比例", "change", "pct"):
        return "percent"
    if u in ("元", "yuan", "万元", "money", "金额"):
        return "money"
    return "number"


def format_value(value: object, unit: object, signed: bool = False) -> str:
    """An indicator value the Chinese way: 87.3%, 1,234.5万元, 12."""
    kind = value_kind(unit)
    v = _float(value)
    if v is None:
        return "—"
    if kind == "percent":
        return fmt.percent(v, signed=signed)
    if kind == "money":
        return ("+" if signed and v > 0 else "") + fmt.money(v)
    digits = 0 if float(v).is_integer() else 1
    text = fmt.number(v, digits)
    return ("+" + text) if signed and v > 0 else text


def format_gap(gap: object, unit: object) -> str:
    v = _float(gap)
    if v is None:
        return "—"
    if value_kind(unit) == "percent":
        sign = "+" if v > 0 else ("-" if v < 0 else "±")
        return f"{sign}{fmt.points(v)}"
    return format_value(v, unit, signed=True)


def format_target(target: object, unit: object, direction: object) -> str:
    v = _float(target)
    if v is None:
        return "—"
    op = "≤" if _float(direction) is not None and float(direction) < 0 else "≥"  # type: ignore[arg-type]
    return f"{op}{format_value(v, unit)}"


def status_of(row: Mapping[str, Any], period: str | None = None) -> str:
    """Traffic light for one KPI row: `met`, `risk` (not yet met, deadline ahead), `miss`, `none`.

    An explicit `status` from the engine wins; otherwise `met` decides, and an unmet indicator
    whose deadline is still ahead is `risk` rather than `miss`."""
    explicit = str(row.get("status") or "").strip().lower()
    if explicit in STATUS_COLOURS:
        return explicit
    aliases = {"达标": "met", "ok": "met", "on_track": "met", "未达标": "miss", "missed": "miss",
               "lagging": "miss", "at_risk": "risk", "进行中": "risk", "无数据": "none"}
    if explicit in aliases:
        return aliases[explicit]
    if _float(row.get("value")) is None:
        return "none"
    met = row.get("met")
    if _missing(met):
        return "none"
    if bool(met):
        return "met"
    deadline = str(row.get("deadline") or "")
    if deadline and period and deadline[:7] > period:
        return "risk"
    return "miss"


def _esc(x: object) -> str:
    return html.escape("" if _missing(x) else str(x), quote=True)


def county_link(code: str, label: str | None = None) -> str:
    """A link that opens a county's drill-down page in Voilà (relative to the cockpit)."""
    href = f"county.ipynb?county={quote(str(code))}"
    return f'<a href="{_esc(href)}" target="_self" data-county="{_esc(code)}">{_esc(label or code)}</a>'


def _part(name: str, key: str, body: str, cls: str = "") -> str:
    return (f'<div class="wb-part {cls}" data-part="{_esc(name)}" data-key="{_esc(key)}">'
            f"{body}</div>")


def months_upto(periods: Sequence[str], period: str) -> list[str]:
    year = period[:4]
    return [p for p in periods if p[:4] == year and p <= period]


# ───────────────────────────── HTML builders ─────────────────────────────

def kpi_cards_html(data: DashboardData, view: View) -> str:
    """The KPI cards: value, target, gap, traffic light (colour + icon + word), year-on-year."""
    meta = data.indicator_meta(view.indicator_set)
    rows = data.part("kpis", view.indicator_set, view.period, view.county)
    city = data.part("kpis", view.indicator_set, view.period, CITY) if view.county else None
    by_ind = {str(r["indicator"]): r for r in rows.to_dict("records")}
    city_by = {str(r["indicator"]): r for r in city.to_dict("records")} if city is not None else {}
    cards = []
    for m in meta.to_dict("records"):
        ind = str(m["indicator"])
        r = dict(by_ind.get(ind, {}))
        r.setdefault("deadline", m.get("deadline"))
        unit = m.get("unit")
        st = status_of(r, view.period)
        value = r.get("value")
        fv = _float(value)
        meta_bits = [t("dash.kpi.target", target=format_target(r.get("target"), unit,
                                                                m.get("direction")))]
        if _float(r.get("gap")) is not None:
            meta_bits.append(t("dash.kpi.gap", gap=format_gap(r.get("gap"), unit)))
        meta_bits.append(t("dash.kpi.yoy", yoy=fmt.percent(_float(r.get("yoy")), signed=True)))
        if view.county and ind in city_by:
            meta_bits.append(t("dash.kpi.city", value=format_value(city_by[ind].get("value"),
                                                                   unit)))
        cards.append(
            f'<div class="wb-kpi wb-st-{st}" data-indicator="{_esc(ind)}" '
            f'data-value="{"" if fv is None else repr(fv)}" data-status="{st}" '
            f'title="{_esc(m.get("description") or m.get("name"))}">'
            f'<div class="wb-kpi-name">{_esc(m.get("name") or ind)}</div>'
            f'<div class="wb-kpi-value" data-kpi-value>{_esc(format_value(value, unit))}</div>'
            f'<div class="wb-kpi-light"><span class="wb-icon">{STATUS_ICONS[st]}</span>'
            f'{_esc(t("dash.status." + st))}</div>'
            f'<div class="wb-kpi-meta">{" · ".join(_esc(b) for b in meta_bits)}</div></div>')
    if not cards:
        cards.append(f'<div class="wb-empty">{_esc(t("dash.empty.kpis"))}</div>')
    return _part("kpis", view.key, "".join(cards), "wb-kpis")


def _grade_colour(grade: object, known: Sequence[str] = ()) -> str:
    g = "" if _missing(grade) else str(grade)
    if g in GRADE_COLOURS:
        return GRADE_COLOURS[g]
    if not g:
        return STATUS_COLOURS["none"]
    pos = list(known).index(g) if g in known else sum(map(ord, g))
    return OTHER_GRADE_COLOURS[pos % len(OTHER_GRADE_COLOURS)]


def ranking_rows(data: DashboardData, view: View) -> pd.DataFrame:
    """Index ranking for the view: county, name, score, rank, grade and rank interval."""
    hier = view.hierarchy or data.default_hierarchy(view.indicator_set)
    idx = data.part("index", view.indicator_set, view.period, hier)
    if idx.empty:
        return pd.DataFrame(columns=["county_code", "county_name", "score", "rank", "grade",
                                     "nominal_rank", "median_rank", "q05", "q95"])
    out = idx[["county_code", "score", "rank", "grade"]].copy()
    unc = data.part("uncertainty", view.indicator_set, view.period, hier)
    if not unc.empty:
        out = out.merge(unc[["county_code", "nominal_rank", "median_rank", "q05", "q95"]],
                        on="county_code", how="left")
    else:
        for c in ("nominal_rank", "median_rank", "q05", "q95"):
            out[c] = float("nan")
    out["county_name"] = out["county_code"].map(data.county_name)
    return out.sort_values(["rank", "county_code"], kind="stable").reset_index(drop=True)


def _band_html(q05: object, q95: object, rank: object, n: int) -> str:
    lo, hi, r = _float(q05), _float(q95), _float(rank)
    if lo is None or hi is None or n <= 1:
        return ""
    span = max(n - 1, 1)
    left = (lo - 1) / span * 100
    width = max((hi - lo) / span * 100, 2.0)
    mark = "" if r is None else f'<b style="left:calc({(r - 1) / span * 100:.1f}% - 1px)"></b>'
    return (f'<span class="wb-band" aria-hidden="true"><span style="left:{left:.1f}%;'
            f'width:{width:.1f}%"></span>{mark}</span>')


def ranking_table_html(data: DashboardData, view: View) -> str:
    """Ranking table with grades and 5–95% rank intervals; long lists keep top, bottom, pick."""
    rows = ranking_rows(data, view)
    n = len(rows)
    if not n:
        return _part("table", view.key, f'<div class="wb-empty">{_esc(t("dash.empty.index"))}</div>')
    shown = rows
    note = ""
    if n > MAX_TABLE_ROWS:
        half = MAX_TABLE_ROWS // 2
        keep = set(rows.index[:half]) | set(rows.index[-half:])
        keep |= set(rows.index[rows["county_code"] == view.county])
        shown = rows.loc[sorted(keep)]
        note = f'<div class="wb-note">{_esc(t("dash.table.truncated", n=n, shown=len(shown)))}</div>'
    grades = [g for g in dict.fromkeys(rows["grade"].dropna().astype(str))]
    head = "".join(f'<th class="{c}">{_esc(t(k))}</th>' for k, c in (
        ("dash.col.rank", "wb-num"), ("dash.col.county", ""), ("dash.col.score", "wb-num"),
        ("dash.col.grade", ""), ("dash.col.interval", ""), ("dash.col.median_rank", "wb-num")))
    body = []
    prev = None
    for i, r in shown.iterrows():
        if prev is not None and i != prev + 1:
            body.append('<tr><td colspan="6" class="wb-empty">⋯</td></tr>')
        prev = i
        sel = ' class="wb-row-selected"' if r["county_code"] == view.county else ""
        lo, hi = _float(r["q05"]), _float(r["q95"])
        interval = t("dash.rank.interval", lo=f"{lo:.0f}", hi=f"{hi:.0f}") if lo and hi else "—"
        body.append(
            f'<tr{sel} data-county="{_esc(r["county_code"])}">'
            f'<td class="wb-num">{_esc(fmt.number(r["rank"]))}</td>'
            f'<td>{county_link(r["county_code"], r["county_name"])}</td>'
            f'<td class="wb-num">{_esc(fmt.number(r["score"], 1))}</td>'
            f'<td><span class="wb-grade" style="background:{_grade_colour(r["grade"], grades)}">'
            f'{_esc(r["grade"])}</span></td>'
            f'<td>{_band_html(r["q05"], r["q95"], r["rank"], n)}{_esc(interval)}</td>'
            f'<td class="wb-num">{_esc(fmt.number(r["median_rank"], 1))}</td></tr>')
    table = (f'<div class="wb-scroll"><table class="wb-table"><thead><tr>{head}</tr></thead>'
             f'<tbody>{"".join(body)}</tbody></table></div>{note}')
    return _part("table", view.key, table)


def current_phase(phases: pd.DataFrame, period: str) -> str | None:
    for r in phases.to_dict("records"):
        if str(r["start"])[:7] <= period <= str(r["end"])[:7]:
            return str(r["name"])
    return None


def calendar_html(data: DashboardData, view: View) -> str:
    """Campaign phases as a bar (current phase highlighted) and milestones with their status."""
    phases = data.phases
    bar = []
    cur = current_phase(phases, view.period)
    for r in phases.to_dict("records"):
        start, end = str(r["start"])[:7], str(r["end"])[:7]
        months = max(1, (int(end[:4]) - int(start[:4])) * 12 + int(end[5:7]) - int(start[5:7]) + 1)
        cls = "wb-current" if r["name"] == cur else ("wb-past" if end < view.period else "")
        span = (fmt.month_label(start) if start == end
                else f"{fmt.month_label(start)}–{int(end[5:7])}月")
        bar.append(f'<div class="wb-cal-phase {cls}" style="flex:{months}" '
                   f'title="{_esc(r["name"])} {_esc(span)}">{_esc(r["name"])}'
                   f"<small>{_esc(span)}</small></div>")
    head = t("dash.calendar.current", phase=cur) if cur else t("dash.calendar.outside")
    ms = data.part("milestones", view.indicator_set, view.period, view.county)
    if ms.empty and view.county:
        ms = data.part("milestones", view.indicator_set, view.period, CITY)
    items = []
    for r in ms.sort_values("deadline", kind="stable").to_dict("records"):
        st = status_of({"status": r.get("status"), "value": 1, "met": None}, view.period)
        detail = f" · {_esc(r['detail'])}" if not _missing(r.get("detail")) and r.get("detail") else ""
        items.append(
            f'<li data-milestone="{_esc(r.get("milestone"))}" data-status="{st}">'
            f'<span class="wb-icon wb-st-{st}">{STATUS_ICONS[st]}</span>{_esc(r.get("name"))}'
            f'<span class="wb-ms-date">{_esc(t("dash.calendar.deadline", date=fmt.date_label(r.get("deadline"))))}'
            f" · {_esc(t('dash.milestone.' + st))}{detail}</span></li>")
    if not items:
        items.append(f'<li class="wb-empty">{_esc(t("dash.empty.milestones"))}</li>')
    body = (f'<div class="wb-note">{_esc(head)}</div><div class="wb-cal-bar">{"".join(bar)}</div>'
            f'<ul class="wb-milestones">{"".join(items)}</ul>')
    return _part("calendar", view.key, body)


def lagging_html(data: DashboardData, view: View) -> str:
    """Counties behind schedule (进度滞后 / 约谈名单) with each county's reasons."""
    lag = data.part("lagging", view.indicator_set, view.period)
    if lag.empty:
        body = f'<div class="wb-empty">{_esc(t("dash.empty.lagging"))}</div>'
        return _part("lagging", view.key, body)
    rows = []
    recs = lag.to_dict("records")
    recs.sort(key=lambda r: (r["county_code"] != view.county, str(r["county_code"])))
    for r in recs[:MAX_LAGGING_ROWS]:
        reasons = r.get("reasons")
        if isinstance(reasons, str):
            reasons = [x for x in reasons.replace("；", ";").split(";") if x.strip()]
        reasons = list(reasons) if reasons is not None and not _missing(reasons) else []
        sel = ' class="wb-row-selected"' if r["county_code"] == view.county else ""
        items = "".join(f"<li>{_esc(x)}</li>" for x in reasons) or "<li>—</li>"
        rows.append(f'<tr{sel} data-county="{_esc(r["county_code"])}"><td>'
                    f'{county_link(r["county_code"], data.county_name(r["county_code"]))}</td>'
                    f'<td><ul class="wb-lag-reasons">{items}</ul></td></tr>')
    note = ""
    if len(recs) > MAX_LAGGING_ROWS:
        note = f'<div class="wb-note">{_esc(t("dash.lagging.more", n=len(recs) - MAX_LAGGING_ROWS))}</div>'
    head = (f'<tr><th>{_esc(t("dash.col.county"))}</th>'
            f'<th>{_esc(t("dash.col.reasons"))}</th></tr>')
    body = (f'<div class="wb-note">{_esc(t("dash.lagging.count", n=len(recs)))}</div>'
            f'<div class="wb-scroll"><table class="wb-table"><thead>{head}</thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>{note}')
    return _part("lagging", view.key, body)


def header_html(data: DashboardData, view: View, page: str = "cockpit") -> str:
    """Title, data-as-of line, and the link that opens the drill-down (or goes back)."""
    demo = f'<span class="wb-demo-flag">{_esc(t("dash.demo"))}</span>' if data.demo else ""
    if page == "cockpit":
        title = t("dash.cockpit.title")
        link = (f'<a class="wb-open" data-open-county="{_esc(view.county)}" '
                f'href="{_esc("county.ipynb?county=" + quote(view.county))}" target="_self">'
                f'{_esc(t("dash.open_county", name=data.county_name(view.county)))}</a>'
                if view.county else "")
    else:
        title = t("dash.county.title", name=data.county_name(view.county))
        link = f'<a class="wb-back" href="cockpit.ipynb" target="_self">{_esc(t("dash.back"))}</a>'
    asof = t("dash.asof", period=fmt.month_label(view.period),
             set=data.indicator_sets.get(view.indicator_set, view.indicator_set))
    body = (f'<span class="wb-title">{_esc(title)}<small>{_esc(data.city_name)}</small>{demo}'
            f'</span><span class="wb-asof">{_esc(asof)}</span>{link}')
    return _part("header", view.key, body)


def panel_title(key: str, note: str = "") -> str:
    small = f"<small>{_esc(note)}</small>" if note else ""
    return f"<h3>{_esc(t(key))}{small}</h3>"


# ───────────────────────────── figures (plotly JSON) ─────────────────────────────

def base_layout(height: int = 320, **extra: Any) -> dict:
    """Shared layout: Chinese font, white background, compact margins, no mode bar clutter."""
    layout = {
        "height": height, "autosize": True,
        "margin": {"l": 10, "r": 10, "t": 10, "b": 10, "pad": 2},
        "font": {"family": FONT, "size": 13, "color": "#1f2933"},
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "#ffffff",
        "showlegend": False, "hoverlabel": {"font": {"family": FONT}},
        "separators": ".,",
    }
    layout.update(extra)
    return layout


def ranking_figure(data: DashboardData, view: View) -> dict:
    """Index scores as bars coloured by grade, beside each county's 5–95% rank interval."""
    rows = ranking_rows(data, view)
    if rows.empty:
        return empty_figure(t("dash.empty.index"))
    if len(rows) > MAX_BARS:
        half = MAX_BARS // 2
        keep = set(rows.index[:half]) | set(rows.index[-half:])
        keep |= set(rows.index[rows["county_code"] == view.county])
        rows = rows.loc[sorted(keep)]
    grades = list(dict.fromkeys(rows["grade"].dropna().astype(str)))
    labels = [f"{int(r):d}. {name}" if _float(r) is not None else str(name)
              for r, name in zip(rows["rank"], rows["county_name"])]
    selected = (rows["county_code"] == view.county).tolist()
    colours = [_grade_colour(g, grades) for g in rows["grade"]]
    bars = {
        "type": "bar", "orientation": "h", "x": [_float(v) for v in rows["score"]], "y": labels,
        "marker": {"color": colours,
                   "line": {"color": ["#111111" if s else "rgba(0,0,0,0)" for s in selected],
                            "width": [3 if s else 0 for s in selected]}},
        "text": [f"{fmt.number(v, 1)} {'' if _missing(g) else g}"
                 for v, g in zip(rows["score"], rows["grade"])],
        "textposition": "inside", "insidetextanchor": "end", "textfont": {"color": "#ffffff"},
        "customdata": rows["county_code"].tolist(),
        "hovertemplate": "%{y}<br>" + t("dash.hover.score") + "：%{text}<extra></extra>",
        "xaxis": "x", "yaxis": "y",
    }
    n = int(rows["rank"].max()) if rows["rank"].notna().any() else len(rows)
    xs: list[float | None] = []
    ys: list[str | None] = []
    for lo, hi, lab in zip(rows["q05"], rows["q95"], labels):
        if _float(lo) is None or _float(hi) is None:
            continue
        xs += [_float(lo), _float(hi), None]
        ys += [lab, lab, None]
    band = {"type": "scatter", "mode": "lines", "x": xs, "y": ys, "hoverinfo": "skip",
            "line": {"color": "#9ecae1", "width": 9}, "xaxis": "x2", "yaxis": "y",
            "connectgaps": False}
    nominal = {
        "type": "scatter", "mode": "markers", "x": [_float(v) for v in rows["rank"]], "y": labels,
        "marker": {"color": "#0b3a66", "size": 9, "symbol": "diamond"},
        "customdata": rows["county_code"].tolist(),
        "text": [t("dash.rank.interval", lo=fmt.number(lo), hi=fmt.number(hi))
                 for lo, hi in zip(rows["q05"], rows["q95"])],
        "hovertemplate": "%{y}<br>" + t("dash.hover.rank") + "：%{x}<br>"
                         + t("dash.hover.interval") + "：%{text}<extra></extra>",
        "xaxis": "x2", "yaxis": "y",
    }
    height = max(220, min(30 * len(rows) + 50, 820))
    layout = base_layout(
        height,
        xaxis={"domain": [0, 0.6], "title": {"text": t("dash.axis.score")}, "rangemode": "tozero",
               "gridcolor": "#eeeeee", "fixedrange": True},
        xaxis2={"domain": [0.66, 1], "title": {"text": t("dash.axis.rank_interval")},
                "range": [n + 0.5, 0.5], "dtick": max(1, round(n / 10)), "gridcolor": "#eeeeee",
                "fixedrange": True},
        yaxis={"autorange": "reversed", "automargin": True, "fixedrange": True,
               "tickfont": {"size": 12}},
        margin={"l": 10, "r": 10, "t": 10, "b": 40},
    )
    return {"data": [bars, band, nominal], "layout": layout}


def _trend_series(data: DashboardData, view: View, county: str) -> pd.DataFrame:
    if view.focus == INDEX:
        hier = view.hierarchy or data.default_hierarchy(view.indicator_set)
        months = months_upto(data.periods, view.period)
        vals = []
        for p in months:
            idx = data.part("index", view.indicator_set, p, hier)
            if county:
                v = idx.loc[idx["county_code"] == county, "score"]
                vals.append(_float(v.iloc[0]) if len(v) else None)
            else:
                vals.append(_float(idx["score"].mean()) if len(idx) else None)
        return pd.DataFrame({"month": months, "value": vals, "target": [None] * len(months)})
    tr = data.part("trend", view.indicator_set, view.focus, county)
    if tr.empty:
        return pd.DataFrame(columns=["month", "value", "target"])
    tr = tr[tr["month"].astype(str).str[:4] == view.period[:4]]
    return tr[tr["month"].astype(str) <= view.period].sort_values("month")


def focus_meta(data: DashboardData, view: View) -> dict:
    if view.focus == INDEX:
        return {"name": t("dash.focus.index"), "unit": "score", "direction": 1}
    meta = data.indicator_meta(view.indicator_set)
    hit = meta[meta["indicator"] == view.focus]
    return hit.iloc[0].to_dict() if len(hit) else {"name": view.focus, "unit": "", "direction": 1}


def trend_figure(data: DashboardData, view: View) -> dict:
    """Monthly values of the focus indicator against its target; the county beside the city."""
    meta = focus_meta(data, view)
    unit = meta.get("unit")
    series = [(view.county, data.county_name(view.county), "#0072B2", "solid", 3)]
    if view.county:
        series.append((CITY, data.city_name, "#8C8C8C", "dot", 2))
    traces: list[dict] = []
    target_done = False
    for code, name, colour, dash, width in series:
        s = _trend_series(data, view, code)
        if s.empty:
            continue
        x = [f"{int(str(m)[5:7])}月" for m in s["month"]]
        y = [_float(v) for v in s["value"]]
        traces.append({
            "type": "scatter", "mode": "lines+markers", "name": name, "x": x, "y": y,
            "line": {"color": colour, "width": width, "dash": dash},
            "marker": {"size": 7 if code == view.county else 5},
            "text": [format_value(v, unit) for v in y],
            "hovertemplate": f"{_esc(name)} %{{x}}：%{{text}}<extra></extra>",
        })
        tgt = [_float(v) for v in s.get("target", pd.Series(dtype=float))]
        if not target_done and any(v is not None for v in tgt):
            traces.append({
                "type": "scatter", "mode": "lines", "name": t("dash.legend.target"), "x": x,
                "y": tgt, "line": {"color": "#D55E00", "width": 2, "dash": "dash"},
                "text": [format_value(v, unit) for v in tgt],
                "hovertemplate": t("dash.legend.target") + " %{x}：%{text}<extra></extra>",
            })
            target_done = True
    if not traces:
        return empty_figure(t("dash.empty.trend"))
    yaxis: dict[str, Any] = {"gridcolor": "#eeeeee", "automargin": True, "fixedrange": True,
                             "title": {"text": _axis_unit(unit)}}
    if value_kind(unit) == "percent":
        yaxis["tickformat"] = ".0%"
    layout = base_layout(
        300, showlegend=True, yaxis=yaxis,
        xaxis={"type": "category", "fixedrange": True, "title": {"text": view.period[:4] + "年"}},
        legend={"orientation": "h", "y": 1.12, "x": 0},
        margin={"l": 10, "r": 10, "t": 30, "b": 40},
    )
    return {"data": traces, "layout": layout}


def _axis_unit(unit: object) -> str:
    kind = value_kind(unit)
    if kind == "percent":
        return t("dash.axis.percent")
    if kind == "money":
        return t("dash.axis.yuan")
    if str(unit or "") == "score":
        return t("dash.axis.score")
    return "" if _missing(unit) else str(unit)


FUNNEL_STAGES = ("leads", "filed", "closed", "recovered")


def funnel_figure(data: DashboardData, view: View) -> dict:
    """线索 → 立案 → 结案 → 追回 for the county (or city), counts with the money recovered."""
    f = data.part("funnel", view.period, view.county)
    if f.empty:
        return empty_figure(t("dash.empty.funnel"))
    by = {str(r["stage"]): r for r in f.to_dict("records")}
    stages = [s for s in FUNNEL_STAGES if s in by]
    counts = [_float(by[s].get("count")) or 0 for s in stages]
    text = []
    for s, c in zip(stages, counts):
        amount = _float(by[s].get("amount"))
        label = t("dash.funnel.count", n=fmt.number(c))
        if amount is not None:
            label += " · " + fmt.money(amount)
        text.append(label)
    trace = {
        "type": "funnel", "y": [t(f"dash.funnel.{s}") for s in stages], "x": counts,
        "text": text, "textinfo": "text", "textposition": "inside",
        "marker": {"color": ["#0b3a66", "#0072B2", "#56B4E9", "#009E73"][: len(stages)]},
        "connector": {"fillcolor": "#e3e9f0"},
        "hovertemplate": "%{y}：%{text}<extra></extra>",
        "textfont": {"color": "#ffffff"},
    }
    layout = base_layout(250, yaxis={"automargin": True, "fixedrange": True},
                         xaxis={"fixedrange": True}, margin={"l": 10, "r": 10, "t": 5, "b": 5})
    return {"data": [trace], "layout": layout}


def rectification_figure(data: DashboardData, view: View) -> dict:
    """Rectification items by status as one stacked bar, with completion against 100%."""
    r = data.part("rectification", view.period, view.county)
    if r.empty:
        return empty_figure(t("dash.empty.rectification"))
    total = float(pd.to_numeric(r["items"], errors="coerce").fillna(0).sum())
    traces = []
    order = list(RECT_STATUS_COLOURS) + [s for s in r["status"].astype(str).unique()
                                         if s not in RECT_STATUS_COLOURS]
    for status in order:
        n = float(pd.to_numeric(r.loc[r["status"] == status, "items"], errors="coerce").sum())
        if n <= 0:
            continue
        share = n / total if total else None
        traces.append({
            "type": "bar", "orientation": "h", "name": status, "y": [t("dash.rect.items")],
            "x": [n], "marker": {"color": RECT_STATUS_COLOURS.get(status, "#999999")},
            "text": [f"{status} {fmt.number(n)}（{fmt.percent(share)}）"],
            "textposition": "inside", "insidetextanchor": "middle",
            "hovertemplate": f"{_esc(status)}：%{{x}}<extra></extra>",
        })
    layout = base_layout(130, barmode="stack", showlegend=True,
                         legend={"orientation": "h", "y": -0.35, "x": 0},
                         xaxis={"fixedrange": True, "title": {"text": ""}},
                         yaxis={"visible": False, "fixedrange": True},
                         margin={"l": 10, "r": 10, "t": 5, "b": 10})
    return {"data": traces, "layout": layout}


def empty_figure(message: str) -> dict:
    layout = base_layout(
        180, xaxis={"visible": False}, yaxis={"visible": False},
        annotations=[{"text": message, "showarrow": False, "font": {"size": 14,
                                                                      "color": "#5f6b7a"},
                      "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}])
    return {"data": [], "layout": layout}


def history_figure(data: DashboardData, view: View) -> dict:
    """Small multiples for the county page: every indicator's months, its target and the city."""
    meta = data.indicator_meta(view.indicator_set).to_dict("records")
    if not meta:
        return empty_figure(t("dash.empty.trend"))
    cols = 4 if len(meta) > 6 else 3
    rows = math.ceil(len(meta) / cols)
    gap_x, gap_y = 0.06, 0.55 / max(rows, 1) / 1.6
    width = (1 - gap_x * (cols - 1)) / cols
    height = (1 - gap_y * (rows - 1)) / rows
    traces: list[dict] = []
    layout = base_layout(170 * rows + 40, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                         annotations=[])
    for i, m in enumerate(meta):
        r, c = divmod(i, cols)
        ax = "" if i == 0 else str(i + 1)
        x0 = c * (width + gap_x)
        y1 = 1 - r * (height + gap_y)
        layout[f"xaxis{ax}"] = {"domain": [x0, x0 + width], "anchor": f"y{ax}",
                                "type": "category", "fixedrange": True,
                                "tickfont": {"size": 10}}
        yax = {"domain": [max(0.0, y1 - height), y1], "anchor": f"x{ax}", "fixedrange": True,
               "gridcolor": "#eeeeee", "tickfont": {"size": 10}, "automargin": True}
        if value_kind(m.get("unit")) == "percent":
            yax["tickformat"] = ".0%"
        layout[f"yaxis{ax}"] = yax
        layout["annotations"].append({
            "text": f"<b>{_esc(m.get('name') or m['indicator'])}</b>", "showarrow": False,
            "xref": "paper", "yref": "paper", "x": x0, "y": y1 + 0.01, "xanchor": "left",
            "yanchor": "bottom", "font": {"size": 12}})
        sub = View(view.indicator_set, view.period, view.county, str(m["indicator"]))
        for code, colour, dash in ((view.county, "#0072B2", "solid"), (CITY, "#8C8C8C", "dot")):
            s = _trend_series(data, sub, code)
            if s.empty:
                continue
            x = [f"{int(str(mo)[5:7])}月" for mo in s["month"]]
            y = [_float(v) for v in s["value"]]
            traces.append({"type": "scatter", "mode": "lines+markers", "x": x, "y": y,
                           "xaxis": f"x{ax}", "yaxis": f"y{ax}",
                           "line": {"color": colour, "dash": dash, "width": 2},
                           "marker": {"size": 4}, "name": data.county_name(code),
                           "text": [format_value(v, m.get("unit")) for v in y],
                           "hovertemplate": f"{_esc(data.county_name(code))} %{{x}}：%{{text}}"
                                            "<extra></extra>"})
            if code == view.county and "target" in s and s["target"].notna().any():
                tgt = [_float(v) for v in s["target"]]
                traces.append({"type": "scatter", "mode": "lines", "x": x, "y": tgt,
                               "xaxis": f"x{ax}", "yaxis": f"y{ax}", "hoverinfo": "skip",
                               "line": {"color": "#D55E00", "dash": "dash", "width": 1.5}})
    return {"data": traces, "layout": layout}


# ───────────────────────────── map ─────────────────────────────

def geojson_path(flag: str | os.PathLike | None = None) -> Path:
    """County boundaries: flag, then $WORKBENCH_GEOJSON, then workbench.toml `[dashboard]
    geojson`, then the shipped demo boundaries."""
    if flag:
        return Path(flag)
    if env := os.environ.get(ENV_GEOJSON):
        return Path(env)
    from workbench.config import load_config

    cfg = load_config()
    value = (cfg.get("dashboard") or {}).get("geojson") if isinstance(cfg.get("dashboard"),
                                                                         dict) else None
    if value:
        p = Path(value)
        return p if p.is_absolute() else Path(cfg["_path"]).parent / p
    return DEMO_GEOJSON


_CODE_KEYS = ("county_code", "code", "adcode", "区划代码", "GB", "gb", "id")
_NAME_KEYS = ("county_name", "name", "区县名称", "NAME")


def _rings(geometry: Mapping[str, Any]) -> list[list[list[float]]]:
    kind = geometry.get("type")
    coords = geometry.get("coordinates") or []
    if kind == "Polygon":
        return [ring for ring in coords]
    if kind == "MultiPolygon":
        return [ring for poly in coords for ring in poly]
    return []


def load_shapes(path: str | os.PathLike | None, counties: pd.DataFrame,
                width: float = 1000.0) -> dict:
    """GeoJSON → SVG paths in a `0 0 width h` box; counties without a boundary become tiles.

    Returns {"viewbox", "shapes": [{code, name, d, cx, cy}], "missing": n, "source"}."""
    codes = [str(c) for c in counties["county_code"]]
    names = dict(zip(codes, counties["county_name"].astype(str)))
    feats: dict[str, list[list[list[float]]]] = {}
    source = ""
    p = Path(path) if path else None
    if p is not None and p.is_file():
        try:
            gj = json.loads(p.read_text(encoding="utf-8-sig"))
            for feat in gj.get("features", []):
                props = feat.get("properties") or {}
                code = next((str(props[k]) for k in _CODE_KEYS if props.get(k) not in (None, "")),
                            str(feat.get("id", "")))
                if code in names and feat.get("geometry"):
                    feats.setdefault(code, []).extend(_rings(feat["geometry"]))
            source = str(p)
        except (OSError, ValueError, AttributeError, TypeError) as exc:
            log.warning("GeoJSON %s unreadable: %s", p, exc)
    shapes: list[dict] = []
    height = width * 0.75
    if feats:
        xs = [pt[0] for rings in feats.values() for ring in rings for pt in ring]
        ys = [pt[1] for rings in feats.values() for ring in rings for pt in ring]
        lat0 = math.radians((min(ys) + max(ys)) / 2)
        kx = math.cos(lat0) if abs(lat0) < 1.5 else 1.0
        w0 = max((max(xs) - min(xs)) * kx, 1e-9)
        h0 = max(max(ys) - min(ys), 1e-9)
        scale = width / w0
        height = h0 * scale
        minx, maxy = min(xs), max(ys)

        def proj(pt: Sequence[float]) -> tuple[float, float]:
            return ((pt[0] - minx) * kx * scale, (maxy - pt[1]) * scale)

        for code in codes:
            if code not in feats:
                continue
            parts = []
            sx = sy = n = 0.0
            for ring in feats[code]:
                pts = [proj(pt) for pt in ring]
                if len(pts) < 3:
                    continue
                parts.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in pts) + "Z")
                for x, y in pts:
                    sx, sy, n = sx + x, sy + y, n + 1
            if parts:
                shapes.append({"code": code, "name": names[code], "d": "".join(parts),
                               "cx": round(sx / n, 1), "cy": round(sy / n, 1)})
    placed = {s["code"] for s in shapes}
    rest = [c for c in codes if c not in placed]
    if rest:
        cols = max(1, math.ceil(math.sqrt(len(rest) * 1.6)))
        cell = width / cols
        top = height + (cell * 0.5 if shapes else 0)
        for i, code in enumerate(rest):
            r, c = divmod(i, cols)
            x, y = c * cell, top + r * cell
            s = cell * 0.92
            shapes.append({"code": code, "name": names[code],
                           "d": f"M{x:.1f},{y:.1f}h{s:.1f}v{s:.1f}h{-s:.1f}Z",
                           "cx": round(x + s / 2, 1), "cy": round(y + s / 2, 1)})
        height = top + math.ceil(len(rest) / cols) * cell
    return {"viewbox": f"0 0 {width:.0f} {max(height, 1):.0f}", "shapes": shapes,
            "missing": len(rest), "source": source}


def map_colours(data: DashboardData, view: View) -> tuple[dict, dict, str]:
    """Fill colour and tooltip per county, and the legend, for the focus of the view.

    The index is coloured by grade (as the ranking bars); an indicator with a target by its
    traffic light; one without a target by quintile, better values bluer."""
    fills: dict[str, str] = {}
    tips: dict[str, str] = {}
    legend: list[tuple[str, str]] = []
    if view.focus == INDEX:
        rows = ranking_rows(data, view)
        grades = list(dict.fromkeys(rows["grade"].dropna().astype(str)))
        for r in rows.to_dict("records"):
            code = str(r["county_code"])
            fills[code] = _grade_colour(r["grade"], grades)
            tips[code] = t("dash.map.tip_index", name=r["county_name"],
                           score=fmt.number(r["score"], 1), grade=r["grade"],
                           rank=fmt.number(r["rank"]))
        legend = [(_grade_colour(g, grades), g) for g in grades]
    else:
        meta = focus_meta(data, view)
        unit = meta.get("unit")
        rows = data.kpis[(data.kpis["indicator_set"] == view.indicator_set)
                         & (data.kpis["period"] == view.period)
                         & (data.kpis["indicator"] == view.focus)
                         & (data.kpis["county_code"] != CITY)] if view.focus else data.kpis.iloc[:0]
        has_target = rows["target"].notna().any() if len(rows) else False
        values = pd.to_numeric(rows["value"], errors="coerce") if len(rows) else pd.Series()
        if not has_target and values.notna().sum() >= 2:
            direction = _float(meta.get("direction")) or 1.0
            ranks = (values * direction).rank(pct=True)
        for i, r in enumerate(rows.to_dict("records")):
            code = str(r["county_code"])
            r.setdefault("deadline", meta.get("deadline"))
            if has_target:
                st = status_of(r, view.period)
                fills[code] = STATUS_COLOURS[st]
            else:
                q = ranks.iloc[i] if values.notna().sum() >= 2 else None
                fills[code] = (SEQUENTIAL[min(4, int((q - 1e-9) * 5))] if _float(q) is not None
                               else STATUS_COLOURS["none"])
            tips[code] = t("dash.map.tip_kpi", name=data.county_name(code),
                           indicator=meta.get("name"), value=format_value(r.get("value"), unit))
        if has_target:
            legend = [(STATUS_COLOURS[s], f"{STATUS_ICONS[s]} {t('dash.status.' + s)}")
                      for s in ("met", "risk", "miss", "none")]
        else:
            legend = [(SEQUENTIAL[0], t("dash.map.worse")), (SEQUENTIAL[4], t("dash.map.better"))]
    legend_html = "".join(f'<span><i style="background:{c}"></i>{_esc(label)}</span>'
                          for c, label in legend)
    return fills, tips, legend_html


# ───────────────────────────── widgets ─────────────────────────────

_PLOTLY_ESM = r"""
const CONFIG = {displayModeBar: false, responsive: true, displaylogo: false,
                doubleClick: false, locale: "zh-CN"};
function plotly() {
  return new Promise((resolve) => {
    const tick = () => (window.Plotly ? resolve(window.Plotly) : setTimeout(tick, 15));
    tick();
  });
}
export default {
  async render({ model, el }) {
    el.classList.add("wb-chart");
    el.dataset.part = model.get("part");
    const div = document.createElement("div");
    div.className = "wb-plot";
    el.appendChild(div);
    const P = await plotly();
    let queue = Promise.resolve();
    const draw = () => {
      queue = queue.then(async () => {
        const fig = model.get("figure") || {};
        const key = model.get("key");
        await P.react(div, fig.data || [], fig.layout || {}, CONFIG);
        el.dataset.key = key;
      }).catch((err) => { el.dataset.error = String(err); console.error(err); });
      return queue;
    };
    model.on("change:key", draw);
    model.on("change:live", () => { el.dataset.live = model.get("live") ? "1" : "0"; });
    await draw();
    div.on("plotly_click", (ev) => {
      const p = ev && ev.points && ev.points[0];
      if (p && p.customdata !== undefined && p.customdata !== null) {
        const v = Array.isArray(p.customdata) ? p.customdata[0] : p.customdata;
        model.send({ event: "click", value: String(v) });
      }
    });
    const ro = new ResizeObserver(() => { if (div.offsetWidth) P.Plots.resize(div); });
    ro.observe(el);
    model.send({ event: "ready" });
    return () => { ro.disconnect(); P.purge(div); };
  },
};
"""

_MAP_ESM = r"""
const NS = "http://www.w3.org/2000/svg";
export default {
  render({ model, el }) {
    el.classList.add("wb-map");
    el.dataset.part = model.get("part");
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", model.get("viewbox"));
    svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
    svg.setAttribute("role", "img");
    const shapes = model.get("shapes");
    const paths = new Map();
    const labels = document.createElementNS(NS, "g");
    for (const s of shapes) {
      const p = document.createElementNS(NS, "path");
      p.setAttribute("d", s.d);
      p.dataset.county = s.code;
      p.appendChild(document.createElementNS(NS, "title"));
      p.addEventListener("click", () => model.send({ event: "click", value: s.code }));
      svg.appendChild(p);
      paths.set(s.code, p);
      if (shapes.length <= 60) {
        const tx = document.createElementNS(NS, "text");
        tx.setAttribute("x", s.cx); tx.setAttribute("y", s.cy);
        tx.setAttribute("text-anchor", "middle");
        tx.textContent = s.name;
        labels.appendChild(tx);
      }
    }
    svg.appendChild(labels);
    const legend = document.createElement("div");
    legend.className = "wb-map-legend";
    el.append(svg, legend);
    let selected = null;
    const draw = () => {
      const fills = model.get("fills"), tips = model.get("tips"), sel = model.get("selected");
      for (const [code, p] of paths) {
        p.setAttribute("fill", fills[code] || "#d9d9d9");
        p.firstChild.textContent = tips[code] || "";
      }
      if (selected && paths.has(selected)) paths.get(selected).classList.remove("wb-selected");
      selected = sel;
      if (sel && paths.has(sel)) {
        const p = paths.get(sel);
        p.classList.add("wb-selected");
        svg.insertBefore(p, labels);
      }
      legend.innerHTML = model.get("legend");
      el.dataset.key = model.get("key");
    };
    model.on("change:key", draw);
    model.on("change:live", () => { el.dataset.live = model.get("live") ? "1" : "0"; });
    draw();
    model.send({ event: "ready" });
  },
};
"""


@functools.cache
def _widget_classes() -> tuple[type, type]:
    """The two anywidgets, built on first use so that importing this module stays cheap."""
    import anywidget
    import traitlets

    class PlotlyView(anywidget.AnyWidget):
        """A plotly figure as plain JSON, redrawn with `Plotly.react` when `key` changes.

        Unlike `go.FigureWidget` it does not ship plotly.js (≈ 5 MB) with every instance: the
        page loads plotly.js once (see `page_head`)."""

        _esm = _PLOTLY_ESM
        part = traitlets.Unicode("").tag(sync=True)
        figure = traitlets.Dict().tag(sync=True)
        key = traitlets.Unicode("").tag(sync=True)
        live = traitlets.Bool(False).tag(sync=True)

        def __init__(self, on_click: Callable[[str], None] | None = None, **kw: Any) -> None:
            super().__init__(**kw)
            self._on_click = on_click
            self.on_msg(self._handle)

        def _handle(self, _w: Any, content: Mapping[str, Any], _b: Any) -> None:
            if content.get("event") == "ready":
                self.live = True
            elif content.get("event") == "click" and self._on_click:
                self._on_click(str(content.get("value")))

        def show(self, figure: dict, key: str) -> None:
            with self.hold_sync():
                self.figure = figure
                self.key = key

    class CountyMap(anywidget.AnyWidget):
        """County boundaries as SVG paths drawn once; a view change only recolours them."""

        _esm = _MAP_ESM
        part = traitlets.Unicode("map").tag(sync=True)
        viewbox = traitlets.Unicode("0 0 1000 750").tag(sync=True)
        shapes = traitlets.List().tag(sync=True)
        fills = traitlets.Dict().tag(sync=True)
        tips = traitlets.Dict().tag(sync=True)
        legend = traitlets.Unicode("").tag(sync=True)
        selected = traitlets.Unicode("").tag(sync=True)
        key = traitlets.Unicode("").tag(sync=True)
        live = traitlets.Bool(False).tag(sync=True)

        def __init__(self, on_click: Callable[[str], None] | None = None, **kw: Any) -> None:
            super().__init__(**kw)
            self._on_click = on_click
            self.on_msg(self._handle)

        def _handle(self, _w: Any, content: Mapping[str, Any], _b: Any) -> None:
            if content.get("event") == "ready":
                self.live = True
            elif content.get("event") == "click" and self._on_click:
                self._on_click(str(content.get("value")))

    return PlotlyView, CountyMap


def plotly_view(**kw: Any) -> Any:
    return _widget_classes()[0](**kw)


def county_map(**kw: Any) -> Any:
    return _widget_classes()[1](**kw)


@functools.cache
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def page_head() -> Any:
    """The theme CSS and plotly.js, once per page, as one HTML output.

    plotly.js is inlined (no CDN: bureau intranets have no internet) and loaded only if the page
    does not have it yet; `window.PlotlyConfig` keeps MathJax out of it."""
    from IPython.display import HTML

    css = THEME_CSS.read_text(encoding="utf-8")
    script = ("<script type=\"text/javascript\">window.PlotlyConfig = {MathJaxConfig: 'local'};"
              "if (!window.Plotly) {" + _plotly_js() + "}</script>")
    return HTML(f"<style>{css}</style>{script}")


def _panel(title_key: str, *children: Any, note: str = "", cls: str = "") -> Any:
    import ipywidgets as W

    box = W.VBox([W.HTML(panel_title(title_key, note)), *children])
    box.add_class("wb-panel")
    if cls:
        box.add_class(cls)
    return box


def _grid(*children: Any, cls: str = "wb-grid") -> Any:
    import ipywidgets as W

    box = W.Box(list(children))
    box.add_class("wb-grid")
    if cls != "wb-grid":
        box.add_class(cls)
    return box


def _dropdown(options: list[tuple[str, str]], value: str, label: str) -> Any:
    import ipywidgets as W

    return W.Dropdown(options=options, value=value, description=label,
                      style={"description_width": "initial"},
                      layout=W.Layout(width="auto"))


class _Page:
    """Shared machinery of both pages: state, selectors, timed in-place updates."""

    parts: tuple[str, ...] = ()

    def __init__(self, data: DashboardData, view: View) -> None:
        self.data = data
        self.view = view
        self.last_update_ms = 0.0
        self._busy = False

    def _set_options(self) -> list[tuple[str, str]]:
        return [(title, key) for key, title in self.data.indicator_sets.items()]

    def _period_options(self) -> list[tuple[str, str]]:
        return [(fmt.month_label(p), p) for p in reversed(self.data.periods)]

    def _county_options(self, with_city: bool) -> list[tuple[str, str]]:
        opts = [(t("dash.selector.whole_city"), CITY)] if with_city else []
        opts += [(f"{n}（{c}）", c) for c, n in zip(self.data.counties["county_code"].astype(str),
                                                   self.data.counties["county_name"].astype(str))]
        return opts

    def _focus_options(self, indicator_set: str) -> list[tuple[str, str]]:
        opts = [(t("dash.focus.index"), INDEX)] if self.data.default_hierarchy(indicator_set) \
            else []
        meta = self.data.indicator_meta(indicator_set)
        opts += [(str(n or i), str(i)) for i, n in zip(meta["indicator"], meta["name"])]
        return opts

    def _hierarchy_options(self, indicator_set: str) -> list[tuple[str, str]]:
        sub = self.data.index[self.data.index["indicator_set"] == indicator_set]
        hs = list(dict.fromkeys(sub["hierarchy"].astype(str)))
        return [(self.data.hierarchies.get(h, h), h) for h in hs]

    def set_view(self, **changes: Any) -> None:
        """Move to a new view and redraw every part; selectors follow the view."""
        view = dataclasses.replace(self.view, **changes)
        if view.indicator_set != self.view.indicator_set:
            focus = [v for _, v in self._focus_options(view.indicator_set)]
            hier = [v for _, v in self._hierarchy_options(view.indicator_set)]
            view = dataclasses.replace(
                view, focus=view.focus if view.focus in focus else (focus[0] if focus else INDEX),
                hierarchy=view.hierarchy if view.hierarchy in hier else (hier[0] if hier else None))
        self.view = view
        self.refresh()

    def _on_select(self, name: str) -> Callable[[dict], None]:
        def handler(change: dict) -> None:
            if self._busy or change.get("new") is None:
                return
            self.set_view(**{name: change["new"]})
        return handler

    def _sync_selectors(self) -> None:
        raise NotImplementedError

    def _draw(self) -> None:
        raise NotImplementedError

    def refresh(self) -> None:
        started = time.perf_counter()
        self._busy = True
        try:
            self._sync_selectors()
            self._draw()
        finally:
            self._busy = False
        self.last_update_ms = (time.perf_counter() - started) * 1000
        log.info("view %s drawn in %.1f ms", self.view.key, self.last_update_ms)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


class Cockpit(_Page):
    """The leader cockpit: one screen, every target, the lagging counties, a click to any county."""

    parts = ("header", "kpis", "ranking", "map", "trend", "funnel", "rectification", "calendar",
             "lagging", "table")

    def __init__(self, data: DashboardData, indicator_set: str | None = None,
                 period: str | None = None, county: str = CITY,
                 geojson: str | os.PathLike | None = None) -> None:
        import ipywidgets as W

        iset = indicator_set if indicator_set in data.indicator_sets else next(iter(
            data.indicator_sets))
        per = period if period in data.periods else data.periods[-1]
        county = county if county in set(data.counties["county_code"].astype(str)) else CITY
        super().__init__(data, View(iset, per, county, INDEX, data.default_hierarchy(iset)))
        if not self._focus_options(iset):
            self.view = dataclasses.replace(self.view, focus="")
        elif self.view.focus not in [v for _, v in self._focus_options(iset)]:
            self.view = dataclasses.replace(self.view, focus=self._focus_options(iset)[0][1])
        self.sel_set = _dropdown(self._set_options(), iset, t("dash.selector.set"))
        self.sel_period = _dropdown(self._period_options(), per, t("dash.selector.period"))
        self.sel_county = _dropdown(self._county_options(True), county,
                                    t("dash.selector.county"))
        self.sel_focus = _dropdown(self._focus_options(iset), self.view.focus,
                                   t("dash.selector.focus"))
        hopts = self._hierarchy_options(iset)
        self.sel_hierarchy = _dropdown(hopts or [("—", "")], self.view.hierarchy or "",
                                       t("dash.selector.hierarchy"))
        self.sel_hierarchy.layout.display = None if len(hopts) > 1 else "none"
        for name, sel in (("indicator_set", self.sel_set), ("period", self.sel_period),
                          ("county", self.sel_county), ("focus", self.sel_focus),
                          ("hierarchy", self.sel_hierarchy)):
            sel.observe(self._on_select(name), "value")
        pick = self._pick_county
        self.header = W.HTML()
        self.kpis = W.HTML()
        self.ranking = plotly_view(part="ranking", on_click=pick)
        shapes = load_shapes(geojson_path(geojson), data.counties)
        self.map = county_map(part="map", on_click=pick, viewbox=shapes["viewbox"],
                              shapes=shapes["shapes"])
        self.trend = plotly_view(part="trend")
        self.funnel = plotly_view(part="funnel")
        self.rectification = plotly_view(part="rectification")
        self.calendar = W.HTML()
        self.lagging = W.HTML()
        self.table = W.HTML()
        map_note = t("dash.map.tiles", n=shapes["missing"]) if shapes["missing"] else ""
        bar = W.HBox([self.header, self.sel_set, self.sel_period, self.sel_county])
        bar.add_class("wb-header")
        self.widget = W.VBox([
            bar, self.kpis,
            _grid(_panel("dash.panel.ranking", self.sel_hierarchy, self.ranking,
                         note=t("dash.panel.ranking_note")),
                  _panel("dash.panel.map", self.sel_focus, self.map, note=map_note)),
            _grid(_panel("dash.panel.trend", self.trend),
                  _panel("dash.panel.funnel", self.funnel,
                         W.HTML(panel_title("dash.panel.rectification")), self.rectification)),
            _grid(_panel("dash.panel.calendar", self.calendar),
                  _panel("dash.panel.lagging", self.lagging)),
            _panel("dash.panel.table", self.table),
        ])
        self.widget.add_class("wb-root")
        self.widget.add_class("wb-cockpit")
        self.refresh()

    def _pick_county(self, code: str) -> None:
        if code in set(self.data.counties["county_code"].astype(str)):
            self.set_view(county=code)

    def _sync_selectors(self) -> None:
        v = self.view
        self.sel_set.value = v.indicator_set
        self.sel_period.value = v.period
        self.sel_county.value = v.county
        focus = self._focus_options(v.indicator_set)
        if list(self.sel_focus.options) != focus:
            self.sel_focus.options = focus
        if v.focus in [x for _, x in focus]:
            self.sel_focus.value = v.focus
        hopts = self._hierarchy_options(v.indicator_set)
        if hopts and list(self.sel_hierarchy.options) != hopts:
            self.sel_hierarchy.options = hopts
        if v.hierarchy in [x for _, x in hopts]:
            self.sel_hierarchy.value = v.hierarchy
        self.sel_hierarchy.layout.display = None if len(hopts) > 1 else "none"

    def _draw(self) -> None:
        d, v, key = self.data, self.view, self.view.key
        self.header.value = header_html(d, v, "cockpit")
        self.kpis.value = kpi_cards_html(d, v)
        self.ranking.show(ranking_figure(d, v), key)
        fills, tips, legend = map_colours(d, v)
        with self.map.hold_sync():
            self.map.fills, self.map.tips, self.map.legend = fills, tips, legend
            self.map.selected = v.county
            self.map.key = key
        self.trend.show(trend_figure(d, v), key)
        self.funnel.show(funnel_figure(d, v), key)
        self.rectification.show(rectification_figure(d, v), key)
        self.calendar.value = calendar_html(d, v)
        self.lagging.value = lagging_html(d, v)
        self.table.value = ranking_table_html(d, v)


# ───────────────────────────── county drill-down ─────────────────────────────

LedgerSource = Callable[[str], Mapping[str, pd.DataFrame]]


def rank_summary_html(data: DashboardData, view: View) -> str:
    """The county's place in every index hierarchy: rank of n, score, grade, rank interval."""
    rows = []
    sub = data.index[data.index["indicator_set"] == view.indicator_set]
    for hier in dict.fromkeys(sub["hierarchy"].astype(str)):
        r = ranking_rows(data, dataclasses.replace(view, hierarchy=hier))
        hit = r[r["county_code"] == view.county]
        if hit.empty:
            continue
        h = hit.iloc[0]
        lo, hi = _float(h["q05"]), _float(h["q95"])
        interval = t("dash.rank.interval", lo=f"{lo:.0f}", hi=f"{hi:.0f}") if lo and hi else "—"
        rows.append(
            f'<tr data-hierarchy="{_esc(hier)}"><td>{_esc(data.hierarchies.get(hier, hier))}</td>'
            f'<td class="wb-num" data-rank>{_esc(t("dash.rank.of", rank=fmt.number(h["rank"]), n=len(r)))}</td>'
            f'<td class="wb-num">{_esc(fmt.number(h["score"], 1))}</td>'
            f'<td><span class="wb-grade" style="background:{_grade_colour(h["grade"])}">'
            f'{_esc(h["grade"])}</span></td>'
            f'<td>{_band_html(lo, hi, h["rank"], len(r))}{_esc(interval)}</td></tr>')
    if not rows:
        return _part("rank", view.key, f'<div class="wb-empty">{_esc(t("dash.empty.index"))}</div>')
    head = "".join(f"<th>{_esc(t(k))}</th>" for k in (
        "dash.col.hierarchy", "dash.col.rank", "dash.col.score", "dash.col.grade",
        "dash.col.interval"))
    lag = data.part("lagging", view.indicator_set, view.period)
    lag = lag[lag["county_code"] == view.county] if len(lag) else lag
    note = ""
    if len(lag):
        note = (f'<div class="wb-note wb-st-risk"><span class="wb-icon wb-st-risk">!</span>'
                f'{_esc(t("dash.county.lagging"))}</div>')
    return _part("rank", view.key, f'<table class="wb-table"><thead><tr>{head}</tr></thead>'
                                   f'<tbody>{"".join(rows)}</tbody></table>{note}')


def _period_end(period: str) -> pd.Timestamp:
    return pd.Period(period, freq="M").end_time.normalize()


def overdue_items(ledgers: Mapping[str, pd.DataFrame], county: str, period: str) -> pd.DataFrame:
    """Rectification items past their deadline at the end of `period` and not yet closed."""
    rect = ledgers.get("rectifications")
    if rect is None or rect.empty:
        return pd.DataFrame(columns=["issue_id", "source", "responsible_unit", "description",
                                     "found_date", "deadline", "status", "days_overdue"])
    end = _period_end(period)
    df = rect[rect["county_code"].astype(str) == county].copy()
    deadline = pd.to_datetime(df["deadline"], errors="coerce")
    found = pd.to_datetime(df["found_date"], errors="coerce")
    closed = pd.to_datetime(df.get("closed_date"), errors="coerce") if "closed_date" in df \
        else pd.Series(pd.NaT, index=df.index)
    done_by_then = df["status"].isin(("已整改", "已销号")) & (closed.isna() | (closed <= end))
    mask = (deadline < end) & (found <= end) & ~done_by_then
    out = df.loc[mask].assign(days_overdue=(end - deadline[mask]).dt.days)
    cols = ["issue_id", "source", "responsible_unit", "description", "found_date", "deadline",
            "status", "amount_involved", "days_overdue"]
    return out[[c for c in cols if c in out.columns]].sort_values("days_overdue",
                                                                  ascending=False)


def table_html(df: pd.DataFrame, headers: Mapping[str, str] | None = None,
               limit: int = MAX_DRILL_ROWS) -> str:
    """A masked, Chinese-headed HTML table of ledger rows (personal data never unmasked)."""
    from workbench.contracts import LEDGERS
    from workbench.privacy import mask_frame

    if df is None or df.empty:
        return f'<div class="wb-empty">{_esc(t("dash.empty.rows"))}</div>'
    shown = mask_frame(df.head(limit))
    names = dict(headers or {})
    for lg in LEDGERS.values():
        for f in lg.fields:
            names.setdefault(f.name, f.header)
    names.setdefault("days_overdue", t("dash.col.days_overdue"))
    head = "".join(f"<th>{_esc(names.get(str(c), c))}</th>" for c in shown.columns
                   if not str(c).startswith("_"))
    body = []
    for rec in shown.to_dict("records"):
        cells = []
        for c, v in rec.items():
            if str(c).startswith("_"):
                continue
            if isinstance(v, pd.Timestamp):
                text = fmt.date_label(v)
            elif isinstance(v, float) and ("amount" in str(c) or "fine" in str(c)
                                           or "reward" in str(c) or "expenditure" in str(c)):
                text = fmt.money(v)
            elif isinstance(v, bool):
                text = "是" if v else "否"
            else:
                text = "—" if _missing(v) else str(v)
            cells.append(f"<td>{_esc(text)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    more = ""
    if len(df) > limit:
        more = f'<div class="wb-note">{_esc(t("dash.rows.more", n=len(df), shown=limit))}</div>'
    return (f'<div class="wb-scroll"><table class="wb-table"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>{more}')


def overdue_html(ledgers: Mapping[str, pd.DataFrame] | None, view: View) -> str:
    if ledgers is None:
        return _part("overdue", view.key,
                     f'<div class="wb-empty">{_esc(t("dash.empty.ledgers"))}</div>')
    items = overdue_items(ledgers, view.county, view.period)
    note = f'<div class="wb-note">{_esc(t("dash.overdue.count", n=len(items)))}</div>'
    return _part("overdue", view.key, note + table_html(items))


def drill_html(ledgers: Mapping[str, pd.DataFrame] | None, view: View, indicator: str,
               span: str = "ytd") -> str:
    """The ledger rows behind one indicator's numerator and denominator (masked)."""
    key = f"{view.key}|{indicator}"
    if ledgers is None or not indicator:
        return _part("drill", key, f'<div class="wb-empty">{_esc(t("dash.empty.ledgers"))}</div>')
    try:
        result = run_drill(ledgers, view.county, view.period, indicator, view.indicator_set, span)
    except Exception as exc:  # the drill is an aid; a failure must not take the page down
        log.exception("drill failed")
        return _part("drill", key, f'<div class="wb-empty">{_esc(t("dash.drill.error", error=exc))}</div>')
    blocks = []
    for role, frame in result:
        count = 0 if frame is None else len(frame)
        blocks.append(f'<h4 data-role="{_esc(role)}">{_esc(t("dash.drill." + role, n=count))}</h4>'
                      + table_html(frame))
    return _part("drill", key, '<div class="wb-drill">' + "".join(blocks) + "</div>")


def run_drill(ledgers: Mapping[str, pd.DataFrame], county: str, period: str, indicator: str,
              indicator_set: str, span: str) -> list[tuple[str, pd.DataFrame]]:
    """Call the engine's drill-through and return [(role, rows)] for numerator, denominator."""
    from workbench import drill as drill_mod

    res = _call_flexibly(drill_mod.drill, ledgers, county, period, indicator,
                         indicator_set=indicator_set, span=span)
    out: list[tuple[str, pd.DataFrame]] = []
    for role in ("numerator", "denominator"):
        frame = res.get(role) if isinstance(res, Mapping) else getattr(res, role, None)
        if isinstance(frame, Mapping):
            frame = pd.concat([f.assign(_ledger=k) for k, f in frame.items() if f is not None],
                              ignore_index=True) if frame else pd.DataFrame()
        out.append((role, frame if isinstance(frame, pd.DataFrame) else pd.DataFrame()))
    return out


def _call_flexibly(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Call `fn` with only the keyword arguments it accepts."""
    import inspect

    params = inspect.signature(fn).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        kwargs = {k: v for k, v in kwargs.items() if k in params}
    return fn(*args, **kwargs)


class CountyPage(_Page):
    """One county: its indicators with history and targets, its rank, overdue items, and the
    ledger rows behind any number."""

    parts = ("header", "kpis", "rank", "history", "ranking", "overdue", "drill")

    def __init__(self, data: DashboardData, county: str | None = None,
                 period: str | None = None, indicator_set: str | None = None,
                 ledgers: LedgerSource | None = None) -> None:
        import ipywidgets as W

        codes = list(data.counties["county_code"].astype(str))
        county = county if county in codes else codes[0]
        iset = indicator_set if indicator_set in data.indicator_sets else next(iter(
            data.indicator_sets))
        per = period if period in data.periods else data.periods[-1]
        super().__init__(data, View(iset, per, county, INDEX, data.default_hierarchy(iset)))
        self._ledger_source = ledgers
        self._ledger_cache: dict[str, Mapping[str, pd.DataFrame] | None] = {}
        self.sel_set = _dropdown(self._set_options(), iset, t("dash.selector.set"))
        self.sel_period = _dropdown(self._period_options(), per, t("dash.selector.period"))
        self.sel_county = _dropdown(self._county_options(False), county,
                                    t("dash.selector.county"))
        meta = data.indicator_meta(iset)
        self.sel_drill = _dropdown([(str(n), str(i)) for i, n in zip(meta["indicator"],
                                                                       meta["name"])] or
                                   [("—", "")], str(meta["indicator"].iloc[0]) if len(meta)
                                   else "", t("dash.selector.drill"))
        for name, sel in (("indicator_set", self.sel_set), ("period", self.sel_period),
                          ("county", self.sel_county)):
            sel.observe(self._on_select(name), "value")
        self.sel_drill.observe(lambda ch: self._draw_drill(), "value")
        self.header = W.HTML()
        self.kpis = W.HTML()
        self.rank = W.HTML()
        self.history = plotly_view(part="history")
        self.ranking = plotly_view(part="ranking", on_click=self._pick_county)
        self.overdue = W.HTML()
        self.drill = W.HTML()
        bar = W.HBox([self.header, self.sel_set, self.sel_period, self.sel_county])
        bar.add_class("wb-header")
        self.widget = W.VBox([
            bar, self.kpis,
            _grid(_panel("dash.panel.rank", self.rank, self.ranking),
                  _panel("dash.panel.overdue", self.overdue)),
            _panel("dash.panel.history", self.history, note=t("dash.panel.history_note")),
            _panel("dash.panel.drill", self.sel_drill, self.drill,
                   note=t("dash.panel.drill_note")),
        ])
        self.widget.add_class("wb-root")
        self.widget.add_class("wb-county")
        self.refresh()

    def _pick_county(self, code: str) -> None:
        if code in set(self.data.counties["county_code"].astype(str)):
            self.set_view(county=code)

    def ledgers(self) -> Mapping[str, pd.DataFrame] | None:
        if self._ledger_source is None:
            return None
        if self.view.county not in self._ledger_cache:
            try:
                self._ledger_cache[self.view.county] = self._ledger_source(self.view.county)
            except Exception:
                log.exception("ledgers unavailable")
                self._ledger_cache[self.view.county] = None
        return self._ledger_cache[self.view.county]

    def _sync_selectors(self) -> None:
        v = self.view
        self.sel_set.value = v.indicator_set
        self.sel_period.value = v.period
        self.sel_county.value = v.county
        meta = self.data.indicator_meta(v.indicator_set)
        opts = [(str(n), str(i)) for i, n in zip(meta["indicator"], meta["name"])] or [("—", "")]
        if list(self.sel_drill.options) != opts:
            self.sel_drill.options = opts

    def _draw(self) -> None:
        d, v, key = self.data, self.view, self.view.key
        self.header.value = header_html(d, v, "county")
        self.kpis.value = kpi_cards_html(d, v)
        self.rank.value = rank_summary_html(d, v)
        self.ranking.show(ranking_figure(d, v), key)
        self.history.show(history_figure(d, v), key)
        self.overdue.value = overdue_html(self.ledgers(), v)
        self._draw_drill()

    def _draw_drill(self) -> None:
        self.drill.value = drill_html(self.ledgers(), self.view, self.sel_drill.value or "")


def county_from_query(default: str | None = None) -> str | None:
    """The `county` URL parameter of the Voilà page (`county.ipynb?county=990101`).

    With preheated kernels the request arrives after the notebook started, so this waits for it
    (voila's `get_query_string`); elsewhere it reads $QUERY_STRING."""
    qs = os.environ.get("QUERY_STRING", "")
    if os.environ.get("VOILA_PREHEAT", "False") != "False":
        try:
            from voila.utils import get_query_string

            qs = get_query_string() or qs
        except Exception:  # pragma: no cover - outside Voilà
            log.exception("query string unavailable")
    values = parse_qs(qs).get("county") or []
    return values[0].strip() if values and values[0].strip() else default
