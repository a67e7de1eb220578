"""The central store's analytics layer: compression of 30 days of samples, and the aggregates' refresh.

Starts a throwaway PostgreSQL 15 cluster with TimescaleDB (as the tests do) and builds the central schema
in it, then:

1. **Compression.** BENCH_DAYS days (default 30) of the benchmark plant's samples (`common.plant_config`:
   per machine a total counter, a reject counter, a state code, a speed with a 0.5 deadband and a fault
   bit, kept on change as the engine keeps them; the counter ticks about once a second while running)
   for BENCH_MACHINES machines (default 10), generated in PostgreSQL. Every chunk is compressed with the
   product's settings (segment-by edge_id, source, tag; order-by ts) and the sizes before and after are
   compared. The old notes claimed 11.1:1.
2. **Refresh.** The same machines' state intervals (the benchmark's 20-minute cycle: 17 min running, a 40 s
   micro-stop, 2.3 min down) and count minutes over those days, pushed in one batch through the trigger
   that cuts intervals into minute pieces; then the first full refresh of the 8 aggregates; then what the
   sync pays after each push: one more minute of facts and a refresh. With TimescaleDB (continuous
   aggregates) and on plain PostgreSQL (aggregate tables recomputed for the UTC days a push changed).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from oee_tui.central.aggregates import refresh_aggregates
from tests.central.cluster import CentralDb, fresh_database, migrate_to
from tests.support.postgres import running_cluster

MACHINES = int(os.environ.get("BENCH_MACHINES", "10"))
DAYS = int(os.environ.get("BENCH_DAYS", "30"))
START = "2026-10-01 00:00:00+00"

# Per machine m and tag: the sample times and values the engine keeps (on change, deadband for the speed).
# The 20-minute cycle of common.fill_history: running 0-1020 s, minor stop 1020-1060 s, down 1060-1200 s.
_SAMPLES = f"""
INSERT INTO oee.samples (edge_id, site, ts, source, tag, value_num, value_text, quality)
SELECT 'edge-bench', 'Bench', ts, 'plc', tag, value, NULL, 'good' FROM (
    -- the total counter: one part every 1.09 s while running (55 a minute), a 32-bit count
    SELECT TIMESTAMPTZ '{START}' + make_interval(secs => c * 1200 + k * 1.09) AS ts,
           'hr:' || (m * 10) AS tag, ((c * 936 + k) + m * 1000003) % 4294967296 AS value
    FROM generate_series(0, {MACHINES - 1}) m, generate_series(0, {DAYS * 72 - 1}) c, generate_series(0, 935) k
    UNION ALL  -- the reject counter: a reject every 10 minutes
    SELECT TIMESTAMPTZ '{START}' + make_interval(secs => i * 600 + m), 'hr:' || (m * 10 + 2), i
    FROM generate_series(0, {MACHINES - 1}) m, generate_series(0, {DAYS * 144 - 1}) i
    UNION ALL  -- the state code: running, stopped, down each cycle
    SELECT TIMESTAMPTZ '{START}' + make_interval(secs => c * 1200 + o.off), 'hr:' || (m * 10 + 3), o.code
    FROM generate_series(0, {MACHINES - 1}) m, generate_series(0, {DAYS * 72 - 1}) c,
         (VALUES (0, 1), (1020, 2), (1060, 3)) o(off, code)
    UNION ALL  -- the speed: parts/min around 55, a change past the 0.5 deadband every 5 s while running
    SELECT TIMESTAMPTZ '{START}' + make_interval(secs => c * 1200 + k * 5), 'hr:' || (m * 10 + 4),
           round((55 + 2 * sin(c * 0.7 + k * 0.31 + m))::numeric, 1)::float8
    FROM generate_series(0, {MACHINES - 1}) m, generate_series(0, {DAYS * 72 - 1}) c, generate_series(0, 203) k
    UNION ALL  -- the fault bit: set while down
    SELECT TIMESTAMPTZ '{START}' + make_interval(secs => c * 1200 + o.off), 'co:' || m, o.bit
    FROM generate_series(0, {MACHINES - 1}) m, generate_series(0, {DAYS * 72 - 1}) c,
         (VALUES (0, 0), (1060, 1)) o(off, bit)
) s ORDER BY ts
"""

_FACTS = f"""
INSERT INTO oee.machines (edge_id, site, machine, name, line, ideal_cycle_time_s, micro_stop_threshold_s)
SELECT 'edge-bench', 'Bench', 'M' || lpad(m::text, 3, '0'), 'Machine ' || m, 'L' || (m % 10), 1.0, 120
FROM generate_series(0, {MACHINES - 1}) m;
INSERT INTO oee.state_intervals
SELECT 'edge-bench', 'Bench', 'M' || lpad(m::text, 3, '0'),
       TIMESTAMPTZ '{START}' + make_interval(secs => c * 1200 + o.off),
       TIMESTAMPTZ '{START}' + make_interval(secs => c * 1200 + o.off + o.len), o.state
FROM generate_series(0, {MACHINES - 1}) m, generate_series(0, {DAYS * 72 - 1}) c,
     (VALUES (0, 1020, 'running'), (1020, 40, 'minor_stop'), (1060, 140, 'down')) o(off, len, state);
INSERT INTO oee.count_minutes
SELECT 'edge-bench', 'Bench', 'M' || lpad(m::text, 3, '0'), TIMESTAMPTZ '{START}' + make_interval(mins => i), '',
       CASE WHEN i % 20 < 17 THEN 55 ELSE 0 END, CASE WHEN i % 20 = 3 THEN 2 ELSE 0 END
FROM generate_series(0, {MACHINES - 1}) m, generate_series(0, {DAYS * 1440 - 1}) i;
"""


def _one_more_minute(minute: int) -> str:
    """What one push brings per machine: a minute's count and the interval that closed in it."""
    return f"""
INSERT INTO oee.count_minutes
SELECT 'edge-bench', 'Bench', 'M' || lpad(m::text, 3, '0'), TIMESTAMPTZ '{START}' + make_interval(mins => {minute}),
       '', 55, 0
FROM generate_series(0, {MACHINES - 1}) m;
INSERT INTO oee.state_intervals
SELECT 'edge-bench', 'Bench', 'M' || lpad(m::text, 3, '0'), TIMESTAMPTZ '{START}' + make_interval(mins => {minute}),
       TIMESTAMPTZ '{START}' + make_interval(mins => {minute + 1}), 'running'
FROM generate_series(0, {MACHINES - 1}) m;
"""


def _size(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    row = conn.execute("SELECT total_bytes FROM hypertable_detailed_size('oee.samples')").fetchone()
    assert row is not None
    return int(str(row[0]))


def compression(db: CentralDb) -> None:
    with db.connect() as conn:
        conn.execute("ALTER TABLE oee.samples SET (timescaledb.compress, "
                     "timescaledb.compress_segmentby = 'edge_id, source, tag', timescaledb.compress_orderby = 'ts')")
        started = time.perf_counter()
        conn.execute(_SAMPLES)
        rows = conn.execute("SELECT count(*) FROM oee.samples").fetchone()
        assert rows is not None
        conn.execute("VACUUM ANALYZE oee.samples")
        before = _size(conn)
        print(f"central: {rows[0]:,} samples of {MACHINES} machines x {DAYS} days written in "
              f"{time.perf_counter() - started:.1f} s; {before / 2**20:,.1f} MiB with indexes")
        started = time.perf_counter()
        conn.execute("SELECT compress_chunk(c) FROM show_chunks('oee.samples') c")
        elapsed = time.perf_counter() - started
        after = _size(conn)
        stats = conn.execute("SELECT sum(before_compression_total_bytes), sum(after_compression_total_bytes) "
                             "FROM chunk_compression_stats('oee.samples')").fetchone()
        assert stats is not None
        print(f"central: compressed in {elapsed:.1f} s to {after / 2**20:,.2f} MiB: "
              f"ratio {before / after:.1f}:1 (TimescaleDB's own chunk stats: "
              f"{int(str(stats[0])) / int(str(stats[1])):.1f}:1; the old notes claimed 11.1:1)")


def refresh(db: CentralDb) -> None:
    engine = "TimescaleDB" if db.timescale else "plain PostgreSQL"
    with db.connect() as conn:
        started = time.perf_counter()
        conn.execute(_FACTS)
        elapsed = time.perf_counter() - started
        counts = conn.execute("SELECT (SELECT count(*) FROM oee.state_intervals), "
                              "(SELECT count(*) FROM oee.state_pieces)").fetchone()
        assert counts is not None
        print(f"central ({engine}): {counts[0]:,} intervals (cut into {counts[1]:,} minute pieces by the trigger) "
              f"and {MACHINES * DAYS * 1440:,} count minutes written in {elapsed:.1f} s "
              f"({int(str(counts[0])) / elapsed:,.0f} intervals/s with their counts)")
        started = time.perf_counter()
        refresh_aggregates(conn, db.timescale)
        print(f"central ({engine}): first refresh of the 8 aggregates over {DAYS} days: "
              f"{time.perf_counter() - started:.2f} s")
        timings = []
        for minute in range(DAYS * 1440, DAYS * 1440 + 5):
            conn.execute(_one_more_minute(minute))
            started = time.perf_counter()
            refresh_aggregates(conn, db.timescale)
            timings.append(time.perf_counter() - started)
        print(f"central ({engine}): refresh after a push of one minute's facts: median {sorted(timings)[2]:.3f} s, "
              f"worst {max(timings):.3f} s (5 pushes)")
        started = time.perf_counter()
        conn.execute("SELECT * FROM oee.line_oee_1h WHERE bucket >= %s::timestamptz + interval '7 days' "
                     "AND bucket < %s::timestamptz + interval '14 days'", (START, START)).fetchall()
        week = time.perf_counter() - started
        started = time.perf_counter()
        conn.execute("SELECT site, sum(good_ideal_s) / sum(planned_production_s) FROM oee.site_oee_1d "
                     "GROUP BY site").fetchall()
        print(f"central ({engine}): a week of line OEE by hour {week * 1000:.0f} ms; "
              f"{DAYS} days of site OEE {(time.perf_counter() - started) * 1000:.0f} ms")


def main() -> None:
    with running_cluster() as cluster:
        if not cluster.timescaledb:
            print("central: TimescaleDB is not installed (../shared/tools/timescaledb/install.sh); "
                  "only the plain PostgreSQL refresh is measured")
        else:
            db = fresh_database(cluster, True)
            migrate_to(db, 1)  # the samples alone: the analytics layer would set its own compression
            compression(db)
            db = fresh_database(cluster, True)
            migrate_to(db)
            refresh(db)
        db = fresh_database(cluster, False)
        migrate_to(db)
        refresh(db)


if __name__ == "__main__":
    main()
