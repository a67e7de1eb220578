"""The TUI: first frame, CPU with 200 machines refreshing at 1 Hz, resident memory.

Targets (issue 2): first frame under 1.5 s; under 20% of one core; under 250 MB.
The app runs headless (Textual still lays out and renders every frame, it just
does not write to a terminal) with the real engine; a feeder task plays a
200-machine plant into the engine once a second, as a driver would.
Run: python benchmarks/bench_tui.py
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

MACHINES = 200
MEASURE_S = float(os.environ.get("BENCH_TUI_SECONDS", "30"))


def rss_mb() -> tuple[float, float]:
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def child() -> None:
    from common import plant_config

    from oee_tui.app import OeeApp
    from oee_tui.engine.live.engine import Engine
    from oee_tui.model import Quality, TagSample
    from oee_tui.store import Store
    from oee_tui.widgets.keyed_table import KeyedTable

    config = plant_config(MACHINES)
    tmp = Path(tempfile.mkdtemp())
    engine = Engine(config, Store.open(tmp), acquire=False)

    async def feed() -> None:
        poll = 0
        while True:
            ts = time.time()
            batch = []
            for m in range(MACHINES):
                running = (poll // 20 + m) % 7 != 0
                batch += [
                    TagSample(ts, "plc", f"hr:{m * 10}", 1000 + poll * 2 if running else 1000, Quality.GOOD),
                    TagSample(ts, "plc", f"hr:{m * 10 + 2}", poll // 30, Quality.GOOD),
                    TagSample(ts, "plc", f"hr:{m * 10 + 3}", 1 if running else 3, Quality.GOOD),
                    TagSample(ts, "plc", f"hr:{m * 10 + 4}", 100.0 + poll % 5, Quality.GOOD),
                    TagSample(ts, "plc", f"co:{m}", not running, Quality.GOOD),
                ]
            engine.ingest(batch)
            poll += 1
            await asyncio.sleep(1.0)

    class BenchApp(OeeApp):
        def on_ready(self) -> None:
            print("READY", flush=True)
            self.run_worker(self.measure(), exclusive=False)

        async def measure(self) -> None:
            feeder = asyncio.create_task(feed())
            await asyncio.sleep(5.0)  # warm up: the table fills and settles
            cpu0, wall0 = time.process_time(), time.monotonic()
            await asyncio.sleep(MEASURE_S)
            cpu = (time.process_time() - cpu0) / (time.monotonic() - wall0)
            rss, peak = rss_mb()
            rows = self.screen.query_one(KeyedTable).row_count
            print(f"RESULT cpu={cpu * 100:.1f} rss={rss:.0f} peak={peak:.0f} rows={rows}", flush=True)
            feeder.cancel()
            self.exit(0)

    BenchApp(engine, config_path=tmp / "oee.toml", data_dir=tmp).run(headless=True, size=(160, 50))


def main() -> None:
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, __file__, "--child"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first_frame = None
    for line in proc.stdout:
        if line.startswith("READY") and first_frame is None:
            first_frame = time.monotonic() - started
            print(f"tui: first frame {first_frame:.2f} s after launch, interpreter start included (target < 1.5 s)")
        elif line.startswith("RESULT"):
            values = dict(part.split("=") for part in line.split()[1:])
            print(f"tui: {values['rows']} machines at 1 Hz: {values['cpu']}% of one core over {MEASURE_S:.0f} s "
                  f"(engine + UI; target < 20%)")
            print(f"tui: resident memory {values['rss']} MB, peak {values['peak']} MB (target < 250 MB)")
    proc.wait()


if __name__ == "__main__":
    child() if "--child" in sys.argv else main()
