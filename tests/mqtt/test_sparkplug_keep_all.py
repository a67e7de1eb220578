"""keep_all_metrics: every metric of a Sparkplug source stored as samples under its own name, mapped
or not, and what the births declared kept for picking tag maps from.

Real Mosquitto, the project's edge node publisher (tests/mqtt/broker.py), the real driver in its
worker process, the engine and a DuckDB store.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from oee_tui.drivers.base import BrowseEntry
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

[[sources]]
name = "uns"
kind = "sparkplug"
host = "127.0.0.1"
port = {port}
host_id = "oee-keep"
{keep}

[[machines]]
id = "M1"
line = "L1"
ideal_cycle_time_s = 1.0
counter_jump_margin = 1e6
{signals}
"""
MAPPED = '[machines.signals]\ntotal_count = { source = "uns", tag = "plant/+/press1/Count", width = 32 }'


def press_metrics(count: int, at_ms: int) -> list[MetricSpec]:
    return [MetricSpec("Count", DataType.UInt32, count, alias=1, timestamp_ms=at_ms),
            MetricSpec("Running", DataType.Boolean, True, alias=2, timestamp_ms=at_ms),
            MetricSpec("Recipe/Name", DataType.String, "SKU-7", alias=3, timestamp_ms=at_ms)]


def stored(directory: Path) -> dict[str, list[tuple[float | None, str | None]]]:
    with Store.open(directory) as store:
        cursor = store.cursor()
        rows = cursor.execute("SELECT tag, value_num, value_text FROM samples WHERE source = 'uns' "
                              "ORDER BY tag, ts").fetchall()
        cursor.close()
    by_tag: dict[str, list[tuple[float | None, str | None]]] = {}
    for tag, number, text in rows:
        by_tag.setdefault(tag, []).append((number, text))
    return by_tag


async def test_a_source_without_tag_maps_keeps_every_metric(broker: MosquittoBroker, tmp_path: Path) -> None:
    config = parse_config(CONFIG.format(port=broker.port, keep="keep_all_metrics = true", signals=""))
    engine = Engine(config, Store.open(tmp_path), tick_s=0.05, flush_interval_s=0.2)
    await engine.start()
    node = await asyncio.to_thread(EdgeNode, broker.port, "plant", "line1")
    at = int(time.time() * 1000) - 10_000
    try:
        assert [runner.source.name for runner in engine.runners] == ["uns"]  # started with no tag maps
        await until(lambda: engine.runners[0].health.connected)
        await asyncio.to_thread(node.nbirth, [MetricSpec("Temperature", DataType.Float, 21.5, alias=9,
                                                         timestamp_ms=at)])
        await asyncio.to_thread(node.dbirth, "press1", press_metrics(100, at))
        await asyncio.to_thread(node.ddata, "press1", [MetricSpec("Count", DataType.UInt32, 101, alias=1,
                                                                  timestamp_ms=at + 1000)])
        # The node's birth also declares bdSeq and Node Control/Rebirth, as every NBIRTH does.
        await until(lambda: len(engine.discovered_metrics("uns") or ()) == 6)
        await until(lambda: engine.stats.samples_in >= 7)
        await engine.flush()
        discovered = engine.discovered_metrics("uns")
        assert discovered is not None
        tree = (discovered.children(None), discovered.children("plant"), discovered.children("plant/line1"),
                discovered.children("plant/line1/press1"))
    finally:
        await asyncio.to_thread(node.close)
        await engine.stop()
    assert stored(tmp_path) == {
        "plant/line1/Node Control/Rebirth": [(0.0, None)],
        "plant/line1/Temperature": [(21.5, None)],
        "plant/line1/bdSeq": [(0.0, None)],
        "plant/line1/press1/Count": [(100.0, None), (101.0, None)],
        "plant/line1/press1/Recipe/Name": [(None, "SKU-7")],
        "plant/line1/press1/Running": [(1.0, None)],
    }
    assert tree == (
        [BrowseEntry("plant", "plant", None, True)],
        [BrowseEntry("plant/line1", "line1", None, True)],
        [BrowseEntry("plant/line1/press1", "press1", None, True),
         BrowseEntry("plant/line1/bdSeq", "bdSeq", "Int64", False),
         BrowseEntry("plant/line1/Temperature", "Temperature", "Float", False),
         BrowseEntry("plant/line1/Node Control/Rebirth", "Node Control/Rebirth", "Boolean", False)],
        [BrowseEntry("plant/line1/press1/Count", "Count", "UInt32", False),
         BrowseEntry("plant/line1/press1/Running", "Running", "Boolean", False),
         BrowseEntry("plant/line1/press1/Recipe/Name", "Recipe/Name", "String", False)],
    )


async def test_mapped_metrics_still_count_and_the_others_are_kept(broker: MosquittoBroker, tmp_path: Path) -> None:
    config = parse_config(CONFIG.format(port=broker.port, keep="keep_all_metrics = true", signals=MAPPED))
    engine = Engine(config, Store.open(tmp_path), tick_s=0.05, flush_interval_s=0.2)
    await engine.start()
    node = await asyncio.to_thread(EdgeNode, broker.port, "plant", "line1")
    at = int(time.time() * 1000) - 10_000
    try:
        await until(lambda: engine.runners[0].health.connected)
        await asyncio.to_thread(node.nbirth, [])
        await asyncio.to_thread(node.dbirth, "press1", press_metrics(100, at))
        tracker = engine.machines["M1"]
        await until(lambda: tracker.counters[Signal.TOTAL_COUNT].last == 100)
        await asyncio.to_thread(node.ddata, "press1", [MetricSpec("Count", DataType.UInt32, 105, alias=1,
                                                                  timestamp_ms=at + 5000)])
        await until(lambda: sum(total for total, _ in tracker.recent_counts.values()) == 5)
        await engine.flush()
    finally:
        await asyncio.to_thread(node.close)
        await engine.stop()
    kept = stored(tmp_path)
    # Under the metric's own name, and under the wildcard tag map as before.
    assert kept["plant/line1/press1/Count"] == [(100.0, None), (105.0, None)]
    assert kept["plant/+/press1/Count"] == [(100.0, None), (105.0, None)]
    assert kept["plant/line1/press1/Running"] == [(1.0, None)]


async def test_without_the_setting_unmapped_metrics_are_not_stored(broker: MosquittoBroker, tmp_path: Path) -> None:
    no_maps = parse_config(CONFIG.format(port=broker.port, keep="", signals=""))
    config = parse_config(CONFIG.format(port=broker.port, keep="", signals=MAPPED))
    engine = Engine(config, Store.open(tmp_path), tick_s=0.05, flush_interval_s=0.2)
    await engine.start()
    node = await asyncio.to_thread(EdgeNode, broker.port, "plant", "line1")
    at = int(time.time() * 1000) - 10_000
    try:
        await until(lambda: engine.runners[0].health.connected)
        await asyncio.to_thread(node.nbirth, [])
        await asyncio.to_thread(node.dbirth, "press1", press_metrics(100, at))
        await until(lambda: engine.machines["M1"].counters[Signal.TOTAL_COUNT].last == 100)
        # Births are listed all the same: the press's 3 metrics and the node's bdSeq and Node Control/Rebirth.
        await until(lambda: len(engine.discovered_metrics("uns") or ()) == 5)
        await engine.flush()
    finally:
        await asyncio.to_thread(node.close)
        await engine.stop()
    assert set(stored(tmp_path)) == {"plant/+/press1/Count"}
    none_started = Engine(no_maps, None, tick_s=0.05)
    await none_started.start()
    try:
        assert none_started.runners == []  # no tag maps and no keep_all_metrics: not started, as before
    finally:
        await none_started.stop()


async def test_an_attached_client_browses_what_the_engine_heard(broker: MosquittoBroker, tmp_path: Path) -> None:
    """`oee devices browse` and an attached TUI ask the engine (device_browse), which never connects a
    second host for it: the metrics come from the births the engine's own host heard."""
    from oee_tui.service.client import EngineClient, EngineRefused
    from tests.support.served_engine import served_plant

    config = parse_config(CONFIG.format(port=broker.port, keep="keep_all_metrics = true", signals=""))
    async with served_plant(tmp_path, config) as plant:
        client = await EngineClient.attach(tmp_path, origin="test")
        node = await asyncio.to_thread(EdgeNode, broker.port, "plant", "line1")
        try:
            await until(lambda: plant.engine.runners[0].health.connected)
            with pytest.raises(EngineRefused, match="no birth heard on uns yet"):
                await client.call("device_browse", name="uns")
            await asyncio.to_thread(node.nbirth, [])
            await asyncio.to_thread(node.dbirth, "press1", press_metrics(1, int(time.time() * 1000)))
            await until(lambda: len(plant.engine.discovered_metrics("uns") or ()) == 5)
            top = await client.call("device_browse", name="uns")
            press = await client.call("device_browse", name="uns", parent="plant/line1/press1")
        finally:
            await asyncio.to_thread(node.close)
            await client.close()
    assert list(top) == [BrowseEntry("plant", "plant", None, True)]
    assert [(entry.id, entry.type) for entry in press] == [
        ("plant/line1/press1/Count", "UInt32"), ("plant/line1/press1/Running", "Boolean"),
        ("plant/line1/press1/Recipe/Name", "String")]
