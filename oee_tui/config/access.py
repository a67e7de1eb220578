"""``[access]``: who may connect to the engine, the role each OS user and group gets, and the people
who share one login with a name and a PIN each.

The engine asks `AccessSettings.role_of(caller)` for every connection, with the caller its socket's
peer credentials name (oee_tui.model.access.Caller); `oee access whoami` shows the answer and why.
"""

from __future__ import annotations

import grp
import os
import pwd
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from oee_tui.config.pins import DECOY, PinError, PinHash
from oee_tui.config.toml_reader import HIDDEN, TomlReader, TomlTable, entry_key
from oee_tui.model.access import ROLE_NAMES, Caller, Role

NO_ROLE: Final = "none"  # default_role = "none": a user the config does not list may not use the engine
GROUP_MARK: Final = "%"  # "%operators" names the OS group operators, as sudoers does
ACCESS_KEYS: Final = frozenset({"socket_group", "default_role", "roles", "people"})
PERSON_KEYS: Final = frozenset({"account", "name", "role", "pin"})


@dataclass(frozen=True, slots=True)
class Person:
    """One person on a shared login: `account` is the OS user they all log in as."""

    account: str
    name: str
    role: Role | None  # None: the account's role
    pin: PinHash = field(repr=False)


@dataclass(frozen=True, slots=True)
class RoleGrant:
    """A caller's role and the config's reason for it, in words (`oee access whoami` prints both)."""

    role: Role | None
    reason: str


@dataclass(frozen=True, slots=True)
class AccessSettings:
    """``[access]``: see the README's "Users and roles"."""

    socket_group: str | None = None  # None: the socket is the engine user's only (mode 0600)
    default_role: Role | None = Role.OPERATOR  # a user who may connect but is listed nowhere; None refuses them
    users: Mapping[str, Role] = field(default_factory=dict)  # OS user name -> the highest role it is listed under
    groups: Mapping[str, Role] = field(default_factory=dict)  # OS group name -> the highest role it is listed under
    people: tuple[Person, ...] = ()

    def role_of(self, caller: Caller, engine_uid: int | None = None) -> Role | None:
        """The caller's role; None when they may not use the engine at all. `engine_uid`: the OS user
        the engine runs as, this process's unless given (`oee access whoami` asks on the engine's behalf)."""
        return self.grant(caller, engine_uid).role

    def grant(self, caller: Caller, engine_uid: int | None = None) -> RoleGrant:
        engine_uid = os.getuid() if engine_uid is None else engine_uid
        if caller.user not in self.users and caller.uid in (0, engine_uid):
            who = "root" if caller.uid == 0 else "the engine's own user"
            return RoleGrant(Role.ADMIN, f"{who}, not listed by name in [access.roles]")
        if not self._may_connect(caller, engine_uid):
            if self.socket_group is None:
                return RoleGrant(None, "[access] socket_group is not set, so only the engine's own user and root "
                                       "may connect (socket mode 0600)")
            return RoleGrant(None, f"not in the group {self.socket_group} that may connect ([access] socket_group)")
        listed = self._listed(caller)
        if listed:
            role = max(role for role, _entry in listed)
            entries = ", ".join(entry for entry_role, entry in listed if entry_role == role)
            return RoleGrant(role, f"listed in [access.roles] {role.label} as {entries}")
        if self.default_role is None:
            return RoleGrant(None, 'listed nowhere in [access.roles], and default_role = "none"')
        return RoleGrant(self.default_role, "listed nowhere in [access.roles]: [access] default_role")

    def _listed(self, caller: Caller) -> list[tuple[Role, str]]:
        """Every [access.roles] entry that names the caller, by user name or by one of its groups."""
        out = [(self.groups[group], GROUP_MARK + group) for group in caller.groups if group in self.groups]
        if caller.user in self.users:
            out.append((self.users[caller.user], caller.user))
        return out

    def _may_connect(self, caller: Caller, engine_uid: int) -> bool:
        # The socket's mode already keeps others out; saying so here as well means a socket whose mode
        # was changed by hand still admits nobody the config does not.
        if caller.uid in (0, engine_uid):
            return True
        return self.socket_group is not None and self.socket_group in caller.groups

    def people_of(self, account: str) -> tuple[Person, ...]:
        """The people who log in as `account`, in file order; empty for a login that is one person's."""
        return tuple(person for person in self.people if person.account == account)

    def check_pin(self, account: str, name: str, pin: str) -> Role | None:
        """The role of the person `name` on `account` if `pin` is theirs, else None.

        A person without a role of their own gets the account's, with the account's OS groups.
        """
        person = next((p for p in self.people if p.account == account and p.name == name), None)
        if person is None:
            DECOY.matches(pin)  # as slow as a wrong PIN: the answer's time does not say who exists
            return None
        if not person.pin.matches(pin):
            return None
        return person.role if person.role is not None else self.role_of(account_caller(account))


def account_caller(account: str, origin: str = "local") -> Caller:
    """The caller an OS user is when it connects: its uid and groups from the system's user database.
    A name this machine does not know gets no uid and no groups, so only its [access.roles] listing counts."""
    try:
        entry = pwd.getpwnam(account)
    except KeyError:
        return Caller(user=account, uid=-1, groups=(), origin=origin)
    return Caller(user=account, uid=entry.pw_uid, groups=group_names(os.getgrouplist(account, entry.pw_gid)),
                  origin=origin)


def group_names(gids: list[int]) -> tuple[str, ...]:
    names: list[str] = []
    for gid in gids:
        try:
            name = grp.getgrgid(gid).gr_name
        except KeyError:
            name = str(gid)  # a group with no entry in the group database
        if name not in names:
            names.append(name)
    return tuple(names)


def read_access(r: TomlReader, data: TomlTable) -> AccessSettings:
    t = r.table(data, "access", "access", required=False)
    r.unknown_keys(t, "access", ACCESS_KEYS)
    socket_group = r.opt_string(t, "access", "socket_group")
    if socket_group is not None:
        try:
            grp.getgrnam(socket_group)
        except KeyError as exc:
            raise r.fail("access.socket_group", socket_group,
                         f"is not a group on this machine; create it (groupadd {socket_group}) or fix the name") \
                from exc
    default_text = r.string(t, "access", "default_role", default=Role.OPERATOR.label, choices=(*ROLE_NAMES, NO_ROLE))
    users, groups = _read_roles(r, t)
    return AccessSettings(socket_group=socket_group,
                          default_role=None if default_text == NO_ROLE else Role[default_text.upper()],
                          users=users, groups=groups, people=_read_people(r, t))


def _read_roles(r: TomlReader, t: TomlTable) -> tuple[dict[str, Role], dict[str, Role]]:
    roles_t = r.table(t, "access.roles", "roles", required=False)
    users: dict[str, Role] = {}
    groups: dict[str, Role] = {}
    for role_name, entries in roles_t.items():
        key = f"access.roles.{role_name}"
        if role_name not in ROLE_NAMES:
            raise r.fail(key, entries, f"is not a role; the roles are {', '.join(ROLE_NAMES)}")
        role = Role[role_name.upper()]
        if not isinstance(entries, list):
            raise r.fail(key, entries, 'must be a list of OS user names and %groups, e.g. ["hans", "%operators"]')
        for index, entry in enumerate(entries):
            name = _entry_name(r, f"{key}[{index}]", entry)
            # Listed under two roles: the highest wins, as it does for a user in two listed groups.
            table, bare = (groups, name[1:]) if name.startswith(GROUP_MARK) else (users, name)
            table[bare] = max(role, table.get(bare, role))
    return users, groups


def _entry_name(r: TomlReader, key: str, entry: object) -> str:
    if not isinstance(entry, str):
        raise r.fail(key, entry, "must be an OS user name or a %group, as a string")
    bare = entry.removeprefix(GROUP_MARK)
    if not bare or bare != bare.strip() or any(char.isspace() or char in ":," for char in bare):
        raise r.fail(key, entry, "must be an OS user name, or % and a group name, without spaces, : or ,")
    return entry


def _read_people(r: TomlReader, t: TomlTable) -> tuple[Person, ...]:
    people: list[Person] = []
    seen: set[tuple[str, str]] = set()
    for index, person_t in enumerate(r.tables(t, "access.people", "people")):
        key = entry_key("access.people", index, person_t, "name")
        r.unknown_keys(person_t, key, PERSON_KEYS)
        if person_t.get("account") is None:
            raise r.fail(f"{key}.account", None, "is missing: name the shared OS login this person uses, "
                                                 'e.g. account = "line3"')
        account = _entry_name(r, f"{key}.account", r.string(person_t, key, "account"))
        if account.startswith(GROUP_MARK):
            raise r.fail(f"{key}.account", account, "must be an OS user name, not a group")
        name = r.string(person_t, key, "name").strip()
        if (account, name) in seen:
            raise r.fail(f"{key}.name", name, f"is used twice for account {account}; each person needs their own name")
        seen.add((account, name))
        role_text = r.opt_string(person_t, key, "role")
        if role_text is not None and role_text not in ROLE_NAMES:
            raise r.fail(f"{key}.role", role_text, f"must be one of {', '.join(ROLE_NAMES)}, or left out for the "
                                                   "account's role")
        pin_text = person_t.get("pin")
        if not isinstance(pin_text, str):
            raise r.fail(f"{key}.pin", None if pin_text is None else HIDDEN,
                         "is missing or not a string; make one with `oee access pin`")
        r.note_secret(f"{key}.pin")
        try:
            pin = PinHash.parse(pin_text)
        except PinError as exc:
            raise r.fail(f"{key}.pin", HIDDEN, str(exc)) from exc
        people.append(Person(account=account, name=name,
                             role=None if role_text is None else Role[role_text.upper()], pin=pin))
    return tuple(people)
