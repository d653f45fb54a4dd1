"""Every read and write of moto's internal state the sandbox makes, in one place.

moto's backends are internals, not an API: tests/sandbox/test_moto_canary.py exercises
each function here against the installed moto, so an upgrade that moves something
fails there with a message naming it. The values returned are plain dataclasses, so the
rest of the sandbox never holds a moto object.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import secrets
import string
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

PARTITION = "aws"
LINUX_IMAGE = "ami-0a1b2c3d4e5f60718"
WINDOWS_IMAGE = "ami-0f9e8d7c6b5a49382"


def _aware(value: dt.datetime) -> dt.datetime:
    # moto keeps naive UTC datetimes.
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def reset() -> None:
    """Wipe every moto backend (all services, all accounts)."""
    from moto.core.base_backend import BackendDict

    BackendDict.reset()


# --- IAM and STS -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class KeyInfo:
    access_key_id: str
    secret_access_key: str
    active: bool
    user_name: str | None
    role_arn: str | None
    created: dt.datetime


@dataclasses.dataclass(frozen=True)
class RoleSession:
    """Credentials STS AssumeRole issued."""

    session_name: str
    role_arn: str
    session_token: str
    expiration: dt.datetime


def _iam(account_id: str) -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account_id][PARTITION]


def create_user(account_id: str, name: str) -> tuple[str, str]:
    """Create an IAM user; returns its ARN and (AWS-style `AIDA...`) unique id."""
    user = _iam(account_id).create_user(region_name="us-east-1", user_name=name)
    # moto's ids are lowercase noise; CloudTrail's principalId for users looks like this.
    user.id = "AIDA" + "".join(
        secrets.choice(string.ascii_uppercase + string.digits) for _ in range(17)
    )
    return str(user.arn), str(user.id)


def create_access_key(account_id: str, user_name: str) -> tuple[str, str]:
    key = _iam(account_id).create_access_key(user_name=user_name)
    return str(key.access_key_id), str(key.secret_access_key)


def create_role(account_id: str, name: str) -> str:
    """Create a role every principal of the account may assume; returns its ARN."""
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    role = _iam(account_id).create_role(
        role_name=name,
        assume_role_policy_document=trust,
        path="/",
        permissions_boundary=None,
        description="ssmctl sandbox role",
        tags=[],
        max_session_duration="3600",
    )
    return str(role.arn)


def access_key(account_id: str, key_id: str) -> KeyInfo | None:
    key = _iam(account_id).access_keys.get(key_id)
    if key is None:
        return None
    return KeyInfo(
        access_key_id=key.access_key_id,
        secret_access_key=key.secret_access_key,
        active=key.status == "Active",
        user_name=key.user_name,
        role_arn=key.role_arn,
        created=_aware(key.create_date),
    )


def user_identity(account_id: str, name: str) -> tuple[str, str] | None:
    """(ARN, unique id) of an IAM user."""
    user = _iam(account_id).users.get(name)
    return (str(user.arn), str(user.id)) if user is not None else None


def role_identity(account_id: str, role_arn: str) -> tuple[str, str] | None:
    """(name, unique id `AROA...`) of the role with this ARN."""
    for role in _iam(account_id).roles.values():
        if role.arn == role_arn:
            return str(role.name), str(role.id)
    return None


def role_session(account_id: str, key_id: str) -> RoleSession | None:
    from moto.sts.models import sts_backends

    for assumed in sts_backends[account_id][PARTITION].assumed_roles:
        if assumed.access_key_id == key_id:
            return RoleSession(
                session_name=assumed.session_name,
                role_arn=assumed.role_arn,
                session_token=assumed.session_token,
                expiration=_aware(assumed.expiration),
            )
    return None


# --- IAM policies ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PolicyText:
    """A policy that applies to a principal, as SimulatePrincipalPolicy names it."""

    policy_id: str
    """The inline policy's name, or the managed policy's name."""
    policy_type: str
    """user, group or role (inline), user-managed or aws-managed."""
    document: str


def create_managed_policy(account_id: str, name: str, document: str) -> str:
    """A customer managed policy; returns its ARN."""
    policy = _iam(account_id).create_policy(
        description="ssmctl sandbox policy",
        path="/",
        policy_document=document,
        policy_name=name,
        tags=[],
    )
    return str(policy.arn)


def put_inline_policy(account_id: str, kind: str, owner: str, name: str, document: str) -> None:
    """An inline policy of the user or role (`kind`) named `owner`."""
    iam = _iam(account_id)
    if kind == "user":
        iam.put_user_policy(owner, name, document)
    else:
        iam.put_role_policy(owner, name, document)


def attach_managed_policy(account_id: str, kind: str, owner: str, policy_arn: str) -> None:
    iam = _iam(account_id)
    if kind == "user":
        iam.attach_user_policy(policy_arn, owner)
    else:
        iam.attach_role_policy(policy_arn, owner)


def _managed(policies: Mapping[str, Any]) -> list[PolicyText]:
    out = []
    for arn, policy in sorted(policies.items()):
        version = next((v for v in policy.versions if v.is_default), policy.versions[0])
        kind = "aws-managed" if ":iam::aws:policy/" in arn else "user-managed"
        out.append(PolicyText(str(policy.name), kind, str(version.document)))
    return out


def _inline(kind: str, policies: Mapping[str, str]) -> list[PolicyText]:
    return [PolicyText(name, kind, str(doc)) for name, doc in sorted(policies.items())]


def principal_policies(account_id: str, arn: str) -> list[PolicyText] | None:
    """The identity-based policies of the IAM user (with its groups'), group or role
    with this ARN; None when there is no such principal."""
    iam = _iam(account_id)
    kind, _, path_name = arn.partition(":iam::")[2].partition(":")[2].partition("/")
    name = path_name.rsplit("/", 1)[-1]
    if kind == "user":
        user = iam.users.get(name)
        if user is None or user.arn != arn:
            return None
        out = _inline("user", user.policies) + _managed(user.managed_policies)
        for group in sorted(iam.groups.values(), key=lambda g: g.name):
            if user in group.users:
                out += _inline("group", group.policies) + _managed(group.managed_policies)
        return out
    if kind == "group":
        group = iam.groups.get(name)
        if group is None or group.arn != arn:
            return None
        return _inline("group", group.policies) + _managed(group.managed_policies)
    if kind == "role":
        for role in iam.roles.values():
            if role.arn == arn:
                return _inline("role", role.policies) + _managed(role.managed_policies)
    return None


# --- EC2 -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Ec2Instance:
    instance_id: str
    state: str
    private_ip: str
    tags: Mapping[str, str]
    windows: bool


def _ec2(account_id: str, region: str) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account_id][region]


def _view(backend: Any, instance: Any) -> Ec2Instance:
    return Ec2Instance(
        instance_id=instance.id,
        state=instance.state,
        private_ip=instance.private_ip or "",
        tags=dict(backend.tags.get(instance.id, {})),
        windows=instance.platform == "windows",
    )


def ec2_instances(account_id: str, region: str) -> list[Ec2Instance]:
    """Every instance of the region, in any state (terminated ones too)."""
    backend = _ec2(account_id, region)
    return [
        _view(backend, instance)
        for reservation in list(backend.reservations.values())
        for instance in reservation.instances
    ]


def ec2_instance(account_id: str, region: str, instance_id: str) -> Ec2Instance | None:
    backend = _ec2(account_id, region)
    for reservation in list(backend.reservations.values()):
        for instance in reservation.instances:
            if instance.id == instance_id:
                return _view(backend, instance)
    return None


@contextlib.contextmanager
def _memoised_image_lookups(backend: Any) -> Iterator[None]:
    """moto scans every AMI once per launched instance; launches of one image share a scan."""
    original = backend.describe_images
    cache: dict[Any, Any] = {}

    def describe_images(*args: Any, **kwargs: Any) -> Any:
        filters = kwargs.get("filters")
        if args or set(kwargs) != {"filters"} or not filters or set(filters) != {"image-id"}:
            return original(*args, **kwargs)
        key = str(filters["image-id"])
        if key not in cache:
            cache[key] = original(filters=filters)
        return cache[key]

    backend.describe_images = describe_images
    try:
        yield
    finally:
        del backend.describe_images


def launch_instances(
    account_id: str,
    region: str,
    *,
    count: int,
    instance_type: str,
    windows: bool,
    image_id: str | None,
    private_ip: str | None,
    tags: Sequence[Mapping[str, str]],
) -> list[str]:
    """Launch `count` instances in one reservation; `tags[i]` goes to the i-th."""
    backend = _ec2(account_id, region)
    with _memoised_image_lookups(backend):
        reservation = backend.run_instances(
            image_id or (WINDOWS_IMAGE if windows else LINUX_IMAGE),
            count,
            None,
            [],
            instance_type=instance_type,
            # The type is the fleet's choice; skip moto's slow offering lookup.
            is_instance_type_default=True,
            region_name=region,
            private_ip=private_ip,
        )
    ids = []
    for instance, instance_tags in zip(reservation.instances, tags, strict=True):
        if instance_tags:
            backend.create_tags([instance.id], dict(instance_tags))
        if windows:
            instance.platform = "windows"
        ids.append(str(instance.id))
    return ids


def mark_windows(account_id: str, region: str, instance_ids: Sequence[str]) -> None:
    backend = _ec2(account_id, region)
    for instance_id in instance_ids:
        backend.get_instance(instance_id).platform = "windows"


def stop_instances(account_id: str, region: str, instance_ids: Sequence[str]) -> None:
    if instance_ids:
        _ec2(account_id, region).stop_instances(list(instance_ids))


# --- CloudFormation ------------------------------------------------------------


def create_stack(
    account_id: str, region: str, name: str, template: str
) -> tuple[str, dict[str, str]]:
    """Deploy a stack; returns its ARN and {logical id: physical id}."""
    from moto.cloudformation.models import cloudformation_backends

    stack: Any = cloudformation_backends[account_id][region].create_stack(
        name=name, template=template, parameters={}
    )
    resources = {
        str(r.logical_resource_id): str(r.physical_resource_id) for r in stack.stack_resources
    }
    return str(stack.stack_id), resources


def stack_instance_ids(account_id: str, region: str, stack_arn: str) -> list[str] | None:
    """The EC2 instances a live stack holds; None when there is no such stack."""
    from moto.cloudformation.models import cloudformation_backends

    stack: Any = cloudformation_backends[account_id][region].stacks.get(stack_arn)
    if stack is None or stack.status.startswith("DELETE"):
        return None
    return [
        str(r.physical_resource_id)
        for r in stack.stack_resources
        if getattr(r, "cloudformation_type", lambda: "")() == "AWS::EC2::Instance"
    ]


# --- SSM documents -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DocumentInfo:
    name: str
    document_type: str
    owner: str
    default_content: Mapping[str, Any]
    latest_content: Mapping[str, Any]


def _ssm(account_id: str, region: str) -> Any:
    from moto.ssm.models import ssm_backends

    return ssm_backends[account_id][region]


def install_owned_document(
    account_id: str,
    region: str,
    name: str,
    content: Mapping[str, Any],
    *,
    document_type: str = "Session",
    platform_types: Sequence[str] = ("Windows", "Linux", "MacOS"),
) -> None:
    """Add an AWS-owned document (moto refuses `AWS-` names through CreateDocument)."""
    from moto.ssm.models import Document, Documents

    # Typed loosely: moto's model classes are not meant to be built outside moto.
    model: Any = Document
    document = model(
        account_id=account_id,
        name=name,
        version_name="",
        content=json.dumps(content),
        document_type=document_type,
        document_format="JSON",
        requires=[],
        attachments=[],
        target_type="",
    )
    document.owner = "Amazon"
    document.platform_types = list(platform_types)
    _ssm(account_id, region)._documents[name] = Documents(document)


def ssm_document(account_id: str, region: str, name: str) -> DocumentInfo | None:
    documents = _ssm(account_id, region)._documents.get(name)
    if documents is None:
        return None
    default, latest = documents.get_default_version(), documents.get_latest_version()
    return DocumentInfo(
        name=name,
        document_type=str(latest.document_type),
        owner=str(latest.owner),
        default_content=dict(default.content_json or {}),
        latest_content=dict(latest.content_json or {}),
    )


# --- Resource groups -----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GroupInfo:
    name: str
    arn: str
    query_type: str
    query: Mapping[str, Any]


def _groups(account_id: str, region: str) -> Any:
    from moto.resourcegroups.models import resourcegroups_backends

    return resourcegroups_backends[account_id][region]


def create_group(
    account_id: str, region: str, name: str, query_type: str, query: Mapping[str, Any]
) -> str:
    group = _groups(account_id, region).create_group(
        name=name,
        resource_query={"Type": query_type, "Query": json.dumps(query)},
        description="ssmctl sandbox group",
    )
    return str(group.arn)


def resource_group(account_id: str, region: str, name_or_arn: str) -> GroupInfo | None:
    groups = _groups(account_id, region).groups
    if name_or_arn not in groups:
        return None
    group = groups[name_or_arn]
    query = group.resource_query or {}
    return GroupInfo(
        name=str(group.name),
        arn=str(group.arn),
        query_type=str(query.get("Type", "")),
        query=json.loads(query.get("Query") or "{}"),
    )


# --- S3 (trail delivery) ---------------------------------------------------------


def create_bucket(account_id: str, region: str, name: str) -> None:
    """Create a bucket in the account unless it exists already."""
    from moto.s3.models import s3_backends

    backend = s3_backends[account_id][PARTITION]
    if name not in backend.buckets:
        backend.create_bucket(name, region)


def put_object(account_id: str, bucket: str, key: str, body: bytes) -> None:
    from moto.s3.models import s3_backends

    s3_backends[account_id][PARTITION].put_object(bucket, key, body)
