"""The DuckDB file of one data directory: lock, connection, cursors, transactions, Arrow inserts.

`Database` knows no table. Each group of tables is a class over it (fact_tables, planning_tables,
import_tables, day_summary_tables, ...), and `oee_tui.store.Store` inherits them all.

Writes are batched through Arrow tables built column by column (DuckDB's `executemany`
manages about 1,500 rows/s; an Arrow insert millions). Each write call is one transaction,
so a failing batch leaves nothing behind. Every method opens its own cursor, so each is safe
to call from any thread.

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

from oee_tui.store.lock import acquire_lock, locked_by_duckdb, release_lock
from oee_tui.store.migrations import migrate

# pyarrow is imported where it is used, for writes and Arrow reads: importing it (and its
# compute module) costs a tenth of a second that `oee report`, which needs neither, would pay.
if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)


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

    # ------------------------------------------------------------ lifecycle

    @classmethod
    def open(cls, data_dir: Path) -> Self:
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        lock_fd = acquire_lock(data_dir)
        con: duckdb.DuckDBPyConnection | None = None
        try:
            try:
                con = duckdb.connect(str(data_dir / cls.DB_FILENAME))
            except duckdb.IOException as exc:
                if "Could not set lock" in str(exc):
                    raise locked_by_duckdb(data_dir, exc) from exc
                raise
            # GLOBAL, not plain SET: in duckdb 2.0 a plain SET is per connection and cursors
            # start from the process default (the host's zone) instead of inheriting it.
            con.execute("SET GLOBAL TimeZone = 'UTC'")
            con.execute("SET TimeZone = 'UTC'")
            version = migrate(con, data_dir)
            return cls(data_dir, con, lock_fd, version)
        except BaseException:
            if con is not None:
                con.close()
            release_lock(lock_fd)
            raise

    def close(self) -> None:
        with self._guard:
            con, self._con = self._con, None
            fd, self._lock_fd = self._lock_fd, -1
        if con is not None:
            try:
                # Fold the WAL into the file so the next open does not replay it.
                con.execute("CHECKPOINT")
            except duckdb.Error:
                log.warning("checkpoint on close failed; the WAL will be replayed on the next open", exc_info=True)
            finally:
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
            return self._con.cursor()

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        # A fresh cursor per call keeps every method safe to call from any thread.
        cur = self.cursor()
        try:
            yield cur
        finally:
            cur.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._cursor() as cur:
            cur.begin()
            try:
                yield cur
            except BaseException:
                cur.rollback()
                raise
            cur.commit()

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
