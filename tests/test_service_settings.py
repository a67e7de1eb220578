"""`[service]`: the metrics endpoint's address (loopback unless said otherwise on purpose) and the log format,
read strictly like every other section."""

from __future__ import annotations

import pytest

from oee_tui.cli import SAMPLE_CONFIG
from oee_tui.config import ConfigError, MetricsAddress, ServiceSettings
from oee_tui.drivers.registry import parse_config


def service(text: str) -> ServiceSettings:
    return parse_config(SAMPLE_CONFIG + "\n[service]\n" + text, path="plant.toml").service


def test_without_the_section_there_is_no_endpoint_and_logs_are_text() -> None:
    settings = parse_config(SAMPLE_CONFIG).service
    assert settings.metrics_listen is None and settings.log_format == "text" and not settings.metrics_public


@pytest.mark.parametrize(("listen", "host", "port"), [
    ("127.0.0.1:9464", "127.0.0.1", 9464),
    ("127.0.0.5:9100", "127.0.0.5", 9100),
    ("localhost:9464", "localhost", 9464),
    ("[::1]:9464", "::1", 9464),
    ("127.0.0.1:0", "127.0.0.1", 0),  # any free port; the log line names the one it got
])
def test_loopback_addresses_are_taken(listen: str, host: str, port: int) -> None:
    settings = service(f'metrics_listen = "{listen}"\nlog_format = "json"')
    assert settings.metrics_listen == MetricsAddress(host, port) and settings.log_format == "json"
    assert str(settings.metrics_listen) == listen


def test_a_network_address_needs_metrics_public_and_the_error_says_why() -> None:
    with pytest.raises(ConfigError) as refused:
        service('metrics_listen = "0.0.0.0:9464"')
    message = str(refused.value)
    assert message.startswith("plant.toml: service.metrics_listen = '0.0.0.0:9464'")
    assert "not a loopback address" in message and "metrics_public = true" in message
    with pytest.raises(ConfigError, match="not a loopback address"):
        service('metrics_listen = "192.0.2.7:9464"\nmetrics_public = false')
    public = service('metrics_listen = "0.0.0.0:9464"\nmetrics_public = true')
    assert public.metrics_listen == MetricsAddress("0.0.0.0", 9464) and public.metrics_public


@pytest.mark.parametrize(("text", "key", "hint"), [
    ('metrics_listen = "9464"', "service.metrics_listen", "HOST:PORT"),
    ('metrics_listen = "127.0.0.1:99999"', "service.metrics_listen", "HOST:PORT"),
    ('metrics_listen = "127.0.0.1:http"', "service.metrics_listen", "HOST:PORT"),
    ('metrics_listen = "metrics.example.com:9464"', "service.metrics_listen", "IP address"),
    ('metrics_listen = 9464', "service.metrics_listen", "non-empty string"),
    ('metrics_public = "yes"', "service.metrics_public", "true or false"),
    ('log_format = "xml"', "service.log_format", "text, json"),
    ('log_level = "debug"', "service.log_level", "known keys"),
])
def test_bad_values_name_the_key_and_the_fix(text: str, key: str, hint: str) -> None:
    with pytest.raises(ConfigError) as refused:
        service(text)
    assert refused.value.key == key and hint in str(refused.value)
