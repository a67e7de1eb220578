"""The engine's alerts: the rules checked at every tick, each alert raised once while its condition holds
and cleared when it ends, people's acknowledgements and shelving, and their way into the store.

The engine owns one AlertMonitor: it calls `check` after each tick with what it holds in memory and
hands over how to reach the store (`start`). Raises and clears are saved in the background, in order,
and kept for the next try when the store refuses them; an acknowledgement or a shelving returns only
once it is durable, with its audit entry, in the same transaction as whatever waited before it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Final, Protocol

from oee_tui.alerts.conditions import LatestValue, PlantNow, ScrapWindows, findings, sparkplug_groups
from oee_tui.config import AlertRule, AlertSettings, Config
from oee_tui.model import Alert, AlertAction, AlertEvent, AlertKind, AuditChange, PlantSnapshot

log = logging.getLogger(__name__)

RETRY_S: Final = 10.0  # how soon raises and clears the store refused are tried again

AlertUpdate = tuple[Alert, AlertEvent]  # an alert as it is after the event
SaveAlerts = Callable[[Sequence[AlertUpdate], Sequence[AuditChange]], Awaitable[None]]
LoadAlerts = Callable[[], Awaitable[tuple[list[Alert], int]]]  # the active alerts, and the highest id ever


class AlertListener(Protocol):
    """What reacts to raises and clears outside the engine (the hook, MQTT): told of each on the event loop,
    it must not wait; `problem` says, in words, what went wrong with the newest try (None: nothing)."""

    problem: str | None

    def __call__(self, alert: Alert, event: AlertEvent) -> None: ...

    async def finish(self) -> None:
        """At the engine's stop: until what was started for the raises and clears so far has ended."""
        ...


class AlertMonitor:
    def __init__(self, config: Config) -> None:
        self.settings: AlertSettings = config.alerts
        self._target_oee = config.targets.oee
        self._sparkplug_sources = {source.name for source in config.sources if source.kind == "sparkplug"}
        self._active: dict[tuple[str, str], Alert] = {}  # (rule id, subject) -> its active alert
        self._pending: dict[tuple[str, str], float] = {}  # found but not yet for the rule's for_s: since when
        self._scrap = ScrapWindows()
        self._scrap_rules = False
        self._groups_for: object = None  # the routes the Sparkplug groups were built from
        self._groups: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {}
        self._next_id = 1
        self._unsaved: list[AlertUpdate] = []
        self._save: SaveAlerts | None = None
        self._writing = asyncio.Lock()
        self._save_task: asyncio.Task[None] | None = None
        self._retry_at = 0.0  # the event loop's time when changes the store refused are tried again
        self.active: tuple[Alert, ...] = ()  # the snapshot's, oldest first; a new tuple only when it changed
        self.listeners: list[AlertListener] = []  # the hook, MQTT: told of every raise and clear
        self._rules_changed()

    @property
    def has_rules(self) -> bool:
        return bool(self.settings.rules)

    def reload(self, config: Config) -> None:
        """A changed config: alerts of rules that are gone (or changed kind) clear at the next check."""
        self.settings = config.alerts
        self._target_oee = config.targets.oee
        self._sparkplug_sources = {source.name for source in config.sources if source.kind == "sparkplug"}
        self._groups_for = None
        self._rules_changed()

    def _rules_changed(self) -> None:
        scrap = [rule.window_min * 60.0 for rule in self.settings.rules if rule.kind is AlertKind.SCRAP_RATE]
        self._scrap_rules = bool(scrap)
        self._scrap.span_s = max(scrap, default=0.0)

    async def start(self, load: LoadAlerts | None, save: SaveAlerts | None) -> None:
        """Take up the alerts a previous run left active (cleared at the first check if their condition
        no longer holds) and number new ones after every stored one."""
        self._save = save
        if load is None:
            return
        active, highest = await load()
        self._next_id = highest + 1
        for alert in active:
            self._active[(alert.rule, alert.subject)] = alert
        self._publish()

    # ------------------------------------------------------------ the check at every tick

    def check(self, snapshot: PlantSnapshot, latest: Mapping[tuple[str, str], LatestValue], now: float) -> list[
            AlertUpdate]:
        """Evaluate every rule against the plant now; raise what newly holds (for its rule's for_s), clear
        what no longer does. Returns the raises and clears, which are also saved and told to the listeners."""
        if not self.settings.rules and not self._active:
            return []
        machines = {machine.machine: machine for machine in snapshot.machines}
        if self._scrap_rules:
            for machine in snapshot.machines:
                self._scrap.add(machine, now)
            self._scrap.keep_only(machines)
        if self._groups_for is not latest:
            self._groups_for = latest
            self._groups = sparkplug_groups(latest, self._sparkplug_sources)
        plant = PlantNow(now, machines, {status.name: status for status in snapshot.sources}, latest,
                         self._target_oee, self._scrap, self._groups)
        holding: set[tuple[str, str]] = set()
        updates: list[AlertUpdate] = []
        for rule in self.settings.rules:
            for finding in findings(rule, plant):
                key = (rule.id, finding.subject)
                holding.add(key)
                if key in self._active:
                    continue
                since = finding.since if finding.since is not None else self._pending.setdefault(key, now)
                if now - since >= rule.for_s:
                    updates.append(self._raise(rule, finding.subject, finding.message, now))
        for key in [key for key in self._pending if key not in holding or key in self._active]:
            del self._pending[key]
        for key in [key for key in self._active if key not in holding]:
            cleared = replace(self._active.pop(key), cleared_at=now)
            updates.append((cleared, AlertEvent(cleared.id, now, AlertAction.CLEARED)))
        if updates:
            self._publish()
            if self._save is not None:  # an engine without a store keeps nothing to save
                self._unsaved.extend(updates)
                self._save_soon()
            for alert, event in updates:
                self._tell(alert, event)
        elif self._unsaved and asyncio.get_running_loop().time() >= self._retry_at:
            self._save_soon()
        return updates

    def _raise(self, rule: AlertRule, subject: str, message: str, now: float) -> AlertUpdate:
        alert = Alert(self._next_id, rule.id, rule.kind, rule.severity, subject, message, now)
        self._next_id += 1
        self._active[(rule.id, subject)] = alert
        return alert, AlertEvent(alert.id, now, AlertAction.RAISED)

    def _publish(self) -> None:
        self.active = tuple(sorted(self._active.values(), key=lambda alert: alert.id))

    def _tell(self, alert: Alert, event: AlertEvent) -> None:
        for listener in self.listeners:
            try:
                listener(alert, event)
            except Exception:  # a broken listener must not stop the alerts, nor the tick
                log.exception("an alert listener failed on alert %d", alert.id)

    # ------------------------------------------------------------ people's actions

    def find(self, alert_id: int) -> Alert | None:
        """The active alert with this id, if it is active here."""
        return next((alert for alert in self._active.values() if alert.id == alert_id), None)

    async def apply(self, updated: Alert, event: AlertEvent, audit: AuditChange) -> Alert:
        """Store a person's acknowledgement or shelving (oee_tui.alerts.person_actions made `updated`),
        whatever waited first in the same transaction, and once it is durable show it. Raises what the
        store raised: then nothing changed."""
        if self._save is not None:
            async with self._writing:
                waiting = self._unsaved
                self._unsaved = []
                try:
                    await self._save([*waiting, (updated, event)], [audit])
                except BaseException:
                    self._unsaved[:0] = waiting
                    raise
        key = (updated.rule, updated.subject)
        held = self._active.get(key)
        if held is not None and held.id == updated.id:
            self._active[key] = updated
            self._publish()
        return updated

    # ------------------------------------------------------------ saving

    def _save_soon(self) -> None:
        if self._save is None or (self._save_task is not None and not self._save_task.done()):
            return
        self._save_task = asyncio.get_running_loop().create_task(self.save(), name="alerts:save")

    async def save(self) -> None:
        """Write what waits; on failure it waits for the next raise, clear or stop (logged once a try)."""
        if self._save is None:
            return
        async with self._writing:
            while self._unsaved:
                waiting = self._unsaved
                self._unsaved = []
                try:
                    await self._save(waiting, [])
                except Exception as exc:
                    self._unsaved[:0] = waiting
                    self._retry_at = asyncio.get_running_loop().time() + RETRY_S
                    log.warning("%d alert changes could not be stored yet (tried again in %.0f s): %s",
                                len(waiting), RETRY_S, exc)
                    return

    async def stop(self) -> None:
        """At the engine's stop: what waits is saved, and the listeners' runs end."""
        await self.save()
        for listener in self.listeners:
            await listener.finish()

    @property
    def problem(self) -> str | None:
        """The first listener's problem (the hook failed, the broker refused), for the screens and `oee status`."""
        return next((listener.problem for listener in self.listeners if listener.problem is not None), None)

    @property
    def unsaved(self) -> int:
        return len(self._unsaved)

