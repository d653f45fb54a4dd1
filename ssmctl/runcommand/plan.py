"""From target specs to SendCommand calls.

Every target is resolved first (as `instances list` resolves it), so instances SSM cannot
reach now are skipped and reported before anything is sent. The others are grouped by
the document their platform needs (AWS-RunPowerShellScript on Windows,
AWS-RunShellScript elsewhere) and sent in batches of at most 50 instance ids. A target
that is exactly one tag (`Key=Value`, no wildcards) or one resource group, whose
instances are all online and alike, goes as one `Targets` call instead when it has more
than 50 instances: one call however big the fleet.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ssmctl.models import Instance
from ssmctl.targets import ClientFor, TargetSpec, resolve, sort_instances

SHELL_DOCUMENT = "AWS-RunShellScript"
POWERSHELL_DOCUMENT = "AWS-RunPowerShellScript"
MAX_INSTANCE_IDS = 50  # SendCommand's InstanceIds limit


@dataclasses.dataclass(frozen=True)
class Skip:
    """A target the command is not sent to, and why."""

    instance_id: str
    name: str
    platform: str | None
    reason: str


@dataclasses.dataclass(frozen=True)
class Send:
    """One SendCommand: a document and its instances (by id, or by one `Targets` entry)."""

    document: str
    instances: tuple[Instance, ...]
    target: tuple[str, str] | None = None
    """(Targets key, value) when sent by tag or resource group instead of by id."""

    def addressing(self) -> dict[str, object]:
        """The SendCommand arguments that say where the command goes."""
        if self.target is not None:
            key, value = self.target
            return {"Targets": [{"Key": key, "Values": [value]}]}
        return {"InstanceIds": [i.instance_id for i in self.instances]}


@dataclasses.dataclass(frozen=True)
class Plan:
    region: str
    sends: tuple[Send, ...]
    skipped: tuple[Skip, ...]

    @property
    def total(self) -> int:
        """How many instances the command is sent to."""
        return sum(len(s.instances) for s in self.sends)


def find_targets(
    specs: Sequence[TargetSpec], *, region: str, client: ClientFor
) -> tuple[list[Instance], list[str]]:
    """Every instance any spec matches (once each), and requested ids that do not exist."""
    found: dict[str, Instance] = {}
    for spec in specs:
        for instance in resolve(spec, region=region, client=client):
            found.setdefault(instance.instance_id, instance)
    asked = [i for spec in specs for i in spec.instance_ids]
    missing = [i for i in dict.fromkeys(asked) if i not in found]
    return sort_instances(found.values()), missing


def targets_key(specs: Sequence[TargetSpec]) -> tuple[str, str] | None:
    """The `Targets` entry that selects exactly what `specs` select, if there is one."""
    if len(specs) != 1:
        return None
    spec = specs[0]
    if spec.instance_ids or spec.address or spec.dns_name:
        return None
    if spec.group and not spec.tags:
        return ("resource-groups:Name", spec.group)
    if len(spec.tags) == 1 and not spec.group:
        key, value = spec.tags[0]
        if not any(c in value for c in "*?"):
            return (f"tag:{key}", value)
    return None


def document_for(instance: Instance) -> str:
    return POWERSHELL_DOCUMENT if instance.platform == "Windows" else SHELL_DOCUMENT


def make_plan(
    region: str,
    instances: Sequence[Instance],
    *,
    missing: Sequence[str] = (),
    targets: tuple[str, str] | None = None,
) -> Plan:
    """Batches for the online instances; the others skipped with the reason.

    `targets` (from `targets_key`) is used when it reaches exactly the planned instances
    and saves calls: everything it matches is online, one document, more than 50.
    """
    skipped = [Skip(i, "", None, "not found") for i in missing]
    online = [i for i in instances if i.online]
    skipped += [
        Skip(i.instance_id, i.name, i.platform, i.availability()) for i in instances if not i.online
    ]
    by_document: dict[str, list[Instance]] = {}
    for instance in online:
        by_document.setdefault(document_for(instance), []).append(instance)
    if (
        targets is not None
        and len(online) == len(instances) > MAX_INSTANCE_IDS
        and len(by_document) == 1
    ):
        (document,) = by_document
        return Plan(region, (Send(document, tuple(online), targets),), tuple(skipped))
    sends = [
        Send(document, tuple(group[start : start + MAX_INSTANCE_IDS]))
        for document, group in sorted(by_document.items())
        for start in range(0, len(group), MAX_INSTANCE_IDS)
    ]
    return Plan(region, tuple(sends), tuple(skipped))
