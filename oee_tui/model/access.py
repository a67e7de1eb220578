"""Who may do what: the roles, the actions the engine's command handlers guard, and who is calling.

The role matrix is the one table `ROLE_MATRIX`; the README reproduces it. Roles are ordered: each
may do what the roles below it may, so a handler asks `allowed(role, action)` and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import Final


class Role(IntEnum):
    """A person's role; a higher role may do everything a lower one may."""

    OPERATOR = 1
    MAINTENANCE = 2
    SUPERVISOR = 3
    ADMIN = 4

    @property
    def label(self) -> str:
        """The role as the config file and the screens write it: "operator", "admin", ..."""
        return self.name.lower()


ROLE_NAMES: Final = tuple(role.label for role in Role)  # lowest first, as the config's errors list them


class Action(StrEnum):
    """What a caller asks the engine to do, as its command handlers name it."""

    VIEW = "view"
    STOP_REASON = "stop_reason"
    ACKNOWLEDGE = "acknowledge"
    SHELVE = "shelve"  # an alert out of everyone's active count for a while: the supervisor's call
    SHIFT_NOTE = "shift_note"
    DEVICES = "devices"
    TAG_MAPS = "tag_maps"
    CONFIG_RELOAD = "config_reload"
    IMPORT = "import"
    TARGETS = "targets"
    REASONS = "reasons"
    SHIFTS = "shifts"
    AUDIT = "audit"
    USERS = "users"
    SYNC = "sync"
    STORE_ADMIN = "store_admin"


# The role matrix: the lowest role that may take each action. None: anyone the engine lets connect.
ROLE_MATRIX: Final[Mapping[Action, Role | None]] = MappingProxyType({
    Action.VIEW: None,
    Action.STOP_REASON: Role.OPERATOR,
    Action.ACKNOWLEDGE: Role.OPERATOR,
    Action.SHIFT_NOTE: Role.OPERATOR,
    Action.DEVICES: Role.MAINTENANCE,
    Action.TAG_MAPS: Role.MAINTENANCE,
    Action.CONFIG_RELOAD: Role.MAINTENANCE,
    Action.IMPORT: Role.SUPERVISOR,
    Action.TARGETS: Role.SUPERVISOR,
    Action.REASONS: Role.SUPERVISOR,
    Action.SHIFTS: Role.SUPERVISOR,
    Action.SHELVE: Role.SUPERVISOR,
    Action.AUDIT: Role.SUPERVISOR,
    Action.USERS: Role.ADMIN,
    Action.SYNC: Role.ADMIN,
    Action.STORE_ADMIN: Role.ADMIN,
})


def minimum_role(action: Action) -> Role | None:
    """The lowest role that may take `action`; None when anyone connected may (viewing)."""
    return ROLE_MATRIX[action]


def allowed(role: Role | None, action: Action) -> bool:
    """Whether a caller with `role` may take `action`. No role (None) may do nothing, not even view."""
    if role is None:
        return False
    needed = ROLE_MATRIX[action]
    return needed is None or role >= needed


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking: the OS user the socket's peer credentials name, never what the client says."""

    user: str  # the OS user name
    uid: int
    groups: tuple[str, ...]  # the OS groups' names, primary group included
    origin: str  # where from: "ssh 10.1.2.3", "tty /dev/pts/4", "local"
    person: str | None = None  # the name given with a PIN on a shared account

    @property
    def who(self) -> str:
        """How the audit trail and the screens name the caller: "Maria Lopez (line3)" or "hans"."""
        return self.user if self.person is None else f"{self.person} ({self.user})"
