"""Quality alerts: what a rule found wrong, from when it was raised until it cleared, and what people did
about it (acknowledged with a comment, shelved for a while)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlertKind(StrEnum):
    """What a rule watches; the README's "Alerts" section lists each kind's keys."""

    VALUE_RANGE = "value_range"  # a tag's value outside [min, max]
    QUALITY = "quality"  # a tag's quality bad, uncertain or stale (its source silent)
    SCRAP_RATE = "scrap_rate"  # rejects / parts over a sliding window above a threshold
    OEE_BELOW_TARGET = "oee_below_target"  # the shift so far
    MACHINE_DOWN = "machine_down"  # in an unplanned stop (down, changeover, minor stop)
    STOP_WITHOUT_REASON = "stop_without_reason"
    COUNTER_EVENT = "counter_event"  # a counter reset or implausible jump (model.events)
    SPARKPLUG_DEATH = "sparkplug_death"  # an edge node's NDEATH or a device's DDEATH
    SOURCE_OFFLINE = "source_offline"


class AlertAction(StrEnum):
    """One line of an alert's history."""

    RAISED = "raised"
    CLEARED = "cleared"
    ACKNOWLEDGED = "acknowledged"
    SHELVED = "shelved"


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert: rule `rule` found `subject` (a machine, a source, a source's tag, a Sparkplug node)
    wrong from `raised_at` (POSIX seconds) until `cleared_at` (None: still active)."""

    id: int
    rule: str
    kind: AlertKind
    severity: Severity
    subject: str
    message: str  # what was found, in a person's words, as it was when raised
    raised_at: float
    cleared_at: float | None = None
    acked_at: float | None = None
    acked_by: str | None = None
    ack_comment: str | None = None
    shelved_until: float | None = None  # hidden from the active count and the header until then
    shelved_by: str | None = None

    @property
    def active(self) -> bool:
        return self.cleared_at is None

    def shelved(self, now: float) -> bool:
        return self.shelved_until is not None and self.shelved_until > now

    def showing(self, now: float) -> bool:
        """Active and not shelved: what the header counts and the hook announced."""
        return self.cleared_at is None and not self.shelved(now)


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One line of an alert's history: raised, cleared, acknowledged (with a comment) or shelved (until)."""

    alert: int
    ts: float
    action: AlertAction
    user: str | None = None  # who acknowledged or shelved it; None for the engine's own raise and clear
    comment: str | None = None
    until: float | None = None  # shelved until


def count_showing(alerts: tuple[Alert, ...], now: float) -> int:
    return sum(1 for alert in alerts if alert.showing(now))
