"""The Sparkplug B host state machine, fed payloads made by the codec's own encoders (no broker)."""

from __future__ import annotations

import json

import pytest

from oee_tui.model import Quality, SampleColumns
from oee_tui.mqtt.metric_patterns import MetricRouter
from oee_tui.mqtt.sparkplug_codec import (
    REBIRTH_METRIC,
    DataType,
    MessageType,
    MetricSpec,
    decode_payload,
    encode_dbirth,
    encode_ddata,
    encode_ddeath,
    encode_nbirth,
    encode_ndata,
    encode_ndeath,
    metric_value,
    parse_state,
    topic,
)
from oee_tui.mqtt.sparkplug_host import HostOutput, SparkplugHost, plain_value, rebirth_command, state_birth, state_will

T0 = 1_700_000_000_000
ARRIVAL = 1_700_000_100.0
GROUP, EDGE, DEVICE = "plant1", "line1", "press1"
NODE_METRICS = [MetricSpec("Uptime", DataType.Int64, 5, alias=1)]
DEVICE_METRICS = [MetricSpec("Count", DataType.UInt32, 10, alias=11),
                  MetricSpec("State", DataType.Int16, 1, alias=12),
                  MetricSpec("Product", DataType.String, "A-1", alias=13)]


class FakeClock:
    """Monotonic time the test moves by hand: the reorder timeout without sleeping."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def host(clock: FakeClock) -> SparkplugHost:
    return SparkplugHost("broker", reorder_timeout_s=2.0, clock=clock)


def t(kind: MessageType, device: str | None = None) -> str:
    return topic(GROUP, kind, EDGE, device)


def feed(host: SparkplugHost, kind: MessageType, raw: bytes, device: str | None = None) -> HostOutput:
    return host.handle(t(kind, device), raw, ARRIVAL)


def birth(host: SparkplugHost, bd_seq: int = 0) -> None:
    """NBIRTH (seq 0) and DBIRTH (seq 1): the next message must carry seq 2."""
    feed(host, MessageType.NBIRTH, encode_nbirth(NODE_METRICS, seq=0, bd_seq=bd_seq, timestamp_ms=T0))
    feed(host, MessageType.DBIRTH, encode_dbirth(DEVICE_METRICS, seq=1, timestamp_ms=T0), DEVICE)


def ddata(seq: int, count: int) -> bytes:
    return encode_ddata([MetricSpec("Count", DataType.UInt32, count, alias=11)], seq=seq, timestamp_ms=T0 + seq)


def values(out: HostOutput) -> dict[str, object]:
    return {sample.tag: sample.value for sample in out.samples}


def assert_rebirth(out: HostOutput) -> None:
    assert len(out.commands) == 1
    command = out.commands[0]
    assert command.topic == f"spBv1.0/{GROUP}/NCMD/{EDGE}"
    assert (command.qos, command.retain) == (0, False)
    payload = decode_payload(command.payload)
    assert [(m.name, metric_value(m)) for m in payload.metrics] == [(REBIRTH_METRIC, True)]
    assert not payload.HasField("seq")


def test_births_give_every_metric_good_with_its_tag_name(host: SparkplugHost) -> None:
    out = feed(host, MessageType.NBIRTH, encode_nbirth(NODE_METRICS, seq=0, bd_seq=3, timestamp_ms=T0))
    assert values(out) == {"plant1/line1/bdSeq": 3, "plant1/line1/Uptime": 5,
                           "plant1/line1/Node Control/Rebirth": False}
    assert host.node_bd_seq(GROUP, EDGE) == 3
    out = feed(host, MessageType.DBIRTH, encode_dbirth(DEVICE_METRICS, seq=1, timestamp_ms=T0), DEVICE)
    assert values(out) == {"plant1/line1/press1/Count": 10, "plant1/line1/press1/State": 1,
                           "plant1/line1/press1/Product": "A-1"}
    assert all(s.quality is Quality.GOOD and s.ts_utc == T0 / 1000 and s.source == "broker" for s in out.samples)
    assert not out.commands and not out.dead_letters


def test_data_by_alias_and_by_name(host: SparkplugHost) -> None:
    birth(host)
    out = feed(host, MessageType.DDATA, ddata(2, 11), DEVICE)
    assert values(out) == {"plant1/line1/press1/Count": 11}
    assert out.samples[0].ts_utc == (T0 + 2) / 1000
    by_name = encode_ddata([MetricSpec("State", DataType.Int16, -3)], seq=3, timestamp_ms=T0)  # no alias: name
    assert values(feed(host, MessageType.DDATA, by_name, DEVICE)) == {"plant1/line1/press1/State": -3}
    node_data = encode_ndata([MetricSpec("Uptime", DataType.Int64, 99, alias=1)], seq=4, timestamp_ms=T0)
    assert values(feed(host, MessageType.NDATA, node_data)) == {"plant1/line1/Uptime": 99}


def test_ndeath_with_matching_bdseq_makes_node_and_devices_bad(host: SparkplugHost) -> None:
    birth(host, bd_seq=7)
    out = feed(host, MessageType.NDEATH, encode_ndeath(7))
    bad = {s.tag for s in out.samples if s.quality is Quality.BAD and s.value is None}
    assert bad == {"plant1/line1/bdSeq", "plant1/line1/Uptime", "plant1/line1/Node Control/Rebirth",
                   "plant1/line1/press1/Count", "plant1/line1/press1/State", "plant1/line1/press1/Product"}
    assert all("NDEATH" in (s.error or "") for s in out.samples)
    # After the death, data needs a new birth.
    out = feed(host, MessageType.DDATA, ddata(2, 12), DEVICE)
    assert not out.samples
    assert_rebirth(out)


def test_ndeath_with_a_stale_bdseq_is_ignored(host: SparkplugHost) -> None:
    birth(host, bd_seq=4)
    assert not feed(host, MessageType.NDEATH, encode_ndeath(3))  # the will of the session before
    assert values(feed(host, MessageType.DDATA, ddata(2, 13), DEVICE)) == {"plant1/line1/press1/Count": 13}


def test_ddeath_makes_only_that_device_bad(host: SparkplugHost) -> None:
    birth(host)
    out = feed(host, MessageType.DDEATH, encode_ddeath(seq=2, timestamp_ms=T0), DEVICE)
    assert {s.tag for s in out.samples} == {"plant1/line1/press1/Count", "plant1/line1/press1/State",
                                             "plant1/line1/press1/Product"}
    assert {s.quality for s in out.samples} == {Quality.BAD}
    node_data = encode_ndata([MetricSpec("Uptime", DataType.Int64, 6, alias=1)], seq=3, timestamp_ms=T0)
    assert values(feed(host, MessageType.NDATA, node_data)) == {"plant1/line1/Uptime": 6}


def test_seq_gap_requests_a_rebirth_after_the_timeout(host: SparkplugHost, clock: FakeClock) -> None:
    birth(host)
    out = feed(host, MessageType.DDATA, ddata(3, 20), DEVICE)  # seq 2 missing
    assert not out  # waits for the gap to fill
    assert host.next_deadline() == pytest.approx(clock.now + 2.0)
    clock.now += 1.9
    assert not host.poll()
    clock.now += 0.2
    out = host.poll()
    assert values(out) == {"plant1/line1/press1/Count": 20}  # what waited is still delivered
    assert_rebirth(out)
    assert host.next_deadline() is None
    # Later messages continue from the delivered seq, with no second request.
    assert values(feed(host, MessageType.DDATA, ddata(4, 21), DEVICE)) == {"plant1/line1/press1/Count": 21}
    assert host.rebirths_requested == 1


def test_seq_gap_filled_within_the_timeout_needs_no_rebirth(host: SparkplugHost, clock: FakeClock) -> None:
    birth(host)
    assert not feed(host, MessageType.DDATA, ddata(3, 20), DEVICE)
    assert not feed(host, MessageType.DDATA, ddata(4, 21), DEVICE)
    clock.now += 1.0
    out = feed(host, MessageType.DDATA, ddata(2, 19), DEVICE)  # the late one
    assert [s.value for s in out.samples] == [19, 20, 21]  # in seq order
    assert not out.commands
    clock.now += 5.0
    assert not host.poll()
    assert host.next_deadline() is None


def test_seq_wraps_after_255(host: SparkplugHost) -> None:
    feed(host, MessageType.NBIRTH, encode_nbirth(NODE_METRICS, seq=254, bd_seq=0, timestamp_ms=T0))
    feed(host, MessageType.DBIRTH, encode_dbirth(DEVICE_METRICS, seq=255, timestamp_ms=T0), DEVICE)
    out = feed(host, MessageType.DDATA, ddata(0, 30), DEVICE)
    assert values(out) == {"plant1/line1/press1/Count": 30} and not out.commands


def test_duplicate_seq_is_history_not_live(host: SparkplugHost) -> None:
    birth(host)
    feed(host, MessageType.DDATA, ddata(2, 40), DEVICE)
    out = feed(host, MessageType.DDATA, ddata(2, 39), DEVICE)
    assert not out.samples and [s.value for s in out.historical] == [39]


def test_unknown_alias_requests_a_rebirth_and_keeps_the_bytes(host: SparkplugHost) -> None:
    birth(host)
    raw = encode_ddata([MetricSpec("Ghost", DataType.Int32, 1, alias=99)], seq=2, timestamp_ms=T0)
    out = feed(host, MessageType.DDATA, raw, DEVICE)
    assert not out.samples
    assert_rebirth(out)
    assert [(d.topic, d.payload) for d in out.dead_letters] == [(t(MessageType.DDATA, DEVICE), raw)]
    assert "alias 99" in out.dead_letters[0].error
    # The stream goes on.
    assert values(feed(host, MessageType.DDATA, ddata(3, 41), DEVICE)) == {"plant1/line1/press1/Count": 41}


def test_a_message_with_an_unknown_alias_keeps_its_known_metrics_even_into_a_shared_output(
        host: SparkplugHost) -> None:
    """The driver hands one output to every message of a pass: an unknown metric costs itself
    only, not its neighbours nor the messages around it."""
    birth(host)
    out = HostOutput("broker")
    host.handle(t(MessageType.DDATA, DEVICE), ddata(2, 20), ARRIVAL, out)
    mixed = encode_ddata([MetricSpec("Count", DataType.UInt32, 21, alias=11),
                          MetricSpec("Ghost", DataType.Int32, 1, alias=99),
                          MetricSpec("State", DataType.Int16, 2, alias=12, is_historical=True)], seq=3, timestamp_ms=T0)
    host.handle(t(MessageType.DDATA, DEVICE), mixed, ARRIVAL, out)
    host.handle(t(MessageType.DDATA, DEVICE), ddata(4, 22), ARRIVAL, out)
    assert [s.value for s in out.samples] == [20, 21, 22]
    assert [(s.tag, s.value) for s in out.historical] == [("plant1/line1/press1/State", 2)]
    [letter] = out.dead_letters
    assert letter.payload == mixed and "alias 99" in letter.error
    assert_rebirth(out)
    # The DATA of the three messages is one run of columns: no TagSample was built for it.
    [columns] = out.batches
    assert isinstance(columns, SampleColumns) and columns.values == [20, 21, 22]


def test_each_unknown_metric_is_its_own_dead_letter_and_the_message_asks_for_one_rebirth(
        host: SparkplugHost) -> None:
    birth(host)
    raw = encode_ddata([MetricSpec("Running", DataType.Boolean, True),  # by name, as no birth spelled it
                        MetricSpec("Count", DataType.UInt32, 30, alias=11),
                        MetricSpec("Ghost", DataType.Int32, 1, alias=99)], seq=2, timestamp_ms=T0)
    out = feed(host, MessageType.DDATA, raw, DEVICE)
    assert values(out) == {"plant1/line1/press1/Count": 30}
    assert [(d.topic, d.payload) for d in out.dead_letters] == [(t(MessageType.DDATA, DEVICE), raw)] * 2
    assert [d.error for d in out.dead_letters] == [
        "metric with name 'Running' was not defined by a birth certificate; the message's other metrics were stored",
        "metric with alias 99 was not defined by a birth certificate; the message's other metrics were stored"]
    assert_rebirth(out)
    # The next such message within the hold-off is dead-lettered the same, but asks no second time.
    again = encode_ddata([MetricSpec("Running", DataType.Boolean, False),
                          MetricSpec("Count", DataType.UInt32, 31, alias=11)], seq=3, timestamp_ms=T0)
    out = feed(host, MessageType.DDATA, again, DEVICE)
    assert values(out) == {"plant1/line1/press1/Count": 31}
    assert len(out.dead_letters) == 1 and not out.commands


def test_a_known_alias_wins_over_a_name_the_birth_did_not_give(host: SparkplugHost) -> None:
    birth(host)
    raw = encode_ddata([MetricSpec("DATA/Count", DataType.UInt32, 33, alias=11)], seq=2, timestamp_ms=T0)
    out = feed(host, MessageType.DDATA, raw, DEVICE)
    assert values(out) == {"plant1/line1/press1/Count": 33}
    assert not out.dead_letters and not out.commands


def test_births_data_and_deaths_keep_their_order_in_one_output(host: SparkplugHost) -> None:
    birth(host, bd_seq=2)
    out = HostOutput("broker")
    host.handle(t(MessageType.DDATA, DEVICE), ddata(2, 30), ARRIVAL, out)
    host.handle(t(MessageType.NDEATH), encode_ndeath(2), ARRIVAL, out)
    host.handle(t(MessageType.NBIRTH), encode_nbirth(NODE_METRICS, seq=0, bd_seq=3, timestamp_ms=T0), ARRIVAL, out)
    host.handle(t(MessageType.DBIRTH, DEVICE), encode_dbirth(DEVICE_METRICS, seq=1, timestamp_ms=T0), ARRIVAL, out)
    host.handle(t(MessageType.DDATA, DEVICE), ddata(2, 31), ARRIVAL, out)
    counts = [(s.value, s.quality) for s in out.samples if s.tag == "plant1/line1/press1/Count"]
    assert counts == [(30, Quality.GOOD), (None, Quality.BAD), (10, Quality.GOOD), (31, Quality.GOOD)]
    assert [type(batch) for batch in out.batches] == [SampleColumns, list, SampleColumns]


def test_a_router_keeps_only_mapped_metrics_under_the_mapped_tags(clock: FakeClock) -> None:
    router = MetricRouter(["plant1/line1/press1/Count", "plant1/+/press1/Count", "plant1/line1/Uptime"])
    host = SparkplugHost("broker", clock=clock, router=router)
    out = HostOutput("broker")
    host.handle(t(MessageType.NBIRTH), encode_nbirth(NODE_METRICS, seq=0, bd_seq=1, timestamp_ms=T0), ARRIVAL, out)
    host.handle(t(MessageType.DBIRTH, DEVICE), encode_dbirth(DEVICE_METRICS, seq=1, timestamp_ms=T0), ARRIVAL, out)
    host.handle(t(MessageType.DDATA, DEVICE), encode_ddata(
        [MetricSpec("Count", DataType.UInt32, 11, alias=11), MetricSpec("State", DataType.Int16, 2, alias=12)],
        seq=2, timestamp_ms=T0), ARRIVAL, out)
    host.handle(t(MessageType.NDEATH), encode_ndeath(1), ARRIVAL, out)
    assert [(s.tag, s.value) for s in out.samples] == [
        ("plant1/line1/Uptime", 5),
        ("plant1/line1/press1/Count", 10), ("plant1/+/press1/Count", 10),
        ("plant1/line1/press1/Count", 11), ("plant1/+/press1/Count", 11),
        ("plant1/line1/Uptime", None),
        ("plant1/line1/press1/Count", None), ("plant1/+/press1/Count", None)]


def test_data_before_any_birth_requests_a_rebirth_once_per_holdoff(host: SparkplugHost, clock: FakeClock) -> None:
    out = feed(host, MessageType.DDATA, ddata(5, 1), DEVICE)
    assert_rebirth(out)
    assert len(out.dead_letters) == 1 and "before its birth" in out.dead_letters[0].error
    assert not feed(host, MessageType.DDATA, ddata(6, 2), DEVICE).commands  # within the holdoff
    clock.now += host.rebirth_holdoff_s
    assert_rebirth(feed(host, MessageType.DDATA, ddata(7, 3), DEVICE))
    # The birth answers it; data flows again.
    birth(host)
    assert values(feed(host, MessageType.DDATA, ddata(2, 4), DEVICE)) == {"plant1/line1/press1/Count": 4}


def test_historical_metrics_are_kept_apart(host: SparkplugHost) -> None:
    birth(host)
    raw = encode_ddata([MetricSpec("Count", DataType.UInt32, 5, alias=11, timestamp_ms=T0 - 60_000,
                                   is_historical=True),
                        MetricSpec("Count", DataType.UInt32, 50, alias=11)], seq=2, timestamp_ms=T0)
    out = feed(host, MessageType.DDATA, raw, DEVICE)
    assert [(s.tag, s.value) for s in out.samples] == [("plant1/line1/press1/Count", 50)]
    assert [(s.value, s.ts_utc) for s in out.historical] == [(5, (T0 - 60_000) / 1000)]


@pytest.mark.parametrize("topic_name, raw", [
    (f"spBv1.0/{GROUP}/DDATA/{EDGE}/{DEVICE}", b"\xff\xff\xff not protobuf"),
    ("spBv1.0/plant1/NOPE/line1", b""),
    ("spBv1.0/STATE/other-host", b"not json"),
])
def test_undecodable_messages_become_dead_letters(host: SparkplugHost, topic_name: str, raw: bytes) -> None:
    birth(host)
    out = host.handle(topic_name, raw, ARRIVAL)
    assert not out.samples and not out.commands
    [letter] = out.dead_letters
    assert (letter.topic, letter.payload, letter.received_at, letter.source) == (topic_name, raw, ARRIVAL, "broker")
    assert letter.error
    assert values(feed(host, MessageType.DDATA, ddata(2, 60), DEVICE)) == {"plant1/line1/press1/Count": 60}


def test_group_filter_ignores_other_groups(clock: FakeClock) -> None:
    host = SparkplugHost("broker", groups=["other"], clock=clock)
    assert not feed(host, MessageType.DDATA, ddata(1, 1), DEVICE)


def test_own_state_overwritten_with_offline_asks_for_a_new_birth(host: SparkplugHost) -> None:
    host.state_timestamp_ms = T0
    will = state_will("oee-tui", T0 - 5)
    assert host.handle(will.topic, will.payload, ARRIVAL).republish_state
    online = state_birth("oee-tui", T0)
    assert not host.handle(online.topic, online.payload, ARRIVAL)
    other = state_will("someone-else", T0)
    assert not host.handle(other.topic, other.payload, ARRIVAL)


def test_state_and_command_messages() -> None:
    birth_msg, will_msg = state_birth("oee-tui", T0), state_will("oee-tui", T0)
    assert birth_msg.topic == will_msg.topic == "spBv1.0/STATE/oee-tui"
    assert (birth_msg.qos, birth_msg.retain, will_msg.qos, will_msg.retain) == (1, True, 1, True)
    assert parse_state(birth_msg.payload) == (True, T0) and parse_state(will_msg.payload) == (False, T0)
    assert json.loads(birth_msg.payload) == {"online": True, "timestamp": T0}
    assert rebirth_command("g", "e", T0).topic == "spBv1.0/g/NCMD/e"


def test_plain_value_keeps_complex_values_as_json() -> None:
    assert plain_value({"a": [1, 2]}) == '{"a":[1,2]}'
    assert plain_value(b"\x00\x01") == "AAE="
    assert plain_value(1.5) == 1.5


def test_births_give_the_bit_width_of_every_mapped_integer_metric() -> None:
    router = MetricRouter([f"{GROUP}/{EDGE}/+/Count", f"{GROUP}/{EDGE}/{DEVICE}/Good",
                           f"{GROUP}/{EDGE}/{DEVICE}/Bad", f"{GROUP}/{EDGE}/{DEVICE}/Product",
                           f"{GROUP}/{EDGE}/Uptime"])
    host = SparkplugHost("broker", router=router)
    out = feed(host, MessageType.NBIRTH, encode_nbirth(NODE_METRICS, seq=0, bd_seq=0, timestamp_ms=T0))
    assert out.counter_widths == {f"{GROUP}/{EDGE}/Uptime": 64}
    device = [MetricSpec("Count", DataType.UInt16, 1, alias=11), MetricSpec("Good", DataType.Int8, 1, alias=12),
              MetricSpec("Bad", DataType.UInt32, 1, alias=13), MetricSpec("Product", DataType.String, "A", alias=14),
              MetricSpec("Unmapped", DataType.Int16, 1, alias=15)]
    out = feed(host, MessageType.DBIRTH, encode_dbirth(device, seq=1, timestamp_ms=T0), DEVICE)
    assert out.counter_widths == {f"{GROUP}/{EDGE}/+/Count": 16, f"{GROUP}/{EDGE}/{DEVICE}/Good": 8,
                                  f"{GROUP}/{EDGE}/{DEVICE}/Bad": 32}
    # DATA says nothing about widths: only births define datatypes.
    data = encode_ddata([MetricSpec("Count", DataType.UInt16, 2, alias=11)], seq=2, timestamp_ms=T0)
    assert not feed(host, MessageType.DDATA, data, DEVICE).counter_widths


def test_without_tag_maps_no_width_is_reported(host: SparkplugHost) -> None:
    out = feed(host, MessageType.NBIRTH, encode_nbirth(NODE_METRICS, seq=0, bd_seq=0, timestamp_ms=T0))
    assert not out.counter_widths and out.samples
