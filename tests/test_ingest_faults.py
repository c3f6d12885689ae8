"""A bad day: a full disk at each step, a kill after the commit, a reader that went away. Each
ends with a Chinese message that is true, and leaves no `.part` file, no orphan archive and no
empty issue list; a list that could not be written can be written again."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.ingest_corpus import F, case_row, write_cases, write_city
from workbench.cli import main
from workbench.ingest import ingest_paths
from workbench.warehouse import Warehouse

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def wh_path(tmp_path: Path) -> Path:
    city = tmp_path / "city"
    city.mkdir()
    write_city(city)
    path = tmp_path / "wh.duckdb"
    assert ingest_paths([city], path).ok
    return path


@pytest.fixture()
def batch(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    write_cases(folder / F, [case_row(), case_row(案件编号="C2", **{"应追回金额(元)": "x"})])
    return folder


def _state(wh_path: Path) -> tuple:
    with Warehouse(wh_path, read_only=True) as wh:
        counts = tuple(
            wh.con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("submissions", "cases", "quarantine", "ingest_issues")
        )
        archive = wh.archive_dir
    files = sorted(p.name for p in archive.rglob("*") if p.is_file()) if archive.exists() else []
    return counts, files


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".part") or p.name.startswith(".ingest-")]


def _run(args: list[str], capsys) -> tuple[int, str, str]:
    rc = main(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return rc, out, err


def test_disk_full_while_archiving_leaves_the_warehouse_as_it_was(
    wh_path: Path, batch: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    import workbench.ingest as ing
    import workbench.warehouse as warehouse

    monkeypatch.setattr(warehouse, "INLINE_ARCHIVE_MAX", 0)  # every file archived as a file

    def full(src, dst):
        Path(dst).write_bytes(b"half")  # a partial copy, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))

    real_copy = shutil.copyfile
    monkeypatch.setattr(ing.shutil, "copyfile", full)
    before = _state(wh_path)
    rc, out, err = _run(
        ["ingest", str(batch), "--warehouse", str(wh_path), "--report-dir", str(tmp_path / "r")],
        capsys,
    )
    assert rc == 1 and "入库未完成，仓库保持原样" in err and "磁盘空间不足" in err
    assert not out.strip()  # no summary claiming anything
    assert _state(wh_path) == before
    assert not _leftovers(tmp_path) and not (tmp_path / "r").exists()
    monkeypatch.setattr(ing.shutil, "copyfile", real_copy)
    rc, out, err = _run(["ingest", str(batch), "--warehouse", str(wh_path)], capsys)
    assert rc == 0 and "新入库" in out, out + err


def test_disk_full_at_commit_removes_what_was_archived(
    wh_path: Path, batch: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    import contextlib

    import duckdb

    import workbench.warehouse as warehouse

    monkeypatch.setattr(warehouse, "INLINE_ARCHIVE_MAX", 0)

    @contextlib.contextmanager
    def failing_commit(self):
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        finally:
            self.con.execute("ROLLBACK")
        raise duckdb.IOException('Could not write file "wh.duckdb.wal": No space left on device')

    monkeypatch.setattr(warehouse.Warehouse, "transaction", failing_commit)
    before = _state(wh_path)
    rc, _out, err = _run(
        ["ingest", str(batch), "--warehouse", str(wh_path), "--report-dir", str(tmp_path / "r")],
        capsys,
    )
    assert rc == 1 and "仓库保持原样" in err and "磁盘空间不足" in err
    assert _state(wh_path) == before  # the archived copy went with the transaction
    assert not _leftovers(tmp_path)


def test_a_list_that_could_not_be_written_says_so_and_can_be_written_again(
    wh_path: Path, batch: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    import workbench.issue_list as issue_list

    real_close = issue_list.XlsxStream.close

    def full(self):
        raise OSError(errno.ENOSPC, "No space left on device", str(self.path))

    monkeypatch.setattr(issue_list.XlsxStream, "close", full)
    reports = tmp_path / "r"
    rc, out, err = _run(
        ["ingest", str(batch), "--warehouse", str(wh_path), "--report-dir", str(reports)], capsys
    )
    assert rc == 1
    assert "新入库" in out and "完整问题清单" not in out  # the data is in; no list is claimed
    assert "数据已入库，但问题清单未能写出" in err and "磁盘空间不足" in err
    assert list(reports.iterdir()) == []  # no partial, no empty list
    sid = err.split("--report ")[1].split()[0]
    monkeypatch.setattr(issue_list.XlsxStream, "close", real_close)
    rc, out, _err = _run(
        ["ingest", "--report", sid, "--warehouse", str(wh_path), "--report-dir", str(reports)],
        capsys,
    )
    assert rc == 0 and "已重新生成问题清单" in out
    written = sorted(p.suffix for p in reports.iterdir())
    assert written == [".csv", ".xlsx"]
    text = next(reports.glob("*.csv")).read_text(encoding="utf-8-sig")
    assert "E_NOT_NUMBER" in text and "第3行" in text


def _driver(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent(body), encoding="utf-8")
    return script


def _python(script: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_killed_after_the_commit_the_rerun_writes_the_list_and_says_where(
    wh_path: Path, batch: Path, tmp_path: Path, capsys
) -> None:
    """SIGKILL right after the commit, before any list was written: re-running the same file
    does not say 错误 0 条 and stop — it writes the missing list and says where it is."""
    reports = tmp_path / "r"
    script = _driver(
        tmp_path,
        """
        import os, signal, sys
        import workbench.ingest as ing
        def killed(*a, **k):
            os.kill(os.getpid(), signal.SIGKILL)
        ing.publish_issue_lists = killed
        from workbench.cli import main
        main(sys.argv[1:])
        """,
    )
    done = _python(
        script, "ingest", str(batch), "--warehouse", str(wh_path), "--report-dir", str(reports)
    )
    assert done.returncode == -signal.SIGKILL and not done.stdout
    assert not reports.exists()
    rc, out, _err = _run(
        ["ingest", str(batch), "--warehouse", str(wh_path), "--report-dir", str(reports)], capsys
    )
    assert rc == 0 and "未更改" in out and "已重新生成" in out
    listed = out.split("已重新生成：")[1].split()[0]
    assert Path(listed).exists() and Path(listed).parent == reports
    # and once written, a further re-run points at it
    rc, out, _err = _run(
        ["ingest", str(batch), "--warehouse", str(wh_path), "--report-dir", str(reports)], capsys
    )
    assert f"问题清单：{listed}" in out


def test_killed_inside_the_transaction_leaves_no_orphan_behind(
    wh_path: Path, batch: Path, tmp_path: Path, capsys
) -> None:
    """SIGKILL after a big file was archived but before the commit: nothing is committed, and
    the next ingest removes the archived copy and the read folder the dead one left."""
    script = _driver(
        tmp_path,
        """
        import os, signal, sys
        import workbench.ingest as ing
        import workbench.warehouse as warehouse
        warehouse.INLINE_ARCHIVE_MAX = 0
        def killed(*a, **k):
            os.kill(os.getpid(), signal.SIGKILL)
        ing._register_sheets = killed
        from workbench.cli import main
        main(sys.argv[1:])
        """,
    )
    before = _state(wh_path)
    done = _python(script, "ingest", str(batch), "--warehouse", str(wh_path))
    assert done.returncode == -signal.SIGKILL
    counts, files = _state(wh_path)
    assert counts == before[0] and files  # the orphan is there…
    (wh_path.parent / f".ingest-{wh_path.name}-stale").mkdir()
    (wh_path.parent / ".ingest-other.duckdb-busy").mkdir()  # another warehouse's: kept
    rc, out, err = _run(["ingest", str(tmp_path / "city"), "--warehouse", str(wh_path)], capsys)
    assert rc == 0, out + err
    assert _state(wh_path) == before  # …and gone
    assert [p.name for p in _leftovers(tmp_path)] == [".ingest-other.duckdb-busy"]


def test_a_closed_pipe_ends_quietly(wh_path: Path, batch: Path, tmp_path: Path) -> None:
    """`workbench ingest … | head`: no 连接失败 and no traceback when the reader goes away."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "ingest", str(batch), "--warehouse", str(wh_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    proc.stdout.close()  # the reader is gone before the first line
    _, err = proc.communicate(timeout=300)
    err = err.decode("utf-8", "replace")
    assert "Traceback" not in err and "连接失败" not in err and "Broken pipe" not in err, err
    assert proc.returncode == 0
    with Warehouse(wh_path, read_only=True) as wh:  # the work itself was done
        assert wh.con.execute("SELECT count(*) FROM cases").fetchone()[0] == 1
