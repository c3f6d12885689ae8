"""How fresh the data is and who has submitted: when ledgers were last loaded, and per county for
a month whether its ledgers came in on time, late (after the due day the calendar declares),
not at all, or with rows still waiting in quarantine.

When a file came in is `received_time`: the receipt date declared at ingest (`workbench ingest
--received-on`, for files loaded long after the county sent them), else the moment it was
loaded. Every face that says when a county reported reads it through `submission_states`.

`submission_states` is pure (tables in, a table out); `read` and `freshness` are the thin edge
that reads the warehouse (read-only, closed at once). `workbench status`, the cockpit's
freshness line and `workbench serve`'s status endpoint all read from here, so they agree.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from workbench import fmt
from workbench.messages import t
from workbench.presentation.lists import not_submitted

ON_TIME, LATE, MISSING = "on_time", "late", "missing"
STATES = (ON_TIME, LATE, MISSING)
REPLACED = "已被替换"
UNREADABLE = "无法识别"
COLUMNS = [
    "county_code",
    "county_name",
    "state",
    "state_label",
    "first_at",
    "last_at",
    "submissions",
    "quarantined",
]


class ReceivedDateError(ValueError):
    """A declared receipt date that cannot be right (malformed, in the future, or before the
    period the file reports on); the message is the Chinese sentence to show."""


_RECEIVED_FORMATS = ("%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M")
_PERIOD_START = re.compile(r"^(\d{4})(?:-(\d{2}))?(?![\d-])")


def parse_received(value: str | dt.date) -> dt.datetime:
    """`2026-01-05` or `2026-01-05T16:30` (a date alone is that day's 00:00, so a file
    received on the due day itself is on time) → a naive local datetime, like `ingested_at`."""
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=0, tzinfo=None)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    text = str(value).strip()
    for form in _RECEIVED_FORMATS:
        try:
            return dt.datetime.strptime(text, form)
        except ValueError:
            continue
    raise ReceivedDateError(t("fresh.received.malformed", value=value))


def period_start(period: str) -> dt.datetime | None:
    """The first moment of the period a file reports on (`2025-12` → 1 Dec 2025, `2025` →
    1 Jan 2025, a returned list's `2025-10·…` → 1 Oct 2025); None when the period is no date."""
    m = _PERIOD_START.match(str(period or ""))
    if not m or not 1 <= int(m.group(2) or 1) <= 12:
        return None
    return dt.datetime(int(m.group(1)), int(m.group(2) or 1), 1)


def check_received(at: dt.datetime, file: str, period: str, now: dt.datetime | None = None) -> None:
    """Refuse a receipt date a file cannot have: later than now, or before its period began."""
    now = now or dt.datetime.now()
    if at > now:
        raise ReceivedDateError(
            t("fresh.received.future", at=received_label(at), now=received_label(now))
        )
    start = period_start(period)
    if start is not None and at < start:
        raise ReceivedDateError(
            t(
                "fresh.received.before_period",
                at=received_label(at),
                file=file,
                period=period,
                start=fmt.date_label(start),
            )
        )


def received_label(at: dt.datetime) -> str:
    """`2026年1月5日` for a date alone, `2026年1月5日 16:30` with a time."""
    day = fmt.date_label(at)
    return day if (at.hour, at.minute) == (0, 0) else f"{day} {at:%H:%M}"


def received_time(submissions: pd.DataFrame) -> pd.Series:
    """When each submission was received: the receipt date declared at ingest (`received_at`)
    where there is one, else when the file was loaded (`ingested_at`). The one rule for "when
    did the county report"; a table without `received_at` (an older reader) is its loads."""
    loaded = pd.to_datetime(submissions["ingested_at"])
    if "received_at" not in submissions:
        return loaded
    return pd.to_datetime(submissions["received_at"]).fillna(loaded)


def due_at(period: str, due_day: int | None) -> pd.Timestamp | None:
    """The first moment a month's submission is late: day `due_day` of the next month is still
    on time (下月5日前 read inclusively), so the next day at 00:00. None without a due day."""
    if due_day is None:
        return None
    first_next = pd.Period(str(period)[:7], freq="M").end_time.normalize() + pd.Timedelta(days=1)
    return first_next + pd.Timedelta(days=int(due_day))


def submission_states(
    counties: pd.DataFrame | None,
    submissions: pd.DataFrame | None,
    quarantine: pd.DataFrame | None,
    period: str,
    due_day: int | None,
) -> pd.DataFrame:
    """One row per county of the roster (`counties`: county_code, county_name) for `period`.

    `submissions`: submission_id, county_code, period, ingested_at, received_at (optional),
    status (the warehouse's table); `quarantine`: submission_id, rows (quarantined rows per
    submission). A county is `missing` when it has no live submission for the month
    (`lists.not_submitted`), else `late` when its first submission for the month was received
    (`received_time`) at or after `due_at`, else `on_time`. `quarantined` counts the rows of
    its live submissions still in quarantine; `first_at` is when its first file for the month
    was received (a correction replacing it later does not make an on-time county late),
    `last_at` its latest."""
    if counties is None or not len(counties):
        return pd.DataFrame(columns=COLUMNS)
    roster = counties.drop_duplicates("county_code")[["county_code", "county_name"]].copy()
    roster["county_code"] = roster["county_code"].astype(str)
    subs = _month_rows(submissions, period)  # an unreadable file is no submission
    missing = set(not_submitted(subs, roster, period)["county_code"].astype(str))
    first = subs.groupby("county_code")["received"].min()
    last = subs.groupby("county_code")["received"].max()
    count = subs.groupby("county_code").size()
    live = subs[subs["status"].fillna("有效") != REPLACED]
    q = _quarantine_counts(quarantine)
    held = live.assign(q=live["submission_id"].map(q).fillna(0)).groupby("county_code")["q"].sum()
    due = due_at(period, due_day)

    out = roster.sort_values("county_code").reset_index(drop=True)
    codes = out["county_code"]
    # reindex, not map: pandas maps through an empty Series as float (a month nobody sent)
    out["first_at"] = first.reindex(codes.to_numpy()).to_numpy()
    out["last_at"] = last.reindex(codes.to_numpy()).to_numpy()
    out["submissions"] = codes.map(count).fillna(0).astype("int64")
    out["quarantined"] = codes.map(held).fillna(0).astype("int64")
    late = out["first_at"].notna() & (out["first_at"] >= due if due is not None else False)
    out["state"] = ON_TIME
    out.loc[late, "state"] = LATE
    out.loc[codes.isin(missing), "state"] = MISSING
    out["state_label"] = out["state"].map(lambda s: t(f"fresh.state.{s}"))
    return out[COLUMNS]


def _month_rows(submissions: pd.DataFrame | None, period: str) -> pd.DataFrame:
    cols = ["submission_id", "county_code", "period", "ingested_at", "status", "received"]
    if submissions is None or not len(submissions):
        return pd.DataFrame(columns=cols).astype({"received": "datetime64[ns]"})
    subs = submissions[submissions["period"].astype(str) == str(period)].copy()
    subs = subs[subs["status"].fillna("有效") != UNREADABLE]
    subs["county_code"] = subs["county_code"].astype(str)
    subs["received"] = received_time(subs)
    return subs


def _quarantine_counts(quarantine: pd.DataFrame | None) -> pd.Series:
    if quarantine is None or not len(quarantine):
        return pd.Series(dtype="int64")
    if "rows" in quarantine:
        return quarantine.groupby("submission_id")["rows"].sum()
    return quarantine.groupby("submission_id").size()


def summary(states: pd.DataFrame) -> dict[str, int]:
    """How many counties in each state, and how many have rows in quarantine."""
    counts = {s: int((states["state"] == s).sum()) for s in STATES}
    counts["quarantined"] = int((states["quarantined"] > 0).sum())
    return counts


# ───────────────────────────── the edge: reading the warehouse ─────────────────────────────


@dataclass
class Freshness:
    """What a page or the console says about the data's age and the month's submissions."""

    loaded_at: pd.Timestamp | None
    period: str | None
    due_day: int | None
    states: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=COLUMNS))

    @property
    def counts(self) -> dict[str, int]:
        return summary(self.states)

    def missing_names(self) -> list[str]:
        return list(self.states.loc[self.states["state"] == MISSING, "county_name"].astype(str))

    def as_json(self) -> dict:
        """Plain values for the serve status endpoint and the page."""
        return {
            "loaded_at": None if self.loaded_at is None else self.loaded_at.isoformat(),
            "loaded_label": loaded_label(self.loaded_at),
            "period": self.period,
            "due_day": self.due_day,
            "counts": self.counts,
            "missing": self.missing_names(),
            "line": line(self),
        }


def loaded_label(at: pd.Timestamp | None) -> str:
    """`2025年12月6日 14:03`, or a dash when nothing was ever loaded."""
    if at is None or pd.isna(at):
        return "—"
    return f"{fmt.date_label(at)} {at:%H:%M}"


def line(fr: Freshness) -> str:
    """The one-line freshness text shown above the cockpit and by `workbench status`."""
    loaded = t("fresh.loaded", at=loaded_label(fr.loaded_at))
    if fr.period is None or not len(fr.states):
        return loaded
    c = fr.counts
    parts = [
        t("fresh.counts", period=fmt.month_label(fr.period), on_time=c[ON_TIME], late=c[LATE]),
        t("fresh.missing", n=c[MISSING], names="、".join(fr.missing_names()[:5]))
        if c[MISSING]
        else t("fresh.none_missing"),
    ]
    if c["quarantined"]:
        parts.append(t("fresh.quarantined", n=c["quarantined"]))
    if fr.due_day is None:
        parts.append(t("fresh.no_due_day"))
    return loaded + t("fresh.sep") + "，".join(parts)


def report_due_day(dirs: Iterable[Path] | None = None) -> int | None:
    """The due day declared by a calendar in the indicator declarations (the first calendar,
    by code, that declares one); None when none does."""
    from workbench.config import indicators_dir
    from workbench.declarations.issues import Issues
    from workbench.declarations.loading import _yaml_files, read_files

    paths = _yaml_files(list(dirs) if dirs is not None else [indicators_dir()])
    files = read_files(paths, Issues())
    for code in sorted(files):
        cal = getattr(files[code], "calendar", None)
        if cal is not None and cal.report_due_day is not None:
            return int(cal.report_due_day)
    return None


def read(path: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(counties roster, submissions, quarantined rows per submission) from the warehouse,
    opened read-only and closed at once."""
    from workbench.warehouse import Warehouse

    with Warehouse(Path(path), read_only=True) as wh:
        subs = wh.con.execute(
            "SELECT submission_id, county_code, period, ingested_at, received_at, status "
            "FROM submissions"
        ).df()
        quarantine = wh.con.execute(
            "SELECT submission_id, count(*) AS rows FROM quarantine GROUP BY submission_id"
        ).df()
        counties = wh.read_ledger("counties", columns=["county_code", "county_name"])
    return counties, subs, quarantine


def latest_period(submissions: pd.DataFrame) -> str | None:
    """The latest month any county submitted for (`YYYY-MM`), or None."""
    if submissions is None or not len(submissions):
        return None
    periods = submissions["period"].dropna().astype(str)
    periods = periods[periods.map(fmt.is_month)]
    return str(periods.max())[:7] if len(periods) else None


def freshness(
    path: str | os.PathLike | None = None,
    period: str | None = None,
    due_day: int | None | bool = True,
) -> Freshness:
    """The warehouse's freshness: last load time and, for `period` (default: the latest month
    submitted), each county's state. `due_day=True` reads it from the calendar declarations."""
    from workbench.config import warehouse_path

    counties, subs, quarantine = read(warehouse_path(path))
    if due_day is True:
        due_day = report_due_day()
    loaded = pd.to_datetime(subs["ingested_at"]).max() if len(subs) else None
    loaded = None if loaded is None or pd.isna(loaded) else pd.Timestamp(loaded)
    period = period or latest_period(subs)
    states = (
        submission_states(counties, subs, quarantine, period, due_day or None)
        if period
        else pd.DataFrame(columns=COLUMNS)
    )
    return Freshness(loaded, period, due_day or None, states)
