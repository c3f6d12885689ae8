"""`workbench screen …`: Chinese output, exit codes, no traceback for a user's mistake."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.screening.demo_extract import PARAMS_FILE
from workbench.screening.salt import ENV_SALT

ID_RE = re.compile(r"(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9])")


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_check_passes_on_the_shipped_rules(capsys) -> None:
    rc, out, _ = _cli(capsys, "screen", "check")
    assert rc == 0 and "规则文件校验通过" in out


def test_check_reports_a_broken_file_and_fails(capsys, tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text("kind: screening_rules\nrules:\n  X-1: {}\n", "utf-8")
    rc, out, _ = _cli(capsys, "screen", "check", "--rules", str(tmp_path))
    assert rc == 1 and "E_RULE_MISSING" in out and "第 3 行" in out


def test_run_screens_the_latest_month_and_writes_lists(
    capsys, wh_copy: Path, extract, extract_dir: Path, tmp_path: Path
) -> None:
    lists = tmp_path / "lists"
    rc, out, err = _cli(
        capsys,
        "screen",
        "run",
        "--warehouse",
        str(wh_copy),
        "--params",
        str(extract_dir / PARAMS_FILE),
        "--lists-out",
        str(lists),
        "--received",
        "2025-12-31",
    )
    assert rc == 0, err
    assert f"{extract.period}～{extract.period}" in out and "新线索 13 条" in out
    assert "疑点清单 4 份" in out and len(list((lists / extract.period).glob("*.xlsx"))) == 4
    rc, out, _ = _cli(capsys, "screen", "status", "--warehouse", str(wh_copy))
    assert rc == 0 and "结算记录" in out and "新线索 13 条" in out
    assert not ID_RE.search(out)


def test_load_of_a_missing_path_says_so_in_chinese(
    capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_SALT, "a-salt-long-enough-for-the-test")
    rc, out, err = _cli(
        capsys,
        "screen",
        "load",
        str(tmp_path / "nowhere"),
        "--warehouse",
        str(tmp_path / "wh.duckdb"),
    )
    assert rc == 1 and "找不到该文件或文件夹" in out and "Traceback" not in out + err


def test_run_without_a_warehouse_or_with_an_unknown_rule(capsys, tmp_path: Path, wh_copy) -> None:
    rc, _out, err = _cli(capsys, "screen", "run", "--warehouse", str(tmp_path / "none.duckdb"))
    assert rc == 2 and err
    rc, _out, err = _cli(capsys, "screen", "run", "--warehouse", str(wh_copy), "--rule", "NOPE-1")
    assert rc == 2 and "NOPE-1" in err and "SJBD-01" in err
