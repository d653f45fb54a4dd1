"""The Name of each session target, looked up in bulk and remembered.

EC2 instances: one DescribeInstances per region for a whole set of ids, through the
`instance-id` filter (an id that no longer exists is simply absent; the `InstanceIds`
parameter would fail the whole call). Hybrid `mi-` nodes: DescribeInstanceInformation
by id (their registration name). Terminated or unknown targets have no name (None).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

_FILTER_VALUES = 200


class NameResolver:
    """`names(region, ids)` -> {id: Name or None}, one bulk lookup per region and batch."""

    def __init__(self, client_for: Callable[[str, str], Any]) -> None:
        """`client_for(service, region)` returns a client (ec2, ssm)."""
        self._client_for = client_for
        self._known: dict[tuple[str, str], str | None] = {}
        self._lock = threading.Lock()
        self.calls = 0

    def names(self, region: str, ids: Iterable[str]) -> dict[str, str | None]:
        wanted = sorted({i for i in ids if i})
        with self._lock:
            missing = [i for i in wanted if (region, i) not in self._known]
        found: dict[str, str | None] = dict.fromkeys(missing)
        instances = [i for i in missing if i.startswith("i-")]
        hybrid = [i for i in missing if i.startswith("mi-")]
        if instances:
            found.update(self._ec2_names(region, instances))
        if hybrid:
            found.update(self._hybrid_names(region, hybrid))
        with self._lock:
            for node_id, name in found.items():
                self._known[(region, node_id)] = name
            return {i: self._known.get((region, i)) for i in wanted}

    def _ec2_names(self, region: str, ids: list[str]) -> dict[str, str | None]:
        ec2 = self._client_for("ec2", region)
        out: dict[str, str | None] = {}
        for start in range(0, len(ids), _FILTER_VALUES):
            chunk = ids[start : start + _FILTER_VALUES]
            pages = ec2.get_paginator("describe_instances").paginate(
                Filters=[{"Name": "instance-id", "Values": chunk}]
            )
            self.calls += 1
            for page in pages:
                for reservation in page.get("Reservations", []):
                    for instance in reservation.get("Instances", []):
                        tags = {t.get("Key"): t.get("Value") for t in instance.get("Tags", [])}
                        out[str(instance["InstanceId"])] = tags.get("Name") or None
        return out

    def _hybrid_names(self, region: str, ids: list[str]) -> dict[str, str | None]:
        from ssmctl.targets import describe_info_by_ids

        self.calls += 1
        rows = describe_info_by_ids(self._client_for("ssm", region), ids)
        return {node_id: (row.get("Name") or None) for node_id, row in rows.items()}
