"""Local processes behind sessions: a command on a pseudo-terminal, or on pipes.

Every process starts in a session (and process group) of its own, so ending the session
can signal everything it started. A pty child makes the pty its controlling terminal,
as the SSM agent's shell does, so Ctrl-C (0x03 written to the master) interrupts the
foreground job and a Size change reaches it as SIGWINCH. The processes run as the user
running the sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import pty
import signal
import struct
import sys
import termios
from collections.abc import Mapping, Sequence
from pathlib import Path

READ_SIZE = 65536
KILL_GRACE = 1.0
"""Seconds between SIGHUP and SIGKILL when a session's processes are ended."""

# Makes the pty on fd 0 the controlling terminal of the new session, then execs the
# command (subprocess cannot do this itself; a shell would need job control to work).
_TAKE_TERMINAL = (
    "import fcntl,os,sys,termios;"
    "fcntl.ioctl(0,termios.TIOCSCTTY,0);"
    "os.execvp(sys.argv[1],sys.argv[1:])"
)


async def _ready(fd: int, writing: bool) -> None:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not future.done():
            future.set_result(None)

    (loop.add_writer if writing else loop.add_reader)(fd, wake)
    try:
        await future
    finally:
        (loop.remove_writer if writing else loop.remove_reader)(fd)


async def read_fd(fd: int) -> bytes:
    """Read what is there from a non-blocking fd; b"" at its end (EOF, or EIO of a pty
    whose other side is closed)."""
    while True:
        try:
            return os.read(fd, READ_SIZE)
        except BlockingIOError:
            await _ready(fd, writing=False)
        except OSError as exc:
            if exc.errno == errno.EIO:
                return b""
            raise


async def write_fd(fd: int, data: bytes) -> None:
    """Write all of `data` to a non-blocking fd."""
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            await _ready(fd, writing=True)
            continue
        view = view[written:]


def kill_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def end_process(process: asyncio.subprocess.Process, extra_group: int | None = None) -> None:
    """SIGHUP the process's group (and `extra_group`), then SIGKILL what is left."""
    groups = {process.pid} | ({extra_group} if extra_group else set())
    if process.returncode is None:
        for group in groups:
            kill_group(group, signal.SIGHUP)
            kill_group(group, signal.SIGCONT)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(process.wait(), KILL_GRACE)
    # Whatever the group started and left behind goes too.
    for group in groups:
        kill_group(group, signal.SIGKILL)
    if process.returncode is None:
        await process.wait()


def release(process: asyncio.subprocess.Process) -> None:
    """Close the process's pipes and transport once we are done with it.

    asyncio closes a subprocess transport by itself only after every pipe reached its
    end, which a background child holding a pipe (or a sandbox stopping right after the
    session) can prevent; an unclosed one complains when it is collected. The Process
    does not expose its transport, hence the attribute.
    """
    transport = getattr(process, "_transport", None)
    if isinstance(transport, asyncio.SubprocessTransport):
        transport.close()


class PtyProcess:
    """A command whose stdin, stdout and stderr are a new pseudo-terminal."""

    def __init__(self, process: asyncio.subprocess.Process, master: int, tty: str) -> None:
        self.process = process
        self.master = master
        self.tty = tty
        self._closed = False

    @classmethod
    async def spawn(
        cls,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        cols: int = 80,
        rows: int = 24,
    ) -> PtyProcess:
        master, slave = pty.openpty()
        try:
            tty = os.ttyname(slave)
            _set_size(slave, cols, rows)
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-I",
                "-S",
                "-c",
                _TAKE_TERMINAL,
                *argv,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                cwd=cwd,
                env=dict(env),
                start_new_session=True,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        os.set_blocking(master, False)
        return cls(process, master, tty)

    async def read(self) -> bytes:
        """Output; b"" once every process holding the terminal has gone."""
        if self._closed:
            return b""
        return await read_fd(self.master)

    async def write(self, data: bytes) -> None:
        if not self._closed:
            await write_fd(self.master, data)

    def resize(self, cols: int, rows: int) -> None:
        """TIOCSWINSZ (the kernel signals the foreground job), and SIGWINCH to be sure."""
        if self._closed:
            return
        _set_size(self.master, cols, rows)
        with contextlib.suppress(OSError):
            kill_group(os.tcgetpgrp(self.master), signal.SIGWINCH)

    async def stop(self) -> None:
        """End the command and everything it started in the foreground; close the pty."""
        foreground = None
        if not self._closed:
            with contextlib.suppress(OSError):
                foreground = os.tcgetpgrp(self.master)
        await end_process(self.process, foreground)
        self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self.master)


def _set_size(fd: int, cols: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
