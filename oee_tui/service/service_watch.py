"""What a running engine shows the outside while it serves: systemd's readiness, status and watchdog
(sd_notify.py) and the metrics endpoint (metrics.py). One `async with watched_service(...)` around the
engine's run, entered once everything it offers is up and left before it stops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Final

from oee_tui.config import ServiceSettings
from oee_tui.engine.live.engine import Engine
from oee_tui.runtime import DemoEngine
from oee_tui.service.metrics import MetricsEndpoint, MetricsUnavailableError, start_metrics
from oee_tui.service.sd_notify import SystemdNotifier

log = logging.getLogger(__name__)

STATUS_EVERY_S: Final = 1.0  # how often the status line is brought up to date (sent only when it changes)


@contextlib.asynccontextmanager
async def watched_service(engine: Engine | DemoEngine, settings: ServiceSettings,
                          notifier: SystemdNotifier | None = None) -> AsyncIterator[MetricsEndpoint | None]:
    """Start the metrics endpoint (when `[service] metrics_listen` is set), tell systemd READY=1, then keep
    its status line current and its watchdog fed until the block ends; then STOPPING=1. Yields the endpoint.

    Enter it on the engine's loop once the engine has started and the socket listens: READY=1 goes out on
    entering. A metrics port that cannot be had is logged and the engine runs on without it: acquisition
    matters more than its figures."""
    notifier = notifier or SystemdNotifier()
    try:
        endpoint = start_metrics(engine, settings)
    except MetricsUnavailableError as exc:
        log.error("%s; running without metrics", exc)
        endpoint = None
    live = engine.engine if isinstance(engine, DemoEngine) else engine
    heartbeat = asyncio.create_task(_heartbeat(live, notifier), name="service:heartbeat")
    notifier.ready(status_line(live))
    try:
        yield endpoint
    finally:
        notifier.stopping("stopping: flushing the store")
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
        if endpoint is not None:
            await asyncio.to_thread(endpoint.close)
        notifier.close()


async def _heartbeat(engine: Engine, notifier: SystemdNotifier) -> None:
    """A task on the engine's own loop: while the loop runs, the watchdog is fed at half WatchdogSec. A loop
    that stalls (a blocking call, a deadlock) stops feeding it, and systemd restarts the service."""
    if not notifier.enabled:
        return
    watchdog_s = notifier.watchdog_interval_s
    step = STATUS_EVERY_S if watchdog_s is None else min(STATUS_EVERY_S, watchdog_s)
    said = ""
    fed = 0.0
    while True:
        now = time.monotonic()
        if watchdog_s is not None and now - fed >= watchdog_s - 0.01:
            notifier.watchdog()
            fed = now
        status = status_line(engine)
        if status != said:
            notifier.status(status)
            said = status
        await asyncio.sleep(step)


def status_line(engine: Engine) -> str:
    """What `systemctl status oee-engine` shows: '12 machines, 3/4 sources online; store: all saved'. From the
    runners and the writer, not a snapshot: building one costs every machine's OEE, which a headless engine
    otherwise never computes."""
    online = sum(runner.online for runner in engine.runners)
    store = engine.store_health
    if store.failing:
        saved = f"store: writes failing ({store.last_error}), {store.unsaved_text()} waiting"
    else:
        saved = "store: all saved"
    return f"{len(engine.machines)} machines, {online}/{len(engine.runners)} sources online; {saved}"
