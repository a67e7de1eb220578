"""Planning-file imports: read CSV/XLSX as people make them, validate every row before anything is written.

`validate_file(kind, path, config)` is the entry point; it returns an `ImportResult` whose
`records` are ready to store, or whose `problems` list every fault in the file.
`oee_tui.imports.write.write_result` writes a valid result in one transaction. Nothing here
imports Textual.

The names below load on first use: `oee --help` needs only the kinds (columns.py), not the
readers and validators (~45 ms of imports on every `oee` command).
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "KINDS": "columns", "SPECS": "columns", "aliases_doc": "columns", "normalize_header": "columns",
    "RawTable": "reading", "ReadError": "reading", "read_table": "reading",
    **{name: "validate" for name in (
        "ImportResult", "LoggedStop", "Order", "PlannedStop", "Problem", "ProductRate", "ProductionRun",
        "ReasonRecord", "Record", "ShiftPattern", "validate_file", "validate_table")},
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
