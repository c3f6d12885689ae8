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


def test_indicators_dir_flag_env_file_default(tmp_path, monkeypatch):
    from workbench import config

    monkeypatch.delenv(config.ENV_INDICATORS, raising=False)
    monkeypatch.setenv("WORKBENCH_CONFIG", str(tmp_path / "workbench.toml"))
    (tmp_path / "workbench.toml").write_text('[indicators]\ndir = "我的指标"\n', encoding="utf-8")
    assert config.indicators_dir() == tmp_path / "我的指标"
    monkeypatch.setenv(config.ENV_INDICATORS, "/x/y")
    assert config.indicators_dir() == config.Path("/x/y")
    assert config.indicators_dir("flag") == config.Path("flag")
    (tmp_path / "workbench.toml").write_text("", encoding="utf-8")
    monkeypatch.delenv(config.ENV_INDICATORS)
    assert config.indicators_dir() == config.project_root() / "indicators"
