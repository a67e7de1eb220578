"""`[central]`: defaults, and errors that name the field; a password in the URL is refused."""

from __future__ import annotations

import socket

import pytest

from oee_tui.cli import SAMPLE_CONFIG
from oee_tui.config import ConfigError
from oee_tui.drivers.registry import parse_config


def _with_central(body: str) -> str:
    return SAMPLE_CONFIG + "\n[central]\n" + body + "\n"


def test_no_section_means_no_sync() -> None:
    assert parse_config(SAMPLE_CONFIG).central is None


def test_defaults_take_the_host_name_and_the_site() -> None:
    config = parse_config(_with_central('url = "postgresql://oee_sync@db.example.com/plant?sslmode=verify-full"'))
    central = config.central
    assert central is not None
    assert central.edge_id == socket.gethostname()
    assert central.site == config.site.name
    assert central.url.endswith("sslmode=verify-full")
    assert (central.interval_s, central.auto_migrate) == (10.0, False)


def test_an_empty_section_uses_the_pg_variables() -> None:
    central = parse_config(_with_central('edge_id = "box-7"\nsite = "Plant B"')).central
    assert central is not None and (central.url, central.edge_id, central.site) == ("", "box-7", "Plant B")


@pytest.mark.parametrize(
    ("body", "key", "hint"),
    [
        ('url = "postgresql://oee:s3cret@db/plant"', "central.url", "must not hold a password"),
        ('url = "host=db dbname=plant password=s3cret"', "central.url", "must not hold a password"),
        ('url = "postgresql://db/plant?sslmode=maybe"', "central.url", "sslmode=maybe"),
        ('url = "postgresql://db/plant?nonsense=1"', "central.url", "must be a libpq URL"),
        ('edge_id = "box 7"', "central.edge_id", "letters, digits"),
        ("interval_s = -1", "central.interval_s", "at least 0"),
        ("batch_rows = 10", "central.batch_rows", "whole number from 1000"),
        ('speed = "fast"', "central", "speed"),
    ],
    ids=["password in url", "password in conninfo", "bad sslmode", "unknown parameter", "edge id", "interval",
         "batch", "unknown key"],
)
def test_bad_values_name_the_field(body: str, key: str, hint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(_with_central(body), "oee.toml")
    text = str(caught.value)
    assert key in text and hint in text
    assert "s3cret" not in text  # the password is never repeated in the error
