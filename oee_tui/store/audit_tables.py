"""The audit trail: ``audit_log`` (one hash-chained row per change a person made) and ``audit_head``.

Append-only: this class has no method that updates or deletes an entry. Appending is one
transaction that reads the head (entries, last hash), inserts the entries chained to it and
moves the head; the store's write gate serialises it with every other transaction, so it is
safe from any thread. `append_on` does the same inside a transaction a caller already holds,
so that a change and its entry are committed together (a stop reason with its flush, an import
with its rows) or not at all.

What the head protects against, and what it does not: the chain alone shows an entry edited,
reordered, or removed from the start or the middle, but not its last entries removed (the
shorter chain is still a sound chain). The head, a second table moved in the same transaction,
shows that too, against anyone who edits ``audit_log`` alone. Someone who can write the file
can still rebuild the whole chain and head from new values: nothing kept in the same file can
show that. Copying the head (``oee audit list --format json``'s ``head``) off the box and
checking it later (`verify_audit(expect=...)`) can.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import duckdb

from oee_tui.model.audit import GENESIS_HASH, AuditChange, AuditEntry, AuditProblem, AuditVerdict, canonical_json
from oee_tui.store.audit_chain import (
    CHECK_SQL,
    EXTENT_SQL,
    HEAD_OWNER_SQL,
    HELD_SQL,
    LISTED_PROBLEMS,
    BadRow,
    entry_hash,
    judge,
    judge_head,
    places_of,
)
from oee_tui.store.database import Database, run_on_batch
from oee_tui.store.timecodec import micro, storable, to_datetime

_COLUMNS = "seq, epoch_us(ts) AS ts_us, user_name, origin, kind, subject, before, after, prev_hash, hash"


class AuditTables(Database):
    """The audit trail's group of tables."""

    def append_audit(self, *, user: str, origin: str, kind: str, subject: str, before: object, after: object,
                     ts: float | None = None) -> AuditEntry:
        """Record one change (before/after: JSON-serialisable values, None allowed), durable on return."""
        return self.append_audits([AuditChange(user, origin, kind, subject, before, after, ts)])[0]

    def append_audits(self, changes: Sequence[AuditChange]) -> list[AuditEntry]:
        """Record several changes in order, in one transaction."""
        with self._transaction() as cur:
            return append_on(cur, changes)

    def audit_head(self) -> tuple[int, str]:
        """(entries, last hash) as the head says: (0, 64 zeros) before the first entry."""
        with self._cursor() as cur:
            return _head(cur) or (0, GENESIS_HASH)

    def audit_entries(self, *, user: str | None = None, kind: str | None = None, start: float | None = None,
                      end: float | None = None, limit: int = 1000) -> list[AuditEntry]:
        """The newest `limit` entries, newest first, in [start, end) when given. `user` matches the
        recorded user whole, or either part of "person (user)": the OS user or the person's name."""
        where = ["(? IS NULL OR user_name = ? OR starts_with(user_name, ? || ' (') "
                 "OR ends_with(user_name, ' (' || ? || ')'))", "(? IS NULL OR kind = ?)"]
        params: list[Any] = [user, user, user, user, kind, kind]
        if start is not None:
            where.append("ts >= ?")
            params.append(to_datetime(start))
        if end is not None:
            where.append("ts < ?")
            params.append(to_datetime(end))
        params.append(limit)
        table = self._arrow(f"SELECT {_COLUMNS} FROM audit_log WHERE {' AND '.join(where)} "
                            "ORDER BY seq DESC LIMIT ?", params)
        columns = [table[name].to_pylist() for name in table.column_names]
        return [AuditEntry(seq, ts_us / 1e6, *rest) for seq, ts_us, *rest in zip(*columns, strict=True)]

    def verify_audit(self, expect: tuple[int, str] | None = None) -> AuditVerdict:
        """Check the whole chain and the head; `expect` (seq, hash), a head copied off the box earlier,
        must still be in it. Each problem names the entry (its seq) and what is wrong: edited,
        removed, reordered, inserted, chain broken, or the head (audit_chain.judge says how each is
        told). One SQL pass over the table: a million entries take about a second."""
        with self._cursor() as cur:
            cur.begin()  # one snapshot: an append meanwhile must not look like a problem
            try:
                rows = cur.execute(CHECK_SQL).fetchall()
                bad = [BadRow(*row[:6]) for row in rows[:LISTED_PROBLEMS]]
                places = places_of(bad)
                held = {seq for (seq,) in cur.execute(HELD_SQL, [sorted(set(places.values()))]).fetchall()}
                entries, last_seq, last_hash = cur.execute(EXTENT_SQL).fetchall()[0]
                head = _head(cur)
                head_hash = GENESIS_HASH if head is None else head[1]
                owner = cur.execute(HEAD_OWNER_SQL, [head_hash]).fetchall()[0][0]
                expected_hash = None
                if expect is not None:
                    found = cur.execute("SELECT hash FROM audit_log WHERE seq = ?", [expect[0]]).fetchall()
                    expected_hash = found[0][0] if found else None
            finally:
                cur.rollback()
        problems = judge(bad, places, held)
        problems += judge_head(None if head is None else head[0], head_hash, int(entries), last_seq, last_hash,
                               owner, places)
        if expect is not None and expected_hash != expect[1]:
            said = "is missing" if expected_hash is None else f"has hash {expected_hash}"
            problems.append(AuditProblem(expect[0], f"chain broken (the head kept off the box, seq {expect[0]} "
                                                    f"with hash {expect[1]}, is not in it: seq {expect[0]} {said})"))
        bad_rows = int(rows[0][6]) if rows else 0
        more = max(0, bad_rows - LISTED_PROBLEMS)
        return AuditVerdict(int(entries), tuple(problems), 0 if head is None else head[0], head_hash, more)


def _head(cur: duckdb.DuckDBPyConnection) -> tuple[int, str] | None:
    found = cur.execute("SELECT entries, hash FROM audit_head WHERE id = 1").fetchall()
    return None if not found else (int(found[0][0]), str(found[0][1]))


def append_on(cur: duckdb.DuckDBPyConnection, changes: Sequence[AuditChange]) -> list[AuditEntry]:
    """Append `changes` inside the transaction `cur` holds (the caller holds the store's write gate):
    chained to the head, which moves with them. Raises ValueError, writing nothing, for a change
    whose time cannot be stored or whose values are not JSON."""
    if not changes:
        return []
    import pyarrow as pa

    entries, prev_hash = _head(cur) or (0, GENESIS_HASH)
    now = time.time()
    made: list[AuditEntry] = []
    stamps: list[int] = []
    for change in changes:
        ts = now if change.ts is None else change.ts
        if not storable(ts):
            raise ValueError(f"audit entry {change.kind} {change.subject!r}: time {ts!r} cannot be stored")
        ts_us = micro(ts)
        before = canonical_json(change.before, "before")
        after = canonical_json(change.after, "after")
        entries += 1
        digest = entry_hash(prev_hash, entries, ts_us, change.user, change.origin, change.kind, change.subject,
                            before, after)
        made.append(AuditEntry(entries, ts_us / 1e6, change.user, change.origin, change.kind, change.subject, before,
                               after, prev_hash, digest))
        stamps.append(ts_us)
        prev_hash = digest
    batch = pa.table({
        "seq": pa.array([entry.seq for entry in made], type=pa.int64()),
        "ts": pa.array(stamps, type=pa.timestamp("us")),
        "user_name": pa.array([entry.user for entry in made], type=pa.string()),
        "origin": pa.array([entry.origin for entry in made], type=pa.string()),
        "kind": pa.array([entry.kind for entry in made], type=pa.string()),
        "subject": pa.array([entry.subject for entry in made], type=pa.string()),
        "before": pa.array([entry.before for entry in made], type=pa.string()),
        "after": pa.array([entry.after for entry in made], type=pa.string()),
        "prev_hash": pa.array([entry.prev_hash for entry in made], type=pa.string()),
        "hash": pa.array([entry.hash for entry in made], type=pa.string()),
    })
    run_on_batch(cur, batch, "INSERT INTO audit_log SELECT * FROM _batch")
    cur.execute("INSERT INTO audit_head VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET entries = excluded.entries, "
                "hash = excluded.hash", [entries, prev_hash])
    return made
