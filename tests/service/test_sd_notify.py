"""systemd notification over a real AF_UNIX datagram socket that the test binds, as systemd does, with
NOTIFY_SOCKET pointing at it: READY, STATUS, WATCHDOG (fed from the engine's loop only while it runs) and
STOPPING arrive; without NOTIFY_SOCKET nothing is sent."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from oee_tui.config import ServiceSettings
from oee_tui.engine.live.engine import Engine
from oee_tui.service.sd_notify import SystemdNotifier
from oee_tui.service.service_watch import watched_service
from tests.drivers.conftest import ModbusSim
from tests.service.notify_listener import NotifySocket, notify_socket
from tests.service.running_plant import modbus_plc, plant
from tests.support.waiting import until

__all__ = ["modbus_plc"]  # the fixture, used by name


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[NotifySocket]:
    path = str(tmp_path / "notify")
    with notify_socket(path, path) as listener:
        yield listener


def test_messages_reach_a_path_socket(systemd: NotifySocket) -> None:
    notifier = SystemdNotifier({"NOTIFY_SOCKET": systemd.address})
    assert notifier.enabled and notifier.watchdog_interval_s is None
    assert notifier.ready("2 machines, 1/1 sources online; store: all saved")
    assert notifier.watchdog() and notifier.stopping("stopping: flushing the store")
    notifier.close()
    deadline = time.monotonic() + 5
    while len(systemd.messages) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [message for _at, message in systemd.messages] == [
        "READY=1\nSTATUS=2 machines, 1/1 sources online; store: all saved", "WATCHDOG=1",
        "STOPPING=1\nSTATUS=stopping: flushing the store"]


def test_an_abstract_socket_is_named_with_an_at_sign() -> None:
    name = f"oee-test-notify-{os.getpid()}-{time.monotonic_ns()}"
    with notify_socket(f"@{name}", f"\0{name}") as listener:
        assert SystemdNotifier({"NOTIFY_SOCKET": listener.address}).ready("up")
        deadline = time.monotonic() + 5
        while not listener.messages and time.monotonic() < deadline:
            time.sleep(0.01)
        assert listener.lines() == ["READY=1", "STATUS=up"]


def test_without_notify_socket_nothing_is_sent(systemd: NotifySocket) -> None:
    notifier = SystemdNotifier({"WATCHDOG_USEC": "30000000"})
    assert not notifier.enabled
    assert not notifier.ready("up") and not notifier.watchdog() and not notifier.stopping("bye")
    time.sleep(0.1)  # nothing to wait for: a message that arrived would be a failure
    assert systemd.messages == []


def test_a_socket_that_is_gone_is_reported_once_and_never_raises(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    notifier = SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")})
    assert not notifier.ready("up") and not notifier.watchdog()
    assert len([r for r in caplog.records if "cannot notify systemd" in r.getMessage()]) == 1


def test_the_watchdog_interval_is_half_watchdog_sec_and_only_for_this_process() -> None:
    assert SystemdNotifier({"WATCHDOG_USEC": "30000000"}).watchdog_interval_s == 15.0
    assert SystemdNotifier({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}).watchdog_interval_s == 15
    assert SystemdNotifier({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}).watchdog_interval_s is None
    assert SystemdNotifier({"WATCHDOG_USEC": "0"}).watchdog_interval_s is None


async def test_a_running_engine_is_ready_fed_while_its_loop_runs_and_stopping_at_the_end(
        systemd: NotifySocket, modbus_plc: ModbusSim) -> None:
    engine = Engine(plant(modbus_plc.port), store=None, tick_s=0.05)
    await engine.start()
    # WatchdogSec=0.4: a ping every 0.2 s while the loop runs.
    notifier = SystemdNotifier({"NOTIFY_SOCKET": systemd.address, "WATCHDOG_USEC": "400000"})
    try:
        async with watched_service(engine, ServiceSettings(), notifier) as endpoint:
            assert endpoint is None  # no metrics_listen: no endpoint
            await until(lambda: len(systemd.times_of("WATCHDOG=1")) >= 3, what="three watchdog pings")
            await until(lambda: systemd.received("STATUS=1 machines, 1/1 sources online; store: all saved"),
                        what="the status line with the source online")
            # The loop stalls (a blocking call): no ping goes out until it runs again.
            before = len(systemd.times_of("WATCHDOG=1"))
            stalled_at = time.monotonic()
            time.sleep(1.0)
            resumed_at = time.monotonic()
            await asyncio.sleep(0)
            pings = systemd.times_of("WATCHDOG=1")
            assert not [at for at in pings[before:] if stalled_at + 0.05 < at < resumed_at]
            await until(lambda: len(systemd.times_of("WATCHDOG=1")) > len(pings), what="pings after the stall")
        await until(lambda: systemd.received("STOPPING=1"), what="STOPPING=1")
    finally:
        await engine.stop()
    first = systemd.messages[0][1].split("\n")
    assert first[0] == "READY=1" and first[1].startswith("STATUS=1 machines, ")
    stopping = systemd.times_of("STOPPING=1")[0]
    assert not [at for at in systemd.times_of("WATCHDOG=1") if at > stopping + 0.05]
