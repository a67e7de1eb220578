"""The Sparkplug driver under a burst: many QoS 1 messages and one larger than a socket read.

The driver reads paho's socket in large chunks and serves paho's small reads from them, and
lets paho's own thread skip waking itself for every PUBACK (oee_tui/drivers/sparkplug/host_driver.py).
These tests hold it to what a user relies on: every message of a burst arrives once, in
order, with its bytes intact, whatever the chunk boundaries cut through.
"""

from __future__ import annotations

import asyncio
import base64
import random

from oee_tui.drivers.sparkplug.host_driver import RECV_CHUNK, SparkplugDriver, SparkplugSettings
from oee_tui.drivers.sparkplug.sparkplug_source import SparkplugSource
from oee_tui.mqtt.sparkplug_codec import (
    DataType,
    MessageType,
    MetricSpec,
    encode_dbirth,
    encode_ddata,
    encode_nbirth,
    topic,
)
from tests.mqtt.broker import MosquittoBroker, SampleCollector, mqtt_client, stop_client
from tests.mqtt.test_sparkplug_broker import TIMEOUT, running

GROUP, EDGE, DEVICE = "burst", "edge1", "dev1"
COUNT_TAG, BLOB_TAG = f"{GROUP}/{EDGE}/{DEVICE}/Count", f"{GROUP}/{EDGE}/{DEVICE}/Blob"
MESSAGES = 1_500


def _data(seq: int, count: int, blob: bytes | None = None) -> bytes:
    metrics = [MetricSpec("Count", DataType.UInt32, count, alias=1)]
    if blob is not None:
        metrics.append(MetricSpec("Blob", DataType.Bytes, blob, alias=2))
    return encode_ddata(metrics, seq=seq % 256, timestamp_ms=1_700_000_000_000 + seq)


async def test_a_qos1_burst_arrives_whole_in_order_and_once(broker: MosquittoBroker) -> None:
    rng = random.Random(4)
    blob = rng.randbytes(RECV_CHUNK * 2 + 12_345)  # spans three socket reads at least
    birth = [MetricSpec("Count", DataType.UInt32, 0, alias=1), MetricSpec("Blob", DataType.Bytes, b"", alias=2)]
    messages = [(MessageType.NBIRTH, None, encode_nbirth([], seq=0, bd_seq=0, timestamp_ms=1_700_000_000_000)),
                (MessageType.DBIRTH, DEVICE, encode_dbirth(birth, seq=1, timestamp_ms=1_700_000_000_000))]
    messages += [(MessageType.DDATA, DEVICE, _data(seq, count)) for count, seq in enumerate(range(2, MESSAGES + 2), 1)]
    messages.append((MessageType.DDATA, DEVICE, _data(MESSAGES + 2, MESSAGES + 1, blob)))
    messages.append((MessageType.DDATA, DEVICE, _data(MESSAGES + 3, MESSAGES + 2)))

    source = SparkplugSource(name="broker", host="127.0.0.1", port=broker.port, timeout_s=5.0,
                          queue_size=10_000)
    driver = SparkplugDriver(source, [], settings=SparkplugSettings(group_ids=(GROUP,)))
    collector = SampleCollector()
    async with running(driver, collector):
        publisher, _ = await asyncio.to_thread(mqtt_client, broker.port, "burst-publisher")
        try:
            # Published back to back, without waiting: the driver's socket fills with many packets.
            infos = [publisher.publish(topic(GROUP, kind, EDGE, device), raw, qos=1) for kind, device, raw in messages]
            await asyncio.to_thread(lambda: [info.wait_for_publish(TIMEOUT) for info in infos])
            await collector.wait_for(lambda s: s.tag == COUNT_TAG and s.value == MESSAGES + 2, TIMEOUT * 3)
        finally:
            await asyncio.to_thread(stop_client, publisher)

    counts = [sample.value for sample in collector.samples if sample.tag == COUNT_TAG]
    assert counts == list(range(MESSAGES + 3))
    blobs = [sample.value for sample in collector.samples if sample.tag == BLOB_TAG]
    assert blobs == ["", base64.b64encode(blob).decode("ascii")]
    assert (list(driver.dead_letters), driver.rebirths_sent, driver.dropped) == ([], 0, 0)
