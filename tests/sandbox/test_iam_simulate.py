"""IAM SimulatePrincipalPolicy / SimulateCustomPolicy over HTTP against the shared sandbox
(enforcement off): result shapes, users with groups, roles, managed policies, errors."""

from __future__ import annotations

import json
import uuid
from typing import Any

from ssmctl.sandbox import Sandbox

from .helpers import Clients, error_of


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=2)


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


START_DEV = {
    "Sid": "DevInstances",
    "Effect": "Allow",
    "Action": "ssm:StartSession",
    "Resource": "arn:aws:ec2:*:*:instance/*",
    "Condition": {"StringLike": {"ssm:resourceTag/Env": "dev"}},
}
SHELL = {
    "Effect": "Allow",
    "Action": "ssm:StartSession",
    "Resource": "arn:aws:ssm:*:*:document/SSM-SessionManagerRunShell",
    "Condition": {"BoolIfExists": {"ssm:SessionDocumentAccessCheck": "true"}},
}


def test_custom_policy_results_are_shaped_like_aws(sandbox: Sandbox, aws: Clients) -> None:
    instance = f"arn:aws:ec2:us-east-1:{sandbox.account_id}:instance/i-0123456789abcdef0"
    document = f"arn:aws:ssm:us-east-1:{sandbox.account_id}:document/SSM-SessionManagerRunShell"
    result = aws("iam").simulate_custom_policy(
        PolicyInputList=[_doc(START_DEV, SHELL)],
        ActionNames=["ssm:StartSession", "ssm:TerminateSession"],
        ResourceArns=[instance, document],
        ContextEntries=[
            {
                "ContextKeyName": "ssm:resourceTag/Env",
                "ContextKeyValues": ["dev"],
                "ContextKeyType": "string",
            }
        ],
    )
    rows = {(r["EvalActionName"], r["EvalResourceName"]): r for r in result["EvaluationResults"]}
    assert len(rows) == 4 and result["IsTruncated"] is False
    on_instance = rows[("ssm:StartSession", instance)]
    assert on_instance["EvalDecision"] == "allowed"
    assert on_instance["MatchedStatements"] == [
        {
            "SourcePolicyId": "PolicyInputList.1",
            "SourcePolicyType": "none",
            "StartPosition": {"Line": 4, "Column": 5},
            "EndPosition": {"Line": 14, "Column": 5},
        }
    ]
    (specific,) = on_instance["ResourceSpecificResults"]
    assert specific["EvalResourceName"] == instance
    assert specific["EvalResourceDecision"] == "allowed"
    on_document = rows[("ssm:StartSession", document)]
    assert on_document["EvalDecision"] == "allowed"
    assert on_document["MissingContextValues"] == ["ssm:SessionDocumentAccessCheck"]
    assert rows[("ssm:TerminateSession", instance)]["EvalDecision"] == "implicitDeny"
    assert rows[("ssm:TerminateSession", instance)]["MatchedStatements"] == []


def test_without_the_tag_the_tagged_statement_reports_the_missing_key(aws: Clients) -> None:
    result = aws("iam").simulate_custom_policy(
        PolicyInputList=[_doc(START_DEV)],
        ActionNames=["ssm:StartSession"],
        ResourceArns=["arn:aws:ec2:us-east-1:111122223333:instance/i-0123456789abcdef0"],
    )
    (row,) = result["EvaluationResults"]
    assert row["EvalDecision"] == "implicitDeny"
    assert row["MissingContextValues"] == ["ssm:resourceTag/Env"]


def test_principal_policies_of_a_user_and_its_groups(sandbox: Sandbox, aws: Clients) -> None:
    iam = aws("iam")
    user, group = _unique("sim-user"), _unique("sim-group")
    arn = iam.create_user(UserName=user)["User"]["Arn"]
    iam.put_user_policy(UserName=user, PolicyName="sessions", PolicyDocument=_doc(START_DEV))
    managed = iam.create_policy(PolicyName=_unique("shell"), PolicyDocument=_doc(SHELL))
    iam.attach_user_policy(UserName=user, PolicyArn=managed["Policy"]["Arn"])
    instance = "arn:aws:ec2:us-east-1:111122223333:instance/i-0123456789abcdef0"
    shell = "arn:aws:ssm:us-east-1:111122223333:document/SSM-SessionManagerRunShell"
    dev = [{"ContextKeyName": "ssm:resourceTag/Env", "ContextKeyValues": ["dev"]}]

    def simulate(resource: str) -> dict[str, Any]:
        found = iam.simulate_principal_policy(
            PolicySourceArn=arn,
            ActionNames=["ssm:StartSession"],
            ResourceArns=[resource],
            ContextEntries=dev,
        )
        row: dict[str, Any] = found["EvaluationResults"][0]
        return row

    row = simulate(instance)
    assert row["EvalDecision"] == "allowed"
    assert [(m["SourcePolicyId"], m["SourcePolicyType"]) for m in row["MatchedStatements"]] == [
        ("sessions", "user")
    ]
    row = simulate(shell)
    assert [m["SourcePolicyType"] for m in row["MatchedStatements"]] == ["user-managed"]

    deny = {"Effect": "Deny", "Action": "ssm:StartSession", "Resource": "*"}
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    iam.put_group_policy(GroupName=group, PolicyName="freeze", PolicyDocument=_doc(deny))
    row = simulate(instance)
    assert row["EvalDecision"] == "explicitDeny"
    assert [(m["SourcePolicyId"], m["SourcePolicyType"]) for m in row["MatchedStatements"]] == [
        ("freeze", "group")
    ]
    group_arn = iam.get_group(GroupName=group)["Group"]["Arn"]
    only_group = iam.simulate_principal_policy(
        PolicySourceArn=group_arn, ActionNames=["ssm:StartSession"]
    )
    assert only_group["EvaluationResults"][0]["EvalDecision"] == "explicitDeny"


def test_principal_policies_of_a_role_plus_input_policies(sandbox: Sandbox, aws: Clients) -> None:
    iam = aws("iam")
    role = _unique("sim-role")
    trust = _doc({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"})
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    read = {"Effect": "Allow", "Action": "ssm:Describe*", "Resource": "*"}
    iam.put_role_policy(RoleName=role, PolicyName="read", PolicyDocument=_doc(read))
    found = iam.simulate_principal_policy(
        PolicySourceArn=arn,
        ActionNames=["ssm:DescribeSessions", "ssm:StartSession"],
        PolicyInputList=[_doc(allow_start := {**SHELL, "Resource": "*"})],
    )
    decisions = {r["EvalActionName"]: r for r in found["EvaluationResults"]}
    assert decisions["ssm:DescribeSessions"]["MatchedStatements"][0]["SourcePolicyType"] == "role"
    start = decisions["ssm:StartSession"]["MatchedStatements"]
    assert allow_start and [m["SourcePolicyId"] for m in start] == ["PolicyInputList.1"]


def test_results_page_with_max_items(aws: Clients) -> None:
    iam = aws("iam")
    actions = [f"ssm:Action{n}" for n in range(5)]
    pages = iam.get_paginator("simulate_custom_policy").paginate(
        PolicyInputList=[_doc({"Effect": "Allow", "Action": "ssm:*", "Resource": "*"})],
        ActionNames=actions,
        PaginationConfig={"PageSize": 2},
    )
    seen = [r["EvalActionName"] for page in pages for r in page["EvaluationResults"]]
    assert seen == actions


def test_errors(sandbox: Sandbox, aws: Clients) -> None:
    iam = aws("iam")
    code, message, status = error_of(
        iam.simulate_principal_policy,
        PolicySourceArn=f"arn:aws:iam::{sandbox.account_id}:user/nobody",
        ActionNames=["ssm:StartSession"],
    )
    assert (code, status) == ("NoSuchEntity", 404) and "nobody" in message
    code, message, _ = error_of(
        iam.simulate_principal_policy,
        PolicySourceArn=f"arn:aws:sts::{sandbox.account_id}:assumed-role/ops/me",
        ActionNames=["ssm:StartSession"],
    )
    assert code == "InvalidInput" and "not a user, group or role" in message
    code, message, status = error_of(
        iam.simulate_custom_policy,
        PolicyInputList=['{"Version": "2012-10-17", "Statement": [{"Effect": "Permit"}]}'],
        ActionNames=["ssm:StartSession"],
    )
    assert (code, status) == ("InvalidInput", 400)
    assert "PolicyInputList.1: Statement 1: Effect must be Allow or Deny" in message
    code, _, _ = error_of(
        iam.simulate_custom_policy,
        PolicyInputList=[_doc(SHELL)],
        ActionNames=["StartSession"],
    )
    assert code == "InvalidInput"
