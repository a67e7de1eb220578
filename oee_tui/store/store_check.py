"""`oee store check`: whether a store (or a backup) is whole, in one line per problem.

It opens the file read-only (a check changes nothing, not even the schema), then reads every row
of every table: DuckDB verifies each block's checksum as it reads it, so a damaged block shows up
as the table it belongs to.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from oee_tui.store.database import Database, open_failure, refuse_foreign
from oee_tui.store.failures import StoreDamagedError, StoreWriteError, first_line
from oee_tui.store.lock import StoreLockedError, acquire_lock, release_lock
from oee_tui.store.migrations import LATEST_VERSION


@dataclass(slots=True)
class CheckResult:
    path: Path
    problems: list[str] = field(default_factory=list)
    tables: dict[str, int] = field(default_factory=dict)  # table -> rows read
    version: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def check_data_dir(data_dir: Path) -> CheckResult:
    """Check the store of `data_dir`, holding its lock so that nothing writes it meanwhile."""
    path = data_dir / Database.DB_FILENAME
    if not path.exists():
        return CheckResult(path, [f"{path}: no store here yet (nothing to check)"])
    try:
        lock_fd = acquire_lock(data_dir)
    except (StoreLockedError, StoreWriteError) as exc:
        return CheckResult(path, [f"{exc} (to check it while it runs, check its newest backup: "
                                  "`oee store check --file BACKUP`)"])
    try:
        return check_file(path)
    finally:
        release_lock(lock_fd)


def check_file(path: Path) -> CheckResult:
    """Check one store file (a data dir's, or a backup). Never writes to it."""
    result = CheckResult(path)
    try:
        con = duckdb.connect(str(path), read_only=True,
                             config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    except duckdb.Error as exc:
        result.problems.append(str(open_failure(path, exc)))
        return result
    try:
        try:
            refuse_foreign(con, path)
        except StoreDamagedError as exc:
            result.problems.append(str(exc))
        tables = [name for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY table_name").fetchall()]
        if "schema_version" not in tables:
            if not result.problems:
                result.problems.append(str(StoreDamagedError(path, "not an oee-tui store (no schema_version table)")))
            return result
        result.version = _version(con, path, result.problems)
        for table in tables:
            try:
                # hash() of the whole row makes DuckDB read (and checksum) every column's blocks.
                [(rows, _digest)] = con.execute(f'SELECT count(*), bit_xor(hash(t)) FROM "{table}" AS t').fetchall()
                result.tables[table] = int(rows)
            except duckdb.Error as exc:
                result.problems.append(f"{path}: table {table} cannot be read ({first_line(str(exc))}); "
                                       "restore a backup (`oee store restore FILE`)")
    finally:
        with contextlib.suppress(duckdb.Error):
            con.close()
    return result


def _version(con: duckdb.DuckDBPyConnection, path: Path, problems: list[str]) -> int | None:
    try:
        version = int(con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()[0][0])
    except duckdb.Error as exc:
        problems.append(f"{path}: its schema version cannot be read ({first_line(str(exc))})")
        return None
    if version > LATEST_VERSION:
        problems.append(f"{path}: schema version {version} is newer than this oee-tui knows ({LATEST_VERSION}); "
                        "upgrade oee-tui")
    return version
