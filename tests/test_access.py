"""Users and roles: the role matrix, the role [access] gives each caller, people on a shared login with
their PINs, every mistake in the section, and `oee access pin|whoami`."""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from oee_tui.cli import SAMPLE_CONFIG
from oee_tui.config import ConfigError
from oee_tui.config.access import AccessSettings
from oee_tui.config.pins import MIN_PIN_ITERATIONS, PinHash, hash_pin
from oee_tui.drivers.registry import parse_config
from oee_tui.model.access import Action, Caller, Role, allowed, minimum_role

# What the issue asks each role may do, written out here rather than read from ROLE_MATRIX, so a
# change to the matrix in the code fails this test.
MAY: dict[Role, set[Action]] = {}
MAY[Role.OPERATOR] = {Action.VIEW, Action.STOP_REASON, Action.ACKNOWLEDGE, Action.SHIFT_NOTE}
MAY[Role.MAINTENANCE] = MAY[Role.OPERATOR] | {Action.DEVICES, Action.TAG_MAPS, Action.CONFIG_RELOAD}
MAY[Role.SUPERVISOR] = MAY[Role.MAINTENANCE] | {Action.IMPORT, Action.TARGETS, Action.REASONS, Action.SHIFTS,
                                                Action.AUDIT, Action.SHELVE}
MAY[Role.ADMIN] = set(Action)

ENGINE_UID = 990  # the engine's user in these tests; the test process itself runs as root
# A group that exists on every Linux machine, other than root's: socket_group must name a real group.
GROUP = next(group.gr_name for group in grp.getgrall() if group.gr_gid != 0)
FAST_ROUNDS = MIN_PIN_ITERATIONS  # the fewest rounds the reader accepts: keeps each PIN check quick


def caller(user: str, *groups: str, uid: int = 2001, person: str | None = None) -> Caller:
    return Caller(user=user, uid=uid, groups=(user, *groups), origin="ssh 10.1.2.3", person=person)


def access_of(section: str) -> AccessSettings:
    return parse_config(SAMPLE_CONFIG + "\n" + section).access


def pin_line(pin: str) -> str:
    return f'pin = "{hash_pin(pin, iterations=FAST_ROUNDS).text}"'


# ---------------------------------------------------------------- the matrix


@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.label)
@pytest.mark.parametrize("action", list(Action), ids=str)
def test_every_action_against_every_role(role: Role, action: Action) -> None:
    assert allowed(role, action) is (action in MAY[role])


def test_viewing_needs_no_role_but_a_caller_without_one_may_do_nothing() -> None:
    assert minimum_role(Action.VIEW) is None
    assert minimum_role(Action.DEVICES) is Role.MAINTENANCE
    assert not any(allowed(None, action) for action in Action)
    assert Role.OPERATOR < Role.MAINTENANCE < Role.SUPERVISOR < Role.ADMIN


def test_who_names_the_person_on_a_shared_login_and_the_login() -> None:
    assert caller("hans").who == "hans"
    assert caller("line3", person="Maria Lopez").who == "Maria Lopez (line3)"


# ---------------------------------------------------------------- role_of

ROLES = f"""
[access]
socket_group = "{GROUP}"
default_role = "operator"
[access.roles]
admin = ["%oee-admin"]
supervisor = ["%supervisors", "eva"]
maintenance = ["hans", "%maint"]
operator = ["%operators", "hans"]
"""


def test_users_and_groups_get_the_highest_role_any_entry_gives_them() -> None:
    access = access_of(ROLES)
    member = (GROUP,)
    assert access.role_of(caller("hans", *member), ENGINE_UID) is Role.MAINTENANCE  # listed twice: the higher
    assert access.role_of(caller("eva", *member), ENGINE_UID) is Role.SUPERVISOR
    assert access.role_of(caller("kim", "operators", *member), ENGINE_UID) is Role.OPERATOR
    assert access.role_of(caller("kim", "operators", "supervisors", *member), ENGINE_UID) is Role.SUPERVISOR
    assert access.role_of(caller("hans", "oee-admin", *member), ENGINE_UID) is Role.ADMIN
    grant = access.grant(caller("kim", "maint", *member), ENGINE_UID)
    assert grant.role is Role.MAINTENANCE and "%maint" in grant.reason


def test_a_user_listed_nowhere_gets_the_default_role_or_none() -> None:
    assert access_of(ROLES).role_of(caller("walt", GROUP), ENGINE_UID) is Role.OPERATOR
    refusing = access_of(ROLES.replace('default_role = "operator"', 'default_role = "none"'))
    assert refusing.role_of(caller("walt", GROUP), ENGINE_UID) is None
    assert refusing.role_of(caller("hans", GROUP), ENGINE_UID) is Role.MAINTENANCE
    assert access_of(ROLES.replace('default_role = "operator"', 'default_role = "supervisor"')).role_of(
        caller("walt", GROUP), ENGINE_UID) is Role.SUPERVISOR


def test_only_members_of_the_socket_group_may_connect() -> None:
    access = access_of(ROLES)
    assert access.role_of(caller("hans"), ENGINE_UID) is None  # listed, but not in the group
    assert "not in the group" in access.grant(caller("hans"), ENGINE_UID).reason
    without_group = access_of(ROLES.replace(f'socket_group = "{GROUP}"\n', ""))
    assert without_group.socket_group is None
    assert without_group.role_of(caller("hans", GROUP), ENGINE_UID) is None
    assert "socket mode 0600" in without_group.grant(caller("hans", GROUP), ENGINE_UID).reason


def test_the_engines_own_user_and_root_are_admin_unless_listed_by_name() -> None:
    access = access_of(ROLES)
    assert access.role_of(caller("oee", uid=ENGINE_UID), ENGINE_UID) is Role.ADMIN  # not in the group: its socket
    assert access.role_of(caller("root", uid=0), ENGINE_UID) is Role.ADMIN
    assert access.role_of(caller("oee", uid=ENGINE_UID)) is None  # the engine is this process: uid 0, not 990
    demoted = access_of(ROLES.replace('operator = ["%operators", "hans"]', 'operator = ["%operators", "root"]'))
    assert demoted.role_of(caller("root", uid=0), ENGINE_UID) is Role.OPERATOR
    assert demoted.role_of(caller("root", "supervisors", uid=0), ENGINE_UID) is Role.SUPERVISOR


def test_no_access_section_leaves_the_engine_to_its_own_user() -> None:
    access = parse_config(SAMPLE_CONFIG).access
    assert access == AccessSettings()
    assert access.role_of(caller("oee", uid=ENGINE_UID), ENGINE_UID) is Role.ADMIN
    assert access.role_of(caller("hans", "oee"), ENGINE_UID) is None


# ---------------------------------------------------------------- people and PINs


def test_people_on_a_shared_login_check_their_pin_and_get_their_role() -> None:
    # "daemon" exists on every Linux machine: a person without a role of their own gets its role.
    access = access_of(f"""
[access]
socket_group = "daemon"
[access.roles]
maintenance = ["daemon"]
[[access.people]]
account = "daemon"
name = "Maria Lopez"
{pin_line("4711")}
[[access.people]]
account = "daemon"
name = "Sam Ito"
role = "supervisor"
{pin_line("123456")}
[[access.people]]
account = "line4"
name = "Maria Lopez"
{pin_line("9999")}
""")
    assert [person.name for person in access.people_of("daemon")] == ["Maria Lopez", "Sam Ito"]
    assert access.people_of("hans") == ()
    assert access.check_pin("daemon", "Maria Lopez", "4711") is Role.MAINTENANCE
    assert access.check_pin("daemon", "Sam Ito", "123456") is Role.SUPERVISOR
    assert access.check_pin("daemon", "Sam Ito", "4711") is None  # another person's PIN
    assert access.check_pin("daemon", "Maria Lopez", "4712") is None
    assert access.check_pin("daemon", "Nobody", "4711") is None
    assert access.check_pin("line4", "Sam Ito", "123456") is None  # a person of another account
    assert "4711" not in repr(access.people) and "pbkdf2" not in repr(access.people)


def test_a_pin_hash_round_trips_and_is_salted() -> None:
    first, second = hash_pin("2468", iterations=FAST_ROUNDS), hash_pin("2468", iterations=FAST_ROUNDS)
    assert first.text != second.text  # each its own salt
    assert PinHash.parse(first.text).matches("2468") and not PinHash.parse(first.text).matches("2469")
    assert hash_pin("2468").iterations == 600_000


# ---------------------------------------------------------------- mistakes in [access]

PERSON = 'account = "line3"\nname = "Maria Lopez"\n' + pin_line("4711") + "\n"


MISTAKES = [
    ('[access]\nroles = { boss = ["eva"] }', "access.roles.boss", "operator, maintenance, supervisor, admin"),
    ('[access]\ndefault_role = "guest"', "access.default_role", "none"),
    ('[access.roles]\noperator = [""]', "access.roles.operator[0]", "OS user name"),
    ('[access.roles]\noperator = ["%"]', "access.roles.operator[0]", "group name"),
    ('[access.roles]\noperator = ["hans", "ann marie"]', "access.roles.operator[1]", "without spaces"),
    ('[access.roles]\noperator = [42]', "access.roles.operator[0]", "string"),
    ('[access.roles]\noperator = "hans"', "access.roles.operator", "list"),
    ('[access]\nsocket_group = "no-such-group-here"', "access.socket_group", "groupadd"),
    ('[access]\nsocket_grup = "oee"', "access.socket_grup", "known keys"),
    ("[[access.people]]\n" + PERSON.replace('account = "line3"\n', ""), "access.people[Maria Lopez].account",
     "shared OS login"),
    ("[[access.people]]\n" + PERSON.replace('account = "line3"', 'account = ""'),
     "access.people[Maria Lopez].account", "non-empty"),
    ("[[access.people]]\n" + PERSON.replace('account = "line3"', 'account = "%operators"'),
     "access.people[Maria Lopez].account", "not a group"),
    ("[[access.people]]\n" + PERSON.replace('name = "Maria Lopez"', 'name = " "'), "access.people[0].name",
     "non-empty"),
    ("[[access.people]]\n" + PERSON + "[[access.people]]\n" + PERSON, "access.people[Maria Lopez].name",
     "used twice for account line3"),
    ("[[access.people]]\n" + PERSON + 'role = "boss"', "access.people[Maria Lopez].role", "supervisor"),
    ("[[access.people]]\n" + PERSON + 'badge = 7', "access.people[Maria Lopez].badge", "known keys"),
    ('[[access.people]]\naccount = "line3"\nname = "Maria Lopez"', "access.people[Maria Lopez].pin",
     "oee access pin"),
]


# Named by key and hint: a section holds a freshly salted PIN hash, which would make its id differ from
# one run (or xdist worker) to the next.
@pytest.mark.parametrize(("section", "key", "hint"), MISTAKES, ids=[f"{key}:{hint}" for _s, key, hint in MISTAKES])
def test_a_mistake_in_access_names_the_key_and_the_fix(section: str, key: str, hint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(SAMPLE_CONFIG + "\n" + section)
    assert caught.value.key == key
    assert hint in str(caught.value)


@pytest.mark.parametrize(
    ("pin", "hint"),
    [
        ("4711", "pbkdf2_sha256$<iterations>"),  # the PIN itself, typed where its hash belongs
        ("pbkdf2_sha256$1000$00112233445566778899aabbccddeeff$" + "ab" * 32, "at least 100,000"),
        ("pbkdf2_sha256$600000$zz$" + "ab" * 32, "hexadecimal"),
        ("pbkdf2_sha256$600000$00112233445566778899aabbccddeeff$abcd", "32-byte hash"),
        ("md5$600000$00$00", "pbkdf2_sha256$<iterations>"),
    ],
)
def test_a_malformed_pin_hash_is_refused_without_showing_it(pin: str, hint: str) -> None:
    section = f'[[access.people]]\naccount = "line3"\nname = "Maria Lopez"\npin = "{pin}"\n'
    with pytest.raises(ConfigError) as caught:
        parse_config(SAMPLE_CONFIG + "\n" + section)
    assert caught.value.key == "access.people[Maria Lopez].pin"
    assert hint in str(caught.value)
    assert pin not in str(caught.value) and "<hidden>" in str(caught.value)


# ---------------------------------------------------------------- the commands

OEE = [sys.executable, "-m", "oee_tui"]


def test_whoami_prints_the_user_groups_origin_and_role(tmp_path: Path) -> None:
    config = tmp_path / "oee.toml"
    me = pwd.getpwuid(os.getuid()).pw_name
    config.write_text(SAMPLE_CONFIG + f'\n[access]\ndefault_role = "none"\n[access.roles]\nsupervisor = ["{me}"]\n')
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env = {**os.environ, "SSH_CONNECTION": "10.1.2.3 51000 10.1.2.1 22"}
    done = subprocess.run([*OEE, "--config", str(config), "--data-dir", str(data_dir), "access", "whoami"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(None, 1) for line in done.stdout.splitlines())
    assert lines["user"] == f"{me} (uid {os.getuid()})"
    assert grp.getgrgid(os.getgid()).gr_name in lines["groups"]
    assert lines["origin"] == "ssh 10.1.2.3"
    assert lines["engine"].startswith(f"runs as {me} (uid {os.getuid()}), the owner of {data_dir}")
    assert lines["role"] == f"supervisor: listed in [access.roles] supervisor as {me}"


def test_whoami_the_engines_own_user_listed_by_name_gets_that_role(tmp_path: Path) -> None:
    # This user owns the data dir, so it is the engine's user, admin unless listed by name: listed as an
    # operator, it is one.
    config = tmp_path / "oee.toml"
    me = pwd.getpwuid(os.getuid()).pw_name
    config.write_text(SAMPLE_CONFIG + f'\n[access]\n[access.roles]\noperator = ["{me}"]\n')
    done = subprocess.run([*OEE, "--config", str(config), "--data-dir", str(tmp_path), "access", "whoami"],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "SSH_CONNECTION": ""})
    assert done.returncode == 0, done.stderr
    assert f"role    operator: listed in [access.roles] operator as {me}" in done.stdout


def _spawn_pin() -> pexpect.spawn:
    # A real terminal (a pty): getpass reads from it without echo, as it does for a person.
    return pexpect.spawn(sys.executable, ["-m", "oee_tui", "access", "pin"], encoding="utf-8", timeout=60,
                         env={**os.environ})


def test_pin_asks_twice_without_echo_and_prints_a_line_that_checks() -> None:
    session = _spawn_pin()
    session.expect("PIN: ")
    session.sendline("4711")
    session.expect("PIN again: ")
    session.sendline("4711")
    session.expect(r'pin = "(pbkdf2_sha256\$[^"]+)"')
    line = session.match.group(1)
    before = session.before
    session.expect(pexpect.EOF)
    session.close()
    assert session.exitstatus == 0
    assert "4711" not in before  # not echoed
    pin_hash = PinHash.parse(line)
    assert pin_hash.iterations == 600_000 and pin_hash.matches("4711") and not pin_hash.matches("4712")
    access = access_of(f'[[access.people]]\naccount = "line3"\nname = "Maria Lopez"\npin = "{line}"\n')
    assert access.people_of("line3")[0].pin == pin_hash


@pytest.mark.parametrize(("first", "second", "said"), [("4711", "4712", "the two PINs differ"),
                                                      ("12a4", "12a4", "digits only"),
                                                      ("123", "123", "4 to 12 digits")])
def test_pin_refuses_a_mismatch_or_a_bad_pin_and_prints_nothing(first: str, second: str, said: str) -> None:
    session = _spawn_pin()
    session.expect("PIN: ")
    session.sendline(first)
    session.expect("PIN again: ")
    session.sendline(second)
    session.expect(pexpect.EOF)
    session.close()
    assert session.exitstatus == 2
    assert said in session.before and "pin =" not in session.before


def test_whoami_without_a_config_says_the_defaults_apply(tmp_path: Path) -> None:
    missing = tmp_path / "oee.toml"
    done = subprocess.run([*OEE, "--config", str(missing), "--data-dir", str(tmp_path), "access", "whoami"],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "SSH_CONNECTION": ""})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"config  {missing} does not exist: [access] has its defaults\n")
    assert "role    admin: " in done.stdout  # this user owns the data dir: the engine's own user
