"""Port sessions without smux: stdio (SSH ProxyCommand) and basic port forwarding.

- stdio (AWS-StartSSHSession, no `type` property): stdin bytes go out, Output bytes go to
  stdout, nothing else is written to stdout. End of input stops sending; the session
  lasts until the far end closes it (the SSH server hung up) or ssmctl is stopped.
- basic (LocalPortForwarding with an agent at or below 3.0.196.0): one local TCP
  connection at a time carries raw bytes; when it closes, Flag 1 (DisconnectToPort)
  tells the agent to drop its side, and the next waiting connection is served.

Ctrl-C in either mode sends Flag 2 (TerminateSession) before the session is terminated.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ssmctl.datachannel import Delivered, FlagCode, PayloadType
from ssmctl.datachannel.payloads import encode_flag
from ssmctl.engines.native.channel import Channel
from ssmctl.engines.native.localio import read_chunks
from ssmctl.engines.native.modes import LocalStreams, goodbye
from ssmctl.errors import SessionError

LOCAL_HOST = "127.0.0.1"
READ_SIZE = 65536


@dataclasses.dataclass(frozen=True)
class Listening:
    """A port forward is ready: local connections to host:port reach the destination."""

    session_id: str
    host: str
    port: int
    mode: str
    """"basic" or "mux"."""


OnListening = Callable[[Listening], None]


def listen_socket(port: int, host: str = LOCAL_HOST) -> socket.socket:
    """A listening TCP socket on host:port (0 = any free port). SessionError when busy.

    Accepted connections inherit TCP_NODELAY: a forwarded request/response protocol must
    not wait some 40 ms for a delayed ACK behind Nagle's algorithm.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise SessionError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.setblocking(False)
    return sock


def local_port(properties: Mapping[str, Any]) -> int:
    """The localPortNumber property as a number (0 when absent or unreadable)."""
    try:
        return max(0, int(str(properties.get("localPortNumber") or 0)))
    except ValueError:
        return 0


async def say_terminate(channel: Channel) -> int:
    """Flag 2 (TerminateSession), as the plugin sends on Ctrl-C in port modes; status 0."""
    await channel.send(PayloadType.FLAG, encode_flag(FlagCode.TERMINATE_SESSION))
    await channel.wait_acked(1.0)
    return 0


class StdioMode:
    """Port forwarding over stdin/stdout (SSH ProxyCommand)."""

    def __init__(self, channel: Channel, streams: LocalStreams, early: Sequence[Delivered]) -> None:
        self.channel = channel
        self.streams = streams
        self.early = list(early)

    async def run(self) -> int:
        feeder = None
        if self.streams.stdin is not None:
            feeder = asyncio.ensure_future(self._input(self.streams.stdin))
        try:
            for early in self.early:
                await self._show(early)
            while (message := await self.channel.receive()) is not None:
                await self._show(message)
        finally:
            if feeder is not None:
                feeder.cancel()
                await asyncio.gather(feeder, return_exceptions=True)
            await self.streams.stdout.drain()
        return 0

    def on_signal(self, signum: int) -> bool:
        return False

    async def interrupted(self) -> int:
        return await say_terminate(self.channel)

    async def _show(self, message: Delivered) -> None:
        if message.payload_type == PayloadType.OUTPUT:
            await self.streams.stdout.write(message.payload)

    async def _input(self, fd: int) -> None:
        async for chunk in read_chunks(fd, READ_SIZE):
            await self.channel.send_data(chunk)


class BasicPortMode:
    """Local port forwarding, one TCP connection at a time."""

    def __init__(
        self,
        channel: Channel,
        listener: socket.socket,
        early: Sequence[Delivered],
        on_listening: OnListening,
        notice: Callable[[str], None],
    ) -> None:
        self.channel = channel
        self.listener = listener
        self.early = list(early)
        self.on_listening = on_listening
        self.notice = notice
        self._turn = asyncio.Lock()
        self._current: asyncio.StreamWriter | None = None

    async def run(self) -> int:
        server = await asyncio.start_server(self._serve, sock=self.listener)
        try:
            host, port = self.listener.getsockname()[:2]
            self.on_listening(Listening(self.channel.session_id, host, port, "basic"))
            for early in self.early:
                await self._deliver(early)
            while (message := await self.channel.receive()) is not None:
                await self._deliver(message)
        finally:
            server.close()
            if self._current is not None:
                self._current.close()
        goodbye(self.channel, self.notice)
        return 0

    def on_signal(self, signum: int) -> bool:
        return False

    async def interrupted(self) -> int:
        return await say_terminate(self.channel)

    async def _deliver(self, message: Delivered) -> None:
        writer = self._current
        if message.payload_type != PayloadType.OUTPUT or writer is None or writer.is_closing():
            return  # no local connection: the destination's bytes have nowhere to go
        try:
            writer.write(message.payload)
            await writer.drain()
        except (ConnectionError, OSError):
            pass  # the local client left; its reader notices and ends the turn

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with self._turn:  # later connections wait here for their turn
            self._current = writer
            try:
                while data := await _read(reader):
                    await self.channel.send_data(data)
                await self.channel.send(PayloadType.FLAG, encode_flag(FlagCode.DISCONNECT_TO_PORT))
            except SessionError:
                pass  # the session is over; its own task reports why
            finally:
                self._current = None
                writer.close()


async def _read(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.read(READ_SIZE)
    except (ConnectionError, OSError):
        return b""
