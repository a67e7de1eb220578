"""A small real file system for disk-full tests: a tmpfs of a few MB, mounted for one test (root
only, as here and in CI), that a test fills with a ballast file and frees again."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


class SmallDisk:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.ballast = root / "ballast"

    def fill(self) -> None:
        """Take every free byte, so that the next write of anything else fails with ENOSPC."""
        chunk = b"\0" * (1 << 16)
        with open(self.ballast, "ab", buffering=0) as out:
            for size in (1 << 16, 4096, 1):
                with contextlib.suppress(OSError):
                    while True:
                        try:
                            out.write(chunk[:size])
                        except OSError as exc:
                            if exc.errno != errno.ENOSPC:
                                raise
                            break
        assert os.statvfs(self.root).f_bavail == 0

    def free(self) -> None:
        self.ballast.unlink(missing_ok=True)


@contextlib.contextmanager
def small_disk(where: Path, size_mb: int = 24) -> Iterator[SmallDisk]:
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(where)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"a tmpfs cannot be mounted here (needs root): {mounted.stderr.strip()}")
    try:
        yield SmallDisk(where)
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
