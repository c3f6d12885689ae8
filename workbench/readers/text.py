"""A CSV scanned once as a stream (encoding, NUL bytes, two encodings, line count), then read by
DuckDB straight from the file or from a UTF-8 copy written during the scan.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import tempfile
from dataclasses import dataclass
from pathlib import Path

from workbench.readers.headers import HEADER_SCAN_ROWS, detect_header, sheet_from_match
from workbench.readers.sheets import (
    CHUNK,
    MB,
    Issue,
    Limits,
    ReadContext,
    ReadResult,
    SheetSource,
    cell_text,
    load_sheet,
)


HEAD_BYTES = 256 << 10  # text kept from the top of a CSV for finding its header


# ---------------------------------------------------------------- csv


@dataclass
class TextScan:
    """A CSV read once as a stream: its encoding, the text DuckDB will read (the file itself
    or a UTF-8 copy), the first part of the text, and what decides how rows are numbered."""

    encoding: str
    path: Path
    head: str = ""
    lines: int = 0
    blank_lines: bool = False
    bare_cr: bool = False
    quotes: bool = False
    issue: Issue | None = None


class _Restart(Exception):
    """Not UTF-8 after all (and nothing but ASCII before the first non-UTF-8 byte)."""


def _line_of(lines_before: int, data: bytes, pos: int) -> int:
    return lines_before + data[:pos].count(b"\n") + 1


def _first_utf8_line(data: bytes, lines_before: int) -> int | None:
    """The first line of `data` with non-ASCII text that is valid UTF-8 (GBK text never is)."""
    for n, line in enumerate(data.split(b"\n")):
        if not line.isascii():
            try:
                line.decode("utf-8")
                return lines_before + n + 1
            except UnicodeDecodeError:
                pass
    return None


def scan_text(path: Path, display: str, limits: Limits, workdir: Path) -> TextScan:
    """Read a CSV once, in chunks: encoding (UTF-8 with or without BOM, GB18030, UTF-16 with
    BOM), a NUL anywhere, two encodings in one file, the line count against the row limit;
    text that is not UTF-8 is copied to UTF-8 as it goes."""
    with open(path, "rb") as fh:
        start = fh.read(4)
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _scan(path, display, "utf-16", limits, workdir)
    if start.startswith(codecs.BOM_UTF8):
        return _scan(path, display, "utf-8-sig", limits, workdir)
    try:
        return _scan(path, display, "utf-8", limits, workdir)
    except _Restart:
        return _scan(path, display, "gb18030", limits, workdir)


def _scan(path: Path, display: str, enc: str, limits: Limits, workdir: Path) -> TextScan:
    copy = enc not in ("utf-8", "utf-8-sig")
    out_path = Path(tempfile.mkstemp(suffix=".csv", dir=workdir)[1]) if copy else path
    scan = TextScan(enc, out_path)
    decoder = codecs.getincrementaldecoder(enc)("strict")
    non_ascii = False
    prev = b""  # the end of the previous chunk, for patterns across chunks
    max_lines = limits.rows + HEADER_SCAN_ROWS
    out = open(out_path, "w", encoding="utf-8", newline="") if copy else None
    try:
        with open(path, "rb") as fh:
            while True:
                data = fh.read(CHUNK)
                final = not data
                if enc == "gb18030" and not data.isascii():
                    switch = _gbk_then_utf8(data, scan.lines)
                    if switch is not None:
                        scan.issue = _mixed(display, switch, "GBK（GB18030）", "UTF-8")
                        return scan
                try:
                    text = decoder.decode(data, final)
                except UnicodeDecodeError as exc:
                    pos = max(0, min(exc.start, len(data)))
                    if enc == "utf-8" and not non_ascii and data[:pos].isascii():
                        raise _Restart() from None
                    line = _line_of(scan.lines, data, pos)
                    rest = data[data.rfind(b"\n", 0, pos) + 1 :]
                    if enc.startswith("utf-8") and _decodes(rest, "gb18030"):
                        scan.issue = _mixed(display, line, "UTF-8", "GBK（GB18030）")
                    elif enc == "gb18030" and (switch := _first_utf8_line(data, scan.lines)):
                        scan.issue = _mixed(display, switch, "GBK（GB18030）", "UTF-8")
                    else:
                        scan.issue = Issue("E_BAD_BYTES", display, "CSV", row=line)
                    return scan
                non_ascii = non_ascii or not text.isascii()
                # ASCII bytes never occur inside a UTF-8 or GB18030 character, so the checks
                # run on the bytes, cheaper than on the text (UTF-16 is checked as UTF-8)
                body = text.encode("utf-8") if enc == "utf-16" else data
                if (nul := body.find(b"\x00")) >= 0:
                    line = scan.lines + body.count(b"\n", 0, nul) + 1
                    scan.issue = Issue("E_NUL_BYTE", display, "CSV", row=line)
                    return scan
                probe = prev + body
                if (
                    b"\n\n" in probe
                    or b"\n\r\n" in probe
                    or (not prev and body[:1] in (b"\n", b"\r"))
                ):
                    scan.blank_lines = True
                if not scan.bare_cr:
                    edge = probe if final else probe[:-1]
                    scan.bare_cr = edge.count(b"\r") != edge.count(b"\r\n")
                scan.quotes = scan.quotes or b'"' in body
                scan.lines += body.count(b"\n")
                if len(scan.head) < HEAD_BYTES:
                    scan.head += text[: HEAD_BYTES - len(scan.head)]
                if scan.lines > max_lines:
                    scan.issue = Issue(
                        "E_TOO_MANY_ROWS", display, "CSV", params={"limit": f"{limits.rows:,}"}
                    )
                    return scan
                if out is not None:
                    out.write(text)
                prev = body[-2:] if body else prev
                if final:
                    break
        if prev and not prev.endswith(b"\n"):
            scan.lines += 1  # a last line without a line break
        return scan
    finally:
        if out is not None:
            out.close()
            if scan.issue is not None:
                out_path.unlink(missing_ok=True)


def _mixed(display: str, line: int, first: str, then: str) -> Issue:
    return Issue(
        "E_MIXED_ENCODING", display, "CSV", row=line, params={"first": first, "then": then}
    )


def _decodes(data: bytes, enc: str) -> bool:
    cut = data.rfind(b"\n")
    try:
        (data[:cut] if cut > 0 else data).decode(enc)
        return True
    except UnicodeDecodeError:
        return False


def _gbk_then_utf8(data: bytes, lines_before: int) -> int | None:
    """In a GB18030 file: the first line of this chunk written in UTF-8, if its last lines
    with non-ASCII text are UTF-8 (checked on the last such line first: cheap per chunk)."""
    lines = data.split(b"\n")[:-1] or [data]
    for line in reversed(lines[-200:]):
        if not line.isascii():
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return None
            return _first_utf8_line(data, lines_before)
    return None


def _sniff(head_lines: list[str]) -> str:
    try:
        return csv.Sniffer().sniff("\n".join(head_lines[:5]), delimiters=",\t;|").delimiter
    except csv.Error:
        return ","


def read_csv(path: Path, display: str, ctx: ReadContext) -> ReadResult:
    issues: list[Issue] = []
    scan = scan_text(path, display, ctx.limits, ctx.workdir)
    if scan.issue is not None:
        return ReadResult(path, [], [scan.issue])
    try:
        return _read_scanned(path, display, scan, ctx, issues)
    finally:
        if scan.path != path and scan.path.exists():
            scan.path.unlink()


def _read_scanned(
    path: Path, display: str, scan: TextScan, ctx: ReadContext, issues: list[Issue]
) -> ReadResult:
    head = scan.head
    if len(head) >= HEAD_BYTES and "\n" in head:
        head = head[: head.rfind("\n") + 1]  # whole lines only
    head = head.lstrip("\ufeff")
    sep = _sniff(head.splitlines())
    reader = csv.reader(io.StringIO(head, newline=""), delimiter=sep)
    records: list[list[str | None]] = []
    line_ends: list[int] = []
    try:
        for rec in itertools.islice(reader, HEADER_SCAN_ROWS):
            records.append([cell_text(c) for c in rec])
            line_ends.append(reader.line_num)
    except csv.Error:
        pass
    match = detect_header(records)
    if match is None:
        code = "W_SHEET_UNRECOGNISED" if any(any(r) for r in records) else "W_EMPTY_SHEET"
        issues.append(Issue(code, display, "CSV", severity="warning"))
        return ReadResult(path, [], issues)
    raw = sheet_from_match(display, "CSV", match, ctx.limits, issues)
    if raw is None:
        return ReadResult(path, [], issues)
    if scan.blank_lines or scan.bare_cr:
        # DuckDB would skip blank lines and renumber rows: number them here as Excel does
        try:
            raw.source = _numbered_copy(scan, sep, match.row_index + 1, raw.ncols, ctx)
        except csv.Error as exc:
            issues.append(Issue("E_CSV_MALFORMED", display, "CSV", params={"detail": str(exc)}))
            return ReadResult(path, [], issues)
    else:
        raw.source = SheetSource(
            scan.path, sep, line_ends[match.row_index], raw.ncols, parallel=not scan.quotes
        )
    return load_sheet(path, display, raw, ctx, issues)


def _numbered_copy(
    scan: TextScan, sep: str, header_records: int, ncols: int, ctx: ReadContext
) -> SheetSource:
    """The body as a numbered CSV (row as Excel numbers it, then the cells), streamed."""
    out = ctx.temp_path(".csv")
    csv.field_size_limit(8 * MB)
    enc = "utf-8-sig" if scan.encoding == "utf-8-sig" else "utf-8"  # a copy is plain UTF-8
    with (
        open(scan.path, encoding=enc, newline="") as src,
        open(out, "w", encoding="utf-8", newline="") as dst,
    ):
        reader = csv.reader(src, delimiter=sep)
        writer = csv.writer(dst, lineterminator="\n")
        for n, rec in enumerate(reader, start=1):
            if n <= header_records or not any(c.strip() for c in rec):
                continue
            writer.writerow([n, *(rec[:ncols] + [""] * (ncols - len(rec)))])
    return SheetSource(out, ",", 0, ncols, numbered=True, temporary=True)
