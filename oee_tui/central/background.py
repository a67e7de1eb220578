"""The engine's background sync: a round every `[central] interval_s`, in a thread of its own, on its own
PostgreSQL connection and its own DuckDB cursors, so ingest never waits for the network.

An observer of the engine (engine/live/observers.py): the engine starts it after its own start and stops
it before the store closes. A failed round is retried with backoff (interval x 2^failures, at most
MAX_BACKOFF_S); the error stays in `health()` and in the store (`oee sync --status`) until a round succeeds.
Its only writes to the store are its watermarks and outcome: small transactions of their own, which wait
for the store's write gate like any flush and hold it for a millisecond.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Final

from oee_tui.central.connection import connect, where
from oee_tui.central.migrations import Connection, migrate
from oee_tui.central.sync import CentralSync, SyncReport, describe_failure
from oee_tui.central.sync_status import health_of
from oee_tui.config import CentralSettings, Config
from oee_tui.engine.live.observers import EngineContext
from oee_tui.model import SyncHealth, TagSample
from oee_tui.store import Store

log = logging.getLogger(__name__)

MAX_BACKOFF_S: Final = 300.0
MIN_RETRY_S: Final = 1.0


class BackgroundSync:
    """Implements EngineObserver."""

    def __init__(self, config: Config, settings: CentralSettings, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.settings = settings
        self.clock = clock
        self._store: Store | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._health = SyncHealth(target=where(settings))
        self.rounds = 0  # rounds that succeeded, for tests and the benchmark
        self.last_report: SyncReport | None = None
        self._round_done = threading.Condition()

    # ------------------------------------------------------------ EngineObserver

    def observe(self, batch: Sequence[TagSample]) -> None:
        return None

    async def start(self, engine: EngineContext) -> None:
        if engine.store is None:
            log.warning("[central] is set but the engine runs without a store: nothing to sync")
            return
        self._store = engine.store
        self._thread = threading.Thread(target=self._run, name="central-sync", daemon=True)
        self._thread.start()

    def reload(self, config: Config) -> None:
        self.config = config  # the machines it registers centrally; the connection settings stay till restart

    async def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            await asyncio.to_thread(thread.join, 30.0)

    # ------------------------------------------------------------ what others ask

    def health(self) -> SyncHealth:
        return self._health

    def wake(self) -> None:
        """Run a round now instead of at the end of the interval."""
        self._wake.set()

    def wait_for_round(self, after: int, timeout: float) -> bool:
        """Wait until more than `after` rounds succeeded; False on timeout."""
        with self._round_done:
            return self._round_done.wait_for(lambda: self.rounds > after, timeout)

    # ------------------------------------------------------------ the thread

    def _run(self) -> None:
        store = self._store
        assert store is not None
        con: Connection | None = None
        failures = 0
        migrated = False
        while not self._stop.is_set():
            try:
                if self.settings.auto_migrate and not migrated:
                    with connect(self.settings, autocommit=True) as admin:
                        migrate(admin, self.settings)
                    migrated = True
                if con is None or con.closed:
                    con = connect(self.settings)
                report = CentralSync(store, self.config, self.settings, self.clock).run(con)
                store.save_sync_outcome(self.clock(), None)
                failures = 0
                self.last_report = report
                with self._round_done:
                    self.rounds += 1
                    self._round_done.notify_all()
            except Exception as exc:  # any failure: said, kept, retried with backoff
                failures += 1
                message = describe_failure(exc)
                log.warning("central sync failed (attempt %d): %s", failures, message)
                with contextlib.suppress(Exception):
                    store.save_sync_outcome(self.clock(), message)
                if con is not None:
                    with contextlib.suppress(Exception):
                        con.close()
                    con = None
            self._refresh_health(store)
            interval = max(self.settings.interval_s, 0.2)
            wait = interval if failures == 0 else min(MAX_BACKOFF_S, max(MIN_RETRY_S, interval) * 2 ** (failures - 1))
            self._wake.wait(wait)
            self._wake.clear()
        if con is not None:
            with contextlib.suppress(Exception):
                con.close()

    def _refresh_health(self, store: Store) -> None:
        try:
            self._health = health_of(store, self.clock(), where(self.settings))
        except Exception as exc:  # the store is closing or failing: its own banner says so
            log.debug("sync health not read: %s", exc)
