"""`oee status`: whether an engine serves the data dir, and if so its sources' health, the store (size,
what waits unsaved), and who is attached."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oee_tui.commands.common import EXIT_FAILURE, EXIT_OK, print_rows, store_dir_of

if TYPE_CHECKING:
    from oee_tui.model import SourceStatus, StoreHealth, SyncHealth
    from oee_tui.service.client import EngineClient


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "status", parents=[common], help="the running engine: sources, store, flush lag, attached users",
        description="Exit 0 when an engine serves the data dir and every source is online; 1 when none runs, or "
                    "a source is down, or data waits unsaved.")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, config_path: Path, data_dir: Path) -> int:
    from oee_tui.commands.attached import in_engine

    store_dir = store_dir_of(args, data_dir)
    done = in_engine(store_dir, "oee status", lambda client: _status(client, args))
    if done is None:
        print(f"no engine serves {store_dir}; `oee engine` starts one (or the TUI, which owns the store while it "
              "runs)", file=sys.stderr)
        return EXIT_FAILURE
    return done


async def _status(client: EngineClient, args: argparse.Namespace) -> int:
    status: dict[str, Any] = await client.call("status")
    sources: tuple[SourceStatus, ...] = status["sources"]
    health: StoreHealth = status["store"]
    healthy = all(source.online for source in sources) and not health.failing
    if args.format == "json":
        print(json.dumps(_as_json(status), indent=2, default=str))
        return EXIT_OK if healthy else EXIT_FAILURE
    now = status["now"]
    print(f"engine pid {status['pid']} on {status['site']}, up {_duration(now - status['since'])}; "
          f"data {status['data_dir']}; you are {client.hello['user']} ({client.role})")
    lag = status["flush_lag_s"]
    said = "all saved" if lag is None else \
        f"UNSAVED for {_duration(lag)}: {health.unsaved_text()} ({health.last_error})"
    lost = f"; lost {health.lost_text()}" if health.lost else ""
    print(f"store: {status['store_bytes'] / 2**20:,.1f} MB; {said}{lost}")
    sync: SyncHealth | None = status.get("sync")
    if sync is not None:
        print(f"{sync.short_text()} ({sync.target}; `oee sync --status` for each table)")
    rows = [("source", "kind", "status", "reads/s", "p95", "errors", "reconnects", "dropped", "queued", "last error")]
    for s in sources:
        state = "online" if s.online else ("stale" if s.connected else "DOWN")
        p95 = "-" if s.latency_p95_s is None else f"{s.latency_p95_s * 1000:.0f} ms"
        rows.append((s.name, s.kind, state, f"{s.reads_per_s:.1f}", p95, str(s.errors), str(s.reconnects),
                     str(s.dropped), str(s.queued), s.last_error or ""))
    print_rows(rows)
    attached = status["attached"]
    print(f"attached: {len(attached)}")
    if attached:
        print_rows([("user", "role", "pid", "from", "since", "live")] + [
            (a["user"] if not a["person"] else f"{a['person']} ({a['user']})", a["role"], str(a["pid"]), a["origin"],
             time.strftime("%H:%M:%S", time.localtime(a["since"])), "yes" if a["live"] else "")
            for a in attached])
    return EXIT_OK if healthy else EXIT_FAILURE


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _as_json(status: dict[str, Any]) -> dict[str, Any]:
    from dataclasses import asdict

    sync = status.get("sync")
    return {**status, "sources": [asdict(s) for s in status["sources"]], "store": asdict(status["store"]),
            "sync": None if sync is None else asdict(sync)}
