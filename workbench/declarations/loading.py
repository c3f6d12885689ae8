"""The entry points: find the declaration files, read each once, build the sets asked for.

Reading a file = loading its YAML with lines (`loader`), shaping it (`shaping`) and running the
file rules; building a set = `building.build_set`. `load_set` raises `DeclarationError` with
every issue of the set and of the files it depends on; `validate` returns every issue of the
files given.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from workbench.config import indicators_dir
from workbench.declarations import loader
from workbench.declarations.building import build_set
from workbench.declarations.issues import DeclarationError, Issue, Issues
from workbench.declarations.model import IndicatorSet, TableDecl
from workbench.declarations.rules import run_file_rules
from workbench.declarations.shaping import FileDecl, Shaper
from workbench.declarations.sources import check_source_codes
from workbench.declarations.vocabulary import MAX_FILE_BYTES


def default_dir() -> Path:
    """The indicator sets' folder as configured (`config.indicators_dir`)."""
    return indicators_dir()


def _read_text(path: Path, issues: Issues) -> str | None:
    fname = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            issues.error("E_FILE_TOO_LARGE", (fname, None), size=size, limit=MAX_FILE_BYTES)
            return None
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        issues.error("E_FILE_UNREADABLE", (fname, None), problem=str(exc))
        return None


def read_files(paths: Iterable[Path], issues: Issues) -> dict[str, FileDecl]:
    """Each file loaded, shaped and checked on its own; {code: file} (first file wins)."""
    shaper = Shaper(issues)
    out: dict[str, FileDecl] = {}
    for path in paths:
        fname = str(path)
        text = _read_text(path, issues)
        if text is None:
            continue
        data = loader.parse_yaml(text, fname, issues)
        if data is None:
            continue
        decl = shaper.file(path, data)
        if decl is None:
            continue
        run_file_rules(decl, issues)
        if decl.code in out:
            issues.error(
                "E_DUPLICATE_SET",
                data.at("code"),
                fname,
                code=decl.code,
                other=str(out[decl.code].path),
            )
            continue
        out[decl.code] = decl
    return out


def _read_each(paths: Iterable[Path]) -> tuple[dict[str, FileDecl], dict[str, list[Issue]]]:
    """Like `read_files` without reporting: every file parsed once, its own issues kept
    (by resolved path) for whoever turns out to depend on it."""
    files: dict[str, FileDecl] = {}
    found: dict[str, list[Issue]] = {}
    each: dict[str, tuple[Issues, list[FileDecl]]] = {}
    for path in paths:
        own = Issues()
        read = read_files([path], own)
        for code, decl in read.items():
            files.setdefault(code, decl)  # the first file with a code wins, as in read_files
        each[path.resolve().as_posix()] = (own, list(read.values()))
    # a `source:` citing a code the folder's catalogue lacks: known only once all are read
    documents = _catalogue(files)
    for key, (own, decls) in each.items():
        _check_sources(decls, documents, own)
        found[key] = own.items
    return files, found


def _catalogue(files: dict[str, FileDecl]) -> dict[str, Any]:
    """The folder's catalogued documents (their own problems are the sets' to report)."""
    from workbench.declarations.building import source_documents

    return source_documents(files, Issues())


def _check_sources(decls: Iterable[FileDecl], documents: dict[str, Any], issues: Issues) -> None:
    for decl in decls:
        if decl.kind != "sources":
            check_source_codes(decl.data, documents, issues)


def _yaml_files(dirs: Iterable[Path]) -> list[Path]:
    seen: dict[str, Path] = {}
    for d in dirs:
        if d.is_dir():
            for p in sorted(d.glob("*.yaml")) + sorted(d.glob("*.yml")):
                seen.setdefault(p.resolve().as_posix(), p)
    return list(seen.values())


def available_sets(dirs: Iterable[Path] | None = None) -> list[str]:
    """Codes of the indicator sets found (files that fail to parse are skipped)."""
    files = read_files(_yaml_files(list(dirs or [default_dir()])), Issues())
    return sorted(c for c, d in files.items() if d.kind == "indicator_set")


def validate(
    paths: Iterable[str | Path] | None = None, dirs: Iterable[str | Path] | None = None
) -> list[Issue]:
    """Every issue in the given files (default: all of `indicators/`), all sets checked."""
    search = [Path(d) for d in (dirs or [default_dir()])]
    chosen = [Path(p) for p in paths] if paths else _yaml_files(search)
    issues = Issues()
    extra = [p for p in _yaml_files(search) if p.resolve() not in {c.resolve() for c in chosen}]
    mine = read_files(chosen, issues)
    others = read_files(extra, Issues())
    files = {**others, **mine}
    _check_sources(mine.values(), _catalogue(files), issues)
    for code, decl in mine.items():
        if decl.kind == "indicator_set":
            build_set(code, files, issues)
    return issues.items


def load_sets(
    names: Iterable[str | Path], dirs: Iterable[str | Path] | None = None
) -> list[IndicatorSet]:
    """Several sets as `load_set` loads each, the folder read and every file parsed once for
    all of them (a set that includes another, and the calendar they share, are not parsed
    again)."""
    reads: dict[tuple[str, ...], tuple[dict[str, FileDecl], dict[str, list[Issue]]]] = {}
    dirs = list(dirs) if dirs is not None else None
    return [load_set(n, dirs, _reads=reads) for n in names]


def load_set(
    name_or_path: str | Path = "campaign_2025",
    dirs: Iterable[str | Path] | None = None,
    *,
    _reads: dict[tuple[str, ...], Any] | None = None,
) -> IndicatorSet:
    """Load and validate one indicator set (by code, or a path to its YAML file).

    Files are looked up in `dirs` (default `indicators/`; a given file's own folder first).
    Raises DeclarationError holding every issue when anything is wrong.
    """
    search = [Path(d) for d in (dirs or [default_dir()])]
    target = str(name_or_path)
    given = Path(target)
    issues = Issues()
    mine: dict[str, FileDecl] = {}
    skip: set[Path] = set()
    if given.suffix in (".yaml", ".yml") or given.is_file():
        if not given.is_file():
            issues.error("E_FILE_UNREADABLE", (str(given), None), problem="not found")
            raise DeclarationError(issues.items)
        search = [given.parent, *search]
        mine = read_files([given], issues)
        if not mine:
            raise DeclarationError(issues.items)
        code = next(iter(mine))
        skip = {given.resolve()}
    else:
        code = target
    paths = [p for p in _yaml_files(search) if p.resolve() not in skip]
    key = tuple(p.resolve().as_posix() for p in paths)
    reads = {} if _reads is None else _reads
    if key not in reads:
        reads[key] = _read_each(paths)
    quiet, found = reads[key]
    files = {**quiet, **mine}
    _check_sources(mine.values(), _catalogue(files), issues)
    if code not in files or files[code].kind != "indicator_set":
        issues.error(
            "E_UNKNOWN_SET",
            (str(given), None),
            name=code,
            known="、".join(sorted(c for c, d in files.items() if d.kind == "indicator_set"))
            or "—",
        )
        raise DeclarationError(issues.items)
    # The problems of the files this set depends on are reported too.
    for c in _involved(code, files):
        if files[c].path.resolve() not in skip:
            issues.items.extend(found.get(files[c].path.resolve().as_posix(), []))
    result = build_set(code, files, issues)
    if issues.errors or result is None:
        raise DeclarationError(issues.items)
    return dataclasses.replace(
        result, warnings=tuple(i for i in issues.items if i.level == "warning")
    )


def _involved(code: str, files: dict[str, FileDecl]) -> list[str]:
    out: list[str] = []

    def visit(c: str) -> None:
        if c in out or c not in files:
            return
        out.append(c)
        d = files[c]
        for inc in d.includes:
            visit(inc.code)
        if d.calendar_ref:
            visit(d.calendar_ref[0])
        for m in d.measures.values():  # the declared tables its measures read
            for name in (m.ledger, m.join.ledger if m.join else None):
                if name in files and files[name].kind == "table":
                    visit(name)

    visit(code)
    # the catalogues of source documents every set's `source:` texts cite
    out += [c for c in sorted(files) if files[c].kind == "sources" and c not in out]
    return out


def load_documents(dirs: Iterable[Path] | None = None) -> dict[str, Any]:
    """The catalogued source documents (`kind: sources`) of the indicators folders, by code —
    for texts outside any set that cite policy (a ledger field's help); files that fail to
    parse are skipped (their issues are the sets' to report)."""
    from workbench.declarations.building import source_documents

    files = read_files(_yaml_files(list(dirs or [default_dir()])), Issues())
    return source_documents({c: d for c, d in files.items() if d.kind == "sources"}, Issues())


def available_tables(dirs: Iterable[Path] | None = None) -> list[str]:
    """Codes of the declared tables found (files that fail to parse are skipped)."""
    files = read_files(_yaml_files(list(dirs or [default_dir()])), Issues())
    return sorted(c for c, d in files.items() if d.kind == "table" and d.table is not None)


def load_table(code: str, dirs: Iterable[str | Path] | None = None) -> TableDecl:
    """One declared table (`kind: table`) by code, validated; raises DeclarationError with
    every issue of its file (or E_UNKNOWN_TABLE naming the tables there are)."""
    search = [Path(d) for d in (dirs or [default_dir()])]
    files, found = _read_each(_yaml_files(search))
    decl = files.get(code)
    if decl is None or decl.kind != "table":
        issues = Issues()
        known = sorted(c for c, d in files.items() if d.kind == "table")
        issues.error(
            "E_UNKNOWN_TABLE", (str(search[0]), None), name=code, known="、".join(known) or "—"
        )
        raise DeclarationError(issues.items)
    own = found.get(decl.path.resolve().as_posix(), [])
    if decl.table is None or any(i.level == "error" for i in own):
        raise DeclarationError(own)
    return decl.table
