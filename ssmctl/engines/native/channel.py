"""A session's data channel as the native engine sees it: dial, receive, send, resume.

`Channel` wraps a client `Link` (ssmctl.datachannel.link). It dials the StreamUrl with the
OpenDataChannel frame (one ClientId per run, a new RequestId per dial), hands out the far
end's stream messages in order, and when the socket drops without channel_closed it calls
ResumeSession and redials with the new token: the link keeps its sequence numbers and
unacked messages, so nothing is lost or repeated across the gap. The token is never put
into a message, a repr or an exception.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from ssmctl.datachannel import (
    ChannelClosed,
    Delivered,
    GaveUp,
    LinkClosed,
    PayloadType,
    ReliableChannel,
    Role,
)
from ssmctl.datachannel.chunking import chunk_bytes
from ssmctl.datachannel.link import Detached, Link
from ssmctl.datachannel.opening import OpenDataChannel, new_client_id
from ssmctl.datachannel.payloads import ChannelClosedPayload
from ssmctl.errors import SessionError

CLIENT_VERSION = "1.2.707.0"
"""What the engine advertises as ClientVersion: the plugin release whose data-channel
behaviour it implements. Agents gate features on it (smux port forwarding needs a
client newer than 1.1.70), so it must read like a plugin version."""

RESUME_TRIES = 6
RESUME_FIRST_DELAY = 0.1
"""The first back-off before ResumeSession: 100-199 ms, doubling per try (as the plugin)."""
CLOSE_TIMEOUT = 2.0
SEND_WINDOW = 1000
"""Messages (of up to 1 KiB) sent and not yet acknowledged before sending waits: about
the bandwidth-delay product of a fast link to AWS. The plugin allows 10,000; so many in
flight only queue up at a far end that is slower than ssmctl, until their round trip
outgrows the retransmission timeout and every one of them is sent again."""


@dataclasses.dataclass(frozen=True)
class SessionTicket:
    """A StartSession (or ResumeSession) response. The token never shows in a repr."""

    session_id: str
    token: str = dataclasses.field(repr=False)
    stream_url: str = dataclasses.field(repr=False)

    @classmethod
    def from_response(cls, response: Mapping[str, Any]) -> SessionTicket:
        return cls(
            str(response.get("SessionId", "")),
            str(response.get("TokenValue") or ""),
            str(response.get("StreamUrl") or ""),
        )


Connect = Callable[..., Any]
"""`websockets.asyncio.client.connect`-like: `await connect(url, **options)`."""


class Channel:
    """One session's data channel across reconnects (see the module docstring).

    `ssm` is the boto3 SSM client of the session's region (ResumeSession). `notice`
    shows one-line diagnostics. Call `open()` once, then `receive()` in one task.
    """

    def __init__(
        self,
        ssm: Any,
        ticket: SessionTicket,
        *,
        notice: Callable[[str], None],
        client_id: str | None = None,
        connect: Connect | None = None,
        resume_tries: int = RESUME_TRIES,
        resume_delay: float = RESUME_FIRST_DELAY,
    ) -> None:
        self.ssm = ssm
        self.session_id = ticket.session_id
        self.client_id = client_id or new_client_id()
        self.notice = notice
        self.link = Link(
            Role.CLIENT,
            channel=ReliableChannel(Role.CLIENT, window=SEND_WINDOW, ack_stale=True, backoff=True),
        )
        self.closed: ChannelClosedPayload | None = None
        """The channel_closed payload once the service ended the session."""
        self.resumed = 0
        """How many times the channel was resumed on a new socket."""
        self._ticket = ticket
        self._connect = connect
        self._resume_tries = resume_tries
        self._resume_delay = resume_delay
        self._budget = resume_tries
        """Resume attempts left; refilled whenever a message arrives, so a far end that
        accepts every redial and drops it at once cannot keep ssmctl resuming forever."""

    async def open(self, timeout: float | None) -> None:
        """Dial the StreamUrl of the ticket. SessionError when that fails."""
        try:
            await self._dial(self._ticket, timeout)
        except SessionError:
            raise
        except Exception as exc:
            raise SessionError(
                f"cannot open the data channel of session {self.session_id} at "
                f"{_where(self._ticket.stream_url)}: {_reason(exc)}"
            ) from None

    async def receive(self) -> Delivered | None:
        """The far end's next stream message, in order; None once the channel is closed.

        Resumes the session when the socket drops. Raises SessionError when a message
        was never acknowledged or the session cannot be resumed.
        """
        while self.closed is None:
            try:
                event = await self.link.next_event()
            except LinkClosed:
                raise SessionError(
                    f"the data channel of session {self.session_id} is closed"
                ) from None
            if isinstance(event, Delivered):
                self._budget = self._resume_tries
                return event
            if isinstance(event, ChannelClosed):
                self.closed = event.payload
            elif isinstance(event, GaveUp):
                raise SessionError(
                    f"the far end of session {self.session_id} stopped acknowledging "
                    f"messages ({event.attempts} resends)"
                )
            elif isinstance(event, Detached):
                await self._resume(event.reason)
        return None

    async def send(self, payload_type: int, payload: bytes) -> None:
        """Send one stream message (attached or not: it goes out once a socket is there)."""
        try:
            await self.link.send(payload_type, payload)
        except LinkClosed:
            raise SessionError(f"the data channel of session {self.session_id} is closed") from None

    async def send_data(self, data: bytes) -> None:
        """Send bytes as Output messages of at most 1024 bytes."""
        for chunk in chunk_bytes(data):
            await self.send(PayloadType.OUTPUT, chunk)

    async def wait_acked(self, timeout: float) -> bool:
        """Wait until the far end acknowledged everything sent (False on timeout)."""
        return await self.link.wait_acked(timeout)

    async def close(self) -> None:
        """Write what is queued (acks), then close the socket."""
        await self.link.close(CLOSE_TIMEOUT)

    async def _dial(self, ticket: SessionTicket, timeout: float | None) -> None:
        connect = self._connect
        if connect is None:
            from websockets.asyncio.client import connect as websockets_connect

            connect = websockets_connect
        from ssmctl import __version__

        websocket = await connect(
            ticket.stream_url,
            open_timeout=timeout,
            compression=None,
            user_agent_header=f"ssmctl/{__version__}",
        )
        opening = OpenDataChannel(ticket.token, self.client_id, CLIENT_VERSION)
        await self.link.attach(websocket, opening=opening)

    async def _resume(self, reason: str) -> None:
        """ResumeSession and redial, with back-off; SessionError after the last try."""
        delay = self._resume_delay * 2 ** (self._resume_tries - self._budget)
        last = reason
        while self._budget > 0:
            self._budget -= 1
            await asyncio.sleep(delay * (1 + random.random()))  # noqa: S311 - jitter only
            delay *= 2
            try:
                response = await asyncio.to_thread(
                    self.ssm.resume_session, SessionId=self.session_id
                )
            except Exception as exc:
                last = f"ResumeSession failed: {_reason(exc)}"
                if _final(exc):
                    break
                continue
            ticket = SessionTicket.from_response({**response, "SessionId": self.session_id})
            if not ticket.token:
                raise SessionError(f"session {self.session_id} has ended (it timed out)")
            try:
                await self._dial(ticket, timeout=10.0)
            except Exception as exc:
                last = f"cannot reconnect: {_reason(exc)}"
                continue
            self.resumed += 1
            return
        raise SessionError(
            f"lost the data channel of session {self.session_id} and could not resume it ({last})"
        )


def _final(exc: BaseException) -> bool:
    """True for ResumeSession errors that retrying cannot fix."""
    from ssmctl.aws import error_code

    return error_code(exc) in (
        "DoesNotExistException",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "ExpiredTokenException",
    )


def _where(url: str) -> str:
    """Scheme, host and port of a StreamUrl: enough to say where, nothing opaque."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else "(no StreamUrl)"


def _reason(exc: BaseException) -> str:
    from ssmctl.aws import translate

    error = translate(exc) if type(exc).__module__.startswith("botocore") else None
    if error is not None:
        return error.message
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    text = str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
