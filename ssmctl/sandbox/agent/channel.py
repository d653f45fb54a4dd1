"""The agent's reliable channel: ReliableChannel, plus what a reconnect needs on this side.

When a socket drops, the acks a client had already sent for the agent's last messages
can be lost with it. The official plugin never acks a message it has already delivered,
so those messages would be resent on every later socket forever (and the session given
up after 3,000 resends). But a reconnect resends every unacked message, in sequence
order, before anything sent after it, and the client reads a socket in order: so once
the client acks a message sent after the reconnect, it has seen every message carried
over the reconnect -- acked already, or dropped as a duplicate -- and those are settled.

When carried messages are still waiting and nothing newer is being sent, the agent
sends `PROBE`: an empty Output message, a no-op for every client, whose ack settles them.
Carried messages do not count against the send window: were they to fill it, nothing
newer (not even the probe) could be sent, and nothing would ever settle them.
"""

from __future__ import annotations

from typing import Any

from ssmctl.datachannel.message import Message
from ssmctl.datachannel.reliable import Acknowledged, ChannelEvent, ReliableChannel

PROBE = b""


class AgentChannel(ReliableChannel):
    """See the module docstring; takes ReliableChannel's arguments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._carried: set[int] = set()
        self._first_new = 0

    @property
    def carried(self) -> int:
        """Messages sent before the last reconnect that are still unacknowledged."""
        return len(self._carried)

    def _in_flight(self) -> int:
        return len(self._unacked) - len(self._carried)

    def reattach(self, now: float) -> None:
        super().reattach(now)
        self._carried |= set(self._unacked)
        self._first_new = self.next_sequence_number

    def receive_message(self, message: Message, now: float) -> list[ChannelEvent]:
        events = super().receive_message(message, now)
        if self._carried:
            if any(
                isinstance(event, Acknowledged) and event.sequence_number >= self._first_new
                for event in events
            ):
                for seq in self._carried:
                    self._unacked.pop(seq, None)
                self._carried.clear()
            else:
                self._carried.intersection_update(self._unacked)
        return events
