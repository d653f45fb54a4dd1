"""Run a command on a fresh pseudo-terminal (its controlling terminal), for tests."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time
from collections.abc import Mapping, Sequence


class PtyProcess:
    """A child process whose stdin/stdout/stderr and /dev/tty are one pty we drive."""

    def __init__(
        self, argv: Sequence[str], env: Mapping[str, str], cols: int = 120, rows: int = 40
    ) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.master = master
        self.output = b""
        self.proc = subprocess.Popen(
            list(argv),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=dict(env),
            start_new_session=True,
            preexec_fn=_take_terminal,  # noqa: PLW1509 - the test child is single-threaded
        )
        os.close(slave)

    def expect(self, text: str, timeout: float = 30) -> str:
        """Read until `text` has appeared; return everything read so far."""
        deadline = time.monotonic() + timeout
        wanted = text.encode()
        while wanted not in self.output:
            if time.monotonic() > deadline or not self._read(deadline - time.monotonic()):
                raise AssertionError(f"{text!r} never appeared in {self.output!r}")
        return self.output.decode(errors="replace")

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def wait(self, timeout: float = 30) -> int:
        """Wait for the exit status, reading the rest of the output."""
        deadline = time.monotonic() + timeout
        while self._read(max(0.0, deadline - time.monotonic())):
            pass
        code = self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        os.close(self.master)
        return code

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], max(0.0, timeout))
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: the child closed its side
            return False
        self.output += chunk
        return bool(chunk)


def _take_terminal() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
