"""The generated policy's shapes per option, its determinism, and the structural
validator on generated and broken hand-written policies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ssmctl.access.arns import document_arn, instance_arn, principal_arn
from ssmctl.access.policy import PolicyOptions, Scope, build_policy, render_policy
from ssmctl.access.validate import check_policy, policy_size
from ssmctl.errors import UsageError

ACCOUNT = "111122223333"
SCOPE = Scope(ACCOUNT, ("us-east-1",))


def statements(options: PolicyOptions, scope: Scope = SCOPE) -> dict[str, dict[str, Any]]:
    document = build_policy(options, scope)
    assert document["Version"] == "2012-10-17"
    return {s["Sid"]: s for s in document["Statement"]}


def test_tags_scope_start_session_on_instances_and_hybrid_nodes() -> None:
    found = statements(PolicyOptions(tags=(("Env", "dev"), ("Team", "a*"), ("Env", "test"))))
    start = found["StartSessionOnInstances"]
    assert start["Action"] == ["ssm:StartSession"]
    assert start["Resource"] == [
        f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/*",
        f"arn:aws:ssm:us-east-1:{ACCOUNT}:managed-instance/*",
    ]
    # Keys are ANDed (one condition each); values of one key are alternatives.
    assert start["Condition"] == {
        "StringLike": {"ssm:resourceTag/Env": ["dev", "test"], "ssm:resourceTag/Team": ["a*"]},
        "BoolIfExists": {"ssm:SessionDocumentAccessCheck": "true"},
    }
    documents = found["StartSessionWithDocuments"]
    assert documents["Resource"] == [
        f"arn:aws:ssm:us-east-1:{ACCOUNT}:document/SSM-SessionManagerRunShell"
    ]
    assert documents["Condition"] == {"BoolIfExists": {"ssm:SessionDocumentAccessCheck": "true"}}
    assert found["EndAndResumeSessions"]["Resource"] == [
        f"arn:aws:ssm:us-east-1:{ACCOUNT}:session/*"
    ]


def test_instances_and_group_members_are_named_by_arn() -> None:
    scope = Scope(
        ACCOUNT,
        ("us-east-1", "eu-west-1"),
        group_members=(f"arn:aws:ec2:eu-west-1:{ACCOUNT}:instance/i-0aaaaaaaaaaaaaaaa",),
    )
    options = PolicyOptions(instances=("i-0123456789abcdef0", "mi-0123456789abcdef0"), group="g")
    start = statements(options, scope)["StartSessionOnInstances"]
    assert start["Resource"] == sorted(
        [
            f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0123456789abcdef0",
            f"arn:aws:ec2:eu-west-1:{ACCOUNT}:instance/i-0123456789abcdef0",
            f"arn:aws:ssm:us-east-1:{ACCOUNT}:managed-instance/mi-0123456789abcdef0",
            f"arn:aws:ssm:eu-west-1:{ACCOUNT}:managed-instance/mi-0123456789abcdef0",
            f"arn:aws:ec2:eu-west-1:{ACCOUNT}:instance/i-0aaaaaaaaaaaaaaaa",
        ]
    )
    assert "StringLike" not in start["Condition"]


def test_documents_port_forwarding_and_all_regions() -> None:
    options = PolicyOptions(documents=("My-Session", "AWS-StartSSHSession"), port_forwarding=True)
    found = statements(options, Scope(ACCOUNT, ("*",)))
    assert found["StartSessionWithDocuments"]["Resource"] == sorted(
        [
            "arn:aws:ssm:*::document/AWS-StartPortForwardingSession",
            "arn:aws:ssm:*::document/AWS-StartPortForwardingSessionToRemoteHost",
            "arn:aws:ssm:*::document/AWS-StartSSHSession",
            f"arn:aws:ssm:*:{ACCOUNT}:document/My-Session",
            f"arn:aws:ssm:*:{ACCOUNT}:document/SSM-SessionManagerRunShell",
        ]
    )
    assert found["StartSessionOnInstances"]["Resource"] == [
        f"arn:aws:ec2:*:{ACCOUNT}:instance/*",
        f"arn:aws:ssm:*:{ACCOUNT}:managed-instance/*",
    ]
    with pytest.raises(UsageError, match="--document"):
        build_policy(PolicyOptions(documents=("no spaces allowed",)), SCOPE)


def test_own_sessions_only_covers_users_and_roles() -> None:
    found = statements(PolicyOptions(own_sessions_only=True))
    assert "EndAndResumeSessions" not in found
    user = found["EndAndResumeOwnSessionsAsUser"]
    assert user["Action"] == ["ssm:ResumeSession", "ssm:TerminateSession"]
    assert user["Resource"] == [f"arn:aws:ssm:us-east-1:{ACCOUNT}:session/${{aws:username}}-*"]
    role = found["EndAndResumeOwnSessionsAsRole"]
    assert role["Resource"] == [f"arn:aws:ssm:us-east-1:{ACCOUNT}:session/*"]
    assert role["Condition"] == {
        "StringLike": {"ssm:resourceTag/aws:ssmmessages:session-id": ["${aws:userid}"]}
    }


def test_read_only_grants_only_reads() -> None:
    found = statements(PolicyOptions(read_only=True))
    assert list(found) == [
        "ReadSessionManagerState",
        "ListResourceGroupMembers",
        "ReadStackGroupMembers",
        "ReadSessionPreferences",
        "SimulateOwnPolicies",
    ]
    actions = {a for s in found.values() for a in s["Action"]}
    assert not {a for a in actions if a.endswith(("StartSession", "TerminateSession"))}
    assert {
        "ssm:DescribeSessions",
        "ssm:GetConnectionStatus",
        "ssm:DescribeInstanceInformation",
        "ssm:DescribeInstanceProperties",
        "ec2:DescribeInstances",
        "ec2:DescribeRegions",
        "tag:GetResources",
        "resource-groups:ListGroupResources",
    } <= actions
    with pytest.raises(UsageError, match="--read-only"):
        PolicyOptions(read_only=True, port_forwarding=True)


def test_output_is_deterministic_and_valid() -> None:
    one = PolicyOptions(tags=(("Env", "dev"), ("Env", "test")), documents=("B-doc", "A-doc"))
    other = PolicyOptions(tags=(("Env", "test"), ("Env", "dev")), documents=("A-doc", "B-doc"))
    text = render_policy(build_policy(one, SCOPE))
    assert text == render_policy(build_policy(other, SCOPE))
    assert text.endswith("}\n") and json.loads(text)
    assert check_policy(text) == []
    assert check_policy(render_policy(build_policy(one, SCOPE), compact=True)) == []


def test_a_policy_over_the_quota_is_reported() -> None:
    ids = tuple(f"i-{n:017x}" for n in range(200))
    text = render_policy(build_policy(PolicyOptions(instances=ids), SCOPE))
    assert policy_size(text) > 6144
    (problem,) = check_policy(text)
    assert problem.where == "policy" and "over the 6144 allowed for a managed policy" in (
        problem.message
    )
    small = render_policy(build_policy(PolicyOptions(), SCOPE))
    assert [p.message for p in check_policy(small, limit="user")] == []
    assert policy_size(' {\n "a" : 1 }\t') == 7


@pytest.mark.parametrize(
    ("document", "where", "fragment"),
    [
        ("{", "policy", "not valid JSON"),
        ("[]", "policy", "must be a JSON object"),
        ('{"Version": "2012-10-17", "Statement": [], "Statement": []}', "policy", "duplicate key"),
        ('{"Version": "2012-10-17", "Statements": []}', "policy", "unknown element 'Statements'"),
        ('{"Version": "2012-10-18", "Statement": [{}]}', "Version", 'must be "2012-10-17"'),
        (
            '{"Version": "2008-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:X",'
            ' "Resource": "arn:aws:ssm:*:*:session/${aws:username}-*"}]}',
            "Version",
            "does not substitute",
        ),
        ('{"Version": "2012-10-17", "Statement": []}', "Statement", "non-empty list"),
        (
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Permit", "Action": "ssm:X",'
            ' "Resource": "*"}]}',
            "Statement 1",
            "Effect must be Allow or Deny",
        ),
        (
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*"}]}',
            "Statement 1",
            "exactly one of Action or NotAction",
        ),
        (
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "StartSession",'
            ' "Resource": "*"}]}',
            "Statement 1 Action",
            "an action is service:Action",
        ),
        (
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:X",'
            ' "Resource": "i-0123"}]}',
            "Statement 1 Resource",
            "not an ARN",
        ),
        (
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:X",'
            ' "Resource": "arn:aws:iam:us-east-1:111122223333:user/x"}]}',
            "Statement 1 Resource",
            "IAM ARNs have no region",
        ),
        (
            '{"Version": "2012-10-17", "Statement": [{"Sid": "A", "Effect": "Allow",'
            ' "Principal": "*", "Action": "ssm:X", "Resource": "*"}]}',
            "Statement 1 (Sid A)",
            "names no principal",
        ),
        (
            '{"Version": "2012-10-17", "Statement": [{"Sid": "not-ok", "Effect": "Allow",'
            ' "Action": "ssm:X", "Resource": "*"}]}',
            "Statement 1 (Sid not-ok)",
            "letters and digits",
        ),
        (
            '{"Version": "2012-10-17", "Statement": [{"Sid": "A", "Effect": "Allow", "Action":'
            ' "ssm:X", "Resource": "*"}, {"Sid": "A", "Effect": "Deny", "Action": "ssm:Y",'
            ' "Resource": "*"}]}',
            "Statement 2 (Sid A)",
            "Sid is used twice",
        ),
        (
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:X",'
            ' "Resource": "*", "Condition": {"StringLikeish": {"aws:username": "x"}}}]}',
            "Statement 1 Condition",
            "unknown condition operator 'StringLikeish'",
        ),
        (
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:X",'
            ' "Resource": "*", "Condition": {"StringLike": {"Env": "x"}}}]}',
            "Statement 1 Condition StringLike",
            "'Env' is not a condition key",
        ),
    ],
)
def test_broken_hand_written_policies(document: str, where: str, fragment: str) -> None:
    problems = check_policy(document)
    assert any(p.where == where and fragment in p.message for p in problems), problems
    assert all(p.error for p in problems if p.where == where)


def test_warnings_are_not_errors() -> None:
    document = (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        '"Action": ["ssm:X", "ssm:X"], "Resource": "*"}]}'
    )
    (problem,) = check_policy(document)
    assert not problem.error and "twice" in problem.message


def test_arns() -> None:
    assert instance_arn("eu-west-1", ACCOUNT, "mi-0123456789abcdef0") == (
        f"arn:aws:ssm:eu-west-1:{ACCOUNT}:managed-instance/mi-0123456789abcdef0"
    )
    assert document_arn("us-east-1", ACCOUNT, "AWS-StartSSHSession") == (
        "arn:aws:ssm:us-east-1::document/AWS-StartSSHSession"
    )
    arn = f"arn:aws:ssm:us-east-1:{ACCOUNT}:document/Mine"
    assert document_arn("eu-west-1", ACCOUNT, arn) == arn
    with pytest.raises(ValueError, match="not a document ARN"):
        document_arn("us-east-1", ACCOUNT, "arn:aws:s3:::bucket")
    assert principal_arn(f"arn:aws:sts::{ACCOUNT}:assumed-role/Ops/alice") == (
        f"arn:aws:iam::{ACCOUNT}:role/Ops"
    )
    assert principal_arn(f"arn:aws:iam::{ACCOUNT}:user/alice") == (
        f"arn:aws:iam::{ACCOUNT}:user/alice"
    )
