"""`oee report` over 100 machines x 30 days of data. Target (issue 2): under 1 s.

Builds a store with ~650k state intervals and 4.3M per-minute count rows (setup is not timed)
and times the report in-process and as the real `oee report` command, twice:
1. the plant as issue 2 measured it: counts carry their product, no planning data;
2. the worst case with planning data: a schedule of an order every 4 h on every machine (18,000
   orders, two products with their own cycle times), a planned maintenance hour per machine a
   week, and counts that carry no product, so the report attributes every one to its order's.
Then, in-process, a window cut inside a minute at both ends over the plain plant with a count
event every 10 s per machine (26M rows, as the engine stores them beside the minutes), against
the whole-minute window over the same store.
Run: python benchmarks/bench_report.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import fill_history, fill_orders, plant_config

from oee_tui.engine.analysis.report import build_report
from oee_tui.store import Store

MACHINES = 100
DAYS = 30
START = datetime(2026, 10, 1, tzinfo=UTC).timestamp()


def fill(store: Store, with_schedule: bool) -> None:
    cursor = store.cursor()
    fill_history(cursor, START, MACHINES, DAYS, product=None if with_schedule else "A")
    if not with_schedule:
        print("report: plain plant: counts carry their product, no planning data")
    else:
        # A realistic schedule: an order every 4 h on every machine, alternating two products with
        # their own cycle times, and one planned maintenance hour per machine a week. The counters
        # carry no product, so every count is attributed to its order's product by the report.
        cursor.execute("INSERT INTO products VALUES ('A', '', 1.0, NULL), ('B', '', 0.8, NULL)")
        fill_orders(cursor, START, MACHINES, DAYS)
        cursor.execute(f"""
            INSERT INTO planned_stops
            SELECT printf('M%03d', m), NULL, to_timestamp({START} + w * 604800 + 36000)::TIMESTAMP,
                   to_timestamp({START} + w * 604800 + 39600)::TIMESTAMP, 'PM', ''
            FROM range({MACHINES}) t(m), range({DAYS // 7}) r(w)
        """)
        orders = cursor.execute("SELECT count(*) FROM orders").fetchone()[0]  # type: ignore[index]
        print(f"report: schedule of {orders:,} orders, counts without a product")
    intervals = cursor.execute("SELECT count(*) FROM state_intervals").fetchone()[0]  # type: ignore[index]
    counts = cursor.execute("SELECT count(*) FROM count_minutes").fetchone()[0]  # type: ignore[index]
    cursor.close()
    print(f"report: store holds {intervals:,} state intervals and {counts:,} count rows")


def main() -> None:
    for with_schedule in (False, True):
        measure(with_schedule)
    measure_cut_window()


def measure_cut_window() -> None:
    config = plant_config(MACHINES)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "data")
        fill(store, with_schedule=False)
        cursor = store.cursor()
        cursor.execute(f"""
            INSERT INTO count_events
            SELECT printf('M%03d', m), to_timestamp({START} + i * 10 + 0.5)::TIMESTAMP, 'A', 9, 0
            FROM range({DAYS * 8640}) r(i), range({MACHINES}) t(m) ORDER BY i, m
        """)
        events = cursor.execute("SELECT count(*) FROM count_events").fetchone()[0]  # type: ignore[index]
        cursor.close()
        end = START + DAYS * 86400
        windows = (("whole minutes", _span(START, end)), ("cut at :30 both ends", _span(START + 30, end - 30)))
        for label, window in windows:
            best = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                build_report(store, config, window, end, "bench")
                best = min(best, time.perf_counter() - t0)
            print(f"report: {events:,} count events, {label}: in-process build_report {best:.3f} s (best of 3)")
        store.close()


def measure(with_schedule: bool) -> None:
    config = plant_config(MACHINES)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        store = Store.open(data_dir)
        fill(store, with_schedule)
        end = START + DAYS * 86400
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            report = build_report(store, config, _span(START, end), end, "bench")
            best = min(best, time.perf_counter() - t0)
        store.close()
        assert report.plant is not None
        print(f"report: in-process build_report: {best:.3f} s (best of 3); plant OEE {report.plant.oee:.3f}")

        config_path = Path(tmp) / "oee.toml"
        config_path.write_text(_toml(config))
        tomllib.loads(config_path.read_text())
        walls = []
        for _ in range(5):
            t0 = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "oee_tui", "--config", str(config_path), "--data-dir", str(data_dir),
                 "report", "--from", "2026-10-01T00:00+00:00", "--to", "2026-10-31T00:00+00:00", "--format", "csv"],
                capture_output=True, text=True, check=True)
            walls.append(time.perf_counter() - t0)
        rows = done.stdout.count("\n") - 1
        print(f"report: `oee report --from/--to` command, 30 days, 5 runs: median {statistics.median(walls):.3f} s, "
              f"best {min(walls):.3f} s wall incl. interpreter start-up ({rows} rows; target < 1 s)")


def _span(start: float, end: float):  # type: ignore[no-untyped-def]
    from oee_tui.model import Span

    return Span(start, end)


def _toml(config) -> str:  # type: ignore[no-untyped-def]
    """The benchmark config as TOML, for the command-line run."""
    out = [f'[site]\nname = "Bench"\ntimezone = "{config.site.timezone}"\n']
    for line in config.lines:
        out.append(f'[[lines]]\nid = "{line.id}"\n')
    out.append('[[sources]]\nname = "plc"\nkind = "modbus"\n')
    for shift in config.shifts:
        brk = ", ".join(f'{{ start = "{b.start}", end = "{b.end}" }}' for b in shift.breaks)
        out.append(f'[[shifts]]\nname = "{shift.name}"\nstart = "{shift.start}"\nend = "{shift.end}"\n'
                   f"breaks = [{brk}]\n")
    for machine in config.machines:
        out.append(f'[[machines]]\nid = "{machine.id}"\nline = "{machine.line}"\nideal_cycle_time_s = 1.0\n')
    return "\n".join(out)


if __name__ == "__main__":
    main()
