"""Running an untrusted parse in a child process with a memory cap, so a hostile file can only
ever take its own child down.

A workbook's sheet can make the reader allocate its whole declared range at once (calamine
aborts the process on a failed allocation: no exception to catch). The child is a fresh
`python -m workbench.sandbox` (it never re-runs the caller's script, as multiprocessing's
spawn and forkserver do), with its address space capped (`RLIMIT_AS`), its stdout and stderr
silenced (a Rust abort prints a backtrace) and a time limit; when it dies the parent starts a
fresh one for the next file. One child serves a whole batch: about 0.2 s to start, then
milliseconds per file. Jobs and results travel pickled over its stdin and stdout.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

log = logging.getLogger(__name__)


class SandboxError(Exception):
    """The child did not return a result: it died (`exitcode`) or ran out of time."""

    def __init__(self, reason: str, exitcode: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason  # "crashed" | "timeout"
        self.exitcode = exitcode


class Sandbox:
    """`call(fn, *args)` runs `fn` (a module-level function) in the child; raises
    `SandboxError` when the child dies or times out, re-raises the child's own exception
    otherwise. Close it (or use `with`)."""

    def __init__(self, memory_bytes: int, timeout_s: float) -> None:
        self.memory_bytes = memory_bytes
        self.timeout_s = timeout_s
        self._proc: subprocess.Popen | None = None
        self._to: Connection | None = None
        self._from: Connection | None = None

    def _start(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "workbench.sandbox", str(self.memory_bytes)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )
        self._to = Connection(os.dup(self._proc.stdin.fileno()), readable=False)
        self._from = Connection(os.dup(self._proc.stdout.fileno()), writable=False)
        self._proc.stdin.close()
        self._proc.stdout.close()

    def _reset(self) -> int | None:
        proc, self._proc = self._proc, None
        for conn in (self._to, self._from):
            if conn is not None:
                conn.close()
        self._to = self._from = None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.kill()
        try:
            return proc.wait(5)
        except subprocess.TimeoutExpired:
            return None

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self._proc is None or self._proc.poll() is not None:
            self._reset()
            self._start()
        try:
            self._to.send((fn, args))
            ready = self._from.poll(self.timeout_s)
        except (OSError, EOFError):
            raise SandboxError("crashed", self._reset()) from None
        if not ready:
            self._reset()
            raise SandboxError("timeout")
        try:
            ok, value = self._from.recv()
        except (OSError, EOFError):
            raise SandboxError("crashed", self._reset()) from None
        if ok:
            return value
        if isinstance(value, MemoryError):
            self._reset()  # a fresh child for the next file
        raise value

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None and self._to is not None:
            try:
                self._to.send(None)
                self._proc.wait(2)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._reset()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _child(memory_bytes: int) -> None:
    """The child's loop: run each (function, args) received and send back (ok, value)."""
    import resource

    if memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    inbox = Connection(os.dup(0), writable=False)
    outbox = Connection(os.dup(1), readable=False)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # nothing printed reaches the protocol or the user's terminal
        os.dup2(devnull, fd)
    while True:
        try:
            job = inbox.recv()
        except (EOFError, OSError):
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
            outbox.send(result)
        except Exception as exc:  # noqa: BLE001 - an unpicklable result or exception
            outbox.send((False, RuntimeError(f"{type(exc).__name__}: {exc}")))


if __name__ == "__main__":
    _child(int(sys.argv[1]))
