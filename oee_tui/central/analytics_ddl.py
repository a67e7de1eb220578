"""The central schema's analytics layer (migration V2): state pieces, aggregates per machine, OEE views.

Built over the sync's tables (V1, the contract in docs). Three floors:

* `oee.state_pieces`: each closed state interval cut at minute boundaries, with its stop class
  (run, planned, breakdown, setup, minor_stop, no_data: `engine/oee/calculator.classify_interval`'s
  rules in SQL). A trigger on `oee.state_intervals` keeps it, so no push has to know it exists;
  triggers on `oee.stop_reasons`, `oee.reason_tree` and `oee.machines` reclassify what a late reason or
  a changed reason tree changes. An interval has to be cut because an aggregate can only sum rows
  that fall inside its bucket: a run of three hours must give 60 s to each of 180 minutes.
* `oee.machine_states_<level>` and `oee.machine_counts_<level>` for 1m, 5m, 1h and 1d: seconds per
  class and parts per product, per machine and bucket. Continuous aggregates with TimescaleDB
  (real time: the newest buckets are computed on read); without it, tables of the same names that
  `central.aggregates.refresh_aggregates` (after each push) recomputes for the days that changed.
* `oee.machine_oee_<level>`, `oee.line_oee_<level>`, `oee.site_oee_<level>`, `oee.machine_oee_by_shift`:
  the OEE inputs (planned production time, run time, ideal time, good and total counts) summed, and
  the ratios computed from those sums, never averaged. The ideal time is read through
  `oee.ideal_cycle_times` when the view is queried, so a product's cycle time imported later counts
  for its past parts too, as it does in `oee report`.

Only `statements(timescale)` knows which floor becomes what; the capability check decides `timescale`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

# (suffix of the relation names, the bucket's width as a PostgreSQL interval)
LEVELS: Final = (("1m", "1 minute"), ("5m", "5 minutes"), ("1h", "1 hour"), ("1d", "1 day"))

# The stop classes of the calculator, as the pieces carry them.
CLASSES: Final = ("run", "planned", "breakdown", "setup", "minor_stop", "no_data")

_PIECES: Final = """
-- Machine settings a stop's class and a part's ideal time depend on, from the edge's config.
ALTER TABLE oee.machines ADD COLUMN IF NOT EXISTS ideal_cycle_time_s float8;
ALTER TABLE oee.machines ADD COLUMN IF NOT EXISTS micro_stop_threshold_s float8;

-- The reason tree each edge classes its stops by (`oee report`'s: the config's reasons, then the imported
-- ones, a same code replacing the config's), resolved: what oee.reasons (the imported table) alone lacks.
CREATE TABLE oee.reason_tree (
    edge_id text NOT NULL,
    site    text NOT NULL,
    code    text NOT NULL,
    name    text NOT NULL,
    parent  text,
    planned boolean NOT NULL,
    loss    text,
    PRIMARY KEY (edge_id, code)
);

-- Each closed state interval cut at minute boundaries; `stop_class` as the calculator classifies it.
CREATE TABLE oee.state_pieces (
    edge_id        text NOT NULL,
    site           text NOT NULL,
    machine        text NOT NULL,
    interval_start timestamptz NOT NULL,
    interval_s     float8 NOT NULL,
    ts             timestamptz NOT NULL,
    seconds        float8 NOT NULL,
    state          text NOT NULL,
    reason         text,
    stop_class     text NOT NULL
);
CREATE INDEX state_pieces_interval ON oee.state_pieces (edge_id, machine, interval_start);
-- A machine's pieces over time: the day refresh without TimescaleDB, the Pareto and the central review.
CREATE INDEX state_pieces_time ON oee.state_pieces (edge_id, machine, ts);
"""

_PIECE_RULES: Final = """
-- classify_interval() of engine/oee/calculator.py: the class of a whole interval (its full length
-- decides a micro-stop, never the part a window holds). A reason the edge's tree does not have
-- classes the stop by its state, as in `oee report`.
CREATE FUNCTION oee.stop_class(p_edge text, p_machine text, p_state text, p_reason text, p_seconds float8)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN p_state = 'running' THEN 'run'
        WHEN p_state = 'offline' THEN 'no_data'
        WHEN p_state = 'planned_stop' THEN 'planned'
        WHEN r.planned THEN 'planned'
        WHEN r.loss = 'setup' THEN 'setup'
        WHEN r.loss = 'minor_stop' THEN 'minor_stop'
        WHEN r.code IS NULL AND p_state = 'changeover' THEN 'setup'
        WHEN r.code IS NULL AND p_state = 'minor_stop' THEN 'minor_stop'
        WHEN p_seconds < coalesce(m.micro_stop_threshold_s, 0) THEN 'minor_stop'
        ELSE 'breakdown'
    END
    FROM (SELECT 1) AS one
    LEFT JOIN oee.reason_tree r ON r.edge_id = p_edge AND r.code = p_reason
    LEFT JOIN oee.machines m ON m.edge_id = p_edge AND m.machine = p_machine
$$;

-- The pieces of one interval, with its newest reason. An open interval has none yet: its length, and
-- so its class, is known when it closes (the state timeline shows it meanwhile).
CREATE FUNCTION oee.pieces_of(p_edge text, p_site text, p_machine text, p_start timestamptz, p_end timestamptz,
                              p_state text)
RETURNS SETOF oee.state_pieces LANGUAGE sql STABLE AS $$
    SELECT p_edge, p_site, p_machine, p_start, c.interval_s, greatest(m.minute, p_start),
           extract(epoch FROM least(m.minute + interval '1 minute', p_end) - greatest(m.minute, p_start))::float8,
           p_state, c.reason, c.stop_class
    FROM (  -- the class once per interval, not once per minute
        SELECT s.interval_s, s.reason, oee.stop_class(p_edge, p_machine, p_state, s.reason, s.interval_s) AS stop_class
        FROM (
            SELECT extract(epoch FROM p_end - p_start)::float8 AS interval_s,
                   (SELECT sr.reason FROM oee.stop_reasons sr
                    WHERE sr.edge_id = p_edge AND sr.machine = p_machine AND sr.stop_start = p_start
                    ORDER BY sr.entered_at DESC LIMIT 1) AS reason
            OFFSET 0  -- keeps the planner from inlining it back into every row
        ) s
    ) c
    CROSS JOIN generate_series(date_trunc('minute', p_start), p_end, interval '1 minute') AS m(minute)
    WHERE p_end IS NOT NULL AND m.minute < p_end
$$;

CREATE VIEW oee.interval_pieces AS
SELECT p.* FROM oee.state_intervals i
CROSS JOIN LATERAL oee.pieces_of(i.edge_id, i.site, i.machine, i.start_ts, i.end_ts, i.state) p;

-- The pieces of one interval, rebuilt from its row: when its reason changes.
CREATE FUNCTION oee.rebuild_pieces(p_edge text, p_machine text, p_start timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM oee.state_pieces
    WHERE edge_id = p_edge AND machine = p_machine AND interval_start = p_start;
    INSERT INTO oee.state_pieces
    SELECT * FROM oee.interval_pieces
    WHERE edge_id = p_edge AND machine = p_machine AND interval_start = p_start;
END $$;

-- The pieces are made from NEW, not read back from the table: in a compressed chunk, a row just
-- inserted is not yet visible to a query in its own AFTER trigger (TimescaleDB 2.28).
CREATE FUNCTION oee.state_intervals_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM oee.state_pieces
        WHERE edge_id = OLD.edge_id AND machine = OLD.machine AND interval_start = OLD.start_ts;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO oee.state_pieces
        SELECT * FROM oee.pieces_of(NEW.edge_id, NEW.site, NEW.machine, NEW.start_ts, NEW.end_ts, NEW.state);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER state_intervals_pieces AFTER INSERT OR UPDATE OR DELETE ON oee.state_intervals
    FOR EACH ROW EXECUTE FUNCTION oee.state_intervals_changed();

-- A reason given after the fact changes its stop's class.
CREATE FUNCTION oee.stop_reasons_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM oee.rebuild_pieces(NEW.edge_id, NEW.machine, NEW.stop_start);
    RETURN NULL;
END $$;
CREATE TRIGGER stop_reasons_pieces AFTER INSERT OR UPDATE ON oee.stop_reasons
    FOR EACH ROW EXECUTE FUNCTION oee.stop_reasons_changed();

-- A changed reason tree or micro-stop threshold reclassifies the stops of the edges it concerns (the
-- transition table says which; a statement that changed nothing costs nothing).
CREATE FUNCTION oee.reclassify_stops() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE oee.state_pieces p
    SET stop_class = oee.stop_class(p.edge_id, p.machine, p.state, p.reason, p.interval_s)
    WHERE p.edge_id IN (SELECT DISTINCT edge_id FROM changed)
      AND p.state NOT IN ('running', 'offline', 'planned_stop')
      AND p.stop_class IS DISTINCT FROM oee.stop_class(p.edge_id, p.machine, p.state, p.reason, p.interval_s);
    RETURN NULL;
END $$;
CREATE TRIGGER reason_tree_reclassify_insert AFTER INSERT ON oee.reason_tree
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION oee.reclassify_stops();
CREATE TRIGGER reason_tree_reclassify_update AFTER UPDATE ON oee.reason_tree
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION oee.reclassify_stops();
CREATE TRIGGER reason_tree_reclassify_delete AFTER DELETE ON oee.reason_tree
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION oee.reclassify_stops();
CREATE TRIGGER machines_reclassify_insert AFTER INSERT ON oee.machines
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION oee.reclassify_stops();
CREATE TRIGGER machines_reclassify_update AFTER UPDATE ON oee.machines
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION oee.reclassify_stops();
CREATE TRIGGER machines_reclassify_delete AFTER DELETE ON oee.machines
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION oee.reclassify_stops();

-- The intervals pushed before this migration.
INSERT INTO oee.state_pieces SELECT * FROM oee.interval_pieces;

-- A part's ideal cycle time: the product's on this machine, else the product's default (machine ''),
-- else the machine's. As in `oee report`, from the planning data the edge imported.
CREATE VIEW oee.ideal_cycle_times AS
SELECT m.edge_id, m.machine, p.product,
       coalesce(own.ideal_cycle_time_s, every.ideal_cycle_time_s, m.ideal_cycle_time_s) AS ideal_cycle_time_s
FROM oee.machines m
CROSS JOIN LATERAL (
    SELECT DISTINCT product FROM oee.products WHERE edge_id = m.edge_id
    UNION SELECT ''
) p
LEFT JOIN oee.products own ON own.edge_id = m.edge_id AND own.product = p.product AND own.machine = m.machine
LEFT JOIN oee.products every ON every.edge_id = m.edge_id AND every.product = p.product AND every.machine = '';
"""

_TIMESCALE_PIECES: Final = """
SELECT create_hypertable('oee.state_pieces', by_range('ts', INTERVAL '7 days'));
"""


def _seconds(cls: str) -> str:
    return f"coalesce(sum(seconds) FILTER (WHERE stop_class = '{cls}'), 0)::float8 AS {cls}_s"


def _bucket(width: str, column: str, timescale: bool) -> str:
    if timescale:
        return f"time_bucket(INTERVAL '{width}', {column})"
    return f"date_bin(INTERVAL '{width}', {column}, TIMESTAMPTZ '2000-01-01 00:00:00+00')"


def _states_select(width: str, timescale: bool, joined: str = "") -> str:
    """Seconds per class per machine and bucket, of the pieces `joined` keeps (all without)."""
    return (f"SELECT p.edge_id, p.site, p.machine, {_bucket(width, 'p.ts', timescale)} AS bucket, "
            + ", ".join(_seconds(cls) for cls in CLASSES)
            + f" FROM oee.state_pieces p {joined} GROUP BY p.edge_id, p.site, p.machine, bucket")


def _counts_select(width: str, timescale: bool, joined: str = "") -> str:
    return (f"SELECT p.edge_id, p.site, p.machine, p.product, {_bucket(width, 'p.minute', timescale)} AS bucket, "
            "sum(p.total)::bigint AS total, sum(p.reject)::bigint AS reject "
            f"FROM oee.count_minutes p {joined} GROUP BY p.edge_id, p.site, p.machine, p.product, bucket")


def _continuous_aggregates() -> list[str]:
    # Real time: buckets not yet materialized are computed on read, so a push shows at once.
    options = "WITH (timescaledb.continuous, timescaledb.materialized_only = false)"
    out: list[str] = []
    for suffix, width in LEVELS:
        out.append(f"CREATE MATERIALIZED VIEW oee.machine_states_{suffix} {options} AS "
                   f"{_states_select(width, True)} WITH NO DATA;")
        out.append(f"CREATE MATERIALIZED VIEW oee.machine_counts_{suffix} {options} AS "
                   f"{_counts_select(width, True)} WITH NO DATA;")
    return out


# Without TimescaleDB the aggregates are tables that `oee.refresh_aggregates()` brings up to date by UTC
# day: statement triggers note each (edge, machine, day) whose pieces or counts changed, and a refresh
# recomputes only those days at every level (all levels nest in UTC days). A materialized view would
# recompute all history on every push: seconds per push after a few weeks.
_DIRTY: Final = """
CREATE TABLE oee.aggregates_dirty (
    edge_id text NOT NULL,
    machine text NOT NULL,
    day     timestamptz NOT NULL,
    PRIMARY KEY (edge_id, machine, day)
);
"""

_DAY: Final = "date_bin(INTERVAL '1 day', {column}, TIMESTAMPTZ '2000-01-01 00:00:00+00')"


def _dirty_triggers(table: str, column: str) -> str:
    day = _DAY.format(column=column)
    out = f"""
CREATE FUNCTION oee.{table}_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO oee.aggregates_dirty SELECT DISTINCT edge_id, machine, {day} FROM changed ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
"""
    # An update never moves a row to another machine or minute (keys stay), so its old rows say where.
    for event, transition in (("INSERT", "NEW"), ("UPDATE", "OLD"), ("DELETE", "OLD")):
        out += (f"CREATE TRIGGER {table}_dirty_{event.lower()} AFTER {event} ON oee.{table} "
                f"REFERENCING {transition} TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION oee.{table}_dirty();\n")
    return out


def _update_set(columns: Sequence[str]) -> str:
    return ", ".join(f"{column} = EXCLUDED.{column}" for column in columns)


def _incremental_aggregates() -> list[str]:
    out = [_DIRTY]
    taken = ("JOIN taken_days d ON d.edge_id = p.edge_id AND d.machine = p.machine "
             "AND p.{column} >= d.day AND p.{column} < d.day + INTERVAL '1 day'")
    refresh = ["CREATE TEMP TABLE IF NOT EXISTS taken_days (edge_id text, machine text, day timestamptz) "
               "ON COMMIT DELETE ROWS;",
               "WITH taken AS (DELETE FROM oee.aggregates_dirty RETURNING edge_id, machine, day) "
               "INSERT INTO taken_days SELECT * FROM taken;",
               # A temp table has no statistics: without them the planner scans every piece per level.
               "ANALYZE taken_days;"]
    state_columns = [f"{cls}_s" for cls in CLASSES]
    for suffix, width in LEVELS:
        for kind, select, key, columns in (
                ("states", _states_select(width, False), "edge_id, machine, bucket", state_columns),
                ("counts", _counts_select(width, False), "edge_id, machine, product, bucket", ["total", "reject"])):
            name = f"oee.machine_{kind}_{suffix}"
            column = "ts" if kind == "states" else "minute"
            out.append(f"CREATE TABLE {name} AS {select} WITH NO DATA;")
            out.append(f"ALTER TABLE {name} ADD PRIMARY KEY ({key});")
            joined = (_states_select if kind == "states" else _counts_select)(
                width, False, taken.format(column=column))
            refresh.append(f"DELETE FROM {name} a USING taken_days d WHERE a.edge_id = d.edge_id "
                           "AND a.machine = d.machine AND a.bucket >= d.day AND a.bucket < d.day + INTERVAL '1 day';")
            refresh.append(f"INSERT INTO {name} {joined} ON CONFLICT ({key}) DO UPDATE SET {_update_set(columns)};")
    body = "\n    ".join(refresh)
    out.append(f"CREATE FUNCTION oee.refresh_aggregates() RETURNS void LANGUAGE plpgsql AS $$\n"
               f"BEGIN\n    {body}\nEND $$;")
    out.append(_dirty_triggers("state_pieces", "ts"))
    out.append(_dirty_triggers("count_minutes", "minute"))
    # What was pushed before this migration: refreshed by the first refresh_aggregates().
    out.append(f"INSERT INTO oee.aggregates_dirty SELECT DISTINCT edge_id, machine, {_DAY.format(column='ts')} "
               f"FROM oee.state_pieces UNION SELECT DISTINCT edge_id, machine, {_DAY.format(column='minute')} "
               "FROM oee.count_minutes;")
    return out


def _aggregates(timescale: bool) -> list[str]:
    return _continuous_aggregates() if timescale else _incremental_aggregates()


# The OEE inputs of any set of rows, summed; the ratios from the sums (calculator._build's).
_RATIOS: Final = """
    CASE WHEN sum(planned_production_s) > 0 THEN sum(run_s) / sum(planned_production_s) END AS availability,
    CASE WHEN sum(run_s) > 0 THEN sum(ideal_s) / sum(run_s) END AS performance,
    CASE WHEN sum(ideal_s) > 0 THEN sum(good_ideal_s) / sum(ideal_s) END AS quality,
    CASE WHEN sum(planned_production_s) > 0 THEN sum(good_ideal_s) / sum(planned_production_s) END AS oee
"""

_INPUT_SUMS: Final = """
    sum(planned_production_s) AS planned_production_s, sum(run_s) AS run_s,
    sum(breakdown_s) AS breakdown_s, sum(setup_s) AS setup_s, sum(minor_stop_s) AS minor_stop_s,
    sum(planned_s) AS planned_s, sum(no_data_s) AS no_data_s,
    sum(ideal_s) AS ideal_s, sum(good_ideal_s) AS good_ideal_s,
    sum(total_count)::bigint AS total_count, sum(good_count)::bigint AS good_count
"""


def _machine_oee(suffix: str) -> str:
    """Per machine and bucket: the OEE inputs and the machine's ratios.

    Planned production time is the time covered by run, breakdown, setup and minor stops: the
    engine writes planned_stop inside breaks, planned stops and outside the schedule, and offline
    where it has no data, so this is the calculator's scheduled - planned - no data.
    """
    return f"""
CREATE VIEW oee.machine_oee_{suffix} AS
WITH parts AS (
    SELECT c.edge_id, c.machine, c.bucket,
           sum(c.total)::bigint AS total_count, sum(c.total - c.reject)::bigint AS good_count,
           coalesce(sum(c.total * ct.ideal_cycle_time_s), 0)::float8 AS ideal_s,
           coalesce(sum((c.total - c.reject) * ct.ideal_cycle_time_s), 0)::float8 AS good_ideal_s
    FROM oee.machine_counts_{suffix} c
    LEFT JOIN oee.ideal_cycle_times ct
        ON ct.edge_id = c.edge_id AND ct.machine = c.machine AND ct.product = c.product
    GROUP BY c.edge_id, c.machine, c.bucket
), inputs AS (
    SELECT coalesce(s.edge_id, p.edge_id) AS edge_id, coalesce(s.machine, p.machine) AS machine,
           coalesce(s.bucket, p.bucket) AS bucket,
           coalesce(s.run_s + s.breakdown_s + s.setup_s + s.minor_stop_s, 0) AS planned_production_s,
           coalesce(s.run_s + s.minor_stop_s, 0) AS run_s,
           coalesce(s.breakdown_s, 0) AS breakdown_s, coalesce(s.setup_s, 0) AS setup_s,
           coalesce(s.minor_stop_s, 0) AS minor_stop_s, coalesce(s.planned_s, 0) AS planned_s,
           coalesce(s.no_data_s, 0) AS no_data_s,
           coalesce(p.ideal_s, 0) AS ideal_s, coalesce(p.good_ideal_s, 0) AS good_ideal_s,
           coalesce(p.total_count, 0) AS total_count, coalesce(p.good_count, 0) AS good_count
    FROM oee.machine_states_{suffix} s
    FULL JOIN parts p ON p.edge_id = s.edge_id AND p.machine = s.machine AND p.bucket = s.bucket
)
SELECT i.edge_id, m.site, m.line, i.machine, i.bucket, {_INPUT_SUMS}, {_RATIOS}
FROM inputs i
JOIN oee.machines m ON m.edge_id = i.edge_id AND m.machine = i.machine
GROUP BY i.edge_id, m.site, m.line, i.machine, i.bucket;
"""


def _rollup(suffix: str) -> list[str]:
    return [
        f"CREATE VIEW oee.line_oee_{suffix} AS SELECT site, line, bucket, {_INPUT_SUMS}, {_RATIOS} "
        f"FROM oee.machine_oee_{suffix} GROUP BY site, line, bucket;",
        f"CREATE VIEW oee.site_oee_{suffix} AS SELECT site, bucket, {_INPUT_SUMS}, {_RATIOS} "
        f"FROM oee.machine_oee_{suffix} GROUP BY site, bucket;",
    ]


# Per machine and shift instance of its edge's calendar: the minutes whose start lies in the shift, as
# the report counts a minute's parts by the minute's start (shifts start and end on whole minutes).
_BY_SHIFT: Final = f"""
CREATE VIEW oee.machine_oee_by_shift AS
SELECT o.edge_id, o.site, o.line, o.machine, sh.shift, sh.shift_name, sh.shift_start, sh.shift_end,
       {_INPUT_SUMS}, {_RATIOS}
FROM oee.machine_oee_1m o
JOIN (SELECT edge_id AS shift_edge, shift, name AS shift_name, start_ts AS shift_start, end_ts AS shift_end
      FROM oee.shifts) sh
    ON sh.shift_edge = o.edge_id AND o.bucket >= sh.shift_start AND o.bucket < sh.shift_end
GROUP BY o.edge_id, o.site, o.line, o.machine, sh.shift, sh.shift_name, sh.shift_start, sh.shift_end;
"""


def statements(timescale: bool) -> tuple[str, ...]:
    """Migration V2's statements, in order; `timescale` from the one capability check."""
    out = [_PIECES]
    if timescale:
        out.append(_TIMESCALE_PIECES)
    out.append(_PIECE_RULES)
    out.extend(_aggregates(timescale))
    for suffix, _ in LEVELS:
        out.append(_machine_oee(suffix))
        out.extend(_rollup(suffix))
    out.append(_BY_SHIFT)
    return tuple(out)


def aggregate_names() -> tuple[str, ...]:
    """The aggregates, finest first: what a refresh goes through."""
    return tuple(f"oee.machine_{kind}_{suffix}" for suffix, _ in LEVELS for kind in ("states", "counts"))
