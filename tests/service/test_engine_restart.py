"""The engine killed (SIGKILL) while a TUI's RemoteEngine and a command are attached, then started again.

A real `oee engine` process polls a real Modbus device and owns a real DuckDB store. Killed, it says
goodbye to no one and leaves its socket file behind: the attached TUI must say so at once, refuse
what is asked meanwhile (never hang, never queue it), and attach again by itself once an engine is
back; the command in flight must say its request was not confirmed and leave no file.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest

from oee_tui.drivers.registry import load_config
from oee_tui.service.client import EngineLost
from oee_tui.service.remote_engine import RemoteEngine
from oee_tui.service.socket_path import socket_path
from oee_tui.store import Store
from tests.service.running_engine import EngineProcess, engine_on_device, oee_command
from tests.support.waiting import until

pytestmark = pytest.mark.slow

# Enough samples that exporting them takes the engine a while: the kill lands while it works.
SEEDED_SAMPLES = 4_000_000
LOST_WITHIN_S = 2.0


def _seed(data_dir: Path) -> None:
    with Store.open(data_dir) as store:
        cursor = store.cursor()
        cursor.execute(f"""
            INSERT INTO samples
            SELECT to_timestamp(1790000000 + i * 0.01)::TIMESTAMP, 'plc', 'hr:' || (i % 4), i % 1000, NULL, 'good', 1
            FROM range({SEEDED_SAMPLES}) r(i)
        """)
        cursor.close()


async def test_killed_engine_is_said_at_once_refused_meanwhile_and_attached_again_after_restart(
        tmp_path: Path) -> None:
    with engine_on_device(tmp_path, seed=_seed) as (engine, _device):
        config = load_config(engine.config)
        remote = RemoteEngine(engine.data_dir, config, origin="test", reattach_every_s=0.2)
        changes: list[str | None] = []
        remote.on_change = lambda: changes.append(remote.lost)
        restarted: EngineProcess | None = None
        await remote.start()
        try:
            await until(lambda: len(remote.snapshot().machines) == 2, what="the first snapshot pushed")
            assert remote.pid == engine.pid and remote.lost is None

            # A command attached and waiting for its answer: an export of the whole store.
            out = tmp_path / "samples.csv"
            command = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "oee_tui", "--config", str(engine.config), "--data-dir", str(engine.data_dir),
                "export", "samples", "--format", "csv", "--out", str(out),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            await _until_attached(remote, command.pid)

            killed_at = time.monotonic()
            await asyncio.to_thread(engine.kill)
            await until(lambda: remote.lost is not None, timeout=LOST_WITHIN_S + 5, what="the TUI to see it lost",
                        step=0.005)
            lost_after = time.monotonic() - killed_at
            assert lost_after < LOST_WITHIN_S, f"the loss was seen {lost_after:.2f} s after the kill"
            assert f"the engine (pid {engine.pid}) stopped" in (remote.lost or "")
            assert changes[-1] == remote.lost  # the screens were told (the banner redraws)

            # Meanwhile every request is refused at once: never queued for an engine that may come back.
            asked_at = time.monotonic()
            with pytest.raises(EngineLost, match="not sent"):
                await asyncio.wait_for(remote.call("status"), 1.0)
            with pytest.raises(EngineLost):
                await asyncio.wait_for(remote.set_stop_reason("M1", time.time() - 5, "FAIL", "me"), 1.0)
            assert time.monotonic() - asked_at < 1.0

            # The command in flight says its request was not confirmed, exits 1, and leaves no file.
            _, err = await asyncio.wait_for(command.communicate(), 60)
            assert command.returncode == 1, err.decode()
            assert f"the engine (pid {engine.pid}) stopped" in err.decode()
            assert "not confirmed" in err.decode() and "Traceback" not in err.decode()
            assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".samples")]

            # The socket file the killed engine left does not stop a new one from starting on the data dir.
            assert socket_path(engine.data_dir).exists()
            restarted = EngineProcess(engine.config, engine.data_dir)
            await asyncio.to_thread(restarted.start)
            assert restarted.pid != engine.pid

            # The TUI attaches again by itself and gets snapshots from the new engine.
            await until(lambda: remote.lost is None and remote.pid == restarted.pid, timeout=30,
                        what="the TUI to attach again")
            await until(lambda: changes[-1] is None, what="the screens to be told it is back")
            back_at = time.time()
            await until(lambda: remote.snapshot().ts > back_at and len(remote.snapshot().machines) == 2, timeout=30,
                        what="a snapshot from the new engine")
            status = await remote.call("status")
            assert status["pid"] == restarted.pid

            # A command run after the restart works, through the new engine.
            again = await asyncio.to_thread(oee_command, engine.config, engine.data_dir, "export", "samples",
                                            "--format", "csv", "--out", str(out), "--quiet")
            assert again.returncode == 0, again.stderr
            with open(out) as file:
                rows = sum(1 for _ in file) - 1
            assert rows >= SEEDED_SAMPLES  # the store survived the kill whole
        finally:
            await remote.stop()
            if restarted is not None and restarted.process is not None:
                assert restarted.stop() == 0, restarted.log()


async def _until_attached(remote: RemoteEngine, pid: int) -> None:
    """Until the engine lists process `pid` among the attached (it has sent its request right after)."""
    async def attached() -> bool:
        status = await remote.call("status")
        return any(entry["pid"] == pid for entry in status["attached"])

    started = time.monotonic()
    while not await attached():
        assert time.monotonic() - started < 30, f"the command (pid {pid}) never attached"
        await asyncio.sleep(0.01)
