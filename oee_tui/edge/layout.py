"""What the edge node publishes: one *device per machine* (device id = machine id) and one
metric per mapped signal (``total_count``, ``state_code``, ...), and which samples feed them.

Per machine rather than per source because consumers look for machines: a machine's signals
may come from several PLCs, and which PLC feeds a signal is wiring that can change without the
published names changing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from oee_tui.config import MachineConfig
from oee_tui.model import Signal, TagValue
from oee_tui.mqtt.sparkplug_codec import DataType

SIGNAL_TYPES: Final = {
    Signal.TOTAL_COUNT: DataType.Int64, Signal.REJECT_COUNT: DataType.Int64, Signal.GOOD_COUNT: DataType.Int64,
    Signal.STATE_CODE: DataType.Int64, Signal.FAULT: DataType.Boolean, Signal.SPEED: DataType.Double,
    Signal.PRODUCT: DataType.String,
}


@dataclass(slots=True)
class Metric:
    """One published signal of one machine, with the last value and quality the node saw."""

    device: str
    name: str
    datatype: DataType
    alias: int
    value: TagValue = None
    quality: str = "none"  # nothing seen yet: DBIRTH says null


class PlantLayout:
    """The devices and metrics of the edge node; ``configure`` builds them again on a reload."""

    def __init__(self, machines: Sequence[MachineConfig]) -> None:
        self.devices: dict[str, list[Metric]] = {}
        self.by_name: dict[tuple[str, str], Metric] = {}
        self.by_alias: dict[int, Metric] = {}  # to name what a DCMD sent by alias only
        self.routes: dict[tuple[str, str], tuple[Metric, ...]] = {}  # (source, tag) -> the metrics it feeds
        self.configure(machines)

    def configure(self, machines: Sequence[MachineConfig]) -> None:
        """Devices, metrics, aliases and sample routes from the machines. Signals that stay keep
        their last value and quality (the next births carry them)."""
        old = self.by_name
        self.devices = {}
        self.by_name = {}
        self.by_alias = {}
        routes: dict[tuple[str, str], list[Metric]] = {}
        alias = 0
        for machine in machines:
            metrics = self.devices[machine.id] = []
            for signal, mapping in machine.signals.items():
                alias += 1  # unique across the whole edge node, as 3.0 asks
                metric = Metric(machine.id, str(signal.value), SIGNAL_TYPES[signal], alias)
                previous = old.get((machine.id, metric.name))
                if previous is not None:
                    metric.value, metric.quality = previous.value, previous.quality
                metrics.append(metric)
                self.by_name[(machine.id, metric.name)] = metric
                self.by_alias[alias] = metric
                routes.setdefault((mapping.source, mapping.tag), []).append(metric)
        self.routes = {key: tuple(value) for key, value in routes.items()}


Change = tuple[Metric, float, TagValue, str]  # (metric, sample time, value, quality): one value to publish
