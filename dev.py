#!/usr/bin/env python3
"""One-file bootstrap: creates .venv, installs the project, then runs the main job or the tests.

    python3 dev.py demo    # 演示：生成演示数据 → 入库 → 指标 → 报告 → 驾驶舱
    python3 dev.py setup   # 只安装（.venv、chromium 等），不运行演示
    python3 dev.py test    # 代码检查（ruff、分层约定）后运行全部测试（含浏览器测试）

Only the standard library is used here, so it runs on a fresh Python 3.11.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def _run(cmd: list[str], **kw) -> int:
    print("+ " + " ".join(cmd), flush=True)
    return subprocess.call(cmd, **kw)


def ensure_venv(extras: str) -> None:
    """Create the venv and install the project; skipped when pyproject.toml is unchanged."""
    spec = (ROOT / "pyproject.toml").read_bytes() + extras.encode()
    stamp_key = hashlib.sha256(spec).hexdigest()[:16]
    stamp = VENV / f".installed-{stamp_key}"
    if stamp.exists():
        return
    if not (BIN / "python").exists():
        print("创建虚拟环境 .venv …", flush=True)
        if _run([sys.executable, "-m", "venv", str(VENV)]) != 0:
            sys.exit("错误：无法创建虚拟环境（Debian 上请先 apt-get install python3-venv）")
    print("安装依赖（首次约 1–2 分钟）…", flush=True)
    spec = f".[{extras}]" if extras else "."
    rc = _run(
        [
            str(BIN / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "-e",
            spec,
        ],
        cwd=ROOT,
    )
    if rc != 0:
        sys.exit("错误：依赖安装失败，请检查网络或软件源设置")
    rc = _run(
        [
            str(BIN / "python"),
            "-m",
            "ipykernel",
            "install",
            "--sys-prefix",
            "--name",
            "python3",
            "--display-name",
            "Python 3 (workbench)",
        ]
    )
    if rc != 0:
        sys.exit("错误：Jupyter 内核注册失败")
    stamp.touch()


# Debian packages the project uses, each with a file that shows it is installed: chromium (PDF
# of the HTML reports, browser tests), LibreOffice Writer (PDF of the official documents),
# poppler (PDF → PNG pages in the document tests) and the free CJK fonts both render with.
DEBIAN_PACKAGES = (
    ("/usr/bin/chromium", "chromium"),
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", "fonts-noto-cjk"),
    ("/usr/bin/soffice", "libreoffice-writer-nogui"),
    ("/usr/share/fonts/truetype/arphic/ukai.ttc", "fonts-arphic-ukai"),
    ("/usr/bin/pdftoppm", "poppler-utils"),
)


def ensure_chromium() -> None:
    """Install the Debian packages above that are missing, when we are allowed to (root)."""
    missing = [pkg for path, pkg in DEBIAN_PACKAGES if not Path(path).exists()]
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print(
            "提示：缺少 " + "、".join(missing) + "，相关 PDF 导出与测试将跳过"
            "（以 root 运行或 apt-get install " + " ".join(missing) + "）"
        )
        return
    print("安装 Debian 软件包：" + " ".join(missing) + " …", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    _run(["apt-get", "update", "-qq"], env=env)
    if _run(["apt-get", "install", "-y", "-qq", *missing], env=env):
        print("提示：部分软件包安装失败，相关 PDF 导出与测试将跳过")


def ensure_java() -> None:
    """Screening's Spark engine (and its tests) need Java; Debian's default-jre-headless."""
    if shutil.which("java"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print(
            "提示：未找到 Java，Spark 引擎测试将跳过"
            "（以 root 运行或 apt-get install default-jre-headless）"
        )
        return
    print("安装 Debian default-jre-headless（疑点筛查的 Spark 引擎需要）…", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    _run(["apt-get", "update", "-qq"], env=env)
    if _run(["apt-get", "install", "-y", "-qq", "default-jre-headless"], env=env) != 0:
        print("提示：Java 安装失败，Spark 引擎测试将跳过")


# The guard rails run before the tests: lint, formatting, and the import-layer contract
# (.importlinter; the layers are described in docs/architecture.md).
GUARDS = (
    (["ruff", "check", "."], "代码检查（ruff check，修正：.venv/bin/ruff check --fix .）"),
    (
        ["ruff", "format", "--check", "."],
        "代码格式（ruff format --check，修正：.venv/bin/ruff format .）",
    ),
    (
        ["lint-imports", "--no-cache"],
        "模块分层约定（lint-imports，见 .importlinter 与 docs/architecture.md）",
    ),
)


def guard_rails() -> int:
    """Run every guard (all of them, so one run shows every problem); 0 when all pass."""
    failed = [label for cmd, label in GUARDS if _run([str(BIN / cmd[0]), *cmd[1:]], cwd=ROOT)]
    if failed:
        print(f"错误：未通过 {'、'.join(failed)}；测试未运行。", file=sys.stderr, flush=True)
        return 1
    return 0


def main(argv: list[str]) -> int:
    what = argv[0] if argv else "demo"
    if what == "demo":
        ensure_venv("")
        ensure_chromium()
        return _run([str(BIN / "workbench"), "demo-all", *argv[1:]], cwd=ROOT)
    if what == "setup":  # install only: what `demo` installs, without running the demo
        ensure_venv("")
        ensure_chromium()
        return 0
    if what == "test":
        ensure_venv("test")
        ensure_chromium()
        ensure_java()
        require = os.environ.get("WORKBENCH_REQUIRE_BROWSER", "1")
        env = dict(os.environ, WORKBENCH_REQUIRE_BROWSER=require)
        if guard_rails() != 0:
            return 1
        return _run([str(BIN / "python"), "-m", "pytest", *argv[1:]], cwd=ROOT, env=env)
    if what == "bench":
        ensure_venv("test")
        ensure_java()
        return _run([str(BIN / "python"), "-m", "benchmarks", *argv[1:]], cwd=ROOT)
    sys.exit(f"未知命令：{what}（可用：demo、setup、test、bench）")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
