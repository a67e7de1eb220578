"""Each stop reason a person gives is in the audit trail: who, from where, the stop, the reason before and after,
written in the transaction that stores the reason (and not at all when the reason is not stored)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from oee_tui.engine.live.engine import Engine
from oee_tui.model import AuditChange, MachineState, StateInterval
from oee_tui.store import FactBatch, ReasonEntry, Store
from tests.engine.test_fact_writer import Feed, run_shift
from tests.imports.test_import_oee import at, plant

YESTERDAY = 24 * 3600.0


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


async def test_reasons_for_an_older_stop_are_audited_with_the_reason_they_replace(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    old_stop = at("07:00") - YESTERDAY
    store.upsert_intervals([
        StateInterval("M1", at("06:00") - YESTERDAY, old_stop, MachineState.RUNNING),
        StateInterval("M1", old_stop, at("07:20") - YESTERDAY, MachineState.DOWN),
    ])
    clock = [at("10:00")]
    engine = Engine(plant(with_plc=True), store, clock=lambda: clock[0], acquire=False)
    try:
        await engine.set_stop_reason("M1", old_stop, "FAIL.MECH", "anna (line3)", "ssh 10.1.2.3")
        clock[0] = at("10:05")
        await engine.set_stop_reason("M1", old_stop, "FAIL", "sup", "tty /dev/pts/4")
        with pytest.raises(ValueError, match="unknown reason code"):
            await engine.set_stop_reason("M1", old_stop, "NOPE", "sup", "local")
        with pytest.raises(KeyError, match="has no stop starting at"):
            await engine.set_stop_reason("M1", old_stop + 5, "FAIL", "sup", "local")
        entries = store.audit_entries()
        assert [(e.seq, e.user, e.origin, e.kind, e.subject, e.before_value(), e.after_value(), e.ts)
                for e in entries] == [
            (2, "sup", "tty /dev/pts/4", "stop_reason", f"M1@{_iso(old_stop)}", "FAIL.MECH", "FAIL", at("10:05")),
            (1, "anna (line3)", "ssh 10.1.2.3", "stop_reason", f"M1@{_iso(old_stop)}", None, "FAIL.MECH",
             at("10:00")),
        ]
        assert store.verify_audit().ok
    finally:
        await engine.stop()


async def test_a_reason_for_a_stop_of_the_current_shift_is_audited(tmp_path: Path) -> None:
    feed = Feed(lambda clock: Engine(plant(with_plc=True), Store.open(tmp_path), clock=clock, acquire=False))
    await feed.engine.start()
    try:
        await run_shift(feed)
        [breakdown] = [stop for stop in (await feed.engine.machine_detail("M1")).stops
                       if stop.state is MachineState.DOWN]
        await feed.engine.set_stop_reason("M1", breakdown.start, "FAIL.MECH", "operator")
        store = feed.engine.store
        assert store is not None
        [entry] = store.audit_entries()
        assert (entry.user, entry.origin, entry.subject, entry.before, entry.after_value()) == (
            "operator", "local", f"M1@{_iso(breakdown.start)}", None, "FAIL.MECH")
    finally:
        await feed.engine.stop()


def test_a_reason_the_store_sets_aside_takes_its_audit_entry_with_it(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        good = ReasonEntry("M1", at("07:00"), "FAIL", "op", at("07:30"),
                           AuditChange("op", "local", "stop_reason", "M1@07:00", None, "FAIL", at("07:30")))
        unstorable = ReasonEntry("M2", math.nan, "FAIL", "op", at("07:30"),
                                 AuditChange("op", "local", "stop_reason", "M2@nan", None, "FAIL", at("07:30")))
        written = store.write_facts(FactBatch(reasons=[unstorable, good]), at("07:30"))
        assert written.reasons == 1 and len(written.set_aside) == 1
        assert [entry.subject for entry in store.audit_entries()] == ["M1@07:00"]
