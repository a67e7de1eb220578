"""Planning-file import: read + validate + write a 100,000-row XLSX production log.

Target (issue 5): validated AND imported in under 10 s. The write goes into a fresh store
(runs, stops, state intervals, count minutes and stop reasons, one transaction); a second
write of the same result shows what an idempotent re-import costs.
Run: python benchmarks/bench_import.py [rows]
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl

from oee_tui.drivers.registry import config_from_dict
from oee_tui.imports.columns import SPECS
from oee_tui.imports.reading import read_table
from oee_tui.imports.validate import validate_table
from oee_tui.imports.write import write_result
from oee_tui.store import Store

MACHINES = 50


def write_log(path: Path, rows: int) -> None:
    """A hand-kept log as Excel holds it: a title, the header on row 3, datetimes, numbers, 1 stop in 10."""
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("Log")
    sheet.append(["Production log, plant Süd"])
    sheet.append([])
    sheet.append(["Machine", "Product", "Order", "Start", "End", "Total", "Rejects", "Reason"])
    per_machine = rows // MACHINES + 1
    base = datetime(2026, 1, 5, 6, 0)
    written = 0
    for machine in range(MACHINES):
        at = base
        for index in range(per_machine):
            if written == rows:
                break
            end = at + timedelta(minutes=20)
            if index % 10 == 9:
                sheet.append([f"M{machine:03d}", None, None, at, end, None, None, "FAIL.MECH"])
            else:
                sheet.append([f"M{machine:03d}", "A", f"{index:06d}", at, end, 1200, index % 7, None])
            at = end
            written += 1
    workbook.save(path)


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    config = config_from_dict({
        "site": {"name": "Bench", "timezone": "Europe/Berlin"},
        "lines": [{"id": "L1"}],
        "machines": [{"id": f"M{m:03d}", "line": "L1", "ideal_cycle_time_s": 1.0,
                      "product_cycle_times": {"A": 1.0}} for m in range(MACHINES)],
    })
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.xlsx"
        started = time.perf_counter()
        write_log(path, rows)
        print(f"wrote {rows:,} rows ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.2f} s "
              "(setup, not measured)")
        started = time.perf_counter()
        table = read_table(path, SPECS["production-log"])
        read_s = time.perf_counter() - started
        started = time.perf_counter()
        result = validate_table("production-log", table, config)
        validate_s = time.perf_counter() - started
        assert result.ok, result.problems[:5]
        assert len(result.records) == rows
        with Store.open(Path(tmp) / "data") as store:
            started = time.perf_counter()
            summary = write_result(store, result, imported_by="bench")
            write_s = time.perf_counter() - started
            started = time.perf_counter()
            again = write_result(store, result, imported_by="bench")
            again_s = time.perf_counter() - started
            cur = store.cursor()
            intervals, minutes = cur.execute(
                "SELECT (SELECT count(*) FROM state_intervals), (SELECT count(*) FROM count_minutes)").fetchall()[0]
            cur.close()
    assert summary.inserted == rows and again.unchanged == rows
    print(f"read      {read_s:6.2f} s  {rows / read_s:10,.0f} rows/s")
    print(f"validate  {validate_s:6.2f} s  {rows / validate_s:10,.0f} rows/s")
    print(f"write     {write_s:6.2f} s  {rows / write_s:10,.0f} rows/s  ({intervals:,} state intervals, "
          f"{minutes:,} count minutes)")
    total = read_s + validate_s + write_s
    print(f"total     {total:6.2f} s  (target: < 10 s for read + validate + write)")
    print(f"re-import {again_s:6.2f} s  (write of the same result again: {again})")


if __name__ == "__main__":
    main()
