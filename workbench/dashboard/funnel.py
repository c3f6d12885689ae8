"""The enforcement funnel (线索 → 立案 → 结案 → 追回 → 整改) and the rectification bar.

What they show is declared per indicator set (`presentation:` `funnel`, `recovery`,
`rectification`); a set that declares none has neither. The funnel draws the presentation
layer's cohort counts (one batch of leads and cases and what became of them, so no stage is
wider than the one before) with the sentence saying what was counted; the rectification bar
reads the declared indicator's KPI row, so it agrees with its card.
"""

from __future__ import annotations

from workbench import fmt
from workbench.dashboard.data import DashboardData, _float
from workbench.dashboard.markup import _esc, _part, focus_meta, format_target
from workbench.dashboard.style import (
    FUNNEL_COLOURS,
    RECOVERED_COLOUR,
    _ink,
    _label_width,
    base_layout,
    empty_figure,
)
from workbench.dashboard.view import View
from workbench.messages import t
from workbench.presentation import funnel as pfunnel


def funnel_stages(data: DashboardData, view: View) -> list[dict]:
    """The declared stages with 追回 in its place, as [{stage, label, count, text}] for the
    county (or city), counted as one cohort by the presentation layer
    (`presentation.funnel.cohort_counts`): the leads and cases found in the window and what
    became of them, so no bar is wider than the one above it.

    追回's width is the cases recovered in full (those its count gives; else the stage above ×
    the cohort's recovery rate, the share of the money due that came back), its label the rate,
    its tooltip the amounts."""
    shows = data.presentation_of(view.indicator_set)
    if not shows["funnel"]:
        return []
    rows = data.records("funnel", view.indicator_set, view.period, view.county)
    stages: list[dict] = []
    for r in rows:
        if str(r["stage"]) == pfunnel.RECOVERY:
            if stages and shows["recovery"]:
                bar = _recovery_bar(data, view, r, stages[-1], shows["recovery"])
                if bar is not None:
                    stages.append(bar)
            continue
        n = _float(r["count"])
        if n is not None:
            stages.append(
                {
                    "stage": str(r["stage"]),
                    "label": str(r["label"]),
                    "count": n,
                    "text": t("dash.funnel.count", n=fmt.number(n)),
                }
            )
    return stages


def _recovery_bar(
    data: DashboardData, view: View, r: dict, last: dict, indicator: str
) -> dict | None:
    got, due = _float(r["amount_recovered"]), _float(r["amount_due"])
    rate = got / due if got is not None and due else None
    if rate is None:
        return None
    name = focus_meta(data, _focus(view, indicator)).get("name")
    full = _float(r.get("count"))
    money = {"rate": fmt.percent(rate), "recovered": fmt.money(got), "due": fmt.money(due)}
    if full is None:
        count = last["count"] * min(max(rate, 0.0), 1.0)
        text = t("dash.funnel.recovered_text", rate=fmt.percent(rate))
        hover = t("dash.funnel.recovered_hover", name=name, stage=last["label"], **money)
    else:
        count = full
        text = t("dash.funnel.recovered_full_text", n=fmt.number(full), rate=fmt.percent(rate))
        hover = t(
            "dash.funnel.recovered_full_hover",
            name=name,
            stage=last["label"],
            n=fmt.number(full),
            **money,
        )
    return {
        "stage": pfunnel.RECOVERY,
        "recovery": True,
        "label": t("dash.funnel.recovered"),
        "count": count,
        "text": text,
        "hover": hover,
    }


def funnel_caption(data: DashboardData, view: View) -> str:
    """What the funnel counts (the cohort and its window), from the presentation layer."""
    rows = data.records("funnel", view.indicator_set, view.period, view.county)
    if not rows:
        return ""
    return pfunnel.caption(rows[0]["window_start"], rows[0]["window_end"], rows)


def _focus(view: View, indicator: str) -> View:
    return View(view.indicator_set, view.period, view.county, indicator, view.hierarchy)


def funnel_title_html(data: DashboardData, view: View) -> str:
    """The funnel panel's heading: its stages in order (线索 → 立案 → 结案 → 追回 → 整改)."""
    shows = data.presentation_of(view.indicator_set)
    rows = data.records("funnel", view.indicator_set, view.period, view.county)
    labels = [str(r["label"]) for r in rows if shows["recovery"] or r["stage"] != pfunnel.RECOVERY]
    if not rows:  # no counts yet: the declared stages, 追回 after them
        labels = [st["label"] for st in shows["funnel"]]
        if labels and shows["recovery"]:
            labels.append(t("dash.funnel.recovered"))
    caption = funnel_caption(data, view)
    note = f'<div class="wb-note wb-funnel-note">{_esc(caption)}</div>' if caption else ""
    return _part("funnel_title", view.key, f"<h3>{_esc(' → '.join(labels))}</h3>{note}")


def funnel_figure(data: DashboardData, view: View) -> dict:
    """The enforcement funnel for the view's county (or the city)."""
    stages = funnel_stages(data, view)
    if not stages:
        return empty_figure(t("dash.empty.funnel"))
    colours = [
        RECOVERED_COLOUR if s.get("recovery") else FUNNEL_COLOURS[min(i, len(FUNNEL_COLOURS) - 1)]
        for i, s in enumerate(stages)
    ]
    trace = {
        "type": "funnel",
        "y": [s["label"] for s in stages],
        "x": [s["count"] for s in stages],
        "text": [s["text"] for s in stages],
        "customdata": [s.get("hover", s["text"]) for s in stages],
        "textinfo": "text",
        # a stage too narrow for its words (全额追回 12 件 beside 线索 4,588) shows them beside it
        "textposition": "auto",
        "marker": {"color": colours},
        "connector": {"fillcolor": "#e3e9f0"},
        "hovertemplate": "%{y}：%{customdata}<extra></extra>",
        "insidetextfont": {"color": [_ink(c) for c in colours], "size": 13},
        "outsidetextfont": {"color": "#111111", "size": 13},
    }
    layout = base_layout(
        230,
        yaxis={"fixedrange": True},
        xaxis={"fixedrange": True},
        margin={"l": _label_width(trace["y"], 13), "r": 10, "t": 5, "b": 5},
    )
    return {"data": [trace], "layout": layout}


def rectification_figure(data: DashboardData, view: View) -> dict:
    """Rectification items due so far: 已销号 against 未销号, with the declared completion
    indicator (`presentation: rectification:`) and its target."""
    indicator = data.presentation_of(view.indicator_set)["rectification"]
    if not indicator:
        return empty_figure(t("dash.empty.rectification"))
    row = data.kpi(indicator, view.period, view.county, view.indicator_set)
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
    meta = focus_meta(data, _focus(view, indicator))
    title = t(
        "dash.rect.summary",
        name=meta.get("name"),
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
