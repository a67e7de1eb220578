"""Add or edit one source: the kind first, then only the settings that kind has, each checked as typed.

The form never writes the file. Save (ctrl+s) checks every shown field, applies
the change to a copy of the open document and runs the config reader over the
whole copy, so a combination the reader would refuse (a reconnect maximum below
its minimum, a password without a user name) is caught here, under the field it
concerns. Only a copy that would load is handed back; the devices screen writes
it to disk and tells the engine.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.validation import ValidationResult, Validator
from textual.widget import Widget
from textual.widgets import Footer, Input, Label, Select, Static

from oee_tui import field_checks
from oee_tui.config import MQTT_VERSIONS, TLS_PAIR_PROBLEM, ConfigError
from oee_tui.config.edit import ConfigDocument, ConfigEditError
from oee_tui.drivers.opcua.opcua_source import OPCUA_SECURITY_MODES, OPCUA_SECURITY_POLICIES
from oee_tui.drivers.registry import DEFAULT_PORTS, SOURCE_KINDS
from oee_tui.field_checks import Check
from oee_tui.mqtt.json_paths import TIMESTAMP_FORMATS
from oee_tui.widgets.dialog import Dialog

# ---------------------------------------------------------------- shared form parts


class FieldValidator(Validator):
    """Runs one of oee_tui.field_checks' checks, so its words become the Input's failure description."""

    def __init__(self, check: Check) -> None:
        super().__init__()
        self.check = check

    def validate(self, value: str) -> ValidationResult:
        problem = self.check(value)
        return self.success() if problem is None else self.failure(problem)


class FormField(Vertical):
    """A label, the widget that edits one setting, and the problem with it (if any) underneath."""

    DEFAULT_CSS = """
    FormField {
        height: auto;
    }
    FormField > Horizontal {
        height: auto;
    }
    FormField > Horizontal > Label {
        width: 20;
        padding-right: 1;
        color: $text-muted;
    }
    /* Compact inputs have no border, so the focused field is marked on its label too:
       reverse video still shows on a monochrome or 16-colour terminal. */
    FormField:focus-within > Horizontal > Label {
        color: $foreground;
        text-style: bold reverse;
    }
    FormField > Horizontal > Input, FormField > Horizontal > Select {
        width: 1fr;
    }
    FormField > .field-error {
        display: none;
        padding-left: 20;
        color: $text-error;
    }
    FormField.-has-error > .field-error {
        display: block;
    }
    """

    def __init__(self, key: str, label: str, editor: Widget, *, classes: str = "") -> None:
        super().__init__(id=f"row-{key}", classes=classes)
        self.key = key
        self.label = label
        self.editor = editor
        self.problem: str | None = None

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(self.label)
            yield self.editor
        yield Static("", classes="field-error", markup=False)

    def show_problem(self, problem: str | None) -> None:
        self.problem = problem
        # The cross is there for terminals and eyes that do not see the red.
        self.query_one(".field-error", Static).update("" if problem is None else f"✕ {problem}")
        self.set_class(problem is not None, "-has-error")


class ConfirmScreen(Dialog[bool]):
    """Asks before something that cannot be undone from the app: y does it, n or Esc does not."""

    HELP_TITLE = "Confirm"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no", key_display="n/Esc"),
    ]
    DEFAULT_CSS = """
    ConfirmScreen #dialog {
        width: 60;
        border: round $warning;
        padding: 1 2;
    }
    """

    def __init__(self, question: str) -> None:
        super().__init__("")
        self.question = question

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield Static(Text.assemble((self.question, "bold"), "\n\ny = yes   n or Esc = no"), id="confirm-question")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


# On a form, a stray q (typed while a drop-down has the focus) must not quit the app and
# throw away what was typed: the form takes the key and says how to leave. Ctrl+Q still quits.
FORM_GUARDS: Final[tuple[Binding, ...]] = (
    Binding("q", "app.notify('Esc leaves the form; ctrl+q quits oee.')", show=False),
)


def form_css(screen: str) -> str:
    """The frame the device forms share: a title line, the scrolling fields, a status line, the footer."""
    return f"""
    {screen} #form-title {{
        height: 1;
        background: $panel;
        padding: 0 1;
        text-style: bold;
    }}
    {screen} #form-fields {{
        height: 1fr;
        max-width: 110;  /* on a wide terminal the values stay near their labels */
        padding: 0 1;
    }}
    {screen} .form-section {{
        margin-top: 1;
        color: $text-muted;
        text-style: bold;
    }}
    {screen} #form-status {{
        height: auto;
        max-height: 4;
        padding: 0 1;
        background: $panel;
    }}
    """


def status_text(problem: str | None, fallback: str) -> Text:
    if problem is None:
        return Text(fallback)
    return Text.assemble(("✕ ", "bold"), (problem, "bold"))


# ---------------------------------------------------------------- the source's settings

ALL_KINDS: Final = frozenset(SOURCE_KINDS)
SPARKPLUG: Final = frozenset({"sparkplug"})
MQTT_JSON: Final = frozenset({"mqtt"})
BROKERED: Final = SPARKPLUG | MQTT_JSON  # an MQTT broker pushes their data; nothing is polled
POLLED: Final = ALL_KINDS - BROKERED
# Addressed by host and port (OPC-UA by its endpoint); for the MQTT kinds, the broker's.
NETWORKED: Final = frozenset({"modbus", "s7", "logix"}) | BROKERED
KIND_LABELS: Final = {
    "modbus": "modbus — Modbus TCP",
    "opcua": "opcua — OPC UA",
    "s7": "s7 — Siemens S7 (ISO-on-TCP)",
    "logix": "logix — Allen-Bradley Logix (EtherNet/IP)",
    "sparkplug": "sparkplug — Sparkplug B host (MQTT)",
    "mqtt": "mqtt — MQTT, JSON or plain payloads",
}
TLS_PORT: Final = 8883  # the usual MQTT-over-TLS port, offered when TLS is switched on


@dataclass(frozen=True, slots=True)
class SourceField:
    key: str  # the key in [[sources]]
    label: str
    kinds: frozenset[str]
    check: Check | None = None
    value_type: type = str  # int, float or str: how the text is written to the file
    required: bool = False
    choices: tuple[str, ...] = ()  # a Select instead of an Input
    default: str = ""  # what the config reader uses when the key is left out
    hint: str = ""
    password: bool = False
    tuning: bool = False  # rarely changed: shown under "Connection tuning"
    choice_labels: tuple[str, ...] = ()  # what the drop-down shows for each of `choices`, if not the value
    pair: str = ""  # the key that must be given with this one, or neither (a client certificate and its key)


SOURCE_FIELDS: Final[tuple[SourceField, ...]] = (
    SourceField("host", "Host", NETWORKED, field_checks.check_host, required=True,
                hint="IP address or host name, e.g. 192.168.0.10"),
    SourceField("port", "Port", NETWORKED, field_checks.check_port, int, hint="TCP port"),
    SourceField("endpoint", "Endpoint", frozenset({"opcua"}), field_checks.check_endpoint, required=True,
                hint="opc.tcp://host:4840/path"),
    SourceField("unit_id", "Unit id", frozenset({"modbus"}), field_checks.int_range(0, 255), int, default="1",
                hint="Modbus unit (slave) id, 0-255"),
    SourceField("byte_order", "Byte order", frozenset({"modbus"}), choices=("big", "little"), default="big"),
    SourceField("word_order", "Word order", frozenset({"modbus"}), choices=("big", "little"), default="big"),
    SourceField("rack", "Rack", frozenset({"s7"}), field_checks.check_rack, int, default="0", hint="0-7"),
    SourceField("slot", "Slot", frozenset({"s7", "logix"}), field_checks.check_slot, int,
                hint="S7-1200/1500: 1, S7-300: 2; Logix: the CPU's slot"),
    SourceField("local_tsap", "Local TSAP", frozenset({"s7"}), field_checks.check_tsap,
                hint="instead of rack/slot, e.g. 01.00"),
    SourceField("remote_tsap", "Remote TSAP", frozenset({"s7"}), field_checks.check_tsap, hint="e.g. 03.01"),
    SourceField("publishing_interval_ms", "Publishing ms", frozenset({"opcua"}),
                field_checks.int_range(10, 600_000), int, default="500", hint="10-600000"),
    SourceField("security_mode", "Security mode", frozenset({"opcua"}), choices=OPCUA_SECURITY_MODES,
                default="None"),
    SourceField("security_policy", "Security policy", frozenset({"opcua"}), choices=OPCUA_SECURITY_POLICIES,
                default="None"),
    SourceField("host_id", "Host id", SPARKPLUG, field_checks.check_host_id, default="oee-tui",
                hint="publishes spBv1.0/STATE/<host id>"),
    SourceField("group_ids", "Group ids", SPARKPLUG, field_checks.check_group_ids, list,
                hint="comma-separated, e.g. Plant1, Plant2; blank: every group"),
    SourceField("mqtt_version", "MQTT version", BROKERED, choices=MQTT_VERSIONS, default="3.1.1"),
    SourceField("username", "User name", frozenset({"opcua"}) | BROKERED, hint="blank: anonymous"),
    SourceField("password", "Password", frozenset({"opcua"}) | BROKERED, password=True),
    SourceField("user_certificate", "User certificate", frozenset({"opcua"}), hint="path to the .der/.pem file"),
    SourceField("user_private_key", "User private key", frozenset({"opcua"}), hint="path to the key file"),
    SourceField("tls", "TLS", BROKERED, value_type=bool, choices=("false", "true"), default="false",
                choice_labels=("false — plain MQTT, unless a TLS file below is set",
                               "true — TLS; the system CAs unless a CA file is set")),
    SourceField("tls_ca_file", "TLS CA file", BROKERED, hint="path to the CA's .pem; blank: the system CAs"),
    SourceField("tls_cert_file", "TLS client cert", BROKERED,
                hint="mutual TLS: path to the client .pem, with its key", pair="tls_key_file"),
    SourceField("tls_key_file", "TLS client key", BROKERED, hint="path to the client certificate's key",
                pair="tls_cert_file"),
    SourceField("qos", "QoS", MQTT_JSON, value_type=int, choices=("1", "0"), default="1",
                choice_labels=("1 — every message, also those sent while away", "0 — at most once")),
    SourceField("timestamp_path", "Timestamp path", MQTT_JSON, field_checks.check_json_path,
                hint="JSON path of the sample time, e.g. $.ts; blank: arrival time"),
    SourceField("timestamp_format", "Timestamp format", MQTT_JSON, choices=TIMESTAMP_FORMATS, default="iso8601"),
    SourceField("poll_interval_s", "Poll every (s)", POLLED, field_checks.check_positive_number, float,
                default="1.0", tuning=True),
    SourceField("timeout_s", "Timeout (s)", ALL_KINDS, field_checks.check_positive_number, float, default="3.0",
                tuning=True),
    SourceField("reconnect_min_s", "Reconnect min (s)", ALL_KINDS, field_checks.check_positive_number, float,
                default="0.5", tuning=True),
    SourceField("reconnect_max_s", "Reconnect max (s)", ALL_KINDS, field_checks.check_positive_number, float,
                default="30.0", tuning=True),
    SourceField("max_registers_per_read", "Registers per read", frozenset({"modbus"}),
                field_checks.int_range(1, 125), int, default="120", tuning=True, hint="1-125"),
    SourceField("queue_size", "Queue size", ALL_KINDS, field_checks.int_range(10, 10_000_000), int,
                default="10000", tuning=True, hint="samples held for the engine"),
    SourceField("namespace", "Namespace", SPARKPLUG, field_checks.check_namespace, default="spBv1.0",
                tuning=True, hint="the topics' first level"),
    SourceField("client_id", "Client id", BROKERED, tuning=True,
                hint="the broker knows this client by it: keep it stable"),
    SourceField("keepalive_s", "Keep-alive (s)", BROKERED, field_checks.int_range(5, 3600), int, default="30",
                tuning=True, hint="5-3600"),
    SourceField("reorder_timeout_s", "Reorder timeout (s)", SPARKPLUG, field_checks.check_positive_number, float,
                default="2.0", tuning=True, hint="a seq gap waits this long, then a rebirth is asked for"),
    SourceField("persistent_session", "Persistent session", MQTT_JSON, value_type=bool, choices=("true", "false"),
                default="true", tuning=True,
                choice_labels=("true — the broker queues QoS 1 messages while away", "false — clean session")),
    SourceField("session_expiry_s", "Session expiry (s)", MQTT_JSON, field_checks.int_range(0, 4_294_967_295), int,
                default="86400", tuning=True, hint="MQTT 5: how long the broker keeps the session"),
)
FIELDS_BY_KEY: Final = {field.key: field for field in SOURCE_FIELDS}


def _placeholder(field: SourceField, kind: str) -> str:
    default = field.default
    if field.key == "port":
        default = str(DEFAULT_PORTS[kind])
    elif field.key == "client_id":
        # As the drivers make it (oee_tui.drivers.sparkplug.host_driver / mqtt_json), so blank is not a mystery.
        default = "<host id>-<name>" if kind == "sparkplug" else "oee-tui-<name>"
    parts = [f"default {default}"] if default else []
    if field.hint:
        parts.append(field.hint)
    return "; ".join(parts)


def _shown_value(field: SourceField, value: Any) -> str:
    """A value from the file as the form shows it: true/false in lower case, a list comma-separated."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def _written(field: SourceField, text: str) -> Any:
    """The TOML value for a field's text: a number, boolean or array where the reader expects one, else as typed."""
    if field.value_type is int:
        return int(text)
    if field.value_type is float:
        whole = field_checks.parse_int(text)
        return whole if whole is not None else float(text)
    if field.value_type is bool:
        return text == "true"
    if field.value_type is list:
        return field_checks.split_list(text)
    return text


@dataclass(frozen=True, slots=True)
class SourceFormResult:
    """What Save hands back: the document with the change applied (checked, not yet on disk)."""

    document: ConfigDocument
    name: str
    old_name: str | None


class SourceFormScreen(Screen[SourceFormResult | None]):
    """The settings of one source. Esc leaves without changing anything."""

    HELP_TITLE = "Source settings"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", id="source-form.save",
                tooltip="Check every field and save the source to the config file", priority=True),
        Binding("escape", "cancel", "Cancel", id="source-form.cancel", tooltip="Leave without saving"),
        *FORM_GUARDS,
    ]
    DEFAULT_CSS = form_css("SourceFormScreen")

    def __init__(self, document: ConfigDocument, source_name: str | None = None) -> None:
        super().__init__()
        self.document = document
        self.old_name = source_name
        self.original: dict[str, Any] = document.source(source_name) if source_name is not None else {}
        self.kind = str(self.original.get("kind", "modbus"))
        if self.kind not in SOURCE_KINDS:
            self.kind = "modbus"
        self.taken = frozenset(document.source_names()) - {source_name or ""}
        # Errors show under fields the technician has touched, or all of them once Save was tried;
        # an empty form should not open covered in complaints.
        self._touched: set[str] = set()
        self._save_tried = False
        self._tls = self._initial_choice(FIELDS_BY_KEY["tls"])

    # ------------------------------------------------------------ building

    def compose(self) -> ComposeResult:
        title = "Add a source" if self.old_name is None else f"Edit source {self.old_name}"
        yield Static(title, id="form-title", markup=False)
        with VerticalScroll(id="form-fields"):
            kind = Select([(label, kind) for kind, label in KIND_LABELS.items()], value=self.kind,
                          allow_blank=False, compact=True, id="field-kind")
            yield FormField("kind", "Kind", kind)
            yield FormField("name", "Name", Input(str(self.original.get("name", "")), compact=True, id="field-name",
                                                  placeholder="how tag maps refer to it, e.g. plc1",
                                                  validators=[FieldValidator(self._check_name)]))
            tuning_shown = False
            for field in SOURCE_FIELDS:
                if field.tuning and not tuning_shown:
                    yield Static("Connection tuning (blank = default)", classes="form-section")
                    tuning_shown = True
                yield FormField(field.key, field.label, self._editor(field))
        yield Static("", id="form-status")
        yield Footer()

    def _initial_choice(self, field: SourceField) -> str:
        original = self.original.get(field.key)
        shown = None if original is None else _shown_value(field, original)
        return shown if shown in field.choices else field.default

    def _editor(self, field: SourceField) -> Widget:
        original = self.original.get(field.key)
        if field.choices:
            labels = field.choice_labels or field.choices
            return Select(list(zip(labels, field.choices, strict=True)), value=self._initial_choice(field),
                          allow_blank=False, compact=True, id=f"field-{field.key}",
                          tooltip=f"{field.key} in the config file")
        text = "" if original is None else _shown_value(field, original)
        if field.key == "port" and self.old_name is None:
            text = str(DEFAULT_PORTS[self.kind])  # a new source starts on its protocol's usual port
        validators: list[Validator] = []
        if field.pair:
            validators.append(FieldValidator(lambda typed: self._check_pair(field, typed)))
        elif field.check or field.required:
            validators.append(FieldValidator(field.check or field_checks.check_required))
        # A pair's empty half can be the mistake, so its check must also run on empty text.
        return Input(text, placeholder=_placeholder(field, self.kind), password=field.password, compact=True,
                     id=f"field-{field.key}", valid_empty=not field.required and not field.pair,
                     validators=validators or None, tooltip=f"{field.key} in the config file")

    def _check_pair(self, field: SourceField, text: str) -> str | None:
        """Both halves of a pair or neither (a client certificate and its key); the empty half is marked."""
        partner = next(iter(self.query(f"#field-{field.pair}").results(Input)), None)
        if not text.strip() and partner is not None and partner.value.strip():
            return TLS_PAIR_PROBLEM
        return None

    def on_mount(self) -> None:
        self._show_kind(self.kind)
        self.query_one("#field-kind" if self.old_name is None else "#field-name").focus()
        self._status(None)
        # Values that came from the file are checked at once: a bad one there is worth seeing before Save.
        for field in self._shown_fields():
            editor = self.query_one(f"#field-{field.key}")
            # A pair's empty half is checked too when editing: a certificate without its key is in the file.
            if isinstance(editor, Input) and (editor.value or (field.pair and self.old_name is not None)):
                self._touched.add(field.key)
                self._check_input(editor)

    def _check_name(self, text: str) -> str | None:
        return field_checks.check_source_name(text, self.taken)

    # ------------------------------------------------------------ reacting to typing

    @on(Select.Changed, "#field-kind")
    def _kind_changed(self, event: Select.Changed) -> None:
        new_kind = str(event.value)
        if new_kind == self.kind:
            return
        port = self.query_one("#field-port", Input)
        # Follow the protocol's usual port unless the technician typed another one.
        if port.value.strip() in ("", str(DEFAULT_PORTS[self.kind])):
            port.value = str(DEFAULT_PORTS[new_kind])
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
        plain, secure = str(DEFAULT_PORTS[self.kind]), str(TLS_PORT)
        if event.value == "true" and port.value.strip() == plain:
            port.value = secure
        elif event.value == "false" and port.value.strip() == secure:
            port.value = plain

    @on(Select.Changed, "#field-qos, #field-persistent_session, #field-timestamp_format")
    def _mqtt_choice_changed(self, _event: Select.Changed) -> None:
        self._check_choices()

    def _choice_problems(self) -> dict[str, str]:
        """The combinations of an mqtt source's drop-downs that the config reader refuses, by field."""
        if self.kind != "mqtt":
            return {}
        problems: dict[str, str] = {}
        qos = self.query_one("#field-qos", Select).value
        if qos == "0" and self.query_one("#field-persistent_session", Select).value == "true":
            problems["qos"] = ("must be 1 with persistent_session = true: a broker queues only QoS 1 messages "
                               "for a client that is away; set persistent_session = false for QoS 0")
        timestamp_format = self.query_one("#field-timestamp_format", Select).value
        if timestamp_format != "iso8601" and not self.query_one("#field-timestamp_path", Input).value.strip():
            problems["timestamp_format"] = ("needs timestamp_path (the JSON path of the time in each payload); "
                                            "without it the arrival time is used")
        return problems

    def _check_choices(self) -> dict[str, str]:
        problems = self._choice_problems()
        for key in ("qos", "timestamp_format"):
            self.query_one(f"#row-{key}", FormField).show_problem(problems.get(key))
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
            row = self.query_one(f"#row-{field.key}", FormField)
            row.display = kind in field.kinds
            editor = row.editor
            if isinstance(editor, Input):
                editor.placeholder = _placeholder(field, kind)

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        key = (event.input.id or "").removeprefix("field-")
        if event.input.has_focus:
            self._touched.add(key)
        self._show_result(key, event.validation_result)
        field = FIELDS_BY_KEY.get(key)
        if field is not None and field.pair and self.is_mounted:
            # Typing a certificate makes its empty key the mistake, and clearing it mends it.
            self._check_input(self.query_one(f"#field-{field.pair}", Input))
        if key == "timestamp_path" and self.is_mounted:
            self._check_choices()

    @on(Input.Blurred)
    def _input_left(self, event: Input.Blurred) -> None:
        # Leaving a required field empty is a mistake worth showing as soon as the cursor moves on.
        key = (event.input.id or "").removeprefix("field-")
        self._touched.add(key)
        self._check_input(event.input)

    @on(Input.Submitted)
    def _next_field(self, event: Input.Submitted) -> None:
        # Enter moves on, as on a paper form; Save is ctrl+s so a stray Enter never writes the file.
        event.stop()
        self.focus_next()

    def _check_input(self, editor: Input) -> str | None:
        key = (editor.id or "").removeprefix("field-")
        result = editor.validate(editor.value)
        self._show_result(key, result)
        return None if result is None or result.is_valid else _first_failure(result)

    def _show_result(self, key: str, result: ValidationResult | None) -> None:
        row = self.query_one(f"#row-{key}", FormField)
        if result is None or result.is_valid:
            row.show_problem(None)
        elif key in self._touched or self._save_tried:
            row.show_problem(_first_failure(result))

    def _status(self, problem: str | None) -> None:
        self.query_one("#form-status", Static).update(
            status_text(problem, "Tab/Enter next field · ctrl+s save · Esc cancel · F1 keys"))

    # ------------------------------------------------------------ saving

    def _shown_fields(self) -> list[SourceField]:
        return [field for field in SOURCE_FIELDS if self.kind in field.kinds]

    def action_save(self) -> None:
        self._save_tried = True
        name_input = self.query_one("#field-name", Input)
        problems: list[FormField] = []
        if self._check_input(name_input) is not None:
            problems.append(self.query_one("#row-name", FormField))
        wrong_choices = self._check_choices()
        for field in self._shown_fields():  # in the form's order, so the cursor goes to the first one shown
            editor = self.query_one(f"#field-{field.key}")
            if (isinstance(editor, Input) and self._check_input(editor) is not None) or field.key in wrong_choices:
                problems.append(self.query_one(f"#row-{field.key}", FormField))
        if problems:
            problems[0].editor.focus()
            count = len(problems)
            self._status(f"Not saved: fix the {count} field{'s' if count > 1 else ''} marked ✕ first.")
            return
        values = self._values()
        candidate = copy.deepcopy(self.document)
        try:
            candidate.upsert_source(values, old_name=self.old_name)
            candidate.validate()
        except ConfigError as exc:
            self._refuse(exc.key, f"{exc.key} = {exc.value!r}: {exc.expected}")
            return
        except ConfigEditError as exc:
            self._refuse("", str(exc))
            return
        self.dismiss(SourceFormResult(candidate, str(values["name"]), self.old_name))

    def _refuse(self, key: str, message: str) -> None:
        """Show the config reader's objection under the field it names, or in the status line."""
        field_key = key.rsplit(".", 1)[-1]
        if field_key in FIELDS_BY_KEY and self.kind in FIELDS_BY_KEY[field_key].kinds:
            row = self.query_one(f"#row-{field_key}", FormField)
            row.show_problem(message.split(": ", 1)[-1])
            row.editor.focus()
        self._status(f"Not saved: {message}")

    def _values(self) -> dict[str, Any]:
        """The [[sources]] table the form describes; None for keys to leave out (the reader's default applies)."""
        values: dict[str, Any] = {
            "name": self.query_one("#field-name", Input).value,
            "kind": self.kind,
        }
        for field in self._shown_fields():
            editor = self.query_one(f"#field-{field.key}")
            if isinstance(editor, Select):
                chosen = str(editor.value)
                # Do not add a key that only restates the default to someone's hand-written file.
                keep = field.key in self.original or chosen != field.default
                values[field.key] = _written(field, chosen) if keep else None
            elif isinstance(editor, Input):
                text = editor.value.strip() if not field.password else editor.value
                original = self.original.get(field.key)
                if isinstance(original, list) and text == _shown_value(field, original):
                    values[field.key] = original  # untouched: as written (a group id with a comma stays one)
                else:
                    values[field.key] = _written(field, text) if text else None
        if self.kind == "mqtt" and values.get("timestamp_path") is None and values.get("timestamp_format") == "iso8601":
            # A format without a path is refused by the reader and means nothing: the arrival time is used.
            values["timestamp_format"] = None
        same_kind = self.original.get("kind") == self.kind
        for key, value in self.original.items():
            # Same kind: what the form does not show (an OPC-UA source's unused host, a key a newer
            # oee knows) stays as the user wrote it. Another kind: the old kind's settings go.
            if key not in values:
                values[key] = value if same_kind else None
        for field in SOURCE_FIELDS:
            values.setdefault(field.key, None)
        return values

    def action_cancel(self) -> None:
        self.dismiss(None)


def _first_failure(result: ValidationResult) -> str:
    return next((text for text in result.failure_descriptions if text), "is not valid")


__all__ = ["FORM_GUARDS", "ConfirmScreen", "FieldValidator", "FormField", "SourceFormResult", "SourceFormScreen",
           "form_css", "status_text"]
