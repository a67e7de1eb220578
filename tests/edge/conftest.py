"""The edge node's tests run against the same real Mosquitto broker as the MQTT tests."""

from tests.mqtt.conftest import broker, tls_files

__all__ = ["broker", "tls_files"]
