"""The sandbox: a local emulated Session Manager region on loopback, built on moto.

    with Sandbox() as sandbox:                 # the built-in fleet (default-fleet.yaml)
        env = sandbox.env()                    # AWS_ENDPOINT_URL, keys, region
        ...

Importing this package is cheap: moto is imported when a sandbox starts. Nothing outside
`ssmctl/sandbox/` imports it (the product never depends on its emulator). docs/sandbox.md
describes what it emulates, the fleet file and the pytest fixtures.
"""

from __future__ import annotations

from typing import TextIO

from ssmctl.sandbox.errors import SandboxError
from ssmctl.sandbox.fleet import (
    Fleet,
    GroupSpec,
    HybridNodeSpec,
    InstanceSpec,
    RoleSpec,
    TagFilter,
    TrailThrottle,
    UserSpec,
    default_fleet,
    load_fleet,
)
from ssmctl.sandbox.seed import UserCredentials
from ssmctl.sandbox.server import UNSET_VARS, Sandbox

__all__ = [
    "UNSET_VARS",
    "Fleet",
    "GroupSpec",
    "HybridNodeSpec",
    "InstanceSpec",
    "RoleSpec",
    "Sandbox",
    "SandboxError",
    "TagFilter",
    "TrailThrottle",
    "UserCredentials",
    "UserSpec",
    "default_fleet",
    "load_fleet",
    "serve_forever",
]


def serve_forever(fleet_path: str | None, port: int, user: str | None, out: TextIO) -> None:
    """Run a sandbox until SIGINT or SIGTERM (for `ssmctl sandbox up`).

    Writes the export lines for `user` (default: the fleet's default user) and a comment
    saying how to stop it to `out`, then blocks; returns after a clean stop.
    """
    from ssmctl.sandbox.serve import serve_forever as serve

    serve(fleet_path, port, user, out)
