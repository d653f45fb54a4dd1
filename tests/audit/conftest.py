"""Fixtures for the audit tests: the sandbox, clients, and time windows nobody else uses."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from ssmctl.sandbox import Sandbox

UTC = dt.timezone.utc
Clients = Callable[..., Any]
_windows = itertools.count()


@pytest.fixture
def sandbox(ssmctl_sandbox: Sandbox, ssmctl_sandbox_env: dict[str, str]) -> Sandbox:
    """The session's sandbox, with os.environ pointed at it (as alice)."""
    return ssmctl_sandbox


@pytest.fixture
def unthrottled(sandbox: Sandbox) -> Iterator[Sandbox]:
    """LookupEvents without its 2-per-second limit (tests not about the limit)."""
    before = sandbox.trail_throttle
    sandbox.trail_throttle = None
    yield sandbox
    sandbox.trail_throttle = before


@pytest.fixture
def clients(sandbox: Sandbox) -> Clients:
    """`clients("ssm", user="bob", region="eu-west-1", attempts=3)` -> a boto3 client."""
    session = boto3.session.Session()

    def make(
        service: str, *, user: str | None = None, region: str | None = None, attempts: int = 3
    ) -> Any:
        creds = sandbox.users[user or sandbox.default_user]
        return session.client(
            service,  # type: ignore[call-overload]
            region_name=region or sandbox.region,
            endpoint_url=sandbox.endpoint_url,
            aws_access_key_id=creds.access_key_id,
            aws_secret_access_key=creds.secret_access_key,
            config=Config(retries={"mode": "standard", "total_max_attempts": attempts}),
        )

    return make


def window(hours: int = 2) -> tuple[dt.datetime, dt.datetime]:
    """A past time range (40-80 days ago) no other test of this process uses."""
    k = next(_windows)
    now = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    begin = now - dt.timedelta(days=80) + dt.timedelta(hours=k * (hours + 1))
    return begin, begin + dt.timedelta(hours=hours) - dt.timedelta(seconds=1)


def iso(value: dt.datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
