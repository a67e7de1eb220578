"""``[service]``: what the engine shows the outside when it runs as a service: the Prometheus
metrics endpoint and the format of its log lines."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final

from oee_tui.config.toml_reader import TomlReader, TomlTable

LOG_FORMATS: Final = ("text", "json")


@dataclass(frozen=True, slots=True)
class MetricsAddress:
    """Where the metrics endpoint listens: `host` as written (an IP address or `localhost`), `port` 0 for any
    free port."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    """``[service]``: see the README's "Metrics" and "Logs" sections."""

    metrics_listen: MetricsAddress | None = None  # None: no metrics endpoint
    # The figures name every machine and source of the plant: only the box's own users may read them
    # unless the file says otherwise on purpose.
    metrics_public: bool = False
    log_format: str = "text"


def read_service(r: TomlReader, data: TomlTable) -> ServiceSettings:
    t = r.table(data, "service", "service", required=False)
    r.unknown_keys(t, "service", set(ServiceSettings.__dataclass_fields__))
    public = r.boolean(t, "service", "metrics_public", False)
    listen_text = r.opt_string(t, "service", "metrics_listen")
    listen = None if listen_text is None else _address(r, listen_text, public)
    return ServiceSettings(metrics_listen=listen, metrics_public=public,
                           log_format=r.string(t, "service", "log_format", default="text", choices=LOG_FORMATS))


def _address(r: TomlReader, text: str, public: bool) -> MetricsAddress:
    key = "service.metrics_listen"
    host, colon, port_text = text.strip().rpartition(":")
    if not colon or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise r.fail(key, text, 'must be HOST:PORT, such as "127.0.0.1:9464" or "[::1]:9464"')
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise r.fail(key, text, "must name an IP address (or localhost), not a host name") from None
    if not public and not _loopback(host):
        raise r.fail(key, text, "is not a loopback address: the metrics name every machine and source and have no "
                                "password; listen on 127.0.0.1 (and scrape through SSH or a local Prometheus), "
                                "or set metrics_public = true to serve them on the network on purpose")
    return MetricsAddress(host, int(port_text))


def _loopback(host: str) -> bool:
    return host == "localhost" or ipaddress.ip_address(host).is_loopback
