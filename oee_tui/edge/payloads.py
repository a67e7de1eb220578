"""Signal values as Sparkplug metric values: the births' metric specs, and DDATA by alias.

A signal's value goes out in its metric's datatype whatever type the source delivered (an
OPC-UA Double counter as Int64, ``"12"`` as 12); a value that is not good, or cannot be the
datatype, goes out as null with a ``Quality`` property (the codes Ignition uses).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from oee_tui.edge.layout import Change, Metric
from oee_tui.model import TagValue
from oee_tui.mqtt.sparkplug_codec import DataType, MetricSpec, Payload
from oee_tui.store.timecodec import micro

QUALITY_PROPERTY: Final = "Quality"
QUALITY_CODES: Final = {"good": 192, "uncertain": 64, "bad": 0, "stale": 500}
_MASK64: Final = (1 << 64) - 1
_I63: Final = 1 << 63

WireValue = int | float | bool | str


def wire_value(datatype: DataType, value: TagValue) -> WireValue | None:
    """A signal value as the metric's wire field wants it; None when it cannot be one."""
    if value is None:
        return None
    try:
        if datatype is DataType.Int64:
            number = value if isinstance(value, int) else round(float(value))
            return number & _MASK64
        if datatype is DataType.Double:
            return float(value)
        if datatype is DataType.Boolean:
            return bool(value) if not isinstance(value, str) else None
        return str(value)
    except (TypeError, ValueError, OverflowError):
        return None


def birth_spec(metric: Metric) -> MetricSpec:
    """The metric in a DBIRTH: name, alias, datatype and its current value (null with its quality
    when that is not good)."""
    good = metric.quality == "good"
    value: WireValue | None = None
    if good:
        wire = wire_value(metric.datatype, metric.value)
        if isinstance(wire, int) and metric.datatype is DataType.Int64:
            value = wire - (1 << 64) if wire >= 1 << 63 else wire
        else:
            value = wire
    properties = None if good else {QUALITY_PROPERTY: QUALITY_CODES.get(metric.quality, 0)}
    return MetricSpec(metric.name, metric.datatype, value, alias=metric.alias, properties=properties)


def encode_changes(changes: Iterable[Change], *, seq: int, timestamp_ms: int, historical: bool) -> bytes:
    """DDATA by alias only (no name, no datatype), each metric with its own timestamp. The hot
    path of the edge node, so protobuf is driven directly instead of through MetricSpecs."""
    payload = Payload(timestamp=timestamp_ms, seq=seq)
    add = payload.metrics.add
    for metric, ts, value, quality in changes:
        # Through microseconds, as the store keeps times: a change replayed from the buffer
        # carries the millisecond it would have carried live.
        ts_ms = micro(ts) // 1000
        if type(value) is int and 0 <= value < _I63 and metric.datatype is DataType.Int64 and quality == "good":
            add(alias=metric.alias, timestamp=ts_ms, long_value=value)  # counters: the common case
            continue
        wire = wire_value(metric.datatype, value) if quality == "good" else None
        if wire is None:
            item = add(alias=metric.alias, timestamp=ts_ms, is_null=True)
            item.properties.keys.append(QUALITY_PROPERTY)
            # A good value that does not fit the datatype (text in a counter) is bad here.
            code = QUALITY_CODES["bad"] if quality == "good" else QUALITY_CODES.get(quality, 0)
            item.properties.values.add(type=DataType.Int32, int_value=code)
        elif metric.datatype is DataType.Int64:
            item = add(alias=metric.alias, timestamp=ts_ms, long_value=wire)
        elif metric.datatype is DataType.Double:
            item = add(alias=metric.alias, timestamp=ts_ms, double_value=wire)
        elif metric.datatype is DataType.Boolean:
            item = add(alias=metric.alias, timestamp=ts_ms, boolean_value=wire)
        else:
            item = add(alias=metric.alias, timestamp=ts_ms, string_value=wire)
    if historical:
        for item in payload.metrics:
            item.is_historical = True
    raw: bytes = payload.SerializeToString()
    return raw
