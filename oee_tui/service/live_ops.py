"""Requests about the live plant: the snapshots, a machine's shift, stop reasons, and the engine's status."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping
from typing import Any, Final

import tomlkit

from oee_tui.model import MachineDetail, PlanningRecords, PlantSnapshot, Span
from oee_tui.model.access import Action
from oee_tui.service.ops import Op, OpContext, OpError, number_arg, text_arg

SECRET_KEYS: Final = frozenset({"password"})  # a `*_env` or `*_file` key names where a secret is, not the secret


async def subscribe(context: OpContext, args: Mapping[str, Any]) -> None:
    """From now on, this client gets every new snapshot pushed (the first one whole)."""
    context.session.subscribed = True


async def snapshot(context: OpContext, args: Mapping[str, Any]) -> PlantSnapshot:
    return context.engine.snapshot()


async def machine_detail(context: OpContext, args: Mapping[str, Any]) -> MachineDetail:
    machine = text_arg(args, "machine", required=True)
    try:
        return await context.engine.machine_detail(machine or "")
    except KeyError:
        raise OpError("not_found", f"no machine {machine!r} in this plant") from None


async def set_stop_reason(context: OpContext, args: Mapping[str, Any]) -> None:
    """The reason is stored with who gave it and from where, its audit entry in the same transaction."""
    machine = text_arg(args, "machine", required=True) or ""
    reason = text_arg(args, "reason", required=True) or ""
    stop_start = number_arg(args, "stop_start")
    try:
        await context.engine.set_stop_reason(machine, stop_start, reason, context.caller.who, context.caller.origin)
    except KeyError as exc:
        raise OpError("not_found", str(exc.args[0]) if exc.args else str(exc)) from None
    except ValueError as exc:
        raise OpError("bad_request", str(exc)) from None


async def status(context: OpContext, args: Mapping[str, Any]) -> dict[str, Any]:
    """`oee status`: the engine, its sources' health, the store (size, what waits), who is attached."""
    server = context.server
    plant = context.engine.snapshot()
    store = context.engine.store
    size = 0
    if store is not None:
        for name in (store.DB_FILENAME, store.DB_FILENAME + ".wal"):
            with contextlib.suppress(FileNotFoundError):
                size += os.stat(server.data_dir / name).st_size
    health = plant.store
    now = time.time()
    return {
        "pid": os.getpid(), "site": context.config.site.name, "since": server.started, "now": now,
        "data_dir": str(server.data_dir), "socket": str(server.path),
        "sources": plant.sources, "machines": len(plant.machines), "store": health,
        "flush_lag_s": None if health.unsaved_since is None else max(0.0, now - health.unsaved_since),
        "store_bytes": size, "sync": plant.sync,
        "attached": [session.describe() for session in server.sessions],
    }


async def planning(context: OpContext, args: Mapping[str, Any]) -> PlanningRecords:
    """The imported planning data the engine runs on, for an attached TUI's calendar, review and import checks;
    with `start` and `end`, only the orders and planned stops that overlap that window."""
    store = context.engine.store
    if store is None:
        return PlanningRecords()
    window = None if args.get("start") is None else Span(number_arg(args, "start"), number_arg(args, "end"))
    return await context.in_thread(store.planning_records, window)


async def config_text(context: OpContext, args: Mapping[str, Any]) -> dict[str, Any]:
    """The config the engine runs on, for an attached TUI to show the same plant: the file's text without
    its secrets and without [access] (PIN hashes), so that a user who may not read the file still sees
    machine names, reasons and shifts; None for a plant built in code (the demo)."""
    path = context.server.config_path
    if path is None:  # the demo's devices are built in code: their text, read-only on the Devices screen
        return {"path": None, "text": None, "built_in": getattr(context.engine, "built_in_config_text", None)}
    text = await context.in_thread(path.read_text, "utf-8")
    return {"path": str(path), "text": without_secrets(text)}


def without_secrets(text: str) -> str:
    document = tomlkit.parse(text)
    document.pop("access", None)
    _drop_passwords(document)
    return tomlkit.dumps(document)


def _drop_passwords(table: Any) -> None:
    if isinstance(table, dict):
        for key in [key for key in table if str(key) in SECRET_KEYS]:
            del table[key]
        for value in table.values():
            _drop_passwords(value)
    elif isinstance(table, list):
        for item in table:
            _drop_passwords(item)


OPS = (
    Op("subscribe", Action.VIEW, "watch the live plant", subscribe),
    Op("snapshot", Action.VIEW, "see the live plant", snapshot),
    Op("machine_detail", Action.VIEW, "see a machine's shift", machine_detail),
    Op("set_stop_reason", Action.STOP_REASON, "give stop reasons", set_stop_reason),
    Op("status", Action.VIEW, "see the engine's status", status),
    Op("planning", Action.VIEW, "see the planning data", planning),
    Op("config", Action.VIEW, "see the plant's config", config_text),
)
