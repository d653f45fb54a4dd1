"""One started session carried by the native engine, from dial to end, never a zombie.

`NativeSession.run()` dials the StreamUrl, waits for the session to start (within the
start-up timeout), hands it to the handler for its kind (shell, command, stdio, basic
or mux port forwarding) and returns the exit status. Every way out other than "the
service closed the channel" calls TerminateSession: errors, the start-up timeout, a
lost and unresumable connection, Ctrl-C in port modes and commands, SIGTERM and SIGHUP
(passed in through `signal()`), and cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Callable, Mapping
from typing import Any

from ssmctl.datachannel.versions import PortMode, port_mode, smux_keepalive
from ssmctl.engines.native.channel import Channel, Connect, SessionTicket, _reason
from ssmctl.engines.native.modes import LocalStreams, Mode, race
from ssmctl.engines.native.ports import Listening, OnListening, listen_socket, local_port
from ssmctl.engines.native.startup import SessionKind, Started, start
from ssmctl.errors import SessionError

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
INTERRUPT_GOODBYE = 3.0
"""Seconds a handler may take to tell the far end it is leaving after Ctrl-C."""


class NativeSession:
    """A session started with StartSession, carried over its data channel.

    `ssm`: the boto3 SSM client of the session's region (ResumeSession,
    TerminateSession); `response`: the StartSession response (the token stays inside).
    `listener`: for port forwarding, a listening socket bound before the session was
    started (else one is bound on the port the session's properties name);
    `on_listening`: told when a port forward is ready (default: a notice).
    """

    def __init__(
        self,
        ssm: Any,
        response: Mapping[str, Any],
        *,
        streams: LocalStreams,
        notice: Callable[[str], None],
        startup_timeout: float,
        listener: socket.socket | None = None,
        on_listening: OnListening | None = None,
        client_id: str | None = None,
        connect: Connect | None = None,
    ) -> None:
        ticket = SessionTicket.from_response(response)
        self.ssm = ssm
        self.session_id = ticket.session_id
        self.streams = streams
        self.notice = notice
        self.startup_timeout = startup_timeout
        self.listener = listener
        self.on_listening = on_listening or self._listening_notice
        self.channel = Channel(ssm, ticket, notice=notice, client_id=client_id, connect=connect)
        self.mode: Mode | None = None
        self.started: Started | None = None
        self.stop_signal: int | None = None
        self._stop: asyncio.Event | None = None
        self._terminated: bool | None = None

    # -- control ---------------------------------------------------------------------

    def signal(self, signum: int) -> None:
        """A signal ssmctl received (called in the event loop)."""
        mode = self.mode
        if mode is not None and mode.on_signal(signum):
            return
        if signum in STOP_SIGNALS and self.stop_signal is None:
            self.stop_signal = signum
            if self._stop is not None:
                self._stop.set()

    async def run(self) -> int:
        """Carry the session until it ends; returns ssmctl's exit status.

        0 when a shell or port forward ended (or Ctrl-C ended a port forward), the
        command's exit status for a command, 130 after Ctrl-C otherwise, 128 + N after
        SIGTERM/SIGHUP. Raises SessionError when the session cannot start or go on.
        """
        self._stop = asyncio.Event()
        if self.stop_signal is not None:
            self._stop.set()
        try:
            status = await race(self._main(), self._stop_requested())
            if status is None:
                return await self._stopped()
            if self.channel.closed is None:
                await self.terminate()  # e.g. a command whose channel was never closed
            return status
        except SessionError as exc:
            raise SessionError(f"{exc.message}; {await self._ended_text()}") from None
        except BaseException:
            await asyncio.shield(self.terminate())
            raise
        finally:
            await asyncio.shield(self.channel.close())

    async def terminate(self) -> bool:
        """TerminateSession once (not after channel_closed); True when the session ended.

        A failure becomes a notice: it must never hide the error that led here.
        """
        if self.channel.closed is not None:
            return True
        if self._terminated is None:
            try:
                await asyncio.to_thread(self.ssm.terminate_session, SessionId=self.session_id)
                self._terminated = True
            except Exception as exc:
                self._terminated = False
                self.notice(
                    f"ssmctl: could not terminate session {self.session_id}: {_reason(exc)}"
                )
        return self._terminated

    def terminate_now(self) -> None:
        """The blocking TerminateSession for paths outside the event loop."""
        if self.channel.closed is not None or self._terminated is not None:
            return
        self._terminated = False
        try:
            self.ssm.terminate_session(SessionId=self.session_id)
            self._terminated = True
        except Exception as exc:
            self.notice(f"ssmctl: could not terminate session {self.session_id}: {exc}")

    # -- internals -------------------------------------------------------------------

    async def _main(self) -> int | None:
        await self.channel.open(self.startup_timeout or None)
        self.started = await start(self.channel, timeout=self.startup_timeout, notice=self.notice)
        self.mode = self._mode_for(self.started)
        return await self.mode.run()

    async def _stop_requested(self) -> None:
        assert self._stop is not None
        await self._stop.wait()

    async def _stopped(self) -> int:
        signum = self.stop_signal or signal.SIGINT
        status = 128 + signum
        if signum == signal.SIGINT:
            status = 130
            if self.mode is not None:
                with contextlib.suppress(SessionError, asyncio.TimeoutError):
                    status = await asyncio.wait_for(self.mode.interrupted(), INTERRUPT_GOODBYE)
        ended = await self.terminate()
        name = signal.Signals(signum).name
        what = f"terminated session {self.session_id}" if ended else "stopped"
        self.notice(f"ssmctl: {'interrupted' if signum == signal.SIGINT else name}: {what}")
        return status

    async def _ended_text(self) -> str:
        if self.channel.closed is not None:
            return f"session {self.session_id} has ended"
        if await asyncio.shield(self.terminate()):
            return f"session {self.session_id} was terminated"
        return f"session {self.session_id} may still be open"

    def _mode_for(self, started: Started) -> Mode:
        from ssmctl.engines.native.command import CommandMode
        from ssmctl.engines.native.shell import ShellMode

        streams, channel = self.streams, self.channel
        if started.kind is SessionKind.SHELL:
            return ShellMode(channel, streams, started.early, self.notice)
        if started.kind is SessionKind.COMMAND:
            return CommandMode(channel, streams, started.early)
        return self._port_mode(started)

    def _port_mode(self, started: Started) -> Mode:
        from ssmctl.engines.native.mux import MuxPortMode
        from ssmctl.engines.native.ports import BasicPortMode, StdioMode

        assert started.handshake is not None
        properties = started.handshake.properties
        agent_version = started.handshake.agent_version
        kind = port_mode(properties, agent_version)
        if kind is PortMode.STDIO:
            return StdioMode(self.channel, self.streams, started.early)
        listener = self.listener or listen_socket(local_port(properties))
        if kind is PortMode.BASIC:
            return BasicPortMode(
                self.channel, listener, started.early, self.on_listening, self.notice
            )
        return MuxPortMode(
            self.channel,
            listener,
            started.early,
            self.on_listening,
            self.notice,
            keepalive=smux_keepalive(agent_version),
        )

    def _listening_notice(self, listening: Listening) -> None:
        self.notice(f"Port {listening.port} opened for sessionId {listening.session_id}.")
