"""Writing files so that no reader ever sees half of one: the helpers every writer shares.

A leaf module (standard library only): the batch runner, the publisher, the warehouse's archive
and anything else that writes a file a person or another process may read at the same moment
use these, so there is one file mode and one way to write atomically.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_current_umask()  # what a published file gets (mkstemp's 0600 would hide it)


def atomic_write(path: Path, data: bytes | str, durable: bool = True) -> None:
    """Write to a temp file beside `path`, then rename: readers never see half a file.

    `durable` adds an fsync (survives a machine crash, not only a killed process); per-county
    files skip it, since a county is cheap to redo and the rename alone is atomic.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: Path, data: Any, durable: bool = True) -> None:
    """JSON as people read it (Chinese kept, indented), written atomically."""
    atomic_write(path, json.dumps(data, ensure_ascii=False, indent=1, default=str), durable)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """A file's content hash, read in chunks (warehouse files can be gigabytes)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
