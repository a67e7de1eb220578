"""Planning-file imports: read CSV/XLSX as people make them, validate every row before anything is written.

`validate_file(kind, path, config)` is the entry point; it returns an `ImportResult` whose
`records` are ready to store, or whose `problems` list every fault in the file. Nothing here
writes to the store or imports Textual.
"""

from oee_tui.imports.columns import KINDS, SPECS, aliases_doc, normalize_header
from oee_tui.imports.reading import RawTable, ReadError, read_table
from oee_tui.imports.validate import (
    ImportResult,
    LoggedStop,
    Order,
    PlannedStop,
    Problem,
    ProductionRun,
    ProductRate,
    ReasonRecord,
    Record,
    ShiftPattern,
    validate_file,
    validate_table,
)

__all__ = [
    "KINDS",
    "SPECS",
    "ImportResult",
    "LoggedStop",
    "Order",
    "PlannedStop",
    "Problem",
    "ProductRate",
    "ProductionRun",
    "RawTable",
    "ReadError",
    "ReasonRecord",
    "Record",
    "ShiftPattern",
    "aliases_doc",
    "normalize_header",
    "read_table",
    "validate_file",
    "validate_table",
]
