"""What of an edge's config and planning the central analytics need to class its stops and time its parts
as `oee report` does: each machine's ideal cycle time and micro-stop threshold (`oee.machines`), and the
reason tree the edge uses (`oee.reason_tree`: config reasons, then imported ones).

Written only where something changed: the analytics layer reclassifies an edge's stops when either table
changes (analytics_ddl), which a push that rewrote them every time would pay on every push.
"""

from __future__ import annotations

import psycopg

from oee_tui.config import Config
from oee_tui.engine.oee.planning_rules import Planning

Connection = psycopg.Connection[tuple[object, ...]]

_MACHINE_COLUMNS = ("name", "line", "ideal_cycle_time_s", "micro_stop_threshold_s")


def push_edge_settings(con: Connection, edge_id: str, site: str, config: Config, planning: Planning) -> None:
    """The edge's machines and reason tree; call inside the transaction that registers the edge."""
    machines = [(edge_id, site, m.id, m.name, m.line, m.ideal_cycle_time_s, m.micro_stop_threshold_s)
                for m in config.machines]
    changed = ", ".join(f"{column} = excluded.{column}" for column in ("site", *_MACHINE_COLUMNS))
    differs = " OR ".join(f"oee.machines.{column} IS DISTINCT FROM excluded.{column}"
                          for column in ("site", *_MACHINE_COLUMNS))
    with con.cursor() as cur:
        cur.executemany("INSERT INTO oee.machines (edge_id, site, machine, name, line, ideal_cycle_time_s, "
                        "micro_stop_threshold_s) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                        f"ON CONFLICT (edge_id, machine) DO UPDATE SET {changed} WHERE {differs}", machines)
    con.execute("DELETE FROM oee.machines WHERE edge_id = %s AND NOT machine = ANY(%s)",
                [edge_id, [m.id for m in config.machines]])
    tree = sorted((code, reason.name, reason.parent, reason.planned, None if reason.loss is None else reason.loss.value)
                  for code, reason in planning.reason_tree(config).items())
    stored = sorted((str(code), str(name), None if parent is None else str(parent), bool(planned),
                     None if loss is None else str(loss))
                    for code, name, parent, planned, loss in con.execute(
                        "SELECT code, name, parent, planned, loss FROM oee.reason_tree WHERE edge_id = %s",
                        [edge_id]))
    if tree != stored:
        con.execute("DELETE FROM oee.reason_tree WHERE edge_id = %s", [edge_id])
        with con.cursor() as cur:
            cur.executemany("INSERT INTO oee.reason_tree VALUES (%s, %s, %s, %s, %s, %s, %s)",
                            [(edge_id, site, *row) for row in tree])
