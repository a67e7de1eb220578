"""The shift review screen's queries over 100 machines x 90 days. Target (issue 5): under 1 s.

Fills a store with SQL (not timed): a 20-minute cycle per machine (17 min running, a 40 s
micro-stop, 2.3 min down), so 90 days hold ~1.9M state intervals and ~13M per-minute count
rows; every other breakdown has a reason. Then times each query the screen runs, for the
whole 90 days (the worst case), one ISO week and one shift: best of BENCH_ROUNDS runs each.
Days, weeks and ranges sum saved day summaries (oee_tui.engine.analysis.day_summaries): their first look,
with no day saved (answered whole while the days are saved in the background), is printed apart,
with the report computed whole for comparison.
Run: python benchmarks/bench_review.py   (BENCH_DAYS, BENCH_MACHINES and BENCH_ROUNDS scale it;
BENCH_STORE=DIR keeps the filled store in DIR and reuses it on the next run with the same scale)
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from common import fill_history, plant_config

from oee_tui.engine.analysis.day_summaries import wait_for_saving
from oee_tui.engine.analysis.report import build_report
from oee_tui.engine.analysis.review import (
    Level,
    Period,
    PeriodKind,
    Scope,
    compare_same_shift,
    compare_shifts_of_day,
    downtime_pareto,
    machine_stops,
    planned_config,
    range_period,
    review_report,
    shift_period,
    six_big_losses,
    target_vs_actual,
    unassigned_stops,
    week_period,
)
from oee_tui.store import Store

MACHINES = int(os.environ.get("BENCH_MACHINES", "100"))
DAYS = int(os.environ.get("BENCH_DAYS", "90"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
FIRST_DAY = date(2026, 8, 1)
START = datetime(2026, 8, 1, tzinfo=UTC).timestamp()


def fill(store: Store) -> None:
    cursor = store.cursor()
    seconds = DAYS * 86400
    fill_history(cursor, START, MACHINES, DAYS, product="A")
    # Every other breakdown explained, with one of four reasons.
    cursor.execute(f"""
        INSERT INTO stop_reasons
        SELECT printf('M%03d', m), to_timestamp({START} + c * 1200 + 1060)::TIMESTAMP,
               ['FAIL.MECH', 'FAIL.ELEC', 'MATERIAL', 'SETUP'][1 + (c // 2) % 4], 'bench',
               to_timestamp({START} + c * 1200 + 1300)::TIMESTAMP
        FROM range({MACHINES}) t(m), range({seconds // 1200}) r(c) WHERE c % 2 = 0
    """)
    counts = [cursor.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
              for table in ("state_intervals", "count_minutes", "stop_reasons")]
    cursor.close()
    print(f"review: store holds {counts[0]:,} state intervals, {counts[1]:,} count rows, {counts[2]:,} reasons "
          f"({MACHINES} machines x {DAYS} days)")


def best(call: Callable[[], Any]) -> tuple[float, Any]:
    fastest, result = float("inf"), None
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        result = call()
        fastest = min(fastest, time.perf_counter() - t0)
    return fastest, result


def time_period(store: Store, name: str, period: Period, now: float) -> None:
    window = period.window(now)
    plant = Scope()
    line = Scope(Level.LINE, "L0")
    figures: list[tuple[str, float, str]] = []

    seconds, (config, planning) = best(lambda: planned_config(store, CONFIG))
    figures.append(("planning data (imported reasons, shifts, stops)", seconds, ""))
    first: list[tuple[str, float, str]] = []
    if period.kind is not PeriodKind.SHIFT:
        # Days, weeks and ranges sum saved day summaries: once without any saved (the first look
        # at these days, which computes and saves them), then as every later look finds them.
        seconds, direct = best(lambda: build_report(store, config, window, now, "direct", planning=planning))
        first.append(("the report computed whole, without day summaries", seconds, f"plant OEE {direct.plant.oee:.3f}"))
        store.forget_day_summaries()
        t0 = time.perf_counter()
        review_report(store, config, period, now, planning=planning)
        answered = time.perf_counter() - t0
        wait_for_saving(store)
        first.append(("first look, no day saved: the report", answered,
                      "whole if > 7 days to compute; they are saved meanwhile"))
        first.append(("  ... its days saved (in the background)", time.perf_counter() - t0, "once per day and machine"))
    seconds, report = best(lambda: review_report(store, config, period, now, planning=planning))
    figures.append(("OEE per machine and line + six big losses (the report)", seconds,
                    f"plant OEE {report.plant.oee:.3f}"))
    seconds, losses = best(lambda: six_big_losses(report.plant))
    figures.append(("six big losses rows", seconds, f"{len(losses)} rows"))
    seconds, bars = best(lambda: downtime_pareto(config, report, plant))
    figures.append(("downtime Pareto by reason, plant", seconds, f"{len(bars)} bars"))
    seconds, targets = best(lambda: target_vs_actual(config, report, plant))
    figures.append(("target vs actual", seconds, f"{len(targets)} rows"))
    seconds, todo = best(lambda: unassigned_stops(store, config, window, now, plant))
    figures.append(("stops without reason, plant", seconds, f"{todo.total:,} found, {len(todo.rows)} listed"))
    seconds, line_report = best(lambda: review_report(store, config, period, now, line, planning))
    figures.append(("drill to a line: its report", seconds, f"{len(line_report.machines)} machines"))
    seconds, line_bars = best(lambda: downtime_pareto(config, line_report, line))
    figures.append(("drill to a line: its Pareto", seconds, f"{len(line_bars)} bars"))
    seconds, stops = best(lambda: machine_stops(store, window, "M000"))
    figures.append(("drill to a machine: its stops", seconds, f"{stops.total:,} found, {len(stops.rows)} listed"))
    screen = sum(figures[i][1] for i in (0, 1, 3, 4, 5))
    print(f"review: {name} ({period.label}):")
    for what, secs, note in first:
        print(f"  {what:<55} {secs * 1000:8.1f} ms  {note}")
    for what, secs, note in figures:
        print(f"  {what:<55} {secs * 1000:8.1f} ms  {note}")
    print(f"  {'= the screen on it (planning+report+Pareto+targets+to-do)':<55} {screen * 1000:8.1f} ms")


CONFIG = plant_config(MACHINES)


def open_filled(tmp: str) -> Store:
    """A filled store: in BENCH_STORE if given (filled there once per scale), else in `tmp`."""
    keep = os.environ.get("BENCH_STORE")
    data_dir = Path(keep) / f"review-{MACHINES}x{DAYS}" if keep else Path(tmp) / "data"
    done = data_dir / "filled"
    if done.exists():
        print(f"review: reusing the store in {data_dir}")
        return Store.open(data_dir)
    if data_dir.exists():
        shutil.rmtree(data_dir)  # a fill that did not finish
    store = Store.open(data_dir)
    t0 = time.perf_counter()
    fill(store)
    print(f"review: filled in {time.perf_counter() - t0:.1f} s (not part of the figures)")
    done.touch()
    return store


def main() -> None:
    print(f"review: load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        store = open_filled(tmp)
        last_day = FIRST_DAY + timedelta(days=DAYS - 1)
        now = START + DAYS * 86400
        time_period(store, f"all {DAYS} days", range_period(CONFIG, FIRST_DAY, last_day), now)
        year, week, _ = (last_day - timedelta(days=7)).isocalendar()
        time_period(store, "one ISO week", week_period(CONFIG, year, week), now)
        time_period(store, "one shift", shift_period(CONFIG, "Early", last_day), now)
        seconds, rows = best(lambda: compare_same_shift(store, CONFIG, "Early", last_day, now))
        print(f"review: compare the Early shift across the last 7 days, plant: {seconds * 1000:.1f} ms "
              f"({len(rows)} shifts)")
        seconds, rows = best(lambda: compare_shifts_of_day(store, CONFIG, last_day, now))
        print(f"review: compare the shifts of one day, plant: {seconds * 1000:.1f} ms ({len(rows)} shifts)")
        seconds, rows = best(lambda: compare_same_shift(store, CONFIG, "Early", last_day, now,
                                                        Scope(Level.LINE, "L0")))
        print(f"review: compare the Early shift across the last 7 days, one line: {seconds * 1000:.1f} ms")
        store.close()


if __name__ == "__main__":
    main()
