"""Picking the file to import: a path input that completes like a shell, and the folder's importable files."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import ClassVar, Final

from textual.binding import Binding, BindingType
from textual.suggester import Suggester
from textual.widgets import Input, OptionList

from oee_tui.imports.detect import XLSX_SUFFIXES

IMPORTABLE: Final = (".csv", *XLSX_SUFFIXES)


def list_candidates(typed: str, limit: int = 200) -> list[str]:
    """Folders and importable files that complete `typed`, as paths to put in the input (folders end in /).

    File work: call it from a thread.
    """
    expanded = os.path.expanduser(typed)
    folder, prefix = os.path.split(expanded)
    base = Path(folder) if folder else Path(".")
    try:
        entries = sorted(os.scandir(base), key=lambda entry: (not entry.is_dir(), entry.name.lower()))
    except OSError:
        return []
    found: list[str] = []
    for entry in entries:
        if not entry.name.lower().startswith(prefix.lower()) or (entry.name.startswith(".") and not prefix):
            continue
        try:
            is_dir = entry.is_dir()
        except OSError:
            continue
        if not is_dir and not entry.name.lower().endswith(IMPORTABLE):
            continue
        shown = os.path.join(typed[: len(typed) - len(prefix)], entry.name) if folder else entry.name
        found.append(shown + "/" if is_dir else shown)
        if len(found) >= limit:
            break
    return found


class PathSuggester(Suggester):
    """Completes a path to the first folder or importable file that starts with what was typed."""

    def __init__(self) -> None:
        # Paths are case-sensitive, and the folder changes under us: no casefolding, no cache.
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        candidates = await asyncio.to_thread(list_candidates, value, 1)
        return candidates[0] if candidates and candidates[0] != value else None


class PathInput(Input):
    """Tab takes the suggested completion, as a shell does; with nothing to complete it moves on.

    Down goes into the list of matching files under it (`files_id`).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "complete", "Complete", show=False, priority=True),
        Binding("down", "to_list", "Into the file list", show=False),
    ]

    def __init__(self, *, files_id: str, placeholder: str, id: str) -> None:
        super().__init__(placeholder=placeholder, suggester=PathSuggester(), id=id, compact=True)
        self.files_id = files_id

    def action_to_list(self) -> None:
        files = self.screen.query_one(f"#{self.files_id}", OptionList)
        if files.display:
            files.focus()

    def action_complete(self) -> None:
        # Looked up now rather than taken from the suggester: its answer comes from a worker, and after a
        # burst of keys it may still be the one for the text before the last letters typed.
        candidates = list_candidates(self.value, 1) if self.value else []
        suggestion = candidates[0] if candidates else None
        if suggestion and suggestion != self.value:
            self.value = suggestion
            self.cursor_position = len(self.value)
        else:
            self.screen.focus_next()
