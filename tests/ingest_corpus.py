"""The bad-input corpus: small real files, each with the findings it must produce.

Each case writes its file(s) into a folder and names the (file, sheet, row, column, code) tuples
the ingest must report — row as Excel shows it, column as the header written in the file.
Expectations are worked out by hand from the rows written here, not from the code's output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import openpyxl


def _id_card(prefix17: str) -> str:
    """A checksum-valid 18-digit resident ID number (GB 11643)."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(prefix17, weights))
    return prefix17 + "10X98765432"[total % 11]


PERSON_ID = _id_card("11010119900307123")

# One valid row per ledger, consistent across ledgers (references resolve).
VALID_ROWS: dict[str, dict[str, object]] = {
    "counties": {
        "county_code": "990101",
        "county_name": "测试县",
        "city": "测试市",
        "year": 2025,
        "insured_persons": 350000,
        "designated_hospitals": 120,
        "designated_pharmacies": 210,
        "fund_expenditure": 1234567.5,
        "employers_due": 900,
        "employers_enrolled": 850,
        "contributions_due": 5000000.0,
        "contributions_paid": 4800000.25,
    },
    "institutions": {
        "institution_id": "H99010100001",
        "institution_name": "测试县人民医院",
        "county_code": "990101",
        "institution_type": "公立医疗机构",
        "credit_grade": "A",
        "key_monitored": "否",
        "hosp_lv": "二级",
    },
    "cases": {
        "case_id": "AJ-2025-0001",
        "county_code": "990101",
        "lead_source": "智能监控",
        "found_date": date(2025, 9, 1),
        "filed_date": date(2025, 9, 3),
        "subject_type": "定点医疗机构",
        "institution_id": "H99010100001",
        "person_id": PERSON_ID,
        "person_name": "张三",
        "violation_type": "串换药品耗材诊疗项目",
        "amount_involved": 12000.0,
        "amount_due": 10000.0,
        "amount_recovered": 8000.0,
        "fine_amount": 2000.0,
        "outcome": "移送公安",
        "referred_police": "是",
        "gang_case": "否",
        "repeat_offender": "否",
        "exposed": "是",
        "status": "已结案",
        "closed_date": date(2025, 9, 20),
        "inspection_id": "JC-2025-0001",
        "due_date": date(2025, 12, 2),
        "public_servant": "否",
        "suspected_crime": "是",
        "referral_date": date(2025, 9, 10),
        "police_feedback": "立案",
        "police_feedback_date": date(2025, 9, 18),
        "discipline_referral_date": date(2025, 9, 15),
    },
    "leads": {
        "lead_id": "XS-2025-0001",
        "county_code": "990101",
        "lead_source": "智能监控",
        "complaint_id": "JB-2025-0001",
        "inspection_id": "JC-2025-0001",
        "rule_code": "R-017",
        "received_date": date(2025, 8, 28),
        "check_status": "属实",
        "checked_date": date(2025, 9, 1),
        "confirmed_amount": 12000.0,
        "case_id": "AJ-2025-0001",
        "rule_name": "同一参保人月就诊次数≥15次",
        "subject_type": "参保人员",
        "institution_id": "H99010100001",
        "person_no": "P990101000001",
        "person_id": "3304**********1234",
        "data_period": "2025-07",
        "hit_count": 16,
        "suspect_amount": 2240.0,
        "due_date": date(2025, 9, 27),
        "action": "追回基金",
    },
    "inspections": {
        "inspection_id": "JC-2025-0001",
        "county_code": "990101",
        "institution_id": "H99010100001",
        "method": "飞行检查",
        "inspection_date": date(2025, 9, 10),
        "records_sampled": 50,
        "records_total": 800,
        "problems_found": 3,
    },
    "rectifications": {
        "issue_id": "ZG-2025-0001",
        "county_code": "990101",
        "source": "飞行检查",
        "responsible_unit": "测试县人民医院",
        "description": "串换诊疗项目收费",
        "found_date": date(2025, 9, 10),
        "deadline": date(2025, 10, 10),
        "status": "已销号",
        "closed_date": date(2025, 9, 30),
        "amount_involved": 5000.0,
        "amount_recovered": 5000.0,
        "inspection_id": "JC-2025-0001",
        "case_id": "AJ-2025-0001",
    },
    "complaints": {
        "complaint_id": "JB-2025-0001",
        "county_code": "990101",
        "channel": "12393热线",
        "received_date": date(2025, 9, 5),
        "verified": "是",
        "closed_date": date(2025, 9, 25),
        "reward_paid": 500.0,
        "reward_paid_date": date(2025, 10, 20),
        "institution_id": "H99010100001",
        "case_id": "AJ-2025-0001",
        "due_date": date(2025, 11, 28),
    },
    "activities": {
        "county_code": "990101",
        "month": "2025-09",
        "activity": "联席会议",
        "count": 2,
    },
    "self_inspections": {
        "record_id": "ZC-2025-0001",
        "county_code": "990101",
        "institution_id": "H99010100001",
        "report_date": date(2025, 5, 10),
        "problems_found": 2,
        "amount_involved": 6000.0,
        "amount_returned": 5000.0,
        "returned_date": date(2025, 5, 20),
        "rectified": "是",
    },
    "talks": {
        "talk_id": "YT-2025-0001",
        "county_code": "990101",
        "talk_date": date(2025, 8, 20),
        "target_type": "定点医疗机构",
        "institution_id": "H99010100001",
        "convened_by": "测试县医疗保障局",
        "reasons": "检查发现违规问题较多",
        "criteria": "问题突出",
        "commitments": "一个月内完成整改",
        "review_due": date(2025, 9, 30),
        "review_date": date(2025, 9, 25),
        "review_result": "整改到位",
    },
    "staff_points": {
        "record_id": "JF-2025-0001",
        "county_code": "990101",
        "institution_id": "H99010100001",
        "staff_code": "YS-0001",
        "staff_name": "李四",
        "staff_type": "医师",
        "scored_date": date(2025, 9, 25),
        "points": 3,
        "reason": "串换诊疗项目收费",
        "case_id": "AJ-2025-0001",
    },
    "agency_breaches": {
        "breach_id": "NK-2025-0001",
        "county_code": "990101",
        "agency": "测试县医疗保障事务中心",
        "found_date": date(2025, 7, 1),
        "breach_type": "违规支付待遇",
        "description": "参保人员死亡后待遇未及时停发",
        "staff_involved": 1,
        "amount_involved": 3000.0,
        "status": "已整改",
        "closed_date": date(2025, 8, 1),
        "case_id": "AJ-2025-0001",
    },
}


CITY_FILE = "990000_演示市_名录_2025.xlsx"
CASE_HEADERS = [
    "案件编号",
    "区划代码",
    "线索来源",
    "发现日期",
    "立案日期",
    "违规主体类型",
    "机构编码",
    "当事人身份证号",
    "违规类型",
    "涉案金额(元)",
    "应追回金额(元)",
    "已追回金额(元)",
    "处理结果",
    "是否移送公安",
    "案件状态",
    "结案日期",
]
# A valid case row in CASE_HEADERS order; ID 11010519491231002X has a correct GB 11643 checksum.
GOOD_CASE = [
    "C001",
    "990101",
    "智能监控",
    "2025-03-01",
    "2025-03-05",
    "定点医疗机构",
    "H001",
    "11010519491231002X",
    "串换药品耗材诊疗项目",
    "12000",
    "10000",
    "8000",
    "拒付追回",
    "否",
    "已结案",
    "2025-04-01",
]


def write_city(folder: Path) -> Path:
    """Counties 990101/990102 and institutions H001/H002: the references every case needs."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "区县名录"
    ws.append(["区划代码", "区县名称", "所属地市", "年度", "参保人数"])
    ws.append(["990101", "东湖区", "演示市", 2025, 300000])
    ws.append(["990102", "青山县", "演示市", 2025, 200000])
    ws2 = wb.create_sheet("定点医药机构名录")
    ws2.append(["机构编码", "机构名称", "区划代码", "机构类型", "信用等级", "是否重点监控"])
    ws2.append(["H001", "演示第一医院", "990101", "公立医疗机构", "A", "是"])
    ws2.append(["H002", "演示大药房", "990102", "定点零售药店", None, "否"])
    path = folder / CITY_FILE
    wb.save(path)
    return path


def case_row(**changes: object) -> list[object]:
    row = list(GOOD_CASE)
    for header, value in changes.items():
        row[CASE_HEADERS.index(header)] = value
    return row


def write_cases(
    path: Path,
    rows: list[list[object]],
    headers: list[str] | None = None,
    title: str | None = None,
    sheet: str = "案件台账",
) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    if title:
        ws.append([title])
    ws.append(headers or CASE_HEADERS)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


@dataclass
class Case:
    name: str
    build: Callable[[Path], None]
    expect: set[tuple[str, str, int | None, str, str]] = field(default_factory=set)
    rows_in: int = 0
    accepted: int = 0


F = "990101_东湖区_2025-09.xlsx"


def _money_text(d: Path) -> None:
    write_cases(d / F, [case_row(**{"应追回金额(元)": "约5万"})])


def _negative(d: Path) -> None:
    write_cases(d / F, [case_row(**{"涉案金额(元)": "-100"})])


def _recovered_gt_due(d: Path) -> None:
    write_cases(d / F, [case_row(), case_row(案件编号="C002", **{"已追回金额(元)": "10,000.01"})])


def _closed_before_filed(d: Path) -> None:
    write_cases(d / F, [case_row(结案日期="2025-03-04")])


def _duplicate(d: Path) -> None:
    write_cases(d / F, [case_row(), case_row(), case_row(案件编号="C002")])


def _unknown_county(d: Path) -> None:
    write_cases(d / F, [case_row(区划代码="990199")])


def _bad_id(d: Path) -> None:
    write_cases(
        d / F,
        [
            case_row(当事人身份证号="110105194912310021"),
            case_row(案件编号="C002", 当事人身份证号="12345"),
        ],
    )


def _dates(d: Path) -> None:
    import datetime as dt

    rows = [
        case_row(案件编号="C1", 发现日期="2025/3/1", 立案日期="2025年3月5日"),
        case_row(案件编号="C2", 发现日期="20250301", 立案日期=dt.datetime(2025, 3, 5)),
        # Excel serial 45717 = 2025-03-01 (day 1 = 1900-01-01, with Excel's 1900 leap bug)
        case_row(案件编号="C3", 发现日期=45717, 立案日期="2025-03-05"),
        case_row(案件编号="C4", 发现日期="2025.03.01"),
        case_row(案件编号="C5", 发现日期="三月一日"),
    ]
    write_cases(d / F, rows)


def _missing_column(d: Path) -> None:
    headers = [h for h in CASE_HEADERS if h != "案件状态"]
    row = [v for h, v in zip(CASE_HEADERS, GOOD_CASE) if h != "案件状态"]
    write_cases(d / F, [row, row[:1] + ["990102"] + row[2:]], headers=headers)


def _renamed_column(d: Path) -> None:
    headers = ["追回金额" if h == "已追回金额(元)" else h for h in CASE_HEADERS]
    write_cases(d / F, [case_row()], headers=headers)


def _title_and_fullwidth(d: Path) -> None:
    headers = [h.replace("(", "（").replace(")", "）") for h in CASE_HEADERS]
    headers[0] = " 案件 编号 "
    write_cases(d / F, [case_row()], headers=headers, title="东湖区医保局 案件台账（2025年9月）")


def _two_row_header(d: Path) -> None:
    """Most headers merged over two rows; 金额（元） is a group over three money columns."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "案件台账"
    top = list(CASE_HEADERS)
    bottom: list[object] = [None] * len(CASE_HEADERS)
    money = [CASE_HEADERS.index(h) for h in ("涉案金额(元)", "应追回金额(元)", "已追回金额(元)")]
    for i, label in zip(money, ("涉案金额", "应追回金额", "已追回金额")):
        top[i] = "金额（元）" if i == money[0] else None
        bottom[i] = label
    ws.append(top)
    ws.append(bottom)
    for i, _h in enumerate(CASE_HEADERS):
        col = openpyxl.utils.get_column_letter(i + 1)
        if i not in money:
            ws.merge_cells(f"{col}1:{col}2")
    ws.merge_cells(
        f"{openpyxl.utils.get_column_letter(money[0] + 1)}1:"
        f"{openpyxl.utils.get_column_letter(money[-1] + 1)}1"
    )
    ws.append(case_row())
    wb.save(d / F)


def _empty_and_hidden(d: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "空表"
    hid = wb.create_sheet("案件台账")
    hid.append(CASE_HEADERS)
    hid.append(case_row())
    hid.sheet_state = "hidden"
    wb.save(d / F)


def _formula(d: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "案件台账"
    ws.append(CASE_HEADERS)
    ws.append(case_row(**{"涉案金额(元)": "=10000+2000"}))
    wb.save(d / F)


def _not_workbook(d: Path) -> None:
    (d / "990101_东湖区_2025-09.xlsx").write_bytes(b"this is not a workbook at all\n" * 10)


def _gbk_csv(d: Path) -> None:
    lines = [
        ",".join(CASE_HEADERS),
        ",".join(str(v) for v in case_row()),
        ",".join(str(v) for v in case_row(案件编号="C002", 违规类型="乱收费")),
    ]
    (d / "990101_东湖区_2025-09.csv").write_bytes("\r\n".join(lines).encode("gbk"))


def _bom_csv(d: Path) -> None:
    lines = [",".join(CASE_HEADERS), ",".join(str(v) for v in case_row())]
    (d / "990101_东湖区_2025-09.csv").write_bytes("\n".join(lines).encode("utf-8-sig"))


def _required_when(d: Path) -> None:
    write_cases(d / F, [case_row(结案日期=None), case_row(案件编号="C002", 机构编码=None)])


def _unknown_institution(d: Path) -> None:
    write_cases(d / F, [case_row(机构编码="H999")])


def _referred_with_no_action(d: Path) -> None:
    """处理结果 约谈 / 不予处理 with 是否移送公安 = 是: a talk or no action is no referral."""
    write_cases(
        d / F,
        [
            case_row(处理结果="约谈", 是否移送公安="是"),
            case_row(案件编号="C002", 处理结果="不予处理", 是否移送公安="是"),
            case_row(案件编号="C003"),
        ],
    )


def _referral_and_inspection(d: Path) -> None:
    """A referral dated before the filing (2025-03-05), and a case naming an inspection no
    ledger holds."""
    headers = [*CASE_HEADERS, "移送公安日期", "来源检查编号"]
    write_cases(
        d / F,
        [
            case_row(是否移送公安="是") + ["2025-03-04", None],
            case_row(案件编号="C002") + [None, "JC-不存在"],
            case_row(案件编号="C003") + [None, None],
        ],
        headers,
    )


def _reward_before_receipt(d: Path) -> None:
    """A complaint received 2025-09-05 whose reward is dated 2025-09-01, four days before it
    was received; the second complaint's reward is paid after the receipt; the third's reward
    has no date (a warning: it cannot count as paid on time)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "投诉举报台账"
    ws.append(["举报编号", "区划代码", "受理日期", "是否查实", "奖励金额(元)", "奖励发放日期"])
    ws.append(["JB-1", "990101", "2025-09-05", "是", 300, "2025-09-01"])
    ws.append(["JB-2", "990101", "2025-09-05", "是", 300, "2025-10-10"])
    ws.append(["JB-3", "990101", "2025-09-06", "是", 250, None])
    wb.save(d / F)


S = "案件台账"
CASES: list[Case] = [
    Case("text_in_money", _money_text, {(F, S, 2, "应追回金额(元)", "E_NOT_NUMBER")}, 1, 0),
    Case("negative_money", _negative, {(F, S, 2, "涉案金额(元)", "E_NEGATIVE_MONEY")}, 1, 0),
    Case(
        "recovered_gt_due",
        _recovered_gt_due,
        {(F, S, 3, "已追回金额(元)", "E_RECOVERED_GT_DUE")},
        2,
        1,
    ),
    Case(
        "closed_before_filed",
        _closed_before_filed,
        {(F, S, 2, "结案日期", "E_CLOSED_BEFORE_FILED")},
        1,
        0,
    ),
    Case("duplicate_ids", _duplicate, {(F, S, 3, "案件编号", "E_DUPLICATE_KEY")}, 3, 2),
    Case("unknown_county", _unknown_county, {(F, S, 2, "区划代码", "E_UNKNOWN_COUNTY")}, 1, 0),
    Case(
        "unknown_institution",
        _unknown_institution,
        {(F, S, 2, "机构编码", "E_UNKNOWN_INSTITUTION")},
        1,
        0,
    ),
    Case(
        "id_checksum",
        _bad_id,
        {(F, S, 2, "当事人身份证号", "E_ID_CHECKSUM"), (F, S, 3, "当事人身份证号", "E_ID_FORMAT")},
        2,
        0,
    ),
    Case("dates_every_form", _dates, {(F, S, 6, "发现日期", "E_DATE")}, 5, 4),
    Case(
        "missing_required_column",
        _missing_column,
        {(F, S, 1, "案件状态", "E_MISSING_COLUMN")},
        2,
        0,
    ),
    Case(
        "renamed_column",
        _renamed_column,
        {(F, S, 1, "已追回金额(元)", "W_MISSING_COLUMN"), (F, S, 1, "追回金额", "W_EXTRA_COLUMN")},
        1,
        1,
    ),
    Case("title_row_fullwidth", _title_and_fullwidth, set(), 1, 1),
    Case("two_row_header", _two_row_header, {(F, S, 2, "", "W_TWO_ROW_HEADER")}, 1, 1),
    Case(
        "empty_and_hidden",
        _empty_and_hidden,
        {(F, "空表", None, "", "W_EMPTY_SHEET"), (F, S, None, "", "W_HIDDEN_SHEET")},
        1,
        1,
    ),
    Case("formula_cell", _formula, {(F, S, 2, "J列", "W_FORMULA_CELL")}, 1, None),
    Case("not_a_workbook", _not_workbook, {(F, "", None, "", "E_NOT_WORKBOOK")}, 0, 0),
    Case(
        "gbk_csv", _gbk_csv, {("990101_东湖区_2025-09.csv", "CSV", 3, "违规类型", "E_ENUM")}, 2, 1
    ),
    Case("utf8_bom_csv", _bom_csv, set(), 1, 1),
    Case(
        "required_when",
        _required_when,
        {
            (F, S, 2, "结案日期", "E_CLOSED_DATE_MISSING"),
            (F, S, 3, "机构编码", "E_INSTITUTION_MISSING"),
        },
        2,
        0,
    ),  # the supervision loop (issue 13): contradictions and links
    Case(
        "referred_with_no_action",
        _referred_with_no_action,
        {
            (F, S, 2, "是否移送公安", "E_REFERRED_BUT_NO_ACTION"),
            (F, S, 3, "是否移送公安", "E_REFERRED_BUT_NO_ACTION"),
        },
        3,
        1,
    ),
    Case(
        "referral_before_filing_and_unknown_inspection",
        _referral_and_inspection,
        {
            (F, S, 2, "移送公安日期", "E_REFERRAL_BEFORE_FILED"),
            (F, S, 3, "来源检查编号", "E_UNKNOWN_INSPECTION"),
        },
        3,
        1,
    ),
    Case(
        "reward_paid_before_receipt",
        _reward_before_receipt,
        {
            (F, "投诉举报台账", 2, "奖励发放日期", "E_REWARD_BEFORE_RECEIVED"),
            (F, "投诉举报台账", 4, "奖励发放日期", "W_REWARD_DATE_MISSING"),
        },
        3,
        2,
    ),
]


# ---------------------------------------------------------------- hostile files
# Each is built small on disk (a few KB) from a valid file, then altered the way a probe did.


def _rewrite_member(path: Path, member_prefix: str, change: Callable[[bytes], bytes]) -> Path:
    """Rewrite the members of a zip whose name starts with `member_prefix`."""
    import zipfile

    data = {}
    with zipfile.ZipFile(path) as zin:
        infos = zin.infolist()
        for info in infos:
            data[info.filename] = zin.read(info.filename)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in infos:
            body = data[info.filename]
            if info.filename.startswith(member_prefix):
                body = change(body)
            zout.writestr(info.filename, body)
    return path


def far_cell_xlsx(path: Path, corner: str = "XFD1048576") -> Path:
    """A valid cases workbook whose sheet claims the range A1:`corner` and holds one value in
    that far corner: the reader would allocate every cell in between (2 KB on disk)."""
    import re

    write_cases(path, [case_row()])

    def change(xml: bytes) -> bytes:
        xml = re.sub(rb'<dimension ref="[^"]*"/>', f'<dimension ref="A1:{corner}"/>'.encode(), xml)
        row = re.match(r"[A-Z]+(\d+)", corner).group(1)
        far = f'<row r="{row}"><c r="{corner}" t="n"><v>1</v></c></row>'.encode()
        return xml.replace(b"</sheetData>", far + b"</sheetData>")

    return _rewrite_member(path, "xl/worksheets/sheet", change)


def zip_bomb_xlsx(path: Path, unzipped_mb: int) -> Path:
    """A valid cases workbook whose sheet XML is padded with `unzipped_mb` MB of whitespace:
    thousands of times smaller zipped than unzipped."""
    import zipfile

    write_cases(path, [case_row()])
    with zipfile.ZipFile(path) as zin:
        parts = {i.filename: zin.read(i.filename) for i in zin.infolist()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, body in parts.items():
            if not name.startswith("xl/worksheets/sheet"):
                zout.writestr(name, body)
                continue
            head, tail = body.split(b"</worksheet>")
            with zout.open(name, "w", force_zip64=True) as fh:
                fh.write(head)
                block = b" " * (1 << 20)
                for _ in range(unzipped_mb):
                    fh.write(block)
                fh.write(b"</worksheet>" + tail)
    return path


def lying_zip_xlsx(path: Path) -> Path:
    """A workbook whose zip directory claims its sheet unzips to 100 bytes while it really
    unzips to megabytes (a size check that trusts the directory is fooled)."""
    import struct
    import zipfile

    zip_bomb_xlsx(path, 4)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = next(i for i in zf.infolist() if i.filename.startswith("xl/worksheets/sheet"))
    # local header: uncompressed size at offset 22; zip64 extra fields carry it too
    struct.pack_into("<I", data, info.header_offset + 22, 100)
    cd = data.find(b"PK\x01\x02")
    while cd >= 0:
        name_len = struct.unpack_from("<H", data, cd + 28)[0]
        name = bytes(data[cd + 46 : cd + 46 + name_len]).decode()
        if name == info.filename:
            struct.pack_into("<I", data, cd + 24, 100)
            extra_len = struct.unpack_from("<H", data, cd + 30)[0]
            extra = cd + 46 + name_len
            end = extra + extra_len
            while extra < end:  # zip64: the real sizes live in the extra field
                tag, size = struct.unpack_from("<HH", data, extra)
                if tag == 1 and size >= 8:
                    struct.pack_into("<Q", data, extra + 4, 100)
                extra += 4 + size
            struct.pack_into("<I", data, cd + 24, 100)
            break
        cd = data.find(b"PK\x01\x02", cd + 4)
    path.write_bytes(bytes(data))
    return path


def cases_csv_lines(n: int, **changes: object) -> list[str]:
    lines = [",".join(CASE_HEADERS)]
    for i in range(n):
        row = case_row(案件编号=f"C{i:06d}", **changes)
        lines.append(",".join(str(v) for v in row))
    return lines


def nul_csv(path: Path, after: int = 4096) -> Path:
    """A cases CSV with a NUL byte inside a key somewhere after the first `after` bytes."""
    lines = cases_csv_lines(200)
    text = "\n".join(lines).encode("utf-8")
    at = text.index(b"\nC", after) + 2  # inside the next case number
    path.write_bytes(text[:at] + b"\x00" + text[at:])
    return path


def mixed_encoding_csv(path: Path, first: str = "utf-8", then: str = "gbk") -> Path:
    """Header and first rows in one encoding, the rest in another (two files pasted together):
    returns the path; the switch is on line 4."""
    lines = cases_csv_lines(6)
    head = "\n".join(lines[:3]) + "\n"
    body = "\n".join(lines[3:]) + "\n"
    path.write_bytes(head.encode(first) + body.encode(then))
    return path
