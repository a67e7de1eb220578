"""The columns each import kind reads, and the header names people give them.

A header cell matches a column when, after `normalize_header`, it equals the
column's name or one of its aliases (`column_for`). Normalising lower-cases, folds spaces,
underscores, hyphens, dots and slashes into one space, drops a unit in brackets
(`Cycle time (s)` -> `cycle time`) and a trailing `#`/`no`-style marker is an
alias of its own. A header that matches nothing as it stands is tried once more
without a unit at its end, as planners and exporters write them: `cycle_time_s`,
`Ideal cycle time sec`, `Rate pcs/h`. The alias lists are the documented contract: `ALIASES_DOC`
renders them for `oee import --help` and the manual.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

ValueKind = Literal["id", "text", "number", "count", "duration", "rate", "datetime", "time", "bool", "days",
                    "breaks"]


@dataclass(frozen=True, slots=True)
class Column:
    name: str  # canonical name, also how a missing column is named in a problem
    kind: ValueKind
    required: bool  # the header must name it, and (unless empty_ok) every row must fill it
    aliases: tuple[str, ...] = ()
    empty_ok: bool = False  # a required column whose cells may be empty (the kind's builder says what that means)


@dataclass(frozen=True, slots=True)
class KindSpec:
    kind: str
    columns: tuple[Column, ...]
    # Of these groups, at least one column each must be present (e.g. cycle time or rate).
    one_of: tuple[tuple[str, ...], ...] = ()

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)


_SEPARATORS: Final = re.compile(r"[\s_\-./\\:]+")
_UNIT: Final = re.compile(r"\s*[(\[{][^)\]}]*[)\]}]\s*$")


# Units written after a column's name, after an underscore or a space (normalised to a space by then).
_TRAILING_UNIT: Final = re.compile(
    r"(?: (?:in|per|pro|je))?(?: (?:s|sec|secs|second|seconds|sek|sekunden|ms|min|mins|minute|minutes|h|hr|hrs"
    r"|hour|hours|std|stunden|pcs|pc|stk|pieces|units|%))+$")


def normalize_header(text: object) -> str:
    """`  Order_No. ` -> `order no`; `Cycle Time [s]` -> `cycle time`. Case- and space-insensitive matching."""
    if text is None:
        return ""
    cleaned = _UNIT.sub("", str(text).strip().lower())
    return _SEPARATORS.sub(" ", cleaned).strip()


_MACHINE = ("machine id", "machine", "maschine", "asset", "equipment", "workcenter", "work center",
            "work centre", "resource", "station", "anlage", "arbeitsplatz", "ressource")
_LINE = ("line id", "line", "linie", "production line", "fertigungslinie")
_PRODUCT = ("product id", "product", "product code", "article", "article no", "item", "item no", "item number",
            "material", "material no", "sku", "part", "part no", "part number", "artikel", "artikelnummer",
            "produkt", "materialnummer")
_ORDER = ("order id", "order", "order no", "order nr", "order number", "order #", "po", "po number",
          "production order", "work order", "wo", "job", "job no", "auftrag", "auftragsnummer", "auftrags nr",
          "fa", "fertigungsauftrag")
_START = ("start", "start time", "planned start", "start date", "begin", "from", "beginn", "von", "startzeit",
          "start utc")
_END = ("end", "end time", "planned end", "end date", "finish", "stop", "to", "until", "ende", "bis", "endzeit",
        "end utc")
_REASON = ("reason", "reason code", "cause", "code", "grund", "ursache", "stoerung", "störgrund", "stop reason")

# A product's ideal cycle time, or the rate it stands for: the products file's, and a schedule's per order.
IDEAL_CYCLE_TIME: Final = Column(
    "ideal_cycle_time", "duration", False,
    ("ideal cycle time", "cycle time", "ideal cycle", "ideal ct", "ct", "cycle", "seconds per piece",
     "s per piece", "takt", "taktzeit", "zykluszeit", "ideale zykluszeit"))
RATE: Final = Column(
    "rate", "rate", False,
    ("ideal rate", "rate", "speed", "pieces per hour", "pcs per hour", "pcs h", "units per hour",
     "per hour", "output per hour", "stueck pro stunde", "stück pro stunde", "leistung"))

SPECS: Final[dict[str, KindSpec]] = {
    "products": KindSpec("products", (
        Column("product", "id", True, _PRODUCT),
        Column("machine", "id", False, _MACHINE),
        IDEAL_CYCLE_TIME,
        RATE,
        Column("micro_stop_threshold", "duration", False,
               ("micro stop threshold", "micro stop", "minor stop threshold", "microstop threshold",
                "kurzstillstand", "kurzstopp grenze")),
    ), one_of=(("ideal_cycle_time", "rate"),)),
    "schedule": KindSpec("schedule", (
        Column("order_id", "id", True, _ORDER),
        Column("product", "id", True, _PRODUCT),
        Column("machine", "id", False, _MACHINE),
        Column("line", "id", False, _LINE),
        Column("start", "datetime", True, _START),
        Column("end", "datetime", True, _END, empty_ok=True),  # empty: an open order (schedule_checks)
        Column("quantity", "count", True,
               ("quantity", "qty", "planned quantity", "target quantity", "amount", "pieces", "pcs", "menge",
                "sollmenge", "stueck", "stück", "order quantity"), empty_ok=True),
        IDEAL_CYCLE_TIME,  # optional: the order's own, else the product's (schedule_checks)
        RATE,
    ), one_of=(("machine", "line"),)),
    "shifts": KindSpec("shifts", (
        Column("name", "text", True, ("shift", "shift name", "name", "schicht", "schichtname")),
        Column("start", "time", True, _START),
        Column("end", "time", True, _END),
        Column("days", "days", False, ("days", "weekdays", "day", "rotation", "tage", "wochentage")),
        Column("breaks", "breaks", False, ("breaks", "break", "pauses", "pause", "pausen")),
    )),
    "downtime-plan": KindSpec("downtime-plan", (
        Column("machine", "id", False, _MACHINE),
        Column("line", "id", False, _LINE),
        Column("start", "datetime", True, _START),
        Column("end", "datetime", True, _END),
        Column("reason", "id", False, _REASON),
        Column("note", "text", False, ("note", "notes", "comment", "description", "bemerkung", "kommentar")),
    ), one_of=(("machine", "line"),)),
    "reasons": KindSpec("reasons", (
        Column("code", "id", True, ("code", "reason code", "reason", "id", "grund", "schluessel")),
        Column("name", "text", False, ("name", "description", "text", "label", "bezeichnung", "beschreibung")),
        Column("parent", "text", False, ("parent", "parent code", "group", "category", "gruppe", "oberbegriff")),
        Column("planned", "bool", False, ("planned", "is planned", "geplant")),
        Column("loss", "text", False, ("loss", "loss type", "six big losses", "big loss", "verlustart")),
    )),
    "production-log": KindSpec("production-log", (
        Column("machine", "id", True, _MACHINE),
        Column("type", "text", False, ("type", "record", "record type", "kind", "entry", "art", "typ")),
        Column("product", "id", False, _PRODUCT),
        Column("order_id", "id", False, _ORDER),
        Column("start", "datetime", True, _START),
        Column("end", "datetime", True, _END),
        Column("total_count", "count", False,
               ("total count", "total", "count", "quantity", "qty", "produced", "output", "pieces", "gesamt",
                "menge", "stueckzahl", "stückzahl", "gutmenge plus ausschuss")),
        Column("reject_count", "count", False,
               ("reject count", "rejects", "reject", "scrap", "bad", "defects", "nok", "ausschuss", "schlecht")),
        Column("reason", "id", False, _REASON),
    )),
}

KINDS: Final = tuple(SPECS)


def column_for(index: dict[str, str], text: object) -> str | None:
    """The canonical column a header cell names (`index` from `alias_index`), or None.

    As written first, then without a trailing unit: `ideal_cycle_time_s` is `ideal cycle time`."""
    name = normalize_header(text)
    column = index.get(name)
    if column is None and name:
        bare = _TRAILING_UNIT.sub("", name)
        if bare and bare != name:
            column = index.get(bare)
    return column


def header_text(text: object) -> str:
    """A header cell as the file writes it, on one line: a cell with a line break names a column in one message."""
    return "" if text is None else " ".join(str(text).split())


def alias_index(spec: KindSpec) -> dict[str, str]:
    """Normalised header text -> canonical column name for one kind."""
    index: dict[str, str] = {}
    for column in spec.columns:
        for alias in (column.name, *column.aliases):
            index.setdefault(normalize_header(alias), column.name)
    return index


def aliases_doc() -> str:
    """The alias list as text, one line per column, for help screens and docs."""
    lines = []
    for spec in SPECS.values():
        lines.append(f"{spec.kind}:")
        for column in spec.columns:
            need = ("required, may be empty" if column.empty_ok else "required") if column.required else "optional"
            lines.append(f"  {column.name} ({need}, {column.kind}): {', '.join(column.aliases)}")
        for group in spec.one_of:
            lines.append(f"  at least one of: {', '.join(group)}")
    return "\n".join(lines)
