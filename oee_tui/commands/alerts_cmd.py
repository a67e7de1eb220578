"""`oee alerts`: the active alerts (or with --all the history), `oee alerts ack ID --comment TEXT` and
`oee alerts shelve ID --for 30m`.

Through the engine when one serves the data dir (its role checks; the engine's live alerts), else on the
store directly; an acknowledgement and a shelving are audited either way, in the transaction that stores them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from oee_tui.commands.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, plant, positive_int, print_rows, store_dir_of
from oee_tui.model import Alert

if TYPE_CHECKING:
    from oee_tui.service.client import EngineClient


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "alerts", parents=[common], help="the active alerts, their history; acknowledge or shelve one",
        description="Without a subcommand: the active alerts (shelved ones say so), oldest first; --all lists "
                    "the newest alerts, cleared ones too. Times are plant local.")
    parser.add_argument("--all", action="store_true", help="the history: cleared alerts too")
    parser.add_argument("--limit", type=positive_int, default=100, metavar="N", help="--all: at most N (default 100)")
    parser.add_argument("--json", action="store_true", help="JSON, one object per alert, times as POSIX seconds")
    actions = parser.add_subparsers(dest="alert_action", metavar="{ack,shelve}")
    ack = actions.add_parser("ack", parents=[common], help="acknowledge an alert with a comment")
    ack.add_argument("id", type=positive_int, metavar="ID")
    ack.add_argument("--comment", required=True, help="what was done, or who is on it")
    shelve = actions.add_parser("shelve", parents=[common],
                                help="shelve an alert for a while: out of the active count until then")
    shelve.add_argument("id", type=positive_int, metavar="ID")
    shelve.add_argument("--for", dest="duration", required=True, metavar="DURATION",
                        help="30m, 2h, 1d, 90s; 0s unshelves")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, config_path: Path, data_dir: Path) -> int:
    from oee_tui.commands.attached import in_engine
    from oee_tui.dead_letter_text import duration_s

    action = getattr(args, "alert_action", None)
    command = f"oee alerts {action}" if action else "oee alerts"
    shelve_s = None
    if action == "shelve":
        shelve_s = duration_s(args.duration)
        if shelve_s is None:
            print(f"{command}: --for {args.duration!r}: give a duration such as 30m, 2h or 1d", file=sys.stderr)
            return EXIT_USAGE

    async def attached(client: EngineClient) -> int:
        tz = ZoneInfo(client.hello["timezone"])
        if action == "ack":
            alert = await client.call("acknowledge_alert", id=args.id, comment=args.comment)
            return _done(command, alert, tz)
        if action == "shelve":
            assert shelve_s is not None
            alert = await client.call("shelve_alert", id=args.id, until=time.time() + shelve_s)
            return _done(command, alert, tz)
        listed = await client.call("alerts", all=args.all, limit=args.limit)
        return _show(args, list(listed), tz)

    done = in_engine(store_dir_of(args, data_dir), command, attached)
    if done is not None:
        return done
    return _standalone(args, command, action, shelve_s, config_path, data_dir)


def _standalone(args: argparse.Namespace, command: str, action: str | None, shelve_s: float | None,
                config_path: Path, data_dir: Path) -> int:
    from oee_tui.alerts.person_actions import acknowledgement, shelving
    from oee_tui.commands.import_cmd import current_user
    from oee_tui.service.session_origin import local_origin
    from oee_tui.store import Store, StoreWriteError

    config, store_dir = plant(args, config_path, data_dir)
    if not (store_dir / Store.DB_FILENAME).exists():
        if action is None:
            return _show(args, [], config.tz)
        print(f"{command}: no alerts yet in {store_dir}", file=sys.stderr)
        return EXIT_USAGE
    with Store.open(store_dir) as store:
        if action is None:
            return _show(args, store.alerts(limit=args.limit) if args.all else store.alerts(active_only=True),
                         config.tz)
        alert = store.alert(args.id)
        if alert is None:
            print(f"{command}: no alert {args.id}", file=sys.stderr)
            return EXIT_USAGE
        now = time.time()
        try:
            if action == "ack":
                updated, event, audit = acknowledgement(alert, args.comment, current_user(), local_origin(), now)
            else:
                assert shelve_s is not None
                updated, event, audit = shelving(alert, now + shelve_s, current_user(), local_origin(), now)
        except ValueError as exc:
            print(f"{command}: {exc}", file=sys.stderr)
            return EXIT_USAGE
        try:
            store.write_alerts([(updated, event)], [audit])
        except StoreWriteError as exc:
            print(f"{command}: not stored: {exc}", file=sys.stderr)
            return EXIT_FAILURE
    return _done(command, updated, config.tz)


def _done(command: str, alert: Alert, tz: ZoneInfo) -> int:
    from oee_tui.alerts.alert_text import state_text

    print(f"alert {alert.id} ({alert.rule}, {alert.subject}): {state_text(alert, tz, time.time())}")
    return EXIT_OK


def _show(args: argparse.Namespace, alerts: list[Alert], tz: ZoneInfo) -> int:
    from oee_tui.alerts.alert_text import SEVERITY_MARKS, clock_time, state_text

    if args.json:
        print(json.dumps([_json(alert) for alert in alerts], indent=2))
        return EXIT_OK
    if not alerts:
        print("no alerts" if args.all else "no active alerts")
        return EXIT_OK
    now = time.time()
    rows = [["ID", "SEVERITY", "RAISED", "RULE", "SUBJECT", "STATE", "MESSAGE"]]
    rows += [[str(alert.id), f"{SEVERITY_MARKS[alert.severity]}{alert.severity.value}",
              clock_time(alert.raised_at, tz, now), alert.rule, alert.subject, state_text(alert, tz, now),
              alert.message] for alert in alerts]
    print_rows(rows)
    return EXIT_OK


def _json(alert: Alert) -> dict[str, object]:
    return {"id": alert.id, "rule": alert.rule, "kind": alert.kind.value, "severity": alert.severity.value,
            "subject": alert.subject, "message": alert.message, "raised_at": alert.raised_at,
            "cleared_at": alert.cleared_at, "acked_at": alert.acked_at, "acked_by": alert.acked_by,
            "ack_comment": alert.ack_comment, "shelved_until": alert.shelved_until, "shelved_by": alert.shelved_by}
