"""When a counted delta's parts were made: the middle of the read that saw them and the one before,
capped after a gap, for the event and its minute bucket alike (issue 13, item 9)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from oee_tui.engine.live.engine import Engine
from oee_tui.engine.live.machine import COUNT_GAP_CAP_S
from oee_tui.model import CountBucket, CountEvent, Quality, TagSample
from tests.engine.test_fact_writer import StoreOnAFailingDisk
from tests.engine.test_machine import T0, machine, send
from tests.engine.test_report_windows import ROUND_THE_CLOCK, plant


def test_a_delta_is_timed_between_its_reads_and_its_minute_follows() -> None:
    m = machine(with_state=False)
    send(m, T0 + 59.0, total_count=10, reject_count=0)  # baselines
    send(m, T0 + 60.6, total_count=14)  # 4 parts made between :59.0 and :00.6
    assert m.take_count_events() == [(T0 + 59.8, None, 4, 0)]
    # The minute of their time, not the minute of the read.
    _, buckets = m.take_pending(T0 + 61)
    assert buckets == [CountBucket("M1", T0, None, 4, 0)]


def test_after_a_gap_the_parts_are_put_just_before_the_read_not_in_the_middle_of_the_gap() -> None:
    m = machine(with_state=False)
    send(m, T0 + 1.0, total_count=10, reject_count=0)
    send(m, T0 + 301.0, total_count=20)  # five minutes without a read: an outage
    assert m.take_count_events() == [(T0 + 301.0 - COUNT_GAP_CAP_S / 2, None, 10, 0)]


def test_the_cap_is_two_poll_intervals_of_the_counters_source() -> None:
    # A source read every 5 s: a delta 5 s after the read before is in the middle of them.
    config = plant([{"name": "Day", "start": "00:00", "end": "00:00"}], poll=5.0)
    engine = Engine(config, None, clock=lambda: T0)
    assert engine.machines["M"].count_gap_cap_s == 10.0
    engine.ingest([TagSample(T0 + 1.0, "plc", "hr:0", 100, Quality.GOOD)])
    engine.ingest([TagSample(T0 + 6.0, "plc", "hr:0", 120, Quality.GOOD)])
    assert engine.machines["M"].take_count_events() == [(T0 + 3.5, None, 20, 0)]


def test_a_failed_flush_keeps_the_events_for_the_next(tmp_path: Path) -> None:
    store = StoreOnAFailingDisk.open(tmp_path)
    try:
        async def run() -> None:
            now = [T0]
            engine = Engine(ROUND_THE_CLOCK, store, clock=lambda: now[0])
            for ts, value in ((T0 + 0.5, 100), (T0 + 1.5, 104), (T0 + 2.5, 108)):
                now[0] = ts
                engine.ingest([TagSample(ts, "plc", "hr:0", value, Quality.GOOD)])
                if ts > T0 + 1:
                    await engine.flush()  # the first, holding the event of :01.0, fails
            assert engine.stats.flush_errors == 1

        asyncio.run(run())
        assert store.count_events(T0, T0 + 60) == [CountEvent("M", T0 + 1.0, None, 4, 0),
                                                   CountEvent("M", T0 + 2.0, None, 4, 0)]
    finally:
        store.close()
