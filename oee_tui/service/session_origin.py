"""Where this process's person sits, for the audit trail of what they change standalone: "ssh <client
address>", "tty /dev/pts/N", or "local".

The SSH variables are set by sshd for the session and inherited by everything in it, so they are
as good as the session's own word (an engine that serves others takes the caller from the socket
instead: `oee_tui.service`'s peer credentials).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping


def local_origin(environ: Mapping[str, str] | None = None,
                 terminal: Callable[[], str | None] | None = None) -> str:
    """"ssh <client address>" from SSH_CONNECTION (or SSH_CLIENT), else "tty <device>" of the controlling
    terminal on stdin, stdout or stderr, else "local". The arguments replace os.environ and that
    lookup (for tests)."""
    env = os.environ if environ is None else environ
    for variable in ("SSH_CONNECTION", "SSH_CLIENT"):
        client = env.get(variable, "").split()
        if client:
            return f"ssh {client[0]}"
    device = (terminal or _terminal)()
    return f"tty {device}" if device else "local"


def _terminal() -> str | None:
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd):
                return os.ttyname(fd)
        except OSError:  # closed, or a terminal with no name in /dev
            continue
    return None
