"""The Sparkplug B host application in a process of its own: ``python -m oee_tui.drivers.sparkplug.worker``.

Started by :class:`oee_tui.drivers.sparkplug.process.SparkplugProcessDriver`, one process per
connection. Here the whole host runs as it would in the engine (:class:`SparkplugDriver`:
paho's network thread, the session, births, seq, aliases, decoding, the tag filter), and what
it produces goes to the engine as frames (oee_tui.drivers.sparkplug.frames) on stdout. Receiving and
decoding then take a core of their own, and the engine's process keeps its GIL for the
engine: in one process they take turns, and the host path is about a third slower (README,
Benchmarks).

Engine -> worker, on stdin: ``("start", source, tags, log_level)``, then ``("close",)``. The end of
stdin means the engine is gone: the worker closes cleanly and exits.

Worker -> engine, on stdout:

* ``("connected", client_id)`` or ``("failed", exception type name, message)``
* ``("samples", times, tags, values)``: GOOD samples as columns; ``("samples", list)``: any
  other quality (a death marks metrics BAD); ``("historical", ...)`` the same for history
* ``("dead", [DeadLetter, ...])``, ``("read", latency_s, ok)``,
  ``("counters", dropped, dead letters, rebirths sent)``, ``("log", logger, level, text)``,
  ``("widths", {tag: bits})``: the counter widths a birth's datatypes give, before its samples
* ``("lost", message)``: the connection ended; then ``("closed",)`` and the process exits.

Anything a library prints goes to stderr, which the engine logs: stdout carries frames only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

from oee_tui.config import TagMapping
from oee_tui.drivers.sparkplug.frames import FrameWriter, read_frame_blocking
from oee_tui.drivers.sparkplug.sparkplug_source import SparkplugSource
from oee_tui.model import BornMetrics, DeadLetter, Quality, SampleBatch, SampleColumns, TagSample

_GOOD = Quality.GOOD
F_SETPIPE_SZ: Final = 1031  # Linux's fcntl command (fcntl.F_SETPIPE_SZ from Python 3.10, on Linux only)
PIPE_SIZE: Final = 1 << 20  # /proc/sys/fs/pipe-max-size allows this much to anyone by default


def sample_columns(samples: SampleBatch) -> tuple[Any, ...]:
    """A frame's body for samples: three columns when all are GOOD (the usual case), else the samples."""
    if isinstance(samples, SampleColumns):
        return (samples.times, samples.tags, samples.values)
    good = _GOOD
    for sample in samples:
        if sample.quality is not good or sample.error is not None:
            return (list(samples),)
    return ([s.ts_utc for s in samples], [s.tag for s in samples], [s.value for s in samples])


class _FrameLogHandler(logging.Handler):
    """Log records go to the engine, which logs them under the same logger name."""

    def __init__(self, writer: FrameWriter) -> None:
        super().__init__()
        self.writer = writer

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
            self.writer.send(("log", record.name, record.levelno, text))
        except Exception:  # a log line must never take the host down
            self.handleError(record)


class _Worker:
    def __init__(self, source: SparkplugSource, tags: Sequence[TagMapping], writer: FrameWriter) -> None:
        from oee_tui.drivers.sparkplug.host_driver import SparkplugDriver

        self.writer = writer
        self.driver = SparkplugDriver(source, tags, on_dead_letter=self._dead_letter,
                                      on_historical=self._historical, on_counter_widths=self._counter_widths,
                                      on_births=self._births)
        self.driver.on_read = self._read
        self._counters = (0, 0, 0)

    def _read(self, latency_s: float, ok: bool) -> None:
        self.writer.send(("read", latency_s, ok))

    def _dead_letter(self, letter: DeadLetter) -> None:
        self.writer.send(("dead", [letter]))
        self._send_counters()

    def _counter_widths(self, widths: Mapping[str, int]) -> None:
        self.writer.send(("widths", dict(widths)))

    def _births(self, births: Sequence[BornMetrics]) -> None:
        self.writer.send(("births", list(births)))

    def _historical(self, samples: Sequence[TagSample]) -> None:
        self.writer.send(("historical", *sample_columns(samples)))

    async def _emit(self, samples: SampleBatch) -> None:
        self.writer.send(("samples", *sample_columns(samples)))
        self._send_counters()

    def _send_counters(self) -> None:
        driver = self.driver
        counters = (driver.dropped, driver.dead_letter_count, driver.rebirths_sent)
        if counters != self._counters:
            self._counters = counters
            self.writer.send(("counters", *counters))

    async def serve(self, close_requested: asyncio.Event) -> None:
        driver, writer = self.driver, self.writer
        closing = asyncio.ensure_future(close_requested.wait())
        try:
            # A close while connecting (the engine's connect timeout ran out) stops the attempt.
            connecting = asyncio.ensure_future(driver.connect())
            if await _first(connecting, closing) is connecting:
                error = connecting.exception()
                if error is not None:
                    writer.send(("failed", type(error).__name__, str(error) or type(error).__name__))
                    return
                writer.send(("connected", driver.client_id))
                running = asyncio.ensure_future(driver.run(self._emit))
                if await _first(running, closing) is running:
                    error = running.exception()
                    writer.send(("lost", str(error) if error is not None else f"{driver.where}: the host stopped"))
        finally:
            await driver.close()
            self._send_counters()
            closing.cancel()


async def _first(task: asyncio.Future[None], closing: asyncio.Future[Literal[True]]) -> asyncio.Future[Any]:
    """Whichever ends first; `task` is cancelled (and waited for) when it is not."""
    await asyncio.wait((task, closing), return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        return task
    task.cancel()
    with contextlib.suppress(BaseException):
        await task
    return closing


def _watch_stdin(stdin: Any, loop: asyncio.AbstractEventLoop, close_requested: asyncio.Event) -> None:
    """In a thread: a close frame, or the end of stdin (the engine exited), asks the host to close."""
    while True:
        message = read_frame_blocking(stdin)
        if message is None or message[0] == "close":
            break
    with contextlib.suppress(RuntimeError):  # the loop has finished already
        loop.call_soon_threadsafe(close_requested.set)


async def _main(source: SparkplugSource, tags: Sequence[TagMapping], writer: FrameWriter, stdin: Any) -> None:
    close_requested = asyncio.Event()
    threading.Thread(target=_watch_stdin, args=(stdin, asyncio.get_running_loop(), close_requested),
                     name="engine-pipe", daemon=True).start()
    await _Worker(source, tags, writer).serve(close_requested)


def main() -> None:
    # Ctrl+C in the terminal signals the whole process group; the engine decides when the host stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    frames_fd = os.dup(sys.stdout.fileno())
    if sys.platform == "linux":  # room for a burst, so decoding rarely waits for the engine to read
        import fcntl

        with contextlib.suppress(OSError):  # the default size only costs some speed
            fcntl.fcntl(frames_fd, F_SETPIPE_SZ, PIPE_SIZE)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print must not corrupt the frames
    writer = FrameWriter(frames_fd)
    stdin = sys.stdin.buffer
    start = read_frame_blocking(stdin)
    if start is None or start[0] != "start":
        return
    _, source, tags, level = start
    root = logging.getLogger()
    root.handlers[:] = [_FrameLogHandler(writer)]
    root.setLevel(level)
    asyncio.run(_main(source, tags, writer, stdin))
    writer.send(("closed",))


if __name__ == "__main__":
    main()
