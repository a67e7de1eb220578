"""Shared helpers for the benchmark scripts: a synthetic plant config of any size."""

from __future__ import annotations

from typing import Any

from oee_tui.config import Config, config_from_dict


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
