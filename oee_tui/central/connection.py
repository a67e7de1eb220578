"""Connections to the central database from `[central]`: libpq finds the password itself (PGPASSWORD,
the pgpass file, a service file), never the config."""

from __future__ import annotations

from typing import Final

import psycopg

from oee_tui.config import CentralSettings

APPLICATION_NAME: Final = "oee-sync"


class CentralConnectError(Exception):
    """The central database could not be reached or refused the login; the message says which and why."""


def connect(settings: CentralSettings, *, autocommit: bool = False) -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(settings.url, autocommit=autocommit, application_name=APPLICATION_NAME,
                               connect_timeout=max(1, round(settings.connect_timeout_s)))
    except psycopg.OperationalError as exc:
        raise CentralConnectError(f"cannot connect to the central database ({where(settings)}): "
                                  f"{first_line(str(exc))}") from exc


def where(settings: CentralSettings) -> str:
    """The URL as shown to a person (it never holds a password: the config refuses one)."""
    return settings.url or "the PG* variables"


def first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " ".join(lines[:2]) if lines else text
