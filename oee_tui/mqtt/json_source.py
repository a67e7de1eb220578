"""Generic MQTT payloads (JSON or plain values) to tag samples: the decoding, free of I/O.

A tag of an ``mqtt`` source is ``TOPIC`` or ``TOPIC $PATH``: a topic filter (``+`` and ``#``
wildcards allowed) and, for JSON payloads, a path (oee_tui.mqtt.json_paths) to the value; the
path starts at the first `` $``. Without a path the whole payload is the value: a number,
``true``/``false``, or text. The sample's tag is the mapping's tag, so every topic a wildcard
matches feeds the same signal.

One message may feed several tags. What cannot be decoded or does not fit its signal becomes
one error for the whole message (the caller stores it as a dead letter with the raw bytes);
the tags of the same message that did decode are still emitted.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from oee_tui.model import COUNTER_SIGNALS, Quality, Signal, TagSample, TagValue
from oee_tui.mqtt.json_paths import TIMESTAMP_FORMATS, JsonPath, PathLookupError, kind_of, parse_path, parse_timestamp

PATH_SEPARATOR: Final = " $"
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")
TOPIC_CACHE_MAX: Final = 10_000  # distinct topics whose matching tags are remembered
_NUMBER_SIGNALS: Final = COUNTER_SIGNALS | {Signal.STATE_CODE, Signal.SPEED}


@dataclass(frozen=True, slots=True)
class TagRule:
    """One mapped tag: where its value comes from and what kind of value its signal needs."""

    tag: str
    topic_filter: str
    path: JsonPath | None
    signal: Signal | None = None


def split_tag(tag: str) -> tuple[str, str | None]:
    """``"a/b $.x"`` -> ``("a/b", "$.x")``; a tag without `` $`` is a topic alone."""
    topic, sep, path = tag.partition(PATH_SEPARATOR)
    return topic.strip(), ("$" + path.strip()) if sep else None


def check_topic_filter(topic: str) -> str | None:
    """Why ``topic`` is not a valid MQTT topic filter, or None if it is."""
    if not topic:
        return "the topic is empty; write TOPIC or TOPIC $.path, e.g. plant/line1/filler $.count"
    if "\0" in topic:
        return "a topic must not contain a NUL character"
    if len(topic.encode("utf-8")) > 65_535:
        return "a topic is at most 65535 bytes"
    levels = topic.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return "# must be a whole level and the last one (plant/#)"
        if "+" in level and level != "+":
            return "+ must be a whole level (plant/+/count)"
    return None


def parse_tag(tag: str, signal: Signal | None = None) -> TagRule:
    """A TagRule for a mapping's tag; raises ValueError with what is wrong (config load uses it)."""
    topic, path_text = split_tag(tag)
    problem = check_topic_filter(topic)
    if problem is not None:
        raise ValueError(problem)
    path = None
    if path_text is not None:
        try:
            path = parse_path(path_text)
        except ValueError as exc:
            raise ValueError(f"JSON path {path_text!r}: {exc}") from None
    return TagRule(tag, topic, path, signal)


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT matching: ``+`` one level, ``#`` the rest (and the parent level); ``$`` topics only explicitly."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    filter_levels = topic_filter.split("/")
    levels = topic.split("/")
    for index, wanted in enumerate(filter_levels):
        if wanted == "#":
            return True
        if index >= len(levels) or (wanted != "+" and wanted != levels[index]):
            return False
    return len(levels) == len(filter_levels)


class PayloadDecoder:
    """Turns one message into samples and, when something did not decode, an error text."""

    def __init__(self, source: str, rules: Sequence[TagRule], *, timestamp_path: JsonPath | None = None,
                 timestamp_format: str = "iso8601") -> None:
        if timestamp_format not in TIMESTAMP_FORMATS:
            raise ValueError(f"timestamp_format must be one of {', '.join(TIMESTAMP_FORMATS)}")
        self.source = source
        self.rules = tuple(rules)
        self.timestamp_path = timestamp_path
        self.timestamp_format = timestamp_format
        self._by_topic: dict[str, tuple[TagRule, ...]] = {}

    @property
    def filters(self) -> list[str]:
        """The topic filters to subscribe to, each once, in config order."""
        return list(dict.fromkeys(rule.topic_filter for rule in self.rules))

    def rules_for(self, topic: str) -> tuple[TagRule, ...]:
        found = self._by_topic.get(topic)
        if found is None:
            found = tuple(rule for rule in self.rules if topic_matches(rule.topic_filter, topic))
            if len(self._by_topic) >= TOPIC_CACHE_MAX:
                self._by_topic.clear()  # a topic space this large is unusual; rebuilding is cheap
            self._by_topic[topic] = found
        return found

    def decode(self, topic: str, payload: bytes, arrival: float) -> tuple[list[TagSample], str | None]:
        rules = self.rules_for(topic)
        if not rules:
            return [], None  # a message for nobody (an overlapping subscription); nothing is lost by ignoring it
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            return [], f"payload is not UTF-8 text (byte {exc.start}: 0x{payload[exc.start]:02x})"
        document: Any = None
        if any(rule.path is not None for rule in rules) or (
                self.timestamp_path is not None and text.lstrip().startswith(("{", "["))):
            try:
                document = parse_json(text)
            except ValueError as exc:
                return [], str(exc)
        try:
            timestamp = self._timestamp(document, arrival)
        except ValueError as exc:
            return [], str(exc)
        errors: list[str] = []
        samples: list[TagSample] = []
        for rule in rules:
            try:
                value = plain_value(text) if rule.path is None else _extract(rule.path, document)
                check_value(rule.signal, value)
            except ValueError as exc:
                errors.append(f"{rule.tag}: {exc}" if len(rules) > 1 else str(exc))
                continue
            samples.append(TagSample(timestamp, self.source, rule.tag, value, Quality.GOOD))
        return samples, "; ".join(errors) or None

    def _timestamp(self, document: Any, arrival: float) -> float:
        # A plain value carries no timestamp field: it is stamped on arrival.
        if self.timestamp_path is None or not isinstance(document, dict | list):
            return arrival
        try:
            return parse_timestamp(self.timestamp_path.extract(document), self.timestamp_format)
        except PathLookupError as exc:
            raise ValueError(f"timestamp {self.timestamp_path.text}: {exc}") from None


def _refuse_constant(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")


# Python's json accepts NaN and Infinity, which JSON does not; a count of NaN must not pass.
_JSON: Final = json.JSONDecoder(parse_constant=_refuse_constant)


def parse_json(text: str) -> Any:
    try:
        return _JSON.decode(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"payload is not JSON: {exc}") from None
    except RecursionError:
        raise ValueError("payload is not JSON this program reads: nested too deeply") from None


def _extract(path: JsonPath, document: Any) -> Any:
    try:
        value = path.extract(document)
    except PathLookupError as exc:
        raise ValueError(f"path {path.text}: {exc}") from None
    if value is None or isinstance(value, dict | list):
        raise ValueError(f"path {path.text} is {kind_of(value)}, not a number, boolean or string")
    return value


def plain_value(text: str) -> TagValue:
    """A payload without a path: a number, true/false, a JSON scalar, or the text itself."""
    stripped = text.strip()
    if not stripped:
        raise ValueError("payload is empty")
    if _INT.fullmatch(stripped):
        return int(stripped)
    if _FLOAT.fullmatch(stripped):
        number = float(stripped)
        if not math.isfinite(number):
            raise ValueError(f"{stripped!r} is not a finite number")
        return number
    lowered = stripped.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if stripped[0] in "{[":
        raise ValueError("payload is JSON " + ("an object" if stripped[0] == "{" else "an array")
                         + "; add a path to the tag (TOPIC $.field) to pick a value")
    if stripped[0] == '"':
        value = parse_json(stripped)
        if isinstance(value, str):
            return value
    return stripped


def check_value(signal: Signal | None, value: Any) -> None:
    """Refuse a value its signal cannot use, so it is a dead letter and not a silent wrong count."""
    if signal is None:
        return
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if signal in _NUMBER_SIGNALS and not is_number:
        raise ValueError(f"{signal.value} needs a number, got {kind_of(value)} {value!r}")
    if is_number and not math.isfinite(value):
        raise ValueError(f"{signal.value} needs a finite number, got {value!r}")
    if signal is Signal.FAULT and not (is_number or isinstance(value, bool)):
        raise ValueError(f"fault needs a boolean or a number, got {kind_of(value)} {value!r}")


def rules_from(tags: Iterable[Any]) -> list[TagRule]:
    """TagRules for a driver's TagMappings (already validated when the config was loaded)."""
    return [parse_tag(mapping.tag, getattr(mapping, "signal", None)) for mapping in tags]
