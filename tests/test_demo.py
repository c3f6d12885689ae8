"""The demo city: clean ledgers obey every contract rule, the story (campaign phases, lagging
counties) is in the numbers, and the written workbooks carry exactly the promised mistakes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from workbench import demo
from workbench.cli import main as cli
from workbench.contracts import LEDGERS, Ledger

ROOT = Path(__file__).resolve().parent.parent
EXPECTED_CODES = {
    "E_RECOVERED_GT_DUE",
    "E_CLOSED_BEFORE_FILED",
    "E_DUPLICATE_KEY",
    "E_UNKNOWN_COUNTY",
    "E_ID_CHECKSUM",
    "E_NOT_NUMBER",
    "E_NEGATIVE_MONEY",
    "E_ENUM",
    "E_REQUIRED",
    "E_UNKNOWN_CASE",
    "E_REFERRED_BUT_NO_ACTION",
    "E_UNKNOWN_INSPECTION",
    "E_REWARD_BEFORE_RECEIVED",
}


@pytest.fixture(scope="module")
def city() -> demo.DemoCity:
    return demo.generate_city()


def gb11643_ok(value: str) -> bool:
    """Independent GB 11643 check: weights 2^(17-i) mod 11, check codes 1 0 X 9 8 … 2."""
    if len(value) != 18 or not value[:17].isdigit():
        return False
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(value[:17]))
    return value[17] == "10X98765432"[total % 11]


def rule_violations(frames: dict[str, pd.DataFrame]) -> list[str]:
    """Every contract rule, checked directly with pandas; returns what broke."""
    bad: list[str] = []
    for name, lg in LEDGERS.items():
        df = frames[name]
        if list(df.columns) != lg.field_names:
            bad.append(f"{name}: columns {list(df.columns)}")
            continue
        if df.duplicated(list(lg.key)).any():
            bad.append(f"{name}: duplicate key")
        for f in lg.fields:
            s = df[f.name]
            present = s.notna()
            if f.required and not present.all():
                bad.append(f"{name}.{f.name}: required value missing")
            if f.type == "enum" and not s[present].isin(f.enum).all():
                bad.append(f"{name}.{f.name}: value outside enum")
            if f.type in ("yuan", "int") and (s[present] < 0).any():
                bad.append(f"{name}.{f.name}: negative")
            if f.type == "yuan" and not np.allclose(s[present], s[present].round(2)):
                bad.append(f"{name}.{f.name}: more than 2 decimals")
            if f.type == "code6" and not s[present].str.fullmatch(r"99\d{4}").all():
                bad.append(f"{name}.{f.name}: not a 99xxxx code")
            if f.type == "month" and not s[present].str.fullmatch(r"\d{4}-\d{2}").all():
                bad.append(f"{name}.{f.name}: not YYYY-MM")
        for c in lg.compares:
            both = df[c.left].notna() & df[c.right].notna()
            left, right = df.loc[both, c.left], df.loc[both, c.right]
            ok = (left <= right) if c.op == "<=" else (left >= right)
            if not ok.all():
                bad.append(f"{name}: {c.code} × {int((~ok).sum())}")
        for r in lg.required_when:
            need = df[r.when_field].isin(r.values)
            if df.loc[need, r.field].isna().any():
                bad.append(f"{name}: {r.code}")
        for ref in lg.references:
            values = df[ref.field].dropna()
            if not values.isin(set(frames[ref.target][ref.target_field])).all():
                bad.append(f"{name}: {ref.code}")
        for fb in lg.forbidden:
            hit = pd.Series(True, index=df.index)
            for w in fb.when:
                col = df[w.field]
                if not w.values:
                    cond = col.notna() if w.filled else col.isna()
                else:
                    cond = col.isin(list(w.values)).fillna(False).astype(bool)
                    cond = ~cond if w.negate else cond & col.notna()
                hit &= cond.to_numpy(dtype=bool)
            if hit.any():
                bad.append(f"{name}: {fb.code} × {int(hit.sum())}")
    leads = frames["leads"]
    linked = leads["case_id"].notna()
    if not leads.loc[linked, "case_id"].isin(set(frames["cases"]["case_id"])).all():
        bad.append("leads: E_UNKNOWN_CASE")
    return bad


def check_types(lg: Ledger, df: pd.DataFrame) -> None:
    for f in lg.fields:
        s = df[f.name]
        if f.type == "date":
            assert pd.api.types.is_datetime64_dtype(s), f.name
        elif f.type == "yuan":
            assert pd.api.types.is_float_dtype(s), f.name
        elif f.type == "bool":
            assert pd.api.types.is_bool_dtype(s), f.name
        elif f.type == "int":
            assert pd.api.types.is_integer_dtype(s), f.name
        else:
            assert pd.api.types.is_string_dtype(s), f.name


# ---------------------------------------------------------------------------------------------
# generation


def test_same_seed_same_city_other_seed_other_city() -> None:
    a = demo.generate_city(n_counties=4, start="2025-01", end="2025-12", seed=7)
    b = demo.generate_city(n_counties=4, start="2025-01", end="2025-12", seed=7)
    c = demo.generate_city(n_counties=4, start="2025-01", end="2025-12", seed=8)
    for name in LEDGERS:
        pd.testing.assert_frame_equal(a.frames[name], b.frames[name])
    assert (a.lagging, a.faulty, a.layouts) == (b.lagging, b.faulty, b.layouts)
    assert not a.frames["cases"].equals(c.frames["cases"])


def test_every_contract_rule_holds_and_types_are_proper(city: demo.DemoCity) -> None:
    assert set(city.frames) == set(LEDGERS)
    for name, lg in LEDGERS.items():
        check_types(lg, city.frames[name])
    assert rule_violations(city.frames) == []


def test_metadata_marks_a_fictional_city(city: demo.DemoCity) -> None:
    assert (city.city_code, city.city_name) == ("990000", "演示市")
    codes = [c for c, _ in city.counties]
    assert codes == [f"9901{i:02d}" for i in range(1, 11)]
    assert len(set(n for _, n in city.counties)) == 10
    assert len(city.lagging) == 2 and len(city.faulty) == 1
    assert not set(city.lagging) & set(city.faulty)
    assert sum(lay.text_dates for lay in city.layouts.values()) == 1
    assert city.months[0] == "2024-01" and city.months[-1] == "2025-12"
    counties = city.frames["counties"]
    assert sorted(counties["year"].unique()) == [2024, 2025]
    assert (counties["city"] == "演示市").all()
    assert counties["insured_persons"].between(90_000, 850_000).all()
    per_county = city.frames["institutions"].groupby("county_code").size()
    assert per_county.between(50, 300).all()


def test_volumes_are_realistic(city: demo.DemoCity) -> None:
    months = len(city.months)
    per_month = city.frames["cases"].groupby("county_code").size() / months
    assert per_month.between(5, 60).all()
    leads_per_year = city.frames["leads"].groupby("county_code").size() / (months / 12)
    assert leads_per_year.between(100, 2000).all()


def test_id_numbers_have_valid_checksums(city: demo.DemoCity) -> None:
    cases = city.frames["cases"]
    ids = cases["person_id"].dropna()
    assert len(ids) > 100
    assert all(gb11643_ok(v) for v in ids)
    assert ids.str.startswith("99").all()
    assert (ids.str[:6] == cases.loc[ids.index, "county_code"]).all()
    assert pd.to_datetime(ids.str[6:14], format="%Y%m%d").between("1940", "2010").all()
    people = cases["subject_type"].isin(["参保人员", "经办机构"])
    assert (cases["person_id"].notna() == people).all()
    assert (cases["person_name"].notna() == people).all()
    assert demo.id_checksum("11010519491231002") == "X"  # the standard's own example


def test_lagging_counties_really_lag(city: demo.DemoCity) -> None:
    cases = city.frames["cases"]
    late = cases[cases["found_date"] >= "2025-07-01"].groupby("county_code")
    recovery = late["amount_recovered"].sum() / late["amount_due"].sum()
    others = recovery.drop(list(city.lagging))
    assert recovery[list(city.lagging)].max() < others.min()
    assert others.median() >= 0.9

    rect = city.frames["rectifications"]
    due = rect[rect["deadline"] <= "2025-11-30"]
    done = (due["status"] == "已销号") & (due["closed_date"] <= "2025-11-30")
    completion = done.groupby(due["county_code"]).mean()
    assert completion[list(city.lagging)].max() < 0.8
    assert completion.drop(list(city.lagging)).min() >= 0.95

    ins = city.frames["inspections"]
    phase = ins[ins["inspection_date"].between("2025-06-01", "2025-08-31")]
    n_inst = city.frames["institutions"].groupby("county_code").size()
    coverage = phase.groupby("county_code")["institution_id"].nunique() / n_inst
    assert coverage[list(city.lagging)].max() < 0.3 <= coverage.drop(list(city.lagging)).min()


def test_campaign_phases_are_visible(city: demo.DemoCity) -> None:
    ins = city.frames["inspections"]
    month = ins["inspection_date"].dt.strftime("%Y-%m")
    cross = ins[ins["method"] == "交叉检查"].groupby(month).size()
    assert set(cross.index) == {"2025-06", "2025-07", "2025-08"}
    flight = ins[ins["method"] == "飞行检查"].groupby(month).size()
    assert set(flight.index) == {"2025-09", "2025-10"}

    rect = city.frames["rectifications"]
    self_check = rect[rect["source"] == "自查自纠"]
    assert set(self_check["found_date"].dt.strftime("%Y-%m")) == {"2025-04", "2025-05"}
    leads = city.frames["leads"]
    by_month = (
        leads[leads["lead_source"] == "自查自纠"]
        .groupby(leads["received_date"].dt.strftime("%Y-%m"))
        .size()
    )
    assert by_month.idxmax() in ("2025-04", "2025-05")
    assert by_month[["2025-04", "2025-05"]].min() > 3 * by_month.drop(["2025-04", "2025-05"]).max()

    cases = city.frames["cases"]
    q = cases.groupby(cases["found_date"].dt.to_period("Q"))
    recovery = q["amount_recovered"].sum() / q["amount_due"].sum()
    assert recovery[pd.Period("2025Q4")] > recovery[pd.Period("2025Q1")] + 0.1
    filed = cases.groupby(cases["found_date"].dt.year).size()
    assert -0.45 <= filed[2025] / filed[2024] - 1 <= -0.15

    act = city.frames["activities"]
    good = ~act["county_code"].isin(city.lagging)
    sharing = act[good & (act["activity"] == "数据共享部门") & (act["month"] == "2025-06")]
    assert (sharing["count"] >= 12).all()
    reports = act[good & (act["activity"] == "典型案例报送") & act["month"].str.startswith("2025")]
    assert (reports["count"] > 0).mean() >= 0.9
    training = act[act["activity"] == "培训"].groupby("month")["count"].sum()
    assert training.idxmax() == "2025-03"


def test_many_counties_keep_codes_and_rules() -> None:
    city = demo.generate_city(n_counties=150, start="2025-11", end="2025-12", seed=3)
    codes = [c for c, _ in city.counties]
    assert len(set(codes)) == 150 and all(len(c) == 6 and c.startswith("99") for c in codes)
    assert len(set(n for _, n in city.counties)) == 150
    assert rule_violations(city.frames) == []


# ---------------------------------------------------------------------------------------------
# writing


def sheet_table(ws, header_row: int) -> tuple[list[str], list[tuple]]:
    rows = list(ws.iter_rows(min_row=header_row, values_only=True))
    return [str(h) for h in rows[0]], rows[1:]


@pytest.fixture(scope="module")
def written(city: demo.DemoCity, tmp_path_factory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("demo_city")
    text = next(c for c, lay in city.layouts.items() if lay.text_dates)
    wide = next(c for c, lay in city.layouts.items() if lay.fullwidth)
    codes = list(dict.fromkeys([city.faulty[0], text, wide, city.lagging[0]]))
    return out, demo.write_city(city, out, counties=codes, months=city.months[-2:])


def test_file_names_and_marks(city: demo.DemoCity, written) -> None:
    out, paths = written
    names = {p.relative_to(out).as_posix() for p in paths}
    assert "990000_演示市_名录_2025.xlsx" in names
    code = city.faulty[0]
    stem = f"{code}_{city.county_names[code]}_2025-12"
    assert f"{stem}.xlsx" in names and f"corrections/{stem}_更正.xlsx" in names
    assert "manifest.json" in names
    wb = openpyxl.load_workbook(out / f"{stem}.xlsx", read_only=True)
    assert wb.properties.subject == "演示数据"
    assert wb.sheetnames == [LEDGERS[n].title for n in demo.MONTHLY_LEDGERS] + ["说明"]
    assert "演示数据" in wb["说明"]["A1"].value
    master = openpyxl.load_workbook(out / "990000_演示市_名录_2025.xlsx", read_only=True)
    assert master.sheetnames == ["区县名录", "定点医药机构名录", "说明"]
    headers, rows = sheet_table(master["区县名录"], 1)
    assert headers == [f.header for f in LEDGERS["counties"].fields] and len(rows) == 20


def test_workbooks_read_back_with_contract_headers(city: demo.DemoCity, written) -> None:
    out, _ = written
    manifest = demo.read_manifest(out)
    for entry in manifest["counties"]:
        if not entry["written"] or entry["faulty"]:
            continue
        code, lay = entry["county_code"], demo.Layout(**entry["layout"])
        path = out / demo.file_name(code, entry["county_name"], "2025-11")
        wb = openpyxl.load_workbook(path, read_only=True)
        for name in demo.MONTHLY_LEDGERS:
            lg = LEDGERS[name]
            ws = wb[lg.title]
            if lay.title_rows:
                assert "演示数据" in str(ws.cell(1, 1).value)
            headers, rows = sheet_table(ws, lay.title_rows + 1)
            expected = [f.header for f in lg.fields]
            if lay.fullwidth:
                expected = [h.replace("(", "（").replace(")", "）") for h in expected]
            assert headers == expected
            frame = city.frames[name]
            when = frame[lg.date_field]
            in_month = (
                (when == "2025-11")
                if name == "activities"
                else (when.dt.strftime("%Y-%m") == "2025-11")
            )
            assert len(rows) == int(((frame["county_code"] == code) & in_month).sum())
            date_cols = [i for i, f in enumerate(lg.fields) if f.type == "date"]
            for row in rows[:3]:
                for i in date_cols:
                    if row[i] is None:
                        continue
                    if lay.text_dates:
                        assert isinstance(row[i], str) and ("年" in row[i] or "/" in row[i])
                    else:
                        assert hasattr(row[i], "year")
    df = pd.read_excel(
        out / demo.master_file_name(city),
        sheet_name="定点医药机构名录",
        engine="calamine",
        dtype=str,
    )
    assert list(df.columns) == [f.header for f in LEDGERS["institutions"].fields]
    assert len(df) == len(city.frames["institutions"])


def test_faulty_file_contains_each_mistake_class(city: demo.DemoCity, written) -> None:
    out, _ = written
    manifest = demo.read_manifest(out)
    mistakes = manifest["mistakes"]
    assert {m["code"] for m in mistakes} == EXPECTED_CODES and len(mistakes) == len(EXPECTED_CODES)
    code = city.faulty[0]
    wb = openpyxl.load_workbook(out / mistakes[0]["file"])
    known = {c for c, _ in city.counties}
    all_cases = set(city.frames["cases"]["case_id"])
    for m in mistakes:
        ws = wb[m["sheet"]]
        lay = city.layouts[code]
        headers = [c.value for c in ws[lay.title_rows + 1]]
        row = {h: c.value for h, c in zip(headers, ws[m["row"]])}
        value = row[m["column"]]
        lg = next(lg for lg in LEDGERS.values() if lg.title == m["sheet"])
        h = {f.name: f.header for f in lg.fields}
        if m["code"] == "E_RECOVERED_GT_DUE":
            assert value > row[h["amount_due"]]
        elif m["code"] == "E_CLOSED_BEFORE_FILED":
            assert row[h["found_date"]] <= value < row[h["filed_date"]]
        elif m["code"] == "E_DUPLICATE_KEY":
            ids = [c.value for c in ws[openpyxl.utils.get_column_letter(1)]]
            assert ids.count(value) == 2
        elif m["code"] == "E_UNKNOWN_COUNTY":
            assert str(value) not in known and len(str(value)) == 6
        elif m["code"] == "E_ID_CHECKSUM":
            assert len(value) == 18 and not gb11643_ok(value)
        elif m["code"] == "E_NOT_NUMBER":
            assert value == "约5万"
        elif m["code"] == "E_NEGATIVE_MONEY":
            assert value < 0
        elif m["code"] == "E_ENUM":
            assert value not in lg.field(m["field"]).enum
        elif m["code"] == "E_REQUIRED":
            assert value is None and lg.field(m["field"]).required
        elif m["code"] == "E_UNKNOWN_CASE":
            assert value not in all_cases
        elif m["code"] == "E_REFERRED_BUT_NO_ACTION":
            assert value in ("是", "Y") and row[h["outcome"]] == "约谈"
        elif m["code"] == "E_UNKNOWN_INSPECTION":
            assert value not in set(city.frames["inspections"]["inspection_id"])
    # The correction carries the clean rows: as many as the ledgers, none of the mistakes.
    fixed = openpyxl.load_workbook(
        out
        / "corrections"
        / demo.file_name(code, city.county_names[code], city.months[-1], corrected=True),
        read_only=True,
    )
    cases = city.frames["cases"]
    n = int(((cases["county_code"] == code) & (cases["found_date"] >= "2025-12-01")).sum())
    _, rows = sheet_table(fixed["案件台账"], city.layouts[code].title_rows + 1)
    assert len(rows) == n
    amount = [f.name for f in LEDGERS["cases"].fields].index("amount_involved")
    assert "约5万" not in {r[amount] for r in rows}


def test_cli_writes_and_summarises(tmp_path: Path, capsys) -> None:
    rc = cli(
        [
            "demo",
            "--out",
            str(tmp_path / "city"),
            "--counties",
            "3",
            "--start",
            "2025-11",
            "--end",
            "2025-12",
            "--seed",
            "5",
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "演示数据" in text and "进度滞后" in text and "案件台账" in text
    assert len(list((tmp_path / "city").glob("*.xlsx"))) == 1 + 3 * 2
    assert cli(["demo", "--out", str(tmp_path / "x"), "--start", "2025-13"]) == 2


def test_cases_csv_for_benchmarks(tmp_path: Path) -> None:
    path = demo.write_cases_csv(tmp_path / "cases.csv", 3000, encoding="gbk")
    df = pd.read_csv(path, encoding="gbk", dtype=str)
    assert len(df) == 3000
    assert list(df.columns) == [f.header for f in LEDGERS["cases"].fields]
    assert df["案件编号"].is_unique
    assert set(df["是否移送公安"]) <= {"是", "否"}


# ---------------------------------------------------------------------------------------------
# geojson and the committed sample


def _overlap(a: list[list[float]], b: list[list[float]]) -> bool:
    """Separating-axis test for two convex polygons; touching edges do not count."""
    for poly in (a, b):
        for (x1, y1), (x2, y2) in zip(poly, poly[1:]):
            nx, ny = y2 - y1, x1 - x2
            pa = [nx * x + ny * y for x, y in a]
            pb = [nx * x + ny * y for x, y in b]
            if max(pa) <= min(pb) + 1e-9 or max(pb) <= min(pa) + 1e-9:
                return False
    return True


def test_geojson_asset_is_the_default_city(city: demo.DemoCity) -> None:
    asset = json.loads(demo.ASSET_GEOJSON.read_text(encoding="utf-8"))
    assert asset == demo.demo_geojson(city)
    feats = asset["features"]
    assert [f["properties"]["county_code"] for f in feats] == [c for c, _ in city.counties]
    rings = [f["geometry"]["coordinates"][0] for f in feats]
    for ring in rings:
        assert ring[0] == ring[-1] and len(ring) == 7
        area = sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(ring, ring[1:]))
        assert area > 0  # counter-clockwise exterior ring (RFC 7946)
    assert not any(
        _overlap(rings[i], rings[j]) for i in range(len(rings)) for j in range(i + 1, len(rings))
    )
    shared = {tuple(p) for p in rings[0]} & {tuple(p) for p in rings[1]}
    assert len(shared) == 2  # neighbours share an edge exactly


def test_committed_samples_are_current(tmp_path: Path) -> None:
    """data_samples/ is regenerated byte for byte; if this fails, run demo.write_samples()."""
    committed = ROOT / "data_samples"
    paths = demo.write_samples(tmp_path)
    assert sum(p.stat().st_size for p in paths) < 1_000_000
    for p in paths:
        rel = p.relative_to(tmp_path)
        assert (committed / rel).read_bytes() == p.read_bytes(), rel
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert {m["code"] for m in manifest["mistakes"]} == EXPECTED_CODES
