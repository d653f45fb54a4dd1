"""What every session worker (shell, command, port forwarding) has in common.

A worker is what runs behind one session: it starts when the session's first socket is
attached (after the handshake, when the session type has one), gets the client's input,
Size and Flag messages, sends output through its context, and says how the session
ended when it ends on its own (`run()` returns). `stop()` kills whatever it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from ssmctl.sandbox.agent.plan import SessionPlan

TERMINATED = "Terminated"
FAILED = "Failed"


@dataclasses.dataclass(frozen=True)
class Ending:
    """How a session ended: what the record says and what the client is told."""

    status: str
    """Terminated or Failed (DescribeSessions' Status)."""
    reason: str
    """The record's end_reason: exit, terminated, client_terminated, idle_timeout,
    max_duration or failed."""
    details: str
    """A sentence for DescribeSessions' Details."""
    output: str = ""
    """channel_closed's Output (the client prints it; empty: the usual exit line)."""
    flush: bool = True
    """Let the client acknowledge all output before channel_closed."""
    exit_code: int | None = None


def failure(details: str, output: str | None = None) -> Ending:
    """A session that could not do its work."""
    return Ending(FAILED, "failed", details, output=output if output is not None else details)


@dataclasses.dataclass(frozen=True)
class WorkerContext:
    """What a worker gets from its session."""

    plan: SessionPlan
    workdir: Path
    env: Mapping[str, str]
    send: Callable[[int, bytes], Awaitable[None]]
    """Send one stream message (waits while the unacked window is full)."""
    record: Callable[[bytes], None]
    """Add output the client was sent to the transcript."""


class Worker(Protocol):
    """The session's work; see the module docstring."""

    async def run(self) -> Ending:
        """Do the work until it ends on its own; cancelled when the session ends otherwise."""

    def input(self, data: bytes) -> None:
        """Bytes of an Output message from the client (keystrokes, port data)."""

    def resize(self, cols: int, rows: int) -> None:
        """A Size message."""

    def flag(self, code: int) -> None:
        """A Flag message other than TerminateSession (which the session handles)."""

    async def stop(self) -> None:
        """Kill every process and close every connection the worker started."""


async def cancel_all(
    tasks: Iterable[asyncio.Task[None]],
    ignore: tuple[type[BaseException], ...] = (OSError,),
) -> None:
    """Cancel `tasks` and wait for each to finish; `ignore` what they raise on the way."""
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, *ignore):
            await task


class TaskKeeper:
    """For workers whose work runs in background tasks (port forwarding): `ended` is set
    once, by the first `_end`; `_stop_tasks` cancels whatever is still running."""

    def __init__(self) -> None:
        self.ended: asyncio.Future[Ending] = asyncio.get_running_loop().create_future()
        self._tasks: set[asyncio.Task[None]] = set()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _end(self, ending: Ending) -> None:
        if not self.ended.done():
            self.ended.set_result(ending)

    async def _stop_tasks(self) -> None:
        await cancel_all(list(self._tasks), ())
