"""A DataTable that is brought up to date by difference, keyed by a stable id.

Clearing and refilling a DataTable every tick costs O(rows), flickers and
loses the operator's place. Here each refresh touches only the cells that
changed, adds and removes rows by key, and puts the cursor back on the row it
was on, so the operator never loses the machine (or stop) they were looking at.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

Row = tuple[str, Sequence[Text]]  # (row key, one Text per column)


def _same(a: Text, b: Text) -> bool:
    # Text.__eq__ ignores the base style and justification, which is exactly what
    # changes when a state changes colour: compare them too.
    return a.plain == b.plain and a.style == b.style and a.spans == b.spans and a.justify == b.justify


class KeyedTable(DataTable[Text]):
    """DataTable whose rows are replaced by `sync(rows)` instead of clear-and-refill."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "cursor_left", "Scroll a column left", show=False),
        Binding("right", "cursor_right", "Scroll a column right", show=False),
    ]

    def __init__(self, columns: Sequence[tuple[str, str | Text]], *, id: str | None = None,
                 fixed_columns: int = 0) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False, fixed_columns=fixed_columns)
        self._column_spec = tuple(columns)  # (key, header label); a right-justified Text for figures
        self._shown: dict[str, tuple[Text, ...]] = {}
        # Columns exist from construction, not from on_mount: a snapshot can arrive before
        # the table is mounted, and rows added before their columns render with wrong widths.
        for key, label in self._column_spec:
            self.add_column(label, key=key)

    @property
    def column_ids(self) -> tuple[str, ...]:
        return tuple(key for key, _ in self._column_spec)

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor, or None when the table is empty."""
        if self.row_count == 0 or not self.is_valid_row_index(self.cursor_row):
            return None
        row_key: RowKey = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return row_key.value

    def shown_keys(self) -> tuple[str, ...]:
        return tuple(self._shown)

    def _widen(self, column_key: str, cell: Text) -> None:
        # DataTable measures new cells on idle, but the screen may paint before that and its
        # cell cache is not keyed by width, so a row could stay drawn at the old, narrower
        # widths. Widening at once (cells here are one-line Text) avoids that paint.
        column = self.columns[ColumnKey(column_key)]
        column.content_width = max(column.content_width, cell.cell_len)

    # With a row cursor, DataTable scrolls sideways one cell per key press; on a table wider
    # than the terminal that takes dozens of presses. Step a whole column instead.

    def action_cursor_right(self) -> None:
        if self.cursor_type != "row":
            super().action_cursor_right()
            return
        after = [x for x in self._column_starts() if x > self.scroll_x]
        self.scroll_to(x=min(after[0], self.max_scroll_x) if after else self.max_scroll_x, animate=False)

    def action_cursor_left(self) -> None:
        if self.cursor_type != "row":
            super().action_cursor_left()
            return
        before = [x for x in self._column_starts() if x < self.scroll_x]
        self.scroll_to(x=before[-1] if before else 0, animate=False)

    def _column_starts(self) -> list[int]:
        """Scroll offsets at which each non-fixed column starts at the left edge."""
        widths = [column.get_render_width(self) for column in self.ordered_columns]
        fixed_width = sum(widths[: self.fixed_columns])
        return [sum(widths[:index]) - fixed_width for index in range(self.fixed_columns, len(widths))]

    def sync(self, rows: Sequence[Row]) -> None:
        """Make the table show `rows`, touching only what differs. Call inside `app.batch_update()`."""
        cursor_key = self.cursor_key
        wanted = {key for key, _ in rows}
        structural = False
        for key in [key for key in self._shown if key not in wanted]:
            self.remove_row(key)
            del self._shown[key]
            structural = True
        for key, cells in rows:
            new = tuple(cells)
            old = self._shown.get(key)
            if old is None:
                self.add_row(*new, key=key)
                for column_key, cell in zip(self.column_ids, new, strict=True):
                    self._widen(column_key, cell)
                structural = True
            else:
                for column_key, before, after in zip(self.column_ids, old, new, strict=True):
                    if not _same(before, after):
                        # A cell may outgrow its column ("0:59:59" -> "10:00:00"); only then ask
                        # DataTable to re-measure. Asking for every changed cell makes it
                        # re-measure the whole column whenever a cell gets narrower: O(rows²)
                        # per refresh, most of a core at 200 machines. Columns never shrink,
                        # which also keeps the layout still while figures change.
                        grows = after.cell_len > self.columns[ColumnKey(column_key)].content_width
                        self.update_cell(key, column_key, after, update_width=grows)
                        self._widen(column_key, after)
            self._shown[key] = new
        if structural and cursor_key is not None and cursor_key in self._shown:
            # Rows removed above the cursor shift indexes: follow the row, not the index,
            # and don't scroll, so the view stays where the operator left it.
            index = self.get_row_index(cursor_key)
            if index != self.cursor_row:
                self.move_cursor(row=index, scroll=False)
