"""SSM's view of the fleet: which nodes run an agent, and how the agent last reported.

EC2 facts (state, private IP, tags) stay in moto's EC2 backend and are read live, so an
instance stopped through the EC2 API leaves SSM's view at once; this module keeps only
what the SSM agent would report. Hybrid (`mi-`) nodes exist only here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Mapping

from ssmctl.sandbox.fleet import PING_STATUSES

EC2_INSTANCE = "EC2Instance"
MANAGED_INSTANCE = "ManagedInstance"
# The agent pings SSM every five minutes; an Online node's LastPingDateTime advances so.
PING_INTERVAL = dt.timedelta(minutes=5)


@dataclasses.dataclass
class Registration:
    """One node's SSM agent registration (mutable: ping status changes at run time)."""

    node_id: str
    region: str
    resource_type: str
    ping_status: str
    agent_version: str
    platform_type: str
    platform_name: str
    platform_version: str
    registered_at: dt.datetime
    status_since: dt.datetime
    """When the ping status last changed."""
    name: str = ""
    ip_address: str = ""
    computer_name: str = ""
    activation_id: str = ""
    iam_role: str = ""
    association_status: str | None = None
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    """Hybrid nodes only: EC2 instances carry their tags in EC2."""

    @property
    def is_hybrid(self) -> bool:
        return self.resource_type == MANAGED_INSTANCE

    def last_ping(self, now: dt.datetime) -> dt.datetime:
        if self.ping_status != "Online":
            return self.status_since
        beats = (now - self.status_since) // PING_INTERVAL
        return self.status_since + beats * PING_INTERVAL


@dataclasses.dataclass(frozen=True)
class NodeView:
    """A managed node as DescribeInstanceInformation shows it, joined with live EC2 data."""

    registration: Registration
    ip_address: str
    computer_name: str
    tags: Mapping[str, str]

    @property
    def node_id(self) -> str:
        return self.registration.node_id

    def to_api(self, now: dt.datetime) -> dict[str, object]:
        reg = self.registration
        info: dict[str, object] = {
            "InstanceId": reg.node_id,
            "PingStatus": reg.ping_status,
            "LastPingDateTime": reg.last_ping(now),
            "AgentVersion": reg.agent_version,
            "PlatformType": reg.platform_type,
            "PlatformName": reg.platform_name,
            "PlatformVersion": reg.platform_version,
            "ResourceType": reg.resource_type,
            "IPAddress": self.ip_address,
            "ComputerName": self.computer_name,
            "SourceId": reg.node_id,
            "SourceType": "AWS::SSM::ManagedInstance" if reg.is_hybrid else "AWS::EC2::Instance",
        }
        if reg.is_hybrid:
            info.update(
                Name=reg.name,
                ActivationId=reg.activation_id,
                IamRole=reg.iam_role,
                RegistrationDate=reg.registered_at,
            )
        if reg.association_status:
            info["AssociationStatus"] = reg.association_status
        return info


class NodeRegistry:
    """Registrations by region and node id (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_region: dict[str, dict[str, Registration]] = {}

    def add(self, registration: Registration) -> None:
        with self._lock:
            self._by_region.setdefault(registration.region, {})[registration.node_id] = registration

    def get(self, region: str, node_id: str) -> Registration | None:
        with self._lock:
            return self._by_region.get(region, {}).get(node_id)

    def find(self, node_id: str) -> Registration | None:
        """The registration of `node_id` in whichever region holds it."""
        with self._lock:
            for nodes in self._by_region.values():
                if node_id in nodes:
                    return nodes[node_id]
        return None

    def in_region(self, region: str) -> list[Registration]:
        with self._lock:
            return list(self._by_region.get(region, {}).values())

    def set_ping_status(self, node_id: str, status: str, now: dt.datetime) -> Registration:
        """Change a node's ping status, as its agent connecting or going quiet would."""
        if status not in PING_STATUSES:
            raise ValueError(
                f"ping status must be one of {', '.join(PING_STATUSES)}; got {status!r}"
            )
        registration = self.find(node_id)
        if registration is None:
            raise KeyError(node_id)
        with self._lock:
            if registration.ping_status != status:
                registration.ping_status = status
                registration.status_since = now
        return registration

    def tag(self, node_id: str, tags: Mapping[str, str]) -> None:
        """Add or overwrite a hybrid node's tags."""
        registration = self.find(node_id)
        if registration is None:
            raise KeyError(node_id)
        with self._lock:
            registration.tags.update(tags)

    def untag(self, node_id: str, keys: list[str]) -> None:
        registration = self.find(node_id)
        if registration is None:
            raise KeyError(node_id)
        with self._lock:
            for key in keys:
                registration.tags.pop(key, None)

    def tags_of(self, node_id: str) -> dict[str, str]:
        registration = self.find(node_id)
        if registration is None:
            raise KeyError(node_id)
        with self._lock:
            return dict(registration.tags)

    def remove(self, node_id: str) -> None:
        with self._lock:
            for nodes in self._by_region.values():
                nodes.pop(node_id, None)

    def clear(self) -> None:
        with self._lock:
            self._by_region.clear()


def ec2_computer_name(private_ip: str, region: str) -> str:
    """The host name an EC2 instance's agent reports (the default private DNS name)."""
    host = "ip-" + private_ip.replace(".", "-")
    return f"{host}.ec2.internal" if region == "us-east-1" else f"{host}.{region}.compute.internal"
