"""The audit trail in a real store: appending, listing, and every way of altering the chain, each detected and named.

Tampering is done as someone with the file would do it: plain SQL on the store's tables.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from oee_tui.model.audit import GENESIS_HASH, AuditEntry
from oee_tui.store import Store

T0 = 1_780_000_000.0  # 2026-05-28
ENTRIES = 10


def _documented_hash(entry: AuditEntry, ts_us: int) -> str:
    """The hash as audit_chain's docstring describes it, written again here as another tool would."""

    def field(text: str | None) -> str:
        return "~" if text is None else f"{len(text.encode('utf-8'))}:{text},"

    text = (entry.prev_hash + f"{entry.seq}|{ts_us}|" + field(entry.user) + field(entry.origin) + field(entry.kind)
            + field(entry.subject) + field(entry.before) + field(entry.after))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path) as opened:
        for number in range(1, ENTRIES + 1):
            opened.append_audit(user="Zoë (line3)" if number % 2 else "maint", origin=f"ssh 10.0.0.{number}",
                                kind="stop_reason" if number % 3 else "import", subject=f"M{number}@2026-05-28T06:00",
                                before=None if number == 1 else {"reason": f"R{number - 1}"},
                                after={"reason": f"R{number}", "note": "ü:,~|"}, ts=T0 + number)
        yield opened


def _sql(store: Store, sql: str, params: list[object] | None = None) -> None:
    cur = store.cursor()
    try:
        cur.execute(sql, params or [])
    finally:
        cur.close()


def _problems(store: Store) -> list[str]:
    verdict = store.verify_audit()
    assert verdict.ok == (not verdict.problems)
    return [str(problem) for problem in verdict.problems]


# ---------------------------------------------------------------- appending and listing


def test_appended_entries_chain_from_64_zeros_and_hash_as_documented(store: Store) -> None:
    entries = sorted(store.audit_entries(), key=lambda entry: entry.seq)
    assert [entry.seq for entry in entries] == list(range(1, ENTRIES + 1))
    assert entries[0].prev_hash == GENESIS_HASH == "0" * 64
    for before, entry in itertools.pairwise(entries):
        assert entry.prev_hash == before.hash
    for entry in entries:
        assert entry.hash == _documented_hash(entry, round(entry.ts * 1e6))
    assert store.audit_head() == (ENTRIES, entries[-1].hash)
    verdict = store.verify_audit()
    assert verdict.ok and verdict.checked == ENTRIES and verdict.head_hash == entries[-1].hash


def test_values_read_back_as_recorded_and_the_list_is_newest_first(store: Store) -> None:
    newest = store.audit_entries(limit=3)
    assert [entry.seq for entry in newest] == [10, 9, 8]
    first = store.audit_entries()[-1]
    assert first.ts == T0 + 1 and first.user == "Zoë (line3)" and first.origin == "ssh 10.0.0.1"
    assert first.before is None and first.before_value() is None
    assert first.after == '{"note":"ü:,~|","reason":"R1"}'  # canonical: keys sorted, no spaces, UTF-8 as is
    assert first.after_value() == {"reason": "R1", "note": "ü:,~|"}


def test_filters_by_user_kind_and_time(store: Store) -> None:
    assert {entry.seq for entry in store.audit_entries(user="maint")} == {2, 4, 6, 8, 10}
    # "person (user)": either part finds it, and so does the whole.
    assert {entry.seq for entry in store.audit_entries(user="line3")} == {1, 3, 5, 7, 9}
    assert {entry.seq for entry in store.audit_entries(user="Zoë")} == {1, 3, 5, 7, 9}
    assert {entry.seq for entry in store.audit_entries(user="Zoë (line3)")} == {1, 3, 5, 7, 9}
    assert store.audit_entries(user="line") == []
    assert {entry.seq for entry in store.audit_entries(kind="import")} == {3, 6, 9}
    assert [entry.seq for entry in store.audit_entries(start=T0 + 3, end=T0 + 6)] == [5, 4, 3]
    assert [entry.seq for entry in store.audit_entries(user="maint", kind="import", start=T0 + 1)] == [6]


def test_the_trail_survives_reopening_and_continues(tmp_path: Path, store: Store) -> None:
    store.close()
    with Store.open(tmp_path) as again:
        entry = again.append_audit(user="u", origin="local", kind="config", subject="config.toml", before=1,
                                   after=2)
        assert entry.seq == ENTRIES + 1
        assert again.verify_audit().ok


def test_a_value_that_is_not_json_is_refused_and_nothing_is_written(store: Store) -> None:
    with pytest.raises(ValueError, match="audit after: not JSON-serialisable"):
        store.append_audit(user="u", origin="local", kind="config", subject="x", before=None, after=float("nan"))
    with pytest.raises(ValueError, match="cannot be stored"):
        store.append_audit(user="u", origin="local", kind="config", subject="x", before=None, after=1,
                           ts=float("inf"))
    assert store.audit_head()[0] == ENTRIES and store.verify_audit().ok


def test_appends_from_many_threads_make_one_sound_chain(store: Store) -> None:
    def append(worker: int) -> None:
        for number in range(25):
            store.append_audit(user=f"u{worker}", origin="local", kind="acknowledge", subject=f"{worker}/{number}",
                               before=None, after=number)

    threads = [threading.Thread(target=append, args=(worker,)) for worker in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    verdict = store.verify_audit()
    assert verdict.ok and verdict.checked == ENTRIES + 150
    assert sorted(entry.seq for entry in store.audit_entries(limit=10_000)) == list(range(1, ENTRIES + 151))


def test_an_empty_trail_is_intact(tmp_path: Path) -> None:
    with Store.open(tmp_path / "new") as empty:
        verdict = empty.verify_audit()
        assert verdict.ok and verdict.checked == 0 and verdict.head_hash == GENESIS_HASH
        assert empty.audit_entries() == []


# ---------------------------------------------------------------- altered chains


@pytest.mark.parametrize(("column", "value"), [
    ("ts", "2026-05-28 00:00:00"),
    ("user_name", "someone else"),
    ("origin", "local"),
    ("kind", "config"),
    ("subject", "M9@2026-05-28T06:00"),
    ("before", '{"reason":"R3"}'),
    ("before", None),
    ("after", '{"note":"ü:,~|","reason":"R6"}'),
    ("prev_hash", "f" * 64),
])
def test_an_edited_field_is_named(store: Store, column: str, value: object) -> None:
    _sql(store, f"UPDATE audit_log SET {column} = ? WHERE seq = 5", [value])
    assert _problems(store) == ["seq 5: edited (its fields do not match its hash)"]


def test_an_entry_edited_with_its_hash_recomputed_is_named(store: Store) -> None:
    # Whoever rewrites the hash of the entry still breaks the link of the next one to it.
    entry = next(entry for entry in store.audit_entries() if entry.seq == 5)
    forged = AuditEntry(5, entry.ts, "nobody", entry.origin, entry.kind, entry.subject, entry.before, entry.after,
                        entry.prev_hash, "")
    _sql(store, "UPDATE audit_log SET user_name = 'nobody', hash = ? WHERE seq = 5",
         [_documented_hash(forged, round(entry.ts * 1e6))])
    assert _problems(store) == ["seq 6: chain broken (its previous hash is no entry's)"]


def test_an_edited_hash_is_named(store: Store) -> None:
    _sql(store, "UPDATE audit_log SET hash = ? WHERE seq = 5", ["a" * 64])
    # The next entry's broken link is the same problem, not named twice.
    assert _problems(store) == ["seq 5: edited (its fields do not match its hash)"]


def test_an_edited_seq_is_named_with_the_place_the_chain_gives_it(store: Store) -> None:
    _sql(store, "UPDATE audit_log SET seq = 50 WHERE seq = 5")
    assert _problems(store) == ["seq 50: edited (its seq: its link to the entry before it puts it at seq 5)"]


def test_the_removed_first_entry_is_named(store: Store) -> None:
    _sql(store, "DELETE FROM audit_log WHERE seq = 1")
    assert _problems(store) == ["seq 1: removed (seq 1 missing before 2)"]


def test_a_removed_middle_entry_is_named(store: Store) -> None:
    _sql(store, "DELETE FROM audit_log WHERE seq = 5")
    assert _problems(store) == ["seq 5: removed (seq 5 missing between 4 and 6)"]


def test_removed_middle_entries_are_named_together(store: Store) -> None:
    _sql(store, "DELETE FROM audit_log WHERE seq IN (4, 5, 6)")
    assert _problems(store) == ["seq 4: removed (seq 4 to 6 missing between 3 and 7)"]


def test_the_removed_last_entry_is_named(store: Store) -> None:
    # The chain that is left is sound: only the head, moved in the same transaction, shows it.
    _sql(store, "DELETE FROM audit_log WHERE seq = 10")
    assert _problems(store) == ["seq 10: removed (seq 10 missing after seq 9, the last; the head counts 10 entries)"]


def test_every_entry_removed_is_named(store: Store) -> None:
    _sql(store, "DELETE FROM audit_log")
    assert store.verify_audit().checked == 0
    assert _problems(store) == ["seq 1: removed (seq 1 to 10 missing after seq 0, the last; the head counts 10 "
                                "entries)"]


def test_two_swapped_entries_are_named_reordered(store: Store) -> None:
    _sql(store, "UPDATE audit_log SET seq = CASE seq WHEN 4 THEN 5 ELSE 4 END WHERE seq IN (4, 5)")
    assert _problems(store) == ["seq 4: reordered (its link to the entry before it puts it at seq 5)",
                                "seq 5: reordered (its link to the entry before it puts it at seq 4)"]


def test_two_distant_swapped_entries_are_named_reordered(store: Store) -> None:
    _sql(store, "UPDATE audit_log SET seq = CASE seq WHEN 3 THEN 8 ELSE 3 END WHERE seq IN (3, 8)")
    assert _problems(store) == ["seq 3: reordered (its link to the entry before it puts it at seq 8)",
                                "seq 8: reordered (its link to the entry before it puts it at seq 3)"]


def _row_values(entry: AuditEntry, **changed: object) -> list[object]:
    values: dict[str, object] = {
        "seq": entry.seq, "ts": entry.ts, "user_name": entry.user, "origin": entry.origin, "kind": entry.kind,
        "subject": entry.subject, "before": entry.before, "after": entry.after, "prev_hash": entry.prev_hash,
        "hash": entry.hash}
    values.update(changed)
    return list(values.values())


def _insert(store: Store, values: list[object]) -> None:
    _sql(store, "INSERT INTO audit_log VALUES (?, make_timestamp(CAST(? * 1e6 AS BIGINT)), ?, ?, ?, ?, ?, ?, ?, ?)",
         values)


def test_an_entry_inserted_with_a_taken_seq_is_named(store: Store) -> None:
    fifth = next(entry for entry in store.audit_entries() if entry.seq == 5)
    _insert(store, _row_values(fifth, user_name="intruder"))
    assert _problems(store) == ["seq 5: inserted (a second entry with seq 5)"]


def test_a_forged_entry_appended_behind_the_heads_back_is_named(store: Store) -> None:
    last = store.audit_entries(limit=1)[0]
    forged = AuditEntry(11, T0 + 11, "intruder", "local", "config", "x", None, None, last.hash, "")
    _insert(store, _row_values(forged, hash=_documented_hash(forged, round(forged.ts * 1e6))))
    assert _problems(store) == ["seq 11: inserted (seq 11 beyond the head, which ends at seq 10)"]


def test_a_forged_entry_inserted_in_the_middle_and_the_rest_renumbered_is_named(store: Store) -> None:
    fourth = next(entry for entry in store.audit_entries() if entry.seq == 4)
    _sql(store, "UPDATE audit_log SET seq = seq + 1 WHERE seq >= 5")
    forged = AuditEntry(5, T0 + 4.5, "intruder", "local", "config", "x", None, None, fourth.hash, "")
    _insert(store, _row_values(forged, hash=_documented_hash(forged, round(forged.ts * 1e6))))
    problems = _problems(store)
    assert problems[:2] == ["seq 5: inserted (not in the chain: seq 6's entry links past it to seq 4)",
                            "seq 6: edited (its seq: its link to the entry before it puts it at seq 5)"]
    # Every later entry's seq was edited too, and each says so; the head, still on the last entry, is not blamed.
    assert len(problems) == 7
    assert all(problem.startswith(f"seq {seq}: edited (its seq") for seq, problem in zip(range(7, 12), problems[2:],
                                                                                         strict=True))


def test_a_changed_head_hash_is_named(store: Store) -> None:
    _sql(store, "UPDATE audit_head SET hash = ?", ["b" * 64])
    assert _problems(store) == ["head: edited (its hash is no entry's; it counts 10 entries)"]


def test_a_changed_head_count_is_named(store: Store) -> None:
    _sql(store, "UPDATE audit_head SET entries = 12")
    assert _problems(store) == ["head: edited (it counts 12 entries, but its hash is seq 10's)"]


def test_a_removed_head_is_named(store: Store) -> None:
    _sql(store, "DELETE FROM audit_head")
    assert _problems(store) == ["head: missing (the chain holds 10 entries)"]


def test_the_last_entry_and_head_removed_together_are_caught_by_a_head_kept_off_the_box(store: Store) -> None:
    kept = store.audit_head()
    ninth = next(entry for entry in store.audit_entries() if entry.seq == 9)
    _sql(store, "DELETE FROM audit_log WHERE seq = 10")
    _sql(store, "UPDATE audit_head SET entries = 9, hash = ?", [ninth.hash])
    assert store.verify_audit().ok  # the file alone cannot show it
    verdict = store.verify_audit(expect=kept)
    assert [str(problem) for problem in verdict.problems] == [
        f"seq 10: chain broken (the head kept off the box, seq 10 with hash {kept[1]}, is not in it: seq 10 is "
        "missing)"]


def test_appends_after_tampering_continue_from_the_head_and_the_problem_stays_named(store: Store) -> None:
    _sql(store, "DELETE FROM audit_log WHERE seq = 10")
    entry = store.append_audit(user="u", origin="local", kind="config", subject="x", before=None, after=None)
    assert entry.seq == 11
    assert _problems(store) == ["seq 10: removed (seq 10 missing between 9 and 11)"]


def test_the_problem_list_is_bounded_and_the_rest_counted(tmp_path: Path) -> None:
    from oee_tui.model.audit import AuditChange
    from oee_tui.store.audit_chain import LISTED_PROBLEMS

    with Store.open(tmp_path / "many") as many:
        many.append_audits([AuditChange("u", "local", "config", str(number), None, number, T0 + number)
                            for number in range(LISTED_PROBLEMS + 50)])
        _sql(many, "UPDATE audit_log SET user_name = 'x'")
        verdict = many.verify_audit()
        assert len(verdict.problems) == LISTED_PROBLEMS and verdict.more_problems == 50
        assert verdict.first_bad is not None and str(verdict.first_bad) == ("seq 1: edited (its fields do not "
                                                                            "match its hash)")


def test_a_long_renumbered_chain_is_judged_without_recursion(tmp_path: Path) -> None:
    # Every entry after the forged one is renumbered: each one's place depends on the one before it.
    from oee_tui.model.audit import AuditChange

    with Store.open(tmp_path / "long") as long:
        long.append_audits([AuditChange("u", "local", "config", str(number), None, number, T0 + number)
                            for number in range(2500)])
        tenth = next(entry for entry in long.audit_entries(limit=3000) if entry.seq == 10)
        _sql(long, "UPDATE audit_log SET seq = seq + 1 WHERE seq >= 11")
        forged = AuditEntry(11, T0 + 10.5, "intruder", "local", "config", "x", None, None, tenth.hash, "")
        _insert(long, _row_values(forged, hash=_documented_hash(forged, round(forged.ts * 1e6))))
        verdict = long.verify_audit()
        assert [str(problem) for problem in verdict.problems[:3]] == [
            "seq 11: inserted (not in the chain: seq 12's entry links past it to seq 10)",
            "seq 12: edited (its seq: its link to the entry before it puts it at seq 11)",
            "seq 13: edited (its seq: its link to the entry before it puts it at seq 12)"]
        assert verdict.more_problems == 2501 - 11 - 1000
