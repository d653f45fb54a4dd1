"""The binary message codec: a 120-byte big-endian header followed by the payload.

Layout (protocol.md section 3)::

    0   4  HeaderLength    uint32, 116
    4  32  MessageType     ASCII, left-aligned, space padded
    36  4  SchemaVersion   uint32
    40  8  CreatedDate     uint64 epoch milliseconds
    48  8  SequenceNumber  int64
    56  8  Flags           uint64
    64 16  MessageId       UUID, its two 8-byte halves swapped
    80 32  PayloadDigest   SHA-256 of the payload
    112 4  PayloadType     uint32
    116 4  PayloadLength   uint32
    120 n  Payload
"""

from __future__ import annotations

import dataclasses
import hashlib
import struct
import time
import uuid

from ssmctl.datachannel.constants import HEADER_LENGTH, SCHEMA_VERSION, MessageType
from ssmctl.datachannel.errors import InvalidMessage

_TYPE_WIDTH = 32
_HEADER = struct.Struct(">I32sIQqQ16s32sII")
_INT64 = (-(2**63), 2**63 - 1)
_UINT64 = (0, 2**64 - 1)
_UINT32 = (0, 2**32 - 1)


def now_ms() -> int:
    """The current wall-clock time in epoch milliseconds (what CreatedDate holds)."""
    return time.time_ns() // 1_000_000


def swap_halves(raw: bytes) -> bytes:
    """Swap the two 8-byte halves of a 16-byte MessageId (its own inverse)."""
    return raw[8:16] + raw[0:8]


@dataclasses.dataclass(frozen=True)
class Message:
    """One data-channel message, as sent in one BINARY WebSocket frame."""

    message_type: MessageType
    sequence_number: int
    payload_type: int
    payload: bytes
    message_id: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    created_date: int = dataclasses.field(default_factory=now_ms)
    flags: int = 0
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        _check_range("SequenceNumber", self.sequence_number, _INT64)
        _check_range("Flags", self.flags, _UINT64)
        _check_range("CreatedDate", self.created_date, _UINT64)
        _check_range("PayloadType", self.payload_type, _UINT32)
        _check_range("SchemaVersion", self.schema_version, _UINT32)
        _check_range("PayloadLength", len(self.payload), _UINT32)

    @property
    def digest(self) -> bytes:
        """SHA-256 of the payload as sent."""
        return hashlib.sha256(self.payload).digest()

    def encode(self) -> bytes:
        """The wire form of this message."""
        header = _HEADER.pack(
            HEADER_LENGTH,
            self.message_type.value.encode("ascii").ljust(_TYPE_WIDTH, b" "),
            self.schema_version,
            self.created_date,
            self.sequence_number,
            self.flags,
            swap_halves(self.message_id.bytes),
            self.digest,
            self.payload_type,
            len(self.payload),
        )
        return header + self.payload

    @classmethod
    def decode(cls, data: bytes) -> Message:
        """Parse and validate a wire message as the official plugin does.

        The payload is everything after HeaderLength + 4 (the PayloadLength field is not
        trusted). Raises InvalidMessage for a short message, a HeaderLength below 116, an
        unknown MessageType, a zero CreatedDate, or a non-empty payload whose digest does
        not match: the caller drops such a message without acking it.
        """
        if len(data) < _HEADER.size:
            raise InvalidMessage(f"message of {len(data)} bytes is shorter than its header")
        (
            header_length,
            raw_type,
            schema_version,
            created_date,
            sequence_number,
            flags,
            raw_id,
            digest,
            payload_type,
            _payload_length,
        ) = _HEADER.unpack_from(data)
        # A longer header would carry fields we do not know; the payload still starts
        # right after the PayloadLength field, which sits at HeaderLength.
        if header_length < HEADER_LENGTH or header_length + 4 > len(data):
            raise InvalidMessage(f"bad HeaderLength {header_length}")
        try:
            message_type = MessageType(raw_type.decode("ascii").strip("\x00 \t\r\n"))
        except (UnicodeDecodeError, ValueError):
            raise InvalidMessage(f"unknown MessageType {raw_type!r}") from None
        if created_date == 0:
            raise InvalidMessage("CreatedDate is 0")
        payload = bytes(data[header_length + 4 :])
        if payload and hashlib.sha256(payload).digest() != digest:
            raise InvalidMessage(f"payload digest mismatch in {message_type.value} message")
        return cls(
            message_type=message_type,
            sequence_number=sequence_number,
            payload_type=payload_type,
            payload=payload,
            message_id=uuid.UUID(bytes=swap_halves(raw_id)),
            created_date=created_date,
            flags=flags,
            schema_version=schema_version,
        )


def _check_range(name: str, value: int, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if not low <= value <= high:
        raise InvalidMessage(f"{name} {value} is out of range")
