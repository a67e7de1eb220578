"""Asking before a change that cannot be undone from the app (deleting a source, unmapping a signal)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Static

from oee_tui.widgets.dialog import Dialog


class ConfirmScreen(Dialog[bool]):
    """Asks before something that cannot be undone from the app: y does it, n or Esc does not."""

    HELP_TITLE = "Confirm"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no", key_display="n/Esc"),
    ]
    DEFAULT_CSS = """
    ConfirmScreen #dialog {
        width: 60;
        border: round $warning;
        padding: 1 2;
    }
    """

    def __init__(self, question: str) -> None:
        super().__init__("")
        self.question = question

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield Static(Text.assemble((self.question, "bold"), "\n\ny = yes   n or Esc = no"), id="confirm-question")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
