"""What the faces (cockpit, 通报) show about screening, decided once here, as plain tables.

Pure — frames in, frames out — so a face renders and never judges: `screening_tables` gives
hits and leads by rule and county, the monthly trend and coverage (settlements screened ÷
settlements); `check_counts` / `checks_at` give checks and 属实率 per rule (so a weak rule shows)
as the leads ledger stood at a month's end — the one rule the cockpit and the 通报 both read.
`read_inputs(wh)` fetches the inputs.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import pandas as pd

from workbench.contracts import CASE_WITHDRAWN

CHECKED = ("属实", "不属实")
CONFIRMED = "属实"


def _rate(num: pd.Series, den: pd.Series) -> pd.Series:
    """num ÷ den, missing where den is 0 (never 0 or infinity)."""
    den = den.astype("float64")
    return (num.astype("float64") / den.where(den > 0)).astype("float64")


def screening_tables(
    scr_leads: pd.DataFrame,
    coverage: pd.DataFrame,
    rule_names: Mapping[str, str],
) -> dict[str, pd.DataFrame]:
    """Counts for the cockpit and the 通报: what screening found, nothing about checks (those are
    counted as the ledger stood at a month's end, by `check_counts` / `checks_at` only).

    `scr_leads`: every screening lead (lead_id, rule_code, county_code, month, hit_count,
    amount, status 已下发/已抑制); `coverage`: county_code, month, settlements, screened.
    """
    sl = scr_leads.copy()
    sl["issued"] = (sl["status"] == "已下发").astype(int)
    sl["suppressed"] = (sl["status"] == "已抑制").astype(int)
    sl["amount"] = sl["amount"].astype("float64")
    sl["rule_name"] = sl["rule_code"].map(dict(rule_names))

    by_rule_county = (
        sl.groupby(["rule_code", "rule_name", "county_code", "month"], dropna=False)
        .agg(
            leads=("issued", "sum"),
            suppressed=("suppressed", "sum"),
            hits=("hit_count", "sum"),
            amount=("amount", "sum"),
        )
        .reset_index()
        .sort_values(["month", "rule_code", "county_code"])
        .reset_index(drop=True)
    )
    trend = (
        sl[sl["issued"] == 1]
        .groupby(["month", "rule_code"])
        .agg(leads=("issued", "sum"), amount=("amount", "sum"))
        .reset_index()
        .sort_values(["month", "rule_code"])
        .reset_index(drop=True)
    )
    cov = coverage.copy()
    if len(cov):
        cov["rate"] = _rate(cov["screened"], cov["settlements"])
    else:
        cov["rate"] = pd.Series(dtype="float64")
    return {
        "by_rule_county": by_rule_county,
        "trend": trend,
        "coverage": cov.reset_index(drop=True),
    }


def read_inputs(wh) -> dict[str, object]:
    """From a warehouse (empty frames before any run): `scr_leads`, `coverage` and
    `rule_names` (the inputs of `screening_tables`) and `leads` (the ledger's lead_id,
    check_status, checked_date, case_id — what `check_counts` reads). `coverage` is the
    declared table `screening_coverage` (the screening set's 疑点数据覆盖率 reads it: every month
    of the extract, those never screened with 0 screened) when the warehouse has it, else the
    run's own `scr_coverage` (screened months only)."""
    from workbench.screening.rules import load_rules, rule_sources
    from workbench.screening.run import COVERAGE_TABLE, ensure_run_schema
    from workbench.tables import table_exists

    have = {
        r[0]
        for r in wh.con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'scr_%'"
        ).fetchall()
    }
    if {"scr_leads", "scr_coverage"} <= have:
        scr = wh.con.execute(
            "SELECT lead_id, rule_code, county_code, month, hit_count, "
            "CAST(amount AS DOUBLE) AS amount, status FROM scr_leads"
        ).df()
        cov = wh.con.execute(
            "SELECT county_code, month, settlements, screened FROM scr_coverage"
        ).df()
        if table_exists(
            wh, COVERAGE_TABLE
        ):  # what 疑点数据覆盖率 reads: every month, screened or not
            rel = wh.current_relation(COVERAGE_TABLE)
            cov = wh.con.execute(
                f"SELECT CAST(county_code AS VARCHAR) AS county_code, "
                f"CAST(month AS VARCHAR) AS month, settlements, screened FROM {rel}"
            ).df()
    else:
        if not wh.con.execute("SELECT current_setting('access_mode')").fetchone()[0] == "read_only":
            ensure_run_schema(wh.con)
        scr = pd.DataFrame(
            columns=[
                "lead_id",
                "rule_code",
                "county_code",
                "month",
                "hit_count",
                "amount",
                "status",
            ]
        )
        cov = pd.DataFrame(columns=["county_code", "month", "settlements", "screened"])
    leads = wh.read_ledger("leads", columns=["lead_id", "check_status", "checked_date", "case_id"])
    try:
        ruleset = load_rules()
        names = {r.code: r.name for r in ruleset.rules.values()}
        sources = rule_sources(ruleset)
    except Exception:  # noqa: BLE001 - a broken rule file must not take the cockpit down
        names = dict.fromkeys(sorted(set(scr["rule_code"])), "")
        sources = {}
    return {
        "scr_leads": scr,
        "leads": leads,
        "coverage": cov,
        "rule_names": names,
        "rule_sources": sources,
    }


def rule_table(rule_names: Mapping[str, str], sources: Mapping[str, str]) -> pd.DataFrame:
    """The declared rules as readers meet them: rule_code, rule_name, source (the cited
    `source:`, `rules.rule_sources`) and line (`rules.source_line`), in declaration order."""
    from workbench.screening.rules import source_line

    rows = [
        {
            "rule_code": code,
            "rule_name": name,
            "source": sources.get(code, ""),
            "line": source_line(code, name, sources.get(code, "")),
        }
        for code, name in rule_names.items()
    ]
    return pd.DataFrame(rows, columns=["rule_code", "rule_name", "source", "line"])


def screening_view(
    counts: pd.DataFrame,
    checks: pd.DataFrame,
    through: str,
    since: str | None = None,
    county: str | None = None,
) -> dict[str, pd.DataFrame]:
    """What a face shows for one span of months (`since`–`through`, `YYYY-MM`; default from the
    January of `through`'s year) and one county (None: every county), from `screening_tables`'
    by_rule_county (`counts`) and `check_counts` (`checks`).

    - by_rule: every rule of the catalogue (a rule with no hit stays, so a silent rule shows)
      with hits, leads, suppressed, amount in the span and checked, confirmed, confirmed_rate,
      converted, conversion_rate of the year's leads as the ledger stood at `through`'s end
      (`checks_at` on `checks`, a `check_counts` table — the 通报 reads the same);
    - by_county: county_code, hits, leads, amount (most leads first);
    - trend: month, hits, leads, amount (every month of the span that was screened);
    - totals: one row of hits, leads, suppressed, amount, rules_hit.
    """
    start = since or f"{str(through)[:4]}-01"
    c = counts[(counts["month"].astype(str) >= start) & (counts["month"].astype(str) <= through)]
    if county:
        c = c[c["county_code"].astype(str) == str(county)]
    sums = {"hits": ("hits", "sum"), "leads": ("leads", "sum"), "amount": ("amount", "sum")}
    rules = c.groupby("rule_code").agg(**sums, suppressed=("suppressed", "sum")).reset_index()
    check_cols = ["checked", "confirmed", "confirmed_rate", "converted", "conversion_rate"]
    by_rule = checks_at(checks, through, county)[["rule_code", "rule_name", *check_cols]].merge(
        rules, on="rule_code", how="left"
    )
    for col in ("hits", "leads", "suppressed"):
        by_rule[col] = by_rule[col].fillna(0).astype(int)
    by_county = (
        c.groupby(c["county_code"].astype(str))
        .agg(**sums)
        .reset_index()
        .sort_values(["leads", "hits", "county_code"], ascending=[False, False, True])
        .reset_index(drop=True)
    )
    trend = c.groupby(c["month"].astype(str)).agg(**sums).reset_index().sort_values("month")
    totals = pd.DataFrame(
        [
            {
                "hits": int(c["hits"].sum()),
                "leads": int(c["leads"].sum()),
                "suppressed": int(c["suppressed"].sum()),
                "amount": float(c["amount"].sum()),
                "rules_hit": int((by_rule["hits"] > 0).sum()),
            }
        ]
    )
    return {
        "by_rule": by_rule[
            ["rule_code", "rule_name", "hits", "leads", "suppressed", "amount", *check_cols]
        ],
        "by_county": by_county,
        "trend": trend.reset_index(drop=True),
        "totals": totals,
    }


# ---------------------------------------------------------------------------------------------
# The 通报's section: one month's screening and the year's checks, as they stood at its end

DIGEST_RULE_COLUMNS = [
    "rule_code",
    "rule_name",
    "cross_match",
    "hits",
    "leads",
    "amount",
    "leads_ytd",
    "checked",
    "confirmed",
    "converted",
    "confirmed_rate",
]


def _as_of(leads: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    """The leads ledger as it stood at `end`: a check (or a case link) dated after it is not
    yet there; a check with no date counts as done (as `presentation.lists` judges)."""
    out = leads.copy()
    if "checked_date" not in out.columns:
        return out
    checked_on = pd.to_datetime(out["checked_date"], errors="coerce")
    later = checked_on.notna() & (checked_on > end)
    out["check_status"] = out["check_status"].where(~later, None)
    out["case_id"] = out["case_id"].where(~later, None)
    return out


CHECK_COUNT_COLUMNS = [
    "as_of",
    "rule_code",
    "rule_name",
    "county_code",
    "leads",
    "checked",
    "confirmed",
    "converted",
]


def check_counts(
    scr_leads: pd.DataFrame,
    leads: pd.DataFrame,
    rule_names: Mapping[str, str],
    months: Collection[str],
) -> pd.DataFrame:
    """The one rule every face counts checks by: for each month M of `months` (YYYY-MM), the
    issued screening leads of data months January to M, by rule and county, with how many were
    checked, 属实 and made into a case *as the leads ledger stood at M's end* (`_as_of`: a check
    dated later is not yet there). Columns `CHECK_COUNT_COLUMNS`; every rule of `rule_names`
    has a row per month (county_code missing, zeros) so a rule with no lead still shows."""
    from workbench.presentation import lists as plists

    issued = scr_leads[scr_leads["status"] == "已下发"]
    data_month = issued["month"].astype(str)
    dated = ["checked_date"] if "checked_date" in leads.columns else []
    ledger = leads[["lead_id", "check_status", "case_id", *dated]].drop_duplicates("lead_id").copy()
    ledger["lead_id"] = ledger["lead_id"].astype(str)
    frames = []
    for m in sorted({str(x)[:7] for x in months}):
        rows = issued[(data_month >= f"{m[:4]}-01") & (data_month <= m)]
        state = _as_of(ledger, plists.period_end(m))
        sl = rows[["lead_id", "rule_code", "county_code"]].assign(
            lead_id=rows["lead_id"].astype(str)
        )
        sl = sl.merge(state[["lead_id", "check_status", "case_id"]], on="lead_id", how="left")
        sl["checked"] = sl["check_status"].isin(CHECKED).astype(int)
        sl["confirmed"] = (sl["check_status"] == CONFIRMED).astype(int)
        sl["converted"] = sl["case_id"].notna().astype(int)
        got = (
            sl.groupby(["rule_code", "county_code"])
            .agg(
                leads=("lead_id", "count"),
                checked=("checked", "sum"),
                confirmed=("confirmed", "sum"),
                converted=("converted", "sum"),
            )
            .reset_index()
        )
        codes = list(dict.fromkeys([*rule_names, *got["rule_code"]]))
        catalogue = pd.DataFrame({"rule_code": codes, "county_code": None})
        for col in ("leads", "checked", "confirmed", "converted"):
            catalogue[col] = 0
        both = pd.concat([catalogue, got], ignore_index=True)
        both["as_of"] = m
        both["rule_name"] = both["rule_code"].map(lambda c: rule_names.get(c, ""))
        frames.append(both)
    if not frames:
        return pd.DataFrame(columns=CHECK_COUNT_COLUMNS)
    out = pd.concat(frames, ignore_index=True)[CHECK_COUNT_COLUMNS]
    for col in ("leads", "checked", "confirmed", "converted"):
        out[col] = out[col].astype(int)
    return out


def checks_at(counts: pd.DataFrame, through: str, county: str | None = None) -> pd.DataFrame:
    """Per rule (every rule `counts` names, in its order): leads, checked, confirmed, converted,
    confirmed_rate (属实 ÷ checked) and conversion_rate (cases ÷ leads) of the year's leads as
    they stood at `through`'s end, for one county or (None) every county. `counts` is a
    `check_counts` table; a month it does not hold counts nothing checked."""
    names = counts.drop_duplicates("rule_code")[["rule_code", "rule_name"]]
    c = counts[counts["as_of"].astype(str) == str(through)[:7]]
    if county:
        c = c[c["county_code"].astype(str) == str(county)]
    sums = c.groupby("rule_code")[["leads", "checked", "confirmed", "converted"]].sum()
    out = names.merge(sums.reset_index(), on="rule_code", how="left").reset_index(drop=True)
    for col in ("leads", "checked", "confirmed", "converted"):
        out[col] = out[col].fillna(0).astype(int)
    out["confirmed_rate"] = _rate(out["confirmed"], out["checked"])
    out["conversion_rate"] = _rate(out["converted"], out["leads"])
    return out


def period_digest(
    scr_leads: pd.DataFrame,
    leads: pd.DataFrame,
    coverage: pd.DataFrame,
    rule_names: Mapping[str, str],
    period: str,
    cross_match: Collection[str] = (),
    cases: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame] | None:
    """What the 通报 says about screening at `period` (YYYY-MM), or None when no screening
    result covers the month (the section is then left out).

    `leads` is the whole leads ledger (check status and date, due date, case link);
    `cross_match` the rules that match death and custody lists (those with a county list);
    `cases` the cases ledger. Tables, each built from `screening_tables` on the rows in scope:

    - `month`: one row — settlements, screened, coverage_rate, hits, leads (issued), suppressed,
      amount, rules_hit — of the screening of `period`'s data;
    - `by_rule`: every declared rule — the month's hits, leads, amount; the year's leads
      (data months January to `period`), checked, confirmed, converted and 属实率 as the
      ledger stood at the month's end; most leads first;
    - `ytd`: one row — the year's leads, checked, confirmed, converted, overdue (unchecked past
      the 核查时限 at the month's end), checked_rate, confirmed_rate, conversion_rate; and
      settlements, screened, coverage_rate of data months January to `period` (the months never
      screened in the denominator: the screening set's 疑点数据覆盖率 over span ytd);
    - `cross_match`: one row — cases made from cross-match leads found this year to the
      month's end (not withdrawn), their amount due and recovered, recovery_rate (as the
      screening set's 死亡、服刑疑点追回金额 counts them).
    """
    from workbench.presentation import lists as plists

    period = str(period)[:7]
    year_start = f"{period[:4]}-01"
    months = scr_leads["month"].astype(str)
    if not (months == period).any():
        return None
    end = plists.period_end(period)
    ytd_rows = scr_leads[(months >= year_start) & (months <= period)]
    cov = _months_between(coverage, period, period)
    tables = screening_tables(ytd_rows, cov, rule_names)
    checks = check_counts(scr_leads, leads, rule_names, [period])
    # the month's own hits, leads and amount: the cockpit's view of that one month
    view = screening_view(tables["by_rule_county"], checks, through=period, since=period)
    per_rule = view["by_rule"].set_index("rule_code")
    prec = checks_at(checks, period).set_index("rule_code")
    codes = list(dict.fromkeys([*rule_names, *per_rule.index]))
    by_rule = pd.DataFrame({"rule_code": codes})
    by_rule["rule_name"] = [rule_names.get(c, "") for c in codes]
    by_rule["cross_match"] = by_rule["rule_code"].isin(set(cross_match))
    for col in ("hits", "leads", "amount"):
        by_rule[col] = by_rule["rule_code"].map(per_rule[col]).fillna(0)
    by_rule["leads_ytd"] = by_rule["rule_code"].map(prec["leads"]).fillna(0)
    for col in ("checked", "confirmed", "converted"):
        by_rule[col] = by_rule["rule_code"].map(prec[col]).fillna(0)
    for col in ("hits", "leads", "leads_ytd", "checked", "confirmed", "converted"):
        by_rule[col] = by_rule[col].astype(int)
    by_rule["confirmed_rate"] = _rate(by_rule["confirmed"], by_rule["checked"])
    by_rule = by_rule.sort_values(
        ["leads", "hits", "rule_code"], ascending=[False, False, True], kind="stable"
    ).reset_index(drop=True)[DIGEST_RULE_COLUMNS]

    issued = ytd_rows.loc[ytd_rows["status"] == "已下发", "lead_id"].astype(str)
    overdue = plists.overdue_leads({"leads": leads}, period)
    n_overdue = int(overdue["lead_id"].astype(str).isin(set(issued)).sum()) if len(overdue) else 0
    total = by_rule[["leads_ytd", "checked", "confirmed", "converted"]].sum()
    ytd = pd.DataFrame(
        {
            "leads": [int(total["leads_ytd"])],
            "checked": [int(total["checked"])],
            "confirmed": [int(total["confirmed"])],
            "converted": [int(total["converted"])],
            "overdue": [n_overdue],
        }
    )
    ytd["checked_rate"] = _rate(ytd["checked"], ytd["leads"])
    ytd["confirmed_rate"] = _rate(ytd["confirmed"], ytd["checked"])
    ytd["conversion_rate"] = _rate(ytd["converted"], ytd["leads"])
    # 疑点数据覆盖率 January to the month, as the screening set's KPI (span ytd) counts it
    ytd_cov = _months_between(coverage, year_start, period)
    ytd["settlements"], ytd["screened"] = _coverage_sums(ytd_cov)
    ytd["coverage_rate"] = _rate(ytd["screened"], ytd["settlements"])

    settlements, screened = _coverage_sums(cov)
    month = view["totals"].assign(settlements=settlements, screened=screened)[
        ["settlements", "screened", "hits", "leads", "suppressed", "amount", "rules_hit"]
    ]
    month["coverage_rate"] = _rate(month["screened"], month["settlements"])
    return {
        "month": month,
        "by_rule": by_rule,
        "ytd": ytd,
        "cross_match": _cross_match_recovery(leads, cases, cross_match, year_start, end),
    }


def _months_between(coverage: pd.DataFrame, since: str, through: str) -> pd.DataFrame:
    """The coverage rows of data months `since` to `through` (YYYY-MM)."""
    if not len(coverage):
        return coverage
    cm = coverage["month"].astype(str)
    return coverage[(cm >= since) & (cm <= through)]


def _coverage_sums(cov: pd.DataFrame) -> tuple[float, float]:
    """(settlements, screened) of coverage rows; missing (NaN) when there is none — so the
    rate is missing, not 0, where nothing was recorded."""
    if not len(cov):
        return float("nan"), float("nan")
    return float(cov["settlements"].sum()), float(cov["screened"].sum())


def weakest_rule(by_rule: pd.DataFrame) -> pd.Series | None:
    """The rule with the lowest 属实率 among those with a check (ties: the rule code), or None
    when fewer than two rules were checked — what the 通报 and the summaries name."""
    rated = by_rule[by_rule["checked"] > 0].sort_values(
        ["confirmed_rate", "rule_code"], kind="stable"
    )
    return rated.iloc[0] if len(rated) > 1 else None


def window_digest(
    scr_leads: pd.DataFrame,
    leads: pd.DataFrame,
    coverage: pd.DataFrame,
    rule_names: Mapping[str, str],
    since: str,
    through: str,
    cross_match: Collection[str] = (),
    cases: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame] | None:
    """What a phase or campaign summary says about screening over the data months `since` to
    `through` (YYYY-MM), or None when none of them was screened. Counted by the cockpit's and
    the 通报's functions, never a second way:

    - `window`: one row — months screened, settlements, screened, coverage_rate, hits, leads
      (issued), suppressed, amount, rules_hit of those months (`screening_tables`,
      `screening_view` from `since` to `through`);
    - `by_rule`: `screening_view`'s by_rule (hits and leads in the window; checks of the year's
      leads as the ledger stood at `through`'s end, `check_counts` / `checks_at`);
    - `checks`: one row — those leads, checked, confirmed, converted, checked_rate,
      confirmed_rate, conversion_rate (the 通报's 核查进展 at `through`);
    - `cross_match`: as `period_digest`'s, the year to `through`'s end.
    """
    from workbench.presentation import lists as plists

    since, through = str(since)[:7], str(through)[:7]
    months = scr_leads["month"].astype(str)
    rows = scr_leads[(months >= since) & (months <= through)]
    cov = _months_between(coverage, since, through)
    # months screened: with a lead, or with settlements screened (the coverage table also
    # holds the months never screened, 0 screened, so that they count in the denominator)
    cov_months = cov[pd.to_numeric(cov["screened"], errors="coerce").fillna(0) > 0]["month"]
    screened_months = sorted({*rows["month"].astype(str), *cov_months.astype(str)})
    if not screened_months:
        return None
    tables = screening_tables(rows, cov, rule_names)
    checks = check_counts(scr_leads, leads, rule_names, [through])
    view = screening_view(tables["by_rule_county"], checks, through=through, since=since)
    by_rule = view["by_rule"]
    settlements, screened = _coverage_sums(cov)
    window = view["totals"].assign(
        months=len(screened_months), settlements=settlements, screened=screened
    )
    window["coverage_rate"] = _rate(window["screened"], window["settlements"])
    total = checks_at(checks, through)[["leads", "checked", "confirmed", "converted"]].sum()
    done = pd.DataFrame(
        {k: [int(total[k])] for k in ("leads", "checked", "confirmed", "converted")}
    )
    done["checked_rate"] = _rate(done["checked"], done["leads"])
    done["confirmed_rate"] = _rate(done["confirmed"], done["checked"])
    done["conversion_rate"] = _rate(done["converted"], done["leads"])
    end = plists.period_end(through)
    return {
        "window": window,
        "by_rule": by_rule,
        "checks": done,
        "cross_match": _cross_match_recovery(leads, cases, cross_match, f"{through[:4]}-01", end),
    }


SCREENING_LEAD = "data_period"  # the leads' field only screening fills (indicators: 筛查线索)


def screening_lead(leads: pd.DataFrame) -> pd.Series:
    """Which rows of the leads ledger came from screening: those with a 数据期间 — the one test
    the screening set's measures (`where: data_period not_null`) and every face apply."""
    if SCREENING_LEAD not in leads.columns:
        return pd.Series(False, index=leads.index)
    col = leads[SCREENING_LEAD]
    return col.notna() & (col.astype(str).str.strip() != "")


def _cross_match_recovery(
    leads: pd.DataFrame,
    cases: pd.DataFrame | None,
    cross_match: Collection[str],
    year_start: str,
    end: pd.Timestamp,
) -> pd.DataFrame:
    """Cases linked from screening leads of the cross-match rules, found from `year_start` to
    `end`, not withdrawn: how many, amount due and recovered (the screening set's
    死亡、服刑疑点追回金额 counts the same rows). A screening lead is one with a 数据期间, as every
    lead `workbench screen` writes has (`SCREENING_LEAD`): a county's own lead merely tagged
    with an SJBD rule code is not a screening hit (../shared/design/screening.md, Output)."""
    cols = {"cases": [0], "amount_due": [0.0], "recovered": [0.0]}
    if cases is not None and len(cases) and len(leads) and cross_match:
        linked = set(
            leads.loc[
                screening_lead(leads)
                & leads["rule_code"].isin(set(cross_match))
                & leads["case_id"].notna(),
                "case_id",
            ].astype(str)
        )
        found = pd.to_datetime(cases["found_date"], errors="coerce")
        mine = cases[
            cases["case_id"].astype(str).isin(linked)
            & (cases["status"] != CASE_WITHDRAWN)
            & (found >= pd.Timestamp(f"{year_start}-01"))
            & (found <= end)
        ]
        cols = {
            "cases": [int(mine["case_id"].nunique())],
            "amount_due": [float(pd.to_numeric(mine["amount_due"], errors="coerce").sum())],
            "recovered": [float(pd.to_numeric(mine["amount_recovered"], errors="coerce").sum())],
        }
    out = pd.DataFrame(cols)
    out["recovery_rate"] = _rate(out["recovered"], out["amount_due"])
    return out


def cross_match_rules() -> tuple[str, ...]:
    """The rules that match death and custody lists: those that write a masked county list
    (`list:` in the rule file), as declared — no face names a rule code."""
    from workbench.screening.rules import load_rules

    try:
        return tuple(r.code for r in load_rules().rules.values() if r.list_name)
    except Exception:  # noqa: BLE001 - a broken rule file must not take a document down
        return ()


def digest_inputs(wh) -> dict[str, object] | None:
    """What `period_digest` reads from a warehouse besides the ledgers, or None before any
    screening run (then no face shows a screening section)."""
    inputs = read_inputs(wh)
    if not len(inputs["scr_leads"]):
        return None
    return {
        "scr_leads": inputs["scr_leads"],
        "coverage": inputs["coverage"],
        "rule_names": inputs["rule_names"],
        "rule_sources": inputs["rule_sources"],
        "cross_match": cross_match_rules(),
    }
