"""`workbench quarantine`: rows that were not accepted, with their reasons, to send back."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from workbench.config import warehouse_path
from workbench.contracts import LEDGERS
from workbench.messages import t
from workbench.privacy import excel_safe_frame, mask_frame
from workbench.warehouse import Warehouse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("quarantine", help=t("quarantine.help"), description=t("quarantine.help"))
    p.add_argument("--warehouse", help=t("cmd.warehouse"))
    p.add_argument("--county", help=t("quarantine.county"))
    p.add_argument("--out", help=t("quarantine.out"))
    p.set_defaults(func=run)


def quarantine_frame(wh: Warehouse, county: str | None = None) -> pd.DataFrame:
    """Quarantined rows of live submissions: where, why, and the row's own cells (masked)."""
    sql = (
        "SELECT s.county_code, s.period, q.ledger, q.file, q.sheet, q.row_number, q.codes, "
        "q.reasons, q.raw FROM quarantine q JOIN submissions s USING (submission_id)"
    )
    params: list = []
    if county:
        sql += " WHERE s.county_code = ?"
        params.append(county)
    df = wh.table(sql + " ORDER BY q.file, q.sheet, q.row_number", params)
    cells = pd.DataFrame([json.loads(r) for r in df["raw"]]) if len(df) else pd.DataFrame()
    cells = mask_frame(cells) if len(cells) else cells
    out = df.drop(columns="raw").assign(
        ledger=df["ledger"].map(lambda n: LEDGERS[n].title if n in LEDGERS else n)
    )
    out = out.rename(
        columns={
            "county_code": "区县",
            "period": "报送期",
            "ledger": "台账",
            "file": "文件",
            "sheet": "工作表",
            "row_number": "行号",
            "codes": "规则编码",
            "reasons": "原因",
        }
    )
    # a ledger column named like one of ours (the leads ledger's 规则编码) keeps its own column
    cells.columns = [
        f"{c}{t('quarantine.cell_suffix')}" if c in out.columns else c for c in cells.columns
    ]
    return pd.concat([out.reset_index(drop=True), cells.reset_index(drop=True)], axis=1)


def _county_code(wh: Warehouse, county: str) -> str | None:
    """A county given by code or by name → the code the submissions carry (None: unknown)."""
    codes = set(
        wh.con.execute("SELECT DISTINCT county_code FROM submissions")
        .fetchnumpy()["county_code"]
        .tolist()
    )
    if county in codes:
        return county
    named = wh.con.execute(
        'SELECT DISTINCT county_code FROM "counties" WHERE county_name = ?', [county]
    ).fetchall()
    return named[0][0] if len(named) == 1 and named[0][0] in codes else None


def run(args: argparse.Namespace) -> int:
    path = warehouse_path(args.warehouse)
    if not path.exists():
        if args.warehouse:
            print(t("cmd.no_such_warehouse", path=path), file=sys.stderr)
            return 2
        print(t("status.empty"))
        return 0
    with Warehouse(path, read_only=True) as wh:
        county = args.county
        if county:
            county = _county_code(wh, county.strip())
            if county is None:
                print(t("quarantine.unknown_county", county=args.county), file=sys.stderr)
                return 2
        frame = quarantine_frame(wh, county)
    print(t("quarantine.count", n=len(frame)))
    if len(frame):
        print(frame.groupby(["文件", "台账"]).size().rename("行数").to_string())
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        safe = excel_safe_frame(frame)
        if out.suffix.lower() == ".csv":
            safe.to_csv(out, index=False, encoding="utf-8-sig")  # Excel reads the BOM
        else:
            safe.to_excel(out, index=False, sheet_name="隔离区")
        print(t("quarantine.written", path=out))
    return 0
