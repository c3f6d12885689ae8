"""Where the warehouse lives: flag > environment > workbench.toml > default."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.config import DEFAULT_WAREHOUSE, warehouse_path


def test_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WORKBENCH_WAREHOUSE", raising=False)
    monkeypatch.delenv("WORKBENCH_CONFIG", raising=False)
    assert warehouse_path() == DEFAULT_WAREHOUSE
    (tmp_path / "workbench.toml").write_text(
        '[warehouse]\npath = "data/city.duckdb"\n', encoding="utf-8"
    )
    sub = tmp_path / "notebooks"
    sub.mkdir()
    monkeypatch.chdir(sub)  # found in a parent folder, relative to the file
    assert warehouse_path() == tmp_path.resolve() / "data" / "city.duckdb"
    monkeypatch.setenv("WORKBENCH_WAREHOUSE", "/srv/wh.duckdb")
    assert warehouse_path() == Path("/srv/wh.duckdb")
    assert warehouse_path("x.duckdb") == Path("x.duckdb")
