"""Multiplexed port forwarding: the smux v1 server behind a mux port session.

The client opens one smux stream per local TCP connection. SYN dials the destination,
PSH writes to it, FIN half-closes it; what the destination sends goes back as PSH and
its EOF as FIN; a destination that cannot be reached gets Flag 3 (ConnectToPortError)
and a FIN. The smux bytes ride in Output messages of at most 1024 bytes, sent in order
by one pump. Nothing is sent before the client's first smux bytes (the official plugin
can crash its reader otherwise); keepalive NOPs go out every 10 s for agents that
need them, and 30 s without a frame from the client ends the session.
"""

from __future__ import annotations

import asyncio
import time

from ssmctl.datachannel.chunking import chunk_bytes
from ssmctl.datachannel.constants import FlagCode, PayloadType
from ssmctl.datachannel.errors import SmuxError
from ssmctl.datachannel.payloads import encode_flag
from ssmctl.datachannel.smux_session import (
    KeepaliveTimeout,
    SmuxEvent,
    SmuxSession,
    StreamClosed,
    StreamData,
    StreamOpened,
)
from ssmctl.datachannel.versions import smux_keepalive
from ssmctl.sandbox.agent.relay import Relay
from ssmctl.sandbox.agent.worker import Ending, TaskKeeper, WorkerContext, failure

TICK = 1.0
"""Seconds between keepalive checks."""


class MuxPortWorker(TaskKeeper):
    """See the module docstring."""

    def __init__(self, context: WorkerContext) -> None:
        super().__init__()
        self.context = context
        self.host = context.plan.destination_host
        self.port = context.plan.port_number
        self.keepalive = smux_keepalive(context.plan.agent_version)
        self.smux: SmuxSession | None = None
        self.relays: dict[int, Relay] = {}
        self._pumping = asyncio.Lock()

    async def run(self) -> Ending:
        if self.keepalive:
            self._spawn(self._tick())
        return await self.ended

    def input(self, data: bytes) -> None:
        now = time.monotonic()
        if self.smux is None:
            self.smux = SmuxSession(client=False, now=now, keepalive=self.keepalive)
        try:
            events = self.smux.receive(data, now)
        except SmuxError as exc:
            self._end(failure(f"The client's smux stream is corrupt: {exc}."))
            return
        for event in events:
            self._on_event(event)

    def resize(self, cols: int, rows: int) -> None:
        """No terminal: Size is ignored."""

    def flag(self, code: int) -> None:
        """The client signals nothing but TerminateSession in mux mode (the session's)."""

    async def stop(self) -> None:
        await self._stop_tasks()
        relays, self.relays = list(self.relays.values()), {}
        for relay in relays:
            await relay.close()

    def _on_event(self, event: SmuxEvent) -> None:
        if isinstance(event, StreamOpened):
            self._open(event.stream_id)
        elif isinstance(event, StreamData):
            relay = self.relays.get(event.stream_id)
            if relay is not None:
                relay.write(event.data)
        elif isinstance(event, StreamClosed):
            relay = self.relays.get(event.stream_id)
            if relay is not None:
                relay.finish_writing()
                self._forget_if_done(event.stream_id)

    def _open(self, stream_id: int) -> None:
        async def to_client(relay: Relay, data: bytes) -> None:
            if self.smux is not None and self.smux.is_open(stream_id):
                self.smux.write(stream_id, data)
                await self._pump()

        async def eof(relay: Relay) -> None:
            if self.smux is not None:
                self.smux.close_stream(stream_id)
                await self._pump()
                self._forget_if_done(stream_id)

        relay = Relay(self.host, self.port, on_data=to_client, on_eof=eof)
        self.relays[stream_id] = relay
        self._spawn(self._connect(stream_id, relay))

    async def _connect(self, stream_id: int, relay: Relay) -> None:
        try:
            await relay.connect()
        except OSError:
            self.relays.pop(stream_id, None)
            async with self._pumping:
                await self.context.send(
                    PayloadType.FLAG, encode_flag(FlagCode.CONNECT_TO_PORT_ERROR)
                )
            if self.smux is not None:
                self.smux.close_stream(stream_id)
            await self._pump()

    def _forget_if_done(self, stream_id: int) -> None:
        # smux forgets a stream once both sides have sent FIN.
        if self.smux is not None and stream_id not in self.smux.stream_ids:
            relay = self.relays.pop(stream_id, None)
            if relay is not None:
                self._spawn(relay.finish())

    async def _pump(self) -> None:
        """Send what smux has queued, in order, and wait until it is sent.

        The sending runs in a task of its own: a caller cancelled halfway (the read task
        of a relay closed under it) must not cut a batch of frames short, which would
        corrupt every stream after it.
        """
        await asyncio.shield(self._spawn(self._send_queued()))

    async def _send_queued(self) -> None:
        async with self._pumping:  # one batch at a time, in the order they were asked for
            if self.smux is None:
                return
            data = self.smux.data_to_send()
            for chunk in chunk_bytes(data):
                await self.context.send(PayloadType.OUTPUT, chunk)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            if self.smux is None:
                continue  # nothing may be sent before the client's first smux bytes
            for event in self.smux.tick(time.monotonic()):
                if isinstance(event, KeepaliveTimeout):
                    self._end(
                        failure(
                            f"No smux frame from the client for {event.silent_for:.0f} s "
                            "(keepalive)."
                        )
                    )
                    return
            await self._pump()
