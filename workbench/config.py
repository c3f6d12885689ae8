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
    return _configured("warehouse", "path", bare=True) or DEFAULT_WAREHOUSE


def _configured(section: str, key: str, bare: bool = False) -> Path | None:
    """A path from workbench.toml `[section] key = …` (relative to the file); with `bare`, a
    plain `section = "…"` too."""
    cfg = load_config()
    found = cfg.get(section)
    value = found.get(key) if isinstance(found, dict) else (found if bare else None)
    if not value:
        return None
    base = Path(cfg["_path"]).parent
    return (base / value) if not Path(value).is_absolute() else Path(value)


def project_root() -> Path:
    """The checkout the package runs from (for indicators/, notebooks/, dashboards/)."""
    return Path(__file__).resolve().parent.parent


ENV_INDICATORS = "WORKBENCH_INDICATORS_DIR"


def indicators_dir(flag: str | os.PathLike | None = None) -> Path:
    """The folder of indicator sets every face reads: `--indicators-dir`,
    $WORKBENCH_INDICATORS_DIR, workbench.toml `[indicators] dir`, then the shipped `indicators/`.
    `workbench run` and `serve` pass the flag on to their kernels through the environment."""
    if flag:
        return Path(flag)
    if env := os.environ.get(ENV_INDICATORS):
        return Path(env)
    return _configured("indicators", "dir") or project_root() / "indicators"


def use_indicators_dir(flag: str | os.PathLike | None) -> None:
    """`--indicators-dir` of a command that starts kernels (run, serve): the folder is handed
    to every kernel through the environment, so notebooks and dashboards read the same sets."""
    if flag:
        os.environ[ENV_INDICATORS] = str(Path(flag).resolve())


ENV_SETS = "WORKBENCH_SETS"


def chosen_sets() -> list[str] | None:
    """The indicator sets `workbench serve --set` chose for its kernels (None: every set of
    the indicators folder)."""
    env = os.environ.get(ENV_SETS, "")
    names = [s.strip() for s in env.replace("，", ",").split(",") if s.strip()]
    return names or None


def use_sets(names: list[str] | None) -> None:
    """`--set` of `workbench serve`: the cockpit offers only these sets (handed to every kernel
    through the environment)."""
    if names:
        os.environ[ENV_SETS] = ",".join(
            s.strip() for item in names for s in item.replace("，", ",").split(",") if s.strip()
        )
