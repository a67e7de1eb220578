"""The past validation runs of this data dir (from the Validation screen's `h`): newest first, and the
highlighted run's report below, as it was written when the run ended."""

from __future__ import annotations

from typing import ClassVar, Final

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static

from oee_tui.screens.host import PlantScreen
from oee_tui.validation.history import PastRun, past_runs, report_text
from oee_tui.validation.report import headline

COLUMNS: Final = ("Run (UTC)", "Phases", "Result")


class PastRunsScreen(PlantScreen[None]):
    HELP_TITLE = "Past validation runs"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reload", "Refresh", id="validation-runs.refresh", tooltip="Read the runs again"),
        Binding("escape", "back", "Back", id="validation-runs.back", tooltip="Back to the Validation screen"),
    ]
    DEFAULT_CSS = """
    PastRunsScreen #runs-heading { height: 1; background: $panel; padding: 0 1; }
    PastRunsScreen #runs-table { height: auto; max-height: 8; }
    PastRunsScreen #runs-report-pane { height: 1fr; border-top: solid $panel-lighten-2; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[PastRun] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="runs-heading")
        yield DataTable(id="runs-table", cursor_type="row")
        with VerticalScroll(id="runs-report-pane"):
            yield Static("", id="runs-report", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for column in COLUMNS:
            table.add_column(column, key=column)
        self.action_reload()
        table.focus()

    def action_reload(self) -> None:
        self.runs = past_runs(self.oee_app.data_dir)
        table = self.query_one(DataTable)
        table.clear()
        for run in self.runs:
            result = headline(run.record) if run.record is not None else f"unreadable: {run.problem}"
            phases = "" if run.record is None else " ".join(phase.id for phase in run.record.phases)
            table.add_row(_when(run.id), phases, result, key=run.id)
        folder = self.oee_app.data_dir / "validation"
        self.query_one("#runs-heading", Static).update(
            f"{len(self.runs)} run{'s' if len(self.runs) != 1 else ''} in {folder}" if self.runs
            else f"No validation run in {folder} yet: r on the Validation screen runs one.")
        self._show(0 if self.runs else None)

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show(event.cursor_row)

    def _show(self, index: int | None) -> None:
        pane = self.query_one("#runs-report", Static)
        if index is None or index >= len(self.runs):
            pane.update("")
            return
        try:
            pane.update(report_text(self.runs[index]))
        except OSError as exc:
            pane.update(f"This run's report cannot be read: {exc}")

    def action_back(self) -> None:
        self.dismiss()


def _when(run_id: str) -> str:
    """20261208T025716.127283Z as 2026-12-08 02:57:16."""
    if len(run_id) < 15 or run_id[8] != "T":
        return run_id
    return f"{run_id[0:4]}-{run_id[4:6]}-{run_id[6:8]} {run_id[9:11]}:{run_id[11:13]}:{run_id[13:15]}"
