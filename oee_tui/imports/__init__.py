"""Planning-file imports: read CSV/XLSX as people make them, validate every row before anything is written.

`validate_file(kind, path, config)` is the entry point; it returns an `ImportResult` whose
`records` (the planning records of oee_tui.model) are ready to store, or whose `problems` list
every fault in the file. `oee_tui.imports.write.write_result` has the store write a valid result
in one transaction. Nothing here imports Textual.

The names below load on first use: `oee --help` needs only the kinds (columns.py), not the
readers and validators (~45 ms of imports on every `oee` command).
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "KINDS": "oee_tui.imports.columns", "SPECS": "oee_tui.imports.columns",
    "aliases_doc": "oee_tui.imports.columns", "normalize_header": "oee_tui.imports.columns",
    "RawTable": "oee_tui.imports.reading", "ReadError": "oee_tui.imports.reading",
    "read_table": "oee_tui.imports.reading", "Problem": "oee_tui.imports.problems",
    "ImportResult": "oee_tui.imports.validate", "validate_file": "oee_tui.imports.validate",
    "validate_table": "oee_tui.imports.validate",
    # The records a valid file becomes, as every layer knows them.
    **{name: "oee_tui.model" for name in (
        "LoggedStop", "Order", "PlannedStop", "ProductRate", "ProductionRun", "ReasonRecord", "ShiftPattern")},
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
