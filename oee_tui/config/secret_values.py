"""Where a password comes from when it is not in the config file: an environment variable or a file.

Beside `password`, a table may say `password_env = "VAR"` or `password_file = "/path"` (one of the
three). `%d/` at the start of a file path stands for `$CREDENTIALS_DIRECTORY/`, where systemd puts
a unit's `LoadCredential=` files. The value is read once, when the config is loaded; the errors here
name the variable or the file, never what it holds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

ENV_SUFFIX: Final = "_env"
FILE_SUFFIX: Final = "_file"
CREDENTIALS_PREFIX: Final = "%d/"
CREDENTIALS_VARIABLE: Final = "CREDENTIALS_DIRECTORY"
MAX_SECRET_BYTES: Final = 64 * 1024  # a password or key phrase, not a mistaken path to a large file


class SecretSourceError(ValueError):
    """A variable or file that cannot give a secret; the message names it and says what to do."""


def secret_keys(name: str) -> frozenset[str]:
    """The keys one secret may be given by: `password`, `password_env`, `password_file`."""
    return frozenset({name, name + ENV_SUFFIX, name + FILE_SUFFIX})


def secret_from_env(variable: str) -> str:
    value = os.environ.get(variable)
    if value is None:
        raise SecretSourceError(f"the environment variable {variable} is not set in the environment of this "
                                "process (for a systemd unit: Environment= or EnvironmentFile=)")
    if not value:
        raise SecretSourceError(f"the environment variable {variable} is empty")
    return value


def secret_path(path_text: str) -> Path:
    """The file a `*_file` key names, with `%d/` made `$CREDENTIALS_DIRECTORY/` and `~` expanded."""
    if path_text.startswith(CREDENTIALS_PREFIX):
        directory = os.environ.get(CREDENTIALS_VARIABLE)
        if not directory:
            raise SecretSourceError(f"{CREDENTIALS_PREFIX} stands for ${CREDENTIALS_VARIABLE}, which is not set: "
                                    "systemd sets it for a unit with LoadCredential=; outside one, give the full path")
        return Path(directory) / path_text.removeprefix(CREDENTIALS_PREFIX)
    return Path(path_text).expanduser()


def secret_from_file(path_text: str) -> str:
    """The file's text, less one trailing newline (`echo pw > file` writes one)."""
    path = secret_path(path_text)
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_SECRET_BYTES + 1)
    except FileNotFoundError as exc:
        raise SecretSourceError(f"the file {path} does not exist") from exc
    except IsADirectoryError as exc:
        raise SecretSourceError(f"{path} is a directory, not a file") from exc
    except OSError as exc:
        raise SecretSourceError(f"the file {path} cannot be read by this user (uid {os.getuid()}): "
                                f"{exc.strerror}") from exc
    if len(raw) > MAX_SECRET_BYTES:
        raise SecretSourceError(f"the file {path} is larger than {MAX_SECRET_BYTES // 1024} KiB: "
                                "it should hold the password alone")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SecretSourceError(f"the file {path} is not UTF-8 text") from exc
    text = text.removesuffix("\n").removesuffix("\r")
    if not text:
        raise SecretSourceError(f"the file {path} is empty")
    return text
