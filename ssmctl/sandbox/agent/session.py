"""One session on the agent side, for its whole life across sockets.

An `AgentSession` is made when a session's first socket arrives with a valid token, and
lives until the session ends: one `Link` (its sequence numbers survive reconnects), the
worker that does the session's work, the idle and maximum-duration clocks, and the
transcript. Whatever ends it -- the worker on its own, TerminateSession, a Flag from the
client, a timeout -- ends it the same way: stop the worker, let the client acknowledge
the output when that matters, write the transcript, record the end in the session
store, send channel_closed, drop the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import random
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

from ssmctl.datachannel.constants import FlagCode, PayloadType, Role
from ssmctl.datachannel.errors import InvalidPayload, LinkClosed
from ssmctl.datachannel.handshake import HandshakeComplete, HandshakeRequest, HandshakeResponse
from ssmctl.datachannel.link import Attachment, Link, Transport
from ssmctl.datachannel.payloads import ChannelClosedPayload, decode_flag, decode_size
from ssmctl.datachannel.reliable import Delivered, GaveUp
from ssmctl.sandbox.agent.channel import PROBE, AgentChannel
from ssmctl.sandbox.agent.logs import SessionLogs
from ssmctl.sandbox.agent.mux import MuxPortWorker
from ssmctl.sandbox.agent.plan import PlanError, SessionPlan
from ssmctl.sandbox.agent.transcript import Identity
from ssmctl.sandbox.agent.worker import FAILED, TERMINATED, Ending, Worker, WorkerContext, failure
from ssmctl.sandbox.agent.workers import make_worker
from ssmctl.sandbox.sessions import SessionRecord, SessionStore

log = logging.getLogger("ssmctl.sandbox.agent")

HANDSHAKE_TIMEOUT = 15.0
"""Seconds the agent waits for the client's HandshakeResponse."""
FLUSH_TIMEOUT = 10.0
"""Seconds a session that ends on its own waits for the client to acknowledge its output
(a client that dropped its socket may come back within it)."""
SEND_WINDOW = 256
"""Stream messages the agent keeps in flight (see docs/sandbox.md: a Python agent keeps up
with acks only when little is queued; the real agent allows 10,000)."""
PROBE_DELAY = 0.5
"""Seconds after a reconnect before a probe settles messages carried over it."""
STREAM_INTERVAL = 1.0
"""Seconds between CloudWatch streaming events."""
IDLE_TEXT = "Your session timed out due to inactivity and has been terminated."
MAX_DURATION_TEXT = "Your session has reached its maximum duration and has been terminated."


@dataclasses.dataclass(frozen=True)
class SessionServices:
    """What a session needs from the server that holds it."""

    store: Callable[[], SessionStore]
    """The sandbox's session store now (a reseed replaces it)."""
    time_scale: Callable[[], float]
    """Real seconds one second of the preferences' time takes (1: real time; 1/60: minutes
    last seconds; see docs/sandbox.md)."""
    on_done: Callable[[AgentSession], None]


_ids = random.Random(secrets.randbits(64))  # noqa: S311 - ids must be unique, not secret


def _message_id() -> uuid.UUID:
    # Message ids need to be unique, not secret: skip a system call per message.
    return uuid.UUID(int=_ids.getrandbits(128), version=4)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class AgentSession:
    """See the module docstring. Create, then `start()`, then `attach()` sockets."""

    def __init__(
        self,
        record: SessionRecord,
        plan: SessionPlan | str,
        *,
        workdir: Path,
        env: Mapping[str, str],
        services: SessionServices,
    ) -> None:
        self.record = record
        self.session_id = record.session_id
        self.services = services
        self.channel = AgentChannel(
            Role.AGENT, window=SEND_WINDOW, ack_stale=True, new_message_id=_message_id
        )
        self.link = Link(Role.AGENT, channel=self.channel)
        self.plan = plan if isinstance(plan, SessionPlan) else None
        self._problem = plan if isinstance(plan, str) else ""
        self.started = time.monotonic()
        self.last_input = self.started
        self.ending: Ending | None = None
        self.ended = asyncio.Event()
        self.logs: SessionLogs | None = None
        self.worker: Worker | None = None
        if self.plan is not None:
            if self.plan.logged:
                identity = Identity(
                    region=record.region,
                    target=record.target,
                    owner_arn=record.owner,
                    run_as_user=self.plan.run_as_user,
                    session_id=record.session_id,
                )
                logs = SessionLogs(
                    account_id=record.account_id,
                    plan=self.plan,
                    identity=identity,
                    started=_utcnow(),
                )
                self.logs = logs if logs.wanted else None
            context = WorkerContext(
                plan=self.plan,
                workdir=workdir,
                env=env,
                send=self._send,
                record=self._record,
            )
            self.worker = make_worker(self.plan, context)
        self._attachment: Attachment | None = None
        self._working = False
        self._handshake: asyncio.Future[HandshakeResponse] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._dispatcher: asyncio.Task[None] | None = None
        self._finisher: asyncio.Task[None] | None = None

    # -- life ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the work (call once, in the agent's loop)."""
        self._dispatcher = asyncio.create_task(self._dispatch())
        self._tasks = [asyncio.create_task(self._main()), asyncio.create_task(self._watchdog())]
        if self.logs is not None and self.logs.streaming:
            self._tasks.append(asyncio.create_task(self._stream()))

    async def attach(self, transport: Transport) -> Attachment:
        """Carry the session over a new socket (replacing any older one)."""
        attachment = await self.link.attach(transport)
        self._attachment = attachment
        if self.ending is None:
            self._set_status("Connected")
            if self.channel.carried:
                self._tasks.append(asyncio.create_task(self._probe_later()))
        return attachment

    def detached(self, attachment: Attachment) -> None:
        """The socket's handler is done with `attachment`."""
        if self._attachment is attachment:
            self._attachment = None
            if self.ending is None and not self.link.attached:
                self._set_status("Disconnected")

    def drop_socket(self) -> bool:
        """Cut the attached socket without channel_closed, as a network failure would."""
        attachment = self._attachment
        transport = getattr(attachment.transport, "transport", None) if attachment else None
        if transport is None:
            return False
        transport.abort()
        return True

    def request_end(self, ending: Ending) -> None:
        """End the session (the first request wins)."""
        if self._finisher is None:
            self.ending = ending
            self._finisher = asyncio.create_task(self._finish(ending))

    # -- the work --------------------------------------------------------------------

    async def _main(self) -> None:
        if self.plan is None or self.worker is None:
            self.request_end(failure(self._problem))
            return
        try:
            if self.plan.handshakes:
                problem = await self._shake_hands(self.plan)
                if problem:
                    self.request_end(failure(problem))
                    return
            self._working = True
            ending = await self.worker.run()
        except PlanError as exc:
            ending = failure(str(exc))
        except OSError as exc:
            ending = failure(f"The session could not start: {exc}.")
        except Exception as exc:
            log.exception("session %s failed", self.session_id)
            ending = failure(f"The sandbox's agent failed: {exc!r}.")
        self.request_end(ending)

    async def _shake_hands(self, plan: SessionPlan) -> str:
        began = time.monotonic_ns()
        self._handshake = asyncio.get_running_loop().create_future()
        request = HandshakeRequest.for_session(
            plan.agent_version, plan.session_type.value, plan.properties
        )
        await self._send(PayloadType.HANDSHAKE_REQUEST, request.to_payload())
        try:
            response = await asyncio.wait_for(self._handshake, HANDSHAKE_TIMEOUT)
        except asyncio.TimeoutError:
            return f"The client did not answer the handshake within {HANDSHAKE_TIMEOUT:g} s."
        if not response.succeeded:
            errors = "; ".join(
                [a.error for a in response.actions if a.error] + list(response.errors or ())
            )
            return "The client refused the session" + (f": {errors}." if errors else ".")
        complete = HandshakeComplete(time.monotonic_ns() - began, "")
        await self._send(PayloadType.HANDSHAKE_COMPLETE, complete.to_payload())
        return ""

    async def _dispatch(self) -> None:
        async for event in self.link:
            if isinstance(event, Delivered):
                self._on_message(event.payload_type, event.payload)
            elif isinstance(event, GaveUp):
                self.request_end(
                    Ending(
                        FAILED,
                        "failed",
                        "The client stopped acknowledging output.",
                        flush=False,
                    )
                )

    def _on_message(self, payload_type: int, payload: bytes) -> None:
        self.last_input = time.monotonic()
        worker = self.worker
        try:
            if payload_type == PayloadType.HANDSHAKE_RESPONSE:
                if self._handshake is not None and not self._handshake.done():
                    self._handshake.set_result(HandshakeResponse.from_payload(payload))
            elif worker is None or self.ending is not None:
                return
            elif payload_type == PayloadType.OUTPUT:
                worker.input(payload)
            elif payload_type == PayloadType.SIZE:
                worker.resize(*decode_size(payload))
            elif payload_type == PayloadType.FLAG:
                code = decode_flag(payload)
                if code == FlagCode.TERMINATE_SESSION:
                    self.request_end(
                        Ending(
                            TERMINATED,
                            "client_terminated",
                            "The client ended the session (TerminateSession flag).",
                            flush=False,
                        )
                    )
                else:
                    worker.flag(code)
        except InvalidPayload as exc:
            log.debug("session %s: ignored a malformed message: %s", self.session_id, exc)

    async def _watchdog(self) -> None:
        plan = self.plan
        if plan is None:
            return
        while True:
            scale = self.services.time_scale()
            now = time.monotonic()
            idle_at = self.last_input + plan.idle_minutes * 60 * scale
            if now >= idle_at:
                self.request_end(
                    Ending(
                        TERMINATED,
                        "idle_timeout",
                        f"No input from the client for {plan.idle_minutes:g} minutes "
                        "(idleSessionTimeout).",
                        output=IDLE_TEXT,
                        flush=False,
                    )
                )
                return
            wake = idle_at
            if plan.max_minutes is not None:
                max_at = self.started + plan.max_minutes * 60 * scale
                if now >= max_at:
                    self.request_end(
                        Ending(
                            TERMINATED,
                            "max_duration",
                            f"The session reached its maximum duration of {plan.max_minutes:g} "
                            "minutes (maxSessionDuration).",
                            output=MAX_DURATION_TEXT,
                            flush=False,
                        )
                    )
                    return
                wake = min(wake, max_at)
            # Look again at least every second: the time scale may change meanwhile.
            await asyncio.sleep(min(max(wake - now, 0.01), 1.0))

    async def _stream(self) -> None:
        logs = self.logs
        assert logs is not None
        while True:
            await asyncio.sleep(STREAM_INTERVAL)
            logs.stream(_utcnow())

    def _may_probe(self) -> bool:
        # Nothing may reach a mux client before its first smux bytes, nor anyone before
        # the handshake is done.
        worker = self.worker
        if isinstance(worker, MuxPortWorker) and worker.smux is None:
            return False
        return self._working and self.channel.carried > 0

    async def _probe_later(self) -> None:
        await asyncio.sleep(PROBE_DELAY)
        if self._may_probe():
            await self._send(PayloadType.OUTPUT, PROBE)

    async def _send(self, payload_type: int, payload: bytes) -> None:
        # Once the session is ending, what is still produced goes nowhere.
        with contextlib.suppress(LinkClosed):
            await self.link.send(payload_type, payload)

    def _record(self, data: bytes) -> None:
        if self.logs is not None:
            self.logs.feed(data)

    # -- the end ---------------------------------------------------------------------

    async def _finish(self, ending: Ending) -> None:
        try:
            await self._wind_down(ending)
        except Exception:
            log.exception("session %s did not end cleanly", self.session_id)
        finally:
            if self._dispatcher is not None:
                self._dispatcher.cancel()
            self.ended.set()
            self.services.on_done(self)

    async def _wind_down(self, ending: Ending) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.worker is not None:
            try:
                await self.worker.stop()
            except Exception:
                log.exception("session %s: stopping its work failed", self.session_id)
        if ending.flush:
            if self._may_probe():
                await self._send(PayloadType.OUTPUT, PROBE)
            await self.link.wait_acked(FLUSH_TIMEOUT)
        details = ending.details
        if self.logs is not None:
            terminal = getattr(self.worker, "terminal_description", None)
            written = self.logs.finish(
                _utcnow(),
                ending.exit_code,
                terminal() if callable(terminal) else "<not executed on terminal>",
            )
            details = " ".join([details, *written.notes])
            with contextlib.suppress(KeyError):
                self.services.store().set_output_url(
                    self.session_id, written.output_url(self.record.output_url)
                )
        self._set_status(ending.status, details, end_reason=ending.reason)
        if self.link.attached:
            await self.link.send_channel_closed(
                ChannelClosedPayload(
                    session_id=self.session_id,
                    output=ending.output,
                    destination_id=self.record.target,
                )
            )
        await self.link.close()

    def _set_status(
        self, status: str, details: str | None = None, *, end_reason: str | None = None
    ) -> None:
        with contextlib.suppress(KeyError):  # a reseed forgot the session
            self.services.store().set_status(
                self.session_id, status, details, end_reason=end_reason
            )
