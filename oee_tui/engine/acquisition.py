"""One acquisition task per source: connect, read, reconnect with backoff and jitter.

Between a driver and the engine sits a bounded queue. When it is full the
driver waits (backpressure), so a slow engine slows polling rather than losing
samples; a subscription callback that cannot wait drops the batch and the drop
is counted in the source's health, never silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from oee_tui.config import SourceConfig, TagMapping
from oee_tui.drivers.base import Driver, make_driver
from oee_tui.engine.model import Quality, TagSample

log = logging.getLogger(__name__)

DriverFactory = Callable[[SourceConfig, Sequence[TagMapping]], Driver]


@dataclass(slots=True)
class SourceHealth:
    name: str
    connected: bool = False
    last_error: str | None = None
    connects: int = 0
    reconnects: int = 0
    errors: int = 0
    samples: int = 0
    dropped: int = 0
    last_sample: float | None = None
    next_retry_in_s: float | None = None


def backoff_delay(attempt: int, minimum: float, maximum: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter, bounded by [minimum, maximum]."""
    ceiling = min(maximum, minimum * (2 ** min(attempt, 30)))
    return max(minimum, rng.uniform(minimum, ceiling))


class SourceRunner:
    """Runs one source until cancelled; restarts its driver whenever it fails."""

    def __init__(self, source: SourceConfig, tags: Sequence[TagMapping],
                 factory: DriverFactory = make_driver, rng: random.Random | None = None) -> None:
        self.source = source
        self.tags = tags
        self.factory = factory
        self.queue: asyncio.Queue[list[TagSample]] = asyncio.Queue(maxsize=max(1, source.queue_size // 100))
        self.health = SourceHealth(source.name)
        self.rng = rng or random.Random()
        self._driver: Driver | None = None
        self._distinct_tags = sorted({mapping.tag for mapping in tags})

    async def emit(self, batch: Sequence[TagSample]) -> None:
        if not batch:
            return
        self.health.samples += len(batch)
        self.health.last_sample = time.time()
        await self.queue.put(list(batch))

    def emit_nowait(self, batch: Sequence[TagSample]) -> None:
        try:
            self.queue.put_nowait(list(batch))
            self.health.samples += len(batch)
        except asyncio.QueueFull:
            self.health.dropped += len(batch)

    async def run(self) -> None:
        attempt = 0
        while True:
            driver = self.factory(self.source, self.tags)
            self._driver = driver
            try:
                await asyncio.wait_for(driver.connect(), timeout=self.source.timeout_s)
                self.health.connected = True
                self.health.connects += 1
                if self.health.connects > 1:
                    self.health.reconnects += 1
                self.health.last_error = None
                self.health.next_retry_in_s = None
                attempt = 0
                await driver.run(self.emit)
                raise ConnectionError("driver stopped without an error")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure of a device must not kill acquisition
                self.health.errors += 1
                self.health.last_error = _describe(exc)
                log.warning("source %s: %s", self.source.name, self.health.last_error)
            finally:
                self.health.connected = False
                with contextlib.suppress(Exception):
                    await driver.close()
                self._driver = None
            await self._mark_offline()
            delay = backoff_delay(attempt, self.source.reconnect_min_s, self.source.reconnect_max_s, self.rng)
            self.health.next_retry_in_s = delay
            attempt += 1
            await asyncio.sleep(delay)

    async def _mark_offline(self) -> None:
        """Tell the engine every tag of this source is bad, so its machines go offline."""
        now = time.time()
        error = self.health.last_error or "disconnected"
        await self.queue.put([
            TagSample(now, self.source.name, tag, None, Quality.BAD, error) for tag in self._distinct_tags
        ])


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out connecting"
    text = str(exc) or type(exc).__name__
    return text if len(text) < 300 else text[:297] + "..."
