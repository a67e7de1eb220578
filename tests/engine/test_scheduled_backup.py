"""`[store]`: its settings are read and checked, and the engine's backup runs on its writer thread
while it runs, keeping the newest `backup_keep`."""

from __future__ import annotations

from pathlib import Path

import pytest

from oee_tui.config import ConfigError, StoreConfig
from oee_tui.drivers.registry import config_from_dict
from oee_tui.engine.live.engine import Engine
from oee_tui.model import Quality, TagSample
from oee_tui.store import Store
from oee_tui.store.backups import backups_in
from oee_tui.store.store_check import check_file
from tests.imports.test_import_oee import at, plant

BASE = {"site": {"name": "T", "timezone": "UTC"}}


def test_store_settings_are_read_with_defaults() -> None:
    assert config_from_dict(dict(BASE)).store == StoreConfig()
    config = config_from_dict({**BASE, "store": {"backup_every_h": 6, "backup_keep": 3, "backup_dir": "/mnt/b",
                                                 "max_unsaved_rows": 5000}})
    assert config.store == StoreConfig(max_unsaved_rows=5000, backup_every_h=6.0, backup_keep=3, backup_dir="/mnt/b")
    assert config.store.backup_path(Path("/data")) == Path("/mnt/b")
    assert StoreConfig().backup_path(Path("/data")) == Path("/data/backups")


@pytest.mark.parametrize(("table", "words"), [({"backup_keep": 0}, "backup_keep"),
                                              ({"max_unsaved_rows": 10}, "max_unsaved_rows"),
                                              ({"backup_every": 1}, "backup_every")])
def test_bad_store_settings_are_refused_by_name(table: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        config_from_dict({**BASE, "store": table})


async def test_the_running_engine_backs_up_its_store(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "data")
    config = plant(with_plc=True)
    engine = Engine(config, store, clock=lambda: at("06:10"), acquire=False)
    await engine.start()
    try:
        engine.ingest([TagSample(at("06:10"), "plc", "hr:4", 1, Quality.GOOD)])
        await engine.flush()
        for _ in range(3):
            await engine.backup()
        backups = backups_in(tmp_path / "data" / "backups")
        assert len(backups) == 3  # backup_keep's default is 7
        result = check_file(backups[-1])
        assert result.ok and result.tables["samples"] == 1
    finally:
        await engine.stop()
        store.close()
