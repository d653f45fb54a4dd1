"""The asyncio Link end to end over real loopback websockets, both roles.

An agent-side server keeps one Link per session across sockets, as the sandbox will;
the client side redials with a new token and the same ClientId, as the native engine
will. Sockets are cut mid-transfer; nothing may be lost or repeated.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve

from ssmctl.datachannel import (
    ChannelClosed,
    Delivered,
    GaveUp,
    LinkClosed,
    Message,
    MessageType,
    PayloadType,
    ReliableChannel,
    Role,
)
from ssmctl.datachannel.link import Detached, Link, LinkEvent, receive_opening
from ssmctl.datachannel.opening import OpenDataChannel, new_client_id
from ssmctl.datachannel.payloads import Acknowledgement, ChannelClosedPayload

CLIENT_VERSION = "1.2.0.0"
TICK = 0.02


def run(coro: Coroutine[Any, Any, None], timeout: float = 15.0) -> None:
    asyncio.run(asyncio.wait_for(coro, timeout))


@dataclasses.dataclass
class Agent:
    """The server: tokens name a session; each session has one Link for its whole life."""

    link: Link
    tokens: set[str]
    port: int = 0
    openings: list[OpenDataChannel] = dataclasses.field(default_factory=list)
    connections: list[ServerConnection] = dataclasses.field(default_factory=list)

    async def handler(self, ws: ServerConnection) -> None:
        opening = await receive_opening(ws, timeout=5)
        if opening.token_value not in self.tokens:
            await ws.close(4001, "bad token")
            return
        self.openings.append(opening)
        self.connections.append(ws)
        attachment = await self.link.attach(ws)
        await attachment.wait_detached()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/data-channel/s-1?role=publish_subscribe"


@contextlib.asynccontextmanager
async def agent_server(
    link: Link | None = None,
    tokens: set[str] | None = None,
    handler: Callable[[ServerConnection], Awaitable[None]] | None = None,
) -> AsyncIterator[Agent]:
    agent = Agent(link or Link(Role.AGENT, tick=TICK), tokens or {"t1", "t2"})
    async with serve(handler or agent.handler, "127.0.0.1", 0) as server:
        agent.port = server.sockets[0].getsockname()[1]
        yield agent
        await agent.link.close()


async def dial(agent: Agent, link: Link, token: str, client_id: str) -> ClientConnection:
    ws = await connect(agent.url)
    await link.attach(ws, opening=OpenDataChannel(token, client_id, CLIENT_VERSION))
    return ws


def payloads(side: str, count: int) -> list[bytes]:
    # Sizes up to the 1024-byte chunk limit, each payload unique.
    return [f"{side}{i:05d}".encode() * (1 + i % 150) for i in range(count)]


async def send_all(link: Link, items: list[bytes], pause_every: int = 25) -> None:
    for index, item in enumerate(items):
        await link.send(PayloadType.OUTPUT, item)
        if index % pause_every == 0:
            await asyncio.sleep(0.001)  # let the sockets and the other side run


async def receive(
    link: Link,
    count: int,
    *,
    progress: Callable[[int], None] = lambda n: None,
    on_detached: Callable[[], Awaitable[None]] | None = None,
) -> list[bytes]:
    got: list[bytes] = []
    async for event in link:
        if isinstance(event, Delivered):
            got.append(event.payload)
            progress(len(got))
            if len(got) == count:
                break
        elif isinstance(event, Detached):
            if on_detached is not None:
                await on_detached()
        else:
            pytest.fail(f"unexpected event {event}")
    return got


def test_both_directions_over_one_socket() -> None:
    async def main() -> None:
        async with agent_server() as agent:
            client = Link(Role.CLIENT, tick=TICK)
            await dial(agent, client, "t1", new_client_id())
            up, down = payloads("c", 200), payloads("a", 200)
            results = await asyncio.gather(
                send_all(client, up),
                send_all(agent.link, down),
                receive(agent.link, len(up)),
                receive(client, len(down)),
            )
            assert results[2] == up
            assert results[3] == down
            assert await client.wait_acked(timeout=5)
            assert await agent.link.wait_acked(timeout=5)
            await client.close()

    run(main())


@pytest.mark.parametrize("ack_stale", [False, True])
def test_socket_dropped_mid_transfer_then_resumed(ack_stale: bool) -> None:
    async def main() -> None:
        agent_link = Link(
            Role.AGENT, tick=TICK, channel=ReliableChannel(Role.AGENT, ack_stale=ack_stale)
        )
        async with agent_server(agent_link) as agent:
            client_id = new_client_id()
            client = Link(
                Role.CLIENT, tick=TICK, channel=ReliableChannel(Role.CLIENT, ack_stale=ack_stale)
            )
            first = await dial(agent, client, "t1", client_id)
            up, down = payloads("c", 400), payloads("a", 400)
            cut = asyncio.Event()
            resumed: list[ClientConnection] = []

            def maybe_cut(received: int) -> None:
                if received == 120 and not cut.is_set():
                    cut.set()
                    first.transport.abort()  # no close frame: the connection just dies

            async def resume() -> None:
                # What the engine does after ResumeSession: new token, same ClientId.
                resumed.append(await dial(agent, client, "t2", client_id))

            results = await asyncio.gather(
                send_all(client, up),
                send_all(agent.link, down),
                receive(agent.link, len(up), progress=maybe_cut),
                receive(client, len(down), on_detached=resume),
            )
            assert cut.is_set()
            assert len(resumed) == 1
            assert results[2] == up
            assert results[3] == down
            tokens = [o.token_value for o in agent.openings]
            assert tokens == ["t1", "t2"]
            assert {o.client_id for o in agent.openings} == {client_id}
            assert agent.openings[0].request_id != agent.openings[1].request_id
            if ack_stale:
                # Acks lost with the old socket are made good: nothing left pending.
                assert await client.wait_acked(timeout=5)
                assert await agent.link.wait_acked(timeout=5)
            await client.close()

    run(main())


def test_channel_closed_ends_the_session_after_output_is_acked() -> None:
    async def main() -> None:
        async with agent_server() as agent:
            client = Link(Role.CLIENT, tick=TICK)
            await dial(agent, client, "t1", new_client_id())
            for item in payloads("a", 20):
                await agent.link.send(PayloadType.OUTPUT, item)
            events: list[LinkEvent] = []

            async def consume() -> None:
                async for event in client:
                    events.append(event)
                    if isinstance(event, ChannelClosed):
                        return

            consumer = asyncio.create_task(consume())
            assert await agent.link.wait_acked(timeout=5)
            await agent.link.send_channel_closed(
                ChannelClosedPayload(session_id="s-1", output="bye")
            )
            await agent.link.close()
            await consumer
            assert [e.payload for e in events if isinstance(e, Delivered)] == payloads("a", 20)
            assert isinstance(events[-1], ChannelClosed)
            assert events[-1].payload.session_id == "s-1"
            assert events[-1].payload.output == "bye"
            with pytest.raises(LinkClosed):
                await agent.link.send(PayloadType.OUTPUT, b"late")
            # The socket went away after channel_closed: that is no reason to resume.
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(client.next_event(), 0.3)
            assert not client.attached
            await client.close()

    run(main())


def test_invalid_messages_are_dropped_without_ack() -> None:
    async def main() -> None:
        async with agent_server() as agent, connect(agent.url) as raw:
            await raw.send(OpenDataChannel("t1", new_client_id(), CLIENT_VERSION).to_json())
            good = Message(MessageType.INPUT_STREAM_DATA, 0, PayloadType.OUTPUT, b"ok")
            corrupt = bytearray(good.encode())
            corrupt[-1] ^= 0xFF  # the digest no longer matches
            await raw.send(b"garbage")
            await raw.send(bytes(corrupt))
            await raw.send("a stray text frame")
            await raw.send(good.encode())
            frame = await asyncio.wait_for(raw.recv(), 5)
            assert isinstance(frame, bytes)
            reply = Message.decode(frame)
            assert reply.message_type is MessageType.ACKNOWLEDGE
            assert Acknowledgement.from_payload(reply.payload).sequence_number == 0
            event = await asyncio.wait_for(agent.link.next_event(), 5)
            assert isinstance(event, Delivered)
            assert event.payload == b"ok"
            with pytest.raises(asyncio.TimeoutError):  # nothing else was acked
                await asyncio.wait_for(raw.recv(), 0.3)

    run(main())


def test_give_up_when_nothing_is_ever_acked() -> None:
    async def deaf(ws: ServerConnection) -> None:
        await receive_opening(ws)
        with contextlib.suppress(Exception):
            async for _ in ws:
                pass

    async def main() -> None:
        async with agent_server(handler=deaf) as agent:
            client = Link(
                Role.CLIENT, tick=TICK, channel=ReliableChannel(Role.CLIENT, max_resends=2)
            )
            await dial(agent, client, "t1", new_client_id())
            await client.send(PayloadType.OUTPUT, b"hello?")
            event = await asyncio.wait_for(client.next_event(), 5)
            assert event == GaveUp(0, 2)
            assert not await client.wait_acked(timeout=0.1)
            with pytest.raises(LinkClosed):
                await client.send(PayloadType.OUTPUT, b"more")
            await client.close()

    run(main())


def test_send_waits_for_window_and_works_while_detached() -> None:
    async def main() -> None:
        async with agent_server() as agent:
            client = Link(Role.CLIENT, tick=TICK, channel=ReliableChannel(Role.CLIENT, window=2))
            assert await client.send(PayloadType.OUTPUT, b"0") == 0
            assert await client.send(PayloadType.OUTPUT, b"1") == 1
            third = asyncio.create_task(client.send(PayloadType.OUTPUT, b"2"))
            await asyncio.sleep(0.1)
            assert not third.done()  # window full, and no socket to get acks from
            await dial(agent, client, "t1", new_client_id())
            assert await asyncio.wait_for(third, 5) == 2
            assert await receive(agent.link, 3) == [b"0", b"1", b"2"]
            await client.close()

    run(main())


def test_attaching_a_new_socket_replaces_the_old_one() -> None:
    async def main() -> None:
        events: list[LinkEvent] = []
        link = Link(Role.AGENT, tick=TICK, on_event=events.append)
        attachments = []

        async def handler(ws: ServerConnection) -> None:
            await receive_opening(ws)
            attachment = await link.attach(ws)
            attachments.append(attachment)
            await attachment.wait_detached()

        async with agent_server(link, handler=handler) as agent:
            opening = OpenDataChannel("t1", new_client_id(), CLIENT_VERSION)
            async with connect(agent.url) as old, connect(agent.url) as new:
                await old.send(opening.to_json())
                while not attachments:
                    await asyncio.sleep(0.01)
                await new.send(opening.to_json())
                assert await asyncio.wait_for(attachments[0].wait_detached(), 5) == "detached"
                while len(attachments) < 2:
                    await asyncio.sleep(0.01)
                assert attachments[1].attached
                assert link.attached
                await new.send(
                    Message(MessageType.INPUT_STREAM_DATA, 0, PayloadType.OUTPUT, b"x").encode()
                )
                for _ in range(100):
                    if events:
                        break
                    await asyncio.sleep(0.01)
                assert [type(e) for e in events] == [Delivered]  # replacing is no Detached

    run(main())


def test_closed_link_refuses_to_attach() -> None:
    async def main() -> None:
        link = Link(Role.CLIENT)
        await link.close()
        async with agent_server() as agent, connect(agent.url) as ws:
            with pytest.raises(LinkClosed):
                await link.attach(ws)
        assert [e async for e in link] == []

    run(main())


def test_channel_role_must_match_the_link() -> None:
    with pytest.raises(ValueError, match="agent channel"):
        Link(Role.CLIENT, channel=ReliableChannel(Role.AGENT))
