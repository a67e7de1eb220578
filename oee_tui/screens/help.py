"""F1: the keys of the screen underneath, in a modal that Escape closes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

from oee_tui.widgets.dialog import Dialog

# Textual's text-selection copy shares ctrl+c with our quit, and only applies when text is
# selected; listing it would tell operators that ctrl+c does not quit.
_NOT_FOR_OPERATORS = frozenset({"screen.copy_text", "copy_text", "help_quit"})


@dataclass(frozen=True, slots=True)
class HelpEntry:
    keys: str  # "esc / backspace"
    description: str
    tooltip: str = ""


@dataclass(frozen=True, slots=True)
class HelpTopic:
    title: str
    entries: tuple[HelpEntry, ...]
    notes: tuple[tuple[str, str], ...] = ()  # what the screen's columns and marks mean: (term, meaning)

    @classmethod
    def for_screen(cls, screen: Screen[Any]) -> HelpTopic:
        """What the keys do right now on `screen`: its bindings, the focused widget's and the app's.

        Taken from the live binding chain rather than a hand-written list, so the
        help cannot drift from what the keys really do (or from a user's keymap).
        """
        app = screen.app
        keys_by_action: dict[tuple[str, str], list[str]] = {}
        entries: dict[tuple[str, str], HelpEntry] = {}
        shown: set[tuple[str, str]] = set()
        for key, active in screen.active_bindings.items():
            binding = active.binding
            if not binding.description or binding.system or binding.action in _NOT_FOR_OPERATORS:
                continue
            identity = (type(active.node).__name__, binding.action)
            keys_by_action.setdefault(identity, []).append(app.get_key_display(binding.with_key(key)))
            if identity not in entries or (binding.tooltip and not entries[identity].tooltip):
                entries[identity] = HelpEntry("", binding.description, binding.tooltip)
            if binding.show:
                shown.add(identity)
        # The footer's keys first (the ones this app defines), then the widgets' navigation keys.
        ordered = [identity for identity in entries if identity in shown]
        ordered += [identity for identity in entries if identity not in shown]
        title = getattr(screen, "HELP_TITLE", None) or type(screen).__name__
        notes: tuple[tuple[str, str], ...] = getattr(screen, "HELP_NOTES", ())
        return cls(title, notes=notes, entries=tuple(
            HelpEntry(" / ".join(dict.fromkeys(keys_by_action[identity])), entries[identity].description,
                      entries[identity].tooltip)
            for identity in ordered
        ))


class HelpScreen(Dialog[None]):
    """Lists the keys of the screen that was active when F1 was pressed."""

    HELP_TITLE = "Help"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Close", id="help.close", tooltip="Back to the screen you were on"),
    ]
    DEFAULT_CSS = """
    HelpScreen VerticalScroll {
        height: auto;
        max-height: 100%;
    }
    """

    def __init__(self, topic: HelpTopic) -> None:
        super().__init__(f"Keys: {topic.title}")
        self.topic = topic

    def compose_body(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(self._table(), id="help-keys")
        yield Static("Esc closes this help.  Ctrl+P opens the command palette.", id="help-footer", classes="hint")

    def _table(self) -> Content:
        width = max((len(entry.keys) for entry in self.topic.entries), default=4)
        lines = []
        for entry in self.topic.entries:
            tip = f" — {entry.tooltip}" if entry.tooltip else ""
            lines.append(Content.assemble((entry.keys.ljust(width), "bold $accent"), "  ", entry.description,
                                          (tip, "$text-muted")))
        keys = Content("\n").join(lines) if lines else Content("This screen has no keys of its own.")
        if not self.topic.notes:
            return keys
        width = max(len(term) for term, _ in self.topic.notes)
        notes = [Content.assemble((term.ljust(width), "bold $accent"), "  ", meaning)
                 for term, meaning in self.topic.notes]
        return Content("\n").join([Content.assemble(("What you see", "bold"),), *notes, Content(""),
                                    Content.assemble(("Keys", "bold"),), keys])
