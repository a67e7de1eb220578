"""The shift's top stop reasons: name, number of stops, minutes."""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content
from textual.widget import Widget

from oee_tui.model import ReasonTotal
from oee_tui.widgets.formatting import minutes

_FIGURES = 11  # " nnn  mmm.m"


class TopReasons(Widget):
    """Rendered at its own width, so long reason names are cut, never wrapped into the next row."""

    DEFAULT_CSS = """
    TopReasons {
        height: auto;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._totals: tuple[ReasonTotal, ...] | None = None

    def show(self, totals: Sequence[ReasonTotal]) -> None:
        self._totals = tuple(totals)
        self.refresh(layout=True)

    def render(self) -> Content:
        if self._totals is None:
            return Content("Loading…")
        if not self._totals:
            return Content("No stops this shift.")
        name_width = max(6, self.content_size.width - _FIGURES)
        lines = [Content.styled(f"{'Reason':<{name_width}} {'n':>3} {'min':>6}", "$text-muted")]
        for total in self._totals:
            name = total.name if len(total.name) <= name_width else total.name[: name_width - 1] + "…"
            row = f"{name:<{name_width}} {total.stops:>3} {minutes(total.seconds):>6}"
            # Stops nobody explained yet stand out: they are the operator's to-do list.
            lines.append(Content.styled(row, "bold $warning") if total.reason is None else Content(row))
        return Content("\n").join(lines)
