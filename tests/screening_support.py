"""Shared fixtures for the screening tests: the demo city's roster and settlement extract,
loaded once per session into a warehouse that tests copy before changing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from workbench import demo
from workbench.screening import demo_extract as de
from workbench.screening.load import load_paths
from workbench.screening.salt import Salt
from workbench.warehouse import Warehouse

SALT = Salt("test-salt-0123456789abcdef", "env")


@pytest.fixture(scope="session")
def city() -> demo.DemoCity:
    return demo.generate_city(n_counties=10)


@pytest.fixture(scope="session")
def extract(city: demo.DemoCity) -> de.Extract:
    months = [str(p) for p in __import__("pandas").period_range(end=city.end, periods=12, freq="M")]
    return de.generate_extract(city.frames["institutions"], months, de.TEST_SCALE, seed=7)


@pytest.fixture(scope="session")
def extract_dir(extract: de.Extract, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("extract")
    de.write_extract(extract, out)
    return out


@pytest.fixture(scope="session")
def loaded(city, extract_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse holding the roster and the whole extract (never changed: copy it)."""
    path = tmp_path_factory.mktemp("wh") / "wh.duckdb"
    with Warehouse(path) as wh:
        wh.con.execute("SET enable_progress_bar = false")
        wh.load_frames({k: city.frames[k] for k in ("counties", "institutions")})
        report = load_paths(wh.con, [extract_dir], SALT)
        assert report.ok and report.quarantined == 0, report.file_issues
    return path


@pytest.fixture()
def wh_copy(loaded: Path, tmp_path: Path) -> Path:
    target = tmp_path / "wh.duckdb"
    shutil.copy(loaded, target)
    return target
