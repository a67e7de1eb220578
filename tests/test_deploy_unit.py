"""deploy/oee-engine.service: systemd accepts it, and what it runs is a command `oee` understands."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from oee_tui.cli import build_parser

UNIT = Path(__file__).resolve().parents[1] / "deploy" / "oee-engine.service"


def settings() -> dict[str, list[str]]:
    """Every KEY=VALUE of the unit (comments left out), in order; a key may repeat."""
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_the_unit_runs_the_engine_as_a_notify_service_with_a_watchdog() -> None:
    unit = settings()
    assert unit["Type"] == ["notify"] and unit["WatchdogSec"] == ["30"] and unit["Restart"] == ["on-failure"]
    assert unit["User"] == ["oee"] and unit["Group"] == ["oee"] and unit["KillSignal"] == ["SIGTERM"]
    [command] = unit["ExecStart"]
    program, *arguments = shlex.split(command)
    assert program == "/usr/local/bin/oee"
    args = build_parser().parse_args(arguments)
    assert args.command == "engine"
    assert args.config == Path("/etc/oee/plant.toml") and args.data_dir == Path("/var/lib/oee")
    # The data dir is the state directory systemd makes for the oee user; the config's is /etc/oee.
    assert unit["StateDirectory"] == ["oee"] and unit["ConfigurationDirectory"] == ["oee"]
    # Nothing that would take the network, the socket's peer credentials or the devices away.
    for breaking in ("PrivateNetwork", "PrivateUsers", "PrivateDevices", "IPAddressDeny"):
        assert breaking not in unit, breaking
    assert {"AF_UNIX", "AF_INET", "AF_INET6"} <= set(unit["RestrictAddressFamilies"][0].split())


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    # verify checks that ExecStart's program exists: point it at this machine's `oee`, or python when none is.
    oee = shutil.which("oee") or shutil.which("python3") or "/bin/true"
    installed = tmp_path / "oee-engine.service"
    installed.write_text(UNIT.read_text(encoding="utf-8").replace("/usr/local/bin/oee", oee), encoding="utf-8")
    done = subprocess.run(["systemd-analyze", "verify", str(installed)], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
