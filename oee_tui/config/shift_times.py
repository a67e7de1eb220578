"""``[[shifts]]``: the plant's shift pattern in local time, with its breaks.

No two shifts may run at the same time: the rule and its words are the shifts import's
(oee_tui.model.shift_overlaps), since either set can be the plant's calendar."""

from __future__ import annotations

import re
from dataclasses import dataclass

from oee_tui.config.toml_reader import TomlReader, TomlTable, entry_key
from oee_tui.model import WEEKDAYS, shift_overlaps

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True, slots=True)
class BreakConfig:
    start: str  # "HH:MM" local
    end: str


@dataclass(frozen=True, slots=True)
class ShiftConfig:
    name: str
    start: str  # "HH:MM" local
    end: str  # "HH:MM" local; at or before start means the next day
    days: tuple[str, ...] = WEEKDAYS  # weekday the shift starts on
    breaks: tuple[BreakConfig, ...] = ()


def _hhmm(r: TomlReader, data: TomlTable, key: str, name: str) -> str:
    value = r.string(data, key, name)
    if not _HHMM.match(value):
        raise r.fail(f"{key}.{name}", value, "must be a local time HH:MM, e.g. 06:00")
    return value


def read_shifts(r: TomlReader, data: TomlTable) -> tuple[ShiftConfig, ...]:
    out: list[ShiftConfig] = []
    seen: set[str] = set()
    for i, t in enumerate(r.tables(data, "shifts", "shifts")):
        with r.noting(entry_key("shifts", i, t, "name")):
            key = entry_key("shifts", i, t, "name")
            r.unknown_keys(t, key, {"name", "start", "end", "days", "breaks"})
            name = r.string(t, key, "name")
            r.unique(f"{key}.name", seen, name)
            key = f"shifts[{name}]"
            days_raw = t.get("days", list(WEEKDAYS))
            if not isinstance(days_raw, list) or not days_raw or any(d not in WEEKDAYS for d in days_raw):
                raise r.fail(f"{key}.days", days_raw, f"must be a list of weekdays from {', '.join(WEEKDAYS)}")
            breaks: list[BreakConfig] = []
            breaks_raw = t.get("breaks", [])
            if not isinstance(breaks_raw, list):
                raise r.fail(f"{key}.breaks", breaks_raw, 'must be a list of { start = "HH:MM", end = "HH:MM" }')
            for j, b in enumerate(breaks_raw):
                bkey = f"{key}.breaks[{j}]"
                if not isinstance(b, dict):
                    raise r.fail(bkey, b, 'must be { start = "HH:MM", end = "HH:MM" }')
                r.unknown_keys(b, bkey, {"start", "end"})
                breaks.append(BreakConfig(start=_hhmm(r, b, bkey, "start"), end=_hhmm(r, b, bkey, "end")))
            out.append(ShiftConfig(name=name, start=_hhmm(r, t, key, "start"), end=_hhmm(r, t, key, "end"),
                                   days=tuple(days_raw), breaks=tuple(breaks)))
    overlaps = shift_overlaps(out)
    if overlaps:  # the first of them: a ConfigError names one key
        first = overlaps[0]
        raise r.fail(f"shifts[{first.shift.name}].start", first.shift.start, first.why())
    return tuple(out)
