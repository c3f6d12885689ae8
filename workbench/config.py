"""Where things live: warehouse path, output folders. Flag > environment > config file > default."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

ENV_WAREHOUSE = "WORKBENCH_WAREHOUSE"
# Set by `workbench serve` for the dashboard kernels: the page template already loads plotly.js.
ENV_STATIC_PLOTLY = "WORKBENCH_STATIC_PLOTLY"
CONFIG_NAMES = ("workbench.toml", ".workbench.toml")
DEFAULT_WAREHOUSE = Path("warehouse") / "workbench.duckdb"


def _config_file(start: Path | None = None) -> Path | None:
    if env := os.environ.get("WORKBENCH_CONFIG"):
        return Path(env)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        for name in CONFIG_NAMES:
            if (folder / name).is_file():
                return folder / name
    return None


def load_config() -> dict:
    path = _config_file()
    if path is None or not path.is_file():
        return {}
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    data["_path"] = str(path)
    return data


def warehouse_path(flag: str | os.PathLike | None = None) -> Path:
    """The DuckDB file: `--warehouse`, $WORKBENCH_WAREHOUSE, workbench.toml, then the default."""
    if flag:
        return Path(flag)
    if env := os.environ.get(ENV_WAREHOUSE):
        return Path(env)
    cfg = load_config()
    section = cfg.get("warehouse")
    value = section.get("path") if isinstance(section, dict) else section
    if value:
        base = Path(cfg["_path"]).parent
        return (base / value) if not Path(value).is_absolute() else Path(value)
    return DEFAULT_WAREHOUSE


def project_root() -> Path:
    """The checkout the package runs from (for indicators/, notebooks/, dashboards/)."""
    return Path(__file__).resolve().parent.parent


def documents_config() -> dict:
    """The `[documents]` section of workbench.toml: issuer, 文号 pattern, 主送, 抄送, 印发机关 for
    the official documents (see docs/文书.md); {} when absent."""
    section = load_config().get("documents")
    return dict(section) if isinstance(section, dict) else {}
