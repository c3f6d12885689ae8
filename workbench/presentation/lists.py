"""As-of ledger lists every face shows, decided once: what is overdue, open, unreferred, not
inspected or not submitted at the end of a month.

Each function takes the current ledger rows (as `Warehouse.read_ledgers` returns them) and a
month `YYYY-MM`, and judges the rows as they stood at that month's last day: an item closed after
it was still open then. Columns keep the ledgers' own field names (faces give them the ledgers'
Chinese headers) plus the computed ones named in each docstring.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from workbench.contracts import CASE_OPEN_STATUSES, CASE_WITHDRAWN, LEDGERS, RECT_DONE_STATUSES

Ledgers = Mapping[str, pd.DataFrame]

# rectification sources a leader wants first (seed 001: 巡视巡察 and 审计 findings are political
# tasks), then the rest
PRIORITY_SOURCES = ("巡视巡察", "审计")


def period_end(period: str) -> pd.Timestamp:
    return pd.Period(str(period)[:7], freq="M").end_time.normalize()


def _rows(ledgers: Ledgers, name: str, county: str | None) -> pd.DataFrame:
    df = ledgers.get(name)
    if df is None:
        return pd.DataFrame(columns=[f.name for f in LEDGERS[name].fields])
    if county:
        df = df[df["county_code"].astype(str) == str(county)]
    return df


def _dates(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df:
        return pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns]")
    return pd.to_datetime(df[col], errors="coerce")


def _institution_names(ledgers: Ledgers) -> pd.Series:
    inst = ledgers.get("institutions")
    if inst is None or not len(inst):
        return pd.Series(dtype=object)
    return inst.drop_duplicates("institution_id").set_index("institution_id")["institution_name"]


def overdue_rectifications(
    ledgers: Ledgers, period: str, county: str | None = None
) -> pd.DataFrame:
    """Items found by the month's end, due before it and not done by it (done = a done status
    with no close date or a close date by the month's end). Adds `days_overdue`; 巡视巡察 and
    审计 findings first, then the longest overdue."""
    end = period_end(period)
    df = _rows(ledgers, "rectifications", county)
    deadline, found, closed = (_dates(df, c) for c in ("deadline", "found_date", "closed_date"))
    done = df["status"].isin(RECT_DONE_STATUSES) & (closed.isna() | (closed <= end))
    mask = (deadline < end) & (found <= end) & ~done
    out = df.loc[mask].copy()
    out["days_overdue"] = (end - deadline[mask]).dt.days.astype("Int64")
    prio = out["source"].map({s: i for i, s in enumerate(PRIORITY_SOURCES)}).fillna(9)
    out = out.assign(_prio=prio).sort_values(
        ["_prio", "days_overdue", "issue_id"], ascending=[True, False, True], kind="stable"
    )
    return out.drop(columns="_prio").reset_index(drop=True)


def open_cases(ledgers: Ledgers, period: str, county: str | None = None) -> pd.DataFrame:
    """Cases found by the month's end and not closed by it (withdrawn cases excluded). Adds
    `institution_name` and `days_open` (from filing, else from discovery); largest amount first."""
    end = period_end(period)
    df = _rows(ledgers, "cases", county)
    found, filed, closed = (_dates(df, c) for c in ("found_date", "filed_date", "closed_date"))
    still_open = closed.isna() | (closed > end)
    status_ok = df["status"].isin(CASE_OPEN_STATUSES) | (closed > end)
    mask = (found <= end) & still_open & status_ok & (df["status"] != CASE_WITHDRAWN)
    out = df.loc[mask].copy()
    since = filed[mask].where(filed[mask].notna() & (filed[mask] <= end), found[mask])
    out["days_open"] = (end - since).dt.days.astype("Int64")
    out["institution_name"] = out["institution_id"].map(_institution_names(ledgers))
    out = out.sort_values(
        ["amount_involved", "days_open", "case_id"],
        ascending=[False, False, True],
        na_position="last",
        kind="stable",
    )
    return out.reset_index(drop=True)


def unreferred_over_threshold(
    ledgers: Ledgers,
    period: str,
    threshold: float,
    county: str | None = None,
    since: str | None = None,
) -> pd.DataFrame:
    """Cases found from `since` (a month, default the period's January) to the month's end with
    an amount over `threshold` yuan and not referred to the police. Adds `institution_name`."""
    end = period_end(period)
    start = pd.Timestamp(f"{since or str(period)[:4] + '-01'}-01")
    df = _rows(ledgers, "cases", county)
    found = _dates(df, "found_date")
    amount = pd.to_numeric(df["amount_involved"], errors="coerce")
    referred = df["referred_police"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    mask = (found >= start) & (found <= end) & (amount > float(threshold)) & ~referred
    out = df.loc[mask].copy()
    out["institution_name"] = out["institution_id"].map(_institution_names(ledgers))
    return out.sort_values(
        ["amount_involved", "case_id"], ascending=[False, True], kind="stable"
    ).reset_index(drop=True)


def key_monitored_not_inspected(
    ledgers: Ledgers, period: str, county: str | None = None
) -> pd.DataFrame:
    """Key-monitored institutions with no inspection in the calendar quarter the month falls in
    (up to the month's end). Adds `last_inspection` (any earlier inspection, or empty)."""
    end = period_end(period)
    q_start = pd.Timestamp(end.year, 3 * ((end.month - 1) // 3) + 1, 1)
    inst = _rows(ledgers, "institutions", county)
    key = inst["key_monitored"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    inst = inst.loc[key]
    insp = ledgers.get("inspections")
    if insp is None:
        insp = pd.DataFrame(columns=["institution_id", "inspection_date"])
    when = _dates(insp, "inspection_date")
    this_q = set(insp.loc[(when >= q_start) & (when <= end), "institution_id"].astype(str))
    last = when[when <= end].groupby(insp.loc[when <= end, "institution_id"].astype(str)).max()
    out = inst[~inst["institution_id"].astype(str).isin(this_q)].copy()
    out["last_inspection"] = out["institution_id"].astype(str).map(last)
    return out.sort_values(
        ["last_inspection", "institution_id"], na_position="first", kind="stable"
    ).reset_index(drop=True)


NOT_SUBMITTED_COLUMNS = ["county_code", "county_name"]


def not_submitted(
    submissions: pd.DataFrame | None, counties: pd.DataFrame | None, period: str
) -> pd.DataFrame:
    """Counties of the roster with no live submission for the month (replaced ones don't count)."""
    if counties is None or not len(counties):
        return pd.DataFrame(columns=NOT_SUBMITTED_COLUMNS)
    roster = counties.drop_duplicates("county_code")[["county_code", "county_name"]].copy()
    roster["county_code"] = roster["county_code"].astype(str)
    got: set[str] = set()
    if submissions is not None and len(submissions):
        subs = submissions
        if "status" in subs:
            subs = subs[subs["status"].fillna("有效") != "已被替换"]
        got = set(subs.loc[subs["period"].astype(str) == str(period), "county_code"].astype(str))
    out = roster[~roster["county_code"].isin(got)]
    return out.sort_values("county_code").reset_index(drop=True)[NOT_SUBMITTED_COLUMNS]


def count_by_county(rows: pd.DataFrame) -> pd.Series:
    """How many rows of a list each county has (for a number behind a list)."""
    if not len(rows):
        return pd.Series(dtype="int64")
    return rows.groupby(rows["county_code"].astype(str)).size().astype(np.int64)
