"""Which catalogued policy documents a declared `source:` cites, and the check that each is.

A `source:` text (of a set, target, parameter, phase, milestone, table, screening rule), or a
`description:` that mentions a document, cites it by its short code where a clause starts
("002 三（一）；001 二（六）", "另：004 要求……"); the clause syntax is defined here once and
`presentation.citations.cite` reads it to print titles (and 依据/参照/参考).

Unknown codes: the design prints a text that cites no catalogued code as written (a bureau's
own wording, 工作口径, a document cited by its own number — docs/indicators.md "Source
documents", and the catalogue's own header), so an uncatalogued code is allowed and cannot stop
a month's compute or screening. But a three-digit code is the seeds' numbering: one the
catalogue lacks is almost always a typo or a missing catalogue entry, and a reader would see a
bare number. So it is a *warning* (`W_UNKNOWN_SOURCE_CODE`), with the file and line of the
`source:`, listed by `workbench compute --check` and `workbench screen check`. A folder without
any catalogue cites nothing by title, so nothing is checked there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from workbench.declarations.issues import At, Issues
from workbench.declarations.loader import LList, LMap

# A code is cited where a clause starts: at the start, or after a separator, a full stop or an
# opening bracket ("002 三（一）；001 二（六）", "工作口径（002 三（一））",
# "……合计。002 三（二）1：……", "另：004 要求……"); it ends at a space, a closing bracket, a
# separator or the end. A number inside a sentence ("第20220326号") is never one.
# `presentation.citations.cite` reads the same pattern, so every code this check accepts is
# printed as a title (and none it misses is).
CLAUSE_START = r"(?:^|(?<=[；;（(、，,：:。\s]))"
CLAUSE_END = r"(?=$|[；;）)，,、：:一二三四五六七八九十篇])"
SEED_FILE = r"(?:_[0-9A-Za-z]+\.txt)?"  # the seed's file-name form, 002_b1a03073658be3d4.txt
_SEED_CODE = re.compile(rf"{CLAUSE_START}(?P<code>\d{{3}}){SEED_FILE}(?:[ \t\u3000]+|{CLAUSE_END})")


def seed_codes(text: object) -> list[str]:
    """The three-digit document codes `text` cites where a clause starts, in order."""
    return [m.group("code") for m in _SEED_CODE.finditer(str(text or ""))]


# the texts faces print through `presentation.citations.cite`: a source, and a description
# (an indicator's formula in words may mention a document: 「另：004 要求……」)
CITED_KEYS = ("source", "description")


def source_texts(node: Any, path: str = "") -> Iterator[tuple[str, At, str]]:
    """Every cited text (`CITED_KEYS`) in a parsed file, with its file and line and key path."""
    if isinstance(node, LMap):
        for key, value in node.items():
            here = f"{path}.{key}" if path else str(key)
            if key in CITED_KEYS and isinstance(value, str):
                yield value, node.at(key), here
            else:
                yield from source_texts(value, here)
    elif isinstance(node, LList):
        for i, value in enumerate(node):
            yield from source_texts(value, f"{path}[{i}]")


def check_source_codes(data: Any, documents: Mapping[str, Any], issues: Issues) -> None:
    """W_UNKNOWN_SOURCE_CODE for each three-digit code a `source:` of `data` cites that the
    catalogue `documents` does not list (no catalogue: nothing to check against)."""
    if not documents:
        return
    known = "、".join(sorted(documents))
    for text, at, path in source_texts(data):
        for code in dict.fromkeys(seed_codes(text)):
            if code not in documents:
                issues.warning("W_UNKNOWN_SOURCE_CODE", at, path, code=code, known=known)
