"""One TCP connection from the emulated instance to a destination port.

Writes are queued and written in order by a task of its own, so a slow destination never
holds up the session's reader; `finish_writing()` half-closes the connection once the
queued data is out (the client's side of the stream has ended), and the destination may
still answer. What the destination sends goes to `on_data(relay, data)`; its EOF to
`on_eof(relay)`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from ssmctl.sandbox.agent.processes import READ_SIZE
from ssmctl.sandbox.agent.worker import cancel_all

CONNECT_TIMEOUT = 10.0
FINISH_TIMEOUT = 10.0
"""Seconds finish() waits for queued data to reach a destination that reads slowly."""
_EOF = b""


class Relay:
    """A connection to `host:port`; see the module docstring."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        on_data: Callable[[Relay, bytes], Awaitable[None]],
        on_eof: Callable[[Relay], Awaitable[None]],
        read_size: int = READ_SIZE,
    ) -> None:
        self.host = host
        self.port = port
        self._on_data = on_data
        self._on_eof = on_eof
        self._read_size = read_size
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._writer: asyncio.StreamWriter | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._writing: asyncio.Task[None] | None = None
        self.closed = False

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def connect(self) -> None:
        """Open the connection and start relaying; raises OSError when it cannot."""
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), CONNECT_TIMEOUT
            )
        except asyncio.TimeoutError:
            raise OSError(f"timed out connecting to {self.address}") from None
        if self.closed:
            writer.close()
            return
        self._writer = writer
        self._writing = asyncio.create_task(self._write(writer))
        self._tasks = [asyncio.create_task(self._read(reader)), self._writing]

    def write(self, data: bytes) -> None:
        """Queue data for the destination (written once connected)."""
        if data and not self.closed:
            self._queue.put_nowait(data)

    def finish_writing(self) -> None:
        """Half-close once the queued data is written."""
        if not self.closed:
            self._queue.put_nowait(_EOF)

    async def finish(self, timeout: float = FINISH_TIMEOUT) -> None:
        """Close once what is queued for the destination is written (both sides of the
        stream are done: nothing is left to read, but queued data must still arrive)."""
        writing = self._writing
        if writing is not None and writing is not asyncio.current_task():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(writing), timeout)
        await self.close()

    async def close(self) -> None:
        """Drop the connection now (queued data is discarded)."""
        if self.closed:
            return
        self.closed = True
        current = asyncio.current_task()
        await cancel_all((task for task in self._tasks if task is not current), (Exception,))
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await self._writer.wait_closed()

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while data := await reader.read(self._read_size):
                await self._on_data(self, data)
        except (ConnectionError, OSError):
            pass
        if not self.closed:
            await self._on_eof(self)

    async def _write(self, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                data = await self._queue.get()
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            return
