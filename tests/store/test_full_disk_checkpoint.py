"""A full disk when DuckDB checkpoints its WAL: DuckDB then gives up on the database (a fatal
error). The store must say "cannot be written" (nothing of the write kept), open the file again
by itself at the next write, and once there is room every batch is there exactly once. A real
small tmpfs (tests/support/small_disk.py); the WAL checkpoints at 100 KB instead of 16 MB, so
that a few batches reach it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from oee_tui.store import FactBatch, KeptSamples, Store, StoreWriteError
from tests.support.small_disk import SmallDisk, small_disk

T0 = 1_780_000_000.0
ROWS = 5_000


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    with small_disk(tmp_path / "disk", size_mb=8) as mounted:
        yield mounted


def batch(n: int) -> FactBatch:
    first = n * ROWS
    return FactBatch(samples=KeptSamples([T0 + first + i for i in range(ROWS)], ["plc"] * ROWS, ["t"] * ROWS,
                                         [float(first + i) for i in range(ROWS)], [None] * ROWS, ["good"] * ROWS))


def test_a_checkpoint_on_a_full_disk_loses_and_doubles_nothing(disk: SmallDisk,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    store = Store.open(disk.root / "data")
    try:
        store.cursor().execute("PRAGMA wal_autocheckpoint = '100KB'")
        written = 0
        for _ in range(3):
            store.write_facts(batch(written), T0)
            written += 1
        disk.fill()
        for _ in range(4):
            with pytest.raises(StoreWriteError, match="no space left on the disk"):
                store.write_facts(batch(written), T0)
        said = [record.getMessage() for record in caplog.records]
        assert any("DuckDB gave up on the database" in line for line in said)  # the fatal path, taken
        assert any("opened again after a fatal error" in line for line in said)
        disk.free()
        for _ in range(2):  # the batch that failed four times, then one more
            store.write_facts(batch(written), T0)
            written += 1
        rows = store.cursor().execute("SELECT count(*), count(DISTINCT value_num), max(value_num) FROM samples")
        assert rows.fetchall() == [(written * ROWS, written * ROWS, written * ROWS - 1)]
    finally:
        disk.free()
        store.close()
