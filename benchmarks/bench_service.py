"""The engine as a service (issue 15): what attached TUIs and commands cost it, and how fast they see it.

Targets (issue 15):
  a. an attached TUI shows a state change within 1 s of the engine seeing it (p95);
  b. ten attached TUIs on a 200-machine plant add under 15 % of one core to the engine;
  c. `oee report` for 100 machines x 30 days through the engine takes under 1.5 s while the engine
     ingests 10,000 samples/s and drops none.

Every part runs a real engine (`Engine` + `EngineServer`, as `oee engine` builds them: tick 1 s, pushes
every 0.05 s) in a process of its own, fed by a task that calls `Engine.ingest` as a source's consumer
would; clients are other processes with a real `EngineClient`, subscribed, decoding every push into its
mirror as the TUI does. Both sides read one clock (time.time() on one machine).
  a/b: 200 machines x 5 tags polled at 1 Hz, and a machine's state flipped (running <-> down) at random
       moments every 0.2-0.8 s. The engine's CPU (utime+stime from /proc/PID/stat) is measured over
       BENCH_SECONDS (default 60) with no client, then with ten; the latency of every flip from the moment
       `ingest` returned to the moment a client's mirror holds the new state, with one client
       (BENCH_LATENCY_SECONDS, default 60: over 100 flips) and with the ten.
  c.   a store with 30 days of 100 machines (the report benchmark's history), an engine on it ingesting
       10,000 samples/s (100 machines x 5 tags every 50 ms; what changed is kept, as from a real poll);
       `oee report --from --to` run BENCH_ROUNDS times (default 5) as a command attached through the
       socket, and the request alone as many times; then the engine's counters: every sample fed was
       routed, every one kept is in the store, none lost or left unsaved, and the rate held in every
       second of the reports.
Day summaries (which the engine saves 60 s after it starts) are put off, so that they do not fall
into a measured window by chance. BENCH_TICK_S and BENCH_PUSH_S set the engine's tick and the push
interval, to see what each adds to the latency.
Run: python benchmarks/bench_service.py [a|b|c ...]   (all three by default; a and b share one engine)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from common import fill_history, plant_config

from oee_tui.model import MachineState, Quality, TagSample

CPU_S = float(os.environ.get("BENCH_SECONDS", "60"))
LATENCY_S = float(os.environ.get("BENCH_LATENCY_SECONDS", "60"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
GRACE_S = 5.0  # after a window, what its last flips take to arrive before the clients stop
CLIENTS = 10
LIVE_MACHINES = 200
REPORT_MACHINES = 100
REPORT_DAYS = 30
REPORT_START = datetime(2026, 10, 1, tzinfo=UTC).timestamp()
RUNNING, DOWN = 1, 3  # the bench plant's state codes (common.plant_config's default state map)
TICKS = os.sysconf("SC_CLK_TCK")
# What the state-change latency is made of, to try other values: the engine's tick (the snapshot is
# rebuilt once a tick) and the server's push interval; unset, the values `oee engine` runs with.
TICK_S = float(os.environ["BENCH_TICK_S"]) if os.environ.get("BENCH_TICK_S") else None
PUSH_S = float(os.environ["BENCH_PUSH_S"]) if os.environ.get("BENCH_PUSH_S") else None


# ------------------------------------------------------------------ the engine's process

def engine_process(data_dir: Path, mode: str) -> None:
    """An engine serving `data_dir`, fed by a task; commands on stdin ("stats", "stop"), answers on stdout."""
    from oee_tui.engine.live.engine import Engine
    from oee_tui.service.server import EngineServer
    from oee_tui.store import Store

    machines = LIVE_MACHINES if mode == "live" else REPORT_MACHINES
    config = plant_config(machines)
    store = Store.open(data_dir)
    if mode == "ingest":
        cursor = store.cursor()
        fill_history(cursor, REPORT_START, REPORT_MACHINES, REPORT_DAYS, product="A")
        cursor.close()
    engine = Engine(config, store, acquire=False, summary_delay_s=1e9, **({} if TICK_S is None else {"tick_s": TICK_S}))
    feeder = LiveFeeder(engine, machines) if mode == "live" else RateFeeder(engine, machines)
    push = {} if PUSH_S is None else {"push_interval_s": PUSH_S}

    async def run() -> None:
        loop = asyncio.get_running_loop()
        commands: asyncio.Queue[str] = asyncio.Queue()
        threading.Thread(target=_read_lines, args=(loop, commands), daemon=True).start()
        await engine.start()
        server = EngineServer(engine, None, data_dir=data_dir, config_path=None, **push)
        await server.start()
        try:
            task = asyncio.create_task(feeder.run())
            _say({"ready": True, "pid": os.getpid()})
            while await commands.get() == "stats":
                _say(_stats(engine, feeder))
            task.cancel()
        finally:
            await server.close()
        await engine.stop()
        final = _stats(engine, feeder)
        with Store.open(data_dir) as stored:  # the engine closed its store when it stopped
            cursor = stored.cursor()
            final["samples_in_store"] = cursor.execute("SELECT count(*) FROM samples").fetchone()[0]  # type: ignore[index]
            cursor.close()
        _say(final)

    asyncio.run(run())


def _stats(engine: Any, feeder: LiveFeeder | RateFeeder) -> dict[str, Any]:
    stats, health = engine.stats, engine.store_health
    return {"samples_in": stats.samples_in, "samples_stored": stats.samples_stored, "samples_lost": stats.samples_lost,
            "flush_errors": stats.flush_errors, "set_aside": stats.rows_set_aside,
            "unsaved_samples": health.unsaved_samples, "lost": health.lost, "fed": feeder.fed, **feeder.report()}


class LiveFeeder:
    """A 200-machine plant polled at 1 Hz, and a state flipped at random moments (logged for part a)."""

    def __init__(self, engine: Any, machines: int) -> None:
        self.engine = engine
        self.machines = machines
        self.codes = [RUNNING] * machines
        self.counts = [1000] * machines
        self.fed = 0
        self.flips: list[tuple[str, int, float]] = []  # machine, new code, when ingest returned

    async def run(self) -> None:
        await asyncio.gather(self._poll(), self._flip())

    async def _poll(self) -> None:
        poll = 0
        while True:
            ts = time.time()
            batch = []
            for m in range(self.machines):
                running = self.codes[m] == RUNNING
                if running:
                    self.counts[m] += 2
                base = m * 10
                batch += [TagSample(ts, "plc", f"hr:{base}", self.counts[m], Quality.GOOD),
                          TagSample(ts, "plc", f"hr:{base + 2}", poll // 40, Quality.GOOD),
                          TagSample(ts, "plc", f"hr:{base + 3}", self.codes[m], Quality.GOOD),
                          TagSample(ts, "plc", f"hr:{base + 4}", 120.0 + poll % 3, Quality.GOOD),
                          TagSample(ts, "plc", f"co:{m}", not running, Quality.GOOD)]
            self.engine.ingest(batch)
            self.fed += len(batch)
            poll += 1
            await asyncio.sleep(1.0)

    async def _flip(self) -> None:
        rng = random.Random(15)
        turn = 0
        while True:
            await asyncio.sleep(rng.uniform(0.2, 0.8))
            m = turn % self.machines
            turn += 1
            self.codes[m] = DOWN if self.codes[m] == RUNNING else RUNNING
            ts = time.time()  # the state code and the fault bit change together, as a PLC's program sets them
            self.engine.ingest([TagSample(ts, "plc", f"hr:{m * 10 + 3}", self.codes[m], Quality.GOOD),
                                TagSample(ts, "plc", f"co:{m}", self.codes[m] != RUNNING, Quality.GOOD)])
            self.flips.append((f"M{m:03d}", self.codes[m], time.time()))
            self.fed += 2

    def report(self) -> dict[str, Any]:
        return {"flips": self.flips}


class RateFeeder:
    """10,000 samples/s: every machine's five tags every 50 ms, as a fast poll reads them: the counters
    at the ideal rate, the speed jittering past its deadband (kept every poll), a state now and then."""

    PERIOD_S = 0.05

    def __init__(self, engine: Any, machines: int) -> None:
        self.engine = engine
        self.machines = machines
        self.fed = 0
        self.per_second: dict[int, int] = {}  # whole second (time.time()) -> samples ingested in it
        self.max_lag_s = 0.0

    async def run(self) -> None:
        started = time.monotonic()
        poll = 0
        while True:
            ts = time.time()
            batch = []
            for m in range(self.machines):
                base = m * 10
                running = (poll // 200 + m) % 7 != 0  # each machine down for 10 s in every 70
                batch += [TagSample(ts, "plc", f"hr:{base}", 1000 + poll // 20, Quality.GOOD),
                          TagSample(ts, "plc", f"hr:{base + 2}", poll // 400, Quality.GOOD),
                          TagSample(ts, "plc", f"hr:{base + 3}", RUNNING if running else DOWN, Quality.GOOD),
                          TagSample(ts, "plc", f"hr:{base + 4}", 100.0 + poll % 5, Quality.GOOD),
                          TagSample(ts, "plc", f"co:{m}", not running, Quality.GOOD)]
            self.engine.ingest(batch)
            self.fed += len(batch)
            second = int(ts)
            self.per_second[second] = self.per_second.get(second, 0) + len(batch)
            poll += 1
            due = started + poll * self.PERIOD_S  # fixed rate: a late poll is caught up, not skipped
            self.max_lag_s = max(self.max_lag_s, time.monotonic() - due)
            await asyncio.sleep(max(0.0, due - time.monotonic()))

    def report(self) -> dict[str, Any]:
        return {"per_second": self.per_second, "max_lag_s": self.max_lag_s}


def _read_lines(loop: asyncio.AbstractEventLoop, into: asyncio.Queue[str]) -> None:
    for line in sys.stdin:
        loop.call_soon_threadsafe(into.put_nowait, line.strip())
    loop.call_soon_threadsafe(into.put_nowait, "stop")


def _say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


# ------------------------------------------------------------------ a client's process

def client_process(data_dir: Path) -> None:
    """An attached, subscribed client that records when each machine's state changed in its mirror."""
    from oee_tui.service.client import EngineClient

    async def run() -> None:
        loop = asyncio.get_running_loop()
        commands: asyncio.Queue[str] = asyncio.Queue()
        threading.Thread(target=_read_lines, args=(loop, commands), daemon=True).start()
        client = await EngineClient.attach(data_dir, origin="bench")
        states: dict[str, MachineState] = {}
        seen: list[tuple[str, bool, float]] = []  # machine, running now, when the mirror had it
        pushes = [0]

        def on_snapshot(snapshot: Any) -> None:
            now = time.time()
            pushes[0] += 1
            for machine in snapshot.machines:
                if states.get(machine.machine) is not machine.state:
                    if machine.machine in states:
                        seen.append((machine.machine, machine.state is MachineState.RUNNING, now))
                    states[machine.machine] = machine.state
            if pushes[0] == 1:
                _say({"ready": True})

        client.on_snapshot = on_snapshot
        cpu0 = time.process_time()
        await client.subscribe()
        while await commands.get() != "stop":
            pass
        cpu = time.process_time() - cpu0
        await client.close()
        _say({"seen": seen, "pushes": pushes[0], "cpu_s": cpu})

    asyncio.run(run())


# ------------------------------------------------------------------ the benchmark

class Child:
    """A process of this script, spoken to in lines of JSON."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen([sys.executable, __file__, *args], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, bufsize=1)

    def answer(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.process.args[2:]} ended (exit {self.process.wait()})")
        return json.loads(line)  # type: ignore[no-any-return]

    def ask(self, command: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        return self.answer()

    def stop(self) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.close()
        final = self.answer()
        self.process.wait(30)
        return final


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def engine_cpu(pid: int, seconds: float) -> float:
    """The engine's CPU over `seconds` of wall time, as a share of one core."""
    c0, w0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - c0) / (time.monotonic() - w0)


def latencies(flips: list[list[Any]], seen: list[list[Any]], start: float, end: float) -> list[float]:
    """Per flip ingested in [start, end): seconds until the client's mirror first held the new state."""
    out = []
    for machine, code, at in flips:
        if not start <= at < end:
            continue
        running = code == RUNNING
        when = next((t for m, r, t in seen if m == machine and r == running and t >= at), None)
        out.append(float("inf") if when is None else when - at)  # never seen: counted, as missed
    return out


def describe(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    missed = sum(v == float("inf") for v in ordered)
    return (f"p50 {statistics.median(ordered) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
            f"max {ordered[-1] * 1000:.0f} ms over {len(ordered)} changes"
            + (f"; {missed} NEVER SEEN within {GRACE_S:.0f} s of the window's end" if missed else ""))


def clients(data_dir: Path, n: int) -> list[Child]:
    started = [Child("client", str(data_dir)) for _ in range(n)]
    for child in started:
        child.answer()  # its first snapshot arrived
    return started


def live_parts(tmp: Path) -> None:
    """Parts a and b, on one 200-machine engine."""
    data_dir = tmp / "live"
    engine = Child("engine", str(data_dir), "live")
    pid = engine.answer()["pid"]
    time.sleep(5.0)  # the first ticks and flushes
    idle = engine_cpu(pid, CPU_S)
    print(f"service: engine with no client attached: {idle * 100:.1f} % of a core over {CPU_S:.0f} s", flush=True)

    one = clients(data_dir, 1)
    start = time.time()
    time.sleep(LATENCY_S)
    end = time.time()
    time.sleep(GRACE_S)
    seen = one[0].stop()["seen"]
    flips = engine.ask("stats")["flips"]
    single = latencies(flips, seen, start, end)
    import inspect

    from oee_tui.engine.live.engine import Engine
    from oee_tui.service.server import PUSH_INTERVAL_S

    tick = TICK_S or inspect.signature(Engine).parameters["tick_s"].default
    print(f"service: a) state change to one attached client: {describe(single)} (target p95 < 1 s; engine tick "
          f"{tick:g} s, push interval {PUSH_S or PUSH_INTERVAL_S:g} s)", flush=True)

    ten = clients(data_dir, CLIENTS)
    start = time.time()
    busy = engine_cpu(pid, CPU_S)
    end = time.time()
    time.sleep(GRACE_S)
    results = [child.stop() for child in ten]
    flips = engine.ask("stats")["flips"]
    many = [v for result in results for v in latencies(flips, result["seen"], start, end)]
    client_cpu = statistics.mean(r["cpu_s"] for r in results) / (end - start)
    engine.stop()
    print(f"service: b) engine with {CLIENTS} clients attached: {busy * 100:.1f} % of a core; "
          f"added {(busy - idle) * 100:.1f} % of one core (target < 15 %); each client {client_cpu * 100:.1f} %",
          flush=True)
    print(f"service:    state change to {CLIENTS} clients meanwhile: {describe(many)}", flush=True)


def report_part(tmp: Path) -> None:
    """Part c: `oee report` through the engine while it ingests 10,000 samples/s."""
    from oee_tui.service.client import EngineClient

    data_dir = tmp / "report"
    engine = Child("engine", str(data_dir), "ingest")
    engine.answer()  # the history is filled and the feeder runs
    time.sleep(5.0)
    window = ("2026-10-01T00:00+00:00", "2026-10-31T00:00+00:00")
    command = [sys.executable, "-m", "oee_tui", "--data-dir", str(data_dir), "report", "--from", window[0],
               "--to", window[1], "--format", "csv"]
    walls: list[float] = []
    windows: list[tuple[float, float]] = []
    for _ in range(ROUNDS):
        t0 = time.time()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        windows.append((t0, time.time()))
        walls.append(windows[-1][1] - t0)
        if done.returncode != 0 or "is in use" in done.stderr:
            raise RuntimeError(f"oee report exited {done.returncode}: {done.stderr}")
    rows = done.stdout.count("\n") - 1

    async def requests() -> list[float]:
        client = await EngineClient.attach(data_dir, origin="bench")
        try:
            times = []
            for _ in range(ROUNDS):
                t0 = time.time()
                await client.call("report", start=window[0], end=window[1], format="csv")
                windows.append((t0, time.time()))
                times.append(windows[-1][1] - t0)
            return times
        finally:
            await client.close()

    alone = asyncio.run(requests())
    time.sleep(1.5)  # the last second of the reports is whole in the feeder's count
    during = engine.ask("stats")
    final = engine.stop()
    per_second = {int(k): v for k, v in during["per_second"].items()}
    touched = sorted({s for a, b in windows for s in range(int(a), int(b) + 1)})
    rates = [per_second.get(s, 0) for s in touched]
    print(f"service: c) `oee report --from --to` (100 machines x 30 days, {rows} rows) attached, {ROUNDS} runs: "
          f"median {statistics.median(walls):.3f} s, best {min(walls):.3f} s, worst {max(walls):.3f} s wall incl. "
          "interpreter start-up (target < 1.5 s)", flush=True)
    print(f"service:    the request alone: median {statistics.median(alone):.3f} s, best {min(alone):.3f} s, "
          f"worst {max(alone):.3f} s", flush=True)
    print(f"service:    ingest meanwhile: {min(rates):,}-{max(rates):,} samples in each second of the reports "
          f"(target 10,000); the feeder at most {final['max_lag_s'] * 1000:.0f} ms behind its schedule", flush=True)
    dropped = final["fed"] - final["samples_in"]
    print(f"service:    fed {final['fed']:,}, routed {final['samples_in']:,}, kept {final['samples_stored']:,}, "
          f"in the store {final['samples_in_store']:,}; lost {final['samples_lost']}, set aside {final['set_aside']}, "
          f"unsaved at the end {final['unsaved_samples']}, flush errors {final['flush_errors']}", flush=True)
    ok = (dropped == 0 and final["samples_lost"] == 0 and final["unsaved_samples"] == 0
          and final["samples_in_store"] == final["samples_stored"] and final["set_aside"] == 0)
    print(f"service:    {'none dropped' if ok else 'SAMPLES DROPPED OR UNSAVED'}", flush=True)


PARTS: dict[str, Callable[[Path], None]] = {"a": live_parts, "b": live_parts, "c": report_part}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("parts", nargs="*", metavar="a|b|c", help="which targets (default: all three)")
    wanted = parser.parse_args().parts or ["a", "b", "c"]
    if not set(wanted) <= set(PARTS):
        parser.error(f"parts are a, b and c, not {' '.join(sorted(set(wanted) - set(PARTS)))}")
    with tempfile.TemporaryDirectory() as folder:
        for run in dict.fromkeys(PARTS[part] for part in wanted):
            run(Path(folder))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "engine":
        engine_process(Path(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) > 1 and sys.argv[1] == "client":
        client_process(Path(sys.argv[2]))
    else:
        main()
