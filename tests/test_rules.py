"""Every rule of every ledger, driven by the contracts: break one thing in an otherwise valid
row and the ingest must name that rule's code at that row and column — and only quarantine
that row. Expectations come from the contract definitions, not from the validator."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from tests.ingest_corpus import VALID_ROWS
from workbench.contracts import LEDGERS, Ledger
from workbench.ingest import ingest_paths

FILE = "990101_测试县_2025-09.xlsx"
TYPE_GARBAGE = {
    "code6": ("12345", "E_CODE6"),
    "int": ("三", "E_NOT_NUMBER"),
    "yuan": ("一万", "E_NOT_NUMBER"),
    "date": ("2025-13-45", "E_DATE"),
    "bool": ("可能", "E_BOOL"),
    "enum": ("不存在的选项", "E_ENUM"),
    "month": ("2025年13月", "E_MONTH"),
    "id_card": ("123", "E_ID_FORMAT"),
}


def _write(folder: Path, ledger: Ledger, rows: list[dict[str, object]]) -> Path:
    """The reference rows of every ledger before `ledger`, then `ledger` with one good row and
    the rows under test, in a real workbook."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, lg in LEDGERS.items():
        ws = wb.create_sheet(lg.title)
        ws.append([f.header for f in lg.fields])
        ws.append([VALID_ROWS[name][f.name] for f in lg.fields])
        if name == ledger.name:
            for row in rows:
                ws.append([row.get(f.name) for f in lg.fields])
            break
    path = folder / FILE
    wb.save(path)
    return path


def _nth_row(ledger: Ledger, n: int, **changes: object) -> dict[str, object]:
    """A copy of the valid row with a fresh key (the n-th), then `changes`."""
    row = dict(VALID_ROWS[ledger.name])
    for k in ledger.key:
        f = ledger.field(k)
        if f.type == "text":
            row[k] = f"{row[k]}-{n}"
        elif f.type == "month":
            row[k] = f"{2000 + n}-01"
        elif f.type == "int":
            row[k] = int(row[k]) + n
    row.update(changes)
    return row


def _cases() -> list[tuple[str, str, dict, str, str]]:
    out = []
    for lg in LEDGERS.values():
        for f in lg.fields:
            if f.required:
                out.append(
                    (f"{lg.name}.{f.name}.required", lg.name, {f.name: None}, f.name, "E_REQUIRED")
                )
            if f.type in TYPE_GARBAGE:
                value, code = TYPE_GARBAGE[f.type]
                out.append((f"{lg.name}.{f.name}.type", lg.name, {f.name: value}, f.name, code))
            if f.type in ("int",):
                out.append(
                    (f"{lg.name}.{f.name}.negative", lg.name, {f.name: -1}, f.name, "E_NEGATIVE")
                )
            if f.type == "yuan":
                out.append(
                    (
                        f"{lg.name}.{f.name}.negative",
                        lg.name,
                        {f.name: -1},
                        f.name,
                        "E_NEGATIVE_MONEY",
                    )
                )
        for c in lg.compares:
            good = VALID_ROWS[lg.name]
            # make left violate `left op right` by moving it past the right-hand value
            right = good[c.right]
            if hasattr(right, "toordinal"):
                import datetime as dt

                bad = right - dt.timedelta(days=1) if c.op == ">=" else right + dt.timedelta(1)
            else:
                bad = right - 1 if c.op == ">=" else right + 1
            changes = {c.left: bad}
            if c.left == "closed_date" and "filed_date" in good and c.right == "found_date":
                changes["filed_date"] = good["found_date"]
            out.append((f"{lg.name}.{c.code}.{c.left}", lg.name, changes, c.left, c.code))
        for rw in lg.required_when:
            out.append(
                (
                    f"{lg.name}.{rw.code}",
                    lg.name,
                    {rw.when_field: rw.values[0], rw.field: None},
                    rw.field,
                    rw.code,
                )
            )
        for ref in lg.references:
            value = "990199" if ref.field == "county_code" else "不存在-001"
            out.append(
                (
                    f"{lg.name}.{ref.code}.{ref.field}",
                    lg.name,
                    {ref.field: value},
                    ref.field,
                    ref.code,
                )
            )
    return out


CASES = _cases()


@pytest.mark.parametrize("name", list(LEDGERS))
def test_each_rule(name: str, tmp_path: Path) -> None:
    """One workbook per ledger: row 2 valid, then one row per rule, each breaking only it."""
    lg = LEDGERS[name]
    cases = [c for c in CASES if c[1] == name]
    rows = [_nth_row(lg, i + 2, **changes) for i, (_id, _n, changes, _f, _c) in enumerate(cases)]
    _write(tmp_path, lg, rows)
    report = ingest_paths([tmp_path / FILE], tmp_path / "wh.duckdb")
    found = {
        (r.sheet, int(r.row), r.column, r.code)
        for r in report.issues.itertuples()
        if r.row == r.row and r.row is not None
    }
    missing = [
        case_id
        for i, (case_id, _n, _ch, field, code) in enumerate(cases)
        if (lg.title, i + 3, lg.field(field).header, code) not in found
    ]
    assert not missing, f"rules not reported where expected: {missing}"
    warnings_only = sum(
        1 for c in cases if any(k.code == c[4] and k.severity == "warning" for k in lg.compares)
    )
    assert report.rows_in[name] == len(cases) + 1
    assert report.accepted[name] == 1 + warnings_only
