"""A local store with a little of everything the sync pushes, and the comparison of it with the centre."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from oee_tui.cli import SAMPLE_CONFIG
from oee_tui.config import Config
from oee_tui.drivers.registry import parse_config
from oee_tui.model import CountBucket, DeadLetter, MachineState, StateInterval
from oee_tui.model.planning import ProductRate
from oee_tui.store import FactBatch, KeptSamples, ReasonEntry, Store

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC).timestamp()


def edge_config(url: str, edge_id: str, **extra: object) -> Config:
    lines = [f'url = "{url}"', f'edge_id = "{edge_id}"'] + [f"{key} = {value!r}".replace("'", '"').replace(
        "True", "true").replace("False", "false") for key, value in extra.items()]
    return parse_config(SAMPLE_CONFIG + "\n[central]\n" + "\n".join(lines) + "\n")


def samples(n: int, start: float = T0, step: float = 0.5, tag: str = "speed") -> KeptSamples:
    ts = [start + i * step for i in range(n)]
    return KeptSamples(ts, ["plc1"] * n, [f"{tag}{i % 7}" for i in range(n)],
                       [None if i % 11 == 0 else i * 0.25 for i in range(n)],
                       ["text é" if i % 11 == 0 else None for i in range(n)], ["good"] * n)


def fill(store: Store, *, n_samples: int = 2_000, at: float = T0) -> None:
    """An hour of one plant: samples, closed and open intervals, counts in parts, reasons, dead letters,
    imported products."""
    store.write_facts(FactBatch(
        samples=samples(n_samples, at),
        intervals=[StateInterval("L1-FILL", at, at + 600, MachineState.RUNNING),
                   StateInterval("L1-FILL", at + 600, at + 900, MachineState.DOWN),
                   StateInterval("L1-FILL", at + 900, None, MachineState.RUNNING),
                   StateInterval("L1-CAP", at, None, MachineState.RUNNING)],
        counts=[CountBucket("L1-FILL", at, "A", 10, 1), CountBucket("L1-FILL", at + 60, "A", 12, 0),
                CountBucket("L1-CAP", at, None, 5, 0)],
        reasons=[ReasonEntry("L1-FILL", at + 600, "JAM", "ann", at + 700)],
        dead_letters=[DeadLetter(at + 5, "mqtt1", "spBv1.0/x", b"\x00\xffraw", "cannot decode")]), at + 1)
    # The second part of a minute already written, as the engine's next flush adds it.
    store.write_facts(FactBatch(counts=[CountBucket("L1-FILL", at + 60, "A", 3, 1)]), at + 2)
    store.write_import("products", [ProductRate("A", None, 0.5, 30.0), ProductRate("B", "L1-FILL", 0.8, None)],
                       file="products.csv", sheet=None, imported_by="test")


def local_rows(store: Store, table: str) -> list[tuple[object, ...]]:
    queries = {
        "samples": "SELECT ts, source, tag, value_num, value_text, quality FROM samples ORDER BY ALL",
        "state_intervals": "SELECT machine, start_ts, end_ts, state FROM state_intervals ORDER BY ALL",
        "count_minutes": "SELECT machine, minute, coalesce(product, ''), sum(total), sum(reject) FROM count_minutes "
                         "GROUP BY ALL ORDER BY ALL",
        "stop_reasons": "SELECT machine, stop_start, reason, entered_by, entered_at FROM stop_reasons ORDER BY ALL",
        "dead_letters": "SELECT received_at, source, topic, payload, error FROM dead_letters ORDER BY ALL",
        "products": "SELECT product, coalesce(machine, ''), ideal_cycle_time_s, micro_stop_threshold_s FROM products "
                    "ORDER BY ALL",
    }
    cur = store.cursor()
    try:
        return [_plain(row) for row in cur.execute(queries[table]).fetchall()]
    finally:
        cur.close()


def central_rows(url: str, table: str, edge_id: str) -> list[tuple[object, ...]]:
    columns = {
        "samples": "ts, source, tag, value_num, value_text, quality",
        "state_intervals": "machine, start_ts, end_ts, state",
        "count_minutes": "machine, minute, product, total, reject",
        "stop_reasons": "machine, stop_start, reason, entered_by, entered_at",
        "dead_letters": "received_at, source, topic, payload, error",
        "products": "product, machine, ideal_cycle_time_s, micro_stop_threshold_s",
    }[table]
    with psycopg.connect(url) as con:
        rows = con.execute(f"SELECT {columns} FROM oee.{table} WHERE edge_id = %s ORDER BY {columns}",
                           [edge_id]).fetchall()
    return [_plain(row) for row in rows]


def _plain(row: Sequence[object]) -> tuple[object, ...]:
    """Times as naive UTC, bytes as bytes, numbers as Python numbers: DuckDB's and psycopg's values alike."""
    out: list[object] = []
    for value in row:
        if isinstance(value, datetime):
            value = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
        elif isinstance(value, memoryview | bytearray):
            value = bytes(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            value = int(value)
        out.append(value)
    return tuple(out)


def open_store(path: Path) -> Store:
    return Store.open(path)
