"""The preview table: the file's rows as read, each cell a problem names marked with a colour and a ✕.

The cross is there so a bad cell reads on a monochrome terminal too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from rich.text import Text

from oee_tui.imports.preview import marked_rows
from oee_tui.imports.reading import RawTable
from oee_tui.imports.validate import Problem
from oee_tui.widgets.keyed_table import Row

PREVIEW_ROWS: Final = 500  # rows shown from the top of the file; rows with problems below them are added
MAX_PROBLEMS_SHOWN: Final = 1000  # the list beyond this helps nobody; `oee import` prints them all
MARK: Final = "✕"
NOTE_MARK: Final = "ℹ"  # a note on a row: said, but it refuses nothing


@dataclass(frozen=True, slots=True)
class PreviewTable:
    columns: tuple[tuple[str, str | Text], ...]
    rows: list[Row]
    keys_by_row: dict[int, str]  # sheet row number -> table row key
    column_of: dict[str, int]  # header as written -> table column position
    shown_rows: int
    extra_rows: int  # rows with problems below the first PREVIEW_ROWS, added to the table


def preview_table(table: RawTable, problems: Sequence[Problem], bad_style: str) -> PreviewTable:
    """The table's columns and rows; built in the check's worker, since picking the rows walks the whole file."""
    marked = marked_rows(table, problems, top=PREVIEW_ROWS, max_problems=MAX_PROBLEMS_SHOWN)
    columns: list[tuple[str, str | Text]] = [("row", Text("Row", justify="right"))]
    columns += [(f"c{position}", header or f"(column {position + 1})") for position, header in enumerate(marked.header)]
    rows: list[Row] = []
    keys: dict[int, str] = {}
    for row in marked.rows:
        row_cell = Text(f"{MARK} {row.number}" if row.marked else str(row.number), justify="right",
                        style=bad_style if row.bad_row else ("bold" if row.marked else "dim"))
        texts = [row_cell]
        for position, text in enumerate(row.cells):
            if position in row.bad_columns:
                texts.append(Text(f"{MARK} {text}", style=bad_style))
            else:
                texts.append(Text(text))
        key = str(row.number)
        keys[row.number] = key
        rows.append((key, texts))
    return PreviewTable(tuple(columns), rows, keys, marked.column_of, marked.shown_rows, marked.extra_rows)
