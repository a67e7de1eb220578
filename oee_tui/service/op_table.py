"""Every request the engine answers, by name."""

from __future__ import annotations

from typing import Final

from oee_tui.service import change_ops, device_ops, live_ops, query_ops, review_ops, sync_ops
from oee_tui.service.ops import Op

OPS: Final[dict[str, Op]] = {op.name: op
                             for module in (live_ops, query_ops, review_ops, change_ops, device_ops, sync_ops)
                             for op in module.OPS}
