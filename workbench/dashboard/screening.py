"""The screening part (疑点数据筛查): hits and leads by rule and by county, the monthly trend, and
属实率 per rule so a weak rule shows — `screening.summary.screening_view` written as HTML and a
chart. Shown for a set whose `presentation:` declares `screening: true`, and only when the
warehouse holds screening results."""

from __future__ import annotations

from workbench import fmt
from workbench.dashboard.data import DashboardData, _float, _missing
from workbench.dashboard.markup import _esc, _part, county_link
from workbench.dashboard.style import base_layout, empty_figure
from workbench.dashboard.view import View
from workbench.messages import t
from workbench.presentation import counts as pc
from workbench.presentation import words as pw
from workbench.screening.summary import screening_view


def screening_shown(data: DashboardData, view: View) -> bool:
    """The set declares the part and the warehouse has screening results."""
    return bool(data.presentation_of(view.indicator_set).get("screening")) and bool(
        len(data.screening_counts)
    )


def screening_tables(data: DashboardData, view: View) -> dict:
    """`screening_view` for the view's months (year to date) and county, once per kernel."""
    return data.memo(
        ("screening", view.period, view.county),
        lambda: screening_view(
            data.screening_counts, data.screening_precision, view.period, None, view.county or None
        ),
    )


def rule_sources(data: DashboardData) -> dict[str, str]:
    """Rule code → its cited source (`screening.summary.rule_table`, decided below the faces)."""
    rules = data.screening_rules
    if not len(rules):
        return {}
    return dict(zip(rules["rule_code"].astype(str), rules["source"].fillna("").astype(str)))


def _rate_cell(rate: object, checked: object) -> str:
    """属实率 with a bar; a rule nobody has checked yet says so instead of 0%."""
    r = _float(rate)
    if r is None or not _float(checked):
        return f'<td class="wb-num wb-muted" data-rate="">{_esc(t("dash.scr.unchecked"))}</td>'
    width = max(0.0, min(100.0, r * 100))
    return (
        f'<td class="wb-num" data-rate="{r!r}"><span class="wb-rate">'
        f'<span class="wb-rate-bar" style="width:{width:.1f}%"></span></span>'
        f"{_esc(fmt.percent(r))}</td>"
    )


def screening_html(data: DashboardData, view: View) -> str:
    """Totals, then the rules (hits, leads, amount, checked, 属实率) and the counties."""
    if not screening_shown(data, view):
        return _part("screening", view.key, "")
    tb = screening_tables(data, view)
    tot = tb["totals"].iloc[0]
    unit = data.county_name(view.county)
    lead = t(
        "dash.scr.totals",
        unit=unit,
        span=pc.Window(f"{view.period[:4]}-01", view.period).label,
        hits=fmt.number(tot["hits"]),
        leads=fmt.number(tot["leads"]),
        suppressed=fmt.number(tot["suppressed"]),
        amount=fmt.money(tot["amount"]),
        rules=pw.rules_hit_text(len(tb["by_rule"]), int(tot["rules_hit"]), t("dash.scr.rules")),
    )
    heads = [
        "dash.scr.col.rule",
        "dash.scr.col.hits",
        "dash.scr.col.leads",
        "dash.scr.col.amount",
        "dash.scr.col.checked",
        "dash.scr.col.confirmed",
        "dash.scr.col.rate",
    ]
    sources = rule_sources(data)
    rows = []
    for r in tb["by_rule"].to_dict("records"):
        name = "" if _missing(r["rule_name"]) else str(r["rule_name"])
        src = sources.get(str(r["rule_code"]), "")
        cited = (
            f'<div class="wb-scr-source" data-source>{_esc(t("dash.scr.source", source=src))}</div>'
            if src
            else ""
        )
        rows.append(
            f'<tr data-rule="{_esc(r["rule_code"])}" data-hits="{int(r["hits"])}" '
            f'data-leads="{int(r["leads"])}"><td><b>{_esc(r["rule_code"])}</b> {_esc(name)}'
            f"{cited}</td>"
            f'<td class="wb-num">{_esc(fmt.number(r["hits"]))}</td>'
            f'<td class="wb-num">{_esc(fmt.number(r["leads"]))}</td>'
            f'<td class="wb-num">{_esc(fmt.wan(r["amount"]) if r["leads"] else "—")}</td>'
            f'<td class="wb-num">{_esc(fmt.number(r["checked"]))}</td>'
            f'<td class="wb-num">{_esc(fmt.number(r["confirmed"]))}</td>'
            f"{_rate_cell(r['confirmed_rate'], r['checked'])}</tr>"
        )
    rule_table = (
        '<div class="wb-scroll"><table class="wb-table wb-scr-rules"><thead><tr>'
        + "".join(f"<th>{_esc(t(h))}</th>" for h in heads)
        + f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        + f'<div class="wb-note">{_esc(t("dash.scr.rate_note"))}</div>'
    )
    county_rows = [
        f'<tr data-county="{_esc(r["county_code"])}" data-leads="{int(r["leads"])}">'
        f"<td>{county_link(r['county_code'], data.county_name(r['county_code']), view)}</td>"
        f'<td class="wb-num">{_esc(fmt.number(r["hits"]))}</td>'
        f'<td class="wb-num">{_esc(fmt.number(r["leads"]))}</td>'
        f'<td class="wb-num">{_esc(fmt.wan(r["amount"]))}</td></tr>'
        for r in tb["by_county"].to_dict("records")
    ]
    county_table = (
        (
            '<div class="wb-scroll"><table class="wb-table wb-scr-counties"><thead><tr>'
            + "".join(
                f"<th>{_esc(t(h, **data.words(view.indicator_set)))}</th>"
                for h in (
                    "dash.col.county",
                    "dash.scr.col.hits",
                    "dash.scr.col.leads",
                    "dash.scr.col.amount",
                )
            )
            + f"</tr></thead><tbody>{''.join(county_rows)}</tbody></table></div>"
        )
        if county_rows
        else ""
    )
    body = (
        f'<div class="wb-note" data-scr-totals="{int(tot["leads"])}">{_esc(lead)}</div>'
        f'<div class="wb-scr-grid"><div><h4>{_esc(t("dash.scr.by_rule"))}</h4>{rule_table}</div>'
        f"<div><h4>{_esc(t('dash.scr.by_county'))}</h4>{county_table}</div></div>"
    )
    return _part("screening", view.key, body)


def screening_figure(data: DashboardData, view: View) -> dict:
    """Leads (bars) and settlements hit (line) month by month, year to date."""
    if not screening_shown(data, view):
        return empty_figure(t("dash.scr.none"))
    trend = screening_tables(data, view)["trend"]
    if not len(trend):
        return empty_figure(t("dash.scr.none_yet"))
    x = [fmt.month_label(m) for m in trend["month"]]
    leads = [int(v) for v in trend["leads"]]
    hits = [int(v) for v in trend["hits"]]
    traces = [
        {
            "type": "bar",
            "name": t("dash.scr.col.leads"),
            "x": x,
            "y": leads,
            "marker": {"color": "#0072B2"},
            "text": [fmt.number(v) for v in leads],
            "textposition": "auto",
            "hovertemplate": "%{x} " + t("dash.scr.col.leads") + "：%{text}<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": t("dash.scr.col.hits"),
            "x": x,
            "y": hits,
            "line": {"color": "#D55E00", "width": 2},
            "text": [fmt.number(v) for v in hits],
            "hovertemplate": "%{x} " + t("dash.scr.col.hits") + "：%{text}<extra></extra>",
        },
    ]
    layout = base_layout(
        220,
        showlegend=True,
        legend={"orientation": "h", "y": 1.15, "x": 0},
        xaxis={"type": "category", "fixedrange": True},
        yaxis={"gridcolor": "#eeeeee", "fixedrange": True, "rangemode": "tozero"},
        margin={"l": 48, "r": 10, "t": 30, "b": 30},
    )
    return {"data": traces, "layout": layout}
