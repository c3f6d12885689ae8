"""The demo city (演示数据): a fictional prefecture with every ledger, for demos and benchmarks.

`generate_city` builds clean ledgers as DataFrames (vectorised, so 3,000 counties × 24 months is
quick); `write_city` writes the workbooks counties would send, with realistic layout quirks and,
for the faulty county's latest month, one mistake of each class the ingest must catch (plus the
corrected resubmission). Division codes start with 99, which is no real province, so demo data
can never be mistaken for real data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter

from workbench.contracts import (
    ACTIVITIES,
    BREACH_TYPES,
    CASE_STATUSES,
    CHANNELS,
    CHECK_STATUSES,
    CREDIT_GRADES,
    INSPECTION_METHODS,
    INSTITUTION_TYPES,
    LEAD_SOURCES,
    LEDGERS,
    OUTCOMES,
    POLICE_FEEDBACK,
    RECT_SOURCES,
    RECT_STATUSES,
    REVIEW_RESULTS,
    SUBJECT_TYPES,
    VIOLATION_TYPES,
    Ledger,
)
from workbench.messages import t

log = logging.getLogger(__name__)

CITY_CODE = "990000"
CITY_NAME = "演示市"
DEMO_MARK = "演示数据"
MASTER_LEDGERS = ("counties", "institutions")
MONTHLY_LEDGERS = (
    "cases",
    "leads",
    "inspections",
    "rectifications",
    "complaints",
    "activities",
    "self_inspections",
    "talks",
    "staff_points",
    "agency_breaches",
)
ASSET_GEOJSON = Path(__file__).with_name("assets") / "demo_city.geojson"
SAMPLES_DIR = Path(__file__).resolve().parent.parent / "data_samples"

# The 2025 campaign calendar of seed 002, as the demo city lives it.
PHASES = ("常态", "动员部署", "自查自纠", "交叉检查", "重点抽查", "总结提升")
CAMPAIGN_PHASES = {
    "2025-03": 1,
    "2025-04": 2,
    "2025-05": 2,
    "2025-06": 3,
    "2025-07": 3,
    "2025-08": 3,
    "2025-09": 4,
    "2025-10": 4,
    "2025-11": 5,
    "2025-12": 5,
}
CAMPAIGN_YEAR = 2025
RECTIFY_BY = np.datetime64("2025-11-30")
DATA_SHARING_BY = "2025-06"

DEFAULT_COUNTIES = (
    "东湖区",
    "青山县",
    "西岭县",
    "南溪区",
    "北塘区",
    "云台县",
    "石门县",
    "白沙县",
    "临江区",
    "桃源县",
)
_NAME_FIRST = tuple(
    "安宝长春丹德东丰凤福古广海河鹤红华怀嘉江金锦靖乐莲临龙鹿梅明宁平清庆瑞"
    "三山石寿双松太泰桐万文西溪祥新秀阳永玉元云泽樟"
)
_NAME_SECOND = tuple(
    "安白滨城川丹岛甸峰冈港皋谷关禾湖华江郊津口岚岭林陵流隆门岷南宁浦埔"
    "桥泉沙山水台潭塘亭屯湾溪仙霞乡阳原源云州"
)
_TOWNS = (
    "清溪",
    "柳湾",
    "石桥",
    "梅岭",
    "杏林",
    "松涛",
    "竹园",
    "枫桥",
    "莲塘",
    "桂花",
    "芦花",
    "茶山",
    "龙泉",
    "凤鸣",
    "金沙",
    "银杏",
    "双河",
    "三里",
    "五峰",
    "七星",
    "九龙",
    "望湖",
    "观澜",
    "鹤山",
    "平安",
    "永宁",
    "长乐",
    "新华",
    "光明",
    "朝阳",
    "向阳",
    "红星",
    "白鹭",
    "翠屏",
    "碧波",
    "玉泉",
    "云岭",
    "青石",
    "黄花",
    "紫荆",
)
_PUBLIC = (
    "人民医院",
    "中医医院",
    "妇幼保健院",
    "第二人民医院",
    "第三人民医院",
    "精神卫生中心",
    "康复医院",
    "中西医结合医院",
    "肿瘤医院",
    "传染病医院",
    "口腔医院",
    "眼科医院",
)
_SPECIALTIES = (
    "骨科",
    "眼科",
    "口腔",
    "康复",
    "中西医结合",
    "妇产",
    "肛肠",
    "皮肤",
    "综合",
    "心血管",
    "肾病",
    "老年病",
)
_PRIMARY = ("镇卫生院", "社区卫生服务中心", "街道社区卫生服务站", "村卫生室")
_BRANDS = (
    "百草源",
    "康宁",
    "济世",
    "同泰",
    "安和",
    "惠民",
    "瑞康",
    "福寿堂",
    "仁心",
    "益寿",
    "天和",
    "众安",
    "杏春",
    "养和堂",
)
_SURNAMES = tuple(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董"
    "袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
)
_GIVEN = tuple(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉力斌宇浩凯"
    "鹏飞欣怡佳琪晨阳雪梅海燕志国庆春林峰"
)
_RULES_SMART = 40
_RULES_COMPARE = (
    "死亡未停发",
    "服刑未暂停",
    "跨统筹区重复报销",
    "住院期间门诊购药",
    "进销存不符",
    "超量开药",
    "频繁就诊",
    "冒名结算",
)
_RECT_TEXT = {
    "自查自纠": (
        "自查发现超标准收取诊疗费用，已主动退回",
        "自查发现串换药品耗材项目收费",
        "自查发现重复收取检验检查费用",
        "自查发现分解收费",
        "病历书写不规范、诊疗记录缺失",
        "药品进销存数据与医保结算数据不一致",
        "未按规定执行集采药品价格",
    ),
    "交叉检查": (
        "交叉检查发现挂床住院",
        "交叉检查发现过度诊疗检查",
        "抽查病历发现无指征住院",
        "串换诊疗项目收费",
        "超医保限定支付范围用药",
    ),
    "飞行检查": (
        "飞行检查发现虚构医药服务",
        "飞行检查发现分解住院",
        "伪造医学文书",
        "内部管理制度不健全、医保结算流程不规范",
    ),
    "审计": (
        "审计发现医保基金违规支付",
        "经办机构待遇核定审核不严",
        "参保人员死亡后待遇未及时停发",
    ),
    "巡视巡察": ("基金监管责任落实不到位", "内控制度执行不严格", "案件查处进度缓慢"),
    "举报": ("群众举报诱导住院问题属实", "举报反映超标准收费问题属实"),
    "其他": ("协议管理落实不到位", "医保信息系统数据上传不及时"),
}

_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ID_CHECK = np.array(list("10X98765432"))
_EXCEL_EPOCH = np.datetime64("1899-12-30")


# ---------------------------------------------------------------------------------------------
# Result objects


@dataclass(frozen=True)
class Layout:
    """How one county lays out its workbooks (the quirks an ingest has to survive)."""

    title_rows: int = 0  # rows above the header (header is on row title_rows + 1)
    fullwidth: bool = False  # headers written with full-width brackets: 涉案金额（元）
    text_dates: bool = False  # dates as text, 2025年3月1日 or 2025/3/1, not Excel dates
    code_as_number: bool = False  # 区划代码 typed as a number, not text
    bool_style: str = "是否"  # 是/否 or Y/N

    def describe(self) -> str:
        parts = []
        if self.title_rows:
            parts.append(f"表头上方 {self.title_rows} 行标题")
        if self.fullwidth:
            parts.append("表头全角括号")
        if self.text_dates:
            parts.append("日期为文本（2025年3月1日 / 2025/3/1）")
        if self.code_as_number:
            parts.append("区划代码为数字")
        if self.bool_style != "是否":
            parts.append("是否字段填 Y/N")
        return "；".join(parts) or "标准格式"


@dataclass(frozen=True)
class Mistake:
    """One injected mistake, pointing at the cell as the user sees it in Excel."""

    file: str
    sheet: str
    row: int
    column: str
    field: str
    value: str
    code: str
    note: str


@dataclass
class DemoCity:
    """Clean ledgers of the demo city plus what a demo needs to know about them."""

    frames: dict[str, pd.DataFrame]
    city_code: str
    city_name: str
    counties: list[tuple[str, str]]  # (county_code, county_name)
    lagging: tuple[str, ...]
    faulty: tuple[str, ...]
    layouts: dict[str, Layout]
    months: list[str]
    seed: int
    as_of: pd.Timestamp
    note: str = DEMO_MARK

    @property
    def county_names(self) -> dict[str, str]:
        return dict(self.counties)

    @property
    def start(self) -> str:
        return self.months[0]

    @property
    def end(self) -> str:
        return self.months[-1]

    def rows(self) -> dict[str, int]:
        return {name: len(df) for name, df in self.frames.items()}


# ---------------------------------------------------------------------------------------------
# Vector helpers


def _month_list(start: str, end: str) -> list[str]:
    try:
        periods = pd.period_range(pd.Period(start, "M"), pd.Period(end, "M"), freq="M")
    except (ValueError, TypeError) as exc:
        raise ValueError(t("demo.bad_month", value=f"{start}..{end}")) from exc
    if len(periods) == 0:
        raise ValueError(t("demo.bad_range", start=start, end=end))
    return [str(p) for p in periods]


def _cum(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    return np.cumsum(p / p.sum(axis=-1, keepdims=True), axis=-1)


def _pick(
    rng: np.random.Generator,
    probs: np.ndarray,
    groups: np.ndarray | None = None,
    n: int | None = None,
) -> np.ndarray:
    """Categorical draws from `probs` (K,) or, per row, from `probs[groups]` (G, K)."""
    cum = _cum(probs)
    if groups is None:
        u = rng.random(n)
        return np.minimum(np.searchsorted(cum, u, side="right"), cum.size - 1)
    u = rng.random(groups.size)
    out = np.zeros(groups.size, dtype=np.int64)
    for g in np.unique(groups):
        sel = groups == g
        out[sel] = np.searchsorted(cum[g], u[sel], side="right")
    return np.minimum(out, cum.shape[-1] - 1)


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(C, M) counts → county index and month index per row, in county-then-month order."""
    flat = counts.ravel().astype(np.int64)
    cell = np.repeat(np.arange(flat.size), flat)
    return cell // counts.shape[1], cell % counts.shape[1]


def _group_seq(keys: np.ndarray) -> np.ndarray:
    """0-based position of each row within its run of equal (sorted) keys."""
    n = keys.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    idx = np.arange(n)
    start = np.r_[True, keys[1:] != keys[:-1]]
    return idx - np.maximum.accumulate(np.where(start, idx, 0))


def _ascii(
    prefix: str, num: np.ndarray, width: int, suffix: np.ndarray | None = None
) -> np.ndarray:
    """`prefix` + zero-padded `num` (+ one suffix character) per row, as str objects.

    Built as one ASCII buffer split into lines: several times faster than per-row formatting,
    which matters at millions of IDs."""
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    extra = 0 if suffix is None else 1
    m = np.empty((num.size, head.size + width + extra + 1), dtype=np.uint8)
    m[:, : head.size] = head
    x = num.astype(np.int64, copy=True)
    for k in range(width - 1, -1, -1):
        m[:, head.size + k] = x % 10 + 48
        x //= 10
    if suffix is not None:
        m[:, -2] = suffix
    m[:, -1] = 10
    out = np.empty(num.size, dtype=object)
    if num.size:
        out[:] = m.tobytes().decode("ascii").split("\n")[:-1]
    return out


def _ids(
    prefix: str, codes: np.ndarray, yyyymm: np.ndarray, seq: np.ndarray, width: int
) -> np.ndarray:
    """`AJ9901012025030001`: prefix + county code + month + 1-based sequence, as objects."""
    num = (
        codes.astype(np.int64) * 10 ** (6 + width)
        + yyyymm.astype(np.int64) * 10**width
        + seq.astype(np.int64)
        + 1
    )
    return _ascii(prefix, num, 12 + width)


def _obj(values: Iterable[str]) -> np.ndarray:
    return np.array(list(values), dtype=object)


def id_checksum(first17: str) -> str:
    """GB 11643 check character for the first 17 digits of a resident ID number."""
    total = sum(int(d) * int(w) for d, w in zip(first17, _ID_WEIGHTS))
    return str(_ID_CHECK[total % 11])


def _id_numbers(rng: np.random.Generator, codes: np.ndarray) -> np.ndarray:
    """Valid 18-digit ID numbers (fictional 99xxxx regions) for people of the given counties."""
    n = codes.size
    born = np.datetime64("1945-01-01") + rng.integers(0, 22_600, n).astype("timedelta64[D]")
    years = born.astype("datetime64[Y]").astype(np.int64) + 1970
    months = born.astype("datetime64[M]").astype(np.int64) % 12 + 1
    days = (born - born.astype("datetime64[M]")).astype(np.int64) + 1
    first17 = (
        codes.astype(np.int64) * 10**11
        + (years * 10_000 + months * 100 + days) * 1000
        + rng.integers(1, 1000, n)
    )
    digits = (first17[:, None] // 10 ** np.arange(16, -1, -1, dtype=np.int64)) % 10
    check = np.frombuffer(b"10X98765432", dtype=np.uint8)[(digits @ _ID_WEIGHTS) % 11]
    return _ascii("", first17, 17, check)


def _person_names(rng: np.random.Generator, n: int) -> np.ndarray:
    sur = np.array(_SURNAMES)[rng.integers(0, len(_SURNAMES), n)]
    g1 = np.array(_GIVEN)[rng.integers(0, len(_GIVEN), n)]
    g2 = np.where(rng.random(n) < 0.65, np.array(_GIVEN)[rng.integers(0, len(_GIVEN), n)], "")
    return np.strings.add(np.strings.add(sur, g1), g2).astype(object)


def _to_date_series(values: np.ndarray) -> pd.Series:
    return pd.Series(values.astype("datetime64[us]"))


def _money(values: np.ndarray) -> np.ndarray:
    return np.round(values.astype(float), 2)


# ---------------------------------------------------------------------------------------------
# The world: counties, calendar, performance


@dataclass
class _World:
    rng: np.random.Generator
    months: list[str]
    month_start: np.ndarray
    month_days: np.ndarray
    yyyymm: np.ndarray
    year: np.ndarray
    phase: np.ndarray
    progress: np.ndarray
    case_factor: np.ndarray
    as_of: np.datetime64
    codes: np.ndarray
    names: np.ndarray
    perf: np.ndarray
    lagging: np.ndarray
    insured: np.ndarray
    faulty: np.ndarray
    inst: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def code_obj(self) -> np.ndarray:
        return _obj(str(c) for c in self.codes)

    @property
    def n_counties(self) -> int:
        return self.codes.size

    @property
    def n_months(self) -> int:
        return len(self.months)

    @property
    def scale(self) -> np.ndarray:
        return self.insured / 300_000.0

    def dates_in_month(self, mi: np.ndarray) -> np.ndarray:
        off = np.floor(self.rng.random(mi.size) * self.month_days[mi]).astype(np.int64)
        return self.month_start[mi] + off.astype("timedelta64[D]")

    def at_least(self, counts: np.ndarray, minimum: int) -> np.ndarray:
        """The faulty county's latest month always has enough rows to carry its mistakes."""
        for f in np.flatnonzero(self.faulty):
            counts[f, -1] = max(counts[f, -1], minimum)
        return counts


def county_codes(n: int) -> list[str]:
    """990101, 990102, … (99 rows per pseudo-prefecture block, so any n stays 6 digits)."""
    return [f"99{i // 99 + 1:02d}{i % 99 + 1:02d}" for i in range(n)]


def county_names(n: int) -> list[str]:
    """Fictional names: the ten defaults, then two-character combinations + 县/区/市."""
    out = list(DEFAULT_COUNTIES[:n])
    seen = set(out)
    for suffix in ("县", "区", "市"):
        for a in _NAME_FIRST:
            for b in _NAME_SECOND:
                if len(out) >= n:
                    return out
                name = a + b + suffix
                if a != b and name not in seen:
                    seen.add(name)
                    out.append(name)
    if len(out) < n:
        out += [f"演示{i}县" for i in range(len(out), n)]
    return out


def _world(n_counties: int, start: str, end: str, seed: int, lagging: int, faulty: int) -> _World:
    if n_counties < 1:
        raise ValueError(t("demo.bad_counties", n=n_counties))
    rng = np.random.default_rng(seed)
    months = _month_list(start, end)
    periods = pd.PeriodIndex(months, freq="M")
    month_start = np.array([p.start_time.date() for p in periods], dtype="datetime64[D]")
    month_days = np.array([p.days_in_month for p in periods], dtype=np.int64)
    year = np.array([p.year for p in periods], dtype=np.int64)
    yyyymm = year * 100 + np.array([p.month for p in periods], dtype=np.int64)
    phase = np.array([CAMPAIGN_PHASES.get(m, 0) for m in months], dtype=np.int64)
    ordinal = np.array([(p.year - CAMPAIGN_YEAR) * 12 + p.month for p in periods])
    progress = np.clip((ordinal - 2) / 8.0, 0.0, 1.0)
    factor_2025 = np.array([0.80, 0.80, 0.75, 0.68, 0.68, 0.64, 0.64, 0.64, 0.62, 0.62, 0.58, 0.58])
    case_factor = np.where(
        ordinal < 1, 1.0, np.where(ordinal > 12, 0.58, factor_2025[np.clip(ordinal, 1, 12) - 1])
    )
    as_of = month_start[-1] + np.timedelta64(int(month_days[-1]) - 1, "D")

    c = n_counties
    n_lag = min(max(lagging, 0), max(c - 1, 0))
    lag_idx = rng.choice(c, size=n_lag, replace=False) if n_lag else np.zeros(0, dtype=int)
    lag_mask = np.zeros(c, dtype=bool)
    lag_mask[lag_idx] = True
    pool = np.flatnonzero(~lag_mask) if (~lag_mask).sum() >= faulty else np.arange(c)
    n_faulty = min(max(faulty, 0), pool.size)
    fault_idx = rng.choice(pool, size=n_faulty, replace=False) if n_faulty else []
    fault_mask = np.zeros(c, dtype=bool)
    fault_mask[fault_idx] = True
    perf = np.where(lag_mask, rng.uniform(0.05, 0.2, c), rng.uniform(0.72, 1.0, c))
    insured = np.round(np.exp(rng.uniform(np.log(1.0e5), np.log(8.0e5), c))).astype(np.int64)
    return _World(
        rng=rng,
        months=months,
        month_start=month_start,
        month_days=month_days,
        yyyymm=yyyymm,
        year=year,
        phase=phase,
        progress=progress,
        case_factor=case_factor,
        as_of=as_of,
        codes=np.array([int(x) for x in county_codes(c)], dtype=np.int64),
        names=_obj(county_names(c)),
        perf=perf,
        lagging=lag_mask,
        insured=insured,
        faulty=fault_mask,
    )


def _layouts(w: _World) -> dict[str, Layout]:
    """Realistic variety across counties; exactly one county types its dates as text."""
    special = w.lagging | w.faulty
    plain = [i for i in range(w.n_counties) if not special[i]]
    text_idx = next((i for i in plain if i >= 3), plain[0] if plain else -1)
    out = {}
    for i, code in enumerate(w.codes):
        title_rows = 1 if i % 3 == 1 else (2 if i % 5 == 3 else 0)
        if w.faulty[i]:
            title_rows = max(title_rows, 1)
        out[str(code)] = Layout(
            title_rows=title_rows,
            fullwidth=i % 4 == 2,
            text_dates=i == text_idx,
            code_as_number=i % 7 == 6 and not w.faulty[i],
            bool_style="YN" if i % 9 == 8 else "是否",
        )
    return out


# ---------------------------------------------------------------------------------------------
# Ledger builders (each consumes the world's random stream in a fixed order)


def _build_institutions(w: _World) -> pd.DataFrame:
    rng, c = w.rng, w.n_counties
    frac = (w.insured - 1.0e5) / 7.0e5
    total = np.clip(np.round((50 + 250 * frac) * rng.uniform(0.85, 1.15, c)), 50, 300)
    total = total.astype(np.int64)
    public = np.maximum(2, np.round(total * rng.uniform(0.05, 0.09, c))).astype(np.int64)
    private = np.maximum(1, np.round(total * rng.uniform(0.15, 0.25, c))).astype(np.int64)
    pharmacy = np.maximum(1, np.round(total * rng.uniform(0.32, 0.42, c))).astype(np.int64)
    primary = np.maximum(1, total - public - private - pharmacy)
    per_type = np.stack([public, private, primary, pharmacy], axis=1)  # (C, 4)
    total = per_type.sum(axis=1)
    county = np.repeat(np.arange(c), total)
    itype = np.repeat(np.tile(np.arange(4), c), per_type.ravel())
    n = county.size
    med = itype < 3
    start = np.r_[0, np.cumsum(total)[:-1]]
    seq_type = _group_seq(county * 4 + itype)
    seq_med = _group_seq(county * 2 + (~med))
    code_row = w.codes[county]
    number = code_row * 100_000 + seq_med + 1
    ids = np.where(med, _ascii("H", number, 11), _ascii("P", number, 11))

    cname = w.names[county].astype(str)
    town = np.array(_TOWNS)[rng.integers(0, len(_TOWNS), n)]
    pub_name = np.array(_PUBLIC)[seq_type % len(_PUBLIC)]
    pub_name = np.where(
        seq_type >= len(_PUBLIC), np.strings.add(np.strings.add(pub_name, town), "院区"), pub_name
    )
    spec = np.array(_SPECIALTIES)[rng.integers(0, len(_SPECIALTIES), n)]
    prim = np.array(_PRIMARY)[rng.integers(0, len(_PRIMARY), n)]
    brand = np.array(_BRANDS)[rng.integers(0, len(_BRANDS), n)]
    add = np.strings.add
    names = np.select(
        [itype == 0, itype == 1, itype == 2],
        [
            add(cname, pub_name),
            add(add(add(cname, town), spec), "医院"),
            add(add(cname, town), prim),
        ],
        add(add(add(add(brand, "大药房（"), cname), town), "店）"),
    ).astype(object)

    rated_p = np.where(w.lagging, 0.6, 0.92)[county]
    rated = rng.random(n) < rated_p
    grade = _pick(rng, np.array([0.35, 0.42, 0.15, 0.06, 0.02]), n=n)
    credit = np.where(rated, _obj(CREDIT_GRADES)[grade], None)
    key = rng.random(n) < np.where(rated & (grade >= 2), 0.3, 0.06)

    # 医院等级 (for screening's same-level comparisons): derived, no random draw, so the rest
    # of the city stays as it was
    level = np.select(
        [itype == 0, itype == 1, itype == 2],
        [
            np.where(seq_type == 0, "三级", "二级"),
            np.where(seq_type % 3 == 0, "二级", "一级"),
            np.full(n, "一级"),
        ],
        "",
    )
    hosp_lv = np.where(level == "", None, level).astype(object)

    w.inst = {
        "county": county,
        "type": itype,
        "start": start,
        "total": total,
        "med": per_type[:, :3].sum(axis=1),
        "pharm": per_type[:, 3],
        "key": key,
        "ids": ids,
        "names": names,
        "rated": rated,
    }
    return pd.DataFrame(
        {
            "institution_id": pd.Series(ids, dtype="str"),
            "institution_name": pd.Series(names, dtype="str"),
            "county_code": pd.Series(w.code_obj[county], dtype="str"),
            "institution_type": pd.Series(_obj(INSTITUTION_TYPES)[itype], dtype="str"),
            "credit_grade": pd.Series(credit, dtype="str"),
            "key_monitored": key,
            "hosp_lv": pd.Series(hosp_lv, dtype="str"),
        }
    )


def _build_counties(w: _World) -> pd.DataFrame:
    rng, c = w.rng, w.n_counties
    years = sorted(set(int(y) for y in w.year))
    rows = []
    growth = rng.uniform(-0.01, 0.02, c)
    due_rate = np.where(w.lagging, rng.uniform(0.85, 0.93, c), rng.uniform(0.95, 0.995, c))
    paid_rate = np.where(w.lagging, rng.uniform(0.86, 0.94, c), rng.uniform(0.96, 0.995, c))
    per_person = rng.uniform(1800, 3200, c)
    contrib = rng.uniform(1200, 2000, c)
    employers = rng.uniform(25, 45, c)
    for y in years:
        back = max(years) - y
        insured = np.round(w.insured / (1 + growth) ** back).astype(np.int64)
        hosp = np.maximum(1, w.inst["med"] - rng.binomial(3, 0.5 * (back > 0), c))
        pharm = np.maximum(1, w.inst["pharm"] - rng.binomial(4, 0.5 * (back > 0), c))
        emp_due = np.round(insured / employers).astype(np.int64)
        cdue = _money(insured * contrib * (1 - 0.04 * back))
        rows.append(
            pd.DataFrame(
                {
                    "county_code": pd.Series(w.code_obj, dtype="str"),
                    "county_name": pd.Series(w.names, dtype="str"),
                    "city": pd.Series([CITY_NAME] * c, dtype="str"),
                    "year": np.full(c, y, dtype=np.int64),
                    "insured_persons": insured,
                    "designated_hospitals": hosp.astype(np.int64),
                    "designated_pharmacies": pharm.astype(np.int64),
                    "fund_expenditure": _money(insured * per_person * (1 - 0.05 * back)),
                    "employers_due": emp_due,
                    "employers_enrolled": np.floor(emp_due * due_rate).astype(np.int64),
                    "contributions_due": cdue,
                    "contributions_paid": _money(cdue * paid_rate),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


_CASE_SOURCE_P = np.array(
    [
        # 智能监控 举报投诉 飞行检查 交叉检查 自查自纠 日常稽核 审计移交 数据比对 公安移送 其他
        [0.30, 0.16, 0.03, 0.01, 0.01, 0.22, 0.04, 0.12, 0.04, 0.07],  # 常态
        [0.30, 0.16, 0.03, 0.01, 0.01, 0.22, 0.04, 0.12, 0.04, 0.07],  # 动员部署
        [0.22, 0.12, 0.02, 0.01, 0.25, 0.16, 0.04, 0.10, 0.03, 0.05],  # 自查自纠
        [0.20, 0.10, 0.02, 0.30, 0.04, 0.14, 0.04, 0.09, 0.03, 0.04],  # 交叉检查
        [0.20, 0.10, 0.28, 0.06, 0.02, 0.14, 0.04, 0.09, 0.03, 0.04],  # 重点抽查
        [0.30, 0.15, 0.05, 0.04, 0.02, 0.20, 0.04, 0.12, 0.04, 0.04],  # 总结提升
    ]
)
_LEAD_SOURCE_P = np.array(
    [
        [0.42, 0.14, 0.01, 0.01, 0.01, 0.14, 0.02, 0.22, 0.01, 0.02],
        [0.42, 0.14, 0.01, 0.01, 0.01, 0.14, 0.02, 0.22, 0.01, 0.02],
        [0.25, 0.08, 0.01, 0.01, 0.40, 0.08, 0.02, 0.13, 0.01, 0.01],
        [0.25, 0.08, 0.01, 0.33, 0.03, 0.09, 0.02, 0.17, 0.01, 0.01],
        [0.30, 0.08, 0.22, 0.05, 0.02, 0.10, 0.02, 0.19, 0.01, 0.01],
        [0.42, 0.14, 0.03, 0.02, 0.01, 0.14, 0.02, 0.20, 0.01, 0.01],
    ]
)
_SUBJECT_P = np.array([0.46, 0.24, 0.22, 0.02, 0.04, 0.02])


def _violation_matrix() -> np.ndarray:
    v = {name: i for i, name in enumerate(VIOLATION_TYPES)}
    table = {
        "定点医疗机构": {
            "分解住院": 0.10,
            "挂床住院": 0.10,
            "串换药品耗材诊疗项目": 0.14,
            "重复收费": 0.12,
            "超标准收费": 0.12,
            "分解收费": 0.08,
            "过度诊疗检查": 0.10,
            "虚构医药服务": 0.08,
            "假病人": 0.04,
            "假病情": 0.04,
            "伪造医学文书票据": 0.04,
            "内外勾结": 0.02,
            "其他": 0.02,
        },
        "定点零售药店": {
            "串换药品耗材诊疗项目": 0.35,
            "倒卖药品": 0.15,
            "盗刷医保凭证": 0.20,
            "虚构医药服务": 0.15,
            "假票据": 0.05,
            "其他": 0.10,
        },
        "参保人员": {
            "冒名就医": 0.30,
            "倒卖药品": 0.20,
            "盗刷医保凭证": 0.10,
            "重复享受待遇": 0.15,
            "死亡冒领": 0.10,
            "假票据": 0.10,
            "其他": 0.05,
        },
        "经办机构": {"内外勾结": 0.50, "其他": 0.50},
        "用人单位": {"假票据": 0.30, "其他": 0.70},
        "医药企业": {"内外勾结": 0.40, "虚构医药服务": 0.30, "其他": 0.30},
    }
    m = np.zeros((len(SUBJECT_TYPES), len(VIOLATION_TYPES)))
    for s, row in table.items():
        for name, p in row.items():
            m[SUBJECT_TYPES.index(s), v[name]] = p
    return m


def _outcome_matrix() -> np.ndarray:
    # 约谈 责令整改 拒付追回 暂停协议 解除协议 行政处罚 移送公安 移送纪检监察 不予处理
    return np.array(
        [
            [0.12, 0.20, 0.35, 0.08, 0.03, 0.17, 0.03, 0.00, 0.02],
            [0.12, 0.20, 0.35, 0.10, 0.04, 0.15, 0.02, 0.00, 0.02],
            [0.10, 0.00, 0.45, 0.00, 0.00, 0.25, 0.18, 0.00, 0.02],
            [0.30, 0.30, 0.00, 0.00, 0.00, 0.00, 0.03, 0.35, 0.02],
            [0.20, 0.30, 0.20, 0.00, 0.00, 0.25, 0.05, 0.00, 0.00],
            [0.20, 0.30, 0.20, 0.00, 0.00, 0.25, 0.05, 0.00, 0.00],
        ]
    )


def _case_rates(w: _World) -> np.ndarray:
    """Expected cases per county-month: deterrence lowers 2025 counts by about a third."""
    base = np.clip(20.0 * w.scale**0.7, 8.0, 50.0)
    season = np.where(np.array([m.endswith("-02") for m in w.months]), 0.8, 1.0)
    drop = (1.0 - w.case_factor)[None, :] * (0.5 + 0.5 * w.perf[:, None])
    drop = np.where(w.lagging[:, None], drop * 0.35, drop)
    return base[:, None] * season[None, :] * (1.0 - drop)


def _recovery_target(w: _World) -> np.ndarray:
    """Expected 已追回 ÷ 应追回 per county-month, rising through the campaign."""
    r0 = 0.64 + 0.12 * w.perf
    r1 = np.where(w.lagging, 0.60 + 0.4 * w.perf, 0.88 + 0.09 * w.perf)
    return r0[:, None] + (r1 - r0)[:, None] * w.progress[None, :]


def _build_cases(w: _World, ci: np.ndarray, mi: np.ndarray) -> pd.DataFrame:
    rng, n = w.rng, ci.size
    found = w.dates_in_month(mi)
    order = np.lexsort((found, ci))
    ci, mi, found = ci[order], mi[order], found[order]
    source = _pick(rng, _CASE_SOURCE_P, w.phase[mi])
    subject = _pick(rng, _SUBJECT_P, n=n)
    violation = _pick(rng, _violation_matrix(), subject)
    perf = w.perf[ci]
    campaign = w.progress[mi]

    is_inst = subject < 2
    u = rng.random(n)
    med_pick = w.inst["start"][ci] + np.floor(u * w.inst["med"][ci]).astype(np.int64)
    ph_pick = (
        w.inst["start"][ci] + w.inst["med"][ci] + np.floor(u * w.inst["pharm"][ci]).astype(np.int64)
    )
    inst_idx = np.where(subject == 0, med_pick, ph_pick)
    institution = np.where(
        is_inst, w.inst["ids"][np.minimum(inst_idx, w.inst["ids"].size - 1)], None
    )
    has_person = (subject == 2) | (subject == 3)
    person_id = np.full(n, None, dtype=object)
    person_name = np.full(n, None, dtype=object)
    k = int(has_person.sum())
    person_id[has_person] = _id_numbers(rng, w.codes[ci[has_person]])
    person_name[has_person] = _person_names(rng, k)

    median = np.select([is_inst, subject == 2], [25_000.0, 4_000.0], 15_000.0)
    involved = _money(np.clip(median * np.exp(rng.normal(0.0, 1.0, n)), 200.0, 5.0e6))

    check_days = rng.integers(0, 21, n)
    filed = found + check_days.astype("timedelta64[D]")
    speed = np.where(w.lagging[ci], 1.8, 1.0 - 0.3 * campaign * perf)
    duration = np.round((15 + rng.gamma(2.0, 25.0, n)) * speed).astype(np.int64)
    closed = filed + duration.astype("timedelta64[D]")
    revoked = rng.random(n) < 0.03
    not_filed = filed > w.as_of
    open_ = ~not_filed & (closed > w.as_of)
    status = np.select(
        [not_filed, revoked, open_ & ((w.as_of - filed).astype(np.int64) < 10), open_],
        [0, 4, 1, 2],
        3,
    )
    nat = np.datetime64("NaT")
    filed = np.where(not_filed, nat, filed)
    closed = np.where(status == 3, closed, nat)

    due = _money(involved * rng.uniform(0.7, 1.0, n))
    target = np.clip(_recovery_target(w)[ci, mi], 0.05, 0.995)
    frac = rng.beta(12.0 * target, 12.0 * (1.0 - target))
    recovered = _money(due * np.where(frac >= 0.97, 1.0, frac))
    due = np.where(status == 4, 0.0, due)
    recovered = np.where(status == 4, 0.0, recovered)
    due = np.where(status == 0, np.nan, due)
    recovered = np.where(status == 0, np.nan, recovered)

    outcome = _pick(rng, _outcome_matrix(), subject)
    p_refer = 0.25 + 0.65 * campaign * perf
    refer = (involved > 5000) & (rng.random(n) < p_refer) & (status != 0) & (status != 4)
    refer |= (outcome == OUTCOMES.index("移送公安")) & (status == 3)
    outcome = np.where(status == 4, OUTCOMES.index("不予处理"), outcome)
    outcome_txt = np.where((status == 3) | (status == 4), _obj(OUTCOMES)[outcome], None)
    punished = (status == 3) & (outcome == OUTCOMES.index("行政处罚"))
    fine = np.where(punished, _money(due * rng.uniform(1.0, 2.0, n)), 0.0)
    fine = np.where(status == 0, np.nan, fine)

    share_cut = 1.0 - 0.5 * campaign * perf
    gang = rng.random(n) < 0.10 * share_cut
    repeat = rng.random(n) < 0.12 * share_cut
    exposed = (status == 3) & (rng.random(n) < np.where(w.year[mi] >= CAMPAIGN_YEAR, 0.18, 0.08))

    seq = _group_seq(ci * w.n_months + mi)
    return pd.DataFrame(
        {
            "case_id": pd.Series(_ids("AJ", w.codes[ci], w.yyyymm[mi], seq, 4), dtype="str"),
            "county_code": pd.Series(w.code_obj[ci], dtype="str"),
            "lead_source": pd.Series(_obj(LEAD_SOURCES)[source], dtype="str"),
            "found_date": _to_date_series(found),
            "filed_date": _to_date_series(filed),
            "subject_type": pd.Series(_obj(SUBJECT_TYPES)[subject], dtype="str"),
            "institution_id": pd.Series(institution, dtype="str"),
            "person_id": pd.Series(person_id, dtype="str"),
            "person_name": pd.Series(person_name, dtype="str"),
            "violation_type": pd.Series(_obj(VIOLATION_TYPES)[violation], dtype="str"),
            "amount_involved": involved,
            "amount_due": due,
            "amount_recovered": recovered,
            "fine_amount": fine,
            "outcome": pd.Series(outcome_txt, dtype="str"),
            "referred_police": refer,
            "gang_case": gang,
            "repeat_offender": repeat,
            "exposed": exposed,
            "status": pd.Series(_obj(CASE_STATUSES)[status], dtype="str"),
            "closed_date": _to_date_series(closed),
        }
    )


def _rule_codes(rng: np.random.Generator, source: np.ndarray) -> np.ndarray:
    """Smart-monitoring (ZNJK-xxx) and data-comparison (SJBD-xx) rule codes; None otherwise."""
    n = source.size
    smart = _obj(f"ZNJK-{k:03d}" for k in range(1, _RULES_SMART + 1))
    compare = _obj(f"SJBD-{k:02d}" for k in range(1, len(_RULES_COMPARE) + 1))
    out = np.full(n, None, dtype=object)
    sel = source == LEAD_SOURCES.index("智能监控")
    out[sel] = smart[rng.integers(0, smart.size, int(sel.sum()))]
    sel = source == LEAD_SOURCES.index("数据比对")
    out[sel] = compare[rng.integers(0, compare.size, int(sel.sum()))]
    return out


def _build_leads(
    w: _World, cases: pd.DataFrame, case_ci: np.ndarray, case_mi: np.ndarray, no_link: np.ndarray
) -> pd.DataFrame:
    rng = w.rng
    # Leads that became cases: same month as the case was found, checked on that day.
    linked = (rng.random(len(cases)) < 0.75) & ~no_link
    found = cases["found_date"].to_numpy().astype("datetime64[D]")[linked]
    l_ci, l_mi = case_ci[linked], case_mi[linked]
    l_received = np.maximum(
        found - rng.integers(0, 8, found.size).astype("timedelta64[D]"), w.month_start[l_mi]
    )
    source_index = {s: i for i, s in enumerate(LEAD_SOURCES)}
    l_source = cases["lead_source"].map(source_index).to_numpy(dtype=np.int64)[linked]
    # Leads checked without becoming a case: campaign phases bring waves of them.
    base = np.clip(14.0 * w.scale, 4.0, 50.0)[:, None]
    wave = np.select([w.phase == 2, w.phase == 3, w.phase == 4], [2.2, 1.5, 1.3], 1.0)
    year = np.where(w.year >= CAMPAIGN_YEAR, 0.85, 1.0)
    counts = w.at_least(rng.poisson(base * wave[None, :] * year[None, :]), 6)
    u_ci, u_mi = _expand(counts)
    u_received = w.dates_in_month(u_mi)
    u_source = _pick(rng, _LEAD_SOURCE_P, w.phase[u_mi])
    lag = w.lagging[u_ci]
    check_days = rng.integers(2, 45, u_ci.size) * np.where(lag, 2, 1)
    checked = u_received + check_days.astype("timedelta64[D]")
    stuck = lag & (rng.random(u_ci.size) < 0.12)
    pending = (checked > w.as_of) | stuck
    confirmed = rng.random(u_ci.size) < 0.2
    u_status = np.select(
        [pending & (rng.random(u_ci.size) < 0.5), pending, confirmed], [0, 1, 2], 3
    )
    checked = np.where(pending, np.datetime64("NaT"), checked)

    ci = np.concatenate([l_ci, u_ci])
    mi = np.concatenate([l_mi, u_mi])
    received = np.concatenate([l_received, u_received])
    source = np.concatenate([l_source, u_source])
    status = np.concatenate([np.full(l_ci.size, 2), u_status])
    checked_all = np.concatenate([found, checked])
    case_id = np.concatenate(
        [cases["case_id"].to_numpy(dtype=object)[linked], np.full(u_ci.size, None, dtype=object)]
    )
    order = np.lexsort((received, ci))
    ci, mi, received, source, status, checked_all, case_id = (
        a[order] for a in (ci, mi, received, source, status, checked_all, case_id)
    )
    rules = _rule_codes(rng, source)
    seq = _group_seq(ci * w.n_months + mi)
    return pd.DataFrame(
        {
            "lead_id": pd.Series(_ids("XS", w.codes[ci], w.yyyymm[mi], seq, 5), dtype="str"),
            "county_code": pd.Series(w.code_obj[ci], dtype="str"),
            "lead_source": pd.Series(_obj(LEAD_SOURCES)[source], dtype="str"),
            "rule_code": pd.Series(rules, dtype="str"),
            "received_date": _to_date_series(received),
            "check_status": pd.Series(_obj(CHECK_STATUSES)[status], dtype="str"),
            "checked_date": _to_date_series(checked_all),
            "case_id": pd.Series(case_id, dtype="str"),
        }
    )


def _build_inspections(w: _World) -> pd.DataFrame:
    rng, inst = w.rng, w.inst
    method_idx = {m: i for i, m in enumerate(INSPECTION_METHODS)}
    parts: list[tuple[np.ndarray, ...]] = []  # (institution index, month index, method)

    # Routine inspections, all year round.
    rate = np.where(w.year >= CAMPAIGN_YEAR, 0.04, 0.035)[None, :] * (0.6 + 0.4 * w.perf[:, None])
    counts = w.at_least(rng.poisson(inst["total"][:, None] * rate), 4)
    ci, mi = _expand(counts)
    idx = inst["start"][ci] + np.floor(rng.random(ci.size) * inst["total"][ci]).astype(np.int64)
    routine_p = np.array(
        [[0.45, 0.20, 0, 0, 0.20, 0.10, 0.05], [0.30, 0.15, 0, 0, 0.15, 0.05, 0.35]]
    )
    method = _pick(rng, routine_p, (w.phase[mi] == 5).astype(np.int64))
    parts.append((idx, mi, method))

    # 交叉检查 phase: a distinct set of institutions, ≥ 30% of them where the county keeps pace.
    cross_months = np.flatnonzero(w.phase == 3)
    if cross_months.size:
        cover = np.where(
            w.lagging, rng.uniform(0.06, 0.12, w.n_counties), rng.uniform(0.33, 0.48, w.n_counties)
        )
        county = inst["county"]
        key = rng.random(county.size)
        order = np.lexsort((key, county))
        rank = np.empty(county.size, dtype=np.int64)
        rank[order] = np.arange(county.size) - inst["start"][county[order]]
        chosen = np.flatnonzero(rank < np.ceil(cover * inst["total"])[county])
        mi = cross_months[rng.integers(0, cross_months.size, chosen.size)]
        parts.append((chosen, mi, np.full(chosen.size, method_idx["交叉检查"])))

    # 重点抽查 phase: 飞行检查 of medical institutions.
    flight = (w.phase == 4).astype(float)[None, :] * (2.0 + 0.015 * inst["total"][:, None])
    ci, mi = _expand(rng.poisson(flight))
    idx = inst["start"][ci] + np.floor(rng.random(ci.size) * inst["med"][ci]).astype(np.int64)
    parts.append((idx, mi, np.full(ci.size, method_idx["飞行检查"])))

    # Key-monitored institutions: one 专项检查 a quarter (002), kept up where the county is on pace.
    key_idx = np.flatnonzero(inst["key"])
    quarter = np.array([(y, (int(m[5:]) - 1) // 3) for y, m in zip(w.year, w.months)])
    q_keys, q_of_month = np.unique(quarter[:, 0] * 4 + quarter[:, 1], return_inverse=True)
    for q in range(q_keys.size):
        q_months = np.flatnonzero(q_of_month == q)
        yr = int(q_keys[q] // 4)
        p = np.where(yr >= CAMPAIGN_YEAR, np.where(w.lagging, 0.5, 0.95), 0.55)
        hit = key_idx[rng.random(key_idx.size) < p[inst["county"][key_idx]]]
        mi = q_months[rng.integers(0, q_months.size, hit.size)]
        parts.append((hit, mi, np.full(hit.size, method_idx["专项检查"])))

    idx = np.concatenate([p[0] for p in parts])
    mi = np.concatenate([p[1] for p in parts])
    method = np.concatenate([p[2] for p in parts])
    ci = inst["county"][idx]
    date = w.dates_in_month(mi)
    order = np.lexsort((date, ci))
    idx, mi, method, ci, date = idx[order], mi[order], method[order], ci[order], date[order]
    n = idx.size
    itype = inst["type"][idx]
    low = np.array([800, 100, 10, 0])[itype]
    high = np.array([4000, 900, 200, 0])[itype]
    total = np.floor(low + rng.random(n) * (high - low)).astype(np.int64)
    campaign = w.year[mi] >= CAMPAIGN_YEAR
    sample_rate = np.where(
        campaign,
        np.where(w.lagging[ci], rng.uniform(0.02, 0.05, n), rng.uniform(0.05, 0.12, n)),
        rng.uniform(0.02, 0.06, n),
    )
    deep = (method == method_idx["交叉检查"]) | (method == method_idx["飞行检查"])
    sample_rate = np.where(deep, rng.uniform(0.06, 0.15, n), sample_rate)
    sampled = np.minimum(np.ceil(total * sample_rate).astype(np.int64), total)
    mean_problems = np.select(
        [
            method == method_idx["飞行检查"],
            method == method_idx["交叉检查"],
            method == method_idx["专项检查"],
        ],
        [4.0, 2.5, 1.5],
        0.8,
    )
    problems = rng.poisson(mean_problems)
    seq = _group_seq(ci * w.n_months + mi)
    return pd.DataFrame(
        {
            "inspection_id": pd.Series(_ids("JC", w.codes[ci], w.yyyymm[mi], seq, 4), dtype="str"),
            "county_code": pd.Series(w.code_obj[ci], dtype="str"),
            "institution_id": pd.Series(inst["ids"][idx], dtype="str"),
            "method": pd.Series(_obj(INSPECTION_METHODS)[method], dtype="str"),
            "inspection_date": _to_date_series(date),
            "records_sampled": sampled,
            "records_total": total,
            "problems_found": problems.astype(np.int64),
        }
    )


def _build_rectifications(w: _World) -> pd.DataFrame:
    rng, inst = w.rng, w.inst
    src = {s: i for i, s in enumerate(RECT_SOURCES)}
    total_inst = inst["total"][:, None].astype(float)
    streams = [
        # (expected items per county-month, source probabilities)
        (
            np.clip(1.5 * w.scale, 0.5, 5.0)[:, None] * np.ones(w.n_months)[None, :],
            np.array([0, 0, 0.10, 0.25, 0.15, 0.30, 0.20]),
        ),
        (
            total_inst * 0.12 * (0.35 + 0.65 * w.perf[:, None]) * (w.phase == 2)[None, :],
            np.eye(len(RECT_SOURCES))[src["自查自纠"]],
        ),
        (total_inst * 0.035 * (w.phase == 3)[None, :], np.eye(len(RECT_SOURCES))[src["交叉检查"]]),
        (
            (2.0 + 0.01 * total_inst) * (w.phase == 4)[None, :],
            np.eye(len(RECT_SOURCES))[src["飞行检查"]],
        ),
    ]
    cis, mis, sources = [], [], []
    for k, (lam, probs) in enumerate(streams):
        counts = rng.poisson(lam)
        if k == 0:
            counts = w.at_least(counts, 3)
        ci, mi = _expand(counts)
        cis.append(ci)
        mis.append(mi)
        sources.append(_pick(rng, probs, n=ci.size))
    ci, mi, source = np.concatenate(cis), np.concatenate(mis), np.concatenate(sources)
    found = w.dates_in_month(mi)
    order = np.lexsort((found, ci))
    ci, mi, source, found = ci[order], mi[order], source[order], found[order]
    n = ci.size
    lag = w.lagging[ci]

    deadline = found + rng.choice([30, 45, 60, 90], n).astype("timedelta64[D]")
    capped = (w.year[mi] == CAMPAIGN_YEAR) & (found <= RECTIFY_BY - np.timedelta64(14, "D"))
    deadline = np.where(capped, np.minimum(deadline, RECTIFY_BY), deadline)
    span = (deadline - found).astype(np.int64)
    late = np.where(lag, rng.uniform(0.5, 1.6, n), rng.uniform(0.3, 1.0, n))
    closed = found + np.round(span * late).astype(np.int64).astype("timedelta64[D]")
    p_close = np.where(lag, 0.55, 0.985 + 0.015 * w.perf[ci])
    closes = (rng.random(n) < p_close) & (closed <= w.as_of)
    age = (w.as_of - found).astype(np.int64)
    open_status = np.where(
        age < 20, rng.choice([0, 1], n), _pick(rng, np.array([0.2, 0.5, 0.3]), n=n)
    )
    status = np.where(closes, 3, open_status)
    closed = np.where(closes, closed, np.datetime64("NaT"))

    has_money = rng.random(n) < 0.6
    median = np.where(source == src["自查自纠"], 5_000.0, 12_000.0)
    involved = _money(np.clip(median * np.exp(rng.normal(0, 0.9, n)), 100.0, 2.0e6))
    full = rng.random(n) < np.where(lag, 0.5, 0.85)
    frac = np.where(
        closes,
        np.where(full, 1.0, np.where(lag, rng.uniform(0.3, 1.0, n), rng.uniform(0.85, 1.0, n))),
        rng.uniform(0.0, 0.6, n),
    )
    recovered = _money(involved * frac)
    involved = np.where(has_money, involved, np.nan)
    recovered = np.where(has_money, recovered, np.nan)

    inst_pick = inst["start"][ci] + np.floor(rng.random(n) * inst["total"][ci]).astype(np.int64)
    bureau = np.strings.add(
        w.names[ci].astype(str), np.where(rng.random(n) < 0.6, "医疗保障局", "医疗保障事务中心")
    )
    at_bureau = np.isin(source, [src["审计"], src["巡视巡察"], src["其他"]])
    unit = np.where(at_bureau, bureau.astype(object), inst["names"][inst_pick])
    text = np.empty(n, dtype=object)
    for s, options in _RECT_TEXT.items():
        sel = source == src[s]
        text[sel] = _obj(options)[rng.integers(0, len(options), int(sel.sum()))]
    seq = _group_seq(ci * w.n_months + mi)
    return pd.DataFrame(
        {
            "issue_id": pd.Series(_ids("ZG", w.codes[ci], w.yyyymm[mi], seq, 4), dtype="str"),
            "county_code": pd.Series(w.code_obj[ci], dtype="str"),
            "source": pd.Series(_obj(RECT_SOURCES)[source], dtype="str"),
            "responsible_unit": pd.Series(unit, dtype="str"),
            "description": pd.Series(text, dtype="str"),
            "found_date": _to_date_series(found),
            "deadline": _to_date_series(deadline),
            "status": pd.Series(_obj(RECT_STATUSES)[status], dtype="str"),
            "closed_date": _to_date_series(closed),
            "amount_involved": involved,
            "amount_recovered": recovered,
        }
    )


def _build_complaints(w: _World) -> pd.DataFrame:
    rng = w.rng
    april = np.array([m.endswith("-04") for m in w.months])
    lam = (
        np.clip(3.0 * w.scale, 1.0, 10.0)[:, None]
        * np.where(april, 1.8, 1.0)[None, :]
        * np.where(w.year >= CAMPAIGN_YEAR, 1.2, 1.0)[None, :]
    )
    ci, mi = _expand(w.at_least(rng.poisson(lam), 4))
    n = ci.size
    received = w.dates_in_month(mi)
    channel = _pick(rng, np.array([0.50, 0.08, 0.12, 0.25, 0.05]), n=n)
    lag = w.lagging[ci]
    days = rng.integers(5, 50, n) * np.where(lag, 2, 1)
    closed = received + days.astype("timedelta64[D]")
    closes = (closed <= w.as_of) & ~(lag & (rng.random(n) < 0.1))
    closed = np.where(closes, closed, np.datetime64("NaT"))
    verified = closes & (rng.random(n) < 0.32)
    recovered = 15_000.0 * np.exp(rng.normal(0, 1.0, n))
    reward = np.where(
        verified & (rng.random(n) < 0.5), _money(np.minimum(recovered * 0.02, 100_000.0)), 0.0
    )
    seq = _group_seq(ci * w.n_months + mi)
    return pd.DataFrame(
        {
            "complaint_id": pd.Series(_ids("JB", w.codes[ci], w.yyyymm[mi], seq, 4), dtype="str"),
            "county_code": pd.Series(w.code_obj[ci], dtype="str"),
            "channel": pd.Series(_obj(CHANNELS)[channel], dtype="str"),
            "received_date": _to_date_series(received),
            "verified": verified,
            "closed_date": _to_date_series(closed),
            "reward_paid": reward,
        }
    )


def _build_activities(w: _World) -> pd.DataFrame:
    rng = w.rng
    c, m = w.n_counties, w.n_months
    lag = w.lagging[:, None]
    campaign = (w.year >= CAMPAIGN_YEAR)[None, :]
    in_campaign = (w.phase > 0)[None, :]
    month_no = np.array([int(x[5:]) for x in w.months])[None, :]
    ordinal = np.array([(y - 2024) * 12 + mo - 1 for y, mo in zip(w.year, month_no[0])])[
        None, :
    ]  # 0 at 2024-01
    sharing_by = int(DATA_SHARING_BY[:4]) * 12 + int(DATA_SHARING_BY[5:]) - 1 - 2024 * 12
    u = rng.random((c, m))

    quarter_end = month_no % 3 == 0
    meetings = np.where(in_campaign & ~lag, 1 + (u < 0.15), np.where(quarter_end & (u < 0.9), 1, 0))
    publicity = rng.poisson(np.where(month_no == 4, 6.0, 1.5) * np.where(campaign, 1.3, 1.0))
    talks = rng.poisson(np.where(in_campaign, 2.0, 0.8) * np.ones((c, 1)))
    training = rng.poisson(np.where((w.phase == 1)[None, :], 4.0, 0.4) * np.ones((c, 1)))
    s0 = rng.integers(3, 7, c)[:, None]
    s_end = np.where(w.lagging, rng.integers(7, 10, c), 12)[:, None]
    ramp = np.clip(ordinal / max(sharing_by, 1), 0.0, 1.0)
    ramp = np.where(lag, np.clip(ordinal / max(ordinal.max(), 1), 0, 1), ramp)
    sharing = np.floor(s0 + (s_end - s0) * ramp + 1e-9).astype(np.int64)
    supervisors = (rng.integers(10, 40, c)[:, None] + np.floor(ordinal / 3)).astype(np.int64)
    report_p = np.where(campaign, np.where(lag, 0.5, 0.97), 0.6)
    reports = np.where(u < report_p, 1 + (rng.random((c, m)) < 0.2), 0)
    rated_total = np.bincount(w.inst["county"], weights=w.inst["rated"], minlength=c)[:, None]
    rated = np.floor(rated_total * (0.4 + 0.6 * np.clip(ordinal / max(ordinal.max(), 1), 0, 1)))
    sanctions = rng.poisson(np.where(campaign, 0.8, 0.3) * np.ones((c, 1)))
    values = {
        "联席会议": meetings,
        "宣传活动": publicity,
        "警示约谈": talks,
        "培训": training,
        "数据共享部门": sharing,
        "社会监督员": supervisors,
        "典型案例报送": reports,
        "信用评价机构": rated,
        "失信惩戒": sanctions,
    }
    cube = np.stack([np.broadcast_to(values[a], (c, m)) for a in ACTIVITIES], axis=2)
    ci = np.repeat(np.arange(c), m * len(ACTIVITIES))
    mi = np.tile(np.repeat(np.arange(m), len(ACTIVITIES)), c)
    ai = np.tile(np.arange(len(ACTIVITIES)), c * m)
    return pd.DataFrame(
        {
            "county_code": pd.Series(w.code_obj[ci], dtype="str"),
            "month": pd.Series(_obj(w.months)[mi], dtype="str"),
            "activity": pd.Series(_obj(ACTIVITIES)[ai], dtype="str"),
            "count": cube.reshape(-1).astype(np.int64),
        }
    )


def _ensure_faulty_material(w: _World, frames: dict[str, pd.DataFrame]) -> np.ndarray:
    """Give each faulty county's latest month the rows its mistakes are injected into: the first
    three cases closed quickly (one closed, one with money recovered, one about a person).

    Returns the cases no lead may link to (the mistake carriers: when the ingest quarantines
    them, no lead should fail with them)."""
    cases = frames["cases"]
    no_link = np.zeros(len(cases), dtype=bool)
    for f in np.flatnonzero(w.faulty):
        code = str(w.codes[f])
        mine = np.flatnonzero((cases["county_code"] == code).to_numpy())
        found = cases["found_date"].to_numpy()[mine]
        rows = mine[found >= np.datetime64(w.month_start[-1])]
        no_link[rows[:6]] = True
        start = pd.Timestamp(w.month_start[-1])
        for k, i in enumerate(rows[:3]):
            found = start + pd.Timedelta(days=k)
            filed = found + pd.Timedelta(days=3)
            closed = filed + pd.Timedelta(days=5 + k)
            due = round(float(cases.at[i, "amount_involved"]) * 0.9, 2)
            cases.loc[i, ["found_date", "filed_date", "closed_date"]] = [found, filed, closed]
            cases.loc[i, ["amount_due", "amount_recovered", "fine_amount"]] = [due, due, 0.0]
            cases.loc[i, ["status", "outcome"]] = ["已结案", "拒付追回"]
        if len(rows) > 2 and pd.isna(cases.at[rows[2], "person_id"]):
            i = rows[2]
            cases.loc[i, ["subject_type", "violation_type"]] = ["参保人员", "冒名就医"]
            cases.at[i, "institution_id"] = np.nan
            cases.at[i, "person_id"] = _id_numbers(w.rng, np.array([w.codes[f]]))[0]
            cases.at[i, "person_name"] = _person_names(w.rng, 1)[0]
    return no_link


_BLANK_DTYPES = {
    "date": "datetime64[ns]",
    "int": "Int64",
    "yuan": "float64",
    "bool": "boolean",
}


def _with_blanks(df: pd.DataFrame, lg: Ledger) -> pd.DataFrame:
    """The ledger's columns in contract order; a field the demo does not fill is blank but
    typed like a filled one (text as strings, dates as datetimes, …)."""
    out = df.reindex(columns=lg.field_names)
    for f in lg.fields:
        if f.name not in df.columns:
            out[f.name] = pd.Series(
                pd.NA if f.type in ("int", "bool") else None,
                index=out.index,
                dtype=_BLANK_DTYPES.get(f.type, "str"),
            )
    return out


def generate_city(
    n_counties: int = 10,
    start: str = "2024-01",
    end: str = "2025-12",
    seed: int = 20251,
    lagging: int = 2,
    faulty: int = 1,
) -> DemoCity:
    """Build the demo city's ledgers (clean: every contract rule holds)."""
    w = _world(n_counties, start, end, seed, lagging, faulty)
    institutions = _build_institutions(w)
    counties = _build_counties(w)
    case_counts = w.at_least(w.rng.poisson(_case_rates(w)), 10)
    case_ci, case_mi = _expand(case_counts)
    cases = _build_cases(w, case_ci, case_mi)
    frames = {"counties": counties, "institutions": institutions, "cases": cases}
    no_link = _ensure_faulty_material(w, frames)
    frames["leads"] = _build_leads(w, cases, case_ci, case_mi, no_link)
    frames["inspections"] = _build_inspections(w)
    frames["rectifications"] = _build_rectifications(w)
    frames["complaints"] = _build_complaints(w)
    frames["activities"] = _build_activities(w)
    _close_the_loop(w, frames, no_link, seed)
    # A field added to a contract later still gets a (blank) column, so writing keeps working.
    frames = {name: _with_blanks(frames[name], lg) for name, lg in LEDGERS.items()}
    codes = [str(c) for c in w.codes]
    return DemoCity(
        frames=frames,
        city_code=CITY_CODE,
        city_name=CITY_NAME,
        counties=list(zip(codes, [str(x) for x in w.names])),
        lagging=tuple(codes[i] for i in np.flatnonzero(w.lagging)),
        faulty=tuple(codes[i] for i in np.flatnonzero(w.faulty)),
        layouts=_layouts(w),
        months=w.months,
        seed=seed,
        as_of=pd.Timestamp(w.as_of),
    )


# ---------------------------------------------------------------------------------------------
# The supervision loop (issue 13): links between the ledgers, 行刑衔接, time limits, and the
# registers of 自查, 约谈, 记分 and 经办内控. It draws from its own random stream, so every row
# the builders above made stays as it was; only the contradictions the rules now refuse change.

_LOOP_STREAM = 13
_REWARD_STREAM = 17  # reward payment dates: their own stream, the rest of the city unchanged
# violation types the demo treats as typically criminal (诈骗): its own story, kept in line
# with the `violation_type` list of the campaign's 涉嫌犯罪 measures
_TYPICALLY_CRIMINAL = (
    "假病人",
    "假病情",
    "假票据",
    "挂床住院",
    "冒名就医",
    "倒卖药品",
    "虚构医药服务",
    "伪造医学文书票据",
    "盗刷医保凭证",
    "重复享受待遇",
    "死亡冒领",
    "内外勾结",
)
_CASE_DAYS = 90  # 办案时限: 90 days from filing (or discovery) in the demo
_LEAD_DAYS = 30  # 核查时限
_COMPLAINT_DAYS = 60  # 办理时限
_FEEDBACK_P = np.array([0.35, 0.45, 0.12, 0.08])  # 受理 立案 不予立案 退回
_TALK_TEXT = {
    "reasons": (
        "案件查处进度滞后",
        "整改销号不及时",
        "医保基金使用问题突出",
        "检查发现违规问题较多",
    ),
    "commitments": (
        "一个月内完成问题整改并报送整改报告",
        "全面开展自查自纠，主动退回违规资金",
        "建立整改台账，逐项销号",
        "落实专人负责医保结算管理",
    ),
}
_POINTS = np.array([1, 2, 3, 4, 6, 9, 12])
_POINTS_P = np.array([0.30, 0.25, 0.18, 0.12, 0.08, 0.05, 0.02])
_SCORED_TYPES = (
    "分解住院",
    "挂床住院",
    "串换药品耗材诊疗项目",
    "过度诊疗检查",
    "虚构医药服务",
    "假病人",
    "假病情",
    "伪造医学文书票据",
    "超标准收费",
    "重复收费",
)


def _days(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).astype("timedelta64[D]")


def _dates(s: pd.Series) -> np.ndarray:
    return s.to_numpy().astype("datetime64[D]")


def _nearest(
    left: pd.DataFrame,
    right: pd.DataFrame,
    by: list[str],
    on: tuple[str, str],
    take: str,
    direction: str = "backward",
) -> pd.Series:
    """For each left row, `take` of the nearest right row with the same `by` values whose date
    is not after (`backward`) or not before (`forward`) the left row's; `on` names the left and
    right dates. One to one: a right row goes to the first left row that finds it. Missing
    where there is none. Indexed like `left`."""
    out = pd.Series([None] * len(left), index=left.index, dtype=object)
    if not len(left) or not len(right):
        return out
    lkey, rkey = on
    lhs = left[by].assign(_pos=np.arange(len(left)), _t=pd.to_datetime(left[lkey]))
    rhs = right[by].assign(_take=right[take].to_numpy(), _t=pd.to_datetime(right[rkey]))
    lhs = lhs.dropna(subset=["_t"]).sort_values("_t", kind="stable")
    rhs = rhs.dropna(subset=["_t"]).sort_values("_t", kind="stable")
    for frame in (lhs, rhs):
        frame["_t"] = frame["_t"].astype("datetime64[ns]")
        for col in by:
            frame[col] = frame[col].astype(str)
    got = pd.merge_asof(lhs, rhs, on="_t", by=by, direction=direction)
    got = got.sort_values("_pos", kind="stable")
    got.loc[got["_take"].duplicated() & got["_take"].notna(), "_take"] = None
    out.iloc[got["_pos"].to_numpy()] = got["_take"].to_numpy(dtype=object)
    return out


def _month_of(d: pd.Series) -> pd.Series:
    return d.dt.strftime("%Y-%m")


def _case_loop_fields(w: _World, rng: np.random.Generator, cases: pd.DataFrame) -> None:
    """行刑衔接 (涉嫌犯罪, referral and police feedback), 办案时限, 公职人员, 移送纪检监察."""
    n = len(cases)
    status = cases["status"].to_numpy(dtype=object)
    outcome = cases["outcome"].to_numpy(dtype=object)
    involved = cases["amount_involved"].to_numpy(dtype=float)
    violation = cases["violation_type"].to_numpy(dtype=object)
    criminal = np.isin(violation, _TYPICALLY_CRIMINAL)
    refer = cases["referred_police"].to_numpy(dtype=bool).copy()
    # the contradictions 002 and the rules refuse: a talk or no action is not a referral, and a
    # billing violation goes to the police only when the case says so
    refer &= ~np.isin(outcome, ("约谈", "不予处理"))
    refer &= criminal | (outcome == "移送公安")
    # 应移尽移 (医保发〔2021〕49号): in the campaign a county on pace refers most criminal-looking
    # cases over the threshold; a lagging one far fewer
    ci = pd.Index(w.code_obj).get_indexer(cases["county_code"].to_numpy(dtype=object))
    campaign = _dates(cases["found_date"]) >= np.datetime64(f"{CAMPAIGN_YEAR}-01-01")
    p_more = np.where(w.lagging[ci], 0.15, np.where(campaign, 0.8, 0.3))
    eligible = (
        criminal
        & (involved > 5000)
        & np.isin(status, ("已立案", "调查中", "已结案"))
        & ~np.isin(outcome, ("约谈", "不予处理"))
    )
    refer |= eligible & (rng.random(n) < p_more)
    cases["referred_police"] = refer
    open_ = np.isin(status, ("已立案", "调查中"))
    suspected = pd.array([pd.NA] * n, dtype="boolean")
    suspected[refer] = True
    suspected[open_ & criminal & (involved > 5000) & ~refer] = True
    suspected[(status == "已结案") & ~refer & ~(criminal & (involved > 5000))] = False
    cases["suspected_crime"] = suspected  # closed, unreferred, criminal-looking: left blank

    found, filed, closed = (_dates(cases[c]) for c in ("found_date", "filed_date", "closed_date"))
    since = np.where(np.isnat(filed), found, filed)
    cases["due_date"] = _to_date_series(since + _days(np.full(n, _CASE_DAYS)))
    as_of = np.datetime64(w.as_of, "D")
    referral = np.minimum(filed + _days(rng.integers(3, 40, n)), as_of)
    referral = np.where(refer, referral, np.datetime64("NaT"))
    cases["referral_date"] = _to_date_series(referral)
    answer = referral + _days(rng.integers(5, 45, n))
    answered = refer & (answer <= as_of)
    feedback = np.where(answered, _obj(POLICE_FEEDBACK)[_pick(rng, _FEEDBACK_P, n=n)], None)
    cases["police_feedback"] = pd.Series(feedback, dtype="str")
    cases["police_feedback_date"] = _to_date_series(
        np.where(answered, answer, np.datetime64("NaT"))
    )
    to_discipline = outcome == "移送纪检监察"
    span = np.maximum((closed - filed).astype("timedelta64[D]").astype(np.int64), 0)
    d_date = filed + _days(np.floor(rng.random(n) * (span + 1)).astype(np.int64))
    cases["discipline_referral_date"] = _to_date_series(
        np.where(to_discipline & ~np.isnat(closed), d_date, np.datetime64("NaT"))
    )
    subject = cases["subject_type"].to_numpy(dtype=object)
    cases["public_servant"] = (subject == "经办机构") | (
        (subject == "参保人员") & (rng.random(n) < 0.05)
    )


def _carriers(w: _World, frames: dict[str, pd.DataFrame], no_link: np.ndarray) -> dict:
    """What no new link may point at: the faulty county's latest-month rows of the linked
    ledgers (mistakes are injected there, and a refused target would drag its links along)."""
    month = w.months[-1]
    faulty = {str(w.codes[i]) for i in np.flatnonzero(w.faulty)}
    out: dict[str, np.ndarray] = {}
    for name, date in (
        ("cases", "found_date"),
        ("inspections", "inspection_date"),
        ("complaints", "received_date"),
    ):
        df = frames[name]
        out[name] = (df["county_code"].isin(faulty) & (_month_of(df[date]) == month)).to_numpy(
            copy=True
        )
    out["cases"] |= no_link
    return out


def _link_cases_to_inspections(cases: pd.DataFrame, ins: pd.DataFrame, avoid: dict) -> None:
    """A case sourced 飞行检查/交叉检查/日常稽核 names the latest inspection of its institution up
    to its discovery, when there is one (002: cases come out of the inspections)."""
    sel = (
        cases["lead_source"].isin(["飞行检查", "交叉检查", "日常稽核"]).to_numpy()
        & cases["institution_id"].notna().to_numpy()
        & ~avoid["cases"]
    )
    got = _nearest(
        cases.loc[sel, ["institution_id", "found_date"]],
        ins.loc[~avoid["inspections"]],
        ["institution_id"],
        ("found_date", "inspection_date"),
        "inspection_id",
    )
    cases["inspection_id"] = pd.Series(got.reindex(cases.index), dtype="str")


def _link_complaints(
    w: _World, rng: np.random.Generator, frames: dict[str, pd.DataFrame], avoid: dict
) -> None:
    """A verified complaint names the case it became (a 举报投诉 case found later in the same
    month, so a month's file never names a later one); its reward is 2% of that case's recovery
    capped at 100,000 yuan (002), paid on most closed cases; 被举报机构; 办理时限."""
    cases, comp = frames["cases"], frames["complaints"]
    n = len(comp)
    cand = cases.loc[
        (cases["lead_source"] == "举报投诉").to_numpy() & ~avoid["cases"],
        ["case_id", "county_code", "found_date", "institution_id"],
    ].assign(month=lambda d: _month_of(d["found_date"]))
    left = comp.loc[
        comp["verified"].to_numpy(dtype=bool) & ~avoid["complaints"],
        ["county_code", "received_date"],
    ].assign(month=lambda d: _month_of(d["received_date"]))
    # the first case found on or after the complaint, in the same county and month
    case_of = _nearest(
        left, cand, ["county_code", "month"], ("received_date", "found_date"), "case_id", "forward"
    )
    comp["case_id"] = pd.Series(case_of.reindex(comp.index), dtype="str")
    linked = comp["case_id"].notna().to_numpy()
    by_case = cases.set_index("case_id")
    inst = comp["case_id"].map(by_case["institution_id"])
    ci = pd.Index(w.code_obj).get_indexer(comp["county_code"])
    u = rng.random(n)
    pick = w.inst["start"][ci] + np.floor(u * w.inst["total"][ci]).astype(np.int64)
    about_inst = rng.random(n) < 0.55
    random_inst = np.where(
        about_inst, w.inst["ids"][np.minimum(pick, w.inst["ids"].size - 1)], None
    )
    institution = np.where(linked, inst.to_numpy(dtype=object), random_inst)
    comp["institution_id"] = pd.Series(
        [None if (v is None or v != v) else v for v in institution], dtype="str"
    )
    comp["due_date"] = _to_date_series(
        _dates(comp["received_date"]) + _days(np.full(n, _COMPLAINT_DAYS))
    )
    recovered = comp["case_id"].map(by_case["amount_recovered"]).to_numpy(dtype=float)
    case_closed = comp["case_id"].map(by_case["status"]).to_numpy(dtype=object) == "已结案"
    lag = w.lagging[ci]
    pays = linked & case_closed & (rng.random(n) < np.where(lag, 0.45, 0.85))
    reward = np.where(pays, _money(np.minimum(np.nan_to_num(recovered) * 0.02, 100_000.0)), 0.0)
    comp["reward_paid"] = reward


def _reward_dates(w: _World, rng: np.random.Generator, frames: dict[str, pd.DataFrame]) -> None:
    """When each reward was paid: after its case closed, mostly within a month (the lagging
    counties' often two or three months later); a reward not paid by the demo's last day is
    still due (no amount, no date)."""
    comp = frames["complaints"]
    n = len(comp)
    paid = comp["reward_paid"].to_numpy(dtype=float) > 0
    closed = comp["case_id"].map(frames["cases"].set_index("case_id")["closed_date"])
    base = _dates(closed.where(closed.notna(), comp["closed_date"]))
    lag = w.lagging[pd.Index(w.code_obj).get_indexer(comp["county_code"])]
    late = rng.random(n) < np.where(lag, 0.55, 0.12)
    days = np.where(late, rng.integers(31, 100, n), rng.integers(3, 31, n))
    when = base + _days(days)
    when = np.maximum(when, _dates(comp["received_date"]))
    due = paid & ~np.isnat(when)
    on_time = due & (when <= w.as_of)
    comp["reward_paid"] = np.where(on_time, comp["reward_paid"], 0.0)
    comp["reward_paid_date"] = _to_date_series(np.where(on_time, when, np.datetime64("NaT")))


def _link_leads(
    w: _World, rng: np.random.Generator, frames: dict[str, pd.DataFrame], avoid: dict
) -> None:
    """A lead names the complaint or inspection it came from (the complaint of its case, else the
    latest one before it), its 核查时限 and, when 属实, the amount confirmed."""
    leads, cases, comp, ins = (frames[k] for k in ("leads", "cases", "complaints", "inspections"))
    n = len(leads)
    src = leads["lead_source"]
    # the complaint that became the lead's case
    case_complaint = comp.dropna(subset=["case_id"]).set_index("case_id")["complaint_id"]
    via_case = leads["case_id"].map(case_complaint)
    received_of = comp.set_index("complaint_id")["received_date"]
    via_case = via_case.where(via_case.map(received_of) <= leads["received_date"])
    from_tip = (src == "举报投诉") & via_case.isna()
    left = leads.loc[from_tip.to_numpy(), ["county_code", "received_date"]]
    taken = set(via_case.dropna())
    right = comp.loc[~avoid["complaints"] & ~comp["complaint_id"].isin(taken).to_numpy()]
    other = _nearest(
        left, right, ["county_code"], ("received_date", "received_date"), "complaint_id"
    )
    complaint = via_case.astype(object).where(via_case.notna(), other.reindex(leads.index))
    leads["complaint_id"] = pd.Series(complaint, dtype="str")
    # inspections: a 飞行检查/交叉检查 lead comes out of the latest such inspection in its county;
    # a lead that became a case from an inspection names that case's inspection
    case_ins = leads["case_id"].map(cases.set_index("case_id")["inspection_id"])
    method = src.where(src.isin(["飞行检查", "交叉检查"]))
    need = method.notna() & case_ins.isna()
    left = leads.loc[need.to_numpy(), ["county_code", "received_date"]].assign(
        method=method[need.to_numpy()].to_numpy()
    )
    free = ins.loc[~avoid["inspections"]]
    fallback = _nearest(
        left,
        free,
        ["county_code", "method"],
        ("received_date", "inspection_date"),
        "inspection_id",
    )
    insp = case_ins.astype(object).where(case_ins.notna(), fallback.reindex(leads.index))
    leads["inspection_id"] = pd.Series(insp, dtype="str")
    leads["due_date"] = _to_date_series(
        _dates(leads["received_date"]) + _days(np.full(n, _LEAD_DAYS))
    )
    confirmed = (leads["check_status"] == "属实").to_numpy()
    of_case = leads["case_id"].map(cases.set_index("case_id")["amount_involved"]).to_numpy(float)
    guess = _money(8_000.0 * np.exp(rng.normal(0.0, 1.0, n)))
    leads["confirmed_amount"] = np.where(
        confirmed, np.where(np.isnan(of_case), guess, of_case), np.nan
    )


def _link_rectifications(frames: dict[str, pd.DataFrame], avoid: dict) -> None:
    """Items found by 交叉检查/飞行检查 name the latest such inspection in their county; items
    from 举报 name the latest 举报投诉 case before them."""
    rect, ins, cases = (frames[k] for k in ("rectifications", "inspections", "cases"))
    src = rect["source"]
    method = src.where(src.isin(["交叉检查", "飞行检查"]))
    sel = method.notna().to_numpy()
    left = rect.loc[sel, ["county_code", "found_date"]].assign(method=method[sel].to_numpy())
    got = _nearest(
        left,
        ins.loc[~avoid["inspections"]],
        ["county_code", "method"],
        ("found_date", "inspection_date"),
        "inspection_id",
    )
    rect["inspection_id"] = pd.Series(got.reindex(rect.index), dtype="str")
    sel = (src == "举报").to_numpy()
    tips = cases.loc[(cases["lead_source"] == "举报投诉").to_numpy() & ~avoid["cases"]]
    got = _nearest(
        rect.loc[sel, ["county_code", "found_date"]],
        tips,
        ["county_code"],
        ("found_date", "found_date"),
        "case_id",
    )
    rect["case_id"] = pd.Series(got.reindex(rect.index), dtype="str")


def _dates_in(w: _World, rng: np.random.Generator, mi: np.ndarray) -> np.ndarray:
    off = np.floor(rng.random(mi.size) * w.month_days[mi]).astype(np.int64)
    return w.month_start[mi] + _days(off)


def _sorted_ids(
    w: _World, prefix: str, ci: np.ndarray, when: np.ndarray, width: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """Row order by county then date, and IDs numbered within county × month in that order."""
    order = np.lexsort((when, ci))
    ci, when = ci[order], when[order]
    ym = when.astype("datetime64[M]").astype(np.int64)
    yyyymm = (ym // 12 + 1970) * 100 + ym % 12 + 1
    seq = _group_seq(ci * 10_000_000 + yyyymm)
    return order, _ids(prefix, w.codes[ci], yyyymm, seq, width)


def _build_self_inspections(w: _World, rng: np.random.Generator) -> pd.DataFrame:
    """自查自纠 (002 三（二）1, 2025-04..05): most institutions report; where the county lags,
    more reports find nothing and less money comes back."""
    inst = w.inst
    months = np.flatnonzero(w.phase == 2)
    n_inst = inst["ids"].size if months.size else 0
    county = inst["county"][:n_inst]
    lag = w.lagging[county]
    idx = np.flatnonzero(rng.random(n_inst) < np.where(lag, 0.75, 0.97))
    k = idx.size
    ci = county[idx]
    mi = months[rng.integers(0, max(months.size, 1), k)] if k else np.zeros(0, dtype=np.int64)
    report = _dates_in(w, rng, mi)
    zero = rng.random(k) < np.where(w.lagging[ci], 0.6, 0.3)
    problems = np.where(zero, 0, 1 + rng.poisson(1.5, k)).astype(np.int64)
    involved = _money(4_000.0 * np.exp(rng.normal(0.0, 1.0, k)) * np.sqrt(np.maximum(problems, 1)))
    involved = np.where(problems > 0, involved, np.nan)
    returns = (problems > 0) & (rng.random(k) < np.where(w.lagging[ci], 0.4, 0.75))
    returned = np.where(returns, _money(involved * rng.uniform(0.5, 1.0, k)), 0.0)
    returned = np.where(problems > 0, returned, np.nan)
    back = np.minimum(report + _days(rng.integers(0, 30, k)), np.datetime64(w.as_of, "D"))
    rectified = pd.array(np.where(problems > 0, rng.random(k) < 0.85, False), dtype="boolean")
    rectified[problems == 0] = pd.NA
    order, ids = _sorted_ids(w, "ZC", ci, report)
    return pd.DataFrame(
        {
            "record_id": pd.Series(ids, dtype="str"),
            "county_code": pd.Series(w.code_obj[ci[order]], dtype="str"),
            "institution_id": pd.Series(inst["ids"][idx[order]], dtype="str"),
            "report_date": _to_date_series(report[order]),
            "problems_found": problems[order],
            "amount_involved": involved[order],
            "amount_returned": returned[order],
            "returned_date": _to_date_series(np.where(returns, back, np.datetime64("NaT"))[order]),
            "rectified": rectified[order],
        }
    )


def _build_talks(w: _World, rng: np.random.Generator, activities: pd.DataFrame) -> pd.DataFrame:
    """约谈: every 警示约谈 the activities ledger counts is a row here (an institution talked to
    by its county bureau, reviewed a month or so later), and the city talks to each lagging
    county in August 2025 (进度滞后), reviews it in October, and talks again in November where
    the review found the work half done — that second talk's 复查 is still due at the end."""
    inst = w.inst
    talks = activities[activities["activity"] == "警示约谈"]
    counts = talks["count"].to_numpy(dtype=np.int64)
    ci = np.repeat(pd.Index(w.code_obj).get_indexer(talks["county_code"]), counts)
    mi = np.repeat(pd.Index(w.months).get_indexer(talks["month"]), counts)
    k = ci.size
    when = _dates_in(w, rng, mi)
    pick = inst["start"][ci] + np.floor(rng.random(k) * inst["total"][ci]).astype(np.int64)
    target = np.where(inst["type"][pick] < 3, "定点医疗机构", "定点零售药店").astype(object)
    lag = w.lagging[ci]
    as_of = np.datetime64(w.as_of, "D")
    review = when + _days(rng.integers(20, 50, k))
    reviewed = review <= as_of
    result = _pick(rng, np.array([[0.8, 0.15, 0.05], [0.5, 0.3, 0.2]]), lag.astype(np.int64))
    rows = {
        "ci": ci,
        "talk_date": when,
        "target_type": target,
        "institution_id": inst["ids"][pick],
        "convened_by": np.strings.add(w.names[ci].astype(str), "医疗保障局").astype(object),
        "reasons": _obj(_TALK_TEXT["reasons"])[rng.integers(1, 4, k)],
        "criteria": np.full(k, None, dtype=object),
        "commitments": _obj(_TALK_TEXT["commitments"])[rng.integers(0, 4, k)],
        "review_due": when + _days(np.full(k, 45)),
        "review_date": np.where(reviewed, review, np.datetime64("NaT")),
        "review_result": np.where(reviewed, _obj(REVIEW_RESULTS)[result], None),
    }
    # the city's talks with its lagging counties
    city_rows: list[dict] = []
    if "2025-08" in w.months:
        for n_lag, c in enumerate(np.flatnonzero(w.lagging)):
            first = np.datetime64("2025-08-20")
            half = n_lag % 2 == 0  # every other lagging county is only half done in October
            review_one = np.datetime64("2025-10-24")
            city_rows.append(
                dict(
                    ci=c,
                    talk_date=first,
                    review_due=np.datetime64("2025-10-31"),
                    review_date=review_one if review_one <= as_of else np.datetime64("NaT"),
                    review_result=("部分整改" if half else "整改到位")
                    if review_one <= as_of
                    else None,
                    criteria="进度滞后",
                    reasons="交叉检查覆盖率、问题整改完成率、违规资金追回率进度滞后",
                    commitments="9月底前完成交叉检查，10月底前整改问题全部销号",
                )
            )
            second = np.datetime64("2025-11-18")
            if half and review_one <= as_of and second <= as_of:
                city_rows.append(
                    dict(
                        ci=c,
                        talk_date=second,
                        review_due=np.datetime64("2026-01-15"),
                        review_date=np.datetime64("NaT"),
                        review_result=None,
                        criteria="进度滞后、复查未整改到位",
                        reasons="首次约谈后复查仅部分整改到位",
                        commitments="12月底前未销号问题全部整改，逐项报送整改材料",
                    )
                )
    if city_rows:
        extra = pd.DataFrame(city_rows)
        m = len(extra)
        rows = {
            "ci": np.r_[rows["ci"], extra["ci"].to_numpy(dtype=np.int64)],
            "talk_date": np.r_[rows["talk_date"], extra["talk_date"].to_numpy("datetime64[D]")],
            "target_type": np.r_[rows["target_type"], np.full(m, "区县医保部门", dtype=object)],
            "institution_id": np.r_[rows["institution_id"], np.full(m, None, dtype=object)],
            "convened_by": np.r_[
                rows["convened_by"], np.full(m, f"{CITY_NAME}医疗保障局", dtype=object)
            ],
            "reasons": np.r_[rows["reasons"], extra["reasons"].to_numpy(dtype=object)],
            "criteria": np.r_[rows["criteria"], extra["criteria"].to_numpy(dtype=object)],
            "commitments": np.r_[rows["commitments"], extra["commitments"].to_numpy(dtype=object)],
            "review_due": np.r_[rows["review_due"], extra["review_due"].to_numpy("datetime64[D]")],
            "review_date": np.r_[
                rows["review_date"], extra["review_date"].to_numpy("datetime64[D]")
            ],
            "review_result": np.r_[
                rows["review_result"], extra["review_result"].to_numpy(dtype=object)
            ],
        }
    order, ids = _sorted_ids(w, "YT", rows["ci"], rows["talk_date"])
    out = {"talk_id": pd.Series(ids, dtype="str")}
    out["county_code"] = pd.Series(w.code_obj[rows["ci"][order]], dtype="str")
    for name in ("talk_date", "review_due", "review_date"):
        out[name] = _to_date_series(rows[name][order])
    for name in (
        "target_type",
        "institution_id",
        "convened_by",
        "reasons",
        "criteria",
        "commitments",
        "review_result",
    ):
        out[name] = pd.Series(rows[name][order], dtype="str")
    return pd.DataFrame(out)[LEDGERS["talks"].field_names]


def _build_staff_points(
    w: _World, rng: np.random.Generator, cases: pd.DataFrame, avoid: dict
) -> pd.DataFrame:
    """记分: half the closed institution cases of the usual billing and fraud types score one or
    two of the institution's staff (a pool of six per institution, so points add up)."""
    sel = (
        (cases["status"] == "已结案").to_numpy()
        & cases["institution_id"].notna().to_numpy()
        & cases["violation_type"].isin(_SCORED_TYPES).to_numpy()
        & ~avoid["cases"]
    )
    src = np.flatnonzero(sel)
    src = src[rng.random(src.size) < 0.5]
    per = 1 + (rng.random(src.size) < 0.3)
    rows = np.repeat(src, per)
    k = rows.size
    inst = cases["institution_id"].to_numpy(dtype=object)[rows]
    staff_no = rng.integers(1, 7, k)
    code = np.strings.add(
        np.strings.add(inst.astype(str), "-"), np.char.zfill(staff_no.astype(str), 2)
    )
    pharmacy = np.char.startswith(inst.astype(str), "P")
    kind = np.where(
        pharmacy, "药师", _obj(("医师", "医师", "医师", "护士", "医技人员"))[rng.integers(0, 5, k)]
    )
    names = pd.Series(_person_names(rng, k)).groupby(code).transform("first").to_numpy(dtype=object)
    closed = _dates(cases["closed_date"])[rows]
    scored = np.minimum(closed + _days(rng.integers(0, 21, k)), np.datetime64(w.as_of, "D"))
    ci = pd.Index(w.code_obj).get_indexer(cases["county_code"].to_numpy(dtype=object)[rows])
    order, ids = _sorted_ids(w, "JF", ci, scored)
    violation = cases["violation_type"].to_numpy(dtype=object)[rows]
    return pd.DataFrame(
        {
            "record_id": pd.Series(ids, dtype="str"),
            "county_code": pd.Series(w.code_obj[ci[order]], dtype="str"),
            "institution_id": pd.Series(inst[order], dtype="str"),
            "staff_code": pd.Series(code.astype(object)[order], dtype="str"),
            "staff_name": pd.Series(names[order], dtype="str"),
            "staff_type": pd.Series(kind.astype(object)[order], dtype="str"),
            "scored_date": _to_date_series(scored[order]),
            "points": _POINTS[_pick(rng, _POINTS_P, n=k)][order].astype(np.int64),
            "reason": pd.Series(
                np.strings.add(violation.astype(str), "，记分")[order], dtype="str"
            ),
            "case_id": pd.Series(cases["case_id"].to_numpy(dtype=object)[rows][order], dtype="str"),
        }
    )


def _build_agency_breaches(
    w: _World, rng: np.random.Generator, cases: pd.DataFrame, avoid: dict
) -> pd.DataFrame:
    """经办内控问题: one per case against an agency (经办机构), plus a few found otherwise."""
    linked = np.flatnonzero((cases["subject_type"] == "经办机构").to_numpy() & ~avoid["cases"])
    l_ci = pd.Index(w.code_obj).get_indexer(cases["county_code"].to_numpy(dtype=object)[linked])
    l_found = _dates(cases["found_date"])[linked]
    l_closed = _dates(cases["closed_date"])[linked]
    l_type = np.where(rng.random(linked.size) < 0.6, 4, 5)  # 违规支付待遇 / 内控制度执行不到位
    counts = rng.poisson(0.08, (w.n_counties, w.n_months))
    u_ci, u_mi = _expand(counts)
    u_found = _dates_in(w, rng, u_mi)
    u_type = _pick(rng, np.array([0.3, 0.1, 0.1, 0.2, 0.1, 0.15, 0.05]), n=u_ci.size)
    fix = u_found + _days(rng.integers(10, 90, u_ci.size))
    u_closed = np.where(fix <= np.datetime64(w.as_of, "D"), fix, np.datetime64("NaT"))
    ci = np.r_[l_ci, u_ci]
    found = np.r_[l_found, u_found]
    closed = np.r_[l_closed, u_closed]
    btype = np.r_[l_type, u_type]
    case_id = np.r_[cases["case_id"].to_numpy(dtype=object)[linked], np.full(u_ci.size, None)]
    amount = np.r_[
        cases["amount_involved"].to_numpy(dtype=float)[linked],
        np.where(
            np.isin(u_type, (0, 4)), _money(20_000 * np.exp(rng.normal(0, 1, u_ci.size))), np.nan
        ),
    ]
    k = ci.size
    order, ids = _sorted_ids(w, "NK", ci, found)
    done = ~np.isnat(closed)
    return pd.DataFrame(
        {
            "breach_id": pd.Series(ids, dtype="str"),
            "county_code": pd.Series(w.code_obj[ci[order]], dtype="str"),
            "agency": pd.Series(
                np.strings.add(w.names[ci[order]].astype(str), "医疗保障事务中心").astype(object),
                dtype="str",
            ),
            "found_date": _to_date_series(found[order]),
            "breach_type": pd.Series(_obj(BREACH_TYPES)[btype[order]], dtype="str"),
            "description": pd.Series(np.full(k, None, dtype=object), dtype="str"),
            "staff_involved": (1 + (rng.random(k) < 0.3))[order].astype(np.int64),
            "amount_involved": amount[order],
            "status": pd.Series(
                np.where(done, "已整改", "整改中")[order].astype(object), dtype="str"
            ),
            "closed_date": _to_date_series(closed[order]),
            "case_id": pd.Series(case_id[order], dtype="str"),
        }
    )


def _close_the_loop(
    w: _World, frames: dict[str, pd.DataFrame], no_link: np.ndarray, seed: int
) -> None:
    """Add the loop's fields and registers to the built ledgers (in place)."""
    rng = np.random.default_rng([seed, _LOOP_STREAM])
    avoid = _carriers(w, frames, no_link)
    cases = frames["cases"]
    _case_loop_fields(w, rng, cases)
    _link_cases_to_inspections(cases, frames["inspections"], avoid)
    _link_complaints(w, rng, frames, avoid)
    _reward_dates(w, np.random.default_rng([seed, _REWARD_STREAM]), frames)
    _link_leads(w, rng, frames, avoid)
    _link_rectifications(frames, avoid)
    frames["self_inspections"] = _build_self_inspections(w, rng)
    frames["talks"] = _build_talks(w, rng, frames["activities"])
    frames["staff_points"] = _build_staff_points(w, rng, cases, avoid)
    frames["agency_breaches"] = _build_agency_breaches(w, rng, cases, avoid)


# ---------------------------------------------------------------------------------------------
# Writing the workbooks counties would send


@dataclass
class _Sheet:
    """One ledger sheet ready to write: headers plus column-major cell values."""

    ledger: Ledger
    headers: list[str]
    kinds: list[str]  # text | money | date | int
    columns: list[list]

    @property
    def n_rows(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    def col(self, field_name: str) -> list:
        return self.columns[self.ledger.field_names.index(field_name)]

    def header(self, field_name: str) -> str:
        return self.headers[self.ledger.field_names.index(field_name)]


def _header_text(header: str, layout: Layout) -> str:
    return header.replace("(", "（").replace(")", "）") if layout.fullwidth else header


def _date_text(ts: pd.Timestamp, style: int) -> str:
    return f"{ts.year}年{ts.month}月{ts.day}日" if style == 0 else f"{ts.year}/{ts.month}/{ts.day}"


def _date_cell(ts: pd.Timestamp, layout: Layout, style: int) -> str | float:
    if layout.text_dates:
        return _date_text(ts, style)
    return float((np.datetime64(ts.date()) - _EXCEL_EPOCH).astype(np.int64))


def _prepare_sheet(lg: Ledger, df: pd.DataFrame, layout: Layout, style: int) -> _Sheet:
    headers, kinds, columns = [], [], []
    yes, no = ("Y", "N") if layout.bool_style == "YN" else ("是", "否")
    for f in lg.fields:
        s = df[f.name]
        headers.append(_header_text(f.header, layout))
        if s.isna().all():
            columns.append([None] * len(s))
            kinds.append("text")
            continue
        if f.type == "date":
            raw = s.to_numpy().astype("datetime64[D]")
            missing = np.isnat(raw)
            if layout.text_dates:
                stamps = pd.to_datetime(raw)
                vals = [None if m else _date_text(ts, style) for ts, m in zip(stamps, missing)]
                kinds.append("text")
            else:
                serial = (raw - _EXCEL_EPOCH).astype(np.int64).astype(float)
                vals = [None if m else v for v, m in zip(serial.tolist(), missing)]
                kinds.append("date")
        elif f.type == "bool":
            vals = [None if pd.isna(v) else yes if v else no for v in s.tolist()]
            kinds.append("text")
        elif f.type == "yuan":
            vals = [None if v != v else v for v in s.astype(float).tolist()]
            kinds.append("money")
        elif f.type == "int" or (f.type == "code6" and layout.code_as_number):
            vals = [int(v) for v in s.tolist()]
            kinds.append("int")
        else:
            vals = [None if (v is None or v != v) else str(v) for v in s.tolist()]
            kinds.append("text")
        columns.append(vals)
    return _Sheet(lg, headers, kinds, columns)


def _title_rows(layout: Layout, county: str, lg: Ledger, month: str | None) -> list[str]:
    if not layout.title_rows:
        return []
    if month:
        y, m = int(month[:4]), int(month[5:])
        rows = [t("demo.title", county=county, ledger=lg.title, year=y, month=m)]
        ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
        rows.append(t("demo.subtitle", county=county, date=f"{ny}年{nm}月5日"))
    else:
        rows = [t("demo.master_title", city=county, ledger=lg.title), t("demo.master_subtitle")]
    return rows[: layout.title_rows]


def _write_workbook(
    path: Path,
    sheets: list[_Sheet],
    layout: Layout,
    owner: str,
    month: str | None,
    notes: list[str],
    created: dt.datetime,
) -> Path:
    """Write one workbook with xlsxwriter (constant-memory mode for big sheets). A fixed
    creation time keeps the bytes reproducible, so regenerated samples do not churn."""
    big = max((sh.n_rows for sh in sheets), default=0) > 20_000
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": big,
            "in_memory": not big,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    wb.set_properties(
        {
            "title": f"{owner} {month or ''} {DEMO_MARK}".strip(),
            "subject": DEMO_MARK,
            "author": "workbench demo",
            "company": CITY_NAME,
            "keywords": DEMO_MARK,
            "comments": t("demo.note_1"),
            "created": created,
        }
    )
    wb.set_custom_property(DEMO_MARK, True)
    fmt = {
        "money": wb.add_format({"num_format": "#,##0.00"}),
        "date": wb.add_format({"num_format": "yyyy-mm-dd"}),
        "int": wb.add_format({"num_format": "0"}),
        "text": None,
    }
    head = wb.add_format(
        {
            "bold": True,
            "bg_color": "#DDEBF7",
            "border": 1,
            "text_wrap": True,
            "valign": "vcenter",
            "align": "center",
        }
    )
    title_fmt = wb.add_format({"bold": True, "font_size": 14, "align": "center"})
    for sh in sheets:
        ws = wb.add_worksheet(sh.ledger.title)
        ncols = len(sh.headers)
        for j, kind in enumerate(sh.kinds):
            ws.set_column(j, j, 20 if kind == "text" else 14)
        titles = _title_rows(layout, owner, sh.ledger, month)
        for k, text in enumerate(titles):
            if k == 0 and ncols > 1:
                ws.merge_range(0, 0, 0, ncols - 1, text, title_fmt)
            else:
                ws.write_string(k, 0, text)
        hr = len(titles)
        for j, h in enumerate(sh.headers):
            ws.write_string(hr, j, h, head)
        fmts = [fmt[k] for k in sh.kinds]
        cols = sh.columns
        write_string, write_number = ws.write_string, ws.write_number
        for i in range(sh.n_rows):
            r = hr + 1 + i
            for j in range(ncols):
                v = cols[j][i]
                if v is None:
                    continue
                if type(v) is str:
                    write_string(r, j, v)
                else:
                    write_number(r, j, v, fmts[j])
        ws.freeze_panes(hr + 1, 0)
    ws = wb.add_worksheet(t("demo.note_sheet"))
    ws.set_column(0, 0, 100)
    for i, line in enumerate(notes):
        ws.write_string(i, 0, line)
    wb.close()
    return path


def _month_keys(df: pd.DataFrame, lg: Ledger) -> pd.Series:
    if lg.date_field == "month":
        return df["month"]
    d = df[lg.date_field]
    return (d.dt.year * 100 + d.dt.month).map(lambda v: f"{v // 100:04d}-{v % 100:02d}")


def _month_index(
    df: pd.DataFrame, lg: Ledger, codes: list[str], months: list[str]
) -> dict[tuple[str, str], np.ndarray]:
    """(county code, month) → row positions of that county's submission for that month."""
    rows = np.flatnonzero(df["county_code"].isin(codes).to_numpy())
    if lg.date_field != "month":
        d = df[lg.date_field].iloc[rows]
        lo = pd.Timestamp(min(months) + "-01")
        hi = pd.Timestamp(max(months) + "-01") + pd.offsets.MonthBegin(1)
        rows = rows[((d >= lo) & (d < hi)).to_numpy()]
    sub = df.iloc[rows].reset_index(drop=True)
    keys = _month_keys(sub, lg)
    out: dict[tuple[str, str], np.ndarray] = {}
    for key, pos in sub.groupby([sub["county_code"], keys], sort=False).indices.items():
        out[(str(key[0]), str(key[1]))] = rows[pos]
    return out


def file_name(code: str, name: str, month: str, corrected: bool = False) -> str:
    """`990101_东湖区_2025-09.xlsx` (`…_更正.xlsx` for a corrected resubmission)."""
    return f"{code}_{name}_{month}{'_更正' if corrected else ''}.xlsx"


def master_file_name(city: DemoCity) -> str:
    return f"{city.city_code}_{city.city_name}_名录_{city.months[-1][:4]}.xlsx"


def _notes(city: DemoCity, code: str, name: str, month: str, extra: str | None) -> list[str]:
    lines = [
        t("demo.note_1"),
        t(
            "demo.note_2",
            city=city.city_name,
            city_code=city.city_code,
            county=name,
            county_code=code,
            month=month,
        ),
        t("demo.note_3"),
    ]
    return lines + ([extra] if extra else [])


def _unknown_code(code: str, known: set[str]) -> str:
    """A plausible typo of `code` (digits swapped) that is not a county of the city."""
    candidates = [
        code[:4] + code[5] + code[4],
        code[:3] + code[4] + code[3] + code[5:],
        code[:4] + "9" + code[5],
        "990999",
    ]
    return next((c for c in candidates if c not in known and c != code), "999999")


def _inject_mistakes(
    city: DemoCity,
    code: str,
    month: str,
    sheets: dict[str, _Sheet],
    frames: dict[str, pd.DataFrame],
    layout: Layout,
    fname: str,
) -> list[Mistake]:
    """Put one mistake of each class into the faulty county's latest submission (in place)."""
    out: list[Mistake] = []
    first_row = layout.title_rows + 2  # Excel row of the first data row

    def put(
        ledger: str,
        i: int,
        field_name: str,
        value: object,
        code_: str,
        shown: str | None = None,
        **note: object,
    ) -> None:
        sh = sheets[ledger]
        sh.col(field_name)[i] = value
        if shown is not None:
            text = shown
        elif isinstance(value, float):
            text = f"{value:.0f}" if value.is_integer() else str(value)
        else:
            text = "" if value is None else str(value)
        out.append(
            Mistake(
                fname,
                LEDGERS[ledger].title,
                first_row + i,
                sh.header(field_name),
                field_name,
                text,
                code_,
                t(f"demo.mistake.{code_}", **note),
            )
        )

    cases = frames["cases"].reset_index(drop=True)
    style = MONTHLY_LEDGERS.index("cases") % 2
    referenced = set(frames["leads"]["case_id"].dropna())
    used: set[int] = {i for i, cid in enumerate(cases["case_id"]) if cid in referenced}

    def first(mask: pd.Series) -> int:
        idx = [i for i in np.flatnonzero(np.asarray(mask)) if i not in used]
        if not idx:
            raise RuntimeError(f"demo: no row to carry a mistake in {fname}")
        used.add(int(idx[0]))
        return int(idx[0])

    gap = (cases["filed_date"] - cases["found_date"]).dt.days
    i = first((cases["status"] == "已结案") & (gap >= 2))
    wrong = cases.at[i, "filed_date"] - pd.Timedelta(days=1)
    put(
        "cases",
        i,
        "closed_date",
        _date_cell(wrong, layout, style),
        "E_CLOSED_BEFORE_FILED",
        shown=str(wrong.date()),
    )
    i = first(cases["amount_due"].fillna(0) > 0)
    put(
        "cases",
        i,
        "amount_recovered",
        round(float(cases.at[i, "amount_due"]) * 1.25, 2),
        "E_RECOVERED_GT_DUE",
    )
    i = first(cases["person_id"].notna())
    good = str(cases.at[i, "person_id"])
    bad = good[:17] + "0123456789X"[("0123456789X".index(good[17]) + 1) % 11]
    put("cases", i, "person_id", bad, "E_ID_CHECKSUM")
    i = first(cases["amount_involved"].notna())
    put("cases", i, "amount_involved", "约5万", "E_NOT_NUMBER")
    # the loop's contradictions (issue 13): a case closed with a talk marked as referred to the
    # police, and (below) a rectification naming an inspection that was never recorded
    i = first(cases["status"].notna())
    sheets["cases"].col("outcome")[i] = "约谈"
    yes = "Y" if layout.bool_style == "YN" else "是"
    put("cases", i, "referred_police", yes, "E_REFERRED_BUT_NO_ACTION")
    dup = len(cases) - 1
    sh = sheets["cases"]
    for col in sh.columns:
        col.append(col[dup])
    out.append(
        Mistake(
            fname,
            LEDGERS["cases"].title,
            first_row + sh.n_rows - 1,
            sh.header("case_id"),
            "case_id",
            str(cases.at[dup, "case_id"]),
            "E_DUPLICATE_KEY",
            t("demo.mistake.E_DUPLICATE_KEY", row=first_row + dup),
        )
    )

    leads = frames["leads"].reset_index(drop=True)
    linked = np.flatnonzero(leads["case_id"].notna().to_numpy())
    i = int(linked[0]) if linked.size else 0
    n_cases = int((city.frames["cases"]["county_code"] == code).sum())
    bogus = f"AJ{code}{month.replace('-', '')}{n_cases + 1:04d}"
    put("leads", i, "case_id", bogus, "E_UNKNOWN_CASE")
    put("inspections", 0, "method", "突击检查", "E_ENUM")
    put("rectifications", 0, "status", None, "E_REQUIRED")
    n_ins = int((city.frames["inspections"]["county_code"] == code).sum())
    bogus = f"JC{code}{month.replace('-', '')}{n_ins + 1:04d}"
    put("rectifications", 1, "inspection_id", bogus, "E_UNKNOWN_INSPECTION")
    put("complaints", 0, "reward_paid", -200.0, "E_NEGATIVE_MONEY")
    comp = frames["complaints"].reset_index(drop=True)
    received = pd.Timestamp(comp.at[2, "received_date"])
    wrong = received - pd.Timedelta(days=3)  # the reward dated before the complaint came in
    style = MONTHLY_LEDGERS.index("complaints") % 2
    sh = sheets["complaints"]  # the column may be blank this month: written as dates all the same
    sh.kinds[sh.ledger.field_names.index("reward_paid_date")] = (
        "text" if layout.text_dates else "date"
    )
    put(
        "complaints",
        2,
        "reward_paid_date",
        _date_cell(wrong, layout, style),
        "E_REWARD_BEFORE_RECEIVED",
        shown=str(wrong.date()),
    )
    put(
        "complaints",
        1,
        "county_code",
        _unknown_code(code, {c for c, _ in city.counties}),
        "E_UNKNOWN_COUNTY",
    )
    return out


def _write(
    city: DemoCity,
    out_dir: str | Path,
    counties: Iterable[str] | None = None,
    months: Iterable[str] | None = None,
) -> tuple[list[Path], list[Mistake]]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = city.county_names
    codes = [str(c) for c in counties] if counties is not None else list(names)
    unknown = [c for c in codes if c not in names]
    if unknown:
        raise ValueError(t("demo.bad_county", codes="、".join(unknown)))
    sel_months = [m for m in (months or city.months) if m in city.months]
    paths: list[Path] = []
    mistakes: list[Mistake] = []

    plain = Layout()
    created = (city.as_of + pd.Timedelta(days=5)).to_pydatetime()
    master = [_prepare_sheet(LEDGERS[name], city.frames[name], plain, 0) for name in MASTER_LEDGERS]
    paths.append(
        _write_workbook(
            out / master_file_name(city),
            master,
            plain,
            city.city_name,
            None,
            _notes(city, city.city_code, city.city_name, f"{city.start}～{city.end}", None),
            created,
        )
    )

    index = {
        name: _month_index(city.frames[name], LEDGERS[name], codes, sel_months)
        for name in MONTHLY_LEDGERS
    }
    empty = np.zeros(0, dtype=np.int64)
    for code in codes:
        layout, name = city.layouts[code], names[code]
        for month in sel_months:
            frames = {
                lg: city.frames[lg].iloc[index[lg].get((code, month), empty)]
                for lg in MONTHLY_LEDGERS
            }

            def sheets(frames: dict = frames, layout: object = layout) -> dict[str, _Sheet]:
                return {
                    lg: _prepare_sheet(LEDGERS[lg], frames[lg], layout, k % 2)
                    for k, lg in enumerate(MONTHLY_LEDGERS)
                }

            fname = file_name(code, name, month)
            faulty = code in city.faulty and month == city.months[-1]
            clean = sheets()
            if faulty:
                fixed = file_name(code, name, month, corrected=True)
                paths.append(
                    _write_workbook(
                        out / "corrections" / fixed,
                        list(clean.values()),
                        layout,
                        name,
                        month,
                        _notes(city, code, name, month, t("demo.note_corrected")),
                        created,
                    )
                )
                bad = sheets()
                mistakes += _inject_mistakes(city, code, month, bad, frames, layout, fname)
                paths.insert(
                    -1,
                    _write_workbook(
                        out / fname,
                        list(bad.values()),
                        layout,
                        name,
                        month,
                        _notes(city, code, name, month, t("demo.note_faulty")),
                        created,
                    ),
                )
            else:
                paths.append(
                    _write_workbook(
                        out / fname,
                        list(clean.values()),
                        layout,
                        name,
                        month,
                        _notes(city, code, name, month, None),
                        created,
                    )
                )
    paths.append(_write_manifest(city, out, paths, mistakes, codes, sel_months))
    return paths, mistakes


def write_city(
    city: DemoCity,
    out_dir: str | Path,
    *,
    counties: Iterable[str] | None = None,
    months: Iterable[str] | None = None,
) -> list[Path]:
    """Write the city master workbook, one workbook per county per month, the corrected
    resubmission of the faulty file (under `corrections/`) and `manifest.json`.

    `counties` / `months` restrict the monthly workbooks (the master always covers the city)."""
    return _write(city, out_dir, counties, months)[0]


EXTRACT_HISTORY = 3  # months before the last with death and custody matches to check


def write_settlement_extract(
    city: DemoCity, out_dir: str | Path, scale: object | None = None
) -> list[Path]:
    """The demo city's settlement extract for screening (结算数据: settlements, fee lines, the
    death and custody lists, …) with a case for every shipped rule and near-misses at every
    threshold; the 12 months ending at the city's last month, and death and custody matches
    in the `EXTRACT_HISTORY` months before it (screened and checked by `workbench demo-all`).
    See `workbench/screening/demo_extract.py`."""
    from workbench.screening import demo_extract

    months = [str(p) for p in pd.period_range(end=city.end, periods=12, freq="M")]
    extract = demo_extract.generate_extract(
        city.frames["institutions"],
        months,
        scale or demo_extract.DEMO_SCALE,  # type: ignore[arg-type]
        seed=city.seed,
        history=EXTRACT_HISTORY,
    )
    return demo_extract.write_extract(extract, out_dir)


def _write_manifest(
    city: DemoCity,
    out: Path,
    paths: list[Path],
    mistakes: list[Mistake],
    codes: list[str],
    months: list[str],
) -> Path:
    lagging, faulty = set(city.lagging), set(city.faulty)
    data = {
        "note": t("demo.note_1"),
        "city_code": city.city_code,
        "city_name": city.city_name,
        "seed": city.seed,
        "period": [city.start, city.end],
        "as_of": str(city.as_of.date()),
        "months_written": months,
        "counties": [
            {
                "county_code": c,
                "county_name": n,
                "lagging": c in lagging,
                "faulty": c in faulty,
                "written": c in codes,
                "layout": asdict(city.layouts[c]),
                "layout_text": city.layouts[c].describe(),
            }
            for c, n in city.counties
        ],
        "files": [p.relative_to(out).as_posix() for p in paths],
        "mistakes": [asdict(m) for m in mistakes],
        "rows": city.rows(),
    }
    path = out / "manifest.json"
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def read_manifest(out_dir: str | Path) -> dict:
    """The manifest `write_city` left in `out_dir` (files, layouts, injected mistakes)."""
    return json.loads((Path(out_dir) / "manifest.json").read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------
# When the demo's counties sent their files (the receipt dates `workbench demo-all` declares)

LATE_SHARE = {True: 0.6, False: 0.05}  # a lagging county is late in most months, others rarely
MAX_DAYS_LATE = 8
CORRECTION_DAYS = (1, 4)  # a corrected file comes back this many days after the first
DEFAULT_DUE_DAY = 5  # when no calendar declares one (the dates are then only plausible)


def _share(seed: int, *key: str) -> float:
    """A number in [0, 1) fixed by the seed and the key (stable across runs and machines)."""
    h = hashlib.sha256("|".join([str(seed), *key]).encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def receipt_time(
    seed: int, county_code: str, month: str, due_day: int, lagging: bool = False
) -> dt.datetime:
    """When a county's file for `month` reached the bureau: on a working hour of days 1…due day
    of the next month (on time), or, for a share of the months (most for a lagging county),
    1…`MAX_DAYS_LATE` days after the due day."""
    first_next = (pd.Period(month, freq="M") + 1).start_time.to_pydatetime()
    hour = dt.timedelta(hours=8 + int(_share(seed, county_code, month, "hour") * 10))
    if _share(seed, county_code, month, "late") < LATE_SHARE[bool(lagging)]:
        day = due_day + 1 + int(_share(seed, county_code, month, "days") * MAX_DAYS_LATE)
    else:
        day = 1 + int(_share(seed, county_code, month, "days") * due_day)
    return first_next + dt.timedelta(days=day - 1) + hour


def receipt_dates(
    manifest: dict, due_day: int | None, now: dt.datetime | None = None
) -> dict[str, dt.datetime]:
    """Each monthly workbook's receipt date by file name (corrections a few days after the
    file they correct), from the manifest `write_city` left; never later than `now`. The
    master workbook is left out: it is the city's own, not a county's report."""
    now = now or dt.datetime.now()
    due = due_day or DEFAULT_DUE_DAY
    seed = int(manifest["seed"])
    lagging = {c["county_code"]: bool(c["lagging"]) for c in manifest["counties"]}
    out: dict[str, dt.datetime] = {}
    for rel in manifest["files"]:
        name = Path(rel).name
        parts = Path(name).stem.split("_")
        if len(parts) < 3 or parts[0] not in lagging or len(parts[2]) != 7:
            continue
        code, month = parts[0], parts[2]
        at = receipt_time(seed, code, month, due, lagging[code])
        if len(parts) > 3:  # `…_更正`: the corrected resubmission
            lo, hi = CORRECTION_DAYS
            at += dt.timedelta(days=lo + int(_share(seed, code, month, "fix") * (hi - lo + 1)))
        out[name] = min(at, now.replace(microsecond=0))
    return out


# ---------------------------------------------------------------------------------------------
# Big CSV for the ingest benchmark


def cases_csv_frame(
    frame: pd.DataFrame, bool_words: tuple[str, str] = ("是", "否")
) -> pd.DataFrame:
    """A cases frame as a county would export it: Chinese headers, 是/否, plain dates."""
    lg = LEDGERS["cases"]
    frame = _with_blanks(frame.copy(), lg)
    out = {}
    for f in lg.fields:
        s = frame[f.name]
        if f.type == "bool":
            flag = s.astype("boolean")
            s = pd.Series(np.where(flag.fillna(False), *bool_words), index=frame.index)
            s[flag.isna()] = ""
        elif f.type == "date":
            s = s.dt.strftime("%Y-%m-%d")
        out[f.header] = s
    return pd.DataFrame(out)


def write_cases_csv(
    path: str | Path,
    n_rows: int,
    encoding: str = "utf-8",
    seed: int = 20251,
    start: str = "2024-01",
    end: str = "2025-12",
) -> Path:
    """A big cases CSV (Chinese headers) of exactly `n_rows` clean demo cases."""
    n_counties = int(np.clip(n_rows // 4000, 10, 3000))
    w = _world(n_counties, start, end, seed, lagging=min(2, n_counties - 1), faulty=0)
    _build_institutions(w)
    lam = _case_rates(w)
    counts = w.rng.multinomial(n_rows, (lam / lam.sum()).ravel()).reshape(lam.shape)
    ci, mi = _expand(counts)
    cases = _build_cases(w, ci, mi)
    _case_loop_fields(w, np.random.default_rng([seed, _LOOP_STREAM]), cases)
    frame = cases_csv_frame(cases)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, encoding=encoding, lineterminator="\n")
    return path


# ---------------------------------------------------------------------------------------------
# GeoJSON boundaries (hexagons around a fictional centre at sea, so nothing real is covered)

GEO_CENTRE = (124.2, 29.6)  # open sea east of Zhejiang: can never overlap a real county
_HEX_DIRECTIONS = ((1, 0), (1, -1), (0, -1), (-1, 0), (-1, 1), (0, 1))
_HEX_CORNERS = ((1, 1), (0, 2), (-1, 1), (-1, -1), (0, -2), (1, -1))  # counter-clockwise


def _hex_spiral(n: int) -> list[tuple[int, int]]:
    """Axial coordinates of the first `n` cells of a hexagonal spiral around (0, 0)."""
    cells = [(0, 0)]
    ring = 1
    while len(cells) < n:
        q, r = -ring, ring  # start at direction 4 × ring
        for dq, dr in _HEX_DIRECTIONS:
            for _ in range(ring):
                cells.append((q, r))
                q, r = q + dq, r + dr
        ring += 1
    return cells[:n]


def demo_geojson(
    city: DemoCity | None = None,
    counties: list[tuple[str, str]] | None = None,
    size: float | None = None,
) -> dict:
    """Non-overlapping hexagonal county boundaries (FeatureCollection; feature id = code)."""
    rows = counties if counties is not None else (city.counties if city else [])
    n = len(rows)
    size = size or 0.12 * min(1.0, math.sqrt(61 / max(n, 1)))
    lon0, lat0 = GEO_CENTRE
    kx = size * math.sqrt(3) / 2 / math.cos(math.radians(lat0))
    ky = size / 2

    def point(x: int, y: int) -> list[float]:
        return [round(lon0 + kx * x, 6), round(lat0 + ky * y, 6)]

    features = []
    for (code, name), (q, r) in zip(rows, _hex_spiral(n)):
        cx, cy = 2 * q + r, 3 * r  # centre on the half-lattice, so shared corners are identical
        ring = [point(cx + dx, cy + dy) for dx, dy in _HEX_CORNERS]
        ring.append(ring[0])
        features.append(
            {
                "type": "Feature",
                "id": code,
                "properties": {
                    "county_code": code,
                    "county_name": name,
                    "city": city.city_name if city else CITY_NAME,
                    "note": DEMO_MARK,
                },
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    return {
        "type": "FeatureCollection",
        "name": f"{CITY_NAME}（{DEMO_MARK}）",
        "features": features,
    }


def write_geojson(city: DemoCity, path: str | Path = ASSET_GEOJSON) -> Path:
    """Write `demo_geojson(city)`; the packaged asset is the 10-county default city."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(demo_geojson(city), ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
    )
    return path


# ---------------------------------------------------------------------------------------------
# The committed sample (data_samples/)


def sample_counties(city: DemoCity, n: int = 3) -> list[str]:
    """The faulty county, a lagging one and the one with text dates: the sample's showcase."""
    text = [c for c, lay in city.layouts.items() if lay.text_dates]
    picks: list[str] = []
    for code in [*city.faulty[:1], *city.lagging[:1], *text[:1], *(c for c, _ in city.counties)]:
        if code not in picks:
            picks.append(code)
    return picks[:n]


def write_samples(out_dir: str | Path = SAMPLES_DIR, seed: int = 20251) -> list[Path]:
    """Regenerate data_samples/: 3 counties × the last 3 months of the default demo city, the
    faulty file and its correction, the master workbook, a GB18030 CSV, manifest and README."""
    out = Path(out_dir)
    city = generate_city(seed=seed)
    picks = sample_counties(city)
    months = city.months[-3:]
    for old in [*out.glob("*.xlsx"), *out.glob("*.csv"), *out.glob("corrections/*.xlsx")]:
        old.unlink()
    paths, mistakes = _write(city, out, picks, months)
    extra = next(c for c, _ in city.counties if c not in picks and c not in city.lagging)
    csv_path = out / f"{extra}_{city.county_names[extra]}_{months[-1]}_案件台账.csv"
    cases = city.frames["cases"]
    sel = (cases["county_code"] == extra) & (cases["found_date"].dt.strftime("%Y-%m") == months[-1])
    cases_csv_frame(cases[sel]).to_csv(
        csv_path, index=False, encoding="gb18030", float_format="%.2f", lineterminator="\r\n"
    )
    paths.insert(-1, csv_path)
    _write_manifest(city, out, paths, mistakes, picks, months)
    readme = out / "README.md"
    readme.write_text(
        _samples_readme(city, picks, months, paths, mistakes, csv_path, out), encoding="utf-8"
    )
    return [*paths, readme]


def _samples_readme(
    city: DemoCity,
    picks: list[str],
    months: list[str],
    paths: list[Path],
    mistakes: list[Mistake],
    csv_path: Path,
    out: Path,
) -> str:
    names = city.county_names
    rel = [p.relative_to(out).as_posix() for p in paths]
    lines = [
        "# data_samples — 演示数据 / synthetic demo data",
        "",
        "**本目录全部为虚构的演示数据，不是真实数据。** "
        "演示市（区划代码 990000）及其区县均为虚构；区划代码以 99 开头（不存在 99 省），"
        "身份证号（校验位正确、地区码 99xxxx）、姓名、机构名称均为随机生成。",
        "",
        "**Everything here is synthetic demo data (演示数据).** The city 演示市 (code 990000) "
        "and its counties are fictional; division codes start with 99, which is no real "
        "province; ID numbers (valid GB 11643 checksums, region 99xxxx), names and institutions "
        "are random.",
        "",
        '重新生成 / regenerate: `python -c "from workbench.demo import write_samples; '
        'write_samples()"` 或 `workbench demo --samples --out data_samples`'
        f"（种子 seed {city.seed}；完整演示城市：`workbench demo`）。",
        "",
        "## 文件 / Files",
        "",
        "| 文件 file | 内容 content |",
        "|---|---|",
    ]
    for r in rel:
        if r.startswith("corrections/"):
            desc = (
                "更正报送：替换同区县同月份的原文件，错误已全部改正 / corrected resubmission: "
                "replaces the file of the same county and month"
            )
        elif r == master_file_name(city):
            desc = (
                f"地市名录：区县名录（{len(city.counties)} 个区县 × "
                f"{city.frames['counties']['year'].nunique()} 个年度）、定点医药机构名录 / "
                "city master: counties per year, designated institutions"
            )
        elif r == "manifest.json":
            desc = (
                "机器可读清单：区县、版式、滞后/错误设定、注入错误（行列与错误码） / "
                "machine-readable manifest incl. injected mistakes"
            )
        elif r.endswith(".csv"):
            desc = (
                "案件台账 CSV，GB18030 编码、CRLF 换行（另一区县另一渠道的报送） / cases "
                "ledger as a GB18030 CSV export"
            )
        else:
            code, name, month = r[:-5].split("_")[:3]
            tags = []
            if code in city.faulty and month == city.months[-1]:
                tags.append(f"含 {len(mistakes)} 类填报错误 / contains injected mistakes")
            if code in city.lagging:
                tags.append("进度滞后区县 / lagging county")
            titles = "、".join(LEDGERS[lg].title for lg in MONTHLY_LEDGERS)
            desc = f"{name} {month} 月报：{titles} {len(MONTHLY_LEDGERS)} 张表 + 说明" + (
                f"（{'；'.join(tags)}）" if tags else ""
            )
        lines.append(f"| `{r}` | {desc} |")
    lines += [
        "",
        "## 区县版式 / County layouts",
        "",
        "| 区划代码 | 区县 | 版式 layout | 设定 role |",
        "|---|---|---|---|",
    ]
    for code in picks + [c for c in [csv_path.name.split("_")[0]] if c not in picks]:
        role = (
            "；".join(
                x
                for x in (
                    "滞后 lagging" if code in city.lagging else "",
                    "含错误 faulty" if code in city.faulty else "",
                )
                if x
            )
            or "—"
        )
        lines.append(f"| {code} | {names[code]} | {city.layouts[code].describe()} | {role} |")
    lines += [
        "",
        "## 注入的错误 / Injected mistakes",
        "",
        "每类一处；行号为 Excel 中看到的行号（表头在标题行之下）。"
        "入库时每一处都应被隔离并给出下列错误码。 One of each class; rows are as seen in Excel. "
        "Ingest must quarantine each with the code.",
        "",
        "| 文件 file | 工作表 sheet | 行 row | 列 column | 值 value | 错误码 code | 说明 |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in mistakes:
        lines.append(
            f"| `{m.file}` | {m.sheet} | {m.row} | {m.column} | {m.value or '（空）'} | "
            f"`{m.code}` | {m.note} |"
        )
    lines += [
        "",
        "## 数据特征 / What the data shows",
        "",
        "- 2025 年专项整治各阶段可见：3 月动员部署（培训多）；"
        "4–5 月自查自纠（自查自纠线索、整改问题激增）；6–8 月交叉检查（交叉检查覆盖≥30% 机构）；"
        "9–10 月重点抽查（飞行检查）；11–12 月总结提升（回头看）。",
        "- 基金追回率 2025 年逐月上升，多数区县年底达 90% 以上；2025 年案件数同比下降约三成；"
        "整改问题 2025-11-30 前基本销号；数据共享部门 2025 年 6 月达 12 个。",
        f"- 进度滞后区县：{'、'.join(f'{c} {names[c]}' for c in city.lagging)}"
        "（追回率低、整改逾期、检查覆盖率低、线索核查慢）。",
        "- 台账相互关联：线索、投诉举报写明转成的案件，线索写明来源举报或检查，案件写明来源检查，"
        "整改问题写明来源检查或案件；涉嫌犯罪的案件写明移送公安日期与公安反馈；"
        "市局 2025 年 8 月约谈进度滞后区县，10 月复查，部分整改的 11 月再次约谈、复查待办。",
        "- The 2025 campaign phases, rising recovery rates, a ~30% drop in cases and two "
        "lagging counties are built in, so indicators and dashboards have something to show.",
        "",
    ]
    return "\n".join(lines)
