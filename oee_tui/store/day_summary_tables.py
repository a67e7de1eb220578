"""The day_summaries table: each machine's report over each closed plant-local day, summed for long reviews.

A cache of what the facts say (oee_tui.engine.analysis.day_summaries makes the rows). The
ledger (summary_ledger) keeps it true to them: every write of facts goes through
`_write_facts` or `_writing_facts`, which delete the summaries the write makes stale in the
write's own transaction.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import duckdb

from oee_tui.store.database import Database, run_on_batch
from oee_tui.store.summary_ledger import Stale, SummaryLedger
from oee_tui.store.timecodec import to_datetime, ts_array

if TYPE_CHECKING:
    import pyarrow as pa

Edge = tuple[float, str, str | None, bool]  # a cut stop: its start, loss, reason, whether it cost time here


@dataclass(frozen=True, slots=True)
class SavedDay:
    """One machine's summary of one day as the store keeps it (oee_tui.engine.analysis.day_summaries makes them)."""

    machine: str
    day_start: float
    day_end: float
    fingerprint: str
    figures: tuple[float, ...]
    losses: tuple[tuple[str | None, float, int], ...]  # reason, seconds, stops
    head: Edge | None
    tail: Edge | None


@dataclass(slots=True)
class DaySums:
    """Saved days summed per machine: how many, their figures, their stop losses per reason, and the cut
    stops that cost time (day start, head, tail) in day order."""

    days: dict[str, int] = field(default_factory=dict)
    figures: dict[str, list[float]] = field(default_factory=dict)
    losses: dict[str, dict[str | None, tuple[float, int]]] = field(default_factory=dict)
    edges: dict[str, list[tuple[float, Edge | None, Edge | None]]] = field(default_factory=dict)


_SAVED_DAYS: Final = """
    WITH wanted AS (SELECT unnest(?::VARCHAR[]) AS machine, unnest(?::VARCHAR[]) AS fingerprint)
    SELECT d.* FROM day_summaries d JOIN wanted w ON w.machine = d.machine AND w.fingerprint = d.fingerprint
    WHERE d.day_start >= ? AND d.day_end <= ?"""


class DaySummaryTables(Database):
    def __init__(self, data_dir: Path, con: duckdb.DuckDBPyConnection, lock_fd: int, version: int) -> None:
        super().__init__(data_dir, con, lock_fd, version)
        self._summaries = SummaryLedger(ends=_summary_ends(con))

    # ------------------------------------------------------------ writes of facts (the summaries' data)

    def _write_facts(self, table: pa.Table, sql: str, stale: Mapping[str, float]) -> int:
        """`_insert` for rows summaries are made of: `stale` (machine -> earliest time written) names
        the saved days the rows make stale, deleted in the same transaction."""
        if table.num_rows == 0:
            return 0
        with self._writing_facts(stale) as cur:
            run_on_batch(cur, table, sql)
        return int(table.num_rows)

    @contextlib.contextmanager
    def _writing_facts(self, stale: Stale) -> Iterator[duckdb.DuckDBPyConnection]:
        """A transaction for a write of facts that deletes first the saved days it makes stale (None: all).

        The write is announced before the transaction begins, so that no summary saved meanwhile
        escapes the DELETE (a transaction sees what was committed before it began) and none is
        saved from data read before the commit.
        """
        with self._summaries.writing(stale) as delete, self._transaction() as cur:
            _delete_summaries(cur, delete)
            yield cur

    # ------------------------------------------------------------ the summaries

    def forget_day_summaries(self) -> None:
        """Delete every saved day summary (they are made again when asked for)."""
        with self._writing_facts(None):
            pass

    def begin_summary_read(self) -> int:
        """Call before reading what day summaries will be made of; pass the token to save_day_summaries."""
        return self._summaries.begin_read()

    def end_summary_read(self, token: int) -> None:
        self._summaries.end_read(token)

    def saved_days(self, fingerprints: Mapping[str, str], start: float, end: float) -> set[tuple[str, float]]:
        """(machine, day start) of the days inside [start, end) saved under each machine's fingerprint."""
        with self._cursor() as cur:
            rows = cur.execute(f"SELECT machine, epoch_us(day_start) FROM ({_SAVED_DAYS})",
                               _saved_params(fingerprints, start, end)).fetchall()
        return {(machine, us / 1e6) for machine, us in rows}

    def day_sums(self, fingerprints: Mapping[str, str], start: float, end: float) -> DaySums:
        """The saved days inside [start, end) summed per machine, by DuckDB: a quarter of a hundred
        machines is 9,000 rows, too many to turn into Python objects one by one."""
        params = _saved_params(fingerprints, start, end)
        out = DaySums()
        with self._cursor() as cur:
            for machine, days, figures in cur.execute(f"""
                    WITH saved AS ({_SAVED_DAYS}),
                    cells AS (SELECT machine, unnest(figures) AS v, unnest(range(len(figures))) AS i FROM saved),
                    sums AS (SELECT machine, i, sum(v) AS v FROM cells GROUP BY machine, i)
                    SELECT s.machine, n.days, list(s.v ORDER BY s.i)
                    FROM sums s JOIN (SELECT machine, count(*) AS days FROM saved GROUP BY machine) n USING (machine)
                    GROUP BY s.machine, n.days""", params).fetchall():
                out.days[machine] = int(days)
                out.figures[machine] = [float(v) for v in figures]
            for machine, reason, seconds, stops in cur.execute(f"""
                    WITH saved AS ({_SAVED_DAYS}),
                    cells AS (SELECT machine, unnest(loss_reasons) AS reason, unnest(loss_seconds) AS seconds,
                                     unnest(loss_stops) AS stops FROM saved)
                    SELECT machine, reason, sum(seconds), sum(stops) FROM cells GROUP BY machine, reason""",
                                                            params).fetchall():
                out.losses.setdefault(machine, {})[reason] = (float(seconds), int(stops))
            for row in cur.execute(f"""
                    SELECT machine, epoch_us(day_start), head_start, head_loss, head_reason, head_touched,
                           tail_start, tail_loss, tail_reason, tail_touched
                    FROM ({_SAVED_DAYS}) WHERE head_touched OR tail_touched ORDER BY machine, day_start""",
                                   params).fetchall():
                head = (float(row[2]), row[3], row[4], True) if row[5] else None
                tail = (float(row[6]), row[7], row[8], True) if row[9] else None
                out.edges.setdefault(row[0], []).append((row[1] / 1e6, head, tail))
        return out

    def save_day_summaries(self, token: int, days: Sequence[SavedDay]) -> list[SavedDay]:
        """Save the days no write since `token` (begin_summary_read) made stale; returns those saved."""
        import pyarrow as pa

        def edge(kept: list[SavedDay], name: str, index: int, kind: pa.DataType) -> pa.Array:
            return pa.array([None if e is None else e[index] for e in (getattr(day, name) for day in kept)], type=kind)

        def insert(kept: list[SavedDay]) -> None:
            table = pa.table({
                "machine": pa.array([day.machine for day in kept], type=pa.string()),
                "day_start": ts_array([day.day_start for day in kept], "day_summaries.day_start"),
                "day_end": ts_array([day.day_end for day in kept], "day_summaries.day_end"),
                "fingerprint": pa.array([day.fingerprint for day in kept], type=pa.string()),
                "figures": pa.array([list(day.figures) for day in kept], type=pa.list_(pa.float64())),
                "loss_reasons": pa.array([[r for r, _, _ in day.losses] for day in kept], type=pa.list_(pa.string())),
                "loss_seconds": pa.array([[s for _, s, _ in day.losses] for day in kept],
                                         type=pa.list_(pa.float64())),
                "loss_stops": pa.array([[n for _, _, n in day.losses] for day in kept], type=pa.list_(pa.int64())),
                **{f"{name}_{part}": edge(kept, name, index, kind) for name in ("head", "tail")
                   for index, (part, kind) in enumerate((("start", pa.float64()), ("loss", pa.string()),
                                                         ("reason", pa.string()), ("touched", pa.bool_())))},
            })
            with self._transaction() as cur:
                cur.register("_batch", table)
                try:
                    cur.execute("DELETE FROM day_summaries d USING _batch b "
                                "WHERE d.machine = b.machine AND d.day_start = b.day_start")
                    # The batch has the table's columns in its order, all but the last.
                    cur.execute("INSERT INTO day_summaries SELECT *, now()::TIMESTAMP FROM _batch")
                finally:
                    cur.unregister("_batch")

        saved: list[SavedDay] = self._summaries.save(token, days, _machine_of, _end_of, insert)
        return saved


def _machine_of(day: SavedDay) -> str:
    return day.machine


def _end_of(day: SavedDay) -> float:
    return day.day_end


def _summary_ends(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    sql = "SELECT machine, epoch_us(max(day_end)) / 1e6 FROM day_summaries GROUP BY machine"
    rows = con.execute(sql).fetchall()
    return {machine: float(end) for machine, end in rows}


def _delete_summaries(cur: duckdb.DuckDBPyConnection, delete: Stale) -> None:
    """Delete the saved days ending after each machine's time in `delete` (None: every one; {}: none)."""
    if delete is None:
        cur.execute("DELETE FROM day_summaries")
    elif delete:
        cur.execute("DELETE FROM day_summaries d USING (SELECT unnest(?::VARCHAR[]) AS machine, "
                    "unnest(?::TIMESTAMP[]) AS after) s WHERE d.machine = s.machine AND d.day_end > s.after",
                    [list(delete), [to_datetime(ts) for ts in delete.values()]])


def _saved_params(fingerprints: Mapping[str, str], start: float, end: float) -> list[Any]:
    return [list(fingerprints), list(fingerprints.values()), to_datetime(start), to_datetime(end)]
