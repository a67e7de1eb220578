"""The data-quality figures as words and numbers, the same in `oee quality` and on the Devices screen."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Final

from oee_tui.model.data_quality import SourceQuality, TagQuality

NOT_APPLICABLE: Final = "n/a"
NOTHING_YET: Final = "—"


def completeness_text(quality: SourceQuality | TagQuality) -> str:
    """"97.5%", or "n/a" where nothing says how often samples should come (a subscription without
    `expected_every_s`)."""
    ratio = quality.completeness
    if ratio is None:
        return NOT_APPLICABLE if quality.expected is None else NOTHING_YET
    return f"{ratio * 100:.1f}%"


def skew_text(skew_s: float | None, device_time: bool) -> str:
    """The device clock's lag behind the box (negative: ahead), "n/a" where samples carry no device time."""
    if not device_time:
        return NOT_APPLICABLE
    if skew_s is None:
        return NOTHING_YET
    if abs(skew_s) < 1.0:
        return f"{skew_s * 1000:+.0f} ms"
    return f"{skew_s:+.1f} s"


def expected_text(expected: float | None) -> str:
    return NOT_APPLICABLE if expected is None else f"{expected:,.0f}"


def short_cell(quality: SourceQuality | None) -> str:
    """The Devices screen's column: completeness, then "ok" or "⚠" with the count of range violations,
    duplicates and out-of-order samples this hour."""
    if quality is None:
        return NOTHING_YET
    problems = quality.problems
    return f"{completeness_text(quality)} {'ok' if problems == 0 else f'⚠{problems:,}'}"


def as_json(quality: SourceQuality | TagQuality) -> dict[str, Any]:
    """A record as JSON, its completeness spelled out (None: n/a)."""
    out = asdict(quality)
    out["completeness"] = quality.completeness
    if isinstance(quality, SourceQuality):
        out["tags"] = [as_json(tag) for tag in quality.tags]
    return out


def detail_text(quality: SourceQuality) -> str:
    """One line (about 75 columns) on the selected source this hour; the tag with the most range violations
    named, with its newest value out of range."""
    expected = "" if quality.expected is None else f"/{quality.expected:,.0f}"
    parts = [f"Quality this hour: {completeness_text(quality)} ({quality.received:,}{expected})"]
    worst = quality.worst_range
    if worst is not None:
        last = "" if worst.last_violation is None else f" last {worst.last_violation:g}"
        parts.append(f"range {quality.range_violations:,} ({worst.tag}{last})")
    else:
        parts.append("range 0")
    parts.append(f"dupl {quality.duplicates:,}")
    parts.append(f"order {quality.out_of_order:,}")
    parts.append(f"skew {skew_text(quality.skew_s, quality.device_time)}")
    return " · ".join(parts)
