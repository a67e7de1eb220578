"""Kind + raw table + config -> validated records, or every problem in the file.

The whole file is checked before anything is written, and a file with any
problem yields no records: a planner fixes the list in one pass instead of
meeting the errors one import at a time. Each problem names file, sheet, row,
column, the value as written, and why it is wrong.

Records are plain frozen dataclasses with times in UTC POSIX seconds, ready for
the store to write in one transaction (the next slice).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from oee_tui.config import WEEKDAYS, BreakConfig, Config, ShiftConfig
from oee_tui.imports import values
from oee_tui.imports.columns import SPECS, KindSpec, alias_index, normalize_header
from oee_tui.imports.reading import RawTable, ReadError, read_table
from oee_tui.model import Loss

# ---------------------------------------------------------------- problems


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    sheet: str | None
    row: int | None  # as the user sees it; None for the file as a whole
    column: str | None  # the header as written in the file, or the canonical name of a missing column
    value: object
    why: str

    def sort_key(self) -> tuple[str, str, int, str, str]:
        return (self.file, self.sheet or "", self.row or 0, self.column or "", self.why)

    def __str__(self) -> str:
        parts = [self.file]
        if self.sheet:
            parts.append(f"sheet {self.sheet}")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column {self.column}")
        shown = "" if self.value is None else f"{_show(self.value)}: "
        return f"{', '.join(parts)}: {shown}{self.why}"


def _show(value: object) -> str:
    if isinstance(value, datetime):
        return repr(value.isoformat(sep=" "))
    return repr(value)


# ---------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class ProductRate:
    product: str
    machine: str | None  # None: every machine without its own row
    ideal_cycle_time_s: float
    micro_stop_threshold_s: float | None
    source_row: int


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    product: str
    machine: str | None
    line: str | None
    start_utc: float
    end_utc: float
    quantity: int
    source_row: int


@dataclass(frozen=True, slots=True)
class ShiftPattern:
    name: str
    start: str  # "HH:MM" plant local time
    end: str  # at or before start: the next day
    days: tuple[str, ...]
    breaks: tuple[tuple[str, str], ...]
    source_row: int

    def to_config(self) -> ShiftConfig:
        return ShiftConfig(name=self.name, start=self.start, end=self.end, days=self.days,
                           breaks=tuple(BreakConfig(start, end) for start, end in self.breaks))


@dataclass(frozen=True, slots=True)
class PlannedStop:
    machine: str | None
    line: str | None
    start_utc: float
    end_utc: float
    reason: str
    note: str
    source_row: int


@dataclass(frozen=True, slots=True)
class ReasonRecord:
    code: str
    name: str
    parent: str | None
    planned: bool
    loss: Loss | None
    source_row: int


@dataclass(frozen=True, slots=True)
class ProductionRun:
    machine: str
    product: str | None
    order_id: str | None
    start_utc: float
    end_utc: float
    total_count: int
    reject_count: int
    source_row: int


@dataclass(frozen=True, slots=True)
class LoggedStop:
    machine: str
    start_utc: float
    end_utc: float
    reason: str | None
    source_row: int


Record = ProductRate | Order | ShiftPattern | PlannedStop | ReasonRecord | ProductionRun | LoggedStop


@dataclass(frozen=True, slots=True)
class ImportResult:
    kind: str
    file: str
    sheet: str | None
    records: tuple[Record, ...]  # empty whenever problems is not
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


# ---------------------------------------------------------------- entry points

DEFAULT_PLANNED_REASON: Final = "PM"


def validate_file(kind: str, path: Path | str, config: Config, sheet: str | None = None,
                  products_path: Path | str | None = None,
                  progress: Callable[[int, int], None] | None = None) -> ImportResult:
    """Read and check one file. `products_path`: a products file whose products count as known.

    `progress(rows read, rows total or 0 if unknown)` follows the reading, the slow part of a large file."""
    if kind not in SPECS:
        raise ValueError(f"unknown import kind {kind!r}; kinds are {', '.join(SPECS)}")
    extra_products: set[str] | None = None
    problems: list[Problem] = []
    if products_path is not None:
        products = validate_file("products", products_path, config)
        if products.problems:
            problems.extend(products.problems)
        extra_products = {record.product for record in products.records if isinstance(record, ProductRate)}
    try:
        table = read_table(path, SPECS[kind], sheet, progress)
    except ReadError as exc:
        problems.append(Problem(exc.file, exc.sheet, exc.row, None, None, exc.why))
        return ImportResult(kind, str(path), sheet, (), tuple(sorted(problems, key=Problem.sort_key)))
    result = validate_table(kind, table, config, extra_products)
    if problems:
        merged = tuple(sorted((*problems, *result.problems), key=Problem.sort_key))
        return ImportResult(kind, table.file, table.sheet, (), merged)
    return result


def known_products(config: Config) -> set[str]:
    products: set[str] = set()
    for machine in config.machines:
        products.update(machine.product_cycle_times)
        if machine.default_product:
            products.add(machine.default_product)
    return products


def validate_table(kind: str, table: RawTable, config: Config,
                   extra_products: set[str] | None = None) -> ImportResult:
    spec = SPECS[kind]
    checker = _Checker(table, spec, config, extra_products)
    checker.run()
    problems = tuple(sorted(checker.problems, key=Problem.sort_key))
    return ImportResult(kind, table.file, table.sheet, () if problems else tuple(checker.records), problems)


# ---------------------------------------------------------------- the checker


class _Checker:
    def __init__(self, table: RawTable, spec: KindSpec, config: Config, extra_products: set[str] | None) -> None:
        self.table = table
        self.spec = spec
        self.config = config
        self.clock = values.PlantClock(config.tz)
        self.problems: list[Problem] = []
        self.records: list[Record] = []
        self.machines = {machine.id: machine for machine in config.machines}
        self.lines = {line.id for line in config.lines}
        products = known_products(config) | (extra_products or set())
        # Only check products against a list someone gave; an empty list would flag every row.
        self.products: set[str] | None = products or None
        self.reasons = {reason.code: reason for reason in config.reasons}
        self.positions: dict[str, int] = {}  # canonical column -> index in the row
        self.headers: dict[str, str] = {}  # canonical column -> header as written
        self.decimal_comma = False
        self.day_first: bool | None = None
        self._cells_by_row: dict[int, tuple[object, ...]] | None = None

    # -- helpers

    def problem(self, row: int | None, column: str | None, value: object, why: str) -> None:
        header = self.headers.get(column, column) if column else None
        self.problems.append(Problem(self.table.file, self.table.sheet, row, header, value, why))

    def cell(self, cells: tuple[object, ...], column: str) -> object:
        position = self.positions.get(column)
        if position is None or position >= len(cells):
            return None
        return cells[position]

    # -- the run

    def run(self) -> None:
        if not self._map_header():
            return
        self._detect_locale()
        parsed: list[tuple[int, dict[str, Any], tuple[object, ...]]] = []
        # Resolved once: this loop runs for every cell of the file.
        plan = [(column, self.positions[column], parse, self.spec.column(column).required)
                for column, parse in self._parsers()]
        for number, cells in self.table.rows:
            row: dict[str, Any] = {}
            good = True
            width = len(cells)
            for column, position, parse, required in plan:
                raw = cells[position] if position < width else None
                if raw is None or (raw.__class__ is str and not raw.strip()):
                    if required:
                        self.problem(number, column, None, "is empty; this column is required")
                        good = False
                    row[column] = None
                    continue
                try:
                    row[column] = parse(raw)
                except ValueError as exc:
                    self.problem(number, column, raw, str(exc))
                    good = False
            if good:
                parsed.append((number, row, cells))
        getattr(self, "_build_" + self.spec.kind.replace("-", "_"))(parsed)

    def _map_header(self) -> bool:
        index = alias_index(self.spec)
        for position, text in enumerate(self.table.header):
            name = index.get(normalize_header(text))
            if name is None:
                continue  # extra columns (comments, colours, totals) are common and harmless
            if name in self.positions:
                first = self.table.header[self.positions[name]]
                self.problems.append(Problem(self.table.file, self.table.sheet, self.table.header_row, text, text,
                                             f"names the same column ({name}) as {first!r}; keep one of them"))
                continue
            self.positions[name] = position
            self.headers[name] = text
        ok = True
        for column in self.spec.columns:
            if column.required and column.name not in self.positions:
                self.problem(self.table.header_row, column.name, None,
                             f"column is missing; name it one of: {', '.join(column.aliases)}")
                ok = False
        for group in self.spec.one_of:
            if not any(name in self.positions for name in group):
                self.problem(self.table.header_row, " or ".join(group), None,
                             "column is missing; the file needs at least one of these")
                ok = False
        return ok and not self.problems

    def _detect_locale(self) -> None:
        numeric = [c.name for c in self.spec.columns
                   if c.kind in ("number", "count", "duration", "rate") and c.name in self.positions]
        dated = [c.name for c in self.spec.columns if c.kind == "datetime" and c.name in self.positions]
        number_texts: list[str] = []
        date_texts: list[str] = []
        for _, cells in self.table.rows:
            for column in numeric:
                raw = self.cell(cells, column)
                if isinstance(raw, str):
                    number_texts.append(raw)
            for column in dated:
                raw = self.cell(cells, column)
                if isinstance(raw, str):
                    date_texts.append(raw)
        self.decimal_comma = values.detect_decimal_comma(number_texts, default=self.table.separator == ";")
        self.day_first = values.detect_day_first(date_texts)

    def _parsers(self) -> list[tuple[str, Callable[[object], Any]]]:
        comma, day_first, to_utc = self.decimal_comma, self.day_first, self.clock.to_utc
        # Each kind's commonest cell (text ids, whole counts and datetimes as Excel stores them) is
        # taken in the lambda itself, with the same result as the full parser, which gets the rest:
        # these run once per cell, and the full parsers' type checks were a third of the validation.
        by_kind: dict[str, Callable[[object], Any]] = {
            "id": lambda v: text if v.__class__ is str and (text := v.strip()) else values.parse_id(v),
            "text": values.parse_text,
            "number": lambda v: values.parse_number(v, comma),
            "count": lambda v: v if v.__class__ is int and 0 <= v < 2**53 else values.parse_count(v, comma),
            "duration": lambda v: values.parse_duration_s(v, comma),
            "rate": lambda v: values.parse_rate_to_cycle_s(v, comma),
            "datetime": lambda v: to_utc(v) if v.__class__ is datetime and v.tzinfo is None
            else values.parse_datetime_utc(v, day_first, self.clock),
            "time": values.parse_time_of_day,
            "bool": values.parse_bool,
            "days": _parse_days,
            "breaks": _parse_breaks,
        }
        return [(column.name, by_kind[column.kind]) for column in self.spec.columns if column.name in self.positions]

    # -- shared checks

    def _check_machine_or_line(self, number: int, row: dict[str, Any]) -> bool:
        machine, line = row.get("machine"), row.get("line")
        ok = True
        if machine is None and line is None:
            self.problem(number, "machine" if "machine" in self.positions else "line", None,
                         "is empty; give a machine or a line")
            return False
        if machine is not None and machine not in self.machines:
            self.problem(number, "machine", self._raw(number, "machine"),
                         f"is not a machine in the config; machines are {_listing(self.machines)}")
            ok = False
        if line is not None and line not in self.lines:
            self.problem(number, "line", self._raw(number, "line"),
                         f"is not a line in the config; lines are {_listing(self.lines)}")
            ok = False
        if ok and machine is not None and line is not None and self.machines[machine].line != line:
            self.problem(number, "line", self._raw(number, "line"),
                         f"does not match machine {machine}, which is on line {self.machines[machine].line}")
            ok = False
        return ok

    def _raw(self, number: int, column: str) -> object:
        """The cell as written, for a problem found after parsing; the index is built on first need."""
        if self._cells_by_row is None:
            self._cells_by_row = dict(self.table.rows)
        cells = self._cells_by_row.get(number)
        return None if cells is None else self.cell(cells, column)

    def _check_product(self, number: int, product: str | None) -> bool:
        if product is None or self.products is None or product in self.products:
            return True
        self.problem(number, "product", product, "is not a known product (neither in the config nor in the "
                     "products file); import the products first or fix the id")
        return False

    def _check_span(self, number: int, start: float, end: float) -> bool:
        if end <= start:
            why = "is before the start" if end < start else "equals the start; a span needs a length"
            self.problem(number, "end", self._raw(number, "end"), why)
            return False
        return True

    def _check_duplicates(self, parsed: Sequence[tuple[int, dict[str, Any], tuple[object, ...]]]) -> set[int]:
        seen: dict[tuple[Any, ...], int] = {}
        duplicates: set[int] = set()
        for number, row, _ in parsed:
            key = tuple(row.values())  # same columns in the same order in every row
            if key in seen:
                self.problem(number, None, None, f"duplicates row {seen[key]}")
                duplicates.add(number)
            else:
                seen[key] = number
        return duplicates

    def _check_overlaps(self, spans: Iterable[tuple[str, float, float, int, str]]) -> None:
        """spans: (group key, start, end, row, label). Reports each span that starts before the previous ends."""
        by_group: dict[str, list[tuple[float, float, int, str]]] = defaultdict(list)
        for group, start, end, number, label in spans:
            by_group[group].append((start, end, number, label))
        tz = self.clock.tz
        for group, items in by_group.items():
            items.sort()
            latest_end, latest_row, latest_label = items[0][1], items[0][2], items[0][3]
            for start, end, number, label in items[1:]:
                if start < latest_end:
                    later, earlier = (number, latest_row) if number > latest_row else (latest_row, number)
                    other_label = latest_label if later == number else label
                    until = datetime.fromtimestamp(latest_end, UTC).astimezone(tz).strftime("%Y-%m-%d %H:%M")
                    self.problem(later, "start", self._raw(later, "start"),
                                 f"overlaps {other_label} in row {earlier} on {group} (which runs until "
                                 f"{until})")
                if end > latest_end:
                    latest_end, latest_row, latest_label = end, number, label

    # -- per kind

    def _build_products(self, parsed: list[tuple[int, dict[str, Any], tuple[object, ...]]]) -> None:
        seen: dict[tuple[str, str | None], int] = {}
        for number, row, _ in parsed:
            product, machine = row["product"], row.get("machine")
            if machine is not None and machine not in self.machines:
                self.problem(number, "machine", machine,
                             f"is not a machine in the config; machines are {_listing(self.machines)}")
                continue
            cycle, rate_cycle = row.get("ideal_cycle_time"), row.get("rate")
            if cycle is None and rate_cycle is None:
                self.problem(number, "ideal_cycle_time" if "ideal_cycle_time" in self.positions else "rate", None,
                             "is empty; give an ideal cycle time or a rate")
                continue
            if cycle is not None and rate_cycle is not None and abs(cycle - rate_cycle) > 1e-6 * max(cycle, 1):
                self.problem(number, "rate", self._raw(number, "rate"),
                             f"disagrees with the ideal cycle time of {cycle:g} s (this rate means "
                             f"{rate_cycle:g} s); give one of them")
                continue
            ideal = cycle if cycle is not None else rate_cycle
            if ideal <= 0:
                self.problem(number, "ideal_cycle_time", self._raw(number, "ideal_cycle_time"),
                             "must be greater than 0")
                continue
            key = (product, machine)
            if key in seen:
                where = f"on machine {machine}" if machine else "for all machines"
                self.problem(number, "product", product, f"is listed twice {where}: also in row {seen[key]}")
                continue
            seen[key] = number
            self.records.append(ProductRate(product, machine, ideal, row.get("micro_stop_threshold"), number))

    def _build_schedule(self, parsed: list[tuple[int, dict[str, Any], tuple[object, ...]]]) -> None:
        duplicates = self._check_duplicates(parsed)
        ids: dict[str, int] = {}
        spans = []
        for number, row, _ in parsed:
            if number in duplicates:
                continue
            ok = self._check_machine_or_line(number, row)
            ok = self._check_product(number, row["product"]) and ok
            ok = self._check_span(number, row["start"], row["end"]) and ok
            order_id = row["order_id"]
            if order_id in ids:
                self.problem(number, "order_id", order_id, f"is used twice: also in row {ids[order_id]}")
                ok = False
            ids.setdefault(order_id, number)
            if row["quantity"] == 0:
                self.problem(number, "quantity", self._raw(number, "quantity"), "must be greater than 0")
                ok = False
            if not ok:
                continue
            group = f"machine {row['machine']}" if row.get("machine") else f"line {row['line']}"
            spans.append((group, row["start"], row["end"], number, f"order {order_id}"))
            self.records.append(Order(order_id, row["product"], row.get("machine"), row.get("line"),
                                      row["start"], row["end"], row["quantity"], number))
        self._check_overlaps(spans)

    def _build_downtime_plan(self, parsed: list[tuple[int, dict[str, Any], tuple[object, ...]]]) -> None:
        duplicates = self._check_duplicates(parsed)
        spans = []
        for number, row, _ in parsed:
            if number in duplicates:
                continue
            ok = self._check_machine_or_line(number, row)
            ok = self._check_span(number, row["start"], row["end"]) and ok
            reason = row.get("reason") or DEFAULT_PLANNED_REASON
            known = self.reasons.get(reason)
            if known is None:
                self.problem(number, "reason", reason,
                             f"is not a reason code in the config; codes are {_listing(self.reasons)}")
                ok = False
            elif not known.planned:
                self.problem(number, "reason", reason, "is an unplanned reason; a downtime plan needs a planned "
                             f"one: {_listing(code for code, r in self.reasons.items() if r.planned)}")
                ok = False
            if not ok:
                continue
            group = f"machine {row['machine']}" if row.get("machine") else f"line {row['line']}"
            spans.append((group, row["start"], row["end"], number, "the planned stop"))
            self.records.append(PlannedStop(row.get("machine"), row.get("line"), row["start"], row["end"], reason,
                                            row.get("note") or "", number))
        self._check_overlaps(spans)

    def _build_production_log(self, parsed: list[tuple[int, dict[str, Any], tuple[object, ...]]]) -> None:
        duplicates = self._check_duplicates(parsed)
        runs, stops = [], []
        for number, row, _ in parsed:
            if number in duplicates:
                continue
            ok = self._check_machine_or_line(number, row) and self._check_no_plc(number, row["machine"])
            ok = self._check_span(number, row["start"], row["end"]) and ok
            kind = _record_type(row)
            if kind is None:
                self.problem(number, "type" if "type" in self.positions else None, row.get("type"),
                             "cannot tell a run from a stop: a run has a total count, a stop has a reason "
                             "(or set the type column to run or stop)")
                continue
            if kind == "stop":
                reason = row.get("reason")
                if reason is not None and reason not in self.reasons:
                    self.problem(number, "reason", reason,
                                 f"is not a reason code in the config; codes are {_listing(self.reasons)}")
                    ok = False
                if ok:
                    stops.append((f"machine {row['machine']}", row["start"], row["end"], number, "the stop"))
                    self.records.append(LoggedStop(row["machine"], row["start"], row["end"], reason, number))
                continue
            total, reject = row.get("total_count"), row.get("reject_count") or 0
            if total is None:
                self.problem(number, "total_count", None, "is empty; a run needs its total count")
                ok = False
            elif reject > total:
                self.problem(number, "reject_count", self._raw(number, "reject_count"),
                             f"is more than the total count {total}")
                ok = False
            ok = self._check_product(number, row.get("product")) and ok
            if ok:
                runs.append((f"machine {row['machine']}", row["start"], row["end"], number, "the run"))
                self.records.append(ProductionRun(row["machine"], row.get("product"), row.get("order_id"),
                                                  row["start"], row["end"], total, reject, number))
        # One timeline per machine: a stop inside a run would count its time twice (split the run instead).
        self._check_overlaps(runs + stops)

    def _check_no_plc(self, number: int, machine: str) -> bool:
        signals = self.machines[machine].signals
        if not signals:
            return True
        self.problem(number, "machine", self._raw(number, "machine"),
                     f"is read from a PLC (the config maps its {', '.join(sorted(signals))}); a production log "
                     "is only for machines without one, or their output would be counted twice")
        return False

    def _build_reasons(self, parsed: list[tuple[int, dict[str, Any], tuple[object, ...]]]) -> None:
        rows: dict[str, tuple[int, dict[str, Any]]] = {}
        for number, row, _ in parsed:
            code = row["code"]
            if code in rows:
                self.problem(number, "code", code, f"is used twice: also in row {rows[code][0]}")
                continue
            rows[code] = (number, row)
        resolved: dict[str, ReasonRecord] = {}
        losses = [loss.value for loss in Loss]

        def planned_of(code: str, trail: tuple[str, ...] = ()) -> bool | None:
            """A row's planned flag: its own, else its parent's (as config.py inherits it)."""
            if code in trail:
                return None
            if code not in rows:
                known = self.reasons.get(code)
                return known.planned if known else None
            _, row = rows[code]
            if row.get("planned") is not None:
                return row["planned"]
            parent = row.get("parent")
            return planned_of(parent, (*trail, code)) if parent else False

        for code, (number, row) in rows.items():
            parent = row.get("parent") or None
            ok = True
            if parent is not None:
                if parent == code:
                    self.problem(number, "parent", parent, "is the reason itself")
                    ok = False
                elif parent not in rows and parent not in self.reasons:
                    self.problem(number, "parent", parent, "is not a reason code in this file or in the config")
                    ok = False
                elif _cycles(code, rows):
                    self.problem(number, "parent", parent, "makes a loop in the reason tree")
                    ok = False
            planned = planned_of(code)
            if ok and parent is not None:
                parent_planned = planned_of(parent)
                if parent_planned is not None and planned != parent_planned:
                    self.problem(number, "planned", self._raw(number, "planned"),
                                 f"differs from its parent {parent}, which is "
                                 f"{'planned' if parent_planned else 'unplanned'}; a branch is one or the other")
                    ok = False
            loss_text = (row.get("loss") or "").strip().lower().replace(" ", "_") or None
            loss: Loss | None = None
            if planned:
                if loss_text is not None:
                    self.problem(number, "loss", row["loss"],
                                 "must be empty for a planned reason (planned time is not a loss)")
                    ok = False
            elif loss_text is None:
                inherited = self._inherited_loss(parent, rows)
                if inherited is None:
                    self.problem(number, "loss", None,
                                 f"is empty; an unplanned reason needs one of {', '.join(losses)}")
                    ok = False
                loss = inherited
            elif loss_text not in losses:
                self.problem(number, "loss", row["loss"], f"must be one of {', '.join(losses)}")
                ok = False
            else:
                loss = Loss(loss_text)
            if ok:
                resolved[code] = ReasonRecord(code, row.get("name") or code, parent, bool(planned), loss, number)
        self.records.extend(resolved.values())

    def _inherited_loss(self, parent: str | None, rows: dict[str, tuple[int, dict[str, Any]]]) -> Loss | None:
        seen: set[str] = set()
        while parent is not None and parent not in seen:
            seen.add(parent)
            if parent in rows:
                text = (rows[parent][1].get("loss") or "").strip().lower().replace(" ", "_")
                if text in {loss.value for loss in Loss}:
                    return Loss(text)
                parent = rows[parent][1].get("parent") or None
            else:
                known = self.reasons.get(parent)
                return known.loss if known else None
        return None

    def _build_shifts(self, parsed: list[tuple[int, dict[str, Any], tuple[object, ...]]]) -> None:
        names: dict[str, int] = {}
        patterns: list[ShiftPattern] = []
        for number, row, _ in parsed:
            name = row["name"]
            if name in names:
                self.problem(number, "name", name, f"is used twice: also in row {names[name]}")
                continue
            names[name] = number
            start, end = row["start"], row["end"]
            breaks = row.get("breaks") or ()
            ok = True
            for break_start, break_end in breaks:
                if not (_inside(break_start, start, end) and _inside(break_end, start, end, end_ok=True)):
                    self.problem(number, "breaks", self._raw(number, "breaks"),
                                 f"break {break_start}-{break_end} is not inside the shift {start}-{end}")
                    ok = False
            if ok:
                patterns.append(ShiftPattern(name, start, end, row.get("days") or WEEKDAYS, tuple(breaks), number))
        self._check_shift_day(patterns)
        self.records.extend(patterns)

    def _check_shift_day(self, patterns: list[ShiftPattern]) -> None:
        """Over the week, shifts must not overlap, and within a day one must follow the other without a gap.

        Overlaps are checked across midnight and the week's end (Sunday's night shift into Monday's
        early one). The time after a day's last shift until the next day's first is the plant being
        closed, not a gap; a gap is a stretch between two shifts that start on the same day.
        """
        week = 7 * 1440
        spans: list[tuple[int, int, int, ShiftPattern]] = []
        for day_index, day in enumerate(WEEKDAYS):
            for pattern in patterns:
                if day in pattern.days:
                    start = _minutes(pattern.start) + day_index * 1440
                    end = _minutes(pattern.end) + day_index * 1440
                    if end <= start:
                        end += 1440
                    spans.append((start, end, day_index, pattern))
        spans.sort(key=lambda span: (span[0], span[3].source_row))
        # The week wraps: the first shifts come again after Sunday.
        wrapped = spans + [(start + week, end + week, day, pattern) for start, end, day, pattern in spans[:2]]
        for (_, previous_end, previous_day, previous), (start, _, day_index, pattern) in itertools.pairwise(wrapped):
            if start < previous_end and pattern is not previous:
                self.problem(pattern.source_row, "start", pattern.start,
                             f"overlaps shift {previous.name} (row {previous.source_row}, {previous.start}-"
                             f"{previous.end}) on {WEEKDAYS[day_index % 7]}")
            elif start > previous_end and day_index == previous_day:
                self.problem(pattern.source_row, "start", pattern.start,
                             f"leaves a gap after shift {previous.name} (row {previous.source_row}, ends "
                             f"{previous.end}) on {WEEKDAYS[day_index]}")
        # Report each (row, why) once: a Mon-Fri pattern would otherwise repeat the same problem five times.
        unique: dict[tuple[Any, ...], Problem] = {}
        for problem in self.problems:
            key = (problem.row, problem.column, problem.why.rsplit(" on ", 1)[0])
            unique.setdefault(key, problem)
        self.problems = list(unique.values())


# ---------------------------------------------------------------- helpers


def _listing(items: Iterable[str]) -> str:
    names = sorted(items)
    if not names:
        return "(none defined)"
    return ", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "")


def _record_type(row: dict[str, Any]) -> str | None:
    declared = (row.get("type") or "").strip().lower()
    if declared in ("run", "production", "produktion", "lauf"):
        return "run"
    if declared in ("stop", "downtime", "stillstand", "stoerung", "störung"):
        return "stop"
    if declared:
        return None
    if row.get("total_count") is not None:
        return "run"
    if row.get("reason") is not None:
        return "stop"
    return None


def _cycles(code: str, rows: dict[str, tuple[int, dict[str, Any]]]) -> bool:
    seen = {code}
    parent = rows[code][1].get("parent")
    while parent in rows:
        if parent in seen:
            return True
        seen.add(parent)
        parent = rows[parent][1].get("parent")
    return False


def _minutes(hhmm: str) -> int:
    hours, _, minutes = hhmm.partition(":")
    return int(hours) * 60 + int(minutes)


def _inside(moment: str, start: str, end: str, end_ok: bool = False) -> bool:
    """Is a wall time within a shift that may cross midnight?"""
    at, lo, hi = _minutes(moment), _minutes(start), _minutes(end)
    if hi <= lo:
        hi += 1440
        if at < lo:
            at += 1440
    return lo <= at < hi or (end_ok and at == hi)


_DAY_NAMES: Final = {
    **{day: day for day in WEEKDAYS},
    "monday": "mon", "tuesday": "tue", "wednesday": "wed", "thursday": "thu", "friday": "fri",
    "saturday": "sat", "sunday": "sun", "mo": "mon", "di": "tue", "mi": "wed", "do": "thu", "fr": "fri",
    "sa": "sat", "so": "sun", "montag": "mon", "dienstag": "tue", "mittwoch": "wed", "donnerstag": "thu",
    "freitag": "fri", "samstag": "sat", "sonntag": "sun", "tu": "tue", "we": "wed", "th": "thu", "su": "sun",
}


def _parse_days(value: object) -> tuple[str, ...]:
    """`mon-fri`, `Mo, Di, Mi`, `daily`, `sat,sun` -> weekday names in week order."""
    text = str(value).strip().lower()
    if text in ("daily", "all", "every day", "täglich", "taeglich", "mon-sun"):
        return WEEKDAYS
    days: set[str] = set()
    for part in text.replace(";", ",").replace("/", ",").replace(" ", ",").split(","):
        part = part.strip().rstrip(".")
        if not part:
            continue
        first, dash, last = part.partition("-")
        if first not in _DAY_NAMES or (dash and last not in _DAY_NAMES):
            raise ValueError("is not a list of weekdays; write e.g. mon-fri or mon,wed,fri")
        lo = WEEKDAYS.index(_DAY_NAMES[first])
        hi = WEEKDAYS.index(_DAY_NAMES[last]) if dash else lo
        index = lo
        while True:  # a range may wrap the week: fri-mon
            days.add(WEEKDAYS[index])
            if index == hi:
                break
            index = (index + 1) % 7
    return tuple(day for day in WEEKDAYS if day in days)


def _parse_breaks(value: object) -> tuple[tuple[str, str], ...]:
    """`09:30-09:45; 12:00-12:30` -> (("09:30", "09:45"), ("12:00", "12:30"))."""
    breaks = []
    for part in str(value).replace(",", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        start, dash, end = part.replace("–", "-").partition("-")
        if not dash:
            raise ValueError("is not a list of breaks; write e.g. 09:30-09:45; 12:00-12:30")
        breaks.append((values.parse_time_of_day(start.strip()), values.parse_time_of_day(end.strip())))
    return tuple(breaks)
