"""Crash consistency (issue 13, "Proof"): the engine is SIGKILLed at random points of its flushes,
50 times over one data dir, and every batch it confirmed must be in the store exactly once, whole,
in every table; a batch it did not confirm is either whole or absent, never half there.

"Confirmed" is the line `confirmed N` the engine prints after the flush of batch N returned (see
crash_writer.py): the moment the TUI would say "saved". Nothing is mocked: a real engine process,
a real DuckDB, a real SIGKILL.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from oee_tui.store import Store
from tests.engine.crash_writer import HISTORY, SAMPLES

KILLS = 50
ROOT = Path(__file__).resolve().parents[2]


def run_until_killed(data_dir: Path, rng: random.Random) -> list[int]:
    """Start the engine, kill it at a random moment of its flushing, return the batches it confirmed."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.Popen([sys.executable, "-m", "tests.engine.crash_writer", str(data_dir)], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None
    ready = child.stdout.readline()
    assert ready == "ready\n", ready + child.communicate()[1]
    time.sleep(rng.uniform(0.0, 0.6))
    child.send_signal(signal.SIGKILL)
    out, err = child.communicate()
    assert child.returncode == -signal.SIGKILL, err
    assert "failed" not in out, out
    return [int(line.split()[1]) for line in out.splitlines() if line.startswith("confirmed ")]


def stored_batches(data_dir: Path) -> dict[str, dict[int, int]]:
    """Rows per batch in each table the batches write."""
    with Store.open(data_dir) as store:
        cur = store.cursor()
        return {
            "samples": dict(cur.execute(f"SELECT floor(value_num / {SAMPLES})::BIGINT AS n, count(*) FROM samples "
                                        "WHERE tag = 'hr:0' GROUP BY n").fetchall()),
            "history": dict(cur.execute("SELECT substr(tag, 2)::BIGINT AS n, count(*) FROM samples "
                                        "WHERE source = 'edge' GROUP BY n").fetchall()),
            "dead_letters": dict(cur.execute("SELECT substr(topic, 7)::BIGINT AS n, count(*) FROM dead_letters "
                                             "WHERE topic LIKE 'batch/%' GROUP BY n").fetchall()),
        }


def test_every_confirmed_batch_survives_a_sigkill_exactly_once(tmp_path: Path) -> None:
    rng = random.Random(13)
    confirmed: list[int] = []
    for _ in range(KILLS):
        confirmed += run_until_killed(tmp_path, rng)
    stored = stored_batches(tmp_path)

    assert len(confirmed) == len(set(confirmed)) and len(confirmed) >= 10  # flushes were under way
    whole = {"samples": SAMPLES, "history": HISTORY, "dead_letters": 1}
    for table, rows in stored.items():
        # Every confirmed batch is there, once: no loss, no second copy written by a retry.
        missing = [n for n in confirmed if rows.get(n) != whole[table]]
        assert not missing, f"{table}: confirmed batches not stored exactly once: {missing[:10]}"
        # A batch the engine had not confirmed when it died is whole or absent, never half written.
        half = {n: count for n, count in rows.items() if count != whole[table]}
        assert not half, f"{table}: batches written in part: {half}"
    assert stored["samples"].keys() == stored["history"].keys() == stored["dead_letters"].keys()
