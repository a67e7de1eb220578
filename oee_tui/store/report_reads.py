"""The reads behind reports: facts as number columns, count sums joined with a schedule, and facts cut
at shift and order changes.

The engine works out what to ask (which minutes are scheduled, each machine's order timeline,
the shift partition) and hands it over as short lists of plain values; DuckDB does the joins
over the facts. Times go in as epoch microseconds (timecodec's rule) and come out as epoch
seconds, or as TIMESTAMP (UTC) in the Arrow listings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from oee_tui.store.database import Database
from oee_tui.store.fact_tables import NEWEST_REASON_ONLY
from oee_tui.store.timecodec import micro, to_datetime

if TYPE_CHECKING:
    import pyarrow as pa

_HOUR_US: Final = 3_600_000_000
_MINUTE_US: Final = 60_000_000


@dataclass(frozen=True, slots=True)
class EdgePiece:
    """The part [lo, hi) of scheduled time inside a minute that a window or its schedule cuts (epoch µs);
    `minute` is the minute's start."""

    minute: int
    lo: int
    hi: int


@dataclass(frozen=True, slots=True)
class CountQuery:
    """Which count buckets a report sums, and the schedule segments that give a bucket its product.

    Scheduled minutes and schedule segments go in as lists, not Arrow tables: an Arrow scan
    makes DuckDB import pandas, a sixth of a second of every `oee report`.

    `sched_firsts`/`sched_lasts` are runs of scheduled whole minutes (epoch µs, both ends
    included); segment `k` is machine `machines[seg_machine[k]]` from `seg_starts[k]` to
    `seg_ends[k]` (epoch µs) scheduled to make `seg_products[k]`. `by_range`: scheduled time
    is one run of minutes (a plant working round the clock, or one shift) and no bucket goes
    through the join with the schedule: a range test on the scan replaces the join with the
    minutes. With that join, DuckDB's estimate after a range test is so low that it builds the
    join's hash table on the buckets, which costs more than the join saves.

    `edges` are the minutes the scheduled time starts or ends inside. Where a machine has count
    events in such a minute, its events inside the piece count instead of the minute's bucket;
    where it has none (counts stored before events were, imported ones), the minute counts when
    it starts inside scheduled time, as every whole minute does.
    """

    start: float
    end: float
    sched_firsts: list[int]
    sched_lasts: list[int]
    machines: list[str]
    seg_machine: list[int]
    seg_starts: list[int]
    seg_ends: list[int]
    seg_products: list[str | None]
    by_range: bool = False
    edges: tuple[EdgePiece, ...] = ()

    # Counts sit in buckets that start on whole minutes: the scheduled minutes are a small
    # table (43,200 for a month) that an equi-join can use instead of a range join. Segments
    # are joined on (machine, hour) and then on the range inside the hour: a hash join does
    # that in one pass, where an ASOF or inequality join over millions of buckets takes seconds.
    def ctes(self) -> str:
        """The common table expressions of every count query; `params()` fills them in."""
        if self.by_range:
            # The same buckets as the join with the minutes: whole minutes from the first to the last.
            sched, join = "", ""
            in_sched = (f"AND c.minute >= make_timestamp(?) AND c.minute <= make_timestamp(?) "
                        f"AND epoch_us(c.minute) % {_MINUTE_US} = 0")
        else:
            sched = """sched AS (
            SELECT unnest(generate_series(make_timestamp(a), make_timestamp(b), INTERVAL 1 MINUTE)) AS m
            FROM (SELECT unnest(?::BIGINT[]) AS a, unnest(?::BIGINT[]) AS b)
        ), """
            join, in_sched = "SEMI JOIN sched s ON c.minute = s.m", ""
        edge_events, edged, from_events = self._edge_parts()
        return f"""
        WITH {sched}wanted AS (
            SELECT unnest(?::VARCHAR[]) AS machine, unnest(range(?)) AS idx
        ), segs AS (
            SELECT unnest(string_split(?, ',')::BIGINT[]) AS machine, unnest(string_split(?, ',')::BIGINT[]) AS s,
                   unnest(string_split(?, ',')::BIGINT[]) AS e,
                   unnest(?::VARCHAR[]) AS product, unnest(range(?)) AS seg
        ), hours AS (
            SELECT machine, s, e, product, seg, unnest(range(s // {_HOUR_US}, (e - 1) // {_HOUR_US} + 1)) AS h
            FROM segs
        ), {edge_events}counted AS (
            SELECT w.idx AS machine, epoch_us(c.minute) AS us, c.product, c.total, c.reject
            FROM count_minutes c JOIN wanted w ON w.machine = c.machine
            {join}{edged}
            WHERE c.minute >= ? AND c.minute < ? {in_sched}{from_events}
        )"""

    def _edge_parts(self) -> tuple[str, str, str]:
        """The CTE of the events in the cut minutes, the anti-join that leaves out the buckets those
        events replace, and the events to count: all empty when no minute is cut."""
        if not self.edges:
            return "", "", ""
        # Literal ranges on ts (values from the engine, all ints) so that DuckDB skips the row groups
        # of other times, events being stored in time order; the join on the minute is an equi-join.
        ranges = " OR ".join(f"(e.ts >= make_timestamp({p.minute}) AND e.ts < make_timestamp({p.minute + _MINUTE_US}))"
                             for p in sorted({p.minute: p for p in self.edges}.values(), key=lambda p: p.minute))
        values = ", ".join(f"({p.minute}, {p.lo}, {p.hi})" for p in self.edges)
        edge_events = f"""edge_events AS (
            SELECT w.idx AS machine, epoch_us(e.ts) AS us, e.product, e.total, e.reject, g.m, g.lo, g.hi
            FROM count_events e JOIN wanted w ON w.machine = e.machine
            JOIN (VALUES {values}) g(m, lo, hi) ON g.m = epoch_us(e.ts) // {_MINUTE_US} * {_MINUTE_US}
            WHERE {ranges}
        ), """
        edged = """
            ANTI JOIN (SELECT DISTINCT machine, m FROM edge_events) x
                ON x.machine = w.idx AND x.m = epoch_us(c.minute)"""
        from_events = """
            UNION ALL
            SELECT machine, us, product, total, reject FROM edge_events WHERE us >= lo AND us < hi"""
        return edge_events, edged, from_events

    SEGMENT_JOIN = f"h.machine = c.machine AND h.h = c.us // {_HOUR_US} AND c.us >= h.s AND c.us < h.e"

    def params(self) -> list[Any]:
        rest = [self.machines, len(self.machines), _joined(self.seg_machine), _joined(self.seg_starts),
                _joined(self.seg_ends), self.seg_products, len(self.seg_machine),
                to_datetime(self.start), to_datetime(self.end)]
        if self.by_range:
            return [*rest, self.sched_firsts[0], self.sched_lasts[0]]
        return [self.sched_firsts, self.sched_lasts, *rest]


@dataclass(frozen=True, slots=True)
class AttributionPieces:
    """The context a window's facts are cut by: the shift partition of the window (epoch µs; name and
    local date None between shifts) and each machine's order timeline covering it (epoch µs)."""

    shift_starts: list[int]
    shift_ends: list[int]
    shift_names: list[str | None]
    shift_dates: list[str | None]
    machines: list[str]
    lines: list[str]
    starts: list[int]
    ends: list[int]
    order_ids: list[str | None]
    products: list[str | None]

    def cte(self) -> tuple[str, list[Any]]:
        """The machine-by-machine pieces of the window, cut where the shift or the order changes, as a CTE
        named `pieces` (machine, line, s, e [epoch µs], shift, shift_date, order_id, product) and its
        parameters. DuckDB crosses the shifts with the timelines (both short) and expands the pieces
        into the hours they touch (`ph`)."""
        cte = f"""
        shifts AS (
            SELECT unnest(?::BIGINT[]) AS s, unnest(?::BIGINT[]) AS e, unnest(?::VARCHAR[]) AS shift,
                   unnest(?::VARCHAR[]) AS shift_date
        ), segs AS (
            SELECT unnest(?::VARCHAR[]) AS machine, unnest(?::VARCHAR[]) AS line,
                   unnest(string_split(?, ',')::BIGINT[]) AS s, unnest(string_split(?, ',')::BIGINT[]) AS e,
                   unnest(?::VARCHAR[]) AS order_id, unnest(?::VARCHAR[]) AS product
        ), pieces AS (
            SELECT g.machine, g.line, greatest(g.s, f.s) AS s, least(g.e, f.e) AS e, f.shift, f.shift_date,
                   g.order_id, g.product
            FROM segs g JOIN shifts f ON g.s < f.e AND g.e > f.s
        ), ph AS (
            SELECT *, unnest(range(s // {_HOUR_US}, (e - 1) // {_HOUR_US} + 1)) AS h FROM pieces
        )"""
        params: list[Any] = [self.shift_starts, self.shift_ends, self.shift_names, self.shift_dates,
                             self.machines, self.lines, _joined(self.starts), _joined(self.ends), self.order_ids,
                             self.products]
        return cte, params


class ReportReads(Database):
    def interval_codes(self, start: float, end: float, machines: Sequence[str], states: Sequence[str],
                       reasons: Sequence[str]) -> dict[str, npt.NDArray[Any]]:
        """The intervals overlapping [start, end) as plain number columns, for columnar reports.

        `machine`, `state` and `reason` are indexes into the lists given (reason -1 for none or
        one not in the list); `s` and `e` are epoch seconds, `e` NaN while open. Rows come
        ordered by machine index, then start. DuckDB does the string-to-code joins: in Python
        they would cost more than the rest of a report, and handing DuckDB Arrow tables to
        join against makes it import pandas, a sixth of a second on every `oee report`.
        """
        # Two queries and a merge in numpy: joining every interval with the newest reasons in
        # SQL costs more than both queries together. Only the reasons of stops that can be in
        # the result are ranked: those starting from the first interval that overlaps the window.
        codes = """
            machine_codes AS (SELECT unnest(?::VARCHAR[]) AS machine, unnest(range(?)) AS idx)"""
        intervals_sql = f"""
            WITH {codes},
            state_codes AS (SELECT unnest(?::VARCHAR[]) AS state, unnest(range(?)) AS idx)
            SELECT m.idx AS machine, epoch_us(i.start_ts) AS us, epoch_us(i.start_ts) / 1e6 AS s,
                   coalesce(epoch_us(i.end_ts) / 1e6, 'NaN'::DOUBLE) AS e, st.idx AS state
            FROM state_intervals i
            JOIN machine_codes m ON m.machine = i.machine
            JOIN state_codes st ON st.state = i.state
            WHERE i.start_ts < ? AND (i.end_ts IS NULL OR i.end_ts > ?)
            ORDER BY m.idx, i.start_ts
        """
        reasons_sql = f"""
            WITH {codes},
            reason_codes AS (SELECT unnest(?::VARCHAR[]) AS reason, unnest(range(?)) AS idx),
            newest AS (
                SELECT machine, stop_start, reason FROM stop_reasons
                WHERE stop_start < ? AND stop_start >= (
                    SELECT min(start_ts) FROM state_intervals WHERE start_ts < ? AND (end_ts IS NULL OR end_ts > ?))
                {NEWEST_REASON_ONLY}
            )
            SELECT m.idx AS machine, epoch_us(r.stop_start) AS us, rc.idx AS reason
            FROM newest r
            JOIN machine_codes m ON m.machine = r.machine
            JOIN reason_codes rc ON rc.reason = r.reason
            ORDER BY m.idx, r.stop_start
        """
        t_end, t_start = to_datetime(end), to_datetime(start)
        with self._cursor() as cur:
            data = cur.execute(intervals_sql, [list(machines), len(machines), list(states), len(states),
                                               t_end, t_start]).fetchnumpy()
            given = cur.execute(reasons_sql, [list(machines), len(machines), list(reasons), len(reasons),
                                              t_end, t_end, t_start]).fetchnumpy()
        out = {name: np.asarray(data[name]) for name in ("machine", "s", "e", "state")}
        out["reason"] = _merge_reasons(
            np.asarray(data["machine"], dtype=np.int64), np.asarray(data["us"], dtype=np.int64),
            np.asarray(given["machine"], dtype=np.int64), np.asarray(given["us"], dtype=np.int64),
            np.asarray(given["reason"], dtype=np.int64), len(machines))
        return out

    def count_sums(self, query: CountQuery, per_segment: bool) -> dict[str, npt.NDArray[Any]]:
        """The count buckets of `query` summed, as columns kind, machine (index), seg, product, minute,
        minute_reject, total, reject, sorted by kind, machine, product (NULL first).

        Kind 0 rows hold sums per machine and product (total, reject) and, in rows of their own, each
        minute that had rejects (minute in epoch seconds, minute_reject), for the startup rule; kind 1
        rows, with `per_segment`, the sums per machine, segment and product. A bucket without a product
        takes the product of the segment its minute is in; without `per_segment` only those buckets go
        through the join with the segments.
        """
        if per_segment:
            # One aggregation with two grouping sets, so the join runs once and nothing is
            # materialised; the minutes with rejects are groups of their own in the first set.
            sql = f"""{query.ctes()}, attributed AS NOT MATERIALIZED (
                    SELECT c.machine, h.seg, coalesce(c.product, h.product) AS product, c.us, c.total, c.reject
                    FROM counted c JOIN hours h ON {query.SEGMENT_JOIN}
                ), grouped AS (
                    SELECT machine, seg, product, CASE WHEN reject <> 0 THEN us END AS reject_us,
                           sum(total) AS total, sum(reject) AS reject, grouping(reject_us) AS kind
                    FROM attributed GROUP BY GROUPING SETS ((machine, product, reject_us), (machine, seg, product))
                )
                SELECT kind, machine, coalesce(seg, -1) AS seg, product,
                       coalesce(reject_us / 1e6, 'NaN'::DOUBLE) AS minute,
                       CASE WHEN reject_us IS NULL THEN 0 ELSE reject END AS minute_reject, total, reject
                FROM grouped
                ORDER BY kind, machine, product NULLS FIRST"""
        else:
            # Only buckets without a product go through the join; the rest is summed as it is. With
            # no product scheduled anywhere (no orders, no default products) there is nothing to join.
            attributed = "SELECT machine, product, us, total, reject FROM counted"
            if any(product is not None for product in query.seg_products):
                attributed = """
                    SELECT machine, product, us, total, reject FROM counted WHERE product IS NOT NULL
                    UNION ALL
                    SELECT * FROM joined"""
            sql = f"""{query.ctes()}, joined AS (
                    SELECT c.machine, h.product, c.us, c.total, c.reject
                    FROM counted c JOIN hours h ON {query.SEGMENT_JOIN}
                    WHERE c.product IS NULL
                ), attributed AS NOT MATERIALIZED ({attributed}
                ), grouped AS (
                    -- Two grouping sets in one pass, so that nothing is materialised for a second reader:
                    -- the sums per machine and product, and each minute with rejects (summed per minute,
                    -- which the startup rule adds up anyway); minutes without rejects are dropped.
                    SELECT machine, product, CASE WHEN reject <> 0 THEN us END AS reject_us,
                           sum(total) AS total, sum(reject) AS reject, grouping(reject_us) AS sums
                    FROM attributed GROUP BY GROUPING SETS ((machine, product), (machine, product, reject_us))
                )
                SELECT 0 AS kind, machine, -1 AS seg, product, coalesce(reject_us / 1e6, 'NaN'::DOUBLE) AS minute,
                       CASE WHEN sums = 1 THEN 0 ELSE reject END AS minute_reject,
                       CASE WHEN sums = 1 THEN total ELSE 0 END AS total,
                       CASE WHEN sums = 1 THEN reject ELSE 0 END AS reject
                FROM grouped WHERE sums = 1 OR reject_us IS NOT NULL
                ORDER BY kind, machine, product NULLS FIRST"""
        with self._cursor() as cur:
            result: dict[str, npt.NDArray[Any]] = cur.execute(sql, query.params()).fetchnumpy()
            return result

    def attributed_intervals(self, pieces: AttributionPieces, start: float, end: float, open_end: float,
                             ordered: bool = False) -> pa.Table:
        """Every state interval overlapping [start, end), cut at the pieces' shift and order changes.

        An Arrow table, one row per piece: machine, line, start and end (TIMESTAMP, UTC, clipped
        to the window), state, reason (newest given), shift, shift_date, order_id, product. An
        open interval ends at `open_end`. Joined on (machine, hour), then on the exact overlap,
        which the hour the overlap starts in reports once. In no particular order unless
        `ordered` (by machine, then start), which costs a sort of every row.
        """
        cte, params = pieces.cte()
        lo, hi, until = micro(start), micro(end), micro(open_end)
        sql = f"""
            WITH {cte}, newest AS (
                SELECT machine, stop_start, reason FROM stop_reasons
                {NEWEST_REASON_ONLY}
            ), iv AS (
                SELECT i.machine, greatest(epoch_us(i.start_ts), {lo}) AS s,
                       least(coalesce(epoch_us(i.end_ts), {until}), {hi}) AS e, i.state, r.reason
                FROM state_intervals i
                LEFT JOIN newest r ON r.machine = i.machine AND r.stop_start = i.start_ts
                WHERE i.start_ts < make_timestamp({hi}) AND (i.end_ts IS NULL OR i.end_ts > make_timestamp({lo}))
            ), ivh AS (
                SELECT *, unnest(range(s // {_HOUR_US}, (e - 1) // {_HOUR_US} + 1)) AS h FROM iv WHERE e > s
            )
            SELECT v.machine, p.line, make_timestamp(greatest(v.s, p.s)) AS start,
                   make_timestamp(least(v.e, p.e)) AS "end", v.state, v.reason, p.shift, p.shift_date,
                   p.order_id, p.product
            FROM ivh v JOIN ph p
              ON p.machine = v.machine AND p.h = v.h AND v.s < p.e AND v.e > p.s
             AND greatest(v.s, p.s) // {_HOUR_US} = v.h
            {"ORDER BY v.machine, start" if ordered else ""}
        """
        return self._arrow(sql, params)

    def attributed_counts(self, pieces: AttributionPieces, start: float, end: float,
                          ordered: bool = False) -> pa.Table:
        """Every count bucket of [start, end) with its piece's context: an Arrow table of machine, line,
        minute (TIMESTAMP, UTC), shift, shift_date, order_id, product (the bucket's own, else the one
        scheduled), total, reject. In no particular order unless `ordered` (by machine, then minute)."""
        cte, params = pieces.cte()
        lo, hi = micro(start), micro(end)
        sql = f"""
            WITH {cte}, c AS (
                SELECT machine, minute, epoch_us(minute) AS us, product, total, reject FROM count_minutes
                WHERE minute >= make_timestamp({lo}) AND minute < make_timestamp({hi})
            )
            SELECT c.machine, p.line, c.minute, p.shift, p.shift_date, p.order_id,
                   coalesce(c.product, p.product) AS product, c.total, c.reject
            FROM c JOIN ph p ON p.machine = c.machine AND p.h = c.us // {_HOUR_US} AND c.us >= p.s AND c.us < p.e
            {"ORDER BY c.machine, c.minute" if ordered else ""}
        """
        return self._arrow(sql, params)


def _joined(numbers: Sequence[int]) -> str:
    """Whole numbers as one comma-separated string, split again in SQL (string_split(?, ',')::BIGINT[]).

    DuckDB binds a Python list of 18,000 ints in about 30 ms, the same as one string in 2 ms
    plus the split: a month of orders is that many segments.
    """
    return ",".join(map(str, numbers))


def _merge_reasons(machine: npt.NDArray[np.int64], us: npt.NDArray[np.int64], reason_machine: npt.NDArray[np.int64],
                   reason_us: npt.NDArray[np.int64], reason: npt.NDArray[np.int64],
                   machines: int) -> npt.NDArray[np.int64]:
    """Each interval's reason code (-1 for none): both sides sorted by machine, then start."""
    out = np.full(len(machine), -1, dtype=np.int64)
    if not len(reason) or not len(machine):
        return out
    bounds = np.searchsorted(machine, np.arange(machines + 1))
    reason_bounds = np.searchsorted(reason_machine, np.arange(machines + 1))
    for index in range(machines):
        lo, hi = bounds[index], bounds[index + 1]
        r_lo, r_hi = reason_bounds[index], reason_bounds[index + 1]
        if hi == lo or r_hi == r_lo:
            continue
        starts, wanted = us[lo:hi], reason_us[r_lo:r_hi]
        at = np.minimum(np.searchsorted(starts, wanted), hi - lo - 1)
        found = starts[at] == wanted
        out[lo + at[found]] = reason[r_lo:r_hi][found]
    return out
