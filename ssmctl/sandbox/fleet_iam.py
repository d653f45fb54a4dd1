"""The fleet file's IAM part: `iam:` (enforcement and managed policies) and the
`policies:` of users and roles. Parsing (errors name file:line) and seeding into moto.

    iam:
      enforce: true                # evaluate policies on the session APIs
      policies:                    # customer managed policies
        - name: session-dev
          document: {Version: "2012-10-17", Statement: [...]}
    users:
      - name: dev
        policies:
          - managed: session-dev   # attach a managed policy
          - name: extra            # an inline policy (a mapping, or JSON text)
            document: '{"Version": "2012-10-17", "Statement": [...]}'
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ssmctl.sandbox.iam_policy import PolicyFormatError, parse_policy
from ssmctl.sandbox.yaml_reader import NodeReader

if TYPE_CHECKING:
    from ssmctl.sandbox.fleet import Fleet

IAM_KEYS = ("enforce", "policies")
MANAGED_KEYS = ("name", "document")
ATTACHED_KEYS = ("name", "document", "managed")
DOCUMENTED_KEYS = (
    *(f"iam.{k}" for k in IAM_KEYS),
    *(f"iam.policies[].{k}" for k in MANAGED_KEYS),
    *(f"users[].policies[].{k}" for k in ATTACHED_KEYS),
    *(f"roles[].policies[].{k}" for k in ATTACHED_KEYS),
)
_POLICY_NAME_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+=,.@_-"
)


@dataclasses.dataclass(frozen=True)
class ManagedPolicySpec:
    """A customer managed policy (`arn:aws:iam::<account>:policy/<name>`)."""

    name: str
    document: str
    """The policy JSON, as given (JSON text) or rendered from YAML (indented)."""


@dataclasses.dataclass(frozen=True)
class AttachedPolicySpec:
    """One entry of a user's or role's `policies`: an inline policy or a managed one."""

    name: str
    document: str | None = None
    """The inline policy's JSON; None for an attached managed policy (`name` is its name)."""

    @property
    def managed(self) -> bool:
        return self.document is None


@dataclasses.dataclass(frozen=True)
class IamSpec:
    enforce: bool = False
    """Evaluate the callers' policies on the session APIs (docs/sandbox.md)."""
    policies: tuple[ManagedPolicySpec, ...] = ()


# --- parsing ---------------------------------------------------------------------------


def parse_iam(reader: NodeReader, node: Any) -> IamSpec:
    fields = reader.mapping(node, "iam", IAM_KEYS)
    enforce = reader.boolean(fields["enforce"][1], "iam.enforce") if "enforce" in fields else False
    policies: list[ManagedPolicySpec] = []
    if "policies" in fields:
        for i, item in enumerate(reader.sequence(fields["policies"][1], "iam.policies")):
            where = f"iam.policies[{i}]"
            entry = reader.mapping(item, where, MANAGED_KEYS)
            if "name" not in entry or "document" not in entry:
                raise reader.fail(item, f"{where} needs a name and a document")
            name = _policy_name(reader, entry["name"][1], f"{where}.name")
            if any(p.name == name for p in policies):
                raise reader.fail(entry["name"][1], f"managed policy {name!r} is defined twice")
            document = _document(reader, entry["document"][1], f"{where}.document")
            policies.append(ManagedPolicySpec(name, document))
    return IamSpec(enforce=enforce, policies=tuple(policies))


def parse_attached(reader: NodeReader, node: Any, where: str) -> tuple[AttachedPolicySpec, ...]:
    """A user's or role's `policies` list (managed names are checked by `check_references`)."""
    out: list[AttachedPolicySpec] = []
    for i, item in enumerate(reader.sequence(node, where)):
        here = f"{where}[{i}]"
        entry = reader.mapping(item, here, ATTACHED_KEYS)
        if "managed" in entry:
            if "name" in entry or "document" in entry:
                raise reader.fail(item, f"{here}: managed cannot be combined with name/document")
            spec = AttachedPolicySpec(_policy_name(reader, entry["managed"][1], f"{here}.managed"))
        else:
            if "name" not in entry or "document" not in entry:
                raise reader.fail(
                    item, f"{here} needs name and document (inline) or managed (attached)"
                )
            name = _policy_name(reader, entry["name"][1], f"{here}.name")
            spec = AttachedPolicySpec(
                name, _document(reader, entry["document"][1], f"{here}.document")
            )
        if any(p.name == spec.name and p.managed == spec.managed for p in out):
            raise reader.fail(item, f"{here}: policy {spec.name!r} is listed twice")
        out.append(spec)
    return tuple(out)


def check_references(
    reader: NodeReader, node: Any, iam: IamSpec, attached: Sequence[AttachedPolicySpec], where: str
) -> None:
    """Every `managed:` entry names one of `iam.policies`."""
    known = {p.name for p in iam.policies}
    for spec in attached:
        if spec.managed and spec.name not in known:
            names = ", ".join(sorted(known)) or "none defined"
            raise reader.fail(
                node, f"{where}: managed policy {spec.name!r} is not in iam.policies ({names})"
            )


def _policy_name(reader: NodeReader, node: Any, where: str) -> str:
    name = reader.text(node, where)
    if not 1 <= len(name) <= 128 or not set(name) <= _POLICY_NAME_CHARS:
        raise reader.fail(node, f"{where} {name!r} is not valid: letters, digits and +=,.@_-")
    return name


def _document(reader: NodeReader, node: Any, where: str) -> str:
    """The policy JSON: a YAML mapping (rendered indented) or a string of JSON (kept)."""
    import yaml

    if isinstance(node, yaml.MappingNode):
        value = yaml.constructor.SafeConstructor().construct_object(node, deep=True)
        text = json.dumps(value, indent=2)
    else:
        text = reader.text(node, where)
    try:
        parsed = parse_policy(text, "fleet", "none")
    except PolicyFormatError as exc:
        raise reader.fail(node, f"{where}: {exc}") from None
    if parsed.version != "2012-10-17":
        raise reader.fail(node, f'{where}: the sandbox needs "Version": "2012-10-17"')
    return text


# --- seeding ---------------------------------------------------------------------------


def seed_policies(fleet: Fleet) -> None:
    """Create the managed policies and give users and roles their policies (in moto)."""
    from ssmctl.sandbox import moto_access

    account = fleet.account_id
    arns = {
        spec.name: moto_access.create_managed_policy(account, spec.name, spec.document)
        for spec in fleet.iam.policies
    }
    owners: list[tuple[str, str, tuple[AttachedPolicySpec, ...]]] = [
        ("user", u.name, u.policies) for u in fleet.users
    ]
    owners += [("role", r.name, r.policies) for r in fleet.roles]
    for kind, owner, attached in owners:
        for spec in attached:
            if spec.document is None:
                moto_access.attach_managed_policy(account, kind, owner, arns[spec.name])
            else:
                moto_access.put_inline_policy(account, kind, owner, spec.name, spec.document)
