"""The monthly lists a county checks (死亡人员医保待遇未停及结算疑点清单, 服刑在押人员结算疑点清单).

One workbook per county and list, masked: the person appears as the platform's person number
and the masked ID number. Its columns carry the leads ledger's headers, so the county fills in
核查结果 (= 核查状态), 核查完成日期 and 处理措施 and sends the file back through `workbench ingest`,
which reads it as updates of those leads (see `contracts.LEAD_FEEDBACK_LISTS`). A second sheet,
说明 (skipped by ingest), says how to fill it and lists the settlements behind every lead.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from workbench.contracts import (
    CHECK_STATUSES,
    LEAD_FEEDBACK_COLUMNS,
    LEAD_FEEDBACK_LISTS,
    LEDGERS,
)
from workbench.messages import t
from workbench.privacy import excel_safe_frame, mask_id_card
from workbench.screening.rules import RuleSet, rule_sources, source_line
from workbench.warehouse import Warehouse

log = logging.getLogger(__name__)

COLUMNS = LEAD_FEEDBACK_COLUMNS
FILL_IN = ("check_status", "checked_date", "action", "case_id")
RESULT_HEADER = "核查结果"  # the list's name for check_status (an alias in the contract)
EVIDENCE_COLUMNS = {
    "lead_id": "线索编号",
    "setl_id": "结算ID",
    "institution_id": "机构编码",
    "month": "数据期间",
    "amount": "金额(元)",
    "detail": "疑点说明",
}


def header(field: str) -> str:
    return RESULT_HEADER if field == "check_status" else LEDGERS["leads"].field(field).header


def list_frames(
    wh: Warehouse, ruleset: RuleSet, period: str
) -> dict[tuple[str, str], pd.DataFrame]:
    """(county, list title) → its leads of the period (current rows, masked)."""
    codes = {
        title: [r.code for r in ruleset.rules.values() if r.list_name == title]
        for title in LEAD_FEEDBACK_LISTS
    }
    leads = wh.read_ledger("leads", columns=list(COLUMNS))
    leads = leads[leads["data_period"].astype(object) == period]
    out: dict[tuple[str, str], pd.DataFrame] = {}
    for title, rules in codes.items():
        part = leads[leads["rule_code"].isin(rules)]
        for county, rows in part.groupby("county_code", sort=True):
            frame = rows.sort_values(["rule_code", "lead_id"]).reset_index(drop=True)
            frame["check_status"] = frame["check_status"].where(
                frame["check_status"] != "待核查", None
            )
            out[(str(county), title)] = masked(frame)
    return out


def masked(frame: pd.DataFrame) -> pd.DataFrame:
    """ID numbers masked: the person column whatever its form, any other text scrubbed of
    anything that looks like one (names are never on a list)."""
    out = frame.copy()
    for col in out.columns:
        if col == "person_id":
            out[col] = out[col].map(lambda v: mask_id_card(v, whole=True))
        elif out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(mask_id_card)
    return out


def _evidence(wh: Warehouse, lead_ids: list[str]) -> pd.DataFrame:
    if not lead_ids:
        return pd.DataFrame(columns=list(EVIDENCE_COLUMNS))
    wh.con.register("v_list_leads", pd.DataFrame({"lead_id": lead_ids}))
    try:
        return wh.con.execute(
            "SELECT e.lead_id, e.setl_id, e.institution_id, e.month, "
            "CAST(e.amount AS DOUBLE) AS amount, e.detail FROM scr_evidence e "
            "SEMI JOIN v_list_leads USING (lead_id) ORDER BY e.lead_id, e.setl_id"
        ).df()
    finally:
        wh.con.unregister("v_list_leads")


def write_lists(wh: Warehouse, ruleset: RuleSet, period: str, out_dir: Path) -> list[Path]:
    """Write every county's lists of the period; returns the files."""
    names = dict(
        wh.con.execute(
            f"SELECT county_code, any_value(county_name) FROM "
            f"{wh.current_relation('counties')} GROUP BY 1"
        ).fetchall()
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = rule_sources(ruleset)
    basis = {
        title: [
            source_line(r.code, r.name, sources[r.code])
            for r in ruleset.rules.values()
            if r.list_name == title
        ]
        for title in LEAD_FEEDBACK_LISTS
    }
    paths = []
    for (county, title), frame in list_frames(wh, ruleset, period).items():
        name = names.get(county, "")
        path = out_dir / f"{county}_{name}_{period}_{title}.xlsx"
        evidence = masked(_evidence(wh, frame["lead_id"].tolist()))
        _write_one(path, title, frame, evidence, basis.get(title, []))
        paths.append(path)
    return paths


def _write_one(
    path: Path,
    title: str,
    frame: pd.DataFrame,
    evidence: pd.DataFrame,
    basis: list[str] | tuple[str, ...] = (),
) -> None:
    """One county's list; `basis` is the 说明's 规则依据 (one `rules.source_line` per rule)."""
    table = excel_safe_frame(frame[list(COLUMNS)].rename(columns={c: header(c) for c in COLUMNS}))
    for col in (header("received_date"), header("due_date"), header("checked_date")):
        table[col] = pd.to_datetime(table[col], errors="coerce")
    tmp = path.with_suffix(".xlsx.part")
    with pd.ExcelWriter(tmp, engine="xlsxwriter", datetime_format="yyyy-mm-dd") as xw:
        sheet_name = title[:31]
        table.to_excel(xw, sheet_name=sheet_name, index=False)
        ws = xw.sheets[sheet_name]
        book = xw.book
        fill = book.add_format({"bg_color": "#FFF2CC", "border": 1})
        ws.freeze_panes(1, 2)
        for i, col in enumerate(COLUMNS):
            ws.set_column(i, i, 22 if col in ("lead_id", "rule_name") else 14)
        last = max(len(table), 1)
        for col in FILL_IN:
            i = COLUMNS.index(col)
            ws.set_column(i, i, 16, fill)
        status = COLUMNS.index("check_status")
        ws.data_validation(
            1,
            status,
            last,
            status,
            {"validate": "list", "source": [s for s in CHECK_STATUSES if s != "待核查"]},
        )
        notes = pd.DataFrame(
            {
                t("screening.list.note_head"): [
                    t("screening.list.note_1", title=title),
                    t("screening.list.note_2"),
                    t("screening.list.note_3"),
                    *([t("screening.list.note_sources"), *basis] if basis else []),
                    t("screening.list.note_4"),
                ]
            }
        )
        notes.to_excel(xw, sheet_name="说明", index=False)
        ev = excel_safe_frame(evidence.rename(columns=EVIDENCE_COLUMNS))
        ev.to_excel(xw, sheet_name="说明", index=False, startrow=len(notes) + 2)
        xw.sheets["说明"].set_column(0, 0, 30)
        xw.sheets["说明"].set_column(1, 5, 16)
    tmp.replace(path)
