"""The text around the review's tables: the title line, the scope's figures, the tabs, the note under the
table, and the losses, Pareto and targets beside it on a wide terminal."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from textual.content import Content

from oee_tui.config import Config
from oee_tui.engine.analysis.review import Level, Period, PeriodKind, Scope, six_big_losses
from oee_tui.screens.shift_review.period_loading import Loaded
from oee_tui.screens.shift_review.rows import bar
from oee_tui.service.review_ops import Compared
from oee_tui.widgets.formatting import count, minutes, percent

TABS: Final = (("1", "overview", "OEE"), ("2", "losses", "Losses"), ("3", "pareto", "Pareto"),
               ("4", "target", "Target"), ("5", "compare", "Compare"), ("6", "unassigned", "To assign"))
HINTS: Final = {
    "lines": "Enter: the line's machines   s/d/w: shift/day/week   g: type a period",
    "machines": "Enter: the machine's stops   Esc: back to the lines",
    "stops": "Enter or r: give the stop a reason   Esc: back to the machines",
    "compare": "Enter: review that shift   m: compare by day / by shift",
    "unassigned": "Enter or r: give a reason",
}


def title(config: Config, period: Period | None, scope: Scope, *, loading: bool) -> Content:
    """`Review │ Early@2026-11-26 Thu 06:00–14:00 │ Plant › L1 Bottling`, and whether a load is running."""
    parts: list[tuple[str, str] | str] = [("Review", "bold")]
    if period is not None:
        tz = config.tz
        start = datetime.fromtimestamp(period.start, tz)
        end = datetime.fromtimestamp(period.end, tz)
        last = datetime.fromtimestamp(period.end - 1, tz)
        if period.kind is PeriodKind.SHIFT:
            span = f"{start:%a} {start:%H:%M}–{end:%H:%M}"
        elif period.kind is PeriodKind.DAY:
            span = f"{start:%A}"
        else:
            span = f"{start:%a %d %b}–{last:%a %d %b}"
        parts += [" │ ", (period.label, "bold"), f" {span}"]
    parts += [" │ ", breadcrumb(config, scope)]
    if loading:
        parts += [" │ ", ("loading…", "bold $warning")]
    return Content.assemble(*parts)


def breadcrumb(config: Config, scope: Scope) -> str:
    crumbs = ["Plant"]
    if scope.level is not Level.PLANT:
        machine = next((m for m in config.machines if m.id == scope.id), None)
        line_id = scope.id if scope.level is Level.LINE else (machine.line if machine else "")
        crumbs.append(Scope(Level.LINE, line_id).name(config))
        if scope.level is Level.MACHINE:
            crumbs.append(scope.name(config))
    return " › ".join(crumbs)


def figures(loaded: Loaded, scope: Scope, oee_goal: float) -> Content | str:
    """The scope's OEE against its target, A, P, Q, good parts against target and downtime, on one line."""
    result = scope.result(loaded.report)
    if result is None:
        return "No machines here."
    # The last target row is the scope's own: its total, or the machine itself.
    good_target = loaded.targets[-1].good_target if loaded.targets else 0
    below = result.oee is not None and result.oee < oee_goal
    return Content.assemble(
        "OEE ", (percent(result.oee) + "%", "bold $error" if below else "bold $success"),
        f" tgt {oee_goal * 100:.0f}%",
        "  A ", (percent(result.availability), "bold"), "  P ", (percent(result.performance, mark_over_100=True),
                                                                 "bold"),
        "  Q ", (percent(result.quality), "bold"),
        "  Good ", (count(result.good_count), "bold"), f"/{count(good_target)}",
        "  Down ", (f"{result.unplanned_downtime_s / 60:.0f} min", "bold"),
    )


def tabs(view_id: str, to_assign: int | None) -> Content:
    """The views by their keys, the one in view reversed; `to_assign`: the count of stops without a reason."""
    parts: list[tuple[str, str] | str] = []
    for key, tab_view, tab_title in TABS:
        label = f"{tab_title} ({count(to_assign)})" if tab_view == "unassigned" and to_assign is not None \
            else tab_title
        style = "bold reverse" if tab_view == view_id else ""
        parts += [(f" {key} ", "bold $accent"), (label, style), " "]
    return Content.assemble(*parts)


def note(table_id: str, loaded: Loaded | None, compared: Compared | None) -> str:
    """What the keys do in the table in view, and what the table leaves out."""
    text = HINTS.get(table_id, "")
    if loaded is not None:
        if table_id == "unassigned" and loaded.unassigned.total > len(loaded.unassigned.rows):
            text = f"The longest {count(len(loaded.unassigned.rows))} of {count(loaded.unassigned.total)}. " + text
        if table_id == "stops" and loaded.stops is not None and loaded.stops.total > len(loaded.stops.rows):
            text = f"The newest {count(len(loaded.stops.rows))} of {count(loaded.stops.total)}. " + text
        if table_id == "pareto":
            text = "Unplanned stop time in scheduled time, breaks left out; planned stops are not losses."
    if table_id == "compare" and compared is not None:
        text = f"{compared.title}.  {text}"
    return text


def side(loaded: Loaded, scope: Scope) -> Content:
    """Losses and the top of the Pareto, for a wide terminal: always in view beside the table."""
    result = scope.result(loaded.report)
    lines: list[Content] = [Content.styled("Six big losses", "bold")]
    if result is not None:
        for loss in six_big_losses(result):
            counted = "" if loss.count is None else f"{count(loss.count):>7} {loss.unit}"
            lines.append(Content(f"{loss.affects} {loss.name:<23} {minutes(loss.seconds):>8} min {counted}"))
    lines += [Content(""), Content.styled("Downtime Pareto (min, cumulative)", "bold")]
    top = max((b.share for b in loaded.pareto), default=0.0)
    for b in loaded.pareto[:10]:
        name = b.name if len(b.name) <= 18 else b.name[:17] + "…"
        lines.append(Content.assemble(f"{name:<18} ", (f"{bar(b.share / top if top else None, 16):<16}",
                                                        "$warning" if b.reason is None else "$primary"),
                                      f" {minutes(b.seconds):>7} {percent(b.cumulative):>5}%"))
    if not loaded.pareto:
        lines.append(Content("No unplanned stops."))
    lines += [Content(""), Content.styled("Target against actual (OEE, good parts)", "bold")]
    for target in loaded.targets[:12]:
        name = target.name if len(target.name) <= 18 else target.name[:17] + "…"
        behind = target.oee is not None and target.oee < target.oee_target
        lines.append(Content.assemble(
            f"{name:<18} ", (f"{percent(target.oee):>5}", "$error" if behind else "$success"),
            f"/{percent(target.oee_target)}  {count(target.good):>9}/{count(target.good_target):<9} ",
            (f"{percent(target.good_share):>5}%", "bold")))
    return Content("\n").join(lines)
