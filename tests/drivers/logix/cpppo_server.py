"""cpppo's EtherNet/IP Logix simulator in a process of its own: another stack than pycomm3's peer in
logix_server.py, and one that cannot serve the tag-list upload (the reason tag_upload = false exists).

Values are written with cpppo's own client, since pycomm3 1.2.16 sends single-tag writes that
cpppo rejects (LIBRARY-NOTES).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class CpppoServer:
    """`python -m cpppo.server.enip` serving `tags` ("Name=DINT", "Counts=DINT[10]") on a free loopback port."""

    def __init__(self, *tags: str) -> None:
        self.tags = tags
        self.port = _free_port()
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "cpppo.server.enip", "--no-config", "-a", f"127.0.0.1:{self.port}", *self.tags],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while True:  # it prints nothing reliable when ready; it is ready when it accepts
            if self._process.poll() is not None:
                assert self._process.stderr is not None
                raise RuntimeError(f"cpppo exited: {self._process.stderr.read().decode(errors='replace')[-500:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def write(self, *assignments: str) -> None:
        """cpppo's client: "Line1Count=(DINT)42"."""
        done = subprocess.run([sys.executable, "-m", "cpppo.server.enip.client", "--address",
                               f"127.0.0.1:{self.port}", *assignments], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr[-500:]

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
