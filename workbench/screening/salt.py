"""The salt that pseudonymises ID-card numbers on load, kept outside the warehouse.

Hashing without a secret is no protection (an 18-digit ID number with a checksum is quickly
enumerated), so every number is hashed as sha256(salt ‖ number) and the salt never enters the
warehouse: whoever holds the DuckDB file alone cannot reverse a hash. The salt comes from

1. the environment variable `WORKBENCH_ID_SALT` (set by the bureau's deployment), else
2. a file beside the warehouse, `<warehouse stem>.salt`, created on first load with 32 random
   bytes and mode 0600 (readable by its owner only).

The warehouse records only a fingerprint of the salt, so a load with a different salt (whose
hashes would never join the earlier ones) is refused instead of silently splitting people.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

ENV_SALT = "WORKBENCH_ID_SALT"
MIN_LENGTH = 16


class SaltError(ValueError):
    """The salt cannot be used; `code` names why (message key `screening.salt.<code>`)."""

    def __init__(self, code: str, **params: object) -> None:
        from workbench.messages import t

        self.code = code
        self.params = params
        super().__init__(t(f"screening.salt.{code}", **params))


@dataclass(frozen=True)
class Salt:
    value: str
    source: str  # "env" | "file"
    path: Path | None = None

    @property
    def fingerprint(self) -> str:
        """What the warehouse may know about the salt: enough to tell two apart, nothing more."""
        return hashlib.sha256(b"workbench-salt-fingerprint:" + self.value.encode()).hexdigest()[:16]

    def __repr__(self) -> str:  # never print the secret
        return f"Salt(source={self.source!r}, fingerprint={self.fingerprint!r})"


def salt_path(warehouse: Path) -> Path:
    return warehouse.parent / f"{warehouse.stem}.salt"


def resolve_salt(warehouse: Path, create: bool = True) -> Salt:
    """The salt for this warehouse: the environment first, else the file beside it (created
    when missing and `create`)."""
    env = os.environ.get(ENV_SALT)
    if env is not None:
        if len(env.strip()) < MIN_LENGTH:
            raise SaltError("too_short", minimum=MIN_LENGTH, name=ENV_SALT)
        return Salt(env.strip(), "env")
    path = salt_path(warehouse)
    if not path.exists():
        if not create:
            raise SaltError("missing", path=path, name=ENV_SALT)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(32) + "\n")
        log.info("created the ID salt file %s (mode 0600)", path)
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s", SaltError("loose_mode", path=path, mode=oct(mode & 0o777)))
    value = path.read_text(encoding="ascii").strip()
    if len(value) < MIN_LENGTH:
        raise SaltError("too_short", minimum=MIN_LENGTH, name=str(path))
    return Salt(value, "file", path)
