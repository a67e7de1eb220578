"""F7: the audit trail, the changes people made, newest first, with a filter and the check of the hash chain.

The list comes from `store.audit_entries` in a thread worker, on open, on `r`, after a filter
(`f`: user, kind, time) and every `refresh_s` seconds; the table is rebuilt only when the list
changed, and the cursor stays on its entry. The detail pane shows the highlighted entry whole:
its values before and after, and its hashes. `v` checks the whole chain (`store.verify_audit`,
in a thread worker) and says the verdict above the list, every problem in the detail pane.
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

from oee_tui.dead_letter_text import local_time
from oee_tui.model import AuditEntry, AuditVerdict
from oee_tui.screens.audit_filter import AuditFilter, AuditFilterScreen
from oee_tui.screens.host import PlantScreen
from oee_tui.service.remote_engine import RemoteEngine
from oee_tui.store import Store

SHOWN: Final = 500  # the newest this many; `oee audit list --limit` reaches further back
REFRESH_S: Final = 5.0
VALUE_CHARS: Final = 24


@dataclass(frozen=True, slots=True)
class Loaded:
    entries: tuple[AuditEntry, ...]
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Checked:
    verdict: AuditVerdict | None
    error: str | None = None


def _short(value: str | None, width: int = VALUE_CHARS) -> str:
    if value is None:
        return "-"
    return value if len(value) <= width else value[:width - 1] + "…"


class AuditScreen(PlantScreen[None]):
    """The audit trail: a verdict line, a list, and the highlighted entry (or the chain's problems) below."""

    HELP_TITLE = "Audit trail"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "filter", "Filter", id="audit.filter", tooltip="Show only one user's, one kind's, or a time's"),
        Binding("v", "verify", "Verify", id="audit.verify",
                tooltip="Check the whole hash chain: every entry edited, removed, reordered or inserted is named"),
        Binding("r", "reload", "Refresh", id="audit.refresh", tooltip="Read the audit trail again now"),
        Binding("d", "focus_detail", "Detail", id="audit.detail",
                tooltip="Move to the detail pane to scroll it (Tab and Escape come back)"),
        Binding("escape,backspace", "back", "Back", id="audit.back",
                tooltip="Back to the list, or to the screen you came from"),
    ]
    DEFAULT_CSS = """
    AuditScreen #au-title, AuditScreen #au-verdict {
        height: 1;
        background: $panel;
        padding: 0 1;
    }
    AuditScreen #au-verdict.intact {
        color: $success;
    }
    AuditScreen #au-verdict.broken {
        color: $error;
        text-style: bold;
    }
    AuditScreen #au-table {
        height: 1fr;
        min-height: 5;
    }
    AuditScreen #au-detail {
        height: 1fr;
        min-height: 6;
        border-top: solid $primary;
        border-title-align: left;
        padding: 0 1;
    }
    AuditScreen #au-detail:focus {
        border-top: solid $accent;
    }
    """

    def __init__(self, *, refresh_s: float | None = REFRESH_S) -> None:
        super().__init__()
        self.refresh_s = refresh_s
        self.filter = AuditFilter()
        self.entries: dict[str, AuditEntry] = {}
        self.verdict: AuditVerdict | None = None
        self._order: tuple[str, ...] | None = None  # None until the first load

    @property
    def store(self) -> Store | None:
        engine = self.oee_app.engine
        return None if engine is None else engine.store

    @property
    def tz(self) -> ZoneInfo:
        engine = self.oee_app.engine
        return ZoneInfo("UTC") if engine is None else engine.config.tz

    def compose(self) -> ComposeResult:
        yield Static("Audit trail: loading…", id="au-title")
        yield Static("Chain not checked yet: v checks it", id="au-verdict")
        table: DataTable[str | Text] = DataTable(id="au-table", cursor_type="row", zebra_stripes=False)
        table.add_columns("Seq", "Time", "User", "Kind", "Subject", "Before", "After", "Origin")
        yield table
        with VerticalScroll(id="au-detail") as detail:
            detail.border_title = "Detail"
            detail.can_focus = True
            yield Static("", id="au-detail-text")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#au-table", DataTable).focus()
        self.load()
        if self.refresh_s is not None:
            self.set_interval(self.refresh_s, self.load, name="audit")

    # ------------------------------------------------------------ loading

    @work(thread=True, exclusive=True, exit_on_error=False, group="audit")
    def load(self) -> None:
        store, chosen = self.store, self.filter
        engine = self.oee_app.engine
        if isinstance(engine, RemoteEngine):  # the engine reads it (and checks that this role may)
            try:
                answer = engine.call_from_thread("audit_list", user=chosen.user or None, kind=chosen.kind or None,
                                               start=chosen.start, end=chosen.end, limit=SHOWN)
                result = Loaded(tuple(answer["entries"]))
            except Exception as exc:
                result = Loaded((), f"Cannot read the audit trail: {exc}")
        elif store is None:
            result = Loaded((), "This plant has no store, so there is no audit trail to show.")
        else:
            try:
                result = Loaded(tuple(store.audit_entries(user=chosen.user or None, kind=chosen.kind or None,
                                                          start=chosen.start, end=chosen.end, limit=SHOWN)))
            except Exception as exc:  # a closed store, a DuckDB error: said on the screen, not raised
                result = Loaded((), f"Cannot read the audit trail: {exc}")
        self.app.call_from_thread(self.show_entries, result)

    def action_reload(self) -> None:
        self.load()

    def show_entries(self, loaded: Loaded) -> None:
        if not self.is_mounted:
            return  # closed while the query ran
        keyed = {str(entry.seq): entry for entry in loaded.entries}
        order = tuple(keyed)
        title = self.query_one("#au-title", Static)
        if loaded.error is not None:
            title.update(Text(loaded.error))
        else:
            count = len(keyed)
            shown = f"the newest {count}" if count >= SHOWN else f"{count}"
            title.update(Text(f"Audit trail: {shown}, newest first; filter: {self.filter}"))
        if order == self._order:
            return
        selected = self._selected_key()
        self.entries, self._order = keyed, order
        table = self.query_one("#au-table", DataTable)
        table.clear()
        tz = self.tz
        for key, entry in keyed.items():
            table.add_row(Text(str(entry.seq), justify="right"), local_time(entry.ts, tz), _short(entry.user, 16),
                          entry.kind, _short(entry.subject, 32), _short(entry.before), _short(entry.after),
                          entry.origin, key=key)
        if selected in keyed:
            table.move_cursor(row=order.index(selected), animate=False)
        self._show_detail(self._selected_key())

    def _selected_key(self) -> str | None:
        if not self._order:
            return None
        row = self.query_one("#au-table", DataTable).cursor_row
        return self._order[row] if 0 <= row < len(self._order) else None

    @on(DataTable.RowHighlighted, "#au-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(event.row_key.value)

    def _show_detail(self, key: str | None) -> None:
        text = self.query_one("#au-detail-text", Static)
        entry = self.entries.get(key) if key is not None else None
        if entry is None:
            text.update(Text("No audit entries. Changes people make are listed here." if not self.entries else ""))
            return
        body = Text()
        body.append(f"seq {entry.seq}  {local_time(entry.ts, self.tz)}  {entry.user} from {entry.origin}\n",
                    style="bold")
        body.append(f"{entry.kind}: {entry.subject}\n")
        for label, value in (("Before: ", entry.before), ("After:  ", entry.after)):
            body.append(label, style="bold")
            body.append(("-" if value is None else value) + "\n")
        body.append("Hash:     ", style="bold")
        body.append(entry.hash + "\n")
        body.append("Previous: ", style="bold")
        body.append(entry.prev_hash)
        text.update(body)
        self.query_one("#au-detail", VerticalScroll).scroll_home(animate=False)

    # ------------------------------------------------------------ the chain's check

    def action_verify(self) -> None:
        verdict_line = self.query_one("#au-verdict", Static)
        verdict_line.set_classes("")
        verdict_line.update("Checking the whole chain…")
        self.verify()

    @work(thread=True, exclusive=True, exit_on_error=False, group="audit-verify")
    def verify(self) -> None:
        store = self.store
        engine = self.oee_app.engine
        if isinstance(engine, RemoteEngine):
            try:
                result = Checked(engine.call_from_thread("audit_verify"))
            except Exception as exc:
                result = Checked(None, f"Cannot check the chain: {exc}")
        elif store is None:
            result = Checked(None, "This plant has no store, so there is no chain to check.")
        else:
            try:
                result = Checked(store.verify_audit())
            except Exception as exc:
                result = Checked(None, f"Cannot check the chain: {exc}")
        self.app.call_from_thread(self.show_verdict, result)

    def show_verdict(self, checked: Checked) -> None:
        if not self.is_mounted:
            return
        line = self.query_one("#au-verdict", Static)
        verdict = self.verdict = checked.verdict
        if verdict is None:
            line.set_classes("broken")
            line.update(Text(checked.error or ""))
            return
        if verdict.ok:
            line.set_classes("intact")
            line.update(Text(f"✓ Chain intact: {verdict.checked:,} entries checked; head "
                             f"{verdict.head_entries}:{verdict.head_hash[:16]}…"))
            return
        count = len(verdict.problems) + verdict.more_problems
        line.set_classes("broken")
        first = verdict.problems[0]
        where = "the head" if first.seq is None else f"seq {first.seq}"
        line.update(Text(f"✗ CHAIN BROKEN: {count:,} problem{'s' if count != 1 else ''} in {verdict.checked:,} "
                         f"entries, the first at {where} (listed below)"))
        # Every problem in the detail pane, until the cursor moves to an entry.
        body = Text()
        body.append(f"The chain has {count:,} problem{'s' if count != 1 else ''}:\n", style="bold")
        for problem in verdict.problems:
            body.append(f"{problem}\n")
        if verdict.more_problems:
            body.append(f"and {verdict.more_problems:,} more (oee audit verify lists them too)\n")
        self.query_one("#au-detail-text", Static).update(body)

    # ------------------------------------------------------------ keys

    def action_filter(self) -> None:
        def chosen(new: AuditFilter | None) -> None:
            if new is not None:
                self.filter = new
                self.load()

        self.app.push_screen(AuditFilterScreen(self.filter, self.tz, self.oee_app.clock), chosen)

    def action_focus_detail(self) -> None:
        self.query_one("#au-detail", VerticalScroll).focus()

    def action_back(self) -> None:
        detail = self.query_one("#au-detail", VerticalScroll)
        if detail.has_focus:
            self.query_one("#au-table", DataTable).focus()
            return
        self.dismiss()
