"""The DuckDB store against a real file: round trips, upserts, reasons, windows, atomicity,
migrations and the one-process lock (checked with a real second process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from oee_tui.model import CountBucket, DeadLetter, MachineState, Quality, StateInterval
from oee_tui.store import Store, StoreLockedError, StoreVersionError
from oee_tui.store.lock import LOCK_FILENAME
from oee_tui.store.migrations import LATEST_VERSION, MIGRATIONS

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z; every time below is T0 plus a binary fraction, exact in float
RUN = MachineState.RUNNING
DOWN = MachineState.DOWN


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path)
    yield s
    s.close()


def rows(store: Store, sql: str) -> list[tuple[object, ...]]:
    cur = store.cursor()
    try:
        return cur.execute(sql).fetchall()
    finally:
        cur.close()


def table_counts(store: Store) -> dict[str, int]:
    tables = ("samples", "state_intervals", "count_minutes", "stop_reasons", "dead_letters")
    return {t: rows(store, f"SELECT count(*) FROM {t}")[0][0] for t in tables}  # type: ignore[misc]


def run_python(code: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout)


# ---------------------------------------------------------------- round trips

def test_samples_round_trip_newest_first(store: Store) -> None:
    written = store.write_samples(
        ts=[T0, T0 + 0.25, T0 + 0.5],
        source=["plc", "plc", "mqtt"],
        tag=["hr:0", "hr:2", "line/product"],
        value_num=[12.5, None, None],
        value_text=[None, None, "P-100"],
        quality=[Quality.GOOD, "bad", "good"],
    )
    assert written == 3
    assert store.latest_samples() == [
        (T0 + 0.5, "mqtt", "line/product", None, "P-100", "good"),
        (T0 + 0.25, "plc", "hr:2", None, None, "bad"),
        (T0, "plc", "hr:0", 12.5, None, "good"),
    ]
    assert store.latest_samples(limit=1) == [(T0 + 0.5, "mqtt", "line/product", None, "P-100", "good")]


def test_samples_are_plain_utc_timestamps(store: Store) -> None:
    store.write_samples([T0], ["plc"], ["hr:0"], [1.0], [None], ["good"])
    assert rows(store, "SELECT typeof(ts), strftime(ts, '%Y-%m-%d %H:%M:%S') FROM samples") == [
        ("TIMESTAMP", "2023-11-14 22:13:20")
    ]
    # Every cursor sees UTC, not only the connection that set it.
    assert rows(store, "SELECT current_setting('TimeZone')") == [("UTC",)]


def test_intervals_counts_reasons_and_dead_letters_round_trip(store: Store) -> None:
    assert store.upsert_intervals([
        StateInterval("M1", T0, T0 + 60, RUN),
        StateInterval("M1", T0 + 60, None, DOWN),
    ]) == 2
    store.write_stop_reason("M1", T0 + 60, "jam", "alice", T0 + 90.5)
    assert store.intervals(T0, T0 + 3600) == [
        StateInterval("M1", T0, T0 + 60, RUN),
        StateInterval("M1", T0 + 60, None, DOWN, "jam", "alice", T0 + 90.5),
    ]
    buckets = [CountBucket("M1", T0, "P-100", 50, 2), CountBucket("M1", T0 + 60, None, 7, 0)]
    assert store.write_counts(buckets) == 2
    assert store.counts(T0, T0 + 3600) == buckets
    letters = [DeadLetter(T0 + 1, "mqtt", "plant/m1", b"\x00\xffnot json", "JSONDecodeError: ..."),
               DeadLetter(T0 + 2, "mqtt", "plant/m2", b"", "empty")]
    assert store.write_dead_letters(letters) == 2
    assert store.dead_letters() == letters[::-1]
    assert store.dead_letters(limit=1) == [letters[1]]


def test_empty_writes_are_no_ops(store: Store) -> None:
    assert store.write_samples([], [], [], [], [], []) == 0
    assert store.upsert_intervals([]) == 0
    assert store.write_counts([]) == 0
    assert store.write_dead_letters([]) == 0
    assert store.bounds() is None
    assert store.intervals(0, 2e9) == [] and store.counts(0, 2e9) == [] and store.count_totals(0, 2e9) == {}


def test_data_survives_close_and_reopen(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    store.write_samples([T0], ["plc"], ["hr:0"], [3.0], [None], ["good"])
    store.upsert_intervals([StateInterval("M1", T0, None, RUN)])
    store.write_counts([CountBucket("M1", T0, None, 5, 1)])
    store.write_stop_reason("M1", T0, "setup", "bob", T0 + 1)
    store.write_dead_letters([DeadLetter(T0, "mqtt", "t", b"\x01", "bad")])
    store.close()
    store.close()  # idempotent

    again = Store.open(tmp_path)
    try:
        assert again.latest_samples() == [(T0, "plc", "hr:0", 3.0, None, "good")]
        assert again.intervals(T0, T0 + 1) == [StateInterval("M1", T0, None, RUN, "setup", "bob", T0 + 1)]
        assert again.count_totals(T0, T0 + 60) == {("M1", None): (5, 1)}
        assert again.dead_letters() == [DeadLetter(T0, "mqtt", "t", b"\x01", "bad")]
        assert again.bounds() == (T0, T0)
    finally:
        again.close()


def test_use_after_close_raises(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.intervals(0, 1)


# ---------------------------------------------------------------- intervals

def test_upsert_replaces_the_open_interval_when_it_closes(store: Store) -> None:
    store.upsert_intervals([StateInterval("M1", T0, None, DOWN)])
    assert store.intervals(T0, T0 + 1) == [StateInterval("M1", T0, None, DOWN)]
    store.upsert_intervals([StateInterval("M1", T0, T0 + 30, DOWN), StateInterval("M1", T0 + 30, None, RUN)])
    assert store.intervals(T0, T0 + 60) == [
        StateInterval("M1", T0, T0 + 30, DOWN), StateInterval("M1", T0 + 30, None, RUN),
    ]
    assert rows(store, "SELECT count(*) FROM state_intervals") == [(2,)]


def test_upsert_batch_with_the_same_key_twice_keeps_the_last(store: Store) -> None:
    # DuckDB itself would keep the first; the engine sends the open version before the closed one.
    store.upsert_intervals([StateInterval("M1", T0, None, DOWN), StateInterval("M1", T0, T0 + 5, DOWN)])
    assert store.intervals(T0, T0 + 60) == [StateInterval("M1", T0, T0 + 5, DOWN)]


def test_upsert_does_not_store_reasons(store: Store) -> None:
    store.upsert_intervals([StateInterval("M1", T0, None, DOWN, "jam", "alice", T0)])
    assert store.intervals(T0, T0 + 1) == [StateInterval("M1", T0, None, DOWN)]


def test_intervals_overlapping_the_window(store: Store) -> None:
    start, end = T0 + 100, T0 + 200
    store.upsert_intervals([
        StateInterval("M2", T0, T0 + 100, RUN),             # ends exactly at the window start: out
        StateInterval("M2", T0 + 100, T0 + 150, DOWN),      # inside
        StateInterval("M2", T0 + 150, None, RUN),           # open: in
        StateInterval("M1", T0 + 50, T0 + 120, RUN),        # starts before the window: in, unclipped
        StateInterval("M1", T0 + 120, T0 + 300, DOWN),      # runs past the end: in, unclipped
        StateInterval("M1", T0 + 300, None, RUN),           # starts after the end: out
        StateInterval("M3", T0 + 200, T0 + 210, RUN),       # starts exactly at the end: out
        StateInterval("M3", T0, None, RUN),                 # open since before the window: in
    ])
    got = store.intervals(start, end)
    assert [(i.machine, i.start - T0, None if i.end is None else i.end - T0) for i in got] == [
        ("M1", 50, 120), ("M1", 120, 300),
        ("M2", 100, 150), ("M2", 150, None),
        ("M3", 0, None),
    ]
    assert all(isinstance(i.state, MachineState) for i in got)
    assert [i.machine for i in store.intervals(start, end, machines=["M2", "M9"])] == ["M2", "M2"]
    assert store.intervals(start, end, machines=[]) == []


def test_newest_reason_wins_and_the_history_keeps_all(store: Store) -> None:
    store.upsert_intervals([StateInterval("M1", T0, T0 + 600, DOWN), StateInterval("M2", T0, None, DOWN)])
    store.write_stop_reason("M1", T0, "jam", "alice", T0 + 10)
    store.write_stop_reason("M1", T0, "material", "bob", T0 + 30)
    store.write_stop_reason("M1", T0, "late-entry-but-older", "carol", T0 + 20)  # entered later, stamped older
    store.write_stop_reason("M2", T0, "setup", "dave", T0 + 5)
    got = {i.machine: i for i in store.intervals(T0, T0 + 60)}
    assert (got["M1"].reason, got["M1"].reason_by, got["M1"].reason_at) == ("material", "bob", T0 + 30)
    assert (got["M2"].reason, got["M2"].reason_by, got["M2"].reason_at) == ("setup", "dave", T0 + 5)
    assert rows(store, "SELECT reason, entered_by FROM stop_reasons WHERE machine = 'M1' ORDER BY rowid") == [
        ("jam", "alice"), ("material", "bob"), ("late-entry-but-older", "carol"),
    ]


def test_same_entered_at_the_later_entry_wins(store: Store) -> None:
    store.upsert_intervals([StateInterval("M1", T0, None, DOWN)])
    store.write_stop_reason("M1", T0, "jam", "alice", T0 + 10)
    store.write_stop_reason("M1", T0, "material", "bob", T0 + 10)
    assert store.intervals(T0, T0 + 1)[0].reason == "material"


def test_sub_second_starts_match_their_reason(store: Store) -> None:
    start = T0 + 0.123456  # not exact in binary: both paths must round it to the same microsecond
    store.upsert_intervals([StateInterval("M1", start, None, DOWN)])
    store.write_stop_reason("M1", start, "jam", "alice", T0 + 1)
    (interval,) = store.intervals(T0, T0 + 1)
    assert interval.reason == "jam"
    assert interval.start == pytest.approx(start, abs=1e-6)


# ---------------------------------------------------------------- counts

def test_counts_are_summed_per_machine_minute_and_product(store: Store) -> None:
    store.write_counts([
        CountBucket("M1", T0, "A", 10, 1),
        CountBucket("M1", T0, "A", 5, 0),      # same minute flushed twice
        CountBucket("M1", T0, None, 3, 3),
        CountBucket("M1", T0 + 60, "A", 7, 2),
        CountBucket("M2", T0, "B", 100, 0),
        CountBucket("M1", T0 - 60, "A", 999, 9),   # before the window
        CountBucket("M1", T0 + 120, "A", 999, 9),  # at the window end: out
    ])
    store.write_counts([CountBucket("M1", T0 + 60, "A", 1, 1)])  # a later flush of the same minute
    assert store.counts(T0, T0 + 120) == [
        CountBucket("M1", T0, None, 3, 3),
        CountBucket("M1", T0, "A", 15, 1),
        CountBucket("M1", T0 + 60, "A", 8, 3),
        CountBucket("M2", T0, "B", 100, 0),
    ]
    assert store.count_totals(T0, T0 + 120) == {("M1", None): (3, 3), ("M1", "A"): (23, 4), ("M2", "B"): (100, 0)}
    assert store.count_totals(T0, T0 + 120, machines=["M2"]) == {("M2", "B"): (100, 0)}
    assert [b.machine for b in store.counts(T0, T0 + 120, machines=["M2"])] == ["M2"]
    assert store.bounds() == (T0 - 60, T0 + 120)


def test_bounds_include_interval_ends(store: Store) -> None:
    store.upsert_intervals([StateInterval("M1", T0, T0 + 500, RUN), StateInterval("M1", T0 + 500, None, DOWN)])
    store.write_counts([CountBucket("M1", T0 + 60, None, 1, 0)])
    assert store.bounds() == (T0, T0 + 500)


# ---------------------------------------------------------------- atomicity

def test_mismatched_columns_write_nothing(store: Store) -> None:
    with pytest.raises(ValueError, match="differ in length"):
        store.write_samples([T0, T0 + 1], ["plc", "plc"], ["a", "b"], [1.0], [None, None], ["good", "good"])
    assert table_counts(store)["samples"] == 0


@pytest.mark.parametrize("write", [
    pytest.param(lambda s: s.write_samples([T0, float("nan")], ["p", "p"], ["a", "b"], [1.0, 2.0], [None, None],
                                           ["good", "good"]), id="nan-timestamp"),
    pytest.param(lambda s: s.write_samples([T0, T0], ["p", 7], ["a", "b"], [1.0, 2.0], [None, None],
                                           ["good", "good"]), id="int-as-source"),
    pytest.param(lambda s: s.upsert_intervals([StateInterval("M1", T0, None, RUN),
                                               StateInterval("M1", T0 + 1, None, "exploded")]),  # type: ignore[arg-type]
                 id="unknown-state"),
    pytest.param(lambda s: s.write_counts([CountBucket("M1", T0, None, 1, 0), CountBucket("M1", T0, None, 2**70, 0)]),
                 id="count-overflow"),
    pytest.param(lambda s: s.write_dead_letters([DeadLetter(T0, "m", "t", b"", "e"),
                                                 DeadLetter(None, "m", "t", b"", "e")]),  # type: ignore[arg-type]
                 id="missing-time"),
])
def test_a_bad_batch_writes_nothing(store: Store, write: Callable[[Store], object]) -> None:
    before = table_counts(store)
    with pytest.raises((ValueError, TypeError, OverflowError)):
        write(store)
    assert table_counts(store) == before


def test_a_failure_inside_the_transaction_rolls_it_back(store: Store) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), store._transaction() as cur:
        cur.execute("INSERT INTO count_minutes VALUES ('M1', TIMESTAMP '2024-01-01', NULL, 1, 0)")
        raise Boom
    assert table_counts(store)["count_minutes"] == 0


def test_writes_from_another_thread_are_seen(store: Store) -> None:
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for k in range(20):
                store.write_counts([CountBucket("M1", T0 + 60 * k, None, 1, 0)])
        except BaseException as exc:  # reported below; a thread cannot fail the test by itself
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    while thread.is_alive():
        store.count_totals(T0, T0 + 3600)
    thread.join()
    assert errors == []
    assert store.count_totals(T0, T0 + 3600) == {("M1", None): (20, 0)}


# ---------------------------------------------------------------- migrations

def test_migrations_record_every_version_and_reopening_is_idempotent(tmp_path: Path) -> None:
    for _ in range(3):
        store = Store.open(tmp_path)
        assert store.schema_version == LATEST_VERSION == len(MIGRATIONS)
        assert [r[0] for r in rows(store, "SELECT version FROM schema_version ORDER BY version")] == \
            list(range(1, LATEST_VERSION + 1))
        store.close()


def test_a_store_from_version_1_is_migrated_and_keeps_its_data(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / Store.DB_FILENAME))
    con.execute(MIGRATIONS[0])
    con.execute("INSERT INTO schema_version VALUES (1, TIMESTAMP '2026-01-01')")
    con.execute("INSERT INTO count_minutes VALUES ('M1', TIMESTAMP '2026-01-01 06:00', NULL, 7, 1)")
    con.close()
    with Store.open(tmp_path) as store:
        assert store.schema_version == LATEST_VERSION
        assert rows(store, "SELECT machine, total, reject FROM count_minutes") == [("M1", 7, 1)]
        assert rows(store, "SELECT count(*) FROM orders") == [(0,)]


def test_a_store_from_version_3_gets_the_edge_session_table_and_keeps_its_edge_buffer(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / Store.DB_FILENAME))
    for version, script in enumerate(MIGRATIONS[:3], start=1):
        con.execute(script)
        con.execute("INSERT INTO schema_version VALUES (?, TIMESTAMP '2026-01-01')", [version])
    con.execute("INSERT INTO edge_buffer VALUES (1, TIMESTAMP '2026-01-01 06:00', 'M1', 'total_count', 7, NULL, "
                "'good')")
    con.close()
    with Store.open(tmp_path) as store:
        assert store.schema_version == LATEST_VERSION
        assert rows(store, "SELECT id, device, metric, value_num FROM edge_buffer") == [(1, "M1", "total_count", 7.0)]
        assert rows(store, "SELECT count(*) FROM edge_session") == [(0,)]
        cur = store.cursor()
        try:
            cur.execute("INSERT INTO edge_session VALUES ('plant', 'oee', 3)")
            with pytest.raises(duckdb.ConstraintException):  # one row per edge node
                cur.execute("INSERT INTO edge_session VALUES ('plant', 'oee', 4)")
        finally:
            cur.close()


def test_a_store_from_a_newer_version_is_refused_untouched(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    store.write_counts([CountBucket("M1", T0, None, 1, 0)])
    cur = store.cursor()
    cur.execute("INSERT INTO schema_version VALUES (99, TIMESTAMP '2030-01-01')")
    cur.execute("CREATE TABLE from_the_future(x INTEGER)")
    cur.close()
    store.close()

    with pytest.raises(StoreVersionError, match="schema version 99") as info:
        Store.open(tmp_path)
    assert (info.value.version, info.value.known) == (99, LATEST_VERSION)
    # Refused again (not "locked"): the failed open released its lock and connection.
    with pytest.raises(StoreVersionError):
        Store.open(tmp_path)
    con = duckdb.connect(str(tmp_path / Store.DB_FILENAME), read_only=True)
    try:
        assert con.execute("SELECT version FROM schema_version ORDER BY version").fetchall() == \
            [(v,) for v in range(1, LATEST_VERSION + 1)] + [(99,)]
        assert con.execute("SELECT count(*) FROM count_minutes").fetchall() == [(1,)]
    finally:
        con.close()


# ---------------------------------------------------------------- the lock

_TRY_OPEN = """
    import json
    from pathlib import Path
    from oee_tui.store import Store, StoreLockedError
    try:
        store = Store.open(Path({path!r}))
    except StoreLockedError as exc:
        print(json.dumps({{"locked": True, "pid": exc.pid, "command": exc.command, "message": str(exc)}}))
    else:
        store.write_samples([1.0], ["child"], ["t"], [1.0], [None], ["good"])
        store.close()
        print(json.dumps({{"locked": False}}))
"""


def test_a_second_process_is_refused_while_we_hold_the_store(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    lock_text = (tmp_path / LOCK_FILENAME).read_text()
    assert lock_text.splitlines()[0] == str(os.getpid())
    assert lock_text.splitlines()[1] == " ".join(sys.argv)

    done = run_python(_TRY_OPEN.format(path=str(tmp_path)))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["locked"] is True
    assert result["pid"] == os.getpid()
    assert result["command"] == " ".join(sys.argv)
    assert result["message"].startswith(f"the store in {tmp_path} is in use by process {os.getpid()} (")
    assert result["message"].endswith("; stop it first, or point --data-dir elsewhere")

    store.close()
    assert (tmp_path / LOCK_FILENAME).read_text() == ""
    done = run_python(_TRY_OPEN.format(path=str(tmp_path)))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"locked": False}

    again = Store.open(tmp_path)  # and what the other process wrote is there
    try:
        assert [r[1] for r in again.latest_samples()] == ["child"]
    finally:
        again.close()


def test_a_second_open_in_the_same_process_is_refused(store: Store, tmp_path: Path) -> None:
    with pytest.raises(StoreLockedError) as info:
        Store.open(tmp_path)
    assert info.value.pid == os.getpid()
    assert info.value.path == tmp_path


def test_a_raw_duckdb_holder_is_reported_as_locked(tmp_path: Path) -> None:
    # Someone with the database open but not our lock file (the duckdb CLI, say): DuckDB's own
    # lock error is turned into StoreLockedError with the holder's pid.
    db = tmp_path / Store.DB_FILENAME
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys; con = duckdb.connect({str(db)!r}); print('ready', flush=True); "
                               "sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreLockedError) as info:
            Store.open(tmp_path)
        assert info.value.pid == holder.pid
        assert (tmp_path / LOCK_FILENAME).read_text() == ""  # our own lock was let go
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    Store.open(tmp_path).close()


def test_locked_error_message() -> None:
    path = Path("/x")
    assert str(StoreLockedError(path, 1234, "oee engine --demo")) == (
        "the store in /x is in use by process 1234 (oee engine --demo); stop it first, or point --data-dir elsewhere"
    )
    assert str(StoreLockedError(path, 1234, None)).startswith("the store in /x is in use by process 1234;")
    assert str(StoreLockedError(path, None, None)).startswith("the store in /x is in use by another process;")
