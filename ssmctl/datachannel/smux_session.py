"""An smux v1 session without I/O, for either role (protocol.md section 6).

In a mux port-forwarding session the client (the plugin or the native engine) opens one
stream per local TCP connection; the agent side plays the smux server: SYN -> connect to
the destination, PSH -> write, FIN -> close, destination data -> PSH, destination EOF ->
FIN. Feed the bytes of received Output payloads to `receive`, send what `data_to_send`
returns as Output payloads (cut into chunks of at most 1024 bytes), and call `tick`
regularly when keepalive is on (see `ssmctl.datachannel.versions.smux_keepalive`).

smux v1 has no flow control: a stream's data is handed over as soon as it arrives.
"""

from __future__ import annotations

import dataclasses

from ssmctl.datachannel.errors import SmuxError
from ssmctl.datachannel.smux_frames import (
    MAX_FRAME_DATA,
    Command,
    Frame,
    FrameReader,
    data_frames,
)

KEEPALIVE_INTERVAL = 10.0
"""Seconds between keepalive NOPs."""
KEEPALIVE_TIMEOUT = 30.0
"""Seconds without any frame from the peer after which the session is dead."""

_FIRST_CLIENT_ID = 3
_FIRST_SERVER_ID = 2
_MAX_STREAM_ID = 0xFFFFFFFF


@dataclasses.dataclass(frozen=True)
class StreamOpened:
    """The peer opened a stream (SYN)."""

    stream_id: int


@dataclasses.dataclass(frozen=True)
class StreamData:
    """Data arrived on a stream (PSH)."""

    stream_id: int
    data: bytes


@dataclasses.dataclass(frozen=True)
class StreamClosed:
    """The peer closed its side of a stream (FIN): no more data will come on it."""

    stream_id: int


@dataclasses.dataclass(frozen=True)
class KeepaliveTimeout:
    """Nothing came from the peer for KEEPALIVE_TIMEOUT seconds; drop the session."""

    silent_for: float


SmuxEvent = StreamOpened | StreamData | StreamClosed | KeepaliveTimeout


@dataclasses.dataclass
class _Stream:
    local_closed: bool = False
    remote_closed: bool = False


class SmuxSession:
    """Streams multiplexed over one byte stream; `client` picks the stream-id parity.

    Client stream ids are odd starting at 3, server ones even starting at 2. A stream is
    forgotten once both sides have sent FIN.
    """

    def __init__(
        self,
        *,
        client: bool,
        now: float,
        keepalive: bool = True,
        keepalive_interval: float = KEEPALIVE_INTERVAL,
        keepalive_timeout: float = KEEPALIVE_TIMEOUT,
        max_frame_data: int = MAX_FRAME_DATA,
    ) -> None:
        self.client = client
        self.keepalive = keepalive
        self.keepalive_interval = keepalive_interval
        self.keepalive_timeout = keepalive_timeout
        self.max_frame_data = max_frame_data
        self.timed_out = False
        self._next_id = _FIRST_CLIENT_ID if client else _FIRST_SERVER_ID
        self._streams: dict[int, _Stream] = {}
        self._reader = FrameReader()
        self._out = bytearray()
        self._last_received = now
        self._last_nop = now

    @property
    def stream_ids(self) -> list[int]:
        """Streams not yet closed by both sides."""
        return list(self._streams)

    def is_open(self, stream_id: int) -> bool:
        """True while this side may still write to the stream."""
        stream = self._streams.get(stream_id)
        return stream is not None and not stream.local_closed

    def open_stream(self) -> int:
        """Open a new stream (queues SYN) and return its id."""
        stream_id = self._next_id
        if stream_id > _MAX_STREAM_ID:
            raise SmuxError("smux stream ids are exhausted")
        self._next_id += 2
        self._streams[stream_id] = _Stream()
        self._queue(Frame(Command.SYN, stream_id))
        return stream_id

    def write(self, stream_id: int, data: bytes) -> None:
        """Queue data on a stream this side has not closed."""
        if not self.is_open(stream_id):
            raise SmuxError(f"smux stream {stream_id} is not open for writing")
        for frame in data_frames(stream_id, data, self.max_frame_data):
            self._queue(frame)

    def close_stream(self, stream_id: int) -> None:
        """Close this side of a stream (queues FIN); closing twice does nothing."""
        stream = self._streams.get(stream_id)
        if stream is None or stream.local_closed:
            return
        stream.local_closed = True
        self._queue(Frame(Command.FIN, stream_id))
        self._forget_if_done(stream_id, stream)

    def data_to_send(self) -> bytes:
        """Take the bytes to carry to the peer (as Output payloads)."""
        out = bytes(self._out)
        self._out.clear()
        return out

    def receive(self, data: bytes, now: float) -> list[SmuxEvent]:
        """Handle received bytes. Raises SmuxError when the framing is corrupt."""
        frames = self._reader.feed(data)
        if frames:
            self._last_received = now
        events: list[SmuxEvent] = []
        for frame in frames:
            event = self._on_frame(frame)
            if event is not None:
                events.append(event)
        return events

    def tick(self, now: float) -> list[SmuxEvent]:
        """Keepalive: send a NOP when due; KeepaliveTimeout (once) when the peer is silent."""
        if not self.keepalive or self.timed_out:
            return []
        silent = now - self._last_received
        if silent >= self.keepalive_timeout:
            self.timed_out = True
            return [KeepaliveTimeout(silent)]
        if now - self._last_nop >= self.keepalive_interval:
            self._last_nop = now
            self._queue(Frame(Command.NOP, 0))
        return []

    def _on_frame(self, frame: Frame) -> SmuxEvent | None:
        stream = self._streams.get(frame.stream_id)
        if frame.command is Command.SYN:
            if stream is not None:
                return None  # a repeated SYN changes nothing
            self._streams[frame.stream_id] = _Stream()
            return StreamOpened(frame.stream_id)
        if frame.command is Command.PSH:
            # Data for a stream we do not know (or that the peer finished) is dropped,
            # as smux does.
            if stream is None or stream.remote_closed or not frame.data:
                return None
            return StreamData(frame.stream_id, frame.data)
        if frame.command is Command.FIN:
            if stream is None or stream.remote_closed:
                return None
            stream.remote_closed = True
            self._forget_if_done(frame.stream_id, stream)
            return StreamClosed(frame.stream_id)
        return None  # NOP: only refreshes the keepalive clock

    def _forget_if_done(self, stream_id: int, stream: _Stream) -> None:
        if stream.local_closed and stream.remote_closed:
            del self._streams[stream_id]

    def _queue(self, frame: Frame) -> None:
        self._out += frame.encode()
