"""What every session handler offers the session that runs it, and the user's streams."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from ssmctl.engines.native.channel import Channel
from ssmctl.engines.native.localio import Sink

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class LocalStreams:
    """The user's side of one session.

    `stdin`: the descriptor input is read from (None: forward no input). `terminal`: the
    descriptor of the user's terminal when stdin is one (raw mode, window size), else
    None. `size_fd`: where the window size is read (stdin's or stdout's terminal).
    """

    stdout: Sink
    stderr: Sink
    stdin: int | None = None
    terminal: int | None = None
    size_fd: int | None = None


class Mode(Protocol):
    """A session handler: shell, command, or one of the port modes."""

    async def run(self) -> int:
        """Carry the session until it ends; returns the exit status for ssmctl."""

    def on_signal(self, signum: int) -> bool:
        """React to a signal that is the session's (True), or leave it to the session."""

    async def interrupted(self) -> int:
        """Say goodbye to the far end after Ctrl-C; returns the exit status."""


async def race(*steps: Awaitable[T]) -> T:
    """Run `steps` together until the first one ends; cancel the others.

    Returns the first one's result or raises its exception.
    """
    tasks = [asyncio.ensure_future(step) for step in steps]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        first = next(task for task in tasks if task in done)
        return first.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def goodbye(channel: Channel, notice: Callable[[str], None]) -> None:
    """The plugin's farewell once the service closed the channel, on stderr (via `notice`):
    "\\n\\nExiting session with sessionId: <id>.\\n\\n", or the service's own words."""
    from ssmctl.sanitize import terminal_safe

    closed = channel.closed
    session_id = terminal_safe(channel.session_id)
    if closed is not None and closed.output:
        line = f"SessionId: {session_id} : {terminal_safe(closed.output)}"
    else:
        line = f"Exiting session with sessionId: {session_id}."
    for text in ("", "", line, ""):
        notice(text)
