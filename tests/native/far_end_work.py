"""What the far end does for each session type (see far_end.py): the agent's work.

- shell (no document, InteractiveCommands): `sh -i` (or the command) on a local pty,
  TERM=xterm-256color, input written to the pty, Size applied with TIOCSWINSZ;
- NonInteractiveCommands: `sh -c command` on pipes; stdout as Output, stderr as StdErr
  with separateOutputStream (else Output), then `EXIT_CODE: <n>`; input to its stdin;
- Port: TCP to host:portNumber on this machine -- stdio (no `type`), basic (one
  connection, Flag 1 drops it) or smux (a stream per client connection; Flag 3 when
  the destination refuses).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import signal
import struct
import subprocess
import termios
from typing import TYPE_CHECKING, Any

from ssmctl.datachannel import FlagCode, PayloadType
from ssmctl.datachannel.chunking import Utf8Chunker, chunk_bytes
from ssmctl.datachannel.handshake import HandshakeComplete, HandshakeRequest, HandshakeResponse
from ssmctl.datachannel.payloads import decode_flag, decode_size, encode_exit_code, encode_flag
from ssmctl.datachannel.smux_session import SmuxSession, StreamClosed, StreamData, StreamOpened
from ssmctl.datachannel.versions import PortMode, port_mode

if TYPE_CHECKING:
    from tests.native.far_end import AgentSession

SHELL_DOCUMENTS = (None, "", "SSM-SessionManagerRunShell")
PORT_DOCUMENTS = (
    "AWS-StartPortForwardingSession",
    "AWS-StartPortForwardingSessionToRemoteHost",
    "AWS-StartSSHSession",
)


class HandshakeRefused(Exception):
    pass


async def work_for(session: AgentSession) -> None:
    document = session.plan.document
    if document in SHELL_DOCUMENTS:
        await shell(session, None)
    elif document == "AWS-StartInteractiveCommand":
        await shell(session, session.plan.parameter("command"))
    elif document == "AWS-StartNonInteractiveCommand":
        await command(session)
    elif document in PORT_DOCUMENTS:
        await port(session)
    else:
        raise ValueError(f"the far end does not know document {document!r}")


async def handshake(session: AgentSession, session_type: str, properties: Any) -> None:
    plan = session.plan
    request = HandshakeRequest.for_session(
        plan.agent_version, session_type, properties, kms_key_id=plan.kms_key_id
    )
    await session.send(PayloadType.HANDSHAKE_REQUEST, request.to_payload())
    while (message := await session.receive()).payload_type != PayloadType.HANDSHAKE_RESPONSE:
        pass
    response = HandshakeResponse.from_payload(message.payload)
    session.handshake_response = response
    if not response.succeeded:
        raise HandshakeRefused(response.errors)
    complete = HandshakeComplete(1_000_000, plan.customer_message)
    await session.send(PayloadType.HANDSHAKE_COMPLETE, complete.to_payload())


# -- shell ----------------------------------------------------------------------------


def _take_terminal() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


async def shell(session: AgentSession, command: str | None) -> None:
    if session.plan.kms_key_id:
        await handshake(session, "Standard_Stream", {})
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    argv = ["sh", "-c", command] if command else ["sh", "-i"]
    env = {"PATH": os.environ.get("PATH", os.defpath), "TERM": "xterm-256color", "PS1": "$ "}
    process = subprocess.Popen(
        argv,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**env, "LANG": "C.UTF-8", "HOME": "/tmp"},
        start_new_session=True,
        preexec_fn=_take_terminal,  # noqa: PLW1509 - the far end's child execs at once
    )
    os.close(slave)
    os.set_blocking(master, False)
    feeder = asyncio.ensure_future(_shell_input(session, master))
    try:
        await _shell_output(session, master)
        await asyncio.to_thread(process.wait)
    finally:
        feeder.cancel()
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await asyncio.to_thread(process.wait)
        os.close(master)


async def _shell_output(session: AgentSession, master: int) -> None:
    loop = asyncio.get_running_loop()
    readable = asyncio.Event()
    loop.add_reader(master, readable.set)
    chunker = Utf8Chunker()
    try:
        while True:
            await readable.wait()
            readable.clear()
            try:
                data = os.read(master, 65536)
            except BlockingIOError:
                continue
            except OSError:  # EIO: the shell and everything on its pty are gone
                data = b""
            if not data:
                break
            for chunk in chunker.feed(data):
                await session.send(PayloadType.OUTPUT, chunk)
        for chunk in chunker.flush():
            await session.send(PayloadType.OUTPUT, chunk)
    finally:
        loop.remove_reader(master)


async def _shell_input(session: AgentSession, master: int) -> None:
    while True:
        message = await session.receive()
        if message.payload_type == PayloadType.OUTPUT:
            with contextlib.suppress(OSError):
                os.write(master, message.payload)
        elif message.payload_type == PayloadType.SIZE:
            cols, rows = decode_size(message.payload)
            fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


# -- non-interactive command ------------------------------------------------------------


async def command(session: AgentSession) -> None:
    text = session.plan.parameter("command")
    separate = session.plan.parameter("separateOutputStream", "false") == "true"
    step = {"commands": text, "runAsElevated": False, "separateOutputStream": separate}
    await handshake(session, "NonInteractiveCommands", {"linux": step})
    process = await asyncio.create_subprocess_exec(
        "sh",
        "-c",
        text,
        env={**os.environ, "FAR_END_TARGET": session.plan.target},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stdout and process.stderr
    feeder = asyncio.ensure_future(_command_input(session, process))
    try:
        await asyncio.gather(
            _pipe_out(session, process.stdout, PayloadType.OUTPUT),
            _pipe_out(
                session, process.stderr, PayloadType.STDERR if separate else PayloadType.OUTPUT
            ),
        )
        code = await process.wait()
    finally:
        feeder.cancel()
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        # Read the pipes to their end too: only then is the subprocess transport closed.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(process.communicate(), 5)
    if separate:
        await session.send(PayloadType.EXIT_CODE, encode_exit_code(code))


async def _pipe_out(session: AgentSession, stream: asyncio.StreamReader, kind: int) -> None:
    chunker = Utf8Chunker()
    while data := await stream.read(4096):
        for chunk in chunker.feed(data):
            await session.send(kind, chunk)
    for chunk in chunker.flush():
        await session.send(kind, chunk)


async def _command_input(session: AgentSession, process: asyncio.subprocess.Process) -> None:
    assert process.stdin
    while True:
        message = await session.receive()
        if message.payload_type == PayloadType.OUTPUT:
            with contextlib.suppress(ConnectionError, OSError):
                process.stdin.write(message.payload)
                await process.stdin.drain()


# -- port -----------------------------------------------------------------------------


async def port(session: AgentSession) -> None:
    plan = session.plan
    if plan.document == "AWS-StartSSHSession":
        properties: dict[str, str] = {"portNumber": plan.parameter("portNumber", "22")}
    else:
        properties = {
            "portNumber": plan.parameter("portNumber", "80"),
            "type": "LocalPortForwarding",
            "localPortNumber": plan.parameter("localPortNumber", "0"),
        }
        if plan.document == "AWS-StartPortForwardingSessionToRemoteHost":
            properties["host"] = plan.parameter("host")
    await handshake(session, "Port", properties)
    destination = (properties.get("host") or "127.0.0.1", int(properties["portNumber"]))
    mode = port_mode(properties, plan.agent_version)
    if mode is PortMode.STDIO:
        await _stdio(session, destination)
    elif mode is PortMode.BASIC:
        await _basic(session, destination)
    else:
        await _Mux(session, destination).run()


async def _down(session: AgentSession, reader: asyncio.StreamReader) -> None:
    while data := await reader.read(65536):
        for chunk in chunk_bytes(data):
            await session.send(PayloadType.OUTPUT, chunk)


def _flag(payload: bytes) -> int:
    return decode_flag(payload)


async def _stdio(session: AgentSession, destination: tuple[str, int]) -> None:
    reader, writer = await asyncio.open_connection(*destination)
    down = asyncio.ensure_future(_down(session, reader))
    up = asyncio.ensure_future(_stdio_up(session, writer))
    try:
        await asyncio.wait([down, up], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (down, up):
            task.cancel()
        writer.close()


async def _stdio_up(session: AgentSession, writer: asyncio.StreamWriter) -> None:
    while True:
        message = await session.receive()
        if message.payload_type == PayloadType.OUTPUT:
            writer.write(message.payload)
            await writer.drain()
        elif (
            message.payload_type == PayloadType.FLAG
            and _flag(message.payload) == FlagCode.TERMINATE_SESSION
        ):
            return


async def _basic(session: AgentSession, destination: tuple[str, int]) -> None:
    writer: asyncio.StreamWriter | None = None
    down: asyncio.Future[None] | None = None
    try:
        while True:
            message = await session.receive()
            if message.payload_type == PayloadType.FLAG:
                code = _flag(message.payload)
                if code == FlagCode.TERMINATE_SESSION:
                    return
                if code == FlagCode.DISCONNECT_TO_PORT and writer is not None:
                    writer.close()
                    writer = None
                continue
            if message.payload_type != PayloadType.OUTPUT:
                continue
            if writer is None or writer.is_closing():
                reader, writer = await asyncio.open_connection(*destination)
                down = asyncio.ensure_future(_down(session, reader))
            writer.write(message.payload)
            await writer.drain()
    finally:
        if down is not None:
            down.cancel()
        if writer is not None:
            writer.close()


class _Mux:
    """The smux server side: a destination connection per client stream."""

    def __init__(self, session: AgentSession, destination: tuple[str, int]) -> None:
        self.session = session
        self.destination = destination
        self.clock = asyncio.get_running_loop().time
        self.smux = SmuxSession(client=False, now=self.clock(), keepalive=False)
        self.writers: dict[int, asyncio.StreamWriter] = {}
        self.pending: dict[int, list[bytes | None]] = {}
        self.lock = asyncio.Lock()
        self.tasks: set[asyncio.Future[None]] = set()

    async def run(self) -> None:
        try:
            while True:
                message = await self.session.receive()
                if message.payload_type == PayloadType.FLAG:
                    if _flag(message.payload) == FlagCode.TERMINATE_SESSION:
                        return
                    continue
                if message.payload_type != PayloadType.OUTPUT:
                    continue
                for event in self.smux.receive(message.payload, self.clock()):
                    self._on(event)
        finally:
            for task in self.tasks:
                task.cancel()
            for writer in self.writers.values():
                writer.close()

    def _on(self, event: Any) -> None:
        if isinstance(event, StreamOpened):
            self.pending[event.stream_id] = []
            task = asyncio.ensure_future(self._connect(event.stream_id))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        elif isinstance(event, StreamData | StreamClosed):
            data = event.data if isinstance(event, StreamData) else None
            writer = self.writers.get(event.stream_id)
            if writer is None:
                self.pending.setdefault(event.stream_id, []).append(data)
            elif writer.is_closing():
                pass
            elif data is None:
                with contextlib.suppress(OSError):
                    writer.write_eof()
            else:
                writer.write(data)

    async def _connect(self, stream_id: int) -> None:
        try:
            reader, writer = await asyncio.open_connection(*self.destination)
        except OSError:
            await self.session.send(PayloadType.FLAG, encode_flag(FlagCode.CONNECT_TO_PORT_ERROR))
            self.smux.close_stream(stream_id)
            await self._flush()
            return
        self.writers[stream_id] = writer
        for data in self.pending.pop(stream_id, []):
            if data is None:
                writer.write_eof()
            else:
                writer.write(data)
        while data := await reader.read(65536):
            if not self.smux.is_open(stream_id):
                break
            self.smux.write(stream_id, data)
            await self._flush()
        self.smux.close_stream(stream_id)
        await self._flush()

    async def _flush(self) -> None:
        async with self.lock:
            for chunk in chunk_bytes(self.smux.data_to_send()):
                await self.session.send(PayloadType.OUTPUT, chunk)
