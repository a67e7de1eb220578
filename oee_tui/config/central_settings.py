"""``[central]``: where this edge box pushes its store (the central PostgreSQL/TimescaleDB), as whom, and how
often. The section's presence turns the engine's background sync on.

A password never sits in the config: `url` is a libpq URL (or key=value string) without one, and libpq
finds it where it always looks: PGPASSWORD, the pgpass file (PGPASSFILE, default ~/.pgpass), a service file.
An empty `url` leaves the whole connection to the standard PG* variables (PGHOST, PGPORT, PGDATABASE, PGUSER,
PGSSLMODE, ...)."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from typing import Final

from oee_tui.config.toml_reader import TomlReader, TomlTable

SSL_MODES: Final = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# An edge id names the box in every central row and in oee.sync_state: printable, no spaces, short.
_EDGE_ID: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$")
_PASSWORD_HELP: Final = ("must not hold a password: give it in PGPASSWORD (the service's environment) or a "
                         "pgpass file (PGPASSFILE, default ~/.pgpass), never in the config")


@dataclass(frozen=True, slots=True)
class CentralSettings:
    """``[central]``: see the README's "Central database" section."""

    url: str = ""  # libpq URL or key=value conninfo without a password; "": the PG* variables alone
    edge_id: str = ""  # this box in every central row; the config's default is the host name
    site: str = ""  # the site in every central row; the config's default is [site] name
    interval_s: float = 10.0  # the engine's background sync runs this often; 0: only `oee sync`
    auto_migrate: bool = False  # the sync brings the central schema up to date itself
    batch_rows: int = 200_000  # most rows of one table in one central transaction
    connect_timeout_s: float = 10.0
    # The central helper's analytics settings (TimescaleDB compression and retention, migration V2 on).
    compress_after_days: int = 7
    retention_days: int = 0  # 0: keep raw samples forever


def read_central(r: TomlReader, data: TomlTable, site_name: str) -> CentralSettings | None:
    if "central" not in data:
        return None
    t = r.table(data, "central", "central")
    r.unknown_keys(t, "central", set(CentralSettings.__dataclass_fields__))
    defaults = CentralSettings()
    url = (r.opt_string(t, "central", "url") or "").strip()
    _check_url(r, url)
    edge_id = r.opt_string(t, "central", "edge_id") or socket.gethostname()
    if not _EDGE_ID.match(edge_id):
        raise r.fail("central.edge_id", edge_id, "must be 1 to 63 letters, digits, '_', '.', ':' or '-', "
                                                 "starting with a letter or digit (the default is the host name)")
    return CentralSettings(
        url=url, edge_id=edge_id, site=r.opt_string(t, "central", "site") or site_name,
        interval_s=r.number(t, "central", "interval_s", default=defaults.interval_s, minimum=0.0),
        auto_migrate=r.boolean(t, "central", "auto_migrate", defaults.auto_migrate),
        batch_rows=r.integer(t, "central", "batch_rows", defaults.batch_rows, 1_000, 10_000_000),
        connect_timeout_s=r.number(t, "central", "connect_timeout_s", default=defaults.connect_timeout_s,
                                   positive=True),
        compress_after_days=r.integer(t, "central", "compress_after_days", defaults.compress_after_days, 0, 36_500),
        retention_days=r.integer(t, "central", "retention_days", defaults.retention_days, 0, 36_500),
    )


def _check_url(r: TomlReader, url: str) -> None:
    if not url:
        return
    # psycopg's own parser (libpq's rules), loaded only for configs with a [central] section.
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(url)
    except Exception as exc:  # psycopg.ProgrammingError: libpq's own message says what is wrong
        raise r.fail("central.url", _without_password(url), f"must be a libpq URL such as "
                     f"postgresql://oee_sync@db.example.com/plant?sslmode=verify-full ({exc})") from None
    if params.get("password"):
        raise r.fail("central.url", _without_password(url), _PASSWORD_HELP)
    mode = params.get("sslmode")
    if mode is not None and mode not in SSL_MODES:
        raise r.fail("central.url", url, f"has sslmode={mode}; it must be one of {', '.join(SSL_MODES)}")


def _without_password(url: str) -> str:
    """The URL as it may be shown in an error: a password in it replaced by ***."""
    return re.sub(r"(//[^:/@]*:)[^@]*@", r"\1***@", re.sub(r"(password=)\S+", r"\1***", url))
