"""A row the store cannot take (issue 13, item 2) must not block the flushes after it, and a flush
that is tried again must not write anything twice.

The unstorable row is put where the engine's counter logic would put it: a count of 2^64 - 6
parts (a 64-bit counter read as going negative), in the machine's pending counts. The store is a
real DuckDB.
"""

from __future__ import annotations

from pathlib import Path

from oee_tui.engine.live.engine import Engine
from oee_tui.model import Quality, TagSample
from oee_tui.store import Store
from tests.imports.test_import_oee import at, plant

HUGE = 2**64 - 6  # what a 64-bit counter going from 5 to -1 looks like as a reset


def samples_by_tag(store: Store) -> dict[str, int]:
    rows = store.cursor().execute("SELECT tag, count(*) FROM samples GROUP BY tag").fetchall()
    return {tag: int(n) for tag, n in rows}


async def test_an_unstorable_count_is_set_aside_and_never_blocks_or_doubles_the_rest(tmp_path: Path) -> None:
    now = at("06:00")
    store = Store.open(tmp_path)
    engine = Engine(plant(with_plc=True), store, clock=lambda: now, acquire=False)
    try:
        now = at("06:10")
        engine.ingest([TagSample(now, "plc", "hr:4", 1, Quality.GOOD),
                       TagSample(now, "plc", "hr:0", 100, Quality.GOOD)])
        engine.machines["M1"].pending_counts[(at("06:10"), "")] = [HUGE, 0]
        await engine.flush()
        now = at("06:11")
        engine.ingest([TagSample(now, "plc", "hr:0", 160, Quality.GOOD)])
        await engine.flush()
        now = at("06:12")
        engine.ingest([TagSample(now, "plc", "hr:0", 220, Quality.GOOD)])
        await engine.flush()

        # Every sample once, although the poison row came with the first flush.
        assert samples_by_tag(store) == {"hr:4": 1, "hr:0": 3}
        assert engine.stats.flush_errors == 0 and engine.pending_samples.ts == []
        # The parts that could be stored are; the poison row is a dead letter with its reason.
        counts = store.counts(at("06:00"), at("07:00"))
        assert sum(bucket.total for bucket in counts) == 120
        [letter] = store.dead_letters()
        assert letter.topic == "store:count_minutes" and letter.source == "M1"
        assert "total" in letter.error and str(HUGE) in letter.payload.decode()
        assert engine.store_health.set_aside == 1 and not engine.store_health.failing
    finally:
        await engine.stop()
