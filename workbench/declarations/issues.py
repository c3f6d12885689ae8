"""Issues: one problem in a declaration file, where it is and what to do about it.

Every check reports through `Issues` instead of raising, so a user sees every problem of a file
in one pass. Tests assert on (code, file, line), never on wording; the wording (Chinese) comes
from the message catalogue (`ind.<CODE>` and `ind.fix.<CODE>`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from workbench.messages import catalogue, t

At = tuple[str, int | None]  # (file, line)


@dataclass(frozen=True)
class Issue:
    """One problem in a declaration file; tests assert on (code, file, line), never wording."""

    level: str  # "error" | "warning"
    code: str
    message: str
    file: str
    line: int | None
    fix: str = ""
    path: str = ""

    def __str__(self) -> str:
        where = (
            t("ind.where", file=self.file, line=self.line)
            if self.line
            else t("ind.where_file", file=self.file)
        )
        head = t("ind.level." + self.level)
        text = f"[{head}] {self.code} {where}：{self.message}"
        return text + (f"（{t('ind.fix_prefix')}{self.fix}）" if self.fix else "")


class DeclarationError(Exception):
    """Raised when declarations have errors; `.issues` holds every one found."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = list(issues)
        errors = [i for i in self.issues if i.level == "error"]
        super().__init__(
            t("ind.declaration_errors", n=len(errors)) + "\n" + "\n".join(str(i) for i in errors)
        )


def _fill(key: str, values: Mapping[str, object]) -> str:
    """Format a catalogue message (values may include a placeholder called `key`)."""
    template = catalogue().get(key)
    if template is None:
        return ""
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return template


def make_issue(
    level: str, code: str, file: str, line: int | None, path: str = "", /, **values: object
) -> Issue:
    """An issue with its message and fix from the catalogue (the code itself if none)."""
    msg = _fill(f"ind.{code}", values) or code
    fix = _fill(f"ind.fix.{code}", values)
    return Issue(level, code, msg, file, line, fix, path)


class Issues:
    """The collector every pass reports to."""

    def __init__(self) -> None:
        self.items: list[Issue] = []

    def add(
        self,
        level: str,
        code: str,
        file: str,
        line: int | None,
        path: str = "",
        /,
        **values: object,
    ) -> None:
        self.items.append(make_issue(level, code, file, line, path, **values))

    def error(self, code: str, at: tuple[str, int | None], path: str = "", /, **v: object) -> None:
        self.add("error", code, at[0], at[1], path, **v)

    def warning(
        self, code: str, at: tuple[str, int | None], path: str = "", /, **v: object
    ) -> None:
        self.add("warning", code, at[0], at[1], path, **v)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.items if i.level == "error"]
