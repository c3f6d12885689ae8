"""The enforcement funnel (线索 → 立案 → 结案 → 追回) and the rectification progress bar.

Both read the engine's KPI rows, so they agree with the KPI cards by construction.
"""

from __future__ import annotations

import dataclasses

from workbench import fmt
from workbench.dashboard.data import DashboardData, _float
from workbench.dashboard.markup import _esc, focus_meta, format_target
from workbench.dashboard.style import _label_width, base_layout, empty_figure
from workbench.dashboard.view import View
from workbench.messages import t


# Where the funnel and the rectification bar read their numbers: (indicator, part) in the engine's
# KPI rows, so they agree with the KPI cards by construction. Indicator codes are the ones
# declared in indicators/campaign_2025.yaml; a stage whose indicator is absent is left out.
FUNNEL_SOURCES: dict[str, tuple[str, str]] = {
    "leads": ("case_detection_rate", "denominator"),
    "filed": ("case_count", "numerator"),
    "closed": ("case_detection_rate", "numerator"),
}
RECOVERY_SOURCE = "fund_recovery_rate"
RECTIFICATION_SOURCE = "rectification_completion"


def funnel_stages(data: DashboardData, view: View) -> list[dict]:
    """线索 → 立案 → 结案 → 追回 as [{stage, count, text}] for the county (or city).

    The first three are counts. 追回 is money: its width is 结案 × 基金追回率, i.e. the share of
    the money due that came back, drawn on the same scale, and its label gives the amounts."""
    stages = []
    for stage, (indicator, col) in FUNNEL_SOURCES.items():
        row = data.kpi(indicator, view.period, view.county, view.indicator_set)
        n = _float(row.get(col))
        if n is not None:
            stages.append(
                {"stage": stage, "count": n, "text": t("dash.funnel.count", n=fmt.number(n))}
            )
    rec = data.kpi(RECOVERY_SOURCE, view.period, view.county, view.indicator_set)
    rate = _float(rec.get("value"))
    closed = next((s["count"] for s in stages if s["stage"] == "closed"), None)
    if rate is not None and closed is not None:
        stages.append(
            {
                "stage": "recovered",
                "count": closed * rate,
                "text": t("dash.funnel.recovered_text", rate=fmt.percent(rate)),
                "hover": t(
                    "dash.funnel.recovered_hover",
                    rate=fmt.percent(rate),
                    recovered=fmt.money(rec.get("numerator")),
                    due=fmt.money(rec.get("denominator")),
                ),
            }
        )
    return stages


def funnel_figure(data: DashboardData, view: View) -> dict:
    """The enforcement funnel for the view's county (or the city)."""
    stages = funnel_stages(data, view)
    if not stages:
        return empty_figure(t("dash.empty.funnel"))
    colours = {"leads": "#0b3a66", "filed": "#0072B2", "closed": "#56B4E9", "recovered": "#009E73"}
    trace = {
        "type": "funnel",
        "y": [t(f"dash.funnel.{s['stage']}") for s in stages],
        "x": [s["count"] for s in stages],
        "text": [s["text"] for s in stages],
        "customdata": [s.get("hover", s["text"]) for s in stages],
        "textinfo": "text",
        "textposition": "inside",
        "marker": {"color": [colours[s["stage"]] for s in stages]},
        "connector": {"fillcolor": "#e3e9f0"},
        "hovertemplate": "%{y}：%{customdata}<extra></extra>",
        "textfont": {"color": "#ffffff", "size": 13},
    }
    layout = base_layout(
        230,
        yaxis={"fixedrange": True},
        xaxis={"fixedrange": True},
        margin={"l": _label_width(trace["y"], 13), "r": 10, "t": 5, "b": 5},
    )
    return {"data": [trace], "layout": layout}


def rectification_figure(data: DashboardData, view: View) -> dict:
    """Rectification items due so far: 已销号 against 未销号, with completion and its target."""
    row = data.kpi(RECTIFICATION_SOURCE, view.period, view.county, view.indicator_set)
    done, due = _float(row.get("numerator")), _float(row.get("denominator"))
    if due is None or done is None:
        return empty_figure(t("dash.empty.rectification"))
    open_items = max(due - done, 0.0)
    traces = []
    for label, n, colour, ink in (
        (t("dash.rect.closed"), done, "#0072B2", "#ffffff"),
        (t("dash.rect.open"), open_items, "#E69F00", "#111111"),
    ):
        share = n / due if due else None
        text = f"{label} {fmt.number(n)}（{fmt.percent(share)}）"
        traces.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": text,
                "y": [t("dash.rect.items")],
                "x": [n],
                "marker": {"color": colour},
                "text": [text if share is not None and share >= 0.2 else ""],
                "textposition": "inside",
                "insidetextanchor": "middle",
                "textangle": 0,
                "textfont": {"color": ink},
                "hovertemplate": f"{_esc(text)}<extra></extra>",
            }
        )
    meta = focus_meta(data, dataclasses.replace(view, focus=RECTIFICATION_SOURCE))
    title = t(
        "dash.rect.summary",
        value=fmt.percent(row.get("value")),
        target=format_target(row.get("target"), "%", meta.get("op") or 1),
        deadline=fmt.date_label(meta.get("deadline")) if meta.get("deadline") else "—",
    )
    layout = base_layout(
        150,
        barmode="stack",
        showlegend=True,
        legend={"orientation": "h", "x": 0, "y": -0.05, "yanchor": "top"},
        xaxis={"fixedrange": True, "visible": False},
        yaxis={"visible": False, "fixedrange": True},
        annotations=[
            {
                "text": _esc(title),
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": 0,
                "y": 1.0,
                "xanchor": "left",
                "yanchor": "bottom",
                "font": {"size": 13},
            }
        ],
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    return {"data": traces, "layout": layout}
