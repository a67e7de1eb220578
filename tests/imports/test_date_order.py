"""Slashed dates are read one way only when a date written the same way says which, or the planner does.

The hostile file of issue 13: a production log whose `12/07/2026` means 7 December (US order),
beside a dotted German date. The dotted date used to decide the order for the slashed ones, so
`12/07/2026` became 12 July, the log's replace span reached back to July, and the dry run said only
"3 removed". Through the real `oee import` into a real store.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from oee_tui.store import Store
from tests.imports.cli_runs import oee_import
from tests.imports.test_import_cli import CONFIG  # noqa: F401 (the paths fixture writes the module's CONFIG)
from tests.imports.test_write import rows, write_csv

HEADER = ["Machine", "Start", "End", "Total", "Reason"]


@pytest.fixture
def july(tmp_path: Path, paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> Path:
    """A store holding July's log for M1, and the December log that mixes two ways of writing dates."""
    stored = write_csv(tmp_path / "july.csv", [HEADER,
                                              ["M1", "2026-07-20 06:00", "2026-07-20 07:00", "100", ""],
                                              ["M1", "2026-07-20 07:00", "2026-07-20 07:30", "", "FAIL"],
                                              ["M1", "2026-07-21 06:00", "2026-07-21 07:00", "100", ""]])
    assert oee_import(paths, "production-log", str(stored)) == 0
    capsys.readouterr()
    return write_csv(tmp_path / "december.csv", [HEADER,
                                                 ["M1", "12/07/2026 06:00", "12/07/2026 07:00", "50", ""],
                                                 ["M1", "14.12.2026 06:00", "14.12.2026 07:00", "60", ""]])


def test_a_dotted_date_does_not_decide_slashed_ones(july: Path, paths: tuple[Path, Path],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert oee_import(paths, "production-log", str(july), "--dry-run") == 2
    why = ("is ambiguous: no date written like it in this file tells whether it is day/month or month/day; write "
           "dates as yyyy-mm-dd (or give oee import --date-format)")
    assert capsys.readouterr().err.splitlines() == [
        f"{july}, row 2, column End: '12/07/2026 07:00': {why}",
        f"{july}, row 2, column Start: '12/07/2026 06:00': {why}",
        f"oee import: 2 problems in {july}; nothing was written"]


def test_the_date_format_settles_the_file_and_the_dry_run_lists_what_it_would_remove(
        july: Path, paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    # Read day-first, the log spans 12 July to 14 December: the dry run names the July rows it would remove.
    assert oee_import(paths, "production-log", str(july), "--dry-run", "--date-format", "dd/mm/yyyy") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[out.index("stored rows it would remove (times in UTC):"):] == [
        "stored rows it would remove (times in UTC):",
        "removed  machine or line  start_utc            end_utc",
        "run      M1               2026-07-20 04:00:00  2026-07-20 05:00:00",
        "stop     M1               2026-07-20 05:00:00  2026-07-20 05:30:00",
        "run      M1               2026-07-21 04:00:00  2026-07-21 05:00:00"]
    assert "would write: 2 inserted, 0 updated, 0 unchanged, 3 removed; dry run, nothing was written" in out
    # Read month-first, as meant: 7 and 14 December, and July stays.
    assert oee_import(paths, "production-log", str(july), "--date-format", "mm/dd/yyyy") == 0
    assert capsys.readouterr().out == f"imported {july} (production-log): 2 inserted, 0 updated, 0 unchanged\n"
    with Store.open(paths[1]) as store:
        assert rows(store, "SELECT strftime(start_ts, '%m-%d') FROM production_runs ORDER BY start_ts") == [
            ("07-20",), ("07-21",), ("12-07",), ("12-14",)]


def test_a_date_that_cannot_follow_the_given_format_is_a_problem(tmp_path: Path, paths: tuple[Path, Path],
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "log.csv", [HEADER, ["M1", "13/07/2026 06:00", "13/07/2026 07:00", "50", ""]])
    assert oee_import(paths, "production-log", str(path), "--date-format", "mm/dd/yyyy") == 2
    assert capsys.readouterr().err.splitlines()[0] == (
        f"{path}, row 2, column End: '13/07/2026 07:00': cannot be a date read month/day/year, as --date-format says")
