"""The sandbox's policy evaluator on its own: Allow/Deny precedence, Action/Resource
wildcards and negations, condition operators, IfExists, qualifiers, policy variables,
statement positions and malformed documents."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ssmctl.sandbox.iam_eval import evaluate, make_context
from ssmctl.sandbox.iam_policy import PolicyFormatError, parse_policy

ACCOUNT = "111122223333"
INSTANCE = f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0123456789abcdef0"
SHELL = f"arn:aws:ssm:us-east-1:{ACCOUNT}:document/SSM-SessionManagerRunShell"


def policy(*statements: dict[str, Any], version: str = "2012-10-17", name: str = "p") -> Any:
    text = json.dumps({"Version": version, "Statement": list(statements)}, indent=2)
    return parse_policy(text, name, "user")


def decide(
    policies: list[Any],
    resource: str = INSTANCE,
    action: str = "ssm:StartSession",
    **context: str | list[str],
) -> str:
    entries = {k.replace("__", ":").replace("_SLASH_", "/"): v for k, v in context.items()}
    values = {k: [v] if isinstance(v, str) else v for k, v in entries.items()}
    return evaluate(policies, action, resource, make_context(values)).decision


def allow(**extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": "ssm:StartSession", "Resource": "*", **extra}


def test_nothing_allows_is_an_implicit_deny_and_a_deny_beats_any_allow() -> None:
    assert decide([]) == "implicitDeny"
    assert decide([policy(allow())]) == "allowed"
    deny = {"Effect": "Deny", "Action": "ssm:*", "Resource": "arn:aws:ec2:*:*:instance/*"}
    assert decide([policy(allow()), policy(deny, name="d")]) == "explicitDeny"
    # A Deny in one statement of the same policy wins as well.
    assert decide([policy(allow(), deny)]) == "explicitDeny"
    # The Deny does not cover the document, so the Allow stands there.
    assert decide([policy(allow(), deny)], SHELL) == "allowed"


def test_matched_statements_and_positions() -> None:
    deny = {"Effect": "Deny", "Action": "ssm:StartSession", "Resource": INSTANCE}
    p = policy(allow(), deny)
    result = evaluate([p], "ssm:StartSession", INSTANCE, make_context({}))
    assert [m.statement.effect for m in result.matched] == ["Deny"]
    (match,) = result.matched
    assert match.to_api() == {
        "SourcePolicyId": "p",
        "SourcePolicyType": "user",
        "StartPosition": {"Line": 9, "Column": 5},
        "EndPosition": {"Line": 13, "Column": 5},
    }
    allowed = evaluate([p], "ssm:StartSession", SHELL, make_context({}))
    assert [m.statement.start.line for m in allowed.matched] == [4]


@pytest.mark.parametrize(
    ("pattern", "action", "expected"),
    [
        ("ssm:StartSession", "ssm:startsession", True),  # action names ignore case
        ("ssm:Start*", "ssm:StartSession", True),
        ("ssm:*Session", "ssm:TerminateSession", True),
        ("ssm:?tartSession", "ssm:StartSession", True),
        ("ssm:Describe*", "ssm:StartSession", False),
        ("ec2:*", "ssm:StartSession", False),
        ("*", "ssm:StartSession", True),
    ],
)
def test_action_wildcards(pattern: str, action: str, expected: bool) -> None:
    p = policy({"Effect": "Allow", "Action": pattern, "Resource": "*"})
    assert (decide([p], action=action) == "allowed") is expected


def test_not_action_and_not_resource() -> None:
    everything_but_start = {"Effect": "Allow", "NotAction": "ssm:Start*", "Resource": "*"}
    assert decide([policy(everything_but_start)]) == "implicitDeny"
    assert decide([policy(everything_but_start)], action="ssm:DescribeSessions") == "allowed"
    not_instances = {
        "Effect": "Allow",
        "Action": "ssm:StartSession",
        "NotResource": "arn:aws:ec2:*:*:instance/*",
    }
    assert decide([policy(not_instances)]) == "implicitDeny"
    assert decide([policy(not_instances)], SHELL) == "allowed"


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/*", True),
        ("arn:aws:ec2:*:*:instance/i-0123456789abcdef?", True),
        ("arn:aws:ec2:eu-west-1:*:instance/*", False),
        ("arn:aws:ec2:*:999999999999:instance/*", False),
        ("arn:aws:ssm:*:*:managed-instance/*", False),
        ("arn:aws:ec2:*:*:*", True),
        # `*` stays inside one ARN part: it cannot swallow the region and account.
        ("arn:aws:ec2:*:instance/*", False),
    ],
)
def test_resource_arns_match_part_by_part(pattern: str, expected: bool) -> None:
    p = policy({"Effect": "Allow", "Action": "ssm:StartSession", "Resource": pattern})
    assert (decide([p]) == "allowed") is expected


def test_several_keys_are_anded_and_several_values_ored() -> None:
    both = allow(
        Condition={
            "StringLike": {"ssm:resourceTag/Env": ["dev", "test"], "ssm:resourceTag/Team": "a*"}
        }
    )
    p = policy(both)
    env, team = "ssm__resourceTag_SLASH_Env", "ssm__resourceTag_SLASH_Team"
    assert decide([p], **{env: "test", team: "alpha"}) == "allowed"
    assert decide([p], **{env: "prod", team: "alpha"}) == "implicitDeny"
    assert decide([p], **{env: "dev"}) == "implicitDeny"  # Team missing


@pytest.mark.parametrize(
    ("operator", "wanted", "given", "expected"),
    [
        ("StringEquals", "dev", "dev", True),
        ("StringEquals", "dev", "Dev", False),
        ("StringEqualsIgnoreCase", "dev", "DEV", True),
        ("StringNotEquals", "prod", "dev", True),
        ("StringNotEquals", "prod", "prod", False),
        ("StringNotEqualsIgnoreCase", "prod", "PROD", False),
        ("StringLike", "d?v*", "dev-1", True),
        ("StringNotLike", "prod*", "production", False),
        ("NumericLessThan", "10", "9", True),
        ("NumericGreaterThanEquals", "10", "9", False),
        ("DateGreaterThan", "2020-01-01T00:00:00Z", "2024-06-01T12:00:00Z", True),
        ("DateLessThan", "2020-01-01T00:00:00Z", "1700000000", False),
        ("Bool", "true", "True", True),
        ("Bool", "true", "false", False),
        ("IpAddress", "10.0.0.0/8", "10.1.2.3", True),
        ("NotIpAddress", "10.0.0.0/8", "192.168.0.1", True),
        ("ArnLike", "arn:aws:iam::*:user/dev-*", f"arn:aws:iam::{ACCOUNT}:user/dev-1", True),
        ("ArnEquals", "arn:aws:iam::*:user/dev-*", f"arn:aws:iam::{ACCOUNT}:role/dev-1", False),
        ("ArnNotLike", "arn:aws:iam::*:role/*", f"arn:aws:iam::{ACCOUNT}:user/x", True),
        ("BinaryEquals", "QmluYXJ5", "QmluYXJ5", True),
    ],
)
def test_condition_operators(operator: str, wanted: str, given: str, expected: bool) -> None:
    p = policy(allow(Condition={operator: {"test:key": wanted}}))
    assert (decide([p], test__key=given) == "allowed") is expected


@pytest.mark.parametrize(
    ("operator", "expected"),
    [
        ("StringEquals", False),  # positive operators are false for a missing key
        ("StringNotEquals", True),  # negated ones are true
        ("StringLikeIfExists", True),
        ("ArnNotLike", True),
        ("ForAnyValue:StringEquals", False),
        ("ForAllValues:StringEquals", True),
        ("BoolIfExists", True),
    ],
)
def test_a_missing_key(operator: str, expected: bool) -> None:
    p = policy(allow(Condition={operator: {"test:key": "x"}}))
    result = evaluate([p], "ssm:StartSession", INSTANCE, make_context({}))
    assert result.allowed is expected
    assert result.missing == ("test:key",)


def test_if_exists_still_compares_a_present_key() -> None:
    p = policy(allow(Condition={"BoolIfExists": {"ssm:SessionDocumentAccessCheck": "true"}}))
    assert decide([p], ssm__SessionDocumentAccessCheck="true") == "allowed"
    assert decide([p], ssm__SessionDocumentAccessCheck="false") == "implicitDeny"


def test_null_condition() -> None:
    absent = policy(allow(Condition={"Null": {"test:key": "true"}}))
    present = policy(allow(Condition={"Null": {"test:key": "false"}}))
    assert decide([absent]) == "allowed" and decide([absent], test__key="x") == "implicitDeny"
    assert decide([present], test__key="x") == "allowed" and decide([present]) == "implicitDeny"


def test_set_qualifiers_over_multivalued_keys() -> None:
    any_dev = policy(allow(Condition={"ForAnyValue:StringEquals": {"test:tags": ["dev"]}}))
    all_known = policy(
        allow(Condition={"ForAllValues:StringEquals": {"test:tags": ["dev", "test"]}})
    )
    assert decide([any_dev], test__tags=["prod", "dev"]) == "allowed"
    assert decide([any_dev], test__tags=["prod"]) == "implicitDeny"
    assert decide([all_known], test__tags=["dev", "test"]) == "allowed"
    assert decide([all_known], test__tags=["dev", "prod"]) == "implicitDeny"
    none_prod = policy(allow(Condition={"ForAllValues:StringNotEquals": {"test:tags": "prod"}}))
    assert decide([none_prod], test__tags=["dev", "test"]) == "allowed"
    assert decide([none_prod], test__tags=["dev", "prod"]) == "implicitDeny"


def test_policy_variables_in_resources_and_conditions() -> None:
    own = policy(
        {
            "Effect": "Allow",
            "Action": "ssm:TerminateSession",
            "Resource": "arn:aws:ssm:*:*:session/${aws:username}-*",
        },
        {
            "Effect": "Allow",
            "Action": "ssm:TerminateSession",
            "Resource": "arn:aws:ssm:*:*:session/*",
            "Condition": {
                "StringLike": {"ssm:resourceTag/aws:ssmmessages:session-id": "${aws:userid}"}
            },
        },
    )
    mine = f"arn:aws:ssm:us-east-1:{ACCOUNT}:session/dev-abc"
    theirs = f"arn:aws:ssm:us-east-1:{ACCOUNT}:session/ops-abc"
    action = "ssm:TerminateSession"
    assert decide([own], mine, action, aws__username="dev") == "allowed"
    assert decide([own], theirs, action, aws__username="dev") == "implicitDeny"
    # A role session: no aws:username, so only the tag statement can allow.
    tag = "ssm__resourceTag_SLASH_aws__ssmmessages__session-id"
    role_user = "AROAEXAMPLE:dev"
    assert decide([own], theirs, action, aws__userid=role_user, **{tag: role_user}) == "allowed"
    assert decide([own], theirs, action, aws__userid=role_user, **{tag: "AROAX:ops"}) == (
        "implicitDeny"
    )
    # No value for the variable: the pattern matches nothing (not even "-*").
    assert decide([own], f"arn:aws:ssm:us-east-1:{ACCOUNT}:session/-x", action) == "implicitDeny"


def test_variables_are_literal_in_old_policies_and_escapes_work() -> None:
    old = policy(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/${aws:username}"},
        version="2008-10-17",
    )
    assert decide([old], "arn:aws:s3:::b/${aws:username}", "s3:GetObject", aws__username="x") == (
        "allowed"
    )
    star = policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/${*}"})
    assert decide([star], "arn:aws:s3:::b/*", "s3:GetObject") == "allowed"
    assert decide([star], "arn:aws:s3:::b/x", "s3:GetObject") == "implicitDeny"


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ('{"Version": "2012-10-17"}', "no Statement"),
        ('{"Version": "2012-10-17", "Statement": []}', "must not be empty"),
        ('{"Version": "2019-01-01", "Statement": {}}', "Version must be 2012-10-17"),
        ('{"Version": "2012-10-17", "Statement": [{"Effect": "allow"}]}', "Effect must be"),
        (
            '{"Statement": [{"Effect": "Allow", "Action": "x", "Resource": "*"}]}',
            "is not service:Action",
        ),
        (
            '{"Statement": [{"Effect": "Allow", "Action": "s:A", "NotAction": "s:B", '
            '"Resource": "*"}]}',
            "exactly one of Action or NotAction",
        ),
        ('{"Statement": [{"Effect": "Allow", "Action": "s:A"}]}', "Resource or NotResource"),
        (
            '{"Statement": [{"Effect": "Allow", "Action": "s:A", "Resource": "bucket"}]}',
            "not an ARN",
        ),
        (
            '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s:A", '
            '"Resource": "*"}]}',
            "cannot name a Principal",
        ),
        (
            '{"Statement": [{"Effect": "Allow", "Action": "s:A", "Resource": "*", '
            '"Condition": {"StringMaybe": {"k": "v"}}}]}',
            "unknown condition operator 'StringMaybe'",
        ),
        (
            '{"Statement": [{"Effect": "Allow", "Action": "s:A", "Resource": "*", '
            '"Condition": {"StringLike": {"k": {"nested": 1}}}}]}',
            "must be a string, number, boolean",
        ),
    ],
)
def test_malformed_policies_are_refused(document: str, fragment: str) -> None:
    with pytest.raises(PolicyFormatError, match=fragment.replace("(", r"\(")):
        parse_policy(document, "p", "none")
