"""A structural check of identity-based policy documents, before IAM sees them.

It catches what IAM would refuse (MalformedPolicyDocument, LimitExceeded) and a few
things IAM accepts but that never do what was meant (policy variables in a 2008-10-17
policy, duplicate Sids or keys). It does not know every service's actions: an action is
checked for its `service:Action` shape only.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from typing import Any

from ssmctl.access.arns import parse_arn
from ssmctl.access.operators import CONDITION_OPERATORS

# IAM quotas, in characters not counting white space.
SIZE_LIMITS = {
    "managed": 6144,
    "user": 2048,
    "role": 10240,
    "group": 5120,
}
_STATEMENT_KEYS = ("Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition")
_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9*?]+$")
_SID = re.compile(r"^[A-Za-z0-9]*$")
_CONDITION_KEY = re.compile(r"^[A-Za-z0-9-]+:\S+$")


@dataclasses.dataclass(frozen=True)
class Problem:
    where: str
    """`Statement 2 (Sid X) Resource`, or `policy` for the whole document."""
    message: str
    error: bool = True
    """False for a warning: IAM accepts it, but it is probably not what was meant."""

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def policy_size(text: str) -> int:
    """The size IAM counts against its quotas: characters other than white space."""
    return len(re.sub(r"\s", "", text))


def check_policy(text: str, *, limit: str = "managed") -> list[Problem]:
    """Every problem found in the policy JSON `text` (empty: it looks valid).

    `limit` names the size quota it must fit: managed, user, role or group (inline).
    """
    problems: list[Problem] = []
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as exc:
        return [Problem("policy", f"duplicate key {exc.args[0]!r} (IAM keeps only one of them)")]
    except ValueError as exc:
        return [Problem("policy", f"not valid JSON: {exc}")]
    if not isinstance(document, dict):
        return [Problem("policy", "must be a JSON object")]
    quota = SIZE_LIMITS[limit]
    size = policy_size(text)
    if size > quota:
        kind = "a managed policy" if limit == "managed" else f"an inline {limit} policy"
        problems.append(
            Problem(
                "policy",
                f"{size} characters (not counting white space): over the {quota} allowed "
                f"for {kind}; split it, or scope by tags instead of listing instances",
            )
        )
    for key in document:
        if key not in ("Version", "Id", "Statement"):
            problems.append(Problem("policy", f"unknown element {key!r}"))
    version = document.get("Version")
    if version not in ("2012-10-17", "2008-10-17"):
        problems.append(Problem("Version", f'must be "2012-10-17"; got {version!r}'))
    elif version == "2008-10-17" and "${" in text:
        problems.append(
            Problem("Version", '2008-10-17 does not substitute ${...} variables: use "2012-10-17"')
        )
    raw = document.get("Statement")
    statements = raw if isinstance(raw, list) else [raw] if isinstance(raw, dict) else None
    if not statements:
        problems.append(Problem("Statement", "must be a non-empty list of statements"))
        return problems
    sids: set[str] = set()
    for index, statement in enumerate(statements, 1):
        problems += _statement(statement, index, sids)
    return problems


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _statement(statement: object, index: int, sids: set[str]) -> list[Problem]:
    where = f"Statement {index}"
    if not isinstance(statement, dict):
        return [Problem(where, "must be a JSON object")]
    sid = statement.get("Sid")
    if sid is not None:
        where = f"Statement {index} (Sid {sid})"
    problems: list[Problem] = []
    if sid is not None and (not isinstance(sid, str) or not _SID.match(sid)):
        problems.append(Problem(where, "Sid may hold only letters and digits"))
    elif isinstance(sid, str) and sid:
        if sid in sids:
            problems.append(Problem(where, "Sid is used twice"))
        sids.add(sid)
    for key in statement:
        if key in ("Principal", "NotPrincipal"):
            problems.append(Problem(where, f"{key}: an identity-based policy names no principal"))
        elif key not in _STATEMENT_KEYS:
            problems.append(Problem(where, f"unknown element {key!r}"))
    if statement.get("Effect") not in ("Allow", "Deny"):
        problems.append(
            Problem(where, f"Effect must be Allow or Deny; got {statement.get('Effect')!r}")
        )
    problems += _pair(statement, where, "Action", "NotAction", _action_problem)
    problems += _pair(statement, where, "Resource", "NotResource", _resource_problem)
    if "Condition" in statement:
        problems += _conditions(statement["Condition"], f"{where} Condition")
    return problems


def _pair(
    statement: Mapping[str, Any], where: str, name: str, negated: str, check: Any
) -> list[Problem]:
    present = [k for k in (name, negated) if k in statement]
    if len(present) != 1:
        return [Problem(where, f"needs exactly one of {name} or {negated}")]
    key = present[0]
    value = statement[key]
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        return [Problem(f"{where} {key}", "must be a string or a non-empty list of strings")]
    problems = []
    for item in values:
        problem = check(item)
        if problem:
            problems.append(Problem(f"{where} {key}", f"{item!r}: {problem}"))
    if len(set(values)) != len(values):
        problems.append(Problem(f"{where} {key}", "lists a value twice", error=False))
    return problems


def _action_problem(action: str) -> str | None:
    if action == "*" or _ACTION.match(action):
        return None
    return "an action is service:Action (e.g. ssm:StartSession) or *"


def _resource_problem(resource: str) -> str | None:
    if resource == "*":
        return None
    arn = parse_arn(resource)
    if arn is None:
        return "not an ARN (arn:partition:service:region:account:resource) or *"
    if arn.service == "iam" and arn.region not in ("", "*"):
        return "IAM ARNs have no region"
    return None


def _conditions(block: object, where: str) -> list[Problem]:
    if not isinstance(block, dict) or not block:
        return [Problem(where, "must map condition operators to {key: values}")]
    problems = []
    for operator, keys in block.items():
        name = operator.split(":", 1)[1] if ":" in operator else operator
        qualifier = operator.split(":", 1)[0] if ":" in operator else None
        base = name[: -len("IfExists")] if name.endswith("IfExists") else name
        if qualifier not in (None, "ForAnyValue", "ForAllValues") or not (
            base in CONDITION_OPERATORS or operator == "Null"
        ):
            problems.append(Problem(where, f"unknown condition operator {operator!r}"))
            continue
        if not isinstance(keys, dict) or not keys:
            problems.append(Problem(f"{where} {operator}", "must map condition keys to values"))
            continue
        for key, value in keys.items():
            if not _CONDITION_KEY.match(key):
                problems.append(Problem(f"{where} {operator}", f"{key!r} is not a condition key"))
            values = value if isinstance(value, list) else [value]
            if not values or not all(isinstance(v, (str, bool, int, float)) for v in values):
                problems.append(
                    Problem(
                        f"{where} {operator} {key}", "values must be strings, numbers or booleans"
                    )
                )
    return problems
