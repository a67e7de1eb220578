"""PLACEHOLDER until the access branch merges (the lead's stand-in with the shared design's names)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum


class Role(IntEnum):
    OPERATOR = 1
    MAINTENANCE = 2
    SUPERVISOR = 3
    ADMIN = 4


class Action(StrEnum):
    VIEW = "view"
    STOP_REASON = "stop_reason"
    ACKNOWLEDGE = "acknowledge"
    SHIFT_NOTE = "shift_note"
    DEVICES = "devices"
    TAG_MAPS = "tag_maps"
    CONFIG_RELOAD = "config_reload"
    IMPORT = "import"
    TARGETS = "targets"
    REASONS = "reasons"
    SHIFTS = "shifts"
    USERS = "users"
    SYNC = "sync"
    STORE_ADMIN = "store_admin"


_MIN = {Action.STOP_REASON: Role.OPERATOR, Action.ACKNOWLEDGE: Role.OPERATOR, Action.SHIFT_NOTE: Role.OPERATOR,
        Action.DEVICES: Role.MAINTENANCE, Action.TAG_MAPS: Role.MAINTENANCE, Action.CONFIG_RELOAD: Role.MAINTENANCE,
        Action.IMPORT: Role.SUPERVISOR, Action.TARGETS: Role.SUPERVISOR, Action.REASONS: Role.SUPERVISOR,
        Action.SHIFTS: Role.SUPERVISOR, Action.USERS: Role.ADMIN, Action.SYNC: Role.ADMIN,
        Action.STORE_ADMIN: Role.ADMIN}


def minimum_role(action: Action) -> Role | None:
    return _MIN.get(action)


def allowed(role: Role | None, action: Action) -> bool:
    need = minimum_role(action)
    return need is None or (role is not None and role >= need)


@dataclass(frozen=True, slots=True)
class Caller:
    user: str
    uid: int
    groups: tuple[str, ...]
    origin: str
    person: str | None = None

    @property
    def who(self) -> str:
        return self.user if self.person is None else f"{self.person} ({self.user})"
