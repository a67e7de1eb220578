"""Source kind "sparkplug": the Sparkplug B host application, run in a worker process.

The engine's process has one GIL for paho's network thread, the decoding and the engine's own
work; at 10,000 DDATA messages a second they take turns, and on two cores the host path is
about a third slower than with the host beside it (README, Benchmarks). So each connection of a Sparkplug source starts
``python -m oee_tui.drivers.sparkplug.worker``, which runs the whole host
(:class:`oee_tui.drivers.sparkplug.host_driver.SparkplugDriver`: session, STATE, births, seq, aliases,
rebirth requests, the tag filter) and sends resolved samples back as columns, which go to the
engine as they are (:class:`SampleColumns`: no TagSample is built for a GOOD sample).

To the acquisition runner this is an ordinary driver: connect() returns once the worker is
connected, subscribed and has published STATE online; run() raises DriverError when the
worker loses its broker or dies; close() asks for a clean close (STATE offline, DISCONNECT)
and waits for the worker to exit. A worker whose engine disappears sees its stdin close and
exits too, and the broker publishes the STATE will. The worker's log lines are logged here
under their own logger names, and what it writes to stderr is logged as a warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from oee_tui.config import TagMapping
from oee_tui.drivers.base import Driver, DriverError, EmitFn
from oee_tui.drivers.mqtt_base import DEAD_LETTERS_KEPT, DeadLetterFn
from oee_tui.drivers.sparkplug.frames import encode, read_frame
from oee_tui.drivers.sparkplug.host_driver import (
    HISTORY_KEPT,
    BirthsFn,
    CounterWidthsFn,
    HistoricalFn,
    SparkplugDriver,
)
from oee_tui.drivers.sparkplug.sparkplug_source import SparkplugSource
from oee_tui.model import BornMetrics, DeadLetter, SampleColumns, TagSample, good_samples

log = logging.getLogger(__name__)

WORKER_MODULE: Final = "oee_tui.drivers.sparkplug.worker"
START_ALLOWANCE_S: Final = 5.0  # a cold interpreter importing paho on a busy machine, on top of the connect
CLOSE_WAIT_S: Final = 5.0  # a clean close publishes STATE offline and waits for its PUBACK first
_PACKAGE_ROOT: Final = str(Path(__file__).resolve().parents[3])


class SparkplugProcessDriver(Driver):
    """A Sparkplug B host application on one broker, in a worker process; emits every mapped metric.

    Tags, settings, dead letters and historical metrics behave as :class:`SparkplugDriver`'s
    (its docstring); ``dropped``, ``dead_letter_count`` and ``rebirths_sent`` are the worker's.
    """

    source: SparkplugSource

    def __init__(self, source: SparkplugSource, tags: Sequence[TagMapping], *,
                 on_dead_letter: DeadLetterFn | None = None, on_historical: HistoricalFn | None = None,
                 on_counter_widths: CounterWidthsFn | None = None, on_births: BirthsFn | None = None) -> None:
        super().__init__(source, tags)
        # The settings are checked here, as an in-process host would, so a bad config fails
        # before any process starts; the worker builds its own host from the same source.
        self.host = SparkplugDriver(source, tags)
        self.settings = self.host.settings
        self.client_id = self.host.client_id
        self.on_dead_letter = on_dead_letter
        self.on_historical = on_historical
        self.dead_letters: deque[DeadLetter] = deque(maxlen=DEAD_LETTERS_KEPT)
        self.historical: deque[TagSample] = deque(maxlen=HISTORY_KEPT)
        self.on_counter_widths = on_counter_widths
        self.counter_widths: dict[str, int] = {}
        self.on_births = on_births
        self.births: deque[BornMetrics] = deque(maxlen=HISTORY_KEPT)
        self.dead_letter_count = 0
        self.dropped = 0
        self.rebirths_sent = 0
        self._process: asyncio.subprocess.Process | None = None
        self._stderr_task: asyncio.Task[None] | None = None

    @property
    def where(self) -> str:
        return self.host.where

    @property
    def subscriptions(self) -> list[str]:
        return self.host.subscriptions

    @property
    def connect_timeout_s(self) -> float:
        return self.source.timeout_s + START_ALLOWANCE_S

    @property
    def pid(self) -> int | None:
        """The host process's id while one runs (for ps and top: it is where the decoding happens)."""
        return None if self._process is None else self._process.pid

    # ------------------------------------------------------------ connect

    async def connect(self) -> None:
        await self.close()  # a driver may be connected again after a loss or close()
        env = dict(os.environ)
        # The worker imports this same package, also when it was found through sys.path (a checkout).
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", WORKER_MODULE, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
                start_new_session=True)  # Ctrl+C and a closed terminal reach the engine, which closes it
        except OSError as exc:
            raise DriverError(f"{self.where}: cannot start the host process: {exc}") from None
        self._process = process
        self._stderr_task = asyncio.ensure_future(self._log_stderr(process))
        # The settings, password included, go through the pipe: never on a command line.
        await self._send(process, ("start", self.source, self.tags, logging.getLogger().getEffectiveLevel()))
        while True:
            message = await self._next(process)
            if message is None:
                raise DriverError(f"{self.where}: {await self._ended('before it connected')}")
            kind = message[0]
            if kind == "connected":
                return
            if kind == "failed":
                _, error_type, text = message
                if error_type == "TimeoutError":
                    raise TimeoutError(text)
                raise DriverError(text if error_type == "DriverError" else f"{self.where}: {error_type}: {text}")
            self._handle(message)

    # ------------------------------------------------------------ run

    async def run(self, emit: EmitFn) -> None:
        process = self._process
        if process is None:
            raise DriverError(f"{self.where}: run() before connect()")
        source = self.source.name
        while True:
            message = await self._next(process)
            if message is None:
                raise DriverError(f"{self.where}: {await self._ended('unexpectedly')}")
            kind = message[0]
            if kind == "samples":
                await emit(SampleColumns(source, *message[1:]) if len(message) == 4 else message[1])
            elif kind == "lost":
                raise DriverError(message[1])
            else:
                self._handle(message)

    def _handle(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "read":
            self.record_read(message[1], message[2])
        elif kind == "counters":
            _, self.dropped, self.dead_letter_count, self.rebirths_sent = message
        elif kind == "dead":
            for letter in message[1]:
                if self.on_dead_letter is not None:
                    self.on_dead_letter(letter)
                else:
                    self.dead_letters.append(letter)
        elif kind == "historical":
            samples = good_samples(self.source.name, *message[1:]) if len(message) == 4 else message[1]
            if self.on_historical is not None:
                self.on_historical(samples)
            else:
                self.historical.extend(samples)
        elif kind == "widths":
            if self.on_counter_widths is not None:
                self.on_counter_widths(message[1])
            else:
                self.counter_widths.update(message[1])
        elif kind == "births":
            if self.on_births is not None:
                self.on_births(message[1])
            else:
                self.births.extend(message[1])
        elif kind == "log":
            _, name, level, text = message
            logging.getLogger(name).log(level, "%s", text)

    # ------------------------------------------------------------ the pipe

    @staticmethod
    async def _send(process: asyncio.subprocess.Process, message: Any) -> None:
        if process.stdin is None:
            return
        with contextlib.suppress(ConnectionError):  # the worker exited: its stdout says why
            process.stdin.write(encode(message))
            await process.stdin.drain()

    @staticmethod
    async def _next(process: asyncio.subprocess.Process) -> Any | None:
        assert process.stdout is not None
        return await read_frame(process.stdout)

    async def _ended(self, when: str) -> str:
        """Why the worker's stream ended: its exit code (its stderr is logged as it comes)."""
        process = self._process
        code = None
        if process is not None:
            with contextlib.suppress(TimeoutError):
                code = await asyncio.wait_for(process.wait(), 2.0)
        return f"the Sparkplug host process ended {when}" + ("" if code is None else f" (exit code {code})")

    async def _log_stderr(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        while line := await process.stderr.readline():
            log.warning("%s: host process: %s", self.where, line.decode("utf-8", "replace").rstrip())

    # ------------------------------------------------------------ close

    async def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:
            if process.returncode is None:
                await self._send(process, ("close",))
                await asyncio.wait_for(self._drain_until_exit(process), CLOSE_WAIT_S)
        except Exception as exc:  # close() never raises
            log.warning("%s: the host process did not close cleanly (%s); stopping it", self.where,
                        type(exc).__name__)
        finally:
            if process.returncode is None:  # also when close() itself is cancelled
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            stderr_task, self._stderr_task = self._stderr_task, None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(process.wait(), 1.0)
                if stderr_task is not None:
                    await asyncio.wait_for(stderr_task, 1.0)

    async def _drain_until_exit(self, process: asyncio.subprocess.Process) -> None:
        """Read what the worker still sends while it closes (dead letters, counters, logs), then
        wait for it; samples are dropped, since nobody is listening for them any more."""
        while (message := await self._next(process)) is not None:
            if message[0] not in ("samples", "lost"):
                self._handle(message)
        await process.wait()
