"""Small payloads: acknowledge, channel_closed, Size, ExitCode and Flag.

JSON is written compactly with the keys in the order the Go implementations emit them.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
import struct
import uuid
from collections.abc import Mapping
from typing import Any

from ssmctl.datachannel.constants import ACK_FLAGS, MessageType, PayloadType
from ssmctl.datachannel.errors import InvalidPayload
from ssmctl.datachannel.message import Message


def dump_json(value: object) -> bytes:
    """Compact JSON bytes, as the Go encoder writes them."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def load_json_object(payload: bytes | str, what: str) -> dict[str, Any]:
    """Parse a JSON object payload; InvalidPayload when it is not one."""
    try:
        value = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidPayload(f"{what} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidPayload(f"{what} is not a JSON object")
    return value


def field(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> Any:
    """obj[key] checked against kind (bool is never accepted as an int)."""
    value = obj.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _kinds(kind)):
        raise InvalidPayload(f"{what}: {key} missing or not {_kind_name(kind)}")
    return value


# -- acknowledge -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Acknowledgement:
    """The payload of an acknowledge message."""

    message_type: str
    message_id: str
    sequence_number: int
    is_sequential: bool = True

    @classmethod
    def of(cls, message: Message) -> Acknowledgement:
        """The acknowledgement of a received stream message."""
        return cls(message.message_type.value, str(message.message_id), message.sequence_number)

    def to_payload(self) -> bytes:
        """JSON with the exact keys of protocol.md section 4."""
        return dump_json(
            {
                "AcknowledgedMessageType": self.message_type,
                "AcknowledgedMessageId": self.message_id,
                "AcknowledgedMessageSequenceNumber": self.sequence_number,
                "IsSequentialMessage": self.is_sequential,
            }
        )

    @classmethod
    def from_payload(cls, payload: bytes) -> Acknowledgement:
        """Parse an acknowledge payload; receivers use only the sequence number."""
        what = "acknowledge payload"
        obj = load_json_object(payload, what)
        sequential = obj.get("IsSequentialMessage", True)
        return cls(
            message_type=str(obj.get("AcknowledgedMessageType", "")),
            message_id=str(obj.get("AcknowledgedMessageId", "")),
            sequence_number=field(obj, "AcknowledgedMessageSequenceNumber", int, what),
            is_sequential=bool(sequential),
        )

    def to_message(self) -> Message:
        """The acknowledge message: outside the sequence (0), Flags 3, PayloadType 0."""
        return Message(
            message_type=MessageType.ACKNOWLEDGE,
            sequence_number=0,
            payload_type=PayloadType.NONE,
            payload=self.to_payload(),
            flags=ACK_FLAGS,
        )


# -- channel_closed ----------------------------------------------------------------------


def _iso_now() -> str:
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclasses.dataclass(frozen=True)
class ChannelClosedPayload:
    """The payload of channel_closed: the service ends the session (protocol.md section 7).

    The official plugin prints `Exiting session with sessionId: <id>.` when `output` is
    empty, otherwise `SessionId: <id> : <output>`.
    """

    session_id: str
    output: str = ""
    destination_id: str = ""
    message_id: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))
    created_date: str = dataclasses.field(default_factory=_iso_now)
    schema_version: int = 1

    def to_payload(self) -> bytes:
        """JSON with the keys the service sends."""
        return dump_json(
            {
                "MessageId": self.message_id,
                "CreatedDate": self.created_date,
                "DestinationId": self.destination_id,
                "SessionId": self.session_id,
                "MessageType": MessageType.CHANNEL_CLOSED.value,
                "SchemaVersion": self.schema_version,
                "Output": self.output,
            }
        )

    @classmethod
    def from_payload(cls, payload: bytes) -> ChannelClosedPayload:
        """Parse a channel_closed payload; absent text fields read as empty."""
        obj = load_json_object(payload, "channel_closed payload")
        version = obj.get("SchemaVersion", 1)
        return cls(
            session_id=_text(obj, "SessionId"),
            output=_text(obj, "Output"),
            destination_id=_text(obj, "DestinationId"),
            message_id=_text(obj, "MessageId"),
            created_date=_text(obj, "CreatedDate"),
            schema_version=version if isinstance(version, int) else 1,
        )

    def to_message(self) -> Message:
        """The channel_closed message: outside the sequence (0), PayloadType 0."""
        return Message(
            message_type=MessageType.CHANNEL_CLOSED,
            sequence_number=0,
            payload_type=PayloadType.NONE,
            payload=self.to_payload(),
        )


# -- Size, ExitCode, Flag ----------------------------------------------------------------


def encode_size(cols: int, rows: int) -> bytes:
    """A Size payload (client -> agent): `{"cols":N,"rows":N}`."""
    return dump_json({"cols": cols, "rows": rows})


def decode_size(payload: bytes) -> tuple[int, int]:
    """(cols, rows) from a Size payload."""
    what = "Size payload"
    obj = load_json_object(payload, what)
    return field(obj, "cols", int, what), field(obj, "rows", int, what)


_EXIT_CODE_RE = re.compile(rb"^EXIT_CODE: (-?\d+)\s*$")


def encode_exit_code(code: int) -> bytes:
    """An ExitCode payload (agent -> client): `EXIT_CODE: <n>`."""
    return f"EXIT_CODE: {code}".encode("ascii")


def decode_exit_code(payload: bytes) -> int:
    """The exit status in an ExitCode payload."""
    match = _EXIT_CODE_RE.match(payload)
    if match is None:
        raise InvalidPayload(f"ExitCode payload {payload[:40]!r} is not 'EXIT_CODE: <n>'")
    return int(match.group(1))


_FLAG = struct.Struct(">I")


def encode_flag(code: int) -> bytes:
    """A Flag payload: the code as a 4-byte big-endian uint32 (see FlagCode)."""
    return _FLAG.pack(code)


def decode_flag(payload: bytes) -> int:
    """The code in a Flag payload (compare with FlagCode; unknown codes pass through)."""
    if len(payload) != _FLAG.size:
        raise InvalidPayload(f"Flag payload has {len(payload)} bytes, not 4")
    code: int = _FLAG.unpack(payload)[0]
    return code


def _text(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def _kinds(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    return " or ".join(k.__name__ for k in _kinds(kind))
