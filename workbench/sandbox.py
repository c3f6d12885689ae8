"""Running an untrusted parse in a child process with a memory cap, so a hostile file can only
ever take its own child down.

A workbook's sheet can make the reader allocate its whole declared range at once (calamine
aborts the process on a failed allocation: no exception to catch). The child has its address
space capped (`RLIMIT_AS`), its stderr silenced (a Rust abort prints a backtrace there) and a
time limit; when it dies the parent starts a fresh one for the next file. One child serves a
whole batch, forked from a server that has the reader imported already, so the cost is a few
milliseconds per file.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

PRELOAD = ["workbench.readers"]


class SandboxError(Exception):
    """The child did not return a result: it died (`exitcode`) or ran out of time."""

    def __init__(self, reason: str, exitcode: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason  # "crashed" | "timeout"
        self.exitcode = exitcode


def _serve(conn: Any, memory_bytes: int) -> None:
    """The child's loop: run each (function, args) sent and send back (ok, value)."""
    import resource

    if memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # a Rust abort's backtrace must not reach the user's terminal
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        fn, args = job
        try:
            result = (True, fn(*args))
        except MemoryError:
            result = (False, MemoryError())
        except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
            result = (False, exc)
        try:
            conn.send(result)
        except Exception as exc:  # noqa: BLE001 - an unpicklable result or exception
            conn.send((False, RuntimeError(f"{type(exc).__name__}: {exc}")))


def _context() -> mp.context.BaseContext:
    try:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        return ctx
    except ValueError:  # no forkserver on this platform
        return mp.get_context("spawn")


class Sandbox:
    """`call(fn, *args)` runs `fn` in the child; raises `SandboxError` when the child dies or
    times out, re-raises the child's own exception otherwise. Close it (or use `with`)."""

    def __init__(self, memory_bytes: int, timeout_s: float) -> None:
        self.memory_bytes = memory_bytes
        self.timeout_s = timeout_s
        self._proc: Any = None
        self._conn: Any = None

    def _start(self) -> None:
        ctx = _context()
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, self.memory_bytes), daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent

    def _reset(self) -> int | None:
        proc, self._proc = self._proc, None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if proc is None:
            return None
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        return proc.exitcode

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self._proc is None or not self._proc.is_alive():
            self._reset()
            self._start()
        try:
            self._conn.send((fn, args))
            ready = self._conn.poll(self.timeout_s)
        except (BrokenPipeError, EOFError, OSError):
            raise SandboxError("crashed", self._reset()) from None
        if not ready:
            self._reset()
            raise SandboxError("timeout")
        try:
            ok, value = self._conn.recv()
        except (EOFError, OSError):
            raise SandboxError("crashed", self._reset()) from None
        if ok:
            return value
        if isinstance(value, MemoryError):
            self._reset()  # a fresh child for the next file
        raise value

    def close(self) -> None:
        if self._proc is not None and self._proc.is_alive() and self._conn is not None:
            try:
                self._conn.send(None)
            except OSError:
                pass
            self._proc.join(2)
        self._reset()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
