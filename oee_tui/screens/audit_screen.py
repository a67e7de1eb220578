"""F7: the audit trail, the changes people made, newest first, with a filter and the check of the hash chain.

The list comes from `store.audit_entries` (on a TUI attached to an engine, from the engine, which checks
that the role may read it), as every record list reads (`record_list.py`), and again after a filter
(`f`: user, kind, time). The detail pane shows the highlighted entry whole:
its values before and after, and its hashes. `v` checks the whole chain (`store.verify_audit`,
in a thread worker) and says the verdict above the list, every problem in the detail pane.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Final

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from oee_tui.dead_letter_text import local_time
from oee_tui.model import AuditEntry, AuditVerdict
from oee_tui.screens.audit_filter import AuditFilter, AuditFilterScreen
from oee_tui.screens.record_list import REFRESH_S, RecordListScreen
from oee_tui.service.remote_engine import RemoteEngine

SHOWN: Final = 500  # the newest this many; `oee audit list --limit` reaches further back
VALUE_CHARS: Final = 24


@dataclass(frozen=True, slots=True)
class Checked:
    verdict: AuditVerdict | None
    error: str | None = None


def _short(value: str | None, width: int = VALUE_CHARS) -> str:
    if value is None:
        return "-"
    return value if len(value) <= width else value[:width - 1] + "…"


class AuditScreen(RecordListScreen[AuditEntry]):
    """The audit trail: a verdict line, a list, and the highlighted entry (or the chain's problems) below."""

    HELP_TITLE = "Audit trail"
    ID_PREFIX = "au"
    COLUMNS = ("Seq", "Time", "User", "Kind", "Subject", "Before", "After", "Origin")
    NOUN = "the audit trail"
    NONE_YET = "No audit entries. Changes people make are listed here."
    NO_STORE = "This plant has no store, so there is no audit trail to show."
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
    AuditScreen #au-verdict {
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
    """

    def __init__(self, *, refresh_s: float | None = REFRESH_S) -> None:
        super().__init__(refresh_s=refresh_s)
        self.filter = AuditFilter()
        self.verdict: AuditVerdict | None = None

    def compose_above_list(self) -> ComposeResult:
        yield Static("Chain not checked yet: v checks it", id="au-verdict")

    # ------------------------------------------------------------ the list

    def read(self) -> Sequence[AuditEntry] | None:
        chosen = self.filter
        engine = self.oee_app.engine
        if isinstance(engine, RemoteEngine):  # the engine reads it (and checks that this role may)
            answer = engine.call_from_thread("audit_list", user=chosen.user or None, kind=chosen.kind or None,
                                             start=chosen.start, end=chosen.end, limit=SHOWN)
            return tuple(answer["entries"])
        store = None if engine is None else engine.store
        if store is None:
            return None
        return tuple(store.audit_entries(user=chosen.user or None, kind=chosen.kind or None, start=chosen.start,
                                         end=chosen.end, limit=SHOWN))

    def heading(self, count: int) -> str:
        shown = f"the newest {count}" if count >= SHOWN else f"{count}"
        return f"Audit trail: {shown}, newest first; filter: {self.filter}"

    def key_of(self, index_from_oldest: int, record: AuditEntry) -> str:
        return str(record.seq)

    def cells(self, record: AuditEntry) -> tuple[str | Text, ...]:
        return (Text(str(record.seq), justify="right"), local_time(record.ts, self.tz), _short(record.user, 16),
                record.kind, _short(record.subject, 32), _short(record.before), _short(record.after), record.origin)

    def detail(self, record: AuditEntry) -> Text:
        body = Text()
        body.append(f"seq {record.seq}  {local_time(record.ts, self.tz)}  {record.user} from {record.origin}\n",
                    style="bold")
        body.append(f"{record.kind}: {record.subject}\n")
        for label, value in (("Before: ", record.before), ("After:  ", record.after)):
            body.append(label, style="bold")
            body.append(("-" if value is None else value) + "\n")
        body.append("Hash:     ", style="bold")
        body.append(record.hash + "\n")
        body.append("Previous: ", style="bold")
        body.append(record.prev_hash)
        return body

    # ------------------------------------------------------------ the chain's check

    def action_verify(self) -> None:
        verdict_line = self.query_one("#au-verdict", Static)
        verdict_line.set_classes("")
        verdict_line.update("Checking the whole chain…")
        self.verify()

    @work(thread=True, exclusive=True, exit_on_error=False, group="audit-verify")
    def verify(self) -> None:
        engine = self.oee_app.engine
        store = None if engine is None else engine.store
        try:
            if isinstance(engine, RemoteEngine):
                result = Checked(engine.call_from_thread("audit_verify"))
            elif store is None:
                result = Checked(None, "This plant has no store, so there is no chain to check.")
            else:
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
