"""The agent side behind port sessions: smux (mux) and basic port forwarding, remote
hosts, SSH-style stdio, and what happens when the destination is not there."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from ssmctl.datachannel import FlagCode
from ssmctl.sandbox import Sandbox

from .dc_client import Client, run, session_record
from .helpers import Clients

MB = 1024 * 1024
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
def ssm(aws: Clients) -> Any:
    return aws("ssm")


@pytest.fixture
def old_agent(sandbox: Sandbox, aws: Clients) -> Iterator[str]:
    """An instance whose agent predates smux (basic port forwarding)."""
    ec2 = aws("ec2")
    instance = ec2.run_instances(ImageId="ami-0a1b2c3d4e5f60718", MinCount=1, MaxCount=1)
    instance_id = instance["Instances"][0]["InstanceId"]
    sandbox.register_instance(instance_id, agent_version="3.0.161.0")
    yield instance_id
    ec2.terminate_instances(InstanceIds=[instance_id])


@contextlib.asynccontextmanager
async def tcp_server(handler: Handler) -> AsyncIterator[int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


async def sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Reads to EOF, answers with the SHA-256 of what it read and its length."""
    digest, size = hashlib.sha256(), 0
    while data := await reader.read(65536):
        digest.update(data)
        size += len(data)
    writer.write(f"{digest.hexdigest()} {size}\n".encode())
    await writer.drain()
    writer.close()


async def source(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Reads `<seed> <size>\\n`, sends that many pseudo-random bytes, hangs up."""
    seed, size = (int(x) for x in (await reader.readline()).split())
    writer.write(random.Random(seed).randbytes(size))
    await writer.drain()
    writer.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_port_session(ssm: Any, target: str, port: int, **extra: str) -> dict[str, Any]:
    document = (
        "AWS-StartPortForwardingSessionToRemoteHost"
        if "host" in extra
        else "AWS-StartPortForwardingSession"
    )
    parameters = {"portNumber": [str(port)], "localPortNumber": ["0"]}
    parameters.update({k: [v] for k, v in extra.items()})
    response: dict[str, Any] = ssm.start_session(
        Target=target, DocumentName=document, Parameters=parameters
    )
    return response


async def echoed(client: Client, message: bytes) -> None:
    """Send raw port bytes and wait until exactly they come back."""
    mark = len(client.output)
    await client.send(message)
    await client.until(lambda: client.output[mark:] == message, what="the echo")


def has_length(items: list[int], length: int) -> Callable[[], bool]:
    return lambda: len(items) == length


async def handshake(client: Client) -> None:
    await asyncio.wait_for(client.handshake_complete.wait(), 10)


def test_mux_carries_eight_concurrent_10_mb_connections_intact(sandbox: Sandbox, ssm: Any) -> None:
    async def body() -> None:
        async with tcp_server(sink) as sink_port, tcp_server(source) as source_port:
            # One session per destination port; four streams each, all eight at once.
            uploads = Client(
                sandbox, ssm, start_port_session(ssm, sandbox.node_id("web-1"), sink_port)
            )
            downloads = Client(
                sandbox, ssm, start_port_session(ssm, sandbox.node_id("web-1"), source_port)
            )
            for client in (uploads, downloads):
                await client.open()
                await handshake(client)
                assert client.handshake is not None
                assert client.handshake.session_type == "Port"
                assert client.handshake.properties["type"] == "LocalPortForwarding"
                client.start_smux()

            async def upload(seed: int) -> None:
                data = random.Random(seed).randbytes(10 * MB)
                stream = await uploads.open_stream()
                for offset in range(0, len(data), 64 * 1024):
                    await uploads.stream_write(stream, data[offset : offset + 64 * 1024])
                await uploads.stream_close(stream)
                await asyncio.wait_for(uploads.stream_ended[stream].wait(), 120)
                expected = f"{hashlib.sha256(data).hexdigest()} {len(data)}\n".encode()
                assert bytes(uploads.streams[stream]) == expected

            async def download(seed: int) -> None:
                stream = await downloads.open_stream()
                await downloads.stream_write(stream, f"{seed} {10 * MB}\n".encode())
                await asyncio.wait_for(downloads.stream_ended[stream].wait(), 120)
                got = bytes(downloads.streams[stream])
                assert len(got) == 10 * MB
                assert got == random.Random(seed).randbytes(10 * MB)

            await asyncio.gather(
                *(upload(s) for s in range(4)), *(download(s) for s in range(4, 8))
            )
            for client in (uploads, downloads):
                assert client.flags == [] and client.closed is None
                await client.flag(FlagCode.TERMINATE_SESSION)
                await client.close()
            for client in (uploads, downloads):
                assert await asyncio.to_thread(sandbox.agent.wait_ended, client.session_id, 10)
                record = session_record(sandbox, client.session_id)
                assert record.status == "Terminated" and record.end_reason == "client_terminated"

    run(body(), timeout=240)


def test_mux_sends_nothing_before_the_clients_first_bytes_and_flags_unreachable_ports(
    sandbox: Sandbox, ssm: Any
) -> None:
    async def body() -> None:
        async with tcp_server(echo) as echo_port:
            client = Client(
                sandbox, ssm, start_port_session(ssm, sandbox.node_id("web-2"), echo_port)
            )
            await client.open()
            await handshake(client)
            client.start_smux()
            await asyncio.sleep(1.5)  # past a keepalive tick: still nothing after HandshakeComplete
            assert client.order == [5, 7]
            first = await client.open_stream()
            await client.stream_write(first, b"ping")
            await client.until(lambda: client.streams[first] == b"ping", what="the echo")
        # The echo server is gone now: a new stream cannot connect.
        second = await client.open_stream()
        await asyncio.wait_for(client.stream_ended[second].wait(), 10)
        assert client.flags == [FlagCode.CONNECT_TO_PORT_ERROR]
        # The session survives a failed stream.
        assert session_record(sandbox, client.session_id).status == "Connected"
        await client.flag(FlagCode.TERMINATE_SESSION)
        await client.close()

    run(body())


def test_basic_mode_serves_one_connection_at_a_time(
    sandbox: Sandbox, ssm: Any, old_agent: str
) -> None:
    accepted: list[int] = []

    async def counting_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        await echo(reader, writer)

    async def body() -> None:
        async with tcp_server(counting_echo) as port:
            client = Client(sandbox, ssm, start_port_session(ssm, old_agent, port))
            await client.open()
            await handshake(client)
            assert client.handshake is not None
            assert client.handshake.agent_version == "3.0.161.0"
            for n in range(3):
                await echoed(client, f"connection {n}\n".encode() * 500)
                await client.flag(FlagCode.DISCONNECT_TO_PORT)  # the local client hung up
                await client.until(has_length(accepted, n + 2), what="a new connection")
            await client.flag(FlagCode.TERMINATE_SESSION)
            assert await asyncio.to_thread(sandbox.agent.wait_ended, client.session_id, 10)
            await client.close()

    run(body())


def test_basic_mode_fails_the_session_when_the_port_is_closed(
    sandbox: Sandbox, ssm: Any, old_agent: str
) -> None:
    port = closed_port()
    response = start_port_session(ssm, old_agent, port)

    async def body() -> None:
        client = Client(sandbox, ssm, response)
        await client.open()
        closed = await client.wait_closed()
        assert f"127.0.0.1:{port}" in closed.output
        await client.close()

    run(body())
    record = session_record(sandbox, response["SessionId"])
    assert record.status == "Failed" and record.end_reason == "failed"
    assert f"Cannot connect to 127.0.0.1:{port}" in (record.details or "")


def test_remote_host_is_reached_from_the_sandboxs_machine(sandbox: Sandbox, ssm: Any) -> None:
    async def body() -> None:
        async with tcp_server(echo) as port:
            response = start_port_session(ssm, sandbox.node_id("db-1"), port, host="localhost")
            client = Client(sandbox, ssm, response)
            await client.open()
            await handshake(client)
            assert client.handshake is not None
            assert client.handshake.properties["host"] == "localhost"
            client.start_smux()
            stream = await client.open_stream()
            await client.stream_write(stream, b"to the remote host")
            await client.until(lambda: client.streams[stream] == b"to the remote host")
            await client.flag(FlagCode.TERMINATE_SESSION)
            await client.close()

    run(body())


def test_ssh_session_forwards_stdio_and_ends_with_the_connection(
    sandbox: Sandbox, ssm: Any
) -> None:
    async def banner_then_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-sandbox-test\r\n")
        line = await reader.readline()
        writer.write(line.upper())
        await writer.drain()
        writer.close()

    async def body() -> None:
        async with tcp_server(banner_then_echo) as port:
            response = ssm.start_session(
                Target=sandbox.node_id("bastion"),
                DocumentName="AWS-StartSSHSession",
                Parameters={"portNumber": [str(port)]},
            )
            client = Client(sandbox, ssm, response)
            await client.open()
            await handshake(client)
            assert client.handshake is not None
            assert dict(client.handshake.properties) == {"portNumber": str(port)}
            await client.expect(b"SSH-2.0-sandbox-test\r\n")  # the server speaks first
            await client.send(b"hello over stdio\n")
            await client.wait_closed()
            assert client.output.endswith(b"HELLO OVER STDIO\n")
            await client.close()
            record = session_record(sandbox, client.session_id)
            assert record.status == "Terminated" and record.end_reason == "exit"

    run(body())
