"""Text for figures, shared by every screen so the same number always reads the same way."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Final

MISSING: Final = "—"  # a ratio whose denominator is zero: no planned time, no parts yet
OVER_100_MARK: Final = "!"
STALE_MARK: Final = "?"  # before a data age at 80 columns: no fresh data, the row shows OFFLINE


def percent(ratio: float | None, *, mark_over_100: bool = False, decimals: int = 1) -> str:
    """`0.853` -> `85.3` (`85` with no decimals). Never capped: a performance over 100% means a wrong ideal
    cycle time, and hiding it would hide that mistake; `mark_over_100` adds a `!` so it is seen."""
    if ratio is None:
        return MISSING
    text = f"{ratio * 100:.{decimals}f}"
    if mark_over_100 and ratio > 1.0:
        text += OVER_100_MARK
    return text


def percent_aligned(ratio: float | None, *, decimals: int = 1) -> str:
    """Like percent(mark_over_100=True), with a space where the mark would be, so that right-aligned
    columns keep their decimal points in line whether or not a row is over 100%."""
    text = percent(ratio, mark_over_100=True, decimals=decimals)
    return text if text.endswith(OVER_100_MARK) else text + " "


def percent_with_sign(ratio: float | None, *, mark_over_100: bool = False) -> str:
    text = percent(ratio, mark_over_100=mark_over_100)
    if ratio is None:
        return text
    if text.endswith(OVER_100_MARK):
        return f"{text[:-1]}%{OVER_100_MARK}"
    return f"{text}%"


def hms(seconds: float) -> str:
    """H:MM:SS; hours grow past 24 rather than wrap, a long stop must look long."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def age(seconds: float) -> str:
    """A compact age for the data-age column: 2s, 45s, 3m, 2h."""
    total = max(0, int(seconds))
    if total < 100:
        return f"{total}s"
    if total < 6000:
        return f"{total // 60}m"
    return f"{total // 3600}h"


def count(value: int) -> str:
    return f"{value:,}"


def count_short(value: int) -> str:
    """At most 5 characters: 9,999; 12.3k; 123k; 1.2M: a shift's count in a column of an 80-column table."""
    size = abs(value)
    if size < 10_000:
        return f"{value:,}"
    if size < 100_000:
        return f"{value / 1000:.1f}k"
    if size < 1_000_000:
        return f"{value // 1000}k"
    return f"{value / 1_000_000:.1f}M"


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f}"


def local_time(ts: float, tz: tzinfo, *, seconds: bool = True) -> str:
    """Plant-local wall clock time; operators think in the plant's time, not UTC."""
    return datetime.fromtimestamp(ts, tz).strftime("%H:%M:%S" if seconds else "%H:%M")
