"""smux v1 frames and their reassembly from a byte stream (protocol.md section 6).

A frame is an 8-byte header -- version (1), command (1), length (2, little-endian),
stream id (4, little-endian) -- followed by `length` bytes of data. In a mux port
session the frames ride inside Output payloads, whose boundaries need not match frame
boundaries: `FrameReader` puts them back together.
"""

from __future__ import annotations

import dataclasses
import enum
import struct
from collections.abc import Iterator

from ssmctl.datachannel.errors import SmuxError

VERSION = 1
MAX_FRAME_DATA = 32 * 1024
"""Most data bytes one frame carries when we send (what smux's MaxFrameSize defaults to)."""

_HEADER = struct.Struct("<BBHI")
HEADER_SIZE = _HEADER.size


class Command(enum.IntEnum):
    """The command byte of a frame."""

    SYN = 0
    """Open a stream."""
    FIN = 1
    """The sender closes its side of a stream."""
    PSH = 2
    """Data for a stream."""
    NOP = 3
    """Keepalive; carries nothing."""


@dataclasses.dataclass(frozen=True)
class Frame:
    """One smux v1 frame."""

    command: Command
    stream_id: int
    data: bytes = b""

    def encode(self) -> bytes:
        """Header and data."""
        if len(self.data) > 0xFFFF:
            raise SmuxError(f"frame data of {len(self.data)} bytes does not fit its length field")
        return _HEADER.pack(VERSION, self.command, len(self.data), self.stream_id) + self.data


def data_frames(stream_id: int, data: bytes, limit: int = MAX_FRAME_DATA) -> Iterator[Frame]:
    """PSH frames carrying `data` on `stream_id`, each at most `limit` bytes."""
    for start in range(0, len(data), limit):
        yield Frame(Command.PSH, stream_id, data[start : start + limit])


class FrameReader:
    """Reassembles frames from byte chunks cut at arbitrary points."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        """Bytes held that do not make a whole frame yet."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        """Every frame completed by `data`, in order.

        Raises SmuxError on a version other than 1 or an unknown command: the byte
        stream has lost its framing and the smux session cannot go on.
        """
        self._buffer += data
        frames = []
        offset = 0
        while len(self._buffer) - offset >= HEADER_SIZE:
            version, command, length, stream_id = _HEADER.unpack_from(self._buffer, offset)
            if version != VERSION:
                raise SmuxError(f"smux frame version {version}, expected {VERSION}")
            try:
                kind = Command(command)
            except ValueError:
                raise SmuxError(f"unknown smux command {command}") from None
            end = offset + HEADER_SIZE + length
            if end > len(self._buffer):
                break
            frames.append(Frame(kind, stream_id, bytes(self._buffer[offset + HEADER_SIZE : end])))
            offset = end
        del self._buffer[:offset]
        return frames
