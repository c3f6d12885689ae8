"""What the faces (cockpit, 通报) show about screening, decided once here, as plain tables.

`screening_tables(...)` is pure — frames in, frames out — so a face renders and never judges:
hits and leads by rule and county, the monthly trend, 属实率 per rule (so a weak rule shows),
and coverage (settlements screened ÷ settlements). `read_inputs(wh)` fetches its inputs.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

CHECKED = ("属实", "不属实")
CONFIRMED = "属实"


def _rate(num: pd.Series, den: pd.Series) -> pd.Series:
    """num ÷ den, missing where den is 0 (never 0 or infinity)."""
    den = den.astype("float64")
    return (num.astype("float64") / den.where(den > 0)).astype("float64")


def screening_tables(
    scr_leads: pd.DataFrame,
    leads: pd.DataFrame,
    coverage: pd.DataFrame,
    rule_names: Mapping[str, str],
) -> dict[str, pd.DataFrame]:
    """Tables for the cockpit and the 通报.

    `scr_leads`: every screening lead (lead_id, rule_code, county_code, month, hit_count,
    amount, status 已下发/已抑制); `leads`: the leads ledger's current rows (lead_id,
    check_status, case_id); `coverage`: county_code, month, settlements, screened.
    """
    sl = scr_leads.copy()
    sl["issued"] = (sl["status"] == "已下发").astype(int)
    sl["suppressed"] = (sl["status"] == "已抑制").astype(int)
    sl["amount"] = sl["amount"].astype("float64")
    state = leads[["lead_id", "check_status", "case_id"]].drop_duplicates("lead_id")
    sl = sl.merge(state, on="lead_id", how="left")
    sl["checked"] = (sl["issued"] == 1) & sl["check_status"].isin(CHECKED)
    sl["confirmed"] = (sl["issued"] == 1) & (sl["check_status"] == CONFIRMED)
    sl["converted"] = (sl["issued"] == 1) & sl["case_id"].notna()
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
    per_rule = (
        sl[sl["issued"] == 1]
        .groupby(["rule_code", "rule_name"])
        .agg(
            leads=("issued", "sum"),
            checked=("checked", "sum"),
            confirmed=("confirmed", "sum"),
            converted=("converted", "sum"),
        )
        .reset_index()
    )
    all_rules = pd.DataFrame(
        {"rule_code": list(rule_names), "rule_name": list(rule_names.values())}
    )
    precision = all_rules.merge(per_rule, on=["rule_code", "rule_name"], how="left")
    for col in ("leads", "checked", "confirmed", "converted"):
        precision[col] = precision[col].fillna(0).astype(int)
    precision["confirmed_rate"] = _rate(precision["confirmed"], precision["checked"])
    precision["conversion_rate"] = _rate(precision["converted"], precision["leads"])
    cov = coverage.copy()
    if len(cov):
        cov["rate"] = _rate(cov["screened"], cov["settlements"])
    else:
        cov["rate"] = pd.Series(dtype="float64")
    return {
        "by_rule_county": by_rule_county,
        "trend": trend,
        "precision": precision,
        "coverage": cov.reset_index(drop=True),
    }


def read_inputs(wh) -> dict[str, object]:
    """The inputs of `screening_tables` from a warehouse (empty frames before any run)."""
    from workbench.screening.rules import load_rules
    from workbench.screening.run import ensure_run_schema

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
    leads = wh.read_ledger("leads", columns=["lead_id", "check_status", "case_id"])
    try:
        names = {r.code: r.name for r in load_rules().rules.values()}
    except Exception:  # noqa: BLE001 - a broken rule file must not take the cockpit down
        names = dict.fromkeys(sorted(set(scr["rule_code"])), "")
    return {"scr_leads": scr, "leads": leads, "coverage": cov, "rule_names": names}


def screening_view(
    counts: pd.DataFrame,
    precision: pd.DataFrame,
    through: str,
    since: str | None = None,
    county: str | None = None,
) -> dict[str, pd.DataFrame]:
    """What a face shows for one span of months (`since`–`through`, `YYYY-MM`; default from the
    January of `through`'s year) and one county (None: every county), from `screening_tables`'
    by_rule_county (`counts`) and precision.

    - by_rule: every rule of the catalogue (a rule with no hit stays, so a silent rule shows)
      with hits, leads, suppressed, amount in the span and — checks being the ledger's current
      state, across every month and county — checked, confirmed, confirmed_rate, converted,
      conversion_rate;
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
    checks = ["checked", "confirmed", "confirmed_rate", "converted", "conversion_rate"]
    by_rule = precision[["rule_code", "rule_name", *checks]].merge(
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
            ["rule_code", "rule_name", "hits", "leads", "suppressed", "amount", *checks]
        ],
        "by_county": by_county,
        "trend": trend.reset_index(drop=True),
        "totals": totals,
    }
