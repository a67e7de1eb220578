"""What can go wrong with the store's file, told apart: the disk refuses writes (keep the data and
retry), a row cannot be stored (set it aside), or the file itself is damaged (tell the user what
to do).

DuckDB reports all three as its own exception classes with the operating system's words inside;
the functions here sort them, and the errors say in one line what the user sees and does.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Final

import duckdb

# DuckDB wraps a row it cannot convert, fit or check in these; anything else it raises while
# writing is about the file or the process (I/O, memory, an invalidated database).
_ROW_ERRORS: Final = (duckdb.DataError, duckdb.IntegrityError, duckdb.InvalidInputException)
# What Arrow and Python raise for a value they cannot turn into a column (an int beyond int64,
# a string that is not valid Unicode, a float where a string belongs).
_VALUE_ERRORS: Final = (ValueError, TypeError, OverflowError, UnicodeError, ArithmeticError)

# DuckDB writes the commit to the WAL and only then checkpoints; when that checkpoint fails it
# raises a FatalException although the transaction is on disk.
_DURABLE_COMMIT: Final = "COMMIT succeeded and is durable"

# The operating system's words, as DuckDB quotes them, and how this program says them.
_OS_REASONS: Final = (
    (os.strerror(errno.ENOSPC), "no space left on the disk"),
    (os.strerror(errno.EROFS), "the file system is read-only"),
    (os.strerror(errno.EACCES), "permission denied"),
    (os.strerror(errno.EDQUOT), "the disk quota is exceeded"),
    (os.strerror(errno.EIO), "input/output error (a failing disk?)"),
)

RESTORE_HINT: Final = ("restore a backup (`oee store restore FILE`), or move the file aside to start "
                       "an empty store; `oee store check` lists what is wrong")


class StoreWriteError(Exception):
    """The store could not be written (a full disk, a read-only file system, an I/O error).
    Nothing of the write is kept: whoever asked may keep its data and try again."""

    def __init__(self, data_dir: Path, reason: str) -> None:
        self.data_dir = data_dir
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"the store in {self.data_dir} cannot be written: {self.reason}"


class StoreDamagedError(Exception):
    """The store's file is damaged, truncated, empty or not an oee-tui store at all."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}; {RESTORE_HINT}"


def is_row_error(exc: BaseException) -> bool:
    """True when `exc` is about the values written (one bad row may be the cause), not the file."""
    if isinstance(exc, duckdb.Error):
        return isinstance(exc, _ROW_ERRORS)
    return isinstance(exc, _VALUE_ERRORS) or _is_arrow_error(exc)


def _is_arrow_error(exc: BaseException) -> bool:
    # By name: pyarrow is imported only where Arrow is written (it costs `oee report` 0.1 s).
    return any(cls.__module__.startswith("pyarrow") and cls.__name__ == "ArrowException"
               for cls in type(exc).__mro__)


def committed_anyway(exc: BaseException) -> bool:
    """True when DuckDB says the commit is on disk although it raised (its checkpoint failed)."""
    return isinstance(exc, duckdb.FatalException) and _DURABLE_COMMIT in str(exc)


def invalidates(exc: BaseException) -> bool:
    """True when DuckDB refuses any further use of this database until it is opened again."""
    return isinstance(exc, duckdb.FatalException)


def is_file_error(exc: BaseException) -> bool:
    """True when `exc` is about writing the file (disk, permissions, I/O), not about the data."""
    if isinstance(exc, OSError):
        return True
    if not isinstance(exc, duckdb.Error):
        return False
    if isinstance(exc, duckdb.TransactionException):
        # A commit that could not reach the disk; a conflict between two writers is no file's fault.
        return "Conflict" not in str(exc)
    return isinstance(exc, duckdb.IOException | duckdb.FatalException | duckdb.PermissionException
                      | duckdb.OutOfMemoryException)


def reason_of(exc: BaseException) -> str:
    """The cause in a few words: the operating system's, when it gave one (a full disk), else DuckDB's first line."""
    if isinstance(exc, StoreWriteError):
        return exc.reason
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    for words, said in _OS_REASONS:
        if words in text:
            return said
    return first_line(text)


def first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "unknown error"
    return line if len(line) <= 200 else line[:199] + "…"


def damage_of(exc: BaseException) -> str | None:
    """What is wrong with the file, when `exc` says it is damaged or not a DuckDB database; else None."""
    text = str(exc)
    if "not a valid DuckDB database file" in text:
        return "not a DuckDB database (empty, overwritten, or another program's file)"
    if "Corrupt database file" in text or "checksum" in text:
        return "damaged: a block of the file fails its checksum"
    if "Could not read enough bytes" in text:
        return "truncated: the file ends before its data does"
    if "is an existing extension" in text or "SQLite" in text:
        return "another program's database (DuckDB would need an extension to read it), not an oee-tui store"
    if "database has been invalidated" in text or "Catalog" in type(exc).__name__:
        return f"unreadable: {first_line(text)}"
    if isinstance(exc, duckdb.SerializationException | duckdb.InternalException):
        return f"unreadable: {first_line(text)}"
    return None


def read_damage(exc: BaseException) -> str | None:
    """What is wrong with the file when DuckDB failed to read it (a block fails its checksum), else None."""
    return damage_of(exc) if isinstance(exc, duckdb.Error) else None
