"""Site acceptance: every source answers, every mapped tag reads with the type its map expects, the store
takes writes, the brokers answer, the central database (where one is configured), and the devices' clocks
agree with the box's within `[validation] max_clock_offset_s`.

Sources are checked concurrently (one task each), so the phase takes about as long as its slowest device.
Where an engine serves the data dir, the devices are reached through its requests (`devices_list`,
`device_test`, `device_clock`): the engine holds their passwords, and nothing here competes with its
acquisition for a connection slot it does not already manage. A tag whose source did not answer is
skipped (its source's failure is counted once, not once per tag).
"""

from __future__ import annotations

import asyncio
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from oee_tui import device_checks
from oee_tui.config import Config, SourceConfig, TagMapping
from oee_tui.drivers.base import TagReading
from oee_tui.drivers.registry import kind_of
from oee_tui.model import COUNTER_SIGNALS, Quality, Signal
from oee_tui.validation.junit import CaseResult, Outcome

CENTRAL_SECTIONS = ("central", "sync")  # where a central database would be configured


class PlantAccess(Protocol):
    """How the checks reach the devices and the store: directly, or through the engine that serves them."""

    async def check_sources(self) -> Sequence[device_checks.SourceCheck]: ...

    async def read_tags(self, source: SourceConfig) -> Sequence[TagReading]: ...

    async def clock_offset(self, source: SourceConfig) -> float | None: ...

    async def store_problem(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class SiteResults:
    cases: list[CaseResult]
    warnings: list[str]  # what passed, but only just: a clock more than half its limit off


# A clock off by more than this share of the limit passes with a warning: it is drifting towards failing.
CLOCK_WARNING_SHARE = 0.5


async def site_acceptance(config: Config, access: PlantAccess,
                          on_case: Callable[[CaseResult], None] | None = None) -> SiteResults:
    """Run every check; `on_case` hears each result as it is decided (for live output and progress)."""
    cases: list[CaseResult] = []
    warnings: list[str] = []

    def add(case: CaseResult) -> None:
        cases.append(case)
        if on_case is not None:
            on_case(case)

    started = time.perf_counter()
    checks = {check.name: check for check in await access.check_sources()}
    for source in config.sources:
        add(_reachability(source, checks.get(source.name), time.perf_counter() - started))
    await asyncio.gather(
        _store(access, add),
        *(_source_checks(config, source, checks.get(source.name), access, add, warnings.append)
          for source in config.sources),
        _edge_broker(config, add),
    )
    add(central_database_check(config))
    return SiteResults(cases, warnings)


def planned_checks(config: Config) -> int:
    """How many results site_acceptance will give for `config` (the progress bar's length)."""
    tags = sum(len(machine.signals) for machine in config.machines)
    return 2 * len(config.sources) + tags + 2 + (1 if config.edge.enabled else 0)


def _reachability(source: SourceConfig, check: device_checks.SourceCheck | None, seconds: float) -> CaseResult:
    what = "broker of " if kind_of(source).checked_by_probe else ""
    name = f"{what}{source.name} reachable ({source.kind} {device_checks.address_of(source)})"
    if check is None:
        return CaseResult(name, Outcome.ERROR, "the engine did not report this source", "site.sources", seconds)
    if not check.connected:
        return CaseResult(name, Outcome.FAILED, check.error or "did not answer", "site.sources", seconds)
    answered = f"answered in {check.connect_s * 1000:.0f} ms" if check.connect_s is not None else "answered"
    return CaseResult(name, Outcome.PASSED, answered, "site.sources", seconds)


async def _source_checks(config: Config, source: SourceConfig, check: device_checks.SourceCheck | None,
                         access: PlantAccess, add: Callable[[CaseResult], None],
                         warn: Callable[[str], None]) -> None:
    mappings = _mappings(config, source.name)
    reachable = check is not None and check.connected
    not_readable = kind_of(source).not_readable
    if not reachable:
        for mapping, owner in mappings:
            add(CaseResult(_tag_name(source, mapping, owner), Outcome.SKIPPED, f"{source.name} did not answer",
                           "site.tags"))
        add(CaseResult(f"{source.name} clock", Outcome.SKIPPED, f"{source.name} did not answer", "site.clocks"))
        return
    await asyncio.gather(_tags(source, mappings, not_readable, access, add),
                         _clock(config, source, access, add, warn))


async def _tags(source: SourceConfig, mappings: Sequence[tuple[TagMapping, str]], not_readable: str | None,
                access: PlantAccess, add: Callable[[CaseResult], None]) -> None:
    if not mappings:
        return
    if not_readable is not None:
        for mapping, owner in mappings:
            add(CaseResult(_tag_name(source, mapping, owner), Outcome.SKIPPED, not_readable, "site.tags"))
        return
    started = time.perf_counter()
    try:
        readings = {reading.tag: reading for reading in await access.read_tags(source)}
    except Exception as exc:  # the device's own words, once per tag: none of them was read
        why = device_checks.describe_error(exc)
        for mapping, owner in mappings:
            add(CaseResult(_tag_name(source, mapping, owner), Outcome.FAILED, f"not read: {why}", "site.tags"))
        return
    seconds = time.perf_counter() - started
    for mapping, owner in mappings:
        name = _tag_name(source, mapping, owner)
        reading = readings.get(mapping.tag)
        if reading is None:
            add(CaseResult(name, Outcome.FAILED, "the device returned no reading for it", "site.tags", seconds))
            continue
        problem = type_problem(mapping, reading)
        shown = f"{reading.value!r} ({reading.type})"
        add(CaseResult(name, Outcome.FAILED if problem else Outcome.PASSED, problem or f"read {shown}", "site.tags",
                       seconds))


def type_problem(mapping: TagMapping, reading: TagReading) -> str | None:
    """Why `reading` is not what the tag map expects of `mapping`'s signal, or None when it is."""
    if reading.quality is not Quality.GOOD:
        return f"quality {reading.quality.value}: {reading.error or 'no reason given'}"
    value = reading.value
    if mapping.type is not None and reading.type and reading.type.lower() != mapping.type.lower():
        return f"the device says {reading.type}, the map says {mapping.type}"
    signal = mapping.signal
    if signal in COUNTER_SIGNALS or signal is Signal.STATE_CODE:
        if isinstance(value, bool) or not isinstance(value, int | float) or float(value) != int(value):
            return f"{value!r} ({reading.type}) is not a whole number, which a {signal.value} must be"
    elif signal is Signal.FAULT:
        if not isinstance(value, bool | int | float):
            return f"{value!r} ({reading.type}) is not a boolean or number, which a fault must be"
    elif signal is Signal.SPEED:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{value!r} ({reading.type}) is not a number, which a speed must be"
    elif signal is Signal.PRODUCT and not isinstance(value, str | int):
        return f"{value!r} ({reading.type}) is not a product code (text or a whole number)"
    return None


async def _clock(config: Config, source: SourceConfig, access: PlantAccess, add: Callable[[CaseResult], None],
                 warn: Callable[[str], None]) -> None:
    limit = config.validation.max_clock_offset_s
    name = f"{source.name} clock within {limit:g} s"
    started = time.perf_counter()
    try:
        offset = await access.clock_offset(source)
    except Exception as exc:
        add(CaseResult(name, Outcome.FAILED, f"not read: {device_checks.describe_error(exc)}", "site.clocks",
                       time.perf_counter() - started))
        return
    seconds = time.perf_counter() - started
    if offset is None:
        add(CaseResult(name, Outcome.SKIPPED, f"{source.kind}: the protocol carries no clock to compare",
                       "site.clocks", seconds))
        return
    said = f"the device is {abs(offset):.3f} s {'ahead of' if offset >= 0 else 'behind'} this box"
    if CLOCK_WARNING_SHARE * limit < abs(offset) <= limit:
        warn(f"{source.name}: {said}, more than half the {limit:g} s allowed")
    add(CaseResult(name, Outcome.PASSED if abs(offset) <= limit else Outcome.FAILED, said, "site.clocks", seconds))


async def _store(access: PlantAccess, add: Callable[[CaseResult], None]) -> None:
    started = time.perf_counter()
    try:
        problem = await access.store_problem()
    except Exception as exc:  # the store's own words (locked, damaged, the disk full)
        problem = str(exc) or type(exc).__name__
    outcome = Outcome.FAILED if problem else Outcome.PASSED
    add(CaseResult("store writable", outcome, problem or "a write reached the file", "site.store",
                   time.perf_counter() - started))


async def _edge_broker(config: Config, add: Callable[[CaseResult], None]) -> None:
    edge = config.edge
    if not edge.enabled:
        return
    from oee_tui.edge.session import edge_settings

    settings = edge_settings(edge)
    name = f"edge node broker reachable ({settings.url})"
    started = time.perf_counter()
    try:
        probe = await device_checks.probe_broker_at(settings)
    except Exception as exc:
        add(CaseResult(name, Outcome.FAILED, device_checks.describe_error(exc), "site.brokers",
                       time.perf_counter() - started))
        return
    add(CaseResult(name, Outcome.PASSED, f"answered in {probe.connect_s * 1000:.0f} ms", "site.brokers",
                   time.perf_counter() - started))


def central_database_check(config: Config) -> CaseResult:
    """The central database: skipped as "not configured" without a `[central]` or `[sync]` section.

    Central sync is not part of this build: a configured section is reported, not checked. The sync
    work fills this in with a connection and a write."""
    name = "central database reachable"
    sections: list[str] = []
    if config.path is not None:
        try:
            data = tomllib.loads(Path(config.path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            data = {}
        sections = [section for section in CENTRAL_SECTIONS if section in data]
    if not sections:
        return CaseResult(name, Outcome.SKIPPED, "not configured (no [central] or [sync] section)", "site.central")
    return CaseResult(name, Outcome.SKIPPED, f"[{sections[0]}] is configured, but this build has no central sync "
                      "to check it with", "site.central")


def _mappings(config: Config, source: str) -> list[tuple[TagMapping, str]]:
    return [(mapping, machine.id) for machine in config.machines for mapping in machine.signals.values()
            if mapping.source == source]


def _tag_name(source: SourceConfig, mapping: TagMapping, machine: str) -> str:
    return f"{source.name} {mapping.tag} ({machine} {mapping.signal.value})"
