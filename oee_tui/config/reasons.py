"""``[[reasons]]``: why a machine stopped, planned or a loss, in a tree of codes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from oee_tui.config.toml_reader import TomlReader, TomlTable, entry_key
from oee_tui.model import Loss


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    name: str
    planned: bool
    loss: Loss | None  # None for planned reasons
    parent: str | None = None


DEFAULT_REASONS: Final[tuple[Reason, ...]] = (
    Reason("BREAK", "Break", planned=True, loss=None),
    Reason("PM", "Planned maintenance", planned=True, loss=None),
    Reason("NO_ORDER", "No orders", planned=True, loss=None),
    Reason("FAIL", "Failure", planned=False, loss=Loss.BREAKDOWN),
    Reason("FAIL.MECH", "Mechanical", planned=False, loss=Loss.BREAKDOWN, parent="FAIL"),
    Reason("FAIL.ELEC", "Electrical", planned=False, loss=Loss.BREAKDOWN, parent="FAIL"),
    Reason("SETUP", "Setup / changeover", planned=False, loss=Loss.SETUP),
    Reason("MINOR", "Minor stop / jam", planned=False, loss=Loss.MINOR_STOP),
    Reason("MATERIAL", "Waiting for material", planned=False, loss=Loss.BREAKDOWN),
)


def read_reasons(r: TomlReader, data: TomlTable) -> tuple[Reason, ...]:
    raw = r.tables(data, "reasons", "reasons")
    if not raw:
        return DEFAULT_REASONS
    by_code: dict[str, Reason] = {}
    losses = [loss.value for loss in Loss]
    for i, t in enumerate(raw):
        with r.noting(entry_key("reasons", i, t, "code")):
            key = entry_key("reasons", i, t, "code")
            r.unknown_keys(t, key, {"code", "name", "planned", "loss", "parent"})
            code = r.string(t, key, "code")
            if code in by_code:
                raise r.fail(f"{key}.code", code, "is used twice; reason codes must be unique")
            key = f"reasons[{code}]"
            parent = r.opt_string(t, key, "parent")
            if parent is not None and parent not in by_code:
                raise r.fail(f"{key}.parent", parent, "must be the code of a reason listed earlier in the file")
            inherited = by_code[parent] if parent else None
            planned = r.boolean(t, key, "planned", inherited.planned if inherited else False)
            loss_raw = t.get("loss", inherited.loss.value if inherited and inherited.loss else None)
            if planned:
                if t.get("loss") is not None:
                    raise r.fail(f"{key}.loss", t["loss"],
                                 "must be left out for a planned reason (planned time is not a loss)")
                loss = None
            else:
                if loss_raw is None:
                    raise r.fail(f"{key}.loss", None,
                                 f"is missing; an unplanned reason needs one of {', '.join(losses)}")
                if loss_raw not in losses:
                    raise r.fail(f"{key}.loss", loss_raw, f"must be one of {', '.join(losses)}")
                loss = Loss(loss_raw)
            by_code[code] = Reason(code=code, name=r.string(t, key, "name", default=code), planned=planned,
                                   loss=loss, parent=parent)
    return tuple(by_code.values())
