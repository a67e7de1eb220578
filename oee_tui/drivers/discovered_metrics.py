"""The metrics a source's devices announced in their births, as a tree to browse and pick tag maps from.

A Sparkplug host cannot ask an edge node what it has; it learns it from the births it hears.
The engine keeps what each source's births declared (the newest birth of each edge node and
device replaces the one before), and the Devices screen and `oee devices browse` list it:
groups, then edge nodes, then their devices and node metrics, then device metrics. A
metric's id is its tag as tag maps name it, `group/edge node[/device]/metric name`.
"""

from __future__ import annotations

from collections.abc import Iterable

from oee_tui.drivers.base import BrowseEntry
from oee_tui.model import BornMetrics

# A parent id is "group", "group/edge node" or "group/edge node/device": Sparkplug ids are one
# topic level each, so the parts split on "/" without doubt (metric names may hold "/", but a
# metric is never a parent).
_NodeKey = tuple[str, str, str | None]


def nothing_heard(source: str) -> str:
    """What a browse says before the engine heard any birth on `source`."""
    return (f"no birth heard on {source} yet: edge nodes declare their metrics in their births (the engine asks "
            f"a node that publishes without one for a rebirth)")


class DiscoveredMetrics:
    """What births declared on one source, by edge node and device."""

    def __init__(self) -> None:
        self._births: dict[_NodeKey, BornMetrics] = {}

    def learn(self, births: Iterable[BornMetrics]) -> None:
        for birth in births:
            self._births[(birth.group_id, birth.edge_node_id, birth.device_id)] = birth

    def __len__(self) -> int:
        return sum(len(birth.metrics) for birth in self._births.values())

    def children(self, parent: str | None) -> list[BrowseEntry]:
        """The entries under `parent` (None: the groups); ValueError for a parent no birth declared."""
        births = sorted(self._births.values(), key=lambda b: (b.group_id, b.edge_node_id, b.device_id or ""))
        if parent is None:
            groups = dict.fromkeys(birth.group_id for birth in births)
            return [BrowseEntry(group, group, None, True) for group in groups]
        parts = parent.split("/")
        if len(parts) == 1:
            nodes = dict.fromkeys(birth.edge_node_id for birth in births if birth.group_id == parts[0])
            found = [BrowseEntry(f"{parent}/{node}", node, None, True) for node in nodes]
        elif len(parts) == 2:
            group, node = parts
            devices = [BrowseEntry(birth.prefix, birth.device_id, None, bool(birth.metrics)) for birth in births
                       if (birth.group_id, birth.edge_node_id) == (group, node) and birth.device_id is not None]
            own = self._births.get((group, node, None))
            found = devices + ([] if own is None else _metrics(own))
        elif len(parts) == 3:
            device = self._births.get((parts[0], parts[1], parts[2]))
            found = [] if device is None else _metrics(device)
        else:
            found = []
        if not found and not self._declares(parts):
            raise ValueError(f"{parent!r} is not a group, edge node or device that a birth declared")
        return found

    def _declares(self, parts: list[str]) -> bool:
        for group, node, device in self._births:
            known = [group, node] if device is None else [group, node, device]
            if known[:len(parts)] == parts:
                return True
        return False


def _metrics(birth: BornMetrics) -> list[BrowseEntry]:
    return [BrowseEntry(birth.tag(name), name, datatype, False) for name, datatype in birth.metrics]
