"""`workbench notebook`: a working copy of a shipped notebook, parameters filled in.

Analysts change parameters and run cells; doing that in `notebooks/` would write their values
and outputs into the notebooks the monthly batch runs. The copy goes to a working folder
(default `工作区/` in the project, ignored by git). Its parameters cell is rewritten in place
rather than followed by papermill's injected cell: an injected cell would silently override
whatever the analyst later types into the parameters cell.

`refuse_shipped_save` is a Jupyter pre-save hook (the printed `jupyter lab` command sets it)
that refuses to save over a shipped notebook, with a Chinese message — file modes do not stop
a server running as root.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Any

from workbench.cliargs import month_or_latest
from workbench.config import project_root
from workbench.messages import t

WORK_FOLDER = "工作区"
SHIPPED_FOLDERS = ("notebooks", "dashboards")
HOOK = f"{__name__}.refuse_shipped_save"


class NotebookError(ValueError):
    """A name or parameter the user gave that does not fit; the message says what would."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "notebook",
        help=t("notebook.cli.help"),
        description=t("notebook.cli.description"),
    )
    p.add_argument("name", nargs="?", metavar="笔记本名称", help=t("notebook.cli.name"))
    p.add_argument("--county", help=t("notebook.cli.county"))
    p.add_argument("--period", type=month_or_latest, help=t("notebook.cli.period"))
    p.add_argument("--indicator-set", help=t("notebook.cli.indicator_set"))
    p.add_argument("--warehouse", help=t("notebook.cli.warehouse"))
    p.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        metavar=("名称", "值"),
        default=[],
        help=t("notebook.cli.parameter"),
    )
    p.add_argument("--out", help=t("notebook.cli.out"))
    p.set_defaults(func=run)


# ----------------------------------------------------------------------------- shipped notebooks
def shipped_dir() -> Path:
    return project_root() / "notebooks"


def shipped() -> dict[str, Path]:
    """Shipped notebooks by name (file name without .ipynb)."""
    return {p.stem: p for p in sorted(shipped_dir().glob("*.ipynb"))}


def describe_notebook(path: Path) -> str:
    """The first line of a notebook's first markdown cell, without the heading marks."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                text = line.strip().lstrip("#").strip()
                if text and not text.startswith("<!--"):
                    return text
            break
    return ""


def _find(name: str) -> Path:
    notebooks = shipped()
    key = Path(name).name.removesuffix(".ipynb")
    if key not in notebooks:
        raise NotebookError(t("notebook.unknown", name=name, choices="、".join(notebooks) or "—"))
    return notebooks[key]


# ----------------------------------------------------------------------------- parameters
def _parameters_cell(nb: Any) -> Any:
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            return cell
    return None


def _assignments(source: str) -> dict[str, ast.Assign]:
    """Top-level `name = value` statements of a parameters cell, by name."""
    out: dict[str, ast.Assign] = {}
    for node in ast.parse(source).body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            out[node.targets[0].id] = node
    return out


def parameter_names(path: Path) -> list[str]:
    """The parameters a shipped notebook declares (its `parameters` cell), in order."""
    import nbformat

    cell = _parameters_cell(nbformat.read(path, as_version=4))
    return list(_assignments(cell.source)) if cell is not None else []


def _literal(value: object) -> str:
    if isinstance(value, (str, int, float, bool, list, dict, type(None))):
        return repr(value)
    return repr(str(value))


def set_parameters(source: str, values: dict[str, object]) -> str:
    """The parameters cell with each named assignment's value replaced, its comment kept."""
    lines = source.split("\n")
    found = _assignments(source)
    for name, node in sorted(found.items(), key=lambda kv: -kv[1].lineno):
        if name not in values:
            continue
        last = lines[node.end_lineno - 1]
        tail = last.encode("utf-8")[node.end_col_offset :].decode("utf-8").strip()
        comment = f"  {tail}" if tail.startswith("#") else ""
        lines[node.lineno - 1 : node.end_lineno] = [f"{name} = {_literal(values[name])}{comment}"]
    return "\n".join(lines)


def _safe_part(text: str) -> str:
    return re.sub(r"[^\w\-]+", "_", str(text)).strip("_")


def _free_name(folder: Path, stem: str) -> Path:
    """`stem.ipynb`, or `stem_2.ipynb`, `stem_3.ipynb`… — never over an analyst's copy."""
    path = folder / f"{stem}.ipynb"
    n = 2
    while path.exists():
        path = folder / f"{stem}_{n}.ipynb"
        n += 1
    return path


def working_copy(
    name: str, parameters: dict[str, object] | None = None, out: str | Path | None = None
) -> Path:
    """Write a copy of shipped notebook `name` with `parameters` set into `out` (default
    `工作区/` in the project) and return its path. The shipped file is only read."""
    import nbformat

    source = _find(name)
    parameters = {k: v for k, v in (parameters or {}).items() if v is not None}
    nb = nbformat.read(source, as_version=4)
    cell = _parameters_cell(nb)
    known = list(_assignments(cell.source)) if cell is not None else []
    unknown = [k for k in parameters if k not in known]
    if unknown:
        raise NotebookError(
            t(
                "notebook.unknown_parameter",
                name=source.stem,
                params="、".join(unknown),
                choices="、".join(known) or "—",
            )
        )
    if cell is not None and parameters:
        cell.source = set_parameters(cell.source, parameters)
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs = []
            c.execution_count = None
    nb.metadata["workbench"] = {
        "copied_from": str(source.relative_to(project_root())),
        "parameters": {k: _literal(v) for k, v in parameters.items()},
    }
    folder = Path(out) if out else project_root() / WORK_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    parts = [source.stem] + [
        _safe_part(parameters[k]) for k in ("county", "period") if k in parameters
    ]
    path = _free_name(folder, "_".join(p for p in parts if p))
    tmp = path.with_name(f".{path.name}.tmp")
    nbformat.write(nb, tmp)
    tmp.replace(path)
    return path


# ----------------------------------------------------------------------------- JupyterLab
def lab_command(copy: Path, cwd: Path | None = None) -> str:
    """The shell line that opens `copy` in JupyterLab (which then serves the copy's folder)
    with the pre-save hook that protects shipped notebooks set."""
    here = (cwd or Path.cwd()).resolve()

    def shown(path: Path) -> str:
        return str(path.relative_to(here)) if path.is_relative_to(here) else str(path)

    jupyter = Path(sys.executable).parent / "jupyter"
    words = [shlex.quote(shown(jupyter.absolute()) if jupyter.exists() else "jupyter"), "lab"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        words.append("--allow-root")  # JupyterLab refuses to start as root without it
    words += [f"--ContentsManager.pre_save_hook={HOOK}", shlex.quote(shown(copy.resolve()))]
    return " ".join(words)


def is_shipped(os_path: str | Path) -> bool:
    """A notebook the project ships (notebooks/, dashboards/), which analysts must not save."""
    path = Path(os_path).resolve()
    if path.suffix != ".ipynb":
        return False
    root = project_root()
    return any(path.parent == root / folder for folder in SHIPPED_FOLDERS)


def refuse_shipped_save(model: dict, path: str, contents_manager: Any, **_: Any) -> None:
    """Jupyter pre-save hook: saving over a shipped notebook is refused (HTTP 403) with a
    message telling how to make a working copy."""
    from tornado.web import HTTPError

    os_path = contents_manager._get_os_path(path)
    if model.get("type") == "notebook" and is_shipped(os_path):
        name = Path(os_path).stem
        # log_message is what JupyterLab's "File Save Error" dialog shows (the reply's message)
        raise HTTPError(403, t("notebook.refuse_save", name=name))


# ----------------------------------------------------------------------------- CLI
def _parse_value(text: str) -> object:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def run(args: argparse.Namespace) -> int:
    if not args.name:
        print(t("notebook.list_title"))
        for name, path in shipped().items():
            print(t("notebook.list_line", name=name, about=describe_notebook(path)))
        print(t("notebook.list_hint"))
        return 0
    params: dict[str, object] = {k: _parse_value(v) for k, v in args.parameter}
    for key in ("county", "period", "indicator_set"):
        if getattr(args, key) is not None:
            params[key] = str(getattr(args, key))
    if args.warehouse:
        params["warehouse"] = str(Path(args.warehouse).expanduser().resolve())
    try:
        copy = working_copy(args.name, params, args.out)
    except NotebookError as exc:
        print(t("cli.error", message=exc), file=sys.stderr)
        return 2
    shown = "，".join(f"{k}={v}" for k, v in params.items()) or t("notebook.defaults")
    print(t("notebook.written", path=copy, params=shown))
    print(t("notebook.open_with"))
    print(f"  {lab_command(copy)}")
    return 0
