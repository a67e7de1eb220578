"""Sparkplug B (specification 3.0) codec: topics, payloads, metric values, aliases.

This module is the protocol layer of the MQTT host application. It knows nothing about
brokers, machines or OEE: it turns topic strings and payload bytes into typed Python values
and back.

Decoding rules, in the spirit of "accept what publishers in the wild send":

* Signed integers travel as the two's complement in the unsigned wire fields (Int8/16/32 in
  ``int_value``, Int64 in ``long_value``). A value is read from whichever of ``int_value`` and
  ``long_value`` is present, truncated to the declared width and then sign-interpreted, the way
  Tahu's Java decoder casts. So ``-1`` as Int8 decodes from 0xFF, 0xFFFFFFFF or a 64-bit
  sign-extended long alike, and UInt32 is accepted in either field.
* Float/Double accept either float field; Boolean also accepts a non-zero ``int_value``.
* DateTime (epoch ms) decodes to float POSIX seconds, as ``TagSample.ts_utc`` uses.
* DataSet, Template, PropertySet(List) and arrays decode to JSON-compatible structures, so the
  store keeps them losslessly as JSON. Inside those structures bytes become base64 text.
* ``is_null`` decodes to ``None``.

Metric timestamps in decoded samples stay integer epoch milliseconds (the wire unit, exact).

Errors: everything wrong with bytes from the network raises :class:`SparkplugDecodeError`
(with ``reason``), so the host can dead-letter the raw payload. :class:`UnknownMetricError` is
the subclass raised for an alias or name no birth defined; the host answers it with a rebirth
request.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any, NamedTuple

from google.protobuf.message import DecodeError, EncodeError

from oee_tui.mqtt.generated.sparkplug_b_pb2 import Payload

__all__ = [
    "COMPRESSED_UUID",
    "INTEGER_WIDTHS",
    "NAMESPACE",
    "AliasTable",
    "DataType",
    "DecodedMessage",
    "FileValue",
    "MessageType",
    "MetricSpec",
    "Payload",
    "SparkplugDecodeError",
    "SparkplugTopic",
    "SparkplugTopicError",
    "UnknownMetricError",
    "compress_payload",
    "dataset_value",
    "decode_birth",
    "decode_data",
    "decode_payload",
    "encode_dbirth",
    "encode_ddata",
    "encode_ddeath",
    "encode_nbirth",
    "encode_ndata",
    "encode_ndeath",
    "metric_value",
    "parse_state",
    "parse_topic",
    "property_set_value",
    "set_metric_value",
    "state_payload",
    "state_topic",
    "template_value",
    "topic",
]

NAMESPACE = "spBv1.0"
COMPRESSED_UUID = "SPBV1.0_COMPRESSED"  # Tahu's marker for a compressed envelope
ALGORITHM_METRIC = "algorithm"
BD_SEQ_METRIC = "bdSeq"
REBIRTH_METRIC = "Node Control/Rebirth"
# A compressed body may not inflate beyond this: a few kB of DEFLATE can expand to gigabytes,
# and a host must not be knocked over by one hostile or broken publisher.
MAX_INFLATED_BYTES = 16 * 1024 * 1024


class DataType(IntEnum):
    """Sparkplug B datatypes (spec 3.0, 6.4.16). Mirrors the ``DataType`` enum in the .proto."""

    Unknown = 0
    Int8 = 1
    Int16 = 2
    Int32 = 3
    Int64 = 4
    UInt8 = 5
    UInt16 = 6
    UInt32 = 7
    UInt64 = 8
    Float = 9
    Double = 10
    Boolean = 11
    String = 12
    DateTime = 13
    Text = 14
    UUID = 15
    DataSet = 16
    Bytes = 17
    File = 18
    Template = 19
    PropertySet = 20
    PropertySetList = 21
    Int8Array = 22
    Int16Array = 23
    Int32Array = 24
    Int64Array = 25
    UInt8Array = 26
    UInt16Array = 27
    UInt32Array = 28
    UInt64Array = 29
    FloatArray = 30
    DoubleArray = 31
    BooleanArray = 32
    StringArray = 33
    DateTimeArray = 34


class MessageType(StrEnum):
    NBIRTH = "NBIRTH"
    NDATA = "NDATA"
    NDEATH = "NDEATH"
    NCMD = "NCMD"
    DBIRTH = "DBIRTH"
    DDATA = "DDATA"
    DDEATH = "DDEATH"
    DCMD = "DCMD"
    STATE = "STATE"


_NODE_TYPES = frozenset({MessageType.NBIRTH, MessageType.NDATA, MessageType.NDEATH, MessageType.NCMD})
_DEVICE_TYPES = frozenset({MessageType.DBIRTH, MessageType.DDATA, MessageType.DDEATH, MessageType.DCMD})


class SparkplugDecodeError(ValueError):
    """Bytes or values from the network that cannot be decoded. ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownMetricError(SparkplugDecodeError):
    """A DATA metric whose alias or name no birth defined: the host should request a rebirth."""

    def __init__(self, alias: int | None = None, name: str | None = None) -> None:
        what = f"name {name!r}" if name else f"alias {alias}"
        super().__init__(f"metric with {what} was not defined by a birth certificate")
        self.alias = alias
        self.name = name


class SparkplugTopicError(ValueError):
    """A topic that is not a Sparkplug B 3.0 topic."""


class FileValue(NamedTuple):
    """Value of a File metric: the content plus the file name and type from its metadata."""

    content: bytes
    file_name: str | None = None
    file_type: str | None = None


# -- topics ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SparkplugTopic:
    """A parsed Sparkplug topic. STATE topics carry only ``host_id``; the others never do."""

    message_type: MessageType
    group_id: str | None = None
    edge_node_id: str | None = None
    device_id: str | None = None
    host_id: str | None = None


def _check_id(kind: str, value: str, full: str) -> None:
    # '+' and '#' are MQTT wildcards and '/' the level separator: none may be part of an id.
    if not value or "+" in value or "#" in value:
        raise SparkplugTopicError(f"{full!r}: empty or wildcard {kind}")


def parse_topic(topic_name: str, namespace: str = NAMESPACE) -> SparkplugTopic:
    """Parse ``spBv1.0/<group>/<type>/<edge_node>[/<device>]`` or ``spBv1.0/STATE/<host_id>``.

    `namespace` is the topics' first level: the specification's ``spBv1.0`` unless a plant
    runs its Sparkplug traffic under another root (a source's ``namespace`` key).
    """
    parts = topic_name.split("/")
    if parts[0] != namespace:
        raise SparkplugTopicError(f"{topic_name!r}: namespace must be {namespace!r}")
    if len(parts) == 3 and parts[1] == MessageType.STATE:
        _check_id("host id", parts[2], topic_name)
        return SparkplugTopic(MessageType.STATE, host_id=parts[2])
    if len(parts) not in (4, 5):
        raise SparkplugTopicError(
            f"{topic_name!r}: expected {namespace}/<group>/<type>/<edge_node>[/<device>] "
            f"or {namespace}/STATE/<host_id>"
        )
    try:
        message_type = MessageType(parts[2])
    except ValueError:
        raise SparkplugTopicError(f"{topic_name!r}: unknown message type {parts[2]!r}") from None
    if message_type in _NODE_TYPES and len(parts) != 4:
        raise SparkplugTopicError(f"{topic_name!r}: {message_type} topics have no device id")
    if message_type in _DEVICE_TYPES and len(parts) != 5:
        raise SparkplugTopicError(f"{topic_name!r}: {message_type} topics need a device id")
    if message_type is MessageType.STATE:
        raise SparkplugTopicError(f"{topic_name!r}: STATE topics are {namespace}/STATE/<host_id>")
    _check_id("group id", parts[1], topic_name)
    _check_id("edge node id", parts[3], topic_name)
    device = parts[4] if len(parts) == 5 else None
    if device is not None:
        _check_id("device id", device, topic_name)
    return SparkplugTopic(message_type, group_id=parts[1], edge_node_id=parts[3], device_id=device)


def topic(group_id: str, message_type: MessageType | str, edge_node_id: str, device_id: str | None = None,
          namespace: str = NAMESPACE) -> str:
    """Build a node or device topic; the inverse of :func:`parse_topic`."""
    name = f"{namespace}/{group_id}/{MessageType(message_type)}/{edge_node_id}"
    if device_id is not None:
        name += f"/{device_id}"
    parse_topic(name, namespace)  # one validation, shared with the decoder
    return name


def state_topic(host_id: str, namespace: str = NAMESPACE) -> str:
    name = f"{namespace}/STATE/{host_id}"
    parse_topic(name, namespace)
    return name


def state_payload(online: bool, timestamp_ms: int) -> bytes:
    """The Sparkplug 3.0 STATE message (JSON, not protobuf): ``{"online": ..., "timestamp": ...}``."""
    return json.dumps({"online": bool(online), "timestamp": int(timestamp_ms)}).encode()


def parse_state(raw: bytes) -> tuple[bool, int]:
    """Decode a STATE payload into ``(online, timestamp_ms)``."""
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise SparkplugDecodeError(f"STATE payload is not JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("online"), bool):
        raise SparkplugDecodeError("STATE payload needs a boolean 'online'")
    timestamp = doc.get("timestamp")
    if not isinstance(timestamp, int) or isinstance(timestamp, bool):
        raise SparkplugDecodeError("STATE payload needs an integer 'timestamp'")
    return doc["online"], timestamp


# -- payload bytes ---------------------------------------------------------------------------


def _inflate(body: bytes, algorithm: str | None) -> bytes:
    # zlib wbits: 15 = zlib stream (what Tahu's DEFLATE produces: java.util.zip.Deflater and
    # pako.deflate), 31 = gzip, 47 = either (auto-detect), -15 = raw DEFLATE (seen from some
    # non-Tahu publishers, so DEFLATE falls back to it).
    attempts: tuple[int, ...]
    if algorithm == "GZIP":
        attempts = (31,)
    elif algorithm == "DEFLATE":
        attempts = (15, -15)
    elif algorithm is None:
        attempts = (47, -15)
    else:
        raise SparkplugDecodeError(f"unsupported compression algorithm {algorithm!r}")
    last_error = "empty body"
    for wbits in attempts:
        inflater = zlib.decompressobj(wbits)
        try:
            out = inflater.decompress(body, MAX_INFLATED_BYTES + 1)
        except zlib.error as exc:
            last_error = str(exc)
            continue
        if len(out) > MAX_INFLATED_BYTES:
            raise SparkplugDecodeError(f"compressed body inflates beyond {MAX_INFLATED_BYTES} bytes")
        if not inflater.eof:
            last_error = "compressed body is truncated"
            continue
        return out
    raise SparkplugDecodeError(f"cannot inflate {algorithm or 'compressed'} body: {last_error}")


def _envelope_algorithm(metrics: Iterable[Any]) -> str | None:
    for metric in metrics:
        if metric.name == ALGORITHM_METRIC:
            return metric.string_value.upper() or None
    return None


def _parse(raw: bytes) -> Payload:
    try:
        return Payload.FromString(raw)
    except (DecodeError, RecursionError, ValueError, TypeError) as exc:
        # DecodeError is what upb raises; the others guard the pure-Python protobuf backend.
        raise SparkplugDecodeError(f"not a Sparkplug B payload: {exc}") from None


def decode_payload(raw: bytes) -> Payload:
    """Parse payload bytes, unwrapping Tahu's compressed envelope (DEFLATE or GZIP).

    Raises :class:`SparkplugDecodeError` and nothing else for any input.
    """
    payload = _parse(raw)
    if payload.uuid != COMPRESSED_UUID:
        return payload
    inner = _parse(_inflate(payload.body, _envelope_algorithm(payload.metrics)))
    if inner.uuid == COMPRESSED_UUID:
        # Tahu never nests envelopes; refusing bounds the work a hostile payload can ask for.
        raise SparkplugDecodeError("nested compressed payloads are not allowed")
    return inner


def compress_payload(raw: bytes, algorithm: str = "DEFLATE", *, seq: int | None = None,
                     timestamp_ms: int | None = None) -> bytes:
    """Wrap encoded payload bytes in Tahu's compressed envelope."""
    algorithm = algorithm.upper()
    if algorithm == "DEFLATE":
        body = zlib.compress(raw)
    elif algorithm == "GZIP":
        compressor = zlib.compressobj(wbits=31)
        body = compressor.compress(raw) + compressor.flush()
    else:
        raise ValueError(f"unsupported compression algorithm {algorithm!r}")
    envelope = Payload(uuid=COMPRESSED_UUID, body=body)
    if seq is not None:
        envelope.seq = seq
    if timestamp_ms is not None:
        envelope.timestamp = timestamp_ms
    envelope.metrics.add(name=ALGORITHM_METRIC, datatype=DataType.String, string_value=algorithm)
    return envelope.SerializeToString()


# -- value conversions -----------------------------------------------------------------------

_U64 = 1 << 64
_I64_MIN_RAW = 1 << 63


def _to_signed(bits: int) -> Callable[[int], int]:
    mask = (1 << bits) - 1
    half = 1 << (bits - 1)
    full = 1 << bits

    def convert(raw: int) -> int:
        raw &= mask
        return raw - full if raw >= half else raw

    return convert


_SIGNED = {DataType.Int8: _to_signed(8), DataType.Int16: _to_signed(16),
           DataType.Int32: _to_signed(32), DataType.Int64: _to_signed(64)}


def _datetime_seconds(raw: int) -> float:
    # Signed on purpose: a 64-bit two's complement timestamp before 1970 stays before 1970.
    return (raw - _U64 if raw >= _I64_MIN_RAW else raw) / 1000.0


# Arrays (spec 3.0, 6.4.17): little-endian packed in bytes_value.
_ARRAY_FORMATS = {
    DataType.Int8Array: "b", DataType.Int16Array: "h", DataType.Int32Array: "i", DataType.Int64Array: "q",
    DataType.UInt8Array: "B", DataType.UInt16Array: "H", DataType.UInt32Array: "I", DataType.UInt64Array: "Q",
    DataType.FloatArray: "f", DataType.DoubleArray: "d", DataType.DateTimeArray: "q",
}


def _unpack_array(datatype: DataType, data: bytes) -> list[Any]:
    code = _ARRAY_FORMATS[datatype]
    size = struct.calcsize(code)
    if len(data) % size:
        raise SparkplugDecodeError(f"{datatype.name} of {len(data)} bytes is not a whole number of {size}-byte items")
    values = list(struct.unpack(f"<{len(data) // size}{code}", data))
    if datatype is DataType.DateTimeArray:
        return [ms / 1000.0 for ms in values]
    return values


def _unpack_booleans(data: bytes) -> list[bool]:
    # A 4-byte little-endian count, then the bits, first value in the most significant bit
    # (spec 3.0 example: [F,F,T,T,F,T,F,F,T,T,F,T] -> 0C 00 00 00 34 D0).
    if len(data) < 4:
        raise SparkplugDecodeError("BooleanArray shorter than its 4-byte count")
    count = int.from_bytes(data[:4], "little")
    needed = (count + 7) // 8
    if len(data) - 4 < needed:
        raise SparkplugDecodeError(f"BooleanArray says {count} values but carries {len(data) - 4} bytes")
    bits = int.from_bytes(data[4:4 + needed], "big")
    top = needed * 8 - 1
    return [bool((bits >> (top - i)) & 1) for i in range(count)]


def _unpack_strings(data: bytes) -> list[str]:
    if not data:
        return []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SparkplugDecodeError(f"StringArray is not UTF-8: {exc}") from None
    # Every string is NUL-terminated; tolerate a missing final terminator.
    if text.endswith("\0"):
        text = text[:-1]
    return text.split("\0")


def _array_reader(datatype: DataType) -> Callable[[bytes], list[Any]]:
    if datatype is DataType.BooleanArray:
        return _unpack_booleans
    if datatype is DataType.StringArray:
        return _unpack_strings
    return lambda data: _unpack_array(datatype, data)


def _jsonable(value: Any) -> Any:
    """Make a decoded value safe to store as JSON inside a complex value (bytes -> base64)."""
    if isinstance(value, FileValue):
        return {"file_name": value.file_name, "file_type": value.file_type,
                "content_base64": base64.b64encode(value.content).decode("ascii")}
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    return value


def _type_name(code: int) -> str | int:
    try:
        return DataType(code).name
    except ValueError:
        return code  # keep a code we do not know rather than lose it


def _raw_oneof(holder: Any) -> Any:
    """The value of whatever oneof field is set, with no datatype to guide it."""
    field = holder.WhichOneof("value")
    if field is None or field == "extension_value":
        return None
    value = getattr(holder, field)
    if field == "dataset_value":
        return dataset_value(value)
    if field == "template_value":
        return template_value(value)
    if field == "propertyset_value":
        return property_set_value(value)
    if field == "propertysets_value":
        return [property_set_value(item) for item in value.propertyset]
    return value


_SCALAR_FIELDS = ("int_value", "long_value", "float_value", "double_value", "boolean_value", "string_value")


def _typed_scalar(holder: Any, datatype: int) -> Any:
    """Value of a DataSetValue, PropertyValue or Template.Parameter (no bytes field there)."""
    if holder.WhichOneof("value") not in _SCALAR_FIELDS:
        return _raw_oneof(holder)
    reader = _READERS.get(datatype)
    if reader is None or datatype not in _SCALAR_TYPES:
        return _raw_oneof(holder)
    return reader(holder)


def dataset_value(dataset: Payload.DataSet) -> dict[str, Any]:
    types = list(dataset.types)
    rows = []
    for row in dataset.rows:
        cells = []
        for index, element in enumerate(row.elements):
            datatype = types[index] if index < len(types) else DataType.Unknown
            cells.append(_jsonable(_typed_scalar(element, datatype)))
        rows.append(cells)
    return {"num_of_columns": dataset.num_of_columns, "columns": list(dataset.columns),
            "types": [_type_name(code) for code in types], "rows": rows}


def template_value(template: Payload.Template) -> dict[str, Any]:
    return {
        "version": template.version if template.HasField("version") else None,
        "template_ref": template.template_ref if template.HasField("template_ref") else None,
        "is_definition": template.is_definition,
        "parameters": [
            {"name": parameter.name, "type": _type_name(parameter.type),
             "value": _jsonable(_typed_scalar(parameter, parameter.type))}
            for parameter in template.parameters
        ],
        "metrics": [_metric_json(member) for member in template.metrics],
    }


def _metric_json(metric: Payload.Metric) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": metric.name, "datatype": _type_name(metric.datatype),
                           "value": _jsonable(metric_value(metric))}
    if metric.HasField("alias"):
        doc["alias"] = metric.alias
    if metric.HasField("timestamp"):
        doc["timestamp"] = metric.timestamp
    if metric.HasField("properties"):
        doc["properties"] = property_set_value(metric.properties)
    return doc


def property_set_value(properties: Payload.PropertySet) -> dict[str, Any]:
    """A PropertySet as ``{key: value}`` (nested sets become dicts, set lists lists of dicts)."""
    result: dict[str, Any] = {}
    for key, value in zip(properties.keys, properties.values, strict=False):
        result[key] = None if value.is_null else _jsonable(_typed_scalar(value, value.type))
    return result


def _read_property_bytes(message_type: Any, data: bytes) -> Any:
    try:
        return message_type.FromString(data)
    except (DecodeError, RecursionError, ValueError) as exc:
        raise SparkplugDecodeError(f"PropertySet metric value is not a PropertySet: {exc}") from None


def _read_file(metric: Any) -> FileValue:
    if metric.HasField("metadata"):
        meta = metric.metadata
        return FileValue(metric.bytes_value, meta.file_name if meta.HasField("file_name") else None,
                         meta.file_type if meta.HasField("file_type") else None)
    return FileValue(metric.bytes_value)


def _signed_reader(convert: Callable[[int], int]) -> Callable[[Any], Any]:
    return lambda metric: convert(metric.int_value or metric.long_value)


def _bytes_reader(unpack: Callable[[bytes], Any]) -> Callable[[Any], Any]:
    return lambda metric: unpack(metric.bytes_value)


# One reader per datatype: the value oneof is never interrogated on this path. Each reader
# takes the field the spec names and falls back to the field publishers get wrong, using
# `or` (a oneof has at most one field set, the other reads as 0).
def _readers() -> dict[int, Callable[[Any], Any]]:
    readers: dict[int, Callable[[Any], Any]] = {}
    for datatype, convert in _SIGNED.items():
        readers[datatype] = _signed_reader(convert)
    for datatype in (DataType.UInt8, DataType.UInt16, DataType.UInt32, DataType.UInt64):
        readers[datatype] = lambda m: m.int_value or m.long_value
    readers[DataType.Float] = lambda m: m.float_value or m.double_value
    readers[DataType.Double] = lambda m: m.double_value or m.float_value
    readers[DataType.Boolean] = lambda m: m.boolean_value or m.int_value != 0
    for datatype in (DataType.String, DataType.Text, DataType.UUID):
        readers[datatype] = lambda m: m.string_value
    readers[DataType.DateTime] = lambda m: _datetime_seconds(m.long_value or m.int_value)
    readers[DataType.Bytes] = lambda m: m.bytes_value
    readers[DataType.File] = _read_file
    readers[DataType.DataSet] = lambda m: dataset_value(m.dataset_value)
    readers[DataType.Template] = lambda m: template_value(m.template_value)
    # The Metric oneof has no PropertySet field; some publishers send one serialized in
    # bytes_value, which is the only place it can travel without an extension.
    readers[DataType.PropertySet] = lambda m: property_set_value(
        _read_property_bytes(Payload.PropertySet, m.bytes_value))
    readers[DataType.PropertySetList] = lambda m: [
        property_set_value(item) for item in _read_property_bytes(Payload.PropertySetList, m.bytes_value).propertyset]
    for datatype in (*_ARRAY_FORMATS, DataType.BooleanArray, DataType.StringArray):
        readers[datatype] = _bytes_reader(_array_reader(DataType(datatype)))
    return readers


_READERS = _readers()
_SCALAR_TYPES = frozenset({*_SIGNED, DataType.UInt8, DataType.UInt16, DataType.UInt32, DataType.UInt64,
                           DataType.Float, DataType.Double, DataType.Boolean, DataType.String, DataType.Text,
                           DataType.UUID, DataType.DateTime})


def metric_value(metric: Payload.Metric, datatype: int | None = None) -> Any:
    """The typed value of one metric. ``datatype`` defaults to the metric's own (births carry it)."""
    if metric.is_null:
        return None
    if datatype is None:
        datatype = metric.datatype
    reader = _READERS.get(datatype)
    if reader is None:  # Unknown (0) or a code from a future spec: keep what was sent
        return _raw_oneof(metric)
    return reader(metric)


# -- aliases and the DATA hot path -----------------------------------------------------------


def _null_safe(reader: Callable[[Any], Any]) -> Callable[[Any], Any]:
    # Complex readers must not parse an absent value (an empty BooleanArray has no count),
    # so they look at is_null first; scalar readers are cheaper checked afterwards (below).
    return lambda metric: None if metric.is_null else reader(metric)


def _hot_reader(datatype: int) -> Callable[[Any], Any]:
    reader = _READERS.get(datatype)
    if reader is None:
        return _null_safe(_raw_oneof)
    return reader if datatype in _SCALAR_TYPES else _null_safe(reader)


# Bits of each integer datatype: a counter of that type wraps at 2**bits.
INTEGER_WIDTHS: Mapping[int, int] = {
    DataType.Int8: 8, DataType.UInt8: 8, DataType.Int16: 16, DataType.UInt16: 16,
    DataType.Int32: 32, DataType.UInt32: 32, DataType.Int64: 64, DataType.UInt64: 64,
}


class _Entry(NamedTuple):
    name: str
    alias: int | None
    datatype: int
    reader: Callable[[Any], Any]


class AliasTable:
    """Metric definitions of one edge node or device, from its birth certificate.

    Births bind name -> (alias, datatype); DATA messages resolve by alias, or by name when a
    publisher sends names. An unknown alias or name raises :class:`UnknownMetricError`.
    """

    def __init__(self) -> None:
        self._by_alias: dict[int, _Entry] = {}
        self._by_name: dict[str, _Entry] = {}
        # The hot path looks aliases up here first. Alias 0 is left out on purpose: a metric
        # sent by name only also reads alias 0 (proto2 default), so 0 needs the name check.
        # Values are plain (name, reader) tuples: unpacking one is cheaper than NamedTuple
        # attribute access, and this dict is read once per metric.
        self._hot: dict[int, tuple[str, Callable[[Any], Any]]] = {}

    def __len__(self) -> int:
        return len(self._by_name)

    def clear(self) -> None:
        self._by_alias.clear()
        self._by_name.clear()
        self._hot.clear()

    def define(self, name: str, datatype: int, alias: int | None = None) -> None:
        entry = _Entry(name, alias, int(datatype), _hot_reader(int(datatype)))
        old = self._by_name.get(name)
        if old is not None and old.alias is not None:
            self._by_alias.pop(old.alias, None)
            self._hot.pop(old.alias, None)
        if alias is not None:
            bound = self._by_alias.get(alias)
            if bound is not None and bound.name != name:
                raise SparkplugDecodeError(f"alias {alias} bound to both {bound.name!r} and {name!r}")
            self._by_alias[alias] = entry
            if alias:
                self._hot[alias] = (name, entry.reader)
        self._by_name[name] = entry

    def apply_birth(self, payload: Payload) -> None:
        """Replace the definitions with those of a birth payload (NBIRTH or DBIRTH)."""
        self.clear()
        for metric in payload.metrics:
            if not metric.name:
                raise SparkplugDecodeError("birth metric without a name")
            if not metric.datatype:
                raise SparkplugDecodeError(f"birth metric {metric.name!r} without a datatype")
            self.define(metric.name, metric.datatype, metric.alias if metric.HasField("alias") else None)

    def datatypes(self) -> dict[str, int]:
        """Every defined metric's datatype, by name."""
        return {name: entry.datatype for name, entry in self._by_name.items()}

    def lookup_alias(self, alias: int) -> tuple[str, int]:
        entry = self._by_alias.get(alias)
        if entry is None:
            raise UnknownMetricError(alias=alias)
        return entry.name, entry.datatype

    def lookup_name(self, name: str) -> tuple[int | None, int]:
        entry = self._by_name.get(name)
        if entry is None:
            raise UnknownMetricError(name=name)
        return entry.alias, entry.datatype

    def _resolve(self, metric: Payload.Metric) -> _Entry:
        """The slow lookup, for whatever the alias-only hot lookup did not find.

        An alias the birth bound wins over the name: some publishers send a metric's alias with
        a name that differs from the birth's (mqtt-spb-wrapper births ``DATA/Running`` and then
        names it ``Running``), and the alias is what 3.0 says identifies it. Alias 0 counts only
        when the field is set, since a metric sent by name alone also reads alias 0."""
        if metric.HasField("alias"):
            entry = self._by_alias.get(metric.alias)
            if entry is not None:
                return entry
        name = metric.name
        if name:
            entry = self._by_name.get(name)
            if entry is None:
                raise UnknownMetricError(name=name)
            return entry
        entry = self._by_alias.get(metric.alias)
        if entry is None:
            raise UnknownMetricError(alias=metric.alias)
        return entry


class DecodedMessage(NamedTuple):
    """A decoded BIRTH or DATA payload.

    ``metrics`` is a list of ``(name, value, timestamp_ms, is_historical)`` in wire order.
    ``timestamp_ms`` is the metric's own, or the payload's when the metric has none (0 counts
    as none). Historical metrics belong in history only: they must not move live values.
    ``seq`` is None when the payload carried none; ``timestamp_ms`` here is 0 then.
    """

    seq: int | None
    timestamp_ms: int
    metrics: list[tuple[str, Any, int, bool]]

    @property
    def live(self) -> list[tuple[str, Any, int, bool]]:
        return [sample for sample in self.metrics if not sample[3]]

    @property
    def historical(self) -> list[tuple[str, Any, int, bool]]:
        return [sample for sample in self.metrics if sample[3]]


def _decode_metrics(payload: Payload, table: AliasTable) -> DecodedMessage:
    # The hot loop, measured on upb (protobuf 7): every attribute read of a metric costs
    # about as much as parsing it, so each metric is touched for exactly the fields needed:
    # alias, the one value field its datatype names (via the reader table, no WhichOneof),
    # timestamp and is_historical; is_null only when the value reads as empty/zero.
    default_ts = payload.timestamp
    hot = table._hot
    samples: list[tuple[str, Any, int, bool]] = []
    append = samples.append
    for metric in payload.metrics:
        found = hot.get(metric.alias)
        if found is None:
            entry = table._resolve(metric)
            found = (entry.name, entry.reader)
        name, reader = found
        value = reader(metric)
        if not value and metric.is_null:
            value = None
        append((name, value, metric.timestamp or default_ts, metric.is_historical))
    return DecodedMessage(payload.seq if payload.HasField("seq") else None, default_ts, samples)


def decode_data(raw: bytes, table: AliasTable) -> DecodedMessage:
    """Decode NDATA/DDATA bytes against the birth definitions in ``table``.

    Raises :class:`UnknownMetricError` for an alias or name the birth did not define (answer
    with a rebirth request) and :class:`SparkplugDecodeError` for anything undecodable.
    """
    return _decode_metrics(decode_payload(raw), table)


def decode_birth(raw: bytes, table: AliasTable) -> DecodedMessage:
    """Decode NBIRTH/DBIRTH bytes: redefine ``table`` from it and return its initial values."""
    payload = decode_payload(raw)
    table.apply_birth(payload)
    return _decode_metrics(payload, table)


# -- encoding --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric to encode. ``value=None`` encodes an explicit null."""

    name: str
    datatype: DataType
    value: Any = None
    alias: int | None = None
    timestamp_ms: int | None = None
    is_historical: bool = False
    is_transient: bool = False
    properties: Mapping[str, Any] | None = None


_UNSIGNED_LIMITS = {DataType.UInt8: 8, DataType.UInt16: 16, DataType.UInt32: 32, DataType.UInt64: 64}
_SIGNED_LIMITS = {DataType.Int8: 8, DataType.Int16: 16, DataType.Int32: 32, DataType.Int64: 64}


def _check_int(datatype: DataType, value: int, bits: int, signed: bool) -> int:
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{value!r} is not a {datatype.name}")
    return value & ((1 << bits) - 1)


def _pack_array(datatype: DataType, values: Sequence[Any]) -> bytes:
    if datatype is DataType.BooleanArray:
        bits = 0
        for flag in values:
            bits = (bits << 1) | bool(flag)
        padding = (-len(values)) % 8
        return len(values).to_bytes(4, "little") + (bits << padding).to_bytes((len(values) + 7) // 8, "big")
    if datatype is DataType.StringArray:
        if any("\0" in item for item in values):
            raise ValueError("StringArray items cannot contain NUL")
        return "".join(f"{item}\0" for item in values).encode()
    if datatype is DataType.DateTimeArray:
        values = [round(seconds * 1000) for seconds in values]
    try:
        return struct.pack(f"<{len(values)}{_ARRAY_FORMATS[datatype]}", *values)
    except struct.error as exc:
        raise ValueError(f"cannot pack {datatype.name}: {exc}") from None


def _set_scalar(holder: Any, datatype: DataType, value: Any) -> None:
    """Set a value on a Metric, DataSetValue, PropertyValue or Template.Parameter."""
    if datatype in _SIGNED_LIMITS:
        raw = _check_int(datatype, value, _SIGNED_LIMITS[datatype], signed=True)
        if datatype is DataType.Int64:
            holder.long_value = raw
        else:
            holder.int_value = raw
    elif datatype in _UNSIGNED_LIMITS:
        raw = _check_int(datatype, value, _UNSIGNED_LIMITS[datatype], signed=False)
        if datatype is DataType.UInt64:
            holder.long_value = raw
        else:
            holder.int_value = raw
    elif datatype is DataType.Float:
        holder.float_value = value
    elif datatype is DataType.Double:
        holder.double_value = value
    elif datatype is DataType.Boolean:
        holder.boolean_value = bool(value)
    elif datatype in (DataType.String, DataType.Text, DataType.UUID):
        holder.string_value = str(value)
    elif datatype is DataType.DateTime:
        holder.long_value = round(value * 1000) % _U64
    else:
        raise ValueError(f"{datatype.name} is not a scalar datatype")


def _fill_property_set(target: Payload.PropertySet, properties: Mapping[str, Any]) -> None:
    for key, value in properties.items():
        target.keys.append(key)
        item = target.values.add()
        if value is None:
            item.is_null = True
        elif isinstance(value, Mapping):
            item.type = DataType.PropertySet
            _fill_property_set(item.propertyset_value, value)
        elif isinstance(value, list):
            item.type = DataType.PropertySetList
            for entry in value:
                _fill_property_set(item.propertysets_value.propertyset.add(), entry)
        else:
            datatype = (DataType.Boolean if isinstance(value, bool) else DataType.Int64 if isinstance(value, int)
                        else DataType.Double if isinstance(value, float) else DataType.String)
            item.type = datatype
            _set_scalar(item, datatype, value)


def _datatype_of(value: str | int) -> DataType:
    return DataType[value] if isinstance(value, str) else DataType(value)


def _fill_dataset(target: Payload.DataSet, doc: Mapping[str, Any]) -> None:
    columns = list(doc["columns"])
    types = [_datatype_of(code) for code in doc["types"]]
    target.num_of_columns = len(columns)
    target.columns.extend(columns)
    target.types.extend(types)
    for row in doc["rows"]:
        out = target.rows.add()
        for datatype, cell in zip(types, row, strict=True):
            element = out.elements.add()
            if cell is not None:
                _set_scalar(element, datatype, cell)


def _fill_template(target: Payload.Template, doc: Mapping[str, Any]) -> None:
    if doc.get("version") is not None:
        target.version = doc["version"]
    if doc.get("template_ref") is not None:
        target.template_ref = doc["template_ref"]
    target.is_definition = bool(doc.get("is_definition", False))
    for parameter in doc.get("parameters", ()):
        out = target.parameters.add(name=parameter["name"])
        datatype = _datatype_of(parameter["type"])
        out.type = datatype
        if parameter.get("value") is not None:
            _set_scalar(out, datatype, parameter["value"])
    for member in doc.get("metrics", ()):
        metric = target.metrics.add(name=member["name"])
        if member.get("alias") is not None:
            metric.alias = member["alias"]
        if member.get("timestamp") is not None:
            metric.timestamp = member["timestamp"]
        set_metric_value(metric, _datatype_of(member["datatype"]), member.get("value"))


def set_metric_value(metric: Payload.Metric, datatype: DataType | int, value: Any) -> None:
    """Encode ``value`` into ``metric`` as ``datatype`` (the inverse of :func:`metric_value`).

    Signed integers are stored as their two's complement of the type's width.
    """
    datatype = DataType(datatype)
    metric.datatype = datatype
    if value is None:
        metric.is_null = True
    elif datatype in _SCALAR_TYPES:
        _set_scalar(metric, datatype, value)
    elif datatype is DataType.Bytes:
        metric.bytes_value = bytes(value)
    elif datatype is DataType.File:
        file = value if isinstance(value, FileValue) else FileValue(bytes(value))
        metric.bytes_value = file.content
        if file.file_name is not None:
            metric.metadata.file_name = file.file_name
        if file.file_type is not None:
            metric.metadata.file_type = file.file_type
    elif datatype is DataType.DataSet:
        _fill_dataset(metric.dataset_value, value)
    elif datatype is DataType.Template:
        _fill_template(metric.template_value, value)
    elif datatype is DataType.PropertySet:
        properties = Payload.PropertySet()
        _fill_property_set(properties, value)
        metric.bytes_value = properties.SerializeToString()
    elif datatype is DataType.PropertySetList:
        sets = Payload.PropertySetList()
        for item in value:
            _fill_property_set(sets.propertyset.add(), item)
        metric.bytes_value = sets.SerializeToString()
    elif datatype in _ARRAY_FORMATS or datatype in (DataType.BooleanArray, DataType.StringArray):
        metric.bytes_value = _pack_array(datatype, value)
    else:
        raise ValueError(f"cannot encode a {datatype.name} value")


def _add_metric(payload: Payload, spec: MetricSpec, *, with_name: bool, with_datatype: bool) -> None:
    metric = payload.metrics.add()
    if with_name or spec.alias is None:
        metric.name = spec.name
    if spec.alias is not None:
        metric.alias = spec.alias
    if spec.timestamp_ms is not None:
        metric.timestamp = spec.timestamp_ms
    if spec.is_historical:
        metric.is_historical = True
    if spec.is_transient:
        metric.is_transient = True
    if spec.properties:
        _fill_property_set(metric.properties, spec.properties)
    set_metric_value(metric, spec.datatype, spec.value)
    if not with_datatype:
        metric.ClearField("datatype")  # DATA messages may omit it: the birth defined it


def _serialize(payload: Payload) -> bytes:
    try:
        return payload.SerializeToString()
    except EncodeError as exc:
        raise ValueError(f"cannot encode payload: {exc}") from None


def _payload(seq: int | None, timestamp_ms: int | None) -> Payload:
    payload = Payload()
    if timestamp_ms is not None:
        payload.timestamp = timestamp_ms
    if seq is not None:
        if not 0 <= seq <= 255:
            raise ValueError(f"Sparkplug seq must be 0..255, got {seq}")
        payload.seq = seq
    return payload


def encode_nbirth(metrics: Iterable[MetricSpec], *, seq: int, bd_seq: int, timestamp_ms: int) -> bytes:
    """NBIRTH: names, aliases and datatypes of every metric, plus bdSeq and the rebirth control.

    ``bdSeq`` (Int64, spec 3.0) and ``Node Control/Rebirth`` (Boolean false) are added unless
    the caller lists them.
    """
    payload = _payload(seq, timestamp_ms)
    specs = list(metrics)
    names = {spec.name for spec in specs}
    if BD_SEQ_METRIC not in names:
        specs.insert(0, MetricSpec(BD_SEQ_METRIC, DataType.Int64, bd_seq))
    if REBIRTH_METRIC not in names:
        specs.append(MetricSpec(REBIRTH_METRIC, DataType.Boolean, False))
    for spec in specs:
        _add_metric(payload, spec, with_name=True, with_datatype=True)
    return _serialize(payload)


def encode_dbirth(metrics: Iterable[MetricSpec], *, seq: int, timestamp_ms: int) -> bytes:
    payload = _payload(seq, timestamp_ms)
    for spec in metrics:
        _add_metric(payload, spec, with_name=True, with_datatype=True)
    return _serialize(payload)


def encode_ddata(metrics: Iterable[MetricSpec], *, seq: int, timestamp_ms: int) -> bytes:
    """NDATA/DDATA: metrics with an alias are sent by alias only (no name, no datatype)."""
    payload = _payload(seq, timestamp_ms)
    for spec in metrics:
        _add_metric(payload, spec, with_name=False, with_datatype=False)
    return _serialize(payload)


encode_ndata = encode_ddata


def encode_ndeath(bd_seq: int, timestamp_ms: int | None = None) -> bytes:
    """NDEATH (the MQTT will): only the bdSeq metric, and no seq."""
    payload = _payload(None, timestamp_ms)
    _add_metric(payload, MetricSpec(BD_SEQ_METRIC, DataType.Int64, bd_seq), with_name=True, with_datatype=True)
    return _serialize(payload)


def encode_ddeath(*, seq: int, timestamp_ms: int) -> bytes:
    return _serialize(_payload(seq, timestamp_ms))
