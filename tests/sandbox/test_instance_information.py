"""DescribeInstanceInformation and GetConnectionStatus: SSM's view of the fleet, coupled
to live EC2 state."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from ssmctl.sandbox import Sandbox

from .helpers import Clients, error_of


def _all(ssm: Any, **kwargs: Any) -> list[dict[str, Any]]:
    pages = ssm.get_paginator("describe_instance_information").paginate(**kwargs)
    return [item for page in pages for item in page["InstanceInformationList"]]


def _ids(items: list[dict[str, Any]]) -> set[str]:
    return {item["InstanceId"] for item in items}


@pytest.fixture
def fresh_instance(sandbox: Sandbox, aws: Clients) -> Iterator[str]:
    """A new instance with an SSM agent, launched through the EC2 API."""
    ec2 = aws("ec2")
    launched = ec2.run_instances(
        ImageId="ami-0123456789abcdef0",
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": "Role", "Value": "temp"}]}
        ],
    )
    instance_id = str(launched["Instances"][0]["InstanceId"])
    sandbox.register_instance(instance_id)
    yield instance_id
    ec2.terminate_instances(InstanceIds=[instance_id])


def test_lists_registered_running_instances_and_hybrid_nodes(
    sandbox: Sandbox, aws: Clients
) -> None:
    items = {i["InstanceId"]: i for i in _all(aws("ssm"))}
    node = sandbox.node_id
    expected = {
        node(n)
        for n in (
            "web-1",
            "web-2",
            "db-1",
            "bastion",
            "legacy-1",
            "win-1",
            "app-1",
            "app-2",
            "nas-1",
        )
    }
    assert expected <= set(items)
    for absent in ("batch-1", "scratch-1", "eu-web-1"):
        assert node(absent) not in items
    web = items[node("web-1")]
    assert web["ResourceType"] == "EC2Instance" and web["PingStatus"] == "Online"
    assert web["IPAddress"] == "10.0.1.11" and web["ComputerName"] == "ip-10-0-1-11.ec2.internal"
    assert web["AgentVersion"] == "3.3.0.0" and web["PlatformType"] == "Linux"
    assert web["PlatformName"] == "Amazon Linux" and "Name" not in web
    assert isinstance(web["LastPingDateTime"], dt.datetime)
    assert items[node("win-1")]["PlatformType"] == "Windows"
    legacy = items[node("legacy-1")]
    assert legacy["PingStatus"] == "ConnectionLost" and legacy["AgentVersion"] == "3.1.1188.0"
    assert legacy["LastPingDateTime"] < web["LastPingDateTime"]
    hybrid = items[node("nas-1")]
    assert hybrid["InstanceId"].startswith("mi-") and len(hybrid["InstanceId"]) == 20
    assert hybrid["ResourceType"] == "ManagedInstance" and hybrid["Name"] == "nas-1"
    assert hybrid["IPAddress"] == "192.168.10.20" and hybrid["ComputerName"] == "nas-1.corp.example"
    assert hybrid["ActivationId"] and hybrid["IamRole"] == "SSMServiceRole"


def test_each_region_has_its_own_nodes(sandbox: Sandbox, aws: Clients) -> None:
    items = _all(aws("ssm", region="eu-west-1"))
    assert _ids(items) == {sandbox.node_id("eu-web-1")}
    assert _all(aws("ssm", region="ap-southeast-2")) == []


def test_pagination_default_and_limits(sandbox: Sandbox, aws: Clients) -> None:
    ssm = aws("ssm")
    everything = _all(ssm)
    first = ssm.describe_instance_information()
    assert len(first["InstanceInformationList"]) == min(10, len(everything))
    page = ssm.describe_instance_information(MaxResults=5)
    assert len(page["InstanceInformationList"]) == 5 and page["NextToken"]
    rest = ssm.describe_instance_information(MaxResults=5, NextToken=page["NextToken"])
    assert not _ids(page["InstanceInformationList"]) & _ids(rest["InstanceInformationList"])
    assert _ids(everything) == _ids(_all(ssm, PaginationConfig={"PageSize": 5}))
    code, message, _ = error_of(lambda: ssm.describe_instance_information(MaxResults=51))
    assert code == "ValidationException"
    assert message == (
        "1 validation error detected: Value '51' at 'maxResults' failed to satisfy constraint: "
        "Member must have value less than or equal to 50"
    )
    loose = aws("ssm", validate=False)
    code, message, _ = error_of(lambda: loose.describe_instance_information(MaxResults=4))
    assert code == "ValidationException" and "greater than or equal to 5" in message
    code, _, _ = error_of(lambda: ssm.describe_instance_information(NextToken="bogus"))
    assert code == "InvalidNextToken"
    # A token is bound to the query it came from.
    other = {"Filters": [{"Key": "PingStatus", "Values": ["Online"]}]}
    code, _, _ = error_of(
        lambda: ssm.describe_instance_information(NextToken=page["NextToken"], **other)
    )
    assert code == "InvalidNextToken"


@pytest.mark.parametrize(
    ("key", "values", "expected"),
    [
        ("PingStatus", ["ConnectionLost"], {"legacy-1"}),
        ("PlatformTypes", ["Windows"], {"win-1"}),
        ("AgentVersion", ["3.1.1188.0"], {"legacy-1"}),
        ("ResourceType", ["ManagedInstance"], {"nas-1"}),
        ("IamRole", ["SSMServiceRole"], {"nas-1"}),
        ("tag:Role", ["web"], {"web-1", "web-2"}),
        ("tag:Role", ["db", "bastion"], {"db-1", "bastion"}),
        ("tag:Role", ["storage"], {"nas-1"}),
        (
            "tag-key",
            ["Role"],
            {"web-1", "web-2", "db-1", "bastion", "legacy-1", "win-1", "app-1", "app-2", "nas-1"},
        ),
        ("AssociationStatus", ["Success"], set()),
    ],
)
def test_filters(
    sandbox: Sandbox, aws: Clients, key: str, values: list[str], expected: set[str]
) -> None:
    items = _all(aws("ssm"), Filters=[{"Key": key, "Values": values}])
    assert _ids(items) == {sandbox.node_id(n) for n in expected}


def test_instance_ids_and_activation_filters(sandbox: Sandbox, aws: Clients) -> None:
    ssm = aws("ssm")
    web, nas = sandbox.node_id("web-1"), sandbox.node_id("nas-1")
    items = _all(ssm, Filters=[{"Key": "InstanceIds", "Values": [web, nas]}])
    assert _ids(items) == {web, nas}
    activation = next(i["ActivationId"] for i in items if i["InstanceId"] == nas)
    items = _all(ssm, Filters=[{"Key": "ActivationIds", "Values": [activation]}])
    assert _ids(items) == {nas}
    # Several filters are ANDed.
    both = [
        {"Key": "PingStatus", "Values": ["Online"]},
        {"Key": "PlatformTypes", "Values": ["Linux"]},
    ]
    assert web in _ids(_all(ssm, Filters=both)) and sandbox.node_id("win-1") not in _ids(
        _all(ssm, Filters=both)
    )
    legacy = _all(
        ssm, InstanceInformationFilterList=[{"key": "PingStatus", "valueSet": ["ConnectionLost"]}]
    )
    assert _ids(legacy) == {sandbox.node_id("legacy-1")}


def test_filter_errors(sandbox: Sandbox, aws: Clients) -> None:
    ssm = aws("ssm")
    mixed = [{"Key": "tag:Role", "Values": ["web"]}, {"Key": "PingStatus", "Values": ["Online"]}]
    assert (
        error_of(lambda: ssm.describe_instance_information(Filters=mixed))[0] == "InvalidFilterKey"
    )
    assert (
        error_of(
            lambda: ssm.describe_instance_information(Filters=[{"Key": "Colour", "Values": ["x"]}])
        )[0]
        == "InvalidFilterKey"
    )
    both = {
        "Filters": [{"Key": "PingStatus", "Values": ["Online"]}],
        "InstanceInformationFilterList": [{"key": "PingStatus", "valueSet": ["Online"]}],
    }
    assert error_of(lambda: ssm.describe_instance_information(**both))[0] == "ValidationException"
    bad_value = [{"Key": "PingStatus", "Values": ["Asleep"]}]
    assert (
        error_of(lambda: ssm.describe_instance_information(Filters=bad_value))[0]
        == "InvalidInstanceInformationFilterValue"
    )
    too_many = [{"Key": "tag:Role", "Values": [f"v{i}" for i in range(101)]}]
    code, message, _ = error_of(lambda: ssm.describe_instance_information(Filters=too_many))
    assert code == "ValidationException" and "less than or equal to 100" in message
    loose = aws("ssm", validate=False)
    empty = [{"Key": "tag:Role", "Values": []}]
    assert (
        error_of(lambda: loose.describe_instance_information(Filters=empty))[0]
        == "ValidationException"
    )


def test_unknown_node_ids_are_errors_but_stopped_ones_are_just_absent(
    sandbox: Sandbox, aws: Clients
) -> None:
    ssm = aws("ssm")
    for missing in ("i-0123456789abcdef0", "mi-0123456789abcdef0", "not-an-id"):
        code, message, _ = error_of(
            ssm.describe_instance_information,
            Filters=[{"Key": "InstanceIds", "Values": [missing]}],
        )
        assert code == "InvalidInstanceId" and missing in message
    stopped = sandbox.node_id("batch-1")
    assert _all(ssm, Filters=[{"Key": "InstanceIds", "Values": [stopped]}]) == []


def test_ec2_stop_start_and_terminate_move_nodes_in_and_out(
    sandbox: Sandbox, aws: Clients, fresh_instance: str
) -> None:
    ssm, ec2 = aws("ssm"), aws("ec2")
    only = {"Filters": [{"Key": "InstanceIds", "Values": [fresh_instance]}]}
    assert _ids(_all(ssm, **only)) == {fresh_instance}
    ec2.stop_instances(InstanceIds=[fresh_instance])
    assert _all(ssm, **only) == []
    assert ssm.get_connection_status(Target=fresh_instance)["Status"] == "notconnected"
    ec2.start_instances(InstanceIds=[fresh_instance])
    assert _ids(_all(ssm, **only)) == {fresh_instance}
    assert ssm.get_connection_status(Target=fresh_instance)["Status"] == "connected"
    ec2.terminate_instances(InstanceIds=[fresh_instance])
    assert error_of(lambda: ssm.describe_instance_information(**only))[0] == "InvalidInstanceId"


def test_instances_launched_without_an_agent_are_not_managed(aws: Clients) -> None:
    ec2, ssm = aws("ec2"), aws("ssm")
    launched = ec2.run_instances(ImageId="ami-0123456789abcdef0", MinCount=1, MaxCount=1)
    instance_id = launched["Instances"][0]["InstanceId"]
    try:
        assert _all(ssm, Filters=[{"Key": "InstanceIds", "Values": [instance_id]}]) == []
    finally:
        ec2.terminate_instances(InstanceIds=[instance_id])


def test_ping_status_changes_at_run_time(sandbox: Sandbox, aws: Clients) -> None:
    ssm = aws("ssm")
    web2 = sandbox.node_id("web-2")
    only = {"Filters": [{"Key": "InstanceIds", "Values": [web2]}]}
    try:
        sandbox.set_ping_status("web-2", "ConnectionLost")
        assert _all(ssm, **only)[0]["PingStatus"] == "ConnectionLost"
        assert ssm.get_connection_status(Target=web2)["Status"] == "notconnected"
    finally:
        sandbox.set_ping_status("web-2", "Online")
    assert ssm.get_connection_status(Target=web2)["Status"] == "connected"


def test_connection_status(sandbox: Sandbox, aws: Clients) -> None:
    ssm = aws("ssm")
    assert ssm.get_connection_status(Target=sandbox.node_id("nas-1"))["Status"] == "connected"
    assert ssm.get_connection_status(Target=sandbox.node_id("legacy-1"))["Status"] == "notconnected"
    unknown = ssm.get_connection_status(Target="i-0123456789abcdef0")
    assert (unknown["Target"], unknown["Status"]) == ("i-0123456789abcdef0", "notconnected")
