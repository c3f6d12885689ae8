"""As-of ledger lists every face shows, decided once: what is overdue, open, unreferred, not
inspected or not submitted at the end of a month.

Each function takes the current ledger rows (as `Warehouse.read_ledgers` returns them) and a
month `YYYY-MM`, and judges the rows as they stood at that month's last day: an item closed after
it was still open then. Columns keep the ledgers' own field names (faces give them the ledgers'
Chinese headers) plus the computed ones named in each docstring.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from workbench import fmt
from workbench.contracts import (
    CASE_OPEN_STATUSES,
    CASE_WITHDRAWN,
    CHECK_DONE_STATUSES,
    LEDGERS,
    RECT_DONE_STATUSES,
    REVIEW_DONE,
    TALK_COUNTY_TARGET,
)
from workbench.declarations import IndicatorSet, clauses_of
from workbench.indicators import REMIND_LEVEL, TALK_LEVEL, TALK_LEVELS, span_window
from workbench.measures import MeasureEngine, month_index
from workbench.messages import t

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


def institution_names(ledgers: Ledgers) -> pd.Series:
    """institution_id → institution_name (institutions are not personal data)."""
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
    # the status as the month's end saw it: a case closed later was still open then
    later = closed[mask] > end
    out.loc[later, "status"] = [
        t("lists.status.closed_later", date=fmt.date_label(d)) for d in closed[mask][later]
    ]
    since = filed[mask].where(filed[mask].notna() & (filed[mask] <= end), found[mask])
    out["days_open"] = (end - since).dt.days.astype("Int64")
    out["institution_name"] = out["institution_id"].map(institution_names(ledgers))
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
    out["institution_name"] = out["institution_id"].map(institution_names(ledgers))
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


# ---------------------------------------------------------------------------------------------
# Time limits (办案时限, 核查时限, 办理时限): open items past their due date at the month's end


def _overdue(out: pd.DataFrame, end: pd.Timestamp, key: str) -> pd.DataFrame:
    """`out` rows whose `due_date` is before `end`, with `days_overdue`; longest first."""
    due = _dates(out, "due_date")
    out = out.loc[due < end].copy()
    out["days_overdue"] = (end - due[due < end]).dt.days.astype("Int64")
    return out.sort_values(
        ["days_overdue", key], ascending=[False, True], kind="stable"
    ).reset_index(drop=True)


def overdue_cases(ledgers: Ledgers, period: str, county: str | None = None) -> pd.DataFrame:
    """Open cases (as `open_cases` finds them) past their 办案时限 at the month's end. Adds
    `days_overdue` to `open_cases`' columns; longest overdue first. A case with no 办案时限 is
    not on it."""
    return _overdue(open_cases(ledgers, period, county), period_end(period), "case_id")


def overdue_leads(ledgers: Ledgers, period: str, county: str | None = None) -> pd.DataFrame:
    """Leads received by the month's end and not checked by it (checked = 属实 or 不属实 with no
    check date or one by the month's end), past their 核查时限. Adds `days_open` (since
    receipt) and `days_overdue`; longest overdue first."""
    end = period_end(period)
    df = _rows(ledgers, "leads", county)
    received, checked_on = _dates(df, "received_date"), _dates(df, "checked_date")
    checked = df["check_status"].isin(CHECK_DONE_STATUSES) & (
        checked_on.isna() | (checked_on <= end)
    )
    out = df.loc[(received <= end) & ~checked].copy()
    out["days_open"] = (end - received[out.index]).dt.days.astype("Int64")
    return _overdue(out, end, "lead_id")


def overdue_complaints(ledgers: Ledgers, period: str, county: str | None = None) -> pd.DataFrame:
    """Complaints received by the month's end and not closed by it, past their 办理时限. Adds
    `days_open` and `days_overdue`; longest overdue first."""
    end = period_end(period)
    df = _rows(ledgers, "complaints", county)
    received, closed = _dates(df, "received_date"), _dates(df, "closed_date")
    out = df.loc[(received <= end) & (closed.isna() | (closed > end))].copy()
    out["days_open"] = (end - received[out.index]).dt.days.astype("Int64")
    return _overdue(out, end, "complaint_id")


# ---------------------------------------------------------------------------------------------
# 行刑衔接: the rows a share indicator still lacks


def shortfall_rows(
    ledgers: Ledgers,
    iset: IndicatorSet,
    indicator: str,
    period: str,
    county: str | None = None,
    span: str | None = None,
) -> pd.DataFrame:
    """The rows a share indicator's denominator counts and its numerator does not, in the
    window the indicator is computed on (its span, else `span`, else the set's default) — for
    `police_referral_rate`, the 涉嫌犯罪 cases not referred to the police. Both sides come from
    the declared measures, so the list always matches the number. Adds `institution_name` and
    `days_waiting` (from filing, else discovery, to the month's end) where the ledger has them;
    longest waiting first. Empty unless the indicator has one numerator and one denominator
    measure on the same ledger."""
    ind = iset.indicators[indicator]
    num, den = (getattr(ind, part) for part in ("numerator", "denominator"))
    nums = [num] if isinstance(num, str) else list(num or ())
    dens = [den] if isinstance(den, str) else list(den or ())
    if len(nums) != 1 or len(dens) != 1:
        return pd.DataFrame()
    m_num, m_den = iset.measures[nums[0]], iset.measures[dens[0]]
    if m_num.ledger != m_den.ledger or m_den.ledger is None:
        return pd.DataFrame()
    engine = MeasureEngine(ledgers)
    end_m = month_index(period)
    window = span_window(ind.span or span or iset.default_span, end_m, iset.calendar)
    code = None if county is None else str(county)
    if code is not None and code not in set(engine.counties):
        return _rows(ledgers, m_den.ledger, code).iloc[0:0]
    have = engine.rows(m_den, code, window)
    done = engine.rows(m_num, code, window)
    out = have.loc[~have.index.isin(done.index)].copy()
    end = period_end(period)
    if "found_date" in out:
        since = _dates(out, "filed_date").fillna(_dates(out, "found_date"))
        out["days_waiting"] = (end - since).dt.days.astype("Int64")
        out = out.sort_values("days_waiting", ascending=False, kind="stable", na_position="last")
    if "institution_id" in out:
        out["institution_name"] = out["institution_id"].map(institution_names(ledgers))
    return out.reset_index(drop=True)


def referral_indicator(iset: IndicatorSet) -> str | None:
    """The set's 行刑衔接 rate, found in the declarations: a share of cases whose numerator
    counts referred cases (a `referred_police` filter) — so no face names the indicator."""
    for code, ind in iset.indicators.items():
        if ind.type != "share" or len(ind.numerator) != 1 or len(ind.denominator) != 1:
            continue
        m = iset.measures[ind.numerator[0]]
        if m.ledger == "cases" and any(c.field == "referred_police" for c in clauses_of(m.where)):
            return code
    return None


def unreferred_cases(
    ledgers: Ledgers,
    iset: IndicatorSet,
    period: str,
    county: str | None = None,
    threshold: float | None = None,
) -> pd.DataFrame:
    """The cases the 行刑衔接 rate says should have gone to the police and have not: the rows
    behind its gap (`shortfall_rows` of `referral_indicator`), so the list and the rate always
    agree. A set without such an indicator falls back to `unreferred_over_threshold` (when a
    `threshold` is given). Largest amount first, with `institution_name`, `days_waiting` and,
    when the set declares `referral_days`, `past_limit` (waiting longer than that)."""
    code = referral_indicator(iset)
    if code is None:
        if threshold is None:
            return _rows(ledgers, "cases", county).iloc[0:0]
        return unreferred_over_threshold(ledgers, period, threshold, county)
    out = shortfall_rows(ledgers, iset, code, period, county)
    if not len(out):
        return _rows(ledgers, "cases", county).iloc[0:0].assign(institution_name=None)
    limit = iset.parameters.get("referral_days")
    if limit is not None:  # waited longer than the declared 移送时限
        out["past_limit"] = (out["days_waiting"] > float(limit.value)).fillna(False)
    return out.sort_values(
        ["amount_involved", "case_id"], ascending=[False, True], kind="stable", na_position="last"
    ).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# 约谈: follow-ups of the register, and whether the 约谈名单 was acted on

TALK_FOLLOWUPS = ("overdue", "not_rectified", "pending")  # worst first; labels in the catalogue


def talk_followups(ledgers: Ledgers, period: str, county: str | None = None) -> pd.DataFrame:
    """约谈 held by the month's end whose 复查 is still open then: `overdue` (复查时限 passed, no
    复查 by the month's end), `not_rectified` (复查 found it not 整改到位 and no later 约谈 of the
    same unit followed), `pending` (复查时限 still ahead). Adds `followup`, `followup_label` and
    `days_overdue`; overdue first, then by 复查时限."""
    end = period_end(period)
    df = _rows(ledgers, "talks", county)
    talked, due, reviewed = (_dates(df, c) for c in ("talk_date", "review_due", "review_date"))
    held = talked <= end
    reviewed_by = reviewed.notna() & (reviewed <= end)
    unit = df["county_code"].astype(object).fillna("").astype(str)
    for col in ("target_type", "institution_id"):
        unit = unit + "|" + df[col].astype(object).fillna("").astype(str)
    latest = talked.where(held).groupby(unit).transform("max")
    followed = talked < latest
    result = df["review_result"].where(reviewed_by)
    status = pd.Series(None, index=df.index, dtype=object)
    status[held & ~reviewed_by & (due < end)] = "overdue"
    status[held & ~reviewed_by & ~(due < end)] = "pending"
    status[held & reviewed_by & (result != REVIEW_DONE) & ~followed] = "not_rectified"
    out = df.loc[status.notna()].copy()
    out["followup"] = status[out.index]
    out["followup_label"] = [t(f"talk.followup.{s}") for s in out["followup"]]
    late = out["followup"] == "overdue"
    out["days_overdue"] = (end - due[out.index]).dt.days.where(late).astype("Int64")
    out["_order"] = out["followup"].map({s: i for i, s in enumerate(TALK_FOLLOWUPS)})
    out["_due"] = due[out.index]
    out = out.sort_values(["_order", "_due", "talk_id"], kind="stable", na_position="last")
    return out.drop(columns=["_order", "_due"]).reset_index(drop=True)


TALK_LIST_COLUMNS = [
    "county_code",
    "county_name",
    "criteria",
    "reasons",
    "list_level",
    "held",
    "talk_id",
    "talk_date",
    "review_due",
    "review_date",
    "review_result",
    "followup",
    "followup_label",
]

# what is known of a listed county's 约谈 and its 复查 at the month's end (`followup`); labels
# `talk.followup.<code>` (relisted: `talk.followup.relisted_<level>`)
TALK_LIST_STATES = (
    "not_held",  # on the 约谈名单, no 约谈 of the county this year
    "not_required",  # on the 督促名单 only, no 约谈 this year: none is due
    "pending",  # 复查时限 still ahead
    "overdue",  # 复查时限 passed, no 复查 by the month's end
    "not_rectified",  # 复查 found it not put right
    "rectified",  # 复查 found it put right after the evidence that lists the county now
    "relisted",  # 复查 recorded 整改到位, yet the county is listed on evidence from after it
)


def talk_list_followup(
    talk_list: pd.DataFrame, ledgers: Ledgers, period: str, since: str | None = None
) -> pd.DataFrame:
    """The 约谈名单 and 督促名单 (`Evaluation.lagging`, its `list_level`) beside the register:
    for each county on them, whether the county was talked to (a 约谈 of 区县医保部门 from `since`,
    default the period's January, to the month's end), the latest such 约谈, its 复查 as it
    stood at the month's end and what that means now (`followup`, `TALK_LIST_STATES`).

    A 复查 that recorded 整改到位 on or before the last day of the month the listing evidence
    stands at (the list's `as_of`) is contradicted by it: the county still misses what it was
    talked to about, so it reads `relisted` — 再次约谈 on the 约谈名单, 督促整改 on the 督促名单 —
    never 已整改到位 beside a listing. A list without `list_level` (an older run) is all 约谈."""
    if talk_list is None or not len(talk_list):
        return pd.DataFrame(columns=TALK_LIST_COLUMNS)
    end = period_end(period)
    start = pd.Timestamp(f"{since or str(period)[:4] + '-01'}-01")
    talks = _rows(ledgers, "talks", None)
    when = _dates(talks, "talk_date")
    mine = talks.loc[
        (talks["target_type"] == TALK_COUNTY_TARGET) & (when >= start) & (when <= end)
    ].copy()
    mine["_when"] = when[mine.index]
    last = mine.sort_values(["_when", "talk_id"], kind="stable").drop_duplicates(
        "county_code", keep="last"
    )
    last = last.assign(county_code=last["county_code"].astype(str)).set_index("county_code")
    out = talk_list[["county_code", "county_name", "criteria", "reasons"]].copy()
    level = (
        talk_list["list_level"]
        if "list_level" in talk_list
        else pd.Series(None, index=talk_list.index)
    )
    out["list_level"] = level.where(level.isin(TALK_LEVELS), TALK_LEVEL).to_numpy(dtype=object)
    code = out["county_code"].astype(str)
    out["held"] = code.isin(last.index)
    for col in ("talk_id", "talk_date", "review_due", "review_date", "review_result"):
        # a dict: mapping through an empty date Series fails in pandas
        out[col] = code.map(last[col].to_dict()) if col in last else None
    for col in ("talk_date", "review_due", "review_date"):  # dates even when none matched
        out[col] = pd.to_datetime(out[col], errors="coerce")
    reviewed = pd.to_datetime(out["review_date"], errors="coerce")
    out.loc[~(reviewed <= end), "review_result"] = None
    out.loc[~(reviewed <= end), "review_date"] = pd.NaT
    due = pd.to_datetime(out["review_due"], errors="coerce")
    as_of = talk_list["as_of"] if "as_of" in talk_list else pd.Series(period, index=out.index)
    seen_by = pd.Series(
        [period_end(m) if isinstance(m, str) and m else end for m in as_of], index=out.index
    )
    remind = out["list_level"].eq(REMIND_LEVEL)
    rectified = out["review_result"].eq(REVIEW_DONE).fillna(False)
    status = np.select(
        [
            ~out["held"] & remind,
            ~out["held"],
            rectified & (reviewed <= seen_by),
            rectified,
            reviewed <= end,
            due < end,
        ],
        ["not_required", "not_held", "relisted", "rectified", "not_rectified", "overdue"],
        "pending",
    )
    out["followup"] = status
    out["followup_label"] = [
        t(f"talk.followup.{s}_{lv}" if s == "relisted" else f"talk.followup.{s}")
        for s, lv in zip(status, out["list_level"], strict=True)
    ]
    return out[TALK_LIST_COLUMNS].reset_index(drop=True)


def _dated_review(r: Mapping[str, object]) -> str:
    """The 复查 with its date (`talk.dated.<state>`), or its state alone when undated."""
    label = str(r.get("followup_label") or "")
    if fmt.missing(r.get("review_date")):
        return label
    key = f"talk.dated.{r.get('followup')}"
    if r.get("followup") == "relisted":
        key += f"_{r.get('list_level') or TALK_LEVEL}"
    return t(key, date=fmt.date_label(r["review_date"]))


def talk_list_state(r: Mapping[str, object]) -> str:
    """A listed county's 约谈 and 复查 in one phrase, as every face writes it: 尚未约谈 /
    不约谈，督促整改 / 2025年11月18日已约谈，复查时限2026年1月15日，复查待办 / 2025年8月20日已约谈，
    2025年10月24日复查记为整改到位，但此后仍未达标，需再次约谈."""
    if not r.get("held"):
        return str(r.get("followup_label") or "")
    return t("talk.state.held", date=fmt.date_label(r["talk_date"]), state=review_text(r))


def review_text(r: Mapping[str, object]) -> str:
    """What is known of a listed county's 复查 (the cockpit's 复查情况 column, beside 是否约谈):
    `—` when no 约谈 was held (nothing to review), else its state with the 复查 date or,
    while open, the 复查时限."""
    if not r.get("held"):
        return "—"
    label = str(r.get("followup_label") or "")
    if r.get("followup") in ("pending", "overdue") and not fmt.missing(r.get("review_due")):
        return t("talk.state.review_due", due=fmt.date_label(r["review_due"]), state=label)
    return _dated_review(r)


# ---------------------------------------------------------------------------------------------
# The registers: 自查零问题 institutions, 记分 bands


def self_check_zero(ledgers: Ledgers, period: str, county: str | None = None) -> pd.DataFrame:
    """Institutions whose 自查 found no problem (a report with 自查发现问题数 = 0 from the
    period's January to the month's end) — the 重点抽查 targets of 002 三（二）3 — with
    `institution_name`, the report date and `inspected_after` (the first inspection after the
    report, by the month's end, or empty); not yet inspected first."""
    end = period_end(period)
    start = pd.Timestamp(f"{str(period)[:4]}-01-01")
    df = _rows(ledgers, "self_inspections", county)
    when = _dates(df, "report_date")
    zero = pd.to_numeric(df["problems_found"], errors="coerce") == 0
    out = df.loc[zero & (when >= start) & (when <= end)].copy()
    out["institution_name"] = out["institution_id"].map(institution_names(ledgers))
    insp = ledgers.get("inspections")
    after = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
    if insp is not None and len(insp) and len(out):
        idate = _dates(insp, "inspection_date")
        seen = pd.DataFrame({"institution_id": insp["institution_id"].astype(str), "d": idate}).loc[
            idate <= end
        ]
        pairs = (
            out[["institution_id"]]
            .astype(str)
            .assign(r=_dates(out, "report_date"), _i=out.index)
            .merge(seen, on="institution_id", how="left")
        )
        pairs = pairs[pairs["d"] > pairs["r"]]
        first = pairs.groupby("_i")["d"].min()
        after.loc[first.index] = first
    out["inspected_after"] = after
    return out.sort_values(
        ["inspected_after", "report_date", "record_id"], na_position="first", kind="stable"
    ).reset_index(drop=True)


STAFF_BAND_PARAMETER = "staff_points_band_"  # staff_points_band_1 … _n: the bands' upper bounds


def staff_band_limits(iset: IndicatorSet) -> tuple[float, ...]:
    """The 记分 bands' upper bounds a set declares (parameters `staff_points_band_1` … in their
    number's order), so no face names them; () when the set declares none."""
    found = []
    for name, p in iset.parameters.items():
        tail = name[len(STAFF_BAND_PARAMETER) :]
        if name.startswith(STAFF_BAND_PARAMETER) and tail.isdigit():
            found.append((int(tail), float(p.value)))
    return tuple(v for _, v in sorted(found))


def staff_points_by_band(
    ledgers: Ledgers, period: str, limits: tuple[float, ...], county: str | None = None
) -> pd.DataFrame:
    """Each scored staff member's points from the period's January to the month's end (points
    reset yearly) and the band they fall in: `limits` are the bands' upper bounds (e.g. 3, 6, 9,
    12 from the declarations), giving labels 1–3分, 4–6分, …; beyond the last, 12分以上. Columns:
    county_code, institution_id, institution_name, staff_code, staff_name, staff_type, points,
    records, band (0-based), band_label; most points first."""
    end = period_end(period)
    start = pd.Timestamp(f"{str(period)[:4]}-01-01")
    df = _rows(ledgers, "staff_points", county)
    when = _dates(df, "scored_date")
    df = df.loc[(when >= start) & (when <= end)].assign(
        points=pd.to_numeric(df["points"], errors="coerce")
    )
    cols = ["county_code", "institution_id", "staff_code"]
    if not len(df):
        return pd.DataFrame(
            columns=[
                *cols,
                "institution_name",
                "staff_name",
                "staff_type",
                "points",
                "records",
                "band",
                "band_label",
            ]
        )
    per = (
        df.groupby(cols, sort=True, dropna=False)
        .agg(
            staff_name=("staff_name", "last"),
            staff_type=("staff_type", "last"),
            points=("points", "sum"),
            records=("record_id", "size"),
        )
        .reset_index()
    )
    bounds = sorted(float(x) for x in limits)
    band = np.searchsorted(np.asarray(bounds), per["points"].to_numpy(dtype=float), side="left")
    lows = [1.0, *(b + 1 for b in bounds)]
    labels = [
        t("talk.band", low=f"{lo:g}", high=f"{hi:g}") for lo, hi in zip(lows, bounds, strict=False)
    ] + [t("talk.band_over", high=f"{bounds[-1]:g}" if bounds else "0")]
    per["band"] = band
    per["band_label"] = [labels[b] for b in band]
    per["institution_name"] = per["institution_id"].map(institution_names(ledgers))
    return per.sort_values(
        ["points", "staff_code"], ascending=[False, True], kind="stable"
    ).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Every county's lists at once (the monthly batch runs hundreds of counties in one kernel)

ListFn = Callable[[Ledgers, str, "str | None"], pd.DataFrame]

# the per-county lists a county report shows, by name: each takes (ledgers, period, county)
COUNTY_LISTS: dict[str, ListFn] = {
    "overdue_rectifications": overdue_rectifications,
    "open_cases": open_cases,
    "key_monitored_not_inspected": key_monitored_not_inspected,
    "overdue_cases": overdue_cases,
    "overdue_leads": overdue_leads,
    "overdue_complaints": overdue_complaints,
    "talk_followups": talk_followups,
}


def by_county(rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """A list's rows split by `county_code` (as text), each county's in the list's order."""
    if not len(rows) or "county_code" not in rows:
        return {}
    keys = rows["county_code"].astype(str)
    return {str(k): g.reset_index(drop=True) for k, g in rows.groupby(keys, sort=False)}


class CountyLists:
    """The lists of `COUNTY_LISTS` (and `unreferred_cases` when a set is given) judged once for
    the whole city on first use and handed out by county: the same rows, columns and order as
    the list function called with that county — every list is row-wise judgements (a 约谈's
    follow-up looks only at talks of the same county) and stable sorts, which commute with
    taking one county's rows. A county with no rows gets the city list's empty slice."""

    def __init__(
        self,
        ledgers: Ledgers,
        period: str,
        iset: IndicatorSet | None = None,
        threshold: float | None = None,
    ) -> None:
        self.ledgers = ledgers
        self.period = period
        self.lists: dict[str, ListFn] = dict(COUNTY_LISTS)
        if iset is not None:
            self.lists["unreferred_cases"] = lambda lg, p, c: unreferred_cases(
                lg, iset, p, c, threshold
            )
        self._split: dict[str, tuple[dict[str, pd.DataFrame], pd.DataFrame]] = {}

    def city(self, name: str) -> pd.DataFrame:
        """The whole city's list (computed once)."""
        return self._parts(name)[1]

    def get(self, name: str, county: str) -> pd.DataFrame:
        """One county's rows of list `name`."""
        groups, full = self._parts(name)
        got = groups.get(str(county))
        return got if got is not None else full.iloc[0:0]

    def _parts(self, name: str) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
        if name not in self._split:
            full = self.lists[name](self.ledgers, self.period, None)
            self._split[name] = (by_county(full), full)
        return self._split[name]
