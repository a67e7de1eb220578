"""Keys in the order they were typed: each key waits until the one before it has been dealt with.

Textual's app forwards a key to the focused widget's message queue and takes the next key at
once. A key the widget does not take itself (Tab, Enter, an arrow) then travels back up the
DOM, one message queue at a time, to the app, where its binding runs: by then the keys typed
after it have already been forwarded to the widget the key was about to leave. A burst such
as `n 1 Tab 1 2 7 . 0 . 0 . 1` on a form filled one field with everything and left the next
one empty. So the app holds each key until the previous one has gone all the way up: a
callback follows the key up the same queues (each queue runs it after the key), and when it
reaches the app the key's binding has run and the next key may go.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Final

from textual import events
from textual.app import App
from textual.message_pump import MessagePump
from textual.timer import Timer

# Should a key's trail be lost (its widget removed while the key was on its way up), the keys
# behind it go after this long rather than never.
LOST_KEY_TIMEOUT: Final = 0.5

Deliver = Callable[[events.Key], Awaitable[None]]


class KeyOrder:
    """Holds a typed key while the one before it is still on its way; `deliver` hands a key to Textual."""

    def __init__(self, app: App[Any], deliver: Deliver) -> None:
        self._app = app
        self._deliver = deliver
        self._held: deque[events.Key] = deque()
        self._in_flight = 0  # the number of the key on its way up, 0 for none
        self._numbered = 0
        self._lost_timer: Timer | None = None

    async def typed(self, key: events.Key) -> None:
        """A key from the terminal: delivered now if nothing is on its way, else after those before it."""
        self._held.append(key)
        if not self._in_flight:
            await self._deliver_held()

    async def _deliver_held(self) -> None:
        while self._held and not self._in_flight:
            key = self._held.popleft()
            # Where Textual will forward it, unless a priority binding takes it first (then nothing is in flight).
            target: MessagePump = self._app.focused or self._app.screen
            await self._deliver(key)
            if key.is_forwarded:
                self._follow(key, target)

    def _follow(self, key: events.Key, target: MessagePump) -> None:
        self._numbered += 1
        number = self._in_flight = self._numbered
        self._lost_timer = self._app.set_timer(LOST_KEY_TIMEOUT, lambda: self._arrived(number))
        if not target.call_later(self._climb, target, number):
            self._app.call_later(self._arrived, number)

    def _climb(self, node: MessagePump, number: int) -> None:
        """Runs in `node`'s queue after the key: the key has been handled there or passed to the parent."""
        parent = node._parent
        if parent is not None and parent is not self._app and parent.call_later(self._climb, parent, number):
            return
        self._app.call_later(self._arrived, number)

    async def _arrived(self, number: int) -> None:
        if number != self._in_flight:
            # A late trail of a key the timeout already let go, or the timeout of a key that arrived (Textual
            # starts a timer on the next message, so stopping it at once may come too early to cancel it).
            return
        self._in_flight = 0
        if self._lost_timer is not None:
            self._lost_timer.stop()
            self._lost_timer = None
        await self._deliver_held()
