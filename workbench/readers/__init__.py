"""Reading submitted files into text tables in the database: find each ledger's sheet and header
row, within declared limits, without ever holding a whole file in memory.

Everything read here is text (or NULL): typing and validation happen later, in one place
(`validate.py`). Row numbers are kept as the user sees them in Excel (1-based, header included).

- A CSV is scanned once as a stream (encoding, NUL bytes, line count) and then read by DuckDB
  straight from the file (or from a UTF-8 copy written during the scan).
- A workbook is parsed in a child process with a memory cap (`sandbox.py`), after its zip
  directory and its sheets' real extent were checked against the limits; the child writes each
  ledger sheet's body as a numbered UTF-8 CSV that DuckDB then reads.
Nothing here imports pandas: the child that parses workbooks stays small.

The package, by responsibility: `sheets` (findings, limits, ledger sheets and the batch's
staging tables), `headers` (finding the header row), `xlsx_checks` (a workbook checked before
parsing), `xlsx` (parsing, in the sandbox child), `text` (CSV), and here the dispatch: which
files a batch holds and how each is read.
"""

from __future__ import annotations

import os
from pathlib import Path

from workbench.privacy import mask_text
from workbench.readers.sheets import (
    Issue,
    Limits,
    RawSheet,
    ReadContext,
    ReadResult,
    cell_text,
    load_sheet,
    size_text,
    stage_table,
)
from workbench.readers.text import read_csv, scan_text
from workbench.readers.xlsx import read_workbook


__all__ = [
    "Issue",
    "Limits",
    "RawSheet",
    "ReadContext",
    "ReadResult",
    "cell_text",
    "list_inputs",
    "read_file",
    "scan_text",
    "size_text",
    "stage_table",
]

SUPPORTED_SUFFIXES = {".xlsx", ".xlsm", ".csv", ".txt"}


# ---------------------------------------------------------------- dispatch

_OLD_SHEETS = (".xls", ".et", ".ods")  # old Excel, WPS, OpenDocument: to be saved as .xlsx


def list_inputs(
    paths: list[str | Path], allow_symlinks: bool = False
) -> tuple[list[Path], list[Issue]]:
    """Files named, or found in folders (recursively), skipping Office lock files. A symbolic
    link inside a folder is refused (it may point anywhere) unless `allow_symlinks`."""
    files: list[Path] = []
    issues: list[Issue] = []
    for p in map(Path, paths):
        if p.is_dir():
            found: list[Path] = []
            seen: set[str] = set()
            for root, dirs, names in os.walk(p, followlinks=allow_symlinks):
                real = os.path.realpath(root)
                if real in seen:  # a link back up the tree
                    dirs[:] = []
                    continue
                seen.add(real)
                for d in list(dirs):
                    if os.path.islink(os.path.join(root, d)) and not allow_symlinks:
                        issues.append(Issue("E_SYMLINK", mask_text(d)))
                        dirs.remove(d)
                found += [Path(root) / n for n in names]
            for f in sorted(found):
                if f.name.startswith(("~$", ".")):
                    continue
                if f.is_symlink() and not allow_symlinks:
                    issues.append(Issue("E_SYMLINK", mask_text(f.name)))
                    continue
                if not f.is_file():
                    continue
                if f.suffix.lower() in SUPPORTED_SUFFIXES:
                    files.append(f)
                elif f.suffix.lower() in _OLD_SHEETS:  # a spreadsheet we cannot read: say so
                    issues.append(Issue("E_XLS_UNSUPPORTED", mask_text(f.name)))
        elif p.is_file():
            files.append(p)
        else:
            issues.append(Issue("E_FILE_NOT_FOUND", mask_text(str(p))))
    return files, issues


def read_file(path: Path, display: str, ctx: ReadContext) -> ReadResult:
    """One file → its ledger sheets as tables in `ctx.con`, and every finding about it. A file
    that crashes or exhausts its reader is one error; the batch goes on."""
    from workbench.sandbox import SandboxError

    suffix = path.suffix.lower()
    with open(path, "rb") as fh:
        head = fh.read(8)
    if suffix in (".xlsx", ".xlsm") or head.startswith(b"PK"):
        if not head.startswith(b"PK"):
            return ReadResult(
                path, [], [Issue("E_NOT_WORKBOOK", display, params={"detail": "not a zip"})]
            )
        try:
            result = ctx.sandbox.call(
                read_workbook, str(path), display, ctx.limits, str(ctx.workdir)
            )
        except SandboxError as exc:
            code = "E_READER_TIMEOUT" if exc.reason == "timeout" else "E_READER_CRASHED"
            params = {
                "memory": size_text(ctx.limits.bytes("reader_memory_mb")),
                "seconds": ctx.limits.reader_timeout_s,
            }
            return ReadResult(path, [], [Issue(code, display, params=params)])
        except MemoryError:
            params = {"memory": size_text(ctx.limits.bytes("reader_memory_mb"))}
            return ReadResult(path, [], [Issue("E_READER_CRASHED", display, params=params)])
        sheets = []
        for raw in result.sheets:
            loaded = load_sheet(path, display, raw, ctx, result.issues)
            sheets += loaded.sheets
        return ReadResult(path, sheets, result.issues)
    if suffix in (".csv", ".txt"):
        return read_csv(path, display, ctx)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return ReadResult(path, [], [Issue("E_XLS_UNSUPPORTED", display)])
    return ReadResult(path, [], [Issue("E_NOT_WORKBOOK", display, params={"detail": suffix})])
