"""A small data-channel client for the agent-side tests, built from ssmctl.datachannel.

It speaks to the sandbox's StreamUrls over real websockets the way the plugin does: the
OpenDataChannel frame first, then a `Link`; it answers a HandshakeRequest at once, keeps
every Output / StdErr / ExitCode / Flag it is sent, and can resume after a dropped socket
(ResumeSession, new token, same ClientId). For mux port sessions it carries an smux
client whose streams the tests open directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from ssmctl.datachannel import ChannelClosed, Delivered, GaveUp, PayloadType, ReliableChannel, Role
from ssmctl.datachannel.chunking import chunk_bytes
from ssmctl.datachannel.handshake import HandshakeRequest, HandshakeResponse
from ssmctl.datachannel.link import Detached, Link
from ssmctl.datachannel.opening import OpenDataChannel, new_client_id
from ssmctl.datachannel.payloads import (
    ChannelClosedPayload,
    decode_exit_code,
    decode_flag,
    encode_flag,
    encode_size,
)
from ssmctl.datachannel.smux_session import SmuxSession, StreamClosed, StreamData
from ssmctl.sandbox import Sandbox

CLIENT_VERSION = "1.2.0.0"
PROMPTS = (b"$ ", b"# ")
WINDOW = 256


class Client:
    """One session's client side. Use `async with Client.start(...)`, or `open()`."""

    def __init__(self, sandbox: Sandbox, ssm: Any, response: dict[str, Any]) -> None:
        self.sandbox = sandbox
        self.ssm = ssm
        self.session_id: str = response["SessionId"]
        self.url: str = response["StreamUrl"]
        self.token: str = response["TokenValue"]
        self.client_id = new_client_id()
        # A modest window: the agent is Python, and a client that keeps 10,000 messages
        # queued ahead of it waits longer for acks than the 1 s resend timeout.
        self.link = Link(Role.CLIENT, channel=ReliableChannel(Role.CLIENT, window=WINDOW))
        self.output = bytearray()
        self.stderr = bytearray()
        self.exit_codes: list[int] = []
        self.flags: list[int] = []
        self.handshake: HandshakeRequest | None = None
        self.handshake_complete = asyncio.Event()
        self.closed: ChannelClosedPayload | None = None
        self.closed_event = asyncio.Event()
        self.detachments = 0
        self.resumes = 0
        """Resumes completed: a new socket is attached."""
        self.resume_on_detach = True
        self.order: list[int] = []
        """Payload types received, in order."""
        self.smux: SmuxSession | None = None
        self.streams: dict[int, bytearray] = {}
        self.stream_ended: dict[int, asyncio.Event] = {}
        self._changed = asyncio.Event()
        self.ws: ClientConnection
        self._pump: asyncio.Task[None] | None = None

    async def open(self, **headers: str) -> None:
        """Dial the StreamUrl and attach the link; start consuming events."""
        ws = await connect(
            self.url, compression=None, ping_interval=None, additional_headers=headers or None
        )
        self.ws = ws
        opening = OpenDataChannel(self.token, self.client_id, CLIENT_VERSION)
        await self.link.attach(ws, opening=opening)
        if self._pump is None:
            self._pump = asyncio.create_task(self._consume())

    async def resume(self) -> None:
        """ResumeSession, then redial with the new token (same ClientId)."""
        resumed = await asyncio.to_thread(self.ssm.resume_session, SessionId=self.session_id)
        self.url, self.token = resumed["StreamUrl"], resumed["TokenValue"]
        await self.open()
        self.resumes += 1

    def drop(self) -> None:
        """Cut the socket without a close frame, as a network failure would."""
        self.ws.transport.abort()

    async def close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        await self.link.close()

    # -- sending ---------------------------------------------------------------------

    async def send(self, data: bytes) -> None:
        """Keystrokes or port bytes, in chunks of at most 1024 bytes as the plugin sends."""
        for chunk in chunk_bytes(data):
            await self.link.send(PayloadType.OUTPUT, chunk)

    async def size(self, cols: int, rows: int) -> None:
        await self.link.send(PayloadType.SIZE, encode_size(cols, rows))

    async def flag(self, code: int) -> None:
        await self.link.send(PayloadType.FLAG, encode_flag(code))

    # -- waiting ---------------------------------------------------------------------

    async def until(self, done: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"timed out waiting for {what or done}; output so far: "
                    f"{bytes(self.output[-2000:])!r}"
                )
            self._changed.clear()
            # Woken by every event; polled too, for conditions on state outside the client.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.05))

    async def expect(self, text: bytes, timeout: float = 10.0, start: int = 0) -> int:
        """Wait until `text` appears in the output after `start`; returns where it ends."""
        await self.until(lambda: text in self.output[start:], timeout, repr(text))
        return self.output.index(text, start) + len(text)

    async def prompt(self, timeout: float = 10.0, start: int = 0) -> int:
        """Wait for a shell prompt (`$ `, or `# ` when the sandbox runs as root)."""
        await self.until(
            lambda: any(p in self.output[start:] for p in PROMPTS), timeout, "a prompt"
        )
        return len(self.output)

    async def wait_closed(self, timeout: float = 10.0) -> ChannelClosedPayload:
        await self.until(lambda: self.closed is not None, timeout, "channel_closed")
        assert self.closed is not None
        return self.closed

    # -- smux ------------------------------------------------------------------------

    def start_smux(self) -> SmuxSession:
        self.smux = SmuxSession(client=True, now=time.monotonic(), keepalive=False)
        return self.smux

    async def open_stream(self) -> int:
        assert self.smux is not None
        stream_id = self.smux.open_stream()
        self.streams[stream_id] = bytearray()
        self.stream_ended[stream_id] = asyncio.Event()
        await self.flush_smux()
        return stream_id

    async def stream_write(self, stream_id: int, data: bytes) -> None:
        assert self.smux is not None
        self.smux.write(stream_id, data)
        await self.flush_smux()

    async def stream_close(self, stream_id: int) -> None:
        assert self.smux is not None
        self.smux.close_stream(stream_id)
        await self.flush_smux()

    async def flush_smux(self) -> None:
        assert self.smux is not None
        await self.send(self.smux.data_to_send())

    # -- receiving -------------------------------------------------------------------

    async def _consume(self) -> None:
        async for event in self.link:
            if isinstance(event, Delivered):
                await self._delivered(event.payload_type, event.payload)
            elif isinstance(event, ChannelClosed):
                self.closed = event.payload
                self.closed_event.set()
            elif isinstance(event, Detached):
                self.detachments += 1
                if self.resume_on_detach and self.closed is None:
                    await self.resume()
            elif isinstance(event, GaveUp):
                raise AssertionError("the client gave up resending")
            self._changed.set()

    async def _delivered(self, payload_type: int, payload: bytes) -> None:
        self.order.append(payload_type)
        if payload_type == PayloadType.OUTPUT:
            if self.smux is not None:
                for event in self.smux.receive(payload, time.monotonic()):
                    if isinstance(event, StreamData):
                        self.streams[event.stream_id] += event.data
                    elif isinstance(event, StreamClosed):
                        self.stream_ended[event.stream_id].set()
            else:
                self.output += payload
        elif payload_type == PayloadType.STDERR:
            self.stderr += payload
        elif payload_type == PayloadType.EXIT_CODE:
            self.exit_codes.append(decode_exit_code(payload))
        elif payload_type == PayloadType.FLAG:
            self.flags.append(decode_flag(payload))
        elif payload_type == PayloadType.HANDSHAKE_REQUEST:
            self.handshake = HandshakeRequest.from_payload(payload)
            response = HandshakeResponse.answering(self.handshake, CLIENT_VERSION)
            await self.link.send(PayloadType.HANDSHAKE_RESPONSE, response.to_payload())
        elif payload_type == PayloadType.HANDSHAKE_COMPLETE:
            self.handshake_complete.set()


def start_session(ssm: Any, **params: Any) -> dict[str, Any]:
    response: dict[str, Any] = ssm.start_session(**params)
    return response


def session_record(sandbox: Sandbox, session_id: str) -> Any:
    record = sandbox.sessions.get(sandbox.account_id, sandbox.region, session_id)
    assert record is not None
    return record


def run(coroutine: Any, timeout: float = 60.0) -> Any:
    """Run a test's async body with an overall deadline."""
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


class Documents:
    """Session documents a test creates (unique names), deleted afterwards."""

    def __init__(self, ssm: Any) -> None:
        self.ssm = ssm
        self.names: list[str] = []

    def create(self, content: dict[str, Any]) -> str:
        import uuid

        name = f"test-{uuid.uuid4().hex[:12]}"
        self.ssm.create_document(
            Name=name, DocumentType="Session", DocumentFormat="JSON", Content=json.dumps(content)
        )
        self.names.append(name)
        return name

    def shell_preferences(self, **inputs: Any) -> str:
        """A Standard_Stream document: its inputs are the preferences of its sessions."""
        return self.create(
            {"schemaVersion": "1.0", "sessionType": "Standard_Stream", "inputs": inputs}
        )

    def delete_all(self) -> None:
        for name in self.names:
            with contextlib.suppress(Exception):
                self.ssm.delete_document(Name=name)
