"""A sandbox whose fleet turns IAM enforcement on: the session APIs allow and refuse by
the callers' policies (from the fleet file and changed at run time), like AWS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from ssmctl.sandbox.process import SandboxProcess

from .helpers import Clients, error_of, make_clients, write

ACCOUNT = "555566667777"
FLEET = """\
account_id: "555566667777"
iam:
  enforce: true
  policies:
    - name: everything
      document: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "*", Resource: "*"}]}
    - name: read-sessions
      document:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Action: ["ssm:DescribeSessions"], Resource: "*"}
users:
  - name: admin
    default: true
    policies: [{managed: everything}]
  - name: dev
    policies:
      - name: dev-sessions
        document: |
          {
            "Version": "2012-10-17",
            "Statement": [
              {
                "Effect": "Allow",
                "Action": "ssm:StartSession",
                "Resource": ["arn:aws:ec2:*:*:instance/*", "arn:aws:ssm:*:*:managed-instance/*"],
                "Condition": {"StringLike": {"ssm:resourceTag/Env": "dev"}}
              },
              {
                "Effect": "Allow",
                "Action": "ssm:StartSession",
                "Resource": "arn:aws:ssm:*:*:document/SSM-SessionManagerRunShell",
                "Condition": {"BoolIfExists": {"ssm:SessionDocumentAccessCheck": "true"}}
              },
              {
                "Effect": "Allow",
                "Action": ["ssm:TerminateSession", "ssm:ResumeSession"],
                "Resource": "arn:aws:ssm:*:*:session/${aws:username}-*"
              }
            ]
          }
  - name: ops
  - name: auditor
    policies:
      - managed: read-sessions
      - name: never-terminate
        document:
          Version: "2012-10-17"
          Statement: {Effect: Deny, Action: "ssm:Terminate*", Resource: "*"}
roles:
  - name: oncall
    policies:
      - name: oncall-sessions
        document:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Action: ssm:StartSession
              Resource: "*"
            - Effect: Allow
              Action: [ssm:TerminateSession, ssm:ResumeSession]
              Resource: "arn:aws:ssm:*:*:session/*"
              Condition:
                StringLike: {"ssm:resourceTag/aws:ssmmessages:session-id": "${aws:userid}"}
instances:
  - name: dev-1
    tags: {Env: dev}
  - name: prod-1
    tags: {Env: prod}
hybrid_nodes:
  - name: nas-dev
    tags: {Env: dev}
"""


@pytest.fixture(scope="module")
def enforcing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    process = SandboxProcess(write(tmp_path_factory.mktemp("fleet"), FLEET)).start()
    yield process
    assert process.stop() == 0, process.stderr()


@pytest.fixture(scope="module")
def as_user(enforcing: SandboxProcess, boto3_session: boto3.session.Session) -> Clients:
    """`as_user("dev")("ssm")`: clients signed as a fleet user (keys made by admin)."""
    exports = enforcing.env()
    admin = (exports["AWS_ACCESS_KEY_ID"], exports["AWS_SECRET_ACCESS_KEY"])
    admin_iam = make_clients(
        boto3_session, enforcing.endpoint_url, enforcing.region, lambda _: admin
    )("iam")
    keys: dict[str, tuple[str, str]] = {"admin": admin}

    def credentials(user: str | None) -> tuple[str, str]:
        name = user or "admin"
        if name not in keys:
            made = admin_iam.create_access_key(UserName=name)["AccessKey"]
            keys[name] = (made["AccessKeyId"], made["SecretAccessKey"])
        return keys[name]

    clients = make_clients(boto3_session, enforcing.endpoint_url, enforcing.region, credentials)

    def for_user(name: str) -> Clients:
        return lambda service, **kw: clients(service, user=name, **kw)

    return for_user


def _node(as_user: Clients, name: str) -> str:
    ec2 = as_user("admin")("ec2")
    found = ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": [name]}])
    ids = [i["InstanceId"] for r in found["Reservations"] for i in r["Instances"]]
    if ids:
        return str(ids[0])
    nodes = as_user("admin")("ssm").describe_instance_information(
        Filters=[{"Key": "ResourceType", "Values": ["ManagedInstance"]}]
    )
    return str(next(n["InstanceId"] for n in nodes["InstanceInformationList"] if n["Name"] == name))


def test_tag_scoped_user_starts_sessions_on_its_tagged_targets_only(as_user: Clients) -> None:
    ssm = as_user("dev")("ssm")
    dev, prod, nas = (_node(as_user, n) for n in ("dev-1", "prod-1", "nas-dev"))
    assert ssm.start_session(Target=dev)["SessionId"].startswith("dev-")
    assert ssm.start_session(Target=nas)["SessionId"].startswith("dev-")
    code, message, status = error_of(ssm.start_session, Target=prod)
    assert (code, status) == ("AccessDeniedException", 400)
    assert message == (
        f"User: arn:aws:iam::{ACCOUNT}:user/dev is not authorized to perform: ssm:StartSession "
        f"on resource: arn:aws:ec2:us-east-1:{ACCOUNT}:instance/{prod} because no "
        "identity-based policy allows the ssm:StartSession action"
    )
    # The document is checked too: port forwarding is not in dev's policy.
    code, message, _ = error_of(
        ssm.start_session, Target=dev, DocumentName="AWS-StartPortForwardingSession"
    )
    assert code == "AccessDeniedException"
    assert "on resource: arn:aws:ssm:us-east-1::document/AWS-StartPortForwardingSession" in message


def test_refusals_are_recorded_in_cloudtrail(as_user: Clients) -> None:
    prod = _node(as_user, "prod-1")
    error_of(as_user("dev")("ssm").start_session, Target=prod, Reason="trail probe")
    events = as_user("admin")("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "dev"}]
    )["Events"]
    records = [json.loads(e["CloudTrailEvent"]) for e in events]
    refused = [r for r in records if r["requestParameters"].get("reason") == "trail probe"]
    (record,) = refused
    assert record["errorCode"] == "AccessDeniedException"
    assert "is not authorized to perform: ssm:StartSession" in record["errorMessage"]
    assert record["responseElements"] is None


def test_users_end_their_own_sessions_only(as_user: Clients) -> None:
    dev_ssm, admin_ssm = as_user("dev")("ssm"), as_user("admin")("ssm")
    target = _node(as_user, "dev-1")
    mine = dev_ssm.start_session(Target=target)["SessionId"]
    theirs = admin_ssm.start_session(Target=target)["SessionId"]
    assert dev_ssm.resume_session(SessionId=mine)["TokenValue"]
    assert dev_ssm.terminate_session(SessionId=mine)["SessionId"] == mine
    code, message, _ = error_of(dev_ssm.terminate_session, SessionId=theirs)
    assert code == "AccessDeniedException"
    assert (
        f"ssm:TerminateSession on resource: arn:aws:ssm:us-east-1:{ACCOUNT}:session/{theirs}"
        in (message)
    )
    assert error_of(dev_ssm.resume_session, SessionId=theirs)[0] == "AccessDeniedException"
    admin_ssm.terminate_session(SessionId=theirs)


def test_role_sessions_end_their_own_sessions_by_the_session_tag(as_user: Clients) -> None:
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/oncall"

    def assumed(user: str, name: str) -> Any:
        issued = as_user(user)("sts").assume_role(RoleArn=role_arn, RoleSessionName=name)
        creds = issued["Credentials"]
        keys = (creds["AccessKeyId"], creds["SecretAccessKey"])
        return as_user(user)("ssm", keys=keys, token=creds["SessionToken"])

    alpha, beta = assumed("ops", "alpha"), assumed("auditor", "beta")
    target = _node(as_user, "prod-1")  # the role may start sessions anywhere
    first = alpha.start_session(Target=target)["SessionId"]
    second = beta.start_session(Target=target)["SessionId"]
    assert first.startswith("alpha-") and second.startswith("beta-")
    code, message, _ = error_of(beta.terminate_session, SessionId=first)
    assert code == "AccessDeniedException"
    assert message.startswith(f"User: arn:aws:sts::{ACCOUNT}:assumed-role/oncall/beta is not")
    assert alpha.terminate_session(SessionId=first)["SessionId"] == first
    assert beta.terminate_session(SessionId=second)["SessionId"] == second


def test_reads_need_their_actions_and_an_explicit_deny_wins(as_user: Clients) -> None:
    ops = as_user("ops")("ssm")
    for call, kwargs in (
        (ops.describe_sessions, {"State": "Active"}),
        (ops.describe_instance_information, {}),
        (ops.get_connection_status, {"Target": _node(as_user, "dev-1")}),
    ):
        code, message, _ = error_of(call, **kwargs)
        assert code == "AccessDeniedException"
        assert f"on resource: arn:aws:ssm:us-east-1:{ACCOUNT}:* because no identity-based" in (
            message
        )
    auditor = as_user("auditor")("ssm")
    assert "Sessions" in auditor.describe_sessions(State="Active")
    code, message, _ = error_of(auditor.terminate_session, SessionId="admin-x")
    assert code == "AccessDeniedException"
    assert message.endswith("with an explicit deny in an identity-based policy")


def test_policies_changed_at_run_time_apply_at_once(as_user: Clients) -> None:
    admin_iam = as_user("admin")("iam")
    read = {"Effect": "Allow", "Action": "ssm:GetConnectionStatus", "Resource": "*"}
    document = json.dumps({"Version": "2012-10-17", "Statement": [read]})
    ops = as_user("ops")("ssm")
    target = _node(as_user, "dev-1")
    assert error_of(ops.get_connection_status, Target=target)[0] == "AccessDeniedException"
    admin_iam.put_user_policy(UserName="ops", PolicyName="status", PolicyDocument=document)
    try:
        assert ops.get_connection_status(Target=target)["Status"] == "connected"
    finally:
        admin_iam.delete_user_policy(UserName="ops", PolicyName="status")
    assert error_of(ops.get_connection_status, Target=target)[0] == "AccessDeniedException"


def test_simulating_needs_iam_permission(as_user: Clients) -> None:
    arn = f"arn:aws:iam::{ACCOUNT}:user/dev"
    code, message, status = error_of(
        as_user("dev")("iam").simulate_principal_policy,
        PolicySourceArn=arn,
        ActionNames=["ssm:StartSession"],
    )
    assert (code, status) == ("AccessDenied", 403)
    assert f"iam:SimulatePrincipalPolicy on resource: {arn}" in message
    found = as_user("admin")("iam").simulate_principal_policy(
        PolicySourceArn=arn, ActionNames=["ssm:StartSession"]
    )
    assert found["EvaluationResults"][0]["EvalDecision"] == "implicitDeny"
