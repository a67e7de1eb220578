"""What systemd listens on for sd_notify messages: an AF_UNIX datagram socket the test binds, with a thread
that keeps every message and when it came."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class NotifySocket:
    """What systemd listens on: a datagram socket; a thread keeps every message with its arrival time."""

    address: str  # as NOTIFY_SOCKET gives it
    sock: socket.socket
    messages: list[tuple[float, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [line for _at, message in list(self.messages) for line in message.split("\n")]

    def received(self, line: str) -> bool:
        return line in self.lines()

    def times_of(self, line: str) -> list[float]:
        return [at for at, message in list(self.messages) if line in message.split("\n")]


@contextlib.contextmanager
def notify_socket(address: str, bind_to: str) -> Iterator[NotifySocket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(bind_to)
    sock.settimeout(0.05)
    listener = NotifySocket(address, sock)
    done = threading.Event()

    def receive() -> None:
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                listener.messages.append((time.monotonic(), sock.recv(4096).decode()))

    thread = threading.Thread(target=receive, daemon=True)
    thread.start()
    try:
        yield listener
    finally:
        done.set()
        thread.join()
        sock.close()
