"""May a principal start a session on an instance? Asked of IAM's policy simulator.

`check_access` calls SimulatePrincipalPolicy for `ssm:StartSession` on the instance and the
session document together, with the instance's tags as `ssm:resourceTag/<key>` context, and
returns an `AccessVerdict` that says, per resource, which statements decided and which
context keys the policies wanted but did not get.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from ssmctl.access.arns import (
    SHELL_DOCUMENT,
    document_arn,
    document_name,
    instance_arn,
    principal_arn,
    principal_kind,
    principal_name,
)
from ssmctl.aws import error_code, translate
from ssmctl.errors import AwsError, UsageError
from ssmctl.models import Instance

ACTION = "ssm:StartSession"
ALLOWED = "allowed"


class SimulatorDenied(AwsError):
    """The caller may not ask IAM's simulator (iam:SimulatePrincipalPolicy)."""


@dataclasses.dataclass(frozen=True)
class MatchedStatement:
    """A statement that decided, where the simulator found it."""

    policy_id: str
    policy_type: str
    start_line: int | None = None
    end_line: int | None = None
    start_column: int | None = None
    end_column: int | None = None

    @property
    def lines(self) -> str:
        if self.start_line is None:
            return ""
        if self.end_line in (None, self.start_line):
            return f"line {self.start_line}"
        return f"lines {self.start_line}-{self.end_line}"

    def describe(self) -> str:
        where = f", {self.lines}" if self.lines else ""
        return f"{self.policy_id} ({self.policy_type}{where})"

    def to_record(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class ResourceVerdict:
    resource: str
    kind: str
    """instance or document."""
    decision: str
    """allowed, implicitDeny or explicitDeny (IAM's words)."""
    matched: tuple[MatchedStatement, ...] = ()
    missing: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.decision == ALLOWED

    def reason(self) -> str:
        """One line: why this resource is allowed or not."""
        statements = "; ".join(m.describe() for m in self.matched)
        if self.decision == ALLOWED:
            return f"allowed by {statements}" if statements else "allowed"
        if self.decision == "explicitDeny":
            return f"explicitly denied by {statements}" if statements else "explicitly denied"
        text = f"no statement allows {ACTION} on this {self.kind}"
        if self.missing:
            text += f" (the policies test {', '.join(self.missing)}, which the request lacks)"
        return text


@dataclasses.dataclass(frozen=True)
class AccessVerdict:
    principal: str
    instance: Instance
    document: str
    resources: tuple[ResourceVerdict, ...]

    @property
    def allowed(self) -> bool:
        return bool(self.resources) and all(r.allowed for r in self.resources)

    def summary(self) -> str:
        target = self.instance.instance_id + (
            f" ({self.instance.name})" if self.instance.name else ""
        )
        name = document_name(self.document)
        if self.allowed:
            return f"ALLOWED: {self.principal} may start a session on {target} with {name}"
        refused = [r for r in self.resources if not r.allowed]
        worst = (
            "explicitly denied" if any(r.decision == "explicitDeny" for r in refused) else "denied"
        )
        what = " and ".join(r.kind for r in refused)
        return (
            f"DENIED: {self.principal} may not start a session on {target} with {name}: "
            f"{worst} on the {what}"
        )

    def to_records(self) -> list[dict[str, Any]]:
        return [
            {
                "principal": self.principal,
                "action": ACTION,
                "target": self.instance.instance_id,
                "target_name": self.instance.name,
                "kind": r.kind,
                "resource": r.resource,
                "decision": r.decision,
                "allowed": r.allowed,
                "reason": r.reason(),
                "matched_statements": [m.to_record() for m in r.matched],
                "missing_context_keys": list(r.missing),
            }
            for r in self.resources
        ]


def resolve_principal(iam: Any, caller_arn: str) -> str:
    """The ARN to simulate for a caller (or a --principal): a role for a role session.

    A role's path is not part of its session ARN (SSO roles live under
    /aws-reserved/sso.amazonaws.com/...), so the role is looked up with iam:GetRole;
    when that is not allowed the path-less ARN is used.
    """
    import botocore.exceptions

    arn = principal_arn(caller_arn)
    if principal_kind(caller_arn) != "assumed-role":
        return arn
    try:
        return str(iam.get_role(RoleName=principal_name(arn))["Role"]["Arn"])
    except botocore.exceptions.ClientError:
        return arn


def context_entries(instance: Instance, principal: str) -> list[dict[str, Any]]:
    """What StartSession puts in the request context, for the simulator."""
    entries: list[dict[str, Any]] = [
        {
            "ContextKeyName": f"ssm:resourceTag/{key}",
            "ContextKeyValues": [value],
            "ContextKeyType": "string",
        }
        for key, value in sorted(instance.tags.items())
    ]
    entries.append(
        {
            "ContextKeyName": "ssm:SessionDocumentAccessCheck",
            "ContextKeyValues": ["true"],
            "ContextKeyType": "boolean",
        }
    )
    if principal_kind(principal) == "user":
        entries.append(
            {
                "ContextKeyName": "aws:username",
                "ContextKeyValues": [principal_name(principal)],
                "ContextKeyType": "string",
            }
        )
    return entries


def check_access(
    iam: Any,
    principal: str,
    instance: Instance,
    *,
    account: str,
    document: str | None = None,
    partition: str = "aws",
) -> AccessVerdict:
    """Simulate StartSession by `principal` on `instance` with `document` (default shell).

    `principal` is a user, group or role ARN (see `resolve_principal`); `account` owns the
    instance when EC2 does not say. SimulatorDenied when the caller may not simulate.
    """
    import botocore.exceptions

    try:
        doc_arn = document_arn(instance.region, account, document or SHELL_DOCUMENT, partition)
    except ValueError as exc:
        raise UsageError(f"--document: {exc}") from None
    target_arn = instance_arn(
        instance.region, instance.account_id or account, instance.instance_id, partition
    )
    results: list[Mapping[str, Any]] = []
    kwargs: dict[str, Any] = {
        "PolicySourceArn": principal,
        "ActionNames": [ACTION],
        "ResourceArns": [target_arn, doc_arn],
        "ContextEntries": context_entries(instance, principal),
    }
    try:
        for page in iam.get_paginator("simulate_principal_policy").paginate(**kwargs):
            results += page.get("EvaluationResults", [])
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in ("AccessDenied", "AccessDeniedException"):
            error = translate(exc)
            raise SimulatorDenied(
                f"{error.message if error else exc}; access check needs "
                f"iam:SimulatePrincipalPolicy on {principal}",
                error_code(exc),
                "SimulatePrincipalPolicy",
            ) from None
        raise
    by_resource = _per_resource(results)
    verdicts = tuple(
        dataclasses.replace(
            by_resource.get(arn) or ResourceVerdict(arn, kind, "implicitDeny"), kind=kind
        )
        for arn, kind in ((target_arn, "instance"), (doc_arn, "document"))
    )
    return AccessVerdict(principal, instance, doc_arn, verdicts)


def _per_resource(results: Sequence[Mapping[str, Any]]) -> dict[str, ResourceVerdict]:
    """Resource ARN -> verdict, from either result shape AWS uses (one result per
    resource, or one per action with ResourceSpecificResults)."""
    out: dict[str, ResourceVerdict] = {}
    for result in results:
        specific = result.get("ResourceSpecificResults") or []
        for item in specific:
            name = str(item.get("EvalResourceName", ""))
            out[name] = ResourceVerdict(
                name,
                "",
                str(item.get("EvalResourceDecision", "implicitDeny")),
                _statements(item.get("MatchedStatements")),
                tuple(str(k) for k in item.get("MissingContextValues") or ()),
            )
        name = str(result.get("EvalResourceName", ""))
        if not specific or name not in out:
            out[name] = ResourceVerdict(
                name,
                "",
                str(result.get("EvalDecision", "implicitDeny")),
                _statements(result.get("MatchedStatements")),
                tuple(str(k) for k in result.get("MissingContextValues") or ()),
            )
    return out


def _statements(raw: Any) -> tuple[MatchedStatement, ...]:
    out = []
    for item in raw or ():
        start, end = item.get("StartPosition") or {}, item.get("EndPosition") or {}
        out.append(
            MatchedStatement(
                policy_id=str(item.get("SourcePolicyId", "")),
                policy_type=str(item.get("SourcePolicyType", "")),
                start_line=start.get("Line"),
                end_line=end.get("Line"),
                start_column=start.get("Column"),
                end_column=end.get("Column"),
            )
        )
    return tuple(out)
