"""Build an `Instance` from what EC2 and SSM each say about a node."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from ssmctl.models import Instance


def join_instance(
    region: str,
    *,
    ec2: Mapping[str, Any] | None = None,
    owner: str | None = None,
    info: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    account: str | None = None,
) -> Instance:
    """One node from its EC2 description and/or its SSM instance information."""
    ec2 = ec2 or {}
    info = info or {}
    node_tags = dict(tags or {})
    node_tags.update({t["Key"]: t.get("Value", "") for t in ec2.get("Tags", []) or []})
    instance_id = str(ec2.get("InstanceId") or info.get("InstanceId"))
    name = node_tags.get("Name") or (str(info.get("Name") or "") if not ec2 else "")
    platform = info.get("PlatformType")
    if not platform and ec2:
        platform = "Windows" if str(ec2.get("Platform", "")).lower() == "windows" else "Linux"
    return Instance(
        instance_id=instance_id,
        region=region,
        name=name,
        state=(ec2.get("State") or {}).get("Name") if ec2 else None,
        ping_status=info.get("PingStatus"),
        last_ping=_aware(info.get("LastPingDateTime")),
        platform=platform,
        platform_name=info.get("PlatformName") or ec2.get("PlatformDetails") or None,
        agent_version=info.get("AgentVersion"),
        private_ip=ec2.get("PrivateIpAddress") or info.get("IPAddress") or None,
        public_ip=ec2.get("PublicIpAddress") or None,
        private_dns=ec2.get("PrivateDnsName") or None,
        public_dns=ec2.get("PublicDnsName") or None,
        resource_type=str(
            info.get("ResourceType") or ("EC2Instance" if ec2 else "ManagedInstance")
        ),
        account_id=owner or account or None,
        tags=node_tags,
    )


def _aware(value: Any) -> dt.datetime | None:
    if not isinstance(value, dt.datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
