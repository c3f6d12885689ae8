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


# the leads' fields a feedback list carries (`screening.lists` writes them): a returned list is
# not short of the ledger's other fields, which stay as they were
LEAD_FEEDBACK_COLUMNS = (
    "lead_id",
    "county_code",
    "lead_source",
    "rule_code",
    "rule_name",
    "subject_type",
    "institution_id",
    "person_no",
    "person_id",
    "data_period",
    "hit_count",
    "suspect_amount",
    "received_date",
    "due_date",
    "check_status",
    "checked_date",
    "action",
    "case_id",
)


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
CHECK_DONE_STATUSES = ("属实", "不属实")  # a lead counts as checked once in one of these
CHANNELS = ("12393热线", "来信", "来访", "网络", "其他")
# what the police answered a referral with (行刑衔接, 医保发〔2021〕49号)
POLICE_FEEDBACK = ("受理", "立案", "不予立案", "退回")
# 约谈: who was talked to, and what the follow-up check (复查) found
TALK_TARGETS = ("区县医保部门", "定点医疗机构", "定点零售药店", "经办机构", "其他")
TALK_INSTITUTION_TARGETS = ("定点医疗机构", "定点零售药店")
TALK_COUNTY_TARGET = "区县医保部门"  # a 约谈 of the county itself (the 约谈名单's)
REVIEW_RESULTS = ("整改到位", "部分整改", "未整改")
REVIEW_DONE = "整改到位"
# 医保医师（药师）记分: who was scored
STAFF_TYPES = ("医师", "药师", "护士", "医技人员", "其他")
# 经办机构内控问题 (004 二（四）: the failures a 无骗保 agency must not have)
BREACH_TYPES = (
    "未按时支付医保费用",
    "丢失或篡改缴费及待遇记录",
    "泄露用人单位和个人信息",
    "违规办理参保登记",
    "违规支付待遇",
    "内控制度执行不到位",
    "其他",
)
BREACH_STATUSES = ("整改中", "已整改")
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
class When:
    """One condition of a `Forbidden` rule on a row's typed values: `field` takes one of
    `values` (booleans as True/False), or `negate`d does not (a blank cell included); with no
    `values`, `filled=True` means the cell is filled and `filled=False` that it is blank."""

    field: str
    values: tuple[object, ...] = ()
    filled: bool | None = None
    negate: bool = False

    def __post_init__(self) -> None:
        if bool(self.values) == (self.filled is not None):
            raise ValueError(f"When({self.field}): give either values or filled")


@dataclass(frozen=True)
class Forbidden:
    """Row rule: a combination of values no row may have (every condition in `when` holds),
    e.g. 处理结果 = 不予处理 with 是否移送公安 = 是. The finding points at `field`'s cell and names
    `other` as the field it contradicts. A `W_` code is a warning, any other code an error."""

    field: str
    other: str
    when: tuple[When, ...]
    code: str

    @property
    def severity(self) -> str:
        return "warning" if self.code.startswith("W_") else "error"


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
    forbidden: tuple[Forbidden, ...] = ()
    _by_name: dict[str, Field] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({f.name: f for f in self.fields})
        # a field declared twice (say, by two merged branches) would silently shadow itself
        if len(self._by_name) != len(self.fields):
            names = [f.name for f in self.fields]
            twice = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"{self.name}: fields declared twice: {twice}")
        named = [
            *self.key,
            *(n for c in self.compares for n in (c.left, c.right)),
            *(n for r in self.required_when for n in (r.field, r.when_field)),
            *(r.field for r in self.references),
            *(n for fb in self.forbidden for n in (fb.field, fb.other)),
            *(w.field for fb in self.forbidden for w in fb.when),
            *([self.date_field] if self.date_field else []),
        ]
        unknown = sorted(set(named) - set(self._by_name))
        if unknown:
            raise ValueError(f"{self.name}: rules name unknown fields {unknown}")

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
        # the supervision loop (issue 13): where the case came from, its time limit, 行刑衔接
        _f(
            "inspection_id",
            "来源检查编号",
            help="案件由检查发现时填写，须在检查台账中存在（由线索、举报转来的在线索、举报台账中关联）",
        ),
        _f("due_date", "办案时限", "date", help="案件应办结的日期"),
        _f("public_servant", "当事人是否公职人员", "bool", help="机关事业单位、国有企业工作人员"),
        _f(
            "suspected_crime", "是否涉嫌犯罪", "bool", help="经核查涉嫌犯罪、应移送公安机关的填“是”"
        ),
        _f("referral_date", "移送公安日期", "date", help="不得早于立案日期"),
        _f("police_feedback", "公安反馈结果", "enum", enum=POLICE_FEEDBACK),
        _f("police_feedback_date", "公安反馈日期", "date", help="不得早于移送公安日期"),
        _f("discipline_referral_date", "移送纪检监察日期", "date"),
    ),
    compares=(
        Compare("filed_date", ">=", "found_date", "E_FILED_BEFORE_FOUND"),
        Compare("closed_date", ">=", "filed_date", "E_CLOSED_BEFORE_FILED"),
        Compare("closed_date", ">=", "found_date", "E_CLOSED_BEFORE_FOUND"),
        Compare("amount_recovered", "<=", "amount_due", "E_RECOVERED_GT_DUE"),
        Compare("amount_due", "<=", "amount_involved", "W_DUE_GT_INVOLVED", severity="warning"),
        Compare("due_date", ">=", "found_date", "E_DUE_BEFORE_FOUND"),
        Compare("referral_date", ">=", "filed_date", "E_REFERRAL_BEFORE_FILED"),
        Compare("referral_date", ">=", "found_date", "E_REFERRAL_BEFORE_FOUND"),
        Compare("police_feedback_date", ">=", "referral_date", "E_FEEDBACK_BEFORE_REFERRAL"),
        Compare("discipline_referral_date", ">=", "found_date", "E_DISCIPLINE_BEFORE_FOUND"),
    ),
    required_when=(
        RequiredWhen("closed_date", "status", ("已结案",), "E_CLOSED_DATE_MISSING"),
        RequiredWhen(
            "institution_id", "subject_type", INSTITUTION_SUBJECTS, "E_INSTITUTION_MISSING"
        ),
        RequiredWhen(
            "police_feedback_date", "police_feedback", POLICE_FEEDBACK, "E_FEEDBACK_DATE_MISSING"
        ),
    ),
    references=(
        Reference("county_code", "counties", "county_code", "E_UNKNOWN_COUNTY"),
        Reference("institution_id", "institutions", "institution_id", "E_UNKNOWN_INSTITUTION"),
        Reference("inspection_id", "inspections", "inspection_id", "E_UNKNOWN_INSPECTION"),
    ),
    forbidden=(
        # a case closed with a talk or with no action cannot have gone to the police
        Forbidden(
            "referred_police",
            "outcome",
            (When("outcome", ("约谈", "不予处理")), When("referred_police", (True,))),
            "E_REFERRED_BUT_NO_ACTION",
        ),
        Forbidden(
            "referred_police",
            "outcome",
            (When("outcome", ("移送公安",)), When("referred_police", (False,))),
            "E_OUTCOME_REFERRED_NOT_MARKED",
        ),
        Forbidden(
            "referral_date",
            "referred_police",
            (When("referral_date", filled=True), When("referred_police", (False,))),
            "E_REFERRAL_DATE_NOT_REFERRED",
        ),
        Forbidden(
            "police_feedback",
            "referred_police",
            (When("police_feedback", filled=True), When("referred_police", (False,))),
            "E_FEEDBACK_NOT_REFERRED",
        ),
        Forbidden(
            "referral_date",
            "referred_police",
            (When("referred_police", (True,)), When("referral_date", filled=False)),
            "W_REFERRAL_DATE_MISSING",
        ),
        Forbidden(
            "suspected_crime",
            "referred_police",
            (
                When("suspected_crime", (True,)),
                When("status", ("已结案",)),
                When("referred_police", (True,), negate=True),
            ),
            "W_CRIME_NOT_REFERRED",
        ),
        Forbidden(
            "suspected_crime",
            "referred_police",
            (When("referred_police", (True,)), When("suspected_crime", (False,))),
            "W_REFERRED_NOT_SUSPECTED",
        ),
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
        _f("complaint_id", "来源举报编号", help="由投诉举报转来的线索填写，须在投诉举报台账中存在"),
        _f("inspection_id", "来源检查编号", help="由检查发现的线索填写，须在检查台账中存在"),
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
        _f("confirmed_amount", "查实金额(元)", "yuan", help="核查属实的涉及金额"),
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
        Reference("complaint_id", "complaints", "complaint_id", "E_UNKNOWN_COMPLAINT"),
        Reference("inspection_id", "inspections", "inspection_id", "E_UNKNOWN_INSPECTION"),
    ),
    forbidden=(
        Forbidden(
            "case_id",
            "check_status",
            (When("case_id", filled=True), When("check_status", ("不属实",))),
            "W_CASE_FROM_UNCONFIRMED_LEAD",
        ),
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
        _f("inspection_id", "来源检查编号", help="检查发现的问题填写，须在检查台账中存在"),
        _f("case_id", "关联案件编号", help="案件查处中发现的问题填写，须在案件台账中存在"),
    ),
    compares=(
        Compare("deadline", ">=", "found_date", "E_DEADLINE_BEFORE_FOUND"),
        Compare("closed_date", ">=", "found_date", "E_CLOSED_BEFORE_FOUND"),
        Compare("amount_recovered", "<=", "amount_involved", "E_RECOVERED_GT_DUE"),
    ),
    required_when=(RequiredWhen("closed_date", "status", ("已销号",), "E_CLOSED_DATE_MISSING"),),
    references=(
        Reference("county_code", "counties", "county_code", "E_UNKNOWN_COUNTY"),
        Reference("inspection_id", "inspections", "inspection_id", "E_UNKNOWN_INSPECTION"),
        Reference("case_id", "cases", "case_id", "E_UNKNOWN_CASE"),
    ),
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
        _f(
            "reward_paid_date",
            "奖励发放日期",
            "date",
            help="举报奖励实际兑现（发放）的日期，不得早于受理日期",
        ),
        _f("institution_id", "被举报机构编码", help="举报对象为定点医药机构时填写"),
        _f("case_id", "关联案件编号", help="查实后立案的填写，须在案件台账中存在"),
        _f("due_date", "办理时限", "date", help="应在此日期前办结"),
    ),
    compares=(
        Compare("closed_date", ">=", "received_date", "E_CLOSED_BEFORE_RECEIVED"),
        Compare("due_date", ">=", "received_date", "E_DUE_BEFORE_RECEIVED"),
        Compare("reward_paid_date", ">=", "received_date", "E_REWARD_BEFORE_RECEIVED"),
    ),
    references=(
        Reference("county_code", "counties", "county_code", "E_UNKNOWN_COUNTY"),
        Reference("institution_id", "institutions", "institution_id", "E_UNKNOWN_INSTITUTION"),
        Reference("case_id", "cases", "case_id", "E_UNKNOWN_CASE"),
    ),
    forbidden=(
        Forbidden(
            "case_id",
            "verified",
            (When("case_id", filled=True), When("verified", (False,))),
            "W_CASE_FROM_UNVERIFIED_COMPLAINT",
        ),
        Forbidden(
            "reward_paid",
            "verified",
            (
                When("reward_paid", filled=True),
                When("reward_paid", (0,), negate=True),
                When("verified", (True,), negate=True),
            ),
            "W_REWARD_UNVERIFIED",
        ),
        # a reward paid with no date cannot be shown paid on time (举报奖励按期兑现率)
        Forbidden(
            "reward_paid_date",
            "reward_paid",
            (
                When("reward_paid", filled=True),
                When("reward_paid", (0,), negate=True),
                When("reward_paid_date", filled=False),
            ),
            "W_REWARD_DATE_MISSING",
        ),
    ),
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

SELF_INSPECTIONS = Ledger(
    name="self_inspections",
    title="自查自纠台账",
    description=(
        "定点医药机构按《自查通知书》开展自查的情况，一机构一次自查一行：发现问题数、"
        "涉及金额、主动退回金额。自查零问题的机构是重点抽查对象，"
        "主动退回的依法从轻或免予处罚（002 三（二））。"
    ),
    key=("record_id",),
    date_field="report_date",
    fields=(
        _f("record_id", "自查编号", required=True),
        _f("county_code", "区划代码", "code6", required=True),
        _f("institution_id", "机构编码", required=True),
        _f("report_date", "自查报告提交日期", "date", required=True),
        _f("problems_found", "自查发现问题数", "int", help="没有发现问题的填 0"),
        _f("amount_involved", "涉及金额(元)", "yuan"),
        _f("amount_returned", "主动退回金额(元)", "yuan", help="机构主动退回的违规资金"),
        _f("returned_date", "退回日期", "date"),
        _f("rectified", "是否已整改", "bool"),
    ),
    compares=(
        Compare(
            "amount_returned",
            "<=",
            "amount_involved",
            "W_RETURNED_GT_INVOLVED",
            severity="warning",
        ),
    ),
    references=(
        Reference("county_code", "counties", "county_code", "E_UNKNOWN_COUNTY"),
        Reference("institution_id", "institutions", "institution_id", "E_UNKNOWN_INSTITUTION"),
    ),
    forbidden=(
        Forbidden(
            "amount_returned",
            "problems_found",
            (
                When("amount_returned", filled=True),
                When("amount_returned", (0,), negate=True),
                When("problems_found", (0,)),
            ),
            "W_RETURNED_WITHOUT_PROBLEM",
        ),
    ),
)

TALKS = Ledger(
    name="talks",
    title="约谈督办台账",
    description=(
        "对进度滞后、问题突出的区县或机构开展约谈（002 四（二））：约谈日期、事由与触发情形、"
        "整改承诺，以及复查时限、复查日期和复查结果。"
    ),
    key=("talk_id",),
    date_field="talk_date",
    fields=(
        _f("talk_id", "约谈编号", required=True),
        _f("county_code", "区划代码", "code6", required=True, help="被约谈对象所在区县"),
        _f("talk_date", "约谈日期", "date", required=True),
        _f("target_type", "约谈对象类型", "enum", enum=TALK_TARGETS, required=True),
        _f("institution_id", "机构编码", help="约谈对象为定点医药机构时必填"),
        _f("convened_by", "约谈单位", help="如 市医疗保障局"),
        _f("reasons", "约谈事由"),
        _f(
            "criteria",
            "触发情形",
            help="约谈名单列出的触发情形，如 进度滞后、综合评分不合格，多项用顿号分隔",
        ),
        _f("commitments", "整改承诺"),
        _f("review_due", "复查时限", "date", help="不得早于约谈日期"),
        _f("review_date", "复查日期", "date", help="不得早于约谈日期"),
        _f("review_result", "复查结果", "enum", enum=REVIEW_RESULTS),
    ),
    compares=(
        Compare("review_due", ">=", "talk_date", "E_REVIEW_DUE_BEFORE_TALK"),
        Compare("review_date", ">=", "talk_date", "E_REVIEW_BEFORE_TALK"),
    ),
    required_when=(
        RequiredWhen(
            "institution_id", "target_type", TALK_INSTITUTION_TARGETS, "E_TALK_INSTITUTION_MISSING"
        ),
        RequiredWhen("review_date", "review_result", REVIEW_RESULTS, "E_REVIEW_DATE_MISSING"),
    ),
    references=(
        Reference("county_code", "counties", "county_code", "E_UNKNOWN_COUNTY"),
        Reference("institution_id", "institutions", "institution_id", "E_UNKNOWN_INSTITUTION"),
    ),
)

STAFF_POINTS = Ledger(
    name="staff_points",
    title="医保医师（药师）记分台账",
    description=(
        "对定点医药机构相关人员（医保医师、药师等）违规行为的记分，一次记分一行；"
        "年度累计分值按参数中的分档统计（003、004）。"
    ),
    key=("record_id",),
    date_field="scored_date",
    fields=(
        _f("record_id", "记分编号", required=True),
        _f("county_code", "区划代码", "code6", required=True),
        _f("institution_id", "机构编码", required=True),
        _f("staff_code", "人员编码", required=True, help="医保医师（药师）编码"),
        _f("staff_name", "姓名", personal=True, help="个人信息，报表中一律脱敏"),
        _f("staff_type", "人员类别", "enum", enum=STAFF_TYPES),
        _f("scored_date", "记分日期", "date", required=True),
        _f("points", "记分分值", "int", required=True, help="本次记分的分值"),
        _f("reason", "记分事由"),
        _f("case_id", "关联案件编号", help="须在案件台账中存在"),
    ),
    references=(
        Reference("county_code", "counties", "county_code", "E_UNKNOWN_COUNTY"),
        Reference("institution_id", "institutions", "institution_id", "E_UNKNOWN_INSTITUTION"),
        Reference("case_id", "cases", "case_id", "E_UNKNOWN_CASE"),
    ),
)

AGENCY_BREACHES = Ledger(
    name="agency_breaches",
    title="经办机构内控问题台账",
    description=(
        "医保经办机构的内控问题：未按时支付、数据丢失或篡改、信息泄露、违规办理参保或支付待遇等"
        "（004 二（四）“经办机构实现无骗保”），一问题一行。"
    ),
    key=("breach_id",),
    date_field="found_date",
    fields=(
        _f("breach_id", "问题编号", required=True),
        _f("county_code", "区划代码", "code6", required=True),
        _f("agency", "经办机构名称"),
        _f("found_date", "发现日期", "date", required=True),
        _f("breach_type", "问题类型", "enum", enum=BREACH_TYPES, required=True),
        _f("description", "问题描述"),
        _f("staff_involved", "涉及工作人员数", "int"),
        _f("amount_involved", "涉及金额(元)", "yuan"),
        _f("status", "整改状态", "enum", enum=BREACH_STATUSES),
        _f("closed_date", "整改完成日期", "date", help="整改状态为已整改时必填"),
        _f("case_id", "关联案件编号", help="须在案件台账中存在"),
    ),
    compares=(Compare("closed_date", ">=", "found_date", "E_CLOSED_BEFORE_FOUND"),),
    required_when=(RequiredWhen("closed_date", "status", ("已整改",), "E_CLOSED_DATE_MISSING"),),
    references=(
        Reference("county_code", "counties", "county_code", "E_UNKNOWN_COUNTY"),
        Reference("case_id", "cases", "case_id", "E_UNKNOWN_CASE"),
    ),
)

# Dependency order: a ledger's references point only to ledgers before it (the ingest checks a
# reference against what is already loaded, this batch's earlier ledgers included). So the
# links run one way: a case names the inspection it came from; a complaint names the case it
# became; a lead names its case, complaint or inspection; a rectification its inspection or case.
LEDGERS: dict[str, Ledger] = {
    lg.name: lg
    for lg in (
        COUNTIES,
        INSTITUTIONS,
        INSPECTIONS,
        CASES,
        COMPLAINTS,
        LEADS,
        RECTIFICATIONS,
        ACTIVITIES_LEDGER,
        SELF_INSPECTIONS,
        TALKS,
        STAFF_POINTS,
        AGENCY_BREACHES,
    )
}


def _check_dependency_order() -> None:
    for i, lg in enumerate(LEDGERS.values()):
        for ref in lg.references:
            if ref.target not in list(LEDGERS)[:i]:
                raise ValueError(f"{lg.name}.{ref.field} refers forward to {ref.target}")


_check_dependency_order()


def ledger(name: str) -> Ledger:
    return LEDGERS[name]


def personal_fields() -> set[str]:
    return {f.name for lg in LEDGERS.values() for f in lg.fields if f.personal}
