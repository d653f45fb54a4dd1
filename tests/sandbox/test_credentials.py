"""Identity from the access key: users, assumed roles, and keys AWS would refuse."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from ssmctl.sandbox import Sandbox

from .helpers import Clients, error_of

UNKNOWN = ("AKIAXXXXXXXXXXXXXXXX", "x" * 40)


def test_each_user_is_identified_by_its_key(sandbox: Sandbox, aws: Clients) -> None:
    for name in ("alice", "bob"):
        identity = aws("sts", user=name).get_caller_identity()
        assert identity["Arn"] == f"arn:aws:iam::{sandbox.account_id}:user/{name}"
        assert identity["Account"] == sandbox.account_id
        assert identity["UserId"].startswith("AIDA")
        assert sandbox.users[name].arn == identity["Arn"]


def test_assumed_role_credentials_identify_the_role_session(sandbox: Sandbox, aws: Clients) -> None:
    role_arn = sandbox.roles["ops"]
    issued = aws("sts", user="bob").assume_role(RoleArn=role_arn, RoleSessionName="bob-ops")
    creds = issued["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    keys = (creds["AccessKeyId"], creds["SecretAccessKey"])
    identity = aws("sts", keys=keys, token=creds["SessionToken"]).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::{sandbox.account_id}:assumed-role/ops/bob-ops"
    assert identity["UserId"].startswith("AROA") and identity["UserId"].endswith(":bob-ops")
    # The same key with a wrong or missing session token is refused.
    code, _, _ = error_of(lambda: aws("sts", keys=keys, token="forged").get_caller_identity())
    assert code == "InvalidClientTokenId"
    code, _, _ = error_of(lambda: aws("ssm", keys=keys).describe_sessions(State="Active"))
    assert code == "UnrecognizedClientException"


def test_assuming_a_role_that_does_not_exist_is_denied(sandbox: Sandbox, aws: Clients) -> None:
    arn = f"arn:aws:iam::{sandbox.account_id}:role/nope"
    code, message, status = error_of(
        lambda: aws("sts").assume_role(RoleArn=arn, RoleSessionName="probe")
    )
    assert (code, status) == ("AccessDenied", 403)
    assert f"user/alice is not authorized to perform: sts:AssumeRole on resource: {arn}" in message


@pytest.mark.parametrize(
    ("service", "call", "code", "status"),
    [
        ("ssm", lambda c: c.describe_sessions(State="Active"), "UnrecognizedClientException", 400),
        ("cloudtrail", lambda c: c.lookup_events(), "UnrecognizedClientException", 400),
        ("sts", lambda c: c.get_caller_identity(), "InvalidClientTokenId", 403),
        ("iam", lambda c: c.list_users(), "InvalidClientTokenId", 403),
        ("ec2", lambda c: c.describe_instances(), "AuthFailure", 401),
        ("s3", lambda c: c.list_buckets(), "InvalidAccessKeyId", 403),
        ("resource-groups", lambda c: c.list_groups(), "UnrecognizedClientException", 403),
    ],
)
def test_unknown_keys_are_refused_like_aws_does(
    aws: Clients, service: str, call: object, code: str, status: int
) -> None:
    client = aws(service, keys=UNKNOWN)
    got = error_of(lambda: call(client))  # type: ignore[operator]
    assert (got[0], got[2]) == (code, status)
    if service in ("ssm", "sts", "iam", "cloudtrail"):
        assert got[1] == "The security token included in the request is invalid."


@pytest.mark.parametrize(
    ("service", "call", "code", "message"),
    [
        (
            "ssm",
            lambda c: c.describe_sessions(State="Active"),
            "ExpiredTokenException",
            "The security token included in the request is expired",
        ),
        (
            "sts",
            lambda c: c.get_caller_identity(),
            "ExpiredToken",
            "The security token included in the request is expired",
        ),
        ("ec2", lambda c: c.describe_instances(), "RequestExpired", "Request has expired."),
        ("s3", lambda c: c.list_buckets(), "ExpiredToken", "The provided token has expired."),
    ],
)
def test_an_expired_user_gets_expired_token_errors(
    aws: Clients, service: str, call: object, code: str, message: str
) -> None:
    client = aws(service, user="carol")
    got = error_of(lambda: call(client))  # type: ignore[operator]
    assert got[:2] == (code, message)


def test_a_user_key_with_a_session_token_is_refused(sandbox: Sandbox, aws: Clients) -> None:
    alice = sandbox.users["alice"]
    client = aws("sts", keys=(alice.access_key_id, alice.secret_access_key), token="x")
    assert error_of(client.get_caller_identity)[0] == "InvalidClientTokenId"


def test_keys_made_at_run_time_work_and_deactivated_ones_do_not(aws: Clients) -> None:
    iam = aws("iam")
    key = iam.create_access_key(UserName="bob")["AccessKey"]
    keys = (key["AccessKeyId"], key["SecretAccessKey"])
    try:
        assert aws("sts", keys=keys).get_caller_identity()["Arn"].endswith(":user/bob")
        iam.update_access_key(UserName="bob", AccessKeyId=keys[0], Status="Inactive")
        assert error_of(aws("sts", keys=keys).get_caller_identity)[0] == "InvalidClientTokenId"
    finally:
        iam.delete_access_key(UserName="bob", AccessKeyId=keys[0])


def test_unsigned_requests_and_moto_api_are_refused(sandbox: Sandbox) -> None:
    request = urllib.request.Request(
        sandbox.endpoint_url + "/",
        data=b"{}",
        headers={
            "X-Amz-Target": "AmazonSSM.DescribeSessions",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with pytest.raises(urllib.error.HTTPError) as info:
        opener.open(request, timeout=10)
    assert info.value.code == 400
    assert b"MissingAuthenticationTokenException" in info.value.read()
    with pytest.raises(urllib.error.HTTPError) as info:
        opener.open(sandbox.endpoint_url + "/moto-api/reset", data=b"", timeout=10)
    assert info.value.code == 404
    assert sandbox.intact()
