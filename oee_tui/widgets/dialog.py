"""The one frame of the app's modal dialogs: a titled box centred over the screen it covers.

A dialog brings only what is its own: the widgets in the box (`compose_body`), its title,
its keys and, in its DEFAULT_CSS, a width other than the usual 76 columns (`#dialog`). The
rest (centring, the rounded accent border, the surface behind the text, the muted hint and
the bold error line) is here, once.
"""

from __future__ import annotations

from typing import TypeVar

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen

ResultT = TypeVar("ResultT")


class Dialog(ModalScreen[ResultT]):
    """A modal box with a title; `action_cancel` closes it with no answer (None)."""

    DEFAULT_CSS = """
    Dialog {
        align: center middle;
    }
    Dialog > #dialog {
        width: 76;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    Dialog .hint {
        color: $text-muted;
    }
    Dialog .error {
        color: $error;
        text-style: bold;
    }
    """

    def __init__(self, title: str) -> None:
        super().__init__()
        self.dialog_title = title

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as box:
            box.border_title = self.dialog_title
            yield from self.compose_body()

    def compose_body(self) -> ComposeResult:
        """The widgets inside the box."""
        yield from ()

    def action_cancel(self) -> None:
        self.dismiss(None)
