"""Which mapped tags a Sparkplug metric feeds: exact names, or patterns with MQTT-style wildcards.

A Sparkplug tag is `group/edge node/device/metric` (or `group/edge node/metric` for node
metrics). In a tag map, `+` stands for exactly one level and a final `#` for the rest, as in
MQTT topic filters: `Plant1/+/Press1/Count` follows the press whichever edge node publishes it,
`Plant1/Line1/Press1/#` would match every metric of the press. A metric that a pattern matches
is delivered under the pattern's text, so the engine routes it to the mapped signal; one
metric can feed several mappings. Metric names may themselves contain `/` (`Node Control/Rebirth`):
levels are simply the `/`-separated parts of the whole string.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

MAX_CACHED: Final = 100_000  # distinct metric names remembered; a runaway namespace cannot grow it without bound


def is_pattern(tag: str) -> bool:
    return any(level in ("+", "#") for level in tag.split("/"))


def pattern_problem(tag: str) -> str | None:
    """Why `tag` is not a valid Sparkplug tag or pattern, or None."""
    levels = tag.split("/")
    if len(levels) < 3:
        return "must be group/edge node/device/metric (or group/edge node/metric for a node metric)"
    if any(level == "" for level in levels):
        return "has an empty level (two slashes in a row, or one at either end)"
    for index, level in enumerate(levels):
        if level != "+" and "+" in level:
            return f"level {level!r}: + must be a whole level"
        if level != "#" and "#" in level:
            return f"level {level!r}: # must be a whole level"
        if level == "#" and index != len(levels) - 1:
            return "# must be the last level"
    return None


def _matches(pattern: tuple[str, ...], levels: list[str]) -> bool:
    for index, part in enumerate(pattern):
        if part == "#":
            return len(levels) >= index  # zero or more levels left, as in MQTT
        if index >= len(levels) or (part != "+" and part != levels[index]):
            return False
    return len(levels) == len(pattern)


class MetricRouter:
    """Tag of an incoming metric -> the mapped tags it feeds (itself, patterns, or none)."""

    def __init__(self, tags: Iterable[str]) -> None:
        tags = list(dict.fromkeys(tags))
        self._exact = frozenset(tag for tag in tags if not is_pattern(tag))
        self._patterns = [(tag, tuple(tag.split("/"))) for tag in tags if is_pattern(tag)]
        self._cache: dict[str, tuple[str, ...]] = {}

    def targets(self, tag: str) -> tuple[str, ...]:
        found = self._cache.get(tag)
        if found is not None:
            return found
        levels = tag.split("/")
        found = ((tag,) if tag in self._exact else ()) + tuple(
            pattern for pattern, parts in self._patterns if _matches(parts, levels))
        if len(self._cache) >= MAX_CACHED:
            self._cache.clear()
        self._cache[tag] = found
        return found
