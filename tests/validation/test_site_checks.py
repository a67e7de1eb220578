"""Site acceptance's checks where no device is needed to show them: the `[validation]` setting, the store
held by another process, sources that refuse, the central database, and a clock out of limits."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from oee_tui.cli import SAMPLE_CONFIG
from oee_tui.config import Config, ConfigError, SourceConfig
from oee_tui.device_checks import SourceCheck, address_of
from oee_tui.drivers.base import TagReading
from oee_tui.drivers.registry import parse_config
from oee_tui.store import Store
from oee_tui.validation.junit import Outcome
from oee_tui.validation.plant_access import LocalAccess
from oee_tui.validation.site_acceptance import central_database_check, planned_checks, site_acceptance
from tests.validation.test_site_acceptance import unreachable_port


def refusing_plant(limit: str = "") -> Config:
    """The sample config, its Modbus PLC on a port where nothing listens."""
    text = SAMPLE_CONFIG.replace('host = "192.0.2.10"\nport = 502', f'host = "127.0.0.1"\nport = {unreachable_port()}')
    return parse_config(text + limit, path="plant.toml")


def test_the_clock_limit_is_a_setting_read_strictly() -> None:
    assert refusing_plant().validation.max_clock_offset_s == 2.0
    assert refusing_plant("\n[validation]\nmax_clock_offset_s = 0.5\n").validation.max_clock_offset_s == 0.5
    with pytest.raises(ConfigError, match="max_clock_offset_s"):
        refusing_plant("\n[validation]\nmax_clock_offset_s = -1\n")
    with pytest.raises(ConfigError, match="max_clock_offst_s"):
        refusing_plant("\n[validation]\nmax_clock_offst_s = 1\n")


async def test_a_refusing_source_and_a_store_held_elsewhere_fail_with_their_reasons(tmp_path: Path) -> None:
    config = refusing_plant()
    results: list[str] = []
    with Store.open(tmp_path / "data"):  # another process's store, as far as the check can tell: its lock is held
        outcome = await site_acceptance(config, LocalAccess(config, tmp_path / "data"),
                                        lambda case: results.append(case.name))
    cases = {case.name: case for case in outcome.cases}
    assert len(outcome.cases) == planned_checks(config) == len(results)
    source = next(case for name, case in cases.items() if name.startswith("plc1 reachable"))
    assert source.outcome is Outcome.FAILED and source.message
    store = cases["store writable"]
    assert store.outcome is Outcome.FAILED and "is in use by process" in store.message
    tags = [case for case in outcome.cases if case.classname == "site.tags"]
    assert len(tags) == 4 and all(case.outcome is Outcome.SKIPPED for case in tags)
    assert all("plc1 did not answer" in case.message for case in tags)


def test_the_central_database_is_not_configured_without_its_section() -> None:
    case = central_database_check(refusing_plant())
    assert case.outcome is Outcome.SKIPPED and case.message.startswith("not configured")


class WrongClock:
    """A device whose clock is 7.5 s ahead: none of the servers that run here can be set to a wrong
    clock, so the engine's answer is stood in for; everything else is the real check."""

    def __init__(self, config: Config) -> None:
        self.config = config

    async def check_sources(self) -> Sequence[SourceCheck]:
        return [SourceCheck(s.name, s.kind, address_of(s), 0, (), True, 0.001, None) for s in self.config.sources]

    async def read_tags(self, source: SourceConfig) -> Sequence[TagReading]:
        return []

    async def clock_offset(self, source: SourceConfig) -> float | None:
        return 7.5

    async def store_problem(self) -> str | None:
        return None


async def test_a_clock_beyond_the_limit_fails_and_says_by_how_much() -> None:
    config = refusing_plant("\n[validation]\nmax_clock_offset_s = 5\n")
    outcome = await asyncio.wait_for(site_acceptance(config, WrongClock(config)), 10)
    clock = next(case for case in outcome.cases if case.classname == "site.clocks")
    assert clock.name == "plc1 clock within 5 s" and clock.outcome is Outcome.FAILED
    assert clock.message == "the device is 7.500 s ahead of this box"
    assert outcome.warnings == []
    missing = [case for case in outcome.cases if case.classname == "site.tags"]
    assert missing and all(case.message == "the device returned no reading for it" for case in missing)


async def test_a_clock_near_its_limit_passes_with_a_warning() -> None:
    config = refusing_plant("\n[validation]\nmax_clock_offset_s = 10\n")
    outcome = await asyncio.wait_for(site_acceptance(config, WrongClock(config)), 10)
    clock = next(case for case in outcome.cases if case.classname == "site.clocks")
    assert clock.outcome is Outcome.PASSED
    assert outcome.warnings == ["plc1: the device is 7.500 s ahead of this box, more than half the 10 s allowed"]
