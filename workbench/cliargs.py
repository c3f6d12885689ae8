"""Argument types for the subcommands: a wrong number is refused by argparse with a Chinese
message naming the option (`workbench run：错误：参数 --jobs：…`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from workbench.messages import t


def whole(minimum: int = 0, maximum: int | None = None) -> Callable[[str], int]:
    """A whole number within [minimum, maximum]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(t("cli.arg.not_whole", value=text)) from None
        if maximum is None and value < minimum:
            raise argparse.ArgumentTypeError(t("cli.arg.at_least", value=value, minimum=minimum))
        if maximum is not None and not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(
                t("cli.arg.range", value=value, minimum=minimum, maximum=maximum)
            )
        return value

    return parse


def seconds(text: str) -> float:
    """A positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(t("cli.arg.not_number", value=text)) from None
    if not value > 0:
        raise argparse.ArgumentTypeError(t("cli.arg.positive", value=text))
    return value


def month(text: str) -> str:
    """A month written YYYY-MM."""
    from workbench.fmt import is_month

    if not is_month(text.strip()):
        raise argparse.ArgumentTypeError(t("cli.arg.not_month", value=text))
    return text.strip()


def month_or_latest(text: str) -> str:
    """A month written YYYY-MM, or `latest`."""
    return "latest" if text.strip().lower() == "latest" else month(text)


def period_or_latest(text: str) -> str:
    """A period as its set's frequency writes it (2025-09, 2023财年, FY2023, 2025Q3), or
    `latest`; checked against the set once it is loaded (`results.parse_period`)."""
    s = text.strip()
    if not s:
        raise argparse.ArgumentTypeError(t("cli.arg.not_month", value=text))
    return "latest" if s.lower() == "latest" else s


def received_on(text: str) -> object:
    """A receipt date written YYYY-MM-DD or YYYY-MM-DDTHH:MM (`freshness.parse_received`);
    whether it is in the future or before a file's period is checked by the ingest."""
    from workbench.freshness import ReceivedDateError, parse_received

    try:
        return parse_received(text)
    except ReceivedDateError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
