"""Backups of the store: a consistent copy taken while the store is in use, and its restore.

A backup is DuckDB's own `COPY FROM DATABASE` into a new file, not a copy of the file's bytes:
it reads one transaction's snapshot, so writers (the engine's flush, an import, the edge spool)
go on while it runs and none of them can leave a half-written block in the copy; and the copy is
compact. It is written under a temporary name, synced, and only then renamed to its final name,
so a file named `oee-*.duckdb` in the backup directory is always a whole backup. The newest
`keep` are kept.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from pathlib import Path
from typing import Final

import duckdb

from oee_tui.store.database import Database, open_failure
from oee_tui.store.failures import StoreDamagedError, StoreWriteError, is_file_error, reason_of
from oee_tui.store.lock import acquire_lock, release_lock

BACKUP_PREFIX: Final = "oee-"
BACKUP_SUFFIX: Final = ".duckdb"
_BACKUP_NAME: Final = re.compile(r"^oee-\d{8}T\d{6}Z(-\d+)?\.duckdb$")
_ALIAS: Final = "oee_backup"


class StoreBackups(Database):
    def backup(self, backup_dir: Path, keep: int, now: float | None = None) -> Path:
        """Copy the store to a new file in `backup_dir` and delete all but the newest `keep` backups
        there. Returns the new file. Raises StoreWriteError (with nothing left behind) when the copy
        cannot be written."""
        backup_dir = Path(backup_dir)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
        final = _free_name(backup_dir, stamp)
        partial = final.with_name(f".{final.name}.partial")
        try:
            backup_dir.mkdir(parents=True, exist_ok=True)
            partial.unlink(missing_ok=True)
            with self._cursor() as cur:
                [(name,)] = cur.execute("SELECT current_database()").fetchall()
                cur.execute(f"ATTACH '{_quoted(partial)}' AS {_ALIAS}")
                try:
                    cur.execute(f'COPY FROM DATABASE "{name}" TO {_ALIAS}')
                finally:
                    cur.execute(f"DETACH {_ALIAS}")
            _sync(partial)
            partial.replace(final)
            _sync(backup_dir)
        except (OSError, duckdb.Error) as exc:
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)
            if isinstance(exc, OSError) or is_file_error(exc):
                raise StoreWriteError(backup_dir, f"the backup could not be written: {reason_of(exc)}") from exc
            raise
        for old in backups_in(backup_dir)[:-keep]:
            with contextlib.suppress(OSError):
                old.unlink()
        return final


def backups_in(backup_dir: Path) -> list[Path]:
    """The whole backups in `backup_dir`, oldest first (their names sort by time)."""
    if not backup_dir.is_dir():
        return []
    return sorted(path for path in backup_dir.iterdir() if _BACKUP_NAME.match(path.name))


def restore(backup: Path, data_dir: Path) -> Path | None:
    """Put `backup` in place of the store of `data_dir` (no process may have it open). The store it
    replaces, if any, is kept beside it as `oee.duckdb.replaced-<time>` (with its WAL); returns that
    path. Raises StoreDamagedError when `backup` is not a sound store, before anything is changed."""
    check_backup(backup)
    data_dir.mkdir(parents=True, exist_ok=True)
    lock_fd = acquire_lock(data_dir)
    try:
        target = data_dir / Database.DB_FILENAME
        kept: Path | None = None
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        partial = data_dir / f".{Database.DB_FILENAME}.restoring"
        try:
            shutil.copyfile(backup, partial)
            _sync(partial)
            if target.exists():
                kept = target.with_name(f"{target.name}.replaced-{stamp}")
                target.replace(kept)
            wal = target.with_name(target.name + ".wal")
            if wal.exists():
                wal.replace(wal.with_name(f"{target.name}.replaced-{stamp}.wal"))
            partial.replace(target)
            _sync(data_dir)
        except OSError as exc:
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)
            raise StoreWriteError(data_dir, f"the backup could not be restored: {reason_of(exc)}") from exc
        return kept
    finally:
        release_lock(lock_fd)


def check_backup(backup: Path) -> None:
    """Raise StoreDamagedError unless `backup` opens as an oee-tui store."""
    if not backup.is_file():
        raise StoreDamagedError(backup, "no such file")
    try:
        con = duckdb.connect(str(backup), read_only=True,
                             config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    except duckdb.Error as exc:
        raise open_failure(backup, exc) from exc
    try:
        tables = {name for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()}
        if "schema_version" not in tables:
            raise StoreDamagedError(backup, "not an oee-tui store (it has no schema_version table)")
    finally:
        con.close()


def _free_name(backup_dir: Path, stamp: str) -> Path:
    path = backup_dir / f"{BACKUP_PREFIX}{stamp}{BACKUP_SUFFIX}"
    n = 1
    while path.exists():  # two backups in one second keep both
        path = backup_dir / f"{BACKUP_PREFIX}{stamp}-{n}{BACKUP_SUFFIX}"
        n += 1
    return path


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def _sync(path: Path) -> None:
    """fsync a file (its bytes) or a directory (a rename in it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
