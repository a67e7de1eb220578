"""How the fact writer tells the plant that its data does not reach the store: the figure every
screen shows (model.StoreHealth), a few log lines instead of a traceback every flush, and the
error the engine's stop raises when something was lost."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Final, NamedTuple

from oee_tui.model import StoreHealth

log = logging.getLogger("oee_tui.engine.live.fact_writer")

REPEAT_WARNING_S: Final = 60.0  # while writes keep failing, the log says so again this often
RETRY_MAX_S: Final = 30.0  # the flush loop's retries back off up to this


class UnsavedDataError(Exception):
    """The engine stopped with data its store never got (the final flush failed, or rows were
    dropped at the memory limit while the store could not be written). Says how much."""

    def __init__(self, health: StoreHealth) -> None:
        self.health = health
        super().__init__(str(self))

    def __str__(self) -> str:
        health = self.health
        where = f"the store in {health.path}" if health.path else "the store"
        said: list[str] = []
        if health.failing:
            since = time.strftime("%H:%M:%S", time.localtime(health.unsaved_since))
            said.append(f"{where} could not be written ({health.last_error}): {health.unsaved_text()} "
                        f"gathered since {since} are lost")
        if health.lost:
            said.append(f"{health.lost_text()} were dropped earlier at the memory limit ([store] max_unsaved_rows) "
                        "while the store could not be written")
        return "; ".join(said) or "nothing was lost"


class Unsaved(NamedTuple):
    """What waits for the store, as StoreHealth counts it."""

    unsaved_samples: int
    unsaved_intervals: int
    unsaved_count_minutes: int
    unsaved_parts: int
    unsaved_dead_letters: int


class WriteFailures:
    """The run of failed writes, if one is going on: since when, why, and when to say it again."""

    def __init__(self, clock: Callable[[], float], path: str | None, flush_interval_s: float) -> None:
        self.clock = clock
        self.health = StoreHealth(path=path)
        self._flush_interval_s = flush_interval_s
        self._last_saved = clock()
        self._failing_since: float | None = None
        self._failures = 0  # attempts that failed in the run going on
        self._said_at = 0.0
        self._retry_in = flush_interval_s
        self._next_retry = 0.0
        self._tracebacks: set[str] = set()

    @property
    def failing(self) -> bool:
        return self._failing_since is not None

    def retry_due(self, now: float) -> bool:
        """While writes fail, the flush loop's attempts back off (each one builds the whole backlog)."""
        return self._failing_since is None or now >= self._next_retry

    def failed(self, reason: str, exc: BaseException, waiting: Unsaved, now: float, *, expected: bool) -> None:
        """A write failed; `waiting` counts what is kept for the next one. `expected` failures (the disk)
        are said in one line; an unexpected one's traceback is logged once."""
        first = self._failing_since is None
        self._failures = 1 if first else self._failures + 1
        if first:
            self._failing_since = now
            self._retry_in = self._flush_interval_s
        else:
            self._retry_in = min(self._retry_in * 2, RETRY_MAX_S)
        self._next_retry = now + self._retry_in
        self.health = replace(self.health, **waiting._asdict(), unsaved_since=self._last_saved, last_error=reason)
        if not expected and reason not in self._tracebacks:
            self._tracebacks.add(reason)
            log.error("store write failed unexpectedly; keeping the data and retrying", exc_info=exc)
        if first:
            log.warning("store writes are failing (%s): keeping %s in memory and retrying", reason,
                        self.health.unsaved_text())
            self._said_at = now
        elif now - self._said_at >= REPEAT_WARNING_S:
            log.warning("store writes still failing since %s (%s), %d attempts: %s waiting",
                        _clock_time(self._failing_since), reason, self._failures, self.health.unsaved_text())
            self._said_at = now

    def waiting(self, waiting: Unsaved) -> None:
        """What waits now, between attempts."""
        if self._failing_since is not None:
            self.health = replace(self.health, **waiting._asdict())

    def saved(self, now: float, written: str) -> None:
        if self._failing_since is not None:
            log.warning("store writes work again after %.0f s and %d failed attempts: %s written",
                        now - self._failing_since, self._failures, written)
        self._failing_since = None
        self._last_saved = now
        self.health = replace(self.health, **Unsaved(0, 0, 0, 0, 0)._asdict(), unsaved_since=None, last_error=None)

    def counted(self, *, lost_samples: int = 0, lost_dead_letters: int = 0, set_aside: int = 0) -> None:
        health = self.health
        self.health = replace(health, lost_samples=health.lost_samples + lost_samples,
                              lost_dead_letters=health.lost_dead_letters + lost_dead_letters,
                              set_aside=health.set_aside + set_aside)


def _clock_time(ts: float | None) -> str:
    return "?" if ts is None else time.strftime("%H:%M:%S", time.localtime(ts))
