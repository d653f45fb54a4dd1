"""The least-privilege identity-based policy for using Session Manager through ssmctl.

`build_policy(options, scope)` is pure and deterministic: statements come in a fixed order
with fixed Sids, and every list is sorted, so the output can live in version control and
only changes when the inputs do. `policy_scope()` does the lookups (account, resource group
members). docs/access.md shows the shapes and what each option adds.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ssmctl.access.arns import (
    PORT_FORWARDING_DOCUMENTS,
    SHELL_DOCUMENT,
    document_arn,
    instance_arn,
)
from ssmctl.errors import TargetNotFound, UsageError

if TYPE_CHECKING:
    from ssmctl.aws import AwsContext

VERSION = "2012-10-17"
ALL_REGIONS = "*"
DOCUMENT_CHECK = {"BoolIfExists": {"ssm:SessionDocumentAccessCheck": "true"}}
SESSION_ACTIONS = ("ssm:ResumeSession", "ssm:TerminateSession")
READ_ACTIONS = (
    "ec2:DescribeInstances",  # targets by Name, tag, IP, DNS name
    "ec2:DescribeRegions",  # --all-regions
    "ssm:DescribeInstanceInformation",  # is it online in SSM
    "ssm:DescribeInstanceProperties",
    "ssm:DescribeSessions",  # sessions list / terminate
    "ssm:GetConnectionStatus",
    "tag:GetResources",  # hybrid nodes by tag glob
)
GROUP_ACTIONS = ("resource-groups:ListGroupResources",)
STACK_ACTIONS = ("cloudformation:DescribeStacks", "cloudformation:ListStackResources")
PREFERENCES_ACTIONS = ("ssm:DescribeDocument", "ssm:GetDocument")


@dataclasses.dataclass(frozen=True)
class PolicyOptions:
    """What `ssmctl access policy` was asked for."""

    tags: tuple[tuple[str, str], ...] = ()
    """(key, value) pairs; values of one key are alternatives, keys are ANDed."""
    instances: tuple[str, ...] = ()
    group: str | None = None
    documents: tuple[str, ...] = ()
    port_forwarding: bool = False
    own_sessions_only: bool = False
    read_only: bool = False

    def __post_init__(self) -> None:
        if self.read_only and (self.documents or self.port_forwarding or self.own_sessions_only):
            raise UsageError(
                "--read-only grants no session actions: drop --document, --port-forwarding "
                "and --own-sessions-only"
            )


@dataclasses.dataclass(frozen=True)
class Scope:
    """Where the policy applies: the account, its regions (`*` = all), group members."""

    account: str
    regions: tuple[str, ...]
    partition: str = "aws"
    group_members: tuple[str, ...] = ()
    """Instance ARNs of the --group's members (in the regions it was found in)."""


def policy_scope(
    aws: AwsContext, options: PolicyOptions, regions: Sequence[str], all_regions: bool
) -> Scope:
    """The account (sts GetCallerIdentity) and, with --group, its members' ARNs.

    `regions` are the chosen regions (the discovered ones when `all_regions`: a group is
    looked up in each); the policy names `*` as the region when `all_regions`.
    """
    from ssmctl.targets import group_members

    identity = aws.identity()
    partition = identity["Arn"].split(":")[1]
    members: list[str] = []
    if options.group:
        found_in = 0
        for region in regions:
            try:
                arns = group_members(aws.client("resource-groups", region), options.group, region)
            except TargetNotFound:
                continue
            found_in += 1
            members += arns.values()
        if not found_in:
            raise TargetNotFound(
                f"no resource group named {options.group!r} in {', '.join(regions)}"
            )
        if not members:
            raise TargetNotFound(
                f"resource group {options.group!r} has no instances: the policy would allow "
                "no sessions"
            )
    return Scope(
        account=identity["Account"],
        regions=(ALL_REGIONS,) if all_regions else tuple(regions),
        partition=partition,
        group_members=tuple(sorted(set(members))),
    )


def _statement(
    sid: str, actions: Iterable[str], resources: Iterable[str], condition: Any = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(set(actions)),
        "Resource": sorted(set(resources)),
    }
    if condition:
        out["Condition"] = condition
    return out


def _tag_condition(tags: Sequence[tuple[str, str]]) -> dict[str, Any]:
    values: dict[str, set[str]] = {}
    for key, value in tags:
        values.setdefault(key, set()).add(value)
    return {f"ssm:resourceTag/{key}": sorted(found) for key, found in sorted(values.items())}


def _instance_resources(options: PolicyOptions, scope: Scope) -> list[str]:
    p, account = scope.partition, scope.account
    if not (options.instances or options.group):
        return [
            arn
            for region in scope.regions
            for arn in (
                f"arn:{p}:ec2:{region}:{account}:instance/*",
                f"arn:{p}:ssm:{region}:{account}:managed-instance/*",
            )
        ]
    named = [
        instance_arn(region, account, instance_id, p)
        for region in scope.regions
        for instance_id in options.instances
    ]
    return named + list(scope.group_members)


def _documents(options: PolicyOptions, scope: Scope) -> list[str]:
    names = [SHELL_DOCUMENT, *options.documents]
    if options.port_forwarding:
        names += PORT_FORWARDING_DOCUMENTS
    try:
        return [
            document_arn(region, scope.account, name, scope.partition)
            for region in scope.regions
            for name in names
        ]
    except ValueError as exc:
        raise UsageError(f"--document: {exc}") from None


def _in_scope(scope: Scope, service: str, resource: str) -> list[str]:
    return [
        f"arn:{scope.partition}:{service}:{r}:{scope.account}:{resource}" for r in scope.regions
    ]


def build_policy(options: PolicyOptions, scope: Scope) -> dict[str, Any]:
    """The policy document (a dict in the order it is printed)."""
    statements: list[dict[str, Any]] = []
    if not options.read_only:
        condition: dict[str, Any] = dict(DOCUMENT_CHECK)
        if options.tags:
            condition = {"StringLike": _tag_condition(options.tags), **condition}
        statements.append(
            _statement(
                "StartSessionOnInstances",
                ["ssm:StartSession"],
                _instance_resources(options, scope),
                condition,
            )
        )
        statements.append(
            _statement(
                "StartSessionWithDocuments",
                ["ssm:StartSession"],
                _documents(options, scope),
                DOCUMENT_CHECK,
            )
        )
        statements += _session_statements(options, scope)
    statements += [
        _statement("ReadSessionManagerState", READ_ACTIONS, ["*"]),
        _statement(
            "ListResourceGroupMembers",
            GROUP_ACTIONS,
            _in_scope(scope, "resource-groups", "group/*"),
        ),
        _statement(
            "ReadStackGroupMembers", STACK_ACTIONS, _in_scope(scope, "cloudformation", "stack/*")
        ),
        _statement(
            "ReadSessionPreferences",
            PREFERENCES_ACTIONS,
            _in_scope(scope, "ssm", f"document/{SHELL_DOCUMENT}"),
        ),
        _statement(
            "SimulateOwnPolicies",
            ["iam:SimulatePrincipalPolicy"],
            [f"arn:{scope.partition}:iam::{scope.account}:user/${{aws:username}}"],
        ),
    ]
    return {"Version": VERSION, "Statement": statements}


def _session_statements(options: PolicyOptions, scope: Scope) -> list[dict[str, Any]]:
    if not options.own_sessions_only:
        return [
            _statement(
                "EndAndResumeSessions", SESSION_ACTIONS, _in_scope(scope, "ssm", "session/*")
            )
        ]
    # IAM users: sessions are named after the user. Roles (and SSO): the session's
    # aws:ssmmessages:session-id tag holds the starter's aws:userid ("AROA...:name").
    own_tag = {"StringLike": {"ssm:resourceTag/aws:ssmmessages:session-id": ["${aws:userid}"]}}
    return [
        _statement(
            "EndAndResumeOwnSessionsAsUser",
            SESSION_ACTIONS,
            _in_scope(scope, "ssm", "session/${aws:username}-*"),
        ),
        _statement(
            "EndAndResumeOwnSessionsAsRole",
            SESSION_ACTIONS,
            _in_scope(scope, "ssm", "session/*"),
            own_tag,
        ),
    ]


def render_policy(policy: dict[str, Any], *, compact: bool = False) -> str:
    """The policy as JSON text, ending in a newline."""
    if compact:
        return json.dumps(policy, separators=(",", ":")) + "\n"
    return json.dumps(policy, indent=2) + "\n"
