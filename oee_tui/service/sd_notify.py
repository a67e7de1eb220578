"""Telling systemd how the service is doing: READY=1, STATUS=..., WATCHDOG=1 and STOPPING=1 (sd_notify(3)).

Written here rather than taken from a library: python's `sdnotify` has been unmaintained since 2019, and
`systemd-python` builds against libsystemd's headers. systemd documents the protocol as stable for
independent implementations (https://systemd.io/PORTABILITY_AND_STABILITY/ and sd_notify(3)): one datagram
of newline-separated KEY=VALUE lines to the AF_UNIX socket named by $NOTIFY_SOCKET, where a name that
starts with @ is in the abstract namespace. Without $NOTIFY_SOCKET (not started by systemd, or not
Type=notify) every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


class SystemdNotifier:
    """Sends state lines to systemd's notify socket. Never raises: systemd not listening must not stop
    the plant; the first failure is logged."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        # A VSOCK address (vsock:CID:PORT, for VMs) is not a path: this service runs on the box itself.
        self._address = "\0" + address[1:] if address.startswith("@") else address
        self._socket: socket.socket | None = None
        self._failed = False
        self.watchdog_interval_s = _watchdog_interval(env)

    @property
    def enabled(self) -> bool:
        return bool(self._address) and not self._address.startswith("vsock:")

    def notify(self, *lines: str) -> bool:
        """Send the lines as one message; whether it went out."""
        if not self.enabled:
            return False
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.sendto("\n".join(lines).encode("utf-8"), self._address)
        except OSError as exc:
            if not self._failed:
                self._failed = True
                log.warning("cannot notify systemd at %s: %s", self._address.replace("\0", "@"), exc)
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.notify("READY=1", f"STATUS={status}")

    def status(self, status: str) -> bool:
        return self.notify(f"STATUS={status}")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self, status: str) -> bool:
        return self.notify("STOPPING=1", f"STATUS={status}")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    """Half of WatchdogSec=, as systemd advises, when the watchdog is meant for this process (WATCHDOG_PID,
    when set, names it); None when there is no watchdog."""
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2_000_000
