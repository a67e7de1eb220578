"""The JSON path subset, topic filters and payload decoding of generic MQTT sources (no broker needed)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oee_tui.model import Quality, Signal
from oee_tui.mqtt.json_paths import PathLookupError, PathSyntaxError, parse_path, parse_timestamp
from oee_tui.mqtt.json_source import PayloadDecoder, parse_tag, plain_value, split_tag, topic_matches

DOC = {"machine": {"count": 42, "state": 1}, "data": [{"value": 3.5}, {"value": True}],
       "odd key": {"it's": "yes"}, "with-dash": 7}


@pytest.mark.parametrize(("path", "value"), [
    ("$", DOC),
    ("$.machine.count", 42),
    ("$.data[0].value", 3.5),
    ("$.data[-1].value", True),
    ("$['odd key']", {"it's": "yes"}),
    ("$[\"odd key\"]['it\\'s']", "yes"),
    ("$.with-dash", 7),
    ("$['machine'].state", 1),
])
def test_paths_select_one_value(path: str, value: object) -> None:
    assert parse_path(path).extract(DOC) == value


@pytest.mark.parametrize(("path", "message"), [
    ("machine.count", "a JSON path starts with $ (the whole payload), e.g. $.machine.count"),
    ("$.", "at character 3: expected a member name (letters, digits, _ or -) after '.', found 'the end'; "
           "write ['...'] for other names"),
    ("$.*", "at character 3: expected a member name (letters, digits, _ or -) after '.', found '*'; wildcards are "
            "not supported; write ['...'] for other names"),
    ("$..count", "at character 2: recursive descent (..) is not supported; a path selects exactly one value"),
    ("$.data[*]", "at character 8: expected an index such as [0] or a quoted name such as ['key'] inside [ ]; "
                  "wildcards, slices and filters are not supported"),
    ("$.data[0:2]", "at character 9: expected an index such as [0] or a quoted name such as ['key'] inside [ ]; "
                    "wildcards, slices and filters are not supported"),
    ("$['open", "at character 3: the quoted name is not closed with '"),
    ("$['a'x", "at character 6: expected ']' after the quoted name"),
    ("$.a b", "at character 4: expected '.' or '[', found ' '"),
    ("$['a\\n']", "at character 5: only \\', \\\" and \\\\ are escapes"),
])
def test_bad_paths_are_refused_with_the_position(path: str, message: str) -> None:
    with pytest.raises(PathSyntaxError) as caught:
        parse_path(path)
    assert str(caught.value) == message


@pytest.mark.parametrize(("path", "message"), [
    ("$.machine.speed", "$.machine has no member 'speed'"),
    ("$.data[2]", "$.data has 2 elements; [2] is out of range"),
    ("$.machine[0]", "$.machine is an object, not an array, so it has no [0]"),
    ("$.data.value", "$.data is an array, not an object, so it has no member 'value'"),
    ("$.machine.count.x", "$.machine.count is a number, not an object, so it has no member 'x'"),
])
def test_missing_values_say_which_step_failed(path: str, message: str) -> None:
    with pytest.raises(PathLookupError) as caught:
        parse_path(path).extract(DOC)
    assert str(caught.value) == message


@pytest.mark.parametrize(("tag", "parts"), [
    ("plant/line1/count", ("plant/line1/count", None)),
    ("plant/+/data $.machine.count", ("plant/+/data", "$.machine.count")),
    ("plant/# $['odd key'].x", ("plant/#", "$['odd key'].x")),
])
def test_a_tag_is_a_topic_and_an_optional_path(tag: str, parts: tuple[str, str | None]) -> None:
    assert split_tag(tag) == parts


@pytest.mark.parametrize(("tag", "message"), [
    ("plant/#/count", "# must be a whole level and the last one (plant/#)"),
    ("plant/line+/count", "+ must be a whole level (plant/+/count)"),
    (" $.count", "the topic is empty; write TOPIC or TOPIC $.path, e.g. plant/line1/filler $.count"),
    ("plant/data $.a[", "JSON path '$.a[': at character 5: expected an index such as [0] or a quoted name such "
                        "as ['key'] inside [ ]; found 'the end'"),
])
def test_bad_tags_are_refused(tag: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_tag(tag)
    assert str(caught.value) == message


@pytest.mark.parametrize(("pattern", "topic", "matches"), [
    ("plant/+/count", "plant/line1/count", True),
    ("plant/+/count", "plant/line1/x/count", False),
    ("plant/#", "plant", True),
    ("plant/#", "plant/a/b/c", True),
    ("#", "$SYS/broker/uptime", False),
    ("+/x", "$SYS/x", False),
    ("plant/a", "plant/a/b", False),
    ("plant/a/+", "plant/a", False),
])
def test_topic_matching_follows_mqtt(pattern: str, topic: str, matches: bool) -> None:
    assert topic_matches(pattern, topic) is matches


@pytest.mark.parametrize(("payload", "value"), [
    ("42", 42), (" -7\n", -7), ("3.25", 3.25), ("1e3", 1000.0), ("true", True), ("FALSE", False),
    ('"Product A"', "Product A"), ("Product B", "Product B"),
])
def test_plain_payloads(payload: str, value: object) -> None:
    assert plain_value(payload) == value
    assert type(plain_value(payload)) is type(value)


def decoder(*tags: tuple[str, Signal], **kwargs: object) -> PayloadDecoder:
    return PayloadDecoder("src", [parse_tag(tag, signal) for tag, signal in tags], **kwargs)  # type: ignore[arg-type]


def test_one_json_message_feeds_several_tags() -> None:
    decode = decoder(("m/+/data $.count", Signal.TOTAL_COUNT), ("m/+/data $.state", Signal.STATE_CODE)).decode
    samples, error = decode("m/1/data", b'{"count": 10, "state": 2}', 1000.0)
    assert error is None
    assert [(s.tag, s.value, s.ts_utc, s.quality) for s in samples] == [
        ("m/+/data $.count", 10, 1000.0, Quality.GOOD), ("m/+/data $.state", 2, 1000.0, Quality.GOOD)]


def test_a_partly_bad_message_emits_what_decoded_and_says_what_did_not() -> None:
    decode = decoder(("m/data $.count", Signal.TOTAL_COUNT), ("m/data $.state", Signal.STATE_CODE)).decode
    samples, error = decode("m/data", b'{"count": 10, "state": "running"}', 1000.0)
    assert [(s.tag, s.value) for s in samples] == [("m/data $.count", 10)]
    assert error == "m/data $.state: state_code needs a number, got a string 'running'"


@pytest.mark.parametrize(("payload", "error"), [
    (b"{oops", "payload is not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    (b'{"count": NaN}', "NaN is not a JSON number"),
    (b'{"other": 1}', "path $.count: $ has no member 'count'"),
    (b'{"count": null}', "path $.count is null, not a number, boolean or string"),
    (b'{"count": [1]}', "path $.count is an array, not a number, boolean or string"),
    (b'{"count": true}', "total_count needs a number, got a boolean True"),
    (b"\xff\xfe", "payload is not UTF-8 text (byte 0: 0xff)"),
])
def test_undecodable_payloads_say_why(payload: bytes, error: str) -> None:
    samples, said = decoder(("m/data $.count", Signal.TOTAL_COUNT)).decode("m/data", payload, 1.0)
    assert samples == [] and said == error


def test_plain_payload_errors() -> None:
    decode = decoder(("m/count", Signal.TOTAL_COUNT)).decode
    assert decode("m/count", b"", 1.0) == ([], "payload is empty")
    assert decode("m/count", b"abc", 1.0) == ([], "total_count needs a number, got a string 'abc'")
    assert decode("m/count", b'{"a": 1}', 1.0) == (
        [], "payload is JSON an object; add a path to the tag (TOPIC $.field) to pick a value")


@pytest.mark.parametrize(("value", "fmt", "expected"), [
    ("2026-11-27T08:00:00Z", "iso8601", datetime(2026, 11, 27, 8, tzinfo=UTC).timestamp()),
    ("2026-11-27T09:00:00+01:00", "iso8601", datetime(2026, 11, 27, 8, tzinfo=UTC).timestamp()),
    ("2026-11-27 08:00:00.250", "iso8601", datetime(2026, 11, 27, 8, tzinfo=UTC).timestamp() + 0.25),
    (1795766400, "epoch_s", 1795766400.0),
    ("1795766400.5", "epoch_s", 1795766400.5),
    (1795766400123, "epoch_ms", 1795766400.123),
])
def test_timestamps(value: object, fmt: str, expected: float) -> None:
    assert math.isclose(parse_timestamp(value, fmt), expected, abs_tol=1e-6)


@pytest.mark.parametrize(("value", "fmt", "message"), [
    (1795766400123, "epoch_s", "timestamp 1795766400123 read as epoch_s is outside the years 2000 to 2099; "
                               "check timestamp_format (epoch_s or epoch_ms)"),
    ("yesterday", "iso8601", "timestamp 'yesterday' is not ISO 8601 (e.g. 2026-11-27T08:00:00Z)"),
    (17, "iso8601", "timestamp must be an ISO 8601 string, got a number 17"),
    (True, "epoch_ms", "timestamp must be a number of milliseconds since 1970, got a boolean True"),
])
def test_bad_timestamps(value: object, fmt: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_timestamp(value, fmt)
    assert str(caught.value) == message


def test_timestamp_from_a_field_and_plain_values_on_arrival() -> None:
    decode = decoder(("m/data $.count", Signal.TOTAL_COUNT), ("m/state", Signal.STATE_CODE),
                     timestamp_path=parse_path("$.ts"), timestamp_format="epoch_ms").decode
    samples, error = decode("m/data", b'{"count": 5, "ts": 1795766400500}', 1.0)
    assert error is None and samples[0].ts_utc == pytest.approx(1795766400.5)
    samples, error = decode("m/state", b"2", 7.0)
    assert error is None and samples[0].ts_utc == 7.0
    assert decode("m/data", b'{"count": 5}', 1.0) == ([], "timestamp $.ts: $ has no member 'ts'")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=10)


@settings(max_examples=400, deadline=None)
@given(payload=st.one_of(st.binary(max_size=64), json_values.map(lambda v: json.dumps(v).encode())))
def test_any_payload_decodes_or_gives_an_error_never_raises(payload: bytes) -> None:
    decode = decoder(("m/data $.machine.count", Signal.TOTAL_COUNT), ("m/data $.data[0]", Signal.FAULT),
                     ("m/+", Signal.PRODUCT), timestamp_path=parse_path("$.ts")).decode
    samples, error = decode("m/data", payload, 1.0)
    assert error is not None or len(samples) == 3
    for sample in samples:
        assert sample.quality is Quality.GOOD and sample.value is not None
