"""The `workbench` command speaks Chinese, argparse's own words included."""

from __future__ import annotations

import re

import pytest
from pathlib import Path

from workbench import cli

ENGLISH = (
    "usage:",
    "options:",
    "positional arguments",
    "show this help message",
    "error:",
    "the following arguments are required",
    "invalid choice",
    "expected one argument",
    "unrecognized arguments",
)


def _subcommands() -> list[str]:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sorted(sub.choices)


@pytest.mark.parametrize("argv", [["--help"], *([c, "--help"] for c in _subcommands())])
def test_help_is_chinese(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("用法：workbench")
    assert not [w for w in ENGLISH if w in out], out
    usage, rest = out.split("\n\n", 1)  # option values are named in Chinese, not PATH…
    assert re.search(r"[\u4e00-\u9fff]", rest.split("\n\n")[0]), out  # a description
    lines = rest.splitlines() + [""]
    for line, after in zip(lines, lines[1:]):  # every option says what it is for (on its
        opt = line.strip()  # line, or the next when the name is long)
        if opt.startswith("-") and "  " not in opt:
            assert after.startswith(" " * 8) and not after.strip().startswith("-"), line
    assert not re.findall(r"\b[A-Z][A-Z_]+\b", usage.replace("YYYY-MM", "")), usage


@pytest.mark.parametrize(
    "argv, words",
    [
        (["nosuch"], ["无效的选项值", "'nosuch'"]),
        (["compute", "--span"], ["参数 --span", "需要一个参数值"]),
        (["compute", "--bogus"], ["无法识别的参数", "--bogus"]),
        (["run", "-p", "x"], ["需要 2 个参数值"]),
        (["run", "--jobs", "-1"], ["参数 --jobs", "应不小于 1"]),
        (["run", "--timeout", "-5"], ["参数 --timeout", "应大于 0"]),
        (["compute", "--uncertainty", "-5"], ["参数 --uncertainty", "应不小于 0"]),
        (["demo", "--counties", "abc"], ["参数 --counties", "不是整数"]),
        (["serve", "--port", "70000"], ["参数 --port", "超出范围"]),
    ],
)
def test_usage_errors_are_chinese(
    argv: list[str], words: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "错误：" in err and all(w in err for w in words), err
    assert not [w for w in ENGLISH if w in err], err


def test_input_errors_are_chinese_not_tracebacks(tmp_path, monkeypatch, capsys) -> None:
    """A path, file or setting the user got wrong: one Chinese line and exit code 2."""
    not_db = tmp_path / "notes.txt"
    not_db.write_text("这不是仓库", encoding="utf-8")
    cases = [
        (["status", "--warehouse", str(not_db)], "不是工作台的仓库文件"),
        (["quarantine", "--warehouse", str(not_db)], "不是工作台的仓库文件"),
        (["ledger-docs", "--out", str(not_db / "x" / "ledgers.md")], "不是目录"),
    ]
    for argv, words in cases:
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("错误：") and words in err and "Traceback" not in err, err
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WORKBENCH_WAREHOUSE", raising=False)
    (tmp_path / "workbench.toml").write_text("[warehouse\npath = 1\n", encoding="utf-8")
    assert cli.main(["status"]) == 2
    assert "workbench.toml 格式错误" in capsys.readouterr().err


def test_log_lines_name_their_level_in_chinese() -> None:
    import logging

    record = logging.LogRecord(
        "workbench.composite", logging.WARNING, __file__, 1, "指标 x 为常数", None, None
    )
    assert cli._LogFormatter(False).format(record) == "警告：指标 x 为常数"
    assert cli._LogFormatter(True).format(record) == "警告 workbench.composite：指标 x 为常数"
    assert record.levelname == "WARNING"  # the record itself is left alone


def test_describe_knows_input_errors_from_bugs() -> None:
    from workbench.errors import describe

    assert "找不到文件或目录「/x/y」" in describe(FileNotFoundError(2, "No such file", "/x/y"))
    assert describe(TimeoutError("Timed out trying to connect to tcp://127.0.0.1:1")).startswith(
        "连接失败"
    )
    assert describe(ValueError("a bug")) is None
    assert describe(OSError("no path: not about the user's input")) is None


def test_a_bug_gives_a_chinese_line_and_a_private_masked_record(monkeypatch, capsys) -> None:
    """No traceback reaches a user: a bug says where its (masked) details were written."""
    import stat

    from workbench.commands import ledger_docs

    def boom(args):
        raise ValueError("坏数据 身份证 110101199003071234")

    monkeypatch.setattr(ledger_docs, "run", boom)
    assert cli.main(["ledger-docs"]) == 3
    err = capsys.readouterr().err
    assert "程序内部错误" in err and "Traceback" not in err and "199003071234" not in err, err
    path = Path(err.split("「")[1].split("」")[0])
    record = path.read_text(encoding="utf-8")
    assert "ValueError" in record and "Traceback" in record
    assert "110101199003071234" not in record and "1101**********1234" in record
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with pytest.raises(ValueError):  # -v: the developer sees the traceback itself
        cli.main(["-v", "ledger-docs"])


def test_a_closed_pipe_ends_quietly(tmp_path) -> None:
    """`workbench … | head -1`: no 'Broken pipe' sentence, exit 0 from the pipeline's end."""
    import subprocess
    import sys

    script = (
        "import sys, workbench.cli as c\n"
        "from workbench.commands import ledger_docs\n"
        "def many(args):\n"
        "    for i in range(200000):\n"
        "        print('行', i)\n"
        "    return 0\n"
        "ledger_docs.run = many\n"
        "sys.exit(c.main(['ledger-docs']))\n"
    )
    proc = subprocess.run(
        f'{sys.executable} -c "$SCRIPT" | head -1',
        shell=True,
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "SCRIPT": script},
        timeout=120,
    )
    assert proc.stdout == "行 0\n"
    assert "Broken pipe" not in proc.stderr and "连接失败" not in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr


def test_demo_all_never_deletes_a_bureau_warehouse(tmp_path, capsys) -> None:
    """`dev.py demo` starts from an empty warehouse, but a configured one holding real county
    codes (not the demo's 99…) or a folder with other files is refused, untouched."""
    import duckdb

    real = tmp_path / "real.duckdb"
    con = duckdb.connect(str(real))
    con.execute("CREATE TABLE cases (county_code VARCHAR, amount DOUBLE)")
    con.execute("INSERT INTO cases VALUES ('990101', 1), ('330402', 2)")
    con.close()
    before = real.read_bytes()
    argv = ["demo-all", "--warehouse", str(real), "--out", str(tmp_path / "d"), "--no-serve"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "330402" in err and "cases" in err and "正式数据" in err, err
    assert real.read_bytes() == before and not (tmp_path / "d").exists()

    not_db = tmp_path / "notes.duckdb"
    not_db.write_text("不是仓库", encoding="utf-8")
    assert cli.main(["demo-all", "--warehouse", str(not_db), "--no-serve"]) == 2
    assert not_db.read_text(encoding="utf-8") == "不是仓库"
    capsys.readouterr()

    mine = tmp_path / "收文"
    mine.mkdir()
    (mine / "330402_某县_2025-09.xlsx").write_bytes(b"x")
    demo_wh = tmp_path / "demo.duckdb"
    assert cli.main(["demo-all", "--warehouse", str(demo_wh), "--out", str(mine)]) == 2
    assert "不会清空目录" in capsys.readouterr().err
    assert (mine / "330402_某县_2025-09.xlsx").exists()


def test_screen_lists_accepts_latest(tmp_path, capsys) -> None:
    """Its help offers `latest`; on an empty warehouse it says there is no settlement data."""
    wh = tmp_path / "w.duckdb"
    assert cli.main(["screen", "lists", "--period", "latest", "--warehouse", str(wh)]) == 1
    assert "还没有结算数据" in capsys.readouterr().err


def test_runs_dir_in_workbench_toml_is_relative_to_the_file(tmp_path, monkeypatch) -> None:
    """Like the warehouse path: run from a subfolder, the runs still land beside the file."""
    from workbench.commands.run import runs_dir

    (tmp_path / "workbench.toml").write_text('[batch]\nruns_dir = "批次"\n', encoding="utf-8")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    monkeypatch.delenv("WORKBENCH_RUNS", raising=False)
    assert Path(runs_dir(None)) == tmp_path / "批次"
    assert runs_dir("x") == "x"
