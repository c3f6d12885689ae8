"""Months as lines: the cockpit's trend of the focus and the county page's small multiples."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from workbench.dashboard.data import DashboardData, _float, _missing
from workbench.dashboard.markup import _esc, focus_meta, format_value, value_kind
from workbench.dashboard.style import base_layout, empty_figure
from workbench.dashboard.view import CITY, INDEX, View
from workbench.messages import t


def months_upto(periods: Sequence[str], period: str, whole: bool = False) -> list[str]:
    """The months of the period's year up to it; with `whole` (yearly or fiscal-year data,
    one period a year) every period up to it."""
    year = period[:4]
    return [p for p in periods if (whole or p[:4] == year) and p <= period]


def _trend_series(data: DashboardData, view: View, county: str) -> pd.DataFrame:
    """Month by month in the view's year up to its period: the value (for the span, e.g. year
    to date) and the target, read from the precomputed KPIs of each month."""
    months = months_upto(data.periods, view.period, whole=bool(data.period_labels))
    vals: list[float | None] = []
    tgts: list[float | None] = []
    if view.focus == INDEX:
        hier = view.hierarchy or data.default_hierarchy(view.indicator_set)
        for p in months:
            scores = data.scores(p, hier)
            if county:
                vals.append(scores.get(county))
            else:
                vals.append(
                    data.memo(
                        ("score_mean", p, hier),
                        lambda s=scores: (
                            (
                                sum(v for v in s.values() if v is not None)
                                / max(1, sum(v is not None for v in s.values()))
                            )
                            if s
                            else None
                        ),
                    )
                )
            tgts.append(None)
    else:
        for p in months:
            r = data.kpi(view.focus, p, county, view.indicator_set)
            vals.append(_float(r.get("value")))
            tgts.append(_float(r.get("target")))
    if all(v is None for v in vals):
        return pd.DataFrame(columns=["month", "value", "target"])
    return pd.DataFrame({"month": months, "value": vals, "target": tgts})


def trend_figure(data: DashboardData, view: View) -> dict:
    """Monthly values of the focus indicator against its target; the county beside the city."""
    meta = focus_meta(data, view)
    unit = meta.get("unit")
    city_label = (
        t("dash.trend.county_mean", **data.words(view.indicator_set))
        if view.focus == INDEX
        else data.city_name
    )
    series = [
        (
            view.county,
            data.county_name(view.county) if view.county else city_label,
            "#0072B2",
            "solid",
            3,
        )
    ]
    if view.county and (view.focus == INDEX or value_kind(unit) == "percent"):
        series.append((CITY, city_label, "#8C8C8C", "dot", 2))  # rates compare; sums do not
    traces: list[dict] = []
    target_done = False
    for code, name, colour, dash, width in series:
        s = _trend_series(data, view, code)
        if s.empty:
            continue
        x = [data.period_labels.get(str(m)) or f"{int(str(m)[5:7])}月" for m in s["month"]]
        y = [_float(v) for v in s["value"]]
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": name,
                "x": x,
                "y": y,
                "line": {"color": colour, "width": width, "dash": dash},
                "marker": {"size": 7 if code == view.county else 5},
                "text": [format_value(v, unit, decimals=meta.get("decimals")) for v in y],
                "hovertemplate": f"{_esc(name)} %{{x}}：%{{text}}<extra></extra>",
            }
        )
        tgt = [_float(v) for v in s.get("target", pd.Series(dtype=float))]
        if not target_done and any(v is not None for v in tgt):
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": t("dash.legend.target"),
                    "x": x,
                    "y": tgt,
                    "line": {"color": "#D55E00", "width": 2, "dash": "dash"},
                    "text": [format_value(v, unit, decimals=meta.get("decimals")) for v in tgt],
                    "hovertemplate": t("dash.legend.target") + " %{x}：%{text}<extra></extra>",
                }
            )
            target_done = True
    if not traces:
        return empty_figure(t("dash.empty.trend"))
    yaxis: dict[str, Any] = {
        "gridcolor": "#eeeeee",
        "fixedrange": True,
        "title": {"text": _axis_unit(unit)},
    }
    if value_kind(unit) == "percent":
        yaxis["tickformat"] = ".0%"
    year = "" if data.period_labels else view.period[:4] + "年"
    layout = base_layout(
        300,
        showlegend=True,
        yaxis=yaxis,
        # months are shown as 1月…12月 under their year; a set's own periods name themselves
        xaxis={"type": "category", "fixedrange": True, "title": {"text": year}},
        legend={"orientation": "h", "y": 1.12, "x": 0},
        margin={"l": 72, "r": 10, "t": 30, "b": 40},
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


def history_figure(data: DashboardData, view: View) -> dict:
    """Small multiples for the county page: every indicator's months, its target and the city."""
    meta = data.meta_records(view.indicator_set)
    if not meta:
        return empty_figure(t("dash.empty.trend"))
    cols = 4 if len(meta) > 6 else 3
    rows = math.ceil(len(meta) / cols)
    gap_x, gap_y = 0.06, 0.55 / max(rows, 1) / 1.6
    width = (1 - gap_x * (cols - 1)) / cols
    height = (1 - gap_y * (rows - 1)) / rows
    traces: list[dict] = []
    layout = base_layout(
        170 * rows + 40, margin={"l": 56, "r": 10, "t": 30, "b": 10}, annotations=[]
    )
    for i, m in enumerate(meta):
        r, c = divmod(i, cols)
        ax = "" if i == 0 else str(i + 1)
        x0 = c * (width + gap_x)
        y1 = 1 - r * (height + gap_y)
        layout[f"xaxis{ax}"] = {
            "domain": [x0, x0 + width],
            "anchor": f"y{ax}",
            "type": "category",
            "fixedrange": True,
            "tickangle": 0,
            "nticks": 6,
            "tickfont": {"size": 10},
        }
        yax = {
            "domain": [max(0.0, y1 - height), y1],
            "anchor": f"x{ax}",
            "fixedrange": True,
            "gridcolor": "#eeeeee",
            "tickfont": {"size": 10},
        }
        if value_kind(m.get("unit")) == "percent":
            yax["tickformat"] = ".0%"
        layout[f"yaxis{ax}"] = yax
        layout["annotations"].append(
            {
                "text": f"<b>{_esc(m.get('name') or m['indicator'])}</b>",
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": x0,
                "y": y1 + 0.01,
                "xanchor": "left",
                "yanchor": "bottom",
                "font": {"size": 12},
            }
        )
        sub = View(view.indicator_set, view.period, view.county, str(m["indicator"]))
        # the city beside the county only where the two compare: rates, not counts or sums
        lines = [(view.county, "#0072B2", "solid")]
        if value_kind(m.get("unit")) == "percent":
            lines.append((CITY, "#8C8C8C", "dot"))
        for code, colour, dash in lines:
            s = _trend_series(data, sub, code)
            if s.empty:
                continue
            x = [f"{int(str(mo)[5:7])}月" for mo in s["month"]]
            y = [_float(v) for v in s["value"]]
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "x": x,
                    "y": y,
                    "xaxis": f"x{ax}",
                    "yaxis": f"y{ax}",
                    "line": {"color": colour, "dash": dash, "width": 2},
                    "marker": {"size": 4},
                    "name": data.county_name(code),
                    "text": [format_value(v, m.get("unit"), decimals=m.get("decimals")) for v in y],
                    "hovertemplate": f"{_esc(data.county_name(code))} %{{x}}：%{{text}}"
                    "<extra></extra>",
                }
            )
            if code == view.county and "target" in s and s["target"].notna().any():
                tgt = [_float(v) for v in s["target"]]
                traces.append(
                    {
                        "type": "scatter",
                        "mode": "lines",
                        "x": x,
                        "y": tgt,
                        "xaxis": f"x{ax}",
                        "yaxis": f"y{ax}",
                        "hoverinfo": "skip",
                        "line": {"color": "#D55E00", "dash": "dash", "width": 1.5},
                    }
                )
    return {"data": traces, "layout": layout}
