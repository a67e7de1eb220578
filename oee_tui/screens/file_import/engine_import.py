"""The import screen on a TUI attached to an engine: the file is checked here, against the planning data the
engine's store holds, and written there.

Checking stays in this process: the file is this user's to read, the progress bar follows the read, and a
preview of a 100,000-row file need not cross the socket. Only the stored planning data the check needs
comes from the engine (`EnginePlanning`, asked from the check's thread). The write sends the file's bytes,
the ones that were checked, to the engine's `import`, which checks them again, writes them in one
transaction, and makes the running plant use them; a refusal (the role, a problem the stored data now
raises) comes back in the engine's words.

Both block: call them from a thread worker.
"""

from __future__ import annotations

from typing import Any, Final

from oee_tui.imports.preview import ImportPreview
from oee_tui.model import PlanningRecords, Span
from oee_tui.model.access import Action, Role, allowed, minimum_role
from oee_tui.service.remote_engine import RemoteEngine
from oee_tui.store import WriteSummary

PROBLEMS_SAID: Final = 3  # the engine's first problems, in a notification; the screen's check lists them all


class ImportRefused(Exception):
    """The engine checked the file again and wrote nothing; in its words."""


class EnginePlanning:
    """The planning data the engine's store holds (a PlanningSource): what a file is checked against."""

    def __init__(self, engine: RemoteEngine) -> None:
        self.engine = engine

    def planning_records(self, window: Span | None = None) -> PlanningRecords:
        args: dict[str, Any] = {} if window is None else {"start": window.start, "end": window.end}
        records: PlanningRecords = self.engine.call_from_thread("planning", **args)
        return records


def role_refusal(engine: object) -> str | None:
    """Why this TUI's user may not import (their role in the engine they are attached to); None if they may."""
    if not isinstance(engine, RemoteEngine):
        return None  # the TUI that owns the store: whoever runs it may write it
    name = str(engine.hello.get("role", ""))
    role = Role.__members__.get(name.upper())
    if allowed(role, Action.IMPORT):
        return None
    needed = minimum_role(Action.IMPORT)
    return f"importing needs the {needed.name.lower() if needed else 'right'} role (you are {name or 'not attached'})"


def import_in_engine(engine: RemoteEngine, checked: ImportPreview, content: bytes) -> WriteSummary:
    """Write `content`, the checked file's bytes, in the engine; raises ImportRefused, or EngineRefused (the
    role) and EngineLost (not confirmed) as `RemoteEngine.call` does."""
    assert checked.kind is not None
    answer = engine.call_from_thread("import", kind=checked.kind, name=checked.path.name, shown_as=str(checked.path),
                                     content=content, sheet=checked.sheet)
    written = answer.get("written")
    if answer.get("exit") != 0 or not isinstance(written, dict):
        said = [text for stream, text in answer.get("lines", ()) if stream == "err"]
        problems, last = said[:-1], said[-1:] or ["the engine wrote nothing"]
        shown = problems[:PROBLEMS_SAID]
        more = f" (and {len(problems) - len(shown)} more)" if len(problems) > len(shown) else ""
        raise ImportRefused("; ".join([*shown, *last]) + more)
    return WriteSummary(str(written["kind"]), int(written["inserted"]), int(written["updated"]),
                        int(written["unchanged"]), int(written["removed"]))
