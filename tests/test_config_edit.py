"""Editing the config file: comments kept, invalid edits refused before a byte is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from oee_tui.cli import SAMPLE_CONFIG
from oee_tui.config import ConfigError
from oee_tui.config.edit import ConfigDocument, ConfigEditError
from oee_tui.drivers.registry import KINDS, load_config


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "oee.toml"
    path.write_text(SAMPLE_CONFIG, encoding="utf-8")
    return path


def test_adding_a_source_keeps_every_comment_and_leaves_a_backup(config_path: Path) -> None:
    doc = ConfigDocument.open(config_path, KINDS)
    doc.upsert_source({"name": "s7", "kind": "s7", "host": "192.0.2.30", "rack": 0, "slot": 1})
    config = doc.save()

    assert [source.name for source in config.sources] == ["plc1", "s7"]
    text = config_path.read_text()
    for line in SAMPLE_CONFIG.splitlines():
        if "#" in line:
            assert line in text  # the user's comments, to the character
    assert config_path.with_name("oee.toml.bak").read_text() == SAMPLE_CONFIG
    assert load_config(config_path).sources[1].slot == 1
    assert sorted(p.name for p in config_path.parent.iterdir()) == ["oee.toml", "oee.toml.bak"]  # no temp left


def test_an_invalid_edit_is_refused_and_the_file_is_untouched(config_path: Path) -> None:
    doc = ConfigDocument.open(config_path, KINDS)
    doc.upsert_source({"name": "plc1", "kind": "modbus", "host": "192.0.2.10", "port": 70000}, old_name="plc1")
    with pytest.raises(ConfigError, match=r"sources\[plc1\]\.port.*70000"):
        doc.save()
    assert config_path.read_text() == SAMPLE_CONFIG
    assert not config_path.with_name("oee.toml.bak").exists()


def test_renaming_a_source_moves_its_tag_maps(config_path: Path) -> None:
    doc = ConfigDocument.open(config_path, KINDS)
    settings = doc.source("plc1") | {"name": "filler-plc"}
    doc.upsert_source(settings, old_name="plc1")
    config = doc.save()
    assert {mapping.source for mapping in config.machines[0].signals.values()} == {"filler-plc"}
    assert "# modbus | opcua" in config_path.read_text()  # the comment on the kind line stayed


def test_a_source_in_use_cannot_be_deleted(config_path: Path) -> None:
    doc = ConfigDocument.open(config_path, KINDS)
    with pytest.raises(ConfigEditError, match="source 'plc1' still feeds L1-FILL"):
        doc.delete_source("plc1")
    for machine, signal, _mapping in doc.signals_of_source("plc1"):
        doc.set_signal(machine, signal, None)
    doc.delete_source("plc1")
    assert doc.source_names() == []


def test_tag_maps_are_set_and_unset(config_path: Path) -> None:
    doc = ConfigDocument.open(config_path, KINDS)
    doc.set_signal("L1-FILL", "speed", {"source": "plc1", "tag": "hr:10", "type": "float32"})
    doc.set_signal("L1-FILL", "fault", None)
    config = doc.save()
    signals = {signal.value: mapping for signal, mapping in config.machines[0].signals.items()}
    assert signals["speed"].tag == "hr:10" and signals["speed"].type == "float32"
    assert "fault" not in signals


def test_a_file_changed_by_someone_else_is_not_overwritten(config_path: Path) -> None:
    doc = ConfigDocument.open(config_path, KINDS)
    doc.upsert_source({"name": "s7", "kind": "s7", "host": "192.0.2.30"})
    config_path.write_text(SAMPLE_CONFIG + "\n# edited by hand\n", encoding="utf-8")
    with pytest.raises(ConfigEditError, match="changed by someone else"):
        doc.save()
    assert config_path.read_text().endswith("# edited by hand\n")
