"""Messages between the engine and a driver that runs in a process of its own.

A frame is a 4-byte big-endian length and a pickle. Pickle is safe here only because both
ends are this program, started by the engine, talking over a private pipe: never read a frame
from anywhere else.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import struct
import threading
from typing import IO, Any, Final

HEADER: Final = struct.Struct(">I")


def encode(message: Any) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


async def read_frame(reader: asyncio.StreamReader) -> Any | None:
    """The next message, or None at the end of the stream (the other end exited or closed it)."""
    try:
        header = await reader.readexactly(HEADER.size)
        return pickle.loads(await reader.readexactly(HEADER.unpack(header)[0]))
    except asyncio.IncompleteReadError:
        return None


def read_frame_blocking(stream: IO[bytes]) -> Any | None:
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    size = HEADER.unpack(header)[0]
    data = stream.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)


class FrameWriter:
    """Writes frames to a file descriptor from any thread, whole, in order.

    A write blocks while the pipe is full: a reader that falls behind slows the writer down,
    and the writer's own buffer (the Sparkplug driver's inbox) decides what to drop.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()
        self.broken = False  # the reader is gone

    def send(self, message: Any) -> None:
        data = memoryview(encode(message))
        with self._lock:
            if self.broken:
                return
            try:
                while data:
                    data = data[os.write(self._fd, data):]
            except OSError:  # EPIPE: the engine exited; the worker learns it from its stdin too
                self.broken = True
