"""`oee access pin|whoami`: make the PIN line of a person on a shared login, and see what role the
config gives the user running the command."""

from __future__ import annotations

import argparse
import getpass
import os
import pwd
import sys
from pathlib import Path

from oee_tui.commands.common import EXIT_OK, EXIT_USAGE, plant
from oee_tui.config.access import AccessSettings, account_caller
from oee_tui.config.pins import MAX_PIN_LENGTH, MIN_PIN_LENGTH, PinError, hash_pin
from oee_tui.model.access import Caller

SOCKET_FILENAME = "oee.sock"  # the engine's socket in the data dir (oee_tui.service)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("access", parents=[common], help="PINs for shared logins; the role you have")
    actions = parser.add_subparsers(dest="access_command", metavar="ACTION", required=True)
    actions.add_parser(
        "pin", parents=[common], help="hash a PIN for [[access.people]]",
        description=f"Asks for a PIN ({MIN_PIN_LENGTH} to {MAX_PIN_LENGTH} digits) twice without showing it, and "
                    'prints the line `pin = "pbkdf2_sha256$..."` to put in the person\'s [[access.people]] table. '
                    "The PIN itself is stored nowhere.")
    actions.add_parser(
        "whoami", parents=[common], help="your OS user, groups, where you are, and the role the config gives you",
        description="Prints the OS user running the command, its groups, where the session comes from (SSH "
                    "client or terminal), and the role the config's [access] section gives it, with the reason.")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, config_path: Path, data_dir: Path) -> int:
    if args.access_command == "pin":
        return _pin()
    return _whoami(args, config_path, data_dir)


def _pin() -> int:
    first = getpass.getpass("PIN: ")
    second = getpass.getpass("PIN again: ")
    if first != second:
        print("oee access pin: the two PINs differ; nothing was printed. Run it again.", file=sys.stderr)
        return EXIT_USAGE
    try:
        pin_hash = hash_pin(first)
    except PinError as exc:
        print(f"oee access pin: {exc}; nothing was printed", file=sys.stderr)
        return EXIT_USAGE
    print(f'pin = "{pin_hash.text}"')
    return EXIT_OK


def this_session() -> Caller:
    """The user running this command, as the engine would see it connect: the OS user, its groups from
    the user database, and where the session comes from."""
    user = pwd.getpwuid(os.getuid()).pw_name
    return account_caller(user, origin=_origin())


def _origin() -> str:
    ssh = os.environ.get("SSH_CONNECTION", "").split()
    if ssh:
        return f"ssh {ssh[0]}"
    for fd in (0, 1, 2):
        try:
            return f"tty {os.ttyname(fd)}"
        except OSError:
            continue
    return "local"


def _engine_uid(data_dir: Path) -> tuple[int, str]:
    """Whom the engine runs as: the owner of its socket, else of the data dir, else this user."""
    for path in (data_dir / SOCKET_FILENAME, data_dir):
        try:
            return path.stat().st_uid, f"the owner of {path}"
        except OSError:
            continue
    return os.getuid(), "no data dir yet: the user who starts it"


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _whoami(args: argparse.Namespace, config_path: Path, data_dir: Path) -> int:
    rows: list[tuple[str, str]] = []
    if args.demo or config_path.exists():
        config, store_dir = plant(args, config_path, data_dir)
        access = config.access
    else:
        # No config yet: what an engine started now would do, with [access] left out.
        access, store_dir = AccessSettings(), data_dir
        rows.append(("config", f"{config_path} does not exist: [access] has its defaults"))
    caller = this_session()
    engine_uid, engine_why = _engine_uid(store_dir)
    grant = access.grant(caller, engine_uid)
    rows += [("user", f"{caller.user} (uid {caller.uid})"),
            ("groups", ", ".join(caller.groups) or "(none)"),
            ("origin", caller.origin),
            ("engine", f"runs as {_user_name(engine_uid)} (uid {engine_uid}), {engine_why}"),
            ("role", f"{grant.role.label if grant.role is not None else 'none, may not use the engine'}: "
                     f"{grant.reason}")]
    people = access.people_of(caller.user)
    if people:
        rows.append(("people", f"this login is shared: {len(people)} people give their name and PIN "
                               f"({', '.join(person.name for person in people)})"))
    for label, text in rows:
        print(f"{label:<8}{text}")
    return EXIT_OK
