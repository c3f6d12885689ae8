"""`workbench quarantine`: rows that were not accepted, with their reasons, to send back.

The export streams from the warehouse through the same list writer as the ingest issue list
(`issue_list.ListWriter`): any number of rows, split at Excel's row limit, personal data
masked and every cell neutralised against formula injection."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from workbench.config import warehouse_path
from workbench.contracts import LEDGERS
from workbench.issue_list import rule_name
from workbench.messages import t
from workbench.warehouse import Warehouse

META = ("区县", "报送期", "台账", "文件", "工作表", "行号", "问题类型", "规则编码", "原因")
META_WIDTHS = (8, 8, 12, 28, 12, 6, 20, 22, 60)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("quarantine", help=t("quarantine.help"), description=t("quarantine.help"))
    p.add_argument("--warehouse", help=t("cmd.warehouse"))
    p.add_argument("--county", help=t("quarantine.county"))
    p.add_argument("--out", help=t("quarantine.out"))
    p.set_defaults(func=run)


def _where(county: str | None) -> tuple[str, list]:
    return (" WHERE s.county_code = ?", [county]) if county else ("", [])


def export_columns(wh: Warehouse, county: str | None) -> tuple[list[str], list[str]]:
    """The list's columns: where and why, then every ledger header among the rows (a header
    named like one of ours — the leads ledger's 规则编码 — keeps its own column, suffixed)."""
    where, params = _where(county)
    ledgers = [
        r[0]
        for r in wh.con.execute(
            "SELECT DISTINCT q.ledger FROM quarantine q JOIN submissions s USING "
            f"(submission_id){where}",
            params,
        ).fetchall()
    ]
    headers: list[str] = []
    for name in LEDGERS:
        if name in ledgers:
            headers += [f.header for f in LEDGERS[name].fields if f.header not in headers]
    if any(name not in LEDGERS for name in ledgers):  # a declared table's rows: keyed JSON
        keys = wh.con.execute(
            "SELECT DISTINCT unnest(json_keys(q.raw)) FROM quarantine q JOIN submissions s "
            f"USING (submission_id){where}{' AND' if where else ' WHERE'} "
            "starts_with(q.raw, '{') AND q.ledger NOT IN (SELECT unnest(?))",
            [*params, list(LEDGERS)],
        ).fetchall()
        headers += sorted(k for (k,) in keys if k not in headers)
    shown = [f"{h}{t('quarantine.cell_suffix')}" if h in META else h for h in headers]
    return headers, shown


def quarantine_rows(wh: Warehouse, county: str | None, headers: list[str]) -> Iterator[list]:
    """One row per quarantined row of a live submission, personal data masked."""
    import json

    from workbench.ingest import raw_cells
    from workbench.privacy import is_name_column, mask_id_card, mask_name

    def whole(v: object) -> object:
        return mask_id_card(v, whole=True)

    maskers = {}
    for lg in LEDGERS.values():
        for f in lg.fields:
            if f.personal:
                maskers[(lg.name, f.header)] = whole if f.type == "id_card" else mask_name
    where, params = _where(county)
    cur = wh.con.execute(
        "SELECT s.county_code, s.period, q.ledger, q.file, q.sheet, q.row_number, q.codes, "
        "q.reasons, q.raw FROM quarantine q JOIN submissions s USING (submission_id)"
        f"{where} ORDER BY q.file, q.sheet, q.row_number",
        params,
    )
    while batch := cur.fetchmany(5_000):
        for county_code, period, ledger, file, sheet, row, codes, reasons, raw in batch:
            lg = LEDGERS.get(ledger)
            if lg is not None:
                cells = raw_cells(lg, raw) if raw else {}
            else:  # a declared table's row: keyed JSON, personal columns known by their header
                cells = json.loads(raw) if raw else {}
            values = []
            for h in headers:
                v = cells.get(h)
                mask = maskers.get((ledger, h))
                if lg is None and ("身份证" in h or is_name_column(h)):
                    mask = whole if "身份证" in h else mask_name
                values.append(mask(v) if mask and v is not None else v)
            title = lg.title if lg is not None else ledger
            rules = "、".join(filter(None, map(rule_name, (codes or "").split(","))))
            yield [county_code, period, title, file, sheet, row, rules, codes, reasons, *values]


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
    from workbench.commands.ingest import quiet_broken_pipe
    from workbench.issue_list import write_list

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
        where, params = _where(county)
        counts = wh.con.execute(
            "SELECT q.file, q.ledger, count(*) FROM quarantine q JOIN submissions s USING "
            f"(submission_id){where} GROUP BY ALL ORDER BY q.file, q.ledger",
            params,
        ).fetchall()
        paths: list[Path] = []
        if args.out:
            out = Path(args.out)
            out.parent.mkdir(parents=True, exist_ok=True)
            headers, shown = export_columns(wh, county)
            fmt = "csv" if out.suffix.lower() == ".csv" else "xlsx"
            paths = write_list(
                quarantine_rows(wh, county, headers),
                out.with_suffix(""),
                [*META, *shown],
                [*META_WIDTHS, *([14] * len(shown))],
                sheet=t("quarantine.sheet"),
                formats=(fmt,),
            )
    try:
        from workbench.privacy import mask_text

        print(t("quarantine.count", n=sum(n for _f, _l, n in counts)))
        for file, ledger, n in counts:
            title = LEDGERS[ledger].title if ledger in LEDGERS else ledger
            print(t("quarantine.line", file=mask_text(file), ledger=title, n=n))
        for p in paths:
            print(t("quarantine.written", path=p))
    except BrokenPipeError:
        quiet_broken_pipe()
    return 0
