"""Live data: the machines' signal changes, one DDATA per machine per ``publish_interval_s``.

:meth:`Publisher.observe` sees every sample batch the engine ingests: it routes each sample to
its machines' signals itself and keeps only changes (of value, type or quality). Every
``publish_interval_s`` the changes of each machine go out as one DDATA, by alias, each metric
with its own timestamp, at QoS ``data_qos`` (0 by default, as the spec asks).

While the node is not live (no connection, births not out, the buffer still replaying) the
changes go to the spool instead, and from there into the store's buffer. With ``data_qos = 1``
live DDATA not yet acknowledged when the connection drops goes back to the spool as well; at
QoS 0 whatever was written into a connection that silently died is lost (that is what QoS 0
means).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence

import paho.mqtt.client as mqtt

from oee_tui.config import EdgeConfig
from oee_tui.edge.buffer import Spool
from oee_tui.edge.connection import EdgeError
from oee_tui.edge.layout import Change, PlantLayout
from oee_tui.edge.payloads import encode_changes
from oee_tui.edge.session import EdgeSession
from oee_tui.edge.status import EdgeStats
from oee_tui.engine.live.observers import EngineContext
from oee_tui.model import TagSample
from oee_tui.mqtt.sparkplug_codec import MessageType
from oee_tui.store.edge_spool import BufferedRow

log = logging.getLogger(__name__)


class Publisher:
    """Changes kept from the engine's samples, published as DDATA or spooled."""

    def __init__(self, config: EdgeConfig, stats: EdgeStats, layout: PlantLayout, session: EdgeSession,
                 spool: Spool, engine: EngineContext) -> None:
        self.config = config
        self.stats = stats
        self.layout = layout
        self.session = session
        self.spool = spool
        self.engine = engine
        self.changes: list[Change] = []
        # data_qos 1: mid -> (paho's message info, its rows), in publish order
        self.live_unacked: dict[int, tuple[mqtt.MQTTMessageInfo, list[BufferedRow]]] = {}
        self.ddata_topics: dict[str, str] = {}
        self.layout_changed()

    def attach(self, engine: EngineContext) -> None:
        self.engine = engine  # the engine's clock stamps the DDATA

    def layout_changed(self) -> None:
        """After the layout was built again: changes of signals that are gone are dropped."""
        self.ddata_topics = {device: self.session.topic(MessageType.DDATA, device) for device in self.layout.devices}
        by_name = self.layout.by_name
        self.changes = [(by_name[(metric.device, metric.name)], ts, value, quality)
                        for metric, ts, value, quality in self.changes if (metric.device, metric.name) in by_name]

    # ------------------------------------------------------------ the engine's hook (on the loop)

    def observe(self, batch: Iterable[TagSample]) -> None:
        """Keep the changes of machine signals in a batch of samples. Cheap: it runs per ingest."""
        routes = self.layout.routes
        changes = self.changes
        for sample in batch:
            targets = routes.get((sample.source, sample.tag))
            if targets is None:
                continue
            value = sample.value
            quality = sample.quality.value
            for metric in targets:
                if value != metric.value or quality != metric.quality or type(value) is not type(metric.value):
                    metric.value = value
                    metric.quality = quality
                    changes.append((metric, sample.ts_utc, value, quality))

    # ------------------------------------------------------------ publishing

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.config.publish_interval_s)
            try:
                self.session.rebirth_now()  # after a reload changed the machines
                self.publish_changes()
            except EdgeError:
                pass  # the connection loop hears of it and reconnects
            except Exception:  # a bug here must not stop publishing for good
                log.exception("edge node: publishing failed")

    def publish_changes(self) -> int:
        """One DDATA per machine with its changes since the last call, or into the spool when
        not live. Returns the DDATA messages published."""
        changes, self.changes = self.changes, []
        if not changes:
            return 0
        if not self.stats.live:
            self.spool.add(_rows(changes))
            return 0
        by_device: dict[str, list[Change]] = {}
        for change in changes:
            rows = by_device.get(change[0].device)
            if rows is None:
                by_device[change[0].device] = [change]
            else:
                rows.append(change)
        qos = self.config.data_qos
        sent = 0
        for index, (device, device_changes) in enumerate(by_device.items()):
            try:
                info = self.send(device, device_changes, historical=False, qos=qos)
            except EdgeError:
                # Not sent: this and every later machine's changes wait in the buffer.
                self.spool.add(_rows(change for pending in list(by_device.values())[index:] for change in pending))
                raise
            if qos:
                self.live_unacked[info.mid] = (info, list(_rows(device_changes)))
            sent += 1
            self.stats.metrics += len(device_changes)
        self.stats.messages += sent
        return sent

    def send(self, device: str, changes: Sequence[Change], *, historical: bool, qos: int) -> mqtt.MQTTMessageInfo:
        """One DDATA of one machine's changes (live, or replayed from the buffer as history)."""
        return self.session.publish(self.ddata_topics[device], self.encode(changes, historical=historical), qos)

    def encode(self, changes: Iterable[Change], *, historical: bool) -> bytes:
        return encode_changes(changes, timestamp_ms=int(self.engine.clock() * 1000), seq=self.session.next_seq(),
                              historical=historical)

    # ------------------------------------------------------------ acknowledgements (data_qos 1)

    def take_acks(self) -> None:
        """Forget the live DDATA the broker acknowledged, from the oldest: one still waiting holds
        back the ones behind it until the next read."""
        live = self.live_unacked
        while live:
            mid, (info, _rows) = next(iter(live.items()))
            if not info.is_published():
                break
            del live[mid]

    def take_unacknowledged(self) -> list[BufferedRow]:
        """The rows of live DDATA still waiting for a PUBACK (the connection ended): to be sent again."""
        rows = [row for _info, rows in self.live_unacked.values() for row in rows]
        self.live_unacked = {}
        return rows


def _rows(changes: Iterable[Change]) -> Iterable[BufferedRow]:
    return (BufferedRow(ts, metric.device, metric.name, value, quality) for metric, ts, value, quality in changes)
