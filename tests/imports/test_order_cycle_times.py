"""A schedule's cycle-time column is used, per order (issue 13, item 15).

The same product runs at another rate on another order (another tool, another pack size). The
schedule is imported with the real `oee import`; counts are written by the real Engine fed
TagSamples (acquire=False: no PLC server is needed, nothing is mocked); the report is the real
`oee report`, and the live figures are the engine's own snapshot.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from oee_tui.drivers.registry import load_config
from oee_tui.engine.analysis.day_summaries import summed_report
from oee_tui.engine.live.engine import Engine
from oee_tui.model import Quality, Span, TagSample
from oee_tui.store import Store
from tests.imports.cli_runs import oee
from tests.imports.test_write import write_csv

TZ = ZoneInfo("Europe/Berlin")
DAY = "2026-03-03"  # a Tuesday

CONFIG = """
[site]
name = "Test"
timezone = "Europe/Berlin"
stale_after_s = 7200

[[lines]]
id = "L1"

[[sources]]
name = "plc"
kind = "modbus"
host = "127.0.0.1"
port = 502

[[shifts]]
name = "Early"
start = "06:00"
end = "12:00"

[[machines]]
id = "M1"
line = "L1"
ideal_cycle_time_s = 1.0
micro_stop_threshold_s = 60
product_cycle_times = { A = 1.0 }

[machines.signals.total_count]
source = "plc"
tag = "hr:0"
type = "uint32"
width = 32

[machines.signals.state_code]
source = "plc"
tag = "hr:4"
"""

# Two orders of product A, each with a cycle time of its own, and one without: the product's 1.0 s.
SCHEDULE = [
    ["Order", "Product", "Machine", "Start", "End", "Qty", "Cycle time [s]"],
    ["O1", "A", "M1", f"{DAY} 06:00", f"{DAY} 08:00", "2400", "2"],
    ["O2", "A", "M1", f"{DAY} 08:00", f"{DAY} 10:00", "2400", "0,5"],
    ["O3", "A", "M1", f"{DAY} 10:00", f"{DAY} 12:00", "2400", ""],
]
PER_MINUTE = 20  # 2,400 parts in each order's two hours


def at(hhmm: str, day: str = DAY) -> float:
    return datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=TZ).timestamp()


def report(paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str], start: str, end: str) -> dict[str, object]:
    capsys.readouterr()
    assert oee(paths, "report", "--from", f"{DAY}T{start}", "--to", f"{DAY}T{end}", "--format", "json") == 0
    machine: dict[str, object] = json.loads(capsys.readouterr().out)["machines"][0]
    return machine


async def run_engine(paths: tuple[Path, Path], until: str = "12:00") -> Engine:
    """The machine runs 06:00 to `until` making 20 parts a minute; the engine writes what it saw."""
    config = load_config(paths[0])
    store = Store.open(paths[1])
    clock = [at("05:59")]
    engine = Engine(config, store, clock=lambda: clock[0], acquire=False)
    await engine.reload_planning()

    def send(ts: float, **values: object) -> None:
        clock[0] = ts
        tags = {"total_count": "hr:0", "state_code": "hr:4"}
        engine.ingest([TagSample(ts, "plc", tags[name], value, Quality.GOOD) for name, value in values.items()])

    send(at("05:59"), state_code=0, total_count=0)  # the counter's baseline
    send(at("06:00"), state_code=1)
    total = 0
    minute = at("06:00")
    while minute < at(until):
        total += PER_MINUTE
        send(minute + 30, total_count=total)
        minute += 60
    clock[0] = at(until)
    engine.tick()
    await engine.flush()
    return engine


async def test_each_order_runs_at_its_own_cycle_time_in_the_report_and_live(
        tmp_path: Path, paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    schedule = write_csv(tmp_path / "plan.csv", SCHEDULE)
    assert oee(paths, "import", "schedule", str(schedule)) == 0
    engine = await run_engine(paths)
    try:
        live = engine.snapshot().machines[0].oee
    finally:
        await engine.stop()
        assert engine.store is not None
        engine.store.close()

    # Ideal time: O1 2,400 x 2 s, O2 2,400 x 0.5 s, O3 (no cycle time of its own) 2,400 x the product's 1 s.
    ideal = 2400 * 2.0 + 2400 * 0.5 + 2400 * 1.0
    assert live.total_count == 7200 and live.run_time_s == 6 * 3600
    assert live.ideal_output_time_s == pytest.approx(ideal)
    assert live.performance == pytest.approx(ideal / (6 * 3600))

    whole = report(paths, capsys, "06:00", "12:00")
    assert whole["total_count"] == 7200
    assert whole["ideal_output_time_s"] == pytest.approx(ideal)
    assert whole["performance"] == pytest.approx(ideal / (6 * 3600))
    # Each order's window on its own: the performance its cycle time gives 20 parts a minute.
    for start, end, performance in (("06:00", "08:00", 20 * 2.0 / 60), ("08:00", "10:00", 20 * 0.5 / 60),
                                    ("10:00", "12:00", 20 * 1.0 / 60)):
        piece = report(paths, capsys, start, end)
        assert piece["performance"] == pytest.approx(performance), (start, end)
        assert piece["ideal_output_time_s"] == pytest.approx(2400 * performance * 60 / 20), (start, end)


async def test_by_order_attribution_follows_each_orders_cycle_time(
        tmp_path: Path, paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert oee(paths, "import", "schedule", str(write_csv(tmp_path / "plan.csv", SCHEDULE))) == 0
    engine = await run_engine(paths)
    await engine.stop()
    assert engine.store is not None
    engine.store.close()
    machine = report(paths, capsys, "06:00", "12:00")
    by_order = {share["order"]: share for share in machine["by_order"]}  # type: ignore[attr-defined]
    assert by_order["O1"]["ideal_output_time_s"] == pytest.approx(4800)
    assert by_order["O2"]["ideal_output_time_s"] == pytest.approx(1200)
    assert by_order["O3"]["ideal_output_time_s"] == pytest.approx(2400)


def test_the_dry_run_shows_each_orders_cycle_time(tmp_path: Path, paths: tuple[Path, Path],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # O2 by its rate only, as the products file takes rates: 7,200 an hour is 0.5 s.
    rates = {"Order": "Rate pcs/h", "O1": "", "O2": "7200", "O3": ""}
    rows = [[*row[:6], rates[row[0]], "" if row[0] == "O2" else row[6]] for row in SCHEDULE]
    assert oee(paths, "import", "schedule", str(write_csv(tmp_path / "plan.csv", rows)), "--dry-run") == 0
    out = capsys.readouterr().out
    assert "ideal_cycle_time_s" in out
    lines = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("O")}
    assert lines["O1"][-1] == "2" and lines["O2"][-1] == "0.5"
    assert lines["O3"][-1] == "2400"  # no cycle time of its own: the column is empty, the quantity is last


def test_a_bad_cycle_time_is_refused_naming_row_and_column(tmp_path: Path, paths: tuple[Path, Path],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    rows = [list(row) for row in SCHEDULE]
    rows[1][6], rows[2][6] = "0", "fast"
    path = write_csv(tmp_path / "plan.csv", rows)
    assert oee(paths, "import", "schedule", str(path)) == 2
    err = capsys.readouterr().err.splitlines()
    assert f"{path}, row 2, column Cycle time [s]: '0': must be greater than 0" in err
    assert any(line.startswith(f"{path}, row 3, column Cycle time [s]: 'fast': is not a duration") for line in err)
    assert not (paths[1] / Store.DB_FILENAME).exists()


async def test_saved_days_are_recomputed_when_an_orders_cycle_time_changes(
        tmp_path: Path, paths: tuple[Path, Path]) -> None:
    assert oee(paths, "import", "schedule", str(write_csv(tmp_path / "plan.csv", SCHEDULE))) == 0
    engine = await run_engine(paths)
    await engine.stop()
    assert engine.store is not None
    engine.store.close()
    config = load_config(paths[0])
    day = Span(at("00:00"), at("00:00", "2026-03-04"))
    now = at("12:00", "2026-03-05")
    with Store.open(paths[1]) as store:
        first = summed_report(store, config, day, now, "day")
        assert first.machines[0].ideal_output_time_s == pytest.approx(8400)
    rows = [list(row) for row in SCHEDULE]
    rows[1][6] = "3"  # O1 now at 3 s: 2,400 more seconds of ideal time
    assert oee(paths, "import", "schedule", str(write_csv(tmp_path / "plan2.csv", rows))) == 0
    with Store.open(paths[1]) as store:
        again = summed_report(store, config, day, now, "day")
        assert again.machines[0].ideal_output_time_s == pytest.approx(8400 + 2400)
