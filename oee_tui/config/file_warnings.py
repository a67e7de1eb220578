"""What is unsafe about the config file itself: secrets written in it that other users may read, a
file that others may change (and so give themselves any role), and private key files it names that
other users may read.

`oee config check` prints these and `oee engine` logs them at startup; neither refuses to run, since
the plant keeps running while someone fixes the file's mode.
"""

from __future__ import annotations

import grp
import stat
from pathlib import Path

from oee_tui.config.plant import Config


def config_warnings(config: Config) -> list[str]:
    """One sentence per problem, naming the file, the keys and the fix; empty when there is none."""
    if config.path is None:
        return []
    try:
        status = config.path.stat()
    except OSError:
        return []  # read a moment ago; gone now is no permission problem to report
    return [*_config_file_warnings(config, config.path, status.st_mode, _group_name(status.st_gid)),
            *_key_file_warnings(config)]


def _config_file_warnings(config: Config, path: Path, mode: int, group: str) -> list[str]:
    warnings: list[str] = []
    readers = _who(mode, stat.S_IRGRP, stat.S_IROTH, group)
    if config.secrets_in_file and readers:
        warnings.append(
            f"{path} holds secrets in plain text ({', '.join(config.secrets_in_file)}) and is readable by "
            f"{readers} (mode {stat.S_IMODE(mode):04o}): run `chmod 600 {path}` as the engine's user, or give each "
            'password as password_file = "%d/NAME" (systemd LoadCredential=) or password_env = "VARIABLE" '
            'instead (README "Secrets")')
    writers = _who(mode, stat.S_IWGRP, stat.S_IWOTH, group)
    if writers:
        warnings.append(
            f"{path} can be changed by {writers} (mode {stat.S_IMODE(mode):04o}), who could then give themselves any "
            f"role in [access] or point a source elsewhere: run `chmod go-w {path}`")
    return warnings


def _key_file_warnings(config: Config) -> list[str]:
    """A key file is opened as written, relative to the working directory (as the drivers open it)."""
    warnings: list[str] = []
    for key, written in config.private_key_files:
        path = Path(written).expanduser()
        try:
            status = path.stat()
        except OSError:
            continue  # a missing key is the connection's error to report, with the source
        readers = _who(status.st_mode, stat.S_IRGRP, stat.S_IROTH, _group_name(status.st_gid))
        if readers:
            warnings.append(f"the private key file {path} ({key}) is readable by {readers} "
                            f"(mode {stat.S_IMODE(status.st_mode):04o}): run `chmod 600 {path}` as the engine's user")
    return warnings


def _who(mode: int, group_bit: int, other_bit: int, group: str) -> str:
    who = []
    if mode & group_bit:
        who.append(f"its group {group}")
    if mode & other_bit:
        who.append("every user")
    return " and ".join(who)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
