"""The tag maps of one source: which machine signal reads which tag, and the form for one map.

Checks run as the tag is typed, by the source's kind: a Modbus area and
register, an OPC-UA node id, an S7 address (with the S7 driver's own parser), a
Logix tag name (with the Logix driver's), a Sparkplug metric pattern, an MQTT
topic filter and JSON path (with oee_tui.mqtt's own parsers). F3 opens the
device's browse tree for OPC-UA and Logix, so a node id need not be typed at
all; an MQTT broker has nothing to browse, and F3 says so. Each change is saved
at once, like every change on the device screens.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, Select, Static
from tomlkit.items import AoT

from oee_tui import field_checks
from oee_tui.config import ConfigError
from oee_tui.config.edit import ConfigDocument, ConfigEditError
from oee_tui.device_checks import BROWSABLE_KINDS, NOT_BROWSABLE_BECAUSE, not_browsable, tags_of
from oee_tui.drivers.modbus.modbus_source import MODBUS_TYPES
from oee_tui.model import COUNTER_SIGNALS, Signal
from oee_tui.mqtt.json_source import split_tag
from oee_tui.screens.browse import BrowseScreen
from oee_tui.screens.host import PlantScreen
from oee_tui.screens.source_form import FORM_GUARDS, ConfirmScreen, FieldValidator, FormField, form_css, status_text
from oee_tui.widgets.formatting import MISSING
from oee_tui.widgets.keyed_table import KeyedTable, Row

COLUMNS: Final = (
    ("machine", "Machine"),
    ("signal", "Signal"),
    ("tag", "Tag"),
    ("type", "Type"),
    ("width", Text("Width", justify="right")),
)

TAG_HINTS: Final = {
    "modbus": "hr:N, ir:N, co:N or di:N, e.g. hr:100",
    "opcua": "node id, e.g. ns=2;s=Line1.Count (F3 browses)",
    "s7": "e.g. DB1.DBD0, DB1.DBX4.0, MW10",
    "logix": "tag name, e.g. Line1_Count (F3 lists the controller's tags)",
    "sparkplug": "group/edge node/device/metric, e.g. Plant1/+/Press1/Count",
    "mqtt": "topic filter, e.g. plant/+/filler/counts",
}
TAG_LABELS: Final = {"sparkplug": "Metric", "mqtt": "Topic"}
PATH_HINT: Final = "e.g. $.machine.count or $.data[0].value; blank: the whole payload"
# The MQTT kinds carry their type in the payload: a tag map of theirs has no type to give.
UNTYPED_KINDS: Final = frozenset({"sparkplug", "mqtt"})
TYPE_HINTS: Final = {
    "modbus": f"{', '.join(MODBUS_TYPES)}; blank: uint16 (bool for co/di)",
    "opcua": "blank: the server's type",
    "s7": "blank: from the address (DBW → INT, DBD → DINT, …)",
    "logix": "blank: the controller's type",
}


def machine_ids(document: ConfigDocument) -> list[str]:
    """The machines of the file, read from the document itself so a file that does not load yet still lists them."""
    machines = document.doc.get("machines")
    return [str(table.get("id")) for table in machines] if isinstance(machines, AoT) else []


def mapping_of(document: ConfigDocument, machine: str, signal: str) -> dict[str, Any] | None:
    machines = document.doc.get("machines")
    for table in machines if isinstance(machines, AoT) else []:
        if table.get("id") == machine:
            mapping = (table.get("signals") or {}).get(signal)
            return None if mapping is None else dict(mapping)
    return None


def map_key(machine: str, signal: str) -> str:
    return f"{machine}/{signal}"


# ---------------------------------------------------------------- one map


@dataclass(frozen=True, slots=True)
class TagMapResult:
    document: ConfigDocument  # the change applied and checked, not yet on disk
    key: str  # machine/signal of the map, for the cursor


class TagMapEditScreen(Screen[TagMapResult | None]):
    """Machine, signal, tag, type and counter width of one tag map."""

    HELP_TITLE = "Tag map"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", id="tag-map.save", priority=True,
                tooltip="Check every field and save the tag map to the config file"),
        Binding("f3", "pick", "Pick from device", id="tag-map.pick",
                tooltip="Browse the device (OPC-UA nodes, Logix tags) and fill in the tag"),
        Binding("escape", "cancel", "Cancel", id="tag-map.cancel", tooltip="Leave without saving"),
        *FORM_GUARDS,
    ]
    DEFAULT_CSS = form_css("TagMapEditScreen")

    def __init__(self, document: ConfigDocument, source: str, kind: str, *, machine: str | None = None,
                 signal: str | None = None) -> None:
        super().__init__()
        self.document = document
        self.source = source
        self.kind = kind
        self.old_key = (machine, signal) if machine is not None and signal is not None else None
        self.original: dict[str, Any] = (mapping_of(document, *self.old_key) or {}) if self.old_key else {}
        self.machines = machine_ids(document)
        self._start_machine = machine
        self._start_signal = signal
        self._touched: set[str] = set()
        self._save_tried = False
        tag = str(self.original.get("tag", ""))
        # An mqtt tag is TOPIC or TOPIC $PATH in the file; the form edits the two parts apart.
        self._tag_text, path = split_tag(tag) if kind == "mqtt" else (tag, None)
        self._path_text = path or ""

    @property
    def checked_keys(self) -> tuple[str, ...]:
        return ("tag", "path", "type", "width") if self.kind == "mqtt" else ("tag", "type", "width")

    def compose(self) -> ComposeResult:
        title = (f"Map a signal to a tag of {self.source} ({self.kind})" if self.old_key is None
                 else f"Edit tag map {self.old_key[0]} {self.old_key[1]} ({self.source}, {self.kind})")
        yield Static(title, id="form-title", markup=False)
        with VerticalScroll(id="form-fields"):
            machine_value = self._start_machine if self._start_machine in self.machines else (
                self.machines[0] if self.machines else Select.NULL)
            yield FormField("machine", "Machine", Select([(m, m) for m in self.machines], value=machine_value,
                                                         allow_blank=not self.machines, compact=True,
                                                         id="field-machine"))
            signals = [signal.value for signal in Signal]
            yield FormField("signal", "Signal", Select([(s, s) for s in signals],
                                                       value=self._start_signal or Signal.TOTAL_COUNT.value,
                                                       allow_blank=False, compact=True, id="field-signal"))
            yield FormField("tag", TAG_LABELS.get(self.kind, "Tag"),
                            Input(self._tag_text, compact=True, id="field-tag",
                                  placeholder=TAG_HINTS.get(self.kind, ""),
                                  validators=[FieldValidator(self._check_tag)]))
            if self.kind == "mqtt":
                yield FormField("path", "JSON path", Input(self._path_text, compact=True, id="field-path",
                                                           placeholder=PATH_HINT, valid_empty=True,
                                                           validators=[FieldValidator(field_checks.check_mqtt_path)]))
            type_row = FormField("type", "Type", Input(str(self.original.get("type", "") or ""), compact=True,
                                                       id="field-type", placeholder=TYPE_HINTS.get(self.kind, ""),
                                                       valid_empty=True,
                                                       validators=[FieldValidator(self._check_type)]))
            type_row.display = self.kind not in UNTYPED_KINDS
            yield type_row
            width = self.original.get("width")
            yield FormField("width", "Counter width", Input("" if width is None else str(width), compact=True,
                                                            id="field-width", valid_empty=True,
                                                            validators=[FieldValidator(self._check_width)]))
            yield Static("", id="width-hint", classes="form-section")
        yield Static("", id="form-status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#field-tag" if self.old_key else "#field-machine").focus()
        self._show_width_hint()
        if not self.machines:
            self._status("There are no machines in the config file yet: add a [[machines]] entry first.")
        else:
            self._status(None)
        for key in self.checked_keys:
            editor = self.query_one(f"#field-{key}", Input)
            if editor.value:
                self._touched.add(key)
                self._recheck(key)

    # ------------------------------------------------------------ checks

    # The validators read their sibling fields, and run as soon as each Input mounts: a
    # sibling not mounted yet reads as empty (it is checked again once it is).

    def _value(self, key: str) -> str:
        editor = next(iter(self.query(f"#field-{key}").results(Input)), None)
        return "" if editor is None else editor.value

    def _signal(self) -> str:
        select = next(iter(self.query("#field-signal").results(Select)), None)
        return Signal.TOTAL_COUNT.value if select is None else str(select.value)

    def _check_tag(self, text: str) -> str | None:
        if self.kind == "mqtt":
            return field_checks.check_mqtt_topic(text)  # the JSON path has a field of its own
        return field_checks.check_tag(self.kind, text, self._value("type"))

    def _check_type(self, text: str) -> str | None:
        return field_checks.check_tag_type(self.kind, text, self._value("tag"))

    def _check_width(self, text: str) -> str | None:
        return field_checks.check_width(text, self._signal())

    def _recheck(self, key: str) -> str | None:
        editor = self.query_one(f"#field-{key}", Input)
        result = editor.validate(editor.value)
        problem = None if result is None or result.is_valid else (
            next((text for text in result.failure_descriptions if text), "is not valid"))
        row = self.query_one(f"#row-{key}", FormField)
        if problem is None or key in self._touched or self._save_tried:
            row.show_problem(problem)
        return problem

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        key = (event.input.id or "").removeprefix("field-")
        if event.input.has_focus:
            self._touched.add(key)
        self._recheck(key)
        # The tag and its type are judged together (a coil is bool, DBW is not REAL).
        partner = {"tag": "type", "type": "tag"}.get(key)
        if partner is not None:
            self._recheck(partner)

    @on(Select.Changed, "#field-signal")
    def _signal_changed(self, _event: Select.Changed) -> None:
        self._show_width_hint()
        self._recheck("width")

    def _show_width_hint(self) -> None:
        counter = Signal(self._signal()) in COUNTER_SIGNALS
        blank = "32" if self.kind in UNTYPED_KINDS else "from the type"  # the reader's default with no type
        self.query_one("#width-hint", Static).update(
            f"Counter width: 16, 32 or 64 bits, so a wrap is not taken for a reset; blank: {blank}."
            if counter else "Counter width applies to counters only: leave it empty for this signal.")

    @on(Input.Blurred)
    def _left(self, event: Input.Blurred) -> None:
        key = (event.input.id or "").removeprefix("field-")
        self._touched.add(key)
        self._recheck(key)

    @on(Input.Submitted)
    def _next_field(self, event: Input.Submitted) -> None:
        event.stop()
        self.focus_next()

    def _status(self, problem: str | None) -> None:
        pick = "" if self.kind in NOT_BROWSABLE_BECAUSE else " · F3 pick from device"
        self.query_one("#form-status", Static).update(
            status_text(problem, f"Tab/Enter next field{pick} · ctrl+s save · Esc cancel"))

    # ------------------------------------------------------------ picking

    def action_pick(self) -> None:
        if self.kind not in BROWSABLE_KINDS:
            self.notify(f"{self.kind}: {not_browsable(self.kind)}.", title="Pick", severity="warning", timeout=12)
            return
        try:
            config = self.document.validate()
        except ConfigError as exc:
            self.notify(f"The config does not load, so the device cannot be reached from here: {exc}",
                        severity="error", timeout=20)
            return

        def picked(node: str | None) -> None:
            if node:
                tag = self.query_one("#field-tag", Input)
                tag.value = node
                self._touched.add("tag")
                tag.focus()

        source = config.source(self.source)
        self.app.push_screen(BrowseScreen(source, None, tags=tags_of(config, self.source),
                                          config_path=self.document.path), picked)

    # ------------------------------------------------------------ saving

    def action_save(self) -> None:
        self._save_tried = True
        machine_value = self.query_one("#field-machine", Select).value
        if machine_value is Select.NULL or not self.machines:
            self._status("Not saved: pick a machine (the config file has none yet).")
            return
        problems = [key for key in self.checked_keys if self._recheck(key) is not None]
        if problems:
            self.query_one(f"#field-{problems[0]}", Input).focus()
            self._status(f"Not saved: fix the {len(problems)} field{'s' if len(problems) > 1 else ''} marked ✕.")
            return
        machine, signal = str(machine_value), self._signal()
        existing = mapping_of(self.document, machine, signal)
        if existing is not None and (machine, signal) != self.old_key:
            self._status(f"Not saved: {machine} {signal} already reads {existing.get('source')} "
                         f"{existing.get('tag')}; edit or delete that map instead.")
            return
        candidate = copy.deepcopy(self.document)
        try:
            if self.old_key is not None and self.old_key != (machine, signal):
                candidate.set_signal(self.old_key[0], self.old_key[1], None)
            candidate.set_signal(machine, signal, self._mapping())
            candidate.validate()
        except ConfigError as exc:
            self._refuse(exc.key, f"{exc.key} = {exc.value!r}: {exc.expected}")
            return
        except ConfigEditError as exc:
            self._status(f"Not saved: {exc}")
            return
        self.dismiss(TagMapResult(candidate, map_key(machine, signal)))

    def _mapping(self) -> dict[str, Any]:
        tag = self._value("tag").strip()
        if self.kind == "mqtt":
            tag = field_checks.mqtt_tag(tag, self._value("path"))
        type_text = self._value("type").strip()
        width = self._value("width").strip()
        # Settings this form does not show (deadband, byte and word order) are kept as they were.
        mapping: dict[str, Any] = {key: value for key, value in self.original.items()
                                   if key not in ("source", "tag", "type", "width")}
        return {"source": self.source, "tag": tag, "type": type_text or None,
                "width": int(width) if width else None, **mapping}

    def _refuse(self, key: str, message: str) -> None:
        field_key = key.rsplit(".", 1)[-1]
        if field_key in ("tag", "type", "width"):
            row = self.query_one(f"#row-{field_key}", FormField)
            row.show_problem(message.split(": ", 1)[-1])
            row.editor.focus()
        self._status(f"Not saved: {message}")

    def action_cancel(self) -> None:
        self.dismiss(None)


# ---------------------------------------------------------------- the list of one source's maps


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
