"""Signal dispositions of ssmctl while the plugin runs (POSIX only).

The keyboard signals SIGINT, SIGQUIT and SIGTSTP are ignored: they belong to the plugin,
which turns them into bytes for the remote shell (or ends a port forward). Other signals
of interest are caught and queued, and each one makes a self-pipe readable so the relay's
select() wakes up at once; the relay then handles them outside signal context. Every
previous handler is put back on exit.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterable
from types import FrameType, TracebackType
from typing import Any

KEYBOARD_SIGNALS: tuple[int, ...] = (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP)


class SignalGuard:
    """Context manager: ignore the keyboard signals, queue `watched` ones.

    Must be entered in the main thread (Python only runs handlers there).
    """

    def __init__(self, watched: Iterable[int]) -> None:
        self._watched = tuple(dict.fromkeys(watched))
        self._saved: dict[int, Any] = {}
        self._pending: list[int] = []
        self._read_fd = -1
        self._write_fd = -1

    def __enter__(self) -> SignalGuard:
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)
        try:
            for signum in KEYBOARD_SIGNALS:
                self._install(signum, signal.SIG_IGN)
            for signum in self._watched:
                self._install(signum, self._on_signal)
        except BaseException:
            self._restore()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._restore()

    def fileno(self) -> int:
        """Readable whenever a watched signal is queued."""
        return self._read_fd

    def take(self) -> list[int]:
        """The watched signals received since the last call, oldest first."""
        with contextlib.suppress(BlockingIOError):
            while os.read(self._read_fd, 512):
                pass
        taken, self._pending = self._pending, []
        return taken

    def _install(self, signum: int, handler: Any) -> None:
        self._saved[signum] = signal.signal(signum, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._pending.append(signum)
        # A full pipe means select() is already woken.
        with contextlib.suppress(BlockingIOError):
            os.write(self._write_fd, b"\0")

    def _restore(self) -> None:
        for signum, previous in reversed(self._saved.items()):
            # None means the previous handler was not installed from Python; the default
            # is the closest thing we can put back.
            signal.signal(signum, signal.SIG_DFL if previous is None else previous)
        self._saved.clear()
        for fd in (self._read_fd, self._write_fd):
            if fd >= 0:
                os.close(fd)
        self._read_fd = self._write_fd = -1
