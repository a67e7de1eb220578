"""Sparkplug B codec: every datatype, arrays, complex types, compression, aliases, topics."""

from __future__ import annotations

import gzip
import json
import math
import struct
import zlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oee_tui.mqtt.generated import sparkplug_b_pb2
from oee_tui.mqtt.sparkplug_codec import (
    COMPRESSED_UUID,
    MAX_INFLATED_BYTES,
    AliasTable,
    DataType,
    FileValue,
    MessageType,
    MetricSpec,
    Payload,
    SparkplugDecodeError,
    SparkplugTopic,
    SparkplugTopicError,
    UnknownMetricError,
    compress_payload,
    decode_birth,
    decode_data,
    decode_payload,
    encode_dbirth,
    encode_ddata,
    encode_ddeath,
    encode_nbirth,
    encode_ndeath,
    metric_value,
    parse_state,
    parse_topic,
    property_set_value,
    set_metric_value,
    state_payload,
    state_topic,
    topic,
)

T0 = 1_700_000_000_000
FUZZ = settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])


def roundtrip(datatype: DataType, value: Any) -> Any:
    """Birth then DATA by alias only, as an edge node sends it; returns the DATA value."""
    table = AliasTable()
    birth = decode_birth(encode_dbirth([MetricSpec("m", datatype, value, alias=7)], seq=0, timestamp_ms=T0), table)
    data = decode_data(encode_ddata([MetricSpec("m", datatype, value, alias=7)], seq=1, timestamp_ms=T0 + 1), table)
    assert birth.metrics[0][1] == data.metrics[0][1] or value is None or _is_nan(value)
    assert data.metrics[0][0] == "m"
    return data.metrics[0][1]


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def metric_with(**fields: Any) -> Payload.Metric:
    return Payload.Metric(**fields)


def test_datatype_enum_matches_the_proto() -> None:
    proto = sparkplug_b_pb2.DataType
    assert {member.name: member.value for member in DataType} == dict(proto.items())
    assert DataType.Int8Array == 22 and DataType.PropertySetList == 21 and DataType.DateTimeArray == 34


# -- scalars ---------------------------------------------------------------------------------

SCALARS = [
    (DataType.Int8, [-128, -23, -1, 0, 1, 127]),
    (DataType.Int16, [-32768, -30000, -1, 0, 32767]),
    (DataType.Int32, [-(2**31), -1, 0, 315338746, 2**31 - 1]),
    (DataType.Int64, [-(2**63), -4270929666821191986, -1, 0, 2**63 - 1]),
    (DataType.UInt8, [0, 23, 255]),
    (DataType.UInt16, [0, 52360, 65535]),
    (DataType.UInt32, [0, 3293969225, 2**32 - 1]),
    (DataType.UInt64, [0, 16444743074749521625, 2**64 - 1]),
    (DataType.Float, [0.0, 1.5, -0.25, 2.0**100]),
    (DataType.Double, [0.0, -2.5, 1e300, 1022.9123213]),
    (DataType.Boolean, [True, False]),
    (DataType.String, ["", "PX-100", "héllo wörld ✓"]),
    (DataType.Text, ["line 1\nline 2"]),
    (DataType.UUID, ["c4f2b7d8-6f7e-4c1b-9f8d-3a2b1c0d9e8f"]),
    (DataType.DateTime, [1700000000.123, 0.0, -1.5, 1256102875.335]),
    (DataType.Bytes, [b"", b"\x00\xff\x10"]),
]


@pytest.mark.parametrize(("datatype", "value"), [(dt, v) for dt, values in SCALARS for v in values],
                         ids=lambda item: str(item))
def test_scalar_roundtrip(datatype: DataType, value: Any) -> None:
    decoded = roundtrip(datatype, value)
    assert decoded == value
    assert type(decoded) is type(value)


@pytest.mark.parametrize(("datatype", "bits"), [(DataType.Int8, 8), (DataType.Int16, 16), (DataType.Int32, 32)])
def test_negative_small_ints_travel_as_twos_complement_in_int_value(datatype: DataType, bits: int) -> None:
    metric = Payload.Metric()
    set_metric_value(metric, datatype, -1)
    assert metric.WhichOneof("value") == "int_value"
    assert metric.int_value == 2**bits - 1
    # Publishers that sign-extend to 32 bits, or to 64 bits in long_value, decode the same.
    assert metric_value(metric_with(int_value=0xFFFFFFFF), datatype) == -1
    assert metric_value(metric_with(long_value=2**64 - 5), datatype) == -5


def test_int64_travels_as_twos_complement_in_long_value() -> None:
    metric = Payload.Metric()
    set_metric_value(metric, DataType.Int64, -2)
    assert metric.WhichOneof("value") == "long_value" and metric.long_value == 2**64 - 2
    assert metric_value(metric, DataType.Int64) == -2


def test_uint32_is_accepted_in_int_value_or_long_value() -> None:
    assert metric_value(metric_with(int_value=4_000_000_000), DataType.UInt32) == 4_000_000_000
    assert metric_value(metric_with(long_value=4_000_000_000), DataType.UInt32) == 4_000_000_000


def test_wrong_field_uint32_through_data_message() -> None:
    table = AliasTable()
    decode_birth(encode_dbirth([MetricSpec("count", DataType.UInt32, 1, alias=3)], seq=0, timestamp_ms=T0), table)
    payload = Payload(seq=1, timestamp=T0)
    payload.metrics.add(alias=3, long_value=3_000_000_000)
    assert decode_data(payload.SerializeToString(), table).metrics == [("count", 3_000_000_000, T0, False)]


def test_other_tolerated_fields() -> None:
    assert metric_value(metric_with(double_value=2.5), DataType.Float) == 2.5
    assert metric_value(metric_with(float_value=0.5), DataType.Double) == 0.5
    assert metric_value(metric_with(int_value=1), DataType.Boolean) is True
    assert metric_value(metric_with(int_value=1_700_000_000), DataType.DateTime) == 1_700_000.0


def test_out_of_range_values_are_refused_when_encoding() -> None:
    with pytest.raises(ValueError, match="Int8"):
        set_metric_value(Payload.Metric(), DataType.Int8, 128)
    with pytest.raises(ValueError, match="UInt16"):
        set_metric_value(Payload.Metric(), DataType.UInt16, -1)


def test_file_keeps_its_metadata() -> None:
    value = FileValue(b"G1 X10\n", "part.gcode", "gcode")
    assert roundtrip(DataType.File, value) == value
    assert roundtrip(DataType.File, FileValue(b"raw")) == FileValue(b"raw", None, None)


@pytest.mark.parametrize("datatype", [DataType.Int32, DataType.Float, DataType.Boolean, DataType.String,
                                      DataType.BooleanArray, DataType.DataSet, DataType.Template,
                                      DataType.PropertySet, DataType.File])
def test_is_null_decodes_to_none(datatype: DataType) -> None:
    assert roundtrip(datatype, None) is None


def test_unknown_datatype_keeps_the_value_sent() -> None:
    assert metric_value(metric_with(datatype=99, double_value=4.5)) == 4.5
    assert metric_value(metric_with(string_value="x"), DataType.Unknown) == "x"


@given(st.sampled_from([(DataType.Int8, 8), (DataType.Int16, 16), (DataType.Int32, 32), (DataType.Int64, 64)]),
       st.data())
@settings(max_examples=200, deadline=2000)
def test_signed_ints_roundtrip_property(kind: tuple[DataType, int], data: st.DataObject) -> None:
    datatype, bits = kind
    value = data.draw(st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1))
    metric = Payload.Metric()
    set_metric_value(metric, datatype, value)
    parsed = Payload.Metric.FromString(metric.SerializeToString())
    assert metric_value(parsed) == value


# -- arrays ----------------------------------------------------------------------------------

ARRAYS = [
    (DataType.Int8Array, [-128, -23, 0, 123, 127]),
    (DataType.Int16Array, [-30000, 30000]),
    (DataType.Int32Array, [-1, 315338746]),
    (DataType.Int64Array, [-4270929666821191986, -3601064768563266876]),
    (DataType.UInt8Array, [23, 250]),
    (DataType.UInt16Array, [30, 52360]),
    (DataType.UInt32Array, [52, 3293969225]),
    (DataType.UInt64Array, [52, 16444743074749521625]),
    (DataType.FloatArray, [1.5, -89.25]),
    (DataType.DoubleArray, [12.354213, 1022.9123213]),
    (DataType.BooleanArray, [False, False, True, True, False, True, False, False, True, True, False, True]),
    (DataType.StringArray, ["ABC", "hello", ""]),
    (DataType.DateTimeArray, [1256102875.335, 1656107875.0]),
]


@pytest.mark.parametrize(("datatype", "values"), ARRAYS, ids=[dt.name for dt, _ in ARRAYS])
def test_array_roundtrip(datatype: DataType, values: list[Any]) -> None:
    assert roundtrip(datatype, values) == values
    assert roundtrip(datatype, []) == []


@pytest.mark.parametrize(("datatype", "values", "wire"), [
    # Examples from the Sparkplug 3.0 specification, 6.4.17.
    (DataType.Int32Array, [-1, 315338746], bytes([0xFF, 0xFF, 0xFF, 0xFF, 0xFA, 0xAF, 0xCB, 0x12])),
    (DataType.UInt16Array, [30, 52360], bytes([0x1E, 0x00, 0x88, 0xCC])),
    (DataType.UInt32Array, [52, 3293969225], bytes([0x34, 0, 0, 0, 0x49, 0xFB, 0x55, 0xC4])),
    (DataType.BooleanArray, [False, False, True, True, False, True, False, False, True, True, False, True],
     bytes([0x0C, 0x00, 0x00, 0x00, 0x34, 0xD0])),
    (DataType.StringArray, ["ABC", "hello"], b"ABC\x00hello\x00"),
    (DataType.DateTimeArray, [1256102875.335, 1656107875.0], struct.pack("<2q", 1256102875335, 1656107875000)),
])
def test_arrays_match_the_specification_bytes(datatype: DataType, values: list[Any], wire: bytes) -> None:
    metric = Payload.Metric()
    set_metric_value(metric, datatype, values)
    assert metric.bytes_value == wire
    assert metric_value(metric_with(bytes_value=wire), datatype) == values


@pytest.mark.parametrize(("datatype", "wire", "reason"), [
    (DataType.Int16Array, b"\x01\x02\x03", "whole number"),
    (DataType.DoubleArray, b"\x00" * 9, "whole number"),
    (DataType.BooleanArray, b"\x01\x00", "4-byte count"),
    (DataType.BooleanArray, b"\x09\x00\x00\x00\xff", "says 9 values"),
    (DataType.StringArray, b"\xff\xfe\x00", "UTF-8"),
])
def test_malformed_arrays_raise_decode_error(datatype: DataType, wire: bytes, reason: str) -> None:
    with pytest.raises(SparkplugDecodeError, match=reason):
        metric_value(metric_with(bytes_value=wire), datatype)


def test_string_array_without_final_terminator_is_accepted() -> None:
    assert metric_value(metric_with(bytes_value=b"a\x00b"), DataType.StringArray) == ["a", "b"]


# -- complex types to JSON -------------------------------------------------------------------


def test_dataset_to_json() -> None:
    doc = {"columns": ["step", "temp", "ok", "note"], "types": ["Int16", "Double", "Boolean", "String"],
           "rows": [[-1, 20.5, True, "start"], [2, -3.25, False, None]]}
    decoded = roundtrip(DataType.DataSet, doc)
    assert decoded == {"num_of_columns": 4, **doc}
    assert json.loads(json.dumps(decoded)) == decoded


def test_template_to_json() -> None:
    doc = {
        "version": "1.2", "template_ref": "Motor", "is_definition": False,
        "parameters": [{"name": "rated_kw", "type": "Float", "value": 7.5},
                       {"name": "offset", "type": "Int32", "value": -4}],
        "metrics": [
            {"name": "speed", "datatype": "Double", "value": 1450.5},
            {"name": "raw", "datatype": "Bytes", "value": b"\x01\x02"},
            {"name": "flags", "datatype": "BooleanArray", "value": [True, False, True]},
        ],
    }
    decoded = roundtrip(DataType.Template, doc)
    assert decoded["version"] == "1.2" and decoded["template_ref"] == "Motor" and decoded["is_definition"] is False
    assert decoded["parameters"] == [{"name": "rated_kw", "type": "Float", "value": 7.5},
                                     {"name": "offset", "type": "Int32", "value": -4}]
    assert [(m["name"], m["datatype"], m["value"]) for m in decoded["metrics"]] == [
        ("speed", "Double", 1450.5), ("raw", "Bytes", "AQI="), ("flags", "BooleanArray", [True, False, True])]
    assert json.loads(json.dumps(decoded)) == decoded


def test_property_set_and_list_to_json() -> None:
    doc = {"Quality": 192, "Engineering Unit": "rpm", "Scale": 0.5, "Readonly": True, "Missing": None,
           "Limits": {"low": -10, "high": 10}, "History": [{"a": 1}, {"b": "x"}]}
    assert roundtrip(DataType.PropertySet, doc) == doc
    assert roundtrip(DataType.PropertySetList, [doc, {"k": 1}]) == [doc, {"k": 1}]


def test_metric_properties_decode_with_property_set_value() -> None:
    raw = encode_dbirth([MetricSpec("speed", DataType.Float, 1.0, alias=1,
                                    properties={"Quality": 192, "Unit": "m/s"})], seq=0, timestamp_ms=T0)
    metric = decode_payload(raw).metrics[0]
    assert property_set_value(metric.properties) == {"Quality": 192, "Unit": "m/s"}


# -- compression -----------------------------------------------------------------------------


def sample_payload() -> bytes:
    return encode_dbirth([MetricSpec("a", DataType.Int32, -7, alias=1), MetricSpec("b", DataType.String, "x" * 500)],
                         seq=3, timestamp_ms=T0)


@pytest.mark.parametrize("algorithm", ["DEFLATE", "GZIP"])
def test_compressed_payloads_are_decoded(algorithm: str) -> None:
    raw = sample_payload()
    envelope = compress_payload(raw, algorithm, seq=3, timestamp_ms=T0)
    assert len(envelope) < len(raw)
    outer = Payload.FromString(envelope)
    assert outer.uuid == COMPRESSED_UUID and outer.metrics[0].name == "algorithm"
    assert decode_payload(envelope) == Payload.FromString(raw)
    table = AliasTable()
    assert decode_birth(envelope, table).metrics[0] == ("a", -7, T0, False)


@pytest.mark.parametrize("body", [zlib.compress(b""), gzip.compress(b"", mtime=0)], ids=["zlib", "gzip"])
def test_compressed_without_algorithm_metric_is_detected(body: bytes) -> None:
    inner = sample_payload()
    for compressed in (zlib.compress(inner), gzip.compress(inner)):
        envelope = Payload(uuid=COMPRESSED_UUID, body=compressed).SerializeToString()
        assert decode_payload(envelope) == Payload.FromString(inner)
    assert decode_payload(Payload(uuid=COMPRESSED_UUID, body=body).SerializeToString()) == Payload()


def test_raw_deflate_is_accepted() -> None:
    inner = sample_payload()
    compressor = zlib.compressobj(wbits=-15)
    body = compressor.compress(inner) + compressor.flush()
    envelope = Payload(uuid=COMPRESSED_UUID, body=body)
    envelope.metrics.add(name="algorithm", string_value="DEFLATE")
    assert decode_payload(envelope.SerializeToString()) == Payload.FromString(inner)


@pytest.mark.parametrize(("algorithm", "body", "reason"), [
    ("LZ4", zlib.compress(b"x"), "unsupported compression"),
    ("GZIP", zlib.compress(b"x"), "cannot inflate"),
    ("DEFLATE", zlib.compress(b"\x08\x01" * 50)[:-6], "cannot inflate"),
    ("DEFLATE", b"not compressed at all", "cannot inflate"),
])
def test_bad_compressed_payloads_raise_decode_error(algorithm: str, body: bytes, reason: str) -> None:
    envelope = Payload(uuid=COMPRESSED_UUID, body=body)
    envelope.metrics.add(name="algorithm", string_value=algorithm)
    with pytest.raises(SparkplugDecodeError, match=reason):
        decode_payload(envelope.SerializeToString())


def test_decompression_bomb_is_refused() -> None:
    body = zlib.compress(b"\x00" * (MAX_INFLATED_BYTES + 10), 9)
    with pytest.raises(SparkplugDecodeError, match="inflates beyond"):
        decode_payload(Payload(uuid=COMPRESSED_UUID, body=body).SerializeToString())


def test_nested_compression_is_refused() -> None:
    twice = compress_payload(compress_payload(sample_payload()))
    with pytest.raises(SparkplugDecodeError, match="nested"):
        decode_payload(twice)


# -- aliases, historical, timestamps ---------------------------------------------------------

BIRTH = [MetricSpec("Counts/Total", DataType.UInt32, 0, alias=0), MetricSpec("Speed", DataType.Float, 0.0, alias=1),
         MetricSpec("Recipe", DataType.String, "A", alias=2), MetricSpec("NoAlias", DataType.Int16, 0)]


def born() -> AliasTable:
    table = AliasTable()
    decode_birth(encode_dbirth(BIRTH, seq=0, timestamp_ms=T0), table)
    return table


def test_data_by_alias_and_by_name() -> None:
    table = born()
    raw = encode_ddata([MetricSpec("Counts/Total", DataType.UInt32, 42, alias=0),
                        MetricSpec("Speed", DataType.Float, 2.5, alias=1, timestamp_ms=T0 + 5),
                        MetricSpec("NoAlias", DataType.Int16, -3)], seq=1, timestamp_ms=T0 + 9)
    decoded = decode_data(raw, table)
    assert decoded.seq == 1 and decoded.timestamp_ms == T0 + 9
    assert decoded.metrics == [("Counts/Total", 42, T0 + 9, False), ("Speed", 2.5, T0 + 5, False),
                               ("NoAlias", -3, T0 + 9, False)]
    # Alias-only DATA carries neither names nor datatypes.
    wire = Payload.FromString(raw).metrics[0]
    assert not wire.HasField("name") and not wire.HasField("datatype")


def test_alias_zero_does_not_capture_named_metrics() -> None:
    table = born()
    payload = Payload(seq=2, timestamp=T0)
    payload.metrics.add(name="Recipe", string_value="B")  # no alias: reads as alias 0
    payload.metrics.add(alias=0, int_value=5)
    assert decode_data(payload.SerializeToString(), table).metrics == [("Recipe", "B", T0, False),
                                                                     ("Counts/Total", 5, T0, False)]


def test_unknown_alias_and_name_ask_for_rebirth() -> None:
    table = born()
    with pytest.raises(UnknownMetricError) as caught:
        decode_data(encode_ddata([MetricSpec("x", DataType.Int32, 1, alias=99)], seq=1, timestamp_ms=T0), table)
    assert caught.value.alias == 99 and isinstance(caught.value, SparkplugDecodeError)
    with pytest.raises(UnknownMetricError) as caught:
        decode_data(encode_ddata([MetricSpec("Nope", DataType.Int32, 1)], seq=1, timestamp_ms=T0), table)
    assert caught.value.name == "Nope"
    with pytest.raises(UnknownMetricError):
        decode_data(encode_ddata([MetricSpec("x", DataType.Int32, 1, alias=1)], seq=1, timestamp_ms=T0), AliasTable())


def test_alias_table_lookups_and_rebirth() -> None:
    table = born()
    assert table.lookup_alias(1) == ("Speed", DataType.Float)
    assert table.lookup_name("Recipe") == (2, DataType.String)
    assert table.lookup_name("NoAlias") == (None, DataType.Int16)
    assert len(table) == 4
    decode_birth(encode_dbirth([MetricSpec("Other", DataType.Boolean, True, alias=1)], seq=0, timestamp_ms=T0), table)
    assert table.lookup_alias(1) == ("Other", DataType.Boolean)
    with pytest.raises(UnknownMetricError):
        table.lookup_name("Speed")


def test_birth_errors() -> None:
    duplicate = [MetricSpec("a", DataType.Int32, 1, alias=5), MetricSpec("b", DataType.Int32, 1, alias=5)]
    with pytest.raises(SparkplugDecodeError, match="alias 5"):
        decode_birth(encode_dbirth(duplicate, seq=0, timestamp_ms=T0), AliasTable())
    nameless = Payload(seq=0)
    nameless.metrics.add(alias=1, datatype=DataType.Int32, int_value=1)
    with pytest.raises(SparkplugDecodeError, match="without a name"):
        decode_birth(nameless.SerializeToString(), AliasTable())
    typeless = Payload(seq=0)
    typeless.metrics.add(name="t", int_value=1)
    with pytest.raises(SparkplugDecodeError, match="without a datatype"):
        decode_birth(typeless.SerializeToString(), AliasTable())


def test_historical_metrics_are_flagged_and_kept_out_of_live() -> None:
    table = born()
    raw = encode_ddata([MetricSpec("Speed", DataType.Float, 1.5, alias=1, timestamp_ms=T0 - 60_000, is_historical=True),
                        MetricSpec("Speed", DataType.Float, 3.0, alias=1, timestamp_ms=T0)], seq=1, timestamp_ms=T0)
    decoded = decode_data(raw, table)
    assert decoded.historical == [("Speed", 1.5, T0 - 60_000, True)]
    assert decoded.live == [("Speed", 3.0, T0, False)]


def test_null_in_data_message() -> None:
    table = born()
    decoded = decode_data(encode_ddata([MetricSpec("Speed", DataType.Float, None, alias=1)], seq=1, timestamp_ms=T0),
                          table)
    assert decoded.metrics == [("Speed", None, T0, False)]


def every_datatype() -> list[MetricSpec]:
    """One metric of every scalar and array datatype (scalars at their last, extreme value)."""
    pairs = [(dt, values[-1]) for dt, values in SCALARS] + ARRAYS
    return [MetricSpec(f"m{i}", dt, value, alias=i + 1) for i, (dt, value) in enumerate(pairs)]


def test_all_datatypes_in_one_data_message() -> None:
    specs = every_datatype()
    table = AliasTable()
    decode_birth(encode_dbirth(specs, seq=0, timestamp_ms=T0), table)
    decoded = decode_data(encode_ddata(specs, seq=1, timestamp_ms=T0), table)
    assert [value for _, value, _, _ in decoded.metrics] == [spec.value for spec in specs]


# -- birth / death encoders ------------------------------------------------------------------


def test_nbirth_carries_bdseq_and_rebirth_control() -> None:
    payload = decode_payload(encode_nbirth([MetricSpec("Uptime", DataType.Int64, 5, alias=1)],
                                           seq=0, bd_seq=3, timestamp_ms=T0))
    assert payload.seq == 0 and payload.timestamp == T0
    assert [(m.name, metric_value(m)) for m in payload.metrics] == [("bdSeq", 3), ("Uptime", 5),
                                                                    ("Node Control/Rebirth", False)]
    assert payload.metrics[0].datatype == DataType.Int64


def test_ndeath_and_ddeath() -> None:
    death = decode_payload(encode_ndeath(4, timestamp_ms=T0))
    assert not death.HasField("seq") and [(m.name, metric_value(m)) for m in death.metrics] == [("bdSeq", 4)]
    device_death = decode_payload(encode_ddeath(seq=9, timestamp_ms=T0))
    assert device_death.seq == 9 and not device_death.metrics
    with pytest.raises(ValueError, match=r"0\.\.255"):
        encode_ddeath(seq=256, timestamp_ms=T0)


# -- topics and STATE ------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "expected"), [
    ("spBv1.0/Plant1/NBIRTH/edge-1", SparkplugTopic(MessageType.NBIRTH, "Plant1", "edge-1")),
    ("spBv1.0/Plant1/NDATA/edge-1", SparkplugTopic(MessageType.NDATA, "Plant1", "edge-1")),
    ("spBv1.0/Plant1/NDEATH/edge-1", SparkplugTopic(MessageType.NDEATH, "Plant1", "edge-1")),
    ("spBv1.0/Plant1/NCMD/edge-1", SparkplugTopic(MessageType.NCMD, "Plant1", "edge-1")),
    ("spBv1.0/Plant1/DBIRTH/edge-1/press 4", SparkplugTopic(MessageType.DBIRTH, "Plant1", "edge-1", "press 4")),
    ("spBv1.0/Plant1/DDATA/edge-1/press", SparkplugTopic(MessageType.DDATA, "Plant1", "edge-1", "press")),
    ("spBv1.0/Plant1/DDEATH/edge-1/press", SparkplugTopic(MessageType.DDEATH, "Plant1", "edge-1", "press")),
    ("spBv1.0/Plant1/DCMD/edge-1/press", SparkplugTopic(MessageType.DCMD, "Plant1", "edge-1", "press")),
    ("spBv1.0/STATE/scada-host", SparkplugTopic(MessageType.STATE, host_id="scada-host")),
])
def test_parse_topic(name: str, expected: SparkplugTopic) -> None:
    assert parse_topic(name) == expected
    if expected.message_type is MessageType.STATE:
        assert state_topic("scada-host") == name
    else:
        assert topic(expected.group_id, expected.message_type, expected.edge_node_id, expected.device_id) == name


@pytest.mark.parametrize(("name", "reason"), [
    ("spAv1.0/G/NDATA/e", "namespace"),
    ("STATE/host", "namespace"),
    ("spBv1.0/G/NDATA", "expected"),
    ("spBv1.0/G/DDATA/e/d/extra", "expected"),
    ("spBv1.0/G/XDATA/e", "unknown message type"),
    ("spBv1.0/G/ddata/e/d", "unknown message type"),
    ("spBv1.0/G/NDATA/e/d", "no device id"),
    ("spBv1.0/G/DDATA/e", "need a device id"),
    ("spBv1.0/G/STATE/e", "STATE topics"),
    ("spBv1.0//NDATA/e", "group id"),
    ("spBv1.0/G/NDATA/+", "edge node id"),
    ("spBv1.0/G/DDATA/e/#", "device id"),
    ("spBv1.0/STATE/", "host id"),
    ("", "namespace"),
])
def test_parse_topic_errors(name: str, reason: str) -> None:
    with pytest.raises(SparkplugTopicError, match=reason):
        parse_topic(name)


def test_state_payload() -> None:
    raw = state_payload(True, T0)
    assert json.loads(raw) == {"online": True, "timestamp": T0}
    assert parse_state(raw) == (True, T0)
    assert parse_state(state_payload(False, 5)) == (False, 5)
    for bad in (b"", b"{", b"[]", b'{"online": 1, "timestamp": 1}', b'{"online": true}', b"\xff"):
        with pytest.raises(SparkplugDecodeError):
            parse_state(bad)


# -- fuzz ------------------------------------------------------------------------------------


def _decode_or_documented_error(raw: bytes) -> None:
    try:
        decode_payload(raw)
    except SparkplugDecodeError as exc:
        assert exc.reason


@FUZZ
@given(st.binary(max_size=512))
def test_fuzz_arbitrary_bytes(raw: bytes) -> None:
    _decode_or_documented_error(raw)


@FUZZ
@given(st.data())
def test_fuzz_mutated_real_payloads(data: st.DataObject) -> None:
    raw = bytearray(encode_dbirth(every_datatype(), seq=0, timestamp_ms=T0))
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    _decode_or_documented_error(bytes(raw))
    table = AliasTable()
    try:  # births and their values: also only SparkplugDecodeError
        decode_birth(bytes(raw), table)
    except SparkplugDecodeError as exc:
        assert exc.reason


@FUZZ
@given(st.binary(max_size=256), st.sampled_from(["DEFLATE", "GZIP", "deflate", "", "ZSTD"]))
def test_fuzz_compressed_envelopes(body: bytes, algorithm: str) -> None:
    envelope = Payload(uuid=COMPRESSED_UUID, body=body)
    if algorithm:
        envelope.metrics.add(name="algorithm", string_value=algorithm)
    _decode_or_documented_error(envelope.SerializeToString())
    # Valid compression of arbitrary inner bytes: the inner parse is fuzzed the same way.
    _decode_or_documented_error(compress_payload(body, "GZIP" if algorithm == "GZIP" else "DEFLATE"))


@FUZZ
@given(st.binary(max_size=512))
def test_fuzz_decode_data(raw: bytes) -> None:
    table = born()
    try:
        decode_data(raw, table)
    except SparkplugDecodeError as exc:
        assert exc.reason
