"""The form kit (oee_tui.widgets.form) on a small form of its own, driven by the keys a person presses.

The device forms' own tests (test_devices.py, test_source_form_mqtt.py) cover the kit
through them; these pin what every form gets from it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.notifications import Notification
from textual.widgets import Input, Select

from oee_tui import field_checks
from oee_tui.widgets.form import Field, FieldRow, FormScreen, fields_marked
from tests.support.pilot import settle
from tests.ui.test_devices import collect

HOST = Field("host", "Host", field_checks.check_host, required=True, hint="IP address or host name")
PORT = Field("port", "Port", field_checks.check_port, parse=int)
PASSWORD = Field("password", "Password", password=True)
MODE = Field("mode", "Mode", choices=("1", "0"), choice_labels=("1 — on", "0 — off"), parse=int)
FIELDS = (HOST, PORT, PASSWORD, MODE)


class PlainForm(FormScreen[dict[str, object] | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, port: str = "") -> None:
        super().__init__()
        self.port = port

    def form_title(self) -> str:
        return "A plain form"

    def compose_fields(self) -> ComposeResult:
        for field in FIELDS:
            yield FieldRow(field, field.editor(self.port if field is PORT else "1" if field is MODE else ""))

    def on_mount(self) -> None:
        self.show_status(None)
        self.focus_field("host")
        self.check_filled(field.key for field in FIELDS)

    def action_save(self) -> None:
        marked = self.marked_on_save(field.key for field in FIELDS)
        if marked:
            self.focus_field(marked[0])
            self.show_status(f"Not saved: fix {fields_marked(len(marked))}.")
            return
        self.dismiss({field.key: self.value_of(field.key) for field in FIELDS})


class FormApp(App[None]):
    def __init__(self, form: PlainForm) -> None:
        super().__init__()
        self.form = form
        self.answers: list[dict[str, object] | None] = []

    def on_mount(self) -> None:
        self.push_screen(self.form, self.answers.append)


def problem(form: PlainForm, key: str) -> str | None:
    return form.row(key).problem


def status(form: PlainForm) -> str:
    return str(form.query_one("#form-status").render())


async def test_a_new_form_opens_without_complaints_and_marks_a_field_once_touched() -> None:
    app = FormApp(PlainForm())
    async with app.run_test(size=(80, 24)) as pilot:
        form = app.form
        assert problem(form, "host") is None  # empty and required, but not touched yet
        assert status(form) == "Tab/Enter next field · ctrl+s save · Esc cancel"
        await pilot.press("enter")  # Enter moves on, as Tab does; leaving the host empty is the mistake now
        await pilot.pause()
        assert form.query_one("#field-port", Input).has_focus
        assert problem(form, "host") == "is required: the device's IP address or host name"
        await pilot.press(*"70000")
        await pilot.pause()
        assert problem(form, "port") == "70000 is out of range: must be from 1 to 65535"
        assert form.row("port").has_class("-has-error")
        await pilot.press("backspace")
        await pilot.pause()
        assert problem(form, "port") is None and not form.row("port").has_class("-has-error")


async def test_a_bad_value_the_form_opens_with_is_marked_at_once() -> None:
    app = FormApp(PlainForm(port="0"))
    async with app.run_test(size=(80, 24)):
        assert problem(app.form, "port") == "0 is out of range: must be from 1 to 65535"
        assert problem(app.form, "host") is None  # empty: not marked until touched or Save


async def test_save_marks_every_problem_and_puts_the_cursor_on_the_first() -> None:
    app = FormApp(PlainForm(port="x"))
    async with app.run_test(size=(80, 24)) as pilot:
        form = app.form
        form.focus_field("password")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.answers == [] and app.screen is form
        assert problem(form, "host") == "is required: the device's IP address or host name"
        assert problem(form, "port") == "must be a TCP port number from 1 to 65535"
        assert form.query_one("#field-host", Input).has_focus
        assert status(form) == "✕ Not saved: fix the 2 fields marked ✕."


async def test_values_are_made_by_each_fields_parse() -> None:
    app = FormApp(PlainForm(port="502"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(*"plc1", "tab", *" 5020 ", "tab")  # the port selects its text on focus: replaced
        await pilot.press(*" secret ")
        await pilot.press("ctrl+s")
        await settle(pilot)
    # A number from the text without its spaces, a password as typed, the drop-down's value made a number.
    assert app.answers == [{"host": "plc1", "port": 5020, "password": " secret ", "mode": 1}]


async def test_a_blank_box_has_no_value_and_esc_gives_no_answer() -> None:
    app = FormApp(PlainForm())
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.form.value_of("port") is None and app.form.value_of("password") is None
        await pilot.press("escape")
        await settle(pilot)
    assert app.answers == [None]


async def test_refuse_puts_the_readers_objection_under_its_field() -> None:
    app = FormApp(PlainForm(port="502"))
    async with app.run_test(size=(80, 24)) as pilot:
        form = app.form
        form.refuse("sources[plc1].port = 502: is taken by another source", "port")
        await pilot.pause()
        assert problem(form, "port") == "is taken by another source"
        assert form.query_one("#field-port", Input).has_focus
        assert status(form) == "✕ Not saved: sources[plc1].port = 502: is taken by another source"
        form.refuse("the file changed on disk")
        await pilot.pause()
        assert status(form) == "✕ Not saved: the file changed on disk"


async def test_q_on_a_drop_down_does_not_quit() -> None:
    notes: list[Notification] = []
    app = FormApp(PlainForm())
    async with app.run_test(size=(80, 24), message_hook=collect(notes)) as pilot:
        app.form.focus_field("mode")
        await pilot.pause()
        assert isinstance(app.focused, Select)
        await pilot.press("q")
        await pilot.pause()
        assert app.screen is app.form and app.return_code is None
        assert [note.message for note in notes] == ["Esc leaves the form; ctrl+q quits oee."]


async def test_the_editor_follows_the_declaration() -> None:
    async with FormApp(PlainForm()).run_test(size=(80, 24)):  # an Input is made inside a running app
        check_editors()


def check_editors() -> None:
    host = HOST.editor("")
    assert isinstance(host, Input) and not host.valid_empty and host.placeholder == "IP address or host name"
    port: Any = PORT.editor("502", hint="default 502", tooltip="port in the config file")
    assert isinstance(port, Input) and port.valid_empty and port.placeholder == "default 502"
    assert PASSWORD.editor("").password and PASSWORD.editor("").validators == []
    mode = MODE.editor("0")
    assert isinstance(mode, Select) and mode.id == "field-mode"
    assert fields_marked(1) == "the 1 field marked ✕" and fields_marked(3) == "the 3 fields marked ✕"
