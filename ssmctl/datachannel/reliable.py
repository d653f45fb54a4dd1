"""The reliable channel: sequencing, acks, reordering and retransmission, without I/O.

One `ReliableChannel` serves one side of a session for the session's whole life: its
sequence counters, unacked messages and reorder buffer survive reconnects, so that after
a new WebSocket is attached both sides carry on where they were (protocol.md section 4).

The caller feeds it what arrives (`receive`), asks it to send (`send`), calls `tick`
about every 100 ms, and writes whatever `data_to_send()` returns to the current socket.
Time is passed in as `now` (seconds on any monotonic clock), so tests can run on a
virtual clock. `ssmctl.datachannel.link.Link` drives one over asyncio and websockets.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable

from ssmctl.datachannel.constants import ACK_FLAGS, HeaderFlag, MessageType, PayloadType, Role
from ssmctl.datachannel.errors import InvalidMessage, InvalidPayload, SendWindowFull
from ssmctl.datachannel.message import Message, now_ms
from ssmctl.datachannel.payloads import Acknowledgement, ChannelClosedPayload
from ssmctl.datachannel.rto import CLOCK_GRANULARITY, MAX_RTO, RetransmissionTimer

WINDOW = 10_000
"""Capacity of the unacked-outgoing list and of the incoming reorder buffer."""

MAX_RESENDS = 3000
"""Resends of one message before giving up (the plugin then terminates the session)."""

TICK = 0.100
"""How often the caller should call tick(), in seconds."""


@dataclasses.dataclass(frozen=True)
class Delivered:
    """A stream message delivered in order, exactly once."""

    message: Message

    @property
    def payload_type(self) -> int:
        """The message's PayloadType (compare with PayloadType)."""
        return self.message.payload_type

    @property
    def payload(self) -> bytes:
        """The message's payload."""
        return self.message.payload


@dataclasses.dataclass(frozen=True)
class Acknowledged:
    """The peer acknowledged one of our stream messages."""

    sequence_number: int
    rtt: float


@dataclasses.dataclass(frozen=True)
class ChannelClosed:
    """channel_closed arrived: the session is over (handled at once, never acked)."""

    payload: ChannelClosedPayload


@dataclasses.dataclass(frozen=True)
class GaveUp:
    """A message went unacknowledged through every resend: terminate the session."""

    sequence_number: int
    attempts: int


ChannelEvent = Delivered | Acknowledged | ChannelClosed | GaveUp


@dataclasses.dataclass
class _Unacked:
    message: Message
    wire: bytes
    last_sent: float
    resends: int = 0


class ReliableChannel:
    """One side's sequencing state for a whole session (see the module docstring).

    `ack_stale` (default False, as the plugin and agent behave) also acks a stream
    message older than the one expected. Such a message was delivered already, and its
    first ack was lost, typically with a socket that dropped; without a new ack the peer
    resends it until it gives up. The extra ack is harmless to either official
    implementation, which match acks by sequence number and ignore unknown ones.

    `backoff` (default False, as the plugin and agent behave) follows TCP's rules for a
    peer slower than the round-trip estimate: the round trip of a message sent again is
    not sampled (its ack may answer either copy: Karn's rule), and every timeout doubles
    the retransmission timeout (up to its cap) until a clean sample comes. Without it
    such a peer gets every unacked message again on every timeout, and the duplicates
    slow it down further.
    """

    def __init__(
        self,
        role: Role,
        *,
        window: int = WINDOW,
        max_resends: int = MAX_RESENDS,
        ack_stale: bool = False,
        backoff: bool = False,
        new_message_id: Callable[[], uuid.UUID] = uuid.uuid4,
        wall_clock_ms: Callable[[], int] = now_ms,
    ) -> None:
        self.role = role
        self.window = window
        self.max_resends = max_resends
        self.ack_stale = ack_stale
        self.backoff = backoff
        self.timer = RetransmissionTimer()
        self._backoff_factor = 1.0
        self.gave_up = False
        self._new_id = new_message_id
        self._wall_ms = wall_clock_ms
        self._next_seq = 0
        self._expected = 0
        self._unacked: dict[int, _Unacked] = {}
        self._early: dict[int, Message] = {}
        # (sequence number or None for acks/control, wire bytes), in sending order
        self._outbox: list[tuple[int | None, bytes]] = []

    # -- state -----------------------------------------------------------------------

    @property
    def next_sequence_number(self) -> int:
        """The sequence number the next sent stream message gets."""
        return self._next_seq

    @property
    def expected_sequence_number(self) -> int:
        """The sequence number of the next stream message to deliver."""
        return self._expected

    @property
    def unacked_count(self) -> int:
        """Stream messages sent and not yet acknowledged."""
        return len(self._unacked)

    @property
    def window_available(self) -> int:
        """How many more stream messages can be sent before acks must come back."""
        return max(0, self.window - self._in_flight())

    def _in_flight(self) -> int:
        """Unacked messages that count against the window."""
        return len(self._unacked)

    def next_timeout(self) -> float | None:
        """When (on the `now` clock) the earliest unacked message becomes overdue."""
        if not self._unacked or self.gave_up:
            return None
        return min(entry.last_sent for entry in self._unacked.values()) + self._rto()

    def _rto(self) -> float:
        return min(MAX_RTO, self.timer.rto * self._backoff_factor)

    # -- sending ---------------------------------------------------------------------

    def send(self, payload_type: int, payload: bytes, now: float) -> int:
        """Queue a stream message; returns its sequence number.

        Raises SendWindowFull when `window` messages are already waiting for acks.
        """
        if self._in_flight() >= self.window:
            raise SendWindowFull(f"{len(self._unacked)} messages are waiting for an ack")
        seq = self._next_seq
        # The agent marks its first output with SYN; nobody acts on it, but we match it.
        first = self.role is Role.AGENT and seq == 0
        message = Message(
            message_type=self.role.send_type,
            sequence_number=seq,
            payload_type=payload_type,
            payload=payload,
            message_id=self._new_id(),
            created_date=self._wall_ms(),
            flags=HeaderFlag.SYN if first else 0,
        )
        wire = message.encode()
        self._unacked[seq] = _Unacked(message, wire, now)
        self._outbox.append((seq, wire))
        self._next_seq += 1
        return seq

    def send_channel_closed(self, payload: ChannelClosedPayload) -> None:
        """Queue channel_closed (service side): outside the sequence, never acked."""
        self._outbox.append((None, self._control(MessageType.CHANNEL_CLOSED, payload.to_payload())))

    def data_to_send(self) -> list[bytes]:
        """Take the wire messages to write to the socket, in order."""
        out, self._outbox = self._outbox, []
        return [wire for _, wire in out]

    def reattach(self, now: float) -> None:
        """A new socket replaces the old one: queue every unacked message for it.

        Stream messages queued for the old socket are superseded (each is resent once, in
        sequence order); pending acks and control messages stay queued.
        """
        control = [item for item in self._outbox if item[0] is None]
        for entry in self._unacked.values():
            entry.last_sent = now
        self._outbox = control + [(seq, entry.wire) for seq, entry in self._unacked.items()]

    def tick(self, now: float) -> list[ChannelEvent]:
        """Resend every overdue message; GaveUp once one has used up its resends."""
        if self.gave_up:
            return []
        rto = self._rto()
        resent = False
        for seq, entry in self._unacked.items():
            if now - entry.last_sent <= rto:
                continue
            if entry.resends >= self.max_resends:
                self.gave_up = True
                return [GaveUp(seq, entry.resends)]
            entry.resends += 1
            entry.last_sent = now
            self._outbox.append((seq, entry.wire))
            resent = True
        if resent and self.backoff:
            self._backoff_factor = min(self._backoff_factor * 2, MAX_RTO / CLOCK_GRANULARITY)
        return []

    # -- receiving -------------------------------------------------------------------

    def receive(self, data: bytes, now: float) -> list[ChannelEvent]:
        """Handle one wire message. Raises InvalidMessage: drop it silently (no ack)."""
        return self.receive_message(Message.decode(data), now)

    def receive_message(self, message: Message, now: float) -> list[ChannelEvent]:
        """Handle one decoded message (see receive)."""
        kind = message.message_type
        if kind is MessageType.ACKNOWLEDGE:
            return self._on_ack(message, now)
        if kind is MessageType.CHANNEL_CLOSED:
            return [ChannelClosed(_closed_payload(message.payload))]
        if not kind.is_stream_data:
            return []  # start_publication / pause_publication: ignored, as the plugin does
        return self._on_stream(message)

    def _on_ack(self, message: Message, now: float) -> list[ChannelEvent]:
        try:
            ack = Acknowledgement.from_payload(message.payload)
        except InvalidPayload as exc:
            raise InvalidMessage(str(exc)) from None
        entry = self._unacked.pop(ack.sequence_number, None)
        if entry is None:
            return []  # a duplicate ack, or one for a message we never sent
        rtt = now - entry.last_sent
        if not (self.backoff and entry.resends):
            self.timer.sample(rtt)
            self._backoff_factor = 1.0
        return [Acknowledged(ack.sequence_number, rtt)]

    def _on_stream(self, message: Message) -> list[ChannelEvent]:
        seq = message.sequence_number
        if seq < self._expected:
            if self.ack_stale:
                self._ack(message)
            return []
        if seq > self._expected:
            if seq in self._early:
                self._ack(message)  # a duplicate: ack again, keep the first copy
            elif len(self._early) < self.window:
                self._ack(message)
                self._early[seq] = message
            return []  # buffer full: no ack, so the peer resends it later
        self._ack(message)
        delivered: list[ChannelEvent] = [Delivered(message)]
        self._expected += 1
        while (following := self._early.pop(self._expected, None)) is not None:
            delivered.append(Delivered(following))
            self._expected += 1
        return delivered

    def _ack(self, message: Message) -> None:
        ack = Acknowledgement.of(message)
        self._outbox.append((None, self._control(MessageType.ACKNOWLEDGE, ack.to_payload())))

    def _control(self, kind: MessageType, payload: bytes) -> bytes:
        return Message(
            message_type=kind,
            sequence_number=0,
            payload_type=PayloadType.NONE,
            payload=payload,
            message_id=self._new_id(),
            created_date=self._wall_ms(),
            flags=ACK_FLAGS if kind is MessageType.ACKNOWLEDGE else 0,
        ).encode()


def _closed_payload(payload: bytes) -> ChannelClosedPayload:
    # channel_closed ends the session whatever its payload says; a payload we cannot
    # read must not keep the session alive.
    try:
        return ChannelClosedPayload.from_payload(payload)
    except InvalidPayload:
        return ChannelClosedPayload(session_id="", message_id="", created_date="")
