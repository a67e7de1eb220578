"""Copies one edge's local store into the central tables of the contract, as the sync does: the
analytics tests' stand-in for a push while the sync is not merged (it writes exactly the rows the
contract describes, so the aggregates see what a push would give them)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import psycopg

from oee_tui.config import Config
from oee_tui.engine.oee.planning_rules import Planning
from oee_tui.store import Store


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def copy_edge(data_dir: Path, config: Config, conn: psycopg.Connection[tuple[object, ...]], edge_id: str,
              site: str, shifts_from: float, shifts_to: float) -> None:
    """Push the closed store in `data_dir` as edge `edge_id` of `site`, with its calendar's shift
    instances between `shifts_from` and `shifts_to`."""
    with Store.open(data_dir) as store:
        planning = Planning.load(store)
    local = duckdb.connect(str(data_dir / Store.DB_FILENAME), read_only=True)
    try:
        intervals = local.sql("SELECT machine, start_ts, end_ts, state FROM state_intervals ORDER BY 1, 2").fetchall()
        counts = local.sql("SELECT machine, minute, coalesce(product, ''), sum(total), sum(reject) FROM count_minutes "
                           "GROUP BY ALL ORDER BY 1, 2").fetchall()
        reasons_given = local.sql("SELECT machine, stop_start, reason, entered_by, entered_at "
                                  "FROM stop_reasons").fetchall()
        products = local.sql("SELECT product, machine, ideal_cycle_time_s, micro_stop_threshold_s "
                             "FROM products").fetchall()
    finally:
        local.close()
    with conn.transaction():
        conn.execute("INSERT INTO oee.edges VALUES (%s, %s, now(), now())", (edge_id, site))
        for machine in config.machines:
            conn.execute("INSERT INTO oee.machines (edge_id, site, machine, name, line, ideal_cycle_time_s, "
                         "micro_stop_threshold_s) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                         (edge_id, site, machine.id, machine.name, machine.line, machine.ideal_cycle_time_s,
                          machine.micro_stop_threshold_s))
        for code, reason in planning.reason_tree(config).items():
            conn.execute("INSERT INTO oee.reasons VALUES (%s, %s, %s, %s, %s, %s, %s)",
                         (edge_id, site, code, reason.name, reason.parent, reason.planned,
                          None if reason.loss is None else reason.loss.value))
        for product, machine, cycle, threshold in products:
            conn.execute("INSERT INTO oee.products VALUES (%s, %s, %s, %s, %s, %s)",
                         (edge_id, site, product, machine, cycle, threshold))
        for instance in planning.calendar(config).shifts_between(shifts_from, shifts_to):
            planned = sum(b.end - b.start for b in instance.breaks)
            conn.execute("INSERT INTO oee.shifts VALUES (%s, %s, %s, %s, %s, %s, %s)",
                         (edge_id, site, instance.label, instance.name, datetime.fromtimestamp(instance.start, UTC),
                          datetime.fromtimestamp(instance.end, UTC), instance.end - instance.start - planned))
        with conn.cursor().copy("COPY oee.state_intervals FROM STDIN") as copy:
            for machine, start, end, state in intervals:
                copy.write_row((edge_id, site, machine, _utc(start), _utc(end), state))
        with conn.cursor().copy("COPY oee.count_minutes FROM STDIN") as copy:
            for machine, minute, product, total, reject in counts:
                copy.write_row((edge_id, site, machine, _utc(minute), product, total, reject))
        with conn.cursor().copy("COPY oee.stop_reasons FROM STDIN") as copy:
            for machine, stop_start, reason, entered_by, entered_at in reasons_given:
                copy.write_row((edge_id, site, machine, _utc(stop_start), reason, entered_by, _utc(entered_at)))
