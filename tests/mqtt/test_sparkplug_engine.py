"""A Sparkplug source configured like any other: the engine counts parts from DDATA and stores dead letters.

Real Mosquitto, a real edge node (paho + our encoders), the real driver, engine and DuckDB store.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

from oee_tui.drivers.registry import parse_config
from oee_tui.engine.live.engine import Engine
from oee_tui.model import MachineState, Signal
from oee_tui.mqtt.sparkplug_codec import DataType, MessageType, MetricSpec
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
host_id = "oee-test"
group_ids = ["plant"]

[[machines]]
id = "M1"
name = "Press"
line = "L1"
ideal_cycle_time_s = 1.0
# The tests publish many parts at once: a wide margin lets them count (not counter jumps).
counter_jump_margin = 1e6
[machines.signals]
total_count = {{ source = "uns", tag = "plant/line1/press1/Count", width = 32 }}
state_code = {{ source = "uns", tag = "plant/line1/press1/State" }}

[state_map]
"1" = "running"
"2" = "stopped"

[[shifts]]
name = "Day"
start = "00:00"
end = "00:00"
"""


_SENT = itertools.count()


def metrics(count: int) -> list[MetricSpec]:
    # Device times a second apart, as a PLC's updates are: two in one millisecond would say parts
    # made in no time, which the engine rightly rebaselines (a counter jump) instead of counting.
    at = int(time.time() * 1000) - 60_000 + 1_000 * next(_SENT)
    return [MetricSpec("Count", DataType.UInt32, count, alias=1, timestamp_ms=at),
            MetricSpec("State", DataType.Int16, 1, alias=2, timestamp_ms=at)]


async def test_ddata_counts_parts_and_a_bad_payload_is_stored_as_a_dead_letter(broker: MosquittoBroker,
                                                                              tmp_path: Path) -> None:
    config = parse_config(CONFIG.format(port=broker.port), "plant.toml")
    assert config.sources[0].group_ids == ("plant",)
    engine = Engine(config, Store.open(tmp_path), tick_s=0.05, flush_interval_s=0.2)
    await engine.start()
    node = await asyncio.to_thread(EdgeNode, broker.port, "plant", "line1")
    try:
        await until(lambda: engine.runners[0].health.connected)
        await asyncio.to_thread(node.nbirth, [])
        await asyncio.to_thread(node.dbirth, "press1", metrics(100))
        tracker = engine.machines["M1"]
        await until(lambda: tracker.counters[Signal.TOTAL_COUNT].last == 100)
        await asyncio.to_thread(node.ddata, "press1", metrics(107))
        await until(lambda: sum(total for total, _ in tracker.recent_counts.values()) == 7)
        assert engine.tick().machines[0].state is MachineState.RUNNING

        await asyncio.to_thread(node.publish, MessageType.DDATA, b"\xff\x00 not protobuf", "press1")
        await asyncio.to_thread(node.ddata, "press1", metrics(110))  # one bad message never stops the stream
        await until(lambda: sum(total for total, _ in tracker.recent_counts.values()) == 10)
    finally:
        await asyncio.to_thread(node.close)
        await engine.stop()
    store = Store.open(tmp_path)
    try:
        rows = store.cursor().execute("SELECT source, topic, payload, error FROM dead_letters").fetchall()
    finally:
        store.close()
    assert len(rows) == 1
    source, topic, payload, error = rows[0]
    assert (source, topic) == ("uns", "spBv1.0/plant/DDATA/line1/press1")
    assert bytes(payload) == b"\xff\x00 not protobuf" and error


async def test_historical_metrics_go_to_history_once_and_never_move_live_values(broker: MosquittoBroker,
                                                                              tmp_path: Path) -> None:
    config = parse_config(CONFIG.format(port=broker.port), "plant.toml")
    engine = Engine(config, Store.open(tmp_path), tick_s=0.05, flush_interval_s=0.2)
    await engine.start()
    node = await asyncio.to_thread(EdgeNode, broker.port, "plant", "line1")
    past = int(time.time() * 1000) - 3_600_000
    history = [MetricSpec("Count", DataType.UInt32, 40 + i, alias=1, timestamp_ms=past + i * 1000, is_historical=True)
               for i in range(3)]
    try:
        await until(lambda: engine.runners[0].health.connected)
        await asyncio.to_thread(node.nbirth, [])
        await asyncio.to_thread(node.dbirth, "press1", metrics(100))
        tracker = engine.machines["M1"]
        await until(lambda: tracker.counters[Signal.TOTAL_COUNT].last == 100)
        # A replayed buffer, sent twice (at least once), and the last sample of it a third time.
        await asyncio.to_thread(node.ddata, "press1", history)
        await asyncio.to_thread(node.ddata, "press1", history)
        await asyncio.to_thread(node.ddata, "press1", history[-1:])
        await asyncio.to_thread(node.ddata, "press1", metrics(104))
        await until(lambda: tracker.counters[Signal.TOTAL_COUNT].last == 104)
        await engine.flush()
        assert sum(total for total, _ in tracker.recent_counts.values()) == 4  # 40..42 never counted as parts
    finally:
        await asyncio.to_thread(node.close)
        await engine.stop()
    with Store.open(tmp_path) as store:
        cur = store.cursor()
        rows = cur.execute("SELECT epoch_ms(ts), value_num FROM samples WHERE tag = 'plant/line1/press1/Count' "
                           "ORDER BY ts").fetchall()
        cur.close()
    assert [(ts - past, value) for ts, value in rows[:3]] == [(0, 40.0), (1000, 41.0), (2000, 42.0)]
    assert [value for _, value in rows[3:]] == [100.0, 104.0]
