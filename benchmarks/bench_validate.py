"""Site acceptance of a 200-tag plant. Target (issue 17): under 10 s.

The plant: the demo plant's three servers (Modbus, OPC UA, S7: 62 mapped tags) and BENCH_EXTRA more
Modbus TCP devices (pymodbus servers of 7 machines each, a count and a state code per machine: 14 tags a
device), all on loopback in this process; 202 distinct mapped tags in 13 sources with the default 10.
The phase runs as `oee validate` runs it: a subprocess (`phase_main site`), through the runner, timed
from start to report; also printed: the phase alone in this process (no interpreter start-up), best of
BENCH_ROUNDS each.
Run: python benchmarks/bench_validate.py
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import tomlkit

from oee_tui.demo.servers import DemoPlant, demo_config_dict
from oee_tui.drivers.registry import load_config
from oee_tui.validation.phases import phases_named
from oee_tui.validation.plant_access import LocalAccess
from oee_tui.validation.runner import RunSetup, ValidationRun
from oee_tui.validation.site_acceptance import site_acceptance

EXTRA = int(os.environ.get("BENCH_EXTRA", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
MACHINES_PER_DEVICE = 7  # each: total count and state code, 2 registers
TARGET_S = 10.0


async def extra_devices(count: int) -> list[Any]:
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    servers = []
    for _ in range(count):
        device = SimDevice(1, simdata=(
            [SimData(0, count=16, values=False, datatype=DataType.BITS)],
            [SimData(0, count=16, values=False, datatype=DataType.BITS)],
            [SimData(0, count=2 * MACHINES_PER_DEVICE, values=1, datatype=DataType.REGISTERS)],
            [SimData(0, count=2 * MACHINES_PER_DEVICE, values=1, datatype=DataType.REGISTERS)],
        ))
        server = ModbusTcpServer(device, address=("127.0.0.1", 0))
        await server.serve_forever(background=True)
        servers.append(server)
    return servers


def plant_file(plant: DemoPlant, servers: list[Any], path: Path) -> Path:
    data = demo_config_dict(plant.modbus_port, plant.opcua_port, plant.s7_port, plant.timezone)
    for n, server in enumerate(servers):
        port = server.transport.sockets[0].getsockname()[1]
        source = f"extra{n}"
        data["sources"].append({"name": source, "kind": "modbus", "host": "127.0.0.1", "port": port,
                                "poll_interval_s": 1.0})
        for m in range(MACHINES_PER_DEVICE):
            data["machines"].append({
                "id": f"X{n}-M{m}", "name": f"Extra {n}.{m}", "line": "L1", "ideal_cycle_time_s": 1.0,
                "signals": {"total_count": {"source": source, "tag": f"hr:{2 * m}", "type": "uint16", "width": 16},
                            "state_code": {"source": source, "tag": f"hr:{2 * m + 1}", "type": "uint16"}}})
    path.write_text(tomlkit.dumps(data))
    return path


async def main() -> None:
    plant = DemoPlant(seed=7)
    await plant.start()
    servers = await extra_devices(EXTRA)
    try:
        with tempfile.TemporaryDirectory() as folder:
            config_path = plant_file(plant, servers, Path(folder) / "oee.toml")
            config = load_config(config_path)
            tags = sum(len(machine.signals) for machine in config.machines)
            distinct = len({(m.source, m.tag) for machine in config.machines for m in machine.signals.values()})
            print(f"plant: {len(config.sources)} sources, {tags} mapped tags ({distinct} distinct)")
            in_process, whole = [], []
            for round_ in range(ROUNDS):
                started = time.perf_counter()
                results = await site_acceptance(config, LocalAccess(config, Path(folder) / f"data{round_}"))
                in_process.append(time.perf_counter() - started)
                failed = [case for case in results.cases if case.outcome.value in ("failed", "error")]
                assert not failed, failed[:3]
                run = ValidationRun(RunSetup(store_dir=Path(folder) / "runs", config_path=config_path,
                                             tests_dir=None), phases_named(["site"]))
                started = time.perf_counter()
                record = await asyncio.to_thread(run.run)
                whole.append(time.perf_counter() - started)
                assert record.phases[0].status.value == "passed", record.phases[0]
            print(f"site acceptance in this process: best {min(in_process):.2f} s (runs: "
                  f"{', '.join(f'{s:.2f}' for s in in_process)})")
            print(f"site acceptance as `oee validate` runs it (subprocess, report): best {min(whole):.2f} s "
                  f"(runs: {', '.join(f'{s:.2f}' for s in whole)}); target under {TARGET_S:g} s: "
                  f"{'met' if max(whole) < TARGET_S else 'NOT met'}")
    finally:
        for server in servers:
            await server.shutdown()
        await plant.stop()


if __name__ == "__main__":
    asyncio.run(main())
