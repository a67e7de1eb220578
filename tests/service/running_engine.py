"""A real `oee engine` in a process of its own, on a config that polls a real Modbus device, for the tests
that run `oee` commands against it or kill it.

The device (pymodbus, from tests/drivers/conftest.py) runs on an event loop in a thread of the test's
process, so that a synchronous test can run commands as subprocesses while the engine keeps polling it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from oee_tui.service.client import engine_serves
from oee_tui.service.socket_path import socket_path
from tests.drivers.conftest import UNIT_ID, ModbusSim

T = TypeVar("T")
START_TIMEOUT_S = 60.0  # an engine starts in ~1 s; the 2 shared cores under a full suite make it slower


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 30.0, step: float = 0.05) -> float:
    """Seconds until `predicate` holds (checked every `step`), for code outside an event loop."""
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, f"timed out after {timeout} s waiting for {what}"
        time.sleep(step)
    return time.monotonic() - started


class DeviceThread:
    """A Modbus device served from a thread's event loop, so that it answers while the test blocks."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.sim = ModbusSim()
        self._thread = threading.Thread(target=self.loop.run_forever, name="modbus-device", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self.run(self.sim.start())

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    def set(self, area: str, address: int, values: list[int] | list[bool]) -> None:
        self.run(self.sim.set(area, address, values))

    def stop(self) -> None:
        self.run(self.sim.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    @property
    def port(self) -> int:
        return self.sim.port


def plant_toml(port: int) -> str:
    """Two machines on the device: M1's count and state at hr:0 and hr:1, M2's at hr:2 and hr:3."""
    machines = "".join(f"""
[[machines]]
id = "{machine}"
name = "Machine {machine}"
line = "L1"
ideal_cycle_time_s = 1.0
counter_jump_margin = 1000000
[machines.signals]
total_count = {{ source = "plc", tag = "hr:{2 * i}", type = "uint16", width = 16 }}
state_code = {{ source = "plc", tag = "hr:{2 * i + 1}" }}
""" for i, machine in enumerate(("M1", "M2")))
    return f"""
[site]
name = "Attached plant"
timezone = "UTC"

[[lines]]
id = "L1"
name = "Line 1"

[[sources]]
name = "plc"
kind = "modbus"
host = "127.0.0.1"
port = {port}
unit_id = {UNIT_ID}
poll_interval_s = 0.1
timeout_s = 1.0

[state_map]
"1" = "running"
"2" = "stopped"
"3" = "down"

[[shifts]]
name = "Day"
start = "00:00"
end = "00:00"

[[reasons]]
code = "FAIL"
name = "Failure"
loss = "breakdown"
{machines}"""


def oee_command(config: Path, data_dir: Path, *args: str, cwd: Path | None = None,
                timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """`oee --config C --data-dir D ARGS` as a user runs it: a process of its own."""
    return subprocess.run([sys.executable, "-m", "oee_tui", "--config", str(config), "--data-dir", str(data_dir),
                           *args], capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd)


class EngineProcess:
    """`oee engine` on a config and data dir; its log (stderr) kept in a file beside the data dir."""

    def __init__(self, config: Path, data_dir: Path) -> None:
        self.config = config
        self.data_dir = data_dir
        self.log_path = data_dir.parent / f"engine-{time.monotonic_ns()}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        """Start it and return once it serves its socket."""
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "oee_tui", "--config", str(self.config), "--data-dir", str(self.data_dir),
                 "engine"], stdout=log, stderr=subprocess.STDOUT)
        wait_for(self._serving, f"the engine (pid {self.pid}) to serve {socket_path(self.data_dir)}",
                 timeout=START_TIMEOUT_S)

    def _serving(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"the engine exited {self.process.returncode}:\n{self.log()}")
        return engine_serves(self.data_dir)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no flush, no goodbye to the clients, the socket file left behind."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> int:
        """SIGTERM, as systemd stops it; its exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)
        return self.process.returncode


@contextmanager
def engine_on_device(folder: Path, seed: Callable[[Path], None] | None = None,
                     ) -> Iterator[tuple[EngineProcess, DeviceThread]]:
    """A device with both machines running, and an engine serving `folder/data` that polls it; `seed`
    writes to the data dir first (what an earlier run left in the store)."""
    device = DeviceThread()
    device.start()
    engine: EngineProcess | None = None
    try:
        device.set("hr", 0, [100, 1, 50, 1])
        config = folder / "oee.toml"
        config.write_text(plant_toml(device.port))
        os.chmod(config, 0o600)
        if seed is not None:
            seed(folder / "data")
        engine = EngineProcess(config, folder / "data")
        engine.start()
        yield engine, device
    finally:
        if engine is not None and engine.process is not None:
            engine.stop()
        device.stop()
