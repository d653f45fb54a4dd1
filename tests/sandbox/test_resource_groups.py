"""Resource groups (tag queries and CloudFormation stacks), hybrid-node tags, and the
Resource Groups Tagging API with hybrid nodes."""

from __future__ import annotations

import json
from typing import Any

from ssmctl.sandbox import Sandbox

from .helpers import Clients, error_of


def _arn(sandbox: Sandbox, name: str) -> str:
    node = sandbox.node_id(name)
    if node.startswith("mi-"):
        return f"arn:aws:ssm:{sandbox.region}:{sandbox.account_id}:managed-instance/{node}"
    return f"arn:aws:ec2:{sandbox.region}:{sandbox.account_id}:instance/{node}"


def _members(client: Any, **kwargs: Any) -> set[str]:
    pages = client.get_paginator("list_group_resources").paginate(**kwargs)
    return {item["Identifier"]["ResourceArn"] for page in pages for item in page["Resources"]}


def test_tag_query_group(sandbox: Sandbox, aws: Clients) -> None:
    groups = aws("resource-groups")
    response = groups.list_group_resources(Group="web-prod")
    assert {r["Identifier"]["ResourceType"] for r in response["Resources"]} == {
        "AWS::EC2::Instance"
    }
    assert _members(groups, Group="web-prod") == {_arn(sandbox, "web-1"), _arn(sandbox, "web-2")}
    assert response["ResourceIdentifiers"] == [r["Identifier"] for r in response["Resources"]]
    assert response["QueryErrors"] == []
    # The deprecated GroupName field and the group ARN work too.
    arn = groups.get_group(GroupName="web-prod")["Group"]["GroupArn"]
    assert _members(groups, Group=arn) == _members(groups, GroupName="web-prod")


def test_stack_group_lists_the_stacks_instances(sandbox: Sandbox, aws: Clients) -> None:
    groups = aws("resource-groups")
    query = groups.get_group_query(Group="app-stack")["GroupQuery"]["ResourceQuery"]
    assert query["Type"] == "CLOUDFORMATION_STACK_1_0"
    stack_arn = json.loads(query["Query"])["StackIdentifier"]
    stack = aws("cloudformation").describe_stack_resources(StackName=stack_arn)["StackResources"]
    assert {r["PhysicalResourceId"] for r in stack} == {
        sandbox.node_id("app-1"),
        sandbox.node_id("app-2"),
    }
    assert _members(groups, Group="app-stack") == {_arn(sandbox, "app-1"), _arn(sandbox, "app-2")}
    tags = aws("ec2").describe_tags(
        Filters=[{"Name": "resource-id", "Values": [sandbox.node_id("app-1")]}]
    )
    assert {"Key": "aws:cloudformation:stack-name", "Value": "app"} in [
        {"Key": t["Key"], "Value": t["Value"]} for t in tags["Tags"]
    ]


def test_all_supported_groups_include_hybrid_nodes_and_filters_apply(
    sandbox: Sandbox, aws: Clients
) -> None:
    groups = aws("resource-groups")
    query = {
        "ResourceTypeFilters": ["AWS::AllSupported"],
        "TagFilters": [
            {"Key": "Env", "Values": ["prod"]},
            {"Key": "Role", "Values": ["storage", "db"]},
        ],
    }
    groups.create_group(
        Name="prod-data", ResourceQuery={"Type": "TAG_FILTERS_1_0", "Query": json.dumps(query)}
    )
    try:
        assert _members(groups, Group="prod-data") == {
            _arn(sandbox, "db-1"),
            _arn(sandbox, "nas-1"),
        }
        hybrid_only = [{"Name": "resource-type", "Values": ["AWS::SSM::ManagedInstance"]}]
        assert _members(groups, Group="prod-data", Filters=hybrid_only) == {_arn(sandbox, "nas-1")}
        page = groups.list_group_resources(Group="prod-data", MaxResults=1)
        assert len(page["Resources"]) == 1 and page["NextToken"]
        rest = groups.list_group_resources(
            Group="prod-data", MaxResults=1, NextToken=page["NextToken"]
        )
        assert rest["Resources"] != page["Resources"] and "NextToken" not in rest
    finally:
        groups.delete_group(Group="prod-data")


def test_group_errors(aws: Clients) -> None:
    groups = aws("resource-groups")
    code, _, status = error_of(lambda: groups.list_group_resources(Group="no-such-group"))
    assert (code, status) == ("NotFoundException", 404)
    s3_only = [{"Name": "resource-type", "Values": ["AWS::S3::Bucket"]}]
    code, message, status = error_of(
        lambda: groups.list_group_resources(Group="web-prod", Filters=s3_only)
    )
    assert (code, status) == ("BadRequestException", 400) and "AWS::S3::Bucket" in message
    assert (
        error_of(lambda: groups.list_group_resources(Group="web-prod", MaxResults=51))[0]
        == "BadRequestException"
    )
    assert (
        error_of(lambda: groups.list_group_resources(Group="web-prod", NextToken="zz"))[0]
        == "BadRequestException"
    )


def test_stopped_and_terminated_instances_in_groups(sandbox: Sandbox, aws: Clients) -> None:
    ec2, groups = aws("ec2"), aws("resource-groups")
    launched = ec2.run_instances(
        ImageId="ami-0123456789abcdef0",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [{"Key": "Role", "Value": "web"}, {"Key": "Env", "Value": "prod"}],
            }
        ],
    )
    instance_id = launched["Instances"][0]["InstanceId"]
    arn = f"arn:aws:ec2:{sandbox.region}:{sandbox.account_id}:instance/{instance_id}"
    ec2.stop_instances(InstanceIds=[instance_id])
    assert arn in _members(groups, Group="web-prod")  # groups hold stopped instances too
    ec2.terminate_instances(InstanceIds=[instance_id])
    assert arn not in _members(groups, Group="web-prod")


def test_managed_instance_tags(sandbox: Sandbox, aws: Clients) -> None:
    ssm = aws("ssm")
    node = sandbox.node_id("nas-1")
    listed = ssm.list_tags_for_resource(ResourceType="ManagedInstance", ResourceId=node)["TagList"]
    assert {t["Key"]: t["Value"] for t in listed} == {"Role": "storage", "Env": "prod"}
    ssm.add_tags_to_resource(
        ResourceType="ManagedInstance", ResourceId=node, Tags=[{"Key": "Owner", "Value": "infra"}]
    )
    try:
        found = ssm.describe_instance_information(
            Filters=[{"Key": "tag:Owner", "Values": ["infra"]}]
        )
        assert [i["InstanceId"] for i in found["InstanceInformationList"]] == [node]
        tagging = aws("resourcegroupstaggingapi")
        mapped = tagging.get_resources(TagFilters=[{"Key": "Owner", "Values": ["infra"]}])[
            "ResourceTagMappingList"
        ]
        assert [m["ResourceARN"] for m in mapped] == [_arn(sandbox, "nas-1")]
    finally:
        ssm.remove_tags_from_resource(
            ResourceType="ManagedInstance", ResourceId=node, TagKeys=["Owner"]
        )
    listed = ssm.list_tags_for_resource(ResourceType="ManagedInstance", ResourceId=node)["TagList"]
    assert "Owner" not in {t["Key"] for t in listed}
    for unknown in ("mi-0123456789abcdef0", sandbox.node_id("web-1")):
        code, _, _ = error_of(
            ssm.list_tags_for_resource, ResourceType="ManagedInstance", ResourceId=unknown
        )
        assert code == "InvalidResourceId"
    # Other resource types stay moto's.
    assert (
        error_of(lambda: ssm.list_tags_for_resource(ResourceType="Document", ResourceId="Nope"))[0]
        == "InvalidResourceId"
    )


def test_tagging_api_lists_hybrid_nodes_next_to_instances(sandbox: Sandbox, aws: Clients) -> None:
    tagging = aws("resourcegroupstaggingapi")
    hybrid = tagging.get_resources(ResourceTypeFilters=["ssm:managed-instance"])[
        "ResourceTagMappingList"
    ]
    assert [m["ResourceARN"] for m in hybrid] == [_arn(sandbox, "nas-1")]
    assert {t["Key"]: t["Value"] for t in hybrid[0]["Tags"]} == {"Role": "storage", "Env": "prod"}
    prod = tagging.get_resources(
        ResourceTypeFilters=["ec2:instance", "ssm:managed-instance"],
        TagFilters=[
            {"Key": "Env", "Values": ["prod"]},
            {"Key": "Role", "Values": ["web", "storage"]},
        ],
    )["ResourceTagMappingList"]
    assert {m["ResourceARN"] for m in prod} >= {
        _arn(sandbox, "web-1"),
        _arn(sandbox, "web-2"),
        _arn(sandbox, "nas-1"),
    }
    assert _arn(sandbox, "db-1") not in {m["ResourceARN"] for m in prod}
    assert (
        tagging.get_resources(
            ResourceTypeFilters=["ssm:managed-instance"],
            TagFilters=[{"Key": "Env", "Values": ["dev"]}],
        )["ResourceTagMappingList"]
        == []
    )
    # TagResources on a hybrid node's ARN reaches the same tags.
    tagging.tag_resources(ResourceARNList=[_arn(sandbox, "nas-1")], Tags={"Backup": "daily"})
    try:
        listed = aws("ssm").list_tags_for_resource(
            ResourceType="ManagedInstance", ResourceId=sandbox.node_id("nas-1")
        )
        assert {"Key": "Backup", "Value": "daily"} in listed["TagList"]
    finally:
        tagging.untag_resources(ResourceARNList=[_arn(sandbox, "nas-1")], TagKeys=["Backup"])
