"""Dead letters as a person reads them: a one-line preview, a hex + text dump, and `--since` times.

Shared by `oee deadletters` and the dead-letter screen; no Textual, no store.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

PREVIEW_CHARS: Final = 40
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def is_text(payload: bytes) -> bool:
    """UTF-8 without control characters other than tab and line breaks: shown as text, else as hex."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(char.isprintable() or char in "\t\r\n" for char in text)


def preview(payload: bytes, width: int = PREVIEW_CHARS) -> str:
    """One printable line: the text (line breaks as ⏎), or `hex: 00 ff ...` for binary payloads."""
    if not payload:
        return "(empty)"
    if not is_text(payload):
        fits = max(1, (width - len("hex: ")) // 3)  # whole bytes only, and room for the …
        return "hex: " + payload[:fits].hex(" ") + ("…" if len(payload) > fits else "")
    text = payload.decode("utf-8").replace("\r\n", "⏎").replace("\n", "⏎").replace("\r", "⏎").replace("\t", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def hex_dump(payload: bytes, *, width: int = 16, limit: int = 4096) -> str:
    """`offset  hex bytes  |text|` lines, the text column with `.` for what is not printable ASCII."""
    lines = []
    shown = payload[:limit]
    for offset in range(0, len(shown), width):
        chunk = shown[offset:offset + width]
        hex_part = chunk.hex(" ").ljust(width * 3 - 1)
        text_part = "".join(chr(byte) if 0x20 <= byte < 0x7F else "." for byte in chunk)
        lines.append(f"{offset:08x}  {hex_part}  |{text_part}|")
    if len(payload) > limit:
        lines.append(f"… {len(payload) - limit} more bytes (oee deadletters --raw N writes them all)")
    return "\n".join(lines) if lines else "(empty payload)"


def local_time(ts: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M:%S")


def parse_since(text: str, tz: ZoneInfo, now: float, option: str = "--since") -> float:
    """`30m`, `2h`, `1d`, `90s` before now, or an ISO date/time (plant local unless it has an offset);
    `option` names the option in the error (`oee audit`'s --from and --to read times the same way)."""
    cleaned = text.strip()
    seconds = duration_s(cleaned)
    if seconds is not None:
        return now - seconds
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise ValueError(f"{option} {text!r}: give a duration such as 30m, 2h or 1d, or an ISO date/time such "
                         "as 2026-11-27 or 2026-11-27T06:00 (plant local unless it has an offset)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.timestamp()


def duration_s(text: str) -> float | None:
    """`30m`, `2h`, `1d`, `90s` in seconds; None when the text is no such duration."""
    match = _DURATION.match(text.strip())
    return None if match is None else float(match.group(1)) * _UNITS[match.group(2)]


def age(seconds: float) -> str:
    return str(timedelta(seconds=int(max(0.0, seconds))))
