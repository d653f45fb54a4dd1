"""Evaluating identity-based policies for one action on one resource, as IAM does:
an explicit Deny wins, else any Allow allows, else the request is implicitly denied.

Not modelled: permissions boundaries, session policies, SCPs/RCPs and resource-based
policies (the sandbox's principals have none of them).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence

from ssmctl.sandbox.iam_conditions import holds
from ssmctl.sandbox.iam_match import Context, action_matches, arn_like, lookup
from ssmctl.sandbox.iam_policy import Policy, Statement

ALLOWED = "allowed"
EXPLICIT_DENY = "explicitDeny"
IMPLICIT_DENY = "implicitDeny"


@dataclasses.dataclass(frozen=True)
class Match:
    policy: Policy
    statement: Statement

    def to_api(self) -> dict[str, object]:
        """SimulatePrincipalPolicy's `Statement` structure."""
        return {
            "SourcePolicyId": self.policy.policy_id,
            "SourcePolicyType": self.policy.policy_type,
            "StartPosition": self.statement.start.to_api(),
            "EndPosition": self.statement.end.to_api(),
        }


@dataclasses.dataclass(frozen=True)
class Decision:
    decision: str
    """allowed, explicitDeny or implicitDeny."""
    matched: tuple[Match, ...]
    """The statements that decided: the Denies of an explicit deny, else the Allows."""
    missing: tuple[str, ...]
    """Condition keys of relevant statements that the request context lacks."""

    @property
    def allowed(self) -> bool:
        return self.decision == ALLOWED


def make_context(entries: Mapping[str, Iterable[str]]) -> Context:
    """A request context from key -> values (keys are case-insensitive)."""
    out: dict[str, tuple[str, ...]] = {}
    for key, values in entries.items():
        out[key.lower()] = out.get(key.lower(), ()) + tuple(values)
    return out


def evaluate(policies: Sequence[Policy], action: str, resource: str, context: Context) -> Decision:
    """The decision for `action` on `resource` under all `policies` together."""
    allows: list[Match] = []
    denies: list[Match] = []
    missing: dict[str, None] = {}
    for policy in policies:
        variables = policy.has_variables
        for statement in policy.statements:
            if not _in_scope(statement, action, resource, context, variables):
                continue
            for condition in statement.conditions:
                if lookup(context, condition.key) is None:
                    missing.setdefault(condition.key, None)
            if all(holds(c, context, variables) for c in statement.conditions):
                (denies if statement.effect == "Deny" else allows).append(Match(policy, statement))
    if denies:
        return Decision(EXPLICIT_DENY, tuple(denies), tuple(missing))
    if allows:
        return Decision(ALLOWED, tuple(allows), tuple(missing))
    return Decision(IMPLICIT_DENY, (), tuple(missing))


def _in_scope(
    statement: Statement, action: str, resource: str, context: Context, variables: bool
) -> bool:
    named = any(action_matches(pattern, action) for pattern in statement.actions)
    if named == statement.not_action:
        return False
    covered = any(
        arn_like(pattern, resource, context, variables) if resource != "*" else pattern == "*"
        for pattern in statement.resources
    )
    return covered != statement.not_resource
