"""The data-channel endpoint StreamUrls point at: the ssmmessages service and the SSM agent
of every emulated instance, on the sandbox's loopback stream port.

It runs in a thread of its own with its own asyncio loop. A connection to
`/v1/data-channel/<session-id>` (the query is opaque) must open with the OpenDataChannel
frame carrying the session's one-time token from StartSession or ResumeSession; anything
else is closed without attaching (an `Authorization` header, which newer plugins send,
is ignored). Each session has one `AgentSession` for its whole life, so a socket that
drops and comes back after ResumeSession carries on with the same sequence numbers.
TerminateSession, served in moto's threads, reaches the session through the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from ssmctl.datachannel.errors import InvalidPayload, LinkClosed
from ssmctl.datachannel.link import receive_opening
from ssmctl.sandbox import moto_access
from ssmctl.sandbox.agent.plan import PlanError, SessionPlan, plan_session
from ssmctl.sandbox.agent.session import AgentSession, SessionServices
from ssmctl.sandbox.agent.worker import TERMINATED, Ending
from ssmctl.sandbox.agent.workers import check
from ssmctl.sandbox.command_exec import node_environment
from ssmctl.sandbox.fleet import DEFAULT_AGENT_VERSION
from ssmctl.sandbox.runtime import Runtime
from ssmctl.sandbox.sessions import DEFAULT_DOCUMENT, SessionRecord, SessionStore

log = logging.getLogger("ssmctl.sandbox.agent")

OPENING_TIMEOUT = 10.0
"""Seconds a new connection has to send its OpenDataChannel frame."""
STOP_TIMEOUT = 10.0
RECEIVE_BUFFER = 64 * 1024
_PATH = re.compile(r"^/v1/data-channel/([^/?#]{1,96})(?:\?.*)?$")
_T = TypeVar("_T")
_REFUSED = 1008  # policy violation: no such channel, or not this token
# The agent's sessions get no terminal settings of the sandbox's own terminal.
_TERMINAL_VARIABLES = ("COLUMNS", "LINES", "TERM", "TERMCAP")
# The host's shell customisation is not the emulated instance's: an exported PS1 (a
# virtualenv's `activate` exports one) or an ENV start-up file would change its prompt.
_SHELL_VARIABLES = ("PS1", "PS2", "PS4", "PROMPT_COMMAND", "ENV", "BASH_ENV")


class _NoFrameDumps(logging.LoggerAdapter):  # type: ignore[type-arg]
    """websockets' logger, minus its DEBUG frame dumps: the first frame holds a token."""

    def isEnabledFor(self, level: int) -> bool:
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


def session_environment(record: SessionRecord, workdir: Path) -> dict[str, str]:
    """A session's processes' environment: a node's (as Run Command's), at home in its
    working directory."""
    env = node_environment(record.target, record.region, workdir)
    for name in (*_TERMINAL_VARIABLES, *_SHELL_VARIABLES):
        env.pop(name, None)
    env.update(HOME=str(workdir), SHELL="/bin/sh")
    return env


class DataChannelServer:
    """See the module docstring. `start()` serves on `sock` (bound to loopback)."""

    def __init__(self, runtime: Runtime, sock: socket.socket, *, time_scale: float = 1.0) -> None:
        self.runtime = runtime
        self._sock = sock
        self._time_scale = time_scale
        self._sessions: dict[str, AgentSession] = {}
        self._watched: SessionStore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._services = SessionServices(
            store=self._store, time_scale=lambda: self._time_scale, on_done=self._forget
        )

    # -- life cycle (any thread) ---------------------------------------------------

    def start(self) -> DataChannelServer:
        ready = threading.Event()
        failed: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._run, args=(ready, failed), name="ssmctl-sandbox-data-channel", daemon=True
        )
        self._thread.start()
        ready.wait(STOP_TIMEOUT)
        if failed:
            raise failed[0]
        return self

    def stop(self) -> None:
        """End every session (killing its processes), stop serving, stop the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(STOP_TIMEOUT + 5)
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(loop.stop)
        thread.join(STOP_TIMEOUT)
        self._loop = self._thread = None

    def end_all(self, why: str) -> None:
        """End every session now (e.g. before the sandbox is seeded again)."""
        self._call(self._end_all(why))

    @property
    def time_scale(self) -> float:
        """Seconds the sessions' idle and duration clocks run per AWS second (1: real time;
        1/60: the preferences' minutes last seconds)."""
        return self._time_scale

    @time_scale.setter
    def time_scale(self, value: float) -> None:
        if not value > 0:
            raise ValueError("time_scale must be positive")
        self._time_scale = value

    def drop_socket(self, session_id: str, wait: float = 0.0) -> bool:
        """Cut a session's socket without channel_closed (as a network failure would).

        With `wait`, waits up to that many seconds for a socket to be attached first (e.g.
        the one a client is resuming with); False when none is.
        """
        return self._call(self._drop(session_id, wait), wait + STOP_TIMEOUT) is True

    def wait_ended(self, session_id: str, timeout: float = 30.0) -> bool:
        """Wait until the agent has finished a session (transcripts written, store
        updated, channel_closed sent); True at once for a session it does not hold."""
        return self._call(self._wait_ended(session_id, timeout), timeout + 5) is True

    def active(self) -> list[str]:
        """Ids of the sessions the agent holds now."""
        return list(self._call(self._list()) or [])

    # -- in the loop ---------------------------------------------------------------

    def _run(self, ready: threading.Event, failed: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            self._server = loop.run_until_complete(self._serve())
        except BaseException as exc:
            failed.append(exc)
            ready.set()
            loop.close()
            return
        self._loop = loop
        ready.set()
        try:
            loop.run_forever()
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self) -> Server:
        # A small receive buffer (inherited by accepted sockets) keeps a fast client from
        # queueing more than the agent reads within the 1 s resend timeout: TCP makes it
        # wait instead of resending.
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        self._sock.listen(128)
        self._sock.setblocking(False)
        server: Server = await serve(
            self._handle,
            sock=self._sock,
            compression=None,
            ping_interval=None,
            logger=_NoFrameDumps(logging.getLogger("ssmctl.sandbox.agent.websockets"), {}),
        )
        return server

    async def _shutdown(self) -> None:
        await self._end_all("The sandbox stopped.")
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), STOP_TIMEOUT)

    async def _handle(self, ws: ServerConnection) -> None:
        match = _PATH.match(ws.request.path if ws.request else "")
        if match is None:
            await ws.close(_REFUSED, "no such data channel")
            return
        session_id = match.group(1)
        try:
            opening = await receive_opening(ws, OPENING_TIMEOUT)
        except (InvalidPayload, asyncio.TimeoutError, ConnectionClosed):
            await ws.close(_REFUSED, "expected an OpenDataChannel request")
            return
        record = self._store().consume_token(session_id, opening.token_value)
        if record is None:
            log.info("refused a data-channel connection to %s: invalid token", session_id)
            await ws.close(_REFUSED, "invalid token")
            return
        session = self._sessions.get(session_id)
        if session is None:
            session = self._sessions[session_id] = self._create(record)
            session.start()
        try:
            attachment = await session.attach(ws)
        except LinkClosed:
            await ws.close(_REFUSED, "the session has ended")
            return
        try:
            await attachment.wait_detached()
        finally:
            session.detached(attachment)

    def _create(self, record: SessionRecord) -> AgentSession:
        runtime = self.runtime
        registration = runtime.nodes.get(record.region, record.target)
        document = None
        if record.document_name != DEFAULT_DOCUMENT:
            document = moto_access.ssm_document(
                record.account_id, record.region, record.document_name
            )
        plan: SessionPlan | str
        try:
            plan = plan_session(
                document_name=record.document_name,
                content=document.latest_content if document else None,
                parameters=record.parameters,
                preferences=record.preferences,
                agent_version=registration.agent_version if registration else DEFAULT_AGENT_VERSION,
                platform_type=registration.platform_type if registration else "Linux",
                default_document=DEFAULT_DOCUMENT,
            )
            check(plan)
        except PlanError as exc:
            plan = str(exc)
        workdir = runtime.workdirs.path(record.target)
        return AgentSession(
            record,
            plan,
            workdir=workdir,
            env=session_environment(record, workdir),
            services=self._services,
        )

    def _store(self) -> SessionStore:
        store = self.runtime.sessions
        if store is not self._watched:
            store.subscribe_terminate(self._terminated)
            self._watched = store
        return store

    def _terminated(self, record: SessionRecord) -> None:
        # Called in the thread that served TerminateSession.
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has stopped
                loop.call_soon_threadsafe(self._end_terminated, record.session_id)

    def _end_terminated(self, session_id: str) -> None:
        session = self._sessions.get(session_id)
        if session is not None:
            session.request_end(
                Ending(TERMINATED, "terminated", "Terminated by TerminateSession.", flush=False)
            )

    def _forget(self, session: AgentSession) -> None:
        if self._sessions.get(session.session_id) is session:
            del self._sessions[session.session_id]

    async def _end_all(self, why: str) -> None:
        sessions = list(self._sessions.values())
        for session in sessions:
            session.request_end(Ending(TERMINATED, "terminated", why, output=why, flush=False))
        if sessions:
            await asyncio.wait(
                [asyncio.create_task(s.ended.wait()) for s in sessions], timeout=STOP_TIMEOUT
            )

    async def _drop(self, session_id: str, wait: float) -> bool:
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            session = self._sessions.get(session_id)
            if session is not None and session.drop_socket():
                return True
            if asyncio.get_running_loop().time() >= deadline:
                return False
            await asyncio.sleep(0.02)

    async def _wait_ended(self, session_id: str, timeout: float) -> bool:
        session = self._sessions.get(session_id)
        if session is None:
            return True
        try:
            await asyncio.wait_for(session.ended.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    async def _list(self) -> list[str]:
        return list(self._sessions)

    def _call(
        self, coroutine: Coroutine[Any, Any, _T], timeout: float = STOP_TIMEOUT + 5
    ) -> _T | None:
        loop = self._loop
        if loop is None:
            coroutine.close()
            return None
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout)
