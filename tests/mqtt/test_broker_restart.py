"""A broker restart in the middle of a QoS 1 stream: no sample lost, none doubled.

At least once cannot avoid sending a sample twice when the broker took a message but went away
before its PUBACK reached the edge node: the edge node then replays it from its buffer, as
history, with the sample's own timestamp. The host keeps one sample per (device, metric,
timestamp, value), which is what makes the received sequence exact.

Edge side: the project's edge node inside the engine with ``data_qos = 1``; what was not
acknowledged when the broker went away goes back to the store buffer and is replayed after
the next birth. Host side: a persistent session (clean session false) with a QoS 1
subscription, decoding with the project's codec; Mosquitto saves sessions and queued messages
on shutdown (persistence on), as a production broker would be configured for this.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from oee_tui.runtime import build_engine
from oee_tui.store import Store
from tests.edge.edge_fixtures import PersistentBroker, SparkplugListener, edge_of, ms, plant_config, sample
from tests.mqtt.broker import running_broker
from tests.support.waiting import until

VALUES = 600
RESTART_AFTER = 200  # values heard by the host before the broker goes down


@pytest.fixture
def persistent_broker(tmp_path: Path) -> Iterator[PersistentBroker]:
    with running_broker(PersistentBroker, tmp_path / "mosquitto") as server:
        yield server


async def test_a_broker_restart_mid_stream_loses_and_doubles_nothing(persistent_broker: PersistentBroker,
                                                                     tmp_path: Path) -> None:
    listener = await asyncio.to_thread(SparkplugListener, persistent_broker.port, "qos1-host")
    engine = build_engine(plant_config(persistent_broker.port, data_qos=1), Store.open(tmp_path / "data"),
                          acquire=False, tick_s=0.05, flush_interval_s=0.2)
    await engine.start()
    edge = edge_of(engine)
    start = time.time()

    async def stream() -> None:
        for value in range(1, VALUES + 1):
            engine.ingest([sample("hr:0", value, start + value * 0.001)])
            await asyncio.sleep(0.002)  # about 400 changes a second, one DDATA per publish interval

    try:
        await until(lambda: edge.stats.live)
        producer = asyncio.create_task(stream())
        await asyncio.to_thread(listener.wait_for, lambda h: len(h.data("M1", "total_count")) >= RESTART_AFTER)
        await asyncio.to_thread(persistent_broker.restart)  # mid-stream, with DDATA in flight
        await producer
        await asyncio.to_thread(listener.wait_for,
                                lambda h: any(x.value == VALUES for x in h.data("M1", "total_count")), 30.0)
        await asyncio.sleep(0.5)  # anything doubled would arrive right behind
    finally:
        await engine.stop()
        await asyncio.to_thread(listener.close)
    heard = listener.data("M1", "total_count")
    assert edge.stats.connects == 2  # the restart really cut the edge node's connection
    assert [h.value for h in heard] == list(range(1, VALUES + 1)), f"doubled: {listener.doubled}"
    # A copy can only be a replay of an unacknowledged message (history) or a broker redelivery.
    assert all(h.historical for h in listener.doubled) or listener.duplicates_flagged
    assert [h.timestamp_ms for h in heard] == [ms(start + v * 0.001) for v in range(1, VALUES + 1)]
    # What was in flight at the restart came back as history; everything else is live.
    assert not any(h.historical for h in heard[:RESTART_AFTER])
