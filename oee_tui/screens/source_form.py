"""Add or edit one source: the kind first, then only the settings that kind has, each checked as typed.

The form never writes the file. Save (ctrl+s) checks every shown field, applies
the change to a copy of the open document and runs the config reader over the
whole copy, so a combination the reader would refuse (a reconnect maximum below
its minimum, a password without a user name) is caught here, under the field it
concerns. Only a copy that would load is handed back; the devices screen writes
it to disk and tells the engine. The fields themselves, and which kind has which,
are in oee_tui.screens.source_fields.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, Select, Static

from oee_tui import field_checks
from oee_tui.config import TLS_PAIR_PROBLEM, ConfigError
from oee_tui.config.edit import ConfigDocument, ConfigEditError
from oee_tui.drivers.registry import KINDS
from oee_tui.screens.source_fields import (
    FIELDS_BY_KEY,
    KIND_FIELD,
    PASSWORD_REFERENCES,
    SOURCE_FIELDS,
    TLS_PORT,
    SourceField,
    password_reference,
    shown_text,
)
from oee_tui.widgets.form import Field, FieldRow, FormScreen, fields_marked


@dataclass(frozen=True, slots=True)
class SourceFormResult:
    """What Save hands back: the document with the change applied (checked, not yet on disk)."""

    document: ConfigDocument
    name: str
    old_name: str | None


class SourceFormScreen(FormScreen[SourceFormResult | None]):
    """The settings of one source. Esc leaves without changing anything."""

    HELP_TITLE = "Source settings"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", id="source-form.save",
                tooltip="Check every field and save the source to the config file", priority=True),
        Binding("escape", "cancel", "Cancel", id="source-form.cancel", tooltip="Leave without saving"),
    ]

    def __init__(self, document: ConfigDocument, source_name: str | None = None) -> None:
        super().__init__()
        self.document = document
        self.old_name = source_name
        self.original: dict[str, Any] = document.source(source_name) if source_name is not None else {}
        self.kind = str(self.original.get("kind", "modbus"))
        if self.kind not in KINDS:
            self.kind = "modbus"
        self.taken = frozenset(document.source_names()) - {source_name or ""}
        self._tls = self._initial_choice(FIELDS_BY_KEY["tls"])

    # ------------------------------------------------------------ building

    def form_title(self) -> str:
        return "Add a source" if self.old_name is None else f"Edit source {self.old_name}"

    def status_help(self) -> str:
        return "Tab/Enter next field · ctrl+s save · Esc cancel · F1 keys"

    def compose_fields(self) -> ComposeResult:
        yield FieldRow(KIND_FIELD, KIND_FIELD.editor(self.kind))
        name = Field("name", "Name", self._check_name, required=True, hint="how tag maps refer to it, e.g. plc1")
        yield FieldRow(name, name.editor(str(self.original.get("name", ""))))
        tuning_shown = False
        for field in SOURCE_FIELDS:
            if field.tuning and not tuning_shown:
                yield Static("Connection tuning (blank = default)", classes="form-section")
                tuning_shown = True
            yield FieldRow(field, self._editor(field))

    def _initial_choice(self, field: SourceField) -> str:
        original = self.original.get(field.key)
        shown = None if original is None else shown_text(original)
        return shown if shown in field.choices else field.default

    def _editor(self, field: SourceField) -> Input | Select[str]:
        tooltip = f"{field.key} in the config file"
        if field.choices:
            return field.editor(self._initial_choice(field), tooltip=tooltip)
        original = self.original.get(field.key)
        text = "" if original is None else shown_text(original)
        if field.key == "port" and self.old_name is None:
            text = str(KINDS[self.kind].default_port)  # a new source starts on its protocol's usual port
        pair_check = (lambda typed: self._check_pair(field, typed)) if field.pair else None
        return field.editor(text, hint=self._placeholder(field, self.kind), tooltip=tooltip, check=pair_check)

    def _placeholder(self, field: SourceField, kind: str) -> str:
        reference = password_reference(self.original) if field.key == "password" else None
        return field.placeholder(kind) if reference is None else f"from {reference}; leave blank"

    def _check_pair(self, field: SourceField, text: str) -> str | None:
        """Both halves of a pair or neither (a client certificate and its key); the empty half is marked."""
        if not text.strip() and self.text_of(field.pair).strip():
            return TLS_PAIR_PROBLEM
        return None

    def _check_name(self, text: str) -> str | None:
        return field_checks.check_source_name(text, self.taken)

    def on_mount(self) -> None:
        self._show_kind(self.kind)
        self.query_one("#field-kind" if self.old_name is None else "#field-name").focus()
        self.show_status(None)
        shown = self._shown_fields()
        self.check_filled(field.key for field in shown)
        if self.old_name is not None:
            # A pair's empty half is checked too when editing: a certificate without its key is in the file.
            for field in shown:
                if field.pair:
                    self.check_now(field.key)

    # ------------------------------------------------------------ reacting to typing

    @on(Select.Changed, "#field-kind")
    def _kind_changed(self, event: Select.Changed) -> None:
        new_kind = str(event.value)
        if new_kind == self.kind:
            return
        port = self.query_one("#field-port", Input)
        # Follow the protocol's usual port unless the technician typed another one.
        if port.value.strip() in ("", str(KINDS[self.kind].default_port)):
            port.value = str(KINDS[new_kind].default_port)
        self.kind = new_kind
        self._show_kind(new_kind)

    @on(Select.Changed, "#field-tls")
    def _tls_changed(self, event: Select.Changed) -> None:
        # Brokers listen for TLS on 8883 and plain MQTT on 1883: follow unless another port was typed.
        # Only a change the technician makes counts, not the drop-down showing the file's value.
        previous, self._tls = self._tls, str(event.value)
        if previous == self._tls:
            return
        port = self.query_one("#field-port", Input)
        plain, secure = str(KINDS[self.kind].default_port), str(TLS_PORT)
        if event.value == "true" and port.value.strip() == plain:
            port.value = secure
        elif event.value == "false" and port.value.strip() == secure:
            port.value = plain

    @on(Select.Changed, "#field-qos, #field-persistent_session, #field-timestamp_format")
    def _mqtt_choice_changed(self, _event: Select.Changed) -> None:
        self._check_choices()

    def field_changed(self, key: str) -> None:
        field = FIELDS_BY_KEY.get(key)
        if field is not None and field.pair and self.is_mounted:
            # Typing a certificate makes its empty key the mistake, and clearing it mends it.
            self.recheck(field.pair)
        if key == "timestamp_path" and self.is_mounted:
            self._check_choices()

    def _choice_problems(self) -> dict[str, str]:
        """The combinations of an mqtt source's drop-downs that the config reader refuses, by field."""
        if not FIELDS_BY_KEY["qos"].shown_for(self.kind):
            return {}
        problems: dict[str, str] = {}
        if self.choice_of("qos") == "0" and self.choice_of("persistent_session") == "true":
            problems["qos"] = ("must be 1 with persistent_session = true: a broker queues only QoS 1 messages "
                               "for a client that is away; set persistent_session = false for QoS 0")
        if self.choice_of("timestamp_format") != "iso8601" and not self.text_of("timestamp_path").strip():
            problems["timestamp_format"] = ("needs timestamp_path (the JSON path of the time in each payload); "
                                            "without it the arrival time is used")
        return problems

    def _check_choices(self) -> dict[str, str]:
        problems = self._choice_problems()
        for key in ("qos", "timestamp_format"):
            self.row(key).show_problem(problems.get(key))
        return problems

    @on(Select.Changed, "#field-security_mode")
    def _security_mode_changed(self, event: Select.Changed) -> None:
        # Signing needs a policy and no security needs none: follow the mode, as the reader requires.
        policy = self.query_one("#field-security_policy", Select)
        if event.value == "None":
            policy.value = "None"
        elif policy.value == "None":
            policy.value = "Basic256Sha256"

    def _show_kind(self, kind: str) -> None:
        for field in SOURCE_FIELDS:
            row = self.row(field.key)
            row.display = field.shown_for(kind)
            if isinstance(row.editor, Input):
                row.editor.placeholder = self._placeholder(field, kind)

    # ------------------------------------------------------------ saving

    def _shown_fields(self) -> list[SourceField]:
        return [field for field in SOURCE_FIELDS if field.shown_for(self.kind)]

    def action_save(self) -> None:
        wrong_choices = self._check_choices()
        # In the form's order, so the cursor goes to the first one shown.
        marked = self.marked_on_save(["name", *(field.key for field in self._shown_fields())], wrong_choices)
        if marked:
            self.focus_field(marked[0])
            self.show_status(f"Not saved: fix {fields_marked(len(marked))} first.")
            return
        values = self._values()
        reference = password_reference(self.original)
        if reference is not None and values.get("password") is not None:
            # The file takes the password from outside on purpose; writing a typed one into it would undo that.
            self.refuse(f"password: comes from {reference}; change it there, or remove that key from the file "
                        "to type a password here", "password")
            return
        candidate = copy.deepcopy(self.document)
        try:
            candidate.upsert_source(values, old_name=self.old_name)
            candidate.validate()
        except ConfigError as exc:
            self.refuse(f"{exc.key} = {exc.value!r}: {exc.expected}", self._shown_key(exc.key))
            return
        except ConfigEditError as exc:
            self.refuse(str(exc))
            return
        self.dismiss(SourceFormResult(candidate, str(values["name"]), self.old_name))

    def _shown_key(self, config_key: str) -> str | None:
        """The field on the form that a config key (sources[plc1].port) names, if it is shown."""
        key = config_key.rsplit(".", 1)[-1]
        return key if key in FIELDS_BY_KEY and FIELDS_BY_KEY[key].shown_for(self.kind) else None

    def _values(self) -> dict[str, Any]:
        """The [[sources]] table the form describes; None for keys to leave out (the reader's default applies)."""
        values: dict[str, Any] = {"name": self.text_of("name"), "kind": self.kind}
        for field in self._shown_fields():
            original = self.original.get(field.key)
            if field.choices:
                # Do not add a key that only restates the default to someone's hand-written file.
                keep = field.key in self.original or self.choice_of(field.key) != field.default
                values[field.key] = self.value_of(field.key) if keep else None
            elif isinstance(original, list) and self.text_of(field.key).strip() == shown_text(original):
                values[field.key] = original  # untouched: as written (a group id with a comma stays one)
            else:
                values[field.key] = self.value_of(field.key)
        if values.get("timestamp_path") is None and values.get("timestamp_format") == "iso8601":
            # A format without a path is refused by the reader and means nothing: the arrival time is used.
            values["timestamp_format"] = None
        same_kind = self.original.get("kind") == self.kind
        for key, value in self.original.items():
            # Same kind: what the form does not show (an OPC-UA source's unused host, a key a newer
            # oee knows) stays as the user wrote it. Another kind: the old kind's settings go, except
            # where the password comes from, when the new kind has a password too.
            if key not in values:
                keep = same_kind or (key in PASSWORD_REFERENCES and key in KINDS[self.kind].keys)
                values[key] = value if keep else None
        for field in SOURCE_FIELDS:
            values.setdefault(field.key, None)
        return values
