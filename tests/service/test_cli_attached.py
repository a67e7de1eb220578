"""Every `oee` command that touches the data dir, run as a user runs it while `oee engine` runs on it.

A real engine (a subprocess) polls a real Modbus device and owns a real DuckDB store; each command is
a process of its own that attaches through the engine's socket. None may exit 3 ("the store is in
use"): each either works through the engine or, for what needs the store to itself, says to stop it.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import pwd
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow.parquet as pq
import pytest

from oee_tui.model import DeadLetter, MachineState
from oee_tui.service.client import EngineClient
from oee_tui.store import Store
from tests.service.running_engine import DeviceThread, EngineProcess, engine_on_device, oee_command, wait_for

pytestmark = pytest.mark.slow

LETTERS = (DeadLetter(time.time() - 60, "plc", "hr:99", b"\x00\xffgarbled", "not a number: b'\\x00\\xff'"),
           DeadLetter(time.time() - 30, "plc", "hr:98", b"plain text", "no route for hr:98"))


@dataclass
class Running:
    engine: EngineProcess
    device: DeviceThread
    folder: Path

    def oee(self, *args: str, cwd: Path | None = None) -> Any:
        done = oee_command(self.engine.config, self.engine.data_dir, *args, cwd=cwd)
        assert done.returncode != 3, f"oee {' '.join(args)} found the store in use: {done.stderr}"
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def call(self, op: str, **args: Any) -> Any:
        """A request of the test's own, through the socket like the commands' (the store is the engine's)."""
        async def ask() -> Any:
            client = await EngineClient.attach(self.engine.data_dir, origin="test")
            try:
                return await client.call(op, **args)
            finally:
                await client.close()

        return asyncio.run(ask())


def _seed(data_dir: Path) -> None:
    """Dead letters an earlier run left, for `oee deadletters` to list through the engine."""
    with Store.open(data_dir) as store:
        store.write_dead_letters(list(LETTERS))


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    folder = tmp_path_factory.mktemp("attached")
    with engine_on_device(folder, seed=_seed) as (engine, device):
        here = Running(engine, device, folder)
        # M1 makes parts, M2 stops and runs again: samples, closed intervals, a stop and counts reach the store.
        wait_for(lambda: _states(here) == [MachineState.RUNNING] * 2, "both machines running")
        for count in (110, 125, 140):
            device.set("hr", 0, [count])
            wait_for(lambda stored=f",{count}.0,": _exported_rows(here, "samples", stored) > 0, f"count {count} stored")
        device.set("hr", 3, [3])
        wait_for(lambda: _states(here)[1].is_stop, "M2 stopped")
        device.set("hr", 3, [1])  # the stop ends, and is stored as it closes
        wait_for(lambda: _states(here)[1] is MachineState.RUNNING, "M2 running again")
        wait_for(lambda: _exported_rows(here, "stops", "M2") > 0, "M2's stop stored")
        yield here
        assert engine.stop() == 0, engine.log()


def _states(running: Running) -> list[MachineState]:
    return [m.state for m in running.call("snapshot").machines]


def _exported_rows(running: Running, what: str, containing: str) -> int:
    """Rows of a CSV export (through the engine) with `containing` in them."""
    parts: list[bytes] = []

    async def ask() -> None:
        client = await EngineClient.attach(running.engine.data_dir, origin="test")
        try:
            await client.call("export", on_part=lambda part: parts.append(part["bytes"]), what=what, format="csv",
                              start=_today(), end=_later())
        finally:
            await client.close()

    asyncio.run(ask())
    return sum(containing in line for line in b"".join(parts).decode().splitlines())


def _today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT00:00+00:00")


def _later() -> str:
    return datetime.fromtimestamp(time.time() + 3600, UTC).strftime("%Y-%m-%dT%H:%M+00:00")


# ------------------------------------------------------------------ report


def test_report_in_every_format_and_window_through_the_engine(running: Running) -> None:
    today = datetime.now(UTC).date().isoformat()
    table = running.oee("report")
    assert table.returncode == 0, table.stderr
    assert table.stdout.startswith(f"OEE Day@{today}  ({today}T00:00:00+00:00 .. "), table.stdout
    # The parts counted from 100 to 140 while the engine ran, on M1; none on M2.
    assert re.search(r"^machine\s+M1\s.*\s40\s+0\s", table.stdout, re.M), table.stdout
    assert re.search(r"^machine\s+M2\s.*\s0\s+0\s", table.stdout, re.M), table.stdout

    as_json = running.oee("report", "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["label"] == f"Day@{today}"
    assert {m["scope"]: m["good_count"] for m in report["machines"]} == {"M1": 40, "M2": 0}

    as_csv = running.oee("report", "--format", "csv", "--shift", "Day")
    assert as_csv.returncode == 0, as_csv.stderr
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [(row["level"], row["scope"], row["good_count"]) for row in rows] == [
        ("machine", "M1", "40"), ("machine", "M2", "0"), ("line", "L1", "40"), ("plant", "plant", "40")]

    window = running.oee("report", "--from", _today(), "--to", _later(), "--format", "json")
    assert window.returncode == 0, window.stderr
    assert {m["scope"]: m["good_count"] for m in json.loads(window.stdout)["machines"]} == {"M1": 40, "M2": 0}

    wrong = running.oee("report", "--shift", "Nope")
    assert wrong.returncode == 2 and "Nope" in wrong.stderr  # the engine's refusal, said as before


# ------------------------------------------------------------------ export


def _read_export(path: Path, fmt: str) -> list[dict[str, Any]]:
    """The whole file parsed: a torn or partial file fails here."""
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(path.read_text())))
    if fmt == "parquet":
        return pq.read_table(path).to_pylist()  # type: ignore[no-any-return]
    workbook = openpyxl.load_workbook(path, read_only=True)
    sheet = workbook.worksheets[0]
    header, *rows = [tuple(row) for row in sheet.iter_rows(values_only=True)]
    workbook.close()
    return [dict(zip(header, row, strict=True)) for row in rows]


@pytest.mark.parametrize(("what", "fmt"), [(what, fmt) for what in ("samples", "intervals", "stops", "oee")
                                           for fmt in ("csv", "parquet")] + [("oee", "xlsx")])
def test_export_writes_a_whole_file_that_belongs_to_the_caller(running: Running, what: str, fmt: str) -> None:
    out = running.folder / f"{what}.{fmt}"
    done = running.oee("export", what, "--format", fmt, "--out", str(out), "--from", _today(), "--to", _later())
    assert done.returncode == 0, done.stderr
    said = re.fullmatch(rf"wrote ([\d,]+) rows? of {what} to {re.escape(str(out))} \({fmt}, [\d.]+ s\)\n", done.stdout)
    assert said, done.stdout
    assert out.stat().st_uid == os.getuid()  # written by this process from the engine's parts, not by the engine
    assert not [p for p in running.folder.iterdir() if p.name.startswith(f".{what}")]  # no temporary left
    rows = _read_export(out, fmt)
    assert len(rows) == int(said.group(1).replace(",", "")) > 0
    if what == "samples":
        assert {str(row["tag"]) for row in rows} >= {"hr:0", "hr:1", "hr:2", "hr:3"}
        values = {(row["tag"], row["value_num"]) for row in rows}
        assert {("hr:0", 140.0), ("hr:1", 1.0)} <= {(tag, float(v)) for tag, v in values if v not in ("", None)}
    elif what == "stops":
        assert "M2" in {str(row["machine"]) for row in rows}
    elif what == "intervals":
        assert {"M1", "M2"} <= {str(row["machine"]) for row in rows}
    else:
        good = {row["scope"]: int(row["good_count"]) for row in rows if row["level"] == "machine"}
        assert good == {"M1": 40, "M2": 0}


def test_an_export_the_engine_refuses_leaves_no_file(running: Running) -> None:
    out = running.folder / "refused.xlsx"
    done = running.oee("export", "samples", "--format", "xlsx", "--out", str(out))
    assert done.returncode == 2
    assert done.stderr.startswith("oee export samples: XLSX is for OEE results and alerts only")
    assert not out.exists()


# ------------------------------------------------------------------ dead letters


def test_deadletters_as_a_table_as_json_and_raw(running: Running) -> None:
    table = running.oee("deadletters")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:4] == ["#", "received", "source", "topic"]
    assert [line.split()[0] for line in lines[1:]] == ["1", "2"]
    assert "hr:98" in lines[1] and "hr:99" in lines[2]  # newest first

    as_json = running.oee("deadletters", "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    letters = json.loads(as_json.stdout)
    assert [(x["topic"], x["payload_text"]) for x in letters] == [("hr:98", "plain text"), ("hr:99", None)]

    raw = subprocess.run([sys.executable, "-m", "oee_tui", "--config", str(running.engine.config), "--data-dir",
                          str(running.engine.data_dir), "deadletters", "--raw", "2"], capture_output=True, check=False)
    assert raw.returncode == 0, raw.stderr
    assert raw.stdout == LETTERS[0].payload  # the bytes themselves, nothing else


# ------------------------------------------------------------------ import


def _write_csv(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="") as file:
        csv.writer(file).writerows(rows)
    return path


def test_a_bad_import_names_file_row_and_column_as_given_and_writes_nothing(running: Running) -> None:
    _write_csv(running.folder / "plan.csv", [
        ["Order", "Product", "Machine", "Start", "End", "Qty"],
        ["1", "A", "M1", "2026-03-02 06:00", "2026-03-02 07:00", "10"],
        ["2", "A", "M9", "2026-03-02 07:00", "2026-03-02 08:00", "10"],
    ])
    done = running.oee("import", "schedule", "plan.csv", cwd=running.folder)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "plan.csv, row 3, column Machine: 'M9': is not a machine in the config; machines are M1, M2",
        "oee import: 1 problem in plan.csv; nothing was written",
    ]
    assert done.stdout == ""
    assert running.call("planning").orders == ()


def test_an_import_dry_run_says_what_it_would_write_and_writes_nothing(running: Running) -> None:
    path = _write_csv(running.folder / "products-dry.csv", [["Product", "Cycle time"], ["DRY", "2.5"]])
    done = running.oee("import", "products", str(path), "--dry-run")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == \
        "would write: 1 inserted, 0 updated, 0 unchanged; dry run, nothing was written"
    assert "DRY" not in {p.product for p in running.call("planning").products}


def test_a_good_import_is_written_by_the_engine_and_its_plant_runs_on_it(tmp_path: Path) -> None:
    """Its own engine: the imported shifts become the plant's calendar, which the other tests do not expect."""
    with engine_on_device(tmp_path) as (engine, _device):
        here = Running(engine, _device, tmp_path)
        assert here.call("snapshot").shift is None or here.call("snapshot").shift.startswith("Day")
        path = _write_csv(tmp_path / "shifts.csv", [["Shift", "Start", "End", "Days"],
                                                     ["Alpha", "00:00", "12:00", "Mon-Sun"],
                                                     ["Bravo", "12:00", "00:00", "Mon-Sun"]])
        done = here.oee("import", "shifts", str(path))
        assert done.returncode == 0, done.stderr
        assert done.stdout == f"imported {path} (shifts): 2 inserted, 0 updated, 0 unchanged\n"
        assert [p.name for p in here.call("planning").shifts] == ["Alpha", "Bravo"]
        # The running engine took the new calendar, without a restart: its live shift is an imported one.
        wait_for(lambda: (here.call("snapshot").shift or "").startswith(("Alpha", "Bravo")),
                 "the engine's live shift to be an imported one")
        again = here.oee("import", "shifts", str(path))
        assert again.returncode == 0
        assert "nothing changed" in again.stdout


# ------------------------------------------------------------------ store


def test_store_backup_runs_in_the_engine_and_the_backup_is_a_sound_store(running: Running) -> None:
    done = running.oee("store", "backup", "--to", str(running.folder / "backups"))
    assert done.returncode == 0, done.stderr
    said = re.fullmatch(r"backed up (\S+) to (\S+) \(([\d,]+) bytes\), by the engine \(pid (\d+)\)\n", done.stdout)
    assert said, done.stdout
    backup = Path(said.group(2))
    assert backup.parent == running.folder / "backups" and backup.stat().st_size == int(said.group(3).replace(",", ""))
    assert int(said.group(4)) == running.engine.pid
    checked = running.oee("store", "check", "--file", str(backup))  # a copy may be checked while the engine runs
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith(f"{backup}: ok: schema version")


def test_store_check_and_restore_say_to_stop_the_engine(running: Running) -> None:
    check = oee_command(running.engine.config, running.engine.data_dir, "store", "check")
    assert check.returncode == 3
    assert check.stderr == (f"oee store check: the engine (pid {running.engine.pid}) holds this store; check a copy "
                            "instead: `oee store backup`, then `oee store check FILE` on the backup it names\n")
    restore = oee_command(running.engine.config, running.engine.data_dir, "store", "restore",
                          str(running.folder / "whatever.duckdb"))
    assert restore.returncode == 3
    assert restore.stderr.startswith(f"oee store restore: the engine (pid {running.engine.pid}) is running on this "
                                     "store; stop it first")
    assert running.call("status")["pid"] == running.engine.pid  # the engine is untouched


# ------------------------------------------------------------------ status, config, devices


async def test_status_names_the_sources_and_who_is_attached(running: Running) -> None:
    watcher = await EngineClient.attach(running.engine.data_dir, origin="test-watcher")
    try:
        await watcher.subscribe()
        done = await asyncio.to_thread(running.oee, "status")
    finally:
        await watcher.close()
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"engine pid {running.engine.pid} on Attached plant, up ")
    assert any(re.match(r"plc\s+modbus\s+online\b", line) for line in lines), done.stdout
    header, *attached = lines[lines.index("attached: 2") + 1:]  # the watcher, and this command itself
    assert header.split() == ["user", "role", "pid", "from", "since", "live"]
    me = pwd.getpwuid(os.getuid()).pw_name
    assert all(row.split()[:2] == [me, "admin"] for row in attached), done.stdout
    watcher_row = [row.split() for row in attached if row.split()[2] == str(os.getpid())]
    assert len(watcher_row) == 1 and watcher_row[0][3] == "test-watcher" and watcher_row[0][-1] == "yes", done.stdout

    as_json = await asyncio.to_thread(running.oee, "status", "--format", "json")
    status = json.loads(as_json.stdout)
    assert [s["name"] for s in status["sources"]] == ["plc"] and status["store_bytes"] > 0


def test_config_check_and_devices_list_work_beside_the_engine(running: Running) -> None:
    check = running.oee("config", "check")
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith(f"{running.engine.config}: ok: 1 lines, 2 machines, 1 sources")
    devices = running.oee("devices", "list")
    assert devices.returncode == 0, devices.stdout + devices.stderr
    assert re.search(r"^plc\b.*\bmodbus\b", devices.stdout, re.M), devices.stdout
