"""The Validation screen (F8): pilot tests that run a phase and cancel one, the past runs, and snapshots at
80x24 (idle, and a finished run's fixed record: no live timings in a snapshot)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, RichLog, Static

from oee_tui.app import OeeApp
from oee_tui.screens.validation import ValidationScreen
from oee_tui.screens.validation_runs import PastRunsScreen
from oee_tui.validation.junit import CaseResult, Counts, Outcome
from oee_tui.validation.run_record import PhaseRecord, PhaseStatus, RunRecord, RunStatus
from tests.support.pilot import settle, until
from tests.support.waiting import until as wait_until
from tests.ui.conftest import AppFactory
from tests.ui.fakes import StaticEngine, frozen_clock
from tests.validation.generated_suite import write_suite

RUN_TIMEOUT = 120.0  # a phase is a Python subprocess: seconds on a busy 2-core machine


def app_on(engine: StaticEngine, data_dir: Path) -> OeeApp:
    return OeeApp(engine, config_path=Path("/srv/oee/oee.toml"), data_dir=data_dir, clock=frozen_clock,
                  refresh_interval=None)


async def open_screen(pilot: Pilot[Any]) -> ValidationScreen:
    await pilot.press("f8")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ValidationScreen)
    return screen


def cell(screen: ValidationScreen, phase: str, column: str) -> str:
    return str(screen.query_one(DataTable).get_cell(phase, column))


def heading(screen: ValidationScreen) -> str:
    return str(screen.query_one("#validation-heading", Static).render())


async def test_enter_runs_the_highlighted_phase_and_shows_its_output_counts_and_report(
        engine: StaticEngine, tmp_path: Path) -> None:
    async with app_on(engine, tmp_path).run_test(size=(80, 24)) as pilot:
        screen = await open_screen(pilot)
        await pilot.press("down", "enter")  # the calculator self-test
        await until(pilot, lambda: screen.last is not None, "the run to end", RUN_TIMEOUT)
        assert cell(screen, "calculator", "Status") == "passed"
        assert cell(screen, "calculator", "Pass") == "14" and cell(screen, "calculator", "Fail") == "0"
        assert cell(screen, "site", "Status") == "-"  # not run
        output = "\n".join(line.text for line in screen.query_one(RichLog).lines)
        assert "oee.com: the 480-minute shift" in output and "@@oee-validate" not in output
        assert heading(screen).startswith("PASSED: 14 passed")
        reports = list((tmp_path / "validation").glob("*/report.md"))
        assert len(reports) == 1 and str(reports[0]) in heading(screen)

        await pilot.press("h")
        await settle(pilot)
        runs = pilot.app.screen
        assert isinstance(runs, PastRunsScreen)
        assert runs.query_one(DataTable).row_count == 1
        assert "Calculator self-test" in str(runs.query_one("#runs-report", Static).render())
        await pilot.press("escape")
        await settle(pilot)
        assert pilot.app.screen is screen


async def test_c_cancels_the_running_phase_and_the_report_says_so(engine: StaticEngine, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # The project's own suite would run itself: the screen runs a generated one whose test blocks.
    tests = write_suite(tmp_path / "checkout", blocking=True)
    monkeypatch.setattr("oee_tui.screens.validation.source_checkout", lambda: tests)
    async with app_on(engine, tmp_path / "data").run_test(size=(80, 24)) as pilot:
        screen = await open_screen(pilot)
        await pilot.press("down", "down", "down", "enter")  # processing: its blocking test never ends
        await until(pilot, lambda: cell(screen, "processing", "Status") == "running", "the phase to start",
                    RUN_TIMEOUT)
        await pilot.press("c")
        await until(pilot, lambda: screen.last is not None, "the cancelled run to end", RUN_TIMEOUT)
        assert cell(screen, "processing", "Status") == "cancelled"
        assert heading(screen).startswith("CANCELLED")
        report = next((tmp_path / "data" / "validation").glob("*/report.md")).read_text()
        assert "This run was cancelled" in report


FIXED_RUN = RunRecord(
    id="20261126T070000.000000Z", started=1795676400.0, finished=1795676412.5, status=RunStatus.FAILED,
    user="commissioning", host="line-pc", version="0.1.0", site="Demo Works", config="/srv/oee/oee.toml",
    store_dir="/srv/oee/data", attached=False,
    phases=[
        PhaseRecord("site", "Site acceptance", PhaseStatus.FAILED, Counts(48, 1, 21, 0, 0), 4.2,
                    cases=[CaseResult("demo-s7 reachable (s7 127.0.0.1:1)", Outcome.FAILED, "connection refused")]),
        PhaseRecord("calculator", "Calculator self-test", PhaseStatus.PASSED, Counts(14, 0, 0, 0, 0), 0.3),
    ],
)


@pytest.mark.parametrize("finished", [False, True], ids=["idle", "after-a-run"])
def test_validation_snapshot(snap_compare: Any, make_app: AppFactory, engine: StaticEngine, finished: bool) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        screen = await open_screen(pilot)
        if finished:
            screen.show_record(FIXED_RUN, "/srv/oee/data/validation/20261126T070000.000000Z/report.md")
            await settle(pilot)

    assert snap_compare(make_app(engine), terminal_size=(80, 24), run_before=run_before)


async def test_quitting_mid_run_stops_the_phase_and_keeps_a_cancelled_report(engine: StaticEngine, tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    tests = write_suite(tmp_path / "checkout", blocking=True)
    monkeypatch.setattr("oee_tui.screens.validation.source_checkout", lambda: tests)
    app = app_on(engine, tmp_path / "data")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(pilot)
        await pilot.press("down", "down", "down", "enter")
        await until(pilot, lambda: cell(screen, "processing", "Status") == "running", "the phase to start",
                    RUN_TIMEOUT)
        run = screen.validation
        assert run is not None
        await pilot.press("q")
    # The app has exited; its worker thread ends once the cancelled phase's processes are gone.
    await wait_until(lambda: (run.folder / "report.md").exists(), RUN_TIMEOUT, "the cancelled run's report")
    assert run.record.status is not None and run.record.status.value == "cancelled"
