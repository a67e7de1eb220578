"""The review's tables: their columns, and their rows built from what was loaded.

Plain functions from the loaded report and stops to `(key, cells)` rows: no screen or app
is needed to build or test them. Colours come in a `Palette`, resolved from the theme.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

from rich.text import Text

from oee_tui.config import Config
from oee_tui.engine.analysis.review import Level, Period, PeriodKind, Scope, StopRow, six_big_losses
from oee_tui.model import MachineState, OeeResult
from oee_tui.screens.machine_detail import NEEDS_REASON, SHORT_NEEDS_NONE
from oee_tui.screens.shift_review.period_loading import Loaded
from oee_tui.service.review_ops import Compared
from oee_tui.widgets.formatting import MISSING, count, hms, minutes, percent, percent_aligned
from oee_tui.widgets.states import look, state_colour

if TYPE_CHECKING:
    from oee_tui.widgets.keyed_table import Row

BAR_WIDTH: Final = 20

Columns = tuple[tuple[str, str | Text], ...]


def right(text: str, style: str = "") -> Text:
    return Text(text, style=style, justify="right")


def bar(share: float | None, width: int = BAR_WIDTH) -> str:
    """A horizontal bar in eighths of a cell, so small differences still show."""
    if share is None or share <= 0:
        return ""
    eighths = round(min(share, 1.0) * width * 8)
    full, part = divmod(eighths, 8)
    return "█" * full + ("" if part == 0 else " ▏▎▍▌▋▊▉"[part])


OEE_COLUMNS: Final = (("oee", right("OEE%")), ("availability", right("A%")), ("performance", right("P% ")),
                      ("quality", right("Q%")), ("good", right("Good")), ("reject", right("Rej")),
                      ("down", right("Down min")), ("flags", "Flags"))
STOP_COLUMNS: Final = (("start", "Start"), ("duration", right("Duration")), ("state", "State"),
                       ("reason", "Reason"), ("by", "By"), ("at", "Given at"))

# One table per view, by the table's id; the OEE view (1) shows lines, machines or stops by level.
TABLE_COLUMNS: Final[dict[str, Columns]] = {
    "lines": (("line", "Line"), *OEE_COLUMNS),
    "machines": (("machine", "Machine"), *OEE_COLUMNS),
    "stops": STOP_COLUMNS,
    "losses": (("loss", "Loss"), ("affects", "On"), ("time", right("Time")), ("minutes", right("Min")),
               ("count", right("Count")), ("unit", "Of"), ("share", right("% of PPT"))),
    "pareto": (("reason", "Reason"), ("stops", right("Stops")), ("minutes", right("Min")), ("share", right("Share")),
               ("cumulative", right("Cum")), ("bar", "")),
    "target": (("scope", "Scope"), ("oee", right("OEE%")), ("oee_target", right("Tgt%")), ("oee_gap", right("Gap")),
               ("good", right("Good")), ("good_target", right("Target")), ("good_share", right("% tgt")), ("bar", "")),
    "compare": (("period", "Period"), ("oee", right("OEE%")), ("availability", right("A%")),
                ("performance", right("P% ")), ("quality", right("Q%")), ("good", right("Good")),
                ("good_target", right("Target")), ("down", right("Down min")), ("bar", "")),
    "unassigned": (("machine", "Machine"), ("start", "Start"), ("duration", right("Duration")), ("state", "State")),
}


@dataclass(frozen=True, slots=True)
class Palette:
    """Theme colours resolved to concrete ones: Rich Text cells cannot use $variables."""

    colours: Mapping[str, str]  # error, warning, success, primary
    variables: Mapping[str, str]  # the theme's variables, which hold the machine states' colours

    def colour(self, name: str, *, bold: bool = False) -> str:
        colour = self.colours.get(name, "")
        return f"bold {colour}".strip() if bold else colour

    def state(self, state: MachineState) -> str:
        return f"bold {state_colour(self.variables, state)}"


def stop_key(stop: StopRow) -> str:
    return f"{stop.machine}\0{stop.start!r}"


def when(ts: float, config: Config, period: Period | None) -> str:
    """A moment in the plant's time: the time of day within a shift, with the day in longer periods."""
    moment = datetime.fromtimestamp(ts, config.tz)
    if period is not None and period.kind is PeriodKind.SHIFT:
        return f"{moment:%H:%M:%S}"
    return f"{moment:%a %d %H:%M:%S}"


def machines_in_view(config: Config, scope: Scope) -> list[str]:
    """The machines of the line in view (a machine's scope shows its line's machines); none at the plant."""
    if scope.level is Level.PLANT:
        return []
    line = scope.id if scope.level is Level.LINE else config.machine(scope.id).line
    return [m.id for m in config.machines if m.line == line]


def oee_cells(result: OeeResult, goal: float, palette: Palette) -> list[Text]:
    over_100 = result.performance is not None and result.performance > 1.0
    below = result.oee is not None and result.oee < goal
    return [
        right(percent(result.oee), "bold" if not below else palette.colour("error", bold=True)),
        right(percent(result.availability)),
        right(percent_aligned(result.performance), "bold" if over_100 else ""),
        right(percent(result.quality)),
        right(count(result.good_count)),
        right(count(result.reject_count)),
        right(minutes(result.unplanned_downtime_s)),
        Text(", ".join(result.flags)),
    ]


def line_rows(loaded: Loaded, palette: Palette) -> list[Row]:
    config = loaded.config
    goal = config.targets.oee
    names = {line.id: line.name for line in config.lines}
    rows: list[Row] = [(r.scope, [Text(f"{r.scope} {names.get(r.scope, '')}".strip()), *oee_cells(r, goal, palette)])
                       for r in loaded.report.lines]
    if loaded.report.plant is not None:
        rows.append(("\0plant", [Text("Plant", style="bold"), *oee_cells(loaded.report.plant, goal, palette)]))
    return rows


def machine_rows(loaded: Loaded, palette: Palette) -> list[Row]:
    config, scope = loaded.config, loaded.scope
    if scope.level is Level.PLANT:
        return []
    goal = config.targets.oee
    line = scope.id if scope.level is Level.LINE else config.machine(scope.id).line
    names = {m.id: m.name for m in config.machines}
    wanted = set(machines_in_view(config, scope))
    rows: list[Row] = [(r.scope, [Text(names.get(r.scope, r.scope)), *oee_cells(r, goal, palette)])
                       for r in loaded.report.machines if r.scope in wanted]
    total = next((r for r in loaded.report.lines if r.scope == line), None)
    if total is not None:
        rows.append(("\0line", [Text(f"Line {line}", style="bold"), *oee_cells(total, goal, palette)]))
    return rows


def _duration(stop: StopRow, now: float) -> Text:
    return right(hms(stop.duration(now)) + (" (open)" if stop.end is None else ""))


def _state(stop: StopRow, palette: Palette) -> Text:
    return Text(look(stop.state).text, style=palette.state(stop.state))


def stop_rows(loaded: Loaded, palette: Palette) -> list[Row]:
    """The machine's stops in the period, with the reason given to each, by whom and when."""
    if loaded.stops is None:
        return []
    config, period = loaded.config, loaded.period
    rows: list[Row] = []
    for stop in loaded.stops.rows:
        if stop.needs_reason(loaded.now, config.site.reason_min_stop_s):
            reason = Text(NEEDS_REASON, style="bold")
        elif stop.reason is None:
            reason = Text(SHORT_NEEDS_NONE, style="dim")
        else:
            known = config.reason(stop.reason)
            reason = Text(known.name if known is not None else stop.reason)
        rows.append((stop_key(stop), [
            Text(when(stop.start, config, period)), _duration(stop, loaded.now), _state(stop, palette), reason,
            Text(stop.reason_by or ""), Text(when(stop.reason_at, config, period) if stop.reason_at else ""),
        ]))
    return rows


def unassigned_rows(loaded: Loaded, palette: Palette) -> list[Row]:
    config = loaded.config
    names = {m.id: m.name for m in config.machines}
    return [(stop_key(s), [Text(names.get(s.machine, s.machine)), Text(when(s.start, config, loaded.period)),
                           _duration(s, loaded.now), _state(s, palette)]) for s in loaded.unassigned.rows]


def loss_rows(loaded: Loaded) -> list[Row]:
    result = loaded.scope.result(loaded.report)
    if result is None:
        return []
    return [(row.loss, [Text(row.name), Text(row.affects),
                        right(hms(row.seconds) if row.seconds >= 0 else "-" + hms(-row.seconds)),
                        right(minutes(row.seconds)), right(MISSING if row.count is None else count(row.count)),
                        Text(row.unit), right(percent(row.share_of_ppt))])
            for row in six_big_losses(result)]


def pareto_rows(loaded: Loaded, palette: Palette) -> list[Row]:
    bars = loaded.pareto
    top = max((b.share for b in bars), default=0.0)
    unnamed = palette.colour("warning", bold=True)  # stops nobody has given a reason yet
    return [(b.reason or "\0none", [Text(b.name, style=unnamed if b.reason is None else ""),
                                    right(count(b.stops)), right(minutes(b.seconds)), right(percent(b.share)),
                                    right(percent(b.cumulative)),
                                    Text(bar(b.share / top if top else None), style=palette.colour("primary"))])
            for b in bars]


def target_rows(loaded: Loaded, palette: Palette) -> list[Row]:
    rows: list[Row] = []
    for row in loaded.targets:
        gap = None if row.oee is None else row.oee - row.oee_target
        total = row.name.startswith("Total")
        rows.append((row.scope + ("\0total" if total else ""), [
            Text(row.name, style="bold" if total else ""),
            right(percent(row.oee), "bold"), right(percent(row.oee_target)),
            right(MISSING if gap is None else f"{gap * 100:+.1f}",
                  palette.colour("error") if gap is not None and gap < 0 else palette.colour("success")),
            right(count(row.good)), right(count(row.good_target)), right(percent(row.good_share)),
            Text(bar(row.good_share, 12), style=palette.colour("success" if (row.good_share or 0) >= 1 else "warning")),
        ]))
    return rows


def compare_rows(compared: Compared, goal: float, palette: Palette) -> list[Row]:
    """One row per period compared, the one in view in bold; `goal` is the plant's OEE target."""
    rows: list[Row] = []
    for row in compared.rows:
        result = row.result
        if result is None:
            continue
        label = f"{row.period.label} {row.period.first_day:%a}"
        rows.append((row.period.label, [
            Text(label, style="bold" if row.period.label == compared.current else ""),
            right(percent(result.oee), "bold"), right(percent(result.availability)),
            right(percent_aligned(result.performance)), right(percent(result.quality)),
            right(count(result.good_count)), right(count(row.good_target)),
            right(minutes(result.unplanned_downtime_s)),
            Text(bar(result.oee, 16), style=palette.colour("success" if (result.oee or 0) >= goal else "warning")),
        ]))
    return rows
