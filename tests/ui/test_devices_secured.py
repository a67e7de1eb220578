"""Test connection and Browse against a secured OPC UA server, with the certificates `oee devices` keeps.

The server (asyncua, on loopback) offers Basic256Sha256 SignAndEncrypt and lets in only the
clients its trust store names: this client's certificate from the config's PKI folder. The
server's certificate is trusted the way a technician does it: `oee devices test` is refused
and files it as rejected, then `oee devices trust` trusts it. The TUI must then use that
same folder (`pki/` beside the config): a TUI that used another folder would have neither
the trusted server certificate nor a client certificate the server lets in.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from textual.widgets import Tree

from oee_tui.cli import main
from oee_tui.drivers.opcua.security import OWN_CERT, OWN_DIR, ensure_client_certificate, pki_dir_for
from oee_tui.screens.browse import BrowseScreen
from oee_tui.screens.connection_check import ConnectionCheckScreen
from oee_tui.widgets.keyed_table import KeyedTable
from tests.drivers.opcua.test_opcua_security import SecureSim
from tests.support.pilot import settle, until
from tests.ui.fakes import StaticEngine
from tests.ui.test_devices import cell, cursor_to, make_devices_app, open_devices

CONFIG = """
[site]
name = "Secured plant"
timezone = "Europe/Berlin"

[[lines]]
id = "L4"

[[sources]]
name = "ua"
kind = "opcua"
endpoint = "{endpoint}"
security_mode = "SignAndEncrypt"
security_policy = "Basic256Sha256"
timeout_s = 5

[[machines]]
id = "L4-PACK"
name = "Packer"
line = "L4"
ideal_cycle_time_s = 1.0
[machines.signals]
total_count = {{ source = "ua", tag = "{node_id}" }}
"""


@pytest.fixture
async def secure_server(tmp_path: Path) -> AsyncIterator[SecureSim]:
    folder = tmp_path / "server"
    folder.mkdir()
    sim = SecureSim(folder)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.server.stop()


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The user's own config folder holds the PKI folder that drivers use when given none: keep the
    # test (and a TUI that forgot the config's folder) out of the real one.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "user-config"))


async def test_a_server_trusted_with_oee_devices_trust_is_tested_and_browsed_in_the_tui(
        tmp_path: Path, secure_server: SecureSim, engine: StaticEngine, capsys: pytest.CaptureFixture[str]) -> None:
    config_path = tmp_path / "plant" / "oee.toml"
    config_path.parent.mkdir()
    config_path.write_text(CONFIG.format(endpoint=secure_server.endpoint, node_id=secure_server.node_id),
                           encoding="utf-8")
    pki = pki_dir_for(config_path)

    # The server lets in only this client's certificate (the one the config's PKI folder holds).
    client = ensure_client_certificate(pki)
    assert client.cert_path == pki / OWN_DIR / OWN_CERT
    server_trusts = tmp_path / "server-trusts"
    server_trusts.mkdir()
    shutil.copy(client.cert_path, server_trusts / "oee-client.der")
    store = TrustStore([server_trusts], [])
    await store.load()
    secure_server.server.set_certificate_validator(CertificateValidator(
        CertificateValidatorOptions.TRUSTED_VALIDATION | CertificateValidatorOptions.PEER_CLIENT, store))

    # The technician's way: a test from the shell is refused and files the server's certificate
    # as rejected; `oee devices trust` trusts it.
    cli = ["--config", str(config_path), "--data-dir", str(tmp_path / "data"), "devices"]
    assert await asyncio.to_thread(main, [*cli, "test", "ua"]) == 1
    assert "oee devices trust ua" in capsys.readouterr().err
    assert main([*cli, "trust", "ua"]) == 0
    assert capsys.readouterr().out.startswith("trusted CN=oee test server")
    assert await asyncio.to_thread(main, [*cli, "test", "ua"]) == 0  # the shell now gets through
    capsys.readouterr()

    app = make_devices_app(config_path, engine)
    async with app.run_test(size=(100, 30)) as pilot:
        devices = await open_devices(pilot, engine)
        await cursor_to(pilot, devices.table, "ua")

        await pilot.press("t")
        check = app.screen
        assert isinstance(check, ConnectionCheckScreen)
        await until(pilot, lambda: check.readings or check.failure is not None, "the test connection's answer")
        assert check.failure is None
        readings = check.query_one("#test-readings", KeyedTable)
        assert readings.shown_keys() == (secure_server.node_id,)
        assert cell(readings, secure_server.node_id, "value") == "42"
        assert cell(readings, secure_server.node_id, "quality") == "✓ good"
        await pilot.press("escape")
        await settle(pilot)

        await pilot.press("b")
        await settle(pilot)
        browse = app.screen
        assert isinstance(browse, BrowseScreen)
        tree: Tree[Any] = browse.query_one(Tree)

        def labels() -> list[str]:
            return [str(child.label).split()[0] for child in tree.root.children]

        await until(pilot, lambda: "Count" in labels() or any("✕" in label for label in labels()),
                    "the top level listed")
        assert "Count" in labels() and "Server" in labels()
        await pilot.press("escape")
        await settle(pilot)
    # Nothing went to the user's own PKI folder: the TUI used the config's.
    assert not (tmp_path / "user-config").exists()
