"""The host's DATA path (SparkplugHost._data_samples) on the values that leave its fast lane.

Plain values pass straight through; complex ones (bytes, arrays, DataSets), nulls, metrics
without their own timestamp and a message that fails half-way must come out exactly as the
codec and plain_value say, and as the full TagSample constructor would build them.
"""

from __future__ import annotations

import base64
import json

from oee_tui.model import Quality, TagSample
from oee_tui.mqtt.sparkplug_codec import (
    DataType,
    MessageType,
    MetricSpec,
    decode_payload,
    encode_dbirth,
    encode_ddata,
    encode_nbirth,
    topic,
)
from oee_tui.mqtt.sparkplug_host import SparkplugHost

T0 = 1_700_000_000_000
ARRIVAL = 1_700_000_100.0
GROUP, EDGE, DEVICE = "plant1", "line1", "press1"
PREFIX = f"{GROUP}/{EDGE}/{DEVICE}"
DATASET = {"num_of_columns": 2, "columns": ["Step", "Temp"], "types": ["Int32", "Double"], "rows": [[1, 20.5]]}
METRICS = [MetricSpec("Count", DataType.UInt32, 1, alias=1), MetricSpec("Blob", DataType.Bytes, b"\x00", alias=2),
           MetricSpec("Pattern", DataType.Int16Array, [1], alias=3),
           MetricSpec("Recipe", DataType.DataSet, DATASET, alias=4),
           MetricSpec("Flag", DataType.Boolean, True, alias=5), MetricSpec("Speed", DataType.Float, 1.0, alias=6)]


def born_host() -> SparkplugHost:
    host = SparkplugHost("broker")
    host.handle(topic(GROUP, MessageType.NBIRTH, EDGE), encode_nbirth([], seq=0, bd_seq=0, timestamp_ms=T0), ARRIVAL)
    host.handle(topic(GROUP, MessageType.DBIRTH, EDGE, DEVICE), encode_dbirth(METRICS, seq=1, timestamp_ms=T0),
                ARRIVAL)
    return host


def test_every_kind_of_value_becomes_the_sample_the_constructor_would_build() -> None:
    host = born_host()
    raw = encode_ddata([MetricSpec("Count", DataType.UInt32, 0, alias=1, timestamp_ms=T0 + 5),  # falsy, not null
                        MetricSpec("Blob", DataType.Bytes, b"\x01\x02", alias=2),
                        MetricSpec("Pattern", DataType.Int16Array, [-1, 2], alias=3),
                        MetricSpec("Recipe", DataType.DataSet, DATASET, alias=4),
                        MetricSpec("Flag", DataType.Boolean, None, alias=5),  # explicit null
                        MetricSpec("Speed", DataType.Float, 0.0, alias=6)],
                       seq=2, timestamp_ms=0)  # no payload timestamp: metrics without one take the arrival
    out = host.handle(topic(GROUP, MessageType.DDATA, EDGE, DEVICE), raw, ARRIVAL)
    assert not out.dead_letters and not out.historical
    expected = [("Count", (T0 + 5) / 1000, 0), ("Blob", ARRIVAL, base64.b64encode(b"\x01\x02").decode()),
                ("Pattern", ARRIVAL, "[-1,2]"), ("Recipe", ARRIVAL, json.dumps(DATASET, separators=(",", ":"))),
                ("Flag", ARRIVAL, None), ("Speed", ARRIVAL, 0.0)]
    assert out.samples == [TagSample(ts, "broker", f"{PREFIX}/{name}", value, Quality.GOOD)
                           for name, ts, value in expected]
    assert [type(sample.value) for sample in out.samples] == [int, str, str, str, type(None), float]
    first = out.samples[0]
    assert first.error is None and hash(first) == hash(TagSample((T0 + 5) / 1000, "broker", f"{PREFIX}/Count", 0))


def test_a_message_that_fails_half_way_gives_no_sample_at_all() -> None:
    host = born_host()
    raw = encode_ddata([MetricSpec("Count", DataType.UInt32, 7, alias=1),
                        MetricSpec("Pattern", DataType.Int16Array, [1], alias=3)], seq=2, timestamp_ms=T0)
    payload = decode_payload(raw)
    payload.metrics[1].bytes_value = b"\x01\x02\x03"  # not a whole number of Int16s
    out = host.handle(topic(GROUP, MessageType.DDATA, EDGE, DEVICE), payload.SerializeToString(), ARRIVAL)
    assert (out.samples, out.historical) == ([], [])
    [letter] = out.dead_letters
    assert letter.error == "Int16Array of 3 bytes is not a whole number of 2-byte items"


def test_an_unknown_metric_costs_only_itself() -> None:
    host = born_host()
    raw = encode_ddata([MetricSpec("Count", DataType.UInt32, 7, alias=1),
                        MetricSpec("Ghost", DataType.Int32, 1, alias=99)], seq=2, timestamp_ms=T0)
    out = host.handle(topic(GROUP, MessageType.DDATA, EDGE, DEVICE), raw, ARRIVAL)
    assert out.samples == [TagSample(T0 / 1000, "broker", f"{PREFIX}/Count", 7, Quality.GOOD)]
    [letter] = out.dead_letters
    assert letter.error == ("metric with alias 99 was not defined by a birth certificate; "
                            "the message's other metrics were stored")
    assert letter.payload == raw


def test_a_late_message_goes_to_history_whole() -> None:
    host = born_host()
    ddata = topic(GROUP, MessageType.DDATA, EDGE, DEVICE)
    current = encode_ddata([MetricSpec("Count", DataType.UInt32, 9, alias=1)], seq=2, timestamp_ms=T0)
    assert [s.value for s in host.handle(ddata, current, ARRIVAL).samples] == [9]
    late = encode_ddata([MetricSpec("Count", DataType.UInt32, 3, alias=1),
                         MetricSpec("Speed", DataType.Float, 2.5, alias=6, is_historical=True)], seq=2, timestamp_ms=T0)
    out = host.handle(ddata, late, ARRIVAL)
    assert out.samples == []
    assert [(s.tag, s.value) for s in out.historical] == [(f"{PREFIX}/Count", 3), (f"{PREFIX}/Speed", 2.5)]
