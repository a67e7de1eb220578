"""The metrics a Sparkplug edge node or device declared in a birth: what a host discovers on the broker."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BornMetrics:
    """One NBIRTH's or DBIRTH's metrics: (name, datatype name) in birth order.

    Its tags are `group/edge node[/device]/metric name`, as Sparkplug tag maps name metrics.
    """

    group_id: str
    edge_node_id: str
    device_id: str | None  # None: the edge node's own metrics
    metrics: tuple[tuple[str, str], ...]

    @property
    def prefix(self) -> str:
        node = f"{self.group_id}/{self.edge_node_id}"
        return node if self.device_id is None else f"{node}/{self.device_id}"

    def tag(self, name: str) -> str:
        return f"{self.prefix}/{name}"
