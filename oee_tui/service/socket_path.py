"""Where a data dir's engine listens, and how to name that place in the 108 bytes AF_UNIX allows."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Final

SOCKET_FILENAME: Final = "oee.sock"
_SUN_PATH_MAX: Final = 107  # sockaddr_un.sun_path is 108 bytes with its NUL


def socket_path(data_dir: Path) -> Path:
    return data_dir / SOCKET_FILENAME


@contextlib.contextmanager
def addressable(path: Path) -> Iterator[str]:
    """`path` as an address bind() and connect() take, however deep its folder is.

    A long data dir (a home on a network mount, a test's tmp dir) is reached through the folder's
    descriptor, /proc/self/fd/N/oee.sock (Linux), which the kernel resolves like the path itself.
    """
    text = os.fsencode(path)
    if len(text) <= _SUN_PATH_MAX:
        yield os.fsdecode(text)
        return
    fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)
