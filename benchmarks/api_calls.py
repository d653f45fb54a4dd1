"""API calls to resolve a target and start a session among 1,000 sandbox instances.

    python benchmarks/api_calls.py [--instances 1000]

Counts every AWS call with botocore's event hooks, for ssmctl's resolution and for a
one-call-per-instance approach (list every managed node, then describe each one to read
its tags), both run side by side against the same in-process sandbox.
Goal (issue #2): at most 3 calls plus pagination for a tag target.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

FLEET = """\
account_id: "111122223333"
regions: [us-east-1]
default_region: us-east-1
users:
  - name: bench
    default: true
cloudtrail:
  throttle: false
instances:
  - name: "fleet-{{n:04d}}"
    count: {count}
    tags: {{Role: fleet, Team: platform}}
  - name: bastion-1
    tags: {{Role: bastion, Team: platform}}
"""


class Counter:
    """Counts AWS calls made through a boto3 session (botocore's before-call event)."""

    def __init__(self, session: Any) -> None:
        self.calls: collections.Counter[str] = collections.Counter()
        session.events.register("before-call.*.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[f"{model.service_model.service_name}.{model.name}"] += 1

    def reset(self) -> None:
        self.calls.clear()

    def describe(self) -> str:
        return ", ".join(f"{name} x{n}" for name, n in sorted(self.calls.items()))


def ssmctl_way(aws: Any, target: str) -> str:
    from ssmctl.selection import choose_one
    from ssmctl.sessions import start_request, start_session
    from ssmctl.targets import parse_target, resolve

    spec = parse_target(target)
    found = resolve(spec, region="us-east-1", client=lambda s: aws.client(s, "us-east-1"))
    chosen = choose_one(found, spec, "us-east-1")
    return start_session(aws.client("ssm"), start_request(chosen.instance_id))["SessionId"]


def per_instance_way(aws: Any, target: str) -> str:
    """List managed nodes, then DescribeInstances once per node to learn its tags."""
    key, _, value = target.partition("=")
    ssm, ec2 = aws.client("ssm"), aws.client("ec2")
    matches = []
    for page in ssm.get_paginator("describe_instance_information").paginate():
        for node in page["InstanceInformationList"]:
            if node["PingStatus"] != "Online" or not node["InstanceId"].startswith("i-"):
                continue
            reservations = ec2.describe_instances(InstanceIds=[node["InstanceId"]])["Reservations"]
            tags = {t["Key"]: t["Value"] for t in reservations[0]["Instances"][0].get("Tags", [])}
            if tags.get(key) == value:
                matches.append(node["InstanceId"])
    return str(ssm.start_session(Target=matches[0])["SessionId"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", type=int, default=1000)
    args = parser.parse_args()

    from ssmctl.aws import AwsContext
    from ssmctl.sandbox import Sandbox, load_fleet

    with tempfile.TemporaryDirectory() as tmp:
        fleet_path = Path(tmp) / "fleet.yaml"
        fleet_path.write_text(FLEET.format(count=args.instances))
        started = time.perf_counter()
        with Sandbox(load_fleet(str(fleet_path))) as sandbox:
            print(
                f"sandbox with {args.instances + 1} instances up in "
                f"{time.perf_counter() - started:.1f} s"
            )
            os.environ.update(sandbox.env())
            aws = AwsContext(region="us-east-1", endpoint_url=sandbox.endpoint_url)
            counter = Counter(aws.session)
            cases: list[tuple[str, Callable[[Any, str], str], str]] = [
                ("ssmctl, tag Role=bastion", ssmctl_way, "Role=bastion"),
                ("ssmctl, Name glob bastion-*", ssmctl_way, "bastion-*"),
                ("ssmctl, instance id", ssmctl_way, sandbox.node_id("bastion-1")),
                ("one call per instance, Role=bastion", per_instance_way, "Role=bastion"),
            ]
            print(f"{'approach':40} {'calls':>6} {'seconds':>8}  breakdown")
            results = {}
            for name, way, target in cases:
                counter.reset()
                start = time.perf_counter()
                way(aws, target)
                elapsed = time.perf_counter() - start
                total = sum(counter.calls.values())
                results[name] = total
                print(f"{name:40} {total:6d} {elapsed:8.2f}  {counter.describe()}")
            ours = results["ssmctl, tag Role=bastion"]
            theirs = results["one call per instance, Role=bastion"]
            print(f"ratio (one-call-per-instance / ssmctl, tag target): {theirs / ours:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
