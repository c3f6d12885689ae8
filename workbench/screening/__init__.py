"""Screening settlement data for 疑点 with declared rules (see docs/screening.md).

tables (the input contract) → load (CSV/Parquet → validated scr_ tables, IDs salted-hashed)
→ rules (YAML + SQL, validated) → engines (DuckDB, Spark) → run (evidence, leads, coverage)
→ lists (masked county Excel lists) and summary (tables for the faces).
"""
