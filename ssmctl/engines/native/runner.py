"""Running native sessions from synchronous code: the event loop, signals, local streams.

    status = run_native(ssm, response, notice=warn, startup_timeout=30)

While sessions run, SIGINT, SIGQUIT, SIGTSTP, SIGTERM, SIGHUP, SIGWINCH and SIGCONT are
caught and passed to every running session (a shell turns the keyboard ones into bytes
for the remote terminal; see NativeSession.signal); the previous handlers are put back
afterwards. Must be called from the main thread for that; elsewhere no signal is caught.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any, TypeVar

from ssmctl.engines.native.localio import FdWriter
from ssmctl.engines.native.modes import LocalStreams
from ssmctl.engines.native.ports import OnListening
from ssmctl.engines.native.session import NativeSession

T = TypeVar("T")

WATCHED: tuple[int, ...] = (
    signal.SIGINT,
    signal.SIGQUIT,
    signal.SIGTSTP,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGWINCH,
    signal.SIGCONT,
)


class SignalRouter:
    """Passes the signals ssmctl receives to the sessions running now."""

    def __init__(self) -> None:
        self.sessions: set[NativeSession] = set()
        self.stop_signal: int | None = None
        """The first SIGINT/SIGTERM/SIGHUP received: start no new session after it."""

    def dispatch(self, signum: int) -> None:
        if signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP) and self.stop_signal is None:
            self.stop_signal = signum
        for session in list(self.sessions):
            session.signal(signum)

    @contextlib.contextmanager
    def installed(self, loop: asyncio.AbstractEventLoop) -> Iterator[None]:
        """Catch the WATCHED signals (main thread only); restore the old handlers after."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous: dict[int, Any] = {}
        try:
            for signum in WATCHED:
                previous[signum] = signal.getsignal(signum)
                loop.add_signal_handler(signum, self.dispatch, signum)
            yield
        finally:
            for signum, handler in previous.items():
                loop.remove_signal_handler(signum)
                signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def run_async(main: Callable[[SignalRouter], Awaitable[T]]) -> T:
    """Run `main(router)` in a new event loop with the signals routed to sessions."""
    router = SignalRouter()

    async def wrapped() -> T:
        with router.installed(asyncio.get_running_loop()):
            return await main(router)

    return asyncio.run(wrapped())


@contextlib.asynccontextmanager
async def local_streams(
    stdin: int | None = 0, stdout: int = 1, stderr: int = 2
) -> AsyncIterator[LocalStreams]:
    """The user's descriptors as session streams; output is flushed on the way out (as
    any program's, that waits for a slow reader)."""
    from ssmctl.engines.terminal import is_terminal

    out, err = FdWriter(stdout), FdWriter(stderr)
    terminal = stdin if stdin is not None and is_terminal(stdin) else None
    size_fd = terminal if terminal is not None else (stdout if is_terminal(stdout) else None)
    try:
        yield LocalStreams(out, err, stdin=stdin, terminal=terminal, size_fd=size_fd)
    finally:
        await asyncio.gather(out.drain(), err.drain())
        out.close()
        err.close()


def run_native(
    ssm: Any,
    response: Mapping[str, Any],
    *,
    notice: Callable[[str], None],
    startup_timeout: float,
    stdio: tuple[int | None, int, int] = (0, 1, 2),
    listener: socket.socket | None = None,
    on_listening: OnListening | None = None,
) -> int:
    """Carry the started session `response` (StartSession's) on the user's terminal or
    streams until it ends; returns ssmctl's exit status (see NativeSession.run).

    `stdio`: the descriptors of stdin (None: forward no input), stdout and stderr.
    The session is terminated on every path but a normal end, including an interrupt
    that arrives before the event loop is up. Raises SessionError.
    """
    holder: list[NativeSession] = []

    async def main(router: SignalRouter) -> int:
        async with local_streams(*stdio) as streams:
            session = NativeSession(
                ssm,
                response,
                streams=streams,
                notice=notice,
                startup_timeout=startup_timeout,
                listener=listener,
                on_listening=on_listening,
            )
            holder.append(session)
            router.sessions.add(session)
            return await session.run()

    try:
        return run_async(main)
    except BaseException:
        if holder:
            holder[0].terminate_now()
        else:
            _terminate_quietly(ssm, str(response.get("SessionId", "")), notice)
        raise
    finally:
        if listener is not None:
            listener.close()


def _terminate_quietly(ssm: Any, session_id: str, notice: Callable[[str], None]) -> None:
    try:
        ssm.terminate_session(SessionId=session_id)
    except Exception as exc:
        notice(f"ssmctl: could not terminate session {session_id}: {exc}")
