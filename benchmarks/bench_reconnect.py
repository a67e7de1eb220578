"""A device that drops out and comes back: how fast the engine notices both ways.

Targets (issue 3): offline shown within two poll intervals; reconnected within the
backoff limit (reconnect_max_s) after the server is back.
A real pymodbus server in its own process is killed and restarted on the same
port (the PLC rebooted: connections are refused), and frozen with SIGSTOP and
thawed (a cable pulled: no answer, no refusal), several times each; the real
engine polls it and the script watches the engine's snapshot as the live screen does.
Run: python benchmarks/bench_reconnect.py   (BENCH_ROUNDS=5)
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from oee_tui.config import Config
from oee_tui.drivers.registry import config_from_dict

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
POLL_S = 0.5
RECONNECT_MAX_S = 2.0


def serve(port: int) -> None:
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    async def run() -> None:
        device = SimDevice(1, simdata=(
            [SimData(0, count=16, values=False, datatype=DataType.BITS)],
            [SimData(0, count=16, values=False, datatype=DataType.BITS)],
            [SimData(0, count=16, values=1, datatype=DataType.REGISTERS)],
            [SimData(0, count=16, values=0, datatype=DataType.REGISTERS)],
        ))
        server = ModbusTcpServer(device, address=("127.0.0.1", port))
        await server.serve_forever(background=True)
        print("UP", flush=True)
        count = 0
        while True:
            count += 1
            await server.async_setValues(1, 3, 0, [count % 65536])  # type: ignore[arg-type]
            await asyncio.sleep(0.2)

    asyncio.run(run())


def plant(port: int) -> Config:
    return config_from_dict({
        "site": {"name": "Bench", "timezone": "UTC", "stale_after_s": 60},
        "lines": [{"id": "L1", "name": "Line 1"}],
        "sources": [{"name": "plc", "kind": "modbus", "host": "127.0.0.1", "port": port, "poll_interval_s": POLL_S,
                     "timeout_s": POLL_S, "reconnect_min_s": 0.2, "reconnect_max_s": RECONNECT_MAX_S}],
        "shifts": [{"name": "Day", "start": "00:00", "end": "00:00"}],
        "machines": [{"id": "M1", "name": "Machine 1", "line": "L1", "ideal_cycle_time_s": 1.0,
                      "signals": {"total_count": {"source": "plc", "tag": "hr:0", "width": 16},
                                  "state_code": {"source": "plc", "tag": "hr:1"}}}],
    })


def start_server(port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "UP"
    return proc


async def main() -> None:
    from oee_tui.engine.live.engine import Engine
    from oee_tui.model import MachineState
    from oee_tui.store import Store

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = start_server(port)
    engine = Engine(plant(port), Store.open(Path(tempfile.mkdtemp())), tick_s=0.05)
    await engine.start()

    since_data: list[float] = []

    async def until(online: bool, limit: float) -> float:
        started = time.monotonic()
        while time.monotonic() - started < limit:
            machines = engine.snapshot().machines
            is_online = bool(machines) and not machines[0].stale and machines[0].state is not MachineState.OFFLINE
            if is_online == online:
                if not online and machines and machines[0].last_data is not None:
                    since_data.append(time.time() - machines[0].last_data)
                return time.monotonic() - started
            await asyncio.sleep(0.01)
        return float("inf")

    offline_times, online_times, frozen_times, thawed_times = [], [], [], []
    try:
        await until(True, 10)
        for _ in range(ROUNDS):
            await asyncio.sleep(1.0)
            server.send_signal(signal.SIGSTOP)
            frozen_times.append(await until(False, 10))
            await asyncio.sleep(RECONNECT_MAX_S * 2)
            server.send_signal(signal.SIGCONT)
            thawed_times.append(await until(True, 30))
            await asyncio.sleep(1.0)
            server.kill()
            server.wait()
            offline_times.append(await until(False, 10))
            await asyncio.sleep(RECONNECT_MAX_S * 2)  # let the backoff reach its limit
            server = start_server(port)
            online_times.append(await until(True, 30))
    finally:
        server.kill()
        await engine.stop()
    print(f"reconnect: poll every {POLL_S} s, backoff 0.2..{RECONNECT_MAX_S} s, {ROUNDS} rounds of kill and restart")
    frozen_since_data = since_data[0::2]
    print(f"reconnect: device frozen (no answer): offline shown {max(frozen_since_data):.2f} s at worst after its "
          f"last data (mean {sum(frozen_since_data) / ROUNDS:.2f} s; target <= 2 polls = {2 * POLL_S:.1f} s), "
          f"{max(frozen_times):.2f} s after the freeze; online again {max(thawed_times):.2f} s at worst after it "
          "answers again")
    print(f"reconnect: device restarted: offline shown after {max(offline_times):.2f} s at worst "
          f"(mean {sum(offline_times) / ROUNDS:.2f} s; target <= 2 polls = {2 * POLL_S:.1f} s)")
    print(f"reconnect: online again after {max(online_times):.2f} s at worst "
          f"(mean {sum(online_times) / ROUNDS:.2f} s; target <= reconnect_max_s = {RECONNECT_MAX_S:.1f} s)")


if __name__ == "__main__":
    if "--serve" in sys.argv:
        serve(int(sys.argv[-1]))
    else:
        asyncio.run(main())
