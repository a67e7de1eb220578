"""The engine's side of its socket: who connected (the kernel says), what they may do (their role), and
every request run in the engine, answered on the connection it came in on.

The process that owns the store serves it: `oee engine`, or the first TUI on a data dir when no engine
runs. Each request runs in a task of its own, so a 30-day report never holds up the snapshots pushed
to the TUIs, nor another user's command; blocking work (DuckDB, files, devices) runs in threads, on
cursors of its own, so ingest never waits for a query.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import logging
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from oee_tui import __version__
from oee_tui.engine.api import PlantEngine
from oee_tui.model.access import Action, Caller, Role, allowed, minimum_role
from oee_tui.service.op_table import OPS
from oee_tui.service.ops import OpContext, OpError
from oee_tui.service.peer import peer_credentials
from oee_tui.service.snapshot_push import SnapshotPush
from oee_tui.service.socket_path import addressable, socket_path
from oee_tui.service.wire import MessageStream, ProtocolError

log = logging.getLogger(__name__)

HELLO_TIMEOUT_S: Final = 10.0
PIN_TRIES: Final = 5
PIN_WINDOW_S: Final = 300.0
# How often the push task looks for a new snapshot. A look that finds none costs a few microseconds, and
# a snapshot waits for it on top of the engine's tick: at 0.2 s, a state change reached attached TUIs
# in 1.01-1.02 s at the 95th percentile (benchmarks/bench_service.py); at 0.05 s in 0.92-0.96 s.
PUSH_INTERVAL_S: Final = 0.05


class AccessPolicy(Protocol):
    """What the server asks of the `[access]` settings."""

    @property
    def socket_group(self) -> str | None: ...

    def role_of(self, caller: Caller) -> Role | None: ...

    def people_of(self, account: str) -> Sequence[object]: ...

    def check_pin(self, account: str, name: str, pin: str) -> Role | None: ...


@dataclass(slots=True, eq=False)  # a session is itself, hashed by identity
class Session:
    """One attached client."""

    caller: Caller
    role: Role
    pid: int
    stream: MessageStream
    since: float
    subscribed: bool = False

    def describe(self) -> dict[str, Any]:
        return {"user": self.caller.user, "person": self.caller.person, "role": self.role.name.lower(),
                "pid": self.pid, "origin": self.caller.origin, "since": self.since, "live": self.subscribed}


class EngineServer:
    def __init__(self, engine: PlantEngine, access: AccessPolicy | None, *, data_dir: Path,
                 config_path: Path | None, push_interval_s: float = PUSH_INTERVAL_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self._access = access  # None: the [access] of the config the engine runs on now (a reload applies)
        self.data_dir = data_dir
        self.config_path = config_path
        self.path = socket_path(data_dir)
        self.clock = clock
        self.sessions: set[Session] = set()
        self.push = SnapshotPush(engine, self.sessions, push_interval_s)
        self.started = clock()
        self._server: asyncio.Server | None = None
        self._pin_failures: dict[str, list[float]] = {}  # account -> times of wrong PINs lately
        self._requests: set[asyncio.Task[None]] = set()  # in flight, whoever asked: close() cancels them

    @property
    def access(self) -> AccessPolicy:
        return self._access if self._access is not None else self.engine.config.access

    async def start(self) -> None:
        """Listen on `<data dir>/oee.sock`, its mode and group set before anyone can connect."""
        sock = _bound_socket(self.path, self.access.socket_group)
        self._server = await asyncio.start_unix_server(self._serve, sock=sock)
        self.push.start()
        log.info("serving %s (%s)", self.path, _who_may_connect(self.access.socket_group))

    async def close(self) -> None:
        """Stop listening and hang up on every client (their TUIs say the engine stopped)."""
        await self.push.stop()
        if self._server is not None:
            self._server.close()
        for task in self._requests:
            task.cancel()
        for session in list(self.sessions):
            await session.stream.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    # ------------------------------------------------------------ one connection

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        credentials = peer_credentials(writer.get_extra_info("socket"))
        stream = MessageStream(reader, writer, trusted_records=False)
        session = None
        try:
            session = await self._hello(stream, credentials)
            if session is None:
                return
            self.sessions.add(session)
            log.info("%s attached (pid %d, %s, %s)", session.caller.who, session.pid, session.role.name.lower(),
                     session.caller.origin)
            while (message := await stream.receive()) is not None:
                task = asyncio.create_task(self._answer(session, message))
                self._requests.add(task)
                task.add_done_callback(self._requests.discard)
        except ProtocolError as exc:
            log.warning("pid %d (%s): %s; hung up", credentials.pid, credentials.user, exc)
        except (ConnectionError, OSError):
            pass
        finally:
            if session is not None:
                # Requests in flight run to their end (a stop reason half-written is worse than an answer
                # nobody reads); only the engine's own stop cancels them (close()).
                self.sessions.discard(session)
                log.info("%s detached (pid %d)", session.caller.who, session.pid)
            await stream.close()

    async def _hello(self, stream: MessageStream, credentials: Any) -> Session | None:
        """The first message names the client's origin (and a person and PIN on a shared login)."""
        message = await asyncio.wait_for(stream.receive(), HELLO_TIMEOUT_S)
        if message is None:
            return None
        request_id = message.get("id")
        if message.get("op") != "hello":
            await stream.send({"id": request_id, "ok": False, "code": "protocol", "error": "say hello first"})
            return None
        args = message.get("args") or {}
        origin = str(args.get("origin") or "unknown")[:200]
        caller = Caller(credentials.user, credentials.uid, credentials.groups, origin)
        people = self.access.people_of(credentials.user)
        person = args.get("person")
        if people:
            # A shared login: the OS user says only which account; the person says who, with a PIN.
            if not isinstance(person, str) or not isinstance(args.get("pin"), str):
                names = [str(getattr(p, "name", p)) for p in people]
                await stream.send({"id": request_id, "ok": False, "code": "person",
                                   "error": f"{credentials.user} is a shared login: give your name and PIN",
                                   "people": names})
                return None
            caller = Caller(credentials.user, credentials.uid, credentials.groups, origin, person=person)
            role, refusal = await self._check_pin(credentials.user, person, args["pin"])
        else:
            role = self.access.role_of(caller)
            refusal = None if role is not None else f"{credentials.user} has no role in [access] of this plant"
        if role is None:
            await self.audit(caller, "denied", "attach", None, {"reason": refusal})
            await stream.send({"id": request_id, "ok": False, "code": "denied", "error": refusal})
            return None
        session = Session(caller, role, credentials.pid, stream, self.clock())
        config = self.engine.config
        await stream.send({"id": request_id, "ok": True, "result": {
            "pid": os.getpid(), "user": caller.user, "person": caller.person, "role": role.name.lower(),
            "site": config.site.name, "timezone": config.site.timezone, "version": __version__,
            "data_dir": str(self.data_dir), "config_path": None if self.config_path is None else str(self.config_path),
        }})
        return session

    async def _check_pin(self, account: str, person: str, pin: str) -> tuple[Role | None, str | None]:
        """A PIN costs 0.15 s of hashing (in a thread, never on the loop); after PIN_TRIES wrong ones on an
        account within PIN_WINDOW_S, that account's PINs are not even checked until the window passes."""
        now = self.clock()
        recent = [t for t in self._pin_failures.get(account, ()) if now - t < PIN_WINDOW_S]
        if len(recent) >= PIN_TRIES:
            wait = int(PIN_WINDOW_S - (now - recent[0])) + 1
            return None, f"too many wrong PINs on {account}: try again in {wait} s"
        role = await asyncio.to_thread(self.access.check_pin, account, person, pin)
        if role is None:
            self._pin_failures[account] = [*recent, now]
            return None, "wrong name or PIN"
        self._pin_failures.pop(account, None)
        return role, None

    async def _answer(self, session: Session, message: dict[str, Any]) -> None:
        request_id = message.get("id")
        name = message.get("op")
        args = message.get("args") or {}
        op = OPS.get(name) if isinstance(name, str) else None
        try:
            if op is None or not isinstance(args, dict):
                raise OpError("protocol", f"unknown request {name!r}: is this oee the engine's version?")
            if not allowed(session.role, op.action):
                await self.audit(session.caller, "denied", str(name), None, {"role": session.role.name.lower()})
                raise OpError("denied", _denial(session, op.action, op.describes))
            context = OpContext(self, session, request_id)
            result = await op.run(context, args)
            reply = {"id": request_id, "ok": True, "result": result}
        except OpError as exc:
            reply = {"id": request_id, "ok": False, "code": exc.code, "error": str(exc)}
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the engine goes on; the client hears what broke, the log has the rest
            log.exception("%s by %s failed", name, session.caller.who)
            reply = {"id": request_id, "ok": False, "code": "failed", "error": f"{type(exc).__name__}: {exc}"}
        with contextlib.suppress(ConnectionError, OSError):
            await session.stream.send(reply)

    async def audit(self, caller: Caller, kind: str, subject: str, before: object, after: object) -> None:
        """An entry in the store's audit trail; a store that cannot take it is logged, never hidden."""
        store = self.engine.store
        if store is None:
            return
        try:
            await asyncio.to_thread(store.append_audit, user=caller.who, origin=caller.origin, kind=kind,
                                    subject=subject, before=before, after=after)
        except Exception:
            log.exception("audit entry not written: %s %s by %s", kind, subject, caller.who)


def _denial(session: Session, action: Action, describes: str) -> str:
    need = minimum_role(action)
    needed = "" if need is None else f"; it needs the {need.name.lower()} role"
    return f"{session.caller.who} ({session.role.name.lower()}) may not {describes}{needed}"


def _who_may_connect(group: str | None) -> str:
    return "only its owner may connect" if group is None else f"owner and group {group} may connect"


def _bound_socket(path: Path, group: str | None) -> socket.socket:
    """A listening socket at `path`, with its mode and group in place before it appears there.

    Bound under a temporary name, given 0600 (0660 with a group), then renamed over `path`: a client
    never finds the socket with looser permissions than the config says. A socket file left by an
    engine that died is replaced; one that answers means another engine serves this data dir.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with addressable(path) as address:
                probe.connect(address)
        except OSError:
            pass  # nobody listens: left by an engine that died
        else:
            raise RuntimeError(f"another engine already serves {path}")
        finally:
            probe.close()
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with addressable(temporary) as address:
            sock.bind(address)
        if group is None:
            os.chmod(temporary, 0o600)
        else:
            os.chown(temporary, -1, grp.getgrnam(group).gr_gid)
            os.chmod(temporary, 0o660)
        os.replace(temporary, path)
        sock.listen(64)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    return sock
