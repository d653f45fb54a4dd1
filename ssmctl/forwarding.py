"""Port forwarding (`ssmctl forward`) and SSH's ProxyCommand (`ssmctl proxy`): requests.

`forward` uses AWS-StartPortForwardingSession (a port on the instance) or
AWS-StartPortForwardingSessionToRemoteHost (a host reachable from the instance, such as
a database endpoint); `proxy` uses AWS-StartSSHSession, which carries bytes over stdin and
stdout. With the native engine the local port is bound before the session starts, so a
busy port fails before anything exists on the AWS side.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ssmctl.sessions import start_request

FORWARD_DOCUMENT = "AWS-StartPortForwardingSession"
REMOTE_HOST_DOCUMENT = "AWS-StartPortForwardingSessionToRemoteHost"
SSH_DOCUMENT = "AWS-StartSSHSession"


@dataclasses.dataclass(frozen=True)
class Forward:
    """A forward from a local port to remote_port on the instance (or on `host`)."""

    remote_port: int
    local_port: int = 0
    """0: any free port."""
    host: str | None = None

    def request(self, instance_id: str, *, reason: str | None = None) -> dict[str, Any]:
        parameters = {
            "portNumber": [str(self.remote_port)],
            "localPortNumber": [str(self.local_port)],
        }
        if self.host:
            parameters["host"] = [self.host]
        document = REMOTE_HOST_DOCUMENT if self.host else FORWARD_DOCUMENT
        return start_request(instance_id, document=document, parameters=parameters, reason=reason)

    def destination(self, target: str) -> str:
        """`db-1:5432`, or `db.example.com:5432 via db-1` for a remote host."""
        if self.host:
            return f"{self.host}:{self.remote_port} via {target}"
        return f"{target}:{self.remote_port}"


def proxy_request(instance_id: str, port: int, *, reason: str | None = None) -> dict[str, Any]:
    """AWS-StartSSHSession to `port` on the instance (stdin/stdout forwarding)."""
    return start_request(
        instance_id, document=SSH_DOCUMENT, parameters={"portNumber": [str(port)]}, reason=reason
    )
