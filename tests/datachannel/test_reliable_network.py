"""Two reliable channels over a lossy, duplicating, reordering network (hypothesis).

Whatever the network does, including dropping every packet in flight at a reconnect,
each side delivers every payload the other sent exactly once and in order, once the
network heals.
"""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from ssmctl.datachannel import Delivered, PayloadType, ReliableChannel, Role

from .helpers import SIMULATION


@dataclasses.dataclass
class Network:
    """Both ends, the packets in flight each way, and a virtual clock."""

    ack_stale: bool
    now: float = 0.0

    def __post_init__(self) -> None:
        self.ends = [
            ReliableChannel(Role.CLIENT, ack_stale=self.ack_stale),
            ReliableChannel(Role.AGENT, ack_stale=self.ack_stale),
        ]
        self.in_flight: list[list[bytes]] = [[], []]  # [i]: from end i to the other
        self.sent: list[list[bytes]] = [[], []]
        self.got: list[list[bytes]] = [[], []]

    def collect(self) -> None:
        for side, end in enumerate(self.ends):
            self.in_flight[side] += end.data_to_send()

    def send(self, side: int) -> None:
        payload = f"{side}:{len(self.sent[side])}".encode()
        self.sent[side].append(payload)
        self.ends[side].send(PayloadType.OUTPUT, payload, self.now)
        self.collect()

    def deliver(self, side: int, index: int, keep_copy: bool) -> None:
        flight = self.in_flight[side]
        if not flight:
            return
        wire = flight[index % len(flight)] if keep_copy else flight.pop(index % len(flight))
        events = self.ends[1 - side].receive(wire, self.now)
        self.got[1 - side] += [e.payload for e in events if isinstance(e, Delivered)]
        self.collect()

    def drop(self, side: int, index: int) -> None:
        if self.in_flight[side]:
            self.in_flight[side].pop(index % len(self.in_flight[side]))

    def wait(self, seconds: float) -> None:
        self.now += seconds
        for end in self.ends:
            assert end.tick(self.now) == []
        self.collect()

    def reconnect(self) -> None:
        self.in_flight = [[], []]
        for end in self.ends:
            end.reattach(self.now)
        self.collect()

    def heal(self) -> None:
        """A perfect network until both sides have everything (bounded)."""
        for _ in range(100):
            while any(self.in_flight):
                for side in (0, 1):
                    if self.in_flight[side]:
                        self.deliver(side, 0, keep_copy=False)
            if self.got == [self.sent[1], self.sent[0]] and (
                not self.ack_stale or not any(e.unacked_count for e in self.ends)
            ):
                return
            self.wait(0.5)


@dataclasses.dataclass(frozen=True)
class Send:
    side: int

    def apply(self, net: Network) -> None:
        net.send(self.side)


@dataclasses.dataclass(frozen=True)
class Deliver:
    side: int
    index: int
    keep_copy: bool  # a duplicate: the packet stays in flight

    def apply(self, net: Network) -> None:
        net.deliver(self.side, self.index, self.keep_copy)


@dataclasses.dataclass(frozen=True)
class Drop:
    side: int
    index: int

    def apply(self, net: Network) -> None:
        net.drop(self.side, self.index)


@dataclasses.dataclass(frozen=True)
class Wait:
    seconds: float

    def apply(self, net: Network) -> None:
        net.wait(self.seconds)


@dataclasses.dataclass(frozen=True)
class Reconnect:
    def apply(self, net: Network) -> None:
        net.reconnect()


Operation = Send | Deliver | Drop | Wait | Reconnect

sides = st.sampled_from([0, 1])
indexes = st.integers(0, 40)
operations = st.lists(
    st.one_of(
        st.builds(Send, sides),
        st.builds(Deliver, sides, indexes, st.booleans()),
        st.builds(Drop, sides, indexes),
        st.builds(Wait, st.sampled_from([0.05, 0.2, 1.5])),
        st.just(Reconnect()),
    ),
    max_size=120,
)


def run(net: Network, ops: list[Operation]) -> None:
    for op in ops:
        op.apply(net)
    net.heal()


@SIMULATION
@given(operations)
def test_exactly_once_in_order_as_specified(ops: list[Operation]) -> None:
    net = Network(ack_stale=False)
    run(net, ops)
    assert net.got[1] == net.sent[0]
    assert net.got[0] == net.sent[1]


@SIMULATION
@given(operations)
def test_exactly_once_and_everything_acked_with_stale_acks(ops: list[Operation]) -> None:
    net = Network(ack_stale=True)
    run(net, ops)
    assert net.got[1] == net.sent[0]
    assert net.got[0] == net.sent[1]
    assert [end.unacked_count for end in net.ends] == [0, 0]
    assert [end.next_sequence_number for end in net.ends] == [len(s) for s in net.sent]


def test_a_lost_ack_leaves_the_message_unacked_without_stale_acks() -> None:
    """Why ack_stale exists: the plugin's rule cannot recover a lost ack."""
    net = Network(ack_stale=False)
    net.send(0)
    net.deliver(0, 0, keep_copy=False)  # delivered; its ack is now in flight
    net.drop(1, 0)  # ... and lost with the socket
    net.reconnect()
    net.heal()
    assert net.got[1] == net.sent[0]
    assert net.ends[0].unacked_count == 1  # resent forever, never acked
