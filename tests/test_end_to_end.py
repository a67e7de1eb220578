"""The demo plant end to end: real protocol servers, real drivers, real engine, real DuckDB.

Nothing here is mocked: the demo serves Modbus (pymodbus) and OPC-UA (asyncua) on
loopback and the engine reads them through its drivers.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from oee_tui.model import MachineState
from oee_tui.runtime import DemoEngine
from oee_tui.store import Store


def late_morning_zone() -> str:
    """A time zone where it is late morning now (11:00-11:59): no demo shift break for an hour,
    so the simulated machines make parts whenever this test runs (in Europe/Berlin they stop at
    09:30, 18:00 and 02:00 local)."""
    offset = (11 - time.gmtime().tm_hour + 12) % 24 - 12  # -12..11 hours from UTC
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"  # POSIX signs: Etc/GMT-3 is UTC+3


async def test_engine_reads_demo_servers_and_store_holds_states_and_counts(tmp_path: Path) -> None:
    started = time.time()
    demo = DemoEngine(Store.open(tmp_path), timezone=late_morning_zone())
    machine_ids = [m.id for m in demo.config.machines]
    assert len(machine_ids) >= 8 and len(demo.config.lines) >= 2
    await demo.start()
    online: set[str] = set()
    running: set[str] = set()
    counted: set[str] = set()
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            for row in demo.snapshot().machines:
                if row.state is not MachineState.OFFLINE:
                    online.add(row.machine)
                if row.state is MachineState.RUNNING:
                    running.add(row.machine)
                if row.good_count + row.reject_count > 0:
                    counted.add(row.machine)
            if online == set(machine_ids) and running and running <= counted:
                break
            await asyncio.sleep(0.2)
    finally:
        await demo.stop()  # flushes
    assert online == set(machine_ids), f"never got data for {set(machine_ids) - online}"
    assert running <= counted, f"running but no parts counted: {running - counted}"

    store = Store.open(tmp_path)
    try:
        intervals = store.intervals(started - 60, time.time() + 60)
        counts = store.count_totals(started - 60, time.time() + 60)
    finally:
        store.close()
    states_by_machine: dict[str, set[MachineState]] = {}
    for interval in intervals:
        assert interval.end is not None, "a clean stop closes every interval"
        states_by_machine.setdefault(interval.machine, set()).add(interval.state)
    for machine in machine_ids:
        assert states_by_machine.get(machine, set()) - {MachineState.OFFLINE}, f"{machine} has no state stored"
    stored_counts = {machine: total for (machine, _product), (total, _reject) in counts.items() if total > 0}
    assert set(stored_counts) >= counted


def _oee(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "oee_tui", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, timeout=60)


def test_headless_engine_owns_the_store_and_flushes_on_sigterm(tmp_path: Path) -> None:
    engine = subprocess.Popen([sys.executable, "-m", "oee_tui", "--data-dir", str(tmp_path), "engine", "--demo"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    assert engine.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(engine.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        lock = tmp_path / "demo" / "oee.lock"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (lock.exists() and str(engine.pid) in lock.read_text()):
            time.sleep(0.1)
        assert str(engine.pid) in lock.read_text()

        second = _oee(tmp_path, "report", "--demo")
        assert second.returncode == 3
        assert f"process {engine.pid}" in second.stderr
        assert "Traceback" not in second.stderr

        # Let it gather a few seconds of data through the real drivers, then stop it as systemd would.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "demo plant serving" not in "".join(lines):
            time.sleep(0.1)
        assert "demo plant serving" in "".join(lines)
        time.sleep(4)  # data accumulates in real time; nothing to wait on but the clock
        engine.send_signal(signal.SIGTERM)
        engine.wait(timeout=30)
        reader.join(timeout=5)
        output = "".join(lines)
    finally:
        if engine.poll() is None:
            engine.kill()
    assert engine.returncode == 0, output
    assert "stopped cleanly" in output

    report = _oee(tmp_path, "report", "--demo", "--format", "json")
    assert report.returncode == 0, report.stderr
    data = json.loads(report.stdout)
    assert len(data["machines"]) == 11
    # The demo keeps real shift breaks (Night: 02:00-02:20 Berlin); inside one nothing is
    # made, so either parts were counted or the time was counted as a planned stop.
    assert sum(m["total_count"] for m in data["machines"]) > 0 or \
        all(m["planned_stop_s"] > 0 for m in data["machines"])
    assert data["plant"]["scope"] == "plant"
    assert not os.path.exists(tmp_path / "demo" / "oee.lock") or \
        str(engine.pid) not in (tmp_path / "demo" / "oee.lock").read_text()


def test_a_store_from_a_newer_oee_is_refused_with_a_message_not_a_traceback(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "demo")
    cursor = store.cursor()
    cursor.execute("INSERT INTO schema_version VALUES (99, TIMESTAMP '2030-01-01')")
    cursor.close()
    store.close()
    result = _oee(tmp_path, "report", "--demo")
    assert result.returncode == 2
    assert "schema version 99" in result.stderr and "upgrade" in result.stderr
    assert "Traceback" not in result.stderr
