"""The local store: the DuckDB file of one data directory, owned by one process.

Every SQL statement over that file lives in this package; the layers above call it. `Store`
is the file (database.py: lock, connection, transactions) with every group of tables: each
group is a class of its own over `Database`, and a new group is one more base here.
"""

from oee_tui.store.audit_tables import AuditTables
from oee_tui.store.backups import StoreBackups
from oee_tui.store.bulk_export import BulkExports
from oee_tui.store.count_events import CountEvents
from oee_tui.store.day_summary_tables import DaySummaryTables, DaySums, Edge, SavedDay
from oee_tui.store.edge_spool import BufferedRow, EdgeSpoolTables, StoredRow
from oee_tui.store.fact_batch import FactBatch, FactsWritten, KeptSamples, ReasonEntry
from oee_tui.store.fact_tables import FactTables, SampleRow, StopPage
from oee_tui.store.failures import StoreDamagedError, StoreWriteError
from oee_tui.store.import_tables import ImportTables, WriteSummary
from oee_tui.store.lock import StoreLockedError
from oee_tui.store.machine_events import MachineEventTables
from oee_tui.store.migrations import StoreVersionError
from oee_tui.store.planning_codec import PlanningError
from oee_tui.store.planning_tables import PlanningTables
from oee_tui.store.report_reads import AttributionPieces, CountQuery, EdgePiece, ReportReads
from oee_tui.store.sync_tables import SyncTables


class Store(FactTables, CountEvents, ReportReads, BulkExports, PlanningTables, ImportTables, DaySummaryTables,
            EdgeSpoolTables, StoreBackups, MachineEventTables, AuditTables, SyncTables):
    """The DuckDB store of one data directory. Use `Store.open`; close it when done."""


__all__ = [
    "AttributionPieces",
    "BufferedRow",
    "CountQuery",
    "DaySums",
    "Edge",
    "EdgePiece",
    "FactBatch",
    "FactsWritten",
    "KeptSamples",
    "PlanningError",
    "ReasonEntry",
    "SampleRow",
    "SavedDay",
    "StopPage",
    "Store",
    "StoreDamagedError",
    "StoreLockedError",
    "StoreVersionError",
    "StoreWriteError",
    "StoredRow",
    "WriteSummary",
]
