"""Who owns a data directory: an fcntl lock on `oee.lock` that names its holder.

DuckDB allows one writing process per file. Its own lock error names only a PID and an
interpreter path, so the store takes this lock first and records which command holds it:
a second `oee` can then say which program to stop.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import re
import sys
import time
from pathlib import Path
from typing import Final

import duckdb

from oee_tui.store.failures import StoreWriteError, reason_of

log = logging.getLogger(__name__)

LOCK_FILENAME: Final = "oee.lock"


class StoreLockedError(Exception):
    """Another process (or another Store in this one) has the data directory open."""

    def __init__(self, path: Path, pid: int | None, command: str | None) -> None:
        self.path = path
        self.pid = pid
        self.command = command
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.pid is None:
            owner = "another process"
        elif self.command:
            owner = f"process {self.pid} ({self.command})"
        else:
            owner = f"process {self.pid}"
        return f"the store in {self.path} is in use by {owner}; stop it first, or point --data-dir elsewhere"


def acquire_lock(data_dir: Path) -> int:
    """Take the exclusive lock on data_dir/oee.lock and record our pid and command line in it.

    flock (not a PID file) because the kernel drops it when the process dies, so a crash
    never leaves a stale lock behind. The file is opened non-inheritable, so child
    processes (brokers, simulators) started by the engine do not keep the lock alive.
    """
    lock_path = data_dir / LOCK_FILENAME
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise StoreWriteError(data_dir, f"{lock_path} cannot be opened: {reason_of(exc)}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            os.close(fd)
            raise
        pid, command = _read_owner(fd)
        os.close(fd)
        raise StoreLockedError(data_dir, pid, command) from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n{' '.join(sys.argv)}\n".encode(), 0)
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            release_lock(fd)
            raise
        # The note only names us to a second process; the lock itself holds without it. A full
        # disk must not stop a command that only reads (`oee report`); writers find out soon enough.
        log.info("the store lock %s holds, but naming its owner in it failed: %s", lock_path, exc.strerror)
    return fd


def _read_owner(fd: int) -> tuple[int | None, str | None]:
    # The owner writes its pid just after taking the lock; give it a moment rather than report "unknown".
    deadline = time.monotonic() + 0.5
    while True:
        text = os.pread(fd, 65536, 0).decode("utf-8", "replace")
        if text.strip() or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    first, _, rest = text.partition("\n")
    try:
        pid: int | None = int(first.strip())
    except ValueError:
        pid = None
    command = rest.strip() or None
    return pid, command


def release_lock(fd: int) -> None:
    # Empty the file rather than delete it: unlinking a flock file races with a process that
    # has just opened the old inode and would then "hold" a lock nobody else can see.
    try:
        os.ftruncate(fd, 0)
    except OSError:
        log.warning("could not clear the store lock file", exc_info=True)
    finally:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


_DUCKDB_LOCK = re.compile(r"Conflicting lock is held in (?P<cmd>.*?) \(PID (?P<pid>\d+)\)")


def locked_by_duckdb(data_dir: Path, exc: duckdb.IOException) -> StoreLockedError:
    """Someone opened oee.duckdb without our lock file (the duckdb CLI, an old oee): name them."""
    match = _DUCKDB_LOCK.search(str(exc))
    if match is None:
        return StoreLockedError(data_dir, None, None)
    return StoreLockedError(data_dir, int(match["pid"]), match["cmd"])
