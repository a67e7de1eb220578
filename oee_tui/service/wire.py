"""Messages over the engine's socket: msgpack maps, framed by msgpack itself.

msgpack (not JSON lines, not a length prefix of our own): its streaming `Unpacker` takes bytes as
they arrive and yields whole messages, so the framing is the library's, tested far beyond what we
would write; it carries bytes (Arrow IPC tables, an import file) without base64, and packs the
domain records (`records.py`) in a fraction of JSON's time.

A request is `{"id": n, "op": "name", "args": {...}}`; its answer `{"id": n, "ok": true,
"result": ...}` or `{"id": n, "ok": false, "error": "words", "code": "denied" | ...}`; a message the
engine pushes unasked is `{"push": "snapshot", ...}`.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Final

import msgpack

from oee_tui.service import records

# An import file or a 30-day export crosses in one message; anything larger is refused, not buffered.
MAX_MESSAGE_BYTES: Final = 256 * 1024 * 1024
_READ_CHUNK: Final = 256 * 1024


class ProtocolError(Exception):
    """The other side sent something that is not a message of this protocol."""


class MessageStream:
    """One connection's messages, in both directions.

    `trusted_records`: rebuild the domain records the other side packs (the client trusts the engine
    it attached to; the engine takes only plain values from clients).
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, trusted_records: bool) -> None:
        self.reader = reader
        self.writer = writer
        self._unpacker = msgpack.Unpacker(
            raw=False, use_list=False, max_buffer_size=MAX_MESSAGE_BYTES,
            ext_hook=records.ext_hook if trusted_records else _refuse_ext,
        )
        self._write_lock = asyncio.Lock()

    async def receive(self) -> dict[str, Any] | None:
        """The next message, or None when the other side closed the connection."""
        while True:
            try:
                message = next(self._unpacker)
            except StopIteration:
                pass
            except (ValueError, msgpack.UnpackException, records.RecordError) as exc:
                raise ProtocolError(f"undecodable message: {exc}") from exc
            else:
                if not isinstance(message, dict):
                    raise ProtocolError(f"a message is a map, not {type(message).__name__}")
                return message
            chunk = await self.reader.read(_READ_CHUNK)
            if not chunk:
                return None
            try:
                self._unpacker.feed(chunk)
            except msgpack.BufferFull as exc:
                raise ProtocolError(f"a message larger than {MAX_MESSAGE_BYTES // 2**20} MB") from exc

    async def send(self, message: dict[str, Any]) -> None:
        await self.send_packed(pack(message))

    async def send_packed(self, data: bytes) -> None:
        """Send bytes made by `pack` (one snapshot packed once for every attached TUI)."""
        async with self._write_lock:
            self.writer.write(data)
            await self.writer.drain()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


def pack(message: dict[str, Any]) -> bytes:
    return records.pack(message)


def _refuse_ext(code: int, data: bytes) -> object:
    raise ProtocolError("records are not accepted from clients")
