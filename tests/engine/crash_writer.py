"""The engine side of the crash-consistency test (test_crash_consistency.py): a real Engine on the
data dir given, flushing numbered batches as fast as it can, printing `confirmed N` only after the
flush of batch N returned, which is what "saved" means everywhere in oee-tui. Killed at random.

Batch N is SAMPLES counter samples whose values are N * SAMPLES + i, one dead letter of topic
`batch/N` and HISTORY replayed samples of tag `bN`: three tables, so that a batch half in the store
would show.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from oee_tui.engine.live.engine import Engine
from oee_tui.model import DeadLetter, Quality, TagSample
from oee_tui.store import Store
from tests.imports.test_import_oee import at, plant

SAMPLES = 2_000
HISTORY = 50


def first_batch(store: Store) -> int:
    [(top,)] = store.cursor().execute("SELECT max(value_num) FROM samples WHERE tag = 'hr:0'").fetchall()
    return 0 if top is None else int(top) // SAMPLES + 1


async def run(data_dir: Path) -> None:
    store = Store.open(data_dir)
    n = first_batch(store)
    clock = [at("06:00") + n * SAMPLES]
    engine = Engine(plant(with_plc=True), store, clock=lambda: clock[0], acquire=False)
    print("ready", flush=True)
    while True:
        base = n * SAMPLES
        for i in range(SAMPLES):
            clock[0] = at("06:00") + base + i
            engine.ingest([TagSample(clock[0], "plc", "hr:0", base + i, Quality.GOOD)])
        engine._writer.keep_dead_letter(DeadLetter(clock[0], "plc", f"batch/{n}", b"x", "test"))
        engine._writer.keep_history([TagSample(clock[0] + k * 1e-3, "edge", f"b{n}", k, Quality.GOOD)
                                     for k in range(HISTORY)])
        await engine.flush()
        if engine.stats.flush_errors:
            print(f"failed {engine.stats.last_flush_error}", flush=True)
            return
        print(f"confirmed {n}", flush=True)
        n += 1


if __name__ == "__main__":
    asyncio.run(run(Path(sys.argv[1])))
