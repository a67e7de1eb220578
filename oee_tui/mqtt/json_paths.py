"""A small, strict JSON path: the subset that selects exactly one value, and nothing more.

Syntax: ``$`` (the whole document), then any number of steps:

* ``.name``: a member whose name is letters, digits, ``_`` or ``-`` (``$.machine.count``);
* ``['any key']`` or ``["any key"]``: any member name, with ``\\'``, ``\\"`` and ``\\\\`` escapes;
* ``[N]``: an array element, 0-based; ``[-1]`` is the last.

Wildcards, slices, filters and recursive descent are refused when the config is loaded: a tag
is one value, and a path that could match several would make its meaning depend on the payload.
Why not a JSONPath library: the full language is exactly what we must refuse, the libraries
disagree on details of it (RFC 9535 came late), and this subset is a hundred lines with
errors that point at the character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

_NAME = re.compile(r"[A-Za-z0-9_-]+")
_INDEX = re.compile(r"-?\d+")
TIMESTAMP_FORMATS: Final = ("iso8601", "epoch_s", "epoch_ms")
# Plausible times: a timestamp outside these years is almost always seconds read as ms or the reverse.
_EARLIEST: Final = datetime(2000, 1, 1, tzinfo=UTC).timestamp()
_LATEST: Final = datetime(2100, 1, 1, tzinfo=UTC).timestamp()


class PathSyntaxError(ValueError):
    """A path that does not parse; the message names the character and what was expected."""


class PathLookupError(LookupError):
    """A path that parses but does not lead to a value in this document."""


Step = str | int


@dataclass(frozen=True, slots=True)
class JsonPath:
    text: str
    steps: tuple[Step, ...]

    def extract(self, document: Any) -> Any:
        """The value the path selects. Raises PathLookupError naming the step that failed."""
        value = document
        for depth, step in enumerate(self.steps):
            if isinstance(step, int):
                if not isinstance(value, list):
                    raise PathLookupError(f"{render(self.steps[:depth])} is {_kind(value)}, not an array, "
                                          f"so it has no [{step}]")
                if not -len(value) <= step < len(value):
                    raise PathLookupError(f"{render(self.steps[:depth])} has {len(value)} elements; "
                                          f"[{step}] is out of range")
                value = value[step]
            else:
                if not isinstance(value, dict):
                    raise PathLookupError(f"{render(self.steps[:depth])} is {_kind(value)}, not an object, "
                                          f"so it has no member {step!r}")
                if step not in value:
                    raise PathLookupError(f"{render(self.steps[:depth])} has no member {step!r}")
                value = value[step]
        return value


def parse_path(text: str) -> JsonPath:
    """Parse ``text``; raises PathSyntaxError with the position (1-based) and what was expected."""
    if not text.startswith("$"):
        raise PathSyntaxError("a JSON path starts with $ (the whole payload), e.g. $.machine.count")
    steps: list[Step] = []
    i = 1
    while i < len(text):
        char = text[i]
        if char == ".":
            if text.startswith("..", i):
                raise PathSyntaxError(f"at character {i + 1}: recursive descent (..) is not supported; "
                                      "a path selects exactly one value")
            match = _NAME.match(text, i + 1)
            if match is None:
                found = text[i + 1] if i + 1 < len(text) else "the end"
                hint = "; wildcards are not supported" if found == "*" else ""
                raise PathSyntaxError(f"at character {i + 2}: expected a member name (letters, digits, _ or -) "
                                      f"after '.', found {found!r}{hint}; write ['...'] for other names")
            steps.append(match.group())
            i = match.end()
        elif char == "[":
            step, i = _bracket(text, i)
            steps.append(step)
        else:
            raise PathSyntaxError(f"at character {i + 1}: expected '.' or '[', found {char!r}")
    return JsonPath(text, tuple(steps))


def _bracket(text: str, start: int) -> tuple[Step, int]:
    i = start + 1
    if i < len(text) and text[i] in "'\"":
        quote = text[i]
        chars: list[str] = []
        i += 1
        while i < len(text) and text[i] != quote:
            if text[i] == "\\":
                if i + 1 >= len(text) or text[i + 1] not in "\\'\"":
                    raise PathSyntaxError(f"at character {i + 1}: only \\', \\\" and \\\\ are escapes")
                i += 1
            chars.append(text[i])
            i += 1
        if i >= len(text):
            raise PathSyntaxError(f"at character {start + 2}: the quoted name is not closed with {quote}")
        i += 1
        if not text.startswith("]", i):
            raise PathSyntaxError(f"at character {i + 1}: expected ']' after the quoted name")
        return "".join(chars), i + 1
    match = _INDEX.match(text, i)
    if match is None or not text.startswith("]", match.end()):
        at = i if match is None else match.end()
        found = text[at:at + 1] or "the end"
        i = at
        what = "wildcards, slices and filters are not supported" if found in ("*", ":", "?") else \
            f"found {found!r}"
        raise PathSyntaxError(f"at character {i + 1}: expected an index such as [0] or a quoted name such as "
                              f"['key'] inside [ ]; {what}")
    return int(match.group()), match.end() + 1


def render(steps: tuple[Step, ...]) -> str:
    """The canonical text of a path prefix, for messages."""
    out = ["$"]
    for step in steps:
        if isinstance(step, int):
            out.append(f"[{step}]")
        elif _NAME.fullmatch(step):
            out.append(f".{step}")
        else:
            out.append("['" + step.replace("\\", "\\\\").replace("'", "\\'") + "']")
    return "".join(out)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def kind_of(value: Any) -> str:
    return _kind(value)


def parse_timestamp(value: Any, fmt: str) -> float:
    """Seconds since the epoch (UTC) from a payload field in ``fmt``: iso8601 (without an offset:
    UTC), epoch_s or epoch_ms (numbers or numeric strings). Raises ValueError saying why."""
    if fmt == "iso8601":
        if not isinstance(value, str):
            raise ValueError(f"timestamp must be an ISO 8601 string, got {_kind(value)} {value!r}")
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"timestamp {value!r} is not ISO 8601 (e.g. 2026-11-27T08:00:00Z)") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = moment.timestamp()
    else:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"timestamp must be a number of {'seconds' if fmt == 'epoch_s' else 'milliseconds'} "
                             f"since 1970, got {_kind(value)} {value!r}")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"timestamp {value!r} is not a number") from None
        seconds = number / 1000 if fmt == "epoch_ms" else number
    if not _EARLIEST <= seconds < _LATEST:
        raise ValueError(f"timestamp {value!r} read as {fmt} is outside the years 2000 to 2099; "
                         "check timestamp_format (epoch_s or epoch_ms)")
    return seconds
