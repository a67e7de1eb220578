"""asyncua's own log lines on a server loss and on a revised session timeout: one line each, no traceback,
and nothing on the stderr of `oee devices`. Against a real in-process asyncua server."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from oee_tui.drivers.base import DriverError
from oee_tui.drivers.opcua.asyncua_noise import quiet_asyncua
from oee_tui.drivers.opcua.opcua_driver import OpcUaDriver
from tests.drivers.conftest import Collector, OpcUaSim, opcua_source, running, tag
from tests.drivers.test_devices_cli import oee, write_config
from tests.support.waiting import until

pytestmark = pytest.mark.asyncio(loop_scope="module")

# Below what the client asks for (one hour), so the server revises it and asyncua says so.
SESSION_CAP_MS = 30_000
PUBLISH_LOGGER = "asyncua.client.ua_session.UaSession"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def capped_server() -> AsyncIterator[OpcUaSim]:
    sim = OpcUaSim()
    sim.server.iserver.max_session_timeout_ms = SESSION_CAP_MS
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


@pytest.fixture(autouse=True)
def fresh_filters() -> None:
    quiet_asyncua(fresh=True)  # as in a new process: no line seen yet


async def test_devices_test_prints_nothing_of_asyncua_on_stderr(tmp_path: Path, capped_server: OpcUaSim) -> None:
    extra = (f'\n[[sources]]\nname = "ua"\nkind = "opcua"\nendpoint = "{capped_server.endpoint}"\n'
             f'\n[[machines]]\nid = "L1-PACK"\nname = "Packer"\nline = "L1"\nideal_cycle_time_s = 1.0\n'
             f'[machines.signals]\ntotal_count = {{ source = "ua", tag = "{capped_server.node_id("Count")}" }}\n')
    config = write_config(tmp_path, 1, extra)
    code, out, err = await oee(config, "test", "ua")
    assert code == 0, err
    assert capped_server.node_id("Count") in out  # the command did talk to the server
    assert err == ""


async def test_revised_session_timeout_is_one_info_line(capped_server: OpcUaSim,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    # As `oee -v` sets them; the root last, as set_level also sets the capturing handler's level.
    caplog.set_level(logging.INFO, logger="asyncua")
    caplog.set_level(logging.DEBUG)
    for _ in range(2):
        async with running(OpcUaDriver(opcua_source(capped_server.endpoint), []), Collector()):
            pass
    revised = [r for r in caplog.records if "session timeout" in r.getMessage()]
    assert [r.levelname for r in revised] == ["INFO", "DEBUG"]
    assert f"got {SESSION_CAP_MS}ms" in revised[0].getMessage()


async def test_server_loss_logs_one_line_without_traceback(capped_server: OpcUaSim,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="asyncua")
    caplog.set_level(logging.DEBUG)  # repeats are kept at DEBUG: the test sees them come

    def publish_lines() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == PUBLISH_LOGGER and "Publish" in r.getMessage()]

    driver = OpcUaDriver(opcua_source(capped_server.endpoint), [tag(capped_server.node_id("Count"), "ua")])
    emit = Collector()
    try:
        async with running(driver, emit) as task:
            await emit.wait_for(lambda s: s.tag == capped_server.node_id("Count"))
            await capped_server.stop()
            with pytest.raises(DriverError, match=r"connection lost|subscription status"):
                await task
            # Until the session is closed asyncua's publish loop fails once a second: see it fail twice.
            await until(lambda: len(publish_lines()) >= 2, timeout=10, what="two publish failures")
    finally:
        await capped_server.restart()
    lines = publish_lines()
    assert lines[0].levelname == "WARNING" and {r.levelname for r in lines[1:]} == {"DEBUG"}
    assert "Publish iteration crashed: ConnectionError" in lines[0].getMessage()
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in lines)
    assert "Traceback" not in caplog.text


async def test_repeats_are_dropped_unless_debug_is_on(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)  # as `oee engine` runs without -v
    publish = logging.getLogger(PUBLISH_LOGGER)
    for _ in range(3):
        try:
            raise ConnectionError("client is disconnected")
        except ConnectionError:
            publish.exception("Publish iteration crashed; retrying in 1s")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "Publish iteration crashed: ConnectionError: client is disconnected "
                    "(repeats are logged at debug level)")]
    logging.getLogger(PUBLISH_LOGGER).warning("something else %s", "entirely")  # other lines pass unchanged
    assert caplog.records[-1].getMessage() == "something else entirely"
