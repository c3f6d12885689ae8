"""Browser tests: `workbench serve` on a free port against a demo warehouse, driven by playwright
(sync API) in Debian's chromium. Screenshots go to tests/artifacts/.

Skipped, with the reason, only when /usr/bin/chromium is absent and WORKBENCH_REQUIRE_BROWSER is
not "1" (CI sets it and installs chromium, so there they must really run).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.dashboard import INTERACTION_PROBE_JS, READY_PROBE_JS
from workbench.publish import HEADLESS_FLAGS

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path(os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = list(HEADLESS_FLAGS)
READY_TIMEOUT_MS = 180_000
# Messages of JupyterLab's module federation about shared package versions: noise, not errors.
BENIGN = ("Unsatisfied version", "No satisfying version")

COCKPIT_PARTS = (
    "header",
    "kpis",
    "ranking",
    "map",
    "trend",
    "funnel_title",
    "funnel",
    "rectification",
    "calendar",
    "lagging",
    "overdue_cases",
    "screening",
    "screening_trend",
    "table",
)
COUNTY_PARTS = ("header", "kpis", "rank", "history", "ranking", "overdue", "drill")

# In-page helpers: when every part shows one new key, the view change has reached every chart.
JS_KEYS = """() => [...document.querySelectorAll('[data-part]')]
    .map(e => [e.dataset.part, e.dataset.key || ''])"""
JS_READY = READY_PROBE_JS
JS_ARM = INTERACTION_PROBE_JS


def _require_browser() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("WORKBENCH_REQUIRE_BROWSER") == "1":
        pytest.fail(
            f"WORKBENCH_REQUIRE_BROWSER=1 but {CHROMIUM} is missing: "
            "apt-get install -y chromium fonts-noto-cjk"
        )
    pytest.skip(
        f"{CHROMIUM} not found (Debian package `chromium`); set "
        "WORKBENCH_REQUIRE_BROWSER=1 to make this a failure"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(*args: str, cwd: Path, log: Path) -> None:
    cmd = [sys.executable, "-m", "workbench.cli", *args]
    with log.open("ab") as fh:
        fh.write(("\n$ " + " ".join(cmd) + "\n").encode())
        fh.flush()
        rc = subprocess.call(cmd, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, timeout=900)
    if rc not in (0, 1):  # ingest exits 1 when it quarantined rows: the demo has mistakes
        raise RuntimeError(f"{' '.join(args)} failed with {rc}; see {log}")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory, artifacts: Path) -> Path:
    """The demo city as a leader's bureau would have it: workbooks → ingest → corrections."""
    _require_browser()
    work = tmp_path_factory.mktemp("demo_city")
    wh = work / "warehouse.duckdb"
    log = artifacts / "browser-setup.log"
    log.write_text("", encoding="utf-8")
    books = work / "books"
    _cli("demo", "--out", str(books), cwd=work, log=log)
    _cli(
        "ingest",
        *sorted(str(p) for p in books.glob("*.xlsx")),
        "--warehouse",
        str(wh),
        cwd=work,
        log=log,
    )
    if (books / "corrections").is_dir():
        _cli("ingest", str(books / "corrections"), "--warehouse", str(wh), cwd=work, log=log)
    assert wh.is_file(), f"no warehouse built; see {log}"
    return wh


class Serve:
    """`workbench serve …` in a subprocess (its own process group), stopped with Ctrl+C."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "workbench.cli", "serve", "--port", str(self.port), *args],
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONUNBUFFERED="1", **env),
            start_new_session=True,
        )

    def wait(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"workbench serve exited with {self.proc.returncode}; see {self.log.name}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"workbench serve did not come up in {timeout:.0f} s")
            time.sleep(1)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture(scope="session")
def cache_env(demo_warehouse: Path) -> dict[str, str]:
    return {"WORKBENCH_DASHBOARD_CACHE": str(demo_warehouse.parent / "cache")}


@pytest.fixture(scope="session")
def server(demo_warehouse: Path, artifacts: Path, cache_env: dict[str, str]) -> Iterator[str]:
    """`workbench serve` on a free port; yields the base URL; stops it (and its kernels)."""
    srv = Serve(
        ["--warehouse", str(demo_warehouse), "--pool-size", "1", "--cull-idle", "600"],
        cache_env,
        artifacts / "serve.log",
    )
    try:
        srv.wait()
        with urllib.request.urlopen(srv.url, timeout=60) as r:
            assert r.status == 200
        time.sleep(5)  # let the preheated pool fill before the first page
        yield srv.url
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Page:
    """A dashboard page with its JavaScript errors collected."""

    def __init__(self, browser: object, base: str, width: int = 1366, height: int = 768):
        self.context = browser.new_context(
            viewport={"width": width, "height": height}, locale="zh-CN"
        )
        self.page = self.context.new_page()
        self.base = base
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.on("console", self._console)
        self.page.on("response", self._response)

    def _console(self, msg: object) -> None:
        if msg.type == "error" and not any(b in msg.text for b in BENIGN):
            self.errors.append(f"console.error: {msg.text}")

    def _response(self, resp: object) -> None:
        if resp.status >= 500:
            self.errors.append(f"HTTP {resp.status}: {resp.url}")

    def open(self, path: str, parts: tuple[str, ...]) -> float:
        started = time.perf_counter()
        self.page.goto(self.base + path, wait_until="commit", timeout=READY_TIMEOUT_MS)
        self.page.wait_for_function(
            JS_READY, arg=list(parts), timeout=READY_TIMEOUT_MS, polling=100
        )
        return time.perf_counter() - started

    def keys(self) -> dict[str, str]:
        return dict(self.page.evaluate(JS_KEYS))

    def key(self) -> str:
        keys = set(self.keys().values())
        assert len(keys) == 1, keys
        return keys.pop()

    def change(self, action) -> tuple[float, str]:
        """Run `action` and wait until every part shows the new view: (ms in the page, key)."""
        old = self.key()
        self.page.evaluate(JS_ARM, old)
        action()
        self.page.wait_for_function(
            "() => window.__wbResult !== null", timeout=60_000, polling="raf"
        )
        result = self.page.evaluate("() => window.__wbResult")
        return float(result["ms"]), str(result["key"])

    def select(
        self, css: str, *, value: str | None = None, label: str | None = None
    ) -> tuple[float, str]:
        sel = self.page.locator(f"{css} select")
        return self.change(lambda: sel.select_option(value=value, label=label))

    def kpi_cards(self) -> dict[str, dict[str, str]]:
        return {
            c["indicator"]: c
            for c in self.page.evaluate("""() =>
            [...document.querySelectorAll('[data-part=kpis] .wb-kpi')].map(e => ({
              indicator: e.dataset.indicator, value: e.dataset.value, status: e.dataset.status,
              text: e.querySelector('[data-kpi-value]').textContent.trim()}))""")
        }

    def screenshot(self, name: str) -> Path:
        """The whole page: Voilà scrolls inside #rendered_cells, so the window is made as tall
        as its content for the picture, then put back."""
        path = ARTIFACTS / f"{name}.png"
        size = self.page.viewport_size
        height = self.page.evaluate(
            "() => (document.querySelector('#rendered_cells') || document.body).scrollHeight"
        )
        self.page.set_viewport_size({"width": size["width"], "height": max(height, 200)})
        self.page.wait_for_timeout(500)
        self.page.screenshot(path=str(path))
        self.page.set_viewport_size(size)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture()
def open_page(browser: object, server: str) -> Iterator:
    pages: list[Page] = []

    def make(**kw: int) -> Page:
        p = Page(browser, server, **kw)
        pages.append(p)
        return p

    yield make
    for p in pages:
        p.close()


def chromium_missing() -> bool:
    return not CHROMIUM.exists() and shutil.which("chromium") is None
