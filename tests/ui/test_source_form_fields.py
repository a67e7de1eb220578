"""Which settings the source form shows for each kind, and how their text is written: no app needed.

The form asks each kind's declaration (oee_tui.drivers.registry) which keys it accepts;
these lists pin what that gives, in the form's order, so a kind that starts accepting
a key (or a field that moves) is a visible change here.
"""

from __future__ import annotations

import pytest

from oee_tui.config import COMMON_KEYS
from oee_tui.drivers.registry import KINDS
from oee_tui.screens.source_fields import (
    FIELDS_BY_KEY,
    SOURCE_FIELDS,
    as_bool,
    as_list,
    as_number,
    shown_text,
)

TUNING = ("timeout_s", "reconnect_min_s", "reconnect_max_s")
SHOWN = {
    "modbus": ("host", "port", "unit_id", "byte_order", "word_order", "poll_interval_s", *TUNING,
               "max_registers_per_read", "queue_size"),
    "opcua": ("endpoint", "publishing_interval_ms", "security_mode", "security_policy", "username", "password",
              "user_certificate", "user_private_key", "poll_interval_s", *TUNING, "queue_size"),
    "s7": ("host", "port", "rack", "slot", "local_tsap", "remote_tsap", "poll_interval_s", *TUNING, "queue_size"),
    "logix": ("host", "port", "slot", "tag_upload", "poll_interval_s", *TUNING, "queue_size"),
    "sparkplug": ("host", "port", "host_id", "group_ids", "keep_all_metrics", "mqtt_version", "username", "password",
                  "tls", "tls_ca_file", "tls_cert_file", "tls_key_file", *TUNING, "queue_size", "namespace",
                  "client_id", "keepalive_s", "reorder_timeout_s"),
    "mqtt": ("host", "port", "mqtt_version", "username", "password", "tls", "tls_ca_file", "tls_cert_file",
             "tls_key_file", "qos", "timestamp_path", "timestamp_format", *TUNING, "queue_size", "client_id",
             "keepalive_s", "persistent_session", "session_expiry_s"),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_shows_the_keys_it_accepts_in_the_forms_order(kind: str) -> None:
    assert tuple(field.key for field in SOURCE_FIELDS if field.shown_for(kind)) == SHOWN[kind]


def test_keys_a_kind_accepts_but_leaves_to_the_file() -> None:
    # OPC-UA is addressed by its endpoint; a broker pushes, so nothing is polled.
    assert "host" in COMMON_KEYS and not FIELDS_BY_KEY["host"].shown_for("opcua")
    for kind in ("sparkplug", "mqtt"):
        assert "publishing_interval_ms" in KINDS[kind].keys
        assert not FIELDS_BY_KEY["publishing_interval_ms"].shown_for(kind)
        assert not FIELDS_BY_KEY["poll_interval_s"].shown_for(kind)


def test_the_tuning_fields_come_last() -> None:
    tuning = [field.tuning for field in SOURCE_FIELDS]
    assert tuning == sorted(tuning)


def test_placeholders_say_what_a_blank_means_for_the_kind() -> None:
    assert FIELDS_BY_KEY["port"].placeholder("s7") == "default 102; TCP port"
    assert FIELDS_BY_KEY["port"].placeholder("mqtt") == "default 1883; TCP port"
    assert FIELDS_BY_KEY["client_id"].placeholder("sparkplug") == (
        "default <host id>-<name>; the broker knows this client by it: keep it stable")
    assert FIELDS_BY_KEY["client_id"].placeholder("mqtt").startswith("default oee-tui-<name>; ")
    assert FIELDS_BY_KEY["timeout_s"].placeholder("modbus") == "default 3.0"
    assert FIELDS_BY_KEY["username"].placeholder("opcua") == "blank: anonymous"


def test_text_is_written_as_the_reader_expects_it() -> None:
    assert as_number("5") == 5 and isinstance(as_number("5"), int)  # timeout_s = 5, not 5.0
    assert as_number("0.5") == 0.5
    assert (as_bool("true"), as_bool("false")) == (True, False)
    assert as_list(" Plant1 ,Plant2 ") == ["Plant1", "Plant2"]
    assert (shown_text(True), shown_text(["Plant1", "Plant2"]), shown_text(502)) == ("true", "Plant1, Plant2", "502")


def test_a_pairs_empty_half_is_checked() -> None:
    assert FIELDS_BY_KEY["tls_key_file"].empty_checked and FIELDS_BY_KEY["tls_cert_file"].empty_checked
    assert FIELDS_BY_KEY["host"].empty_checked  # required
    assert not FIELDS_BY_KEY["tls_ca_file"].empty_checked
