"""The audit trail's hash chain: exactly what is hashed, in Python (appending) and in SQL (checking).

Each entry's hash is the lowercase hex SHA-256 of the UTF-8 bytes of

    prev_hash + f"{seq}|{ts_us}|" + field(user) + field(origin) + field(kind) + field(subject)
              + field(before) + field(after)

where `prev_hash` is the previous entry's hash (64 hex digits; the first entry's is 64 zeros),
`seq` the entry's number (1, 2, ...) and `ts_us` its time in integer microseconds since the
POSIX epoch (UTC), both in decimal; `field(text)` is the netstring `f"{len(text.encode())}:{text},"`
(the text's length in UTF-8 bytes, a colon, the text, a comma) and `field(None)` is `~`. `before`
and `after` are the canonical JSON texts (`oee_tui.model.audit.canonical_json`). A length prefix
makes the encoding unambiguous whatever the texts hold, and another tool can rebuild it from the
`audit_log` columns: `prev_hash || seq || '|' || epoch_us(ts) || '|' || ...` (`entry_sql` below).

`verify_audit` recomputes every entry's hash from its own stored `prev_hash` in one SQL pass
(DuckDB's sha256, over all rows in parallel), then checks the links (each `prev_hash` is the
hash of the entry before it, by seq), that seq runs 1, 2, ... with no gap or repeat, and that
the last entry and the count match the head; `judge` turns the few rows that fail into problems.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from oee_tui.model.audit import GENESIS_HASH, AuditProblem

# At most this many problems are listed; the verdict counts the rest.
LISTED_PROBLEMS: Final = 1000


def _field(text: str | None) -> str:
    return "~" if text is None else f"{len(text.encode('utf-8'))}:{text},"


def entry_hash(prev_hash: str, seq: int, ts_us: int, user: str, origin: str, kind: str, subject: str,
               before: str | None, after: str | None) -> str:
    """The hash of one entry (the module docstring says what is hashed)."""
    text = (f"{prev_hash}{seq}|{ts_us}|{_field(user)}{_field(origin)}{_field(kind)}{_field(subject)}"
            f"{_field(before)}{_field(after)}")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _field_sql(column: str, nullable: bool) -> str:
    text = f"strlen({column}), ':', {column}, ','"
    return f"CASE WHEN {column} IS NULL THEN '~' ELSE concat({text}) END" if nullable else text


def entry_sql() -> str:
    """The same text as `entry_hash` hashes, as a SQL expression over an `audit_log` row. concat() over
    the parts (numbers in decimal) is several times faster than `||` with casts; it reads a NULL as
    empty, which only an edit can put in a NOT NULL column, and such a row never matches its hash."""
    fields = ", ".join([*(_field_sql(column, False) for column in ("user_name", "origin", "kind", "subject")),
                        *(_field_sql(column, True) for column in ("before", "after"))])
    return f"concat(prev_hash, seq, '|', epoch_us(ts), '|', {fields})"


# Every entry that is not what the chain says, in chain order (seq, then the order rows were
# written): `sound` whether its hash matches its fields, `linked` whether its prev_hash is the
# hash of the entry before it, `prev_owner` the seq of the entry whose hash its prev_hash is (0:
# the genesis hash). `chain` is read once: the hash of every row is computed once, in parallel.
CHECK_SQL: Final = f"""
WITH chain AS (
    SELECT coalesce(seq, 0) AS seq, hash, prev_hash,
           coalesce(sha256({entry_sql()}) = hash, false) AS sound,
           lag(seq) OVER w AS before_seq,
           coalesce(lag(hash) OVER w, '{GENESIS_HASH}') AS before_hash,
           row_number() OVER w AS position
    FROM audit_log WINDOW w AS (ORDER BY seq NULLS FIRST, rowid)
), bad AS (
    SELECT *, prev_hash IS NOT DISTINCT FROM before_hash AS linked FROM chain
    WHERE NOT sound OR seq IS DISTINCT FROM coalesce(before_seq, 0) + 1 OR prev_hash IS DISTINCT FROM before_hash
)
SELECT position, seq, sound, before_seq, linked,
       CASE WHEN prev_hash = '{GENESIS_HASH}' THEN 0
            ELSE (SELECT min(o.seq) FROM audit_log o WHERE o.hash = bad.prev_hash) END AS prev_owner,
       count(*) OVER () AS bad_rows
FROM bad ORDER BY position LIMIT {LISTED_PROBLEMS + 1}
"""

# Which of the given seqs some entry holds.
HELD_SQL: Final = "SELECT DISTINCT seq FROM audit_log WHERE list_contains(?::BIGINT[], seq)"

# The chain's extent as stored: entries, the highest seq and its hash.
EXTENT_SQL: Final = "SELECT count(*), max(seq), arg_max(hash, seq) FROM audit_log"

# The seq of the entry whose hash is the head's (None when none is).
HEAD_OWNER_SQL: Final = "SELECT min(seq) FROM audit_log WHERE hash = ?"


@dataclass(frozen=True, slots=True)
class BadRow:
    """One row of CHECK_SQL."""

    position: int
    seq: int
    sound: bool
    before_seq: int | None
    linked: bool
    prev_owner: int | None


def _missing(first: int, last: int) -> str:
    return f"seq {first}" if first == last else f"seq {first} to {last}"


def judge(rows: list[BadRow], places: dict[int, int], held: set[int]) -> list[AuditProblem]:
    """The problems the rows that fail CHECK_SQL show, in chain order.

    An entry whose fields do not match its hash is *edited*. When its link (the entry whose hash is
    its prev_hash) puts it at another seq (`places`, from `places_of`), its seq was edited too, and
    it is *reordered* when such entries stand in another order than their links put them (two
    entries swapped). A seq missing from the run is *removed*, unless an entry with an edited seq
    belongs there; a seq held twice, or a sound entry that a later entry's link skips (`held`: which
    of the places some entry holds), is *inserted*. A broken link right after an entry already
    named, or to a displaced one, says nothing new and is not repeated; any other is *chain broken*.
    """
    inverted = _inverted(places)
    failing = {row.seq for row in rows}
    placed = {place: seq for seq, place in places.items() if place != seq}  # where a displaced entry belongs
    displaced = set(placed.values())
    problems: list[AuditProblem] = []
    named_position = -1
    for row in rows:
        named = False
        expected = (row.before_seq or 0) + 1
        if row.before_seq is not None and row.seq == row.before_seq:
            problems.append(AuditProblem(row.seq, f"inserted (a second entry with seq {row.seq})"))
            named = True
        elif row.seq > expected and row.seq not in displaced:
            missing = [seq for seq in range(expected, row.seq) if seq not in placed]
            if missing:
                where = (f"before {row.seq}" if row.before_seq is None
                         else f"between {row.before_seq} and {row.seq}")
                problems.append(AuditProblem(missing[0], f"removed ({_missing(missing[0], missing[-1])} missing "
                                                         f"{where})"))
                named = True
        if not row.sound and not named:
            place = places.get(row.seq)
            if place is None or place == row.seq:
                problems.append(AuditProblem(row.seq, "edited (its fields do not match its hash)"))
            elif row.seq in inverted:
                problems.append(AuditProblem(row.seq, f"reordered (its link to the entry before it puts it at "
                                                      f"seq {place})"))
            else:
                problems.append(AuditProblem(row.seq, f"edited (its seq: its link to the entry before it puts it "
                                                      f"at seq {place})"))
                if place in held and place not in failing and row.prev_owner not in displaced:
                    problems.append(AuditProblem(place, f"inserted (not in the chain: seq {row.seq}'s entry links "
                                                        f"past it to seq {row.prev_owner})"))
            named = True
        elif (not row.linked and not named and row.position - 1 != named_position
              and row.prev_owner not in displaced):
            if row.prev_owner is None:
                problems.append(AuditProblem(row.seq, "chain broken (its previous hash is no entry's)"))
            else:
                problems.append(AuditProblem(row.seq, f"chain broken (its previous hash is seq {row.prev_owner}'s, "
                                                      f"not seq {row.before_seq or 0}'s)"))
            named = True
        if named:
            named_position = row.position
    return sorted(problems, key=lambda problem: problem.seq if problem.seq is not None else 0)


def places_of(rows: list[BadRow]) -> dict[int, int]:
    """The seq each entry that fails its hash belongs at by its link: one after the place of the entry
    whose hash its prev_hash is (that entry may be displaced too, as in two swapped neighbours)."""
    owners = {row.seq: row.prev_owner for row in rows if not row.sound and row.prev_owner is not None}
    places: dict[int, int] = {}
    for start in owners:
        # Walk back along the links to an entry whose place is known (a sound one is where its seq
        # says), then number the walk forward. A loop (entries whose links go round) ends the walk.
        walk: list[int] = []
        seq = start
        while seq in owners and seq not in places and seq not in walk:
            walk.append(seq)
            seq = owners[seq]
        place = places.get(seq, seq)
        for seq in reversed(walk):
            place += 1
            places[seq] = place
    return places


def _inverted(places: dict[int, int]) -> set[int]:
    """The displaced entries that stand in another order than their links put them: swapped ones. (An
    entry renumbered with those after it keeps its order, and is only edited.)"""
    moved = sorted((seq, place) for seq, place in places.items() if place != seq)
    inverted: set[int] = set()
    for index, (seq, place) in enumerate(moved):
        for later_seq, later_place in moved[index + 1:]:
            if later_place < place:
                inverted.update((seq, later_seq))
    return inverted


def judge_head(head_entries: int | None, head_hash: str, entries: int, last_seq: int | None, last_hash: str | None,
               head_owner: int | None, places: dict[int, int]) -> list[AuditProblem]:
    """What the head (None entries: no head row) says against the stored chain's extent; `places` are
    `judge`'s places of the displaced entries."""
    last = last_seq or 0
    if head_entries is None:
        return [AuditProblem(None, f"missing (the chain holds {entries} entries)")] if entries else []
    if head_entries == last and head_hash == (last_hash or GENESIS_HASH):
        return []
    if head_owner is not None or (head_hash == GENESIS_HASH and head_entries == 0):
        owner = head_owner or 0
        if places.get(owner, owner) == head_entries:
            if entries <= head_entries or owner != head_entries:
                return []  # the seqs beyond the head are edited ones, named with their entries
            return [AuditProblem(owner + 1, f"inserted ({_missing(owner + 1, last)} beyond the head, which ends at "
                                            f"seq {owner})")]
        return [AuditProblem(None, f"edited (it counts {head_entries} entries, but its hash is seq {owner}'s)")]
    if head_entries > last:
        return [AuditProblem(last + 1, f"removed ({_missing(last + 1, head_entries)} missing after seq {last}, the "
                                       f"last; the head counts {head_entries} entries)")]
    return [AuditProblem(None, f"edited (its hash is no entry's; it counts {head_entries} entries)")]
