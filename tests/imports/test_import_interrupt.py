"""Ctrl+C during `oee import`: a real SIGINT, sent to this process at a chosen point of the import.

Where the signal arrives is chosen by wrapping one step of the import (the check of the rows,
the write's SQL, the read of the stored planning data) so that it sends SIGINT to the process
and then carries on; the signal itself, Python's handling of it and DuckDB's are all real.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from oee_tui.store import Store, import_tables
from tests.imports.cli_runs import oee_import
from tests.imports.test_import_cli import CONFIG  # noqa: F401 (the paths fixture writes the module's CONFIG)
from tests.imports.test_write import dump, rows, write_csv

PLAN = [["Order", "Product", "Machine", "Start", "End", "Qty"],
        ["1", "A", "M1", "2026-03-02 06:00", "2026-03-02 07:00", "10"],
        ["2", "B", "M1", "2026-03-02 07:00", "2026-03-02 08:00", "20"]]


@pytest.fixture(autouse=True)
def python_sigint() -> Iterator[None]:
    """Python's own Ctrl+C handling, whatever the test runner set (a worker may ignore SIGINT)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def ctrl_c_then(call: Callable[..., Any]) -> Callable[..., Any]:
    """`call`, preceded by a SIGINT to this process, as when the planner presses Ctrl+C at that moment."""
    def interrupted(*args: Any, **kwargs: Any) -> Any:
        os.kill(os.getpid(), signal.SIGINT)
        return call(*args, **kwargs)

    return interrupted


def then_ctrl_c(call: Callable[..., Any]) -> Callable[..., Any]:
    """`call`, followed by a SIGINT: the press comes after this step's work is done but not committed."""
    def interrupted(*args: Any, **kwargs: Any) -> Any:
        out = call(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)
        return out

    return interrupted


def test_ctrl_c_while_the_file_is_checked_says_so_and_exits_130(
        tmp_path: Path, paths: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from oee_tui.imports import preview

    monkeypatch.setattr(preview, "validate_table", ctrl_c_then(preview.validate_table))
    assert oee_import(paths, "schedule", str(write_csv(tmp_path / "plan.csv", PLAN))) == 130
    assert capsys.readouterr() == ("", "oee import: interrupted; nothing was written\n")
    assert not (paths[1] / Store.DB_FILENAME).exists()


def test_ctrl_c_in_the_middle_of_the_write_rolls_it_back(
        tmp_path: Path, paths: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "plan.csv", PLAN)
    # A store with an import in it already, so that "nothing" is measured against something.
    products = write_csv(tmp_path / "products.csv", [["Product", "Cycle time"], ["A", "1"], ["B", "2"]])
    assert oee_import(paths, "products", str(products)) == 0
    with Store.open(paths[1]) as store:
        before = dump(store)
    capsys.readouterr()
    # The orders are inserted, inside the transaction, when the press comes.
    writers = dict(import_tables._WRITERS)
    writers["schedule"] = then_ctrl_c(writers["schedule"])
    monkeypatch.setattr(import_tables, "_WRITERS", writers)
    assert oee_import(paths, "schedule", str(path)) == 130
    assert capsys.readouterr() == ("", "oee import: interrupted; nothing was written\n")
    with Store.open(paths[1]) as store:
        assert dump(store) == before
        assert rows(store, "SELECT count(*) FROM orders") == [(0,)]
    # Once the press is gone, the same file imports.
    monkeypatch.undo()
    assert oee_import(paths, "schedule", str(path)) == 0
    assert capsys.readouterr().out == f"imported {path} (schedule): 2 inserted, 0 updated, 0 unchanged\n"


def test_ctrl_c_on_a_first_import_leaves_no_data(tmp_path: Path, paths: tuple[Path, Path],
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    writers = dict(import_tables._WRITERS)
    writers["schedule"] = then_ctrl_c(writers["schedule"])
    monkeypatch.setattr(import_tables, "_WRITERS", writers)
    assert oee_import(paths, "schedule", str(write_csv(tmp_path / "plan.csv", PLAN))) == 130
    assert capsys.readouterr().err == "oee import: interrupted; nothing was written\n"
    with Store.open(paths[1]) as store:
        assert rows(store, "SELECT (SELECT count(*) FROM orders) + (SELECT count(*) FROM import_log)") == [(0,)]


def test_ctrl_c_while_duckdb_reads_the_stored_planning_data_is_no_traceback(
        tmp_path: Path, paths: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # DuckDB turns a KeyboardInterrupt inside a query into RuntimeError("Query interrupted");
    # the command must still end in its one line.
    from oee_tui.imports import references

    path = write_csv(tmp_path / "plan.csv", PLAN)
    products = write_csv(tmp_path / "products.csv", [["Product", "Cycle time"], ["A", "1"], ["B", "2"]])
    assert oee_import(paths, "products", str(products)) == 0
    capsys.readouterr()
    monkeypatch.setattr(references, "stored_planning", ctrl_c_then(references.stored_planning))
    assert oee_import(paths, "schedule", str(path)) == 130
    assert capsys.readouterr() == ("", "oee import: interrupted; nothing was written\n")


def test_ctrl_c_during_a_dry_run_says_so(tmp_path: Path, paths: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "plan.csv", PLAN)
    assert oee_import(paths, "schedule", str(path)) == 0
    capsys.readouterr()
    writers = dict(import_tables._WRITERS)
    writers["schedule"] = then_ctrl_c(writers["schedule"])
    monkeypatch.setattr(import_tables, "_WRITERS", writers)
    assert oee_import(paths, "schedule", str(path), "--dry-run") == 130
    out, err = capsys.readouterr()
    assert err == "oee import: interrupted; nothing was written\n"
    assert "would write" not in out
