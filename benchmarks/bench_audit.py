"""`oee audit verify` over 1 million audit entries. Target (issue 15): under 5 s.

Fills a store with BENCH_ENTRIES entries (not timed) through the store's own append, in batches
of 100,000 (so every hash is made as the product makes it), then times `Store.verify_audit`
on the intact chain (best of BENCH_ROUNDS), and once more with one entry edited in the middle,
which it must find. Also prints the append rate, and the time of one append on that store
(what a person's change pays).
Run: python benchmarks/bench_audit.py   (BENCH_ENTRIES and BENCH_ROUNDS scale it)
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from oee_tui.model.audit import AuditChange
from oee_tui.store import Store

ENTRIES = int(os.environ.get("BENCH_ENTRIES", "1000000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
BATCH = 100_000
KINDS = ("stop_reason", "acknowledge", "config", "device", "import", "target")
T0 = 1_780_000_000.0


def fill(store: Store) -> float:
    """Append ENTRIES entries; returns the seconds it took."""
    started = time.perf_counter()
    for first in range(0, ENTRIES, BATCH):
        store.append_audits([
            AuditChange(f"op{number % 40}", f"ssh 10.1.{number % 250}.{number % 200}", KINDS[number % len(KINDS)],
                        f"M{number % 200:03d}@2026-06-01T06:{number % 60:02d}",
                        None if number % 5 == 0 else {"reason": f"R{number % 17}"},
                        {"reason": f"R{(number + 1) % 17}", "note": "checked"}, T0 + number)
            for number in range(first, min(first + BATCH, ENTRIES))])
    return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp)) as store:
        filled = fill(store)
        print(f"audit: appended {ENTRIES:,} entries in {filled:.1f} s ({ENTRIES / filled:,.0f} entries/s, "
              f"batches of {BATCH:,})")
        times = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            verdict = store.verify_audit()
            times.append(time.perf_counter() - started)
            assert verdict.ok and verdict.checked == ENTRIES, verdict
        print(f"audit: verify {ENTRIES:,} intact entries: best {min(times):.2f} s, worst {max(times):.2f} s "
              f"(target < 5 s)")
        started = time.perf_counter()
        store.append_audit(user="op1", origin="tty /dev/pts/4", kind="stop_reason", subject="M001@x", before=None,
                           after="FAIL")
        print(f"audit: one more append on that store: {(time.perf_counter() - started) * 1000:.1f} ms")
        cur = store.cursor()
        cur.execute("UPDATE audit_log SET user_name = 'someone else' WHERE seq = ?", [ENTRIES // 2])
        cur.close()
        started = time.perf_counter()
        verdict = store.verify_audit()
        took = time.perf_counter() - started
        assert [problem.seq for problem in verdict.problems] == [ENTRIES // 2], verdict
        print(f"audit: verify with entry {ENTRIES // 2:,} edited: {took:.2f} s, found: {verdict.problems[0]}")


if __name__ == "__main__":
    main()
