"""Ledger contracts: the one place a ledger (台账) is defined.

Validation, the fill-in template, the demo generator and the docs all read these objects, so a
field added here shows up everywhere. Source: ../shared/design/ledgers.md.
"""

from __future__ import annotations

import re
import unicodedata
import dataclasses
import functools
from dataclasses import dataclass

# Field types. `code6` GB/T 2260 division code; `yuan` money ≥ 0 with two decimals;
# `month` YYYY-MM; `id_card` an 18-digit resident ID number (personal data).
TYPES = ("text", "code6", "int", "yuan", "date", "bool", "enum", "month", "id_card")

LEAD_SOURCES = (
    "智能监控",
    "举报投诉",
    "飞行检查",
    "交叉检查",
    "自查自纠",
    "日常稽核",
    "审计移交",
    "数据比对",
    "公安移送",
    "其他",
)
SUBJECT_TYPES = ("定点医疗机构", "定点零售药店", "参保人员", "经办机构", "用人单位", "医药企业")
INSTITUTION_SUBJECTS = ("定点医疗机构", "定点零售药店")
VIOLATION_TYPES = (
    "假病人",
    "假病情",
    "假票据",
    "分解住院",
    "挂床住院",
    "串换药品耗材诊疗项目",
    "重复收费",
    "超标准收费",
    "分解收费",
    "过度诊疗检查",
    "冒名就医",
    "倒卖药品",
    "虚构医药服务",
    "伪造医学文书票据",
    "盗刷医保凭证",
    "重复享受待遇",
    "死亡冒领",
    "内外勾结",
    "其他",
)
OUTCOMES = (
    "约谈",
    "责令整改",
    "拒付追回",
    "暂停协议",
    "解除协议",
    "行政处罚",
    "移送公安",
    "移送纪检监察",
    "不予处理",
)
CASE_STATUSES = ("核查中", "已立案", "调查中", "已结案", "已撤销")
# cases still being worked on; a withdrawn case (已撤销) is neither open nor closed
CASE_OPEN_STATUSES = ("核查中", "已立案", "调查中")
CASE_WITHDRAWN = "已撤销"
INSTITUTION_TYPES = ("公立医疗机构", "民营医疗机构", "基层医疗机构", "定点零售药店")
CREDIT_GRADES = ("A", "B", "C", "D", "E")
CHECK_STATUSES = ("待核查", "核查中", "属实", "不属实")
HOSPITAL_LEVELS = ("三级", "二级", "一级", "未定级")
# Masked lists of screening leads sent to counties each month (workbench/screening/lists.py);
# a returned copy with 核查结果 filled in is ingested as updates of those leads. A file whose
# name carries one of these titles is such a return: its submission period is tagged with the
# title, so it neither replaces nor is replaced by the county's own monthly workbook.
LEAD_FEEDBACK_LISTS = ("死亡人员医保待遇未停及结算疑点清单", "服刑在押人员结算疑点清单")


def feedback_list_of(file_name: str) -> str | None:
    """The feedback list a file name names, if any."""
    return next((title for title in LEAD_FEEDBACK_LISTS if title in file_name), None)


INSPECTION_METHODS = (
    "日常巡查",
    "专项检查",
    "交叉检查",
    "飞行检查",
    "双随机抽查",
    "夜间巡查",
    "回头看",
)
RECT_SOURCES = ("自查自纠", "交叉检查", "飞行检查", "审计", "巡视巡察", "举报", "其他")
RECT_STATUSES = ("未整改", "整改中", "已整改", "已销号")
# an item counts as done (not overdue) once in one of these and closed by the date looked at
RECT_DONE_STATUSES = ("已整改", "已销号")
CHANNELS = ("12393热线", "来信", "来访", "网络", "其他")
ACTIVITIES = (
    "联席会议",
    "宣传活动",
    "警示约谈",
    "培训",
    "数据共享部门",
    "社会监督员",
    "典型案例报送",
    "信用评价机构",
    "失信惩戒",
)


@dataclass(frozen=True)
class Field:
    name: str
    header: str
    type: str = "text"
    required: bool = False
    enum: tuple[str, ...] = ()
    personal: bool = False
    help: str = ""
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"unknown field type {self.type!r} for {self.name}")
        if self.type == "enum" and not self.enum:
            raise ValueError(f"enum field {self.name} has no values")


@dataclass(frozen=True)
class Compare:
    """Row rule `left op right`, checked only where both sides are present."""

    left: str
    op: str  # "<=" or ">="
    right: str
    code: str
    severity: str = "error"


@dataclass(frozen=True)
class RequiredWhen:
    """Row rule: `field` must be filled when `when_field` takes one of `values`."""

    field: str
    when_field: str
    values: tuple[str, ...]
    code: str


@dataclass(frozen=True)
class Reference:
    """Cross-ledger rule: non-blank `field` must exist as `target_field` in `target` ledger."""

    field: str
    target: str
    target_field: str
    code: str


@dataclass(frozen=True)
class Ledger:
    name: str
    title: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    compares: tuple[Compare, ...] = ()
    required_when: tuple[RequiredWhen, ...] = ()
    references: tuple[Reference, ...] = ()
    date_field: str | None = None  # the date that places a row in a month
    description: str = ""
    _by_name: dict[str, Field] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({f.name: f for f in self.fields})

    def field(self, name: str) -> Field:
        return self._by_name[name]

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def sheet_title(self) -> str:
        return self.title

    @functools.cached_property
    def _header_index(self) -> dict[str, str]:
        return self._build_header_index()

    def header_index(self) -> dict[str, str]:
        return dict(self._header_index)

    def _build_header_index(self) -> dict[str, str]:
        """Normalised header → field name, for Chinese headers, English names and aliases."""
        out: dict[str, str] = {}
        for f in self.fields:
            for h in (f.header, f.name, *f.aliases):
                out[normalise_header(h)] = f.name
        return out


_BRACKETS = str.maketrans({"（": "(", "）": ")", "【": "(", "】": ")", "[": "(", "]": ")"})
_UNIT_RE = re.compile(r"\((元|万元|人|个|家|次|%)\)$")


@functools.lru_cache(maxsize=65536)
def normalise_header(text: object) -> str:
    """Tolerant header key: NFKC (full→half width), brackets unified, spaces and units dropped."""
    s = unicodedata.normalize("NFKC", str(text or "")).translate(_BRACKETS)
    s = re.sub(r"[\s\u3000*＊:：]+", "", s).lower()
    s = _UNIT_RE.sub("", s)
    return s


def _f(name: str, header: str, type: str = "text", **kw) -> Field:
    return Field(name, header, type, **kw)


COUNTIES = Ledger(
    name="counties",
    title="区县名录",
    description="每个区县每年一行：参保人数、定点机构数、基金支出、参保缴费情况。",
    key=("county_code", "year"),
    fields=(
        _f("county_code", "区划代码", "code6", required=True, help="6位行政区划代码（GB/T 2260）"),
        _f("county_name", "区县名称", required=True),
        _f("city", "所属地市", required=True),
        _f("year", "年度", "int", required=True, help="四位年份，如 2025"),
        _f("insured_persons", "参保人数", "int"),
        _f("designated_hospitals", "定点医疗机构数", "int"),
        _f("designated_pharmacies", "定点零售药店数", "int"),
        _f("fund_expenditure", "医保基金支出(元)", "yuan"),
        _f("employers_due", "应参保用人单位数", "int"),
        _f("employers_enrolled", "已参保用人单位数", "int", help="不得超过应参保用人单位数"),
        _f("contributions_due", "应缴医保费(元)", "yuan"),
        _f("contributions_paid", "实缴医保费(元)", "yuan"),
    ),
    compares=(Compare("employers_enrolled", "<=", "employers_due", "E_ENROLLED_GT_DUE"),),
)

INSTITUTIONS = Ledger(
    name="institutions",
    title="定点医药机构名录",
    description="辖区内全部定点医疗机构和定点零售药店。",
    key=("institution_id",),
    fields=(
        _f("institution_id", "机构编码", required=True, help="医保定点机构编码，全市唯一"),
        _f("institution_name", "机构名称", required=True),
        _f("county_code", "区划代码", "code6", required=True),
        _f("institution_type", "机构类型", "enum", enum=INSTITUTION_TYPES, required=True),
        _f("credit_grade", "信用等级", "enum", enum=CREDIT_GRADES, help="A–E，未评价留空"),
        _f("key_monitored", "是否重点监控", "bool"),
        _f(
            "hosp_lv",
            "医院等级",
            "enum",
            enum=HOSPITAL_LEVELS,
            help="三级/二级/一级/未定级；药店留空。疑点筛查按同级机构比较次均费用",
        ),
    ),
    references=(Reference("county_code", "counties", "county_code", "E_UNKNOWN_COUNTY"),),
)

CASES = Ledger(
    name="cases",
    title="案件台账",
    description="欺诈骗保及违法违规使用医保基金案件，一案一行。",
    key=("case_id",),
    date_field="found_date",
    fields=(
        _f("case_id", "案件编号", required=True),
        _f("county_code", "区划代码", "code6", required=True),
        _f("lead_source", "线索来源", "enum", enum=LEAD_SOURCES),
        _f("found_date", "发现日期", "date", required=True),
        _f("filed_date", "立案日期", "date", help="不得早于发现日期"),
        _f("subject_type", "违规主体类型", "enum", enum=SUBJECT_TYPES),
        _f("institution_id", "机构编码", help="违规主体为定点医药机构时必填"),
        _f(
            "person_id",
            "当事人身份证号",
            "id_card",
            personal=True,
            help="18位居民身份证号，系统校验并加密展示",
        ),
        _f("person_name", "当事人姓名", personal=True, help="个人信息，报表中一律脱敏"),
        _f("violation_type", "违规类型", "enum", enum=VIOLATION_TYPES),
        _f("amount_involved", "涉案金额(元)", "yuan"),
        _f("amount_due", "应追回金额(元)", "yuan"),
        _f("amount_recovered", "已追回金额(元)", "yuan", help="不得超过应追回金额"),
        _f("fine_amount", "罚款金额(元)", "yuan"),
        _f("outcome", "处理结果", "enum", enum=OUTCOMES),
        _f("referred_police", "是否移送公安", "bool"),
        _f("gang_case", "是否团伙作案", "bool"),
        _f("repeat_offender", "是否重复作案", "bool"),
        _f("exposed", "是否公开曝光", "bool"),
        _f("status", "案件状态", "enum", enum=CASE_STATUSES, required=True),
        _f("closed_date", "结案日期", "date", help="案件状态为已结案时必填，不得早于立案日期"),
    ),
    compares=(
        Compare("filed_date", ">=", "found_date", "E_FILED_BEFORE_FOUND"),
        Compare("closed_date", ">=", "filed_date", "E_CLOSED_BEFORE_FILED"),
        Compare("closed_date", ">=", "found_date", "E_CLOSED_BEFORE_FOUND"),
        Compare("amount_recovered", "<=", "amount_due", "E_RECOVERED_GT_DUE"),
        Compare("amount_due", "<=", "amount_involved", "W_DUE_GT_INVOLVED", severity="warning"),
    ),
    required_when=(
        RequiredWhen("closed_date", "status", ("已结案",), "E_CLOSED_DATE_MISSING"),
        RequiredWhen(
            "institution_id", "subject_type", INSTITUTION_SUBJECTS, "E_INSTITUTION_MISSING"
        ),
    ),
    references=(
        Reference("county_code", "counties", "county_code", "E_UNKNOWN_COUNTY"),
        Reference("institution_id", "institutions", "institution_id", "E_UNKNOWN_INSTITUTION"),
    ),
)

LEADS = Ledger(
    name="leads",
    title="疑点线索台账",
    description="智能监控、数据比对、举报等渠道形成的疑点线索及其核查情况。",
    key=("lead_id",),
    date_field="received_date",
    fields=(
        _f("lead_id", "线索编号", required=True),
        _f("county_code", "区划代码", "code6", required=True),
        _f("lead_source", "线索来源", "enum", enum=LEAD_SOURCES),
        _f("rule_code", "规则编码", help="触发的智能监控规则编码"),
        _f("received_date", "接收日期", "date", required=True),
        _f(
            "check_status",
            "核查状态",
            "enum",
            enum=CHECK_STATUSES,
            required=True,
            aliases=("核查结果",),
            help="疑点清单中的“核查结果”列即本列",
        ),
        _f("checked_date", "核查完成日期", "date"),
        _f("case_id", "关联案件编号", help="转为案件时填写，须在案件台账中存在"),
        # What a checker needs about a lead found by screening (workbench/screening/).
        _f("rule_name", "规则名称", help="疑点筛查规则的名称"),
        _f("subject_type", "疑点主体类型", "enum", enum=SUBJECT_TYPES),
        _f("institution_id", "机构编码", help="涉及的定点医药机构"),
        _f("person_no", "人员编号", help="医保信息平台人员编号"),
        _f(
            "person_id",
            "证件号码(脱敏)",
            personal=True,
            help="只保存脱敏后的证件号码，如 3304**********1234",
        ),
        _f("data_period", "数据期间", "month", help="疑点所在的结算月份，格式 2025-06"),
        _f("hit_count", "疑点次数", "int", help="涉及的结算（划拨）笔数"),
        _f("suspect_amount", "疑点金额(元)", "yuan"),
        _f("due_date", "核查时限", "date", help="应在此日期前完成核查"),
        _f("action", "处理措施", help="核查后采取的措施，如追回、暂停结算、移交稽核"),
    ),
    compares=(Compare("checked_date", ">=", "received_date", "E_CHECKED_BEFORE_RECEIVED"),),
    references=(
        Reference("county_code", "counties", "county_code", "E_UNKNOWN_COUNTY"),
        Reference("case_id", "cases", "case_id", "E_UNKNOWN_CASE"),
    ),
)

INSPECTIONS = Ledger(
    name="inspections",
    title="检查台账",
    description="对定点医药机构的各类检查及病历抽查情况。",
    key=("inspection_id",),
    date_field="inspection_date",
    fields=(
        _f("inspection_id", "检查编号", required=True),
        _f("county_code", "区划代码", "code6", required=True),
        _f("institution_id", "机构编码", required=True),
        _f("method", "检查方式", "enum", enum=INSPECTION_METHODS, required=True),
        _f("inspection_date", "检查日期", "date", required=True),
        _f("records_sampled", "抽查病历数", "int"),
        _f("records_total", "住院病历总数", "int", help="不得少于抽查病历数"),
        _f("problems_found", "发现问题数", "int"),
    ),
    compares=(Compare("records_sampled", "<=", "records_total", "E_SAMPLED_GT_TOTAL"),),
    references=(
        Reference("county_code", "counties", "county_code", "E_UNKNOWN_COUNTY"),
        Reference("institution_id", "institutions", "institution_id", "E_UNKNOWN_INSTITUTION"),
    ),
)

RECTIFICATIONS = Ledger(
    name="rectifications",
    title="问题整改台账",
    description="问题清单与销号清单，一问题一档案。",
    key=("issue_id",),
    date_field="found_date",
    fields=(
        _f("issue_id", "问题编号", required=True),
        _f("county_code", "区划代码", "code6", required=True),
        _f("source", "问题来源", "enum", enum=RECT_SOURCES),
        _f("responsible_unit", "责任单位"),
        _f("description", "问题描述"),
        _f("found_date", "发现日期", "date", required=True),
        _f("deadline", "整改时限", "date", help="不得早于发现日期"),
        _f("status", "整改状态", "enum", enum=RECT_STATUSES, required=True),
        _f("closed_date", "销号日期", "date", help="整改状态为已销号时必填"),
        _f("amount_involved", "涉及金额(元)", "yuan"),
        _f("amount_recovered", "已追回金额(元)", "yuan"),
    ),
    compares=(
        Compare("deadline", ">=", "found_date", "E_DEADLINE_BEFORE_FOUND"),
        Compare("closed_date", ">=", "found_date", "E_CLOSED_BEFORE_FOUND"),
        Compare("amount_recovered", "<=", "amount_involved", "E_RECOVERED_GT_DUE"),
    ),
    required_when=(RequiredWhen("closed_date", "status", ("已销号",), "E_CLOSED_DATE_MISSING"),),
    references=(Reference("county_code", "counties", "county_code", "E_UNKNOWN_COUNTY"),),
)

COMPLAINTS = Ledger(
    name="complaints",
    title="投诉举报台账",
    description="12393 热线、来信来访、网络等渠道受理的投诉举报。",
    key=("complaint_id",),
    date_field="received_date",
    fields=(
        _f("complaint_id", "举报编号", required=True),
        _f("county_code", "区划代码", "code6", required=True),
        _f("channel", "举报渠道", "enum", enum=CHANNELS),
        _f("received_date", "受理日期", "date", required=True),
        _f("verified", "是否查实", "bool"),
        _f("closed_date", "办结日期", "date"),
        _f("reward_paid", "奖励金额(元)", "yuan"),
    ),
    compares=(Compare("closed_date", ">=", "received_date", "E_CLOSED_BEFORE_RECEIVED"),),
    references=(Reference("county_code", "counties", "county_code", "E_UNKNOWN_COUNTY"),),
)

ACTIVITIES_LEDGER = Ledger(
    name="activities",
    title="工作台账",
    description="联席会议、宣传、数据共享、社会监督员等共治工作，按月按事项填报数量。",
    key=("county_code", "month", "activity"),
    date_field="month",
    fields=(
        _f("county_code", "区划代码", "code6", required=True),
        _f("month", "月份", "month", required=True, help="格式 2025-09"),
        _f("activity", "工作事项", "enum", enum=ACTIVITIES, required=True),
        _f("count", "数量", "int", required=True),
    ),
    references=(Reference("county_code", "counties", "county_code", "E_UNKNOWN_COUNTY"),),
)

# Dependency order: a ledger's references point only to ledgers before it.
LEDGERS: dict[str, Ledger] = {
    lg.name: lg
    for lg in (
        COUNTIES,
        INSTITUTIONS,
        CASES,
        LEADS,
        INSPECTIONS,
        RECTIFICATIONS,
        COMPLAINTS,
        ACTIVITIES_LEDGER,
    )
}


def ledger(name: str) -> Ledger:
    return LEDGERS[name]


def personal_fields() -> set[str]:
    return {f.name for lg in LEDGERS.values() for f in lg.fields if f.personal}
