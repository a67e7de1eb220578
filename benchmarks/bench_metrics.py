"""The metrics endpoint on a 200-machine plant: how long a scrape takes, and how much of the engine's loop it
uses (the snapshot rebuilt at every scrape, the worst case: the engine ticks between scrapes).

Run: python benchmarks/bench_metrics.py   (BENCH_MACHINES, BENCH_ROUNDS change the size and the scrapes)
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import plant_config

from oee_tui.config import MetricsAddress, ServiceSettings
from oee_tui.engine.live.engine import Engine
from oee_tui.model import Quality, TagSample
from oee_tui.service.metrics import start_metrics
from oee_tui.store import Store

MACHINES = int(os.environ.get("BENCH_MACHINES", "200"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "50"))


def one_poll(ts: float, poll: int) -> list[TagSample]:
    batch = []
    for m in range(MACHINES):
        base = m * 10
        running = m % 7 != 0
        batch.append(TagSample(ts, "plc", f"hr:{base}", 1000 + poll * (2 if running else 0), Quality.GOOD))
        batch.append(TagSample(ts, "plc", f"hr:{base + 3}", 1 if running else 3, Quality.GOOD))
    return batch


def fetch(url: str) -> int:
    with urllib.request.urlopen(url, timeout=30) as response:
        return len(response.read())


async def loop_lag(lags: list[float]) -> None:
    """How late a 5 ms sleep wakes on the engine's loop: what a scrape holds the loop for, and ticks too."""
    while True:
        asked = time.perf_counter()
        await asyncio.sleep(0.005)
        lags.append(time.perf_counter() - asked - 0.005)


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(plant_config(MACHINES), Store.open(Path(tmp)), acquire=False, tick_s=0.05)
        await engine.start()
        start = time.time() - 30  # a poll a second over the last 30 s: counts a machine can have made
        for poll in range(30):
            engine.ingest(one_poll(start + poll, poll))
        endpoint = start_metrics(engine, ServiceSettings(metrics_listen=MetricsAddress("127.0.0.1", 0)))
        assert endpoint is not None
        size = await asyncio.to_thread(fetch, endpoint.url)
        quiet: list[float] = []  # the same time without scrapes: what ticks and flushes hold the loop for
        probe = asyncio.create_task(loop_lag(quiet))
        await asyncio.sleep(ROUNDS * 0.1)
        probe.cancel()
        lags: list[float] = []
        probe = asyncio.create_task(loop_lag(lags))
        latencies, cpu = [], []
        for _ in range(ROUNDS):
            await asyncio.sleep(0.06)  # a tick in between: the scrape rebuilds the snapshot
            wall, busy = time.perf_counter(), time.process_time()
            await asyncio.to_thread(fetch, endpoint.url)
            latencies.append(time.perf_counter() - wall)
            cpu.append(time.process_time() - busy)
        probe.cancel()
        await asyncio.to_thread(endpoint.close)
        await engine.stop()
    latencies.sort()
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    print(f"{MACHINES} machines, {size:,} bytes a scrape, {ROUNDS} scrapes")
    print(f"scrape: median {statistics.median(latencies) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms; "
          f"process CPU per scrape {statistics.median(cpu) * 1000:.1f} ms "
          f"(every 15 s: {statistics.median(cpu) / 15 * 100:.2f} % of a core)")
    for label, late in (("scraped", lags), ("not scraped", quiet)):
        late.sort()
        print(f"{label}: the engine's loop late by median {statistics.median(late) * 1000:.1f} ms, "
              f"p99 {late[int(0.99 * (len(late) - 1))] * 1000:.1f} ms, worst {late[-1] * 1000:.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
