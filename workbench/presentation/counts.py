"""The absolute figures every county summary and provincial report is built on: 检查X家次,
立案X件, 追回X万元, 暂停协议X家, 移送公安X起, 曝光X例, 约谈X次 … for a month, the year to date,
the month before, the same month and the same months last year, and any window (a campaign
phase, the whole campaign); breakdowns by institution type, violation type (三假 marked),
lead source and inspection method.

Each figure is one entry of `COUNTS` (ledger, the date that puts a row in a month, a filter,
an aggregation, a unit), so a new figure is one entry and its label in the catalogue. Texts
come from the one formatter (`workbench.fmt`); faces never count or format on their own.
Money is given in 万元 as the seeds write it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench import fmt
from workbench.contracts import CASE_WITHDRAWN
from workbench.declarations import clauses_of
from workbench.indicators import span_window as engine_window
from workbench.measures import month_index, month_label
from workbench.messages import t

Ledgers = Mapping[str, pd.DataFrame]
Where = Callable[[pd.DataFrame], pd.Series]

# 002 三（二）3: “假病人、假病情、假票据”等“三假”问题 — the violation types a leader asks for first
SAN_JIA = ("假病人", "假病情", "假票据")
CLOSED = "已结案"
NO_ACTION = "不予处理"


def _is_true(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df:
        return pd.Series(False, index=df.index)
    return df[col].astype("boolean").fillna(False).astype(bool)


def _not_withdrawn(df: pd.DataFrame) -> pd.Series:
    return df["status"] != CASE_WITHDRAWN


def _closed(df: pd.DataFrame) -> pd.Series:
    return df["status"] == CLOSED


def _closed_with(outcome: str) -> Where:
    return lambda df: _closed(df) & (df["outcome"] == outcome)


def _punished(df: pd.DataFrame) -> pd.Series:
    """Closed, with a finding acted on (any outcome but 不予处理), against an institution."""
    return (
        _closed(df)
        & df["outcome"].notna()
        & (df["outcome"] != NO_ACTION)
        & df["institution_id"].notna()
    )


def _referred_police(df: pd.DataFrame) -> pd.Series:
    return _not_withdrawn(df) & (_is_true(df, "referred_police") | (df["outcome"] == "移送公安"))


def _activity(name: str) -> Where:
    return lambda df: df["activity"] == name


@dataclass(frozen=True)
class Count:
    """One absolute figure: rows of `ledger` whose `date` falls in a window, filtered by
    `where`, then counted (`rows`), counted by distinct `field` (`distinct`) or summed
    (`sum`); `scale` turns yuan into the unit (万元)."""

    key: str
    ledger: str
    date: str
    agg: str = "rows"
    field: str = ""
    unit: str = "件"
    where: Where | None = None
    scale: float = 1.0
    decimals: int | None = None

    @property
    def label(self) -> str:
        return t(f"counts.{self.key}")


WAN = 1e-4
COUNTS: dict[str, Count] = {
    c.key: c
    for c in (
        Count("inspections", "inspections", "inspection_date", unit="家次"),
        Count(
            "institutions_inspected",
            "inspections",
            "inspection_date",
            "distinct",
            "institution_id",
            "家",
        ),
        Count("problems_found", "inspections", "inspection_date", "sum", "problems_found", "个"),
        Count("cases_filed", "cases", "filed_date", unit="件", where=_not_withdrawn),
        Count("cases_closed", "cases", "closed_date", unit="件", where=_closed),
        Count(
            "institutions_punished",
            "cases",
            "closed_date",
            "distinct",
            "institution_id",
            "家",
            where=_punished,
        ),
        Count(
            "recovered",
            "cases",
            "closed_date",
            "sum",
            "amount_recovered",
            "万元",
            _closed,
            WAN,
            2,
        ),
        Count("fined", "cases", "closed_date", "sum", "fine_amount", "万元", _closed, WAN, 2),
        Count(
            "agreements_suspended",
            "cases",
            "closed_date",
            "distinct",
            "institution_id",
            "家",
            _closed_with("暂停协议"),
        ),
        Count(
            "agreements_ended",
            "cases",
            "closed_date",
            "distinct",
            "institution_id",
            "家",
            _closed_with("解除协议"),
        ),
        Count("referred_police", "cases", "found_date", unit="起", where=_referred_police),
        Count(
            "referred_discipline",
            "cases",
            "closed_date",
            unit="起",
            where=_closed_with("移送纪检监察"),
        ),
        Count(
            "exposed",
            "cases",
            "closed_date",
            unit="例",
            where=lambda df: _closed(df) & _is_true(df, "exposed"),
        ),
        Count("interviews", "activities", "month", "sum", "count", "次", _activity("警示约谈")),
        Count("complaints", "complaints", "received_date", unit="件"),
        Count(
            "complaints_verified",
            "complaints",
            "received_date",
            unit="件",
            where=lambda df: _is_true(df, "verified"),
        ),
        Count(
            "rewards_paid",
            "complaints",
            "closed_date",
            "sum",
            "reward_paid",
            "万元",
            None,
            WAN,
            2,
        ),
        Count(
            "rewards_count",
            "complaints",
            "closed_date",
            unit="件",
            where=lambda df: pd.to_numeric(df["reward_paid"], errors="coerce").fillna(0) > 0,
        ),
    )
}


# ----------------------------------------------------------------------------- windows
@dataclass(frozen=True)
class Window:
    """Whole months from `start` to `end` (both `YYYY-MM`)."""

    start: str
    end: str

    @property
    def first_day(self) -> pd.Timestamp:
        return pd.Timestamp(f"{self.start}-01")

    @property
    def last_day(self) -> pd.Timestamp:
        return pd.Period(self.end, freq="M").end_time.normalize()

    @property
    def label(self) -> str:
        """The span as every face writes it: 2025年12月, 2025年3—12月, 2024年12月至2025年2月 —
        the one label a figure's span is stated with (documents, cockpit)."""
        a, b = pd.Period(self.start, freq="M"), pd.Period(self.end, freq="M")
        if a == b:
            return t("doc.sum.window_one_month", y=a.year, a=a.month)
        if a.year == b.year:
            return t("doc.sum.window_same_year", y=a.year, a=a.month, b=b.month)
        return t("doc.sum.window", a=fmt.month_label(self.start), b=fmt.month_label(self.end))


def span_window(span: str, period: str) -> Window | None:
    """The months an indicator's span covers when it ends at `period`, as the engine counts
    them (`indicators.span_window`) — `month`, `quarter`, `ytd`, `r12`; None for a span that
    needs the campaign calendar or a non-monthly period."""
    if not fmt.is_month(period) or span not in ("month", "quarter", "ytd", "r12"):
        return None
    w = engine_window(span, month_index(str(period)[:7]))
    return Window(month_label(w.start), month_label(w.end))


def _shift(period: str, months: int) -> str:
    return str(pd.Period(period, freq="M") + months)


def standard_windows(period: str) -> dict[str, Window]:
    """The five windows a monthly document compares: the month, the month before, the same
    month last year, January to the month, and the same months last year."""
    p = str(period)[:7]
    jan = f"{p[:4]}-01"
    return {
        "month": Window(p, p),
        "prev_month": Window(_shift(p, -1), _shift(p, -1)),
        "month_ly": Window(_shift(p, -12), _shift(p, -12)),
        "ytd": Window(jan, p),
        "ytd_ly": Window(_shift(jan, -12), _shift(p, -12)),
    }


def _dates(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df:
        return pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns]")
    s = df[col]
    if col == "month" or not pd.api.types.is_datetime64_any_dtype(s):
        return pd.to_datetime(s.astype("string").str.slice(0, 10), errors="coerce")
    return s


def _prepared(ledgers: Ledgers, spec: Count, county: str | None) -> tuple[pd.DataFrame, pd.Series]:
    df = ledgers.get(spec.ledger)
    if df is None or not len(df):
        return pd.DataFrame(columns=["county_code"]), pd.Series(dtype="datetime64[ns]")
    if county is not None:
        df = df[df["county_code"].astype(str) == str(county)]
    if spec.where is not None and len(df):
        df = df[spec.where(df).fillna(False).to_numpy(dtype=bool)]
    return df, _dates(df, spec.date)


def _aggregate(rows: pd.DataFrame, spec: Count, by_county: bool) -> pd.Series | float:
    if spec.agg == "rows":
        res = rows.groupby(rows["county_code"].astype(str)).size() if by_county else len(rows)
    elif spec.agg == "distinct":
        vals = rows[spec.field]
        if by_county:
            res = vals.groupby(rows["county_code"].astype(str)).nunique()
        else:
            res = vals.dropna().nunique()
    else:
        vals = pd.to_numeric(rows[spec.field], errors="coerce").fillna(0.0)
        res = vals.groupby(rows["county_code"].astype(str)).sum() if by_county else vals.sum()
    return res * spec.scale if spec.scale != 1.0 else res


def count(ledgers: Ledgers, key: str, window: Window, county: str | None = None) -> float:
    """One figure for one window (the city, or one county)."""
    spec = COUNTS[key]
    df, when = _prepared(ledgers, spec, county)
    rows = df[((when >= window.first_day) & (when <= window.last_day)).to_numpy(dtype=bool)]
    return float(_aggregate(rows, spec, by_county=False))


def values(
    ledgers: Ledgers,
    windows: Mapping[str, Window],
    keys: Sequence[str] | None = None,
    by_county: bool = False,
) -> pd.DataFrame:
    """Long table of figures: key, window, value (and county_code when `by_county`; counties
    with nothing in a window are absent, read them as 0)."""
    out = []
    for key in keys or list(COUNTS):
        spec = COUNTS[key]
        df, when = _prepared(ledgers, spec, None)
        for name, w in windows.items():
            rows = df[((when >= w.first_day) & (when <= w.last_day)).to_numpy(dtype=bool)]
            agg = _aggregate(rows, spec, by_county)
            if by_county:
                s = pd.Series(agg, dtype="float64")
                out.append(
                    pd.DataFrame(
                        {"county_code": s.index.astype(str), "key": key, "window": name, "value": s}
                    )
                )
            else:
                out.append(pd.DataFrame({"key": [key], "window": [name], "value": [float(agg)]}))
    cols = (["county_code"] if by_county else []) + ["key", "window", "value"]
    if not out:
        return pd.DataFrame(columns=cols)
    return pd.concat(out, ignore_index=True)[cols]


FIGURE_COLUMNS = [
    "key",
    "label",
    "unit",
    "month",
    "prev_month",
    "month_ly",
    "ytd",
    "ytd_ly",
    "month_text",
    "ytd_text",
    "mom_text",
    "yoy_text",
    "ytd_yoy_text",
    "ytd_ly_text",
]


def _texts(frame: pd.DataFrame) -> pd.DataFrame:
    specs = [COUNTS[k] for k in frame["key"]]
    frame = frame.copy()
    frame["label"] = [s.label for s in specs]
    frame["unit"] = [s.unit for s in specs]

    def text(col: str) -> list[str]:
        return [fmt.value_text(v, s.unit, s.decimals) for v, s in zip(frame[col], specs)]

    def change(a: str, b: str) -> list[str]:
        return [
            fmt.change_text(v, p, s.unit, s.decimals) for v, p, s in zip(frame[a], frame[b], specs)
        ]

    frame["month_text"] = text("month")
    frame["ytd_text"] = text("ytd")
    frame["ytd_ly_text"] = text("ytd_ly")
    frame["mom_text"] = change("month", "prev_month")
    frame["yoy_text"] = change("month", "month_ly")
    frame["ytd_yoy_text"] = change("ytd", "ytd_ly")
    return frame


def figures(
    ledgers: Ledgers, period: str, county: str | None = None, keys: Sequence[str] | None = None
) -> pd.DataFrame:
    """Every figure of the city (or one county) at `period`: the month, last month, the same
    month last year, the year to date and last year's same months, with their texts and the
    changes (环比, 同比, 累计同比). Columns: FIGURE_COLUMNS."""
    windows = standard_windows(period)
    keys = list(keys or COUNTS)
    rows = {
        key: {name: count(ledgers, key, w, county) for name, w in windows.items()} for key in keys
    }
    frame = pd.DataFrame([{"key": k, **v} for k, v in rows.items()])
    return _texts(frame)[FIGURE_COLUMNS]


def figures_by_county(
    ledgers: Ledgers, period: str, counties: Sequence[str], keys: Sequence[str] | None = None
) -> pd.DataFrame:
    """FIGURE_COLUMNS for every county of `counties` (one pass per figure and window), with
    `county_code` first; a county with no rows has zeros, not gaps."""
    windows = standard_windows(period)
    keys = list(keys or COUNTS)
    long = values(ledgers, windows, keys, by_county=True)
    wide = long.pivot_table(
        index=["county_code", "key"], columns="window", values="value", aggfunc="sum"
    )
    full = pd.MultiIndex.from_product(
        [[str(c) for c in counties], keys], names=["county_code", "key"]
    )
    wide = wide.reindex(full).reindex(columns=list(windows)).fillna(0.0).reset_index()
    wide.columns.name = None
    return _texts(wide)[["county_code", *FIGURE_COLUMNS]]


def window_figures(
    ledgers: Ledgers,
    window: Window,
    county: str | None = None,
    keys: Sequence[str] | None = None,
    compare: Window | None = None,
) -> pd.DataFrame:
    """Figures over any window (a phase, the campaign), with the change against `compare`
    (default the same months a year earlier). Columns: key, label, unit, value, previous,
    value_text, previous_text, change_text."""
    compare = compare or Window(_shift(window.start, -12), _shift(window.end, -12))
    keys = list(keys or COUNTS)
    rows = []
    for key in keys:
        spec = COUNTS[key]
        v, p = count(ledgers, key, window, county), count(ledgers, key, compare, county)
        rows.append(
            {
                "key": key,
                "label": spec.label,
                "unit": spec.unit,
                "value": v,
                "previous": p,
                "value_text": fmt.value_text(v, spec.unit, spec.decimals),
                "previous_text": fmt.value_text(p, spec.unit, spec.decimals),
                "change_text": fmt.change_text(v, p, spec.unit, spec.decimals),
            }
        )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- breakdowns
BREAKDOWN_COLUMNS = [
    "category",
    "n",
    "share",
    "amount",
    "n_text",
    "share_text",
    "amount_text",
    "san_jia",
]


def _case_category(ledgers: Ledgers, cases: pd.DataFrame, by: str) -> pd.Series:
    if by == "institution_type":
        inst = ledgers.get("institutions")
        types = (
            inst.drop_duplicates("institution_id").set_index("institution_id")["institution_type"]
            if inst is not None and len(inst)
            else pd.Series(dtype=object)
        )
        return cases["institution_id"].map(types).fillna(cases["subject_type"]).fillna("其他")
    return cases[by].fillna("其他").astype(str)


BREAKDOWNS = ("institution_type", "violation_type", "lead_source")


def breakdown(ledgers: Ledgers, by: str, window: Window, county: str | None = None) -> pd.DataFrame:
    """Cases filed in the window (立案, withdrawn excluded) by `by` — institution_type (the
    catalogue's type for an institution, the subject type for anyone else), violation_type or
    lead_source: count, share and amount involved (万元), most cases first; `san_jia` marks
    假病人/假病情/假票据."""
    spec = COUNTS["cases_filed"]
    df, when = _prepared(ledgers, spec, county)
    rows = df[((when >= window.first_day) & (when <= window.last_day)).to_numpy(dtype=bool)]
    if not len(rows):
        return pd.DataFrame(columns=BREAKDOWN_COLUMNS)
    cat = _case_category(ledgers, rows, by)
    amount = pd.to_numeric(rows["amount_involved"], errors="coerce").fillna(0.0) * WAN
    g = pd.DataFrame({"category": cat.to_numpy(), "amount": amount.to_numpy()}).groupby(
        "category", sort=False
    )
    out = pd.DataFrame({"n": g.size(), "amount": g["amount"].sum()}).reset_index()
    out["share"] = out["n"] / out["n"].sum()
    out = out.sort_values(["n", "category"], ascending=[False, True], kind="stable")
    out["n_text"] = [fmt.value_text(v, "件") for v in out["n"]]
    out["share_text"] = [fmt.value_text(v, "%") for v in out["share"]]
    out["amount_text"] = [fmt.value_text(v, "万元", 2) for v in out["amount"]]
    out["san_jia"] = out["category"].isin(SAN_JIA)
    return out.reset_index(drop=True)[BREAKDOWN_COLUMNS]


def san_jia_total(frame: pd.DataFrame) -> dict[str, object]:
    """The 三假 rows of a violation-type breakdown added up: n, share and their texts."""
    sub = frame[frame["san_jia"].astype(bool)] if len(frame) else frame
    n = float(sub["n"].sum()) if len(sub) else 0.0
    total = float(frame["n"].sum()) if len(frame) else 0.0
    share = n / total if total else np.nan
    return {
        "n": n,
        "share": share,
        "n_text": fmt.value_text(n, "件"),
        "share_text": fmt.value_text(share, "%"),
    }


INSPECTION_COLUMNS = ["method", "visits", "institutions", "visits_text", "institutions_text"]


def inspections_by_method(
    ledgers: Ledgers, window: Window, county: str | None = None
) -> pd.DataFrame:
    """Inspections in the window by method: 家次 (visits) and 家 (distinct institutions),
    most visits first."""
    spec = COUNTS["inspections"]
    df, when = _prepared(ledgers, spec, county)
    rows = df[((when >= window.first_day) & (when <= window.last_day)).to_numpy(dtype=bool)]
    if not len(rows):
        return pd.DataFrame(columns=INSPECTION_COLUMNS)
    g = rows.groupby(rows["method"].fillna("其他").astype(str), sort=False)
    out = pd.DataFrame(
        {"visits": g.size(), "institutions": g["institution_id"].nunique()}
    ).reset_index(names="method")
    out = out.sort_values(["visits", "method"], ascending=[False, True], kind="stable")
    out["visits_text"] = [fmt.value_text(v, "家次") for v in out["visits"]]
    out["institutions_text"] = [fmt.value_text(v, "家") for v in out["institutions"]]
    return out.reset_index(drop=True)[INSPECTION_COLUMNS]


def basis_text(key: str) -> str:
    """How a figure is counted, for the definitions attachment."""
    return t(f"counts.basis.{key}")


def change_phrase(change_text: str) -> str:
    """A change as words: +21.2% → 增长21.2%, -3.0个百分点 → 下降3.0个百分点, a zero change →
    持平, no change (—) → ''."""
    s = str(change_text or "").strip()
    if not s or s == "—":
        return ""
    if not any(ch in "123456789" for ch in s):
        return t("counts.change.flat")
    size = s.lstrip("+-")
    points = s.endswith("个百分点")
    if s.startswith("-"):
        return t("counts.change.down_pt" if points else "counts.change.down", x=size)
    return t("counts.change.up_pt" if points else "counts.change.up", x=size)


def number_text(key: str, value: object) -> str:
    """A figure without its unit, for a table whose header names the unit."""
    spec = COUNTS[key]
    dec = spec.decimals if spec.decimals is not None else fmt.default_decimals(spec.unit)
    if spec.unit not in ("万元",):
        dec = 0 if fmt.unit_kind(spec.unit) == fmt.COUNT else dec
    return fmt.value_text(value, "", dec)


def referral_threshold(iset: Any) -> float | None:
    """The amount above which a case must go to the police, read from the declarations (the
    parameter a cases measure compares `amount_involved` with), so no face names it."""
    params = getattr(iset, "parameters", {}) or {}
    for m in getattr(iset, "measures", {}).values():
        if getattr(m, "ledger", None) != "cases":
            continue
        for c in clauses_of(getattr(m, "where", ())):  # any:/all: groups too
            if getattr(c, "field", "") == "amount_involved" and getattr(c, "op", "") in (">", ">="):
                v = c.value
                if isinstance(v, str) and v.startswith("$"):
                    p = params.get(v[1:])
                    v = getattr(p, "value", None)
                f = fmt.finite(v)
                if f is not None:
                    return f
    return None


def exposed_cases(ledgers: Ledgers, window: Window, limit: int | None = None) -> pd.DataFrame:
    """Cases closed in the window and marked exposed (公开曝光), largest amount first, with
    `institution_name` and the amounts' texts. Personal fields stay as the ledger has them:
    a face masks them (`workbench.privacy`) before showing anything."""
    spec = COUNTS["exposed"]
    df, when = _prepared(ledgers, spec, None)
    rows = df[((when >= window.first_day) & (when <= window.last_day)).to_numpy(dtype=bool)]
    inst = ledgers.get("institutions")
    names = (
        inst.drop_duplicates("institution_id").set_index("institution_id")["institution_name"]
        if inst is not None and len(inst)
        else pd.Series(dtype=object)
    )
    out = rows.copy()
    out["institution_name"] = out["institution_id"].map(names)
    out = out.sort_values(
        ["amount_involved", "case_id"], ascending=[False, True], na_position="last", kind="stable"
    )
    if limit:
        out = out.head(limit)
    for col, unit in (
        ("amount_involved", "元"),
        ("amount_recovered", "元"),
        ("fine_amount", "元"),
    ):
        out[col + "_text"] = [fmt.value_text(v, unit) for v in out[col]]
    return out.reset_index(drop=True)
