"""The data-quality checks' clock skew from device timestamps that cross a real Mosquitto: a JSON payload's
`ts` (timestamp_path) and a Sparkplug metric's timestamp, each from a device clock that lags the box.

Real Mosquitto, a paho publisher or a real edge node, the real drivers (the Sparkplug host in its worker
process, whose columns take the engine's column path) and the real engine."""

from __future__ import annotations

import asyncio
import itertools
import json
import time

from oee_tui.drivers.registry import parse_config
from oee_tui.engine.live.engine import Engine
from oee_tui.model import Signal
from oee_tui.model.data_quality import SourceQuality
from oee_tui.mqtt.sparkplug_codec import DataType, MetricSpec
from tests.mqtt.broker import EdgeNode, MosquittoBroker, mqtt_client, stop_client
from tests.support.waiting import until

PLANT = """
[site]
name = "Skew plant"
timezone = "UTC"

[[lines]]
id = "L1"

[[sources]]
{source}

[[machines]]
id = "M1"
line = "L1"
ideal_cycle_time_s = 1.0
counter_jump_margin = 1e6
[machines.signals]
total_count = {{ source = "uns", tag = "{count_tag}", width = 32 }}

[[shifts]]
name = "Day"
start = "00:00"
end = "00:00"
"""

JSON_SOURCE = """name = "uns"
kind = "mqtt"
host = "127.0.0.1"
port = {port}
timestamp_path = "$.ts"
timestamp_format = "epoch_ms"
expected_every_s = 60"""

SPARKPLUG_SOURCE = """name = "uns"
kind = "sparkplug"
host = "127.0.0.1"
port = {port}
host_id = "oee-skew"
group_ids = ["plant"]"""

LAG_S = 7.0
_SENT = itertools.count()


async def quality(engine: Engine) -> SourceQuality:
    (only,) = (await engine.data_quality("uns")).current
    return only


def assert_lag(skew: float | None) -> None:
    # The device's 7 s behind, plus the least delay through the broker (well under a second here).
    assert skew is not None and LAG_S - 0.01 <= skew < LAG_S + 1.0, skew


async def test_json_payload_times_give_the_device_clocks_skew(broker: MosquittoBroker) -> None:
    config = parse_config(PLANT.format(source=JSON_SOURCE.format(port=broker.port),
                                       count_tag="plant/line1/filler/counts $.count"))
    engine = Engine(config, None, tick_s=0.05)
    await engine.start()
    client, _ = await asyncio.to_thread(mqtt_client, broker.port, "plc-gateway")

    def send(count: int) -> None:
        ts = int((time.time() - LAG_S) * 1000) + next(_SENT)  # the device's clock, 7 s behind the box
        client.publish("plant/line1/filler/counts", json.dumps({"count": count, "ts": ts}), qos=1) \
            .wait_for_publish(10)

    try:
        await until(lambda: engine.runners[0].health.connected)
        tracker = engine.machines["M1"]
        for count in (100, 101, 102):
            await asyncio.to_thread(send, count)
            await until(lambda value=count: tracker.counters[Signal.TOTAL_COUNT].last == value)
        uns = await quality(engine)
        assert uns.device_time and uns.received == 3 and uns.expected_every_s == 60
        assert_lag(uns.skew_s)
    finally:
        await asyncio.to_thread(stop_client, client)
        await engine.stop()


async def test_sparkplug_metric_times_give_the_device_clocks_skew(broker: MosquittoBroker) -> None:
    config = parse_config(PLANT.format(source=SPARKPLUG_SOURCE.format(port=broker.port),
                                       count_tag="plant/line1/press1/Count"))
    engine = Engine(config, None, tick_s=0.05)
    await engine.start()
    node = await asyncio.to_thread(EdgeNode, broker.port, "plant", "line1")

    def metrics(count: int) -> list[MetricSpec]:
        at = int((time.time() - LAG_S) * 1000) + next(_SENT)
        return [MetricSpec("Count", DataType.UInt32, count, alias=1, timestamp_ms=at)]

    try:
        await until(lambda: engine.runners[0].health.connected)
        await asyncio.to_thread(node.nbirth, [])
        await asyncio.to_thread(node.dbirth, "press1", metrics(100))
        tracker = engine.machines["M1"]
        await until(lambda: tracker.counters[Signal.TOTAL_COUNT].last == 100)
        await asyncio.to_thread(node.ddata, "press1", metrics(104))
        await until(lambda: tracker.counters[Signal.TOTAL_COUNT].last == 104)
        uns = await quality(engine)
        # No expected period for a subscription: completeness is n/a, not a guess.
        assert uns.device_time and uns.expected is None and uns.completeness is None and uns.received == 2
        assert_lag(uns.skew_s)
    finally:
        await asyncio.to_thread(node.close)
        await engine.stop()
