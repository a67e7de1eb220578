"""`[alerts] on_alert`: a command run at every raise and clear (an andon light, a pager), with the alert in
its environment (`OEE_ALERT_*`) and a time limit.

The engine never waits for it: each run is a task of its own, at most RUNS_AT_ONCE at a time (a storm of
alerts queues rather than forking hundreds of processes). A run that fails, exits non-zero or outlives
`hook_timeout_s` (then it is killed, with its process group) is logged and kept as `problem`, which the
snapshot carries to the screens and `oee status`, until a run succeeds again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

from oee_tui.config import AlertSettings
from oee_tui.model import Alert, AlertEvent

log = logging.getLogger(__name__)

RUNS_AT_ONCE: Final = 4
STDERR_SHOWN: Final = 200  # characters of the command's stderr kept in the problem


def alert_environment(alert: Alert, event: AlertEvent, site: str) -> dict[str, str]:
    """The variables the hook gets besides the engine's own environment."""
    return {
        "OEE_ALERT_ID": str(alert.id),
        "OEE_ALERT_EVENT": event.action.value,  # raised or cleared
        "OEE_ALERT_RULE": alert.rule,
        "OEE_ALERT_KIND": alert.kind.value,
        "OEE_ALERT_SEVERITY": alert.severity.value,
        "OEE_ALERT_SUBJECT": alert.subject,
        "OEE_ALERT_MESSAGE": alert.message,
        "OEE_ALERT_RAISED_AT": _iso(alert.raised_at),
        "OEE_ALERT_CLEARED_AT": "" if alert.cleared_at is None else _iso(alert.cleared_at),
        "OEE_ALERT_TIME": _iso(event.ts),
        "OEE_ALERT_SITE": site,
    }


class AlertHook:
    """A listener of the engine's AlertMonitor; `settings` is read at each run, so a reload takes effect."""

    def __init__(self, settings: Callable[[], AlertSettings], site: Callable[[], str]) -> None:
        self.settings = settings
        self.site = site
        self.problem: str | None = None  # the newest failure, in words, until a run succeeds
        self.runs = 0
        self.failures = 0
        self._slots = asyncio.Semaphore(RUNS_AT_ONCE)
        self._tasks: set[asyncio.Task[None]] = set()

    def __call__(self, alert: Alert, event: AlertEvent) -> None:
        command = self.settings().on_alert
        if command is None:
            return
        task = asyncio.get_running_loop().create_task(self._run(command, alert, event), name=f"alert-hook:{alert.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait(self) -> None:
        """Until every run started so far has ended."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def finish(self) -> None:
        await self.wait()

    async def _run(self, command: str, alert: Alert, event: AlertEvent) -> None:
        timeout = self.settings().hook_timeout_s
        async with self._slots:
            started = time.monotonic()
            self.runs += 1
            try:
                process = await asyncio.create_subprocess_shell(
                    command, env={**os.environ, **alert_environment(alert, event, self.site())},
                    stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.PIPE, start_new_session=True)
            except OSError as exc:
                self._failed(alert, event, f"could not start: {exc}")
                return
            try:
                _, stderr = await asyncio.wait_for(process.communicate(), timeout)
            except TimeoutError:
                _kill(process)
                with contextlib.suppress(ProcessLookupError):
                    await process.wait()
                self._failed(alert, event, f"timed out after {timeout:g} s and was killed")
                return
            if process.returncode != 0:
                said = stderr.decode("utf-8", "replace").strip()[-STDERR_SHOWN:]
                self._failed(alert, event, f"exited with {process.returncode}" + (f": {said}" if said else ""))
                return
            log.debug("on_alert for alert %d (%s) ran in %.2f s", alert.id, event.action.value,
                      time.monotonic() - started)
            self.problem = None

    def _failed(self, alert: Alert, event: AlertEvent, why: str) -> None:
        self.failures += 1
        at = datetime.now().astimezone().strftime("%H:%M:%S")
        self.problem = f"on_alert for alert {alert.id} ({event.action.value}) {why} at {at}"
        log.warning("%s", self.problem)


def _kill(process: asyncio.subprocess.Process) -> None:
    """The shell and whatever it started: the command ran in a session (process group) of its own."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _iso(secs: float) -> str:
    return datetime.fromtimestamp(secs, UTC).isoformat()
