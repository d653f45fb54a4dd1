"""A test double of the service + SSM agent side of the data channel, on loopback.

It plays what `ssmmessages` and the agent do for a session (docs/protocol.md), built
from ssmctl.datachannel: one agent-side Link per session surviving socket drops, the
OpenDataChannel token checked by the caller's `authorize`, a handshake for command and
port sessions, and real work behind each session type (tests/native/far_end_work.py):
a shell on a local pty, a command with separate stdout/stderr and its exit status,
TCP connections to local destinations (stdio, basic, smux). Faults on demand: drop a
session's socket without channel_closed, or never start a session (silent).

It runs its own event loop in a thread, so a synchronous test (or ssmctl in another
process) can talk to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

from ssmctl.datachannel import Delivered, PayloadType, Role
from ssmctl.datachannel.handshake import HandshakeResponse
from ssmctl.datachannel.link import Link, receive_opening
from ssmctl.datachannel.opening import OpenDataChannel
from ssmctl.datachannel.payloads import ChannelClosedPayload


@dataclasses.dataclass(frozen=True)
class Plan:
    """What a session is: its target, document and parameters, and the agent's version."""

    session_id: str
    target: str = "i-0123456789abcdef0"
    document: str | None = None
    parameters: Mapping[str, Sequence[str]] = dataclasses.field(default_factory=dict)
    agent_version: str = "3.3.0.0"
    kms_key_id: str | None = None
    customer_message: str = ""

    def parameter(self, name: str, default: str = "") -> str:
        values = self.parameters.get(name) or []
        return values[0] if values else default


Authorize = Callable[[str, str], "Plan | None"]
"""(session id, token) -> the session's plan, or None to refuse (the token is spent)."""


class AgentSession:
    """The agent side of one session: its Link, its work, and what it saw."""

    def __init__(self, far_end: FarEnd, plan: Plan) -> None:
        self.far_end = far_end
        self.plan = plan
        self.link = Link(Role.AGENT)
        self.openings: list[OpenDataChannel] = []
        self.sizes: list[tuple[int, int]] = []
        self.flags: list[int] = []
        self.connection: ServerConnection | None = None
        self.ended = asyncio.Event()
        """Set when the session starts to end (its work stops; the client may still
        reattach to take the rest of the output)."""
        self.finished = False
        """channel_closed was sent and the link closed."""
        self.closed_by: str = ""
        self.handshake_response: HandshakeResponse | None = None
        self._inbox: asyncio.Queue[Delivered] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    # -- the work's view ------------------------------------------------------------

    async def send(self, payload_type: int, payload: bytes) -> None:
        await self.link.send(payload_type, payload)

    async def receive(self) -> Delivered:
        """The client's next stream message (Size and Flag are recorded too)."""
        return await self._inbox.get()

    async def end(self, output: str = "", why: str = "ended") -> None:
        """Flush, send channel_closed, drop the socket: the session is over."""
        if self.ended.is_set():
            return
        self.ended.set()
        self.closed_by = why
        # Like the agent, give a client that is away (resuming) time to take the rest.
        await self.link.wait_acked(timeout=0 if self.far_end.stopping else 20)
        payload = ChannelClosedPayload(self.plan.session_id, output, self.plan.target)
        with contextlib.suppress(Exception):
            await self.link.send_channel_closed(payload)
        await self.link.close()
        self.finished = True
        self.far_end.ended(self.plan.session_id)

    # -- internals ------------------------------------------------------------------

    def start(self) -> None:
        from tests.native.far_end_work import work_for

        async def run() -> None:
            pump = asyncio.ensure_future(self._pump())
            work = asyncio.ensure_future(work_for(self))
            ended = asyncio.ensure_future(self.ended.wait())
            try:
                await asyncio.wait([work, ended], return_when=asyncio.FIRST_COMPLETED)
                if work.done() and work.exception() is not None:
                    await self.end(f"far end error: {work.exception()!r}", why="error")
            finally:
                for task in (pump, work, ended):
                    task.cancel()
                await asyncio.gather(work, return_exceptions=True)
                await self.end()

        self._task = asyncio.ensure_future(run())

    async def _pump(self) -> None:
        from ssmctl.datachannel.payloads import decode_flag, decode_size

        async for event in self.link:
            if not isinstance(event, Delivered):
                continue
            if event.payload_type == PayloadType.SIZE:
                self.sizes.append(decode_size(event.payload))
            elif event.payload_type == PayloadType.FLAG:
                self.flags.append(decode_flag(event.payload))
            self._inbox.put_nowait(event)


class FarEnd:
    """The data-channel server (see the module docstring). `start()` / `stop()`."""

    def __init__(
        self,
        authorize: Authorize,
        *,
        is_active: Callable[[str], bool] = lambda session_id: True,
        on_end: Callable[[str], None] = lambda session_id: None,
    ) -> None:
        self.authorize = authorize
        self.is_active = is_active
        self.on_end = on_end
        self.port = 0
        self.sessions: dict[str, AgentSession] = {}
        self.silent: set[str] = set()
        """Session ids (or "*") that are accepted and then never started."""
        self.refused: list[str] = []
        self.stopping = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: Any = None
        self._watcher: asyncio.Future[None] | None = None

    def start(self) -> FarEnd:
        self._thread.start()
        self.call(self._listen())
        return self

    def stop(self) -> None:
        self.stopping = True

        async def shutdown() -> None:
            if self._watcher is not None:
                self._watcher.cancel()
            # Sessions first, so that their work ends its processes before anything else goes.
            runs = [s._task for s in self.sessions.values() if s._task is not None]
            for run in runs:
                run.cancel()
            await asyncio.gather(*runs, return_exceptions=True)
            for session in list(self.sessions.values()):
                if session.connection is not None:
                    session.connection.transport.abort()  # no close handshakes to wait for
                await session.link.close(timeout=0.2)
            self._server.close()
            await self._server.wait_closed()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        with contextlib.suppress(Exception):
            self.call(shutdown(), timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()

    def url(self, session_id: str) -> str:
        return (
            f"ws://127.0.0.1:{self.port}/v1/data-channel/{session_id}"
            "?role=publish_subscribe&cell-number=test"
        )

    def call(self, coro: Any, timeout: float = 30) -> Any:
        """Run a coroutine in the far end's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def drop(self, session_id: str) -> None:
        """Cut the session's socket without channel_closed (the client should resume)."""

        async def cut() -> None:
            connection = self.sessions[session_id].connection
            if connection is not None:
                connection.transport.abort()

        self.call(cut())

    def terminate(self, session_id: str, output: str = "") -> None:
        """The service ends the session (TerminateSession): channel_closed to the client."""
        session = self.sessions.get(session_id)
        if session is not None:
            self.call(session.end(output, why="terminated"))

    def session(self, session_id: str, timeout: float = 10) -> AgentSession:
        """The session once a client has connected to it."""

        async def wait() -> AgentSession:
            while session_id not in self.sessions:
                await asyncio.sleep(0.02)
            return self.sessions[session_id]

        result: AgentSession = self.call(wait(), timeout)
        return result

    def ended(self, session_id: str) -> None:
        self.on_end(session_id)

    async def _listen(self) -> None:
        self._server = await serve(self._handler, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self._watcher = asyncio.ensure_future(self._watch())

    async def _watch(self) -> None:
        """TerminateSession through the API ends the session here too (channel_closed)."""
        while True:
            await asyncio.sleep(0.1)
            for session_id, session in list(self.sessions.items()):
                if not session.ended.is_set() and not self.is_active(session_id):
                    await session.end(why="terminated")

    async def _handler(self, connection: ServerConnection) -> None:
        path = connection.request.path if connection.request else ""
        session_id = path.split("?", 1)[0].rsplit("/", 1)[-1]
        opening = await receive_opening(connection, timeout=5)
        plan = self.authorize(session_id, opening.token_value)
        if plan is None:
            self.refused.append(session_id)
            await connection.close(4001, "invalid token")
            return
        session = self.sessions.get(session_id)
        if session is None:
            session = AgentSession(self, plan)
            self.sessions[session_id] = session
        if session.finished:
            await connection.close(4002, "session ended")
            return
        session.openings.append(opening)
        session.connection = connection
        attachment = await session.link.attach(connection)
        if len(session.openings) == 1 and not ({"*", session_id} & self.silent):
            session.start()
        await attachment.wait_detached()
