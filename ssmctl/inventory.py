"""Finding instances across regions (the library behind `instances list`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ssmctl.aws import AwsContext
from ssmctl.models import Instance
from ssmctl.regions import fan_out
from ssmctl.targets import TargetSpec, resolve


@dataclasses.dataclass(frozen=True)
class Inventory:
    instances: list[Instance]
    failures: list[tuple[str, BaseException]]
    """(region, error) for regions that could not be read."""


def find_instances(aws: AwsContext, spec: TargetSpec, regions: Sequence[str]) -> Inventory:
    """Resolve `spec` in every region concurrently; each region keeps its own errors."""

    def work(region: str) -> list[Instance]:
        return resolve(spec, region=region, client=lambda service: aws.client(service, region))

    instances: list[Instance] = []
    failures: list[tuple[str, BaseException]] = []
    for result in fan_out(regions, work):
        if result.error is not None:
            failures.append((result.region, result.error))
        else:
            instances.extend(result.value or [])
    if any(i.account_id is None for i in instances):
        # Hybrid nodes found without an ARN: they belong to the caller's account.
        account = aws.identity()["Account"]
        instances = [
            i if i.account_id else dataclasses.replace(i, account_id=account) for i in instances
        ]
    return Inventory(instances, failures)
