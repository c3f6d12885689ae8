"""Every measure of every shipped indicator set declares its unit, so a definition panel or a
document writes "结案案件数25件", never a bare number; a count declares a counted unit."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from workbench import fmt
from workbench.declarations import load_set

SHIPPED = Path(__file__).resolve().parents[1] / "indicators"
SETS = sorted(
    p.stem
    for p in SHIPPED.glob("*.yaml")
    if (yaml.safe_load(p.read_text(encoding="utf-8")) or {}).get("kind") == "indicator_set"
)


def test_the_shipped_sets_are_found():
    assert {"campaign_2025", "no_fraud_city", "screening_2025"} <= set(SETS)


@pytest.mark.parametrize("code", SETS)
def test_every_measure_declares_a_unit(code: str):
    s = load_set(SHIPPED / f"{code}.yaml")
    missing = [m.code for m in s.measures.values() if not str(m.unit or "").strip()]
    assert missing == []
    counts = {m.code: m.unit for m in s.measures.values() if m.agg in ("count", "distinct_count")}
    assert counts  # every shipped set counts something
    not_counted = {c: u for c, u in counts.items() if fmt.unit_kind(u) != fmt.COUNT}
    assert not_counted == {}
