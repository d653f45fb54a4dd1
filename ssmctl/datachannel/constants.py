"""Names and numbers of the data-channel protocol (protocol.md sections 3 and 6)."""

from __future__ import annotations

import enum

HEADER_LENGTH = 116
"""Value of the HeaderLength field: the header without the HeaderLength and PayloadLength
fields themselves, so the payload starts at HEADER_LENGTH + 4 = 120."""

SCHEMA_VERSION = 1

CHUNK_SIZE = 1024
"""Largest stdin/port/output payload either side puts in one stream message."""


class MessageType(str, enum.Enum):
    """The MessageType header field."""

    INPUT_STREAM_DATA = "input_stream_data"
    OUTPUT_STREAM_DATA = "output_stream_data"
    ACKNOWLEDGE = "acknowledge"
    CHANNEL_CLOSED = "channel_closed"
    START_PUBLICATION = "start_publication"
    PAUSE_PUBLICATION = "pause_publication"

    @property
    def is_stream_data(self) -> bool:
        """True for the two types that are sequenced and acknowledged."""
        return self in (MessageType.INPUT_STREAM_DATA, MessageType.OUTPUT_STREAM_DATA)


class PayloadType(enum.IntEnum):
    """The PayloadType header field (0 for acks and channel_closed)."""

    NONE = 0
    OUTPUT = 1
    ERROR = 2
    SIZE = 3
    PARAMETER = 4
    HANDSHAKE_REQUEST = 5
    HANDSHAKE_RESPONSE = 6
    HANDSHAKE_COMPLETE = 7
    ENC_CHALLENGE_REQUEST = 8
    ENC_CHALLENGE_RESPONSE = 9
    FLAG = 10
    STDERR = 11
    EXIT_CODE = 12


class HeaderFlag(enum.IntFlag):
    """Bits of the Flags header field. Set by convention; nobody acts on them."""

    SYN = 1
    FIN = 2


ACK_FLAGS = HeaderFlag.SYN | HeaderFlag.FIN
"""Flags an acknowledge message carries."""


class FlagCode(enum.IntEnum):
    """Codes carried by a Flag payload (PayloadType.FLAG)."""

    DISCONNECT_TO_PORT = 1
    """Client: the local TCP client hung up (basic port forwarding)."""
    TERMINATE_SESSION = 2
    """Client: Ctrl-C in a port-forwarding mode."""
    CONNECT_TO_PORT_ERROR = 3
    """Agent: the destination is unreachable (mux port forwarding)."""


class Role(enum.Enum):
    """Which end of the data channel a reliable channel plays."""

    CLIENT = "client"
    """The plugin / native engine: sends input_stream_data."""
    AGENT = "agent"
    """The SSM agent (and the service in front of it): sends output_stream_data."""

    @property
    def send_type(self) -> MessageType:
        """The stream message type this role sends."""
        if self is Role.CLIENT:
            return MessageType.INPUT_STREAM_DATA
        return MessageType.OUTPUT_STREAM_DATA
