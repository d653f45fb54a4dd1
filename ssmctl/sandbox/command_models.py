"""Run Command's state: a command and its invocations (one per target node), their
statuses as AWS reports them, and how they look in API responses.

Statuses follow AWS's documentation ("Understanding command statuses"): an invocation's
`Status` is one of Pending, InProgress, Delayed, Success, Cancelled, TimedOut, Failed,
Cancelling; `StatusDetails` says more (DeliveryTimedOut, ExecutionTimedOut, Undeliverable,
InvalidPlatform, Terminated, ...). Failed and ExecutionTimedOut invocations count against
MaxErrors; Undeliverable, InvalidPlatform and DeliveryTimedOut do not.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from ssmctl.sandbox.command_documents import CommandDocument

TERMINAL = frozenset({"Success", "Cancelled", "TimedOut", "Failed"})
ERROR_DETAILS = frozenset({"Failed", "ExecutionTimedOut"})
DETAILS_OUTPUT_LIMIT = 2_500
"""ListCommandInvocations' `Output` (stdout and stderr together) keeps this many characters."""
_ERROR_HEADER = "\n----------ERROR-------\n"
_TRUNCATED = "\n---Output truncated---"


def limit(value: str, total: int, *, at_least_one: bool) -> int:
    """MaxConcurrency / MaxErrors ("10" or "10%") as a number of nodes out of `total`."""
    if value.endswith("%"):
        count = total * int(value[:-1]) // 100
        return max(1, count) if at_least_one else count
    return int(value)


@dataclasses.dataclass
class Invocation:
    """A command on one node (mutable; the store's lock guards it)."""

    command_id: str
    node_id: str
    host_name: str
    platform: str
    status: str = "Pending"
    details: str = "Pending"
    response_code: int = -1
    started: dt.datetime | None = None
    ended: dt.datetime | None = None
    stdout: str = ""
    stderr: str = ""
    stop: Callable[[], None] | None = dataclasses.field(default=None, repr=False)
    """Kills the running process (set while it runs)."""

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def waiting(self) -> bool:
        """Not sent to its node yet."""
        return self.status in ("Pending", "Delayed")

    def end(self, status: str, details: str, now: dt.datetime, code: int | None = None) -> None:
        self.status, self.details, self.ended = status, details, now
        if code is not None:
            self.response_code = code

    def output(self) -> str:
        """Stdout and stderr together, cut as ListCommandInvocations' Details cuts them."""
        text = self.stdout + (_ERROR_HEADER + self.stderr if self.stderr else "")
        if len(text) > DETAILS_OUTPUT_LIMIT:
            text = text[: DETAILS_OUTPUT_LIMIT - len(_TRUNCATED)] + _TRUNCATED
        return text


@dataclasses.dataclass
class Command:
    """One SendCommand (mutable; the store's lock guards it)."""

    command_id: str
    account_id: str
    region: str
    document: CommandDocument
    document_version: str
    comment: str
    parameters: dict[str, list[str]]
    instance_ids: list[str]
    targets: list[dict[str, Any]]
    requested: dt.datetime
    timeout_seconds: int
    execution_timeout: int
    max_concurrency: str
    max_errors: str
    extra: dict[str, Any]
    """Echoed request fields the sandbox does not act on (S3 output, notifications, ...)."""
    invocations: dict[str, Invocation]
    status: str = "Pending"
    details: str = "Pending"
    cancel_requested: bool = False

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @property
    def expires(self) -> dt.datetime:
        return self.requested + dt.timedelta(seconds=self.timeout_seconds)

    def concurrency(self) -> int:
        return limit(self.max_concurrency, len(self.invocations), at_least_one=True)

    def error_limit(self) -> int:
        return limit(self.max_errors, len(self.invocations), at_least_one=False)

    def errors(self) -> int:
        return sum(1 for i in self.invocations.values() if i.details in ERROR_DETAILS)

    def roll_up(self) -> None:
        """The command's status from its invocations' (AWS's rules)."""
        invocations = list(self.invocations.values())
        if not invocations:
            self.status, self.details = "Failed", "NoInstancesInTag"
        elif not all(i.terminal for i in invocations):
            if self.cancel_requested:
                self.status = self.details = "Cancelling"
            elif all(i.status == "Pending" for i in invocations):
                self.status = self.details = "Pending"
            else:
                self.status = self.details = "InProgress"
        else:
            self.status, self.details = self._final([i.details for i in invocations])

    def _final(self, details: list[str]) -> tuple[str, str]:
        failed, timed_out = details.count("Failed"), details.count("ExecutionTimedOut")
        allowed = self.error_limit()
        if self.cancel_requested and "Cancelled" in details:
            return "Cancelled", "Cancelled"
        if failed + timed_out > allowed:
            return ("TimedOut", "ExecutionTimedOut") if timed_out > failed else ("Failed", "Failed")
        if details.count("DeliveryTimedOut") > allowed:
            return "TimedOut", "DeliveryTimedOut"
        if all(d == "Success" for d in details):
            return "Success", "Success"
        if all(d == "Undeliverable" for d in details):
            return "Failed", "Undeliverable"
        return "Success", "Incomplete"

    def to_api(self) -> dict[str, Any]:
        invocations = self.invocations.values()
        return {
            "CommandId": self.command_id,
            "DocumentName": self.document.name,
            "DocumentVersion": self.document_version,
            "Comment": self.comment,
            "ExpiresAfter": self.expires,
            "Parameters": self.parameters,
            "InstanceIds": list(self.instance_ids),
            "Targets": list(self.targets),
            "RequestedDateTime": self.requested,
            "Status": self.status,
            "StatusDetails": self.details,
            "MaxConcurrency": self.max_concurrency,
            "MaxErrors": self.max_errors,
            "TargetCount": len(self.invocations),
            "CompletedCount": sum(1 for i in invocations if i.terminal),
            "ErrorCount": self.errors(),
            "DeliveryTimedOutCount": sum(1 for i in invocations if i.details == "DeliveryTimedOut"),
            "TimeoutSeconds": self.timeout_seconds,
            **self.extra,
        }

    def invocation_to_api(self, invocation: Invocation, *, details: bool) -> dict[str, Any]:
        """A ListCommandInvocations item (`details`: with CommandPlugins and output)."""
        item: dict[str, Any] = {
            "CommandId": self.command_id,
            "InstanceId": invocation.node_id,
            "InstanceName": invocation.host_name,
            "Comment": self.comment,
            "DocumentName": self.document.name,
            "DocumentVersion": self.document_version,
            "RequestedDateTime": self.requested,
            "Status": invocation.status,
            "StatusDetails": invocation.details,
            "TraceOutput": "",
            "StandardOutputUrl": "",
            "StandardErrorUrl": "",
            "CommandPlugins": [],
            "ServiceRole": "",
            "NotificationConfig": _notification(self.extra),
            "CloudWatchOutputConfig": _cloudwatch(self.extra),
        }
        if details:
            plugin: dict[str, Any] = {
                "Name": self.document.plugin,
                "Status": invocation.status,
                "StatusDetails": invocation.details,
                "ResponseCode": invocation.response_code,
                "Output": invocation.output() if invocation.terminal else "",
                "StandardOutputUrl": "",
                "StandardErrorUrl": "",
                "OutputS3Region": self.region,
                "OutputS3BucketName": self.extra.get("OutputS3BucketName", ""),
                "OutputS3KeyPrefix": self.extra.get("OutputS3KeyPrefix", ""),
            }
            if invocation.started:
                plugin["ResponseStartDateTime"] = invocation.started
            if invocation.ended and invocation.started:
                plugin["ResponseFinishDateTime"] = invocation.ended
            item["CommandPlugins"] = [plugin]
        return item

    def get_invocation_to_api(self, invocation: Invocation) -> dict[str, Any]:
        """A GetCommandInvocation response (output only once the invocation has ended)."""
        ended = invocation.terminal
        start, end = invocation.started, invocation.ended if invocation.started else None
        elapsed = (end - start).total_seconds() if start and end else None
        return {
            "CommandId": self.command_id,
            "InstanceId": invocation.node_id,
            "Comment": self.comment,
            "DocumentName": self.document.name,
            "DocumentVersion": self.document_version,
            "PluginName": self.document.plugin,
            "ResponseCode": invocation.response_code,
            "ExecutionStartDateTime": _stamp(start),
            "ExecutionElapsedTime": f"PT{elapsed:.3f}S" if elapsed is not None else "",
            "ExecutionEndDateTime": _stamp(end),
            "Status": invocation.status,
            "StatusDetails": invocation.details,
            "StandardOutputContent": invocation.stdout if ended else "",
            "StandardOutputUrl": "",
            "StandardErrorContent": invocation.stderr if ended else "",
            "StandardErrorUrl": "",
            "CloudWatchOutputConfig": _cloudwatch(self.extra),
        }


def _stamp(value: dt.datetime | None) -> str:
    """GetCommandInvocation's date strings: `2024-05-01T10:00:00.123Z`."""
    if value is None:
        return ""
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _cloudwatch(extra: Mapping[str, Any]) -> dict[str, Any]:
    config = extra.get("CloudWatchOutputConfig") or {}
    return {
        "CloudWatchLogGroupName": str(config.get("CloudWatchLogGroupName", "")),
        "CloudWatchOutputEnabled": bool(config.get("CloudWatchOutputEnabled", False)),
    }


def _notification(extra: Mapping[str, Any]) -> dict[str, Any]:
    config = extra.get("NotificationConfig") or {}
    return {
        "NotificationArn": str(config.get("NotificationArn", "")),
        "NotificationEvents": list(config.get("NotificationEvents", [])),
        "NotificationType": str(config.get("NotificationType", "")),
    }
