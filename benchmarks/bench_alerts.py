"""Alert rules in the engine: 500 rules over 200 machines checked at 1 Hz, and how soon an alert is raised.

Targets (issue 17): the checks under 10% of one core; an alert raised within 2 s of its condition becoming
true. Run: python benchmarks/bench_alerts.py   (BENCH_SECONDS: how long the CPU part runs, default 30;
BENCH_ROUNDS: raises timed, default 10)

CPU: the engine ingests a poll of every tag (1,000 samples) each second and ticks, as `oee engine` does; the
time spent in `check_alerts` is measured with the process's CPU clock, once with the snapshot build it
forces (a headless engine builds no snapshot otherwise) and once for the rules alone. Latency: a running
engine (its own 1 s tick loop, and a real DuckDB store) gets an out-of-range value at a random moment of its
tick; the time until the alert is in its snapshot is taken, BENCH_ROUNDS times.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import plant_config

from oee_tui.config import AlertRule, AlertSettings, Config
from oee_tui.engine.live.engine import Engine
from oee_tui.model import AlertKind, Quality, TagSample
from oee_tui.store import Store

MACHINES = 200
SECONDS = int(os.environ.get("BENCH_SECONDS", "30"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "10"))


def rules(config: Config) -> tuple[AlertRule, ...]:
    """500 rules: per machine a speed range and a down rule (400), then 50 scrap-rate, 25 OEE-target and 20
    stop-without-reason rules on single machines, and five plant-wide ones."""
    made: list[AlertRule] = []
    for m in range(MACHINES):
        made.append(AlertRule(f"speed-{m}", AlertKind.VALUE_RANGE, source="plc", tag=f"hr:{m * 10 + 4}", low=10.0,
                              high=200.0))
        made.append(AlertRule(f"down-{m}", AlertKind.MACHINE_DOWN, machine=f"M{m:03d}", for_s=600.0))
    made += [AlertRule(f"scrap-{m}", AlertKind.SCRAP_RATE, machine=f"M{m:03d}") for m in range(50)]
    made += [AlertRule(f"oee-{m}", AlertKind.OEE_BELOW_TARGET, machine=f"M{m:03d}") for m in range(25)]
    made += [AlertRule(f"reason-{m}", AlertKind.STOP_WITHOUT_REASON, machine=f"M{m:03d}", for_s=300.0)
             for m in range(20)]
    made += [AlertRule("offline", AlertKind.SOURCE_OFFLINE), AlertRule("counters", AlertKind.COUNTER_EVENT),
             AlertRule("quality-0", AlertKind.QUALITY, source="plc", tag="hr:0"),
             AlertRule("down-any", AlertKind.MACHINE_DOWN, for_s=1800.0),
             AlertRule("scrap-any", AlertKind.SCRAP_RATE, max_scrap_pct=50.0)]
    assert len(made) == 500
    return tuple(made)


def poll(ts: float, second: int, counts: list[int]) -> list[TagSample]:
    """Every tag of every machine once; a stopped machine's speed is 0, below its rule's 10: raises and clears."""
    batch = []
    for m in range(MACHINES):
        base = m * 10
        running = (second // 50 + m) % 7 != 0
        if running:
            counts[m] += 1
        batch += [TagSample(ts, "plc", f"hr:{base}", counts[m], Quality.GOOD),
                  TagSample(ts, "plc", f"hr:{base + 2}", second // 40, Quality.GOOD),
                  TagSample(ts, "plc", f"hr:{base + 3}", 1 if running else 3, Quality.GOOD),
                  TagSample(ts, "plc", f"hr:{base + 4}", 120.0 + (second % 3) if running else 0.0, Quality.GOOD),
                  TagSample(ts, "plc", f"co:{m}", not running, Quality.GOOD)]
    return batch


def cpu_share() -> tuple[float, float, int]:
    """(% of a core with the snapshot build, % for the rules alone, alerts raised) over SECONDS simulated s."""
    config = plant_config(MACHINES)
    config = replace(config, alerts=AlertSettings(rules(config)))
    start = time.time()
    clock = [start]
    engine = Engine(config, None, clock=lambda: clock[0], acquire=False)
    counts = [1000] * MACHINES
    with_build = rules_only = 0.0
    raised = 0
    for second in range(SECONDS):
        clock[0] = start + second
        engine.ingest(poll(clock[0], second, counts))
        engine._advance()  # what the tick loop does before it checks the rules
        began = time.process_time()
        engine.snapshot()  # the build the rules force on a headless engine
        built = time.process_time()
        raised += len(engine.check_alerts())
        done = time.process_time()
        with_build += done - began
        rules_only += done - built
    return 100.0 * with_build / SECONDS, 100.0 * rules_only / SECONDS, raised


async def raise_latency(data_dir: Path) -> list[float]:
    config = plant_config(MACHINES)
    config = replace(config, alerts=AlertSettings(rules(config)))
    engine = Engine(config, Store.open(data_dir), acquire=False)  # its own 1 s tick loop, real time
    await engine.start()
    latencies = []
    try:
        counts = [1000] * MACHINES
        engine.ingest(poll(time.time(), 0, counts))
        for round_ in range(ROUNDS):
            await asyncio.sleep(random.uniform(0.0, 1.0))  # anywhere in the tick
            tag = f"hr:{(round_ % MACHINES) * 10 + 4}"
            began = time.monotonic()
            engine.ingest([TagSample(time.time(), "plc", tag, 999.0, Quality.GOOD)])  # the condition is true now
            while not any(alert.rule == f"speed-{round_ % MACHINES}" for alert in engine.snapshot().alerts):
                await asyncio.sleep(0.002)
            latencies.append(time.monotonic() - began)
            engine.ingest([TagSample(time.time(), "plc", tag, 120.0, Quality.GOOD)])
            while any(alert.rule == f"speed-{round_ % MACHINES}" for alert in engine.snapshot().alerts):
                await asyncio.sleep(0.01)
    finally:
        await engine.stop()
        assert engine.store is not None
        engine.store.close()
    return latencies


def main() -> None:
    with_build, rules_only, raised = cpu_share()
    print(f"500 rules over {MACHINES} machines at 1 Hz, {SECONDS} s: {with_build:.2f}% of one core with the "
          f"snapshot build they force, {rules_only:.2f}% for the rules alone ({raised} raises and clears); "
          "target < 10%")
    with tempfile.TemporaryDirectory() as tmp:
        latencies = asyncio.run(raise_latency(Path(tmp)))
    print(f"raise latency over {ROUNDS} raises: p50 {statistics.median(latencies):.3f} s, max {max(latencies):.3f} s; "
          "target < 2 s")


if __name__ == "__main__":
    main()
