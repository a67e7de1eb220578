"""The data-quality checks on crafted streams through Engine.ingest: range violations, duplicates,
out-of-order timestamps, completeness per hour, the device clock's skew; the hours kept in a real
DuckDB store across a restart. The drivers' own timestamps are tested against real servers in
tests/engine/test_quality_opcua_skew.py and tests/mqtt/test_quality_skew.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from oee_tui.config import Config, ConfigError
from oee_tui.drivers.registry import config_from_dict
from oee_tui.engine.live.engine import Engine
from oee_tui.model import Quality, SampleColumns, TagSample
from oee_tui.model.data_quality import QualityReport, SourceQuality, TagQuality
from oee_tui.store import Store

HOUR = 1_700_002_800.0  # a clock hour's start (UTC)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def plant(speed: dict[str, Any] | None = None, uns: dict[str, Any] | None = None) -> Config:
    return config_from_dict({
        "site": {"name": "DQ", "timezone": "UTC", "stale_after_s": 3600},
        "lines": [{"id": "L1"}],
        "sources": [
            {"name": "plc", "kind": "modbus", "host": "127.0.0.1", "poll_interval_s": 2.0},
            {"name": "uns", "kind": "mqtt", "host": "127.0.0.1", "timestamp_path": "$.ts",
             "timestamp_format": "epoch_s", **(uns or {})},
            {"name": "spb", "kind": "sparkplug", "host": "127.0.0.1", "expected_every_s": 10},
        ],
        "machines": [{"id": "M1", "line": "L1", "ideal_cycle_time_s": 1.0, "signals": {
            "total_count": {"source": "plc", "tag": "hr:0", "width": 32},
            "speed": {"source": "plc", "tag": "hr:4", **(speed or {"min": 0, "max": 100})},
            "state_code": {"source": "uns", "tag": "line/M1/state"},
            "fault": {"source": "spb", "tag": "g/e/M1/fault"},
        }}],
        "shifts": [{"name": "Day", "start": "00:00", "end": "00:00"}],
    })


def engine_at(now: float, config: Config | None = None, store: Store | None = None) -> tuple[Engine, Clock]:
    clock = Clock(now)
    return Engine(config or plant(), store, clock=clock, acquire=False), clock


async def report(engine: Engine, source: str) -> SourceQuality:
    quality: QualityReport = await engine.data_quality(source)
    (only,) = quality.current
    return only


def tag(quality: SourceQuality, name: str) -> TagQuality:
    return next(row for row in quality.tags if row.tag == name)


async def test_range_violations_count_good_numbers_outside_the_tag_maps_range() -> None:
    engine, _ = engine_at(HOUR + 10)
    engine.ingest([TagSample(HOUR + 1, "plc", "hr:4", 50.0), TagSample(HOUR + 2, "plc", "hr:4", 100.5),
                   TagSample(HOUR + 3, "plc", "hr:4", -1), TagSample(HOUR + 4, "plc", "hr:4", 100),
                   # Bad quality is not a value the device stands by: not a violation.
                   TagSample(HOUR + 5, "plc", "hr:4", 500.0, Quality.BAD)])
    speed = tag(await report(engine, "plc"), "hr:4")
    assert (speed.range_violations, speed.last_violation) == (2, -1)
    assert (speed.range_low, speed.range_high) == (0, 100)
    # The counter has no range: nothing it sends is a violation.
    engine.ingest([TagSample(HOUR + 6, "plc", "hr:0", 10**9)])
    assert (await report(engine, "plc")).range_violations == 2


async def test_a_one_sided_range_and_the_tightest_of_two_maps() -> None:
    config = plant(speed={"min": 10})
    engine, _ = engine_at(HOUR + 10, config)
    engine.ingest([TagSample(HOUR + 1, "plc", "hr:4", 5.0), TagSample(HOUR + 2, "plc", "hr:4", 1e9)])
    assert tag(await report(engine, "plc"), "hr:4").range_violations == 1


@pytest.mark.parametrize(("speed", "field", "words"), [
    ({"min": 10, "max": 5}, "machines[M1].signals.speed.max", "must be at least min (10.0)"),
    ({"min": "low"}, "machines[M1].signals.speed.min", "must be a number"),
    ({"max": True}, "machines[M1].signals.speed.max", "must be a number"),
])
def test_a_wrong_range_names_its_field(speed: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        plant(speed=speed)
    assert field in str(caught.value) and words in str(caught.value)


def test_expected_every_s_must_be_positive() -> None:
    with pytest.raises(ConfigError, match=r"sources\[uns\]\.expected_every_s.*greater than 0"):
        plant(uns={"expected_every_s": 0})


async def test_duplicates_are_the_same_time_and_value_again_and_late_samples_are_out_of_order() -> None:
    engine, _ = engine_at(HOUR + 10)
    engine.ingest([TagSample(HOUR + 2, "plc", "hr:0", 7), TagSample(HOUR + 2, "plc", "hr:0", 7)])
    engine.ingest([TagSample(HOUR + 2, "plc", "hr:0", 7)])  # again, in a batch of its own
    engine.ingest([TagSample(HOUR + 2, "plc", "hr:0", 8)])  # same time, another value: no duplicate
    engine.ingest([TagSample(HOUR + 1, "plc", "hr:0", 6)])  # older than the newest: out of order
    engine.ingest([TagSample(HOUR + 1.5, "plc", "hr:0", 7)])  # still older than the newest (HOUR + 2)
    engine.ingest([TagSample(HOUR + 3, "plc", "hr:0", 7)])  # the same value later: neither
    counter = tag(await report(engine, "plc"), "hr:0")
    assert (counter.duplicates, counter.out_of_order, counter.received) == (2, 2, 7)


async def test_completeness_of_a_polled_source_is_against_its_poll_interval() -> None:
    engine, clock = engine_at(HOUR + 600)  # watched from 10 minutes into the hour
    engine.ingest([TagSample(HOUR + 600 + 2 * n, "plc", "hr:0", n) for n in range(30)])
    engine.ingest([TagSample(HOUR + 600 + 2 * n, "plc", "hr:4", 1.0) for n in range(60)])
    clock.now = HOUR + 720  # 120 s watched: 60 polls of 2 s expected per tag
    plc = await report(engine, "plc")
    assert plc.watched_s == 120
    assert (tag(plc, "hr:0").expected, tag(plc, "hr:0").completeness) == (60, 0.5)
    assert tag(plc, "hr:4").completeness == 1.0
    assert (plc.received, plc.expected, plc.completeness) == (90, 120, 0.75)
    # Bad samples are no data: they do not make a source complete.
    engine.ingest([TagSample(HOUR + 721, "plc", "hr:0", None, Quality.BAD)] * 5)
    assert (await report(engine, "plc")).received == 90


async def test_completeness_of_a_subscription_is_n_a_unless_an_expected_period_is_set() -> None:
    engine, clock = engine_at(HOUR)
    engine.ingest([TagSample(HOUR + 1, "uns", "line/M1/state", 1)])
    engine.ingest([TagSample(HOUR + n, "spb", "g/e/M1/fault", n % 2 == 0) for n in range(1, 6)])
    clock.now = HOUR + 100
    uns = await report(engine, "uns")
    assert (uns.expected_every_s, uns.expected, uns.completeness) == (None, None, None)
    spb = await report(engine, "spb")
    assert (spb.expected_every_s, spb.expected, spb.completeness) == (10, 10, 0.5)


async def test_skew_is_the_least_delay_from_the_device_clock_where_there_is_one() -> None:
    engine, clock = engine_at(HOUR + 100)
    # The first value a subscription sends may be hours old (the time it last changed): the
    # smallest delay, not the newest, measures the clock.
    engine.ingest([TagSample(HOUR - 3000, "uns", "line/M1/state", 1)])
    clock.now = HOUR + 200
    engine.ingest([TagSample(HOUR + 197.5, "uns", "line/M1/state", 2)])
    clock.now = HOUR + 300
    engine.ingest([TagSample(HOUR + 296.0, "uns", "line/M1/state", 1)])
    uns = await report(engine, "uns")
    assert uns.device_time and uns.skew_s == pytest.approx(2.5) and uns.skew_max_s == pytest.approx(2.5)
    # A device clock ahead of the box: negative.
    engine.ingest([TagSample(HOUR + 304.0, "spb", "g/e/M1/fault", True)])
    assert (await report(engine, "spb")).skew_s == pytest.approx(-4.0)
    # Modbus samples carry the box's time of the read: no device clock to compare.
    engine.ingest([TagSample(HOUR + 250, "plc", "hr:0", 1)])
    plc = await report(engine, "plc")
    assert not plc.device_time and plc.skew_s is None and tag(plc, "hr:0").skew_s is None


async def test_sparkplug_columns_are_counted_like_samples() -> None:
    samples = [(HOUR + 1, 1), (HOUR + 1, 1), (HOUR + 0.5, 0), (HOUR + 2, 1)]
    by_samples, _ = engine_at(HOUR + 5)
    by_samples.ingest([TagSample(ts, "spb", "g/e/M1/fault", bool(value)) for ts, value in samples])
    by_columns, _ = engine_at(HOUR + 5)
    by_columns.ingest(SampleColumns("spb", [ts for ts, _ in samples], ["g/e/M1/fault"] * 4,
                                    [bool(value) for _, value in samples]))
    assert await report(by_samples, "spb") == await report(by_columns, "spb")
    fault = tag(await report(by_columns, "spb"), "g/e/M1/fault")
    assert (fault.received, fault.duplicates, fault.out_of_order, fault.skew_s) == (4, 1, 1, 3.0)


async def test_the_hour_closes_at_the_tick_and_the_next_starts_from_zero() -> None:
    engine, clock = engine_at(HOUR + 3590)
    engine.ingest([TagSample(HOUR + 3590 + n, "plc", "hr:4", 200.0) for n in range(0, 10, 2)])
    clock.now = HOUR + 3600.5
    engine.tick()
    engine.ingest([TagSample(HOUR + 3600, "plc", "hr:4", 50.0)])
    quality = await engine.data_quality("plc")
    (closed,) = quality.hours
    assert (closed.hour, closed.watched_s, closed.received, closed.range_violations) == (HOUR, 10, 5, 5)
    assert tag(closed, "hr:4").completeness == 1.0
    (current,) = quality.current
    assert (current.hour, current.received, current.range_violations) == (HOUR + 3600, 1, 0)


async def test_a_reload_keeps_the_hour_of_tags_still_mapped() -> None:
    engine, _ = engine_at(HOUR + 10)
    engine.ingest([TagSample(HOUR + 1, "plc", "hr:4", 500.0)])
    await engine.reload(plant(speed={"max": 1000}))
    engine.ingest([TagSample(HOUR + 2, "plc", "hr:4", 500.0), TagSample(HOUR + 2, "plc", "hr:4", 500.0)])
    speed = tag(await report(engine, "plc"), "hr:4")
    assert (speed.received, speed.range_violations, speed.duplicates, speed.range_high) == (3, 1, 1, 1000)


async def test_an_unknown_source_is_refused() -> None:
    engine, _ = engine_at(HOUR)
    with pytest.raises(KeyError, match="nope"):
        await engine.data_quality("nope")


async def test_hours_are_stored_and_a_restart_within_the_hour_adds_to_them(tmp_path: Path) -> None:
    for run in range(2):
        store = Store.open(tmp_path)
        engine, clock = engine_at(HOUR + 100 + run * 1000, store=store)
        await engine.start()
        start = clock.now
        engine.ingest([TagSample(start + 2 * n, "plc", "hr:4", 200.0 if n == 0 else 1.0) for n in range(50)])
        engine.ingest([TagSample(start + 1, "uns", "line/M1/state", 3)])
        clock.now = start + 200
        await engine.stop()
        store.close()
    with Store.open(tmp_path) as store:
        rows = {(row.source, row.tag): row for row in store.quality_hours(HOUR)}
    speed = rows[("plc", "hr:4")]
    # Two runs of 200 s watched at one sample every 2 s: 100 + 100 expected, 50 + 50 received.
    assert (speed.hour, speed.received, speed.expected, speed.range_violations) == (HOUR, 100, 200, 2)
    assert speed.last_violation == 200.0
    state = rows[("uns", "line/M1/state")]
    # Received at `start`, stamped a second later by its device: its clock is ahead by 1 s.
    assert (state.received, state.expected, state.skew_s) == (2, None, -1.0)
    assert rows[("plc", "hr:0")].received == 0  # watched, silent: its hour is stored too


async def test_a_report_without_tags_keeps_the_sums_and_the_worst_tag() -> None:
    engine, _ = engine_at(HOUR + 10)
    engine.ingest([TagSample(HOUR + 1, "plc", "hr:4", 500.0), TagSample(HOUR + 2, "plc", "hr:4", 700.0),
                   TagSample(HOUR + 2, "plc", "hr:0", 3), TagSample(HOUR + 2, "plc", "hr:0", 3)])
    whole = await engine.data_quality("plc")
    short = await engine.data_quality("plc", tags=False)
    (plc,) = short.current
    assert plc.tags == () and len(whole.current[0].tags) == 2
    assert (plc.received, plc.range_violations, plc.duplicates) == (4, 2, 1)
    assert plc.worst_range is not None and (plc.worst_range.tag, plc.worst_range.last_violation) == ("hr:4", 700.0)
