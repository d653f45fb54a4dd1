"""Running a sandbox in the foreground until a signal: `ssmctl sandbox up` and
`python -m ssmctl.sandbox`."""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType
from typing import TextIO

from ssmctl.sandbox.errors import SandboxError
from ssmctl.sandbox.fleet import default_fleet, load_fleet
from ssmctl.sandbox.server import Sandbox

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def serve_forever(fleet_path: str | None, port: int, user: str | None, out: TextIO) -> None:
    """See `ssmctl.sandbox.serve_forever`."""
    fleet = load_fleet(fleet_path) if fleet_path else default_fleet()
    if user is not None and user not in {u.name for u in fleet.users}:
        names = ", ".join(u.name for u in fleet.users)
        raise SandboxError(f"no user {user!r} in the fleet (users: {names})")
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        previous = {s: signal.signal(s, on_signal) for s in STOP_SIGNALS}
    try:
        with Sandbox(fleet, port=port) as sandbox:
            for line in sandbox.export_lines(user):
                out.write(line + "\n")
            out.write(
                f"# ssmctl sandbox on {sandbox.endpoint_url} (account {sandbox.account_id}, "
                f"regions {', '.join(sandbox.regions)}): "
                f"stop it with Ctrl-C or kill {os.getpid()}\n"
            )
            out.flush()
            # A timed wait keeps the main thread responsive to signals everywhere.
            while not stop.wait(0.5):
                pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
