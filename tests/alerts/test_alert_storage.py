"""Issue 17: alerts and their history in the local store (raised, cleared, acknowledged, shelved), taken up by
a restarted engine, and exported with `oee export alerts`."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pyarrow.parquet as pq
import pytest

from oee_tui.cli import main
from oee_tui.engine.live.engine import Engine
from oee_tui.model import Alert, AlertAction, AlertEvent, AlertKind, Severity, TagSample
from oee_tui.store import Store
from tests.alerts.test_rule_kinds import PLANT, T0, Clock, plant

RULE = """
[[alerts.rules]]
id = "speed-high"
kind = "value_range"
source = "plc"
tag = "hr:5"
max = 120
"""


def raised(alert_id: int, at: float, subject: str = "M1") -> tuple[Alert, AlertEvent]:
    alert = Alert(alert_id, "down", AlertKind.MACHINE_DOWN, Severity.CRITICAL, subject, "Filler is down", T0 + at)
    return alert, AlertEvent(alert_id, T0 + at, AlertAction.RAISED)


def test_alerts_and_their_history_round_trip(tmp_path: Path) -> None:
    first, second = raised(1, 0), raised(2, 5, "M2")
    with Store.open(tmp_path) as store:
        assert store.highest_alert_id() == 0
        store.write_alerts([first, second])
        acked = Alert(1, "down", AlertKind.MACHINE_DOWN, Severity.CRITICAL, "M1", "Filler is down", T0,
                      acked_at=T0 + 10, acked_by="ann", ack_comment="fitter on the way")
        cleared = Alert(2, "down", AlertKind.MACHINE_DOWN, Severity.CRITICAL, "M2", "Filler is down", T0 + 5,
                        cleared_at=T0 + 20, shelved_until=T0 + 1800, shelved_by="bob")
        store.write_alerts([(acked, AlertEvent(1, T0 + 10, AlertAction.ACKNOWLEDGED, "ann", "fitter on the way")),
                            (cleared, AlertEvent(2, T0 + 20, AlertAction.CLEARED))])
        assert store.alerts() == [acked, cleared]
        assert store.alerts(active_only=True) == [acked]
        assert store.alerts(start=T0 + 1) == [cleared]
        assert store.alert(2) == cleared and store.alert(3) is None
        assert store.highest_alert_id() == 2
        assert [(e.alert, e.action, e.user, e.comment) for e in store.alert_events()] == [
            (1, AlertAction.RAISED, None, None), (2, AlertAction.RAISED, None, None),
            (1, AlertAction.ACKNOWLEDGED, "ann", "fitter on the way"), (2, AlertAction.CLEARED, None, None)]
        assert [e.action for e in store.alert_events(2)] == [AlertAction.RAISED, AlertAction.CLEARED]


async def test_a_restarted_engine_takes_up_its_active_alerts(tmp_path: Path) -> None:
    clock = Clock()
    config = plant(RULE)
    engine = Engine(config, Store.open(tmp_path), clock=clock, acquire=False)
    await engine.start()
    engine.ingest([TagSample(T0, "plc", "hr:5", 130)])
    engine.tick()
    [(alert, _event)] = engine.check_alerts()
    clock.now = T0 + 1
    await engine.stop()  # saves what waits
    with Store.open(tmp_path) as store:
        assert store.alerts(active_only=True) == [alert]
    again = Engine(config, Store.open(tmp_path), clock=clock, acquire=False)
    await again.start()
    try:
        assert again.snapshot().alerts == (alert,)  # shown before the first check
        again.ingest([TagSample(T0 + 2, "plc", "hr:5", 140)])
        clock.now = T0 + 2
        again.tick()
        assert again.check_alerts() == []  # the same alert: not raised twice
        again.ingest([TagSample(T0 + 3, "plc", "hr:5", 100)])
        clock.now = T0 + 3
        again.tick()
        [(cleared, event)] = again.check_alerts()
        assert (cleared.id, event.action, cleared.cleared_at) == (alert.id, AlertAction.CLEARED, T0 + 3)
        again.ingest([TagSample(T0 + 4, "plc", "hr:5", 150)])
        clock.now = T0 + 4
        again.tick()
        [(new, _event)] = again.check_alerts()
        assert new.id == alert.id + 1  # numbered after every stored one
        await again.alerts.save()
    finally:
        await again.stop()
    with Store.open(tmp_path) as store:
        assert [(a.id, a.cleared_at) for a in store.alerts()] == [(alert.id, T0 + 3), (new.id, None)]


@pytest.fixture
def stored(tmp_path: Path) -> tuple[Path, Path]:
    config_path = tmp_path / "oee.toml"
    config_path.write_text(PLANT, encoding="utf-8")
    with Store.open(tmp_path / "data") as store:
        first, second = raised(1, 0), raised(2, 3600, "plc")
        store.write_alerts([first, second])
        store.write_alerts([(Alert(**{**_fields(first[0]), "acked_at": T0 + 60, "acked_by": "ann",
                                      "ack_comment": "on it"}),
                             AlertEvent(1, T0 + 60, AlertAction.ACKNOWLEDGED, "ann", "on it"))])
    return config_path, tmp_path / "data"


def _fields(alert: Alert) -> dict[str, object]:
    return {name: getattr(alert, name) for name in Alert.__dataclass_fields__}


def export(stored: tuple[Path, Path], *args: str) -> int:
    return main(["--config", str(stored[0]), "--data-dir", str(stored[1]), "export", "alerts", *args])


def test_export_alerts_to_csv(stored: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "alerts.csv"
    assert export(stored, "--out", str(out)) == 0
    assert capsys.readouterr().out.startswith(f"wrote 2 rows of alerts to {out} (csv, ")
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["id"], r["subject"], r["severity"], r["acked_by"], r["ack_comment"]) for r in rows] == [
        ("1", "M1", "critical", "ann", "on it"), ("2", "plc", "critical", "", "")]
    assert rows[0]["raised_at_utc"].startswith("2026-09-21")


def test_export_alerts_of_one_machine_in_a_range_to_parquet_and_xlsx(stored: tuple[Path, Path],
                                                                      tmp_path: Path) -> None:
    assert export(stored, "--out", str(tmp_path / "m1.parquet"), "--machine", "M1", "-q") == 0
    [row] = pq.read_table(tmp_path / "m1.parquet").to_pylist()
    assert (row["id"], row["kind"], row["cleared_at_utc"]) == (1, "machine_down", None)
    assert row["raised_at_utc"].timestamp() == T0
    assert export(stored, "--out", str(tmp_path / "late.xlsx"), "--from", "2026-09-21T15:00:00+00:00", "-q") == 0
    sheet = openpyxl.load_workbook(tmp_path / "late.xlsx").active
    assert sheet is not None
    assert [row[0] for row in sheet.iter_rows(values_only=True)] == ["id", 2]
