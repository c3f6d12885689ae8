"""Serving the dashboards with Voilà, with the defaults a bureau intranet needs.

Only `dashboards/` is served, sources are stripped, kernels are preheated (the notebook has run
before anyone asks, so a leader sees the cockpit at once) and idle kernels are culled. The server
binds to 127.0.0.1; binding beyond it needs a token or a password. The dashboards' data is
precomputed once here (`dashboard.load`) and shared with every kernel through the disk cache.
"""

from __future__ import annotations

import atexit
import ipaddress
import logging
import os
import shutil
import socket
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from workbench import dashboard
from workbench.config import (
    ENV_INDICATORS,
    ENV_SETS,
    ENV_STATIC_PLOTLY,
    ENV_WAREHOUSE,
    project_root,
    warehouse_path,
)
from workbench.messages import t

log = logging.getLogger(__name__)

ENV_TOKEN = "WORKBENCH_DASHBOARD_TOKEN"
ENV_PASSWORD = "WORKBENCH_DASHBOARD_PASSWORD"
TEMPLATE = "workbench"
TEMPLATE_ROOT = Path(__file__).with_name("assets") / "jupyter"
NOTEBOOKS = ("cockpit.ipynb", "county.ipynb")


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
    cull_idle_timeout: int = 900
    cull_interval: int = 60
    fill_delay: float = 20.0
    max_kernels: int = 40
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
    if opts.pool_size < 0 or opts.max_kernels < 2 * max(opts.pool_size, 1):
        raise ServeError(t("dash.serve.E_POOL", pool=opts.pool_size, max=opts.max_kernels))


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
        f"--VoilaConfiguration.preheat_kernel={opts.pool_size > 0}",
        f"--VoilaConfiguration.default_pool_size={opts.pool_size}",
        "--VoilaConfiguration.multi_kernel_manager_class=workbench.serve.BoundedKernelManager",
        f"--BoundedKernelManager.max_kernels={opts.max_kernels}",
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
    }
    cfg.VoilaConfiguration.file_allowlist = []  # no file under dashboards/ is served raw
    # Plotly's JupyterLab renderer (≈ 4.7 MB of JavaScript per page) is not used: the dashboards
    # draw with the plotly.js the template loads.
    cfg.VoilaConfiguration.extension_denylist = ["jupyterlab-plotly"]
    return cfg


def template_root(folder: Path) -> Path:
    """A Jupyter data folder holding the workbench template plus plotly.js as a static file.

    Served as a file, plotly.js (≈ 4.8 MB) is fetched in parallel with Voilà's own scripts,
    parsed once, cached by the browser, and no longer rides inside the notebook's output
    (which Voilà would JSON-parse and push through its HTML renderer on every visit)."""
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
    return folder


def loading_script() -> str:
    """Voilà's loading screen in Chinese ("Running cockpit.ipynb…", "Executing 3 of 12" are
    Voilà's own words): the first line, and each step as the kernel runs the cells."""
    import json

    first = json.dumps(t("dash.loading"), ensure_ascii=False)
    step = json.dumps(t("dash.loading_step", i="%i", n="%n"), ensure_ascii=False)
    return (
        "<script>(function () {\n"
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


def precompute(opts: ServeOptions) -> None:
    """Run the engine for every period once, so that kernels only load the cached result."""
    data = dashboard.load(opts.warehouse, refresh=True)
    print(
        t(
            "tables.serve.precomputed" if data.period_labels else "dash.serve.precomputed",
            counties=len(data.counties),
            periods=len(data.periods),
            sets=len(data.indicator_sets),
        ),
        file=sys.stderr,
        flush=True,
    )


def port_free(host: str, port: int) -> bool:
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def serve(opts: ServeOptions) -> int:
    """Check, precompute, then run Voilà in this process until interrupted."""
    check_options(opts)
    if not port_free(opts.host, opts.port):
        raise ServeError(t("dash.serve.E_PORT_BUSY", host=opts.host, port=opts.port))
    if opts.precompute:
        print(t("dash.serve.precomputing"), file=sys.stderr, flush=True)
        try:
            precompute(opts)
        except (FileNotFoundError, ValueError) as exc:  # no warehouse, or nothing in it
            raise ServeError(str(exc)) from exc
    runtime = Path(tempfile.mkdtemp(prefix="workbench-voila-"))
    atexit.register(shutil.rmtree, runtime, True)
    os.environ.update(kernel_env(opts, template_root(runtime)))  # inherited by every kernel
    from voila.app import Voila

    print(
        t("dash.serve.starting", url=url(opts), county_url=url(opts, "county.ipynb")),
        file=sys.stderr,
        flush=True,
    )
    if opts.token:
        print(t("dash.serve.token_hint"), file=sys.stderr, flush=True)
    allow_unload_shutdown()
    app = Voila.instance(config=voila_config(opts))
    app.initialize(voila_argv(opts))
    app.start()
    return 0


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


def _bounded_kernel_manager():
    from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
    from tornado import web
    from traitlets import Integer

    class BoundedKernelManager(AsyncMappingKernelManager):
        """A kernel manager that refuses to start more than `max_kernels` kernels.

        Preheated pool kernels count too. Beyond the limit a viewer gets HTTP 503 with a Chinese
        message instead of the machine running out of memory."""

        max_kernels = Integer(40, config=True, help="Most kernels alive at once (0: no limit).")

        async def start_kernel(self, *args, **kwargs):  # type: ignore[override]
            if self.max_kernels and len(self.list_kernel_ids()) >= self.max_kernels:
                log.warning("kernel limit %d reached", self.max_kernels)
                raise web.HTTPError(503, t("dash.serve.E_TOO_MANY", n=self.max_kernels))
            return await super().start_kernel(*args, **kwargs)

    return BoundedKernelManager


def __getattr__(name: str):
    # Built lazily: importing jupyter_server is slow and `workbench --help` must stay fast.
    if name == "BoundedKernelManager":
        cls = _bounded_kernel_manager()
        globals()[name] = cls
        return cls
    raise AttributeError(name)
