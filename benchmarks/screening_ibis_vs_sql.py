"""How the screening engine's rule language was chosen: one rule (ZNJK-01) as SQL (the shipped
declaration, run by the DuckDB engine) and the same rule written in Ibis, on the same data, side
by side. Not run by `python -m benchmarks` (Ibis is not a dependency); run it where
`ibis-framework[duckdb]` is installed:

    python benchmarks/screening_ibis_vs_sql.py SETTLEMENTS.parquet RULE.sql

SETTLEMENTS.parquet: settlements in the contract's layout (e.g. a month of the benchmark's
extract); RULE.sql: `load_rules().rules["ZNJK-01"].render(Window("2025-01", "2025-12"))`.
Results are in benchmarks/RESULTS.md (Screening).
"""

from __future__ import annotations

import statistics
import sys
import time


def main(parquet: str, sql_file: str) -> None:
    import duckdb
    import ibis
    from ibis import _

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(
        "CREATE VIEW settlements AS SELECT * FROM read_parquet(?) WHERE NOT refd_setl_flag",
        [parquet],
    )
    sql = open(sql_file, encoding="utf-8").read()
    backend = ibis.duckdb.from_connection(con)

    def ibis_rule():
        s = backend.table("settlements")
        exempt = ["N18.5", "Z49", "Z51.0", "Z51.1"]
        ex = s.dise_codg.startswith(exempt[0])
        for p in exempt[1:]:
            ex = ex | s.dise_codg.startswith(p)
        v = s.filter(
            s.med_type.isin(["普通门诊", "定点药店购药"]),
            ~ex.fill_null(False),
            s.begntime >= ibis.timestamp("2025-01-01 00:00:00"),
            s.begntime < ibis.timestamp("2026-01-01 00:00:00"),
        ).mutate(month=_.begntime.strftime("%Y-%m"))
        f = (
            v.group_by(["psn_no", "month"])
            .aggregate(visits=v.mdtrt_id.nunique())
            .filter(_.visits >= 15)
        )
        j = v.join(f, ["psn_no", "month"])
        return j.select(
            setl_id=j.setl_id,
            subject_key=j.psn_no,
            county_code=j.insu_admdvs,
            month=j.month,
            amount=j.fund_pay_sumamt,
        )

    t0 = time.perf_counter()
    ibis.to_sql(ibis_rule(), dialect="duckdb")
    compile_s = time.perf_counter() - t0
    a, b = [], []
    for _i in range(5):
        t0 = time.perf_counter()
        con.sql(sql).to_arrow_table()
        a.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ibis_rule().to_pyarrow()
        b.append(time.perf_counter() - t0)
    print(
        f"SQL {statistics.median(a):.3f} s, Ibis {statistics.median(b):.3f} s "
        f"(median of 5, alternated); Ibis build + compile {compile_s:.3f} s"
    )


if __name__ == "__main__":
    main(*sys.argv[1:3])
