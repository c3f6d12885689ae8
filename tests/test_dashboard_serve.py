"""`workbench serve`: safe defaults, refusals in Chinese, the Voilà command line it builds."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from workbench import serve
from workbench.cli import main as cli
from workbench.serve import ServeError, ServeOptions


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("127.0.0.2", True),
        ("0.0.0.0", False),
        ("192.168.1.10", False),
        ("::", False),
    ],
)
def test_loopback(host, local):
    assert serve.is_loopback(host) is local


def test_refuses_to_expose_without_a_token_or_password():
    with pytest.raises(ServeError) as exc:
        serve.check_options(ServeOptions(host="0.0.0.0"))
    assert "0.0.0.0" in str(exc.value) and "--token" in str(exc.value)
    serve.check_options(ServeOptions(host="0.0.0.0", token="x" * 32))
    serve.check_options(ServeOptions(host="0.0.0.0", password="a-good-passphrase"))
    serve.check_options(ServeOptions())  # localhost needs neither


@pytest.mark.parametrize(
    "opts",
    [
        ServeOptions(host="0.0.0.0", token="short"),
        ServeOptions(host="0.0.0.0", password="123"),
        ServeOptions(port=0),
        ServeOptions(pool_size=5, max_kernels=6),
        ServeOptions(dashboards=Path("/nonexistent")),
    ],
)
def test_refuses_bad_settings(opts):
    with pytest.raises(ServeError):
        serve.check_options(opts)


def test_cli_refusal_is_chinese_and_exits_2(capsys, monkeypatch):
    monkeypatch.delenv(serve.ENV_TOKEN, raising=False)
    monkeypatch.delenv(serve.ENV_PASSWORD, raising=False)
    assert cli(["serve", "--host", "0.0.0.0", "--no-precompute"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("错误：") and "--token" in err and "0.0.0.0" in err


def test_password_without_a_terminal_and_a_missing_boundary_file(tmp_path, capsys, monkeypatch):
    """Under systemd nobody can type a password: say how to give it instead (it raised
    EOFError); a --geojson that does not exist is refused, not silently ignored."""
    import io

    monkeypatch.delenv(serve.ENV_PASSWORD, raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert cli(["serve", "--password"]) == 2
    assert serve.ENV_PASSWORD in capsys.readouterr().err
    assert cli(["serve", "--geojson", str(tmp_path / "none.geojson")]) == 2
    assert "none.geojson" in capsys.readouterr().err


def test_missing_warehouse_is_a_chinese_refusal(tmp_path, capsys):
    rc = cli(["serve", "--warehouse", str(tmp_path / "none.duckdb"), "--port", "0"])
    assert rc == 2 and "错误：" in capsys.readouterr().err
    rc = cli(["serve", "--warehouse", str(tmp_path / "none.duckdb"), "--port", str(_free_port())])
    err = capsys.readouterr().err
    assert rc == 2 and "none.duckdb" in err and "workbench demo" in err


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_token_from_environment(monkeypatch):
    seen = {}
    monkeypatch.setenv(serve.ENV_TOKEN, "t" * 20)
    monkeypatch.setattr(serve, "serve", lambda opts: seen.setdefault("opts", opts) and 0)
    assert cli(["serve", "--host", "0.0.0.0", "--port", "9999", "--no-precompute"]) == 0
    assert seen["opts"].token == "t" * 20 and seen["opts"].port == 9999


def test_voila_command_line():
    argv = serve.voila_argv(
        ServeOptions(port=8899, pool_size=3, cull_idle_timeout=120, base_url="jianguan")
    )
    assert argv[0].endswith("dashboards")  # only the dashboards folder is served
    joined = " ".join(argv)
    for expected in (
        "--Voila.ip=127.0.0.1",
        "--Voila.port=8899",
        "--Voila.base_url=/jianguan/",
        "strip_sources=True",
        "preheat_kernel=True",
        "default_pool_size=3",
        "cull_idle_timeout=120",
        "template=workbench",
        "multi_kernel_manager_class=workbench.serve.BoundedKernelManager",
    ):
        assert expected in joined, expected
    assert "token" not in joined  # secrets never on a command line


def test_config_carries_secrets_and_serves_no_files():
    cfg = serve.voila_config(ServeOptions(token="x" * 20))
    assert cfg.Voila.token == "x" * 20
    assert cfg.VoilaConfiguration.file_allowlist == []
    pw = serve.voila_config(ServeOptions(password="correct horse"))
    assert pw.PasswordIdentityProvider.hashed_password.startswith("argon2:")


def test_template_root_adds_plotly_as_a_static_file(tmp_path):
    root = serve.template_root(tmp_path)
    tpl = root / "voila" / "templates" / "workbench"
    assert (tpl / "index.html.j2").is_file() and (tpl / "conf.json").is_file()
    assert (tpl / "static" / "plotly.min.js").stat().st_size > 1_000_000
    assert "plotly.min.js" in (tpl / "workbench_head.html.j2").read_text(encoding="utf-8")
    assert "https://" not in (tpl / "index.html.j2").read_text(encoding="utf-8")


def test_kernel_env(tmp_path, monkeypatch):
    monkeypatch.delenv("JUPYTER_PATH", raising=False)
    env = serve.kernel_env(ServeOptions(warehouse=tmp_path / "w.duckdb"), tmp_path)
    assert env["WORKBENCH_WAREHOUSE"] == str((tmp_path / "w.duckdb").resolve())
    assert env["JUPYTER_PATH"].split(":")[0] == str(tmp_path)
    assert env[serve.ENV_STATIC_PLOTLY] == "1"


def _handler(origin: str | None, host: str = "127.0.0.1:8866"):
    headers = {"Host": host}
    if origin is not None:
        headers["Origin"] = origin
    return SimpleNamespace(request=SimpleNamespace(headers=headers))


def test_page_unload_shutdown_needs_same_origin():
    pytest.importorskip("voila")
    from tornado import web
    from voila.shutdown_kernel_handler import VoilaShutdownKernelHandler

    serve.allow_unload_shutdown()
    check = VoilaShutdownKernelHandler.check_xsrf_cookie
    assert check(_handler("http://127.0.0.1:8866")) is None
    with pytest.raises(web.HTTPError):
        check(_handler("http://evil.example"))


def test_bounded_kernel_manager_refuses_beyond_the_limit():
    pytest.importorskip("jupyter_server")
    import asyncio
    import concurrent.futures

    from tornado import web

    km = serve.BoundedKernelManager(max_kernels=2)
    km.list_kernel_ids = lambda: ["a", "b"]
    # a thread of its own: other tests (playwright's sync API) may leave a loop running here
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(asyncio.run, km.start_kernel())
        with pytest.raises(web.HTTPError) as exc:
            future.result(timeout=30)
    assert exc.value.status_code == 503


def test_a_kernel_counts_against_the_cap_until_its_process_has_exited():
    """A kernel the manager has forgotten (shut down, or its start failed after launch) whose
    process still runs holds its memory: it keeps its place under the cap until it exits."""
    pytest.importorskip("jupyter_server")
    import asyncio
    import concurrent.futures
    import subprocess
    import sys

    from tornado import web

    km = serve.BoundedKernelManager(max_kernels=2)
    km.list_kernel_ids = lambda: ["running"]
    dying = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        km._managers["dying"] = SimpleNamespace(provisioner=SimpleNamespace(process=dying))
        km._managers["never_launched"] = SimpleNamespace(provisioner=None)
        assert km.alive() == 2 and km.room() == 0
        with concurrent.futures.ThreadPoolExecutor(1) as pool:  # a loop of its own
            future = pool.submit(asyncio.run, km.start_kernel())
            with pytest.raises(web.HTTPError) as exc:
                future.result(timeout=30)
        assert exc.value.status_code == 503
        km._managers["dying"].provisioner = None  # the provisioner lets go once reaped...
        assert km.alive() == 2  # ...but the process was kept and still runs
    finally:
        dying.kill()
        dying.wait()
    assert km.alive() == 1 and km.room() == 1
    assert set(km._managers) == set()  # forgotten once gone
    # a kernel restarted (a new process under the same id), then shut down: the new process
    # is the one that counts
    old = subprocess.Popen([sys.executable, "-c", "pass"])
    old.wait()
    restarted = SimpleNamespace(provisioner=SimpleNamespace(process=old))
    km._managers["restarted"] = restarted
    km.list_kernel_ids = lambda: ["running", "restarted"]
    assert km.alive() == 2
    new = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        restarted.provisioner.process = new
        km.list_kernel_ids = lambda: ["running"]  # shut down, its new process not yet gone
        assert km.alive() == 2
    finally:
        new.kill()
        new.wait()
    assert km.alive() == 1


def test_kernels_without_a_page_are_released_after_their_grace():
    """A kernel whose page never reached a browser, or whose page was attached and is gone,
    is released after `viewer_timeout`; one whose page is still loading in a browser (it said
    hello) gets `load_timeout`; an attached, a busy and a preheated kernel stay."""
    pytest.importorskip("jupyter_server")
    import asyncio
    import concurrent.futures

    km = serve.BoundedKernelManager(viewer_timeout=10, load_timeout=100)
    names = ("plain_get", "loading", "closed", "open", "busy", "pooled")
    km._kernels = {k: SimpleNamespace(execution_state="idle") for k in names}
    km._kernels["busy"].execution_state = "busy"
    km._kernel_connections = dict.fromkeys(names, 0)
    km.list_kernel_ids = lambda: list(km._kernels)
    km.pooled_ids = lambda: {"pooled"}
    gone: list[str] = []

    async def shutdown(kid, *a, **k):
        gone.append(kid)
        km._kernels.pop(kid)

    km.shutdown_kernel = shutdown
    assert km.claim("loading") and km.claim("closed") and not km.claim("nosuch")
    km.notify_connect("closed")
    km.notify_disconnect("closed")
    km.notify_connect("open")

    def at(t: float) -> list[str]:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:  # a loop of its own
            return pool.submit(asyncio.run, km.release_unviewed(now=t)).result(timeout=30)

    assert at(0) == []
    assert at(9.9) == []
    assert sorted(at(10)) == ["closed", "plain_get"]
    assert at(99) == []
    assert at(100) == ["loading"]
    assert set(km._kernels) == {"open", "busy", "pooled"}


def test_the_loading_screen_speaks_chinese(tmp_path) -> None:
    """Voilà's own loading words (Running …, Executing 3 of 12) are replaced: the template
    includes a script with the catalogue's text, and the script is no Jinja (no braces
    pairs Jinja would try to evaluate)."""
    root = serve.template_root(tmp_path)
    dest = root / "voila" / "templates" / serve.TEMPLATE
    script = (dest / "workbench_loading.html.j2").read_text(encoding="utf-8")
    assert "正在加载" in script and "正在计算（第 %i / %n 步）" in script
    assert "{{" not in script and "{%" not in script
    assert "workbench_loading.html.j2" in (dest / "index.html.j2").read_text(encoding="utf-8")


def test_the_widget_placeholders_are_the_installed_renderers_words() -> None:
    """The English the page replaces is what the installed widgets manager really writes
    (read from its bundle), so a Voilà upgrade that changes it fails here, not on a page."""
    import sys

    bundles = Path(sys.prefix, "share", "jupyter", "voila", "labextensions").rglob("*.js")
    text = "".join(p.read_text(encoding="utf-8", errors="replace") for p in bundles)
    for english in serve.WIDGET_PLACEHOLDERS:
        assert f'textContent="{english}"' in text, english


def test_loading_widget_is_said_in_chinese_in_a_browser(tmp_path) -> None:
    """Voilà's widget renderer writes "Loading widget..." into the page while a widget loads;
    the page's script puts the catalogue's Chinese there (a headless Chromium runs it)."""
    import subprocess

    from workbench.publish import HEADLESS_FLAGS, chromium_path

    browser = chromium_path()
    if browser is None:
        pytest.skip("no chromium")
    page = tmp_path / "p.html"
    page.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>"
        + serve.loading_script()
        + "<div id='out'></div><script>"
        "var a = document.createElement('div'); a.id = 'a';"
        "a.textContent = 'Loading widget...';"  # as the renderer does: text, then attached
        "var box = document.createElement('section'); box.appendChild(a);"
        "document.getElementById('out').appendChild(box);"
        "var b = document.createElement('div'); b.id = 'b';"
        "document.body.appendChild(b); b.textContent = 'Loading widget...';"
        "</script></body></html>",
        encoding="utf-8",
    )
    dom = subprocess.run(
        [browser, *HEADLESS_FLAGS, "--virtual-time-budget=2000", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert '<div id="a">正在加载…</div>' in dom and '<div id="b">正在加载…</div>' in dom, dom
    assert ">Loading widget...<" not in dom


# ───────────────────── the Chinese pages, rendered as Jupyter Server renders them ─────────────


def _render(text: str, **ns) -> str:
    import jinja2

    return jinja2.Environment(autoescape=True).from_string(text).render(**ns)


def test_error_and_login_pages_are_chinese():
    pages = serve.error_pages()
    busy = _render(pages["503.html"], base_url="/", max_kernels=4)
    assert "访问人数较多" in busy and "4 个会话" in busy and 'lang="zh-CN"' in busy
    assert f'http-equiv="refresh" content="{serve.BUSY_RETRY_S}"' in busy  # retries by itself
    nf = _render(pages["404.html"], base_url="/jg/")
    assert "找不到该页面" in nf and 'href="/jg/voila/render/cockpit.ipynb"' in nf
    err = _render(pages["error.html"], base_url="/", status_code=500)
    assert "错误代码 500" in err
    login = _render(
        serve.login_page(),
        base_url="/",
        next="/voila/render/cockpit.ipynb",
        login_available=True,
        token_available=True,
        message={"error": "Invalid credentials"},
        xsrf_form_html=lambda: '<input type="hidden" name="_xsrf" value="x">',
    )
    assert 'name="password"' in login and 'name="_xsrf"' in login
    assert "访问密码或令牌" in login and "密码或令牌不正确" in login
    for text in (busy, nf, err, login):
        assert not any(w in text for w in ("Password", "Log in", "Service Unavailable", "Error"))


def test_template_has_the_freshness_line_and_a_chinese_failed_cell(tmp_path):
    dest = serve.template_root(tmp_path) / "voila" / "templates" / serve.TEMPLATE
    index = (dest / "index.html.j2").read_text(encoding="utf-8")
    assert "workbench_freshness.html.j2" in index and "workbench_cell_error.html.j2" in index
    script = (dest / "workbench_freshness.html.j2").read_text(encoding="utf-8")
    assert "workbench/status" in script and "{{" not in script
    assert "出错" in (dest / "workbench_cell_error.html.j2").read_text(encoding="utf-8")
    assert (dest / "503.html").is_file() and (dest / "404.html").is_file()


def test_writer_detection_takes_no_lock(tmp_path):
    """A writer in another process is seen (fcntl F_GETLK); a reader is not a writer; and
    asking never takes a lock, so a writer can always open the file afterwards."""
    import subprocess
    import sys

    import duckdb

    db = tmp_path / "w.duckdb"
    duckdb.connect(str(db)).execute("CREATE TABLE x AS SELECT 1 AS a").close()
    hold = (
        "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == 'r');"
        "print('open', flush=True); time.sleep(30)"
    )
    for mode, expected in (("w", True), ("r", False)):
        proc = subprocess.Popen(
            [sys.executable, "-c", hold, str(db), mode], stdout=subprocess.PIPE, text=True
        )
        try:
            assert proc.stdout.readline().strip() == "open"
            assert serve.writer_active(db) is expected
        finally:
            proc.kill()
            proc.wait()
    assert serve.writer_active(db) is False
    duckdb.connect(str(db)).execute("INSERT INTO x VALUES (2)").close()


def test_snapshot_is_a_committed_state_and_reused(tmp_path):
    import duckdb

    db = tmp_path / "live.duckdb"
    duckdb.connect(str(db)).execute("CREATE TABLE x AS SELECT 1 AS a").close()
    snaps = serve.Snapshots(db, tmp_path / "snaps", quiet=0.0)
    snaps.folder.mkdir()
    first = snaps.take()
    assert first is not None and first.parent == snaps.folder
    assert snaps.take() == first  # same live state: the same copy
    with duckdb.connect(str(first), read_only=True) as con:
        assert con.execute("SELECT sum(a) FROM x").fetchone()[0] == 1
    duckdb.connect(str(db)).execute("INSERT INTO x VALUES (2)").close()
    second = snaps.take()
    assert second is not None and second != first
    with duckdb.connect(str(second), read_only=True) as con:
        assert con.execute("SELECT sum(a) FROM x").fetchone()[0] == 3
    assert not list(snaps.folder.glob("*.part"))


# ───────────────────── real Voilà over HTTP on a small demo warehouse ─────────────────────

TOKEN = "t" * 24
VIEWER_TIMEOUT = 6
MAX_KERNELS = 4  # pool of 1 per page: 2 preheated, room for 2 viewers


def _write_city(path: Path, counties: list[str] | None = None, tag: str = "") -> list[str]:
    """3 demo counties: the first two submitted 2025-12, the third only 2025-11 (so it is
    missing for 2025-12). With `counties`, adds 2025-12 submissions for just those."""
    from workbench.demo import generate_city
    from workbench.warehouse import Warehouse

    city = generate_city(3)
    codes = sorted({c for c, _ in city.counties})
    plan = (
        [(c, "2025-12") for c in counties]
        if counties is not None
        else [(codes[0], "2025-12"), (codes[1], "2025-12"), (codes[2], "2025-11")]
    )
    with Warehouse(path) as wh:
        for code, period in plan:
            frames = {
                n: df[df["county_code"].astype(str) == code]
                for n, df in city.frames.items()
                if "county_code" in df
            }
            wh.load_frames(
                frames, submission_id=f"s{code}{period}{tag}", period=period, county_code=code
            )
    return codes


class _Server:
    def __init__(self, wh: Path, cache: Path, log: Path) -> None:
        import subprocess
        import sys

        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}/"
        self.log = log.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "workbench.cli",
                "serve",
                "--warehouse",
                str(wh),
                "--port",
                str(self.port),
                "--pool-size",
                "1",
                "--max-kernels",
                str(MAX_KERNELS),
                "--viewer-timeout",
                str(VIEWER_TIMEOUT),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=dict(
                __import__("os").environ,
                WORKBENCH_DASHBOARD_CACHE=str(cache),
                WORKBENCH_DASHBOARD_TOKEN=TOKEN,
                PYTHONUNBUFFERED="1",
            ),
            start_new_session=True,
        )

    def get(self, path: str, token: bool = True, timeout: float = 120):
        import urllib.error
        import urllib.request

        sep = "&" if "?" in path else "?"
        url = self.base + path + (f"{sep}token={TOKEN}" if token else "")
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                return r.status, dict(r.headers), r.read().decode("utf-8")
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode("utf-8", "replace")

    def status(self) -> dict:
        import json

        code, _, body = self.get("voila/workbench/status")
        assert code == 200, body
        return json.loads(body)

    def kernel_pids(self) -> list:
        """The server's kernel processes. A kernel's own short-lived child (each kernel runs
        `uname -p` while it starts) shows the kernel's command line until it execs: it is
        not a kernel, and counting it once made the cap look exceeded (5 of 4 in CI)."""
        import psutil

        try:
            kids = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            return []
        found = {}
        for p in kids:
            try:
                if "ipykernel" in " ".join(p.cmdline()):
                    found[p.pid] = p
            except psutil.Error:
                pass
        out = []
        for p in found.values():
            try:
                if p.ppid() not in found:
                    out.append(p)
            except psutil.Error:
                pass
        return out

    def wait_until(self, what, timeout: float, every: float = 0.5):
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = what()
            if got:
                return got
            assert self.proc.poll() is None, "serve exited"
            time.sleep(every)
        raise AssertionError(f"not within {timeout} s")

    def stop(self) -> None:
        import signal
        import subprocess

        self.proc.send_signal(signal.SIGTERM)  # Voilà stops its kernels on SIGTERM
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            import os

            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    pytest.importorskip("voila")
    pytest.importorskip("psutil")
    folder = tmp_path_factory.mktemp("serve")
    wh = folder / "w.duckdb"
    codes = _write_city(wh)
    srv = _Server(wh, folder / "cache", folder / "serve.log")
    try:
        srv.wait_until(lambda: _up(srv), timeout=300, every=1)
        srv.wait_until(lambda: len(srv.kernel_pids()) >= 2, timeout=120)  # pools filled
        srv.codes = codes
        srv.warehouse = wh
        yield srv
    finally:
        srv.stop()


def _up(srv: _Server) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(srv.base + "login", timeout=5):
            return True
    except OSError:
        return False


def _kernel_id(page: str) -> str:
    import re

    m = re.search(r'"kernelId":\s*"([0-9a-f-]{36})"', page)
    assert m, "no kernel id in the page"
    return m.group(1)


def test_live_pages_in_chinese(live):
    code, _, body = live.get("login", token=False)
    assert code == 200 and "访问密码或令牌" in body and "Password" not in body
    code, _, body = live.get("no/such/page")
    assert code == 404 and "找不到该页面" in body
    code, _, body = live.get("voila/render/cockpit.ipynb", token=False)  # to the login page
    assert code == 200 and "登录" in body


def test_freshness_line_follows_an_ingest_without_restart(live):
    """A county missing for 2025-12 submits while serve runs: while the writer holds the
    warehouse the page says so and shows the last complete data; once it is done the line
    changes and the preheated kernels read the new copy — no restart."""
    import time

    from workbench.demo import generate_city
    from workbench.warehouse import Warehouse

    names = dict(generate_city(3).counties)
    before = live.status()
    missing = names[live.codes[2]]
    assert before["state"] == "current"
    assert f"未报送 1 个（{missing}）" in before["line"]
    pooled_before = {p.environ().get("WORKBENCH_WAREHOUSE") for p in live.kernel_pids()}

    time.sleep(1.1)  # a new modification time for the warehouse file
    wh = Warehouse(live.warehouse)  # another process (this one) now holds the write lock
    try:
        _write_city_into(wh, live.codes[2])
        during = live.wait_until(
            lambda: (s := live.status())["state"] == "writing" and s, timeout=30
        )
        assert during["generation"] == before["generation"]
        assert during["line"] == before["line"]  # the last complete data, with a notice
        assert "正在入库" in during["notice"]
        code, _, _ = live.get("voila/render/cockpit.ipynb")  # a page still opens
        assert code in (200, 503)
    finally:
        wh.close()
    after = live.wait_until(
        lambda: (s := live.status())["generation"] > before["generation"] and s, timeout=180
    )
    assert after["state"] == "current" and after["notice"] == ""
    assert "无未报送区县" in after["line"] and after["loaded_at"] != before["loaded_at"]
    # the preheated kernels were replaced: they read the new copy
    live.wait_until(
        lambda: (
            ({p.environ().get("WORKBENCH_WAREHOUSE") for p in live.kernel_pids()} - pooled_before)
            and not (
                {p.environ().get("WORKBENCH_WAREHOUSE") for p in live.kernel_pids()} & pooled_before
            )
        ),
        timeout=120,
    )


def _write_city_into(wh, code: str) -> None:
    from workbench.demo import generate_city

    city = generate_city(3)
    frames = {
        n: df[df["county_code"].astype(str) == code]
        for n, df in city.frames.items()
        if "county_code" in df
    }
    wh.load_frames(frames, submission_id=f"late{code}", period="2025-12", county_code=code)


def test_cap_is_never_exceeded_under_concurrent_requests(live):
    """12 plain GETs at once against a cap of 4 kernels (2 of them preheated): kernel
    processes never exceed 4 (sampled every 50 ms), the refused get the Chinese page that
    retries itself, and the kernels of pages no browser attached to are released."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    live.wait_until(lambda: len(live.kernel_pids()) == 2, timeout=120)
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], len(live.kernel_pids()))
            time.sleep(0.05)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    try:
        with ThreadPoolExecutor(12) as pool:
            got = list(pool.map(lambda _: live.get("voila/render/cockpit.ipynb"), range(12)))
        time.sleep(3)
    finally:
        stop.set()
        th.join()
    codes = sorted(c for c, _, _ in got)
    assert set(codes) <= {200, 503}, codes
    assert codes.count(503) >= 12 - (MAX_KERNELS - 1), codes
    assert codes.count(200) >= 1
    assert peak[0] <= MAX_KERNELS, peak[0]
    busy = next(b for c, h, b in got if c == 503)
    headers = next(h for c, h, b in got if c == 503)
    assert "访问人数较多" in busy and 'http-equiv="refresh"' in busy
    assert headers.get("Retry-After") == str(serve.BUSY_RETRY_S)
    # none of those GETs had a browser: their kernels go, the pools stay
    live.wait_until(lambda: len(live.kernel_pids()) <= 2, timeout=VIEWER_TIMEOUT + 40)


def test_kernel_released_after_a_page_vanishes_without_unload(live):
    """A page whose websocket is attached keeps its kernel past the timeout; once the socket
    drops (no unload beacon) the kernel is released within the timeout plus a round."""
    import asyncio
    import time

    from tornado.websocket import websocket_connect

    live.wait_until(lambda: len(live.kernel_pids()) <= 2, timeout=VIEWER_TIMEOUT + 40)
    code, _, page = live.get("voila/render/cockpit.ipynb")
    assert code == 200
    kid = _kernel_id(page)
    # the page's first script says a browser has it; nothing is claimed for a stranger
    assert live.get(f"voila/workbench/hello/{kid}")[0] == 204
    assert live.get("voila/workbench/hello/00000000-0000-0000-0000-000000000000")[0] == 404

    def alive() -> bool:
        return live.get(f"api/kernels/{kid}")[0] == 200

    async def attach_then_vanish() -> float:
        ws = await websocket_connect(
            f"ws://127.0.0.1:{live.port}/api/kernels/{kid}/channels?token={TOKEN}"
        )
        await asyncio.sleep(VIEWER_TIMEOUT + 8)  # well past the timeout, with a page attached
        assert alive()
        ws.close()  # the page is gone; no beacon was sent
        return time.monotonic()

    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as ex:  # a loop of its own (see above)
        gone_at = ex.submit(asyncio.run, attach_then_vanish()).result(timeout=120)
    live.wait_until(lambda: not alive(), timeout=VIEWER_TIMEOUT + 30)
    assert time.monotonic() - gone_at <= VIEWER_TIMEOUT + 30


def test_the_freshness_line_is_set_in_the_cockpits_font() -> None:
    """The line above the cockpit (数据最近入库…；…报送…) sits outside the page's own styles and
    showed in the browser's default serif; it names the cockpit's Chinese sans-serif."""
    import re

    from workbench import dashboard, serve

    box = re.search(r'<div id="wb-freshness"[^>]*style="([^"]*)"', serve.freshness_script())
    assert box, "the freshness box"
    family = re.search(r"font-family:([^;]*)", box.group(1))
    assert family and family.group(1) == dashboard.FONT.replace('"', "'")


# English on a line (paths and addresses aside): two Latin words and no Chinese besides a level
# label (「警告：」), or three Latin words in a row anywhere.
_TWO_WORDS = __import__("re").compile(r"[A-Za-z]{2,}[^\n]*\s[A-Za-z]{2,}")
_THREE_WORDS = __import__("re").compile(r"[A-Za-z]{2,}(?:[ ,:;'()-]+[A-Za-z]{2,}){2}")
_CJK = __import__("re").compile(r"[\u3400-\u9fff]")
_LEVEL = __import__("re").compile(r"^(调试|提示|警告|错误|严重错误)：")
_PATH = __import__("re").compile(r"[^\s：]*/[^\s：]*")


def _english_lines(text: str) -> list[str]:
    out = []
    for ln in text.splitlines():
        bare = _PATH.sub("", _LEVEL.sub("", ln))
        if (_TWO_WORDS.search(bare) and not _CJK.search(bare)) or _THREE_WORDS.search(bare):
            out.append(ln)
    return out


@pytest.fixture(scope="module")
def quiet_city(tmp_path_factory) -> Path:
    pytest.importorskip("voila")
    folder = tmp_path_factory.mktemp("serve-console")
    wh = folder / "w.duckdb"
    _write_city(wh)
    return wh


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGINT"])
def test_operator_console_is_chinese_and_stops_quietly(quiet_city, stop):
    """What the operator reads on the console of `workbench serve`, from start to stop (a page
    opened once, then SIGTERM from systemd or Ctrl+C): Chinese lines only — no English log line
    of Voilà, Jupyter Server, tornado or the kernels, no traceback — and one line saying it
    stopped. The details are in the debug log the console names."""
    import signal

    from workbench.messages import t

    folder = quiet_city.parent
    srv = _Server(quiet_city, folder / "cache", folder / f"console-{stop}.log")
    try:
        srv.wait_until(lambda: _up(srv), timeout=300, every=1)
        srv.wait_until(lambda: len(srv.kernel_pids()) >= 2, timeout=120)  # pools filled
        code, _, page = srv.get("voila/render/cockpit.ipynb")
        assert code == 200 and "领导驾驶舱" in page
        srv.proc.send_signal(getattr(signal, stop))
        rc = srv.proc.wait(timeout=60)
    except BaseException:
        srv.stop()
        raise
    finally:
        if srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait(timeout=10)
        srv.log.close()
    text = (folder / f"console-{stop}.log").read_text(encoding="utf-8", errors="replace")
    assert rc == 0, text
    assert "Traceback" not in text, text
    assert _english_lines(text) == [], text
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert lines[-1] == t("dash.serve.stopped"), lines[-3:]
    assert sum(ln == t("dash.serve.stopped") for ln in lines) == 1, text
    # the details were kept, not lost: Voilà's and the kernels' own lines are in the debug log
    logs = [ln for ln in lines if ln.startswith(t("serve.log.where", path="").rstrip())]
    assert len(logs) == 1, text
    debug = Path(logs[0].split(t("serve.log.where", path="").rstrip(), 1)[1].strip())
    detail = debug.read_text(encoding="utf-8")
    assert "Kernel started" in detail and "cockpit.ipynb" in detail, detail[-2000:]


def test_english_line_detector():
    """The detector the console test relies on, on lines computed by hand."""
    assert _english_lines("[WorkbenchVoila] Kernel started: 1234") == [
        "[WorkbenchVoila] Kernel started: 1234"
    ]
    assert _english_lines("警告：releasing kernel 3f2a: no page attached for 46 s") == [
        "警告：releasing kernel 3f2a: no page attached for 46 s"
    ]
    assert _english_lines("警告：kernel limit 40 reached") == ["警告：kernel limit 40 reached"]
    assert _english_lines("警告：已释放内核 3f2a（46 秒无页面连接）") == []
    assert _english_lines("按 Ctrl+C 停止。") == []
    assert _english_lines("详细日志（Voilà、内核）：/tmp/pytest-of-root/serve-logs/serve.log") == []
    assert _english_lines("Traceback (most recent call last):") != []
    assert _english_lines("http://127.0.0.1:8866/") == []
    assert _english_lines("领导驾驶舱：http://127.0.0.1:8866/voila/render/cockpit.ipynb") == []


# ── the detailed log rotates ─────────────────────────────────────────────────────────────────


def _rotated(folder: Path) -> list[Path]:
    return sorted(folder.glob("serve.log*"))


def test_the_detailed_log_rotates_by_size(tmp_path):
    """1000 bytes × (1 + 2 backups): 300 records of ~60 bytes (~18 kB) leave three files, none
    much over the limit, the newest record in serve.log and the oldest gone."""
    import logging

    log = logging.getLogger("test.serve.rotation")
    log.propagate = False
    log.setLevel(logging.INFO)
    handler = serve.detail_handler(tmp_path / "serve.log", max_bytes=1000, backups=2)
    log.addHandler(handler)
    try:
        for i in range(300):
            log.info("record %04d %s", i, "x" * 20)
    finally:
        log.removeHandler(handler)
        handler.close()
    files = _rotated(tmp_path)
    assert [f.name for f in files] == ["serve.log", "serve.log.1", "serve.log.2"]
    assert all(f.stat().st_size <= 1000 for f in files)
    assert "record 0299" in (tmp_path / "serve.log").read_text(encoding="utf-8")
    assert not any("record 0000" in f.read_text(encoding="utf-8") for f in files)


def test_voilas_own_lines_rotate_with_the_same_file(tmp_path):
    """Voilà's logging config (a dictConfig, as `WorkbenchVoila.get_default_logging_config`
    writes it) forwards to the one rotating handler: with the workbench's records in between,
    every file stays within the limit (a second handler on the same file would have kept
    writing to serve.log.1 after the first rotation) and both kinds of line are in each."""
    import logging
    import logging.config

    handler = serve.detail_handler(tmp_path / "serve.log", max_bytes=2000, backups=2)
    own = logging.getLogger("test.serve.own")
    own.propagate = False
    own.setLevel(logging.INFO)
    own.addHandler(handler)
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "handlers": {
                "console": {"()": serve.ForwardToDetails, "target": handler, "level": "INFO"}
            },
            "loggers": {
                "TestVoila": {"handlers": ["console"], "level": "INFO", "propagate": False}
            },
        }
    )
    voila = logging.getLogger("TestVoila")
    try:
        for i in range(200):
            (voila if i % 2 else own).info("line %03d %s", i, "z" * 20)
    finally:
        own.removeHandler(handler)
        voila.handlers.clear()
        handler.close()
    files = _rotated(tmp_path)
    assert [f.name for f in files] == ["serve.log", "serve.log.1", "serve.log.2"]
    assert all(f.stat().st_size <= 2000 for f in files)
    for f in files[1:]:  # full files: both loggers' lines in each
        text = f.read_text(encoding="utf-8")
        assert "TestVoila: line" in text and "test.serve.own: line" in text
    assert "line 199" in files[0].read_text(encoding="utf-8")


def test_kernel_output_goes_through_the_rotated_log(tmp_path):
    """Two child processes (as kernels are: stdout and stderr on the one pipe) write 400 lines
    each while the log rotates under them; every file stays within the limit, the last lines
    are in the current serve.log (a file handle shared by the kernels would have kept writing
    to the renamed file) and no line is broken."""
    import logging
    import subprocess
    import sys

    log = logging.getLogger(serve.KERNEL_LOGGER)
    keep = (log.propagate, log.level)
    log.propagate = False
    log.setLevel(logging.INFO)
    handler = serve.detail_handler(tmp_path / "serve.log", max_bytes=4000, backups=3)
    log.addHandler(handler)
    out = serve.KernelOutput()
    code = (
        "import sys\n"
        "for i in range(400):\n"
        "    s = sys.stdout if i % 2 else sys.stderr\n"
        "    s.write(f'kernel {sys.argv[1]} line {i:03d} ' + 'y' * 30 + '\\n'); s.flush()\n"
    )
    try:
        kids = [
            subprocess.Popen([sys.executable, "-c", code, k], stdout=out.writer, stderr=out.writer)
            for k in ("A", "B")
        ]
        assert [k.wait(timeout=60) for k in kids] == [0, 0]
        out.close()
    finally:
        log.removeHandler(handler)
        handler.close()
        log.propagate, log.level = keep
    files = _rotated(tmp_path)
    assert [f.name for f in files] == ["serve.log", *(f"serve.log.{i}" for i in (1, 2, 3))]
    assert all(f.stat().st_size <= 4000 for f in files)
    texts = [f.read_text(encoding="utf-8") for f in files]
    current = texts[0]
    assert "kernel A line 399" in current or "kernel B line 399" in current
    lines = [ln for text in texts for ln in text.splitlines()]
    assert lines and all(
        re.search(r" INFO kernel: kernel [AB] line \d{3} y{30}$", ln) for ln in lines
    ), [ln for ln in lines if not re.search(r"kernel [AB] line \d{3} y{30}$", ln)][:3]
