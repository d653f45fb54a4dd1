"""Multiplexed port forwarding (agents newer than 3.0.196.0): every local TCP connection
is an smux stream carried inside the session's Output payloads.

A local connection opens a stream (SYN); its bytes go out as PSH frames; its end of input
closes our side (FIN). Data from the far end goes to the matching connection; the far
end's FIN half-closes it. Flag 3 (ConnectToPortError) says the destination refused a
stream; the flag names no stream, so the oldest stream that has not heard from the
destination yet is the one closed (the agent closes that stream too). smux v1 has no flow
control: the far end's data for a slow local client is buffered, and local readers wait
whenever the session's unacked window is full.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Sequence

from ssmctl.datachannel import Delivered, FlagCode, InvalidPayload, PayloadType, SmuxError
from ssmctl.datachannel.chunking import chunk_bytes
from ssmctl.datachannel.payloads import decode_flag
from ssmctl.datachannel.smux_session import (
    KeepaliveTimeout,
    SmuxSession,
    StreamClosed,
    StreamData,
    StreamOpened,
)
from ssmctl.engines.native.channel import Channel
from ssmctl.engines.native.modes import goodbye, race
from ssmctl.engines.native.ports import READ_SIZE, Listening, OnListening, say_terminate
from ssmctl.errors import SessionError

HIGH_WATER = 4 << 20
"""Bytes buffered for one local connection before delivery waits for it."""
TICK = 1.0


class MuxPortMode:
    """Local port forwarding with concurrent connections."""

    def __init__(
        self,
        channel: Channel,
        listener: socket.socket,
        early: Sequence[Delivered],
        on_listening: OnListening,
        notice: Callable[[str], None],
        *,
        keepalive: bool,
    ) -> None:
        self.channel = channel
        self.listener = listener
        self.early = list(early)
        self.on_listening = on_listening
        self.notice = notice
        loop = asyncio.get_running_loop()
        self._clock = loop.time
        self.smux = SmuxSession(client=True, now=loop.time(), keepalive=keepalive)
        self._writers: dict[int, asyncio.StreamWriter] = {}
        self._waiting: list[int] = []
        """Streams opened that have had nothing from the destination yet (oldest first)."""
        self._send_lock = asyncio.Lock()
        self._handlers: set[asyncio.Future[None]] = set()

    async def run(self) -> int:
        server = await asyncio.start_server(self._accepted, sock=self.listener)
        try:
            host, port = self.listener.getsockname()[:2]
            self.on_listening(Listening(self.channel.session_id, host, port, "mux"))
            await race(self._receive(), self._keepalive())
        finally:
            server.close()
            for handler in list(self._handlers):
                handler.cancel()
            for writer in self._writers.values():
                writer.close()
        goodbye(self.channel, self.notice)
        return 0

    def on_signal(self, signum: int) -> bool:
        return False

    async def interrupted(self) -> int:
        return await say_terminate(self.channel)

    # -- from the far end ------------------------------------------------------------

    async def _receive(self) -> None:
        for early in self.early:
            await self._deliver(early)
        while (message := await self.channel.receive()) is not None:
            await self._deliver(message)

    async def _deliver(self, message: Delivered) -> None:
        if message.payload_type == PayloadType.FLAG:
            self._flag(message.payload)
            return
        if message.payload_type != PayloadType.OUTPUT:
            return
        try:
            events = self.smux.receive(message.payload, self._clock())
        except SmuxError as exc:
            raise SessionError(f"the port-forwarding stream is corrupt: {exc}") from None
        for event in events:
            if isinstance(event, StreamData):
                await self._to_local(event.stream_id, event.data)
            elif isinstance(event, StreamClosed):
                self._heard_from(event.stream_id)
                writer = self._writers.get(event.stream_id)
                if writer is not None and writer.can_write_eof():
                    try:
                        writer.write_eof()
                    except OSError:
                        writer.close()
                if not self.smux.is_open(event.stream_id):
                    self._forget(event.stream_id)
            elif isinstance(event, StreamOpened):
                # The agent never opens streams; refuse one it sends anyway.
                self.smux.close_stream(event.stream_id)
                await self._flush()

    async def _to_local(self, stream_id: int, data: bytes) -> None:
        self._heard_from(stream_id)
        writer = self._writers.get(stream_id)
        if writer is None or writer.is_closing():
            return
        writer.write(data)
        if writer.transport.get_write_buffer_size() > HIGH_WATER:
            try:
                await writer.drain()
            except (ConnectionError, OSError):
                writer.close()

    def _flag(self, payload: bytes) -> None:
        try:
            code = decode_flag(payload)
        except InvalidPayload:
            return
        if code != FlagCode.CONNECT_TO_PORT_ERROR:
            return
        self.notice("Connection to destination port failed, check SSM Agent logs.")
        if self._waiting:
            stream_id = self._waiting.pop(0)
            writer = self._writers.get(stream_id)
            if writer is not None:
                writer.close()

    def _heard_from(self, stream_id: int) -> None:
        if stream_id in self._waiting:
            self._waiting.remove(stream_id)

    # -- from local connections ------------------------------------------------------

    def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(self._serve(reader, writer))
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stream_id = self.smux.open_stream()
        self._writers[stream_id] = writer
        self._waiting.append(stream_id)
        try:
            await self._flush()
            while True:
                try:
                    data = await reader.read(READ_SIZE)
                except (ConnectionError, OSError):
                    data = b""
                if not data or not self.smux.is_open(stream_id):
                    break
                self.smux.write(stream_id, data)
                await self._flush()
        except SessionError:
            pass  # the session is over; its own task reports why
        finally:
            self._heard_from(stream_id)
            self.smux.close_stream(stream_id)
            if stream_id not in self.smux.stream_ids:  # both sides are done
                self._forget(stream_id)
        with contextlib.suppress(SessionError):
            await self._flush()

    def _forget(self, stream_id: int) -> None:
        writer = self._writers.pop(stream_id, None)
        if writer is not None:
            writer.close()

    async def _flush(self) -> None:
        # One sender at a time: frames must reach the far end in the order they were made.
        async with self._send_lock:
            for chunk in chunk_bytes(self.smux.data_to_send()):
                await self.channel.send(PayloadType.OUTPUT, chunk)

    async def _keepalive(self) -> None:
        """Send NOPs when due; SessionError when the agent went silent (never returns)."""
        while True:
            await asyncio.sleep(TICK)
            for event in self.smux.tick(self._clock()):
                if isinstance(event, KeepaliveTimeout):
                    raise SessionError(
                        f"the agent of session {self.channel.session_id} went silent "
                        f"for {event.silent_for:.0f} s (smux keepalive)"
                    )
            await self._flush()
