"""Waiting for something to happen, instead of sleeping for a guessed time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def until(predicate: Callable[[], bool], timeout: float = 15.0, what: str = "condition",
                step: float = 0.01) -> float:
    """Seconds until `predicate` holds, checked every `step`; fails the test after `timeout`."""
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, f"timed out after {timeout} s waiting for {what}"
        await asyncio.sleep(step)
    return time.monotonic() - started
