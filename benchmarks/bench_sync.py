"""The central sync: sample rows/s into a local PostgreSQL, beside a raw binary COPY of the same rows in the
same run, and the sync lag at 10,000 samples/s of steady ingest.

Targets (issue 16): at least 300,000 sample rows/s; at least 50% of the raw binary COPY; lag under 5 s.
Needs PostgreSQL's server binaries (a throwaway cluster is started, as the tests do; TimescaleDB is used
when installed). Run: python benchmarks/bench_sync.py [--rows 1000000] [--lag-seconds 30]

* sync: `sync_once` over a store of ROWS samples written in flushes of 10,000 (DuckDB read as Arrow, numpy
  binary COPY, the watermark in each batch's transaction), into the migrated `oee.samples`.
* raw binary COPY: the same rows, already Python tuples in memory, through psycopg's binary COPY
  (`set_types` + `write_row`: the fast path of the library) into an identical fresh `oee.samples`; and the
  wire's ceiling: the same rows as ready-made binary COPY bytes, nothing to do but send them.
* lag: a writer thread stores 10,000 samples/s (one flush a second, as the engine does) while the engine's
  background sync runs every second; every 0.25 s the lag is now minus the newest sample time the centre
  has (each sample is timed at its flush).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent.parent))

import psycopg

from oee_tui.central.background import BackgroundSync
from oee_tui.central.binary_copy import encode
from oee_tui.central.connection import connect
from oee_tui.central.migrations import migrate
from oee_tui.central.sync import sync_once
from oee_tui.cli import SAMPLE_CONFIG
from oee_tui.config import Config
from oee_tui.drivers.registry import parse_config
from oee_tui.engine.live.observers import EngineContext
from oee_tui.store import FactBatch, KeptSamples, Store
from tests.support.postgres import PostgresCluster, running_cluster

FLUSH_ROWS = 10_000
KINDS = ("text", "text", "timestamptz", "text", "text", "float8", "text", "text")
COLUMNS = "edge_id, site, ts, source, tag, value_num, value_text, quality"


def _config(url: str, edge_id: str, interval_s: float = 0.0) -> Config:
    return parse_config(SAMPLE_CONFIG + f'\n[central]\nurl = "{url}"\nedge_id = "{edge_id}"\n'
                        f"interval_s = {interval_s}\nbatch_rows = 200000\n")


def _flush(start: float, n: int, step: float) -> KeptSamples:
    ts = [start + i * step for i in range(n)]
    return KeptSamples(ts, ["plc"] * n, [f"hr:{i % 1000}" for i in range(n)], [float(i % 977) for i in range(n)],
                       [None] * n, ["good"] * n)


def _database(cluster: PostgresCluster) -> str:
    url = cluster.create_database(timescaledb=cluster.timescaledb)
    settings = _config(url, "x").central
    assert settings is not None
    with connect(settings, autocommit=True) as con:
        migrate(con, settings)
    return url


def throughput(cluster: PostgresCluster, rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp))
        start = time.time() - rows / 1000
        for first in range(0, rows, FLUSH_ROWS):
            store.write_facts(FactBatch(samples=_flush(start + first / 1000, min(FLUSH_ROWS, rows - first), 0.001)),
                              time.time())
        url = _database(cluster)
        config = _config(url, "bench-edge")
        assert config.central is not None
        began = time.perf_counter()
        report = sync_once(store, config, config.central)
        sync_s = time.perf_counter() - began
        assert report.rows["samples"] == rows, report.rows
        cur = store.cursor()
        arrow = cur.sql("SELECT 'bench-edge' AS edge_id, 'Bench' AS site, ts::TIMESTAMPTZ AS ts, source, tag, "
                        "value_num, value_text, quality FROM samples").to_arrow_table()
        cur.close()
        store.close()
    tuples: list[tuple[Any, ...]] = list(zip(*(column.to_pylist() for column in arrow.columns), strict=True))
    raw_url = _database(cluster)
    with psycopg.connect(raw_url) as con:
        began = time.perf_counter()
        with con.cursor() as pg, pg.copy(f"COPY oee.samples ({COLUMNS}) FROM STDIN (FORMAT binary)") as copy:
            copy.set_types(list(KINDS))
            for row in tuples:
                copy.write_row(row)
        con.commit()
        raw_s = time.perf_counter() - began
    wire = list(encode(arrow, KINDS))
    wire_url = _database(cluster)
    with psycopg.connect(wire_url) as con:
        began = time.perf_counter()
        with con.cursor() as pg, pg.copy(f"COPY oee.samples ({COLUMNS}) FROM STDIN (FORMAT binary)") as copy:
            for piece in wire:
                copy.write(piece)
        con.commit()
        wire_s = time.perf_counter() - began
    flavour = "TimescaleDB hypertable" if cluster.timescaledb else "plain PostgreSQL, monthly partitions"
    print(f"sync: {rows:,} samples into {flavour} in {sync_s:.2f} s: {rows / sync_s:,.0f} rows/s "
          "(target >= 300,000)")
    print(f"raw binary COPY (psycopg write_row, tuples ready): {rows / raw_s:,.0f} rows/s; "
          f"sync = {raw_s / sync_s:.0%} of it (target >= 50%)")
    print(f"wire ceiling (binary COPY bytes ready, nothing else): {rows / wire_s:,.0f} rows/s; "
          f"sync = {wire_s / sync_s:.0%} of it")


def lag(cluster: PostgresCluster, seconds: float, rate: int) -> None:
    url = _database(cluster)
    config = _config(url, "lag-edge", interval_s=1.0)
    assert config.central is not None
    stop = threading.Event()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp))
        syncer = BackgroundSync(config, config.central)

        def ingest() -> None:
            while not stop.is_set():
                now = time.time()
                store.write_facts(FactBatch(samples=_flush(now, rate, 0.0)), now)
                stop.wait(max(0.0, 1.0 - (time.time() - now)))

        writer = threading.Thread(target=ingest, name="ingest")
        writer.start()

        async def write_through(fn: Any, *args: Any) -> Any:
            return fn(*args)

        asyncio.run(syncer.start(EngineContext(store, write_through, time.time)))
        lags: list[float] = []
        began = time.monotonic()
        with psycopg.connect(url, autocommit=True) as con:
            while time.monotonic() - began < seconds:
                time.sleep(0.25)  # sampling the lag at a fixed rate is the measurement itself
                row = con.execute("SELECT extract(epoch FROM max(ts)) FROM oee.samples").fetchone()
                if row is not None and row[0] is not None and time.monotonic() - began > 5:  # after warm-up
                    lags.append(time.time() - float(row[0]))
        stop.set()
        writer.join()
        asyncio.run(syncer.stop())
        store.close()
    lags.sort()
    print(f"lag at {rate:,} samples/s for {seconds:.0f} s (sync every 1 s): median {statistics.median(lags):.2f} s, "
          f"p95 {lags[int(len(lags) * 0.95)]:.2f} s, max {lags[-1]:.2f} s (target < 5 s); rounds {syncer.rounds}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--lag-seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=int, default=10_000)
    args = parser.parse_args()
    with running_cluster() as cluster:
        throughput(cluster, args.rows)
        lag(cluster, args.lag_seconds, args.rate)


if __name__ == "__main__":
    main()
