"""``[store]``: how the engine guards its local store: what it keeps in memory while the store cannot
be written, and its scheduled backups."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from oee_tui.config.toml_reader import TomlReader, TomlTable

DEFAULT_BACKUP_DIR: Final = "backups"  # inside the data dir


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """``[store]``: see the README's "Config file" and "Backups" sections."""

    # Samples and dead letters kept in memory while the store cannot be written (a full disk); past
    # it the oldest samples go first, counted and reported. Intervals and counts are never dropped.
    max_unsaved_rows: int = 1_000_000
    backup_every_h: float = 0.0  # 0: no scheduled backup
    backup_keep: int = 7  # the newest N backups are kept, older ones deleted
    backup_dir: str = DEFAULT_BACKUP_DIR  # relative to the data dir, or absolute (best on another disk)

    def backup_path(self, data_dir: Path) -> Path:
        return data_dir / Path(self.backup_dir).expanduser()


def read_store(r: TomlReader, data: TomlTable) -> StoreConfig:
    t = r.table(data, "store", "store", required=False)
    r.unknown_keys(t, "store", set(StoreConfig.__dataclass_fields__))
    defaults = StoreConfig()
    return StoreConfig(
        max_unsaved_rows=r.integer(t, "store", "max_unsaved_rows", defaults.max_unsaved_rows, 1_000, 1_000_000_000),
        backup_every_h=r.number(t, "store", "backup_every_h", default=defaults.backup_every_h, minimum=0.0),
        backup_keep=r.integer(t, "store", "backup_keep", defaults.backup_keep, 1, 1000),
        backup_dir=r.string(t, "store", "backup_dir", default=defaults.backup_dir),
    )
