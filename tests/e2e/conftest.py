"""End-to-end session tests: a real ssmctl process against the sandbox, whose data channel
plays the service and the agent (real local shells, commands and TCP connections).

`sessions` reads what the sandbox knows about the sessions a test started; `old_agent`
is an instance whose agent predates smux; `silent_far_end` points StreamUrls at a far end
(tests/native) that accepts connections and never starts a session.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from ssmctl.sandbox import Sandbox
from tests.native.far_end import FarEnd, Plan

OLD_AGENT = "3.0.161.0"
"""An agent version that forwards ports without smux (basic mode)."""


@dataclasses.dataclass
class Sessions:
    """The sandbox's view of the sessions started during one test (default region)."""

    sandbox: Sandbox
    before: set[str]

    def _all(self) -> list[Any]:
        store, account, region = self.sandbox.sessions, self.sandbox.account_id, self.sandbox.region
        return store.list(account, region, "Active") + store.list(account, region, "History")

    def new(self) -> list[str]:
        """Ids of the sessions started since the test began, oldest first."""
        found = [r for r in self._all() if r.session_id not in self.before]
        return [r.session_id for r in sorted(found, key=lambda r: r.start)]

    def wait_new(self, count: int = 1, timeout: float = 30) -> list[str]:
        deadline = time.monotonic() + timeout
        while len(ids := self.new()) < count:
            assert time.monotonic() < deadline, f"{count} session(s) never started"
            time.sleep(0.02)
        return ids

    def record(self, session_id: str) -> Any:
        record = self.sandbox.sessions.get(self.sandbox.account_id, self.sandbox.region, session_id)
        assert record is not None
        return record

    def ended(self, session_id: str, timeout: float = 15) -> Any:
        """The session's record once the agent has finished it."""
        assert self.sandbox.agent.wait_ended(session_id, timeout)
        return self.record(session_id)


@pytest.fixture
def sessions(ssmctl_sandbox: Sandbox, ssmctl_sandbox_env: dict[str, str]) -> Sessions:
    probe = Sessions(ssmctl_sandbox, set())
    return Sessions(ssmctl_sandbox, {r.session_id for r in probe._all()})


@pytest.fixture
def old_agent(ssmctl_sandbox: Sandbox, ssmctl_sandbox_env: dict[str, str]) -> Iterator[str]:
    """The id of an instance whose agent forwards ports without smux."""
    # A session of its own: boto3's default one would keep these credentials for later
    # tests, and they die with the next reseed of the sandbox.
    ec2: Any = boto3.session.Session().client("ec2")
    launched = ec2.run_instances(ImageId="ami-0a1b2c3d4e5f60718", MinCount=1, MaxCount=1)
    instance_id: str = launched["Instances"][0]["InstanceId"]
    ssmctl_sandbox.register_instance(instance_id, agent_version=OLD_AGENT)
    yield instance_id
    ec2.terminate_instances(InstanceIds=[instance_id])


@pytest.fixture
def silent_far_end(
    ssmctl_sandbox: Sandbox, ssmctl_sandbox_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[FarEnd]:
    """New sessions' StreamUrls lead to a far end that never starts them."""
    from ssmctl.sandbox.runtime import current

    def authorize(session_id: str, token: str) -> Plan | None:
        record = ssmctl_sandbox.sessions.consume_token(session_id, token)
        return Plan(session_id) if record is not None else None

    far_end = FarEnd(authorize)
    far_end.silent.add("*")
    far_end.start()
    monkeypatch.setattr(current(), "stream_port", far_end.port)
    try:
        yield far_end
    finally:
        far_end.stop()
