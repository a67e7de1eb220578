"""The DuckDB file of one data directory: lock, connection, cursors, transactions, Arrow inserts.

`Database` knows no table. Each group of tables is a class over it (fact_tables, planning_tables,
import_tables, day_summary_tables, ...), and `oee_tui.store.Store` inherits them all.

Writes are batched through Arrow tables built column by column (DuckDB's `executemany`
manages about 1,500 rows/s; an Arrow insert millions). Each write call is one transaction,
so a failing batch leaves nothing behind. Every method opens its own cursor, so each is safe
to call from any thread.

A commit the disk refuses raises StoreWriteError (nothing was written: keep the data, try
again); a file that is not a sound oee-tui store raises StoreDamagedError at open. After DuckDB
gives up on the database (a fatal error, such as a checkpoint on a full disk), the next call
opens it again, so the store works once the disk has room.

Times are POSIX float seconds (UTC) in the API and plain TIMESTAMP (UTC, microseconds) on
disk, converted by oee_tui.store.timecodec alone. The data directory is held with the lock of
oee_tui.store.lock.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Self

import duckdb

from oee_tui.store.failures import (
    StoreDamagedError,
    StoreWriteError,
    committed_anyway,
    damage_of,
    first_line,
    invalidates,
    is_file_error,
    reason_of,
)
from oee_tui.store.lock import acquire_lock, locked_by_duckdb, release_lock
from oee_tui.store.migrations import migrate

# pyarrow is imported where it is used, for writes and Arrow reads: importing it (and its
# compute module) costs a tenth of a second that `oee report`, which needs neither, would pay.
if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

# Never fetch or load an extension behind the user's back: a foreign file (SQLite, say) would make
# DuckDB try to download one at open, and hang without a network.
_CONNECT_CONFIG: Final[dict[str, str | bool | int | float | list[str]]] = {
    "autoinstall_known_extensions": False, "autoload_known_extensions": False}


# The DuckDB variable each write transaction's cursor holds its number in (getvariable in the SQL).
SEQ_VARIABLE: Final = "oee_flush_seq"
SEQ_VALUE: Final = f"getvariable('{SEQ_VARIABLE}')"
_HIGHEST_SEQ: Final = """
    SELECT greatest(coalesce((SELECT max(flush_seq) FROM samples), 0),
                    coalesce((SELECT max(flush_seq) FROM dead_letters), 0),
                    coalesce((SELECT max(seq) FROM sync_changes), 0),
                    coalesce((SELECT max(watermark) FROM sync_watermarks), 0))
"""


class Database:
    """The DuckDB file of one data directory. Use `open`; close it when done."""

    DB_FILENAME: Final = "oee.duckdb"

    def __init__(self, data_dir: Path, con: duckdb.DuckDBPyConnection, lock_fd: int, version: int) -> None:
        self.data_dir = data_dir
        self._con: duckdb.DuckDBPyConnection | None = con
        self._lock_fd = lock_fd
        self._version = version
        # Guards the parent connection: cursor() and close() may come from different threads.
        self._guard = threading.Lock()
        # Held by every transaction, and by a backup from its checkpoint to the end of its copy, so
        # that no commit changes the file while it is copied.
        self.write_gate = threading.RLock()
        self._invalid: BaseException | None = None  # DuckDB's fatal error, until the database is opened again
        self._seq: int | None = None  # the last write transaction's number (_next_seq), read at first use

    # ------------------------------------------------------------ lifecycle

    @property
    def path(self) -> Path:
        return self.data_dir / self.DB_FILENAME

    @classmethod
    def open(cls, data_dir: Path) -> Self:
        """Open (and create or migrate) the store of `data_dir`. Raises StoreLockedError when another
        process has it, StoreDamagedError when the file is not a sound oee-tui store, StoreWriteError
        when it cannot be created or migrated (a full disk), StoreVersionError for a newer schema."""
        data_dir = Path(data_dir)
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreWriteError(data_dir, reason_of(exc)) from exc
        lock_fd = acquire_lock(data_dir)
        con: duckdb.DuckDBPyConnection | None = None
        path = data_dir / cls.DB_FILENAME
        try:
            con = _connect(path, data_dir)
            refuse_foreign(con, path)
            try:
                version = migrate(con, data_dir)
            except duckdb.Error as exc:
                raise open_failure(path, exc) from exc
            return cls(data_dir, con, lock_fd, version)
        except BaseException:
            if con is not None:
                with contextlib.suppress(duckdb.Error):
                    con.close()
            release_lock(lock_fd)
            raise

    def close(self) -> None:
        with self._guard:
            con, self._con = self._con, None
            fd, self._lock_fd = self._lock_fd, -1
            invalid = self._invalid
        if con is not None:
            try:
                # Fold the WAL into the file so the next open does not replay it.
                if invalid is None:
                    con.execute("CHECKPOINT")
            except duckdb.Error as exc:
                # Nothing is lost: what was committed is in the WAL, replayed on the next open.
                log.warning("store %s: checkpoint on close failed (%s); the WAL will be replayed on the next open",
                            self.data_dir, reason_of(exc))
            finally:
                with contextlib.suppress(duckdb.Error):
                    con.close()
        if fd >= 0:
            release_lock(fd)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return self._version

    @property
    def closed(self) -> bool:
        return self._con is None

    # ------------------------------------------------------------ cursors and transactions

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new connection to the same database for the calling thread; close it when done.

        For the store's own table modules, and for tests that check what was written.
        """
        with self._guard:
            if self._con is None:
                raise RuntimeError(f"the store in {self.data_dir} is closed")
            if self._invalid is not None:
                self._reopen()
            return self._con.cursor()

    def _reopen(self) -> None:
        """DuckDB refuses every call after a fatal error until the database is opened again: do that,
        keeping our lock. Called under the guard."""
        assert self._con is not None
        with contextlib.suppress(duckdb.Error):
            self._con.close()
        try:
            self._con = _connect(self.path, self.data_dir)
        except (duckdb.Error, StoreDamagedError, StoreWriteError) as exc:
            # Still unusable (the disk is still full): the closed connection keeps its place, and
            # the next call tries again.
            raise StoreWriteError(self.data_dir, f"it cannot be opened again after {self._invalid_reason()}: "
                                                 f"{reason_of(exc)}") from exc
        log.warning("store %s opened again after %s", self.data_dir, self._invalid_reason())
        self._invalid = None

    def _invalid_reason(self) -> str:
        return "a fatal error" if self._invalid is None else f"a fatal error ({reason_of(self._invalid)})"

    def _note_failure(self, exc: BaseException) -> None:
        if invalidates(exc):
            with self._guard:
                if self._invalid is None:
                    log.warning("store %s: DuckDB gave up on the database (%s); it is opened again at the next write",
                                self.data_dir, first_line(str(exc)))
                self._invalid = exc

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        # A fresh cursor per call keeps every method safe to call from any thread.
        cur = self.cursor()
        try:
            yield cur
        except duckdb.Error as exc:
            self._note_failure(exc)
            raise
        finally:
            with contextlib.suppress(duckdb.Error):
                cur.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction; a commit the disk refuses raises StoreWriteError, with nothing written."""
        with self.write_gate, self._cursor() as cur:
            cur.begin()
            try:
                # The transaction's number (see `_next_seq`), for the statements that record it.
                cur.execute(f"SET VARIABLE {SEQ_VARIABLE} = {self._next_seq(cur)}")
                yield cur
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    cur.rollback()
                raise
            self._commit(cur)

    def _next_seq(self, cur: duckdb.DuckDBPyConnection) -> int:
        """A number one above any an earlier write transaction had: called under the write gate, so the
        numbers of committed transactions rise in commit order, and a reader's snapshot holds every number
        up to its highest (the central sync's watermarks rely on it). Found again after an open from what
        the file holds; a failed transaction only leaves a gap."""
        self._seq = self.last_seq(cur) + 1
        return self._seq

    def last_seq(self, cur: duckdb.DuckDBPyConnection) -> int:
        """The number of the last write transaction; call under the write gate."""
        if self._seq is None:
            self._seq = int(cur.execute(_HIGHEST_SEQ).fetchall()[0][0])
        return self._seq

    def raise_seq_above(self, floor: int) -> None:
        """Number the next write transactions above `floor` (a store restored from a backup older than what
        the centre has: its new rows must not fall under the centre's watermark)."""
        with self.write_gate, self._cursor() as cur:
            self._seq = max(self.last_seq(cur), floor)

    def _commit(self, cur: duckdb.DuckDBPyConnection) -> None:
        try:
            cur.commit()
        except duckdb.Error as exc:
            self._note_failure(exc)
            if committed_anyway(exc):
                return  # on disk; the database is opened again at the next call
            if is_file_error(exc):
                raise StoreWriteError(self.data_dir, reason_of(exc)) from exc
            raise

    def _arrow(self, sql: str, params: list[Any]) -> pa.Table:
        # con.sql(...).to_arrow_table() rather than execute(): in duckdb 2.0 Arrow output from an
        # execute() result makes an extra copy of every row (and warns).
        with self._cursor() as cur:
            return cur.sql(sql, params=params).to_arrow_table()

    def _insert(self, table: pa.Table, sql: str) -> int:
        """Run `sql`, which reads the Arrow table as `_batch`, in one transaction; returns the rows given."""
        if table.num_rows == 0:
            return 0
        with self._transaction() as cur:
            run_on_batch(cur, table, sql)
        return int(table.num_rows)


def run_on_batch(cur: duckdb.DuckDBPyConnection, table: pa.Table, sql: str) -> None:
    """Run `sql` on `cur` with the Arrow table registered as `_batch` while it runs."""
    cur.register("_batch", table)
    try:
        cur.execute(sql)
    finally:
        cur.unregister("_batch")


def _connect(path: Path, data_dir: Path) -> duckdb.DuckDBPyConnection:
    try:
        con = duckdb.connect(str(path), config=_CONNECT_CONFIG)
    except duckdb.IOException as exc:
        if "Could not set lock" in str(exc):
            raise locked_by_duckdb(data_dir, exc) from exc
        raise open_failure(path, exc) from exc
    except duckdb.Error as exc:
        raise open_failure(path, exc) from exc
    try:
        # GLOBAL, not plain SET: in duckdb 2.0 a plain SET is per connection and cursors
        # start from the process default (the host's zone) instead of inheriting it.
        con.execute("SET GLOBAL TimeZone = 'UTC'")
        con.execute("SET TimeZone = 'UTC'")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.close()
        raise
    return con


def refuse_foreign(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """A DuckDB file with tables but no schema_version was made by another program: never add ours to it."""
    tables = [name for (name,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY table_name").fetchall()]
    if tables and "schema_version" not in tables:
        shown = ", ".join(tables[:5]) + (", …" if len(tables) > 5 else "")
        raise StoreDamagedError(path, f"a DuckDB database of another program (tables {shown}), not an oee-tui store")


def open_failure(path: Path, exc: BaseException) -> StoreDamagedError | StoreWriteError:
    """What a failure to open or migrate the store means for the user: a damaged file, or a disk that refuses writes."""
    if isinstance(exc, StoreDamagedError | StoreWriteError):
        return exc
    damage = damage_of(exc)
    if damage is not None:
        with contextlib.suppress(OSError):
            if path.stat().st_size == 0:
                damage = "empty (0 bytes): not a DuckDB database"
        return StoreDamagedError(path, damage)
    if is_file_error(exc):
        return StoreWriteError(path.parent, reason_of(exc))
    return StoreDamagedError(path, f"cannot be opened: {first_line(str(exc))}")
