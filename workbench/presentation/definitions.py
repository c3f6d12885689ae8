"""Each KPI's working definition, disclosed: the formula in words, this period's numerator and
denominator, the target and the document it comes from, how a relative target was derived, the
composite's method and weights, and what a rank interval means. Every face that explains a
number (the 通报's attachment, county reports, cockpit tooltips) reads these texts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from workbench import fmt
from workbench.messages import t

DEFINITION_COLUMNS = [
    "indicator",
    "name",
    "group",
    "formula",
    "numerator_text",
    "denominator_text",
    "value_text",
    "target_text",
    "target_source",
    "derivation",
    "workbench_definition",
]


def _measure_names(iset: Any, codes: tuple[str, ...]) -> str:
    names = [getattr(iset.measures.get(c), "name", "") or c for c in codes]
    return "＋".join(names)


def _measure_unit(iset: Any, codes: tuple[str, ...]) -> str:
    units = {getattr(iset.measures.get(c), "unit", "") or "" for c in codes}
    return units.pop() if len(units) == 1 else ""


def _amount(value: object, unit: str) -> str:
    return fmt.value_text(value, unit or "", 0 if not unit else None)


def derivation(iset: Any, code: str, row: Mapping[str, Any]) -> str:
    """How a relative target's value was reached: base-year value × (1 + rise)."""
    ind = iset.indicators[code]
    tg = ind.target
    if tg is None or not tg.is_relative:
        return ""
    target = fmt.finite(row.get("target"))
    if target is None:
        return t("defs.relative_no_base", rise=fmt.value_text(tg.relative, "%"))
    base = target / (1.0 + float(tg.relative))
    year = (
        tg.baseline.year
        if tg.baseline is not None and tg.baseline.year
        else int(str(row.get("period"))[:4]) - 1
    )
    return t(
        "defs.relative",
        year=year,
        base=fmt.value_text(base, ind.unit, getattr(ind, "decimals", None)),
        rise=fmt.value_text(tg.relative, "%"),
        target=fmt.value_text(target, ind.unit, getattr(ind, "decimals", None)),
    )


def definitions(iset: Any, city_kpis: pd.DataFrame) -> pd.DataFrame:
    """One row per indicator of the set, in declaration order, from the city's presented KPI
    rows (engine columns plus `value_text`, `target_text`). Columns: DEFINITION_COLUMNS."""
    rows = []
    by_code = {str(r["indicator"]): r for r in city_kpis.to_dict("records")}
    for code, ind in iset.indicators.items():
        r = by_code.get(code, {})
        num_unit = _measure_unit(iset, ind.numerator)
        den_unit = _measure_unit(iset, ind.denominator)
        if ind.type == "change":
            of = iset.indicators.get(ind.of)
            num_text = t("defs.change_now", name=getattr(of, "name", ind.of))
            den_text = t("defs.change_base", name=getattr(of, "name", ind.of))
        else:
            num_text = (
                t(
                    "defs.part",
                    what=_measure_names(iset, ind.numerator),
                    value=_amount(r.get("numerator"), num_unit),
                )
                if ind.numerator
                else "—"
            )
            den_text = (
                t(
                    "defs.part",
                    what=_measure_names(iset, ind.denominator),
                    value=_amount(r.get("denominator"), den_unit),
                )
                if ind.denominator
                else "—"
            )
        tg = ind.target
        rows.append(
            {
                "indicator": code,
                "name": ind.name,
                "group": getattr(ind, "group", "") or "",
                "formula": " ".join(str(ind.description or "").split()),
                "numerator_text": num_text,
                "denominator_text": den_text,
                "value_text": str(r.get("value_text") or "—"),
                "target_text": str(r.get("target_text") or "—") if tg is not None else "—",
                "target_source": (tg.source if tg is not None else "") or t("defs.no_target"),
                "derivation": derivation(iset, code, r) if r else "",
                "workbench_definition": bool(ind.workbench_definition),
            }
        )
    return pd.DataFrame(rows, columns=DEFINITION_COLUMNS)


def method_text(iset: Any, hierarchy: str) -> dict[str, str]:
    """The composite's method in words: name, description (the YAML's own), normaliser,
    aggregator, imputation and weights, and the dimensions with their indicators."""
    decl = iset.hierarchies[hierarchy]
    m = decl.method

    def label(kind: str, key: str) -> str:
        text = t(f"composite.method.{key}")
        return key if text.startswith("composite.method.") else text

    dims = []
    for node in decl.nodes:
        if node.indicator is None and node.parent is not None:
            kids = [
                iset.indicators[n.indicator].name
                for n in decl.nodes
                if n.parent == node.code and n.indicator in iset.indicators
            ]
            dims.append(t("defs.dimension", name=node.name, members="、".join(kids)))
    return {
        "name": decl.name,
        "description": " ".join(str(decl.description or "").split()),
        "normalise": label("normalise", m.normalise),
        "aggregate": label("aggregate", m.aggregate)
        if isinstance(m.aggregate, str)
        else "、".join(dict.fromkeys(label("aggregate", v) for v in m.aggregate.values())),
        "weights": t(f"defs.weights.{decl.weights}")
        if not t(f"defs.weights.{decl.weights}").startswith("defs.")
        else str(decl.weights),
        "dimensions": "；".join(dims),
    }
