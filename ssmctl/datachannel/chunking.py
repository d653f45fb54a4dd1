"""Cutting outgoing data into payload-sized chunks (protocol.md section 4).

Input and port data go out in chunks of at most 1024 bytes cut anywhere. Agent output
also goes out in chunks of at most 1024 bytes, but never splits a UTF-8 character, so
that each Output message decodes on its own.
"""

from __future__ import annotations

from collections.abc import Iterator

from ssmctl.datachannel.constants import CHUNK_SIZE

_MIN_UTF8_LIMIT = 4


def chunk_bytes(data: bytes, limit: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Consecutive slices of `data`, each at most `limit` bytes."""
    if limit < 1:
        raise ValueError("limit must be positive")
    for start in range(0, len(data), limit):
        yield data[start : start + limit]


def incomplete_tail(data: bytes) -> int:
    """How many trailing bytes of `data` are the start of an unfinished UTF-8 character.

    0 when `data` ends on a character boundary (or in bytes that are not UTF-8 at all,
    which are then cut anywhere).
    """
    for back in range(1, min(3, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 == 0x80:
            continue  # a continuation byte: look further back for its lead byte
        if 0xC2 <= byte <= 0xDF:
            needed = 2
        elif 0xE0 <= byte <= 0xEF:
            needed = 3
        elif 0xF0 <= byte <= 0xF4:
            needed = 4
        else:
            return 0
        return back if needed > back else 0
    return 0


class Utf8Chunker:
    """Cuts a byte stream (such as pty output read in arbitrary pieces) into chunks.

    `feed()` returns every complete chunk at once (so output is never delayed), holding
    back only an unfinished trailing UTF-8 character until the next feed; `flush()`
    returns what is held back (at the end of the stream).
    """

    def __init__(self, limit: int = CHUNK_SIZE) -> None:
        if limit < _MIN_UTF8_LIMIT:
            raise ValueError("limit must hold a 4-byte UTF-8 character")
        self.limit = limit
        self._pending = b""

    def feed(self, data: bytes) -> list[bytes]:
        """Chunks ready to send after `data` arrived."""
        buffer = self._pending + data
        chunks = []
        start = 0
        while len(buffer) - start > self.limit:
            end = start + self.limit
            # Cut before a character that would straddle the boundary.
            end -= incomplete_tail(buffer[start:end])
            chunks.append(buffer[start:end])
            start = end
        rest = buffer[start:]
        keep = incomplete_tail(rest)
        if len(rest) > keep:
            chunks.append(rest[: len(rest) - keep])
        self._pending = rest[len(rest) - keep :] if keep else b""
        return chunks

    def flush(self) -> list[bytes]:
        """Whatever is held back (an unfinished character at the end of the stream)."""
        pending, self._pending = self._pending, b""
        return [pending] if pending else []


def utf8_chunks(data: bytes, limit: int = CHUNK_SIZE) -> list[bytes]:
    """All of `data` in chunks of at most `limit` bytes that never split a character."""
    chunker = Utf8Chunker(limit)
    return chunker.feed(data) + chunker.flush()
