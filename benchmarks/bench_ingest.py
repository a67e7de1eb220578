"""Engine ingest: normalize + counters + states + DuckDB write, in samples per second on one core.

Target (issue 2): at least 200,000 tag samples/s. Run: python benchmarks/bench_ingest.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import plant_config

from oee_tui.engine.live.engine import Engine
from oee_tui.model import Quality, TagSample
from oee_tui.store import Store

MACHINES = 200
POLLS = 1_000  # each poll: 5 tags per machine -> 1M samples


def make_batches(start: float) -> list[list[TagSample]]:
    """Realistic traffic: counters advance while running and hold while stopped (a counter that
    fell back would be a reset or a jump, not production), state changes now and then, speed jitters."""
    batches = []
    counts = [1000] * MACHINES
    for poll in range(POLLS):
        ts = start + poll
        batch = []
        for m in range(MACHINES):
            base = m * 10
            running = (poll // 50 + m) % 7 != 0
            if running:
                counts[m] += 2
            batch.append(TagSample(ts, "plc", f"hr:{base}", counts[m], Quality.GOOD))
            batch.append(TagSample(ts, "plc", f"hr:{base + 2}", poll // 40, Quality.GOOD))
            batch.append(TagSample(ts, "plc", f"hr:{base + 3}", 1 if running else 3, Quality.GOOD))
            batch.append(TagSample(ts, "plc", f"hr:{base + 4}", 120.0 + (poll % 3), Quality.GOOD))
            batch.append(TagSample(ts, "plc", f"co:{m}", not running, Quality.GOOD))
        batches.append(batch)
    return batches


async def main() -> None:
    config = plant_config(MACHINES)
    start = time.time() - POLLS
    batches = make_batches(start)
    samples = sum(len(b) for b in batches)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp))
        clock_now = [start]
        engine = Engine(config, store, clock=lambda: clock_now[0])
        t0 = time.process_time()
        w0 = time.perf_counter()
        for i, batch in enumerate(batches):
            clock_now[0] = start + i
            engine.ingest(batch)
            if i % 100 == 99:  # flush every 100 polls, as the engine's flush loop would
                await engine.flush()
        await engine.flush()
        cpu = time.process_time() - t0
        wall = time.perf_counter() - w0
        stored = engine.stats.samples_stored
        await engine.stop()
    print(f"ingest: {samples:,} samples from {MACHINES} machines in {wall:.2f} s wall, {cpu:.2f} s CPU")
    print(f"ingest: {samples / wall:,.0f} samples/s (target >= 200,000); raw rows kept on change: {stored:,}")


if __name__ == "__main__":
    asyncio.run(main())
