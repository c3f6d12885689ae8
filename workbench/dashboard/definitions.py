"""The cards' 指标说明 and the index's 评分方法 panels: `presentation.definitions` texts (the ones
the 通报's attachment prints) written for one card's county and month.

A panel is a `<details>` element: it opens with a click, Enter or Space on its ⓘ button (the
browser makes a `<summary>` a keyboard control), closes the same way or with Escape (board.js),
and prints closed. Nothing here formats a number: the texts come whole from the presentation
layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench.dashboard.data import DashboardData
from workbench.dashboard.markup import _esc
from workbench.messages import t
from workbench.presentation import definitions as pdef
from workbench.presentation import ranks


def indicator_facts(data: DashboardData, indicator_set: str, code: str) -> dict | None:
    """The declared definition of `code` (`presentation.definitions.facts`), from the set
    shown, else from the set that declares it."""
    for s in [indicator_set, *(x for x in data.indicator_sets if x != indicator_set)]:
        for f in data.records("definitions", s):
            if str(f["indicator"]) == code:
                return f
    return None


def card_definition(
    data: DashboardData,
    indicator_set: str,
    code: str,
    period: str,
    kpi: Mapping[str, Any],
    shown: Mapping[str, Any],
    whole: bool = False,
) -> dict[str, Any] | None:
    """`presentation.definitions.texts` for one card: this county's and month's numerator,
    denominator, target and how a relative target was derived."""
    facts = indicator_facts(data, indicator_set, code)
    if facts is None:
        return None
    row = {
        "numerator": kpi.get("numerator"),
        "denominator": kpi.get("denominator"),
        "target": kpi.get("target"),
        "period": period,
        "value_text": shown.get("value_text"),
        "target_text": shown.get("target_text"),
        "whole": whole,  # the city's card: its figures' units are the whole's (区县·月)
    }
    return pdef.texts(facts, row)


def _details(key: str, label: str, title: str, body: str, cls: str = "", button: str = "") -> str:
    """A panel behind a button: an ⓘ (its name in `aria-label`), or `button` as its text."""
    face = (
        f'<span class="wb-def-text">{_esc(button)}</span>'
        if button
        else '<span class="wb-def-i" aria-hidden="true">i</span>'
    )
    return (
        f'<details class="wb-def {cls}" data-def="{_esc(key)}">'
        f'<summary class="wb-def-open" title="{_esc(label)}" aria-label="{_esc(label)}">'
        f"{face}</summary>"
        f'<div class="wb-def-body" role="note"><h4>{_esc(title)}</h4>{body}</div></details>'
    )


def _dl(items: list[tuple[str, str, str]]) -> str:
    return (
        '<dl class="wb-def-list">'
        + "".join(
            f'<dt>{_esc(t(label))}</dt><dd data-def-field="{field}">{_esc(text)}</dd>'
            for label, field, text in items
            if text
        )
        + "</dl>"
    )


def card_info_html(texts: Mapping[str, Any], scope: str) -> str:
    """A card's 指标说明: formula in words, this period's numerator and denominator with their
    units, value, target and the document it comes from, and a relative target's derivation."""
    items = [
        ("dash.def.formula", "formula", str(texts.get("formula_tagged") or "")),
        ("dash.def.numerator", "numerator", str(texts.get("numerator_text") or "")),
        ("dash.def.denominator", "denominator", str(texts.get("denominator_text") or "")),
        ("dash.def.value", "value", str(texts.get("value_text") or "")),
        ("dash.def.target", "target", str(texts.get("target_text") or "")),
        ("dash.def.source", "source", str(texts.get("target_source") or "")),
        ("dash.def.derivation", "derivation", str(texts.get("derivation") or "")),
    ]
    body = _dl(items) + f'<div class="wb-def-scope">{_esc(scope)}</div>'
    name = str(texts.get("name") or texts.get("indicator"))
    return _details(
        str(texts.get("indicator")), t("dash.def.open", name=name), name, body, "wb-def-card"
    )


def method_info_html(data: DashboardData, hierarchy: str | None) -> str:
    """The index's 评分方法: method, normalisation, aggregation, weights and dimensions (the
    通报's words), and what a rank interval means."""
    if not hierarchy:
        return ""
    rows = (
        [m for m in data.methods.to_dict("records") if str(m.get("hierarchy")) == str(hierarchy)]
        if len(data.methods)
        else []
    )
    paras = []
    if rows:
        paras.append(f'<p data-def-field="method">{_esc(pdef.method_sentence(rows[0]))}</p>')
    paras.append(f'<p data-def-field="interval">{_esc(ranks.interval_explanation())}</p>')
    title = t("dash.def.method_title", name=data.hierarchies.get(hierarchy, hierarchy))
    return _details(
        f"method:{hierarchy}",
        title,
        title,
        "".join(paras),
        "wb-def-method",
        t("dash.def.method_button"),
    )
