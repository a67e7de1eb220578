"""Fixtures that start a real Mosquitto broker (plain and mutual-TLS listeners) for the MQTT tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mqtt.broker import MosquittoBroker, TlsFiles, make_tls_files, running_broker


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """One CA, server and client certificate for the whole session: they never change."""
    return make_tls_files(tmp_path_factory.mktemp("mqtt-pki"))


@pytest.fixture
def broker(tmp_path: Path, tls_files: TlsFiles) -> Iterator[MosquittoBroker]:
    """A fresh broker per test (it starts in tens of milliseconds), stopped at teardown."""
    with running_broker(MosquittoBroker, tmp_path / "mosquitto", tls=tls_files) as server:
        yield server
