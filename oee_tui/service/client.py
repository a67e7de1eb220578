"""Attaching to the engine that serves a data dir: requests, their answers, and the live plant it pushes.

`EngineClient.attach` raises `NoEngine` when nothing serves the data dir (then the caller works
standalone, owning the store as before); `AttachRefused` when an engine runs but will not take this
user (the socket's permissions, no role, a shared login without a name and PIN). Once attached, a
request the engine cannot answer raises `EngineRefused` with its words; losing the engine raises
`EngineLost` for every request in flight: nothing is silently dropped, and the caller says it was not
confirmed.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from oee_tui.model import PlantSnapshot
from oee_tui.service.snapshot_mirror import SnapshotMirror
from oee_tui.service.socket_path import addressable, socket_path
from oee_tui.service.wire import MessageStream, ProtocolError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S: Final = 5.0
PartHandler = Callable[[dict[str, Any]], None]


class NoEngine(Exception):
    """Nothing serves this data dir: work standalone."""


class AttachRefused(Exception):
    """An engine serves this data dir but does not take this user (yet)."""

    def __init__(self, code: str, message: str, people: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.code = code  # "permission" (socket), "denied" (role), "person" (shared login: name and PIN)
        self.people = people


class EngineRefused(Exception):
    """The engine answered a request with a refusal or a failure, in its words."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class EngineLost(Exception):
    """The engine went away before it answered."""


class EngineClient:
    def __init__(self, stream: MessageStream, hello: dict[str, Any]) -> None:
        self.stream = stream
        self.hello = hello
        self.mirror = SnapshotMirror()
        self.on_snapshot: Callable[[PlantSnapshot], None] | None = None
        self.on_lost: Callable[[str], None] | None = None
        self.lost: str | None = None  # why the engine is gone, once it is
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[asyncio.Future[Any], PartHandler | None]] = {}
        self._reader = asyncio.create_task(self._read(), name="engine-client")

    @property
    def pid(self) -> int:
        return int(self.hello["pid"])

    @property
    def role(self) -> str:
        return str(self.hello["role"])

    @classmethod
    async def attach(cls, data_dir: Path, *, origin: str, person: str | None = None, pin: str | None = None,
                     timeout_s: float = CONNECT_TIMEOUT_S) -> EngineClient:
        path = socket_path(data_dir)
        if not path.exists():
            raise NoEngine(f"no engine serves {data_dir}")
        try:
            with addressable(path) as address:
                reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(address), timeout_s)
        except PermissionError as exc:
            raise AttachRefused("permission", f"an engine serves {data_dir}, but {path} does not let you "
                                f"connect ({exc.strerror}); ask for the group in [access] socket_group") from exc
        except (ConnectionRefusedError, FileNotFoundError) as exc:
            raise NoEngine(f"no engine serves {data_dir} ({path} is left from one that stopped)") from exc
        except OSError as exc:
            if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):
                raise NoEngine(f"no engine serves {data_dir}") from exc
            raise
        stream = MessageStream(reader, writer, trusted_records=True)
        args: dict[str, Any] = {"origin": origin}
        if person is not None:
            args.update(person=person, pin=pin or "")
        try:
            await stream.send({"id": 0, "op": "hello", "args": args})
            answer = await asyncio.wait_for(stream.receive(), timeout_s)
        except (ConnectionError, TimeoutError) as exc:
            await stream.close()
            raise NoEngine(f"the engine of {data_dir} did not answer ({exc or 'timed out'})") from exc
        if answer is None:
            await stream.close()
            raise NoEngine(f"the engine of {data_dir} hung up")
        if not answer.get("ok"):
            await stream.close()
            raise AttachRefused(str(answer.get("code")), str(answer.get("error")), tuple(answer.get("people") or ()))
        return cls(stream, dict(answer["result"]))

    async def call(self, op: str, /, *, on_part: PartHandler | None = None, **args: Any) -> Any:
        """Run `op` in the engine and return its result; raises EngineRefused or EngineLost."""
        if self.lost is not None:
            raise EngineLost(f"not sent: {self.lost}")
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (future, on_part)
        try:
            await self.stream.send({"id": request_id, "op": op, "args": args})
        except (ConnectionError, OSError) as exc:
            self._pending.pop(request_id, None)
            raise EngineLost(f"not sent: the engine (pid {self.pid}) is gone ({exc})") from exc
        try:
            return await future
        finally:
            self._pending.pop(request_id, None)

    async def subscribe(self) -> None:
        await self.call("subscribe")

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self.stream.close()

    async def _read(self) -> None:
        why = "the engine closed the connection"
        try:
            while (message := await self.stream.receive()) is not None:
                self._dispatch(message)
        except asyncio.CancelledError:
            why = "detached"
            raise
        except (ConnectionError, OSError) as exc:
            why = f"the connection to the engine broke ({exc})"
        except ProtocolError as exc:
            why = f"its answer could not be read ({exc}): is this oee the same version as the engine's?"
            await self.stream.close()
            self._lose(f"the engine (pid {self.hello.get('pid')}) is lost: {why}")
        finally:
            self._lose(f"the engine (pid {self.hello.get('pid')}) stopped: {why}" if why != "detached" else why)

    def _dispatch(self, message: dict[str, Any]) -> None:
        if message.get("push") == "snapshot":
            snapshot = self.mirror.apply(message)
            if self.on_snapshot is not None:
                self.on_snapshot(snapshot)
            return
        pending = self._pending.get(message.get("id"))  # type: ignore[arg-type]
        if pending is None:
            return
        future, on_part = pending
        if "part" in message:
            if on_part is not None:
                on_part(message["part"])
            return
        if future.done():
            return
        if message.get("ok"):
            future.set_result(message.get("result"))
        else:
            future.set_exception(EngineRefused(str(message.get("code")), str(message.get("error"))))

    def _lose(self, why: str) -> None:
        if self.lost is not None:
            return
        self.lost = why
        for future, _ in self._pending.values():
            if not future.done():
                future.set_exception(EngineLost(f"{why}; the request was not confirmed"))
        if self.on_lost is not None and why != "detached":
            self.on_lost(why)


def engine_serves(data_dir: Path) -> bool:
    """Whether an engine listens on `data_dir`'s socket now (a quick connect, before any loop runs).

    True also when it listens but this user may not connect: attaching then says so, where opening
    the store would only say that it is in use.
    """
    import socket

    path = socket_path(data_dir)
    if not path.exists():
        return False
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with addressable(path) as address:
            probe.connect(address)
    except PermissionError:
        return True
    except OSError:
        return False
    finally:
        probe.close()
    return True
