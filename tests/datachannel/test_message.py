"""The message codec against hand-built bytes from protocol.md section 3."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssmctl.datachannel import HEADER_LENGTH, InvalidMessage, Message, MessageType, PayloadType
from ssmctl.datachannel.message import swap_halves

from .helpers import QUICK

MESSAGE_ID = uuid.UUID("00112233-4455-6677-8899-aabbccddeeff")


def hand_built(
    *,
    message_type: bytes = b"output_stream_data",
    pad: bytes = b" ",
    header_length: int = 116,
    created: int = 1_700_000_000_123,
    seq: int = 7,
    flags: int = 1,
    payload_type: int = 1,
    payload: bytes = b"hello",
    digest: bytes | None = None,
    payload_length: int | None = None,
) -> bytes:
    """A message assembled field by field, independently of the codec."""
    return b"".join(
        [
            header_length.to_bytes(4, "big"),
            message_type + pad * (32 - len(message_type)),
            (1).to_bytes(4, "big"),
            created.to_bytes(8, "big"),
            seq.to_bytes(8, "big", signed=True),
            flags.to_bytes(8, "big"),
            bytes.fromhex("8899aabbccddeeff0011223344556677"),
            hashlib.sha256(payload).digest() if digest is None else digest,
            payload_type.to_bytes(4, "big"),
            (len(payload) if payload_length is None else payload_length).to_bytes(4, "big"),
            payload,
        ]
    )


def sample() -> Message:
    return Message(
        message_type=MessageType.OUTPUT_STREAM_DATA,
        sequence_number=7,
        payload_type=PayloadType.OUTPUT,
        payload=b"hello",
        message_id=MESSAGE_ID,
        created_date=1_700_000_000_123,
        flags=1,
    )


def test_encode_matches_the_layout_field_by_field() -> None:
    wire = sample().encode()
    assert wire == hand_built()
    assert len(wire) == 120 + 5
    assert wire[0:4] == b"\x00\x00\x00\x74"  # 116, big-endian
    assert wire[4:36] == b"output_stream_data" + b" " * 14
    assert wire[64:80] == MESSAGE_ID.bytes[8:] + MESSAGE_ID.bytes[:8]
    assert wire[80:112] == hashlib.sha256(b"hello").digest()
    assert wire[120:] == b"hello"


def test_decode_hand_built_bytes() -> None:
    assert Message.decode(hand_built()) == sample()


def test_message_type_padding_of_nuls_is_stripped() -> None:
    message = Message.decode(hand_built(message_type=b"acknowledge", pad=b"\x00"))
    assert message.message_type is MessageType.ACKNOWLEDGE


def test_empty_payload_and_negative_sequence_number() -> None:
    message = Message(MessageType.ACKNOWLEDGE, -1, PayloadType.NONE, b"", created_date=5)
    wire = message.encode()
    assert len(wire) == 120
    assert wire[116:120] == b"\x00\x00\x00\x00"
    assert Message.decode(wire) == message


def test_swap_halves_is_its_own_inverse() -> None:
    raw = bytes(range(16))
    assert swap_halves(raw) == bytes(range(8, 16)) + bytes(range(8))
    assert swap_halves(swap_halves(raw)) == raw


def test_payload_is_everything_after_the_length_field() -> None:
    # Readers do not trust PayloadLength, as the plugin does not.
    message = Message.decode(hand_built(payload_length=2))
    assert message.payload == b"hello"


def test_a_longer_header_moves_the_payload() -> None:
    payload = b"data"
    wire = bytearray(hand_built(payload=payload))
    # Header of 120: four unknown bytes, then PayloadLength, then the payload.
    wire[0:4] = (120).to_bytes(4, "big")
    wire[116:120] = b"\xff\xff\xff\xff"
    wire[120:] = len(payload).to_bytes(4, "big") + payload
    assert Message.decode(bytes(wire)).payload == payload


@pytest.mark.parametrize(
    ("wire", "reason"),
    [
        (hand_built()[:119], "shorter"),
        (hand_built(header_length=112), "HeaderLength"),
        (hand_built(header_length=4000), "HeaderLength"),
        (hand_built(message_type=b"bogus_type"), "MessageType"),
        (hand_built(message_type=b"\xff\xfe"), "MessageType"),
        (hand_built(created=0), "CreatedDate"),
        (hand_built(digest=b"\x00" * 32), "digest"),
        (hand_built()[:-1], "digest"),  # truncated payload
    ],
)
def test_corrupt_messages_are_rejected(wire: bytes, reason: str) -> None:
    with pytest.raises(InvalidMessage, match=reason):
        Message.decode(wire)


def test_empty_payload_skips_the_digest_check() -> None:
    wire = hand_built(payload=b"", digest=b"\x00" * 32)
    assert Message.decode(wire).payload == b""


def test_out_of_range_fields_are_refused() -> None:
    with pytest.raises(InvalidMessage, match="SequenceNumber"):
        Message(MessageType.ACKNOWLEDGE, 2**63, 0, b"")
    with pytest.raises(InvalidMessage, match="PayloadType"):
        Message(MessageType.ACKNOWLEDGE, 0, -1, b"")


def test_header_length_constant() -> None:
    assert HEADER_LENGTH == 116


messages = st.builds(
    Message,
    message_type=st.sampled_from(MessageType),
    sequence_number=st.integers(-(2**63), 2**63 - 1),
    payload_type=st.integers(0, 2**32 - 1),
    payload=st.binary(max_size=300),
    message_id=st.uuids(),
    created_date=st.integers(1, 2**64 - 1),
    flags=st.integers(0, 2**64 - 1),
    schema_version=st.integers(0, 2**32 - 1),
)


@QUICK
@given(messages)
def test_round_trip(message: Message) -> None:
    wire = message.encode()
    assert len(wire) == 120 + len(message.payload)
    assert Message.decode(wire) == message


@QUICK
@given(messages, st.data())
def test_any_flipped_payload_byte_is_caught(message: Message, data: st.DataObject) -> None:
    wire = bytearray(message.encode())
    if not message.payload:
        return
    index = data.draw(st.integers(120, len(wire) - 1))
    wire[index] ^= data.draw(st.integers(1, 255))
    with pytest.raises(InvalidMessage):
        Message.decode(bytes(wire))
