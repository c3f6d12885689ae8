"""The demo's screening loop as `workbench demo-all` runs it (`screen_demo`): the earlier months
screened one by one, the counties' returned lists written by `screening.demo_returns` and
ingested through `workbench ingest`. The leads ledger afterwards is compared with the returned
files read back here cell by cell, and the faces' numbers with sums over those files."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from workbench import cli, demo
from workbench.commands.demo import EXTRACT_DIR
from workbench.commands.demo_all import LISTS_DIR, RETURNS_DIR, screen_demo
from workbench.screening import demo_extract as de
from workbench.screening.demo_returns import fill_returns
from workbench.screening.summary import cross_match_rules, digest_inputs, period_digest
from workbench.warehouse import Warehouse


@pytest.fixture(scope="module")
def looped(city, tmp_path_factory) -> tuple[Path, Path, dict]:
    """A demo folder with the extract (test scale), a warehouse with the rosters, and
    `screen_demo` run on them through the real command line."""
    root = tmp_path_factory.mktemp("loop")
    out, wh = root / "demo_city", root / "wh.duckdb"
    demo.write_settlement_extract(city, out / EXTRACT_DIR, de.TEST_SCALE)
    with Warehouse(wh) as w:
        w.load_frames({k: city.frames[k] for k in ("counties", "institutions")})
    assert screen_demo(cli.main, out, ["--warehouse", str(wh)]) == 0
    manifest = json.loads((out / EXTRACT_DIR / "manifest.json").read_text(encoding="utf-8"))
    return out, wh, manifest


def _returned(out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(leads answered, cases filed) as the returned workbooks hold them."""
    leads, cases = [], []
    for path in sorted((out / RETURNS_DIR).rglob("*.xlsx")):
        wb = openpyxl.load_workbook(path)
        ws = wb.worksheets[0]
        head = [c.value for c in ws[1]]
        for row in ws.iter_rows(min_row=2, values_only=True):
            r = dict(zip(head, row, strict=False))
            leads.append(
                {
                    "lead_id": r["线索编号"],
                    "rule_code": r["规则编码"],
                    "result": r["核查结果"],
                    "checked": r["核查完成日期"],
                    "case_id": r["关联案件编号"],
                }
            )
        if "立案情况" in wb.sheetnames:
            cs = wb["立案情况"]
            ch = [c.value for c in cs[1]]
            for row in cs.iter_rows(min_row=2, values_only=True):
                r = dict(zip(ch, row, strict=False))
                cases.append(
                    {
                        "case_id": r["案件编号"],
                        "county_code": r["区划代码"],
                        "found": r["发现日期"],
                        "due": r["应追回金额(元)"],
                        "recovered": r["已追回金额(元)"],
                        "status": r["案件状态"],
                    }
                )
    return pd.DataFrame(leads), pd.DataFrame(cases)


def test_every_earlier_month_was_screened_and_returned(looped):
    out, wh, manifest = looped
    period = manifest["period"]
    earlier = sorted({e["month"] for e in manifest["history"]})
    assert len(earlier) == demo.EXTRACT_HISTORY and period not in earlier
    with Warehouse(wh, read_only=True) as w:
        screened = {m for (m,) in w.con.execute("SELECT DISTINCT month FROM scr_leads").fetchall()}
    assert set(earlier) | {period} <= screened
    assert sorted(p.name for p in (out / RETURNS_DIR).iterdir()) == earlier  # not the period
    assert (out / LISTS_DIR / period).is_dir()  # its lists were sent, none came back yet
    # every injected earlier-month match became a lead of its month
    with Warehouse(wh, read_only=True) as w:
        ev = w.con.execute("SELECT DISTINCT rule_code, subject_key, month FROM scr_evidence").df()
    got = set(map(tuple, ev.values.tolist()))
    assert {(e["rule"], e["subject_key"], e["month"]) for e in manifest["history"]} <= got


def test_leads_hold_exactly_the_returned_answers(looped):
    out, wh, manifest = looped
    back, _cases = _returned(out)
    assert len(back) and back["lead_id"].is_unique
    with Warehouse(wh, read_only=True) as w:
        ledger = w.read_ledger("leads").set_index("lead_id")
    mine = ledger.loc[back["lead_id"]]
    assert list(mine["check_status"]) == list(back["result"])

    def day(values) -> list[str]:
        return [str(v)[:10] if pd.notna(v) else "" for v in pd.to_datetime(values)]

    assert day(mine["checked_date"]) == day(back["checked"])
    assert list(mine["case_id"].fillna("")) == list(back["case_id"].fillna(""))
    # the period's leads were not returned: still waiting
    period_rows = ledger[ledger["data_period"].astype(str) == manifest["period"]]
    assert len(period_rows) and (period_rows["check_status"] == "待核查").all()
    # states per rule, as counted from the files
    states = Counter(zip(back["rule_code"], back["result"], strict=True))
    led = Counter(zip(mine["rule_code"], mine["check_status"], strict=True))
    assert states == led


def test_answers_are_realistic_and_fixed_by_the_lead(looped, tmp_path: Path):
    """Most death matches 属实, custody matches the weak rule, a few still 核查中; the same lead
    always gets the same answer."""
    out, _wh, manifest = looped
    back, _ = _returned(out)
    by = back.groupby("rule_code")["result"].value_counts().unstack(fill_value=0)
    rate = by["属实"] / (by["属实"] + by["不属实"])
    assert rate["SJBD-01"] >= 0.7 and rate["SJBD-03"] < rate["SJBD-01"]
    assert by["不属实"].sum() > 0 and by["核查中"].sum() > 0
    assert (by["核查中"] / by.sum(axis=1)).max() < 0.5
    end = pd.Period(manifest["period"], "M").end_time.date()
    again = []
    for month in sorted(p.name for p in (out / RETURNS_DIR).iterdir()):
        again += fill_returns(out / LISTS_DIR / month, tmp_path / month, end)
    for path in again:
        first = out / RETURNS_DIR / path.parent.name / path.name
        a, b = openpyxl.load_workbook(first), openpyxl.load_workbook(path)
        assert a.sheetnames == b.sheetnames
        for ws in a.worksheets:
            assert list(ws.values) == list(b[ws.title].values), (path.name, ws.title)


def test_the_faces_show_rates_and_recovered_money(looped):
    """The 通报's digest at the period: 属实率 for each returned rule equals 属实 ÷ (属实 + 不属实)
    counted in the files, and death/custody money recovered equals the cases sheets' sum."""
    out, wh, manifest = looped
    period = manifest["period"]
    back, cases = _returned(out)
    with Warehouse(wh, read_only=True) as w:
        inputs = digest_inputs(w)
        ledgers = {"leads": w.read_ledger("leads"), "cases": w.read_ledger("cases")}
    d = period_digest(
        inputs["scr_leads"],
        ledgers["leads"],
        inputs["coverage"],
        inputs["rule_names"],
        period,
        cross_match_rules(),
        ledgers["cases"],
    )
    rates = d["by_rule"].set_index("rule_code")["confirmed_rate"].dropna()
    by = back.groupby("rule_code")["result"].value_counts().unstack(fill_value=0)
    expected = (by["属实"] / (by["属实"] + by["不属实"])).dropna()
    assert rates.to_dict() == pytest.approx(expected.to_dict())
    assert len(rates) >= 2 and rates.idxmin() == "SJBD-03"  # the weak rule shows
    year = cases[pd.to_datetime(cases["found"]).dt.year == int(period[:4])]
    cm = d["cross_match"].iloc[0]
    assert cm["cases"] == len(year) > 0
    assert cm["recovered"] == pytest.approx(year["recovered"].sum()) and cm["recovered"] > 0
    assert cm["amount_due"] == pytest.approx(year["due"].sum())


def test_returned_lists_raise_no_missing_column_warnings(looped):
    """Each returned 疑点清单 once gave three 缺少列 warnings (来源举报编号, 来源检查编号,
    查实金额(元): leads' fields the workbench's own list never carries) — 180 in the demo."""
    out, wh, _manifest = looped
    assert list((out / RETURNS_DIR).rglob("*.xlsx")), "the demo returned lists"
    with Warehouse(wh, read_only=True) as w:
        issues = w.table("SELECT * FROM ingest_issues")
    listed = issues[issues["file"].astype(str).str.contains("疑点清单")]
    assert "W_MISSING_COLUMN" not in set(listed["code"]), listed[["file", "column_header"]]


def test_filed_cases_take_the_demo_ledgers_id_form(looped, city):
    """A case filed on a lead is numbered as the demo's cases are — AJ + 区划代码 + month + 4
    digits (AJ9901082025110001) — not AJ + the lead's hash id (AJ-SJBD01-990108-202511-a4e4…),
    and no filed case takes an id the county's own cases hold."""
    out, _, _ = looped
    _, cases = _returned(out)
    assert len(cases) > 0
    ids = cases["case_id"].astype(str)
    bad = [i for i in ids if not re.fullmatch(r"AJ\d{6}\d{6}9\d{3}", i)]
    assert not bad, bad[:3]
    assert ids.is_unique
    assert (ids.str[2:8] == cases["county_code"].astype(str)).all()
    assert not set(ids) & set(city.frames["cases"]["case_id"])
