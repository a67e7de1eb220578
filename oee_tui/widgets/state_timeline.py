"""One row of cells across the shift, each showing the state that dominated its slice of time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo

from textual.content import Content
from textual.widget import Widget

from oee_tui.model import MachineState, StateInterval
from oee_tui.widgets.formatting import local_time
from oee_tui.widgets.states import STATE_LOOKS, legend_markup

NO_DATA = "·"  # before the first interval, or a slice still in the future


def dominant_states(intervals: Sequence[StateInterval], start: float, end: float, now: float,
                    cells: int) -> list[MachineState | None]:
    """For each of `cells` equal slices of [start, end), the state that covered most of it up to `now`.

    None marks a slice with no data yet (the future, or a gap). An open interval
    (end None) lasts until `now`.
    """
    if cells <= 0 or end <= start:
        return []
    step = (end - start) / cells
    out: list[MachineState | None] = []
    for index in range(cells):
        slice_start = start + index * step
        slice_end = min(slice_start + step, now)
        if slice_end <= slice_start:
            out.append(None)
            continue
        covered: dict[MachineState, float] = {}
        for interval in intervals:
            interval_end = interval.end if interval.end is not None else now
            overlap = min(interval_end, slice_end) - max(interval.start, slice_start)
            if overlap > 0:
                covered[interval.state] = covered.get(interval.state, 0.0) + overlap
        out.append(max(covered, key=lambda state: covered[state]) if covered else None)
    return out


class StateTimeline(Widget):
    """The shift's state timeline: cells coloured AND marked by the state's symbol, a time axis, a legend.

    Every cell carries the symbol as well as the colour, so the line can be read
    on a monochrome terminal or by an operator who cannot tell red from green.
    """

    DEFAULT_CSS = """
    StateTimeline {
        height: 3;
    }
    """

    def __init__(self, tz: tzinfo, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._tz = tz
        self._intervals: tuple[StateInterval, ...] = ()
        self._span: tuple[float, float, float] | None = None  # shift start, shift end, now

    def show(self, intervals: Sequence[StateInterval], shift_start: float, shift_end: float, now: float) -> None:
        self._intervals = tuple(intervals)
        self._span = (shift_start, shift_end, now)
        self.refresh()

    def render(self) -> Content:
        width = self.content_size.width
        if self._span is None or width <= 0:
            return Content("Loading the shift's timeline…")
        start, end, now = self._span
        states = dominant_states(self._intervals, start, end, now, width)
        cells = Content.assemble(*(
            (NO_DATA, "$text-muted") if state is None
            else (STATE_LOOKS[state].symbol, f"$background on ${STATE_LOOKS[state].variable}")
            for state in states
        ))
        return Content("\n").join([cells, Content(self._axis(width, start, end, now)),
                                   Content.from_markup(legend_markup())])

    def _axis(self, width: int, start: float, end: float, now: float) -> str:
        axis = [" "] * width
        left = local_time(start, self._tz, seconds=False)
        right = local_time(end, self._tz, seconds=False)

        def put(column: int, text: str) -> None:
            for offset, char in enumerate(text):
                if 0 <= column + offset < width:
                    axis[column + offset] = char

        put(0, left)
        put(width - len(right), right)
        if start < now < end:
            column = min(width - 1, int((now - start) / (end - start) * width))
            label = f"^now {local_time(now, self._tz, seconds=False)}"
            # Put the label after the caret when it fits, else end it at the caret;
            # never over the shift's start or end label.
            first = column if column + len(label) <= width - len(right) - 1 else column - len(label) + 1
            if first > len(left) and first + len(label) < width - len(right):
                put(first, label if first == column else label[1:] + "^")
            elif len(left) < column < width - len(right):
                put(column, "^")
        return "".join(axis)
