"""The rows of a reasons file checked as one tree with the config's reasons, and made into records.

A reason without its own planned flag or loss takes its parent's, as the config does; a
branch is planned or unplanned throughout, and a planned reason has no loss.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oee_tui.config import Reason
from oee_tui.imports.cells import ParsedRow
from oee_tui.imports.row_checks import RowChecks
from oee_tui.model import ImportRecord, Loss, ReasonRecord

_Rows = dict[str, tuple[int, dict[str, Any]]]  # code -> (row number, values)


def build_reasons(checks: RowChecks, parsed: list[ParsedRow]) -> list[ImportRecord]:
    problem, raw, known = checks.problems.add, checks.cells.raw, checks.references.reasons
    rows: _Rows = {}
    for number, row, _ in parsed:
        code = row["code"]
        if code in rows:
            problem(number, "code", code, f"is used twice: also in row {rows[code][0]}")
            continue
        rows[code] = (number, row)
    resolved: dict[str, ReasonRecord] = {}
    losses = [loss.value for loss in Loss]

    def planned_of(code: str, trail: tuple[str, ...] = ()) -> bool | None:
        """A row's planned flag: its own, else its parent's (as config.py inherits it)."""
        if code in trail:
            return None
        if code not in rows:
            reason = known.get(code)
            return reason.planned if reason else None
        _, row = rows[code]
        if row.get("planned") is not None:
            return bool(row["planned"])
        parent = row.get("parent")
        return planned_of(parent, (*trail, code)) if parent else False

    for code, (number, row) in rows.items():
        parent = row.get("parent") or None
        ok = True
        if parent is not None:
            if parent == code:
                problem(number, "parent", parent, "is the reason itself")
                ok = False
            elif parent not in rows and parent not in known:
                problem(number, "parent", parent, "is not a reason code in this file, the config or an earlier import")
                ok = False
            elif _cycles(code, rows):
                problem(number, "parent", parent, "makes a loop in the reason tree")
                ok = False
        planned = planned_of(code)
        if ok and parent is not None:
            parent_planned = planned_of(parent)
            if parent_planned is not None and planned != parent_planned:
                problem(number, "planned", raw(number, "planned"),
                        f"differs from its parent {parent}, which is "
                        f"{'planned' if parent_planned else 'unplanned'}; a branch is one or the other")
                ok = False
        loss_text = (row.get("loss") or "").strip().lower().replace(" ", "_") or None
        loss: Loss | None = None
        if planned:
            if loss_text is not None:
                problem(number, "loss", row["loss"], "must be empty for a planned reason (planned time is not a loss)")
                ok = False
        elif loss_text is None:
            inherited = _inherited_loss(parent, rows, known)
            if inherited is None:
                problem(number, "loss", None, f"is empty; an unplanned reason needs one of {', '.join(losses)}")
                ok = False
            loss = inherited
        elif loss_text not in losses:
            problem(number, "loss", row["loss"], f"must be one of {', '.join(losses)}")
            ok = False
        else:
            loss = Loss(loss_text)
        if ok:
            resolved[code] = ReasonRecord(code, row.get("name") or code, parent, bool(planned), loss, number)
    return list(resolved.values())


def _inherited_loss(parent: str | None, rows: _Rows, known: Mapping[str, Reason]) -> Loss | None:
    seen: set[str] = set()
    while parent is not None and parent not in seen:
        seen.add(parent)
        if parent in rows:
            text = (rows[parent][1].get("loss") or "").strip().lower().replace(" ", "_")
            if text in {loss.value for loss in Loss}:
                return Loss(text)
            parent = rows[parent][1].get("parent") or None
        else:
            reason = known.get(parent)
            return reason.loss if reason else None
    return None


def _cycles(code: str, rows: _Rows) -> bool:
    seen = {code}
    parent = rows[code][1].get("parent")
    while parent in rows:
        if parent in seen:
            return True
        seen.add(parent)
        parent = rows[parent][1].get("parent")
    return False
