"""OPC UA driver: the pure helpers (no server)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from asyncua import ua

from oee_tui.drivers.opcua.opcua_driver import OpcUaDriver, plain_value, quality_of, timestamp_of
from oee_tui.drivers.registry import make_driver
from oee_tui.model import Quality
from tests.drivers.conftest import opcua_source, tag


def test_quality_follows_status_severity() -> None:
    assert quality_of(None) is Quality.GOOD
    assert quality_of(ua.StatusCode(ua.StatusCodes.Good)) is Quality.GOOD
    assert quality_of(ua.StatusCode(ua.StatusCodes.GoodClamped)) is Quality.GOOD
    assert quality_of(ua.StatusCode(ua.StatusCodes.UncertainLastUsableValue)) is Quality.UNCERTAIN
    assert quality_of(ua.StatusCode(ua.StatusCodes.BadNodeIdUnknown)) is Quality.BAD
    assert quality_of(ua.StatusCode(ua.StatusCodes.BadCommunicationError)) is Quality.BAD


def test_timestamp_prefers_source_then_server_then_now() -> None:
    source = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
    server = source + timedelta(seconds=5)
    assert timestamp_of(ua.DataValue(SourceTimestamp=source, ServerTimestamp=server)) == source.timestamp()
    assert timestamp_of(ua.DataValue(ServerTimestamp=server)) == server.timestamp()
    # A naive datetime from an older asyncua means UTC, not local time.
    assert timestamp_of(ua.DataValue(SourceTimestamp=source.replace(tzinfo=None))) == source.timestamp()
    assert timestamp_of(ua.DataValue(), now=123.0) == 123.0
    assert abs(timestamp_of(None) - time.time()) < 1


def test_plain_value_keeps_scalars_and_flattens_the_rest() -> None:
    assert plain_value(True) is True
    assert plain_value(7) == 7 and plain_value(2.5) == 2.5 and plain_value("x") == "x"
    assert plain_value(None) is None
    assert plain_value(ua.LocalizedText("Filler")) == "Filler"
    assert plain_value(datetime(2024, 1, 1, tzinfo=UTC)) == "2024-01-01T00:00:00+00:00"
    assert plain_value(b"\x01\xff") == "01ff"
    assert plain_value([1, 2]) == "[1, 2]"


def test_make_driver_for_opcua_dedupes_tags() -> None:
    source = opcua_source("opc.tcp://127.0.0.1:4840/")
    driver = make_driver(source, [tag("ns=2;s=A", "ua"), tag("ns=2;s=A", "ua"), tag("ns=2;s=B", "ua")],
                         config_path=None)
    assert isinstance(driver, OpcUaDriver)
    assert [m.tag for m in driver.tags] == ["ns=2;s=A", "ns=2;s=B"]
