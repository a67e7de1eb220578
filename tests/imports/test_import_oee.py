"""OEE from an imported production log equals OEE from the same facts arriving through the engine.

The engine side is the real Engine fed TagSamples (state code, counters, product) through
`ingest`, with a clock the test moves, exactly as its drivers would deliver them; no server
is needed for that (acquire=False), and nothing is mocked. Both stores are then reported
by the same `build_report` over the same windows, and every figure must match.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from oee_tui.config import Config
from oee_tui.drivers.registry import config_from_dict
from oee_tui.engine.analysis.report import build_report
from oee_tui.engine.live.engine import Engine
from oee_tui.imports import validate_file
from oee_tui.imports.write import WriteSummary, write_result
from oee_tui.model import Quality, Span, TagSample
from oee_tui.store import Store
from tests.imports.test_write import write_csv

TZ = ZoneInfo("Europe/Berlin")
DAY = "2026-03-03"  # a Tuesday


def at(hhmm: str) -> float:
    return datetime.fromisoformat(f"{DAY}T{hhmm}").replace(tzinfo=TZ).timestamp()


def plant(with_plc: bool) -> Config:
    machine: dict[str, Any] = {"id": "M1", "line": "L1", "ideal_cycle_time_s": 1.0, "micro_stop_threshold_s": 60,
                               "startup_period_s": 120, "product_cycle_times": {"A": 0.5, "B": 2.0}}
    if with_plc:
        machine["signals"] = {
            "total_count": {"source": "plc", "tag": "hr:0", "type": "uint32", "width": 32},
            "reject_count": {"source": "plc", "tag": "hr:2", "type": "uint32", "width": 32},
            "state_code": {"source": "plc", "tag": "hr:4"},
            "product": {"source": "plc", "tag": "hr:5"},
        }
    return config_from_dict({
        "site": {"name": "Test", "timezone": "Europe/Berlin", "stale_after_s": 7200},
        "lines": [{"id": "L1"}],
        "sources": [{"name": "plc", "kind": "modbus", "host": "127.0.0.1", "port": 502}],
        "shifts": [{"name": "Early", "start": "06:00", "end": "14:00", "breaks": [{"start": "09:30", "end": "09:45"}]}],
        "machines": [machine],
    })


# What the machine did, as the log has it: (type, product, start, end, total, rejects, reason).
LOG = [
    ("run", "A", "06:00", "07:00", 3600, 60, ""),  # 60 a minute, 1 reject a minute
    ("stop", "", "07:00", "07:20", None, None, "FAIL.MECH"),  # a breakdown
    ("run", "B", "07:20", "08:00", 1200, 40, ""),  # product change; rejects at 07:20-07:21 are startup rejects
    ("stop", "", "08:00", "08:00:30", None, None, ""),  # 30 s without reason: a minor stop
    ("run", "B", "08:00:30", "09:00", 1190, 0, ""),  # 20 a minute; its first half minute makes 10
    ("stop", "", "09:00", "09:10", None, None, "SETUP"),  # a changeover
    ("run", "A", "09:10", "11:00", 6600, 110, ""),  # through the 09:30 break
    # 11:00-11:30: nothing written down, nothing known
    ("run", "A", "11:30", "12:00", 600, 0, ""),  # 20 a minute
]


def log_file(path: Path) -> Path:
    rows: list[list[object]] = [["Machine", "Type", "Product", "Start", "End", "Total", "Rejects", "Reason"]]
    for kind, product, start, end, total, reject, reason in LOG:
        rows.append(["M1", kind, product, f"{DAY} {start}", f"{DAY} {end}", "" if total is None else total,
                     "" if reject is None else reject, reason])
    return write_csv(path, rows)


def per_minute(start: float, end: float, amount: int) -> Iterator[tuple[float, int]]:
    """A PLC counting at an even rate: each minute's parts, in proportion to the time run in it."""
    minute = start - start % 60
    while minute < end:
        share = amount * (min(end, minute + 60) - max(start, minute)) / (end - start)
        assert share == int(share), "the scenario keeps every minute's share whole"
        yield minute, int(share)
        minute += 60


async def feed_engine(store: Store) -> None:
    clock = [at("05:00")]
    engine = Engine(plant(with_plc=True), store, clock=lambda: clock[0], acquire=False)
    total = reject = 0

    def send(ts: float, **values: object) -> None:
        clock[0] = ts
        tags = {"total_count": "hr:0", "reject_count": "hr:2", "state_code": "hr:4", "product": "hr:5"}
        engine.ingest([TagSample(ts, "plc", tags[name], value, Quality.GOOD) for name, value in values.items()])

    send(at("05:59"), state_code=0, total_count=0, reject_count=0, product="A")  # counters' baseline
    for kind, product, start, end, run_total, run_reject, _ in LOG:
        begin, finish = at(start), at(end)
        if kind == "stop":
            send(begin, state_code=2)
            continue
        send(begin, state_code=1, product=product)
        rejects = dict(per_minute(begin, finish, run_reject))
        for minute, parts in per_minute(begin, finish, run_total):
            total += parts
            reject += rejects[minute]
            send(max(minute + 30, begin + 1), total_count=total, reject_count=reject)
        if end in ("11:00", "12:00"):
            send(finish, state_code=0)  # nobody knows what came next
    clock[0] = at("12:30")
    engine.tick()
    await engine.flush()
    for kind, _, start, _, _, _, reason in LOG:
        if kind == "stop" and reason:
            await engine.set_stop_reason("M1", at(start), reason, "operator")
    await engine.flush()


@pytest.mark.parametrize(("window_start", "window_end", "after_the_window"), [
    ("06:00", "14:00", 0),  # the whole shift, with its break and the unlogged half hour
    ("06:30", "11:45", 0),  # cuts the first run, the last one, and the no-data half hour
    # Starts inside the breakdown and ends inside the minor stop. The engine's counts are timed
    # by their reads, so the window gets exactly the parts made in it; a log's minutes have no
    # such times, so the minute 08:00, starting inside, counts whole with the 10 parts made from
    # 08:00:30 on.
    ("07:10", "08:00:15", 10),
])
async def test_oee_from_an_imported_log_equals_oee_from_the_engine(tmp_path: Path, window_start: str,
                                                                 window_end: str, after_the_window: int) -> None:
    config = plant(with_plc=False)
    result = validate_file("production-log", log_file(tmp_path / "log.csv"), config)
    assert result.ok, [str(p) for p in result.problems]
    with Store.open(tmp_path / "imported") as imported:
        assert write_result(imported, result, imported_by="planner") == WriteSummary("production-log", 8, 0, 0)
        window = Span(at(window_start), at(window_end))
        from_log = build_report(imported, config, window, at("20:00"), "w")
    with Store.open(tmp_path / "engine") as engine_store:
        await feed_engine(engine_store)
        from_engine = build_report(engine_store, config, window, at("20:00"), "w")

    log_machine, engine_machine = from_log.machines[0], from_engine.machines[0]
    if after_the_window:
        assert log_machine.total_count - engine_machine.total_count == after_the_window
        assert log_machine.reject_count == engine_machine.reject_count
        assert log_machine.run_time_s == engine_machine.run_time_s
        return
    assert log_machine.to_dict() == engine_machine.to_dict()
    assert from_log.lines[0].to_dict() == from_engine.lines[0].to_dict()
    # The scenario reaches every part of the calculation, so equality above means something.
    if window_start == "06:00":
        assert log_machine.total_count == 3600 + 1200 + 1190 + 6600 + 600
        losses = log_machine.losses
        assert (losses.breakdown_s, losses.setup_s, losses.minor_stop_s) == (1200.0, 600.0, 30.0)
        # Two minutes after the breakdown and two after the changeover, one reject each.
        assert losses.startup_rejects_count == 4 and losses.defects_count == 60 + 38 + 108
        assert log_machine.no_data_s == 1800.0 + 2 * 3600  # 11:00-11:30 and 12:00-14:00
    if window_start == "06:30":
        assert log_machine.total_count == 1800 + 1200 + 1190 + 6600 + 300
