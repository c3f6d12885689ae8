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
from workbench.presentation.citations import cite, target_source
from workbench.presentation.words import name_list

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
    "formula_label",
    "formula_tagged",
]


def _measure_names(iset: Any, codes: tuple[str, ...]) -> str:
    names = [getattr(iset.measures.get(c), "name", "") or c for c in codes]
    return "＋".join(names)


def _measure_unit(iset: Any, codes: tuple[str, ...], whole: bool = False) -> str:
    """The measures' common unit ('' when they differ); `whole`: the whole's (`city_unit`,
    e.g. 区县·月 for months summed over the counties), else the same."""
    units = {
        (getattr(m, "city_unit", "") if whole else "") or getattr(m, "unit", "") or ""
        for m in (iset.measures.get(c) for c in codes)
    }
    return units.pop() if len(units) == 1 else ""


CITY_ROW = "city"  # the engine's county code of the whole's rows


def _amount(value: object, unit: str) -> str:
    return fmt.value_text(value, unit or "", 0 if not unit else None)


FACT_COLUMNS = [
    "indicator",
    "name",
    "group",
    "formula",
    "kind",
    "unit",
    "decimals",
    "numerator_what",
    "numerator_unit",
    "denominator_what",
    "denominator_unit",
    "numerator_city_unit",
    "denominator_city_unit",
    "of_name",
    "has_target",
    "target_source",
    "relative_rise",
    "baseline_year",
    "relative_cap",
    "workbench_definition",
]


def facts(iset: Any) -> pd.DataFrame:
    """What a set declares about each indicator's definition, as plain values (one row per
    indicator, declaration order; FACT_COLUMNS): the part of a definition that does not change
    with the period or the county. A face that keeps no IndicatorSet (the cockpit's cached
    tables) stores these and writes the texts with `texts`, as the 通报 does."""
    rows = []
    docs = getattr(iset, "documents", None)
    for code, ind in iset.indicators.items():
        tg = ind.target
        of = iset.indicators.get(ind.of) if ind.type == "change" else None
        relative = tg is not None and tg.is_relative
        rows.append(
            {
                "indicator": code,
                "name": ind.name,
                "group": getattr(ind, "group", "") or "",
                "formula": cite(" ".join(str(ind.description or "").split()), docs),
                "kind": str(ind.type),
                "unit": ind.unit or "",
                "decimals": getattr(ind, "decimals", None),
                "numerator_what": _measure_names(iset, ind.numerator) if ind.numerator else "",
                "numerator_unit": _measure_unit(iset, ind.numerator),
                "denominator_what": _measure_names(iset, ind.denominator)
                if ind.denominator
                else "",
                "denominator_unit": _measure_unit(iset, ind.denominator),
                "numerator_city_unit": _measure_unit(iset, ind.numerator, whole=True),
                "denominator_city_unit": _measure_unit(iset, ind.denominator, whole=True),
                "of_name": (getattr(of, "name", ind.of) or "") if ind.type == "change" else "",
                "has_target": tg is not None,
                "target_source": target_source(tg.source if tg is not None else "", docs)
                or t("defs.no_target"),
                "relative_rise": float(tg.relative) if relative else None,
                "baseline_year": tg.baseline.year
                if relative and tg.baseline is not None and tg.baseline.year
                else None,
                # the declared upper bound a relative target is kept under (indicators.py)
                "relative_cap": ind.bounds[1]
                if relative and ind.bounds is not None and ind.bounds[1] is not None
                else None,
                "workbench_definition": bool(ind.workbench_definition),
            }
        )
    return pd.DataFrame(rows, columns=FACT_COLUMNS)


def _decimals(v: object) -> int | None:
    f = fmt.finite(v)
    return None if f is None else int(f)


def derivation_text(fact: Mapping[str, Any], row: Mapping[str, Any]) -> str:
    """How a relative target's value was reached: base-year value × (1 + rise); `row` gives
    this period's `target` and `period`."""
    rise = fmt.finite(fact.get("relative_rise"))
    if rise is None:
        return ""
    target = fmt.finite(row.get("target"))
    if target is None:
        return t("defs.relative_no_base", rise=fmt.value_text(rise, "%"))
    year = fmt.finite(fact.get("baseline_year"))
    year = int(year) if year is not None else int(str(row.get("period"))[:4]) - 1
    unit, dec = str(fact.get("unit") or ""), _decimals(fact.get("decimals"))
    cap = fmt.finite(fact.get("relative_cap"))
    if cap is not None and target >= cap - 1e-12:  # the rise would pass what can be reached
        return t(
            "defs.relative_capped",
            year=year,
            rise=fmt.value_text(rise, "%"),
            target=fmt.value_text(target, unit, dec),
        )
    return t(
        "defs.relative",
        year=year,
        base=fmt.value_text(target / (1.0 + rise), unit, dec),
        rise=fmt.value_text(rise, "%"),
        target=fmt.value_text(target, unit, dec),
    )


def target_rule_text(fact: Mapping[str, Any]) -> str:
    """A relative target as the rule every unit is held to (「2024年同期×（1＋20%）」), for a table
    whose rows each have their own target; "" for a target that is one value for all."""
    rise = fmt.finite(fact.get("relative_rise"))
    if rise is None:
        return ""
    pct = fmt.rule_percent(rise)
    year = fmt.finite(fact.get("baseline_year"))
    rule = (
        t("defs.rule_previous", rise=pct)
        if year is None
        else t("defs.rule", year=int(year), rise=pct)
    )
    cap = fmt.finite(fact.get("relative_cap"))  # the declared bound the target stays within
    if cap is None:
        return rule
    unit = str(fact.get("unit") or "")
    return t(
        "defs.rule_capped", rule=rule, cap=fmt.value_text(cap, unit, 0 if unit == "%" else None)
    )


def texts(fact: Mapping[str, Any], row: Mapping[str, Any]) -> dict[str, Any]:
    """One indicator's definition for one county and period: `fact` (a `facts` row) with the
    KPI row's numbers (`numerator`, `denominator`, `target`, `period`, and the presented
    `value_text`, `target_text`). Keys: DEFINITION_COLUMNS."""
    if fact.get("kind") == "change":
        num_text = t("defs.change_now", name=fact.get("of_name"))
        den_text = t("defs.change_base", name=fact.get("of_name"))
    else:
        whole = bool(row.get("whole")) or row.get("county_code") == CITY_ROW
        unit = "_city_unit" if whole else "_unit"
        num_text, den_text = (
            t(
                "defs.part",
                what=fact[f"{part}_what"],
                value=_amount(
                    row.get(part),
                    str(fact.get(f"{part}{unit}") or fact.get(f"{part}_unit") or ""),
                ),
            )
            if fact.get(f"{part}_what")
            else "—"
            for part in ("numerator", "denominator")
        )
    return {
        "indicator": fact["indicator"],
        "name": fact["name"],
        "group": fact.get("group") or "",
        "formula": fact.get("formula") or "",
        "numerator_text": num_text,
        "denominator_text": den_text,
        "value_text": str(row.get("value_text") or "—"),
        "target_text": str(row.get("target_text") or "—") if fact.get("has_target") else "—",
        "target_source": fact.get("target_source") or t("defs.no_target"),
        "derivation": derivation_text(fact, row) if row else "",
        "workbench_definition": bool(fact.get("workbench_definition")),
        **formula_words(fact),
    }


def formula_words(fact: Mapping[str, Any]) -> dict[str, str]:
    """The one place that tags a working definition (工作口径: the documents name the indicator
    and its target but not how to compute it): `formula_label` heads the formula in running
    text (计算方法（工作口径）：…), `formula_tagged` is the formula with the tag for a table
    cell."""
    own = bool(fact.get("workbench_definition"))
    formula = str(fact.get("formula") or "")
    return {
        "formula_label": t("defs.formula_own" if own else "defs.formula"),
        "formula_tagged": t("defs.formula_tagged", formula=formula) if own and formula else formula,
    }


def derivation(iset: Any, code: str, row: Mapping[str, Any]) -> str:
    """How a relative target's value was reached (`derivation_text` of the set's facts)."""
    f = facts(iset)
    return derivation_text(f[f["indicator"] == code].iloc[0].to_dict(), row)


def definitions(
    iset: Any, city_kpis: pd.DataFrame, set_facts: list[dict[str, Any]] | None = None
) -> pd.DataFrame:
    """One row per indicator of the set, in declaration order, from the city's presented KPI
    rows (engine columns plus `value_text`, `target_text`). Columns: DEFINITION_COLUMNS.
    `set_facts`: the set's `facts` as records, when the caller keeps them (a batch kernel
    writes a county's definitions for every county)."""
    by_code = {str(r["indicator"]): r for r in city_kpis.to_dict("records")}
    fs = facts(iset).to_dict("records") if set_facts is None else set_facts
    rows = [texts(f, by_code.get(f["indicator"], {})) for f in fs]
    return pd.DataFrame(rows, columns=DEFINITION_COLUMNS)


def method_text(iset: Any, hierarchy: str) -> dict[str, str]:
    """The composite's method in words: name, description (the YAML's own), normaliser,
    aggregator, imputation and weights, and the dimensions with their indicators."""
    decl = iset.hierarchies[hierarchy]
    m = decl.method

    def label(kind: str, key: str) -> str:
        text = t(f"composite.method.{key}")
        return key if text.startswith("composite.method.") else text

    description = cite(" ".join(str(decl.description or "").split()), iset.documents)
    dims = []
    for node in decl.nodes:
        if node.indicator is None and node.parent is not None:
            kids = [
                iset.indicators[n.indicator].name
                for n in decl.nodes
                if n.parent == node.code and n.indicator in iset.indicators
            ]
            dims.append(t("defs.dimension", name=node.name, members=name_list(kids)))
    return {
        "name": decl.name,
        "description": t("defs.composite_own", description=description.rstrip("。"))
        if getattr(decl, "workbench_definition", False) and description
        else description,
        "normalise": label("normalise", m.normalise),
        "aggregate": label("aggregate", m.aggregate)
        if isinstance(m.aggregate, str)
        else "、".join(dict.fromkeys(label("aggregate", v) for v in m.aggregate.values())),
        "weights": t(f"defs.weights.{decl.weights}")
        if not t(f"defs.weights.{decl.weights}").startswith("defs.")
        else str(decl.weights),
        "dimensions": "；".join(dims),
    }


def method_sentence(method: Mapping[str, Any]) -> str:
    """`method_text`'s parts as the one sentence the 通报's attachment prints (doc.defs.composite)
    and the cockpit's 评分方法 panel shows."""
    return t(
        "doc.defs.composite", **{k: "" if fmt.missing(v) else str(v) for k, v in method.items()}
    )
