"""Saving day summaries in the background while the engine runs, so that reviewing weeks and
months finds them saved (oee_tui.engine.analysis.day_summaries says what a summary is)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from oee_tui.config import Config
from oee_tui.store import Store

log = logging.getLogger(__name__)


class DaySummarySaver:
    def __init__(self, store: Store, current_config: Callable[[], Config], clock: Callable[[], float], delay_s: float,
                 every_s: float) -> None:
        """`delay_s` after run() starts, and every `every_s` after that or when asked for, the days of the
        last SUMMARY_DAYS that are missing are saved; `current_config` gives the plant as it is then."""
        self.store = store
        self.current_config = current_config
        self.clock = clock
        self.delay_s = delay_s
        self.every_s = every_s
        self._wanted = asyncio.Event()

    def ask(self) -> None:
        """Save again soon: an import deleted the saved days."""
        self._wanted.set()

    async def run(self) -> None:
        # Off the writer thread (flushes must not wait) and one day at a time, so that a first
        # pass over a quarter of a big plant never holds the loop or the store for long. Imported
        # here: the analysis code behind it adds some 20 ms to the start of every engine and TUI.
        from oee_tui.engine.analysis.day_summaries import SUMMARY_DAYS, save_days, settled_days

        store = self.store
        await asyncio.sleep(self.delay_s)
        while True:
            self._wanted.clear()  # an import from now on asks for another pass
            try:
                saved = 0
                bounds = await asyncio.to_thread(store.bounds)
                if bounds is not None:
                    # Days before the first interval or count hold nothing worth summing ahead of time.
                    days = [day for day in settled_days(self.current_config(), self.clock(), SUMMARY_DAYS)
                            if day.end > bounds[0]]
                    for day in days:  # each with the plant as it is by then
                        saved += await asyncio.to_thread(save_days, store, self.current_config(), [day], self.clock())
                if saved:
                    log.info("day summaries: %d machine days saved", saved)
            except Exception:  # the review computes what is missing itself; the plant runs on
                log.exception("saving day summaries failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wanted.wait(), self.every_s)
