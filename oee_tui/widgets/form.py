"""The kit the device forms are built from: a field declared once, its row, checks as typed, a status line.

A form (FormScreen) lays out its fields (Field: the key, label, check and the value its
text makes) as rows (FieldRow: the label, the text box or drop-down, and the problem
under it). A text box is checked on every keystroke with its field's check, one of
oee_tui.field_checks' or a form's own that reads the other fields. A problem shows
only under a field the person has touched, or under every field once Save was tried:
an empty form should not open covered in complaints. Save puts the cursor on the first
field marked, and the status line under the fields says why nothing was saved, or which
keys do what.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass
from typing import ClassVar, Final, TypeVar

from rich.text import Text
from textual import events, on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.validation import ValidationResult, Validator
from textual.widget import Widget
from textual.widgets import Footer, Input, Label, Select, Static

from oee_tui.field_checks import Check, check_required
from oee_tui.widgets.confirm_dialog import ConfirmScreen

ResultT = TypeVar("ResultT")

# On a form, a stray q (typed while a drop-down has the focus) must not quit the app and
# throw away what was typed: the form takes the key and says how to leave. Ctrl+Q still quits.
FORM_GUARDS: Final[tuple[Binding, ...]] = (
    Binding("q", "app.notify('Esc leaves the form; ctrl+q quits oee.')", show=False),
)


class FieldValidator(Validator):
    """Runs one check, so its words become the Input's failure description."""

    def __init__(self, check: Check) -> None:
        super().__init__()
        self.check = check

    def validate(self, value: str) -> ValidationResult:
        problem = self.check(value)
        return self.success() if problem is None else self.failure(problem)


@dataclass(frozen=True, slots=True)
class Field:
    """One setting on a form, declared once: its label, how it is edited and checked, the value it makes."""

    key: str  # names the row (#row-KEY) and its editor (#field-KEY)
    label: str
    check: Check | None = None  # as typed: None when the text is fine, else what is wrong
    required: bool = False  # an empty box is a mistake: `check`'s words for it, else "is required"
    choices: tuple[str, ...] = ()  # a drop-down of these instead of a text box
    choice_labels: tuple[str, ...] = ()  # what the drop-down shows for each of `choices`, if not the value
    hint: str = ""  # what an empty text box shows
    password: bool = False
    parse: Callable[[str], object] = str  # the value the text makes (a given text, already checked)

    @property
    def empty_checked(self) -> bool:
        """Whether the check runs on an empty box too (else empty is fine)."""
        return self.required

    def editor(self, text: str, *, hint: str | None = None, tooltip: str | None = None,
               check: Check | None = None) -> Input | Select[str]:
        """The text box showing `text`, or the drop-down with `text` chosen (one of `choices`). `check` stands
        in for the field's own (for a check that reads the form), and `hint` for its hint."""
        if self.choices:
            labels = self.choice_labels or self.choices
            return Select(list(zip(labels, self.choices, strict=True)), value=text, allow_blank=False,
                          compact=True, id=f"field-{self.key}", tooltip=tooltip)
        check = check or self.check or (check_required if self.required else None)
        return Input(text, placeholder=self.hint if hint is None else hint, password=self.password, compact=True,
                     id=f"field-{self.key}", valid_empty=not self.empty_checked,
                     validators=None if check is None else [FieldValidator(check)], tooltip=tooltip)


class FieldRow(Vertical):
    """A label, the widget that edits one field, and the problem with it (if any) underneath."""

    DEFAULT_CSS = """
    FieldRow {
        height: auto;
    }
    FieldRow > Horizontal {
        height: auto;
    }
    FieldRow > Horizontal > Label {
        width: 20;
        padding-right: 1;
        color: $text-muted;
    }
    /* Compact inputs have no border, so the focused field is marked on its label too:
       reverse video still shows on a monochrome or 16-colour terminal. */
    FieldRow:focus-within > Horizontal > Label {
        color: $foreground;
        text-style: bold reverse;
    }
    FieldRow > Horizontal > Input, FieldRow > Horizontal > Select {
        width: 1fr;
    }
    FieldRow > .field-error {
        display: none;
        padding-left: 20;
        color: $text-error;
    }
    FieldRow.-has-error > .field-error {
        display: block;
    }
    """

    def __init__(self, field: Field, editor: Widget) -> None:
        super().__init__(id=f"row-{field.key}")
        self.field = field
        self.editor = editor
        self.problem: str | None = None

    @property
    def key(self) -> str:
        return self.field.key

    @property
    def label(self) -> str:
        return self.field.label

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(self.field.label)
            yield self.editor
        yield Static("", classes="field-error", markup=False)

    def show_problem(self, problem: str | None) -> None:
        self.problem = problem
        # The cross is there for terminals and eyes that do not see the red.
        self.query_one(".field-error", Static).update("" if problem is None else f"✕ {problem}")
        self.set_class(problem is not None, "-has-error")


def fields_marked(count: int) -> str:
    """What Save asks to fix first: "the 3 fields marked ✕"."""
    return f"the {count} field{'s' if count > 1 else ''} marked ✕"


def _first_failure(result: ValidationResult) -> str:
    return next((text for text in result.failure_descriptions if text), "is not valid")


class FormScreen(Screen[ResultT]):
    """A title line, the form's rows (scrolling), a status line and the footer. Esc leaves with no answer,
    after asking when a field was changed.

    A form brings its title, its rows (`compose_fields`), its keys (Save among them) and what
    its status line says when nothing is wrong (`status_help`). Enter moves to the next field,
    as on a paper form: Save is a key of its own, so a stray Enter never saves.
    """

    DEFAULT_CSS = """
    FormScreen #form-title {
        height: 1;
        background: $panel;
        padding: 0 1;
        text-style: bold;
    }
    FormScreen #form-fields {
        height: 1fr;
        max-width: 110;  /* on a wide terminal the values stay near their labels */
        padding: 0 1;
    }
    FormScreen .form-section {
        margin-top: 1;
        color: $text-muted;
        text-style: bold;
    }
    FormScreen #form-status {
        height: auto;
        max-height: 4;
        padding: 0 1;
        background: $panel;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        *FORM_GUARDS,
        # A priority binding runs as the app takes the key, before the next key is handed on: the
        # Input's own Enter posts Submitted, which the form would see only after the keys typed behind it.
        Binding("enter", "next_field", "Next field", show=False, priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.touched: set[str] = set()
        self.save_tried = False
        self._as_opened: dict[str, object] = {}

    # ------------------------------------------------------------ what a form brings

    def form_title(self) -> str:
        return ""

    def compose_fields(self) -> ComposeResult:
        """The rows (and section headings) inside the scrolling part."""
        yield from ()

    def status_help(self) -> str:
        """What the status line says while there is nothing wrong."""
        return "Tab/Enter next field · ctrl+s save · Esc cancel"

    def field_changed(self, key: str) -> None:
        """A text box's text changed: recheck what else reads it."""

    # ------------------------------------------------------------ building

    def compose(self) -> ComposeResult:
        yield Static(self.form_title(), id="form-title", markup=False)
        with VerticalScroll(id="form-fields"):
            yield from self.compose_fields()
        yield Static("", id="form-status")
        yield Footer()

    # ------------------------------------------------------------ reading the fields

    def row(self, key: str) -> FieldRow:
        return self.query_one(f"#row-{key}", FieldRow)

    def text_of(self, key: str) -> str:
        """The text in a text box; "" while it is not mounted yet (a check that reads a sibling runs as soon
        as its own box mounts, and again once the sibling has)."""
        editor = next(iter(self.query(f"#field-{key}").results(Input)), None)
        return "" if editor is None else editor.value

    def choice_of(self, key: str) -> str | None:
        """The value chosen in a drop-down; None while it is blank or not mounted yet."""
        select = next(iter(self.query(f"#field-{key}").results(Select)), None)
        return None if select is None or select.value is Select.NULL else str(select.value)

    def value_of(self, key: str) -> object | None:
        """What the field holds, made by its parse; None for an empty box. A password is taken as typed,
        spaces and all; any other text without the spaces around it."""
        row = self.row(key)
        if isinstance(row.editor, Select):
            chosen = self.choice_of(key)
            return None if chosen is None else row.field.parse(chosen)
        text = self.text_of(key)
        text = text if row.field.password else text.strip()
        return row.field.parse(text) if text else None

    # ------------------------------------------------------------ checking

    def recheck(self, key: str) -> str | None:
        """Checks a text box's text now: the problem (shown if the field was touched or Save tried), or None."""
        editor = self.row(key).editor
        if not isinstance(editor, Input):
            return None
        result = editor.validate(editor.value)
        self._show_result(key, result)
        return None if result is None or result.is_valid else _first_failure(result)

    def check_now(self, key: str) -> str | None:
        """Marks the field touched and checks it, so a problem in it shows."""
        self.touched.add(key)
        return self.recheck(key)

    def check_filled(self, keys: Iterable[str]) -> None:
        """Checks every text box of `keys` that has text: a bad value from the file is worth seeing before Save."""
        for key in keys:
            if self.text_of(key):
                self.check_now(key)

    def _show_result(self, key: str, result: ValidationResult | None) -> None:
        row = self.row(key)
        if result is None or result.is_valid:
            row.show_problem(None)
        elif key in self.touched or self.save_tried:
            row.show_problem(_first_failure(result))

    @on(Input.Changed)
    def _text_changed(self, event: Input.Changed) -> None:
        key = (event.input.id or "").removeprefix("field-")
        if event.input.has_focus:
            self.touched.add(key)
        self._show_result(key, event.validation_result)
        self.field_changed(key)

    @on(Input.Blurred)
    def _text_left(self, event: Input.Blurred) -> None:
        # Leaving a required field empty is a mistake worth showing as soon as the cursor moves on.
        self.check_now((event.input.id or "").removeprefix("field-"))

    def action_next_field(self) -> None:
        """Enter in a text box moves to the next field; anywhere else (a drop-down) it does what it does there."""
        if not isinstance(self.focused, Input):
            raise SkipAction()
        self.focus_next()

    # ------------------------------------------------------------ saving

    def marked_on_save(self, keys: Iterable[str], wrong: Container[str] = ()) -> list[str]:
        """Checks the fields of `keys` for Save, in order, marking every problem, and says which have one:
        a text box whose check fails, or a field in `wrong` (a form's own check of its drop-downs)."""
        self.save_tried = True
        return [key for key in keys if self.recheck(key) is not None or key in wrong]

    def focus_field(self, key: str) -> None:
        self.row(key).editor.focus()

    def show_status(self, problem: str | None) -> None:
        """The status line: `problem`, marked with a cross; None: the form's help."""
        text = Text(self.status_help()) if problem is None else Text.assemble(("✕ ", "bold"), (problem, "bold"))
        self.query_one("#form-status", Static).update(text)

    def refuse(self, message: str, key: str | None = None) -> None:
        """Not saved, for `message` (the config reader's "KEY = VALUE: what is expected"): in the status
        line, and under the field `key` with the cursor on it, if the objection is to a field on the form."""
        if key is not None:
            row = self.row(key)
            row.show_problem(message.split(": ", 1)[-1])
            row.editor.focus()
        self.show_status(f"Not saved: {message}")

    @on(events.Mount)
    def _remember_as_opened(self, _event: events.Mount) -> None:
        self._as_opened = self.entries()

    def entries(self) -> dict[str, object]:
        """Every editor's text or choice, by its id: what Esc compares with the form as it opened."""
        return {widget.id or "": widget.value for widget in self.query("#form-fields Input, #form-fields Select")
                if isinstance(widget, Input | Select)}

    def edited(self) -> list[str]:
        """The labels of the fields whose text or choice differs from when the form opened."""
        now = self.entries()
        return [row.label for row in self.query(FieldRow)
                if now.get(f"field-{row.key}") != self._as_opened.get(f"field-{row.key}")]

    def action_cancel(self) -> None:
        """Esc: leaves at once when nothing was changed; else asks first, as the edits would be lost."""
        edited = self.edited()
        if not edited:
            self.dismiss(None)
            return
        fields = ", ".join(edited[:3]) + (f" and {len(edited) - 3} more" if len(edited) > 3 else "")
        question = f"Leave without saving? Your changes to {fields} are thrown away."

        def answered(leave: bool | None) -> None:
            if leave:
                self.dismiss(None)

        self.app.push_screen(ConfirmScreen(question), answered)


__all__ = ["FORM_GUARDS", "Field", "FieldRow", "FieldValidator", "FormScreen", "fields_marked"]
