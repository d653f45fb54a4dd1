"""Domain objects returned by the library (frozen dataclasses).

`to_record()` gives the stable, documented field names used by every machine output
format (json, jsonl, yaml, csv, text); docs/output.md lists them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from ssmctl.timespec import iso_utc

ONLINE = "Online"


@dataclasses.dataclass(frozen=True)
class Instance:
    """A compute node: an EC2 instance, a hybrid (`mi-`) node, or both views joined."""

    instance_id: str
    region: str
    name: str = ""
    state: str | None = None
    """EC2 state (running, stopped, ...); None for hybrid nodes."""
    ping_status: str | None = None
    """SSM ping status (Online, ConnectionLost, Inactive); None when SSM does not know it."""
    last_ping: dt.datetime | None = None
    platform: str | None = None
    platform_name: str | None = None
    agent_version: str | None = None
    private_ip: str | None = None
    public_ip: str | None = None
    private_dns: str | None = None
    public_dns: str | None = None
    resource_type: str = "EC2Instance"
    account_id: str | None = None
    tags: Mapping[str, str] = dataclasses.field(default_factory=dict, compare=False, hash=False)

    @property
    def is_hybrid(self) -> bool:
        return self.instance_id.startswith("mi-")

    @property
    def managed(self) -> bool:
        """True when SSM knows this node (it has a ping status)."""
        return self.ping_status is not None

    @property
    def online(self) -> bool:
        return self.ping_status == ONLINE

    def availability(self) -> str:
        """A short phrase for messages: why a session can or cannot start here."""
        if self.online:
            return "online in SSM"
        if self.ping_status is not None:
            return f"SSM ping status {self.ping_status}"
        if self.state not in (None, "running"):
            return f"instance is {self.state}, not registered with SSM"
        return "not registered with SSM (no SSM agent, role or network path)"

    def to_record(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id,
            "name": self.name,
            "state": self.state,
            "ping_status": self.ping_status,
            "last_ping": iso_utc(self.last_ping),
            "platform": self.platform,
            "platform_name": self.platform_name,
            "agent_version": self.agent_version,
            "private_ip": self.private_ip,
            "public_ip": self.public_ip,
            "private_dns": self.private_dns,
            "public_dns": self.public_dns,
            "resource_type": self.resource_type,
            "region": self.region,
            "account_id": self.account_id,
            "tags": dict(self.tags),
        }


@dataclasses.dataclass(frozen=True)
class SessionInfo:
    """One Session Manager session as DescribeSessions reports it."""

    session_id: str
    region: str
    target: str
    status: str
    owner: str = ""
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    document: str | None = None
    reason: str | None = None
    details: str | None = None
    max_session_duration: str | None = None
    access_type: str | None = None
    output_s3: str | None = None
    output_cloudwatch: str | None = None

    @property
    def owner_name(self) -> str:
        """The last part of the owner ARN (user name or role session name)."""
        return self.owner.rsplit("/", 1)[-1] if self.owner else ""

    def age(self, now: dt.datetime) -> dt.timedelta | None:
        return now - self.start if self.start else None

    def to_record(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "target": self.target,
            "status": self.status,
            "owner": self.owner,
            "start": iso_utc(self.start),
            "end": iso_utc(self.end),
            "document": self.document,
            "reason": self.reason,
            "details": self.details,
            "max_session_duration": self.max_session_duration,
            "access_type": self.access_type,
            "output_s3": self.output_s3,
            "output_cloudwatch": self.output_cloudwatch,
            "region": self.region,
        }
