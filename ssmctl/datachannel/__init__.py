"""The Session Manager data-channel protocol, spoken by both ends (docs/protocol.md).

Sans-IO pieces, importable without asyncio or websockets:

- `message`: the binary message codec (`Message.encode` / `Message.decode`);
- `constants`: message types, payload types, header flags, Flag codes, roles;
- `payloads`, `opening`, `handshake`: acknowledge, channel_closed, Size, ExitCode, Flag,
  the OpenDataChannel frame and the session-start handshake;
- `versions`: the dotted-version rule and the port-forwarding decisions it drives;
- `chunking`: payload-sized chunks, never splitting UTF-8 in agent output;
- `reliable`: sequencing, acks, reordering, retransmission (`ReliableChannel`);
- `smux_frames`, `smux_session`: smux v1 for multiplexed port forwarding.

`ssmctl.datachannel.link` drives a ReliableChannel over asyncio and websockets for the
agent side and for the native client alike. It is not imported here, so that the codec
stays cheap to import.

This package imports neither the engines, the sandbox nor the CLI.
"""

from ssmctl.datachannel.constants import (
    CHUNK_SIZE,
    HEADER_LENGTH,
    FlagCode,
    HeaderFlag,
    MessageType,
    PayloadType,
    Role,
)
from ssmctl.datachannel.errors import (
    DataChannelError,
    InvalidMessage,
    InvalidPayload,
    LinkClosed,
    SendWindowFull,
    SmuxError,
)
from ssmctl.datachannel.message import Message
from ssmctl.datachannel.reliable import (
    Acknowledged,
    ChannelClosed,
    ChannelEvent,
    Delivered,
    GaveUp,
    ReliableChannel,
)

__all__ = [
    "CHUNK_SIZE",
    "HEADER_LENGTH",
    "Acknowledged",
    "ChannelClosed",
    "ChannelEvent",
    "DataChannelError",
    "Delivered",
    "FlagCode",
    "GaveUp",
    "HeaderFlag",
    "InvalidMessage",
    "InvalidPayload",
    "LinkClosed",
    "Message",
    "MessageType",
    "PayloadType",
    "ReliableChannel",
    "Role",
    "SendWindowFull",
    "SmuxError",
]
