"""Serving the dashboards with Voilà, with the defaults a bureau intranet needs.

Only `dashboards/` is served, sources are stripped, kernels are preheated (the notebook has run
before anyone asks, so a leader sees the cockpit at once) and idle kernels are culled. The server
binds to 127.0.0.1; binding beyond it needs a token or a password.

Kernels never read the warehouse itself but a *snapshot*: a copy taken while no ingest holds the
file (`Snapshots`). An ingest therefore never meets a kernel's lock, and a page opened while one
runs shows the last complete data with a notice. When the warehouse has changed and is quiet
again, a new snapshot is taken, its dashboard data precomputed in a child process
(`dashboard.load`, shared with every kernel through the disk cache), and the preheated kernels
that ran on the old one are replaced — the next page opened shows the new ingest, no restart.

Kernels are a scarce resource (≈ 170 MB each): `BoundedKernelManager` never lets more than
`max_kernels` live — counting kernels still starting — and releases a kernel that no page has
connected to within `viewer_timeout` seconds (a plain GET with no browser, a page closed without
its unload beacon, a browser that vanished: websocket pings notice it). Over the cap a viewer
gets a Chinese page that retries by itself.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import html
import ipaddress
import json
import logging
import logging.handlers
import os
import signal
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench import dashboard, snapshots
from workbench.config import (
    ENV_INDICATORS,
    ENV_SETS,
    ENV_STATIC_PLOTLY,
    ENV_WAREHOUSE,
    project_root,
    warehouse_path,
)
from workbench.messages import t
from workbench.snapshots import writer_active

log = logging.getLogger(__name__)

ENV_TOKEN = "WORKBENCH_DASHBOARD_TOKEN"
ENV_PASSWORD = "WORKBENCH_DASHBOARD_PASSWORD"
TEMPLATE = "workbench"
TEMPLATE_ROOT = Path(__file__).with_name("assets") / "jupyter"
NOTEBOOKS = ("cockpit.ipynb", "county.ipynb")
STATUS_PATH = "voila/workbench/status"  # the page's freshness line and notices (JSON)
HELLO_PATH = "voila/workbench/hello"  # the page's first script: a browser has the page
BUSY_RETRY_S = 15  # the over-the-cap page reloads itself after this many seconds
# the detailed log rotates by size: serve.log, then serve.log.1 … serve.log.5 beside it
LOG_MAX_BYTES = 10 * 1024 * 1024
LOG_BACKUPS = 5
KERNEL_LOGGER = "kernel"  # the kernels' own stdout/stderr lines, in the detailed log


class ServeError(RuntimeError):
    """A refusal with a Chinese message for the user (exit code 2)."""


@dataclass
class ServeOptions:
    port: int = 8866
    host: str = "127.0.0.1"
    warehouse: Path | None = None
    token: str | None = None
    password: str | None = None
    base_url: str = "/"
    pool_size: int = 2
    cockpit_pool: int | None = None  # preheated cockpit kernels (None: pool_size)
    cull_idle_timeout: int = 900
    cull_interval: int = 60
    fill_delay: float = 20.0
    max_kernels: int = 40
    # a kernel no page has connected to for this long is released (never-opened pages, pages
    # closed without the unload beacon, vanished browsers once pings time out)
    viewer_timeout: int = 45
    # a page that has arrived in a browser (its first script said so) but has not attached yet
    # — a slow PC or a saturated server still loading it — keeps its kernel this long
    load_timeout: int = 240
    ws_ping_interval: int = 15  # seconds; a silent browser is dropped after 3 missed pings
    watch_interval: float = 5.0  # seconds between looks at kernels and the warehouse
    start_wait: float = 600.0  # how long `serve` waits at start for an ingest to finish
    geojson: Path | None = None
    precompute: bool = True
    dashboards: Path = field(default_factory=lambda: project_root() / "dashboards")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and `localhost`; everything else is reachable by others."""
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        try:
            return all(
                ipaddress.ip_address(info[4][0]).is_loopback
                for info in socket.getaddrinfo(host, None)
            )
        except (OSError, ValueError):
            return False


def check_options(opts: ServeOptions) -> None:
    """Refuse unsafe or impossible settings before anything starts."""
    if not is_loopback(opts.host) and not (opts.token or opts.password):
        raise ServeError(t("dash.serve.E_EXPOSED_NO_AUTH", host=opts.host))
    if opts.token is not None and len(opts.token) < 16:
        raise ServeError(t("dash.serve.E_TOKEN_SHORT"))
    if opts.password is not None and len(opts.password) < 8:
        raise ServeError(t("dash.serve.E_PASSWORD_SHORT"))
    if not 0 < opts.port < 65536:
        raise ServeError(t("dash.serve.E_PORT", port=opts.port))
    missing = [n for n in NOTEBOOKS if not (opts.dashboards / n).is_file()]
    if missing:
        raise ServeError(
            t("dash.serve.E_NO_DASHBOARDS", path=opts.dashboards, missing="、".join(missing))
        )
    pooled = sum(pool_sizes(opts).values())
    if min(pool_sizes(opts).values()) < 0 or opts.max_kernels < max(pooled, 2):
        raise ServeError(t("dash.serve.E_POOL", pool=pooled, max=opts.max_kernels))


def pool_sizes(opts: ServeOptions) -> dict[str, int]:
    """Preheated kernels kept ready for each page."""
    cockpit = opts.pool_size if opts.cockpit_pool is None else opts.cockpit_pool
    return {"cockpit.ipynb": cockpit, "county.ipynb": opts.pool_size}


def voila_argv(opts: ServeOptions) -> list[str]:
    """Voilà's command line (no secrets: those go through the config object)."""
    base = "/" + opts.base_url.strip("/") + "/" if opts.base_url.strip("/") else "/"
    return [
        str(opts.dashboards),
        "--no-browser",
        f"--Voila.ip={opts.host}",
        f"--Voila.port={opts.port}",
        f"--Voila.base_url={base}",
        "--VoilaConfiguration.strip_sources=True",
        "--VoilaConfiguration.show_tracebacks=False",
        f"--VoilaConfiguration.template={TEMPLATE}",
        "--VoilaConfiguration.allow_template_override=NO",
        "--VoilaConfiguration.allow_theme_override=NO",
        f"--VoilaConfiguration.preheat_kernel={max(pool_sizes(opts).values()) > 0}",
        f"--VoilaConfiguration.default_pool_size={opts.pool_size}",
        "--VoilaConfiguration.multi_kernel_manager_class=workbench.serve.BoundedKernelManager",
        f"--BoundedKernelManager.max_kernels={opts.max_kernels}",
        f"--BoundedKernelManager.viewer_timeout={opts.viewer_timeout}",
        f"--BoundedKernelManager.load_timeout={max(opts.load_timeout, opts.viewer_timeout)}",
        f"--MappingKernelManager.cull_idle_timeout={opts.cull_idle_timeout}",
        f"--MappingKernelManager.cull_interval={opts.cull_interval}",
        "--MappingKernelManager.cull_connected=False",
        f"--VoilaKernelManager.fill_delay={opts.fill_delay}",
        "--MappingKernelManager.cull_busy=False",
        "--VoilaConfiguration.classic_tree=True",
    ]


def voila_config(opts: ServeOptions):  # -> traitlets.config.Config
    """Secrets and settings that are not command-line friendly."""
    from traitlets.config import Config

    cfg = Config()
    if opts.token:
        cfg.Voila.token = opts.token
    if opts.password:
        from jupyter_server.auth.security import passwd

        cfg.PasswordIdentityProvider.hashed_password = passwd(opts.password)
        cfg.Voila.token = opts.token or ""
    cfg.Voila.tornado_settings = {
        "headers": {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"},
        # kernel websockets are pinged; a browser that vanished (no close frame) is dropped
        # when a pong is missing at the next ping, and its kernel is then released like a
        # closed page's (tornado refuses a timeout longer than the interval, with a warning)
        "ws_ping_interval": opts.ws_ping_interval * 1000,
        "ws_ping_timeout": opts.ws_ping_interval * 1000,
    }
    sizes = pool_sizes(opts)
    if len(set(sizes.values())) > 1:  # a pool size of its own for a page
        cfg.VoilaKernelManager.kernel_pools_config = {
            "default": {"pool_size": opts.pool_size},
            **{nb: {"pool_size": n} for nb, n in sizes.items()},
        }
    cfg.VoilaConfiguration.file_allowlist = []  # no file under dashboards/ is served raw
    # Plotly's JupyterLab renderer (≈ 4.7 MB of JavaScript per page) is not used: the dashboards
    # draw with the plotly.js the template loads.
    cfg.VoilaConfiguration.extension_denylist = ["jupyterlab-plotly"]
    # what Voilà appends to a failed cell's message (English by default); the template shows
    # its own Chinese text in place of the whole message
    cfg.VoilaExecutor.cell_error_instruction = t("serve.page.cell_error")
    return cfg


# ───────────────────────────── the page template and Chinese pages ─────────────────────────────


def template_root(folder: Path) -> Path:
    """A Jupyter data folder holding the workbench template plus plotly.js as a static file.

    Served as a file, plotly.js (≈ 4.8 MB) is fetched in parallel with Voilà's own scripts,
    parsed once, cached by the browser, and no longer rides inside the notebook's output
    (which Voilà would JSON-parse and push through its HTML renderer on every visit).
    The error pages (404, 503 over the cap, …) and the text of a failed cell are written here
    from the message catalogue, so everything a viewer reads is Chinese."""
    import plotly

    src_dir = TEMPLATE_ROOT / "voila" / "templates" / TEMPLATE
    dest = folder / "voila" / "templates" / TEMPLATE
    shutil.copytree(src_dir, dest, dirs_exist_ok=True)
    static = dest / "static"
    static.mkdir(exist_ok=True)
    js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    shutil.copyfile(js, static / "plotly.min.js")  # a copy: tornado refuses symlinks out
    (dest / "workbench_head.html.j2").write_text(
        "<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>\n"
        "<script defer src=\"{{ resources.include_url('static/plotly.min.js') }}\"></script>\n",
        encoding="utf-8",
    )
    (dest / "workbench_loading.html.j2").write_text(loading_script(), encoding="utf-8")
    (dest / "workbench_cell_error.html.j2").write_text(
        '<div class="wb-cell-error" role="alert">' + _esc(t("serve.page.cell_error")) + "</div>\n",
        encoding="utf-8",
    )
    (dest / "workbench_freshness.html.j2").write_text(freshness_script(), encoding="utf-8")
    (dest / "workbench_viewer.html.j2").write_text(viewer_script(), encoding="utf-8")
    for name, text in error_pages().items():
        (dest / name).write_text(text, encoding="utf-8")
    return folder


def server_templates(folder: Path) -> Path:
    """Jupyter Server's own pages (login, logout, 404 and other errors) in Chinese, for the
    handlers that render through Jupyter Server's template environment rather than Voilà's."""
    folder.mkdir(parents=True, exist_ok=True)
    pages = {**error_pages(), "login.html": login_page(), "logout.html": logout_page()}
    for name, text in pages.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


_PAGE_CSS = (
    "body{font-family:'Noto Sans CJK SC','Microsoft YaHei','PingFang SC',sans-serif;"
    "background:#f3f5f8;color:#1f2933;margin:0}"
    ".wb-msg{max-width:560px;margin:12vh auto;background:#fff;border-radius:8px;"
    "padding:32px 40px;box-shadow:0 2px 12px rgba(0,0,0,.08)}"
    ".wb-msg h1{font-size:22px;margin:0 0 16px}.wb-msg p{line-height:1.7;font-size:15px}"
    ".wb-msg a,.wb-msg button{color:#0b5cad}"
    ".wb-msg input{font-size:16px;padding:6px 8px;width:100%;box-sizing:border-box;margin:8px 0}"
    ".wb-msg button{font-size:16px;padding:6px 20px;margin-top:8px}"
    ".wb-err{color:#b3261e}"
)


def _page(title: str, body: str, head: str = "") -> str:
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1.0">'
        f"<title>{_esc(title)}</title>{head}<style>{_PAGE_CSS}</style></head>"
        f'<body><div class="wb-msg">{body}</div></body></html>\n'
    )


def error_pages() -> dict[str, str]:
    """Jinja templates for the error pages (Jupyter Server renders `<code>.html`, else
    `error.html`, with `status_code` and `base_url`)."""
    home = (
        '<p><a href="{{ base_url }}voila/render/cockpit.ipynb">'
        + _esc(t("serve.page.home"))
        + "</a></p>"
    )
    busy_body = t("serve.page.busy_body", n="{{ max_kernels or '' }}", seconds=BUSY_RETRY_S)
    busy = _page(
        t("serve.page.busy_title"),
        f'<h1>{_esc(t("serve.page.busy_title"))}</h1><p data-wb-page="busy">{busy_body}</p>'
        f'<p><a href="" onclick="location.reload();return false;">'
        f"{_esc(t('serve.page.retry_now'))}</a></p>"
        "<script>(function(){var n=" + str(BUSY_RETRY_S) + ",el=document.getElementById("
        "'wb-retry');setInterval(function(){n=Math.max(0,n-1);if(el){el.textContent=n;}"
        "if(n===0){location.reload();}},1000);})();</script>",
        head=f'<meta http-equiv="refresh" content="{BUSY_RETRY_S}">',
    )
    return {
        "503.html": busy,
        "404.html": _page(
            t("serve.page.not_found_title"),
            f"<h1>{_esc(t('serve.page.not_found_title'))}</h1>"
            f'<p data-wb-page="404">{_esc(t("serve.page.not_found_body"))}</p>' + home,
        ),
        "403.html": _page(
            t("serve.page.forbidden_title"),
            f"<h1>{_esc(t('serve.page.forbidden_title'))}</h1>"
            f'<p data-wb-page="403">{_esc(t("serve.page.forbidden_body"))}</p>',
        ),
        "error.html": _page(
            t("serve.page.error_title"),
            f"<h1>{_esc(t('serve.page.error_title'))}</h1>"
            f'<p data-wb-page="error">{t("serve.page.error_body", code="{{ status_code }}")}</p>'
            + home,
        ),
    }


def login_page() -> str:
    """Jupyter Server's login form (same fields: `password`, `_xsrf`, `next`) in Chinese."""
    body = (
        f"<h1>{_esc(t('serve.login.heading'))}</h1>"
        "{% if login_available %}"
        '<form action="{{ base_url }}login?next={{ next | urlencode }}" method="post">'
        "{{ xsrf_form_html() | safe }}"
        '<label for="password_input">'
        "{% if token_available %}"
        + _esc(t("serve.login.password_or_token"))
        + "{% else %}"
        + _esc(t("serve.login.password"))
        + "{% endif %}</label>"
        '<input type="password" name="password" id="password_input" autofocus>'
        f'<button type="submit" id="login_submit">{_esc(t("serve.login.submit"))}</button>'
        "</form>"
        "{% if message %}"
        f'<p class="wb-err" data-wb-page="login-failed">{_esc(t("serve.login.failed"))}</p>'
        "{% endif %}"
        "{% if token_available %}"
        f"<p>{_esc(t('serve.login.token_hint'))}</p>"
        "{% endif %}"
        "{% else %}"
        f"<p>{_esc(t('serve.login.unavailable'))}</p>"
        "{% endif %}"
    )
    return _page(t("serve.login.title"), body)


def logout_page() -> str:
    return _page(
        t("serve.logout.title"),
        f"<h1>{_esc(t('serve.logout.title'))}</h1><p>{_esc(t('serve.logout.body'))}</p>"
        '<p><a href="{{ base_url }}voila/render/cockpit.ipynb">'
        + _esc(t("serve.page.home"))
        + "</a></p>",
    )


# What JupyterLab's widget renderer (Voilà's widgets manager) writes into a widget's place
# while its model loads or when it is missing: English, set from JavaScript, so the page
# replaces it as it appears (`loading_script`).
WIDGET_PLACEHOLDERS = {
    "Loading widget...": "dash.loading_widget",
    "Error displaying widget: model not found": "dash.widget_missing",
}


def loading_script() -> str:
    """Voilà's loading screen in Chinese ("Running cockpit.ipynb…", "Executing 3 of 12" are
    Voilà's own words): the first line, and each step as the kernel runs the cells; and the
    widget renderer's placeholders (`WIDGET_PLACEHOLDERS`) in Chinese wherever they appear."""
    first = json.dumps(t("dash.loading"), ensure_ascii=False)
    step = json.dumps(t("dash.loading_step", i="%i", n="%n"), ensure_ascii=False)
    words = json.dumps({en: t(key) for en, key in WIDGET_PLACEHOLDERS.items()}, ensure_ascii=False)
    return (
        "<script>(function () {\n"
        f"  var WIDGET = {words};\n"
        "  function zh(root) {\n"
        "    if (!root) { return; }\n"
        "    if (root.nodeType === 3) { root = root.parentNode; if (!root) { return; } }\n"
        "    if (root.nodeType !== 1) { return; }\n"
        "    var walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT), t, hit = [];\n"
        "    while ((t = walk.nextNode())) {\n"
        "      if (Object.prototype.hasOwnProperty.call(WIDGET, t.nodeValue)) { hit.push(t); }\n"
        "    }\n"
        "    hit.forEach(function (t) { t.nodeValue = WIDGET[t.nodeValue]; });\n"
        "  }\n"
        "  new MutationObserver(function (records) {\n"
        "    records.forEach(function (r) {\n"
        "      if (r.type === 'characterData') { zh(r.target); }\n"
        "      r.addedNodes.forEach(zh);\n"
        "    });\n"
        "  }).observe(document.documentElement,\n"
        "    {childList: true, subtree: true, characterData: true});\n"
        f"  var first = {first}, step = {step};\n"
        "  var el = document.getElementById('loading_text');\n"
        "  if (el) { el.textContent = first; }\n"
        "  window.update_loading_text = function (i, n) {\n"
        "    var box = document.getElementById('loading');\n"
        "    if (box && box.style.display === 'none') { box.style.display = 'flex'; }\n"
        "    var el = document.getElementById('loading_text');\n"
        "    if (el) { el.textContent = step.replace('%i', i).replace('%n', n); }\n"
        "  };\n"
        "  window.voila_process = window.update_loading_text;\n"
        "})();</script>\n"
    )


def freshness_script() -> str:
    """The freshness line above the page: when the data shown was loaded, the month's
    submissions, and a notice while an ingest runs or when newer data is ready. Read from the
    server's status endpoint when the page opens and every minute (no kernel involved)."""
    new_data = json.dumps(t("serve.notice.new_data"), ensure_ascii=False)
    refresh = json.dumps(t("serve.notice.refresh"), ensure_ascii=False)
    font = dashboard.FONT.replace('"', "'")  # the cockpit's own; the page default was a serif
    return (
        '<div id="wb-freshness" class="wb-freshness" role="status" aria-live="polite"'
        f' style="font-family:{font};font-size:13px;color:#52606d;padding:4px 16px;'
        'background:#eef2f7">'
        '<span class="wb-fresh-line"></span> <span class="wb-fresh-notice"'
        ' style="color:#b35c00"></span></div>\n'
        "<script>(function () {\n"
        f"  var NEW_DATA = {new_data}, REFRESH = {refresh};\n"
        "  var url = (document.body.dataset.baseUrl || '/voila/') + 'workbench/status';\n"
        "  var seen = null;\n"
        "  function show(s) {\n"
        "    var box = document.getElementById('wb-freshness');\n"
        "    if (!box) { return; }\n"
        "    box.dataset.generation = s.generation;\n"
        "    box.dataset.loadedAt = s.loaded_at || '';\n"
        "    box.querySelector('.wb-fresh-line').textContent = s.line || '';\n"
        "    var note = box.querySelector('.wb-fresh-notice');\n"
        "    if (seen === null) { seen = s.generation; }\n"
        "    if (s.generation !== seen) {\n"
        "      note.textContent = NEW_DATA + ' ';\n"
        "      var a = document.createElement('a'); a.href = location.href;\n"
        "      a.textContent = REFRESH; note.appendChild(a);\n"
        "      box.dataset.state = 'new';\n"
        "    } else {\n"
        "      note.textContent = s.notice || '';\n"
        "      box.dataset.state = s.state || 'current';\n"
        "    }\n"
        "  }\n"
        "  function poll() {\n"
        "    fetch(url, {credentials: 'same-origin', cache: 'no-store'})\n"
        "      .then(function (r) { return r.ok ? r.json() : null; })\n"
        "      .then(function (s) { if (s) { show(s); } })\n"
        "      .catch(function () {});\n"
        "  }\n"
        "  poll();\n"
        "  setInterval(poll, 60000);\n"
        "})();</script>\n"
    )


def viewer_script() -> str:
    """At the end of the page: tell the server a browser has it (so its kernel waits for the
    page to attach even on a slow PC), and reload a page whose kernel is gone (released while
    the PC slept or the network was down) once it is visible again — at most 3 times in 10
    minutes, so a server that keeps refusing never makes a page loop."""
    return (
        "<script>(function () {\n"
        "  var cfg = document.getElementById('jupyter-config-data');\n"
        "  var kid = null;\n"
        "  try { kid = JSON.parse(cfg.textContent).kernelId; } catch (e) { return; }\n"
        "  if (!kid) { return; }\n"
        "  var base = document.body.dataset.baseUrl || '/voila/';\n"
        "  var root = base.replace(/voila\\/$/, '');\n"
        "  var opts = {credentials: 'same-origin', cache: 'no-store'};\n"
        "  fetch(base + 'workbench/hello/' + kid, opts).catch(function () {});\n"
        "  var key = 'wb-lost:' + location.pathname;\n"
        "  setInterval(function () {\n"
        "    if (document.hidden) { return; }\n"
        "    fetch(root + 'api/kernels/' + kid, opts).then(function (r) {\n"
        "      if (r.status !== 404) { return; }\n"
        "      var now = Date.now();\n"
        "      var seen = JSON.parse(sessionStorage.getItem(key) || '[]')\n"
        "        .filter(function (t) { return now - t < 600000; });\n"
        "      if (seen.length >= 3) { return; }\n"
        "      seen.push(now); sessionStorage.setItem(key, JSON.stringify(seen));\n"
        "      location.reload();\n"
        "    }).catch(function () {});\n"
        "  }, 30000);\n"
        "})();</script>\n"
    )


def kernel_env(opts: ServeOptions, jupyter_root: Path | None = None) -> dict[str, str]:
    """What every dashboard kernel must know: where the warehouse, boundaries and cache are,
    and whether the page already carries plotly.js."""
    wh = warehouse_path(opts.warehouse).resolve()
    env = {
        ENV_WAREHOUSE: str(wh),
        dashboard.ENV_GEOJSON: str(dashboard.geojson_path(opts.geojson).resolve()),
    }
    for name in (ENV_INDICATORS, ENV_SETS):  # the sets the cockpit offers, from where
        if name in os.environ:
            env[name] = os.environ[name]
    if (folder := dashboard.cache_dir(wh)) is not None:
        env[dashboard.ENV_CACHE_DIR] = str(folder)
    if jupyter_root is not None:
        env[ENV_STATIC_PLOTLY] = "1"
    paths = [str(jupyter_root or TEMPLATE_ROOT)] + [
        p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p
    ]
    env["JUPYTER_PATH"] = os.pathsep.join(dict.fromkeys(paths))
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def url(opts: ServeOptions, notebook: str = "cockpit.ipynb") -> str:
    host = opts.host if opts.host not in ("0.0.0.0", "::", "") else socket.gethostname()
    base = "/" + opts.base_url.strip("/") + "/" if opts.base_url.strip("/") else "/"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{opts.port}{base}voila/render/{notebook}"


def precompute(warehouse: Path | None) -> dict[str, str]:
    """Run the engine for every period once (or read its cached result), so that kernels only
    load the cached result. Returns the first set's words (what its units are called)."""
    data = dashboard.load(warehouse)
    words = data.words(next(iter(data.indicator_sets), ""))
    print(
        t(
            "dash.serve.precomputed",
            **words,
            counties=len(data.counties),
            periods=len(data.periods),
            sets=len(data.indicator_sets),
        ),
        file=sys.stderr,
        flush=True,
    )
    return words


def port_free(host: str, port: int) -> bool:
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


# ───────────────────────────── snapshots: what kernels read ─────────────────────────────


def _fingerprint(path: Path) -> str:
    return snapshots.fingerprint(path)


class Snapshots:
    """Copies of the warehouse that kernels read, one per state of the live file.

    A copy is taken only when no writer holds the live file, its last write is `quiet`
    seconds old, and its fingerprint (size and modification time of the file and its WAL) is
    the same before and after the copy: that copy is a committed state. A copy named after the
    live fingerprint is reused (a restart of `serve` recomputes nothing)."""

    def __init__(self, live: Path, folder: Path, quiet: float = 2.0) -> None:
        self.live = Path(live).resolve()
        self.folder = folder
        self.quiet = quiet
        self.current: Path | None = None
        self.source: str | None = None  # live fingerprint the current copy was taken at
        self.generation = 0
        self.loaded: dict[str, Any] = {}  # freshness of the current copy (JSON)
        self.failed: str | None = None  # live fingerprint whose copy could not be prepared
        self.busy = False
        self._taken: dict[Path, str] = {}  # copy → the live fingerprint it was taken at

    def path_for(self, fingerprint: str) -> Path:
        return self.folder / f"wh-{fingerprint[:16]}.duckdb"

    def take(self) -> Path | None:
        """A consistent copy of the live file as it is now, or None when it is being written
        (then try again later)."""
        if writer_active(self.live) or time.time() - snapshots.last_write(self.live) < self.quiet:
            return None
        before = _fingerprint(self.live)
        dest = self.path_for(before)
        if dest.is_file():
            self._taken[dest] = before
            return dest
        try:
            taken = snapshots.copy_committed(self.live, dest, self.quiet)
        except OSError as exc:
            raise ServeError(t("serve.snapshot.E_COPY", path=self.live, problem=exc)) from exc
        if taken != before:  # being written, or written since `dest` was named
            if taken is not None:
                self._discard(dest)
            return None
        self._taken[dest] = taken
        return dest

    @staticmethod
    def _discard(path: Path) -> None:
        snapshots.discard(path)

    def changed(self) -> bool:
        """The live file differs from what the current copy was taken from."""
        return self.source is None or _fingerprint(self.live) != self.source

    def use(self, path: Path) -> None:
        """Make `path` the copy new kernels read. Its freshness is read first and everything
        is switched together at the end: the status endpoint, answered meanwhile, never pairs
        a new generation with the old line."""
        from workbench import freshness

        try:
            loaded = freshness.freshness(path).as_json()
        except Exception:  # noqa: BLE001 - a freshness line is never worth a failed page
            log.exception(t("serve.log.freshness_failed", path=path))
            loaded = {}
        os.environ[ENV_WAREHOUSE] = str(path)  # inherited by every kernel started from now on
        self.current = path
        self.source = self._taken.get(path) or _fingerprint(self.live)
        self.failed = None
        self.loaded = loaded
        self.generation += 1

    def cleanup(self, keep: set[str]) -> None:
        """Remove copies neither current nor read by a live kernel (nothing while a new copy
        is being prepared: it is neither yet)."""
        if self.busy:
            return
        keep = {str(p) for p in keep} | {str(self.current)}
        for p in self.folder.glob("wh-*.duckdb"):
            if str(p) not in keep:
                self._discard(p)

    def state(self) -> str:
        """`current`, `writing` (an ingest holds the file), `updating` (a new copy is being
        prepared) or `failed` (the newest data could not be prepared)."""
        if not self.changed():
            return "current"
        if writer_active(self.live):
            return "writing"
        if self.failed is not None and self.failed == _fingerprint(self.live):
            return "failed"
        return "updating"

    def status(self) -> dict[str, Any]:
        """What the page's freshness line shows (the status endpoint's JSON)."""
        state = self.state()
        at = self.loaded.get("loaded_label") or "—"
        notice = "" if state == "current" else t(f"serve.notice.{state}", at=at)
        return {
            **self.loaded,
            "generation": self.generation,
            "state": state,
            "notice": notice,
        }

    def start_refresh(self, prepare) -> asyncio.Future | None:  # prepare: async (Path)
        """When the live file changed since the current copy (and its last change did not
        already fail), start taking and preparing a new copy; the future says whether kernels
        now read a new one. None when there is nothing to do or a refresh is under way."""
        if self.busy or not self.changed():
            return None
        live_fp = _fingerprint(self.live)
        if self.failed == live_fp:
            return None
        self.busy = True  # set before anything awaits: one refresh at a time
        return asyncio.ensure_future(self._refresh(prepare, live_fp))

    async def _refresh(self, prepare, live_fp: str) -> bool:
        try:
            loop = asyncio.get_running_loop()
            try:
                path = await loop.run_in_executor(None, self.take)
            except Exception:  # noqa: BLE001 - e.g. a full disk: keep the previous copy
                log.exception(t("serve.log.copy_failed", path=self.live))
                self.failed = live_fp
                return False
            if path is None:
                return False  # being written: try again on the next round
            try:
                await prepare(path)
            except Exception:  # noqa: BLE001 - keep serving the previous copy
                log.exception(t("serve.log.prepare_failed", path=path))
                self.failed = live_fp
                if path != self.current:
                    self._discard(path)
                return False
            await loop.run_in_executor(None, self.use, path)
            return True
        finally:
            self.busy = False


async def precompute_in_child(path: Path) -> None:
    """`dashboard.load` for a new copy in a child process: the server keeps answering, and
    the engine's memory is returned when it ends."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "workbench.serve",
        "--precompute",
        str(path),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(err.decode("utf-8", "replace")[-2000:])


def first_snapshot(snaps: Snapshots, wait: float) -> Path:
    """The copy `serve` starts on; waits (saying so) while an ingest writes the warehouse."""
    deadline = time.monotonic() + wait
    said = False
    while True:
        path = snaps.take()
        if path is not None:
            return path
        if time.monotonic() > deadline:
            raise ServeError(t("serve.snapshot.E_WAIT", path=snaps.live, seconds=int(wait)))
        if not said:
            print(t("serve.snapshot.waiting"), file=sys.stderr, flush=True)
            said = True
        time.sleep(1.0)


def snapshot_folder(live: Path, runtime: Path) -> Path:
    """Beside the dashboard cache (private to this user) so that a restart can reuse a copy;
    else in this run's temporary folder."""
    from workbench.presentation import cache as pcache

    base = dashboard.cache_dir(live)
    if base is not None and (own := pcache.private_dir(base / "serve-snapshots")) is not None:
        return own
    folder = runtime / "snapshots"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


# ───────────────────────────── serve ─────────────────────────────


def serve(opts: ServeOptions) -> int:
    """Check, snapshot and precompute, then run Voilà in this process until interrupted."""
    check_options(opts)
    if not port_free(opts.host, opts.port):
        raise ServeError(t("dash.serve.E_PORT_BUSY", host=opts.host, port=opts.port))
    live = warehouse_path(opts.warehouse).resolve()
    if not live.is_file():
        raise ServeError(t("dash.E_NO_WAREHOUSE", path=live))
    runtime = Path(tempfile.mkdtemp(prefix="workbench-voila-"))
    atexit.register(shutil.rmtree, runtime, True)
    details = debug_log_path(live, runtime)
    detail_log = quiet_console(details)
    os.environ.update(kernel_env(opts, template_root(runtime)))  # inherited by every kernel
    snaps = Snapshots(live, snapshot_folder(live, runtime))
    first = first_snapshot(snaps, opts.start_wait)
    words = {"noun": t("tables.noun.county"), "code_label": t("tables.code_label.county")}
    if opts.precompute:
        print(t("dash.serve.precomputing"), file=sys.stderr, flush=True)
        try:
            words = precompute(first)
        except (FileNotFoundError, ValueError) as exc:  # nothing in it
            raise ServeError(str(exc)) from exc
    snaps.use(first)
    snaps.cleanup(set())

    print(
        t(
            "dash.serve.starting",
            url=url(opts),
            county_url=url(opts, "county.ipynb"),
            noun=words["noun"],
            code_label=words["code_label"],
        ),
        file=sys.stderr,
        flush=True,
    )
    if opts.token:
        print(t("dash.serve.token_hint"), file=sys.stderr, flush=True)
    print(t("serve.log.where", path=details), file=sys.stderr, flush=True)
    allow_unload_shutdown()
    cfg = voila_config(opts)
    cfg.BoundedKernelManager.kernel_log = str(details)
    voila = _voila_class()
    voila.workbench_debug_handler = detail_log
    app = voila.instance(config=cfg)
    app.workbench_snapshots = snaps
    app.workbench_options = opts
    app.workbench_server_templates = server_templates(runtime / "server-templates")
    app.initialize(voila_argv(opts))
    # Ctrl+C stops the way SIGTERM does, whatever SIGINT's inherited disposition (a job a shell
    # started in the background, e.g. under nohup, would otherwise ignore it and never stop)
    signal.signal(signal.SIGINT, app._handle_signal_stop)
    app.start()  # returns once stopped: SIGTERM or Ctrl+C (Voilà ends its kernels either way)
    print(t("dash.serve.stopped"), file=sys.stderr, flush=True)
    return 0


# ───────────────────────────── the operator's console ─────────────────────────────


def debug_log_path(live: Path, runtime: Path) -> Path:
    """Where Voilà, Jupyter Server, tornado and the kernels write their own (English) lines:
    `serve.log` in a private folder beside the dashboard cache, kept across restarts; else in
    this run's temporary folder."""
    from workbench.presentation import cache as pcache

    base = dashboard.cache_dir(live)
    if base is not None and (own := pcache.private_dir(base / "serve-logs")) is not None:
        return own / "serve.log"
    return runtime / "serve.log"


class _OwnWords(logging.Filter):
    """The workbench's own records (worded in Chinese through the catalogue) pass; Voilà's,
    Jupyter Server's, tornado's and asyncio's go to the debug log only."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name == "workbench" or record.name.startswith("workbench.")


class _Brief(logging.Formatter):
    """The console's formatter without the traceback (which the debug log keeps)."""

    def __init__(self, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter("%(message)s")

    def format(self, record: logging.LogRecord) -> str:
        bare = logging.makeLogRecord(record.__dict__)
        bare.exc_info = bare.exc_text = bare.stack_info = None
        return self.inner.format(bare)


def quiet_console(details: Path) -> logging.Handler:
    """The operator's console shows only the workbench's Chinese lines, without tracebacks;
    everything at INFO and above, from every library, goes to `details`. With `-v` (the root
    logger at DEBUG) the console keeps everything, for developers."""
    root = logging.getLogger()
    verbose = root.level <= logging.DEBUG and root.level != logging.NOTSET
    if not verbose:
        for handler in root.handlers:
            if isinstance(handler, logging.StreamHandler) and not isinstance(
                handler, logging.FileHandler
            ):
                handler.setLevel(logging.WARNING)
                handler.addFilter(_OwnWords())
                handler.setFormatter(_Brief(handler.formatter))
        root.setLevel(logging.INFO)
    logging.captureWarnings(True)  # the libraries' DeprecationWarnings: details, not the console
    handler = detail_handler(details)
    root.addHandler(handler)
    return handler


def detail_handler(
    details: Path, max_bytes: int = LOG_MAX_BYTES, backups: int = LOG_BACKUPS
) -> logging.Handler:
    """The detailed log, rotated by size so a server that runs for months keeps at most
    `max_bytes` × (1 + `backups`) of it: `serve.log`, then `serve.log.1` … beside it (the
    private folder's mode is kept: rotation renames within it)."""
    handler = logging.handlers.RotatingFileHandler(
        details, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    return handler


class ForwardToDetails(logging.Handler):
    """Hands records to the one rotating handler of the detailed log (`detail_handler`):
    Voilà's and Jupyter Server's own handler is one of these, since a second handler opening
    the same file would keep writing to the renamed file after a rotation."""

    def __init__(self, target: logging.Handler, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.target = target

    def emit(self, record: logging.LogRecord) -> None:
        self.target.handle(record)


class KernelOutput:
    """Where the kernels' own stdout and stderr go: the write end of one pipe, which every
    kernel process inherits; a thread in the server reads it and logs each line to
    `KERNEL_LOGGER`, so the lines land in the rotated detailed log (`detail_handler`).

    Why not the log file itself: a file handle held by many processes cannot be rotated —
    after a rename the kernels keep writing to the renamed file, which then grows without
    bound (or, once deleted by rotation, fills the disk unseen). A pipe has no such handle;
    only the server writes the file, through the one handler that rotates it. The thread
    never stops reading (kernels would block on a full pipe), and logs a line longer than
    `max_line` in pieces."""

    def __init__(self, max_line: int = 64 * 1024) -> None:
        read_fd, write_fd = os.pipe()
        self.writer = os.fdopen(write_fd, "wb", buffering=0)
        self._read_fd = read_fd
        self._max_line = max_line
        self._log = logging.getLogger(KERNEL_LOGGER)
        self._thread = threading.Thread(target=self._pump, name="kernel-output", daemon=True)
        self._thread.start()

    def _emit(self, raw: bytes) -> None:
        try:  # whatever a line holds, the reader goes on (a dead reader blocks every kernel)
            text = raw.decode("utf-8", errors="replace").rstrip("\r")
            if text.strip():
                self._log.info("%s", text)
        except Exception:  # noqa: BLE001, S110 - the line is lost, the kernels are not
            pass

    def _pump(self) -> None:
        rest = b""
        while True:
            try:
                chunk = os.read(self._read_fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            rest += chunk
            *lines, rest = rest.split(b"\n")
            for line in lines:
                self._emit(line)
            while len(rest) > self._max_line:
                self._emit(rest[: self._max_line])
                rest = rest[self._max_line :]
        if rest:
            self._emit(rest)
        os.close(self._read_fd)

    def close(self, timeout: float = 5.0) -> None:
        """Stop writing; the thread logs what is left once every kernel has let go too."""
        self.writer.close()
        self._thread.join(timeout)


def allow_unload_shutdown() -> None:
    """Let a closing page shut its kernel down (Voilà's `beforeunload` beacon).

    The beacon carries no `_xsrf` token, so jupyter_server 2 answers 403 and the kernel would
    live on until culled. The shutdown handler here accepts the beacon only when its `Origin`
    is this server (what a browser sends for its own page, also behind a proxy that keeps the
    Host header); anything else still needs the token, so cross-site requests stay refused."""
    from urllib.parse import urlparse

    from tornado import web
    from voila.shutdown_kernel_handler import VoilaShutdownKernelHandler

    if getattr(VoilaShutdownKernelHandler, "_workbench_patched", False):
        return
    original = VoilaShutdownKernelHandler.check_xsrf_cookie

    def check_xsrf_cookie(self):  # type: ignore[no-untyped-def]
        origin = self.request.headers.get("Origin")
        host = self.request.headers.get("Host")
        if origin and host:
            if urlparse(origin.lower()).netloc == host.lower():
                return None
            raise web.HTTPError(403, "cross-origin shutdown refused")
        return original(self)

    VoilaShutdownKernelHandler.check_xsrf_cookie = check_xsrf_cookie
    VoilaShutdownKernelHandler._workbench_patched = True


# ───────────────────────────── kernels: a cap, and only for real viewers ─────────────────────


def _bounded_kernel_manager():
    from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
    from tornado import web
    from traitlets import Integer, Unicode

    class BoundedKernelManager(AsyncMappingKernelManager):
        """A kernel manager that never has more than `max_kernels` kernels, and keeps a kernel
        only while a page is attached to it.

        The cap counts a kernel from before its process starts (a slot is reserved before the
        first `await`, so concurrent requests cannot all pass the check) until its process has
        exited — not merely until the kernel is forgotten: a kernel shutting down, or whose
        start failed after its process was launched, still holds memory. Preheated ones count
        too. Beyond it, `start_kernel` raises HTTP 503, which the template shows as a Chinese
        page that retries by itself. `release_unviewed` (called every few seconds by the
        server) shuts down every kernel outside the preheated pool that is idle with no
        websocket for `viewer_timeout` seconds."""

        max_kernels = Integer(40, config=True, help="Most kernels alive at once (0: no limit).")
        viewer_timeout = Integer(
            45, config=True, help="Seconds a kernel may stay with no page attached."
        )
        load_timeout = Integer(
            240,
            config=True,
            help="Seconds a page that reached a browser may take to attach to its kernel.",
        )
        kernel_log = Unicode(
            "",
            config=True,
            help="Non-empty: the kernels' own output (stdout, stderr) goes to the server's "
            "detailed log through a pipe (`KernelOutput`, rotated with it) instead of the "
            "server's console; the value names that log.",
        )

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._reserved: set[str] = set()
            self._wb_meta: dict[str, dict[str, Any]] = {}
            self._unattached: dict[str, float] = {}
            self._claimed: set[str] = set()  # its page's first script ran in a browser
            self._attached: set[str] = set()  # a page's websocket was attached at some point
            self._managers: dict[str, Any] = {}  # every kernel manager made, until its process ends
            self._processes: dict[str, Any] = {}  # its kernel's process (Popen), once launched

        def claim(self, kernel_id: str) -> bool:
            """A browser has the kernel's page (its first script ran): give the page up to
            `load_timeout` to attach. False for a kernel that does not exist."""
            if kernel_id not in self._kernels:
                return False
            self._claimed.add(kernel_id)
            return True

        def notify_connect(self, kernel_id: str) -> None:
            self._attached.add(kernel_id)
            super().notify_connect(kernel_id)

        def grace(self, kernel_id: str) -> int:
            """How long the kernel may stay with no page attached: `viewer_timeout` for a page
            that was attached (closed, or its browser vanished) or never reached a browser,
            `load_timeout` for a page still loading in one."""
            if kernel_id in self._claimed and kernel_id not in self._attached:
                return max(self.load_timeout, self.viewer_timeout)
            return self.viewer_timeout

        # -- the cap --------------------------------------------------------------------
        def pre_start_kernel(self, kernel_name: Any, kwargs: Any) -> Any:
            km, name, kid = super().pre_start_kernel(kernel_name, kwargs)
            self._managers[kid] = km  # watched until its process has exited
            return km, name, kid

        def _capture(self, kid: str) -> Any:
            """The kernel's process, kept from when it is launched (the provisioner lets go
            of it once reaped, and a failed start never lists the kernel at all); the newest
            one after a restart."""
            km = self._managers.get(kid)
            now = getattr(getattr(km, "provisioner", None), "process", None)
            if now is not None:
                self._processes[kid] = now
            return self._processes.get(kid)

        def _exiting(self) -> set[str]:
            """Kernels no longer listed (shut down, or failed to start) whose process has not
            exited yet; forgets those whose process is gone."""
            listed = set(self.list_kernel_ids()) | self._reserved
            out = set()
            for kid in list(self._managers):
                proc = self._capture(kid)
                running = proc is not None and proc.poll() is None
                if kid in listed:
                    continue
                if running:
                    out.add(kid)
                else:
                    self._managers.pop(kid, None)
                    self._processes.pop(kid, None)
            return out

        def alive(self) -> int:
            """Kernels starting, running, or shutting down with their process not yet gone."""
            return len(set(self.list_kernel_ids()) | self._reserved | self._exiting())

        def room(self) -> int:
            """How many more kernels may start now."""
            return 10**9 if not self.max_kernels else self.max_kernels - self.alive()

        async def start_kernel(self, *args: Any, **kwargs: Any) -> str:  # type: ignore[override]
            kid = kwargs.pop("kernel_id", None) or str(uuid.uuid4())
            if kid in self:
                return await super().start_kernel(*args, kernel_id=kid, **kwargs)
            if self.room() <= 0:
                log.warning(t("serve.log.kernel_limit", n=self.max_kernels))
                raise web.HTTPError(503, t("dash.serve.E_TOO_MANY", n=self.max_kernels))
            self._reserved.add(kid)  # before any await: the check and the claim are one step
            if self.kernel_log:  # the kernels' English lines are details, not the console's
                out = self._kernel_output()
                kwargs.setdefault("stdout", out)
                kwargs.setdefault("stderr", out)
            try:
                got = await super().start_kernel(*args, kernel_id=kid, **kwargs)
            finally:
                self._capture(kid)
                self._reserved.discard(kid)
            env = kwargs.get("env") or {}
            self._wb_meta[got] = {
                "warehouse": env.get(ENV_WAREHOUSE),
                "pooled": env.get("VOILA_PREHEAT") == "True",
            }
            return got

        def _kernel_output(self) -> Any:
            """The pipe into the detailed log (`KernelOutput`), made once and shared by
            every kernel."""
            if getattr(self, "_kernel_out", None) is None:
                self._kernel_out = KernelOutput()
            return self._kernel_out.writer

        async def shutdown_kernel(self, kernel_id: str, *args: Any, **kwargs: Any) -> None:
            self._capture(kernel_id)  # counted until its process has exited
            try:
                return await super().shutdown_kernel(kernel_id, *args, **kwargs)
            finally:
                self._wb_meta.pop(kernel_id, None)
                self._unattached.pop(kernel_id, None)
                self._claimed.discard(kernel_id)
                self._attached.discard(kernel_id)

        # -- the preheated pool ---------------------------------------------------------
        def _pool_tasks(self) -> dict[str, list]:
            return getattr(self, "_pools", {}) or {}

        def pooled_ids(self) -> set[str]:
            """Kernels waiting in a preheated pool (started, not yet handed to a page)."""
            out = set()
            for pool in self._pool_tasks().values():
                for task in pool:
                    if task.done() and not task.cancelled() and task.exception() is None:
                        out.add(task.result()["kernel_id"])
            return out

        def warehouse_of(self, kernel_id: str) -> str | None:
            return self._wb_meta.get(kernel_id, {}).get("warehouse")

        def referenced_warehouses(self) -> set[str]:
            return {m["warehouse"] for m in self._wb_meta.values() if m.get("warehouse")}

        def ready_first(self, notebook: str, warehouse: str | None) -> bool:
            """Put a preheated kernel that has started and reads `warehouse` at the head of
            the notebook's pool; False when there is none (then the page starts its own
            kernel rather than wait for one still sleeping before its start)."""
            pool = self._pool_tasks().get(notebook)
            if not pool:
                return False
            for i, task in enumerate(pool):
                if task.done() and not task.cancelled() and task.exception() is None:
                    kid = task.result()["kernel_id"]
                    if warehouse is None or self.warehouse_of(kid) == warehouse:
                        pool.insert(0, pool.pop(i))
                        return True
            return False

        def can_serve(self, notebook: str, warehouse: str | None) -> bool:
            return self.room() > 0 or self.ready_first(notebook, warehouse)

        async def tend_pools(self, warehouse: str | None) -> None:
            """Drop failed pool tasks, replace preheated kernels that read an older copy of
            the warehouse, and refill the pools when there is room."""
            for notebook, pool in list(self._pool_tasks().items()):
                stale = []
                for task in list(pool):
                    if not task.done():
                        continue
                    if task.cancelled() or task.exception() is not None:
                        pool.remove(task)  # e.g. refused at the cap: retried below
                        continue
                    kid = task.result()["kernel_id"]
                    if warehouse is not None and self.warehouse_of(kid) != warehouse:
                        pool.remove(task)
                        stale.append(kid)
                for kid in stale:
                    log.info(t("serve.log.pool_replaced", kernel=kid))
                    with contextlib.suppress(Exception):
                        await self.shutdown_kernel(kid)
                if self.room() > 0 and hasattr(self, "fill_if_needed"):
                    self.fill_if_needed(delay=0, notebook_name=notebook)

        # -- releasing kernels no page uses ---------------------------------------------
        async def release_unviewed(self, now: float | None = None) -> list[str]:
            """Shut down kernels outside the pool that are idle with no websocket attached for
            their grace (`viewer_timeout`, or `load_timeout` while the page loads in a
            browser); return their ids."""
            now = time.monotonic() if now is None else now
            pooled = self.pooled_ids()
            released = []
            for kid in list(self.list_kernel_ids()):
                kernel = self._kernels.get(kid)
                busy = getattr(kernel, "execution_state", "idle") in ("busy", "starting")
                if kid in pooled or busy or self._kernel_connections.get(kid, 0) > 0:
                    self._unattached.pop(kid, None)
                    continue
                since = self._unattached.setdefault(kid, now)
                if now - since >= self.grace(kid):
                    log.info(t("serve.log.released", kernel=kid, seconds=int(now - since)))
                    released.append(kid)
                    try:
                        await self.shutdown_kernel(kid)
                    except Exception:  # noqa: BLE001 - tried again on the next round
                        log.exception(t("serve.log.release_failed", kernel=kid))
            return released

    return BoundedKernelManager


# ───────────────────────────── Voilà with the workbench's handlers ─────────────────────────────


def _handlers():
    from jupyter_server.base.handlers import JupyterHandler
    from tornado import web
    from voila.tornado.handler import TornadoVoilaHandler

    class WorkbenchVoilaHandler(TornadoVoilaHandler):
        """Voilà's page handler, refusing over the cap before anything starts (HTTP 503 with
        the Chinese page that retries by itself), and using only preheated kernels that read
        the current warehouse copy."""

        def initialize(self, **kwargs: Any) -> None:
            self.snapshots: Snapshots | None = kwargs.pop("snapshots", None)
            super().initialize(**kwargs)

        def _current(self) -> str | None:
            snaps = self.snapshots
            return str(snaps.current) if snaps is not None and snaps.current else None

        @web.authenticated
        async def get(self, path: str | None = None) -> None:
            self._wb_notebook = self.notebook_path or path
            km = self.kernel_manager
            if hasattr(km, "can_serve") and not km.can_serve(self._wb_notebook, self._current()):
                raise web.HTTPError(503, t("dash.serve.E_TOO_MANY", n=km.max_kernels))
            await super().get(path)

        def should_use_rendered_notebook(self, *args: Any, **kwargs: Any) -> bool:
            if not super().should_use_rendered_notebook(*args, **kwargs):
                return False
            km = self.kernel_manager
            if not hasattr(km, "ready_first"):
                return True
            return km.ready_first(getattr(self, "_wb_notebook", None), self._current())

        def write_error(self, status_code: int, **kwargs: Any) -> None:
            if status_code == 503:
                self.set_header("Retry-After", str(BUSY_RETRY_S))
            super().write_error(status_code, **kwargs)

        def render_template(self, name: str, **ns: Any) -> str:
            ns.setdefault("max_kernels", getattr(self.kernel_manager, "max_kernels", ""))
            return super().render_template(name, **ns)

    class StatusHandler(JupyterHandler):
        """The freshness line and notices of the page, as JSON (no kernel involved)."""

        def initialize(self, snapshots: Snapshots | None = None) -> None:
            self.snapshots = snapshots

        @web.authenticated
        def get(self) -> None:
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.set_header("Cache-Control", "no-store")
            body = self.snapshots.status() if self.snapshots is not None else {}
            km = self.kernel_manager
            body["kernels"] = len(km.list_kernel_ids())
            self.finish(json.dumps(body, ensure_ascii=False, default=str))

    class HelloHandler(JupyterHandler):
        """The page's first script, run in a browser: the kernel has a real viewer whose page
        is still loading (a plain GET never says hello)."""

        @web.authenticated
        def get(self, kernel_id: str) -> None:
            km = self.kernel_manager
            found = km.claim(kernel_id) if hasattr(km, "claim") else kernel_id in km
            self.set_header("Cache-Control", "no-store")
            self.set_status(204 if found else 404)
            self.finish()

    return WorkbenchVoilaHandler, StatusHandler, HelloHandler


def _voila_class():
    from jupyter_server.base.handlers import Template404
    from jupyter_server.utils import url_path_join
    from tornado.ioloop import PeriodicCallback
    from voila.app import Voila
    from voila.tornado.handler import TornadoVoilaHandler

    page_handler, status_handler, hello_handler = _handlers()

    class WorkbenchVoila(Voila):
        """Voilà plus the workbench's page handler, status endpoint, Chinese server pages and
        the watcher that releases unviewed kernels and follows the warehouse."""

        workbench_snapshots: Snapshots | None = None
        workbench_options: ServeOptions | None = None
        workbench_server_templates: Path | None = None
        workbench_debug_handler: logging.Handler | None = None

        def get_default_logging_config(self) -> dict:
            """Voilà's and Jupyter Server's own lines go to the debug log (through its one
            rotating handler, `ForwardToDetails`), not the console."""
            config = super().get_default_logging_config()
            if "handlers" in config:
                level = config["handlers"]["console"].get("level", "INFO")  # Voilà's log_level
                config["handlers"]["console"] = (
                    {
                        "()": ForwardToDetails,
                        "target": self.workbench_debug_handler,
                        "level": level,
                    }
                    if self.workbench_debug_handler is not None
                    else {"class": "logging.NullHandler"}
                )
            return config

        def init_handlers(self) -> list:
            handlers = []
            for h in super().init_handlers():
                if len(h) >= 3 and h[1] is TornadoVoilaHandler:
                    h = (h[0], page_handler, {**h[2], "snapshots": self.workbench_snapshots})
                handlers.append(h)
            status = url_path_join(self.server_url, STATUS_PATH)
            hello = url_path_join(self.server_url, HELLO_PATH + r"/([0-9a-f-]{36})")
            return [
                (status, status_handler, {"snapshots": self.workbench_snapshots}),
                (hello, hello_handler),
                *handlers,
            ]

        def listen(self) -> None:
            self._chinese_server_pages()
            interval = self.workbench_options.watch_interval if self.workbench_options else 5.0
            self._wb_busy = False
            self._wb_watch = PeriodicCallback(self._watch, interval * 1000)
            self._wb_watch.start()
            super().listen()

        def _chinese_server_pages(self) -> None:
            """Unknown addresses get the Chinese 404 page; the login page and Jupyter Server's
            error pages are read from the Chinese templates first."""
            import jinja2

            self.app.settings["default_handler_class"] = Template404
            env = self.app.settings.get("jinja2_env")
            folder = self.workbench_server_templates
            if env is not None and folder is not None:
                env.loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(folder)), env.loader])

        async def _watch(self) -> None:
            """Every few seconds: release kernels no page uses, follow the warehouse, keep the
            preheated pools on the current copy."""
            if self._wb_busy:
                return
            self._wb_busy = True
            try:
                km = self.kernel_manager
                snaps = self.workbench_snapshots
                await km.release_unviewed()
                if snaps is not None:
                    snaps.start_refresh(precompute_in_child)
                current = str(snaps.current) if snaps is not None and snaps.current else None
                await km.tend_pools(current)
                if snaps is not None:
                    snaps.cleanup(km.referenced_warehouses())
            except Exception:  # noqa: BLE001 - the watcher must keep running
                log.exception(t("serve.log.watch_failed"))
            finally:
                self._wb_busy = False

    return WorkbenchVoila


def __getattr__(name: str):
    # Built lazily: importing jupyter_server is slow and `workbench --help` must stay fast.
    if name == "BoundedKernelManager":
        cls = _bounded_kernel_manager()
        globals()[name] = cls
        return cls
    raise AttributeError(name)


def _main(argv: list[str]) -> int:
    """`python -m workbench.serve --precompute PATH`: the server's child for a new copy."""
    if len(argv) == 2 and argv[0] == "--precompute":
        dashboard.load(Path(argv[1]))
        return 0
    print("usage: python -m workbench.serve --precompute WAREHOUSE", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
