"""Issue 17: `oee alerts`, `oee alerts ack` and `oee alerts shelve` as a user runs them: standalone on the
store, and attached to a running engine (its live alerts, its role checks), each change audited."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from oee_tui.cli import main
from oee_tui.drivers.registry import parse_config
from oee_tui.model import Alert, AlertAction, AlertEvent, AlertKind, Severity
from oee_tui.model.access import Role
from oee_tui.store import Store
from tests.alerts.test_rule_kinds import PLANT
from tests.mqtt.broker import free_port
from tests.service.running_engine import wait_for
from tests.support.served_engine import ServedPlant, served_plant_in_thread

Capsys = pytest.CaptureFixture[str]
NOW = time.time()


@pytest.fixture
def stored(tmp_path: Path) -> tuple[Path, Path]:
    """(config file, data dir) of a store an earlier engine left two alerts in: one active, one cleared."""
    config_path = tmp_path / "oee.toml"
    config_path.write_text(PLANT, encoding="utf-8")
    down = Alert(1, "down", AlertKind.MACHINE_DOWN, Severity.CRITICAL, "M1", "Filler is down", NOW - 600)
    offline = Alert(2, "offline", AlertKind.SOURCE_OFFLINE, Severity.WARNING, "plc", "plc is offline: refused",
                    NOW - 300, cleared_at=NOW - 60)
    with Store.open(tmp_path / "data") as store:
        store.write_alerts([(down, AlertEvent(1, NOW - 600, AlertAction.RAISED)),
                            (offline, AlertEvent(2, NOW - 300, AlertAction.RAISED))])
    return config_path, tmp_path / "data"


def oee(stored: tuple[Path, Path], *args: str) -> int:
    return main(["--config", str(stored[0]), "--data-dir", str(stored[1]), "alerts", *args])


def test_list_active_and_all_standalone(stored: tuple[Path, Path], capsys: Capsys) -> None:
    assert oee(stored) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "SEVERITY", "RAISED", "RULE", "SUBJECT", "STATE", "MESSAGE"]
    assert len(lines) == 2 and "!!critical" in lines[1] and "Filler is down" in lines[1] and "active" in lines[1]
    assert oee(stored, "--all", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(a["id"], a["kind"], a["cleared_at"] is None) for a in listed] == [
        (1, "machine_down", True), (2, "source_offline", False)]


def test_ack_and_shelve_standalone_are_stored_and_audited(stored: tuple[Path, Path], capsys: Capsys) -> None:
    assert oee(stored, "ack", "1", "--comment", "fitter on the way") == 0
    assert capsys.readouterr().out.startswith("alert 1 (down, M1): active, acked by ")
    assert oee(stored, "shelve", "1", "--for", "30m") == 0
    assert "shelved until" in capsys.readouterr().out
    with Store.open(stored[1]) as store:
        alert = store.alert(1)
        assert alert is not None and alert.ack_comment == "fitter on the way"
        assert alert.shelved_until is not None and 1790 < alert.shelved_until - time.time() <= 1800
        assert [e.action for e in store.alert_events(1)] == [AlertAction.RAISED, AlertAction.ACKNOWLEDGED,
                                                             AlertAction.SHELVED]
        audits = store.audit_entries()
        # The audit trail keeps its values as canonical JSON.
        assert [(e.kind, e.subject, e.after) for e in audits][:2] == [
            ("alert_shelve", "alert 1", audits[0].after), ("alert_ack", "alert 1", '"fitter on the way"')]
        assert audits[0].after is not None and audits[0].before is None


@pytest.mark.parametrize(("args", "says"), [
    (("ack", "9", "--comment", "x"), "oee alerts ack: no alert 9"),
    (("ack", "1", "--comment", "  "), "oee alerts ack: an acknowledgement needs a comment"),
    (("shelve", "1", "--for", "soon"), "oee alerts shelve: --for 'soon': give a duration such as 30m"),
])
def test_refusals_standalone(stored: tuple[Path, Path], capsys: Capsys, args: tuple[str, ...], says: str) -> None:
    assert oee(stored, *args) == 2
    assert capsys.readouterr().err.startswith(says)
    with Store.open(stored[1]) as store:
        assert store.audit_entries() == []


OFFLINE_RULE = """
[[alerts.rules]]
id = "plc-offline"
kind = "source_offline"
severity = "critical"
"""


@pytest.fixture
def served(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[ServedPlant, tuple[Path, Path]]]:
    """An engine serving its data dir whose one source, a Modbus PLC on a port nothing listens on, is offline:
    its rule raises an alert at once. The caller's role is the test's parameter (admin by default)."""
    config_text = PLANT.replace("port = 5020", f"port = {free_port()}") + OFFLINE_RULE
    config_path = tmp_path / "oee.toml"
    config_path.write_text(config_text, encoding="utf-8")
    role = getattr(request, "param", Role.ADMIN)
    with served_plant_in_thread(tmp_path / "data", parse_config(config_text), role=role) as plant:
        wait_for(lambda: len(plant.engine.snapshot().alerts) == 1, "the offline alert", timeout=10)
        yield plant, (config_path, tmp_path / "data")


def test_list_ack_and_shelve_through_the_engine(served: tuple[ServedPlant, tuple[Path, Path]],
                                                capsys: Capsys) -> None:
    plant, paths = served
    assert main(["--config", str(paths[0]), "--data-dir", str(paths[1]), "status"]) == 1  # its PLC is down
    assert "alerts: 1 active (`oee alerts` lists them)\n" in capsys.readouterr().out
    assert oee(paths, "--json") == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["rule"], listed["subject"], listed["severity"]) == ("plc-offline", "plc", "critical")
    alert_id = str(listed["id"])
    assert oee(paths, "ack", alert_id, "--comment", "cable unplugged") == 0
    assert oee(paths, "shelve", alert_id, "--for", "1h") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"alert {alert_id} (plc-offline, plc): active, acked by ")
    assert "shelved until" in out[1]
    [live] = plant.engine.snapshot().alerts  # the engine shows both at once
    assert live.ack_comment == "cable unplugged" and live.shelved(time.time())
    assert [e.kind for e in plant.store.audit_entries()][:2] == ["alert_shelve", "alert_ack"]
    assert oee(paths, "--all") == 0
    assert "shelved until" in capsys.readouterr().out


@pytest.mark.parametrize("served", [Role.OPERATOR], indirect=True)
def test_an_operator_may_acknowledge_but_not_shelve(served: tuple[ServedPlant, tuple[Path, Path]],
                                                     capsys: Capsys) -> None:
    plant, paths = served
    [alert] = plant.engine.snapshot().alerts
    assert oee(paths, "shelve", str(alert.id), "--for", "30m") == 6
    err = capsys.readouterr().err
    assert err.startswith("oee alerts shelve: ") and "shelve alerts" in err
    assert oee(paths, "ack", str(alert.id), "--comment", "seen") == 0
    [alert] = plant.engine.snapshot().alerts
    assert alert.acked_by is not None and alert.shelved_until is None
    kinds = [e.kind for e in plant.store.audit_entries()]
    assert "alert_ack" in kinds and "alert_shelve" not in kinds
