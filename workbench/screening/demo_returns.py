"""The demo counties' answers to their screening lists (死亡人员…疑点清单, 服刑在押人员…疑点清单).

`workbench demo-all` screens the demo's earlier months, and for each list a county received it
writes the copy the county sends back: 核查结果, 核查完成日期 and 处理措施 filled, and — for a lead
found 属实 and put on file — the case on a second sheet (立案情况, the cases ledger's headers) with
its 关联案件编号 on the lead. `workbench ingest` reads these files as any county's return, so the
demo's cockpit and 通报 show 属实率 per rule and money recovered on death and custody matches.

Every answer is decided by the lead's stable id (a hash, no random state), so the same demo
gives the same answers: most death matches are 属实, some are not (the death date was wrong),
custody matches are often 不属实 (the custody list was not updated after release — the demo's
weak rule), and a check that would end after the demo's last month is still 核查中.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import openpyxl

from workbench.contracts import LEDGERS
from workbench.screening.lists import RESULT_HEADER, header

CONFIRMED, REJECTED, PENDING = "属实", "不属实", "核查中"


@dataclass(frozen=True)
class Answers:
    """How a rule's leads come back: shares 属实 and 不属实 (the rest 核查中), what the county
    did in each case, and the case it files on a lead found 属实."""

    confirmed: float
    rejected: float
    action: str
    rejected_action: str
    subject_type: str
    violation_type: str


ANSWERS: Mapping[str, Answers] = {
    "SJBD-01": Answers(
        0.80, 0.12, "追回基金，注销医保凭证", "死亡日期登记有误，已更正", "参保人员", "死亡冒领"
    ),
    "SJBD-02": Answers(
        0.85, 0.10, "办理停保，追回个人账户划拨", "死亡信息有误，已核实在世", "经办机构", "死亡冒领"
    ),
    "SJBD-03": Answers(
        0.45,
        0.45,
        "追回基金，暂停医保待遇",
        "已刑满释放，名单未及时更新",
        "参保人员",
        "重复享受待遇",
    ),
}
DEFAULT = Answers(0.75, 0.15, "追回基金", "核实无误", "参保人员", "其他")
CASE_SHEET = "立案情况"
CHECK_DAYS = (3, 45)  # a check takes this many days after the list is received (both ends)


def _share(lead_id: str, salt: str) -> float:
    """A number in [0, 1) fixed by the lead id (the same lead always gets the same answer)."""
    h = hashlib.sha256(f"{salt}|{lead_id}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def _date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and value.strip():
        return dt.date.fromisoformat(value.strip()[:10])
    return None


def answer(
    lead_id: str, rule_code: str, received: dt.date, as_of: dt.date
) -> tuple[str, dt.date | None]:
    """(核查结果, 核查完成日期) of one lead: 属实/不属实 by the rule's shares, checked some days
    after it was received; 核查中 (no date) for the rest and for a check not done by `as_of`."""
    a = ANSWERS.get(rule_code, DEFAULT)
    u = _share(lead_id, "result")
    lo, hi = CHECK_DAYS
    checked = received + dt.timedelta(days=lo + int(_share(lead_id, "days") * (hi - lo + 1)))
    if u >= a.confirmed + a.rejected or checked > as_of:
        return PENDING, None
    return (CONFIRMED if u < a.confirmed else REJECTED), checked


def case_id(county: str, month: str, rule_code: str, row: int) -> str:
    """The id a demo county gives the case it files on a lead: the demo ledger's own form,
    AJ + 区划代码 + the list's month + a 4-digit number (AJ9901082025119102, as the demo's
    cases AJ9901082025110001 …), not the lead's hash id. Numbers from 9000 on, the rule's
    digit then the lead's row on its list (one list per county, month and rule), so two lists
    never give one id (the demo sends lists for the SJBD rules only, whose last digits differ)
    and no county's own cases (numbered from 0001) share it."""
    digits = "".join(ch for ch in rule_code if ch.isdigit())
    rule = int(digits[-1]) if digits else 0
    number = f"9{rule}{row:02d}" if row <= 99 else f"9{rule}{row:03d}"  # a long list: 5 digits
    return f"AJ{county}{month.replace('-', '')}{number}"


def case_of(
    lead: Mapping[str, object], checked: dt.date, as_of: dt.date, case_key: str
) -> dict[str, object]:
    """The case a county files on a lead found 属实: the suspect amount to recover, recovered in
    full and closed (about half), in part, or not yet — by the lead id, dated by `as_of`;
    filed as `case_key` (`case_id`)."""
    lead_id = str(lead["lead_id"])
    a = ANSWERS.get(str(lead["rule_code"]), DEFAULT)
    amount = round(float(lead.get("suspect_amount") or 0.0), 2)
    u = _share(lead_id, "recovery")
    closed = checked + dt.timedelta(days=10 + int(_share(lead_id, "close") * 30))
    if u < 0.55 and closed <= as_of:
        recovered, status, closed_on = amount, "已结案", closed
    elif u < 0.85:
        recovered, status, closed_on = round(amount * 0.5, 2), "调查中", None
    else:
        recovered, status, closed_on = 0.0, "已立案", None
    return {
        "case_id": case_key,
        "county_code": str(lead["county_code"]),
        "lead_source": "数据比对",
        "found_date": checked,
        "filed_date": checked,
        "subject_type": a.subject_type,
        "violation_type": a.violation_type,
        "amount_involved": amount,
        "amount_due": amount,
        "amount_recovered": recovered,
        "outcome": "拒付追回",
        "status": status,
        "closed_date": closed_on,
        "due_date": checked + dt.timedelta(days=90),
    }


def fill_return(list_file: Path, out_dir: Path, as_of: dt.date) -> Path:
    """The county's return of one list: its answers on the list's sheet, its cases on a second
    sheet; the file keeps the list's name (ingest knows it as a return by the name)."""
    wb = openpyxl.load_workbook(list_file)
    ws = wb.worksheets[0]
    head = [c.value for c in ws[1]]
    col = {name: head.index(name) + 1 for name in head if name}
    fields = ("lead_id", "rule_code", "county_code", "suspect_amount", "received_date")
    named = re.search(r"_(\d{4}-\d{2})_", list_file.name)  # <区划>_<区县>_<月份>_<清单名>
    month = named.group(1) if named else as_of.strftime("%Y-%m")
    cases: list[dict[str, object]] = []
    for row in range(2, ws.max_row + 1):
        lead = {f: ws.cell(row, col[header(f)]).value for f in fields}
        if not lead["lead_id"]:
            continue
        received = _date(lead["received_date"]) or as_of
        result, checked = answer(str(lead["lead_id"]), str(lead["rule_code"]), received, as_of)
        a = ANSWERS.get(str(lead["rule_code"]), DEFAULT)
        ws.cell(row, col[RESULT_HEADER], result)
        if checked is None:
            continue
        ws.cell(row, col[header("checked_date")], checked).number_format = "yyyy-mm-dd"
        ws.cell(row, col[header("action")], a.action if result == CONFIRMED else a.rejected_action)
        if result == CONFIRMED:
            key = case_id(str(lead["county_code"]), month, str(lead["rule_code"]), row - 1)
            case = case_of(lead, checked, as_of, key)
            cases.append(case)
            ws.cell(row, col[header("case_id")], case["case_id"])
    if cases:
        sheet = wb.create_sheet(CASE_SHEET)
        fields = [f.name for f in LEDGERS["cases"].fields]  # every column: none is missing
        sheet.append([LEDGERS["cases"].field(f).header for f in fields])
        for case in cases:
            sheet.append([case.get(f) for f in fields])
            for cell in sheet[sheet.max_row]:
                if isinstance(cell.value, dt.date):
                    cell.number_format = "yyyy-mm-dd"
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / list_file.name
    wb.save(target)
    return target


def fill_returns(lists_dir: Path, out_dir: Path, as_of: dt.date) -> list[Path]:
    """Every list under `lists_dir` answered into `out_dir` (same names)."""
    return [
        fill_return(path, out_dir, as_of)
        for path in sorted(lists_dir.glob("*.xlsx"))
        if not path.name.startswith("~$")
    ]
