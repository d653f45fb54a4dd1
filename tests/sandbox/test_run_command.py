"""Run Command in the sandbox, through boto3 over HTTP: targeting (moto's gaps fixed),
real execution, statuses, output, cancellation, pagination and AWS's errors."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ssmctl.sandbox import Sandbox

from .helpers import Clients, error_of

TERMINAL = ("Success", "Failed", "TimedOut", "Cancelled")


def send(ssm: Any, *script: str, **kwargs: Any) -> str:
    kwargs.setdefault("DocumentName", "AWS-RunShellScript")
    parameters = {"commands": list(script), **kwargs.pop("Parameters", {})}
    command = ssm.send_command(Parameters=parameters, **kwargs)["Command"]
    return str(command["CommandId"])


def wait(ssm: Any, command_id: str, timeout: float = 20) -> dict[str, Any]:
    """The command once it has ended."""
    deadline = time.monotonic() + timeout
    while True:
        command: dict[str, Any] = ssm.list_commands(CommandId=command_id)["Commands"][0]
        if command["Status"] in TERMINAL:
            return command
        assert time.monotonic() < deadline, f"command still {command['Status']}"
        time.sleep(0.05)


def invocations(ssm: Any, command_id: str, **kwargs: Any) -> dict[str, dict[str, Any]]:
    pages = ssm.get_paginator("list_command_invocations").paginate(CommandId=command_id, **kwargs)
    return {i["InstanceId"]: i for page in pages for i in page["CommandInvocations"]}


@pytest.fixture
def ssm(aws: Clients) -> Any:
    return aws("ssm")


def test_instance_ids_reach_only_those_nodes_and_run_there(ssm: Any, sandbox: Sandbox) -> None:
    web1 = sandbox.node_id("web-1")
    command_id = send(
        ssm, "echo $AWS_SSM_INSTANCE_ID $AWS_SSM_REGION_NAME; pwd", InstanceIds=[web1]
    )
    command = wait(ssm, command_id)
    assert (command["Status"], command["TargetCount"], command["CompletedCount"]) == (
        "Success",
        1,
        1,
    )
    assert list(invocations(ssm, command_id)) == [web1]  # moto would target every instance
    result = ssm.get_command_invocation(CommandId=command_id, InstanceId=web1)
    assert result["ResponseCode"] == 0 and result["Status"] == "Success"
    assert result["PluginName"] == "aws:runShellScript"
    lines = result["StandardOutputContent"].splitlines()
    assert lines[0] == f"{web1} us-east-1"
    assert lines[1] == str(sandbox.workdir("web-1"))
    assert result["ExecutionStartDateTime"].endswith("Z")
    assert result["ExecutionElapsedTime"].startswith("PT")


def test_the_working_directory_is_each_nodes_own_and_keeps_files(
    ssm: Any, sandbox: Sandbox
) -> None:
    web1, web2 = sandbox.node_id("web-1"), sandbox.node_id("web-2")
    wait(ssm, send(ssm, "echo kept > mark.txt", InstanceIds=[web1]))
    command_id = send(ssm, "cat mark.txt 2>/dev/null || echo none", InstanceIds=[web1, web2])
    wait(ssm, command_id)
    out = {
        node: ssm.get_command_invocation(CommandId=command_id, InstanceId=node)[
            "StandardOutputContent"
        ]
        for node in (web1, web2)
    }
    assert out == {web1: "kept\n", web2: "none\n"}
    assert (sandbox.workdir("web-1") / "mark.txt").read_text() == "kept\n"


@pytest.mark.parametrize(
    ("targets", "names"),
    [
        ([{"Key": "tag:Role", "Values": ["web"]}], {"web-1", "web-2"}),
        ([{"Key": "tag:Role", "Values": ["web", "db"]}], {"web-1", "web-2", "db-1"}),
        (
            [{"Key": "tag:Env", "Values": ["prod"]}, {"Key": "tag:Role", "Values": ["storage"]}],
            {"nas-1"},
        ),
        ([{"Key": "resource-groups:Name", "Values": ["web-prod"]}], {"web-1", "web-2"}),
        ([{"Key": "resource-groups:Name", "Values": ["app-stack"]}], {"app-1", "app-2"}),
        ([{"Key": "tag-key", "Values": ["Role"]}, {"Key": "tag:Env", "Values": ["dev"]}], set()),
    ],
)
def test_targets_by_tag_and_resource_group(
    ssm: Any, sandbox: Sandbox, targets: list[dict[str, Any]], names: set[str]
) -> None:
    # Env=dev nodes: batch-1 is stopped and legacy-1 offline: they are targeted (Delayed),
    # but this command ends at once only when nothing waits, so check the set first.
    command_id = send(ssm, "hostname >/dev/null", Targets=targets, TimeoutSeconds=30)
    found = set(invocations(ssm, command_id))
    if names:
        assert found == {sandbox.node_id(n) for n in names}
        assert wait(ssm, command_id)["Status"] == "Success"
    else:
        assert found == {sandbox.node_id("legacy-1"), sandbox.node_id("batch-1")}
        ssm.cancel_command(CommandId=command_id)


def test_targets_by_instance_ids_and_no_match(ssm: Any, sandbox: Sandbox) -> None:
    db = sandbox.node_id("db-1")
    command_id = send(ssm, "true", Targets=[{"Key": "InstanceIds", "Values": [db]}])
    assert set(invocations(ssm, command_id)) == {db}
    assert wait(ssm, command_id)["Status"] == "Success"
    command_id = send(ssm, "true", Targets=[{"Key": "tag:Role", "Values": ["nothing"]}])
    command = ssm.list_commands(CommandId=command_id)["Commands"][0]
    assert (command["TargetCount"], command["Status"], command["StatusDetails"]) == (
        0,
        "Failed",
        "NoInstancesInTag",
    )


def test_failure_exit_code_stderr_and_truncation(ssm: Any, sandbox: Sandbox) -> None:
    web1 = sandbox.node_id("web-1")
    command_id = send(
        ssm,
        "head -c 30000 /dev/zero | tr '\\000' a",
        "echo oops >&2",
        "exit 3",
        InstanceIds=[web1],
    )
    command = wait(ssm, command_id)
    assert (command["Status"], command["ErrorCount"]) == ("Failed", 1)
    result = ssm.get_command_invocation(CommandId=command_id, InstanceId=web1)
    assert (result["Status"], result["StatusDetails"], result["ResponseCode"]) == (
        "Failed",
        "Failed",
        3,
    )
    assert result["StandardOutputContent"] == "a" * 24_000
    assert result["StandardErrorContent"] == "oops\nfailed to run commands: exit status 3\n"
    listed = invocations(ssm, command_id, Details=True)[web1]
    plugin = listed["CommandPlugins"][0]
    assert plugin["ResponseCode"] == 3 and len(plugin["Output"]) == 2500
    assert plugin["Output"].endswith("---Output truncated---")


def test_execution_timeout(ssm: Any, sandbox: Sandbox) -> None:
    web2 = sandbox.node_id("web-2")
    command_id = send(
        ssm, "echo started", "sleep 30", InstanceIds=[web2], Parameters={"executionTimeout": ["1"]}
    )
    command = wait(ssm, command_id, timeout=10)
    assert (command["Status"], command["StatusDetails"]) == ("TimedOut", "ExecutionTimedOut")
    result = ssm.get_command_invocation(CommandId=command_id, InstanceId=web2)
    assert (result["Status"], result["StatusDetails"]) == ("TimedOut", "ExecutionTimedOut")
    assert result["StandardOutputContent"] == "started\n"
    assert "timed out" in result["StandardErrorContent"]


def test_cancel_kills_what_runs(ssm: Any, sandbox: Sandbox, tmp_path: Any) -> None:
    web1, db = sandbox.node_id("web-1"), sandbox.node_id("db-1")
    flag = tmp_path / "finished"
    command_id = send(ssm, f"sleep 20; touch {flag}", InstanceIds=[web1, db])
    deadline = time.monotonic() + 10
    while {i["Status"] for i in invocations(ssm, command_id).values()} != {"InProgress"}:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    ssm.cancel_command(CommandId=command_id, InstanceIds=[db])
    wait_for = time.monotonic() + 10
    while invocations(ssm, command_id)[db]["Status"] != "Cancelled":
        assert time.monotonic() < wait_for
        time.sleep(0.05)
    assert invocations(ssm, command_id)[web1]["Status"] == "InProgress"
    ssm.cancel_command(CommandId=command_id)
    command = wait(ssm, command_id)
    assert command["Status"] == "Cancelled"
    assert not flag.exists()


def test_offline_nodes_wait_as_delayed_and_run_when_back(ssm: Any, sandbox: Sandbox) -> None:
    legacy = sandbox.node_id("legacy-1")  # ConnectionLost in the fleet
    command_id = send(ssm, "echo back", InstanceIds=[legacy])
    deadline = time.monotonic() + 10
    while invocations(ssm, command_id)[legacy]["Status"] != "Delayed":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    sandbox.set_ping_status("legacy-1", "Online")
    try:
        assert wait(ssm, command_id)["Status"] == "Success"
    finally:
        sandbox.set_ping_status("legacy-1", "ConnectionLost")


@pytest.fixture
def inactive_nas(sandbox: Sandbox) -> Iterator[str]:
    sandbox.set_ping_status("nas-1", "Inactive")
    yield sandbox.node_id("nas-1")
    sandbox.set_ping_status("nas-1", "Online")


def test_inactive_nodes_are_undeliverable(ssm: Any, inactive_nas: str) -> None:
    command_id = send(ssm, "true", InstanceIds=[inactive_nas])
    command = wait(ssm, command_id)
    assert (command["Status"], command["StatusDetails"], command["ErrorCount"]) == (
        "Failed",
        "Undeliverable",
        0,
    )
    result = ssm.get_command_invocation(CommandId=command_id, InstanceId=inactive_nas)
    assert (result["Status"], result["StatusDetails"], result["ResponseCode"]) == (
        "Failed",
        "Undeliverable",
        -1,
    )


def test_platforms_and_powershell(ssm: Any, sandbox: Sandbox) -> None:
    win, web1 = sandbox.node_id("win-1"), sandbox.node_id("web-1")
    command_id = send(ssm, "echo hi", InstanceIds=[win, web1])
    wait(ssm, command_id)
    found = invocations(ssm, command_id)
    assert (found[win]["Status"], found[win]["StatusDetails"]) == ("Failed", "InvalidPlatform")
    assert found[web1]["Status"] == "Success"
    if shutil.which("pwsh") is not None:
        pytest.skip("pwsh is installed here: PowerShell commands would run")
    command_id = send(ssm, "Get-Date", InstanceIds=[win], DocumentName="AWS-RunPowerShellScript")
    wait(ssm, command_id)
    result = ssm.get_command_invocation(CommandId=command_id, InstanceId=win)
    assert result["PluginName"] == "aws:runPowerShellScript"
    assert (result["Status"], result["ResponseCode"]) == ("Failed", 127)
    assert "pwsh (PowerShell 7) is not installed" in result["StandardErrorContent"]


def test_list_command_invocations_pages_and_filters(ssm: Any, sandbox: Sandbox) -> None:
    names = ["web-1", "web-2", "db-1", "bastion", "app-1", "app-2", "nas-1"]
    nodes = sorted(sandbox.node_id(n) for n in names)
    command_id = send(ssm, "echo $AWS_SSM_INSTANCE_ID", InstanceIds=nodes)
    wait(ssm, command_id)
    seen: list[str] = []
    kwargs: dict[str, Any] = {"CommandId": command_id, "MaxResults": 3}
    pages = 0
    while True:
        page = ssm.list_command_invocations(**kwargs)
        pages += 1
        seen += [i["InstanceId"] for i in page["CommandInvocations"]]
        assert all(
            "CommandPlugins" in i and not i["CommandPlugins"] for i in page["CommandInvocations"]
        )
        if "NextToken" not in page:
            break
        kwargs["NextToken"] = page["NextToken"]
    assert (seen, pages) == (nodes, 3)
    code, _, _ = error_of(ssm.list_command_invocations, CommandId=command_id, NextToken="made-up")
    assert code == "InvalidNextToken"
    mine = ssm.list_command_invocations(
        InstanceId=nodes[0], Filters=[{"key": "Status", "value": "Success"}]
    )
    assert command_id in {i["CommandId"] for i in mine["CommandInvocations"]}
    assert all(i["InstanceId"] == nodes[0] for i in mine["CommandInvocations"])
    none = ssm.list_command_invocations(
        CommandId=command_id, Filters=[{"key": "Status", "value": "Failed"}]
    )
    assert none["CommandInvocations"] == []
    code, _, _ = error_of(
        ssm.list_command_invocations,
        CommandId=command_id,
        Filters=[{"key": "ExecutionStage", "value": "Complete"}],
    )
    assert code == "InvalidFilterKey"


def test_list_commands_filters(ssm: Any, sandbox: Sandbox) -> None:
    command_id = send(ssm, "true", InstanceIds=[sandbox.node_id("bastion")], Comment="listed")
    wait(ssm, command_id)
    found = ssm.list_commands(Filters=[{"key": "ExecutionStage", "value": "Complete"}])
    command = next(c for c in found["Commands"] if c["CommandId"] == command_id)
    assert command["Comment"] == "listed" and command["DocumentName"] == "AWS-RunShellScript"
    assert command["MaxConcurrency"] == "50" and command["MaxErrors"] == "0"
    running = ssm.list_commands(Filters=[{"key": "ExecutionStage", "value": "Executing"}])
    assert command_id not in {c["CommandId"] for c in running["Commands"]}
    assert ssm.list_commands(MaxResults=1)["Commands"][0]["RequestedDateTime"]


WEB1: dict[str, Any] = {"InstanceIds": ["@web-1"]}
TRUE = ["true"]


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"InstanceIds": ["i-0123456789abcdef0"]}, "InvalidInstanceId"),
        ({"InstanceIds": ["@scratch-1"]}, "InvalidInstanceId"),  # running, but no SSM agent
        ({"InstanceIds": ["@web-1", "@web-1"]}, "DuplicateInstanceId"),
        ({}, "ValidationException"),
        ({**WEB1, "Targets": [{"Key": "tag:Role", "Values": ["web"]}]}, "ValidationException"),
        ({"Targets": [{"Key": "Name", "Values": ["web-1"]}]}, "InvalidParameters"),
        ({**WEB1, "MaxConcurrency": "0"}, "ValidationException"),
        ({**WEB1, "MaxErrors": "x"}, "ValidationException"),
        ({**WEB1, "DocumentName": "Missing-Document"}, "InvalidDocument"),
        ({**WEB1, "DocumentName": "AWS-StartSSHSession"}, "InvalidDocument"),
        ({**WEB1, "DocumentVersion": "7"}, "InvalidDocumentVersion"),
        ({**WEB1, "Parameters": {"commands": TRUE, "bogus": ["1"]}}, "InvalidParameters"),
        ({**WEB1, "Parameters": {"commands": TRUE, "executionTimeout": ["0"]}}, "InvalidParameters"),  # noqa: E501
        ({**WEB1, "Parameters": {"workingDirectory": ["/"]}}, "InvalidParameters"),
    ],
)  # fmt: skip
def test_send_command_errors(
    aws: Clients, sandbox: Sandbox, kwargs: dict[str, Any], code: str
) -> None:
    def node(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("@"):
            return sandbox.node_id(value[1:])
        return value

    request = {"DocumentName": "AWS-RunShellScript", "Parameters": {"commands": ["true"]}}
    request.update(kwargs)
    if "InstanceIds" in request:
        request["InstanceIds"] = [node(v) for v in request["InstanceIds"]]
    ssm = aws("ssm", validate=False)
    assert error_of(ssm.send_command, **request)[0] == code


def test_read_and_cancel_errors(ssm: Any, sandbox: Sandbox) -> None:
    web1 = sandbox.node_id("web-1")
    unknown = "00000000-0000-0000-0000-000000000000"
    assert error_of(ssm.list_command_invocations, CommandId=unknown)[0] == "InvalidCommandId"
    assert error_of(ssm.cancel_command, CommandId=unknown)[0] == "InvalidCommandId"
    assert (
        error_of(ssm.get_command_invocation, CommandId=unknown, InstanceId=web1)[0]
        == "InvalidCommandId"
    )
    command_id = send(ssm, "true", InstanceIds=[web1])
    db = sandbox.node_id("db-1")
    assert (
        error_of(ssm.get_command_invocation, CommandId=command_id, InstanceId=db)[0]
        == "InvocationDoesNotExist"
    )
    assert (
        error_of(
            ssm.get_command_invocation, CommandId=command_id, InstanceId=web1, PluginName="nope"
        )[0]
        == "InvalidPluginName"
    )
    assert (
        error_of(ssm.cancel_command, CommandId=command_id, InstanceIds=[db])[0]
        == "InvalidInstanceId"
    )
    wait(ssm, command_id)


def test_the_run_documents_exist(ssm: Any) -> None:
    for name in ("AWS-RunShellScript", "AWS-RunPowerShellScript"):
        document = ssm.describe_document(Name=name)["Document"]
        assert (document["DocumentType"], document["Owner"]) == ("Command", "Amazon")
        names = {p["Name"] for p in document["Parameters"]}
        assert names == {"commands", "workingDirectory", "executionTimeout"}
