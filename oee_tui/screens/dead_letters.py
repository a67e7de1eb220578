"""F6: dead letters, the payloads a driver could not decode or map, newest first, with a detail pane.

The list comes from `store.dead_letters` in a thread worker (on a TUI attached to an engine, from
the engine's `dead_letters`, which reads its store the same way), on open, on `r`, and every
`refresh_s` seconds; the table is rebuilt only when the list changed, and the cursor stays
on the letter it was on. The detail pane shows the whole error and a hex + text dump of the
payload of the highlighted letter. Nothing here parses the payloads: they are shown as bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final
from zoneinfo import ZoneInfo

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Static

from oee_tui.dead_letter_text import hex_dump, is_text, local_time, preview
from oee_tui.model import DeadLetter
from oee_tui.screens.host import PlantScreen
from oee_tui.service.remote_engine import RemoteEngine

SHOWN: Final = 500  # the newest this many; `oee deadletters --limit` reaches further back
REFRESH_S: Final = 5.0


@dataclass(frozen=True, slots=True)
class Loaded:
    letters: tuple[DeadLetter, ...]
    error: str | None = None


def letter_key(index_from_oldest: int, letter: DeadLetter) -> str:
    # Stable while newer letters arrive: counted from the oldest of the list, with the time.
    return f"{letter.received_at:.6f}:{letter.source}:{index_from_oldest}"


class DeadLettersScreen(PlantScreen[None]):
    """Dead letters: a list on top, the highlighted one's error and payload dump below."""

    HELP_TITLE = "Dead letters"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reload", "Refresh", id="deadletters.refresh", tooltip="Read the dead letters again now"),
        Binding("d", "focus_detail", "Detail", id="deadletters.detail",
                tooltip="Move to the detail pane to scroll the payload dump (Tab and Escape come back)"),
        Binding("escape,backspace", "back", "Back", id="deadletters.back",
                tooltip="Back to the list, or to the screen you came from"),
    ]
    DEFAULT_CSS = """
    DeadLettersScreen #dl-title {
        height: auto;
        max-height: 3;  /* why the letters cannot be read (the engine gone) may take two lines at 80 columns */
        background: $panel;
        padding: 0 1;
    }
    DeadLettersScreen #dl-table {
        height: 1fr;
        min-height: 5;
    }
    DeadLettersScreen #dl-detail {
        height: 1fr;
        min-height: 6;
        border-top: solid $primary;
        border-title-align: left;
        padding: 0 1;
    }
    DeadLettersScreen #dl-detail:focus {
        border-top: solid $accent;
    }
    """

    def __init__(self, *, refresh_s: float | None = REFRESH_S) -> None:
        super().__init__()
        self.refresh_s = refresh_s
        self.letters: dict[str, DeadLetter] = {}
        self._order: tuple[str, ...] | None = None  # None until the first load

    @property
    def tz(self) -> ZoneInfo:
        engine = self.oee_app.engine
        return ZoneInfo("UTC") if engine is None else engine.config.tz

    def compose(self) -> ComposeResult:
        yield Static("Dead letters: payloads that could not be decoded or mapped", id="dl-title")
        table: DataTable[str | Text] = DataTable(id="dl-table", cursor_type="row", zebra_stripes=False)
        table.add_columns("Received", "Source", "Topic", "Bytes", "Error", "Preview")
        yield table
        with VerticalScroll(id="dl-detail") as detail:
            detail.border_title = "Detail"
            detail.can_focus = True
            yield Static("Loading…", id="dl-detail-text")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#dl-table", DataTable).focus()
        self.load()
        if self.refresh_s is not None:
            self.set_interval(self.refresh_s, self.load, name="dead-letters")

    # ------------------------------------------------------------ loading

    @work(thread=True, exclusive=True, exit_on_error=False, group="dead-letters")
    def load(self) -> None:
        try:
            letters = self._read()
        except Exception as exc:  # a closed store, a DuckDB error, the engine gone: said on the screen, not raised
            result = Loaded((), f"Cannot read the dead letters: {exc}")
        else:
            result = Loaded(letters) if letters is not None else \
                Loaded((), "This plant has no store, so there are no dead letters to show.")
        self.app.call_from_thread(self.show_letters, result)

    def _read(self) -> tuple[DeadLetter, ...] | None:
        """The newest letters, from the store or from the engine this TUI is attached to; None without a store."""
        engine = self.oee_app.engine
        if isinstance(engine, RemoteEngine):
            return tuple(engine.call_from_thread("dead_letters", limit=SHOWN))
        store = None if engine is None else engine.store
        return None if store is None else tuple(store.dead_letters(SHOWN))

    def action_reload(self) -> None:
        self.load()

    def show_letters(self, loaded: Loaded) -> None:
        if not self.is_mounted:
            return  # closed while the query ran
        table = self.query_one("#dl-table", DataTable)
        count = len(loaded.letters)
        keyed = {letter_key(count - index, letter): letter for index, letter in enumerate(loaded.letters)}
        order = tuple(keyed)
        title = self.query_one("#dl-title", Static)
        if loaded.error is not None:
            title.update(Text(loaded.error))
            if self._order is not None:
                return  # what was listed stays: a failed read (the engine gone) does not mean the letters are
        else:
            shown = f"the newest {count}" if count >= SHOWN else f"{count}"
            title.update(Text(f"Dead letters: {shown}, newest first; r refreshes"))
        if order == self._order:
            return
        selected = self._selected_key()
        self.letters, self._order = keyed, order
        table.clear()
        tz = self.tz
        for key, letter in keyed.items():
            error = letter.error if len(letter.error) <= 48 else letter.error[:47] + "…"
            table.add_row(local_time(letter.received_at, tz), letter.source, letter.topic,
                          Text(str(len(letter.payload)), justify="right"), error, preview(letter.payload, 30),
                          key=key)
        if selected in keyed:
            table.move_cursor(row=order.index(selected), animate=False)
        self._show_detail(self._selected_key())

    def _selected_key(self) -> str | None:
        if not self._order:
            return None
        table = self.query_one("#dl-table", DataTable)
        row = table.cursor_row
        return self._order[row] if 0 <= row < len(self._order) else None

    @on(DataTable.RowHighlighted, "#dl-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(event.row_key.value)

    def _show_detail(self, key: str | None) -> None:
        text = self.query_one("#dl-detail-text", Static)
        letter = self.letters.get(key) if key is not None else None
        if letter is None:
            text.update(Text("No dead letters. Every payload so far was decoded." if not self.letters else ""))
            return
        body = Text()
        body.append(f"{local_time(letter.received_at, self.tz)}  {letter.source}  {letter.topic}  "
                    f"{len(letter.payload)} bytes\n", style="bold")
        body.append("Error: ", style="bold")
        body.append(letter.error + "\n")
        if letter.payload and is_text(letter.payload):
            body.append("Text: ", style="bold")
            body.append(letter.payload.decode("utf-8") + "\n")
        body.append("Bytes:\n", style="bold")
        # 16 bytes a line need 77 columns; an 80-column terminal with borders and scrollbar gets 8.
        body.append(hex_dump(letter.payload, width=16 if self.app.size.width >= 90 else 8))
        text.update(body)
        self.query_one("#dl-detail", VerticalScroll).scroll_home(animate=False)

    # ------------------------------------------------------------ keys

    def action_focus_detail(self) -> None:
        self.query_one("#dl-detail", VerticalScroll).focus()

    def action_back(self) -> None:
        detail = self.query_one("#dl-detail", VerticalScroll)
        if detail.has_focus:
            self.query_one("#dl-table", DataTable).focus()
            return
        self.dismiss()
