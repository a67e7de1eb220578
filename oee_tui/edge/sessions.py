"""The edge node's bdSeq across runs of the app: the ``edge_session`` table of the local store.

Sparkplug 3.0 pairs an NBIRTH with the NDEATH will of the same connection by ``bdSeq``. Were
it to start again at 0 on every start, the first session of a new run would share its bdSeq
with the previous run's first session, and a will of that run that the broker delivers late
would end the new session at the host. So the bdSeq of the *next* CONNECT is kept here per
``(group_id, edge_node_id)`` and written before each CONNECT; a run continues where the last
one stopped.

Like the buffer, every method runs in the engine's store writer thread.
"""

from __future__ import annotations

from oee_tui.edge.buffer import _cursor
from oee_tui.store import Store

BD_SEQ_MODULUS = 256  # bdSeq is 0..255 and wraps (spec 3.0)


class EdgeSessions:
    """The ``edge_session`` row of one edge node."""

    def __init__(self, store: Store, group_id: str, edge_node_id: str) -> None:
        self.store = store
        self.key = [group_id, edge_node_id]

    def next_bd_seq(self) -> int:
        """The bdSeq the next CONNECT uses: 0 for an edge node that never connected from this store."""
        with _cursor(self.store) as cur:
            found = cur.execute("SELECT next_bd_seq FROM edge_session WHERE group_id = ? AND edge_node_id = ?",
                                self.key).fetchall()
        return int(found[0][0]) % BD_SEQ_MODULUS if found else 0

    def save_next_bd_seq(self, bd_seq: int) -> None:
        with _cursor(self.store) as cur:
            cur.execute("INSERT INTO edge_session VALUES (?, ?, ?) ON CONFLICT (group_id, edge_node_id) "
                        "DO UPDATE SET next_bd_seq = excluded.next_bd_seq", [*self.key, bd_seq % BD_SEQ_MODULUS])
