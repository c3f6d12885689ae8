"""Publishing: offline HTML reports, the run's index page, the city 通报 (.docx) and PDF.

HTML reports are exported in-process with one reused nbconvert exporter (code hidden) and wrapped
in a page that loads ONE shared `assets/plotly.min.js` and `assets/report.css` by relative path:
no CDN or other external URL anywhere, so reports open on an intranet without internet.
"""

from __future__ import annotations

import html
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from workbench import fmt
from workbench.files import FILE_MODE, atomic_write
from workbench.messages import t
from workbench.privacy import mask_id_card

log = logging.getLogger(__name__)

SUMMARY_MIME = "application/vnd.workbench.summary+json"
# cells a published report leaves out (papermill's, and Jupyter Book's `remove-cell`)
HIDDEN_TAGS = frozenset({"parameters", "injected-parameters", "remove-cell"})
PLOTLY_ASSET = "assets/plotly.min.js"
CSS_ASSET = "assets/report.css"
EXTERNAL_RE = re.compile(
    r"""<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*["']?\s*(https?:)?//""", re.I
)

REPORT_CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei","PingFang SC",sans-serif;
 margin:0;background:#f5f7fa;color:#1f2d3d}
main.wb-report{max-width:1100px;margin:0 auto;background:#fff;padding:24px 32px 40px;
 box-shadow:0 0 8px rgba(0,0,0,.06)}
h1{font-size:22px}h2{font-size:18px;border-left:4px solid #1f77b4;padding-left:8px;margin-top:28px}
h3{font-size:16px}
table{border-collapse:collapse;font-size:13px;margin:6px 0 14px}
th,td{border:1px solid #dfe3ea;padding:4px 8px;text-align:left}th{background:#f0f3f7}
.output_stream,.output_text pre,pre{white-space:pre-wrap;font-size:12px}
.output_error pre,.output_stderr pre{background:#fdf2f2;color:#8a1f11;padding:8px}
footer.wb-foot{max-width:1100px;margin:8px auto 24px;color:#888;font-size:12px}
.ansi-red-fg{color:#c0392b}.ansi-green-fg{color:#2e7d32}.ansi-cyan-fg{color:#117a8b}
.ansi-yellow-fg{color:#9a6700}.ansi-blue-fg{color:#1f5fbf}.ansi-bold{font-weight:bold}
.wb-index .ok{color:#2e7d32}.wb-index .failed{color:#c0392b;font-weight:600}
.wb-index td.reason{max-width:420px;color:#8a1f11;font-size:12px}
.wb-index input{padding:4px 8px;margin:8px 0;width:240px}
.wb-summary span{display:inline-block;margin-right:18px}
@page{size:A4;margin:15mm 14mm}
@media print{body{background:#fff}main.wb-report{box-shadow:none;padding:0;max-width:none}
 h1,h2,h3{break-after:avoid;page-break-after:avoid}
 .wb-card,tr,.js-plotly-plot,.plotly-graph-div{break-inside:avoid;page-break-inside:avoid}
 thead{display:table-header-group}}
"""

INDEX_JS = """
function wbFilter(v){v=v.trim();document.querySelectorAll('#wb-rows tr').forEach(function(r){
r.style.display=(!v||r.textContent.indexOf(v)>=0)?'':'none';});}
"""

_local = threading.local()


# ----------------------------------------------------------------------------- assets
def write_assets(run_dir: Path) -> None:
    """The shared plotly.js and stylesheet, once per run (atomic; skipped when present)."""
    js = run_dir / PLOTLY_ASSET
    if not js.exists():
        from plotly.offline import get_plotlyjs

        atomic_write(js, get_plotlyjs())
    css = run_dir / CSS_ASSET
    if not css.exists() or css.read_text(encoding="utf-8") != REPORT_CSS:
        atomic_write(css, REPORT_CSS)


def _rel(from_file: Path, run_dir: Path, asset: str) -> str:
    return os.path.relpath(run_dir / asset, from_file.parent).replace(os.sep, "/")


# ----------------------------------------------------------------------------- HTML
def _exporter_class() -> type:
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    class ReportExporter(HTMLExporter):
        """nbconvert's HTML export minus work a generated notebook does not need: schema
        validation after every (disabled) preprocessor and the accessibility re-parse of the
        finished page with BeautifulSoup (the lab template's classes are not used here)."""

        def _validate_preprocessor(self, nbc: Any, preprocessor: Any) -> None:
            return None

        def from_notebook_node(self, nb: Any, resources: Any = None, **kw: Any) -> Any:
            langinfo = nb.metadata.get("language_info", {})
            lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
            self.register_filter(
                "highlight_code",
                self.filters.get(
                    "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)
                ),
            )
            resources = self._init_resources(resources)
            self.register_filter(
                "filter_data_type",
                WidgetsDataTypeFilter(
                    notebook_metadata=self._nb_metadata, parent=self, resources=resources
                ),
            )
            return TemplateExporter.from_notebook_node(self, nb, resources, **kw)

    return ReportExporter


def exporter(fast: bool = True) -> Any:
    """One HTML exporter per thread, reused for every report (templates compiled once)."""
    key = "exporter_fast" if fast else "exporter"
    exp = getattr(_local, key, None)
    if exp is None:
        from nbconvert import HTMLExporter

        cls = _exporter_class() if fast else HTMLExporter
        exp = cls(
            template_name="basic",
            exclude_input=True,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
            exclude_anchor_links=True,
        )
        setattr(_local, key, exp)
    return exp


def _report_view(nb: Any) -> Any:
    """What readers see: no stderr noise, no machine-readable summary, no injected params, no
    note for the analyst (the notebook's first cell, tagged `remove-cell`); a section whose
    code showed nothing (a part the set does not have, e.g. the campaign's ledger lists for a
    set on its own table) is left out with its heading, and the sections are renumbered."""
    import copy

    view = copy.copy(nb)
    cells = []
    for cell in nb.cells:
        if HIDDEN_TAGS.intersection(cell.get("metadata", {}).get("tags", [])):
            continue
        if cell.get("cell_type") == "code":
            outs = [
                o
                for o in cell.get("outputs", [])
                if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
                and SUMMARY_MIME not in o.get("data", {})
            ]
            if not outs:
                if cell.get("execution_count") is not None:
                    cells.append(_RAN_EMPTY)  # ran and showed nothing: its section may go
                continue
            cell = copy.copy(cell)
            cell["outputs"] = outs
        cells.append(cell)
    view.cells = _renumber(_without_empty_sections(cells))
    return view


_RAN_EMPTY: dict = {"cell_type": "ran-empty"}  # a marker, never published


SECTION_RE = re.compile(r"^(#{2,3})\s*([一二三四五六七八九十]+)、")


def _is_heading(cell: Any) -> bool:
    src = "".join(cell.get("source", "")).strip()
    return cell.get("cell_type") == "markdown" and src.startswith("#") and "\n" not in src


def _without_empty_sections(cells: list[Any]) -> list[Any]:
    """Drop a heading-only markdown cell whose section's code ran and showed nothing (a
    notebook that was not run keeps its headings); the markers go too."""
    out: list[Any] = []
    for i, cell in enumerate(cells):
        if cell is _RAN_EMPTY:
            continue
        if _is_heading(cell):
            section = []
            for nxt in cells[i + 1 :]:
                if _is_heading(nxt):
                    break
                section.append(nxt)
            if section and all(c is _RAN_EMPTY for c in section):
                continue
        out.append(cell)
    return out


def _renumber(cells: list[Any]) -> list[Any]:
    """一、二、三… in the order the numbered headings are shown (after sections were left out)."""
    import copy

    out, n = [], 0
    for cell in cells:
        src = "".join(cell.get("source", ""))
        m = SECTION_RE.match(src) if cell.get("cell_type") == "markdown" else None
        if m:
            n += 1
            cell = copy.copy(cell)
            cell["source"] = f"{m.group(1)} {fmt.cn_number(n)}、" + src[m.end() :]
        out.append(cell)
    return out


def report_body(nb: Any, fast: bool = True) -> str:
    body, _ = exporter(fast).from_notebook_node(_report_view(nb))
    return body


def page(
    body: str,
    title: str,
    html_path: Path,
    run_dir: Path,
    footer: str = "",
    plotly: bool = True,
    extra_head: str = "",
) -> str:
    """A full offline page around `body`, loading the run's shared assets by relative path."""
    css = _rel(html_path, run_dir, CSS_ASSET)
    js = f'<script src="{_rel(html_path, run_dir, PLOTLY_ASSET)}"></script>' if plotly else ""
    foot = f'<footer class="wb-foot">{footer}</footer>' if footer else ""
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{html.escape(title)}</title><link rel="stylesheet" href="{css}">'
        f'{js}{extra_head}</head><body><main class="wb-report">\n{body}\n</main>{foot}'
        "</body></html>\n"
    )


def scrub(markup: str) -> str:
    """Safety net: mask any 18-digit ID number that reached the page."""
    return mask_id_card(markup)  # type: ignore[return-value]


def external_urls(markup: str) -> list[str]:
    """script/link/img/iframe tags that would fetch from another host (should be none)."""
    return [m.group(0) for m in EXTERNAL_RE.finditer(markup)]


def notebook_html(
    nb: Any, title: str, html_path: Path, run_dir: Path, footer: str = "", fast: bool = True
) -> str:
    return scrub(page(report_body(nb, fast), title, html_path, run_dir, footer=footer))


# ----------------------------------------------------------------------------- index page
def _fmt_score(v: Any) -> str:
    return "—" if v is None or v == "" else fmt.score_text(v)


def index_html(run_dir: Path, meta: dict, units: Iterable[dict]) -> str:
    """Every county with status, score, grade and link; failures with their reason. The words
    (unit noun, the whole, the code's name) are the set's, in `meta["words"]`."""
    w = {"noun": t("tables.noun.county"), "whole": t("ind.city")}
    w |= {"code_label": t("tables.code_label.county")} | (meta.get("words") or {})
    rows = []
    units = list(units)
    for i, u in enumerate(units, 1):
        ok = u.get("status") == "ok"
        status_txt = (
            t("batch.index.ok")
            if ok
            else (
                t("batch.index.failed") if u.get("status") == "failed" else t("batch.index.pending")
            )
        )
        link = ""
        if u.get("html"):
            link = f'<a href="{html.escape(u["html"])}">{t("batch.index.open")}</a>'
        rows.append(
            f"<tr><td>{i}</td><td>{html.escape(str(u.get('unit', '')))}</td>"
            f"<td>{html.escape(str(u.get('label', '')))}</td>"
            f'<td class="{html.escape(str(u.get("status", "")))}">{status_txt}</td>'
            f"<td>{_fmt_score(u.get('score'))}</td><td>{u.get('rank') or '—'}</td>"
            f"<td>{html.escape(str(u.get('grade') or '—'))}</td>"
            f"<td>{float(u.get('seconds') or 0):.1f}</td><td>{link}</td>"
            f'<td class="reason">{html.escape(str(u.get("error") or ""))}</td></tr>'
        )
    links = []
    for key, label in (
        ("city_html", "batch.index.city_link"),
        ("docx", "batch.index.docx_link"),
        ("city_pdf", "batch.index.pdf_link"),
    ):
        if meta.get(key):
            links.append(f'<a href="{html.escape(meta[key])}">{t(label, **w)}</a>')
    for d in meta.get("documents") or []:
        if d.get("docx") == meta.get("docx"):
            continue  # the 通报 has its link above
        links.append(f'<a href="{html.escape(d["docx"])}">{html.escape(d["title"])}（Word）</a>')
    for d in meta.get("documents") or []:
        if d.get("pdf"):
            links.append(f'<a href="{html.escape(d["pdf"])}">{html.escape(d["title"])}（PDF）</a>')
    links.append(f'<a href="manifest.json">{t("batch.index.manifest_link")}</a>')
    heads = "".join(
        f"<th>{html.escape(t('batch.index.col.' + c, **w))}</th>"
        for c in (
            "no",
            "code",
            "county",
            "status",
            "score",
            "rank",
            "grade",
            "seconds",
            "report",
            "reason",
        )
    )
    summary = t(
        "batch.index.summary",
        total=meta.get("total", len(units)),
        ok=meta.get("ok", 0),
        failed=meta.get("failed", 0),
        pending=meta.get("pending", 0),
        noun=w["noun"],
    )
    filter_text = html.escape(t("batch.index.filter", **w))
    facts = "".join(
        f"<span>{t('batch.index.' + key)}：{html.escape(str(meta.get(field, '')))}</span>"
        for key, field in (
            ("period", "period_label"),
            ("run_id", "run_id"),
            ("status", "state_label"),
        )
    )
    body = (
        f"<h1>{html.escape(meta.get('title', ''))}</h1>"
        f'<p class="wb-summary">{facts}</p>'
        f'<p class="wb-summary">{html.escape(summary)}</p><p>{"　".join(links)}</p>'
        f'<div class="wb-index"><input type="search" placeholder="{filter_text}" '
        f'oninput="wbFilter(this.value)"><table><thead><tr>{heads}</tr></thead>'
        f'<tbody id="wb-rows">{"".join(rows)}</tbody></table></div>'
    )
    footer = html.escape(meta.get("footer", ""))
    return scrub(
        page(
            body,
            meta.get("title", ""),
            run_dir / "index.html",
            run_dir,
            footer=footer,
            plotly=False,
            extra_head=f"<script>{INDEX_JS}</script>",
        )
    )


# ----------------------------------------------------------------------------- Word 通报
def bulletin_docx(city: Any, path: Path, run_id: str = "", options: Any = None) -> Path:
    """The city 通报 as a GB/T 9704 official document (see `workbench.documents`)."""
    from workbench.documents import bulletin, gongwen
    from workbench.documents import options as dopt

    opts = options or dopt.DocOptions()
    head, _notes = dopt.header(opts, city.city_name(), city.data.period)
    atomic_write(path, gongwen.render(bulletin.build(city, head, run_id=run_id)))
    return path


# ----------------------------------------------------------------------------- PDF
# Headless Debian chromium on a closed network: without the background-networking flags it
# keeps trying to reach Google's hosts. Shared by PDF export, browser tests and benchmarks.
HEADLESS_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium_path() -> str | None:
    for name in (
        os.environ.get("WORKBENCH_CHROMIUM"),
        "chromium",
        "chromium-browser",
        "google-chrome",
    ):
        if name and (found := shutil.which(name)):
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


class PdfUnavailable(RuntimeError):
    """No headless Chromium on this machine; the message says how to get it."""


def html_to_pdf(html_path: Path, pdf_path: Path, timeout: float = 90) -> Path:
    """Print a report through headless Chromium (charts rendered first), atomically."""
    exe = chromium_path()
    if exe is None:
        raise PdfUnavailable(t("batch.pdf.no_chromium"))
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{pdf_path.name}.", suffix=".tmp", dir=pdf_path.parent)
    os.close(fd)
    profile = tempfile.mkdtemp(prefix="wb-chromium-")
    cmd = [
        exe,
        *HEADLESS_FLAGS,
        "--disable-dev-shm-usage",
        "--disable-extensions",
        "--no-pdf-header-footer",
        f"--user-data-dir={profile}",
        "--run-all-compositor-stages-before-draw",
        "--virtual-time-budget=15000",
        f"--print-to-pdf={tmp}",
        Path(html_path).resolve().as_uri(),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout)
        if proc.returncode != 0 or os.path.getsize(tmp) == 0:
            raise RuntimeError(
                t("batch.pdf.failed", detail=proc.stderr.decode("utf-8", "replace")[-300:])
            )
        os.chmod(tmp, FILE_MODE)  # like every other file of the run
        os.replace(tmp, pdf_path)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(t("batch.pdf.failed", detail=str(exc))) from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
        shutil.rmtree(profile, ignore_errors=True)
    return pdf_path
