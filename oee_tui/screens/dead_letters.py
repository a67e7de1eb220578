"""F6: dead letters, the payloads a driver could not decode or map, newest first, with a detail pane.

The list comes from `store.dead_letters` (on a TUI attached to an engine, from the engine's
`dead_letters`, which reads its store the same way), as every record list reads (`record_list.py`).
The detail pane shows the whole error and a hex + text dump of the
payload of the highlighted letter. Nothing here parses the payloads: they are shown as bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Final

from rich.text import Text
from textual.binding import Binding, BindingType

from oee_tui.dead_letter_text import hex_dump, is_text, local_time, preview
from oee_tui.model import DeadLetter
from oee_tui.screens.record_list import RecordListScreen
from oee_tui.service.remote_engine import RemoteEngine

SHOWN: Final = 500  # the newest this many; `oee deadletters --limit` reaches further back


def letter_key(index_from_oldest: int, letter: DeadLetter) -> str:
    # Stable while newer letters arrive: counted from the oldest of the list, with the time.
    return f"{letter.received_at:.6f}:{letter.source}:{index_from_oldest}"


class DeadLettersScreen(RecordListScreen[DeadLetter]):
    """Dead letters: a list on top, the highlighted one's error and payload dump below."""

    HELP_TITLE = "Dead letters"
    ID_PREFIX = "dl"
    COLUMNS = ("Received", "Source", "Topic", "Bytes", "Error", "Preview")
    NOUN = "the dead letters"
    NONE_YET = "No dead letters. Every payload so far was decoded."
    NO_STORE = "This plant has no store, so there are no dead letters to show."
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reload", "Refresh", id="deadletters.refresh", tooltip="Read the dead letters again now"),
        Binding("d", "focus_detail", "Detail", id="deadletters.detail",
                tooltip="Move to the detail pane to scroll the payload dump (Tab and Escape come back)"),
        Binding("escape,backspace", "back", "Back", id="deadletters.back",
                tooltip="Back to the list, or to the screen you came from"),
    ]

    def read(self) -> Sequence[DeadLetter] | None:
        """The newest letters, from the store or from the engine this TUI is attached to; None without a store."""
        engine = self.oee_app.engine
        if isinstance(engine, RemoteEngine):
            return tuple(engine.call_from_thread("dead_letters", limit=SHOWN))
        store = None if engine is None else engine.store
        return None if store is None else tuple(store.dead_letters(SHOWN))

    def heading(self, count: int) -> str:
        shown = f"the newest {count}" if count >= SHOWN else f"{count}"
        return f"Dead letters: {shown}, newest first; r refreshes"

    def key_of(self, index_from_oldest: int, record: DeadLetter) -> str:
        return letter_key(index_from_oldest, record)

    def cells(self, record: DeadLetter) -> tuple[str | Text, ...]:
        error = record.error if len(record.error) <= 48 else record.error[:47] + "…"
        return (local_time(record.received_at, self.tz), record.source, record.topic,
                Text(str(len(record.payload)), justify="right"), error, preview(record.payload, 30))

    def detail(self, record: DeadLetter) -> Text:
        body = Text()
        body.append(f"{local_time(record.received_at, self.tz)}  {record.source}  {record.topic}  "
                    f"{len(record.payload)} bytes\n", style="bold")
        body.append("Error: ", style="bold")
        body.append(record.error + "\n")
        if record.payload and is_text(record.payload):
            body.append("Text: ", style="bold")
            body.append(record.payload.decode("utf-8") + "\n")
        body.append("Bytes:\n", style="bold")
        # 16 bytes a line need 77 columns; an 80-column terminal with borders and scrollbar gets 8.
        body.append(hex_dump(record.payload, width=16 if self.app.size.width >= 90 else 8))
        return body
