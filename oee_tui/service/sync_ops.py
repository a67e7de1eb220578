"""Requests about the central sync: push now (`oee sync` while an engine serves the store) and how far
behind the centre is (`oee sync --status`)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from oee_tui.model.access import Action
from oee_tui.service.ops import Op, OpContext, OpError

NO_CENTRAL = "this engine's config has no [central] section: nothing to sync"


async def sync_now(context: OpContext, args: Mapping[str, Any]) -> dict[str, Any]:
    """One round now, in the engine's process (only it may open the store; its environment holds the
    central password), on a connection of its own beside the background sync: the two take turns per
    table through the centre's advisory locks and watermarks, so nothing is sent twice."""
    from oee_tui.central.sync import SyncError, sync_once

    settings = context.config.central
    if settings is None:
        raise OpError("bad_request", NO_CENTRAL)
    store = context.store()
    try:
        report = await context.in_thread(sync_once, store, context.config, settings)
    except SyncError as exc:
        raise OpError("failed", str(exc)) from None
    return {"rows": report.rows, "seconds": report.seconds, "upto": report.upto}


async def sync_status(context: OpContext, args: Mapping[str, Any]) -> dict[str, Any]:
    from oee_tui.central.sync_status import table_lags

    settings = context.config.central
    if settings is None:
        raise OpError("bad_request", NO_CENTRAL)
    store = context.store()
    lags = await context.in_thread(table_lags, store, time.time())
    outcome = store.sync_outcome()
    return {"target": settings.url or "the PG* variables", "edge_id": settings.edge_id, "site": settings.site,
            "tables": [asdict(lag) for lag in lags], "outcome": asdict(outcome)}


OPS = (
    Op("sync_now", Action.SYNC, "push the store to the central database", sync_now),
    Op("sync_status", Action.VIEW, "see the central sync's state", sync_status),
)
