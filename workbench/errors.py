"""Errors a user can cause (a path, a file, a setting), described in Chinese.

`describe(exc)` gives the sentence to show for an exception that is about the user's input
or machine rather than a bug — a missing or unwritable path, a file that is no warehouse, a
broken workbench.toml — and None for anything else (a bug: let it raise, with its traceback).
"""

from __future__ import annotations

import errno

from workbench.messages import t

_ERRNO = {
    errno.ENOENT: "enoent",
    errno.EACCES: "eacces",
    errno.EPERM: "eacces",
    errno.EEXIST: "eexist",
    errno.EISDIR: "eisdir",
    errno.ENOTDIR: "enotdir",
    errno.EROFS: "erofs",
    errno.ENOSPC: "enospc",
}


def describe(exc: BaseException) -> str | None:
    """A Chinese sentence for an input or environment error; None for anything else."""
    import tomllib

    import duckdb

    if isinstance(exc, (ConnectionError, TimeoutError)):
        return t("err.connect", detail=str(exc))
    if isinstance(exc, OSError) and exc.filename:
        what = _ERRNO.get(exc.errno or -1)
        if what:
            return t(f"err.os.{what}", path=exc.filename)
        return t("err.os.other", path=exc.filename, detail=exc.strerror or str(exc))
    if isinstance(exc, tomllib.TOMLDecodeError):
        return t("err.toml", detail=str(exc))
    if isinstance(exc, duckdb.IOException):
        text = str(exc)
        if "not a valid DuckDB database" in text or "Unsupported" in text:
            return t("err.not_warehouse", detail=_path_in(text))
        if "lock" in text.lower():
            return t("err.warehouse_locked", detail=_path_in(text))
        return t("err.warehouse_io", detail=text)
    return None


def _path_in(text: str) -> str:
    """The quoted path in a DuckDB message, else the message."""
    import re

    m = re.search(r'"([^"]+)"', text)
    return m.group(1) if m else text
