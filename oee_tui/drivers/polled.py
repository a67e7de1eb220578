"""What every polled driver shares (Modbus, S7, Logix): one read of every tag per tick, at a fixed rate.

A subclass connects, reads its device once in poll() and closes; this base runs the
schedule. It keeps the ticks on start + k * poll_interval_s: a poll that overruns skips
the ticks it missed instead of bursting to catch up, so a slow device is never asked
for several reads back to back and the engine never gets a flood of stale batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from abc import abstractmethod
from collections.abc import Sequence

from oee_tui.config import SourceConfig, TagMapping
from oee_tui.drivers.base import Driver, DriverError, EmitFn
from oee_tui.model import TagSample


class PolledDriver(Driver):
    """A driver that polls its device at the source's poll_interval_s until close()."""

    def __init__(self, source: SourceConfig, tags: Sequence[TagMapping]) -> None:
        super().__init__(source, tags)
        self._closed = False
        self._wake = asyncio.Event()  # set by close() or a lost link, to cut short a sleep or a request

    @property
    @abstractmethod
    def connected(self) -> bool:
        """Whether connect() has opened the link (and close() has not dropped it yet)."""

    @abstractmethod
    async def poll(self) -> list[TagSample]:
        """Read every tag once; one batch, one timestamp. Raises DriverError if the link is lost."""

    def closing(self) -> bool:
        """Whether close() was called, perhaps while a poll was waiting on the device."""
        return self._closed

    def check_link(self) -> None:
        """Raise DriverError if the link was lost while waiting for the next tick.

        For a driver its library tells of a loss between requests; the others learn of it
        from the next poll."""

    async def run(self, emit: EmitFn) -> None:
        if not self.connected:
            raise DriverError(f"{self.where}: run() before connect()")
        loop = asyncio.get_running_loop()
        interval = max(0.001, self.source.poll_interval_s)
        next_at = loop.time()
        while not self._closed:
            try:
                batch = await self.poll()
            except DriverError:
                if self.closing():
                    return
                raise
            if self.closing():
                return
            await emit(batch)
            # Fixed-rate schedule: ticks stay on start + k*interval; a poll that
            # overruns skips the ticks it missed instead of bursting to catch up.
            next_at += interval
            now = loop.time()
            if next_at <= now:
                next_at += math.ceil((now - next_at) / interval + 1e-9) * interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=next_at - now)
            self.check_link()
