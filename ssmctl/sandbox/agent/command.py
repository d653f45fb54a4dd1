"""Non-interactive command sessions: `sh -c <command>` on pipes, no terminal.

stdout goes out as Output messages. With `separateOutputStream` in the document's
properties, stderr goes out as StdErr messages and, once the command has ended and its
output is out, `EXIT_CODE: <n>` as an ExitCode message (the only way the exit status
travels); without it, stderr is merged into stdout and no exit code is sent. Input
messages are written to the command's stdin; Size messages are ignored.
"""

from __future__ import annotations

import asyncio
import contextlib

from ssmctl.datachannel.chunking import Utf8Chunker
from ssmctl.datachannel.constants import PayloadType
from ssmctl.datachannel.payloads import encode_exit_code
from ssmctl.sandbox.agent.processes import READ_SIZE, end_process, release
from ssmctl.sandbox.agent.shell import SHELL
from ssmctl.sandbox.agent.worker import TERMINATED, Ending, WorkerContext, cancel_all

DRAIN = 0.5
"""Seconds to wait for the pipes to close after the command exited (a background
child may hold them open)."""


class CommandWorker:
    """See the module docstring."""

    def __init__(self, context: WorkerContext) -> None:
        self.context = context
        self.process: asyncio.subprocess.Process | None = None
        self._inputs: asyncio.Queue[bytes] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    async def run(self) -> Ending:
        separate = self.context.plan.separate_output
        self.process = process = await asyncio.create_subprocess_exec(
            SHELL,
            "-c",
            self.context.plan.command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE if separate else asyncio.subprocess.STDOUT,
            cwd=self.context.workdir,
            env=dict(self.context.env),
            start_new_session=True,
        )
        assert process.stdout is not None
        readers = [asyncio.create_task(self._read(process.stdout, PayloadType.OUTPUT))]
        if process.stderr is not None:
            readers.append(asyncio.create_task(self._read(process.stderr, PayloadType.STDERR)))
        self._tasks += [*readers, asyncio.create_task(self._write(process))]
        code = await process.wait()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(asyncio.gather(*readers)), DRAIN)
        await self._cancel_tasks()
        release(process)
        if separate:
            await self.context.send(PayloadType.EXIT_CODE, encode_exit_code(code))
        return Ending(TERMINATED, "exit", f"The command exited with status {code}.", exit_code=code)

    def input(self, data: bytes) -> None:
        self._inputs.put_nowait(data)

    def resize(self, cols: int, rows: int) -> None:
        """No terminal: Size is ignored."""

    def flag(self, code: int) -> None:
        """Flags mean nothing to a command."""

    async def stop(self) -> None:
        await self._cancel_tasks()
        if self.process is not None:
            await end_process(self.process)
            release(self.process)

    async def _read(self, stream: asyncio.StreamReader, payload_type: int) -> None:
        chunker = Utf8Chunker()
        while data := await stream.read(READ_SIZE):
            for chunk in chunker.feed(data):
                await self._emit(payload_type, chunk)
        for chunk in chunker.flush():
            await self._emit(payload_type, chunk)

    async def _emit(self, payload_type: int, chunk: bytes) -> None:
        self.context.record(chunk)
        await self.context.send(payload_type, chunk)

    async def _write(self, process: asyncio.subprocess.Process) -> None:
        stdin = process.stdin
        assert stdin is not None
        while True:
            data = await self._inputs.get()
            try:
                stdin.write(data)
                await stdin.drain()
            except (ConnectionError, OSError):
                return  # the command closed its stdin or ended

    async def _cancel_tasks(self) -> None:
        tasks, self._tasks = self._tasks, []
        await cancel_all(tasks)
