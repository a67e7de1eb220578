"""The change log the central sync follows for the tables whose rows change after they are written.

Samples and dead letters are only ever appended: their flush_seq column is their watermark. The others are
rewritten (the open state interval when it closes), added to (a minute's count parts, a stop's reason
given later), replaced (planning imports) or deleted (a hand-kept production log rebuilds a span). Each
write to them records here, in its own transaction, what it touched: per table and machine the range of
the table's time column, or, for a planning table, the whole table (machine NULL). The sync then sends
the current rows of each range, which the centre puts in place of its own: correct for every kind of
change, and cheap (a GROUP BY over the batch just written, one row per machine).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

import duckdb

from oee_tui.store.database import SEQ_VALUE

# Each followed fact table's time column: a change is the range of it a write touched.
TIME_COLUMNS: Final[dict[str, str]] = {"state_intervals": "start_ts", "count_minutes": "minute",
                                       "stop_reasons": "stop_start"}
PLANNING_TABLES: Final = ("products", "orders", "planned_stops", "reasons", "shift_patterns")


def log_batch_changes(cur: duckdb.DuckDBPyConnection, table: str) -> None:
    """Log what the batch registered as `_batch` (its columns named as the table's) changed in `table`;
    nothing for a table the log does not follow."""
    column = TIME_COLUMNS.get(table)
    if column is None:
        return
    cur.execute(f"INSERT INTO sync_changes SELECT {SEQ_VALUE}, '{table}', machine, min({column}), max({column}) "
                "FROM _batch WHERE machine IS NOT NULL AND {column} IS NOT NULL GROUP BY machine".replace(
                    "{column}", column))


def log_change(cur: duckdb.DuckDBPyConnection, table: str, machine: str, lo: datetime, hi: datetime) -> None:
    cur.execute(f"INSERT INTO sync_changes VALUES ({SEQ_VALUE}, ?, ?, ?, ?)", [table, machine, lo, hi])


def log_ranges(cur: duckdb.DuckDBPyConnection, table: str, ranges_sql: str) -> None:
    """Log the ranges a query gives as (machine, lo, hi) rows as changes of `table`."""
    cur.execute(f"INSERT INTO sync_changes SELECT {SEQ_VALUE}, '{table}', machine, lo, hi FROM ({ranges_sql}) "
                "WHERE machine IS NOT NULL AND lo IS NOT NULL")


def log_tables_replaced(cur: duckdb.DuckDBPyConnection, tables: Iterable[str]) -> None:
    for table in tables:
        cur.execute(f"INSERT INTO sync_changes VALUES ({SEQ_VALUE}, ?, NULL, NULL, NULL)", [table])
