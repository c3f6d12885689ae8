"""Fixtures shared across test modules (the screening tests' demo extract and warehouse).

Messages are strict under test: a catalogue text whose placeholder a caller did not fill (the
raw `{noun}` a user would otherwise see) raises instead of being shown as is."""

import os

os.environ.setdefault("WORKBENCH_STRICT_MESSAGES", "1")

from tests.screening_support import city, extract, extract_dir, loaded, wh_copy  # noqa: E402, F401
