"""The tag maps of one source: which machine signal reads which of its tags, with add, edit and delete.

Each change is saved at once, like every change on the device screens: the form
(oee_tui.screens.tag_map_form) hands back a checked copy of the document, and this
screen writes it and tells the engine.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, ClassVar, Final

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Static

from oee_tui.config.edit import ConfigDocument
from oee_tui.screens.host import PlantScreen
from oee_tui.screens.tag_map_form import TagMapEditScreen, TagMapResult, map_key, mapping_of
from oee_tui.widgets.confirm_dialog import ConfirmScreen
from oee_tui.widgets.formatting import MISSING
from oee_tui.widgets.keyed_table import KeyedTable, Row

COLUMNS: Final = (
    ("machine", "Machine"),
    ("signal", "Signal"),
    ("tag", "Tag"),
    ("type", "Type"),
    ("width", Text("Width", justify="right")),
)


def _map_cells(machine: str, signal: str, mapping: Mapping[str, Any]) -> list[Text]:
    width = mapping.get("width")
    return [
        Text(machine),
        Text(signal),
        Text(str(mapping.get("tag", MISSING))),
        Text(str(mapping.get("type") or MISSING)),
        Text(MISSING if width is None else str(width), justify="right"),
    ]


class TagMapScreen(PlantScreen[bool]):
    """Every tag map that reads from one source. Returns True if anything was saved."""

    HELP_TITLE = "Tag maps"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add", "Add", id="tag-maps.add", tooltip="Map a machine signal to a tag of this source"),
        Binding("e", "edit", "Edit", id="tag-maps.edit", tooltip="Edit the highlighted tag map (also Enter)"),
        Binding("x,delete", "delete", "Delete", id="tag-maps.delete", key_display="x",
                tooltip="Unmap the highlighted signal, after asking"),
        Binding("escape", "back", "Back", id="tag-maps.back", tooltip="Back to the device list"),
    ]
    DEFAULT_CSS = """
    TagMapScreen #tag-maps-header {
        height: auto;
        background: $panel;
        padding: 0 1;
    }
    TagMapScreen #tag-maps {
        height: 1fr;
    }
    """

    def __init__(self, document: ConfigDocument, source: str) -> None:
        super().__init__()
        self.document = document
        self.source = source
        self.kind = str(document.source(source).get("kind", ""))
        self.saved = False

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#tag-maps", KeyedTable)

    def compose(self) -> ComposeResult:
        yield Static("", id="tag-maps-header")
        yield KeyedTable(COLUMNS, id="tag-maps", fixed_columns=1)
        yield Footer()

    def on_mount(self) -> None:
        self.table.focus()
        self._show()

    def _show(self, focus: str | None = None) -> None:
        maps = self.document.signals_of_source(self.source)
        rows: list[Row] = [(map_key(machine, signal), _map_cells(machine, signal, mapping))
                           for machine, signal, mapping in maps]
        self.query_one("#tag-maps-header", Static).update(Text.assemble(
            "Tag maps of ", (self.source, "bold"), f" ({self.kind}) │ {len(rows)} map{'' if len(rows) == 1 else 's'}",
            " │ a adds one" if not rows else ""))
        self.table.sync(rows)
        if focus is not None and focus in self.table.shown_keys():
            self.table.move_cursor(self.table.get_row_index(focus))

    def _highlighted(self) -> tuple[str, str] | None:
        key = self.table.cursor_key
        if key is None:
            self.notify("This source has no tag maps yet: press a to add one.", severity="warning")
            return None
        machine, _, signal = key.rpartition("/")
        return machine, signal

    def _busy(self) -> bool:
        busy = any(worker.group == "config-save" and not worker.is_finished for worker in self.workers)
        if busy:
            self.notify("Still saving the last change…", severity="warning")
        return busy

    def action_add(self) -> None:
        if not self._busy():
            self.app.push_screen(TagMapEditScreen(self.document, self.source, self.kind), self._edited)

    def action_edit(self) -> None:
        if self._busy():
            return
        chosen = self._highlighted()
        if chosen is not None:
            self.app.push_screen(TagMapEditScreen(self.document, self.source, self.kind, machine=chosen[0],
                                                  signal=chosen[1]), self._edited)

    @on(KeyedTable.RowSelected, "#tag-maps")
    def _row_selected(self, _event: KeyedTable.RowSelected) -> None:
        self.action_edit()

    def _edited(self, result: TagMapResult | None) -> None:
        if result is not None:
            self._save(result.document, result.key)

    def action_delete(self) -> None:
        if self._busy():
            return
        chosen = self._highlighted()
        if chosen is None:
            return
        machine, signal = chosen

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            candidate = copy.deepcopy(self.document)
            candidate.set_signal(machine, signal, None)
            self._save(candidate, None)

        self.app.push_screen(ConfirmScreen(f"Unmap {signal} of {machine}? It stops reading "
                                           f"{self.source} {self._tag_of(machine, signal)}."), answered)

    def _tag_of(self, machine: str, signal: str) -> str:
        mapping = mapping_of(self.document, machine, signal) or {}
        return str(mapping.get("tag", ""))

    @work(exclusive=True, group="config-save", exit_on_error=False)
    async def _save(self, candidate: ConfigDocument, focus: str | None) -> None:
        if await self.oee_app.apply_config(candidate) is not None:
            self.document = candidate
            self.saved = True
            self._show(focus)

    def action_back(self) -> None:
        # Leaving mid-save would cancel the worker between the write and the engine reload.
        if not self._busy():
            self.dismiss(self.saved)
