"""Requests about the live plant: the snapshots, a machine's shift, stop reasons, and the engine's status."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from oee_tui.model import MachineDetail, PlanningRecords, PlantSnapshot, Span
from oee_tui.model.access import Action
from oee_tui.service.ops import Op, OpContext, OpError, number_arg, text_arg


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
    machine = text_arg(args, "machine", required=True) or ""
    reason = text_arg(args, "reason", required=True) or ""
    stop_start = number_arg(args, "stop_start")
    before = await _reason_now(context, machine, stop_start)
    try:
        await context.engine.set_stop_reason(machine, stop_start, reason, context.caller.who)
    except KeyError as exc:
        raise OpError("not_found", str(exc.args[0]) if exc.args else str(exc)) from None
    except ValueError as exc:
        raise OpError("bad_request", str(exc)) from None
    subject = f"{machine}@{datetime.fromtimestamp(stop_start, UTC).isoformat()}"
    await context.audit("stop_reason", subject, before, reason)


async def _reason_now(context: OpContext, machine: str, stop_start: float) -> str | None:
    """The stop's reason before this change (the audit's 'before'); None when it had none, or is not live."""
    try:
        detail = await context.engine.machine_detail(machine)
    except KeyError:
        return None
    for interval in (*detail.stops, *detail.intervals):
        if abs(interval.start - stop_start) < 1e-6:
            return interval.reason
    return None


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
        "store_bytes": size,
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


OPS = (
    Op("subscribe", Action.VIEW, "watch the live plant", subscribe),
    Op("snapshot", Action.VIEW, "see the live plant", snapshot),
    Op("machine_detail", Action.VIEW, "see a machine's shift", machine_detail),
    Op("set_stop_reason", Action.STOP_REASON, "give stop reasons", set_stop_reason),
    Op("status", Action.VIEW, "see the engine's status", status),
    Op("planning", Action.VIEW, "see the planning data", planning),
)
