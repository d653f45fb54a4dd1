"""The user's side of a native session: reading input and writing output without stalling.

Output goes through `FdWriter`, a daemon thread per descriptor: the event loop (which
acknowledges the far end's messages) never blocks on a slow pipe or terminal, writes keep
their order, and a stuck reader cannot keep ssmctl from exiting. Input comes from
`read_chunks`, which polls terminals, pipes and sockets and reads regular files (and
/dev/null) directly, since they cannot be polled and never block.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import queue
import select
import threading
from collections.abc import AsyncIterator
from typing import Protocol

WRITE_LIMIT = 1 << 20
"""Bytes queued for a descriptor before writers wait for the thread to catch up."""

_GONE = (errno.EPIPE, errno.EIO, errno.EBADF, errno.ECONNRESET)


class Sink(Protocol):
    """Where a session's output goes (a descriptor, or a line prefixer in front of one)."""

    async def write(self, data: bytes) -> None:
        """Queue `data`; may wait while much is already queued."""

    async def drain(self) -> None:
        """Wait until everything queued so far is written (or the reader is gone)."""


class FdWriter:
    """Writes to a file descriptor from a daemon thread, in order, unbuffered.

    `broken` turns True when the reader went away (EPIPE, a hung-up terminal); what is
    still queued is dropped and later writes raise BrokenPipeError, so a session whose
    output nobody reads any more (`ssmctl exec ... | head -1`) ends instead of running on.
    Create it inside the running event loop; `close()` stops the thread.
    """

    def __init__(self, fd: int, *, limit: int = WRITE_LIMIT) -> None:
        self.fd = fd
        self.limit = limit
        self.broken = False
        self._loop = asyncio.get_running_loop()
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._queued = 0
        self._space = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name=f"ssmctl-fd{fd}", daemon=True)
        self._thread.start()

    async def write(self, data: bytes) -> None:
        if self.broken:
            raise BrokenPipeError(errno.EPIPE, f"nobody reads descriptor {self.fd} any more")
        if not data:
            return
        with self._lock:
            self._queued += len(data)
            self._idle.clear()
        self._queue.put(data)
        while self._queued > self.limit and not self.broken:
            self._space.clear()
            await self._space.wait()

    async def drain(self) -> None:
        await self._idle.wait()

    def close(self) -> None:
        """Stop the thread once what is queued is written."""
        self._queue.put(None)

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            if not self.broken:
                self._write_all(data)
            with self._lock:
                self._queued -= len(data)
            self._notify()

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.fd, view)
            except BlockingIOError:
                # Someone else made the descriptor non-blocking: wait until it takes more.
                select.select([], [self.fd], [], 1.0)
                continue
            except OSError as exc:
                if exc.errno not in _GONE:
                    raise
                self.broken = True
                return
            view = view[written:]

    def _notify(self) -> None:
        def wake() -> None:
            # The count as it is now, in the loop: a write may have come in since the
            # thread finished its last one, and then the writer is not idle.
            with self._lock:
                queued = self._queued
            if queued <= self.limit // 2 or self.broken:
                self._space.set()
            if queued == 0:
                self._idle.set()

        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            self._loop.call_soon_threadsafe(wake)


async def read_chunks(fd: int, size: int = 1024) -> AsyncIterator[bytes]:
    """Chunks of at most `size` bytes read from `fd` as they arrive, until end of input.

    Terminals, pipes and sockets are polled by the event loop; a regular file or a
    device the loop cannot poll (/dev/null) is read directly, as such reads never block.
    A terminal that hung up (EIO) counts as end of input.
    """
    loop = asyncio.get_running_loop()
    ready = asyncio.Event()
    try:
        loop.add_reader(fd, ready.set)
        polled = True
    except (PermissionError, ValueError, OSError):
        polled = False
    try:
        while True:
            if polled:
                await ready.wait()
                ready.clear()
                if not _readable(fd):
                    # A stale wake-up: the loop saw the descriptor readable once more
                    # before this reader consumed the data. Reading now would block.
                    continue
            try:
                data = os.read(fd, size)
            except BlockingIOError:
                continue
            except OSError as exc:
                if exc.errno not in _GONE:
                    raise
                data = b""
            if not data:
                return
            yield data
            if not polled:
                await asyncio.sleep(0)  # let the rest of the session run
    finally:
        if polled:
            loop.remove_reader(fd)


def _readable(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))
