"""A declared `source:` as a citation a reader understands.

Declarations cite policy by the short code of a catalogued document ("002 三（三）2：……", or the
seed's file name "002_b1a03073658be3d4.txt"); an official document prints the document's title
instead ("《2025年开展打击欺诈骗保专项整治行动工作方案》三（三）2：……"), with its issuer and
document number when catalogued (`kind: sources`, `IndicatorSet.documents`). A text citing no
catalogued code (a bureau's own wording, 工作台定义, 医保发〔2021〕49号) is shown as written. Every
face that shows a source (the 通报 and summaries, county reports, the cockpit's 指标说明, exports)
goes through `cite`, so they all print the same words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from workbench.declarations.sources import CLAUSE_END as _AFTER
from workbench.declarations.sources import CLAUSE_START as _BEFORE
from workbench.declarations.sources import SEED_FILE
from workbench.messages import t

# where a code is cited (the start of a clause) is defined once, beside the check that every
# three-digit code a declaration cites is catalogued (`declarations.sources`)


def title_of(doc: Any) -> str:
    """A catalogued document as a reader knows it: issuer, 《title》, （document number）."""
    number = str(getattr(doc, "number", "") or "")
    return t(
        "pres.cite.document",
        issuer=str(getattr(doc, "issuer", "") or ""),
        title=str(doc.title),
        number=t("pres.cite.number", number=number) if number else "",
    )


@lru_cache(maxsize=64)
def _pattern(codes: tuple[str, ...]) -> re.Pattern[str]:
    alt = "|".join(re.escape(c) for c in sorted(codes, key=len, reverse=True))
    # the code, or the seed's file name (code_<id>.txt); then the spaces before the clause
    return re.compile(rf"{_BEFORE}(?P<code>{alt}){SEED_FILE}(?:[ \t\u3000]+|{_AFTER})")


def cite(source: object, documents: Mapping[str, Any] | None) -> str:
    """`source` with each catalogued code at the start of a clause replaced by the document's
    title (`title_of`); anything else kept as written. None or blank gives ""."""
    text = "" if source is None else str(source).strip()
    if not text or not documents:
        return text
    return _pattern(tuple(documents)).sub(lambda m: title_of(documents[m.group("code")]), text)
