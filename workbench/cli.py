"""The `workbench` command. Subcommands live in `workbench/commands/<name>.py`, each with
`register(subparsers)`; adding a module adds a subcommand, so areas never edit this file."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from pathlib import Path

from workbench import commands
from workbench.errors import describe
from workbench.messages import t
from workbench.presentation.product import colophon


# argparse's own words go through gettext (`argparse._`); these are the ones a user can meet.
_ARGPARSE = {
    "usage: ": "cli.argparse.usage",
    "options": "cli.argparse.options",
    "positional arguments": "cli.argparse.positional",
    "show this help message and exit": "cli.argparse.help",
    "%(prog)s: error: %(message)s\n": "cli.argparse.error",
    "the following arguments are required: %s": "cli.argparse.required",
    "unrecognized arguments: %s": "cli.argparse.unrecognized",
    "invalid choice: %(value)r (choose from %(choices)s)": "cli.argparse.invalid_choice",
    "expected one argument": "cli.argparse.expected_one",
    "expected at least one argument": "cli.argparse.expected_at_least_one",
    "expected at most one argument": "cli.argparse.expected_at_most_one",
    "argument %(argument_name)s: %(message)s": "cli.argparse.argument",
    "invalid %(type)s value: %(value)r": "cli.argparse.invalid_value",
    "ambiguous option: %(option)s could match %(matches)s": "cli.argparse.ambiguous",
    "not allowed with argument %s": "cli.argparse.not_allowed",
    "one of the arguments %s is required": "cli.argparse.one_required",
    "ignored explicit argument %r": "cli.argparse.ignored_explicit",
    "can't open '%(filename)s': %(error)s": "cli.argparse.cannot_open",
}


def _argparse_text(message: str) -> str:
    """argparse's message in Chinese (its %-placeholders kept); anything else unchanged."""
    key = _ARGPARSE.get(message)
    return t(key) if key else message


def _argparse_plural(singular: str, plural: str, n: int) -> str:
    if singular == "expected %s argument":
        return t("cli.argparse.expected_n")
    return singular if n == 1 else plural


argparse._ = _argparse_text  # type: ignore[attr-defined]
argparse.ngettext = _argparse_plural  # type: ignore[attr-defined]


class _LogFormatter(logging.Formatter):
    """`警告：…` — the level in Chinese; the logger's name only with -v (for developers)."""

    def __init__(self, verbose: bool) -> None:
        super().__init__(
            "%(levelname)s %(name)s：%(message)s" if verbose else "%(levelname)s：%(message)s"
        )

    def format(self, record: logging.LogRecord) -> str:
        record = logging.makeLogRecord(record.__dict__)
        record.levelname = t(f"cli.log.{record.levelname}")
        return super().format(record)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Option values named in Chinese (`cli.metavar.<dest>`) instead of the upper-cased
    English `dest`, unless the option names its own."""

    def _get_default_metavar_for_optional(self, action: argparse.Action) -> str:
        return _metavar(action.dest)

    def _get_default_metavar_for_positional(self, action: argparse.Action) -> str:
        return _metavar(action.dest)


def _metavar(dest: str) -> str:
    key = f"cli.metavar.{dest}"
    text = t(key)
    return dest.upper() if text == key else text


class _Parser(argparse.ArgumentParser):
    """Every subcommand's parser: the Chinese formatter (descriptions kept as written) unless
    it asks for another."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        if kwargs.get("formatter_class") in (
            None,
            argparse.HelpFormatter,
            argparse.RawDescriptionHelpFormatter,
        ):
            kwargs["formatter_class"] = _Formatter
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="workbench", description=t("cli.description"))
    parser.add_argument(
        "--version",
        action="version",
        version=colophon(),
        help=t("cli.argparse.version"),
    )
    parser.add_argument("-v", "--verbose", action="store_true", help=t("cli.verbose"))
    # A subcommand that runs others (demo-all) is handed the dispatcher instead of importing
    # this module, which imports every subcommand (no import cycle).
    parser.set_defaults(run_cli=main)
    sub = parser.add_subparsers(
        dest="command", metavar="<子命令>", title=t("cli.subcommands"), parser_class=_Parser
    )
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help (0) or a usage error (2), already printed
        return int(done.code or 0)
    handler = logging.StreamHandler()
    handler.setFormatter(_LogFormatter(args.verbose))
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, handlers=[handler]
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(t("cli.interrupted"), file=sys.stderr)
        return 130
    except BrokenPipeError:  # `workbench status | head`: the reader left, end quietly
        _quiet_stdout()
        return 0
    except Exception as exc:  # a path, file or setting the user gave: say so in Chinese
        message = describe(exc)
        if message is None:
            if args.verbose:
                raise  # a developer asked for the traceback
            print(t("cli.bug", path=_record_bug(exc)), file=sys.stderr)
            return 3
        logging.getLogger("workbench").debug("input error", exc_info=True)
        print(t("cli.error", message=message), file=sys.stderr)
        return 2


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush raises nothing more."""
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _record_bug(exc: BaseException) -> str:
    """The traceback, masked, in a private file for the operator; its path (or a note)."""
    import os
    import tempfile
    import time
    import traceback

    from workbench.presentation.cache import private_dir
    from workbench.privacy import mask_text

    text = mask_text("".join(traceback.format_exception(exc)))
    folder = private_dir(Path(tempfile.gettempdir()) / f"workbench-errors-{os.getuid()}")
    if folder is None:
        return t("cli.bug_unrecorded")
    path = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError:
        return t("cli.bug_unrecorded")
    return str(path)


if __name__ == "__main__":
    sys.exit(main())
