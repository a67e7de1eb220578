"""The central sync's state in one line at the top of every screen, beside the store's banner, on a plant
with a `[central]` section: how far behind the centre is, or that the sync fails and why."""

from __future__ import annotations

from textual.widgets import Static

from oee_tui.model import SyncHealth


class SyncStatus(Static):
    """Docked at the top of a screen; mounted only when the plant syncs."""

    DEFAULT_CSS = """
    SyncStatus {
        dock: top;
        height: 1;
        padding: 0 1;
        background: $boost;
        color: $text-muted;
    }
    SyncStatus.-failing {
        background: $warning;
        color: $text;
        text-style: bold;
    }
    """

    def __init__(self) -> None:
        super().__init__("", markup=False, id="sync-status")
        self.text = ""

    def show(self, health: SyncHealth) -> None:
        text = health.short_text()
        if text != self.text:
            self.text = text
            self.update(text)
            self.set_class(health.last_error is not None, "-failing")
