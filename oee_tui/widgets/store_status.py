"""The store's health on every screen: a banner that stays while data is not saved, was lost, or was
set aside, and while the engine could not start; it is gone when all is well. A toast would be
gone in seconds, and the person would think their data safe."""

from __future__ import annotations

from datetime import datetime, tzinfo

from textual.widgets import Static

from oee_tui.model import StoreHealth


def store_status_text(health: StoreHealth | None, problem: str | None = None, tz: tzinfo | None = None) -> str:
    """What the banner says, times in `tz` (the plant's); empty when there is nothing to say."""
    lines: list[str] = []
    if problem is not None:
        lines.append(f"The engine did not start: {problem}")
    if health is not None and health.failing:
        since = "?" if health.unsaved_since is None else f"{datetime.fromtimestamp(health.unsaved_since, tz):%H:%M:%S}"
        lines.append(f"NOT SAVED since {since}: {health.unsaved_text()}. Why: {health.last_error}. "
                     "The engine keeps it in memory and retries; quitting now loses it.")
    if health is not None and health.lost:
        lines.append(f"LOST: {health.lost_text()} dropped while the store could not be written "
                     "(the memory limit, [store] max_unsaved_rows, was reached).")
    if health is not None and health.set_aside:
        lines.append(f"{health.set_aside:,} rows could not be stored and were kept as dead letters (F6).")
    return "\n".join(lines)


class StoreStatus(Static):
    """Docked at the top of a screen; hidden while there is nothing to say."""

    DEFAULT_CSS = """
    StoreStatus {
        dock: top;
        height: auto;
        padding: 0 1;
        background: $error;
        color: $text;
        text-style: bold;
        display: none;
    }
    """

    def __init__(self) -> None:
        super().__init__("", markup=False, id="store-status")
        self.text = ""

    def show(self, health: StoreHealth | None, problem: str | None = None, tz: tzinfo | None = None) -> None:
        text = store_status_text(health, problem, tz)
        if text != self.text:
            self.text = text
            self.update(text)
            self.display = bool(text)
