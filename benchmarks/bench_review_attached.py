"""The shift review screen's load, in the TUI that owns the store and through the engine's socket.

A TUI attached to an engine asks it for the review (`review_period`): the engine runs the same reads
on its store and sends the figures back as records. This times the screen's whole load (period_loading's
`load_period`, from a thread as the screen's worker runs it) both ways, over
bench_review.py's store (100 machines x 90 days; BENCH_MACHINES, BENCH_DAYS, BENCH_ROUNDS and
BENCH_STORE as there), for a shift, a week and the whole span, for the plant and one machine: best and
median of BENCH_ROUNDS runs, the two ways alternating so a busy machine slows both alike.
Run: python benchmarks/bench_review_attached.py
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_review import CONFIG, DAYS, FIRST_DAY, ROUNDS, START, open_filled

from oee_tui.engine.analysis.day_summaries import wait_for_saving
from oee_tui.engine.analysis.review import Level, Period, Scope, range_period, shift_period, week_period
from oee_tui.engine.live.engine import Engine
from oee_tui.model.access import Caller, Role
from oee_tui.screens.shift_review.period_loading import EngineReads, StoreReads, load_period
from oee_tui.service.remote_engine import RemoteEngine
from oee_tui.service.server import EngineServer


class Everyone:
    """[access] for the benchmark: whoever runs it is admin."""

    socket_group = None

    def role_of(self, caller: Caller) -> Role | None:
        return Role.ADMIN

    def people_of(self, account: str) -> Sequence[object]:
        return ()

    def check_pin(self, account: str, name: str, pin: str) -> Role | None:
        return None


def spread(times: list[float]) -> str:
    return f"best {min(times) * 1000:7.1f} ms, median {statistics.median(times) * 1000:7.1f} ms"


async def main() -> None:
    print(f"review attached: load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        store = open_filled(tmp)
        last_day = FIRST_DAY + timedelta(days=DAYS - 1)
        now = START + DAYS * 86400
        year, week, _ = (last_day - timedelta(days=7)).isocalendar()
        periods: dict[str, Period] = {"one shift": shift_period(CONFIG, "Early", last_day),
                                      "one ISO week": week_period(CONFIG, year, week),
                                      f"all {DAYS} days": range_period(CONFIG, FIRST_DAY, last_day)}
        # No acquisition, and no day summaries saved by the engine on its own while the figures are taken.
        engine = Engine(CONFIG, store, acquire=False, summary_delay_s=86400.0)
        server = EngineServer(engine, Everyone(), data_dir=store.data_dir, config_path=None)
        await server.start()
        attached = RemoteEngine(store.data_dir, CONFIG, origin="bench")
        await attached.start()
        try:
            for name, period in periods.items():
                for scope in (Scope(), Scope(Level.MACHINE, "M000")):
                    # The first look saves the days a week or a range sums; both ways find them saved after.
                    load_period(StoreReads(store), CONFIG, period, scope, now, lambda: False)
                    wait_for_saving(store)
                    here: list[float] = []
                    there: list[float] = []
                    for _ in range(ROUNDS):
                        t0 = time.perf_counter()
                        load_period(StoreReads(store), CONFIG, period, scope, now, lambda: False)
                        here.append(time.perf_counter() - t0)
                        t0 = time.perf_counter()
                        # As the screen's thread worker does it: a thread that waits, the loop that talks.
                        await asyncio.to_thread(load_period, EngineReads(attached), CONFIG, period, scope, now,
                                                lambda: False)
                        there.append(time.perf_counter() - t0)
                    print(f"review attached: {name}, {scope.level.value}: owning the store {spread(here)}; "
                          f"through the engine {spread(there)}")
        finally:
            await attached.stop()
            await server.close()
            store.close()


if __name__ == "__main__":
    asyncio.run(main())
