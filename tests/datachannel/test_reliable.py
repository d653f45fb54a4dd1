"""ReliableChannel rules (protocol.md section 4), one at a time, on a virtual clock."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

import pytest

from ssmctl.datachannel import (
    Acknowledged,
    ChannelClosed,
    Delivered,
    GaveUp,
    HeaderFlag,
    InvalidMessage,
    Message,
    MessageType,
    PayloadType,
    ReliableChannel,
    Role,
    SendWindowFull,
)
from ssmctl.datachannel.payloads import Acknowledgement, ChannelClosedPayload
from ssmctl.datachannel.rto import RetransmissionTimer


def stream(seq: int, payload: bytes = b"x") -> bytes:
    return Message(MessageType.OUTPUT_STREAM_DATA, seq, PayloadType.OUTPUT, payload).encode()


def acks_in(wires: list[bytes]) -> list[int]:
    """Sequence numbers acknowledged by the acknowledge messages among `wires`."""
    out = []
    for wire in wires:
        message = Message.decode(wire)
        if message.message_type is MessageType.ACKNOWLEDGE:
            out.append(Acknowledgement.from_payload(message.payload).sequence_number)
    return out


def ack_for(wire: bytes) -> bytes:
    return Acknowledgement.of(Message.decode(wire)).to_message().encode()


def delivered(events: Sequence[object]) -> list[bytes]:
    return [e.payload for e in events if isinstance(e, Delivered)]


def test_sending_numbers_from_zero_with_role_conventions() -> None:
    agent = ReliableChannel(Role.AGENT)
    assert [agent.send(PayloadType.OUTPUT, b"a", 0.0) for _ in range(3)] == [0, 1, 2]
    messages = [Message.decode(w) for w in agent.data_to_send()]
    assert [m.sequence_number for m in messages] == [0, 1, 2]
    assert {m.message_type for m in messages} == {MessageType.OUTPUT_STREAM_DATA}
    assert [m.flags for m in messages] == [HeaderFlag.SYN, 0, 0]
    client = ReliableChannel(Role.CLIENT)
    client.send(PayloadType.SIZE, b"{}", 0.0)
    (first,) = [Message.decode(w) for w in client.data_to_send()]
    assert (first.message_type, first.flags, first.payload_type) == (
        MessageType.INPUT_STREAM_DATA,
        0,
        PayloadType.SIZE,
    )


def test_in_order_message_is_acked_and_delivered() -> None:
    client = ReliableChannel(Role.CLIENT)
    wire = stream(0, b"hello")
    assert delivered(client.receive(wire, 0.0)) == [b"hello"]
    (ack_wire,) = client.data_to_send()
    ack = Message.decode(ack_wire)
    assert (ack.message_type, ack.sequence_number, ack.flags, ack.payload_type) == (
        MessageType.ACKNOWLEDGE,
        0,
        3,
        0,
    )
    body = json.loads(ack.payload)
    assert body["AcknowledgedMessageType"] == "output_stream_data"
    assert body["AcknowledgedMessageId"] == str(Message.decode(wire).message_id)
    assert body["AcknowledgedMessageSequenceNumber"] == 0
    assert body["IsSequentialMessage"] is True
    assert client.expected_sequence_number == 1


def test_early_messages_are_acked_buffered_then_delivered_in_order() -> None:
    client = ReliableChannel(Role.CLIENT)
    assert client.receive(stream(2, b"c"), 0.0) == []
    assert client.receive(stream(1, b"b"), 0.0) == []
    assert acks_in(client.data_to_send()) == [2, 1]
    assert delivered(client.receive(stream(0, b"a"), 0.0)) == [b"a", b"b", b"c"]
    assert client.expected_sequence_number == 3


def test_stale_message_is_dropped_without_ack() -> None:
    client = ReliableChannel(Role.CLIENT)
    client.receive(stream(0), 0.0)
    client.data_to_send()
    assert client.receive(stream(0), 0.0) == []
    assert client.data_to_send() == []


def test_stale_message_is_acked_again_when_asked() -> None:
    client = ReliableChannel(Role.CLIENT, ack_stale=True)
    client.receive(stream(0), 0.0)
    client.data_to_send()
    assert client.receive(stream(0), 0.0) == []
    assert acks_in(client.data_to_send()) == [0]


def test_duplicate_early_message_is_acked_again_and_delivered_once() -> None:
    client = ReliableChannel(Role.CLIENT)
    client.receive(stream(1, b"first copy"), 0.0)
    client.receive(stream(1, b"second copy"), 0.0)
    assert acks_in(client.data_to_send()) == [1, 1]
    assert delivered(client.receive(stream(0, b"zero"), 0.0)) == [b"zero", b"first copy"]


def test_full_reorder_buffer_drops_without_ack() -> None:
    client = ReliableChannel(Role.CLIENT, window=2)
    for seq in (1, 2, 3):
        client.receive(stream(seq), 0.0)
    assert acks_in(client.data_to_send()) == [1, 2]
    assert len(delivered(client.receive(stream(0), 0.0))) == 3  # 0, 1, 2


def test_ack_removes_the_message_and_samples_rtt() -> None:
    agent = ReliableChannel(Role.AGENT)
    agent.send(PayloadType.OUTPUT, b"a", 1.0)
    (wire,) = agent.data_to_send()
    (event,) = agent.receive(ack_for(wire), 1.3)
    assert isinstance(event, Acknowledged)
    assert event.sequence_number == 0
    assert event.rtt == pytest.approx(0.3)
    assert agent.unacked_count == 0
    assert agent.timer.rtt == pytest.approx(0.875 * 0.1 + 0.125 * 0.3)
    assert agent.receive(ack_for(wire), 1.4) == []  # a duplicate ack changes nothing


def test_acks_match_by_sequence_number_only() -> None:
    agent = ReliableChannel(Role.AGENT)
    agent.send(PayloadType.OUTPUT, b"a", 0.0)
    other = Acknowledgement("whatever", str(uuid.uuid4()), 0).to_message().encode()
    assert [
        e.sequence_number for e in agent.receive(other, 0.1) if isinstance(e, Acknowledged)
    ] == [0]


def test_malformed_ack_is_an_invalid_message() -> None:
    agent = ReliableChannel(Role.AGENT)
    bad = Message(MessageType.ACKNOWLEDGE, 0, 0, b"{}").encode()
    with pytest.raises(InvalidMessage):
        agent.receive(bad, 0.0)


def test_channel_closed_is_reported_at_once_and_never_acked() -> None:
    client = ReliableChannel(Role.CLIENT)
    closed = ChannelClosedPayload(session_id="s-1", output="done")
    assert client.receive(closed.to_message().encode(), 0.0) == [ChannelClosed(closed)]
    garbled = Message(MessageType.CHANNEL_CLOSED, 0, 0, b"not json").encode()
    (event,) = client.receive(garbled, 0.0)
    assert isinstance(event, ChannelClosed)
    assert event.payload.session_id == ""
    assert client.data_to_send() == []


def test_agent_sends_channel_closed_outside_the_sequence() -> None:
    agent = ReliableChannel(Role.AGENT)
    agent.send_channel_closed(ChannelClosedPayload(session_id="s-1"))
    (wire,) = agent.data_to_send()
    message = Message.decode(wire)
    assert (message.message_type, message.sequence_number, message.payload_type) == (
        MessageType.CHANNEL_CLOSED,
        0,
        0,
    )
    assert agent.next_sequence_number == 0


def test_publication_messages_are_ignored() -> None:
    client = ReliableChannel(Role.CLIENT)
    for kind in (MessageType.START_PUBLICATION, MessageType.PAUSE_PUBLICATION):
        assert client.receive(Message(kind, 0, 0, b"").encode(), 0.0) == []
    assert client.data_to_send() == []


def test_rto_formula_and_cap() -> None:
    timer = RetransmissionTimer()
    assert timer.rto == pytest.approx(0.110)  # 100 ms + max(10 ms, 0)
    timer.sample(0.3)
    assert timer.rttvar == pytest.approx(0.25 * 0.2)
    assert timer.rtt == pytest.approx(0.125)
    assert timer.rto == pytest.approx(0.125 + 4 * 0.05)
    for _ in range(20):
        timer.sample(5.0)
    assert timer.rto == 1.0


def test_overdue_messages_are_resent_until_give_up() -> None:
    agent = ReliableChannel(Role.AGENT, max_resends=3)
    agent.send(PayloadType.OUTPUT, b"a", 0.0)
    (original,) = agent.data_to_send()
    assert agent.next_timeout() == pytest.approx(0.110)
    agent.tick(0.1)
    assert agent.data_to_send() == []  # not overdue yet
    now = 0.0
    for _ in range(3):
        now += 0.2
        assert agent.tick(now) == []
        assert agent.data_to_send() == [original]  # the very same bytes
    now += 0.2
    assert agent.tick(now) == [GaveUp(0, 3)]
    assert agent.gave_up
    assert agent.tick(now + 1) == []  # reported once
    assert agent.next_timeout() is None


def test_window_full_refuses_to_send() -> None:
    client = ReliableChannel(Role.CLIENT, window=2)
    client.send(PayloadType.OUTPUT, b"a", 0.0)
    client.send(PayloadType.OUTPUT, b"b", 0.0)
    assert client.window_available == 0
    with pytest.raises(SendWindowFull):
        client.send(PayloadType.OUTPUT, b"c", 0.0)
    first = client.data_to_send()[0]
    client.receive(ack_for(first), 0.1)
    assert client.window_available == 1


def test_reattach_queues_unacked_once_and_keeps_pending_acks() -> None:
    client = ReliableChannel(Role.CLIENT)
    client.send(PayloadType.OUTPUT, b"a", 0.0)
    sent = client.data_to_send()  # written to the old socket, lost with it
    client.send(PayloadType.OUTPUT, b"b", 0.0)  # queued for the old socket, never written
    client.receive(stream(0), 0.0)  # its ack is still queued
    client.reattach(5.0)
    out = client.data_to_send()
    assert acks_in(out) == [0]
    resent = [Message.decode(w) for w in out if Message.decode(w).message_type.is_stream_data]
    assert [m.sequence_number for m in resent] == [0, 1]
    assert out[1] == sent[0]
    assert client.next_timeout() == pytest.approx(5.110)  # the resend restarted the timer
