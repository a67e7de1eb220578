"""The form for one tag map: which machine signal reads which tag of a source.

Checks run as the tag is typed, by the source's kind (its declaration in
oee_tui.drivers.registry): a Modbus area and register, an OPC-UA node id, an S7
address (with the S7 driver's own parser), a Logix tag name (with the Logix driver's),
a Sparkplug metric pattern, an MQTT topic filter and JSON path (with oee_tui.mqtt's own
parsers). F3 opens the device's browse tree for OPC-UA and Logix, and for Sparkplug the
metrics the engine heard in births, so a node id need not be typed at all; an MQTT broker
has nothing to browse, and F3 says so. The form never
writes the file: Save hands back a checked copy of the document, which the tag map list
(oee_tui.screens.tag_maps) saves at once.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, ClassVar, Final, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, Select, Static
from tomlkit.items import AoT

from oee_tui import field_checks
from oee_tui.config import ConfigError
from oee_tui.config.edit import ConfigDocument, ConfigEditError
from oee_tui.device_checks import BROWSABLE_KINDS, NOT_BROWSABLE_BECAUSE, not_browsable, tags_of
from oee_tui.drivers.modbus.modbus_source import MODBUS_TYPES
from oee_tui.drivers.registry import KINDS
from oee_tui.model import COUNTER_SIGNALS, Signal
from oee_tui.mqtt.json_source import split_tag
from oee_tui.screens.browse import BrowseScreen, browser_for
from oee_tui.screens.host import ScreenHost
from oee_tui.widgets.form import Field, FieldRow, FormScreen, fields_marked


@dataclass(frozen=True, slots=True)
class TagFields:
    """How the tag and type fields look for one kind of source."""

    tag_hint: str = ""
    tag_label: str = "Tag"
    type_hint: str | None = ""  # None: the kind's payloads carry their type, so a map gives none (no Type field)
    json_path: bool = False  # the tag is TOPIC $PATH in the file, edited as a topic and a JSON path apart


TAG_FIELDS: Final = {
    "modbus": TagFields("hr:N, ir:N, co:N or di:N, e.g. hr:100",
                        type_hint=f"{', '.join(MODBUS_TYPES)}; blank: uint16 (bool for co/di)"),
    "opcua": TagFields("node id, e.g. ns=2;s=Line1.Count (F3 browses)", type_hint="blank: the server's type"),
    "s7": TagFields("e.g. DB1.DBD0, DB1.DBX4.0, MW10", type_hint="blank: from the address (DBW → INT, DBD → DINT, …)"),
    "logix": TagFields("tag name, e.g. Line1_Count (F3 lists the controller's tags)",
                       type_hint="blank: the controller's type; needed with tag_upload = false, e.g. DINT"),
    "sparkplug": TagFields("group/edge node/device/metric, e.g. Plant1/+/Press1/Count", "Metric", type_hint=None),
    "mqtt": TagFields("topic filter, e.g. plant/+/filler/counts", "Topic", type_hint=None, json_path=True),
}
PATH_HINT: Final = "e.g. $.machine.count or $.data[0].value; blank: the whole payload"


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


@dataclass(frozen=True, slots=True)
class TagMapResult:
    document: ConfigDocument  # the change applied and checked, not yet on disk
    key: str  # machine/signal of the map, for the cursor


class TagMapEditScreen(FormScreen[TagMapResult | None]):
    """Machine, signal, tag, type and counter width of one tag map."""

    HELP_TITLE = "Tag map"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", id="tag-map.save", priority=True,
                tooltip="Check every field and save the tag map to the config file"),
        Binding("f3", "pick", "Pick from device", id="tag-map.pick",
                tooltip="Browse the device (OPC-UA nodes, Logix tags, Sparkplug metrics) and fill in the tag"),
        Binding("escape", "cancel", "Cancel", id="tag-map.cancel", tooltip="Leave without saving"),
    ]

    def __init__(self, document: ConfigDocument, source: str, kind: str, *, machine: str | None = None,
                 signal: str | None = None) -> None:
        super().__init__()
        self.document = document
        self.source = source
        self.kind = kind
        self.tag_fields = TAG_FIELDS.get(kind, TagFields())
        self.old_key = (machine, signal) if machine is not None and signal is not None else None
        self.original: dict[str, Any] = (mapping_of(document, *self.old_key) or {}) if self.old_key else {}
        self.machines = machine_ids(document)
        self._start_machine = machine
        self._start_signal = signal

    @property
    def checked_keys(self) -> tuple[str, ...]:
        return ("tag", "path", "type", "width") if self.tag_fields.json_path else ("tag", "type", "width")

    def form_title(self) -> str:
        if self.old_key is None:
            return f"Map a signal to a tag of {self.source} ({self.kind})"
        return f"Edit tag map {self.old_key[0]} {self.old_key[1]} ({self.source}, {self.kind})"

    def status_help(self) -> str:
        pick = "" if self.kind in NOT_BROWSABLE_BECAUSE else " · F3 pick from device"
        return f"Tab/Enter next field{pick} · ctrl+s save · Esc cancel"

    def compose_fields(self) -> ComposeResult:
        # The machines come from the file, which may have none yet: then the drop-down stays blank.
        machine = self._start_machine if self._start_machine in self.machines else (
            self.machines[0] if self.machines else Select.NULL)
        yield FieldRow(Field("machine", "Machine"),
                       Select([(m, m) for m in self.machines], value=machine, allow_blank=not self.machines,
                              compact=True, id="field-machine"))
        signal = Field("signal", "Signal", choices=tuple(member.value for member in Signal))
        yield FieldRow(signal, signal.editor(self._start_signal or Signal.TOTAL_COUNT.value))
        # An mqtt tag is TOPIC or TOPIC $PATH in the file; the form edits the two parts apart.
        tag_text = str(self.original.get("tag", ""))
        tag_text, path = split_tag(tag_text) if self.tag_fields.json_path else (tag_text, None)
        tag = Field("tag", self.tag_fields.tag_label, self._check_tag, required=True, hint=self.tag_fields.tag_hint)
        yield FieldRow(tag, tag.editor(tag_text))
        if self.tag_fields.json_path:
            path_field = Field("path", "JSON path", field_checks.check_mqtt_path, hint=PATH_HINT)
            yield FieldRow(path_field, path_field.editor(path or ""))
        type_field = Field("type", "Type", self._check_type, hint=self.tag_fields.type_hint or "")
        type_row = FieldRow(type_field, type_field.editor(str(self.original.get("type", "") or "")))
        type_row.display = self.tag_fields.type_hint is not None
        yield type_row
        width = self.original.get("width")
        width_field = Field("width", "Counter width", self._check_width, parse=int)
        yield FieldRow(width_field, width_field.editor("" if width is None else str(width)))
        yield Static("", id="width-hint", classes="form-section")

    def on_mount(self) -> None:
        self.focus_field("tag" if self.old_key else "machine")
        self._show_width_hint()
        if not self.machines:
            self.show_status("There are no machines in the config file yet: add a [[machines]] entry first.")
        else:
            self.show_status(None)
        self.check_filled(self.checked_keys)

    # ------------------------------------------------------------ checks

    def _signal(self) -> str:
        return self.choice_of("signal") or Signal.TOTAL_COUNT.value

    def _check_tag(self, text: str) -> str | None:
        if self.tag_fields.json_path:
            return field_checks.check_mqtt_topic(text)  # the JSON path has a field of its own
        return field_checks.check_tag(self.kind, text, self.text_of("type"))

    def _check_type(self, text: str) -> str | None:
        return field_checks.check_tag_type(self.kind, text, self.text_of("tag"))

    def _check_width(self, text: str) -> str | None:
        return field_checks.check_width(text, self._signal())

    def field_changed(self, key: str) -> None:
        # The tag and its type are judged together (a coil is bool, DBW is not REAL).
        partner = {"tag": "type", "type": "tag"}.get(key)
        if partner is not None:
            self.recheck(partner)

    @on(Select.Changed, "#field-signal")
    def _signal_changed(self, _event: Select.Changed) -> None:
        self._show_width_hint()
        self.recheck("width")

    def _show_width_hint(self) -> None:
        counter = Signal(self._signal()) in COUNTER_SIGNALS
        # With no type to go by, what the source tells (a Sparkplug birth), else the reader's default for the kind.
        kind = KINDS[self.kind]
        blank = ("from the type" if self.tag_fields.type_hint is not None
                 else kind.learned_width or str(kind.counter_width(None)))
        self.query_one("#width-hint", Static).update(
            f"Counter width: 16, 32 or 64 bits, so a wrap is not taken for a reset; blank: {blank}."
            if counter else "Counter width applies to counters only: leave it empty for this signal.")

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
                self.touched.add("tag")
                tag.focus()

        source = config.source(self.source)
        browser = browser_for(cast("ScreenHost", self.app).engine, source)
        self.app.push_screen(BrowseScreen(source, browser, tags=tags_of(config, self.source),
                                          config_path=self.document.path), picked)

    # ------------------------------------------------------------ saving

    def action_save(self) -> None:
        self.save_tried = True
        machine = self.choice_of("machine")
        if machine is None or not self.machines:
            self.show_status("Not saved: pick a machine (the config file has none yet).")
            return
        marked = self.marked_on_save(self.checked_keys)
        if marked:
            self.focus_field(marked[0])
            self.show_status(f"Not saved: fix {fields_marked(len(marked))}.")
            return
        signal = self._signal()
        existing = mapping_of(self.document, machine, signal)
        if existing is not None and (machine, signal) != self.old_key:
            self.show_status(f"Not saved: {machine} {signal} already reads {existing.get('source')} "
                             f"{existing.get('tag')}; edit or delete that map instead.")
            return
        candidate = copy.deepcopy(self.document)
        try:
            if self.old_key is not None and self.old_key != (machine, signal):
                candidate.set_signal(self.old_key[0], self.old_key[1], None)
            candidate.set_signal(machine, signal, self._mapping())
            candidate.validate()
        except ConfigError as exc:
            field_key = exc.key.rsplit(".", 1)[-1]
            self.refuse(f"{exc.key} = {exc.value!r}: {exc.expected}",
                        field_key if field_key in ("tag", "type", "width") else None)
            return
        except ConfigEditError as exc:
            self.refuse(str(exc))
            return
        self.dismiss(TagMapResult(candidate, map_key(machine, signal)))

    def _mapping(self) -> dict[str, Any]:
        tag = self.text_of("tag").strip()
        if self.tag_fields.json_path:
            tag = field_checks.mqtt_tag(tag, self.text_of("path"))
        # Settings this form does not show (deadband, byte and word order, min and max) are kept as they were.
        mapping: dict[str, Any] = {key: value for key, value in self.original.items()
                                   if key not in ("source", "tag", "type", "width")}
        return {"source": self.source, "tag": tag, "type": self.value_of("type"), "width": self.value_of("width"),
                **mapping}
