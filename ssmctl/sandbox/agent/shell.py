"""Shell and interactive-command sessions: a real `sh` (or `sh -c <command>`) on a pty.

Standard_Stream runs an interactive `sh`, then types the preferences' shellProfile into
it, as the agent does. InteractiveCommands runs the document's command. Either way:
input bytes go to the pty, Size becomes TIOCSWINSZ, output goes out in chunks of at most
1024 bytes that never split a UTF-8 character, and the session ends when the process
exits (after the output is delivered).
"""

from __future__ import annotations

import asyncio
import contextlib

from ssmctl.datachannel.chunking import Utf8Chunker
from ssmctl.datachannel.constants import PayloadType
from ssmctl.datachannel.handshake import SessionType
from ssmctl.sandbox.agent.processes import PtyProcess
from ssmctl.sandbox.agent.worker import TERMINATED, Ending, WorkerContext, cancel_all

SHELL = "sh"
TERM = "xterm-256color"
DRAIN = 0.5
"""Seconds to read output left in the pty after the process exited."""


class ShellWorker:
    """See the module docstring."""

    def __init__(self, context: WorkerContext) -> None:
        self.context = context
        self.pty: PtyProcess | None = None
        self._inputs: asyncio.Queue[bytes] = asyncio.Queue()
        self._size: tuple[int, int] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def command_session(self) -> bool:
        return self.context.plan.session_type is SessionType.INTERACTIVE_COMMANDS

    async def run(self) -> Ending:
        plan = self.context.plan
        argv = [SHELL, "-c", plan.command] if self.command_session else [SHELL]
        cols, rows = self._size or (80, 24)
        env = {**self.context.env, "TERM": TERM}
        self.pty = await PtyProcess.spawn(
            argv, cwd=self.context.workdir, env=env, cols=cols, rows=rows
        )
        if plan.shell_profile:
            self._inputs.put_nowait(plan.shell_profile.encode() + b"\n")
        reader = asyncio.create_task(self._read(self.pty))
        self._tasks += [reader, asyncio.create_task(self._write(self.pty))]
        code = await self.pty.process.wait()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(reader), DRAIN)
        await self._cancel_tasks()
        what = "command" if self.command_session else "shell"
        return Ending(TERMINATED, "exit", f"The {what} exited with status {code}.", exit_code=code)

    def terminal_description(self) -> str:
        """`script`'s description of the terminal, for the transcript's first line."""
        cols, rows = self._size or (80, 24)
        tty = self.pty.tty if self.pty else ""
        return f'TERM="{TERM}" TTY="{tty}" COLUMNS="{cols}" LINES="{rows}"'

    def input(self, data: bytes) -> None:
        self._inputs.put_nowait(data)

    def resize(self, cols: int, rows: int) -> None:
        if cols <= 0 or rows <= 0:
            return
        self._size = (cols, rows)
        if self.pty is not None:
            with contextlib.suppress(OSError):
                self.pty.resize(cols, rows)

    def flag(self, code: int) -> None:
        """Flags mean nothing to a shell."""

    async def stop(self) -> None:
        await self._cancel_tasks()
        if self.pty is not None:
            await self.pty.stop()

    async def _read(self, pty: PtyProcess) -> None:
        chunker = Utf8Chunker()
        while data := await pty.read():
            for chunk in chunker.feed(data):
                await self._emit(chunk)
        for chunk in chunker.flush():
            await self._emit(chunk)

    async def _emit(self, chunk: bytes) -> None:
        self.context.record(chunk)
        await self.context.send(PayloadType.OUTPUT, chunk)

    async def _write(self, pty: PtyProcess) -> None:
        while True:
            data = await self._inputs.get()
            try:
                await pty.write(data)
            except OSError:
                return  # the terminal is gone: the process is ending

    async def _cancel_tasks(self) -> None:
        tasks, self._tasks = self._tasks, []
        await cancel_all(tasks)
