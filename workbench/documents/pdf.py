"""Word → PDF with LibreOffice headless (Debian `libreoffice-writer-nogui`), rendering the
bureau fonts the .docx names with free CJK fonts from Debian's packages: 仿宋_GB2312 and
方正小标宋简体 as Noto Serif CJK SC, 黑体 as Noto Sans CJK SC (`fonts-noto-cjk`), 楷体_GB2312 as
AR PL UKai (`fonts-arphic-ukai`) when installed. The substitution is a private fontconfig file
for the conversion only; the .docx keeps the names bureau PCs have."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from workbench.files import FILE_MODE
from workbench.messages import t

# family named in the .docx → the free families to use, best first
ALIASES: dict[str, tuple[str, ...]] = {
    "仿宋_GB2312": ("Noto Serif CJK SC",),
    "仿宋": ("Noto Serif CJK SC",),
    "FangSong": ("Noto Serif CJK SC",),
    "方正小标宋简体": ("Noto Serif CJK SC",),
    "方正小标宋_GBK": ("Noto Serif CJK SC",),
    "宋体": ("Noto Serif CJK SC",),
    "SimSun": ("Noto Serif CJK SC",),
    "黑体": ("Noto Sans CJK SC",),
    "SimHei": ("Noto Sans CJK SC",),
    "楷体_GB2312": ("AR PL UKai CN", "Noto Serif CJK SC"),
    "楷体": ("AR PL UKai CN", "Noto Serif CJK SC"),
    "KaiTi": ("AR PL UKai CN", "Noto Serif CJK SC"),
    "Times New Roman": ("Liberation Serif", "DejaVu Serif"),
}
# the title face (小标宋) is heavier than the body's 仿宋
BOLDER = ("方正小标宋简体", "方正小标宋_GBK")


class PdfUnavailable(RuntimeError):
    """No LibreOffice here; the message says how to install it."""


def soffice_path() -> str | None:
    for name in (os.environ.get("WORKBENCH_SOFFICE"), "soffice", "libreoffice"):
        if name and (found := shutil.which(name)):
            return found
    return None


def fonts_conf() -> str:
    """A fontconfig file: the system's configuration plus the aliases above."""
    rules = []
    for family, targets in ALIASES.items():
        prefer = "".join(f"<string>{f}</string>" for f in targets)
        weight = (
            '<edit name="weight" mode="assign"><const>bold</const></edit>'
            if family in BOLDER
            else ""
        )
        rules.append(
            f'<match target="pattern"><test name="family"><string>{family}</string></test>'
            f'<edit name="family" mode="prepend" binding="strong">{prefer}</edit>{weight}</match>'
        )
    return (
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        '<include ignore_missing="yes">/etc/fonts/fonts.conf</include>'
        + "".join(rules)
        + "</fontconfig>"
    )


# LibreOffice ends a line after the minus of `二季度末-15.5%` (二季度末- / 15.5%). A word joiner
# (U+2060, zero width) after a minus before a digit keeps the number whole in the PDF; the .docx
# the bureau edits keeps its plain text. (Word's own non-breaking hyphen, w:noBreakHyphen, made
# LibreOffice break inside the digits after it instead.)
_TEXT = re.compile(r"(<w:t(?:\s[^>]*)?>)([^<]*)(</w:t>)")
_MINUS = re.compile(r"-(?=[0-9])")
WORD_JOINER = "\u2060"


def glue_minus(document_xml: str) -> str:
    """`…末-15.5%…` → `…末-\u206015.5%…` in every w:t text of a document.xml."""
    return _TEXT.sub(
        lambda m: m.group(1) + _MINUS.sub("-" + WORD_JOINER, m.group(2)) + m.group(3),
        document_xml,
    )


# Two places where Chinese typesetting may end a line and LibreOffice does not, so the whole
# run went to the next line and the justified line above spread its room between its
# characters (pdftotext read `差 12.4 个 百 分 点 。`):
# - a Chinese character and a minus after it (the minus is a hyphen to LibreOffice, and no
#   line starts with one): `…二季度末-15.5%、` moved whole. A hair space (U+200A) lets the line
#   end before the minus; a zero-width space did not, LibreOffice ignored it there.
# - a closing mark and a digit: `…118条线索、21件…` kept 索、21 together. A zero-width space
#   (U+200B) is enough there.
HAIR_SPACE = "\u200a"
ZERO_WIDTH_SPACE = "\u200b"
_BREAKS = (
    (re.compile(r"(?<=[\u4e00-\u9fff、。，；：）”])-(?=[0-9])"), HAIR_SPACE + "-"),
    (re.compile(r"(?<=[、。，；：）”])(?=[0-9])"), ZERO_WIDTH_SPACE),
)


def add_breaks(document_xml: str) -> str:
    """`…末-15.5%…` → `…末\u200a-15.5%…` and `…线索、21件…` → `…线索、\u200b21件…` in every
    w:t text of a document.xml."""

    def text(t: str) -> str:
        for pattern, repl in _BREAKS:
            t = pattern.sub(repl, t)
        return t

    return _TEXT.sub(lambda m: m.group(1) + text(m.group(2)) + m.group(3), document_xml)


def _copy_glued(docx: Path, dst: Path) -> None:
    """The .docx with `add_breaks` and `glue_minus` applied to its body, headers and
    footers."""
    with zipfile.ZipFile(docx) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.startswith("word/") and item.filename.endswith(".xml"):
                text = add_breaks(data.decode("utf-8"))
                data = glue_minus(text).encode("utf-8")
            zout.writestr(item, data)


def docx_to_pdf(docx: Path, pdf: Path, timeout: float = 180) -> Path:
    """Convert with a private LibreOffice profile (parallel runs never share one), atomically."""
    exe = soffice_path()
    if exe is None:
        raise PdfUnavailable(t("doc.pdf.no_soffice"))
    pdf.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="wb-soffice-"))
    try:
        conf = work / "fonts.conf"
        conf.write_text(fonts_conf(), encoding="utf-8")
        src = work / "in.docx"
        _copy_glued(docx, src)
        env = dict(
            os.environ,
            FONTCONFIG_FILE=str(conf),
            HOME=str(work),
            SAL_USE_VCLPLUGIN="svp",
        )
        cmd = [
            exe,
            f"-env:UserInstallation={(work / 'profile').as_uri()}",
            "--headless",
            "--norestore",
            "--nologo",
            "--convert-to",
            "pdf:writer_pdf_Export",
            "--outdir",
            str(work),
            str(src),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(t("doc.pdf.failed", detail=str(exc))) from exc
        out = work / "in.pdf"
        if proc.returncode != 0 or not out.exists() or out.stat().st_size == 0:
            detail = (proc.stderr or proc.stdout).decode("utf-8", "replace")[-300:]
            raise RuntimeError(t("doc.pdf.failed", detail=detail))
        fd, tmp = tempfile.mkstemp(prefix=f".{pdf.name}.", suffix=".tmp", dir=pdf.parent)
        os.close(fd)
        shutil.copyfile(out, tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, pdf)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return pdf
