"""Shared by the demo tests: a started demo plant, and a time zone in which its machines run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from oee_tui.demo.servers import DemoPlant, demo_config
from oee_tui.demo.simulation import BreakCalendar

SERVER_TIMEOUT_S = 30.0  # a guard, not the expectation: asyncua starts in ~2 s, slower on a busy CI machine


def zone_without_a_break_now() -> str:
    """A time zone in which no shift break starts in the next few minutes, so machines run."""
    now = time.time()
    breaks = [(b.start, b.end) for shift in demo_config().shifts for b in shift.breaks]
    for zone in ("Europe/Berlin", "UTC", "Asia/Tokyo", "America/New_York", "Asia/Kolkata"):
        calendar = BreakCalendar(breaks, zone)
        if not any(calendar(now + offset) for offset in range(0, 300, 30)):
            return zone
    raise AssertionError("every candidate zone is on a break")  # impossible: breaks fill 65 min a day


@pytest.fixture
async def plant() -> AsyncIterator[DemoPlant]:
    demo = DemoPlant(seed=7, timezone=zone_without_a_break_now())
    await asyncio.wait_for(demo.start(), SERVER_TIMEOUT_S)
    try:
        yield demo
    finally:
        await demo.stop()
