"""Running a command in the engine that serves the data dir, when one does.

Every command that reads or writes the store asks here first: attached, the engine does the work on
its own connection (the command's user and role checked there) and the command prints what comes
back; with no engine, the command owns the store itself, as it always did. The user does not choose.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

from oee_tui.commands.common import EXIT_FAILURE, EXIT_LOCKED, EXIT_USAGE
from oee_tui.service.client import (
    AttachRefused,
    EngineClient,
    EngineLost,
    EngineRefused,
    NoEngine,
    engine_serves,
)
from oee_tui.service.session_origin import local_origin

EXIT_DENIED: Final = 6  # the engine refused: this user's role may not do that
PERSON_VARIABLE: Final = "OEE_PERSON"  # on a shared login, who is at the keyboard (the PIN is asked for)

Work = Callable[[EngineClient], Awaitable[int]]


def in_engine(store_dir: Path, command: str, work: Work) -> int | None:
    """Run `work` attached to the engine serving `store_dir`; its exit code, or None when no engine serves it.

    What the engine refuses, and losing it mid-request, end here with one line on stderr and an exit code.
    """
    if not engine_serves(store_dir):
        return None  # decided without an event loop: a command called from one (a test, a script) runs as before
    async def attached() -> int | None:
        try:
            client = await _attach(store_dir)
        except NoEngine:
            return None
        except AttachRefused as exc:
            print(f"{command}: {exc}", file=sys.stderr)
            return EXIT_LOCKED
        try:
            return await work(client)
        except EngineRefused as exc:
            print(f"{command}: {exc}", file=sys.stderr)
            return {"denied": EXIT_DENIED, "bad_request": EXIT_USAGE, "not_found": EXIT_USAGE}.get(exc.code,
                                                                                                    EXIT_FAILURE)
        except EngineLost as exc:
            print(f"{command}: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        finally:
            await client.close()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(attached())
    # Called from a running loop (a script's own): the engine is talked to from a thread with a loop of its own.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, attached()).result()


async def _attach(store_dir: Path) -> EngineClient:
    client, _ = await attach_at_terminal(store_dir)
    return client


async def attach_at_terminal(store_dir: Path) -> tuple[EngineClient, tuple[str, str] | None]:
    """Attach as this terminal's user; on a shared login, as the person named by OEE_PERSON or asked for,
    with the PIN asked for (never taken from the environment or the command line). Returns the client
    and the (person, PIN) given, for a TUI that attaches again with them after losing the engine."""
    origin = local_origin()
    person = os.environ.get(PERSON_VARIABLE)
    try:
        return await EngineClient.attach(store_dir, origin=origin), None
    except AttachRefused as exc:
        if exc.code != "person" or not sys.stdin.isatty():
            if exc.code == "person":
                raise AttachRefused(exc.code, f"{exc}: set {PERSON_VARIABLE} and run it at a terminal, which asks "
                                    "for the PIN", exc.people) from exc
            raise
        names = ", ".join(exc.people)
        if person is None:
            person = input(f"{exc} ({names})\nname: ").strip()
        pin = getpass.getpass(f"PIN for {person}: ")
        return await EngineClient.attach(store_dir, origin=origin, person=person, pin=pin), (person, pin)
