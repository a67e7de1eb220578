"""One-off conversations with a device: is it there, what does each mapped tag read, what does it offer.

Used by `oee devices ...` and the device configuration screen. Each call opens its
own connection and closes it, apart from the engine's acquisition, so testing a
device never disturbs the data the plant is collecting. What a kind of source can
do (be read once, be browsed, be probed) its declaration says (oee_tui.drivers.registry).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from oee_tui.config import Config, SourceConfig, TagMapping
from oee_tui.drivers.base import BrowseEntry, Driver, TagReading
from oee_tui.drivers.driver_kind import NOT_BROWSABLE
from oee_tui.drivers.registry import KINDS, kind_of, make_driver

if TYPE_CHECKING:
    from oee_tui.mqtt.transport import MqttSettings

BROWSABLE_KINDS: Final = frozenset(kind.name for kind in KINDS.values() if kind.browsable)
# The kinds with a reason of their own (and a way around it), not the general NOT_BROWSABLE.
NOT_BROWSABLE_BECAUSE: Final = {kind.name: kind.not_browsable for kind in KINDS.values()
                                if kind.not_browsable is not None and kind.not_browsable != NOT_BROWSABLE}


def not_browsable(kind: str) -> str:
    """Why a source of `kind` has no browse tree, and what to do instead."""
    return NOT_BROWSABLE_BECAUSE.get(kind, NOT_BROWSABLE)


@dataclass(frozen=True, slots=True)
class SourceCheck:
    """Whether a source answered a connection attempt, and how fast."""

    name: str
    kind: str
    address: str
    tags: int
    machines: tuple[str, ...]
    connected: bool
    connect_s: float | None
    error: str | None


# The CLI does not run the engine, so it can say where the edge node publishes but not how it is doing.
EDGE_LIVE_STATUS: Final = "(live status: in the TUI's Devices screen)"


def edge_summary(config: Config) -> str | None:
    """`oee devices list`'s line for the Sparkplug edge node, or None without ``[edge] enabled``:
    its group/edge node id, the broker as the node connects to it (no password), its primary host."""
    edge = config.edge
    if not edge.enabled:
        return None
    from oee_tui.edge.session import edge_settings

    settings = edge_settings(edge)  # EdgeNode's own: the client id and session shown are the ones it uses
    line = f"edge node {edge.group_id}/{edge.edge_node_id} → {settings.describe()}"
    if edge.primary_host_id is not None:
        line += f", primary host {edge.primary_host_id}"
    return f"{line} {EDGE_LIVE_STATUS}"


def address_of(source: SourceConfig) -> str:
    return kind_of(source).address(source)


def tags_of(config: Config, source: str) -> list[TagMapping]:
    return [mapping for machine in config.machines for mapping in machine.signals.values()
            if mapping.source == source]


def machines_of(config: Config, source: str) -> tuple[str, ...]:
    return tuple(machine.id for machine in config.machines
                 if any(mapping.source == source for mapping in machine.signals.values()))


def source_named(config: Config, name: str) -> SourceConfig:
    for source in config.sources:
        if source.name == name:
            return source
    known = ", ".join(source.name for source in config.sources) or "(none)"
    raise LookupError(f"there is no source named {name!r}; sources: {known}")


def describe_error(exc: BaseException) -> str:
    text = str(exc).strip()
    if text:
        return text
    return "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__


async def _connected(config: Config, source: SourceConfig, tags: Sequence[TagMapping]) -> Driver:
    driver = make_driver(source, tags, config_path=config.path)
    try:
        await asyncio.wait_for(driver.connect(), timeout=source.timeout_s)
    except BaseException:
        await driver.close()
        raise
    return driver


@dataclass(frozen=True, slots=True)
class BrokerProbe:
    """An MQTT broker answered a probe connection: where (no secrets), as whom, and how fast."""

    endpoint: str  # MqttSettings.describe(): URL, protocol, client id, user, TLS file names
    client_id: str
    connect_s: float


def probe_settings(source: SourceConfig) -> MqttSettings:
    """The broker connection of a sparkplug or mqtt source, as `<client id>-probe` with a clean session."""
    probe = kind_of(source).broker_probe
    if probe is None:
        raise ValueError(f"{source.kind} sources have no broker to probe")
    return probe(source)


async def probe_broker(source: SourceConfig) -> BrokerProbe:
    """Connect to a sparkplug or mqtt source's broker and leave again; raises with the reason if it cannot.

    Nothing is published and there is no will: a Sparkplug host's retained STATE and the engine's
    own session (its client id, its queued messages) are never touched.
    """
    settings = probe_settings(source)
    return await asyncio.to_thread(_probe, settings)


def _probe(settings: MqttSettings) -> BrokerProbe:
    """The blocking half of probe_broker (paho's connect and TLS handshake): run it in a thread."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import MQTTErrorCode

    from oee_tui.mqtt.transport import REFUSED_EARLY, build_client, connect_options

    client = build_client(settings)  # TransportError when a TLS file cannot be loaded
    answered = threading.Event()
    outcome: dict[str, Any] = {}

    def on_connect(_client: Any, _userdata: Any, _flags: Any, reason: Any, _properties: Any) -> None:
        outcome["connack"] = reason
        answered.set()

    def on_disconnect(_client: Any, _userdata: Any, _flags: Any, reason: Any, _properties: Any) -> None:
        outcome.setdefault("closed", reason)
        answered.set()

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    where = settings.url
    started = time.perf_counter()
    try:
        try:
            result = client.connect(settings.host, settings.port, settings.keepalive_s, **connect_options(settings))
        except (OSError, ValueError) as exc:  # refused, unreachable, no such host, a TLS handshake that failed
            raise ConnectionError(f"{where}: cannot connect: {describe_error(exc)}") from None
        if result == MQTTErrorCode.MQTT_ERR_CONN_LOST:
            raise ConnectionError(f"{where}: " + REFUSED_EARLY.format(reason=mqtt.error_string(result)))
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise ConnectionError(f"{where}: cannot connect: {mqtt.error_string(result)}")
        client.loop_start()
        if not answered.wait(settings.timeout_s):
            raise TimeoutError(f"{where}: no answer to CONNECT within {settings.timeout_s:g} s")
        elapsed = time.perf_counter() - started
        connack = outcome.get("connack")
        if connack is None:
            raise ConnectionError(f"{where}: " + REFUSED_EARLY.format(reason=outcome.get("closed")))
        if connack.is_failure:
            user = f" (user {settings.username!r})" if settings.username is not None else ""
            raise ConnectionError(f"{where}: the broker refused the connection: {connack}{user}")
    finally:
        client.disconnect()
        client.loop_stop()
    return BrokerProbe(settings.describe(), settings.client_id, elapsed)


async def check_source(config: Config, source: SourceConfig) -> SourceCheck:
    tags = tags_of(config, source.name)
    started = time.perf_counter()
    connected, error, elapsed = False, None, None
    try:
        if kind_of(source).checked_by_probe:
            elapsed = (await probe_broker(source)).connect_s
        else:
            driver = await _connected(config, source, tags)
            elapsed = time.perf_counter() - started
            await driver.close()
        connected = True
    except Exception as exc:  # any failure is the answer to "is it there?"
        error = describe_error(exc)
    return SourceCheck(source.name, source.kind, address_of(source), len(tags), machines_of(config, source.name),
                       connected, elapsed, error)


async def check_all(config: Config) -> list[SourceCheck]:
    return list(await asyncio.gather(*(check_source(config, source) for source in config.sources)))


async def test_source(config: Config, source: SourceConfig) -> list[TagReading]:
    """Every mapped tag of `source` read once. Raises if the device cannot be reached.

    An OPC-UA source uses the certificates beside the config's file, as the engine does."""
    not_readable = kind_of(source).not_readable
    if not_readable is not None:
        raise NotImplementedError(not_readable)  # before connecting: see check_source
    driver = await _connected(config, source, tags_of(config, source.name))
    try:
        return await driver.read_once()
    finally:
        await driver.close()


@dataclass(frozen=True, slots=True)
class ClockReading:
    """A device's clock against this box's: `offset_s` is device minus box (positive: the device is ahead),
    measured at the middle of the request, so it is known to within `uncertainty_s` (half the round trip)."""

    source: str
    offset_s: float
    uncertainty_s: float


async def read_source_clock(config: Config, source: SourceConfig) -> ClockReading | None:
    """The clock offset of `source`, or None when its protocol has no clock to compare. Raises if the
    device cannot be reached."""
    if kind_of(source).checked_by_probe:
        return None  # a broker: MQTT carries no time of its own
    driver = await _connected(config, source, tags_of(config, source.name))
    try:
        asked = time.time()
        device = await driver.read_clock()
        answered = time.time()
    finally:
        await driver.close()
    if device is None:
        return None
    return ClockReading(source.name, device - (asked + answered) / 2.0, (answered - asked) / 2.0)


async def probe_broker_at(settings: MqttSettings) -> BrokerProbe:
    """probe_broker for a connection given whole (the edge node's): connect, leave, nothing published."""
    return await asyncio.to_thread(_probe, settings)


async def browse_source(config: Config, source: SourceConfig, parent: str | None = None) -> list[BrowseEntry]:
    kind = kind_of(source)
    if not kind.browsable:
        raise NotImplementedError(f"{source.kind} sources cannot be browsed: {not_browsable(source.kind)}")
    if kind.browsed_in_engine is not None:
        # Never by connecting: a Sparkplug host would take over the engine's client id and STATE.
        raise NotImplementedError(f"{source.name}: {kind.browsed_in_engine}")
    driver = await _connected(config, source, tags_of(config, source.name))
    try:
        return await driver.browse(parent)
    finally:
        await driver.close()
