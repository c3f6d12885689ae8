"""Fixtures shared across test modules (the screening tests' demo extract and warehouse)."""

from tests.screening_support import city, extract, extract_dir, loaded, wh_copy  # noqa: F401
