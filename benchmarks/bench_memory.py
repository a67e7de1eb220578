"""Resident memory of the TUI: the demo left idle, and a 200,000-row import on the import screen.

Targets (issue 14, item 20): under 250 MB idle; the import's memory given back when it ends.
* idle: `python -m oee_tui --demo` in a pseudo-terminal of 120x40, as a user starts it (its own data
  dir); RSS sampled every 10 s for BENCH_MEMORY_IDLE_S (default 180).
* import: the demo app headless (Textual lays out and renders every frame without a terminal) in a
  child process; F4, the path of a 200,000-row XLSX schedule (production orders) of the demo's machines, Enter
  (read and check), ctrl+s (write), Esc; RSS before, the peak, and 10 s after the screen closed.
Run: python benchmarks/bench_memory.py [idle|import]
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

IDLE_S = float(os.environ.get("BENCH_MEMORY_IDLE_S", "180"))
IMPORT_ROWS = int(os.environ.get("BENCH_MEMORY_IMPORT_ROWS", "200000"))
CACHE = Path(tempfile.gettempdir()) / "oee-bench-memory"


def rss_mb(pid: int | str = "self") -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MB: now and its peak."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def idle() -> None:
    data = Path(tempfile.mkdtemp(prefix="oee-bench-idle-"))
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {**os.environ, "XDG_DATA_HOME": str(data), "TERM": "xterm-256color"}
    child = subprocess.Popen([sys.executable, "-m", "oee_tui", "--demo"], stdin=follower, stdout=follower,
                             stderr=follower, env=env, cwd=data, start_new_session=True)
    os.close(follower)

    def drain() -> None:  # a terminal that is not read would block the app's writes
        while True:
            try:
                if not os.read(leader, 65536):
                    return
            except OSError:
                return

    threading.Thread(target=drain, daemon=True).start()
    start = time.monotonic()
    samples: list[tuple[float, float]] = []
    try:
        while (elapsed := time.monotonic() - start) < IDLE_S:
            time.sleep(10)
            if child.poll() is not None:
                raise SystemExit(f"the demo exited with {child.returncode}")
            samples.append((elapsed + 10, rss_mb(child.pid)[0]))
            print(f"  {samples[-1][0]:5.0f} s  RSS {samples[-1][1]:6.1f} MB", flush=True)
        peak = rss_mb(child.pid)[1]
    finally:
        child.terminate()
        child.wait(10)
        os.close(leader)
    print(f"idle demo, 120x40: RSS {samples[-1][1]:.1f} MB after {IDLE_S:.0f} s (peak {peak:.1f} MB; target < 250)")


def schedule(rows: int) -> Path:
    """A year's production orders for the demo's machines as Excel holds them, made once and kept in CACHE."""
    import openpyxl

    from oee_tui.demo.servers import demo_config

    path = CACHE / f"orders-{rows}.xlsx"
    if path.exists():
        return path
    CACHE.mkdir(exist_ok=True)
    machines = [machine.id for machine in demo_config().machines]
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Orders")
    sheet.append(["Order", "Product", "Machine", "Start", "End", "Quantity"])
    per_machine = rows // len(machines) + 1
    base = datetime(2025, 1, 6, 6, 0)
    written = 0
    for machine in machines:
        at = base
        for index in range(per_machine):
            if written == rows:
                break
            end = at + timedelta(minutes=2)
            sheet.append([f"{machine}-{index:07d}", "101", machine, at, end, 300])
            at = end
            written += 1
    tmp = path.with_suffix(".tmp.xlsx")
    book.save(tmp)
    tmp.replace(path)
    return path


async def import_on_screen(log: Path) -> None:
    from oee_tui.app import OeeApp
    from oee_tui.runtime import DemoEngine, demo_data_dir
    from oee_tui.screens.file_import.import_screen import ImportScreen
    from oee_tui.store import Store

    data = Path(tempfile.mkdtemp(prefix="oee-bench-import-"))
    engine = DemoEngine(Store.open(demo_data_dir(data)))
    app = OeeApp(engine, config_path=None, data_dir=demo_data_dir(data))

    def summary() -> str:
        screen = app.screen
        return str(screen.query_one("#import-summary").render()) if isinstance(screen, ImportScreen) else ""

    async def until(condition: str, timeout: float = 600) -> float:
        began = time.monotonic()
        while condition not in summary():
            if time.monotonic() - began > timeout:
                raise SystemExit(f"no {condition!r} after {timeout:.0f} s; the screen says {summary()!r}")
            await pilot.pause(0.2)
        return time.monotonic() - began

    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(15)  # the demo's first snapshots, as a user would see them before pressing F4
        before = rss_mb()[0]
        await pilot.press("f4")
        await pilot.pause(0.5)
        await pilot.press(*str(log), "enter")
        checked = await until("rows read")
        await pilot.press("ctrl+s")
        written = await until("Imported")
        during = rss_mb()[1]
        await pilot.press("escape")
        await pilot.pause(10)
        after = rss_mb()[0]
    print(f"import of {IMPORT_ROWS:,} XLSX rows on the import screen: read and checked {checked:.1f} s, "
          f"written {written:.1f} s")
    print(f"  RSS before {before:.1f} MB, peak {during:.1f} MB, 10 s after the screen closed {after:.1f} MB "
          f"(kept {after - before:+.1f} MB)")


def main() -> None:
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    if which in ("idle", "all"):
        idle()
    if which in ("import", "all"):
        log = schedule(IMPORT_ROWS)
        # A process of its own: the idle run's imports and caches must not count here.
        subprocess.run([sys.executable, __file__, "import-child", str(log)], check=True)
    if which == "import-child":
        asyncio.run(import_on_screen(Path(sys.argv[2])))


if __name__ == "__main__":
    main()
