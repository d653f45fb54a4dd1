"""The asyncio driver: a ReliableChannel carried over one WebSocket after another.

A `Link` lives as long as the *session*. It owns the session's `ReliableChannel`, and a
WebSocket connection is attached to it; when that socket drops, the link keeps its
sequence numbers, its unacked messages and its reorder buffer, and the next socket
attached carries on with nothing lost or repeated (every unacked message is sent again
on it; the receiver drops duplicates). While attached, the link reads every frame at
once (acks are queued from the reader, which never waits for the consumer), writes from
a separate task, and resends overdue messages every 100 ms. What the consumer sees
comes as events, in order, from `async for event in link` (or `next_event()`, or an
`on_event` callback):

- `Delivered`: a stream message, in sequence order, exactly once;
- `ChannelClosed`: the service closed the channel (end of session);
- `GaveUp`: a message went unacked through every resend (terminate the session);
- `Detached`: the socket dropped without channel_closed (not sent when you replace or
  detach it yourself, nor after channel_closed).

The link holds no policy: tokens, ResumeSession, shells and ports belong to its users.

Agent side (one Link per session, surviving socket drops until the session ends)::

    link = Link(Role.AGENT)                      # created with the session

    async def handler(ws):                       # websockets server handler
        opening = await receive_opening(ws, timeout=10)
        ...check opening.token_value, find that session's link...
        attachment = await link.attach(ws)       # replaces any older socket
        await attachment.wait_detached()         # keep the handler (and ws) alive

    await link.send(PayloadType.OUTPUT, chunk)   # anywhere, attached or not
    async for event in link: ...                 # Delivered input, Size, Flag...

    # Ending: let the output be acked, then channel_closed, then drop the socket.
    await link.wait_acked(timeout=5)
    await link.send_channel_closed(ChannelClosedPayload(session_id=..., destination_id=...))
    await link.close()

Client side (the native engine; resume = redial with a new token, same ClientId)::

    client_id = new_client_id()
    link = Link(Role.CLIENT)
    await link.attach(await websockets.connect(url),
                      opening=OpenDataChannel(token, client_id, CLIENT_VERSION))
    async for event in link:
        match event:
            case Delivered(): ...                # output, handshake, exit code
            case ChannelClosed() | GaveUp(): break
            case Detached():                     # ResumeSession -> new token and URL
                await link.attach(await websockets.connect(new_url),
                                  opening=OpenDataChannel(new_token, client_id, CLIENT_VERSION))
    await link.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from websockets.exceptions import ConnectionClosed

from ssmctl.datachannel.constants import Role
from ssmctl.datachannel.errors import InvalidMessage, LinkClosed
from ssmctl.datachannel.opening import OpenDataChannel
from ssmctl.datachannel.payloads import ChannelClosedPayload
from ssmctl.datachannel.reliable import (
    TICK,
    Acknowledged,
    ChannelClosed,
    ChannelEvent,
    Delivered,
    GaveUp,
    ReliableChannel,
)

logger = logging.getLogger(__name__)

CLOSE_TIMEOUT = 5.0
"""Seconds close() waits to flush queued messages and to close the socket."""

_GONE = (ConnectionClosed, OSError, EOFError)


class Transport(Protocol):
    """What the link needs of a WebSocket connection (websockets' asyncio connections)."""

    async def send(self, message: bytes | str) -> None:
        """Send one frame: bytes as BINARY, str as TEXT."""

    async def recv(self) -> bytes | str:
        """Receive one frame."""

    async def close(self) -> None:
        """Close the connection."""


@dataclasses.dataclass(frozen=True)
class Detached:
    """The attached socket dropped without channel_closed; attach a new one to go on."""

    reason: str


LinkEvent = Delivered | ChannelClosed | GaveUp | Detached


async def receive_opening(transport: Transport, timeout: float | None = None) -> OpenDataChannel:
    """Read the OpenDataChannel frame a client sends first (server side).

    Raises InvalidPayload for a malformed frame, asyncio.TimeoutError when none comes in time,
    and the transport's error when the socket closes first.
    """
    frame = await asyncio.wait_for(transport.recv(), timeout)
    return OpenDataChannel.from_json(frame)


class Attachment:
    """One socket attached to a link; `wait_detached()` returns when it no longer is."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.reason = ""
        self._wake = asyncio.Event()
        self._done = asyncio.Event()
        self._closing = False
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def attached(self) -> bool:
        """True until the socket dropped, was replaced, detached or the link closed."""
        return not self._done.is_set()

    async def wait_detached(self) -> str:
        """Wait until this socket is no longer attached; returns why."""
        await self._done.wait()
        return self.reason


class Link:
    """A session's reliable channel over successive WebSocket connections.

    See the module docstring for how the agent side and the client use it. `channel`
    lets a caller supply a configured ReliableChannel; `clock` (monotonic seconds) and
    `tick` exist for tests. With `on_event`, events go to that callback (which must
    neither block nor raise) instead of the queue read by `next_event()`.
    """

    def __init__(
        self,
        role: Role,
        *,
        channel: ReliableChannel | None = None,
        on_event: Callable[[LinkEvent], None] | None = None,
        tick: float = TICK,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if channel is not None and channel.role is not role:
            raise ValueError(f"a {channel.role.value} channel cannot serve a {role.value} link")
        self.channel = channel if channel is not None else ReliableChannel(role)
        self._on_event = on_event
        self._tick = tick
        self._clock = clock
        self._events: asyncio.Queue[LinkEvent | None] = asyncio.Queue()
        self._attachment: Attachment | None = None
        self._progress = asyncio.Event()
        self._closed = False
        self._peer_closed = False  # channel_closed arrived: a later drop is no Detached
        self._background: set[asyncio.Future[Any]] = set()

    # -- attaching -------------------------------------------------------------------

    @property
    def attached(self) -> bool:
        """True while a socket is attached."""
        return self._attachment is not None

    @property
    def closed(self) -> bool:
        """True once close() was called."""
        return self._closed

    async def attach(
        self, transport: Transport, *, opening: OpenDataChannel | None = None
    ) -> Attachment:
        """Carry the session over `transport` from now on, replacing any older socket.

        A client passes `opening`: it is sent first, as the TEXT frame. Every unacked
        message is then sent again on the new socket. Raises LinkClosed after close(),
        and the transport's error when sending `opening` fails.
        """
        self._check_attachable()
        if opening is not None:
            await transport.send(opening.to_json())
            self._check_attachable()
        # From here on nothing awaits, so concurrent attach() calls cannot interleave.
        if self._attachment is not None:
            # Not awaiting the old socket's close: a half-open one must not delay this.
            self._end(self._attachment, "detached", notify=False)
        attachment = Attachment(transport)
        self._attachment = attachment
        self.channel.reattach(self._clock())
        for run in (self._write, self._read, self._resend):
            attachment._tasks.append(asyncio.create_task(self._guard(run, attachment)))
        attachment._wake.set()
        return attachment

    async def detach(self) -> None:
        """Drop the current socket (if any) and close it; the session goes on."""
        attachment = self._attachment
        if attachment is not None:
            self._end(attachment, "detached", notify=False)
            await self._settle()

    # -- sending ---------------------------------------------------------------------

    async def send(self, payload_type: int, payload: bytes) -> int:
        """Send one stream message (attached or not); returns its sequence number.

        Waits while the unacked window is full. Raises LinkClosed after close() or
        once the channel gave up. Keep payloads to the protocol's chunk sizes (see
        ssmctl.datachannel.chunking).
        """
        while True:
            self._check_open()
            if self.channel.window_available > 0:
                break
            self._progress.clear()
            await self._progress.wait()
        seq = self.channel.send(payload_type, payload, self._clock())
        self._flush()
        return seq

    async def send_channel_closed(self, payload: ChannelClosedPayload) -> None:
        """Queue channel_closed (service side); close() makes sure it is written."""
        self._check_open()
        self.channel.send_channel_closed(payload)
        self._flush()

    async def wait_acked(self, timeout: float | None = None) -> bool:
        """Wait until every sent message is acked; False when `timeout` passed first."""

        async def settled() -> None:
            while self.channel.unacked_count and not (self._closed or self.channel.gave_up):
                self._progress.clear()
                await self._progress.wait()

        try:
            await asyncio.wait_for(settled(), timeout)
        except asyncio.TimeoutError:
            return False
        return self.channel.unacked_count == 0

    # -- events ----------------------------------------------------------------------

    async def next_event(self) -> LinkEvent:
        """The next event; raises LinkClosed once the link is closed and drained."""
        event = await self._events.get()
        if event is None:
            self._events.put_nowait(None)  # later callers end too
            raise LinkClosed("the link is closed")
        return event

    def __aiter__(self) -> Link:
        return self

    async def __anext__(self) -> LinkEvent:
        try:
            return await self.next_event()
        except LinkClosed:
            raise StopAsyncIteration from None

    # -- closing ---------------------------------------------------------------------

    async def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Write what is queued (such as channel_closed), close the socket, end the link."""
        if self._closed:
            return
        self._closed = True
        attachment = self._attachment
        if attachment is not None:
            attachment._closing = True
            attachment._wake.set()
            writer = attachment._tasks[0]  # attach() starts the writer first
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(writer), timeout)
            self._end(attachment, "link closed", notify=False)
        self._progress.set()
        self._events.put_nowait(None)
        await self._settle(timeout)

    async def __aenter__(self) -> Link:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- internals -------------------------------------------------------------------

    def _check_attachable(self) -> None:
        if self._closed:
            raise LinkClosed("the link is closed")

    def _check_open(self) -> None:
        self._check_attachable()
        if self.channel.gave_up:
            raise LinkClosed("the link gave up: a message was never acknowledged")

    def _flush(self) -> None:
        if self._attachment is not None:
            self._attachment._wake.set()

    def _emit(self, events: list[ChannelEvent]) -> None:
        for event in events:
            if isinstance(event, Acknowledged | GaveUp):
                self._progress.set()  # wakes senders waiting for window, and wait_acked
            if isinstance(event, ChannelClosed):
                self._peer_closed = True
            if not isinstance(event, Acknowledged):
                self._deliver(event)

    def _deliver(self, event: LinkEvent) -> None:
        if self._on_event is not None:
            self._on_event(event)
        else:
            self._events.put_nowait(event)

    async def _guard(
        self, run: Callable[[Attachment], Awaitable[None]], attachment: Attachment
    ) -> None:
        try:
            await run(attachment)
        except _GONE as exc:
            self._end(attachment, _describe(exc), notify=True)
        except Exception as exc:
            logger.exception("data-channel link task failed")
            self._end(attachment, f"internal error: {exc!r}", notify=True)

    async def _read(self, attachment: Attachment) -> None:
        while True:
            frame = await attachment.transport.recv()
            if isinstance(frame, str):
                continue  # only the opening frame is TEXT, and it is read before attach
            try:
                events = self.channel.receive(frame, self._clock())
            except InvalidMessage as exc:
                logger.debug("dropped an invalid data-channel message: %s", exc)
                continue
            attachment._wake.set()  # acks to write
            self._emit(events)

    async def _write(self, attachment: Attachment) -> None:
        while True:
            await attachment._wake.wait()
            attachment._wake.clear()
            for wire in self.channel.data_to_send():
                await attachment.transport.send(wire)
            if attachment._closing:
                return

    async def _resend(self, attachment: Attachment) -> None:
        while True:
            await asyncio.sleep(self._tick)
            events = self.channel.tick(self._clock())
            attachment._wake.set()
            self._emit(events)

    def _end(self, attachment: Attachment, reason: str, *, notify: bool) -> None:
        if not attachment.attached:
            return
        attachment.reason = reason
        attachment._done.set()
        current = asyncio.current_task()
        for task in attachment._tasks:
            if task is not current:
                task.cancel()
                self._keep(task)
        if self._attachment is attachment:
            self._attachment = None
        self._keep(asyncio.ensure_future(_close_quietly(attachment.transport)))
        if notify and not (self._closed or self._peer_closed):
            self._deliver(Detached(reason))

    def _keep(self, task: asyncio.Future[Any]) -> None:
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _settle(self, timeout: float = CLOSE_TIMEOUT) -> None:
        pending = [task for task in self._background if task is not asyncio.current_task()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)


async def _close_quietly(transport: Transport) -> None:
    with contextlib.suppress(*_GONE, asyncio.TimeoutError):
        await asyncio.wait_for(transport.close(), CLOSE_TIMEOUT)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
