"""How a session starts (protocol.md section 5): a shell's first output, or a handshake.

Standard_Stream and InteractiveCommands sessions send no handshake: their first Output
message makes the client a terminal. NonInteractiveCommands and Port sessions start with
a HandshakeRequest naming the session type and its properties; the client answers and
waits for HandshakeComplete. KMS encryption is refused (the native engine does not
implement it) with an answer the agent understands, then a clear error.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
from collections.abc import Callable

from ssmctl.datachannel import Delivered, InvalidPayload, PayloadType
from ssmctl.datachannel.handshake import (
    ActionStatus,
    ActionType,
    HandshakeComplete,
    HandshakeRequest,
    HandshakeResponse,
    ProcessedAction,
    SessionType,
)
from ssmctl.engines.native.channel import CLIENT_VERSION, Channel
from ssmctl.errors import SessionError
from ssmctl.sanitize import terminal_safe

KMS_UNSUPPORTED = (
    "ssmctl's native engine does not implement KMS session encryption; "
    "use the session-manager-plugin (--engine plugin)"
)


class SessionKind(enum.Enum):
    """What the client side of a session does."""

    SHELL = "shell"
    COMMAND = "command"
    PORT = "port"


_KINDS = {
    SessionType.STANDARD_STREAM.value: SessionKind.SHELL,
    SessionType.INTERACTIVE_COMMANDS.value: SessionKind.SHELL,
    SessionType.NON_INTERACTIVE_COMMANDS.value: SessionKind.COMMAND,
    SessionType.PORT.value: SessionKind.PORT,
}


@dataclasses.dataclass(frozen=True)
class Started:
    """A session past its start: its kind, its handshake (if any), and what came early."""

    kind: SessionKind
    handshake: HandshakeRequest | None = None
    early: tuple[Delivered, ...] = ()
    """Stream messages already received that the session's handler must process first."""


async def start(channel: Channel, *, timeout: float, notice: Callable[[str], None]) -> Started:
    """Wait for the session to start (at most `timeout` seconds; 0 = no limit).

    Raises SessionError on the timeout, on a channel closed before the start, and on a
    handshake ssmctl cannot accept (KMS, an unknown session type).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout if timeout > 0 else None

    async def next_message(waiting_for: str) -> Delivered:
        remaining = None if deadline is None else max(0.0, deadline - loop.time())
        try:
            delivered = await asyncio.wait_for(channel.receive(), remaining)
        except asyncio.TimeoutError:
            raise SessionError(
                f"session {channel.session_id} sent no {waiting_for} within {timeout:g} s "
                "(is the instance's SSM agent reachable?)"
            ) from None
        if delivered is None:
            closed = channel.closed
            why = f": {terminal_safe(closed.output)}" if closed and closed.output else ""
            raise SessionError(f"session {channel.session_id} was closed before it started{why}")
        return delivered

    first = await next_message("output or handshake")
    if first.payload_type != PayloadType.HANDSHAKE_REQUEST:
        return Started(SessionKind.SHELL, early=(first,))
    request = _parse(first)
    kind = await _answer(channel, request)
    early: list[Delivered] = []
    while True:
        message = await next_message("HandshakeComplete")
        if message.payload_type == PayloadType.HANDSHAKE_COMPLETE:
            break
        early.append(message)
    complete = HandshakeComplete.from_payload(message.payload)
    if complete.customer_message.strip():
        notice(terminal_safe(complete.customer_message.strip()))
    return Started(kind, request, tuple(early))


def _parse(message: Delivered) -> HandshakeRequest:
    try:
        return HandshakeRequest.from_payload(message.payload)
    except InvalidPayload as exc:
        raise SessionError(f"the agent's handshake is malformed: {exc}") from None


async def _answer(channel: Channel, request: HandshakeRequest) -> SessionKind:
    """Send the HandshakeResponse; the session's kind, or SessionError when refused."""
    session_type = request.session_type or ""
    kind = _KINDS.get(session_type)
    processed = []
    problems = []
    for action in request.actions:
        if action.action_type == ActionType.SESSION_TYPE.value and kind is not None:
            processed.append(ProcessedAction(action.action_type, ActionStatus.SUCCESS))
        elif action.action_type == ActionType.SESSION_TYPE.value:
            problem = f"session type {session_type!r} is not supported by ssmctl"
            problems.append(problem)
            processed.append(
                ProcessedAction(action.action_type, ActionStatus.UNSUPPORTED, None, problem)
            )
        elif action.action_type == ActionType.KMS_ENCRYPTION.value:
            problems.append(KMS_UNSUPPORTED)
            processed.append(
                ProcessedAction(action.action_type, ActionStatus.FAILED, None, KMS_UNSUPPORTED)
            )
        else:
            problem = f"client action {action.action_type!r} is not supported by ssmctl"
            problems.append(problem)
            processed.append(
                ProcessedAction(action.action_type, ActionStatus.UNSUPPORTED, None, problem)
            )
    response = HandshakeResponse(CLIENT_VERSION, tuple(processed), tuple(problems) or None)
    await channel.send(PayloadType.HANDSHAKE_RESPONSE, response.to_payload())
    if problems:
        # Let the refusal reach the agent, so it ends the session from its side too.
        await channel.wait_acked(1.0)
        reason = terminal_safe(problems[0])
        raise SessionError(f"cannot start session {channel.session_id}: {reason}")
    if kind is None:
        raise SessionError(f"session {channel.session_id} named no session type in its handshake")
    return kind
