"""The central store: every edge box pushes its DuckDB into one PostgreSQL (with TimescaleDB when the
database has it), exactly once and through outages.

`capability` is the one place that knows about TimescaleDB; `migrations` owns the central schema
(`oee.*`); `connection` opens psycopg connections from `[central]`; `sync` pushes the local store's tables
by their watermarks; `background` runs it beside the engine.
"""
