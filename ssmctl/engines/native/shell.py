"""Shell sessions (Standard_Stream, InteractiveCommands): the user's terminal, remote.

The local terminal goes into raw mode, so every key -- Ctrl-C, Ctrl-\\ and Ctrl-Z
included -- travels as a byte (0x03, 0x1C, 0x1A) to the remote pty, whose line
discipline acts on it; ssmctl itself is never interrupted by them. Should those signals
reach ssmctl anyway (input not from a terminal), they are sent as the same bytes. The
window size is sent at the start and on every SIGWINCH. The terminal is restored on
every way out (the `RawMode` context). End of input (a script piped in) is sent as
Ctrl-D, which ends a remote shell reading at the start of a line.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Sequence

from ssmctl.datachannel import Delivered, PayloadType
from ssmctl.datachannel.payloads import encode_size
from ssmctl.engines.native.channel import Channel
from ssmctl.engines.native.localio import read_chunks
from ssmctl.engines.native.modes import LocalStreams, goodbye

DEFAULT_SIZE = (300, 100)
"""(columns, rows) sent when no terminal has a size: wide, so scripts' output is not wrapped
(the plugin's choice too)."""

CONTROL_BYTES: dict[int, bytes] = {
    signal.SIGINT: b"\x03",
    signal.SIGQUIT: b"\x1c",
    signal.SIGTSTP: b"\x1a",
}
_OUTPUT_TYPES = (PayloadType.OUTPUT, PayloadType.STDERR, PayloadType.ERROR)


class ShellMode:
    """One shell session; `run()` returns 0 when the service closes the channel."""

    def __init__(
        self,
        channel: Channel,
        streams: LocalStreams,
        early: Sequence[Delivered],
        notice: Callable[[str], None],
    ) -> None:
        self.channel = channel
        self.streams = streams
        self.early = list(early)
        self.notice = notice
        self._size: tuple[int, int] | None = None
        self._controls: asyncio.Queue[bytes] = asyncio.Queue()
        self._raw: object | None = None
        self._resizes: set[asyncio.Future[None]] = set()

    async def run(self) -> int:
        from ssmctl.engines import terminal

        raw = (
            terminal.RawMode(self.streams.terminal)
            if self.streams.terminal is not None
            else contextlib.nullcontext()
        )
        with raw as mode:
            self._raw = mode
            await self._send_size()
            tasks = [asyncio.ensure_future(self._controls_out())]
            if self.streams.stdin is not None:
                tasks.append(asyncio.ensure_future(self._input(self.streams.stdin)))
            try:
                await self._output()
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await self.streams.stdout.drain()
        goodbye(self.channel, self.notice)
        return 0

    def on_signal(self, signum: int) -> bool:
        if signum in CONTROL_BYTES:
            self._controls.put_nowait(CONTROL_BYTES[signum])
            return True
        if signum == signal.SIGWINCH:
            task = asyncio.ensure_future(self._send_size())
            self._resizes.add(task)
            task.add_done_callback(self._resizes.discard)
            return True
        if signum == signal.SIGCONT:
            reapply = getattr(self._raw, "reapply", None)
            if reapply is not None:
                reapply()  # a shell may have reset the terminal while ssmctl was stopped
            return True
        return False

    async def interrupted(self) -> int:
        return 130  # not reached: SIGINT becomes a byte for the remote shell

    async def _output(self) -> None:
        for early in self.early:
            await self._show(early)
        while (message := await self.channel.receive()) is not None:
            await self._show(message)

    async def _show(self, message: Delivered) -> None:
        if message.payload_type in _OUTPUT_TYPES:
            await self.streams.stdout.write(message.payload)

    async def _input(self, fd: int) -> None:
        async for chunk in read_chunks(fd):
            # The plugin sends a lone LF as CR: Enter, whatever the local terminal says.
            await self.channel.send_data(b"\r" if chunk == b"\n" else chunk)
        await self.channel.send(PayloadType.OUTPUT, b"\x04")

    async def _controls_out(self) -> None:
        while True:
            await self.channel.send(PayloadType.OUTPUT, await self._controls.get())

    async def _send_size(self) -> None:
        size = self._window_size()
        if size != self._size:
            self._size = size
            await self.channel.send(PayloadType.SIZE, encode_size(*size))

    def _window_size(self) -> tuple[int, int]:
        from ssmctl.engines import terminal

        fd = self.streams.size_fd
        size = terminal.window_size(fd) if fd is not None else None
        if size is None or not all(size):
            return DEFAULT_SIZE
        return size
