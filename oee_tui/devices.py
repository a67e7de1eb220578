"""One-off conversations with a device: is it there, what does each mapped tag read, what does it offer.

Used by `oee devices ...` and the device configuration screen. Each call opens its
own connection and closes it, apart from the engine's acquisition, so testing a
device never disturbs the data the plant is collecting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from oee_tui.config import Config, SourceConfig, TagMapping
from oee_tui.drivers.base import BrowseEntry, Driver, TagReading, make_driver


@dataclass(frozen=True, slots=True)
class SourceCheck:
    """Whether a source answered a connection attempt, and how fast."""

    name: str
    kind: str
    address: str
    tags: int
    machines: tuple[str, ...]
    connected: bool
    connect_s: float | None
    error: str | None


def address_of(source: SourceConfig) -> str:
    if source.kind == "opcua":
        return source.endpoint
    if source.kind in ("s7", "logix") and source.slot is not None:
        return f"{source.host}:{source.port} slot {source.slot}"
    return f"{source.host}:{source.port}"


def tags_of(config: Config, source: str) -> list[TagMapping]:
    return [mapping for machine in config.machines for mapping in machine.signals.values()
            if mapping.source == source]


def machines_of(config: Config, source: str) -> tuple[str, ...]:
    return tuple(machine.id for machine in config.machines
                 if any(mapping.source == source for mapping in machine.signals.values()))


def source_named(config: Config, name: str) -> SourceConfig:
    for source in config.sources:
        if source.name == name:
            return source
    known = ", ".join(source.name for source in config.sources) or "(none)"
    raise LookupError(f"there is no source named {name!r}; sources: {known}")


def describe_error(exc: BaseException) -> str:
    text = str(exc).strip()
    if text:
        return text
    return "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__


async def _connected(source: SourceConfig, tags: Sequence[TagMapping], pki_dir: Path | None) -> Driver:
    driver = make_driver(source, tags, pki_dir=pki_dir)
    try:
        await asyncio.wait_for(driver.connect(), timeout=source.timeout_s)
    except BaseException:
        await driver.close()
        raise
    return driver


async def check_source(config: Config, source: SourceConfig, pki_dir: Path | None = None) -> SourceCheck:
    tags = tags_of(config, source.name)
    started = time.perf_counter()
    connected, error, elapsed = False, None, None
    try:
        driver = await _connected(source, tags, pki_dir)
        elapsed = time.perf_counter() - started
        connected = True
        await driver.close()
    except Exception as exc:  # any failure is the answer to "is it there?"
        error = describe_error(exc)
    return SourceCheck(source.name, source.kind, address_of(source), len(tags), machines_of(config, source.name),
                       connected, elapsed, error)


async def check_all(config: Config, pki_dir: Path | None = None) -> list[SourceCheck]:
    return list(await asyncio.gather(*(check_source(config, source, pki_dir) for source in config.sources)))


async def test_source(config: Config, source: SourceConfig, pki_dir: Path | None = None) -> list[TagReading]:
    """Every mapped tag of `source` read once. Raises if the device cannot be reached."""
    driver = await _connected(source, tags_of(config, source.name), pki_dir)
    try:
        return await driver.read_once()
    finally:
        await driver.close()


async def browse_source(config: Config, source: SourceConfig, parent: str | None = None,
                        pki_dir: Path | None = None) -> list[BrowseEntry]:
    driver = await _connected(source, tags_of(config, source.name), pki_dir)
    try:
        return await driver.browse(parent)
    finally:
        await driver.close()
