"""Payload helpers: exact JSON of protocol.md sections 2, 4, 5 and 7, and binary payloads."""

from __future__ import annotations

import json
import uuid

import pytest

from ssmctl.datachannel import (
    FlagCode,
    InvalidPayload,
    Message,
    MessageType,
    PayloadType,
)
from ssmctl.datachannel.handshake import (
    ActionStatus,
    ActionType,
    HandshakeComplete,
    HandshakeRequest,
    HandshakeResponse,
    ProcessedAction,
    SessionType,
)
from ssmctl.datachannel.opening import OpenDataChannel, new_client_id
from ssmctl.datachannel.payloads import (
    Acknowledgement,
    ChannelClosedPayload,
    decode_exit_code,
    decode_flag,
    decode_size,
    encode_exit_code,
    encode_flag,
    encode_size,
)

ID = uuid.UUID("00112233-4455-6677-8899-aabbccddeeff")


def test_acknowledge_payload_has_the_exact_keys() -> None:
    received = Message(MessageType.OUTPUT_STREAM_DATA, 12, PayloadType.OUTPUT, b"x", ID)
    ack = Acknowledgement.of(received)
    assert ack.to_payload() == (
        b'{"AcknowledgedMessageType":"output_stream_data",'
        b'"AcknowledgedMessageId":"00112233-4455-6677-8899-aabbccddeeff",'
        b'"AcknowledgedMessageSequenceNumber":12,"IsSequentialMessage":true}'
    )
    assert Acknowledgement.from_payload(ack.to_payload()) == ack


def test_acknowledge_message_header_conventions() -> None:
    message = Acknowledgement("input_stream_data", str(ID), 3).to_message()
    assert message.message_type is MessageType.ACKNOWLEDGE
    assert (message.sequence_number, message.flags, message.payload_type) == (0, 3, 0)
    assert Message.decode(message.encode()) == message


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"[]", b'{"AcknowledgedMessageSequenceNumber":"1"}', b"{}"],
)
def test_bad_acknowledge_payloads(payload: bytes) -> None:
    with pytest.raises(InvalidPayload):
        Acknowledgement.from_payload(payload)


def test_open_data_channel_frame() -> None:
    client_id = new_client_id()
    first = OpenDataChannel("token-1", client_id, "1.2.0.0")
    second = OpenDataChannel("token-2", client_id, "1.2.0.0")
    obj = json.loads(first.to_json())
    assert list(obj) == [
        "MessageSchemaVersion",
        "RequestId",
        "TokenValue",
        "ClientId",
        "ClientVersion",
    ]
    assert obj["MessageSchemaVersion"] == "1.0"
    assert obj["TokenValue"] == "token-1"
    assert obj["ClientId"] == client_id
    assert str(uuid.UUID(obj["RequestId"])) == obj["RequestId"]
    assert first.request_id != second.request_id  # a new RequestId per connect
    assert OpenDataChannel.from_json(first.to_json()) == first
    assert OpenDataChannel.from_json(second.to_json().encode()) == second


@pytest.mark.parametrize(
    "text",
    ["", "[]", '{"ClientId":"c"}', '{"TokenValue":"","ClientId":"c"}', '{"TokenValue":"t"}'],
)
def test_bad_open_data_channel_frames(text: str) -> None:
    with pytest.raises(InvalidPayload):
        OpenDataChannel.from_json(text)


def test_handshake_request_for_a_port_session() -> None:
    properties = {"portNumber": "80", "type": "LocalPortForwarding", "localPortNumber": "0"}
    request = HandshakeRequest.for_session("3.3.0.0", SessionType.PORT.value, properties)
    assert json.loads(request.to_payload()) == {
        "AgentVersion": "3.3.0.0",
        "RequestedClientActions": [
            {
                "ActionType": "SessionType",
                "ActionParameters": {"SessionType": "Port", "Properties": properties},
            }
        ],
    }
    parsed = HandshakeRequest.from_payload(request.to_payload())
    assert parsed == request
    assert parsed.session_type == "Port"
    assert parsed.properties == properties
    assert parsed.kms_key_id is None


def test_handshake_request_with_kms() -> None:
    request = HandshakeRequest.for_session(
        "3.3.0.0", SessionType.STANDARD_STREAM.value, kms_key_id="alias/k"
    )
    parsed = HandshakeRequest.from_payload(request.to_payload())
    assert parsed.kms_key_id == "alias/k"
    assert [a.action_type for a in parsed.actions] == ["SessionType", "KMSEncryption"]


def test_handshake_response_answering_supported_actions() -> None:
    request = HandshakeRequest.for_session("3.3.0.0", "Port", {}, kms_key_id="k")
    response = HandshakeResponse.answering(request, "1.2.0.0")
    assert [a.status for a in response.actions] == [
        ActionStatus.SUCCESS,
        ActionStatus.UNSUPPORTED,
    ]
    assert not response.succeeded
    ok = HandshakeResponse.answering(
        request, "1.2.0.0", supported=[ActionType.SESSION_TYPE, ActionType.KMS_ENCRYPTION]
    )
    assert ok.succeeded


def test_handshake_response_exact_shape() -> None:
    response = HandshakeResponse("1.2.0.0", (ProcessedAction("SessionType", 1),))
    assert response.to_payload() == (
        b'{"ClientVersion":"1.2.0.0","ProcessedClientActions":[{"ActionType":"SessionType",'
        b'"ActionStatus":1,"ActionResult":null,"Error":""}],"Errors":null}'
    )
    assert HandshakeResponse.from_payload(response.to_payload()) == response
    failed = HandshakeResponse(
        "1.2.0.0", (ProcessedAction("KMSEncryption", 2, {"k": 1}, "no key"),), ("bad",)
    )
    assert HandshakeResponse.from_payload(failed.to_payload()) == failed


@pytest.mark.parametrize(
    "payload",
    [
        b'{"ClientVersion":"1","ProcessedClientActions":[{"ActionType":"S"}]}',
        b'{"ClientVersion":"1","ProcessedClientActions":{}}',
        b'{"ClientVersion":"1","Errors":[1]}',
        b'{"ProcessedClientActions":[]}',
    ],
)
def test_bad_handshake_responses(payload: bytes) -> None:
    with pytest.raises(InvalidPayload):
        HandshakeResponse.from_payload(payload)


def test_bad_handshake_request() -> None:
    with pytest.raises(InvalidPayload):
        HandshakeRequest.from_payload(b'{"AgentVersion":"3","RequestedClientActions":[1]}')


def test_handshake_complete() -> None:
    done = HandshakeComplete(1234, "This session is encrypted using AWS KMS.")
    assert json.loads(done.to_payload()) == {
        "HandshakeTimeToComplete": 1234,
        "CustomerMessage": "This session is encrypted using AWS KMS.",
    }
    assert HandshakeComplete.from_payload(done.to_payload()) == done
    assert HandshakeComplete.from_payload(b"{}") == HandshakeComplete(0, "")


def test_channel_closed_payload() -> None:
    closed = ChannelClosedPayload(session_id="alice-0123", output="bye", destination_id="i-1")
    obj = json.loads(closed.to_payload())
    assert obj["MessageType"] == "channel_closed"
    assert obj["SchemaVersion"] == 1
    assert obj["SessionId"] == "alice-0123"
    assert obj["Output"] == "bye"
    assert obj["CreatedDate"].endswith("Z")
    assert ChannelClosedPayload.from_payload(closed.to_payload()) == closed
    message = closed.to_message()
    assert (message.message_type, message.sequence_number, message.payload_type) == (
        MessageType.CHANNEL_CLOSED,
        0,
        0,
    )


def test_size_payload() -> None:
    assert encode_size(300, 100) == b'{"cols":300,"rows":100}'
    assert decode_size(b'{"rows":24,"cols":80}') == (80, 24)
    with pytest.raises(InvalidPayload):
        decode_size(b'{"cols":true,"rows":1}')


def test_exit_code_payload() -> None:
    assert encode_exit_code(3) == b"EXIT_CODE: 3"
    assert decode_exit_code(b"EXIT_CODE: 3") == 3
    assert decode_exit_code(b"EXIT_CODE: -1\n") == -1
    with pytest.raises(InvalidPayload):
        decode_exit_code(b"EXIT: 3")


def test_flag_payload() -> None:
    assert encode_flag(FlagCode.TERMINATE_SESSION) == b"\x00\x00\x00\x02"
    assert decode_flag(b"\x00\x00\x00\x03") == FlagCode.CONNECT_TO_PORT_ERROR
    with pytest.raises(InvalidPayload):
        decode_flag(b"\x01")
