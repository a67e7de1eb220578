"""How planning values are kept in the planning tables' text columns, both ways.

The import writes shift days as "mon,tue,..." and breaks as a JSON list of [start, end];
`shift_days` and `shift_breaks` make that text. Reading accepts what a person may have put
there by hand too: days as a JSON list or text such as "mon-fri", breaks as text such as
"09:30-09:45; 12:00-12:30", times as H:MM. A value that cannot be read raises PlanningError
naming the table, the row and the column.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Final

from oee_tui.model import WEEKDAYS, Loss, ShiftPattern

_HHMM: Final = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_DAY_SPLIT: Final = re.compile(r"[\s,;]+")
_BREAK_SPLIT: Final = re.compile(r"\s*[;,]\s*")


class PlanningError(ValueError):
    """A stored planning row that cannot be used; names the table, the row and the column."""


# ---------------------------------------------------------------- writing


def shift_days(days: Sequence[str]) -> str:
    return ",".join(days)


def shift_breaks(breaks: Sequence[tuple[str, str]]) -> str:
    return json.dumps([list(pair) for pair in breaks])


# ---------------------------------------------------------------- reading


def shift_pattern(row: tuple[object, object, object, object, object]) -> ShiftPattern:
    """A shift_patterns row (name, start, end, days, breaks) as a pattern."""
    name, start, end, days, breaks = row
    where = f"shift_patterns table, shift {name!r}"
    return ShiftPattern(str(name), _hhmm(start, where, "start"), _hhmm(end, where, "end"), _days(days, where),
                        _breaks(breaks, where))


def reason_loss(code: str, text: object, planned: bool | None) -> Loss | None:
    """A reasons row's loss column. Empty is None (the parent's, or a breakdown). A planned reason
    has no loss, so whatever its column holds is not read."""
    if planned or not text:
        return None
    try:
        return Loss(str(text).strip().lower())
    except ValueError:
        raise PlanningError(f"reasons table, code {code!r}: loss {text!r} is not one of "
                            f"{', '.join(loss.value for loss in Loss)}") from None


def _hhmm(value: object, where: str, column: str) -> str:
    text = str(value or "").strip()
    match = _HHMM.match(text)
    if match is None:
        raise PlanningError(f"{where}: {column} {value!r} is not a local time HH:MM")
    return f"{int(match[1]):02d}:{match[2]}"


def _days(value: object, where: str) -> tuple[str, ...]:
    """Weekdays as stored: a JSON list, or text such as "mon,tue", "mon-fri"; empty means every day."""
    if value is None or not str(value).strip():
        return WEEKDAYS
    text = str(value).strip()
    items: list[str]
    if text.startswith("["):
        try:
            items = [str(item) for item in json.loads(text)]
        except (json.JSONDecodeError, TypeError):
            raise PlanningError(f"{where}: days {value!r} is not a JSON list of weekdays") from None
    else:
        items = [item for item in _DAY_SPLIT.split(text) if item]
    days: set[int] = set()
    for item in items:
        lo, _, hi = item.strip().lower().partition("-")
        try:
            first = WEEKDAYS.index(lo[:3])
            last = WEEKDAYS.index(hi[:3]) if hi else first
        except ValueError:
            raise PlanningError(f"{where}: days {value!r}: {item!r} is not a weekday "
                                f"({', '.join(WEEKDAYS)})") from None
        index = first
        while True:
            days.add(index)
            if index == last:
                break
            index = (index + 1) % 7
    return tuple(day for i, day in enumerate(WEEKDAYS) if i in days)


def _breaks(value: object, where: str) -> tuple[tuple[str, str], ...]:
    """Breaks as stored: a JSON list of [start, end] (or {"start", "end"}), or text "09:30-09:45; 12:00-12:30"."""
    if value is None or not str(value).strip():
        return ()
    text = str(value).strip()
    pairs: list[tuple[object, object]] = []
    if text.startswith("["):
        try:
            for item in json.loads(text):
                if isinstance(item, dict):
                    pairs.append((item.get("start"), item.get("end")))
                else:
                    start, end = item
                    pairs.append((start, end))
        except (json.JSONDecodeError, TypeError, ValueError):
            raise PlanningError(f"{where}: breaks {value!r} is not a JSON list of [start, end] pairs") from None
    else:
        for item in _BREAK_SPLIT.split(text):
            start, sep, end = item.partition("-")
            if not sep:
                raise PlanningError(f"{where}: breaks {value!r}: {item!r} is not HH:MM-HH:MM")
            pairs.append((start, end))
    return tuple((_hhmm(a, where, "breaks"), _hhmm(b, where, "breaks")) for a, b in pairs)
