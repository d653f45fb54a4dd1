"""Which nodes a SendCommand reaches: `InstanceIds`, or `Targets` by `InstanceIds`,
`tag:<key>`, `tag-key` and `resource-groups:Name`; and how each node is doing now.

A node can be sent a command when SSM knows it (its agent registered) and it is not
terminated, whatever its ping status: an offline node's invocation waits (Delayed) as on
AWS. Several `Targets` entries are ANDed; the values of one entry are ORed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from ssmctl.sandbox import moto_access
from ssmctl.sandbox.aws_errors import ApiError, validation
from ssmctl.sandbox.groups_api import group_member_ids
from ssmctl.sandbox.nodes import ec2_computer_name
from ssmctl.sandbox.request import CallContext
from ssmctl.sandbox.runtime import Runtime

MAX_INSTANCE_IDS = 50
MAX_TARGETS = 5
MAX_TARGET_VALUES = 50
_GONE_STATES = ("terminated", "shutting-down")


@dataclasses.dataclass(frozen=True)
class Node:
    """A registered node as Run Command sees it."""

    node_id: str
    platform: str
    host_name: str
    tags: Mapping[str, str]
    ping_status: str
    ec2_state: str | None
    """None for hybrid nodes."""

    @property
    def state(self) -> str:
        """ "online" (a command runs now), "offline" (it waits) or "gone" (undeliverable)."""
        if self.ec2_state in _GONE_STATES or self.ping_status == "Inactive":
            return "gone"
        if self.ec2_state not in (None, "running") or self.ping_status != "Online":
            return "offline"
        return "online"


def registered_nodes(runtime: Runtime, account_id: str, region: str) -> dict[str, Node]:
    """Every node of the region whose agent registered, terminated ones included."""
    if account_id != runtime.account_id:
        return {}
    registrations = runtime.nodes.in_region(region)
    ec2 = {}
    if any(not r.is_hybrid for r in registrations):
        ec2 = {i.instance_id: i for i in moto_access.ec2_instances(account_id, region)}
    out: dict[str, Node] = {}
    for reg in registrations:
        if reg.is_hybrid:
            tags = runtime.nodes.tags_of(reg.node_id)
            out[reg.node_id] = Node(
                reg.node_id, reg.platform_type, reg.computer_name, tags, reg.ping_status, None
            )
            continue
        instance = ec2.get(reg.node_id)
        if instance is None:
            continue
        host = ec2_computer_name(instance.private_ip, region) if instance.private_ip else ""
        out[reg.node_id] = Node(
            reg.node_id, reg.platform_type, host, instance.tags, reg.ping_status, instance.state
        )
    return out


def node_states(runtime: Runtime, account_id: str, region: str) -> dict[str, str]:
    """Node id -> "online", "offline" or "gone" (absent ids are gone too)."""
    return {i: n.state for i, n in registered_nodes(runtime, account_id, region).items()}


def _invalid(node_id: str, ctx: CallContext) -> ApiError:
    return ApiError(
        "InvalidInstanceId",
        f"Instance {node_id} is not valid for account {ctx.account_id} in {ctx.region}: it "
        "does not exist, is terminated, or its SSM Agent is not registered.",
    )


def by_instance_ids(ctx: CallContext, nodes: Mapping[str, Node], ids: Sequence[str]) -> list[Node]:
    """The nodes of an `InstanceIds` list (InvalidInstanceId if one cannot take commands)."""
    if len(ids) > MAX_INSTANCE_IDS:
        raise validation(
            "instanceIds",
            f"[{len(ids)} ids]",
            f"Member must have length less than or equal to {MAX_INSTANCE_IDS}",
        )
    seen: set[str] = set()
    out = []
    for node_id in ids:
        if not isinstance(node_id, str):
            raise validation("instanceIds", node_id, "Member must be a list of strings")
        if node_id in seen:
            raise ApiError("DuplicateInstanceId", f"Instance {node_id} is listed more than once.")
        seen.add(node_id)
        node = nodes.get(node_id)
        if node is None or node.ec2_state in _GONE_STATES:
            raise _invalid(node_id, ctx)
        out.append(node)
    return out


def by_targets(
    ctx: CallContext, runtime: Runtime, nodes: Mapping[str, Node], targets: Sequence[Any]
) -> list[Node]:
    """The nodes every `Targets` entry matches, by node id."""
    if not 1 <= len(targets) <= MAX_TARGETS:
        raise validation(
            "targets",
            f"[{len(targets)} targets]",
            f"Member must have length between 1 and {MAX_TARGETS}",
        )
    entries = [_entry(t, n) for n, t in enumerate(targets, 1)]
    keys = [k for k, _ in entries]
    if "InstanceIds" in keys:
        if len(entries) > 1:
            raise ApiError(
                "InvalidParameters",
                "A target with the key InstanceIds cannot be combined with other targets.",
            )
        return by_instance_ids(ctx, nodes, entries[0][1])
    live = {i: n for i, n in nodes.items() if n.ec2_state not in _GONE_STATES}
    chosen = set(live)
    for key, values in entries:
        chosen &= _matching(ctx, runtime, live, key, values)
    return [live[i] for i in sorted(chosen)]


def _entry(target: Any, index: int) -> tuple[str, list[str]]:
    field = f"targets.{index}.member"
    if not isinstance(target, dict):
        raise validation(field, target, "Member must be a structure with Key and Values")
    key, values = target.get("Key"), target.get("Values")
    if not isinstance(key, str) or not 1 <= len(key) <= 163:
        raise validation(f"{field}.key", key, "Member must have length between 1 and 163")
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise validation(f"{field}.values", values, "Member must be a list of strings")
    if not 1 <= len(values) <= MAX_TARGET_VALUES:
        raise validation(
            f"{field}.values",
            f"[{len(values)} values]",
            f"Member must have length between 1 and {MAX_TARGET_VALUES}",
        )
    supported = key in ("InstanceIds", "tag-key", "resource-groups:Name") or (
        key.startswith("tag:") and len(key) > 4
    )
    if not supported:
        raise ApiError(
            "InvalidParameters",
            f"Target key {key!r} is not supported by Run Command; use InstanceIds, "
            "tag:<key>, tag-key or resource-groups:Name.",
        )
    if key == "resource-groups:Name" and len(values) != 1:
        raise ApiError("InvalidParameters", "resource-groups:Name takes exactly one group name.")
    return key, values


def _matching(
    ctx: CallContext, runtime: Runtime, nodes: Mapping[str, Node], key: str, values: list[str]
) -> set[str]:
    if key == "tag-key":
        return {i for i, n in nodes.items() if any(v in n.tags for v in values)}
    if key.startswith("tag:"):
        name = key[4:]
        return {i for i, n in nodes.items() if n.tags.get(name) in values}
    members = group_member_ids(ctx, runtime, values[0])
    return set(members or ()) & set(nodes)
