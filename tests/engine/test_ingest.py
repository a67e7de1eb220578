"""Engine.ingest: what it keeps of raw samples (change, deadband) and what it tells the machines,
for TagSample batches and for the GOOD columns a Sparkplug host sends (SampleColumns), which must
give the same results."""

from __future__ import annotations

import random
from typing import Any

from oee_tui.config import Config
from oee_tui.drivers.registry import config_from_dict
from oee_tui.engine.live.engine import Engine
from oee_tui.model import Quality, SampleColumns, Signal, TagSample, TagValue

T0 = 1_700_000_000.0


def plant() -> Config:
    machines = [{"id": f"M{index}", "line": "L1", "ideal_cycle_time_s": 1.0, "signals": {
        "total_count": {"source": "uns", "tag": f"g/e/M{index}/total", "width": 32},
        "reject_count": {"source": "uns", "tag": f"g/e/M{index}/reject", "width": 16},
        "state_code": {"source": "uns", "tag": f"g/e/M{index}/state"},
        "speed": {"source": "uns", "tag": f"g/e/M{index}/speed", "deadband": 0.5},
        "fault": {"source": "uns", "tag": f"g/e/M{index}/fault"},
        "product": {"source": "uns", "tag": f"g/e/M{index}/product"},
    }} for index in range(3)]
    # A line counter feeding two machines, and a tag of another source with the same name as one of uns.
    for index in (0, 1):
        del machines[index]["signals"]["reject_count"]
        machines[index]["signals"]["good_count"] = {"source": "uns", "tag": "g/e/line/good", "width": 32}
    machines[2]["signals"]["total_count"] = {"source": "plc", "tag": "g/e/M0/total", "width": 32}
    return config_from_dict({
        "site": {"name": "Ingest", "timezone": "UTC", "stale_after_s": 3600},
        "lines": [{"id": "L1"}],
        "sources": [{"name": "uns", "kind": "sparkplug", "host": "127.0.0.1"},
                    {"name": "plc", "kind": "mqtt", "host": "127.0.0.1"}],
        "machines": machines,
        "shifts": [{"name": "Day", "start": "00:00", "end": "00:00"}],
    })


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def random_rows(rng: random.Random, count: int, start: float) -> list[tuple[float, str, TagValue]]:
    totals: dict[str, int] = {}
    rows: list[tuple[float, str, TagValue]] = []
    for step in range(count):
        machine = f"M{rng.randrange(3)}"
        kind = rng.choice(["total", "reject", "state", "speed", "fault", "product", "good", "unknown"])
        ts = start + step * 0.37
        value: TagValue
        if kind in ("total", "reject", "good"):
            tag = "g/e/line/good" if kind == "good" else f"g/e/{machine}/{kind}"
            totals[tag] = totals.get(tag, rng.randrange(1000)) + rng.choice([0, 0, 1, 2, 5])
            value = totals[tag]
        elif kind == "state":
            tag, value = f"g/e/{machine}/state", rng.choice([1, 1, 2, 3, None])
        elif kind == "speed":
            tag, value = f"g/e/{machine}/speed", round(100 + rng.uniform(-1.5, 1.5), 2)
        elif kind == "fault":
            tag, value = f"g/e/{machine}/fault", rng.random() < 0.2
        elif kind == "product":
            tag, value = f"g/e/{machine}/product", rng.choice(["A-1", "B-2", None])
        else:
            tag, value = f"g/e/{machine}/not-mapped", 1
        rows.append((ts, tag, value))
    return rows


def observed(engine: Engine) -> dict[str, Any]:
    """Everything ingest changes: kept raw samples, statistics, and each machine's state."""
    machines = {}
    for machine_id, tracker in engine.machines.items():
        machines[machine_id] = {
            "pending": dict(tracker.pending_counts), "recent": dict(tracker.recent_counts),
            "counters": {signal: counter.last for signal, counter in tracker.counters.items()},
            "state_code": tracker.state_code, "speed": tracker.speed, "fault": tracker.fault,
            "product": tracker.tag_product, "bad": dict(tracker.bad), "last_good": tracker.last_good,
            "last_count": tracker.last_count, "kind": tracker.kind,
            "intervals": [(i.start, i.end, i.state) for i in (*tracker.history, tracker.current)],
        }
    return {"kept": [list(column) for column in engine.pending_samples], "samples_in": engine.stats.samples_in,
            "unknown": engine.stats.unknown_tags, "machines": machines}


def test_columns_and_tag_samples_give_the_same_results() -> None:
    rng = random.Random(4)
    clock_a, clock_b = Clock(), Clock()
    by_samples = Engine(plant(), None, clock=clock_a, acquire=False)
    by_columns = Engine(plant(), None, clock=clock_b, acquire=False)
    start = T0
    for _batch in range(40):
        rows = random_rows(rng, rng.randrange(1, 300), start)
        start = rows[-1][0] + 1.0
        clock_a.now = clock_b.now = start
        by_samples.ingest([TagSample(ts, "uns", tag, value) for ts, tag, value in rows])
        by_columns.ingest(SampleColumns("uns", [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]))
        if rng.random() < 0.2:  # a BAD sample between GOOD ones, as a death brings
            bad = [TagSample(start, "uns", "g/e/M1/speed", None, Quality.BAD, "offline")]
            by_samples.ingest(bad)
            by_columns.ingest(bad)
    result = observed(by_samples)
    assert result == observed(by_columns)
    # The comparison is not of two empty things: every kind of signal moved.
    assert result["unknown"] > 0 and len(result["kept"][0]) > 1_000
    assert all(m["pending"] and m["state_code"] is not None for m in result["machines"].values())


def test_raw_samples_are_kept_on_change_beyond_the_deadband_and_counts_always() -> None:
    engine = Engine(plant(), None, clock=Clock(), acquire=False)
    speeds = [100.0, 100.3, 100.4, 100.6, 100.6, 99.9]
    engine.ingest(SampleColumns("uns", [T0 + i for i in range(6)], ["g/e/M0/speed"] * 6, speeds))
    engine.ingest(SampleColumns("uns", [T0 + 10, T0 + 11, T0 + 12], ["g/e/M0/total"] * 3, [5, 5, 6]))
    ts, source, tag, value_num, value_text, quality = engine.pending_samples
    kept = list(zip(tag, value_num, strict=True))
    # 100.3 and 100.4 are within 0.5 of the last kept 100.0; a repeat is never kept; a counter has no deadband.
    assert kept == [("g/e/M0/speed", 100.0), ("g/e/M0/speed", 100.6), ("g/e/M0/speed", 99.9), ("g/e/M0/total", 5.0),
                    ("g/e/M0/total", 6.0)]
    assert set(source) == {"uns"} and set(quality) == {"good"} and value_text == [None] * 5
    assert ts == [T0, T0 + 3, T0 + 5, T0 + 10, T0 + 12]
    # The machine still hears every value: the speed it shows is the last one, not the last kept.
    assert engine.machines["M0"].speed == 99.9
    assert engine.stats.samples_in == 9


def test_a_good_value_after_a_bad_one_is_kept_even_when_it_did_not_change() -> None:
    engine = Engine(plant(), None, clock=Clock(), acquire=False)
    engine.ingest(SampleColumns("uns", [T0], ["g/e/M2/state"], [1]))
    engine.ingest([TagSample(T0 + 1, "uns", "g/e/M2/state", None, Quality.BAD, "device offline (DDEATH)")])
    assert engine.machines["M2"].bad == {Signal.STATE_CODE: "device offline (DDEATH)"}
    engine.ingest(SampleColumns("uns", [T0 + 2], ["g/e/M2/state"], [1]))
    _ts, _source, tag, value_num, _text, quality = engine.pending_samples
    assert list(zip(tag, value_num, quality, strict=True)) == [
        ("g/e/M2/state", 1.0, "good"), ("g/e/M2/state", None, "bad"), ("g/e/M2/state", 1.0, "good")]
    assert engine.machines["M2"].bad == {}


def test_columns_of_another_source_do_not_feed_this_sources_tags() -> None:
    engine = Engine(plant(), None, clock=Clock(), acquire=False)
    engine.ingest(SampleColumns("plc", [T0, T0 + 1], ["g/e/M0/total", "g/e/M0/total"], [10, 12]))
    assert engine.machines["M2"].counters[Signal.TOTAL_COUNT].last == 12  # plc's g/e/M0/total feeds M2
    assert engine.machines["M0"].counters[Signal.TOTAL_COUNT].last is None  # uns's g/e/M0/total is another tag
    engine.ingest(SampleColumns("nowhere", [T0], ["g/e/M0/total"], [1]))
    assert engine.stats.unknown_tags == 1
