"""`oee devices ...` as a technician runs it, against a real Modbus server.

The command runs as a subprocess while the test's event loop keeps serving the
in-process pymodbus server, so the conversation crosses a real TCP socket.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from oee_tui.cli import SAMPLE_CONFIG
from tests.drivers.conftest import ModbusSim


def write_config(tmp_path: Path, port: int, extra: str = "") -> Path:
    text = SAMPLE_CONFIG.replace('host = "192.0.2.10"\nport = 502', f'host = "127.0.0.1"\nport = {port}')
    assert text != SAMPLE_CONFIG
    path = tmp_path / "oee.toml"
    path.write_text(text + extra, encoding="utf-8")
    return path


async def oee(config: Path, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "oee_tui", "--config", str(config), "devices", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_list_says_which_sources_answer_and_what_they_feed(tmp_path: Path, modbus_server: ModbusSim,
                                                                 free_port: int) -> None:
    dead = f'\n[[sources]]\nname = "dead"\nkind = "modbus"\nhost = "127.0.0.1"\nport = {free_port}\ntimeout_s = 1\n'
    config = write_config(tmp_path, modbus_server.port, dead)
    code, out, err = await oee(config, "list")
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "ok" in lines["plc1"] and "L1-FILL" in lines["plc1"] and " 4 " in lines["plc1"]
    assert "DOWN" in lines["dead"] and "refused" in lines["dead"].lower()
    assert code == 1  # not every source answered
    assert "Traceback" not in err


async def test_test_reads_every_mapped_tag_once(tmp_path: Path, modbus_server: ModbusSim) -> None:
    await modbus_server.set("hr", 3, [1])  # the state code tag hr:3 reads 1
    config = write_config(tmp_path, modbus_server.port)
    code, out, err = await oee(config, "test", "plc1")
    assert code == 0, err
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert set(rows) == {"hr:0", "hr:2", "hr:3", "co:0"}
    assert rows["hr:3"][1:4] == ["1", "uint16", "good"]
    assert rows["hr:0"][2] == "uint32"


async def test_unknown_source_and_unbrowsable_kind_get_a_plain_answer(tmp_path: Path,
                                                                      modbus_server: ModbusSim) -> None:
    config = write_config(tmp_path, modbus_server.port)
    code, _out, err = await oee(config, "test", "nosuch")
    assert (code, err.strip()) == (2, "oee devices: there is no source named 'nosuch'; sources: plc1")
    code, _out, err = await oee(config, "browse", "plc1")
    assert code == 2 and "modbus sources cannot be browsed" in err


async def test_trust_moves_a_refused_server_certificate_into_the_trusted_store(tmp_path: Path,
                                                                             modbus_server: ModbusSim) -> None:
    from cryptography import x509

    from oee_tui.drivers.opcua.security import thumbprints
    from tests.drivers.opcua.test_opcua_security import _self_signed

    config = write_config(tmp_path, modbus_server.port)
    der, _key = _self_signed("Line 2 server", "urn:line2:server", x509.oid.ExtendedKeyUsageOID.SERVER_AUTH)
    rejected = tmp_path / "pki" / "rejected"
    rejected.mkdir(parents=True)
    sha1, _sha256 = thumbprints(der)
    (rejected / f"line2_{sha1.lower()}.der").write_bytes(der)  # as the driver leaves a refused certificate

    code, out, err = await oee(config, "trust", "line2")
    assert code == 0, err
    assert "Line 2 server" in out
    assert [p.parent.name for p in (tmp_path / "pki").rglob("*.der")] == ["trusted"]
    code, out, _err = await oee(config, "certificates")
    assert code == 0 and "trusted" in out and "line2" in out
    code, _out, err = await oee(config, "trust", "line2")  # nothing left to trust
    assert code == 2 and "oee devices trust:" in err
