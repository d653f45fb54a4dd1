"""IAM identity-based policy documents as the sandbox's evaluator reads them.

`parse_policy` checks a document the way IAM would refuse it (MalformedPolicyDocument)
and keeps where each statement sits in the text, because SimulatePrincipalPolicy reports
matched statements by line and column.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from ssmctl.access.operators import CONDITION_OPERATORS

VERSIONS = ("2012-10-17", "2008-10-17")
_STATEMENT_KEYS = frozenset(
    ("Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition")
)
QUALIFIERS = ("ForAnyValue", "ForAllValues")


class PolicyFormatError(ValueError):
    """The document is not a policy IAM would accept (IAM: MalformedPolicyDocument)."""


@dataclasses.dataclass(frozen=True)
class Position:
    """1-based line and column in the policy text."""

    line: int
    column: int

    def to_api(self) -> dict[str, int]:
        return {"Line": self.line, "Column": self.column}


@dataclasses.dataclass(frozen=True)
class Condition:
    """One key of one condition operator block: `"StringLike": {"key": [values]}`."""

    operator: str
    """The base operator, e.g. StringLike (no qualifier, no IfExists)."""
    key: str
    values: tuple[str, ...]
    qualifier: str | None = None
    if_exists: bool = False


@dataclasses.dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: tuple[Condition, ...]
    start: Position
    end: Position
    not_action: bool = False
    not_resource: bool = False
    sid: str | None = None


@dataclasses.dataclass(frozen=True)
class Policy:
    """A parsed policy and where it came from (SimulatePrincipalPolicy's SourcePolicy*)."""

    policy_id: str
    policy_type: str
    """user, group, role, user-managed, aws-managed or none (SimulateCustomPolicy input)."""
    version: str
    statements: tuple[Statement, ...]

    @property
    def has_variables(self) -> bool:
        """Only version 2012-10-17 substitutes `${...}` policy variables."""
        return self.version == "2012-10-17"


def parse_policy(text: str, policy_id: str, policy_type: str) -> Policy:
    """Parse and check a policy document; PolicyFormatError says what is wrong."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise PolicyFormatError(f"the policy is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise PolicyFormatError("the policy must be a JSON object")
    unknown = sorted(set(document) - {"Version", "Id", "Statement"})
    if unknown:
        raise PolicyFormatError(f"unknown top-level element {unknown[0]!r}")
    version = document.get("Version", "2008-10-17")
    if version not in VERSIONS:
        raise PolicyFormatError(f"Version must be 2012-10-17 (or 2008-10-17); got {version!r}")
    raw = document.get("Statement")
    if raw is None:
        raise PolicyFormatError("the policy has no Statement")
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise PolicyFormatError("Statement must not be empty")
    spans = statement_spans(text)
    if len(spans) != len(items):  # cannot happen for valid JSON; guards the scanner
        raise PolicyFormatError("cannot locate the statements in the policy text")
    statements = tuple(
        _statement(item, index, spans[index - 1]) for index, item in enumerate(items, 1)
    )
    return Policy(policy_id, policy_type, str(version), statements)


def _statement(item: object, index: int, span: tuple[Position, Position]) -> Statement:
    where = f"Statement {index}"
    if not isinstance(item, dict):
        raise PolicyFormatError(f"{where} must be a JSON object")
    if "Principal" in item or "NotPrincipal" in item:
        raise PolicyFormatError(f"{where}: an identity-based policy cannot name a Principal")
    unknown = sorted(set(item) - _STATEMENT_KEYS)
    if unknown:
        raise PolicyFormatError(f"{where}: unknown element {unknown[0]!r}")
    effect = item.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyFormatError(f"{where}: Effect must be Allow or Deny; got {effect!r}")
    actions, not_action = _one_of(item, "Action", "NotAction", where)
    for action in actions:
        if action != "*" and (action.count(":") != 1 or not all(action.split(":"))):
            raise PolicyFormatError(f"{where}: action {action!r} is not service:Action or *")
    resources, not_resource = _one_of(item, "Resource", "NotResource", where)
    for resource in resources:
        if resource != "*" and not resource.startswith("arn:"):
            raise PolicyFormatError(f"{where}: resource {resource!r} is not an ARN or *")
    sid = item.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise PolicyFormatError(f"{where}: Sid must be a string")
    return Statement(
        effect=effect,
        actions=actions,
        resources=resources,
        conditions=_conditions(item.get("Condition"), where),
        start=span[0],
        end=span[1],
        not_action=not_action,
        not_resource=not_resource,
        sid=sid,
    )


def _one_of(
    item: Mapping[str, Any], name: str, negated: str, where: str
) -> tuple[tuple[str, ...], bool]:
    if (name in item) == (negated in item):
        raise PolicyFormatError(f"{where} needs exactly one of {name} or {negated}")
    key = name if name in item else negated
    value = item[key]
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise PolicyFormatError(f"{where}: {key} must be a string or a non-empty list of strings")
    return tuple(values), key == negated


def split_operator(name: str) -> tuple[str | None, str, bool]:
    """`ForAnyValue:StringLikeIfExists` -> ("ForAnyValue", "StringLike", True)."""
    qualifier = None
    head, sep, tail = name.partition(":")
    if sep:
        qualifier, name = head, tail
    if_exists = name.endswith("IfExists") and name != "IfExists"
    base = name[: -len("IfExists")] if if_exists else name
    return qualifier, base, if_exists


def _conditions(block: object, where: str) -> tuple[Condition, ...]:
    if block is None:
        return ()
    if not isinstance(block, dict):
        raise PolicyFormatError(f"{where}: Condition must be a JSON object")
    out: list[Condition] = []
    for name, keys in block.items():
        qualifier, base, if_exists = split_operator(name)
        known = base in CONDITION_OPERATORS or (base == "Null" and not if_exists)
        if not known or (qualifier is not None and qualifier not in QUALIFIERS):
            raise PolicyFormatError(f"{where}: unknown condition operator {name!r}")
        if not isinstance(keys, dict) or not keys:
            raise PolicyFormatError(f"{where}: {name} must map condition keys to values")
        for key, value in keys.items():
            values = value if isinstance(value, list) else [value]
            if not values or not all(isinstance(v, (str, bool, int, float)) for v in values):
                raise PolicyFormatError(
                    f"{where}: {name} {key!r} must be a string, number, boolean or a list of them"
                )
            out.append(Condition(base, key, tuple(_text(v) for v in values), qualifier, if_exists))
    return tuple(out)


def _text(value: str | bool | float) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- where the statements are -------------------------------------------------------


def statement_spans(text: str) -> list[tuple[Position, Position]]:
    """(start, end) of each element of the top-level Statement (list or single object).

    The values themselves are decoded by the json module; this only walks the top-level
    object to find the offsets, so it assumes `text` is valid JSON.
    """
    decoder = json.JSONDecoder()
    spans: list[tuple[int, int]] = []
    i = _skip(text, 0)
    if text[i : i + 1] != "{":
        return []
    i = _skip(text, i + 1)
    while i < len(text) and text[i] != "}":
        key, i = decoder.raw_decode(text, i)
        i = _skip(text, _skip(text, i) + 1)  # past the colon
        if key == "Statement" and text[i] == "[":
            i = _skip(text, i + 1)
            while text[i] != "]":
                start = i
                _, i = decoder.raw_decode(text, i)
                spans.append((start, i))
                i = _skip(text, i)
                if text[i] == ",":
                    i = _skip(text, i + 1)
            i += 1
        else:
            start = i
            _, i = decoder.raw_decode(text, i)
            if key == "Statement":
                spans.append((start, i))
        i = _skip(text, i)
        if i < len(text) and text[i] == ",":
            i = _skip(text, i + 1)
    return [(_position(text, a), _position(text, b - 1)) for a, b in spans]


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def _position(text: str, offset: int) -> Position:
    line_start = text.rfind("\n", 0, offset) + 1
    return Position(text.count("\n", 0, offset) + 1, offset - line_start + 1)
