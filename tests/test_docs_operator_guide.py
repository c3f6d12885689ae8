"""docs/运维指南.md must stay true: every workbench.toml key and environment variable the code reads
is documented there (and nothing it does not read), and every `workbench …` command it names,
with its options, exists.

Keys are found by running the code, not by listing them here: each function that reads
workbench.toml is called with a recording configuration that has every section and notes each
key asked for. A new function that reads the file makes `test_every_reader_is_probed` fail
until it gets a probe below, so a key cannot slip past by living in a new place.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "运维指南.md"
PACKAGE = ROOT / "workbench"

# The calls that read workbench.toml (workbench/config.py).
TOML_CALLS = {"load_config", "_configured", "configured_path", "documents_config"}


class _Recording(dict):
    """A workbench.toml in which every section exists and every key asked for is noted."""

    def __init__(self, seen: set[tuple[str, str]], section: str | None = None) -> None:
        super().__init__()
        self.seen = seen
        self.section = section

    def __bool__(self) -> bool:  # an empty section must not look absent (`x or {}`)
        return True

    def get(self, key, default=None):  # noqa: ANN001 - dict's signature
        if self.section is None:
            return _Recording(self.seen, key)
        self.seen.add((self.section, key))
        return default

    def __getitem__(self, key):  # noqa: ANN001
        if self.section is None and key == "_path":
            return str(ROOT / "workbench.toml")
        return self.get(key)


def _probe(call: Callable[[], object], monkeypatch: pytest.MonkeyPatch) -> set[tuple[str, str]]:
    """The (section, key) pairs `call` asks workbench.toml for."""
    from workbench import config
    from workbench.dashboard import map as dash_map

    seen: set[tuple[str, str]] = set()
    for name in (
        "WORKBENCH_CONFIG",
        "WORKBENCH_WAREHOUSE",
        "WORKBENCH_INDICATORS_DIR",
        "WORKBENCH_GEOJSON",
        "WORKBENCH_RUNS",
    ):
        monkeypatch.delenv(name, raising=False)
    fake = lambda root=None: _Recording(seen)  # noqa: E731
    monkeypatch.setattr(config, "load_config", fake)
    monkeypatch.setattr(dash_map, "load_config", fake)
    call()
    return seen


def _documents(monkeypatch: pytest.MonkeyPatch) -> set[tuple[str, str]]:
    """[documents]: documents_config() copies the section, DocOptions.from_mapping reads it."""
    from workbench.documents.options import DocOptions

    seen: set[tuple[str, str]] = set()
    DocOptions.from_mapping(_Recording(seen, "documents"))
    return seen


def _bureau(monkeypatch: pytest.MonkeyPatch) -> set[tuple[str, str]]:
    """[bureau]: bureau_config() copies the section, citations.home() reads its keys."""
    from workbench import config
    from workbench.presentation import citations

    seen: set[tuple[str, str]] = set()
    monkeypatch.setattr(config, "bureau_config", lambda: _Recording(seen, "bureau"))
    monkeypatch.setattr(config, "documents_config", lambda: {})
    citations.home()
    return seen


def _ingest(monkeypatch: pytest.MonkeyPatch) -> set[tuple[str, str]]:
    """[ingest]: Limits.load takes every field of readers.Limits by name."""
    from workbench.readers import Limits

    return {("ingest", f.name) for f in dataclasses.fields(Limits)}


def _call(dotted: str) -> Callable[[pytest.MonkeyPatch], set[tuple[str, str]]]:
    def run(monkeypatch: pytest.MonkeyPatch) -> set[tuple[str, str]]:
        import importlib

        module, _, name = dotted.rpartition(".")
        func = getattr(importlib.import_module(module), name)
        args = (None,) if name == "runs_dir" else ()
        return _probe(lambda: func(*args), monkeypatch)

    return run


# Every function in workbench/ that reads workbench.toml → how to learn the keys it reads.
# None: a helper whose keys are read through the readers listed beside it.
PROBES: dict[str, Callable[[pytest.MonkeyPatch], set[tuple[str, str]]] | None] = {
    "workbench.config:_configured": None,
    "workbench.config:configured_path": None,
    "workbench.config:warehouse_path": _call("workbench.config.warehouse_path"),
    "workbench.config:indicators_dir": _call("workbench.config.indicators_dir"),
    "workbench.config:documents_config": _documents,
    "workbench.commands.run:_documents": _documents,
    "workbench.commands.run:runs_dir": _call("workbench.commands.run.runs_dir"),
    "workbench.readers.sheets:Limits.load": _ingest,
    "workbench.dashboard.map:geojson_path": _call("workbench.dashboard.map.geojson_path"),
    "workbench.config:bureau_config": None,  # its keys are read by citations.home
    "workbench.presentation.citations:home": _bureau,
}


def _readers_in(node: ast.AST, module: str, prefix: str, found: set[str]) -> None:
    """Add `module:qualname` of each function under `node` that calls a TOML_CALLS function."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.ClassDef):
            _readers_in(child, module, f"{prefix}{child.name}.", found)
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for sub in ast.walk(child):
                if isinstance(sub, ast.Call):
                    f = sub.func
                    name = f.id if isinstance(f, ast.Name) else getattr(f, "attr", None)
                    if name in TOML_CALLS and child.name != name:
                        found.add(f"{module}:{prefix}{child.name}")
                        break


def _toml_readers() -> set[str]:
    """`module:qualname` of every function in the package that calls a TOML_CALLS function."""
    found: set[str] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        _readers_in(ast.parse(path.read_text(encoding="utf-8")), module, "", found)
    return found


def _keys_read(monkeypatch: pytest.MonkeyPatch) -> set[tuple[str, str]]:
    keys: set[tuple[str, str]] = set()
    for probe in PROBES.values():
        if probe is not None:
            keys |= probe(monkeypatch)
    return keys


def _guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def _documented_keys(text: str) -> set[tuple[str, str]]:
    """The keys in the guide's per-section tables: a `### `[section]` …` heading, then table
    rows whose first cell is a key in backticks."""
    keys: set[tuple[str, str]] = set()
    section = None
    for line in text.splitlines():
        if line.startswith("#"):
            m = re.match(r"#{2,4} `\[(\w+)\]`", line)
            section = m.group(1) if m else None
        elif section and (m := re.match(r"\| `([\w]+)` \|", line)):
            keys.add((section, m.group(1)))
    return keys


def test_every_reader_is_probed() -> None:
    readers = _toml_readers()
    # hand-checked: these read the file today (workbench/config.py and its callers)
    assert {
        "workbench.config:warehouse_path",
        "workbench.readers.sheets:Limits.load",
        "workbench.commands.run:runs_dir",
    } <= readers
    new = readers - PROBES.keys()
    assert not new, (
        f"{sorted(new)} read workbench.toml: add a probe to PROBES and document the keys "
        "in docs/运维指南.md"
    )
    gone = PROBES.keys() - readers
    assert not gone, f"{sorted(gone)} no longer read workbench.toml: remove their probes"


def test_probes_see_the_keys_known_by_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = _keys_read(monkeypatch)
    for known in [
        ("warehouse", "path"),
        ("indicators", "dir"),
        ("batch", "runs_dir"),
        ("dashboard", "geojson"),
        ("ingest", "file_mb"),
        ("ingest", "reader_timeout_s"),
        ("documents", "issuer"),
        ("documents", "issue_day"),
        ("bureau", "city"),
        ("bureau", "province"),
    ]:
        assert known in keys


def test_every_toml_key_read_is_documented(monkeypatch: pytest.MonkeyPatch) -> None:
    read = _keys_read(monkeypatch)
    documented = _documented_keys(_guide())
    missing = sorted(f"[{s}] {k}" for s, k in read - documented)
    assert not missing, f"docs/运维指南.md does not document {missing}"
    stale = sorted(f"[{s}] {k}" for s, k in documented - read)
    assert not stale, f"docs/运维指南.md documents keys the code does not read: {stale}"


_ENV = re.compile(r"WORKBENCH_[A-Z][A-Z_]*[A-Z]")


def test_every_environment_variable_is_documented() -> None:
    in_code: set[str] = set()
    for path in [*PACKAGE.rglob("*.py"), ROOT / "dev.py"]:
        in_code |= set(_ENV.findall(path.read_text(encoding="utf-8")))
    assert {"WORKBENCH_WAREHOUSE", "WORKBENCH_ID_SALT", "WORKBENCH_DASHBOARD_TOKEN"} <= in_code
    in_guide = set(_ENV.findall(_guide()))
    assert not in_code - in_guide, f"not in docs/运维指南.md: {sorted(in_code - in_guide)}"
    assert not in_guide - in_code, f"not read by the code: {sorted(in_guide - in_code)}"


# `workbench SUB [OP]` where `workbench` is the command (also `.venv/bin/workbench`), not a
# path part (`/srv/workbench/…`), a file (`workbench.toml`) or a user name (`sudo -u workbench`).
_COMMAND = re.compile(r"(?<![\w.-])(?<!-u )workbench ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?")


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _code_fragments(text: str) -> list[str]:
    """Lines of fenced code blocks and inline code spans: where commands are written."""
    out: list[str] = []
    fenced = False
    for line in text.splitlines():
        line = re.sub(r"^\s*>\s?", "", line)  # a block quote's lines are still lines
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            out.append(line.split(" # ")[0])
        else:
            out += re.findall(r"`([^`]+)`", line)
    return out


def test_every_command_named_exists() -> None:
    from workbench import cli

    commands = _subparsers(cli.build_parser())
    text = _guide()
    named = _COMMAND.findall(text)
    assert any(sub == "run" for sub, _ in named)  # the pattern finds commands at all
    unknown: list[str] = []
    for sub, op in named:
        if sub not in commands:
            unknown.append(f"workbench {sub}")
            continue
        ops = _subparsers(commands[sub])
        if ops and op and op not in ops:
            unknown.append(f"workbench {sub} {op}")
    assert not unknown, f"docs/运维指南.md names commands that do not exist: {sorted(unknown)}"


def test_every_option_written_after_a_command_exists() -> None:
    from workbench import cli

    commands = _subparsers(cli.build_parser())
    bad: list[str] = []
    checked = 0
    for fragment in _code_fragments(_guide()):
        for m in _COMMAND.finditer(fragment):
            parser = commands.get(m.group(1))
            if parser is None:
                continue  # reported by test_every_command_named_exists
            ops = _subparsers(parser)
            if ops and m.group(2) in ops:
                parser = ops[m.group(2)]
            rest = fragment[m.end() :]
            rest = rest.split("workbench ")[0]  # up to the next command on the line
            for flag in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", rest):
                checked += 1
                if flag not in parser._option_string_actions:
                    bad.append(f"{m.group(0)} … {flag}")
    assert checked >= 20  # the guide writes many commands with options
    assert not bad, f"options that do not exist: {sorted(set(bad))}"
