"""Exact report windows (issue 13, item 9): a window gets the parts made inside it, within one poll
interval of their time, wherever it starts or ends, and old counts without events keep their numbers.

A real engine and a real store: samples go in through Engine.ingest as a polled source hands them
over, out through Engine.flush, and the report reads them back. The PLC is the samples themselves
(a steady counter read once a second at a fixed phase), which is what a driver would emit.
"""

from __future__ import annotations

import asyncio
import math
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from oee_tui.config import Config
from oee_tui.drivers.registry import config_from_dict
from oee_tui.engine.analysis.report import build_report, resolve_window
from oee_tui.engine.live.engine import Engine
from oee_tui.model import (
    CountBucket,
    CountEvent,
    CountEventColumns,
    MachineState,
    Quality,
    Span,
    StateInterval,
    TagSample,
)
from oee_tui.store import Store

RATE = 4.0  # parts per second
POLL = 1.0  # seconds between reads
T0 = datetime(2026, 11, 24, 15, 50, tzinfo=UTC).timestamp()  # a whole minute


def plant(shifts: list[dict[str, object]], poll: float = POLL) -> Config:
    return config_from_dict({
        "site": {"name": "Windows", "timezone": "UTC", "stale_after_s": 3600},
        "lines": [{"id": "L1"}],
        "sources": [{"name": "plc", "kind": "modbus", "host": "127.0.0.1", "poll_interval_s": poll}],
        "machines": [{"id": "M", "line": "L1", "ideal_cycle_time_s": 0.25, "signals": {
            "total_count": {"source": "plc", "tag": "hr:0", "width": 32}}}],
        "shifts": shifts,
    })


ROUND_THE_CLOCK = plant([{"name": "Day", "start": "00:00", "end": "00:00"}])


def made(t: float) -> int:
    """The counter of a machine making RATE parts a second since T0."""
    return math.floor(RATE * (t - T0))


def run_machine(store: Store, config: Config, reads: list[float]) -> None:
    """The engine reads the counter at each of `reads` (device time), flushing as it goes."""

    async def run() -> None:
        now = [reads[0]]
        engine = Engine(config, store, clock=lambda: now[0])
        for index, ts in enumerate(reads):
            now[0] = ts
            engine.ingest([TagSample(ts, "plc", "hr:0", made(ts), Quality.GOOD)])
            if index % 50 == 49:
                await engine.flush()
        await engine.flush()

    asyncio.run(run())


def total_in(store: Store, config: Config, start: str, end: str, now: float) -> int:
    window, label = resolve_window(config, now, start=start, end=end)
    (machine,) = build_report(store, config, window, now, label).machines
    return machine.total_count


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store.open(tmp_path)
    yield store
    store.close()


def test_an_80_s_window_from_second_24_gets_the_parts_made_in_it(store: Store) -> None:
    # Reads at :xx.3 for five minutes: every read sees 4 parts made over the second before it.
    reads = [T0 + 0.3 + k * POLL for k in range(300)]
    run_machine(store, ROUND_THE_CLOCK, reads)
    start, end = T0 + 60 + 24, T0 + 60 + 24 + 80
    got = total_in(store, ROUND_THE_CLOCK, iso(start), iso(end), reads[-1])
    # 320 made; today's rule gave the minutes starting inside only (:25 to :26 -> 60 s, 240 parts + 1 poll).
    assert made(end) - made(start) == 320
    assert abs(got - 320) <= RATE * POLL


def test_from_mid_minute_gets_the_parts_made_after_it(store: Store) -> None:
    # The issue's `--from 15:54:53Z` over a slow machine: 23 parts made after it, to the end of the data.
    reads = [T0 + 0.5 + k * POLL for k in range(330)]
    run_machine(store, ROUND_THE_CLOCK, reads)
    start = datetime(2026, 11, 24, 15, 54, 53, tzinfo=UTC).timestamp()
    end = T0 + 330
    got = total_in(store, ROUND_THE_CLOCK, iso(start), iso(end), reads[-1])
    expected = made(reads[-1]) - made(start)
    assert abs(got - expected) <= RATE * POLL
    # The parts made before the window are not in it: the minute 15:54 is cut, not taken whole or dropped.
    before = total_in(store, ROUND_THE_CLOCK, iso(T0), iso(start), reads[-1])
    assert abs(before - (made(start) - made(reads[0]))) <= RATE * POLL


def test_a_shift_whose_last_poll_lands_after_its_end_keeps_the_parts_made_before_the_end(store: Store) -> None:
    # Reads every 2 s at :xx.2 (even seconds): the last read of Early's parts is 0.2 s after 16:00,
    # and sees the 8 parts made from 15:59:58.2, 7 of them before the end.
    config = plant([{"name": "Early", "start": "15:50", "end": "16:00"},
                    {"name": "Late", "start": "16:00", "end": "16:10"}])
    poll = 2.0
    reads = [T0 + 0.2 + k * poll for k in range(330)]
    run_machine(store, config, reads)
    now = reads[-1]
    early, early_label = resolve_window(config, now, shift="Early@2026-11-24")
    (machine,) = build_report(store, config, early, now, early_label).machines
    before_end = made(early.end) - made(reads[0])
    # Timed at the middle of its reads (15:59:59.2), the last delta is Early's: at most half a poll's
    # parts off. Today it went to Late, losing 7 of them.
    assert abs(machine.total_count - before_end) <= RATE * poll / 2


def test_counts_stored_without_events_keep_todays_numbers(store: Store) -> None:
    # Minutes written straight into count_minutes, as a store from before count events holds them.
    minute = T0 + 60
    store.upsert_intervals([StateInterval("M", T0, T0 + 600, MachineState.RUNNING)])
    store.write_counts([CountBucket("M", minute, None, 240, 0), CountBucket("M", minute + 60, None, 240, 0),
                        CountBucket("M", minute + 120, None, 240, 0)])
    now = T0 + 600
    # A window cutting both ends of minutes: only the minutes that start inside count, as before.
    assert total_in(store, ROUND_THE_CLOCK, iso(minute + 24), iso(minute + 104), now) == 240
    assert total_in(store, ROUND_THE_CLOCK, iso(minute - 30), iso(minute + 150), now) == 720
    assert total_in(store, ROUND_THE_CLOCK, iso(minute), iso(minute + 180), now) == 720


def test_any_window_gets_exactly_the_events_timed_inside_its_scheduled_time(store: Store) -> None:
    # Events every 7.3 s with their minutes, as the engine writes them, around two shifts with
    # unscheduled time between them (counts made in a break count): a report of any window, cut
    # anywhere, sums exactly the events in its scheduled part.
    config = plant([{"name": "Early", "start": "15:50", "end": "16:01"},
                    {"name": "Late", "start": "16:03", "end": "16:40"}])
    times = [T0 - 120 + 7.3 * k for k in range(500)]
    events = [CountEvent("M", ts, None, 1 + k % 3, k % 2) for k, ts in enumerate(times)]
    store.write_count_events(CountEventColumns.of(events))
    minutes: dict[float, list[int]] = {}
    for event in events:
        bucket = minutes.setdefault(event.ts - event.ts % 60, [0, 0])
        bucket[0] += event.total
        bucket[1] += event.reject
    store.write_counts([CountBucket("M", minute, None, total, reject) for minute, (total, reject) in minutes.items()])
    store.upsert_intervals([StateInterval("M", T0 - 120, T0 + 3600, MachineState.RUNNING)])
    scheduled = [(T0, T0 + 660), (T0 + 780, T0 + 3000)]
    rng = random.Random(9)
    windows = [(T0 + 84, T0 + 164), (T0 + 10.5, T0 + 50.25), (T0 + 600, T0 + 600.5), (T0 + 659.9, T0 + 781.1),
               *((a, a + rng.uniform(0.1, 1500)) for a in (T0 + rng.uniform(-100, 2900) for _ in range(25)))]
    for index, (start, end) in enumerate(windows):
        window = Span(start, end)
        # The split by product and order (JSON) joins every count with the schedule: the same sums.
        (machine,) = build_report(store, config, window, T0 + 3600, "w", attribution=index < 6).machines
        inside = [e for e in events
                  if start <= e.ts < end and any(a <= e.ts < b for a, b in scheduled)]
        assert (machine.total_count, machine.reject_count) == (
            sum(e.total for e in inside), sum(e.reject for e in inside)), (start - T0, end - T0)
