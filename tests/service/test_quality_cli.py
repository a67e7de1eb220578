"""`oee quality` as a user runs it: attached to a real `oee engine` polling a real Modbus device (the live
counters, through the engine's data_quality op), then, the engine stopped, from the hours it stored."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.service.running_engine import DeviceThread, EngineProcess, oee_command, plant_toml, wait_for

pytestmark = pytest.mark.slow


def _quality(config: Path, data_dir: Path, *args: str) -> dict[str, Any]:
    done = oee_command(config, data_dir, "quality", "--json", *args)
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def test_quality_live_from_the_engine_then_from_the_store(tmp_path: Path) -> None:
    device = DeviceThread()
    device.start()
    engine: EngineProcess | None = None
    try:
        device.set("hr", 0, [100, 1, 50, 1])
        config = tmp_path / "oee.toml"
        # M1's state code may be 1 or 2: a 3 (down) is out of the range the tag map gives.
        text = plant_toml(device.port).replace('state_code = { source = "plc", tag = "hr:1" }',
                                               'state_code = { source = "plc", tag = "hr:1", min = 1, max = 2 }')
        assert "max = 2" in text
        config.write_text(text)
        os.chmod(config, 0o600)
        data_dir = tmp_path / "data"
        engine = EngineProcess(config, data_dir)
        engine.start()

        wait_for(lambda: _quality(config, data_dir)["current"][0]["received"] > 20, "samples counted", timeout=60)
        device.set("hr", 1, [3])
        wait_for(lambda: _quality(config, data_dir)["current"][0]["range_violations"] > 0, "a range violation",
                 timeout=60)
        live = _quality(config, data_dir, "--source", "plc")
        (plc,) = live["current"]
        assert live["live"] and (plc["source"], plc["kind"], plc["device_time"]) == ("plc", "modbus", False)
        assert plc["expected_every_s"] == 0.1 and plc["expected"] > 0 and 0 < plc["completeness"] <= 1
        state = next(tag for tag in plc["tags"] if tag["tag"] == "hr:1")
        assert (state["range_low"], state["range_high"], state["last_violation"]) == (1, 2, 3)
        assert plc["skew_s"] is None  # Modbus samples carry no device time

        table = oee_command(config, data_dir, "quality", "--source", "plc")
        assert table.returncode == 0, table.stderr
        lines = table.stdout.splitlines()
        assert lines[0].startswith("this hour (since ") and lines[0].endswith("live from the engine:")
        assert lines[1].split() == ["source", "kind", "complete", "received", "expected", "range", "dupl", "order",
                                    "skew"]
        assert lines[2].split()[:2] == ["plc", "modbus"] and lines[2].split()[-1] == "n/a"
        state_row = next(line.split() for line in lines if line.startswith("hr:1 "))
        assert "1..2" in state_row and state_row[-1] == "3"

        refused = oee_command(config, data_dir, "quality", "--source", "nope")
        assert refused.returncode == 2 and "no source 'nope'" in refused.stderr and "plc" in refused.stderr

        assert engine.stop() == 0
        stored = oee_command(config, data_dir, "quality")
        assert stored.returncode == 0, stored.stderr
        assert stored.stdout.startswith("no engine runs: the hours it stored")
        hour_row = next(line.split() for line in stored.stdout.splitlines() if " plc " in line)
        # date, time, source, kind, complete, received, expected, range: the violations were kept
        assert hour_row[3] == "modbus" and int(hour_row[7].replace(",", "")) > 0
        (kept,) = _quality(config, data_dir)["hours"]
        assert not _quality(config, data_dir)["live"] and kept["range_violations"] >= 1
        assert kept["received"] >= plc["received"]
    finally:
        if engine is not None and engine.process is not None:
            engine.stop()
        device.stop()
