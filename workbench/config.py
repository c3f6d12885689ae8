"""Where things live: warehouse path, output folders. Flag > environment > config file > default.

The CLI resolves relative paths from the folder it runs in. A notebook's kernel runs wherever
JupyterLab puts it (`notebooks/`, a working-copy folder), so notebooks resolve the same chain
from the project root instead (`notebook_warehouse`).
"""

from __future__ import annotations

import errno
import os
import tomllib
from pathlib import Path

from workbench.messages import t

ENV_WAREHOUSE = "WORKBENCH_WAREHOUSE"
# Set by `workbench serve` for the dashboard kernels: the page template already loads plotly.js.
ENV_STATIC_PLOTLY = "WORKBENCH_STATIC_PLOTLY"
CONFIG_NAMES = ("workbench.toml", ".workbench.toml")
DEFAULT_WAREHOUSE = Path("warehouse") / "workbench.duckdb"


def _config_file(start: Path | None = None, root: Path | None = None) -> Path | None:
    """workbench.toml in `start` (the working directory) or a parent; then, for notebooks, in
    `root` or a parent. $WORKBENCH_CONFIG wins (relative to `root` when given)."""
    if env := os.environ.get("WORKBENCH_CONFIG"):
        return _anchored(env, root)
    here = (start or Path.cwd()).resolve()
    folders = [here, *here.parents]
    if root is not None:
        base = root.resolve()
        folders += [f for f in (base, *base.parents) if f not in folders]
    for folder in folders:
        for name in CONFIG_NAMES:
            if (folder / name).is_file():
                return folder / name
    return None


def _anchored(value: str | os.PathLike, root: Path | None) -> Path:
    """A path as given; a relative one under `root` when there is one (notebooks)."""
    path = Path(value)
    if root is None:
        return path
    path = path.expanduser()
    return path if path.is_absolute() else root / path


def load_config(root: Path | None = None) -> dict:
    path = _config_file(root=root)
    if path is None or not path.is_file():
        return {}
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    data["_path"] = str(path)
    return data


def warehouse_path(flag: str | os.PathLike | None = None, *, root: Path | None = None) -> Path:
    """The DuckDB file: `--warehouse`, $WORKBENCH_WAREHOUSE, workbench.toml, then the default.

    `root`: resolve relative paths from that folder instead of the working directory, and look
    for workbench.toml there too (notebooks pass the project root)."""
    if flag:
        return _anchored(flag, root)
    if env := os.environ.get(ENV_WAREHOUSE):
        return _anchored(env, root)
    return _configured("warehouse", "path", bare=True, root=root) or _anchored(
        DEFAULT_WAREHOUSE, root
    )


def _configured(
    section: str, key: str, bare: bool = False, root: Path | None = None
) -> Path | None:
    """A path from workbench.toml `[section] key = …` (relative to the file); with `bare`, a
    plain `section = "…"` too. `root`: look for the file from there too (notebooks)."""
    cfg = load_config(root)
    found = cfg.get(section)
    value = found.get(key) if isinstance(found, dict) else (found if bare else None)
    if not value:
        return None
    base = Path(cfg["_path"]).parent
    return (base / value) if not Path(value).is_absolute() else Path(value)


def configured_path(section: str, key: str) -> Path | None:
    """A path setting of workbench.toml, relative to the file (as every path there is)."""
    return _configured(section, key)


def project_root() -> Path:
    """The checkout the package runs from (for indicators/, notebooks/, dashboards/)."""
    return Path(__file__).resolve().parent.parent


class WarehouseNotFound(FileNotFoundError):
    """No warehouse where a notebook looked. In a notebook it shows as one Chinese line saying
    what to run (IPython prints `_render_traceback_()` instead of a traceback)."""

    def __init__(self, path: Path) -> None:
        self.message = t("notebook.no_warehouse", path=path)
        super().__init__(errno.ENOENT, self.message, str(path))

    def __str__(self) -> str:
        return self.message

    def _render_traceback_(self) -> list[str]:
        return [self.message]


def notebook_warehouse(value: str | os.PathLike | None = None) -> Path:
    """The warehouse a notebook reads: the CLI's chain resolved from the project root, so a
    kernel started in `notebooks/` or a working-copy folder finds what `workbench` finds
    when run in the project folder. Raises WarehouseNotFound when there is no such file."""
    path = warehouse_path(value, root=project_root())
    if not path.is_file():
        raise WarehouseNotFound(path)
    return path


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


def documents_config() -> dict:
    """The `[documents]` section of workbench.toml: issuer, 文号 pattern, 主送, 抄送, 印发机关 for
    the official documents (see docs/文书.md); {} when absent."""
    section = load_config().get("documents")
    return dict(section) if isinstance(section, dict) else {}


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


def bureau_config() -> dict:
    """The `[bureau]` section of workbench.toml: the bureau's `city` and `province` (whose
    documents are its basis, 依据; another jurisdiction's are cited as 参照 — see
    `presentation.citations`); {} when absent."""
    section = load_config().get("bureau")
    return dict(section) if isinstance(section, dict) else {}
