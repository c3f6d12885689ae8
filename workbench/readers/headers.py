"""Finding a ledger's header row among a sheet's first rows, one-row or two-row, by matching
normalised labels against every ledger's headers.
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass

from workbench.contracts import (
    LEAD_FEEDBACK_COLUMNS,
    LEDGERS,
    feedback_list_of,
    normalise_header,
)
from workbench.privacy import mask_text
from workbench.readers.sheets import Issue, Limits, RawSheet


HEADER_SCAN_ROWS = 30
MIN_HEADER_MATCHES = 3


# ---------------------------------------------------------------- header detection


@dataclass
class HeaderMatch:
    ledger: str
    row_index: int  # 0-based index of the (last) header row in the rows list
    span: int  # 1 or 2 header rows
    columns: list[str | None]  # per column: field name or None
    labels: list[str]  # per column: header text as written
    score: float

    @property
    def width(self) -> int:
        """Columns up to the last one with a header: cells further right have no name."""
        named = [i for i, (c, lab) in enumerate(zip(self.columns, self.labels)) if c or lab]
        return named[-1] + 1 if named else 0


MAX_HEADER_LEN = 40  # longer cells are data, not headers: skip normalising them


@functools.cache
def _header_owners() -> dict[str, tuple[tuple[str, str], ...]]:
    """Normalised header → every (ledger, field) it can name."""
    owners: dict[str, list[tuple[str, str]]] = {}
    for name, lg in LEDGERS.items():
        for key, field_name in lg.header_index().items():
            owners.setdefault(key, []).append((name, field_name))
    return {k: tuple(v) for k, v in owners.items()}


def _keys(labels: list[str]) -> list[str]:
    return [normalise_header(lab) if lab and len(lab) <= MAX_HEADER_LEN else "" for lab in labels]


def _two_row_labels(top: list[str], bottom: list[str]) -> list[str]:
    """Merged group headers: the top label carries right over blanks (merged cells)."""
    carried: list[str] = []
    last = ""
    for t in top:
        last = t or last
        carried.append(last)
    return [b or c for b, c in zip(bottom, carried)]


def _score_candidate(
    labels: list[str], keys: list[str], span: int, row_index: int, best: HeaderMatch | None
) -> HeaderMatch | None:
    owners = _header_owners()
    per_ledger: dict[str, list[str | None]] = {}
    for pos, key in enumerate(keys):
        for ledger_name, field_name in owners.get(key, ()):
            cols = per_ledger.setdefault(ledger_name, [None] * len(keys))
            if field_name not in cols:
                cols[pos] = field_name
    for ledger_name, cols in per_ledger.items():
        lg = LEDGERS[ledger_name]
        required = {f.name for f in lg.fields if f.required}
        hits = {c for c in cols if c}
        if len(hits) < min(MIN_HEADER_MATCHES, len(lg.fields)) or 2 * len(hits & required) < len(
            required
        ):
            continue
        # favour covering the ledger and its required fields; tie → fewer header rows
        score = len(hits) / len(lg.fields) + len(hits & required) / max(len(required), 1)
        score -= 0.001 * span
        if best is None or score > best.score:
            best = HeaderMatch(ledger_name, row_index, span, cols, labels, score)
    return best


def detect_header(rows: list[list[str | None]]) -> HeaderMatch | None:
    """Best (ledger, header row) among the first rows; two-row headers are tried too."""
    best: HeaderMatch | None = None
    scan = rows[:HEADER_SCAN_ROWS]
    width = max((len(r) for r in scan), default=0)
    padded = [[(c or "") for c in r] + [""] * (width - len(r)) for r in scan]
    keys = [_keys(r) for r in padded]
    for i, labels in enumerate(padded):
        best = _score_candidate(labels, keys[i], 1, i, best)
        if i > 0 and any(keys[i - 1]):
            two = _two_row_labels(padded[i - 1], labels)
            best = _score_candidate(two, _keys(two), 2, i, best)
    return best


def closest_header(missing_header: str, candidates: list[str]) -> str | None:
    got = difflib.get_close_matches(missing_header, candidates, n=1, cutoff=0.5)
    return got[0] if got else None


def sheet_from_match(
    file: str, sheet: str, match: HeaderMatch, limits: Limits, issues: list[Issue]
) -> RawSheet | None:
    """Record the sheet's structure and its findings about columns; rows load later."""
    lg = LEDGERS[match.ledger]
    header_row = match.row_index + 1
    width = match.width
    if width > limits.columns:
        issues.append(
            Issue(
                "E_TOO_MANY_COLUMNS",
                file,
                sheet,
                row=header_row,
                params={"n": width, "limit": limits.columns},
            )
        )
        return None
    if match.span == 2:
        issues.append(Issue("W_TWO_ROW_HEADER", file, sheet, row=header_row, severity="warning"))
    found = {c: i for i, c in enumerate(match.columns[:width]) if c}
    labels = [mask_text(lab) for lab in match.labels[:width]]
    extra = [(i, lab) for i, (c, lab) in enumerate(zip(match.columns, labels)) if not c and lab]
    missing = [f.name for f in lg.fields if f.name not in found]
    extra_labels = [lab for _, lab in extra]
    for _, lab in extra:
        issues.append(
            Issue("W_EXTRA_COLUMN", file, sheet, row=header_row, column=lab, severity="warning")
        )
    # a county's returned 疑点清单 has the list's columns, not every field of the leads ledger
    listed = lg.name == "leads" and bool(feedback_list_of(sheet) or feedback_list_of(file))
    for name in missing:
        f = lg.field(name)
        if listed and not f.required and name not in LEAD_FEEDBACK_COLUMNS:
            continue
        hint = closest_header(f.header, extra_labels)
        issues.append(
            Issue(
                "E_MISSING_COLUMN" if f.required else "W_MISSING_COLUMN",
                file,
                sheet,
                row=header_row,
                column=f.header,
                severity="error" if f.required else "warning",
                params={"hint": hint or ""},
            )
        )
    headers = {name: labels[i] for name, i in found.items()}
    return RawSheet(file, sheet, lg.name, header_row, headers, found, extra, missing, width)
