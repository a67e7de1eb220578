"""``[[lines]]``, ``[[machines]]`` and each machine's signals: which tag of which source feeds what.

A tag is checked by the kind of its source (oee_tui.config.kinds), so a typo in an
address fails when the file is read, not when the PLC is first polled.
"""

from __future__ import annotations

from oee_tui.config.kinds import SourceKinds, TagProblem
from oee_tui.config.plant import BYTE_ORDERS, COUNTER_WIDTHS, LineConfig, MachineConfig, TagMapping
from oee_tui.config.sources import SourceConfig
from oee_tui.config.toml_reader import TomlReader, TomlTable, entry_key
from oee_tui.model import COUNTER_SIGNALS, STATE_CODE_TARGETS, Signal


def read_lines(r: TomlReader, data: TomlTable) -> tuple[LineConfig, ...]:
    out: list[LineConfig] = []
    seen: set[str] = set()
    for i, t in enumerate(r.tables(data, "lines", "lines")):
        with r.noting(entry_key("lines", i, t, "id")):
            key = entry_key("lines", i, t, "id")
            r.unknown_keys(t, key, {"id", "name", "area"})
            line_id = r.string(t, key, "id")
            r.unique(f"{key}.id", seen, line_id)
            out.append(LineConfig(id=line_id, name=r.string(t, key, "name", default=line_id),
                                  area=r.string(t, key, "area", default="Production")))
    return tuple(out)


def read_state_map(r: TomlReader, raw: object, key: str, base: dict[int, str]) -> dict[int, str]:
    if raw is None:
        return dict(base)
    if not isinstance(raw, dict):
        raise r.fail(key, raw, 'must be a table of code = state, e.g. { "1" = "running" }')
    out = dict(base)
    for code, state in raw.items():
        try:
            number = int(code)
        except ValueError as exc:
            raise r.fail(f"{key}.{code}", state, "the key must be a whole-number state code") from exc
        if state not in STATE_CODE_TARGETS:
            raise r.fail(f"{key}.{code}", state, f"must be one of {', '.join(STATE_CODE_TARGETS)}")
        out[number] = state
    return out


def read_machines(r: TomlReader, data: TomlTable, line_ids: set[str],
              sources: dict[str, SourceConfig], plant_state_map: dict[int, str],
                  kinds: SourceKinds) -> tuple[MachineConfig, ...]:
    allowed = {"id", "name", "line", "ideal_cycle_time_s", "micro_stop_threshold_s", "startup_period_s",
               "target_per_hour", "product_cycle_times", "state_map", "signals", "default_product",
               "counter_jump_margin", "settle_time_s"}
    out: list[MachineConfig] = []
    seen: set[str] = set()
    for i, t in enumerate(r.tables(data, "machines", "machines")):
        with r.noting(entry_key("machines", i, t, "id")):
            key = entry_key("machines", i, t, "id")
            r.unknown_keys(t, key, allowed)
            machine_id = r.string(t, key, "id")
            r.unique(f"{key}.id", seen, machine_id)
            key = f"machines[{machine_id}]"
            line = r.string(t, key, "line")
            if line not in line_ids and f"lines[{line}]" not in r.broken:
                known = ", ".join(sorted(line_ids)) or "(none defined)"
                raise r.fail(f"{key}.line", line, f"must be the id of a [[lines]] entry: {known}")
            cycle_times_raw = t.get("product_cycle_times", {})
            if not isinstance(cycle_times_raw, dict):
                raise r.fail(f"{key}.product_cycle_times", cycle_times_raw, "must be a table of product = seconds")
            cycle_times = {p: r.number(cycle_times_raw, f"{key}.product_cycle_times", p, positive=True)
                           for p in cycle_times_raw}
            target = t.get("target_per_hour")
            out.append(MachineConfig(
                id=machine_id,
                name=r.string(t, key, "name", default=machine_id),
                line=line,
                ideal_cycle_time_s=r.number(t, key, "ideal_cycle_time_s", positive=True),
                micro_stop_threshold_s=r.number(t, key, "micro_stop_threshold_s", default=120.0, minimum=0),
                startup_period_s=r.number(t, key, "startup_period_s", default=300.0, minimum=0),
                target_per_hour=None if target is None else r.number(t, key, "target_per_hour", positive=True),
                product_cycle_times=cycle_times,
                state_map=read_state_map(r, t.get("state_map"), f"{key}.state_map", plant_state_map),
                signals=_signals(r, t.get("signals", {}), f"{key}.signals", sources, kinds),
                default_product=r.opt_string(t, key, "default_product"),
                counter_jump_margin=r.number(t, key, "counter_jump_margin", default=2.0, minimum=1),
                settle_time_s=r.number(t, key, "settle_time_s", default=1.0, minimum=0),
            ))
    return tuple(out)


def _signals(r: TomlReader, raw: object, key: str, sources: dict[str, SourceConfig],
             kinds: SourceKinds) -> dict[Signal, TagMapping]:
    if not isinstance(raw, dict):
        raise r.fail(key, raw, "must be a table of signal = { source = ..., tag = ... }")
    valid_signals = [s.value for s in Signal]
    out: dict[Signal, TagMapping] = {}
    for name, t in raw.items():
        with r.noting():
            skey = f"{key}.{name}"
            if name not in valid_signals:
                raise r.fail(skey, t, f"is not a signal; signals are {', '.join(valid_signals)}")
            if not isinstance(t, dict):
                raise r.fail(skey, t, "must be an inline table such as { source = \"plc1\", tag = \"hr:100\" }")
            r.unknown_keys(t, skey, {"source", "tag", "type", "width", "deadband", "byte_order", "word_order",
                                     "min", "max"})
            signal = Signal(name)
            source_name = r.string(t, skey, "source")
            if source_name not in sources:
                if f"sources[{source_name}]" in r.broken:
                    continue  # that source's own problem is reported; this signal cannot be checked against it
                raise r.fail(f"{skey}.source", source_name,
                             f"must name a [[sources]] entry: {', '.join(sorted(sources)) or '(none defined)'}")
            source = sources[source_name]
            tag = r.string(t, skey, "tag")
            given_type = r.opt_string(t, skey, "type")
            kind = kinds[source.kind]
            try:
                tag_type = kind.check_tag(tag, given_type)
            except TagProblem as exc:
                raise r.fail(f"{skey}.{exc.field}", tag if exc.field == "tag" else given_type, str(exc)) from None
            width = None
            if signal in COUNTER_SIGNALS:
                width = r.integer(t, skey, "width", kind.counter_width(tag_type), 1, 64)
                if width not in COUNTER_WIDTHS:
                    raise r.fail(f"{skey}.width", width, "must be 16, 32 or 64 (bits of the PLC counter)")
            elif "width" in t:
                raise r.fail(f"{skey}.width", t["width"],
                             "applies to counters only (total_count, reject_count, good_count)")
            range_min = None if t.get("min") is None else r.number(t, skey, "min")
            range_max = None if t.get("max") is None else r.number(t, skey, "max")
            if range_min is not None and range_max is not None and range_max < range_min:
                raise r.fail(f"{skey}.max", range_max, f"must be at least min ({range_min})")
            out[signal] = TagMapping(
                signal=signal, source=source_name, tag=tag, type=tag_type, width=width, width_given="width" in t,
                deadband=r.number(t, skey, "deadband", default=0.0, minimum=0),
                byte_order=None if t.get("byte_order") is None
                else r.string(t, skey, "byte_order", choices=BYTE_ORDERS),
                word_order=None if t.get("word_order") is None
                else r.string(t, skey, "word_order", choices=BYTE_ORDERS),
                range_min=range_min, range_max=range_max,
            )
    if Signal.GOOD_COUNT in out and Signal.REJECT_COUNT in out and Signal.TOTAL_COUNT in out:
        raise r.fail(key, sorted(out),
                     "map at most two of total_count, good_count and reject_count; the third is derived")
    return out
