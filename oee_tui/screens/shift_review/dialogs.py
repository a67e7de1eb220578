"""The review's two questions: which period to go to (g), and where to write the table (e)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, Static

from oee_tui.config import Config
from oee_tui.engine.analysis.review import PERIOD_SYNTAX, Period, ReviewError, parse_period
from oee_tui.exports.tables import FORMATS
from oee_tui.widgets.dialog import Dialog


class PeriodInputScreen(Dialog[Period | None]):
    """Type a day, an ISO week, a shift or a range; Enter goes there, Esc leaves the period as it is."""

    HELP_TITLE = "Go to a period"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="period.cancel", tooltip="Keep the period in view"),
    ]

    def __init__(self, config: Config, now: float, current: str) -> None:
        super().__init__("Go to a period")
        self.config = config
        self.now = now
        self.current = current

    def compose_body(self) -> ComposeResult:
        yield Input(self.current, id="period-input")
        yield Static(f"e.g. {PERIOD_SYNTAX}", classes="hint", markup=False)
        yield Static("", id="period-error", classes="error", markup=False)

    @on(Input.Submitted, "#period-input")
    def _submitted(self, event: Input.Submitted) -> None:
        try:
            period = parse_period(self.config, event.value, self.now)
        except ReviewError as exc:
            self.query_one("#period-error", Static).update(str(exc))
            return
        self.dismiss(period)


class ExportScreen(Dialog[Path | None]):
    """Asks where to write the table; the suffix picks CSV or XLSX."""

    HELP_TITLE = "Export the table"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="export.cancel", tooltip="Write nothing"),
    ]
    DEFAULT_CSS = """
    ExportScreen #dialog {
        width: 96;
    }
    """

    def __init__(self, what: str, default: Path) -> None:
        super().__init__(f"Export {what}")
        self.what = what
        self.default = default

    def compose_body(self) -> ComposeResult:
        yield Input(str(self.default), id="export-path")
        yield Static("Enter writes the file: .csv or .xlsx, by its name. Esc cancels.", classes="hint")
        yield Static("", id="export-error", classes="error", markup=False)

    @on(Input.Submitted, "#export-path")
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            self.query_one("#export-error", Static).update("Give a file name ending in .csv or .xlsx")
            return
        path = Path(text).expanduser()
        if path.suffix.lower() not in FORMATS:
            self.query_one("#export-error", Static).update(f"{path.name}: end the name in .csv or .xlsx")
            return
        self.dismiss(path)
