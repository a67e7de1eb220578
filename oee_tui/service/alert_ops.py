"""Requests about alerts: list them, acknowledge one with a comment, shelve one for a while."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from oee_tui.model import Alert
from oee_tui.model.access import Action
from oee_tui.service.ops import Op, OpContext, OpError, number_arg, text_arg

MOST_LISTED: Final = 10_000


async def alerts(context: OpContext, args: Mapping[str, Any]) -> tuple[Alert, ...]:
    """The active alerts as the engine holds them now (shelved ones too); with `all`, the newest `limit`
    alerts of the store, cleared ones too, oldest first."""
    if args.get("all") is not True:
        return context.engine.snapshot().alerts
    limit = int(number_arg(args, "limit")) if args.get("limit") is not None else 100
    if not 1 <= limit <= MOST_LISTED:
        raise OpError("bad_request", f"limit must be from 1 to {MOST_LISTED:,}")
    store = context.store()
    return tuple(await context.in_thread(lambda: store.alerts(limit=limit)))


async def acknowledge_alert(context: OpContext, args: Mapping[str, Any]) -> Alert:
    """Stored with who and from where, its audit entry in the same transaction."""
    comment = text_arg(args, "comment", required=True) or ""
    try:
        return await context.engine.acknowledge_alert(_alert_id(args), comment, context.caller.who,
                                                      context.caller.origin)
    except KeyError as exc:
        raise OpError("not_found", str(exc.args[0]) if exc.args else str(exc)) from None
    except ValueError as exc:
        raise OpError("bad_request", str(exc)) from None


async def shelve_alert(context: OpContext, args: Mapping[str, Any]) -> Alert:
    until = number_arg(args, "until")
    try:
        return await context.engine.shelve_alert(_alert_id(args), until, context.caller.who, context.caller.origin)
    except KeyError as exc:
        raise OpError("not_found", str(exc.args[0]) if exc.args else str(exc)) from None


def _alert_id(args: Mapping[str, Any]) -> int:
    value = args.get("id")
    if isinstance(value, bool) or not isinstance(value, int):
        raise OpError("bad_request", "id must be a whole number")
    return value


OPS = (
    Op("alerts", Action.VIEW, "see alerts", alerts),
    Op("acknowledge_alert", Action.ACKNOWLEDGE, "acknowledge alerts", acknowledge_alert),
    Op("shelve_alert", Action.SHELVE, "shelve alerts", shelve_alert),
)
