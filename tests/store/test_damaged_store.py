"""A damaged store (issue 13, item 3): every command says in one line which file, what is wrong and
what to do, instead of a traceback; `oee store check` finds the damage, `oee store backup` and
`oee store restore` give a way back. Real files, damaged the ways a disk or a person damages them."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from oee_tui.cli import EXIT_OK, EXIT_STORE, main
from oee_tui.model import CountBucket
from oee_tui.store import KeptSamples, Store
from oee_tui.store.backups import backups_in

T0 = 1_780_000_000.0
SAMPLES = 200_000  # enough for several blocks, so that one block can be damaged


def sound_store(data_dir: Path) -> Path:
    with Store.open(data_dir) as store:
        store.write_samples(*KeptSamples([T0 + i for i in range(SAMPLES)], ["plc"] * SAMPLES,
                                         [f"hr:{i % 50}" for i in range(SAMPLES)], [float(i) for i in range(SAMPLES)],
                                         [None] * SAMPLES, ["good"] * SAMPLES))
        store.write_counts([CountBucket("L1-FILL", T0, "", 42, 0)])
    return data_dir / Store.DB_FILENAME


def zero_length(path: Path) -> None:
    path.write_bytes(b"")


def truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:20_000])


def foreign(path: Path) -> None:
    path.write_bytes(b"Dear diary, today the filler stopped twice.\n" * 100)


def sqlite_file(path: Path) -> None:
    path.unlink()
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE samples (ts REAL)")
    con.commit()
    con.close()


def corrupted_block(path: Path) -> None:
    data = bytearray(path.read_bytes())
    start = 3 * 4096 + 262_144 + 5_000  # inside the second data block: samples
    data[start:start + 1000] = bytes(b ^ 0xFF for b in data[start:start + 1000])
    path.write_bytes(data)


DAMAGES: dict[str, tuple[Callable[[Path], None], str]] = {
    "zero-length": (zero_length, "empty (0 bytes)"),
    "truncated": (truncated, "truncated"),
    "foreign": (foreign, "not a DuckDB database"),
    "sqlite": (sqlite_file, "another program's database"),
}


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "oee.toml"
    assert main(["--config", str(path), "config", "init"]) == EXIT_OK
    return path


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_every_command_says_in_one_line_what_is_wrong(damage: str, tmp_path: Path, config_file: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "data"
    damage_it, said = DAMAGES[damage]
    damage_it(sound_store(data_dir))
    capsys.readouterr()
    for command in (["ui"], ["engine"], ["report"], ["deadletters"],
                    ["export", "intervals", "--out", str(tmp_path / "x.csv")], ["store", "backup"], ["store", "check"]):
        code = main(["--config", str(config_file), "--data-dir", str(data_dir), *command])
        out, err = capsys.readouterr()
        lines = [line for line in (out + err).splitlines() if line.strip()]
        assert code == EXIT_STORE, (command, out, err)
        assert len(lines) == 1 and "Traceback" not in out + err, (command, lines)
        assert str(data_dir / Store.DB_FILENAME) in lines[0] and said in lines[0]
        assert "restore a backup" in lines[0]


def test_a_damaged_block_is_found_by_store_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "data"
    corrupted_block(sound_store(data_dir))
    capsys.readouterr()
    assert main(["--data-dir", str(data_dir), "store", "check"]) == EXIT_STORE
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith(f"{data_dir / Store.DB_FILENAME}: table samples cannot be read (Corrupt database file")


def test_backup_then_restore_brings_a_damaged_store_back(tmp_path: Path, config_file: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "data"
    path = sound_store(data_dir)
    assert main(["--config", str(config_file), "--data-dir", str(data_dir), "store", "backup"]) == EXIT_OK
    [backup] = backups_in(data_dir / "backups")
    assert capsys.readouterr().out.startswith(f"backed up {path} to {backup}")
    assert main(["--data-dir", str(data_dir), "store", "check", "--file", str(backup)]) == EXIT_OK
    assert f"{backup}: ok: schema version" in capsys.readouterr().out

    corrupted_block(path)
    assert main(["--data-dir", str(data_dir), "store", "restore", str(backup)]) == EXIT_OK
    assert "the store it replaced is" in capsys.readouterr().out
    assert main(["--data-dir", str(data_dir), "store", "check"]) == EXIT_OK
    with Store.open(data_dir) as store:
        assert store.cursor().execute("SELECT count(*) FROM samples").fetchall() == [(SAMPLES,)]
        assert sum(bucket.total for bucket in store.counts(T0 - 60, T0 + 60)) == 42


def test_backups_keep_the_newest_n(tmp_path: Path) -> None:
    with Store.open(tmp_path / "data") as store:
        for n in range(4):
            store.backup(tmp_path / "b", keep=2, now=T0 + n)
    assert [path.name for path in backups_in(tmp_path / "b")] == ["oee-20260528T202642Z.duckdb",
                                                                  "oee-20260528T202643Z.duckdb"]
    assert [path.name for path in (tmp_path / "b").iterdir() if path.name.startswith(".")] == []


def test_restore_refuses_a_file_that_is_not_a_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "data"
    path = sound_store(data_dir)
    bogus = tmp_path / "bogus.duckdb"
    bogus.write_bytes(b"")
    assert main(["--data-dir", str(data_dir), "store", "restore", str(bogus)]) == EXIT_STORE
    assert "empty (0 bytes)" in capsys.readouterr().err
    assert path.exists() and main(["--data-dir", str(data_dir), "store", "check"]) == EXIT_OK
