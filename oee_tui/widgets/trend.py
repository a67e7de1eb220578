"""OEE per hour of the shift: one line per trend point with a bar and the figures in text."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo

from textual.content import Content
from textual.widget import Widget

from oee_tui.model import TrendPoint
from oee_tui.widgets.formatting import local_time, percent, percent_aligned, percent_with_sign

FULL = "█"
EMPTY = "░"
_MIN_BAR = 5
_TIME_WIDTH = 6  # "06:00 "
_OEE_WIDTH = 7  # " 100.0%"
_FIGURES_WIDTH = 26  # "  A 100.0 P 103.4! Q 100.0"
_MIN_BAR_WITH_FIGURES = 6


def bar(ratio: float | None, width: int) -> tuple[str, str]:
    """(filled, empty) parts of a bar; the bar stops at 100% but the number beside it does not."""
    if ratio is None or width <= 0:
        return "", EMPTY * max(0, width)
    filled = round(min(max(ratio, 0.0), 1.0) * width)
    return FULL * filled, EMPTY * (width - filled)


class OeeTrend(Widget):
    """Per trend point: local start time, a bar, OEE in text and, when there is room, A, P and Q.

    The bar is green at or above the OEE target and amber below it, but the
    number is always printed: the colour only repeats what the text says.
    """

    DEFAULT_CSS = """
    OeeTrend {
        height: auto;
    }
    """

    def __init__(self, tz: tzinfo, target: float, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._tz = tz
        self._target = target
        self._points: tuple[TrendPoint, ...] = ()
        self._loaded = False

    def show(self, points: Sequence[TrendPoint]) -> None:
        self._points = tuple(points)
        self._loaded = True
        self.refresh(layout=True)

    def render(self) -> Content:
        if not self._loaded:
            return Content("Loading…")
        if not self._points:
            return Content("No time of this shift has passed yet.")
        width = self.content_size.width
        # A, P and Q only when the bar keeps a readable length; OEE is always there.
        show_figures = width >= _TIME_WIDTH + _MIN_BAR_WITH_FIGURES + _OEE_WIDTH + _FIGURES_WIDTH
        bar_width = max(_MIN_BAR, width - _TIME_WIDTH - _OEE_WIDTH - (_FIGURES_WIDTH if show_figures else 0))
        lines: list[Content] = []
        for point in self._points:
            filled, empty = bar(point.oee, bar_width)
            colour = "$success" if point.oee is not None and point.oee >= self._target else "$warning"
            parts: list[tuple[str, str] | str] = [
                f"{local_time(point.start, self._tz, seconds=False)} ",
                (filled, colour),
                (empty, "$text-muted"),
                f" {percent_with_sign(point.oee):>6}",
            ]
            if show_figures:
                parts.append(
                    f"  A {percent(point.availability):>5} P {percent_aligned(point.performance):>6}"
                    f"Q {percent(point.quality):>5}"
                )
            lines.append(Content.assemble(*parts))
        return Content("\n").join(lines)
