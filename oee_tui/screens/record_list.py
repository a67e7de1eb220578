"""A screen of records read from the store (or the engine a TUI is attached to), newest first: a title,
the list, and the highlighted record whole in a detail pane below. The dead letters (F6) and the audit
trail (F7) are two of them.

The records are read in a thread worker on open, on `r` and every `refresh_s` seconds; the table is
rebuilt only when the list changed, and the cursor stays on the record it was on. A failed read says why
in the title and keeps what was listed: the engine gone does not mean the records are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Final, Generic, TypeVar
from zoneinfo import ZoneInfo

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Static

from oee_tui.screens.host import PlantScreen

RecordT = TypeVar("RecordT")
REFRESH_S: Final = 5.0


@dataclass(frozen=True, slots=True)
class Loaded(Generic[RecordT]):
    records: tuple[RecordT, ...]
    error: str | None = None


class RecordListScreen(PlantScreen[None], Generic[RecordT]):
    """Subclasses say what a record looks like (`key_of`, `cells`, `detail`), how to read them (`read`),
    and their title; the widgets' ids start with `ID_PREFIX` (`#dl-table`, `#au-detail`, ...)."""

    ID_PREFIX: ClassVar[str]
    COLUMNS: ClassVar[tuple[str, ...]]
    NOUN: ClassVar[str]  # "the dead letters": what a failed read could not read
    NONE_YET: ClassVar[str]  # the detail pane while there are no records
    NO_STORE: ClassVar[str]  # the title when the plant has no store at all
    DEFAULT_CSS = """
    RecordListScreen .record-title {
        height: auto;
        max-height: 3;  /* why the records cannot be read (the engine gone) may take two lines at 80 columns */
        background: $panel;
        padding: 0 1;
    }
    RecordListScreen .record-table {
        height: 1fr;
        min-height: 5;
    }
    RecordListScreen .record-detail {
        height: 1fr;
        min-height: 6;
        border-top: solid $primary;
        border-title-align: left;
        padding: 0 1;
    }
    RecordListScreen .record-detail:focus {
        border-top: solid $accent;
    }
    """

    def __init__(self, *, refresh_s: float | None = REFRESH_S) -> None:
        super().__init__()
        self.refresh_s = refresh_s
        self.records: dict[str, RecordT] = {}
        self._order: tuple[str, ...] | None = None  # None until the first load

    # ------------------------------------------------------------ what subclasses say

    def read(self) -> Sequence[RecordT] | None:
        """The newest records, newest first (in a thread worker); None when the plant has no store."""
        raise NotImplementedError

    def key_of(self, index_from_oldest: int, record: RecordT) -> str:
        raise NotImplementedError

    def cells(self, record: RecordT) -> tuple[str | Text, ...]:
        raise NotImplementedError

    def detail(self, record: RecordT) -> Text:
        raise NotImplementedError

    def heading(self, count: int) -> str:
        raise NotImplementedError

    def compose_above_list(self) -> ComposeResult:
        """Lines between the title and the list (the audit trail's verdict)."""
        yield from ()

    # ------------------------------------------------------------ widgets

    @property
    def tz(self) -> ZoneInfo:
        engine = self.oee_app.engine
        return ZoneInfo("UTC") if engine is None else engine.config.tz

    def part(self, name: str) -> str:
        return f"#{self.ID_PREFIX}-{name}"

    @property
    def list_table(self) -> DataTable[str | Text]:
        return self.query_one(self.part("table"), DataTable)

    def compose(self) -> ComposeResult:
        yield Static("Loading…", id=f"{self.ID_PREFIX}-title", classes="record-title")
        yield from self.compose_above_list()
        table: DataTable[str | Text] = DataTable(id=f"{self.ID_PREFIX}-table", classes="record-table",
                                                 cursor_type="row", zebra_stripes=False)
        table.add_columns(*self.COLUMNS)
        yield table
        with VerticalScroll(id=f"{self.ID_PREFIX}-detail", classes="record-detail") as detail:
            detail.border_title = "Detail"
            detail.can_focus = True
            yield Static("Loading…", id=f"{self.ID_PREFIX}-detail-text")
        yield Footer()

    def on_mount(self) -> None:
        self.list_table.focus()
        self.load()
        if self.refresh_s is not None:
            self.set_interval(self.refresh_s, self.load, name=f"{self.ID_PREFIX}-refresh")

    # ------------------------------------------------------------ loading

    @work(thread=True, exclusive=True, exit_on_error=False, group="record-list")
    def load(self) -> None:
        try:
            records = self.read()
        except Exception as exc:  # a closed store, a DuckDB error, the engine gone: said on the screen, not raised
            result: Loaded[RecordT] = Loaded((), f"Cannot read {self.NOUN}: {exc}")
        else:
            result = Loaded(tuple(records)) if records is not None else Loaded((), self.NO_STORE)
        self.app.call_from_thread(self.show_records, result)

    def action_reload(self) -> None:
        self.load()

    def show_records(self, loaded: Loaded[RecordT]) -> None:
        if not self.is_mounted:
            return  # closed while the query ran
        count = len(loaded.records)
        keyed = {self.key_of(count - index, record): record for index, record in enumerate(loaded.records)}
        order = tuple(keyed)
        title = self.query_one(self.part("title"), Static)
        if loaded.error is not None:
            title.update(Text(loaded.error))
            if self._order is not None:
                return  # what was listed stays
        else:
            title.update(Text(self.heading(count)))
        if order == self._order:
            return
        selected = self._selected_key()
        self.records, self._order = keyed, order
        table = self.list_table
        table.clear()
        for key, record in keyed.items():
            table.add_row(*self.cells(record), key=key)
        if selected in keyed:
            table.move_cursor(row=order.index(selected), animate=False)
        self._show_detail(self._selected_key())

    def _selected_key(self) -> str | None:
        if not self._order:
            return None
        row = self.list_table.cursor_row
        return self._order[row] if 0 <= row < len(self._order) else None

    @on(DataTable.RowHighlighted, ".record-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(event.row_key.value)

    def _show_detail(self, key: str | None) -> None:
        text = self.query_one(self.part("detail-text"), Static)
        record = self.records.get(key) if key is not None else None
        if record is None:
            text.update(Text(self.NONE_YET if not self.records else ""))
            return
        text.update(self.detail(record))
        self.query_one(self.part("detail"), VerticalScroll).scroll_home(animate=False)

    # ------------------------------------------------------------ keys

    def action_focus_detail(self) -> None:
        self.query_one(self.part("detail"), VerticalScroll).focus()

    def action_back(self) -> None:
        if self.query_one(self.part("detail"), VerticalScroll).has_focus:
            self.list_table.focus()
            return
        self.dismiss()
