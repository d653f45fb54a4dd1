"""Before any change: read every region, plan it, and check what the new values name.

A bucket or log group that does not exist would make every session fail to log (and, with
encryption or streaming required, fail to start), so a change that names one is checked:
S3 HeadBucket, CloudWatch Logs DescribeLogGroups (by prefix, then an exact match). Values
that do not change are not checked again.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from typing import Any

from ssmctl.aws import AwsContext, error_code
from ssmctl.prefs import Values
from ssmctl.prefs_document import DocumentState, Plan, plan, read_state
from ssmctl.regions import fan_out


@dataclasses.dataclass(frozen=True)
class Problem:
    """A value AWS would take but that names nothing usable in `region`."""

    region: str
    key: str
    value: str
    message: str


@dataclasses.dataclass(frozen=True)
class Prepared:
    """Every selected region, read and planned, and what stands in the way."""

    plans: list[Plan]
    failures: list[tuple[str, BaseException]]
    """Regions that could not be read or checked."""
    problems: list[Problem]


Desired = Callable[[DocumentState], Values]
"""The preferences a region should hold, given what it holds now."""


def prepare(aws: AwsContext, regions: Sequence[str], desired: Desired) -> Prepared:
    """Read, plan and check every region concurrently (nothing is written)."""
    checker = ResourceChecker(aws)

    def work(region: str) -> tuple[Plan, list[Problem]]:
        state = read_state(aws.client("ssm", region), region)
        planned = plan(state, desired(state))
        return planned, checker.problems(planned)

    plans: list[Plan] = []
    problems: list[Problem] = []
    failures: list[tuple[str, BaseException]] = []
    for result in fan_out(regions, work):
        if result.error is not None or result.value is None:
            failures.append((result.region, result.error or RuntimeError("no result")))
            continue
        plans.append(result.value[0])
        problems += result.value[1]
    return Prepared(plans, failures, problems)


class ResourceChecker:
    """Checks buckets and log groups, each once per run (buckets are global)."""

    def __init__(self, aws: AwsContext) -> None:
        self._aws = aws
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], str | None] = {}

    def problems(self, planned: Plan) -> list[Problem]:
        if planned.action not in ("create", "update"):
            return []
        region = planned.region
        out = []
        for change in planned.changes:
            value = change.after
            if not isinstance(value, str) or not value:
                continue
            if change.key == "s3BucketName":
                message = self._once(("s3", value), bucket_problem, self._s3(region), value)
            elif change.key == "cloudWatchLogGroupName":
                logs = self._logs(region)
                message = self._once((region, value), log_group_problem, logs, value, region)
            else:
                continue
            if message:
                out.append(Problem(region, change.key, value, message))
        return out

    def _s3(self, region: str) -> Any:
        return self._aws.client("s3", region)

    def _logs(self, region: str) -> Any:
        return self._aws.client("logs", region)

    def _once(
        self, key: tuple[str, str], check: Callable[..., str | None], *args: Any
    ) -> str | None:
        with self._lock:
            if key in self._seen:
                return self._seen[key]
        message = check(*args)
        with self._lock:
            self._seen[key] = message
        return message


def bucket_problem(s3: Any, bucket: str) -> str | None:
    """Why `bucket` cannot take transcripts, or None if it exists.

    403 (another account's bucket, or no s3:ListBucket for the caller) and 301 (it lives
    in another region) mean it exists: the instances' role, not the caller, writes to it.
    """
    import botocore.exceptions

    try:
        s3.head_bucket(Bucket=bucket)
    except botocore.exceptions.ClientError as exc:
        code = error_code(exc)
        if code in ("404", "NoSuchBucket", "NotFound"):
            return "no such S3 bucket (HeadBucket: 404)"
        if code in ("403", "AccessDenied", "301", "PermanentRedirect"):
            return None
        raise
    return None


def log_group_problem(logs: Any, name: str, region: str) -> str | None:
    """Why log group `name` cannot take transcripts in `region`, or None if it exists."""
    pages = logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=name)
    for page in pages:
        if any(g.get("logGroupName") == name for g in page.get("logGroups", [])):
            return None
    return f"no such CloudWatch Logs group in {region}"
