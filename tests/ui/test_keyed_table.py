"""The keyed table on its own: keys, clicks, scrolling and rendering by difference."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult

from oee_tui.widgets.keyed_table import KeyedTable, Row

COLUMNS = (("name", "Name"), ("count", Text("Count", justify="right")))


def rows(n: int, count: int = 0) -> list[Row]:
    return [(f"m{i:02}", [Text(f"Machine {i}"), Text(str(count + i), justify="right")]) for i in range(n)]


class TableApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.selected: list[str] = []

    def compose(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, id="t")

    def on_keyed_table_row_selected(self, event: KeyedTable.RowSelected) -> None:
        self.selected.append(event.key)


async def test_keys_move_the_cursor_and_keep_it_in_view() -> None:
    app = TableApp()
    async with app.run_test(size=(40, 10)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync(rows(50))
        table.focus()
        await pilot.pause()
        await pilot.press("end")
        assert table.cursor_key == "m49"
        assert table.scroll_y > 0  # the last row is on screen, under the fixed header
        assert "Machine 49" in _screen_text(app)
        await pilot.press("pageup")
        assert table.cursor_row == 49 - (table.scrollable_content_region.height - 1)
        await pilot.press("home", "down", "enter")
        assert table.cursor_key == "m01"
        assert table.scroll_y == 0
        await pilot.pause()
        assert app.selected == ["m01"]


async def test_a_click_highlights_and_a_second_click_selects() -> None:
    app = TableApp()
    async with app.run_test(size=(40, 10)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync(rows(5))
        await pilot.pause()
        await pilot.click(KeyedTable, offset=(2, 3))  # line 0 is the header: row index 2
        assert table.cursor_key == "m02"
        assert app.selected == []
        await pilot.click(KeyedTable, offset=(2, 3))
        await pilot.pause()
        assert app.selected == ["m02"]


async def test_columns_grow_to_fit_and_rows_follow_the_given_order() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 10)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync(rows(3))
        await pilot.pause()
        table.sync([("m02", [Text("Machine 2"), Text("1234567890", justify="right")]), *rows(2)])
        await pilot.pause()
        assert table.shown_keys() == ("m02", "m00", "m01")
        lines = _screen_text(app).splitlines()
        assert lines[1].rstrip().endswith("1234567890")
        assert lines[2].rstrip().endswith(" 0")  # right-justified under the widened column
        table.sync(rows(3))  # narrower again: the column keeps its width, nothing jumps
        await pilot.pause()
        assert _screen_text(app).splitlines()[1].rstrip() == " Machine 0" + " " * 11 + "0"


def _screen_text(app: App[None]) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())
