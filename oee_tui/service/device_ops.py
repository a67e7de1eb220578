"""Requests that reach the devices through the engine: which sources answer, one read of a source's mapped
tags, and what a source offers. The engine holds the secrets (passwords from its own files and
variables); the person asking needs none of them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oee_tui import device_checks
from oee_tui.config import SourceConfig
from oee_tui.drivers.base import BrowseEntry, TagReading
from oee_tui.drivers.discovered_metrics import nothing_heard
from oee_tui.drivers.registry import kind_of
from oee_tui.model.access import Action
from oee_tui.service.ops import Op, OpContext, OpError, text_arg


async def devices_list(context: OpContext, args: Mapping[str, Any]) -> dict[str, Any]:
    config = context.config
    return {"checks": tuple(await device_checks.check_all(config)), "edge": device_checks.edge_summary(config)}


async def device_test(context: OpContext, args: Mapping[str, Any]) -> tuple[TagReading, ...]:
    config, source = _source(context, args)
    try:
        return tuple(await device_checks.test_source(config, source))
    except NotImplementedError as exc:
        raise OpError("bad_request", str(exc)) from None
    except Exception as exc:  # the device's own words
        raise OpError("failed", _failed(source, exc)) from None


async def device_clock(context: OpContext, args: Mapping[str, Any]) -> float | None:
    """A source's clock minus the box's, in seconds; None when its protocol has no clock (`oee validate`)."""
    config, source = _source(context, args)
    try:
        reading = await device_checks.read_source_clock(config, source)
    except Exception as exc:
        raise OpError("failed", _failed(source, exc)) from None
    return None if reading is None else reading.offset_s


async def device_browse(context: OpContext, args: Mapping[str, Any]) -> tuple[BrowseEntry, ...]:
    config, source = _source(context, args)
    if kind_of(source).browsed_in_engine is not None:
        return _discovered(context, source, text_arg(args, "parent"))
    try:
        return tuple(await device_checks.browse_source(config, source, text_arg(args, "parent")))
    except NotImplementedError as exc:
        raise OpError("bad_request", str(exc)) from None
    except Exception as exc:
        raise OpError("failed", _failed(source, exc)) from None


def _discovered(context: OpContext, source: SourceConfig, parent: str | None) -> tuple[BrowseEntry, ...]:
    """What the engine heard `source`'s devices announce (Sparkplug births), as a browse tree."""
    discovered = context.engine.discovered_metrics(source.name)
    if discovered is None:
        raise OpError("not_found", nothing_heard(source.name))
    try:
        return tuple(discovered.children(parent))
    except ValueError as exc:
        raise OpError("not_found", f"{source.name}: {exc}") from None


def _source(context: OpContext, args: Mapping[str, Any]) -> tuple[Any, SourceConfig]:
    config = context.config
    try:
        return config, device_checks.source_named(config, text_arg(args, "name", required=True) or "")
    except LookupError as exc:
        raise OpError("not_found", str(exc)) from None


def _failed(source: SourceConfig, exc: BaseException) -> str:
    return f"{source.name} ({device_checks.address_of(source)}): {device_checks.describe_error(exc)}"


OPS = (
    Op("devices_list", Action.VIEW, "see whether the devices answer", devices_list),
    Op("device_test", Action.DEVICES, "test devices", device_test),
    Op("device_browse", Action.DEVICES, "browse devices", device_browse),
    Op("device_clock", Action.DEVICES, "read device clocks", device_clock),
)
