"""A generic MQTT source configured like any other: the real engine counts parts from JSON, takes the
state from a plain-number topic, and stores bad payloads as dead letters; `oee deadletters` lists them.

Real Mosquitto, a paho publisher, the real driver, engine and DuckDB store.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
from pathlib import Path

import pytest

from oee_tui.cli import main
from oee_tui.drivers.registry import parse_config
from oee_tui.engine.live.engine import Engine
from oee_tui.model import MachineState, Signal
from oee_tui.store import Store
from tests.mqtt.broker import MosquittoBroker, mqtt_client, stop_client
from tests.support.waiting import until

CONFIG = """
[site]
name = "MQTT plant"
timezone = "Europe/Berlin"

[[lines]]
id = "L1"
name = "Line 1"

[[sources]]
name = "uns"
kind = "mqtt"
host = "127.0.0.1"
port = {port}
client_id = "oee-engine-test"
timestamp_path = "$.ts"
timestamp_format = "epoch_ms"

[[machines]]
id = "M1"
name = "Filler"
line = "L1"
ideal_cycle_time_s = 1.0
# The tests publish many parts at once: a wide margin lets them count (not counter jumps).
counter_jump_margin = 1e6
[machines.signals]
total_count = {{ source = "uns", tag = "plant/+/filler/counts $.machine.count", width = 32 }}
reject_count = {{ source = "uns", tag = "plant/+/filler/counts $['machine']['rejects']", width = 32 }}
state_code = {{ source = "uns", tag = "plant/line1/filler/state" }}

[state_map]
"1" = "running"
"2" = "stopped"

[[shifts]]
name = "Day"
start = "00:00"
end = "00:00"
"""


_SENT = itertools.count()


def counts(total: int, rejects: int) -> bytes:
    # Device times a second apart, as a PLC's updates are: two sent within one millisecond would
    # say 8 parts in no time, which the engine rightly rebaselines (a counter jump) instead of counting.
    ts = int(time.time() * 1000) - 60_000 + 1_000 * next(_SENT)
    return json.dumps({"machine": {"count": total, "rejects": rejects}, "ts": ts}).encode()


async def test_json_and_plain_topics_feed_a_machine_and_bad_payloads_are_stored(
        broker: MosquittoBroker, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_path = tmp_path / "oee.toml"
    config_path.write_text(CONFIG.format(port=broker.port))
    config = parse_config(config_path.read_text(), config_path)
    engine = Engine(config, Store.open(tmp_path / "data"), tick_s=0.05, flush_interval_s=0.2)
    await engine.start()
    client, _ = await asyncio.to_thread(mqtt_client, broker.port, "plc-gateway")

    def send(topic: str, payload: bytes) -> None:
        client.publish(topic, payload, qos=1).wait_for_publish(10)

    try:
        await until(lambda: engine.runners[0].health.connected)
        settings = engine.runners[0]._driver.mqtt  # type: ignore[union-attr]
        assert (settings.client_id, settings.persistent_session) == ("oee-engine-test", True)  # not a probe
        tracker = engine.machines["M1"]
        await asyncio.to_thread(send, "plant/line1/filler/state", b"1")
        await asyncio.to_thread(send, "plant/line1/filler/counts", counts(100, 3))
        await until(lambda: tracker.counters[Signal.TOTAL_COUNT].last == 100)
        await asyncio.to_thread(send, "plant/line1/filler/counts", counts(108, 4))
        await until(lambda: sum(total for total, _ in tracker.recent_counts.values()) == 8)
        assert sum(reject for _, reject in tracker.recent_counts.values()) == 1
        assert engine.tick().machines[0].state is MachineState.RUNNING

        await engine.flush()  # dead letters arriving after a flush are stored at the next one too
        await asyncio.to_thread(send, "plant/line1/filler/counts", b"\x00\xffgarbage")
        await asyncio.to_thread(send, "plant/line1/filler/state", b"stopped")
        await asyncio.to_thread(send, "plant/line1/filler/counts", counts(110, 4))  # the stream goes on
        await until(lambda: sum(total for total, _ in tracker.recent_counts.values()) == 10)
    finally:
        await asyncio.to_thread(stop_client, client)
        await engine.stop()

    with Store.open(tmp_path / "data") as store:
        letters = store.dead_letters(10)
        assert [(d.source, d.topic, d.payload, d.error) for d in letters] == [
            ("uns", "plant/line1/filler/state", b"stopped", "state_code needs a number, got a string 'stopped'"),
            ("uns", "plant/line1/filler/counts", b"\x00\xffgarbage", "payload is not UTF-8 text (byte 1: 0xff)"),
        ]
        assert store.dead_letters(10, source="other") == []
        assert len(store.dead_letters(10, since=letters[0].received_at)) == 1

    argv = ["--config", str(config_path), "--data-dir", str(tmp_path / "data"), "deadletters"]
    capsys.readouterr()
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["#", "received", "source", "topic", "bytes", "error", "preview"]
    assert len(lines) == 3
    assert lines[1].split()[3:7] == ["uns", "plant/line1/filler/state", "7", "state_code"]
    assert lines[1].endswith("stopped")
    assert lines[2].endswith("hex: 00 ff 67 61 72 62 61 67 65")

    assert main([*argv, "--format", "json", "--limit", "1"]) == 0
    [entry] = json.loads(capsys.readouterr().out)
    assert entry["topic"] == "plant/line1/filler/state" and entry["payload_text"] == "stopped"
    assert entry["received_at"].endswith(("+01:00", "+02:00"))  # plant local: Europe/Berlin

    assert main([*argv, "--format", "json", "--source", "uns", "--since", "1h"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert base64.b64decode(entries[1]["payload_base64"]) == b"\x00\xffgarbage"
    assert entries[1]["payload_text"] is None
