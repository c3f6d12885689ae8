"""The `workbench` command speaks Chinese, argparse's own words included."""

from __future__ import annotations

import re

import pytest

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
