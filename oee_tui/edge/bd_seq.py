"""The edge node's bdSeq across runs of the app, kept in the store's ``edge_session`` table.

Sparkplug 3.0 pairs an NBIRTH with the NDEATH will of the same connection by ``bdSeq``. Were
it to start again at 0 on every start, the first session of a new run would share its bdSeq
with the previous run's first session, and a will of that run that the broker delivers late
would end the new session at the host. So the bdSeq of the *next* CONNECT is kept per
``(group_id, edge_node_id)`` and written before each CONNECT; a run continues where the last
one stopped.

Like the buffer, every method runs in the engine's store writer thread.
"""

from __future__ import annotations

from typing import Final

from oee_tui.store import Store

BD_SEQ_MODULUS: Final = 256  # bdSeq is 0..255 and wraps (spec 3.0)


class SavedBdSeq:
    """The ``edge_session`` row of one edge node."""

    def __init__(self, store: Store, group_id: str, edge_node_id: str) -> None:
        self.store = store
        self.group_id = group_id
        self.edge_node_id = edge_node_id

    def next_bd_seq(self) -> int:
        """The bdSeq the next CONNECT uses: 0 for an edge node that never connected from this store."""
        saved = self.store.edge_next_bd_seq(self.group_id, self.edge_node_id)
        return 0 if saved is None else saved % BD_SEQ_MODULUS

    def save_next_bd_seq(self, bd_seq: int) -> None:
        self.store.save_edge_next_bd_seq(self.group_id, self.edge_node_id, bd_seq % BD_SEQ_MODULUS)
