"""Reading the parsed TOML of a config file, with errors worded for the person who edits it.

Every error names the file, the dotted key, the bad value and what would be valid, so a
maintenance tech can fix it without reading Python. The config's own sections and every
kind of source (oee_tui.drivers) read their keys through this one reader, so they all say
the same thing the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, TypeAlias, TypeVar

from oee_tui.config.secret_values import (
    ENV_SUFFIX,
    FILE_SUFFIX,
    SecretSourceError,
    secret_from_env,
    secret_from_file,
)

T = TypeVar("T")
TomlTable: TypeAlias = dict[str, Any]  # a table as tomllib parses it: its values are whatever the file holds


class _Hidden:
    """Stands in an error for a value that must not be shown: a password, a PIN's hash."""

    def __repr__(self) -> str:
        return "<hidden>"


HIDDEN: Final = _Hidden()


# Keys that stand for the whole file, not a setting in it: their message has no "KEY = VALUE".
FILE_KEY: Final = "(file)"
SYNTAX_KEY: Final = "(syntax)"


class ConfigError(Exception):
    """A config problem, worded for the person who edits the file."""

    def __init__(self, file: Path | str, key: str, value: object, expected: str) -> None:
        self.file = str(file)
        self.key = key
        self.value = value
        self.expected = expected
        if key in (FILE_KEY, SYNTAX_KEY):
            super().__init__(f"config file {self.file} {expected}")
        else:
            super().__init__(f"{self.file}: {key} = {value!r}: {expected}")


class ConfigProblems(ConfigError):
    """Every problem found in one reading of a file, in the file's order; as a ConfigError, the first of them
    (what a form marks), and its message lists them all."""

    def __init__(self, problems: list[ConfigError]) -> None:
        first = problems[0]
        super().__init__(first.file, first.key, first.value, first.expected)
        self.problems = tuple(problems)
        if len(problems) > 1:
            self.args = (f"{len(problems)} problems in {first.file}:\n"
                         + "\n".join(f"  {str(problem).removeprefix(f'{problem.file}: ')}" for problem in problems),)


class TomlReader:
    """Walks the parsed TOML, raising ConfigError with a dotted key path."""

    def __init__(self, file: Path | str, *, secrets: bool = True) -> None:
        self.file = file
        self.secrets = secrets  # False: `*_env` and `*_file` secrets are not read (loading.load_config says when)
        # The keys whose secret is written in the file itself, and the private key files it names, by key
        # (config_warnings: who may read them).
        self.secrets_in_file: list[str] = []
        self.private_key_files: list[tuple[str, str]] = []
        # Problems noted so far (`noting`), and the entries that had one, by key (`sources[plc1]`): a machine
        # that names a source whose entry is wrong gets no second complaint for it.
        self.problems: list[ConfigError] = []
        self.broken: set[str] = set()

    @contextmanager
    def noting(self, entry: str | None = None) -> Iterator[None]:
        """Reads one part of the file (a section, an entry of `entry`'s key): a problem in it is noted and the
        reading goes on with the next part, so one check reports every problem, not only the first."""
        try:
            yield
        except ConfigProblems as exc:
            self.problems.extend(exc.problems)
        except ConfigError as exc:
            self.problems.append(exc)
            if entry is not None:
                self.broken.add(entry)

    def part(self, read: Callable[[], T], instead: T) -> T:
        """`read()`, or `instead` when it has a problem (noted)."""
        try:
            return read()
        except ConfigProblems as exc:
            self.problems.extend(exc.problems)
        except ConfigError as exc:
            self.problems.append(exc)
        return instead

    def raise_problems(self) -> None:
        if self.problems:
            raise ConfigProblems(self.problems)

    def fail(self, key: str, value: object, expected: str) -> ConfigError:
        return ConfigError(self.file, key, value, expected)

    def table(self, data: TomlTable, key: str, name: str, required: bool = True) -> TomlTable:
        value = data.get(name)
        if value is None:
            if required:
                raise self.fail(key, None, "is missing; add a table here")
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, value, "must be a table")
        return value

    def tables(self, data: TomlTable, key: str, name: str) -> list[TomlTable]:
        value = data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise self.fail(key, value, f"must be an array of tables ([[{name}]])")
        return value

    def string(self, data: TomlTable, key: str, name: str, default: str | None = None,
               choices: tuple[str, ...] | None = None) -> str:
        full = f"{key}.{name}" if key else name
        value = data.get(name, default)
        if value is None:
            raise self.fail(full, None, "is missing; it must be a string")
        if not isinstance(value, str) or not value.strip():
            raise self.fail(full, value, "must be a non-empty string")
        if choices is not None and value not in choices:
            raise self.fail(full, value, f"must be one of {', '.join(choices)}")
        return value

    def opt_string(self, data: TomlTable, key: str, name: str) -> str | None:
        if data.get(name) is None:
            return None
        return self.string(data, key, name)

    def number(self, data: TomlTable, key: str, name: str, default: float | None = None,
               minimum: float | None = None, positive: bool = False) -> float:
        full = f"{key}.{name}" if key else name
        value = data.get(name, default)
        if value is None:
            raise self.fail(full, None, "is missing; it must be a number")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(full, value, "must be a number")
        if positive and value <= 0:
            raise self.fail(full, value, "must be greater than 0")
        if minimum is not None and value < minimum:
            raise self.fail(full, value, f"must be at least {minimum}")
        return float(value)

    def integer(self, data: TomlTable, key: str, name: str, default: int,
                lo: int, hi: int) -> int:
        full = f"{key}.{name}"
        value = data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise self.fail(full, value, f"must be a whole number from {lo} to {hi}")
        return value

    def boolean(self, data: TomlTable, key: str, name: str, default: bool) -> bool:
        value = data.get(name, default)
        if not isinstance(value, bool):
            raise self.fail(f"{key}.{name}", value, "must be true or false")
        return value

    def unknown_keys(self, data: TomlTable, key: str, allowed: set[str] | frozenset[str]) -> None:
        for name in data:
            if name not in allowed:
                where = f"{key}.{name}" if key else name
                raise self.fail(where, data[name], f"is not a known key; known keys: {', '.join(sorted(allowed))}")

    def note_secret(self, key: str) -> None:
        self.secrets_in_file.append(key)

    def private_key_file(self, data: TomlTable, key: str, name: str) -> str | None:
        """The path of a private key file (a TLS client key, an OPC-UA user key), or None."""
        path = self.opt_string(data, key, name)
        if path is not None:
            self.private_key_files.append((f"{key}.{name}", path))
        return path

    def secret(self, data: TomlTable, key: str, name: str) -> str | None:
        """A secret given as `name` in the file, or by `name_env` (a variable) or `name_file` (a file).

        Every password in a config is read here. Errors name the key and the variable or file, and
        show the value as <hidden>."""
        given = [option for option in (name, name + ENV_SUFFIX, name + FILE_SUFFIX) if data.get(option) is not None]
        if len(given) > 1:
            raise self.fail(f"{key}.{given[1]}", data[given[1]], f"give only one of {', '.join(given)}")
        if not given:
            return None
        option = given[0]
        value = data[option]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{key}.{option}", HIDDEN if option == name else value, "must be a non-empty string")
        if option == name:
            self.note_secret(f"{key}.{name}")
            return value
        if not self.secrets:
            return None
        try:
            return secret_from_env(value) if option.endswith(ENV_SUFFIX) else secret_from_file(value)
        except SecretSourceError as exc:
            raise self.fail(f"{key}.{option}", value, str(exc)) from exc

    def login(self, data: TomlTable, key: str) -> tuple[str | None, str | None]:
        """`username` and `password` (or `password_env`, `password_file`); a password alone is refused."""
        username = self.opt_string(data, key, "username")
        password = self.secret(data, key, "password")
        if password is not None and username is None:
            raise self.fail(f"{key}.username", None, "is needed when a password is given")
        return username, password

    def unique(self, key: str, seen: set[str], value: str) -> None:
        if value in seen:
            raise self.fail(key, value, "is used twice; ids must be unique")
        seen.add(value)


def entry_key(section: str, index: int, table: TomlTable, id_field: str) -> str:
    """Name an array entry by its id when it has a usable one: `machines[L1-FILL]`, else by position."""
    value = table.get(id_field)
    return f"{section}[{value}]" if isinstance(value, str) and value.strip() else f"{section}[{index}]"
