"""Sparkplug B 3.0 host application logic, with no MQTT client in it.

The driver (oee_tui.drivers.sparkplug.host_driver) feeds every received message into
:meth:`SparkplugHost.handle` and calls :meth:`SparkplugHost.poll` when the deadline of
:meth:`SparkplugHost.next_deadline` passes; both return a :class:`HostOutput` with the
samples to emit, the commands to publish and the dead letters to store. Keeping the state
machine free of paho makes every rule below testable without a broker.

Rules (Sparkplug B 3.0, "Host Applications"):

* Per edge node: the bdSeq of its current NBIRTH, its alias table, its devices and the next
  ``seq`` (0..255, wrapping). NBIRTH, NDATA, DBIRTH, DDATA and DDEATH share that one seq.
* A message ahead of the expected seq waits in a small reorder buffer: MQTT keeps order per
  connection, but a bridge or a shared subscription can swap neighbours. If the gap is not
  filled within ``reorder_timeout_s`` (or the buffer fills), the buffered messages are
  delivered in seq order anyway, since their values are real, and a rebirth is requested
  because something in between was lost.
* A message behind the expected seq (a duplicate, or one that came after its gap was given
  up) must not move live values backwards: its metrics are returned as historical.
* NDEATH whose bdSeq matches the current NBIRTH, and DDEATH, make every metric of that node
  (and its devices) BAD, so its machines go offline. An NDEATH with another bdSeq is the
  delayed will of an older session and is ignored.
* DATA before any birth, an unknown alias or name, or a seq gap that does not fill: the host
  asks the edge node for a rebirth with an NCMD ``Node Control/Rebirth = true``. Requests to
  one node are spaced by ``rebirth_holdoff_s`` so a chatty node cannot make the host flood it.
* A DATA metric is resolved by alias before name. One that no birth defined is dead-lettered
  on its own (one rebirth request per message) while the message's other metrics are kept.
* Bytes that cannot be read become a :class:`DeadLetter` with the raw payload and the reason;
  one bad message never stops the stream.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from oee_tui.model import BornMetrics, DeadLetter, Quality, SampleColumns, TagSample, TagValue
from oee_tui.mqtt.metric_patterns import MetricRouter
from oee_tui.mqtt.sparkplug_codec import (
    BD_SEQ_METRIC,
    INTEGER_WIDTHS,
    NAMESPACE,
    REBIRTH_METRIC,
    AliasTable,
    DataType,
    DecodedMessage,
    FileValue,
    MessageType,
    Payload,
    SparkplugDecodeError,
    SparkplugTopic,
    SparkplugTopicError,
    UnknownMetricError,
    _decode_metrics,  # the codec's DATA hot path on an already parsed payload: no second parse
    decode_payload,
    metric_value,
    parse_state,
    parse_topic,
    set_metric_value,
    state_payload,
    state_topic,
    topic,
)

__all__ = [
    "DEFAULT_HOST_ID",
    "DEFAULT_REBIRTH_HOLDOFF_S",
    "DEFAULT_REORDER_TIMEOUT_S",
    "HostOutput",
    "Publication",
    "SparkplugHost",
    "plain_value",
    "rebirth_command",
    "state_birth",
    "state_will",
]

log = logging.getLogger(__name__)

DEFAULT_HOST_ID: Final = "oee-tui"
DEFAULT_REORDER_TIMEOUT_S: Final = 2.0
DEFAULT_REBIRTH_HOLDOFF_S: Final = 5.0
DEFAULT_REORDER_BUFFER: Final = 16  # messages waiting for one gap; more than that is a real loss
TOPIC_CACHE_SIZE: Final = 10_000  # parsed topics kept; a node or device has four or five
_SEQ_MODULUS: Final = 256
_AHEAD_WINDOW: Final = _SEQ_MODULUS // 2  # seq up to 127 ahead is "early"; further is "late"
_GOOD: Final = Quality.GOOD
# Values TagSample carries as they are; anything else (dicts, lists, bytes, FileValue) goes
# through plain_value. An exact type test is one set lookup instead of an isinstance chain.
_PLAIN_TYPES: Final = frozenset({int, float, str, bool, type(None)})

@dataclass(frozen=True, slots=True)
class Publication:
    """One MQTT message the host wants sent. ``reason`` says why, for logs."""

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    reason: str = ""


def state_birth(host_id: str, timestamp_ms: int, namespace: str = NAMESPACE) -> Publication:
    """STATE online (3.0: JSON, retained, QoS 1), with the same timestamp as the will before it."""
    return Publication(state_topic(host_id, namespace), state_payload(True, timestamp_ms), qos=1, retain=True)


def state_will(host_id: str, timestamp_ms: int, namespace: str = NAMESPACE) -> Publication:
    """STATE offline: the MQTT will set before CONNECT, and what a clean shutdown publishes."""
    return Publication(state_topic(host_id, namespace), state_payload(False, timestamp_ms), qos=1, retain=True)


def rebirth_command(group_id: str, edge_node_id: str, timestamp_ms: int, reason: str = "",
                    namespace: str = NAMESPACE) -> Publication:
    """NCMD ``Node Control/Rebirth = true`` (3.0: QoS 0, not retained, a timestamp and no seq)."""
    payload = Payload(timestamp=timestamp_ms)
    metric = payload.metrics.add(name=REBIRTH_METRIC)
    set_metric_value(metric, DataType.Boolean, True)
    metric.timestamp = timestamp_ms
    return Publication(topic(group_id, MessageType.NCMD, edge_node_id, namespace=namespace),
                       payload.SerializeToString(),
                       qos=0, retain=False, reason=reason)


def plain_value(value: Any) -> TagValue:
    """A value TagSample can carry. Complex Sparkplug values become JSON text, kept losslessly."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, FileValue):
        return json.dumps({"file_name": value.file_name, "file_type": value.file_type,
                           "content_base64": base64.b64encode(value.content).decode("ascii")})
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    return json.dumps(value, separators=(",", ":"), default=str)


@dataclass(slots=True)
class HostOutput:
    """What calls into the host produced, in the order of the messages. ``historical`` never
    moves live values.

    Live samples come in ``batches``: the metrics of NDATA and DDATA as columns
    (:class:`SampleColumns`, all GOOD: no TagSample is built for them), births and deaths as
    TagSamples. ``samples`` lists them all as TagSamples, for whoever wants them one by one.
    """

    source: str = ""
    batches: list[list[TagSample] | SampleColumns] = field(default_factory=list)
    historical: list[TagSample] = field(default_factory=list)
    commands: list[Publication] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    # mapped tag -> bits of the integer datatype a birth gave its metric: what a counter wraps at
    counter_widths: dict[str, int] = field(default_factory=dict)
    births: list[BornMetrics] = field(default_factory=list)  # every metric each birth declared, mapped or not
    republish_state: bool = False  # someone overwrote our STATE with offline: publish online again

    @property
    def samples(self) -> list[TagSample]:
        return [sample for batch in self.batches for sample in batch]

    def add_samples(self, samples: Iterable[TagSample]) -> None:
        samples = list(samples)
        if not samples:
            return
        tail = self.batches[-1] if self.batches else None
        if not isinstance(tail, list):
            tail = []
            self.batches.append(tail)
        tail.extend(samples)

    def columns(self) -> SampleColumns:
        """The columns that the next DATA metrics are appended to (after anything already here)."""
        tail = self.batches[-1] if self.batches else None
        if not isinstance(tail, SampleColumns):
            tail = SampleColumns(self.source, [], [], [])
            self.batches.append(tail)
        return tail

    def extend(self, other: HostOutput) -> None:
        for batch in other.batches:
            if isinstance(batch, SampleColumns):
                columns = self.columns()
                columns.times.extend(batch.times)
                columns.tags.extend(batch.tags)
                columns.values.extend(batch.values)
            else:
                self.add_samples(batch)
        self.historical.extend(other.historical)
        self.commands.extend(other.commands)
        self.dead_letters.extend(other.dead_letters)
        self.counter_widths.update(other.counter_widths)
        self.births.extend(other.births)
        self.republish_state = self.republish_state or other.republish_state

    def __bool__(self) -> bool:
        return bool(any(self.batches) or self.historical or self.commands or self.dead_letters
                    or self.counter_widths or self.births or self.republish_state)


@dataclass(slots=True)
class _Buffered:
    """A seq-carrying message parsed and waiting for its turn."""

    message_type: MessageType
    device_id: str | None
    topic: str
    raw: bytes
    payload: Payload
    arrival_ts: float


@dataclass(slots=True)
class _Metrics:
    """One edge node's or device's definitions and the tags its metrics feed."""

    prefix: str  # "group/edge" or "group/edge/device"
    router: MetricRouter | None = None  # None: every metric under its own tag
    keep_all: bool = False  # every metric under its own tag too, besides the mapped tags the router gives
    table: AliasTable = field(default_factory=AliasTable)
    names: list[str] = field(default_factory=list)  # in birth order, for the BAD samples of a death
    born: bool = False
    # metric name -> the mapped tags it feeds (none: not mapped), filled as metrics arrive
    routes: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def route(self, name: str) -> tuple[str, ...]:
        targets = self.routes.get(name)
        if targets is None:
            tag = f"{self.prefix}/{name}"
            if self.router is None:
                targets = (tag,)
            elif self.keep_all:
                targets = tuple(dict.fromkeys((tag, *self.router.targets(tag))))
            else:
                targets = self.router.targets(tag)
            self.routes[name] = targets
        return targets


@dataclass(slots=True)
class _Node:
    group_id: str
    edge_node_id: str
    metrics: _Metrics
    bd_seq: int | None = None
    expected_seq: int | None = None  # None: the birth carried no seq, so order cannot be checked
    devices: dict[str, _Metrics] = field(default_factory=dict)
    pending: dict[int, _Buffered] = field(default_factory=dict)
    gap_deadline: float | None = None  # host clock time when a waiting gap is given up
    rebirth_requested_at: float | None = None


class SparkplugHost:
    """The state of every edge node and device seen on the broker, fed one message at a time.

    ``router`` keeps only the metrics the tag maps ask for, under the mapped tags (a pattern's
    own text for a wildcard); without one every metric is delivered under its own tag.
    ``clock`` is monotonic seconds for the reorder and rebirth timers (a test passes its own);
    ``arrival_ts`` given to :meth:`handle` is POSIX time, used for samples without a timestamp
    and for dead letters. ``groups`` limits the host to those Sparkplug groups (empty: all).
    """

    def __init__(self, source: str, *, host_id: str = DEFAULT_HOST_ID, groups: Iterable[str] = (),
                 reorder_timeout_s: float = DEFAULT_REORDER_TIMEOUT_S,
                 rebirth_holdoff_s: float = DEFAULT_REBIRTH_HOLDOFF_S,
                 reorder_buffer: int = DEFAULT_REORDER_BUFFER,
                 clock: Callable[[], float] = time.monotonic, namespace: str = NAMESPACE,
                 router: MetricRouter | None = None, keep_all: bool = False) -> None:
        self.source = source
        self.router = router
        self.keep_all = keep_all
        self.namespace = namespace
        self.host_id = host_id
        self.groups = frozenset(groups)
        self.reorder_timeout_s = reorder_timeout_s
        self.rebirth_holdoff_s = rebirth_holdoff_s
        self.reorder_buffer = max(1, reorder_buffer)
        self.clock = clock
        self.state_timestamp_ms: int | None = None  # our own STATE birth's, set by the driver
        self._nodes: dict[tuple[str, str], _Node] = {}
        self._topics: dict[str, SparkplugTopic] = {}  # parsed once: a plant repeats its topics
        self.rebirths_requested = 0

    # ------------------------------------------------------------ entry points

    def handle(self, topic_name: str, raw: bytes, arrival_ts: float, out: HostOutput | None = None) -> HostOutput:
        """Take one received message, adding what it gives to `out` (a new one when None), which
        is returned. Never raises for anything a publisher sent."""
        if out is None:
            out = HostOutput(self.source)
        try:
            self._handle(topic_name, raw, arrival_ts, out)
        except SparkplugDecodeError as exc:
            self._dead_letter(out, topic_name, raw, arrival_ts, exc.reason)
        except SparkplugTopicError as exc:
            self._dead_letter(out, topic_name, raw, arrival_ts, str(exc))
        except Exception as exc:  # a bug here must cost one message, not the whole stream
            log.exception("%s: cannot handle a message on %s", self.source, topic_name)
            self._dead_letter(out, topic_name, raw, arrival_ts, f"internal error: {type(exc).__name__}: {exc}")
        return out

    def poll(self) -> HostOutput:
        """Give up the gaps whose reorder timeout has passed."""
        out = HostOutput(self.source)
        now = self.clock()
        for node in list(self._nodes.values()):
            if node.gap_deadline is not None and now >= node.gap_deadline:
                self._give_up_gap(node, out)
        return out

    def next_deadline(self) -> float | None:
        """The earliest host-clock time at which :meth:`poll` has work, or None."""
        deadlines = [node.gap_deadline for node in self._nodes.values() if node.gap_deadline is not None]
        return min(deadlines) if deadlines else None

    def node_bd_seq(self, group_id: str, edge_node_id: str) -> int | None:
        node = self._nodes.get((group_id, edge_node_id))
        return None if node is None else node.bd_seq

    # ------------------------------------------------------------ dispatch

    def _handle(self, topic_name: str, raw: bytes, arrival_ts: float, out: HostOutput) -> None:
        parsed = self._topics.get(topic_name)
        if parsed is None:
            parsed = parse_topic(topic_name, self.namespace)  # raises for a bad topic: never cached
            if len(self._topics) >= TOPIC_CACHE_SIZE:
                self._topics.clear()  # only a plant with more topics than that pays the parse again
            self._topics[topic_name] = parsed
        kind = parsed.message_type
        if kind is MessageType.STATE:
            # Other hosts' STATE is not ours to act on, but a broken one is still dead-lettered.
            online, _ = parse_state(raw)
            if parsed.host_id == self.host_id and not online and self.state_timestamp_ms is not None:
                # A late will of an older session (or another process) says we are offline;
                # 3.0 asks the host to answer any offline on its own topic with its birth again.
                out.republish_state = True
            return
        if kind in (MessageType.NCMD, MessageType.DCMD):
            return  # commands go to edge nodes; ours come back to us through the wildcard
        assert parsed.group_id is not None and parsed.edge_node_id is not None
        if self.groups and parsed.group_id not in self.groups:
            return
        payload = decode_payload(raw)
        node = self._node(parsed.group_id, parsed.edge_node_id)
        if kind is MessageType.NDEATH:
            self._on_ndeath(node, payload, topic_name, raw, arrival_ts, out)
        elif kind is MessageType.NBIRTH:
            self._on_nbirth(node, payload, topic_name, raw, arrival_ts, out)
        else:
            self._sequenced(node, _Buffered(kind, parsed.device_id, topic_name, raw, payload, arrival_ts), out)

    def _node(self, group_id: str, edge_node_id: str) -> _Node:
        key = (group_id, edge_node_id)
        node = self._nodes.get(key)
        if node is None:
            node = self._nodes[key] = _Node(group_id, edge_node_id, _Metrics(f"{group_id}/{edge_node_id}", self.router,
                                                                          self.keep_all))
        return node

    # ------------------------------------------------------------ node birth and death

    def _on_nbirth(self, node: _Node, payload: Payload, topic_name: str, raw: bytes, arrival_ts: float,
                   out: HostOutput) -> None:
        # A birth starts a new session whatever the seq said before: drop what waited.
        node.pending.clear()
        node.gap_deadline = None
        node.rebirth_requested_at = None
        for device in node.devices.values():
            device.born = False  # 3.0: after an NBIRTH every device must be born again
        try:
            decoded = self._birth(node.metrics, payload)
        except SparkplugDecodeError as exc:
            node.metrics.born = False
            node.bd_seq = None
            node.expected_seq = None
            self._dead_letter(out, topic_name, raw, arrival_ts, f"NBIRTH rejected: {exc.reason}")
            return
        node.bd_seq = _bd_seq_of(payload)
        node.expected_seq = None if decoded.seq is None else (decoded.seq + 1) % _SEQ_MODULUS
        self._counter_widths(node.metrics, out)
        out.births.append(_born(node, None, node.metrics))
        self._samples(node.metrics, decoded, arrival_ts, out)

    def _on_ndeath(self, node: _Node, payload: Payload, topic_name: str, raw: bytes, arrival_ts: float,
                   out: HostOutput) -> None:
        bd_seq = _bd_seq_of(payload)
        if bd_seq is None:
            self._dead_letter(out, topic_name, raw, arrival_ts, "NDEATH without a bdSeq metric")
            return
        if not node.metrics.born or bd_seq != node.bd_seq:
            # The will of an older session, delivered after the node was born again.
            log.debug("%s: NDEATH with bdSeq %s ignored (current birth: %s)", node.metrics.prefix, bd_seq,
                      node.bd_seq)
            return
        error = f"edge node {node.group_id}/{node.edge_node_id} is offline (NDEATH)"
        self._mark_dead(node.metrics, arrival_ts, error, out)
        for device in node.devices.values():
            self._mark_dead(device, arrival_ts, error, out)
        node.pending.clear()
        node.gap_deadline = None
        node.expected_seq = None

    # ------------------------------------------------------------ seq order

    def _sequenced(self, node: _Node, message: _Buffered, out: HostOutput) -> None:
        if not node.metrics.born:
            self._before_birth(node, message, out)
            return
        seq = message.payload.seq if message.payload.HasField("seq") else None
        expected = node.expected_seq
        if expected is None or seq is None:
            self._process(node, message, out)
            return
        distance = (seq - expected) % _SEQ_MODULUS
        if distance == 0:
            node.expected_seq = (seq + 1) % _SEQ_MODULUS
            self._process(node, message, out)
            self._drain(node, out)
        elif distance < _AHEAD_WINDOW:
            node.pending[seq] = message
            if node.gap_deadline is None:
                node.gap_deadline = self.clock() + self.reorder_timeout_s
            if len(node.pending) > self.reorder_buffer:
                self._give_up_gap(node, out)
        else:
            log.debug("%s: seq %d arrived after %d; kept as history", node.metrics.prefix, seq, expected)
            self._process(node, message, out, late=True)

    def _drain(self, node: _Node, out: HostOutput) -> None:
        while node.expected_seq is not None and node.expected_seq in node.pending:
            message = node.pending.pop(node.expected_seq)
            node.expected_seq = (node.expected_seq + 1) % _SEQ_MODULUS
            self._process(node, message, out)
        if not node.pending:
            node.gap_deadline = None

    def _give_up_gap(self, node: _Node, out: HostOutput) -> None:
        expected = node.expected_seq
        node.gap_deadline = None
        if expected is None or not node.pending:
            return
        # Deliver what waited in seq order from the expected one: those values are real.
        ordered = sorted(node.pending, key=lambda seq: (seq - expected) % _SEQ_MODULUS)
        first = ordered[0]
        node.expected_seq = first
        self._drain(node, out)
        # Anything left sits behind another gap: start its own wait.
        if node.pending:
            node.gap_deadline = self.clock() + self.reorder_timeout_s
        self._request_rebirth(node, f"seq gap: expected {expected}, next received {first}", out)

    # ------------------------------------------------------------ one message, in order

    def _process(self, node: _Node, message: _Buffered, out: HostOutput, *, late: bool = False) -> None:
        kind = message.message_type
        if kind is MessageType.DBIRTH:
            if late:
                return  # an old device definition must not replace the current one
            self._on_dbirth(node, message, out)
            return
        if kind is MessageType.DDEATH:
            if late:
                return
            device = node.devices.get(message.device_id or "")
            if device is not None and device.born:
                error = f"device {node.group_id}/{node.edge_node_id}/{message.device_id} is offline (DDEATH)"
                self._mark_dead(device, message.arrival_ts, error, out)
            return
        target = node.metrics if kind is MessageType.NDATA else node.devices.get(message.device_id or "")
        if target is None or not target.born:  # DDATA of a device not (or no longer) born
            self._before_birth(node, message, out)
            return
        try:
            unknown = self._data(target, message.payload, message.arrival_ts, late, out)
        except SparkplugDecodeError as exc:
            self._dead_letter(out, message.topic, message.raw, message.arrival_ts, exc.reason)
            return
        if unknown:
            # The known metrics are in; each unknown one is its own dead letter (with the whole
            # message's bytes, as every dead letter has), and one rebirth asks for its definition.
            for missing in unknown:
                self._dead_letter(out, message.topic, message.raw, message.arrival_ts,
                                  f"{missing.reason}; the message's other metrics were stored")
            self._request_rebirth(node, unknown[0].reason if len(unknown) == 1 else
                                  f"{len(unknown)} metrics not defined by a birth certificate", out)

    def _on_dbirth(self, node: _Node, message: _Buffered, out: HostOutput) -> None:
        device_id = message.device_id or ""
        device = node.devices.get(device_id)
        if device is None:
            device = node.devices[device_id] = _Metrics(f"{node.metrics.prefix}/{device_id}", self.router,
                                                        self.keep_all)
        try:
            decoded = self._birth(device, message.payload)
        except SparkplugDecodeError as exc:
            device.born = False
            self._dead_letter(out, message.topic, message.raw, message.arrival_ts, f"DBIRTH rejected: {exc.reason}")
            return
        self._counter_widths(device, out)
        out.births.append(_born(node, device_id, device))
        self._samples(device, decoded, message.arrival_ts, out)

    def _before_birth(self, node: _Node, message: _Buffered, out: HostOutput) -> None:
        what = f"{message.message_type} from {message.topic} before its birth certificate"
        if message.message_type in (MessageType.NDATA, MessageType.DDATA):
            # Without the birth its aliases and datatypes cannot be read: keep the bytes.
            self._dead_letter(out, message.topic, message.raw, message.arrival_ts, what)
        self._request_rebirth(node, what, out)

    # ------------------------------------------------------------ helpers

    @staticmethod
    def _birth(metrics: _Metrics, payload: Payload) -> DecodedMessage:
        metrics.born = False
        metrics.routes.clear()  # bounded by what births define, even when they rename metrics
        metrics.table.apply_birth(payload)
        decoded = _decode_metrics(payload, metrics.table)
        metrics.names = list(dict.fromkeys(name for name, *_ in decoded.metrics))
        metrics.born = True
        return decoded

    def _data(self, metrics: _Metrics, payload: Payload, arrival_ts: float, late: bool,
              out: HostOutput) -> list[UnknownMetricError] | None:
        """NDATA/DDATA straight into the output's columns: the host's hot path, one loop per message.

        The same rules as the codec's ``_decode_metrics`` followed by :meth:`_samples`, fused so
        that nothing is built per metric but its value: alias -> (name, reader) from the table's
        hot dict, name -> mapped tags from a cache, plain values passed through without
        :func:`plain_value`, and three appends to the columns. Every metric is decoded, mapped
        or not. A metric no birth defined (by alias, then name) is skipped and returned, so
        that its neighbours are still stored; any other failure takes back what this message
        appended: a value that cannot be read costs the whole message, never half of it.
        """
        table = metrics.table
        hot = table._hot
        routes = metrics.routes
        default_ts = payload.timestamp
        columns = out.columns()
        times, tags, values = columns.times, columns.tags, columns.values
        historical = out.historical
        live_mark, historical_mark = len(times), len(historical)
        unknown: list[UnknownMetricError] | None = None
        try:
            for metric in payload.metrics:
                found = hot.get(metric.alias)
                if found is None:
                    try:
                        entry = table._resolve(metric)
                    except UnknownMetricError as exc:
                        if unknown is None:
                            unknown = []
                        unknown.append(exc)
                        continue
                    found = (entry.name, entry.reader)
                name, reader = found
                value = reader(metric)
                if not value and metric.is_null:
                    value = None
                elif type(value) not in _PLAIN_TYPES:
                    value = plain_value(value)
                targets = routes.get(name)
                if targets is None:
                    targets = metrics.route(name)
                if not targets:
                    continue
                timestamp_ms = metric.timestamp or default_ts
                ts = timestamp_ms / 1000.0 if timestamp_ms else arrival_ts
                if late or metric.is_historical:
                    historical.extend(TagSample(ts, self.source, tag, value, _GOOD) for tag in targets)
                    continue
                for tag in targets:
                    times.append(ts)
                    tags.append(tag)
                    values.append(value)
        except BaseException:
            del times[live_mark:], tags[live_mark:], values[live_mark:], historical[historical_mark:]
            raise
        return unknown

    @staticmethod
    def _counter_widths(metrics: _Metrics, out: HostOutput) -> None:
        """The width of every mapped metric of an integer datatype, for the engine's counters
        (only while tag maps route: without them no metric feeds a counter)."""
        if metrics.router is None:
            return
        for name, datatype in metrics.table.datatypes().items():
            width = INTEGER_WIDTHS.get(datatype)
            if width is not None:
                for tag in metrics.route(name):
                    out.counter_widths[tag] = width

    def _samples(self, metrics: _Metrics, decoded: DecodedMessage, arrival_ts: float, out: HostOutput,
                 *, late: bool = False) -> None:
        source = self.source
        live: list[TagSample] = []
        for name, value, timestamp_ms, historical in decoded.metrics:
            ts = timestamp_ms / 1000.0 if timestamp_ms else arrival_ts
            samples = [TagSample(ts, source, tag, plain_value(value), Quality.GOOD) for tag in metrics.route(name)]
            (out.historical if historical or late else live).extend(samples)
        out.add_samples(live)

    def _mark_dead(self, metrics: _Metrics, arrival_ts: float, error: str, out: HostOutput) -> None:
        if not metrics.born:
            return
        metrics.born = False
        out.add_samples(TagSample(arrival_ts, self.source, tag, None, Quality.BAD, error)
                        for name in metrics.names for tag in metrics.route(name))

    def _request_rebirth(self, node: _Node, reason: str, out: HostOutput) -> None:
        now = self.clock()
        last = node.rebirth_requested_at
        if last is not None and now - last < self.rebirth_holdoff_s:
            return  # one request is on its way; the birth it brings answers this one too
        node.rebirth_requested_at = now
        self.rebirths_requested += 1
        log.info("%s/%s: requesting a rebirth: %s", node.group_id, node.edge_node_id, reason)
        out.commands.append(rebirth_command(node.group_id, node.edge_node_id, int(time.time() * 1000), reason,
                                            namespace=self.namespace))

    def _dead_letter(self, out: HostOutput, topic_name: str, raw: bytes, arrival_ts: float, error: str) -> None:
        out.dead_letters.append(DeadLetter(arrival_ts, self.source, topic_name, bytes(raw), error))


def _bd_seq_of(payload: Payload) -> int | None:
    for metric in payload.metrics:
        if metric.name == BD_SEQ_METRIC:
            value = metric_value(metric, metric.datatype or DataType.Int64)
            return value if isinstance(value, int) and not isinstance(value, bool) else None
    return None


def _born(node: _Node, device_id: str | None, metrics: _Metrics) -> BornMetrics:
    """What a birth declared, every metric with its datatype's name, for whoever lists them (the Devices screen)."""
    datatypes = metrics.table.datatypes()
    declared = tuple((name, _datatype_name(datatypes.get(name))) for name in metrics.names)
    return BornMetrics(node.group_id, node.edge_node_id, device_id, declared)


def _datatype_name(datatype: int | None) -> str:
    if datatype is None:
        return "Unknown"
    try:
        return DataType(datatype).name
    except ValueError:  # a code this codec does not know
        return f"DataType {datatype}"
