"""KPIs as a 通报 reads them: in their groups (两升 / 两降 / 一规范), each with the counties that
fail it, and which way it moved against last year — rose, fell, or moved the wrong way
("不升反降", "不降反升"). Decided here once so no document judges a number itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench import fmt
from workbench.messages import t
from workbench.presentation import kpis as pk

FAILING = (pk.NOT_MET, pk.AT_RISK)
UP, DOWN, FLAT = "up", "down", "flat"


def kpi_groups(iset: Any) -> list[tuple[str, list[str]]]:
    """[(group name, [indicator codes])] in declaration order. A set's declared card groups
    (`presentation: card_groups:`) win; otherwise each indicator's `group:`; indicators with
    neither fall in one unnamed group at the end."""
    declared = getattr(getattr(iset, "presentation", None), "card_groups", None)
    if declared:
        out = []
        for g in declared:
            name = getattr(g, "name", None) or (g.get("name") if isinstance(g, Mapping) else "")
            codes = getattr(g, "indicators", None) or (
                g.get("indicators") if isinstance(g, Mapping) else []
            )
            out.append((str(name), [c for c in codes if c in iset.indicators]))
        return out
    groups: dict[str, list[str]] = {}
    for code, ind in iset.indicators.items():
        groups.setdefault(str(getattr(ind, "group", "") or ""), []).append(code)
    named = [(k, v) for k, v in groups.items() if k]
    return named + ([("", groups[""])] if "" in groups else [])


@dataclass(frozen=True)
class Failing:
    """The counties failing one KPI (status 未达标 or 未达标（时限未到）), worst gap first."""

    indicator: str
    codes: tuple[str, ...]
    names: tuple[str, ...]

    @property
    def n(self) -> int:
        return len(self.codes)


def failing_counties(county_kpis: pd.DataFrame, indicator: str) -> Failing:
    """From presented county KPI rows (`county` or `county_code`, `county_name`, `status`,
    `gap`): the counties failing `indicator`, the largest shortfall first."""
    col = "county" if "county" in county_kpis else "county_code"
    rows = county_kpis[
        (county_kpis["indicator"].astype(str) == indicator) & county_kpis["status"].isin(FAILING)
    ]
    if not len(rows):
        return Failing(indicator, (), ())
    gap = pd.to_numeric(rows["gap"], errors="coerce").abs().fillna(0.0)
    rows = rows.assign(_g=gap.to_numpy()).sort_values(["_g", col], ascending=[False, True])
    return Failing(
        indicator,
        tuple(rows[col].astype(str)),
        tuple(rows["county_name"].astype(str)),
    )


@dataclass(frozen=True)
class Movement:
    """Which way a KPI moved against the same period last year, and whether that is the way
    the indicator should go. A `change` indicator's own value is the movement."""

    way: str  # up / down / flat / "" (unknown)
    wrong_way: bool
    change_text: str


def movement(
    value: object, previous: object, direction: int, kind: str, unit: str, decimals: object
) -> Movement:
    v, p = fmt.finite(value), fmt.finite(previous)
    if kind == "change":
        delta, text = v, fmt.value_text(v, unit, decimals, signed=True) if v is not None else "—"
    else:
        delta = None if v is None or p is None else v - p
        text = fmt.change_text(v, p, unit, decimals)
    if delta is None:
        return Movement("", False, "—")
    # flat when the change as a reader sees it is zero (0.0个百分点), whatever the float says
    zero = not any(ch in "123456789" for ch in text)
    if zero:
        return Movement(FLAT, False, text)
    way = UP if delta > 0 else DOWN
    wrong = (way == DOWN and direction > 0) or (way == UP and direction < 0)
    return Movement(way, wrong, text)


def movement_of(row: Mapping[str, Any], iset: Any) -> Movement:
    """`movement` for one engine/presented KPI row. A change on too thin a base is no
    movement, as the cards say 基线不足 for it (`kpis.texts`)."""
    ind = iset.indicators.get(str(row["indicator"]))
    direction = int(getattr(ind, "direction", 1) or 1) if ind is not None else 1
    kind = str(getattr(ind, "type", "")) if ind is not None else ""
    dec = row.get("decimals")
    if kind != "change" and pk.display_of(iset, str(row["indicator"])).thin(
        row.get("baseline_size")
    ):
        return Movement("", False, t("pres.change.thin"))
    return movement(
        row.get("value"),
        row.get("prev_value"),
        direction,
        kind,
        str(row.get("unit") or getattr(ind, "unit", "")),
        None if fmt.missing(dec) else dec,
    )


def failing_matrix(county_kpis: pd.DataFrame, codes: Sequence[str]) -> pd.DataFrame:
    """County × indicator of booleans: True where the county fails the KPI."""
    col = "county" if "county" in county_kpis else "county_code"
    sub = county_kpis[county_kpis["indicator"].isin(list(codes))]
    wide = sub.assign(_f=sub["status"].isin(FAILING)).pivot_table(
        index=col, columns="indicator", values="_f", aggfunc="max"
    )
    return wide.reindex(columns=list(codes)).fillna(False).astype(np.bool_)


MILESTONE_COLUMNS = [
    "milestone_name",
    "indicator_name",
    "deadline_text",
    "basis",
    "value_text",
    "target_text",
    "gap_text",
    "status",
    "status_label",
]


def milestone_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The engine's milestone rows with their texts: value (as of the deadline or now), target,
    the gap when short, status label."""
    if frame is None or not len(frame):
        return pd.DataFrame(columns=MILESTONE_COLUMNS)
    out = frame.copy()
    dec = [None if fmt.missing(d) else d for d in out.get("decimals", [None] * len(out))]
    out["value_text"] = [
        fmt.value_text(v, u, d) for v, u, d in zip(out["current_value"], out["unit"], dec)
    ]
    out["target_text"] = [
        fmt.target_text(o, v, u, d)
        for o, v, u, d in zip(out["op"], out["target"], out["unit"], dec)
    ]
    gaps = []
    for v, tg, o, u, d, st in zip(
        out["current_value"], out["target"], out["op"], out["unit"], dec, out["status"]
    ):
        fv, ft = fmt.finite(v), fmt.finite(tg)
        if st == "met" or fv is None or ft is None:
            gaps.append("—")
        else:
            gaps.append(fmt.gap_text(ft - fv if str(o) in (">=", ">") else fv - ft, u, d))
    out["gap_text"] = gaps
    out["deadline_text"] = out["deadline"].map(fmt.date_label)
    return out[MILESTONE_COLUMNS].reset_index(drop=True)


def quarter_points(trend: pd.DataFrame, unit: str, decimals: object, year: str) -> list[str]:
    """A year's trend as four texts (values at the end of March, June, September, December)
    from a monthly series (period, value); a quarter without a value is —."""
    if trend is None or not len(trend):
        return []
    s = trend.assign(period=trend["period"].astype(str)).set_index("period")["value"]
    out = []
    for m in ("03", "06", "09", "12"):
        key = f"{year}-{m}"
        out.append(fmt.value_text(s.get(key), unit, decimals) if key in s.index else "—")
    return out
