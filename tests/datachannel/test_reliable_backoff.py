"""ReliableChannel(backoff=True): Karn's rule and timeout backoff (the native client's
choice; the plugin and agent resend everything on every timeout)."""

from __future__ import annotations

import pytest

from ssmctl.datachannel import PayloadType, ReliableChannel, Role
from ssmctl.datachannel.rto import MAX_RTO


def _deliver(sender: ReliableChannel, receiver: ReliableChannel, now: float) -> None:
    for wire in sender.data_to_send():
        receiver.receive(wire, now)


def test_timeouts_double_the_timeout_until_a_clean_sample() -> None:
    client, agent = ReliableChannel(Role.CLIENT, backoff=True), ReliableChannel(Role.AGENT)
    client.send(PayloadType.OUTPUT, b"x", 0.0)
    client.data_to_send()  # lost
    rto = client.timer.rto
    first = rto + 0.001
    client.tick(first)
    assert len(client.data_to_send()) == 1  # lost again
    client.tick(first + 1.9 * rto)
    assert client.data_to_send() == []  # the timeout doubled
    second = first + 2.1 * rto
    client.tick(second)
    assert len(client.data_to_send()) == 1
    assert client.next_timeout() == pytest.approx(second + 4 * rto)
    # A message acked without a resend is a clean sample: the timeout is back to normal.
    client.send(PayloadType.OUTPUT, b"y", second)
    _deliver(client, agent, second)
    _deliver(agent, client, second + 0.05)
    assert client.unacked_count == 1  # "x" is still missing
    assert client.next_timeout() == pytest.approx(second + client.timer.rto)


def test_resent_messages_are_not_sampled() -> None:
    client, agent = ReliableChannel(Role.CLIENT, backoff=True), ReliableChannel(Role.AGENT)
    client.send(PayloadType.OUTPUT, b"x", 0.0)
    client.data_to_send()
    client.tick(0.2)
    _deliver(client, agent, 0.2)
    before = (client.timer.rtt, client.timer.rttvar)
    _deliver(agent, client, 0.9)  # its ack may answer the first copy or the second
    assert client.unacked_count == 0
    assert (client.timer.rtt, client.timer.rttvar) == before


def test_backoff_is_capped() -> None:
    client = ReliableChannel(Role.CLIENT, backoff=True)
    client.send(PayloadType.OUTPUT, b"x", 0.0)
    now = 0.0
    for _ in range(12):
        now += MAX_RTO + 0.001
        client.tick(now)
    assert client.next_timeout() == pytest.approx(now + MAX_RTO)


def test_without_backoff_every_timeout_resends_at_the_same_pace() -> None:
    client = ReliableChannel(Role.CLIENT)
    client.send(PayloadType.OUTPUT, b"x", 0.0)
    client.data_to_send()
    rto = client.timer.rto
    for n in range(1, 4):
        client.tick(n * (rto + 0.001))
        assert len(client.data_to_send()) == 1
