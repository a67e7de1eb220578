"""The device screens with Sparkplug B and generic MQTT sources, driven by the keys a technician presses.

The config file is a real file in tmp_path (the sample `oee config init` writes plus the
sources below); saves go through ConfigDocument to disk and are read back with the config
reader. Test connection talks to a real Mosquitto on a free loopback port (tests/mqtt/broker.py).
Snapshots of the forms are at the end, in the same set-up as tests/ui/test_devices_snapshots.py.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.notifications import Notification
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static

from oee_tui import field_checks as checks
from oee_tui.app import OeeApp
from oee_tui.drivers.registry import load_config
from oee_tui.screens.connection_check import ConnectionCheckScreen
from oee_tui.screens.devices import DevicesScreen
from oee_tui.screens.source_form import SourceFormScreen
from oee_tui.screens.tag_map_form import TagMapEditScreen
from oee_tui.screens.tag_maps import TagMapScreen
from oee_tui.widgets.form import FieldRow
from oee_tui.widgets.keyed_table import KeyedTable
from tests.mqtt.broker import MosquittoBroker, free_port, mqtt_client, running_broker, stop_client
from tests.ui.fakes import StaticEngine
from tests.ui.test_devices import (
    cell,
    collect,
    cursor_to,
    make_devices_app,
    open_devices,
    problem,
    settle,
    type_into,
    write_config,
)
from tests.ui.test_devices_snapshots import devices_snapshot_app, open_devices_for_snapshot

SPARKPLUG_SOURCE = """
[[sources]]
name = "uns"
kind = "sparkplug"          # the hall's Sparkplug broker
host = "192.0.2.50"
port = 1883
host_id = "hall-a"
group_ids = ["Plant1", "Plant2"]
namespace = "spBv1.0"
username = "oee"
password = "s3cret"
tls_ca_file = "ca.pem"
reorder_timeout_s = 2.5
publishing_interval_ms = 1000   # not on the form: must survive an edit
poll_interval_s = 2.0           # not on the form for a push source either
"""


def source_lines(path: Path, name: str) -> list[str]:
    """The lines of one [[sources]] table as written, from its name to the next blank line or table."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = lines.index(f'name = "{name}"')
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].strip() or lines[i].startswith("[")),
               len(lines))
    return lines[start:end]


def sources_in(path: Path) -> dict[str, dict[str, Any]]:
    return {table["name"]: table for table in tomllib.loads(path.read_text(encoding="utf-8"))["sources"]}


async def open_add_form(pilot: Pilot[Any], engine: StaticEngine, kind_downs: int) -> SourceFormScreen:
    """a, then pick the kind from the drop-down: modbus, opcua, s7, logix, sparkplug, mqtt."""
    await open_devices(pilot, engine)
    await pilot.press("a")
    await pilot.pause()
    form = pilot.app.screen
    assert isinstance(form, SourceFormScreen)
    await pilot.press("enter", *["down"] * kind_downs, "enter")
    await pilot.pause()
    return form


async def tab_to(pilot: Pilot[Any], form: SourceFormScreen, key: str) -> None:
    """Tab from field to field until `key`'s has the cursor, as a technician would."""
    target = form.query_one(f"#field-{key}")
    for _ in range(40):
        if target.has_focus:
            return
        await pilot.press("tab")
    raise AssertionError(f"tab never reached {key}")


async def choose(pilot: Pilot[Any], form: SourceFormScreen, key: str, downs: int) -> None:
    await tab_to(pilot, form, key)
    await pilot.press("enter", *["down"] * downs, "enter")
    await pilot.pause()


def shown(form: SourceFormScreen) -> set[str]:
    return {row.key for row in form.query(FieldRow) if row.display}


def status(form: Any) -> str:
    return str(form.query_one("#form-status").render())


# ---------------------------------------------------------------- the kinds on the form


async def test_editing_a_sparkplug_source_keeps_its_kind_and_every_key(tmp_path: Path, engine: StaticEngine) -> None:
    """Before the form knew sparkplug, Enter on such a source crashed the app (the kind drop-down had no such value)."""
    path = write_config(tmp_path, extra=SPARKPLUG_SOURCE)
    before = sources_in(path)["uns"]
    app = make_devices_app(path, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        devices = await open_devices(pilot, engine)
        await cursor_to(pilot, devices.table, "uns")
        await pilot.press("enter")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, SourceFormScreen)
        assert form.kind == "sparkplug"
        assert form.query_one("#field-kind", Select).value == "sparkplug"
        assert {"host", "port", "host_id", "group_ids", "mqtt_version", "username", "password", "tls",
                "tls_ca_file", "tls_cert_file", "tls_key_file", "namespace", "client_id", "keepalive_s",
                "reorder_timeout_s"} <= shown(form)
        assert not {"unit_id", "endpoint", "rack", "poll_interval_s", "qos", "timestamp_path"} & shown(form)
        assert form.query_one("#field-group_ids", Input).value == "Plant1, Plant2"
        password = form.query_one("#field-password", Input)
        assert password.password and password.value == "s3cret"  # masked on screen, kept in the file
        form.query_one("#field-host", Input).focus()  # select-on-focus: typing replaces the host
        await pilot.pause()
        await type_into(pilot, "broker.hall-a")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, DevicesScreen)
        assert cell(devices.table, "uns", "kind") == "sparkplug"
        assert cell(devices.table, "uns", "address") == "broker.hall-a:1883"
    assert sources_in(path)["uns"] == {**before, "host": "broker.hall-a"}
    assert "# the hall's Sparkplug broker" in path.read_text(encoding="utf-8")
    source = load_config(path).source("uns")
    assert (source.kind, source.host, source.group_ids, source.publishing_interval_ms) == (
        "sparkplug", "broker.hall-a", ("Plant1", "Plant2"), 1000)
    assert engine.reloads[-1].source("uns").host == "broker.hall-a"


async def test_add_a_sparkplug_source_by_keys(tmp_path: Path, engine: StaticEngine) -> None:
    path = write_config(tmp_path)
    app = make_devices_app(path, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_add_form(pilot, engine, kind_downs=4)
        assert form.kind == "sparkplug"
        assert form.query_one("#field-port", Input).value == "1883"  # followed the kind's usual port
        await tab_to(pilot, form, "name")
        await type_into(pilot, "uns")
        await tab_to(pilot, form, "host")
        await type_into(pilot, "10.0.0.9")
        await tab_to(pilot, form, "host_id")
        await type_into(pilot, "hall-a")
        await tab_to(pilot, form, "group_ids")
        await type_into(pilot, "Plant1, Plant2")
        await choose(pilot, form, "mqtt_version", 1)  # 3.1.1 -> 5
        await tab_to(pilot, form, "username")
        await type_into(pilot, "oee")
        await tab_to(pilot, form, "password")
        await type_into(pilot, "pw")
        await tab_to(pilot, form, "reorder_timeout_s")
        await type_into(pilot, "4")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, DevicesScreen)
        assert app.screen.table.shown_keys() == ("plc1", "uns")
    assert source_lines(path, "uns") == [
        'name = "uns"', 'kind = "sparkplug"', 'host = "10.0.0.9"', "port = 1883", 'host_id = "hall-a"',
        'group_ids = ["Plant1", "Plant2"]', 'mqtt_version = "5"', 'username = "oee"', 'password = "pw"',
        "reorder_timeout_s = 4"]  # no key that only restates a default
    source = load_config(path).source("uns")
    assert (source.kind, source.group_ids, source.mqtt_version, source.reorder_timeout_s) == (
        "sparkplug", ("Plant1", "Plant2"), "5", 4.0)
    assert engine.reloads[-1].source("uns").host_id == "hall-a"


async def test_add_an_mqtt_source_with_tls_and_timestamps_by_keys(tmp_path: Path, engine: StaticEngine) -> None:
    path = write_config(tmp_path)
    app = make_devices_app(path, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_add_form(pilot, engine, kind_downs=5)
        assert form.kind == "mqtt"
        assert {"qos", "timestamp_path", "timestamp_format", "persistent_session", "session_expiry_s"} <= shown(form)
        assert not {"host_id", "group_ids", "namespace", "reorder_timeout_s", "poll_interval_s"} & shown(form)
        await tab_to(pilot, form, "name")
        await type_into(pilot, "json")
        await tab_to(pilot, form, "host")
        await type_into(pilot, "broker.plant")
        await choose(pilot, form, "tls", 1)  # false -> true: the port follows to 8883
        assert form.query_one("#field-port", Input).value == "8883"
        await tab_to(pilot, form, "tls_ca_file")
        await type_into(pilot, "ca.pem")
        await tab_to(pilot, form, "timestamp_path")
        await type_into(pilot, "$.ts")
        await choose(pilot, form, "timestamp_format", 2)  # iso8601 -> epoch_ms
        await tab_to(pilot, form, "client_id")
        await type_into(pilot, "oee-hall-a")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, DevicesScreen), status(form)
    assert source_lines(path, "json") == [
        'name = "json"', 'kind = "mqtt"', 'host = "broker.plant"', "port = 8883", "tls = true",
        'tls_ca_file = "ca.pem"', 'timestamp_path = "$.ts"', 'timestamp_format = "epoch_ms"',
        'client_id = "oee-hall-a"']
    source = load_config(path).source("json")
    assert (source.kind, source.port, source.tls, source.qos, source.persistent_session) == (
        "mqtt", 8883, True, 1, True)
    assert (source.timestamp_path, source.timestamp_format, source.client_id) == ("$.ts", "epoch_ms", "oee-hall-a")


# ---------------------------------------------------------------- bad values: the reader's words, nothing saved


async def test_bad_sparkplug_values_are_named_as_typed_and_nothing_is_saved(tmp_path: Path,
                                                                           engine: StaticEngine) -> None:
    path = write_config(tmp_path)
    before = path.read_text(encoding="utf-8")
    app = make_devices_app(path, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_add_form(pilot, engine, kind_downs=4)
        await tab_to(pilot, form, "name")
        await type_into(pilot, "uns")
        await tab_to(pilot, form, "host")
        await type_into(pilot, "10.0.0.9")
        await tab_to(pilot, form, "port")
        await type_into(pilot, "70000")
        await tab_to(pilot, form, "group_ids")
        await type_into(pilot, "Plant1,,Plant2")
        await tab_to(pilot, form, "tls_cert_file")
        await type_into(pilot, "client.pem")
        await tab_to(pilot, form, "tls_key_file")
        await tab_to(pilot, form, "namespace")
        await type_into(pilot, "spBv1.0/x")
        await pilot.pause()
        assert problem(form, "port") == "70000 is out of range: must be from 1 to 65535"
        assert problem(form, "group_ids") == ("must be a list of Sparkplug group ids separated by commas, "
                                              "e.g. Plant1, Plant2")
        assert problem(form, "tls_key_file") == ("give both tls_cert_file and tls_key_file for a client "
                                                 "certificate, or neither")
        assert problem(form, "tls_cert_file") is None  # the missing half is the one marked
        assert problem(form, "namespace") == ('must be one topic level without /, + or # '
                                              '(the Sparkplug B default is "spBv1.0")')
        await pilot.press("ctrl+u")
        await type_into(pilot, "spB#")
        await pilot.pause()
        assert problem(form, "namespace") == ('must be one topic level without /, + or # '
                                              '(the Sparkplug B default is "spBv1.0")')

        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form
        assert status(form) == "✕ Not saved: fix the 4 fields marked ✕ first."
        assert form.query_one("#field-port", Input).has_focus  # the first of them
        assert path.read_text(encoding="utf-8") == before
        assert engine.reloads == []

        # Clearing the certificate mends its key too: both or neither.
        form.query_one("#field-tls_cert_file", Input).focus()
        await pilot.pause()
        await pilot.press("ctrl+u")
        await pilot.pause()
        assert problem(form, "tls_key_file") is None
    assert path.read_text(encoding="utf-8") == before


async def test_bad_mqtt_values_are_named_as_typed_and_nothing_is_saved(tmp_path: Path, engine: StaticEngine) -> None:
    path = write_config(tmp_path)
    before = path.read_text(encoding="utf-8")
    app = make_devices_app(path, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_add_form(pilot, engine, kind_downs=5)
        await tab_to(pilot, form, "name")
        await type_into(pilot, "json")
        await tab_to(pilot, form, "host")
        await type_into(pilot, "broker.plant")
        await choose(pilot, form, "qos", 1)  # 1 -> 0, with the default persistent session
        assert problem(form, "qos") == ("must be 1 with persistent_session = true: a broker queues only QoS 1 "
                                        "messages for a client that is away; set persistent_session = false "
                                        "for QoS 0")
        await choose(pilot, form, "timestamp_format", 1)  # epoch_s, but no timestamp path
        assert problem(form, "timestamp_format") == ("needs timestamp_path (the JSON path of the time in each "
                                                     "payload); without it the arrival time is used")
        await tab_to(pilot, form, "timestamp_path")
        await type_into(pilot, "$.data[*]")
        await pilot.pause()
        assert problem(form, "timestamp_path") == (
            "at character 8: expected an index such as [0] or a quoted name such as ['key'] inside [ ]; "
            "wildcards, slices and filters are not supported")
        assert problem(form, "timestamp_format") is None  # a path is given now, if not yet a good one
        await tab_to(pilot, form, "keepalive_s")
        await type_into(pilot, "2")
        await pilot.pause()
        assert problem(form, "keepalive_s") == "2 is out of range: must be from 5 to 3600"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form
        assert status(form) == "✕ Not saved: fix the 3 fields marked ✕ first."
        assert path.read_text(encoding="utf-8") == before

        assert form.query_one("#field-qos", Select).has_focus  # the first field marked
        # QoS 0 is fine once the session is not persistent.
        await choose(pilot, form, "persistent_session", 1)  # true -> false
        assert problem(form, "qos") is None
        form.query_one("#field-timestamp_path", Input).focus()
        await pilot.pause()
        await pilot.press("ctrl+u")
        await type_into(pilot, "$.data[0].t")
        form.query_one("#field-keepalive_s", Input).focus()
        await pilot.pause()
        await pilot.press("ctrl+u")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, DevicesScreen), status(form)
    source = load_config(path).source("json")
    assert (source.qos, source.persistent_session, source.timestamp_path, source.timestamp_format) == (
        0, False, "$.data[0].t", "epoch_s")
    assert engine.reloads[-1].source("json").qos == 0


async def test_a_password_without_a_user_is_refused_by_the_reader_under_the_user_name(
        tmp_path: Path, engine: StaticEngine) -> None:
    path = write_config(tmp_path, extra=SPARKPLUG_SOURCE)
    before = path.read_text(encoding="utf-8")
    app = make_devices_app(path, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        devices = await open_devices(pilot, engine)
        await cursor_to(pilot, devices.table, "uns")
        await pilot.press("e")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, SourceFormScreen)
        form.query_one("#field-username", Input).focus()
        await pilot.pause()
        await pilot.press("ctrl+u")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form
        assert problem(form, "username") == "is needed when a password is given"
        assert status(form) == "✕ Not saved: sources[uns].username = None: is needed when a password is given"
    assert path.read_text(encoding="utf-8") == before


async def test_a_certificate_without_its_key_in_the_file_is_marked_when_the_form_opens(
        tmp_path: Path, engine: StaticEngine) -> None:
    # Written by hand: the file does not load, and the form is where it gets mended.
    path = write_config(tmp_path, extra=SPARKPLUG_SOURCE.replace('tls_ca_file = "ca.pem"',
                                                                 'tls_cert_file = "client.pem"'))
    app = make_devices_app(path, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        devices = await open_devices(pilot, engine)
        assert devices.config_problem is not None and "tls_key_file" in devices.config_problem
        await cursor_to(pilot, devices.table, "uns")
        await pilot.press("e")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, SourceFormScreen)
        assert problem(form, "tls_key_file") == ("give both tls_cert_file and tls_key_file for a client "
                                                 "certificate, or neither")
        form.query_one("#field-tls_key_file", Input).focus()
        await pilot.pause()
        await type_into(pilot, "client.key")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, DevicesScreen), status(form)
    source = load_config(path).source("uns")
    assert (source.tls_cert_file, source.tls_key_file) == ("client.pem", "client.key")


# ---------------------------------------------------------------- tag maps, browse


MQTT_SOURCE = """
[[sources]]
name = "json"
kind = "mqtt"
host = "127.0.0.1"
port = {port}
timeout_s = 2

[[machines]]
id = "L1-CAP"
name = "Capper"
line = "L1"
ideal_cycle_time_s = 1.0
[machines.signals]
speed = {{ source = "json", tag = "plant/line1/capper $.speed" }}
"""


async def test_sparkplug_tag_map_checks_the_metric_pattern_and_has_no_type(tmp_path: Path,
                                                                          engine: StaticEngine) -> None:
    path = write_config(tmp_path, extra=SPARKPLUG_SOURCE)
    notes: list[Notification] = []
    app = make_devices_app(path, engine)
    async with app.run_test(size=(80, 24), message_hook=collect(notes)) as pilot:
        devices = await open_devices(pilot, engine)
        await cursor_to(pilot, devices.table, "uns")
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen, TagMapScreen)
        await pilot.press("a")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, TagMapEditScreen)
        assert not form.query_one("#row-type", FieldRow).display  # Sparkplug metrics carry their type
        assert form.query_one("#row-tag", FieldRow).label == "Metric"
        # A counter left without a width takes its birth's datatype, and the form says so.
        assert "blank: the birth's datatype (Int8 8 ... UInt64 64 bits)." in str(
            form.query_one("#width-hint", Static).content)
        await pilot.press("tab")  # machine (L1-FILL) -> signal
        await pilot.press("enter", *["down"] * 5, "enter")  # total_count -> speed, in Signal order
        await pilot.press("tab")
        await type_into(pilot, "Plant1/#/Press1")
        await pilot.pause()
        assert problem(form, "tag") == "# must be the last level"
        await pilot.press("ctrl+u")
        await type_into(pilot, "Plant1/Line1")
        await pilot.pause()
        assert problem(form, "tag") == ("must be group/edge node/device/metric (or group/edge node/metric "
                                        "for a node metric)")
        await pilot.press("ctrl+u")
        await type_into(pilot, "Plant1/+/Press1/Speed")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, TagMapScreen)
    speed = load_config(path).machine("L1-FILL").signals
    assert [(m.source, m.tag, m.type) for s, m in speed.items() if s == "speed"] == [
        ("uns", "Plant1/+/Press1/Speed", None)]


async def test_mqtt_tag_map_edits_topic_and_json_path_apart(tmp_path: Path, engine: StaticEngine) -> None:
    path = write_config(tmp_path, extra=MQTT_SOURCE.format(port=1883))
    app = make_devices_app(path, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        devices = await open_devices(pilot, engine)
        await cursor_to(pilot, devices.table, "json")
        await pilot.press("m")
        await pilot.pause()
        maps = app.screen
        assert isinstance(maps, TagMapScreen)
        assert cell(maps.table, "L1-CAP/speed", "tag") == "plant/line1/capper $.speed"
        await pilot.press("enter")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, TagMapEditScreen)
        topic, path_field = form.query_one("#field-tag", Input), form.query_one("#field-path", Input)
        assert (topic.value, path_field.value) == ("plant/line1/capper", "$.speed")
        assert topic.has_focus
        await type_into(pilot, "plant/#/capper")
        await pilot.pause()
        assert problem(form, "tag") == "# must be a whole level and the last one (plant/#)"
        await pilot.press("ctrl+u")
        await type_into(pilot, "plant/+/capper")
        await pilot.press("tab")
        await type_into(pilot, "$.data[*]")
        await pilot.pause()
        assert problem(form, "tag") is None
        assert problem(form, "path") == (
            "JSON path '$.data[*]': at character 8: expected an index such as [0] or a quoted name such as "
            "['key'] inside [ ]; wildcards, slices and filters are not supported")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is form  # refused
        await pilot.press("ctrl+u")
        await type_into(pilot, "$['line speed']")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is maps
        assert cell(maps.table, "L1-CAP/speed", "tag") == "plant/+/capper $['line speed']"
    signals = load_config(path).machine("L1-CAP").signals
    assert [m.tag for m in signals.values()] == ["plant/+/capper $['line speed']"]


@pytest.mark.parametrize("kind_source", ["json"])
async def test_browse_says_why_an_mqtt_source_has_nothing_to_browse(tmp_path: Path, engine: StaticEngine,
                                                                    kind_source: str) -> None:
    path = write_config(tmp_path, extra=SPARKPLUG_SOURCE + MQTT_SOURCE.format(port=1883))
    notes: list[Notification] = []
    app = make_devices_app(path, engine)
    async with app.run_test(size=(80, 24), message_hook=collect(notes)) as pilot:
        devices = await open_devices(pilot, engine)
        await cursor_to(pilot, devices.table, kind_source)
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, DevicesScreen)
    expected = {  # a Sparkplug source lists the metrics of births: tests/ui/test_sparkplug_pick.py
        "json": "json: an MQTT broker has no list of the topics that will be published. Type the topic "
                "(+ matches one level, a final # the rest) and, for JSON payloads, the JSON path.",
    }[kind_source]
    assert [note.message for note in notes if note.title == "Browse"] == [expected]


# ---------------------------------------------------------------- test connection against a real broker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    with running_broker(MosquittoBroker, tmp_path / "mosquitto") as server:
        yield server


async def test_test_connection_of_a_sparkplug_source_probes_the_broker_and_leaves_state_alone(
        tmp_path: Path, engine: StaticEngine, broker: MosquittoBroker) -> None:
    extra = SPARKPLUG_SOURCE.replace('host = "192.0.2.50"\nport = 1883', f'host = "127.0.0.1"\nport = {broker.port}')
    extra = extra.replace('tls_ca_file = "ca.pem"\n', "")
    path = write_config(tmp_path, extra=extra)
    watcher, heard = mqtt_client(broker.port, "watcher", subscribe=["spBv1.0/#"])
    try:
        app = make_devices_app(path, engine)
        async with app.run_test(size=(80, 24)) as pilot:
            devices = await open_devices(pilot, engine)
            await cursor_to(pilot, devices.table, "uns")
            await pilot.press("t")
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, ConnectionCheckScreen)
            assert screen.failure is None
            assert screen.probe is not None and screen.probe.client_id == "hall-a-uns-probe"
            outcome = str(screen.query_one("#test-outcome").render())
            assert outcome.startswith("✓ The broker took the connection in ")
            assert (f"mqtt://127.0.0.1:{broker.port} (MQTT 3.1.1, client id hall-a-uns-probe, user 'oee', "
                    "clean session)") in outcome
            assert "s3cret" not in outcome
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, DevicesScreen)
        # The probe published nothing: no STATE (or anything else) under the Sparkplug namespace.
        stop_client(watcher)
        assert heard.messages == []
        assert "as hall-a-uns-probe" in broker.log()
    finally:
        stop_client(watcher)


async def test_test_connection_of_a_sparkplug_source_says_plainly_when_no_broker_answers(
        tmp_path: Path, engine: StaticEngine) -> None:
    port = free_port()
    extra = SPARKPLUG_SOURCE.replace('host = "192.0.2.50"\nport = 1883', f'host = "127.0.0.1"\nport = {port}')
    extra = extra.replace('tls_ca_file = "ca.pem"\n', "")
    app = make_devices_app(write_config(tmp_path, extra=extra), engine)
    async with app.run_test(size=(80, 24)) as pilot:
        devices = await open_devices(pilot, engine)
        await cursor_to(pilot, devices.table, "uns")
        await pilot.press("t")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ConnectionCheckScreen)
        assert screen.failure is not None
        assert screen.failure.startswith(f"Could not reach the broker of uns: mqtt://127.0.0.1:{port}: "
                                         "cannot connect: ")
        assert screen.failure.endswith("Check the host, port, login and TLS files, and that the broker runs; "
                                       "r tries again.")
        assert screen.probe is None


async def test_test_connection_of_an_mqtt_source_reads_each_mapped_topic(tmp_path: Path, engine: StaticEngine,
                                                                         broker: MosquittoBroker) -> None:
    publisher, _ = mqtt_client(broker.port, "capper")
    publisher.publish("plant/line1/capper", json.dumps({"speed": 12.5}), qos=1, retain=True).wait_for_publish(5)
    stop_client(publisher)
    app = make_devices_app(write_config(tmp_path, extra=MQTT_SOURCE.format(port=broker.port)), engine)
    async with app.run_test(size=(80, 24)) as pilot:
        devices = await open_devices(pilot, engine)
        await cursor_to(pilot, devices.table, "json")
        await pilot.press("t")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ConnectionCheckScreen)
        assert screen.failure is None
        table = screen.query_one("#test-readings", KeyedTable)
        assert table.shown_keys() == ("plant/line1/capper $.speed",)
        assert cell(table, "plant/line1/capper $.speed", "value") == "12.5"
        assert cell(table, "plant/line1/capper $.speed", "quality") == "✓ good"
    assert "as oee-tui-json-probe" in broker.log()  # never as the engine's own client id


# ---------------------------------------------------------------- the checks, one field at a time


@pytest.mark.parametrize(("text", "expected"), [
    ("", None), ("Plant1", None), ("Plant1, Plant 2", None),
    ("Plant1,", "must be a list of Sparkplug group ids separated by commas, e.g. Plant1, Plant2"),
    ("Plant1/Line1", "group id 'Plant1/Line1' must be one topic level without /, + or #"),
    ("+", "group id '+' must be one topic level without /, + or #"),
])
def test_group_ids(text: str, expected: str | None) -> None:
    assert checks.check_group_ids(text) == expected


def test_group_ids_are_written_as_a_list() -> None:
    assert checks.split_list(" Plant1 ,Plant2 ") == ["Plant1", "Plant2"]
    assert checks.split_list("  ") == []


@pytest.mark.parametrize(("text", "expected"), [
    ("", None), ("spBv1.0", None), ("plantB", None),
    ("spBv1.0/x", 'must be one topic level without /, + or # (the Sparkplug B default is "spBv1.0")'),
    ("#", 'must be one topic level without /, + or # (the Sparkplug B default is "spBv1.0")'),
])
def test_namespace(text: str, expected: str | None) -> None:
    assert checks.check_namespace(text) == expected


def test_host_id_is_one_topic_level() -> None:
    assert checks.check_host_id("hall-a") is None
    assert checks.check_host_id("hall/a") == ("must be one topic level without /, + or # "
                                              "(it names the topic spBv1.0/STATE/<host_id>)")


@pytest.mark.parametrize(("topic", "path", "tag"), [
    ("plant/+/filler", "$.count", "plant/+/filler $.count"),
    (" plant/line1/state ", "", "plant/line1/state"),
])
def test_mqtt_tag_is_topic_then_path(topic: str, path: str, tag: str) -> None:
    assert checks.mqtt_tag(topic, path) == tag
    assert checks.check_tag("mqtt", tag) is None


def test_mqtt_topic_and_path_checks() -> None:
    assert checks.check_mqtt_topic("plant/+/x") is None
    assert checks.check_mqtt_topic("plant/x $.a") == "the topic ends at ' $': put the JSON path in the JSON path field"
    assert checks.check_mqtt_topic("plant/a+") == "+ must be a whole level (plant/+/count)"
    assert checks.check_mqtt_path("") is None
    assert checks.check_mqtt_path("count") == ("JSON path 'count': a JSON path starts with $ (the whole payload), "
                                               "e.g. $.machine.count")
    assert checks.check_tag("sparkplug", "Plant1/+/Press1/Count") is None
    assert checks.check_tag("sparkplug", "Plant1/Line+/Press1/Count") == "level 'Line+': + must be a whole level"


# ---------------------------------------------------------------- snapshots (80x24 and wide)

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]


@pytest.fixture
def mqtt_devices_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: StaticEngine) -> OeeApp:
    return devices_snapshot_app(tmp_path, monkeypatch, engine, SPARKPLUG_SOURCE)


def _no_blinking(pilot: Pilot[Any]) -> None:
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False  # a blinking cursor would be caught on or off at random


@pytest.mark.parametrize("size", SIZES)
def test_edit_sparkplug_source_form(snap_compare: Any, mqtt_devices_app: OeeApp, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await open_devices_for_snapshot(pilot)
        await pilot.press("down", "e")  # uns, the second row
        await pilot.pause()
        _no_blinking(pilot)
        await pilot.pause()

    assert snap_compare(mqtt_devices_app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_add_mqtt_source_with_a_certificate_but_no_key(snap_compare: Any, mqtt_devices_app: OeeApp,
                                                        size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await open_devices_for_snapshot(pilot)
        await pilot.press("a", "enter", *["down"] * 5, "enter")  # the kind list: modbus -> mqtt
        await pilot.pause()
        form = pilot.app.screen
        assert isinstance(form, SourceFormScreen)
        _no_blinking(pilot)
        await tab_to(pilot, form, "name")
        await pilot.press(*"line2")
        await tab_to(pilot, form, "host")
        await pilot.press(*"broker.plant")
        await tab_to(pilot, form, "tls_cert_file")
        await pilot.press(*"client.pem")
        await tab_to(pilot, form, "tls_key_file")
        await pilot.press("tab")  # left empty: now it is the mistake
        await pilot.pause()

    assert snap_compare(mqtt_devices_app, terminal_size=size, run_before=run_before)


# ---------------------------------------------------------------- `oee devices list` / `test` share the probe


async def test_checking_a_sparkplug_source_probes_and_test_read_and_browse_are_refused_before_connecting(
        tmp_path: Path, broker: MosquittoBroker) -> None:
    from oee_tui import device_checks as devices

    extra = SPARKPLUG_SOURCE.replace('host = "192.0.2.50"\nport = 1883', f'host = "127.0.0.1"\nport = {broker.port}')
    config = load_config(write_config(tmp_path, extra=extra.replace('tls_ca_file = "ca.pem"\n', "")))
    source = config.source("uns")
    watcher, heard = mqtt_client(broker.port, "watcher", subscribe=["spBv1.0/#"])
    try:
        check = await devices.check_source(config, source)
        assert (check.connected, check.error) == (True, None)
        with pytest.raises(NotImplementedError) as refused:
            await devices.test_source(config, source)
        assert str(refused.value) == ("sparkplug sources cannot be test-read: edge nodes push their metrics (a "
                                      "birth, then changes) and a host cannot ask for one; `oee devices list` checks "
                                      "the broker")
        with pytest.raises(NotImplementedError, match=r"uns: a Sparkplug host lists the metrics edge nodes "
                                                      r"declared in their births, which only the running engine "
                                                      r"hears: start `oee engine`"):
            await devices.browse_source(config, source)
    finally:
        stop_client(watcher)
    assert heard.messages == []  # no STATE birth or death from either
    log = broker.log()
    assert log.count("as hall-a-uns-probe") == 1 and "as hall-a-uns " not in log
