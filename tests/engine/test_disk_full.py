"""A full disk (issue 13, item 1), on a real small file system (tests/support/small_disk.py): the
engine keeps what it cannot write and says so, refuses to confirm a person's reason it could not
store, writes everything exactly once when there is room again, and when it must stop on a full
disk says how much was lost and fails. Commands on a full data dir say one line, no traceback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from oee_tui.cli import EXIT_OK, EXIT_STORE, main
from oee_tui.engine.live.engine import Engine
from oee_tui.engine.live.store_health import UnsavedDataError
from oee_tui.model import Quality, TagSample
from oee_tui.store import Store, StoreWriteError
from tests.imports.test_import_oee import at, plant
from tests.support.small_disk import SmallDisk, small_disk

PER_FLUSH = 2_000  # samples: far more than the slack a full tmpfs still takes in its last page


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    with small_disk(tmp_path / "disk") as mounted:
        yield mounted


class Plant:
    """An engine on the small disk, fed by hand: a counter that counts on, sample by sample."""

    def __init__(self, store: Store) -> None:
        self.now = at("06:00")
        self.count = 0
        self.engine = Engine(plant(with_plc=True), store, clock=lambda: self.now, acquire=False)

    def run_for(self, samples: int) -> None:
        for _ in range(samples):
            self.now += 0.1
            self.count += 1
            self.engine.ingest([TagSample(self.now, "plc", "hr:0", self.count, Quality.GOOD)])

    def stop_machine(self) -> float:
        self.now += 1
        self.engine.ingest([TagSample(self.now, "plc", "hr:4", 2, Quality.GOOD)])
        self.engine.tick()
        return self.engine.machines["M1"].current.start


def stored_counter_values(store: Store) -> list[float]:
    return [value for (value,) in store.cursor().execute(
        "SELECT value_num FROM samples WHERE tag = 'hr:0' ORDER BY ts").fetchall()]


async def test_the_engine_keeps_says_and_then_writes_everything_once(disk: SmallDisk,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    store = Store.open(disk.root / "data")
    feed = Plant(store)
    await feed.engine.start()
    try:
        feed.engine.ingest([TagSample(feed.now, "plc", "hr:4", 1, Quality.GOOD)])
        feed.run_for(PER_FLUSH)
        await feed.engine.flush()
        assert feed.engine.store_health.ok

        disk.fill()
        feed.run_for(PER_FLUSH)
        await feed.engine.flush()
        feed.run_for(PER_FLUSH)
        await feed.engine.flush()
        health = feed.engine.store_health
        assert health.failing and health.last_error == "no space left on the disk"
        assert health.unsaved_samples >= PER_FLUSH and health.unsaved_since is not None
        assert feed.engine.tick().store == health  # every screen gets it with the snapshot
        # Said once, in one line, not a traceback at every flush.
        failing = [record for record in caplog.records if "store writes are failing" in record.getMessage()]
        assert len(failing) == 1 and not any(record.exc_info for record in caplog.records)

        # A person's reason is refused, not confirmed, and not kept on screen either.
        stop = feed.stop_machine()
        with pytest.raises(StoreWriteError, match="no space left on the disk"):
            await feed.engine.set_stop_reason("M1", stop, "FAIL", "operator")
        assert feed.engine.machines["M1"].current.reason is None
        assert store.audit_head() == (0, "0" * 64)  # nor audited: its entry was in the refused transaction

        disk.free()
        await feed.engine.set_stop_reason("M1", stop, "FAIL", "operator")  # confirmed: it is stored
        assert [entry.after_value() for entry in store.audit_entries()] == ["FAIL"]
        assert feed.engine.store_health.ok
        assert stored_counter_values(store) == [float(n) for n in range(1, feed.count + 1)]  # each once
        assert store.cursor().execute("SELECT reason FROM stop_reasons").fetchall() == [("FAIL",)]
    finally:
        disk.free()
        await feed.engine.stop()
        store.close()


async def test_stopping_on_a_full_disk_says_how_much_is_lost(disk: SmallDisk) -> None:
    store = Store.open(disk.root / "data")
    feed = Plant(store)
    await feed.engine.start()
    feed.engine.ingest([TagSample(feed.now, "plc", "hr:4", 1, Quality.GOOD)])
    await feed.engine.flush()
    disk.fill()
    feed.run_for(PER_FLUSH)
    try:
        with pytest.raises(UnsavedDataError) as stopped:
            await feed.engine.stop()
    finally:
        store.close()
    said = str(stopped.value)
    assert f"the store in {disk.root / 'data'} could not be written (no space left on the disk)" in said
    assert f"{PER_FLUSH:,} samples" in said and "are lost" in said


async def test_memory_is_bounded_and_what_is_dropped_is_counted(disk: SmallDisk) -> None:
    store = Store.open(disk.root / "data")
    feed = Plant(store)
    feed.engine._writer.max_unsaved_rows = 1_000  # the smallest [store] max_unsaved_rows allows
    await feed.engine.start()
    feed.engine.ingest([TagSample(feed.now, "plc", "hr:4", 1, Quality.GOOD)])
    await feed.engine.flush()
    disk.fill()
    feed.run_for(1_500)
    await feed.engine.flush()
    health = feed.engine.store_health
    assert (health.unsaved_samples, health.lost_samples) == (1_000, 500)
    disk.free()
    await feed.engine.flush()
    # The newest were kept: the oldest 500 of the full-disk run are the ones lost.
    assert stored_counter_values(store)[-1000:] == [float(n) for n in range(501, 1_501)]
    assert feed.engine.store_health.lost_samples == 500  # said until the engine stops
    with pytest.raises(UnsavedDataError, match="500 samples were dropped earlier at the memory limit"):
        await feed.engine.stop()
    store.close()


def test_commands_on_a_full_data_dir(disk: SmallDisk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "oee.toml"
    assert main(["--config", str(config), "config", "init"]) == EXIT_OK
    data_dir = disk.root / "data"
    Store.open(data_dir).close()
    fresh = disk.root / "fresh"
    disk.fill()
    capsys.readouterr()
    # A command that only reads works, though the lock note cannot be written.
    assert main(["--config", str(config), "--data-dir", str(data_dir), "report"]) == EXIT_OK
    assert "L1-FILL" in capsys.readouterr().out
    # One that must create the store says so in one line.
    assert main(["--config", str(config), "--data-dir", str(fresh), "engine"]) == EXIT_STORE
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"oee: the store in {fresh}") and line.endswith("no space left on the disk")
    assert main(["--config", str(config), "--data-dir", str(data_dir), "store", "backup"]) == EXIT_STORE
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"oee: the store in {data_dir / 'backups'} cannot be written: the backup could not be "
                       "written: no space left on the disk")
