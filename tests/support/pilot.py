"""Driving a Textual app in a test: let it settle, or wait until something shows."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual import events
from textual.pilot import Pilot

TIMEOUT = 15.0


async def settle(pilot: Pilot[Any]) -> None:
    """Let pending messages run, every worker finish, and the messages they posted run too."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def until(pilot: Pilot[Any], condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    """Let messages and workers run until `condition` holds: a worker may start another (a tree node's
    load), and a broker or engine may answer later."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        await settle(pilot)
        if not condition():
            await pilot.pause(0.02)


async def burst(pilot: Pilot[Any], *keys: str) -> None:
    """Delivers `keys` as a terminal does when they are typed faster than the app handles them (a fast typist,
    a paste, tmux send-keys): all in the app's queue at once. `pilot.press` waits for the app to go idle after
    each key, which hides any key that overtakes the one before it."""
    app = pilot.app
    for key in keys:
        character = key if len(key) == 1 else None
        name = {" ": "space", ".": "full_stop", "/": "slash", "-": "minus", "_": "underscore"}.get(key, key)
        event = events.Key(name, character)
        event.set_sender(app)
        app.post_message(event)
    await settle(pilot)
