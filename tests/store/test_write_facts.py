"""Store.write_facts: one flush in one transaction, and a row that cannot be stored set aside as a
dead letter (with the row and the reason) instead of failing the flush (issue 13, item 2)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from oee_tui.model import (
    CountBucket,
    CountEvent,
    CountEventColumns,
    DeadLetter,
    EventKind,
    MachineEvent,
    MachineState,
    Quality,
    Signal,
    StateInterval,
    TagSample,
)
from oee_tui.store import FactBatch, KeptSamples, ReasonEntry, Store

T0 = 1_780_000_000.0


def test_each_kind_of_unstorable_row_is_set_aside_and_the_rest_is_written(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    try:
        batch = FactBatch(
            samples=KeptSamples(ts=[T0, math.nan, T0 + 1], source=["plc"] * 3, tag=["a", "b", "c"],
                                value_num=[1.0, 2.0, 3.0], value_text=[None, None, "bad \udcff text"],
                                quality=["good"] * 3),
            history=[TagSample(T0 + 2, "edge", "x", 5, Quality.GOOD),
                     TagSample(math.inf, "edge", "y", 6, Quality.GOOD),
                     TagSample(T0 + 3, "edge", "z", 2**2000, Quality.GOOD)],
            intervals=[StateInterval("M1", T0, T0 + 60, MachineState.RUNNING),
                       StateInterval("M1", T0 + 60, None, "exploded")],  # type: ignore[arg-type]
            counts=[CountBucket("M1", T0, "", 10, 1), CountBucket("M1", T0 + 60, "", 2**64 - 6, 0)],
            dead_letters=[DeadLetter(T0, "plc", "t/1", b"\x00\x01", "undecodable")],
            reasons=[ReasonEntry("M1", T0 + 60, "FAIL", "op", T0 + 70),
                     ReasonEntry("M1", T0 + 120, "FAIL", "op", math.inf)],
        )
        written = store.write_facts(batch, T0 + 100)

        assert (written.samples, written.history, written.intervals, written.counts, written.reasons,
                written.dead_letters) == (1, 1, 1, 1, 1, 1)
        set_aside = {letter.topic: [] for letter in written.set_aside}
        for letter in written.set_aside:
            set_aside[letter.topic].append(letter.error)
        assert sorted(set_aside) == ["store:count_minutes", "store:samples", "store:state_intervals",
                                     "store:stop_reasons"]
        assert len(set_aside["store:samples"]) == 4  # a NaN time, bad text, an infinite time, a huge number
        assert any("not a time" in error for error in set_aside["store:samples"])
        [count_error] = set_aside["store:count_minutes"]
        assert "total" in count_error
        # The stored dead letters: the one given, and one per row set aside, each holding its row.
        stored = store.dead_letters(limit=50)
        assert len(stored) == 1 + len(written.set_aside)
        [huge] = [letter for letter in stored if letter.topic == "store:count_minutes"]
        assert json.loads(huge.payload)["total"] == 2**64 - 6
        assert [i.state for i in store.intervals(T0 - 1, T0 + 3600)] == [MachineState.RUNNING]
        assert sum(bucket.total for bucket in store.counts(T0 - 60, T0 + 3600)) == 10
    finally:
        store.close()


def test_a_flush_of_good_rows_sets_nothing_aside(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    try:
        written = store.write_facts(FactBatch(
            samples=KeptSamples([T0], ["plc"], ["a"], [1.0], [None], ["good"]),
            counts=[CountBucket("M1", T0, "A", 5, 0)]), T0)
        assert written.set_aside == () and (written.samples, written.counts) == (1, 1)
        assert store.dead_letters() == []
    finally:
        store.close()


def test_count_events_go_in_the_flushs_transaction_and_an_unstorable_one_is_set_aside(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    try:
        events = CountEventColumns.of([CountEvent("M1", T0 + 1.5, "A", 2, 0),
                                       CountEvent("M1", T0 + 2.5, "A", 2**64 - 6, 0),
                                       CountEvent("M1", math.nan, "A", 1, 0)])
        written = store.write_facts(FactBatch(counts=[CountBucket("M1", T0, "A", 2, 0)], count_events=events), T0 + 5)

        assert (written.counts, written.count_events) == (1, 1)
        assert [letter.topic for letter in written.set_aside] == ["store:count_events"] * 2
        assert any("BIGINT" in letter.error for letter in written.set_aside)
        assert [(e.ts, e.total) for e in store.count_events(T0 - 60, T0 + 60)] == [(T0 + 1.5, 2)]
    finally:
        store.close()


def test_machine_events_go_in_the_flushs_transaction_and_an_unstorable_one_is_set_aside(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    try:
        events = [MachineEvent("M1", T0, EventKind.COUNTER_JUMP, Signal.TOTAL_COUNT, 1_534, 1_500, 0, 13.0),
                  MachineEvent("M1", T0 + 1, EventKind.COUNTER_JUMP, Signal.TOTAL_COUNT, 1_500, 2**64 + 5, 0, 13.0)]
        written = store.write_facts(FactBatch(machine_events=events), T0 + 5)

        assert written.machine_events == 1
        [letter] = written.set_aside
        assert letter.topic == "store:machine_events" and "UBIGINT" in letter.error
        assert [(e.previous, e.value) for e in store.machine_events("M1", T0 - 60)] == [(1_534, 1_500)]
    finally:
        store.close()
