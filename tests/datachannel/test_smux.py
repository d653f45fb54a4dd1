"""smux v1: frame layout, reassembly at any split point, sessions with many streams."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssmctl.datachannel import SmuxError
from ssmctl.datachannel.chunking import chunk_bytes
from ssmctl.datachannel.smux_frames import MAX_FRAME_DATA, Command, Frame, FrameReader
from ssmctl.datachannel.smux_session import (
    KeepaliveTimeout,
    SmuxEvent,
    SmuxSession,
    StreamClosed,
    StreamData,
    StreamOpened,
)

from .helpers import QUICK


def test_frame_layout_is_little_endian() -> None:
    frame = Frame(Command.PSH, 0x01020304, b"hi")
    assert frame.encode() == b"\x01\x02\x02\x00\x04\x03\x02\x01hi"
    assert Frame(Command.SYN, 3).encode() == b"\x01\x00\x00\x00\x03\x00\x00\x00"
    assert Frame(Command.FIN, 3).encode()[1] == 1
    assert Frame(Command.NOP, 0).encode()[1] == 3


def test_reader_waits_for_whole_frames() -> None:
    reader = FrameReader()
    wire = Frame(Command.PSH, 3, b"abc").encode()
    assert reader.feed(wire[:5]) == []
    assert reader.feed(wire[5:9]) == []
    assert reader.buffered == 9
    assert reader.feed(wire[9:] + wire[:2]) == [Frame(Command.PSH, 3, b"abc")]
    assert reader.buffered == 2


@pytest.mark.parametrize(
    ("wire", "reason"),
    [
        (b"\x02\x02\x00\x00\x03\x00\x00\x00", "version"),
        (b"\x01\x07\x00\x00\x03\x00\x00\x00", "command"),
    ],
)
def test_reader_rejects_corrupt_framing(wire: bytes, reason: str) -> None:
    with pytest.raises(SmuxError, match=reason):
        FrameReader().feed(wire)


frames = st.builds(
    Frame,
    st.sampled_from(Command),
    st.integers(0, 2**32 - 1),
    st.binary(max_size=600),
)


@QUICK
@given(st.lists(frames, max_size=12), st.lists(st.integers(0, 8000), max_size=10))
def test_reassembly_at_arbitrary_split_points(sent: list[Frame], cuts: list[int]) -> None:
    wire = b"".join(f.encode() for f in sent)
    points = sorted({min(c, len(wire)) for c in cuts})
    reader = FrameReader()
    received = []
    for start, end in zip([0, *points], [*points, len(wire)], strict=True):
        received += reader.feed(wire[start:end])
    assert received == sent
    assert reader.buffered == 0


def pump(source: SmuxSession, target: SmuxSession, now: float = 0.0) -> list[SmuxEvent]:
    """Carry source's bytes to target in 1024-byte payloads, as the data channel does."""
    events: list[SmuxEvent] = []
    for chunk in chunk_bytes(source.data_to_send()):
        events += target.receive(chunk, now)
    return events


def test_client_ids_are_odd_from_3_and_server_ids_even_from_2() -> None:
    client = SmuxSession(client=True, now=0.0)
    server = SmuxSession(client=False, now=0.0)
    assert [client.open_stream() for _ in range(3)] == [3, 5, 7]
    assert [server.open_stream() for _ in range(2)] == [2, 4]


def test_open_write_close_both_ways() -> None:
    client = SmuxSession(client=True, now=0.0)
    server = SmuxSession(client=False, now=0.0)
    sid = client.open_stream()
    client.write(sid, b"GET /")
    assert pump(client, server) == [StreamOpened(sid), StreamData(sid, b"GET /")]
    server.write(sid, b"200 OK")
    server.close_stream(sid)  # destination EOF -> FIN
    assert pump(server, client) == [StreamData(sid, b"200 OK"), StreamClosed(sid)]
    assert client.stream_ids == [sid]  # still open on the client's side
    client.close_stream(sid)
    client.close_stream(sid)  # twice is harmless
    assert pump(client, server) == [StreamClosed(sid)]
    assert client.stream_ids == []
    assert server.stream_ids == []
    with pytest.raises(SmuxError):
        client.write(sid, b"late")


def test_large_writes_are_split_into_max_size_frames() -> None:
    client = SmuxSession(client=True, now=0.0)
    sid = client.open_stream()
    client.write(sid, b"z" * (2 * MAX_FRAME_DATA + 5))
    frames = FrameReader().feed(client.data_to_send())
    assert [len(f.data) for f in frames] == [0, MAX_FRAME_DATA, MAX_FRAME_DATA, 5]


def test_frames_for_unknown_streams_are_ignored() -> None:
    server = SmuxSession(client=False, now=0.0)
    wire = Frame(Command.PSH, 9, b"stray").encode() + Frame(Command.FIN, 9).encode()
    assert server.receive(wire, 0.0) == []
    syn = Frame(Command.SYN, 3).encode()
    assert server.receive(syn + syn, 0.0) == [StreamOpened(3)]  # a repeated SYN is ignored


def test_keepalive_nops_and_timeout() -> None:
    client = SmuxSession(client=True, now=0.0)
    server = SmuxSession(client=False, now=0.0, keepalive=False)
    assert client.tick(9.9) == []
    assert client.data_to_send() == b""
    assert client.tick(10.0) == []
    assert FrameReader().feed(client.data_to_send()) == [Frame(Command.NOP, 0)]
    assert server.receive(Frame(Command.NOP, 0).encode(), 10.0) == []
    client.receive(Frame(Command.NOP, 0).encode(), 20.0)  # the peer is alive
    assert client.tick(49.9) == []
    assert client.tick(50.0) == [KeepaliveTimeout(30.0)]
    assert client.tick(60.0) == []  # reported once
    assert server.tick(1000.0) == []  # keepalive off: no NOPs, no timeout
    assert server.data_to_send() == b""


@dataclasses.dataclass(frozen=True)
class Write:
    stream: int  # index into the client's streams
    from_client: bool
    data: bytes


@QUICK
@given(
    st.integers(1, 5),
    st.lists(
        st.builds(Write, st.integers(0, 4), st.booleans(), st.binary(min_size=1, max_size=1500)),
        max_size=20,
    ),
    st.data(),
)
def test_concurrent_streams_keep_their_bytes_apart(
    count: int, writes: list[Write], data: st.DataObject
) -> None:
    client = SmuxSession(client=True, now=0.0)
    server = SmuxSession(client=False, now=0.0)
    streams = [client.open_stream() for _ in range(count)]
    server.receive(client.data_to_send(), 0.0)  # the SYNs: the server knows the streams
    sent: dict[tuple[bool, int], bytes] = {}
    received: dict[tuple[bool, int], bytes] = {}
    closed: list[int] = []

    def carry(source: SmuxSession, target: SmuxSession, from_client: bool) -> None:
        wire = source.data_to_send()
        cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=6)))
        for start, end in zip([0, *cuts], [*cuts, len(wire)], strict=True):
            for event in target.receive(wire[start:end], 0.0):
                if isinstance(event, StreamData):
                    key = (from_client, event.stream_id)
                    received[key] = received.get(key, b"") + event.data
                elif isinstance(event, StreamClosed):
                    closed.append(event.stream_id)

    for write in writes:
        sid = streams[write.stream % count]
        key = (write.from_client, sid)
        sent[key] = sent.get(key, b"") + write.data
        (client if write.from_client else server).write(sid, write.data)
        if data.draw(st.booleans()):
            carry(client, server, True)
            carry(server, client, False)
    for sid in streams:
        client.close_stream(sid)
    carry(client, server, True)
    carry(server, client, False)
    assert received == sent
    assert closed == streams
