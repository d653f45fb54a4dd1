"""The running sandbox's own state (everything moto does not keep), and who may reach it.

moto's backends are process-global, so a process runs at most one sandbox; the patched
moto handlers find its state through `current()`.
"""

from __future__ import annotations

import dataclasses
import threading

from ssmctl.sandbox.command_store import CommandStore
from ssmctl.sandbox.fleet import Fleet, TrailThrottle
from ssmctl.sandbox.nodes import NodeRegistry
from ssmctl.sandbox.paging import TokenCodec
from ssmctl.sandbox.sessions import SessionStore
from ssmctl.sandbox.trail import TokenBucket, TrailStore
from ssmctl.sandbox.workdirs import Workdirs


@dataclasses.dataclass
class Runtime:
    """State shared by the credential gate and the sandbox's handlers."""

    fleet: Fleet
    host: str
    stream_port: int = 0
    nodes: NodeRegistry = dataclasses.field(default_factory=NodeRegistry)
    trail: TrailStore = dataclasses.field(default_factory=TrailStore)
    codec: TokenCodec = dataclasses.field(default_factory=TokenCodec)
    sessions: SessionStore = dataclasses.field(init=False)
    expired_users: set[str] = dataclasses.field(default_factory=set)
    throttle: TrailThrottle | None = dataclasses.field(init=False)
    commands: CommandStore = dataclasses.field(default_factory=CommandStore)
    """Run Command's commands (they run for real, in `workdirs`)."""
    workdirs: Workdirs = dataclasses.field(default_factory=Workdirs)
    """Each node's working directory (Run Command, shells of the data channel)."""
    _buckets: dict[tuple[str, str], TokenBucket] = dataclasses.field(default_factory=dict)
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.sessions = SessionStore(self.fleet.connect_timeout)
        self.expired_users = {u.name for u in self.fleet.users if u.expired}
        self.throttle = self.fleet.trail_throttle

    def reset(self) -> None:
        """Forget nodes, sessions, events and rate-limit state (before seeding again)."""
        self.nodes.clear()
        self.trail = TrailStore()
        self.sessions = SessionStore(self.fleet.connect_timeout)
        self.commands.close()
        self.commands = CommandStore()
        self.set_throttle(self.fleet.trail_throttle)

    def close(self) -> None:
        """Kill every command still running and remove the nodes' working directories."""
        self.commands.close()
        self.workdirs.close()

    def set_throttle(self, throttle: TrailThrottle | None) -> None:
        """Change the LookupEvents rate limit (None: off); buckets start full."""
        with self._lock:
            self.throttle = throttle
            self._buckets.clear()

    @property
    def account_id(self) -> str:
        return self.fleet.account_id

    def lookup_allowed(self, account_id: str, region: str) -> bool:
        """Spend one LookupEvents call of the account's per-region rate limit."""
        throttle = self.throttle
        if throttle is None:
            return True
        with self._lock:
            bucket = self._buckets.get((account_id, region))
            if bucket is None:
                bucket = TokenBucket(throttle.rate, throttle.burst)
                self._buckets[(account_id, region)] = bucket
        return bucket.take()

    def stream_url(self, session_id: str, cell: str) -> str:
        return (
            f"ws://{self.host}:{self.stream_port}/v1/data-channel/{session_id}"
            f"?role=publish_subscribe&cell-number={cell}"
        )


class _Slot:
    """The process's active runtime (a holder, so no module global is rebound)."""

    def __init__(self) -> None:
        self.runtime: Runtime | None = None
        self.lock = threading.Lock()


_slot = _Slot()


class NoSandbox(RuntimeError):
    """A sandbox handler ran with no sandbox running in this process."""


def current() -> Runtime:
    runtime = _slot.runtime
    if runtime is None:
        raise NoSandbox("no ssmctl sandbox is running in this process")
    return runtime


def activate(runtime: Runtime) -> None:
    """Make `runtime` the process's sandbox; RuntimeError if one is already active."""
    with _slot.lock:
        if _slot.runtime is not None:
            raise RuntimeError("already active")
        _slot.runtime = runtime


def deactivate(runtime: Runtime) -> None:
    with _slot.lock:
        if _slot.runtime is runtime:
            _slot.runtime = None
