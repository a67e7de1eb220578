"""What hosts send the edge node: commands (NCMD, DCMD) and the primary host's STATE.

Commands: NCMD ``Node Control/Rebirth`` and ``Node Control/Next Server`` (a new connection:
with one broker, the same broker and the next bdSeq) are answered; other NCMD metrics are
logged and ignored. The machines' metrics are read-only (nothing is ever written to a PLC), so
every DCMD is refused, logged and counted.

STATE of the primary host (``[edge] primary_host_id``): ``"online": true`` lets the session
publish; ``"online": false`` after that ends the session on purpose (NDEATH, a new connection
that waits for the host again). A STATE older than the last one seen (a stale retained
message) is ignored.

An undecodable command or STATE is logged and kept as a dead letter (source ``edge``); nothing
a broker delivers may stop the node.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from oee_tui.config import EdgeConfig
from oee_tui.edge.connection import Connection
from oee_tui.edge.layout import PlantLayout
from oee_tui.edge.session import NEXT_SERVER_METRIC, EdgeSession
from oee_tui.edge.status import EdgeStats
from oee_tui.mqtt.sparkplug_codec import (
    REBIRTH_METRIC,
    DataType,
    Payload,
    SparkplugDecodeError,
    decode_payload,
    metric_value,
    parse_state,
)

log = logging.getLogger(__name__)

DeadLetterKeeper = Callable[[str, bytes, str], None]  # (topic, payload, error)


class HostMessages:
    """Handles each message on the session's subscriptions, on the event loop."""

    def __init__(self, config: EdgeConfig, stats: EdgeStats, layout: PlantLayout, session: EdgeSession,
                 dead_letter: DeadLetterKeeper) -> None:
        self.config = config
        self.stats = stats
        self.layout = layout
        self.session = session
        self.dead_letter = dead_letter
        self._host_ts: int | None = None  # timestamp of the primary host's last STATE we took

    def handle(self, connection: Connection, topic_name: str, raw: bytes) -> None:
        """NCMD, DCMD or the primary host's STATE. Nothing a broker delivers may stop the node."""
        session = self.session
        try:
            if topic_name == session.state_topic:
                self._on_state(connection, topic_name, raw)
            elif topic_name == session.ncmd_topic:
                self._on_ncmd(connection, topic_name, raw)
            elif topic_name.startswith(session.dcmd_prefix):
                self._on_dcmd(topic_name, raw)
            else:
                log.info("edge node: ignoring a message on %s (not subscribed to)", topic_name)
        except Exception as exc:  # a bug must cost one message, not the session
            log.exception("edge node: handling a message on %s failed", topic_name)
            self.dead_letter(topic_name, raw, f"internal error: {type(exc).__name__}: {exc}")

    def _undecodable(self, kind: str, topic_name: str, raw: bytes, reason: str) -> None:
        self.stats.commands_undecodable += 1
        log.warning("edge node: undecodable %s on %s ignored: %s", kind, topic_name, reason)
        self.dead_letter(topic_name, raw, reason)

    def _on_state(self, connection: Connection, topic_name: str, raw: bytes) -> None:
        host = self.config.primary_host_id
        try:
            online, timestamp = parse_state(raw)
        except SparkplugDecodeError as exc:
            self._undecodable("STATE", topic_name, raw, exc.reason)
            return
        if self._host_ts is not None and timestamp < self._host_ts:
            # A retained STATE older than one already seen: the host has moved on since.
            log.info("edge node: STATE of primary host %s (online %s, timestamp %d) ignored: older than the last "
                     "one seen (%d)", host, str(online).lower(), timestamp, self._host_ts)
            return
        self._host_ts = timestamp
        if online:
            if not connection.host_online.is_set():
                log.info("edge node: primary host %s is online (STATE timestamp %d)", host, timestamp)
                connection.host_online.set()
            return
        if not connection.host_online.is_set():
            log.info("edge node: primary host %s is offline (STATE timestamp %d); still waiting", host, timestamp)
            return
        self.stats.host_offline_ends += 1
        log.info("edge node: primary host %s went offline (STATE timestamp %d): NDEATH, then a new session",
                 host, timestamp)
        self.session.end_on_purpose(connection, f"primary host {host} went offline (STATE online false)")

    def _on_ncmd(self, connection: Connection, topic_name: str, raw: bytes) -> None:
        try:
            payload = decode_payload(raw)
        except SparkplugDecodeError as exc:
            self._undecodable("NCMD", topic_name, raw, exc.reason)
            return
        if not payload.metrics:
            log.info("edge node: NCMD without metrics ignored")
        for metric in payload.metrics:
            name = metric.name or f"alias {metric.alias}"
            wanted = metric.name in (REBIRTH_METRIC, NEXT_SERVER_METRIC) and _is_true(metric)
            if wanted and metric.name == REBIRTH_METRIC:
                self.stats.rebirths_answered += 1
                self.session.rebirth()
            elif wanted:
                self.stats.next_servers_answered += 1
                log.info("edge node: NCMD %s: NDEATH, then a new session", NEXT_SERVER_METRIC)
                self.session.end_on_purpose(connection, f"NCMD {NEXT_SERVER_METRIC}")
                return  # the session ends: the rest of this command is not for the next one
            else:
                self.stats.commands_ignored += 1
                log.info("edge node: NCMD metric %r ignored (only %s = true and %s = true are answered)",
                         name, REBIRTH_METRIC, NEXT_SERVER_METRIC)

    def _on_dcmd(self, topic_name: str, raw: bytes) -> None:
        device = topic_name[len(self.session.dcmd_prefix):]
        try:
            payload = decode_payload(raw)
        except SparkplugDecodeError as exc:
            self._undecodable("DCMD", topic_name, raw, exc.reason)
            return
        self.stats.commands_refused += 1
        if device not in self.layout.devices:
            names = [metric.name or f"alias {metric.alias}" for metric in payload.metrics]
            log.info("edge node: DCMD for unknown device %s refused (metrics: %s)", device,
                     ", ".join(names) or "none")
            return
        names = []
        for metric in payload.metrics:
            known = self.layout.by_alias.get(metric.alias) if not metric.name and metric.HasField("alias") else None
            names.append(metric.name or (known.name if known is not None and known.device == device
                                         else f"alias {metric.alias}"))
        log.info("edge node: DCMD for device %s refused (metrics: %s): machine metrics are read-only", device,
                 ", ".join(names) or "none")


def _is_true(metric: Payload.Metric) -> bool:
    try:
        return metric_value(metric, DataType.Boolean) is True
    except (SparkplugDecodeError, ValueError, TypeError):
        return False
