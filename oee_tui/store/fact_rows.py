"""The rows of one flush as the Arrow batches and statements that write them, each row checked first.

A row that cannot be stored (a time that is not a time, a count beyond BIGINT, a state that does
not exist, a string that is not Unicode) must not block the rest: it is set aside as a dead letter
that holds the row and the reason. The known ways to fail are checked before Arrow is built
(vectorised for the samples, the one large table); a value Arrow still refuses is found by
building its column row by row, which only a flush with such a value ever pays for. A row the
database refuses is found by Store.write_facts, by trial.
"""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from oee_tui.model import (
    CountBucket,
    CountEventColumns,
    DeadLetter,
    EventKind,
    MachineEvent,
    MachineState,
    StateInterval,
    TagSample,
)
from oee_tui.store.database import SEQ_VALUE
from oee_tui.store.fact_batch import KeptSamples, ReasonEntry
from oee_tui.store.failures import first_line, is_row_error
from oee_tui.store.timecodec import micros, storable, unstorable

if TYPE_CHECKING:
    import pyarrow as pa

Rows = npt.NDArray[np.int64]  # positions in the flush's own sequence of rows of one table
# A row's dead letter: the source it names (a source, or the machine) and the row's fields.
Describe = Callable[[int], tuple[str, dict[str, object]]]

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
SET_ASIDE_TOPIC: Final = "store:"  # + the table: how a set-aside row's dead letter is told from a device's
_NOT_A_TIME: Final = "is not a time between the years 1 and 9999"
_STATES: Final = frozenset(state.value for state in MachineState)
# Replayed samples skip those stored already; the time range lets DuckDB skip the row groups of
# other times (samples come in time order).
HISTORY_SQL: Final = f"""
    INSERT INTO samples
    SELECT DISTINCT ON (b.source, b.tag, b.ts) b.ts, b.source, b.tag, b.value_num, b.value_text, b.quality,
           {SEQ_VALUE}
    FROM _batch b
    WHERE NOT EXISTS (
        SELECT 1 FROM samples s
        WHERE s.ts >= (SELECT min(ts) FROM _batch) AND s.ts <= (SELECT max(ts) FROM _batch)
          AND s.source = b.source AND s.tag = b.tag AND s.ts = b.ts)
"""


@dataclass(frozen=True, slots=True)
class TableWrite:
    """One statement of a flush over its Arrow batch (registered as `_batch`), and the way back from
    a row of the batch to the row of the flush it came from."""

    table: str
    sql: str
    batch: pa.Table
    origin: Rows  # batch row -> row of the flush
    describe: Describe

    def without(self, batch_rows: Sequence[int]) -> TableWrite:
        keep = np.ones(self.batch.num_rows, dtype=bool)
        keep[list(batch_rows)] = False
        import pyarrow as pa

        return TableWrite(self.table, self.sql, self.batch.filter(pa.array(keep)), self.origin[keep], self.describe)

    def subset(self, batch_rows: Sequence[int]) -> pa.Table:
        return self.batch.take(list(batch_rows))

    def letter(self, batch_row: int, reason: str, now: float) -> DeadLetter:
        return set_aside(self.table, self.describe, int(self.origin[batch_row]), reason, now)


def set_aside(table: str, describe: Describe, row: int, reason: str, now: float) -> DeadLetter:
    """The dead letter that keeps a row `table` could not store, and why."""
    source, fields = describe(row)
    payload = json.dumps(fields, default=repr, ensure_ascii=True, sort_keys=False).encode("ascii")
    return DeadLetter(now, clean_text(source), SET_ASIDE_TOPIC + table, payload,
                      clean_text(f"not stored in {table}: {reason}"))


def clean_text(value: object) -> str:
    """Any value as a string DuckDB will take: lone surrogates (undecodable bytes) become escapes."""
    text = value if isinstance(value, str) else repr(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


# ------------------------------------------------------------ Arrow, column by column, row by row if need be


@dataclass(frozen=True, slots=True)
class Times:
    """A time column as float seconds, checked: the rows whose time cannot be stored, and whether
    NaN means NULL (an open interval's end)."""

    secs: npt.NDArray[np.float64]
    bad: Mapping[int, str]
    nullable: bool = False


Column = tuple[str, "Sequence[Any] | Times", "pa.DataType"]


def _arrow_columns(columns: Sequence[Column], n: int, bad: dict[int, str]) -> pa.Table | None:
    """The columns as an Arrow table of the rows not in `bad`; a value Arrow refuses adds its row to
    `bad`, with the reason. None when no row is left."""
    import pyarrow as pa

    while True:
        chosen = None if not bad else np.array([r for r in range(n) if r not in bad], dtype=np.int64)
        if chosen is not None and chosen.size == 0:
            return None
        arrays: dict[str, pa.Array] = {}
        for name, values, kind in columns:
            if isinstance(values, Times):
                secs = values.secs if chosen is None else values.secs[chosen]
                mask = np.isnan(secs) if values.nullable else None
                if mask is not None and mask.any():
                    secs = np.where(mask, 0.0, secs)
                arrays[name] = pa.array(micros(secs, name), type=pa.timestamp("us"),
                                        mask=mask if mask is not None and mask.any() else None)
                continue
            picked = values if chosen is None else [values[r] for r in chosen]
            try:
                arrays[name] = pa.array(picked, type=kind)
            except Exception as exc:
                if not is_row_error(exc):
                    raise
                bad.update(_refused_values(values, kind, chosen, name))
                break
        else:
            return pa.table(arrays)


def _refused_values(values: Sequence[Any], kind: pa.DataType, rows: Rows | None, name: str) -> dict[int, str]:
    """The rows of one column that Arrow refuses, each tried alone (only after the whole column failed)."""
    import pyarrow as pa

    out: dict[int, str] = {}
    for row in rows.tolist() if rows is not None else range(len(values)):
        try:
            pa.array([values[row]], type=kind)
        except Exception as exc:
            if not is_row_error(exc):
                raise
            out[row] = f"{name} {_shown(values[row])} cannot be stored as {kind}: {first_line(str(exc))}"
    if not out:  # the column failed as a whole only: no row can be blamed alone
        raise ValueError(f"column {name} cannot be stored, though each of its values can")
    return out


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _times(values: Sequence[Any], name: str, *, nullable: bool = False) -> Times:
    """A column of times as float seconds, with the rows whose time cannot be stored (None is NULL
    where `nullable`, else bad)."""
    try:
        secs = np.asarray(values, dtype=np.float64)  # None becomes NaN
    except (TypeError, ValueError):
        secs = np.array([float(v) if storable(v) else math.nan for v in values], dtype=np.float64)
    if secs.ndim != 1:
        raise ValueError(f"{name}: expected a flat sequence of seconds")
    mask = unstorable(secs)
    if mask is None:
        return Times(secs, {}, nullable)
    bad = {row: f"{name} {_shown(values[row])} {_NOT_A_TIME}" for row in np.flatnonzero(mask).tolist()
           if not (nullable and values[row] is None)}
    return Times(secs, bad, nullable)


def _table_write(table: str, sql: str, columns: Sequence[Column], describe: Describe, now: float,
                 refused: Mapping[int, str] | None = None) -> tuple[TableWrite | None, list[DeadLetter]]:
    """Check, set aside, build: a statement over the rows that can be stored, and the dead letters of the rest."""
    bad: dict[int, str] = dict(refused or {})
    for _name, values, _kind in columns:
        if isinstance(values, Times):
            for row, reason in values.bad.items():
                bad.setdefault(row, reason)
    first = columns[0][1]
    n = len(first.secs if isinstance(first, Times) else first)
    arrow = _arrow_columns(columns, n, bad)
    letters = [set_aside(table, describe, row, reason, now) for row, reason in sorted(bad.items())]
    if arrow is None:
        return None, letters
    origin = np.arange(n, dtype=np.int64) if not bad else np.array([r for r in range(n) if r not in bad],
                                                                    dtype=np.int64)
    return TableWrite(table, sql, arrow, origin, describe), letters


# ------------------------------------------------------------ the tables of a flush


def samples_write(samples: KeptSamples, now: float) -> tuple[TableWrite | None, list[DeadLetter]]:
    """Live raw samples, kept on change by the engine."""
    import pyarrow as pa

    lengths = {len(column) for column in samples}
    if len(lengths) > 1:
        raise ValueError(f"sample columns differ in length: {[len(column) for column in samples]}")
    if not samples.ts:
        return None, []

    def describe(row: int) -> tuple[str, dict[str, object]]:
        return samples.source[row], {name: getattr(samples, name)[row] for name in samples._fields}

    columns: list[Column] = [("ts", _times(samples.ts, "ts"), pa.timestamp("us")),
                             ("source", samples.source, pa.string()), ("tag", samples.tag, pa.string()),
                             ("value_num", samples.value_num, pa.float64()),
                             ("value_text", samples.value_text, pa.string()), ("quality", samples.quality, pa.string())]
    return _table_write("samples", "INSERT INTO samples SELECT ts, source, tag, value_num, value_text, quality, "
                                   f"{SEQ_VALUE} FROM _batch", columns, describe, now)


def history_write(history: Sequence[TagSample], now: float) -> tuple[TableWrite | None, list[DeadLetter]]:
    """Replayed samples (an edge node's buffer): each (source, tag, time) stored once, a replay being
    at least once."""
    import pyarrow as pa

    if not history:
        return None, []
    refused: dict[int, str] = {}
    numbers: list[float | None] = []
    for row, sample in enumerate(history):
        value = sample.value
        try:
            numbers.append(None if value is None or isinstance(value, str) else float(value))
        except (OverflowError, TypeError, ValueError):
            numbers.append(None)
            refused[row] = f"value {_shown(value)} is not a number a DOUBLE holds"

    def describe(row: int) -> tuple[str, dict[str, object]]:
        sample = history[row]
        return sample.source, {"ts": sample.ts_utc, "source": sample.source, "tag": sample.tag,
                               "value": sample.value, "quality": getattr(sample.quality, "value", sample.quality)}

    columns: list[Column] = [
        ("ts", _times([s.ts_utc for s in history], "ts"), pa.timestamp("us")),
        ("source", [s.source for s in history], pa.string()), ("tag", [s.tag for s in history], pa.string()),
        ("value_num", numbers, pa.float64()),
        ("value_text", [v if isinstance(v, str) else None for v in (s.value for s in history)], pa.string()),
        ("quality", [getattr(s.quality, "value", s.quality) for s in history], pa.string())]
    return _table_write("samples", HISTORY_SQL, columns, describe, now, refused)


def intervals_write(intervals: Sequence[StateInterval], now: float) -> tuple[TableWrite | None, list[DeadLetter]]:
    """State intervals, upserted by (machine, start): the newest version of one in the flush wins."""
    import pyarrow as pa

    if not intervals:
        return None, []
    starts = _times([i.start for i in intervals], "start")
    # DuckDB's INSERT OR REPLACE keeps the FIRST of two batch rows with the same key; the engine
    # means the last (the closed version of an interval it also sent open), so dedupe here, last
    # one wins, by the microsecond the store keys on. A row with a bad start keeps its own key.
    with np.errstate(invalid="ignore"):
        keys = np.rint(starts.secs * 1e6).tolist()
    latest: dict[tuple[object, float], int] = {}
    for row, (interval, key) in enumerate(zip(intervals, keys, strict=True)):
        latest[(interval.machine, key if row not in starts.bad else -1.0 - row)] = row
    rows = list(latest.values())
    kept = [intervals[row] for row in rows]
    refused: dict[int, str] = {}
    for position, interval in enumerate(kept):
        if not isinstance(interval.machine, str) or not interval.machine:
            refused[position] = f"machine {_shown(interval.machine)} is not a machine id"
        elif getattr(interval.state, "value", interval.state) not in _STATES:
            refused[position] = f"state {_shown(interval.state)} is not a machine state"

    def describe(position: int) -> tuple[str, dict[str, object]]:
        interval = kept[position]
        return str(interval.machine), {"machine": interval.machine, "start": interval.start, "end": interval.end,
                                       "state": getattr(interval.state, "value", interval.state)}

    start_bad = {position: starts.bad[row] for position, row in enumerate(rows) if row in starts.bad}
    columns: list[Column] = [
        ("machine", [i.machine for i in kept], pa.string()),
        ("start_ts", Times(starts.secs[rows], start_bad), pa.timestamp("us")),
        ("end_ts", _times([i.end for i in kept], "end", nullable=True), pa.timestamp("us")),
        ("state", [getattr(i.state, "value", i.state) for i in kept], pa.string())]
    return _table_write("state_intervals", "INSERT OR REPLACE INTO state_intervals "
                                           "SELECT machine, start_ts, end_ts, state FROM _batch",
                        columns, describe, now, refused)


def counts_write(counts: Sequence[CountBucket], now: float) -> tuple[TableWrite | None, list[DeadLetter]]:
    """Count deltas per machine, minute and product; appended (readers sum a minute's parts)."""
    import pyarrow as pa

    if not counts:
        return None, []
    totals = [b.total for b in counts]
    rejects = [b.reject for b in counts]
    refused = _bigint_refusals(("total", totals), ("reject", rejects))
    for row, bucket in enumerate(counts):
        if row not in refused and (not isinstance(bucket.machine, str) or not bucket.machine):
            refused[row] = f"machine {_shown(bucket.machine)} is not a machine id"

    def describe(row: int) -> tuple[str, dict[str, object]]:
        bucket = counts[row]
        return str(bucket.machine), {"machine": bucket.machine, "minute": bucket.minute, "product": bucket.product,
                                     "total": bucket.total, "reject": bucket.reject}

    columns: list[Column] = [
        ("machine", [b.machine for b in counts], pa.string()),
        ("minute", _times([b.minute for b in counts], "minute"), pa.timestamp("us")),
        ("product", [b.product for b in counts], pa.string()), ("total", totals, pa.int64()),
        ("reject", rejects, pa.int64())]
    return _table_write("count_minutes", "INSERT INTO count_minutes SELECT machine, minute, product, total, reject "
                                         "FROM _batch", columns, describe, now, refused)


def count_events_write(events: CountEventColumns, now: float) -> tuple[TableWrite | None, list[DeadLetter]]:
    """Each counted delta at the time its parts were made (the minutes above sum them)."""
    import pyarrow as pa

    if not events:
        return None, []
    refused = _bigint_refusals(("total", events.total), ("reject", events.reject))

    def describe(row: int) -> tuple[str, dict[str, object]]:
        return str(events.machine[row]), {"machine": events.machine[row], "ts": events.ts[row],
                                          "product": events.product[row], "total": events.total[row],
                                          "reject": events.reject[row]}

    columns: list[Column] = [
        ("machine", events.machine, pa.string()), ("ts", _times(events.ts, "ts"), pa.timestamp("us")),
        ("product", events.product, pa.string()), ("total", events.total, pa.int64()),
        ("reject", events.reject, pa.int64())]
    return _table_write("count_events", "INSERT INTO count_events SELECT machine, ts, product, total, reject "
                                        "FROM _batch", columns, describe, now, refused)


def machine_events_write(events: Sequence[MachineEvent], now: float) -> tuple[TableWrite | None, list[DeadLetter]]:
    """What the engine noticed about a machine (a counter reset or rebaselined); appended."""
    import pyarrow as pa

    if not events:
        return None, []
    refused: dict[int, str] = {}
    for row, event in enumerate(events):
        for name in ("previous", "value", "counted"):
            value = getattr(event, name)
            if value is not None and not (_is_whole(value) and 0 <= value < 2**64):
                refused[row] = f"{name} {_shown(value)} is not a whole number a UBIGINT holds"
                break

    def describe(row: int) -> tuple[str, dict[str, object]]:
        event = events[row]
        return str(event.machine), {"machine": event.machine, "ts": event.ts, "kind": str(event.kind),
                                    "signal": None if event.signal is None else str(event.signal),
                                    "previous": event.previous, "value": event.value, "counted": event.counted,
                                    "most": event.most}

    columns: list[Column] = [
        ("machine", [e.machine for e in events], pa.string()),
        ("ts", _times([e.ts for e in events], "ts"), pa.timestamp("us")),
        ("kind", [EventKind(e.kind).value for e in events], pa.string()),
        ("signal", [None if e.signal is None else e.signal.value for e in events], pa.string()),
        # Raw readings fill the tag's unsigned range, up to 64 bits.
        ("previous", [e.previous for e in events], pa.uint64()), ("value", [e.value for e in events], pa.uint64()),
        ("counted", [e.counted for e in events], pa.uint64()), ("most", [e.most for e in events], pa.float64())]
    return _table_write("machine_events", "INSERT INTO machine_events SELECT machine, ts, kind, signal, previous, "
                                          "value, counted, most FROM _batch", columns, describe, now, refused)


def _is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _bigint_refusals(*columns: tuple[str, Sequence[Any]]) -> dict[int, str]:
    """The rows with a value (the first column's first) that is not a whole number BIGINT holds, and why."""
    refused: dict[int, str] = {}
    for name, values in columns:
        for row in _non_bigint_rows(values):
            refused.setdefault(row, f"{name} {_shown(values[row])} is not a whole number a BIGINT holds (±9.2e18)")
    return refused


def _non_bigint_rows(values: Sequence[Any]) -> list[int]:
    """The rows that are not a whole number BIGINT holds; one vectorised look when all are (the usual case)."""
    # Plain ints only (a bool is an int to numpy, not to a count), all within int64: numpy makes
    # an int64 array of them, where one beyond makes uint64 or objects.
    if set(map(type, values)) <= {int} and np.asarray(values).dtype.kind == "i":
        return []
    return [row for row, value in enumerate(values) if not _is_bigint(value)]


def _is_bigint(value: object) -> bool:
    """A whole number (Python's or numpy's, or a whole float, as Arrow takes it) within BIGINT."""
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return value.is_integer() and INT64_MIN <= value < INT64_MAX
    try:
        whole = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        return False
    return INT64_MIN <= whole <= INT64_MAX


def reasons_write(reasons: Sequence[ReasonEntry], now: float) -> tuple[TableWrite | None, list[DeadLetter]]:
    """Stop reasons: the append-only audit trail of what people entered."""
    import pyarrow as pa

    if not reasons:
        return None, []

    def describe(row: int) -> tuple[str, dict[str, object]]:
        return str(reasons[row].machine), dict(reasons[row]._asdict())

    columns: list[Column] = [
        ("machine", [r.machine for r in reasons], pa.string()),
        ("stop_start", _times([r.stop_start for r in reasons], "stop_start"), pa.timestamp("us")),
        ("reason", [r.reason for r in reasons], pa.string()),
        ("entered_by", [r.entered_by for r in reasons], pa.string()),
        ("entered_at", _times([r.entered_at for r in reasons], "entered_at"), pa.timestamp("us"))]
    return _table_write("stop_reasons", "INSERT INTO stop_reasons SELECT machine, stop_start, reason, entered_by, "
                                        "entered_at FROM _batch", columns, describe, now)


def dead_letters_write(letters: Sequence[DeadLetter], now: float) -> TableWrite | None:
    """Dead letters, made storable rather than set aside (there is nowhere further to set them): a
    time that is not one becomes the flush's, with the original in the error; text is escaped."""
    import pyarrow as pa

    if not letters:
        return None
    times: list[float] = []
    errors: list[str] = []
    for letter in letters:
        if storable(letter.received_at):
            times.append(float(letter.received_at))
            errors.append(clean_text(letter.error))
        else:
            times.append(now)
            errors.append(clean_text(f"{letter.error} (received_at {_shown(letter.received_at)} {_NOT_A_TIME})"))
    payloads = [bytes(p) if isinstance(p, bytes | bytearray | memoryview) else clean_text(p).encode()
                for p in (letter.payload for letter in letters)]
    batch = pa.table({
        "received_at": pa.array(micros(times, "received_at"), type=pa.timestamp("us")),
        "source": pa.array([clean_text(d.source) for d in letters], type=pa.string()),
        "topic": pa.array([clean_text(d.topic) for d in letters], type=pa.string()),
        "payload": pa.array(payloads, type=pa.binary()),
        "error": pa.array(errors, type=pa.string()),
    })

    def describe(row: int) -> tuple[str, dict[str, object]]:
        return str(letters[row].source), {"topic": letters[row].topic}

    return TableWrite("dead_letters", "INSERT INTO dead_letters SELECT received_at, source, topic, payload, error, "
                                      f"{SEQ_VALUE} FROM _batch", batch, np.arange(len(letters), dtype=np.int64),
                      describe)
