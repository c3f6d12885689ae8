"""`workbench demo`: write the demo city's workbooks (演示数据) and say what is in them."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from workbench.contracts import LEDGERS
from workbench.cliargs import month, whole
from workbench.messages import t

EXTRACT_DIR = "结算数据"  # the settlement extract for screening, beside the workbooks


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help=t("demo.help"), description=t("demo.description"))
    p.add_argument("--out", default="demo_city", help=t("demo.arg_out"))
    p.add_argument("--counties", type=whole(1), default=10, help=t("demo.arg_counties"))
    p.add_argument("--seed", type=int, default=20251, help=t("demo.arg_seed"))
    p.add_argument("--start", default="2024-01", type=month, help=t("demo.arg_start"))
    p.add_argument("--end", default="2025-12", type=month, help=t("demo.arg_end"))
    p.add_argument("--samples", action="store_true", help=t("demo.arg_samples"))
    p.add_argument("--no-extract", action="store_true", help=t("demo.arg_no_extract"))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench import demo

    began = time.perf_counter()
    out = Path(args.out)
    if args.samples:
        paths = demo.write_samples(out, seed=args.seed)
        print(t("demo.samples_done", out=out, files=len(paths)))
        return 0
    try:
        city = demo.generate_city(
            n_counties=args.counties, start=args.start, end=args.end, seed=args.seed
        )
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    paths = demo.write_city(city, out)
    extract = [] if args.no_extract else demo.write_settlement_extract(city, out / EXTRACT_DIR)
    manifest = demo.read_manifest(out)
    names = city.county_names
    workbooks = [p for p in paths if p.suffix == ".xlsx"]
    lines = [
        t("demo.summary_head", out=out, city=city.city_name, city_code=city.city_code),
        t(
            "demo.summary_scope",
            counties=len(city.counties),
            start=city.start,
            end=city.end,
            workbooks=len(workbooks),
        ),
        t("demo.summary_rows_head"),
        *(
            t("demo.summary_rows", title=LEDGERS[name].title, rows=f"{rows:,}")
            for name, rows in city.rows().items()
        ),
        t(
            "demo.summary_lagging",
            names="、".join(f"{c} {names[c]}" for c in city.lagging) or t("demo.summary_none"),
        ),
    ]
    mistakes = manifest["mistakes"]
    for file in dict.fromkeys(m["file"] for m in mistakes):
        lines.append(
            t("demo.summary_faulty", file=out / file, n=sum(m["file"] == file for m in mistakes))
        )
    for rel in manifest["files"]:
        if rel.startswith("corrections/"):
            lines.append(t("demo.summary_correction", file=out / rel))
    lines.append(t("demo.summary_manifest", file=out / "manifest.json"))
    if extract:
        lines.append(t("demo.summary_extract", path=out / EXTRACT_DIR, files=len(extract)))
    lines.append(t("demo.summary_time", seconds=f"{time.perf_counter() - began:.1f}"))
    print("\n".join(lines))
    return 0
