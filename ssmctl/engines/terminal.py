"""The user's terminal and the pty the plugin runs on (POSIX only)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import struct
import termios
import tty
from types import TracebackType
from typing import Any

_WINSIZE = struct.Struct("HHHH")  # rows, cols, x pixels, y pixels


def is_terminal(fd: int) -> bool:
    """True when `fd` is open on a terminal."""
    try:
        return os.isatty(fd)
    except OSError:
        return False


def window_size(fd: int) -> tuple[int, int] | None:
    """(columns, rows) of the terminal on `fd`, or None when it has none."""
    try:
        raw = fcntl.ioctl(fd, termios.TIOCGWINSZ, bytes(_WINSIZE.size))
    except OSError:
        return None
    rows, cols, _, _ = _WINSIZE.unpack(raw)
    return cols, rows


def copy_window_size(source: int, target: int) -> None:
    """Give the terminal on `target` the size of the one on `source` (best effort).

    The kernel sends SIGWINCH to the target's foreground process group when it changes.
    """
    try:
        raw = fcntl.ioctl(source, termios.TIOCGWINSZ, bytes(_WINSIZE.size))
        rows, cols, _, _ = _WINSIZE.unpack(raw)
        if rows and cols:
            fcntl.ioctl(target, termios.TIOCSWINSZ, raw)
    except OSError:
        pass  # no size to copy (or the terminal is gone): keep the previous one


def open_pty_like(terminal_fd: int) -> tuple[int, int]:
    """A new pty (master, slave) with the settings and size of the terminal on
    `terminal_fd`, so the plugin sees the same erase key, modes and size as the user."""
    master, slave = pty.openpty()
    with contextlib.suppress(termios.error):  # else keep the pty's defaults, which are sane
        termios.tcsetattr(slave, termios.TCSANOW, termios.tcgetattr(terminal_fd))
    copy_window_size(terminal_fd, master)
    os.set_blocking(master, False)
    return master, slave


def make_controlling_terminal() -> None:
    """Runs in the child between fork and exec, after setsid(): make fd 0 (the pty
    slave) its controlling terminal, so the pty's line discipline signals the plugin."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class RawMode:
    """Context manager: put the terminal on `fd` in raw mode; restore it on exit.

    In raw mode every key, Ctrl-C included, reaches ssmctl as a byte for the pty; the
    pty's own line discipline then acts on it exactly as the real terminal would have.
    `reapply()` re-enters raw mode (after SIGCONT a shell may have reset the terminal).
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._saved: list[Any] | None = None

    def __enter__(self) -> RawMode:
        self._saved = termios.tcgetattr(self._fd)
        self.reapply()
        return self

    def reapply(self) -> None:
        """Put the terminal (back) in raw mode."""
        # TCSANOW rather than TCSAFLUSH: keys typed ahead belong to the session.
        tty.setraw(self._fd, termios.TCSANOW)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._saved is None:
            return
        # termios.error: the terminal hung up and there is nothing left to restore.
        with contextlib.suppress(termios.error):
            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
        self._saved = None
