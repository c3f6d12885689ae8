"""The message catalogue: every user-facing string, in Simplified Chinese.

Messages live in `workbench/locale/*.yaml` (one file per area, one flat mapping of
`key: template` each); `t(key, **values)` formats one. Keys are stable codes, e.g. error codes
like `E_RECOVERED_GT_DUE`, so tests assert on codes and never on wording.
"""

from __future__ import annotations

import os

import functools
from pathlib import Path

import yaml

LOCALE_DIR = Path(__file__).with_name("locale")


class _UniqueKeys(yaml.SafeLoader):
    """A YAML loader that refuses a key written twice in one mapping: plain YAML keeps the
    last silently, so two edits adding the same key would leave one wording unseen."""

    def construct_mapping(self, node, deep=False):  # type: ignore[no-untyped-def, override]
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                line = key_node.start_mark.line + 1
                raise ValueError(f"message key {key!r} defined twice in one file (line {line})")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


@functools.cache
def catalogue() -> dict[str, str]:
    out: dict[str, str] = {}
    for path in sorted(LOCALE_DIR.glob("*.yaml")):
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeys) or {}  # noqa: S506
        for key, text in data.items():
            if key in out:
                raise ValueError(f"message key {key!r} defined twice (second in {path.name})")
            out[str(key)] = str(text)
    return out


def t(key: str, **values: object) -> str:
    """Format message `key`; an unknown key returns the key itself so nothing is hidden."""
    template = catalogue().get(key)
    if template is None:
        return key if not values else f"{key} {values}"
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        if os.environ.get("WORKBENCH_STRICT_MESSAGES"):  # tests: a missing value is a bug
            raise
        return template
