"""What an import file may refer to: the config's machines and lines, and the reasons and products in effect.

Reasons and products in effect are the config's extended by what earlier imports stored
(`oee import reasons`, `oee import products`), exactly as reports and the engine use them
(oee_tui.engine.oee.planning_rules); `stored_planning` reads the stored part. A row naming a
machine, line, product or reason nobody knows is a problem, named with the list of what is
known, so the planner sees the typo.
"""

from __future__ import annotations

from typing import Any, Final

from oee_tui.config import Config
from oee_tui.engine.oee.planning_rules import Planning, PlanningSource
from oee_tui.imports.cells import TableCells
from oee_tui.imports.problems import ProblemList, listing
from oee_tui.model import Span

# Only a schedule is checked against the stored orders; the other kinds need no order or planned stop,
# and a window of no length reads none of them (a year of schedule is many rows).
_NO_SCHEDULE: Final = Span(0.0, 0.0)


def stored_planning(source: PlanningSource | None, kind: str) -> Planning:
    """What the store holds that a file of `kind` is checked against; empty without a store.

    Raises PlanningError for a stored row that cannot be used."""
    if source is None:
        return Planning.empty()
    return Planning.load(source, None if kind == "schedule" else _NO_SCHEDULE)


def known_products(config: Config, planning: Planning | None = None) -> set[str]:
    """The products the config names (cycle times, default products) and those imported."""
    products: set[str] = set()
    for machine in config.machines:
        products.update(machine.product_cycle_times)
        if machine.default_product:
            products.add(machine.default_product)
    if planning is not None:
        products.update(rate.product for rate in planning.products)
    return products


class References:
    def __init__(self, config: Config, planning: Planning, extra_products: set[str] | None, cells: TableCells,
                 problems: ProblemList) -> None:
        self.machines = {machine.id: machine for machine in config.machines}
        self.lines = {line.id for line in config.lines}
        products = known_products(config, planning) | (extra_products or set())
        # Only check products against a list someone gave; an empty list would flag every row.
        self.products: set[str] | None = products or None
        self.reasons = planning.reason_tree(config)
        self.planning = planning
        self.cells = cells
        self.problems = problems

    def check_machine_or_line(self, number: int, row: dict[str, Any]) -> bool:
        machine, line = row.get("machine"), row.get("line")
        ok = True
        if machine is None and line is None:
            self.problems.add(number, "machine" if self.cells.has("machine") else "line", None,
                              "is empty; give a machine or a line")
            return False
        if machine is not None and machine not in self.machines:
            self.problems.add(number, "machine", self.cells.raw(number, "machine"),
                              f"is not a machine in the config; machines are {listing(self.machines)}")
            ok = False
        if line is not None and line not in self.lines:
            self.problems.add(number, "line", self.cells.raw(number, "line"),
                              f"is not a line in the config; lines are {listing(self.lines)}")
            ok = False
        if ok and machine is not None and line is not None and self.machines[machine].line != line:
            self.problems.add(number, "line", self.cells.raw(number, "line"),
                              f"does not match machine {machine}, which is on line {self.machines[machine].line}")
            ok = False
        return ok

    def check_product(self, number: int, product: str | None) -> bool:
        if product is None or self.products is None or product in self.products:
            return True
        self.problems.add(number, "product", product, "is not a known product (neither in the config nor "
                          "imported); import the products first or fix the id")
        return False

    def check_reason(self, number: int, reason: str | None) -> bool:
        if reason is None or reason in self.reasons:
            return True
        self.problems.add(number, "reason", reason,
                          f"is not a reason code (in the config or imported); codes are {listing(self.reasons)}")
        return False

    def check_no_plc(self, number: int, machine: str) -> bool:
        signals = self.machines[machine].signals
        if not signals:
            return True
        self.problems.add(number, "machine", self.cells.raw(number, "machine"),
                          f"is read from a PLC (the config maps its {', '.join(sorted(signals))}); a production "
                          "log is only for machines without one, or their output would be counted twice")
        return False
