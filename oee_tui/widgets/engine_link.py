"""One line on every screen of a TUI attached to an engine that another process runs: which engine, as
whom; and at once, in red, when that engine is gone (commands are refused until it is back)."""

from __future__ import annotations

from textual.widgets import Static


def engine_link_text(pid: int | None, user: str | None, role: str | None, lost: str | None) -> str:
    if lost is not None:
        return f"ENGINE LOST: {lost}. Nothing you do here is saved until it is back; attaching again…"
    if pid is None:
        return ""
    return f"attached to engine pid {pid} as {user} ({role})"


class EngineLink(Static):
    """Docked at the top of a screen; hidden on a TUI that owns the store itself."""

    DEFAULT_CSS = """
    EngineLink {
        dock: top;
        height: 1;
        padding: 0 1;
        background: $boost;
        color: $text-muted;
        display: none;
    }
    EngineLink.-lost {
        height: auto;
        background: $error;
        color: $text;
        text-style: bold;
    }
    """

    def __init__(self) -> None:
        super().__init__("", markup=False, id="engine-link")
        self.text = ""

    def show(self, pid: int | None, user: str | None, role: str | None, lost: str | None) -> None:
        text = engine_link_text(pid, user, role, lost)
        if text != self.text:
            self.text = text
            self.update(text)
            self.display = bool(text)
            self.set_class(lost is not None, "-lost")
