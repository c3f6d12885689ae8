"""The screening input tables: the one place a settlement-extract table is defined.

Field codes follow the national medical-insurance information platform's interface naming
(接口规范) so a bureau's extract maps with little work; the Chinese headers are accepted too.
Loading, validation, the rules' table views, the demo extract and the docs all read these
objects. Source: ../shared/design/screening.md ("Input tables").
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

from workbench.contracts import normalise_header

# Column types. `datetime` a timestamp (a date alone means midnight); `yuan` money with two
# decimals, signed (a refund settlement carries negative amounts); `decimal` a signed quantity;
# `id_card` an 18-character resident ID number: hashed with the salt on load, never stored.
TYPES = ("text", "code6", "enum", "id_card", "datetime", "date", "month", "yuan", "decimal", "bool")

# DuckDB storage types. Money is DECIMAL so every engine sums it to the same cent.
SQL_TYPES = {
    "text": "VARCHAR",
    "code6": "VARCHAR",
    "enum": "VARCHAR",
    "id_card": "VARCHAR",  # the salted hash, hex
    "datetime": "TIMESTAMP",
    "date": "DATE",
    "month": "VARCHAR",
    "yuan": "DECIMAL(18,2)",
    "decimal": "DECIMAL(18,4)",
    "bool": "BOOLEAN",
}

INSUTYPES = ("职工基本医疗保险", "城乡居民基本医疗保险")
MED_TYPES = ("普通门诊", "门诊慢特病", "住院", "定点药店购药", "其他")
CERT_TYPES = ("医保电子凭证", "社会保障卡", "居民身份证", "其他")
LIST_TYPES = ("药品", "医用耗材", "医疗服务项目")
INSU_STATUSES = ("正常参保", "暂停参保", "终止参保")
DEATH_SOURCES = ("公安", "民政", "卫健", "法院")
CUSTODY_TYPES = ("服刑", "看守所羁押")
CUSTODY_SOURCES = ("司法行政", "监狱", "公安监管")
HOSPITAL_LEVELS = ("三级", "二级", "一级", "未定级")


@dataclass(frozen=True)
class Column:
    name: str
    header: str
    type: str = "text"
    required: bool = False
    enum: tuple[str, ...] = ()
    help: str = ""
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"unknown column type {self.type!r} for {self.name}")
        if self.type == "enum" and not self.enum:
            raise ValueError(f"enum column {self.name} has no values")

    @property
    def personal(self) -> bool:
        return self.type == "id_card"


@dataclass(frozen=True)
class RowRule:
    """`left op right` on one row, checked where both are present (e.g. discharge ≥ admission)."""

    left: str
    op: str  # ">=" or "<="
    right: str
    code: str


@dataclass(frozen=True)
class RequiredWhen:
    column: str
    when: str
    values: tuple[str, ...]
    code: str = "E_REQUIRED_WHEN"


@dataclass(frozen=True)
class Ref:
    """A non-blank `column` must exist as `target`'s key (`target` a screening table or
    `institutions`, the roster in the warehouse)."""

    column: str
    target: str
    code: str


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    rules: tuple[RowRule, ...] = ()
    required_when: tuple[RequiredWhen, ...] = ()
    refs: tuple[Ref, ...] = ()
    description: str = ""
    _by_name: dict[str, Column] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({c.name: c for c in self.columns})

    def column(self, name: str) -> Column:
        return self._by_name[name]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def storage(self) -> str:
        """The warehouse table holding its accepted rows."""
        return f"scr_{self.name}"

    @functools.cached_property
    def header_index(self) -> dict[str, str]:
        """Normalised header → column name (field code, Chinese header or alias)."""
        out: dict[str, str] = {}
        for c in self.columns:
            for h in (c.header, c.name, *c.aliases):
                out[normalise_header(h)] = c.name
        return out


def _c(name: str, header: str, type: str = "text", **kw) -> Column:
    return Column(name, header, type, **kw)


SETTLEMENTS = Table(
    name="settlements",
    title="结算记录",
    description="一次结算一行；同一就诊可多次结算（冲正）。",
    key=("setl_id",),
    columns=(
        _c("setl_id", "结算ID", required=True, help="全表唯一"),
        _c("mdtrt_id", "就诊ID", required=True),
        _c("psn_no", "人员编号", required=True),
        _c("certno", "证件号码", "id_card", required=True, help="入库时加盐哈希，不保存明文"),
        _c("insutype", "险种类型", "enum", enum=INSUTYPES),
        _c("insu_admdvs", "参保地医保区划", "code6", required=True),
        _c("mdtrt_admdvs", "就医地医保区划", "code6"),
        _c("fixmedins_code", "定点医药机构编号", required=True),
        _c("med_type", "医疗类别", "enum", enum=MED_TYPES, required=True),
        _c("begntime", "开始时间", "datetime", required=True),
        _c("endtime", "结束时间", "datetime", help="住院时必填"),
        _c("setl_time", "结算时间", "datetime", required=True),
        _c("dise_codg", "主诊断编码"),
        _c("dise_name", "主诊断名称"),
        _c("drg_dip_code", "DRG/DIP分组编码", aliases=("DRG分组编码", "DIP分组编码")),
        _c("mdtrt_cert_type", "就诊凭证类型", "enum", enum=CERT_TYPES),
        _c("medfee_sumamt", "医疗费总额", "yuan", required=True),
        _c("fund_pay_sumamt", "基金支付总额", "yuan", required=True),
        _c("acct_pay", "个人账户支出", "yuan"),
        _c("psn_cash_pay", "个人现金支出", "yuan"),
        _c("refd_setl_flag", "退费结算标志", "bool", help="已退费（冲正）的结算不参与筛查"),
    ),
    rules=(RowRule("endtime", ">=", "begntime", "E_END_BEFORE_BEGIN"),),
    required_when=(RequiredWhen("endtime", "med_type", ("住院",)),),
    refs=(Ref("fixmedins_code", "institutions", "E_UNKNOWN_INSTITUTION"),),
)

FEE_DETAILS = Table(
    name="fee_details",
    title="费用明细",
    description="一个收费项目一行，每次结算若干行。",
    key=("feedetl_sn",),
    columns=(
        _c("feedetl_sn", "费用明细流水号", required=True),
        _c("setl_id", "结算ID", required=True, help="须在结算记录中存在"),
        _c("fee_ocur_time", "费用发生时间", "datetime"),
        _c("med_list_codg", "医保目录编码", required=True),
        _c("list_type", "目录类别", "enum", enum=LIST_TYPES, required=True),
        _c("cnt", "数量", "decimal", required=True),
        _c("pric", "单价", "yuan"),
        _c("det_item_fee_sumamt", "明细项目费用总额", "yuan", required=True),
    ),
    refs=(Ref("setl_id", "settlements", "E_UNKNOWN_SETTLEMENT"),),
)

INSURED = Table(
    name="insured",
    title="参保人员状态",
    description="一人一行：参保状态及其变更日期。",
    key=("psn_no",),
    columns=(
        _c("psn_no", "人员编号", required=True),
        _c("certno", "证件号码", "id_card", required=True),
        _c("insu_admdvs", "参保地医保区划", "code6", required=True, aliases=("参保地",)),
        _c("psn_insu_stas", "参保状态", "enum", enum=INSU_STATUSES, required=True),
        _c("stas_chg_date", "状态变更日期", "date"),
    ),
)

ACCT_CREDITS = Table(
    name="acct_credits",
    title="个人账户划拨",
    description="一人一月一行：个人账户划拨金额。",
    key=("psn_no", "crdt_month"),
    columns=(
        _c("psn_no", "人员编号", required=True),
        _c("crdt_month", "划拨月份", "month", required=True),
        _c("crdt_amt", "划拨金额", "yuan", required=True),
    ),
)

DEATH_LIST = Table(
    name="death_list",
    title="死亡人员名单",
    description="公安户籍注销、民政殡葬火化、卫健死亡医学证明等来源；各来源日期不一时均保留。",
    key=("certno", "src", "batch_date"),
    columns=(
        _c("certno", "证件号码", "id_card", required=True),
        _c("death_date", "死亡日期", "date", required=True),
        _c("src", "数据来源", "enum", enum=DEATH_SOURCES, required=True),
        _c("batch_date", "比对批次日期", "date", required=True),
    ),
)

CUSTODY_LIST = Table(
    name="custody_list",
    title="服刑在押人员名单",
    description="司法行政、监狱、公安监管等来源；出监日期为空表示仍在押。",
    key=("certno", "start_date", "src"),
    columns=(
        _c("certno", "证件号码", "id_card", required=True),
        _c("custody_type", "羁押类型", "enum", enum=CUSTODY_TYPES, required=True),
        _c("start_date", "入监日期", "date", required=True),
        _c("end_date", "出监日期", "date", help="为空表示仍在押"),
        _c("src", "数据来源", "enum", enum=CUSTODY_SOURCES, required=True),
        _c("batch_date", "比对批次日期", "date", required=True),
    ),
    rules=(RowRule("end_date", ">=", "start_date", "E_END_BEFORE_BEGIN"),),
)

DRUG_INVENTORY = Table(
    name="drug_inventory",
    title="药品进销存",
    description="机构 × 药品 × 月一行。",
    key=("fixmedins_code", "med_list_codg", "month"),
    columns=(
        _c("fixmedins_code", "定点医药机构编号", required=True),
        _c("med_list_codg", "医保目录编码", required=True),
        _c("month", "月份", "month", required=True),
        _c("opening_qty", "期初库存", "decimal", required=True),
        _c("purchase_qty", "购进数量", "decimal", required=True),
        _c("closing_qty", "期末库存", "decimal"),
    ),
    refs=(Ref("fixmedins_code", "institutions", "E_UNKNOWN_INSTITUTION"),),
)

# Load order: a table's references point only to tables before it.
TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        INSURED,
        DEATH_LIST,
        CUSTODY_LIST,
        ACCT_CREDITS,
        SETTLEMENTS,
        FEE_DETAILS,
        DRUG_INVENTORY,
    )
}


def table(name: str) -> Table:
    return TABLES[name]
