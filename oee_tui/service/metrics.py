"""The optional Prometheus endpoint (`[service] metrics_listen`): prometheus_client's HTTP server on a
thread of its own, with a collector that reads the engine at scrape time.

Nothing is counted on the ingest path: a scrape asks the engine's own loop for its newest snapshot and a
copy of its running counts (EngineStats), so the figures are those of one moment, and the engine's
state is only ever touched from its loop (snapshot() may rebuild the snapshot, which walks the machines
the loop is changing). A loop too busy to answer within SCRAPE_TIMEOUT_S gets `oee_engine_up 0`.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Final, TypeVar
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, ProcessCollector, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric

from oee_tui.config import MetricsAddress, ServiceSettings
from oee_tui.engine.live.engine import Engine
from oee_tui.runtime import DemoEngine
from oee_tui.service.metric_families import EngineReading, engine_families

log = logging.getLogger(__name__)

SCRAPE_TIMEOUT_S: Final = 5.0
RATE_WINDOW_S: Final = 10  # samples/s is averaged over this many one-second readings

_T = TypeVar("_T")


class MetricsUnavailableError(Exception):
    """The endpoint could not listen (the port is taken, the address is not this box's)."""


class SampleRate:
    """Samples received per second over the last RATE_WINDOW_S seconds, from a reading of the engine's count
    once a second (on its loop, by MetricsEndpoint's task): the ingest path counts nothing more for it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._readings: collections.deque[tuple[float, int]] = collections.deque(maxlen=RATE_WINDOW_S + 1)

    def record(self, samples_in: int) -> None:
        self._readings.append((self._clock(), samples_in))

    def per_second(self) -> float | None:
        if len(self._readings) < 2:
            return None
        (first_ts, first), (last_ts, last) = self._readings[0], self._readings[-1]
        return (last - first) / (last_ts - first_ts) if last_ts > first_ts else None


class EngineCollector:
    """A prometheus_client collector over a running engine; collect() runs on the HTTP server's threads."""

    def __init__(self, engine: Engine, loop: asyncio.AbstractEventLoop, rate: SampleRate) -> None:
        self._engine = engine
        self._loop = loop
        self._rate = rate

    def collect(self) -> Iterator[Metric]:
        try:
            reading = _on_loop(self._loop, self._read, SCRAPE_TIMEOUT_S)
        except (TimeoutError, RuntimeError) as exc:  # RuntimeError: the loop is closed
            log.warning("metrics scrape: the engine did not answer (%s)", exc or "timed out")
            yield GaugeMetricFamily("oee_engine_up", "1 when the engine answered this scrape", value=0)
            return
        yield from engine_families(replace(reading, store_bytes=_store_bytes(self._engine)))

    def _read(self) -> EngineReading:
        engine = self._engine
        return EngineReading(now=engine.clock(), snapshot=engine.snapshot(), stats=replace(engine.stats),
                             samples_per_s=self._rate.per_second(), store_bytes=None)


class MetricsEndpoint:
    """The running endpoint: where it listens, and close() to stop it."""

    def __init__(self, server: WSGIServer, thread: threading.Thread, loop: asyncio.AbstractEventLoop,
                 task: asyncio.Task[None]) -> None:
        self._server = server
        self._thread = thread
        self._loop = loop
        self._task = task
        host, port = server.server_address[:2]
        self.address = MetricsAddress(str(host), int(port))

    @property
    def url(self) -> str:
        return f"http://{self.address}/metrics"

    def close(self) -> None:
        """Stop serving and free the port. Safe from any thread; it waits up to half a second (the server's
        poll interval), so an engine's loop calls it through asyncio.to_thread."""
        with contextlib.suppress(RuntimeError):  # the loop is closed already, and the task with it
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5.0)


def start_metrics(engine: Engine | DemoEngine, settings: ServiceSettings) -> MetricsEndpoint | None:
    """Serve the engine's metrics at `[service] metrics_listen`; None when it is not set. Call it on the
    engine's running loop, once the engine has started. Raises MetricsUnavailableError when it cannot listen."""
    address = settings.metrics_listen
    if address is None:
        return None
    live = engine.engine if isinstance(engine, DemoEngine) else engine
    loop = asyncio.get_running_loop()
    rate = SampleRate()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EngineCollector(live, loop, rate))
    ProcessCollector(namespace="oee", registry=registry)  # the engine process's CPU, memory and open files
    try:
        server, thread = start_http_server(address.port, addr=address.host, registry=registry)
    except OSError as exc:
        raise MetricsUnavailableError(f"the metrics endpoint cannot listen on {address}: "
                                      f"{exc.strerror or exc}") from exc
    task = loop.create_task(_count_samples(live, rate), name="metrics:sample-rate")
    endpoint = MetricsEndpoint(server, thread, loop, task)
    log.info("metrics at %s", endpoint.url)
    return endpoint


async def _count_samples(engine: Engine, rate: SampleRate) -> None:
    while True:
        rate.record(engine.stats.samples_in)
        await asyncio.sleep(1.0)


def _on_loop(loop: asyncio.AbstractEventLoop, read: Callable[[], _T], timeout: float) -> _T:
    """Run `read` on `loop` (from another thread) and wait for its result."""
    future: concurrent.futures.Future[_T] = concurrent.futures.Future()

    def run() -> None:
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(read())
            except BaseException as exc:  # handed to the scraping thread, which reports it
                future.set_exception(exc)

    loop.call_soon_threadsafe(run)
    try:
        return future.result(timeout)
    except concurrent.futures.TimeoutError:
        future.cancel()
        raise TimeoutError(f"no answer within {timeout:.0f} s") from None


def _store_bytes(engine: Engine) -> int | None:
    if engine.store is None:
        return None
    path: Path = engine.store.path
    total = 0
    for file in (path, path.with_name(path.name + ".wal")):
        with contextlib.suppress(FileNotFoundError):
            total += file.stat().st_size
    return total
