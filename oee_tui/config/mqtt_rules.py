"""The rules every MQTT connection in a config follows: the edge node's and a broker source's.

Their keys share names, limits and wording (the source form shows the same words:
oee_tui.field_checks), so they are read here once.
"""

from __future__ import annotations

import re
from typing import Final, TypedDict

from oee_tui.config.toml_reader import TomlReader, TomlTable

MQTT_VERSIONS: Final = ("3.1.1", "5")
TLS_PAIR_PROBLEM: Final = "give both tls_cert_file and tls_key_file for a client certificate, or neither"
_TOPIC_LEVEL: Final = re.compile(r"^[^/+#]+$")  # a Sparkplug group, edge node or device id: one topic level


def is_topic_level(text: str) -> bool:
    """One MQTT topic level: not empty, no /, + or #. Sparkplug ids and namespaces must be one."""
    return _TOPIC_LEVEL.match(text) is not None


class TlsFiles(TypedDict):
    tls_ca_file: str | None
    tls_cert_file: str | None
    tls_key_file: str | None


def read_tls_files(r: TomlReader, t: TomlTable, key: str) -> TlsFiles:
    """The CA file, and the client certificate with its key (both or neither)."""
    files = TlsFiles(tls_ca_file=r.opt_string(t, key, "tls_ca_file"),
                     tls_cert_file=r.opt_string(t, key, "tls_cert_file"),
                     tls_key_file=r.private_key_file(t, key, "tls_key_file"))
    if (files["tls_cert_file"] is None) != (files["tls_key_file"] is None):
        raise r.fail(f"{key}.tls_key_file" if files["tls_key_file"] is None else f"{key}.tls_cert_file",
                     None, TLS_PAIR_PROBLEM)
    return files
