"""Display-ready KPI rows: status, signed gap, change and the text of each, decided once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench import fmt
from workbench.messages import t

# A KPI's status, in the order a leader reads them (worst first is for sorting elsewhere).
MET = "met"
NOT_MET = "not_met"
AT_RISK = "at_risk"  # not met yet, the target's deadline is still ahead
NO_TARGET = "no_target"
BASELINE_INSUFFICIENT = "baseline_insufficient"  # a relative target with no usable baseline
NO_DATA = "no_data"
STATUSES = (MET, AT_RISK, NOT_MET, BASELINE_INSUFFICIENT, NO_TARGET, NO_DATA)

PRESENTED_COLUMNS = [
    "short_name",
    "decimals",
    "status",
    "status_label",
    "value_text",
    "target_text",
    "gap_text",
    "change_text",
]


@dataclass(frozen=True)
class Display:
    """What presenting an indicator needs from its declaration (plain values, so a face that
    keeps no IndicatorSet — the cockpit's cached tables — can carry it)."""

    name: str
    short_name: str
    unit: str = ""
    decimals: int | None = None
    op: str = ""
    relative: bool = False
    kind: str = ""  # the indicator's type; a `change` indicator has no change of its own
    deadline: str | None = None
    min_baseline: float | None = None  # the least baseline a comparison is judged on

    @property
    def compares_with_baseline(self) -> bool:
        """Whether the target itself rests on a baseline (a relative target, a change)."""
        return self.relative or self.kind == "change"

    def thin(self, size: object) -> bool:
        """Whether a comparison base of `size` is too little data to judge on."""
        if self.min_baseline is None:
            return False
        v = fmt.finite(size)
        return v is None or v < self.min_baseline


def display_of(iset: Any, code: str) -> Display:
    ind = iset.indicators.get(code) if iset is not None else None
    if ind is None:
        return Display(name=code, short_name=code)
    tg = ind.target
    own = getattr(ind, "min_baseline", None)
    pres = getattr(iset, "presentation", None)
    least = own if own is not None else getattr(pres, "min_baseline", None)
    return Display(
        name=ind.name,
        short_name=getattr(ind, "short_name", "") or ind.name,
        unit=ind.unit,
        decimals=getattr(ind, "decimals", None),
        op=tg.op if tg else "",
        relative=bool(tg is not None and tg.is_relative),
        kind=str(ind.type),
        deadline=tg.deadline.isoformat() if tg is not None and tg.deadline else None,
        min_baseline=None if least is None else float(least),
    )


def displays(iset: Any) -> dict[str, Display]:
    return {code: display_of(iset, code) for code in iset.indicators}


def _period_end(period: object) -> pd.Timestamp | None:
    s = str(period)
    if not fmt.is_month(s[:7]):
        return None
    return pd.Period(s[:7], freq="M").end_time.normalize()


def decide_status(
    value: np.ndarray,
    target: np.ndarray,
    met: np.ndarray,
    has_target: np.ndarray,
    relative: np.ndarray,
    deadline_ahead: np.ndarray,
    thin_baseline: np.ndarray | None = None,
) -> np.ndarray:
    """Status per row. `met` is 1.0 / 0.0 / NaN as the engine compares (with its tolerance);
    the other arguments are boolean arrays except value and target (floats). A target that
    rests on a baseline with too little data behind it (`thin_baseline`) is not judged."""
    value = np.asarray(value, dtype="float64")
    target = np.asarray(target, dtype="float64")
    met = np.asarray(met, dtype="float64")
    out = np.full(value.shape, NO_DATA, dtype=object)
    have = np.isfinite(value)
    no_tgt = have & ~has_target
    base = have & has_target & ~np.isfinite(target)
    judged = have & has_target & np.isfinite(target)
    out[no_tgt] = NO_TARGET
    out[base & relative] = BASELINE_INSUFFICIENT
    out[judged & (met == 1.0)] = MET
    unmet = judged & (met == 0.0)
    out[unmet & deadline_ahead] = AT_RISK
    out[unmet & ~deadline_ahead] = NOT_MET
    if thin_baseline is not None:
        out[have & has_target & np.asarray(thin_baseline, dtype=bool)] = BASELINE_INSUFFICIENT
    return out


def status_label(status: str) -> str:
    return t(f"pres.status.{status}")


def gap_sentence(status: str, gap: object, unit: object, decimals: object) -> str:
    """`差2.7个百分点` when short of the target, `优于目标1.2个百分点` when beyond it."""
    if status not in (MET, NOT_MET, AT_RISK) or fmt.finite(gap) is None:
        return "—"
    g = float(gap)  # type: ignore[arg-type]
    if abs(g) < 1e-12:
        return t("pres.gap.at")
    key = "pres.gap.better" if status == MET else "pres.gap.short"
    return t(key, gap=fmt.gap_text(g, unit, decimals))


def texts(
    d: Display,
    status: str,
    value: object,
    target: object,
    gap: object,
    prev: object,
    base: object = None,
) -> dict[str, str]:
    """The texts of one presented KPI (the same for every face). `base` is the engine's
    `baseline_size`: a change on too thin a base reads 基线不足, not a number."""
    if d.kind == "change":
        change = "—"
    elif d.thin(base) and fmt.finite(prev) is not None:
        change = t("pres.change.thin")
    else:
        change = fmt.change_text(value, prev, d.unit, d.decimals)
    return {
        "status_label": status_label(status),
        "value_text": fmt.value_text(value, d.unit, d.decimals),
        "target_text": fmt.target_text(d.op, target, d.unit, d.decimals),
        "gap_text": gap_sentence(status, gap, d.unit, d.decimals),
        "change_text": change,
    }


def _met_float(v: object) -> float:
    if v is None or v is pd.NA:
        return np.nan
    if isinstance(v, float):
        return v if np.isnan(v) else float(bool(v))
    return float(bool(v))


def _or_nan(x: object) -> float:
    v = fmt.finite(x)
    return np.nan if v is None else v


def deadline_ahead(d: Display, period: str) -> bool:
    """Whether the target's deadline falls after the month `period` ends."""
    end = _period_end(period)
    return bool(d.deadline and end is not None and pd.Timestamp(d.deadline) > end)


def present_one(d: Display, row: Mapping[str, Any], period: str) -> dict[str, Any]:
    """One KPI (value, target, gap, met, prev_value as the engine gives them) at `period`:
    status and texts, by the same rules as `present`."""
    ahead = deadline_ahead(d, period)
    status = decide_status(
        np.array([_or_nan(row.get("value"))]),  # a value or target of 0 is a number, not NaN
        np.array([_or_nan(row.get("target"))]),
        np.array([_met_float(row.get("met"))]),
        np.array([bool(d.op)]),
        np.array([d.relative]),
        np.array([ahead]),
        np.array([d.compares_with_baseline and d.thin(row.get("baseline_size"))]),
    )[0]
    out: dict[str, Any] = {"status": status, "short_name": d.short_name}
    out.update(
        texts(
            d,
            status,
            row.get("value"),
            row.get("target"),
            row.get("gap"),
            row.get("prev_value"),
            row.get("baseline_size"),
        )
    )
    return out


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64")


def present(kpis: pd.DataFrame, iset: Any) -> pd.DataFrame:
    """The engine's KPI rows (see `indicators.KPI_COLUMNS`) with PRESENTED_COLUMNS added.
    `iset` is an IndicatorSet or a {code: Display} mapping.

    Works on any slice of the long table (a county, the city, one indicator …); the rows'
    `period` is the month their span ends, which decides whether a deadline is still ahead."""
    out = kpis.copy()
    if not len(out):
        for c in PRESENTED_COLUMNS:
            out[c] = pd.Series(dtype=object)
        return out
    codes = out["indicator"].astype(str).to_numpy()
    meta = {
        c: (
            iset[c]
            if isinstance(iset, Mapping) and c in iset
            else display_of(None if isinstance(iset, Mapping) else iset, c)
        )
        for c in pd.unique(codes)
    }
    value = pd.to_numeric(out["value"], errors="coerce").to_numpy(dtype="float64")
    target = pd.to_numeric(out["target"], errors="coerce").to_numpy(dtype="float64")
    met = np.array([_met_float(v) for v in out["met"].astype("object")], dtype="float64")
    has_target = np.array([bool(meta[c].op) for c in codes], dtype=bool)
    relative = np.array([meta[c].relative for c in codes], dtype=bool)
    ends = {p: _period_end(p) for p in pd.unique(out["period"].astype(str))}
    end = pd.to_datetime(out["period"].astype(str).map(ends), errors="coerce")
    deadline = pd.to_datetime(
        pd.Series([meta[c].deadline for c in codes], index=out.index), errors="coerce"
    )
    ahead = (deadline > end).fillna(False).to_numpy(dtype=bool)
    base = _numbers(out, "baseline_size")
    thin = np.array(
        [meta[c].compares_with_baseline and meta[c].thin(b) for c, b in zip(codes, base)],
        dtype=bool,
    )
    status = decide_status(value, target, met, has_target, relative, ahead, thin)
    prev = _numbers(out, "prev_value")
    gap = pd.to_numeric(out["gap"], errors="coerce").to_numpy(dtype="float64")
    rows = [
        texts(meta[c], st, v, tg, g, pv, b)
        for c, st, v, tg, g, pv, b in zip(codes, status, value, target, gap, prev, base)
    ]
    out["short_name"] = [meta[c].short_name for c in codes]
    out["decimals"] = pd.array([meta[c].decimals for c in codes], dtype="Int64")
    out["status"] = status
    for k in ("status_label", "value_text", "target_text", "gap_text", "change_text"):
        out[k] = [r[k] for r in rows]
    return out


@dataclass(frozen=True)
class KpiView:
    """One presented KPI row, for faces that show a handful (cards, sentences)."""

    indicator: str
    name: str
    short_name: str
    unit: str
    decimals: int | None
    value: float | None
    target: float | None
    op: str
    gap: float | None
    status: str
    status_label: str
    value_text: str
    target_text: str
    gap_text: str
    change_text: str

    @property
    def met(self) -> bool | None:
        if self.status == MET:
            return True
        if self.status in (NOT_MET, AT_RISK):
            return False
        return None

    @property
    def lower_is_better(self) -> bool:
        return self.op in ("<=", "<")

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> KpiView:
        def num(k: str) -> float | None:
            return fmt.finite(row.get(k))

        dec = row.get("decimals")
        return cls(
            indicator=str(row["indicator"]),
            name=str(row.get("indicator_name") or row["indicator"]),
            short_name=str(row.get("short_name") or row.get("indicator_name") or ""),
            unit=str(row.get("unit") or ""),
            decimals=None if fmt.missing(dec) else int(dec),  # type: ignore[call-overload]
            value=num("value"),
            target=num("target"),
            op=str(row.get("target_op") or ""),
            gap=num("gap"),
            status=str(row["status"]),
            status_label=str(row["status_label"]),
            value_text=str(row["value_text"]),
            target_text=str(row["target_text"]),
            gap_text=str(row["gap_text"]),
            change_text=str(row["change_text"]),
        )


def views(presented: pd.DataFrame) -> list[KpiView]:
    return [KpiView.from_row(r) for r in presented.to_dict("records")]


def sentence(k: KpiView, subject: str) -> str:
    """One clause of a narrative, figures first: 基金追回率87.3%，低于90%的目标2.7个百分点."""
    if k.value is None:
        return t("pres.narr.no_value", name=k.name)
    if k.status in (NO_TARGET, BASELINE_INSUFFICIENT, NO_DATA):
        extra = t("pres.narr.baseline") if k.status == BASELINE_INSUFFICIENT else ""
        return t("pres.narr.value_only", name=k.name, value=k.value_text) + extra
    gap = fmt.gap_text(k.gap, k.unit, k.decimals)
    if k.gap is not None and abs(k.gap) < 1e-12:
        key = "pres.narr.at_target"
    elif k.met:
        key = "pres.narr.better_low" if k.lower_is_better else "pres.narr.above"
    else:
        key = "pres.narr.above_bad" if k.lower_is_better else "pres.narr.below"
        if k.status == AT_RISK:
            key += "_ahead"
    target = fmt.value_text(k.target, k.unit, k.decimals)
    return t(key, subject=subject, name=k.name, value=k.value_text, target=target, gap=gap)
