"""A session's life on the agent side: who may attach, what survives a dropped socket,
and every way a session ends (TerminateSession, idle timeout, maximum duration)."""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from ssmctl.datachannel.opening import OpenDataChannel, new_client_id
from ssmctl.sandbox import Sandbox
from ssmctl.sandbox.agent.session import IDLE_TEXT, MAX_DURATION_TEXT

from .dc_client import CLIENT_VERSION, Client, Documents, run, session_record
from .helpers import Clients
from .test_agent_ports import handshake, sink, start_port_session, tcp_server


@pytest.fixture
def ssm(aws: Clients) -> Any:
    return aws("ssm")


@pytest.fixture
def documents(ssm: Any) -> Iterator[Documents]:
    made = Documents(ssm)
    yield made
    made.delete_all()


@pytest.fixture
def fast_clocks(sandbox: Sandbox) -> Iterator[None]:
    """The preferences' minutes last seconds."""
    before = sandbox.agent.time_scale
    sandbox.agent.time_scale = 1 / 60
    yield
    sandbox.agent.time_scale = before


async def refused(url: str, token: str, **headers: str) -> int | None:
    """Open a socket with `token`; the close code when the agent refuses it, else None."""
    async with connect(url, additional_headers=headers or None) as ws:
        await ws.send(OpenDataChannel(token, new_client_id(), CLIENT_VERSION).to_json())
        try:
            await asyncio.wait_for(ws.recv(), 3)
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else -1
        except asyncio.TimeoutError:
            return None
        return None


def test_only_the_current_one_time_token_attaches(sandbox: Sandbox, ssm: Any) -> None:
    response = ssm.start_session(Target=sandbox.node_id("web-1"))
    url, token, session_id = response["StreamUrl"], response["TokenValue"], response["SessionId"]
    other = ssm.start_session(Target=sandbox.node_id("web-1"))

    async def body() -> None:
        assert await refused(url, "not-the-token") == 1008
        assert await refused(url, other["TokenValue"]) == 1008  # another session's token
        unknown = url.replace(session_id, "alice-00000000000000000000000000")
        assert await refused(unknown, token) == 1008
        assert session_record(sandbox, session_id).status == "Connecting"
        # A SigV4 Authorization header (newer plugins sign the upgrade) is ignored.
        client = Client(sandbox, ssm, response)
        await client.open(Authorization="AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/...")
        await client.prompt()
        assert await refused(url, token) == 1008  # spent
        resumed = await asyncio.to_thread(ssm.resume_session, SessionId=session_id)
        assert resumed["StreamUrl"] == url
        assert await refused(url, "x" + resumed["TokenValue"]) == 1008
        await client.send(b"exit\r")
        await client.wait_closed()
        await client.close()
        # An ended session has no token left at all.
        ended = await asyncio.to_thread(ssm.resume_session, SessionId=session_id)
        assert ended["TokenValue"] == ""
        assert await refused(url, resumed["TokenValue"]) == 1008

    run(body())
    ssm.terminate_session(SessionId=other["SessionId"])


def test_shell_output_survives_a_dropped_socket_exactly_once(sandbox: Sandbox, ssm: Any) -> None:
    response = ssm.start_session(Target=sandbox.node_id("web-1"))
    lines = 30000

    async def body() -> None:
        client = Client(sandbox, ssm, response)
        await client.open()
        start = await client.prompt()
        await client.send(
            f"i=0; while [ $i -lt {lines} ]; do i=$((i+1)); echo L$i; done\r".encode()
        )
        await client.expect(b"L2000\r\n", start=start, timeout=20)
        assert await asyncio.to_thread(sandbox.agent.drop_socket, client.session_id)
        await client.until(lambda: client.detachments == 1, what="the drop")
        statuses = {session_record(sandbox, client.session_id).status}
        # Again, as soon as the client is back on a new socket.
        assert await asyncio.to_thread(sandbox.agent.drop_socket, client.session_id, 10)
        await client.until(lambda: client.detachments == 2, what="the second drop")
        # The output may all have arrived before that drop: wait for the resume too.
        await client.until(lambda: client.resumes == 2, what="the second resume")
        await client.expect(f"L{lines}\r\n".encode(), start=start, timeout=60)
        await client.prompt(start=len(client.output) - 3)
        # The client resumed with a new token on the same ClientId and session.
        statuses.add(session_record(sandbox, client.session_id).status)
        assert statuses <= {"Disconnected", "Connected"}
        await client.until(
            lambda: session_record(sandbox, client.session_id).status == "Connected",
            what="the session to be Connected again",
        )
        text = client.output[start:].decode()
        numbers = [int(x[1:]) for x in text.split("\r\n") if x.startswith("L")]
        assert numbers == list(range(1, lines + 1))  # nothing lost, nothing repeated
        await client.send(b"exit\r")
        await client.wait_closed()
        await client.close()

    run(body(), timeout=120)


def test_port_data_survives_a_client_side_drop_exactly_once(sandbox: Sandbox, ssm: Any) -> None:
    data = random.Random(7).randbytes(3 * 1024 * 1024)

    async def body() -> None:
        async with tcp_server(sink) as port:
            client = Client(sandbox, ssm, start_port_session(ssm, sandbox.node_id("web-2"), port))
            await client.open()
            await handshake(client)
            client.start_smux()
            stream = await client.open_stream()
            for offset in range(0, len(data), 64 * 1024):
                await client.stream_write(stream, data[offset : offset + 64 * 1024])
                if offset == 1024 * 1024:
                    client.drop()
            await client.stream_close(stream)
            await asyncio.wait_for(client.stream_ended[stream].wait(), 60)
            assert client.detachments == 1
            expected = f"{hashlib.sha256(data).hexdigest()} {len(data)}\n".encode()
            assert bytes(client.streams[stream]) == expected
            await client.flag(2)
            await client.close()

    run(body(), timeout=120)


def test_terminate_session_closes_the_channel(sandbox: Sandbox, ssm: Any) -> None:
    response = ssm.start_session(Target=sandbox.node_id("db-1"))

    async def body() -> None:
        client = Client(sandbox, ssm, response)
        await client.open()
        await client.prompt()
        await client.send(b"sleep 60\r")
        await asyncio.to_thread(ssm.terminate_session, SessionId=client.session_id)
        closed = await client.wait_closed(timeout=5)
        assert closed.session_id == client.session_id
        await client.close()

    run(body())
    assert sandbox.agent.wait_ended(response["SessionId"], 10)
    record = session_record(sandbox, response["SessionId"])
    assert record.status == "Terminated" and record.end_reason == "terminated"
    assert record.details.startswith("Terminated by TerminateSession.")
    assert response["SessionId"] not in sandbox.agent.active()


def test_a_dropped_client_leaves_the_session_disconnected(sandbox: Sandbox, ssm: Any) -> None:
    response = ssm.start_session(Target=sandbox.node_id("web-1"))

    async def body() -> None:
        client = Client(sandbox, ssm, response)
        client.resume_on_detach = False
        await client.open()
        await client.prompt()
        assert session_record(sandbox, client.session_id).status == "Connected"
        assert await asyncio.to_thread(sandbox.agent.drop_socket, client.session_id)
        await client.until(
            lambda: session_record(sandbox, client.session_id).status == "Disconnected",
            what="Disconnected",
        )
        await client.close()

    run(body())
    found = ssm.describe_sessions(
        State="Active", Filters=[{"key": "SessionId", "value": response["SessionId"]}]
    )["Sessions"]
    assert [s["Status"] for s in found] == ["Disconnected"]
    ssm.terminate_session(SessionId=response["SessionId"])
    assert sandbox.agent.wait_ended(response["SessionId"], 10)


def test_idle_timeout_ends_the_session(
    sandbox: Sandbox, ssm: Any, documents: Documents, fast_clocks: None
) -> None:
    prefs = documents.shell_preferences(idleSessionTimeout="1")
    response = ssm.start_session(Target=sandbox.node_id("web-1"), DocumentName=prefs)

    async def body() -> None:
        client = Client(sandbox, ssm, response)
        await client.open()
        await client.prompt()
        began = time.monotonic()
        await client.send(b"echo still here\r")  # input restarts the idle clock
        closed = await client.wait_closed(timeout=10)
        assert closed.output == IDLE_TEXT
        assert 0.8 <= time.monotonic() - began < 5
        await client.close()

    run(body())
    assert sandbox.agent.wait_ended(response["SessionId"], 10)
    record = session_record(sandbox, response["SessionId"])
    assert record.status == "Terminated" and record.end_reason == "idle_timeout"
    assert "idleSessionTimeout" in record.details


def test_max_session_duration_ends_a_busy_session(
    sandbox: Sandbox, ssm: Any, documents: Documents, fast_clocks: None
) -> None:
    prefs = documents.shell_preferences(maxSessionDuration="2", idleSessionTimeout="60")
    response = ssm.start_session(Target=sandbox.node_id("web-1"), DocumentName=prefs)
    assert (
        ssm.describe_sessions(
            State="Active", Filters=[{"key": "SessionId", "value": response["SessionId"]}]
        )["Sessions"][0]["MaxSessionDuration"]
        == "2"
    )

    async def body() -> None:
        client = Client(sandbox, ssm, response)
        await client.open()
        began = time.monotonic()
        while client.closed is None and time.monotonic() - began < 10:
            await client.send(b"\r")  # never idle
            await asyncio.sleep(0.2)
        closed = await client.wait_closed(timeout=1)
        assert closed.output == MAX_DURATION_TEXT
        assert 1.5 <= time.monotonic() - began < 6
        await client.close()

    run(body())
    assert sandbox.agent.wait_ended(response["SessionId"], 10)
    record = session_record(sandbox, response["SessionId"])
    assert record.end_reason == "max_duration" and "maxSessionDuration" in record.details
