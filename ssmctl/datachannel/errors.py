"""Errors of the data-channel protocol.

`InvalidMessage` is the one a reader meets most: the message is to be dropped silently
(no ack), as the official plugin does, and the sender will retransmit it.
"""

from __future__ import annotations

from ssmctl.errors import SsmctlError


class DataChannelError(SsmctlError):
    """Base of every data-channel protocol error."""


class InvalidMessage(DataChannelError):
    """A received message failed validation; drop it without acknowledging it."""


class InvalidPayload(DataChannelError):
    """A payload (JSON or binary) does not have the shape the protocol defines."""


class SendWindowFull(DataChannelError):
    """Too many stream messages are waiting for an ack; wait for acks before sending."""


class SmuxError(DataChannelError):
    """The smux byte stream is corrupt (bad version or command); the session is unusable."""


class LinkClosed(DataChannelError):
    """The link was closed (or gave up) and can no longer send."""
