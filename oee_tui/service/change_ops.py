"""Requests that change the plant: imports, the config, the store's backups. Each is audited."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import tomlkit

from oee_tui.config import ConfigError
from oee_tui.config.edit import ConfigDocument, ConfigEditError, config_diff
from oee_tui.drivers.registry import KINDS, load_config
from oee_tui.imports.columns import KINDS as IMPORT_KINDS
from oee_tui.imports.file_import import NoGuard, check_and_write
from oee_tui.model.access import Action
from oee_tui.service.ops import Op, OpContext, OpError, text_arg
from oee_tui.store import PlanningError, StoreWriteError


class _Said:
    """The lines an import says, kept to send back to the command that asked."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def say(self, text: str) -> None:
        self.lines.append(("out", text))

    def warn(self, text: str) -> None:
        self.lines.append(("err", text))

    def rows(self, rows: Sequence[Sequence[str]]) -> None:
        if not rows:
            return
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            self.say("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


async def import_file(context: OpContext, args: Mapping[str, Any]) -> dict[str, Any]:
    """An import sent as the file's bytes: checked and written here, as `oee import` does on its own,
    then the running plant takes it (shifts, schedule, cycle times) without a restart."""
    kind = text_arg(args, "kind", required=True) or ""
    if kind not in IMPORT_KINDS:
        raise OpError("bad_request", f"kind must be one of {', '.join(IMPORT_KINDS)}")
    name = Path(text_arg(args, "name", required=True) or "").name
    content = args.get("content")
    if not name or not isinstance(content, bytes):
        raise OpError("bad_request", "an import needs the file's name and its bytes")
    day_first = args.get("day_first")
    if day_first is not None and not isinstance(day_first, bool):
        raise OpError("bad_request", "day_first must be true, false or absent")
    shown_as = text_arg(args, "shown_as") or name
    dry_run = bool(args.get("dry_run"))
    store = context.store()
    folder = Path(tempfile.mkdtemp(prefix=".import-", dir=context.data_dir))
    said = _Said()
    try:
        path = folder / name
        path.write_bytes(content)
        try:
            code, summary = await context.in_thread(lambda: check_and_write(
                path, kind, context.config, context.data_dir, store, sheet=text_arg(args, "sheet"),
                day_first=day_first, dry_run=dry_run, imported_by=context.caller.who, origin=context.caller.origin,
                out=said, guard=NoGuard(), shown_as=shown_as))
        except PlanningError as exc:
            raise OpError("bad_request", f"{shown_as} cannot be checked: {exc}") from None
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(folder)
    # The write's audit entry went into its own transaction (imports/write.py), by this caller, from where.
    if summary is not None and summary.changed:
        await context.engine.reload_planning()
    written = None if summary is None else {"kind": summary.kind, "inserted": summary.inserted,
                                            "updated": summary.updated, "unchanged": summary.unchanged,
                                            "removed": summary.removed}
    return {"exit": code, "lines": said.lines, "written": written}


async def store_backup(context: OpContext, args: Mapping[str, Any]) -> dict[str, Any]:
    """A backup now, to `[store] backup_dir` (or the folder given, as the engine's user can write it)."""
    store = context.store()
    settings = context.config.store
    folder = text_arg(args, "to")
    target = Path(folder) if folder else settings.backup_path(store.data_dir)
    try:
        path = await context.in_thread(store.backup, target, settings.backup_keep)
    except StoreWriteError as exc:
        raise OpError("failed", str(exc)) from None
    size = path.stat().st_size
    await context.audit("store", "backup", None, {"file": str(path), "bytes": size})
    return {"path": str(path), "bytes": size, "db": str(store.data_dir / store.DB_FILENAME)}


async def save_config(context: OpContext, args: Mapping[str, Any]) -> dict[str, Any]:
    """A config edited on an attached TUI's device screens: saved here, by the engine's user (who owns
    the file), only if the file still holds what the TUI opened; then the engine runs on it."""
    path = _config_path(context)
    original = text_arg(args, "original", required=True) or ""
    text = text_arg(args, "text", required=True) or ""
    try:
        document = ConfigDocument(path, original, KINDS).with_text(text)
        config = await context.in_thread(document.save)
    except (ConfigError, ConfigEditError, OSError, tomlkit.exceptions.ParseError) as exc:
        raise OpError("bad_request", f"not saved: {exc}") from None
    await context.audit("config", str(path), None, {"diff": config_diff(original, text)})
    summary = await context.engine.reload(config)
    return _reload_said(summary)


async def reload_config(context: OpContext, args: Mapping[str, Any]) -> dict[str, Any]:
    """Read the config file again and run on it (after it was edited by hand)."""
    path = _config_path(context)
    before = context.config
    try:
        config = await context.in_thread(load_config, path)
    except (ConfigError, OSError) as exc:
        raise OpError("bad_request", f"the engine keeps running on the previous config: {exc}") from None
    summary = await context.engine.reload(config)
    await context.audit("config", str(path), {"sources": len(before.sources), "machines": len(before.machines)},
                        {"reloaded": True, **_reload_said(summary)})
    return _reload_said(summary)


def _config_path(context: OpContext) -> Path:
    path = context.server.config_path
    if path is None:
        raise OpError("bad_request", "this engine's plant is not read from a file (the demo): nothing to save")
    return path


def _reload_said(summary: object) -> dict[str, Any]:
    return {"sources_restarted": list(getattr(summary, "sources_restarted", ()) or ()),
            "machines_removed": list(getattr(summary, "machines_removed", ()) or ())}


OPS = (
    Op("import", Action.IMPORT, "import planning data", import_file),
    Op("store_backup", Action.STORE_ADMIN, "back up the store", store_backup),
    Op("save_config", Action.DEVICES, "change devices and tag maps", save_config),
    Op("reload_config", Action.CONFIG_RELOAD, "reload the config", reload_config),
)
