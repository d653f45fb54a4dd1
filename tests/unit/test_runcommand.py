"""The pure parts of `ssmctl run`: limits, batching, the Targets decision, outcomes and
exit statuses, and waiting out throttling (the end-to-end tests are tests/cli/test_run.py)."""

from __future__ import annotations

from typing import Any

import botocore.exceptions
import pytest

from ssmctl.errors import ExitStatus, UsageError
from ssmctl.models import Instance
from ssmctl.runcommand.calls import patient_call
from ssmctl.runcommand.options import parse_limit, run_options
from ssmctl.runcommand.plan import (
    POWERSHELL_DOCUMENT,
    SHELL_DOCUMENT,
    make_plan,
    targets_key,
)
from ssmctl.runcommand.results import InvocationResult, Summary
from ssmctl.targets import parse_target


def instance(n: int, *, platform: str = "Linux", ping: str | None = "Online") -> Instance:
    return Instance(
        f"i-{n:017x}", "us-east-1", name=f"node-{n}", platform=platform, ping_status=ping
    )


@pytest.mark.parametrize(
    ("text", "errors", "total", "expected"),
    [
        ("10", False, 500, 10),
        ("10%", False, 55, 5),
        ("1%", False, 20, 1),  # concurrency is at least 1
        ("0", True, 50, 0),
        ("10%", True, 50, 5),
        ("9%", True, 10, 0),  # errors round down to 0
        ("100%", True, 7, 7),
    ],
)
def test_limits(text: str, errors: bool, total: int, expected: int) -> None:
    limit = parse_limit(text, option="--x", errors=errors)
    assert limit.of(total, at_least_one=not errors) == expected


@pytest.mark.parametrize(
    ("text", "errors"),
    [
        ("0", False),
        ("0%", False),
        ("101%", False),
        ("-1", True),
        ("1.5", True),
        ("12345678", False),
    ],
)
def test_bad_limits(text: str, errors: bool) -> None:
    with pytest.raises(UsageError, match="--x must be"):
        parse_limit(text, option="--x", errors=errors)


def test_run_options_check_timeout_and_comment() -> None:
    assert run_options("uptime", timeout=172_800).timeout == 172_800
    with pytest.raises(UsageError, match="--timeout"):
        run_options("uptime", timeout=172_801)
    with pytest.raises(UsageError, match="--comment"):
        run_options("uptime", comment="c" * 101)


def test_batches_of_fifty_per_document_and_skips() -> None:
    linux = [instance(n) for n in range(120)]
    windows = [instance(1000 + n, platform="Windows") for n in range(3)]
    offline = instance(2000, ping="ConnectionLost")
    unmanaged = instance(2001, ping=None)
    plan = make_plan("us-east-1", [*linux, *windows, offline, unmanaged], missing=["i-dead"])
    assert [(s.document, len(s.instances)) for s in plan.sends] == [
        (POWERSHELL_DOCUMENT, 3),
        (SHELL_DOCUMENT, 50),
        (SHELL_DOCUMENT, 50),
        (SHELL_DOCUMENT, 20),
    ]
    assert all(s.target is None for s in plan.sends) and plan.total == 123
    assert plan.sends[1].addressing() == {"InstanceIds": [i.instance_id for i in linux[:50]]}
    assert [(s.instance_id, s.reason) for s in plan.skipped] == [
        ("i-dead", "not found"),
        (offline.instance_id, "SSM ping status ConnectionLost"),
        (unmanaged.instance_id, "not registered with SSM (no SSM agent, role or network path)"),
    ]


def test_targets_only_when_they_reach_exactly_the_plan_and_save_calls() -> None:
    key = ("tag:Role", "web")
    many = [instance(n) for n in range(51)]
    plan = make_plan("us-east-1", many, targets=key)
    assert len(plan.sends) == 1
    assert plan.sends[0].addressing() == {"Targets": [{"Key": "tag:Role", "Values": ["web"]}]}
    # 50 fit in one call anyway; an offline one or a Windows one would change the set.
    assert make_plan("us-east-1", many[:50], targets=key).sends[0].target is None
    with_offline = [*many, instance(99, ping="ConnectionLost")]
    assert all(s.target is None for s in make_plan("us-east-1", with_offline, targets=key).sends)
    mixed = [*many, instance(98, platform="Windows")]
    assert all(s.target is None for s in make_plan("us-east-1", mixed, targets=key).sends)


@pytest.mark.parametrize(
    ("target", "tags", "group", "expected"),
    [
        ("Role=web", (), None, ("tag:Role", "web")),
        ("web-1", (), None, ("tag:Name", "web-1")),
        (None, ("Env=prod",), None, ("tag:Env", "prod")),
        (None, (), "app-stack", ("resource-groups:Name", "app-stack")),
        ("web-*", (), None, None),  # Targets take no wildcards
        ("Role=web", ("Env=prod",), None, None),  # two entries: left to resolution
        ("Role=web", (), "app-stack", None),
        ("10.0.1.11", (), None, None),
        ("i-0123456789abcdef0", (), None, None),
    ],
)
def test_targets_key(
    target: str | None, tags: tuple[str, ...], group: str | None, expected: object
) -> None:
    assert targets_key([parse_target(target, tags=tags, group=group)]) == expected


def result(status: str, details: str = "", code: int | None = 0) -> InvocationResult:
    return InvocationResult(
        "i-1", "web-1", "us-east-1", "Linux", status, details or status, exit_code=code
    )


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        ([result("Success")], ExitStatus.OK),
        ([result("Success"), result("Failed", code=1)], ExitStatus.RUN_FAILED),
        ([result("TimedOut", "ExecutionTimedOut")], ExitStatus.RUN_FAILED),
        ([result("Cancelled", "Terminated", None)], ExitStatus.RUN_FAILED),
        ([result("Success"), result("Skipped", "not found", None)], ExitStatus.RUN_INCOMPLETE),
        ([result("Failed", "Undeliverable", None)], ExitStatus.RUN_INCOMPLETE),
        ([result("TimedOut", "DeliveryTimedOut", None)], ExitStatus.RUN_INCOMPLETE),
        ([result("Failed", code=2), result("Skipped", "x", None)], ExitStatus.RUN_FAILED),
    ],
)
def test_exit_status(results: list[InvocationResult], expected: ExitStatus) -> None:
    summary = Summary()
    for item in results:
        summary.add(item)
    assert summary.exit_status() == expected


def test_summary_names_what_did_not_succeed() -> None:
    summary = Summary(command_ids=["c-1"])
    summary.add(result("Success"))
    summary.add(InvocationResult("i-2", "web-2", "r", "Linux", "Failed", "Failed", exit_code=3))
    summary.add(InvocationResult("i-3", "", "r", None, "Skipped", "not found"))
    assert summary.lines() == [
        "3 instances: 1 succeeded, 1 failed, 0 timed out, 1 skipped (command c-1)",
        "  failed: web-2 (i-2): exit code 3",
        "  skipped: i-3 (i-3): not found",
    ]


def _throttle(operation: str) -> botocore.exceptions.ClientError:
    error: Any = {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}
    return botocore.exceptions.ClientError(error, operation)


def test_throttling_is_waited_out_with_growing_pauses() -> None:
    calls: list[dict[str, Any]] = []
    pauses: list[float] = []

    def list_invocations(**kwargs: Any) -> dict[str, Any]:
        calls.append(kwargs)
        if len(calls) <= 3:
            raise _throttle("ListCommandInvocations")
        return {"CommandInvocations": []}

    assert patient_call(pauses.append, list_invocations, CommandId="c") == {
        "CommandInvocations": []
    }
    assert len(calls) == 4 and calls[0] == {"CommandId": "c"}
    assert len(pauses) == 3
    assert 0.5 <= pauses[0] <= 1 and 1 <= pauses[1] <= 2 and 2 <= pauses[2] <= 4


def test_throttling_gives_up_in_the_end_and_other_errors_at_once() -> None:
    pauses: list[float] = []

    def always(**_: Any) -> None:
        raise _throttle("GetCommandInvocation")

    with pytest.raises(botocore.exceptions.ClientError):
        patient_call(pauses.append, always)
    assert len(pauses) == 6 and max(pauses) <= 20

    def denied(**_: Any) -> None:
        error: Any = {"Error": {"Code": "AccessDeniedException", "Message": "no"}}
        raise botocore.exceptions.ClientError(error, "SendCommand")

    pauses.clear()
    with pytest.raises(botocore.exceptions.ClientError):
        patient_call(pauses.append, denied)
    assert pauses == []


class NeverEnding:
    """An SSM client whose invocations never end (the wait limit's case)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.cancelled: list[dict[str, Any]] = []

    def send_command(self, **request: Any) -> dict[str, Any]:
        self.sent.append(request)
        return {"Command": {"CommandId": f"c-{len(self.sent)}"}}

    def list_command_invocations(self, **request: Any) -> dict[str, Any]:
        ids = self.sent[int(request["CommandId"][2:]) - 1]["InstanceIds"]
        return {"CommandInvocations": [{"InstanceId": i, "Status": "InProgress"} for i in ids]}

    def cancel_command(self, **request: Any) -> dict[str, Any]:
        self.cancelled.append(request)
        return {}


def test_the_wait_limit_cancels_and_reports_timed_out() -> None:
    from ssmctl.runcommand.watch import Watch

    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    ssm = NeverEnding()
    plan = make_plan("us-east-1", [instance(1), instance(2)])
    watch = Watch(ssm, plan, run_options("sleep 99", timeout=5), sleep=sleep, clock=lambda: now[0])
    results = list(watch.results())
    assert 35 <= now[0] < 41  # one wave of 5 s, plus 30 s for delivery
    (request,) = ssm.sent
    assert request["Parameters"] == {"commands": ["sleep 99"], "executionTimeout": ["5"]}
    assert request["TimeoutSeconds"] == 35
    assert ssm.cancelled == [{"CommandId": "c-1"}]
    assert {(r.status, r.status_details, r.command_id) for r in results} == {
        ("TimedOut", "WaitLimitExceeded", "c-1")
    }
    assert len(results) == 2
