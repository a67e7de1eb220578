"""`oee engine` run as systemd runs it: a real process with NOTIFY_SOCKET and WATCHDOG_USEC set, reading a
real Modbus server, its log in JSON on stderr, its metrics on a free port; SIGTERM stops it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from tests.drivers.conftest import ModbusSim
from tests.service.notify_listener import notify_socket
from tests.service.running_plant import RUNNING, modbus_plc
from tests.service.scraping import scrape, value
from tests.support.waiting import until

__all__ = ["modbus_plc"]  # the fixture, used by name

ROOT = Path(__file__).resolve().parents[2]

CONFIG = """\
[site]
name = "Service test"
timezone = "UTC"

[[lines]]
id = "L1"
name = "Line 1"
area = "A"

[[sources]]
name = "plc"
kind = "modbus"
host = "127.0.0.1"
port = {port}
unit_id = 1
poll_interval_s = 0.1

[[machines]]
id = "M1"
name = "Filler"
line = "L1"
ideal_cycle_time_s = 0.001
[machines.signals]
total_count = {{ source = "plc", tag = "hr:0", type = "uint16", width = 16 }}
state_code = {{ source = "plc", tag = "hr:1" }}

[[shifts]]
name = "Day"
start = "06:00"
end = "06:00"

[service]
metrics_listen = "127.0.0.1:0"  # any free port: the log line says which
log_format = "text"             # --log-format json overrides it
"""


async def test_oee_engine_under_systemd_notifies_logs_json_and_serves_metrics(tmp_path: Path,
                                                                             modbus_plc: ModbusSim) -> None:
    await modbus_plc.set("hr", 0, [0, RUNNING])
    config = tmp_path / "plant.toml"
    config.write_text(CONFIG.format(port=modbus_plc.port), encoding="utf-8")
    with notify_socket(str(tmp_path / "notify"), str(tmp_path / "notify")) as systemd:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "NOTIFY_SOCKET": systemd.address, "WATCHDOG_USEC": "1000000"}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "oee_tui", "engine", "--config", str(config), "--data-dir", str(tmp_path / "data"),
            "--log-format", "json", env=env, stderr=asyncio.subprocess.PIPE)
        assert process.stderr is not None
        entries: list[dict[str, object]] = []
        try:
            while not any(str(entry["message"]).startswith("metrics at ") for entry in entries):
                line = await asyncio.wait_for(process.stderr.readline(), 30)
                assert line, f"the engine ended: {entries}"
                entries.append(json.loads(line))  # every line is one JSON object
            [url] = [str(entry["message"]).removeprefix("metrics at ") for entry in entries
                     if str(entry["message"]).startswith("metrics at ")]
            await until(lambda: systemd.received("READY=1"), what="READY=1")
            await until(lambda: len(systemd.times_of("WATCHDOG=1")) >= 2, what="two watchdog pings")
            await until(lambda: systemd.received("STATUS=1 machines, 1/1 sources online; store: all saved"),
                        what="the status line with the source online")

            samples = await asyncio.to_thread(scrape, url)
            while value(samples, "oee_machine_state", machine="M1", line="L1", state="running") != 1:
                await asyncio.sleep(0.2)
                samples = await asyncio.to_thread(scrape, url)
            assert value(samples, "oee_source_connected", source="plc", kind="modbus") == 1
            assert value(samples, "oee_samples_total") > 0 and value(samples, "oee_store_size_bytes") > 0
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            rest = await asyncio.wait_for(process.stderr.read(), 30)
            code = await asyncio.wait_for(process.wait(), 30)
        await until(lambda: systemd.received("STOPPING=1"), what="STOPPING=1")
    entries += [json.loads(line) for line in rest.splitlines()]
    assert code == 0, entries
    messages = [entry["message"] for entry in entries]
    assert messages[-1] == "stopped cleanly" and "stopping: flushing the store" in messages
    started = next(entry for entry in entries if str(entry["message"]).startswith("engine running on Service test"))
    assert started["logger"] == "oee.engine" and started["level"] == "INFO"
    assert str(started["ts"]).endswith("+00:00")
    stopping = systemd.times_of("STOPPING=1")[0]
    assert systemd.times_of("READY=1")[0] < stopping
