"""OPC UA driver: one session, one subscription, data-change notifications.

The server pushes changes at the publishing interval, so an idle line costs
nothing on the wire. asyncua calls the handler without letting it wait, so
the handler only queues samples; run() drains the queue and emits batches.

Security (Sign / SignAndEncrypt with Basic256Sha256) and login (anonymous,
user name and password, X.509 user certificate) are applied in connect();
the certificates live in the PKI folder (see opcua_security). Besides
run(), the driver offers read_once() and browse() for the Devices screen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.node import Node
from asyncua.common.subscription import DataChangeEvent, StatusChangeEvent, Subscription
from asyncua.crypto import security_policies, uacrypto
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.object_ids import ObjectIdNames, ObjectIds
from asyncua.ua.uaerrors import UaStatusCodeError
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from oee_tui.config import TagMapping
from oee_tui.drivers.base import BrowseEntry, Driver, DriverError, EmitFn, TagReading, keep_alive_interval_s
from oee_tui.drivers.opcua.asyncua_noise import quiet_asyncua
from oee_tui.drivers.opcua.node_ids import NodeIdError, needs_namespace_array, parse_node_id, resolve_tags
from oee_tui.drivers.opcua.opcua_source import OpcUaSource
from oee_tui.drivers.opcua.security import (
    ClientCertificate,
    UntrustedServerCertificate,
    check_server_certificate,
    default_pki_dir,
    ensure_client_certificate,
)
from oee_tui.model import Quality, TagSample, TagValue

log = logging.getLogger(__name__)

MAX_BATCH: Final = 5_000
# Monitored items per CreateMonitoredItems call, and nodes per Read or Browse call;
# keeps each request well under the message size limits of small embedded servers.
SUBSCRIBE_CHUNK: Final = 500
REQUEST_CHUNK: Final = 500
SECURITY_POLICIES: Final[dict[str, type[security_policies.SecurityPolicy]]] = {
    "Basic256Sha256": security_policies.SecurityPolicyBasic256Sha256,
}
# Status codes by which a server refuses the user (wrong password, unknown user
# certificate, login type not offered) and by which it refuses this client's certificate.
_LOGIN_REFUSED: Final = frozenset({
    "BadUserAccessDenied", "BadIdentityTokenRejected", "BadIdentityTokenInvalid", "BadUserSignatureInvalid"})
_CLIENT_CERT_REFUSED: Final = frozenset({
    "BadCertificateUntrusted", "BadSecurityChecksFailed", "BadCertificateInvalid", "BadCertificateUriInvalid",
    "BadCertificateUseNotAllowed", "BadCertificateTimeInvalid", "BadCertificateRevoked",
    "BadCertificateIssuerRevoked", "BadCertificateRevocationUnknown", "BadCertificateChainIncomplete"})


class _RedactIdentityToken(logging.Filter):
    """asyncua logs every request it sends at DEBUG, ActivateSession included, and with it
    the user's password (in clear text when the channel itself is encrypted). Whoever turns
    on debug logging to chase a connection problem must not find passwords in the file."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, ua.ActivateSessionRequest) for a in record.args):
            record.args = tuple("ActivateSessionRequest(<identity token redacted>)"
                                if isinstance(a, ua.ActivateSessionRequest) else a for a in record.args)
        return True


_REDACT = _RedactIdentityToken()
# The logger asyncua's UASocketProtocol sends requests through; addFilter ignores repeats.
logging.getLogger("asyncua.client.ua_client.UASocketProtocol").addFilter(_REDACT)
quiet_asyncua()


class _Signal:
    """A queue marker that ends run(): the link was lost, or close() was called."""

    __slots__ = ("error",)

    def __init__(self, error: str | None) -> None:
        self.error = error


def quality_of(status: ua.StatusCode | None) -> Quality:
    """OPC UA severity is the top two bits of the code: 00 good, 01 uncertain, 1x bad."""
    code = 0 if status is None else int(status.value)
    severity = (code >> 30) & 0b11
    if severity == 0:
        return Quality.GOOD
    if severity == 1:
        return Quality.UNCERTAIN
    return Quality.BAD


def status_text(status: ua.StatusCode) -> str:
    try:
        name, doc = status.name, status.doc
    except Exception:  # codes a server invents are not in asyncua's table
        return f"StatusCode 0x{int(status.value):08X}"
    return f"{name}: {doc}" if doc else name


def timestamp_of(value: ua.DataValue | None, now: float | None = None) -> float:
    """Source timestamp, else server timestamp, else the time of arrival, as POSIX seconds."""
    if value is not None:
        for stamp in (value.SourceTimestamp, value.ServerTimestamp):
            if isinstance(stamp, datetime):
                # asyncua 1.x hands out naive datetimes that mean UTC; 2.x aware ones.
                if stamp.tzinfo is None:
                    stamp = stamp.replace(tzinfo=UTC)
                return stamp.timestamp()
    return time.time() if now is None else now


def plain_value(value: Any) -> TagValue:
    """A value the engine understands; structured OPC UA types become text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, ua.LocalizedText):
        return value.Text
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return value.hex()
    return str(value)


class OpcUaDriver(Driver):
    """Subscribes to every tag of one OPC UA server, with the source's security and login.

    `pki_dir` holds this client's certificate and the trusted and rejected server
    certificates; it is only touched when security_mode is Sign or SignAndEncrypt.
    """

    source: OpcUaSource

    def __init__(self, source: OpcUaSource, tags: Sequence[TagMapping], *, pki_dir: Path | None = None) -> None:
        super().__init__(source, tags)
        self.pki_dir = default_pki_dir() if pki_dir is None else pki_dir
        self._own: ClientCertificate | None = None  # set by connect() when security is on
        self._told_plain_login = False
        self._client: Client | None = None
        self._pump: asyncio.Task[None] | None = None
        self._queue: asyncio.Queue[TagSample | _Signal] = asyncio.Queue(maxsize=self._queue_size())
        # Different strings may name the same node ("i=85" and "ns=0;i=85"); each gets its sample.
        self._tags_by_node: dict[ua.NodeId, list[str]] = {}
        # The server's namespace array, read once per connection when a node id names a URI.
        self._namespaces: list[str] | None = None
        self._namespaces_read = False
        self._closed = False
        self._signalled = False
        self.dropped = 0  # samples dropped because the engine fell behind by a whole queue

    def _queue_size(self) -> int:
        # A new subscription sends every item's current value at once: the queue must hold
        # that burst twice over, or a large address space drops samples on every connect.
        return max(16, self.source.queue_size, 2 * len(self.tags))

    @property
    def where(self) -> str:
        # A password written into the URL (opc.tcp://user:pw@host) must not reach messages.
        endpoint = re.sub(r"//([^/@:]*):[^/@]*@", r"//\1:***@", self.source.endpoint)
        return f"opcua {endpoint or '(no endpoint)'}"

    @property
    def check_interval_s(self) -> float:
        return keep_alive_interval_s(self.source.publishing_interval_ms)

    async def connect(self) -> None:
        # A driver may be connected again after a loss or close(); start clean.
        await self.close()
        self._closed = self._signalled = False
        self._own = None
        self._queue = asyncio.Queue(maxsize=self._queue_size())
        self._tags_by_node = {}
        self._namespaces, self._namespaces_read = None, False
        if not self.source.endpoint:
            raise DriverError(f"source {self.name}: no endpoint configured (opc.tcp://host:port/path)")
        client = Client(self.source.endpoint, timeout=self.source.timeout_s,
                        watchdog_intervall=self.check_interval_s)
        # asyncua 2.x reports a loss through this hook at once; 1.x lacks it and
        # the periodic check_connection() in run() catches the loss instead.
        client.connection_lost_callback = self._on_connection_lost
        client.name = client.description = "oee-tui"
        self._client = client
        try:
            await self._apply_login(client)
            await self._apply_security(client)
            await client.connect()
        except DriverError:
            with contextlib.suppress(Exception):
                client.disconnect_socket()
            raise
        except Exception as exc:  # asyncua raises OSError, TimeoutError, UaError and more
            with contextlib.suppress(Exception):
                client.disconnect_socket()
            raise DriverError(f"{self.where}: cannot connect: {self._explain(exc)}") from exc

    async def _apply_login(self, client: Client) -> None:
        source = self.source
        if source.username is not None:
            client.set_user(source.username)
            if source.password is not None:
                client.set_password(source.password)
            if source.security_mode == "None" and not self._told_plain_login:
                self._told_plain_login = True  # once per driver, not on every reconnect
                log.warning("%s: user %s logs in over an unsigned, unencrypted channel; the password is "
                            "protected only if the server asks for it encrypted", self.where, source.username)
        if source.user_certificate is not None and source.user_private_key is not None:
            cert_path = Path(source.user_certificate).expanduser()
            key_path = Path(source.user_private_key).expanduser()
            try:
                await client.load_client_certificate(str(cert_path))
                await client.load_private_key(key_path)
            except Exception as exc:  # OSError for a missing file, ValueError for a damaged one
                raise DriverError(f"{self.where}: cannot load the user certificate {cert_path} or its key "
                                  f"{key_path}: {_describe(exc)}") from exc

    async def _apply_security(self, client: Client) -> None:
        """Sign or SignAndEncrypt: the client's own certificate, and the server's, trusted beforehand."""
        source = self.source
        if source.security_mode == "None":
            return
        policy = SECURITY_POLICIES.get(source.security_policy)
        mode = getattr(ua.MessageSecurityMode, source.security_mode, None)
        if policy is None or mode is None:
            raise DriverError(f"{self.where}: security {source.security_mode}/{source.security_policy} is not "
                              f"supported; use Sign or SignAndEncrypt with Basic256Sha256")
        try:
            # Key generation and file work: keep them off the event loop.
            self._own = await asyncio.to_thread(ensure_client_certificate, self.pki_dir)
        except DriverError:
            raise
        except (OSError, ValueError) as exc:
            raise DriverError(f"{self.where}: cannot create or read the client certificate in "
                              f"{self.pki_dir}: {_describe(exc)}") from exc
        # The server checks that this URI is the one in the client's certificate.
        client.application_uri = self._own.application_uri
        server_der = await self._server_certificate(mode, policy)
        try:
            await asyncio.to_thread(check_server_certificate, self.pki_dir, self.name, server_der)
        except UntrustedServerCertificate as exc:
            # Same type, so a screen can offer to trust exc.certificate there and then.
            raise UntrustedServerCertificate(f"{self.where}: {exc}", exc.certificate,
                                             exc.previously_trusted) from exc
        except (OSError, ValueError) as exc:
            raise DriverError(f"{self.where}: cannot check the server's certificate against "
                              f"{self.pki_dir}: {_describe(exc)}") from exc
        # Passing the certificate pins it: asyncua encrypts to its key and refuses a
        # session whose server certificate differs ("Server certificate mismatch").
        await client.set_security(policy, str(self._own.cert_path), str(self._own.key_path),
                                  server_certificate=server_der, mode=mode)

    async def _server_certificate(self, mode: ua.MessageSecurityMode,
                                  policy: type[security_policies.SecurityPolicy]) -> bytes:
        """The certificate of the endpoint with this mode and policy, asked over an open channel.

        What comes back is not believed: it is used only if it is already in trusted/.
        """
        probe = Client(self.source.endpoint, timeout=self.source.timeout_s)
        try:
            endpoints = await probe.connect_and_get_server_endpoints()
        except Exception as exc:
            with contextlib.suppress(Exception):
                probe.disconnect_socket()
            raise DriverError(f"{self.where}: cannot connect: {_describe(exc)}") from exc
        for endpoint in endpoints:
            if endpoint.SecurityMode == mode and endpoint.SecurityPolicyUri == policy.URI:
                if not endpoint.ServerCertificate:
                    raise DriverError(f"{self.where}: the server's {mode.name} endpoint has no certificate")
                # asyncua leaves x509_from_der unannotated; it returns the chain's first certificate.
                certificate: x509.Certificate = uacrypto.x509_from_der(  # type: ignore[no-untyped-call]
                    endpoint.ServerCertificate)
                return certificate.public_bytes(Encoding.DER)
        offered = sorted({f"{e.SecurityMode.name.rstrip('_')}/{e.SecurityPolicyUri.rsplit('#', 1)[-1]}"
                          for e in endpoints})
        raise DriverError(f"{self.where}: the server offers no {mode.name} endpoint with "
                          f"{self.source.security_policy}; it offers {', '.join(offered) or 'nothing'}")

    def _explain(self, exc: BaseException) -> str:
        """The cause in words an operator can act on; never the password."""
        status = _status_name(exc)
        if status in _LOGIN_REFUSED:
            source = self.source
            if source.user_certificate is not None:
                return (f"the server refused the login with the user certificate {source.user_certificate} "
                        f"({status}): the server must accept that certificate as a user")
            if source.username is not None:
                return (f"the server refused the login as user {source.username!r} ({status}): "
                        f"check the user name and password")
            return (f"the server refused anonymous login ({status}): set username and password, "
                    f"or a user certificate")
        if status in _CLIENT_CERT_REFUSED and self._own is not None:
            own = f"{self._own.cert_path} (SHA-1 {self._own.sha1}, SHA-256 {self._own.sha256})"
            if status in ("BadCertificateUntrusted", "BadSecurityChecksFailed"):
                # Many servers hide an untrusted client behind the generic BadSecurityChecksFailed.
                return (f"the server refused this client's certificate ({status}): it does not trust it yet. "
                        f"Trust {own} on the server, then connect again")
            return f"the server refused this client's certificate {own} ({status}); its log says why"
        return _describe(exc)

    async def _on_connection_lost(self, exc: Exception) -> None:
        self._signal_lost(f"connection lost: {_describe(exc)}")

    async def run(self, emit: EmitFn) -> None:
        client = self._client
        if client is None:
            raise DriverError(f"{self.where}: run() before connect()")
        initial = await self._subscribe(client)
        if initial:
            await emit(initial)
        watchdog = asyncio.create_task(self._watch(client), name=f"opcua-watch-{self.name}")
        try:
            while True:
                item = await self._queue.get()
                batch: list[TagSample] = []
                while True:
                    if isinstance(item, _Signal):
                        if batch:
                            await emit(batch)
                        if item.error is None:
                            return
                        raise DriverError(f"{self.where}: {item.error}")
                    batch.append(item)
                    if len(batch) >= MAX_BATCH:
                        break
                    try:
                        item = self._queue.get_nowait()
                    except asyncio.QueueEmpty:
                        break
                if self._closed:
                    return
                await emit(batch)
        finally:
            watchdog.cancel()
            with contextlib.suppress(BaseException):
                await watchdog
            await self._stop_pump()

    async def _subscribe(self, client: Client) -> list[TagSample]:
        """Create the subscription; the BAD samples of tags that can't be monitored."""
        now = time.time()
        resolved = resolve_tags([mapping.tag for mapping in self.tags],
                                await self._namespace_array(client, [mapping.tag for mapping in self.tags]))
        bad = [TagSample(now, self.name, tag, None, Quality.BAD, error) for tag, error in resolved.errors.items()]
        self._tags_by_node = resolved.tags_by_node
        nodes = [client.get_node(node_id) for node_id in resolved.tags_by_node]
        if not nodes:
            return bad
        interval = float(self.source.publishing_interval_ms)
        try:
            # Iterator mode, not a handler: asyncua runs a handler in a new task for every value
            # change, which at 10,000 changes a second costs more than the rest of the driver.
            # Its queue is only a hand-off, drained at once by the pump; the bounded queue that
            # counts what it drops is the driver's own.
            subscription = await client.create_subscription(interval, None, queue_maxsize=0)
            self._pump = asyncio.create_task(self._pump_events(subscription), name=f"opcua-pump-{self.name}")
            for i in range(0, len(nodes), SUBSCRIBE_CHUNK):
                chunk = nodes[i:i + SUBSCRIBE_CHUNK]
                # Sampling at the publishing interval: faster sampling only
                # loads the PLC, since changes are sent once per interval anyway.
                results = await subscription.subscribe_data_change(chunk, sampling_interval=ua.Double(interval))
                for node, result in zip(chunk, results, strict=True):
                    if isinstance(result, ua.StatusCode):
                        error = f"{status_text(result)} ({node.nodeid.to_string()})"
                        bad.extend(TagSample(now, self.name, tag, None, Quality.BAD, error)
                                   for tag in self._tags_by_node[node.nodeid])
        except Exception as exc:
            raise DriverError(f"{self.where}: cannot subscribe: {_describe(exc)}") from exc
        return bad

    async def _pump_events(self, subscription: Subscription) -> None:
        async for event in subscription:
            if isinstance(event, DataChangeEvent):
                self._on_data_change(event.node, event.data.monitored_item.Value)
            elif isinstance(event, StatusChangeEvent):
                code = event.notification.Status
                if quality_of(code) is not Quality.GOOD:
                    self._signal_lost(f"subscription status changed to {status_text(code)}")

    async def _stop_pump(self) -> None:
        pump, self._pump = self._pump, None
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(BaseException):
                await pump

    async def _watch(self, client: Client) -> None:
        """Catch a lost link the callbacks missed, e.g. a server that stops answering.

        The check is a real round trip, so it also feeds the source's latency figures:
        a subscription has no other request whose latency means anything.
        """
        interval = self.check_interval_s
        while True:
            await asyncio.sleep(interval)
            started = time.perf_counter()
            try:
                await asyncio.wait_for(client.check_connection(), timeout=max(interval, self.source.timeout_s))
            except Exception as exc:
                self.record_read(time.perf_counter() - started, False)
                self._signal_lost(f"connection lost: {_describe(exc)}")
                return
            self.record_read(time.perf_counter() - started, True)

    # ---------------------------------------------------------------- one-off requests

    def _connected_client(self, what: str) -> Client:
        if self._client is None:
            raise DriverError(f"{self.where}: {what}() before connect()")
        return self._client

    async def read_clock(self) -> float | None:
        """The server's Server_ServerStatus_CurrentTime (UTC by the standard)."""
        current_time = ua.NodeId(ua.Int32(ObjectIds.Server_ServerStatus_CurrentTime))
        node = self._connected_client("read_clock").get_node(current_time)
        value = await asyncio.wait_for(node.read_value(), timeout=self.source.timeout_s)
        if not isinstance(value, datetime):
            raise DriverError(f"{self.where}: the server's CurrentTime is {value!r}, not a time")
        return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()

    async def read_once(self) -> list[TagReading]:
        """Read every mapped node once (one Read per REQUEST_CHUNK nodes); bad ones included."""
        client = self._connected_client("read_once")
        resolved = resolve_tags([mapping.tag for mapping in self.tags],
                                await self._namespace_array(client, [mapping.tag for mapping in self.tags]))
        readings = {tag: TagReading(tag, None, "", Quality.BAD, 0.0, error) for tag, error in resolved.errors.items()}
        tags_by_node = resolved.tags_by_node
        node_ids = list(tags_by_node)
        for i in range(0, len(node_ids), REQUEST_CHUNK):
            chunk = node_ids[i:i + REQUEST_CHUNK]
            started = time.perf_counter()
            try:
                values = await client.uaclient.read_attributes(chunk, AttributeIds.Value)
            except Exception as exc:
                self.record_read(time.perf_counter() - started, False)
                raise DriverError(f"{self.where}: read failed: {_describe(exc)}") from exc
            latency = time.perf_counter() - started
            self.record_read(latency, True)
            for node_id, data in zip(chunk, values, strict=True):
                for tag in tags_by_node[node_id]:
                    readings[tag] = _reading(tag, data, latency)
        return [readings[mapping.tag] for mapping in self.tags]

    async def browse(self, parent: str | None = None) -> list[BrowseEntry]:
        """The children of `parent` (a node id; None: the Objects folder) by hierarchical references."""
        client = self._connected_client("browse")
        if parent is None:
            parent_id = ua.NodeId(ua.Int32(ObjectIds.ObjectsFolder))
        else:
            try:
                parent_id = parse_node_id(parent, await self._namespace_array(client, [parent]))
            except NodeIdError as exc:
                raise DriverError(f"{self.where}: cannot browse {parent!r}: {exc}") from exc
        where = parent or "the Objects folder"
        try:
            references = (await self._browse(client, [parent_id], max_references=0))[0]
        except UaStatusCodeError as exc:
            raise DriverError(f"{self.where}: cannot browse {where}: {_describe(exc)}") from exc
        except Exception as exc:
            raise DriverError(f"{self.where}: browsing {where} failed: {_describe(exc)}") from exc
        if not references:
            return []
        child_ids = [ref.NodeId for ref in references]
        try:
            # One reference is enough to know there is something to open; ask for no more.
            grandchildren = await self._browse(client, child_ids, max_references=1, check=False)
            variables = [ref.NodeId for ref in references if ref.NodeClass == ua.NodeClass.Variable]
            type_names = await self._data_type_names(client, variables)
        except Exception as exc:
            raise DriverError(f"{self.where}: browsing {where} failed: {_describe(exc)}") from exc
        return [BrowseEntry(id=ref.NodeId.to_string(),
                            name=ref.DisplayName.Text or ref.BrowseName.Name or ref.NodeId.to_string(),
                            type=type_names.get(ref.NodeId) if ref.NodeClass == ua.NodeClass.Variable else None,
                            has_children=bool(found))
                for ref, found in zip(references, grandchildren, strict=True)]

    async def _namespace_array(self, client: Client, texts: Sequence[str]) -> list[str] | None:
        """The server's namespace URIs by index, when one of `texts` needs them; None if unreadable.

        Read once per connection: a restarted server may have numbered its namespaces anew.
        """
        if self._namespaces_read or not needs_namespace_array(texts):
            return self._namespaces
        try:
            self._namespaces = list(await client.get_namespace_array())
        except Exception as exc:  # a server that refuses the read fails only the tags that need it
            log.warning("%s: cannot read the server's namespace array: %s", self.where, _describe(exc))
            self._namespaces = None
        self._namespaces_read = True
        return self._namespaces

    async def _browse(self, client: Client, node_ids: Sequence[ua.NodeId], max_references: int,
                      check: bool = True) -> list[list[ua.ReferenceDescription]]:
        """Forward hierarchical references of each node, REQUEST_CHUNK nodes per Browse.

        With max_references=0 every continuation point is followed; otherwise the first
        page is kept and the continuation points are released, so the server can free them.
        """
        out: list[list[ua.ReferenceDescription]] = []
        for i in range(0, len(node_ids), REQUEST_CHUNK):
            params = ua.BrowseParameters()
            params.RequestedMaxReferencesPerNode = max_references
            params.NodesToBrowse = [ua.BrowseDescription(
                NodeId=node_id, BrowseDirection=ua.BrowseDirection.Forward,
                ReferenceTypeId=ua.NodeId(ua.Int32(ObjectIds.HierarchicalReferences)), IncludeSubtypes=True,
                NodeClassMask=0, ResultMask=ua.BrowseResultMask.All) for node_id in node_ids[i:i + REQUEST_CHUNK]]
            results = await client.uaclient.browse(params)
            pending: list[bytes] = []
            for result in results:
                if check:
                    result.StatusCode.check()
                references = list(result.References or [])
                point = result.ContinuationPoint
                while point and max_references == 0:
                    more = await client.uaclient.browse_next(
                        ua.BrowseNextParameters(ReleaseContinuationPoints=False, ContinuationPoints=[point]))
                    references.extend(more[0].References or [])
                    point = more[0].ContinuationPoint
                if point:
                    pending.append(point)
                out.append(references if quality_of(result.StatusCode) is not Quality.BAD else [])
            if pending:
                await client.uaclient.browse_next(
                    ua.BrowseNextParameters(ReleaseContinuationPoints=True, ContinuationPoints=pending))
        return out

    async def _data_type_names(self, client: Client, variables: Sequence[ua.NodeId]) -> dict[ua.NodeId, str]:
        """Each variable's DataType as a name: "Int32", "Double", or a server-defined type's BrowseName."""
        names: dict[ua.NodeId, str] = {}
        type_ids: dict[ua.NodeId, ua.NodeId] = {}
        for i in range(0, len(variables), REQUEST_CHUNK):
            chunk = list(variables[i:i + REQUEST_CHUNK])
            for node_id, data in zip(chunk, await client.uaclient.read_attributes(chunk, AttributeIds.DataType),
                                     strict=True):
                if data.Value is not None and isinstance(data.Value.Value, ua.NodeId):
                    type_ids[node_id] = data.Value.Value
        unknown: list[ua.NodeId] = []
        for type_id in dict.fromkeys(type_ids.values()):
            identifier = type_id.Identifier
            if type_id.NamespaceIndex == 0 and isinstance(identifier, int) and identifier in ObjectIdNames:
                names[type_id] = ObjectIdNames[identifier]
            else:
                unknown.append(type_id)
        for i in range(0, len(unknown), REQUEST_CHUNK):
            chunk = unknown[i:i + REQUEST_CHUNK]
            for type_id, data in zip(chunk, await client.uaclient.read_attributes(chunk, AttributeIds.BrowseName),
                                     strict=True):
                value = None if data.Value is None else data.Value.Value
                names[type_id] = value.Name if isinstance(value, ua.QualifiedName) else type_id.to_string()
        return {node_id: names[type_id] for node_id, type_id in type_ids.items()}

    def _on_data_change(self, node: Node, value: ua.DataValue | None) -> None:
        tags = self._tags_by_node.get(node.nodeid)
        if not tags or self._signalled:
            return
        status = None if value is None else value.StatusCode
        quality = quality_of(status)
        ts = timestamp_of(value)
        sample_value = None if value is None or value.Value is None else plain_value(value.Value.Value)
        error = None
        if quality is not Quality.GOOD and status is not None:
            error = status_text(status)
            if quality is Quality.BAD:
                sample_value = None  # a Bad value must not be used (OPC UA Part 4, 7.34)
        for tag in tags:
            self._put(TagSample(ts, self.name, tag, sample_value, quality, error))

    def _put(self, item: TagSample | _Signal) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            # Keep the newest: for counters and states the latest value is what counts.
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()
                self.dropped += 1
            self._queue.put_nowait(item)
            if self.dropped in (1, 100, 10_000) or self.dropped % 100_000 == 0:
                log.warning("%s: engine is behind; %d samples dropped", self.where, self.dropped)

    def _signal_lost(self, error: str) -> None:
        if self._signalled or self._closed:
            return
        self._signalled = True
        self._put(_Signal(error))

    async def close(self) -> None:
        await self._stop_pump()
        client, self._client = self._client, None
        if not self._closed:
            self._closed = self._signalled = True
            self._put(_Signal(None))
        if client is None:
            return
        try:
            # CloseSession also deletes the subscription on the server.
            await asyncio.wait_for(client.disconnect(), timeout=max(1.0, self.source.timeout_s))
        except Exception:  # close() must never raise; the server may already be gone
            log.debug("%s: error while disconnecting", self.where, exc_info=True)
        with contextlib.suppress(Exception):
            client.disconnect_socket()


def _reading(tag: str, data: ua.DataValue, latency_s: float) -> TagReading:
    status = data.StatusCode
    quality = quality_of(status)
    variant = data.Value
    value = None if variant is None or variant.Value is None else plain_value(variant.Value)
    type_name = ""
    if variant is not None and variant.VariantType != ua.VariantType.Null:
        type_name = variant.VariantType.name + ("[]" if isinstance(variant.Value, list) else "")
    error = None
    if quality is not Quality.GOOD and status is not None:
        error = status_text(status)
        if quality is Quality.BAD:
            value = None  # a Bad value must not be used (OPC UA Part 4, 7.34)
    return TagReading(tag, value, type_name, quality, latency_s, error)


def _status_name(exc: BaseException) -> str | None:
    if isinstance(exc, UaStatusCodeError):
        try:
            return ua.StatusCode(exc.code).name
        except Exception:  # a code asyncua does not know
            return None
    return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc) or type(exc).__name__
    return text if len(text) < 300 else text[:297] + "..."
