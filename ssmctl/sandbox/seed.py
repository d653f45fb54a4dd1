"""Turning a fleet into sandbox state: IAM users and roles, EC2 instances, SSM agent
registrations, hybrid nodes, AWS-owned Session documents, stacks and resource groups."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence

from ssmctl.sandbox import moto_access
from ssmctl.sandbox.command_documents import AWS_COMMAND_DOCUMENTS
from ssmctl.sandbox.documents import AWS_SESSION_DOCUMENTS
from ssmctl.sandbox.fleet import PLATFORM_DEFAULTS, GroupSpec, InstanceSpec
from ssmctl.sandbox.fleet_iam import seed_policies
from ssmctl.sandbox.fleet_prefs import seed_session_preferences
from ssmctl.sandbox.nodes import EC2_INSTANCE, MANAGED_INSTANCE, Registration
from ssmctl.sandbox.runtime import Runtime

# How long ago a seeded node's agent last changed its ping status, by status.
_QUIET_FOR = {
    "Online": dt.timedelta(0),
    "ConnectionLost": dt.timedelta(hours=2),
    "Inactive": dt.timedelta(days=31),
}
_REGISTERED_AGO = dt.timedelta(days=7)


@dataclasses.dataclass(frozen=True)
class UserCredentials:
    """An IAM user's access key, as `Sandbox.users` hands it out."""

    name: str
    arn: str
    access_key_id: str
    secret_access_key: str
    expired: bool = False


@dataclasses.dataclass(frozen=True)
class Seeded:
    users: Mapping[str, UserCredentials]
    roles: Mapping[str, str]
    """Role name -> ARN."""
    instances: Mapping[str, Mapping[str, str]]
    """Region -> fleet name -> node id (EC2 instances, stack instances and hybrid nodes)."""


def seed(runtime: Runtime) -> Seeded:
    """Create the fleet in moto and register its nodes in the runtime."""
    fleet = runtime.fleet
    account = fleet.account_id
    now = dt.datetime.now(dt.timezone.utc)
    users: dict[str, UserCredentials] = {}
    for user in fleet.users:
        arn, _ = moto_access.create_user(account, user.name)
        key, secret = moto_access.create_access_key(account, user.name)
        users[user.name] = UserCredentials(user.name, arn, key, secret, user.expired)
    roles = {role.name: moto_access.create_role(account, role.name) for role in fleet.roles}
    if fleet.session_preferences is not None:
        seed_session_preferences(
            account, fleet.regions, fleet.default_region, fleet.session_preferences
        )
    seed_policies(fleet)
    for region in fleet.regions:
        for name, content in AWS_SESSION_DOCUMENTS.items():
            moto_access.install_owned_document(account, region, name, content)
        for name, (content, platforms) in AWS_COMMAND_DOCUMENTS.items():
            moto_access.install_owned_document(
                account, region, name, content, document_type="Command", platform_types=platforms
            )
    ids: dict[str, dict[str, str]] = defaultdict(dict)
    for spec, instance_id in _launch(account, fleet.instances):
        _register_instance(runtime, spec, instance_id, now)
        ids[spec.region][spec.name] = instance_id
    for node in fleet.hybrid_nodes:
        platform_name, platform_version = PLATFORM_DEFAULTS[node.platform]
        runtime.nodes.add(
            Registration(
                node_id=node.node_id,
                region=node.region,
                resource_type=MANAGED_INSTANCE,
                ping_status=node.ping_status,
                agent_version=node.agent_version,
                platform_type=node.platform,
                platform_name=node.platform_name or platform_name,
                platform_version=node.platform_version or platform_version,
                registered_at=now - _REGISTERED_AGO,
                status_since=now - _QUIET_FOR[node.ping_status],
                name=node.name,
                ip_address=node.ip_address,
                computer_name=node.computer_name or node.name,
                activation_id=node.activation_id,
                iam_role=node.iam_role,
                tags=dict(node.tags),
            )
        )
        ids[node.region][node.name] = node.node_id
    for group in fleet.groups:
        if group.is_stack:
            for spec, instance_id in _deploy_stack(account, group):
                _register_instance(runtime, spec, instance_id, now)
                ids[spec.region][spec.name] = instance_id
        else:
            query = {
                "ResourceTypeFilters": list(group.resource_types),
                "TagFilters": [{"Key": f.key, "Values": list(f.values)} for f in group.tag_filters],
            }
            moto_access.create_group(account, group.region, group.name, "TAG_FILTERS_1_0", query)
    return Seeded(users=users, roles=roles, instances={r: dict(v) for r, v in ids.items()})


def register_instance(
    runtime: Runtime, spec: InstanceSpec, instance_id: str, now: dt.datetime | None = None
) -> None:
    """Register an instance's SSM agent as the spec describes (public for run-time use)."""
    _register_instance(runtime, spec, instance_id, now or dt.datetime.now(dt.timezone.utc))


def _register_instance(
    runtime: Runtime, spec: InstanceSpec, instance_id: str, now: dt.datetime
) -> None:
    if not spec.managed:
        return
    platform_name, platform_version = PLATFORM_DEFAULTS[spec.platform]
    runtime.nodes.add(
        Registration(
            node_id=instance_id,
            region=spec.region,
            resource_type=EC2_INSTANCE,
            ping_status=spec.ping_status,
            agent_version=spec.agent_version,
            platform_type=spec.platform,
            platform_name=spec.platform_name or platform_name,
            platform_version=spec.platform_version or platform_version,
            registered_at=now - _REGISTERED_AGO,
            status_since=now - _QUIET_FOR[spec.ping_status],
        )
    )


def _launch(account: str, specs: Sequence[InstanceSpec]) -> list[tuple[InstanceSpec, str]]:
    """Launch instances, batching alike ones into one reservation (1,000 take ~0.3 s)."""
    batches: dict[tuple[object, ...], list[InstanceSpec]] = defaultdict(list)
    for spec in specs:
        # An instance with a fixed private IP needs a reservation of its own.
        alone = id(spec) if spec.private_ip else None
        key = (spec.region, spec.instance_type, spec.platform, spec.image_id, alone)
        batches[key].append(spec)
    launched: list[tuple[InstanceSpec, str]] = []
    stopped: dict[str, list[str]] = defaultdict(list)
    for batch in batches.values():
        first = batch[0]
        ids = moto_access.launch_instances(
            account,
            first.region,
            count=len(batch),
            instance_type=first.instance_type,
            windows=first.platform == "Windows",
            image_id=first.image_id,
            private_ip=first.private_ip,
            tags=[{**spec.tags, "Name": spec.name} for spec in batch],
        )
        for spec, instance_id in zip(batch, ids, strict=True):
            launched.append((spec, instance_id))
            if spec.state == "stopped":
                stopped[spec.region].append(instance_id)
    for region, instance_ids in stopped.items():
        moto_access.stop_instances(account, region, instance_ids)
    return launched


def _logical_ids(specs: Sequence[InstanceSpec]) -> dict[str, InstanceSpec]:
    out: dict[str, InstanceSpec] = {}
    for spec in specs:
        base = re.sub(r"[^A-Za-z0-9]", "", spec.name.title()) or "Instance"
        logical, n = base, 2
        while logical in out:
            logical, n = f"{base}{n}", n + 1
        out[logical] = spec
    return out


def _deploy_stack(account: str, group: GroupSpec) -> list[tuple[InstanceSpec, str]]:
    """Deploy the group's CloudFormation stack and make it a CLOUDFORMATION_STACK_1_0 group."""
    logical = _logical_ids(group.instances)
    resources = {}
    for logical_id, spec in logical.items():
        properties: dict[str, object] = {
            "ImageId": spec.image_id
            or (
                moto_access.WINDOWS_IMAGE if spec.platform == "Windows" else moto_access.LINUX_IMAGE
            ),
            "InstanceType": spec.instance_type,
            "Tags": [{"Key": k, "Value": v} for k, v in {**spec.tags, "Name": spec.name}.items()],
        }
        if spec.private_ip:
            properties["PrivateIpAddress"] = spec.private_ip
        resources[logical_id] = {"Type": "AWS::EC2::Instance", "Properties": properties}
    template = json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources})
    assert group.stack_name is not None
    stack_arn, physical = moto_access.create_stack(
        account, group.region, group.stack_name, template
    )
    out = [(spec, physical[logical_id]) for logical_id, spec in logical.items()]
    windows = [instance_id for spec, instance_id in out if spec.platform == "Windows"]
    moto_access.mark_windows(account, group.region, windows)
    moto_access.stop_instances(account, group.region, [i for s, i in out if s.state == "stopped"])
    query = {"ResourceTypeFilters": list(group.resource_types), "StackIdentifier": stack_arn}
    moto_access.create_group(account, group.region, group.name, "CLOUDFORMATION_STACK_1_0", query)
    return out
