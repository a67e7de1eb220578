"""A table brought up to date by difference, keyed by a stable id, drawn line by line.

The live screen refreshes every machine once a second. Textual's DataTable throws
away its whole render cache on any cell update, so each refresh re-rendered every
visible cell through Rich: with 200 machines that was a quarter of a core. This
table caches one rendered strip per row and drops only the rows whose cells
changed, so a refresh costs what actually changed on screen.

Each refresh adds and removes rows by key and puts the cursor back on the row it
was on, so the operator never loses the machine (or stop) they were looking at.
Columns grow to fit their widest cell and never shrink, so figures do not jump
sideways as they change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

Row = tuple[str, Sequence[Text]]  # (row key, one Text per column)

CELL_PADDING = 1  # blank cells either side of each cell's text


def _same(a: Text, b: Text) -> bool:
    # Text.__eq__ ignores the base style and justification, which is exactly what
    # changes when a state changes colour: compare them too.
    return a.plain == b.plain and a.style == b.style and a.spans == b.spans and a.justify == b.justify


def _styled(strip: Strip, base: Style, post: Style | None = None) -> Strip:
    """`base` under the strip's own styles, `post` over them (the cursor wins over a cell's colour)."""
    return Strip(Segment.apply_style(iter(strip), base, post), strip.cell_length)


class KeyedTable(ScrollView, can_focus=True):
    """A keyboard-driven table whose rows are replaced by `sync(rows)`, never cleared and refilled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first_row", "First row", show=False),
        Binding("end", "last_row", "Last row", show=False),
        Binding("enter", "select_row", "Select", show=False),
        Binding("left", "column_left", "Scroll a column left", show=False),
        Binding("right", "column_right", "Scroll a column right", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "keyed-table--header",
        "keyed-table--fixed",
        "keyed-table--cursor",
    }

    # The look of Textual's DataTable, so both kinds of table read the same.
    DEFAULT_CSS = """
    KeyedTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        & > .keyed-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .keyed-table--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .keyed-table--fixed {
            background: $secondary-muted;
            color: $foreground;
        }
        & > .keyed-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus {
            background-tint: $foreground 5%;
            & > .keyed-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
    }
    """

    class RowSelected(Message):
        """Enter, or a click on the highlighted row."""

        def __init__(self, table: KeyedTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> KeyedTable:
            return self.table

    def __init__(self, columns: Sequence[tuple[str, str | Text]], *, id: str | None = None,
                 fixed_columns: int = 0, gap: int = 2 * CELL_PADDING,
                 max_widths: Mapping[str, int] | None = None) -> None:
        """`gap`: blank cells between two columns' texts (split either side of each; an odd one goes to the
        right, so 1 packs a table that must fit a narrow terminal); `max_widths`: text widths a column never
        grows past (by key), a longer text is cut with an ellipsis."""
        super().__init__(id=id)
        self.fixed_columns = fixed_columns
        self._pad_left = gap // 2
        self._pad_right = gap - gap // 2
        self._max_widths = [(max_widths or {}).get(key) for key, _ in columns]
        self._column_keys = tuple(key for key, _ in columns)
        self._column_index = {key: index for index, key in enumerate(self._column_keys)}
        self._labels = tuple(label if isinstance(label, Text) else Text(label) for _, label in columns)
        self._widths = [label.cell_len + gap for label in self._labels]
        self._order: list[str] = []
        self._index: dict[str, int] = {}
        self._shown: dict[str, list[Text]] = {}
        self._strips: dict[str, tuple[Strip, Strip]] = {}  # row key -> (fixed part, scrolling part)
        self.cursor_row = 0
        self.virtual_size = Size(sum(self._widths), 1)

    # ------------------------------------------------------------ reading

    @property
    def column_ids(self) -> tuple[str, ...]:
        return self._column_keys

    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor, or None when the table is empty."""
        return self._order[self.cursor_row] if 0 <= self.cursor_row < len(self._order) else None

    def shown_keys(self) -> tuple[str, ...]:
        return tuple(self._order)

    def get_cell(self, row_key: str, column_key: str) -> Text:
        return self._shown[row_key][self._column_index[column_key]]

    def get_row_index(self, row_key: str) -> int:
        return self._index[row_key]

    # ------------------------------------------------------------ writing

    def sync(self, rows: Sequence[Row]) -> None:
        """Make the table show `rows`, in their order, touching only what differs."""
        cursor_key = self.cursor_key
        order = [key for key, _ in rows]
        changed = False
        for key in set(self._shown) - set(order):
            del self._shown[key]
            self._strips.pop(key, None)
        for key, cells in rows:
            old = self._shown.get(key)
            if old is None:
                self._shown[key] = list(cells)
                self._grow(cells)
            else:
                for column_key, before, after in zip(self._column_keys, old, cells, strict=True):
                    if not _same(before, after):
                        self.update_cell(key, column_key, after)
                        changed = True
        if order != self._order:
            changed = True
            self._order = order
            self._index = {key: index for index, key in enumerate(order)}
            self.virtual_size = Size(sum(self._widths), len(order) + 1)
            # Rows removed above the cursor shift indexes: follow the row, not the index,
            # and don't scroll, so the view stays where the operator left it.
            if cursor_key is not None and cursor_key in self._index:
                self.cursor_row = self._index[cursor_key]
            else:
                self.cursor_row = max(0, min(self.cursor_row, len(order) - 1))
        if changed:
            self.refresh()

    def update_cell(self, row_key: str, column_key: str, value: Text) -> None:
        self._shown[row_key][self._column_index[column_key]] = value
        self._strips.pop(row_key, None)
        self._grow_column(self._column_index[column_key], value)

    def _grow(self, cells: Iterable[Text]) -> None:
        for index, cell in enumerate(cells):
            self._grow_column(index, cell)

    def _grow_column(self, index: int, cell: Text) -> None:
        most = self._max_widths[index]
        width = (cell.cell_len if most is None else min(cell.cell_len, most)) + self._pad_left + self._pad_right
        if width > self._widths[index]:
            self._widths[index] = width
            self._strips.clear()  # every row is laid out on the column widths
            self.virtual_size = Size(sum(self._widths), len(self._order) + 1)

    # ------------------------------------------------------------ drawing

    def _cell_segments(self, cell: Text, width: int) -> list[Segment]:
        console = self.app.console
        room = width - self._pad_left - self._pad_right
        text = cell
        if text.cell_len > room:
            text = cell.copy()
            text.truncate(room, overflow="ellipsis")
        spare = room - text.cell_len
        left = spare if cell.justify == "right" else spare // 2 if cell.justify == "center" else 0
        return [
            Segment(" " * (self._pad_left + left)),
            # Text.render leaves a Text's own style out when it has no spans; apply it here.
            *Segment.apply_style(text.render(console, end=""), console.get_style(text.style)),
            Segment(" " * (self._pad_right + spare - left)),
        ]

    def _render_row(self, cells: Sequence[Text]) -> tuple[Strip, Strip]:
        fixed: list[Segment] = []
        scrolling: list[Segment] = []
        for index, (cell, width) in enumerate(zip(cells, self._widths, strict=True)):
            (fixed if index < self.fixed_columns else scrolling).extend(self._cell_segments(cell, width))
        fixed_width = sum(self._widths[: self.fixed_columns])
        return Strip(fixed, fixed_width), Strip(scrolling, sum(self._widths) - fixed_width)

    def _row_strips(self, key: str) -> tuple[Strip, Strip]:
        strips = self._strips.get(key)
        if strips is None:
            strips = self._strips[key] = self._render_row(self._shown[key])
        return strips

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        scroll_x, scroll_y = self.scroll_offset
        base = self.rich_style
        if y == 0:  # the header stays put while the rows scroll under it
            header = self.get_component_rich_style("keyed-table--header")
            fixed, scrolling = self._render_row(self._labels)
            fixed, scrolling = _styled(fixed, base + header), _styled(scrolling, base + header)
            fill = base + header
        else:
            index = scroll_y + y - 1
            if index >= len(self._order):
                return Strip.blank(width, base)
            fixed, scrolling = self._row_strips(self._order[index])
            cursor = self.get_component_rich_style("keyed-table--cursor") if index == self.cursor_row else None
            fixed = _styled(fixed, base + self.get_component_rich_style("keyed-table--fixed"), cursor)
            scrolling = _styled(scrolling, base, cursor)
            fill = base if cursor is None else base + cursor
        visible = max(0, width - fixed.cell_length)
        line = Strip.join([fixed, scrolling.crop(scroll_x, scroll_x + visible)])
        return line.extend_cell_length(width, fill).crop(0, width)

    # ------------------------------------------------------------ moving

    def move_cursor(self, row: int, *, scroll: bool = True) -> None:
        if not self._order:
            return
        self.cursor_row = max(0, min(row, len(self._order) - 1))
        if scroll:
            self._scroll_to_cursor()
        self.refresh()

    def _rows_in_view(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _scroll_to_cursor(self) -> None:
        top = round(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False)
        elif self.cursor_row >= top + self._rows_in_view():
            self.scroll_to(y=self.cursor_row - self._rows_in_view() + 1, animate=False)

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor_row + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self.cursor_row - self._rows_in_view())

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor_row + self._rows_in_view())

    def action_first_row(self) -> None:
        self.move_cursor(0)

    def action_last_row(self) -> None:
        self.move_cursor(len(self._order) - 1)

    def action_select_row(self) -> None:
        key = self.cursor_key
        if key is not None:
            self.post_message(self.RowSelected(self, key))

    # On a table wider than the terminal, step a whole column sideways per key press.

    def action_column_right(self) -> None:
        after = [x for x in self._column_starts() if x > self.scroll_x]
        self.scroll_to(x=min(after[0], self.max_scroll_x) if after else self.max_scroll_x, animate=False)

    def action_column_left(self) -> None:
        before = [x for x in self._column_starts() if x < self.scroll_x]
        self.scroll_to(x=before[-1] if before else 0, animate=False)

    def scroll_column_into_view(self, position: int) -> None:
        """Scroll sideways, if need be, so that the `position`-th column right of the fixed ones shows whole."""
        start = self._column_starts()[position]
        end = start + self._widths[position + self.fixed_columns]
        visible = self.scrollable_content_region.width - sum(self._widths[:self.fixed_columns])
        if start < self.scroll_x or end > self.scroll_x + visible:
            self.scroll_to(x=min(start, self.max_scroll_x), animate=False)

    def _column_starts(self) -> list[int]:
        """Scroll offsets at which each non-fixed column starts at the left edge."""
        widths = self._widths[self.fixed_columns:]
        return [sum(widths[:index]) for index in range(len(widths))]

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0:
            return
        index = round(self.scroll_y) + offset.y - 1
        if index >= len(self._order):
            return
        if index == self.cursor_row:
            self.action_select_row()
        else:
            self.move_cursor(index)
