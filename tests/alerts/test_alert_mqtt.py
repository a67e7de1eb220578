"""Issue 17: alerts published as JSON on a real Mosquitto broker for a plant's unified namespace; a broker
that is away is said (logged, on the screens and in `oee status`), and what waited goes out once it is back."""

from __future__ import annotations

import json
from pathlib import Path

from oee_tui.alerts.alert_publisher import AlertPublisher
from oee_tui.engine.live.engine import Engine
from oee_tui.model import TagSample
from oee_tui.runtime import build_engine
from tests.alerts.test_rule_kinds import T0, Clock, plant
from tests.mqtt.broker import MosquittoBroker, mqtt_client, running_broker
from tests.support.waiting import until

RULE = """
[[alerts.rules]]
id = "speed-high"
kind = "value_range"
severity = "critical"
source = "plc"
tag = "hr:5"
max = 120
"""


def engine_on(port: int) -> tuple[Engine, Clock, AlertPublisher]:
    clock = Clock()
    config = plant(f'\n[edge]\nhost = "127.0.0.1"\nport = {port}\n\n[alerts]\nmqtt_topic = "acme/alerts"\n' + RULE)
    engine = build_engine(config, None, clock=clock, acquire=False)
    [publisher] = [listener for listener in engine.alerts.listeners if isinstance(listener, AlertPublisher)]
    return engine, clock, publisher


def speed(engine: Engine, clock: Clock, at: float, value: float) -> None:
    clock.now = T0 + at
    engine.ingest([TagSample(T0 + at, "plc", "hr:5", value)])
    engine.tick()
    engine.check_alerts()


async def test_raise_and_clear_are_published_as_json(tmp_path: Path) -> None:
    with running_broker(MosquittoBroker, tmp_path / "mosquitto") as broker:
        client, received = mqtt_client(broker.port, "uns-reader", subscribe=["acme/alerts/#"])
        engine, clock, publisher = engine_on(broker.port)
        try:
            speed(engine, clock, 0, 130)
            speed(engine, clock, 1, 100)
            await until(lambda: len(received.messages) == 2, what="the raise and the clear published")
            topic, payload, _ = received.messages[1]
            assert topic == "acme/alerts/speed-high"
            raised = json.loads(received.messages[0][1])
            assert raised == {"id": 1, "event": "raised", "rule": "speed-high", "kind": "value_range",
                              "severity": "critical", "subject": "plc/hr:5", "message": "hr:5 = 130, outside […, 120]",
                              "raised_at": "2026-09-21T14:13:20+00:00", "cleared_at": None,
                              "time": "2026-09-21T14:13:20+00:00", "site": "Test plant"}
            assert json.loads(payload)["cleared_at"] == "2026-09-21T14:13:21+00:00"
            assert publisher.problem is None and publisher.published == 2
        finally:
            await publisher.finish()
            client.loop_stop()
            client.disconnect()


async def test_a_broker_that_is_away_is_said_and_what_waited_goes_out_when_it_is_back(tmp_path: Path) -> None:
    with running_broker(MosquittoBroker, tmp_path / "mosquitto") as broker:
        broker.stop()
        engine, clock, publisher = engine_on(broker.port)
        try:
            speed(engine, clock, 0, 130)
            await until(lambda: publisher.problem is not None, what="the problem said")
            assert publisher.problem is not None
            assert publisher.problem.startswith(f"alerts over MQTT: cannot connect to mqtt://127.0.0.1:{broker.port}")
            assert engine.snapshot().alert_problem == publisher.problem
            broker.restart()  # on the same port
            client, received = mqtt_client(broker.port, "uns-reader", subscribe=["acme/alerts/#"])
            try:
                await until(lambda: bool(received.messages), timeout=20, what="the queued raise published")
                assert json.loads(received.messages[0][1])["event"] == "raised"
                assert publisher.problem is None
            finally:
                client.loop_stop()
                client.disconnect()
        finally:
            await publisher.finish()
