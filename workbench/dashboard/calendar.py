"""The campaign calendar: phases as a bar (the current one highlighted) and milestones."""

from __future__ import annotations

import pandas as pd

from workbench import fmt
from workbench.dashboard.data import DashboardData, _missing
from workbench.dashboard.markup import _esc, _part
from workbench.dashboard.style import MILESTONE_LIGHTS, STATUS_ICONS
from workbench.dashboard.view import View
from workbench.messages import t


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
        span = (
            fmt.month_label(start)
            if start == end
            else f"{fmt.month_label(start)}–{int(end[5:7])}月"
        )
        bar.append(
            f'<div class="wb-cal-phase {cls}" style="flex:{months}" '
            f'title="{_esc(r["name"])} {_esc(span)}">{_esc(r["name"])}'
            f"<small>{_esc(span)}</small></div>"
        )
    head = t("dash.calendar.current", phase=cur) if cur else t("dash.calendar.outside")
    ms = data.first_part("milestones", view.indicator_set, view.period, view.county)
    items = []
    for r in sorted(ms, key=lambda r: str(r.get("deadline") or "")):
        st = MILESTONE_LIGHTS.get(str(r.get("status") or ""), "none")
        label = r.get("status_label") if not _missing(r.get("status_label")) else None
        label = label or t("dash.milestone." + str(r.get("status") or "none"))
        has_detail = not _missing(r.get("detail")) and r.get("detail")
        detail = f" · {_esc(r['detail'])}" if has_detail else ""
        deadline = t("dash.calendar.deadline", date=fmt.date_label(r.get("deadline")))
        items.append(
            f'<li data-milestone="{_esc(r.get("milestone"))}" '
            f'data-status="{_esc(r.get("status"))}">'
            f'<span class="wb-icon wb-st-{st}">{STATUS_ICONS[st]}</span>{_esc(r.get("name"))}'
            f'<span class="wb-ms-date">{_esc(deadline)} · {_esc(label)}{detail}</span></li>'
        )
    if not items:
        items.append(f'<li class="wb-empty">{_esc(t("dash.empty.milestones"))}</li>')
    body = (
        f'<div class="wb-note">{_esc(head)}</div><div class="wb-cal-bar">{"".join(bar)}</div>'
        f'<ul class="wb-milestones">{"".join(items)}</ul>'
    )
    return _part("calendar", view.key, body)
