"""`oee deadletters`: the payloads drivers could not decode or map, newest first.

Reads the store of the data dir, so it runs while no engine holds that dir (the store has
one writer); with an engine running it exits 3 like every command that needs the store.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from oee_tui.commands.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, plant, print_rows
from oee_tui.dead_letter_text import is_text, local_time, parse_since, preview
from oee_tui.model import DeadLetter

ERROR_CHARS = 60


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "deadletters", parents=[common], help="payloads that could not be decoded or mapped, newest first",
        description="Lists dead letters with their arrival time (plant local), source, topic, error, size and a "
                    "printable preview (hex for binary payloads). --raw N writes the bytes of the N-th one listed.")
    parser.add_argument("--limit", type=_positive, default=20, metavar="N", help="at most N (default 20)")
    parser.add_argument("--source", metavar="NAME", help="only this source's")
    parser.add_argument("--since", metavar="T",
                        help="only those since T: a duration (30m, 2h, 1d) or an ISO date/time, plant local "
                             "unless it has an offset")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--raw", type=_positive, nargs="?", const=1, metavar="N",
                        help="write the payload bytes of the N-th dead letter listed (default 1, the newest) to "
                             "stdout, nothing else")
    parser.set_defaults(run=run)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def run(args: argparse.Namespace, config_path: Path, data_dir: Path) -> int:
    from oee_tui.store import Store

    config, store_dir = plant(args, config_path, data_dir)
    tz = config.tz
    since = None
    if args.since is not None:
        try:
            since = parse_since(args.since, tz, time.time())
        except ValueError as exc:
            print(f"oee deadletters: {exc}", file=sys.stderr)
            return EXIT_USAGE
    if args.source is not None and args.source not in {source.name for source in config.sources}:
        known = ", ".join(source.name for source in config.sources) or "(none)"
        # Not refused: a source removed from the config may still have dead letters; only said.
        print(f"oee deadletters: note: no source named {args.source!r} in the config (sources: {known})",
              file=sys.stderr)
    limit = max(args.limit, args.raw or 0)
    letters: list[DeadLetter] = []
    if (store_dir / Store.DB_FILENAME).exists():
        with Store.open(store_dir) as store:
            letters = store.dead_letters(limit, source=args.source, since=since)
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
