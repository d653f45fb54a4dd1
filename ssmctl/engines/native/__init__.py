"""ssmctl's native engine: a pure-Python client of the Session Manager data channel.

It does what the official session-manager-plugin does, without it: dials the session's
StreamUrl over WebSocket, speaks the data-channel protocol (`ssmctl.datachannel`), and
carries every session type -- a shell on the user's terminal, a non-interactive command
with separate stdout/stderr and its exit status, port forwarding (stdio for SSH, basic,
and smux-multiplexed) -- resuming the session when the connection drops and terminating
it on every failure.

    from ssmctl.engines.native import run_native
    status = run_native(ssm, ssm.start_session(**request), notice=warn, startup_timeout=30)

Modules: `channel` (dial, resume), `startup` (first output or handshake), `shell`,
`command`, `ports` (stdio, basic), `mux`, `session` (one session, end to end), `runner`
(event loop and signals), `localio` (the user's descriptors).
"""

from ssmctl.engines.native.channel import CLIENT_VERSION, SessionTicket
from ssmctl.engines.native.localio import FdWriter, Sink
from ssmctl.engines.native.modes import LocalStreams
from ssmctl.engines.native.ports import Listening, listen_socket
from ssmctl.engines.native.runner import SignalRouter, local_streams, run_async, run_native
from ssmctl.engines.native.session import NativeSession

__all__ = [
    "CLIENT_VERSION",
    "FdWriter",
    "Listening",
    "LocalStreams",
    "NativeSession",
    "SessionTicket",
    "SignalRouter",
    "Sink",
    "listen_socket",
    "local_streams",
    "run_async",
    "run_native",
]
