"""What a request to the engine is: a name, the action it needs a role for, and a handler run in the engine.

Handlers live in modules by job (`live_ops`, `query_ops`, `change_ops`) and are listed in `op_table`.
A handler gets the request's context (the engine, who asks, a way to stream parts of a long answer)
and its arguments as plain values, which it checks itself: a client is not trusted to send the types
it should. Changes write their audit entry through `context.audit`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from oee_tui.config import Config
from oee_tui.engine.api import PlantEngine
from oee_tui.model.access import Action, Caller
from oee_tui.store import Store

if TYPE_CHECKING:
    from oee_tui.service.server import EngineServer, Session

T = TypeVar("T")
Handler = Callable[["OpContext", Mapping[str, Any]], Awaitable[Any]]


class OpError(Exception):
    """A request the engine refuses or cannot carry out, in words for the person who asked.

    `code`: "denied" (the role), "bad_request" (arguments), "not_found", "failed", "protocol".
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Op:
    name: str
    action: Action
    describes: str  # "give stop reasons": what a denial says the person may not do
    run: Handler


class OpContext:
    def __init__(self, server: EngineServer, session: Session, request_id: object) -> None:
        self.server = server
        self.session = session
        self.request_id = request_id

    @property
    def engine(self) -> PlantEngine:
        return self.server.engine

    @property
    def config(self) -> Config:
        return self.server.engine.config

    @property
    def caller(self) -> Caller:
        return self.session.caller

    @property
    def data_dir(self) -> Path:
        return self.server.data_dir

    def store(self) -> Store:
        store = self.server.engine.store
        if store is None:
            raise OpError("failed", "this engine runs without a store")
        return store

    async def audit(self, kind: str, subject: str, before: object, after: object) -> None:
        await self.server.audit(self.caller, kind, subject, before, after)

    async def send_part(self, part: dict[str, Any]) -> None:
        """One part of a long answer (an export's bytes), before the answer itself."""
        await self.session.stream.send({"id": self.request_id, "part": part})

    async def in_thread(self, function: Callable[..., T], *args: Any) -> T:
        """Blocking work (DuckDB on a cursor of its own, files, devices), off the engine's loop."""
        return await asyncio.to_thread(function, *args)


def text_arg(args: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = args.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise OpError("bad_request", f"{key} must be text")
    return value


def number_arg(args: Mapping[str, Any], key: str) -> float:
    value = args.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OpError("bad_request", f"{key} must be a number")
    return float(value)
