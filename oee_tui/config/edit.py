"""Changing the config file from the app: sources and their tag maps, saved safely.

The file is the user's: they write comments in it and keep it under their own
version control. Edits go through tomlkit, which keeps comments, order and
layout; every change is validated by the same reader `oee` starts with before a
byte is written; the write goes to a temporary file that replaces the old one
only once it is complete (a crash leaves the old or the new file, never half of
one), and the previous file is kept as `<name>.bak`.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
import shutil
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Table

from oee_tui.config.kinds import SourceKinds
from oee_tui.config.loading import config_from_dict
from oee_tui.config.plant import Config
from oee_tui.config.toml_reader import ConfigError


class ConfigEditError(Exception):
    """An edit that cannot be made; the message says why in the user's terms."""


class ConfigDocument:
    """A config file opened for editing. Nothing changes on disk until save()."""

    def __init__(self, path: Path, text: str, kinds: SourceKinds, *, secrets: bool = True) -> None:
        self.path = path
        self.kinds = kinds  # what validate() checks each source and tag map against
        # False: validate() does not read passwords from variables and files (a TUI attached to the
        # engine, whose user may not read them; the engine checks them when it saves).
        self.secrets = secrets
        self._original = text
        self.doc = tomlkit.parse(text)

    @classmethod
    def open(cls, path: Path, kinds: SourceKinds, *, secrets: bool = True) -> ConfigDocument:
        return cls(path, path.read_text(encoding="utf-8"), kinds, secrets=secrets)

    def __deepcopy__(self, memo: dict[int, object]) -> ConfigDocument:
        # A copy is a candidate edit (the screens try a change on one): the text is copied, the
        # kinds are the program's and shared.
        clone = copy.copy(self)
        clone.doc = copy.deepcopy(self.doc, memo)
        return clone

    def text(self) -> str:
        return tomlkit.dumps(self.doc)

    @property
    def original(self) -> str:
        """The text as opened (or last saved): save() refuses to replace a file that no longer holds it."""
        return self._original

    def with_text(self, text: str) -> ConfigDocument:
        """This file, opened as `original`, edited to `text` (an edit made elsewhere, sent to be saved here)."""
        edited = ConfigDocument(self.path, self._original, self.kinds, secrets=self.secrets)
        edited.doc = tomlkit.parse(text)
        return edited

    def validate(self) -> Config:
        """The config as `oee` would read it; raises ConfigError naming the key and value."""
        return config_from_dict(tomllib.loads(self.text()), self.kinds, self.path, secrets=self.secrets)

    # ------------------------------------------------------------ sources

    def source_names(self) -> list[str]:
        return [str(table.get("name")) for table in self._sources()]

    def source(self, name: str) -> dict[str, Any]:
        return dict(self._source_table(name).unwrap())

    def upsert_source(self, values: Mapping[str, Any], *, old_name: str | None = None) -> None:
        """Add a source, or replace the settings of `old_name` (renaming it and its tag maps if the name changed)."""
        name = str(values["name"])
        if old_name is None:
            if name in self.source_names():
                raise ConfigEditError(f"a source named {name!r} already exists")
            sources = self.doc.get("sources")
            if sources is None:
                sources = tomlkit.aot()
                self.doc.append("sources", sources)
            table = tomlkit.table()
            for key, value in values.items():
                if value is not None:
                    table.add(key, value)
            sources.append(table)
            return
        table = self._source_table(old_name)
        if name != old_name and name in self.source_names():
            raise ConfigEditError(f"a source named {name!r} already exists")
        for key in [key for key in table if key not in values or values[key] is None]:
            del table[key]
        for key, value in values.items():
            if value is not None:
                table[key] = value  # assignment keeps the key's position and its comment
        if name != old_name:
            for mapping in self._mappings():
                if mapping.get("source") == old_name:
                    mapping["source"] = name

    def delete_source(self, name: str) -> None:
        users = sorted({machine for machine, _signal, mapping in self._mappings_with_owner()
                        if mapping.get("source") == name})
        if users:
            raise ConfigEditError(f"source {name!r} still feeds {', '.join(users)}: "
                                  "remove or move those tag maps first")
        sources = self._sources()
        index = next(i for i, table in enumerate(sources) if table.get("name") == name)
        del sources[index]

    # ------------------------------------------------------------ tag maps

    def set_signal(self, machine: str, signal: str, mapping: Mapping[str, Any] | None) -> None:
        """Map `signal` of `machine` to a tag ({"source": ..., "tag": ..., ...}), or unmap it with None."""
        table = self._machine_table(machine)
        signals = table.get("signals")
        if signals is None:
            if mapping is None:
                return
            signals = tomlkit.table()
            table.append("signals", signals)
        if mapping is None:
            if signal in signals:
                del signals[signal]
            return
        inline = tomlkit.inline_table()
        inline.update({key: value for key, value in mapping.items() if value is not None})
        signals[signal] = inline

    def signals_of_source(self, source: str) -> list[tuple[str, str, dict[str, Any]]]:
        """(machine id, signal, mapping) for every tag map that reads from `source`."""
        return [(machine, signal, dict(mapping)) for machine, signal, mapping in self._mappings_with_owner()
                if mapping.get("source") == source]

    # ------------------------------------------------------------ saving

    def save(self) -> Config:
        """Validate, keep the previous file as .bak, and replace the file atomically. Returns the new config."""
        config = self.validate()
        text = self.text()
        on_disk = self.path.read_text(encoding="utf-8") if self.path.exists() else None
        if on_disk is not None and on_disk != self._original:
            raise ConfigEditError(f"{self.path} was changed by someone else since it was opened; "
                                  "reopen it and make the change again")
        write_atomically(self.path, text, backup=on_disk is not None)
        self._original = text
        return config

    # ------------------------------------------------------------ internals

    def _sources(self) -> AoT:
        sources = self.doc.get("sources")
        return sources if isinstance(sources, AoT) else tomlkit.aot()

    def _source_table(self, name: str) -> Table:
        for table in self._sources():
            if isinstance(table, Table) and table.get("name") == name:
                return table
        raise ConfigEditError(f"there is no source named {name!r}")

    def _machine_table(self, machine: str) -> Table:
        machines = self.doc.get("machines")
        for table in machines if isinstance(machines, AoT) else []:
            if isinstance(table, Table) and table.get("id") == machine:
                return table
        raise ConfigEditError(f"there is no machine with id {machine!r}")

    def _mappings_with_owner(self) -> list[tuple[str, str, Any]]:
        machines = self.doc.get("machines")
        out = []
        for table in machines if isinstance(machines, AoT) else []:
            for signal, mapping in (table.get("signals") or {}).items():
                out.append((str(table.get("id")), str(signal), mapping))
        return out

    def _mappings(self) -> list[Any]:
        return [mapping for _machine, _signal, mapping in self._mappings_with_owner()]


def write_atomically(path: Path, text: str, *, backup: bool) -> None:
    """Write `text` to `path` so that a crash leaves the old file or the new one, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    if backup and path.exists():
        shutil.copy2(path, path.with_name(path.name + ".bak"))
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as tmp:
            tmp.write(text)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    # The rename is only durable once the directory entry is on disk.
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


__all__ = ["ConfigDocument", "ConfigEditError", "ConfigError", "write_atomically"]


def config_diff(before: str, after: str) -> str:
    """What changed in a config file, as a unified diff, with the values of secrets masked: the audit
    trail must not become the place where a password can be read."""
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), "before", "after", lineterm="", n=1)
    return "\n".join(_SECRET.sub(r"\1***", line) for line in lines)


_SECRET = re.compile(r"^([+\- ]?\s*[\w.]*(?:password|secret|pin|key_password)\s*=\s*).*$", re.IGNORECASE)
