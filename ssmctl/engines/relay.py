"""Copying bytes between the user and the plugin while watching for its first output.

One select() loop serves every stream (the pty master both ways, or the plugin's
stdout/stderr pipes), the signal self-pipe and the start-up deadline, so a keystroke,
a line of output, SIGWINCH or SIGTERM is handled as soon as it arrives. POSIX only.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import select
import signal
import subprocess
import time
from collections.abc import Callable

from ssmctl.engines.signals import SignalGuard

READ_SIZE = 65536
DRAIN_QUIET = 0.2
"""After the plugin exits, give up on output that is still open (a leftover grandchild
holds it) once it has been quiet this many seconds."""
MAX_WAIT = 1.0
"""Longest select() sleep: a safety net should a SIGCHLD ever go unnoticed."""
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)

_BANNER = b"\nStarting session with SessionId: %s\n"
_FAILURE = b"Cannot perform start session"
_HEAD_SIZE = 256


@dataclasses.dataclass
class Stream:
    """One direction: bytes read from `source` are written to `sink`."""

    source: int
    sink: int
    from_plugin: bool
    """Output of the plugin (ends the start-up phase), as opposed to the user's input."""
    pending: bytearray = dataclasses.field(default_factory=bytearray)
    readable: bool = True
    sink_gone: bool = False


class FirstOutput:
    """Decides when the plugin has shown something.

    The official plugin prints `\\nStarting session with SessionId: <id>\\n` before it
    even dials the stream URL, so that banner alone says nothing about the session: the
    start-up phase ends with the first byte beyond it. The first bytes after it are kept
    to recognise the plugin's "Cannot perform start session" failure (it exits 0).
    """

    def __init__(self, session_id: str) -> None:
        self._banner = _BANNER % session_id.encode()
        self._seen = bytearray()
        self.shown = False

    def feed(self, data: bytes) -> None:
        """Account for `data`, the next bytes the plugin wrote (either stream)."""
        if len(self._seen) >= len(self._banner) + _HEAD_SIZE:
            return
        # Only as much as needed: the banner plus the head of what follows it.
        self._seen += data.replace(b"\r", b"")[: len(self._banner) + _HEAD_SIZE]
        beyond = len(self._seen) > len(self._banner)
        if beyond or not self._banner.startswith(bytes(self._seen[: len(self._banner)])):
            self.shown = True

    @property
    def failed_to_start(self) -> bool:
        """True when the first thing after the banner is the plugin's start failure."""
        head = bytes(self._seen)
        if head.startswith(self._banner):
            head = head[len(self._banner) :]
        return head.lstrip().startswith(_FAILURE)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How the relay ended. Exactly one of `status`, `timed_out`, `stop_signal` is set."""

    status: int | None = None
    """The plugin's exit status (128 + N for a death by signal N)."""
    timed_out: bool = False
    """The plugin showed nothing before the start-up deadline; it is still running."""
    stop_signal: int | None = None
    """ssmctl got SIGTERM or SIGHUP; the plugin is still running."""


def relay(
    process: subprocess.Popen[bytes],
    streams: list[Stream],
    guard: SignalGuard,
    first_output: FirstOutput,
    *,
    startup_timeout: float,
    on_signal: Callable[[int], None] | None = None,
) -> Outcome:
    """Copy bytes until the plugin exits (and its output is drained), the start-up phase
    exceeds `startup_timeout` seconds (0 = no limit), or a stop signal arrives.

    `on_signal` is called for watched signals other than SIGTERM/SIGHUP/SIGCHLD.
    """
    loop = _Loop(
        process,
        streams,
        guard,
        first_output=first_output,
        startup_timeout=startup_timeout,
        on_signal=on_signal,
    )
    return loop.run()


class _Loop:
    def __init__(
        self,
        process: subprocess.Popen[bytes],
        streams: list[Stream],
        guard: SignalGuard,
        *,
        first_output: FirstOutput,
        startup_timeout: float,
        on_signal: Callable[[int], None] | None,
    ) -> None:
        self.process = process
        self.streams = streams
        self.guard = guard
        self.first_output = first_output
        self.on_signal = on_signal
        now = time.monotonic()
        self.deadline = now + startup_timeout if startup_timeout > 0 else None
        self.quiet_since = now
        self.exited = False

    def run(self) -> Outcome:
        while True:
            now = time.monotonic()
            if not self.exited and self.process.poll() is not None:
                self.exited = True
                self.quiet_since = now
                for stream in self.streams:
                    if not stream.from_plugin:
                        stream.pending.clear()  # input for a plugin that is gone
            if self.exited and self._drained(now):
                return Outcome(status=exit_status(self.process.returncode))
            timeout = self._timeout(now)
            if timeout is None:
                return Outcome(timed_out=True)
            readers = [self.guard.fileno()]
            readers += [s.source for s in self.streams if self._wants_input(s)]
            writers = [s.sink for s in self.streams if s.pending]
            ready_r, ready_w, _ = select.select(readers, writers, [], timeout)
            if self.guard.fileno() in ready_r:
                stop = self._handle_signals()
                if stop is not None:
                    return Outcome(stop_signal=stop)
            self._pump(ready_r, ready_w)

    def _timeout(self, now: float) -> float | None:
        """How long select() may sleep; None when the start-up deadline has passed."""
        if self.exited:
            return DRAIN_QUIET
        if self.deadline is None or self.first_output.shown:
            return MAX_WAIT
        if now >= self.deadline:
            return None
        return min(MAX_WAIT, self.deadline - now)

    def _wants_input(self, stream: Stream) -> bool:
        # Back-pressure: read no more while the previous chunk waits for its sink. After
        # the plugin exited, the user's keys stay unread: they belong to the user's shell.
        if not stream.readable or stream.pending:
            return False
        return stream.from_plugin or not self.exited

    def _handle_signals(self) -> int | None:
        for signum in self.guard.take():
            if signum in STOP_SIGNALS:
                return signum
            if signum != signal.SIGCHLD and self.on_signal is not None:
                self.on_signal(signum)
        return None

    def _pump(self, ready_r: list[int], ready_w: list[int]) -> None:
        for stream in self.streams:
            if stream.source in ready_r and self._wants_input(stream):
                data = _read(stream)
                if data and stream.from_plugin:
                    self.first_output.feed(data)
                    self.quiet_since = time.monotonic()
            # Write straight after reading: one keystroke, one select() round.
            if stream.pending and (stream.sink in ready_w or stream.source in ready_r):
                _write(stream)

    def _drained(self, now: float) -> bool:
        plugin_side = [s for s in self.streams if s.from_plugin]
        if not any(s.readable or s.pending for s in plugin_side):
            return True
        return now - self.quiet_since >= DRAIN_QUIET


def exit_status(returncode: int) -> int:
    """A Popen return code as a shell reports it: 128 + N for a death by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def _read(stream: Stream) -> bytes:
    try:
        data = os.read(stream.source, READ_SIZE)
    except BlockingIOError:
        return b""
    except OSError as exc:
        # EIO: the pty's other side is closed (the plugin is gone). Anything else: the
        # stream is unusable either way.
        if exc.errno not in (errno.EIO, errno.EBADF, errno.ECONNRESET):
            raise
        data = b""
    if not data:
        stream.readable = False
        return b""
    if not stream.sink_gone:
        stream.pending += data
    return data


def _write(stream: Stream) -> None:
    """Write as much of `stream.pending` as the sink takes now."""
    while stream.pending:
        try:
            written = os.write(stream.sink, stream.pending)
        except BlockingIOError:
            return
        except OSError as exc:
            # The reader went away (a closed pipe, a hung-up terminal, an exited plugin):
            # drop what is left so the other directions keep flowing.
            if exc.errno not in (errno.EPIPE, errno.EIO, errno.EBADF, errno.ECONNRESET):
                raise
            stream.sink_gone = True
            stream.pending.clear()
            return
        del stream.pending[:written]
