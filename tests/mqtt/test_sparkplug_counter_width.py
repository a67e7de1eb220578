"""A Sparkplug counter wraps at the width of its birth's datatype, unless its tag map gives one.

Real Mosquitto, an edge node (paho + our encoders), the real driver in its worker process,
engine and DuckDB store.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from pathlib import Path

import pytest

from oee_tui.drivers.registry import parse_config
from oee_tui.engine.live.engine import Engine
from oee_tui.model import Signal
from oee_tui.mqtt.sparkplug_codec import DataType, MetricSpec
from oee_tui.store import Store
from tests.mqtt.broker import EdgeNode, MosquittoBroker
from tests.support.waiting import until

CONFIG = """
[site]
name = "Sparkplug plant"
timezone = "UTC"

[[lines]]
id = "L1"
name = "Line 1"

[[sources]]
name = "uns"
kind = "sparkplug"
host = "127.0.0.1"
port = {port}
group_ids = ["plant"]

[[machines]]
id = "M1"
name = "Press"
line = "L1"
ideal_cycle_time_s = 1.0
[machines.signals]
total_count = {{ source = "uns", tag = "plant/line1/press1/Count"{width} }}

[[shifts]]
name = "Day"
start = "00:00"
end = "00:00"
"""

_SENT = itertools.count()


def count(value: int) -> list[MetricSpec]:
    # Device times a second apart, as a PLC's updates are (a part a second is the ideal rate).
    at = int(time.time() * 1000) - 60_000 + 1_000 * next(_SENT)
    return [MetricSpec("Count", DataType.UInt16, value, alias=1, timestamp_ms=at)]


async def wrap_through_65535(broker: MosquittoBroker, tmp_path: Path, width: str) -> Engine:
    """Birth a UInt16 Count at 65534, then send 65535 and 0; return the stopped engine."""
    config = parse_config(CONFIG.format(port=broker.port, width=width), "plant.toml")
    engine = Engine(config, Store.open(tmp_path), tick_s=0.05, flush_interval_s=0.2)
    await engine.start()
    node = await asyncio.to_thread(EdgeNode, broker.port, "plant", "line1")
    counter = engine.machines["M1"].counters[Signal.TOTAL_COUNT]
    try:
        await until(lambda: engine.runners[0].health.connected)
        await asyncio.to_thread(node.nbirth, [])
        await asyncio.to_thread(node.dbirth, "press1", count(65534))
        await until(lambda: counter.last == 65534)
        await asyncio.to_thread(node.ddata, "press1", count(65535))
        await asyncio.to_thread(node.ddata, "press1", count(0))
        await until(lambda: counter.last == 0)
    finally:
        await asyncio.to_thread(node.close)
        await engine.stop()
    return engine


def parts(engine: Engine) -> int:
    return sum(total for total, _ in engine.machines["M1"].recent_counts.values())


async def test_a_uint16_counter_without_a_width_wraps_at_65535(broker: MosquittoBroker, tmp_path: Path) -> None:
    engine = await wrap_through_65535(broker, tmp_path, "")
    counter = engine.machines["M1"].counters[Signal.TOTAL_COUNT]
    assert counter.width == 16
    assert parts(engine) == 2  # 65534 -> 65535 -> 0: two parts, the second one across the wrap
    assert (counter.wraps, counter.resets) == (1, 0)


async def test_a_width_in_the_tag_map_wins_over_the_birth(broker: MosquittoBroker, tmp_path: Path) -> None:
    engine = await wrap_through_65535(broker, tmp_path, ", width = 32")
    counter = engine.machines["M1"].counters[Signal.TOTAL_COUNT]
    assert counter.width == 32
    # Modulo 2**32 the drop to 0 cannot be a wrap: it is a reset, and 0 counts no part.
    assert parts(engine) == 1
    assert (counter.wraps, counter.resets) == (0, 1)


async def test_the_engine_says_which_width_it_took_from_the_birth(broker: MosquittoBroker, tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="oee_tui.engine.live.machine"):
        await wrap_through_65535(broker, tmp_path, "")
    assert ("M1 total_count: a 16-bit counter (the datatype of plant/line1/press1/Count in a birth on source uns)"
            in caplog.messages)
