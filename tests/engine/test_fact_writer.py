"""What the engine's fact writer promises beyond one good flush: a failed flush loses nothing, and
an engine started again goes on with the shift that earlier runs stored.

The engine takes TagSamples through `ingest` with a clock the test moves (acquire=False), as its
drivers would deliver them, and writes a real DuckDB store.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from oee_tui.engine.live.engine import Engine
from oee_tui.model import CountBucket, MachineState, Quality, StateInterval, TagSample, TagValue
from oee_tui.store import FactBatch, FactsWritten, Store, StoreWriteError
from tests.imports.test_import_oee import at, plant

TAGS = {"total_count": "hr:0", "reject_count": "hr:2", "state_code": "hr:4", "product": "hr:5"}


class StoreOnAFailingDisk(Store):
    """A real store whose first flush fails as a full disk makes it fail (tests/engine/test_disk_full.py
    fills a real small file system; this one only needs the failure once, at a known flush)."""

    failures = 1

    def write_facts(self, batch: FactBatch, now: float) -> FactsWritten:
        if self.failures:
            self.failures -= 1
            raise StoreWriteError(self.data_dir, "no space left on the disk")
        return super().write_facts(batch, now)


class Feed:
    """Sends a machine's tag values to an engine at the times given, moving its clock."""

    def __init__(self, make_engine: Callable[[Callable[[], float]], Engine]) -> None:
        self.now = at("06:00")
        self.engine = make_engine(lambda: self.now)

    def send(self, hhmm: str, **values: TagValue) -> None:
        self.now = at(hhmm)
        self.engine.ingest([TagSample(self.now, "plc", TAGS[name], value, Quality.GOOD)
                            for name, value in values.items()])


def stored(store: Store) -> tuple[list[tuple[Any, ...]], list[StateInterval], list[CountBucket]]:
    """Everything a flush writes, in an order of its own."""
    # Not flush_seq: the central sync's number of the transaction that wrote a row differs with the flushes.
    samples = store.cursor().execute("SELECT ts, source, tag, value_num, value_text, quality FROM samples "
                                     "ORDER BY ts, source, tag").fetchall()
    return samples, store.intervals(at("05:00"), at("14:00")), store.counts(at("05:00"), at("14:00"))


async def run_shift(feed: Feed) -> None:
    """A run, a breakdown and a run again, flushed twice on the way."""
    feed.send("06:10", state_code=1, total_count=100, reject_count=0, product="A")
    feed.send("06:20", total_count=700, reject_count=5)
    feed.send("06:25", state_code=2)  # the interval of the run closes before the first flush
    await feed.engine.flush()
    feed.send("06:40", state_code=1)
    feed.send("06:50", total_count=1300, reject_count=9)
    feed.engine.tick()
    await feed.engine.flush()


async def test_a_failed_flush_keeps_everything_for_the_next_one(tmp_path: Path) -> None:
    failing = StoreOnAFailingDisk.open(tmp_path / "failing")
    sound = Store.open(tmp_path / "sound")
    on_failing_disk = Feed(lambda clock: Engine(plant(with_plc=True), failing, clock=clock, acquire=False))
    on_sound_disk = Feed(lambda clock: Engine(plant(with_plc=True), sound, clock=clock, acquire=False))
    try:
        for feed in (on_failing_disk, on_sound_disk):
            await run_shift(feed)
        stats = on_failing_disk.engine.stats
        assert (stats.flushes, stats.flush_errors, stats.last_flush_error) == (1, 1, "no space left on the disk")
        assert stored(failing) == stored(sound)
        samples, intervals, counts = stored(failing)
        # What the comparison covers: samples of both flushes, the closed run and the breakdown,
        # and the parts of both runs.
        assert len(samples) == 10 and stats.samples_stored == 10
        assert [interval.state for interval in intervals] == [
            MachineState.OFFLINE, MachineState.RUNNING, MachineState.DOWN, MachineState.RUNNING]
        assert sum(bucket.total for bucket in counts) == 1200
        assert on_failing_disk.engine.pending_samples.ts == []
    finally:
        await on_failing_disk.engine.stop()
        await on_sound_disk.engine.stop()


async def test_a_restarted_engine_goes_on_with_the_shift_so_far(tmp_path: Path) -> None:
    first = Feed(lambda clock: Engine(plant(with_plc=True), Store.open(tmp_path), clock=clock, acquire=False))
    await first.engine.start()
    try:
        await run_shift(first)
        first.now = at("06:55")  # the minute of the last count is over
        before = first.engine.tick().machines[0]
        stops_before = (await first.engine.machine_detail("M1")).stops
    finally:
        await first.engine.stop()

    second = Engine(plant(with_plc=True), Store.open(tmp_path), clock=lambda: at("07:00"), acquire=False)
    await second.start()
    try:
        after = second.tick().machines[0]
        assert (after.good_count, after.reject_count) == (before.good_count, before.reject_count) == (1191, 9)
        # The breakdown is still there to be given a reason, after the gap while no engine ran.
        [breakdown] = [stop for stop in stops_before if stop.state is MachineState.DOWN]
        assert breakdown in (await second.machine_detail("M1")).stops
        await second.set_stop_reason("M1", breakdown.start, "FAIL.MECH", "operator")
    finally:
        await second.stop()
