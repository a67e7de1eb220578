"""`oee audit list|verify`: the audit trail of changes people made, and the check of its hash chain.

Read in the engine when one serves the data dir (a supervisor's or admin's: the role is checked there),
else from the store directly.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from oee_tui.commands.common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    load_for_run,
    positive_int,
    print_rows,
    store_dir_of,
)
from oee_tui.dead_letter_text import local_time, parse_since
from oee_tui.model.audit import AuditEntry, AuditVerdict

if TYPE_CHECKING:
    from oee_tui.service.client import EngineClient

VALUE_CHARS = 30
_EXPECT = re.compile(r"^(\d+):([0-9a-f]{64})$")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("audit", parents=[common], help="the audit trail of changes people made, and its check")
    actions = parser.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    listing = actions.add_parser(
        "list", parents=[common], help="audit entries, newest first",
        description="Lists who changed what, when (plant local; UTC in JSON), from where, and the values before "
                    "and after. --format json also gives the chain's head: copy it off the box to check later "
                    "with `oee audit verify --expect`.")
    listing.add_argument("--user", metavar="U", help="only U's: an OS user, a person's name, or 'person (user)'")
    listing.add_argument("--kind", metavar="K",
                         help="only this kind (stop_reason, acknowledge, config, device, import, target, user, "
                              "denied, store)")
    listing.add_argument("--from", dest="start", metavar="T",
                         help="from T: a duration back (30m, 2h, 1d) or an ISO date/time, plant local unless it has "
                              "an offset")
    listing.add_argument("--to", dest="end", metavar="T", help="before T, written as for --from")
    listing.add_argument("--limit", type=positive_int, default=1000, metavar="N", help="at most N (default 1000)")
    listing.add_argument("--format", choices=("table", "json"), default="table")
    verify = actions.add_parser(
        "verify", parents=[common], help="check the hash chain: exit 0 intact, 1 with each problem named",
        description="Recomputes every entry's SHA-256 and checks the chain and its head. Prints the head "
                    "(SEQ:HASH) when the trail is intact; names every edited, removed, reordered or inserted "
                    "entry on stderr otherwise (exit 1).")
    verify.add_argument("--expect", metavar="SEQ:HASH", type=_expected,
                        help="a head printed earlier and kept off the box: the entry SEQ must still have HASH")
    parser.set_defaults(run=run)


def _expected(text: str) -> tuple[int, str]:
    match = _EXPECT.match(text.strip().lower())
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r}: give SEQ:HASH as `oee audit verify` prints it, such as "
                                         "1234:9f86d081884c7d65…(64 hex digits)")
    return int(match.group(1)), match.group(2)


def run(args: argparse.Namespace, config_path: Path, data_dir: Path) -> int:
    from oee_tui.commands.attached import in_engine

    done = in_engine(store_dir_of(args, data_dir), f"oee audit {args.audit_command}",
                     lambda client: _attached(client, args))
    if done is not None:
        return done
    from oee_tui.store import Store

    store_dir, tz = _plant_of(args, config_path, data_dir)
    if args.audit_command == "verify":
        if not (store_dir / Store.DB_FILENAME).exists():
            if args.expect is not None:
                print(f"oee audit verify: there is no store in {store_dir}, so the head kept off the box "
                      f"({args.expect[0]}:{args.expect[1]}) is not in it", file=sys.stderr)
                return EXIT_FAILURE
            print(f"no audit trail yet: there is no store in {store_dir}")
            return EXIT_OK
        with Store.open(store_dir) as store:
            return _show_verdict(store.verify_audit(args.expect))
    window = _window(args, tz)
    if window is None:
        return EXIT_USAGE
    entries: list[AuditEntry] = []
    head = (0, "0" * 64)
    if (store_dir / Store.DB_FILENAME).exists():
        with Store.open(store_dir) as store:
            entries = store.audit_entries(user=args.user, kind=args.kind, start=window[0], end=window[1],
                                          limit=args.limit)
            head = store.audit_head()
    return _show_entries(args, entries, head, tz)


async def _attached(client: EngineClient, args: argparse.Namespace) -> int:
    """The same, read by the engine (supervisors and admins: the trail says who did what)."""
    if args.audit_command == "verify":
        return _show_verdict(await client.call("audit_verify", expect=args.expect))
    tz = ZoneInfo(client.hello["timezone"])
    window = _window(args, tz)
    if window is None:
        return EXIT_USAGE
    answer = await client.call("audit_list", user=args.user, kind=args.kind, start=window[0], end=window[1],
                               limit=args.limit)
    return _show_entries(args, list(answer["entries"]), tuple(answer["head"]), tz)


def _window(args: argparse.Namespace, tz: ZoneInfo) -> tuple[float | None, float | None] | None:
    """--from and --to as times; None (said on stderr) when one cannot be read."""
    now = time.time()
    try:
        start = None if args.start is None else parse_since(args.start, tz, now, "--from")
        end = None if args.end is None else parse_since(args.end, tz, now, "--to")
    except ValueError as exc:
        print(f"oee audit list: {exc}", file=sys.stderr)
        return None
    return start, end


def _show_verdict(verdict: AuditVerdict) -> int:
    if verdict.ok:
        print(f"audit trail intact: {verdict.checked:,} entries; head {verdict.head_entries}:{verdict.head_hash}")
        return EXIT_OK
    for problem in verdict.problems:
        print(f"oee audit verify: {problem}", file=sys.stderr)
    count = len(verdict.problems) + verdict.more_problems
    more = f" ({verdict.more_problems:,} more not listed)" if verdict.more_problems else ""
    print(f"oee audit verify: {count:,} problem{'s' if count != 1 else ''}{more} in {verdict.checked:,} "
          f"entries; the first: {verdict.problems[0]}", file=sys.stderr)
    return EXIT_FAILURE


def _show_entries(args: argparse.Namespace, entries: list[AuditEntry], head: tuple[int, str], tz: ZoneInfo) -> int:
    if args.format == "json":
        print(json.dumps({"head": {"entries": head[0], "hash": head[1], "expect": f"{head[0]}:{head[1]}"},
                          "entries": [_as_json(entry) for entry in entries]}, indent=2, ensure_ascii=False))
        return EXIT_OK
    if not entries:
        print("no audit entries" + _filters(args))
        return EXIT_OK
    rows = [("seq", "time", "user", "origin", "kind", "subject", "before", "after")]
    rows += [(str(entry.seq), local_time(entry.ts, tz), entry.user, entry.origin, entry.kind, entry.subject,
              _short(entry.before), _short(entry.after)) for entry in entries]
    print_rows(rows)
    return EXIT_OK


def _plant_of(args: argparse.Namespace, config_path: Path, data_dir: Path) -> tuple[Path, ZoneInfo]:
    """The data dir and the plant's time zone (UTC without a config: the trail needs none to be read)."""
    if args.demo:
        from oee_tui.demo.servers import demo_config
        from oee_tui.runtime import demo_data_dir

        return demo_data_dir(data_dir), demo_config().tz
    if config_path.exists():
        return data_dir, load_for_run(config_path).tz
    return data_dir, ZoneInfo("UTC")


def _short(value: str | None) -> str:
    if value is None:
        return "-"
    return value if len(value) <= VALUE_CHARS else value[:VALUE_CHARS - 1] + "…"


def _filters(args: argparse.Namespace) -> str:
    said = [f"by {args.user}" if args.user else "", f"of kind {args.kind}" if args.kind else "",
            f"from {args.start}" if args.start else "", f"before {args.end}" if args.end else ""]
    said = [part for part in said if part]
    return f" ({', '.join(said)})" if said else ""


def _as_json(entry: AuditEntry) -> dict[str, object]:
    return {
        "seq": entry.seq,
        "ts": datetime.fromtimestamp(entry.ts, UTC).isoformat(),
        "user": entry.user,
        "origin": entry.origin,
        "kind": entry.kind,
        "subject": entry.subject,
        "before": entry.before_value(),
        "after": entry.after_value(),
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }
