"""`workbench serve`: safe defaults, refusals in Chinese, the Voilà command line it builds."""

from __future__ import annotations

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
