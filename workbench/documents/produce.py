"""Write every document due at a period (the 通报, and what the calendar calls for) as Word
and, where LibreOffice is installed, PDF. The batch calls `write_all` once per run."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from workbench.documents import bulletin, gongwen, summaries
from workbench.documents import options as dopt
from workbench.documents import pdf as dpdf
from workbench.files import atomic_write
from workbench.screening import summary as scr_summary
from workbench.messages import t

log = logging.getLogger(__name__)


def file_name(kind: str, period: str, phase: str = "") -> str:
    return t(f"doc.file.{kind}", period=period, phase=phase)


def _screening_args(city: Any, screening: Mapping[str, Any] | None) -> tuple | None:
    """The inputs both digests read (screening leads, the leads ledger, coverage, rule names),
    None when nothing was screened or there is no leads ledger."""
    if not screening:
        return None
    leads = city.data.ledgers.get("leads")
    if leads is None:
        return None
    return (screening["scr_leads"], leads, screening["coverage"], screening["rule_names"])


def screening_digest(city: Any, screening: Mapping[str, Any] | None, period: str) -> Any:
    """The month's screening digest for the 通报, None when nothing was screened for it."""
    args = _screening_args(city, screening)
    if args is None:
        return None
    cross = screening.get("cross_match", ())  # type: ignore[union-attr]
    digest = scr_summary.period_digest(*args, period, cross, city.data.ledgers.get("cases"))
    if digest is not None:  # the rules' cited sources, for the attachment's 规则依据
        digest["rules"] = scr_summary.rule_table(
            screening["rule_names"],  # type: ignore[index]
            screening.get("rule_sources") or {},  # type: ignore[union-attr]
        )
    return digest


def window_screening(
    city: Any, screening: Mapping[str, Any] | None, since: str, through: str
) -> Any:
    """The screening of the data months `since`–`through` for a phase or campaign summary, None
    when none of them was screened (`screening.summary.window_digest`)."""
    args = _screening_args(city, screening)
    if args is None:
        return None
    cross = screening.get("cross_match", ())  # type: ignore[union-attr]
    return scr_summary.window_digest(*args, since, through, cross, city.data.ledgers.get("cases"))


def _month(d: Any) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def build(
    kind: str,
    code: str,
    city: Any,
    options: dopt.DocOptions,
    period: str,
    city_at: Callable[[str], Any],
    run_id: str = "",
    submissions: Any = None,
    screening: Mapping[str, Any] | None = None,
) -> tuple[Any, list[str]]:
    """(Document, notes) of one kind; `city_at(period)` gives the city report at another month
    (a phase summary reads the phase's last month); `screening` is
    `screening.summary.digest_inputs` (None: no screening section)."""
    ev = getattr(getattr(city, "data", None), "evaluation", None)
    declared = ev.indicator_set.presentation.issuer if ev is not None else None
    if declared and not options.issuer:  # the set's `presentation.issuer`, below a flag or toml
        options = dataclasses.replace(options, issuer=declared)
    words = city.data.words if ev is not None else None
    head, notes = dopt.header(options, city.city_name(), period, kind=kind, words=words)
    if kind == "bulletin":
        digest = screening_digest(city, screening, period)
        return bulletin.build(city, head, submissions, run_id, digest), notes
    if kind == "phase_summary":
        ph = next(p for p in city.data.evaluation.indicator_set.calendar.phases if p.code == code)
        end = _month(ph.end)
        scr = window_screening(city, screening, _month(ph.start), end)
        return summaries.build_phase_summary(city, city_at(end), code, head, run_id, scr), notes
    if kind == "campaign_summary":
        cal = city.data.evaluation.indicator_set.calendar
        scr = window_screening(city, screening, _month(cal.start), _month(cal.end))
        return summaries.build_campaign_summary(city, head, run_id, scr), notes
    return summaries.build_case_digest(city, head, run_id), notes


def write_all(
    city: Any,
    options: dopt.DocOptions,
    out_dir: Path,
    city_at: Callable[[str], Any],
    run_id: str = "",
    pdf: bool = True,
    echo: Callable[[str], None] = print,
    submissions: Any = None,
    screening: Mapping[str, Any] | None = None,
) -> list[dict[str, str]]:
    """Every document due at the city's period: [{kind, title, docx, pdf?}] with paths relative
    to `out_dir`'s parent. Notes (defaults used, no LibreOffice) go to `echo` once."""
    period = city.data.period
    iset = city.data.evaluation.indicator_set
    wanted = [("bulletin", "")] + summaries.due(iset, period)
    out: list[dict[str, str]] = []
    said: set[str] = set()
    soffice = dpdf.soffice_path() is not None
    if pdf and not soffice:
        echo(t("doc.pdf.no_soffice"))
    for kind, code in wanted:
        doc, notes = build(
            kind, code, city, options, period, city_at, run_id, submissions, screening
        )
        for n in notes:
            if n not in said:
                said.add(n)
                echo(n)
        phase = ""
        if code:
            phase = next(p.name for p in iset.calendar.phases if p.code == code)
        if kind == "bulletin" and not city.data.words.on_ledgers:  # a set on its own table
            name = t("doc.file.bulletin_own", name=iset.name, period=city.data.period_label)
            path = out_dir / name
        else:
            path = out_dir / file_name(kind, period, phase)
        atomic_write(path, gongwen.render(doc))
        item = {"kind": kind, "title": doc.title, "docx": f"{out_dir.name}/{path.name}"}
        if pdf and soffice:
            try:
                dpdf.docx_to_pdf(path, path.with_suffix(".pdf"))
                item["pdf"] = f"{out_dir.name}/{path.with_suffix('.pdf').name}"
            except RuntimeError as exc:
                echo(str(exc))
        out.append(item)
        echo(t("doc.written", title=doc.title, path=str(path)))
    return out
