"""F8: the validation suite. Every phase with its status and counts, a progress bar for the running
phase and its live output; `r` runs them all, Enter the highlighted one, `c` cancels, `h` lists past runs.

The run is `oee_tui.validation.runner.ValidationRun` in a thread worker (each phase is a subprocess of
its own); its events come back as messages. Its log and report go to the data dir, as `oee validate`'s.
"""

from __future__ import annotations

from typing import ClassVar, Final

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, ProgressBar, RichLog, Static

from oee_tui.screens.host import PlantScreen
from oee_tui.validation.phases import PHASES, Phase, source_checkout
from oee_tui.validation.report import headline
from oee_tui.validation.run_record import REPORT_MD, PhaseRecord, RunRecord
from oee_tui.validation.runner import RunEvents, RunSetup, ValidationRun

COLUMNS: Final = ("Phase", "Status", "Pass", "Fail", "Skip", "Err", "Warn")
LOG_LINES: Final = 2000  # the screen keeps the newest lines; the run's log file keeps them all


class PhaseStarted(Message):
    def __init__(self, phase: Phase) -> None:
        super().__init__()
        self.phase = phase


class PhaseOutput(Message):
    def __init__(self, phase: Phase, line: str) -> None:
        super().__init__()
        self.phase = phase
        self.line = line


class PhaseProgress(Message):
    def __init__(self, phase: Phase, done: int, total: int) -> None:
        super().__init__()
        self.phase = phase
        self.done = done
        self.total = total


class PhaseDone(Message):
    def __init__(self, record: PhaseRecord) -> None:
        super().__init__()
        self.record = record


class RunDone(Message):
    def __init__(self, record: RunRecord | None, report: str, error: str | None = None) -> None:
        super().__init__()
        self.record = record
        self.report = report
        self.error = error


class _Relay(RunEvents):
    """The run's events, from its thread to the screen's messages."""

    def __init__(self, screen: ValidationScreen) -> None:
        self.screen = screen

    def phase_started(self, phase: Phase) -> None:
        self.screen.post_message(PhaseStarted(phase))

    def output(self, phase: Phase, line: str) -> None:
        self.screen.post_message(PhaseOutput(phase, line))

    def progress(self, phase: Phase, done: int, total: int) -> None:
        self.screen.post_message(PhaseProgress(phase, done, total))

    def phase_finished(self, record: PhaseRecord) -> None:
        self.screen.post_message(PhaseDone(record))


class ValidationScreen(PlantScreen[None]):
    HELP_TITLE = "Validation"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "run_all", "Run all", id="validation.run-all", tooltip="Run every phase, in order"),
        Binding("enter", "run_one", "Run phase", id="validation.run-one", tooltip="Run the highlighted phase only"),
        Binding("c", "cancel_run", "Cancel", id="validation.cancel",
                tooltip="Stop the running phase; the phases after it are not run, and the report says so"),
        Binding("h", "past_runs", "Past runs", id="validation.past-runs",
                tooltip="The runs kept in the data dir, with their reports"),
        Binding("escape", "back", "Back", id="validation.back", tooltip="Back to the screen you came from"),
    ]
    DEFAULT_CSS = """
    ValidationScreen #validation-heading { height: auto; max-height: 2; background: $panel; padding: 0 1; }
    ValidationScreen #validation-phases { height: auto; max-height: 9; }
    ValidationScreen #validation-progress-row { height: 1; padding: 0 1; }
    ValidationScreen #validation-progress-label { width: auto; padding-right: 1; }
    ValidationScreen #validation-output { height: 1fr; min-height: 3; border-top: solid $panel-lighten-2; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.validation: ValidationRun | None = None
        self.last: RunRecord | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self._idle_heading(), id="validation-heading")
        yield DataTable(id="validation-phases", cursor_type="row", zebra_stripes=False)
        with Horizontal(id="validation-progress-row"):
            yield Static("idle", id="validation-progress-label")
            yield ProgressBar(total=1, id="validation-progress", show_eta=False)
        yield RichLog(id="validation-output", max_lines=LOG_LINES, wrap=False, markup=False, highlight=False)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for column in COLUMNS:
            table.add_column(column, key=column)
        for phase in PHASES:
            table.add_row(phase.title, "-", "", "", "", "", "", key=phase.id)
        table.focus()

    def on_unmount(self) -> None:
        # The app is quitting mid-run: a phase's processes (a pytest run may take minutes) must not outlive it.
        if self.validation is not None:
            self.validation.cancel()

    def _idle_heading(self) -> str:
        where = self.oee_app.data_dir / "validation"
        suite = "" if source_checkout() is not None else " The suite's phases need a source checkout."
        return f"r runs every phase, Enter the highlighted one; reports go to {where}.{suite}"

    # ------------------------------------------------------------ actions

    @property
    def running(self) -> bool:
        return self.validation is not None

    def action_run_all(self) -> None:
        self._start(PHASES)

    def action_run_one(self) -> None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return
        self._start((PHASES[table.cursor_row],))

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        # Enter on the focused table selects its row (the table's own binding): that runs the phase.
        event.stop()
        self.action_run_one()

    def action_cancel_run(self) -> None:
        if self.validation is not None:
            self.validation.cancel()
            self._heading("Cancelling: stopping the running phase…")

    def action_past_runs(self) -> None:
        from oee_tui.screens.validation_runs import PastRunsScreen

        self.app.push_screen(PastRunsScreen())

    def action_back(self) -> None:
        if self.running:
            self._heading("A run is going on: c cancels it first.")
            return
        self.dismiss()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("run_all", "run_one"):
            return not self.running
        if action == "cancel_run":
            return self.running
        return True

    def _start(self, phases: tuple[Phase, ...]) -> None:
        if self.running:
            return
        engine = self.engine
        setup = RunSetup(store_dir=self.oee_app.data_dir, config_path=engine.config.path,
                         tests_dir=source_checkout(), site=engine.config.site.name)
        self.validation = ValidationRun(setup, phases, _Relay(self))
        for phase in phases:
            self._row(phase.id, "waiting", ("", "", "", "", ""))
        self.query_one(RichLog).clear()
        self._heading(f"Running {len(phases)} phase{'s' if len(phases) != 1 else ''}; c cancels.")
        self.refresh_bindings()
        self._run_worker(self.validation)

    @work(thread=True, exclusive=True, exit_on_error=False, group="validation")
    def _run_worker(self, run: ValidationRun) -> None:
        try:
            record = run.run()
        except Exception as exc:  # the data dir not writable, a phase that could not start
            self.post_message(RunDone(None, "", f"the run stopped: {exc}"))
            return
        self.post_message(RunDone(record, str(run.folder / REPORT_MD)))

    # ------------------------------------------------------------ the run's messages

    @on(PhaseStarted)
    def _started(self, message: PhaseStarted) -> None:
        self._row(message.phase.id, "running", ("", "", "", "", ""))
        self.query_one("#validation-progress-label", Static).update(message.phase.title)
        self.query_one(ProgressBar).update(total=1, progress=0)  # until the phase says how many it has
        self.query_one(RichLog).write(f"== {message.phase.title} ==")

    @on(PhaseOutput)
    def _output(self, message: PhaseOutput) -> None:
        self.query_one(RichLog).write(message.line)

    @on(PhaseProgress)
    def _progress(self, message: PhaseProgress) -> None:
        self.query_one(ProgressBar).update(total=max(message.total, 1), progress=message.done)

    @on(PhaseDone)
    def _done(self, message: PhaseDone) -> None:
        record = message.record
        c = record.counts
        self._row(record.id, record.status.value, (str(c.passed), str(c.failed), str(c.skipped), str(c.errors),
                                                   str(c.warnings)))
        if record.note:
            self.query_one(RichLog).write(f"{record.title}: {record.note}")

    @on(RunDone)
    def _run_done(self, message: RunDone) -> None:
        self.validation = None
        self.refresh_bindings()
        self.query_one("#validation-progress-label", Static).update("idle")
        if message.record is None:
            self._heading(message.error or "the run stopped")
            return
        self.show_record(message.record, message.report)

    def show_record(self, record: RunRecord, report: str) -> None:
        """A finished run: its headline and report's place on top, and each phase's row."""
        self.last = record
        for phase in record.phases:
            c = phase.counts
            self._row(phase.id, phase.status.value, (str(c.passed), str(c.failed), str(c.skipped), str(c.errors),
                                                     str(c.warnings)))
        self._heading(f"{headline(record)}\nReport: {report}")

    def _row(self, phase_id: str, status: str, counts: tuple[str, str, str, str, str]) -> None:
        table = self.query_one(DataTable)
        table.update_cell(phase_id, "Status", status)
        for column, value in zip(COLUMNS[2:], counts, strict=True):
            table.update_cell(phase_id, column, value)

    def _heading(self, text: str) -> None:
        self.query_one("#validation-heading", Static).update(text)
