"""The sandbox a workbook is parsed in: its death, its memory and its time are its own."""

from __future__ import annotations

import os
import time

import pytest

from workbench.sandbox import Sandbox, SandboxError


def _abort() -> None:
    os.abort()


def _allocate(n: int) -> int:
    return len(bytearray(n))


def _sleep(s: float) -> str:
    time.sleep(s)
    return "woke"


def _fail() -> None:
    raise ValueError("bad sheet")


def test_a_child_that_dies_is_reported_and_replaced() -> None:
    with Sandbox(memory_bytes=0, timeout_s=60) as box:
        with pytest.raises(SandboxError) as info:
            box.call(_abort)
        assert info.value.reason == "crashed"
        assert box.call(_allocate, 10) == 10  # a fresh child serves the next file


def test_the_child_cannot_take_more_memory_than_its_cap() -> None:
    with Sandbox(memory_bytes=512 << 20, timeout_s=60) as box:
        with pytest.raises((MemoryError, SandboxError)):
            box.call(_allocate, 2 << 30)
        assert box.call(_allocate, 1 << 20) == 1 << 20


def test_a_child_out_of_time_is_stopped() -> None:
    with Sandbox(memory_bytes=0, timeout_s=0.5) as box:
        start = time.monotonic()
        with pytest.raises(SandboxError) as info:
            box.call(_sleep, 30)
        assert info.value.reason == "timeout" and time.monotonic() - start < 10
        box.timeout_s = 30
        assert box.call(_sleep, 0) == "woke"


def test_the_childs_own_errors_come_back_as_they_are() -> None:
    with Sandbox(memory_bytes=0, timeout_s=60) as box, pytest.raises(ValueError, match="bad"):
        box.call(_fail)
