"""node-opcua, an OPC UA stack independent of asyncua, as a server process for the driver's tests.

node_opcua/package.json pins the version. It is installed once into a cache dir named by
the file's hash (OEE_TEST_CACHE, else ~/.cache/oee-tui-tests), so a changed pin installs
afresh and parallel workers share one install. `python -m tests.drivers.opcua.node_opcua_server`
installs it ahead of the run (test.sh does).

Without node or npm the tests fail and say what to install; they skip only when npm
is there but no registry can give the package (the reason carries npm's own words).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

import pytest

HERE = Path(__file__).parent / "node_opcua"
PACKAGE_JSON = HERE / "package.json"
SERVER_JS = HERE / "server.js"
NAMESPACE_URI = "urn:oee-tui:node-opcua-test"
INSTALL_TIMEOUT_S = 600
START_TIMEOUT_S = 60
START_ATTEMPTS = 5


class RegistryUnavailable(RuntimeError):
    """npm ran but could not fetch the package: no registry can give it here."""


def cache_root() -> Path:
    return Path(os.environ.get("OEE_TEST_CACHE") or Path.home() / ".cache" / "oee-tui-tests")


def install_dir() -> Path:
    digest = hashlib.sha256(PACKAGE_JSON.read_bytes()).hexdigest()[:12]
    return cache_root() / f"node-opcua-{digest}"


def missing_tools() -> list[str]:
    return [tool for tool in ("node", "npm") if shutil.which(tool) is None]


def ensure_installed() -> Path:
    """The node_modules dir holding node-opcua, installing it first if needed."""
    target = install_dir()
    modules = target / "node_modules"
    if (modules / "node-opcua" / "package.json").exists():
        return modules
    missing = missing_tools()
    if missing:
        raise FileNotFoundError(f"{' and '.join(missing)} not found: the node-opcua tests need Node.js 18 or "
                                f"newer with npm (apt-get install nodejs npm, or ./test.sh, which installs them)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another xdist worker may be installing it right now
        if (modules / "node-opcua" / "package.json").exists():
            return modules
        staging = Path(tempfile.mkdtemp(prefix=f"{target.name}.", dir=target.parent))
        try:
            shutil.copy(PACKAGE_JSON, staging / "package.json")
            done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
                                  cwd=staging, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
            if done.returncode != 0:
                raise RegistryUnavailable(f"npm install node-opcua failed (rc {done.returncode}): "
                                          f"{(done.stderr or done.stdout).strip()[-800:]}")
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)  # whole or not at all: a half install is never taken for a whole one
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return modules


def node_modules_or_skip() -> Path:
    """For a fixture: the install, failing the test when node/npm are missing, skipping when no registry answers."""
    try:
        return ensure_installed()
    except FileNotFoundError as exc:
        pytest.fail(str(exc), pytrace=False)
    except RegistryUnavailable as exc:
        pytest.skip(f"node-opcua cannot be installed here: {exc}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class NodeOpcUaServer:
    """server.js under node: Line3.{Count,Running,Speed} in NAMESPACE_URI, at index 2 + padding."""

    def __init__(self, node_modules: Path, pki_dir: Path) -> None:
        self.node_modules = node_modules
        self.pki_dir = pki_dir
        self.port = free_port()
        self.namespace_index = 0
        self._process: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._log = pki_dir.parent / f"node-opcua-{self.port}.log"

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}/oee"

    def node_id(self, name: str) -> str:
        return f"nsu={NAMESPACE_URI};s=Line3.{name}"

    def start(self, padding: int = 1) -> None:
        # A restart on the same port can find it still held for a moment by the last run's sockets: the
        # server then exits at once; try again a few times before calling it a failure.
        for attempt in range(START_ATTEMPTS):
            ready = self._start_once(padding)
            if ready.startswith("READY "):
                self.namespace_index = int(ready.split()[2])
                return
            self.stop()
            if ready != "(the server exited)" or attempt == START_ATTEMPTS - 1:
                log = self._log.read_text(errors="replace")[-2000:] if self._log.exists() else ""
                raise RuntimeError(f"node-opcua server did not start: {ready!r}; its stderr: {log}")
            time.sleep(0.5)

    def _start_once(self, padding: int) -> str:
        env = dict(os.environ, NODE_PATH=str(self.node_modules))
        self._lines = queue.Queue()
        with self._log.open("w") as log:
            self._process = subprocess.Popen(
                ["node", str(SERVER_JS), str(self.port), str(self.pki_dir), str(padding)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
        assert self._process.stdout is not None
        threading.Thread(target=self._read, args=(self._process.stdout,), daemon=True).start()
        return self._answer(START_TIMEOUT_S)

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line.strip())
        self._lines.put(None)

    def _answer(self, timeout: float) -> str:
        while True:
            line = self._lines.get(timeout=timeout)
            if line is None:
                return "(the server exited)"
            if line.startswith(("READY", "OK", "ERROR")):
                return line

    def set(self, name: str, value: int | float | bool) -> None:
        assert self._process is not None and self._process.stdin is not None
        text = str(value).lower() if isinstance(value, bool) else str(value)
        self._process.stdin.write(f"set {name} {text}\n")
        self._process.stdin.flush()
        answer = self._answer(10)
        assert answer == "OK", answer

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(OSError):
            assert process.stdin is not None
            process.stdin.close()  # server.js shuts down when its stdin closes
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    print(ensure_installed())
