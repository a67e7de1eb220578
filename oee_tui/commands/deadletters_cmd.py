"""`oee deadletters`: the payloads drivers could not decode or map, newest first.

Read in the engine when one serves the data dir, else from the store directly.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from oee_tui.commands.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, plant, positive_int, print_rows, store_dir_of
from oee_tui.dead_letter_text import is_text, local_time, parse_since, preview
from oee_tui.model import DeadLetter

if TYPE_CHECKING:
    from oee_tui.service.client import EngineClient

ERROR_CHARS = 60


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "deadletters", parents=[common], help="payloads that could not be decoded or mapped, newest first",
        description="Lists dead letters with their arrival time (plant local), source, topic, error, size and a "
                    "printable preview (hex for binary payloads). --raw N writes the bytes of the N-th one listed.")
    parser.add_argument("--limit", type=positive_int, default=20, metavar="N", help="at most N (default 20)")
    parser.add_argument("--source", metavar="NAME", help="only this source's")
    parser.add_argument("--since", metavar="T",
                        help="only those since T: a duration (30m, 2h, 1d) or an ISO date/time, plant local "
                             "unless it has an offset")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--raw", type=positive_int, nargs="?", const=1, metavar="N",
                        help="write the payload bytes of the N-th dead letter listed (default 1, the newest) to "
                             "stdout, nothing else")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, config_path: Path, data_dir: Path) -> int:
    from oee_tui.commands.attached import in_engine
    from oee_tui.store import Store

    limit = max(args.limit, args.raw or 0)

    async def attached(client: EngineClient) -> int:
        tz = ZoneInfo(client.hello["timezone"])
        since = _since(args, tz)
        if since is False:
            return EXIT_USAGE
        letters = list(await client.call("dead_letters", limit=limit, source=args.source, since=since))
        return _show(args, letters, tz)

    done = in_engine(store_dir_of(args, data_dir), "oee deadletters", attached)
    if done is not None:
        return done
    config, store_dir = plant(args, config_path, data_dir)
    since = _since(args, config.tz)
    if since is False:
        return EXIT_USAGE
    if args.source is not None and args.source not in {source.name for source in config.sources}:
        known = ", ".join(source.name for source in config.sources) or "(none)"
        # Not refused: a source removed from the config may still have dead letters; only said.
        print(f"oee deadletters: note: no source named {args.source!r} in the config (sources: {known})",
              file=sys.stderr)
    letters: list[DeadLetter] = []
    if (store_dir / Store.DB_FILENAME).exists():
        with Store.open(store_dir) as store:
            letters = store.dead_letters(limit, source=args.source, since=since)
    return _show(args, letters, config.tz)


def _since(args: argparse.Namespace, tz: ZoneInfo) -> float | Literal[False] | None:
    """--since as a time; False (said on stderr) when it cannot be read."""
    if args.since is None:
        return None
    try:
        return parse_since(args.since, tz, time.time())
    except ValueError as exc:
        print(f"oee deadletters: {exc}", file=sys.stderr)
        return False


def _show(args: argparse.Namespace, letters: list[DeadLetter], tz: ZoneInfo) -> int:
    if args.raw is not None:
        if args.raw > len(letters):
            print(f"oee deadletters: --raw {args.raw}: there are only {len(letters)} dead letters"
                  + _filters(args), file=sys.stderr)
            return EXIT_FAILURE
        sys.stdout.flush()
        sys.stdout.buffer.write(letters[args.raw - 1].payload)
        sys.stdout.buffer.flush()
        return EXIT_OK
    if args.format == "json":
        print(json.dumps([_as_json(letter, tz) for letter in letters], indent=2, ensure_ascii=False))
        return EXIT_OK
    if not letters:
        print("no dead letters" + _filters(args))
        return EXIT_OK
    rows = [("#", "received", "source", "topic", "bytes", "error", "preview")]
    for number, letter in enumerate(letters, start=1):
        error = letter.error if len(letter.error) <= ERROR_CHARS else letter.error[:ERROR_CHARS - 1] + "…"
        rows.append((str(number), local_time(letter.received_at, tz), letter.source, letter.topic,
                     str(len(letter.payload)), error, preview(letter.payload)))
    print_rows(rows)
    return EXIT_OK


def _filters(args: argparse.Namespace) -> str:
    said = [f"from source {args.source}" if args.source else "", f"since {args.since}" if args.since else ""]
    said = [part for part in said if part]
    return f" ({', '.join(said)})" if said else ""


def _as_json(letter: DeadLetter, tz: ZoneInfo) -> dict[str, object]:
    received = datetime.fromtimestamp(letter.received_at, tz)
    return {
        "received_at": received.isoformat(),
        "source": letter.source,
        "topic": letter.topic,
        "error": letter.error,
        "size": len(letter.payload),
        "preview": preview(letter.payload),
        "payload_text": letter.payload.decode("utf-8") if is_text(letter.payload) else None,
        "payload_base64": base64.b64encode(letter.payload).decode("ascii"),
    }
