"""Non-interactive commands (NonInteractiveCommands): remote stdout, stderr, exit status.

With separate output streams the agent sends the command's stdout as Output (type 1),
its stderr as StdErr (type 11) and finally `EXIT_CODE: <n>` (type 12): the only way a
remote exit status travels. Input is forwarded as it comes; the data channel has no way
to say "end of input", so at the end of local input ssmctl simply stops sending (a
remote command waiting for more input waits until it is interrupted).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ssmctl.datachannel import Delivered, InvalidPayload, PayloadType
from ssmctl.datachannel.payloads import decode_exit_code
from ssmctl.engines.native.channel import Channel
from ssmctl.engines.native.localio import read_chunks
from ssmctl.engines.native.modes import LocalStreams
from ssmctl.errors import SessionError

EXIT_GRACE = 2.0
"""Seconds to wait for channel_closed after the exit status (then TerminateSession)."""


def exit_status(code: int) -> int:
    """A remote exit status as a local one (0-255; anything else reads as 255)."""
    return code if 0 <= code <= 255 else 255


class CommandMode:
    """One non-interactive command; `run()` returns its exit status."""

    def __init__(self, channel: Channel, streams: LocalStreams, early: Sequence[Delivered]) -> None:
        self.channel = channel
        self.streams = streams
        self.early = list(early)
        self.exit_code: int | None = None

    async def run(self) -> int:
        feeder = None
        if self.streams.stdin is not None:
            feeder = asyncio.ensure_future(self._input(self.streams.stdin))
        try:
            await self._output()
        finally:
            if feeder is not None:
                feeder.cancel()
                await asyncio.gather(feeder, return_exceptions=True)
            await self.streams.stdout.drain()
            await self.streams.stderr.drain()
        if self.exit_code is None:
            raise SessionError(
                f"session {self.channel.session_id} ended without the command's exit status "
                "(terminated elsewhere, or its document does not separate output streams)"
            )
        return exit_status(self.exit_code)

    def on_signal(self, signum: int) -> bool:
        return False

    async def interrupted(self) -> int:
        return 130

    async def _output(self) -> None:
        for early in self.early:
            await self._handle(early)
        while True:
            message: Delivered | None
            if self.exit_code is None:
                message = await self.channel.receive()
            else:
                # Everything the command wrote came before its exit status (the channel
                # is ordered); give the service a moment to close the channel itself.
                try:
                    message = await asyncio.wait_for(self.channel.receive(), EXIT_GRACE)
                except asyncio.TimeoutError:
                    return
            if message is None:
                return
            await self._handle(message)

    async def _handle(self, message: Delivered) -> None:
        kind = message.payload_type
        if kind == PayloadType.OUTPUT:
            await self.streams.stdout.write(message.payload)
        elif kind in (PayloadType.STDERR, PayloadType.ERROR):
            await self.streams.stderr.write(message.payload)
        elif kind == PayloadType.EXIT_CODE:
            try:
                self.exit_code = decode_exit_code(message.payload)
            except InvalidPayload as exc:
                raise SessionError(f"the agent sent a malformed exit status: {exc}") from None

    async def _input(self, fd: int) -> None:
        async for chunk in read_chunks(fd, 65536):
            await self.channel.send_data(chunk)
