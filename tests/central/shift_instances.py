"""The shift instances of an edge's calendar in `oee.shifts`, which `oee.machine_oee_by_shift` groups by.

The contract has the sync write them; the sync does not yet (its TABLE_ORDER has the shift patterns, not
their instances), so the tests write what it would: every instance of the edge's one calendar in a span."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import psycopg

from oee_tui.config import Config
from oee_tui.engine.oee.planning_rules import Planning
from oee_tui.store import Store


def write_shift_instances(data_dir: Path, config: Config, conn: psycopg.Connection[tuple[object, ...]],
                          edge_id: str, site: str, start: float, end: float) -> None:
    with Store.open(data_dir) as store:
        planning = Planning.from_records(store.planning_records())
    with conn.transaction():
        for instance in planning.calendar(config).shifts_between(start, end):
            breaks = sum(b.end - b.start for b in instance.breaks)
            conn.execute("INSERT INTO oee.shifts VALUES (%s, %s, %s, %s, %s, %s, %s)",
                         (edge_id, site, instance.label, instance.name, datetime.fromtimestamp(instance.start, UTC),
                          datetime.fromtimestamp(instance.end, UTC), instance.end - instance.start - breaks))
