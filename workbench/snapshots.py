"""Committed copies of the warehouse, for readers that must not see an ingest land mid-way.

The cockpit (`serve.Snapshots`) and a batch run (`batch.pin_warehouse`) never read the live
DuckDB file for long: they copy it while no writer holds it and read the copy. A copy counts as
a committed state only when no writer held the file before or after copying and its fingerprint
(size and modification time of the file and its WAL) did not move while copying. Nothing here
takes a DuckDB lock on the live file, so a reader can never make an ingest fail.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path

from workbench.presentation import cache as pcache


def writer_active(path: Path) -> bool:
    """Whether another process holds the DuckDB file open for writing (an ingest, a compute).

    Asked with `fcntl(F_GETLK)`, which tests DuckDB's own lock without taking one: nothing
    here can ever make an ingest fail with "Could not set lock". (This process must hold no
    DuckDB connection on the file: POSIX locks are per process.) False where unsupported."""
    try:
        import fcntl
        import struct
    except ImportError:  # pragma: no cover - not POSIX
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        req = struct.pack("hhllhh", fcntl.F_RDLCK, 0, 0, 0, 0, 0)
        got = fcntl.fcntl(fd, fcntl.F_GETLK, req)
        return struct.unpack("hhllhh", got)[0] != fcntl.F_UNLCK
    except OSError:
        return False
    finally:
        os.close(fd)


def fingerprint(path: Path) -> str:
    """The live file's version (`presentation.cache.warehouse_fingerprint`)."""
    return pcache.warehouse_fingerprint(path)


def last_write(path: Path) -> float:
    """When the file or its WAL was last written (0 when neither exists)."""
    times = [p.stat().st_mtime for p in (path, wal_of(path)) if p.exists()]
    return max(times) if times else 0.0


def wal_of(path: Path) -> Path:
    return Path(str(path) + ".wal")


def discard(path: Path) -> None:
    """Remove a copy and its WAL, quietly."""
    for p in (path, wal_of(path)):
        with contextlib.suppress(OSError):
            p.unlink()


def copy_committed(live: Path, dest: Path, quiet: float = 2.0) -> str | None:
    """Copy `live` (and its WAL) to `dest` when it holds a committed state; returns the live
    fingerprint the copy was taken at, or None when the file is being written (nothing is left
    at `dest` then; try again later). `quiet`: seconds since the last write before a copy is
    tried (a writer between two transactions has not let go yet). OSError when copying fails."""
    live = Path(live)
    if writer_active(live) or time.time() - last_write(live) < quiet:
        return None
    before = fingerprint(live)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    try:
        shutil.copyfile(live, tmp)
        if wal_of(live).exists():
            shutil.copyfile(wal_of(live), wal_of(tmp))
    except OSError:
        discard(tmp)
        raise
    if writer_active(live) or fingerprint(live) != before:
        discard(tmp)  # written while copied: not a state anyone committed
        return None
    if wal_of(tmp).exists():
        os.replace(wal_of(tmp), wal_of(dest))
    else:
        discard(wal_of(dest))
    os.replace(tmp, dest)
    return before
