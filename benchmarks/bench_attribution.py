"""Attributed facts (shift, order, product per state interval and per count minute) for
100 machines x 90 days, with an order every 4 h on every machine. Target (issue 5): well under 1 s
for the review screen's queries. Setup is not timed.
Run: python benchmarks/bench_attribution.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import fill_history, fill_orders, plant_config

from oee_tui.engine.analysis.attribution import attributed_counts, attributed_intervals
from oee_tui.engine.oee.planning_rules import Planning
from oee_tui.model import Span
from oee_tui.store import Store

MACHINES = 100
DAYS = 90
START = datetime(2026, 7, 1, tzinfo=UTC).timestamp()


def fill(store: Store) -> None:
    cursor = store.cursor()
    fill_history(cursor, START, MACHINES, DAYS, product=None)
    fill_orders(cursor, START, MACHINES, DAYS)
    cursor.close()


def main() -> None:
    config = plant_config(MACHINES)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "data")
        fill(store)
        window = Span(START, START + DAYS * 86400)
        t0 = time.perf_counter()
        planning = Planning.load(store)
        load = time.perf_counter() - t0
        print(f"attribution: Planning.load with {len(planning.orders):,} orders: {load:.3f} s")
        for name, fn in (("intervals", attributed_intervals), ("counts", attributed_counts)):
            best, rows = float("inf"), 0
            for _ in range(2):
                t0 = time.perf_counter()
                table = fn(store, config, planning, window)
                best = min(best, time.perf_counter() - t0)
                rows = table.num_rows
            print(f"attribution: attributed_{name}, {MACHINES} machines x {DAYS} days: {best:.3f} s "
                  f"(best of 2) for {rows:,} rows")
        store.close()


if __name__ == "__main__":
    main()
