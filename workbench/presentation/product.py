"""The product's own name and colophon, for every face that names the workbench.

Kept apart from `words` (a set's words need the declarations) so the CLI's `--version` and the
template writer read it without loading the declarations.
"""

from __future__ import annotations

from workbench import __version__
from workbench.messages import t


def product_name() -> str:
    """The workbench's one Chinese name (templates' comments, colophons): readers never see
    the package's English code."""
    return t("product.name")


def colophon() -> str:
    """The product's name and version, the line every face ends with (the batch's reports and
    index, the cockpit and county page, `workbench --version`): written once here."""
    return t("product.colophon", name=product_name(), version=__version__)
