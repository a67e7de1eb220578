"""The data-quality checks' hours: one row per mapped tag and clock hour (model/data_quality.py).

The engine writes a closed hour at the flush after it ends, and the hour so far when it stops; an
engine started again within that hour adds its figures to the row, so no hour is counted twice.
"""

from __future__ import annotations

import pyarrow as pa

from oee_tui.model.data_quality import TagQuality
from oee_tui.store.database import Database
from oee_tui.store.timecodec import to_datetime, ts_array

_MERGE = """
INSERT INTO data_quality_hours BY NAME SELECT * FROM _batch
ON CONFLICT (source, tag, hour) DO UPDATE SET
    received = received + excluded.received,
    expected = CASE WHEN expected IS NULL OR excluded.expected IS NULL THEN NULL
                    ELSE expected + excluded.expected END,
    range_violations = range_violations + excluded.range_violations,
    duplicates = duplicates + excluded.duplicates,
    out_of_order = out_of_order + excluded.out_of_order,
    skew_s = CASE WHEN skew_s IS NULL THEN excluded.skew_s WHEN excluded.skew_s IS NULL THEN skew_s
                  ELSE least(skew_s, excluded.skew_s) END,
    range_low = excluded.range_low,
    range_high = excluded.range_high,
    last_violation = coalesce(excluded.last_violation, last_violation)
"""


class QualityTables(Database):
    """The ``data_quality_hours`` table."""

    def write_quality_hours(self, rows: list[TagQuality]) -> int:
        """Add the rows' figures to their (source, tag, hour), in one transaction; returns the rows given."""
        if not rows:
            return 0
        table = pa.table({
            "source": pa.array([row.source for row in rows], pa.string()),
            "tag": pa.array([row.tag for row in rows], pa.string()),
            "hour": ts_array([row.hour for row in rows], "data-quality hour"),
            "received": pa.array([row.received for row in rows], pa.int64()),
            "expected": pa.array([row.expected for row in rows], pa.float64()),
            "range_violations": pa.array([row.range_violations for row in rows], pa.int64()),
            "duplicates": pa.array([row.duplicates for row in rows], pa.int64()),
            "out_of_order": pa.array([row.out_of_order for row in rows], pa.int64()),
            "skew_s": pa.array([row.skew_s for row in rows], pa.float64()),
            "range_low": pa.array([row.range_low for row in rows], pa.float64()),
            "range_high": pa.array([row.range_high for row in rows], pa.float64()),
            "last_violation": pa.array([row.last_violation for row in rows], pa.float64()),
        })
        return self._insert(table, _MERGE)

    def quality_hours(self, since: float, source: str | None = None) -> list[TagQuality]:
        """The stored hours from `since` on (of `source`, or of every source), newest first."""
        table = self._arrow(
            "SELECT source, tag, epoch_us(hour) / 1e6 AS hour, received, expected, range_violations, duplicates, "
            "out_of_order, skew_s, range_low, range_high, last_violation FROM data_quality_hours "
            "WHERE hour >= ? AND (? IS NULL OR source = ?) ORDER BY hour DESC, source, tag",
            [to_datetime(since), source, source])
        return [TagQuality(**row) for row in table.to_pylist()]
