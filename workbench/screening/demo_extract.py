"""The demo city's settlement extract (演示数据): background settlements plus injected cases.

The background is drawn so that no shipped rule can fire on it by chance (outpatient persons
visit at most 8 times a month and never stay in hospital; inpatients have one stay a year;
inpatient costs vary ±5 % around their group's level; drug and service codes are drawn with the
concentration real dispensing has (the k-th most used ∝ 1/k^1.1), and background drugs are too
cheap to reach ZNJK-03's amount floor; stock always covers use; the death and custody lists
hold nobody with a settlement). Then every rule gets cases that must be found and near-misses
at each threshold that must not — exactly 14 visits, a stay admitted on the day of death, a
visit at a prison medical unit, a readmission on day 16, a 49 % growth, a reversed settlement,
… — listed in `Extract.expected` / `Extract.near_misses`, which the tests check on both engines.

The same generator, at a larger `Scale`, writes the benchmark's city-year (≥ 10 M settlements,
40 M fee lines) month by month without holding it in memory.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from workbench.screening.tables import TABLES

# ---------------------------------------------------------------- vocabulary of the demo

OUTPATIENT_DX = ("J06.9", "I10", "E11.9", "K29.7", "M54.5", "J20.9", "N39.0", "L30.9", "R51")
INPATIENT_DX = ("I63.9", "J18.9", "K80.1", "S72.0", "I21.4", "C34.9", "O80.0", "N20.0", "E11.6")
LEVEL_FACTOR = {"三级": 1.4, "二级": 1.0, "一级": 0.8, "未定级": 0.9}
N_GROUPS = 60
N_DRUGS = 500
N_SERVICES = 300
N_CONSUMABLES = 100
ZIPF_S = 1.1  # drug and service use is concentrated: the k-th most used code ∝ 1 / k^1.1


def _zipf_cdf(n: int) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** ZIPF_S
    return np.cumsum(w) / w.sum()


_DRUG_CDF = _zipf_cdf(N_DRUGS)
_SERVICE_CDF = _zipf_cdf(N_SERVICES)


def _codes(rng: np.random.Generator, cdf: np.ndarray, m: int) -> np.ndarray:
    return np.minimum(np.searchsorted(cdf, rng.random(m)), cdf.size - 1)


_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ID_CHECK = np.array(list("10X98765432"))
TS = pa.timestamp("s")


@dataclass(frozen=True)
class Scale:
    """How big the background is. The injected cases do not depend on it."""

    persons_per_county: int = 1200
    visit_rate: float = 0.6  # mean outpatient visits per outpatient person per month
    inpatient_share: float = 0.06  # share of persons whose one stay a year is the background
    fee_lines: float = 3.0  # mean fee lines per outpatient settlement
    employee_share: float = 0.4  # 职工 (their personal accounts are credited monthly)


DEMO_SCALE = Scale()
TEST_SCALE = Scale(persons_per_county=150, visit_rate=0.5, fee_lines=2.0)


@dataclass(frozen=True)
class Expected:
    """One lead the rules must find: (rule, subject, county, month) and its settlements."""

    rule: str
    subject_key: str
    county: str
    month: str
    setl_ids: tuple[str, ...]
    note: str


@dataclass(frozen=True)
class NearMiss:
    rule: str
    subject_key: str
    month: str
    note: str


@dataclass
class Extract:
    period: str  # the month the injected cases are in
    months: list[str]
    static: dict[str, pa.Table]  # insured, acct_credits, death_list, custody_list, drug_inventory
    injected: dict[str, pa.Table]  # settlements and fee_details of the injected cases
    expected: list[Expected]
    near_misses: list[NearMiss]
    prison_units: list[str]
    roster: pd.DataFrame
    scale: Scale
    seed: int
    # death and custody matches in the months before `period` (`build_history`), each found
    # only in its own month: what a city's earlier monthly screenings found
    history: list[Expected] = field(default_factory=list)
    _months: dict[str, tuple[pa.Table, pa.Table]] = field(default_factory=dict, repr=False)

    def monthly(self) -> Iterator[tuple[str, pa.Table, pa.Table]]:
        """(month, settlements, fee_details) of each month, background and injected."""
        gen = Background(self.roster, self.months, self.scale, self.seed)
        inj_s = self.injected["settlements"]
        inj_f = self.injected["fee_details"]
        months_of = pc.strftime(inj_s["setl_time"], format="%Y-%m")
        for month, s, f in gen.months():
            mask = pc.equal(months_of, month)
            extra = inj_s.filter(mask)
            ids = extra["setl_id"]
            fees = inj_f.filter(pc.is_in(inj_f["setl_id"], value_set=ids))
            yield month, pa.concat_tables([s, extra]), pa.concat_tables([f, fees])


# ---------------------------------------------------------------- helpers


def _months_between(start: str, end: str) -> list[str]:
    return [str(p) for p in pd.period_range(start, end, freq="M")]


def id_numbers(county: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Valid, unique 18-character ID numbers: county code, a birth date derived from the index
    (1940 onwards), a 3-digit sequence, the GB 11643 check character."""
    birth = np.datetime64("1940-01-01") + (index // 1000 % 23000).astype("timedelta64[D]")
    ymd = np.datetime_as_string(birth, unit="D")
    ymd = np.strings.replace(ymd, "-", "")
    seq = np.char.zfill((index % 1000).astype(str), 3)
    first17 = np.strings.add(np.strings.add(county.astype(str), ymd), seq)
    digits = np.frombuffer(first17.astype("S17").tobytes(), dtype=np.uint8).reshape(-1, 17) - 48
    check = _ID_CHECK[(digits.astype(np.int64) * _ID_WEIGHTS).sum(axis=1) % 11]
    return np.strings.add(first17, check)


def _str(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    s = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(pa.scalar(prefix), s, "")


def _money(x: np.ndarray) -> np.ndarray:
    return np.round(x, 2)


SETTLEMENT_SCHEMA = pa.schema(
    [
        ("setl_id", pa.string()),
        ("mdtrt_id", pa.string()),
        ("psn_no", pa.string()),
        ("certno", pa.string()),
        ("insutype", pa.string()),
        ("insu_admdvs", pa.string()),
        ("mdtrt_admdvs", pa.string()),
        ("fixmedins_code", pa.string()),
        ("med_type", pa.string()),
        ("begntime", TS),
        ("endtime", TS),
        ("setl_time", TS),
        ("dise_codg", pa.string()),
        ("dise_name", pa.string()),
        ("drg_dip_code", pa.string()),
        ("mdtrt_cert_type", pa.string()),
        ("medfee_sumamt", pa.float64()),
        ("fund_pay_sumamt", pa.float64()),
        ("acct_pay", pa.float64()),
        ("psn_cash_pay", pa.float64()),
        ("refd_setl_flag", pa.int8()),
    ]
)
FEE_SCHEMA = pa.schema(
    [
        ("feedetl_sn", pa.string()),
        ("setl_id", pa.string()),
        ("fee_ocur_time", TS),
        ("med_list_codg", pa.string()),
        ("list_type", pa.string()),
        ("cnt", pa.float64()),
        ("pric", pa.float64()),
        ("det_item_fee_sumamt", pa.float64()),
    ]
)


# ---------------------------------------------------------------- the background


class Background:
    """Background persons and their settlements, month by month (deterministic per seed)."""

    def __init__(self, roster: pd.DataFrame, months: Sequence[str], scale: Scale, seed: int):
        self.months_list = list(months)
        self.scale = scale
        self.seed = seed
        rng = np.random.default_rng(seed)
        roster = roster.sort_values(["county_code", "institution_id"]).reset_index(drop=True)
        self.counties = np.array(sorted(roster["county_code"].unique()))
        c_of = {c: i for i, c in enumerate(self.counties)}
        inst_county = roster["county_code"].map(c_of).to_numpy()
        self.inst_ids = roster["institution_id"].to_numpy().astype(str)
        self.inst_county = inst_county
        kind = roster["institution_type"].fillna("").to_numpy()
        self.inst_pharmacy = kind == "定点零售药店"
        lv = roster.get("hosp_lv", pd.Series([None] * len(roster))).fillna("未定级").to_numpy()
        self.inst_level = np.array([LEVEL_FACTOR.get(x, 0.9) for x in lv])
        # outpatient institutions per county (all), inpatient ones (hospitals)
        self.out_start, self.out_count = self._spans(np.ones(len(roster), bool))
        hosp = np.isin(kind, ["公立医疗机构", "民营医疗机构"])
        self.inp_order = np.flatnonzero(hosp)
        self.inp_start, self.inp_count = self._spans(hosp)
        n_c = len(self.counties)
        per = scale.persons_per_county
        self.person_county = np.repeat(np.arange(n_c), per)
        n = self.person_county.size
        self.person_index = np.arange(n)
        county_codes = self.counties[self.person_county]
        self.certno = id_numbers(county_codes, self.person_index)
        self.psn_no = np.strings.add(
            np.strings.add("P", county_codes.astype(str)),
            np.char.zfill(self.person_index.astype(str), 7),
        )
        self.inpatient = rng.random(n) < scale.inpatient_share
        self.employee = rng.random(n) < scale.employee_share
        self.stay_month = rng.integers(0, len(self.months_list), n)
        self.credit = _money(rng.uniform(60, 300, n))
        self._certno_arr = pa.array(self.certno)
        self._psn_arr = pa.array(self.psn_no)
        self._seq = 0
        self._fee_seq = 0

    def _spans(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per county: start position and count in the order of `np.flatnonzero(mask)`."""
        idx = np.flatnonzero(mask)
        counts = np.bincount(self.inst_county[idx], minlength=len(self.counties))
        return np.r_[0, np.cumsum(counts)[:-1]], counts

    # persons --------------------------------------------------------------------------------
    def insured(self) -> pa.Table:
        n = self.person_index.size
        return pa.table(
            {
                "psn_no": self._psn_arr,
                "certno": self._certno_arr,
                "insu_admdvs": pa.array(self.counties[self.person_county].astype(str)),
                "psn_insu_stas": pa.array(["正常参保"] * n),
                "stas_chg_date": pa.array([None] * n, pa.date32()),
            }
        )

    def credits(self) -> pa.Table:
        who = np.flatnonzero(self.employee)
        m = len(self.months_list)
        person = np.repeat(who, m)
        month = np.tile(np.array(self.months_list), who.size)
        return pa.table(
            {
                "psn_no": self._psn_arr.take(pa.array(person)),
                "crdt_month": pa.array(month),
                "crdt_amt": pa.array(self.credit[person]),
            }
        )

    # settlements ----------------------------------------------------------------------------
    def months(self) -> Iterator[tuple[str, pa.Table, pa.Table]]:
        for mi, month in enumerate(self.months_list):
            rng = np.random.default_rng([self.seed, mi])
            out_s, out_f = self._outpatient(rng, month)
            inp_s, inp_f = self._inpatient(rng, mi, month)
            yield month, pa.concat_tables([out_s, inp_s]), pa.concat_tables([out_f, inp_f])

    def _month_start(self, month: str) -> np.datetime64:
        return np.datetime64(month + "-01", "s")

    def _days(self, month: str) -> int:
        return pd.Period(month, "M").days_in_month

    def _ids(self, month: str, n: int) -> tuple[pa.Array, pa.Array]:
        seq = np.arange(self._seq, self._seq + n)
        self._seq += n
        tag = month.replace("-", "")
        return _str(f"S{tag}", seq, 9), _str(f"M{tag}", seq, 9)

    def _outpatient(self, rng: np.random.Generator, month: str) -> tuple[pa.Table, pa.Table]:
        who = np.flatnonzero(~self.inpatient)
        visits = np.minimum(rng.poisson(self.scale.visit_rate, who.size), 8)
        person = np.repeat(who, visits)
        n = person.size
        county = self.person_county[person]
        pos = self.out_start[county] + (rng.random(n) * self.out_count[county]).astype(np.int64)
        inst = pos  # roster order is by county, so outpatient positions index the roster
        pharmacy = self.inst_pharmacy[inst]
        chronic = rng.random(n) < 0.1
        med_type = np.where(pharmacy, "定点药店购药", np.where(chronic, "门诊慢特病", "普通门诊"))
        start = self._month_start(month)
        offset = rng.integers(0, self._days(month), n) * 86400 + rng.integers(
            8 * 3600, 17 * 3600, n
        )
        begin = start + offset.astype("timedelta64[s]")
        settle = begin + rng.integers(300, 3600, n).astype("timedelta64[s]")
        dx = np.array(OUTPATIENT_DX)[rng.integers(0, len(OUTPATIENT_DX), n)]
        setl, mdtrt = self._ids(month, n)
        # fee lines
        k = np.minimum(1 + rng.poisson(max(self.scale.fee_lines - 1, 0), n), 12)
        line_of = np.repeat(np.arange(n), k)
        m = line_of.size
        kind = rng.random(m)
        is_drug = kind < 0.6
        is_service = (kind >= 0.6) & (kind < 0.9)
        code_num = np.where(
            is_drug,
            _codes(rng, _DRUG_CDF, m),
            np.where(is_service, _codes(rng, _SERVICE_CDF, m), rng.integers(0, N_CONSUMABLES, m)),
        )
        prefix = np.where(is_drug, "XB", np.where(is_service, "FW", "HC"))
        codes = np.strings.add(prefix, np.char.zfill(code_num.astype(str), 5))
        list_type = np.where(is_drug, "药品", np.where(is_service, "医疗服务项目", "医用耗材"))
        cnt = rng.integers(1, 4, m).astype(np.float64)
        price = _money(np.where(is_drug, rng.uniform(0.5, 5, m), rng.uniform(5, 60, m)))
        amount = _money(cnt * price)
        medfee = _money(np.bincount(line_of, weights=amount, minlength=n))
        fund = _money(medfee * rng.uniform(0.5, 0.8, n))
        acct = _money((medfee - fund) * rng.uniform(0, 0.5, n))
        cash = _money(medfee - fund - acct)
        reversed_ = (rng.random(n) < 0.003).astype(np.int8)
        settlements = self._settlement_table(
            setl,
            mdtrt,
            person,
            inst,
            med_type,
            begin,
            None,
            settle,
            dx,
            None,
            medfee,
            fund,
            acct,
            cash,
            reversed_,
        )
        fees = self._fee_table(
            month,
            setl.take(pa.array(line_of)),
            settle[line_of],
            codes,
            list_type,
            cnt,
            price,
            amount,
        )
        return settlements, fees

    def _inpatient(
        self, rng: np.random.Generator, mi: int, month: str
    ) -> tuple[pa.Table, pa.Table]:
        person = np.flatnonzero(self.inpatient & (self.stay_month == mi))
        county = self.person_county[person]
        has = self.inp_count[county] > 0
        person, county = person[has], county[has]
        n = person.size
        inst = self.inp_order[
            self.inp_start[county] + (rng.random(n) * self.inp_count[county]).astype(np.int64)
        ]
        start = self._month_start(month)
        admit_day = rng.integers(0, min(18, self._days(month) - 10), n)
        los = rng.integers(2, 10, n)
        begin = start + (admit_day * 86400 + rng.integers(8 * 3600, 12 * 3600, n)).astype(
            "timedelta64[s]"
        )
        end = begin + (los * 86400).astype("timedelta64[s]")
        settle = end + np.timedelta64(7200, "s")
        group = rng.integers(0, N_GROUPS, n)
        drg = np.strings.add("DRG", np.char.zfill(group.astype(str), 3))
        dx = np.array(INPATIENT_DX)[group % len(INPATIENT_DX)]
        cost = _money((3000 + 300 * group) * self.inst_level[inst] * rng.uniform(0.95, 1.05, n))
        fund = _money(cost * rng.uniform(0.6, 0.85, n))
        acct = np.zeros(n)
        cash = _money(cost - fund)
        setl, mdtrt = self._ids(month, n)
        settlements = self._settlement_table(
            setl,
            mdtrt,
            person,
            inst,
            np.full(n, "住院"),
            begin,
            end,
            settle,
            dx,
            drg,
            cost,
            fund,
            acct,
            cash,
            np.zeros(n, np.int8),
        )
        k = rng.integers(4, 10, n)
        line_of = np.repeat(np.arange(n), k)
        m = line_of.size
        is_drug = rng.random(m) < 0.5
        code_num = np.where(is_drug, _codes(rng, _DRUG_CDF, m), _codes(rng, _SERVICE_CDF, m))
        codes = np.strings.add(
            np.where(is_drug, "XB", "FW"), np.char.zfill(code_num.astype(str), 5)
        )
        list_type = np.where(is_drug, "药品", "医疗服务项目")
        cnt = rng.integers(1, 4, m).astype(np.float64)
        price = _money(np.where(is_drug, rng.uniform(0.5, 5, m), rng.uniform(20, 200, m)))
        fees = self._fee_table(
            month,
            setl.take(pa.array(line_of)),
            settle[line_of],
            codes,
            list_type,
            cnt,
            price,
            _money(cnt * price),
        )
        return settlements, fees

    def _settlement_table(
        self,
        setl,
        mdtrt,
        person,
        inst,
        med_type,
        begin,
        end,
        settle,
        dx,
        drg,
        medfee,
        fund,
        acct,
        cash,
        reversed_,
    ) -> pa.Table:
        n = person.size
        county = self.counties[self.person_county[person]].astype(str)
        employee = self.employee[person]
        return pa.table(
            {
                "setl_id": setl,
                "mdtrt_id": mdtrt,
                "psn_no": self._psn_arr.take(pa.array(person, pa.int64())),
                "certno": self._certno_arr.take(pa.array(person, pa.int64())),
                "insutype": pa.array(
                    np.where(employee, "职工基本医疗保险", "城乡居民基本医疗保险")
                ),
                "insu_admdvs": pa.array(county),
                "mdtrt_admdvs": pa.array(self.counties[self.inst_county[inst]].astype(str)),
                "fixmedins_code": pa.array(self.inst_ids[inst]),
                "med_type": pa.array(med_type.astype(str)),
                "begntime": pa.array(begin, TS),
                "endtime": pa.array(end, TS) if end is not None else pa.nulls(n, TS),
                "setl_time": pa.array(settle, TS),
                "dise_codg": pa.array(dx.astype(str)),
                "dise_name": pa.nulls(n, pa.string()),
                "drg_dip_code": pa.array(drg.astype(str))
                if drg is not None
                else pa.nulls(n, pa.string()),
                "mdtrt_cert_type": pa.array(["医保电子凭证"] * n),
                "medfee_sumamt": pa.array(medfee),
                "fund_pay_sumamt": pa.array(fund),
                "acct_pay": pa.array(acct),
                "psn_cash_pay": pa.array(cash),
                "refd_setl_flag": pa.array(reversed_, pa.int8()),
            },
            schema=SETTLEMENT_SCHEMA,
        )

    def _fee_table(self, month, setl, when, codes, list_type, cnt, price, amount) -> pa.Table:
        m = len(cnt)
        seq = np.arange(self._fee_seq, self._fee_seq + m)
        self._fee_seq += m
        return pa.table(
            {
                "feedetl_sn": _str(f"F{month.replace('-', '')}", seq, 10),
                "setl_id": setl,
                "fee_ocur_time": pa.array(when, TS),
                "med_list_codg": pa.array(codes.astype(str)),
                "list_type": pa.array(list_type.astype(str)),
                "cnt": pa.array(cnt),
                "pric": pa.array(price),
                "det_item_fee_sumamt": pa.array(amount),
            },
            schema=FEE_SCHEMA,
        )


# ---------------------------------------------------------------- the injected cases


class _Cases:
    """Builds the injected persons, settlements, fee lines and list rows."""

    def __init__(self, roster: pd.DataFrame, counties: Sequence[str], period: str):
        self.roster = roster.sort_values(["county_code", "institution_id"]).reset_index(drop=True)
        self.counties = list(counties)
        self.period = period
        self.persons: list[dict] = []
        self.settlements: list[dict] = []
        self.fees: list[dict] = []
        self.deaths: list[dict] = []
        self.custody: list[dict] = []
        self.credits: list[dict] = []
        self.inventory: list[dict] = []
        self.expected: list[Expected] = []
        self.near: list[NearMiss] = []
        self._n = 0
        self._used: set[str] = set()

    # institutions ---------------------------------------------------------------------------
    def _kind(self, kind: str) -> pd.DataFrame:
        r = self.roster
        if kind == "pharmacy":
            return r[r["institution_type"] == "定点零售药店"]
        if kind == "primary":
            return r[r["institution_type"] == "基层医疗机构"]
        return r[r["institution_type"].isin(["公立医疗机构", "民营医疗机构"])]

    def inst(self, county_i: int, kind: str = "hospital", level: str | None = None) -> str:
        """A roster institution not used by another case: of the county if it has one free,
        else of the next county that does (deterministic, whatever the roster's size)."""
        r = self._kind(kind)
        if level is not None:
            r = r[r["hosp_lv"].fillna("未定级") == level]
        n = len(self.counties)
        for k in range(n):
            county = self.counties[(county_i + k) % n]
            for iid in r.loc[r["county_code"] == county, "institution_id"]:
                if iid not in self._used:
                    self._used.add(iid)
                    return str(iid)
        raise ValueError(f"demo roster has no free {kind} {level or ''}")

    def common_level(self) -> str:
        """The level most hospitals have (ZNJK-02 compares within one level)."""
        lv = self._kind("hospital")["hosp_lv"].fillna("未定级")
        return str(lv.value_counts().index[0]) if len(lv) else "未定级"

    def free(self, kind: str = "hospital", level: str | None = None) -> int:
        r = self._kind(kind)
        if level is not None:
            r = r[r["hosp_lv"].fillna("未定级") == level]
        return int((~r["institution_id"].isin(self._used)).sum())

    def county_of(self, inst: str) -> str:
        return str(self.roster.loc[self.roster["institution_id"] == inst, "county_code"].iloc[0])

    # persons --------------------------------------------------------------------------------
    def person(
        self,
        county_i: int,
        employee: bool = True,
        status: str = "正常参保",
        changed: str | None = None,
    ) -> dict:
        county = self.counties[county_i % len(self.counties)]
        self._n += 1
        idx = 9_000_000 + self._n
        certno = str(id_numbers(np.array([int(county)]), np.array([idx]))[0])
        p = {
            "psn_no": f"PX{county}{self._n:05d}",
            "certno": certno,
            "insu_admdvs": county,
            "psn_insu_stas": status,
            "stas_chg_date": dt.date.fromisoformat(changed) if changed else None,
            "employee": employee,
        }
        self.persons.append(p)
        return p

    def credit_months(self, p: dict, months: Sequence[str], amount: float = 200.0) -> None:
        for m in months:
            self.credits.append({"psn_no": p["psn_no"], "crdt_month": m, "crdt_amt": amount})

    # settlements ----------------------------------------------------------------------------
    def settle(
        self,
        p: dict,
        inst: str,
        begin: str,
        med_type: str = "普通门诊",
        end: str | None = None,
        cost: float = 200.0,
        dx: str = "J06.9",
        drg: str | None = None,
        reversed_: bool = False,
        mdtrt: str | None = None,
        drugs: Sequence[tuple[str, float, float]] = (),
    ) -> str:
        """One settlement; `drugs` are (code, quantity, price) fee lines; returns its id."""
        n = len(self.settlements) + 1
        setl = f"SX{n:07d}"
        b = dt.datetime.fromisoformat(begin)
        e = dt.datetime.fromisoformat(end) if end else None
        when = (e or b) + dt.timedelta(hours=2)
        lines = list(drugs) or [("FW00001", 1.0, cost)]
        total = round(sum(q * pr for _c, q, pr in lines), 2) if drugs else cost
        self.settlements.append(
            {
                "setl_id": setl,
                "mdtrt_id": mdtrt or f"MX{n:07d}",
                "psn_no": p["psn_no"],
                "certno": p["certno"],
                "insutype": "职工基本医疗保险" if p["employee"] else "城乡居民基本医疗保险",
                "insu_admdvs": p["insu_admdvs"],
                "mdtrt_admdvs": self.county_of(inst),
                "fixmedins_code": inst,
                "med_type": med_type,
                "begntime": b,
                "endtime": e,
                "setl_time": when,
                "dise_codg": dx,
                "dise_name": None,
                "drg_dip_code": drg,
                "mdtrt_cert_type": "医保电子凭证",
                "medfee_sumamt": total,
                "fund_pay_sumamt": round(total * 0.7, 2),
                "acct_pay": 0.0,
                "psn_cash_pay": round(total - round(total * 0.7, 2), 2),
                "refd_setl_flag": 1 if reversed_ else 0,
            }
        )
        for i, (code, q, pr) in enumerate(lines):
            self.fees.append(
                {
                    "feedetl_sn": f"FX{n:07d}{i:02d}",
                    "setl_id": setl,
                    "fee_ocur_time": when,
                    "med_list_codg": code,
                    "list_type": "药品" if code.startswith("X") else "医疗服务项目",
                    "cnt": float(q),
                    "pric": float(pr),
                    "det_item_fee_sumamt": round(q * pr, 2),
                }
            )
        return setl

    def expect(
        self,
        rule: str,
        subject: str,
        county: str,
        setls: Sequence[str],
        note: str,
        month: str | None = None,
    ) -> None:
        self.expected.append(
            Expected(rule, subject, county, month or self.period, tuple(setls), note)
        )

    def miss(self, rule: str, subject: str, note: str, month: str | None = None) -> None:
        self.near.append(NearMiss(rule, subject, month or self.period, note))


def _day(period: str, day: int, hour: int = 9) -> str:
    return f"{period}-{day:02d} {hour:02d}:00:00"


def _shift(period: str, months: int) -> str:
    return str(pd.Period(period, "M") + months)


def build_cases(roster: pd.DataFrame, counties: Sequence[str], months: Sequence[str]) -> _Cases:
    """Every rule's cases and near-misses, in the extract's last month (`period`)."""
    period = months[-1]
    prev = _shift(period, -1)
    c = _Cases(roster, counties, period)
    all_months = list(months)

    # SJBD-01 死亡后发生结算 -------------------------------------------------------------
    p = c.person(0, status="终止参保", changed=f"{prev}-25")
    c.credit_months(p, [m for m in all_months if m <= prev])
    c.deaths += [
        {
            "certno": p["certno"],
            "death_date": f"{prev}-20",
            "src": "公安",
            "batch_date": f"{period}-01",
        },
        {
            "certno": p["certno"],
            "death_date": f"{prev}-22",
            "src": "民政",
            "batch_date": f"{period}-01",
        },
    ]
    h_a, p_b = c.inst(0), c.inst(0, "pharmacy")
    s1 = c.settle(p, h_a, _day(period, 3))
    s2 = c.settle(p, p_b, _day(period, 10), "定点药店购药")
    c.expect(
        "SJBD-01", f"{p['psn_no']}|{h_a}", p["insu_admdvs"], [s1], "死亡后门诊（来源日期不一）"
    )
    c.expect("SJBD-01", f"{p['psn_no']}|{p_b}", p["insu_admdvs"], [s2], "死亡后药店购药")
    p = c.person(0, status="终止参保", changed=f"{period}-06")
    c.deaths.append(
        {
            "certno": p["certno"],
            "death_date": f"{period}-05",
            "src": "卫健",
            "batch_date": f"{period}-20",
        }
    )
    h = c.inst(0)
    c.settle(p, h, _day(period, 5, 7), "住院", end=_day(period, 8), cost=8000, dx="I21.4")
    c.miss("SJBD-01", f"{p['psn_no']}|{h}", "死亡当日入院的住院")
    p = c.person(0, status="终止参保", changed=f"{period}-12")
    c.deaths.append(
        {
            "certno": p["certno"],
            "death_date": f"{period}-10",
            "src": "公安",
            "batch_date": f"{period}-20",
        }
    )
    h = c.inst(0)
    c.settle(p, h, _day(period, 11))
    c.miss("SJBD-01", f"{p['psn_no']}|{h}", "死亡次日就诊（宽限1天内）")
    p = c.person(0, status="终止参保", changed=f"{prev}-05")
    c.deaths.append(
        {
            "certno": p["certno"],
            "death_date": f"{prev}-01",
            "src": "民政",
            "batch_date": f"{period}-01",
        }
    )
    h = c.inst(0)
    c.settle(p, h, _day(period, 2), reversed_=True)
    c.miss("SJBD-01", f"{p['psn_no']}|{h}", "死亡后的结算已退费（冲正）")

    # SJBD-02 死亡未停保/个账续划 ------------------------------------------------------------
    death_b1 = _shift(period, -3)
    p = c.person(1)
    c.credit_months(p, all_months)
    c.deaths.append(
        {
            "certno": p["certno"],
            "death_date": f"{death_b1}-15",
            "src": "民政",
            "batch_date": f"{period}-01",
        }
    )
    c.expect("SJBD-02", p["psn_no"], p["insu_admdvs"], [], "死亡3个月仍正常参保、个账续划3个月")
    p = c.person(2, status="终止参保", changed=f"{period}-15")
    c.credit_months(p, [m for m in all_months if m <= prev])
    c.deaths.append(
        {
            "certno": p["certno"],
            "death_date": f"{_shift(period, -2)}-03",
            "src": "公安",
            "batch_date": f"{period}-01",
        }
    )
    c.expect("SJBD-02", p["psn_no"], p["insu_admdvs"], [], "已停保，但死亡次月仍划拨个账")
    p = c.person(1)
    c.credit_months(p, all_months)
    c.deaths.append(
        {
            "certno": p["certno"],
            "death_date": f"{period}-10",
            "src": "卫健",
            "batch_date": f"{period}-20",
        }
    )
    c.miss("SJBD-02", p["psn_no"], "当月死亡，未满停保滞后期，当月划拨不算")

    # SJBD-03 服刑在押期间结算 ---------------------------------------------------------------
    p = c.person(3)
    c.custody.append(
        {
            "certno": p["certno"],
            "custody_type": "服刑",
            "start_date": f"{_shift(period, -4)}-01",
            "end_date": None,
            "src": "监狱",
            "batch_date": f"{period}-01",
        }
    )
    h_x = c.inst(3)
    s = c.settle(p, h_x, _day(period, 6))
    c.expect("SJBD-03", f"{p['psn_no']}|{h_x}", p["insu_admdvs"], [s], "在押期间在普通医院就诊")
    prison = c.inst(3, "primary")
    p = c.person(3)
    c.custody.append(
        {
            "certno": p["certno"],
            "custody_type": "服刑",
            "start_date": f"{_shift(period, -5)}-01",
            "end_date": None,
            "src": "司法行政",
            "batch_date": f"{period}-01",
        }
    )
    c.settle(p, prison, _day(period, 9))
    c.miss("SJBD-03", f"{p['psn_no']}|{prison}", "在监狱内设医疗机构就诊")
    p = c.person(3)
    c.custody.append(
        {
            "certno": p["certno"],
            "custody_type": "看守所羁押",
            "start_date": f"{_shift(period, -6)}-01",
            "end_date": f"{period}-01",
            "src": "公安监管",
            "batch_date": f"{period}-01",
        }
    )
    h = c.inst(3)
    c.settle(p, h, _day(period, 1, 15))
    c.miss("SJBD-03", f"{p['psn_no']}|{h}", "出监当日就诊（出监日不算羁押期）")

    # ZNJK-01 同一参保人月就诊次数≥15次 -----------------------------------------------------
    def visits(p: dict, county_i: int, n: int, **kw) -> list[str]:
        h1, h2 = c.inst(county_i), c.inst(county_i, "pharmacy")
        out = []
        for i in range(n):
            pharmacy = i % 7 == 6
            out.append(
                c.settle(
                    p,
                    h2 if pharmacy else h1,
                    _day(period, 1 + i % 28, 8 + i // 28),
                    "定点药店购药" if pharmacy else "普通门诊",
                    **kw,
                )
            )
        return out

    p = c.person(4)
    c.expect("ZNJK-01", p["psn_no"], p["insu_admdvs"], visits(p, 4, 16), "当月就诊16次")
    p = c.person(5)
    c.expect("ZNJK-01", p["psn_no"], p["insu_admdvs"], visits(p, 5, 15), "当月就诊恰好15次")
    p = c.person(4)
    visits(p, 4, 14)
    c.miss("ZNJK-01", p["psn_no"], "当月就诊恰好14次")
    p = c.person(5)
    ids = visits(p, 5, 14)
    c.settle(p, c.inst(5), _day(period, 28, 16), reversed_=True)
    c.miss("ZNJK-01", p["psn_no"], "15次中有1次已退费（冲正）")
    p = c.person(6)
    visits(p, 6, 14)
    dialysis = c.inst(6)
    for i in range(6):
        c.settle(p, dialysis, _day(period, 2 + 4 * i, 14), dx="N18.5")
    c.miss("ZNJK-01", p["psn_no"], "20次中6次为血液透析（豁免诊断）")
    p = c.person(6)
    ids = visits(p, 6, 14)
    twice = c.settlements[[s["setl_id"] for s in c.settlements].index(ids[0])]["mdtrt_id"]
    c.settle(p, c.inst(6), _day(period, 1, 15), mdtrt=twice)
    c.miss("ZNJK-01", p["psn_no"], "15笔结算中2笔属同一次就诊")

    # ZNJK-02 单病种费用超均值20% ------------------------------------------------------------
    quarter = pd.Period(period, "Q")
    q_months = [str(m) for m in pd.period_range(quarter.start_time, quarter.end_time, freq="M")]
    level = c.common_level()
    e1, e2, eg = c.inst(7, level=level), c.inst(8, level=level), c.inst(9, level=level)
    peers = [c.inst(i, level=level) for i in range(1, 1 + min(6, c.free(level=level)))]
    year = _months_between(_shift(period, -11), period)
    for group in ("DRGZZ1", "DRGZZ2"):
        for i in range(200):
            m = year[i % 12]
            pp = c.person(i, employee=False)
            c.settle(
                pp,
                peers[i % len(peers)],
                f"{m}-{1 + i % 20:02d} 08:00:00",
                "住院",
                end=f"{m}-{3 + i % 20:02d} 10:00:00",
                cost=10000.0,
                dx="K80.1",
                drg=group,
            )
    e1_ids = []
    for i in range(12):
        pp = c.person(7, employee=False)
        m = q_months[i % 3]
        e1_ids.append(
            c.settle(
                pp,
                e1,
                f"{m}-{2 + i:02d} 08:00:00",
                "住院",
                end=f"{m}-{5 + i:02d} 10:00:00",
                cost=15000.0,
                dx="K80.1",
                drg="DRGZZ1",
            )
        )
    c.expect("ZNJK-02", e1, c.county_of(e1), e1_ids, "次均15000元，同级均值约10679元（超40%）")
    for i in range(9):
        pp = c.person(9, employee=False)
        m = q_months[i % 3]
        c.settle(
            pp,
            eg,
            f"{m}-{2 + i:02d} 08:00:00",
            "住院",
            end=f"{m}-{5 + i:02d} 10:00:00",
            cost=20000.0,
            dx="K80.1",
            drg="DRGZZ1",
        )
    c.miss("ZNJK-02", eg, "次均为均值近2倍，但季度病例只有9例（少于10例）")
    for i in range(12):
        pp = c.person(8, employee=False)
        m = q_months[i % 3]
        c.settle(
            pp,
            e2,
            f"{m}-{2 + i:02d} 08:00:00",
            "住院",
            end=f"{m}-{5 + i:02d} 10:00:00",
            cost=12000.0,
            dx="K80.1",
            drg="DRGZZ2",
        )
    c.miss("ZNJK-02", e2, "次均12000元，同级均值约10113元（超18.7%，不足20%）")

    # ZNJK-03 药品使用量异常增长 / ZNJK-07 进销存不符 -----------------------------------------
    def dispense(
        inst: str,
        county_i: int,
        drug: str,
        price: float,
        per_month: dict[str, float],
        parts: int = 10,
    ) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for m, qty in per_month.items():
            base = qty // parts
            extra = qty - base * parts
            out[m] = []
            for j in range(parts):
                q = base + (1 if j < extra else 0)
                pp = c.person(county_i, employee=False)
                out[m].append(
                    c.settle(pp, inst, f"{m}-{3 + 2 * j:02d} 10:00:00", drugs=[(drug, q, price)])
                )
        return out

    steady = {m: 100.0 for m in all_months[:-1]}
    h = c.inst(0)
    ids = dispense(h, 0, "XDEMO001", 80.0, {**steady, period: 160.0})
    c.expect("ZNJK-03", h, c.county_of(h), ids[period], "用量较前3月月均增长60%，金额12800元")
    h = c.inst(1)
    dispense(h, 1, "XDEMO002", 80.0, {**steady, period: 149.0})
    c.miss("ZNJK-03", h, "用量增长49%")
    h = c.inst(2)
    dispense(h, 2, "XDEMO003", 5.0, {**steady, period: 160.0})
    c.miss("ZNJK-03", h, "用量增长60%，但当月金额800元不足1000元")
    h = c.inst(4, "pharmacy")
    ids = dispense(h, 4, "XDEMO004", 30.0, {period: 130.0})
    c.inventory.append(
        {
            "fixmedins_code": h,
            "med_list_codg": "XDEMO004",
            "month": period,
            "opening_qty": 40.0,
            "purchase_qty": 60.0,
            "closing_qty": 0.0,
        }
    )
    c.expect("ZNJK-07", h, c.county_of(h), ids[period], "结算130，期初加购进100")
    h = c.inst(5, "pharmacy")
    dispense(h, 5, "XDEMO005", 30.0, {period: 105.0})
    c.inventory.append(
        {
            "fixmedins_code": h,
            "med_list_codg": "XDEMO005",
            "month": period,
            "opening_qty": 50.0,
            "purchase_qty": 50.0,
            "closing_qty": 0.0,
        }
    )
    c.miss("ZNJK-07", h, "结算105，恰为期初加购进100的1.05倍（不超过容差）")

    # ZNJK-04 住院期间门诊/购药结算 ------------------------------------------------------------
    h_l, h_m = c.inst(6), c.inst(6)
    p = c.person(6)
    c.settle(p, h_l, _day(period, 1, 8), "住院", end=_day(period, 10, 10), cost=6000, dx="J18.9")
    s = c.settle(p, h_m, _day(period, 5))
    c.expect("ZNJK-04", p["psn_no"], p["insu_admdvs"], [s], "住院第5天在另一医院门诊")
    p = c.person(6)
    c.settle(p, h_l, _day(period, 1, 8), "住院", end=_day(period, 10, 10), cost=6000, dx="J18.9")
    c.settle(p, h_m, _day(period, 1, 15))
    c.settle(p, h_m, _day(period, 10, 15))
    c.settle(p, h_l, _day(period, 5, 15))
    c.miss("ZNJK-04", p["psn_no"], "入院当日、出院当日在他院门诊，住院期间在本院门诊")

    # ZNJK-05 住院时间重叠 ---------------------------------------------------------------------
    h_n, h_o = c.inst(7), c.inst(7)
    p = c.person(7)
    a = c.settle(
        p, h_n, _day(period, 1, 8), "住院", end=_day(period, 10, 10), cost=7000, dx="K80.1"
    )
    b = c.settle(
        p, h_o, _day(period, 8, 8), "住院", end=_day(period, 15, 10), cost=7000, dx="J18.9"
    )
    c.expect("ZNJK-05", p["psn_no"], p["insu_admdvs"], [a, b], "两次住院重叠2天")
    p = c.person(7)
    c.settle(p, h_n, _day(period, 1, 8), "住院", end=_day(period, 10, 10), cost=7000, dx="K80.1")
    c.settle(p, h_o, _day(period, 10, 14), "住院", end=_day(period, 14, 10), cost=7000, dx="J18.9")
    c.miss("ZNJK-05", p["psn_no"], "出院当日转入另一医院（算入不算出，不重叠）")

    # ZNJK-06 短期再入院 -----------------------------------------------------------------------
    h_p = c.inst(8)
    p = c.person(8)
    a = c.settle(
        p, h_p, f"{prev}-20 08:00:00", "住院", end=f"{prev}-25 10:00:00", cost=5000, dx="K35.8"
    )
    b = c.settle(
        p, h_p, _day(period, 10, 8), "住院", end=_day(period, 14, 10), cost=5000, dx="K35.2"
    )
    p2 = c.person(8)
    c.settle(
        p2, h_p, f"{prev}-20 08:00:00", "住院", end=f"{prev}-25 10:00:00", cost=5000, dx="K35.8"
    )
    c.settle(p2, h_p, _day(period, 11, 8), "住院", end=_day(period, 15, 10), cost=5000, dx="K35.3")
    p3 = c.person(8)
    c.settle(p3, h_p, f"{prev}-28 08:00:00", "住院", end=_day(period, 2, 10), cost=5000, dx="K35.8")
    c.settle(p3, h_p, _day(period, 7, 8), "住院", end=_day(period, 9, 10), cost=5000, dx="J18.9")
    c.expect("ZNJK-06", h_p, c.county_of(h_p), [a, b], "出院后第15天同诊断再入院")
    c.miss("ZNJK-06", h_p, "出院后第16天再入院；第5天再入院但诊断不同（同一机构，不另成线索）")
    c.prison = prison  # type: ignore[attr-defined]
    return c


# ---------------------------------------------------------------- earlier months' matches


def build_history(c: _Cases, months: Sequence[str], n_months: int, seed: int) -> list[Expected]:
    """Death (SJBD-01) and custody (SJBD-03) matches in each of the `n_months` months before
    the period, one to three of each kind per county: what the city's earlier monthly
    screenings found, so the demo can check them and its faces show 属实率 per rule. Each
    hits in its own month only — one outpatient visit (a service item, no drug line, so no
    growth or stock rule moves), the dead person's insurance stopped within days and no
    account credited — so the period's results stay exactly the injected cases."""
    rng = np.random.default_rng([seed, 31])
    period = months[-1]
    hist = [m for m in (_shift(period, -k) for k in range(n_months, 0, -1)) if m in months]
    hospitals = c._kind("hospital")
    out: list[Expected] = []
    for m in hist:
        for ci, county in enumerate(c.counties):
            insts = hospitals.loc[hospitals["county_code"] == county, "institution_id"].tolist()
            insts = [str(x) for x in insts or hospitals["institution_id"].tolist()]
            for _ in range(int(rng.integers(1, 4))):
                died = int(rng.integers(2, 12))
                p = c.person(ci, employee=False, status="终止参保", changed=f"{m}-{died + 3:02d}")
                c.deaths.append(
                    {
                        "certno": p["certno"],
                        "death_date": f"{m}-{died:02d}",
                        "src": str(rng.choice(["公安", "民政", "卫健"])),
                        "batch_date": f"{m}-01",
                    }
                )
                h = insts[int(rng.integers(len(insts)))]
                cost = round(float(rng.uniform(80, 1500)), 2)
                s = c.settle(p, h, _day(m, int(rng.integers(died + 3, 28))), cost=cost)
                out.append(
                    Expected("SJBD-01", f"{p['psn_no']}|{h}", county, m, (s,), "前期：死亡后门诊")
                )
            for _ in range(int(rng.integers(1, 3))):
                p = c.person(ci, employee=False)
                kind, src = [("服刑", "监狱"), ("看守所羁押", "公安监管")][int(rng.integers(2))]
                c.custody.append(
                    {
                        "certno": p["certno"],
                        "custody_type": kind,
                        "start_date": f"{_shift(m, -int(rng.integers(1, 8)))}-01",
                        "end_date": None,
                        "src": src,
                        "batch_date": f"{m}-01",
                    }
                )
                h = insts[int(rng.integers(len(insts)))]
                cost = round(float(rng.uniform(80, 1500)), 2)
                s = c.settle(p, h, _day(m, int(rng.integers(2, 28))), cost=cost)
                out.append(
                    Expected("SJBD-03", f"{p['psn_no']}|{h}", county, m, (s,), "前期：在押期间就诊")
                )
    return out


# ---------------------------------------------------------------- background noise lists


def _noise_lists(bg: Background, period: str, seed: int) -> tuple[list[dict], list[dict]]:
    """Deaths and custody of people with no settlements (the lists hold more than the hits)."""
    rng = np.random.default_rng([seed, 99])
    deaths, custody = [], []
    for i in range(40):
        county = bg.counties[i % len(bg.counties)]
        idx = np.array([8_000_000 + i])
        certno = str(id_numbers(np.array([int(county)]), idx)[0])
        day = dt.date.fromisoformat(f"{period}-01") - dt.timedelta(days=int(rng.integers(30, 400)))
        deaths.append(
            {
                "certno": certno,
                "death_date": day.isoformat(),
                "src": "公安",
                "batch_date": f"{period}-01",
            }
        )
    for i in range(20):
        county = bg.counties[i % len(bg.counties)]
        certno = str(id_numbers(np.array([int(county)]), np.array([8_500_000 + i]))[0])
        custody.append(
            {
                "certno": certno,
                "custody_type": "服刑",
                "start_date": "2024-03-01",
                "end_date": None,
                "src": "监狱",
                "batch_date": f"{period}-01",
            }
        )
    return deaths, custody


# ---------------------------------------------------------------- the extract


def generate_extract(
    roster: pd.DataFrame,
    months: Sequence[str],
    scale: Scale = DEMO_SCALE,
    seed: int = 20251,
    history: int = 0,
) -> Extract:
    """The demo extract for `months` (≥ 12 for ZNJK-02's year of peers); the injected cases
    are in the last month, and with `history` > 0 death and custody matches in that many
    months before it (`build_history`)."""
    months = list(months)
    roster = roster.copy()
    if "hosp_lv" not in roster:
        roster["hosp_lv"] = None
    bg = Background(roster, months, scale, seed)
    cases = build_cases(roster, [str(c) for c in bg.counties], months)
    history_cases = build_history(cases, months, history, seed) if history else []
    period = months[-1]
    deaths, custody = _noise_lists(bg, period, seed)
    persons = pd.DataFrame(cases.persons)
    insured = pa.concat_tables(
        [
            bg.insured(),
            pa.Table.from_pandas(
                persons[["psn_no", "certno", "insu_admdvs", "psn_insu_stas", "stas_chg_date"]],
                schema=bg.insured().schema,
                preserve_index=False,
            ),
        ]
    )
    credits = pa.concat_tables(
        [bg.credits(), pa.Table.from_pylist(cases.credits, schema=bg.credits().schema)]
    )
    date_cols = ("death_date", "batch_date", "start_date", "end_date")

    def dated(rows: list[dict]) -> pa.Table:
        df = pd.DataFrame(rows)
        for col in date_cols:
            if col in df:
                df[col] = [
                    dt.date.fromisoformat(x) if isinstance(x, str) else None for x in df[col]
                ]
        return pa.Table.from_pandas(df, preserve_index=False)

    inventory = _background_inventory(bg, months, seed) + cases.inventory
    static = {
        "insured": insured,
        "acct_credits": credits,
        "death_list": dated(cases.deaths + deaths),
        "custody_list": dated(cases.custody + custody),
        "drug_inventory": pa.Table.from_pylist(inventory),
    }
    injected = {
        "settlements": pa.Table.from_pylist(cases.settlements, schema=SETTLEMENT_SCHEMA),
        "fee_details": pa.Table.from_pylist(cases.fees, schema=FEE_SCHEMA),
    }
    return Extract(
        period,
        months,
        static,
        injected,
        cases.expected,
        cases.near,
        [cases.prison],  # type: ignore[attr-defined]
        roster,
        scale,
        seed,
        history_cases,
    )


def _background_inventory(bg: Background, months: Sequence[str], seed: int) -> list[dict]:
    """Stock rows for some pharmacy × background drug pairs, always ample."""
    rng = np.random.default_rng([seed, 7])
    pharmacies = bg.inst_ids[bg.inst_pharmacy][:50]
    rows = []
    for inst in pharmacies:
        for d in rng.choice(N_DRUGS, 5, replace=False):
            for m in months[-3:]:
                rows.append(
                    {
                        "fixmedins_code": str(inst),
                        "med_list_codg": f"XB{d:05d}",
                        "month": m,
                        "opening_qty": 1000.0,
                        "purchase_qty": 1000.0,
                        "closing_qty": 1500.0,
                    }
                )
    return rows


# ---------------------------------------------------------------- writing files


def _headers(name: str) -> dict[str, str]:
    return {c.name: c.header for c in TABLES[name].columns}


def _csv(table: pa.Table, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="needed"))
    return path


def write_extract(extract: Extract, out: str | Path, fmt: str = "mixed") -> list[Path]:
    """The extract as a bureau would hand it over: monthly settlement and fee files plus the
    lists. `fmt="mixed"` (the demo) shows the variety the loader accepts — field-code and
    Chinese headers, UTF-8 and GBK, CSV and Parquet; `fmt="csv"` writes every table as
    field-code CSV (the benchmark)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for month, s, f in extract.monthly():
        paths.append(_csv(s, out / f"settlements_{month}.csv"))
        paths.append(_csv(f, out / f"fee_details_{month}.csv"))
    st = extract.static
    if fmt == "csv":
        for name, table in st.items():
            paths.append(_csv(table, out / f"{name}.csv"))
    else:
        ins = st["insured"].rename_columns(
            [_headers("insured")[c] for c in st["insured"].column_names]
        )
        paths.append(_csv(ins, out / "参保人员状态.csv"))
        paths.append(out / "个人账户划拨.parquet")
        pq.write_table(st["acct_credits"], paths[-1])
        deaths = st["death_list"].to_pandas().rename(columns=_headers("death_list"))
        paths.append(out / "死亡人员名单.csv")
        deaths.to_csv(paths[-1], index=False, encoding="gbk")
        paths.append(out / "服刑在押人员名单.parquet")
        pq.write_table(st["custody_list"], paths[-1])
        paths.append(_csv(st["drug_inventory"], out / "药品进销存.csv"))
    manifest = {
        "period": extract.period,
        "months": extract.months,
        "prison_units": extract.prison_units,
        "expected": [asdict(e) for e in extract.expected],
        "near_misses": [asdict(n) for n in extract.near_misses],
        "history": [asdict(e) for e in extract.history],
    }
    (out / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    params = out / PARAMS_FILE
    params.write_text(
        "# 本市的筛查参数（覆盖规则文件中的默认值）。演示数据：监狱内设医疗机构。\n"
        "kind: screening_parameters\nparameters:\n  SJBD-03:\n    prison_units: ["
        + ", ".join(extract.prison_units)
        + "]\n",
        encoding="utf-8",
    )
    return paths


PARAMS_FILE = "筛查参数.yaml"
