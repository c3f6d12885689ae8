"""The one cache of computed tables, for every face.

A cache entry is a folder of plain data — Parquet tables, NumPy arrays saved without pickle and
a JSON file of scalars — so nothing read back can execute code. Its key is a fingerprint of
what the tables are computed from: the warehouse file's content version, the declarations' bytes
and the package's own code (source and message catalogue), so a change to any of them gives a
new key with no version number to bump by hand. Folders are private to the user (0700, owned
by them, checked before use); a folder that fails the check is not used.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.messages import t

log = logging.getLogger(__name__)

PACKAGE = Path(__file__).resolve().parents[1]
ENTRY_PREFIX = "entry-"


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """The package's own code and messages: a new release or a local edit changes it."""
    h = hashlib.sha256()
    for p in sorted([*PACKAGE.rglob("*.py"), *PACKAGE.rglob("*.yaml")]):
        h.update(str(p.relative_to(PACKAGE)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def files_fingerprint(paths: Iterable[Path]) -> str:
    """The bytes of a set of small files (declarations)."""
    h = hashlib.sha256()
    for p in sorted(Path(x) for x in paths):
        if p.is_file():
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def warehouse_fingerprint(path: Path) -> str:
    """The warehouse file's version: its size and modification time, and its WAL's (DuckDB
    rewrites the file on every committed write)."""
    h = hashlib.sha256(str(Path(path).resolve()).encode())
    for p in (Path(path), Path(str(path) + ".wal")):
        if p.exists():
            st = p.stat()
            h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()


def results_fingerprint(warehouse: Path) -> tuple[str, str, str]:
    """What a computed table depends on: the warehouse's content, the declarations of the
    configured indicators folder (with the bureau's jurisdictions, which decide whether a cited
    document is 依据 or 参照: `citations.home`) and the package's code."""
    from workbench.config import indicators_dir
    from workbench.presentation.citations import home

    return (
        warehouse_fingerprint(warehouse),
        files_fingerprint(indicators_dir().glob("*.yaml")) + ",".join(sorted(home())),
        code_fingerprint(),
    )


def key(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def private_dir(path: Path) -> Path | None:
    """`path`, created 0700 if missing, when it is a real directory owned by this user and
    closed to others; None otherwise (then nothing is cached there)."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(path)
    except OSError as exc:
        log.warning(t("pres.cache.folder_unusable", path=path, error=exc))
        return None
    if not stat.S_ISDIR(st.st_mode) or (hasattr(os, "getuid") and st.st_uid != os.getuid()):
        log.warning(t("pres.cache.folder_not_own", path=path))
        return None
    if st.st_mode & 0o077:
        try:
            os.chmod(path, 0o700)
        except OSError:
            log.warning(t("pres.cache.folder_open", path=path))
            return None
    return path


def default_dir(beside: Path) -> Path | None:
    """`.workbench-cache` beside the warehouse, else a per-user folder in the temp directory."""
    own = private_dir(Path(beside).resolve().parent / ".workbench-cache")
    if own is not None and os.access(own, os.W_OK):
        return own
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return private_dir(Path(tempfile.gettempdir()) / f"workbench-cache-{uid}")


def save(
    folder: Path,
    name: str,
    frames: Mapping[str, pd.DataFrame],
    arrays: Mapping[str, np.ndarray] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> Path | None:
    """Write an entry atomically (a temporary folder renamed into place); older entries of
    the same name are removed. Returns the entry's folder, or None when it could not be written."""
    target = folder / f"{ENTRY_PREFIX}{name}"
    try:
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder))
        for k, df in frames.items():
            df.to_parquet(tmp / f"{k}.parquet", index=False)
        for k, arr in (arrays or {}).items():
            np.save(tmp / f"{k}.npy", np.ascontiguousarray(arr), allow_pickle=False)
        (tmp / "meta.json").write_text(
            json.dumps(dict(meta or {}), ensure_ascii=False), encoding="utf-8"
        )
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    except (OSError, ValueError, TypeError) as exc:
        log.warning(t("pres.cache.not_written", path=target, error=exc))
        shutil.rmtree(locals().get("tmp", folder / ".none"), ignore_errors=True)
        return None
    return target


def prune(folder: Path, keep: str, family: str) -> None:
    """Remove the other entries of a family (`family` is the name's prefix)."""
    for old in folder.glob(f"{ENTRY_PREFIX}{family}*"):
        if old.name != f"{ENTRY_PREFIX}{keep}":
            shutil.rmtree(old, ignore_errors=True)


def load(folder: Path, name: str, mmap: bool = True) -> tuple[dict, dict, dict] | None:
    """(frames, arrays, meta) of an entry, or None when absent or unreadable."""
    entry = folder / f"{ENTRY_PREFIX}{name}"
    if not (entry / "meta.json").is_file():
        return None
    try:
        meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
        frames = {p.stem: pd.read_parquet(p) for p in entry.glob("*.parquet")}
        arrays = {
            p.stem: np.load(p, mmap_mode="r" if mmap else None, allow_pickle=False)
            for p in entry.glob("*.npy")
        }
    except (OSError, ValueError) as exc:
        log.warning(t("pres.cache.unreadable", path=entry, error=exc))
        return None
    return frames, arrays, meta
