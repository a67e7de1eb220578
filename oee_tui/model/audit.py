"""The audit trail's vocabulary: a change a person made, the entry the store keeps of it, and what a
check of the hash chain found.

The chain itself (what is hashed, and how the store checks it) is `oee_tui.store.audit_chain`'s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

GENESIS_HASH: Final = "0" * 64
"""The previous hash of the first entry of every chain."""


def canonical_json(value: object, what: str = "value") -> str | None:
    """`value` as the one JSON text the chain hashes (keys sorted, no spaces, UTF-8 as is); None stays None.

    Refuses what JSON cannot say exactly (NaN, infinities, objects): an audit entry must read back
    as what was recorded."""
    if value is None:
        return None
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"audit {what}: not JSON-serialisable ({exc})") from None


@dataclass(frozen=True, slots=True)
class AuditChange:
    """What a caller records: who (OS user, or "person (user)"), from where, what kind of change to
    what, and the values before and after (JSON-serialisable; None when there was none)."""

    user: str
    origin: str
    kind: str
    subject: str
    before: object = None
    after: object = None
    ts: float | None = None  # POSIX seconds, UTC; None: when it is appended


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One stored entry of the audit trail: `seq` counts from 1 with no gap, `ts` is POSIX seconds
    (UTC, to the microsecond), `before` and `after` canonical JSON text or None, and `hash` the
    SHA-256 (hex) over `prev_hash` and the entry's fields."""

    seq: int
    ts: float
    user: str
    origin: str
    kind: str
    subject: str
    before: str | None
    after: str | None
    prev_hash: str
    hash: str

    def before_value(self) -> object:
        return None if self.before is None else json.loads(self.before)

    def after_value(self) -> object:
        return None if self.after is None else json.loads(self.after)


@dataclass(frozen=True, slots=True)
class AuditProblem:
    """One thing wrong with the chain: the entry it concerns (None: the chain's head) and what is wrong,
    starting with one of "edited", "removed", "reordered", "inserted", "chain broken", "head"."""

    seq: int | None
    what: str

    def __str__(self) -> str:
        return f"{'head' if self.seq is None else f'seq {self.seq}'}: {self.what}"


@dataclass(frozen=True, slots=True)
class AuditVerdict:
    """What `Store.verify_audit` found: how many entries it checked, each problem in chain order (at
    most a bounded number listed, `more_problems` saying how many beyond), and the head it checked against."""

    checked: int
    problems: tuple[AuditProblem, ...]
    head_entries: int
    head_hash: str
    more_problems: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad(self) -> AuditProblem | None:
        return self.problems[0] if self.problems else None
