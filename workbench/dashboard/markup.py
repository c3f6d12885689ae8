"""Glue between the presentation layer and the dashboard's HTML: texts, displays, part wrappers.

Values are formatted by `workbench.fmt` and statuses decided by `workbench.presentation.kpis`;
this module only adapts the cockpit's indicator table to them and escapes what goes into HTML.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from workbench import fmt
from workbench.dashboard.data import DashboardData, _float, _missing
from workbench.dashboard.view import INDEX, View
from workbench.messages import t
from workbench.presentation import counts as pc
from workbench.presentation import kpis as pk


def value_kind(unit: object) -> str:
    """`percent`, `money` or `number`, from an indicator's declared unit."""
    u = str(unit or "").strip().lower()
    if u in ("%", "percent", "ratio", "share", "rate", "百分比", "比例", "change", "pct"):
        return "percent"
    if u in ("元", "yuan", "万元", "money", "金额"):
        return "money"
    return "number"


def span_text(span: str, period: str) -> str:
    """The months a value covers as the documents write them (2025年1—12月: `pc.Window.label`),
    or the span's name (年初至今, 活动开始至今 …) where the months need the campaign calendar or
    the period is not a month."""
    window = pc.span_window(span, period)
    return window.label if window is not None else t(f"ind.span.{span}")


def format_value(value: object, unit: object, signed: bool = False, decimals: object = None) -> str:
    """An indicator value as every face writes it (`fmt.value_text`)."""
    return fmt.value_text(value, unit, decimals, signed)


def format_target(target: object, unit: object, op: object, decimals: object = None) -> str:
    """`≥90.0%`; `op` is the target's comparison (`>=`, `<=` …) or, failing that, the
    indicator's direction (−1: lower is better)."""
    if str(op) not in fmt.OP_SIGNS:
        op = "<=" if (_float(op) or 1.0) < 0 else ">="
    return fmt.target_text(op, target, unit, decimals)


def display(meta: Mapping[str, Any]) -> pk.Display:
    """The presentation layer's view of an indicator from the cockpit's indicator table."""
    dec = meta.get("decimals")
    return pk.Display(
        name=str(meta.get("name") or meta.get("indicator")),
        short_name=str(meta.get("short_name") or meta.get("name") or meta.get("indicator")),
        unit="" if _missing(meta.get("unit")) else str(meta.get("unit")),
        decimals=None if _missing(dec) else int(dec),
        op="" if _missing(meta.get("op")) else str(meta.get("op") or ""),
        relative=bool(meta.get("relative")) if not _missing(meta.get("relative")) else False,
        kind="" if _missing(meta.get("kind")) else str(meta.get("kind")),
        deadline=None if _missing(meta.get("deadline")) else str(meta.get("deadline")),
        min_baseline=_float(meta.get("min_baseline")),
    )


STATUS_LIGHTS = {
    pk.MET: "met",
    pk.AT_RISK: "risk",
    pk.NOT_MET: "miss",
    pk.NO_TARGET: "none",
    pk.BASELINE_INSUFFICIENT: "none",
    pk.NO_DATA: "none",
}


def _esc(x: object) -> str:
    return html.escape("" if _missing(x) else str(x), quote=True)


def county_href(code: str, view: View | None = None) -> str:
    """The county page of `code`, carrying the view's set, month, index and indicator."""
    if view is None:
        return f"county.ipynb?county={quote(str(code))}"
    return f"county.ipynb?{view.query(county=str(code))}"


def cockpit_href(view: View) -> str:
    """The cockpit showing `view` (the county page's way back keeps set, month, index, indicator
    and the county it came from)."""
    return f"cockpit.ipynb?{view.query()}"


def county_link(code: str, label: str | None = None, view: View | None = None) -> str:
    """A link that opens a county's drill-down page in Voilà (relative to the cockpit), in the
    context of `view`."""
    href = county_href(code, view)
    return (
        f'<a href="{_esc(href)}" target="_self" data-county="{_esc(code)}">'
        f"{_esc(label or code)}</a>"
    )


def _part(name: str, key: str, body: str, cls: str = "") -> str:
    return (
        f'<div class="wb-part {cls}" data-part="{_esc(name)}" data-key="{_esc(key)}">{body}</div>'
    )


EXPORT_FORMATS = {"xlsx": "dash.export.xlsx", "csv": "dash.export.csv", "png": "dash.export.png"}


def export_buttons(part: str, formats: str = "xlsx csv") -> str:
    """The download buttons of a part (Excel, CSV, picture); the board sends the click to the
    page, which answers with the file."""
    if not part:
        return ""
    buttons = "".join(
        f'<button type="button" data-format="{f}" title="{_esc(t(EXPORT_FORMATS[f] + "_tip"))}">'
        f"{_esc(t(EXPORT_FORMATS[f]))}</button>"
        for f in formats.split()
    )
    return f'<span class="wb-export" data-export="{_esc(part)}">{buttons}</span>'


def worded(key: str, words: Mapping[str, str], **args: object) -> str:
    """A text of a page's skeleton that carries the set's words ({noun}, {whole}:
    `DashboardData.words`), marked so the page's `words` part can rewrite it when another set
    is picked (`_Page.words_part`; the board swaps the text, the page decides it)."""
    return f'<span data-words="{_esc(key)}">{_esc(t(key, **args, **words))}</span>'


def panel_title(
    key: str,
    note: str = "",
    export: str = "",
    formats: str = "xlsx csv",
    words: Mapping[str, str] | None = None,
    note_html: str = "",
) -> str:
    """A panel's heading; with `words` (the set's) its text follows the set picked (`worded`).
    `note_html` is a note already marked up (e.g. `worded`)."""
    text = worded(key, words) if words is not None else _esc(t(key))
    small = f"<small>{note_html or _esc(note)}</small>" if (note or note_html) else ""
    return f"<h3>{text}{small}{export_buttons(export, formats)}</h3>"


def focus_meta(data: DashboardData, view: View) -> dict:
    if view.focus == INDEX:
        return {"name": t("dash.focus.index"), "unit": "score", "direction": 1}
    for s in [view.indicator_set, *(s for s in data.indicator_sets if s != view.indicator_set)]:
        hit = [m for m in data.meta_records(s) if m["indicator"] == view.focus]
        if hit:
            return hit[0]
    return {"name": view.focus, "unit": "", "direction": 1}
