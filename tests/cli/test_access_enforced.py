"""A policy from `ssmctl access policy`, attached in a sandbox that enforces IAM: it admits
its tagged targets and refuses the others (StartSession through boto3, as `connect` calls
it, and `ssmctl access check`'s verdicts agree), and --own-sessions-only lets users and
role sessions end their own sessions only."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from ssmctl.sandbox.process import SandboxProcess
from tests.conftest import RunCli

ACCOUNT = "777788889999"
FLEET = f"""\
account_id: "{ACCOUNT}"
iam:
  enforce: true
  policies:
    - name: everything
      document:
        Version: "2012-10-17"
        Statement: [{{Effect: Allow, Action: "*", Resource: "*"}}]
users:
  - name: admin
    default: true
    policies: [{{managed: everything}}]
  - name: dev
  - name: dev2
  - name: viewer
roles:
  - name: oncall
instances:
  - name: dev-1
    tags: {{Env: dev}}
  - name: dev-2
    tags: {{Env: dev, Team: blue}}
  - name: prod-1
    tags: {{Env: prod}}
hybrid_nodes:
  - name: lab-nas
    tags: {{Env: dev}}
"""
_PASSTHROUGH = ("PATH", "HOME", "XDG_CONFIG_HOME", "TMPDIR", "LANG")


class Env:
    """Signing as fleet users, for boto3 and for in-process `ssmctl` runs."""

    def __init__(self, process: SandboxProcess, empty: Path) -> None:
        self.process = process
        self.empty = empty
        exports = process.env()
        self.admin_keys = (exports["AWS_ACCESS_KEY_ID"], exports["AWS_SECRET_ACCESS_KEY"])
        self.keys: dict[str, tuple[str, str, str | None]] = {"admin": (*self.admin_keys, None)}

    def client(self, service: str, user: str = "admin") -> Any:
        key, secret, token = self.user_keys(user)
        return boto3.session.Session().client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.process.endpoint_url,
            region_name=self.process.region,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            aws_session_token=token,
            config=Config(retries={"total_max_attempts": 1}),
        )

    def user_keys(self, user: str) -> tuple[str, str, str | None]:
        if user not in self.keys:
            made = self.client("iam").create_access_key(UserName=user)["AccessKey"]
            self.keys[user] = (made["AccessKeyId"], made["SecretAccessKey"], None)
        return self.keys[user]

    def assume(self, user: str, role: str, session: str) -> str:
        """Credentials of a role session, registered under the name `session`."""
        issued = self.client("sts", user).assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", RoleSessionName=session
        )["Credentials"]
        self.keys[session] = (
            issued["AccessKeyId"],
            issued["SecretAccessKey"],
            issued["SessionToken"],
        )
        return session

    def cli_env(self, user: str = "admin") -> dict[str, str | None]:
        key, secret, token = self.user_keys(user)
        env: dict[str, str | None] = {
            "AWS_ENDPOINT_URL": self.process.endpoint_url,
            "AWS_REGION": self.process.region,
            "AWS_ACCESS_KEY_ID": key,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_SESSION_TOKEN": token,
            "AWS_CONFIG_FILE": str(self.empty),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.empty),
            "AWS_PROFILE": None,
        }
        return env

    def node(self, name: str) -> str:
        ec2 = self.client("ec2")
        found = ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": [name]}])
        ids = [i["InstanceId"] for r in found["Reservations"] for i in r["Instances"]]
        if ids:
            return str(ids[0])
        nodes = self.client("ssm").describe_instance_information(
            Filters=[{"Key": "ResourceType", "Values": ["ManagedInstance"]}]
        )["InstanceInformationList"]
        return str(next(n["InstanceId"] for n in nodes if n["Name"] == name))


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    folder = tmp_path_factory.mktemp("enforced")
    (folder / "fleet.yaml").write_text(FLEET)
    (folder / "empty").write_text("")
    process = SandboxProcess(folder / "fleet.yaml").start()
    try:
        yield Env(process, folder / "empty")
    finally:
        process.stop()


Run = Callable[..., Any]


@pytest.fixture
def run(cli: RunCli, sandbox: Env) -> Run:
    """`run("dev", "access", "check", ...)`: ssmctl as that user (or role session)."""

    def invoke(user: str, *args: str) -> Any:
        return cli(*args, env=sandbox.cli_env(user))

    return invoke


@pytest.fixture(scope="module")
def generated(sandbox: Env, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """`access policy --tag Env=dev --own-sessions-only` (and `--read-only`), made by
    admin with ssmctl and attached to dev, dev2 and the oncall role (viewer: read-only)."""
    from click.testing import CliRunner

    from ssmctl.cli.app import run as ssmctl

    def policy(*args: str) -> str:
        runner = CliRunner()
        with runner.isolation(env=sandbox.cli_env()) as (out, err, _):
            with pytest.raises(SystemExit) as done:
                ssmctl(["access", "policy", *args])
            assert done.value.code == 0, err.getvalue().decode()
            return out.getvalue().decode()

    texts = {
        "dev-sessions": policy("--tag", "Env=dev", "--own-sessions-only"),
        "read-only": policy("--read-only"),
    }
    iam = sandbox.client("iam")
    arns = {
        name: iam.create_policy(PolicyName=name, PolicyDocument=text)["Policy"]["Arn"]
        for name, text in texts.items()
    }
    for user in ("dev", "dev2"):
        iam.attach_user_policy(UserName=user, PolicyArn=arns["dev-sessions"])
    iam.attach_role_policy(RoleName="oncall", PolicyArn=arns["dev-sessions"])
    iam.attach_user_policy(UserName="viewer", PolicyArn=arns["read-only"])
    return texts


def _refused(call: Callable[..., Any], **kwargs: Any) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call(**kwargs)
    error: Any = info.value.response["Error"]
    assert error["Code"] == "AccessDeniedException", error
    return str(error["Message"])


@pytest.mark.usefixtures("generated")
def test_generated_policy_admits_tagged_targets_and_refuses_others(sandbox: Env, run: Run) -> None:
    ssm = sandbox.client("ssm", "dev")
    for name in ("dev-1", "dev-2", "lab-nas"):
        started = ssm.start_session(Target=sandbox.node(name))
        assert started["SessionId"].startswith("dev-") and started["TokenValue"]
    prod = sandbox.node("prod-1")
    message = _refused(ssm.start_session, Target=prod)
    assert message.startswith(f"User: arn:aws:iam::{ACCOUNT}:user/dev is not authorized")
    assert f"on resource: arn:aws:ec2:us-east-1:{ACCOUNT}:instance/{prod} because" in message
    # The policy names the shell document only.
    message = _refused(
        ssm.start_session, Target=sandbox.node("dev-1"), DocumentName="AWS-StartSSHSession"
    )
    assert "document/AWS-StartSSHSession" in message

    # `access check` agrees, asked by admin about dev ...
    dev = f"arn:aws:iam::{ACCOUNT}:user/dev"
    allowed = run("admin", "access", "check", "dev-1", "--principal", dev, "-o", "json")
    assert allowed.exit_code == 0, allowed.stderr
    assert {r["decision"] for r in json.loads(allowed.stdout)} == {"allowed"}
    denied = run("admin", "access", "check", "prod-1", "--principal", dev, "-o", "json")
    assert denied.exit_code == 6
    rows = {r["kind"]: r for r in json.loads(denied.stdout)}
    assert (rows["instance"]["decision"], rows["document"]["decision"]) == (
        "implicitDeny",
        "allowed",
    )
    # ... and by dev about itself: the policy lets users simulate their own policies.
    mine = run("dev", "access", "check", "dev-2")
    assert mine.exit_code == 0 and f"ALLOWED: {dev} may start a session" in mine.stderr
    assert run("dev", "access", "check", "prod-1").exit_code == 6


@pytest.mark.usefixtures("generated")
def test_users_end_their_own_sessions_and_not_anothers(sandbox: Env, run: Run) -> None:
    dev, dev2 = sandbox.client("ssm", "dev"), sandbox.client("ssm", "dev2")
    target = sandbox.node("dev-1")
    mine = dev.start_session(Target=target)["SessionId"]
    theirs = dev2.start_session(Target=target)["SessionId"]
    assert dev.resume_session(SessionId=mine)["TokenValue"]
    message = _refused(dev.terminate_session, SessionId=theirs)
    assert (
        f"ssm:TerminateSession on resource: arn:aws:ssm:us-east-1:{ACCOUNT}:session/{theirs}"
        in (message)
    )
    _refused(dev.resume_session, SessionId=theirs)
    assert dev.terminate_session(SessionId=mine)["SessionId"] == mine
    # Through ssmctl: the refusal is reported per session, exit 1.
    result = run("dev", "sessions", "terminate", theirs, "--yes", "-o", "json")
    assert result.exit_code == 1
    (row,) = json.loads(result.stdout)
    assert row["result"] == "failed" and "AccessDeniedException" in row["detail"]
    assert dev2.terminate_session(SessionId=theirs)["SessionId"] == theirs


@pytest.mark.usefixtures("generated")
def test_role_sessions_end_their_own_sessions_by_tag(sandbox: Env, run: Run) -> None:
    first = sandbox.client("ssm", sandbox.assume("dev", "oncall", "pager-a"))
    second = sandbox.client("ssm", sandbox.assume("dev2", "oncall", "pager-b"))
    target = sandbox.node("dev-2")
    a = first.start_session(Target=target)["SessionId"]
    b = second.start_session(Target=target)["SessionId"]
    assert a.startswith("pager-a-") and b.startswith("pager-b-")
    assert "assumed-role/oncall/pager-b is not authorized" in _refused(
        second.terminate_session, SessionId=a
    )
    assert first.terminate_session(SessionId=a)["SessionId"] == a
    assert second.terminate_session(SessionId=b)["SessionId"] == b
    # A role session checking itself: the role (not the session) is simulated, and the
    # policy only lets IAM users simulate themselves.
    result = run("pager-a", "access", "check", "dev-1")
    assert result.exit_code == 1
    assert "access check needs iam:SimulatePrincipalPolicy on " in result.stderr
    assert f"arn:aws:iam::{ACCOUNT}:role/oncall" in result.stderr
    by_admin = run(
        "admin",
        "access",
        "check",
        "dev-1",
        "--principal",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/oncall/pager-a",
        "-o",
        "json",
    )
    assert by_admin.exit_code == 0, by_admin.stderr
    assert json.loads(by_admin.stdout)[0]["principal"] == f"arn:aws:iam::{ACCOUNT}:role/oncall"


@pytest.mark.usefixtures("generated")
def test_read_only_lists_but_starts_nothing(sandbox: Env, run: Run) -> None:
    listed = run("viewer", "instances", "list", "-o", "json")
    assert listed.exit_code == 0, listed.stderr
    assert {r["name"] for r in json.loads(listed.stdout)} >= {"dev-1", "prod-1", "lab-nas"}
    assert run("viewer", "sessions", "list", "-o", "json").exit_code == 0
    _refused(sandbox.client("ssm", "viewer").start_session, Target=sandbox.node("dev-1"))
    nothing = run("admin", "access", "check", "dev-1", "--principal",
                  f"arn:aws:iam::{ACCOUNT}:user/viewer")  # fmt: skip
    assert nothing.exit_code == 6
