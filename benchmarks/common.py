"""Shared helpers for the benchmark scripts: a synthetic plant config of any size."""

from __future__ import annotations

from typing import Any

from oee_tui.config import Config
from oee_tui.drivers.registry import config_from_dict


def plant_config(machines: int, lines: int = 10, timezone: str = "UTC") -> Config:
    """A plant of `machines` machines on one Modbus source, five tags each."""
    data: dict[str, Any] = {
        "site": {"name": "Bench", "timezone": timezone, "stale_after_s": 3600},
        "lines": [{"id": f"L{i}", "name": f"Line {i}"} for i in range(lines)],
        "sources": [{"name": "plc", "kind": "modbus", "host": "127.0.0.1", "port": 502}],
        "shifts": [
            {"name": "Early", "start": "06:00", "end": "14:00", "breaks": [{"start": "09:30", "end": "09:45"}]},
            {"name": "Late", "start": "14:00", "end": "22:00"},
            {"name": "Night", "start": "22:00", "end": "06:00"},
        ],
        "machines": [],
    }
    for m in range(machines):
        base = m * 10
        data["machines"].append({
            "id": f"M{m:03d}", "name": f"Machine {m}", "line": f"L{m % lines}",
            "ideal_cycle_time_s": 1.0, "micro_stop_threshold_s": 120,
            "signals": {
                "total_count": {"source": "plc", "tag": f"hr:{base}", "type": "uint32", "width": 32},
                "reject_count": {"source": "plc", "tag": f"hr:{base + 2}", "type": "uint16"},
                "state_code": {"source": "plc", "tag": f"hr:{base + 3}"},
                "speed": {"source": "plc", "tag": f"hr:{base + 4}", "type": "float32", "deadband": 0.5},
                "fault": {"source": "plc", "tag": f"co:{m}"},
            },
        })
    return config_from_dict(data)


def fill_history(cursor: Any, start: float, machines: int, days: int, product: str | None) -> None:
    """The benchmarks' synthetic history, generated in DuckDB: per machine a 20-minute cycle
    (17 min running, a 40 s micro-stop, 2.3 min down) and a count bucket every minute (55
    parts while running, 2 rejects in one minute of the cycle), all of `product` (NULL if None)."""
    seconds = days * 86400
    product_sql = "NULL" if product is None else f"'{product}'"
    cursor.execute(f"""
        INSERT INTO state_intervals
        SELECT printf('M%03d', m), to_timestamp({start} + c * 1200 + o.off)::TIMESTAMP,
               to_timestamp({start} + c * 1200 + o.off + o.len)::TIMESTAMP, o.state
        FROM range({machines}) t(m), range({seconds // 1200}) r(c),
             (VALUES (0, 1020, 'running'), (1020, 40, 'minor_stop'), (1060, 140, 'down')) o(off, len, state)
    """)
    cursor.execute(f"""
        INSERT INTO count_minutes
        SELECT printf('M%03d', m), to_timestamp({start} + i * 60)::TIMESTAMP, {product_sql},
               CASE WHEN (i % 20) < 17 THEN 55 ELSE 0 END, CASE WHEN i % 20 = 3 THEN 2 ELSE 0 END
        FROM range({machines}) t(m), range({seconds // 60}) r(i)
    """)


def fill_orders(cursor: Any, start: float, machines: int, days: int) -> None:
    """An order every 4 h on every machine, alternating products A and B."""
    cursor.execute(f"""
        INSERT INTO orders (order_id, product, machine, line, start_ts, end_ts, quantity)
        SELECT printf('O%03d-%04d', m, k), CASE WHEN k % 2 = 0 THEN 'A' ELSE 'B' END, printf('M%03d', m), NULL,
               to_timestamp({start} + k * 14400 + m * 60)::TIMESTAMP,
               to_timestamp({start} + (k + 1) * 14400 + m * 60)::TIMESTAMP, 10000
        FROM range({machines}) t(m), range({days * 86400 // 14400}) r(k)
    """)
