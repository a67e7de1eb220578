"""The local store: the DuckDB file of one data directory, owned by one process.

Every SQL statement over that file lives in this package; the layers above call it.
"""

from oee_tui.store.database import SampleRow, Store, StoreVersionError
from oee_tui.store.lock import StoreLockedError

__all__ = ["SampleRow", "Store", "StoreLockedError", "StoreVersionError"]
