"""Where this session comes from, for the audit trail: an SSH client's address, else the terminal."""

from __future__ import annotations

import os


def local_origin() -> str:
    """"ssh 10.1.2.3" for a session over SSH, "tty /dev/pts/4" at a terminal, else "local"."""
    connection = os.environ.get("SSH_CONNECTION") or os.environ.get("SSH_CLIENT")
    if connection:
        return f"ssh {connection.split()[0]}"
    for fd in (0, 1, 2):
        try:
            return f"tty {os.ttyname(fd)}"
        except OSError:
            continue
    return "local"
